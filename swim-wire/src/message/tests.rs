//! Golden byte vectors: each one was written by hand from the layout table in
//! the module documentation, so a change to the format fails here.

use std::net::SocketAddr;

use super::*;
use crate::MAX_ADDRS;
use crate::cursor::Writer;
use crate::error::Error;

/// Parses hex with spaces and `|` separators.
pub(crate) fn hex(s: &str) -> Vec<u8> {
    let digits: Vec<u8> = s.bytes().filter(u8::is_ascii_hexdigit).collect();
    assert_eq!(digits.len() % 2, 0, "odd hex in {s}");
    digits.chunks(2).map(|pair| u8::from_str_radix(std::str::from_utf8(pair).unwrap(), 16).unwrap()).collect()
}

fn encode_item(message: &Message<'_>) -> Result<Vec<u8>> {
    let mut buf = vec![0u8; 2048];
    let mut w = Writer::new(&mut buf, 0, 2048);
    message.encode(&mut w)?;
    let len = w.pos();
    buf.truncate(len);
    Ok(buf)
}

fn decode_item<'a>(bytes: &'a [u8], opts: &DecodeOptions) -> Result<Option<Message<'a>>> {
    let len = usize::from(u16::from_be_bytes([bytes[1], bytes[2]]));
    assert_eq!(len + ITEM_HEADER_LEN, bytes.len(), "item length field");
    Message::decode(bytes[0], &bytes[ITEM_HEADER_LEN..], ITEM_HEADER_LEN, opts)
}

/// Encodes `message`, compares with `golden`, decodes `golden` back.
fn golden(message: Message<'_>, golden: &str) {
    let expected = hex(golden);
    let encoded = encode_item(&message).unwrap();
    assert_eq!(encoded, expected, "{} encodes to the golden bytes", message.kind().name());
    assert_eq!(message.encoded_len(), expected.len());
    let decoded = decode_item(&expected, &DecodeOptions::default()).unwrap();
    assert_eq!(decoded, Some(message));
}

fn addr(s: &str) -> SocketAddr {
    s.parse().unwrap()
}

#[test]
fn golden_ping() {
    let ping = Ping { seq: 0x0102_0304, source: b"a", target: b"bc", target_generation: 0x0a0b, target_incarnation: 5 };
    golden(Message::Ping(ping), "01 0015 | 01020304 | 01 61 | 02 6263 | 0000000000000a0b | 00000005");
}

#[test]
fn golden_ack_with_payload() {
    let ack = Ack { seq: 7, source: b"n1", payload: b"hi" };
    golden(Message::Ack(ack), "02 000b | 00000007 | 02 6e31 | 0002 6869");
}

#[test]
fn golden_indirect_ping() {
    let ping = IndirectPing {
        seq: 9,
        want_nack: true,
        source: b"a",
        target: b"b",
        target_generation: 2,
        target_incarnation: 3,
        target_addr: addr("10.0.0.1:7946"),
        nack_after_us: 400_000,
    };
    golden(
        Message::IndirectPing(ping),
        "03 0020 | 00000009 | 01 | 0161 | 0162 | 0000000000000002 | 00000003 | 04 0a000001 1f0a | 00061a80",
    );
}

#[test]
fn golden_indirect_ack_and_nack() {
    golden(
        Message::IndirectAck(IndirectAck { seq: 1, source: b"h", target: b"t" }),
        "04 0008 | 00000001 | 0168 | 0174",
    );
    golden(Message::Nack(Nack { seq: 1, source: b"h", target: b"t" }), "05 0008 | 00000001 | 0168 | 0174");
}

#[test]
fn golden_user_message() {
    golden(Message::UserMessage(UserMessage { payload: b"hi" }), "48 0004 | 0002 6869");
}

#[test]
fn golden_app_state_chunk() {
    let piece = AppStateChunk { total: 300, offset: 256, bytes: b"ok" };
    golden(Message::AppState(piece), "4c 000c | 0000012c | 00000100 | 0002 6f6b");
    assert_eq!(Message::AppState(piece).encoded_len(), AppStateChunk::item_len(2));
    assert!(Kind::AppState.is_sync_only());
}

#[test]
fn golden_query_response() {
    let response = QueryResponse {
        generation: 2,
        id: 7,
        flags: QueryResponse::ACK,
        origin: b"a",
        asker: addr("10.0.0.1:7946"),
        responder: b"b",
        payload: b"",
    };
    golden(
        Message::QueryResponse(response),
        "4a 001a | 0000000000000002 | 00000007 | 01 | 0161 | 04 0a000001 1f0a | 0162 | 0000",
    );
}

#[test]
fn query_bodies_round_trip_and_bad_filters_are_refused() {
    let filter = QueryFilter::encode(&[&b"n1"[..]], &[("role", "db")]).unwrap();
    let body = QueryBody {
        want_ack: false,
        relay: 3,
        timeout_ms: 9,
        id: 4,
        asker: addr("[::1]:7"),
        name: b"q",
        filter: &filter,
        payload: b"p",
    };
    let mut buf = [0u8; 128];
    let len = body.encode(&mut buf).unwrap();
    assert_eq!(len, body.encoded_len());
    assert_eq!(QueryBody::parse(&buf[..len]).unwrap(), body);
    for cut in 0..len {
        assert!(QueryBody::parse(&buf[..cut]).is_err(), "cut at {cut}");
    }
    // A filter claiming more names than it holds, an empty name, a tag
    // value that is not UTF-8.
    for bad in [&[2u8, 1, b'a', 0][..], &[1, 0, 0], &[0, 1, 1, b'k', 0, 1, 0xff]] {
        assert!(QueryFilter::parse(bad).is_none(), "{bad:?}");
    }
    let f = QueryFilter::parse(&filter).unwrap();
    assert!(f.matches(b"n1", |k| (k == "role").then_some("db")));
    assert!(!f.matches(b"n1", |_| None), "a tag is missing");
    assert!(QueryFilter::parse(&[0, 0]).unwrap().matches(b"anyone", |_| None), "an empty filter meets everyone");
}

#[test]
fn golden_gossip() {
    golden(Message::Gossip(Gossip { source: b"g" }), "09 0002 | 0167");
}

#[test]
fn golden_join_request_with_ipv6() {
    let addrs = [addr("[::1]:80")];
    let member = Alive { generation: 9, incarnation: 1, name: b"j", addrs: Addrs::from_slice(&addrs), meta: b"" };
    golden(
        Message::JoinRequest(JoinRequest { seq: 2, member }),
        "06 002c | 00000002 | 0000000000000009 | 00000001 | 01 6a | 01 06 00000000000000000000000000000001 0050 \
         00000000 | 0000",
    );
}

#[test]
fn golden_join_response() {
    let response = JoinResponse {
        seq: 2,
        status: JoinStatus::NameConflict,
        source: b"s",
        known_generation: 6,
        known_incarnation: 7,
        members: 3,
    };
    golden(Message::JoinResponse(response), "07 0017 | 00000002 | 01 | 0173 | 0000000000000006 | 00000007 | 00000003");
}

#[test]
fn golden_sync() {
    let sync = Sync { flags: SyncFlags(SyncFlags::JOIN | SyncFlags::LAST), source: b"s", total: 100, chunk: 0 };
    golden(Message::Sync(sync), "08 000b | 05 | 0173 | 00000064 | 00000000");
}

#[test]
fn golden_alive_with_two_families() {
    let addrs = [addr("127.0.0.1:7946"), addr("[fe80::1%3]:7946")];
    let alive = Alive {
        generation: 0x0102_0304_0506_0708,
        incarnation: 0xffff_fffe,
        name: b"node",
        addrs: Addrs::from_slice(&addrs),
        meta: b"k=v",
    };
    golden(
        Message::Alive(alive),
        "40 0035 | 0102030405060708 | fffffffe | 04 6e6f6465 | 02 04 7f000001 1f0a 06 fe800000000000000000000000000001 1f0a 00000003 \
         | 0003 6b3d76",
    );
}

#[test]
fn golden_suspect_faulty_left() {
    let g = "0000000000000001";
    golden(
        Message::Suspect(Suspect { generation: 1, incarnation: 3, name: b"x", by: b"y" }),
        &format!("41 0010 | {g} | 00000003 | 0178 | 0179"),
    );
    golden(
        Message::Faulty(Faulty { generation: 1, incarnation: 3, name: b"x", by: b"y" }),
        &format!("42 0010 | {g} | 00000003 | 0178 | 0179"),
    );
    golden(
        Message::Left(Left { generation: 1, incarnation: 3, name: b"x" }),
        &format!("43 000e | {g} | 00000003 | 0178"),
    );
}

#[test]
fn golden_user_broadcast() {
    let broadcast = UserBroadcast { generation: 0x20, seq: 0x10, ttl_ms: 15_000, origin: b"o", payload: &[0xff, 0x00] };
    golden(Message::UserBroadcast(broadcast), "44 0016 | 0000000000000020 | 00000010 | 00003a98 | 016f | 0002 ff00");
}

#[test]
fn golden_member_record() {
    let addrs = [addr("1.2.3.4:5")];
    let member = Alive { generation: 3, incarnation: 4, name: b"m", addrs: Addrs::from_slice(&addrs), meta: b"" };
    golden(
        Message::MemberRecord(MemberRecord { state: MemberState::Suspect, member, by: b"a" }),
        "45 001b | 01 | 0000000000000003 | 00000004 | 016d | 01 04 01020304 0005 | 0000 | 0161",
    );
    golden(
        Message::MemberRecord(MemberRecord { state: MemberState::Alive, member, by: b"" }),
        "45 001a | 00 | 0000000000000003 | 00000004 | 016d | 01 04 01020304 0005 | 0000 | 00",
    );
}

#[test]
fn every_kind_round_trips_through_its_byte() {
    for kind in Kind::ALL {
        assert_eq!(Kind::from_u8(kind as u8), Some(kind));
    }
    assert_eq!(Kind::from_u8(0x3f), None);
    assert!(Kind::Sync.is_primary() && !Kind::Alive.is_primary());
}

#[test]
fn unknown_kind_decodes_to_none_and_trailing_fields_are_ignored() {
    assert_eq!(decode_item(&hex("7e 0002 abcd"), &DecodeOptions::default()).unwrap(), None);
    // A left update followed by two bytes a newer version appended.
    let bytes = hex("43 0010 | 0000000000000001 | 00000003 | 0178 | beef");
    let left = decode_item(&bytes, &DecodeOptions::default()).unwrap();
    assert_eq!(left, Some(Message::Left(Left { generation: 1, incarnation: 3, name: b"x" })));
}

fn decode_err(golden: &str) -> Error {
    decode_item(&hex(golden), &DecodeOptions::default()).unwrap_err()
}

#[test]
fn decode_errors_name_message_field_and_offset() {
    // Truncated inside the target name of a ping.
    let err = decode_err("01 0009 | 00000001 | 01 61 | 05 6263");
    assert_eq!(err.kind(), ErrorKind::Truncated { needed: 5, available: 2 });
    assert_eq!((err.message(), err.field(), err.offset()), (Some(Kind::Ping), Field::Target, 10));

    // Metadata above the default 512-byte limit: reported at its length field.
    let g = "0000000000000001";
    let err = decode_err(&format!("40 0018 | {g} | 00000001 | 0161 | 01 04 01020304 0005 | 0201"));
    assert_eq!(err.kind(), ErrorKind::TooLarge { len: 513, limit: 512 });
    assert_eq!((err.message(), err.field(), err.offset()), (Some(Kind::Alive), Field::Metadata, 25));

    let err = decode_err(&format!("40 0011 | {g} | 00000001 | 0161 | 00 | 0000"));
    assert_eq!((err.kind(), err.field(), err.offset()), (ErrorKind::NoAddresses, Field::Addresses, 17));

    let err = decode_err(&format!("40 0018 | {g} | 00000001 | 0161 | 01 05 01020304 0005 | 0000"));
    assert_eq!(err.kind(), ErrorKind::BadAddressFamily(5));
    assert_eq!(err.offset(), 18);

    let err = decode_err(&format!("45 001a | 09 | {g} | 00000004 | 016d | 01 04 01020304 0005 | 0000 | 00"));
    assert_eq!((err.kind(), err.field(), err.offset()), (ErrorKind::BadValue(9), Field::State, 3));

    let err = decode_err(&format!("43 000d | {g} | 00000003 | 00"));
    assert_eq!((err.kind(), err.field(), err.offset()), (ErrorKind::EmptyName, Field::Name, 15));

    let err = decode_err(&format!("41 000e | {g} | 00000003 | 0178"));
    assert_eq!((err.kind(), err.field()), (ErrorKind::Truncated { needed: 1, available: 0 }, Field::By));
}

#[test]
fn generations_above_the_largest_are_refused_both_ways() {
    let top = crate::MAX_GENERATION;
    let left = Left { generation: top, incarnation: 3, name: b"x" };
    let bytes = encode_item(&Message::Left(left)).unwrap();
    assert_eq!(decode_item(&bytes, &DecodeOptions::default()).unwrap(), Some(Message::Left(left)));

    let err = encode_item(&Message::Left(Left { generation: top + 1, ..left })).unwrap_err();
    assert_eq!((err.kind(), err.field()), (ErrorKind::BadGeneration(top + 1), Field::Generation));
    let err = decode_err("43 000e | 4000000000000000 | 00000003 | 0178");
    assert_eq!(
        (err.kind(), err.message(), err.field(), err.offset()),
        (ErrorKind::BadGeneration(1 << 62), Some(Kind::Left), Field::Generation, 3)
    );
    let err = decode_err("01 0014 | 00000001 | 0161 | 0162 | ffffffffffffffff | 00000000");
    assert_eq!((err.kind(), err.field()), (ErrorKind::BadGeneration(u64::MAX), Field::Generation));
}

#[test]
fn too_many_addresses_are_refused_both_ways() {
    let addrs = vec![addr("1.1.1.1:1"); MAX_ADDRS + 1];
    let alive = Alive { generation: 0, incarnation: 0, name: b"a", addrs: Addrs::from_slice(&addrs), meta: b"" };
    let err = encode_item(&Message::Alive(alive)).unwrap_err();
    assert_eq!(err.kind(), ErrorKind::TooLarge { len: MAX_ADDRS + 1, limit: MAX_ADDRS });
    assert_eq!(err.message(), Some(Kind::Alive));

    let mut bytes = hex("40 0000 | 0000000000000000 | 00000000 | 0161 | 11");
    bytes.extend(std::iter::repeat_n(hex("04 01010101 0001"), MAX_ADDRS + 1).flatten());
    bytes.extend(hex("0000"));
    let len = u16::try_from(bytes.len() - ITEM_HEADER_LEN).unwrap();
    bytes[1..3].copy_from_slice(&len.to_be_bytes());
    let err = decode_item(&bytes, &DecodeOptions::default()).unwrap_err();
    assert_eq!(err.kind(), ErrorKind::TooLarge { len: MAX_ADDRS + 1, limit: MAX_ADDRS });
}

#[test]
fn encode_errors_leave_the_writer_where_it_was() {
    let mut buf = [0u8; 64];
    let mut w = Writer::new(&mut buf, 0, 64);
    let bad = Message::Suspect(Suspect { generation: 1, incarnation: 1, name: b"x", by: b"" });
    let err = bad.encode(&mut w).unwrap_err();
    assert_eq!((err.kind(), err.field(), err.message()), (ErrorKind::EmptyName, Field::By, Some(Kind::Suspect)));
    assert_eq!(w.pos(), 0);

    let big = [0u8; 70_000];
    let err = Message::Ack(Ack { seq: 1, source: b"a", payload: &big }).encode(&mut w).unwrap_err();
    assert_eq!(err.field(), Field::MessageLength);
    assert_eq!(w.pos(), 0);
}

#[test]
fn ipv6_flow_label_is_not_carried() {
    let with_flow: SocketAddr = std::net::SocketAddrV6::new("fe80::2".parse().unwrap(), 9, 77, 4).into();
    let ping = IndirectPing {
        seq: 1,
        want_nack: false,
        source: b"a",
        target: b"b",
        target_generation: 0,
        target_incarnation: 0,
        target_addr: with_flow,
        nack_after_us: 0,
    };
    let bytes = encode_item(&Message::IndirectPing(ping)).unwrap();
    let Some(Message::IndirectPing(decoded)) = decode_item(&bytes, &DecodeOptions::default()).unwrap() else {
        panic!("not an indirect ping")
    };
    assert_eq!(decoded.target_addr, std::net::SocketAddrV6::new("fe80::2".parse().unwrap(), 9, 0, 4).into());
}
