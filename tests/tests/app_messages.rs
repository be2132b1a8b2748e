//! Direct messages through the public API: best effort and reliable, over
//! real loopback UDP (encrypted) and QUIC.

#![allow(clippy::indexing_slicing, clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::time::Duration;

use bytes::Bytes;
use swim::tls::ClusterCa;
use swim::{Cluster, CommandError, Error, Event, Events, SecretKey, State};
use swim_tests::net::{all_see_alive, eventually, fast, join_all};

const LIMIT: Duration = Duration::from_secs(20);

async fn encrypted(prefix: &str, n: usize) -> Vec<Cluster> {
    let mut members = Vec::new();
    for i in 0..n {
        let c = Cluster::builder(format!("{prefix}{i}"))
            .config(fast())
            .encrypt([SecretKey([7; 32])])
            .bind("127.0.0.1:0".parse().unwrap())
            .start()
            .await
            .unwrap();
        members.push(c);
    }
    join_all(&members).await;
    assert!(eventually(LIMIT, || all_see_alive(&members, n)).await, "the cluster converges");
    members
}

/// The next message `events` reports.
async fn next_message(events: &mut Events) -> (String, Bytes, bool) {
    let got = tokio::time::timeout(LIMIT, async {
        loop {
            if let Event::Message { from, payload, reliable } = events.recv().await.unwrap() {
                return (from.to_string(), payload, reliable);
            }
        }
    })
    .await;
    got.expect("a message arrives")
}

/// Best effort can be lost on a real socket (rarely on loopback): sent until
/// one arrives, at most 20 times.
async fn best_effort_arrives(from: &Cluster, to: &str, events: &mut Events, payload: &'static str) {
    for _ in 0..20 {
        from.send(to, payload).await.unwrap();
        if let Ok((who, got, reliable)) = tokio::time::timeout(Duration::from_millis(500), next_message(events)).await {
            assert_eq!((who.as_str(), &got[..], reliable), (from.name().as_str().unwrap(), payload.as_bytes(), false));
            return;
        }
    }
    panic!("no best-effort message arrived in 20 tries");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn messages_arrive_best_effort_and_reliably_over_encrypted_udp() {
    let members = encrypted("msg", 3).await;
    let mut inbox = members[1].events();
    best_effort_arrives(&members[0], "msg1", &mut inbox, "hello").await;

    // Reliable: acknowledged, delivered exactly once, up to the limit.
    let big = Bytes::from(vec![0xAB; members[0].config().limits.max_message]);
    members[0].send_reliable("msg1", big.clone()).await.unwrap();
    assert_eq!(next_message(&mut inbox).await, ("msg0".to_owned(), big, true));

    // Many at once, more than the stream slots: they wait their turn.
    let sends = (0..24).map(|i| members[2].send_reliable("msg1", format!("n{i}")));
    for result in futures_join(sends).await {
        result.unwrap();
    }
    let mut got = Vec::new();
    for _ in 0..24 {
        let (from, payload, reliable) = next_message(&mut inbox).await;
        assert!(reliable && from == "msg2");
        got.push(String::from_utf8(payload.to_vec()).unwrap());
    }
    got.sort();
    let mut want: Vec<String> = (0..24).map(|i| format!("n{i}")).collect();
    want.sort();
    assert_eq!(got, want, "each once");
    let stats = members[2].stats().await.unwrap();
    assert_eq!((stats.messages_sent, stats.messages_delivered), (24, 24));
    for m in &members {
        m.shutdown().await.unwrap();
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn messages_to_unknown_gone_or_unreachable_members_are_errors() {
    let members = encrypted("err", 3).await;
    let a = &members[0];
    for result in [a.send("nobody", "x").await, a.send_reliable("nobody", "x").await, a.send("err0", "x").await] {
        assert!(matches!(result, Err(Error::Command(CommandError::UnknownMember))), "{result:?}");
    }
    let too_big = vec![0u8; a.config().limits.max_message + 1];
    assert!(matches!(
        a.send_reliable("err1", too_big).await,
        Err(Error::Command(CommandError::TooLarge { what: "message", .. }))
    ));
    let datagram = vec![0u8; a.config().dissemination.max_broadcast_payload + 1];
    assert!(matches!(a.send("err1", datagram).await, Err(Error::Command(CommandError::TooLarge { .. }))));

    // Gone without a word: still held alive, but nobody answers.
    members[2].shutdown().await.unwrap();
    let e = a.send_reliable("err2", "anyone?").await.unwrap_err();
    assert!(matches!(&e, Error::NotDelivered { to } if *to == "err2"), "{e:?}");
    assert_eq!(e.fault(), swim::Fault::Network);

    // Left: refused before anything is sent.
    members[1].leave(Duration::from_secs(5)).await.unwrap();
    let left = || async { a.member("err1").await.unwrap().is_some_and(|m| m.state == State::Left) };
    assert!(eventually(LIMIT, left).await);
    assert!(matches!(a.send("err1", "x").await, Err(Error::Command(CommandError::MemberDown(State::Left)))));
    assert!(matches!(a.send_reliable("err1", "x").await, Err(Error::Command(CommandError::MemberDown(State::Left)))));
    a.shutdown().await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn messages_arrive_over_quic() {
    let ca = ClusterCa::generate("messages").unwrap();
    let mut members = Vec::new();
    for i in 0..2 {
        let name = format!("mq{i}");
        let c = Cluster::builder(name.clone())
            .config(fast())
            .bind("127.0.0.1:0".parse().unwrap())
            .quic(ca.issue(&name).unwrap())
            .start()
            .await
            .unwrap();
        members.push(c);
    }
    join_all(&members).await;
    assert!(eventually(LIMIT, || all_see_alive(&members, 2)).await);
    let mut inbox = members[1].events();
    best_effort_arrives(&members[0], "mq1", &mut inbox, "over a quic datagram").await;
    members[0].send_reliable("mq1", "over a quic stream").await.unwrap();
    assert_eq!(next_message(&mut inbox).await, ("mq0".to_owned(), Bytes::from("over a quic stream"), true));
    for m in &members {
        m.shutdown().await.unwrap();
    }
}

/// Runs futures concurrently on this task and collects their outputs.
async fn futures_join<F: std::future::Future>(futures: impl IntoIterator<Item = F>) -> Vec<F::Output> {
    let mut set = Vec::new();
    for f in futures {
        set.push(Box::pin(f));
    }
    let mut out: Vec<Option<F::Output>> = set.iter().map(|_| None).collect();
    std::future::poll_fn(|cx| {
        let mut pending = false;
        for (f, slot) in set.iter_mut().zip(out.iter_mut()) {
            if slot.is_none() {
                match f.as_mut().poll(cx) {
                    std::task::Poll::Ready(v) => *slot = Some(v),
                    std::task::Poll::Pending => pending = true,
                }
            }
        }
        if pending { std::task::Poll::Pending } else { std::task::Poll::Ready(()) }
    })
    .await;
    out.into_iter().map(|v| v.expect("every future finished")).collect()
}
