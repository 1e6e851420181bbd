//! The receive path behind one hole: a scripted peer opens a large window,
//! then leaves out one segment and sends k segments after it; each of them
//! is processed and answered with an ACK carrying SACK blocks. Prints the
//! cost per segment (wall clock) for k = 250, 2,000 and 20,000, and the cost
//! of the segment that fills the hole and releases all k. The cost per
//! segment must not grow with k (DESIGN.md: O(log k) per event).
//!
//! `cargo bench -p synack-bench --bench reassembly`

use std::net::{IpAddr, Ipv4Addr, SocketAddr};
use std::time::{Duration, Instant as WallClock};
use synack_core::{Config, ConnHandle, Endpoint, Instant};
use synack_wire::{IpPacket, IpRepr, TcpFlags, TcpOptions, TcpPacket, TcpRepr, PROTO_TCP};

const US: SocketAddr = SocketAddr::new(IpAddr::V4(Ipv4Addr::new(10, 0, 0, 2)), 80);
const PEER: SocketAddr = SocketAddr::new(IpAddr::V4(Ipv4Addr::new(10, 0, 0, 1)), 40000);
const MSS: usize = 1460;
const PEER_ISN: u32 = 7_000_000;

/// The scripted peer: builds segments and reads what the endpoint sends.
struct Peer {
    ep: Endpoint,
    now: Instant,
    /// Our next sequence number (relative data offset 0 = PEER_ISN + 1).
    their_ack: u32,
    buf: Vec<u8>,
    pkt: Vec<u8>,
    payload: Vec<u8>,
    acks: u64,
}

impl Peer {
    fn segment(&mut self, seq: u32, flags: TcpFlags, len: usize, options: TcpOptions) {
        let tcp = TcpRepr {
            src_port: PEER.port(),
            dst_port: US.port(),
            seq,
            ack: self.their_ack,
            flags,
            window: 65535,
            urgent: 0,
            options,
        };
        let ip = IpRepr {
            src: PEER.ip(),
            dst: US.ip(),
            protocol: PROTO_TCP,
            payload_len: tcp.header_len() + len,
            hop_limit: 64,
            tos: 0,
        };
        let hl = ip.header_len();
        self.pkt.resize(hl + tcp.header_len() + len, 0);
        ip.emit(&mut self.pkt).unwrap();
        tcp.emit(&mut self.pkt[hl..], &self.payload[..len], PEER.ip(), US.ip()).unwrap();
        self.ep.handle_packet(self.now, &self.pkt);
    }

    /// Data at stream offset `off` (one MSS).
    fn data(&mut self, off: u64) {
        self.segment(PEER_ISN + 1 + off as u32, TcpFlags::ACK, MSS, TcpOptions::default());
    }

    /// Takes everything the endpoint sends; returns the last ACK's SACK block count.
    fn drain(&mut self) -> usize {
        let mut blocks = 0;
        while let Some(n) = self.ep.poll_transmit(self.now, &mut self.buf) {
            let ip = IpPacket::parse(&self.buf[..n]).unwrap();
            let tcp = TcpPacket::parse(ip.payload()).unwrap();
            if tcp.flags().syn() {
                self.their_ack = tcp.seq().wrapping_add(1);
            }
            blocks = tcp.options().sack_blocks().len();
            self.acks += 1;
        }
        blocks
    }
}

fn main() {
    let cfg = Config { recv_buffer: 64 << 20, ..Config::default() };
    let mut ep = Endpoint::new(cfg, 1).expect("valid config");
    let l = ep.listen(US, 8).unwrap();
    let mut p = Peer {
        ep,
        now: Instant::from_micros(1_000_000),
        their_ack: 0,
        buf: vec![0; 1500],
        pkt: Vec::new(),
        payload: vec![0x42; MSS],
        acks: 0,
    };
    let mut syn = TcpOptions::default();
    syn.mss = Some(MSS as u16);
    syn.window_scale = Some(7);
    syn.sack_permitted = true;
    p.segment(PEER_ISN, TcpFlags::SYN, 0, syn);
    p.drain();
    p.segment(PEER_ISN + 1, TcpFlags::ACK, 0, TcpOptions::default());
    let conn = p.ep.accept(l).unwrap();
    let mut off = 0u64;
    let mut read = vec![0u8; 1 << 20];
    // Open the window: 40 MB in order, read as it comes.
    while off < 40 << 20 {
        p.data(off);
        off += MSS as u64;
        p.drain();
        read_all(&mut p, conn, &mut read);
    }
    println!("per-segment cost with k segments held behind one hole (MSS {MSS}, ACK with SACK blocks each)");
    for k in [250u64, 2_000, 20_000] {
        let hole = off;
        let t0 = WallClock::now();
        for i in 1..=k {
            p.data(hole + i * MSS as u64);
            let blocks = p.drain();
            assert!(blocks >= 1, "an out-of-order segment is SACKed");
        }
        let behind = t0.elapsed();
        let t1 = WallClock::now();
        p.data(hole);
        p.drain();
        let fill = t1.elapsed();
        let got = read_all(&mut p, conn, &mut read);
        assert_eq!(got, (k + 1) * MSS as u64, "everything behind the hole is delivered");
        off = hole + (k + 1) * MSS as u64;
        println!(
            "k = {k:>6}: {:>8.2} µs per segment behind the hole, {:>9.2} µs for the segment that fills it",
            micros(behind) / k as f64,
            micros(fill)
        );
    }
}

fn micros(d: Duration) -> f64 {
    d.as_secs_f64() * 1e6
}

fn read_all(p: &mut Peer, conn: ConnHandle, buf: &mut [u8]) -> u64 {
    let mut total = 0;
    while let Ok(n) = p.ep.recv(p.now, conn, buf) {
        if n == 0 {
            break;
        }
        total += n as u64;
    }
    p.drain();
    total
}
