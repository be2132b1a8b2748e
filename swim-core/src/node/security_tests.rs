//! Encryption, replay protection and limits, one node at a time.

use std::net::SocketAddr;

use swim_wire::{Addrs, Alive, JoinRequest, MemberRecord, MemberState, Message, Sync, SyncFlags};

use super::membership::AliveUpdate;
use super::tests::{addr, config, feed, introduce, name, packet, parse, transmits};
use super::transmit::Outgoing;
use super::*;
use crate::config::{Encryption, RateLimit, SecretKey};
use crate::version::Version;
use crate::{CommandError, InputError};

const WALL: u64 = 1_800_000_000_000;

fn encrypted(key: u8) -> Config {
    config().with(|c| c.security.encryption = Some(Encryption::new(SecretKey([key; 32]))))
}

fn node_at(i: u8, config: Config) -> Node {
    let mut n = Node::new(&name(i), &[addr(i)], b"", config, Time::ZERO).unwrap();
    n.set_wall_clock(Time::ZERO, WALL);
    n
}

/// Teaches `node` member `i` (as a received alive update would).
fn learn(node: &mut Node, i: u8) {
    let (n, a) = (name(i), [addr(i)]);
    node.apply_alive(
        Time::ZERO,
        &AliveUpdate { name: &n, version: Version::default(), addrs: Addrs::from_slice(&a), meta: b"" },
        None,
    );
}

/// The datagram `node` sends when it pings member `to`.
fn ping_from(node: &mut Node, to: u8, now: Time) -> Vec<u8> {
    learn(node, to);
    let slot = node.members.find(&name(to)).unwrap();
    let target = node.members.reference(slot).unwrap();
    let seq = node.next_seq();
    node.send(Outgoing::Ping { to: addr(to), seq, target, carry: super::transmit::Carry::Nothing });
    transmits(node, now).pop().unwrap().1
}

#[test]
fn members_sharing_a_key_talk_and_the_wire_shows_no_names() {
    let mut a = node_at(0, encrypted(7));
    let mut b = node_at(1, encrypted(7));
    let mut ping = ping_from(&mut a, 1, Time::ZERO);
    // In the clear, a ping holds its source and target names side by side,
    // each after its length byte; six given bytes turn up in random
    // ciphertext of this size with probability below 10⁻¹².
    assert!(!ping.windows(6).any(|w| w == b"\x02n0\x02n1"), "names are not in the clear");
    b.handle_datagram(Time::ZERO, addr(0), &mut ping).unwrap();
    let out = transmits(&mut b, Time::ZERO);
    assert_eq!(out.len(), 1, "b answers");
    assert_eq!(b.stats().packets_rejected, 0);
}

#[test]
fn a_capture_sealed_for_one_member_is_refused_by_another() {
    let mut a = node_at(0, encrypted(7));
    let mut b = node_at(1, encrypted(7));
    let mut c = node_at(2, encrypted(7));
    for (me, n) in [&mut a, &mut b, &mut c].into_iter().enumerate() {
        for i in (0..3).filter(|&i| i != me) {
            learn(n, u8::try_from(i).unwrap());
        }
    }
    let ping = ping_from(&mut a, 1, Time::ZERO);
    // To C, from A's address, as an attacker on the path would replay it.
    let before = c.stats();
    assert!(matches!(c.handle_datagram(Time::ZERO, addr(0), &mut ping.clone()), Err(InputError::Decode(_))));
    assert!(transmits(&mut c, Time::ZERO).is_empty(), "C does not answer");
    assert_eq!(c.stats().rejected_key, before.rejected_key + 1);
    b.handle_datagram(Time::ZERO, addr(0), &mut ping.clone()).unwrap();
    let ack = transmits(&mut b, Time::ZERO).pop().unwrap().1;
    assert!(c.handle_datagram(Time::ZERO, addr(1), &mut ack.clone()).is_err(), "B's ack to A is not C's");

    // A join request is sealed for any receiver (the joiner knows seeds by
    // address only); nothing else may be.
    let mut joiner = node_at(3, encrypted(7));
    joiner.join(Time::ZERO, &[addr(2)]).unwrap();
    let request = transmits(&mut joiner, Time::ZERO).pop().unwrap().1;
    assert_ne!(request[swim_wire::packet::field::FLAGS] & swim_wire::packet::flags::ANY_RECEIVER, 0);
    c.handle_datagram(Time::ZERO, addr(3), &mut request.clone()).unwrap();
    let response = transmits(&mut c, Time::ZERO).pop().unwrap().1;
    assert_eq!(
        response[swim_wire::packet::field::FLAGS] & swim_wire::packet::flags::ANY_RECEIVER,
        0,
        "the answer is bound"
    );
    let mut gossip = [0u8; 1400];
    let len = {
        let header = c.header();
        let mut w = swim_wire::PacketWriter::new(&mut gossip, &header, 1300).unwrap();
        w.push(&swim_wire::Message::Gossip(swim_wire::Gossip { source: &name(3) })).unwrap();
        w.finish().unwrap()
    };
    let len = joiner.seal(&mut gossip, len, None).unwrap();
    assert_eq!(
        c.handle_datagram(Time::ZERO, addr(3), &mut gossip[..len]),
        Err(InputError::AnyReceiver(swim_wire::Kind::Gossip))
    );
}

#[test]
fn nodes_built_from_one_config_never_share_a_nonce_epoch() {
    // The same config, seed included, for two nodes (as a copied config
    // file, or a restart, would give): each draws its own epoch.
    let ring = swim_wire::crypto::Keyring::new(&[7; 32]);
    let mut epochs = Vec::new();
    for _ in 0..2 {
        let mut a = node_at(0, encrypted(7));
        let mut ping = ping_from(&mut a, 1, Time::ZERO);
        let len = ping.len();
        let me = swim_wire::crypto::ReceiverTag::of(&name(1));
        let opened = ring.open(&mut ping, len, &swim_wire::DecodeOptions::default(), &me).unwrap();
        epochs.push(opened.nonce);
    }
    assert_eq!(epochs[0].counter, epochs[1].counter, "same history");
    assert_ne!(epochs[0].epoch, epochs[1].epoch, "different epochs");
}

#[test]
fn wrong_keys_plaintext_and_unexpected_seals_are_refused_and_counted() {
    let mut a = node_at(0, encrypted(7));
    let mut stranger = node_at(5, encrypted(8));
    let mut plain = node_at(6, config());
    let mut b = node_at(1, encrypted(7));
    let before = b.stats();

    let mut sealed_wrong = ping_from(&mut stranger, 1, Time::ZERO);
    let err = b.handle_datagram(Time::ZERO, addr(5), &mut sealed_wrong).unwrap_err();
    assert!(matches!(err, InputError::Decode(e) if matches!(e.kind(), swim_wire::ErrorKind::UnknownKey(_))), "{err}");

    let mut plaintext = ping_from(&mut plain, 1, Time::ZERO);
    assert_eq!(b.handle_datagram(Time::ZERO, addr(6), &mut plaintext), Err(InputError::Plaintext));

    let mut sealed = ping_from(&mut a, 6, Time::ZERO);
    assert_eq!(plain.handle_datagram(Time::ZERO, addr(0), &mut sealed), Err(InputError::Sealed));

    let after = b.stats();
    assert_eq!(after.rejected_key, before.rejected_key + 1);
    assert_eq!(after.rejected_encryption, before.rejected_encryption + 1);
    assert_eq!(after.packets_rejected, before.packets_rejected + 2);
    assert_eq!(after.known_members, before.known_members, "nothing learned from refused packets");
    assert!(transmits(&mut b, Time::ZERO).is_empty());

    // During a migration plaintext is accepted.
    let migrating = Encryption { accept_plaintext: true, ..Encryption::new(SecretKey([7; 32])) };
    let mut m = node_at(2, config().with(|c| c.security.encryption = Some(migrating)));
    let mut plaintext = ping_from(&mut plain, 2, Time::ZERO);
    assert!(m.handle_datagram(Time::ZERO, addr(6), &mut plaintext).is_ok());
}

#[test]
fn a_replayed_capture_is_refused() {
    let mut a = node_at(0, encrypted(7));
    let mut b = node_at(1, encrypted(7));
    let capture = ping_from(&mut a, 1, Time::ZERO);
    b.handle_datagram(Time::ZERO, addr(0), &mut capture.clone()).unwrap();
    transmits(&mut b, Time::ZERO);
    // The same bytes again, a second later: refused, nothing answered.
    let later = Time::from_secs(1);
    assert_eq!(b.handle_datagram(later, addr(0), &mut capture.clone()), Err(InputError::Replayed));
    assert!(transmits(&mut b, later).is_empty());
    // Ten minutes later, to a process of B that never saw it (a restart
    // forgets the replay window): refused by age.
    let mut c = node_at(1, encrypted(7));
    c.set_wall_clock(Time::ZERO, WALL + 600_000);
    assert_eq!(c.handle_datagram(Time::ZERO, addr(0), &mut capture.clone()), Err(InputError::Stale));
    assert_eq!((b.stats().rejected_replay, c.stats().rejected_replay), (1, 1));
}

#[test]
fn keys_rotate_without_a_gap() {
    let mut a = node_at(0, encrypted(7));
    let mut b = node_at(1, encrypted(7));
    let k2 = SecretKey([9; 32]);
    // 1. Everyone installs the new key (still sealing with the old one).
    assert_eq!(a.add_key(&k2), Ok(k2.id()));
    assert_eq!(b.add_key(&k2), Ok(k2.id()));
    // 2. a seals with the new key; b opens it.
    a.use_key(k2.id()).unwrap();
    assert_eq!(a.key_ids()[0], k2.id());
    let mut ping = ping_from(&mut a, 1, Time::ZERO);
    b.handle_datagram(Time::ZERO, addr(0), &mut ping).unwrap();
    // 3. The old key is removed; the key in use cannot be.
    let old = SecretKey([7; 32]).id();
    assert_eq!(a.remove_key(k2.id()), Err(CommandError::Keyring(swim_wire::crypto::KeyringError::Primary(k2.id()))));
    a.remove_key(old).unwrap();
    assert_eq!(a.key_ids(), vec![k2.id()]);
    // Without encryption there is no keyring to change.
    let mut plain = node_at(3, config());
    assert_eq!(plain.add_key(&k2), Err(CommandError::NoEncryption));
    assert!(plain.key_ids().is_empty());
}

#[test]
fn encrypted_sync_frames_round_trip() {
    for delta in [false, true] {
        let mut a = node_at(0, encrypted(7).with(|c| c.sync.delta = delta));
        let mut b = node_at(1, encrypted(7));
        for i in 2..=31 {
            learn(&mut a, i);
        }
        let id_a = a.open_sync(Time::ZERO, addr(1), false, a.tag(&name(1))).unwrap();
        let id_b = b.accept_sync(Time::ZERO, addr(0)).unwrap();
        let mut buf = vec![0u8; 1 << 16];
        let names: Vec<Vec<u8>> = (2..=31).map(name).collect();
        for _ in 0..100 {
            let (from, fid, to, tid) = if a.sync_status(id_a) == Some(SyncStatus::Send) {
                (&mut a, id_a, &mut b, id_b)
            } else if b.sync_status(id_b) == Some(SyncStatus::Send) {
                (&mut b, id_b, &mut a, id_a)
            } else {
                break;
            };
            let len = from.poll_sync_frame(fid, &mut buf).unwrap();
            // In the clear a frame of records holds all thirty names; sealed,
            // a three-byte name turns up by chance with probability about
            // 10⁻⁴ each, so three or more with probability below 10⁻⁸.
            let seen = names.iter().filter(|n| buf[..len].windows(n.len()).any(|w| w == &n[..])).count();
            assert!(seen < 3, "frames are sealed ({seen} names in the clear)");
            to.handle_sync_frame(Time::ZERO, tid, &mut buf[4..len]).unwrap();
        }
        assert_eq!(b.stats().known_members, 32, "delta: {delta}");
        assert_eq!(a.sync_status(id_a), Some(SyncStatus::Done));
        assert_eq!(b.sync_status(id_b), Some(SyncStatus::Done));
    }
}

#[test]
fn join_requests_and_syncs_are_rate_limited_per_source() {
    let limited = config().with(|c| {
        c.security.join_rate = RateLimit { per_second: 1, burst: 2 };
        c.security.sync_rate = RateLimit { per_second: 1, burst: 1 };
    });
    let mut seed = node_at(0, limited);
    let a = [addr(9)];
    for i in 0..5u8 {
        let (joiner, rider) = (format!("j{i}").into_bytes(), format!("rider{i}").into_bytes());
        // Each carries news of another "member": a dropped request's news
        // is dropped with it.
        let news = Alive { generation: 0, incarnation: 0, name: &rider, addrs: Addrs::from_slice(&a), meta: b"" };
        let request = packet(
            Message::JoinRequest(JoinRequest {
                seq: u32::from(i),
                member: Alive { generation: 0, incarnation: 0, name: &joiner, addrs: Addrs::from_slice(&a), meta: b"" },
            }),
            &[Message::Alive(news)],
        );
        feed(&mut seed, Time::ZERO, addr(9), &request).unwrap();
    }
    let answers = transmits(&mut seed, Time::ZERO)
        .iter()
        .filter(|(_, bytes)| matches!(parse(bytes).primary(), Message::JoinResponse(_)))
        .count();
    assert_eq!(answers, 2, "two answered, three dropped");
    assert_eq!(seed.stats().rate_limited, 3);
    assert_eq!(seed.stats().known_members, 5, "only the admitted joiners and their news were learned");
    assert!(seed.accept_sync(Time::ZERO, addr(9)).is_ok());
    assert_eq!(seed.accept_sync(Time::ZERO, addr(9)), Err(CommandError::RateLimited));
    assert!(seed.accept_sync(Time::ZERO, addr(8)).is_ok(), "another source is not limited");
}

#[test]
fn sealed_join_requests_from_one_host_are_not_throttled() {
    // Two hundred members of an encrypted cluster started on one host at
    // once, all joining through one seed.
    let mut seed = node_at(0, encrypted(7));
    let host = std::net::IpAddr::from([127, 0, 0, 1]);
    let mut answered = 0;
    for i in 0..200u16 {
        let at = SocketAddr::new(host, 10_000 + i);
        let mut joiner = Node::new(format!("m{i}").as_bytes(), &[at], b"", encrypted(7), Time::ZERO).unwrap();
        joiner.set_wall_clock(Time::ZERO, WALL);
        joiner.join(Time::ZERO, &[addr(0)]).unwrap();
        let request = transmits(&mut joiner, Time::ZERO).pop().unwrap().1;
        seed.handle_datagram(Time::ZERO, at, &mut request.clone()).unwrap();
        // (The seed also tells a few members about each joiner.)
        answered += transmits(&mut seed, Time::ZERO).iter().filter(|(to, _)| *to == at).count();
    }
    assert_eq!(answered, 200);
    assert_eq!(seed.stats().rate_limited, 0);
    assert_eq!(seed.stats().known_members, 201);
}

#[test]
fn a_sync_larger_than_a_cluster_is_refused() {
    let mut n = node_at(
        0,
        config().with(|c| {
            c.limits.max_members = 10;
            c.limits.expected_members = 10;
        }),
    );
    let id = n.accept_sync(Time::ZERO, addr(1)).unwrap();
    let a: [SocketAddr; 1] = [addr(1)];
    let names: Vec<Vec<u8>> = (0..100).map(|i| format!("flood-{i}").into_bytes()).collect();
    let records: Vec<Message<'_>> = names
        .iter()
        .map(|name| {
            Message::MemberRecord(MemberRecord {
                state: MemberState::Alive,
                member: Alive { generation: 0, incarnation: 0, name, addrs: Addrs::from_slice(&a), meta: b"" },
                by: b"",
            })
        })
        .collect();
    let sync = Message::Sync(Sync { flags: SyncFlags(SyncFlags::LAST), source: b"n1", total: 100, chunk: 0 });
    let mut frame = packet(sync, &records);
    assert_eq!(n.handle_sync_frame(Time::ZERO, id, &mut frame), Err(InputError::SyncTooLarge));
    assert_eq!(n.stats().known_members, 1, "nothing merged");
    assert_eq!(n.stats().rejected_unexpected, 1);
}

#[test]
fn a_datagram_larger_than_the_budget_is_refused_unread() {
    let budget = config().limits.packet_budget;
    let mut n = node_at(0, config());
    // Garbage one byte over the budget: refused for its size, not its bytes.
    let mut over = vec![0u8; budget + 1];
    assert_eq!(
        n.handle_datagram(Time::ZERO, addr(1), &mut over),
        Err(InputError::TooLarge { len: budget + 1, limit: budget })
    );
    // A valid packet over the budget (many fake members) changes nothing.
    let a: [SocketAddr; 1] = [addr(1)];
    let names: Vec<Vec<u8>> = (0..200).map(|i| format!("fake-{i}").into_bytes()).collect();
    let fakes: Vec<Message<'_>> = names
        .iter()
        .map(|name| {
            let member = Alive { generation: 1, incarnation: 0, name, addrs: Addrs::from_slice(&a), meta: b"" };
            Message::Alive(member)
        })
        .collect();
    let mut flood = packet(super::tests::ping_to_n0(1, 1), &fakes);
    assert!(flood.len() > budget);
    let len = flood.len();
    assert_eq!(n.handle_datagram(Time::ZERO, addr(1), &mut flood), Err(InputError::TooLarge { len, limit: budget }));
    assert_eq!(n.stats().known_members, 1, "no fake member learned");
    assert_eq!((n.stats().packets_rejected, n.stats().rejected_malformed), (2, 2));
    assert!(transmits(&mut n, Time::ZERO).is_empty(), "nothing answered");
    // At the budget, the same kind of packet is read.
    let fits = (1..200).take_while(|&k| packet(super::tests::ping_to_n0(1, 1), &fakes[..k]).len() <= budget).count();
    let mut full = packet(super::tests::ping_to_n0(1, 1), &fakes[..fits]);
    assert!(full.len() <= budget);
    n.handle_datagram(Time::ZERO, addr(1), &mut full).unwrap();
    assert_eq!(n.stats().known_members, 1 + fits);
}

#[test]
fn a_plaintext_answer_to_a_source_that_proved_nothing_is_no_larger_than_its_request() {
    let mut n = node_at(0, config());
    introduce(&mut n, Time::ZERO, 40);
    transmits(&mut n, Time::ZERO);
    // Gossip is queued (forty joins): an ack to a member may carry it.
    let ping = packet(super::tests::ping_to_n0(1, 5), &[]);
    feed(&mut n, Time::ZERO, addr(1), &ping).unwrap();
    let to_member = transmits(&mut n, Time::ZERO).pop().unwrap().1;
    assert!(to_member.len() > 4 * ping.len(), "a member's ack carries gossip");
    // The same ping claiming n1's name from another address, and one from a
    // stranger: each ack is no larger than its ping.
    let stranger = packet(super::tests::ping_to_n0(99, 6), &[]);
    for (from, request) in [(addr(77), &ping), (addr(99), &stranger)] {
        feed(&mut n, Time::ZERO, from, request).unwrap();
        let out = transmits(&mut n, Time::ZERO);
        let ack = &out.iter().find(|(to, _)| *to == from).unwrap().1;
        assert!(ack.len() <= request.len(), "{} > {}", ack.len(), request.len());
        assert!(matches!(super::tests::parse(ack).primary(), swim_wire::Message::Ack(_)));
    }
}
