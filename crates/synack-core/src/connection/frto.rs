//! Spurious retransmission timeouts: F-RTO (RFC 5682, the basic algorithm
//! of §2.1 and, with SACK, the SACK-enhanced one of §3.1) and Eifel
//! detection with timestamps (RFC 3522), answered by the Eifel response
//! (RFC 4015): the window and threshold from before the timeout come
//! back and the go-back-N retransmissions stop (SND.NXT = SND.MAX).
//!
//! After a timeout the head segment goes again (cwnd one segment). When
//! its ACK comes and more was outstanding, F-RTO sends up to two new
//! segments instead of retransmitting; the ACK after that tells a delay
//! spike (the originals still arrive: their ACKs advance SND.UNA, or SACK
//! them, below the RecoveryPoint) from real loss (duplicate ACKs, or SACKs
//! of only the new segments), in which case the conventional go-back goes
//! on with cwnd at most three segments.
//!
//! Where Linux (tcp_process_loss, FLAG_ORIG_SACK_ACKED) decides otherwise
//! it is followed, as CONFORMANCE.md says: an ACK that cumulatively covers
//! segments sent before the timeout and never retransmitted makes the
//! timeout spurious at once, in step 2 as well, and a cumulative ACK past
//! the RecoveryPoint in step 3 is spurious (RFC 5682 §3.1 step 3a would
//! take it as loss).

use super::{Connection, Recovery, Undo};
use crate::congestion::CongestionController;
use crate::seq::SeqNum;
use crate::time::Instant;
use crate::Config;
use synack_wire::SackBlock;

/// Where F-RTO is after a timeout (RFC 5682 §2.1, §3.1).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Frto {
    /// Not running (turned off, or not allowed for this timeout): only
    /// Eifel detection on the first ACK, with timestamps.
    Off,
    /// Step 2: waiting for the ACK of what the timeout retransmitted.
    FirstAck,
    /// Step 3: new data went out after the first ACK; the next ACK
    /// decides. `recovery_point` is SND.MAX when that ACK came.
    SecondAck { recovery_point: SeqNum },
}

/// What one ACK tells F-RTO.
#[derive(Debug, Clone, Copy)]
pub(super) struct FrtoAck<'a> {
    /// SND.UNA and SND.NXT before the ACK.
    pub una_before: SeqNum,
    pub nxt_before: SeqNum,
    /// SACKed bytes before the ACK.
    pub sacked_before: u32,
    /// A duplicate ACK (RFC 5681 §2).
    pub dupack: bool,
    /// The ACK's first block is a D-SACK (RFC 2883).
    pub dsack: bool,
    pub blocks: &'a [SackBlock],
    /// The echoed TSval, with timestamps.
    pub ecr: Option<u32>,
}

impl Connection {
    /// A retransmission timeout of data (RFC 5682 step 1): remember the
    /// congestion state it reduces, and start F-RTO where it applies. A
    /// timeout repeated without progress keeps the state from the first.
    pub(super) fn frto_on_timeout(&mut self, now: Instant, cfg: &Config) {
        let repeated = self.retries > 0 && self.recovery.as_ref().is_some_and(|r| r.timeout.is_some());
        // A timeout repeated, or one during a fast recovery, keeps what that
        // episode began with: the congestion state to undo to and the TSval
        // of its first retransmission, which an echo must predate to show the
        // episode spurious (Linux keeps undo_marker and retrans_stamp then;
        // an echo of an earlier fast retransmission is no evidence against
        // this timeout's loss). Such a recovery without an undo has none.
        let undo = if repeated || self.in_recovery {
            self.recovery.as_ref().and_then(|r| r.undo)
        } else {
            Some(Undo { cwnd: self.cc.cwnd(), ssthresh: self.cc.ssthresh(), retransmit_ts: self.ts_now(now) })
        };
        // Step 1: not while a fast recovery or an earlier timeout's
        // recovery is under way, except for a timeout repeated on the same
        // SND.UNA (§3.2; Linux's new_recovery || icsk_retransmits).
        let earlier_recovery = self.in_recovery || (self.snd_una <= self.recover && self.retries == 0);
        let frto = if cfg.frto && (repeated || !earlier_recovery) { Frto::FirstAck } else { Frto::Off };
        self.recovery = Some(Box::new(Recovery { undo, prr: None, timeout: Some(frto), dup_segments: 0 }));
    }

    /// F-RTO's state, while a timeout's recovery runs.
    pub(super) fn frto(&self) -> Frto {
        self.recovery.as_ref().and_then(|r| r.timeout).unwrap_or(Frto::Off)
    }

    /// An ACK during a timeout's recovery, before cwnd grows for it: Eifel
    /// and F-RTO detection (RFC 3522 §3.2, RFC 5682 steps 2 and 3).
    pub(super) fn frto_on_ack(&mut self, a: &FrtoAck<'_>) {
        let Some((frto, undo)) = self.recovery.as_ref().and_then(|r| Some((r.timeout?, r.undo))) else { return };
        let advanced = self.snd_una > a.una_before;
        if !advanced && !a.dupack {
            // §2.1: neither new data acknowledged nor a duplicate: ignored.
            return;
        }
        if advanced {
            // RFC 3522: the first acceptable ACK echoes a TSval older than
            // the retransmission: the original arrived.
            let eifel = matches!(frto, Frto::Off | Frto::FirstAck)
                && undo.zip(a.ecr).is_some_and(|(u, ecr)| (ecr.wrapping_sub(u.retransmit_ts) as i32) < 0);
            if eifel {
                return self.spurious_timeout();
            }
        }
        match frto {
            Frto::Off => {
                if advanced {
                    // Eifel looks at the first ACK only.
                    self.end_timeout_detection();
                }
            }
            Frto::FirstAck if a.dupack => {
                // §3.1 step 2: SACKs adjust the scoreboard; wait. §2.1 step
                // 2a: without SACK, a duplicate means the conventional way.
                if !self.sack_ok {
                    self.end_timeout_detection();
                }
            }
            Frto::FirstAck => {
                let recovery_point = self.snd_max;
                if self.snd_una > a.nxt_before && a.nxt_before < self.recover {
                    // Linux: segments never retransmitted were acknowledged.
                    return self.spurious_timeout();
                }
                if self.snd_una >= recovery_point || self.snd_una < a.nxt_before {
                    // Step 2a: all acknowledged, or not all that was
                    // retransmitted: the conventional recovery.
                    return self.end_timeout_detection();
                }
                // Step 2b: up to two new segments instead of retransmissions.
                let unsent = self.has_unsent() && !(self.fin_queued && self.snd_max > self.fin_seq());
                let window_open = self.snd_wnd > self.snd_max.since(self.snd_una);
                if !(unsent && window_open) {
                    return self.end_timeout_detection();
                }
                self.snd_nxt = self.snd_max;
                if let Some(r) = self.recovery.as_mut() {
                    r.timeout = Some(Frto::SecondAck { recovery_point });
                }
            }
            Frto::SecondAck { recovery_point } => {
                let newly_sacked = self.sacked_bytes() > a.sacked_before;
                // RFC 2018 §4: the first block holds the segment that drew
                // this ACK (after a D-SACK, the second).
                let trigger = a.blocks.get(usize::from(a.dsack)).map(|b| SeqNum(b.right));
                let original_sacked = newly_sacked && trigger.is_some_and(|end| end <= recovery_point);
                if advanced || original_sacked || a.dsack {
                    // Step 3b: what was sent before the timeout arrives.
                    return self.spurious_timeout();
                }
                // Step 3a: a duplicate ACK, or SACKs of the new segments
                // only: the loss was real.
                let three = 3 * u32::from(self.snd_mss);
                if self.cc.cwnd() > three {
                    // cwnd = min(cwnd, 3 MSS), as a restart after idle caps it.
                    self.cc.on_idle_restart(three);
                }
                self.snd_nxt = self.snd_una;
                self.skip_sacked();
                self.end_timeout_detection();
            }
        }
    }

    /// The cwnd F-RTO's new segments count against in step 3: only what
    /// was sent after the first ACK (what was outstanding before the
    /// timeout is taken as lost until then, as RFC 5682 §2.1 step 2b's
    /// "two new segments" needs).
    pub(super) fn frto_flight(&self) -> Option<u32> {
        match self.frto() {
            Frto::SecondAck { recovery_point } => Some(self.snd_nxt.since(recovery_point)),
            _ => None,
        }
    }

    /// The timeout was spurious (SpuriousRecovery = SPUR_TO): the Eifel
    /// response (RFC 4015 §3.3, §3.4, as Linux's tcp_try_undo_loss): the
    /// congestion state from before it, no more go-back retransmissions,
    /// and fast recovery allowed from here (RFC 5682: recover = SND.UNA).
    fn spurious_timeout(&mut self) {
        let Some(undo) = self.recovery.take().and_then(|r| r.undo) else { return };
        self.cc.on_spurious_recovery(undo.cwnd, undo.ssthresh);
        self.snd_nxt = self.snd_max;
        self.recover = self.snd_una;
        self.dupacks = 0;
        if let Some(r) = self.rack.as_mut() {
            r.log.clear_lost();
        }
        self.stats.spurious_timeouts = self.stats.spurious_timeouts.saturating_add(1);
    }

    /// Detection is over without a verdict of spurious: the conventional
    /// recovery after a timeout goes on.
    fn end_timeout_detection(&mut self) {
        self.recovery = None;
    }
}
