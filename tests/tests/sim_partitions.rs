//! A partition splits the cluster; once it is removed, the halves merge.

#![allow(
    clippy::indexing_slicing,
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::cast_possible_truncation
)]

use std::time::Duration;

use swim_protocol::{Config, State};
use swim_tests::sim::{Sim, SimConfig, seed_from_env};

#[test]
fn a_two_way_partition_heals_into_one_cluster() {
    let members = 40;
    let mut sim = Sim::new(SimConfig {
        seed: seed_from_env(51),
        members,
        config: Config::local(),
        check_invariants: true,
        ..SimConfig::default()
    });
    sim.join_all(0, Duration::from_millis(5));
    assert!(sim.run_until(Duration::from_secs(60), Sim::converged));

    sim.network.partition(members, |i| (i % 2) as u32);
    // Each side declares the other faulty.
    let split =
        sim.run_until(Duration::from_secs(30), |s| (0..members).all(|j| s.seen_as(j, State::Faulty) == members / 2));
    assert!(split, "the sides did not give each other up");
    for i in sim.live().collect::<Vec<_>>() {
        assert_eq!(sim.node(i).unwrap().live_members(), members / 2);
    }

    sim.network.heal();
    let healed = sim.run_until(Duration::from_secs(60), Sim::converged);
    assert!(healed, "still split after {:?}", sim.now());
    eprintln!("healed by {:?}", sim.now());
}
