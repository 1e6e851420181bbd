//! The endpoint: every connection and listener of one host, the demux table,
//! SYN and accept queues, port choice, ISNs, timers, and the output queue
//! (RFC 9293 §3.10 user calls and §3.10.7.1 for segments to no connection).

mod challenge;
pub(crate) mod cookie;
mod input;
mod keyed;
mod output;

use crate::connection::Connection;
use crate::connection::Opening;
use crate::error::{CloseReason, Error};
use crate::event::{Event, Tracer};
use crate::seq::SeqNum;
use crate::time::Instant;
use crate::{Config, ConfigError, ConnHandle, ConnectionInfo, FourTuple, ListenerHandle, SocketOptions, State};
use challenge::ChallengeLimiter;
use core::fmt;
use core::net::SocketAddr;
use keyed::KeyedHasher;
use std::collections::{BTreeSet, HashMap, VecDeque};
use synack_wire::TcpRepr;

/// Endpoint-wide counters.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub struct EndpointStats {
    /// Packets given to `handle_packet`.
    pub packets_in: u64,
    /// Packets returned by `poll_transmit`.
    pub packets_out: u64,
    /// Packets that did not parse (bad IP or TCP header).
    pub malformed: u64,
    /// TCP segments with a bad checksum.
    pub bad_checksum: u64,
    /// Fragments and packets of protocols other than TCP and ICMP.
    pub unsupported: u64,
    /// Resets sent for segments that matched no connection (§3.10.7.1).
    pub resets_for_closed: u64,
    /// SYNs dropped because the SYN queue, accept queue or table was full.
    pub syns_dropped: u64,
    /// Handshakes refused because a listener's accept queue was full: the
    /// SYN, or the ACK that would complete it, dropped (Linux's ListenOverflows).
    pub listen_overflows: u64,
    /// ICMP errors acted on.
    pub icmp_accepted: u64,
    /// ICMP errors ignored (no connection, or the quoted sequence number failed validation).
    pub icmp_ignored: u64,
    /// Connections opened (both directions).
    pub connections_opened: u64,
    /// SYN-ACKs sent with a SYN cookie (RFC 4987 §3.6).
    pub syn_cookies_sent: u64,
    /// Connections made from a valid returned cookie.
    pub syn_cookies_accepted: u64,
    /// ACKs at a listener that did not carry a valid cookie.
    pub syn_cookies_invalid: u64,
    /// Challenge ACKs not sent because of the limit of RFC 5961 §7.
    pub challenge_acks_limited: u64,
}

/// One slot of the connection slab.
struct Slot {
    generation: u32,
    entry: Option<Entry>,
}

/// A live connection and the endpoint's bookkeeping for it.
struct Entry {
    conn: Connection,
    /// Deadline registered in `Endpoint::timers`.
    /// Time registered in `Endpoint::timers`: never later than the
    /// connection's real deadline (it may be earlier, see `settle`).
    deadline: Option<Instant>,
    /// In `Endpoint::ready`.
    queued: bool,
    /// The user holds a handle (active opens and accepted connections).
    user_owned: bool,
}

/// A passive open point (RFC 9293 §3.10.1, passive OPEN).
struct Listener {
    addr: SocketAddr,
    backlog: usize,
    /// Connections from this listener still in SYN-RECEIVED.
    syn_queue: usize,
    /// Established connections waiting for `accept`.
    accept_queue: VecDeque<ConnHandle>,
    /// When this listener last answered a SYN with a cookie.
    cookie_sent_at: Option<Instant>,
    /// The listening socket's options: its connections inherit them.
    opts: SocketOptions,
}

impl Listener {
    /// Linux's sk_acceptq_is_full: more than `backlog` connections wait.
    fn accept_queue_full(&self) -> bool {
        self.accept_queue.len() > self.backlog
    }
}

/// A segment sent with no connection behind it, waiting to go out.
struct StatelessReply {
    tuple: FourTuple,
    kind: Reply,
}

/// What a stateless reply is.
enum Reply {
    /// A RST for a segment that matched no connection.
    Rst(TcpRepr),
    /// A SYN-ACK with a SYN cookie for the SYN described.
    /// `listener` is the index of the listener whose options it carries.
    CookieSynAck { cookie: SeqNum, syn: CookieSyn, listener: u32 },
}

/// What a SYN-ACK with a cookie needs of the SYN it answers.
struct CookieSyn {
    seq: SeqNum,
    window: u16,
    options: synack_wire::TcpOptions,
}

/// Most stateless replies queued at once; more are dropped (a flood of
/// junk must not grow memory; a peer whose SYN-ACK is dropped sends its SYN again).
const MAX_PENDING_REPLIES: usize = 64;

/// All the TCP of one host: connections, listeners, timers, and output.
pub struct Endpoint {
    cfg: Config,
    keys: KeyedHasher,
    isn_key: KeyedHasher,
    slots: Vec<Slot>,
    free: Vec<u32>,
    live: usize,
    table: HashMap<FourTuple, u32, KeyedHasher>,
    listeners: Vec<(u32, Option<Listener>)>,
    listener_by_addr: HashMap<SocketAddr, u32, KeyedHasher>,
    timers: BTreeSet<(Instant, u32)>,
    /// Scratch list of connections whose timers are due (kept to avoid allocating).
    due: Vec<u32>,
    ready: VecDeque<u32>,
    replies: VecDeque<StatelessReply>,
    cookies: cookie::CookieJar,
    events: VecDeque<Event>,
    port_cursor: u32,
    tracer: Option<Box<dyn Tracer>>,
    challenges: ChallengeLimiter,
    stats: EndpointStats,
}

impl fmt::Debug for Endpoint {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Endpoint").field("connections", &self.live).field("stats", &self.stats).finish_non_exhaustive()
    }
}

impl Endpoint {
    /// A new endpoint, if `cfg` is valid ([`Config::validate`]). `secret`
    /// keys the connection table's hash, the ISNs (RFC 6528), SYN cookies
    /// and port choice; give each host its own secret from a CSPRNG (a fixed
    /// one makes runs reproducible).
    pub fn new(cfg: Config, secret: u128) -> Result<Self, ConfigError> {
        cfg.validate()?;
        let keys = KeyedHasher::new(secret);
        Ok(Self {
            isn_key: keys.derive(1),
            table: HashMap::with_hasher(keys.derive(2)),
            listener_by_addr: HashMap::with_hasher(keys.derive(3)),
            keys,
            cfg,
            slots: Vec::new(),
            free: Vec::new(),
            live: 0,
            listeners: Vec::new(),
            timers: BTreeSet::new(),
            due: Vec::new(),
            ready: VecDeque::new(),
            replies: VecDeque::new(),
            cookies: cookie::CookieJar::new(keys.derive(4)),
            events: VecDeque::new(),
            port_cursor: 0,
            tracer: None,
            challenges: ChallengeLimiter::default(),
            stats: EndpointStats::default(),
        })
    }

    /// The configuration.
    pub fn config(&self) -> &Config {
        &self.cfg
    }

    /// Changes the configuration through `f`, if the result is valid
    /// ([`Config::validate`]); otherwise nothing changes. Connections opened
    /// later use the new values, and live connections see them from their
    /// next event on.
    pub fn update_config(&mut self, f: impl FnOnce(&mut Config)) -> Result<(), ConfigError> {
        let mut next = self.cfg.clone();
        f(&mut next);
        next.validate()?;
        self.cfg = next;
        Ok(())
    }

    /// Installs an observer of every packet and state change.
    pub fn set_tracer(&mut self, tracer: Box<dyn Tracer>) {
        self.tracer = Some(tracer);
    }

    /// Endpoint-wide counters.
    pub fn stats(&self) -> EndpointStats {
        self.stats
    }

    /// Number of live connections (including TIME-WAIT and unaccepted ones).
    pub fn connection_count(&self) -> usize {
        self.live
    }

    /// The next event for the application, if any.
    pub fn poll_event(&mut self) -> Option<Event> {
        self.events.pop_front()
    }

    /// When [`Endpoint::handle_timeout`] should next be called. It may be
    /// early (a timer that was pushed back); calling early is harmless.
    pub fn poll_timeout(&self) -> Option<Instant> {
        self.timers.first().map(|&(t, _)| t)
    }

    /// Runs every timer that is due at `now` (RFC 9293 §3.10.8).
    pub fn handle_timeout(&mut self, now: Instant) {
        // Take every due entry first, so a connection that re-arms a timer
        // in the past is handled on the next call rather than looping here.
        let mut due = core::mem::take(&mut self.due);
        due.clear();
        while let Some(&(t, idx)) = self.timers.first() {
            if t > now {
                break;
            }
            self.timers.pop_first();
            due.push(idx);
        }
        for &idx in &due {
            if let Some(e) = self.slots.get_mut(idx as usize).and_then(|s| s.entry.as_mut()) {
                e.deadline = None;
                // The entry may be stale (the deadline moved later since): then
                // `settle` just registers the real one.
                if e.conn.next_deadline().is_some_and(|d| d <= now) {
                    e.conn.on_timeout(now, &self.cfg);
                }
            }
            self.after(now, idx);
        }
        self.due = due;
    }

    // ----- user calls (RFC 9293 §3.10.1 - §3.10.6) -----

    /// Passive OPEN: listen on `addr` (an unspecified IP listens on every
    /// address of that family). As Linux's listen(2): `backlog` is capped
    /// at [`Config::max_backlog`]; the SYN queue takes that many half-open
    /// connections (then SYN cookies, [`Config::syn_cookies`]) and the
    /// accept queue one more than that many established ones.
    pub fn listen(&mut self, addr: SocketAddr, backlog: usize) -> Result<ListenerHandle, Error> {
        let opts = self.socket_options();
        self.listen_with(addr, backlog, &opts)
    }

    /// [`Endpoint::listen`] for a socket with these options; the connections
    /// it accepts start with them.
    pub fn listen_with(
        &mut self,
        addr: SocketAddr,
        backlog: usize,
        opts: &SocketOptions,
    ) -> Result<ListenerHandle, Error> {
        opts.validate()?;
        if addr.port() == 0 {
            return Err(Error::AddrNotAvailable);
        }
        if self.listener_by_addr.contains_key(&addr) {
            return Err(Error::AddrInUse);
        }
        Ok(self.add_listener(addr, backlog, opts))
    }

    /// The options a new socket on this endpoint has (from its [`Config`]).
    pub fn socket_options(&self) -> SocketOptions {
        SocketOptions::from_config(&self.cfg)
    }

    /// The options a listener's connections inherit.
    pub fn listener_options(&self, listener: ListenerHandle) -> Result<&SocketOptions, Error> {
        match self.listeners.get(listener.index as usize) {
            Some((g, Some(l))) if *g == listener.generation => Ok(&l.opts),
            _ => Err(Error::InvalidHandle),
        }
    }

    /// Changes a listener's options (setsockopt on a listening socket):
    /// connections it accepts from now on start with them.
    pub fn set_listener_options(&mut self, listener: ListenerHandle, opts: &SocketOptions) -> Result<(), Error> {
        opts.validate()?;
        self.listener_mut(listener)?.opts = opts.clone();
        Ok(())
    }

    fn add_listener(&mut self, addr: SocketAddr, backlog: usize, opts: &SocketOptions) -> ListenerHandle {
        let listener = Listener {
            addr,
            backlog: backlog.min(self.cfg.max_backlog),
            syn_queue: 0,
            accept_queue: VecDeque::new(),
            cookie_sent_at: None,
            opts: opts.clone(),
        };
        let index = match self.listeners.iter().position(|(_, l)| l.is_none()) {
            Some(i) => {
                self.listeners[i].0 = self.listeners[i].0.wrapping_add(1);
                self.listeners[i].1 = Some(listener);
                i
            }
            None => {
                self.listeners.push((0, Some(listener)));
                self.listeners.len() - 1
            }
        };
        self.listener_by_addr.insert(addr, index as u32);
        ListenerHandle { index: index as u32, generation: self.listeners[index].0 }
    }

    /// A listener for connections to any address and port that no other
    /// listener takes (a transparent proxy's). Accepted connections keep the
    /// destination the peer used as their local address.
    pub fn listen_any(&mut self, backlog: usize) -> Result<ListenerHandle, Error> {
        let opts = self.socket_options();
        self.listen_any_with(backlog, &opts)
    }

    /// [`Endpoint::listen_any`] for a socket with these options.
    pub fn listen_any_with(&mut self, backlog: usize, opts: &SocketOptions) -> Result<ListenerHandle, Error> {
        opts.validate()?;
        let v4 = SocketAddr::new(core::net::IpAddr::V4(core::net::Ipv4Addr::UNSPECIFIED), 0);
        if self.listener_by_addr.contains_key(&v4) {
            return Err(Error::AddrInUse);
        }
        let h = self.add_listener(v4, backlog, opts);
        let v6 = SocketAddr::new(core::net::IpAddr::V6(core::net::Ipv6Addr::UNSPECIFIED), 0);
        self.listener_by_addr.insert(v6, h.index);
        Ok(h)
    }

    /// The next established connection of a listener, or `WouldBlock`.
    pub fn accept(&mut self, listener: ListenerHandle) -> Result<ConnHandle, Error> {
        self.listener_mut(listener)?;
        while let Some(h) = self.listener_mut(listener)?.accept_queue.pop_front() {
            let Some(idx) = Self::index_of(&self.slots, h) else { continue };
            if let Some(e) = self.slots[idx as usize].entry.as_mut() {
                e.user_owned = true;
            }
            return Ok(h);
        }
        Err(Error::WouldBlock)
    }

    /// Established connections waiting in a listener's accept queue.
    pub fn pending_accepts(&self, listener: ListenerHandle) -> Result<usize, Error> {
        match self.listeners.get(listener.index as usize) {
            Some((g, Some(l))) if *g == listener.generation => {
                Ok(l.accept_queue.iter().filter(|h| Self::index_of(&self.slots, **h).is_some()).count())
            }
            _ => Err(Error::InvalidHandle),
        }
    }

    /// Stops listening. Connections not yet accepted are reset (as Linux does).
    pub fn close_listener(&mut self, now: Instant, listener: ListenerHandle) -> Result<(), Error> {
        self.listener_mut(listener)?;
        let l = self.listeners[listener.index as usize].1.take().expect("checked above");
        self.listener_by_addr.retain(|_, i| *i != listener.index);
        for h in l.accept_queue {
            if let Some(idx) = Self::index_of(&self.slots, h) {
                self.with_conn(now, idx, |c, cfg| c.abort(now, cfg));
            }
        }
        // Half-open connections of this listener are dropped with a RST too.
        let orphans: Vec<u32> = self
            .table
            .values()
            .copied()
            .filter(|&i| {
                self.slots[i as usize].entry.as_ref().is_some_and(|e| {
                    e.conn.state() == State::SynReceived
                        && e.conn.origin() == crate::connection::Origin::Passive(listener.index)
                })
            })
            .collect();
        for idx in orphans {
            self.with_conn(now, idx, |c, cfg| c.abort(now, cfg));
        }
        Ok(())
    }

    /// The address a listener listens on.
    pub fn listener_addr(&self, listener: ListenerHandle) -> Result<SocketAddr, Error> {
        match self.listeners.get(listener.index as usize) {
            Some((g, Some(l))) if *g == listener.generation => Ok(l.addr),
            _ => Err(Error::InvalidHandle),
        }
    }

    /// Active OPEN (RFC 9293 §3.10.1): a SYN to `remote` from `local`. A
    /// local port of 0 picks a free ephemeral port (RFC 6056 §3.3.3).
    pub fn connect(&mut self, now: Instant, local: SocketAddr, remote: SocketAddr) -> Result<ConnHandle, Error> {
        let opts = self.socket_options();
        self.connect_with(now, local, remote, &opts)
    }

    /// [`Endpoint::connect`] for a socket with these options.
    pub fn connect_with(
        &mut self,
        now: Instant,
        local: SocketAddr,
        remote: SocketAddr,
        opts: &SocketOptions,
    ) -> Result<ConnHandle, Error> {
        opts.validate()?;
        // RFC 9293 MUST-46: no OPEN to a broadcast or multicast address.
        if local.is_ipv4() != remote.is_ipv4()
            || local.ip().is_unspecified()
            || remote.ip().is_unspecified()
            || remote.port() == 0
            || input::is_broadcast_or_multicast(remote.ip())
        {
            return Err(Error::AddrNotAvailable);
        }
        if self.live >= self.cfg.max_connections {
            return Err(Error::TooManyConnections);
        }
        let tuple = if local.port() == 0 {
            self.pick_port(local, remote)?
        } else {
            let t = FourTuple { local, remote };
            if self.table.contains_key(&t) {
                return Err(Error::AddrInUse);
            }
            t
        };
        let iss = SeqNum(self.isn_key.isn(now, &tuple));
        let o = Opening { tuple, iss, ts_offset: self.isn_key.ts_offset(&tuple), opts };
        let conn = Connection::new_active(now, &self.cfg, &o);
        let idx = self.insert(conn, true);
        self.after(now, idx);
        Ok(self.handle_of(idx))
    }

    /// Opens a connection with a chosen initial sequence number (for tests
    /// and scripts that need a known ISS, e.g. near 2^32).
    pub fn connect_with_iss(
        &mut self,
        now: Instant,
        local: SocketAddr,
        remote: SocketAddr,
        iss: u32,
    ) -> Result<ConnHandle, Error> {
        let h = self.connect(now, local, remote)?;
        let idx = h.index;
        let tuple = self.tuple(h)?;
        let opts = self.socket_options();
        let o = Opening { tuple, iss: SeqNum(iss), ts_offset: self.isn_key.ts_offset(&tuple), opts: &opts };
        let conn = Connection::new_active(now, &self.cfg, &o);
        if let Some(e) = self.entry_mut(idx) {
            e.conn = conn;
        }
        self.after(now, idx);
        Ok(h)
    }

    /// SEND (§3.10.2): queues as much of `data` as fits; returns the count.
    pub fn send(&mut self, now: Instant, h: ConnHandle, data: &[u8]) -> Result<usize, Error> {
        self.send_more(now, h, data, false)
    }

    /// SEND with Linux's MSG_MORE when `more`: more data follows, so the
    /// write's trailing partial segment waits (until the next write, ACK or
    /// timer, which send it under Nagle's rules).
    pub fn send_more(&mut self, now: Instant, h: ConnHandle, data: &[u8], more: bool) -> Result<usize, Error> {
        let idx = self.check(h)?;
        self.with_conn(now, idx, |c, cfg| c.send_flagged(now, cfg, data, more))
    }

    /// SEND with the URGENT flag (§3.10.2, §3.8.5): the segments carrying
    /// `data` point past its end with the urgent pointer.
    pub fn send_urgent(&mut self, now: Instant, h: ConnHandle, data: &[u8]) -> Result<usize, Error> {
        let idx = self.check(h)?;
        self.with_conn(now, idx, |c, cfg| c.send_urgent(now, cfg, data))
    }

    /// How many of the unread bytes are urgent (RFC 9293 MUST-33); 0 when none.
    pub fn urgent_unread(&self, h: ConnHandle) -> Result<usize, Error> {
        Ok(self.conn(h)?.urgent_unread())
    }

    /// Whether the next byte `recv` returns is the last urgent byte, the
    /// mark a read stops before (SIOCATMARK).
    pub fn at_urgent_mark(&self, h: ConnHandle) -> Result<bool, Error> {
        Ok(self.conn(h)?.at_urgent_mark())
    }

    /// RECEIVE (§3.10.3): reads into `buf`; `Ok(0)` is end of stream.
    pub fn recv(&mut self, now: Instant, h: ConnHandle, buf: &mut [u8]) -> Result<usize, Error> {
        let idx = self.check(h)?;
        self.with_conn(now, idx, |c, cfg| c.recv(now, cfg, buf))
    }

    /// RECEIVE into wherever the caller keeps data: up to `max` bytes go to
    /// `f` as slices of the receive buffer (one or two), with no copy
    /// through a scratch buffer. `Ok(0)` is end of stream.
    pub fn recv_with(
        &mut self,
        now: Instant,
        h: ConnHandle,
        max: usize,
        mut f: impl FnMut(&[u8]),
    ) -> Result<usize, Error> {
        let idx = self.check(h)?;
        self.with_conn(now, idx, |c, cfg| c.recv_with(now, cfg, max, &mut f))
    }

    /// Shuts down the write side: FIN after the queued data (CLOSE of §3.10.4, half-close).
    pub fn shutdown(&mut self, now: Instant, h: ConnHandle) -> Result<(), Error> {
        let idx = self.check(h)?;
        self.with_conn(now, idx, |c, cfg| c.shutdown_write(now, cfg))
    }

    /// Shuts down the read side (SHUT_RD, as Linux): a read no longer waits,
    /// returning what is queued and then end of stream.
    pub fn shutdown_read(&mut self, now: Instant, h: ConnHandle) -> Result<(), Error> {
        let idx = self.check(h)?;
        self.with_conn(now, idx, |c, _| c.shutdown_read());
        Ok(())
    }

    /// CLOSE (§3.10.4) and release the handle: the connection finishes on its
    /// own (FIN, TIME-WAIT) and frees itself. Unread data turns it into an
    /// abort with RST. The handle is invalid afterwards.
    pub fn close(&mut self, now: Instant, h: ConnHandle) -> Result<(), Error> {
        let idx = self.check(h)?;
        self.with_conn(now, idx, |c, cfg| c.close(now, cfg));
        Ok(())
    }

    /// ABORT (§3.10.5): RST in synchronized states, CLOSED at once. The
    /// handle stays valid until [`Endpoint::close`].
    pub fn abort(&mut self, now: Instant, h: ConnHandle) -> Result<(), Error> {
        let idx = self.check(h)?;
        self.with_conn(now, idx, |c, cfg| c.abort(now, cfg));
        Ok(())
    }

    /// STATUS (§3.10.6): the connection's state.
    pub fn state(&self, h: ConnHandle) -> Result<State, Error> {
        Ok(self.conn(h)?.state())
    }

    /// STATUS (§3.10.6): counters and estimates (the `tcpi_*` of DRILL.md).
    pub fn info(&self, h: ConnHandle) -> Result<ConnectionInfo, Error> {
        Ok(self.conn(h)?.info(self.cfg.max_rto, self.cfg.mtu))
    }

    /// The connection's addresses.
    pub fn tuple(&self, h: ConnHandle) -> Result<FourTuple, Error> {
        Ok(self.conn(h)?.tuple())
    }

    /// Why the connection closed, once it has.
    pub fn close_reason(&self, h: ConnHandle) -> Result<Option<CloseReason>, Error> {
        Ok(self.conn(h)?.close_reason())
    }

    /// Bytes ready to read.
    pub fn readable_bytes(&self, h: ConnHandle) -> Result<usize, Error> {
        Ok(self.conn(h)?.readable_bytes())
    }

    /// Free space in the send buffer.
    pub fn send_capacity(&self, h: ConnHandle) -> Result<usize, Error> {
        Ok(self.conn(h)?.send_capacity())
    }

    /// Bytes queued and not yet acknowledged.
    pub fn send_queued(&self, h: ConnHandle) -> Result<usize, Error> {
        Ok(self.conn(h)?.send_queued())
    }

    /// TCP_NODELAY: disables Nagle's algorithm when true.
    pub fn set_nodelay(&mut self, now: Instant, h: ConnHandle, nodelay: bool) -> Result<(), Error> {
        let idx = self.check(h)?;
        self.with_conn(now, idx, |c, _| c.set_nodelay(nodelay));
        Ok(())
    }

    /// TCP_CORK: when on, only full-sized segments (and a FIN) are sent;
    /// turning it off sends what waits.
    pub fn set_cork(&mut self, now: Instant, h: ConnHandle, cork: bool) -> Result<(), Error> {
        let idx = self.check(h)?;
        self.with_conn(now, idx, |c, cfg| c.set_cork(now, cfg, cork));
        Ok(())
    }

    /// SO_KEEPALIVE for this connection (RFC 9293 §3.8.4).
    pub fn set_keepalive(&mut self, now: Instant, h: ConnHandle, on: bool) -> Result<(), Error> {
        let idx = self.check(h)?;
        self.with_conn(now, idx, |c, cfg| c.set_keepalive(now, cfg, on));
        Ok(())
    }

    /// The user timeout of RFC 9293 §3.8.3 (TCP_USER_TIMEOUT) for this connection.
    pub fn set_user_timeout(
        &mut self,
        now: Instant,
        h: ConnHandle,
        timeout: Option<core::time::Duration>,
    ) -> Result<(), Error> {
        let idx = self.check(h)?;
        self.with_conn(now, idx, |c, cfg| c.set_user_timeout(now, cfg, timeout));
        Ok(())
    }

    /// Applies a socket's options to its live connection (setsockopt after
    /// connect or accept): what a connection can change, see
    /// [`SocketOptions`]. `InvalidArgument` for options no socket can have.
    pub fn set_options(&mut self, now: Instant, h: ConnHandle, opts: &SocketOptions) -> Result<(), Error> {
        opts.validate()?;
        let idx = self.check(h)?;
        self.with_conn(now, idx, |c, cfg| c.set_options(now, cfg, opts));
        Ok(())
    }

    /// CLOSE as a socket's close does: with SO_LINGER 0 an abort (RST),
    /// otherwise [`Endpoint::close`] (which aborts when unread data waits,
    /// RFC 2525 §2.17).
    pub fn close_with(&mut self, now: Instant, h: ConnHandle, opts: &SocketOptions) -> Result<(), Error> {
        if opts.close_aborts() {
            self.abort(now, h)?;
        }
        self.close(now, h)
    }

    // ----- internals -----

    fn index_of(slots: &[Slot], h: ConnHandle) -> Option<u32> {
        let s = slots.get(h.index as usize)?;
        (s.generation == h.generation && s.entry.is_some()).then_some(h.index)
    }

    /// The slot of a handle the user may still use (not stale, not closed by the user).
    fn check(&self, h: ConnHandle) -> Result<u32, Error> {
        let idx = Self::index_of(&self.slots, h).ok_or(Error::InvalidHandle)?;
        let e = self.slots[idx as usize].entry.as_ref().expect("checked");
        if e.conn.user_closed() {
            return Err(Error::InvalidHandle);
        }
        Ok(idx)
    }

    fn conn(&self, h: ConnHandle) -> Result<&Connection, Error> {
        let idx = self.check(h)?;
        Ok(&self.slots[idx as usize].entry.as_ref().expect("checked").conn)
    }

    fn entry_mut(&mut self, idx: u32) -> Option<&mut Entry> {
        self.slots.get_mut(idx as usize)?.entry.as_mut()
    }

    fn handle_of(&self, idx: u32) -> ConnHandle {
        ConnHandle { index: idx, generation: self.slots[idx as usize].generation }
    }

    fn listener_mut(&mut self, h: ListenerHandle) -> Result<&mut Listener, Error> {
        match self.listeners.get_mut(h.index as usize) {
            Some((g, Some(l))) if *g == h.generation => Ok(l),
            _ => Err(Error::InvalidHandle),
        }
    }

    /// Runs `f` on a connection, then does the endpoint's follow-up work.
    fn with_conn<R>(&mut self, now: Instant, idx: u32, f: impl FnOnce(&mut Connection, &Config) -> R) -> R {
        let e = self.slots[idx as usize].entry.as_mut().expect("live index");
        let r = f(&mut e.conn, &self.cfg);
        self.after(now, idx);
        r
    }

    fn insert(&mut self, conn: Connection, user_owned: bool) -> u32 {
        let tuple = conn.tuple();
        let entry = Entry { conn, deadline: None, queued: false, user_owned };
        let idx = match self.free.pop() {
            Some(i) => {
                let s = &mut self.slots[i as usize];
                s.generation = s.generation.wrapping_add(1);
                s.entry = Some(entry);
                i
            }
            None => {
                self.slots.push(Slot { generation: 0, entry: Some(entry) });
                (self.slots.len() - 1) as u32
            }
        };
        self.table.insert(tuple, idx);
        self.live += 1;
        self.stats.connections_opened += 1;
        idx
    }

    /// After anything happened to connection `idx`: settle it and queue it
    /// for output (it may have something to send now).
    fn after(&mut self, now: Instant, idx: u32) {
        self.settle(now, idx);
        if let Some(e) = self.slots[idx as usize].entry.as_mut() {
            if !e.queued {
                e.queued = true;
                self.ready.push_back(idx);
            }
        }
    }

    /// Reports state changes and events, moves a newly established passive
    /// open to its accept queue, and re-registers the deadline.
    fn settle(&mut self, now: Instant, idx: u32) {
        let handle = self.handle_of(idx);
        let Some(e) = self.slots[idx as usize].entry.as_mut() else { return };
        if !e.conn.pending.is_quiet() {
            self.report(now, idx, handle);
        }
        let e = self.slots[idx as usize].entry.as_mut().expect("live");
        // Lazy re-registration: a deadline that moved later (the common case,
        // a restarted retransmission timer) keeps its earlier entry, which is
        // checked and replaced when it comes due. Only an earlier deadline
        // touches the ordered set.
        if let Some(new) = e.conn.next_deadline() {
            if e.deadline.is_none_or(|old| new < old) {
                if let Some(old) = e.deadline {
                    self.timers.remove(&(old, idx));
                }
                self.timers.insert((new, idx));
                e.deadline = Some(new);
            }
        }
    }

    /// Reports what a connection gathered: state changes and
    /// retransmissions to the tracer, events to the user, passive opens to
    /// their listener.
    fn report(&mut self, now: Instant, idx: u32, handle: ConnHandle) {
        let e = self.slots[idx as usize].entry.as_mut().expect("live");
        let pending = core::mem::take(&mut e.conn.pending);
        let tuple = e.conn.tuple();
        let origin = e.conn.origin();
        if let Some(tracer) = self.tracer.as_mut() {
            for (from, to) in pending.transitions() {
                tracer.state_change(now, tuple, from, to);
            }
            if let Some(timeout) = pending.retransmission {
                tracer.retransmission(now, tuple, timeout);
            }
        }
        let visible = e.user_owned && !e.conn.user_closed();
        if visible {
            if pending.connected {
                self.events.push_back(Event::Connected(handle));
            }
            if pending.readable {
                self.events.push_back(Event::Readable(handle));
            }
            if pending.urgent {
                self.events.push_back(Event::Urgent(handle));
            }
            if pending.writable {
                self.events.push_back(Event::Writable(handle));
            }
            if let Some(reason) = pending.closed {
                self.events.push_back(Event::Closed(handle, reason));
            }
        }
        if let crate::connection::Origin::Passive(li) = origin {
            self.on_passive_progress(idx, li, &pending, handle);
        }
    }

    /// A passive open moved: count it out of the SYN queue when it leaves
    /// SYN-RECEIVED, and queue it for `accept` when it is established.
    fn on_passive_progress(&mut self, idx: u32, li: u32, pending: &crate::connection::Pending, handle: ConnHandle) {
        let left_syn_rcvd = pending.transitions().any(|(from, _)| from == State::SynReceived);
        if !left_syn_rcvd {
            return;
        }
        let Some((_, Some(l))) = self.listeners.get_mut(li as usize) else { return };
        l.syn_queue = l.syn_queue.saturating_sub(1);
        let e = self.slots[idx as usize].entry.as_ref().expect("live");
        if pending.established_passive && !e.user_owned {
            l.accept_queue.push_back(handle);
            self.events
                .push_back(Event::Incoming(ListenerHandle { index: li, generation: self.listeners[li as usize].0 }));
        }
    }

    /// Frees a finished connection's slot when nobody can use it any more.
    fn maybe_free(&mut self, idx: u32) {
        let Some(e) = self.slots[idx as usize].entry.as_ref() else { return };
        let released = !e.user_owned || e.conn.user_closed();
        if !(e.conn.is_finished() && released) {
            return;
        }
        let e = self.slots[idx as usize].entry.take().expect("live");
        if let Some(d) = e.deadline {
            self.timers.remove(&(d, idx));
        }
        let tuple = e.conn.tuple();
        if self.table.get(&tuple) == Some(&idx) {
            self.table.remove(&tuple);
        }
        self.free.push(idx);
        self.live -= 1;
    }

    /// Picks a free local port for `local.ip()` to `remote` (RFC 6056 §3.3.3).
    /// A port of the ephemeral range to bind a listening socket on `ip`
    /// (bind(2) to port 0): no listener, no connection and nothing `taken`
    /// says (ports a socket layer has bound but not used yet) has it.
    pub fn free_port(&mut self, ip: core::net::IpAddr, taken: impl Fn(u16) -> bool) -> Result<u16, Error> {
        let (lo, hi) = self.cfg.ephemeral_ports;
        if lo == 0 || hi < lo {
            return Err(Error::AddrNotAvailable);
        }
        let used: std::collections::HashSet<u16> = self
            .table
            .keys()
            .filter(|t| t.local.ip() == ip || ip.is_unspecified())
            .map(|t| t.local.port())
            .chain(self.listener_by_addr.keys().map(|a| a.port()))
            .collect();
        let n = u32::from(hi - lo) + 1;
        let unspecified = SocketAddr::new(ip, 0);
        let offset = self.keys.port_offset(ip, unspecified);
        for i in 0..n {
            let port = lo + ((offset.wrapping_add(self.port_cursor).wrapping_add(i)) % n) as u16;
            if !used.contains(&port) && !taken(port) {
                self.port_cursor = self.port_cursor.wrapping_add(i + 1);
                return Ok(port);
            }
        }
        Err(Error::AddrNotAvailable)
    }

    fn pick_port(&mut self, local: SocketAddr, remote: SocketAddr) -> Result<FourTuple, Error> {
        let (lo, hi) = self.cfg.ephemeral_ports;
        if lo == 0 || hi < lo {
            return Err(Error::AddrNotAvailable);
        }
        let n = u32::from(hi - lo) + 1;
        let offset = self.keys.port_offset(local.ip(), remote);
        for i in 0..n {
            let port = lo + ((offset.wrapping_add(self.port_cursor).wrapping_add(i)) % n) as u16;
            let t = FourTuple { local: SocketAddr::new(local.ip(), port), remote };
            if !self.table.contains_key(&t) && !self.listener_by_addr.contains_key(&t.local) {
                self.port_cursor = self.port_cursor.wrapping_add(i + 1);
                return Ok(t);
            }
        }
        Err(Error::AddrNotAvailable)
    }
}
