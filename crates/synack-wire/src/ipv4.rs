//! IPv4 header view and builder (RFC 791).

use crate::checksum;
use crate::error::{need, room, WireError};
use core::net::Ipv4Addr;

/// Length of an IPv4 header without options.
pub const HEADER_LEN: usize = 20;

/// A checked view of an IPv4 packet.
#[derive(Debug, Clone, Copy)]
pub struct Ipv4Packet<'a> {
    buf: &'a [u8],
    header_len: usize,
    total_len: usize,
}

impl<'a> Ipv4Packet<'a> {
    /// Parses and validates the header: version, lengths and header checksum.
    /// Options are skipped. Fragments parse; [`Self::is_fragment`] tells.
    pub fn parse(buf: &'a [u8]) -> Result<Self, WireError> {
        need(buf, HEADER_LEN)?;
        let version = buf[0] >> 4;
        if version != 4 {
            return Err(WireError::BadVersion(version));
        }
        let header_len = usize::from(buf[0] & 0x0f) * 4;
        if header_len < HEADER_LEN {
            return Err(WireError::BadHeaderLength(header_len));
        }
        let total_len = usize::from(u16::from_be_bytes([buf[2], buf[3]]));
        if total_len < header_len {
            return Err(WireError::BadHeaderLength(total_len));
        }
        need(buf, total_len)?;
        if checksum::checksum(&buf[..header_len]) != 0 {
            return Err(WireError::BadChecksum);
        }
        Ok(Self { buf, header_len, total_len })
    }

    /// Source address.
    pub fn src(&self) -> Ipv4Addr {
        Ipv4Addr::new(self.buf[12], self.buf[13], self.buf[14], self.buf[15])
    }
    /// Destination address.
    pub fn dst(&self) -> Ipv4Addr {
        Ipv4Addr::new(self.buf[16], self.buf[17], self.buf[18], self.buf[19])
    }
    /// The protocol number of the payload.
    pub fn protocol(&self) -> u8 {
        self.buf[9]
    }
    /// Time to live.
    pub fn ttl(&self) -> u8 {
        self.buf[8]
    }
    /// Header length in bytes, options included.
    pub fn header_len(&self) -> usize {
        self.header_len
    }
    /// True when this packet is a fragment (MF set or a non-zero offset).
    pub fn is_fragment(&self) -> bool {
        let frag = u16::from_be_bytes([self.buf[6], self.buf[7]]);
        frag & 0x2000 != 0 || frag & 0x1fff != 0
    }
    /// The Type of Service byte (DSCP and ECN).
    pub fn tos(&self) -> u8 {
        self.buf[1]
    }
    /// True when the Don't Fragment bit is set.
    pub fn dont_fragment(&self) -> bool {
        self.buf[6] & 0x40 != 0
    }
    /// The payload, bounded by the total length field.
    pub fn payload(&self) -> &'a [u8] {
        &self.buf[self.header_len..self.total_len]
    }
    /// The header and payload (without link padding beyond the total length).
    pub fn as_bytes(&self) -> &'a [u8] {
        &self.buf[..self.total_len]
    }
}

/// The fields of an IPv4 header that synack emits.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Ipv4Repr {
    /// Source address.
    pub src: Ipv4Addr,
    /// Destination address.
    pub dst: Ipv4Addr,
    /// Payload protocol number.
    pub protocol: u8,
    /// Payload length in bytes.
    pub payload_len: usize,
    /// Time to live.
    pub ttl: u8,
    /// The Type of Service byte: DSCP and ECN (RFC 2474, RFC 3168).
    pub tos: u8,
}

impl Ipv4Repr {
    /// Writes the 20-byte header (DF set, no options) with its checksum.
    pub fn emit(&self, buf: &mut [u8]) -> Result<(), WireError> {
        room(buf, HEADER_LEN)?;
        let total = HEADER_LEN + self.payload_len;
        let total = u16::try_from(total).map_err(|_| WireError::BufferTooSmall { needed: total, have: 65535 })?;
        let h = &mut buf[..HEADER_LEN];
        h[0] = 0x45;
        h[1] = self.tos;
        h[2..4].copy_from_slice(&total.to_be_bytes());
        h[4..6].copy_from_slice(&[0, 0]);
        h[6..8].copy_from_slice(&0x4000u16.to_be_bytes());
        h[8] = self.ttl;
        h[9] = self.protocol;
        h[10..12].copy_from_slice(&[0, 0]);
        h[12..16].copy_from_slice(&self.src.octets());
        h[16..20].copy_from_slice(&self.dst.octets());
        let c = checksum::checksum(h);
        h[10..12].copy_from_slice(&c.to_be_bytes());
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn emit_then_parse() {
        let repr = Ipv4Repr {
            src: Ipv4Addr::new(10, 0, 0, 1),
            dst: Ipv4Addr::new(10, 0, 0, 2),
            protocol: 6,
            payload_len: 4,
            ttl: 64,
            tos: 0xb8,
        };
        let mut buf = [0u8; 24];
        repr.emit(&mut buf).unwrap();
        let p = Ipv4Packet::parse(&buf).unwrap();
        assert_eq!(p.tos(), 0xb8, "DSCP EF");
        assert_eq!(p.src(), repr.src);
        assert_eq!(p.dst(), repr.dst);
        assert_eq!(p.protocol(), 6);
        assert_eq!(p.payload().len(), 4);
        assert!(!p.is_fragment());
        assert!(p.dont_fragment());
    }

    /// An empty TCP datagram from loopback to loopback, TTL 1.
    fn loopback_header() -> Ipv4Repr {
        Ipv4Repr { src: Ipv4Addr::LOCALHOST, dst: Ipv4Addr::LOCALHOST, protocol: 6, payload_len: 0, ttl: 1, tos: 0 }
    }

    #[test]
    fn rejects_bad_checksum_and_lengths() {
        let repr = loopback_header();
        let mut buf = [0u8; 20];
        repr.emit(&mut buf).unwrap();
        buf[8] ^= 1;
        assert_eq!(Ipv4Packet::parse(&buf).unwrap_err(), WireError::BadChecksum);
        buf[8] ^= 1;
        buf[0] = 0x44;
        assert_eq!(Ipv4Packet::parse(&buf).unwrap_err(), WireError::BadHeaderLength(16));
        assert!(matches!(Ipv4Packet::parse(&buf[..10]), Err(WireError::Truncated { .. })));
    }

    #[test]
    fn recognises_fragments() {
        let repr = loopback_header();
        let mut buf = [0u8; 20];
        repr.emit(&mut buf).unwrap();
        buf[6] = 0x20; // MF
        buf[10] = 0;
        buf[11] = 0;
        let c = checksum::checksum(&buf);
        buf[10..12].copy_from_slice(&c.to_be_bytes());
        assert!(Ipv4Packet::parse(&buf).unwrap().is_fragment());
    }
}
