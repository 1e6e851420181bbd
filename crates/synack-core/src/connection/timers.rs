//! Per-connection timers: retransmission (RFC 6298) doubling as the persist
//! timer for zero windows (RFC 9293 §3.8.6.1), delayed ACK, keepalive
//! (§3.8.4), TIME-WAIT and FIN-WAIT-2, and the user timeout (§3.8.3).
//! The endpoint sees only the earliest deadline.

use super::{Connection, State};
use crate::congestion::CongestionController;
use crate::error::{CloseReason, Error};
use crate::time::Instant;
use crate::Config;

/// The deadlines of one connection.
#[derive(Debug, Default, Clone, Copy)]
pub(super) struct Timers {
    /// Retransmission, or persist when the peer's window is zero.
    pub rtx: Option<Instant>,
    /// Delayed ACK.
    pub delack: Option<Instant>,
    /// Next keepalive probe.
    pub keepalive: Option<Instant>,
    /// End of TIME-WAIT, or of an orphan's FIN-WAIT-2.
    pub close: Option<Instant>,
    /// Free drained buffers if they stay empty until then.
    pub shrink: Option<Instant>,
}

impl Connection {
    /// The earliest deadline, if any.
    pub(crate) fn next_deadline(&self) -> Option<Instant> {
        if self.state == State::Closed {
            return None;
        }
        let t = &self.timers;
        let user = match (self.user_timeout(), self.unacked_since) {
            (Some(ut), Some(since)) if self.state != State::TimeWait => Some(since + ut),
            _ => None,
        };
        let reordering = self.rack.as_ref().and_then(|r| r.timer);
        let pacing = self.paced.then_some(self.pace_next);
        [t.rtx, t.delack, t.keepalive, t.close, t.shrink, user, reordering, pacing].into_iter().flatten().min()
    }

    /// Re-arms the timers after an event.
    pub(super) fn rearm_timers(&mut self, now: Instant, cfg: &Config) {
        if matches!(self.state, State::Closed | State::TimeWait) {
            return;
        }
        let outstanding = self.snd_max > self.snd_una;
        let zero_window = self.state.is_synchronized() && self.snd_wnd == 0 && self.has_unsent();
        if outstanding || zero_window {
            if self.timers.rtx.is_none() {
                self.timers.rtx = Some(now + self.rtt.rto(cfg.max_rto));
            }
        } else {
            self.timers.rtx = None;
        }
        self.timers.keepalive = if self.keepalive && matches!(self.state, State::Established | State::CloseWait) {
            Some(self.last_recv + cfg.keepalive_idle + cfg.keepalive_interval * u32::from(self.keepalive_probes))
        } else {
            None
        };
    }

    /// Handles every deadline that is due (RFC 9293 §3.10.8).
    pub(crate) fn on_timeout(&mut self, now: Instant, cfg: &Config) {
        self.more = false;
        // Whether a timer that sends data fires (tso_deferral.rs).
        let mut pushes = false;
        if self.timers.close.is_some_and(|t| t <= now) {
            self.timers.close = None;
            // TIME-WAIT timeout: delete the TCB. An orphan in FIN-WAIT-2 goes too.
            self.enter_closed(CloseReason::Graceful);
            return;
        }
        if let (Some(ut), Some(since)) = (self.user_timeout(), self.unacked_since) {
            if since + ut <= now && self.state != State::TimeWait {
                self.enter_closed(CloseReason::Error(Error::TimedOut));
                return;
            }
        }
        if self.timers.rtx.is_some_and(|t| t <= now) {
            pushes = true;
            self.timers.rtx = None;
            if self.tlp.armed() {
                self.on_probe_timeout(now, cfg);
            } else {
                self.on_rto(now, cfg);
                if self.state == State::Closed {
                    return;
                }
            }
        }
        if self.rack.as_ref().and_then(|r| r.timer).is_some_and(|t| t <= now) {
            // RFC 8985 §6.3: the reordering timer; what it marks lost may start a recovery.
            let marked = self.rack_on_timer(now);
            if marked && !self.in_recovery && self.may_start_recovery(self.snd_una) && self.snd_max > self.snd_una {
                self.enter_recovery(now, u32::from(self.snd_mss));
            }
        }
        if self.paced && self.pace_next <= now {
            // Paced data may leave now: the endpoint polls this connection after.
            self.paced = false;
            pushes = true;
        }
        if self.timers.shrink.is_some_and(|t| t <= now) {
            self.timers.shrink = None;
            self.release_idle_buffers();
        }
        if self.timers.delack.is_some_and(|t| t <= now) {
            self.timers.delack = None;
            self.ack.on_delack_fired(self.rtt.rto(cfg.max_rto));
            self.ack_now = true;
        }
        if self.timers.keepalive.is_some_and(|t| t <= now) {
            // RFC 9293 §3.8.4 with §3.8.3, as Linux's tcp_keepalive_timer:
            // with a user timeout, unanswered probes end the connection
            // once it has passed since the peer was last heard (TCP_KEEPCNT
            // does not count then); without, TCP_KEEPCNT probes do. Linux
            // resets the connection it gives up on.
            let given_up = match self.user_timeout() {
                Some(ut) => self.keepalive_probes > 0 && self.last_recv + ut <= now,
                None => u32::from(self.keepalive_probes) >= cfg.keepalive_count.min(u32::from(u16::MAX)),
            };
            if given_up {
                self.send_rst = Some(super::Rst::Abort);
                self.enter_closed(CloseReason::Error(Error::TimedOut));
                return;
            }
            self.keepalive_probes = self.keepalive_probes.saturating_add(1);
            self.keepalive_probe = true;
        }
        // Only the timers that send data decide a TSO deferral afresh (as
        // Linux's, where the others do not push the write queue).
        let hold = if pushes { None } else { self.tso_hold };
        self.after_event(now, cfg);
        self.tso_hold = hold;
    }

    /// RETRANSMISSION TIMEOUT (RFC 9293 §3.10.8, RFC 6298 §5.4-5.7).
    fn on_rto(&mut self, now: Instant, cfg: &Config) {
        self.rto_ts = Some(self.ts_now(now));
        let mss = u32::from(self.snd_mss);
        self.rtt_probe = None;
        match self.state {
            State::SynSent | State::SynReceived => {
                let limit = if self.state == State::SynSent { cfg.syn_retries } else { cfg.synack_retries };
                if u32::from(self.retries) >= limit.min(u32::from(u16::MAX)) {
                    self.enter_closed(CloseReason::Error(self.timeout_error()));
                    return;
                }
                self.snd_nxt = self.iss;
                // The SYN (or SYN-ACK) goes again: tracers see it.
                self.pending.retransmission = Some(true);
            }
            _ => {
                if u32::from(self.retries) >= cfg.retries2.min(u32::from(u16::MAX)) {
                    self.enter_closed(CloseReason::Error(self.timeout_error()));
                    return;
                }
                if self.snd_wnd == 0 && self.snd_max.since(self.snd_una) <= 1 {
                    // Persist: probe the closed window.
                    self.force_probe = true;
                } else {
                    // RFC 5682 step 1 (before the reduction it may undo).
                    self.frto_on_timeout(now, cfg);
                    if self.retries == 0 {
                        self.cc.on_rto(self.snd_max.since(self.snd_una), mss);
                    } else {
                        // RFC 5681 §3.1: the same segment timed out again;
                        // ssthresh is held (as Linux's tcp_enter_loss).
                        self.cc.on_repeated_rto(mss);
                    }
                    self.hystart.stop();
                    self.stats.timeouts = self.stats.timeouts.saturating_add(1);
                    self.pending.retransmission = Some(true);
                    self.recover = self.snd_max;
                    self.in_recovery = false;
                    self.sack_recovery = false;
                    // Without RACK, RFC 2018 §8: after a timeout, the
                    // scoreboard is not relied on (with RACK, the go-back
                    // below keeps what was SACKed, go_back.rs).
                    self.scoreboard.on_timeout(mss);
                    if let Some(r) = self.rack.as_mut() {
                        r.on_rto();
                    }
                    self.dupacks = 0;
                    self.force_probe = self.snd_wnd == 0;
                }
                // Go back: resend from SND.UNA what is not SACKed.
                self.go_back();
            }
        }
        self.retries = self.retries.saturating_add(1);
        self.rtt.back_off();
        self.timers.rtx = Some(now + self.rtt.rto(cfg.max_rto));
    }

    /// The error a timeout reports: a soft ICMP error seen meanwhile, else TimedOut
    /// (RFC 1122 §4.2.3.9).
    fn timeout_error(&self) -> Error {
        self.soft_error.unwrap_or(Error::TimedOut)
    }

    /// Turns keepalive on or off (SO_KEEPALIVE).
    pub(crate) fn set_keepalive(&mut self, now: Instant, cfg: &Config, on: bool) {
        self.keepalive = on;
        self.keepalive_probes = 0;
        self.after_event(now, cfg);
    }

    /// Sets the user timeout (RFC 9293 §3.8.3); `None` turns it off.
    pub(crate) fn set_user_timeout(&mut self, now: Instant, cfg: &Config, timeout: Option<core::time::Duration>) {
        self.user_timeout_ms = user_timeout_ms(timeout);
        self.after_event(now, cfg);
    }

    /// The user timeout, if set.
    fn user_timeout(&self) -> Option<core::time::Duration> {
        self.user_timeout_ms.map(|ms| core::time::Duration::from_millis(u64::from(ms.get())))
    }

    /// A buffer was drained: free it if it is still empty after a while
    /// (DESIGN.md: memory on demand, shrinking back when idle).
    pub(super) fn note_drained(&mut self, now: Instant) {
        self.timers.shrink = Some(now + IDLE_SHRINK);
    }

    fn release_idle_buffers(&mut self) {
        if self.send_buf.is_empty() {
            self.send_buf.release();
        }
        if self.rcv_buf.is_unused() {
            self.rcv_buf.release();
        }
    }
}

/// A user timeout in whole milliseconds (rounded up, at most u32::MAX ms,
/// about 49 days, as Linux's TCP_USER_TIMEOUT).
pub(super) fn user_timeout_ms(t: Option<core::time::Duration>) -> Option<core::num::NonZeroU32> {
    let ms = t?.as_micros().div_ceil(1000).min(u128::from(u32::MAX)) as u32;
    core::num::NonZeroU32::new(ms.max(1))
}

/// How long a drained buffer stays allocated before it is freed.
const IDLE_SHRINK: core::time::Duration = core::time::Duration::from_secs(1);
