//! Queries through the public API over real loopback UDP (encrypted):
//! "who serves shard 7?" answered by the members that do.

#![allow(clippy::indexing_slicing, clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use swim::{Cluster, CommandError, Error, Event, QueryOptions, QueryReply, SecretKey};
use swim_tests::net::{all_see_alive, eventually, fast, join_all};

const LIMIT: Duration = Duration::from_secs(20);

/// Second answers refused (each member tries to answer twice).
static REFUSED_AGAIN: AtomicUsize = AtomicUsize::new(0);

/// Members `shard0..` tagged `role=cache` and `shard=<shard>`; each answers
/// "who-serves" with its name (and tries again, counted when refused).
async fn cluster(shards: &[&str]) -> Vec<Cluster> {
    let mut members = Vec::new();
    for (i, shard) in shards.iter().enumerate() {
        let c = Cluster::builder(format!("shard{i}"))
            .config(fast())
            .encrypt([SecretKey([3; 32])])
            .bind("127.0.0.1:0".parse().unwrap())
            .tag("role", "cache")
            .tag("shard", *shard)
            .start()
            .await
            .unwrap();
        let (answerer, mut events) = (c.clone(), c.events());
        tokio::spawn(async move {
            while let Ok(event) = events.recv().await {
                if let Event::Query(q) = event
                    && q.name == "who-serves"
                {
                    let me = answerer.name().to_string();
                    let _ = answerer.respond(&q, me).await;
                    if let Err(Error::Command(CommandError::QueryOver)) = answerer.respond(&q, "again").await {
                        REFUSED_AGAIN.fetch_add(1, Ordering::Relaxed);
                    }
                }
            }
        });
        members.push(c);
    }
    join_all(&members).await;
    let n = members.len();
    assert!(eventually(LIMIT, || all_see_alive(&members, n)).await, "the cluster converges");
    // Every member knows the others' tags (they came with the joins).
    let tagged = || async {
        for m in &members {
            if m.members_with_tag("role", "cache").await.unwrap().len() != n {
                return false;
            }
        }
        true
    };
    assert!(eventually(LIMIT, tagged).await);
    members
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn who_serves_shard_7_is_answered_by_the_members_that_do() {
    let members = cluster(&["1", "7", "3", "7", "5"]).await;
    let options = QueryOptions::new().tag("shard", "7").timeout(Duration::from_secs(2));
    let mut replies = members[0].query("who-serves", "", options).await.unwrap();
    let (mut answers, mut acks) = (Vec::new(), Vec::new());
    while let Some(reply) = replies.next().await {
        match reply {
            QueryReply::Response { from, payload } => {
                assert_eq!(from.as_str(), std::str::from_utf8(&payload).ok(), "each answers with its name");
                answers.push(from.to_string());
            }
            QueryReply::Ack { from } => acks.push(from.to_string()),
        }
    }
    answers.sort();
    acks.sort();
    assert_eq!(answers, ["shard1", "shard3"]);
    assert_eq!(acks, ["shard1", "shard3"]);
    let summary = replies.summary().unwrap();
    assert_eq!((summary.asked, summary.answered, summary.acked), (2, 2, 2));

    // By name, without acknowledgements, collected at once.
    let options = QueryOptions::new().name("shard2").name("shard4").without_acks().timeout(Duration::from_secs(2));
    let (answers, summary) = members[1].query("who-serves", "", options).await.unwrap().collect().await;
    let mut from: Vec<String> = answers.iter().map(|(f, _)| f.to_string()).collect();
    from.sort();
    assert_eq!(from, ["shard2", "shard4"]);
    assert_eq!((summary.asked, summary.answered, summary.acked), (2, 2, 0));

    // Everyone (but the asker), with relays.
    let options = QueryOptions::new().relay(3).timeout(Duration::from_secs(2));
    let (answers, summary) = members[4].query("who-serves", "", options).await.unwrap().collect().await;
    assert_eq!((answers.len(), summary.asked, summary.answered), (4, 4, 4));
    let stats = members[4].stats().await.unwrap();
    assert_eq!(stats.queries_sent, 1);

    assert_eq!(REFUSED_AGAIN.load(Ordering::Relaxed), 2 + 2 + 4, "every second answer was refused");
    let bad = members[0].query("q", "", QueryOptions::new().relay(9)).await;
    assert!(matches!(bad, Err(Error::Command(CommandError::BadQuery(_)))), "{bad:?}");
    for m in &members {
        m.shutdown().await.unwrap();
    }
}
