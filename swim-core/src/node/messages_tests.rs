//! Direct messages: best effort in a datagram, reliable over a sync stream.

use swim_wire::{Message, Sync, SyncFlags, UserMessage};

use super::tests::{addr, config, drain_events, feed, introduce, name, node, packet, parse, transmits};
use super::*;
use crate::error::CommandError;
use crate::node::sync::SyncStatus;

/// `n0` and `n1`, each knowing the other.
fn pair() -> (Node, Node) {
    let mut a = node(config());
    let mut b = Node::new(&name(1), &[addr(1)], b"", config(), Time::ZERO).unwrap();
    introduce(&mut a, Time::ZERO, 1);
    let intro = packet(
        Message::Ack(swim_wire::Ack { seq: 0, source: b"intro", payload: &[] }),
        &[Message::Alive(swim_wire::Alive {
            generation: 0,
            incarnation: 0,
            name: &name(0),
            addrs: swim_wire::Addrs::from_slice(&[addr(0)]),
            meta: b"",
        })],
    );
    feed(&mut b, Time::ZERO, addr(200), &intro).unwrap();
    drain_events(&mut b);
    (a, b)
}

/// Carries a reliable exchange from `a` (opener) to `b`; returns the
/// opener's id.
fn carry(a: &mut Node, b: &mut Node) -> SyncId {
    let open = a.poll_sync_open().expect("an exchange to open");
    assert_eq!(open.peer, addr(1));
    let accepted = b.accept_sync(Time::ZERO, addr(0)).unwrap();
    let mut buf = vec![0u8; 1 << 16];
    let len = a.poll_sync_frame(open.id, &mut buf).unwrap();
    assert_eq!(a.sync_status(open.id), Some(SyncStatus::Receive));
    assert_eq!(b.handle_sync_frame(Time::ZERO, accepted, &mut buf[4..len]), Ok(SyncStatus::Send));
    let len = b.poll_sync_frame(accepted, &mut buf).unwrap();
    assert_eq!(b.sync_status(accepted), Some(SyncStatus::Done));
    assert_eq!(a.handle_sync_frame(Time::ZERO, open.id, &mut buf[4..len]), Ok(SyncStatus::Done));
    a.close_sync(open.id);
    b.close_sync(accepted);
    open.id
}

#[test]
fn a_best_effort_message_arrives_in_one_datagram_with_gossip_beside_it() {
    let (mut a, mut b) = pair();
    a.send_message(Time::ZERO, &name(1), b"hello").unwrap();
    let out = transmits(&mut a, Time::ZERO);
    assert_eq!(out.len(), 1);
    let (to, bytes) = &out[0];
    assert_eq!(*to, addr(1));
    let p = parse(bytes);
    assert!(matches!(p.primary(), Message::Gossip(g) if g.source == b"n0"));
    assert!(p.piggyback().any(|m| matches!(m, Message::UserMessage(u) if u.payload == b"hello")));
    feed(&mut b, Time::ZERO, addr(0), bytes).unwrap();
    assert_eq!(drain_events(&mut b), ["message from n0 hello reliable=false"]);
    assert_eq!((a.stats().messages_sent, b.stats().messages_received), (1, 1));
}

#[test]
fn a_reliable_message_is_delivered_once_and_acknowledged() {
    let (mut a, mut b) = pair();
    // More than the pool holds, one after another: each gives its slot back.
    for i in 0..(MESSAGE_SLOTS + 3) {
        let payload = format!("m{i}");
        let id = a.send_reliable(Time::ZERO, &name(1), payload.as_bytes()).unwrap();
        assert_eq!(carry(&mut a, &mut b), id);
        assert_eq!(drain_events(&mut b), [format!("message from n0 {payload} reliable=true")]);
    }
    let n = (MESSAGE_SLOTS + 3) as u64;
    assert_eq!((a.stats().messages_delivered, b.stats().messages_received), (n, n));
}

#[test]
fn messages_to_unknown_departed_or_oversized_targets_are_refused_and_queue_nothing() {
    let (mut a, _) = pair();
    assert_eq!(a.send_message(Time::ZERO, b"n9", b"x"), Err(CommandError::UnknownMember));
    assert_eq!(a.send_message(Time::ZERO, &name(0), b"x"), Err(CommandError::UnknownMember), "not to itself");
    let big = vec![0u8; a.config().limits.max_message + 1];
    let limit = a.config().limits.max_message;
    assert_eq!(
        a.send_reliable(Time::ZERO, &name(1), &big),
        Err(CommandError::TooLarge { what: "message", len: big.len(), limit })
    );
    let datagram_limit = a.config().dissemination.max_broadcast_payload;
    assert!(matches!(
        a.send_message(Time::ZERO, &name(1), &big[..datagram_limit + 1]),
        Err(CommandError::TooLarge { what: "message", .. })
    ));
    let left = packet(
        Message::Ack(swim_wire::Ack { seq: 0, source: b"n1", payload: &[] }),
        &[Message::Left(swim_wire::Left { generation: 0, incarnation: 0, name: &name(1) })],
    );
    feed(&mut a, Time::ZERO, addr(1), &left).unwrap();
    assert_eq!(a.send_message(Time::ZERO, &name(1), b"x"), Err(CommandError::MemberDown(State::Left)));
    assert_eq!(a.send_reliable(Time::ZERO, &name(1), b"x"), Err(CommandError::MemberDown(State::Left)));
    assert!(transmits(&mut a, Time::ZERO).iter().all(|(_, b)| !matches!(parse(b).primary(), Message::Gossip(_))));
    assert!(a.poll_sync_open().is_none());
    assert_eq!(a.stats().messages_sent, 0);
}

#[test]
fn a_message_frame_of_the_wrong_shape_is_refused_and_delivers_nothing() {
    let (_, mut b) = pair();
    let frame = |flags: u8, items: &[Message<'_>]| {
        packet(Message::Sync(Sync { flags: SyncFlags(flags), source: b"n0", total: 0, chunk: 0 }), items)
    };
    let m = Message::UserMessage(UserMessage { payload: b"x" });
    let message = SyncFlags::MESSAGE | SyncFlags::LAST;
    let cases: [(u8, Vec<Message<'_>>); 4] = [
        (message, vec![m, m]),                 // two messages
        (message, vec![]),                     // none
        (message | SyncFlags::JOIN, vec![m]),  // a join flag too
        (message | SyncFlags::REPLY, vec![m]), // an acknowledgement to a receiver
    ];
    for (flags, items) in cases {
        let id = b.accept_sync(Time::ZERO, addr(0)).unwrap();
        let mut bytes = frame(flags, &items);
        assert!(b.handle_sync_frame(Time::ZERO, id, &mut bytes).is_err(), "flags {flags:#x}, {} items", items.len());
        b.close_sync(id);
    }
    assert!(drain_events(&mut b).is_empty());
    assert_eq!(b.stats().messages_received, 0);
}

#[test]
fn an_exchange_that_ends_unacknowledged_frees_its_message() {
    let (mut a, _) = pair();
    for _ in 0..(2 * MESSAGE_SLOTS) {
        let id = a.send_reliable(Time::ZERO, &name(1), b"lost").unwrap();
        let open = a.poll_sync_open().unwrap();
        assert_eq!(open.id, id);
        a.close_sync(id); // the connection failed before the frame went out
    }
    assert_eq!(a.stats().messages_delivered, 0);
}
