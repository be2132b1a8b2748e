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
