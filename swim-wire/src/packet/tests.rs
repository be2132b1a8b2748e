use std::net::SocketAddr;

use super::*;
use crate::message::tests::hex;
use crate::{Ack, Addrs, Alive, Left, MemberRecord, MemberState, Ping, Suspect, Sync, SyncFlags, UserBroadcast};

fn ping() -> Message<'static> {
    Message::Ping(Ping { seq: 0x0102_0304, source: b"a", target: b"bc", target_generation: 6, target_incarnation: 5 })
}

fn parse(bytes: &[u8]) -> Result<Packet<'_>> {
    Packet::parse(bytes, &DecodeOptions::default())
}

#[test]
fn golden_default_header_and_packet() {
    let mut buf = [0u8; 64];
    let mut w = PacketWriter::new(&mut buf, &Header::default(), 64).unwrap();
    w.push(&ping()).unwrap();
    w.push(&Message::Left(Left { generation: 1, incarnation: 3, name: b"x" })).unwrap();
    let len = w.finish().unwrap();
    let expected = hex(
        "5357 02 00 05 | 01 0015 01020304 0161 026263 0000000000000006 00000005 | 43 000e 0000000000000001 00000003 0178",
    );
    assert_eq!(&buf[..len], &expected[..]);

    let packet = parse(&expected).unwrap();
    assert_eq!(*packet.header(), Header::default());
    assert_eq!(packet.primary(), ping());
    assert!(packet.piggyback().eq([Message::Left(Left { generation: 1, incarnation: 3, name: b"x" })]));
}

#[test]
fn golden_header_with_key_id_and_label() {
    let header =
        Header { version: 2, encrypted: false, key_id: Some(0xdead_beef), label: b"prod", any_receiver: false };
    let mut buf = [0u8; 64];
    let mut w = PacketWriter::new(&mut buf, &header, 64).unwrap();
    w.push(&ping()).unwrap();
    let len = w.finish().unwrap();
    let expected =
        hex("5357 02 06 0e | deadbeef | 04 70726f64 | 01 0015 01020304 0161 026263 0000000000000006 00000005");
    assert_eq!(&buf[..len], &expected[..]);
    assert_eq!(*parse(&expected).unwrap().header(), header);
}

/// A packet as version 3 might write it: a header extension byte, a new field
/// at the end of the ping, and a piggybacked message of a new kind. Today's
/// decoder, told to accept version 3, reads everything it knows.
#[test]
fn version_plus_one_packet_with_extra_fields_is_understood() {
    let future = hex("5357 03 00 06 | ee \
         | 01 0017 01020304 0161 026263 0000000000000006 00000005 abcd \
         | 7e 0003 010203 \
         | 43 000e 0000000000000001 00000003 0178");
    let err = parse(&future).unwrap_err();
    assert_eq!(err.kind(), ErrorKind::UnsupportedVersion { version: 3, min: 2, max: 2 });
    assert_eq!((err.field(), err.offset()), (Field::Version, 2));

    let opts = DecodeOptions { max_version: PROTOCOL_VERSION + 1, ..DecodeOptions::default() };
    let packet = Packet::parse(&future, &opts).unwrap();
    assert_eq!(packet.header().version, 3);
    assert_eq!(packet.primary(), ping());
    assert!(packet.piggyback().eq([Message::Left(Left { generation: 1, incarnation: 3, name: b"x" })]));

    // Re-encoded, the packet drops what it did not understand and is stable.
    let mut out = [0u8; 64];
    let len = packet.encode(&mut out).unwrap();
    assert_eq!(Packet::parse(&out[..len], &opts).unwrap(), packet);
    assert!(len < future.len());
}

#[test]
fn header_errors() {
    let cases: [(&str, ErrorKind, Field, usize); 6] = [
        ("5357", ErrorKind::Truncated { needed: 1, available: 0 }, Field::Version, 2),
        ("5358 02 00 05", ErrorKind::BadMagic, Field::Magic, 0),
        ("5357 00 00 05", ErrorKind::UnsupportedVersion { version: 0, min: 2, max: 2 }, Field::Version, 2),
        ("5357 02 10 05", ErrorKind::UnknownRequiredFlags(0x10), Field::Flags, 3),
        ("5357 02 02 06 | deadbeef", ErrorKind::BadHeaderLength(6), Field::HeaderLength, 4),
        ("5357 02 04 05 | 00", ErrorKind::EmptyName, Field::Label, 5),
    ];
    for (bytes, kind, field, offset) in cases {
        let err = parse(&hex(bytes)).unwrap_err();
        assert_eq!((err.kind(), err.field(), err.offset()), (kind, field, offset), "{bytes}");
    }
    // Optional flag bits are ignored.
    let packet = hex("5357 02 c0 05 | 01 0015 01020304 0161 026263 0000000000000006 00000005");
    assert_eq!(parse(&packet).unwrap().primary(), ping());
}

#[test]
fn encrypted_packets_must_be_opened_first() {
    let err = parse(&hex("5357 02 03 09 | 00000001 | 00")).unwrap_err();
    assert_eq!((err.kind(), err.field()), (ErrorKind::Encrypted, Field::Flags));
}

#[test]
fn position_rules() {
    let err = parse(&hex("5357 02 00 05")).unwrap_err();
    assert_eq!((err.kind(), err.offset()), (ErrorKind::MissingPrimary, 5));

    let err = parse(&hex("5357 02 00 05 | 43 000e 0000000000000001 00000003 0178")).unwrap_err();
    assert_eq!((err.kind(), err.offset()), (ErrorKind::MissingPrimary, 5));

    let err = parse(&hex("5357 02 00 05 | 3f 0000")).unwrap_err();
    assert_eq!((err.kind(), err.offset()), (ErrorKind::UnknownPrimary(0x3f), 5));

    let two_primaries =
        hex("5357 02 00 05 | 01 0015 01020304 0161 026263 0000000000000006 00000005 | 05 0008 00000001 0168 0174");
    let err = parse(&two_primaries).unwrap_err();
    assert_eq!((err.kind(), err.message(), err.offset()), (ErrorKind::Misplaced, Some(Kind::Nack), 29));

    let record_outside_sync = hex("5357 02 00 05 | 01 0015 01020304 0161 026263 0000000000000006 00000005 \
         | 45 001a 01 0000000000000000 00000004 016d 01 04 01020304 0005 0000 00");
    let err = parse(&record_outside_sync).unwrap_err();
    assert_eq!((err.kind(), err.message()), (ErrorKind::Misplaced, Some(Kind::MemberRecord)));

    let app_state_outside_sync = hex("5357 02 00 05 | 01 0015 01020304 0161 026263 0000000000000006 00000005 \
         | 4c 000c 0000012c 00000100 0002 6f6b");
    let err = parse(&app_state_outside_sync).unwrap_err();
    assert_eq!((err.kind(), err.message()), (ErrorKind::Misplaced, Some(Kind::AppState)));

    let truncated_item = hex(
        "5357 02 00 05 | 01 0015 01020304 0161 026263 0000000000000006 00000005 | 43 0011 0000000000000001 00000003 0178",
    );
    let err = parse(&truncated_item).unwrap_err();
    assert_eq!(err.kind(), ErrorKind::Truncated { needed: 17, available: 14 });
    assert_eq!((err.message(), err.field(), err.offset()), (Some(Kind::Left), Field::MessageLength, 30));

    // An invalid piggybacked message fails the whole packet.
    let bad_piggyback = hex(
        "5357 02 00 05 | 01 0015 01020304 0161 026263 0000000000000006 00000005 | 43 000d 0000000000000001 00000003 00",
    );
    let err = parse(&bad_piggyback).unwrap_err();
    assert_eq!((err.kind(), err.message(), err.offset()), (ErrorKind::EmptyName, Some(Kind::Left), 44));
}

#[test]
fn sync_packets_carry_member_records() {
    let addrs: [SocketAddr; 1] = ["10.1.2.3:7000".parse().unwrap()];
    let record = |name: &'static [u8], state| {
        Message::MemberRecord(MemberRecord {
            state,
            member: Alive { generation: 1, incarnation: 2, name, addrs: Addrs::from_slice(&addrs), meta: b"m" },
            by: b"",
        })
    };
    let mut buf = [0u8; 256];
    let mut w = PacketWriter::new(&mut buf, &Header::default(), 256).unwrap();
    let sync = Message::Sync(Sync { flags: SyncFlags(SyncFlags::LAST), source: b"s", total: 2, chunk: 0 });
    w.push(&sync).unwrap();
    w.push(&record(b"a", MemberState::Alive)).unwrap();
    w.push(&record(b"b", MemberState::Left)).unwrap();
    let len = w.finish().unwrap();
    let packet = parse(&buf[..len]).unwrap();
    assert_eq!(packet.primary(), sync);
    assert!(packet.piggyback().eq([record(b"a", MemberState::Alive), record(b"b", MemberState::Left)]));
}

#[test]
fn writer_fills_to_the_budget_and_says_what_did_not_fit() {
    let mut buf = [0u8; 2048];
    let budget = 100;
    let mut w = PacketWriter::new(&mut buf, &Header::default(), budget).unwrap();
    w.push(&Message::Ack(Ack { seq: 1, source: b"a", payload: &[] })).unwrap();
    let mut pushed = 0u32;
    let mut refused = None;
    for incarnation in 0..100 {
        let update = Message::Suspect(Suspect { generation: 1, incarnation, name: b"victim", by: b"a" });
        match w.push(&update) {
            Ok(()) => pushed += 1,
            Err(err) => {
                refused = Some(err);
                break;
            }
        }
    }
    let err = refused.expect("the budget runs out");
    assert!(err.is_no_room());
    assert_eq!(err.kind(), ErrorKind::NoRoom { needed: 24, remaining: w.remaining() });
    assert_eq!(err.message(), Some(Kind::Suspect));
    let len = w.finish().unwrap();
    assert!(len <= budget && len + 24 > budget);
    assert_eq!(parse(&buf[..len]).unwrap().piggyback().count(), pushed as usize);
    assert!(buf[len..].iter().all(|&b| b == 0), "nothing written past the packet");
}

#[test]
fn writer_enforces_position_rules() {
    let mut buf = [0u8; 128];
    let mut w = PacketWriter::new(&mut buf, &Header::default(), 128).unwrap();
    assert!(w.is_empty());
    let left = Message::Left(Left { generation: 1, incarnation: 1, name: b"x" });
    assert_eq!(w.push(&left).unwrap_err().kind(), ErrorKind::MissingPrimary);
    w.push(&ping()).unwrap();
    assert_eq!(w.push(&ping()).unwrap_err().kind(), ErrorKind::Misplaced);
    let addrs: [SocketAddr; 1] = ["10.1.2.3:7000".parse().unwrap()];
    let record = Message::MemberRecord(MemberRecord {
        state: MemberState::Alive,
        member: Alive { generation: 1, incarnation: 0, name: b"r", addrs: Addrs::from_slice(&addrs), meta: b"" },
        by: b"",
    });
    assert_eq!(w.push(&record).unwrap_err().kind(), ErrorKind::Misplaced);
    assert!(w.fits(&left));
    w.push(&left).unwrap();
    assert_eq!(w.len(), 5 + 24 + 17);

    let empty = PacketWriter::new(&mut buf, &Header::default(), 128).unwrap();
    assert_eq!(empty.finish().unwrap_err().kind(), ErrorKind::MissingPrimary);
}

#[test]
fn header_must_fit_and_label_is_bounded() {
    let mut buf = [0u8; 4];
    assert!(PacketWriter::new(&mut buf, &Header::default(), 100).unwrap_err().is_no_room());
    let long = [b'l'; MAX_LABEL_LEN + 1];
    let mut buf = [0u8; 512];
    let header = Header { label: &long, ..Header::default() };
    let err = PacketWriter::new(&mut buf, &header, 512).err().unwrap();
    assert_eq!((err.kind(), err.field()), (ErrorKind::TooLarge { len: 129, limit: 128 }, Field::Label));
}

#[test]
fn a_label_longer_than_the_limit_is_refused_when_read_too() {
    // Found by the roundtrip fuzzer: a 129-byte label decoded, then could
    // not be re-encoded.
    let mut bytes = vec![b'S', b'W', PROTOCOL_VERSION, 0x04, 0];
    bytes.push(u8::try_from(MAX_LABEL_LEN + 1).unwrap());
    bytes.extend_from_slice(&[b'l'; MAX_LABEL_LEN + 1]);
    bytes[4] = u8::try_from(bytes.len()).unwrap();
    let err = Header::parse(&bytes, &DecodeOptions::default()).unwrap_err();
    assert_eq!(
        (err.kind(), err.field(), err.offset()),
        (ErrorKind::TooLarge { len: 129, limit: 128 }, Field::Label, 5)
    );

    // At the limit it is read, and written back byte for byte.
    let at_limit = [b'l'; MAX_LABEL_LEN];
    let header = Header { label: &at_limit, ..Header::default() };
    let mut buf = [0u8; 256];
    let mut w = PacketWriter::new(&mut buf, &header, 256).unwrap();
    w.push(&ping()).unwrap();
    let len = w.finish().unwrap();
    let packet = Packet::parse(&buf[..len], &DecodeOptions::default()).unwrap();
    assert_eq!(packet.header().label, &at_limit[..]);
    let mut again = [0u8; 256];
    let again_len = packet.encode(&mut again).unwrap();
    assert_eq!(&again[..again_len], &buf[..len]);
}

#[test]
fn payload_limit_is_configurable() {
    let mut buf = [0u8; 128];
    let mut w = PacketWriter::new(&mut buf, &Header::default(), 128).unwrap();
    w.push(&ping()).unwrap();
    w.push(&Message::UserBroadcast(UserBroadcast {
        generation: 1,
        seq: 1,
        ttl_ms: 10_000,
        origin: b"o",
        payload: &[7; 40],
    }))
    .unwrap();
    let len = w.finish().unwrap();
    let opts = DecodeOptions { max_payload: 39, ..DecodeOptions::default() };
    let err = Packet::parse(&buf[..len], &opts).unwrap_err();
    assert_eq!((err.kind(), err.field()), (ErrorKind::TooLarge { len: 40, limit: 39 }, Field::Payload));
}
