//! User broadcast delivery: for each cluster size and loss rate, a stream of
//! broadcasts from random members of a converged cluster (`Config::local()`,
//! what users run), then long enough for repair; counts every member that
//! should have received each broadcast and did, exactly once, and how many
//! deliveries came by repair (a sync) rather than by gossip.

use std::collections::HashMap;
use std::time::Duration;

use swim_protocol::Config;

use super::{Options, pool, stats};
use crate::sim::{LinkModel, Sim, SimConfig, SimRng};

/// One cluster size and loss rate.
#[derive(Debug, Clone, PartialEq)]
pub struct Row {
    /// Members.
    pub members: usize,
    /// Packet loss on every link.
    pub loss: f64,
    /// Broadcasts sent.
    pub broadcasts: usize,
    /// Deliveries owed: every other member, for every broadcast.
    pub expected: u64,
    /// Deliveries made (each member counted once per broadcast).
    pub delivered: u64,
    /// Deliveries made more than once (must be 0).
    pub duplicates: u64,
    /// Deliveries that came with a sync (repair) rather than by gossip.
    pub repaired: u64,
    /// Seconds from a broadcast to its last delivery: median, 99th
    /// percentile and maximum over the broadcasts.
    pub last_delivery: (f64, f64, f64),
}

impl Row {
    /// Delivered over owed.
    pub fn ratio(&self) -> f64 {
        if self.expected == 0 { 1.0 } else { self.delivered as f64 / self.expected as f64 }
    }
}

/// Every row.
#[derive(Debug, Clone, PartialEq)]
pub struct Results {
    /// One row per (size, loss).
    pub rows: Vec<Row>,
}

fn run_one(members: usize, loss: f64, count: usize, seed: u64) -> Row {
    let config = Config::local().with(|c| c.limits.expected_members = members.max(8));
    let link = LinkModel { loss, ..LinkModel::default() };
    // The cluster forms without loss; the broadcasts meet it.
    let mut sim = Sim::new(SimConfig { seed, members, config: config.clone(), ..SimConfig::default() });
    sim.metrics_mut().log_deliveries = true;
    sim.join_all(0, Duration::from_millis(5));
    assert!(sim.run_until(Duration::from_secs(120), Sim::converged), "{members} members did not converge");
    sim.network.default = link;
    let mut rng = SimRng::new(seed ^ 0xb0ad_ca57);
    // One broadcast every 100 ms: with a 15 s lifetime, 150 held at once,
    // within the default pool of 256.
    let mut sent = Vec::with_capacity(count);
    for k in 0..count {
        let origin = rng.below(members);
        let payload = format!("{k}").into_bytes();
        if sim.broadcast(origin, &payload).is_some() {
            sent.push((origin, payload, sim.now()));
        }
        sim.run_for(Duration::from_millis(100));
    }
    sim.run_for(config.dissemination.broadcast_lifetime + config.sync.interval);
    let mut got: HashMap<(Vec<u8>, usize), (u64, f64)> = HashMap::new();
    for (receiver, payload, at) in &sim.metrics().deliveries {
        let e = got.entry((payload.clone(), *receiver)).or_insert((0, 0.0));
        e.0 += 1;
        e.1 = at.as_micros() as f64 / 1e6;
    }
    let (mut delivered, mut duplicates, mut last) = (0, 0, Vec::new());
    for (origin, payload, at) in &sent {
        let mut latest: f64 = 0.0;
        for r in (0..members).filter(|r| r != origin) {
            if let Some(&(n, when)) = got.get(&(payload.clone(), r)) {
                delivered += 1;
                duplicates += n - 1;
                latest = latest.max(when - at.as_micros() as f64 / 1e6);
            }
        }
        last.push(latest);
    }
    let repaired = (0..members).filter_map(|i| sim.node(i)).map(|n| n.stats().broadcasts_repaired).sum();
    Row {
        members,
        loss,
        broadcasts: sent.len(),
        expected: (sent.len() * (members - 1)) as u64,
        delivered,
        duplicates,
        repaired,
        last_delivery: (stats::median(&last), stats::percentile(&last, 99.0), stats::percentile(&last, 100.0)),
    }
}

/// Runs every size and loss rate.
pub fn run(o: &Options) -> Results {
    let jobs: Vec<(usize, f64, u64)> = o
        .bc_sizes
        .iter()
        .flat_map(|&n| o.bc_losses.iter().map(move |&l| (n, l)))
        .enumerate()
        .map(|(i, (n, l))| (n, l, SimRng::derive(o.seed, 0xdd00 + i as u64)))
        .collect();
    let rows = pool::map(o.threads, &jobs, |&(n, l, seed)| run_one(n, l, o.bc_count, seed));
    Results { rows }
}

impl Results {
    /// All deliveries made over all owed.
    pub fn total_ratio(&self) -> f64 {
        let (d, e) = self.rows.iter().fold((0, 0), |(d, e), r| (d + r.delivered, e + r.expected));
        if e == 0 { 1.0 } else { d as f64 / e as f64 }
    }

    /// One line for the console.
    pub fn summary(&self) -> Vec<String> {
        let worst = self.rows.iter().map(Row::ratio).fold(1.0, f64::min);
        let duplicates: u64 = self.rows.iter().map(|r| r.duplicates).sum();
        vec![format!(
            "paper delivery: {} configurations, {} broadcasts: {:.2}% delivered (worst configuration {:.2}%), {} \
             duplicates, {} deliveries by repair",
            self.rows.len(),
            self.rows.iter().map(|r| r.broadcasts).sum::<usize>(),
            100.0 * self.total_ratio(),
            100.0 * worst,
            duplicates,
            self.rows.iter().map(|r| r.repaired).sum::<u64>(),
        )]
    }
}
