//! Members over real loopback UDP (and TCP for syncs).

#![allow(
    clippy::indexing_slicing,
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::cast_possible_truncation
)]

use std::time::Duration;

use swim::{Cluster, Event, RecvError, State};
use swim_tests::net::{all_see, all_see_alive, eventually, fast, join_all, start_udp, view};

const LIMIT: Duration = Duration::from_secs(20);

async fn shutdown(members: &[Cluster]) {
    for m in members {
        let _ = m.shutdown().await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn three_and_thirty_two_members_converge() {
    for n in [3, 32] {
        let members = start_udp(n, &format!("c{n}-"), "127.0.0.1").await;
        let started = std::time::Instant::now();
        join_all(&members).await;
        assert!(eventually(LIMIT, || all_see_alive(&members, n)).await, "{n} members did not converge");
        eprintln!("{n} members converged over UDP in {:?}", started.elapsed());
        shutdown(&members).await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_killed_member_is_declared_faulty_by_all_and_a_leaver_is_left() {
    let members = start_udp(6, "k", "127.0.0.1").await;
    join_all(&members).await;
    assert!(eventually(LIMIT, || all_see_alive(&members, 6)).await);
    let mut events = members[0].events();

    members[5].shutdown().await.unwrap(); // killed: no goodbye
    let survivors = &members[..5];
    assert!(eventually(LIMIT, || all_see(survivors, "k5", State::Faulty)).await, "k5 not declared faulty");

    members[4].leave(Duration::from_secs(5)).await.unwrap();
    let rest = &members[..4];
    assert!(eventually(LIMIT, || all_see(rest, "k4", State::Left)).await, "k4 not seen as left");

    let mut saw = Vec::new();
    while let Some(Ok(e)) = events.try_recv() {
        match e {
            Event::MemberFaulty { member, .. } => saw.push(format!("faulty {}", member.name)),
            Event::MemberLeft(m) => saw.push(format!("left {}", m.name)),
            _ => {}
        }
    }
    assert!(saw.contains(&"faulty k5".to_owned()) && saw.contains(&"left k4".to_owned()), "{saw:?}");
    assert!(!saw.contains(&"faulty k4".to_owned()), "the leaver was not declared faulty: {saw:?}");
    shutdown(rest).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn metadata_and_broadcasts_reach_everyone() {
    let members = start_udp(5, "b", "127.0.0.1").await;
    join_all(&members).await;
    assert!(eventually(LIMIT, || all_see_alive(&members, 5)).await);
    let mut subscribers: Vec<_> = members.iter().map(Cluster::events).collect();

    members[2].set_metadata("role=leader").await.unwrap();
    let spread = eventually(LIMIT, || async {
        for m in &members {
            if view(m, "b2").await.map(|v| v.meta) != Some("role=leader".into()) {
                return false;
            }
        }
        true
    })
    .await;
    assert!(spread, "metadata did not spread");

    let seq = members[0].broadcast("deploy v42").await.unwrap();
    // Count deliveries until everyone has it (bounded: a loaded machine
    // slows the periods down), then a while longer to catch duplicates.
    let mut got = vec![0usize; members.len()];
    let mut count = |got: &mut Vec<usize>| {
        for (i, events) in subscribers.iter_mut().enumerate() {
            while let Some(Ok(e)) = events.try_recv() {
                if let Event::Broadcast { origin, seq: s, payload } = e {
                    assert_eq!((origin.as_str(), s, &payload[..]), (Some("b0"), seq, &b"deploy v42"[..]));
                    got[i] += 1;
                }
            }
        }
    };
    let deadline = tokio::time::Instant::now() + LIMIT;
    while got.iter().skip(1).any(|&g| g == 0) && tokio::time::Instant::now() < deadline {
        tokio::time::sleep(Duration::from_millis(50)).await;
        count(&mut got);
    }
    tokio::time::sleep(Duration::from_secs(2)).await;
    count(&mut got);
    for (i, &n) in got.iter().enumerate() {
        assert_eq!(n, usize::from(i != 0), "member b{i} got the broadcast {n} times");
    }
    shutdown(&members).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_restarted_member_rejoins_as_a_newer_process_on_the_same_or_a_new_address() {
    let mut members = start_udp(4, "r", "127.0.0.1").await;
    join_all(&members).await;
    assert!(eventually(LIMIT, || all_see_alive(&members, 4)).await);
    members[3].set_metadata("v1").await.unwrap();
    assert!(eventually(LIMIT, || async { view(&members[0], "r3").await.map(|v| v.incarnation) == Some(1) }).await);
    let old = members[3].local_member().await.unwrap();
    let mut subscribers: Vec<_> = members[..3].iter().map(Cluster::events).collect();

    // Killed, and restarted on the same address, then killed again and
    // restarted on a new one (a container that comes back elsewhere) while
    // the others may still hold the old process alive.
    for (round, same_address) in [(0, true), (1, false)] {
        let addr = members[3].local_addr();
        members.pop().unwrap().shutdown().await.unwrap();
        let bind = if same_address { addr } else { "127.0.0.1:0".parse().unwrap() };
        let restarted = Cluster::builder("r3")
            .config(fast())
            .bind(bind)
            .seeds([members[0].local_addr()])
            .start()
            .await
            .expect("the restarted member rejoins (no name conflict)");
        let local = restarted.local_member().await.unwrap();
        assert!(local.generation > old.generation, "a newer process: {} > {}", local.generation, old.generation);
        members.push(restarted);
        // Its broadcasts are numbered afresh, and delivered.
        let payload = format!("from process {round}");
        members[3].broadcast(payload.clone()).await.unwrap();
        let updated = eventually(LIMIT, || async {
            for m in &members[..3] {
                match view(m, "r3").await {
                    Some(v) if v.state == State::Alive && v.generation == local.generation => {}
                    _ => return false,
                }
            }
            true
        })
        .await;
        assert!(updated, "the others see the new r3 process alive (round {round})");
        let mut got = [0usize; 3];
        let deadline = tokio::time::Instant::now() + LIMIT;
        while got.contains(&0) && tokio::time::Instant::now() < deadline {
            tokio::time::sleep(Duration::from_millis(50)).await;
            for (i, events) in subscribers.iter_mut().enumerate() {
                while let Some(Ok(e)) = events.try_recv() {
                    if matches!(e, Event::Broadcast { payload: ref p, .. } if p[..] == *payload.as_bytes()) {
                        got[i] += 1;
                    }
                }
            }
        }
        assert_eq!(got, [1, 1, 1], "every member got the new process's broadcast once (round {round})");
    }
    shutdown(&members).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn ipv6_loopback_works_where_available() {
    if std::net::UdpSocket::bind("[::1]:0").is_err() {
        eprintln!("skipped: this host has no IPv6 loopback");
        return;
    }
    let members = start_udp(3, "six", "[::1]").await;
    join_all(&members).await;
    assert!(eventually(LIMIT, || all_see_alive(&members, 3)).await);
    assert!(members[1].local_addr().is_ipv6());
    shutdown(&members).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_slow_subscriber_lags_without_blocking_the_member() {
    let config = fast().with(|c| c.limits.event_capacity = 16);
    let seed = Cluster::builder("lag-seed").config(config).bind("127.0.0.1:0".parse().unwrap()).start().await.unwrap();
    assert_eq!(seed.config().limits.event_capacity, 16, "the one event capacity, in force");
    let mut slow = seed.events(); // never read until the end
    let others = start_udp(4, "lag", "127.0.0.1").await;
    for m in &others {
        m.join([seed.local_addr()]).await.unwrap();
    }
    let mut all = others.clone();
    all.push(seed.clone());
    assert!(eventually(LIMIT, || all_see_alive(&all, 5)).await, "the member kept working");
    // Four joins and twenty broadcasts are more events than sixteen.
    for i in 0..20 {
        others[0].broadcast(format!("b{i}")).await.unwrap();
    }
    let delivered = || async { seed.stats().await.unwrap().broadcasts_delivered >= 20 };
    assert!(eventually(LIMIT, delivered).await, "the seed received the twenty broadcasts");
    match slow.recv().await {
        Err(RecvError::Lagged(missed)) => assert!(missed > 0),
        other => panic!("expected a lag notice, got {other:?}"),
    }
    assert!(slow.recv().await.is_ok(), "and then it continues with the events still held");
    shutdown(&all).await;
}
