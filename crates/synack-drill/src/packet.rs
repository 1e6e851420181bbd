//! Packets between the script and the stack: building inbound ones from the
//! script's relative numbers, and checking outbound ones against the script.

use crate::ast::{Ecn, OptSpec, OptionsSpec, PacketSpec};
use core::fmt::Write as _;
use core::net::SocketAddr;
use synack_wire::{checksum, IpPacket, IpRepr, TcpFlags, TcpPacket, PROTO_TCP};

/// What maps the script's relative numbers to the wire's.
#[derive(Debug, Clone, Default)]
pub struct Numbering {
    /// The scripted peer's ISN (the script's 0 for inbound sequence numbers).
    pub remote_isn: u32,
    /// The stack's ISN, learned from its SYN or SYN-ACK.
    pub local_isn: Option<u32>,
    /// Stack TSval minus scripted TSval, fixed by the first outbound timestamp.
    pub ts_offset: Option<u32>,
    /// The first outbound TS val: (the stack's, the script's).
    pub ts_first: Option<(u32, u32)>,
}

/// A TCP option as found on the wire, in order.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum WireOpt {
    /// NOP
    Nop,
    /// EOL
    Eol,
    /// MSS
    Mss(u16),
    /// Window scale
    WScale(u8),
    /// SACK permitted
    SackOk,
    /// SACK blocks (absolute)
    Sack(Vec<(u32, u32)>),
    /// Timestamps
    Ts(u32, u32),
    /// Anything else: kind
    Other(u8),
}

/// Lists the options of a TCP header as they appear.
pub fn wire_options(tcp_header: &[u8]) -> Vec<WireOpt> {
    let mut out = Vec::new();
    let hl = usize::from(tcp_header.get(12).copied().unwrap_or(0) >> 4) * 4;
    let mut o = tcp_header.get(20..hl.min(tcp_header.len())).unwrap_or(&[]);
    while let Some(&kind) = o.first() {
        match kind {
            0 => {
                out.push(WireOpt::Eol);
                // Padding after EOL is not listed.
                break;
            }
            1 => {
                out.push(WireOpt::Nop);
                o = &o[1..];
                continue;
            }
            _ => {}
        }
        let Some(&len) = o.get(1) else { break };
        let len = usize::from(len);
        if len < 2 || len > o.len() {
            break;
        }
        let b = &o[2..len];
        let be32 = |i: usize| u32::from_be_bytes([b[i], b[i + 1], b[i + 2], b[i + 3]]);
        out.push(match (kind, len) {
            (2, 4) => WireOpt::Mss(u16::from_be_bytes([b[0], b[1]])),
            (3, 3) => WireOpt::WScale(b[0]),
            (4, 2) => WireOpt::SackOk,
            (5, l) if l >= 10 && (l - 2) % 8 == 0 => {
                WireOpt::Sack((0..(l - 2) / 8).map(|k| (be32(8 * k), be32(8 * k + 4))).collect())
            }
            (8, 10) => WireOpt::Ts(be32(0), be32(4)),
            _ => WireOpt::Other(kind),
        });
        o = &o[len..];
    }
    out
}

/// Builds an inbound IP datagram from a scripted packet.
pub fn build_inbound(
    p: &PacketSpec,
    n: &Numbering,
    ts_map: &dyn Fn(u32) -> u32,
    src: SocketAddr,
    dst: SocketAddr,
    hop_limit: u8,
) -> Result<Vec<u8>, String> {
    // Before the stack has sent a SYN, acknowledgment numbers are absolute.
    let local = |rel: u32| -> Result<u32, String> { Ok(n.local_isn.unwrap_or(0).wrapping_add(rel)) };
    let seq = n.remote_isn.wrapping_add(p.start);
    let ack = match p.ack {
        Some(a) => local(a)?,
        None => 0,
    };
    let mut opts = Vec::new();
    if let OptionsSpec::List(list) = &p.options {
        for o in list {
            match o {
                OptSpec::Nop => opts.push(1),
                OptSpec::Eol => opts.push(0),
                OptSpec::Mss(m) => opts.extend_from_slice(&[2, 4, (m >> 8) as u8, *m as u8]),
                OptSpec::WScale(w) => opts.extend_from_slice(&[3, 3, *w]),
                OptSpec::SackOk => opts.extend_from_slice(&[4, 2]),
                OptSpec::Sack(blocks) => {
                    opts.extend_from_slice(&[5, (2 + 8 * blocks.len()) as u8]);
                    for &(l, r) in blocks {
                        opts.extend_from_slice(&local(l)?.to_be_bytes());
                        opts.extend_from_slice(&local(r)?.to_be_bytes());
                    }
                }
                OptSpec::Ts(val, ecr) => {
                    opts.extend_from_slice(&[8, 10]);
                    opts.extend_from_slice(&val.to_be_bytes());
                    opts.extend_from_slice(&ts_map(*ecr).to_be_bytes());
                }
            }
        }
    } else if p.options == OptionsSpec::Any {
        return Err("<...> is only allowed on outbound packets".into());
    }
    while opts.len() % 4 != 0 {
        opts.push(0);
    }
    if opts.len() > 40 {
        return Err("more than 40 bytes of options".into());
    }
    let hl = 20 + opts.len();
    let tcp_len = hl + p.len as usize;
    let ip = IpRepr { src: src.ip(), dst: dst.ip(), protocol: PROTO_TCP, payload_len: tcp_len, hop_limit, tos: 0 };
    let ip_len = ip.header_len();
    let mut buf = vec![0u8; ip_len + tcp_len];
    ip.emit(&mut buf).map_err(|e| e.to_string())?;
    if let Some(e) = p.ecn {
        let bits = ecn_value(e);
        if ip_len == 20 {
            buf[1] = (buf[1] & !3) | bits;
            buf[10..12].copy_from_slice(&[0, 0]);
            let c = checksum::checksum(&buf[..20]);
            buf[10..12].copy_from_slice(&c.to_be_bytes());
        } else {
            buf[1] = (buf[1] & !0x30) | (bits << 4);
        }
    }
    let t = &mut buf[ip_len..];
    t[0..2].copy_from_slice(&src.port().to_be_bytes());
    t[2..4].copy_from_slice(&dst.port().to_be_bytes());
    t[4..8].copy_from_slice(&seq.to_be_bytes());
    t[8..12].copy_from_slice(&ack.to_be_bytes());
    t[12] = ((hl / 4) as u8) << 4;
    t[13] = p.flags.0;
    t[14..16].copy_from_slice(&p.win.unwrap_or(65535).to_be_bytes());
    t[18..20].copy_from_slice(&p.urg.unwrap_or(0).to_be_bytes());
    t[20..hl].copy_from_slice(&opts);
    for (i, b) in t[hl..].iter_mut().enumerate() {
        *b = b'a' + (i % 26) as u8;
    }
    let pseudo = match (src.ip(), dst.ip()) {
        (core::net::IpAddr::V4(s), core::net::IpAddr::V4(d)) => checksum::pseudo_v4(s, d, PROTO_TCP, tcp_len as u16),
        (core::net::IpAddr::V6(s), core::net::IpAddr::V6(d)) => checksum::pseudo_v6(s, d, PROTO_TCP, tcp_len as u32),
        _ => return Err("mixed address families".into()),
    };
    let mut c = checksum::fold(checksum::sum(pseudo, t));
    if p.bad_checksum {
        c ^= 0x5a5a;
    }
    t[16..18].copy_from_slice(&c.to_be_bytes());
    Ok(buf)
}

/// A decoded outbound segment.
#[derive(Debug, Clone)]
pub struct Outbound {
    /// Source and destination.
    pub src: SocketAddr,
    /// Destination.
    pub dst: SocketAddr,
    /// Flags.
    pub flags: TcpFlags,
    /// Absolute sequence number.
    pub seq: u32,
    /// Absolute acknowledgment number.
    pub ack: u32,
    /// Window field.
    pub win: u16,
    /// Urgent pointer.
    pub urg: u16,
    /// Payload length.
    pub len: u32,
    /// Options in order.
    pub options: Vec<WireOpt>,
    /// Checksum verified.
    pub checksum_ok: bool,
    /// The ECN field of the IP header (2 bits).
    pub ecn: u8,
}

/// Decodes a datagram the stack sent.
pub fn decode(bytes: &[u8]) -> Result<Outbound, String> {
    let ip = IpPacket::parse(bytes).map_err(|e| format!("the stack sent a bad IP packet: {e}"))?;
    let tcp = TcpPacket::parse(ip.payload()).map_err(|e| format!("the stack sent a bad TCP segment: {e}"))?;
    Ok(Outbound {
        src: SocketAddr::new(ip.src(), tcp.src_port()),
        dst: SocketAddr::new(ip.dst(), tcp.dst_port()),
        flags: tcp.flags(),
        seq: tcp.seq(),
        ack: tcp.ack(),
        win: tcp.window(),
        urg: tcp.urgent(),
        len: tcp.payload().len() as u32,
        options: wire_options(ip.payload()),
        checksum_ok: tcp.verify_checksum(ip.src(), ip.dst()),
        ecn: ecn_bits(bytes),
    })
}

/// The ECN field of an IPv4 or IPv6 header.
fn ecn_bits(ip: &[u8]) -> u8 {
    match ip.first().map(|b| b >> 4) {
        Some(4) => ip.get(1).map_or(0, |tos| tos & 3),
        Some(6) => ip.get(1).map_or(0, |b| (b >> 4) & 3),
        _ => 0,
    }
}

/// The two bits of an ECN marking.
fn ecn_value(e: Ecn) -> u8 {
    match e {
        Ecn::NotEct => 0,
        Ecn::Ect1 => 1,
        Ecn::Ect0 | Ecn::Either => 2,
        Ecn::Ce => 3,
    }
}

/// Flags in the script's notation.
pub fn flags_text(f: TcpFlags) -> String {
    let mut s = String::new();
    for (bit, ch) in [
        (TcpFlags::SYN, 'S'),
        (TcpFlags::FIN, 'F'),
        (TcpFlags::RST, 'R'),
        (TcpFlags::PSH, 'P'),
        (TcpFlags::URG, 'U'),
        (TcpFlags::ECE, 'E'),
        (TcpFlags::CWR, 'W'),
        (TcpFlags::ACK, '.'),
    ] {
        if f.contains(bit) {
            s.push(ch);
        }
    }
    s
}

/// A scripted packet as text.
pub fn spec_text(p: &PacketSpec) -> String {
    let mut s = format!("{} {}:{}({})", flags_text(p.flags), p.start, p.end, p.len);
    if let Some(a) = p.ack {
        let _ = write!(s, " ack {a}");
    }
    if let Some(w) = p.win {
        let _ = write!(s, " win {w}");
    }
    if let Some(u) = p.urg {
        let _ = write!(s, " urg {u}");
    }
    match &p.options {
        OptionsSpec::None => {}
        OptionsSpec::Any => s.push_str(" <...>"),
        OptionsSpec::List(l) => {
            let items: Vec<String> = l
                .iter()
                .map(|o| match o {
                    OptSpec::Nop => "nop".into(),
                    OptSpec::Eol => "eol".into(),
                    OptSpec::Mss(m) => format!("mss {m}"),
                    OptSpec::WScale(w) => format!("wscale {w}"),
                    OptSpec::SackOk => "sackOK".into(),
                    OptSpec::Sack(b) => {
                        format!("sack {}", b.iter().map(|(l, r)| format!("{l}:{r}")).collect::<Vec<_>>().join(" "))
                    }
                    OptSpec::Ts(v, e) => format!("TS val {v} ecr {e}"),
                })
                .collect();
            let _ = write!(s, " <{}>", items.join(","));
        }
    }
    s
}

/// An outbound segment in the script's notation (relative numbers; TS val
/// shown as the script would write it once the offset is known).
pub fn outbound_text(o: &Outbound, n: &Numbering) -> String {
    let rel_local = |v: u32| v.wrapping_sub(n.local_isn.unwrap_or(o.seq.wrapping_sub(0)));
    let rel_remote = |v: u32| v.wrapping_sub(n.remote_isn);
    let start = rel_local(o.seq);
    let mut s = format!("{} {}:{}({})", flags_text(o.flags), start, start.wrapping_add(o.len), o.len);
    if o.flags.ack() {
        let _ = write!(s, " ack {}", rel_remote(o.ack));
    }
    let _ = write!(s, " win {}", o.win);
    if o.flags.urg() {
        let _ = write!(s, " urg {}", o.urg);
    }
    if !o.options.is_empty() {
        let items: Vec<String> = o
            .options
            .iter()
            .map(|x| match x {
                WireOpt::Nop => "nop".into(),
                WireOpt::Eol => "eol".into(),
                WireOpt::Mss(m) => format!("mss {m}"),
                WireOpt::WScale(w) => format!("wscale {w}"),
                WireOpt::SackOk => "sackOK".into(),
                WireOpt::Sack(b) => format!(
                    "sack {}",
                    b.iter()
                        .map(|(l, r)| format!("{}:{}", rel_remote(*l), rel_remote(*r)))
                        .collect::<Vec<_>>()
                        .join(" ")
                ),
                WireOpt::Ts(v, e) => format!("TS val {} ecr {e}", v.wrapping_sub(n.ts_offset.unwrap_or(0))),
                WireOpt::Other(k) => format!("option {k}"),
            })
            .collect();
        let _ = write!(s, " <{}>", items.join(","));
    }
    if !o.checksum_ok {
        s.push_str(" (bad checksum)");
    }
    s
}

/// Checks an outbound segment against the script (DRILL.md, "Compared on
/// an outbound packet"), learning the stack's ISN and the timestamp offset.
/// TS vals after the first are compared only with `ts_tick` (the script's
/// `--tcp_ts_tick_usecs`), allowing drift of a tick per 4 ms of tolerance
/// in the stack's 1 ms ticks; ecr is never compared.
pub fn check_outbound(
    p: &PacketSpec,
    o: &Outbound,
    n: &mut Numbering,
    ts_tick: Option<core::time::Duration>,
) -> Result<(), String> {
    if !o.checksum_ok {
        return Err("bad TCP checksum".into());
    }
    if let Some(e) = p.ecn {
        let want = ecn_value(e);
        let ok = if e == Ecn::Either { o.ecn == 1 || o.ecn == 2 } else { o.ecn == want };
        if !ok {
            return Err(format!("ECN field {:02b} instead of {want:02b}", o.ecn));
        }
    }
    if o.flags != p.flags {
        return Err(format!("flags {} instead of {}", flags_text(o.flags), flags_text(p.flags)));
    }
    if o.flags.syn() {
        // Every SYN starts a sequence space: a new connection, a new ISN.
        n.local_isn = Some(o.seq.wrapping_sub(p.start));
    }
    // Before any SYN (a RST for a closed port), numbers are absolute.
    let isn = n.local_isn.unwrap_or(0);
    let start = o.seq.wrapping_sub(isn);
    if start != p.start || o.len != p.len {
        return Err(format!(
            "sequence {start}:{}({}) instead of {}:{}({})",
            start.wrapping_add(o.len),
            o.len,
            p.start,
            p.end,
            p.len
        ));
    }
    if let Some(a) = p.ack {
        let got = o.ack.wrapping_sub(n.remote_isn);
        if !o.flags.ack() || got != a {
            return Err(format!("ack {got} instead of {a}"));
        }
    }
    if let Some(w) = p.win {
        if o.win != w {
            return Err(format!("window {} instead of {w}", o.win));
        }
    }
    if let Some(u) = p.urg {
        if o.urg != u {
            return Err(format!("urgent pointer {} instead of {u}", o.urg));
        }
    }
    let list = match &p.options {
        OptionsSpec::Any => return Ok(()),
        OptionsSpec::None => &[][..],
        OptionsSpec::List(l) => &l[..],
    };
    let got: Vec<&WireOpt> = o.options.iter().collect();
    if got.len() != list.len() {
        return Err(format!("{} options instead of {}", got.len(), list.len()));
    }
    for (want, have) in list.iter().zip(got) {
        let ok = match (want, have) {
            (OptSpec::Nop, WireOpt::Nop) | (OptSpec::Eol, WireOpt::Eol) | (OptSpec::SackOk, WireOpt::SackOk) => true,
            (OptSpec::Mss(a), WireOpt::Mss(b)) => a == b,
            (OptSpec::WScale(a), WireOpt::WScale(b)) => a == b,
            (OptSpec::Sack(a), WireOpt::Sack(b)) => {
                a.len() == b.len()
                    && a.iter().zip(b).all(|(&(l, r), &(x, y))| {
                        x.wrapping_sub(n.remote_isn) == l && y.wrapping_sub(n.remote_isn) == r
                    })
            }
            (OptSpec::Ts(val, _ecr), WireOpt::Ts(v, _)) => match n.ts_offset {
                None => {
                    n.ts_offset = Some(v.wrapping_sub(*val));
                    n.ts_first = Some((*v, *val));
                    true
                }
                Some(_) => match (ts_tick, n.ts_first) {
                    (Some(tick), Some((v0, val0))) => {
                        // The stack ticks every millisecond; the script in `tick`s.
                        let ours = f64::from(v.wrapping_sub(v0) as i32);
                        let theirs = f64::from(val.wrapping_sub(val0) as i32) * tick.as_secs_f64() * 1000.0;
                        (ours - theirs).abs() <= 2.0 + theirs.abs() * 0.125
                    }
                    _ => true,
                },
            },
            _ => false,
        };
        if !ok {
            return Err("options differ".into());
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn options_listed_in_wire_order() {
        let mut h = vec![0u8; 20];
        h[12] = 10 << 4;
        h.extend_from_slice(&[2, 4, 5, 0xb4, 4, 2, 8, 10, 0, 0, 0, 1, 0, 0, 0, 0, 1, 3, 3, 8]);
        assert_eq!(
            wire_options(&h),
            vec![WireOpt::Mss(1460), WireOpt::SackOk, WireOpt::Ts(1, 0), WireOpt::Nop, WireOpt::WScale(8)]
        );
    }
}
