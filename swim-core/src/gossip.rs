//! A dissemination queue: which items to piggyback next. A node keeps two,
//! one of member updates (ids are table slots) and one of user broadcasts
//! (ids are pool slots), so that neither kind can crowd the other out.
//!
//! Items are kept in buckets by how often they were sent; the next packet
//! takes items from the lowest bucket up (fewest-sent first, newest first
//! within a bucket). Each item appears at most once, so a newer update about
//! a member simply re-queues that member's item at bucket 0. The links live in
//! a vector indexed by item id: enqueue, remove and "sent once more" are O(1)
//! and allocate nothing once the vector covers every id.

use crate::time::Time;

const NIL: u32 = u32::MAX;
const NONE: u8 = u8::MAX;

/// Highest transmission limit the queue supports.
pub(crate) const MAX_TRANSMITS: usize = 64;

/// What a queue item stands for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Item {
    /// The current state of the member in this table slot.
    Member(u32),
    /// The user broadcast in this pool slot.
    Broadcast(u32),
}

#[derive(Debug, Clone, Copy)]
struct Link {
    prev: u32,
    next: u32,
    bucket: u8,
}

const UNLINKED: Link = Link { prev: NIL, next: NIL, bucket: NONE };

#[derive(Debug)]
pub(crate) struct Gossip {
    links: Vec<Link>,
    /// When each item was queued, by id (apart from the links, which the
    /// hot iteration walks: they stay 12 bytes).
    since: Vec<Time>,
    head: [u32; MAX_TRANSMITS],
    tail: [u32; MAX_TRANSMITS],
    len: usize,
}

impl Gossip {
    pub(crate) fn with_capacity(items: usize) -> Self {
        Gossip {
            links: Vec::with_capacity(items),
            since: Vec::with_capacity(items),
            head: [NIL; MAX_TRANSMITS],
            tail: [NIL; MAX_TRANSMITS],
            len: 0,
        }
    }

    pub(crate) fn len(&self) -> usize {
        self.len
    }

    fn link(&self, id: u32) -> Link {
        self.links.get(id as usize).copied().unwrap_or(UNLINKED)
    }

    fn set(&mut self, id: u32, f: impl FnOnce(&mut Link)) {
        if let Some(link) = self.links.get_mut(id as usize) {
            f(link);
        }
    }

    /// How often a queued item was sent, or `None` if it is not queued.
    pub(crate) fn transmits(&self, id: u32) -> Option<u8> {
        let bucket = self.link(id).bucket;
        (bucket != NONE).then_some(bucket)
    }

    fn unlink(&mut self, id: u32) {
        let link = self.link(id);
        let bucket = usize::from(link.bucket);
        if link.bucket == NONE {
            return;
        }
        if link.prev == NIL {
            if let Some(h) = self.head.get_mut(bucket) {
                *h = link.next;
            }
        } else {
            self.set(link.prev, |l| l.next = link.next);
        }
        if link.next == NIL {
            if let Some(t) = self.tail.get_mut(bucket) {
                *t = link.prev;
            }
        } else {
            self.set(link.next, |l| l.prev = link.prev);
        }
        self.set(id, |l| *l = UNLINKED);
        self.len -= 1;
    }

    fn push_front(&mut self, id: u32, bucket: u8) {
        let b = usize::from(bucket);
        let old = self.head.get(b).copied().unwrap_or(NIL);
        self.set(id, |l| *l = Link { prev: NIL, next: old, bucket });
        if old == NIL {
            if let Some(t) = self.tail.get_mut(b) {
                *t = id;
            }
        } else {
            self.set(old, |l| l.prev = id);
        }
        if let Some(h) = self.head.get_mut(b) {
            *h = id;
        }
        self.len += 1;
    }

    fn push_back(&mut self, id: u32, bucket: u8) {
        let b = usize::from(bucket);
        let old = self.tail.get(b).copied().unwrap_or(NIL);
        self.set(id, |l| *l = Link { prev: old, next: NIL, bucket });
        if old == NIL {
            if let Some(h) = self.head.get_mut(b) {
                *h = id;
            }
        } else {
            self.set(old, |l| l.next = id);
        }
        if let Some(t) = self.tail.get_mut(b) {
            *t = id;
        }
        self.len += 1;
    }

    /// Queues an item as new (never sent), replacing its earlier place.
    pub(crate) fn enqueue(&mut self, id: u32, now: Time) {
        if self.links.len() <= id as usize {
            self.links.resize(id as usize + 1, UNLINKED);
            self.since.resize(id as usize + 1, Time::ZERO);
        }
        self.unlink(id);
        self.push_front(id, 0);
        if let Some(since) = self.since.get_mut(id as usize) {
            *since = now;
        }
    }

    pub(crate) fn remove(&mut self, id: u32) {
        self.unlink(id);
    }

    /// Records one more transmission; the item leaves the queue once it has
    /// been sent `limit` times, and then says when it was queued.
    pub(crate) fn sent(&mut self, id: u32, limit: usize) -> Option<Time> {
        let link = self.link(id);
        if link.bucket == NONE {
            return None;
        }
        self.unlink(id);
        let next = usize::from(link.bucket) + 1;
        if next < limit.min(MAX_TRANSMITS) {
            self.push_back(id, crate::convert::to_u8(next));
            return None;
        }
        self.since.get(id as usize).copied()
    }

    /// Items from fewest-sent up, stopping below bucket `limit`.
    pub(crate) fn iter(&self, limit: usize) -> impl Iterator<Item = u32> + '_ {
        let mut bucket = 0usize;
        let mut at = NIL;
        let limit = limit.min(MAX_TRANSMITS);
        core::iter::from_fn(move || {
            loop {
                if at == NIL {
                    if bucket >= limit {
                        return None;
                    }
                    at = self.head.get(bucket).copied().unwrap_or(NIL);
                    bucket += 1;
                    continue;
                }
                let id = at;
                at = self.link(id).next;
                return Some(id);
            }
        })
    }

    /// The queued item sent most often (a victim when space runs out):
    /// O(number of buckets), whatever the queue's length.
    pub(crate) fn most_sent(&self) -> Option<u32> {
        self.head.iter().rev().copied().find(|&h| h != NIL)
    }

    /// Whether any item is waiting below bucket `limit`.
    pub(crate) fn has_work(&self, limit: usize) -> bool {
        self.head.iter().take(limit.min(MAX_TRANSMITS)).any(|&h| h != NIL)
    }

    /// Takes out every item sent `limit` times or more (they remain when the
    /// limit shrinks with the cluster) and hands each to `gone`. O(items
    /// removed), plus the buckets.
    pub(crate) fn drain_from(&mut self, limit: usize, mut gone: impl FnMut(u32)) {
        for bucket in limit.min(MAX_TRANSMITS)..MAX_TRANSMITS {
            while let Some(id) = self.head.get(bucket).copied().filter(|&h| h != NIL) {
                self.unlink(id);
                gone(id);
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fewest_sent_first_newest_first_and_replacement() {
        let mut q = Gossip::with_capacity(8);
        q.enqueue(1, Time::ZERO);
        q.enqueue(2, Time::ZERO);
        q.enqueue(5, Time::ZERO);
        assert_eq!(q.iter(10).collect::<Vec<_>>(), [5, 2, 1]);
        q.sent(5, 10);
        q.sent(2, 10);
        assert_eq!(q.iter(10).collect::<Vec<_>>(), [1, 5, 2]);
        assert_eq!(q.transmits(2), Some(1));
        // A newer update about item 2 replaces the old one: back to zero.
        q.enqueue(2, Time::ZERO);
        assert_eq!(q.transmits(2), Some(0));
        assert_eq!(q.len(), 3);
        assert_eq!(q.iter(10).next(), Some(2));
    }

    #[test]
    fn items_leave_after_the_limit() {
        let mut q = Gossip::with_capacity(2);
        q.enqueue(0, Time::from_secs(2));
        assert_eq!(q.sent(0, 3), None);
        assert_eq!(q.sent(0, 3), None);
        assert_eq!(q.sent(0, 3), Some(Time::from_secs(2)), "done: when it was queued");
        assert_eq!(q.transmits(0), None);
        assert_eq!(q.len(), 0);
        assert_eq!(q.iter(3).count(), 0);
        assert!(!q.has_work(3));
        q.sent(0, 3); // not queued: nothing happens
        q.remove(7);
    }

    #[test]
    fn most_sent_finds_victims_and_a_shrunk_limit_drains() {
        let mut q = Gossip::with_capacity(4);
        q.enqueue(1, Time::ZERO);
        q.enqueue(2, Time::ZERO);
        q.enqueue(3, Time::ZERO);
        for _ in 0..4 {
            q.sent(1, 20);
        }
        q.sent(2, 20);
        assert_eq!(q.iter(2).count(), 2, "bucket 4 is beyond a limit of 2");
        assert!(q.has_work(2));
        assert_eq!(q.most_sent(), Some(1));
        let mut gone = Vec::new();
        q.drain_from(2, |id| gone.push(id));
        assert_eq!(gone, [1], "sent 4 times, more than a limit of 2 allows");
        assert_eq!(q.most_sent(), Some(2));
        assert_eq!(q.len(), 2);
    }
}
