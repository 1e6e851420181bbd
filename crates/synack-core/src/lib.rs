//! synack-core: a sans-IO TCP (RFC 9293).
//!
//! An [`Endpoint`] owns every connection of one host. A program drives it with
//! packets and time and nothing else: [`Endpoint::handle_packet`] for each IP
//! datagram that arrives, [`Endpoint::poll_transmit`] for each one to send,
//! [`Endpoint::poll_timeout`] / [`Endpoint::handle_timeout`] for the clock, and
//! per-connection calls (`send`, `recv`, `shutdown`, `close`, `abort`) plus
//! [`Event`]s. The core never reads a clock, does I/O, or draws randomness of
//! its own, so the same inputs always give the same packets, byte for byte.
//!
//! ```
//! use synack_core::{Config, Endpoint, Instant};
//!
//! let mut client = Endpoint::new(Config::default(), 1).unwrap();
//! let mut server = Endpoint::new(Config::default(), 2).unwrap();
//! let now = Instant::from_micros(0);
//! let listener = server.listen("10.0.0.2:80".parse().unwrap(), 16).unwrap();
//! let conn = client.connect(now, "10.0.0.1:0".parse().unwrap(), "10.0.0.2:80".parse().unwrap()).unwrap();
//! client.send(now, conn, b"hello").unwrap();
//!
//! // The "network": hand every datagram one endpoint emits to the other.
//! let mut buf = [0u8; 1500];
//! for _ in 0..4 {
//!     while let Some(n) = client.poll_transmit(now, &mut buf) {
//!         server.handle_packet(now, &buf[..n]);
//!     }
//!     while let Some(n) = server.poll_transmit(now, &mut buf) {
//!         client.handle_packet(now, &buf[..n]);
//!     }
//! }
//! let accepted = server.accept(listener).unwrap();
//! let mut got = [0u8; 16];
//! let n = server.recv(now, accepted, &mut got).unwrap();
//! assert_eq!(&got[..n], b"hello");
//! ```
#![forbid(unsafe_code)]
#![warn(missing_docs)]

mod config;
mod config_check;
pub mod congestion;
mod connection;
mod endpoint;
mod error;
mod event;
#[cfg(feature = "fuzzing")]
pub mod fuzzing;
mod range_set;
mod recv_sink;
mod ring;
mod seq;
mod socket_options;
mod time;

use core::net::SocketAddr;

pub use config::{Config, CongestionControl, Offload, SynCookies};
pub use config_check::ConfigError;
pub use connection::{ConnectionInfo, SendLimit, SendTimes, State};
pub use endpoint::{Endpoint, EndpointStats};
pub use error::{CloseReason, Error};
pub use event::{Direction, Event, Tracer};
pub use recv_sink::{NoSink, RecvSink};
pub use seq::SeqNum;
pub use socket_options::SocketOptions;
pub use time::Instant;

/// The two ends of a connection, as seen from this endpoint.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub struct FourTuple {
    /// Our address and port.
    pub local: SocketAddr,
    /// The peer's address and port.
    pub remote: SocketAddr,
}

impl core::hash::Hash for FourTuple {
    /// One write of the packed addresses and ports (the keyed table hashes a
    /// tuple per packet; `SocketAddr`'s own `Hash` makes many small writes).
    fn hash<H: core::hash::Hasher>(&self, state: &mut H) {
        fn ip(a: &SocketAddr) -> [u8; 16] {
            match a {
                SocketAddr::V4(v) => v.ip().to_ipv6_mapped().octets(),
                SocketAddr::V6(v) => v.ip().octets(),
            }
        }
        let mut b = [0u8; 36];
        b[..16].copy_from_slice(&ip(&self.local));
        b[16..32].copy_from_slice(&ip(&self.remote));
        b[32..34].copy_from_slice(&self.local.port().to_ne_bytes());
        b[34..36].copy_from_slice(&self.remote.port().to_ne_bytes());
        state.write(&b);
    }
}

/// One datagram written by [`Endpoint::poll_transmit_offload`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[must_use]
pub struct Transmit {
    /// Its length in bytes.
    pub len: usize,
    /// For a TCP super-segment (segmentation offload): the payload size of
    /// each segment the device must cut it into. `None` for an ordinary datagram.
    pub segment_size: Option<u16>,
    /// The TCP checksum field holds only the pseudo-header sum (checksum
    /// offload): the device completes it over the TCP header and payload.
    pub partial_checksum: bool,
}

/// What the device knows of a datagram it delivered, for
/// [`Endpoint::handle_received`].
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Received {
    /// The TCP checksum is known good (or the datagram came from the local
    /// host with a checksum still to be completed): it is not verified again.
    pub checksum_verified: bool,
    /// For a coalesced TCP segment (GRO, or a GSO packet of the local host):
    /// the size of the segments it stands for, so that ACK decisions and the
    /// receive-MSS estimate count segments of that size.
    pub segment_size: Option<u16>,
}

/// Names one connection of an [`Endpoint`]. Stale handles (to connections
/// that were freed) are detected and rejected with [`Error::InvalidHandle`].
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct ConnHandle {
    index: u32,
    generation: u32,
}

/// Names one listener of an [`Endpoint`].
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct ListenerHandle {
    index: u32,
    generation: u32,
}
