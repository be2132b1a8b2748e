//! The libFuzzer seeds of the codec's targets (`tests/fuzz/seeds/decode`
//! and `tests/fuzz/seeds/roundtrip`) are packets of the current protocol
//! version, one per message kind and header option: seeds of an older
//! layout stop at the first field that changed and leave the rest of the
//! decoder to chance.
//!
//! This test builds them with the encoder and checks the committed files
//! against them; `SWIM_WRITE_SEEDS=1 cargo test -p swim-tests --test
//! fuzz_seeds` rewrites the files after a wire change.

#![allow(clippy::expect_used, clippy::panic, clippy::indexing_slicing)]

use std::net::SocketAddr;
use std::path::PathBuf;

use swim_wire::{
    Ack, Addrs, Alive, DecodeOptions, Faulty, Gossip, Header, IndirectAck, IndirectPing, JoinRequest, JoinResponse,
    JoinStatus, Left, MemberRecord, MemberState, Message, Nack, PROTOCOL_VERSION, Packet, PacketWriter, Ping, Suspect,
    Sync, SyncFlags, UserBroadcast,
};

fn packet(header: &Header<'_>, messages: &[Message<'_>]) -> Vec<u8> {
    let mut buf = vec![0u8; 4096];
    let mut w = PacketWriter::new(&mut buf, header, 4096).expect("the header fits");
    for m in messages {
        w.push(m).expect("the message fits");
    }
    let len = w.finish().expect("a primary message was pushed");
    buf.truncate(len);
    buf
}

/// Every seed: file name and bytes.
fn seeds() -> Vec<(&'static str, Vec<u8>)> {
    let v4: [SocketAddr; 1] = ["10.0.0.1:7946".parse().expect("an address")];
    let both: [SocketAddr; 2] =
        ["10.0.0.2:7946".parse().expect("an address"), "[fd00::2]:7946".parse().expect("an address")];
    let plain = Header::default();
    let alive = |name: &'static [u8], addrs| Alive {
        generation: 1_700_000_000_000_000,
        incarnation: 3,
        name,
        addrs,
        meta: b"zone=a",
    };
    let g = 1_700_000_000_000_000;
    vec![
        (
            "ping_left.bin",
            packet(
                &plain,
                &[
                    Message::Ping(Ping {
                        seq: 7,
                        source: b"a",
                        target: b"bc",
                        target_generation: g,
                        target_incarnation: 5,
                    }),
                    Message::Left(Left { generation: g, incarnation: 3, name: b"x" }),
                    Message::Suspect(Suspect { generation: g, incarnation: 4, name: b"y", by: b"a" }),
                    Message::Faulty(Faulty { generation: g, incarnation: 2, name: b"z", by: b"bc" }),
                ],
            ),
        ),
        (
            "ack_alive.bin",
            packet(
                &plain,
                &[
                    Message::Ack(Ack { seq: 11, source: b"n1", payload: b"hi" }),
                    Message::Alive(alive(b"node-a", Addrs::from_slice(&both))),
                    Message::UserBroadcast(UserBroadcast {
                        generation: g,
                        seq: 9,
                        ttl_ms: 60_000,
                        origin: b"n1",
                        payload: b"deploy v2",
                    }),
                ],
            ),
        ),
        (
            "indirect.bin",
            packet(
                &plain,
                &[Message::IndirectPing(IndirectPing {
                    seq: 9,
                    want_nack: true,
                    source: b"a",
                    target: b"b",
                    target_generation: g,
                    target_incarnation: 3,
                    target_addr: v4[0],
                    nack_after_us: 400_000,
                })],
            ),
        ),
        (
            "indirect_ack.bin",
            packet(&plain, &[Message::IndirectAck(IndirectAck { seq: 9, source: b"h", target: b"b" })]),
        ),
        ("nack.bin", packet(&plain, &[Message::Nack(Nack { seq: 1, source: b"h", target: b"t" })])),
        (
            "gossip.bin",
            packet(
                &plain,
                &[Message::Gossip(Gossip { source: b"g" }), Message::Alive(alive(b"m", Addrs::from_slice(&v4)))],
            ),
        ),
        (
            "join.bin",
            packet(
                &plain,
                &[Message::JoinRequest(JoinRequest { seq: 2, member: alive(b"j", Addrs::from_slice(&both)) })],
            ),
        ),
        (
            "join_resp.bin",
            packet(
                &plain,
                &[Message::JoinResponse(JoinResponse {
                    seq: 2,
                    status: JoinStatus::Accepted,
                    source: b"s",
                    known_generation: g,
                    known_incarnation: 7,
                    members: 3,
                })],
            ),
        ),
        (
            "sync_record.bin",
            packet(
                &plain,
                &[
                    Message::Sync(Sync {
                        flags: SyncFlags(SyncFlags::LAST | SyncFlags::REPLY),
                        source: b"s",
                        total: 2,
                        chunk: 0,
                    }),
                    Message::MemberRecord(MemberRecord {
                        state: MemberState::Suspect,
                        member: alive(b"m", Addrs::from_slice(&v4)),
                        by: b"s",
                    }),
                    Message::MemberRecord(MemberRecord {
                        state: MemberState::Left,
                        member: alive(b"l", Addrs::from_slice(&both)),
                        by: b"",
                    }),
                    Message::UserBroadcast(UserBroadcast {
                        generation: g,
                        seq: 1,
                        ttl_ms: 500,
                        origin: b"m",
                        payload: b"x",
                    }),
                ],
            ),
        ),
        (
            "label_key.bin",
            packet(
                &Header { key_id: Some(0xdead_beef), label: b"prod", ..Header::default() },
                &[Message::Ping(Ping {
                    seq: 1,
                    source: b"a",
                    target: b"bc",
                    target_generation: 0,
                    target_incarnation: 0,
                })],
            ),
        ),
        ("future.bin", future()),
    ]
}

/// A packet of the next protocol version: a ping with a field appended,
/// then a piggybacked message of a kind this version does not know.
fn future() -> Vec<u8> {
    let mut bytes = packet(
        &Header { version: PROTOCOL_VERSION + 1, ..Header::default() },
        &[Message::Ping(Ping { seq: 1, source: b"a", target: b"bc", target_generation: 2, target_incarnation: 5 })],
    );
    // The ping's item: kind (1 byte), body length (2 bytes), body. Append 2
    // bytes to its body, then an item of unknown kind 0x7e.
    let item = Header::default().encoded_len();
    let body_len = u16::from_be_bytes([bytes[item + 1], bytes[item + 2]]);
    bytes[item + 1..item + 3].copy_from_slice(&(body_len + 2).to_be_bytes());
    bytes.extend_from_slice(&[0xab, 0xcd, 0x7e, 0x00, 0x03, 0x01, 0x02, 0x03]);
    bytes
}

fn dir(target: &str) -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("fuzz").join("seeds").join(target)
}

#[test]
fn the_codec_seeds_are_packets_of_the_current_version() {
    let write = std::env::var_os("SWIM_WRITE_SEEDS").is_some();
    let opts = DecodeOptions { max_version: PROTOCOL_VERSION + 1, ..DecodeOptions::default() };
    for (name, bytes) in seeds() {
        // Each seed parses (every message in it is validated).
        Packet::parse(&bytes, &opts).unwrap_or_else(|e| panic!("{name}: {e}"));
        for target in ["decode", "roundtrip"] {
            let path = dir(target).join(name);
            if write {
                std::fs::write(&path, &bytes).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
            }
            let committed = std::fs::read(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
            assert_eq!(committed, bytes, "{} is stale: rerun with SWIM_WRITE_SEEDS=1", path.display());
        }
    }
}
