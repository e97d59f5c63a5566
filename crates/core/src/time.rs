//! The core's own clock type. The core never reads a clock: every entry point takes
//! `now`, so the same code runs under `performance.now()` in a browser, in unit tests
//! and in virtual time.

use core::ops::{Add, Sub};
use core::time::Duration;

/// A point in time, in microseconds since an epoch the caller chose (the agent's start).
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Default)]
pub struct Instant(u64);

impl Instant {
    /// The epoch.
    pub const ZERO: Instant = Instant(0);

    /// From microseconds since the epoch.
    pub const fn from_micros(us: u64) -> Instant {
        Instant(us)
    }

    /// From milliseconds since the epoch, as `performance.now()` gives them.
    /// Negative or non-finite values clamp to the epoch.
    pub fn from_millis_f64(ms: f64) -> Instant {
        if ms.is_finite() && ms > 0.0 {
            Instant((ms * 1000.0) as u64)
        } else {
            Instant::ZERO
        }
    }

    /// Microseconds since the epoch.
    pub const fn as_micros(self) -> u64 {
        self.0
    }

    /// Milliseconds since the epoch.
    pub fn as_millis_f64(self) -> f64 {
        self.0 as f64 / 1000.0
    }

    /// Time from `earlier` to `self`, zero if `earlier` is later.
    pub fn saturating_since(self, earlier: Instant) -> Duration {
        Duration::from_micros(self.0.saturating_sub(earlier.0))
    }
}

/// `secs` seconds as a [`Duration`]: like `Duration::from_secs_f64`, without its panics
/// (NaN and negatives are zero, values past `u64::MAX` nanoseconds saturate) and without
/// its float-splitting code in the wasm.
#[inline(never)]
pub fn secs_f64(secs: f64) -> Duration {
    Duration::from_nanos((secs * 1e9) as u64)
}

/// `d` times `k`, as `Duration::mul_f64` without its panics (see [`secs_f64`]).
pub fn scale(d: Duration, k: f64) -> Duration {
    secs_f64(d.as_secs_f64() * k)
}

/// `d` in whole microseconds, saturating at `u64::MAX`: `Duration::as_micros` without
/// its `u128` multiplication (a `__multi3` call at every use in the wasm).
fn micros(d: Duration) -> u64 {
    match d.as_secs() {
        s if s > u64::MAX / 1_000_000 => u64::MAX,
        s => (s * 1_000_000).saturating_add(u64::from(d.subsec_micros())),
    }
}

/// `d` in whole milliseconds, as `d.as_millis() as u64` (wrapping past `u64::MAX`),
/// without the `u128` arithmetic.
pub fn millis(d: Duration) -> u64 {
    d.as_secs()
        .wrapping_mul(1000)
        .wrapping_add(u64::from(d.subsec_millis()))
}

impl Add<Duration> for Instant {
    type Output = Instant;
    #[inline(never)]
    fn add(self, d: Duration) -> Instant {
        Instant(self.0.saturating_add(micros(d)))
    }
}

impl Sub<Duration> for Instant {
    type Output = Instant;
    #[inline(never)]
    fn sub(self, d: Duration) -> Instant {
        Instant(self.0.saturating_sub(micros(d)))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn arithmetic_saturates() {
        let t = Instant::from_micros(5);
        assert_eq!(t - Duration::from_secs(1), Instant::ZERO);
        assert_eq!(Instant::ZERO.saturating_since(t), Duration::ZERO);
        assert_eq!(t.saturating_since(Instant::ZERO), Duration::from_micros(5));
        assert_eq!(Instant::from_millis_f64(f64::NAN), Instant::ZERO);
        assert_eq!(Instant::from_millis_f64(1.5).as_micros(), 1500);
        for d in [
            Duration::ZERO,
            Duration::from_nanos(1_999),
            Duration::new(7, 123_456_789),
            Duration::new(u64::MAX / 1000, 999_999_999),
            Duration::new(u64::MAX / 1_000_000, 999_999_999),
            Duration::new(u64::MAX / 1_000_000 + 1, 0),
            Duration::MAX,
        ] {
            let want = d.as_micros().min(u128::from(u64::MAX)) as u64;
            assert_eq!(micros(d), want, "{d:?}");
            assert_eq!(millis(d), d.as_millis() as u64, "{d:?}");
        }
    }
}
