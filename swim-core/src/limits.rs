//! Per-source rate limits (join requests, sync accepts): a token bucket per
//! source IP in a bounded table; when the table is full, the source heard
//! from least recently (among a few probed) gives its place.

use std::hash::{BuildHasher, RandomState};
use std::net::IpAddr;

use hashbrown::HashTable;

use crate::time::Time;

/// A rate: `per_second` sustained, `burst` at once. Zero `per_second`
/// disables the limit.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RateLimit {
    /// Attempts allowed per second, sustained.
    pub per_second: u32,
    /// Attempts allowed at once.
    pub burst: u32,
}

#[derive(Debug, Clone, Copy)]
struct Bucket {
    ip: IpAddr,
    tokens: f64,
    last: Time,
}

const PROBES: usize = 8;

#[derive(Debug)]
pub(crate) struct Limiter {
    rate: RateLimit,
    buckets: Vec<Bucket>,
    index: HashTable<u32>,
    hasher: RandomState,
    capacity: usize,
    cursor: usize,
}

impl Limiter {
    pub(crate) fn new(rate: RateLimit, capacity: usize) -> Self {
        let capacity = capacity.max(16);
        Limiter {
            rate,
            buckets: Vec::with_capacity(capacity),
            index: HashTable::with_capacity(capacity),
            hasher: RandomState::new(),
            capacity,
            cursor: 0,
        }
    }

    /// Whether one more attempt from `ip` is allowed now (and counts it).
    pub(crate) fn allow(&mut self, now: Time, ip: IpAddr) -> bool {
        if self.rate.per_second == 0 {
            return true;
        }
        let hash = self.hasher.hash_one(ip);
        let buckets = &self.buckets;
        let found = self.index.find(hash, |&i| buckets.get(i as usize).is_some_and(|b| b.ip == ip)).copied();
        let i = match found {
            Some(i) => i as usize,
            None => self.insert(now, ip, hash),
        };
        let (rate, burst) = (f64::from(self.rate.per_second), f64::from(self.rate.burst.max(1)));
        let Some(b) = self.buckets.get_mut(i) else { return true };
        b.tokens = (b.tokens + now.saturating_since(b.last).as_secs_f64() * rate).min(burst);
        b.last = now;
        if b.tokens >= 1.0 {
            b.tokens -= 1.0;
            true
        } else {
            false
        }
    }

    fn insert(&mut self, now: Time, ip: IpAddr, hash: u64) -> usize {
        let fresh = Bucket { ip, tokens: f64::from(self.rate.burst.max(1)), last: now };
        let i = if self.buckets.len() < self.capacity {
            self.buckets.push(fresh);
            self.buckets.len() - 1
        } else {
            let len = self.buckets.len();
            let victim = (0..PROBES.min(len))
                .map(|s| (self.cursor + s) % len)
                .min_by_key(|&i| self.buckets.get(i).map(|b| b.last))
                .unwrap_or(0);
            self.cursor = (self.cursor + PROBES) % len;
            if let Some(old) = self.buckets.get(victim).map(|b| b.ip) {
                let old_hash = self.hasher.hash_one(old);
                if let Ok(entry) = self.index.find_entry(old_hash, |&j| j as usize == victim) {
                    entry.remove();
                }
            }
            if let Some(b) = self.buckets.get_mut(victim) {
                *b = fresh;
            }
            victim
        };
        let (buckets, hasher) = (&self.buckets, &self.hasher);
        self.index.insert_unique(hash, crate::convert::to_u32(i), |&j| {
            buckets.get(j as usize).map_or(0, |b| hasher.hash_one(b.ip))
        });
        i
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bursts_then_a_steady_rate_per_source() {
        let mut l = Limiter::new(RateLimit { per_second: 2, burst: 3 }, 16);
        let a: IpAddr = "10.0.0.1".parse().unwrap();
        let b: IpAddr = "10.0.0.2".parse().unwrap();
        let t = Time::from_secs(1);
        assert_eq!((0..5).filter(|_| l.allow(t, a)).count(), 3, "the burst");
        assert!(l.allow(t, b), "another source has its own bucket");
        assert!(!l.allow(t, a));
        assert!(l.allow(Time::from_millis(1500), a), "half a second refills one");
        assert!(!l.allow(Time::from_millis(1500), a));
        let mut off = Limiter::new(RateLimit { per_second: 0, burst: 0 }, 16);
        assert!((0..100).all(|_| off.allow(t, a)));
    }

    #[test]
    fn the_table_stays_bounded() {
        let mut l = Limiter::new(RateLimit { per_second: 1, burst: 1 }, 16);
        for i in 0..1000u32 {
            let ip = IpAddr::from(i.to_be_bytes());
            assert!(l.allow(Time::from_secs(u64::from(i)), ip));
        }
        assert_eq!(l.buckets.len(), 16);
    }
}
