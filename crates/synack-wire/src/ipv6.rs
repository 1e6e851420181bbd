//! IPv6 fixed header view and builder (RFC 8200), walking extension headers
//! to find the upper-layer protocol.

use crate::error::{need, room, WireError};
use core::net::Ipv6Addr;

/// Length of the fixed IPv6 header.
pub const HEADER_LEN: usize = 40;
/// The most extension headers synack walks before giving up.
const MAX_EXTENSION_HEADERS: usize = 8;

/// A checked view of an IPv6 packet.
#[derive(Debug, Clone, Copy)]
pub struct Ipv6Packet<'a> {
    buf: &'a [u8],
    upper_offset: usize,
    upper_protocol: u8,
    fragment: bool,
}

impl<'a> Ipv6Packet<'a> {
    /// Parses the fixed header and walks hop-by-hop, routing, fragment,
    /// destination-options and AH headers to the upper-layer protocol.
    pub fn parse(buf: &'a [u8]) -> Result<Self, WireError> {
        need(buf, HEADER_LEN)?;
        let version = buf[0] >> 4;
        if version != 6 {
            return Err(WireError::BadVersion(version));
        }
        let payload_len = usize::from(u16::from_be_bytes([buf[4], buf[5]]));
        need(buf, HEADER_LEN + payload_len)?;
        let buf = &buf[..HEADER_LEN + payload_len];
        let mut next = buf[6];
        let mut offset = HEADER_LEN;
        let mut fragment = false;
        for _ in 0..=MAX_EXTENSION_HEADERS {
            let len = match next {
                0 | 43 | 60 => {
                    need(buf, offset + 2)?;
                    (usize::from(buf[offset + 1]) + 1) * 8
                }
                44 => {
                    need(buf, offset + 8)?;
                    let frag = u16::from_be_bytes([buf[offset + 2], buf[offset + 3]]);
                    fragment |= frag & 0xfff9 != 0;
                    8
                }
                51 => {
                    need(buf, offset + 2)?;
                    (usize::from(buf[offset + 1]) + 2) * 4
                }
                _ => {
                    return Ok(Self { buf, upper_offset: offset, upper_protocol: next, fragment });
                }
            };
            need(buf, offset + len)?;
            next = buf[offset];
            offset += len;
        }
        Err(WireError::BadExtensionHeader)
    }

    /// Source address.
    pub fn src(&self) -> Ipv6Addr {
        let mut a = [0u8; 16];
        a.copy_from_slice(&self.buf[8..24]);
        Ipv6Addr::from(a)
    }
    /// Destination address.
    pub fn dst(&self) -> Ipv6Addr {
        let mut a = [0u8; 16];
        a.copy_from_slice(&self.buf[24..40]);
        Ipv6Addr::from(a)
    }
    /// The upper-layer protocol after any extension headers.
    pub fn protocol(&self) -> u8 {
        self.upper_protocol
    }
    /// Hop limit.
    pub fn hop_limit(&self) -> u8 {
        self.buf[7]
    }
    /// Traffic Class (DSCP and ECN).
    pub fn traffic_class(&self) -> u8 {
        (self.buf[0] << 4) | (self.buf[1] >> 4)
    }
    /// True when a fragment header marks this as a fragment.
    pub fn is_fragment(&self) -> bool {
        self.fragment
    }
    /// The upper-layer payload.
    pub fn payload(&self) -> &'a [u8] {
        &self.buf[self.upper_offset..]
    }
    /// The whole packet, bounded by the payload length field.
    pub fn as_bytes(&self) -> &'a [u8] {
        self.buf
    }
}

/// The fields of an IPv6 header that synack emits (no extension headers).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Ipv6Repr {
    /// Source address.
    pub src: Ipv6Addr,
    /// Destination address.
    pub dst: Ipv6Addr,
    /// Next header (upper-layer protocol).
    pub next_header: u8,
    /// Payload length in bytes.
    pub payload_len: usize,
    /// Hop limit.
    pub hop_limit: u8,
    /// Traffic Class: DSCP and ECN (RFC 2474, RFC 3168).
    pub traffic_class: u8,
}

impl Ipv6Repr {
    /// Writes the 40-byte fixed header.
    pub fn emit(&self, buf: &mut [u8]) -> Result<(), WireError> {
        room(buf, HEADER_LEN)?;
        let len = u16::try_from(self.payload_len)
            .map_err(|_| WireError::BufferTooSmall { needed: self.payload_len, have: 65535 })?;
        let h = &mut buf[..HEADER_LEN];
        // Version 6, the Traffic Class across the next 8 bits, no flow label.
        let tc = self.traffic_class;
        h[0..4].copy_from_slice(&[0x60 | (tc >> 4), tc << 4, 0, 0]);
        h[4..6].copy_from_slice(&len.to_be_bytes());
        h[6] = self.next_header;
        h[7] = self.hop_limit;
        h[8..24].copy_from_slice(&self.src.octets());
        h[24..40].copy_from_slice(&self.dst.octets());
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn header(next: u8, payload: &[u8]) -> std::vec::Vec<u8> {
        let repr = Ipv6Repr {
            src: "2001:db8::1".parse().unwrap(),
            dst: "2001:db8::2".parse().unwrap(),
            next_header: next,
            payload_len: payload.len(),
            hop_limit: 64,
            traffic_class: 0,
        };
        let mut buf = std::vec![0u8; HEADER_LEN + payload.len()];
        repr.emit(&mut buf).unwrap();
        buf[HEADER_LEN..].copy_from_slice(payload);
        buf
    }

    #[test]
    fn traffic_class_spans_the_first_two_bytes() {
        let repr = Ipv6Repr {
            src: "2001:db8::1".parse().unwrap(),
            dst: "2001:db8::2".parse().unwrap(),
            next_header: 6,
            payload_len: 0,
            hop_limit: 64,
            traffic_class: 0xb8,
        };
        let mut buf = [0u8; HEADER_LEN];
        repr.emit(&mut buf).unwrap();
        assert_eq!(&buf[..4], &[0x6b, 0x80, 0, 0], "version 6, class 0xb8, flow label 0");
        assert_eq!(Ipv6Packet::parse(&buf).unwrap().traffic_class(), 0xb8);
    }

    #[test]
    fn walks_extension_headers_to_tcp() {
        // hop-by-hop (8 bytes) -> destination options (16 bytes) -> TCP
        let mut ext = std::vec![60u8, 0, 0, 0, 0, 0, 0, 0];
        ext.extend_from_slice(&[6, 1, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0]);
        ext.extend_from_slice(b"tcp!");
        let buf = header(0, &ext);
        let p = Ipv6Packet::parse(&buf).unwrap();
        assert_eq!(p.protocol(), 6);
        assert_eq!(p.payload(), b"tcp!");
        assert!(!p.is_fragment());
    }

    #[test]
    fn fragment_header_is_recognised() {
        let ext = [6u8, 0, 0x00, 0x01, 0, 0, 0, 1]; // M flag set
        let p_buf = header(44, &ext);
        assert!(Ipv6Packet::parse(&p_buf).unwrap().is_fragment());
    }

    #[test]
    fn truncated_chain_is_an_error() {
        let buf = header(0, &[6, 4]);
        assert!(matches!(Ipv6Packet::parse(&buf), Err(WireError::Truncated { .. })));
    }

    #[test]
    fn endless_chain_is_an_error() {
        let mut ext = std::vec::Vec::new();
        for _ in 0..12 {
            ext.extend_from_slice(&[60u8, 0, 0, 0, 0, 0, 0, 0]);
        }
        let buf = header(60, &ext);
        assert_eq!(Ipv6Packet::parse(&buf).unwrap_err(), WireError::BadExtensionHeader);
    }
}
