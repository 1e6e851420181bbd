//! A two-endpoint harness for core tests: endpoints A (client, 10.0.0.1) and
//! B (server, 10.0.0.2:80) joined by a link with a fixed one-way delay, in
//! virtual time. Tests can hold a side's output to inspect, drop, or reorder
//! it, and inject hand-made segments.
#![allow(dead_code)]

use core::net::{IpAddr, Ipv4Addr, SocketAddr};
use core::time::Duration;
use synack_core::{Config, ConnHandle, Endpoint, Event, Instant, ListenerHandle, State};
use synack_wire::offload::Segmenter;
use synack_wire::{IpPacket, IpRepr, TcpFlags, TcpOptions, TcpPacket, TcpRepr, PROTO_TCP};

pub const A_IP: IpAddr = IpAddr::V4(Ipv4Addr::new(10, 0, 0, 1));
pub const B_IP: IpAddr = IpAddr::V4(Ipv4Addr::new(10, 0, 0, 2));
pub const B_ADDR: SocketAddr = SocketAddr::new(B_IP, 80);
pub const A_ADDR: SocketAddr = SocketAddr::new(A_IP, 40000);

/// Which endpoint.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Side {
    A,
    B,
}

/// A segment as seen on the wire, decoded.
#[derive(Debug, Clone)]
pub struct Seg {
    pub from: Side,
    pub at: Instant,
    pub seq: u32,
    pub ack: u32,
    pub flags: TcpFlags,
    pub window: u16,
    pub options: TcpOptions,
    pub len: usize,
    pub bytes: Vec<u8>,
}

impl Seg {
    pub fn decode(from: Side, at: Instant, bytes: &[u8]) -> Option<Seg> {
        let ip = IpPacket::parse(bytes).ok()?;
        let tcp = TcpPacket::parse(ip.payload()).ok()?;
        Some(Seg {
            from,
            at,
            seq: tcp.seq(),
            ack: tcp.ack(),
            flags: tcp.flags(),
            window: tcp.window(),
            options: *tcp.options(),
            len: tcp.payload().len(),
            bytes: bytes.to_vec(),
        })
    }
}

pub struct Pair {
    pub a: Endpoint,
    pub b: Endpoint,
    pub now: Instant,
    pub delay: Duration,
    /// Packets on the link: (arrival time, destination, bytes).
    link: Vec<(Instant, Side, Vec<u8>)>,
    /// Every segment either side sent, in order.
    pub log: Vec<Seg>,
    /// When set, that side's output is kept in `held` instead of sent.
    pub hold_a: bool,
    pub hold_b: bool,
    pub held: Vec<Seg>,
    pub events_a: Vec<Event>,
    pub events_b: Vec<Event>,
    pub listener: Option<ListenerHandle>,
    /// Output through `poll_transmit_offload` (as each side's `Config::offload`
    /// says); super-segments are cut at their segment size on the link, as a
    /// NIC would.
    pub offload: bool,
    /// Every datagram each side emitted: (side, length, segment size).
    pub transmits: Vec<(Side, usize, Option<u16>)>,
}

impl Pair {
    pub fn new() -> Self {
        Self::with_configs(Config::default(), Config::default())
    }

    pub fn with_configs(a: Config, b: Config) -> Self {
        Pair {
            a: Endpoint::new(a, 0xA).expect("valid config"),
            b: Endpoint::new(b, 0xB).expect("valid config"),
            now: Instant::from_micros(1_000_000),
            delay: Duration::from_millis(10),
            link: Vec::new(),
            log: Vec::new(),
            hold_a: false,
            hold_b: false,
            held: Vec::new(),
            events_a: Vec::new(),
            events_b: Vec::new(),
            listener: None,
            offload: false,
            transmits: Vec::new(),
        }
    }

    pub fn ep(&mut self, side: Side) -> &mut Endpoint {
        match side {
            Side::A => &mut self.a,
            Side::B => &mut self.b,
        }
    }

    /// Moves every packet each side wants to send onto the link (or into `held`).
    pub fn flush(&mut self) {
        let mut buf = vec![0u8; 65536];
        let mut piece = vec![0u8; 65536];
        for side in [Side::A, Side::B] {
            loop {
                let now = self.now;
                let t = if self.offload {
                    self.ep(side).poll_transmit_offload(now, &mut buf)
                } else {
                    self.ep(side).poll_transmit(now, &mut buf).map(|len| synack_core::Transmit {
                        len,
                        segment_size: None,
                        partial_checksum: false,
                    })
                };
                let Some(t) = t else { break };
                self.transmits.push((side, t.len, t.segment_size));
                let size = t.segment_size.map_or(65536, usize::from);
                let mut cut = Segmenter::new(&buf[..t.len], size).expect("we emit valid TCP");
                while let Some(n) = cut.next_into(&mut piece) {
                    self.carry(side, &piece[..n]);
                }
            }
        }
        while let Some(e) = self.a.poll_event() {
            self.events_a.push(e);
        }
        while let Some(e) = self.b.poll_event() {
            self.events_b.push(e);
        }
    }

    /// One datagram `side` sent goes onto the link (or into `held`).
    fn carry(&mut self, side: Side, bytes: &[u8]) {
        let now = self.now;
        let seg = Seg::decode(side, now, bytes).expect("we emit valid TCP");
        self.log.push(seg.clone());
        let hold = if side == Side::A { self.hold_a } else { self.hold_b };
        if hold {
            self.held.push(seg);
        } else {
            let to = if side == Side::A { Side::B } else { Side::A };
            self.link.push((now + self.delay, to, bytes.to_vec()));
        }
    }

    /// Hands bytes to a side now.
    pub fn deliver(&mut self, to: Side, bytes: &[u8]) {
        let now = self.now;
        self.ep(to).handle_packet(now, bytes);
        self.flush();
    }

    /// Advances to the next event (a packet arrival or a timer) no later than
    /// `limit`. Returns false when there is none.
    pub fn step(&mut self, limit: Instant) -> bool {
        self.flush();
        let next_pkt = self.link.iter().map(|p| p.0).min();
        let next = [next_pkt, self.a.poll_timeout(), self.b.poll_timeout()].into_iter().flatten().min();
        let Some(t) = next.filter(|&t| t <= limit) else { return false };
        self.now = self.now.max(t);
        if next_pkt == Some(t) {
            let i = self.link.iter().position(|p| p.0 == t).expect("present");
            let (_, to, bytes) = self.link.remove(i);
            self.deliver(to, &bytes);
        } else {
            let now = self.now;
            self.a.handle_timeout(now);
            self.b.handle_timeout(now);
            self.flush();
        }
        true
    }

    /// Runs for `d` of virtual time.
    pub fn run_for(&mut self, d: Duration) {
        let end = self.now + d;
        while self.step(end) {}
        self.now = end;
        self.flush();
    }

    /// Runs until the link is empty and no timer is due within `d`.
    pub fn settle(&mut self) {
        self.run_for(Duration::from_millis(500));
    }

    /// B listens on port 80.
    pub fn listen(&mut self) -> ListenerHandle {
        let l = self.b.listen(B_ADDR, 128).expect("listen");
        self.listener = Some(l);
        l
    }

    /// A connects to B; returns A's handle.
    pub fn connect(&mut self) -> ConnHandle {
        let now = self.now;
        let h = self.a.connect(now, A_ADDR, B_ADDR).expect("connect");
        self.flush();
        h
    }

    /// A full handshake: returns (client, server) handles, both ESTABLISHED.
    pub fn established() -> (Pair, ConnHandle, ConnHandle) {
        Self::established_with(Config::default(), Config::default())
    }

    pub fn established_with(a: Config, b: Config) -> (Pair, ConnHandle, ConnHandle) {
        let mut p = Pair::with_configs(a, b);
        let l = p.listen();
        let c = p.connect();
        p.run_for(Duration::from_millis(100));
        let s = p.b.accept(l).expect("accepted");
        assert_eq!(p.a.state(c).unwrap(), State::Established);
        assert_eq!(p.b.state(s).unwrap(), State::Established);
        (p, c, s)
    }

    /// Segments sent by `side` since log index `from`.
    pub fn sent_by(&self, side: Side, from: usize) -> Vec<Seg> {
        self.log[from..].iter().filter(|s| s.from == side).cloned().collect()
    }

    /// Builds an IPv4+TCP packet from `from` (A or B address) to the other side.
    pub fn craft(&self, from: Side, seq: u32, ack: u32, flags: TcpFlags, window: u16, payload: &[u8]) -> Vec<u8> {
        craft_with(from, seq, ack, flags, window, TcpOptions::default(), payload)
    }

    /// Reads everything available on `h` of `side`.
    pub fn read_all(&mut self, side: Side, h: ConnHandle) -> Vec<u8> {
        let now = self.now;
        let mut out = Vec::new();
        let mut buf = vec![0u8; 65536];
        while let Ok(n) = self.ep(side).recv(now, h, &mut buf) {
            if n == 0 {
                break;
            }
            out.extend_from_slice(&buf[..n]);
        }
        self.flush();
        out
    }
}

/// Builds an IPv4+TCP packet between A_ADDR and B_ADDR with options.
pub fn craft_with(
    from: Side,
    seq: u32,
    ack: u32,
    flags: TcpFlags,
    window: u16,
    options: TcpOptions,
    payload: &[u8],
) -> Vec<u8> {
    let (src, dst) = ends(from);
    let tcp = TcpRepr { src_port: src.port(), dst_port: dst.port(), seq, ack, flags, window, urgent: 0, options };
    ipv4_segment(src, dst, &tcp, payload)
}

/// The addresses of a segment sent by `from`.
fn ends(from: Side) -> (SocketAddr, SocketAddr) {
    if from == Side::A {
        (A_ADDR, B_ADDR)
    } else {
        (B_ADDR, A_ADDR)
    }
}

/// Wraps a TCP header and payload in IPv4.
pub fn ipv4_segment(src: SocketAddr, dst: SocketAddr, tcp: &TcpRepr, payload: &[u8]) -> Vec<u8> {
    let tcp_len = tcp.header_len() + payload.len();
    let ip = IpRepr { src: src.ip(), dst: dst.ip(), protocol: PROTO_TCP, payload_len: tcp_len, hop_limit: 64, tos: 0 };
    let mut buf = vec![0u8; 20 + tcp_len];
    let hl = ip.emit(&mut buf).unwrap();
    tcp.emit(&mut buf[hl..], payload, src.ip(), dst.ip()).unwrap();
    buf
}

/// One endpoint under test against a scripted peer: the test writes the
/// peer's segments by hand and reads what the endpoint sent. The peer sends
/// no options, so there is no window scaling, no timestamps and no SACK.
pub struct Raw {
    pub p: Pair,
    /// The endpoint under test (B for passive opens, A for active ones).
    pub side: Side,
    /// The peer's initial sequence number.
    pub peer_isn: u32,
    /// The endpoint's initial sequence number.
    pub iss: u32,
    pub h: Option<ConnHandle>,
}

pub const PEER_ISN: u32 = 1000;

impl Raw {
    /// B listening, nothing received yet.
    pub fn listening() -> Raw {
        let mut p = Pair::new();
        p.hold_b = true;
        p.listen();
        Raw { p, side: Side::B, peer_isn: PEER_ISN, iss: 0, h: None }
    }

    /// B in SYN-RECEIVED after the peer's SYN; its SYN-ACK is consumed.
    pub fn syn_received() -> Raw {
        let mut r = Raw::listening();
        r.inject(PEER_ISN, 0, TcpFlags::SYN, &[]);
        let out = r.take();
        assert_eq!(out.len(), 1);
        assert_eq!(out[0].flags, TcpFlags::SYN | TcpFlags::ACK);
        r.iss = out[0].seq;
        r
    }

    /// B ESTABLISHED with the peer, accepted (handle in `h`).
    pub fn passive() -> Raw {
        Raw::passive_with(Config::default())
    }

    /// As [`Raw::passive`], with B configured by `cfg`.
    pub fn passive_with(cfg: Config) -> Raw {
        let mut p = Pair::with_configs(Config::default(), cfg);
        p.hold_b = true;
        p.listen();
        let mut r = Raw { p, side: Side::B, peer_isn: PEER_ISN, iss: 0, h: None };
        r.inject(PEER_ISN, 0, TcpFlags::SYN, &[]);
        let out = r.take();
        assert_eq!(out.len(), 1);
        assert_eq!(out[0].flags, TcpFlags::SYN | TcpFlags::ACK);
        r.iss = out[0].seq;
        r.inject(PEER_ISN + 1, r.iss.wrapping_add(1), TcpFlags::ACK, &[]);
        let l = r.p.listener.unwrap();
        r.h = Some(r.p.b.accept(l).expect("accept"));
        assert_eq!(r.state(), State::Established);
        r
    }

    /// As [`Raw::passive_with`], with a peer that offered SACK and window
    /// scaling, and that answers the SYN-ACK 50 ms later (the first RTT sample).
    pub fn passive_sack(cfg: Config) -> Raw {
        Raw::passive_offering(cfg, true, false)
    }

    /// As [`Raw::passive_sack`], with SACK and timestamps (the peer's
    /// TSval 1, echoing ours in its ACK) offered or not.
    pub fn passive_offering(cfg: Config, sack: bool, ts: bool) -> Raw {
        let mut p = Pair::with_configs(Config::default(), cfg);
        p.hold_b = true;
        p.listen();
        let mut r = Raw { p, side: Side::B, peer_isn: PEER_ISN, iss: 0, h: None };
        let mut o = TcpOptions::default();
        o.mss = Some(1460);
        o.sack_permitted = sack;
        o.window_scale = Some(7);
        o.timestamps = ts.then_some((1, 0));
        r.p.deliver(Side::B, &craft_with(Side::A, PEER_ISN, 0, TcpFlags::SYN, 65535, o, &[]));
        let syn_ack = r.take().remove(0);
        r.iss = syn_ack.seq;
        r.run_for(Duration::from_millis(50));
        let mut o = TcpOptions::default();
        o.timestamps = syn_ack.options.timestamps.map(|(val, _)| (1, val));
        let ack = craft_with(Side::A, PEER_ISN + 1, r.iss.wrapping_add(1), TcpFlags::ACK, 65535, o, &[]);
        r.p.deliver(Side::B, &ack);
        r.h = Some(r.p.b.accept(r.p.listener.unwrap()).unwrap());
        r
    }

    /// As [`Raw::passive`], after a one-byte request and a one-byte reply:
    /// the connection is interactive, out of the quick-ACK mode a
    /// connection starts in (as Linux), so received data waits for the
    /// delayed-ACK timer. `peer_next` and `our_next` are past the exchange.
    pub fn passive_interactive() -> Raw {
        let mut r = Raw::passive();
        r.inject(r.peer_next(), r.our_next(), TcpFlags::ACK | TcpFlags::PSH, b"q");
        assert_eq!(r.take().len(), 1, "the first data is ACKed at once (quick-ACK mode)");
        assert_eq!(r.read(), b"q");
        r.send(b"r");
        assert_eq!(r.take().len(), 1, "the reply");
        r.peer_isn = r.peer_isn.wrapping_add(1);
        r.iss = r.iss.wrapping_add(1);
        r.inject(r.peer_next(), r.our_next(), TcpFlags::ACK, &[]);
        assert!(r.take().is_empty());
        r
    }

    /// A in SYN-SENT; its SYN is consumed.
    pub fn syn_sent() -> Raw {
        let mut p = Pair::new();
        p.hold_a = true;
        let h = p.connect();
        let mut r = Raw { p, side: Side::A, peer_isn: 5000, iss: 0, h: Some(h) };
        let out = r.take();
        assert_eq!(out.len(), 1);
        assert_eq!(out[0].flags, TcpFlags::SYN);
        r.iss = out[0].seq;
        r
    }

    /// A ESTABLISHED after the peer's SYN-ACK; its ACK is consumed.
    pub fn active() -> Raw {
        let mut r = Raw::syn_sent();
        let (seq, ack) = (r.peer_isn, r.iss.wrapping_add(1));
        r.inject(seq, ack, TcpFlags::SYN | TcpFlags::ACK, &[]);
        let out = r.take();
        assert_eq!(out.len(), 1, "{out:?}");
        assert_eq!(out[0].flags, TcpFlags::ACK);
        assert_eq!(r.state(), State::Established);
        r
    }

    /// The peer's next sequence number once its SYN is acknowledged.
    pub fn peer_next(&self) -> u32 {
        self.peer_isn.wrapping_add(1)
    }

    /// Our first data sequence number.
    pub fn our_next(&self) -> u32 {
        self.iss.wrapping_add(1)
    }

    /// The peer sends a segment (window 65535) to the endpoint under test.
    pub fn inject(&mut self, seq: u32, ack: u32, flags: TcpFlags, payload: &[u8]) {
        self.inject_win(seq, ack, flags, 65535, payload);
    }

    pub fn inject_win(&mut self, seq: u32, ack: u32, flags: TcpFlags, window: u16, payload: &[u8]) {
        let from = if self.side == Side::A { Side::B } else { Side::A };
        let pkt = craft_with(from, seq, ack, flags, window, TcpOptions::default(), payload);
        self.p.deliver(self.side, &pkt);
    }

    /// Everything the endpoint sent since the last call.
    pub fn take(&mut self) -> Vec<Seg> {
        self.p.flush();
        std::mem::take(&mut self.p.held)
    }

    pub fn ep(&mut self) -> &mut Endpoint {
        let s = self.side;
        self.p.ep(s)
    }

    pub fn state(&mut self) -> State {
        let h = self.h.expect("handle");
        self.ep().state(h).expect("live handle")
    }

    pub fn now(&self) -> Instant {
        self.p.now
    }

    /// Runs the clock for `d`; the endpoint's output is kept for `take`.
    pub fn run_for(&mut self, d: Duration) {
        self.p.run_for(d);
    }

    pub fn send(&mut self, data: &[u8]) -> usize {
        let (now, h) = (self.now(), self.h.unwrap());
        let n = self.ep().send(now, h, data).expect("send");
        self.p.flush();
        n
    }

    pub fn shutdown(&mut self) {
        let (now, h) = (self.now(), self.h.unwrap());
        self.ep().shutdown(now, h).expect("shutdown");
        self.p.flush();
    }

    pub fn read(&mut self) -> Vec<u8> {
        let (s, h) = (self.side, self.h.unwrap());
        self.p.read_all(s, h)
    }

    pub fn events(&self) -> &[Event] {
        if self.side == Side::A {
            &self.p.events_a
        } else {
            &self.p.events_b
        }
    }
}

/// An IPv4+TCP packet between any two addresses (no options).
pub fn craft_between(src: SocketAddr, dst: SocketAddr, seq: u32, ack: u32, flags: TcpFlags, payload: &[u8]) -> Vec<u8> {
    let options = TcpOptions::default();
    let tcp =
        TcpRepr { src_port: src.port(), dst_port: dst.port(), seq, ack, flags, window: 65535, urgent: 0, options };
    ipv4_segment(src, dst, &tcp, payload)
}

/// A segment with URG and an urgent pointer, between A_ADDR and B_ADDR.
pub fn craft_urgent(from: Side, seq: u32, ack: u32, urgent: u16, payload: &[u8]) -> Vec<u8> {
    let (src, dst) = ends(from);
    let flags = TcpFlags::ACK | TcpFlags::URG;
    let options = TcpOptions::default();
    let tcp = TcpRepr { src_port: src.port(), dst_port: dst.port(), seq, ack, flags, window: 65535, urgent, options };
    ipv4_segment(src, dst, &tcp, payload)
}
