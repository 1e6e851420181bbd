//! What the endpoint tells its user (events) and its observer (trace).

use crate::error::CloseReason;
use crate::time::Instant;
use crate::{ConnHandle, FourTuple, ListenerHandle, State};

/// Something the application may want to act on.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Event {
    /// A listener has a connection ready for [`crate::Endpoint::accept`].
    Incoming(ListenerHandle),
    /// An active open completed.
    Connected(ConnHandle),
    /// Data (or end of stream) is ready to read.
    Readable(ConnHandle),
    /// Urgent data arrived: see [`crate::Endpoint::urgent_unread`] (RFC 9293 §3.8.5).
    Urgent(ConnHandle),
    /// Send-buffer space was freed.
    Writable(ConnHandle),
    /// The connection reached CLOSED.
    Closed(ConnHandle, CloseReason),
}

/// Direction of a traced packet.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Direction {
    /// Received by the endpoint.
    In,
    /// Sent by the endpoint.
    Out,
}

/// An observer of everything the endpoint does: each packet in or out and
/// each state change, with its time. Used by the CLI's ladder diagram and by
/// tests that assert on the wire.
pub trait Tracer: Send {
    /// A packet (a whole IP datagram) crossed the endpoint's boundary.
    fn packet(&mut self, now: Instant, dir: Direction, bytes: &[u8]) {
        let _ = (now, dir, bytes);
    }
    /// A connection changed state.
    fn state_change(&mut self, now: Instant, tuple: FourTuple, from: State, to: State) {
        let _ = (now, tuple, from, to);
    }
    /// A connection started retransmitting: after a timeout (`timeout`) or
    /// three duplicate ACKs.
    fn retransmission(&mut self, now: Instant, tuple: FourTuple, timeout: bool) {
        let _ = (now, tuple, timeout);
    }
}
