//! Application state between nodes run in lockstep.

use core::time::Duration;

use super::queries_tests::Net;
use super::*;
use crate::error::CommandError;

fn sorted(node: &Node, owner: &[u8]) -> Vec<(String, String)> {
    let text = |b: &[u8]| String::from_utf8_lossy(b).into_owned();
    let mut out: Vec<(String, String)> = node.state_of(owner).map(|(k, v)| (text(k), text(v))).collect();
    out.sort();
    out
}

#[test]
fn state_spreads_by_gossip_newest_version_wins_and_deletions_spread_too() {
    let mut net = Net::new(&["a", "b", "c"]);
    let now = net.now;
    for (k, v) in [("load", "0.1"), ("zone", "eu"), ("load", "0.2"), ("gone", "soon")] {
        net.nodes[1].set_state(now, k.as_bytes(), v.as_bytes()).unwrap();
    }
    net.nodes[1].delete_state(now, b"gone").unwrap();
    let events = net.run(Duration::from_secs(3), |_, _| None);
    let want = [("load".to_owned(), "0.2".to_owned()), ("zone".to_owned(), "eu".to_owned())];
    for i in [0, 2] {
        assert_eq!(sorted(&net.nodes[i], b"n1"), want, "node {i}");
        assert_eq!(net.nodes[i].state_value(b"n1", b"gone"), None);
    }
    assert_eq!(sorted(&net.nodes[1], b"n1"), want, "the owner's own view");
    assert!(events.iter().any(|e| e.starts_with("n0: state n1 load=0.2")), "{events:?}");
    assert!(events.iter().any(|e| e.starts_with("n2: state n1 gone deleted")), "{events:?}");
    assert!(net.nodes[0].stats().state_updates >= 2);
}

#[test]
fn bad_state_writes_are_refused_and_change_nothing() {
    let mut net = Net::new(&["a", "b"]);
    let now = net.now;
    let a = &mut net.nodes[0];
    assert_eq!(a.set_state(now, b"", b"v"), Err(CommandError::BadState("the key must be 1 to 255 bytes")));
    assert!(matches!(a.set_state(now, &[b'k'; 256], b"v"), Err(CommandError::BadState(_))));
    let big = vec![0u8; a.config().dissemination.max_broadcast_payload];
    assert!(matches!(a.set_state(now, b"k", &big), Err(CommandError::TooLarge { what: "state", .. })));
    let limit = a.config().limits.max_state_keys;
    for i in 0..limit {
        a.set_state(now, format!("k{i}").as_bytes(), b"v").unwrap();
    }
    assert!(matches!(a.set_state(now, b"one-more", b"v"), Err(CommandError::TooLarge { what: "state keys", .. })));
    a.set_state(now, b"k0", b"rewritten").unwrap();
    assert_eq!(a.state_of(b"n0").count(), limit);
    assert_eq!(a.stats().state_writes, limit as u64 + 1);
}

#[test]
fn entries_of_another_process_or_past_an_owners_share_are_refused() {
    use swim_wire::{Message, StateBody, UserBroadcast};
    let mut net = Net::new(&["a", "b"]);
    let generation = net.nodes[1].member(b"n1").unwrap().generation;
    let body = |k: &str| {
        let key = k.as_bytes().to_vec();
        let b = StateBody { deleted: false, key: &key, value: b"v" };
        let mut out = vec![0u8; b.encoded_len()];
        b.encode(&mut out).unwrap();
        out
    };
    // A far-future generation of n1 (a forgery, or a process the table
    // does not know yet): refused, and nothing of n1's is touched.
    let forged = body("k");
    let item = UserBroadcast { generation: generation + 1_000, seq: 1, ttl_ms: 1000, origin: b"n1", payload: &forged };
    super::queries_tests::inject(&mut net, 1, 0, &[Message::State(item)]);
    assert_eq!(net.nodes[0].state_value(b"n1", b"k"), None);
    assert_eq!(net.nodes[0].stats().state_refused, 1);
    // More keys than an owner may have: the rest are refused.
    let limit = net.nodes[0].config().limits.max_state_keys;
    let bodies: Vec<Vec<u8>> = (0..limit + 10).map(|i| body(&format!("k{i}"))).collect();
    for (chunk_at, chunk) in bodies.chunks(20).enumerate() {
        let items: Vec<Message<'_>> = chunk
            .iter()
            .enumerate()
            .map(|(i, b)| {
                let seq = u32::try_from(chunk_at * 20 + i + 1).unwrap();
                Message::State(UserBroadcast { generation, seq, ttl_ms: 1000, origin: b"n1", payload: b })
            })
            .collect();
        super::queries_tests::inject(&mut net, 1, 0, &items);
    }
    assert_eq!(net.nodes[0].state_of(b"n1").count(), limit);
    assert_eq!(net.nodes[0].stats().state_refused, 1 + 10);
}

/// Runs a sync `opener` opens to `acceptor` (a join's if `join`),
/// carrying the frames by hand.
fn sync_pair(net: &mut Net, opener: usize, acceptor: usize, join: bool) {
    let now = net.now;
    let (to, from) = (net.addrs[acceptor], net.addrs[opener]);
    let id_o = net.nodes[opener].open_sync(now, to, join, None).unwrap();
    let id_a = net.nodes[acceptor].accept_sync(now, from).unwrap();
    let mut buf = vec![0u8; 1 << 16];
    for _ in 0..100 {
        let (sender, receiver, s_id, r_id) = if net.nodes[opener].sync_status(id_o) == Some(SyncStatus::Send) {
            (opener, acceptor, id_o, id_a)
        } else if net.nodes[acceptor].sync_status(id_a) == Some(SyncStatus::Send) {
            (acceptor, opener, id_a, id_o)
        } else {
            break;
        };
        let len = net.nodes[sender].poll_sync_frame(s_id, &mut buf).unwrap();
        net.nodes[receiver].handle_sync_frame(now, r_id, &mut buf[4..len]).unwrap();
    }
    assert_eq!(net.nodes[opener].sync_status(id_o), Some(SyncStatus::Done));
    net.nodes[opener].close_sync(id_o);
    net.nodes[acceptor].close_sync(id_a);
}

fn entry(generation: u64, seq: u32, body: &[u8]) -> swim_wire::UserBroadcast<'_> {
    swim_wire::UserBroadcast { generation, seq, ttl_ms: 60_000, origin: b"n1", payload: body }
}

fn encoded(deleted: bool, key: &[u8], value: &[u8]) -> Vec<u8> {
    let b = swim_wire::StateBody { deleted, key, value };
    let mut out = vec![0u8; b.encoded_len()];
    b.encode(&mut out).unwrap();
    out
}

#[test]
fn a_forgotten_tombstone_is_not_learned_again_nor_its_value_brought_back() {
    use swim_wire::Message;
    let mut net = Net::new(&["a", "b", "c"]);
    let now = net.now;
    net.nodes[1].set_state(now, b"k", b"old").unwrap();
    net.nodes[1].delete_state(now, b"k").unwrap();
    net.run(Duration::from_secs(3), |_, _| None);
    let (generation, set_seq, del_seq) = {
        let e = net.nodes[0].state.of(b"n1").next().unwrap();
        (e.generation, e.seq - 1, e.seq)
    };
    assert_eq!(net.nodes[0].state.of(b"n1").count(), 1, "a tombstone");
    // Its time is up: forgotten, and the owner's floor is its version.
    let ttl = net.nodes[0].config().limits.tombstone_ttl;
    let later = net.now + ttl + Duration::from_secs(1);
    net.nodes[0].state_sweep_at = Time::ZERO;
    net.nodes[0].sweep_state(later);
    assert_eq!(net.nodes[0].state.of(b"n1").count(), 0, "forgotten");
    let refused = net.nodes[0].stats().state_refused;

    // A member that learned it later sends it again: refused, no event.
    let tombstone = encoded(true, b"k", b"");
    super::queries_tests::inject(&mut net, 2, 0, &[Message::State(entry(generation, del_seq, &tombstone))]);
    // A member that missed the deletion sends the old value: refused.
    let old = encoded(false, b"k", b"old");
    super::queries_tests::inject(&mut net, 2, 0, &[Message::State(entry(generation, set_seq, &old))]);
    assert_eq!(net.nodes[0].state.of(b"n1").count(), 0);
    assert_eq!(net.nodes[0].stats().state_refused, refused + 2);
    assert!(net.run(Duration::from_millis(50), |_, _| None).iter().all(|e| !e.starts_with("n0: state")));

    // A newer version is news, whoever brings it; and the owner is the
    // authority on its own keys.
    let new = encoded(false, b"k", b"new");
    super::queries_tests::inject(&mut net, 2, 0, &[Message::State(entry(generation, del_seq + 1, &new))]);
    assert_eq!(net.nodes[0].state_value(b"n1", b"k"), Some(&b"new"[..]));
    let other = encoded(false, b"j", b"owner says");
    super::queries_tests::inject(&mut net, 1, 0, &[Message::State(entry(generation, set_seq, &other))]);
    assert_eq!(net.nodes[0].state_value(b"n1", b"j"), Some(&b"owner says"[..]));
}

#[test]
fn a_tombstone_keeps_its_time_left_across_a_sync() {
    let mut net = Net::new(&["a", "b", "c"]);
    let now = net.now;
    net.nodes[1].delete_state(now, b"k").unwrap();
    net.run(Duration::from_secs(2), |_, _| None);
    let learned = net.nodes[0].state.of(b"n1").next().unwrap().expires.unwrap();
    // n2 forgets everything of n1's (as a member that restarted would),
    // then learns the tombstone back from n0 in a sync a minute later.
    net.nodes[2].state = super::state::Store::default();
    net.now += Duration::from_secs(60);
    sync_pair(&mut net, 2, 0, false);
    let relearned = net.nodes[2].state.of(b"n1").next().unwrap().expires.unwrap();
    let gap = relearned.saturating_since(learned) + learned.saturating_since(relearned);
    assert!(gap <= Duration::from_millis(10), "expires with n0's copy, not a full time later: {gap:?}");
}

#[test]
fn a_member_that_moves_to_a_new_generation_takes_its_entries_along() {
    let mut net = Net::new(&["a", "b"]);
    let now = net.now;
    net.nodes[1].set_state(now, b"zone", b"eu").unwrap();
    net.run(Duration::from_secs(2), |_, _| None);
    assert_eq!(net.nodes[0].state_value(b"n1", b"zone"), Some(&b"eu"[..]));
    // n1 hears of a past life of itself above its own version: it becomes
    // a new generation, and its entries with it.
    let own = net.nodes[1].member(b"n1").unwrap();
    let heard = crate::version::Version::new(own.generation + 10, 0);
    net.nodes[1].refute(now, heard);
    let generation = net.nodes[1].process_generation;
    assert!(net.nodes[1].state.of(b"n1").all(|e| e.generation == generation));
    let events = net.run(Duration::from_secs(2), |_, _| None);
    assert_eq!(net.nodes[0].member(b"n1").unwrap().generation, generation);
    // The next sync brings them at the new generation: still there.
    sync_pair(&mut net, 0, 1, false);
    assert_eq!(net.nodes[0].state_value(b"n1", b"zone"), Some(&b"eu"[..]));
    assert!(net.nodes[0].state.of(b"n1").all(|e| e.generation == generation));
    let events = [events, net.run(Duration::from_millis(50), |_, _| None)].concat();
    assert!(events.iter().any(|e| e == "n0: state n1 cleared"), "{events:?}");
}

#[test]
fn a_reaped_owners_entries_go_and_that_is_reported_once() {
    let mut net = Net::new(&["a", "b", "c"]);
    let now = net.now;
    net.nodes[1].set_state(now, b"zone", b"eu").unwrap();
    net.run(Duration::from_secs(2), |_, _| None);
    let now = net.now;
    net.nodes[1].leave(now);
    net.run(Duration::from_secs(2), |_, _| None);
    assert_eq!(net.nodes[0].member(b"n1").map(|m| m.state), Some(State::Left));
    assert_eq!(net.nodes[0].state_value(b"n1", b"zone"), Some(&b"eu"[..]), "kept while it is in the table");
    let ttl = net.nodes[0].config().limits.tombstone_ttl;
    let events = net.run(ttl + Duration::from_secs(2), |_, _| None);
    assert!(net.nodes[0].member(b"n1").is_none(), "reaped");
    assert_eq!(net.nodes[0].state_value(b"n1", b"zone"), None);
    let cleared: Vec<&String> = events.iter().filter(|e| e.ends_with("state n1 cleared")).collect();
    assert_eq!(cleared, ["n0: state n1 cleared", "n2: state n1 cleared"]);
}

#[test]
fn the_owner_deletes_again_a_value_a_member_kept_past_its_tombstone() {
    use swim_wire::Message;
    let mut net = Net::new(&["a", "b", "c"]);
    let now = net.now;
    net.nodes[1].set_state(now, b"k", b"old").unwrap();
    net.run(Duration::from_secs(3), |_, _| None);
    let (generation, set_seq) = {
        let e = net.nodes[0].state.of(b"n1").next().unwrap();
        (e.generation, e.seq)
    };
    let now = net.now;
    net.nodes[1].delete_state(now, b"k").unwrap();
    net.run(Duration::from_secs(3), |_, _| None);
    // Every member forgets the tombstone, the owner too.
    let later = net.now + net.nodes[0].config().limits.tombstone_ttl + Duration::from_secs(1);
    for n in &mut net.nodes {
        n.state_sweep_at = Time::ZERO;
        n.sweep_state(later);
        assert_eq!(n.state.of(b"n1").count(), 0);
    }
    // n2 was cut off all that time: it still holds the old value.
    net.nodes[2].state = super::state::Store::default();
    let old = encoded(false, b"k", b"old");
    super::queries_tests::inject(&mut net, 1, 2, &[Message::State(entry(generation, set_seq, &old))]);
    assert_eq!(net.nodes[2].state_value(b"n1", b"k"), Some(&b"old"[..]));
    // Its next sync with the owner: the owner deletes the key again, and
    // the fresh tombstone reaches it (by gossip, or its next sync).
    sync_pair(&mut net, 2, 1, false);
    assert_eq!(net.nodes[1].stats().state_corrected, 1);
    net.run(Duration::from_secs(2), |_, _| None);
    assert_eq!(net.nodes[2].state_value(b"n1", b"k"), None);
    assert_eq!(net.nodes[2].state.of(b"n1").count(), 1, "a tombstone");
    sync_pair(&mut net, 2, 1, false);
    assert_eq!(net.nodes[1].stats().state_corrected, 1, "once");

    // A value of a past process of the owner: deleted too (so that the
    // others drop that process's entries); one the owner never wrote is
    // not its own (nothing happens).
    let past = encoded(false, b"older", b"v");
    let ahead = encoded(false, b"never", b"v");
    let heard = crate::version::Version::new(generation + 10, 0);
    let now = net.now;
    net.nodes[1].refute(now, heard);
    let (current, next) = (net.nodes[1].process_generation, net.nodes[1].next_broadcast_seq);
    assert!(current > generation);
    super::queries_tests::inject(&mut net, 0, 1, &[Message::State(entry(generation, 1, &past))]);
    super::queries_tests::inject(&mut net, 0, 1, &[Message::State(entry(current, next + 5, &ahead))]);
    assert_eq!(net.nodes[1].stats().state_corrected, 2);
    assert!(net.nodes[1].state.find(b"n1", b"older").is_some(), "a tombstone of it");
    assert!(net.nodes[1].state.find(b"n1", b"never").is_none());
}
