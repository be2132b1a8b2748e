//! The protocol's promises that the first users saw broken, each in the
//! simulator with a fixed seed: departures end as `Left` everywhere,
//! restarted members come back (on the same address or a new one) and their
//! broadcasts are delivered, broadcasts reach everyone in small clusters,
//! member updates and broadcasts do not starve each other, and nacks arrive
//! in time with the WAN preset.

#![allow(
    clippy::indexing_slicing,
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::cast_possible_truncation
)]

use std::collections::HashMap;
use std::time::Duration;

use swim_protocol::{Config, State};
use swim_tests::sim::{LinkModel, Sim, SimConfig, seed_from_env};

fn converged(members: usize, seed: u64, config: Config, link: LinkModel) -> Sim {
    let check_invariants = members <= 60;
    let mut sim = Sim::new(SimConfig { seed, members, config, link, check_invariants, ..SimConfig::default() });
    sim.metrics_mut().log_deliveries = true;
    sim.join_all(0, Duration::from_millis(5));
    assert!(sim.run_until(Duration::from_secs(60), Sim::converged), "no convergence");
    sim
}

/// How many times each member received `payload` (deliveries logged).
fn receipts(sim: &Sim, payload: &[u8]) -> HashMap<usize, usize> {
    let mut got = HashMap::new();
    for (r, p, _) in &sim.metrics().deliveries {
        if p == payload {
            *got.entry(*r).or_insert(0) += 1;
        }
    }
    got
}

#[test]
fn a_member_that_declared_a_leaver_faulty_comes_to_hold_it_left() {
    // The audit's scenario: one survivor never hears the departure and
    // declares the silent member faulty, while the others hold it left.
    // Left beats faulty at the same version, and the others push the
    // departure back at the member that disagrees: nobody ends with Faulty.
    let mut sim = converged(5, seed_from_env(101), Config::local(), LinkModel::default());
    let (leaver, cut_off) = (4, 3);
    let name = sim.members()[leaver].name.clone();
    let view = |sim: &Sim, i: usize| sim.node(i).and_then(|n| n.member(&name)).map(|m| m.state);
    sim.network.partition(5, |i| u32::from(i == cut_off));
    sim.leave(leaver);
    let faulty = sim.run_until(Duration::from_secs(20), |s| view(s, cut_off) == Some(State::Faulty));
    assert!(faulty, "the cut-off member declared the leaver faulty: {:?}", view(&sim, cut_off));
    assert_eq!(sim.seen_as(leaver, State::Left), 3, "the others hold it left");
    sim.network.heal();
    let others = [0, 1, 2, 3];
    let all_left = sim.run_until(Duration::from_secs(20), |s| s.seen_as(leaver, State::Left) == others.len());
    let views: Vec<_> = others.iter().map(|&i| view(&sim, i)).collect();
    assert!(all_left, "views of the leaver: {views:?}");
    sim.run_for(Duration::from_secs(20));
    assert_eq!(sim.seen_as(leaver, State::Left), others.len(), "and it stays so");
    let m = &sim.members()[leaver];
    assert!(!m.is_up() && m.leave_announced, "the leaver stopped once the others acked");
}

#[test]
fn a_restarted_members_broadcasts_are_delivered_on_either_address() {
    let mut sim = converged(5, seed_from_env(102), Config::local(), LinkModel::default());
    let origin = 3;
    for k in 0..5 {
        sim.broadcast(origin, format!("old {k}").as_bytes()).unwrap();
        sim.run_for(Duration::from_millis(200));
    }
    sim.run_for(Duration::from_secs(2));
    for (round, elsewhere) in [(0, false), (1, true)] {
        sim.crash(origin);
        sim.run_for(Duration::from_millis(300));
        if elsewhere {
            // Before the old process is even suspected: the name moves.
            sim.restart_elsewhere(origin, 0);
        } else {
            sim.restart(origin, 0);
        }
        let rejoined = sim.run_until(Duration::from_secs(10), Sim::converged);
        assert!(rejoined, "round {round}: the restarted member is back everywhere");
        let payload = format!("new {round}");
        let seq = sim.broadcast(origin, payload.as_bytes()).unwrap();
        assert_eq!(seq, 1, "a new process numbers its broadcasts afresh");
        sim.run_for(Duration::from_secs(5));
        let got = receipts(&sim, payload.as_bytes());
        for r in [0, 1, 2, 4] {
            assert_eq!(got.get(&r), Some(&1), "round {round}: member {r} got it exactly once: {got:?}");
        }
    }
    assert_eq!(sim.metrics().total(|m| m.duplicate_broadcasts), 0);
}

#[test]
fn broadcasts_reach_every_member_of_small_clusters_under_loss() {
    // 3 ⌈log10(N + 1)⌉ sends alone missed a member in a quarter of the
    // broadcasts at N = 8; the floor of transmissions and repair by sync
    // close the gap.
    let mut lines = Vec::new();
    for members in [3, 5, 8, 16] {
        for loss in [0.0, 0.05, 0.1] {
            let link = LinkModel { loss, ..LinkModel::default() };
            let seed = seed_from_env(1000 + members as u64) ^ (loss * 100.0) as u64;
            let mut sim = converged(members, seed, Config::local(), link);
            let count = 40;
            for k in 0..count {
                let origin = k % members;
                sim.broadcast(origin, format!("{members}-{loss}-{k}").as_bytes()).unwrap();
                sim.run_for(Duration::from_millis(150));
            }
            // Long enough for a sync interval or two to repair the rest.
            sim.run_for(Duration::from_secs(12));
            let mut missing = 0;
            for k in 0..count {
                let got = receipts(&sim, format!("{members}-{loss}-{k}").as_bytes());
                assert!(got.values().all(|&n| n == 1), "duplicates: {got:?}");
                missing += members - 1 - got.len();
            }
            let repaired: u64 = (0..members).map(|i| sim.node(i).unwrap().stats().broadcasts_repaired).sum();
            lines.push(format!("N={members} loss={loss}: {missing} missing, {repaired} repaired by sync"));
            assert_eq!(missing, 0, "N = {members}, loss {loss}");
        }
    }
    eprintln!("{}", lines.join("\n"));
}

#[test]
fn a_broadcast_storm_does_not_delay_the_detection_of_a_crash() {
    // Member updates fill packets first; broadcasts take the room left (and
    // lead in one packet of four), so a storm cannot hold a verdict back.
    let config = Config::local().with(|c| c.dissemination.max_broadcast_payload = 1000);
    let period = config.probe.period;
    let (members, victim) = (24, 7);
    let detect = |storm: bool| {
        let mut sim = converged(members, seed_from_env(103), config.clone(), LinkModel::default());
        sim.crash(victim);
        let start = sim.now();
        let payload = vec![b'x'; 1000];
        let mut sent = 0;
        while sim.seen_as(victim, State::Faulty) < members - 1 && sim.now() < start + Duration::from_secs(30) {
            if storm {
                // Every member broadcasts 1,000 bytes every period.
                for origin in (0..members).filter(|&i| i != victim) {
                    sent += usize::from(sim.broadcast(origin, &payload).is_some());
                }
            }
            sim.run_for(period / 4);
        }
        (sim.now().saturating_since(start), sent)
    };
    let (quiet, _) = detect(false);
    let (stormy, sent) = detect(true);
    eprintln!("crash declared by all after {quiet:?} (quiet) and {stormy:?} (during {sent} broadcasts of 1 KB)");
    assert!(sent >= 400, "a storm it was");
    assert!(stormy <= quiet + period, "{stormy:?} vs {quiet:?}");
}

#[test]
fn broadcasts_still_arrive_during_membership_churn() {
    let mut sim = converged(30, seed_from_env(104), Config::local(), LinkModel::default());
    let mut sent = Vec::new();
    for round in 0..20u64 {
        // Churn: a member crashes and another comes back every period.
        let victim = 10 + (round as usize % 10);
        sim.crash(victim);
        if round > 0 {
            sim.restart(10 + ((round as usize - 1) % 10), 0);
        }
        let origin = round as usize % 10;
        let payload = format!("during churn {round}");
        sim.broadcast(origin, payload.as_bytes()).unwrap();
        sent.push((origin, payload));
        sim.run_for(Duration::from_millis(200));
    }
    sim.run_for(Duration::from_secs(3));
    // Members 0..10 lived through it all: each got every broadcast once.
    for (origin, payload) in &sent {
        let got = receipts(&sim, payload.as_bytes());
        for r in (0..10).filter(|r| r != origin) {
            assert_eq!(got.get(&r), Some(&1), "{payload}: member {r}");
        }
    }
}

#[test]
fn with_the_wan_preset_nacks_arrive_and_spare_a_healthy_probers_health() {
    // With helpers nacking at 80% of their own timeout (3 s with the old
    // WAN preset), the prober, which waits only until its period ends,
    // missed every nack and blamed itself for each.
    let mut sim = converged(12, seed_from_env(105), Config::wan(), LinkModel::default());
    sim.crash(5);
    let start = sim.now();
    let all = sim.run_until(Duration::from_secs(300), |s| s.seen_as(5, State::Faulty) == 11);
    assert!(all, "the crash was detected");
    let nacks: u64 = (0..12).filter(|&i| i != 5).map(|i| sim.node(i).unwrap().stats().nacks_received).sum();
    let health: Vec<u8> = (0..12).filter(|&i| i != 5).map(|i| sim.node(i).unwrap().health()).collect();
    assert!(nacks > 0, "helpers' nacks reached the probers");
    assert!(health.iter().all(|&h| h == 0), "no healthy prober blamed itself: {health:?}");
    eprintln!("WAN: declared by all after {:?}, {nacks} nacks received", sim.now().saturating_since(start));
}
