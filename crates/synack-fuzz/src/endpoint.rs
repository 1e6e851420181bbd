//! Two endpoints, a listener and connections between them, driven by an
//! arbitrary sequence of packets (delivered, dropped, duplicated, reordered,
//! or injected whole), time steps and user calls. Checked: every datagram
//! either endpoint emits parses with a valid checksum, and what B reads of
//! A's stream is a prefix of it, each byte once and in order.

use arbitrary::{Arbitrary, Unstructured};
use core::net::{IpAddr, Ipv4Addr, SocketAddr};
use core::time::Duration;
use synack_core::{Config, ConnHandle, Endpoint, Instant, ListenerHandle, SynCookies};
use synack_wire::{IpPacket, IpRepr, TcpFlags, TcpOptions, TcpPacket, TcpRepr, PROTO_TCP};

const A: IpAddr = IpAddr::V4(Ipv4Addr::new(10, 0, 0, 1));
const B: IpAddr = IpAddr::V4(Ipv4Addr::new(10, 0, 0, 2));
const PORT: u16 = 80;

/// What the fuzzer may choose of the configuration.
#[derive(Debug, Arbitrary)]
struct Knobs {
    sack: bool,
    timestamps: bool,
    window_scaling: bool,
    cookies_always: bool,
    small_buffers: bool,
    offload: bool,
}

/// One step of the scenario.
#[derive(Debug, Arbitrary)]
enum Action {
    /// A queues bytes of its stream on the main connection.
    Send(u16),
    /// B reads up to this many bytes of the main connection.
    Recv(u16),
    /// The clock moves (milliseconds).
    Advance(u16),
    /// The packet in flight at this index arrives.
    Deliver(u8),
    /// The packet in flight at this index is lost.
    Drop(u8),
    /// The packet in flight at this index is duplicated.
    Duplicate(u8),
    /// Arbitrary bytes arrive at A or B.
    Raw {
        to_b: bool,
        bytes: Vec<u8>,
    },
    /// A TCP segment built from fields arrives at A or B (not on the main
    /// connection's tuple, where a blind injection could be indistinguishable
    /// from the peer: RFC 5961 narrows that, nothing closes it).
    Segment {
        to_b: bool,
        port: u16,
        seq: u32,
        ack: u32,
        flags: u8,
        window: u16,
        len: u8,
        options: bool,
    },
    /// A opens another connection to B's listener.
    Connect,
    ShutdownA,
    ShutdownB,
    CloseB,
    AbortA,
    Timeouts,
}

struct World {
    a: Endpoint,
    b: Endpoint,
    now: Instant,
    /// Datagrams in flight: (to B, bytes).
    flight: Vec<(bool, Vec<u8>)>,
    listener: ListenerHandle,
    main_a: ConnHandle,
    main_b: Option<ConnHandle>,
    /// B closed the main connection: its reading stops.
    b_closed: bool,
    sent: u64,
    read: u64,
    offload: bool,
}

fn pattern(i: u64) -> u8 {
    (i.wrapping_mul(31) % 253) as u8
}

impl World {
    /// Collects what both endpoints emit, checking every datagram.
    fn collect(&mut self) {
        let mut buf = vec![0u8; 65_536];
        for to_b in [true, false] {
            loop {
                let ep = if to_b { &mut self.a } else { &mut self.b };
                let t = if self.offload {
                    ep.poll_transmit_offload(self.now, &mut buf)
                } else {
                    ep.poll_transmit(self.now, &mut buf).map(|len| synack_core::Transmit {
                        len,
                        segment_size: None,
                        partial_checksum: false,
                    })
                };
                let Some(t) = t else { break };
                let size = t.segment_size.map_or(usize::MAX, usize::from);
                let mut cut = synack_wire::offload::Segmenter::new(&buf[..t.len], size).expect("emitted TCP parses");
                let mut piece = vec![0u8; 65_536];
                while let Some(n) = cut.next_into(&mut piece) {
                    let ip = IpPacket::parse(&piece[..n]).expect("emitted IP parses");
                    let tcp = TcpPacket::parse(ip.payload()).expect("emitted TCP parses");
                    assert!(tcp.verify_checksum(ip.src(), ip.dst()), "emitted checksum is valid");
                    if self.flight.len() < 512 {
                        self.flight.push((to_b, piece[..n].to_vec()));
                    }
                }
            }
        }
    }

    /// Whether `bytes` is a TCP segment on the main connection's 4-tuple
    /// (either direction): injecting one is a blind attack that can succeed
    /// (RFC 5961 narrows it), so the property would not hold.
    fn on_main_tuple(&self, bytes: &[u8]) -> bool {
        let Ok(ip) = IpPacket::parse(bytes) else { return false };
        let Ok(tcp) = TcpPacket::parse(ip.payload()) else { return false };
        let Ok(t) = self.a.tuple(self.main_a) else { return false };
        let from = SocketAddr::new(ip.src(), tcp.src_port());
        let to = SocketAddr::new(ip.dst(), tcp.dst_port());
        (from, to) == (t.local, t.remote) || (from, to) == (t.remote, t.local)
    }

    /// An injected datagram arrives, unless it is on the main connection.
    fn inject(&mut self, to_b: bool, bytes: &[u8]) {
        if !self.on_main_tuple(bytes) {
            self.deliver(to_b, bytes);
        }
    }

    fn deliver(&mut self, to_b: bool, bytes: &[u8]) {
        if to_b {
            self.b.handle_packet(self.now, bytes);
        } else {
            self.a.handle_packet(self.now, bytes);
        }
    }

    /// B reads its side of the main connection; what it gets must continue A's stream.
    fn recv(&mut self, max: usize) {
        if self.b_closed {
            return;
        }
        if self.main_b.is_none() {
            while let Ok(h) = self.b.accept(self.listener) {
                if self.b.tuple(h).ok().map(|t| t.remote) == self.a.tuple(self.main_a).ok().map(|t| t.local) {
                    self.main_b = Some(h);
                }
            }
        }
        let Some(h) = self.main_b else { return };
        let mut buf = vec![0u8; max.max(1)];
        while let Ok(n) = self.b.recv(self.now, h, &mut buf) {
            if n == 0 {
                break;
            }
            for (i, &byte) in buf[..n].iter().enumerate() {
                assert_eq!(byte, pattern(self.read + i as u64), "byte {} of A's stream", self.read + i as u64);
            }
            self.read += n as u64;
            assert!(self.read <= self.sent, "B read {} of {} bytes sent", self.read, self.sent);
        }
    }
}

/// The fuzz body (see the module doc).
pub fn endpoint(data: &[u8]) {
    let mut u = Unstructured::new(data);
    let Ok(k) = Knobs::arbitrary(&mut u) else { return };
    let actions = std::iter::from_fn(|| Action::arbitrary(&mut u).ok()).take(2000);
    run(k, actions);
}

/// Runs a scenario; returns the bytes A sent and B read of the main connection.
fn run(k: Knobs, actions: impl Iterator<Item = Action>) -> (u64, u64) {
    let cfg = Config {
        sack: k.sack,
        timestamps: k.timestamps,
        window_scaling: k.window_scaling,
        syn_cookies: if k.cookies_always { SynCookies::Always } else { SynCookies::WhenQueueFull },
        recv_buffer: if k.small_buffers { 3000 } else { 1 << 20 },
        send_buffer: if k.small_buffers { 5000 } else { 1 << 20 },
        offload: synack_core::Offload { segmentation: k.offload, checksum: k.offload },
        ..Config::default()
    };
    let mut a = Endpoint::new(cfg.clone(), 1).expect("valid config");
    let mut b = Endpoint::new(cfg, 2).expect("valid config");
    let now = Instant::from_micros(1_000_000);
    let listener = b.listen(SocketAddr::new(B, PORT), 8).expect("listen");
    let main_a = a.connect(now, SocketAddr::new(A, 0), SocketAddr::new(B, PORT)).expect("connect");
    let mut w = World {
        a,
        b,
        now,
        flight: Vec::new(),
        listener,
        main_a,
        main_b: None,
        b_closed: false,
        sent: 0,
        read: 0,
        offload: k.offload,
    };
    w.collect();
    for action in actions {
        match action {
            Action::Send(n) => {
                let data: Vec<u8> = (0..u64::from(n)).map(|i| pattern(w.sent + i)).collect();
                if let Ok(taken) = w.a.send(w.now, w.main_a, &data) {
                    w.sent += taken as u64;
                }
            }
            Action::Recv(n) => w.recv(usize::from(n)),
            Action::Advance(ms) => {
                w.now = w.now + Duration::from_millis(u64::from(ms));
                w.a.handle_timeout(w.now);
                w.b.handle_timeout(w.now);
            }
            Action::Timeouts => {
                if let Some(t) = [w.a.poll_timeout(), w.b.poll_timeout()].into_iter().flatten().min() {
                    w.now = w.now.max(t);
                    w.a.handle_timeout(w.now);
                    w.b.handle_timeout(w.now);
                }
            }
            Action::Deliver(i) if !w.flight.is_empty() => {
                let (to_b, bytes) = w.flight.remove(usize::from(i) % w.flight.len());
                w.deliver(to_b, &bytes);
            }
            Action::Drop(i) if !w.flight.is_empty() => {
                let n = w.flight.len();
                w.flight.remove(usize::from(i) % n);
            }
            Action::Duplicate(i) if !w.flight.is_empty() => {
                let p = w.flight[usize::from(i) % w.flight.len()].clone();
                w.flight.push(p);
            }
            Action::Raw { to_b, bytes } => w.inject(to_b, &bytes),
            Action::Segment { to_b, port, seq, ack, flags, window, len, options } => {
                let (dst, dst_port) = if to_b { (B, PORT) } else { (A, port) };
                let src = SocketAddr::new(if to_b { A } else { B }, port);
                let mut o = TcpOptions::default();
                if options {
                    o.mss = Some(536);
                    o.window_scale = Some(14);
                    o.sack_permitted = true;
                    o.timestamps = Some((seq, ack));
                }
                let tcp = TcpRepr {
                    src_port: port,
                    dst_port,
                    seq,
                    ack,
                    flags: TcpFlags(flags),
                    window,
                    urgent: 0,
                    options: o,
                };
                let payload = vec![0xAB; usize::from(len)];
                let ip = IpRepr {
                    src: src.ip(),
                    dst,
                    protocol: PROTO_TCP,
                    payload_len: tcp.header_len() + payload.len(),
                    hop_limit: 64,
                    tos: 0,
                };
                let mut pkt = vec![0u8; 20 + ip.payload_len];
                if ip.emit(&mut pkt).is_ok() && tcp.emit(&mut pkt[20..], &payload, src.ip(), dst).is_ok() {
                    w.inject(to_b, &pkt);
                }
            }
            Action::Connect => {
                let _ = w.a.connect(w.now, SocketAddr::new(A, 0), SocketAddr::new(B, PORT));
            }
            Action::ShutdownA => {
                let _ = w.a.shutdown(w.now, w.main_a);
            }
            Action::ShutdownB => {
                if let Some(h) = w.main_b {
                    let _ = w.b.shutdown(w.now, h);
                }
            }
            Action::CloseB => {
                if let Some(h) = w.main_b.take() {
                    // B's reading ends: what it read stands checked.
                    let _ = w.b.close(w.now, h);
                    w.b_closed = true;
                }
            }
            Action::AbortA => {
                let _ = w.a.abort(w.now, w.main_a);
            }
            _ => {}
        }
        while w.a.poll_event().is_some() {}
        while w.b.poll_event().is_some() {}
        w.collect();
        w.recv(65_536);
    }
    (w.sent, w.read)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_plain_scenario_moves_data_through_the_check() {
        let k = Knobs {
            sack: true,
            timestamps: true,
            window_scaling: true,
            cookies_always: false,
            small_buffers: false,
            offload: true,
        };
        let mut actions = vec![];
        for _ in 0..4 {
            actions.push(Action::Deliver(0));
        }
        for _ in 0..20 {
            actions.push(Action::Send(3000));
            actions.extend((0..30).map(|_| Action::Deliver(0)));
            actions.push(Action::Advance(50));
        }
        let (sent, read) = run(k, actions.into_iter());
        assert_eq!(sent, 60_000);
        assert!(read > 30_000, "B read {read} of {sent}");
    }
}
