//! Opening a connection: active open, passive open, simultaneous open
//! (RFC 9293 §3.5), and the options negotiated on the SYN: MSS (§3.7.1,
//! RFC 6691), window scale and timestamps (RFC 7323), SACK-permitted (RFC 2018).

use super::{Connection, Opening, Origin, Segment, State};
use crate::endpoint::cookie;
use crate::error::{CloseReason, Error};
use crate::seq::SeqNum;
use crate::time::Instant;
use crate::Config;
use synack_wire::{TcpFlags, TcpOptions};

/// Bytes of option space a timestamp option takes in every segment.
pub(super) const TS_OPTION_LEN: u16 = 12;
/// How soon a SYN is retransmitted after a segment with a bad ACK in
/// SYN-SENT (Linux's TCP_TIMEOUT_MIN, two jiffies at HZ=1000).
const SYN_RETRY_AFTER_BAD_ACK: core::time::Duration = core::time::Duration::from_millis(2);

/// The smallest MSS the peer's SYN can impose, before options (Linux's
/// tcp_min_snd_mss default, 48).
const MIN_SND_MSS: u16 = 48;

impl Connection {
    /// An active open (RFC 9293 §3.10.1): the SYN goes out on the next poll.
    pub(crate) fn new_active(now: Instant, cfg: &Config, o: &Opening<'_>) -> Self {
        let mut c = Self::blank(now, cfg, Origin::Active, o);
        c.set_state(State::SynSent);
        c.after_event(now, cfg);
        c
    }

    /// A passive open from a SYN that arrived at a listener (RFC 9293
    /// §3.10.7.2, third check): SYN-RECEIVED, with the SYN-ACK to send.
    pub(crate) fn new_passive(now: Instant, cfg: &Config, o: &Opening<'_>, listener: u32, syn: &Segment<'_>) -> Self {
        let mut c = Self::blank(now, cfg, Origin::Passive(listener), o);
        c.pending.transition(State::Listen, State::SynReceived);
        c.state = State::SynReceived;
        c.accept_syn(now, cfg, syn);
        c.stats.segs_in += 1;
        c.after_event(now, cfg);
        c
    }

    /// A SYN-ACK carrying a SYN cookie (RFC 4987 §3.6), written into `buf`
    /// by a connection that is not kept. With timestamps, the TSval carries
    /// the peer's window scale and SACK-permitted; without, neither is offered.
    pub(crate) fn stateless_syn_ack(
        now: Instant,
        cfg: &Config,
        o: &Opening<'_>,
        syn: &Segment<'_>,
        buf: &mut [u8],
    ) -> Option<usize> {
        let mut c = Self::new_passive(now, cfg, o, u32::MAX, syn);
        if c.ts_ok {
            let peer_wscale = c.wscale_ok.then_some(c.snd_wscale);
            let ts = cookie::encode_ts(c.ts_now(now), peer_wscale, c.sack_ok);
            c.ts_offset = ts.wrapping_sub(now.millis_u32());
        } else {
            c.wscale_ok = false;
            c.sack_ok = false;
        }
        let tx = super::TxLimits::plain(buf.len());
        c.poll_segment(now, cfg, buf, tx).map(|(n, _)| n)
    }

    /// The connection a valid SYN cookie stands for, in SYN-RECEIVED as if
    /// it had sent the SYN-ACK: the ACK that returned the cookie is to be
    /// processed next (it completes the handshake and may carry data).
    /// `o.iss` is the cookie the ACK returns (its acknowledgment number less one).
    pub(crate) fn from_cookie(
        now: Instant,
        cfg: &Config,
        o: &Opening<'_>,
        listener: u32,
        ack: &Segment<'_>,
        peer: cookie::CookieOptions,
    ) -> Self {
        let mut options = TcpOptions::default();
        options.mss = Some(peer.mss);
        options.window_scale = peer.window_scale;
        options.sack_permitted = peer.sack_permitted;
        options.timestamps = ack.options.timestamps;
        let syn = Segment {
            seq: ack.seq - 1,
            ack: SeqNum(0),
            flags: TcpFlags::SYN,
            window: ack.window,
            urgent: 0,
            options,
            payload: &[],
            segment_size: None,
        };
        let iss = o.iss;
        let mut c = Self::new_passive(now, cfg, o, listener, &syn);
        // The SYN-ACK went out (statelessly), with the window offered now.
        c.snd_nxt = iss + 1;
        c.snd_max = iss + 1;
        c.window_to_advertise(true);
        c.last_ack_sent = c.rcv_nxt;
        // Its TSval was rounded down to carry options: the echo of it
        // would overstate the round trip, so only later echoes are timed.
        c.rto_ts = Some(c.ts_now(now));
        c
    }

    /// RFC 9293 §3.7.1 (MUST-15): the peer's MSS when its SYN has no MSS
    /// option, 536 (IPv4) or 1220 (IPv6).
    pub(crate) fn default_peer_mss(ipv6: bool) -> u16 {
        if ipv6 {
            1220
        } else {
            536
        }
    }

    /// Records the peer's SYN: IRS, RCV.NXT, the send window, and the options.
    fn accept_syn(&mut self, now: Instant, cfg: &Config, syn: &Segment<'_>) {
        self.irs = syn.seq;
        self.rcv_nxt = syn.seq + 1;
        self.rcv_adv = self.rcv_nxt;
        // The window in a SYN is never scaled (RFC 7323 §2.2).
        self.snd_wnd = u32::from(syn.window);
        self.max_snd_wnd = self.snd_wnd;
        self.snd_wl1 = syn.seq;
        self.negotiate(now, cfg, &syn.options);
        self.last_recv = now;
    }

    /// The send MSS from the path's, at most half the peer's largest window
    /// (all of it when that is 536 bytes or less), never below 68 bytes of
    /// header and data: Linux's tcp_bound_to_half_wnd in tcp_sync_mss, so
    /// a small window still holds two segments.
    pub(super) fn bound_snd_mss(&mut self) {
        let window = self.max_snd_wnd;
        let cutoff = if window > 536 { window / 2 } else { window };
        let header = 20 + if self.ts_ok { u32::from(TS_OPTION_LEN) } else { 0 };
        let mss = u32::from(self.path_mss);
        self.snd_mss = if cutoff > 0 && mss > cutoff { cutoff.max(68 - header) as u16 } else { self.path_mss };
    }

    /// Applies the options of the peer's SYN to what we offered.
    fn negotiate(&mut self, now: Instant, cfg: &Config, peer: &TcpOptions) {
        let our_mss = cfg.advertised_mss(self.tuple.local.is_ipv6());
        let peer_mss = peer.mss.unwrap_or_else(|| Self::default_peer_mss(self.tuple.local.is_ipv6()));
        self.wscale_ok = cfg.window_scaling && peer.window_scale.is_some();
        match (cfg.window_scaling, peer.window_scale) {
            (true, Some(shift)) => {
                // RFC 7323 §2.3: a shift above 14 is taken as 14.
                self.snd_wscale = shift.min(14);
                self.rcv_wscale = crate::socket_options::wscale_for(self.recv_ceiling());
            }
            _ => {
                self.snd_wscale = 0;
                self.rcv_wscale = 0;
            }
        }
        self.sack_ok = cfg.sack && peer.sack_permitted;
        self.ts_ok = cfg.timestamps && peer.timestamps.is_some();
        if let (true, Some((val, _))) = (self.ts_ok, peer.timestamps) {
            self.ts_recent = val;
            self.ts_recent_at = now;
        }
        // RFC 6691: the MSS counts neither IP nor TCP options; subtract the
        // timestamp option we will carry in every segment.
        // A tiny MSS from the peer is raised to MIN_SND_MSS first, as
        // Linux's tcp_min_snd_mss (CVE-2019-11479: 8-byte segments would
        // cost the sender a buffer and a packet per few bytes).
        let ts = if self.ts_ok { TS_OPTION_LEN } else { 0 };
        self.path_mss = peer_mss.min(our_mss).max(MIN_SND_MSS) - ts;
        self.bound_snd_mss();
        let mss = u32::from(self.snd_mss);
        self.cc = crate::congestion::Congestion::new(self.cc.kind(), cfg.initial_cwnd_segments.max(1) * mss);
    }

    /// The options of our SYN or SYN-ACK. On a SYN-ACK only what the peer
    /// offered is echoed (RFC 7323 §2.2, §3.2; RFC 2018 §2).
    pub(super) fn syn_options(&self, now: Instant, cfg: &Config) -> TcpOptions {
        let mut o = TcpOptions::default();
        o.mss = Some(cfg.advertised_mss(self.tuple.local.is_ipv6()));
        let active = self.state == State::SynSent;
        if if active { cfg.window_scaling } else { self.wscale_ok } {
            o.window_scale = Some(crate::socket_options::wscale_for(self.recv_ceiling()));
        }
        o.sack_permitted = if active { cfg.sack } else { self.sack_ok };
        let ts = if active { cfg.timestamps } else { self.ts_ok };
        if ts {
            o.timestamps = Some((self.ts_now(now), if active { 0 } else { self.ts_recent }));
        }
        o
    }

    /// RFC 9293 §3.10.7.3: segment arrives in SYN-SENT.
    pub(super) fn on_segment_syn_sent(&mut self, now: Instant, cfg: &Config, seg: &Segment<'_>) {
        // First: the ACK bit.
        let mut ack_ok = false;
        if seg.flags.ack() {
            if seg.ack <= self.iss || seg.ack > self.snd_max {
                if !seg.flags.rst() {
                    self.reply_rst_for_ack(seg);
                }
                // The peer holds a stale connection our RST (or its own)
                // ends: retransmit the SYN soon rather than after the RTO,
                // as Linux does (tcp_rcv_synsent_state_process, TCP_TIMEOUT_MIN).
                if self.retries == 0 {
                    self.timers.rtx = Some(now + SYN_RETRY_AFTER_BAD_ACK);
                }
                return;
            }
            ack_ok = self.snd_una < seg.ack;
        }
        // Second: RST (RFC 5961 §3.2 is satisfied by the exact ACK check above).
        if seg.flags.rst() {
            if ack_ok {
                self.stats.resets_in = self.stats.resets_in.saturating_add(1);
                self.enter_closed(CloseReason::Error(Error::ConnectionRefused));
            }
            return;
        }
        // Fourth: SYN.
        if !seg.flags.syn() {
            return;
        }
        self.accept_syn(now, cfg, seg);
        if ack_ok {
            self.snd_una = seg.ack;
            self.scoreboard.advance(self.snd_una);
            // The SYN counts in tcpi_bytes_acked here, as Linux's tcp_ack counts it.
            self.stats.bytes_acked += 1;
            self.snd_buf_seq = self.iss + 1;
            // RFC 6298 §2: time the SYN unless it was retransmitted (Karn).
            if let Some((_, sent)) = self.rtt_probe.take() {
                if self.retries == 0 {
                    self.rtt.sample(super::since_micros_u32(now, sent), cfg.min_rto, cfg.max_rto);
                }
            }
            self.retries = 0;
            self.rtt.reset_backoff();
            self.timers.rtx = None;
            self.establish();
            self.ack_now = true;
            // Data or FIN on the SYN-ACK continues at the sixth step.
            if !seg.payload.is_empty() || seg.flags.fin() {
                // The user has not seen the connection yet: into the buffer.
                let rest = Segment { seq: seg.seq + 1, ..*seg };
                self.on_text_and_fin(now, cfg, &rest, &mut |_: &[u8]| false);
            }
        } else {
            // Simultaneous open (RFC 9293 §3.5, Figure 8): send SYN-ACK.
            self.set_state(State::SynReceived);
            self.snd_nxt = self.iss;
        }
    }

    /// Enters ESTABLISHED and tells the user.
    pub(super) fn establish(&mut self) {
        self.set_state(State::Established);
        match self.origin {
            Origin::Active => self.pending.connected = true,
            Origin::Passive(_) => self.pending.established_passive = true,
        }
        self.pending.writable = true;
        if self.fin_queued {
            // A CLOSE queued during the handshake takes effect now (§3.10.4).
            self.set_state(State::FinWait1);
        }
    }
}
