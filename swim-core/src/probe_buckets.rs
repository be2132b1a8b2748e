//! Bucket probe selection (go-swim's `BucketSelectionList`): the members
//! ordered by a distance from this one, split into `k` buckets, one target
//! drawn from each bucket in turn, so that with `direct = k` probes a
//! period every bucket gets one.
//!
//! The members are sorted from the farthest to the nearest. Bucket `i < k−1`
//! holds the next `⌈n·(2/3)·(1/3)^i⌉` of them and the last bucket all the
//! rest (the `≈ n/3^k` left over besides its own share), so the far two
//! thirds share one bucket and the nearest members the smallest: a member's
//! near neighbours probe it most often and see its crash first. Inside a
//! bucket the order is SWIM's shuffled round robin ([`ProbeList`]): a member
//! of bucket `b` is probed within `2·|b| − 1` of that bucket's picks.
//!
//! Buckets are bounded by distances fixed when they were last formed: a
//! member that joins goes to the bucket its distance falls in, one that
//! leaves is taken out, each in O(k). Once the changes since the last
//! forming reach a quarter of the members, the buckets are formed again
//! from the sorted distances (O(N log N), in place in kept buffers): O(log N)
//! amortised per change, nothing per period.
//!
//! The ordering id is a hash of the member's name (its value as the
//! position on the ring), so it is the same across restarts and on every
//! member. It spreads members, it does not protect: a member that chooses
//! its name chooses its place.

use crate::config::ProbeSelection;
use crate::probe_list::ProbeList;
use crate::rng::Rng;

/// Where a slot is not listed.
const ABSENT: u8 = u8::MAX;

/// A member's ordering id: a 64-bit hash of its name (FNV-1a, then a
/// finalizer that spreads every input bit over the output), stable across
/// restarts, versions and platforms.
///
/// ```
/// let a = swim_protocol::ordering_id(b"web-1");
/// assert_eq!(a, swim_protocol::ordering_id(b"web-1"));
/// assert_ne!(a, swim_protocol::ordering_id(b"web-2"));
/// ```
#[must_use]
pub fn ordering_id(name: &[u8]) -> u64 {
    let mut h: u64 = 0xcbf2_9ce4_8422_2325;
    for &b in name {
        h ^= u64::from(b);
        h = h.wrapping_mul(0x0000_0100_0000_01b3);
    }
    h ^= h >> 30;
    h = h.wrapping_mul(0xbf58_476d_1ce4_e5b9);
    h ^= h >> 27;
    h = h.wrapping_mul(0x94d0_49bb_1331_11eb);
    h ^ (h >> 31)
}

/// How far `to` is from `from` (ordering ids) under `selection`'s metric:
/// Kademlia's XOR, or Chord's clockwise way round the ring of 2^64
/// positions (0 for the shuffle, which has none).
///
/// ```
/// use swim_protocol::{ProbeSelection, probe_distance};
/// assert_eq!(probe_distance(ProbeSelection::Kademlia, 0b1100, 0b1010), 0b0110);
/// assert_eq!(probe_distance(ProbeSelection::Chord, 10, 3), u64::MAX - 6);
/// ```
#[must_use]
pub fn probe_distance(selection: ProbeSelection, from: u64, to: u64) -> u64 {
    match selection {
        ProbeSelection::Shuffle => 0,
        ProbeSelection::Kademlia => from ^ to,
        ProbeSelection::Chord => to.wrapping_sub(from),
    }
}

/// The size of bucket `i` of `k` for `n` members: `⌈n·(2/3)·(1/3)^i⌉` for
/// all but the last, which takes the rest; never more than what is left.
pub(crate) fn bucket_sizes(n: usize, k: usize, out: &mut [usize]) {
    let mut left = n;
    // 3^(i+1), at most 3^16 (k ≤ MAX_BUCKETS): no overflow.
    let mut third = 3usize;
    for (i, size) in out.iter_mut().enumerate().take(k) {
        let wanted = if i + 1 == k { left } else { n.saturating_mul(2).div_ceil(third).min(left) };
        *size = wanted;
        left -= wanted;
        third = third.saturating_mul(3);
    }
}

/// The most buckets (and `probe.direct`'s limit).
pub(crate) const MAX_BUCKETS: usize = 16;

/// A bucket's index as stored per slot (below `MAX_BUCKETS`, so it fits).
fn stored(bucket: usize) -> u8 {
    u8::try_from(bucket).unwrap_or(ABSENT - 1)
}

#[derive(Debug)]
pub(crate) struct BucketList {
    selection: ProbeSelection,
    local: u64,
    buckets: Vec<ProbeList>,
    /// `bounds[i]`: the smallest distance bucket `i` holds (bucket `i` holds
    /// `[bounds[i], bounds[i−1])`); the last bucket holds everything nearer.
    bounds: Vec<u64>,
    /// Each slot's distance from this member and bucket (or `ABSENT`).
    distance: Vec<u64>,
    bucket: Vec<u8>,
    len: usize,
    /// Joins and departures since the buckets were last formed.
    changes: usize,
    /// The bucket the next pick comes from.
    turn: usize,
    /// Kept for forming: (distance, slot).
    scratch: Vec<(u64, u32)>,
}

impl BucketList {
    pub(crate) fn new(selection: ProbeSelection, local_name: &[u8], k: usize, capacity: usize) -> Self {
        let k = k.clamp(1, MAX_BUCKETS);
        BucketList {
            selection,
            local: ordering_id(local_name),
            buckets: (0..k).map(|_| ProbeList::with_capacity(capacity / k + 1)).collect(),
            bounds: vec![u64::MAX; k],
            distance: Vec::with_capacity(capacity),
            bucket: Vec::with_capacity(capacity),
            len: 0,
            changes: 0,
            turn: 0,
            scratch: Vec::with_capacity(capacity),
        }
    }

    pub(crate) fn len(&self) -> usize {
        self.len
    }

    pub(crate) fn contains(&self, slot: u32) -> bool {
        self.bucket.get(slot as usize).is_some_and(|&b| b != ABSENT)
    }

    /// The bucket a distance falls in under the current bounds.
    fn bucket_for(&self, distance: u64) -> usize {
        let last = self.buckets.len() - 1;
        self.bounds.iter().take(last).position(|&b| distance >= b).unwrap_or(last)
    }

    pub(crate) fn insert(&mut self, slot: u32, name: &[u8]) {
        if self.contains(slot) {
            return;
        }
        let index = slot as usize;
        if self.bucket.len() <= index {
            self.bucket.resize(index + 1, ABSENT);
            self.distance.resize(index + 1, 0);
        }
        let d = probe_distance(self.selection, self.local, ordering_id(name));
        let b = self.bucket_for(d);
        if let (Some(dist), Some(bucket), Some(list)) =
            (self.distance.get_mut(index), self.bucket.get_mut(index), self.buckets.get_mut(b))
        {
            *dist = d;
            *bucket = stored(b);
            list.insert(slot);
            self.len += 1;
            self.changes += 1;
        }
    }

    pub(crate) fn remove(&mut self, slot: u32) {
        let Some(b) = self.bucket.get_mut(slot as usize) else { return };
        if *b == ABSENT {
            return;
        }
        let from = usize::from(*b);
        *b = ABSENT;
        if let Some(list) = self.buckets.get_mut(from) {
            list.remove(slot);
        }
        self.len -= 1;
        self.changes += 1;
    }

    /// Forms the buckets again from the sorted distances, once the changes
    /// since the last forming reach a quarter of the members.
    fn reform_if_due(&mut self) {
        if self.changes == 0 || self.changes * 4 < self.len.max(4) {
            return;
        }
        self.changes = 0;
        self.scratch.clear();
        for (slot, (&b, &d)) in self.bucket.iter().zip(&self.distance).enumerate() {
            if b != ABSENT {
                self.scratch.push((d, crate::convert::to_u32(slot)));
            }
        }
        // Farthest first; ties (equal ids) by slot, for a repeatable order.
        self.scratch.sort_unstable_by(|a, b| b.cmp(a));
        let k = self.buckets.len();
        let mut sizes = [0usize; MAX_BUCKETS];
        bucket_sizes(self.scratch.len(), k, &mut sizes);
        for list in &mut self.buckets {
            list.clear();
        }
        let mut at = 0;
        for (i, &size) in sizes.iter().enumerate().take(k) {
            let members = self.scratch.get(at..at + size).unwrap_or_default();
            // Bucket i holds distances from its nearest member's up; an
            // empty bucket takes none (its bound stays above all).
            let bound = members.last().map_or(u64::MAX, |&(d, _)| d);
            if let Some(b) = self.bounds.get_mut(i) {
                *b = bound;
            }
            for &(_, slot) in members {
                if let Some(list) = self.buckets.get_mut(i) {
                    list.insert(slot);
                }
                if let Some(b) = self.bucket.get_mut(slot as usize) {
                    *b = stored(i);
                }
            }
            at += size;
        }
    }

    /// The next member to probe: from the next non-empty bucket in turn.
    pub(crate) fn next(&mut self, rng: &mut Rng) -> Option<u32> {
        self.reform_if_due();
        let k = self.buckets.len();
        for _ in 0..k {
            let b = self.turn % k;
            self.turn = (b + 1) % k;
            if let Some(slot) = self.buckets.get_mut(b).and_then(|list| list.next(rng)) {
                return Some(slot);
            }
        }
        None
    }

    /// A uniformly random member of all the buckets.
    pub(crate) fn random(&self, rng: &mut Rng) -> Option<u32> {
        if self.len == 0 {
            return None;
        }
        let mut pick = rng.below(self.len);
        for list in &self.buckets {
            if pick < list.len() {
                return list.random(rng);
            }
            pick -= list.len();
        }
        None
    }

    /// The members of each bucket, for tests and the evaluation.
    #[cfg(test)]
    pub(crate) fn bucket_lens(&self) -> Vec<usize> {
        self.buckets.iter().map(ProbeList::len).collect()
    }

    /// Which bucket `slot` is in.
    #[cfg(test)]
    pub(crate) fn bucket_of(&self, slot: u32) -> Option<usize> {
        self.bucket.get(slot as usize).filter(|&&b| b != ABSENT).map(|&b| usize::from(b))
    }
}

#[cfg(test)]
#[allow(clippy::cast_possible_truncation, clippy::cast_sign_loss, clippy::indexing_slicing, clippy::unwrap_used)]
mod tests {
    use super::*;

    fn sizes(n: usize, k: usize) -> Vec<usize> {
        let mut out = [0; MAX_BUCKETS];
        bucket_sizes(n, k, &mut out);
        out[..k].to_vec()
    }

    #[test]
    fn buckets_take_two_thirds_then_a_third_of_the_rest() {
        assert_eq!(sizes(1000, 1), [1000]);
        assert_eq!(sizes(1000, 2), [667, 333]);
        assert_eq!(sizes(1000, 3), [667, 223, 110]);
        assert_eq!(sizes(16, 3), [11, 4, 1]);
        assert_eq!(sizes(2, 3), [2, 0, 0]);
        assert_eq!(sizes(0, 2), [0, 0]);
        for n in 0..300 {
            for k in 1..=MAX_BUCKETS {
                let s = sizes(n, k);
                assert_eq!(s.iter().sum::<usize>(), n, "n={n} k={k}");
                // ⌈n·(2/3)·(1/3)^i⌉ for all but the last, while members last.
                let mut share = 2.0 * n as f64 / 3.0;
                let mut left = n;
                for &size in &s[..k - 1] {
                    assert_eq!(size, (share.ceil() as usize).min(left), "n={n} k={k} {s:?}");
                    left -= size;
                    share /= 3.0;
                }
            }
        }
    }

    fn name(i: u32) -> Vec<u8> {
        format!("member-{i}").into_bytes()
    }

    /// Inserts members 1..=n and forms the buckets (the first pick does).
    fn listed(selection: ProbeSelection, k: usize, n: u32, rng: &mut Rng) -> BucketList {
        let mut list = BucketList::new(selection, b"member-0", k, 16);
        for i in 1..=n {
            list.insert(i, &name(i));
        }
        list.next(rng);
        list
    }

    #[test]
    fn buckets_hold_the_farthest_first_in_the_sizes_asked() {
        let mut rng = Rng::new(5);
        for selection in [ProbeSelection::Kademlia, ProbeSelection::Chord] {
            for (k, n) in [(1, 40), (2, 100), (3, 1000), (4, 333)] {
                let list = listed(selection, k, n, &mut rng);
                assert_eq!(list.bucket_lens(), sizes(n as usize, k), "{selection:?} k={k} n={n}");
                let local = ordering_id(b"member-0");
                let d = |i: u32| probe_distance(selection, local, ordering_id(&name(i)));
                for a in 1..=n {
                    for b in (1..=n).step_by(7) {
                        if list.bucket_of(a) < list.bucket_of(b) {
                            assert!(d(a) > d(b), "a member of an earlier bucket is farther");
                        }
                    }
                }
            }
        }
    }

    #[test]
    fn every_member_is_probed_within_its_buckets_bound() {
        let mut rng = Rng::new(9);
        for selection in [ProbeSelection::Kademlia, ProbeSelection::Chord] {
            for (k, n) in [(1, 50), (2, 90), (3, 200)] {
                let mut list = listed(selection, k, n, &mut rng);
                let lens = list.bucket_lens();
                let mut last = vec![None::<usize>; n as usize + 1];
                let mut worst = vec![0usize; k];
                let picks = 6 * n as usize;
                for pick in 0..picks {
                    let slot = list.next(&mut rng).unwrap() as usize;
                    let b = list.bucket_of(slot as u32).unwrap();
                    if let Some(at) = last[slot] {
                        worst[b] = worst[b].max(pick - at);
                    }
                    last[slot] = Some(pick);
                }
                assert!(last[1..].iter().all(Option::is_some), "every member probed");
                for b in 0..k {
                    // Bucket b gets every k-th pick; within it, the shuffled
                    // round robin's 2|b| − 1.
                    assert!(worst[b] <= k * (2 * lens[b] - 1), "{selection:?} k={k} bucket {b}: {worst:?} {lens:?}");
                }
                // The nearest bucket's members are probed more often.
                assert!(k == 1 || worst[k - 1] < worst[0], "{worst:?}");
            }
        }
    }

    #[test]
    fn churn_keeps_the_buckets_whole_and_reforms_them_rarely() {
        let mut rng = Rng::new(11);
        let mut list = BucketList::new(ProbeSelection::Kademlia, b"member-0", 3, 16);
        let mut live = std::collections::BTreeSet::new();
        let mut reforms = 0;
        let mut changes = 0;
        for step in 0..20_000u32 {
            let slot = 1 + rng.below(400) as u32;
            if live.contains(&slot) {
                list.remove(slot);
                live.remove(&slot);
            } else {
                list.insert(slot, &name(slot));
                live.insert(slot);
            }
            changes += 1;
            if step % 3 == 0 {
                let pending = list.changes;
                list.next(&mut rng);
                if pending > 0 && list.changes == 0 {
                    reforms += 1;
                }
            }
            assert_eq!(list.len(), live.len());
            assert_eq!(list.bucket_lens().iter().sum::<usize>(), live.len());
        }
        for slot in 1..=400 {
            assert_eq!(list.contains(slot), live.contains(&slot));
        }
        let random = list.random(&mut rng).unwrap();
        assert!(live.contains(&random));
        // About 200 members: a reform every ~50 changes at most.
        assert!(reforms * 40 <= changes, "{reforms} reforms for {changes} changes");
    }
}
