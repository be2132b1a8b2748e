//! Application state through the public API over real loopback UDP
//! (encrypted): writes spread, deletions spread, a late joiner catches up.

#![allow(clippy::indexing_slicing, clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::time::Duration;

use bytes::Bytes;
use swim::{Cluster, CommandError, Error, Event, SecretKey};
use swim_tests::net::{eventually, fast, join_all};

const LIMIT: Duration = Duration::from_secs(20);

async fn member(name: &str) -> Cluster {
    Cluster::builder(name)
        .config(fast())
        .encrypt([SecretKey([5; 32])])
        .bind("127.0.0.1:0".parse().unwrap())
        .start()
        .await
        .unwrap()
}

fn pairs(items: &[(&str, &str)]) -> Vec<(Bytes, Bytes)> {
    items.iter().map(|(k, v)| (Bytes::copy_from_slice(k.as_bytes()), Bytes::copy_from_slice(v.as_bytes()))).collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn state_spreads_is_deleted_everywhere_and_reaches_a_late_joiner() {
    let mut members = Vec::new();
    for i in 0..3 {
        members.push(member(&format!("kv{i}")).await);
    }
    join_all(&members).await;
    for m in &members {
        m.wait_for_members(3, LIMIT).await.unwrap();
    }
    let mut events = members[0].events();
    members[1].set_state("load", "0.1").await.unwrap();
    members[1].set_state("zone", "eu-1").await.unwrap();
    members[1].set_state("load", "0.7").await.unwrap();
    members[1].set_state("gone", "soon").await.unwrap();
    members[1].delete_state("gone").await.unwrap();
    let want = pairs(&[("load", "0.7"), ("zone", "eu-1")]);
    for m in &members {
        assert!(eventually(LIMIT, || async { m.state("kv1").await.unwrap() == want }).await, "{} catches up", m.name());
    }
    // The changes arrived as events (deletions with no value).
    let mut seen = Vec::new();
    while let Ok(Some(Ok(event))) =
        tokio::time::timeout(Duration::from_millis(300), async { Some(events.recv().await) }).await
    {
        if let Event::StateChanged { owner, key, value } = event {
            assert_eq!(owner, "kv1");
            seen.push((
                String::from_utf8(key.to_vec()).unwrap(),
                value.map(|v| String::from_utf8(v.to_vec()).unwrap()),
            ));
        }
    }
    assert!(seen.contains(&("zone".to_owned(), Some("eu-1".to_owned()))), "{seen:?}");
    assert!(seen.contains(&("gone".to_owned(), None)), "{seen:?}");

    // A member that joins later gets it with its join.
    let late = member("kv3").await;
    late.join([members[0].local_addr()]).await.unwrap();
    assert!(
        eventually(LIMIT, || async { late.state("kv1").await.unwrap() == want }).await,
        "the late joiner catches up"
    );

    assert!(matches!(members[0].set_state("", "x").await, Err(Error::Command(CommandError::BadState(_)))));
    for m in members.iter().chain([&late]) {
        m.shutdown().await.unwrap();
    }
}
