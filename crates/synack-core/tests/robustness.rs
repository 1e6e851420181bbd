//! No input panics the endpoint: arbitrary bytes, and valid segments with
//! random fields and bit flips, thrown at listeners and live connections.

mod support;

use core::time::Duration;
use proptest::prelude::*;
use support::*;
use synack_wire::{TcpFlags, TcpOptions};

/// A pair with an established connection and a listener, ready to be abused.
fn victim() -> Pair {
    let (mut p, c, _s) = Pair::established();
    let now = p.now;
    p.a.send(now, c, &[1u8; 5000]).unwrap();
    p.flush();
    p
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(512))]

    #[test]
    fn arbitrary_bytes_never_panic(packets in prop::collection::vec(prop::collection::vec(any::<u8>(), 0..200), 1..20)) {
        let mut p = victim();
        for pkt in &packets {
            p.deliver(Side::B, pkt);
            p.deliver(Side::A, pkt);
        }
        p.run_for(Duration::from_secs(5));
    }

    #[test]
    fn valid_segments_with_random_fields_never_panic(
        segs in prop::collection::vec((any::<u32>(), any::<u32>(), any::<u8>(), any::<u16>(), prop::collection::vec(any::<u8>(), 0..64), any::<bool>(), any::<(u32, u32)>(), any::<u8>()), 1..30),
        flip in any::<Option<(u16, u8)>>(),
    ) {
        let mut p = victim();
        for (seq, ack, flags, window, payload, with_opts, ts, ws) in segs {
            let mut o = TcpOptions::default();
            if with_opts {
                o.mss = Some(window);
                o.window_scale = Some(ws);
                o.sack_permitted = true;
                o.timestamps = Some(ts);
            }
            for from in [Side::A, Side::B] {
                let mut pkt = craft_with(from, seq, ack, TcpFlags(flags), window, o, &payload);
                if let Some((at, bit)) = flip {
                    let i = usize::from(at) % pkt.len();
                    pkt[i] ^= 1 << (bit % 8);
                }
                let to = if from == Side::A { Side::B } else { Side::A };
                p.deliver(to, &pkt);
            }
        }
        p.run_for(Duration::from_secs(130));
    }
}
