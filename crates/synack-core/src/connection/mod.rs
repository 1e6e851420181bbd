//! One TCP connection: the RFC 9293 state machine. This file holds the state
//! enum, the transmission control block, and the segment-arrival dispatch of
//! RFC 9293 §3.10.7; each concern lives in its own file beside it.

mod ack_policy;
mod blind_attacks;
mod close;
mod cwnd_validation;
mod delivery_rate;
mod dsack_undo;
mod frto;
mod go_back;
mod handshake;
mod icmp;
mod options;
mod pacing;
mod prr;
mod rack;
mod reassembly;
mod recv;
mod recv_autotune;
pub(crate) mod rtt;
mod scoreboard;
mod send;
mod send_times;
mod sent_log;
mod stats;
mod tail_loss_probe;
mod timers;
mod tso_deferral;

use crate::congestion::Congestion;
use crate::error::{CloseReason, Error};
use crate::ring::RingBuf;
use crate::seq::SeqNum;
use crate::time::Instant;
use crate::{Config, FourTuple, SocketOptions};
use core::fmt;
use rtt::RttEstimator;
use synack_wire::{TcpFlags, TcpOptions};

pub(crate) use icmp::IcmpError;
#[cfg(feature = "fuzzing")]
pub(crate) use reassembly::fuzz_ops as fuzz_reassembly_ops;
use reassembly::Reassembly;
#[cfg(feature = "fuzzing")]
pub(crate) use scoreboard::fuzz_ops as fuzz_scoreboard_ops;
pub use send_times::{SendLimit, SendTimes};
#[cfg(feature = "fuzzing")]
pub(crate) use sent_log::fuzz_ops as fuzz_sent_log_ops;
pub use stats::ConnectionInfo;
use timers::Timers;

/// The connection states of RFC 9293 §3.3.2.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum State {
    /// No connection.
    Closed,
    /// Waiting for a connection request (listeners only).
    Listen,
    /// SYN sent, waiting for a matching SYN.
    SynSent,
    /// SYN received and sent, waiting for the ACK of our SYN.
    SynReceived,
    /// Open: data flows both ways.
    Established,
    /// We closed; waiting for the ACK of our FIN or the peer's FIN.
    FinWait1,
    /// Our FIN is acknowledged; waiting for the peer's FIN.
    FinWait2,
    /// The peer closed; waiting for our user to close.
    CloseWait,
    /// Both closed at once; waiting for the ACK of our FIN.
    Closing,
    /// The peer closed, then we did; waiting for the ACK of our FIN.
    LastAck,
    /// Waiting 2*MSL so that late segments of this connection die out.
    TimeWait,
}

impl State {
    /// The name RFC 9293 uses (`SYN-SENT`, `TIME-WAIT`, ...).
    pub fn name(self) -> &'static str {
        match self {
            State::Closed => "CLOSED",
            State::Listen => "LISTEN",
            State::SynSent => "SYN-SENT",
            State::SynReceived => "SYN-RECEIVED",
            State::Established => "ESTABLISHED",
            State::FinWait1 => "FIN-WAIT-1",
            State::FinWait2 => "FIN-WAIT-2",
            State::CloseWait => "CLOSE-WAIT",
            State::Closing => "CLOSING",
            State::LastAck => "LAST-ACK",
            State::TimeWait => "TIME-WAIT",
        }
    }

    /// True in the synchronized states (RFC 9293 §3.5.2).
    pub fn is_synchronized(self) -> bool {
        !matches!(self, State::Closed | State::Listen | State::SynSent | State::SynReceived)
    }

    /// True when we may still receive data from the peer.
    fn can_receive(self) -> bool {
        matches!(self, State::Established | State::FinWait1 | State::FinWait2)
    }
}

impl fmt::Display for State {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

/// A reset this connection owes the peer.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Rst {
    /// ABORT: `<SEQ=SND.NXT><ACK=RCV.NXT><CTL=RST,ACK>`.
    Abort,
    /// An unacceptable ACK: `<SEQ=SEG.ACK><CTL=RST>`.
    ForAck(SeqNum),
}

/// How the connection was opened.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Origin {
    /// `connect`.
    Active,
    /// From a listener (index into the endpoint's listener slab).
    Passive(u32),
}

/// The congestion state before a recovery, and the TSval of its first
/// retransmission (RFC 3522 RetransmitTS).
#[derive(Debug, Clone, Copy)]
pub(crate) struct Undo {
    cwnd: u32,
    ssthresh: u32,
    retransmit_ts: u32,
}

/// What one loss recovery keeps beside the congestion controller.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Recovery {
    /// How to undo the reduction if it proves spurious (RFC 3522, 4015).
    pub undo: Option<Undo>,
    /// Proportional Rate Reduction of a fast recovery (RFC 6937).
    pub prr: Option<prr::Prr>,
    /// Without SACK: the duplicate ACKs of this recovery not yet covered
    /// by a cumulative ACK, each taken as one segment delivered (RFC 6937
    /// §3; Linux's sacked_out for Reno).
    pub dup_segments: u32,
    /// A timeout's recovery, and where F-RTO is in it (RFC 5682); `None`
    /// for a fast recovery.
    pub timeout: Option<frto::Frto>,
}

/// Who a new connection is, and the options of the socket it belongs to.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Opening<'a> {
    pub tuple: FourTuple,
    /// Our initial sequence number (a cookie, for a SYN-ACK sent statelessly).
    pub iss: SeqNum,
    /// Offset of our timestamp clock (RFC 7323 §5.4).
    pub ts_offset: u32,
    pub opts: &'a SocketOptions,
}

/// Where in-order data may go instead of the receive buffer: true when taken.
pub(crate) type Sink<'a> = &'a mut dyn FnMut(&[u8]) -> bool;

/// An incoming segment, already parsed and checksum-verified.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Segment<'a> {
    pub seq: SeqNum,
    pub ack: SeqNum,
    pub flags: TcpFlags,
    pub window: u16,
    /// The urgent pointer (meaningful with URG).
    pub urgent: u16,
    pub options: TcpOptions,
    pub payload: &'a [u8],
    /// A coalesced segment (GRO) standing for segments of this size.
    pub segment_size: Option<u16>,
}

impl Segment<'_> {
    /// SEG.LEN: data plus one for each of SYN and FIN.
    pub fn len(&self) -> u32 {
        self.payload.len() as u32 + u32::from(self.flags.syn()) + u32::from(self.flags.fin())
    }

    /// The segments it stands for (more than one when coalesced).
    pub fn count(&self) -> u64 {
        match self.segment_size {
            Some(size) if self.payload.len() > usize::from(size) => {
                self.payload.len().div_ceil(usize::from(size)) as u64
            }
            _ => 1,
        }
    }
}

/// What the endpoint's output allows the segment being built.
#[derive(Debug, Clone, Copy)]
pub(crate) struct TxLimits {
    /// Room for the TCP segment in one datagram on the link (MTU less IP header).
    pub mtu_body: usize,
    /// The buffer may take a super-segment that the device splits (TSO/GSO).
    pub gso: bool,
    /// Write only the pseudo-header sum into the checksum (the device completes it).
    pub partial_checksum: bool,
}

impl TxLimits {
    /// Plain datagrams of at most `mtu_body` bytes of TCP, full checksums.
    pub fn plain(mtu_body: usize) -> Self {
        Self { mtu_body, gso: false, partial_checksum: false }
    }
}

/// Things the endpoint should tell the user, gathered during one call.
#[derive(Debug, Default, Clone, Copy)]
pub(crate) struct Pending {
    pub connected: bool,
    pub readable: bool,
    /// Urgent data arrived (RFC 9293 MUST-32).
    pub urgent: bool,
    pub writable: bool,
    pub closed: Option<CloseReason>,
    /// A passive open reached ESTABLISHED: move it to the accept queue.
    pub established_passive: bool,
    /// A retransmission started: Some(true) after a timeout, Some(false) a fast retransmit.
    pub retransmission: Option<bool>,
    transitions: [(Option<State>, Option<State>); 4],
    n_transitions: u8,
}

impl Pending {
    /// Nothing to report.
    pub fn is_quiet(&self) -> bool {
        !(self.connected
            || self.readable
            || self.urgent
            || self.writable
            || self.established_passive
            || self.closed.is_some()
            || self.retransmission.is_some()
            || self.n_transitions > 0)
    }

    fn transition(&mut self, from: State, to: State) {
        let i = usize::from(self.n_transitions);
        if i < self.transitions.len() {
            self.transitions[i] = (Some(from), Some(to));
            self.n_transitions += 1;
        }
    }

    /// The state changes gathered, in order.
    pub fn transitions(&self) -> impl Iterator<Item = (State, State)> + '_ {
        self.transitions[..usize::from(self.n_transitions)].iter().filter_map(|&(a, b)| Some((a?, b?)))
    }
}

/// The transmission control block of one connection (RFC 9293 §3.3.1).
#[derive(Debug)]
pub struct Connection {
    state: State,
    tuple: FourTuple,
    origin: Origin,
    /// The user called close: the connection is orphaned and frees itself.
    user_closed: bool,
    /// The user shut down reading: reads end instead of waiting (SHUT_RD).
    read_shut: bool,

    // Send sequence space (RFC 9293 §3.3.1).
    iss: SeqNum,
    snd_una: SeqNum,
    snd_nxt: SeqNum,
    /// Highest sequence number sent plus one (SND.NXT before a go-back).
    snd_max: SeqNum,
    snd_wnd: u32,
    /// SEG.SEQ of the last window update (SND.WL1; SND.WL2 is not needed:
    /// the window-update rule looks at SND.UNA instead, as Linux's).
    snd_wl1: SeqNum,
    max_snd_wnd: u32,
    snd_wscale: u8,
    rcv_wscale: u8,
    /// MSS for segments we send (peer's MSS clamped to our path, less
    /// options), at most half the peer's largest window (Linux's mss_cache).
    snd_mss: u16,
    /// The same before the half-window bound (the path's MSS).
    path_mss: u16,
    /// The MSS we advertised.
    rcv_mss: u16,
    send_buf: RingBuf,
    send_limit: usize,
    /// Sequence number of `send_buf[0]`.
    snd_buf_seq: SeqNum,
    fin_queued: bool,
    /// End of the last segment shorter than the MSS (Minshall's Nagle).
    snd_sml: SeqNum,
    /// Where PSH was last set (Linux's pushed_seq).
    pushed_seq: SeqNum,

    // Receive sequence space.
    irs: SeqNum,
    rcv_nxt: SeqNum,
    /// Right edge of the window we last advertised.
    rcv_adv: SeqNum,
    /// Ceiling on the offered window, grown as data arrives.
    rcv_wnd_ceiling: u32,
    /// Largest segment the peer sent (at most our MSS): "full-sized" for delayed ACKs.
    peer_seg_mss: u16,
    rcv_buf: RingBuf,
    /// What the receive buffer may hold now (grown by autotuning).
    recv_limit: usize,
    /// The socket's receive buffer: what autotuning may grow to (at most
    /// 1 GiB, `MAX_RECV_BUFFER`: packed, see the size test).
    recv_max: u32,
    /// Receive-buffer autotuning is on (SO_RCVBUF not set).
    recv_autotune: bool,
    autotune: Option<Box<recv_autotune::RecvAutotune>>,
    ooo: Reassembly,
    fin_received: bool,
    /// Stream offset just past the urgent data received (RCV.UP); 0: none.
    rcv_up: u64,
    /// End of the urgent data to send (SND.UP), if any.
    snd_up: Option<SeqNum>,

    // Options (RFC 7323, RFC 2018).
    ts_ok: bool,
    ts_recent: u32,
    ts_recent_at: Instant,
    ts_offset: u32,
    sack_ok: bool,
    wscale_ok: bool,
    nodelay: bool,
    /// TCP_CORK: partial segments wait.
    cork: bool,
    /// MSG_MORE: the last write said more follows, so its trailing runt
    /// waits; the next event (a segment, a timer, another write) ends it.
    more: bool,
    /// The data at the end of the send buffer came with MSG_MORE: the
    /// segment that ends there carries no PSH (Linux's tcp_push marks the
    /// tail only without MSG_MORE), until a write without it.
    tail_unpushed: bool,

    // Loss recovery and congestion control.
    rtt: RttEstimator,
    rtt_probe: Option<(SeqNum, u32)>,
    /// Our TSval at the last retransmission timeout: older echoes give no RTT sample.
    rto_ts: Option<u32>,
    cc: Congestion,
    dupacks: u16,
    in_recovery: bool,
    /// The recovery in progress is SACK-based (RFC 6675), not NewReno.
    sack_recovery: bool,
    recover: SeqNum,
    /// HighRxt of RFC 6675: the highest sequence number retransmitted in this recovery.
    high_rxt: SeqNum,
    /// RescueRxt of RFC 6675: where the one rescue retransmission of a recovery went.
    rescue_rxt: SeqNum,
    /// What the peer SACKed above SND.UNA.
    scoreboard: scoreboard::Scoreboard,
    /// The recovery in progress: its undo information and PRR (boxed: most
    /// connections are not recovering).
    recovery: Option<Box<Recovery>>,
    /// Tail Loss Probe (RFC 8985 §7).
    tlp: tail_loss_probe::Tlp,
    /// RACK loss detection (RFC 8985 §6), with SACK.
    rack: Option<Box<rack::Rack>>,
    /// How long sending was busy and what limited it (tcpi_busy_time and kin).
    chrono: Option<Box<send_times::SendChrono>>,
    /// HyStart++ in the initial slow start (RFC 9406).
    hystart: crate::congestion::hystart::HyStart,
    /// Whether the last flight used cwnd (RFC 7661, Linux's tcp_is_cwnd_limited).
    cwnd_validation: cwnd_validation::CwndValidation,
    /// Pacing: the earliest time the next data may leave, and whether
    /// data is waiting for it.
    pace_next: Instant,
    paced: bool,
    retransmit_head: bool,
    force_probe: bool,
    retries: u16,
    unacked_since: Option<Instant>,

    // Acknowledgment state.
    ack_now: bool,
    last_ack_sent: SeqNum,
    unacked_rcv_bytes: u32,
    /// When owed ACKs go out: quick-ACK and interactive modes, the timeout.
    ack: ack_policy::AckPolicy,
    /// A duplicate to report in the next ACK's first SACK block (RFC 2883).
    dsack: Option<(SeqNum, SeqNum)>,
    send_rst: Option<Rst>,
    /// A challenge ACK is wanted, subject to the endpoint's limit.
    challenge_wanted: bool,
    /// When the last ACK for an invalid segment went out (its rate limit).
    last_oow_ack: Option<Instant>,
    keepalive_probe: bool,

    timers: Timers,
    last_recv: Instant,
    last_send: Instant,
    /// When data last went out and in-order data last came in, on the
    /// millisecond clock ([`Instant::millis_u32`]) (Linux's lsndtime and
    /// icsk_ack.lrcvtime, for tcpi_last_data_sent / _recv; packed).
    last_data_sent_ms: u32,
    last_data_recv_ms: u32,
    /// The smallest MTU an ICMP Packet Too Big reported (RFC 1191, 8201).
    ptb_mtu: Option<core::num::NonZeroU16>,
    keepalive: bool,
    keepalive_probes: u16,
    /// TCP_USER_TIMEOUT in milliseconds, as Linux keeps it (packed: see the size test).
    user_timeout_ms: Option<core::num::NonZeroU32>,
    /// IP TTL / hop limit of this connection's datagrams.
    hop_limit: u8,
    /// IP_TOS / IPV6_TCLASS of this connection's datagrams.
    tos: u8,

    close_reason: Option<CloseReason>,
    /// The last soft ICMP error, reported if the connection times out.
    soft_error: Option<Error>,
    pub(crate) pending: Pending,
    stats: stats::Stats,
    /// Limits of the datagram being built (set by `poll_segment`).
    tx: TxLimits,
    /// Segment size of the super-segment just built, if it was one.
    tx_segment_size: u16,
    /// New data waits for the next ACK (tso_deferral.rs): `Some(true)`
    /// when cwnd is what holds it (cwnd-limited for RFC 7661).
    tso_hold: Option<bool>,
}

/// `now` in wrapping microseconds (an RTT probe's send time: 71 minutes
/// before it wraps, far past any round trip).
fn micros_u32(now: Instant) -> u32 {
    now.as_micros() as u32
}

/// The time from `sent` ([`micros_u32`]) to `now`.
fn since_micros_u32(now: Instant, sent: u32) -> core::time::Duration {
    core::time::Duration::from_micros(u64::from(micros_u32(now).wrapping_sub(sent)))
}

/// A buffer size as u32 (sizes are validated far below u32::MAX).
fn clamp_u32(size: usize) -> u32 {
    size.clamp(1, u32::MAX as usize) as u32
}

/// The receive buffer a connection starts with: the socket's, or with
/// autotuning the configured initial size (Linux's tcp_rmem[1]) below it.
fn initial_recv_limit(cfg: &Config, opts: &crate::SocketOptions) -> usize {
    if opts.recv_autotune { opts.recv_buffer.min(cfg.recv_buffer_initial) } else { opts.recv_buffer }.max(1)
}

impl Connection {
    fn blank(now: Instant, cfg: &Config, origin: Origin, o: &Opening<'_>) -> Self {
        let Opening { tuple, iss, ts_offset, opts } = *o;
        let ipv6 = tuple.local.is_ipv6();
        let mss = cfg.advertised_mss(ipv6);
        Self {
            state: State::Closed,
            tuple,
            origin,
            user_closed: false,
            read_shut: false,
            iss,
            snd_una: iss,
            snd_nxt: iss,
            snd_max: iss,
            snd_wnd: 0,
            snd_wl1: SeqNum(0),
            max_snd_wnd: 0,
            snd_wscale: 0,
            rcv_wscale: 0,
            snd_mss: 536.min(mss),
            path_mss: 536.min(mss),
            rcv_mss: mss,
            send_buf: RingBuf::default(),
            send_limit: opts.send_buffer.max(1),
            snd_buf_seq: iss + 1,
            fin_queued: false,
            snd_sml: iss,
            pushed_seq: iss,
            irs: SeqNum(0),
            rcv_nxt: SeqNum(0),
            rcv_adv: SeqNum(0),
            rcv_wnd_ceiling: initial_recv_limit(cfg, opts).clamp(1, 65535) as u32,
            peer_seg_mss: mss.min(536),
            rcv_buf: RingBuf::default(),
            recv_limit: initial_recv_limit(cfg, opts),
            recv_max: clamp_u32(opts.recv_buffer),
            recv_autotune: opts.recv_autotune,
            autotune: None,
            ooo: Reassembly::default(),
            fin_received: false,
            rcv_up: 0,
            snd_up: None,
            ts_ok: false,
            ts_recent: 0,
            ts_recent_at: now,
            ts_offset,
            sack_ok: false,
            wscale_ok: false,
            nodelay: opts.nodelay,
            cork: opts.cork,
            more: false,
            tail_unpushed: false,
            rtt: RttEstimator::new(cfg.initial_rto),
            rtt_probe: None,
            rto_ts: None,
            cc: Congestion::new(opts.congestion_control, cfg.initial_cwnd_segments.max(1) * u32::from(mss)),
            dupacks: 0,
            in_recovery: false,
            sack_recovery: false,
            recover: iss,
            high_rxt: iss,
            rescue_rxt: iss,
            scoreboard: scoreboard::Scoreboard::default(),
            recovery: None,
            tlp: tail_loss_probe::Tlp::default(),
            rack: None,
            chrono: None,
            hystart: crate::congestion::hystart::HyStart::new(cfg.hystart, iss),
            cwnd_validation: cwnd_validation::CwndValidation::new(iss),
            pace_next: now,
            paced: false,
            retransmit_head: false,
            force_probe: false,
            retries: 0,
            unacked_since: None,
            ack_now: false,
            last_ack_sent: SeqNum(0),
            unacked_rcv_bytes: 0,
            ack: ack_policy::AckPolicy::new(Self::delack_min(cfg)),
            dsack: None,
            send_rst: None,
            challenge_wanted: false,
            last_oow_ack: None,
            keepalive_probe: false,
            timers: Timers::default(),
            last_recv: now,
            last_send: now,
            last_data_sent_ms: now.millis_u32(),
            last_data_recv_ms: now.millis_u32(),
            ptb_mtu: None,
            keepalive: opts.keepalive,
            keepalive_probes: 0,
            user_timeout_ms: timers::user_timeout_ms(opts.user_timeout),
            hop_limit: opts.hop_limit.max(1),
            tos: opts.tos,
            close_reason: None,
            pending: Pending::default(),
            soft_error: None,
            stats: stats::Stats::default(),
            tx: TxLimits::plain(usize::from(mss) + 60),
            tx_segment_size: 0,
            tso_hold: None,
        }
    }

    /// The current state.
    pub fn state(&self) -> State {
        self.state
    }

    /// The connection's addresses.
    pub fn tuple(&self) -> FourTuple {
        self.tuple
    }

    pub(crate) fn origin(&self) -> Origin {
        self.origin
    }

    pub(crate) fn user_closed(&self) -> bool {
        self.user_closed
    }

    pub(crate) fn close_reason(&self) -> Option<CloseReason> {
        self.close_reason
    }

    fn set_state(&mut self, to: State) {
        if self.state != to {
            self.pending.transition(self.state, to);
            self.state = to;
        }
    }

    /// Enters CLOSED for `reason`, flushing every queue (RFC 9293 §3.10.7.4,
    /// second check; §3.10.8).
    fn enter_closed(&mut self, reason: CloseReason) {
        self.set_state(State::Closed);
        self.timers = Timers::default();
        self.unacked_since = None;
        self.send_buf.release();
        self.ooo.clear(&mut self.rcv_buf);
        if reason != CloseReason::Graceful {
            self.rcv_buf.release();
        }
        self.close_reason = Some(reason);
        self.pending.closed = Some(reason);
        self.pending.readable = true;
        self.pending.writable = true;
    }

    /// The error a user call sees on a connection that failed.
    fn failure(&self) -> Option<Error> {
        match self.close_reason {
            Some(CloseReason::Error(e)) => Some(e),
            _ => None,
        }
    }

    /// Processes an incoming segment for this connection (RFC 9293 §3.10.7).
    /// In-order data may go to `sink` instead of the receive buffer
    /// (direct delivery, [`crate::RecvSink`]).
    pub(crate) fn on_segment(&mut self, now: Instant, cfg: &Config, seg: &Segment<'_>, sink: Sink<'_>) {
        self.more = false;
        self.stats.segs_in += seg.count();
        if !seg.payload.is_empty() {
            self.stats.data_segs_in += seg.count();
        }
        match self.state {
            State::Closed | State::Listen => {}
            State::SynSent => self.on_segment_syn_sent(now, cfg, seg),
            _ => self.on_segment_other(now, cfg, seg, sink),
        }
        self.after_event(now, cfg);
    }

    /// RFC 9293 §3.10.7.4: segment arrives in SYN-RECEIVED or a synchronized state.
    fn on_segment_other(&mut self, now: Instant, cfg: &Config, seg: &Segment<'_>, sink: Sink<'_>) {
        let rst = seg.flags.rst();
        // RFC 7323 §5.3: PAWS, before the sequence number check.
        if self.ts_ok && !rst {
            if let Some((val, _)) = seg.options.timestamps {
                if self.paws_rejects(now, val) {
                    self.stats.paws_drops = self.stats.paws_drops.saturating_add(1);
                    self.ack_invalid_segment(now, cfg, seg);
                    return;
                }
            }
        }
        // A retransmitted SYN in SYN-RECEIVED: answer with the SYN-ACK again.
        if self.state == State::SynReceived && seg.flags.syn() && !seg.flags.ack() && seg.seq == self.irs {
            self.snd_nxt = self.iss;
            return;
        }
        // RFC 9293 §3.10.7.4, first check: sequence number acceptability.
        if !self.acceptable(seg) {
            if seg.flags.syn() && !rst && self.state.is_synchronized() {
                // RFC 5961 §4.2: a SYN gets a challenge ACK "irrespective of
                // the sequence number" (Linux: syn_challenge).
                self.challenge_ack(now, cfg);
            } else if !rst {
                self.ack_invalid_segment(now, cfg, seg);
                if self.state == State::TimeWait && seg.flags.fin() {
                    self.restart_time_wait(now, cfg);
                }
            }
            return;
        }
        if self.ts_ok {
            self.update_ts_recent(now, seg);
        }
        self.last_recv = now;
        self.keepalive_probes = 0;
        // RFC 9293 §3.10.7.4, second check: RST (with RFC 5961 §3.2).
        if rst {
            if seg.seq == self.rcv_nxt {
                self.on_reset();
            } else {
                self.challenge_ack(now, cfg);
            }
            return;
        }
        // Fourth: SYN (RFC 5961 §4: challenge ACK in synchronized states).
        if seg.flags.syn() {
            if self.state == State::SynReceived && matches!(self.origin, Origin::Passive(_)) {
                // Return to LISTEN: this half-open connection is dropped.
                self.enter_closed(CloseReason::Error(Error::ConnectionReset));
                self.pending.closed = None;
            } else {
                self.challenge_ack(now, cfg);
            }
            return;
        }
        // Fifth: ACK.
        if !seg.flags.ack() {
            return;
        }
        if !self.on_ack_field(now, cfg, seg) {
            return;
        }
        if self.state == State::Closed {
            return;
        }
        // Sixth: URG (RFC 9293 §3.8.5): note RCV.UP and tell the user; the
        // data itself stays inline, never out of band.
        if seg.flags.urg() && matches!(self.state, State::Established | State::FinWait1 | State::FinWait2) {
            self.on_urgent(seg);
        }
        // Seventh and eighth: segment text and FIN.
        self.on_text_and_fin(now, cfg, seg, sink);
    }

    /// RFC 9293 §3.10.7.4, fifth check. Returns false when the segment is done with.
    fn on_ack_field(&mut self, now: Instant, cfg: &Config, seg: &Segment<'_>) -> bool {
        // RFC 5961 §5.2: the ACK must lie in [SND.UNA - MAX.SND.WND, SND.NXT].
        if !self.ack_in_range(seg.ack) {
            if self.state == State::SynReceived {
                self.reply_rst_for_ack(seg);
            } else if seg.ack > self.snd_max {
                // RFC 9293: it acks what was never sent: ACK and drop.
                self.ack_invalid_segment(now, cfg, seg);
            } else {
                // Too old: a challenge ACK, as Linux (RFC 5961 §5.2).
                self.challenge_ack(now, cfg);
            }
            return false;
        }
        if self.state == State::SynReceived {
            if self.snd_una < seg.ack {
                self.snd_wnd = u32::from(seg.window) << self.snd_wscale;
                // The largest window so far is this ACK's, as Linux's
                // max_window of a passive open (the SYN's is not scaled).
                self.max_snd_wnd = self.snd_wnd;
                self.bound_snd_mss();
                self.snd_wl1 = seg.seq;
                self.establish();
            } else {
                self.reply_rst_for_ack(seg);
                return false;
            }
        }
        self.on_ack(now, cfg, seg);
        match self.state {
            State::FinWait1 if self.fin_acked() => {
                self.set_state(State::FinWait2);
                if self.user_closed {
                    self.timers.close = Some(now + cfg.fin_timeout);
                }
            }
            State::Closing if self.fin_acked() => self.enter_time_wait(now, cfg),
            State::LastAck if self.fin_acked() => {
                self.enter_closed(CloseReason::Graceful);
                return false;
            }
            _ => {}
        }
        true
    }

    /// The acceptability test of RFC 9293 §3.10.7.4, Table 6.
    fn acceptable(&self, seg: &Segment<'_>) -> bool {
        let wnd = self.rcv_adv.since(self.rcv_nxt);
        let len = seg.len();
        let end_of_window = self.rcv_nxt + wnd;
        match (len, wnd) {
            // Table 6 asks RCV.NXT =< SEG.SEQ < RCV.NXT+RCV.WND; like Linux
            // (tcp_sequence) we also take SEG.SEQ = RCV.NXT+RCV.WND. A peer
            // that filled our window and lost its first segment sends its
            // ACKs at exactly that edge: refusing them would throw away
            // every acknowledgment of our data until the hole is repaired.
            (0, _) => self.rcv_nxt <= seg.seq && seg.seq <= end_of_window,
            // "Special allowance should be made to accept valid ACKs, URGs
            // and RSTs" when the window is zero: a segment at RCV.NXT has its
            // ACK and window processed, its data dropped (as Linux's
            // tcp_sequence and tcp_data_queue). Otherwise a window update
            // riding on data would be lost, and both sides could wait forever.
            (_, 0) => seg.seq == self.rcv_nxt,
            (_, _) => {
                seg.seq.in_range(self.rcv_nxt, end_of_window)
                    || (seg.seq + (len - 1)).in_range(self.rcv_nxt, end_of_window)
            }
        }
    }

    /// A reset of an established-or-later connection (RFC 9293 §3.10.7.4, second check).
    fn on_reset(&mut self) {
        self.stats.resets_in = self.stats.resets_in.saturating_add(1);
        let reason = match (self.state, self.origin) {
            (State::SynReceived, Origin::Active) => CloseReason::Error(Error::ConnectionRefused),
            (State::SynReceived, Origin::Passive(_)) => {
                // Back to LISTEN; the user need not be informed.
                self.enter_closed(CloseReason::Error(Error::ConnectionReset));
                self.pending.closed = None;
                return;
            }
            (State::Closing | State::LastAck | State::TimeWait, _) => CloseReason::Graceful,
            // The peer had already finished sending; as Linux's tcp_reset,
            // a later SEND learns that the pipe is broken (EPIPE).
            (State::CloseWait, _) => CloseReason::Error(Error::BrokenPipe),
            _ => CloseReason::Error(Error::ConnectionReset),
        };
        self.enter_closed(reason);
    }

    /// Work after every event: re-arm timers.
    fn after_event(&mut self, now: Instant, cfg: &Config) {
        // Whatever happened, a deferral is decided afresh (tso_deferral.rs).
        self.tso_hold = None;
        self.rearm_timers(now, cfg);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_idle_connection_costs_well_under_a_kilobyte() {
        let size = core::mem::size_of::<Connection>();
        println!("size_of::<Connection>() = {size}");
        assert!(size < 1024, "{size} bytes");
    }
}
