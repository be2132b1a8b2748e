//! The application's own state in syncs driven by hand: both ways, once,
//! in pieces, bounded, and refused whole when a peer breaks the rules.

use std::sync::{Arc, Mutex};

use swim_wire::{AppStateChunk, Message, Sync, SyncFlags};

use super::sync_tests::exchange;
use super::tests::{addr, config, name, node, packet};
use super::*;
use crate::InputError;

/// What a hook was asked and given.
#[derive(Debug, Default)]
struct Seen {
    /// `local_state` calls, with their `join`.
    asked: Vec<bool>,
    /// `merge_remote_state` calls: (from, bytes, join).
    merged: Vec<(Vec<u8>, Vec<u8>, bool)>,
}

/// A hook that sends `mine` and records everything.
struct Recorder {
    mine: Vec<u8>,
    seen: Arc<Mutex<Seen>>,
}

impl AppState for Recorder {
    fn local_state(&mut self, join: bool, out: &mut Vec<u8>) {
        assert!(out.is_empty());
        self.seen.lock().unwrap().asked.push(join);
        out.extend_from_slice(&self.mine);
    }
    fn merge_remote_state(&mut self, from: &[u8], state: &[u8], join: bool) {
        self.seen.lock().unwrap().merged.push((from.to_vec(), state.to_vec(), join));
    }
}

fn with_state(node: &mut Node, mine: Vec<u8>) -> Arc<Mutex<Seen>> {
    let seen = Arc::new(Mutex::new(Seen::default()));
    node.set_app_state(Recorder { mine, seen: Arc::clone(&seen) });
    seen
}

/// Bytes that show where each one came from.
#[allow(clippy::cast_possible_truncation)] // i % 251 fits a byte
fn pattern(len: usize, salt: u8) -> Vec<u8> {
    (0..len).map(|i| ((i % 251) as u8).wrapping_mul(31).wrapping_add(salt)).collect()
}

#[test]
fn each_side_gets_the_others_whole_state_once_per_sync_in_pieces() {
    // 200 KB does not fit a 64 KiB frame: it goes in four pieces.
    let (big, small) = (pattern(200_000, 1), pattern(300, 2));
    for (join, delta) in [(true, false), (false, true), (false, false)] {
        let cfg = config().with(|c| c.sync.delta = delta);
        let mut opener = node(cfg.clone());
        let mut acceptor = Node::new(&name(1), &[addr(1)], b"", cfg, Time::ZERO).unwrap();
        let (seen_o, seen_a) = (with_state(&mut opener, big.clone()), with_state(&mut acceptor, small.clone()));
        exchange(&mut opener, &mut acceptor, join);
        let (o, a) = (seen_o.lock().unwrap(), seen_a.lock().unwrap());
        assert_eq!(o.asked, [join], "asked once (join {join}, delta {delta})");
        assert_eq!(a.asked, [join]);
        assert_eq!(a.merged, [(name(0), big.clone(), join)], "the acceptor merged all of the opener's");
        assert_eq!(o.merged, [(name(1), small.clone(), join)], "and the opener all of the acceptor's");
        assert_eq!((opener.stats().app_states_merged, acceptor.stats().app_states_merged), (1, 1));
    }
}

#[test]
fn a_node_without_a_hook_sends_nothing_and_ignores_what_it_gets() {
    let mut opener = node(config());
    let mut acceptor = Node::new(&name(1), &[addr(1)], b"", config(), Time::ZERO).unwrap();
    let seen = with_state(&mut opener, pattern(5_000, 3));
    exchange(&mut opener, &mut acceptor, false);
    let seen = seen.lock().unwrap();
    assert_eq!(seen.asked.len(), 1);
    assert!(seen.merged.is_empty(), "the acceptor has no state to send");
    assert_eq!(acceptor.stats().app_states_merged, 0);
    assert_eq!(acceptor.stats().live_members, 2, "the records merged as always");
}

#[test]
fn a_state_larger_than_the_limit_is_not_sent() {
    let cfg = config().with(|c| c.limits.max_app_state = 1_000);
    let mut opener = node(cfg.clone());
    let mut acceptor = Node::new(&name(1), &[addr(1)], b"", cfg, Time::ZERO).unwrap();
    with_state(&mut opener, pattern(1_001, 4));
    let seen_a = with_state(&mut acceptor, pattern(1_000, 5));
    exchange(&mut opener, &mut acceptor, false);
    assert!(seen_a.lock().unwrap().merged.is_empty(), "nothing of the oversized state went");
    assert_eq!(opener.stats().app_state_oversized, 1);
    assert_eq!(opener.stats().app_states_merged, 1, "the acceptor's, at the limit, went");
}

/// A frame from `n1` accepted by `n` (its first: chunk 0), carrying a
/// member record of `n2` and the given pieces.
fn frame_with(pieces: &[AppStateChunk<'_>], last: bool) -> Vec<u8> {
    let flags = SyncFlags(if last { SyncFlags::LAST } else { 0 });
    let sync = Message::Sync(Sync { flags, source: b"n1", total: 1, chunk: 0 });
    let (member, addrs) = (name(2), [addr(2)]);
    let record = Message::MemberRecord(swim_wire::MemberRecord {
        state: swim_wire::MemberState::Alive,
        member: swim_wire::Alive {
            generation: 0,
            incarnation: 0,
            name: &member,
            addrs: swim_wire::Addrs::from_slice(&addrs),
            meta: b"",
        },
        by: b"",
    });
    let mut items = vec![record];
    items.extend(pieces.iter().map(|&p| Message::AppState(p)));
    packet(sync, &items)
}

#[test]
fn pieces_that_break_the_rules_are_refused_whole() {
    let cfg = config().with(|c| c.limits.max_app_state = 100);
    let piece = |total, offset, bytes| AppStateChunk { total, offset, bytes };
    let cases: [(&str, Vec<AppStateChunk<'static>>, bool); 6] = [
        ("larger than 16 MiB", vec![piece((16 << 20) + 1, 0, &[1; 10])], false),
        ("a piece out of order", vec![piece(20, 10, &[1; 10])], false),
        ("a piece out of order", vec![piece(20, 0, &[1; 5]), piece(20, 10, &[1; 10])], false),
        ("the total changed between pieces", vec![piece(20, 0, &[1; 10]), piece(30, 10, &[1; 10])], false),
        ("a piece empty or past the total", vec![piece(20, 0, &[1; 21])], false),
        ("pieces missing at the last frame", vec![piece(20, 0, &[1; 10])], true),
    ];
    for (why, pieces, last) in cases {
        let mut n = node(cfg.clone());
        let seen = with_state(&mut n, Vec::new());
        let id = n.accept_sync(Time::ZERO, addr(1)).unwrap();
        let result = n.handle_sync_frame(Time::ZERO, id, &mut frame_with(&pieces, last));
        assert_eq!(result, Err(InputError::BadAppState(why)), "{pieces:?}");
        assert_eq!(n.stats().known_members, 1, "nothing merged: {why}");
        assert!(seen.lock().unwrap().merged.is_empty());
        assert_eq!(n.sync_status(id), Some(SyncStatus::Receive), "the exchange is where it was");
    }
    // A piece of an empty frame's empty state: refused too.
    let mut n = node(cfg);
    let id = n.accept_sync(Time::ZERO, addr(1)).unwrap();
    let result = n.handle_sync_frame(Time::ZERO, id, &mut frame_with(&[piece(0, 0, &[])], false));
    assert_eq!(result, Err(InputError::BadAppState("a piece empty or past the total")));
}

#[test]
fn a_peers_state_past_this_nodes_limit_is_skipped_and_the_sync_goes_on() {
    let mut opener = node(config());
    let small = config().with(|c| c.limits.max_app_state = 1_000);
    let mut acceptor = Node::new(&name(1), &[addr(1)], b"", small, Time::ZERO).unwrap();
    let seen_o = with_state(&mut opener, pattern(5_000, 6));
    let seen_a = with_state(&mut acceptor, pattern(700, 7));
    exchange(&mut opener, &mut acceptor, false);
    assert!(seen_a.lock().unwrap().merged.is_empty(), "5,000 bytes: past the acceptor's limit");
    assert_eq!(acceptor.stats().app_state_oversized, 1);
    assert_eq!(acceptor.stats().live_members, 2, "the records merged");
    assert_eq!(seen_o.lock().unwrap().merged, [(name(1), pattern(700, 7), false)], "the reply went on");
}

#[test]
fn a_frame_larger_than_an_item_carries_the_state_in_the_largest_pieces() {
    // A 200 KB frame: each piece is as large as an item's body allows.
    let cfg = config().with(|c| c.sync.frame_budget = 200_000);
    let mut opener = node(cfg.clone());
    let mut acceptor = Node::new(&name(1), &[addr(1)], b"", cfg, Time::ZERO).unwrap();
    let big = pattern(150_000, 8);
    with_state(&mut opener, big.clone());
    let seen_a = with_state(&mut acceptor, Vec::new());
    exchange(&mut opener, &mut acceptor, false);
    assert_eq!(seen_a.lock().unwrap().merged, [(name(0), big, false)]);
}

#[test]
fn a_hook_set_while_a_peers_state_arrives_gets_none_of_that_one() {
    let mut n = node(config());
    let id = n.accept_sync(Time::ZERO, addr(1)).unwrap();
    let first = frame_with(&[AppStateChunk { total: 6, offset: 0, bytes: b"hel" }], false);
    n.handle_sync_frame(Time::ZERO, id, &mut first.clone()).unwrap();
    let seen = with_state(&mut n, Vec::new());
    let sync = Message::Sync(Sync { flags: SyncFlags(SyncFlags::LAST), source: b"n1", total: 1, chunk: 1 });
    let rest = [Message::AppState(AppStateChunk { total: 6, offset: 3, bytes: b"lo!" })];
    assert!(n.handle_sync_frame(Time::ZERO, id, &mut packet(sync, &rest)).is_ok());
    assert!(seen.lock().unwrap().merged.is_empty(), "not the half it saw");
    assert_eq!(n.stats().app_states_merged, 0);
}

#[test]
fn a_sync_cannot_turn_into_a_join_halfway() {
    let mut n = node(config());
    let id = n.accept_sync(Time::ZERO, addr(1)).unwrap();
    n.handle_sync_frame(Time::ZERO, id, &mut frame_with(&[], false)).unwrap();
    let flags = SyncFlags(SyncFlags::LAST | SyncFlags::JOIN);
    let sync = Message::Sync(Sync { flags, source: b"n1", total: 1, chunk: 1 });
    assert_eq!(n.handle_sync_frame(Time::ZERO, id, &mut packet(sync, &[])), Err(InputError::SyncOutOfOrder));
}

#[test]
fn pieces_across_frames_are_merged_once_all_are_in() {
    let mut n = node(config());
    let seen = with_state(&mut n, Vec::new());
    let id = n.accept_sync(Time::ZERO, addr(1)).unwrap();
    let first = frame_with(&[AppStateChunk { total: 6, offset: 0, bytes: b"hel" }], false);
    n.handle_sync_frame(Time::ZERO, id, &mut first.clone()).unwrap();
    assert!(seen.lock().unwrap().merged.is_empty(), "not until all are in");
    let sync = Message::Sync(Sync { flags: SyncFlags(SyncFlags::LAST), source: b"n1", total: 1, chunk: 1 });
    let rest = [Message::AppState(AppStateChunk { total: 6, offset: 3, bytes: b"lo!" })];
    n.handle_sync_frame(Time::ZERO, id, &mut packet(sync, &rest)).unwrap();
    assert_eq!(seen.lock().unwrap().merged, [(b"n1".to_vec(), b"hello!".to_vec(), false)]);
    assert_eq!(n.stats().app_states_merged, 1);
}
