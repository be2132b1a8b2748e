//! User broadcasts reach every live member exactly once.

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
fn a_user_broadcast_reaches_every_live_member_once() {
    let members = 100;
    let link = LinkModel { loss: 0.02, duplicate: 0.05, ..LinkModel::default() };
    let mut sim =
        Sim::new(SimConfig { seed: seed_from_env(61), members, link, config: Config::local(), ..SimConfig::default() });
    sim.join_all(0, Duration::from_millis(5));
    assert!(sim.run_until(Duration::from_secs(60), Sim::converged));
    sim.crash(99);
    let seqs: Vec<u32> = (0..5).map(|k| sim.broadcast(k * 7, format!("news {k}").as_bytes()).unwrap()).collect();
    let all =
        sim.run_until(Duration::from_secs(60), |s| s.metrics().broadcasts.values().all(|b| b.delivered >= b.expected));
    sim.run_for(Duration::from_secs(10)); // any duplicate would arrive by now
    let m = sim.metrics();
    assert!(all, "{:?}", m.broadcasts.values().map(|b| (b.delivered, b.expected)).collect::<Vec<_>>());
    for (k, seq) in seqs.iter().enumerate() {
        let b = &m.broadcasts[&(k * 7, *seq)];
        assert_eq!(b.delivered, members - 2, "all but the origin and the crashed member");
    }
    assert_eq!(m.total(|x| x.duplicate_broadcasts), 0, "delivered exactly once");
    assert_eq!(m.members[99].broadcasts_received, 0);
}
