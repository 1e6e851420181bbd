//! RACK (RFC 8985 §6): time-based loss detection. A segment is deemed lost
//! when a segment sent after it has been delivered and it is itself
//! unacknowledged after the RTT of that delivery plus a reordering window;
//! the window is zero until the path shows reordering (then a quarter of
//! the minimum RTT, grown with D-SACKs, at most SRTT), and a timer fires
//! for segments not yet overdue. Lost retransmissions are found the same
//! way. Linux's tcp_recovery.c is the model where the RFC leaves a choice.

use super::sent_log::{Sent, SentLog};
use super::{Connection, Segment};
use crate::seq::SeqNum;
use crate::time::Instant;
use crate::Config;
use core::time::Duration;
use synack_wire::SackBlock;

/// RFC 8985 §6.2 step 4: the reordering window stays grown for this many
/// recoveries after a D-SACK (Linux's TCP_RACK_RECOVERY_THRESH).
const REO_WND_PERSIST: u8 = 16;

/// Linux's TCP_TIMEOUT_MIN, added to the reordering timer (tcp_rack_mark_lost).
const TIMER_SLACK: Duration = Duration::from_millis(2);

/// The RACK state of a connection, with its log of transmissions (boxed in
/// the connection: allocated once SACK is negotiated).
#[derive(Debug, Default, Clone)]
pub(crate) struct Rack {
    pub log: SentLog,
    est: Estimate,
    /// Delivery rate estimation over the same log.
    pub rate: super::delivery_rate::DeliveryRate,
    /// RACK.reo_wnd_mult and RACK.reo_wnd_persist.
    reo_wnd_mult: u8,
    reo_wnd_persist: u8,
    /// RACK.dsack_round: SND.NXT when the window last grew.
    dsack_round: Option<SeqNum>,
    /// The reordering timer (RFC 8985 §6.2 step 5: RACK.reo_timeout).
    pub timer: Option<Instant>,
    /// D-SACKs received (tcpi_dsack_dups).
    pub dsacks_in: u32,
    /// Segments delivered, SACKed or cumulatively acknowledged, counted in
    /// MSS-sized packets as Linux's tp->delivered counts tcp_skb_pcount.
    pub delivered_segments: u32,
    /// The last SACK recovery, for undoing it on D-SACKs (RFC 2883 §5).
    pub undo: Option<super::dsack_undo::DsackUndo>,
}

/// What RACK found in one ACK.
#[derive(Debug, Default, Clone, Copy)]
pub(super) struct RackAck {
    /// Segments were marked lost.
    pub lost: bool,
    /// The sample for congestion control (Linux's ca_rtt_us): the RTT of
    /// the newest segment the ACK cumulatively acknowledged, none if it
    /// acknowledged a retransmission (Karn) or nothing new.
    pub ca_rtt: Option<Duration>,
}

/// What deliveries tell RACK (RFC 8985 §6.1).
#[derive(Debug, Default, Clone, Copy)]
struct Estimate {
    /// RACK.xmit_ts and RACK.end_seq: the most recently sent segment delivered.
    xmit: Option<Instant>,
    end: SeqNum,
    /// RACK.rtt: the RTT of that delivery.
    rtt: Duration,
    /// The highest end delivered (RACK.fack: SACKed or cumulatively acknowledged).
    fack: SeqNum,
    /// RACK.min_RTT, from per-segment samples (microseconds, not the TS clock).
    min_rtt: Option<Duration>,
    /// RACK.reordering_seen, and how often it was seen (tcpi_reord_seen).
    reordering_seen: bool,
    reord_seen: u32,
    /// A delivery moved RACK.xmit_ts since the last detection.
    advanced: bool,
}

/// The connection's state the reordering window depends on (§6.2 step 4).
#[derive(Debug, Clone, Copy)]
struct Context {
    in_recovery: bool,
    mss: u32,
    /// RFC 6675's DupThresh.
    dup_thresh: u32,
    srtt: Option<Duration>,
}

/// One ACK's context for [`Estimate::on_delivered`].
struct Delivery<F> {
    now: Instant,
    /// The ACK's echoed TSval.
    ecr: Option<u32>,
    /// Our TSval clock at an instant.
    ts_at: F,
    /// RACK.fack before this ACK.
    prior_fack: SeqNum,
}

/// RFC 8985 §6.2, RACK_sent_after: `t1`/`seq1` was sent after `t2`/`seq2`.
fn sent_after(t1: Instant, seq1: SeqNum, t2: Instant, seq2: SeqNum) -> bool {
    t1 > t2 || (t1 == t2 && seq1 > seq2)
}

impl Estimate {
    /// RFC 8985 §6.2 steps 1-3 for one newly delivered segment.
    fn on_delivered<F: Fn(Instant) -> u32>(&mut self, e: &Sent, d: &Delivery<F>) {
        let rtt = d.now.saturating_since(e.xmit);
        if e.retransmitted() {
            // Step 2: ambiguous. The echo older than the retransmission, or
            // an RTT below the minimum, means the original was delivered.
            let old_echo = d.ecr.is_some_and(|ecr| (ecr.wrapping_sub((d.ts_at)(e.xmit)) as i32) < 0);
            if old_echo || self.min_rtt.is_some_and(|m| rtt < m) {
                return;
            }
        } else {
            self.min_rtt = Some(self.min_rtt.map_or(rtt, |m| m.min(rtt)));
            // RACK.reordering_seen: an original delivered below what was
            // delivered before this ACK (it arrived late).
            if e.end <= d.prior_fack {
                self.reordering_seen = true;
                self.reord_seen = self.reord_seen.saturating_add(1);
            }
        }
        self.rtt = rtt;
        self.advanced = true;
        if self.xmit.is_none_or(|x| sent_after(e.xmit, e.end, x, self.end)) {
            self.xmit = Some(e.xmit);
            self.end = e.end;
        }
        if e.end > self.fack {
            self.fack = e.end;
        }
    }
}

impl Rack {
    fn new(snd_una: SeqNum) -> Self {
        let est = Estimate { end: snd_una, fack: snd_una, ..Default::default() };
        Rack { est, reo_wnd_mult: 1, ..Default::default() }
    }

    /// RFC 8985 §6.2 step 4: the reordering window.
    fn reo_wnd(&self, c: Context) -> Duration {
        let sacked_segments = self.log.sacked_bytes().div_ceil(c.mss);
        if !self.est.reordering_seen && (c.in_recovery || sacked_segments >= c.dup_thresh) {
            return Duration::ZERO;
        }
        let quarter = self.est.min_rtt.unwrap_or_default() / 4 * u32::from(self.reo_wnd_mult);
        c.srtt.map_or(quarter, |s| quarter.min(s))
    }

    /// A retransmission timeout: the reordering timer and the undo of the
    /// last recovery go (the go-back marks the log, go_back.rs).
    pub fn on_rto(&mut self) {
        self.timer = None;
        self.undo = None;
    }

    /// RFC 8985 §6.2 step 4, the D-SACK part, for one ACK.
    fn update_reo_wnd(&mut self, dsack: bool, snd_una: SeqNum, snd_nxt: SeqNum) {
        if self.dsack_round.is_some_and(|r| snd_una >= r) {
            self.dsack_round = None;
        }
        if dsack {
            self.dsacks_in = self.dsacks_in.saturating_add(1);
            if self.dsack_round.is_none() {
                self.dsack_round = Some(snd_nxt);
                self.reo_wnd_mult = self.reo_wnd_mult.saturating_add(1);
                self.reo_wnd_persist = REO_WND_PERSIST;
            }
        }
    }

    /// A recovery ended (RFC 8985 §6.2 step 4): the grown window persists
    /// for a number of recoveries.
    pub fn on_recovery_end(&mut self) {
        self.reo_wnd_persist = self.reo_wnd_persist.saturating_sub(1);
        if self.reo_wnd_persist == 0 {
            self.reo_wnd_mult = 1;
        }
    }

    /// A recovery turned out spurious (Eifel): the path reorders.
    pub fn on_spurious_recovery(&mut self) {
        if !self.est.reordering_seen {
            self.est.reordering_seen = true;
            self.est.reord_seen = self.est.reord_seen.saturating_add(1);
        }
    }

    /// RACK.min_RTT: per-segment, in microseconds.
    pub fn min_rtt(&self) -> Option<Duration> {
        self.est.min_rtt
    }

    /// Times reordering was seen (tcpi_reord_seen).
    pub fn reord_seen(&self) -> u32 {
        self.est.reord_seen
    }

    /// RFC 8985 §6.2 steps 4-5, RACK_detect_loss: marks what is overdue,
    /// sets the reordering timer for what is not yet, and says whether
    /// anything was marked.
    fn detect_loss(&mut self, now: Instant, c: Context) -> bool {
        let reo_wnd = self.reo_wnd(c);
        self.timer = None;
        let Some(rack_xmit) = self.est.xmit else { return false };
        let (rack_end, rtt) = (self.est.end, self.est.rtt);
        let mut wait: Option<Duration> = None;
        let marked = self.log.mark_lost(|e| {
            if !sent_after(rack_xmit, rack_end, e.xmit, e.end) {
                // In sequence order, an original sent after RACK's segment
                // means every later one was too (retransmissions are later
                // still); a retransmission may be followed by older originals.
                return if e.retransmitted() { Some(false) } else { None };
            }
            let deadline = e.xmit + rtt + reo_wnd;
            if deadline <= now {
                Some(true)
            } else {
                let left = deadline.saturating_since(now);
                wait = Some(wait.map_or(left, |w| w.max(left)));
                Some(false)
            }
        });
        self.timer = wait.map(|w| now + w + TIMER_SLACK);
        marked
    }
}

/// A D-SACK (RFC 2883 §4): the first block below the cumulative ACK, or
/// inside the second block.
pub(super) fn is_dsack(blocks: &[SackBlock], ack: SeqNum) -> bool {
    let Some(first) = blocks.first() else { return false };
    let (l, r) = (SeqNum(first.left), SeqNum(first.right));
    l < ack || blocks.get(1).is_some_and(|b| SeqNum(b.left) <= l && r <= SeqNum(b.right))
}

impl Connection {
    /// RACK runs on this connection (SACK negotiated, `Config::rack`).
    pub(super) fn rack_on(&self) -> bool {
        self.rack.is_some()
    }

    /// A transmission of `start..end` (RFC 8985 §5.2: per-segment send
    /// times). The first one of a connection that agreed on SACK turns RACK on.
    pub(super) fn rack_on_sent(&mut self, cfg: &Config, start: SeqNum, end: SeqNum, now: Instant) {
        if self.rack.is_none() && cfg.rack && self.sack_ok && self.state.is_synchronized() {
            self.rack = Some(Box::new(Rack::new(self.snd_una)));
        }
        self.check_app_limited(end);
        if let Some(r) = self.rack.as_mut() {
            let tx = r.rate.on_sent(now, r.log.is_empty());
            r.log.on_sent(start, end, now, tx);
        }
    }

    /// RFC 8985 §6.2 on an ACK: what it delivered updates RACK, the
    /// reordering window adapts, and overdue segments are marked lost
    /// (the reordering timer covers the rest). Returns whether any was,
    /// and the ACK's RTT sample. `dsack`: the ACK's first SACK block is a
    /// D-SACK ([`is_dsack`]).
    pub(super) fn rack_on_ack(
        &mut self,
        now: Instant,
        cfg: &Config,
        seg: &Segment<'_>,
        una_before: SeqNum,
        dsack: bool,
    ) -> RackAck {
        let (snd_max, snd_nxt) = (self.snd_max, self.snd_nxt);
        let ts_offset = self.ts_offset;
        let ts_at = |t: Instant| Connection::ts_clock(t, ts_offset);
        let ecr = seg.options.timestamps.map(|(_, ecr)| ecr);
        let mss = u32::from(self.snd_mss.max(1));
        let blocks = seg.options.sack_blocks();
        // The reordering window as after this ACK's change of state: one
        // that ends a recovery is judged as in the open state (Linux checks
        // the exit from Recovery before tcp_rack_mark_lost).
        let mut context = self.detection_context();
        context.in_recovery &= seg.ack < self.recover;
        let Some(r) = self.rack.as_mut() else { return RackAck::default() };
        let una = if seg.ack > una_before { seg.ack } else { una_before };
        let d = Delivery { now, ecr, ts_at, prior_fack: r.est.fack };
        let Rack { log, est, rate, delivered_segments, .. } = &mut **r;
        let mut delivered = |s: &Sent| {
            est.on_delivered(s, &d);
            rate.on_delivered(s, now);
            *delivered_segments = delivered_segments.wrapping_add(s.end.since(s.start).div_ceil(mss).max(1));
        };
        for b in blocks.iter().skip(usize::from(dsack)) {
            let (l, e) = (SeqNum(b.left), SeqNum(b.right));
            if una <= l && l < e && e <= snd_max {
                log.on_sack(l, e, &mut delivered);
            }
        }
        let mut ca_rtt = None;
        if seg.ack > una_before {
            let (mut newest, mut retransmitted) = (None::<Instant>, false);
            log.on_ack(seg.ack, |s| {
                delivered(s);
                retransmitted |= s.retransmitted();
                newest = newest.max(Some(s.xmit));
            });
            ca_rtt = newest.filter(|_| !retransmitted).map(|x| now.saturating_since(x));
            if est.fack < seg.ack {
                est.fack = seg.ack;
            }
        }
        rate.on_ack_done(est.min_rtt);
        r.update_reo_wnd(dsack, una, snd_nxt);
        if !r.est.advanced {
            if seg.ack > una_before {
                // An ACK of new data that RACK does not act on re-arms the
                // RTO or probe in place of the reordering timer (Linux's
                // tcp_set_xmit_timer: one timer, and RACK did not set it).
                r.timer = None;
            }
            return RackAck { lost: false, ca_rtt };
        }
        r.est.advanced = false;
        let marked = r.detect_loss(now, context);
        if r.timer.is_some() && self.tlp.armed() {
            // The reordering timer takes the probe's place (Linux has one timer).
            self.schedule_probe(now, cfg);
        }
        RackAck { lost: marked, ca_rtt }
    }

    /// The reordering timer fired (RFC 8985 §6.3): mark what is overdue now.
    pub(super) fn rack_on_timer(&mut self, now: Instant) -> bool {
        let context = self.detection_context();
        self.rack.as_mut().is_some_and(|r| r.detect_loss(now, context))
    }

    /// What the reordering window depends on besides RACK's own state.
    fn detection_context(&self) -> Context {
        Context {
            in_recovery: self.in_recovery,
            mss: u32::from(self.snd_mss).max(1),
            dup_thresh: self.scoreboard.dup_thresh(),
            srtt: self.rtt.srtt(),
        }
    }
}
