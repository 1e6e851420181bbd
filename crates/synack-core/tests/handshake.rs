//! Opening connections: RFC 9293 §3.5 and the OPEN / SEGMENT ARRIVES rows
//! of §3.10 for CLOSED, LISTEN, SYN-SENT and SYN-RECEIVED.

mod support;

use core::time::Duration;
use support::*;
use synack_core::{Event, State};
use synack_wire::TcpFlags;

#[test]
fn three_way_handshake_establishes_both_ends() {
    let (p, _c, _s) = Pair::established();
    let segs: Vec<_> = p.log.iter().map(|s| (s.from, s.flags)).collect();
    assert_eq!(
        segs[..3],
        [(Side::A, TcpFlags::SYN), (Side::B, TcpFlags::SYN | TcpFlags::ACK), (Side::A, TcpFlags::ACK)]
    );
    assert!(p.events_a.iter().any(|e| matches!(e, Event::Connected(_))));
    assert!(p.events_b.iter().any(|e| matches!(e, Event::Incoming(_))));
}

#[test]
fn data_flows_both_ways_and_closes() {
    let (mut p, c, s) = Pair::established();
    let now = p.now;
    assert_eq!(p.a.send(now, c, b"hello").unwrap(), 5);
    assert_eq!(p.b.send(now, s, b"world!").unwrap(), 6);
    p.run_for(Duration::from_millis(100));
    assert_eq!(p.read_all(Side::B, s), b"hello");
    assert_eq!(p.read_all(Side::A, c), b"world!");
    let now = p.now;
    p.a.shutdown(now, c).unwrap();
    p.run_for(Duration::from_millis(100));
    assert_eq!(p.a.state(c).unwrap(), State::FinWait2);
    assert_eq!(p.b.state(s).unwrap(), State::CloseWait);
    let now = p.now;
    p.b.shutdown(now, s).unwrap();
    p.run_for(Duration::from_millis(100));
    assert_eq!(p.a.state(c).unwrap(), State::TimeWait);
    assert_eq!(p.b.state(s).unwrap(), State::Closed);
    p.run_for(Duration::from_secs(61));
    assert_eq!(p.a.state(c).unwrap(), State::Closed);
}
