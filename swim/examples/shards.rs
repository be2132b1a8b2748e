//! Who serves shard 7? Six members on loopback, tagged by role and by the
//! shards they serve; one asks the caches, the right ones answer; then a
//! cache takes a shard over, everyone sees its tags change, and the same
//! question gets the new answer. The asker finally sends the new owner a
//! reliable direct message.
//!
//! `cargo run --example shards` (CI runs it; it exits with an error unless
//! every answer is the expected one).

#![allow(clippy::indexing_slicing)] // six members, indexed 0 to 5

use std::time::Duration;

use swim::{Cluster, Config, Event, QueryOptions};

/// Name, role, shards served.
const MEMBERS: [(&str, &str, &str); 6] = [
    ("web-1", "web", ""),
    ("cache-a", "cache", "1,7"),
    ("cache-b", "cache", "2,5"),
    ("cache-c", "cache", "3,7"),
    ("cache-d", "cache", "4,6"),
    ("db-1", "db", ""),
];

/// Starts a member that answers "who-serves <shard>" when its `shards`
/// tag lists the shard, and prints the tag changes and messages it sees.
async fn start(name: &str, role: &str, shards: &str) -> Result<Cluster, Box<dyn std::error::Error>> {
    let member = Cluster::builder(name)
        .config(Config::local())
        .bind("127.0.0.1:0".parse()?)
        .tag("role", role)
        .tag("shards", shards)
        .start()
        .await?;
    let (me, mut events) = (member.clone(), member.events());
    tokio::spawn(async move {
        while let Ok(event) = events.recv().await {
            match event {
                Event::Query(q) if q.name == "who-serves" => {
                    let local = match me.local_member().await {
                        Ok(m) => m,
                        Err(_) => return,
                    };
                    let shard = String::from_utf8_lossy(&q.payload).into_owned();
                    if local.tag("shards").is_some_and(|s| s.split(',').any(|x| x == shard)) {
                        let _ = me.respond(&q, format!("{} serves shard {shard}", me.name())).await;
                    }
                }
                Event::MemberUpdated { member, changed_tags, .. } if me.name() == "web-1" => {
                    for change in changed_tags {
                        println!("  web-1 sees {} change its tags: {change}", member.name);
                    }
                }
                Event::Message { from, payload, reliable } => {
                    let how = if reliable { "reliably" } else { "best effort" };
                    println!(
                        "  {} got a message from {from} ({how}): {}",
                        me.name(),
                        String::from_utf8_lossy(&payload)
                    );
                }
                _ => {}
            }
        }
    });
    Ok(member)
}

/// Asks the caches who serves `shard`; returns the answerers, sorted.
async fn who_serves(asker: &Cluster, shard: &str) -> Result<Vec<String>, swim::Error> {
    let options = QueryOptions::new().tag("role", "cache").timeout(Duration::from_secs(2));
    let (answers, summary) = asker.query("who-serves", shard.to_owned(), options).await?.collect().await;
    println!("  {} asked the caches \"who serves shard {shard}?\":", asker.name());
    let mut names = Vec::new();
    for (from, payload) in answers {
        println!("    {from}: {}", String::from_utf8_lossy(&payload));
        names.push(from.to_string());
    }
    println!("    ({} caches asked, {} acknowledged, {} answered)", summary.asked, summary.acked, summary.answered);
    names.sort();
    Ok(names)
}

#[tokio::main]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    let mut members = Vec::new();
    for (name, role, shards) in MEMBERS {
        members.push(start(name, role, shards).await?);
    }
    for m in &members[1..] {
        m.join([members[0].local_addr()]).await?;
    }
    for m in &members {
        m.wait_for_members(MEMBERS.len(), Duration::from_secs(10)).await?;
    }
    println!("six members up: web-1, cache-a..d (each tagged with the shards it serves), db-1\n");

    let first = who_serves(&members[0], "7").await?;
    if first != ["cache-a", "cache-c"] {
        return Err(format!("shard 7 should be served by cache-a and cache-c, got {first:?}").into());
    }

    println!("\n  cache-d takes shard 7 over from cache-c");
    members[4].set_tag("shards", "4,6,7").await?;
    members[3].set_tag("shards", "3").await?;
    // Both changes reach web-1 by gossip before it asks again.
    let mut view = members[0].watch().await?;
    view.wait_for(|ms| {
        ms.iter().any(|m| m.name == "cache-d" && m.tag("shards") == Some("4,6,7"))
            && ms.iter().any(|m| m.name == "cache-c" && m.tag("shards") == Some("3"))
    })
    .await?;
    println!();
    let second = who_serves(&members[0], "7").await?;
    if second != ["cache-a", "cache-d"] {
        return Err(format!("shard 7 should now be served by cache-a and cache-d, got {second:?}").into());
    }

    println!();
    members[0].send_reliable("cache-d", "warm shard 7, please").await?;
    tokio::time::sleep(Duration::from_millis(200)).await;
    for m in &members {
        m.shutdown().await?;
    }
    Ok(())
}
