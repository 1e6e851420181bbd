//! synack-sim: a deterministic simulated network for synack-core.
//!
//! Hosts (each an [`Endpoint`]) are joined by one-way [`LinkConfig`]s with
//! delay, jitter, loss, duplication, reordering, corruption and a bandwidth
//! limit. A virtual clock jumps from event to event; all randomness comes
//! from one seed, so the same seed and the same application calls give the
//! same run, byte for byte.
#![forbid(unsafe_code)]
#![warn(missing_docs)]

pub mod bottleneck;
mod link;
pub mod transfer;

pub use link::{Fate, Link, LinkConfig};

use core::net::IpAddr;
use std::cmp::Reverse;
use std::collections::{BinaryHeap, HashMap};
use synack_core::{Config, Endpoint, Instant, Transmit};
use synack_wire::offload::Segmenter;
use synack_wire::IpPacket;

/// Index of a host in the network.
pub type HostId = usize;

/// Sees every packet the network carries and what happened to it.
pub trait Observer {
    /// `bytes` left host `from` for host `to` (None: no route) at `now`.
    fn on_send(&mut self, now: Instant, from: HostId, to: Option<HostId>, bytes: &[u8], fate: Fate);
}

/// One host: an endpoint and its address.
pub struct Host {
    /// The host's TCP.
    pub endpoint: Endpoint,
    /// Its IP address.
    pub addr: IpAddr,
}

/// A packet on its way: arrival time, order of sending (tie-break), destination.
type InFlight = Reverse<(Instant, u64, HostId, Vec<u8>)>;

/// The simulated network.
pub struct Network {
    now: Instant,
    rng: fastrand::Rng,
    hosts: Vec<Host>,
    routes: HashMap<IpAddr, HostId>,
    default_link: LinkConfig,
    links: HashMap<(HostId, HostId), Link>,
    in_flight: BinaryHeap<InFlight>,
    sent: u64,
    observer: Option<Box<dyn Observer>>,
    buf: Vec<u8>,
    piece: Vec<u8>,
    super_segments: u64,
    datagrams: u64,
}

impl Network {
    /// An empty network whose faults are drawn from `seed`. The clock starts at 1 s.
    pub fn new(seed: u64) -> Self {
        Network {
            now: Instant::from_micros(1_000_000),
            rng: fastrand::Rng::with_seed(seed),
            hosts: Vec::new(),
            routes: HashMap::new(),
            default_link: LinkConfig::default(),
            links: HashMap::new(),
            in_flight: BinaryHeap::new(),
            sent: 0,
            observer: None,
            buf: vec![0; 65536],
            piece: vec![0; 65536],
            super_segments: 0,
            datagrams: 0,
        }
    }

    /// Adds a host with address `addr` running an endpoint with `cfg` (if
    /// valid); its secret (for ISNs and hashing) is derived from the
    /// network's seed.
    pub fn add_host(&mut self, addr: IpAddr, cfg: Config) -> Result<HostId, synack_core::ConfigError> {
        let secret = (u128::from(self.rng.u64(..)) << 64) | u128::from(self.rng.u64(..));
        let endpoint = Endpoint::new(cfg, secret)?;
        let id = self.hosts.len();
        self.hosts.push(Host { endpoint, addr });
        self.routes.insert(addr, id);
        Ok(id)
    }

    /// The link used between hosts that have no link of their own.
    pub fn set_default_link(&mut self, cfg: LinkConfig) {
        self.default_link = cfg;
        for l in self.links.values_mut() {
            l.cfg = cfg;
        }
    }

    /// Sets the link from `from` to `to` (one direction).
    pub fn set_link(&mut self, from: HostId, to: HostId, cfg: LinkConfig) {
        self.links.insert((from, to), Link::new(cfg));
    }

    /// Installs an observer of every packet sent.
    pub fn set_observer(&mut self, observer: Box<dyn Observer>) {
        self.observer = Some(observer);
    }

    /// The current virtual time.
    pub fn now(&self) -> Instant {
        self.now
    }

    /// A host's endpoint.
    pub fn endpoint(&mut self, id: HostId) -> &mut Endpoint {
        &mut self.hosts[id].endpoint
    }

    /// A host's address.
    pub fn addr(&self, id: HostId) -> IpAddr {
        self.hosts[id].addr
    }

    /// Puts every packet the hosts want to send onto the links. A host
    /// whose configuration names offloads sends through
    /// `poll_transmit_offload`, and its super-segments are cut at their
    /// segment size (checksums completed) before the link sees them, as a
    /// NIC would.
    pub fn flush(&mut self) {
        for from in 0..self.hosts.len() {
            let offload = self.hosts[from].endpoint.config().offload != synack_core::Offload::default();
            loop {
                let now = self.now;
                let ep = &mut self.hosts[from].endpoint;
                let t = if offload {
                    ep.poll_transmit_offload(now, &mut self.buf)
                } else {
                    ep.poll_transmit(now, &mut self.buf).map(|len| Transmit {
                        len,
                        segment_size: None,
                        partial_checksum: false,
                    })
                };
                let Some(t) = t else { break };
                self.datagrams += 1;
                if !offload {
                    let bytes = std::mem::take(&mut self.buf);
                    self.send_one(from, &bytes[..t.len]);
                    self.buf = bytes;
                    continue;
                }
                self.super_segments += u64::from(t.segment_size.is_some());
                let size = t.segment_size.map_or(usize::MAX, usize::from);
                let bytes = std::mem::take(&mut self.buf);
                let mut piece = std::mem::take(&mut self.piece);
                if let Ok(mut cut) = Segmenter::new(&bytes[..t.len], size) {
                    while let Some(n) = cut.next_into(&mut piece) {
                        self.send_one(from, &piece[..n]);
                    }
                }
                self.buf = bytes;
                self.piece = piece;
            }
        }
    }

    /// One datagram from host `from` onto its link.
    fn send_one(&mut self, from: HostId, datagram: &[u8]) {
        let now = self.now;
        let to = IpPacket::parse(datagram).ok().and_then(|ip| self.routes.get(&ip.dst()).copied());
        let Some(to) = to else {
            if let Some(o) = self.observer.as_mut() {
                o.on_send(now, from, None, datagram, Fate::Lost);
            }
            return;
        };
        let default = self.default_link;
        let link = self.links.entry((from, to)).or_insert_with(|| Link::new(default));
        let copies = 1 + usize::from(link.duplicates(&mut self.rng));
        for _ in 0..copies {
            let mut bytes = datagram.to_vec();
            let fate = link.one(&mut self.rng, now, &mut bytes);
            if let Some(o) = self.observer.as_mut() {
                o.on_send(now, from, Some(to), &bytes, fate);
            }
            if let Fate::Delivered(at) | Fate::Corrupted(at) = fate {
                self.sent += 1;
                self.in_flight.push(Reverse((at, self.sent, to, bytes)));
            }
        }
    }

    /// When the next thing happens: a packet arrives or a timer fires.
    pub fn next_event(&self) -> Option<Instant> {
        let pkt = self.in_flight.peek().map(|Reverse((t, ..))| *t);
        self.hosts.iter().filter_map(|h| h.endpoint.poll_timeout()).chain(pkt).min()
    }

    /// Sends what is pending, then advances the clock to the next event (if
    /// it is no later than `limit`) and processes everything due then.
    /// Returns false when nothing happens before `limit`.
    pub fn step(&mut self, limit: Instant) -> bool {
        self.flush();
        let Some(t) = self.next_event().filter(|&t| t <= limit) else { return false };
        self.now = self.now.max(t);
        let now = self.now;
        while self.in_flight.peek().is_some_and(|Reverse((at, ..))| *at <= now) {
            let Reverse((_, _, to, bytes)) = self.in_flight.pop().expect("peeked");
            self.hosts[to].endpoint.handle_packet(now, &bytes);
        }
        for h in &mut self.hosts {
            if h.endpoint.poll_timeout().is_some_and(|t| t <= now) {
                h.endpoint.handle_timeout(now);
            }
        }
        self.flush();
        true
    }

    /// Hands `bytes` to host `to` now, as if they had arrived from the
    /// network: an attacker's spoofed packets, for instance.
    pub fn inject(&mut self, to: HostId, bytes: &[u8]) {
        let now = self.now;
        self.hosts[to].endpoint.handle_packet(now, bytes);
    }

    /// Moves the clock to `t` without events (nothing may be due before it).
    pub fn advance_to(&mut self, t: Instant) {
        self.now = self.now.max(t);
    }

    /// Super-segments the hosts emitted (each cut into segments for the link).
    pub fn super_segments(&self) -> u64 {
        self.super_segments
    }

    /// Datagrams the hosts emitted, super-segments counting one each.
    pub fn datagrams(&self) -> u64 {
        self.datagrams
    }

    /// Packets currently on the links.
    pub fn packets_in_flight(&self) -> usize {
        self.in_flight.len()
    }
}
