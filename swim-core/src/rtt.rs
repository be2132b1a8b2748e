//! Round-trip estimation for the adaptive probe timeout: the 99th
//! percentile of recent direct-probe round trips, plus 10%.

use core::time::Duration;

const SAMPLES: usize = 128;
/// Fewest samples before a timeout is proposed.
const MIN_SAMPLES: usize = 16;

#[derive(Debug)]
pub(crate) struct RttEstimator {
    /// Round trips in microseconds, a ring of the most recent ones.
    samples: [u32; SAMPLES],
    len: usize,
    next: usize,
}

impl RttEstimator {
    pub(crate) fn new() -> Self {
        RttEstimator { samples: [0; SAMPLES], len: 0, next: 0 }
    }

    pub(crate) fn record(&mut self, rtt: Duration) {
        let micros = u32::try_from(rtt.as_micros()).unwrap_or(u32::MAX);
        if let Some(s) = self.samples.get_mut(self.next) {
            *s = micros;
        }
        self.next = (self.next + 1) % SAMPLES;
        self.len = (self.len + 1).min(SAMPLES);
    }

    /// The proposed probe timeout: p99 of recent samples + 10%, clamped to
    /// `[min, max]`; `None` until enough samples were seen.
    pub(crate) fn proposal(&self, min: Duration, max: Duration) -> Option<Duration> {
        if self.len < MIN_SAMPLES {
            return None;
        }
        let mut sorted = self.samples;
        let recent = sorted.get_mut(..self.len)?;
        let rank = (self.len * 99).div_ceil(100).saturating_sub(1);
        let (_, p99, _) = recent.select_nth_unstable(rank);
        let proposed = Duration::from_micros(u64::from(*p99)).mul_f64(1.1);
        Some(proposed.clamp(min, max))
    }

    #[cfg(test)]
    pub(crate) fn len(&self) -> usize {
        self.len
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn proposes_p99_plus_ten_percent_within_bounds() {
        let mut e = RttEstimator::new();
        let (min, max) = (Duration::from_millis(5), Duration::from_millis(900));
        for _ in 0..MIN_SAMPLES - 1 {
            e.record(Duration::from_millis(10));
        }
        assert_eq!(e.proposal(min, max), None, "not enough samples yet");
        // 100 samples of 1..=100 ms: p99 is 99 ms.
        let mut e = RttEstimator::new();
        for ms in 1..=100 {
            e.record(Duration::from_millis(ms));
        }
        let p = e.proposal(min, max).unwrap();
        assert!((p.as_secs_f64() - 0.099 * 1.1).abs() < 1e-6, "{p:?}");
        assert_eq!(e.proposal(min, Duration::from_millis(50)), Some(Duration::from_millis(50)));
        assert_eq!(e.proposal(Duration::from_millis(500), max), Some(Duration::from_millis(500)));
    }

    #[test]
    fn only_recent_samples_count() {
        let mut e = RttEstimator::new();
        for _ in 0..SAMPLES {
            e.record(Duration::from_millis(400));
        }
        for _ in 0..SAMPLES {
            e.record(Duration::from_millis(2));
        }
        let p = e.proposal(Duration::from_millis(1), Duration::from_secs(1)).unwrap();
        assert!(p < Duration::from_millis(3), "{p:?}");
        assert_eq!(e.len(), SAMPLES);
    }
}
