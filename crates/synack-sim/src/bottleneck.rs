//! One bulk transfer (or several sharing the path) through a bottleneck:
//! a link of `rate_bps` with a tail-drop queue one bandwidth-delay product
//! long, one-way delay RTT/2 each way, seeded random loss on the data
//! direction. The model the congestion-control benchmark runs synack and
//! smoltcp through (`cargo bench -p synack-bench --bench bottleneck`).

use crate::transfer::{Transfer, TransferSpec};
use crate::{Fate, HostId, LinkConfig, Network, Observer};
use core::net::{IpAddr, Ipv4Addr};
use core::time::Duration;
use std::cell::Cell;
use std::rc::Rc;
use synack_core::{Config, Instant};

/// The path and the work.
#[derive(Debug, Clone, Copy)]
pub struct Bottleneck {
    /// Bottleneck rate, bits per second.
    pub rate_bps: u64,
    /// Round-trip propagation delay.
    pub rtt: Duration,
    /// Probability that a data packet is lost.
    pub loss: f64,
    /// Bytes each flow sends.
    pub bytes: u64,
    /// Flows sharing the bottleneck (from one host to another).
    pub flows: usize,
    /// Seed of the loss pattern and the data.
    pub seed: u64,
}

/// The packet size the queue is counted in.
const PACKET: u64 = 1500;

impl Bottleneck {
    /// One flow of 8 MiB over a loss-free path of `rate_bps` and `rtt_ms`
    /// (seed 1): the case the slow-start and buffer tests run.
    pub fn clean(rate_bps: u64, rtt_ms: u64) -> Self {
        Bottleneck { rate_bps, rtt: Duration::from_millis(rtt_ms), loss: 0.0, bytes: 8 << 20, flows: 1, seed: 1 }
    }

    /// The queue: one bandwidth-delay product, in packets.
    pub fn queue_packets(&self) -> usize {
        ((self.rate_bps as f64 * self.rtt.as_secs_f64() / 8.0 / PACKET as f64).ceil() as usize).max(1)
    }

    /// The data direction: bandwidth, queue, delay, loss.
    pub fn data_link(&self) -> LinkConfig {
        LinkConfig {
            delay: self.rtt / 2,
            loss: self.loss,
            bandwidth: Some(self.rate_bps),
            queue_limit: self.queue_packets(),
            ..LinkConfig::default()
        }
    }

    /// The ACK direction: the same rate, queue and delay, no loss.
    pub fn ack_link(&self) -> LinkConfig {
        LinkConfig { loss: 0.0, ..self.data_link() }
    }

    /// The Mathis et al. bound on one flow's rate under random loss,
    /// MSS / RTT x sqrt(3/2) / sqrt(p), in bits per second (none without loss).
    pub fn mathis_bps(&self, mss: u32) -> Option<f64> {
        (self.loss > 0.0).then(|| f64::from(mss) * 8.0 / self.rtt.as_secs_f64() * (1.5f64).sqrt() / self.loss.sqrt())
    }
}

/// What one flow did.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Flow {
    /// Bytes delivered intact.
    pub bytes: u64,
    /// From connect until both ends had finished.
    pub duration: Duration,
    /// Segments the sender retransmitted.
    pub retransmits: u64,
    /// Segments the sender sent, retransmissions included.
    pub segments: u64,
    /// Retransmission timeouts at the sender.
    pub timeouts: u64,
    /// Of those, the ones F-RTO or Eifel showed spurious and undid.
    pub spurious_timeouts: u64,
    /// The sender's last delivery rate sample, bytes per second (tcpi_delivery_rate).
    pub delivery_rate: Option<u64>,
    /// The receiver's receive buffer at the end (autotuning grows it).
    pub receive_buffer: usize,
}

impl Flow {
    /// Goodput in bits per second.
    pub fn goodput_bps(&self) -> f64 {
        self.bytes as f64 * 8.0 / self.duration.as_secs_f64().max(1e-9)
    }
}

/// What a run found.
#[derive(Debug, Clone, PartialEq)]
pub struct Report {
    /// Each flow.
    pub flows: Vec<Flow>,
    /// Packets tail-dropped at the bottleneck's queue (data direction).
    pub queue_drops: u64,
    /// Every flow delivered its bytes intact and closed cleanly.
    pub clean: bool,
}

impl Report {
    /// Sum of the flows' goodputs, bits per second.
    pub fn aggregate_bps(&self) -> f64 {
        self.flows.iter().map(Flow::goodput_bps).sum()
    }

    /// Jain's fairness index of the flows' goodputs (1 is perfectly fair).
    pub fn jain(&self) -> f64 {
        let x: Vec<f64> = self.flows.iter().map(Flow::goodput_bps).collect();
        let sum: f64 = x.iter().sum();
        let squares: f64 = x.iter().map(|v| v * v).sum();
        if squares == 0.0 {
            return 0.0;
        }
        sum * sum / (x.len() as f64 * squares)
    }
}

/// Counts tail drops on the data direction.
struct Drops(Rc<Cell<u64>>, HostId);

impl Observer for Drops {
    fn on_send(&mut self, _now: Instant, from: HostId, _to: Option<HostId>, _bytes: &[u8], fate: Fate) {
        if from == self.1 && fate == Fate::QueueDrop {
            self.0.set(self.0.get() + 1);
        }
    }
}

/// Runs synack with `cfg` on both ends through the bottleneck (simulated
/// time, at most `limit` of it).
pub fn run_synack(b: &Bottleneck, cfg: Config, limit: Duration) -> Report {
    let mut net = Network::new(b.seed);
    let sender = net.add_host(IpAddr::V4(Ipv4Addr::new(10, 0, 0, 1)), cfg.clone()).expect("valid config");
    let receiver = net.add_host(IpAddr::V4(Ipv4Addr::new(10, 0, 0, 2)), cfg).expect("valid config");
    net.set_link(sender, receiver, b.data_link());
    net.set_link(receiver, sender, b.ack_link());
    let drops = Rc::new(Cell::new(0));
    net.set_observer(Box::new(Drops(drops.clone(), sender)));
    let mut transfers: Vec<Transfer> = (0..b.flows)
        .map(|i| {
            let spec = TransferSpec {
                port: 5000 + i as u16,
                client_bytes: b.bytes,
                seed: b.seed.wrapping_add(i as u64),
                ..TransferSpec::default()
            };
            Transfer::start(&mut net, sender, receiver, &spec).expect("start")
        })
        .collect();
    let end = net.now() + limit;
    loop {
        for t in transfers.iter_mut() {
            t.poll(&mut net);
        }
        if transfers.iter().all(Transfer::is_done) || !net.step(end) {
            break;
        }
    }
    let now = net.now();
    let mut clean = true;
    let flows = transfers
        .into_iter()
        .map(|t| {
            let out = t.outcome(now);
            clean &= out.is_clean();
            let info = out.client_info;
            Flow {
                bytes: if out.client_data_intact { out.client_to_server.1 } else { 0 },
                duration: out.duration,
                retransmits: info.map_or(0, |i| i.total_retrans),
                segments: info.map_or(0, |i| i.segs_out),
                timeouts: info.map_or(0, |i| i.timeouts),
                spurious_timeouts: info.map_or(0, |i| i.spurious_timeouts),
                delivery_rate: info.and_then(|i| i.delivery_rate),
                receive_buffer: out.server_info.map_or(0, |i| i.recv_buffer),
            }
        })
        .collect();
    Report { flows, queue_drops: drops.get(), clean }
}
