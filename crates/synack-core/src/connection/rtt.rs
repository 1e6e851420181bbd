//! Round-trip time estimation and the retransmission timeout (RFC 6298).

use core::time::Duration;

/// SRTT, RTTVAR and RTO per RFC 6298 §2, with exponential backoff (§5.5).
#[derive(Debug, Clone, Copy)]
pub struct RttEstimator {
    srtt: Option<Duration>,
    rttvar: Duration,
    min_rtt: Option<Duration>,
    base_rto: Duration,
    backoff: u32,
}

/// Clock granularity G of RFC 6298 §2 (synack keeps microseconds; 1 ms as Linux).
const GRANULARITY: Duration = Duration::from_millis(1);

impl RttEstimator {
    /// A fresh estimator with the initial RTO (RFC 6298 §2.1).
    pub fn new(initial_rto: Duration) -> Self {
        Self { srtt: None, rttvar: Duration::ZERO, min_rtt: None, base_rto: initial_rto, backoff: 0 }
    }

    /// Takes a measurement R (RFC 6298 §2.2, §2.3) and resets the backoff.
    pub fn sample(&mut self, r: Duration, min_rto: Duration, max_rto: Duration) {
        match self.srtt {
            None => {
                self.srtt = Some(r);
                self.rttvar = r / 2;
            }
            Some(srtt) => {
                let delta = srtt.abs_diff(r);
                self.rttvar = (self.rttvar * 3 + delta) / 4;
                self.srtt = Some((srtt * 7 + r) / 8);
            }
        }
        self.min_rtt = Some(self.min_rtt.map_or(r, |m| m.min(r)));
        let srtt = self.srtt.unwrap_or(r);
        self.base_rto = (srtt + (self.rttvar * 4).max(GRANULARITY)).clamp(min_rto, max_rto);
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
        self.srtt
    }

    /// RTT variance.
    pub fn rttvar(&self) -> Duration {
        self.rttvar
    }

    /// Smallest RTT seen.
    pub fn min_rtt(&self) -> Option<Duration> {
        self.min_rtt
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
    fn rto_is_clamped_and_backs_off() {
        let mut e = RttEstimator::new(Duration::from_secs(1));
        e.sample(Duration::from_millis(1), MIN, MAX);
        assert_eq!(e.rto(MAX), MIN);
        e.back_off();
        e.back_off();
        assert_eq!(e.rto(MAX), MIN * 4);
        for _ in 0..40 {
            e.back_off();
        }
        assert_eq!(e.rto(MAX), MAX);
    }
}
