//! Tail Loss Probe (RFC 8985 §7): a lost tail is probed after two RTTs
//! rather than after the RTO, and a probe that repaired a loss brings a
//! congestion response; with TLP off (Linux's tcp_early_retrans=0) or
//! without SACK, the RTO alone acts.

mod support;

use core::time::Duration;
use support::*;
use synack_core::{Config, CongestionControl};
use synack_wire::{SackBlock, TcpFlags, TcpOptions};

const MSS: u32 = 1460;

/// B sends 10 segments; the peer acknowledges all but the last two, 50 ms later.
fn tail_lost(cfg: Config) -> Raw {
    // No pacing: the ten segments leave at once, before the ACK.
    let mut r = Raw::passive_sack(Config { pacing: false, ..cfg });
    r.send(&vec![1u8; 10 * MSS as usize]);
    assert_eq!(r.take().iter().map(|s| s.len).sum::<usize>(), 10 * MSS as usize);
    r.run_for(Duration::from_millis(50));
    let ack = r.our_next().wrapping_add(8 * MSS);
    r.inject(r.peer_next(), ack, TcpFlags::ACK, &[]);
    assert!(r.take().is_empty());
    r
}

/// When data goes again, measured from the partial ACK, and from which segment.
fn resent_after(r: &mut Raw) -> (Duration, u32) {
    let start = r.now();
    for _ in 0..2000 {
        r.run_for(Duration::from_millis(1));
        if let Some(s) = r.take().into_iter().find(|s| s.len > 0) {
            return (s.at - start, s.seq.wrapping_sub(r.our_next()) / MSS);
        }
    }
    panic!("never resent");
}

#[test]
fn a_lost_tail_is_probed_before_the_rto_and_the_repair_reduces_cwnd() {
    // NewReno: the response halves (CUBIC would keep 70 %).
    let mut r = tail_lost(Config { congestion_control: CongestionControl::NewReno, ..Config::default() });
    let info = r.p.b.info(r.h.unwrap()).unwrap();
    let (srtt, rto) = (info.srtt.unwrap(), info.rto);
    let (probe, segment) = resent_after(&mut r);
    assert_eq!(segment, 9, "the probe is the last segment");
    // Two segments out: PTO = 2 SRTT (and a 2 ms margin), before the RTO.
    let pto = 2 * srtt + Duration::from_millis(2);
    assert!(probe <= pto + Duration::from_millis(1), "probe after {probe:?}, PTO {pto:?}, RTO {rto:?}");
    assert!(probe < rto, "before the RTO ({rto:?})");
    let cwnd = r.p.b.info(r.h.unwrap()).unwrap().cwnd;
    // More data follows; an ACK beyond the probe with no duplicate reported:
    // the probe repaired a loss (as Linux decides it, on an ACK past it).
    r.send(&vec![2u8; MSS as usize]);
    r.take();
    r.inject(r.peer_next(), r.our_next().wrapping_add(11 * MSS), TcpFlags::ACK, &[]);
    let info = r.p.b.info(r.h.unwrap()).unwrap();
    assert_eq!(info.ssthresh, cwnd / 2, "a congestion response (RFC 8985 §7.4.2)");
}

#[test]
fn a_probe_the_peer_reports_as_a_duplicate_costs_nothing() {
    let mut r = tail_lost(Config::default());
    assert_eq!(resent_after(&mut r).1, 9);
    let cwnd = r.p.b.info(r.h.unwrap()).unwrap().cwnd;
    let end = r.our_next().wrapping_add(10 * MSS);
    let mut o = TcpOptions::default();
    o.set_sack_blocks(&[SackBlock { left: end.wrapping_sub(MSS), right: end }]);
    r.p.deliver(Side::B, &craft_with(Side::A, r.peer_next(), end, TcpFlags::ACK, 65535, o, &[]));
    let info = r.p.b.info(r.h.unwrap()).unwrap();
    assert!(info.cwnd >= cwnd, "no reduction after a D-SACK: {} < {cwnd}", info.cwnd);
    assert!(info.ssthresh > 10 * MSS, "ssthresh untouched: {}", info.ssthresh);
}

#[test]
fn with_tlp_off_the_rto_alone_resends_the_tail() {
    let mut r = tail_lost(Config { tail_loss_probe: false, ..Config::default() });
    let rto = r.p.b.info(r.h.unwrap()).unwrap().rto;
    let (at, segment) = resent_after(&mut r);
    assert!(at + Duration::from_millis(1) >= rto, "resent after {at:?}, before the RTO {rto:?}");
    assert_eq!(segment, 8, "the RTO goes back to SND.UNA");
}

#[test]
fn new_data_written_steadily_does_not_put_off_the_timeout() {
    // Nothing is acknowledged while the application writes a segment every
    // 100 ms: each new transmission re-arms the probe, but the probe (or the
    // RTO) still comes within an RTO of the first segment's sending (Linux's
    // tcp_schedule_loss_probe caps the PTO at tcp_rto_delta_us).
    let mut r = Raw::passive_sack(Config { pacing: false, ..Config::default() });
    let rto = r.p.b.info(r.h.unwrap()).unwrap().rto;
    let start = r.now();
    let mut highest = 0u32;
    let mut resent = None;
    for _ in 0..20 {
        r.send(&vec![3u8; MSS as usize]);
        for _ in 0..100 {
            r.run_for(Duration::from_millis(1));
            for s in r.take().into_iter().filter(|s| s.len > 0) {
                let end = s.seq.wrapping_sub(r.our_next()) + s.len as u32;
                if end <= highest && resent.is_none() {
                    resent = Some(s.at - start);
                }
                highest = highest.max(end);
            }
        }
    }
    let resent = resent.expect("something is resent while the writes go on");
    assert!(resent <= rto + Duration::from_millis(5), "resent after {resent:?}, RTO {rto:?}");
}
