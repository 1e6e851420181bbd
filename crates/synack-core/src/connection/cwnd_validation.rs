//! Congestion window validation: cwnd grows only while the sender uses it
//! (RFC 7661 §4, in the form Linux gives it: tcp_is_cwnd_limited and
//! tcp_cwnd_validate). An application that writes less than the window
//! allows (request/response, a rate-limited stream) would otherwise see
//! cwnd climb on every ACK to a size never tested on the path, and the
//! next burst would overflow the bottleneck. RFC 9438 §4.6 asks this of a
//! CUBIC that computes ssthresh from cwnd (as Linux's does, and RFC 8312
//! §4.5 says): cwnd must not grow while the flight is smaller.

use super::Connection;
use crate::congestion::CongestionController;
use crate::seq::SeqNum;

/// Whether the window was used in the last flight: Linux's
/// is_cwnd_limited, max_packets_out and cwnd_usage_seq, in bytes.
#[derive(Debug, Clone, Copy)]
pub(super) struct CwndValidation {
    /// A transmission pass stopped because cwnd was full, in the flight
    /// that `usage_seq` ends.
    limited: bool,
    /// The most that was outstanding (SND.MAX - SND.UNA) in that flight.
    max_flight: u32,
    /// SND.NXT when the flight began: once SND.UNA passes it, the next
    /// pass starts a new one.
    usage_seq: SeqNum,
}

impl CwndValidation {
    /// A connection starting at `iss`: nothing sent, nothing limited.
    pub(super) fn new(iss: SeqNum) -> Self {
        Self { limited: false, max_flight: 0, usage_seq: iss }
    }

    /// The end of a transmission pass (tcp_cwnd_validate): a new flight
    /// once the last one is acknowledged, or at once when cwnd is full,
    /// or when more is outstanding than in an unlimited flight so far.
    fn on_pass(&mut self, limited: bool, flight: u32, snd_una: SeqNum, snd_nxt: SeqNum) {
        if snd_una >= self.usage_seq || limited || (!self.limited && flight > self.max_flight) {
            self.limited = limited;
            self.max_flight = flight;
            self.usage_seq = snd_nxt;
        }
    }

    /// Whether an ACK may grow a window of `cwnd` bytes (tcp_is_cwnd_limited):
    /// cwnd was full in this flight, or in slow start it is less than
    /// twice what was outstanding (slow start doubles what the flight was).
    fn allows_growth(&self, cwnd: u32, slow_start: bool) -> bool {
        self.limited || (slow_start && cwnd < self.max_flight.saturating_mul(2))
    }
}

impl Connection {
    /// Records, after a transmission attempt, whether cwnd is what stopped
    /// it: less than one segment of it is left (what is left of the peer's
    /// window, pacing or an empty send buffer do not count).
    pub(super) fn validate_cwnd(&mut self) {
        let limited = self.cwnd_room() < u32::from(self.snd_mss) || self.tso_hold == Some(true);
        let flight = self.snd_max.since(self.snd_una);
        self.cwnd_validation.on_pass(limited, flight, self.snd_una, self.snd_nxt);
    }

    /// Whether the ACK being processed may grow cwnd (RFC 7661 §4.3:
    /// not while the window is not being used).
    pub(super) fn cwnd_may_grow(&self) -> bool {
        let cwnd = self.cc.cwnd();
        self.cwnd_validation.allows_growth(cwnd, cwnd < self.cc.ssthresh())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const MSS: u32 = 1000;

    #[test]
    fn a_full_window_allows_growth_until_the_next_flight_shows_otherwise() {
        let mut v = CwndValidation::new(SeqNum(0));
        v.on_pass(true, 10 * MSS, SeqNum(0), SeqNum(10 * MSS));
        assert!(v.allows_growth(10 * MSS, false));
        // Half the window used, the full flight not yet acknowledged: still limited.
        v.on_pass(false, 5 * MSS, SeqNum(5 * MSS), SeqNum(10 * MSS));
        assert!(v.allows_growth(10 * MSS, false));
        // The flight is acknowledged and the next one leaves room.
        v.on_pass(false, 2 * MSS, SeqNum(10 * MSS), SeqNum(12 * MSS));
        assert!(!v.allows_growth(10 * MSS, false));
    }

    #[test]
    fn slow_start_grows_to_twice_the_largest_flight() {
        let mut v = CwndValidation::new(SeqNum(0));
        v.on_pass(false, 4 * MSS, SeqNum(0), SeqNum(4 * MSS));
        assert!(v.allows_growth(7 * MSS, true));
        assert!(!v.allows_growth(8 * MSS, true));
        // Not in congestion avoidance: there the window must have been full.
        assert!(!v.allows_growth(7 * MSS, false));
        // A larger unlimited flight raises the bound at once.
        v.on_pass(false, 6 * MSS, SeqNum(MSS), SeqNum(7 * MSS));
        assert!(v.allows_growth(11 * MSS, true));
    }
}
