//! TSO deferral, as Linux's `tcp_tso_should_defer` (net/ipv4/tcp_output.c):
//! when an ACK opens only a sliver of the congestion window right after a
//! transmission, and the next ACK is due within a millisecond, new data
//! waits for that ACK so that it leaves as one larger burst (one
//! super-segment instead of a train of small ones). Linux does this on
//! every TCP socket (its stack always segments in software or on the NIC),
//! and it is visible on the wire: a script whose peer acknowledges a
//! segment at a time sees every other opening of the window wait.

use super::Connection;
use crate::config::Config;
use crate::congestion::CongestionController;
use crate::time::Instant;
use core::time::Duration;

/// Deferral only follows a transmission this recent (Linux: 1 ms since
/// `tcp_wstamp_ns`), so that a deferred burst is never long delayed.
const RECENT_SEND: Duration = Duration::from_millis(1);
/// Linux's `tcp_max_tso_deferred_mss` with `tcp_tso_win_divisor` 0: never
/// defer more than three segments' worth of window.
const MAX_DEFERRED_SEGMENTS: u32 = 3;

impl Connection {
    /// Whether new data waits for the next ACK instead of going now; when
    /// it does, notes whether cwnd is what holds it back (Linux's
    /// `is_cwnd_limited` out of tcp_tso_should_defer, for RFC 7661).
    /// The decision holds until the next event (an ACK, a write, a timer:
    /// `after_event`), as Linux decides only when one of them pushes data;
    /// time passing alone does not release the data.
    pub(super) fn tso_defers(&mut self, now: Instant, cfg: &Config) -> bool {
        if !self.may_defer() {
            self.tso_hold = None;
        } else if self.tso_hold.is_none() {
            self.tso_hold = self.tso_deferral(now, cfg);
        }
        self.tso_hold.is_some()
    }

    /// Not in fast recovery or after a timeout (ca_state Recovery or
    /// Loss), not while going back over sent data, not for a window probe.
    fn may_defer(&self) -> bool {
        !(self.in_recovery || self.snd_una < self.recover || self.snd_nxt < self.snd_max || self.force_probe)
    }

    /// Linux's tcp_tso_should_defer, step by step (the cheap tests
    /// first): `Some(cwnd_limited)` to defer, `None` to send now.
    fn tso_deferral(&self, now: Instant, cfg: &Config) -> Option<bool> {
        if now.saturating_since(self.last_send) > RECENT_SEND {
            return None;
        }
        let mss = u32::from(self.snd_mss).max(1);
        let unsent = self.unsent() as u32;
        let size_goal = self.xmit_size_goal();
        // The head of the write queue as Linux would hold it: one skb of
        // up to `size_goal`; with a single segment in it Nagle decides.
        let head = unsent.min(size_goal);
        let cong_win = self.cwnd_room();
        if head <= mss || cong_win < mss {
            return None;
        }
        let send_win = self.peer_room();
        let limit = send_win.min(cong_win);
        // The head skb (not the last one) fits whole.
        let is_tail = unsent <= size_goal;
        if !is_tail && limit >= head {
            return None;
        }
        match self.snd_wnd.min(self.cc.cwnd()).checked_div(cfg.tso_win_divisor) {
            // At least this fraction of the window is open: use it.
            Some(chunk) if limit >= chunk => return None,
            None if limit > MAX_DEFERRED_SEGMENTS * mss => return None,
            _ => {}
        }
        // A FIN rides on the last skb: it will get no more data.
        if self.fin_queued && is_tail {
            return None;
        }
        // The next ACK: one SRTT after the oldest unacknowledged segment
        // went out; defer only if it is due within min(1 ms, SRTT/2).
        let head_sent = self.rack.as_ref().and_then(|r| r.log.first_xmit())?;
        let srtt = self.rtt.srtt()?;
        if (head_sent + srtt).saturating_since(now) > (srtt / 2).min(RECENT_SEND) {
            return None;
        }
        // A full-sized burst fits (tcp_tso_autosize).
        if limit as usize >= self.tso_goal() {
            return None;
        }
        Some(cong_win < send_win && cong_win <= head)
    }

    /// The most one skb of the write queue holds in Linux
    /// (`tcp_xmit_size_goal`): a full super-segment, and no more than
    /// half the largest window the peer offered, in whole segments.
    fn xmit_size_goal(&self) -> u32 {
        let mss = u32::from(self.snd_mss).max(1);
        let mut goal = self.gso_max_segments() as u32 * mss;
        let half = if self.max_snd_wnd > 536 { self.max_snd_wnd / 2 } else { self.max_snd_wnd };
        if half > 0 && goal > half {
            goal = half.max(68);
        }
        (goal / mss * mss).max(mss)
    }
}
