//! TCP header view and builder (RFC 9293 §3.1) with the options that matter:
//! MSS (§3.2), window scale and timestamps (RFC 7323), SACK (RFC 2018).

use crate::checksum;
use crate::error::{need, room, WireError};
use core::fmt;
use core::net::IpAddr;

/// Length of a TCP header without options.
pub const HEADER_LEN: usize = 20;
/// The most option bytes a TCP header can carry.
pub const MAX_OPTIONS_LEN: usize = 40;
/// The most SACK blocks an options field can hold.
pub const MAX_SACK_BLOCKS: usize = 4;

/// The control bits of a TCP header.
#[derive(Clone, Copy, PartialEq, Eq, Default, Hash)]
pub struct TcpFlags(pub u8);

impl TcpFlags {
    /// No more data from sender.
    pub const FIN: Self = Self(0x01);
    /// Synchronize sequence numbers.
    pub const SYN: Self = Self(0x02);
    /// Reset the connection.
    pub const RST: Self = Self(0x04);
    /// Push function.
    pub const PSH: Self = Self(0x08);
    /// Acknowledgment field is significant.
    pub const ACK: Self = Self(0x10);
    /// Urgent pointer field is significant.
    pub const URG: Self = Self(0x20);
    /// ECN echo (RFC 3168).
    pub const ECE: Self = Self(0x40);
    /// Congestion window reduced (RFC 3168).
    pub const CWR: Self = Self(0x80);

    /// True when every bit of `other` is set.
    pub fn contains(self, other: Self) -> bool {
        self.0 & other.0 == other.0
    }
    /// True when SYN is set.
    pub fn syn(self) -> bool {
        self.contains(Self::SYN)
    }
    /// True when ACK is set.
    pub fn ack(self) -> bool {
        self.contains(Self::ACK)
    }
    /// True when FIN is set.
    pub fn fin(self) -> bool {
        self.contains(Self::FIN)
    }
    /// True when RST is set.
    pub fn rst(self) -> bool {
        self.contains(Self::RST)
    }
    /// True when PSH is set.
    pub fn psh(self) -> bool {
        self.contains(Self::PSH)
    }
    /// True when URG is set.
    pub fn urg(self) -> bool {
        self.contains(Self::URG)
    }
}

impl core::ops::BitOr for TcpFlags {
    type Output = Self;
    fn bitor(self, rhs: Self) -> Self {
        Self(self.0 | rhs.0)
    }
}

impl core::ops::BitOrAssign for TcpFlags {
    fn bitor_assign(&mut self, rhs: Self) {
        self.0 |= rhs.0;
    }
}

impl fmt::Debug for TcpFlags {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Display::fmt(self, f)
    }
}

impl fmt::Display for TcpFlags {
    /// Names the flags as a person reads them: `SYN`, `SYN-ACK`, `PSH-ACK`, `FIN-ACK`.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let names = [
            (Self::SYN, "SYN"),
            (Self::RST, "RST"),
            (Self::FIN, "FIN"),
            (Self::PSH, "PSH"),
            (Self::URG, "URG"),
            (Self::ECE, "ECE"),
            (Self::CWR, "CWR"),
            (Self::ACK, "ACK"),
        ];
        let mut first = true;
        for (flag, name) in names {
            if self.contains(flag) {
                if !first {
                    f.write_str("-")?;
                }
                f.write_str(name)?;
                first = false;
            }
        }
        if first {
            f.write_str("none")?;
        }
        Ok(())
    }
}

/// One SACK block: the left and right edges, as raw sequence numbers.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct SackBlock {
    /// First sequence number of the block.
    pub left: u32,
    /// Sequence number just past the block.
    pub right: u32,
}

/// The TCP options synack understands; others are skipped when parsing.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct TcpOptions {
    /// Maximum segment size (kind 2).
    pub mss: Option<u16>,
    /// Window scale shift count (kind 3).
    pub window_scale: Option<u8>,
    /// SACK permitted (kind 4).
    pub sack_permitted: bool,
    /// Timestamps: (TSval, TSecr) (kind 8).
    pub timestamps: Option<(u32, u32)>,
    sack: [SackBlock; MAX_SACK_BLOCKS],
    sack_len: u8,
}

impl TcpOptions {
    /// The SACK blocks (kind 5), in the order they appear.
    pub fn sack_blocks(&self) -> &[SackBlock] {
        &self.sack[..usize::from(self.sack_len)]
    }

    /// Replaces the SACK blocks; at most [`MAX_SACK_BLOCKS`] are kept.
    pub fn set_sack_blocks(&mut self, blocks: &[SackBlock]) {
        let n = blocks.len().min(MAX_SACK_BLOCKS);
        self.sack[..n].copy_from_slice(&blocks[..n]);
        self.sack[n..].fill(SackBlock::default());
        self.sack_len = n as u8;
    }

    /// Parses an option field (RFC 9293 §3.2). Unknown kinds are skipped by
    /// their length; a length that is too short, too long, or wrong for a
    /// known kind is an error (MUST-7).
    pub fn parse(mut data: &[u8]) -> Result<Self, WireError> {
        let mut opts = Self::default();
        while let Some(&kind) = data.first() {
            match kind {
                0 => break,
                1 => {
                    data = &data[1..];
                    continue;
                }
                _ => {}
            }
            let len = usize::from(*data.get(1).ok_or(WireError::BadOption { kind })?);
            if len < 2 || len > data.len() {
                return Err(WireError::BadOption { kind });
            }
            let body = &data[2..len];
            match (kind, len) {
                (2, 4) => opts.mss = Some(u16::from_be_bytes([body[0], body[1]])),
                (3, 3) => opts.window_scale = Some(body[0]),
                (4, 2) => opts.sack_permitted = true,
                (5, _) if (len - 2) % 8 == 0 && (len - 2) / 8 >= 1 && (len - 2) / 8 <= MAX_SACK_BLOCKS => {
                    let mut blocks = [SackBlock::default(); MAX_SACK_BLOCKS];
                    let n = (len - 2) / 8;
                    for (i, b) in body.chunks_exact(8).enumerate() {
                        blocks[i] = SackBlock {
                            left: u32::from_be_bytes([b[0], b[1], b[2], b[3]]),
                            right: u32::from_be_bytes([b[4], b[5], b[6], b[7]]),
                        };
                    }
                    opts.set_sack_blocks(&blocks[..n]);
                }
                (8, 10) => {
                    let val = u32::from_be_bytes([body[0], body[1], body[2], body[3]]);
                    let ecr = u32::from_be_bytes([body[4], body[5], body[6], body[7]]);
                    opts.timestamps = Some((val, ecr));
                }
                (2..=5, _) | (8, _) => return Err(WireError::BadOption { kind }),
                _ => {}
            }
            data = &data[len..];
        }
        Ok(opts)
    }

    /// Bytes [`Self::emit`] writes, a multiple of 4.
    pub fn len(&self) -> usize {
        let mut n = 0;
        if self.mss.is_some() {
            n += 4;
        }
        if self.timestamps.is_some() {
            n += 12;
        } else if self.sack_permitted {
            n += 4;
        }
        if self.window_scale.is_some() {
            n += 4;
        }
        if self.sack_len > 0 {
            n += 4 + 8 * usize::from(self.sack_len);
        }
        n
    }

    /// True when no option is set.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Writes the options as Linux lays them out: `mss`, then `sackOK,TS` or
    /// `nop,nop,TS` or `nop,nop,sackOK`, then `nop,wscale`, then
    /// `nop,nop,sack ...`. Every option stays 4-byte aligned.
    pub fn emit(&self, buf: &mut [u8]) -> Result<usize, WireError> {
        let len = self.len();
        if len > MAX_OPTIONS_LEN {
            return Err(WireError::OptionsTooLong);
        }
        room(buf, len)?;
        let mut at = 0;
        let mut put = |bytes: &[u8]| {
            buf[at..at + bytes.len()].copy_from_slice(bytes);
            at += bytes.len();
        };
        if let Some(mss) = self.mss {
            let m = mss.to_be_bytes();
            put(&[2, 4, m[0], m[1]]);
        }
        if let Some((val, ecr)) = self.timestamps {
            if self.sack_permitted {
                put(&[4, 2, 8, 10]);
            } else {
                put(&[1, 1, 8, 10]);
            }
            put(&val.to_be_bytes());
            put(&ecr.to_be_bytes());
        } else if self.sack_permitted {
            put(&[1, 1, 4, 2]);
        }
        if let Some(ws) = self.window_scale {
            put(&[1, 3, 3, ws]);
        }
        if self.sack_len > 0 {
            put(&[1, 1, 5, 2 + 8 * self.sack_len]);
            for b in self.sack_blocks() {
                put(&b.left.to_be_bytes());
                put(&b.right.to_be_bytes());
            }
        }
        Ok(at)
    }
}

impl fmt::Display for TcpOptions {
    /// Formats the options in tcpdump/packetdrill style: `mss 1460,sackOK,TS val 1 ecr 0,wscale 7`.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let mut sep = "";
        if let Some(m) = self.mss {
            write!(f, "{sep}mss {m}")?;
            sep = ",";
        }
        if self.sack_permitted {
            write!(f, "{sep}sackOK")?;
            sep = ",";
        }
        if let Some((v, e)) = self.timestamps {
            write!(f, "{sep}TS val {v} ecr {e}")?;
            sep = ",";
        }
        if let Some(w) = self.window_scale {
            write!(f, "{sep}wscale {w}")?;
            sep = ",";
        }
        if self.sack_len > 0 {
            write!(f, "{sep}sack")?;
            for b in self.sack_blocks() {
                write!(f, " {}:{}", b.left, b.right)?;
            }
        }
        Ok(())
    }
}

/// A checked view of a TCP segment.
#[derive(Debug, Clone, Copy)]
pub struct TcpPacket<'a> {
    buf: &'a [u8],
    header_len: usize,
    options: TcpOptions,
}

impl<'a> TcpPacket<'a> {
    /// Parses the header and its options. The checksum is checked separately
    /// by [`Self::verify_checksum`], because it needs the IP addresses.
    pub fn parse(buf: &'a [u8]) -> Result<Self, WireError> {
        need(buf, HEADER_LEN)?;
        let header_len = usize::from(buf[12] >> 4) * 4;
        if header_len < HEADER_LEN {
            return Err(WireError::BadHeaderLength(header_len));
        }
        need(buf, header_len)?;
        let options = TcpOptions::parse(&buf[HEADER_LEN..header_len])?;
        Ok(Self { buf, header_len, options })
    }

    /// True when the checksum over the pseudo-header and segment is valid.
    pub fn verify_checksum(&self, src: IpAddr, dst: IpAddr) -> bool {
        match pseudo_sum(src, dst, self.buf.len()) {
            Ok(acc) => checksum::fold(checksum::sum(acc, self.buf)) == 0,
            Err(_) => false,
        }
    }

    /// Source port.
    pub fn src_port(&self) -> u16 {
        u16::from_be_bytes([self.buf[0], self.buf[1]])
    }
    /// Destination port.
    pub fn dst_port(&self) -> u16 {
        u16::from_be_bytes([self.buf[2], self.buf[3]])
    }
    /// Sequence number.
    pub fn seq(&self) -> u32 {
        u32::from_be_bytes([self.buf[4], self.buf[5], self.buf[6], self.buf[7]])
    }
    /// Acknowledgment number.
    pub fn ack(&self) -> u32 {
        u32::from_be_bytes([self.buf[8], self.buf[9], self.buf[10], self.buf[11]])
    }
    /// Control bits.
    pub fn flags(&self) -> TcpFlags {
        TcpFlags(self.buf[13])
    }
    /// Raw (unscaled) window field.
    pub fn window(&self) -> u16 {
        u16::from_be_bytes([self.buf[14], self.buf[15]])
    }
    /// Checksum field.
    pub fn checksum(&self) -> u16 {
        u16::from_be_bytes([self.buf[16], self.buf[17]])
    }
    /// Urgent pointer.
    pub fn urgent(&self) -> u16 {
        u16::from_be_bytes([self.buf[18], self.buf[19]])
    }
    /// Parsed options.
    pub fn options(&self) -> &TcpOptions {
        &self.options
    }
    /// Header length including options.
    pub fn header_len(&self) -> usize {
        self.header_len
    }
    /// Segment data.
    pub fn payload(&self) -> &'a [u8] {
        &self.buf[self.header_len..]
    }
    /// The header fields as a [`TcpRepr`].
    pub fn repr(&self) -> TcpRepr {
        TcpRepr {
            src_port: self.src_port(),
            dst_port: self.dst_port(),
            seq: self.seq(),
            ack: self.ack(),
            flags: self.flags(),
            window: self.window(),
            urgent: self.urgent(),
            options: self.options,
        }
    }
}

/// The header fields of a TCP segment to emit.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct TcpRepr {
    /// Source port.
    pub src_port: u16,
    /// Destination port.
    pub dst_port: u16,
    /// Sequence number.
    pub seq: u32,
    /// Acknowledgment number.
    pub ack: u32,
    /// Control bits.
    pub flags: TcpFlags,
    /// Raw window field.
    pub window: u16,
    /// Urgent pointer.
    pub urgent: u16,
    /// Options.
    pub options: TcpOptions,
}

impl TcpRepr {
    /// Header length with options.
    pub fn header_len(&self) -> usize {
        HEADER_LEN + self.options.len()
    }

    /// Writes header, options and `payload` into `buf`, with the checksum for
    /// the given addresses. Returns the segment length.
    pub fn emit(&self, buf: &mut [u8], payload: &[u8], src: IpAddr, dst: IpAddr) -> Result<usize, WireError> {
        let hlen = self.header_len();
        room(buf, hlen + payload.len())?;
        buf[hlen..hlen + payload.len()].copy_from_slice(payload);
        self.emit_in_place(buf, payload.len(), src, dst)
    }

    /// Writes the header in front of `payload_len` bytes already placed at `buf[header_len()..]`,
    /// then the checksum; returns the segment length. Saves a copy on the send path.
    pub fn emit_in_place(
        &self,
        buf: &mut [u8],
        payload_len: usize,
        src: IpAddr,
        dst: IpAddr,
    ) -> Result<usize, WireError> {
        self.emit_in_place_with(buf, payload_len, src, dst, false)
    }

    /// [`Self::emit_in_place`], with only the pseudo-header sum in the
    /// checksum field when `partial` (for a device that completes it:
    /// checksum offload, see [`crate::offload::complete_checksum`]).
    pub fn emit_in_place_with(
        &self,
        buf: &mut [u8],
        payload_len: usize,
        src: IpAddr,
        dst: IpAddr,
        partial: bool,
    ) -> Result<usize, WireError> {
        let opt_len = self.options.len();
        if opt_len > MAX_OPTIONS_LEN {
            return Err(WireError::OptionsTooLong);
        }
        let hlen = HEADER_LEN + opt_len;
        let total = hlen + payload_len;
        room(buf, total)?;
        let acc = pseudo_sum(src, dst, total)?;
        let b = &mut buf[..total];
        b[0..2].copy_from_slice(&self.src_port.to_be_bytes());
        b[2..4].copy_from_slice(&self.dst_port.to_be_bytes());
        b[4..8].copy_from_slice(&self.seq.to_be_bytes());
        b[8..12].copy_from_slice(&self.ack.to_be_bytes());
        b[12] = ((hlen / 4) as u8) << 4;
        b[13] = self.flags.0;
        b[14..16].copy_from_slice(&self.window.to_be_bytes());
        b[16..18].copy_from_slice(&[0, 0]);
        b[18..20].copy_from_slice(&self.urgent.to_be_bytes());
        self.options.emit(&mut b[HEADER_LEN..hlen])?;
        let c = if partial { !checksum::fold(acc) } else { checksum::fold(checksum::sum(acc, b)) };
        b[16..18].copy_from_slice(&c.to_be_bytes());
        Ok(total)
    }
}

fn pseudo_sum(src: IpAddr, dst: IpAddr, len: usize) -> Result<u32, WireError> {
    match (src, dst) {
        (IpAddr::V4(s), IpAddr::V4(d)) => {
            let len = u16::try_from(len).map_err(|_| WireError::BufferTooSmall { needed: len, have: 65535 })?;
            Ok(checksum::pseudo_v4(s, d, crate::PROTO_TCP, len))
        }
        (IpAddr::V6(s), IpAddr::V6(d)) => Ok(checksum::pseudo_v6(s, d, crate::PROTO_TCP, len as u32)),
        _ => Err(WireError::MixedFamilies),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn linux_syn_layout() {
        let opts = TcpOptions {
            mss: Some(1460),
            sack_permitted: true,
            timestamps: Some((1, 0)),
            window_scale: Some(7),
            ..Default::default()
        };
        let mut buf = [0u8; 40];
        let n = opts.emit(&mut buf).unwrap();
        assert_eq!(&buf[..n], &[2, 4, 5, 180, 4, 2, 8, 10, 0, 0, 0, 1, 0, 0, 0, 0, 1, 3, 3, 7]);
    }

    #[test]
    fn linux_synack_layout_without_timestamps() {
        let opts = TcpOptions { mss: Some(1460), sack_permitted: true, window_scale: Some(8), ..Default::default() };
        let mut buf = [0u8; 40];
        let n = opts.emit(&mut buf).unwrap();
        assert_eq!(&buf[..n], &[2, 4, 5, 180, 1, 1, 4, 2, 1, 3, 3, 8]);
    }

    #[test]
    fn data_segment_layout_with_sack() {
        let mut opts = TcpOptions { timestamps: Some((5, 6)), ..Default::default() };
        opts.set_sack_blocks(&[SackBlock { left: 10, right: 20 }]);
        let mut buf = [0u8; 40];
        let n = opts.emit(&mut buf).unwrap();
        assert_eq!(&buf[..4], &[1, 1, 8, 10]);
        assert_eq!(&buf[12..16], &[1, 1, 5, 10]);
        assert_eq!(n, 24);
        assert_eq!(TcpOptions::parse(&buf[..n]).unwrap(), opts);
    }

    #[test]
    fn four_sack_blocks_with_timestamps_do_not_fit() {
        let mut opts = TcpOptions { timestamps: Some((5, 6)), ..Default::default() };
        opts.set_sack_blocks(&[SackBlock::default(); 4]);
        assert_eq!(opts.emit(&mut [0u8; 64]).unwrap_err(), WireError::OptionsTooLong);
    }

    #[test]
    fn malformed_option_lengths_are_rejected() {
        assert_eq!(TcpOptions::parse(&[2, 0]).unwrap_err(), WireError::BadOption { kind: 2 });
        assert_eq!(TcpOptions::parse(&[2, 3, 0]).unwrap_err(), WireError::BadOption { kind: 2 });
        assert_eq!(TcpOptions::parse(&[99, 9, 0]).unwrap_err(), WireError::BadOption { kind: 99 });
        assert_eq!(TcpOptions::parse(&[5, 3, 0]).unwrap_err(), WireError::BadOption { kind: 5 });
        assert_eq!(TcpOptions::parse(&[8]).unwrap_err(), WireError::BadOption { kind: 8 });
    }

    #[test]
    fn unknown_options_are_skipped_and_eol_stops() {
        let o = TcpOptions::parse(&[30, 4, 1, 2, 2, 4, 0x05, 0xb4, 0, 3, 3, 9]).unwrap();
        assert_eq!(o.mss, Some(1460));
        assert_eq!(o.window_scale, None);
    }

    #[test]
    fn checksum_round_trip_v4_and_v6() {
        let repr =
            TcpRepr { src_port: 1, dst_port: 2, seq: 3, ack: 4, flags: TcpFlags::ACK, window: 5, ..Default::default() };
        for (s, d) in [
            (IpAddr::from([10, 0, 0, 1]), IpAddr::from([10, 0, 0, 2])),
            ("2001:db8::1".parse().unwrap(), "2001:db8::2".parse().unwrap()),
        ] {
            let mut buf = [0u8; 64];
            let n = repr.emit(&mut buf, b"hello", s, d).unwrap();
            let p = TcpPacket::parse(&buf[..n]).unwrap();
            assert!(p.verify_checksum(s, d));
            assert_eq!(p.payload(), b"hello");
            assert_eq!(p.repr(), repr);
            buf[22] ^= 0x10;
            assert!(!TcpPacket::parse(&buf[..n]).unwrap().verify_checksum(s, d));
        }
    }

    #[test]
    fn a_partial_checksum_completes_to_the_full_one() {
        let repr = TcpRepr { src_port: 9, dst_port: 8, seq: 7, flags: TcpFlags::ACK, ..Default::default() };
        let (s, d) = (IpAddr::from([10, 0, 0, 1]), IpAddr::from([10, 0, 0, 2]));
        let mut full = [0u8; 64];
        let n = repr.emit(&mut full, b"abcde", s, d).unwrap();
        let mut part = [0u8; 64];
        part[20..25].copy_from_slice(b"abcde");
        repr.emit_in_place_with(&mut part, 5, s, d, true).unwrap();
        assert_ne!(full[..n], part[..n]);
        crate::offload::complete_checksum(&mut part[..n], 0, 16).unwrap();
        assert_eq!(full[..n], part[..n]);
    }

    #[test]
    fn flags_read_as_people_say_them() {
        assert_eq!(std::format!("{}", TcpFlags::SYN | TcpFlags::ACK), "SYN-ACK");
        assert_eq!(std::format!("{}", TcpFlags::FIN | TcpFlags::ACK | TcpFlags::PSH), "FIN-PSH-ACK");
    }
}
