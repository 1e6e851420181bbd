//! IPv4 or IPv6, chosen by the version nibble.

use crate::error::WireError;
use crate::{ipv4, ipv6, Ipv4Packet, Ipv4Repr, Ipv6Packet, Ipv6Repr};
use core::net::IpAddr;

/// A checked view of an IPv4 or IPv6 packet.
#[derive(Debug, Clone, Copy)]
pub enum IpPacket<'a> {
    /// An IPv4 packet.
    V4(Ipv4Packet<'a>),
    /// An IPv6 packet.
    V6(Ipv6Packet<'a>),
}

impl<'a> IpPacket<'a> {
    /// Parses by the version nibble.
    pub fn parse(buf: &'a [u8]) -> Result<Self, WireError> {
        match buf.first().map(|b| b >> 4) {
            Some(4) => Ok(Self::V4(Ipv4Packet::parse(buf)?)),
            Some(6) => Ok(Self::V6(Ipv6Packet::parse(buf)?)),
            Some(v) => Err(WireError::BadVersion(v)),
            None => Err(WireError::Truncated { needed: 1, have: 0 }),
        }
    }
    /// Source address.
    pub fn src(&self) -> IpAddr {
        match self {
            Self::V4(p) => p.src().into(),
            Self::V6(p) => p.src().into(),
        }
    }
    /// Destination address.
    pub fn dst(&self) -> IpAddr {
        match self {
            Self::V4(p) => p.dst().into(),
            Self::V6(p) => p.dst().into(),
        }
    }
    /// Upper-layer protocol.
    pub fn protocol(&self) -> u8 {
        match self {
            Self::V4(p) => p.protocol(),
            Self::V6(p) => p.protocol(),
        }
    }
    /// TTL (IPv4) or hop limit (IPv6).
    pub fn hop_limit(&self) -> u8 {
        match self {
            IpPacket::V4(p) => p.ttl(),
            IpPacket::V6(p) => p.hop_limit(),
        }
    }
    /// The TOS byte (IPv4) or Traffic Class (IPv6): DSCP and ECN.
    pub fn tos(&self) -> u8 {
        match self {
            IpPacket::V4(p) => p.tos(),
            IpPacket::V6(p) => p.traffic_class(),
        }
    }

    /// True for a fragment (synack does not reassemble IP fragments).
    pub fn is_fragment(&self) -> bool {
        match self {
            Self::V4(p) => p.is_fragment(),
            Self::V6(p) => p.is_fragment(),
        }
    }
    /// Upper-layer payload.
    pub fn payload(&self) -> &'a [u8] {
        match self {
            Self::V4(p) => p.payload(),
            Self::V6(p) => p.payload(),
        }
    }
}

/// An IP header to emit, of either family.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct IpRepr {
    /// Source address.
    pub src: IpAddr,
    /// Destination address (same family as `src`).
    pub dst: IpAddr,
    /// Upper-layer protocol.
    pub protocol: u8,
    /// Payload length.
    pub payload_len: usize,
    /// TTL or hop limit.
    pub hop_limit: u8,
    /// The IPv4 TOS byte or the IPv6 Traffic Class (DSCP and ECN, RFC 2474, RFC 3168).
    pub tos: u8,
}

impl IpRepr {
    /// Header length for this family.
    pub fn header_len(&self) -> usize {
        match self.src {
            IpAddr::V4(_) => ipv4::HEADER_LEN,
            IpAddr::V6(_) => ipv6::HEADER_LEN,
        }
    }

    /// Writes the header; returns its length.
    pub fn emit(&self, buf: &mut [u8]) -> Result<usize, WireError> {
        match (self.src, self.dst) {
            (IpAddr::V4(src), IpAddr::V4(dst)) => {
                Ipv4Repr {
                    src,
                    dst,
                    protocol: self.protocol,
                    payload_len: self.payload_len,
                    ttl: self.hop_limit,
                    tos: self.tos,
                }
                .emit(buf)?;
                Ok(ipv4::HEADER_LEN)
            }
            (IpAddr::V6(src), IpAddr::V6(dst)) => {
                Ipv6Repr {
                    src,
                    dst,
                    next_header: self.protocol,
                    payload_len: self.payload_len,
                    hop_limit: self.hop_limit,
                    traffic_class: self.tos,
                }
                .emit(buf)?;
                Ok(ipv6::HEADER_LEN)
            }
            _ => Err(WireError::MixedFamilies),
        }
    }
}
