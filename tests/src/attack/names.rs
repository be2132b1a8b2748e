//! Attacks on names: a certificate holder (QUIC) speaking for another
//! member, or moving another member's name to its own address.

use std::time::Duration;

use swim::tls::ClusterCa;
use swim::{Cluster, Transport};
use swim_wire::{Addrs, Alive, Gossip, Header, Message, PacketWriter, Ping};

use super::Outcome;
use super::lab::{LIMIT, Lab};
use crate::net::{all_see_alive, eventually, fast, join_all, view};

/// A packet (QUIC encrypts it) holding `primary` and `updates`.
fn packet(primary: &Message<'_>, updates: &[Message<'_>]) -> Vec<u8> {
    let mut buf = vec![0u8; 1200];
    let Ok(mut w) = PacketWriter::new(&mut buf, &Header::default(), 1200) else { return Vec::new() };
    if w.push(primary).is_err() || updates.iter().any(|u| w.push(u).is_err()) {
        return Vec::new();
    }
    let len = w.finish().unwrap_or(0);
    buf.truncate(len);
    buf
}

pub(super) async fn certificate_holder_takeover(_lab: &Lab) -> Outcome {
    // Its own QUIC cluster: three members and a fourth certificate, "evil",
    // signed by the same CA.
    let Ok(ca) = ClusterCa::generate("attacked") else { return Outcome::Failed("no CA".into()) };
    let mut members = Vec::new();
    for i in 0..3 {
        let name = format!("n{i}");
        let Ok(identity) = ca.issue(&name) else { return Outcome::Failed("no certificate".into()) };
        let builder = Cluster::builder(name).config(fast()).bind(super::lab::loopback());
        match builder.quic(identity).start().await {
            Ok(c) => members.push(c),
            Err(e) => return Outcome::Failed(format!("a QUIC member did not start: {e}")),
        }
    }
    let outcome = takeover(&ca, &members).await;
    for m in &members {
        let _ = m.shutdown().await;
    }
    outcome
}

async fn takeover(ca: &ClusterCa, members: &[Cluster]) -> Outcome {
    join_all(members).await;
    if !eventually(LIMIT, || all_see_alive(members, 3)).await {
        return Outcome::Failed("the QUIC cluster did not converge".into());
    }
    let Some(n1) = view(&members[0], "n1").await else { return Outcome::Failed("n1 unknown".into()) };
    let Ok(identity) = ca.issue("evil") else { return Outcome::Failed("no certificate".into()) };
    let Ok(evil) = swim::quic::QuicTransport::bind(super::lab::loopback(), &identity).await else {
        return Outcome::Failed("no QUIC endpoint for the attacker".into());
    };
    let evil_addr = [evil.local_addr()];
    let moved = Alive {
        generation: n1.generation + 1,
        incarnation: 0,
        name: b"n1",
        addrs: Addrs::from_slice(&evil_addr),
        meta: b"",
    };
    // In n1's name: a ping carrying n1's "move" to evil's address. In its
    // own name: the same move, second hand.
    let ping = Ping { seq: 1, source: b"n1", target: b"n0", target_generation: 0, target_incarnation: 0 };
    let as_n1 = packet(&Message::Ping(ping), &[Message::Alive(moved)]);
    let second_hand = packet(&Message::Gossip(Gossip { source: b"evil" }), &[Message::Alive(moved)]);
    let Ok(before) = members[0].stats().await else { return Outcome::Failed("no stats".into()) };
    let target = members[0].local_addr();
    for _ in 0..5 {
        if evil.send_to(&as_n1, target).await.is_err() || evil.send_to(&second_hand, target).await.is_err() {
            return Outcome::Failed("the attacker could not send".into());
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    let refused = eventually(LIMIT, || async {
        members[0].stats().await.is_ok_and(|s| {
            s.rejected_encryption >= before.rejected_encryption + 5 && s.moves_refused >= before.moves_refused + 5
        })
    })
    .await;
    if !refused {
        return Outcome::Failed(format!("not every claim refused: {:?}", members[0].stats().await));
    }
    for m in members {
        match view(m, "n1").await {
            Some(now) if now.generation == n1.generation && now.addrs == n1.addrs => {}
            other => return Outcome::Failed(format!("n1 moved: {other:?}")),
        }
    }
    Outcome::Refused
}

pub(super) async fn key_holder_same_process_takeover(lab: &Lab) -> Outcome {
    // The review's takeover with the cluster key: a2's verdict, then a2
    // "refuting" at the next incarnation from the attacker's address. The
    // same process cannot be at two addresses: a name conflict, refused;
    // a2 refutes the lie and stays where it is. (A newer generation is a
    // restart, which with a shared key anyone may claim: docs/security.md.)
    let views = lab.snapshot().await.views;
    let Some(&(_, generation, incarnation)) = views.first().and_then(|v| v.get("a2")) else {
        return Outcome::Failed("a2 unknown".into());
    };
    let Some(a2_at) = lab.members[0].members().await.ok().and_then(|v| v.into_iter().find(|m| m.name == "a2")) else {
        return Outcome::Failed("a2 unknown".into());
    };
    let Ok(attacker) = lab.attacker.local_addr() else { return Outcome::Failed("no attacker address".into()) };
    let evil = [attacker];
    let faulty = Message::Faulty(swim_wire::Faulty { generation, incarnation, name: b"a2", by: b"a1" });
    let moved = Message::Alive(Alive {
        generation,
        incarnation: incarnation + 1,
        name: b"a2",
        addrs: Addrs::from_slice(&evil),
        meta: b"",
    });
    let Ok(before) = lab.members[0].stats().await else { return Outcome::Failed("no stats".into()) };
    for _ in 0..3 {
        let d = super::craft::sealed(
            &lab.key,
            Some(b"a0"),
            super::lab::LABEL,
            &Message::Gossip(Gossip { source: b"a1" }),
            &[faulty, moved],
        );
        lab.send(0, &d).await;
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    let conflicts = eventually(LIMIT, || async {
        lab.members[0].stats().await.is_ok_and(|s| s.name_conflicts > before.name_conflicts)
    })
    .await;
    if !conflicts {
        return Outcome::Failed("no name conflict seen".into());
    }
    let settled = eventually(LIMIT, || async {
        for m in &lab.members {
            let view = m.members().await.unwrap_or_default();
            let ok = view.iter().any(|x| x.name == "a2" && x.addrs == a2_at.addrs && x.state == swim::State::Alive);
            if !ok {
                return false;
            }
        }
        true
    })
    .await;
    if settled { Outcome::Refused } else { Outcome::Failed("a2 moved, or did not recover from the lie".into()) }
}
