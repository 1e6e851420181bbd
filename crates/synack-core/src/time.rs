//! Time as the core sees it: a monotonic instant passed in by the caller.

use core::num::NonZeroU64;
use core::ops::{Add, Sub};
use core::time::Duration;

/// A point in time, in microseconds since an epoch chosen by the caller.
/// synack-core never reads a clock; every call that needs time takes one.
/// Stored as microseconds plus one, so that `Option<Instant>` is eight
/// bytes (a connection holds many); the last microsecond of the range,
/// 584,000 years out, is not representable and saturates.
#[derive(Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Debug)]
pub struct Instant(NonZeroU64);

impl Default for Instant {
    fn default() -> Self {
        Self::ZERO
    }
}

impl Instant {
    /// The epoch.
    pub const ZERO: Instant = Instant(NonZeroU64::MIN);

    /// An instant `micros` microseconds after the epoch.
    pub fn from_micros(micros: u64) -> Self {
        Instant(NonZeroU64::MIN.saturating_add(micros.min(u64::MAX - 1)))
    }
    /// Microseconds since the epoch.
    pub fn as_micros(self) -> u64 {
        self.0.get() - 1
    }
    /// Milliseconds since the epoch, wrapping at 2^32 (the timestamp clock).
    pub fn millis_u32(self) -> u32 {
        (self.as_micros() / 1000) as u32
    }
    /// Time elapsed from `earlier` to `self`, zero if `earlier` is later.
    pub fn saturating_since(self, earlier: Instant) -> Duration {
        Duration::from_micros(self.as_micros().saturating_sub(earlier.as_micros()))
    }
}

impl Add<Duration> for Instant {
    type Output = Instant;
    fn add(self, d: Duration) -> Instant {
        Instant::from_micros(self.as_micros().saturating_add(d.as_micros().min(u128::from(u64::MAX)) as u64))
    }
}

impl Sub<Instant> for Instant {
    type Output = Duration;
    fn sub(self, rhs: Instant) -> Duration {
        self.saturating_since(rhs)
    }
}
