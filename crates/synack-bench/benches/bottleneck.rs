//! Congestion control through a bottleneck, synack against smoltcp 0.14, in
//! one simulated link model (`synack_sim::Link`: a rate limit with a
//! tail-drop queue one bandwidth-delay product long, one-way delay RTT/2,
//! seeded random loss on the data direction). One bulk flow per run, 4 MiB
//! buffers, MSS 1460, CUBIC for both; then four synack flows sharing the
//! bottleneck (aggregate and Jain's fairness). Simulated time: the figures
//! are exact for the seed.
//!
//! `cargo bench -p synack-bench --bench bottleneck` (`SYNACK_BOTTLENECK_MB=N`
//! MiB per flow, default 20; `SYNACK_BOTTLENECK_SEED=N` another loss
//! pattern, default 1; `SYNACK_BOTTLENECK_ROWS=100:2,20:5` only those
//! RTT (ms) : loss (%) rows, and no multi-flow runs).

use core::time::Duration;
use synack_core::{Config, CongestionControl};
use synack_sim::bottleneck::{run_synack, Bottleneck};

const RATE: u64 = 100_000_000;
const BUFFER: usize = 4 << 20;
/// Simulated time a run may take at most.
const LIMIT: Duration = Duration::from_secs(4000);

fn main() {
    let mb = std::env::var("SYNACK_BOTTLENECK_MB").ok().and_then(|s| s.parse().ok()).unwrap_or(20u64);
    let seed = std::env::var("SYNACK_BOTTLENECK_SEED").ok().and_then(|s| s.parse().ok()).unwrap_or(1u64);
    let rows: Option<Vec<(u64, f64)>> = std::env::var("SYNACK_BOTTLENECK_ROWS").ok().map(|r| {
        r.split(',')
            .filter_map(|row| {
                let (rtt, loss) = row.split_once(':')?;
                Some((rtt.trim().parse().ok()?, loss.trim().parse::<f64>().ok()? / 100.0))
            })
            .collect()
    });
    let wanted = |rtt_ms: u64, loss: f64| {
        rows.as_ref().is_none_or(|r| r.iter().any(|&(t, l)| t == rtt_ms && (l - loss).abs() < 1e-9))
    };
    let cfg = Config {
        congestion_control: CongestionControl::Cubic,
        send_buffer: BUFFER,
        recv_buffer: BUFFER,
        ..Config::default()
    };
    println!(
        "one flow of {mb} MiB through a {} Mbit/s bottleneck, queue one BDP, CUBIC, 4 MiB buffers",
        RATE / 1_000_000
    );
    println!(
        "{:>6} {:>6} | {:>22} {:>6} {:>9} {:>6} | {:>22} {:>6} | {:>8} {:>7}",
        "RTT",
        "loss",
        "synack Mbit/s (link)",
        "retx",
        "retx %",
        "RTOs",
        "smoltcp Mbit/s (link)",
        "retx",
        "Mathis",
        "ratio"
    );
    for rtt_ms in [20u64, 100] {
        for loss in [0.0, 0.001, 0.01, 0.02, 0.05] {
            if !wanted(rtt_ms, loss) {
                continue;
            }
            let b = Bottleneck {
                rate_bps: RATE,
                rtt: Duration::from_millis(rtt_ms),
                loss,
                bytes: mb << 20,
                flows: 1,
                seed,
            };
            let ours = run_synack(&b, cfg.clone(), LIMIT);
            let f = ours.flows[0];
            let theirs = smol::run(&b);
            let mathis = b.mathis_bps(1460).map_or("-".to_string(), |m| format!("{:.1}", m / 1e6));
            println!(
                "{:>4}ms {:>5.1}% | {:>13.1} ({:>3.0} %){} {:>6} {:>8.2}% {:>6} | {:>13.1} ({:>3.0} %){} {:>6} | {:>8} {:>6.2}x",
                rtt_ms,
                loss * 100.0,
                f.goodput_bps() / 1e6,
                f.goodput_bps() / RATE as f64 * 100.0,
                if ours.clean { " " } else { "!" },
                f.retransmits,
                f.retransmits as f64 / f.segments.max(1) as f64 * 100.0,
                f.timeouts,
                theirs.goodput_bps / 1e6,
                theirs.goodput_bps / RATE as f64 * 100.0,
                if theirs.complete { " " } else { "!" },
                theirs.retransmits,
                mathis,
                f.goodput_bps() / theirs.goodput_bps.max(1.0),
            );
        }
    }
    if rows.is_some() {
        return;
    }
    for rtt_ms in [20u64, 100] {
        let b = Bottleneck {
            rate_bps: RATE,
            rtt: Duration::from_millis(rtt_ms),
            loss: 0.0,
            bytes: mb << 20,
            flows: 4,
            seed: 1,
        };
        let r = run_synack(&b, cfg.clone(), LIMIT);
        let each: Vec<String> = r.flows.iter().map(|f| format!("{:.1}", f.goodput_bps() / 1e6)).collect();
        println!(
            "4 synack flows, {rtt_ms} ms, no loss: aggregate {:.1} Mbit/s ({:.0} % of the link), each [{}], Jain {:.3}, {} queue drops",
            r.aggregate_bps() / 1e6,
            r.aggregate_bps() / RATE as f64 * 100.0,
            each.join(", "),
            r.jain(),
            r.queue_drops
        );
    }
}

/// smoltcp 0.14 (CUBIC) at both ends of the same simulated link.
mod smol {
    use super::*;
    use smoltcp::iface::{Config as IfaceConfig, Interface, SocketSet};
    use smoltcp::phy::{Device, DeviceCapabilities, Medium, RxToken, TxToken};
    use smoltcp::socket::tcp;
    use smoltcp::time::Instant as SmolInstant;
    use smoltcp::wire::{HardwareAddress, IpAddress, IpCidr};
    use std::cmp::Reverse;
    use std::collections::{BinaryHeap, VecDeque};
    use synack_core::Instant;
    use synack_sim::{Fate, Link};

    /// A packet in flight: arrival, send order, the host it goes to, its bytes.
    type InFlight = Reverse<(Instant, u64, usize, Vec<u8>)>;

    /// What one smoltcp run did.
    pub struct Run {
        pub goodput_bps: f64,
        pub retransmits: u64,
        pub complete: bool,
    }

    /// A device whose packets go to and come from queues the loop moves.
    #[derive(Default)]
    struct QueueDevice {
        rx: VecDeque<Vec<u8>>,
        tx: VecDeque<Vec<u8>>,
    }

    struct Rx(Vec<u8>);
    struct Tx<'a>(&'a mut VecDeque<Vec<u8>>);

    impl RxToken for Rx {
        fn consume<R, F: FnOnce(&[u8]) -> R>(self, f: F) -> R {
            f(&self.0)
        }
    }

    impl TxToken for Tx<'_> {
        fn consume<R, F: FnOnce(&mut [u8]) -> R>(self, len: usize, f: F) -> R {
            let mut b = vec![0; len];
            let r = f(&mut b);
            self.0.push_back(b);
            r
        }
    }

    impl Device for QueueDevice {
        type RxToken<'a> = Rx;
        type TxToken<'a> = Tx<'a>;

        fn receive(&mut self, _t: SmolInstant) -> Option<(Rx, Tx<'_>)> {
            let p = self.rx.pop_front()?;
            Some((Rx(p), Tx(&mut self.tx)))
        }

        fn transmit(&mut self, _t: SmolInstant) -> Option<Tx<'_>> {
            Some(Tx(&mut self.tx))
        }

        fn capabilities(&self) -> DeviceCapabilities {
            let mut c = DeviceCapabilities::default();
            c.medium = Medium::Ip;
            c.max_transmission_unit = 1500;
            c
        }
    }

    struct Host {
        dev: QueueDevice,
        iface: Interface,
        sockets: SocketSet<'static>,
        handle: smoltcp::iface::SocketHandle,
    }

    fn host(addr: IpAddress) -> Host {
        let mut dev = QueueDevice::default();
        let mut iface = Interface::new(IfaceConfig::new(HardwareAddress::Ip), &mut dev, SmolInstant::from_micros(0));
        iface.update_ip_addrs(|a| a.push(IpCidr::new(addr, 24)).unwrap());
        let mut sockets = SocketSet::new(vec![]);
        let mut s = tcp::Socket::new(tcp::SocketBuffer::new(vec![0; BUFFER]), tcp::SocketBuffer::new(vec![0; BUFFER]));
        s.set_congestion_control(tcp::CongestionControl::Cubic);
        let handle = sockets.add(s);
        Host { dev, iface, sockets, handle }
    }

    fn smol_now(t: Instant) -> SmolInstant {
        SmolInstant::from_micros(t.as_micros() as i64)
    }

    pub fn run(b: &Bottleneck) -> Run {
        let (ca, sa) = (IpAddress::v4(10, 0, 0, 1), IpAddress::v4(10, 0, 0, 2));
        let mut hosts = [host(ca), host(sa)];
        hosts[1].sockets.get_mut::<tcp::Socket>(hosts[1].handle).listen(80).unwrap();
        {
            let Host { iface, sockets, handle, .. } = &mut hosts[0];
            sockets.get_mut::<tcp::Socket>(*handle).connect(iface.context(), (sa, 80), (ca, 40000)).unwrap();
        }
        let mut links = [Link::new(b.data_link()), Link::new(b.ack_link())];
        let mut rng = fastrand::Rng::with_seed(b.seed);
        let mut flight: BinaryHeap<InFlight> = BinaryHeap::new();
        let mut order = 0u64;
        let mut retx = Retransmissions::default();
        let chunk = vec![0x5au8; 256 * 1024];
        let mut rbuf = vec![0u8; 256 * 1024];
        let (mut sent, mut received) = (0u64, 0u64);
        let mut now = Instant::ZERO;
        let mut done_at = None;
        let end = Instant::ZERO + LIMIT;
        while now < end {
            while flight.peek().is_some_and(|Reverse((t, ..))| *t <= now) {
                let Reverse((_, _, to, bytes)) = flight.pop().expect("peeked");
                hosts[to].dev.rx.push_back(bytes);
            }
            for h in hosts.iter_mut() {
                h.iface.poll(smol_now(now), &mut h.dev, &mut h.sockets);
            }
            let c = hosts[0].sockets.get_mut::<tcp::Socket>(hosts[0].handle);
            if sent < b.bytes && c.can_send() {
                let want = (b.bytes - sent).min(chunk.len() as u64) as usize;
                sent += c.send_slice(&chunk[..want]).unwrap_or(0) as u64;
            }
            let s = hosts[1].sockets.get_mut::<tcp::Socket>(hosts[1].handle);
            while let Ok(n) = s.recv_slice(&mut rbuf) {
                if n == 0 {
                    break;
                }
                received += n as u64;
            }
            if received >= b.bytes {
                done_at = Some(now);
                break;
            }
            for h in hosts.iter_mut() {
                h.iface.poll(smol_now(now), &mut h.dev, &mut h.sockets);
            }
            for (from, h) in hosts.iter_mut().enumerate() {
                while let Some(mut bytes) = h.dev.tx.pop_front() {
                    if from == 0 {
                        retx.see(&bytes);
                    }
                    if let Fate::Delivered(at) | Fate::Corrupted(at) = links[from].one(&mut rng, now, &mut bytes) {
                        order += 1;
                        flight.push(Reverse((at, order, 1 - from, bytes)));
                    }
                }
            }
            let next_poll = hosts
                .iter_mut()
                .filter_map(|h| h.iface.poll_at(smol_now(now), &h.sockets))
                .map(|t| Instant::from_micros(t.total_micros().max(0) as u64))
                .min();
            let next_packet = flight.peek().map(|Reverse((t, ..))| *t);
            let next = match (next_poll, next_packet) {
                (Some(a), Some(b)) => a.min(b),
                (Some(a), None) | (None, Some(a)) => a,
                (None, None) => break,
            };
            // poll_at may say "now" while nothing can move: step at least 10 µs.
            now = next.max(now + Duration::from_micros(10));
        }
        let elapsed = done_at.unwrap_or(now).saturating_since(Instant::ZERO);
        Run {
            goodput_bps: received as f64 * 8.0 / elapsed.as_secs_f64().max(1e-9),
            retransmits: retx.count,
            complete: done_at.is_some(),
        }
    }

    /// Counts retransmissions on the wire (smoltcp keeps no such counter):
    /// a data segment that starts below the highest sequence number sent.
    #[derive(Default)]
    struct Retransmissions {
        high: Option<u32>,
        count: u64,
    }

    impl Retransmissions {
        fn see(&mut self, ip: &[u8]) {
            let ihl = usize::from(ip.first().map_or(0, |b| b & 0xf)) * 4;
            let Some(tcp) = ip.get(ihl..) else { return };
            if tcp.len() < 20 {
                return;
            }
            let seq = u32::from_be_bytes([tcp[4], tcp[5], tcp[6], tcp[7]]);
            let len = tcp.len().saturating_sub(usize::from(tcp[12] >> 4) * 4) as u32;
            if len == 0 {
                return;
            }
            let end = seq.wrapping_add(len);
            match self.high {
                Some(h) if (seq.wrapping_sub(h) as i32) < 0 => {
                    self.count += 1;
                    if (end.wrapping_sub(h) as i32) > 0 {
                        self.high = Some(end);
                    }
                }
                _ => self.high = Some(end),
            }
        }
    }
}
