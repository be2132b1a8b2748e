//! The embedding API over real loopback UDP: subscriptions that miss
//! nothing, the live view, lookups, per-member health, the configuration in
//! force, and the builder's refusals.

#![allow(
    clippy::indexing_slicing,
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::cast_possible_truncation
)]

use std::collections::BTreeSet;
use std::time::Duration;

use swim::{Cluster, Error, Event, Fault, Name, RuntimeOptions, SecretKey, State};
use swim_tests::net::{eventually, fast, start_converged, start_udp};
use tokio_stream::StreamExt;

const LIMIT: Duration = Duration::from_secs(20);

async fn shutdown(members: &[Cluster]) {
    for m in members {
        let _ = m.shutdown().await;
    }
}

/// Reads every event already delivered to `events` (bounded); none may
/// have been lost.
fn drain(events: &mut swim::Events) -> Vec<Event> {
    let mut seen = Vec::new();
    while let Some(next) = events.try_recv() {
        match next {
            Ok(event) => seen.push(event),
            Err(e) => panic!("events lost: {e}"),
        }
        assert!(seen.len() < 100_000, "bounded");
    }
    seen
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_subscription_continues_exactly_from_its_snapshot() {
    // Joins run while the seed hands out subscriptions as fast as it
    // answers: each snapshot and the events after it must together give
    // the live members, nobody joining twice and nobody missing.
    let members = start_udp(10, "sub", "127.0.0.1").await;
    let seed = members[0].clone();
    let mut subscriptions = vec![seed.subscribe().await.unwrap()]; // before any join
    let joins = {
        let members = members.clone();
        tokio::spawn(async move {
            for m in members.iter().skip(1) {
                m.join([members[0].local_addr()]).await.unwrap();
            }
        })
    };
    while !joins.is_finished() && subscriptions.len() < 5_000 {
        subscriptions.push(seed.subscribe().await.unwrap());
    }
    joins.await.unwrap();
    seed.wait_for_members(10, LIMIT).await.unwrap();
    subscriptions.push(seed.subscribe().await.unwrap()); // after every join
    let everyone: BTreeSet<Name> = members.iter().map(|m| m.name().clone()).collect();
    let mut sizes = BTreeSet::new();
    for (snapshot, mut events) in subscriptions {
        let mut live: BTreeSet<Name> = snapshot.iter().filter(|m| m.state.is_live()).map(|m| m.name.clone()).collect();
        sizes.insert(live.len());
        for event in drain(&mut events) {
            match event {
                Event::MemberJoined(m) => assert!(live.insert(m.name.clone()), "{} joined twice", m.name),
                Event::MemberFaulty { member, .. } | Event::MemberLeft(member) => {
                    live.remove(&member.name);
                }
                Event::MemberSuspected { member, .. } | Event::MemberRecovered(member) => {
                    assert!(live.contains(&member.name), "{} changed before it joined", member.name);
                }
                _ => {}
            }
        }
        assert_eq!(live, everyone, "snapshot + events = every member");
    }
    let between = sizes.iter().filter(|&&n| n > 1 && n < 10).count();
    eprintln!("snapshot sizes seen: {sizes:?} ({between} taken in the middle of the joins)");
    assert!(sizes.contains(&1) && sizes.contains(&10), "subscriptions from before and after the joins: {sizes:?}");
    shutdown(&members).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_overflow_of_the_members_own_queue_is_reported() {
    // A member of a twenty-member cluster joins through a lone member whose
    // queue holds sixteen events: the joiner opens the sync and sends its
    // whole table in one frame (before anyone else has heard of the lone
    // member), twenty members learned in one step. Subscribers are told.
    let cluster = start_converged(20, "big", &fast(), &RuntimeOptions::default()).await;
    // Once the join's news has stopped travelling, nobody's gossip carries
    // members to the lone one before the sync does.
    let quiet = || async {
        for m in &cluster {
            if m.stats().await.map_or(1, |s| s.queued_updates) > 0 {
                return false;
            }
        }
        true
    };
    assert!(eventually(LIMIT, quiet).await, "the cluster quietens");
    let small = fast().with(|c| c.limits.event_capacity = 16);
    let lone = Cluster::builder("lone").config(small).bind("127.0.0.1:0".parse().unwrap()).start().await.unwrap();
    let (_, mut events) = lone.subscribe().await.unwrap();
    cluster[1].join([lone.local_addr()]).await.unwrap();
    let missed = async {
        loop {
            if let Ok(Event::Missed { count }) = events.recv().await {
                return count;
            }
        }
    };
    let count = tokio::time::timeout(LIMIT, missed).await.expect("an Event::Missed");
    assert!(count >= 1);
    assert!(lone.stats().await.unwrap().events_dropped >= count);
    // A new snapshot has everyone.
    lone.wait_for_members(21, LIMIT).await.unwrap();
    let (snapshot, _) = lone.subscribe().await.unwrap();
    assert_eq!(snapshot.iter().filter(|m| m.state.is_live()).count(), 21);
    shutdown(&cluster).await;
    lone.shutdown().await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_view_follows_metadata_and_departure() {
    let members = start_converged(2, "follow", &fast(), &RuntimeOptions::default()).await;
    let (a, b) = (&members[0], &members[1]);
    let mut mine = a.watch().await.unwrap();
    a.set_metadata("role=cache").await.unwrap();
    let me = |v: &[swim::Member]| v.iter().find(|m| m.name == "follow0").cloned();
    let updated = mine.wait_for(|v| me(v).is_some_and(|m| m.meta == "role=cache")).await;
    assert!(updated.is_ok(), "this member's own metadata shows in its view");
    let mut theirs = b.watch().await.unwrap();
    let seen = tokio::time::timeout(LIMIT, theirs.wait_for(|v| me(v).is_some_and(|m| m.meta == "role=cache")));
    assert!(seen.await.is_ok_and(|r| r.is_ok()), "and in the other's");
    a.leave(Duration::from_secs(5)).await.unwrap();
    let left = tokio::time::timeout(LIMIT, theirs.wait_for(|v| me(v).is_some_and(|m| m.state == State::Left)));
    assert!(left.await.is_ok_and(|r| r.is_ok()), "the departure shows");
    let ended = tokio::time::timeout(LIMIT, async { while mine.changed().await.is_ok() {} });
    assert!(ended.await.is_ok(), "a stopped member's view ends");
    assert!(matches!(mine.changed().await, Err(Error::Stopped)));
    b.shutdown().await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn lookups_the_live_view_and_health() {
    let members = start_udp(3, "look", "127.0.0.1").await;
    let (a, b, c) = (&members[0], &members[1], &members[2]);
    let mut view = a.watch().await.unwrap();
    assert_eq!(view.current().len(), 1, "alone at first");
    b.join([a.local_addr()]).await.unwrap();
    c.join([a.local_addr()]).await.unwrap();
    a.wait_for_members(3, LIMIT).await.unwrap();
    // The view followed.
    let live = view.wait_for(|v| v.iter().filter(|m| m.state.is_live()).count() == 3);
    assert!(tokio::time::timeout(LIMIT, live).await.is_ok_and(|r| r.is_ok()));
    assert_eq!(a.num_members().await.unwrap(), 3);
    assert_eq!(a.alive_members().await.unwrap().len(), 3);
    assert!(a.member("look1").await.unwrap().is_some_and(|m| m.state.is_live()));
    assert_eq!(a.member("nobody").await.unwrap(), None);
    let me = a.member(a.name().clone()).await.unwrap().unwrap();
    assert_eq!((me.rtt, me.last_answered), (None, None), "no health for oneself");
    // A few periods later each peer has answered a's probes.
    let measured = || async {
        let v = a.alive_members().await.unwrap();
        v.iter().filter(|m| m.name != *a.name()).all(|m| m.rtt.is_some() && m.last_answered.is_some())
    };
    assert!(eventually(LIMIT, measured).await, "round trips measured");
    let peer = a.member("look1").await.unwrap().unwrap();
    assert!(peer.rtt.unwrap() < Duration::from_secs(1), "{:?} on loopback", peer.rtt);
    assert!(peer.last_answered.unwrap().elapsed() < LIMIT);
    // A crash shows as faulty, and only live members count.
    c.shutdown().await.unwrap();
    let faulty = view.wait_for(|v| v.iter().any(|m| m.name == "look2" && m.state == State::Faulty));
    assert!(tokio::time::timeout(LIMIT, faulty).await.is_ok_and(|r| r.is_ok()), "the view shows the verdict");
    assert_eq!(a.num_members().await.unwrap(), 2);
    assert!(a.alive_members().await.unwrap().iter().all(|m| m.name != "look2"));
    assert_eq!(a.member("look2").await.unwrap().map(|m| m.state), Some(State::Faulty));
    // Waiting for more than there are says how many there were.
    match a.wait_for_members(3, Duration::from_millis(300)).await {
        Err(e @ Error::WaitTimedOut { wanted: 3, live: 2 }) => assert_eq!(e.fault(), Fault::Network),
        other => panic!("expected a timeout, got {other:?}"),
    }
    shutdown(&members).await;
    assert!(matches!(a.wait_for_members(1, LIMIT).await, Err(Error::Stopped)));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn events_are_a_stream_that_ends_when_the_member_stops() {
    let members = start_udp(2, "stream", "127.0.0.1").await;
    let joined = members[0].events().filter_map(|e| match e {
        Ok(Event::MemberJoined(m)) => Some(m.name),
        _ => None,
    });
    tokio::pin!(joined);
    members[1].join([members[0].local_addr()]).await.unwrap();
    let first = tokio::time::timeout(LIMIT, joined.next()).await.unwrap();
    assert_eq!(first, Some(Name::from("stream1")));
    let mut rest = members[0].events();
    shutdown(&members).await;
    let end = tokio::time::timeout(LIMIT, async { while rest.next().await.is_some() {} });
    assert!(end.await.is_ok(), "the stream ended");
    assert!(matches!(rest.recv().await, Err(swim::RecvError::Closed)));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_configuration_in_force_is_visible() {
    let given = fast();
    assert_eq!((given.seed, given.generation), (0, 0));
    let m = Cluster::builder("cfg").config(given.clone()).bind("127.0.0.1:0".parse().unwrap()).start().await.unwrap();
    let used = m.config();
    assert_ne!(used.seed, 0, "a random seed was drawn");
    assert_ne!(used.generation, 0, "the generation is the start time");
    assert_eq!(used.probe.period, given.probe.period);
    assert!(used.dissemination.max_broadcast_payload <= given.dissemination.max_broadcast_payload);
    m.shutdown().await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_builder_refuses_what_would_silently_not_work() {
    let local: std::net::SocketAddr = "127.0.0.1:0".parse().unwrap();
    // No keys is not plaintext.
    match Cluster::builder("k").encrypt([]).bind(local).start().await {
        Err(e @ Error::Config(_)) => {
            assert_eq!(e.fault(), Fault::Config);
            assert!(e.to_string().contains("`encrypt` was given no keys"), "{e}");
        }
        other => panic!("expected a config error, got {other:?}"),
    }
    // A transport of one's own is bound already.
    let network = swim::memory::MemoryNetwork::new();
    let transport = network.bind("10.0.0.1:7946".parse().unwrap()).unwrap();
    match Cluster::builder("t").transport(transport).bind(local).start().await {
        Err(Error::Config(e)) => assert_eq!(e.field(), "bind"),
        other => panic!("expected a config error, got {other:?}"),
    }
    // An unspecified advertise address cannot be reached.
    match Cluster::builder("u").bind(local).advertise("0.0.0.0:7946".parse().unwrap()).start().await {
        Err(Error::Config(e)) => assert_eq!(e.field(), "advertise"),
        other => panic!("expected a config error, got {other:?}"),
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_unspecified_bind_advertises_a_private_address_or_says_how_to_choose() {
    let key = SecretKey::generate().unwrap();
    let started = Cluster::builder("any").encrypt([key]).bind("0.0.0.0:0".parse().unwrap()).start().await;
    match started {
        Ok(m) => {
            let ip = m.local_addr().ip();
            assert!(!ip.is_unspecified() && !ip.is_loopback(), "advertises {ip}");
            let private = match ip {
                std::net::IpAddr::V4(v4) => v4.is_private() || v4.octets()[0] == 100,
                std::net::IpAddr::V6(_) => false,
            };
            assert!(private, "{ip} is a private address");
            assert_ne!(m.local_addr().port(), 0, "with the bound port");
            m.shutdown().await.unwrap();
        }
        Err(e @ Error::NoAddressToAdvertise { .. }) => {
            assert_eq!(e.fault(), Fault::Config);
            assert!(e.to_string().contains("Builder::advertise"), "{e}");
        }
        Err(other) => panic!("unexpected {other}"),
    }
}
