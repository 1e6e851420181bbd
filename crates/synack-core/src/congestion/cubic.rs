//! CUBIC congestion control (RFC 9438): after a reduction the window grows
//! along a cubic function of the time since it, concave up to the window
//! where the loss happened (W_max), convex beyond it; never slower than
//! Reno would grow (the Reno-friendly region). Slow start and the recovery
//! mechanics (inflation, partial ACKs) are Reno's; the reduction is by
//! β = 0.7 instead of 0.5.

use super::CongestionController;
use crate::time::Instant;
use core::time::Duration;

/// C of RFC 9438 §4.2, in segments per second cubed.
const C: f64 = 0.4;
/// β_cubic of RFC 9438 §4.6: the window after a reduction, as a share of before.
const BETA: f64 = 0.7;
/// RTT assumed before the first measurement.
const DEFAULT_RTT: Duration = Duration::from_millis(100);

/// CUBIC's state: the window, W_max, K and the epoch of growth.
#[derive(Debug, Clone, Copy)]
pub struct Cubic {
    /// cwnd in bytes, with the fraction growth has accumulated.
    cwnd: f64,
    ssthresh: u32,
    /// W_max in bytes: the window just before the last reduction (§4.2).
    w_max: f64,
    /// W_max before that, for fast convergence (§4.7).
    w_last_max: f64,
    /// When the current congestion-avoidance epoch began.
    epoch: Option<Instant>,
    /// K in seconds: when the cubic function reaches W_max again (§4.2).
    k: f64,
    /// W_est in bytes: the window Reno would have (§4.3).
    w_est: f64,
}

impl Cubic {
    /// A controller with an initial window of `initial` bytes and an
    /// arbitrarily high ssthresh (RFC 5681 §3.1).
    pub fn new(initial: u32) -> Self {
        Self {
            cwnd: f64::from(initial),
            ssthresh: u32::MAX,
            w_max: 0.0,
            w_last_max: 0.0,
            epoch: None,
            k: 0.0,
            w_est: 0.0,
        }
    }

    /// W_cubic(t) of RFC 9438 §4.2, in bytes.
    fn w_cubic(&self, t: f64, mss: f64) -> f64 {
        (C * (t - self.k).powi(3)) * mss + self.w_max
    }

    /// A congestion event (§4.6, §4.7): remember W_max, reduce ssthresh
    /// to β times `window` (at least 2 MSS).
    fn reduce(&mut self, window: f64, mss: u32) {
        self.epoch = None;
        // Fast convergence: a flow whose W_max keeps falling yields bandwidth.
        self.w_max = if self.cwnd < self.w_last_max { self.cwnd * (1.0 + BETA) / 2.0 } else { self.cwnd };
        self.w_last_max = self.cwnd;
        self.ssthresh = ((window * BETA) as u32).max(2 * mss);
    }

    /// §4.2: a new epoch of growth begins now; K from how far the window is below W_max.
    fn start_epoch(&mut self, now: Instant, mss: f64) -> Instant {
        self.epoch = Some(now);
        self.w_est = self.cwnd;
        if self.w_max > self.cwnd {
            self.k = ((self.w_max - self.cwnd) / mss / C).cbrt();
        } else {
            self.k = 0.0;
            self.w_max = self.cwnd;
        }
        now
    }

    fn set_cwnd(&mut self, bytes: u32) {
        self.cwnd = f64::from(bytes);
    }
}

impl CongestionController for Cubic {
    fn cwnd(&self) -> u32 {
        self.cwnd as u32
    }

    fn ssthresh(&self) -> u32 {
        self.ssthresh
    }

    fn on_ack(&mut self, acked: u32, mss: u32, now: Instant, srtt: Option<Duration>) {
        let mssf = f64::from(mss);
        if self.cwnd() < self.ssthresh {
            // Slow start as Reno (RFC 5681 §3.1, byte counting with L = 2).
            self.cwnd += f64::from(acked.min(2 * mss));
            return;
        }
        let epoch = match self.epoch {
            Some(e) => e,
            None => self.start_epoch(now, mssf),
        };
        let t = now.saturating_since(epoch).as_secs_f64();
        let rtt = srtt.unwrap_or(DEFAULT_RTT).as_secs_f64();
        // §4.2: the target one RTT ahead, between cwnd and 1.5 cwnd.
        let target = self.w_cubic(t + rtt, mssf).clamp(self.cwnd, 1.5 * self.cwnd);
        // §4.3: the Reno-friendly estimate grows by alpha segments per window.
        let alpha = if self.w_est >= self.w_max { 1.0 } else { 3.0 * (1.0 - BETA) / (1.0 + BETA) };
        self.w_est += alpha * f64::from(acked) / self.cwnd * mssf;
        if self.w_cubic(t, mssf) < self.w_est {
            self.cwnd = self.cwnd.max(self.w_est);
        } else {
            // §4.4, §4.5: grow by (target - cwnd) / cwnd per segment acknowledged.
            self.cwnd += (target - self.cwnd) / self.cwnd * f64::from(acked);
        }
    }

    /// ssthresh from cwnd, as RFC 8312 §4.5 and Linux's
    /// bictcp_recalc_ssthresh have it. RFC 9438 §4.6 (not in ../shared/rfc,
    /// from the published text) takes the flight size, and allows cwnd
    /// where cwnd does not grow beyond the flight: the connection's cwnd
    /// validation (connection/cwnd_validation.rs) sees to that.
    fn on_recovery(&mut self, _flight: u32, mss: u32) {
        self.reduce(self.cwnd, mss);
        self.set_cwnd(self.ssthresh);
    }

    fn on_recovery_end(&mut self) {
        self.set_cwnd(self.ssthresh);
        self.epoch = None;
    }

    fn on_spurious_recovery(&mut self, cwnd: u32, ssthresh: u32) {
        // W_max goes back to what it was before the reduction.
        self.w_max = self.w_last_max.max(self.w_max);
        self.cwnd = self.cwnd.max(f64::from(cwnd));
        self.ssthresh = ssthresh;
        self.epoch = None;
    }

    /// §4.7: as a congestion event, then one segment. ssthresh from the
    /// larger of cwnd (Linux, RFC 8312) and the flight (RFC 5681 §3.1
    /// eq. 4, RFC 9438 §4.6): a timeout while going back after an earlier
    /// one finds cwnd small and the old flight still outstanding, and
    /// Linux's choice then leaves 2 MSS where the path carried far more
    /// (`cargo bench --bench bottleneck`, 100 ms, 2 % loss over six seeds:
    /// 0.85 Mbit/s from cwnd, 1.13 from the larger). An application-limited
    /// timeout keeps Linux's value.
    fn on_rto(&mut self, flight: u32, mss: u32) {
        self.reduce(self.cwnd.max(f64::from(flight)), mss);
        self.set_cwnd(mss);
    }

    fn on_repeated_rto(&mut self, mss: u32) {
        self.set_cwnd(mss);
        self.epoch = None;
    }

    fn on_idle_restart(&mut self, restart_window: u32) {
        self.set_cwnd(self.cwnd().min(restart_window));
        self.epoch = None;
    }

    fn end_slow_start(&mut self) {
        // The curve starts at the current window, with no earlier W_max.
        self.ssthresh = self.cwnd();
        self.epoch = None;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const MSS: u32 = 1000;

    fn at(ms: u64) -> Instant {
        Instant::from_micros(ms * 1000)
    }

    /// Feeds one window of ACKs per RTT of 100 ms from `from` to `to` ms.
    fn run(c: &mut Cubic, from: u64, to: u64) {
        let mut t = from;
        while t < to {
            let segs = c.cwnd() / MSS;
            for _ in 0..segs.max(1) {
                c.on_ack(MSS, MSS, at(t), Some(Duration::from_millis(100)));
            }
            t += 100;
        }
    }

    /// A controller whose window was 100 segments when a loss was repaired.
    fn after_a_loss_at_100_segments() -> Cubic {
        let mut c = Cubic::new(100 * MSS);
        c.on_recovery(100 * MSS, MSS);
        c.on_recovery_end();
        c
    }

    #[test]
    fn a_loss_reduces_the_window_by_beta() {
        let mut c = Cubic::new(100 * MSS);
        c.on_recovery(100 * MSS, MSS);
        assert_eq!((c.cwnd(), c.ssthresh()), (70 * MSS, 70 * MSS));
        c.on_recovery_end();
        assert_eq!(c.cwnd(), 70 * MSS);
    }

    #[test]
    fn a_loss_with_less_in_flight_takes_beta_of_cwnd() {
        let mut c = Cubic::new(10 * MSS);
        c.on_recovery(5 * MSS, MSS);
        assert_eq!(c.ssthresh(), 7 * MSS);
    }

    #[test]
    fn a_timeout_takes_beta_of_the_larger_of_cwnd_and_the_flight() {
        let mut c = Cubic::new(10 * MSS);
        c.on_rto(MSS, MSS);
        assert_eq!((c.cwnd(), c.ssthresh()), (MSS, 7 * MSS));
        // Going back from one segment with the old flight outstanding.
        c.on_ack(2 * MSS, MSS, at(0), None);
        c.on_rto(20 * MSS, MSS);
        assert_eq!((c.cwnd(), c.ssthresh()), (MSS, 14 * MSS));
        // The same segment timing out again holds ssthresh (RFC 5681 §3.1).
        c.on_repeated_rto(MSS);
        assert_eq!((c.cwnd(), c.ssthresh()), (MSS, 14 * MSS));
    }

    #[test]
    fn the_window_returns_to_w_max_after_k_seconds_then_grows_beyond() {
        let mut c = after_a_loss_at_100_segments();
        // K = cbrt(30 / 0.4) = 4.2 s.
        run(&mut c, 0, 2000);
        let at_2s = c.cwnd();
        assert!(at_2s > 70 * MSS && at_2s < 100 * MSS, "concave, below W_max: {at_2s}");
        run(&mut c, 2000, 4300);
        let at_k = c.cwnd();
        assert!(at_k.abs_diff(100 * MSS) < 5 * MSS, "back at W_max near K: {at_k}");
        run(&mut c, 4300, 6300);
        assert!(c.cwnd() > at_k + 3 * MSS, "convex beyond W_max: {}", c.cwnd());
    }

    #[test]
    fn growth_near_w_max_is_slower_than_far_from_it() {
        let mut c = after_a_loss_at_100_segments();
        run(&mut c, 0, 1000);
        let first_second = c.cwnd() - 70 * MSS;
        run(&mut c, 1000, 3700);
        let before = c.cwnd();
        run(&mut c, 3700, 4700);
        assert!(c.cwnd() - before < first_second / 2, "plateau near W_max: {} vs {first_second}", c.cwnd() - before);
    }

    #[test]
    fn fast_convergence_lowers_w_max_when_it_keeps_falling() {
        let mut c = after_a_loss_at_100_segments();
        c.on_recovery(70 * MSS, MSS);
        // W_max = 70 * (1 + 0.7) / 2 = 59.5 segments.
        assert!((c.w_max - 59_500.0).abs() < 1.0, "{}", c.w_max);
    }

    #[test]
    fn a_timeout_leaves_one_segment() {
        let mut c = Cubic::new(100 * MSS);
        c.on_rto(100 * MSS, MSS);
        assert_eq!((c.cwnd(), c.ssthresh()), (MSS, 70 * MSS));
    }
}
