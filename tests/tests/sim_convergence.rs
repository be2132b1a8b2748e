//! 1,000 members converge from a single seed, and the simulator is
//! deterministic.

#![allow(
    clippy::indexing_slicing,
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::cast_possible_truncation
)]

use std::time::Duration;

use swim_protocol::Config;
use swim_tests::sim::{LinkModel, Sim, SimConfig, seed_from_env};

#[test]
fn a_thousand_members_converge_from_one_seed() {
    let members = 1000;
    let config = Config::local().with(|c| c.limits.expected_members = members);
    let mut sim = Sim::new(SimConfig { seed: seed_from_env(11), members, config, ..SimConfig::default() });
    sim.join_all(0, Duration::from_millis(2));
    let converged = sim.run_until(Duration::from_secs(120), Sim::converged);
    assert!(converged, "not converged after {:?}", sim.now());
    let m = sim.metrics();
    assert_eq!((m.false_suspicions, m.false_faulty), (0, 0), "a lossless network raises no suspicion");
    eprintln!("1000 members converged at {:?} ({} datagrams)", sim.now(), m.total(|m| m.msgs_sent));
}

/// Everything a run produces that a replay must reproduce.
fn fingerprint(seed: u64) -> Vec<u64> {
    let link = LinkModel { loss: 0.1, duplicate: 0.02, ..LinkModel::default() };
    let mut sim = Sim::new(SimConfig { seed, members: 40, link, ..SimConfig::default() });
    sim.join_all(0, Duration::from_millis(5));
    sim.run_for(Duration::from_secs(10));
    sim.crash(7);
    sim.broadcast(3, b"replay me");
    sim.run_for(Duration::from_secs(10));
    let m = sim.metrics();
    let mut out: Vec<u64> =
        m.members.iter().flat_map(|x| [x.msgs_sent, x.bytes_received, x.false_suspicions]).collect();
    let d = m.detections[&7];
    out.extend([d.first_suspected.map_or(0, |t| t.as_micros()), d.faulty_seen_by as u64, m.refutations]);
    out
}

#[test]
fn the_same_seed_replays_the_same_run() {
    let seed = seed_from_env(5);
    assert_eq!(fingerprint(seed), fingerprint(seed));
    assert_ne!(fingerprint(seed), fingerprint(seed + 1), "another seed, another run");
}
