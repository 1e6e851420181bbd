//! Segmentation and checksum offload at the wire level: splitting a TCP
//! super-segment into segments of a given size (what a NIC or the kernel
//! does with a TSO/GSO packet; the simulator's link and devices without
//! offload use it), and completing a partial checksum (a datagram whose TCP
//! checksum field holds only the pseudo-header sum, as virtio's
//! `VIRTIO_NET_HDR_F_NEEDS_CSUM` describes).
//!
//! ```
//! use synack_wire::{offload::Segmenter, IpRepr, TcpFlags, TcpRepr, IpPacket, TcpPacket, PROTO_TCP};
//! let (src, dst) = ("10.0.0.1".parse().unwrap(), "10.0.0.2".parse().unwrap());
//! let tcp = TcpRepr { seq: 100, flags: TcpFlags::ACK | TcpFlags::PSH, ..Default::default() };
//! let payload = [7u8; 2500];
//! let mut big = [0u8; 3000];
//! let ip = IpRepr { src, dst, protocol: PROTO_TCP, payload_len: tcp.header_len() + payload.len(), hop_limit: 64, tos: 0 };
//! let hl = ip.emit(&mut big).unwrap();
//! let n = hl + tcp.emit(&mut big[hl..], &payload, src, dst).unwrap();
//! let mut seg = Segmenter::new(&big[..n], 1000).unwrap();
//! let mut out = [0u8; 1100];
//! let mut seqs = Vec::new();
//! while let Some(len) = seg.next_into(&mut out) {
//!     let t = TcpPacket::parse(IpPacket::parse(&out[..len]).unwrap().payload()).unwrap();
//!     assert!(t.verify_checksum(src, dst));
//!     seqs.push((t.seq(), t.payload().len(), t.flags().psh()));
//! }
//! assert_eq!(seqs, [(100, 1000, false), (1100, 1000, false), (2100, 500, true)]);
//! ```

use crate::checksum;
use crate::error::WireError;
use crate::tcp::{TcpFlags, TcpPacket};
use crate::{IpPacket, PROTO_TCP};
use core::net::IpAddr;

/// Splits one TCP super-segment (a whole IPv4 or IPv6 datagram) into
/// datagrams carrying at most `segment_size` bytes of payload each, with
/// consecutive sequence numbers, FIN and PSH only on the last, CWR only on
/// the first (as Linux's `tcp_gso_segment`), IPv4 identifications counting
/// up, and every checksum computed in full.
#[derive(Debug, Clone)]
pub struct Segmenter<'a> {
    packet: &'a [u8],
    src: IpAddr,
    dst: IpAddr,
    /// Offset of the TCP header.
    tcp_at: usize,
    /// Offset of the TCP payload.
    payload_at: usize,
    segment_size: usize,
    /// Payload offset of the next piece.
    next: usize,
}

impl<'a> Segmenter<'a> {
    /// Checks the datagram and prepares to split it. A datagram whose
    /// payload fits one segment yields itself (with checksums recomputed).
    pub fn new(packet: &'a [u8], segment_size: usize) -> Result<Self, WireError> {
        let ip = IpPacket::parse(packet)?;
        if ip.protocol() != PROTO_TCP {
            return Err(WireError::BadHeaderLength(0));
        }
        let total = match ip {
            IpPacket::V4(p) => p.as_bytes().len(),
            IpPacket::V6(p) => p.as_bytes().len(),
        };
        let tcp = TcpPacket::parse(ip.payload())?;
        let tcp_at = total - ip.payload().len();
        let payload_at = tcp_at + tcp.header_len();
        if segment_size == 0 {
            return Err(WireError::BadHeaderLength(0));
        }
        Ok(Self { packet: &packet[..total], src: ip.src(), dst: ip.dst(), tcp_at, payload_at, segment_size, next: 0 })
    }

    /// Payload bytes in the super-segment.
    fn payload_len(&self) -> usize {
        self.packet.len() - self.payload_at
    }

    /// How many datagrams the super-segment becomes.
    pub fn count(&self) -> usize {
        self.payload_len().div_ceil(self.segment_size).max(1)
    }

    /// Writes the next datagram into `out` and returns its length; `None`
    /// when done, or when `out` is too small for it.
    pub fn next_into(&mut self, out: &mut [u8]) -> Option<usize> {
        let payload = self.payload_len();
        if self.next >= payload && !(self.next == 0 && payload == 0) {
            return None;
        }
        let len = (payload - self.next).min(self.segment_size);
        let first = self.next == 0;
        let last = self.next + len >= payload;
        let hdr = self.payload_at;
        let n = hdr + len;
        let out = out.get_mut(..n)?;
        out[..hdr].copy_from_slice(&self.packet[..hdr]);
        let from = self.payload_at + self.next;
        out[hdr..].copy_from_slice(&self.packet[from..from + len]);
        let index = (self.next / self.segment_size) as u16;
        match self.src {
            IpAddr::V4(_) => {
                let total = n as u16;
                out[2..4].copy_from_slice(&total.to_be_bytes());
                let id = u16::from_be_bytes([out[4], out[5]]).wrapping_add(index);
                out[4..6].copy_from_slice(&id.to_be_bytes());
                out[10..12].copy_from_slice(&[0, 0]);
                let c = checksum::checksum(&out[..self.tcp_at]);
                out[10..12].copy_from_slice(&c.to_be_bytes());
            }
            IpAddr::V6(_) => {
                let plen = (n - 40) as u16;
                out[4..6].copy_from_slice(&plen.to_be_bytes());
            }
        }
        let t = self.tcp_at;
        let seq = u32::from_be_bytes([out[t + 4], out[t + 5], out[t + 6], out[t + 7]]).wrapping_add(self.next as u32);
        out[t + 4..t + 8].copy_from_slice(&seq.to_be_bytes());
        let mut flags = TcpFlags(out[t + 13]);
        if !last {
            flags = TcpFlags(flags.0 & !(TcpFlags::FIN.0 | TcpFlags::PSH.0));
        }
        if !first {
            flags = TcpFlags(flags.0 & !TcpFlags::CWR.0);
        }
        out[t + 13] = flags.0;
        out[t + 16..t + 18].copy_from_slice(&[0, 0]);
        let seg_len = n - t;
        let acc = match (self.src, self.dst) {
            (IpAddr::V4(s), IpAddr::V4(d)) => checksum::pseudo_v4(s, d, PROTO_TCP, seg_len as u16),
            (IpAddr::V6(s), IpAddr::V6(d)) => checksum::pseudo_v6(s, d, PROTO_TCP, seg_len as u32),
            _ => return None,
        };
        let c = checksum::fold(checksum::sum(acc, &out[t..n]));
        out[t + 16..t + 18].copy_from_slice(&c.to_be_bytes());
        self.next += len.max(1);
        Some(n)
    }
}

/// Completes a partial checksum in place: the 16-bit field at
/// `csum_start + csum_offset` holds the pseudo-header sum, and the checksum
/// covers `packet[csum_start..]` (virtio's `csum_start` / `csum_offset`).
pub fn complete_checksum(packet: &mut [u8], csum_start: usize, csum_offset: usize) -> Result<(), WireError> {
    let at = csum_start.checked_add(csum_offset).ok_or(WireError::BadHeaderLength(csum_offset))?;
    if at + 2 > packet.len() {
        return Err(WireError::Truncated { needed: at + 2, have: packet.len() });
    }
    let c = checksum::fold(checksum::sum(0, &packet[csum_start..]));
    packet[at..at + 2].copy_from_slice(&c.to_be_bytes());
    Ok(())
}

/// Replaces the TCP checksum of a whole IPv4 or IPv6 datagram by the
/// pseudo-header sum alone, as a sender that leaves the checksum to the
/// device writes it (virtio's `NEEDS_CSUM`).
pub fn make_checksum_partial(packet: &mut [u8]) -> Result<(), WireError> {
    let ip = IpPacket::parse(packet)?;
    let (src, dst) = (ip.src(), ip.dst());
    let tcp_len = ip.payload().len();
    let at = packet.len() - tcp_len;
    if ip.protocol() != PROTO_TCP || tcp_len < 20 {
        return Err(WireError::BadHeaderLength(tcp_len));
    }
    let acc = match (src, dst) {
        (IpAddr::V4(s), IpAddr::V4(d)) => checksum::pseudo_v4(s, d, PROTO_TCP, tcp_len as u16),
        (IpAddr::V6(s), IpAddr::V6(d)) => checksum::pseudo_v6(s, d, PROTO_TCP, tcp_len as u32),
        _ => return Err(WireError::MixedFamilies),
    };
    let partial = !checksum::fold(acc);
    packet[at + 16..at + 18].copy_from_slice(&partial.to_be_bytes());
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::{IpRepr, TcpRepr};
    use std::vec::Vec;

    fn super_segment(src: IpAddr, dst: IpAddr, flags: TcpFlags, payload: &[u8]) -> Vec<u8> {
        let tcp =
            TcpRepr { src_port: 1, dst_port: 2, seq: u32::MAX - 100, ack: 9, flags, window: 5, ..Default::default() };
        let ip = IpRepr {
            src,
            dst,
            protocol: PROTO_TCP,
            payload_len: tcp.header_len() + payload.len(),
            hop_limit: 64,
            tos: 0,
        };
        let mut buf = std::vec![0u8; ip.header_len() + ip.payload_len];
        let hl = ip.emit(&mut buf).unwrap();
        tcp.emit(&mut buf[hl..], payload, src, dst).unwrap();
        buf
    }

    #[test]
    fn splits_both_families_with_valid_checksums_and_flags_on_the_last() {
        let payload: Vec<u8> = (0..10_000u32).map(|i| i as u8).collect();
        for (s, d) in [
            (IpAddr::from([10, 0, 0, 1]), IpAddr::from([10, 0, 0, 2])),
            ("2001:db8::1".parse().unwrap(), "2001:db8::2".parse().unwrap()),
        ] {
            let big = super_segment(s, d, TcpFlags::ACK | TcpFlags::PSH | TcpFlags::FIN | TcpFlags::CWR, &payload);
            let mut seg = Segmenter::new(&big, 1448).unwrap();
            assert_eq!(seg.count(), 7);
            let mut out = [0u8; 1600];
            let mut joined = Vec::new();
            let mut pieces = 0;
            while let Some(n) = seg.next_into(&mut out) {
                let ip = IpPacket::parse(&out[..n]).unwrap();
                let t = TcpPacket::parse(ip.payload()).unwrap();
                assert!(t.verify_checksum(s, d));
                assert_eq!(t.seq(), (u32::MAX - 100).wrapping_add(joined.len() as u32), "seq wraps");
                let last = joined.len() + t.payload().len() == payload.len();
                assert_eq!(t.flags().fin(), last);
                assert_eq!(t.flags().psh(), last);
                assert_eq!(t.flags().contains(TcpFlags::CWR), pieces == 0);
                joined.extend_from_slice(t.payload());
                pieces += 1;
            }
            assert_eq!(joined, payload);
            assert_eq!(pieces, 7);
        }
    }

    #[test]
    fn a_pure_ack_is_one_segment() {
        let big = super_segment(IpAddr::from([1, 1, 1, 1]), IpAddr::from([2, 2, 2, 2]), TcpFlags::ACK, &[]);
        let mut seg = Segmenter::new(&big, 1000).unwrap();
        let mut out = [0u8; 100];
        assert_eq!(seg.next_into(&mut out), Some(40));
        assert_eq!(seg.next_into(&mut out), None);
    }

    #[test]
    fn a_partial_checksum_completes_to_the_full_one() {
        let (s, d) = (IpAddr::from([10, 0, 0, 1]), IpAddr::from([10, 0, 0, 2]));
        let mut p = super_segment(s, d, TcpFlags::ACK, b"some payload bytes");
        let full = [p[36], p[37]];
        let tcp_len = (p.len() - 20) as u16;
        let pseudo =
            !checksum::fold(checksum::pseudo_v4([10, 0, 0, 1].into(), [10, 0, 0, 2].into(), PROTO_TCP, tcp_len));
        p[36..38].copy_from_slice(&pseudo.to_be_bytes());
        complete_checksum(&mut p, 20, 16).unwrap();
        assert_eq!([p[36], p[37]], full);
        make_checksum_partial(&mut p).unwrap();
        assert_eq!(u16::from_be_bytes([p[36], p[37]]), pseudo);
        assert!(complete_checksum(&mut p, 20, 100).is_err());
    }
}
