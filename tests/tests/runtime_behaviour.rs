//! What the runtime does as a scheduler: overload reports, the adaptive
//! probe timeout, and no allocation per datagram or period.

#![allow(
    clippy::indexing_slicing,
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::cast_possible_truncation
)]

use std::time::Duration;

use swim::{Config, RuntimeOptions};
use swim_tests::alloc_counter::{CountingAllocator, start_counting, stop_counting};
use swim_tests::net::{eventually, start_converged};

#[global_allocator]
static ALLOC: CountingAllocator = CountingAllocator;

#[tokio::test(flavor = "current_thread")]
async fn waking_late_is_reported_as_overload() {
    let members = start_converged(3, "o", &Config::local(), &RuntimeOptions::default()).await;
    assert_eq!(members[0].stats().await.unwrap().overload_reports, 0);
    // Block the only thread, as an overloaded host would: every member's
    // timer fires late.
    tokio::task::spawn(async { std::thread::sleep(Duration::from_millis(600)) }).await.unwrap();
    tokio::time::sleep(Duration::from_millis(300)).await;
    let stats = members[0].stats().await.unwrap();
    assert!(stats.overload_reports > 0, "the late wake-up was reported");
    for m in &members {
        m.shutdown().await.unwrap();
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_adaptive_probe_timeout_is_applied() {
    let config = Config::local();
    let initial = config.probe.timeout;
    let members = start_converged(3, "a", &config, &RuntimeOptions::default()).await;
    // Loopback round trips are far below the initial 100 ms: after enough
    // samples the timeout follows them down to the configured minimum.
    let adapted = eventually(Duration::from_secs(20), || async {
        let stats = members[0].stats().await.unwrap();
        stats.health == 0 && stats.probe_timeout < initial
    })
    .await;
    assert!(adapted, "probe timeout still {:?}", members[0].stats().await.unwrap().probe_timeout);
    for m in &members {
        m.shutdown().await.unwrap();
    }
}

#[tokio::test(flavor = "current_thread")]
async fn converged_members_allocate_nothing_per_datagram_or_period() {
    // Every member runs on this one thread, so counting this thread's
    // allocations while the test sleeps counts all their work: receiving,
    // handling, sending, timers, for many periods.
    let config = Config::local().with(|c| c.sync.interval = Duration::ZERO);
    let members = start_converged(4, "z", &config, &RuntimeOptions::default()).await;
    tokio::time::sleep(config.probe.period * 10).await; // settle
    let before = members[0].stats().await.unwrap().packets_sent;
    let window = tokio::time::sleep(config.probe.period * 25);
    tokio::pin!(window);
    start_counting();
    window.await;
    let steady = stop_counting();
    let after = members[0].stats().await.unwrap().packets_sent;
    assert!(after >= before + 20, "the members were busy: {} datagrams", after - before);
    assert_eq!(steady.count, 0, "{} allocations ({} bytes) in 25 periods", steady.count, steady.bytes);

    // Control: the counter does see the members' tasks. A broadcast makes
    // every member hand an owned event to its subscribers, which allocates.
    let _subscriber = members[1].events();
    members[0].broadcast("counted").await.unwrap();
    let window = tokio::time::sleep(config.probe.period * 10);
    tokio::pin!(window);
    start_counting();
    window.await;
    assert!(stop_counting().count > 0, "the counter sees work done by the members' tasks");
    for m in &members {
        m.shutdown().await.unwrap();
    }
}
