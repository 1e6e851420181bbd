//! NewReno congestion control (RFC 5681, RFC 6582).

use super::CongestionController;
use crate::time::Instant;
use core::time::Duration;

/// Slow start, congestion avoidance, and fast recovery with window inflation.
#[derive(Debug, Clone, Copy)]
pub struct NewReno {
    cwnd: u32,
    ssthresh: u32,
    /// Bytes acknowledged in congestion avoidance not yet turned into window.
    acked_in_ca: u32,
}

impl NewReno {
    /// A controller with an initial window of `initial` bytes and an
    /// arbitrarily high ssthresh (RFC 5681 §3.1).
    pub fn new(initial: u32) -> Self {
        Self { cwnd: initial, ssthresh: u32::MAX, acked_in_ca: 0 }
    }
}

impl CongestionController for NewReno {
    fn cwnd(&self) -> u32 {
        self.cwnd
    }

    fn ssthresh(&self) -> u32 {
        self.ssthresh
    }

    fn on_ack(&mut self, acked: u32, mss: u32, _now: Instant, _srtt: Option<Duration>) {
        let acked = super::slow_start(&mut self.cwnd, self.ssthresh, acked);
        if acked > 0 {
            // RFC 5681 §3.1 eq. 3, counted in bytes: one MSS per cwnd acked.
            self.acked_in_ca = self.acked_in_ca.saturating_add(acked);
            if self.acked_in_ca >= self.cwnd {
                self.acked_in_ca -= self.cwnd;
                self.cwnd = self.cwnd.saturating_add(mss);
            }
        }
    }

    fn on_recovery(&mut self, flight: u32, mss: u32) {
        // RFC 5681 §3.2 eq. 4; cwnd = ssthresh as RFC 6675 §5 (4.2) and
        // RFC 6937 have it (no inflation: PRR decides what goes).
        self.ssthresh = (flight / 2).max(2 * mss);
        self.cwnd = self.ssthresh;
        self.acked_in_ca = 0;
    }

    fn on_recovery_end(&mut self) {
        // RFC 6582 §3.2 step 6, option 2 (Linux).
        self.cwnd = self.ssthresh;
    }

    fn on_spurious_recovery(&mut self, cwnd: u32, ssthresh: u32) {
        self.cwnd = self.cwnd.max(cwnd);
        self.ssthresh = ssthresh;
    }

    fn on_rto(&mut self, flight: u32, mss: u32) {
        self.ssthresh = (flight / 2).max(2 * mss);
        self.cwnd = mss;
        self.acked_in_ca = 0;
    }

    fn on_repeated_rto(&mut self, mss: u32) {
        self.cwnd = mss;
        self.acked_in_ca = 0;
    }

    fn on_cwnd_restart(&mut self, cwnd: u32, mss: u32) {
        self.ssthresh = super::current_ssthresh(self.ssthresh, self.cwnd, mss);
        self.cwnd = cwnd;
    }

    fn on_idle_restart(&mut self, restart_window: u32) {
        self.cwnd = self.cwnd.min(restart_window);
    }

    fn end_slow_start(&mut self) {
        self.ssthresh = self.cwnd;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_stretch_ack_grows_slow_start_by_all_it_acknowledges_up_to_ssthresh() {
        // As Linux's tcp_slow_start: no byte-counting limit.
        let mut c = NewReno::new(10 * 1000);
        c.on_ack(10_000, 1000, Instant::from_micros(0), None);
        assert_eq!(c.cwnd(), 20_000);
        // Past ssthresh, the rest counts toward congestion avoidance.
        c.on_rto(44_000, 1000);
        assert_eq!(c.ssthresh(), 22_000);
        c.on_ack(30_000, 1000, Instant::from_micros(0), None);
        assert_eq!(c.cwnd(), 22_000, "21,000 in slow start, 9,000 of 22,000 toward the next MSS");
        c.on_ack(13_000, 1000, Instant::from_micros(0), None);
        assert_eq!(c.cwnd(), 23_000);
    }

    #[test]
    fn slow_start_then_avoidance() {
        let mut c = NewReno::new(10 * 1000);
        c.on_ack(1000, 1000, Instant::from_micros(0), None);
        assert_eq!(c.cwnd(), 11_000);
        c.on_rto(20_000, 1000);
        assert_eq!((c.cwnd(), c.ssthresh()), (1000, 10_000));
        for _ in 0..9 {
            c.on_ack(1000, 1000, Instant::from_micros(0), None);
        }
        assert_eq!(c.cwnd(), 10_000);
        // Congestion avoidance: one MSS per window of ACKed bytes.
        for _ in 0..10 {
            c.on_ack(1000, 1000, Instant::from_micros(0), None);
        }
        assert_eq!(c.cwnd(), 11_000);
    }

    #[test]
    fn recovery_halves_the_flight_and_ends_at_ssthresh() {
        let mut c = NewReno::new(20_000);
        c.on_recovery(20_000, 1000);
        assert_eq!((c.ssthresh(), c.cwnd()), (10_000, 10_000));
        // RFC 6582 §3.2 step 6, option 2, as Linux: cwnd = ssthresh.
        c.on_recovery_end();
        assert_eq!(c.cwnd(), 10_000);
    }
}
