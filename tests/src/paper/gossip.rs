//! Gossip rounds on and off (`Config::lan()`, `dissemination.gossip_interval` T/2 or
//! zero), as in the comparison with memberlist that motivated them: how
//! fast a burst of joiners converges, how fast a crash is declared by every
//! survivor, and how many healthy members are declared faulty at 10% loss.

use std::time::Duration;

use swim_protocol::{Config, State};

use super::{Options, pool, stats};
use crate::sim::{LinkModel, Sim, SimConfig, SimRng};

/// The medians of one setting.
#[derive(Debug, Clone, PartialEq)]
pub struct Row {
    /// Gossip rounds on.
    pub gossip: bool,
    /// Seconds until every member of a burst of 32 joiners sees all 32.
    pub join_32: f64,
    /// Same with 128.
    pub join_128: f64,
    /// Periods from a crash until every survivor (of 32) holds it faulty.
    pub crash_all: f64,
    /// False faulty verdicts (episodes) in 87 periods at 10% loss, 32
    /// members, summed over the runs.
    pub false_episodes: u64,
    /// False suspicions in those runs, summed.
    pub false_suspicions: u64,
}

/// Both settings.
#[derive(Debug, Clone, PartialEq)]
pub struct Results {
    /// Runs per setting.
    pub runs: usize,
    /// Gossip rounds off, then on.
    pub rows: Vec<Row>,
}

fn config(gossip: bool) -> Config {
    Config::lan().with(|c| {
        if !gossip {
            c.dissemination.gossip_interval = Duration::ZERO;
        }
    })
}

fn join_seconds(members: usize, gossip: bool, seed: u64) -> f64 {
    let config = config(gossip).with(|c| c.limits.expected_members = members);
    let mut sim = Sim::new(SimConfig { seed, members, config, ..SimConfig::default() });
    sim.join_all(0, Duration::from_millis(1));
    let done = sim.run_until(Duration::from_secs(300), Sim::converged);
    if done { sim.now().as_micros() as f64 / 1e6 } else { f64::INFINITY }
}

fn converged(members: usize, gossip: bool, seed: u64, link: LinkModel) -> Sim {
    let mut sim = Sim::new(SimConfig { seed, members, config: config(gossip), link, ..SimConfig::default() });
    sim.join_all(0, Duration::from_millis(5));
    assert!(sim.run_until(Duration::from_secs(300), Sim::converged), "no convergence");
    sim
}

fn crash_periods(gossip: bool, seed: u64) -> f64 {
    let mut sim = converged(32, gossip, seed, LinkModel::default());
    let start = sim.now();
    sim.crash(17);
    let done = sim.run_until(Duration::from_secs(300), |s| s.seen_as(17, State::Faulty) == 31);
    let period = config(gossip).probe.period.as_secs_f64();
    if done { sim.now().saturating_since(start).as_secs_f64() / period } else { f64::INFINITY }
}

fn false_positives(gossip: bool, seed: u64) -> (u64, u64) {
    let mut sim = converged(32, gossip, seed, LinkModel::default());
    sim.network.default = LinkModel { loss: 0.10, ..LinkModel::default() };
    sim.metrics_mut().reset();
    sim.run_for(config(gossip).probe.period * 87);
    (sim.metrics().false_episodes, sim.metrics().false_suspicions)
}

/// Runs both settings `o.gossip_runs` times each.
pub fn run(o: &Options) -> Results {
    let runs = o.gossip_runs;
    let rows = [false, true]
        .iter()
        .map(|&gossip| {
            let seeds: Vec<u64> = (0..runs).map(|k| SimRng::derive(o.seed, 0x9055_1900 + k as u64)).collect();
            let j32 = pool::map(o.threads, &seeds, |&s| join_seconds(32, gossip, s));
            let j128 = pool::map(o.threads, &seeds, |&s| join_seconds(128, gossip, s));
            let crash = pool::map(o.threads, &seeds, |&s| crash_periods(gossip, s));
            let fp = pool::map(o.threads, &seeds, |&s| false_positives(gossip, s));
            Row {
                gossip,
                join_32: stats::median(&j32),
                join_128: stats::median(&j128),
                crash_all: stats::median(&crash),
                false_episodes: fp.iter().map(|f| f.0).sum(),
                false_suspicions: fp.iter().map(|f| f.1).sum(),
            }
        })
        .collect();
    Results { runs, rows }
}

impl Results {
    /// One line for the console.
    pub fn summary(&self) -> Vec<String> {
        let (off, on) = (&self.rows[0], &self.rows[1]);
        vec![format!(
            "paper gossip rounds (lan, {} runs, medians), off → on: burst join of 32 {:.2} s → {:.2} s, of 128 {:.2} s \
             → {:.2} s; crash declared by all {:.1} → {:.1} periods; false verdicts at 10% loss {} → {}",
            self.runs,
            off.join_32,
            on.join_32,
            off.join_128,
            on.join_128,
            off.crash_all,
            on.crash_all,
            off.false_episodes,
            on.false_episodes
        )]
    }
}
