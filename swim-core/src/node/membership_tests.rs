//! Precedence, restarts, name conflicts and suspicion hearsay, driven by
//! hand: the rules of `membership.rs`, one at a time.

use core::time::Duration;
use std::net::SocketAddr;

use swim_wire::{Addrs, Alive, Faulty, JoinRequest, JoinStatus, Kind, Left, Message, Suspect};

use super::tests::{addr, config, drain_events, feed, introduce, name, node, packet, parse, state_of, transmits};
use super::*;

/// A gossip datagram from `n{from}` carrying `updates`.
fn gossip(from: u8, updates: &[Message<'_>]) -> Vec<u8> {
    let source = name(from);
    packet(Message::Gossip(swim_wire::Gossip { source: &source }), updates)
}

fn alive<'a>(who: &'a [u8], generation: u64, incarnation: u32, at: &'a [SocketAddr]) -> Message<'a> {
    Message::Alive(Alive { generation, incarnation, name: who, addrs: Addrs::from_slice(at), meta: b"" })
}

fn faulty_of(who: &[u8]) -> Message<'_> {
    Message::Faulty(Faulty { generation: 0, incarnation: 0, name: who, by: b"n3" })
}

fn left_of(who: &[u8]) -> Message<'_> {
    Message::Left(Left { generation: 0, incarnation: 0, name: who })
}

fn record<'a>(state: swim_wire::MemberState, who: &'a [u8], at: &'a [SocketAddr], by: &'a [u8]) -> Message<'a> {
    Message::MemberRecord(swim_wire::MemberRecord {
        state,
        member: Alive { generation: 0, incarnation: 0, name: who, addrs: Addrs::from_slice(at), meta: b"" },
        by,
    })
}

fn version(n: &Node, i: u8) -> Option<(State, u64, u32)> {
    n.member(&name(i)).map(|m| (m.state, m.generation, m.incarnation))
}

#[test]
fn left_beats_faulty_at_the_same_version_and_faulty_never_replaces_left() {
    // Regression (the flaky leave in net_udp): whichever terminal state
    // arrived first used to stay for good.
    let mut n = node(config());
    introduce(&mut n, Time::ZERO, 3);
    let (one, two) = (name(1), name(2));
    let (faulty, left) = (faulty_of, left_of);
    // n1: faulty first, then its departure: the departure wins.
    feed(&mut n, Time::ZERO, addr(3), &gossip(3, &[faulty(&one)])).unwrap();
    assert_eq!(state_of(&n, 1), Some(State::Faulty));
    feed(&mut n, Time::ZERO, addr(3), &gossip(3, &[left(&one)])).unwrap();
    assert_eq!(state_of(&n, 1), Some(State::Left));
    assert!(drain_events(&mut n).contains(&"left n1".to_owned()), "the application learns the correction");
    // n2: its departure first, then a verdict at the same version: ignored,
    // and the departure goes straight back to whoever sent the verdict.
    feed(&mut n, Time::ZERO, addr(3), &gossip(3, &[left(&two)])).unwrap();
    transmits(&mut n, Time::ZERO);
    feed(&mut n, Time::ZERO, addr(3), &gossip(3, &[faulty(&two)])).unwrap();
    assert_eq!(state_of(&n, 2), Some(State::Left));
    let out = transmits(&mut n, Time::ZERO);
    let pushed = out.iter().any(|(to, bytes)| {
        let p = parse(bytes);
        *to == addr(3)
            && p.primary().kind() == Kind::Gossip
            && p.piggyback().any(|m| matches!(m, Message::Left(l) if l.name == &two[..]))
    });
    assert!(pushed, "the departure is pushed back at the member that disagrees: {out:?}");
    assert_eq!(n.stats().departures_pushed_back, 1);
    // A stale suspicion is answered the same way; nothing changes.
    let suspect = Message::Suspect(Suspect { generation: 0, incarnation: 0, name: &two, by: b"n3" });
    feed(&mut n, Time::ZERO, addr(3), &gossip(3, &[suspect])).unwrap();
    assert_eq!((state_of(&n, 2), n.stats().departures_pushed_back), (Some(State::Left), 2));
    // A datagram of many stale claims gets a bounded answer: gossip carries
    // the departure, and the direct push-backs to one source are limited.
    transmits(&mut n, Time::ZERO);
    let stale: Vec<_> = (0..20).map(|_| suspect).collect();
    feed(&mut n, Time::from_secs(5), addr(3), &gossip(3, &stale)).unwrap();
    assert_eq!(n.stats().departures_pushed_back, 22);
    let direct = transmits(&mut n, Time::from_secs(5)).iter().filter(|(to, _)| *to == addr(3)).count();
    assert!(direct <= 2, "{direct} datagrams back to the source");
}

#[test]
fn a_newer_process_replaces_the_old_one_at_once_even_from_a_new_address() {
    let mut n = node(config());
    introduce(&mut n, Time::ZERO, 2);
    let one = name(1);
    let moved = [addr(51)];
    // Same generation, another address: another process, refused.
    feed(&mut n, Time::ZERO, addr(2), &gossip(2, &[alive(&one, 0, 3, &moved)])).unwrap();
    assert_eq!(n.member(&one).unwrap().addrs, &[addr(1)][..]);
    assert_eq!(drain_events(&mut n), [format!("conflict n1 {} {}", addr(1), addr(51))]);
    // A newer generation (the member restarted, in a container elsewhere):
    // it replaces the entry while the old process is still held alive.
    feed(&mut n, Time::ZERO, addr(2), &gossip(2, &[alive(&one, 7, 0, &moved)])).unwrap();
    assert_eq!(version(&n, 1), Some((State::Alive, 7, 0)));
    assert_eq!(n.member(&one).unwrap().addrs, &moved[..]);
    assert_eq!(drain_events(&mut n), ["updated n1 meta= (was )"], "the application sees the restart");
    // The old process's updates (an older generation) change nothing now,
    // whatever their incarnation.
    feed(&mut n, Time::ZERO, addr(2), &gossip(2, &[alive(&one, 0, 99, &[addr(1)])])).unwrap();
    let stale = Message::Faulty(Faulty { generation: 0, incarnation: 99, name: &one, by: b"n2" });
    feed(&mut n, Time::ZERO, addr(2), &gossip(2, &[stale])).unwrap();
    assert_eq!(version(&n, 1), Some((State::Alive, 7, 0)));
    // A seed admits the restarted process's join request too.
    let request = packet(
        Message::JoinRequest(JoinRequest {
            seq: 4,
            member: Alive {
                generation: 8,
                incarnation: 0,
                name: &one,
                addrs: Addrs::from_slice(&[addr(52)]),
                meta: b"",
            },
        }),
        &[],
    );
    feed(&mut n, Time::ZERO, addr(52), &request).unwrap();
    let out = transmits(&mut n, Time::ZERO);
    let Message::JoinResponse(r) = parse(&out[0].1).primary() else { panic!() };
    assert_eq!(r.status, JoinStatus::Accepted);
    assert_eq!(version(&n, 1), Some((State::Alive, 8, 0)));
}

#[test]
fn a_verdict_about_a_newer_process_never_moves_the_entry_to_it() {
    // Regression (cluster fuzzer): adopting the newer generation without its
    // address made the new process's own alive updates name conflicts.
    let mut n = node(config());
    introduce(&mut n, Time::ZERO, 2);
    let one = name(1);
    let faulty = Message::Faulty(Faulty { generation: 5, incarnation: 0, name: &one, by: b"n2" });
    feed(&mut n, Time::ZERO, addr(2), &gossip(2, &[faulty])).unwrap();
    assert_eq!(version(&n, 1), Some((State::Faulty, 0, 0)), "the old process is gone too; held at its own version");
    let suspect = Message::Suspect(Suspect { generation: 6, incarnation: 0, name: &one, by: b"n2" });
    feed(&mut n, Time::ZERO, addr(2), &gossip(2, &[suspect])).unwrap();
    assert_eq!(version(&n, 1), Some((State::Faulty, 0, 0)));
    // The newer process, refuting from its own address, is accepted.
    feed(&mut n, Time::ZERO, addr(2), &gossip(2, &[alive(&one, 5, 1, &[addr(61)])])).unwrap();
    assert_eq!(version(&n, 1), Some((State::Alive, 5, 1)));
    assert_eq!(n.stats().name_conflicts, 0);
}

#[test]
fn two_live_processes_with_one_name_report_a_conflict_and_never_fight() {
    let mut n = node(config());
    introduce(&mut n, Time::ZERO, 2);
    let me = name(0);
    // Another process claims this node's name from elsewhere, at the same
    // generation and a higher incarnation, again and again.
    for incarnation in [1, 2, 3] {
        feed(&mut n, Time::ZERO, addr(77), &gossip(2, &[alive(&me, 0, incarnation, &[addr(77)])])).unwrap();
    }
    assert_eq!(n.incarnation(), 0, "no refutation: that would start an incarnation race");
    assert_eq!(n.stats().refutations, 0);
    let events = drain_events(&mut n);
    assert_eq!(events, [format!("conflict n0 {} {}", addr(0), addr(77))], "reported once per period: {events:?}");
    // A newer process of this name elsewhere: this one is superseded; it
    // reports the conflict and still does not refute.
    feed(&mut n, Time::from_secs(2), addr(77), &gossip(2, &[alive(&me, 9, 0, &[addr(77)])])).unwrap();
    assert_eq!((n.local().generation, n.incarnation()), (0, 0));
    assert_eq!(drain_events(&mut n), [format!("conflict n0 {} {}", addr(0), addr(77))]);
    // From its own address, a newer version is a past life of this process
    // (its clock went back, or it reused a generation): it resumes as the
    // next generation.
    feed(&mut n, Time::from_secs(2), addr(2), &gossip(2, &[alive(&me, 9, 4, &[addr(0)])])).unwrap();
    assert_eq!((n.local().generation, n.incarnation()), (10, 0));
}

#[test]
fn a_suspicion_learned_by_sync_is_passed_on_in_the_accusers_name() {
    // Regression: the sync peer became the accuser, and the gossiped copy
    // counted as an independent confirmation elsewhere.
    let mut n = node(config().with(|c| c.suspicion.mult = 4));
    introduce(&mut n, Time::ZERO, 5);
    let id = n.accept_sync(Time::ZERO, addr(3)).unwrap();
    let (source, member, at) = (name(3), name(1), [addr(1)]);
    let flags = swim_wire::SyncFlags(swim_wire::SyncFlags::LAST);
    let sync = Message::Sync(swim_wire::Sync { flags, source: &source, total: 1, chunk: 0 });
    let record = Message::MemberRecord(swim_wire::MemberRecord {
        state: swim_wire::MemberState::Suspect,
        member: Alive { generation: 0, incarnation: 0, name: &member, addrs: Addrs::from_slice(&at), meta: b"" },
        by: b"n4",
    });
    n.handle_sync_frame(Time::ZERO, id, &mut packet(sync, &[record])).unwrap();
    assert_eq!(state_of(&n, 1), Some(State::Suspect));
    assert!(drain_events(&mut n).contains(&"suspected n1 by n4".to_owned()));
    let (to, bytes) = super::tests::next_probe_packet(&mut n, Time::ZERO);
    let carried =
        parse(&bytes).piggyback().find_map(|m| if let Message::Suspect(s) = m { Some(s.by.to_vec()) } else { None });
    assert_eq!(carried.as_deref(), Some(&b"n4"[..]), "gossiped in the accuser's name (to {to})");
}

#[test]
fn the_joiner_keeps_suspects_it_learns_in_its_join_sync() {
    let mut n = node(config());
    // The seed's table, as a join sync reply: n1 alive, n2 suspect (by n1).
    let id = n.open_sync(Time::ZERO, addr(1), true, None).unwrap();
    let mut buf = vec![0u8; 64 * 1024];
    while n.poll_sync_frame(id, &mut buf).is_some() {}
    let source = name(1);
    let flags =
        swim_wire::SyncFlags(swim_wire::SyncFlags::LAST | swim_wire::SyncFlags::REPLY | swim_wire::SyncFlags::JOIN);
    let sync = Message::Sync(swim_wire::Sync { flags, source: &source, total: 2, chunk: 0 });
    let (one, two) = (name(1), name(2));
    let (a1, a2) = ([addr(1)], [addr(2)]);
    let rec = record;
    let records =
        [rec(swim_wire::MemberState::Alive, &one, &a1, b""), rec(swim_wire::MemberState::Suspect, &two, &a2, b"n1")];
    n.handle_sync_frame(Time::ZERO, id, &mut packet(sync, &records)).unwrap();
    assert_eq!(state_of(&n, 1), Some(State::Alive));
    assert_eq!(state_of(&n, 2), Some(State::Suspect), "a live suspect is part of the first view");
    assert_eq!(n.live_members(), 3);
}

#[test]
fn confirmations_count_only_members_this_node_knows() {
    let faulty_after = |accusers: &[&[u8]]| {
        let mut n = node(config().with(|c| {
            c.suspicion.mult = 4;
            c.suspicion.max_mult = 6;
        }));
        introduce(&mut n, Time::ZERO, 9);
        for by in accusers {
            let s = Message::Suspect(Suspect { generation: 0, incarnation: 0, name: &name(1), by });
            feed(&mut n, Time::ZERO, addr(2), &gossip(2, &[s])).unwrap();
        }
        let mut now = Time::ZERO;
        while state_of(&n, 1) == Some(State::Suspect) {
            now += Duration::from_millis(10);
            n.handle_timeout(now);
        }
        now
    };
    let alone = faulty_after(&[b"n2"]);
    let strangers = faulty_after(&[b"n2", b"ghost-1", b"ghost-2"]);
    let known = faulty_after(&[b"n2", b"n3", b"n4"]);
    assert_eq!(strangers, alone, "unknown names confirm nothing");
    assert!(known < alone, "{known:?} < {alone:?}");
}

#[test]
fn a_probe_of_a_member_that_left_meanwhile_costs_no_health() {
    let mut n = node(config());
    introduce(&mut n, Time::ZERO, 4);
    let (target, _, sent) = super::tests::next_probe(&mut n, Time::ZERO);
    let left = Message::Left(Left { generation: 0, incarnation: 0, name: &name(target) });
    feed(&mut n, sent + Duration::from_millis(10), addr(2), &gossip(2, &[left])).unwrap();
    n.handle_timeout(sent + Duration::from_millis(500));
    let helpers = transmits(&mut n, sent + Duration::from_millis(500));
    assert!(helpers.iter().all(|(_, b)| parse(b).primary().kind() != Kind::IndirectPing), "no help needed");
    n.handle_timeout(sent + Duration::from_secs(1));
    assert_eq!((n.health(), n.stats().probes_failed), (0, 0));
}

#[test]
fn suspicion_deadlines_stay_bounded_under_suspect_alive_storms() {
    let mut n = node(config().with(|c| c.limits.expected_members = 16));
    introduce(&mut n, Time::ZERO, 3);
    let one = name(1);
    for i in 0..20_000u32 {
        let s = Message::Suspect(Suspect { generation: 0, incarnation: 2 * i, name: &one, by: b"n2" });
        let at = [addr(1)];
        let a = alive(&one, 0, 2 * i + 1, &at);
        feed(&mut n, Time::ZERO, addr(2), &gossip(2, &[s, a])).unwrap();
        assert_eq!(n.check_invariants(), Ok(()), "after {i} pairs");
    }
    assert_eq!(state_of(&n, 1), Some(State::Alive));
}

#[test]
fn a_member_declared_faulty_refutes_and_syncs_with_whoever_said_so() {
    // A member that was cut off holds views as stale as the others' view of
    // it: besides refuting, it syncs with the member that told it.
    let mut n = node(config().with(|c| c.sync.interval = Duration::from_secs(30)));
    introduce(&mut n, Time::ZERO, 3);
    let verdict = Message::Faulty(Faulty { generation: 0, incarnation: 0, name: &name(0), by: b"n2" });
    feed(&mut n, Time::ZERO, addr(3), &gossip(3, &[verdict])).unwrap();
    assert_eq!(n.incarnation(), 1, "refuted");
    let open = n.poll_sync_open().expect("a sync with the member that said so");
    assert_eq!(open.peer, addr(3));
    assert_eq!(n.stats().resyncs, 1);
    // Once per sync interval at most.
    let verdict = Message::Faulty(Faulty { generation: 0, incarnation: 1, name: &name(0), by: b"n2" });
    feed(&mut n, Time::from_secs(1), addr(1), &gossip(1, &[verdict])).unwrap();
    assert_eq!(n.incarnation(), 2);
    assert_eq!(n.poll_sync_open(), None);
}

#[test]
fn pings_from_a_member_held_faulty_lead_to_a_sync_with_it() {
    // Regression (cluster fuzzer): a restarted member that did not know
    // this node never learned that this node held its old process faulty.
    let mut n = node(config().with(|c| c.sync.interval = Duration::from_secs(30)));
    introduce(&mut n, Time::ZERO, 3);
    let verdict = Message::Faulty(Faulty { generation: 0, incarnation: 0, name: &name(1), by: b"n2" });
    feed(&mut n, Time::ZERO, addr(2), &gossip(2, &[verdict])).unwrap();
    let ping = |seq| packet(super::tests::ping_to_n0(1, seq), &[]);
    feed(&mut n, Time::from_secs(1), addr(1), &ping(1)).unwrap();
    assert_eq!(n.poll_sync_open(), None, "one ping may be a fresh verdict crossing its refutation");
    feed(&mut n, Time::from_secs(6), addr(1), &ping(2)).unwrap();
    let open = n.poll_sync_open().expect("they keep coming: a sync");
    assert_eq!(open.peer, addr(1));
}

#[test]
fn an_origin_is_not_forgotten_while_its_broadcasts_live() {
    // Regression (cluster fuzzer): an origin reaped and learned again came
    // back with an empty window, and a copy of one of its broadcasts still
    // going round was delivered a second time.
    let mut n = node(config().with(|c| {
        c.limits.tombstone_ttl = Duration::from_secs(10);
        c.dissemination.broadcast_lifetime = Duration::from_secs(9);
    }));
    introduce(&mut n, Time::ZERO, 3);
    let (one, two) = (name(1), name(2));
    for who in [&one, &two] {
        let verdict = Message::Faulty(Faulty { generation: 0, incarnation: 0, name: who, by: b"n3" });
        feed(&mut n, Time::ZERO, addr(3), &gossip(3, &[verdict])).unwrap();
    }
    let b = |origin, seq, left: Duration| {
        let ttl_ms = u32::try_from(left.as_millis()).unwrap_or(u32::MAX);
        Message::UserBroadcast(swim_wire::UserBroadcast { generation: 0, seq, ttl_ms, origin, payload: b"x" })
    };
    // A broadcast n1 sent just before it failed reaches this node late, 5 s
    // after the verdict, with 8 s to live: it lives past the tombstone time.
    feed(&mut n, Time::from_secs(5), addr(3), &gossip(3, &[b(&one, 1, Duration::from_secs(8))])).unwrap();
    // One from n2 claims 49 days to live: held no longer than this node's
    // own lifetime (a sender cannot pin an entry).
    feed(&mut n, Time::from_secs(5), addr(3), &gossip(3, &[b(&two, 1, Duration::from_millis(u64::from(u32::MAX)))]))
        .unwrap();
    assert_eq!(n.stats().broadcasts_delivered, 2);
    n.handle_timeout(Time::from_secs(12));
    assert!(n.member(&one).is_some(), "kept past the tombstone time: its broadcast still lives");
    // A copy counted down by its holder: 7 s later, 1 s is left.
    feed(&mut n, Time::from_secs(12), addr(3), &gossip(3, &[b(&one, 1, Duration::from_secs(1))])).unwrap();
    assert_eq!(n.stats().broadcasts_delivered, 2, "the window remembers it");
    n.handle_timeout(Time::from_secs(15));
    assert!(n.member(&one).is_none(), "reaped once every copy expired");
    assert!(n.member(&two).is_none(), "held 9 s, not 49 days");
}

#[test]
fn where_names_are_proven_only_a_member_moves_its_own_address_and_only_it_speaks_for_itself() {
    let mut n = node(config().with(|c| c.security.names_proven = true));
    introduce(&mut n, Time::ZERO, 3);
    let elsewhere = [addr(9)];
    // n2 says n1 moved (a newer generation): second hand, refused.
    let n1 = name(1);
    let moved = alive(&n1, 1, 0, &elsewhere);
    let by_n2 = gossip(2, &[moved]);
    n.handle_datagram_proven(Time::ZERO, addr(2), &mut by_n2.clone(), |who| who == name(2).as_slice()).unwrap();
    assert_eq!(n.member(&name(1)).map(|m| m.addrs[0]), Some(addr(1)));
    assert_eq!(n.stats().moves_refused, 1);
    // n2, claiming to be n1: refused whole.
    let as_n1 = gossip(1, &[moved]);
    let claimed = n.handle_datagram_proven(Time::ZERO, addr(2), &mut as_n1.clone(), |who| who == name(2).as_slice());
    assert_eq!(claimed, Err(InputError::NotThePeer));
    assert_eq!(n.member(&name(1)).map(|m| m.addrs[0]), Some(addr(1)));
    // n1 itself, from its new address: taken.
    n.handle_datagram_proven(Time::ZERO, addr(9), &mut as_n1.clone(), |who| who == name(1).as_slice()).unwrap();
    assert_eq!(n.member(&name(1)).map(|m| m.addrs[0]), Some(addr(9)));
    // Without proven names, a newer generation elsewhere is a restart, whoever tells it.
    let mut plain = node(config());
    introduce(&mut plain, Time::ZERO, 3);
    feed(&mut plain, Time::ZERO, addr(2), &by_n2).unwrap();
    assert_eq!(plain.member(&name(1)).map(|m| m.addrs[0]), Some(addr(9)));
}

#[test]
fn with_a_reclaim_time_a_name_moves_only_once_its_old_process_has_been_dead_that_long() {
    let reclaim = Duration::from_secs(30);
    let mut n = node(config().with(|c| c.security.reclaim_time = Some(reclaim)));
    introduce(&mut n, Time::ZERO, 3);
    let (n1, elsewhere) = (name(1), [addr(9)]);
    let newer = gossip(2, &[alive(&n1, 1, 0, &elsewhere)]);
    // Alive: a newer process elsewhere is a conflict.
    feed(&mut n, Time::ZERO, addr(2), &newer).unwrap();
    assert_eq!(n.member(&n1).map(|m| (m.state, m.addrs[0])), Some((State::Alive, addr(1))));
    assert_eq!(n.stats().name_conflicts, 1);
    // Faulty for ten seconds: still a conflict.
    feed(&mut n, Time::ZERO, addr(2), &gossip(2, &[faulty_of(&n1)])).unwrap();
    assert_eq!(state_of(&n, 1), Some(State::Faulty));
    feed(&mut n, Time::from_secs(10), addr(2), &newer).unwrap();
    assert_eq!(n.member(&n1).map(|m| m.addrs[0]), Some(addr(1)));
    // Faulty for the reclaim time: the newer process takes the name.
    feed(&mut n, Time::from_secs(31), addr(2), &newer).unwrap();
    assert_eq!(n.member(&n1).map(|m| (m.state, m.addrs[0])), Some((State::Alive, addr(9))));
}
