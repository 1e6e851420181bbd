//! The sender's chronographs (tcpi_busy_time, tcpi_rwnd_limited,
//! tcpi_sndbuf_limited, as Linux's tcp_chrono): what a user reading
//! `ConnectionInfo::send_times` sees. The window-limited case runs on both
//! drill engines (`socket_options/tcp_info_busy_time.pkt`); a script cannot
//! show the send-buffer case, because Linux accepts a whole TSO-sized skb
//! past a small SO_SNDBUF (CONFORMANCE.md).

mod support;

use core::time::Duration;
use support::*;
use synack_core::{Config, SendLimit};
use synack_wire::TcpFlags;

const ACK: TcpFlags = TcpFlags::ACK;

fn times(r: &mut Raw) -> synack_core::SendTimes {
    let (now, h) = (r.now(), r.h.unwrap());
    r.ep().info(h).unwrap().send_times.at(now)
}

#[test]
fn a_writer_refused_buffer_space_counts_send_buffer_limited_time_until_room_returns() {
    // MSS 536 (no option), cwnd 10 segments: a 2,000-byte buffer is sent at
    // once and cwnd is not what limits the sender.
    let mut r = Raw::passive_with(Config { send_buffer: 2000, ..Config::default() });
    assert_eq!(times(&mut r), Default::default(), "nothing sent yet");
    assert_eq!(r.send(&[7u8; 5000]), 2000);
    let sent: usize = r.take().iter().map(|s| s.len).sum();
    assert_eq!(sent, 2000);
    r.run_for(Duration::from_millis(100));
    let t = times(&mut r);
    assert_eq!(
        (t.busy, t.sndbuf_limited, t.rwnd_limited),
        (Duration::from_millis(100), Duration::from_millis(100), Duration::ZERO)
    );
    assert_eq!(t.current, None, "at() folds the running period in");
    // Two segments acknowledged: 1,072 bytes free, at least half of the
    // 928 still queued, so the writer has room again; busy goes on.
    let una = r.our_next().wrapping_add(1072);
    r.inject(r.peer_next(), una, ACK, &[]);
    r.run_for(Duration::from_millis(50));
    let t = times(&mut r);
    assert_eq!((t.busy, t.sndbuf_limited), (Duration::from_millis(150), Duration::from_millis(100)));
    let h = r.h.unwrap();
    let running = r.ep().info(h).unwrap().send_times.current;
    assert_eq!(running.map(|(k, _)| k), Some(SendLimit::Busy));
    // Everything acknowledged, nothing to send: the clock stops.
    r.inject(r.peer_next(), r.our_next().wrapping_add(2000), ACK, &[]);
    r.run_for(Duration::from_millis(500));
    let t = times(&mut r);
    assert_eq!((t.busy, t.sndbuf_limited, t.current), (Duration::from_millis(150), Duration::from_millis(100), None));
}

#[test]
fn a_write_that_fits_is_busy_time_only() {
    let mut r = Raw::passive_with(Config { send_buffer: 2000, ..Config::default() });
    assert_eq!(r.send(&[7u8; 1500]), 1500);
    r.run_for(Duration::from_millis(40));
    r.inject(r.peer_next(), r.our_next().wrapping_add(1500), ACK, &[]);
    r.run_for(Duration::from_millis(100));
    let t = times(&mut r);
    assert_eq!((t.busy, t.sndbuf_limited, t.rwnd_limited), (Duration::from_millis(40), Duration::ZERO, Duration::ZERO));
}
