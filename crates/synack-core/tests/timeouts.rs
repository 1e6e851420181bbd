//! RFC 9293 §3.10.8 timeouts (user timeout, retransmission, TIME-WAIT) and
//! the other timers: SYN and SYN-ACK retransmission with backoff, persist,
//! delayed ACK, keepalive, and an orphan's FIN-WAIT-2.

mod support;

use core::time::Duration;
use support::*;
use synack_core::{CloseReason, Config, Error, Event, Instant, State};
use synack_wire::TcpFlags;

const ACK: TcpFlags = TcpFlags::ACK;

fn gaps(times: &[Instant]) -> Vec<u64> {
    times.windows(2).map(|w| (w[1] - w[0]).as_millis() as u64).collect()
}

#[test]
fn syn_is_retransmitted_with_exponential_backoff_then_times_out() {
    let mut r = Raw::syn_sent();
    r.run_for(Duration::from_secs(200));
    let syns: Vec<Instant> = r.p.log.iter().filter(|s| s.flags == TcpFlags::SYN).map(|s| s.at).collect();
    assert_eq!(syns.len(), 6, "first SYN and syn_retries = 5 retransmissions");
    assert_eq!(gaps(&syns), [1000, 2000, 4000, 8000, 16000]);
    assert_eq!(r.state(), State::Closed);
    let h = r.h.unwrap();
    assert!(r.events().contains(&Event::Closed(h, CloseReason::Error(Error::TimedOut))));
}

/// Counts the retransmissions a tracer is told of.
struct CountRetransmissions(std::sync::Arc<std::sync::atomic::AtomicU32>);

impl synack_core::Tracer for CountRetransmissions {
    fn retransmission(&mut self, _: Instant, _: synack_core::FourTuple, timeout: bool) {
        assert!(timeout, "a SYN is only resent on a timeout");
        self.0.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
    }
}

#[test]
fn syn_and_syn_ack_retransmissions_reach_the_tracer() {
    for mut r in [Raw::syn_sent(), Raw::syn_received()] {
        let n = std::sync::Arc::new(std::sync::atomic::AtomicU32::new(0));
        let side = r.side;
        r.p.ep(side).set_tracer(Box::new(CountRetransmissions(n.clone())));
        r.run_for(Duration::from_secs(200));
        assert_eq!(n.load(std::sync::atomic::Ordering::Relaxed), 5, "syn_retries = synack_retries = 5");
    }
}

#[test]
fn syn_ack_is_retransmitted_then_the_half_open_connection_is_dropped() {
    let mut r = Raw::syn_received();
    r.run_for(Duration::from_secs(200));
    let synacks: Vec<Instant> = r.p.log.iter().filter(|s| s.flags == TcpFlags::SYN | ACK).map(|s| s.at).collect();
    assert_eq!(synacks.len(), 6);
    assert_eq!(gaps(&synacks), [1000, 2000, 4000, 8000, 16000]);
    assert_eq!(r.p.b.connection_count(), 0);
}

#[test]
fn retransmission_timeout_resends_from_snd_una_with_backoff() {
    let mut r = Raw::passive();
    r.send(b"lost");
    let first = r.take()[0].clone();
    r.run_for(Duration::from_secs(4));
    let again: Vec<_> = r.take().into_iter().filter(|s| s.len == 4).collect();
    assert!(again.len() >= 2);
    assert!(again.iter().all(|s| s.seq == first.seq));
    // No RTT sample yet (the handshake had no timestamps and the SYN-ACK's
    // Karn sample is the only one): RTO starts at 1 s, then doubles.
    let times: Vec<Instant> = std::iter::once(first.at).chain(again.iter().map(|s| s.at)).collect();
    let g = gaps(&times);
    assert!(g[1] >= 2 * g[0] - 1, "backoff: {g:?}");
    assert_eq!(r.p.b.info(r.h.unwrap()).unwrap().timeouts as usize, again.len());
}

#[test]
fn retransmissions_exhausted_close_with_timed_out() {
    let cfg = Config { retries2: 3, ..Config::default() };
    let mut r = Raw::passive_with(cfg);
    r.send(b"never acked");
    r.run_for(Duration::from_secs(300));
    assert_eq!(r.state(), State::Closed);
    assert_eq!(r.p.b.close_reason(r.h.unwrap()).unwrap(), Some(CloseReason::Error(Error::TimedOut)));
}

#[test]
fn user_timeout_closes_when_data_stays_unacknowledged() {
    let mut r = Raw::passive();
    let (now, h) = (r.now(), r.h.unwrap());
    r.ep().set_user_timeout(now, h, Some(Duration::from_secs(5))).unwrap();
    r.send(b"hello?");
    r.run_for(Duration::from_millis(4900));
    assert_eq!(r.state(), State::Established);
    r.run_for(Duration::from_millis(200));
    assert_eq!(r.state(), State::Closed);
    assert_eq!(r.p.b.close_reason(h).unwrap(), Some(CloseReason::Error(Error::TimedOut)));
}

#[test]
fn time_wait_lasts_the_configured_two_msl() {
    let cfg = Config { time_wait: Duration::from_secs(10), ..Config::default() };
    let (mut p, c, s) = Pair::established_with(cfg, Config::default());
    let now = p.now;
    p.a.shutdown(now, c).unwrap();
    p.run_for(Duration::from_millis(100));
    let now = p.now;
    p.b.shutdown(now, s).unwrap();
    p.run_for(Duration::from_millis(100));
    assert_eq!(p.a.state(c).unwrap(), State::TimeWait);
    p.run_for(Duration::from_millis(9700));
    assert_eq!(p.a.state(c).unwrap(), State::TimeWait);
    p.run_for(Duration::from_millis(300));
    assert_eq!(p.a.state(c).unwrap(), State::Closed);
    assert!(p.events_a.contains(&Event::Closed(c, CloseReason::Graceful)));
}

#[test]
fn zero_window_is_probed_by_the_persist_timer() {
    let mut r = Raw::passive();
    // The peer closes its window.
    r.inject_win(PEER_ISN + 1, r.our_next(), ACK, 0, &[]);
    r.send(b"waiting");
    assert!(r.take().is_empty(), "nothing is sent into a zero window");
    r.run_for(Duration::from_secs(4));
    let probes = r.take();
    assert!(!probes.is_empty());
    assert!(probes.iter().all(|s| s.len == 1 && s.seq == r.our_next()), "{probes:?}");
    // The window opens: the data follows.
    r.inject_win(PEER_ISN + 1, r.our_next() + 1, ACK, 65535, &[]);
    let out = r.take();
    assert_eq!(out.iter().map(|s| s.len).sum::<usize>(), 6);
    assert_eq!(r.state(), State::Established, "probes never time the connection out while answered");
}

#[test]
fn persist_survives_a_long_zero_window_that_is_answered() {
    let mut r = Raw::passive();
    r.inject_win(PEER_ISN + 1, r.our_next(), ACK, 0, &[]);
    r.send(b"x");
    for _ in 0..40 {
        r.run_for(Duration::from_secs(30));
        for probe in r.take() {
            // The peer answers each probe with a zero window.
            let _ = probe;
            r.inject_win(PEER_ISN + 1, r.our_next(), ACK, 0, &[]);
        }
    }
    assert_eq!(r.state(), State::Established);
}

#[test]
fn delayed_ack_waits_at_most_the_configured_delay() {
    let mut r = Raw::passive_interactive();
    r.inject(r.peer_next(), r.our_next(), ACK, b"one");
    assert!(r.take().is_empty(), "one small segment: the ACK is delayed");
    r.run_for(Duration::from_millis(39));
    assert!(r.take().is_empty());
    r.run_for(Duration::from_millis(2));
    let out = r.take();
    assert_eq!(out.len(), 1);
    assert_eq!(out[0].ack, r.peer_next() + 3);
}

#[test]
fn the_first_data_of_a_connection_is_acked_at_once() {
    // Linux's quick-ACK mode: the peer's slow start is not held back by the delay.
    let mut r = Raw::passive();
    for i in 0..3u32 {
        r.inject(r.peer_next() + i, r.our_next(), ACK, b"x");
        assert_eq!(r.take().len(), 1, "segment {i} is ACKed at once");
    }
}

#[test]
fn every_second_full_sized_segment_is_acked_at_once() {
    let mut r = Raw::passive_interactive();
    let mss = 1460;
    r.inject(r.peer_next(), r.our_next(), ACK, &vec![1u8; mss]);
    assert!(r.take().is_empty());
    r.inject(r.peer_next() + mss as u32, r.our_next(), ACK, &vec![2u8; mss]);
    let out = r.take();
    assert_eq!(out.len(), 1);
    assert_eq!(out[0].ack, r.peer_next() + 2 * mss as u32);
}

#[test]
fn keepalive_probes_an_idle_connection_and_times_out_without_answers() {
    let cfg = Config {
        keepalive: true,
        keepalive_idle: Duration::from_secs(10),
        keepalive_interval: Duration::from_secs(2),
        keepalive_count: 3,
        ..Config::default()
    };
    let mut r = Raw::passive_with(cfg);
    let (now, h) = (r.now(), r.h.unwrap());
    r.ep().set_keepalive(now, h, true).unwrap();
    r.run_for(Duration::from_millis(10_100));
    let probe = r.take();
    assert_eq!(probe.len(), 1);
    assert_eq!((probe[0].seq, probe[0].len), (r.iss, 0), "SEG.SEQ = SND.NXT - 1");
    // Answered: the connection lives on.
    r.inject(PEER_ISN + 1, r.iss + 1, ACK, &[]);
    r.run_for(Duration::from_secs(9));
    assert!(r.take().is_empty());
    assert_eq!(r.state(), State::Established);
    // Unanswered: three more probes, then the connection is reset (as Linux).
    r.run_for(Duration::from_secs(30));
    let out = r.take();
    assert_eq!(out.len(), 4);
    assert!(out[..3].iter().all(|s| !s.flags.rst()));
    assert!(out[3].flags.rst(), "the RST of a connection given up on");
    assert_eq!(r.state(), State::Closed);
    assert_eq!(r.p.b.close_reason(h).unwrap(), Some(CloseReason::Error(Error::TimedOut)));
}

#[test]
fn keepalive_is_off_by_default() {
    let mut r = Raw::passive();
    r.run_for(Duration::from_secs(3 * 3600));
    assert!(r.take().is_empty());
    assert_eq!(r.state(), State::Established);
}

#[test]
fn orphaned_fin_wait_2_is_dropped_after_fin_timeout() {
    let mut r = Raw::passive();
    let (now, h) = (r.now(), r.h.unwrap());
    r.ep().close(now, h).unwrap();
    let fin = r.take();
    assert!(fin[0].flags.fin());
    r.inject(PEER_ISN + 1, r.our_next() + 1, ACK, &[]);
    assert_eq!(r.p.b.connection_count(), 1);
    r.run_for(Duration::from_secs(61));
    assert_eq!(r.p.b.connection_count(), 0);
}
