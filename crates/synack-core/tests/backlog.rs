//! The listen backlog as Linux sizes it: capped at `max_backlog`, a SYN
//! queue of `backlog` half-open connections and an accept queue of one
//! more than `backlog`; a handshake that would overflow the accept queue is
//! dropped and counted, and completes once the user accepts.

mod support;

use core::net::SocketAddr;
use core::time::Duration;
use support::*;
use synack_core::{Config, ConnHandle, State, SynCookies};

fn client(p: &mut Pair, port: u16) -> ConnHandle {
    let now = p.now;
    let h = p.a.connect(now, SocketAddr::new(A_IP, port), B_ADDR).unwrap();
    p.flush();
    h
}

#[test]
fn an_ack_into_a_full_accept_queue_is_dropped_and_the_handshake_completes_later() {
    let off = Config { syn_cookies: SynCookies::Off, ..Config::default() };
    let mut p = Pair::with_configs(Config::default(), off);
    let l = p.b.listen(B_ADDR, 2).unwrap();
    let c1 = client(&mut p, 41001);
    let c2 = client(&mut p, 41002);
    p.run_for(Duration::from_millis(100));
    // Two handshakes in SYN-RECEIVED at once, while two wait for accept.
    let c3 = client(&mut p, 41003);
    let c4 = client(&mut p, 41004);
    p.run_for(Duration::from_millis(100));
    let stats = p.b.stats();
    assert_eq!(stats.listen_overflows, 1, "c4's ACK found three waiting: {stats:?}");
    assert_eq!(p.b.pending_accepts(l).unwrap(), 3);
    // A fifth SYN finds the accept queue full: dropped too.
    let c5 = client(&mut p, 41005);
    p.run_for(Duration::from_millis(100));
    assert_eq!(p.b.stats().listen_overflows, 2);
    assert_eq!(p.a.state(c5).unwrap(), State::SynSent);
    // The user accepts: room again. The SYN-ACK sent again (and the
    // client's SYN sent again) complete the last two handshakes.
    let mut accepted = Vec::new();
    let end = p.now + Duration::from_secs(4);
    while p.step(end) {
        while let Ok(h) = p.b.accept(l) {
            accepted.push(h);
        }
    }
    assert_eq!(accepted.len(), 5);
    for c in [c1, c2, c3, c4, c5] {
        assert_eq!(p.a.state(c).unwrap(), State::Established);
    }
    assert_eq!(p.b.stats().syn_cookies_sent, 0);
}

#[test]
fn the_backlog_is_capped_at_max_backlog() {
    let b = Config { syn_cookies: SynCookies::Off, max_backlog: 3, ..Config::default() };
    let mut p = Pair::with_configs(Config::default(), b);
    p.hold_b = true;
    p.b.listen(B_ADDR, 1000).unwrap();
    for port in 0..10u16 {
        let from = SocketAddr::new(A_IP, 20000 + port);
        p.deliver(Side::B, &craft_between(from, B_ADDR, 7, 0, synack_wire::TcpFlags::SYN, &[]));
    }
    assert_eq!(p.held.len(), 3, "a SYN queue of min(1000, 3)");
    assert_eq!(p.b.stats().syns_dropped, 7);
}
