//! Attacks by datagrams: forged updates, captures replayed or altered,
//! garbage.

use std::time::Duration;

use swim::{Cluster, Error, JoinFailure, SecretKey, Stats};
use swim_wire::{Alive, Faulty, Gossip, JoinResponse, JoinStatus, Left, Message, Suspect};

use super::Outcome;
use super::craft::{garbage, plain, sealed};
use super::lab::{LABEL, Lab, Snapshot, config, false_alarms, loopback, wait_for_rise};

/// Sends each of `datagrams` to each member of `targets` (10 ms apart, so
/// that no socket buffer drops one), waits until `counter` says every one
/// was refused, and checks that nothing changed.
async fn forged(lab: &Lab, targets: &[usize], datagrams: &[Vec<u8>], counter: fn(&Stats) -> u64) -> Outcome {
    let each: Vec<(usize, Vec<u8>)> =
        targets.iter().flat_map(|&t| datagrams.iter().map(move |d| (t, d.clone()))).collect();
    forged_to(lab, &each, counter).await
}

/// As [`forged`], each datagram to its own member.
async fn forged_to(lab: &Lab, datagrams: &[(usize, Vec<u8>)], counter: fn(&Stats) -> u64) -> Outcome {
    if datagrams.iter().any(|(_, d)| d.is_empty()) {
        return Outcome::Failed("the attack's packets could not be written".into());
    }
    let before = lab.snapshot().await;
    let mut watch = lab.watch();
    lab.drain_attacker();
    for (t, d) in datagrams {
        lab.send(*t, d).await;
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    let expected = datagrams.len() as u64;
    let refused = wait_for_rise(lab, &before, expected, counter).await;
    // Give whatever got through time to show.
    tokio::time::sleep(Duration::from_secs(1)).await;
    settle(lab, &before, &mut watch, refused, expected).await
}

/// The common verdict: all refused, views unchanged, no alarms, nothing back.
async fn settle(lab: &Lab, before: &Snapshot, watch: &mut [swim::Events], refused: u64, expected: u64) -> Outcome {
    let after = lab.snapshot().await;
    if refused < expected {
        return Outcome::Failed(format!("{} of {expected} hostile datagrams not refused", expected - refused));
    }
    if let Some(why) = before.changed(&after) {
        return Outcome::Failed(why);
    }
    let alarms = false_alarms(watch);
    if !alarms.is_empty() {
        return Outcome::Failed(format!("false alarms: {alarms:?}"));
    }
    match lab.drain_attacker() {
        0 => Outcome::Refused,
        bytes => Outcome::Failed(format!("{bytes} bytes sent back to the attacker")),
    }
}

fn rejected(s: &Stats) -> u64 {
    s.packets_rejected
}

/// The victim's version as the cluster holds it.
async fn version_of(lab: &Lab, name: &str) -> (u64, u32) {
    let view = lab.members[0].members().await.unwrap_or_default();
    view.iter().find(|m| m.name == name).map_or((0, 0), |m| (m.generation, m.incarnation))
}

/// The same forged messages in plaintext and sealed with a wrong key.
fn both_ways(primary: &Message<'_>, updates: &[Message<'_>]) -> Vec<Vec<u8>> {
    let wrong = SecretKey([0x66; 32]);
    vec![plain(LABEL, primary, updates), sealed(&wrong, None, LABEL, primary, updates)]
}

pub(super) async fn fake_members(lab: &Lab) -> Outcome {
    let names: Vec<String> = (0..40).map(|i| format!("fake-{i}")).collect();
    let addr = [lab.attacker.local_addr().unwrap_or_else(|_| loopback())];
    let fakes: Vec<Message<'_>> = names
        .iter()
        .map(|n| {
            let addrs = swim_wire::Addrs::from_slice(&addr);
            Message::Alive(Alive { generation: 1, incarnation: 0, name: n.as_bytes(), addrs, meta: b"" })
        })
        .collect();
    let datagrams = both_ways(&Message::Gossip(Gossip { source: b"a1" }), &fakes);
    forged(lab, &[0, 1, 2, 3], &datagrams, rejected).await
}

pub(super) async fn forged_faulty(lab: &Lab) -> Outcome {
    let (generation, incarnation) = version_of(lab, "a2").await;
    let faulty = Message::Faulty(Faulty { generation, incarnation: incarnation + 1_000, name: b"a2", by: b"a1" });
    forged(lab, &[0, 1, 3], &both_ways(&Message::Gossip(Gossip { source: b"a1" }), &[faulty]), rejected).await
}

pub(super) async fn forged_left(lab: &Lab) -> Outcome {
    let (generation, incarnation) = version_of(lab, "a2").await;
    let left = Message::Left(Left { generation, incarnation: incarnation + 1_000, name: b"a2" });
    forged(lab, &[0, 1, 3], &both_ways(&Message::Gossip(Gossip { source: b"a2" }), &[left]), rejected).await
}

pub(super) async fn forged_suspect_self(lab: &Lab) -> Outcome {
    let (generation, incarnation) = version_of(lab, "a1").await;
    let health_before = lab.members[1].stats().await.map(|s| s.health).unwrap_or(0);
    let suspect = Message::Suspect(Suspect { generation, incarnation, name: b"a1", by: b"a2" });
    let mut datagrams = Vec::new();
    for _ in 0..10 {
        datagrams.extend(both_ways(&Message::Gossip(Gossip { source: b"a2" }), &[suspect]));
    }
    let outcome = forged(lab, &[1], &datagrams, rejected).await;
    let health_after = lab.members[1].stats().await.map(|s| s.health).unwrap_or(0);
    match outcome {
        Outcome::Refused if health_after > health_before + 1 => {
            Outcome::Failed(format!("a1's health went from {health_before} to {health_after}"))
        }
        other => other,
    }
}

pub(super) async fn join_hijack(lab: &Lab) -> Outcome {
    // A new member joins through a0 while the attacker floods it with
    // refusals for every sequence number it might be waiting on.
    let joiner =
        match Cluster::builder("joiner").config(config()).encrypt([lab.key.clone()]).bind(loopback()).start().await {
            Ok(c) => c,
            Err(e) => return Outcome::Failed(format!("the joiner did not start: {e}")),
        };
    let target = joiner.local_addr();
    let mut hostile = Vec::new();
    for seq in 0..64u32 {
        let response = Message::JoinResponse(JoinResponse {
            seq: seq.wrapping_mul(0x9e37_79b9),
            status: JoinStatus::NameConflict,
            source: b"a0",
            known_generation: 0,
            known_incarnation: 0,
            members: 1,
        });
        hostile.extend(both_ways(&response, &[]));
    }
    let before = joiner.stats().await.map(|s| s.packets_rejected).unwrap_or(0);
    for d in &hostile {
        let _ = lab.attacker.send_to(d, target).await;
    }
    let joined = joiner.join([lab.addr(0)]).await;
    for d in &hostile {
        let _ = lab.attacker.send_to(d, target).await;
    }
    tokio::time::sleep(Duration::from_millis(500)).await;
    let refused = joiner.stats().await.map(|s| s.packets_rejected).unwrap_or(0) - before;
    let _ = joiner.shutdown().await;
    match joined {
        Ok(_) if refused >= 2 * hostile.len() as u64 => Outcome::Refused,
        Ok(_) => Outcome::Failed(format!("{} forged join responses accepted", 2 * hostile.len() as u64 - refused)),
        Err(e) => Outcome::Failed(format!("the join failed: {e}")),
    }
}

pub(super) async fn wrong_key_join(lab: &Lab) -> Outcome {
    let before = lab.snapshot().await;
    let intruder = Cluster::builder("intruder")
        .config(config().with(|c| c.sync.join_attempts = 3))
        .encrypt([SecretKey([0x66; 32])])
        .bind(loopback())
        .seeds([lab.addr(0)])
        .start()
        .await;
    let after = lab.snapshot().await;
    if let Ok(c) = &intruder {
        let _ = c.shutdown().await;
        return Outcome::Failed("the intruder joined".into());
    }
    if !matches!(intruder, Err(Error::JoinFailed(JoinFailure::NoAnswer))) {
        return Outcome::Failed(format!("unexpected: {:?}", intruder.err()));
    }
    let refused = before.rise(&after, |s| s.rejected_key);
    if refused < 3 {
        return Outcome::Failed(format!("only {refused} join attempts counted as wrong-key"));
    }
    match before.changed(&after) {
        Some(why) => Outcome::Failed(why),
        None => Outcome::Refused,
    }
}

/// The last `count` datagrams `a0` sent to other members, with the index
/// of the member each went to (waiting, within the limit, until it has
/// sent that many).
async fn captured(lab: &Lab, count: usize) -> Vec<(usize, Vec<u8>)> {
    let addrs: Vec<_> = (0..lab.members.len()).map(|i| lab.addr(i)).collect();
    let sent = || -> Vec<(usize, Vec<u8>)> {
        let all = lab.captures[0].lock();
        all.iter().filter_map(|(d, b)| Some((addrs.iter().position(|a| a == d)?, b.clone()))).collect()
    };
    let deadline = tokio::time::Instant::now() + super::lab::LIMIT;
    while sent().len() < count && tokio::time::Instant::now() < deadline {
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    let all = sent();
    all[all.len().saturating_sub(count)..].to_vec()
}

pub(super) async fn tampering(lab: &Lab) -> Outcome {
    let mut datagrams = captured(lab, 20).await;
    if datagrams.len() < 20 {
        return Outcome::Failed(format!("captured only {} datagrams", datagrams.len()));
    }
    for (i, (_, d)) in datagrams.iter_mut().enumerate() {
        let at = d.len() - 1 - i % (d.len() / 2);
        d[at] ^= 0x20;
    }
    forged_to(lab, &datagrams, |s| s.rejected_key).await
}

pub(super) async fn foreign_label(lab: &Lab) -> Outcome {
    // The right key, another cluster's label.
    let gossip = Message::Gossip(Gossip { source: b"a1" });
    let datagrams: Vec<Vec<u8>> = (0..10).map(|_| sealed(&lab.key, None, b"other-cluster", &gossip, &[])).collect();
    forged(lab, &[0, 1], &datagrams, |s| s.rejected_label).await
}

pub(super) async fn garbage_flood(lab: &Lab) -> Outcome {
    let mut state = 0x1234_5678_9abc_def1;
    let mut datagrams: Vec<Vec<u8>> = (0..2_000).map(|i| garbage(&mut state, 1 + (i * 37) % 1400)).collect();
    // A quarter start like a sealed packet of this cluster's version.
    for d in datagrams.iter_mut().step_by(4).filter(|d| d.len() > 9) {
        d[..5].copy_from_slice(&[b'S', b'W', swim_wire::PROTOCOL_VERSION, 0x03, 0x09]);
    }
    let before = lab.snapshot().await;
    let mut watch = lab.watch();
    // In batches of 50 (about 35 KB, far below a socket's receive buffer),
    // each sent once the member has refused the one before: however busy
    // the machine, no datagram is lost before the member sees it.
    let mut sent = 0u64;
    for batch in datagrams.chunks(50) {
        for d in batch {
            lab.send(1, d).await;
        }
        sent += batch.len() as u64;
        wait_for_rise(lab, &before, sent, rejected).await;
    }
    let expected = datagrams.len() as u64;
    let refused = wait_for_rise(lab, &before, expected, rejected).await;
    settle(lab, &before, &mut watch, refused, expected).await
}

pub(super) async fn oversize(lab: &Lab) -> Outcome {
    let datagrams: Vec<Vec<u8>> = (0..10).map(|i| vec![i as u8; 60_000]).collect();
    forged(lab, &[0], &datagrams, |s| s.rejected_malformed).await
}

pub(super) async fn replay(lab: &Lab) -> Outcome {
    let datagrams = captured(lab, 20).await;
    if datagrams.len() < 20 {
        return Outcome::Failed(format!("captured only {} datagrams", datagrams.len()));
    }
    forged_to(lab, &datagrams, |s| s.rejected_replay).await
}

pub(super) async fn cross_member_replay(lab: &Lab) -> Outcome {
    // a0's datagrams, each replayed to a member it was not sent to.
    let datagrams = captured(lab, 20).await;
    if datagrams.len() < 20 {
        return Outcome::Failed(format!("captured only {} datagrams", datagrams.len()));
    }
    let elsewhere: Vec<(usize, Vec<u8>)> = datagrams.into_iter().map(|(to, d)| (1 + to % 3, d)).collect();
    forged_to(lab, &elsewhere, rejected).await
}

/// The kind of the primary message of `datagram`, sealed with `key` for the
/// member named `to` (the lab holds the key; an eavesdropper would tell acks
/// apart by size and timing).
fn primary_kind(key: &SecretKey, to: &str, datagram: &[u8]) -> Option<swim_wire::Kind> {
    let ring = swim_wire::crypto::Keyring::new(&key.0);
    let mut buf = datagram.to_vec();
    let opts = swim_wire::DecodeOptions::default();
    let tag = swim_wire::crypto::ReceiverTag::of(to.as_bytes());
    let opened = ring.open(&mut buf, datagram.len(), &opts, &tag).ok()?;
    let packet = swim_wire::Packet::parse(buf.get(..opened.len)?, &opts).ok()?;
    Some(packet.primary().kind())
}

pub(super) async fn replayed_acks(lab: &Lab) -> Outcome {
    // a1's acks, captured; then a1 crashes, and the captures are replayed
    // to every survivor, over and over, to keep a1 looking alive.
    let addrs: Vec<_> = (0..lab.members.len()).map(|i| lab.addr(i)).collect();
    let acks = || -> Vec<Vec<u8>> {
        let all = lab.captures[1].lock();
        all.iter()
            .filter_map(|(d, b)| {
                let to = addrs.iter().position(|a| a == d)?;
                (primary_kind(&lab.key, &format!("a{to}"), b)? == swim_wire::Kind::Ack).then(|| b.clone())
            })
            .collect()
    };
    let deadline = tokio::time::Instant::now() + super::lab::LIMIT;
    while acks().len() < 6 && tokio::time::Instant::now() < deadline {
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    let acks = acks();
    if acks.len() < 6 {
        return Outcome::Failed(format!("captured only {} acks", acks.len()));
    }
    let before = lab.snapshot().await;
    if lab.members[1].shutdown().await.is_err() {
        return Outcome::Failed("a1 did not stop".into());
    }
    let survivors = [0usize, 2, 3];
    let deadline = tokio::time::Instant::now() + super::lab::LIMIT * 2;
    let mut rounds = 0u64;
    loop {
        for &i in &survivors {
            for d in &acks {
                lab.send(i, d).await;
            }
        }
        rounds += 1;
        tokio::time::sleep(Duration::from_millis(200)).await;
        let mut all_see_faulty = true;
        for &i in &survivors {
            let view = lab.members[i].members().await.unwrap_or_default();
            all_see_faulty &= view.iter().any(|m| m.name == "a1" && m.state == swim::State::Faulty);
        }
        if all_see_faulty {
            break;
        }
        if tokio::time::Instant::now() >= deadline {
            return Outcome::Failed(format!("a1 still not faulty everywhere after {rounds} rounds of replayed acks"));
        }
    }
    let after = lab.snapshot().await;
    let sent = rounds * (survivors.len() * acks.len()) as u64;
    let refused = before.rise(&after, rejected);
    // Every replay that arrived before the last snapshot was refused (the
    // last round may still be in flight).
    let last_round = (survivors.len() * acks.len()) as u64;
    if refused + last_round < sent {
        return Outcome::Failed(format!("{refused} of {sent} replayed acks refused"));
    }
    Outcome::Refused
}
