//! SYN cookies (RFC 4987 §3.6): a listener whose SYN queue is full (or that
//! is told to always) answers SYNs without keeping state, and makes the
//! connection when the ACK returns a valid cookie.

mod support;

use core::time::Duration;
use support::*;
use synack_core::{Config, State, SynCookies};
use synack_wire::{TcpFlags, TcpOptions};

const ACK: TcpFlags = TcpFlags::ACK;
const SYN: TcpFlags = TcpFlags::SYN;

fn always() -> Config {
    Config { syn_cookies: SynCookies::Always, ..Config::default() }
}

/// B listening with `cfg`; its output is held for inspection.
fn listening(cfg: Config) -> Raw {
    let mut p = Pair::with_configs(Config::default(), cfg);
    p.hold_b = true;
    p.listen();
    Raw { p, side: Side::B, peer_isn: PEER_ISN, iss: 0, h: None }
}

fn options(mss: u16, wscale: Option<u8>, sack: bool, ts: Option<(u32, u32)>) -> TcpOptions {
    let mut o = TcpOptions::default();
    o.mss = Some(mss);
    o.window_scale = wscale;
    o.sack_permitted = sack;
    o.timestamps = ts;
    o
}

/// The peer's SYN; returns B's SYN-ACK.
fn syn(r: &mut Raw, opts: TcpOptions) -> Seg {
    r.p.deliver(Side::B, &craft_with(Side::A, PEER_ISN, 0, SYN, 65535, opts, &[]));
    let mut out = r.take();
    assert_eq!(out.len(), 1, "{out:?}");
    let synack = out.remove(0);
    assert_eq!(synack.flags, SYN | ACK);
    assert_eq!(synack.ack, PEER_ISN + 1);
    r.iss = synack.seq;
    synack
}

/// The peer's ACK of the SYN-ACK (echoing its timestamp), with `payload`.
fn ack(r: &mut Raw, synack: &Seg, payload: &[u8]) {
    let mut opts = TcpOptions::default();
    if let Some((val, _)) = synack.options.timestamps {
        opts.timestamps = Some((5001, val));
    }
    let pkt = craft_with(Side::A, PEER_ISN + 1, r.iss.wrapping_add(1), ACK, 1000, opts, payload);
    r.p.deliver(Side::B, &pkt);
}

#[test]
fn syns_beyond_the_backlog_get_cookies_and_every_connection_completes() {
    let mut p = Pair::new();
    let l = p.b.listen(B_ADDR, 2).unwrap();
    let now = p.now;
    let clients: Vec<_> =
        (0..10).map(|i| p.a.connect(now, core::net::SocketAddr::new(A_IP, 41000 + i), B_ADDR).unwrap()).collect();
    let mut servers = Vec::new();
    let end = p.now + Duration::from_secs(2);
    while p.step(end) {
        while let Ok(h) = p.b.accept(l) {
            servers.push(h);
        }
    }
    assert_eq!(servers.len(), 10);
    let stats = p.b.stats();
    assert!(stats.syn_cookies_sent >= 8, "{stats:?}");
    assert_eq!(stats.syn_cookies_accepted, stats.syn_cookies_sent);
    assert_eq!(stats.syns_dropped, 0);
    for (i, &c) in clients.iter().enumerate() {
        assert_eq!(p.a.state(c).unwrap(), State::Established);
        let now = p.now;
        p.a.send(now, c, format!("client {i}").as_bytes()).unwrap();
    }
    p.run_for(Duration::from_millis(500));
    let mut got: Vec<String> = servers.iter().map(|&s| String::from_utf8(p.read_all(Side::B, s)).unwrap()).collect();
    got.sort();
    let mut want: Vec<String> = (0..10).map(|i| format!("client {i}")).collect();
    want.sort();
    assert_eq!(got, want);
}

#[test]
fn with_cookies_off_syns_beyond_the_backlog_are_dropped() {
    let mut p = Pair::with_configs(Config::default(), Config { syn_cookies: SynCookies::Off, ..Config::default() });
    p.hold_b = true;
    p.b.listen(B_ADDR, 4).unwrap();
    for port in 0..10u16 {
        let from = core::net::SocketAddr::new(A_IP, 20000 + port);
        p.deliver(Side::B, &craft_between(from, B_ADDR, 7, 0, SYN, &[]));
    }
    p.flush();
    assert_eq!(p.held.len(), 4);
    assert_eq!(p.b.stats().syns_dropped, 6);
    assert_eq!(p.b.stats().syn_cookies_sent, 0);
}

#[test]
fn a_cookie_syn_keeps_no_state_and_its_ack_makes_the_connection() {
    let mut r = listening(always());
    let synack = syn(&mut r, options(1460, Some(7), true, Some((5000, 0))));
    assert_eq!(r.p.b.connection_count(), 0, "no state for a half-open connection");
    assert_eq!(r.p.b.stats().syn_cookies_sent, 1);
    ack(&mut r, &synack, b"");
    let h = r.p.b.accept(r.p.listener.unwrap()).expect("accepted");
    r.h = Some(h);
    assert_eq!(r.state(), State::Established);
    assert_eq!(r.p.b.stats().syn_cookies_accepted, 1);
}

#[test]
fn with_timestamps_the_cookie_keeps_window_scale_sack_and_mss() {
    let mut r = listening(always());
    let synack = syn(&mut r, options(1400, Some(2), true, Some((5000, 0))));
    let o = synack.options;
    assert_eq!((o.mss, o.window_scale, o.sack_permitted), (Some(1460), Some(8), true));
    assert_eq!(o.timestamps.map(|t| t.1), Some(5000));
    ack(&mut r, &synack, b"");
    r.h = Some(r.p.b.accept(r.p.listener.unwrap()).unwrap());
    let info = r.p.b.info(r.h.unwrap()).unwrap();
    assert_eq!((info.snd_wscale, info.rcv_wscale, info.sack, info.timestamps), (2, 8, true, true));
    // 1400 rounds down to 1300 in the cookie's table (Linux's); less 12 for timestamps.
    assert_eq!(info.snd_mss, 1288);
    // The ACK's window field of 1000 is scaled by 2^2.
    assert_eq!(info.snd_wnd, 4000);
}

#[test]
fn without_timestamps_the_cookie_offers_neither_scaling_nor_sack() {
    let mut r = listening(always());
    let synack = syn(&mut r, options(1460, Some(7), true, None));
    let o = synack.options;
    assert_eq!((o.mss, o.window_scale, o.sack_permitted, o.timestamps), (Some(1460), None, false, None));
    ack(&mut r, &synack, b"");
    r.h = Some(r.p.b.accept(r.p.listener.unwrap()).unwrap());
    let info = r.p.b.info(r.h.unwrap()).unwrap();
    assert_eq!((info.snd_wscale, info.rcv_wscale, info.sack, info.timestamps), (0, 0, false, false));
    // Half the peer's 1000-byte window, as Linux bounds it (tcp_bound_to_half_wnd).
    assert_eq!(info.snd_mss, 500);
    r.send(&[7u8; 3000]);
    let out = r.take();
    assert_eq!(out.iter().map(|s| s.len).sum::<usize>(), 1000, "the unscaled window of 1000 bytes");
}

#[test]
fn data_on_the_ack_that_returns_the_cookie_is_delivered() {
    let mut r = listening(always());
    let synack = syn(&mut r, options(1460, Some(7), true, Some((5000, 0))));
    ack(&mut r, &synack, b"GET / HTTP/1.1\r\n");
    r.h = Some(r.p.b.accept(r.p.listener.unwrap()).unwrap());
    assert_eq!(r.read(), b"GET / HTTP/1.1\r\n");
    r.run_for(Duration::from_millis(300));
    let out = r.take();
    assert!(out.iter().any(|s| s.flags == ACK && s.ack == PEER_ISN + 1 + 16), "{out:?}");
}

#[test]
fn an_ack_without_a_valid_cookie_gets_a_reset() {
    let mut r = listening(always());
    let synack = syn(&mut r, options(1460, None, false, None));
    r.iss = synack.seq.wrapping_add(12345);
    ack(&mut r, &synack, b"");
    let out = r.take();
    assert_eq!(out.len(), 1);
    assert_eq!(out[0].flags, TcpFlags::RST);
    assert_eq!(r.p.b.connection_count(), 0);
    assert_eq!(r.p.b.stats().syn_cookies_invalid, 1);
    assert!(r.p.b.accept(r.p.listener.unwrap()).is_err());
}

#[test]
fn a_cookie_expires_after_about_two_minutes() {
    let mut r = listening(always());
    let synack = syn(&mut r, options(1460, None, false, None));
    r.run_for(Duration::from_secs(200));
    ack(&mut r, &synack, b"");
    let out = r.take();
    assert_eq!(out.len(), 1);
    assert_eq!(out[0].flags, TcpFlags::RST);
    assert!(r.p.b.accept(r.p.listener.unwrap()).is_err());
}

#[test]
fn an_ack_at_a_listener_that_sent_no_cookies_gets_a_reset_unchecked() {
    let mut r = listening(Config::default());
    r.inject(PEER_ISN + 1, 777, ACK, &[]);
    let out = r.take();
    assert_eq!(out.len(), 1);
    assert_eq!(out[0].flags, TcpFlags::RST);
    assert_eq!(r.p.b.stats().syn_cookies_invalid, 0, "not even checked");
}

#[test]
fn data_that_overtakes_the_cookie_is_dropped_not_reset() {
    let mut r = listening(always());
    let synack = syn(&mut r, options(1460, None, false, None));
    let cookie_ack = r.iss.wrapping_add(1);
    // The second segment arrives first: it cannot prove the cookie.
    r.p.deliver(
        Side::B,
        &craft_with(Side::A, PEER_ISN + 101, cookie_ack, ACK, 65535, TcpOptions::default(), &[2; 100]),
    );
    assert!(r.take().is_empty(), "no reset for what may be our connection");
    // The first one does, and makes the connection; the second is resent.
    ack(&mut r, &synack, &[1; 100]);
    r.h = Some(r.p.b.accept(r.p.listener.unwrap()).unwrap());
    r.p.deliver(
        Side::B,
        &craft_with(Side::A, PEER_ISN + 101, cookie_ack, ACK, 65535, TcpOptions::default(), &[2; 100]),
    );
    let mut want = vec![1u8; 100];
    want.extend([2u8; 100]);
    assert_eq!(r.read(), want);
}

#[test]
fn with_timestamps_a_segment_echoing_a_recent_tsval_is_dropped_and_others_reset() {
    let mut r = listening(always());
    let synack = syn(&mut r, options(1460, Some(7), true, Some((5000, 0))));
    let (our_val, _) = synack.options.timestamps.unwrap();
    let wrong_ack = r.iss.wrapping_add(999);
    let mut opts = TcpOptions::default();
    // A duplicate ACK from a peer whose cookie connection we have not made yet.
    opts.timestamps = Some((5001, our_val));
    r.p.deliver(Side::B, &craft_with(Side::A, PEER_ISN + 50, wrong_ack, ACK, 1000, opts, &[]));
    assert!(r.take().is_empty());
    // An echo of nothing we sent lately: not ours, reset.
    opts.timestamps = Some((5001, our_val.wrapping_sub(10_000_000)));
    r.p.deliver(Side::B, &craft_with(Side::A, PEER_ISN + 50, wrong_ack, ACK, 1000, opts, &[]));
    let out = r.take();
    assert_eq!(out.len(), 1);
    assert_eq!(out[0].flags, TcpFlags::RST);
}
