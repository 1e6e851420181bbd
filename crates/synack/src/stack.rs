//! The stack: one synack-core endpoint driven by a tokio task over a
//! device. Who owns what (DESIGN.md): the driver task does all protocol
//! work on the endpoint, which sits behind a lock that only it and
//! control calls (bind, connect, accept, options, info) take; sockets read
//! and write their own queues ([`crate::socket`]). Dropping the last handle
//! (stack, listener or stream) stops the driver and closes the device.

use crate::device::Device;
use crate::lifecycle::StopCause;
use crate::socket::{is_done, Socket};
use std::collections::HashMap;
use std::io;
use std::net::IpAddr;
use std::sync::{Arc, Mutex, MutexGuard};
use std::task::Waker;
use std::time::Duration;
use synack_core::{ConnHandle, Endpoint, Instant, ListenerHandle};
use tokio::sync::Notify;

/// How to build a [`Stack`].
#[derive(Debug, Clone)]
pub struct StackConfig {
    /// The stack's own addresses (IPv4 and/or IPv6).
    pub addresses: Vec<IpAddr>,
    /// The TCP configuration (MTU, buffers, timeouts, ...). The MTU is
    /// lowered to the device's, and `offload` is what the device offers
    /// when [`StackConfig::offload`] is on.
    pub tcp: synack_core::Config,
    /// Seed of the endpoint secret (ISNs, SYN cookies, hashing); when `None`,
    /// drawn from the operating system's CSPRNG.
    pub secret: Option<u128>,
    /// Use the device's segmentation and checksum offload if it has them
    /// (on by default).
    pub offload: bool,
    /// Bytes a socket holds between the user and the core, each way.
    pub socket_buffer: usize,
}

impl StackConfig {
    /// A configuration for these addresses with default TCP settings.
    pub fn new(addresses: Vec<IpAddr>) -> Self {
        StackConfig {
            addresses,
            tcp: synack_core::Config::default(),
            secret: None,
            offload: true,
            socket_buffer: 256 * 1024,
        }
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
    /// SYNs dropped: a listener's queues (or the connection table) full.
    pub syns_dropped: u64,
    /// Handshakes refused because a listener's accept queue was full (the
    /// SYN, or the completing ACK, dropped; Linux's ListenOverflows).
    pub listen_overflows: u64,
    /// TCP super-segments sent (segmentation offload).
    pub super_segments_out: u64,
    /// Coalesced TCP segments received (the device's GRO, or the kernel's TSO).
    pub coalesced_in: u64,
    /// Payload bytes handed from arriving segments straight to a socket's
    /// receive queue, never through the connection's receive buffer.
    pub bytes_in_direct: u64,
}

/// The endpoint and what the driver keeps beside it, behind one lock.
pub(crate) struct Core {
    pub ep: Endpoint,
    pub addresses: Vec<IpAddr>,
    /// Accept connections to any address (a transparent listener exists).
    pub any_destination: bool,
    /// The sockets of live connections the user holds (or that finish sending).
    pub sockets: HashMap<ConnHandle, Arc<Socket>>,
    pub accept_wakers: HashMap<ListenerHandle, Waker>,
    epoch: std::time::Instant,
    pub stats: StackStats,
    /// Replies built by the IP layer (ICMP echo), waiting for the driver.
    pub replies: Vec<Vec<u8>>,
    /// Why the stack stopped, once it has.
    pub stopped: Option<StopCause>,
    /// Addresses `TcpSocket::bind` took that no listener or connection holds yet.
    pub reserved: Vec<std::net::SocketAddr>,
}

impl Core {
    /// The core's clock: microseconds since the stack started.
    pub fn now(&self) -> Instant {
        Instant::from_micros(self.epoch.elapsed().as_micros() as u64)
    }

    /// A core time as a tokio deadline.
    pub fn instant_of(&self, t: Instant) -> tokio::time::Instant {
        tokio::time::Instant::from_std(self.epoch) + Duration::from_micros(t.as_micros())
    }

    /// Fails with the stop cause once the stack stopped.
    pub fn check_running(&self) -> io::Result<()> {
        match &self.stopped {
            Some(c) => Err(c.to_io()),
            None => Ok(()),
        }
    }
}

/// What the driver shares with the handles.
pub(crate) struct Shared {
    core: Mutex<Core>,
    /// Sockets that want the driver's attention.
    service: Mutex<Vec<Arc<Socket>>>,
    /// Wakes the driver: there may be something to do.
    pub notify: Notify,
    /// The driver is asked to stop, for this reason.
    stop_request: Mutex<Option<StopCause>>,
    /// Signals that the driver has stopped.
    pub stopped: Notify,
    /// Bytes a socket's queues hold each way.
    pub socket_buffer: usize,
}

impl Shared {
    /// The core, locked.
    pub fn lock(&self) -> MutexGuard<'_, Core> {
        self.core.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// Asks the driver to look at `sock` in its next pass.
    pub fn request_service(&self, sock: &Arc<Socket>) {
        if sock.mark_queued() {
            self.service.lock().unwrap_or_else(|p| p.into_inner()).push(sock.clone());
        }
        self.notify.notify_one();
    }

    /// The sockets that asked for service since the last call.
    pub fn take_service(&self, into: &mut Vec<Arc<Socket>>) {
        let mut list = self.service.lock().unwrap_or_else(|p| p.into_inner());
        std::mem::swap(&mut *list, into);
    }

    /// Asks the driver to stop for `cause` (the first cause wins).
    pub fn request_stop(&self, cause: StopCause) {
        let mut r = self.stop_request.lock().unwrap_or_else(|p| p.into_inner());
        r.get_or_insert(cause);
        drop(r);
        self.notify.notify_one();
    }

    /// The stop the driver was asked for, if any.
    pub fn stop_requested(&self) -> Option<StopCause> {
        self.stop_request.lock().unwrap_or_else(|p| p.into_inner()).clone()
    }

    /// Records that the stack stopped: every socket and waiter learns why.
    pub fn mark_stopped(&self, cause: StopCause) {
        let mut wakers = Vec::new();
        {
            let mut core = self.lock();
            if core.stopped.is_some() {
                return;
            }
            core.stopped = Some(cause.clone());
            for sock in core.sockets.values() {
                sock.stop(&cause, &mut wakers);
            }
            wakers.extend(core.accept_wakers.drain().map(|(_, w)| w));
        }
        for w in wakers {
            w.wake();
        }
        self.stopped.notify_waiters();
    }
}

/// The user's hold on a stack: when the last one goes, the driver stops.
pub(crate) struct Owner {
    pub shared: Arc<Shared>,
}

impl Drop for Owner {
    fn drop(&mut self) {
        self.shared.request_stop(StopCause::Dropped);
    }
}

/// A userspace TCP/IP stack on a device, driven by a tokio task.
#[derive(Clone)]
pub struct Stack {
    pub(crate) owner: Arc<Owner>,
}

impl std::fmt::Debug for Stack {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Stack").field("addresses", &self.shared().lock().addresses).finish_non_exhaustive()
    }
}

/// Draws the endpoint secret from the operating system's CSPRNG.
///
/// Fails only without any OS randomness source; then the stack cannot keep
/// its ISNs and cookies secret, and refuses to start rather than pretend.
fn os_secret() -> io::Result<u128> {
    let mut b = [0u8; 16];
    getrandom::fill(&mut b)
        .map_err(|e| io::Error::other(format!("the operating system's random number generator is unavailable: {e}")))?;
    Ok(u128::from_ne_bytes(b))
}

impl Stack {
    /// Starts a stack on `device`: its driver is spawned on the current
    /// tokio runtime. Fails with `InvalidInput` when the configuration is
    /// invalid (`synack_core::Config::validate`, or no address), and with
    /// `Other` outside a tokio runtime.
    pub fn new<D: Device>(device: D, cfg: StackConfig) -> io::Result<Stack> {
        let runtime = tokio::runtime::Handle::try_current().map_err(|_| {
            io::Error::other("Stack::new needs a tokio runtime: call it within one (#[tokio::main], block_on, enter)")
        })?;
        if cfg.addresses.is_empty() {
            return Err(io::Error::new(io::ErrorKind::InvalidInput, "a stack needs at least one address"));
        }
        let secret = match cfg.secret {
            Some(s) => s,
            None => os_secret()?,
        };
        let mut tcp = cfg.tcp;
        tcp.mtu = tcp.mtu.min(u16::try_from(device.mtu()).unwrap_or(u16::MAX));
        tcp.offload = if cfg.offload { device.offload() } else { Default::default() };
        let mut ep = Endpoint::new(tcp, secret)
            .map_err(|e| io::Error::new(io::ErrorKind::InvalidInput, format!("invalid configuration: {e}")))?;
        ep.set_tracer(Box::new(crate::driver::LogTracer { user: None }));
        let core = Core {
            ep,
            addresses: cfg.addresses,
            any_destination: false,
            sockets: HashMap::new(),
            accept_wakers: HashMap::new(),
            epoch: std::time::Instant::now(),
            stats: StackStats::default(),
            replies: Vec::new(),
            stopped: None,
            reserved: Vec::new(),
        };
        let shared = Arc::new(Shared {
            core: Mutex::new(core),
            service: Mutex::new(Vec::new()),
            notify: Notify::new(),
            stop_request: Mutex::new(None),
            stopped: Notify::new(),
            socket_buffer: cfg.socket_buffer.max(1),
        });
        let span = tracing::info_span!("synack_stack", addresses = ?shared.lock().addresses);
        runtime.spawn(tracing::Instrument::instrument(crate::driver::drive(shared.clone(), device), span));
        Ok(Stack { owner: Arc::new(Owner { shared }) })
    }

    pub(crate) fn shared(&self) -> &Arc<Shared> {
        &self.owner.shared
    }

    /// Observes every segment in or out, every state change and every
    /// retransmission (the ladder of `synack --trace`). Retransmissions are
    /// also logged with `tracing` whether or not a tracer is set.
    pub fn set_tracer(&self, tracer: Box<dyn synack_core::Tracer>) {
        self.shared().lock().ep.set_tracer(Box::new(crate::driver::LogTracer { user: Some(tracer) }));
    }

    /// The stack's addresses.
    pub fn addresses(&self) -> Vec<IpAddr> {
        self.shared().lock().addresses.clone()
    }

    /// Counters.
    pub fn stats(&self) -> StackStats {
        let core = self.shared().lock();
        let mut s = core.stats;
        let e = core.ep.stats();
        s.segments_out = e.packets_out;
        s.resets_sent = e.resets_for_closed;
        s.connections_opened = e.connections_opened;
        s.syn_cookies_sent = e.syn_cookies_sent;
        s.syn_cookies_accepted = e.syn_cookies_accepted;
        s.syns_dropped = e.syns_dropped;
        s.listen_overflows = e.listen_overflows;
        s
    }

    /// Live connections (including TIME-WAIT).
    pub fn connection_count(&self) -> usize {
        self.shared().lock().ep.connection_count()
    }

    /// Graceful shutdown: every connection sends what it has queued and a
    /// FIN; returns when all have closed (TIME-WAIT counts as closed) or
    /// `timeout` passed, then stops the driver.
    pub async fn shutdown(&self, timeout: Duration) {
        let socks: Vec<Arc<Socket>> = self.shared().lock().sockets.values().cloned().collect();
        for s in &socks {
            if s.shutdown().unwrap_or(false) {
                self.shared().request_service(s);
            }
        }
        let deadline = tokio::time::Instant::now() + timeout;
        loop {
            let done = {
                let core = self.shared().lock();
                core.stopped.is_some() || core.sockets.keys().all(|&h| is_done(core.ep.state(h)))
            };
            if done || tokio::time::Instant::now() >= deadline {
                break;
            }
            tokio::time::sleep(Duration::from_millis(5)).await;
        }
        self.stop(StopCause::Shutdown).await;
    }

    /// Aborts: every connection is reset at once, then the driver stops.
    pub async fn abort(&self) {
        {
            let mut core = self.shared().lock();
            let now = core.now();
            let handles: Vec<ConnHandle> = core.sockets.keys().copied().collect();
            for h in handles {
                let _ = core.ep.abort(now, h);
            }
        }
        self.stop(StopCause::Aborted).await;
    }

    /// Asks the driver to stop and waits (at most a second) until it has.
    async fn stop(&self, cause: StopCause) {
        let stopped = self.shared().stopped.notified();
        tokio::pin!(stopped);
        stopped.as_mut().enable();
        if self.shared().lock().stopped.is_some() {
            return;
        }
        self.shared().request_stop(cause);
        let _ = tokio::time::timeout(Duration::from_secs(1), stopped).await;
    }

    /// Waits until the stack has stopped, and says why.
    pub async fn closed(&self) -> StopCause {
        loop {
            let stopped = self.shared().stopped.notified();
            tokio::pin!(stopped);
            stopped.as_mut().enable();
            if let Some(c) = self.error() {
                return c;
            }
            stopped.await;
        }
    }

    /// Why the stack stopped, once it has; `None` while it runs.
    pub fn error(&self) -> Option<StopCause> {
        self.shared().lock().stopped.clone()
    }
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
        E::InvalidState | E::InvalidArgument => io::ErrorKind::InvalidInput,
        E::TooManyConnections => io::ErrorKind::Other,
    };
    io::Error::new(kind, e)
}
