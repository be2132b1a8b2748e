//! Admission: the allowed networks and the application's hook, each gate
//! on every path a member can come in by (a join request, gossip, a sync
//! record), and the memory that keeps repeats quiet.

use std::net::SocketAddr;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};

use swim_wire::{Addrs, Alive, JoinRequest, JoinStatus, Message};

use super::tests::{addr, config, drain_events, feed, name, node, packet, parse, transmits};
use super::*;
use crate::{CommandError, InputError, Network};

fn gossip_alive(from: u8, who: &[u8], incarnation: u32, at: &[SocketAddr]) -> Vec<u8> {
    let source = name(from);
    let alive =
        Message::Alive(Alive { generation: 1, incarnation, name: who, addrs: Addrs::from_slice(at), meta: b"" });
    packet(Message::Gossip(swim_wire::Gossip { source: &source }), &[alive])
}

fn join_request(who: &[u8], at: &[SocketAddr], meta: &[u8]) -> Vec<u8> {
    let member = Alive { generation: 1, incarnation: 0, name: who, addrs: Addrs::from_slice(at), meta };
    packet(Message::JoinRequest(JoinRequest { seq: 9, member }), &[])
}

fn status_of_answer(n: &mut Node) -> JoinStatus {
    let out = transmits(n, Time::ZERO);
    let Some(Message::JoinResponse(r)) = out.first().map(|(_, bytes)| parse(bytes).primary()) else {
        panic!("no join response")
    };
    r.status
}

fn ten_slash_24() -> Config {
    config().with(|c| c.security.allowed_networks = vec!["10.0.0.0/24".parse::<Network>().unwrap()])
}

#[test]
fn the_allowed_networks_gate_every_way_in() {
    let mut n = node(ten_slash_24());
    let outside: SocketAddr = "10.0.1.5:7946".parse().unwrap();
    // A datagram from outside: refused unread, nothing learned.
    let e = feed(&mut n, Time::ZERO, outside, &gossip_alive(5, b"x", 0, &[addr(5)]));
    assert_eq!(e, Err(InputError::NotAllowed(outside)));
    assert!(n.member(b"x").is_none());
    assert_eq!(n.stats().rejected_network, 1);
    // Gossip from inside about a member that gives an address outside (as
    // its second one, too): not added, reported once.
    for _ in 0..3 {
        feed(&mut n, Time::ZERO, addr(2), &gossip_alive(2, b"y", 0, &[addr(6), outside])).unwrap();
    }
    assert!(n.member(b"y").is_none());
    assert_eq!(drain_events(&mut n), ["not admitted y Some(10.0.0.6:7946)"]);
    assert_eq!(n.stats().members_not_admitted, 1, "repeats of one version are refused quietly");
    // A member inside, then an update that would move it outside.
    feed(&mut n, Time::ZERO, addr(2), &gossip_alive(2, b"z", 0, &[addr(7)])).unwrap();
    feed(&mut n, Time::ZERO, addr(2), &gossip_alive(2, b"z", 1, &[outside])).unwrap();
    assert_eq!(n.member(b"z").map(|m| (m.addrs.first().copied(), m.incarnation)), Some((Some(addr(7)), 0)));
    // A joiner advertising an address outside: told so.
    feed(&mut n, Time::ZERO, addr(3), &join_request(b"j", &[outside], b"")).unwrap();
    assert_eq!(status_of_answer(&mut n), JoinStatus::NotAdmitted);
    assert!(n.member(b"j").is_none());
    // A sync stream from outside: refused; from inside, fine.
    assert_eq!(n.accept_sync(Time::ZERO, outside), Err(CommandError::NotAllowed));
    assert!(n.accept_sync(Time::ZERO, addr(3)).is_ok());
    // Seeds outside are skipped; with none left, the join is refused.
    let mut joiner = Node::new(b"k", &[addr(9)], b"", ten_slash_24(), Time::ZERO).unwrap();
    assert_eq!(joiner.join(Time::ZERO, &[outside]), Err(CommandError::NotAllowed));
    assert!(joiner.join(Time::ZERO, &[outside, addr(0)]).is_ok());
    let sent: Vec<SocketAddr> = transmits(&mut joiner, Time::ZERO).into_iter().map(|(to, _)| to).collect();
    assert_eq!(sent, [addr(0)], "only the seed inside is asked");
    // And a node whose own address is outside does not start.
    assert!(Node::new(b"o", &[outside], b"", ten_slash_24(), Time::ZERO).is_err());
}

#[test]
fn the_hook_is_asked_once_per_new_member_and_version() {
    let mut n = node(config());
    let asked = Arc::new(AtomicUsize::new(0));
    let counter = asked.clone();
    n.set_admission(move |c: &Candidate<'_>| {
        counter.fetch_add(1, Ordering::Relaxed);
        c.meta == b"role=cache" || !c.joining && c.name.starts_with(b"n")
    });
    // A joiner with the wrong role: refused; the right one: accepted.
    feed(&mut n, Time::ZERO, addr(3), &join_request(b"web-1", &[addr(3)], b"role=web")).unwrap();
    assert_eq!(status_of_answer(&mut n), JoinStatus::NotAdmitted);
    feed(&mut n, Time::ZERO, addr(4), &join_request(b"cache-1", &[addr(4)], b"role=cache")).unwrap();
    assert_eq!(status_of_answer(&mut n), JoinStatus::Accepted);
    assert!(n.member(b"web-1").is_none() && n.member(b"cache-1").is_some());
    // Learned from gossip: the rule for others; repeats do not ask again.
    for _ in 0..3 {
        feed(&mut n, Time::ZERO, addr(2), &gossip_alive(2, b"stranger", 0, &[addr(8)])).unwrap();
    }
    feed(&mut n, Time::ZERO, addr(2), &gossip_alive(2, b"n5", 0, &[addr(5)])).unwrap();
    assert!(n.member(b"stranger").is_none() && n.member(b"n5").is_some());
    let events: Vec<String> = drain_events(&mut n).into_iter().filter(|e| e.starts_with("not admitted")).collect();
    assert_eq!(events, ["not admitted web-1 Some(10.0.0.3:7946)", "not admitted stranger Some(10.0.0.8:7946)"]);
    assert_eq!(asked.load(Ordering::Relaxed), 4, "web-1, cache-1, stranger once, n5");
    assert_eq!(n.stats().members_not_admitted, 2);
    // A newer version of a refused member is asked about again.
    feed(&mut n, Time::ZERO, addr(2), &gossip_alive(2, b"stranger", 1, &[addr(8)])).unwrap();
    assert_eq!(asked.load(Ordering::Relaxed), 5);
    // Known members are not asked again (cache-1 restarts at a new version).
    feed(&mut n, Time::ZERO, addr(2), &gossip_alive(2, b"cache-1", 3, &[addr(4)])).unwrap();
    assert_eq!(asked.load(Ordering::Relaxed), 5);
}

#[test]
fn a_refused_member_does_not_come_in_through_a_sync_record() {
    let mut n = node(config());
    n.set_admission(|c: &Candidate<'_>| c.name != b"n7");
    let id = n.accept_sync(Time::ZERO, addr(3)).unwrap();
    let (source, addrs) = (name(3), [addr(7)]);
    let flags = swim_wire::SyncFlags(swim_wire::SyncFlags::LAST);
    let sync = Message::Sync(swim_wire::Sync { flags, source: &source, total: 2, chunk: 0 });
    let record = |state| {
        Message::MemberRecord(swim_wire::MemberRecord {
            state,
            member: Alive { generation: 1, incarnation: 0, name: b"n7", addrs: Addrs::from_slice(&addrs), meta: b"" },
            by: &source,
        })
    };
    let records = [record(swim_wire::MemberState::Suspect), record(swim_wire::MemberState::Alive)];
    n.handle_sync_frame(Time::ZERO, id, &mut packet(sync, &records)).unwrap();
    assert!(n.member(b"n7").is_none(), "neither as a suspect nor alive");
    assert_eq!(n.stats().members_not_admitted, 1);
}
