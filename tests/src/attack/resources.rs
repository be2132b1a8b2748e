//! Attacks on what members share or do for others: nonces, the start-up
//! policy, sync slots, and helpers' pings.

use std::time::Duration;

use swim::{Cluster, Error};
use swim_wire::{IndirectPing, Message};
use tokio::net::{TcpStream, UdpSocket};

use super::Outcome;
use super::craft::{nonce_epoch, sealed};
use super::lab::{LABEL, LIMIT, Lab, config, loopback};

pub(super) async fn nonce_epochs(lab: &Lab) -> Outcome {
    // a0 and a1 run from one configuration, key included: the nonce epochs
    // they seal with must still differ (none can be configured).
    let epochs = |i: usize| -> std::collections::HashSet<u64> {
        lab.captures[i].lock().iter().filter_map(|(_, d)| nonce_epoch(d)).collect()
    };
    let (a, b) = (epochs(0), epochs(1));
    if a.is_empty() || b.is_empty() {
        return Outcome::Failed("no sealed datagram captured".into());
    }
    let shared: Vec<&u64> = a.intersection(&b).collect();
    if shared.is_empty() { Outcome::Refused } else { Outcome::Failed(format!("shared nonce epochs {shared:x?}")) }
}

pub(super) async fn insecure_start(_: &Lab) -> Outcome {
    let started = Cluster::builder("careless")
        .config(config())
        .bind("0.0.0.0:0".parse().unwrap_or_else(|_| loopback()))
        .advertise("127.0.0.1:7946".parse().unwrap_or_else(|_| loopback()))
        .start()
        .await;
    match started {
        Err(Error::Insecure { .. }) => Outcome::Refused,
        Ok(c) => {
            let _ = c.shutdown().await;
            Outcome::Failed("a member without keys started on 0.0.0.0".into())
        }
        Err(e) => Outcome::Failed(format!("refused for another reason: {e}")),
    }
}

pub(super) async fn idle_tcp(lab: &Lab) -> Outcome {
    // 50 connections that never send a byte, to a0's stream port.
    let mut idle = Vec::new();
    for _ in 0..50 {
        if let Ok(stream) = TcpStream::connect(lab.addr(0)).await {
            idle.push(stream);
        }
    }
    tokio::time::sleep(Duration::from_millis(200)).await;
    // A new member must still join through a0, and a0 must still sync.
    let before = lab.members[0].stats().await.map(|s| s.syncs_completed).unwrap_or(0);
    let joiner = Cluster::builder("late")
        .config(config().with(|c| c.sync.join_attempts = 5))
        .encrypt([lab.key.clone()])
        .bind(loopback())
        .start()
        .await;
    let joiner = match joiner {
        Ok(c) => c,
        Err(e) => return Outcome::Failed(format!("the joiner did not start: {e}")),
    };
    let joined = joiner.join([lab.addr(0)]).await;
    // The joiner's own join sync with a0 must complete too (join() returns
    // on a0's answer, before it).
    let join_synced = crate::net::eventually(LIMIT / 2, || async {
        joiner.stats().await.map(|s| s.syncs_completed).unwrap_or(0) >= 1
    })
    .await;
    // Half the time a held connection lasts (a sync session's deadline,
    // 20 s with LAN timing), and several sync intervals.
    let synced = crate::net::eventually(LIMIT / 2, || async {
        lab.members[0].stats().await.map(|s| s.syncs_completed).unwrap_or(0) >= before + 2
    })
    .await;
    let knows = joiner.members().await.map(|m| m.len()).unwrap_or(0);
    let _ = joiner.shutdown().await;
    drop(idle);
    match (joined, synced) {
        (Ok(_), true) if !join_synced => Outcome::Failed("the joiner's join sync never completed".into()),
        (Ok(_), true) if knows >= 5 => Outcome::Refused,
        (Ok(_), true) => Outcome::Failed(format!("the joiner learned only {knows} members")),
        (Ok(_), false) => Outcome::Failed("a0 completed no sync while the connections were held".into()),
        (Err(e), _) => Outcome::Failed(format!("the join failed: {e}")),
    }
}

pub(super) async fn reflection(lab: &Lab) -> Outcome {
    // A key holder asks a0 to probe a "member" at the victim's address.
    let Ok(victim) = UdpSocket::bind(loopback()).await else { return Outcome::Failed("no victim socket".into()) };
    let Ok(victim_addr) = victim.local_addr() else { return Outcome::Failed("no victim address".into()) };
    let refused_before = lab.members[0].stats().await.map(|s| s.indirect_pings_refused).unwrap_or(0);
    let mut sent = 0usize;
    for seq in 0..20u32 {
        let request = Message::IndirectPing(IndirectPing {
            seq,
            want_nack: true,
            source: b"a1",
            target: b"victim",
            target_generation: 1,
            target_incarnation: 0,
            target_addr: victim_addr,
            nack_after_us: 100_000,
        });
        let d = sealed(&lab.key, Some(b"a0"), LABEL, &request, &[]);
        sent += d.len();
        lab.send(0, &d).await;
    }
    tokio::time::sleep(Duration::from_secs(1)).await;
    let mut buf = [0u8; 65_536];
    let mut reflected = 0usize;
    while let Ok((len, _)) = victim.try_recv_from(&mut buf) {
        reflected += len;
    }
    let refused = lab.members[0].stats().await.map(|s| s.indirect_pings_refused).unwrap_or(0) - refused_before;
    if reflected == 0 && refused == 20 {
        Outcome::Refused
    } else if reflected == 0 {
        Outcome::Failed(format!("only {refused} of 20 requests seen and refused"))
    } else {
        Outcome::Failed(format!("a0 sent {reflected} bytes to an address outside the cluster ({sent} bytes asked)"))
    }
}
