//! Direct delivery: in-order data handed from an arriving segment straight
//! to wherever the application reads from (a runtime's socket queue),
//! instead of through the connection's receive ring and out again. The
//! connection offers data only when nothing waits before it (the ring
//! empty, no out-of-order data, no urgent mark ahead), so the order of the
//! byte stream is kept; a refused offer goes into the ring as before. The
//! advertised window is computed from the ring as it always is: taken data
//! counts as read, exactly as if the application had read it at once.

use crate::ConnHandle;

/// Takes in-order data for the application, for
/// [`crate::Endpoint::handle_received_into`].
pub trait RecvSink {
    /// Offers `data`, the next bytes of connection `h`'s stream: true when
    /// the sink took all of it, false to leave it in the receive buffer.
    fn offer(&mut self, h: ConnHandle, data: &[u8]) -> bool;
}

/// A sink that takes nothing: every byte goes through the receive buffer.
#[derive(Debug, Default, Clone, Copy)]
pub struct NoSink;

impl RecvSink for NoSink {
    fn offer(&mut self, _: ConnHandle, _: &[u8]) -> bool {
        false
    }
}
