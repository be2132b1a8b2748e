//! Five members on loopback: each subscribes, all join, one is killed, and
//! every survivor reports what it saw. (`cargo run --example five`; CI runs
//! it, and it exits with an error unless each survivor saw four members join
//! and the killed one declared faulty.)

#![allow(clippy::indexing_slicing)] // five members, indexed 0 to 4

use std::time::Duration;

use swim::{Cluster, Config, Event};

#[tokio::main]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    let (mut members, mut subscriptions) = (Vec::new(), Vec::new());
    for i in 0..5 {
        let member =
            Cluster::builder(format!("m{i}")).config(Config::local()).bind("127.0.0.1:0".parse()?).start().await?;
        let (_, events) = member.subscribe().await?; // from before the join: every MemberJoined
        subscriptions.push(events);
        members.push(member);
    }
    for member in &members[1..] {
        member.join([members[0].local_addr()]).await?;
    }
    for member in &members {
        member.wait_for_members(5, Duration::from_secs(10)).await?;
    }
    members[4].shutdown().await?; // no goodbye: the others must detect it
    for (i, events) in subscriptions.iter_mut().take(4).enumerate() {
        let mut joined = 0;
        loop {
            match tokio::time::timeout(Duration::from_secs(20), events.recv()).await?? {
                Event::MemberJoined(_) => joined += 1,
                Event::MemberFaulty { member, by } => {
                    println!("m{i} saw {joined} members join, then {} declared faulty by {by}", member.name);
                    break;
                }
                _ => {}
            }
        }
        if joined != 4 {
            return Err(format!("m{i} saw {joined} members join, not 4").into());
        }
    }
    Ok(())
}
