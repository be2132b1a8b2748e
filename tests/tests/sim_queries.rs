//! Query delivery in the simulator: the share of live members that get a
//! query and whose answer reaches the asker within the (default) timeout,
//! at N = 16, 128 and 1,000, without loss and with 5% loss on every link.
//! Targets: at least 99.9% without loss, 99% with 5%.
//!
//! Each run prints `sim_queries: n=… loss=… queries=… received=… answered=…`
//! (the closing note and `docs/queries.md` quote them).

#![allow(
    clippy::indexing_slicing,
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::cast_possible_truncation,
    clippy::cast_precision_loss
)]

use std::time::Duration;

use swim_protocol::{Config, QueryOptions};
use swim_tests::sim::{LinkModel, Sim, SimConfig, seed_from_env};

/// Runs `queries` queries (each from another member, one a second) in a
/// converged cluster of `n`; returns the shares of the other members that
/// received them and whose answers arrived in time.
fn delivery(n: usize, loss: f64, queries: usize, seed: u64) -> (f64, f64) {
    let link = LinkModel { loss, ..LinkModel::default() };
    let config = Config::local().with(|c| c.limits.expected_members = n);
    let mut sim = Sim::new(SimConfig { seed: seed_from_env(seed), members: n, link, config, ..SimConfig::default() });
    sim.join_all(0, Duration::from_millis(5));
    assert!(sim.run_until(Duration::from_secs(120), Sim::converged), "n={n}: the cluster converges");
    sim.queries().answer = true;
    let askers: Vec<usize> = (0..queries).map(|k| (k * 7 + 1) % n).collect();
    for &asker in &askers {
        sim.query(asker, b"who", b"", &QueryOptions::default()).expect("the query is asked");
        sim.run_for(Duration::from_secs(1));
    }
    let done = sim.run_until(Duration::from_secs(120), |s| s.queries_done() == queries);
    assert!(done, "n={n}: every query timed out and reported");
    let log = sim.queries().clone();
    let others = (queries * (n - 1)) as f64;
    let received = log.received.len() as f64 / others;
    let answered = log.done.iter().map(|d| f64::from(d.3)).sum::<f64>() / others;
    for d in &log.done {
        assert_eq!(d.2 as usize, n - 1, "n={n}: each query was meant for every other member");
    }
    println!(
        "sim_queries: n={n} loss={loss} queries={queries} received={received:.5} answered={answered:.5} seed={}",
        sim.seed()
    );
    (received, answered)
}

fn check(n: usize, loss: f64, queries: usize, seed: u64) {
    let (received, answered) = delivery(n, loss, queries, seed);
    let target = if loss == 0.0 { 0.999 } else { 0.99 };
    assert!(received >= target, "n={n} loss={loss}: {received} of the members received the queries");
    assert!(answered >= target, "n={n} loss={loss}: {answered} of the answers arrived in time");
}

#[test]
fn queries_reach_16_members_and_their_answers_return() {
    check(16, 0.0, 20, 71);
    check(16, 0.05, 20, 72);
}

#[test]
fn queries_reach_128_members_and_their_answers_return() {
    check(128, 0.0, 10, 73);
    check(128, 0.05, 10, 74);
}

#[test]
fn queries_reach_1000_members_and_their_answers_return() {
    check(1000, 0.0, 3, 75);
    check(1000, 0.05, 3, 76);
}
