//! Fuzz bodies for synack (DESIGN.md, tests level 5). Each takes arbitrary
//! bytes and panics only when an invariant breaks: a parser that panics, an
//! emitted packet that does not parse, data delivered twice or out of order.
//! The cargo-fuzz targets in `fuzz/fuzz_targets/` are one line each over
//! these; `tests/corpus.rs` replays the checked-in corpora under `cargo test`.
#![forbid(unsafe_code)]
#![warn(missing_docs)]

mod endpoint;

pub use endpoint::endpoint;

use core::net::{IpAddr, Ipv6Addr};
use synack_wire::{IcmpMessage, IpPacket, QuotedTcp, TcpOptions, TcpPacket};

/// A fuzz body: arbitrary bytes in, a panic when an invariant breaks.
pub type Body = fn(&[u8]);

/// Every fuzz target, by the name of its directory under `fuzz/corpus/`.
pub const TARGETS: &[(&str, Body)] = &[
    ("wire", wire),
    ("tcp_options", tcp_options),
    ("icmp", icmp),
    ("drill_parse", drill_parse),
    ("endpoint", endpoint),
    ("scoreboard", synack_core::fuzzing::scoreboard),
    ("reassembly", synack_core::fuzzing::reassembly),
    ("sent_log", synack_core::fuzzing::sent_log),
];

/// IPv4 and IPv6 (extension headers walked), then TCP or ICMP inside: every
/// parser takes any bytes and returns a view or a typed error.
pub fn wire(data: &[u8]) {
    let Ok(ip) = IpPacket::parse(data) else { return };
    let (src, dst, payload) = (ip.src(), ip.dst(), ip.payload());
    let _ = (ip.protocol(), ip.is_fragment());
    match ip.protocol() {
        synack_wire::PROTO_TCP => {
            if let Ok(t) = TcpPacket::parse(payload) {
                let _ = t.verify_checksum(src, dst);
                let _ = (t.repr(), t.payload().len(), t.options().sack_blocks().len());
            }
        }
        synack_wire::PROTO_ICMP => icmp_v4(payload),
        synack_wire::PROTO_ICMPV6 => {
            if let (IpAddr::V6(s), IpAddr::V6(d)) = (src, dst) {
                icmp_v6(payload, s, d);
            }
        }
        _ => {}
    }
}

/// TCP options: parse, and what parses emits and parses back the same.
pub fn tcp_options(data: &[u8]) {
    let Ok(o) = TcpOptions::parse(data) else { return };
    let mut buf = [0u8; 64];
    if let Ok(n) = o.emit(&mut buf) {
        let again = TcpOptions::parse(&buf[..n]).expect("emitted options parse");
        assert_eq!(again, o, "options round-trip");
    }
}

/// ICMPv4 and ICMPv6 messages and the TCP header they quote (RFC 5927).
pub fn icmp(data: &[u8]) {
    icmp_v4(data);
    icmp_v6(data, Ipv6Addr::LOCALHOST, Ipv6Addr::UNSPECIFIED);
}

fn icmp_v4(data: &[u8]) {
    if let Ok(m) = IcmpMessage::parse_v4(data) {
        let _ = m.kind.is_error();
        let _ = QuotedTcp::parse(m.body);
    }
}

fn icmp_v6(data: &[u8], src: Ipv6Addr, dst: Ipv6Addr) {
    if let Ok(m) = IcmpMessage::parse_v6(data, src, dst) {
        let _ = QuotedTcp::parse(m.body);
    }
}

/// The drill parser: any text parses or fails with a line and column.
pub fn drill_parse(data: &[u8]) {
    let Ok(text) = core::str::from_utf8(data) else { return };
    if let Err(e) = synack_drill::parse::parse(text) {
        let _ = e.to_string();
    }
}
