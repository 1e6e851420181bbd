//! Spurious retransmission timeouts (RFC 5682 F-RTO, RFC 3522 Eifel, the
//! RFC 4015 response): after a timeout the head goes again; when its ACK
//! comes, two new segments go instead of retransmissions, and the next ACK
//! shows whether the originals were only delayed (undo: the window comes
//! back, nothing more is resent) or lost (the go-back goes on).

mod support;

use core::time::Duration;
use support::*;
use synack_core::{Config, CongestionControl};
use synack_wire::{SackBlock, TcpFlags, TcpOptions};

const MSS: u32 = 1460;

fn config(frto: bool) -> Config {
    // NewReno, no pacing or TLP: the timeout alone acts, at exact windows.
    Config {
        frto,
        pacing: false,
        tail_loss_probe: false,
        congestion_control: CongestionControl::NewReno,
        ..Config::default()
    }
}

/// B has 20 segments queued; the first 10 (the initial window) are out and
/// nothing comes back until the timeout resends the first.
fn timed_out(cfg: Config, sack: bool) -> Raw {
    let mut r = Raw::passive_offering(cfg, sack, false);
    r.send(&vec![7u8; 20 * MSS as usize]);
    let out = r.take();
    assert_eq!(out.iter().map(|s| s.len).sum::<usize>(), 10 * MSS as usize, "{out:?}");
    for _ in 0..5000 {
        r.run_for(Duration::from_millis(1));
        let out = r.take();
        if !out.is_empty() {
            assert_eq!(out.len(), 1, "one segment after the timeout: {out:?}");
            assert_eq!((out[0].seq, out[0].len), (r.our_next(), MSS as usize), "the head goes again");
            return r;
        }
    }
    panic!("no timeout");
}

/// The segment offsets (in MSS from the first data byte) sent since the last call.
fn sent(r: &mut Raw) -> Vec<u32> {
    let base = r.our_next();
    r.take().iter().filter(|s| s.len > 0).map(|s| s.seq.wrapping_sub(base) / MSS).collect()
}

fn ack(r: &mut Raw, segments: u32) {
    r.inject(r.peer_next(), r.our_next().wrapping_add(segments * MSS), TcpFlags::ACK, &[]);
}

fn ack_sack(r: &mut Raw, segments: u32, sack: (u32, u32)) {
    let base = r.our_next();
    let mut o = TcpOptions::default();
    o.set_sack_blocks(&[SackBlock { left: base.wrapping_add(sack.0 * MSS), right: base.wrapping_add(sack.1 * MSS) }]);
    let pkt = craft_with(Side::A, r.peer_next(), base.wrapping_add(segments * MSS), TcpFlags::ACK, 65535, o, &[]);
    r.p.deliver(Side::B, &pkt);
}

#[test]
fn a_delay_spike_is_undone_after_two_new_segments() {
    for sack in [true, false] {
        let mut r = timed_out(config(true), sack);
        let prior = r.p.b.info(r.h.unwrap()).unwrap().ssthresh;
        // Step 2b: the retransmission is acknowledged: two new segments, not 1 and 2.
        ack(&mut r, 1);
        assert_eq!(sent(&mut r), [10, 11], "sack {sack}");
        // Step 3b: the original second segment arrives: the timeout was spurious.
        ack(&mut r, 2);
        let info = r.p.b.info(r.h.unwrap()).unwrap();
        assert_eq!(info.spurious_timeouts, 1, "sack {sack}");
        // The window from before the timeout, and one more for this ACK (as Linux).
        assert!(info.cwnd > 10 * MSS, "cwnd {} (sack {sack})", info.cwnd);
        assert!(info.ssthresh > prior, "ssthresh back to {} from {prior}", info.ssthresh);
        // New data after the undo, nothing resent (with one segment of
        // window open right after a transmission, TSO deferral may hold
        // segment 12 for the next ACK, as Linux's tcp_tso_should_defer).
        let mut news = sent(&mut r);
        for n in [3, 6, 10, 13] {
            ack(&mut r, n);
            news.extend(sent(&mut r));
        }
        assert!(news.iter().all(|&s| s >= 12), "no go-back after the undo: {news:?} (sack {sack})");
        assert_eq!(news.first(), Some(&12), "new data follows the undo (sack {sack})");
        assert_eq!(r.p.b.info(r.h.unwrap()).unwrap().total_retrans, 1, "sack {sack}");
    }
}

#[test]
fn a_real_loss_goes_back_after_the_new_segments() {
    // With SACK: the new segment is SACKed, the second original never arrives.
    let mut r = timed_out(config(true), true);
    ack(&mut r, 1);
    assert_eq!(sent(&mut r), [10, 11]);
    ack_sack(&mut r, 1, (10, 11));
    let info = r.p.b.info(r.h.unwrap()).unwrap();
    assert_eq!(info.spurious_timeouts, 0);
    assert!(info.cwnd <= 3 * MSS, "cwnd {}", info.cwnd);
    assert_eq!(sent(&mut r)[0], 1, "the conventional recovery resends from SND.UNA");
    // Without SACK: a duplicate ACK says the same.
    let mut r = timed_out(config(true), false);
    ack(&mut r, 1);
    assert_eq!(sent(&mut r), [10, 11]);
    ack(&mut r, 1);
    assert_eq!(r.p.b.info(r.h.unwrap()).unwrap().spurious_timeouts, 0);
    assert_eq!(sent(&mut r)[0], 1);
}

#[test]
fn with_frto_off_the_timeout_goes_back_at_once() {
    let mut r = timed_out(config(false), true);
    ack(&mut r, 1);
    assert_eq!(sent(&mut r), [1, 2], "slow start from SND.UNA");
    ack(&mut r, 2);
    assert_eq!(r.p.b.info(r.h.unwrap()).unwrap().spurious_timeouts, 0);
}

#[test]
fn without_new_data_the_timeout_takes_the_conventional_way() {
    let mut r = Raw::passive_sack(config(true));
    r.send(&vec![7u8; 10 * MSS as usize]);
    r.take();
    while r.p.b.info(r.h.unwrap()).unwrap().timeouts == 0 {
        r.run_for(Duration::from_millis(1));
    }
    assert_eq!(sent(&mut r), [0]);
    ack(&mut r, 1);
    assert_eq!(sent(&mut r), [1, 2], "nothing new to send: step 2b falls back");
}

#[test]
fn a_sack_of_an_original_below_the_recovery_point_is_spurious() {
    let mut r = timed_out(config(true), true);
    ack(&mut r, 1);
    assert_eq!(sent(&mut r), [10, 11]);
    // The third original arrives, the second is still on its way.
    ack_sack(&mut r, 1, (2, 3));
    assert_eq!(r.p.b.info(r.h.unwrap()).unwrap().spurious_timeouts, 1);
    assert!(sent(&mut r).iter().all(|&s| s >= 12), "no retransmission");
}

#[test]
fn with_timestamps_the_first_ack_shows_a_spurious_timeout() {
    // RFC 3522: the ACK echoes the original's TSval, older than the
    // retransmission's: undone at once, F-RTO or not.
    for frto in [true, false] {
        let mut r = Raw::passive_offering(config(frto), true, true);
        r.send(&vec![7u8; 20 * MSS as usize]);
        let first = r.take().remove(0);
        let original_ts = first.options.timestamps.expect("timestamps").0;
        // Timestamps take 12 bytes of each segment.
        let mss = first.len as u32;
        while r.take().is_empty() {
            r.run_for(Duration::from_millis(1));
        }
        let mut o = TcpOptions::default();
        o.timestamps = Some((2, original_ts));
        let pkt = craft_with(Side::A, r.peer_next(), r.our_next().wrapping_add(mss), TcpFlags::ACK, 65535, o, &[]);
        r.p.deliver(Side::B, &pkt);
        let info = r.p.b.info(r.h.unwrap()).unwrap();
        assert_eq!(info.spurious_timeouts, 1, "frto {frto}");
        assert!(info.cwnd >= 10 * mss, "cwnd {} (frto {frto})", info.cwnd);
        let base = r.our_next();
        let resent: Vec<u32> = r.take().iter().filter(|s| s.len > 0).map(|s| s.seq.wrapping_sub(base) / mss).collect();
        assert!(
            !resent.is_empty() && resent.iter().all(|&s| s >= 10),
            "new data, no go-back: {resent:?} (frto {frto})"
        );
    }
}

#[test]
fn a_timeout_in_fast_recovery_is_not_undone_by_the_fast_retransmissions_echo() {
    // RFC 3522 with Linux's retrans_stamp: the episode began with the fast
    // retransmission; an ACK echoing it shows the original lost, so the
    // timeout that followed is no reason to undo the recovery's reduction.
    let mut r = Raw::passive_offering(config(true), true, true);
    r.send(&vec![7u8; 20 * MSS as usize]);
    let out = r.take();
    let (original_ts, mss) = (out[0].options.timestamps.expect("timestamps").0, out[0].len as u32);
    let base = r.our_next();
    let inject = |r: &mut Raw, ack: u32, sack: Option<(u32, u32)>, ecr: u32| {
        let mut o = TcpOptions::default();
        o.timestamps = Some((2, ecr));
        if let Some((a, b)) = sack {
            o.set_sack_blocks(&[SackBlock { left: base.wrapping_add(a * mss), right: base.wrapping_add(b * mss) }]);
        }
        let pkt = craft_with(Side::A, r.peer_next(), base.wrapping_add(ack * mss), TcpFlags::ACK, 65535, o, &[]);
        r.p.deliver(Side::B, &pkt);
    };
    // Segments 1-3 arrive, 0 does not: fast recovery resends 0.
    for n in 2..=4 {
        inject(&mut r, 0, Some((1, n)), original_ts);
    }
    let fast = r.take().into_iter().find(|s| s.seq == base && s.len > 0).expect("the fast retransmission");
    let fast_ts = fast.options.timestamps.expect("timestamps").0;
    let before = r.p.b.info(r.h.unwrap()).unwrap();
    assert!(before.in_recovery);
    // Nothing more comes back until the timeout resends 0 again.
    while r.p.b.info(r.h.unwrap()).unwrap().timeouts == 0 {
        r.run_for(Duration::from_millis(1));
    }
    r.take();
    // The fast retransmission arrives: the ACK echoes its TSval.
    inject(&mut r, 4, None, fast_ts);
    let info = r.p.b.info(r.h.unwrap()).unwrap();
    assert_eq!(info.spurious_timeouts, 0, "the loss of the original was real");
    assert!(info.ssthresh <= before.ssthresh, "no undo: ssthresh {} (was {})", info.ssthresh, before.ssthresh);
}
