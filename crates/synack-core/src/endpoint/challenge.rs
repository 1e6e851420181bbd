//! RFC 5961 §7: an endpoint-wide limit on challenge ACKs per second, so a
//! flood of forged RSTs and SYNs cannot make the host flood ACKs back.

use crate::time::Instant;
use core::time::Duration;

/// Counts challenge ACKs in one-second windows.
#[derive(Debug, Clone, Copy, Default)]
pub(super) struct ChallengeLimiter {
    window_start: Option<Instant>,
    sent: u32,
}

impl ChallengeLimiter {
    /// True when one more challenge ACK may be sent at `now` with at most
    /// `per_second` in any window (and counts it).
    pub fn allow(&mut self, now: Instant, per_second: u32) -> bool {
        if self.window_start.is_none_or(|s| now.saturating_since(s) >= Duration::from_secs(1)) {
            self.window_start = Some(now);
            self.sent = 0;
        }
        if self.sent < per_second {
            self.sent += 1;
            true
        } else {
            false
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn at_most_the_limit_per_second() {
        let mut l = ChallengeLimiter::default();
        let t0 = Instant::from_micros(5_000_000);
        assert!(l.allow(t0, 2));
        assert!(l.allow(t0, 2));
        assert!(!l.allow(t0 + Duration::from_millis(999), 2));
        assert!(l.allow(t0 + Duration::from_secs(1), 2));
        assert!(!l.allow(t0, 0));
    }
}
