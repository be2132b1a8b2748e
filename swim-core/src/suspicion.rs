//! Suspicion timeouts (Lifeguard's dynamic suspicion) and the deadline heap.

use core::cmp::Reverse;
use core::time::Duration;
use std::collections::BinaryHeap;

use crate::config::SuspicionScale;
use crate::members::MemberRef;
use crate::time::Time;

/// `min = α · log10(max(N, 2)) · T`, or `α · ⌈log10(N + 1)⌉ · T`.
pub(crate) fn min_timeout(alpha: u32, members: usize, period: Duration, scale: SuspicionScale) -> Duration {
    let factor = match scale {
        SuspicionScale::Log10 => (members.max(2) as f64).log10(),
        SuspicionScale::CeilLog10 => ((members as f64) + 1.0).log10().ceil(),
    };
    period.mul_f64(f64::from(alpha) * factor)
}

/// The suspicion timeout after `confirmations` independent confirmations,
/// when `expected` are expected: `max − (max − min) · log(c + 1) / log(k + 1)`,
/// never below `min`.
pub(crate) fn timeout(min: Duration, max: Duration, confirmations: usize, expected: usize) -> Duration {
    if expected == 0 || max <= min {
        return min;
    }
    let fraction = ((confirmations + 1) as f64).ln() / ((expected + 1) as f64).ln();
    let t = max.as_secs_f64() - (max - min).as_secs_f64() * fraction;
    Duration::from_secs_f64(t.max(min.as_secs_f64()))
}

/// Suspicion deadlines, earliest first, each with a stamp that identifies
/// the deadline it was pushed for. Entries are not removed when a deadline
/// moves or a suspicion ends: the old entry stays and is recognised as
/// stale when it comes up (the caller compares the member's current stamp;
/// deadlines alone could coincide). Before the heap outgrows its bound,
/// stale entries are swept out in place, so that suspicions raised and
/// refuted at any rate keep it bounded: it never holds more than twice the
/// most suspects there were since the last sweep (or the floor).
#[derive(Debug)]
pub(crate) struct Deadlines {
    heap: BinaryHeap<Reverse<(Time, u32, u32, u32)>>,
    /// The smallest bound (the capacity reserved up front).
    floor: usize,
    /// The most suspects at a push since the last sweep.
    peak: usize,
}

impl Deadlines {
    pub(crate) fn with_capacity(capacity: usize) -> Self {
        let floor = capacity.max(16);
        // Up to the bound without growing: stale entries come on top of the
        // live ones before a sweep.
        Deadlines { heap: BinaryHeap::with_capacity(2 * floor), floor, peak: 0 }
    }

    /// The most entries a push leaves with `suspects` members suspect:
    /// twice the larger of the suspects and the reserved capacity.
    pub(crate) fn bound(&self, suspects: usize) -> usize {
        2 * suspects.max(self.floor)
    }

    /// The most entries held now, with `suspects` members suspect: the
    /// bound of the most suspects since the last sweep (suspicions that
    /// ended leave their entries until a push sweeps them).
    pub(crate) fn limit(&self, suspects: usize) -> usize {
        self.bound(suspects.max(self.peak))
    }

    /// Adds a deadline under `stamp`. When the heap is at its bound, first
    /// drops the entries that are no longer `current` (O(heap), once per as
    /// many pushes: amortised O(1); it reuses the heap's memory).
    pub(crate) fn push(
        &mut self,
        at: Time,
        member: MemberRef,
        stamp: u32,
        suspects: usize,
        current: impl Fn(MemberRef, u32) -> bool,
    ) {
        if self.heap.len() + 1 >= self.bound(suspects) {
            self.heap.retain(|Reverse((_, slot, generation, stamp))| {
                current(MemberRef { slot: *slot, generation: *generation }, *stamp)
            });
            self.peak = 0;
        }
        self.peak = self.peak.max(suspects);
        self.heap.push(Reverse((at, member.slot, member.generation, stamp)));
    }

    pub(crate) fn next(&self) -> Option<Time> {
        self.heap.peek().map(|Reverse((at, _, _, _))| *at)
    }

    /// Removes and returns the earliest entry if it is due: the member and
    /// the stamp it was pushed under.
    pub(crate) fn pop_due(&mut self, now: Time) -> Option<(MemberRef, u32)> {
        match self.heap.peek() {
            Some(Reverse((at, _, _, _))) if *at <= now => {
                let Reverse((_, slot, generation, stamp)) = self.heap.pop()?;
                Some((MemberRef { slot, generation }, stamp))
            }
            _ => None,
        }
    }

    pub(crate) fn len(&self) -> usize {
        self.heap.len()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn min_follows_log10_of_cluster_size() {
        let t = Duration::from_secs(1);
        let log10 = SuspicionScale::Log10;
        assert_eq!(min_timeout(4, 1, t, log10), min_timeout(4, 2, t, log10), "N below 2 counts as 2");
        let d = min_timeout(4, 100, t, log10);
        assert!((d.as_secs_f64() - 8.0).abs() < 1e-9, "{d:?}");
        assert!((min_timeout(5, 1000, t, log10).as_secs_f64() - 15.0).abs() < 1e-9);
    }

    #[test]
    fn the_papers_scale_goes_in_whole_steps() {
        let (t, ceil) = (Duration::from_secs(2), SuspicionScale::CeilLog10);
        // 3⌈log10(N + 1)⌉ periods: 3 up to N = 9, 6 from N = 10 to 99.
        assert_eq!(min_timeout(3, 8, t, ceil), Duration::from_secs(6));
        assert_eq!(min_timeout(3, 9, t, ceil), Duration::from_secs(6));
        assert_eq!(min_timeout(3, 10, t, ceil), Duration::from_secs(12));
        assert_eq!(min_timeout(3, 56, t, ceil), Duration::from_secs(12));
        assert_eq!(min_timeout(3, 100, t, ceil), Duration::from_secs(18));
    }

    #[test]
    fn timeout_falls_from_max_to_min_with_confirmations() {
        let (min, max) = (Duration::from_secs(2), Duration::from_secs(12));
        assert_eq!(timeout(min, max, 0, 3), max);
        let one = timeout(min, max, 1, 3);
        let two = timeout(min, max, 2, 3);
        assert!(max > one && one > two && two > min, "{one:?} {two:?}");
        // log(2)/log(4) = 0.5: halfway.
        assert!((one.as_secs_f64() - 7.0).abs() < 1e-9);
        assert_eq!(timeout(min, max, 3, 3), min);
        assert_eq!(timeout(min, max, 9, 3), min, "never below min");
        assert_eq!(timeout(min, max, 0, 0), min, "no confirmations expected: min at once");
    }

    #[test]
    fn deadlines_pop_in_order_when_due() {
        let mut d = Deadlines::with_capacity(4);
        let m = |slot| MemberRef { slot, generation: 0 };
        let all = |_, _| true;
        d.push(Time::from_secs(5), m(1), 0, 3, all);
        d.push(Time::from_secs(2), m(2), 0, 3, all);
        d.push(Time::from_secs(9), m(3), 0, 3, all);
        assert_eq!(d.next(), Some(Time::from_secs(2)));
        assert_eq!(d.pop_due(Time::from_secs(1)), None);
        assert_eq!(d.pop_due(Time::from_secs(6)).map(|(r, _)| r.slot), Some(2));
        assert_eq!(d.pop_due(Time::from_secs(6)).map(|(r, _)| r.slot), Some(1));
        assert_eq!(d.pop_due(Time::from_secs(6)), None);
        assert_eq!(d.len(), 1);
    }

    #[test]
    fn stale_deadlines_are_swept_before_the_bound() {
        // One member suspected and refuted over and over: only its latest
        // deadline is current, and the heap never holds more than the bound.
        let mut d = Deadlines::with_capacity(4);
        let m = MemberRef { slot: 1, generation: 0 };
        for i in 0..10_000u32 {
            // The same deadline every time: only the stamp tells them apart.
            d.push(Time::from_secs(1000), m, i, 1, |_, stamp| stamp == i);
            assert!(d.len() <= d.bound(1), "{} entries after {i} pushes", d.len());
        }
        assert_eq!(d.bound(1), 32, "twice the reserved floor of 16");
    }

    #[test]
    fn the_limit_follows_the_most_suspects_since_the_last_sweep() {
        // 40 members suspected at once (bound 80), then all but two cleared
        // without a push: their entries stay until the next push sweeps them.
        let mut d = Deadlines::with_capacity(4);
        let m = |slot| MemberRef { slot, generation: 0 };
        for slot in 0..40 {
            d.push(Time::from_secs(9), m(slot), 0, slot as usize + 1, |_, _| true);
        }
        assert_eq!(d.len(), 40);
        assert!(d.len() > d.bound(2) && d.len() <= d.limit(2), "held within the peak's bound");
        // The next push (two suspects left) sweeps: only current ones stay.
        d.push(Time::from_secs(9), m(40), 0, 3, |r, _| r.slot < 2 || r.slot == 40);
        assert_eq!(d.len(), 3);
        assert_eq!(d.limit(3), d.bound(3));
    }
}
