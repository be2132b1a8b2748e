//! One node driven by hand: crafted datagrams in, decoded datagrams out.
//! Behaviour across many nodes is tested in the simulator (`tests` crate).

use core::time::Duration;
use std::net::SocketAddr;

use swim_wire::{
    Ack, Addrs, Alive, DecodeOptions, Faulty, Header, JoinRequest, JoinResponse, JoinStatus, Kind, Message, Packet,
    PacketWriter, Ping, Suspect, UserBroadcast,
};

use super::*;
use crate::events::Event;
use crate::{CommandError, InputError};

pub(super) fn addr(i: u8) -> SocketAddr {
    SocketAddr::from(([10, 0, 0, i], 7946))
}

pub(super) fn name(i: u8) -> Vec<u8> {
    format!("n{i}").into_bytes()
}

/// LAN settings without the parts that make hand-driven timing fuzzy:
/// no period jitter, no gossip rounds, no syncs, no overload detection
/// (tests call `handle_timeout` whenever they like). Tests of those parts
/// turn them on.
pub(super) fn config() -> Config {
    Config::lan().with(|c| {
        c.seed = 42;
        c.sync.interval = Duration::ZERO;
        c.dissemination.gossip_interval = Duration::ZERO;
        c.probe.jitter = 0.0;
        c.probe.overload_threshold = Duration::ZERO;
    })
}

/// Node `n0` at `addr(0)`.
pub(super) fn node(config: Config) -> Node {
    Node::new(&name(0), &[addr(0)], b"", config, Time::ZERO).unwrap()
}

/// Hands `bytes` to the node (which may open them in place: a copy goes in).
pub(super) fn feed(node: &mut Node, now: Time, from: SocketAddr, bytes: &[u8]) -> Result<(), InputError> {
    node.handle_datagram(now, from, &mut bytes.to_vec())
}

/// Encodes a packet with the default header.
pub(super) fn packet(primary: Message<'_>, updates: &[Message<'_>]) -> Vec<u8> {
    let mut buf = vec![0u8; 65_000];
    let mut w = PacketWriter::new(&mut buf, &Header::default(), 65_000).unwrap();
    w.push(&primary).unwrap();
    for u in updates {
        w.push(u).unwrap();
    }
    let len = w.finish().unwrap();
    buf.truncate(len);
    buf
}

/// A ping from `n{i}` to `n0`.
pub(super) fn ping_to_n0(i: u8, seq: u32) -> Message<'static> {
    let source: &'static [u8] = Box::leak(name(i).into_boxed_slice());
    Message::Ping(Ping { seq, source, target: b"n0", target_generation: 0, target_incarnation: 0 })
}

pub(super) fn ack_from(i: u8, seq: u32) -> Vec<u8> {
    let source = name(i);
    packet(Message::Ack(Ack { seq, source: &source, payload: &[] }), &[])
}

/// Makes `n1..=count` known to the node, alive at incarnation 0.
pub(super) fn introduce(node: &mut Node, now: Time, count: u8) {
    let names: Vec<Vec<u8>> = (1..=count).map(name).collect();
    let addrs: Vec<[SocketAddr; 1]> = (1..=count).map(|i| [addr(i)]).collect();
    let updates: Vec<Message<'_>> = names
        .iter()
        .zip(&addrs)
        .map(|(n, a)| {
            Message::Alive(Alive { generation: 0, incarnation: 0, name: n, addrs: Addrs::from_slice(a), meta: b"" })
        })
        .collect();
    // In datagrams within the smallest budget (larger ones are refused).
    for chunk in updates.chunks(10) {
        let bytes = packet(Message::Ack(Ack { seq: 0, source: b"intro", payload: &[] }), chunk);
        feed(node, now, addr(200), &bytes).unwrap();
    }
    drain_events(node);
}

/// Every datagram the node wants to send now.
pub(super) fn transmits(node: &mut Node, now: Time) -> Vec<(SocketAddr, Vec<u8>)> {
    let mut out = Vec::new();
    let mut buf = vec![0u8; 1400];
    while let Some(t) = node.poll_transmit(now, &mut buf) {
        out.push((t.destination, buf[..t.len].to_vec()));
    }
    out
}

pub(super) fn parse(bytes: &[u8]) -> Packet<'_> {
    Packet::parse(bytes, &DecodeOptions::default()).unwrap()
}

pub(super) fn drain_events(node: &mut Node) -> Vec<String> {
    let mut out = Vec::new();
    while let Some(e) = node.poll_event() {
        out.push(describe(&e));
    }
    out
}

pub(super) fn describe(e: &Event<'_>) -> String {
    let n = |b: &[u8]| String::from_utf8_lossy(b).into_owned();
    match e {
        Event::Joined(m) => format!("joined {}", n(m.name)),
        Event::Updated { member: m, previous_meta } => {
            format!("updated {} meta={} (was {})", n(m.name), n(m.meta), n(previous_meta))
        }
        Event::Suspected { member, by } => format!("suspected {} by {}", n(member.name), n(by)),
        Event::Recovered(m) => format!("recovered {}", n(m.name)),
        Event::Faulty { member, by } => format!("faulty {} by {}", n(member.name), n(by)),
        Event::Left(m) => format!("left {}", n(m.name)),
        Event::Broadcast { origin, seq, payload } => format!("broadcast {} {} {}", n(origin), seq, n(payload)),
        Event::NameConflict { name, known, claimed } => format!("conflict {} {known} {claimed}", n(name)),
        Event::Refuted { incarnation } => format!("refuted {incarnation}"),
        Event::NotAdmitted { name, addr } => format!("not admitted {} {addr:?}", n(name)),
        Event::JoinSucceeded { seed } => format!("join succeeded {seed}"),
        Event::JoinFailed { reason } => format!("join failed {reason:?}"),
        Event::Query { origin, name, payload, .. } => format!("query {} from {} {}", n(name), n(origin), n(payload)),
        Event::QueryResponse { id, from, payload } => format!("query {id} answered by {} {}", n(from), n(payload)),
        Event::QueryAck { id, from } => format!("query {id} acked by {}", n(from)),
        Event::QueryDone { id, asked, answered, acked } => {
            format!("query {id} done asked={asked} answered={answered} acked={acked}")
        }
        Event::StateChanged { owner, key, value: Some(v) } => format!("state {} {}={}", n(owner), n(key), n(v)),
        Event::StateChanged { owner, key, value: None } => format!("state {} {} deleted", n(owner), n(key)),
        Event::StateCleared { owner } => format!("state {} cleared", n(owner)),
        Event::Message { from, payload, reliable } => {
            format!("message from {} {} reliable={reliable}", n(from), n(payload))
        }
    }
}

/// Runs timers until the node pings someone; returns the ping's target
/// index, sequence number, and when it was sent.
pub(super) fn next_probe(node: &mut Node, mut now: Time) -> (u8, u32, Time) {
    for _ in 0..10_000 {
        node.handle_timeout(now);
        for (to, bytes) in transmits(node, now) {
            if let Message::Ping(p) = parse(&bytes).primary() {
                let target = to.ip().to_string().rsplit('.').next().unwrap().parse().unwrap();
                return (target, p.seq, now);
            }
        }
        now = node.poll_timeout().unwrap().max(now);
    }
    panic!("no probe")
}

/// Runs timers until the node pings someone; returns the ping's
/// destination and bytes.
pub(super) fn next_probe_packet(node: &mut Node, mut now: Time) -> (SocketAddr, Vec<u8>) {
    for _ in 0..10_000 {
        node.handle_timeout(now);
        for (to, bytes) in transmits(node, now) {
            if parse(&bytes).primary().kind() == Kind::Ping {
                return (to, bytes);
            }
        }
        now = node.poll_timeout().unwrap().max(now);
    }
    panic!("no probe")
}

pub(super) fn state_of(node: &Node, i: u8) -> Option<State> {
    node.member(&name(i)).map(|m| m.state)
}

/// `(name, addrs, meta, field at fault)`.
type IdentityCase<'a> = (&'a [u8], &'a [SocketAddr], &'a [u8], &'a str);

#[test]
fn new_rejects_bad_identity() {
    let long = vec![b'x'; 256];
    let cases: [IdentityCase<'_>; 4] = [
        (b"", &[addr(0)], b"", "name"),
        (&long, &[addr(0)], b"", "name"),
        (b"a", &[], b"", "addrs"),
        (b"a", &[addr(0)], &[0; 513], "meta"),
    ];
    for (n, a, m, field) in cases {
        let err = Node::new(n, a, m, config(), Time::ZERO).unwrap_err();
        assert_eq!(err.field(), field);
    }
    let bad = config().with(|c| c.probe.timeout = Duration::from_secs(5));
    assert_eq!(Node::new(b"a", &[addr(0)], b"", bad, Time::ZERO).unwrap_err().field(), "probe.timeout");
}

#[test]
fn ping_is_answered_with_an_ack_echoing_its_sequence() {
    let mut n = node(config());
    let ping = packet(
        Message::Ping(Ping { seq: 77, source: b"n9", target: &name(0), target_generation: 0, target_incarnation: 0 }),
        &[],
    );
    feed(&mut n, Time::ZERO, addr(9), &ping).unwrap();
    let out = transmits(&mut n, Time::ZERO);
    assert_eq!(out.len(), 1);
    assert_eq!(out[0].0, addr(9), "acks go back to the sender's address");
    let Message::Ack(ack) = parse(&out[0].1).primary() else { panic!("not an ack") };
    assert_eq!((ack.seq, ack.source), (77, &name(0)[..]));

    // A ping meant for another member (stale address) is ignored.
    let stray = packet(
        Message::Ping(Ping { seq: 78, source: b"n9", target: b"other", target_generation: 0, target_incarnation: 0 }),
        &[],
    );
    feed(&mut n, Time::ZERO, addr(9), &stray).unwrap();
    assert!(transmits(&mut n, Time::ZERO).is_empty());
}

#[test]
fn bad_input_is_refused_and_changes_nothing() {
    let mut n = node(config());
    introduce(&mut n, Time::ZERO, 3);
    let before: Vec<(Vec<u8>, u32)> = n.members().map(|m| (m.name.to_vec(), m.incarnation)).collect();
    let (queued, incarnation) = (n.stats().queued_updates, n.incarnation());

    assert!(matches!(feed(&mut n, Time::ZERO, addr(9), b"garbage"), Err(InputError::Decode(_))));
    // A valid packet of another cluster, carrying a suspicion of this node.
    let mut buf = vec![0u8; 200];
    let header = Header { label: b"other-cluster", ..Header::default() };
    let mut w = PacketWriter::new(&mut buf, &header, 200).unwrap();
    w.push(&Message::Ack(Ack { seq: 1, source: b"x", payload: &[] })).unwrap();
    w.push(&Message::Suspect(Suspect { generation: 0, incarnation: 9, name: &name(0), by: b"x" })).unwrap();
    let len = w.finish().unwrap();
    let labelled = &buf[..len];
    assert_eq!(feed(&mut n, Time::ZERO, addr(9), labelled), Err(InputError::LabelMismatch));
    let sync = packet(
        Message::Sync(swim_wire::Sync { flags: swim_wire::SyncFlags(0), source: b"x", total: 0, chunk: 0 }),
        &[],
    );
    assert_eq!(feed(&mut n, Time::ZERO, addr(9), &sync), Err(InputError::Unexpected(Kind::Sync)));

    let after: Vec<(Vec<u8>, u32)> = n.members().map(|m| (m.name.to_vec(), m.incarnation)).collect();
    assert_eq!(before, after);
    assert_eq!((n.stats().queued_updates, n.incarnation()), (queued, incarnation));
    assert_eq!(n.stats().packets_rejected, 3);
    assert!(transmits(&mut n, Time::ZERO).is_empty());
    assert!(drain_events(&mut n).is_empty());
}

#[test]
fn refutes_suspicion_with_a_higher_incarnation() {
    let mut n = node(config());
    introduce(&mut n, Time::ZERO, 1);
    let about_me = packet(
        Message::Ack(Ack { seq: 0, source: b"n1", payload: &[] }),
        &[Message::Suspect(Suspect { generation: 0, incarnation: 0, name: &name(0), by: b"n1" })],
    );
    feed(&mut n, Time::ZERO, addr(1), &about_me).unwrap();
    assert_eq!(n.incarnation(), 1);
    assert_eq!(drain_events(&mut n), ["refuted 1"]);
    assert_eq!(n.health(), 1, "having to refute counts against health");
    // A stale suspicion (older incarnation) is not refuted again.
    feed(&mut n, Time::ZERO, addr(1), &about_me).unwrap();
    assert_eq!(n.incarnation(), 1);
    // The refutation is gossiped: the next datagram carries alive(1).
    let ping = packet(
        Message::Ping(Ping { seq: 5, source: b"n1", target: &name(0), target_generation: 0, target_incarnation: 1 }),
        &[],
    );
    feed(&mut n, Time::ZERO, addr(1), &ping).unwrap();
    let out = transmits(&mut n, Time::ZERO);
    let p = parse(&out[0].1);
    assert!(p.piggyback().any(|m| matches!(m, Message::Alive(a) if a.name == &name(0)[..] && a.incarnation == 1)));
    // Declared faulty: refuted too.
    let faulty = packet(
        Message::Ack(Ack { seq: 0, source: b"n1", payload: &[] }),
        &[Message::Faulty(Faulty { generation: 0, incarnation: 1, name: &name(0), by: b"n1" })],
    );
    feed(&mut n, Time::ZERO, addr(1), &faulty).unwrap();
    assert_eq!(n.incarnation(), 2);
}

#[test]
fn a_restarted_member_that_reused_its_generation_resumes_as_a_new_one() {
    // The cluster knew this node's name, at its address, at (0, 7): a past
    // life with the same generation (a clock that went back). Resuming at
    // (0, 8) would keep the past life's broadcast numbering; it becomes
    // generation 1 instead, and numbers its broadcasts from 1 under it.
    let mut n = node(config());
    introduce(&mut n, Time::ZERO, 1);
    let ping = packet(
        Message::Ping(Ping { seq: 1, source: b"n1", target: &name(0), target_generation: 0, target_incarnation: 7 }),
        &[],
    );
    feed(&mut n, Time::ZERO, addr(1), &ping).unwrap();
    assert_eq!((n.local().generation, n.local().incarnation), (1, 0));
    assert_eq!(n.broadcast(Time::ZERO, b"hello"), Ok(1));
    let out = transmits(&mut n, Time::from_millis(600));
    let sent = out.iter().flat_map(|(_, p)| parse(p).piggyback().collect::<Vec<_>>());
    let carried: Vec<_> = sent
        .filter_map(|m| if let Message::UserBroadcast(b) = m { Some((b.generation, b.seq)) } else { None })
        .collect();
    assert!(!carried.is_empty() && carried.iter().all(|&v| v == (1, 1)), "{carried:?}");
    // A claim of the same version from another process is not above it:
    // only refuted with the next incarnation, as any.
    let suspect = packet(
        Message::Ack(Ack { seq: 0, source: b"n1", payload: &[] }),
        &[Message::Suspect(Suspect { generation: 1, incarnation: 0, name: &name(0), by: b"n1" })],
    );
    feed(&mut n, Time::from_millis(700), addr(1), &suspect).unwrap();
    assert_eq!((n.local().generation, n.local().incarnation), (1, 1));
    // A ping naming a later generation is not a past life's proof: it may
    // be a newer process elsewhere whose version reached this address.
    let ping = packet(
        Message::Ping(Ping { seq: 2, source: b"n1", target: &name(0), target_generation: 7, target_incarnation: 0 }),
        &[],
    );
    feed(&mut n, Time::from_millis(800), addr(1), &ping).unwrap();
    assert_eq!((n.local().generation, n.local().incarnation), (1, 1));

    // From a join response too.
    let mut n = node(config());
    n.join(Time::ZERO, &[addr(1)]).unwrap();
    let out = transmits(&mut n, Time::ZERO);
    let Message::JoinRequest(request) = parse(&out[0].1).primary() else { panic!() };
    let response = packet(
        Message::JoinResponse(JoinResponse {
            seq: request.seq,
            status: JoinStatus::Accepted,
            source: b"n1",
            known_generation: 0,
            known_incarnation: 12,
            members: 5,
        }),
        &[],
    );
    feed(&mut n, Time::ZERO, addr(1), &response).unwrap();
    assert_eq!((n.local().generation, n.local().incarnation), (1, 0));
    // A seed that holds this very process faulty answers the next version:
    // an ordinary refutation, same generation (its broadcasts keep their
    // numbering).
    let mut held_faulty = node(config().with(|c| c.generation = 5));
    held_faulty.join(Time::ZERO, &[addr(1)]).unwrap();
    let out = transmits(&mut held_faulty, Time::ZERO);
    let Message::JoinRequest(request) = parse(&out[0].1).primary() else { panic!() };
    let answer = packet(
        Message::JoinResponse(JoinResponse {
            seq: request.seq,
            status: JoinStatus::Accepted,
            source: b"n1",
            known_generation: 5,
            known_incarnation: 1,
            members: 5,
        }),
        &[],
    );
    feed(&mut held_faulty, Time::ZERO, addr(1), &answer).unwrap();
    assert_eq!((held_faulty.local().generation, held_faulty.local().incarnation), (5, 1));
    let events = drain_events(&mut n);
    assert!(events.contains(&format!("join succeeded {}", addr(1))), "{events:?}");
    // And it opens a sync with the seed to learn the whole table.
    let open = n.poll_sync_open().expect("a join sync");
    assert!(open.join);
    assert_eq!(open.peer, addr(1));
}

#[test]
fn versions_order_totally_and_refutations_move_above_what_was_heard() {
    let mut n = node(config());
    introduce(&mut n, Time::ZERO, 1);
    let at = |generation: u64, inc: u32, suspect: bool| {
        let a = [addr(1)];
        let update = if suspect {
            Message::Suspect(Suspect { generation, incarnation: inc, name: &name(1), by: b"n2" })
        } else {
            Message::Alive(Alive {
                generation,
                incarnation: inc,
                name: &name(1),
                addrs: Addrs::from_slice(&a),
                meta: b"",
            })
        };
        packet(Message::Ack(Ack { seq: 0, source: b"n2", payload: &[] }), &[update])
    };
    let version = |n: &Node| n.member(&name(1)).map(|m| (m.generation, m.incarnation));
    // A jump of more than half the range is simply newer: a node still at 0
    // is not frozen out of later updates (serial arithmetic would be).
    feed(&mut n, Time::ZERO, addr(2), &at(0, 0x8000_0005, false)).unwrap();
    assert_eq!(version(&n), Some((0, 0x8000_0005)));
    feed(&mut n, Time::ZERO, addr(2), &at(0, 0x8000_0006, false)).unwrap();
    assert_eq!(version(&n), Some((0, 0x8000_0006)));
    feed(&mut n, Time::ZERO, addr(2), &at(0, 7, false)).unwrap();
    assert_eq!(version(&n), Some((0, 0x8000_0006)), "never backwards");
    // Pushed to the last incarnation, a member refutes in its next generation.
    feed(&mut n, Time::ZERO, addr(2), &at(0, u32::MAX, true)).unwrap();
    assert_eq!(state_of(&n, 1), Some(State::Suspect));
    feed(&mut n, Time::ZERO, addr(2), &at(1, 0, false)).unwrap();
    assert_eq!((state_of(&n, 1), version(&n)), (Some(State::Alive), Some((1, 0))));
    // This node refutes a claim at its own version with the next
    // incarnation (`Version::next` moves to the next generation at the last
    // one); a claim above its version is a past life's, and it moves to the
    // generation after that one. A verdict about a newer generation is about
    // another process of this name: not this one's to refute.
    let mut me = node(config());
    let faulty = |generation, incarnation| {
        packet(
            Message::Ack(Ack { seq: 0, source: b"n1", payload: &[] }),
            &[Message::Faulty(Faulty { generation, incarnation, name: &name(0), by: b"n1" })],
        )
    };
    for (heard, own) in [((0, 0), (0, 1)), ((0, 0x7fff_ffff), (1, 0)), ((1, 0), (1, 1)), ((3, u32::MAX), (1, 1))] {
        feed(&mut me, Time::ZERO, addr(1), &faulty(heard.0, heard.1)).unwrap();
        assert_eq!((me.local().generation, me.incarnation()), own, "refuting {heard:?}");
    }
}

#[test]
fn dynamic_suspicion_shrinks_with_independent_confirmations() {
    // Without confirmations the suspicion lasts β·min; each independent
    // confirmation brings the verdict closer to min.
    let faulty_after = |confirmations: u8| {
        let mut n = node(config().with(|c| {
            c.suspicion.mult = 4;
            c.suspicion.max_mult = 6;
        }));
        introduce(&mut n, Time::ZERO, 9);
        let suspect = |by: u8| {
            let by = name(by);
            packet(
                Message::Ack(Ack { seq: 0, source: &by, payload: &[] }),
                &[Message::Suspect(Suspect { generation: 0, incarnation: 0, name: &name(1), by: &by })],
            )
        };
        for by in 2..2 + confirmations + 1 {
            feed(&mut n, Time::ZERO, addr(by), &suspect(by)).unwrap();
            // A repeated suspicion from the same member is not independent.
            feed(&mut n, Time::ZERO, addr(by), &suspect(by)).unwrap();
        }
        // Until the suspicion runs out: a verdict, or (with fewer
        // confirmations than expected) a first-hand check before it.
        let mut now = Time::ZERO;
        while state_of(&n, 1) == Some(State::Suspect) && n.stats().suspicions_checked == 0 {
            now += Duration::from_millis(100);
            n.handle_timeout(now);
        }
        (now, n.stats().suspicions_checked == 1)
    };
    // N = 10: min = 4 · log10(10) · 1 s = 4 s, max = 24 s, k = min(α − 2, N − 2) = 2.
    let none = faulty_after(0);
    let one = faulty_after(1);
    let two = faulty_after(2);
    let many = faulty_after(5);
    assert_eq!(none, (Time::from_secs(24), true));
    // max − (max − min) · log(2) / log(3) = 24 − 20 · 0.63 = 11.4 s
    assert_eq!(one, (Time::from_millis(11_400), true));
    assert_eq!(two, (Time::from_secs(4), false), "confirmed: the verdict comes at once");
    assert_eq!(many, (Time::from_secs(4), false), "never below min");
}

#[test]
fn without_lifeguard_the_suspicion_timeout_is_fixed() {
    let mut n = node(config().with(|c| {
        c.probe.lifeguard = false;
        c.suspicion.mult = 4;
    }));
    introduce(&mut n, Time::ZERO, 9);
    let suspect = packet(
        Message::Ack(Ack { seq: 0, source: b"n2", payload: &[] }),
        &[Message::Suspect(Suspect { generation: 0, incarnation: 0, name: &name(1), by: b"n2" })],
    );
    feed(&mut n, Time::ZERO, addr(2), &suspect).unwrap();
    n.handle_timeout(Time::from_millis(3_900));
    assert_eq!(state_of(&n, 1), Some(State::Suspect));
    n.handle_timeout(Time::from_secs(4));
    assert_eq!(state_of(&n, 1), Some(State::Faulty));
}

#[test]
fn every_update_is_sent_lambda_log_n_times_newest_and_fewest_first() {
    // N = 12 live members: limit = 4 · ⌈log10(13)⌉ = 8 transmissions.
    let mut n = node(config());
    introduce(&mut n, Time::ZERO, 11);
    let mut sent = 0;
    for seq in 1001..1021 {
        let ping = packet(
            Message::Ping(Ping { seq, source: b"n1", target: &name(0), target_generation: 0, target_incarnation: 0 }),
            &[],
        );
        feed(&mut n, Time::ZERO, addr(1), &ping).unwrap();
        for (_, b) in transmits(&mut n, Time::ZERO) {
            sent += parse(&b).piggyback().filter(|m| matches!(m, Message::Alive(a) if a.name == b"n11")).count();
        }
    }
    assert_eq!(sent, 8);
    // A newer update about a member replaces the queued one and goes first.
    let suspect = packet(
        Message::Ack(Ack { seq: 0, source: b"n2", payload: &[] }),
        &[Message::Suspect(Suspect { generation: 0, incarnation: 0, name: b"n5", by: b"n2" })],
    );
    feed(&mut n, Time::ZERO, addr(2), &suspect).unwrap();
    let ping = packet(
        Message::Ping(Ping { seq: 1, source: b"n1", target: &name(0), target_generation: 0, target_incarnation: 0 }),
        &[],
    );
    feed(&mut n, Time::ZERO, addr(1), &ping).unwrap();
    let out = transmits(&mut n, Time::ZERO);
    let p = parse(&out[0].1);
    let about_n5: Vec<Message<'_>> =
        p.piggyback().filter(|m| matches!(m, Message::Suspect(s) if s.name == b"n5")).collect();
    assert_eq!(about_n5.len(), 1);
    assert_eq!(p.piggyback().next(), Some(about_n5[0]), "fewest-sent first");
    assert!(!p.piggyback().any(|m| matches!(m, Message::Alive(a) if a.name == b"n5")), "the old alive is replaced");
}

#[test]
fn gossip_fills_the_budget_and_no_more() {
    let mut n = node(config().with(|c| {
        c.limits.packet_budget = 512;
        c.dissemination.max_broadcast_payload = 200;
    }));
    introduce(&mut n, Time::ZERO, 60);
    let ping = packet(
        Message::Ping(Ping { seq: 1, source: b"n1", target: &name(0), target_generation: 0, target_incarnation: 0 }),
        &[],
    );
    feed(&mut n, Time::ZERO, addr(1), &ping).unwrap();
    let out = transmits(&mut n, Time::ZERO);
    assert!(out[0].1.len() <= 512 && out[0].1.len() > 512 - 40, "len {}", out[0].1.len());
    assert!(parse(&out[0].1).piggyback().count() > 10);
}

#[test]
fn broadcasts_are_delivered_once_and_passed_on() {
    let mut n = node(config());
    introduce(&mut n, Time::ZERO, 3);
    let b = |seq| {
        packet(
            Message::Ack(Ack { seq: 0, source: b"n1", payload: &[] }),
            &[Message::UserBroadcast(UserBroadcast {
                generation: 0,
                seq,
                ttl_ms: 10_000,
                origin: b"n1",
                payload: b"hello",
            })],
        )
    };
    feed(&mut n, Time::ZERO, addr(1), &b(1)).unwrap();
    feed(&mut n, Time::ZERO, addr(2), &b(1)).unwrap();
    feed(&mut n, Time::ZERO, addr(2), &b(2)).unwrap();
    assert_eq!(drain_events(&mut n), ["broadcast n1 1 hello", "broadcast n1 2 hello"]);
    assert_eq!(n.stats().broadcasts_delivered, 2);
    // Passed on in the node's gossip.
    let ping = packet(
        Message::Ping(Ping { seq: 1, source: b"n3", target: &name(0), target_generation: 0, target_incarnation: 0 }),
        &[],
    );
    feed(&mut n, Time::ZERO, addr(3), &ping).unwrap();
    let out = transmits(&mut n, Time::ZERO);
    assert_eq!(parse(&out[0].1).piggyback().filter(|m| m.kind() == Kind::UserBroadcast).count(), 2);
    // A node's own broadcast: sequence numbers, and the payload limit.
    assert_eq!(n.broadcast(Time::ZERO, b"mine"), Ok(1));
    assert_eq!(n.broadcast(Time::ZERO, b"mine too"), Ok(2));
    let err = n.broadcast(Time::ZERO, &[0; 2000]).unwrap_err();
    assert_eq!(err, CommandError::TooLarge { what: "payload", len: 2000, limit: 1024 });
}

#[test]
fn metadata_changes_are_gossiped_with_a_new_incarnation() {
    let mut n = node(config());
    introduce(&mut n, Time::ZERO, 1);
    n.set_metadata(Time::ZERO, b"zone=b").unwrap();
    assert_eq!((n.incarnation(), n.local().meta), (1, &b"zone=b"[..]));
    let ping = packet(
        Message::Ping(Ping { seq: 1, source: b"n1", target: &name(0), target_generation: 0, target_incarnation: 0 }),
        &[],
    );
    feed(&mut n, Time::ZERO, addr(1), &ping).unwrap();
    let out = transmits(&mut n, Time::ZERO);
    assert!(parse(&out[0].1).piggyback().any(|m| matches!(m, Message::Alive(a) if a.meta == b"zone=b")));
    assert!(matches!(n.set_metadata(Time::ZERO, &[0; 600]), Err(CommandError::TooLarge { .. })));
    // A peer's metadata change arrives as an update event.
    let a = [addr(1)];
    let update = packet(
        Message::Ack(Ack { seq: 0, source: b"n1", payload: &[] }),
        &[Message::Alive(Alive {
            generation: 0,
            incarnation: 1,
            name: &name(1),
            addrs: Addrs::from_slice(&a),
            meta: b"v2",
        })],
    );
    feed(&mut n, Time::ZERO, addr(1), &update).unwrap();
    assert_eq!(drain_events(&mut n), ["updated n1 meta=v2 (was )"]);
    // The next one says what it replaces, even when two arrive before the
    // application looks.
    for (incarnation, meta) in [(2, &b"v3"[..]), (3, b"v4")] {
        let update = packet(
            Message::Ack(Ack { seq: 0, source: b"n1", payload: &[] }),
            &[Message::Alive(Alive { generation: 0, incarnation, name: &name(1), addrs: Addrs::from_slice(&a), meta })],
        );
        feed(&mut n, Time::ZERO, addr(1), &update).unwrap();
    }
    assert_eq!(drain_events(&mut n), ["updated n1 meta=v4 (was v2)", "updated n1 meta=v4 (was v3)"]);
}

#[test]
fn members_may_have_several_addresses_of_both_families() {
    let v6: SocketAddr = "[fd00::7]:7946".parse().unwrap();
    let mut n = Node::new(b"multi", &[addr(0), v6], b"", config(), Time::ZERO).unwrap();
    let a = [addr(1), "[fd00::1]:7946".parse().unwrap()];
    let update = packet(
        Message::Ack(Ack { seq: 0, source: b"n1", payload: &[] }),
        &[Message::Alive(Alive {
            generation: 0,
            incarnation: 0,
            name: b"peer",
            addrs: Addrs::from_slice(&a),
            meta: b"",
        })],
    );
    feed(&mut n, Time::ZERO, addr(1), &update).unwrap();
    assert_eq!(n.member(b"peer").unwrap().addrs, &a[..]);
    n.join(Time::ZERO, &[addr(1)]).unwrap();
    let out = transmits(&mut n, Time::ZERO);
    let Message::JoinRequest(r) = parse(&out[0].1).primary() else { panic!() };
    assert!(r.member.addrs.iter().eq([addr(0), v6]));
}

#[test]
fn a_name_claimed_from_another_address_is_a_conflict() {
    let mut n = node(config());
    introduce(&mut n, Time::ZERO, 1);
    let other = [addr(99)];
    let claim = packet(
        Message::Ack(Ack { seq: 0, source: b"x", payload: &[] }),
        &[Message::Alive(Alive {
            generation: 0,
            incarnation: 5,
            name: &name(1),
            addrs: Addrs::from_slice(&other),
            meta: b"",
        })],
    );
    feed(&mut n, Time::ZERO, addr(99), &claim).unwrap();
    assert_eq!(n.member(&name(1)).unwrap().addrs, &[addr(1)][..], "not merged");
    assert_eq!(drain_events(&mut n), [format!("conflict n1 {} {}", addr(1), addr(99))]);
    // A join request under a live member's name is refused.
    let request = packet(
        Message::JoinRequest(JoinRequest {
            seq: 3,
            member: Alive {
                generation: 0,
                incarnation: 0,
                name: &name(1),
                addrs: Addrs::from_slice(&other),
                meta: b"",
            },
        }),
        &[],
    );
    feed(&mut n, Time::ZERO, addr(99), &request).unwrap();
    let out = transmits(&mut n, Time::ZERO);
    let Message::JoinResponse(r) = parse(&out[0].1).primary() else { panic!() };
    assert_eq!((r.seq, r.status), (3, JoinStatus::NameConflict));
    assert_eq!(n.stats().name_conflicts, 2);
}

#[test]
fn a_seed_admits_joiners_and_introduces_itself() {
    let mut seed = node(config());
    let a = [addr(5)];
    let join = Message::JoinRequest(JoinRequest {
        seq: 9,
        member: Alive { generation: 0, incarnation: 0, name: b"joiner", addrs: Addrs::from_slice(&a), meta: b"m" },
    });
    // A plaintext request is padded by its joiner (the answer to an unproven
    // source is no larger than the request).
    let mut request = packet(join, &[]);
    let bare = request.len();
    request.resize(1400, 0);
    let mut w = PacketWriter::new(&mut request, &Header::default(), 1400).unwrap();
    w.push(&join).unwrap();
    w.pad_to(1400);
    assert_eq!(w.finish().unwrap(), 1400);
    feed(&mut seed, Time::ZERO, addr(5), &request).unwrap();
    assert_eq!(seed.member(b"joiner").map(|m| m.state), Some(State::Alive));
    assert_eq!(drain_events(&mut seed), ["joined joiner"]);
    let out = transmits(&mut seed, Time::ZERO);
    let p = parse(&out[0].1);
    let Message::JoinResponse(r) = p.primary() else { panic!() };
    assert_eq!((r.seq, r.status, r.members), (9, JoinStatus::Accepted, 2));
    assert!(matches!(p.piggyback().next(), Some(Message::Alive(a)) if a.name == &name(0)[..]), "the seed first");
    // Unpadded, the same request gets the bare answer: no larger than the
    // request (nothing to amplify with a forged source).
    let mut seed = node(config());
    feed(&mut seed, Time::ZERO, addr(5), &packet(join, &[])).unwrap();
    let out = transmits(&mut seed, Time::ZERO);
    assert!(out[0].1.len() <= bare, "{} > {bare}", out[0].1.len());
    assert!(matches!(parse(&out[0].1).primary(), Message::JoinResponse(_)));

    // A full cluster refuses.
    let mut full = node(config().with(|c| {
        c.limits.max_members = 2;
        c.limits.expected_members = 2;
    }));
    introduce(&mut full, Time::ZERO, 1);
    feed(&mut full, Time::ZERO, addr(5), &request).unwrap();
    let out = transmits(&mut full, Time::ZERO);
    let Message::JoinResponse(r) = parse(&out[0].1).primary() else { panic!() };
    assert_eq!(r.status, JoinStatus::ClusterFull);
    assert_eq!(full.stats().members_refused, 1);
}

#[test]
fn join_retries_then_fails_without_an_answer() {
    let mut n = node(config().with(|c| c.sync.join_attempts = 3));
    assert_eq!(n.join(Time::ZERO, &[addr(0)]), Err(CommandError::NoSeeds), "its own address is no seed");
    n.join(Time::ZERO, &[addr(1), addr(2)]).unwrap();
    let mut requests = transmits(&mut n, Time::ZERO).len();
    let mut now = Time::ZERO;
    let mut events = Vec::new();
    while events.is_empty() && now < Time::from_secs(10) {
        now += Duration::from_millis(100);
        n.handle_timeout(now);
        requests +=
            transmits(&mut n, now).iter().filter(|(_, b)| parse(b).primary().kind() == Kind::JoinRequest).count();
        events = drain_events(&mut n);
    }
    assert_eq!(requests, 6, "3 attempts to 2 seeds");
    assert_eq!(events, ["join failed NoAnswer"]);
    assert_eq!(now, Time::from_secs(3));
}

#[test]
fn tombstones_are_reaped_after_their_time() {
    let mut n = node(config().with(|c| {
        c.limits.tombstone_ttl = Duration::from_secs(10);
        c.dissemination.broadcast_lifetime = Duration::from_secs(5);
    }));
    introduce(&mut n, Time::ZERO, 2);
    let faulty = packet(
        Message::Ack(Ack { seq: 0, source: b"n2", payload: &[] }),
        &[Message::Faulty(Faulty { generation: 0, incarnation: 0, name: &name(1), by: b"n2" })],
    );
    feed(&mut n, Time::from_secs(1), addr(2), &faulty).unwrap();
    assert_eq!(state_of(&n, 1), Some(State::Faulty));
    assert_eq!((n.live_members(), n.stats().known_members), (2, 3));
    n.handle_timeout(Time::from_millis(10_999));
    assert_eq!(state_of(&n, 1), Some(State::Faulty));
    n.handle_timeout(Time::from_secs(11));
    assert_eq!(state_of(&n, 1), None, "reaped");
    assert_eq!(n.stats().known_members, 2);
    // Revived before its time: not reaped by the old tombstone.
    introduce(&mut n, Time::from_secs(12), 1);
    feed(&mut n, Time::from_secs(12), addr(2), &faulty).unwrap();
    let a = [addr(1)];
    let revive = packet(
        Message::Ack(Ack { seq: 0, source: b"n1", payload: &[] }),
        &[Message::Alive(Alive {
            generation: 0,
            incarnation: 1,
            name: &name(1),
            addrs: Addrs::from_slice(&a),
            meta: b"",
        })],
    );
    feed(&mut n, Time::from_secs(13), addr(1), &revive).unwrap();
    n.handle_timeout(Time::from_secs(30));
    assert_eq!(state_of(&n, 1), Some(State::Alive));
    assert!(n.tombstones.is_empty(), "the old record is dropped");

    // Buried again and again (a verdict, a refutation, a verdict...): one
    // record, and the member is reaped a tombstone time after its last
    // burial, not its first.
    let verdict = |generation, incarnation| {
        let f = Faulty { generation, incarnation, name: &name(1), by: b"n2" };
        packet(Message::Ack(Ack { seq: 0, source: b"n2", payload: &[] }), &[Message::Faulty(f)])
    };
    let alive = |incarnation| {
        let up = Alive { generation: 0, incarnation, name: &name(1), addrs: Addrs::from_slice(&a), meta: b"" };
        packet(Message::Ack(Ack { seq: 0, source: b"n1", payload: &[] }), &[Message::Alive(up)])
    };
    for (i, t) in (2..8).zip(31..) {
        feed(&mut n, Time::from_secs(t), addr(2), &verdict(0, i)).unwrap();
        feed(&mut n, Time::from_millis(t * 1000 + 500), addr(1), &alive(i + 1)).unwrap();
    }
    feed(&mut n, Time::from_secs(40), addr(2), &verdict(0, 8)).unwrap();
    // (n2 never answers probes: it may be buried too, with its own record.)
    let records_of_n1 = |n: &Node| {
        let slot = n.members.find(&name(1));
        n.tombstones.iter().filter(|(_, r)| Some(r.slot) == slot).count()
    };
    assert_eq!(records_of_n1(&n), 1);
    n.handle_timeout(Time::from_secs(45));
    assert_eq!(state_of(&n, 1), Some(State::Faulty), "its first record came due: moved to its real time");
    assert_eq!(records_of_n1(&n), 1);
    n.handle_timeout(Time::from_secs(50));
    assert_eq!(state_of(&n, 1), None, "reaped 10 s after the last verdict");
    assert_eq!(records_of_n1(&n), 0);
}
