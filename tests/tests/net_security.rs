//! Attacks on a running cluster, over real loopback sockets.

#![allow(
    clippy::indexing_slicing,
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::cast_possible_truncation
)]

use std::collections::HashSet;
use std::time::Duration;

use swim::{Candidate, Cluster, Error, Event, JoinFailure, SecretKey};
use swim_tests::net::{all_see_alive, eventually, fast};
use swim_tests::user_transport::Recording;

const LIMIT: Duration = Duration::from_secs(20);

async fn encrypted(prefix: &str, n: usize, keys: &[SecretKey], label: &str) -> Vec<Cluster> {
    let mut members = Vec::new();
    for i in 0..n {
        let config = fast().with(|c| c.label = label.as_bytes().to_vec());
        let c = Cluster::builder(format!("{prefix}{i}"))
            .config(config)
            .encrypt(keys.iter().cloned())
            .bind("127.0.0.1:0".parse().unwrap())
            .start()
            .await
            .unwrap();
        members.push(c);
    }
    for m in members.iter().skip(1) {
        m.join([members[0].local_addr()]).await.unwrap();
    }
    assert!(eventually(LIMIT, || all_see_alive(&members, n)).await, "the encrypted cluster converges");
    members
}

async fn shutdown(members: &[Cluster]) {
    for m in members {
        let _ = m.shutdown().await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn keys_rotate_across_a_live_cluster_without_a_single_suspicion() {
    let (k1, k2) = (SecretKey([1; 32]), SecretKey([2; 32]));
    let members = encrypted("rot", 8, std::slice::from_ref(&k1), "").await;
    let mut watchers: Vec<_> = members.iter().map(Cluster::events).collect();
    let pause = || tokio::time::sleep(Duration::from_millis(600));

    for m in &members {
        assert_eq!(m.add_key(k2.clone()).await.unwrap(), vec![k1.id(), k2.id()]);
    }
    pause().await;
    for m in &members {
        assert_eq!(m.use_key(k2.id()).await.unwrap()[0], k2.id());
    }
    pause().await;
    for m in &members {
        assert!(matches!(m.remove_key(k2.id()).await, Err(Error::Command(_))), "the key in use stays");
        assert_eq!(m.remove_key(k1.id()).await.unwrap(), vec![k2.id()]);
    }
    tokio::time::sleep(Duration::from_secs(3)).await;

    assert!(all_see_alive(&members, 8).await);
    for w in &mut watchers {
        while let Some(Ok(e)) = w.try_recv() {
            assert!(!matches!(e, Event::MemberSuspected { .. } | Event::MemberFaulty { .. }), "{e:?}");
        }
    }
    for m in &members {
        let s = m.stats().await.unwrap();
        assert_eq!(s.rejected_key, 0, "no packet ever went unopened");
    }
    shutdown(&members).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_member_with_the_wrong_key_cannot_join_and_is_counted() {
    let members = encrypted("key", 3, &[SecretKey([1; 32])], "").await;
    let intruder = Cluster::builder("intruder")
        .config(fast().with(|c| c.sync.join_attempts = 3))
        .encrypt([SecretKey([66; 32])])
        .bind("127.0.0.1:0".parse().unwrap())
        .seeds([members[0].local_addr()])
        .start()
        .await;
    assert!(matches!(intruder, Err(Error::JoinFailed(JoinFailure::NoAnswer))), "{intruder:?}");
    let seed = members[0].stats().await.unwrap();
    assert!(seed.rejected_key >= 3, "every attempt was counted: {}", seed.rejected_key);
    for m in &members {
        assert!(m.members().await.unwrap().iter().all(|x| x.name != "intruder"));
    }
    shutdown(&members).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_replayed_capture_is_rejected() {
    let key = SecretKey([5; 32]);
    // Member "tap" records what it sends, as an eavesdropper on the wire would.
    let inner = swim::udp::UdpTransport::bind("127.0.0.1:0".parse().unwrap()).await.unwrap();
    let (recording, capture) = Recording::new(inner);
    let tap = Cluster::builder("tap").config(fast()).encrypt([key.clone()]).transport(recording).start().await.unwrap();
    let mut members = encrypted("rep", 2, &[key], "").await;
    tap.join([members[0].local_addr()]).await.unwrap();
    members.push(tap);
    assert!(eventually(LIMIT, || all_see_alive(&members, 3)).await);
    tokio::time::sleep(Duration::from_secs(2)).await; // let "tap" talk to the target

    let target = members[0].local_addr();
    let captured: Vec<Vec<u8>> =
        capture.lock().iter().filter(|(to, _)| *to == target).map(|(_, d)| d.clone()).collect();
    assert!(captured.len() >= 5, "captured {} datagrams", captured.len());
    let before = members[0].stats().await.unwrap();
    let attacker = tokio::net::UdpSocket::bind("127.0.0.1:0").await.unwrap();
    for datagram in &captured {
        attacker.send_to(datagram, target).await.unwrap();
    }
    let replays = captured.len() as u64;
    let refused = eventually(LIMIT, || async {
        members[0].stats().await.unwrap().rejected_replay >= before.rejected_replay + replays
    })
    .await;
    assert!(refused, "every replayed datagram was refused");
    assert!(all_see_alive(&members, 3).await);
    shutdown(&members).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn clusters_with_different_labels_never_merge() {
    let key = SecretKey([3; 32]);
    // Same key, same ports range, different labels: still two clusters.
    let blue = encrypted("blue", 3, std::slice::from_ref(&key), "blue").await;
    let green = encrypted("green", 3, &[key], "green").await;
    let crossed = green[1].join([blue[0].local_addr()]).await;
    assert!(matches!(crossed, Err(Error::JoinFailed(JoinFailure::NoAnswer))), "{crossed:?}");
    assert!(blue[0].stats().await.unwrap().rejected_label > 0);
    // And without encryption the label is checked all the same.
    let plain_a = Cluster::builder("pa")
        .config(fast().with(|c| c.label = b"a".to_vec()))
        .bind("127.0.0.1:0".parse().unwrap())
        .start()
        .await
        .unwrap();
    let plain_b = Cluster::builder("pb")
        .config(fast().with(|c| {
            c.label = b"b".to_vec();
            c.sync.join_attempts = 2;
        }))
        .bind("127.0.0.1:0".parse().unwrap())
        .start()
        .await
        .unwrap();
    assert!(plain_b.join([plain_a.local_addr()]).await.is_err());
    assert!(plain_a.stats().await.unwrap().rejected_label > 0);
    let names: HashSet<String> = blue[0].members().await.unwrap().iter().map(|m| m.name.to_string()).collect();
    assert_eq!(names, ["blue0", "blue1", "blue2"].map(String::from).into_iter().collect());
    shutdown(&blue).await;
    shutdown(&green).await;
    shutdown(&[plain_a, plain_b]).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_flood_of_garbage_changes_nothing() {
    let members = encrypted("g", 4, &[SecretKey([9; 32])], "").await;
    let mut watch = members[1].events();
    let target = members[1].local_addr();
    let before = members[1].stats().await.unwrap();
    let attacker = tokio::net::UdpSocket::bind("127.0.0.1:0").await.unwrap();
    let mut x: u64 = 0x1234_5678_9abc_def1;
    let mut sent = 0u64;
    for i in 0..10_000u32 {
        // xorshift bytes; every 4th datagram starts like a real sealed header.
        let len = 1 + (i as usize * 37) % 1400;
        let mut datagram: Vec<u8> = (0..len)
            .map(|_| {
                x ^= x << 13;
                x ^= x >> 7;
                x ^= x << 17;
                (x >> 24) as u8
            })
            .collect();
        if i % 4 == 0 && len > 9 {
            datagram[..5].copy_from_slice(&[b'S', b'W', swim_wire::PROTOCOL_VERSION, 0x03, 0x09]);
        }
        attacker.send_to(&datagram, target).await.unwrap();
        sent += 1;
        if i % 100 == 99 {
            // Paced so the socket's receive buffer does not overflow: every
            // datagram reaches the member and must be refused by it.
            tokio::time::sleep(Duration::from_millis(2)).await;
        }
    }
    let counted = eventually(LIMIT, || async {
        let s = members[1].stats().await.unwrap();
        s.packets_rejected - before.packets_rejected >= sent * 99 / 100
    })
    .await;
    let s = members[1].stats().await.unwrap();
    assert!(counted, "{} of {sent} garbage datagrams refused", s.packets_rejected - before.packets_rejected);
    eprintln!("{} of {sent} garbage datagrams refused", s.packets_rejected - before.packets_rejected);
    assert!(s.rejected_malformed > before.rejected_malformed && s.rejected_key > before.rejected_key);
    tokio::time::sleep(Duration::from_secs(2)).await;
    assert!(all_see_alive(&members, 4).await, "the cluster stayed healthy");
    assert_eq!(members[1].members().await.unwrap().len(), 4, "nothing was learned from garbage");
    while let Some(Ok(e)) = watch.try_recv() {
        assert!(!matches!(e, Event::MemberSuspected { .. } | Event::MemberFaulty { .. }), "{e:?}");
    }
    shutdown(&members).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_member_on_a_network_address_needs_keys_quic_or_a_named_opt_out() {
    let any: std::net::SocketAddr = "0.0.0.0:0".parse().unwrap();
    let lan: std::net::SocketAddr = "10.1.2.3:7946".parse().unwrap();
    let loopback: std::net::SocketAddr = "127.0.0.1:0".parse().unwrap();
    let start = |bind, advertise| Cluster::builder("exposed").config(fast()).bind(bind).advertise(advertise);

    // Listening on every interface, or advertising a network address: refused.
    for (bind, advertise) in [(any, "127.0.0.1:7946".parse().unwrap()), (loopback, lan)] {
        match start(bind, advertise).start().await {
            Err(Error::Insecure { addr }) => {
                assert!(!addr.ip().is_loopback(), "names the exposed address, got {addr}");
                let text = Error::Insecure { addr }.to_string();
                for hint in ["encrypt", "keygen", "quic", "insecure_plaintext"] {
                    assert!(text.contains(hint), "the refusal says how to fix it ({hint}): {text}");
                }
            }
            other => panic!("expected a refusal for {bind} advertising {advertise}, got {other:?}"),
        }
        // Keys that still accept plaintext authenticate nobody: refused too.
        let migrating = swim::Encryption { accept_plaintext: true, ..swim::Encryption::new(SecretKey([3; 32])) };
        let config = fast().with(|c| c.security.encryption = Some(migrating));
        let refused = start(bind, advertise).config(config).start().await;
        assert!(matches!(refused, Err(Error::Insecure { .. })), "{refused:?}");
    }

    // With a key, or with the named opt-out, the same member starts.
    let key = SecretKey::generate().unwrap();
    let keyed = start(any, "127.0.0.1:7946".parse().unwrap()).encrypt([key]).start().await.unwrap();
    let opted = start(any, "127.0.0.1:7946".parse().unwrap()).insecure_plaintext().start().await.unwrap();
    // On loopback, plaintext needs nothing.
    let local = Cluster::builder("local").config(fast()).bind(loopback).start().await.unwrap();
    shutdown(&[keyed, opted, local]).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_member_outside_the_allowed_networks_is_not_admitted() {
    let key = SecretKey([9; 32]);
    let only_one = |c: &mut swim::Config| {
        c.security.allowed_networks = vec!["127.0.0.1/32".parse().unwrap()];
        c.sync.join_attempts = 3;
    };
    let start = |name: &str, bind: &str, config| {
        Cluster::builder(name).config(config).encrypt([key.clone()]).bind(bind.parse().unwrap())
    };
    let seed = start("seed", "127.0.0.1:0", fast().with(only_one)).start().await.unwrap();
    let inside =
        start("inside", "127.0.0.1:0", fast().with(only_one)).seeds([seed.local_addr()]).start().await.unwrap();

    // From another loopback address, with the key: the seed drops its
    // datagrams unread.
    let outside = start("outside", "127.0.0.2:0", fast().with(|c| c.sync.join_attempts = 3))
        .seeds([seed.local_addr()])
        .start()
        .await;
    assert!(matches!(outside, Err(Error::JoinFailed(JoinFailure::NoAnswer))), "{outside:?}");
    // From inside, advertising an address outside: told it is not admitted.
    let liar = start("liar", "127.0.0.1:0", fast())
        .advertise("127.0.0.3:7946".parse().unwrap())
        .seeds([seed.local_addr()])
        .start()
        .await;
    assert!(matches!(liar, Err(Error::JoinFailed(JoinFailure::NotAdmitted))), "{liar:?}");

    let stats = seed.stats().await.unwrap();
    assert!(stats.rejected_network >= 3, "every attempt from outside was counted: {}", stats.rejected_network);
    assert!(stats.members_not_admitted >= 1, "the liar was counted: {}", stats.members_not_admitted);
    for m in [&seed, &inside] {
        let names: Vec<String> = m.members().await.unwrap().iter().map(|x| x.name.to_string()).collect();
        assert_eq!(names.len(), 2, "only seed and inside: {names:?}");
    }
    shutdown(&[seed, inside]).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_admission_hook_refuses_a_joiner_and_a_member_learned_from_others() {
    let key = SecretKey([10; 32]);
    let member = |name: &str| {
        Cluster::builder(name)
            .config(fast().with(|c| c.sync.join_attempts = 3))
            .encrypt([key.clone()])
            .bind("127.0.0.1:0".parse().unwrap())
    };
    let guarded = member("guarded").admission(|c: &Candidate<'_>| !c.name.starts_with(b"rogue")).start().await.unwrap();
    let mut events = guarded.events();
    let open = member("open").seeds([guarded.local_addr()]).start().await.unwrap();

    // Joining through the guarded member: told it is not admitted.
    let refused = member("rogue-1").seeds([guarded.local_addr()]).start().await;
    assert!(matches!(refused, Err(Error::JoinFailed(JoinFailure::NotAdmitted))), "{refused:?}");
    // Joining through the member without a hook: admitted there; the
    // guarded member hears of it from the cluster and refuses it.
    let rogue = member("rogue-2").seeds([open.local_addr()]).start().await.unwrap();
    let mut reported: HashSet<String> = HashSet::new();
    let deadline = tokio::time::Instant::now() + LIMIT;
    while !reported.contains("rogue-2") && tokio::time::Instant::now() < deadline {
        if let Ok(Ok(Event::NotAdmitted { name, .. })) =
            tokio::time::timeout(Duration::from_millis(200), events.recv()).await
        {
            reported.insert(name.to_string());
        }
    }
    assert!(reported.contains("rogue-1") && reported.contains("rogue-2"), "both reported: {reported:?}");
    let seen: Vec<String> = open.members().await.unwrap().iter().map(|m| m.name.to_string()).collect();
    assert!(seen.contains(&"rogue-2".to_owned()), "the open member admitted it: {seen:?}");
    let names: Vec<String> = guarded.members().await.unwrap().iter().map(|m| m.name.to_string()).collect();
    assert!(names.iter().all(|n| !n.starts_with("rogue")), "never in the guarded table: {names:?}");
    assert!(guarded.stats().await.unwrap().members_not_admitted >= 2);
    shutdown(&[guarded, open, rogue]).await;
}
