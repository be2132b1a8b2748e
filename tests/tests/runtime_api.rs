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

use swim::{Cluster, Error, Event, Fault, Name, SecretKey, State};
use swim_tests::net::{eventually, fast, start_udp};
use tokio_stream::StreamExt;

const LIMIT: Duration = Duration::from_secs(20);

async fn shutdown(members: &[Cluster]) {
    for m in members {
        let _ = m.shutdown().await;
    }
}

/// Reads every event already delivered to `events` (bounded).
fn drain(events: &mut swim::Events) -> Vec<Event> {
    let mut seen = Vec::new();
    while let Some(Ok(event)) = events.try_recv() {
        seen.push(event);
        assert!(seen.len() < 100_000, "bounded");
    }
    seen
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_subscription_continues_exactly_from_its_snapshot() {
    // Joins run while the seed hands out subscriptions: each snapshot and
    // the events after it must together name every member exactly once.
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
    for _ in 0..6 {
        subscriptions.push(seed.subscribe().await.unwrap());
        tokio::time::sleep(Duration::from_millis(40)).await;
    }
    joins.await.unwrap();
    subscriptions.push(seed.subscribe().await.unwrap()); // after every join
    seed.wait_for_members(10, LIMIT).await.unwrap();
    let everyone: BTreeSet<Name> = members.iter().map(|m| m.name().clone()).collect();
    let mut sizes = BTreeSet::new();
    for (snapshot, mut events) in subscriptions {
        let mut known: Vec<Name> = snapshot.iter().filter(|m| m.state.is_live()).map(|m| m.name.clone()).collect();
        sizes.insert(known.len());
        for event in drain(&mut events) {
            if let Event::MemberJoined(m) = event {
                assert!(!known.contains(&m.name), "{} was in the snapshot and joined again", m.name);
                known.push(m.name);
            }
        }
        assert_eq!(known.iter().cloned().collect::<BTreeSet<_>>(), everyone, "snapshot + events = every member");
        assert_eq!(known.len(), everyone.len(), "nobody twice");
    }
    assert!(sizes.contains(&1) && sizes.len() > 1, "subscriptions from different points of the joins: {sizes:?}");
    shutdown(&members).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn lookups_the_live_view_and_health() {
    let members = start_udp(3, "look", "127.0.0.1").await;
    let (a, b, c) = (&members[0], &members[1], &members[2]);
    let mut view = a.watch().await.unwrap();
    assert_eq!(view.borrow().len(), 1, "alone at first");
    b.join([a.local_addr()]).await.unwrap();
    c.join([a.local_addr()]).await.unwrap();
    a.wait_for_members(3, LIMIT).await.unwrap();
    // The view followed.
    let live = view.wait_for(|v| v.iter().filter(|m| m.state.is_live()).count() == 3);
    assert!(tokio::time::timeout(LIMIT, live).await.is_ok());
    assert_eq!(a.num_members().await.unwrap(), 3);
    assert_eq!(a.alive_members().await.unwrap().len(), 3);
    assert_eq!(a.member("look1").await.unwrap().map(|m| m.state), Some(State::Alive));
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
    assert!(tokio::time::timeout(LIMIT, faulty).await.is_ok(), "the view shows the verdict");
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
