//! A one-way link: delay, jitter, loss, duplication, reordering, corruption,
//! and a bandwidth limit with a finite tail-drop queue.

use core::time::Duration;
use std::collections::VecDeque;
use synack_core::Instant;

/// The faults and limits of one direction of a link. Probabilities are in [0, 1].
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct LinkConfig {
    /// One-way propagation delay.
    pub delay: Duration,
    /// Extra delay drawn uniformly from [0, jitter] per packet (may reorder).
    pub jitter: Duration,
    /// Probability that a packet is lost.
    pub loss: f64,
    /// Probability that a packet is delivered twice.
    pub duplicate: f64,
    /// Probability that a packet is held back by an extra 1-3 delays, so later ones pass it.
    pub reorder: f64,
    /// Probability that one random bit of a packet is flipped.
    pub corrupt: f64,
    /// Bandwidth in bits per second; `None` is unlimited.
    pub bandwidth: Option<u64>,
    /// Packets that may wait for the bandwidth limit; more are tail-dropped.
    pub queue_limit: usize,
}

impl Default for LinkConfig {
    fn default() -> Self {
        LinkConfig {
            delay: Duration::from_millis(10),
            jitter: Duration::ZERO,
            loss: 0.0,
            duplicate: 0.0,
            reorder: 0.0,
            corrupt: 0.0,
            bandwidth: None,
            queue_limit: 1000,
        }
    }
}

/// What the link did with a packet.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Fate {
    /// It will arrive at this time.
    Delivered(Instant),
    /// It will arrive, with a flipped bit, at this time.
    Corrupted(Instant),
    /// Lost on the link.
    Lost,
    /// Dropped at the tail of a full queue.
    QueueDrop,
}

/// One direction of a link with its queue state: the model the simulator
/// carries packets by, public so that another stack (smoltcp, in the
/// benchmarks) can be driven over the very same link.
#[derive(Debug)]
pub struct Link {
    /// What the link does.
    pub cfg: LinkConfig,
    /// Departure times of the packets waiting for the bandwidth limit.
    queue: VecDeque<Instant>,
    busy_until: Instant,
}

impl Link {
    /// An idle link.
    pub fn new(cfg: LinkConfig) -> Self {
        Link { cfg, queue: VecDeque::new(), busy_until: Instant::ZERO }
    }

    /// Whether this packet is sent twice.
    pub fn duplicates(&self, rng: &mut fastrand::Rng) -> bool {
        self.cfg.duplicate > 0.0 && rng.f64() < self.cfg.duplicate
    }

    /// Decides the fate of one copy of a packet sent at `now`, flipping a bit
    /// of `bytes` when it is corrupted.
    pub fn one(&mut self, rng: &mut fastrand::Rng, now: Instant, bytes: &mut [u8]) -> Fate {
        let c = self.cfg;
        let mut depart = now;
        if let Some(bps) = c.bandwidth.filter(|&b| b > 0) {
            while self.queue.front().is_some_and(|&t| t <= now) {
                self.queue.pop_front();
            }
            if self.queue.len() >= c.queue_limit {
                return Fate::QueueDrop;
            }
            let tx = Duration::from_nanos((bytes.len() as u64 * 8).saturating_mul(1_000_000_000) / bps);
            depart = self.busy_until.max(now) + tx;
            self.busy_until = depart;
            self.queue.push_back(depart);
        }
        if c.loss > 0.0 && rng.f64() < c.loss {
            return Fate::Lost;
        }
        let mut at = depart + c.delay;
        if !c.jitter.is_zero() {
            at = at + Duration::from_micros(rng.u64(0..=c.jitter.as_micros() as u64));
        }
        if c.reorder > 0.0 && rng.f64() < c.reorder {
            let extra = c.delay.max(Duration::from_millis(1)) * rng.u32(1..=3);
            at = at + extra;
        }
        if c.corrupt > 0.0 && rng.f64() < c.corrupt && !bytes.is_empty() {
            let bit = rng.usize(0..bytes.len() * 8);
            bytes[bit / 8] ^= 1 << (bit % 8);
            return Fate::Corrupted(at);
        }
        Fate::Delivered(at)
    }
}
