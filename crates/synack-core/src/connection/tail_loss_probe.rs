//! Tail Loss Probe (RFC 8985 §7), as Linux schedules and sends it: when
//! data is outstanding and nothing else would reveal a lost tail, a probe
//! timeout (PTO) of two smoothed RTTs, before the RTO, sends one segment
//! (new data if the peer's window allows, else the last segment again) so
//! that the ACK it draws starts SACK recovery instead of a timeout. A probe
//! that repaired a loss (its ACK covers it and reports no D-SACK) gets a
//! congestion response (§7.4.2).

use super::{Connection, Segment, State};
use crate::congestion::CongestionController;
use crate::seq::SeqNum;
use crate::time::Instant;
use crate::Config;
use core::time::Duration;

/// Linux's TCP_TIMEOUT_MIN: the PTO's margin when more than one segment is out.
const MIN_MARGIN: Duration = Duration::from_millis(2);
/// The PTO without an RTT sample (Linux's TCP_TIMEOUT_INIT).
const PTO_WITHOUT_RTT: Duration = Duration::from_secs(1);

/// What a probe sends.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Probe {
    /// One segment of new data, beyond cwnd if need be.
    NewData,
    /// The last segment sent, again.
    Tail,
}

/// The TLP state of a connection, packed (a connection stays under a kilobyte).
#[derive(Debug, Default, Clone, Copy)]
pub(super) struct Tlp {
    /// TLPRxtOut / Linux's tlp_high_seq: SND.NXT when the probe went out (if `OUT`).
    high: SeqNum,
    flags: u8,
}

/// The retransmission timer is the probe timer just now.
const ARMED: u8 = 1;
/// A probe of new data is to go on the next poll.
const PENDING_NEW: u8 = 2;
/// A probe of the last segment is to go on the next poll.
const PENDING_TAIL: u8 = 4;
/// The probe out was a retransmission (only that can have repaired a loss).
const RETRANSMITTED: u8 = 8;
/// A probe is out: `high` is valid.
const OUT: u8 = 16;

impl Tlp {
    fn has(&self, f: u8) -> bool {
        self.flags & f != 0
    }

    fn set(&mut self, f: u8, on: bool) {
        if on {
            self.flags |= f;
        } else {
            self.flags &= !f;
        }
    }

    /// The retransmission timer is the probe timer.
    pub fn armed(&self) -> bool {
        self.has(ARMED)
    }

    /// The probe to send on the next poll, if any.
    pub fn pending(&self) -> Option<Probe> {
        if self.has(PENDING_NEW) {
            Some(Probe::NewData)
        } else if self.has(PENDING_TAIL) {
            Some(Probe::Tail)
        } else {
            None
        }
    }

    fn high_seq(&self) -> Option<SeqNum> {
        self.has(OUT).then_some(self.high)
    }
}

impl Connection {
    /// Whether a probe may be scheduled now (Linux's tcp_schedule_loss_probe):
    /// TLP on, SACK in use, data outstanding, no recovery or timeout in
    /// progress, no probe outstanding.
    fn probe_allowed(&self, cfg: &Config) -> bool {
        cfg.tail_loss_probe
            && self.sack_ok
            && self.snd_max > self.snd_una
            && !self.in_recovery
            && self.retries == 0
            && self.tlp.high_seq().is_none()
            && self.snd_wnd > 0
            && self.rack.as_ref().is_none_or(|r| r.timer.is_none())
            && matches!(self.state, State::Established | State::CloseWait | State::FinWait1 | State::LastAck)
    }

    /// Makes the retransmission timer the probe timer when the PTO comes
    /// before the RTO (RFC 8985 §7.2: PTO = 2 SRTT, plus the worst-case
    /// delayed ACK when one segment is out).
    pub(super) fn schedule_probe(&mut self, now: Instant, cfg: &Config) {
        if self.tlp.armed() {
            // The timer held the old probe: it holds the RTO again, counted
            // from when the oldest segment outstanding went out (Linux's
            // tcp_rearm_rto with tcp_rto_delta_us), so that probes re-armed
            // by each new transmission never put the timeout off.
            self.tlp.set(ARMED, false);
            let rto = self.rtt.rto(cfg.max_rto);
            let since = self.rack.as_ref().and_then(|r| r.log.first_xmit()).unwrap_or(now);
            self.timers.rtx = (self.snd_max > self.snd_una).then(|| (since + rto).max(now));
        }
        if !self.probe_allowed(cfg) {
            return;
        }
        let pto = match self.rtt.srtt() {
            Some(srtt) => {
                let one_segment = self.snd_max.since(self.snd_una) <= u32::from(self.snd_mss);
                2 * srtt + if one_segment { cfg.min_rto } else { MIN_MARGIN }
            }
            None => PTO_WITHOUT_RTT,
        };
        // The probe goes at the RTO's deadline if that comes first (Linux's
        // tcp_schedule_loss_probe: min(PTO, tcp_rto_delta_us)).
        let at = self.timers.rtx.map_or(now + pto, |rto| rto.min(now + pto));
        self.timers.rtx = Some(at);
        self.tlp.set(ARMED, true);
    }

    /// The retransmission timer is no longer the probe's (another deadline takes it).
    pub(super) fn disarm_probe(&mut self) {
        self.tlp.set(ARMED, false);
    }

    /// The probe timer fired (RFC 8985 §7.3): choose the probe, re-arm the RTO.
    pub(super) fn on_probe_timeout(&mut self, now: Instant, cfg: &Config) {
        self.tlp.set(ARMED, false);
        let window_left = self.snd_wnd.saturating_sub(self.snd_nxt.since(self.snd_una));
        let unsent = self.send_buf.len().saturating_sub(self.snd_nxt.since(self.snd_buf_seq) as usize);
        let probe = if unsent > 0 && window_left as usize >= usize::from(self.snd_mss).min(unsent) {
            Probe::NewData
        } else {
            Probe::Tail
        };
        self.tlp.set(PENDING_NEW, probe == Probe::NewData);
        self.tlp.set(PENDING_TAIL, probe == Probe::Tail);
        self.tlp.set(RETRANSMITTED, probe == Probe::Tail);
        self.stats.tail_loss_probes = self.stats.tail_loss_probes.saturating_add(1);
        self.timers.rtx = Some(now + self.rtt.rto(cfg.max_rto));
    }

    /// The probe went out: the ACK that covers SND.NXT now tells what it did.
    pub(super) fn probe_sent(&mut self) {
        self.tlp.high = self.snd_max;
        self.tlp.set(OUT, true);
    }

    /// The probe asked for went out, or could not.
    pub(super) fn probe_done(&mut self) {
        self.tlp.set(PENDING_NEW | PENDING_TAIL, false);
    }

    /// An ACK while a probe is out (RFC 8985 §7.4, as Linux's
    /// tcp_process_tlp_ack): an ACK beyond the probe without a D-SACK means
    /// the probe repaired a loss, and cwnd is reduced as for fast recovery;
    /// a D-SACK, or a pure duplicate ACK, says the original arrived too.
    /// `dsack`: the ACK carries a D-SACK (`rack::is_dsack`).
    pub(super) fn on_ack_for_probe(&mut self, seg: &Segment<'_>, dsack: bool, mss: u32) {
        let Some(high) = self.tlp.high_seq() else { return };
        if seg.ack < high {
            return;
        }
        if !self.tlp.has(RETRANSMITTED) || dsack {
            self.tlp.set(OUT, false);
        } else if seg.ack > high {
            self.tlp.set(OUT, false);
            // As Linux's CWR state: ssthresh from the cwnd, and cwnd down to it.
            let cwnd = self.cc.cwnd();
            self.cc.on_recovery(cwnd, mss);
        } else if seg.ack == self.snd_una && seg.options.sack_blocks().is_empty() {
            self.tlp.set(OUT, false);
        }
    }
}
