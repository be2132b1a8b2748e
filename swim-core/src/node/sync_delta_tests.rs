//! Delta syncs driven by hand: what travels when tables agree or differ,
//! a digest that spans frames, a peer that replies in full, and digests
//! that do not fit the exchange.

use std::net::SocketAddr;

use swim_wire::{Ack, Addrs, Alive, Kind, Message, Suspect, SyncDigest, SyncFlags};

use super::tests::{addr, config, feed, name, node, packet, parse};
use super::*;
use crate::InputError;

fn addr_of(i: u32) -> SocketAddr {
    let [_, b, c, d] = i.to_be_bytes();
    SocketAddr::from(([10, b, c, d], 7000))
}

fn member(i: u32) -> Vec<u8> {
    format!("member-{i}").into_bytes()
}

/// Teaches `node` members `ids` (alive, version 0.`incarnation`).
fn learn(node: &mut Node, ids: impl Iterator<Item = u32>, incarnation: u32) {
    let ids: Vec<u32> = ids.collect();
    for chunk in ids.chunks(10) {
        let names: Vec<Vec<u8>> = chunk.iter().map(|&i| member(i)).collect();
        let addrs: Vec<[SocketAddr; 1]> = chunk.iter().map(|&i| [addr_of(i)]).collect();
        let updates: Vec<Message<'_>> = names
            .iter()
            .zip(&addrs)
            .map(|(n, a)| {
                Message::Alive(Alive { generation: 0, incarnation, name: n, addrs: Addrs::from_slice(a), meta: b"" })
            })
            .collect();
        let bytes = packet(Message::Ack(Ack { seq: 0, source: b"intro", payload: &[] }), &updates);
        feed(node, Time::ZERO, addr(200), &bytes).unwrap();
    }
    while node.poll_event().is_some() {}
}

/// An alive update of `name` at `at`, version 0.0.
fn alive<'a>(name: &'a [u8], at: &'a [SocketAddr]) -> Message<'a> {
    Message::Alive(Alive { generation: 0, incarnation: 0, name, addrs: Addrs::from_slice(at), meta: b"" })
}

/// What one exchange carried.
#[derive(Debug, Default)]
struct Carried {
    frames: usize,
    bytes: usize,
    records: usize,
    digest_values: usize,
}

/// Runs a periodic sync opened by `a` (`n0` at `addr(0)`) with `b` (`n1` at
/// `addr(1)`), frame by frame, until both are done.
fn exchange(a: &mut Node, b: &mut Node, frame_budget: usize) -> Carried {
    let id_a = a.open_sync(Time::ZERO, addr(1), false, a.tag(&name(1))).unwrap();
    let id_b = b.accept_sync(Time::ZERO, addr(0)).unwrap();
    let mut buf = vec![0u8; frame_budget];
    let mut carried = Carried::default();
    for _ in 0..10_000 {
        let (from, fid, to, tid) = if a.sync_status(id_a) == Some(SyncStatus::Send) {
            (&mut *a, id_a, &mut *b, id_b)
        } else if b.sync_status(id_b) == Some(SyncStatus::Send) {
            (&mut *b, id_b, &mut *a, id_a)
        } else {
            break;
        };
        let len = from.poll_sync_frame(fid, &mut buf).unwrap();
        let p = parse(&buf[4..len]);
        carried.frames += 1;
        carried.bytes += len;
        for m in p.piggyback() {
            match m {
                Message::MemberRecord(_) => carried.records += 1,
                Message::SyncDigest(d) => carried.digest_values += d.count(),
                _ => {}
            }
        }
        to.handle_sync_frame(Time::ZERO, tid, &mut buf[4..len]).unwrap();
    }
    assert_eq!((a.sync_status(id_a), b.sync_status(id_b)), (Some(SyncStatus::Done), Some(SyncStatus::Done)));
    a.close_sync(id_a);
    b.close_sync(id_b);
    carried
}

/// `n0` and `n1`, each knowing the other and members `0..count`.
fn pair(config: Config, count: u32) -> (Node, Node) {
    let mut a = node(config.clone());
    let mut b = Node::new(&name(1), &[addr(1)], b"", config, Time::ZERO).unwrap();
    learn(&mut a, 0..count, 0);
    learn(&mut b, 0..count, 0);
    for (n, other) in [(&mut a, 1u8), (&mut b, 0u8)] {
        let (who, at) = (name(other), [addr(other)]);
        let bytes = packet(Message::Ack(Ack { seq: 0, source: b"intro", payload: &[] }), &[alive(&who, &at)]);
        feed(n, Time::ZERO, addr(200), &bytes).unwrap();
        while n.poll_event().is_some() {}
    }
    (a, b)
}

#[test]
fn tables_that_agree_exchange_the_digest_and_no_record() {
    let (mut a, mut b) = pair(config(), 1000);
    let delta = exchange(&mut a, &mut b, 1 << 16);
    assert_eq!((delta.records, delta.digest_values), (0, 256), "{delta:?}");
    let (mut a, mut b) = pair(config().with(|c| c.sync.delta = false), 1000);
    let full = exchange(&mut a, &mut b, 1 << 16);
    assert_eq!(full.records, 2 * 1002, "{full:?}");
    assert!(delta.bytes * 20 < full.bytes, "delta {} bytes, full {} bytes", delta.bytes, full.bytes);
    assert_eq!(a.stats().syncs_completed, 1);
}

#[test]
fn a_delta_sync_repairs_what_differs_both_ways_and_little_else() {
    let (mut a, mut b) = pair(config(), 1000);
    learn(&mut a, 5000..5001, 0); // only a knows it
    learn(&mut b, 6000..6001, 0); // only b knows it
    learn(&mut a, 7..8, 3); // a knows a later incarnation
    let suspect = Message::Suspect(Suspect { generation: 0, incarnation: 0, name: &member(9), by: b"intro" });
    feed(&mut b, Time::ZERO, addr(200), &packet(Message::Ack(Ack { seq: 0, source: b"x", payload: &[] }), &[suspect]))
        .unwrap();
    let carried = exchange(&mut a, &mut b, 1 << 16);
    for n in [&a, &b] {
        for m in [member(5000), member(6000)] {
            assert_eq!(n.member(&m).map(|m| m.state), Some(State::Alive));
        }
        assert_eq!(n.member(&member(7)).map(|m| m.incarnation), Some(3));
        assert_eq!(n.member(&member(9)).map(|m| m.state), Some(State::Suspect));
    }
    // Four differing buckets of about four members, both ways.
    assert!((4..=64).contains(&carried.records), "{carried:?}");
}

#[test]
fn a_digest_spans_frames_and_strangers_exchange_everything() {
    let small = config().with(|c| {
        c.sync.frame_budget = 4 + 512 + 3 + 1 + 8 + 4 + 256 + 1 + 16 * 23 + 2 + 64 + 256;
        c.limits.max_metadata = 64;
    });
    let mut a = node(small.clone());
    let mut b = Node::new(&name(1), &[addr(1)], b"", small.clone(), Time::ZERO).unwrap();
    learn(&mut a, 0..2000, 0);
    learn(&mut b, 3000..3500, 0);
    let carried = exchange(&mut a, &mut b, small.sync.frame_budget);
    assert_eq!(carried.digest_values, 512);
    assert!(carried.frames > 10, "{carried:?}");
    // Every bucket differed: b's table came whole, and a answered with its
    // table as merged (what it had just learned from b included).
    assert_eq!(carried.records, 501 + 2502, "{carried:?}");
    assert_eq!((a.stats().known_members, b.stats().known_members), (2502, 2502));
    assert!(a.check_invariants().is_ok() && b.check_invariants().is_ok());
}

#[test]
fn a_peer_that_ignores_the_digest_ends_the_exchange_with_its_full_reply() {
    let mut a = node(config());
    learn(&mut a, 0..50, 0);
    let id = a.open_sync(Time::ZERO, addr(1), false, None).unwrap();
    let mut buf = vec![0u8; 1 << 16];
    while a.sync_status(id) == Some(SyncStatus::Send) {
        a.poll_sync_frame(id, &mut buf).unwrap();
    }
    // What a member without delta syncs answers: its table, flagged as a
    // plain reply.
    let (source, newcomer, at) = (name(1), member(999), [addr_of(999)]);
    let flags = SyncFlags(SyncFlags::REPLY | SyncFlags::LAST);
    let sync = Message::Sync(swim_wire::Sync { flags, source: &source, total: 1, chunk: 0 });
    let record = Message::MemberRecord(swim_wire::MemberRecord {
        state: swim_wire::MemberState::Alive,
        member: Alive { generation: 0, incarnation: 0, name: &newcomer, addrs: Addrs::from_slice(&at), meta: b"" },
        by: b"",
    });
    assert_eq!(a.handle_sync_frame(Time::ZERO, id, &mut packet(sync, &[record])), Ok(SyncStatus::Done));
    assert!(a.member(&newcomer).is_some());
}

#[test]
fn digests_that_do_not_fit_the_exchange_are_refused_and_change_nothing() {
    let digest_frame = |flags: u8, buckets: u32, first: u32, values: &[u8]| {
        let sync = Message::Sync(swim_wire::Sync { flags: SyncFlags(flags), source: &name(1), total: 1, chunk: 0 });
        let digest = Message::SyncDigest(SyncDigest { key: 1, buckets, first, values });
        let (newcomer, at) = (member(77), [addr_of(77)]);
        packet(sync, &[digest, alive(&newcomer, &at)])
    };
    let (delta, last) = (SyncFlags::DELTA, SyncFlags::LAST);
    let cases: [(Vec<u8>, InputError); 6] = [
        (digest_frame(delta | last, 8, 0, &[0; 4]), InputError::BadDigest("")),
        (digest_frame(delta | last, 3, 0, &[0; 12]), InputError::BadDigest("")),
        (digest_frame(delta | last, 8192, 0, &[0; 4]), InputError::BadDigest("")),
        (digest_frame(delta | last, 8, 4, &[0; 4]), InputError::BadDigest("")),
        (digest_frame(delta | last, 8, 0, &[0; 36]), InputError::BadDigest("")),
        (digest_frame(last, 8, 0, &[0; 4]), InputError::Unexpected(Kind::SyncDigest)),
    ];
    for (frame, want) in cases {
        let mut n = node(config());
        let id = n.accept_sync(Time::ZERO, addr(1)).unwrap();
        let got = n.handle_sync_frame(Time::ZERO, id, &mut frame.clone());
        let same = match (&got, &want) {
            (Err(InputError::BadDigest(_)), InputError::BadDigest(_)) => true,
            (Err(e), want) => e == want,
            _ => false,
        };
        assert!(same, "got {got:?}, want {want:?}");
        assert!(n.member(&member(77)).is_none(), "nothing merged");
        assert_eq!(n.sync_status(id), Some(SyncStatus::Receive));
    }
    // A delta join makes no sense: a joiner knows nothing to digest.
    let mut n = node(config());
    let id = n.accept_sync(Time::ZERO, addr(1)).unwrap();
    let frame = digest_frame(SyncFlags::DELTA | SyncFlags::JOIN | SyncFlags::LAST, 8, 0, &[0; 4]);
    assert_eq!(n.handle_sync_frame(Time::ZERO, id, &mut frame.clone()), Err(InputError::SyncOutOfOrder));
}
