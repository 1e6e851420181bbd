//! Fault injection in the device layer, as smoltcp's examples place it:
//! loss, duplication, reordering, delay with jitter, corruption and a rate
//! limit with a tail-drop queue, each direction on its own, from one seed.
//! Faults strike segments: the stack above sees a device without offload,
//! and super-segments from the device below are cut into segments first.

use super::{for_each_segment, Device, RxMeta, TxMeta};
use std::cmp::Reverse;
use std::collections::BinaryHeap;
use std::future::Future;
use std::io;
use std::pin::Pin;
use std::task::{Context, Poll};
use std::time::Duration;
use tokio::time::{Instant, Sleep};

/// What to do to the packets of one direction. Probabilities are in [0, 1].
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Faults {
    /// Probability a packet is dropped.
    pub loss: f64,
    /// Probability a packet is delivered twice.
    pub duplicate: f64,
    /// Probability a packet is held back behind later ones (by 1-3 x delay, at least 1 ms).
    pub reorder: f64,
    /// Probability one bit of a packet is flipped.
    pub corrupt: f64,
    /// Fixed delay.
    pub delay: Duration,
    /// Extra random delay in [0, jitter].
    pub jitter: Duration,
    /// Rate limit in bits per second.
    pub rate: Option<u64>,
    /// Packets that may wait for the rate limit before tail drop.
    pub queue_limit: usize,
}

impl Default for Faults {
    fn default() -> Self {
        Faults {
            loss: 0.0,
            duplicate: 0.0,
            reorder: 0.0,
            corrupt: 0.0,
            delay: Duration::ZERO,
            jitter: Duration::ZERO,
            rate: None,
            queue_limit: 1000,
        }
    }
}

impl Faults {
    /// True when these faults change nothing.
    pub fn is_none(&self) -> bool {
        *self == Faults::default()
    }
}

/// Packets of one direction waiting for their release time.
struct Lane {
    faults: Faults,
    heap: BinaryHeap<Reverse<(Instant, u64, Vec<u8>)>>,
    busy_until: Instant,
    queued_for_rate: std::collections::VecDeque<Instant>,
    order: u64,
}

impl Lane {
    fn new(faults: Faults) -> Self {
        Lane {
            faults,
            heap: BinaryHeap::new(),
            busy_until: Instant::now(),
            queued_for_rate: Default::default(),
            order: 0,
        }
    }

    fn admit(&mut self, rng: &mut fastrand::Rng, now: Instant, packet: &[u8]) {
        let f = self.faults;
        let copies = if f.duplicate > 0.0 && rng.f64() < f.duplicate { 2 } else { 1 };
        for _ in 0..copies {
            let mut depart = now;
            if let Some(bps) = f.rate.filter(|&b| b > 0) {
                while self.queued_for_rate.front().is_some_and(|&t| t <= now) {
                    self.queued_for_rate.pop_front();
                }
                if self.queued_for_rate.len() >= f.queue_limit {
                    continue;
                }
                let tx = Duration::from_nanos((packet.len() as u64 * 8).saturating_mul(1_000_000_000) / bps);
                depart = self.busy_until.max(now) + tx;
                self.busy_until = depart;
                self.queued_for_rate.push_back(depart);
            }
            if f.loss > 0.0 && rng.f64() < f.loss {
                continue;
            }
            let mut at = depart + f.delay;
            if !f.jitter.is_zero() {
                at += Duration::from_micros(rng.u64(0..=f.jitter.as_micros() as u64));
            }
            if f.reorder > 0.0 && rng.f64() < f.reorder {
                at += f.delay.max(Duration::from_millis(1)) * rng.u32(1..=3);
            }
            let mut p = packet.to_vec();
            if f.corrupt > 0.0 && rng.f64() < f.corrupt && !p.is_empty() {
                let bit = rng.usize(0..p.len() * 8);
                p[bit / 8] ^= 1 << (bit % 8);
            }
            self.order += 1;
            self.heap.push(Reverse((at, self.order, p)));
        }
    }

    fn next_due(&self) -> Option<Instant> {
        self.heap.peek().map(|Reverse((t, ..))| *t)
    }

    fn pop_due(&mut self, now: Instant) -> Option<Vec<u8>> {
        if self.next_due()? <= now {
            self.heap.pop().map(|Reverse((_, _, p))| p)
        } else {
            None
        }
    }
}

/// A device whose traffic suffers the configured faults.
pub struct FaultyDevice<D> {
    inner: D,
    outbound: Lane,
    inbound: Lane,
    rng: fastrand::Rng,
    sleep: Pin<Box<Sleep>>,
    rx: Vec<u8>,
    /// A due outbound packet the inner device could not take yet.
    stalled: Option<Vec<u8>>,
}

impl<D: Device> FaultyDevice<D> {
    /// Wraps `inner`: `outbound` applies to what the stack sends, `inbound`
    /// to what it receives; `seed` makes the faults repeatable.
    pub fn new(inner: D, outbound: Faults, inbound: Faults, seed: u64) -> Self {
        let rx = vec![0; inner.max_datagram().max(1500) + 64];
        FaultyDevice {
            inner,
            outbound: Lane::new(outbound),
            inbound: Lane::new(inbound),
            rng: fastrand::Rng::with_seed(seed),
            sleep: Box::pin(tokio::time::sleep(Duration::from_secs(3600))),
            rx,
            stalled: None,
        }
    }

    /// Sends the outbound packets that are due.
    fn flush_out(&mut self, cx: &mut Context<'_>) -> io::Result<()> {
        let now = Instant::now();
        loop {
            let p = match self.stalled.take() {
                Some(p) => p,
                None => match self.outbound.pop_due(now) {
                    Some(p) => p,
                    None => return Ok(()),
                },
            };
            match self.inner.poll_send(cx, &p, TxMeta::default()) {
                Poll::Ready(r) => r?,
                Poll::Pending => {
                    self.stalled = Some(p);
                    return Ok(());
                }
            }
        }
    }
}

impl<D: Device> Device for FaultyDevice<D> {
    fn poll_recv(&mut self, cx: &mut Context<'_>, buf: &mut [u8]) -> Poll<io::Result<RxMeta>> {
        loop {
            if let Err(e) = self.flush_out(cx) {
                return Poll::Ready(Err(e));
            }
            let now = Instant::now();
            if let Some(p) = self.inbound.pop_due(now) {
                let n = p.len().min(buf.len());
                buf[..n].copy_from_slice(&p[..n]);
                return Poll::Ready(Ok(RxMeta::plain(n)));
            }
            match self.inner.poll_recv(cx, &mut self.rx) {
                Poll::Ready(Ok(meta)) => {
                    let tx = TxMeta {
                        segment_size: meta.info.segment_size,
                        partial_checksum: meta.partial_checksum.is_some(),
                    };
                    let (lane, rng) = (&mut self.inbound, &mut self.rng);
                    for_each_segment(&self.rx[..meta.len], tx, |seg| lane.admit(rng, now, seg));
                    continue;
                }
                Poll::Ready(Err(e)) => return Poll::Ready(Err(e)),
                Poll::Pending => {}
            }
            let next = [self.inbound.next_due(), self.outbound.next_due()].into_iter().flatten().min();
            match next {
                Some(t) => {
                    self.sleep.as_mut().reset(t);
                    if self.sleep.as_mut().poll(cx).is_ready() {
                        continue;
                    }
                    return Poll::Pending;
                }
                None => return Poll::Pending,
            }
        }
    }

    fn poll_send(&mut self, cx: &mut Context<'_>, packet: &[u8], meta: TxMeta) -> Poll<io::Result<()>> {
        let now = Instant::now();
        let (lane, rng) = (&mut self.outbound, &mut self.rng);
        for_each_segment(packet, meta, |seg| lane.admit(rng, now, seg));
        Poll::Ready(self.flush_out(cx))
    }

    fn mtu(&self) -> usize {
        self.inner.mtu()
    }
}
