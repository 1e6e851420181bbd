//! Zero-copy packet views and builders for synack: IPv4, IPv6, TCP with its
//! options, ICMPv4 and ICMPv6, and the Internet checksum.
//!
//! Every parser takes untrusted bytes and returns a typed [`WireError`] on
//! malformed input; nothing here allocates, does I/O, or panics on any input.
#![no_std]
#![forbid(unsafe_code)]
#![warn(missing_docs)]

#[cfg(test)]
extern crate std;

pub mod checksum;
mod error;
pub mod icmp;
pub mod ip;
pub mod ipv4;
pub mod ipv6;
pub mod offload;
pub mod tcp;

pub use error::WireError;
pub use icmp::{IcmpKind, IcmpMessage, QuotedTcp};
pub use ip::{IpPacket, IpRepr};
pub use ipv4::{Ipv4Packet, Ipv4Repr};
pub use ipv6::{Ipv6Packet, Ipv6Repr};
pub use tcp::{SackBlock, TcpFlags, TcpOptions, TcpPacket, TcpRepr};

/// IP protocol number of TCP.
pub const PROTO_TCP: u8 = 6;
/// IP protocol number of ICMPv4.
pub const PROTO_ICMP: u8 = 1;
/// IP next-header number of ICMPv6.
pub const PROTO_ICMPV6: u8 = 58;
