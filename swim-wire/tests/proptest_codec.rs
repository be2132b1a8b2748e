//! Property tests of the codec through its public API.

#![allow(
    clippy::indexing_slicing,
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::cast_possible_truncation
)]

use std::net::{SocketAddr, SocketAddrV4, SocketAddrV6};

use proptest::collection::vec;
use proptest::prelude::*;
use swim_wire::*;

/// Owned values from which a message of any kind can be borrowed.
#[derive(Debug, Clone)]
struct Spec {
    kind: Kind,
    n1: u32,
    n2: u32,
    n3: u32,
    g: u64,
    byte: u8,
    name1: Vec<u8>,
    name2: Vec<u8>,
    addrs: Vec<SocketAddr>,
    blob: Vec<u8>,
}

impl Spec {
    fn alive(&self) -> Alive<'_> {
        Alive {
            generation: self.g,
            incarnation: self.n1,
            name: &self.name1,
            addrs: Addrs::from_slice(&self.addrs),
            meta: &self.blob,
        }
    }

    fn message(&self) -> Message<'_> {
        let (seq, source, target) = (self.n1, &self.name1[..], &self.name2[..]);
        match self.kind {
            Kind::Ping => {
                Message::Ping(Ping { seq, source, target, target_generation: self.g, target_incarnation: self.n2 })
            }
            Kind::Ack => Message::Ack(Ack { seq, source, payload: &self.blob }),
            Kind::IndirectPing => Message::IndirectPing(IndirectPing {
                seq,
                want_nack: self.byte & 1 == 1,
                source,
                target,
                target_generation: self.g,
                target_incarnation: self.n2,
                target_addr: self.addrs[0],
                nack_after_us: self.n3,
            }),
            Kind::IndirectAck => Message::IndirectAck(IndirectAck { seq, source, target }),
            Kind::Nack => Message::Nack(Nack { seq, source, target }),
            Kind::JoinRequest => Message::JoinRequest(JoinRequest { seq: self.n3, member: self.alive() }),
            Kind::JoinResponse => Message::JoinResponse(JoinResponse {
                seq,
                status: JoinStatus::from_u8(self.byte),
                source,
                known_generation: self.g,
                known_incarnation: self.n2,
                members: self.n3,
            }),
            Kind::Sync => Message::Sync(Sync { flags: SyncFlags(self.byte), source, total: self.n2, chunk: self.n3 }),
            Kind::Gossip => Message::Gossip(Gossip { source }),
            Kind::Alive => Message::Alive(self.alive()),
            Kind::Suspect => {
                Message::Suspect(Suspect { generation: self.g, incarnation: self.n1, name: source, by: target })
            }
            Kind::Faulty => {
                Message::Faulty(Faulty { generation: self.g, incarnation: self.n1, name: source, by: target })
            }
            Kind::Left => Message::Left(Left { generation: self.g, incarnation: self.n1, name: source }),
            Kind::UserBroadcast => Message::UserBroadcast(UserBroadcast {
                generation: self.g,
                seq,
                ttl_ms: self.n2,
                origin: source,
                payload: &self.blob,
            }),
            Kind::MemberRecord => Message::MemberRecord(MemberRecord {
                state: MemberState::from_u8(self.byte % 4).unwrap(),
                member: self.alive(),
                by: if self.byte & 4 == 0 { &[] } else { target },
            }),
            Kind::SyncDigest => Message::SyncDigest(SyncDigest {
                key: self.g,
                buckets: self.n1,
                first: self.n2,
                values: &self.blob[..self.blob.len() / 4 * 4],
            }),
            Kind::SyncDiff => Message::SyncDiff(SyncDiff { buckets: self.n1, first: self.n2, bits: &self.blob }),
            Kind::UserMessage => Message::UserMessage(UserMessage { payload: &self.blob }),
            Kind::Query => Message::Query(UserBroadcast {
                generation: self.g,
                seq,
                ttl_ms: self.n2,
                origin: source,
                payload: &self.blob,
            }),
            Kind::State => Message::State(UserBroadcast {
                generation: self.g,
                seq,
                ttl_ms: self.n2,
                origin: source,
                payload: &self.blob,
            }),
            Kind::QueryResponse => Message::QueryResponse(QueryResponse {
                generation: self.g,
                id: self.n1,
                flags: self.byte,
                origin: source,
                asker: self.addrs.first().copied().unwrap_or_else(|| "10.0.0.1:1".parse().unwrap()),
                responder: target,
                payload: &self.blob,
            }),
            Kind::AppState => Message::AppState(AppStateChunk { total: self.n1, offset: self.n2, bytes: &self.blob }),
        }
    }
}

fn socket_addr() -> impl Strategy<Value = SocketAddr> {
    prop_oneof![
        (any::<[u8; 4]>(), any::<u16>()).prop_map(|(ip, port)| SocketAddrV4::new(ip.into(), port).into()),
        (any::<[u8; 16]>(), any::<u16>(), any::<u32>()).prop_map(|(ip, port, scope)| SocketAddrV6::new(
            ip.into(),
            port,
            0,
            scope
        )
        .into()),
    ]
}

fn name() -> impl Strategy<Value = Vec<u8>> {
    prop_oneof![vec(any::<u8>(), 1..=16), vec(any::<u8>(), 1..=MAX_NAME_LEN)]
}

fn spec_of(kinds: Vec<Kind>) -> impl Strategy<Value = Spec> {
    (
        proptest::sample::select(kinds),
        (any::<u32>(), any::<u32>(), any::<u32>(), 0..=swim_wire::MAX_GENERATION, any::<u8>()),
        name(),
        name(),
        vec(socket_addr(), 1..=MAX_ADDRS),
        vec(any::<u8>(), 0..=DEFAULT_MAX_METADATA),
    )
        .prop_map(|(kind, (n1, n2, n3, g, byte), name1, name2, addrs, blob)| Spec {
            kind,
            n1,
            n2,
            n3,
            g,
            byte,
            name1,
            name2,
            addrs,
            blob,
        })
}

fn any_spec() -> impl Strategy<Value = Spec> {
    spec_of(Kind::ALL.to_vec())
}

fn primary_spec() -> impl Strategy<Value = Spec> {
    spec_of(Kind::ALL.into_iter().filter(|k| k.is_primary()).collect())
}

fn piggyback_spec() -> impl Strategy<Value = Spec> {
    spec_of(Kind::ALL.into_iter().filter(|k| !k.is_primary()).collect())
}

fn label() -> impl Strategy<Value = Vec<u8>> {
    prop_oneof![Just(Vec::new()), vec(any::<u8>(), 1..=MAX_LABEL_LEN)]
}

const BIG: usize = 1 << 16;

/// A primary message under which `message` may ride.
fn carrier(message: &Message<'_>) -> Message<'static> {
    if message.kind().is_sync_only() {
        Message::Sync(Sync { flags: SyncFlags::default(), source: b"s", total: 1, chunk: 0 })
    } else {
        Message::Ping(Ping { seq: 1, source: b"p", target: b"q", target_generation: 0, target_incarnation: 0 })
    }
}

/// Parses, re-encodes and re-parses; the two parses must agree.
fn assert_stable(bytes: &[u8], opts: &DecodeOptions) -> std::result::Result<(), TestCaseError> {
    if let Ok(packet) = Packet::parse(bytes, opts) {
        let mut out = vec![0u8; bytes.len()];
        let len = packet.encode(&mut out).map_err(|e| TestCaseError::fail(format!("re-encode failed: {e}")))?;
        let again = Packet::parse(&out[..len], opts).map_err(|e| TestCaseError::fail(format!("re-parse: {e}")))?;
        prop_assert_eq!(again, packet);
    }
    Ok(())
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 512, ..ProptestConfig::default() })]

    #[test]
    fn every_message_round_trips(spec in any_spec()) {
        let message = spec.message();
        let mut buf = vec![0u8; BIG];
        let mut w = PacketWriter::new(&mut buf, &Header::default(), BIG).unwrap();
        if message.kind().is_primary() {
            w.push(&message).unwrap();
        } else {
            w.push(&carrier(&message)).unwrap();
            w.push(&message).unwrap();
        }
        let len = w.finish().unwrap();
        let packet = Packet::parse(&buf[..len], &DecodeOptions::default()).unwrap();
        let decoded = if message.kind().is_primary() {
            packet.primary()
        } else {
            let mut piggyback = packet.piggyback();
            let only = piggyback.next().unwrap();
            prop_assert!(piggyback.next().is_none());
            only
        };
        prop_assert_eq!(decoded, message);
    }

    #[test]
    fn whole_packets_round_trip_up_to_the_budget(
        key_id in proptest::option::of(any::<u32>()),
        label in label(),
        primary in primary_spec(),
        piggyback in vec(piggyback_spec(), 0..24),
        budget in 64usize..=4096,
    ) {
        let header = Header { version: PROTOCOL_VERSION, encrypted: false, key_id, label: &label, any_receiver: false };
        let mut buf = vec![0u8; BIG];
        let Ok(mut w) = PacketWriter::new(&mut buf, &header, budget) else {
            prop_assert!(header.encoded_len() > budget);
            return Ok(());
        };
        let primary = primary.message();
        if let Err(err) = w.push(&primary) {
            prop_assert!(err.is_no_room());
            return Ok(());
        }
        let sync = primary.kind() == Kind::Sync;
        let mut pushed = Vec::new();
        for spec in &piggyback {
            let message = spec.message();
            match w.push(&message) {
                Ok(()) => pushed.push(message),
                Err(err) if err.is_no_room() => prop_assert!(!w.fits(&message)),
                Err(err) => {
                    prop_assert_eq!(err.kind(), ErrorKind::Misplaced);
                    prop_assert!(message.kind().is_sync_only() && !sync);
                }
            }
        }
        let len = w.finish().unwrap();
        prop_assert!(len <= budget);
        let packet = Packet::parse(&buf[..len], &DecodeOptions::default()).unwrap();
        prop_assert_eq!(packet.header(), &header);
        prop_assert_eq!(packet.primary(), primary);
        prop_assert!(packet.piggyback().eq(pushed.iter().copied()));

        // Canonical: re-encoding a parsed packet reproduces its bytes.
        let mut again = vec![0u8; len];
        let len2 = packet.encode(&mut again).unwrap();
        prop_assert_eq!(&again[..len2], &buf[..len]);
    }

    #[test]
    fn sealed_packets_open_to_the_same_packet(
        key in any::<[u8; 32]>(),
        label in label(),
        primary in primary_spec(),
        piggyback in vec(piggyback_spec(), 0..8),
        time in any::<u64>(),
        receiver in proptest::option::of(vec(any::<u8>(), 1..16)),
    ) {
        let ring = crypto::Keyring::new(&key);
        let to = receiver.as_deref().map(crypto::ReceiverTag::of);
        let me = to.unwrap_or_else(|| crypto::ReceiverTag::of(b"anyone"));
        let header = Header { label: &label, ..Header::default() };
        let mut buf = vec![0u8; 4096 + crypto::OVERHEAD];
        let mut w = PacketWriter::new(&mut buf, &header, 4096).unwrap();
        w.push(&primary.message()).unwrap();
        for spec in &piggyback {
            let _ = w.push(&spec.message());
        }
        let plain = w.finish().unwrap();
        let original = buf[..plain].to_vec();
        let mut nonces = crypto::NonceSequence::random().unwrap();
        let sealed = ring.seal(&mut buf, plain, &mut nonces, time, to.as_ref()).unwrap();
        prop_assert_eq!(sealed, plain + crypto::OVERHEAD);
        let opened = ring.open(&mut buf, sealed, &DecodeOptions::default(), &me).unwrap();
        prop_assert_eq!(opened.any_receiver, to.is_none());
        let next = nonces.next_nonce().unwrap();
        prop_assert_eq!((opened.nonce.epoch, opened.nonce.counter + 1), (next.epoch, next.counter));
        prop_assert_eq!(opened.sent_at_ms, time);
        let before = Packet::parse(&original, &DecodeOptions::default()).unwrap();
        let after = Packet::parse(&buf[..opened.len], &DecodeOptions::default()).unwrap();
        prop_assert_eq!(after.primary(), before.primary());
        prop_assert!(after.piggyback().eq(before.piggyback()));
        prop_assert_eq!(after.header().label, before.header().label);
    }

    #[test]
    fn arbitrary_bytes_never_panic_and_reencode_stably(bytes in vec(any::<u8>(), 0..1500)) {
        let opts = DecodeOptions { max_version: 255, min_version: 0, ..DecodeOptions::default() };
        assert_stable(&bytes, &opts)?;
        // The same bytes behind a valid header reach the item decoder.
        let mut framed = vec![b'S', b'W', PROTOCOL_VERSION, 0x00, 0x05];
        framed.extend_from_slice(&bytes);
        assert_stable(&framed, &DecodeOptions::default())?;
    }

    #[test]
    fn mutated_valid_packets_never_panic_and_reencode_stably(
        primary in primary_spec(),
        piggyback in vec(piggyback_spec(), 0..6),
        flips in vec((any::<prop::sample::Index>(), any::<u8>()), 1..6),
        cut in any::<prop::sample::Index>(),
    ) {
        let mut buf = vec![0u8; BIG];
        let mut w = PacketWriter::new(&mut buf, &Header::default(), BIG).unwrap();
        w.push(&primary.message()).unwrap();
        for spec in &piggyback {
            let _ = w.push(&spec.message());
        }
        let len = w.finish().unwrap();
        buf.truncate(len);
        for (at, byte) in flips {
            let i = at.index(buf.len());
            buf[i] = byte;
        }
        assert_stable(&buf, &DecodeOptions::default())?;
        let keep = cut.index(buf.len() + 1);
        assert_stable(&buf[..keep], &DecodeOptions::default())?;
    }
}

proptest! {
    /// Any bytes after the tags marker parse without panicking; what parses
    /// is canonical (it re-encodes to the same bytes), and any map encodes
    /// and parses back to itself.
    #[test]
    fn tags_parse_any_bytes_and_round_trip(
        body in vec(any::<u8>(), 0..64),
        map in proptest::collection::btree_map("[a-z]{1,8}", "[a-z0-9 ]{0,12}", 0..8),
    ) {
        use swim_wire::tags::{TAGS_MAGIC, TagsView, encode_tags};
        let mut meta = TAGS_MAGIC.to_vec();
        meta.extend_from_slice(&body);
        if let Ok(Some(view)) = TagsView::parse(&meta) {
            let mut again = Vec::new();
            encode_tags(view.iter(), &mut again).unwrap();
            prop_assert_eq!(again, meta);
        }
        let mut encoded = Vec::new();
        encode_tags(map.iter(), &mut encoded).unwrap();
        let view = TagsView::parse(&encoded).unwrap().unwrap();
        let back: Vec<(String, String)> = view.iter().map(|(k, v)| (k.to_owned(), v.to_owned())).collect();
        prop_assert_eq!(back, map.into_iter().collect::<Vec<_>>());
    }
}
