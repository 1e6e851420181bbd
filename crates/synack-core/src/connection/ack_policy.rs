//! When received data is acknowledged: delayed ACK (RFC 9293 §3.8.6.3,
//! MUST-40 and SHLD-19; RFC 5681 §4.2) with Linux's refinements, because a
//! peer's timing depends on them (DRILL.md, "Defaults"):
//!
//! - quick-ACK mode: the first data of a connection, and data after the
//!   receiver was idle for longer than an RTO, are ACKed at once, up to a
//!   budget of min(16, window / 2·MSS) ACKs, so the peer's slow start is not
//!   held back by the delay (tcp_input.c, `tcp_incr_quickack`);
//! - interactive ("ping-pong") mode: once we answer data with data within
//!   the delayed-ACK timeout, ACKs wait to ride on the replies, and
//!   quick-ACK mode is off until a delayed ACK fires without a reply;
//! - the timeout (`ato`) adapts to how often data arrives, from 40 ms up to
//!   200 ms and never beyond the smoothed RTT (`tcp_send_delayed_ack`);
//! - a duplicate of data already received puts the receiver back in
//!   quick-ACK mode (the peer retransmitted: our ACK was likely lost);
//! - reading a small pushed segment out of an otherwise empty buffer ACKs
//!   at once outside interactive mode (`tcp_cleanup_rbuf`).

use crate::time::Instant;
use core::time::Duration;

/// At most this many quick ACKs in a row (Linux's TCP_MAX_QUICKACKS).
pub(super) const MAX_QUICKACKS: u8 = 16;
/// The longest delayed-ACK timeout in interactive mode (TCP_DELACK_MAX).
const DELACK_MAX: Duration = Duration::from_millis(200);
/// The longest timeout otherwise (HZ / 2).
const ATO_CAP: Duration = Duration::from_millis(500);

/// The receiver's ACK state (Linux's `icsk_ack`).
#[derive(Debug, Clone, Default)]
pub(super) struct AckPolicy {
    /// Quick ACKs left.
    quick: u8,
    /// Replies sent within `ato` of receiving data (interactive at 1 or more).
    pingpong: u8,
    /// The current delayed-ACK timeout in microseconds; zero until the first data.
    ato_us: u32,
    /// When data last arrived (meaningful once `ato_us` is not zero).
    last_data: Instant,
    /// A small or pushed segment arrived since the last ACK (ICSK_ACK_PUSHED),
    /// twice (ICSK_ACK_PUSHED2).
    pushed: u8,
    /// Data arrived that no ACK has covered yet.
    owed: bool,
    /// The shortest timeout in microseconds (the configured delayed ACK, TCP_ATO_MIN).
    min_us: u32,
}

fn micros(d: Duration) -> u32 {
    d.as_micros().min(u128::from(u32::MAX)) as u32
}

impl AckPolicy {
    /// The state of a new connection, with the shortest timeout `min`.
    pub(super) fn new(min: Duration) -> Self {
        AckPolicy { min_us: micros(min), ..Default::default() }
    }

    /// The current timeout.
    pub(super) fn ato(&self) -> Duration {
        Duration::from_micros(u64::from(self.ato_us))
    }

    fn set_ato(&mut self, d: Duration) {
        self.ato_us = micros(d).max(1);
    }

    fn min(&self) -> Duration {
        Duration::from_micros(u64::from(self.min_us))
    }

    /// Data arrived (`tcp_event_data_recv`): the ACK is owed, the timeout
    /// adapts to the gap since the last data, and the first data or data
    /// after a gap longer than `rto` starts quick-ACK mode. `window` is the
    /// window last advertised and `mss` the peer's segment size as measured.
    pub(super) fn on_data(&mut self, now: Instant, rto: Duration, window: u32, mss: u16, small: bool) {
        let min = self.min();
        self.owed = true;
        if small {
            self.pushed = self.pushed.saturating_add(1).min(2);
        }
        if self.ato_us == 0 {
            self.incr_quickack(MAX_QUICKACKS, window, mss);
            self.set_ato(min);
        } else {
            let (m, ato) = (now.saturating_since(self.last_data), self.ato());
            if m <= min / 2 {
                self.set_ato(ato / 2 + min / 2);
            } else if m < ato {
                self.set_ato((ato / 2 + m).min(rto).min(DELACK_MAX));
            } else if m > rto {
                // The sender was idle: ACK quickly while it restarts.
                self.incr_quickack(MAX_QUICKACKS, window, mss);
            }
        }
        self.last_data = now;
    }

    /// Raises the quick-ACK budget to min(max, window / 2·MSS), at least 2.
    fn incr_quickack(&mut self, max: u8, window: u32, mss: u16) {
        let n = (window / (2 * u32::from(mss.max(1)))).clamp(2, u32::from(max)) as u8;
        self.quick = self.quick.max(n);
    }

    /// Quick-ACK mode with a fresh budget, out of interactive mode (after a
    /// duplicate segment, `tcp_enter_quickack_mode`).
    pub(super) fn enter_quickack(&mut self, window: u32, mss: u16) {
        self.incr_quickack(MAX_QUICKACKS, window, mss);
        self.pingpong = 0;
        self.set_ato(self.min());
    }

    /// Whether owed data is ACKed at once (`tcp_in_quickack_mode`).
    pub(super) fn in_quickack(&self) -> bool {
        self.quick > 0 && self.pingpong == 0
    }

    /// Whether the connection is interactive.
    pub(super) fn interactive(&self) -> bool {
        self.pingpong > 0
    }

    /// The peer's FIN: an ACK is owed, and there is nothing more to ACK
    /// quickly for (`tcp_fin`).
    pub(super) fn on_fin(&mut self) {
        self.owed = true;
        self.pingpong = self.pingpong.max(1);
    }

    /// Whether data has arrived (the delayed-ACK engine is running); a FIN
    /// before any data is ACKed at once, as Linux's zero `ato` makes it.
    pub(super) fn has_data(&self) -> bool {
        self.ato_us != 0
    }

    /// A segment carrying an ACK went out (`tcp_event_ack_sent`): a quick
    /// ACK is spent if data was owed.
    pub(super) fn on_ack_sent(&mut self) {
        if self.quick > 0 && self.owed {
            self.quick -= 1;
            if self.quick == 0 {
                self.set_ato(self.min());
            }
        }
        self.owed = false;
        self.pushed = 0;
    }

    /// Data went out (`tcp_event_data_sent`): a reply within `ato` of
    /// receiving data makes the connection interactive.
    pub(super) fn on_data_sent(&mut self, now: Instant) {
        if self.ato_us != 0 && now.saturating_since(self.last_data) < self.ato() {
            self.pingpong = self.pingpong.saturating_add(1);
        }
    }

    /// How long to delay the owed ACK (`tcp_send_delayed_ack`), bounded by
    /// the smoothed RTT once one is known.
    pub(super) fn delay(&self, srtt: Option<Duration>) -> Duration {
        let min = self.min();
        let mut ato = self.ato().max(min);
        if ato > min {
            let mut max = if self.interactive() || self.pushed > 0 { DELACK_MAX } else { ATO_CAP };
            if let Some(rtt) = srtt {
                max = max.min(rtt.max(min));
            }
            ato = ato.min(max);
        }
        ato.min(DELACK_MAX)
    }

    /// The delayed-ACK timer fired with an ACK owed: a missed reply
    /// inflates the timeout, or ends interactive mode.
    pub(super) fn on_delack_fired(&mut self, rto: Duration) {
        if !self.owed {
            return;
        }
        if self.interactive() {
            self.pingpong = 0;
            self.set_ato(self.min());
        } else {
            self.set_ato((self.ato() * 2).min(rto).min(DELACK_MAX));
        }
    }

    /// The application read the buffer empty (`tcp_cleanup_rbuf`): ACK now
    /// if a pushed segment waits for its ACK, twice pushed or not interactive.
    pub(super) fn ack_on_drain(&self) -> bool {
        self.owed && (self.pushed >= 2 || (self.pushed == 1 && !self.interactive()))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const MIN: Duration = Duration::from_millis(40);
    const RTO: Duration = Duration::from_millis(1000);

    fn at(ms: u64) -> Instant {
        Instant::from_micros(ms * 1000)
    }

    #[test]
    fn the_first_data_starts_a_budget_of_sixteen_quick_acks() {
        let mut a = AckPolicy::new(MIN);
        a.on_data(at(0), RTO, 64_240, 1460, false);
        for _ in 0..16 {
            assert!(a.in_quickack());
            a.on_ack_sent();
            a.on_data(at(1), RTO, 64_240, 1460, false);
        }
        assert!(!a.in_quickack(), "the budget is spent");
    }

    #[test]
    fn a_small_window_gives_a_smaller_budget() {
        let mut a = AckPolicy::new(MIN);
        a.on_data(at(0), RTO, 5840, 1460, false);
        assert_eq!(a.quick, 2);
    }

    #[test]
    fn a_reply_within_the_timeout_makes_the_connection_interactive() {
        let mut a = AckPolicy::new(MIN);
        a.on_data(at(0), RTO, 64_240, 1460, false);
        a.on_data_sent(at(10));
        assert!(a.interactive() && !a.in_quickack());
        a.on_delack_fired(RTO);
        assert!(!a.interactive(), "a delayed ACK without a reply ends it");
    }

    #[test]
    fn an_idle_gap_longer_than_the_rto_restarts_quick_acks() {
        let mut a = AckPolicy::new(MIN);
        a.on_data(at(0), RTO, 64_240, 1460, false);
        a.quick = 0;
        a.on_data(at(2000), RTO, 64_240, 1460, false);
        assert!(a.in_quickack());
    }

    #[test]
    fn the_delay_is_bounded_by_the_rtt_and_200_ms() {
        let mut a = AckPolicy { ato_us: 400_000, ..AckPolicy::new(MIN) };
        assert_eq!(a.delay(None), DELACK_MAX);
        assert_eq!(a.delay(Some(Duration::from_millis(60))), Duration::from_millis(60));
        a.ato_us = 40_000;
        assert_eq!(a.delay(Some(Duration::from_millis(10))), MIN, "never under the minimum");
    }
}
