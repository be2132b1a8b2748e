//! The table digest: a hash per bucket of the member table, kept current as
//! records change, so that a periodic sync compares two tables bucket by
//! bucket and ships only the records of the buckets that differ.
//!
//! A member's bucket comes from a hash of its name that every member and
//! every release computes alike ([`name_key`]); what it contributes to its
//! bucket is a hash of its name, version and state ([`record_hash`]), and a
//! bucket's sum is the XOR of its members' contributions, so two tables
//! agree on a bucket exactly when (up to a 2⁻⁶⁴ collision) they hold the
//! same records in it. The sums are kept per *leaf*: the table holds a
//! power of two of leaves, about one per [`LEAF_LOAD`] members, each with
//! its sum and a list of its members, so that a change is O(1), the sum of
//! any power-of-two number of buckets is a fold of leaves, and the members
//! of one bucket are found without a walk over the table.
//!
//! What goes on the wire is a 32-bit value per bucket, salted with a key
//! the opener draws for the exchange ([`salted`]): a pair of different
//! sums that happen to agree in 32 bits agree in no other exchange.
//!
//! The free functions are public, and fixed by the protocol: another
//! implementation (or a test harness that speaks the wire, such as the
//! swarm emulator) computes the same values from its own table. A bucket's
//! value in one exchange, from the records `(name, generation,
//! incarnation, state)` whose name falls in it:
//!
//! ```
//! use swim_protocol::State;
//! use swim_protocol::digest::{bucket_of, buckets_for, name_key, record_hash, salted};
//! let records: [(&[u8], u64, u32, State); 3] =
//!     [(b"a", 1, 0, State::Alive), (b"b", 1, 2, State::Suspect), (b"c", 3, 0, State::Faulty)];
//! let buckets = buckets_for(records.len());
//! let salt = 0x5eed;
//! let mut sums = vec![0u64; buckets as usize];
//! for (name, generation, incarnation, state) in records {
//!     let key = name_key(name);
//!     sums[bucket_of(key, buckets) as usize] ^= record_hash(key, generation, incarnation, state);
//! }
//! let values: Vec<u32> = sums.iter().map(|&sum| salted(sum, salt)).collect();
//! assert_eq!(values.len(), 1); // three records: one bucket
//! ```

use crate::members::State;

/// The most buckets a digest may have.
pub const MAX_BUCKETS: u32 = 4096;

/// Members per bucket the opener aims at: fewer makes the digest larger,
/// more makes each differing bucket ship more records.
const BUCKET_LOAD: usize = 4;

/// Members per leaf before the leaves double.
const LEAF_LOAD: usize = 2;

/// Leaves a table starts with.
const MIN_LEAVES: usize = 16;

/// No slot (the end of a leaf's list).
pub(crate) const NONE: u32 = u32::MAX;

/// The finaliser of SplitMix64: every input bit flips about half the
/// output bits.
const fn mix(mut z: u64) -> u64 {
    z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
    z ^ (z >> 31)
}

/// A name's place in the digest: FNV-1a over its bytes, mixed. Fixed by the
/// protocol (members of every release must agree), so not keyed; a member
/// that crafts names to share a bucket only makes its own syncs larger.
pub fn name_key(name: &[u8]) -> u64 {
    let mut h: u64 = 0xcbf2_9ce4_8422_2325;
    for &b in name {
        h = (h ^ u64::from(b)).wrapping_mul(0x0100_0000_01b3);
    }
    mix(h)
}

/// What a record contributes to its bucket's sum: `key` is the member's
/// [`name_key`].
pub fn record_hash(key: u64, generation: u64, incarnation: u32, state: State) -> u64 {
    let state = match state {
        State::Alive => 0,
        State::Suspect => 1,
        State::Faulty => 2,
        State::Left => 3,
    };
    let h = mix(key ^ 0x9e37_79b9_7f4a_7c15);
    let h = mix(h ^ generation);
    mix(h ^ (u64::from(incarnation) << 2 | state))
}

/// A bucket's sum (the XOR of its records' [`record_hash`]es) as sent in
/// the exchange whose salt is `key`.
pub fn salted(sum: u64, key: u64) -> u32 {
    // The high half of a full mix (truncation keeps the mix's spread).
    u32::try_from(mix(sum ^ key) >> 32).unwrap_or(0)
}

/// How many buckets an opener with `members` records asks for: a power of
/// two, about one per [`BUCKET_LOAD`] members, at most [`MAX_BUCKETS`].
pub fn buckets_for(members: usize) -> u32 {
    let wanted = (members / BUCKET_LOAD).max(1).next_power_of_two();
    crate::convert::to_u32(wanted).min(MAX_BUCKETS)
}

/// The bucket of a name key among `buckets` (a power of two).
pub fn bucket_of(key: u64, buckets: u32) -> u32 {
    u32::try_from(key & (buckets as u64).wrapping_sub(1)).unwrap_or(0)
}

/// The per-leaf sums and member lists, and per slot its key, its
/// contribution and its links.
#[derive(Debug)]
pub(crate) struct Leaves {
    sum: Vec<u64>,
    head: Vec<u32>,
    /// Per slot: name key, contribution, next and previous in its leaf.
    slots: Vec<SlotLinks>,
    members: usize,
}

#[derive(Debug, Clone, Copy)]
struct SlotLinks {
    key: u64,
    hash: u64,
    next: u32,
    prev: u32,
    linked: bool,
}

impl Leaves {
    pub(crate) fn with_capacity(capacity: usize) -> Self {
        let leaves = (capacity / LEAF_LOAD).next_power_of_two().max(MIN_LEAVES);
        Leaves { sum: vec![0; leaves], head: vec![NONE; leaves], slots: Vec::with_capacity(capacity), members: 0 }
    }

    /// Leaves held (a power of two).
    pub(crate) fn len(&self) -> u32 {
        crate::convert::to_u32(self.head.len())
    }

    fn leaf_of(&self, key: u64) -> usize {
        usize::try_from(key & (self.head.len() as u64).wrapping_sub(1)).unwrap_or(0)
    }

    /// Records held.
    pub(crate) fn members(&self) -> usize {
        self.members
    }

    /// The key and contribution recorded for `slot`, if it is linked.
    pub(crate) fn record(&self, slot: u32) -> Option<(u64, u64)> {
        self.slots.get(slot as usize).filter(|s| s.linked).map(|s| (s.key, s.hash))
    }

    /// Whether the lists and sums hold together: each leaf's list holds
    /// exactly the linked slots of that leaf, its links agree both ways,
    /// and its sum is the XOR of their contributions (for checks: O(N)).
    pub(crate) fn lists_consistent(&self) -> bool {
        let mut seen = 0;
        for (leaf, (&head, &sum)) in self.head.iter().zip(&self.sum).enumerate() {
            let (mut at, mut prev, mut acc) = (head, NONE, 0);
            while let Some(s) = self.slots.get(at as usize) {
                seen += 1;
                if !s.linked || s.prev != prev || self.leaf_of(s.key) != leaf || seen > self.members {
                    return false;
                }
                acc ^= s.hash;
                (prev, at) = (at, s.next);
            }
            if acc != sum {
                return false;
            }
        }
        seen == self.members && self.slots.iter().filter(|s| s.linked).count() == self.members
    }

    /// The name key of an occupied slot.
    pub(crate) fn key(&self, slot: u32) -> u64 {
        self.slots.get(slot as usize).map_or(0, |s| s.key)
    }

    /// Adds a record in `slot`.
    pub(crate) fn insert(&mut self, slot: u32, key: u64, hash: u64) {
        let at = slot as usize;
        if self.slots.len() <= at {
            let vacant = SlotLinks { key: 0, hash: 0, next: NONE, prev: NONE, linked: false };
            self.slots.resize(at + 1, vacant);
        }
        if self.slots.get(at).is_some_and(|s| s.linked) {
            self.remove(slot);
        }
        if self.members + 1 > LEAF_LOAD * self.head.len() {
            self.grow();
        }
        self.link(slot, key, hash);
        self.members += 1;
    }

    fn link(&mut self, slot: u32, key: u64, hash: u64) {
        let leaf = self.leaf_of(key);
        let (Some(head), Some(sum)) = (self.head.get_mut(leaf), self.sum.get_mut(leaf)) else { return };
        let next = core::mem::replace(head, slot);
        *sum ^= hash;
        if let Some(s) = self.slots.get_mut(next as usize) {
            s.prev = slot;
        }
        if let Some(s) = self.slots.get_mut(slot as usize) {
            *s = SlotLinks { key, hash, next, prev: NONE, linked: true };
        }
    }

    fn unlink(&mut self, slot: u32) -> Option<SlotLinks> {
        let s = *self.slots.get(slot as usize).filter(|s| s.linked)?;
        let leaf = self.leaf_of(s.key);
        match self.slots.get_mut(s.prev as usize) {
            Some(prev) => prev.next = s.next,
            None => {
                if let Some(head) = self.head.get_mut(leaf) {
                    *head = s.next;
                }
            }
        }
        if let Some(next) = self.slots.get_mut(s.next as usize) {
            next.prev = s.prev;
        }
        if let Some(sum) = self.sum.get_mut(leaf) {
            *sum ^= s.hash;
        }
        if let Some(links) = self.slots.get_mut(slot as usize) {
            links.linked = false;
            links.next = NONE;
            links.prev = NONE;
        }
        Some(s)
    }

    /// Removes the record in `slot`.
    pub(crate) fn remove(&mut self, slot: u32) {
        if self.unlink(slot).is_some() {
            self.members -= 1;
        }
    }

    /// The record in `slot` changed: its contribution is now `hash`.
    pub(crate) fn update(&mut self, slot: u32, hash: u64) {
        let Some(s) = self.slots.get_mut(slot as usize).filter(|s| s.linked) else { return };
        let old = core::mem::replace(&mut s.hash, hash);
        let leaf = usize::try_from(s.key & (self.head.len() as u64).wrapping_sub(1)).unwrap_or(0);
        if let Some(sum) = self.sum.get_mut(leaf) {
            *sum ^= old ^ hash;
        }
    }

    /// Doubles the leaves, moving each member to its new leaf: O(N) once
    /// per doubling, so O(1) amortised per member added.
    fn grow(&mut self) {
        let leaves = self.head.len() * 2;
        self.sum.clear();
        self.sum.resize(leaves, 0);
        self.head.clear();
        self.head.resize(leaves, NONE);
        for slot in 0..self.slots.len() {
            let slot = crate::convert::to_u32(slot);
            if let Some(s) = self.slots.get(slot as usize).filter(|s| s.linked).copied() {
                self.link(slot, s.key, s.hash);
            }
        }
    }

    /// The sum of bucket `bucket` among `buckets` (a power of two): a fold
    /// of `leaves / buckets` leaves, or, with more buckets than leaves, the
    /// members of one leaf that fall in the bucket.
    pub(crate) fn bucket_sum(&self, bucket: u32, buckets: u32) -> u64 {
        let leaves = self.len();
        if buckets <= leaves {
            let step = buckets as usize;
            self.sum.iter().skip(bucket as usize).step_by(step).fold(0, |acc, s| acc ^ s)
        } else {
            let mut acc = 0;
            let mut at = self.head.get((bucket & (leaves - 1)) as usize).copied().unwrap_or(NONE);
            while let Some(s) = self.slots.get(at as usize) {
                if bucket_of(s.key, buckets) == bucket {
                    acc ^= s.hash;
                }
                at = s.next;
            }
            acc
        }
    }

    /// The next member of bucket `bucket` (among `buckets`) after `at`
    /// (where `at` is [`NONE`], the first): leaves in the order
    /// `bucket, bucket + buckets, …`, each leaf's list in order. `None`
    /// once the bucket is done.
    pub(crate) fn next_in_bucket(&self, bucket: u32, buckets: u32, at: &mut Walk) -> Option<u32> {
        let leaves = self.len();
        if at.leaves != leaves {
            // The leaves doubled since the walk began: the bucket starts
            // over (records sent twice merge as once).
            *at = Walk { leaves, leaf: bucket & (leaves - 1), slot: NONE, started: false };
        }
        loop {
            let next = if at.started {
                match self.slots.get(at.slot as usize).filter(|s| s.linked && self.leaf_of(s.key) == at.leaf as usize) {
                    Some(s) => s.next,
                    None => {
                        // The member walked last was removed (or its slot
                        // reused elsewhere) since: the leaf starts over
                        // (records sent twice merge as once).
                        *at = Walk { leaves, leaf: at.leaf, slot: NONE, started: false };
                        continue;
                    }
                }
            } else {
                at.started = true;
                self.head.get(at.leaf as usize).copied().unwrap_or(NONE)
            };
            match self.slots.get(next as usize) {
                Some(s) => {
                    at.slot = next;
                    if bucket_of(s.key, buckets) == bucket {
                        return Some(next);
                    }
                }
                None => {
                    // This leaf is done: the next one of the bucket, if any.
                    let following = at.leaf.checked_add(buckets).filter(|&l| buckets <= leaves && l < leaves)?;
                    *at = Walk { leaves, leaf: following, slot: NONE, started: false };
                }
            }
        }
    }
}

/// A position in the walk over one bucket's members.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Walk {
    leaves: u32,
    leaf: u32,
    slot: u32,
    started: bool,
}

impl Walk {
    /// The start of a bucket (any leaf count: the first call sets it).
    pub(crate) const START: Walk = Walk { leaves: 0, leaf: 0, slot: NONE, started: false };
}

/// A set of buckets, up to [`MAX_BUCKETS`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct BucketSet([u64; MAX_BUCKETS as usize / 64]);

impl Default for BucketSet {
    fn default() -> Self {
        BucketSet([0; MAX_BUCKETS as usize / 64])
    }
}

impl BucketSet {
    /// Every bucket below `buckets`.
    pub(crate) fn fill(&mut self, buckets: u32) {
        for (i, word) in self.0.iter_mut().enumerate() {
            let low = crate::convert::to_u32(i) * 64;
            *word = match buckets.saturating_sub(low) {
                0 => 0,
                n if n >= 64 => u64::MAX,
                n => (1u64 << n) - 1,
            };
        }
    }

    #[cfg(test)]
    pub(crate) fn clear_all(&mut self) {
        self.0 = [0; MAX_BUCKETS as usize / 64];
    }

    pub(crate) fn set(&mut self, bucket: u32, on: bool) {
        if let Some(word) = self.0.get_mut((bucket / 64) as usize) {
            let bit = 1u64 << (bucket % 64);
            if on {
                *word |= bit;
            } else {
                *word &= !bit;
            }
        }
    }

    #[cfg(test)]
    pub(crate) fn contains(&self, bucket: u32) -> bool {
        self.0.get((bucket / 64) as usize).is_some_and(|w| w & (1u64 << (bucket % 64)) != 0)
    }

    /// The first bucket in the set at or after `from`.
    pub(crate) fn next_from(&self, from: u32) -> Option<u32> {
        let mut i = (from / 64) as usize;
        let mut word = self.0.get(i)? & (u64::MAX << (from % 64));
        loop {
            if word != 0 {
                return Some(crate::convert::to_u32(i) * 64 + word.trailing_zeros());
            }
            i += 1;
            word = *self.0.get(i)?;
        }
    }

    /// Buckets in the set.
    #[cfg(test)]
    pub(crate) fn count(&self) -> u32 {
        self.0.iter().map(|w| w.count_ones()).sum()
    }

    /// Byte `index` of the set as sent (bucket `8·index + i` is bit `i`).
    pub(crate) fn byte(&self, index: u32) -> u8 {
        let word = self.0.get((index / 8) as usize).copied().unwrap_or(0);
        u8::try_from((word >> (8 * (index % 8))) & 0xff).unwrap_or(0)
    }

    /// Sets the buckets of byte `index` as received.
    pub(crate) fn set_byte(&mut self, index: u32, byte: u8) {
        if let Some(word) = self.0.get_mut((index / 8) as usize) {
            let shift = 8 * (index % 8);
            *word = (*word & !(0xff << shift)) | (u64::from(byte) << shift);
        }
    }
}

#[cfg(test)]
mod tests;
