//! Replay protection for encrypted packets.
//!
//! Every sealed packet carries its sender's nonce (a random epoch per
//! process run and a counter) and the sender's wall-clock time. A packet is
//! refused when its time is further than `max_age` from this node's clock,
//! or when its counter was already seen in its epoch's window (the 128 most
//! recent counters). Windows of epochs not heard from for `max_age` can be
//! forgotten safely: anything they could still admit is refused by time.
//! The table has a fixed capacity; when it is full the stalest window goes.

use std::hash::{BuildHasher, RandomState};

use hashbrown::HashTable;
use swim_wire::crypto::Nonce;

/// Why a packet was refused.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Refusal {
    /// Sent longer ago than `max_age` (or its sender's clock is far behind).
    Stale,
    /// Sent "in the future" by more than `max_age` (a sender's clock is far ahead).
    Future,
    /// Its counter was seen already, or is older than the window.
    Replayed,
}

#[derive(Debug, Clone, Copy)]
struct Window {
    epoch: u64,
    highest: u32,
    /// Bit `i` set: counter `highest - i` was seen.
    seen: u128,
    last_ms: u64,
}

const WINDOW: u32 = 128;
/// Windows inspected when looking for one to evict.
const PROBES: usize = 8;

#[derive(Debug)]
pub(crate) struct ReplayGuard {
    windows: Vec<Window>,
    index: HashTable<u32>,
    hasher: RandomState,
    capacity: usize,
    max_age_ms: u64,
    cursor: usize,
}

impl ReplayGuard {
    pub(crate) fn new(capacity: usize, max_age_ms: u64) -> Self {
        let capacity = capacity.max(16);
        ReplayGuard {
            windows: Vec::with_capacity(capacity),
            index: HashTable::with_capacity(capacity),
            hasher: RandomState::new(),
            capacity,
            max_age_ms,
            cursor: 0,
        }
    }

    fn find(&self, epoch: u64) -> Option<usize> {
        let windows = &self.windows;
        self.index
            .find(self.hasher.hash_one(epoch), |&i| windows.get(i as usize).is_some_and(|w| w.epoch == epoch))
            .map(|&i| i as usize)
    }

    /// Checks a packet without recording it.
    pub(crate) fn check(&self, nonce: Nonce, sent_at_ms: u64, now_ms: u64) -> Result<(), Refusal> {
        if sent_at_ms.saturating_add(self.max_age_ms) < now_ms {
            return Err(Refusal::Stale);
        }
        if sent_at_ms > now_ms.saturating_add(self.max_age_ms) {
            return Err(Refusal::Future);
        }
        let Some(w) = self.find(nonce.epoch).and_then(|i| self.windows.get(i)) else { return Ok(()) };
        if nonce.counter > w.highest {
            return Ok(());
        }
        let back = w.highest - nonce.counter;
        if back >= WINDOW || w.seen & (1u128 << back) != 0 {
            return Err(Refusal::Replayed);
        }
        Ok(())
    }

    /// Records a packet that passed [`check`](Self::check) and was accepted.
    pub(crate) fn record(&mut self, nonce: Nonce, now_ms: u64) {
        let i = match self.find(nonce.epoch) {
            Some(i) => i,
            None => self.insert(nonce, now_ms),
        };
        let Some(w) = self.windows.get_mut(i) else { return };
        if nonce.counter > w.highest {
            let shift = nonce.counter - w.highest;
            w.seen = if shift >= WINDOW { 0 } else { w.seen << shift };
            w.highest = nonce.counter;
        }
        let back = w.highest - nonce.counter;
        if back < WINDOW {
            w.seen |= 1u128 << back;
        }
        w.last_ms = w.last_ms.max(now_ms);
    }

    /// A window for a new epoch, in a free slot or in the stalest one probed.
    fn insert(&mut self, nonce: Nonce, now_ms: u64) -> usize {
        let fresh = Window { epoch: nonce.epoch, highest: nonce.counter, seen: 0, last_ms: now_ms };
        if self.windows.len() < self.capacity {
            self.windows.push(fresh);
            let i = self.windows.len() - 1;
            self.link(i);
            return i;
        }
        let mut victim = self.cursor % self.windows.len().max(1);
        for step in 0..PROBES.min(self.windows.len()) {
            let i = (self.cursor + step) % self.windows.len();
            let (candidate, best) = (self.windows.get(i), self.windows.get(victim));
            if let (Some(c), Some(b)) = (candidate, best) {
                if c.last_ms < b.last_ms {
                    victim = i;
                }
                if c.last_ms.saturating_add(self.max_age_ms) < now_ms {
                    victim = i; // expired: safe to forget
                    break;
                }
            }
        }
        self.cursor = (self.cursor + PROBES) % self.windows.len().max(1);
        if let Some(old) = self.windows.get(victim).map(|w| w.epoch) {
            let hash = self.hasher.hash_one(old);
            if let Ok(entry) = self.index.find_entry(hash, |&j| j as usize == victim) {
                entry.remove();
            }
        }
        if let Some(w) = self.windows.get_mut(victim) {
            *w = fresh;
        }
        self.link(victim);
        victim
    }

    fn link(&mut self, i: usize) {
        let Some(epoch) = self.windows.get(i).map(|w| w.epoch) else { return };
        let hash = self.hasher.hash_one(epoch);
        let (windows, hasher) = (&self.windows, &self.hasher);
        self.index.insert_unique(hash, crate::convert::to_u32(i), |&j| {
            hasher.hash_one(windows.get(j as usize).map_or(0, |w| w.epoch))
        });
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn n(epoch: u64, counter: u32) -> Nonce {
        Nonce { epoch, counter }
    }

    fn accept(g: &mut ReplayGuard, nonce: Nonce, sent: u64, now: u64) -> Result<(), Refusal> {
        g.check(nonce, sent, now)?;
        g.record(nonce, now);
        Ok(())
    }

    #[test]
    fn each_counter_once_in_any_order_within_the_window() {
        let mut g = ReplayGuard::new(16, 60_000);
        assert_eq!(accept(&mut g, n(1, 10), 1000, 1000), Ok(()));
        assert_eq!(accept(&mut g, n(1, 10), 1000, 1000), Err(Refusal::Replayed));
        assert_eq!(accept(&mut g, n(1, 12), 1000, 1000), Ok(()));
        assert_eq!(accept(&mut g, n(1, 11), 1000, 1000), Ok(()), "late but new");
        assert_eq!(accept(&mut g, n(1, 11), 1000, 1000), Err(Refusal::Replayed));
        assert_eq!(accept(&mut g, n(1, 500), 1000, 1000), Ok(()));
        assert_eq!(accept(&mut g, n(1, 12), 1000, 1000), Err(Refusal::Replayed), "older than the window");
        assert_eq!(accept(&mut g, n(2, 12), 1000, 1000), Ok(()), "another sender's epoch");
    }

    #[test]
    fn times_outside_the_age_are_refused() {
        let mut g = ReplayGuard::new(16, 60_000);
        assert_eq!(accept(&mut g, n(1, 1), 1_000, 70_000), Err(Refusal::Stale));
        assert_eq!(accept(&mut g, n(1, 1), 200_000, 70_000), Err(Refusal::Future));
        assert_eq!(accept(&mut g, n(1, 1), 69_000, 70_000), Ok(()));
    }

    #[test]
    fn a_full_table_forgets_expired_windows_first() {
        let mut g = ReplayGuard::new(16, 1_000);
        for epoch in 0..16 {
            accept(&mut g, n(epoch, 1), 0, 0).unwrap();
        }
        // Much later: every window expired; new epochs replace them, and a
        // replay of an old capture is refused by time anyway.
        for epoch in 100..116 {
            accept(&mut g, n(epoch, 1), 10_000, 10_000).unwrap();
        }
        assert_eq!(g.windows.len(), 16);
        assert_eq!(accept(&mut g, n(0, 1), 0, 10_000), Err(Refusal::Stale));
        assert_eq!(accept(&mut g, n(100, 1), 10_000, 10_000), Err(Refusal::Replayed), "recent windows kept");
    }
}
