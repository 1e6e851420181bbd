//! ICMPv4 (RFC 792) and ICMPv6 (RFC 4443) messages that matter to TCP:
//! destination unreachable, packet too big, time exceeded (each quoting the
//! offending packet), and echo request/reply.

use crate::checksum;
use crate::error::{need, room, WireError};
use core::net::{IpAddr, Ipv4Addr, Ipv6Addr};

/// Length of the ICMP header (type, code, checksum, 4 bytes of rest).
pub const HEADER_LEN: usize = 8;

/// What an ICMP message says.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum IcmpKind {
    /// Destination unreachable with its code (v4 type 3; v6 type 1).
    DestUnreachable {
        /// ICMP code (v4: 0 net, 1 host, 2 protocol, 3 port, 13 admin; v6: 1 admin, 4 port).
        code: u8,
    },
    /// The path MTU is smaller than the packet (v4 type 3 code 4; v6 type 2).
    PacketTooBig {
        /// Next-hop MTU.
        mtu: u32,
    },
    /// Time (hop limit) exceeded in transit (v4 type 11; v6 type 3).
    TimeExceeded {
        /// ICMP code.
        code: u8,
    },
    /// Echo request (ping).
    EchoRequest {
        /// Identifier.
        ident: u16,
        /// Sequence number.
        seq: u16,
    },
    /// Echo reply.
    EchoReply {
        /// Identifier.
        ident: u16,
        /// Sequence number.
        seq: u16,
    },
}

impl IcmpKind {
    /// True for the error messages that quote an offending packet.
    pub fn is_error(&self) -> bool {
        matches!(self, Self::DestUnreachable { .. } | Self::PacketTooBig { .. } | Self::TimeExceeded { .. })
    }
}

/// A parsed ICMP message: its kind and body (the quoted packet for errors,
/// the echo data for echo messages).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct IcmpMessage<'a> {
    /// What the message says.
    pub kind: IcmpKind,
    /// The quoted packet or the echo data.
    pub body: &'a [u8],
}

fn rest_u16s(buf: &[u8]) -> (u16, u16) {
    (u16::from_be_bytes([buf[4], buf[5]]), u16::from_be_bytes([buf[6], buf[7]]))
}

impl<'a> IcmpMessage<'a> {
    /// Parses an ICMPv4 message and verifies its checksum.
    pub fn parse_v4(buf: &'a [u8]) -> Result<Self, WireError> {
        need(buf, HEADER_LEN)?;
        if checksum::checksum(buf) != 0 {
            return Err(WireError::BadChecksum);
        }
        let (a, b) = rest_u16s(buf);
        let kind = match (buf[0], buf[1]) {
            (3, 4) => IcmpKind::PacketTooBig { mtu: u32::from(b) },
            (3, code) => IcmpKind::DestUnreachable { code },
            (11, code) => IcmpKind::TimeExceeded { code },
            (8, 0) => IcmpKind::EchoRequest { ident: a, seq: b },
            (0, 0) => IcmpKind::EchoReply { ident: a, seq: b },
            (t, _) => return Err(WireError::UnsupportedIcmp(t)),
        };
        Ok(Self { kind, body: &buf[HEADER_LEN..] })
    }

    /// Parses an ICMPv6 message and verifies its checksum with the pseudo-header.
    pub fn parse_v6(buf: &'a [u8], src: Ipv6Addr, dst: Ipv6Addr) -> Result<Self, WireError> {
        need(buf, HEADER_LEN)?;
        let acc = checksum::pseudo_v6(src, dst, crate::PROTO_ICMPV6, buf.len() as u32);
        if checksum::fold(checksum::sum(acc, buf)) != 0 {
            return Err(WireError::BadChecksum);
        }
        let (a, b) = rest_u16s(buf);
        let kind = match buf[0] {
            1 => IcmpKind::DestUnreachable { code: buf[1] },
            2 => IcmpKind::PacketTooBig { mtu: u32::from_be_bytes([buf[4], buf[5], buf[6], buf[7]]) },
            3 => IcmpKind::TimeExceeded { code: buf[1] },
            128 => IcmpKind::EchoRequest { ident: a, seq: b },
            129 => IcmpKind::EchoReply { ident: a, seq: b },
            t => return Err(WireError::UnsupportedIcmp(t)),
        };
        Ok(Self { kind, body: &buf[HEADER_LEN..] })
    }

    fn header(&self, v6: bool) -> [u8; HEADER_LEN] {
        let mut h = [0u8; HEADER_LEN];
        let (t, code, rest): (u8, u8, [u8; 4]) = match (self.kind, v6) {
            (IcmpKind::DestUnreachable { code }, false) => (3, code, [0; 4]),
            (IcmpKind::DestUnreachable { code }, true) => (1, code, [0; 4]),
            (IcmpKind::PacketTooBig { mtu }, false) => {
                let m = (mtu.min(65535) as u16).to_be_bytes();
                (3, 4, [0, 0, m[0], m[1]])
            }
            (IcmpKind::PacketTooBig { mtu }, true) => (2, 0, mtu.to_be_bytes()),
            (IcmpKind::TimeExceeded { code }, false) => (11, code, [0; 4]),
            (IcmpKind::TimeExceeded { code }, true) => (3, code, [0; 4]),
            (IcmpKind::EchoRequest { ident, seq }, v6) => (if v6 { 128 } else { 8 }, 0, pair(ident, seq)),
            (IcmpKind::EchoReply { ident, seq }, v6) => (if v6 { 129 } else { 0 }, 0, pair(ident, seq)),
        };
        h[0] = t;
        h[1] = code;
        h[4..8].copy_from_slice(&rest);
        h
    }

    /// Writes the message as ICMPv4 into `buf`; returns its length.
    pub fn emit_v4(&self, buf: &mut [u8]) -> Result<usize, WireError> {
        let len = HEADER_LEN + self.body.len();
        room(buf, len)?;
        buf[..HEADER_LEN].copy_from_slice(&self.header(false));
        buf[HEADER_LEN..len].copy_from_slice(self.body);
        let c = checksum::checksum(&buf[..len]);
        buf[2..4].copy_from_slice(&c.to_be_bytes());
        Ok(len)
    }

    /// Writes the message as ICMPv6 into `buf`; returns its length.
    pub fn emit_v6(&self, buf: &mut [u8], src: Ipv6Addr, dst: Ipv6Addr) -> Result<usize, WireError> {
        let len = HEADER_LEN + self.body.len();
        room(buf, len)?;
        buf[..HEADER_LEN].copy_from_slice(&self.header(true));
        buf[HEADER_LEN..len].copy_from_slice(self.body);
        let acc = checksum::pseudo_v6(src, dst, crate::PROTO_ICMPV6, len as u32);
        let c = checksum::fold(checksum::sum(acc, &buf[..len]));
        buf[2..4].copy_from_slice(&c.to_be_bytes());
        Ok(len)
    }
}

fn pair(a: u16, b: u16) -> [u8; 4] {
    let (a, b) = (a.to_be_bytes(), b.to_be_bytes());
    [a[0], a[1], b[0], b[1]]
}

/// The TCP header fields an ICMP error quotes: enough to find the connection
/// and validate the sequence number (RFC 5927 §4.1).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct QuotedTcp {
    /// Source address of the quoted (originally sent) packet.
    pub src: IpAddr,
    /// Destination address of the quoted packet.
    pub dst: IpAddr,
    /// Source port of the quoted segment.
    pub src_port: u16,
    /// Destination port of the quoted segment.
    pub dst_port: u16,
    /// Sequence number of the quoted segment.
    pub seq: u32,
}

impl QuotedTcp {
    /// Reads the quoted IP header and first 8 bytes of TCP from an ICMP
    /// error body. The quote is usually truncated, so lengths are not checked
    /// against the IP total length. Returns `None` when it does not quote TCP.
    pub fn parse(body: &[u8]) -> Result<Option<Self>, WireError> {
        need(body, 1)?;
        let (src, dst, proto, off) = match body[0] >> 4 {
            4 => {
                need(body, 20)?;
                let ihl = usize::from(body[0] & 0x0f) * 4;
                if ihl < 20 {
                    return Err(WireError::BadHeaderLength(ihl));
                }
                let s = Ipv4Addr::new(body[12], body[13], body[14], body[15]);
                let d = Ipv4Addr::new(body[16], body[17], body[18], body[19]);
                (IpAddr::V4(s), IpAddr::V4(d), body[9], ihl)
            }
            6 => {
                need(body, 40)?;
                let mut s = [0u8; 16];
                let mut d = [0u8; 16];
                s.copy_from_slice(&body[8..24]);
                d.copy_from_slice(&body[24..40]);
                (IpAddr::V6(s.into()), IpAddr::V6(d.into()), body[6], 40)
            }
            v => return Err(WireError::BadVersion(v)),
        };
        if proto != crate::PROTO_TCP {
            return Ok(None);
        }
        need(body, off + 8)?;
        let t = &body[off..off + 8];
        Ok(Some(Self {
            src,
            dst,
            src_port: u16::from_be_bytes([t[0], t[1]]),
            dst_port: u16::from_be_bytes([t[2], t[3]]),
            seq: u32::from_be_bytes([t[4], t[5], t[6], t[7]]),
        }))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn v4_round_trips() {
        for kind in [
            IcmpKind::DestUnreachable { code: 3 },
            IcmpKind::PacketTooBig { mtu: 1280 },
            IcmpKind::TimeExceeded { code: 0 },
            IcmpKind::EchoRequest { ident: 7, seq: 9 },
            IcmpKind::EchoReply { ident: 7, seq: 9 },
        ] {
            let m = IcmpMessage { kind, body: b"abcdefgh" };
            let mut buf = [0u8; 32];
            let n = m.emit_v4(&mut buf).unwrap();
            assert_eq!(IcmpMessage::parse_v4(&buf[..n]).unwrap(), m);
        }
    }

    #[test]
    fn v6_round_trips_and_checks_checksum() {
        let (s, d): (Ipv6Addr, Ipv6Addr) = ("2001:db8::1".parse().unwrap(), "2001:db8::2".parse().unwrap());
        let m = IcmpMessage { kind: IcmpKind::PacketTooBig { mtu: 1400 }, body: b"quoted" };
        let mut buf = [0u8; 32];
        let n = m.emit_v6(&mut buf, s, d).unwrap();
        assert_eq!(IcmpMessage::parse_v6(&buf[..n], s, d).unwrap(), m);
        buf[9] ^= 1;
        assert_eq!(IcmpMessage::parse_v6(&buf[..n], s, d).unwrap_err(), WireError::BadChecksum);
    }

    #[test]
    fn quoted_tcp_is_read_from_a_truncated_quote() {
        let ip = crate::Ipv4Repr {
            src: Ipv4Addr::new(1, 2, 3, 4),
            dst: Ipv4Addr::new(5, 6, 7, 8),
            protocol: 6,
            payload_len: 1000,
            ttl: 9,
            tos: 0,
        };
        let mut q = [0u8; 28];
        ip.emit(&mut q).unwrap();
        q[20..28].copy_from_slice(&[0, 80, 0x1f, 0x90, 0, 0, 1, 0]);
        let t = QuotedTcp::parse(&q).unwrap().unwrap();
        assert_eq!((t.src_port, t.dst_port, t.seq), (80, 8080, 256));
        assert_eq!(t.dst, IpAddr::from([5, 6, 7, 8]));
    }
}
