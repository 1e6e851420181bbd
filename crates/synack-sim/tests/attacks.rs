//! Attacks, with assertions (SECURITY.md): a SYN flood through which
//! legitimate clients still connect and move data, with the server's memory
//! bounded; blind injection of spoofed RSTs, SYNs and data into a transfer
//! that still completes intact. In simulated time, from fixed seeds. Live
//! memory is counted by a global allocator in this test binary.

use core::net::{IpAddr, Ipv4Addr, SocketAddr};
use core::time::Duration;
use std::alloc::{GlobalAlloc, Layout, System};
use std::sync::atomic::{AtomicIsize, Ordering};
use synack_core::{Config, ConnHandle, Error, Instant, State};
use synack_sim::transfer::{Transfer, TransferSpec};
use synack_sim::{LinkConfig, Network};
use synack_wire::{IpRepr, TcpFlags, TcpOptions, TcpRepr, PROTO_TCP};

/// The system allocator, counting bytes live.
struct Counting;

static LIVE: AtomicIsize = AtomicIsize::new(0);

// SAFETY: every call is forwarded to the system allocator unchanged; only a
// counter is kept beside it.
unsafe impl GlobalAlloc for Counting {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        LIVE.fetch_add(layout.size() as isize, Ordering::Relaxed);
        // SAFETY: forwarded with the caller's layout.
        unsafe { System.alloc(layout) }
    }

    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        LIVE.fetch_sub(layout.size() as isize, Ordering::Relaxed);
        // SAFETY: `ptr` came from `alloc` with this layout.
        unsafe { System.dealloc(ptr, layout) }
    }
}

#[global_allocator]
static ALLOC: Counting = Counting;

const CLIENT: IpAddr = IpAddr::V4(Ipv4Addr::new(10, 0, 0, 1));
const SERVER: IpAddr = IpAddr::V4(Ipv4Addr::new(10, 0, 0, 2));

/// An IPv4 TCP segment from `src` to `dst`.
fn segment(src: SocketAddr, dst: SocketAddr, seq: u32, ack: u32, flags: TcpFlags, payload: &[u8]) -> Vec<u8> {
    let mut options = TcpOptions::default();
    if flags.syn() {
        options.mss = Some(1460);
        options.window_scale = Some(7);
        options.sack_permitted = true;
        options.timestamps = Some((seq, 0));
    }
    let tcp =
        TcpRepr { src_port: src.port(), dst_port: dst.port(), seq, ack, flags, window: 65535, urgent: 0, options };
    let ip = IpRepr {
        src: src.ip(),
        dst: dst.ip(),
        protocol: PROTO_TCP,
        payload_len: tcp.header_len() + payload.len(),
        hop_limit: 64,
        tos: 0,
    };
    let mut buf = vec![0u8; 20 + ip.payload_len];
    let hl = ip.emit(&mut buf).unwrap();
    tcp.emit(&mut buf[hl..], payload, src.ip(), dst.ip()).unwrap();
    buf
}

/// What a legitimate client connection has done.
struct Legit {
    handle: ConnHandle,
    sent: bool,
}

#[test]
fn legitimate_clients_get_through_a_flood_of_a_million_spoofed_syns() {
    let mut rng = fastrand::Rng::with_seed(7);
    let mut net = Network::new(7);
    let client = net.add_host(CLIENT, Config::default()).expect("valid config");
    let server = net.add_host(SERVER, Config::default()).expect("valid config");
    net.set_default_link(LinkConfig { delay: Duration::from_millis(5), ..LinkConfig::default() });
    let addr = SocketAddr::new(SERVER, 80);
    let listener = net.endpoint(server).listen(addr, 4096).unwrap();
    let live_before = LIVE.load(Ordering::Relaxed);
    let mut peak = 0isize;
    let mut legit: Vec<Legit> = Vec::new();
    let mut accepted: Vec<(ConnHandle, usize)> = Vec::new();
    let start = net.now();
    let mut buf = vec![0u8; 4096];
    // One second of flood at a million SYNs a second (a thousand per
    // millisecond), one legitimate connect per millisecond, then five
    // seconds for the stragglers.
    for ms in 0..6_000u64 {
        let t = start + Duration::from_millis(ms);
        while net.step(t) {}
        net.advance_to(t);
        if ms < 1_000 {
            for i in 0..1_000 {
                let spoofed = SocketAddr::new(IpAddr::V4(Ipv4Addr::from(rng.u32(..) | 0x0100_0000)), rng.u16(1024..));
                let syn = segment(spoofed, addr, rng.u32(..), 0, TcpFlags::SYN, &[]);
                net.inject(server, &syn);
                // As a driver does: output after each batch of input.
                if i % 64 == 63 {
                    net.flush();
                }
            }
            let now = net.now();
            let h = net.endpoint(client).connect(now, SocketAddr::new(CLIENT, 0), addr).unwrap();
            legit.push(Legit { handle: h, sent: false });
        }
        let now = net.now();
        for l in legit.iter_mut().filter(|l| !l.sent) {
            if net.endpoint(client).state(l.handle) == Ok(State::Established) {
                net.endpoint(client).send(now, l.handle, &[0x42; 100]).unwrap();
                net.endpoint(client).shutdown(now, l.handle).unwrap();
                l.sent = true;
            }
        }
        while let Ok(h) = net.endpoint(server).accept(listener) {
            accepted.push((h, 0));
        }
        for (h, got) in accepted.iter_mut() {
            loop {
                match net.endpoint(server).recv(now, *h, &mut buf) {
                    Ok(0) | Err(Error::WouldBlock) => break,
                    Ok(n) => *got += n,
                    Err(_) => break,
                }
            }
        }
        if ms % 100 == 0 {
            peak = peak.max(LIVE.load(Ordering::Relaxed) - live_before);
        }
    }
    let moved = accepted.iter().filter(|(_, got)| *got == 100).count();
    let stats = net.endpoint(server).stats();
    println!(
        "{moved} of 1000 legitimate connections moved their data; {} SYN cookies sent, {} accepted; peak {} MiB",
        stats.syn_cookies_sent,
        stats.syn_cookies_accepted,
        peak >> 20
    );
    assert!(moved >= 990, "at least 99 % of legitimate clients connected and moved data: {moved}");
    assert!(stats.syn_cookies_sent >= 900_000, "the flood was answered statelessly: {}", stats.syn_cookies_sent);
    assert!(peak < 64 << 20, "the server's memory stays bounded under the flood: {peak} bytes");
}

#[test]
fn a_transfer_survives_a_hundred_thousand_blind_injections() {
    let mut rng = fastrand::Rng::with_seed(11);
    let mut net = Network::new(11);
    let client = net.add_host(CLIENT, Config::default()).expect("valid config");
    let server = net.add_host(SERVER, Config::default()).expect("valid config");
    net.set_default_link(LinkConfig { delay: Duration::from_millis(10), ..LinkConfig::default() });
    let spec = TransferSpec { client_bytes: 10 << 20, server_bytes: 0, seed: 11, ..TransferSpec::default() };
    let mut t = Transfer::start(&mut net, client, server, &spec).unwrap();
    let limit = net.now() + Duration::from_secs(600);
    let mut injected = 0u32;
    let mut tuples = None;
    t.poll(&mut net);
    while !t.is_done() && net.now() < limit {
        let step_to = net.now() + Duration::from_millis(1);
        while net.step(step_to) {
            t.poll(&mut net);
        }
        net.advance_to(step_to);
        t.poll(&mut net);
        if tuples.is_none() {
            if let (Some(c), Some(s)) = t.handles() {
                tuples = Some((net.endpoint(client).tuple(c).unwrap(), net.endpoint(server).tuple(s).unwrap()));
            }
        }
        let Some((ct, st)) = tuples else { continue };
        // Five hundred spoofed segments per millisecond, to either end, on the
        // connection's own 4-tuple, with random sequence and ACK numbers.
        for _ in 0..500 {
            if injected >= 100_000 {
                break;
            }
            injected += 1;
            let (to, tuple) = if rng.bool() { (client, ct) } else { (server, st) };
            let flags = match rng.u8(0..3) {
                0 => TcpFlags::RST,
                1 => TcpFlags::SYN,
                _ => TcpFlags::ACK | TcpFlags::PSH,
            };
            let payload = if flags.contains(TcpFlags::PSH) { vec![0xEE; rng.usize(1..1400)] } else { vec![] };
            let pkt = segment(tuple.remote, tuple.local, rng.u32(..), rng.u32(..), flags, &payload);
            net.inject(to, &pkt);
        }
    }
    let duration = net.now().saturating_since(Instant::ZERO).as_secs() + 1;
    let out = t.outcome(net.now());
    assert_eq!(injected, 100_000, "the transfer outlasted the injections");
    assert!(out.is_clean(), "intact and closed cleanly despite the injections: {out:?}");
    let (ci, si) = (out.client_info.unwrap(), out.server_info.unwrap());
    assert_eq!(ci.resets_in + si.resets_in, 0, "no spoofed RST was accepted");
    let challenges = ci.challenge_acks + si.challenge_acks;
    let limited = ci.acks_rate_limited + si.acks_rate_limited;
    println!("{challenges} challenge ACKs, {limited} ACKs held back by the per-connection limit, over {duration} s");
    assert!(challenges <= 2 * 2 * duration, "at most one challenge ACK per connection per 500 ms: {challenges}");
    assert!(limited > 10_000, "the limit did hold answers back: {limited}");
}
