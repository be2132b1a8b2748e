//! The pool of user broadcasts a node holds: this node's own and those
//! received from others, first while they are gossiped, then until their
//! lifetime ends, so that syncs can hand them to members that gossip missed.
//! Slot buffers keep their capacity when reused.

use std::cmp::Reverse;
use std::collections::BinaryHeap;

use crate::time::Time;

#[derive(Debug, Default)]
struct Slot {
    used: bool,
    /// Whether its gossip is over and it is only kept for repair.
    retained: bool,
    /// Changes with every use of the slot, so that stale retention records
    /// are recognised.
    stamp: u32,
    origin: Vec<u8>,
    generation: u64,
    seq: u32,
    payload: Vec<u8>,
    /// When its lifetime ends: it is never passed on after.
    expires: Time,
    /// What it is.
    kind: BroadcastKind,
}

/// A stored broadcast.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Stored<'a> {
    pub(crate) origin: &'a [u8],
    /// The origin's process generation.
    pub(crate) generation: u64,
    pub(crate) seq: u32,
    pub(crate) payload: &'a [u8],
    pub(crate) expires: Time,
    /// What it is.
    pub(crate) kind: BroadcastKind,
}

/// What a pooled item is: all three are gossiped, deduplicated (by
/// version for state) and repaired alike.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub(crate) enum BroadcastKind {
    /// A user broadcast.
    #[default]
    Broadcast,
    /// A query (its payload a query body).
    Query,
    /// An application state entry (its payload a state body).
    State,
}

#[derive(Debug)]
pub(crate) struct Broadcasts {
    /// Grown on demand up to `limit`, and reused.
    slots: Vec<Slot>,
    limit: usize,
    free: Vec<u32>,
    /// Retained slots, earliest expiry first: until when, slot, stamp (a
    /// record whose stamp no longer matches its slot's is stale).
    retained: BinaryHeap<Reverse<(Time, u32, u32)>>,
}

impl Broadcasts {
    /// A pool of at most `capacity` broadcasts; slots are made when first
    /// needed (a member that never sees a broadcast holds none).
    pub(crate) fn new(capacity: usize) -> Self {
        Broadcasts { slots: Vec::new(), limit: capacity, free: Vec::new(), retained: BinaryHeap::new() }
    }

    /// Stores a broadcast that lives until `expires`; `None` when the pool
    /// is full.
    pub(crate) fn store(&mut self, b: Stored<'_>) -> Option<u32> {
        let index = match self.free.pop() {
            Some(index) => index,
            None if self.slots.len() < self.limit => {
                self.slots.push(Slot::default());
                crate::convert::to_u32(self.slots.len() - 1)
            }
            None => return None,
        };
        let slot = self.slots.get_mut(index as usize)?;
        slot.used = true;
        slot.retained = false;
        slot.stamp = slot.stamp.wrapping_add(1);
        slot.origin.clear();
        slot.origin.extend_from_slice(b.origin);
        slot.generation = b.generation;
        slot.seq = b.seq;
        slot.payload.clear();
        slot.payload.extend_from_slice(b.payload);
        slot.expires = b.expires;
        slot.kind = b.kind;
        Some(index)
    }

    /// A stored broadcast.
    pub(crate) fn get(&self, index: u32) -> Option<Stored<'_>> {
        self.slots.get(index as usize).filter(|s| s.used).map(|s| Stored {
            origin: &s.origin,
            generation: s.generation,
            seq: s.seq,
            payload: &s.payload,
            expires: s.expires,
            kind: s.kind,
        })
    }

    /// Slots made so far (the bound of slot indices).
    pub(crate) fn capacity(&self) -> u32 {
        crate::convert::to_u32(self.slots.len())
    }

    /// Its gossip is over: keep it until its lifetime ends, for repair, or
    /// release it now if that is past.
    pub(crate) fn retain(&mut self, index: u32, now: Time) {
        let Some(slot) = self.slots.get_mut(index as usize).filter(|s| s.used && !s.retained) else { return };
        if slot.expires <= now {
            self.release(index);
            return;
        }
        slot.retained = true;
        let record = (slot.expires, index, slot.stamp);
        if self.retained.len() >= self.slots.len() {
            // Only stale records can make it this long (one per retained
            // slot otherwise): drop them rather than grow.
            let slots = &self.slots;
            self.retained.retain(|&Reverse((_, i, stamp))| {
                slots.get(i as usize).is_some_and(|s| s.used && s.retained && s.stamp == stamp)
            });
        }
        self.retained.push(Reverse(record));
    }

    /// When the earliest retained broadcast expires.
    pub(crate) fn next_expiry(&self) -> Option<Time> {
        self.retained.peek().map(|&Reverse((until, _, _))| until)
    }

    /// Releases retained broadcasts whose time is up (at most `batch`
    /// records looked at).
    pub(crate) fn expire(&mut self, now: Time, batch: usize) {
        for _ in 0..batch {
            match self.retained.peek() {
                Some(&Reverse((until, index, stamp))) if until <= now => {
                    self.retained.pop();
                    if self.is_current(index, stamp) {
                        self.release(index);
                    }
                }
                _ => return,
            }
        }
    }

    /// Whether a retention record is the slot's current one.
    fn is_current(&self, index: u32, stamp: u32) -> bool {
        self.slots.get(index as usize).is_some_and(|s| s.used && s.retained && s.stamp == stamp)
    }

    /// Releases the retained broadcast closest to the end of its lifetime
    /// (the one repair needs least); whether there was one.
    pub(crate) fn release_earliest_expiring(&mut self) -> bool {
        while let Some(Reverse((_, index, stamp))) = self.retained.pop() {
            if self.is_current(index, stamp) {
                self.release(index);
                return true;
            }
        }
        false
    }

    pub(crate) fn release(&mut self, index: u32) {
        if let Some(slot) = self.slots.get_mut(index as usize)
            && slot.used
        {
            slot.used = false;
            slot.retained = false;
            self.free.push(index);
        }
    }

    /// Broadcasts held (gossiped or retained).
    pub(crate) fn in_use(&self) -> usize {
        self.slots.len() - self.free.len()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn b(seq: u32, payload: &[u8], expires: Time) -> Stored<'_> {
        Stored { origin: b"o", generation: 1, seq, payload, expires, kind: BroadcastKind::Broadcast }
    }

    #[test]
    fn store_get_release_and_full() {
        let mut pool = Broadcasts::new(2);
        let t = Time::from_secs(9);
        let a = pool.store(b(1, b"one", t)).unwrap();
        let two = pool.store(b(2, b"two", t)).unwrap();
        assert_eq!(pool.store(b(3, b"three", t)), None);
        assert_eq!(pool.get(two), Some(b(2, b"two", t)));
        pool.release(a);
        pool.release(a);
        assert_eq!(pool.in_use(), 1);
        assert_eq!(pool.get(a), None);
        let c = pool.store(b(3, b"three", t)).unwrap();
        assert_eq!(c, a);
        assert_eq!(pool.get(c), Some(b(3, b"three", t)));
    }

    #[test]
    fn retained_broadcasts_expire_earliest_first_and_make_room() {
        let mut pool = Broadcasts::new(3);
        let t = Time::from_secs;
        // Retained in one order, expiring in the other: `two` was retained
        // later but dies sooner (a short time to live from its sender).
        let a = pool.store(b(1, b"a", t(11))).unwrap();
        let two = pool.store(b(2, b"b", t(10))).unwrap();
        pool.retain(a, t(0));
        pool.retain(two, t(1));
        pool.retain(two, t(1)); // twice: counted once
        assert_eq!(pool.next_expiry(), Some(t(10)));
        pool.expire(t(5), 8);
        assert_eq!(pool.in_use(), 2, "still within their lifetime");
        assert!(pool.release_earliest_expiring(), "room is made from the one closest to its end");
        assert_eq!(pool.get(two), None);
        assert!(pool.get(a).is_some());
        let c = pool.store(b(3, b"c", t(12))).unwrap();
        assert_eq!(c, two, "the slot is reused");
        assert_eq!(pool.next_expiry(), Some(t(11)));
        pool.expire(t(11), 8);
        assert_eq!(pool.get(a), None, "expired");
        assert!(pool.get(c).is_some(), "not retained");
        assert!(!pool.release_earliest_expiring());
        assert_eq!(pool.next_expiry(), None);
        pool.retain(c, t(12));
        assert_eq!(pool.in_use(), 0, "its lifetime is over: released at once");
    }
}
