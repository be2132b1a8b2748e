//! A converged 1,000-member cluster runs 200 periods with 5% loss and a crash
//! (suspicions, refutations, verdicts and gossip all happen) without a single
//! allocation inside the nodes; then new, longer metadata shows that the
//! counter does see the allocations the nodes make.

#![allow(
    clippy::indexing_slicing,
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::cast_possible_truncation
)]

use std::time::Duration;

use swim_protocol::{Config, ProbeSelection, State};
use swim_tests::alloc_counter::{self, CountingAllocator};
use swim_tests::sim::{LinkModel, Sim, SimConfig, seed_from_env};

#[global_allocator]
static ALLOC: CountingAllocator = CountingAllocator;

#[test]
fn converged_cluster_allocates_nothing_in_steady_state() {
    let members = 1000;
    let config = Config::local().with(|c| c.limits.expected_members = members);
    let period = config.probe.period;
    let sim_config =
        SimConfig { seed: seed_from_env(71), members, config, count_allocations: true, ..SimConfig::default() };
    let mut sim = Sim::new(sim_config);
    sim.join_all(0, Duration::from_millis(2));
    assert!(sim.run_until(Duration::from_secs(120), Sim::converged), "no convergence");
    let start_up = alloc_counter::accumulated(true);

    // Warm up under the conditions that will be measured: loss and a crash.
    sim.network.default = LinkModel { loss: 0.05, ..LinkModel::default() };
    sim.crash(300);
    sim.run_for(period * 100);
    let warm_up = alloc_counter::accumulated(true);

    sim.metrics_mut().reset();
    alloc_counter::trace(std::env::var_os("SWIM_ALLOC_TRACE").is_some());
    sim.crash(700);
    sim.run_for(period * 200);
    let steady = alloc_counter::accumulated(true);
    alloc_counter::trace(false);

    let m = sim.metrics().clone();
    assert!(m.false_suspicions > 0 && m.refutations > 0, "loss caused suspicions and refutations");
    // (By now it may have been reaped: the verdicts are in the metrics.)
    assert_eq!(m.detections[&700].faulty_seen_by, sim.live().count(), "the crash was detected by all");
    assert_eq!(sim.seen_as(700, State::Alive), 0);
    assert!(m.total(|x| x.msgs_sent) > 200 * 1000, "gossip flowed");
    assert_eq!(steady.count, 0, "{} allocations ({} bytes) in 200 periods", steady.count, steady.bytes);

    // The counter does see the nodes' allocations: metadata longer than any
    // before makes every node that learns it grow that member's buffer.
    sim.set_metadata(5, &[b'm'; 300]);
    sim.run_for(period * 20);
    let grown = alloc_counter::accumulated(true);
    assert!(grown.count > 0 && grown.bytes >= 300, "the counter sees the nodes' allocations: {grown:?}");
    eprintln!(
        "200 periods × {members} members: 0 allocations ({} false suspicions, {} refutations; start-up made {}, warm-up {}; new metadata then made {})",
        m.false_suspicions, m.refutations, start_up.count, warm_up.count, grown.count
    );
}

/// Bucket probe selection too: a crash takes a member out of its bucket,
/// and a quarter of the cluster crashing makes every node form its buckets
/// again; none of it allocates once the buckets (and the suspicions, which
/// grow their room for so many at once the first time) have been through
/// it once.
#[test]
fn bucket_selection_allocates_nothing_in_steady_state_even_when_reforming() {
    let members = 240;
    let config = Config::local().with(|c| {
        c.limits.expected_members = members;
        c.probe.selection = ProbeSelection::Kademlia;
        c.probe.direct = 3;
    });
    let period = config.probe.period;
    let sim_config =
        SimConfig { seed: seed_from_env(72), members, config, count_allocations: true, ..SimConfig::default() };
    let mut sim = Sim::new(sim_config);
    sim.join_all(0, Duration::from_millis(2));
    assert!(sim.run_until(Duration::from_secs(120), Sim::converged), "no convergence");
    // A quarter of the members crash at once: every survivor's buckets
    // lose enough to be formed again.
    let quarter = |first: usize, live: usize| (first..members).step_by(4).take(live / 4 + 1);
    for victim in quarter(2, members) {
        sim.crash(victim);
    }
    sim.run_for(period * 100);
    let warm_up = alloc_counter::accumulated(true);

    sim.metrics_mut().reset();
    alloc_counter::trace(std::env::var_os("SWIM_ALLOC_TRACE").is_some());
    // And again, a quarter of the survivors.
    let live = sim.live().count();
    for victim in quarter(1, live) {
        sim.crash(victim);
    }
    sim.run_for(period * 150);
    let steady = alloc_counter::accumulated(true);
    alloc_counter::trace(false);
    let m = sim.metrics().clone();
    assert_eq!(m.detections[&41].faulty_seen_by, sim.live().count(), "a crash was detected by all");
    assert_eq!(steady.count, 0, "{} allocations ({} bytes) in 150 periods", steady.count, steady.bytes);
    eprintln!(
        "buckets: 150 periods of {live} members, {} crashed at once: 0 allocations (warm-up {})",
        live / 4 + 1,
        warm_up.count
    );
}
