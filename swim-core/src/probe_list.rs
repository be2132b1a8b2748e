//! Randomized round-robin probe order (SWIM §4.3), in O(1) per operation.
//!
//! The list is split at a cursor into members already probed this round and
//! members still to probe. Each pick swaps a uniformly chosen unprobed member
//! to the cursor and advances it: a Fisher–Yates shuffle performed one step
//! per probe, so no step reshuffles the whole list. When every member has
//! been probed a new round starts. New members join the unprobed part (the
//! same as inserting them at a random position of the rest of the round).
//!
//! Every member is picked exactly once per round, so the gap between two
//! probes of the same member is at most `2N − 1` picks.

use crate::config::ProbeSelection;
use crate::convert::to_u32;
use crate::probe_buckets::BucketList;
use crate::rng::Rng;

const ABSENT: u32 = u32::MAX;

#[derive(Debug)]
pub(crate) struct ProbeList {
    order: Vec<u32>,
    /// Position of each slot in `order`, or `ABSENT`.
    pos: Vec<u32>,
    /// `order[..cursor]` were probed this round.
    cursor: usize,
}

impl ProbeList {
    pub(crate) fn with_capacity(capacity: usize) -> Self {
        ProbeList { order: Vec::with_capacity(capacity), pos: Vec::with_capacity(capacity), cursor: 0 }
    }

    pub(crate) fn len(&self) -> usize {
        self.order.len()
    }

    pub(crate) fn contains(&self, slot: u32) -> bool {
        self.pos.get(slot as usize).is_some_and(|&p| p != ABSENT)
    }

    pub(crate) fn insert(&mut self, slot: u32) {
        if self.contains(slot) {
            return;
        }
        let index = slot as usize;
        if self.pos.len() <= index {
            self.pos.resize(index + 1, ABSENT);
        }
        if let Some(p) = self.pos.get_mut(index) {
            *p = to_u32(self.order.len());
        }
        self.order.push(slot);
    }

    /// Moves the slot at `from` to position `to` (overwriting).
    fn relocate(&mut self, from: usize, to: usize) {
        if from == to {
            return;
        }
        let Some(&slot) = self.order.get(from) else { return };
        if let Some(dst) = self.order.get_mut(to) {
            *dst = slot;
        }
        if let Some(p) = self.pos.get_mut(slot as usize) {
            *p = to_u32(to);
        }
    }

    pub(crate) fn remove(&mut self, slot: u32) {
        let Some(&p) = self.pos.get(slot as usize) else { return };
        if p == ABSENT {
            return;
        }
        let mut hole = p as usize;
        if hole < self.cursor {
            // Keep the probed part contiguous: its last member fills the hole,
            // and the hole moves to the first unprobed position.
            let last_probed = self.cursor - 1;
            self.relocate(last_probed, hole);
            self.cursor = last_probed;
            hole = last_probed;
        }
        let last = self.order.len() - 1;
        self.relocate(last, hole);
        self.order.pop();
        if let Some(p) = self.pos.get_mut(slot as usize) {
            *p = ABSENT;
        }
        self.cursor = self.cursor.min(self.order.len());
    }

    /// The next member to probe.
    pub(crate) fn next(&mut self, rng: &mut Rng) -> Option<u32> {
        if self.order.is_empty() {
            return None;
        }
        if self.cursor >= self.order.len() {
            self.cursor = 0;
        }
        let pick = self.cursor + rng.below(self.order.len() - self.cursor);
        self.order.swap(self.cursor, pick);
        for i in [self.cursor, pick] {
            if let Some(&slot) = self.order.get(i)
                && let Some(p) = self.pos.get_mut(slot as usize)
            {
                *p = to_u32(i);
            }
        }
        self.cursor += 1;
        self.order.get(self.cursor - 1).copied()
    }

    /// A uniformly random member of the list (for helpers and sync peers).
    pub(crate) fn random(&self, rng: &mut Rng) -> Option<u32> {
        self.order.get(rng.below(self.order.len())).copied()
    }

    /// Empties the list (keeping its capacity).
    pub(crate) fn clear(&mut self) {
        for &slot in &self.order {
            if let Some(p) = self.pos.get_mut(slot as usize) {
                *p = ABSENT;
            }
        }
        self.order.clear();
        self.cursor = 0;
    }
}

/// The probe order a node follows, as `probe.selection` chooses: SWIM's
/// shuffled round robin over all members, or buckets by distance.
#[derive(Debug)]
pub(crate) enum ProbeOrder {
    Shuffle(ProbeList),
    Buckets(BucketList),
}

impl ProbeOrder {
    pub(crate) fn new(selection: ProbeSelection, local_name: &[u8], direct: usize, capacity: usize) -> Self {
        match selection {
            ProbeSelection::Shuffle => ProbeOrder::Shuffle(ProbeList::with_capacity(capacity)),
            ProbeSelection::Kademlia | ProbeSelection::Chord => {
                ProbeOrder::Buckets(BucketList::new(selection, local_name, direct, capacity))
            }
        }
    }

    pub(crate) fn len(&self) -> usize {
        match self {
            ProbeOrder::Shuffle(list) => list.len(),
            ProbeOrder::Buckets(buckets) => buckets.len(),
        }
    }

    pub(crate) fn contains(&self, slot: u32) -> bool {
        match self {
            ProbeOrder::Shuffle(list) => list.contains(slot),
            ProbeOrder::Buckets(buckets) => buckets.contains(slot),
        }
    }

    /// Lists the member in `slot`, named `name` (its name places it in a
    /// bucket).
    pub(crate) fn insert(&mut self, slot: u32, name: &[u8]) {
        match self {
            ProbeOrder::Shuffle(list) => list.insert(slot),
            ProbeOrder::Buckets(buckets) => buckets.insert(slot, name),
        }
    }

    pub(crate) fn remove(&mut self, slot: u32) {
        match self {
            ProbeOrder::Shuffle(list) => list.remove(slot),
            ProbeOrder::Buckets(buckets) => buckets.remove(slot),
        }
    }

    /// The next member to probe.
    pub(crate) fn next(&mut self, rng: &mut Rng) -> Option<u32> {
        match self {
            ProbeOrder::Shuffle(list) => list.next(rng),
            ProbeOrder::Buckets(buckets) => buckets.next(rng),
        }
    }

    /// A uniformly random member (for helpers and sync peers).
    pub(crate) fn random(&self, rng: &mut Rng) -> Option<u32> {
        match self {
            ProbeOrder::Shuffle(list) => list.random(rng),
            ProbeOrder::Buckets(buckets) => buckets.random(rng),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn check(list: &ProbeList) {
        for (i, &slot) in list.order.iter().enumerate() {
            assert_eq!(list.pos[slot as usize] as usize, i);
        }
        assert!(list.cursor <= list.order.len());
    }

    #[test]
    fn every_member_is_probed_once_per_round() {
        let mut rng = Rng::new(3);
        let mut list = ProbeList::with_capacity(8);
        for s in 0..50 {
            list.insert(s);
        }
        for _round in 0..5 {
            let mut seen: Vec<u32> = (0..50).map(|_| list.next(&mut rng).unwrap()).collect();
            seen.sort_unstable();
            assert_eq!(seen, (0..50).collect::<Vec<_>>());
        }
    }

    #[test]
    fn gap_between_probes_is_at_most_two_n_minus_one() {
        let n = 37;
        let mut rng = Rng::new(11);
        let mut list = ProbeList::with_capacity(n);
        for s in 0..to_u32(n) {
            list.insert(s);
        }
        let mut last = vec![None; n];
        let mut worst = 0;
        for step in 0..(n * 200) {
            let s = list.next(&mut rng).unwrap() as usize;
            if let Some(prev) = last[s] {
                worst = worst.max(step - prev);
            }
            last[s] = Some(step);
        }
        assert!(worst < 2 * n, "worst gap {worst} exceeds 2N - 1");
        assert!(worst > n, "the order is shuffled, not fixed (worst gap {worst})");
    }

    #[test]
    fn removal_anywhere_keeps_the_round_consistent() {
        let mut rng = Rng::new(5);
        let mut list = ProbeList::with_capacity(8);
        for s in 0..20 {
            list.insert(s);
        }
        let probed: Vec<u32> = (0..8).map(|_| list.next(&mut rng).unwrap()).collect();
        list.remove(probed[2]); // from the probed part
        let unprobed = (0..20).find(|s| !probed.contains(s)).unwrap();
        list.remove(unprobed); // from the unprobed part
        check(&list);
        assert!(!list.contains(probed[2]) && !list.contains(unprobed));
        let rest: Vec<u32> = (0..11).map(|_| list.next(&mut rng).unwrap()).collect();
        let mut all: Vec<u32> = probed.iter().copied().filter(|&s| s != probed[2]).chain(rest).collect();
        all.sort_unstable();
        let mut expected: Vec<u32> = (0..20).filter(|&s| s != probed[2] && s != unprobed).collect();
        expected.sort_unstable();
        assert_eq!(all, expected, "the round completes with exactly the remaining members");
        list.remove(999);
        list.insert(3);
        check(&list);
    }

    #[test]
    fn empty_and_single() {
        let mut rng = Rng::new(1);
        let mut list = ProbeList::with_capacity(1);
        assert_eq!(list.next(&mut rng), None);
        assert_eq!(list.random(&mut rng), None);
        list.insert(4);
        assert_eq!(list.next(&mut rng), Some(4));
        assert_eq!(list.next(&mut rng), Some(4));
        list.remove(4);
        assert_eq!(list.len(), 0);
    }
}
