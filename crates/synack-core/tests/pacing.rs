//! Pacing (Config::pacing, Linux's rates): a window leaves spread over
//! the RTT at 200 % of cwnd/SRTT in slow start, not as one burst.

mod support;

use core::time::Duration;
use support::*;
use synack_core::Config;

/// When each data segment A sent left, relative to the write, over 20 ms RTT.
fn departures(cfg: Config) -> Vec<Duration> {
    departures_and_rate(cfg).0
}

/// [`departures`], and the pacing rate tcp_info showed at the write.
fn departures_and_rate(cfg: Config) -> (Vec<Duration>, Option<u64>) {
    let mut p = Pair::with_configs(cfg, Config::default());
    p.delay = Duration::from_millis(10);
    let l = p.listen();
    let c = p.connect();
    p.run_for(Duration::from_millis(100));
    p.b.accept(l).expect("accepted");
    let from = p.log.len();
    let start = p.now;
    let rate = p.a.info(c).unwrap().pacing_rate;
    p.a.send(start, c, &vec![1u8; 10 * 1448]).unwrap();
    p.run_for(Duration::from_millis(15));
    (p.sent_by(Side::A, from).iter().filter(|s| s.len > 0).map(|s| s.at - start).collect(), rate)
}

#[test]
fn tcp_info_shows_linuxs_pacing_rate() {
    // Linux's tcp_update_pacing_rate: 200 % x cwnd / SRTT in slow start.
    let (_, rate) = departures_and_rate(Config::default());
    let (cwnd, srtt) = (10.0 * 1448.0, 0.020);
    let expect = 2.0 * cwnd / srtt;
    let rate = rate.expect("an RTT was measured in the handshake") as f64;
    assert!((rate - expect).abs() / expect < 0.02, "{rate} bytes/s, expected {expect}");
}

#[test]
fn the_initial_window_is_spread_at_twice_cwnd_over_srtt() {
    let paced = departures(Config::default());
    assert_eq!(paced.len(), 10);
    // 10 segments at 200 % of 10 segments per 20 ms: one per millisecond,
    // after the first ones the 2 ms of slack lets out at once.
    let spread = *paced.last().unwrap() - paced[0];
    assert!(spread >= Duration::from_millis(6) && spread <= Duration::from_millis(10), "{paced:?}");
    for w in paced.windows(2).skip(3) {
        let gap = w[1] - w[0];
        assert!(gap >= Duration::from_micros(900) && gap <= Duration::from_micros(1100), "{paced:?}");
    }
}

#[test]
fn without_pacing_the_window_is_one_burst() {
    let burst = departures(Config { pacing: false, ..Config::default() });
    assert_eq!(burst.len(), 10);
    assert!(burst.iter().all(|&t| t == Duration::ZERO), "{burst:?}");
}
