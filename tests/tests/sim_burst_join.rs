//! A burst of joins through one seed (a whole cluster started at once)
//! converges within a few periods: every member sees every other alive.
//!
//! Without the joiner's follow-up sync, members that joined early missed
//! the news of those that joined while nobody knew them yet, and waited for
//! a probe from each (up to N periods: 20–40 s at N = 128, T = 200 ms).

#![allow(clippy::indexing_slicing, clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::time::Duration;

use swim_protocol::Time;
use swim_tests::bench::compare_config;
use swim_tests::sim::{Sim, SimConfig, seed_from_env};

const PERIOD: Duration = Duration::from_millis(200);

/// Joins one every 0.4 ms through member 0; the time until converged
/// (checked every 100 ms of virtual time), counted from the first join.
fn burst(members: usize, seed: u64) -> Duration {
    let mut sim = Sim::new(SimConfig { seed, members, config: compare_config(PERIOD), ..SimConfig::default() });
    sim.join_all(0, Duration::from_micros(400));
    let converged = sim.run_until(Duration::from_secs(60), Sim::converged);
    assert!(converged, "seed {seed}: {members} members not converged after {:?}", sim.now());
    let m = sim.metrics();
    assert_eq!((m.false_suspicions, m.false_faulty), (0, 0), "seed {seed}: a lossless network raises no suspicion");
    sim.now().saturating_since(Time::ZERO)
}

#[test]
fn a_burst_of_joins_converges_within_ten_periods() {
    let base = seed_from_env(1);
    for (members, seeds) in [(32, 10), (128, 10)] {
        let mut times: Vec<Duration> = (0..seeds).map(|s| burst(members, base + s)).collect();
        times.sort_unstable();
        eprintln!("burst join of {members}: {times:?}");
        let worst = times[times.len() - 1];
        assert!(worst <= PERIOD * 10, "{members} members: slowest convergence {worst:?} (all: {times:?})");
    }
}
