//! Probe selection: SWIM's shuffled round robin against buckets by
//! Kademlia (XOR) or Chord (clockwise) distance between ordering ids
//! (`probe.selection`), each at `k = probe.direct` probes a period, so the
//! probe load is the same for all three at a given `k`.
//!
//! Per setting: the datagrams a member receives per period (mean, and the
//! busiest member's), and for crashes at random phases the periods from the
//! crash to its first suspicion (mean, 99th percentile, worst), whether the
//! first to suspect it was one of its near members, and how long until all
//! of its near members, and all of its far members, hold it suspect or
//! faulty. A survivor is near when it is among the third whose distance to
//! the victim, by the strategy's metric, is smallest (the ones that hold it
//! in their nearest bucket); far, among the third where it is largest.
//! The shuffle has no metric: its near and far thirds are by XOR distance,
//! a control that should show no difference.

use std::time::Duration;

use swim_protocol::{Config, ProbeSelection, State, ordering_id, probe_distance};

use super::{Options, pool, stats};
use crate::sim::{Sim, SimConfig, SimRng};

/// The strategies compared.
pub const STRATEGIES: [ProbeSelection; 3] = [ProbeSelection::Shuffle, ProbeSelection::Kademlia, ProbeSelection::Chord];

/// A strategy's name in the report.
pub fn name(s: ProbeSelection) -> &'static str {
    match s {
        ProbeSelection::Shuffle => "shuffle",
        ProbeSelection::Kademlia => "Kademlia buckets",
        ProbeSelection::Chord => "Chord buckets",
    }
}

/// One setting's figures, over all its runs' crashes.
#[derive(Debug, Clone, PartialEq)]
pub struct Row {
    /// The strategy.
    pub strategy: ProbeSelection,
    /// Direct probes per period (and buckets).
    pub k: usize,
    /// Members.
    pub n: usize,
    /// Crashes measured.
    pub crashes: usize,
    /// Periods from a crash to its first suspicion: mean.
    pub first_mean: f64,
    /// Its 99th percentile.
    pub first_p99: f64,
    /// Its worst.
    pub first_worst: f64,
    /// Datagrams received per member per period: mean over members.
    pub load_mean: f64,
    /// The busiest member's.
    pub load_max: f64,
    /// Share of crashes first suspected by a near member.
    pub near_first: f64,
    /// Periods until every near member held the victim suspect or faulty (mean).
    pub near_all: f64,
    /// The same for the far members.
    pub far_all: f64,
}

/// Every setting.
#[derive(Debug, Clone, PartialEq)]
pub struct Results {
    /// Simulations per setting.
    pub runs: usize,
    /// By strategy, then `k`, then size.
    pub rows: Vec<Row>,
}

impl Results {
    /// One line per setting, for the console.
    pub fn summary(&self) -> Vec<String> {
        self.rows
            .iter()
            .map(|r| {
                format!(
                    "selection: {} k={} N={} crashes={} first_mean={:.2} first_p99={:.2} first_worst={:.2} \
                     load={:.2}/{:.2} near_first={:.2} near_all={:.2} far_all={:.2}",
                    name(r.strategy).split(' ').next().unwrap_or_default().to_lowercase(),
                    r.k,
                    r.n,
                    r.crashes,
                    r.first_mean,
                    r.first_p99,
                    r.first_worst,
                    r.load_mean,
                    r.load_max,
                    r.near_first,
                    r.near_all,
                    r.far_all
                )
            })
            .collect()
    }

    /// The row of a setting.
    pub fn row(&self, strategy: ProbeSelection, k: usize, n: usize) -> Option<&Row> {
        self.rows.iter().find(|r| r.strategy == strategy && r.k == k && r.n == n)
    }
}

fn config(strategy: ProbeSelection, k: usize, n: usize) -> Config {
    Config::lan().with(|c| {
        c.probe.selection = strategy;
        c.probe.direct = k;
        c.limits.expected_members = n;
    })
}

/// What one simulation measured.
#[derive(Debug, Default)]
struct Measured {
    first: Vec<f64>,
    near_first: Vec<f64>,
    near_all: Vec<f64>,
    far_all: Vec<f64>,
    load_mean: f64,
    load_max: f64,
}

/// Ticks per period at which the survivors' views are read.
const TICKS: u32 = 10;

fn simulate(strategy: ProbeSelection, k: usize, n: usize, seed: u64, crashes: usize) -> Measured {
    let config = config(strategy, k, n);
    let period = config.probe.period;
    let mut sim = Sim::new(SimConfig { seed, members: n, config, ..SimConfig::default() });
    sim.join_all(0, Duration::from_millis(1));
    assert!(sim.run_until(Duration::from_secs(600), Sim::converged), "{n} members converge");
    let mut out = Measured::default();

    let load_periods = 20;
    sim.metrics_mut().reset();
    sim.run_for(period * load_periods);
    let received: Vec<f64> =
        sim.metrics().members.iter().map(|m| m.msgs_received as f64 / f64::from(load_periods)).collect();
    out.load_mean = stats::mean(&received);
    out.load_max = received.iter().copied().fold(0.0, f64::max);

    let metric = if strategy == ProbeSelection::Shuffle { ProbeSelection::Kademlia } else { strategy };
    let mut rng = SimRng::new(SimRng::derive(seed, 0x5e1e));
    for _ in 0..crashes {
        sim.run_for(period.mul_f64(rng.unit()));
        let live: Vec<usize> = sim.live().filter(|&i| i != 0).collect();
        let Some(&victim) = live.get(rng.below(live.len())) else { break };
        let victim_id = ordering_id(&sim.members()[victim].name);
        sim.crash(victim);
        let mut survivors: Vec<(u64, usize)> =
            sim.live().map(|o| (probe_distance(metric, ordering_id(&sim.members()[o].name), victim_id), o)).collect();
        survivors.sort_unstable();
        let third = (survivors.len() / 3).max(1);
        let near: Vec<usize> = survivors.iter().take(third).map(|&(_, o)| o).collect();
        let far: Vec<usize> = survivors.iter().rev().take(third).map(|&(_, o)| o).collect();
        // When each survivor first held the victim suspect or faulty.
        let mut seen: Vec<Option<u32>> = vec![None; sim.members().len()];
        let name = sim.members()[victim].name.clone();
        for tick in 1..=60 * TICKS {
            sim.run_for(period / TICKS);
            for &(_, o) in &survivors {
                if seen[o].is_none()
                    && sim.node(o).and_then(|node| node.member(&name)).is_some_and(|m| m.state != State::Alive)
                {
                    seen[o] = Some(tick);
                }
            }
            if survivors.iter().all(|&(_, o)| seen[o].is_some()) {
                break;
            }
        }
        let periods = |tick: Option<u32>| tick.map_or(f64::NAN, |t| f64::from(t) / f64::from(TICKS));
        let Some(detection) = sim.metrics().detections.get(&victim).copied() else { continue };
        let Some(first) = detection.first_suspected else { continue };
        out.first.push(first.saturating_since(detection.crashed_at).as_secs_f64() / period.as_secs_f64());
        let earliest = survivors.iter().filter_map(|&(_, o)| seen[o]).min();
        let firsts: Vec<usize> = survivors.iter().map(|&(_, o)| o).filter(|&o| seen[o] == earliest).collect();
        if !firsts.is_empty() {
            out.near_first.push(firsts.iter().filter(|o| near.contains(o)).count() as f64 / firsts.len() as f64);
        }
        let all = |group: &[usize]| {
            periods(group.iter().map(|&o| seen[o]).collect::<Option<Vec<_>>>().and_then(|t| t.into_iter().max()))
        };
        out.near_all.push(all(&near));
        out.far_all.push(all(&far));
    }
    out
}

/// Every strategy at every `k` and size, `o.sel_runs` simulations each.
pub fn run(o: &Options) -> Results {
    let mut jobs = Vec::new();
    for &strategy in &STRATEGIES {
        for &k in &o.sel_ks {
            for &n in &o.sel_sizes {
                for r in 0..o.sel_runs {
                    jobs.push((strategy, k, n, r));
                }
            }
        }
    }
    let crashes = |n: usize| o.sel_crashes.min(n / 4).max(1);
    let measured = pool::map(o.threads, &jobs, |&(strategy, k, n, r)| {
        let index = (strategy as u64) << 40 | (k as u64) << 32 | (n as u64) << 8 | r as u64;
        simulate(strategy, k, n, SimRng::derive(o.seed, 0x5e1ec7 ^ index), crashes(n))
    });
    let mut rows = Vec::new();
    for &strategy in &STRATEGIES {
        for &k in &o.sel_ks {
            for &n in &o.sel_sizes {
                let of: Vec<&Measured> = jobs
                    .iter()
                    .zip(&measured)
                    .filter(|((s, kk, nn, _), _)| *s == strategy && *kk == k && *nn == n)
                    .map(|(_, m)| m)
                    .collect();
                let all = |f: fn(&Measured) -> &Vec<f64>| -> Vec<f64> {
                    of.iter().flat_map(|m| f(m).iter().copied()).filter(|x| x.is_finite()).collect()
                };
                let first = all(|m| &m.first);
                rows.push(Row {
                    strategy,
                    k,
                    n,
                    crashes: first.len(),
                    first_mean: stats::mean(&first),
                    first_p99: stats::percentile(&first, 99.0),
                    first_worst: first.iter().copied().fold(f64::NAN, f64::max),
                    load_mean: stats::mean(&of.iter().map(|m| m.load_mean).collect::<Vec<_>>()),
                    load_max: of.iter().map(|m| m.load_max).fold(0.0, f64::max),
                    near_first: stats::mean(&all(|m| &m.near_first)),
                    near_all: stats::mean(&all(|m| &m.near_all)),
                    far_all: stats::mean(&all(|m| &m.far_all)),
                });
            }
        }
    }
    Results { runs: o.sel_runs, rows }
}
