//! Defences against blind attacks (RFC 5961) and ACK loops: the range an
//! ACK must lie in (§5.2), challenge ACKs for in-window RSTs and SYNs
//! (§3.2, §4.2) with the endpoint-wide limit of §7, and Linux's
//! per-connection limit on ACKs sent for out-of-window segments
//! (`tcp_oow_rate_limited`, `tcp_invalid_ratelimit`): an attacker who
//! knows the 4-tuple cannot make the connection answer every spoofed
//! segment, nor two stacks ACK each other in a loop.

use super::{Connection, Segment, State};
use crate::seq::SeqNum;
use crate::time::Instant;
use crate::Config;

impl Connection {
    /// RFC 5961 §5.2: an ACK is acceptable in [SND.UNA - MAX.SND.WND,
    /// SND.NXT], tightened where the RFC's bound reaches below ISS + 1: every
    /// segment of a synchronized peer acknowledges our SYN, so nothing older
    /// can be genuine (and a connection that has sent little offers a blind
    /// attacker a range of that size, not of the peer's window).
    pub(super) fn ack_in_range(&self, ack: SeqNum) -> bool {
        let floor = self.iss + 1;
        let mut lower = self.snd_una - self.max_snd_wnd.max(1);
        if lower < floor && self.snd_una >= floor {
            lower = floor;
        }
        ack >= lower && ack <= self.snd_max
    }

    /// Whether the per-connection limit holds back an ACK for an invalid
    /// segment now (Linux's `__tcp_oow_rate_limited`); when not, the
    /// limit's clock restarts.
    fn oow_rate_limited(&mut self, now: Instant, cfg: &Config) -> bool {
        if cfg.invalid_ack_ratelimit.is_zero() {
            return false;
        }
        if self.last_oow_ack.is_some_and(|t| now.saturating_since(t) < cfg.invalid_ack_ratelimit) {
            self.stats.acks_rate_limited = self.stats.acks_rate_limited.saturating_add(1);
            return true;
        }
        self.last_oow_ack = Some(now);
        false
    }

    /// The ACK owed for a segment that failed PAWS or the sequence check
    /// (RFC 7323 §5.3, RFC 9293 §3.10.7.4 first check). As Linux, a segment
    /// with data (and no SYN) always gets it, being likely a retransmission
    /// the peer needs answered; pure ACKs and SYNs only within the limit.
    pub(super) fn ack_invalid_segment(&mut self, now: Instant, cfg: &Config, seg: &Segment<'_>) {
        let carries_data = !seg.payload.is_empty() || seg.flags.fin();
        if carries_data && seg.seq < self.rcv_nxt && self.state.is_synchronized() {
            // A retransmission of data we have: our ACK was probably lost,
            // so ACK quickly for a while (Linux's tcp_send_dupack).
            self.ack.enter_quickack(self.window_last_advertised(), self.peer_seg_mss);
            // RFC 2883 §4.1.1: report it (up to RCV.NXT) in a D-SACK block;
            // a FIN's sequence number counts, as in Linux's (a FIN sent
            // again is reported too). Not in TIME-WAIT, whose ACKs Linux
            // sends from a timewait socket, without SACK.
            let end = seg.seq + seg.payload.len() as u32 + u32::from(seg.flags.fin());
            if self.state != State::TimeWait {
                self.note_duplicate(cfg, seg.seq, end.min(self.rcv_nxt));
            }
        }
        if (carries_data && !seg.flags.syn()) || !self.oow_rate_limited(now, cfg) {
            self.ack_now = true;
        }
    }

    /// Asks for a challenge ACK (RFC 5961 §3.2, §4.2, §5.2): first the
    /// per-connection limit, then the endpoint grants it or not (the limit
    /// of RFC 5961 §7 is endpoint-wide), as Linux's `tcp_send_challenge_ack`.
    pub(super) fn challenge_ack(&mut self, now: Instant, cfg: &Config) {
        if !self.oow_rate_limited(now, cfg) {
            self.challenge_wanted = true;
        }
    }

    /// Takes the request for a challenge ACK made by the last segment.
    pub(crate) fn take_challenge_request(&mut self) -> bool {
        core::mem::take(&mut self.challenge_wanted)
    }

    /// Sends the challenge ACK the endpoint's rate limit allowed.
    pub(crate) fn grant_challenge_ack(&mut self) {
        self.stats.challenge_acks = self.stats.challenge_acks.saturating_add(1);
        self.ack_now = true;
    }
}
