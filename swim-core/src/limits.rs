//! Per-source rate limits (join requests, sync accepts): a token bucket per
//! source network (an IPv4 address, an IPv6 /64: one host's addresses) in a
//! bounded table. When the table is full, the source heard from least
//! recently (among a few probed) gives its place, but only as fast as an
//! eviction budget allows: a flood from many (spoofed) sources cannot churn
//! the table to hand a busy source a fresh burst; while the budget is spent,
//! sources the table does not hold share one bucket of their own (so a
//! flood of new sources slows newcomers down, but never locks them out).

use std::hash::{BuildHasher, RandomState};
use std::net::IpAddr;

use hashbrown::HashTable;

use crate::time::Time;

/// A rate: `per_second` sustained, `burst` at once. Zero `per_second`
/// disables the limit.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[cfg_attr(feature = "serde", derive(serde::Serialize, serde::Deserialize), serde(deny_unknown_fields))]
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
/// The whole table may be replaced once a minute, a quarter of it at once.
const EVICTION_PERIOD_S: f64 = 60.0;

/// The source a bucket stands for: an IPv4 address, or the /64 network of
/// an IPv6 address (a host is given a /64; spoofing within it buys
/// nothing). IPv4-mapped IPv6 addresses count as IPv4.
pub(crate) fn network(ip: IpAddr) -> IpAddr {
    match ip.to_canonical() {
        IpAddr::V6(v6) => IpAddr::V6((u128::from(v6) & !u128::from(u64::MAX)).into()),
        v4 => v4,
    }
}

#[derive(Debug)]
pub(crate) struct Limiter {
    rate: RateLimit,
    buckets: Vec<Bucket>,
    index: HashTable<u32>,
    hasher: RandomState,
    capacity: usize,
    cursor: usize,
    /// Evictions left, refilled at `capacity / EVICTION_PERIOD_S` a second.
    evictions: f64,
    evictions_at: Time,
    /// What sources the table cannot take share while evictions are spent.
    overflow: Bucket,
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
            evictions: eviction_burst(capacity),
            evictions_at: Time::ZERO,
            overflow: Bucket { ip: IpAddr::from([0, 0, 0, 0]), tokens: f64::from(rate.burst.max(1)), last: Time::ZERO },
        }
    }

    fn find(&self, ip: IpAddr) -> Option<usize> {
        let hash = self.hasher.hash_one(ip);
        let buckets = &self.buckets;
        self.index.find(hash, |&i| buckets.get(i as usize).is_some_and(|b| b.ip == ip)).map(|&i| i as usize)
    }

    /// Whether one more attempt from `ip` is allowed now (and counts it).
    pub(crate) fn allow(&mut self, now: Time, ip: IpAddr) -> bool {
        if self.rate.per_second == 0 {
            return true;
        }
        let ip = network(ip);
        let (rate, burst) = (f64::from(self.rate.per_second), f64::from(self.rate.burst.max(1)));
        let found = self.find(ip).or_else(|| self.insert(now, ip));
        // Table full and evictions spent: the shared overflow bucket.
        let b = match found {
            Some(i) => match self.buckets.get_mut(i) {
                Some(b) => b,
                None => return true,
            },
            None => &mut self.overflow,
        };
        b.tokens = (b.tokens + now.saturating_since(b.last).as_secs_f64() * rate).min(burst);
        b.last = now;
        if b.tokens >= 1.0 {
            b.tokens -= 1.0;
            true
        } else {
            false
        }
    }

    /// Gives back the attempt `ip` was charged (it proved to be legitimate,
    /// as a sync stream does with its first valid frame).
    pub(crate) fn refund(&mut self, ip: IpAddr) {
        let burst = f64::from(self.rate.burst.max(1));
        if let Some(b) = self.find(network(ip)).and_then(|i| self.buckets.get_mut(i)) {
            b.tokens = (b.tokens + 1.0).min(burst);
        }
    }

    fn insert(&mut self, now: Time, ip: IpAddr) -> Option<usize> {
        let hash = self.hasher.hash_one(ip);
        let fresh = Bucket { ip, tokens: f64::from(self.rate.burst.max(1)), last: now };
        let i = if self.buckets.len() < self.capacity {
            self.buckets.push(fresh);
            self.buckets.len() - 1
        } else {
            let refill = now.saturating_since(self.evictions_at).as_secs_f64() * self.capacity as f64;
            self.evictions = (self.evictions + refill / EVICTION_PERIOD_S).min(eviction_burst(self.capacity));
            self.evictions_at = now;
            if self.evictions < 1.0 {
                return None;
            }
            self.evictions -= 1.0;
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
        Some(i)
    }
}

fn eviction_burst(capacity: usize) -> f64 {
    (capacity / 4).max(1) as f64
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
        // One new source every four seconds: the eviction budget (the table
        // once a minute) lets each in.
        for i in 0..1000u32 {
            let ip = IpAddr::from(i.to_be_bytes());
            assert!(l.allow(Time::from_secs(4 * u64::from(i)), ip));
        }
        assert_eq!(l.buckets.len(), 16);
    }

    #[test]
    fn an_eviction_flood_does_not_hand_a_busy_source_a_fresh_burst() {
        let (rate, burst) = (1, 4);
        let mut l = Limiter::new(RateLimit { per_second: rate, burst }, 64);
        let attacker: IpAddr = "192.0.2.1".parse().unwrap();
        let mut allowed = 0u32;
        // Ten seconds of 100,000 datagrams from distinct (spoofed) sources,
        // with the attacker's own attempts among them.
        for i in 0..100_000u32 {
            let now = Time::from_micros(u64::from(i) * 100);
            l.allow(now, IpAddr::from((0x0a00_0000 | i).to_be_bytes()));
            if i % 10 == 0 && l.allow(now, attacker) {
                allowed += 1;
            }
        }
        // Its burst, its rate for ten seconds, and at most one fresh burst
        // per eviction the budget allowed in that time (16 + 10·64/60).
        let evictions = 16 + 11;
        assert!(allowed <= burst + 10 * rate + evictions * burst, "{allowed}");
        assert!(allowed <= burst + 10 * rate + 2 * burst, "in practice the busy source is not evicted: {allowed}");
        assert_eq!(l.buckets.len(), 64);
    }

    #[test]
    fn a_steady_stream_of_new_sources_slows_newcomers_but_never_locks_them_out() {
        let mut l = Limiter::new(RateLimit { per_second: 1, burst: 2 }, 16);
        // A new source every 2 s for twenty minutes, faster than evictions
        // refill (16 a minute): the eviction budget stays spent.
        let mut newcomers_allowed = 0;
        for i in 0..600u32 {
            let now = Time::from_secs(u64::from(i) * 2);
            l.allow(now, IpAddr::from((0x0a00_0000 | i).to_be_bytes()));
            // Once a minute a real newcomer tries, a second later.
            let later = now + core::time::Duration::from_secs(1);
            if i % 30 == 15 && l.allow(later, IpAddr::from([192, 0, 2, u8::try_from(i / 30).unwrap()])) {
                newcomers_allowed += 1;
            }
        }
        assert_eq!(newcomers_allowed, 20, "every newcomer gets through the shared bucket");
        assert_eq!(l.buckets.len(), 16);
    }

    #[test]
    fn one_hosts_ipv6_addresses_share_a_bucket_and_proof_refunds() {
        let mut l = Limiter::new(RateLimit { per_second: 1, burst: 2 }, 16);
        let t = Time::from_secs(1);
        let a: IpAddr = "2001:db8::1".parse().unwrap();
        let b: IpAddr = "2001:db8::ffff:2".parse().unwrap();
        let other: IpAddr = "2001:db8:0:1::1".parse().unwrap();
        assert!(l.allow(t, a) && l.allow(t, b));
        assert!(!l.allow(t, "2001:db8::3".parse().unwrap()), "same /64, same bucket");
        assert!(l.allow(t, other), "another /64");
        l.refund(b);
        assert!(l.allow(t, a), "a refunded attempt can be made again");
        assert!(!l.allow(t, a));
        let v4: IpAddr = "10.1.2.3".parse().unwrap();
        let mapped: IpAddr = "::ffff:10.1.2.3".parse().unwrap();
        assert!(l.allow(t, v4) && l.allow(t, v4));
        assert!(!l.allow(t, mapped), "an IPv4-mapped address is its IPv4 address");
    }
}
