//! The stack: one synack-core endpoint driven by a tokio task over a device,
//! with the IP layer around TCP (address filtering, ICMP echo, ICMP errors
//! handed to the core) and the wakers of the sockets.

use crate::device::Device;
use std::collections::HashMap;
use std::future::poll_fn;
use std::future::Future;
use std::io;
use std::net::IpAddr;
use std::sync::{Arc, Mutex, MutexGuard};
use std::task::{Poll, Waker};
use std::time::Duration;
use synack_core::{CloseReason, ConnHandle, Endpoint, Event, Instant, ListenerHandle, State};
use synack_wire::{IcmpKind, IcmpMessage, IpPacket, IpRepr, PROTO_ICMP, PROTO_ICMPV6, PROTO_TCP};
use tokio::sync::Notify;

/// How to build a [`Stack`].
#[derive(Debug, Clone)]
pub struct StackConfig {
    /// The stack's own addresses (IPv4 and/or IPv6).
    pub addresses: Vec<IpAddr>,
    /// The TCP configuration (MTU, buffers, timeouts, ...).
    pub tcp: synack_core::Config,
    /// Seed of the endpoint secret (ISNs, hashing); random when `None`.
    pub secret: Option<u128>,
}

impl StackConfig {
    /// A configuration for these addresses with default TCP settings.
    pub fn new(addresses: Vec<IpAddr>) -> Self {
        StackConfig { addresses, tcp: synack_core::Config::default(), secret: None }
    }
}

/// Counters a program can read (see [`Stack::stats`]).
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub struct StackStats {
    /// IP datagrams received from the device.
    pub packets_in: u64,
    /// IP datagrams sent to the device.
    pub packets_out: u64,
    /// TCP segments received.
    pub segments_in: u64,
    /// TCP segments sent.
    pub segments_out: u64,
    /// ICMP echo requests answered.
    pub pings_answered: u64,
    /// Dropped: not IP, or malformed.
    pub dropped_malformed: u64,
    /// Dropped: addressed to someone else.
    pub dropped_not_for_us: u64,
    /// Dropped: a protocol other than TCP and ICMP.
    pub dropped_protocol: u64,
    /// TCP segments with a bad checksum.
    pub dropped_bad_checksum: u64,
    /// Resets sent for segments to closed ports.
    pub resets_sent: u64,
    /// Connections opened (both directions).
    pub connections_opened: u64,
    /// Connections that ended with an error.
    pub connections_failed: u64,
    /// SYN-ACKs sent with a SYN cookie (a listener's SYN queue was full).
    pub syn_cookies_sent: u64,
    /// Connections made from a returned SYN cookie.
    pub syn_cookies_accepted: u64,
}

/// Wakers of one connection's users.
#[derive(Default)]
pub(crate) struct ConnWakers {
    pub read: Option<Waker>,
    pub write: Option<Waker>,
}

/// Everything behind the stack's lock.
pub(crate) struct Inner {
    pub ep: Endpoint,
    pub addresses: Vec<IpAddr>,
    /// Accept connections to any address (a transparent listener exists).
    pub any_destination: bool,
    pub conns: HashMap<ConnHandle, ConnWakers>,
    pub accept_wakers: HashMap<ListenerHandle, Waker>,
    epoch: std::time::Instant,
    pub stats: StackStats,
    pub stopping: bool,
    /// Replies built by the IP layer (ICMP echo), waiting for the driver.
    replies: Vec<Vec<u8>>,
}

impl Inner {
    /// The core's clock: microseconds since the stack started.
    pub fn now(&self) -> Instant {
        Instant::from_micros(self.epoch.elapsed().as_micros() as u64)
    }

    fn instant_of(&self, t: Instant) -> tokio::time::Instant {
        tokio::time::Instant::from_std(self.epoch) + Duration::from_micros(t.as_micros())
    }

    /// Wakes the users concerned by the endpoint's events.
    pub fn dispatch_events(&mut self) {
        while let Some(ev) = self.ep.poll_event() {
            match ev {
                Event::Incoming(l) => {
                    tracing::debug!(listener = ?l, "connection established (passive)");
                    if let Some(w) = self.accept_wakers.remove(&l) {
                        w.wake();
                    }
                }
                Event::Connected(h) => {
                    tracing::debug!(conn = ?self.ep.tuple(h).ok(), "connection established");
                    self.wake(h, true, true);
                }
                Event::Readable(h) | Event::Urgent(h) => self.wake(h, true, false),
                Event::Writable(h) => self.wake(h, false, true),
                Event::Closed(h, reason) => {
                    match reason {
                        CloseReason::Graceful => tracing::debug!(?h, "connection closed"),
                        CloseReason::Error(e) => {
                            self.stats.connections_failed += 1;
                            tracing::info!(?h, error = %e, "connection closed with an error");
                        }
                    }
                    self.wake(h, true, true);
                }
            }
        }
    }

    fn wake(&mut self, h: ConnHandle, read: bool, write: bool) {
        if let Some(w) = self.conns.get_mut(&h) {
            if read {
                if let Some(x) = w.read.take() {
                    x.wake();
                }
            }
            if write {
                if let Some(x) = w.write.take() {
                    x.wake();
                }
            }
        }
    }

    /// The IP layer: one datagram from the device.
    fn input(&mut self, packet: &[u8]) {
        self.stats.packets_in += 1;
        let Ok(ip) = IpPacket::parse(packet) else {
            self.stats.dropped_malformed += 1;
            return;
        };
        let dst = ip.dst();
        let for_us = self.addresses.contains(&dst);
        match ip.protocol() {
            PROTO_TCP if for_us || self.any_destination => {
                let now = self.now();
                let before = self.ep.stats();
                self.ep.handle_packet(now, packet);
                let after = self.ep.stats();
                self.stats.dropped_bad_checksum += after.bad_checksum - before.bad_checksum;
                self.stats.segments_in += 1;
            }
            PROTO_ICMP | PROTO_ICMPV6 if for_us => self.icmp(&ip, packet),
            PROTO_TCP | PROTO_ICMP | PROTO_ICMPV6 => self.stats.dropped_not_for_us += 1,
            _ => self.stats.dropped_protocol += 1,
        }
    }

    /// ICMP: answer echo requests; hand errors to the core.
    fn icmp(&mut self, ip: &IpPacket<'_>, packet: &[u8]) {
        let (src, dst) = (ip.src(), ip.dst());
        let msg = match (src, dst) {
            (IpAddr::V4(_), _) => IcmpMessage::parse_v4(ip.payload()),
            (IpAddr::V6(s), IpAddr::V6(d)) => IcmpMessage::parse_v6(ip.payload(), s, d),
            _ => return,
        };
        let Ok(msg) = msg else {
            self.stats.dropped_malformed += 1;
            return;
        };
        match msg.kind {
            IcmpKind::EchoRequest { ident, seq } => {
                let reply = IcmpMessage { kind: IcmpKind::EchoReply { ident, seq }, body: msg.body };
                let mut icmp = vec![0u8; 8 + msg.body.len()];
                let n = match (dst, src) {
                    (IpAddr::V4(_), IpAddr::V4(_)) => reply.emit_v4(&mut icmp),
                    (IpAddr::V6(s), IpAddr::V6(d)) => reply.emit_v6(&mut icmp, s, d),
                    _ => return,
                };
                let Ok(n) = n else { return };
                let proto = if dst.is_ipv4() { PROTO_ICMP } else { PROTO_ICMPV6 };
                let hdr = IpRepr { src: dst, dst: src, protocol: proto, payload_len: n, hop_limit: 64 };
                let mut out = vec![0u8; hdr.header_len() + n];
                if let Ok(hl) = hdr.emit(&mut out) {
                    out[hl..].copy_from_slice(&icmp[..n]);
                    self.replies.push(out);
                    self.stats.pings_answered += 1;
                }
            }
            kind if kind.is_error() => {
                let now = self.now();
                self.ep.handle_packet(now, packet);
            }
            _ => {}
        }
    }
}

/// Logs retransmissions with `tracing`, and passes everything to the user's tracer.
struct LogTracer {
    user: Option<Box<dyn synack_core::Tracer>>,
}

impl synack_core::Tracer for LogTracer {
    fn packet(&mut self, now: Instant, dir: synack_core::Direction, bytes: &[u8]) {
        if let Some(u) = self.user.as_mut() {
            u.packet(now, dir, bytes);
        }
    }

    fn state_change(&mut self, now: Instant, tuple: synack_core::FourTuple, from: State, to: State) {
        if let Some(u) = self.user.as_mut() {
            u.state_change(now, tuple, from, to);
        }
    }

    fn retransmission(&mut self, now: Instant, tuple: synack_core::FourTuple, timeout: bool) {
        tracing::debug!(local = %tuple.local, remote = %tuple.remote, timeout, "retransmission");
        if let Some(u) = self.user.as_mut() {
            u.retransmission(now, tuple, timeout);
        }
    }
}

/// What the driver shares with the sockets.
pub(crate) struct Shared {
    inner: Mutex<Inner>,
    /// Wakes the driver: there may be something to send.
    pub notify: Notify,
    /// Signals that the driver has stopped.
    stopped: Notify,
}

impl Shared {
    pub fn lock(&self) -> MutexGuard<'_, Inner> {
        self.inner.lock().unwrap_or_else(|p| p.into_inner())
    }
}

/// A userspace TCP/IP stack on a device, driven by a tokio task.
#[derive(Clone)]
pub struct Stack {
    pub(crate) shared: Arc<Shared>,
}

impl std::fmt::Debug for Stack {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Stack").field("addresses", &self.shared.lock().addresses).finish_non_exhaustive()
    }
}

impl Stack {
    /// Starts a stack on `device` (spawns its driver on the current tokio runtime).
    pub fn new<D: Device>(device: D, cfg: StackConfig) -> Stack {
        let secret =
            cfg.secret.unwrap_or_else(|| (u128::from(fastrand::u64(..)) << 64) | u128::from(fastrand::u64(..)));
        let mut tcp = cfg.tcp;
        tcp.mtu = tcp.mtu.min(u16::try_from(device.mtu()).unwrap_or(u16::MAX));
        let mut inner = Inner {
            ep: Endpoint::new(tcp, secret),
            addresses: cfg.addresses,
            any_destination: false,
            conns: HashMap::new(),
            accept_wakers: HashMap::new(),
            epoch: std::time::Instant::now(),
            stats: StackStats::default(),
            stopping: false,
            replies: Vec::new(),
        };
        inner.ep.set_tracer(Box::new(LogTracer { user: None }));
        let shared = Arc::new(Shared { inner: Mutex::new(inner), notify: Notify::new(), stopped: Notify::new() });
        let span = tracing::info_span!("synack_stack", addresses = ?shared.lock().addresses);
        tokio::spawn(tracing::Instrument::instrument(drive(shared.clone(), device), span));
        Stack { shared }
    }

    /// Observes every segment in or out, every state change and every
    /// retransmission (the ladder of `synack --trace`). Retransmissions are
    /// also logged with `tracing` whether or not a tracer is set.
    pub fn set_tracer(&self, tracer: Box<dyn synack_core::Tracer>) {
        self.shared.lock().ep.set_tracer(Box::new(LogTracer { user: Some(tracer) }));
    }

    /// The stack's addresses.
    pub fn addresses(&self) -> Vec<IpAddr> {
        self.shared.lock().addresses.clone()
    }

    /// Counters.
    pub fn stats(&self) -> StackStats {
        let inner = self.shared.lock();
        let mut s = inner.stats;
        let e = inner.ep.stats();
        s.segments_out = e.packets_out;
        s.resets_sent = e.resets_for_closed;
        s.connections_opened = e.connections_opened;
        s.syn_cookies_sent = e.syn_cookies_sent;
        s.syn_cookies_accepted = e.syn_cookies_accepted;
        s
    }

    /// Live connections (including TIME-WAIT).
    pub fn connection_count(&self) -> usize {
        self.shared.lock().ep.connection_count()
    }

    /// Graceful shutdown: every connection sends what it has queued and a
    /// FIN; returns when all have closed (TIME-WAIT counts as closed) or
    /// `timeout` passed, then stops the driver.
    pub async fn shutdown(&self, timeout: Duration) {
        {
            let mut inner = self.shared.lock();
            let now = inner.now();
            let handles: Vec<ConnHandle> = inner.conns.keys().copied().collect();
            for h in handles {
                let _ = inner.ep.shutdown(now, h);
            }
        }
        self.shared.notify.notify_one();
        let deadline = tokio::time::Instant::now() + timeout;
        loop {
            let done = {
                let inner = self.shared.lock();
                inner.conns.keys().all(|&h| matches!(inner.ep.state(h), Ok(State::Closed | State::TimeWait) | Err(_)))
            };
            if done || tokio::time::Instant::now() >= deadline {
                break;
            }
            tokio::time::sleep(Duration::from_millis(5)).await;
        }
        self.stop().await;
    }

    /// Aborts: every connection is reset at once, then the driver stops.
    pub async fn abort(&self) {
        {
            let mut inner = self.shared.lock();
            let now = inner.now();
            let handles: Vec<ConnHandle> = inner.conns.keys().copied().collect();
            for h in handles {
                let _ = inner.ep.abort(now, h);
            }
            inner.dispatch_events();
        }
        self.shared.notify.notify_one();
        tokio::time::sleep(Duration::from_millis(10)).await;
        self.stop().await;
    }

    async fn stop(&self) {
        let stopped = self.shared.stopped.notified();
        self.shared.lock().stopping = true;
        self.shared.notify.notify_one();
        let _ = tokio::time::timeout(Duration::from_secs(1), stopped).await;
    }
}

/// Datagrams read from the device per wake-up; they go to the endpoint
/// together, under one acquisition of the lock.
const BATCH: usize = 64;

/// Emitted datagram buffers kept for reuse (no allocation per packet).
const SPARE_BUFFERS: usize = 256;

/// The driver: moves datagrams between the device and the endpoint, runs
/// the timers, and wakes sockets.
async fn drive<D: Device>(shared: Arc<Shared>, mut dev: D) {
    let mtu = dev.mtu().max(1280);
    let mut rx: Vec<Vec<u8>> = (0..BATCH).map(|_| vec![0u8; mtu + 64]).collect();
    let mut rx_len = [0usize; BATCH];
    let mut out: Vec<Vec<u8>> = Vec::new();
    let mut spare: Vec<Vec<u8>> = Vec::new();
    let mut sleep = Box::pin(tokio::time::sleep(Duration::from_secs(3600)));
    loop {
        // Timers, output and events, under the lock.
        let next = {
            let mut inner = shared.lock();
            if inner.stopping {
                break;
            }
            let now = inner.now();
            if inner.ep.poll_timeout().is_some_and(|t| t <= now) {
                inner.ep.handle_timeout(now);
            }
            out.append(&mut inner.replies);
            // Datagrams to our own addresses loop back, as on the kernel's
            // loopback; whatever they cause is sent in the same pass.
            loop {
                let mut buf = spare.pop().unwrap_or_default();
                buf.resize(mtu + 64, 0);
                let Some(n) = inner.ep.poll_transmit(now, &mut buf) else {
                    spare.push(buf);
                    break;
                };
                buf.truncate(n);
                if IpPacket::parse(&buf).is_ok_and(|ip| inner.addresses.contains(&ip.dst())) {
                    inner.input(&buf);
                    spare.push(buf);
                } else {
                    out.push(buf);
                }
            }
            inner.stats.packets_out += out.len() as u64;
            inner.dispatch_events();
            inner.ep.poll_timeout().map(|t| inner.instant_of(t))
        };
        for p in out.drain(..) {
            if let Err(e) = poll_fn(|cx| dev.poll_send(cx, &p)).await {
                tracing::warn!(error = %e, "device send failed");
            }
            if spare.len() < SPARE_BUFFERS {
                spare.push(p);
            }
        }
        sleep.as_mut().reset(next.unwrap_or_else(|| tokio::time::Instant::now() + Duration::from_secs(3600)));
        // Wait for datagrams, a timer, or a socket that has something to send.
        let notified = shared.notify.notified();
        tokio::pin!(notified);
        let r = poll_fn(|cx| {
            let mut got = 0;
            let mut failed = None;
            while got < BATCH {
                match dev.poll_recv(cx, &mut rx[got]) {
                    Poll::Ready(Ok(n)) => {
                        rx_len[got] = n;
                        got += 1;
                    }
                    Poll::Ready(Err(e)) => {
                        failed = Some(e);
                        break;
                    }
                    Poll::Pending => break,
                }
            }
            if got > 0 {
                let mut inner = shared.lock();
                for (buf, &n) in rx.iter().zip(&rx_len[..got]) {
                    inner.input(&buf[..n]);
                }
            }
            if let Some(e) = failed {
                return Poll::Ready(Err(e));
            }
            if got > 0 || notified.as_mut().poll(cx).is_ready() || sleep.as_mut().poll(cx).is_ready() {
                return Poll::Ready(Ok(()));
            }
            Poll::Pending
        })
        .await;
        if let Err(e) = r {
            tracing::error!(error = %e, "device receive failed; the stack stops");
            break;
        }
    }
    shared.stopped.notify_waiters();
    shared.stopped.notify_one();
}

/// Maps a core error to the `io::Error` a `tokio::net` user expects.
pub(crate) fn io_error(e: synack_core::Error) -> io::Error {
    use synack_core::Error as E;
    let kind = match e {
        E::ConnectionRefused => io::ErrorKind::ConnectionRefused,
        E::ConnectionReset => io::ErrorKind::ConnectionReset,
        E::TimedOut => io::ErrorKind::TimedOut,
        E::BrokenPipe => io::ErrorKind::BrokenPipe,
        E::AddrInUse => io::ErrorKind::AddrInUse,
        E::AddrNotAvailable => io::ErrorKind::AddrNotAvailable,
        E::NotConnected | E::InvalidHandle => io::ErrorKind::NotConnected,
        E::ConnectionAborted => io::ErrorKind::ConnectionAborted,
        E::HostUnreachable => io::ErrorKind::HostUnreachable,
        E::WouldBlock => io::ErrorKind::WouldBlock,
        E::InvalidState => io::ErrorKind::InvalidInput,
        E::TooManyConnections => io::ErrorKind::Other,
    };
    io::Error::new(kind, e)
}
