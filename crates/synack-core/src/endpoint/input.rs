//! Packets in: parse, verify, demultiplex to a connection or listener, and
//! answer segments for no connection with RST (RFC 9293 §3.10.7.1 and §3.10.7.2).

use super::{cookie, CookieSyn, Endpoint, Reply, StatelessReply, MAX_PENDING_REPLIES};
use crate::connection::{Connection, IcmpError, Opening, Segment};
use crate::event::Direction;
use crate::seq::SeqNum;
use crate::time::Instant;
use crate::{FourTuple, NoSink, Received, RecvSink, State};
use core::net::{IpAddr, SocketAddr};
use synack_wire::{IcmpKind, IcmpMessage, IpPacket, QuotedTcp, TcpFlags, TcpOptions, TcpPacket, TcpRepr};

impl Endpoint {
    /// Processes one IP datagram that arrived. Anything malformed, with a bad
    /// checksum, or not for TCP is counted and dropped; nothing panics.
    pub fn handle_packet(&mut self, now: Instant, bytes: &[u8]) {
        self.handle_received(now, bytes, Received::default());
    }

    /// [`Endpoint::handle_packet`] for a datagram the device says more of:
    /// its checksum already verified, or that it is a coalesced segment
    /// (GRO) standing for segments of a given size.
    pub fn handle_received(&mut self, now: Instant, bytes: &[u8], info: Received) {
        self.handle_received_into(now, bytes, info, &mut NoSink);
    }

    /// [`Endpoint::handle_received`] that offers in-order data to `sink`
    /// first (direct delivery, see [`RecvSink`]): what it takes never
    /// enters the receive buffer and counts as read.
    pub fn handle_received_into(&mut self, now: Instant, bytes: &[u8], info: Received, sink: &mut dyn RecvSink) {
        self.stats.packets_in += 1;
        if let Some(t) = self.tracer.as_mut() {
            t.packet(now, Direction::In, bytes);
        }
        let Ok(ip) = IpPacket::parse(bytes) else {
            self.stats.malformed += 1;
            return;
        };
        if ip.is_fragment() {
            self.stats.unsupported += 1;
            return;
        }
        match (ip.protocol(), ip.src(), ip.dst()) {
            (synack_wire::PROTO_TCP, src, dst) => self.handle_tcp(now, src, dst, ip.payload(), info, sink),
            (synack_wire::PROTO_ICMP, IpAddr::V4(_), _) => match IcmpMessage::parse_v4(ip.payload()) {
                Ok(msg) => self.handle_icmp(now, msg, false),
                Err(_) => self.stats.malformed += 1,
            },
            (synack_wire::PROTO_ICMPV6, IpAddr::V6(s), IpAddr::V6(d)) => {
                match IcmpMessage::parse_v6(ip.payload(), s, d) {
                    Ok(msg) => self.handle_icmp(now, msg, true),
                    Err(_) => self.stats.malformed += 1,
                }
            }
            _ => self.stats.unsupported += 1,
        }
    }

    fn handle_tcp(
        &mut self,
        now: Instant,
        src: IpAddr,
        dst: IpAddr,
        bytes: &[u8],
        info: Received,
        sink: &mut dyn RecvSink,
    ) {
        let Ok(tcp) = TcpPacket::parse(bytes) else {
            self.stats.malformed += 1;
            return;
        };
        if !info.checksum_verified && !tcp.verify_checksum(src, dst) {
            self.stats.bad_checksum += 1;
            return;
        }
        let tuple =
            FourTuple { local: SocketAddr::new(dst, tcp.dst_port()), remote: SocketAddr::new(src, tcp.src_port()) };
        let seg = Segment {
            seq: SeqNum(tcp.seq()),
            ack: SeqNum(tcp.ack()),
            flags: tcp.flags(),
            window: tcp.window(),
            options: *tcp.options(),
            urgent: tcp.urgent(),
            payload: tcp.payload(),
            segment_size: info.segment_size.filter(|&s| s > 0),
        };
        if let Some(&idx) = self.table.get(&tuple) {
            if self.reuse_time_wait(idx, &seg) {
                self.drop_connection(idx);
            } else if self.completes_into_full_accept_queue(idx, &seg) {
                // Linux (tcp_check_req, tcp_abort_on_overflow off): the ACK
                // is dropped and the connection stays half-open; its
                // SYN-ACK is sent again and the peer's next ACK may find room.
                self.stats.listen_overflows += 1;
                return;
            } else {
                self.segment_for(now, idx, &seg, sink);
                return;
            }
        }
        self.no_connection(now, tuple, &seg);
    }

    /// Gives a segment to its connection; a challenge ACK it asks for is
    /// sent only within the endpoint-wide limit (RFC 5961 §7).
    fn segment_for(&mut self, now: Instant, idx: u32, seg: &Segment<'_>, sink: &mut dyn RecvSink) {
        let mut limiter = self.challenges;
        let h = self.handle_of(idx);
        let limited = self.with_conn(now, idx, |c, cfg| {
            c.on_segment(now, cfg, seg, &mut |data: &[u8]| sink.offer(h, data));
            let wanted = c.take_challenge_request();
            let allowed = wanted && limiter.allow(now, cfg.challenge_ack_limit);
            if allowed {
                c.grant_challenge_ack();
            }
            wanted && !allowed
        });
        self.challenges = limiter;
        if limited {
            self.stats.challenge_acks_limited += 1;
        }
    }

    /// Whether `seg` would complete the handshake of a passive open whose
    /// listener's accept queue is full.
    fn completes_into_full_accept_queue(&self, idx: u32, seg: &Segment<'_>) -> bool {
        let Some(e) = self.slots[idx as usize].entry.as_ref() else { return false };
        let crate::connection::Origin::Passive(li) = e.conn.origin() else { return false };
        if e.conn.state() != State::SynReceived || !seg.flags.ack() || seg.flags.rst() || seg.flags.syn() {
            return false;
        }
        matches!(self.listeners.get(li as usize), Some((_, Some(l))) if l.accept_queue_full())
    }

    /// RFC 9293 §3.6.1 / RFC 6191: a new SYN may reopen a connection in
    /// TIME-WAIT when its sequence number (or timestamp) is beyond the old one.
    fn reuse_time_wait(&self, idx: u32, seg: &Segment<'_>) -> bool {
        let Some(e) = self.slots[idx as usize].entry.as_ref() else { return false };
        e.conn.state() == State::TimeWait
            && seg.flags.syn()
            && !seg.flags.ack()
            && !seg.flags.rst()
            && e.conn.accepts_new_syn(seg)
    }

    /// Removes a connection at once (a TIME-WAIT giving way to a new SYN).
    fn drop_connection(&mut self, idx: u32) {
        let tuple = self.slots[idx as usize].entry.as_ref().expect("live").conn.tuple();
        self.table.remove(&tuple);
        let e = self.slots[idx as usize].entry.as_mut().expect("live");
        // Detach: the slot lingers only if the user still holds its handle.
        e.conn.detach();
        self.maybe_free(idx);
    }

    /// A segment for no connection: a listener (§3.10.7.2) or CLOSED (§3.10.7.1).
    fn no_connection(&mut self, now: Instant, tuple: FourTuple, seg: &Segment<'_>) {
        let flags = seg.flags;
        if flags.rst() {
            return; // An incoming RST is discarded.
        }
        let listener = self
            .listener_by_addr
            .get(&tuple.local)
            .or_else(|| self.listener_by_addr.get(&SocketAddr::new(unspecified(tuple.local.ip()), tuple.local.port())))
            .or_else(|| self.listener_by_addr.get(&SocketAddr::new(unspecified(tuple.local.ip()), 0)))
            .copied();
        if let Some(li) = listener {
            if flags.ack() {
                if flags.syn() || !self.cookie_ack(now, tuple, seg, li) {
                    self.queue_rst(tuple, seg);
                }
            } else if flags.syn() {
                self.passive_open(now, tuple, seg, li);
            }
            return;
        }
        self.queue_rst(tuple, seg);
    }

    /// RFC 9293 §3.10.7.2, third check: a SYN at a listener makes a
    /// connection in SYN-RECEIVED, if the queues have room.
    fn passive_open(&mut self, now: Instant, tuple: FourTuple, seg: &Segment<'_>, li: u32) {
        if is_broadcast_or_multicast(tuple.remote.ip()) || is_broadcast_or_multicast(tuple.local.ip()) {
            return;
        }
        let Some((_, Some(l))) = self.listeners.get_mut(li as usize) else { return };
        // As Linux's tcp_conn_request: cookies once the SYN queue holds
        // `backlog`; with cookies off, a SYN is dropped then, or when the
        // SYN queue nears tcp_max_syn_backlog.
        let syn_queue_full = l.syn_queue >= l.backlog;
        let cookie = self.cfg.syn_cookies.in_use(syn_queue_full);
        let near_max = self.cfg.syn_cookies == crate::SynCookies::Off
            && self.cfg.syn_backlog.saturating_sub(l.syn_queue) < self.cfg.syn_backlog / 4;
        // The accept queue full or the table full: nothing would take the
        // connection, cookie or not.
        if l.accept_queue_full() {
            self.stats.listen_overflows += 1;
            self.stats.syns_dropped += 1;
            return;
        }
        if self.live >= self.cfg.max_connections || (!cookie && (syn_queue_full || near_max)) {
            self.stats.syns_dropped += 1;
            return;
        }
        if cookie {
            l.cookie_sent_at = Some(now);
            self.send_cookie(now, tuple, seg, li);
            return;
        }
        l.syn_queue += 1;
        let iss = SeqNum(self.isn_key.isn(now, &tuple));
        let o = Opening { tuple, iss, ts_offset: self.isn_key.ts_offset(&tuple), opts: &l.opts };
        let conn = Connection::new_passive(now, &self.cfg, &o, li, seg);
        let idx = self.insert(conn, false);
        self.after(now, idx);
    }

    /// Answers a SYN with a SYN-ACK whose ISS is a cookie, keeping no state.
    fn send_cookie(&mut self, now: Instant, tuple: FourTuple, seg: &Segment<'_>, listener: u32) {
        if self.replies.len() >= MAX_PENDING_REPLIES {
            self.stats.syns_dropped += 1;
            return;
        }
        let peer_mss = seg.options.mss.unwrap_or_else(|| Connection::default_peer_mss(tuple.local.is_ipv6()));
        let cookie = self.cookies.make(now, &tuple, seg.seq, peer_mss);
        let syn = CookieSyn { seq: seg.seq, window: seg.window, options: seg.options };
        self.replies.push_back(StatelessReply { tuple, kind: Reply::CookieSynAck { cookie, syn, listener } });
        self.stats.syn_cookies_sent += 1;
    }

    /// An ACK at a listener: if it returns a valid cookie (and cookies are
    /// in use there), the connection it stands for is made and the ACK
    /// processed. False when the segment is to get a RST.
    fn cookie_ack(&mut self, now: Instant, tuple: FourTuple, seg: &Segment<'_>, li: u32) -> bool {
        let Some((_, Some(l))) = self.listeners.get_mut(li as usize) else { return false };
        let recent = l.cookie_sent_at.is_some_and(|t| now.saturating_since(t) < cookie::MAX_AGE);
        if !self.cfg.syn_cookies.in_use(recent) {
            return false;
        }
        let Some(mss) = self.cookies.check(now, &tuple, seg.seq - 1, seg.ack - 1) else {
            self.stats.syn_cookies_invalid += 1;
            // A later segment of a connection that exists only as a cookie
            // (its first segment, which proves the cookie, overtaken or
            // lost) must not be reset: drop it, the peer sends it again.
            // Only a segment that cannot be one gets the reset of RFC 9293
            // §3.10.7.2.
            return self.may_follow_a_cookie(now, &tuple, seg);
        };
        if l.accept_queue_full() || self.live >= self.cfg.max_connections {
            // Valid, but nothing can take it: drop the ACK (the peer will
            // send again), as for a SYN that finds the queues full.
            if l.accept_queue_full() {
                self.stats.listen_overflows += 1;
            }
            self.stats.syns_dropped += 1;
            return true;
        }
        l.syn_queue += 1;
        let tsecr = seg.options.timestamps.filter(|_| self.cfg.timestamps).map(|(_, ecr)| ecr);
        let peer = cookie::decode_ts(mss, tsecr);
        let ts_offset = self.isn_key.ts_offset(&tuple);
        let o = Opening { tuple, iss: seg.ack - 1, ts_offset, opts: &l.opts };
        let conn = Connection::from_cookie(now, &self.cfg, &o, li, seg, peer);
        let idx = self.insert(conn, false);
        self.stats.syn_cookies_accepted += 1;
        // Not yet accepted: no socket can take data directly.
        self.segment_for(now, idx, seg, &mut NoSink);
        true
    }

    /// Whether a segment that did not prove a cookie may still come from a
    /// connection made with one: with timestamps, when it echoes a TSval we
    /// sent within a cookie's lifetime; without, when it carries data or FIN
    /// (a bare ACK with the wrong sequence number is taken as not ours).
    fn may_follow_a_cookie(&self, now: Instant, tuple: &FourTuple, seg: &Segment<'_>) -> bool {
        match seg.options.timestamps.filter(|_| self.cfg.timestamps) {
            Some((_, ecr)) => {
                let ts_now = Connection::ts_clock(now, self.isn_key.ts_offset(tuple));
                u128::from(ts_now.wrapping_sub(ecr)) <= cookie::MAX_AGE.as_millis()
            }
            None => seg.len() > 0,
        }
    }

    /// Queues the RST of RFC 9293 §3.10.7.1 (bounded; excess is dropped).
    fn queue_rst(&mut self, tuple: FourTuple, seg: &Segment<'_>) {
        if self.replies.len() >= MAX_PENDING_REPLIES {
            return;
        }
        let (seq, ack, flags) = if seg.flags.ack() {
            (seg.ack.0, 0, TcpFlags::RST)
        } else {
            (0, (seg.seq + seg.len()).0, TcpFlags::RST | TcpFlags::ACK)
        };
        let repr = TcpRepr {
            src_port: tuple.local.port(),
            dst_port: tuple.remote.port(),
            seq,
            ack,
            flags,
            window: 0,
            urgent: 0,
            options: TcpOptions::default(),
        };
        self.replies.push_back(StatelessReply { tuple, kind: Reply::Rst(repr) });
        self.stats.resets_for_closed += 1;
    }

    /// An ICMP error: find the connection from the quoted header and let it
    /// validate the quoted sequence number (RFC 5927 §4.1).
    fn handle_icmp(&mut self, now: Instant, msg: IcmpMessage<'_>, v6: bool) {
        let err = match msg.kind {
            IcmpKind::PacketTooBig { mtu } => IcmpError::PacketTooBig(mtu),
            // v4: 2 protocol, 3 port unreachable; v6: 4 port unreachable.
            IcmpKind::DestUnreachable { code } => {
                IcmpError::Unreachable { hard: if v6 { code == 4 } else { matches!(code, 2 | 3) } }
            }
            IcmpKind::TimeExceeded { .. } => IcmpError::Soft,
            _ => return,
        };
        let Ok(Some(q)) = QuotedTcp::parse(msg.body) else {
            self.stats.icmp_ignored += 1;
            return;
        };
        let tuple = FourTuple { local: SocketAddr::new(q.src, q.src_port), remote: SocketAddr::new(q.dst, q.dst_port) };
        let Some(&idx) = self.table.get(&tuple) else {
            self.stats.icmp_ignored += 1;
            return;
        };
        if self.with_conn(now, idx, |c, cfg| c.on_icmp(now, cfg, SeqNum(q.seq), err)) {
            self.stats.icmp_accepted += 1;
        } else {
            self.stats.icmp_ignored += 1;
        }
    }
}

fn unspecified(ip: IpAddr) -> IpAddr {
    match ip {
        IpAddr::V4(_) => IpAddr::V4(core::net::Ipv4Addr::UNSPECIFIED),
        IpAddr::V6(_) => IpAddr::V6(core::net::Ipv6Addr::UNSPECIFIED),
    }
}

/// RFC 9293 §3.10.7.2 / RFC 1122 §4.2.3.10: no connections to or from
/// broadcast and multicast addresses.
pub(super) fn is_broadcast_or_multicast(ip: IpAddr) -> bool {
    match ip {
        IpAddr::V4(a) => a.is_broadcast() || a.is_multicast(),
        IpAddr::V6(a) => a.is_multicast(),
    }
}
