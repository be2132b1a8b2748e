//! Crashes are detected and agreed on; healthy members survive loss; churn
//! settles.

#![allow(
    clippy::indexing_slicing,
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::cast_possible_truncation
)]

use std::time::Duration;

use swim_protocol::{Config, State};
use swim_tests::sim::{LinkModel, Sim, SimConfig, seed_from_env};

fn converged(members: usize, seed: u64, config: Config) -> Sim {
    let check_invariants = members <= 60;
    let mut sim = Sim::new(SimConfig { seed, members, config, check_invariants, ..SimConfig::default() });
    sim.join_all(0, Duration::from_millis(5));
    assert!(sim.run_until(Duration::from_secs(60), Sim::converged), "no convergence");
    sim
}

#[test]
fn a_crashed_member_is_detected_then_declared_faulty_by_all() {
    let mut sim = converged(100, seed_from_env(21), Config::local());
    let period = Config::local().probe.period;
    let crashed = 42;
    sim.crash(crashed);
    let crash_at = sim.now();
    let detected =
        sim.run_until(Duration::from_secs(30), |s| s.metrics().detections[&crashed].first_suspected.is_some());
    assert!(detected, "nobody noticed the crash");
    let all = sim.run_until(Duration::from_secs(60), |s| s.seen_as(crashed, State::Faulty) == s.live().count());
    assert!(all, "only {} of {} declared it faulty", sim.seen_as(crashed, State::Faulty), sim.live().count());
    let d = sim.metrics().detections[&crashed];
    let first = d.first_suspected.unwrap().saturating_since(crash_at);
    let verdict = d.first_faulty.unwrap().saturating_since(crash_at);
    assert!(first < period * 10, "first detection after {first:?}");
    assert!(verdict > first, "suspicion comes before the verdict");
    assert_eq!(sim.metrics().false_faulty, 0);
    eprintln!(
        "crash: first suspected after {first:?}, first faulty after {verdict:?}, all after {:?}",
        d.last_faulty.unwrap().saturating_since(crash_at)
    );
}

#[test]
fn no_healthy_member_is_declared_faulty_in_87_periods_at_ten_percent_loss() {
    // The production preset (T = 1 s of virtual time costs nothing extra),
    // 20 seeded runs. Regression: 2-3 runs in 9 ended with a false verdict,
    // from a member that missed every copy of a refutation and held the
    // suspicion until its own timer ran out. Answers that name an older
    // version now carry the newer one, and a suspicion that runs out
    // unconfirmed is checked first-hand (a check happens in about one run
    // in 30; with the answers alone, 2 runs of 60 still ended in a false
    // verdict that the check averts).
    let config = Config::lan();
    let base = seed_from_env(115);
    let (mut suspicions, mut refutations, mut checked) = (0, 0, 0);
    for seed in base..base + 20 {
        let mut sim = converged(55, seed, config.clone());
        sim.network.default = LinkModel { loss: 0.10, ..LinkModel::default() };
        sim.metrics_mut().reset();
        let before: u64 = sim.live().filter_map(|i| sim.node(i)).map(|n| n.stats().suspicions_checked).sum();
        sim.run_for(config.probe.period * 87);
        let m = sim.metrics();
        assert_eq!(
            m.false_faulty, 0,
            "seed {seed}: healthy members declared faulty ({} suspicions)",
            m.false_suspicions
        );
        assert!(m.false_suspicions > 0, "seed {seed}: 10% loss does cause suspicions, which are refuted");
        assert!(m.refutations > 0);
        suspicions += m.false_suspicions;
        refutations += m.refutations;
        checked += sim.live().filter_map(|i| sim.node(i)).map(|n| n.stats().suspicions_checked).sum::<u64>() - before;
    }
    eprintln!(
        "20 runs of 87 periods at 10% loss: {suspicions} false suspicions, {refutations} refutations, \
         {checked} suspicions checked first-hand, 0 false verdicts"
    );
}

#[test]
fn ten_percent_churn_settles_into_one_consistent_cluster() {
    let members = 60;
    let mut sim = converged(members, seed_from_env(41), Config::local());
    // Crash 10%, let the cluster notice, restart them (fresh state, same
    // names and addresses), twice.
    for round in 0..2 {
        let victims: Vec<usize> = (0..6).map(|k| 5 + k * 9 + round).collect();
        let old: Vec<u64> = victims.iter().map(|&v| sim.node(v).unwrap().local().generation).collect();
        for &v in &victims {
            sim.crash(v);
        }
        sim.run_for(Duration::from_secs(10));
        for &v in &victims {
            assert_eq!(sim.seen_as(v, State::Alive), 0, "member {v} still seen alive");
            sim.restart(v, 0);
        }
        let settled = sim.run_until(Duration::from_secs(60), Sim::converged);
        assert!(settled, "round {round}: not consistent after {:?}", sim.now());
        for (&v, &old) in victims.iter().zip(&old) {
            let generation = sim.node(v).unwrap().local().generation;
            assert!(generation > old, "member {v} came back as a newer process");
        }
    }
    assert_eq!(sim.metrics().false_faulty, 0);
}

#[test]
fn a_graceful_leave_is_seen_as_left_not_faulty() {
    let mut sim = converged(50, seed_from_env(81), Config::local());
    sim.leave(17);
    let seen = sim.run_until(Duration::from_secs(20), |s| s.seen_as(17, State::Left) == s.live().count());
    assert!(seen, "only {} of {} saw the departure", sim.seen_as(17, State::Left), sim.live().count());
    assert!(!sim.members()[17].is_up(), "the member stopped once its departure was announced");
    sim.run_for(Duration::from_secs(10));
    let m = sim.metrics();
    assert_eq!((m.faulty_of_left, m.false_faulty), (0, 0), "nobody declared it faulty");
    assert_eq!(m.left_seen, 49);
}

#[test]
fn lifeguard_keeps_a_slowed_member_from_accusing_healthy_ones() {
    // Member 3's network stalls for one second of every two while its timers
    // run (as in the Lifeguard paper's experiments): its probes fail and it
    // accuses healthy members. With Lifeguard, the nacks it misses raise its
    // health score, so it probes more patiently and accuses far less, and
    // its accusations no longer turn into verdicts about healthy members.
    // (Verdicts about member 3 itself are not counted: it really is
    // unreachable half of the time.) Gossip rounds are off, so that
    // Lifeguard alone makes the difference: they spread refutations so fast
    // that they save the healthy members without it too.
    let run = |lifeguard: bool| {
        let config = Config::local().with(|c| {
            c.probe.lifeguard = lifeguard;
            c.dissemination.gossip_interval = Duration::ZERO;
        });
        let mut sim = converged(30, seed_from_env(91), config);
        let slow = swim_tests::sim::Slow {
            delay: Duration::from_secs(1),
            every: Duration::from_secs(2),
            from: sim.now(),
            mode: swim_tests::sim::SlowMode::BlockIo,
        };
        sim.slow(3, Some(slow));
        sim.metrics_mut().reset();
        sim.run_for(Duration::from_secs(60));
        (sim.metrics().false_faulty_of_healthy, sim.metrics().members[3].false_suspicions)
    };
    let (with_faulty, with_accusations) = run(true);
    let (without_faulty, without_accusations) = run(false);
    eprintln!(
        "slowed member: accusations it made {with_accusations} (Lifeguard) vs {without_accusations}; \
         faulty verdicts about healthy members {with_faulty} vs {without_faulty}"
    );
    assert!(without_accusations > 0, "without Lifeguard the slowed member accuses healthy ones");
    assert!(2 * with_accusations < without_accusations, "{with_accusations} vs {without_accusations}");
    assert!(without_faulty > 0, "without Lifeguard healthy members are declared faulty");
    assert!(5 * with_faulty < without_faulty, "{with_faulty} vs {without_faulty}");
}
