//! The Lifeguard experiment (Dadgar, Phillips and Currey, 2018): in a
//! cluster of 128 members, C members are "slowed" — their network is
//! blocked for D ms, again and again, while their timers keep running — and
//! false faulty verdicts are counted with Lifeguard on and off, alongside
//! how fast real crashes of healthy members are detected.

use std::time::Duration;

use swim_protocol::{Config, State};

use super::{Options, pool, stats};
use crate::sim::{LinkModel, Sim, SimConfig, SimRng, Slow, SlowMode};

/// One configuration, Lifeguard on or off.
#[derive(Debug, Clone, PartialEq)]
pub struct Row {
    /// Slowed members.
    pub slowed: usize,
    /// Length of each block, in ms.
    pub delay_ms: u64,
    /// Lifeguard on.
    pub lifeguard: bool,
    /// Faulty verdicts about members that were up (all runs).
    pub false_all: u64,
    /// Of those, verdicts about healthy (not slowed) members.
    pub false_healthy: u64,
    /// False failure detections (a member that was up going from held
    /// faulty by nobody to held faulty by someone), all runs.
    pub detections_all: u64,
    /// Of those, detections of healthy members.
    pub detections_healthy: u64,
    /// Seconds from each real crash to its first faulty verdict.
    pub first_detection: Vec<f64>,
    /// Seconds from each real crash until every healthy member had it faulty.
    pub full_detection: Vec<f64>,
    /// Crashes not detected by every healthy member before the run moved on.
    pub undetected: usize,
}

/// Every configuration, Lifeguard off and on.
#[derive(Debug, Clone, PartialEq)]
pub struct Results {
    /// Members.
    pub members: usize,
    /// Virtual seconds per run.
    pub seconds: u64,
    /// Runs per configuration.
    pub runs: usize,
    /// One row per (C, D, Lifeguard).
    pub rows: Vec<Row>,
}

/// A slowed member's cycle: blocked for `delay`, then free for as long (at
/// least a second).
pub fn cycle(delay: Duration) -> Duration {
    delay + delay.max(Duration::from_secs(1))
}

fn run_one(o: &Options, slowed: usize, delay_ms: u64, lifeguard: bool, seed: u64) -> Row {
    let config = Config::lan().with(|c| c.probe.lifeguard = lifeguard);
    let n = o.lg_members;
    let mut sim = Sim::new(SimConfig { seed, members: n, config, link: LinkModel::default(), ..SimConfig::default() });
    sim.join_all(0, Duration::from_millis(5));
    assert!(sim.run_until(Duration::from_secs(600), Sim::converged), "{n} members did not converge (seed {seed})");
    let mut rng = SimRng::new(SimRng::derive(seed, 0x11fe));
    // Slowed members and crash victims: distinct, never member 0 (the seed).
    let mut order: Vec<usize> = (1..n).collect();
    for i in (1..order.len()).rev() {
        order.swap(i, rng.below(i + 1));
    }
    let slow: Vec<usize> = order.iter().copied().take(slowed).collect();
    let victims: Vec<usize> = order.iter().copied().skip(slowed).take(o.lg_crashes).collect();
    let delay = Duration::from_millis(delay_ms);
    let every = cycle(delay);
    for &i in &slow {
        let from = sim.now() + every.mul_f64(rng.unit());
        sim.slow(i, Some(Slow { delay, every, from, mode: SlowMode::BlockIo }));
    }
    sim.metrics_mut().reset();
    let total = Duration::from_secs(o.lg_seconds);
    let end = sim.now() + total;
    let segment = total / u32::try_from(victims.len() + 1).unwrap_or(1);
    let (mut first, mut full, mut undetected) = (Vec::new(), Vec::new(), 0);
    let healthy = |s: &Sim| -> Vec<usize> {
        s.live().filter(|i| s.members().get(*i).is_some_and(|m| m.slow.is_none())).collect()
    };
    for &victim in &victims {
        sim.run_for(segment.mul_f64(0.25 + 0.5 * rng.unit()));
        let crashed_at = sim.now();
        sim.crash(victim);
        let name = sim.members()[victim].name.clone();
        let everyone = sim.run_until(segment, |s| {
            healthy(s)
                .iter()
                .all(|&i| s.node(i).and_then(|n| n.member(&name)).is_some_and(|m| m.state == State::Faulty))
        });
        if everyone {
            full.push(sim.now().saturating_since(crashed_at).as_secs_f64());
        } else {
            undetected += 1;
        }
        if let Some(at) = sim.metrics().detections.get(&victim).and_then(|d| d.first_faulty) {
            first.push(at.saturating_since(crashed_at).as_secs_f64());
        }
    }
    if sim.now() < end {
        let rest = end.saturating_since(sim.now());
        sim.run_for(rest);
    }
    let m = sim.metrics();
    Row {
        slowed,
        delay_ms,
        lifeguard,
        false_all: m.false_faulty,
        false_healthy: m.false_faulty_of_healthy,
        detections_all: m.false_episodes,
        detections_healthy: m.false_episodes_of_healthy,
        first_detection: first,
        full_detection: full,
        undetected,
    }
}

/// Runs every (C, D) with Lifeguard off and on.
pub fn run(o: &Options) -> Results {
    let mut jobs = Vec::new();
    for &c in &o.lg_slowed {
        for &d in &o.lg_delays_ms {
            for lifeguard in [false, true] {
                for s in 0..o.lg_seeds {
                    jobs.push((c, d, lifeguard, s));
                }
            }
        }
    }
    // The same seed for on and off: the same members slowed and crashed.
    let runs = pool::map(o.threads, &jobs, |&(c, d, lifeguard, s)| {
        let seed = SimRng::derive(o.seed ^ 0x11fe_9a4d, ((c as u64) << 40) | (d << 8) | s as u64);
        run_one(o, c, d, lifeguard, seed)
    });
    let mut rows: Vec<Row> = Vec::new();
    for run in runs {
        match rows.iter_mut().find(|r| (r.slowed, r.delay_ms, r.lifeguard) == (run.slowed, run.delay_ms, run.lifeguard))
        {
            Some(row) => {
                row.false_all += run.false_all;
                row.false_healthy += run.false_healthy;
                row.detections_all += run.detections_all;
                row.detections_healthy += run.detections_healthy;
                row.first_detection.extend(run.first_detection);
                row.full_detection.extend(run.full_detection);
                row.undetected += run.undetected;
            }
            None => rows.push(run),
        }
    }
    Results { members: o.lg_members, seconds: o.lg_seconds, runs: o.lg_seeds, rows }
}

/// Totals for Lifeguard off or on.
#[derive(Debug, Clone, PartialEq)]
pub struct Totals {
    /// False verdicts about any member that was up.
    pub false_all: u64,
    /// False verdicts about healthy members.
    pub false_healthy: u64,
    /// False failure detections of any member that was up.
    pub detections_all: u64,
    /// False failure detections of healthy members.
    pub detections_healthy: u64,
    /// Median seconds to the first faulty verdict of a real crash.
    pub first_median: f64,
    /// Median seconds until every healthy member had it.
    pub full_median: f64,
    /// Crashes measured.
    pub crashes: usize,
    /// Crashes not detected by every healthy member in time.
    pub undetected: usize,
}

impl Results {
    /// Totals over every configuration.
    pub fn totals(&self, lifeguard: bool) -> Totals {
        let rows: Vec<&Row> = self.rows.iter().filter(|r| r.lifeguard == lifeguard).collect();
        let first: Vec<f64> = rows.iter().flat_map(|r| r.first_detection.iter().copied()).collect();
        let full: Vec<f64> = rows.iter().flat_map(|r| r.full_detection.iter().copied()).collect();
        Totals {
            false_all: rows.iter().map(|r| r.false_all).sum(),
            false_healthy: rows.iter().map(|r| r.false_healthy).sum(),
            detections_all: rows.iter().map(|r| r.detections_all).sum(),
            detections_healthy: rows.iter().map(|r| r.detections_healthy).sum(),
            first_median: stats::median(&first),
            full_median: stats::median(&full),
            crashes: full.len() + rows.iter().map(|r| r.undetected).sum::<usize>(),
            undetected: rows.iter().map(|r| r.undetected).sum(),
        }
    }

    /// `off / on`; at least `off` times when Lifeguard made none.
    pub fn ratio(off: u64, on: u64) -> String {
        if on == 0 { format!("≥{off}×: none with Lifeguard") } else { format!("{:.0}×", off as f64 / on as f64) }
    }

    /// One line.
    pub fn summary(&self) -> Vec<String> {
        let (off, on) = (self.totals(false), self.totals(true));
        let change = |off: u64, on: u64| format!("{off} → {on} ({})", Results::ratio(off, on));
        vec![format!(
            "paper lifeguard: {} members, {} configurations × {} s × {} runs, Lifeguard off → on: \
             false detections all {}, of healthy members {}; \
             false verdicts all {}, about healthy members {}; \
             real crashes: first verdict median {:.1} s → {:.1} s, all healthy members {:.1} s → {:.1} s",
            self.members,
            self.rows.len() / 2,
            self.seconds,
            self.runs,
            change(off.detections_all, on.detections_all),
            change(off.detections_healthy, on.detections_healthy),
            change(off.false_all, on.false_all),
            change(off.false_healthy, on.false_healthy),
            off.first_median,
            on.first_median,
            off.full_median,
            on.full_median,
        )]
    }
}
