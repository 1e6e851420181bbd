//! Round-trip time estimation and the retransmission timeout (RFC 6298).

use core::time::Duration;

/// SRTT, RTTVAR and RTO per RFC 6298 §2 (the minimum RTO applied as
/// Linux applies it), with exponential backoff (§5.5).
/// The estimates are kept in microseconds, as Linux keeps them (and packed:
/// a connection stays under a kilobyte).
#[derive(Debug, Clone, Copy)]
pub struct RttEstimator {
    /// SRTT in µs; meaningful once `measured`.
    srtt_us: u32,
    rttvar_us: u32,
    /// The smallest sample in µs (`u32::MAX` before the first).
    min_rtt_us: u32,
    measured: bool,
    backoff: u32,
    base_rto: Duration,
}

/// Clock granularity G of RFC 6298 §2 (synack keeps microseconds; 1 ms as Linux).
const GRANULARITY: Duration = Duration::from_millis(1);

fn micros(d: Duration) -> u32 {
    d.as_micros().min(u128::from(u32::MAX - 1)) as u32
}

fn from_micros(us: u32) -> Duration {
    Duration::from_micros(u64::from(us))
}

impl RttEstimator {
    /// A fresh estimator with the initial RTO (RFC 6298 §2.1).
    pub fn new(initial_rto: Duration) -> Self {
        Self { srtt_us: 0, rttvar_us: 0, min_rtt_us: u32::MAX, measured: false, backoff: 0, base_rto: initial_rto }
    }

    /// Takes a measurement R (RFC 6298 §2.2, §2.3) and resets the backoff.
    pub fn sample(&mut self, r: Duration, min_rto: Duration, max_rto: Duration) {
        let r = micros(r);
        if self.measured {
            let delta = self.srtt_us.abs_diff(r);
            self.rttvar_us = ((u64::from(self.rttvar_us) * 3 + u64::from(delta)) / 4) as u32;
            self.srtt_us = ((u64::from(self.srtt_us) * 7 + u64::from(r)) / 8) as u32;
        } else {
            self.measured = true;
            self.srtt_us = r;
            self.rttvar_us = r / 2;
        }
        self.min_rtt_us = self.min_rtt_us.min(r);
        let (srtt, rttvar) = (from_micros(self.srtt_us), from_micros(self.rttvar_us));
        // RFC 6298 (2.3): RTO = SRTT + max(G, K*RTTVAR), with the minimum
        // of (2.4) on the variance term rather than on the sum, as Linux's
        // tcp_rtt_estimator floors rttvar at tcp_rto_min: the timer
        // always allows the RTT plus min_rto, so queueing that stretches
        // a long RTT does not fire it (through a one-BDP queue at 100 ms
        // and 2 % loss, 100 timeouts became 4: BENCHMARKS.md).
        self.base_rto = (srtt + (rttvar * 4).max(GRANULARITY).max(min_rto)).min(max_rto);
        self.backoff = 0;
    }

    /// The current RTO, backed off (RFC 6298 §5.5), capped at `max_rto`.
    pub fn rto(&self, max_rto: Duration) -> Duration {
        let factor = 1u32 << self.backoff.min(16);
        self.base_rto.saturating_mul(factor).min(max_rto)
    }

    /// Doubles the RTO after a timeout.
    pub fn back_off(&mut self) {
        self.backoff = self.backoff.saturating_add(1);
    }

    /// Forgets the backoff (the handshake completed).
    pub fn reset_backoff(&mut self) {
        self.backoff = 0;
    }

    /// Times the RTO has been backed off.
    pub fn backoff(&self) -> u32 {
        self.backoff
    }

    /// Smoothed RTT, once measured.
    pub fn srtt(&self) -> Option<Duration> {
        self.measured.then(|| from_micros(self.srtt_us))
    }

    /// RTT variance.
    pub fn rttvar(&self) -> Duration {
        from_micros(self.rttvar_us)
    }

    /// Smallest RTT seen.
    pub fn min_rtt(&self) -> Option<Duration> {
        (self.min_rtt_us != u32::MAX).then(|| from_micros(self.min_rtt_us))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const MIN: Duration = Duration::from_millis(200);
    const MAX: Duration = Duration::from_secs(120);

    #[test]
    fn first_sample_sets_srtt_and_rttvar() {
        let mut e = RttEstimator::new(Duration::from_secs(1));
        assert_eq!(e.rto(MAX), Duration::from_secs(1));
        e.sample(Duration::from_millis(100), MIN, MAX);
        assert_eq!(e.srtt(), Some(Duration::from_millis(100)));
        assert_eq!(e.rttvar(), Duration::from_millis(50));
        // RTO = SRTT + 4*RTTVAR = 300 ms
        assert_eq!(e.rto(MAX), Duration::from_millis(300));
    }

    #[test]
    fn a_steady_rtt_leaves_the_rto_at_srtt_plus_min_rto() {
        let mut e = RttEstimator::new(Duration::from_secs(1));
        for _ in 0..40 {
            e.sample(Duration::from_millis(100), MIN, MAX);
        }
        // RTTVAR has decayed to nothing: the RFC's max(SRTT + 4 RTTVAR,
        // min_rto) would be 200 ms, no more than twice the RTT.
        assert!(e.rttvar() < Duration::from_millis(1));
        assert_eq!(e.rto(MAX), Duration::from_millis(300));
    }

    #[test]
    fn rto_is_clamped_and_backs_off() {
        let mut e = RttEstimator::new(Duration::from_secs(1));
        e.sample(Duration::from_millis(1), MIN, MAX);
        let rto = MIN + Duration::from_millis(1);
        assert_eq!(e.rto(MAX), rto, "SRTT + min_rto");
        e.back_off();
        e.back_off();
        assert_eq!(e.rto(MAX), rto * 4);
        for _ in 0..40 {
            e.back_off();
        }
        assert_eq!(e.rto(MAX), MAX);
    }
}
