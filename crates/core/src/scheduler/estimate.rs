//! Throughput and latency estimates of a source (one peer, or the CDN), from the
//! transfers it completed. Pure arithmetic on measured samples; no clock.

use core::time::Duration;

/// Weight of a new sample in the moving averages.
const ALPHA: f64 = 0.3;

/// A source's measured delivery speed.
#[derive(Clone, Copy, Debug, Default, PartialEq)]
pub struct Estimate {
    /// Bytes per second, exponentially weighted.
    bytes_per_sec: f64,
    /// Time to first byte, seconds, exponentially weighted.
    latency: f64,
    /// Transfers measured.
    samples: u32,
}

impl Estimate {
    /// Whether any transfer has been measured.
    pub fn is_known(&self) -> bool {
        self.samples > 0
    }

    /// Transfers measured so far.
    pub fn samples(&self) -> u32 {
        self.samples
    }

    /// Measured throughput in bytes per second (0 when unknown).
    pub fn bytes_per_sec(&self) -> f64 {
        self.bytes_per_sec
    }

    /// Records a transfer of `bytes` that took `latency` to its first byte and
    /// `total` in all. Samples too small to measure anything are ignored.
    pub fn sample(&mut self, bytes: usize, latency: Duration, total: Duration) {
        let total_s = total.as_secs_f64();
        let latency_s = latency.as_secs_f64().min(total_s);
        if bytes == 0 || total_s <= 0.0 {
            return;
        }
        // Throughput over the time bytes were actually flowing; a floor keeps one
        // instant transfer from claiming infinite speed.
        let flowing = (total_s - latency_s).max(0.002);
        let rate = bytes as f64 / flowing;
        if self.samples == 0 {
            self.bytes_per_sec = rate;
            self.latency = latency_s;
        } else {
            self.bytes_per_sec += ALPHA * (rate - self.bytes_per_sec);
            self.latency += ALPHA * (latency_s - self.latency);
        }
        self.samples = self.samples.saturating_add(1);
    }

    /// Records a transfer of `bytes` still unfinished after `elapsed` (it missed its
    /// deadline and was cancelled): the source takes at least that long. Moves the
    /// expected time for `bytes` toward `elapsed`, never down; an unmeasured source is
    /// measured at that.
    pub fn sample_missed(&mut self, bytes: usize, elapsed: Duration) {
        let secs = elapsed.as_secs_f64();
        if bytes == 0 || secs <= 0.0 {
            return;
        }
        match self.time_for(bytes) {
            None => {
                self.bytes_per_sec = bytes as f64 / secs;
                self.latency = 0.0;
            }
            // The delay is counted as latency: on a busy uplink it is mostly waiting.
            Some(t) if t.as_secs_f64() < secs => {
                self.latency += ALPHA * (secs - t.as_secs_f64());
            }
            Some(_) => {}
        }
        self.samples = self.samples.saturating_add(1);
    }

    /// Expected time to deliver `bytes`, when measured.
    pub fn time_for(&self, bytes: usize) -> Option<Duration> {
        if !self.is_known() || self.bytes_per_sec <= 0.0 {
            return None;
        }
        let secs = self.latency + bytes as f64 / self.bytes_per_sec;
        Some(crate::time::secs_f64(secs.clamp(0.0, 3600.0)))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn learns_a_steady_rate() {
        let mut e = Estimate::default();
        assert_eq!(e.time_for(1000), None);
        for _ in 0..20 {
            e.sample(
                100_000,
                Duration::from_millis(50),
                Duration::from_millis(150),
            );
        }
        let t = e.time_for(200_000).unwrap().as_secs_f64();
        assert!((t - 0.25).abs() < 0.01, "expected 50 ms + 200 ms, got {t}");
    }

    #[test]
    fn a_missed_deadline_makes_a_source_look_slower_never_faster() {
        let mut e = Estimate::default();
        e.sample_missed(100_000, Duration::from_secs(2));
        assert!(e.is_known());
        assert_eq!(e.time_for(100_000), Some(Duration::from_secs(2)));
        let mut e = Estimate::default();
        e.sample(
            100_000,
            Duration::from_millis(100),
            Duration::from_millis(300),
        );
        let before = e.time_for(100_000).unwrap();
        e.sample_missed(100_000, Duration::from_millis(200));
        assert_eq!(
            e.time_for(100_000),
            Some(before),
            "a quicker miss proves nothing"
        );
        e.sample_missed(100_000, Duration::from_millis(1300));
        let after = e.time_for(100_000).unwrap().as_secs_f64();
        assert!((after - 0.6).abs() < 0.01, "0.3 s + 0.3 × 1 s, got {after}");
    }

    proptest! {
        #[test]
        fn predictions_are_finite_and_grow_with_size(
            samples in prop::collection::vec((1usize..10_000_000, 0u64..5_000, 1u64..60_000), 1..30),
            a in 0usize..50_000_000, b in 0usize..50_000_000,
        ) {
            let mut e = Estimate::default();
            for (bytes, lat, tot) in samples {
                e.sample(bytes, Duration::from_millis(lat), Duration::from_millis(tot));
            }
            let (small, large) = (a.min(b), a.max(b));
            let ts = e.time_for(small).unwrap();
            let tl = e.time_for(large).unwrap();
            prop_assert!(ts <= tl);
            prop_assert!(tl <= Duration::from_secs(3600));
        }
    }
}
