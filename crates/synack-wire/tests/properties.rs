//! Property tests: emit then parse gives the same value; arbitrary bytes never panic.

use proptest::prelude::*;
use std::net::IpAddr;
use synack_wire::{IcmpMessage, IpPacket, QuotedTcp, SackBlock, TcpFlags, TcpOptions, TcpPacket, TcpRepr};

fn options() -> impl Strategy<Value = TcpOptions> {
    (
        proptest::option::of(any::<u16>()),
        proptest::option::of(0u8..15),
        any::<bool>(),
        proptest::option::of(any::<(u32, u32)>()),
        proptest::collection::vec(any::<(u32, u32)>(), 0..=3),
    )
        .prop_map(|(mss, ws, sack_ok, ts, blocks)| {
            let mut o = TcpOptions::default();
            o.mss = mss;
            o.window_scale = ws;
            o.sack_permitted = sack_ok;
            o.timestamps = ts;
            let blocks: Vec<SackBlock> = blocks.into_iter().map(|(left, right)| SackBlock { left, right }).collect();
            o.set_sack_blocks(&blocks);
            if o.len() > 40 {
                o.set_sack_blocks(&blocks[..1.min(blocks.len())]);
            }
            o
        })
}

proptest! {
    #[test]
    fn tcp_emit_then_parse(src_port: u16, dst_port: u16, seq: u32, ack: u32, flags: u8, window: u16, urgent: u16,
                           opts in options(), payload in proptest::collection::vec(any::<u8>(), 0..200), v6: bool) {
        let repr = TcpRepr { src_port, dst_port, seq, ack, flags: TcpFlags(flags), window, urgent, options: opts };
        let (s, d): (IpAddr, IpAddr) = if v6 {
            ("fd00::1".parse().unwrap(), "fd00::2".parse().unwrap())
        } else {
            ([10, 1, 2, 3].into(), [10, 3, 2, 1].into())
        };
        let mut buf = vec![0u8; 60 + payload.len()];
        let n = repr.emit(&mut buf, &payload, s, d).unwrap();
        let p = TcpPacket::parse(&buf[..n]).unwrap();
        prop_assert!(p.verify_checksum(s, d));
        prop_assert_eq!(p.repr(), repr);
        prop_assert_eq!(p.payload(), &payload[..]);
    }

    #[test]
    fn arbitrary_bytes_never_panic(bytes in proptest::collection::vec(any::<u8>(), 0..128)) {
        if let Ok(p) = IpPacket::parse(&bytes) {
            let _ = TcpPacket::parse(p.payload()).map(|t| t.verify_checksum(p.src(), p.dst()));
        }
        let _ = TcpPacket::parse(&bytes).map(|t| (t.repr(), t.payload().len()));
        let _ = TcpOptions::parse(&bytes);
        let _ = IcmpMessage::parse_v4(&bytes);
        let _ = IcmpMessage::parse_v6(&bytes, "::1".parse().unwrap(), "::2".parse().unwrap());
        let _ = QuotedTcp::parse(&bytes);
    }

    #[test]
    fn ip_headers_with_random_tail_never_panic(v in 0u8..2, tail in proptest::collection::vec(any::<u8>(), 0..96)) {
        let mut bytes = if v == 0 { vec![0x45u8] } else { vec![0x60u8] };
        bytes.extend_from_slice(&tail);
        let _ = IpPacket::parse(&bytes).map(|p| (p.payload().len(), p.is_fragment(), p.protocol()));
    }
}
