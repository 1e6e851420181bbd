//! The go-back after a retransmission timeout (or a smaller path MTU):
//! SND.NXT returns to SND.UNA and walks up to SND.MAX again, resending what
//! is deemed lost. With RACK's log the walk skips what the peer has SACKed
//! (RFC 6675 §5.1: after a timeout the sender may go on using the SACK
//! information, as Linux does), unless the peer reneged on it (RFC 2018
//! §8), which the timeout sees and an ACK makes it come sooner (Linux's
//! tcp_check_sack_reneging).

use super::Connection;
use crate::time::Instant;
use core::time::Duration;

/// The shortest wait before a timeout that forgets SACKs the peer reneged on
/// (Linux's tcp_check_sack_reneging: 10 ms, or half of SRTT if longer).
const RENEGING_MIN_DELAY: Duration = Duration::from_millis(10);

impl Connection {
    /// Resends from SND.UNA: everything not SACKed is deemed lost, and
    /// SND.NXT goes back to the first byte of it.
    pub(super) fn go_back(&mut self) {
        if let Some(r) = self.rack.as_mut() {
            r.log.mark_unsacked_lost();
        }
        self.snd_nxt = self.snd_una;
        self.skip_sacked();
    }

    /// During a go-back, moves SND.NXT past what the peer has SACKed.
    pub(super) fn skip_sacked(&mut self) {
        if self.snd_nxt >= self.snd_max {
            return;
        }
        if let Some(r) = self.rack.as_ref() {
            self.snd_nxt = r.log.skip_sacked(self.snd_nxt).min(self.snd_max);
        }
    }

    /// The most a go-back may resend from `seq` in one segment (at most a
    /// super-segment), in bytes: up to the next range the peer has SACKed.
    pub(super) fn go_back_limit(&self, seq: crate::seq::SeqNum) -> usize {
        if seq >= self.snd_max {
            return usize::MAX;
        }
        let within = (super::pacing::GSO_MAX_SIZE as u32).min(self.snd_max.since(seq));
        let end = self.rack.as_ref().and_then(|r| r.log.next_sacked(seq, within)).unwrap_or(self.snd_max);
        end.since(seq) as usize
    }

    /// After an ACK of new data: if the segment now at SND.UNA is one the
    /// peer SACKed, it has discarded it; the retransmission timer fires
    /// soon (half of SRTT, at least 10 ms) instead of an RTO from now, and
    /// that timeout forgets the SACKs (as Linux's tcp_check_sack_reneging).
    pub(super) fn check_sack_reneging(&mut self, now: Instant) {
        if !self.rack.as_ref().is_some_and(|r| r.log.head_sacked()) {
            return;
        }
        let delay = self.rtt.srtt().map_or(RENEGING_MIN_DELAY, |s| (s / 2).max(RENEGING_MIN_DELAY));
        self.disarm_probe();
        self.timers.rtx = Some(now + delay);
    }
}
