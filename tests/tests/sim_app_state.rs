//! The application's own state (`AppState`) in the simulator: 100 members
//! each hold a grow-only set that syncs carry whole and merge by union.
//! Each member adds 20 entries of its own while the cluster is split in
//! two, over links that lose 5% of datagrams; once the partition heals,
//! every member's set holds every member's entries.

#![allow(
    clippy::indexing_slicing,
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::cast_possible_truncation
)]

use std::collections::BTreeSet;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use swim_protocol::{AppState, Config};
use swim_tests::sim::{LinkModel, Sim, SimConfig, seed_from_env};

/// (member, entry) pairs, four bytes each on the wire.
#[derive(Clone, Default)]
struct GrowOnly(Arc<Mutex<BTreeSet<(u16, u16)>>>);

impl AppState for GrowOnly {
    fn local_state(&mut self, _join: bool, out: &mut Vec<u8>) {
        for (m, k) in self.0.lock().unwrap().iter() {
            out.extend_from_slice(&m.to_be_bytes());
            out.extend_from_slice(&k.to_be_bytes());
        }
    }
    fn merge_remote_state(&mut self, _from: &[u8], state: &[u8], _join: bool) {
        let mut set = self.0.lock().unwrap();
        for entry in state.chunks_exact(4) {
            set.insert((u16::from_be_bytes([entry[0], entry[1]]), u16::from_be_bytes([entry[2], entry[3]])));
        }
    }
}

#[test]
fn every_member_ends_with_every_members_entries_after_loss_and_a_healed_partition() {
    let (members, per_member) = (100, 20);
    let link = LinkModel { loss: 0.05, ..LinkModel::default() };
    let config = Config::local().with(|c| c.limits.expected_members = members);
    let mut sim = Sim::new(SimConfig { seed: seed_from_env(82), members, link, config, ..SimConfig::default() });
    let sets: Vec<GrowOnly> = (0..members).map(|_| GrowOnly::default()).collect();
    for (i, set) in sets.iter().enumerate() {
        assert!(sim.set_app_state(i, set.clone()));
    }
    sim.join_all(0, Duration::from_millis(5));
    assert!(sim.run_until(Duration::from_secs(120), Sim::converged), "the cluster converges");

    sim.network.partition(members, |i| (i % 2) as u32);
    for (i, set) in sets.iter().enumerate() {
        set.0.lock().unwrap().extend((0..per_member).map(|k| (i as u16, k as u16)));
    }
    sim.run_for(Duration::from_secs(30));
    let full = members * per_member;
    let short = |sets: &[GrowOnly]| sets.iter().filter(|s| s.0.lock().unwrap().len() < full).count();
    let split_short = short(&sets);
    assert_eq!(split_short, members, "the partition kept each side from the other's entries");
    let one_side = sets.iter().map(|s| s.0.lock().unwrap().len()).max().unwrap();

    sim.network.heal();
    let start = sim.now();
    let mut caught_up = false;
    for _ in 0..300 {
        sim.run_for(Duration::from_secs(1));
        if short(&sets) == 0 {
            caught_up = true;
            break;
        }
    }
    let took = sim.now().saturating_since(start);
    let merged: u64 = (0..members).map(|i| sim.node(i).unwrap().stats().app_states_merged).sum();
    println!(
        "sim_app_state: members={members} loss=0.05 entries={full} bytes={} most_while_split={one_side} caught_up={caught_up} after_heal_s={:.1} merges={merged} seed={}",
        full * 4,
        took.as_secs_f64(),
        sim.seed()
    );
    assert!(caught_up, "{} members still short {took:?} after the partition healed", short(&sets));
}
