//! Time as the core sees it: a monotonic instant passed in by the caller.

use core::ops::{Add, Sub};
use core::time::Duration;

/// A point in time, in microseconds since an epoch chosen by the caller.
/// synack-core never reads a clock; every call that needs time takes one.
#[derive(Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Default, Debug)]
pub struct Instant(u64);

impl Instant {
    /// The epoch.
    pub const ZERO: Instant = Instant(0);

    /// An instant `micros` microseconds after the epoch.
    pub fn from_micros(micros: u64) -> Self {
        Instant(micros)
    }
    /// Microseconds since the epoch.
    pub fn as_micros(self) -> u64 {
        self.0
    }
    /// Milliseconds since the epoch, wrapping at 2^32 (the timestamp clock).
    pub fn millis_u32(self) -> u32 {
        (self.0 / 1000) as u32
    }
    /// Time elapsed from `earlier` to `self`, zero if `earlier` is later.
    pub fn saturating_since(self, earlier: Instant) -> Duration {
        Duration::from_micros(self.0.saturating_sub(earlier.0))
    }
}

impl Add<Duration> for Instant {
    type Output = Instant;
    fn add(self, d: Duration) -> Instant {
        Instant(self.0.saturating_add(d.as_micros().min(u128::from(u64::MAX)) as u64))
    }
}

impl Sub<Instant> for Instant {
    type Output = Duration;
    fn sub(self, rhs: Instant) -> Duration {
        self.saturating_since(rhs)
    }
}
