//! The harness of the core fuzz targets: the input is read as a program of
//! up to 256 operations on one node; after each, the node's invariants must
//! hold (a violation panics, which libFuzzer reports as a crash).

use std::net::SocketAddr;
use std::time::Duration;

use swim_protocol::{Config, Encryption, Node, SecretKey, SyncId, Time};
use swim_wire::crypto::{Keyring, NonceSequence, OVERHEAD, ReceiverTag};
use swim_wire::{
    AppStateChunk,
    Ack, Addrs, Alive, Faulty, Gossip, Header, IndirectAck, IndirectPing, JoinRequest, JoinResponse, JoinStatus, Left,
    DecodeOptions, MemberRecord, MemberState, Message, Nack, Packet, PacketWriter, Ping, Suspect, Sync, SyncFlags,
    QueryBody, QueryResponse, UserBroadcast, UserMessage,
};

const KEY: [u8; 32] = [0x42; 32];
const WALL: u64 = 1_800_000_000_000;
const NAMES: [&[u8]; 8] = [b"n0", b"n1", b"n2", b"n3", b"n4", b"n5", b"n6", b"n7"];

/// Reads the input; once it runs out, every read yields zeros.
struct Input<'a>(&'a [u8]);

impl<'a> Input<'a> {
    fn done(&self) -> bool {
        self.0.is_empty()
    }
    fn u8(&mut self) -> u8 {
        match self.0.split_first() {
            Some((b, rest)) => {
                self.0 = rest;
                *b
            }
            None => 0,
        }
    }
    fn u16(&mut self) -> u16 {
        u16::from_be_bytes([self.u8(), self.u8()])
    }
    fn u32(&mut self) -> u32 {
        u32::from_be_bytes([self.u8(), self.u8(), self.u8(), self.u8()])
    }
    fn take(&mut self, n: usize) -> &'a [u8] {
        let (head, rest) = self.0.split_at(n.min(self.0.len()));
        self.0 = rest;
        head
    }
    /// A small incarnation most of the time, sometimes any.
    fn incarnation(&mut self) -> u32 {
        if self.u8() < 200 { u32::from(self.u8() % 4) } else { self.u32() }
    }
    /// A small generation most of the time, sometimes any.
    fn generation(&mut self) -> u64 {
        if self.u8() < 220 { u64::from(self.u8() % 3) } else { u64::from(self.u32()) << 8 }
    }
    fn name(&mut self) -> &'a [u8] {
        let pick = self.u8();
        match NAMES.get(usize::from(pick % 10)) {
            Some(name) => name,
            None => {
                let n = usize::from(pick % 8) + 1;
                let bytes = self.take(n);
                if bytes.is_empty() { b"x" } else { bytes }
            }
        }
    }
}

/// An application state hook that sends a little and checks that what it
/// gets is whole (the node hands over nothing empty).
struct Echo;

impl swim_protocol::AppState for Echo {
    fn local_state(&mut self, join: bool, out: &mut Vec<u8>) {
        out.extend_from_slice(if join { b"joined" } else { b"state" });
    }
    fn merge_remote_state(&mut self, from: &[u8], state: &[u8], _join: bool) {
        assert!(!from.is_empty() && !state.is_empty(), "the node merges whole, non-empty states only");
    }
}

fn addr(i: u8) -> SocketAddr {
    SocketAddr::from(([10, 0, 0, i % 8], 7946))
}

/// A datagram built from the input with the real encoder: a primary message
/// and a few gossip updates about a small pool of names.
fn structured(input: &mut Input<'_>, buf: &mut [u8], budget: usize, sync: bool, seqs: &[u32]) -> Option<usize> {
    let addrs = [addr(input.u8())];
    let mut w = PacketWriter::new(buf, &Header::default(), budget).ok()?;
    // Sequence numbers the node used recently (its acks and nacks must echo
    // them), or any small one.
    let pick = usize::from(input.u8());
    let seq = seqs.get(pick % 32).copied().unwrap_or(u32::from(input.u8() % 16));
    let (source, target) = (input.name(), input.name());
    let primary = if sync {
        let flags = SyncFlags(input.u8() & 0x07);
        Message::Sync(Sync { flags, source, total: u32::from(input.u8()), chunk: u32::from(input.u8() % 4) })
    } else {
        match input.u8() % 8 {
            0 => Message::Ping(Ping {
                seq,
                source,
                target,
                target_generation: input.generation(),
                target_incarnation: input.incarnation(),
            }),
            1 => Message::Ack(Ack { seq, source, payload: &[] }),
            2 => Message::IndirectPing(IndirectPing {
                seq,
                want_nack: input.u8() & 1 == 1,
                source,
                target,
                target_generation: input.generation(),
                target_incarnation: input.incarnation(),
                target_addr: addrs[0],
                nack_after_us: u32::from(input.u16()) * 16,
            }),
            3 => Message::IndirectAck(IndirectAck { seq, source, target }),
            4 => Message::Nack(Nack { seq, source, target }),
            6 => Message::Gossip(Gossip { source }),
            5 => Message::JoinRequest(JoinRequest {
                seq,
                member: Alive {
                    generation: input.generation(),
                    incarnation: input.incarnation(),
                    name: source,
                    addrs: Addrs::from_slice(&addrs),
                    meta: b"m",
                },
            }),
            _ => Message::JoinResponse(JoinResponse {
                seq,
                status: JoinStatus::from_u8(input.u8() % 5),
                source,
                known_generation: input.generation(),
                known_incarnation: input.incarnation(),
                members: 3,
            }),
        }
    };
    w.push(&primary).ok()?;
    for _ in 0..input.u8() % 12 {
        let (name, by) = (input.name(), input.name());
        let (generation, incarnation) = (input.generation(), input.incarnation());
        let alive = Alive { generation, incarnation, name, addrs: Addrs::from_slice(&addrs), meta: b"" };
        // A query body (sometimes cut short), for queries.
        let mut query = [0u8; 96];
        let filter: &[u8] = if input.u8() % 2 == 0 { &[0, 0] } else { &[1, 2, b'n', b'0', 0] };
        let body = QueryBody {
            want_ack: input.u8() % 2 == 0,
            relay: input.u8() % 7,
            timeout_ms: u32::from(input.u16()),
            id: u32::from(input.u8() % 4),
            asker: addrs.first().copied().unwrap_or_else(|| SocketAddr::from(([10, 0, 0, 1], 7946))),
            name: b"q",
            filter,
            payload: b"p",
        };
        let query_len = body.encode(&mut query).unwrap_or(0).saturating_sub(usize::from(input.u8() % 4 / 3));
        let update = match input.u8() % 12 {
            0 => Message::Alive(alive),
            1 => Message::Suspect(Suspect { generation, incarnation, name, by }),
            2 => Message::Faulty(Faulty { generation, incarnation, name, by }),
            3 => Message::Left(Left { generation, incarnation, name }),
            4 => {
                let seq = u32::from(input.u8() % 8);
                Message::UserBroadcast(UserBroadcast { generation, seq, ttl_ms: u32::from(input.u16()), origin: name, payload: b"p" })
            }
            7 => Message::UserMessage(UserMessage { payload: b"m" }),
            8 => {
                let seq = u32::from(input.u8() % 8);
                let ttl_ms = u32::from(input.u16());
                let payload = query.get(..query_len).unwrap_or_default();
                Message::Query(UserBroadcast { generation, seq, ttl_ms, origin: name, payload })
            }
            10 => {
                let seq = u32::from(input.u8() % 8);
                let ttl_ms = u32::from(input.u8()) * 100;
                // A state entry: flags, key "k", a one-byte value (cut short now and then).
                let body: &[u8] = if input.u8() % 4 == 0 { &[1, 1, b'k', 0, 0] } else { &[0, 1, b'k', 0, 1, b'v'] };
                let payload = body.get(..body.len() - usize::from(input.u8() % 8 / 7)).unwrap_or_default();
                Message::State(UserBroadcast { generation, seq, ttl_ms, origin: name, payload })
            }
            9 => Message::QueryResponse(QueryResponse {
                generation,
                id: u32::from(input.u8() % 4),
                flags: input.u8() % 4,
                origin: by,
                asker: addrs.first().copied().unwrap_or_else(|| SocketAddr::from(([10, 0, 0, 1], 7946))),
                responder: name,
                payload: b"r",
            }),
            // A piece of application state: small totals and offsets, so
            // that pieces sometimes follow each other and complete.
            11 => {
                let (total, offset, len) = (input.u8() % 8, input.u8() % 8, input.u8() % 4);
                let bytes = input.take(usize::from(len));
                Message::AppState(AppStateChunk { total: u32::from(total), offset: u32::from(offset), bytes })
            }
            _ if sync => Message::MemberRecord(MemberRecord {
                state: MemberState::from_u8(input.u8() % 4).unwrap_or(MemberState::Alive),
                member: alive,
                by: if input.u8() % 2 == 0 { by } else { &[] },
            }),
            _ => Message::Alive(alive),
        };
        let _ = w.push(&update);
    }
    w.finish().ok()
}

/// Seals a plaintext datagram as a member would (nonce and time from the input).
fn seal(ring: &Keyring, input: &mut Input<'_>, buf: &mut [u8], len: usize, now: Time) -> Option<usize> {
    // Chosen nonces, few epochs and counters: replays and reorders are common.
    let mut nonces = NonceSequence::dangerous_fixed(u64::from(input.u8() % 4), u32::from(input.u8()));
    let skew = i64::from(input.u8()) * 1000 - 5_000;
    let sent_at = (WALL + now.as_micros() / 1000).saturating_add_signed(skew);
    // Mostly for the node itself; sometimes for any receiver, or another.
    let to = match input.u8() % 8 {
        0 => None,
        1 => Some(ReceiverTag::of(NAMES[1])),
        _ => Some(ReceiverTag::of(NAMES[0])),
    };
    ring.seal(buf, len, &mut nonces, sent_at, to.as_ref()).ok()
}

/// Runs one fuzz input against a node.
pub fn run_core(data: &[u8], sealed: bool) {
    let mut config = Config::local().with(|c| { c.seed = 1; c.limits.max_members = 32; c.limits.expected_members = 8; c.sync.interval = Duration::from_secs(1); });
    if sealed {
        config.security.encryption = Some(Encryption::new(SecretKey(KEY)));
    }
    let Ok(mut node) = Node::new(NAMES[0], &[addr(0)], b"", config, Time::ZERO) else { return };
    node.set_app_state(Echo);
    node.set_wall_clock(Time::ZERO, WALL);
    let ring = Keyring::new(&KEY);
    let mut input = Input(data);
    let mut now = Time::ZERO;
    let mut buf = vec![0u8; 65_536];
    let mut syncs: Vec<SyncId> = Vec::new();
    let mut seqs: Vec<u32> = Vec::with_capacity(32);
    for _ in 0..256 {
        if input.done() {
            break;
        }
        match input.u8() % 8 {
            0 => {
                let len = usize::from(input.u16() % 1500);
                let bytes = input.take(len);
                let mut copy = bytes.to_vec();
                let _ = node.handle_datagram(now, addr(input.u8()), &mut copy);
            }
            1 | 2 => {
                let budget = 1400 - if sealed { OVERHEAD } else { 0 };
                if let Some(mut len) = structured(&mut input, &mut buf, budget, false, &seqs) {
                    if sealed {
                        len = seal(&ring, &mut input, &mut buf, len, now).unwrap_or(len);
                    }
                    let from = addr(input.u8());
                    let _ = node.handle_datagram(now, from, &mut buf[..len]);
                }
            }
            3 => {
                now += Duration::from_millis(u64::from(input.u16()));
                node.handle_timeout(now);
            }
            4 => {
                let mut out = vec![0u8; 1400];
                while let Some(t) = node.poll_transmit(now, &mut out) {
                    // Remember the sequence numbers the node asks to be echoed.
                    let opened = if sealed {
                        let opts = DecodeOptions::default();
                        let copy = out.clone();
                        NAMES.iter().find_map(|name| {
                            out.copy_from_slice(&copy);
                            ring.open(&mut out, t.len, &opts, &ReceiverTag::of(name)).ok().map(|o| o.len)
                        })
                    } else {
                        Some(t.len)
                    };
                    let primary = opened
                        .and_then(|len| Packet::parse(out.get(..len)?, &DecodeOptions::default()).ok())
                        .map(|p| p.primary());
                    let seq = match primary {
                        Some(Message::Ping(p)) => Some(p.seq),
                        Some(Message::IndirectPing(p)) => Some(p.seq),
                        Some(Message::JoinRequest(r)) => Some(r.seq),
                        _ => None,
                    };
                    if let Some(seq) = seq {
                        if seqs.len() == 32 {
                            seqs.remove(0);
                        }
                        seqs.push(seq);
                    }
                }
                while node.poll_event().is_some() {}
                while let Some(open) = node.poll_sync_open() {
                    syncs.push(open.id);
                }
            }
            5 => match input.u8() % 9 {
                0 => {
                    let _ = node.join(now, &[addr(input.u8())]);
                }
                1 => node.leave(now),
                2 => {
                    let _ = node.broadcast(now, input.take(8));
                }
                3 => {
                    let _ = node.set_metadata(now, input.take(16));
                }
                4 => {
                    let _ = node.add_key(&SecretKey([input.u8(); 32]));
                }
                5 => {
                    let _ = node.use_key(swim_wire::crypto::key_id(&[input.u8(); 32]));
                }
                6 => {
                    let _ = node.remove_key(swim_wire::crypto::key_id(&[input.u8(); 32]));
                }
                7 => {
                    // A stalled process: its timers fire late.
                    let due = node.poll_timeout().unwrap_or(now);
                    now = now.max(due) + Duration::from_millis(u64::from(input.u8()));
                    node.handle_timeout(now);
                }
                _ => {
                    let len = usize::from(input.u16() % 1100);
                    let _ = node.broadcast(now, input.take(len));
                }
            },
            6 => {
                if input.u8() % 2 == 0 {
                    if let Ok(id) = node.accept_sync(now, addr(input.u8())) {
                        syncs.push(id);
                    }
                } else if let Some(&id) = syncs.get(usize::from(input.u8()) % syncs.len().max(1)) {
                    if input.u8() % 2 == 0 {
                        let _ = node.poll_sync_frame(id, &mut buf);
                    } else {
                        let budget = 60_000 - if sealed { OVERHEAD } else { 0 };
                        if let Some(mut len) = structured(&mut input, &mut buf, budget, true, &seqs) {
                            if sealed {
                                len = seal(&ring, &mut input, &mut buf, len, now).unwrap_or(len);
                            }
                            let _ = node.handle_sync_frame(now, id, &mut buf[..len]);
                        }
                    }
                }
            }
            _ => {
                // Sealed-looking garbage: a valid header naming the real key.
                let mut datagram = b"SW\x02\x03\x09".to_vec();
                datagram.extend_from_slice(&ring.primary_id().to_be_bytes());
                let len = usize::from(input.u8());
                datagram.extend_from_slice(input.take(len));
                let _ = node.handle_datagram(now, addr(input.u8()), &mut datagram);
            }
        }
        if let Err(broken) = node.check_invariants() {
            panic!("invariant broken: {broken}");
        }
    }
}

/// Runs one fuzz input against the frame reassembler: the stream (the
/// input's bytes after the first 16) is fed in pieces whose sizes the first
/// 16 bytes choose; the frames that come out must be exactly those a
/// one-pass reading of the whole stream finds, and the buffer must never
/// exceed the largest frame allowed.
pub fn run_frames(data: &[u8]) {
    use swim_wire::frame::{PREFIX_LEN, Reassembler, read_prefix};
    const MAX: usize = 2048;
    let (sizes, stream) = data.split_at(data.len().min(16));
    // The reference: frames read from the whole stream at once.
    let mut expected: Vec<&[u8]> = Vec::new();
    let mut at = 0;
    let mut broken = false;
    while let Some(prefix) = stream.get(at..at + PREFIX_LEN) {
        let prefix = [prefix[0], prefix[1], prefix[2], prefix[3]];
        match read_prefix(prefix, MAX) {
            Ok(len) if len > 0 => match stream.get(at + PREFIX_LEN..at + PREFIX_LEN + len) {
                Some(frame) => {
                    expected.push(frame);
                    at += PREFIX_LEN + len;
                }
                None => break,
            },
            _ => {
                broken = true;
                break;
            }
        }
    }
    let mut r = Reassembler::new(MAX);
    let mut got: Vec<Vec<u8>> = Vec::new();
    let mut fed = 0;
    let mut piece = 0;
    let mut failed = false;
    while fed < stream.len() {
        let space = match r.space() {
            Ok(space) => space,
            Err(_) => {
                failed = true;
                break;
            }
        };
        assert!(!space.is_empty(), "no room while a frame is incomplete");
        let want = usize::from(sizes.get(piece % sizes.len().max(1)).copied().unwrap_or(1)).max(1);
        piece += 1;
        let n = want.min(space.len()).min(stream.len() - fed);
        space[..n].copy_from_slice(&stream[fed..fed + n]);
        r.advance(n);
        fed += n;
        assert!(r.buffered() <= PREFIX_LEN + MAX);
        if let Some(frame) = r.frame() {
            got.push(frame.to_vec());
            r.consume();
        }
    }
    if !failed && fed == stream.len() && r.space().is_err() {
        failed = true; // a bad prefix that was the stream's last bytes
    }
    assert_eq!(got.len(), expected.len(), "frames out");
    assert!(got.iter().zip(&expected).all(|(a, b)| a == b), "frame contents");
    assert_eq!(failed, broken, "a bad prefix is refused, and only a bad one");
}

/// What an observer of a node can see of its state (rejection counters
/// aside): every member, its own entry, its health, its next deadline and
/// its other counters.
fn digest(node: &Node) -> String {
    let mut stats = node.stats();
    stats.packets_rejected = 0;
    stats.rejected_malformed = 0;
    stats.rejected_label = 0;
    stats.rejected_key = 0;
    stats.rejected_encryption = 0;
    stats.rejected_replay = 0;
    stats.rejected_unexpected = 0;
    let members: Vec<String> = node.members().map(|m| format!("{m:?}")).collect();
    format!("{members:?} {:?} {} {:?} {stats:?}", node.local(), node.health(), node.poll_timeout())
}

/// Runs one fuzz input against a node with encryption on: first a few
/// authenticated datagrams and timers bring it to some state; then every
/// unauthenticated input (raw bytes, plaintext, a wrong key, a packet sealed
/// for another member, a tampered or replayed one, one sealed for any
/// receiver that is not a join request) must be refused and change nothing
/// an observer can see.
pub fn run_unauthenticated(data: &[u8]) {
    let config = Config::local().with(|c| { c.seed = 1; c.limits.max_members = 32; c.limits.expected_members = 8; c.security.encryption = Some(Encryption::new(SecretKey(KEY))); });
    let Ok(mut node) = Node::new(NAMES[0], &[addr(0)], b"", config, Time::ZERO) else { return };
    node.set_app_state(Echo);
    node.set_wall_clock(Time::ZERO, WALL);
    let ring = Keyring::new(&KEY);
    let wrong = Keyring::new(&[0x24; 32]);
    let me = ReceiverTag::of(NAMES[0]);
    let mut input = Input(data);
    let mut now = Time::ZERO;
    let mut buf = vec![0u8; 2048];
    let mut out = vec![0u8; 1400];
    let mut counter = 0u32;
    let mut accepted: Vec<Vec<u8>> = Vec::new();
    let budget = 1400 - OVERHEAD;
    let sent_at = |now: Time| WALL + now.as_micros() / 1000;
    // Authenticated: the node's state moves.
    for _ in 0..usize::from(input.u8() % 32) {
        match input.u8() % 3 {
            0 => {
                now += Duration::from_millis(u64::from(input.u16() % 2000));
                node.handle_timeout(now);
                while node.poll_transmit(now, &mut out).is_some() {}
            }
            _ => {
                if let Some(len) = structured(&mut input, &mut buf, budget, false, &[]) {
                    counter += 1;
                    let mut nonces = NonceSequence::dangerous_fixed(7, counter);
                    if let Ok(len) = ring.seal(&mut buf, len, &mut nonces, sent_at(now), Some(&me)) {
                        let copy = buf[..len].to_vec();
                        if node.handle_datagram(now, addr(input.u8()), &mut buf[..len]).is_ok() {
                            accepted.push(copy);
                        }
                    }
                }
            }
        }
    }
    while node.poll_transmit(now, &mut out).is_some() {}
    while node.poll_event().is_some() {}
    let before = digest(&node);
    // Unauthenticated: nothing may change.
    for _ in 0..64 {
        if input.done() {
            break;
        }
        let from = addr(input.u8());
        let datagram: Vec<u8> = match input.u8() % 6 {
            0 => {
                let len = usize::from(input.u16() % 1500);
                input.take(len).to_vec()
            }
            1 => match structured(&mut input, &mut buf, budget, false, &[]) {
                Some(len) => buf[..len].to_vec(),
                None => continue,
            },
            kind @ (2 | 3 | 4) => {
                let Some(len) = structured(&mut input, &mut buf, budget, false, &[]) else { continue };
                let join = Packet::parse(&buf[..len], &DecodeOptions::default())
                    .is_ok_and(|p| p.primary().kind() == swim_wire::Kind::JoinRequest);
                counter += 1;
                let mut nonces = NonceSequence::dangerous_fixed(8, counter);
                let other = ReceiverTag::of(NAMES[1]);
                let sealed = match kind {
                    2 => wrong.seal(&mut buf, len, &mut nonces, sent_at(now), Some(&me)),
                    3 => ring.seal(&mut buf, len, &mut nonces, sent_at(now), Some(&other)),
                    _ if join => continue, // a join request for any receiver is authentic
                    _ => ring.seal(&mut buf, len, &mut nonces, sent_at(now), None),
                };
                match sealed {
                    Ok(len) => buf[..len].to_vec(),
                    Err(_) => continue,
                }
            }
            _ => {
                // A replay of an accepted datagram, or a tampered copy.
                let Some(original) = accepted.get(usize::from(input.u8()) % accepted.len().max(1)) else { continue };
                let mut copy = original.clone();
                if input.u8() % 2 == 0 {
                    let at = usize::from(input.u16()) % copy.len().max(1);
                    if let Some(b) = copy.get_mut(at) {
                        *b ^= input.u8().max(1);
                    }
                }
                copy
            }
        };
        let mut scratch = datagram.clone();
        let result = node.handle_datagram(now, from, &mut scratch);
        assert!(result.is_err(), "an unauthenticated datagram was accepted: {datagram:02x?}");
        assert!(node.poll_event().is_none(), "an unauthenticated datagram made an event");
        assert!(node.poll_transmit(now, &mut out).is_none(), "an unauthenticated datagram was answered");
        assert_eq!(digest(&node), before, "an unauthenticated datagram changed the node");
    }
}
