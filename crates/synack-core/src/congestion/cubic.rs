//! CUBIC congestion control (RFC 9438) as Linux computes it
//! (net/ipv4/tcp_cubic.c, `bictcp_update`): after a reduction the window
//! grows along a cubic function of the time since it, concave up to the
//! window where the loss happened (W_max, `last_max_cwnd`), convex beyond
//! it; never slower than Reno would grow (the Reno-friendly region,
//! `tcp_friendliness`). The arithmetic is Linux's, in whole segments and
//! integers, so a script sees the same cwnd on both engines: time in
//! 1/1024 s (`BICTCP_HZ`) from the kernel's jiffies plus the minimum RTT,
//! K by Linux's cube root, the target's offset truncated, and the window
//! grown by one segment per `cnt` segments acknowledged (tcp_cong_avoid_ai).
//! Slow start and the recovery mechanics are the connection's and Reno's;
//! the reduction is by β = 717/1024 instead of 0.5.

use super::CongestionController;
use crate::time::Instant;
use core::time::Duration;

/// Linux's `beta`: the window after a reduction, in 1/1024 (≈ 0.7, RFC 9438 §4.6).
const BETA: u64 = 717;
/// Linux's `BICTCP_BETA_SCALE`.
const BETA_SCALE: u64 = 1024;
/// Linux's `bic_scale` (41): C = 41 × 10 / 1024 ≈ 0.4 (RFC 9438 §4.2).
const CUBE_RTT_SCALE: u64 = 41 * 10;
/// Linux's `cube_factor`: 2^40 / (bic_scale × 10), so that K in 1/1024 s
/// is the cube root of cube_factor × (W_max - cwnd).
const CUBE_FACTOR: u64 = (1 << 40) / CUBE_RTT_SCALE;
/// Linux's `beta_scale`: 8 × (1024 + 717) / 3 / (1024 - 717), for the Reno-friendly estimate.
const FRIENDLY_SCALE: u64 = 8 * (BETA_SCALE + BETA) / 3 / (BETA_SCALE - BETA);
/// The kernel's tick (CONFIG_HZ = 250, Debian's and the machine the kernel
/// engine runs on): Linux measures CUBIC's time in jiffies.
const HZ: u64 = 250;

/// CUBIC's state, Linux's `struct bictcp`; windows in segments.
#[derive(Debug, Clone, Copy)]
pub struct Cubic {
    /// cwnd in bytes.
    cwnd: u32,
    ssthresh: u32,
    /// The segment size the window is counted in (the last one seen).
    mss: u32,
    /// Linux's `snd_cwnd_cnt`: segments acknowledged toward the next increase.
    cwnd_cnt: u32,
    /// Bytes acknowledged that do not yet make a whole segment.
    acked_bytes: u32,
    /// Increase cwnd by one segment per `cnt` acknowledged.
    cnt: u32,
    /// W_max in segments (0 after a timeout: no knowledge of the path).
    last_max_cwnd: u32,
    /// cwnd and the jiffy when `cnt` was last computed.
    last_cwnd: u32,
    last_time: u64,
    /// The window the cubic function starts from and returns to.
    origin_point: u32,
    /// K in 1/1024 s.
    k: u32,
    /// The epoch's start in jiffies (`None`: a new one starts at the next ACK).
    epoch_start: Option<u64>,
    /// Segments acknowledged in this epoch, for the Reno-friendly estimate.
    ack_cnt: u32,
    /// W_est: the window Reno would have, in segments.
    tcp_cwnd: u32,
    /// Linux's `delay_min`: the smallest RTT sample taken (see
    /// [`CongestionController::on_rtt_sample`]), zero before the first.
    delay_min: Duration,
}

impl Cubic {
    /// A controller with an initial window of `initial` bytes and an
    /// arbitrarily high ssthresh (RFC 5681 §3.1).
    pub fn new(initial: u32) -> Self {
        Self {
            cwnd: initial,
            ssthresh: u32::MAX,
            mss: 1,
            cwnd_cnt: 0,
            acked_bytes: 0,
            cnt: 0,
            last_max_cwnd: 0,
            last_cwnd: 0,
            last_time: 0,
            origin_point: 0,
            k: 0,
            epoch_start: None,
            ack_cnt: 0,
            tcp_cwnd: 0,
            delay_min: Duration::ZERO,
        }
    }

    fn segments(&self) -> u32 {
        self.cwnd / self.mss.max(1)
    }

    /// bictcp_reset: what a timeout (TCP_CA_Loss) forgets.
    fn reset(&mut self) {
        self.cnt = 0;
        self.last_max_cwnd = 0;
        self.last_cwnd = 0;
        self.last_time = 0;
        self.origin_point = 0;
        self.k = 0;
        self.epoch_start = None;
        self.ack_cnt = 0;
        self.tcp_cwnd = 0;
        self.delay_min = Duration::ZERO;
    }

    /// bictcp_recalc_ssthresh: W_max with fast convergence (RFC 9438
    /// §4.7), and ssthresh = β × `window` segments (at least 2).
    fn reduce(&mut self, window: u32, mss: u32) {
        self.mss = mss.max(1);
        self.epoch_start = None;
        let cwnd = self.segments();
        self.last_max_cwnd = if cwnd < self.last_max_cwnd {
            (u64::from(cwnd) * (BETA_SCALE + BETA) / (2 * BETA_SCALE)) as u32
        } else {
            cwnd
        };
        let segments = (u64::from(window / self.mss) * BETA / BETA_SCALE).max(2) as u32;
        self.ssthresh = segments.saturating_mul(self.mss);
    }

    /// bictcp_update: `cnt` for a window of `cwnd` segments at jiffy `now`,
    /// `acked` segments acknowledged.
    fn update(&mut self, cwnd: u32, acked: u32, now: u64) {
        self.ack_cnt = self.ack_cnt.saturating_add(acked);
        if self.last_cwnd == cwnd && now.saturating_sub(self.last_time) <= HZ / 32 {
            return;
        }
        // cnt changes at most once per jiffy (unless an epoch starts).
        if !(self.epoch_start.is_some() && now == self.last_time) {
            self.last_cwnd = cwnd;
            self.last_time = now;
            let epoch = match self.epoch_start {
                Some(e) => e,
                None => {
                    self.ack_cnt = acked;
                    self.tcp_cwnd = cwnd;
                    if self.last_max_cwnd <= cwnd {
                        self.k = 0;
                        self.origin_point = cwnd;
                    } else {
                        self.k = cubic_root(CUBE_FACTOR * u64::from(self.last_max_cwnd - cwnd));
                        self.origin_point = self.last_max_cwnd;
                    }
                    self.epoch_start = Some(now);
                    now
                }
            };
            // t in 1/1024 s: the epoch's age plus the minimum RTT (the target
            // is a round trip ahead), from jiffies as Linux has them.
            let delay = (self.delay_min.as_micros() as u64 * HZ).div_ceil(1_000_000);
            let t = ((now - epoch + delay) << 10) / HZ;
            let k = u64::from(self.k);
            let offs = t.abs_diff(k);
            // C × (t - K)^3 in segments; Linux's u64 arithmetic (no overflow
            // below a million segments and 100 s).
            let delta = (CUBE_RTT_SCALE.wrapping_mul(offs).wrapping_mul(offs).wrapping_mul(offs) >> 40) as u32;
            let target =
                if t < k { self.origin_point.saturating_sub(delta) } else { self.origin_point.saturating_add(delta) };
            self.cnt = if target > cwnd { cwnd / (target - cwnd) } else { 100 * cwnd };
            // Without a W_max, at least 5 % growth per round trip.
            if self.last_max_cwnd == 0 && self.cnt > 20 {
                self.cnt = 20;
            }
        }
        // RFC 9438 §4.3 as Linux's tcp_friendliness: W_est grows by one
        // segment per cwnd × beta_scale / 8 acknowledged.
        let per_segment = ((u64::from(cwnd) * FRIENDLY_SCALE) >> 3).max(1) as u32;
        while self.ack_cnt > per_segment {
            self.ack_cnt -= per_segment;
            self.tcp_cwnd += 1;
        }
        if self.tcp_cwnd > cwnd {
            let max_cnt = cwnd / (self.tcp_cwnd - cwnd);
            self.cnt = self.cnt.min(max_cnt);
        }
        // At most one segment per two acknowledged (1.5 × per round trip).
        self.cnt = self.cnt.max(2);
    }

    /// tcp_cong_avoid_ai: one segment per `cnt` acknowledged.
    fn avoid(&mut self, acked: u32) {
        let w = self.cnt.max(1);
        let mut cwnd = self.segments();
        if self.cwnd_cnt >= w {
            self.cwnd_cnt = 0;
            cwnd += 1;
        }
        self.cwnd_cnt += acked;
        if self.cwnd_cnt >= w {
            let delta = self.cwnd_cnt / w;
            self.cwnd_cnt -= delta * w;
            cwnd += delta;
        }
        self.cwnd = cwnd.saturating_mul(self.mss).max(self.cwnd);
    }
}

/// Linux's cubic_root: a table lookup and one Newton-Raphson step (about
/// 0.2 % error), so K is the kernel's to the unit.
fn cubic_root(a: u64) -> u32 {
    const V: [u8; 64] = [
        0, 54, 54, 54, 118, 118, 118, 118, 123, 129, 134, 138, 143, 147, 151, 156, 157, 161, 164, 168, 170, 173, 176,
        179, 181, 185, 187, 190, 192, 194, 197, 199, 200, 202, 204, 206, 209, 211, 213, 215, 217, 219, 221, 222, 224,
        225, 227, 229, 231, 232, 234, 236, 237, 239, 240, 242, 244, 245, 246, 248, 250, 251, 252, 254,
    ];
    let b = 64 - a.leading_zeros();
    if b < 7 {
        return (u32::from(V[a as usize]) + 35) >> 6;
    }
    let b = ((b * 84) >> 8) - 1;
    let shift = (a >> (b * 3)) as usize;
    let x = ((u32::from(V[shift.min(63)]) + 10) << b) >> 6;
    let x = 2 * u64::from(x) + a / (u64::from(x) * u64::from(x.saturating_sub(1))).max(1);
    ((x * 341) >> 10) as u32
}

/// Jiffies at `now` (the kernel's tick count, from the connection's clock).
fn jiffies(now: Instant) -> u64 {
    now.as_micros() * HZ / 1_000_000
}

impl CongestionController for Cubic {
    fn cwnd(&self) -> u32 {
        self.cwnd
    }

    fn ssthresh(&self) -> u32 {
        self.ssthresh
    }

    fn on_ack(&mut self, acked: u32, mss: u32, now: Instant, _srtt: Option<Duration>) {
        let acked = super::slow_start(&mut self.cwnd, self.ssthresh, acked);
        if acked == 0 {
            return;
        }
        self.mss = mss.max(1);
        // Linux counts segments: whole ones, the rest carried to the next ACK.
        let bytes = self.acked_bytes.saturating_add(acked);
        let segments = bytes / self.mss;
        self.acked_bytes = bytes % self.mss;
        if segments == 0 {
            return;
        }
        let cwnd = self.segments();
        self.update(cwnd, segments, jiffies(now));
        self.avoid(segments);
    }

    /// cubictcp_acked: the smallest sample is delay_min, except in the
    /// first second of an epoch (samples right after a recovery are
    /// discarded, as queues drain).
    fn on_rtt_sample(&mut self, rtt: Duration, now: Instant) {
        if self.epoch_start.is_some_and(|e| jiffies(now).saturating_sub(e) < HZ) {
            return;
        }
        let rtt = rtt.max(Duration::from_micros(1));
        if self.delay_min.is_zero() || rtt < self.delay_min {
            self.delay_min = rtt;
        }
    }

    /// ssthresh from cwnd, as RFC 8312 §4.5 and Linux's
    /// bictcp_recalc_ssthresh have it. RFC 9438 §4.6 (not in ../shared/rfc,
    /// from the published text) takes the flight size, and allows cwnd
    /// where cwnd does not grow beyond the flight: the connection's cwnd
    /// validation (connection/cwnd_validation.rs) sees to that.
    fn on_recovery(&mut self, _flight: u32, mss: u32) {
        let cwnd = self.cwnd;
        self.reduce(cwnd, mss);
        self.cwnd = self.ssthresh;
        self.cwnd_cnt = 0;
    }

    fn on_recovery_end(&mut self) {
        self.cwnd = self.ssthresh;
    }

    /// As Linux's tcp_undo_cwnd_reduction with tcp_reno_undo_cwnd: the
    /// larger window and threshold come back; W_max stays as the reduction
    /// set it, and a new epoch starts.
    fn on_spurious_recovery(&mut self, cwnd: u32, ssthresh: u32) {
        self.cwnd = self.cwnd.max(cwnd);
        self.ssthresh = self.ssthresh.max(ssthresh);
        self.epoch_start = None;
    }

    /// §4.7: as a congestion event, then one segment, and what CUBIC knew
    /// of the path is forgotten (Linux's bictcp_reset on TCP_CA_Loss).
    /// ssthresh from the larger of cwnd (Linux, RFC 8312) and the flight
    /// (RFC 5681 §3.1 eq. 4, RFC 9438 §4.6): a timeout while going back
    /// after an earlier one finds cwnd small and the old flight still
    /// outstanding, and Linux's choice then leaves 2 MSS where the path
    /// carried far more (`cargo bench --bench bottleneck`, 100 ms, 2 % loss
    /// over six seeds: 0.85 Mbit/s from cwnd, 1.13 from the larger). An
    /// application-limited timeout keeps Linux's value.
    fn on_rto(&mut self, flight: u32, mss: u32) {
        self.reduce(self.cwnd.max(flight), mss);
        self.reset();
        self.cwnd = self.mss;
        self.cwnd_cnt = 0;
    }

    fn on_repeated_rto(&mut self, mss: u32) {
        self.mss = mss.max(1);
        self.reset();
        self.cwnd = self.mss;
        self.cwnd_cnt = 0;
    }

    fn on_cwnd_restart(&mut self, cwnd: u32, mss: u32) {
        self.ssthresh = super::current_ssthresh(self.ssthresh, self.cwnd, mss);
        self.cwnd = cwnd;
    }

    fn on_idle_restart(&mut self, restart_window: u32) {
        self.cwnd = self.cwnd.min(restart_window);
        self.epoch_start = None;
    }

    /// An application-limited pause moves the epoch's start by its length
    /// in jiffies, so that the window follows the cubic curve as if the
    /// pause had not happened, but not past now (Linux's
    /// cubictcp_cwnd_event on CA_EVENT_TX_START).
    fn on_tx_start(&mut self, idle: Duration, now: Instant) {
        let then = Instant::from_micros(now.as_micros().saturating_sub(idle.as_micros() as u64));
        let (now, delta) = (jiffies(now), jiffies(now) - jiffies(then));
        if let Some(epoch) = self.epoch_start.filter(|_| delta > 0) {
            self.epoch_start = Some((epoch + delta).min(now));
        }
    }

    fn end_slow_start(&mut self) {
        // The curve starts at the current window, with no earlier W_max.
        self.ssthresh = self.cwnd;
        self.epoch_start = None;
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
    fn a_pause_in_sending_does_not_move_the_window_along_the_curve() {
        let mut steady = after_a_loss_at_100_segments();
        run(&mut steady, 0, 1000);
        let mut paused = after_a_loss_at_100_segments();
        run(&mut paused, 0, 500);
        let mut unshifted = paused;
        // Two seconds without data to send, then the same five round trips.
        paused.on_tx_start(Duration::from_secs(2), at(2500));
        run(&mut paused, 2500, 3000);
        run(&mut unshifted, 2500, 3000);
        assert_eq!(paused.cwnd(), steady.cwnd());
        assert!(unshifted.cwnd() > steady.cwnd() + 5 * MSS, "{} {}", unshifted.cwnd(), steady.cwnd());
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
        assert_eq!(c.last_max_cwnd, 100);
        c.on_recovery(70 * MSS, MSS);
        // W_max = 70 * (1024 + 717) / 2048 = 59.5 segments, truncated.
        assert_eq!(c.last_max_cwnd, 59);
    }

    #[test]
    fn the_cube_root_is_linuxs() {
        // Values of tcp_cubic.c's cubic_root: exact cubes come out within
        // its 0.2 % error.
        assert_eq!(cubic_root(0), 0);
        assert_eq!(cubic_root(27), 3);
        assert_eq!(cubic_root(1 << 30), 1024);
        let k = cubic_root(CUBE_FACTOR * 30);
        assert!((4300..4330).contains(&k), "K for 30 segments below W_max: {k} (4.2 s in 1/1024 s)");
    }

    #[test]
    fn the_first_ack_after_recovery_grows_the_window_as_linux_does() {
        // A loss at 10 segments: ssthresh 7. The ACK that ends the recovery
        // delivers 8 segments 100 ms later on a 100 ms path: the target a
        // round trip ahead is W_max - truncated C (t - K)^3 = 8, so cnt = 7
        // and cwnd becomes 8 (Linux 6.18 reports 8 in the same case).
        let mut c = Cubic::new(10 * MSS);
        c.on_recovery(10 * MSS, MSS);
        assert_eq!(c.ssthresh(), 7 * MSS);
        c.on_recovery_end();
        c.on_ack(8 * MSS, MSS, at(200), Some(Duration::from_millis(100)));
        assert_eq!(c.cwnd(), 8 * MSS);
    }

    #[test]
    fn after_a_timeout_the_window_grows_at_least_five_percent_per_round_trip() {
        let mut c = Cubic::new(100 * MSS);
        c.on_rto(100 * MSS, MSS);
        assert_eq!(c.last_max_cwnd, 0, "a timeout forgets W_max (bictcp_reset)");
        // Congestion avoidance from 40 segments with no W_max: cnt is at most 20.
        c.cwnd = 40 * MSS;
        c.ssthresh = 40 * MSS;
        run(&mut c, 0, 1000);
        assert!(c.cwnd() >= 58 * MSS, "ten rounds of 5 %: {}", c.cwnd() / MSS);
    }

    #[test]
    fn a_timeout_leaves_one_segment() {
        let mut c = Cubic::new(100 * MSS);
        c.on_rto(100 * MSS, MSS);
        assert_eq!((c.cwnd(), c.ssthresh()), (MSS, 70 * MSS));
    }
}
