//! Application state in the simulator: 100 members each write 20 keys
//! (then overwrite some and delete others) while the cluster is split in
//! two, over links that lose 5% of datagrams; once the partition heals,
//! every live member ends with every other live member's latest values.

#![allow(
    clippy::indexing_slicing,
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::cast_possible_truncation
)]

use std::time::Duration;

use swim_protocol::{Config, Node};
use swim_tests::sim::{LinkModel, Sim, SimConfig, seed_from_env};

fn state(node: &Node, owner: &[u8]) -> Vec<(Vec<u8>, Vec<u8>)> {
    let mut out: Vec<(Vec<u8>, Vec<u8>)> = node.state_of(owner).map(|(k, v)| (k.to_vec(), v.to_vec())).collect();
    out.sort();
    out
}

/// Members whose view of some live owner's state differs from the owner's.
fn behind(sim: &Sim) -> usize {
    let live: Vec<usize> = sim.live().collect();
    let names: Vec<Vec<u8>> = sim.members().iter().map(|m| m.name.clone()).collect();
    let own: Vec<Vec<(Vec<u8>, Vec<u8>)>> = live.iter().map(|&j| state(sim.node(j).unwrap(), &names[j])).collect();
    live.iter()
        .filter(|&&i| {
            let node = sim.node(i).unwrap();
            live.iter().zip(&own).any(|(&j, theirs)| j != i && state(node, &names[j]) != *theirs)
        })
        .count()
}

#[test]
fn every_member_ends_with_every_live_members_latest_state_after_loss_and_a_healed_partition() {
    let members = 100;
    let link = LinkModel { loss: 0.05, ..LinkModel::default() };
    let config = Config::local().with(|c| c.limits.expected_members = members);
    let mut sim = Sim::new(SimConfig { seed: seed_from_env(81), members, link, config, ..SimConfig::default() });
    sim.join_all(0, Duration::from_millis(5));
    assert!(sim.run_until(Duration::from_secs(120), Sim::converged), "the cluster converges");

    sim.network.partition(members, |i| (i % 2) as u32);
    for i in 0..members {
        for k in 0..20 {
            assert!(sim.set_state(i, format!("key-{k}").as_bytes(), format!("v1 of {i}/{k}").as_bytes()));
        }
    }
    sim.run_for(Duration::from_secs(10));
    // Some keys change again, and some go, while still split.
    for i in 0..members {
        for k in 0..5 {
            assert!(sim.set_state(i, format!("key-{k}").as_bytes(), format!("v2 of {i}/{k}").as_bytes()));
        }
        for k in 5..7 {
            assert!(sim.delete_state(i, format!("key-{k}").as_bytes()));
        }
    }
    sim.crash(members - 1); // its state stops mattering
    sim.run_for(Duration::from_secs(10));
    let split_behind = behind(&sim);
    assert!(split_behind > 0, "the partition kept each side from the other's state");

    sim.network.heal();
    let start = sim.now();
    // Checked once a second (the check compares every view: O(N² · keys)).
    let mut caught_up = false;
    for _ in 0..180 {
        sim.run_for(Duration::from_secs(1));
        if behind(&sim) == 0 {
            caught_up = true;
            break;
        }
    }
    let took = sim.now().saturating_since(start);
    let keys: usize = sim.live().map(|i| sim.node(i).unwrap().state_of(&sim.members()[i].name).count()).sum();
    println!(
        "sim_state: members={members} loss=0.05 keys_per_member=20-2 live_keys={keys} behind_while_split={split_behind} caught_up={caught_up} after_heal_s={:.1} seed={}",
        took.as_secs_f64(),
        sim.seed()
    );
    assert!(caught_up, "{} members still behind {took:?} after the partition healed", behind(&sim));
    assert_eq!(keys, (members - 1) * 18, "20 keys each, 2 deleted");

    // Once the tombstones' time is up everywhere, they are forgotten (the
    // store holds the live keys only), no deleted value came back, and
    // nobody learned a forgotten tombstone again.
    let ttl = sim.node(0).unwrap().config().limits.tombstone_ttl;
    sim.run_for(ttl + Duration::from_secs(30));
    assert_eq!(behind(&sim), 0, "nothing came back");
    let held: Vec<usize> = sim.live().map(|i| sim.node(i).unwrap().stats().state_entries).collect();
    assert!(held.iter().all(|&n| n == keys), "every store holds the {keys} live keys only: {held:?}");
}
