//! Per-socket options (SocketOptions): a connection opened, or accepted,
//! with its socket's options behaves by them and not by the endpoint's
//! configuration, and a live connection takes changes.

mod support;

use core::time::Duration;
use support::*;
use synack_core::{Config, Error, Event, SocketOptions, SynCookies};
use synack_wire::{IpPacket, TcpFlags};

fn ttl(seg: &Seg) -> u8 {
    IpPacket::parse(&seg.bytes).unwrap().hop_limit()
}

#[test]
fn a_connect_uses_its_sockets_buffers_and_hop_limit() {
    let mut p = Pair::new();
    p.listen();
    let mut opts = p.a.socket_options();
    opts.recv_buffer = 60_000;
    opts.hop_limit = 7;
    let now = p.now;
    let c = p.a.connect_with(now, A_ADDR, B_ADDR, &opts).unwrap();
    p.flush();
    let syn = p.sent_by(Side::A, 0).remove(0);
    assert_eq!(ttl(&syn), 7);
    // A 60,000-byte buffer needs no window scaling: shift 0 (the endpoint's 8 MB would be 8).
    assert_eq!(syn.options.window_scale, Some(0));
    p.run_for(Duration::from_millis(100));
    let l = p.listener.unwrap();
    let s = p.b.accept(l).unwrap();
    // The server's default socket: TTL 64.
    let synack = p.sent_by(Side::B, 0).remove(0);
    assert_eq!((ttl(&synack), synack.options.window_scale), (64, Some(8)));
    // Data from B is acknowledged by A within a window of at most 60,000 bytes.
    let now = p.now;
    p.b.send(now, s, &vec![7u8; 200_000]).unwrap();
    p.run_for(Duration::from_millis(5));
    let acks = p.sent_by(Side::A, 0);
    assert!(acks.iter().all(|a| ttl(a) == 7));
    assert!(
        acks.iter().all(|a| u32::from(a.window) <= 60_000),
        "{:?}",
        acks.iter().map(|a| a.window).collect::<Vec<_>>()
    );
    let _ = c;
}

#[test]
fn accepted_connections_inherit_the_listeners_options() {
    let mut p = Pair::new();
    let mut opts = p.b.socket_options();
    opts.hop_limit = 33;
    opts.send_buffer = 3000;
    opts.nodelay = true;
    let l = p.b.listen_with(B_ADDR, 16, &opts).unwrap();
    assert_eq!(p.b.listener_options(l).unwrap(), &opts);
    p.listener = Some(l);
    p.connect();
    p.run_for(Duration::from_millis(100));
    let s = p.b.accept(l).unwrap();
    assert!(p.sent_by(Side::B, 0).iter().all(|seg| ttl(seg) == 33));
    // The send buffer takes 3,000 bytes, not the endpoint's 4 MB.
    let now = p.now;
    assert_eq!(p.b.send(now, s, &[1u8; 10_000]), Ok(3000));
}

#[test]
fn a_cookie_syn_ack_carries_the_listeners_options() {
    let b = Config { syn_cookies: SynCookies::Always, ..Config::default() };
    let mut p = Pair::with_configs(Config::default(), b);
    let mut opts = p.b.socket_options();
    opts.hop_limit = 21;
    opts.recv_buffer = 1 << 16;
    let l = p.b.listen_with(B_ADDR, 16, &opts).unwrap();
    p.listener = Some(l);
    let c = p.connect();
    p.run_for(Duration::from_millis(100));
    let synack = p.sent_by(Side::B, 0).remove(0);
    assert_eq!((ttl(&synack), synack.options.window_scale), (21, Some(1)));
    let s = p.b.accept(l).expect("the cookie made the connection");
    let now = p.now;
    p.a.send(now, c, b"hi").unwrap();
    p.run_for(Duration::from_millis(100));
    assert_eq!(p.read_all(Side::B, s), b"hi");
    assert!(p.sent_by(Side::B, 0).iter().all(|seg| ttl(seg) == 21));
}

#[test]
fn a_live_connection_takes_new_buffer_sizes() {
    let (mut p, c, _s) = Pair::established();
    let now = p.now;
    let mut opts = p.a.socket_options();
    opts.send_buffer = 1000;
    p.a.set_options(now, c, &opts).unwrap();
    p.hold_a = true;
    assert_eq!(p.a.send(now, c, &[0u8; 5000]), Ok(1000));
    assert_eq!(p.a.send(now, c, &[0u8; 5000]), Err(Error::WouldBlock));
    p.flush();
    p.events_a.clear();
    opts.send_buffer = 4000;
    p.a.set_options(now, c, &opts).unwrap();
    p.flush();
    assert!(p.events_a.contains(&Event::Writable(c)), "room again is announced: {:?}", p.events_a);
    assert_eq!(p.a.send(now, c, &[0u8; 5000]), Ok(3000));
}

#[test]
fn linger_zero_makes_close_a_reset_and_bad_options_are_refused() {
    let (mut p, c, _s) = Pair::established();
    let now = p.now;
    let mut opts = p.a.socket_options();
    opts.hop_limit = 0;
    assert_eq!(p.a.set_options(now, c, &opts), Err(Error::InvalidArgument));
    assert_eq!(p.a.connect_with(now, A_ADDR, B_ADDR, &opts), Err(Error::InvalidArgument));
    let opts = SocketOptions { linger: Some(Duration::ZERO), ..p.a.socket_options() };
    let from = p.log.len();
    p.a.close_with(now, c, &opts).unwrap();
    p.flush();
    let out = p.sent_by(Side::A, from);
    assert!(out.iter().any(|s| s.flags.rst()), "RST, not FIN: {:?}", out.iter().map(|s| s.flags).collect::<Vec<_>>());
    assert!(out.iter().all(|s| !s.flags.contains(TcpFlags::FIN)));
}

#[test]
fn setting_the_receive_buffer_stops_autotuning() {
    // A 20 ms path, 4 MB from B to A; A reads as data arrives.
    let mut p = Pair::new();
    p.delay = Duration::from_millis(10);
    p.listen();
    let c = p.connect();
    p.run_for(Duration::from_millis(100));
    let s = p.b.accept(p.listener.unwrap()).unwrap();
    let initial = Config::default().recv_buffer_initial;
    assert_eq!(p.a.info(c).unwrap().recv_buffer, initial, "autotuning starts small");
    let transfer = |p: &mut Pair| {
        for _ in 0..40 {
            let now = p.now;
            p.b.send(now, s, &vec![7u8; 100_000]).unwrap();
            p.run_for(Duration::from_millis(20));
            p.read_all(Side::A, c);
        }
    };
    transfer(&mut p);
    let grown = p.a.info(c).unwrap().recv_buffer;
    assert!(grown > initial, "the buffer grew with the path: {grown}");
    // SO_RCVBUF: that size, fixed from now on (Linux's SOCK_RCVBUF_LOCK).
    let mut opts = p.a.socket_options();
    opts.recv_buffer = 100_000;
    opts.recv_autotune = false;
    let now = p.now;
    p.a.set_options(now, c, &opts).unwrap();
    transfer(&mut p);
    assert_eq!(p.a.info(c).unwrap().recv_buffer, 100_000);
}

fn tos(seg: &Seg) -> u8 {
    IpPacket::parse(&seg.bytes).unwrap().tos()
}

#[test]
fn ip_tos_marks_a_listeners_connections_with_its_dscp_and_never_the_ecn_bits() {
    for cookies in [SynCookies::Off, SynCookies::Always] {
        let b = Config { syn_cookies: cookies, ..Config::default() };
        let mut p = Pair::with_configs(Config::default(), b);
        let mut opts = p.b.socket_options();
        // DSCP EF (46) with an ECN codepoint the socket may not set.
        opts.tos = 0xb9;
        let l = p.b.listen_with(B_ADDR, 16, &opts).unwrap();
        p.listener = Some(l);
        p.connect();
        p.run_for(Duration::from_millis(100));
        let s = p.b.accept(l).unwrap();
        let now = p.now;
        p.b.send(now, s, &[1u8; 3000]).unwrap();
        p.run_for(Duration::from_millis(100));
        let from_b = p.sent_by(Side::B, 0);
        assert!(from_b.len() >= 3, "{cookies:?}: SYN-ACK and data");
        assert!(
            from_b.iter().all(|seg| tos(seg) == 0xb8),
            "{cookies:?}: {:?}",
            from_b.iter().map(tos).collect::<Vec<_>>()
        );
        // The peer's socket was not marked.
        assert!(p.sent_by(Side::A, 0).iter().all(|seg| tos(seg) == 0));
        // Changed on the live connection: later datagrams carry the new DSCP (AF11).
        let mut live = opts.clone();
        live.tos = 0x28;
        let now = p.now;
        p.b.set_options(now, s, &live).unwrap();
        let before = p.log.len();
        p.b.send(now, s, &[2u8; 100]).unwrap();
        p.run_for(Duration::from_millis(100));
        let later = p.sent_by(Side::B, before);
        assert!(!later.is_empty() && later.iter().all(|seg| tos(seg) == 0x28));
    }
}
