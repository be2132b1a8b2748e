//! The swarm emulator against a real member in this process: the member
//! joins the emulated cluster (a full join sync), runs delta syncs with it
//! that open and parse on both sides, and detects the scheduled crash from
//! the emulated cluster's gossip; nothing else is suspected.

use std::time::Duration;

use swim::{Cluster, Config, Event, SecretKey};
use swim_tests::swarm::Plan;
use swim_tests::swarm::codec::now_ms;
use swim_tests::swarm::worker::{self, REAL_NAME};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_real_member_joins_an_emulated_cluster_syncs_and_detects_its_crash() {
    let key = SecretKey::generate().unwrap();
    let real = Cluster::builder(String::from_utf8(REAL_NAME.to_vec()).unwrap())
        .config(Config::lan())
        .encrypt([key.clone()])
        .bind("127.0.0.1:0".parse().unwrap())
        .start()
        .await
        .unwrap();
    let mut events = real.events();
    let plan = Plan {
        members: 65,
        workers: 1,
        seed: 7,
        start_ms: now_ms(),
        duration: Duration::from_secs(25),
        warmup: Duration::from_secs(3),
        crash_every: Duration::from_secs(100),
        real: real.local_addr(),
        key: key.0,
        // Below the ephemeral range: no socket of another test takes it.
        port: 27_946,
    };
    let crashes = plan.crashes();
    assert_eq!(crashes.len(), 1, "one crash fits the run");
    let victim = Plan::name(crashes[0].victim);
    let seed = plan.addr(0);
    let emulator = {
        let plan = plan.clone();
        std::thread::spawn(move || worker::run(plan, 0))
    };

    // The worker binds its sockets within a moment: the join is retried
    // until it does (bounded).
    let mut joined = false;
    for _ in 0..50 {
        if real.join([seed]).await.is_ok() {
            joined = true;
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    assert!(joined, "the real member joins through emulated member 0");
    real.wait_for_members(plan.members, Duration::from_secs(5)).await.unwrap();

    // The crash is suspected and declared; nothing else is.
    let mut suspected = false;
    let mut faulty = false;
    let deadline = tokio::time::Instant::now() + plan.duration;
    while !faulty && tokio::time::Instant::now() < deadline {
        let Ok(Ok(event)) = tokio::time::timeout(Duration::from_millis(500), events.recv()).await else {
            continue;
        };
        match event {
            Event::MemberSuspected { member, .. } => {
                assert_eq!(member.name.as_ref(), victim.as_slice(), "only the crashed member is suspected");
                suspected = true;
            }
            Event::MemberFaulty { member, .. } => {
                assert_eq!(member.name.as_ref(), victim.as_slice(), "only the crashed member is declared");
                faulty = true;
            }
            _ => {}
        }
    }
    assert!(suspected && faulty, "the crash was suspected ({suspected}) and declared ({faulty})");

    let (all, _) = tokio::task::spawn_blocking(move || emulator.join().unwrap()).await.unwrap().unwrap();
    assert_eq!(all.bad, 0, "every datagram and frame of the real member opened and parsed: {all:?}");
    assert_eq!(all.syncs_failed, 0, "{all:?}");
    assert!(all.syncs_in >= 2, "the join sync and at least one delta sync: {all:?}");
    assert!(all.pings_in > 0 && all.acks_in > 0, "pings both ways: {all:?}");
    let _ = real.shutdown().await;
}
