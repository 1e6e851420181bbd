//! RACK (RFC 8985 §6): losses found by time. A retransmission that is lost
//! again is found when data sent after it is delivered (RFC 6675 alone
//! waits for the RTO), and what RACK marks lost shows in tcp_info.

mod support;

use core::time::Duration;
use support::*;
use synack_core::Config;
use synack_wire::{SackBlock, TcpFlags, TcpOptions};

const MSS: u32 = 1460;

/// The peer SACKs `[base + from * MSS, base + to * MSS)`, acknowledging `base`.
fn sack(r: &mut Raw, base: u32, from: u32, to: u32) {
    let mut o = TcpOptions::default();
    o.set_sack_blocks(&[SackBlock { left: base.wrapping_add(from * MSS), right: base.wrapping_add(to * MSS) }]);
    let pkt = craft_with(Side::A, r.peer_next(), base, TcpFlags::ACK, 65535, o, &[]);
    r.p.deliver(Side::B, &pkt);
}

/// Segment 0 is lost, resent, and lost again; the peer SACKs everything
/// else, including what was sent after the retransmission. Returns when
/// segment 0 went out each time after the first, and the connection.
fn lost_twice(cfg: Config) -> (Vec<Duration>, Raw) {
    let mut r = Raw::passive_sack(Config { initial_cwnd_segments: 20, ..cfg });
    r.send(&vec![5u8; 40 * MSS as usize]);
    let base = r.our_next();
    let start = r.now();
    let mut resent = Vec::new();
    let note = |r: &mut Raw, resent: &mut Vec<Duration>| {
        for s in r.take() {
            if s.len > 0 && s.seq == base {
                resent.push(s.at - start);
            }
        }
    };
    note(&mut r, &mut resent);
    resent.clear();
    // 50 ms later, SACKs for segments 1..5 arrive one by one: segment 0 is
    // lost (RFC 6675's DupThresh and RACK agree) and resent.
    r.run_for(Duration::from_millis(50));
    for k in 2..=5 {
        sack(&mut r, base, 1, k);
        note(&mut r, &mut resent);
    }
    assert_eq!(resent.len(), 1, "the fast retransmission");
    // PRR sends new data as more SACKs arrive, after the retransmission.
    for k in 6..=20 {
        sack(&mut r, base, 1, k);
        note(&mut r, &mut resent);
    }
    // One RTT later, everything but segment 0 is SACKed: what was sent after
    // the retransmission has arrived, the retransmission has not.
    r.run_for(Duration::from_millis(50));
    for k in 21..=24 {
        sack(&mut r, base, 1, k);
        note(&mut r, &mut resent);
    }
    r.run_for(Duration::from_millis(5));
    note(&mut r, &mut resent);
    (resent, r)
}

#[test]
fn a_lost_retransmission_is_found_without_a_timeout() {
    let (resent, r) = lost_twice(Config::default());
    let info = r.p.b.info(r.h.unwrap()).unwrap();
    assert_eq!(resent.len(), 2, "resent twice: {resent:?}");
    assert!(resent[1] < Duration::from_millis(110), "found one RTT after the retransmission: {resent:?}");
    assert_eq!(info.timeouts, 0, "no retransmission timeout");
    assert!(info.in_recovery, "still the same recovery");
}

#[test]
fn without_rack_a_lost_retransmission_waits_for_the_timeout() {
    let (resent, _) = lost_twice(Config { rack: false, ..Config::default() });
    assert_eq!(resent.len(), 1, "RFC 6675 does not resend what it resent: {resent:?}");
}

#[test]
fn what_rack_deems_lost_shows_in_tcp_info() {
    let mut r = Raw::passive_sack(Config { initial_cwnd_segments: 10, tail_loss_probe: false, ..Config::default() });
    r.send(&vec![5u8; 10 * MSS as usize]);
    let base = r.our_next();
    r.take();
    r.run_for(Duration::from_millis(50));
    // Segments 0 and 1 missing, 2..10 SACKed: both lost, one resent at once.
    sack(&mut r, base, 2, 10);
    let info = r.p.b.info(r.h.unwrap()).unwrap();
    assert_eq!(info.sacked, 8 * MSS);
    // As Linux's lost_out: a lost segment resent stays lost until delivered.
    assert_eq!(info.lost, 2 * MSS, "lost {} retrans {}", info.lost, info.retrans);
    assert!(info.retrans >= MSS, "the fast retransmission is out");
    assert_eq!(info.reord_seen, 0);
}

#[test]
fn an_original_delivered_late_is_reordering() {
    let mut r = Raw::passive_sack(Config { initial_cwnd_segments: 10, ..Config::default() });
    r.send(&vec![5u8; 10 * MSS as usize]);
    let base = r.our_next();
    r.take();
    r.run_for(Duration::from_millis(50));
    // Segment 0 arrives after segment 1, too soon for RACK to deem it lost.
    sack(&mut r, base, 1, 2);
    r.inject(r.peer_next(), base.wrapping_add(2 * MSS), TcpFlags::ACK, &[]);
    let info = r.p.b.info(r.h.unwrap()).unwrap();
    assert_eq!(info.reord_seen, 1);
    assert_eq!(info.total_retrans, 0, "nothing resent");
}
