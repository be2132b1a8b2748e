//! Every message of the protocol, as borrowed views for decoding and plain
//! values for encoding.
//!
//! On the wire each message is an *item*: a kind byte, a two-byte body length
//! and the body. Kinds `0x01..=0x3f` are *primary* messages (exactly one
//! opens each packet); kinds `0x40..=0xff` ride along after it (gossip
//! updates, user broadcasts, sync records). A decoder skips piggybacked items
//! of unknown kinds and any bytes after the fields it knows inside a body,
//! so newer members can add messages and fields.
//!
//! Integers are big-endian. A *name* is a length byte (1..=255) and the
//! bytes; a *blob* (metadata, payload) is a two-byte length and the bytes;
//! addresses are described in [`Addrs`].
//!
//! | kind | message | body |
//! |---|---|---|
//! | `0x01` | [`Ping`] | seq u32, source name, target name, target generation u64, target incarnation u32 |
//! | `0x02` | [`Ack`] | seq u32, source name, payload blob |
//! | `0x03` | [`IndirectPing`] | seq u32, flags u8, source name, target name, target generation u64, target incarnation u32, target address, nack after u32 (µs) |
//! | `0x04` | [`IndirectAck`] | seq u32, source name, target name |
//! | `0x05` | [`Nack`] | seq u32, source name, target name |
//! | `0x06` | [`JoinRequest`] | seq u32, then an [`Alive`] body |
//! | `0x07` | [`JoinResponse`] | seq u32, status u8, source name, known generation u64, known incarnation u32, members u32 |
//! | `0x08` | [`Sync`] | flags u8, source name, total u32, chunk u32 |
//! | `0x09` | [`Gossip`] | source name |
//! | `0x40` | [`Alive`] | generation u64, incarnation u32, name, addresses, metadata blob |
//! | `0x41` | [`Suspect`] | generation u64, incarnation u32, name, by name |
//! | `0x42` | [`Faulty`] | generation u64, incarnation u32, name, by name |
//! | `0x43` | [`Left`] | generation u64, incarnation u32, name |
//! | `0x44` | [`UserBroadcast`] | origin generation u64, seq u32, time to live u32 (ms), origin name, payload blob |
//! | `0x45` | [`MemberRecord`] | state u8, an [`Alive`] body, accuser (a name, or a zero byte for none) |
//! | `0x46` | [`SyncDigest`] | key u64, buckets u32, first u32, count u16, count values u32 |
//! | `0x47` | [`SyncDiff`] | buckets u32, first u32, count u16, count bytes of bits |
//! | `0x48` | [`UserMessage`] | payload blob (up to 65,535 bytes) |
//! | `0x49` | Query ([`UserBroadcast`] layout) | as a user broadcast; the payload is a [`QueryBody`] |
//! | `0x4a` | [`QueryResponse`] | asker generation u64, id u32, flags u8, origin name, asker address, responder name, payload blob |
//! | `0x4b` | State ([`UserBroadcast`] layout) | an application state entry: owner, generation, version, time to live; the payload is a [`StateBody`] |
//! | `0x4c` | [`AppStateChunk`] | total u32, offset u32, bytes blob: a piece of the application's own state in a sync |
//!
//! Member records, the digest items and application state chunks ride
//! only on a [`Sync`]. A user
//! message rides on a [`Gossip`] datagram (best effort) or alone on a
//! message exchange's [`Sync`] frame (reliable); its sender is the primary
//! message's source.
//!
//! A member's *version* is its process generation (drawn when the process
//! starts, larger for every later process of the same name) and its
//! incarnation within that process; versions order by generation first.

use core::fmt;
use std::net::SocketAddr;

use crate::addr::{Addrs, addr_len, read_addr, write_addr};
use crate::cursor::{Reader, Step, Writer};
use crate::error::{ErrorKind, Field, Result};
use crate::packet::DecodeOptions;

/// Bytes before each message body: kind (1) and body length (2).
pub const ITEM_HEADER_LEN: usize = 3;

/// The kind of a message, as its first byte on the wire.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[repr(u8)]
pub enum Kind {
    /// [`Ping`].
    Ping = 0x01,
    /// [`Ack`].
    Ack = 0x02,
    /// [`IndirectPing`].
    IndirectPing = 0x03,
    /// [`IndirectAck`].
    IndirectAck = 0x04,
    /// [`Nack`].
    Nack = 0x05,
    /// [`JoinRequest`].
    JoinRequest = 0x06,
    /// [`JoinResponse`].
    JoinResponse = 0x07,
    /// [`Sync`].
    Sync = 0x08,
    /// [`Gossip`].
    Gossip = 0x09,
    /// [`Alive`].
    Alive = 0x40,
    /// [`Suspect`].
    Suspect = 0x41,
    /// [`Faulty`].
    Faulty = 0x42,
    /// [`Left`].
    Left = 0x43,
    /// [`UserBroadcast`].
    UserBroadcast = 0x44,
    /// [`MemberRecord`].
    MemberRecord = 0x45,
    /// [`SyncDigest`].
    SyncDigest = 0x46,
    /// [`SyncDiff`].
    SyncDiff = 0x47,
    /// [`UserMessage`].
    UserMessage = 0x48,
    /// A query: a [`UserBroadcast`] whose payload is a [`QueryBody`].
    Query = 0x49,
    /// [`QueryResponse`].
    QueryResponse = 0x4a,
    /// An application state entry: a [`UserBroadcast`] whose payload is a
    /// [`StateBody`].
    State = 0x4b,
    /// [`AppStateChunk`].
    AppState = 0x4c,
}

impl fmt::Display for Kind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

impl Kind {
    /// Every kind this version knows.
    pub const ALL: [Kind; 22] = [
        Kind::Ping,
        Kind::Ack,
        Kind::IndirectPing,
        Kind::IndirectAck,
        Kind::Nack,
        Kind::JoinRequest,
        Kind::JoinResponse,
        Kind::Sync,
        Kind::Gossip,
        Kind::Alive,
        Kind::Suspect,
        Kind::Faulty,
        Kind::Left,
        Kind::UserBroadcast,
        Kind::MemberRecord,
        Kind::SyncDigest,
        Kind::SyncDiff,
        Kind::UserMessage,
        Kind::Query,
        Kind::QueryResponse,
        Kind::State,
        Kind::AppState,
    ];

    /// The kind for a wire byte, if this version knows it.
    pub const fn from_u8(byte: u8) -> Option<Kind> {
        Some(match byte {
            0x01 => Kind::Ping,
            0x02 => Kind::Ack,
            0x03 => Kind::IndirectPing,
            0x04 => Kind::IndirectAck,
            0x05 => Kind::Nack,
            0x06 => Kind::JoinRequest,
            0x07 => Kind::JoinResponse,
            0x08 => Kind::Sync,
            0x09 => Kind::Gossip,
            0x40 => Kind::Alive,
            0x41 => Kind::Suspect,
            0x42 => Kind::Faulty,
            0x43 => Kind::Left,
            0x44 => Kind::UserBroadcast,
            0x45 => Kind::MemberRecord,
            0x46 => Kind::SyncDigest,
            0x47 => Kind::SyncDiff,
            0x48 => Kind::UserMessage,
            0x49 => Kind::Query,
            0x4a => Kind::QueryResponse,
            0x4b => Kind::State,
            0x4c => Kind::AppState,
            _ => return None,
        })
    }

    /// Whether a wire byte is in the primary range (known or not).
    pub const fn is_primary_byte(byte: u8) -> bool {
        byte >= 0x01 && byte <= 0x3f
    }

    /// Whether this kind opens a packet.
    pub const fn is_primary(self) -> bool {
        Kind::is_primary_byte(self as u8)
    }

    /// Whether this kind rides only on a [`Sync`] (a sync stream's
    /// records, digest and application state chunks).
    pub const fn is_sync_only(self) -> bool {
        matches!(self, Kind::MemberRecord | Kind::SyncDigest | Kind::SyncDiff | Kind::AppState)
    }

    /// The name used in error messages.
    pub const fn name(self) -> &'static str {
        match self {
            Kind::Ping => "ping",
            Kind::Ack => "ack",
            Kind::IndirectPing => "indirect ping",
            Kind::IndirectAck => "indirect ack",
            Kind::Nack => "nack",
            Kind::JoinRequest => "join request",
            Kind::JoinResponse => "join response",
            Kind::Sync => "sync",
            Kind::Gossip => "gossip",
            Kind::Alive => "alive",
            Kind::Suspect => "suspect",
            Kind::Faulty => "faulty",
            Kind::Left => "left",
            Kind::UserBroadcast => "user broadcast",
            Kind::MemberRecord => "member record",
            Kind::SyncDigest => "sync digest",
            Kind::SyncDiff => "sync diff",
            Kind::UserMessage => "user message",
            Kind::Query => "query",
            Kind::QueryResponse => "query response",
            Kind::State => "state",
            Kind::AppState => "application state",
        }
    }
}

/// Direct ping: "are you alive?". The target answers with an [`Ack`] that
/// echoes `seq`.
#[derive(Clone, Copy, PartialEq, Eq)]
pub struct Ping<'a> {
    /// Sequence number the ack echoes.
    pub seq: u32,
    /// Name of the prober.
    pub source: &'a [u8],
    /// Name of the member the prober means to reach.
    pub target: &'a [u8],
    /// The target's generation as the prober knows it.
    pub target_generation: u64,
    /// The target's incarnation as the prober knows it; a restarted target
    /// resumes above it.
    pub target_incarnation: u32,
}

/// Direct ack: the answer to a [`Ping`], with room for a small application
/// payload.
#[derive(Clone, Copy, PartialEq, Eq)]
pub struct Ack<'a> {
    /// The ping's sequence number.
    pub seq: u32,
    /// Name of the member that answers.
    pub source: &'a [u8],
    /// Application payload (may be empty).
    pub payload: &'a [u8],
}

/// Indirect ping: asks a helper to ping `target` on the prober's behalf.
#[derive(Clone, Copy, PartialEq, Eq)]
pub struct IndirectPing<'a> {
    /// Sequence number the helper's [`IndirectAck`] or [`Nack`] echoes.
    pub seq: u32,
    /// Whether the prober wants a [`Nack`] when the target stays silent.
    pub want_nack: bool,
    /// Name of the prober.
    pub source: &'a [u8],
    /// Name of the member to ping.
    pub target: &'a [u8],
    /// The target's generation as the prober knows it.
    pub target_generation: u64,
    /// The target's incarnation as the prober knows it.
    pub target_incarnation: u32,
    /// Where to reach the target.
    pub target_addr: SocketAddr,
    /// When the helper should nack a silent target, in microseconds after
    /// it received this request (the prober's choice, so that the nack
    /// arrives while the prober still waits).
    pub nack_after_us: u32,
}

/// Indirect ack: a helper reports that the target answered.
#[derive(Clone, Copy, PartialEq, Eq)]
pub struct IndirectAck<'a> {
    /// The indirect ping's sequence number.
    pub seq: u32,
    /// Name of the helper.
    pub source: &'a [u8],
    /// Name of the target that answered.
    pub target: &'a [u8],
}

/// Nack: a helper reports that the target did not answer in time.
#[derive(Clone, Copy, PartialEq, Eq)]
pub struct Nack<'a> {
    /// The indirect ping's sequence number.
    pub seq: u32,
    /// Name of the helper.
    pub source: &'a [u8],
    /// Name of the silent target.
    pub target: &'a [u8],
}

/// Gossip: a packet of updates with no request, sent by a member that
/// disseminates by multicast rather than by piggybacking; the updates follow
/// as piggybacked items.
#[derive(Clone, Copy, PartialEq, Eq)]
pub struct Gossip<'a> {
    /// Name of the sender.
    pub source: &'a [u8],
}

/// Alive update: a member, its addresses, metadata and incarnation. Also the
/// description of a member inside [`JoinRequest`] and [`MemberRecord`].
#[derive(Clone, Copy, PartialEq, Eq)]
pub struct Alive<'a> {
    /// The member's process generation.
    pub generation: u64,
    /// The member's incarnation.
    pub incarnation: u32,
    /// The member's name.
    pub name: &'a [u8],
    /// The member's addresses, preferred first (at least one).
    pub addrs: Addrs<'a>,
    /// Application metadata.
    pub meta: &'a [u8],
}

/// Suspect update: `by` suspects `name` at `incarnation`.
#[derive(Clone, Copy, PartialEq, Eq)]
pub struct Suspect<'a> {
    /// The suspected member's generation.
    pub generation: u64,
    /// The suspected member's incarnation.
    pub incarnation: u32,
    /// The suspected member.
    pub name: &'a [u8],
    /// The member that suspects it.
    pub by: &'a [u8],
}

/// Faulty update: `by` declared `name` faulty at `incarnation`.
#[derive(Clone, Copy, PartialEq, Eq)]
pub struct Faulty<'a> {
    /// The faulty member's generation.
    pub generation: u64,
    /// The faulty member's incarnation.
    pub incarnation: u32,
    /// The faulty member.
    pub name: &'a [u8],
    /// The member that declared it.
    pub by: &'a [u8],
}

/// Left update: `name` departed gracefully.
#[derive(Clone, Copy, PartialEq, Eq)]
pub struct Left<'a> {
    /// The departing member's generation.
    pub generation: u64,
    /// The departing member's incarnation.
    pub incarnation: u32,
    /// The departing member.
    pub name: &'a [u8],
}

/// A user broadcast: an application payload from `origin`, numbered `seq`.
#[derive(Clone, Copy, PartialEq, Eq)]
pub struct UserBroadcast<'a> {
    /// The origin's process generation: sequence numbers start again with
    /// every process, so a broadcast is identified by origin, generation and
    /// sequence number.
    pub generation: u64,
    /// The origin's sequence number for this broadcast.
    pub seq: u32,
    /// How much longer the broadcast lives, in milliseconds: members hold
    /// it (and repair others with it) until then, and never pass it on
    /// after. Each holder counts down from what it received, so no clock
    /// is shared.
    pub ttl_ms: u32,
    /// The member that broadcast it.
    pub origin: &'a [u8],
    /// The application payload.
    pub payload: &'a [u8],
}

/// A direct message: an application payload for the receiver alone, from
/// the member named by the primary message it rides with.
#[derive(Clone, Copy, PartialEq, Eq)]
pub struct UserMessage<'a> {
    /// The application payload.
    pub payload: &'a [u8],
}

/// Join request: a new member introduces itself to a seed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct JoinRequest<'a> {
    /// Sequence number the response echoes.
    pub seq: u32,
    /// The joining member.
    pub member: Alive<'a>,
}

/// How a seed answered a [`JoinRequest`].
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum JoinStatus {
    /// The member may join; a sync follows.
    Accepted,
    /// Another live member already holds the name.
    NameConflict,
    /// The cluster holds as many members as it is configured for.
    ClusterFull,
    /// The seed does not admit the member (its address is outside the
    /// networks the cluster allows). A member of an older version sees an
    /// unknown status and waits for another seed.
    NotAdmitted,
    /// A status this version does not know.
    Other(u8),
}

impl JoinStatus {
    /// The wire byte.
    pub const fn to_u8(self) -> u8 {
        match self {
            JoinStatus::Accepted => 0,
            JoinStatus::NameConflict => 1,
            JoinStatus::ClusterFull => 2,
            JoinStatus::NotAdmitted => 3,
            JoinStatus::Other(b) => b,
        }
    }

    /// The status for a wire byte.
    pub const fn from_u8(byte: u8) -> Self {
        match byte {
            0 => JoinStatus::Accepted,
            1 => JoinStatus::NameConflict,
            2 => JoinStatus::ClusterFull,
            3 => JoinStatus::NotAdmitted,
            b => JoinStatus::Other(b),
        }
    }
}

/// Join response: a seed's answer to a [`JoinRequest`].
#[derive(Clone, Copy, PartialEq, Eq)]
pub struct JoinResponse<'a> {
    /// The request's sequence number.
    pub seq: u32,
    /// Whether the member may join.
    pub status: JoinStatus,
    /// Name of the seed.
    pub source: &'a [u8],
    /// The generation the seed knows for the joiner's name (0 when unknown).
    pub known_generation: u64,
    /// The highest incarnation the seed knows for the joiner's name (0 when
    /// unknown; one more when the seed holds it faulty or gone), so a
    /// restarted member resumes above it.
    pub known_incarnation: u32,
    /// How many members the seed knows.
    pub members: u32,
}

/// Shows a byte field as an escaped byte string (`b"node-a"`), which reads
/// well for names and still shows binary payloads exactly.
struct ByteStr<'a>(&'a [u8]);

impl fmt::Debug for ByteStr<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "b\"{}\"", self.0.escape_ascii())
    }
}

/// Implements `Debug` for a message struct, showing `bytes` fields with
/// [`ByteStr`].
macro_rules! debug_with_bytes {
    ($ty:ident { $($field:ident: $how:ident),* }) => {
        impl fmt::Debug for $ty<'_> {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.debug_struct(stringify!($ty))
                    $(.field(stringify!($field), &debug_with_bytes!(@$how self.$field)))*
                    .finish()
            }
        }
    };
    (@bytes $e:expr) => { ByteStr($e) };
    (@plain $e:expr) => { $e };
}

debug_with_bytes!(Ping {
    seq: plain,
    source: bytes,
    target: bytes,
    target_generation: plain,
    target_incarnation: plain
});
debug_with_bytes!(Ack { seq: plain, source: bytes, payload: bytes });
debug_with_bytes!(IndirectPing {
    seq: plain,
    want_nack: plain,
    source: bytes,
    target: bytes,
    target_generation: plain,
    target_incarnation: plain,
    target_addr: plain,
    nack_after_us: plain
});
debug_with_bytes!(IndirectAck { seq: plain, source: bytes, target: bytes });
debug_with_bytes!(Nack { seq: plain, source: bytes, target: bytes });
debug_with_bytes!(Gossip { source: bytes });
debug_with_bytes!(Alive { generation: plain, incarnation: plain, name: bytes, addrs: plain, meta: bytes });
debug_with_bytes!(Suspect { generation: plain, incarnation: plain, name: bytes, by: bytes });
debug_with_bytes!(Faulty { generation: plain, incarnation: plain, name: bytes, by: bytes });
debug_with_bytes!(Left { generation: plain, incarnation: plain, name: bytes });
debug_with_bytes!(UserBroadcast { generation: plain, seq: plain, ttl_ms: plain, origin: bytes, payload: bytes });
debug_with_bytes!(UserMessage { payload: bytes });
debug_with_bytes!(JoinResponse {
    seq: plain,
    status: plain,
    source: bytes,
    known_generation: plain,
    known_incarnation: plain,
    members: plain
});

mod query;
mod state;
mod sync;
pub use query::{QueryBody, QueryFilter, QueryResponse};
pub use state::{AppStateChunk, StateBody};
pub use sync::{MemberRecord, MemberState, Sync, SyncDiff, SyncDigest, SyncFlags};

/// Any message.
///
/// ```
/// use swim_wire::{Kind, Left, Message, Ping};
/// let ping = Message::Ping(Ping { seq: 1, source: b"a", target: b"b", target_generation: 0, target_incarnation: 0 });
/// assert_eq!(ping.kind(), Kind::Ping);
/// assert!(ping.kind().is_primary());
/// let left = Message::Left(Left { generation: 1, incarnation: 2, name: b"c" });
/// assert!(!left.kind().is_primary()); // rides on a primary message
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[allow(missing_docs)] // each variant holds the struct of the same name
pub enum Message<'a> {
    Ping(Ping<'a>),
    Ack(Ack<'a>),
    IndirectPing(IndirectPing<'a>),
    IndirectAck(IndirectAck<'a>),
    Nack(Nack<'a>),
    JoinRequest(JoinRequest<'a>),
    JoinResponse(JoinResponse<'a>),
    Sync(Sync<'a>),
    Gossip(Gossip<'a>),
    Alive(Alive<'a>),
    Suspect(Suspect<'a>),
    Faulty(Faulty<'a>),
    Left(Left<'a>),
    UserBroadcast(UserBroadcast<'a>),
    MemberRecord(MemberRecord<'a>),
    SyncDigest(SyncDigest<'a>),
    SyncDiff(SyncDiff<'a>),
    /// A direct message.
    UserMessage(UserMessage<'a>),
    /// A query, laid out as a user broadcast (its payload is a [`QueryBody`]).
    Query(UserBroadcast<'a>),
    /// An answer to a query, or an acknowledgement.
    QueryResponse(QueryResponse<'a>),
    /// An application state entry, laid out as a user broadcast (its
    /// payload is a [`StateBody`]).
    State(UserBroadcast<'a>),
    /// A piece of a side's application state, in a sync.
    AppState(AppStateChunk<'a>),
}

/// The body layout of one message: how to read, size and write it.
trait Body<'a>: Sized {
    fn read(r: &mut Reader<'a>, opts: &DecodeOptions) -> Step<Self>;
    fn len(&self) -> usize;
    fn write(&self, w: &mut Writer<'_>) -> Step<()>;
}

const fn name_len(name: &[u8]) -> usize {
    1 + name.len()
}

const fn blob_len(blob: &[u8]) -> usize {
    2 + blob.len()
}

impl<'a> Body<'a> for Ping<'a> {
    #[inline(always)]
    fn read(r: &mut Reader<'a>, _: &DecodeOptions) -> Step<Self> {
        Ok(Ping {
            seq: r.u32(Field::Seq)?,
            source: r.name(Field::Source)?,
            target: r.name(Field::Target)?,
            target_generation: r.generation()?,
            target_incarnation: r.u32(Field::TargetIncarnation)?,
        })
    }
    #[inline(always)]
    fn len(&self) -> usize {
        4 + name_len(self.source) + name_len(self.target) + 8 + 4
    }
    #[inline(always)]
    fn write(&self, w: &mut Writer<'_>) -> Step<()> {
        w.u32(self.seq, Field::Seq)?;
        w.name(self.source, Field::Source)?;
        w.name(self.target, Field::Target)?;
        w.generation(self.target_generation)?;
        w.u32(self.target_incarnation, Field::TargetIncarnation)
    }
}

impl<'a> Body<'a> for Ack<'a> {
    #[inline(always)]
    fn read(r: &mut Reader<'a>, opts: &DecodeOptions) -> Step<Self> {
        Ok(Ack {
            seq: r.u32(Field::Seq)?,
            source: r.name(Field::Source)?,
            payload: r.blob(Field::Payload, opts.max_payload)?,
        })
    }
    #[inline(always)]
    fn len(&self) -> usize {
        4 + name_len(self.source) + blob_len(self.payload)
    }
    #[inline(always)]
    fn write(&self, w: &mut Writer<'_>) -> Step<()> {
        w.u32(self.seq, Field::Seq)?;
        w.name(self.source, Field::Source)?;
        w.blob(self.payload, Field::Payload)
    }
}

const WANT_NACK: u8 = 0x01;

impl<'a> Body<'a> for IndirectPing<'a> {
    #[inline(always)]
    fn read(r: &mut Reader<'a>, _: &DecodeOptions) -> Step<Self> {
        let seq = r.u32(Field::Seq)?;
        let flags = r.u8(Field::MessageFlags)?;
        Ok(IndirectPing {
            seq,
            want_nack: flags & WANT_NACK != 0,
            source: r.name(Field::Source)?,
            target: r.name(Field::Target)?,
            target_generation: r.generation()?,
            target_incarnation: r.u32(Field::TargetIncarnation)?,
            target_addr: read_addr(r, Field::TargetAddress)?,
            nack_after_us: r.u32(Field::NackAfter)?,
        })
    }
    #[inline(always)]
    fn len(&self) -> usize {
        4 + 1 + name_len(self.source) + name_len(self.target) + 8 + 4 + addr_len(&self.target_addr) + 4
    }
    #[inline(always)]
    fn write(&self, w: &mut Writer<'_>) -> Step<()> {
        w.u32(self.seq, Field::Seq)?;
        w.u8(if self.want_nack { WANT_NACK } else { 0 }, Field::MessageFlags)?;
        w.name(self.source, Field::Source)?;
        w.name(self.target, Field::Target)?;
        w.generation(self.target_generation)?;
        w.u32(self.target_incarnation, Field::TargetIncarnation)?;
        write_addr(w, &self.target_addr, Field::TargetAddress)?;
        w.u32(self.nack_after_us, Field::NackAfter)
    }
}

/// Indirect acks and nacks share one layout.
macro_rules! helper_reply_body {
    ($ty:ident) => {
        impl<'a> Body<'a> for $ty<'a> {
            #[inline(always)]
            fn read(r: &mut Reader<'a>, _: &DecodeOptions) -> Step<Self> {
                Ok($ty { seq: r.u32(Field::Seq)?, source: r.name(Field::Source)?, target: r.name(Field::Target)? })
            }
            #[inline(always)]
            fn len(&self) -> usize {
                4 + name_len(self.source) + name_len(self.target)
            }
            #[inline(always)]
            fn write(&self, w: &mut Writer<'_>) -> Step<()> {
                w.u32(self.seq, Field::Seq)?;
                w.name(self.source, Field::Source)?;
                w.name(self.target, Field::Target)
            }
        }
    };
}
helper_reply_body!(IndirectAck);
helper_reply_body!(Nack);

impl<'a> Body<'a> for Gossip<'a> {
    #[inline(always)]
    fn read(r: &mut Reader<'a>, _: &DecodeOptions) -> Step<Self> {
        Ok(Gossip { source: r.name(Field::Source)? })
    }
    #[inline(always)]
    fn len(&self) -> usize {
        name_len(self.source)
    }
    #[inline(always)]
    fn write(&self, w: &mut Writer<'_>) -> Step<()> {
        w.name(self.source, Field::Source)
    }
}

impl<'a> Body<'a> for Alive<'a> {
    #[inline(always)]
    fn read(r: &mut Reader<'a>, opts: &DecodeOptions) -> Step<Self> {
        Ok(Alive {
            generation: r.generation()?,
            incarnation: r.u32(Field::Incarnation)?,
            name: r.name(Field::Name)?,
            addrs: Addrs::read(r, Field::Addresses)?,
            meta: r.blob(Field::Metadata, opts.max_metadata)?,
        })
    }
    #[inline(always)]
    fn len(&self) -> usize {
        8 + 4 + name_len(self.name) + self.addrs.encoded_len() + blob_len(self.meta)
    }
    #[inline(always)]
    fn write(&self, w: &mut Writer<'_>) -> Step<()> {
        w.generation(self.generation)?;
        w.u32(self.incarnation, Field::Incarnation)?;
        w.name(self.name, Field::Name)?;
        self.addrs.write(w, Field::Addresses)?;
        w.blob(self.meta, Field::Metadata)
    }
}

/// Suspect and faulty updates share one layout.
macro_rules! accusation_body {
    ($ty:ident) => {
        impl<'a> Body<'a> for $ty<'a> {
            #[inline(always)]
            fn read(r: &mut Reader<'a>, _: &DecodeOptions) -> Step<Self> {
                Ok($ty {
                    generation: r.generation()?,
                    incarnation: r.u32(Field::Incarnation)?,
                    name: r.name(Field::Name)?,
                    by: r.name(Field::By)?,
                })
            }
            #[inline(always)]
            fn len(&self) -> usize {
                8 + 4 + name_len(self.name) + name_len(self.by)
            }
            #[inline(always)]
            fn write(&self, w: &mut Writer<'_>) -> Step<()> {
                w.generation(self.generation)?;
                w.u32(self.incarnation, Field::Incarnation)?;
                w.name(self.name, Field::Name)?;
                w.name(self.by, Field::By)
            }
        }
    };
}
accusation_body!(Suspect);
accusation_body!(Faulty);

impl<'a> Body<'a> for Left<'a> {
    #[inline(always)]
    fn read(r: &mut Reader<'a>, _: &DecodeOptions) -> Step<Self> {
        Ok(Left { generation: r.generation()?, incarnation: r.u32(Field::Incarnation)?, name: r.name(Field::Name)? })
    }
    #[inline(always)]
    fn len(&self) -> usize {
        8 + 4 + name_len(self.name)
    }
    #[inline(always)]
    fn write(&self, w: &mut Writer<'_>) -> Step<()> {
        w.generation(self.generation)?;
        w.u32(self.incarnation, Field::Incarnation)?;
        w.name(self.name, Field::Name)
    }
}

impl<'a> Body<'a> for UserBroadcast<'a> {
    #[inline(always)]
    fn read(r: &mut Reader<'a>, opts: &DecodeOptions) -> Step<Self> {
        Ok(UserBroadcast {
            generation: r.generation()?,
            seq: r.u32(Field::Seq)?,
            ttl_ms: r.u32(Field::TimeToLive)?,
            origin: r.name(Field::Source)?,
            payload: r.blob(Field::Payload, opts.max_payload)?,
        })
    }
    #[inline(always)]
    fn len(&self) -> usize {
        8 + 4 + 4 + name_len(self.origin) + blob_len(self.payload)
    }
    #[inline(always)]
    fn write(&self, w: &mut Writer<'_>) -> Step<()> {
        w.generation(self.generation)?;
        w.u32(self.seq, Field::Seq)?;
        w.u32(self.ttl_ms, Field::TimeToLive)?;
        w.name(self.origin, Field::Source)?;
        w.blob(self.payload, Field::Payload)
    }
}

impl<'a> Body<'a> for UserMessage<'a> {
    #[inline(always)]
    fn read(r: &mut Reader<'a>, _: &DecodeOptions) -> Step<Self> {
        Ok(UserMessage { payload: r.blob(Field::Payload, usize::from(u16::MAX))? })
    }
    #[inline(always)]
    fn len(&self) -> usize {
        blob_len(self.payload)
    }
    #[inline(always)]
    fn write(&self, w: &mut Writer<'_>) -> Step<()> {
        w.blob(self.payload, Field::Payload)
    }
}

impl<'a> Body<'a> for JoinRequest<'a> {
    #[inline(always)]
    fn read(r: &mut Reader<'a>, opts: &DecodeOptions) -> Step<Self> {
        Ok(JoinRequest { seq: r.u32(Field::Seq)?, member: Alive::read(r, opts)? })
    }
    #[inline(always)]
    fn len(&self) -> usize {
        4 + self.member.len()
    }
    #[inline(always)]
    fn write(&self, w: &mut Writer<'_>) -> Step<()> {
        w.u32(self.seq, Field::Seq)?;
        self.member.write(w)
    }
}

impl<'a> Body<'a> for JoinResponse<'a> {
    #[inline(always)]
    fn read(r: &mut Reader<'a>, _: &DecodeOptions) -> Step<Self> {
        Ok(JoinResponse {
            seq: r.u32(Field::Seq)?,
            status: JoinStatus::from_u8(r.u8(Field::Status)?),
            source: r.name(Field::Source)?,
            known_generation: r.generation()?,
            known_incarnation: r.u32(Field::Incarnation)?,
            members: r.u32(Field::Count)?,
        })
    }
    #[inline(always)]
    fn len(&self) -> usize {
        4 + 1 + name_len(self.source) + 8 + 4 + 4
    }
    #[inline(always)]
    fn write(&self, w: &mut Writer<'_>) -> Step<()> {
        w.u32(self.seq, Field::Seq)?;
        w.u8(self.status.to_u8(), Field::Status)?;
        w.name(self.source, Field::Source)?;
        w.generation(self.known_generation)?;
        w.u32(self.known_incarnation, Field::Incarnation)?;
        w.u32(self.members, Field::Count)
    }
}

/// Runs `$body` with `$m` bound to the struct inside any [`Message`].
macro_rules! each_message {
    ($msg:expr, $m:ident => $body:expr) => {
        match $msg {
            Message::Ping($m) => $body,
            Message::Ack($m) => $body,
            Message::IndirectPing($m) => $body,
            Message::IndirectAck($m) => $body,
            Message::Nack($m) => $body,
            Message::JoinRequest($m) => $body,
            Message::JoinResponse($m) => $body,
            Message::Sync($m) => $body,
            Message::Gossip($m) => $body,
            Message::Alive($m) => $body,
            Message::Suspect($m) => $body,
            Message::Faulty($m) => $body,
            Message::Left($m) => $body,
            Message::UserBroadcast($m) => $body,
            Message::MemberRecord($m) => $body,
            Message::SyncDigest($m) => $body,
            Message::SyncDiff($m) => $body,
            Message::UserMessage($m) => $body,
            Message::Query($m) => $body,
            Message::QueryResponse($m) => $body,
            Message::State($m) => $body,
            Message::AppState($m) => $body,
        }
    };
}

impl<'a> Message<'a> {
    /// The message's kind.
    pub const fn kind(&self) -> Kind {
        match self {
            Message::Ping(_) => Kind::Ping,
            Message::Ack(_) => Kind::Ack,
            Message::IndirectPing(_) => Kind::IndirectPing,
            Message::IndirectAck(_) => Kind::IndirectAck,
            Message::Nack(_) => Kind::Nack,
            Message::JoinRequest(_) => Kind::JoinRequest,
            Message::JoinResponse(_) => Kind::JoinResponse,
            Message::Sync(_) => Kind::Sync,
            Message::Gossip(_) => Kind::Gossip,
            Message::Alive(_) => Kind::Alive,
            Message::Suspect(_) => Kind::Suspect,
            Message::Faulty(_) => Kind::Faulty,
            Message::Left(_) => Kind::Left,
            Message::UserBroadcast(_) => Kind::UserBroadcast,
            Message::MemberRecord(_) => Kind::MemberRecord,
            Message::SyncDigest(_) => Kind::SyncDigest,
            Message::SyncDiff(_) => Kind::SyncDiff,
            Message::UserMessage(_) => Kind::UserMessage,
            Message::Query(_) => Kind::Query,
            Message::QueryResponse(_) => Kind::QueryResponse,
            Message::State(_) => Kind::State,
            Message::AppState(_) => Kind::AppState,
        }
    }

    /// Bytes the message takes on the wire, item header included.
    ///
    /// ```
    /// use swim_wire::{Message, Left};
    /// let left = Message::Left(Left { generation: 1, incarnation: 3, name: b"node-a" });
    /// assert_eq!(left.encoded_len(), 3 + 8 + 4 + 1 + 6);
    /// ```
    #[inline]
    pub fn encoded_len(&self) -> usize {
        ITEM_HEADER_LEN + self.body_len()
    }

    #[inline]
    fn body_len(&self) -> usize {
        each_message!(self, m => m.len())
    }

    /// Decodes one item body of kind `kind`; `Ok(None)` for a kind this
    /// version does not know. `base` is the body's offset in the packet.
    #[inline(always)]
    pub(crate) fn decode(kind: u8, body: &'a [u8], base: usize, opts: &DecodeOptions) -> Result<Option<Self>> {
        let Some(kind) = Kind::from_u8(kind) else { return Ok(None) };
        let r = &mut Reader::new(body, base, Some(kind));
        let step = Self::read(kind, r, opts);
        // Bytes after the known fields belong to a newer version: skipped.
        r.finish(step).map(Some)
    }

    #[inline(always)]
    fn read(kind: Kind, r: &mut Reader<'a>, opts: &DecodeOptions) -> Step<Self> {
        Ok(match kind {
            Kind::Ping => Message::Ping(Body::read(r, opts)?),
            Kind::Ack => Message::Ack(Body::read(r, opts)?),
            Kind::IndirectPing => Message::IndirectPing(Body::read(r, opts)?),
            Kind::IndirectAck => Message::IndirectAck(Body::read(r, opts)?),
            Kind::Nack => Message::Nack(Body::read(r, opts)?),
            Kind::JoinRequest => Message::JoinRequest(Body::read(r, opts)?),
            Kind::JoinResponse => Message::JoinResponse(Body::read(r, opts)?),
            Kind::Sync => Message::Sync(Body::read(r, opts)?),
            Kind::Gossip => Message::Gossip(Body::read(r, opts)?),
            Kind::Alive => Message::Alive(Body::read(r, opts)?),
            Kind::Suspect => Message::Suspect(Body::read(r, opts)?),
            Kind::Faulty => Message::Faulty(Body::read(r, opts)?),
            Kind::Left => Message::Left(Body::read(r, opts)?),
            Kind::UserBroadcast => Message::UserBroadcast(Body::read(r, opts)?),
            Kind::MemberRecord => Message::MemberRecord(Body::read(r, opts)?),
            Kind::SyncDigest => Message::SyncDigest(Body::read(r, opts)?),
            Kind::SyncDiff => Message::SyncDiff(Body::read(r, opts)?),
            Kind::UserMessage => Message::UserMessage(Body::read(r, opts)?),
            Kind::Query => Message::Query(Body::read(r, opts)?),
            Kind::QueryResponse => Message::QueryResponse(Body::read(r, opts)?),
            Kind::State => Message::State(Body::read(r, opts)?),
            Kind::AppState => Message::AppState(Body::read(r, opts)?),
        })
    }

    /// Writes the whole item. On error the writer's position is unchanged
    /// (bytes past it may have been scribbled on).
    #[inline]
    pub(crate) fn encode(&self, w: &mut Writer<'_>) -> Result<()> {
        let kind = self.kind();
        let start = w.pos();
        let step = self.write(kind, w);
        if step.is_err() {
            w.truncate(start);
        }
        w.finish(step).map_err(|e| e.in_message(kind))
    }

    #[inline(always)]
    fn write(&self, kind: Kind, w: &mut Writer<'_>) -> Step<()> {
        let body_len = self.body_len();
        let Ok(len) = u16::try_from(body_len) else {
            let limit = usize::from(u16::MAX);
            return Err(w.fail(ErrorKind::TooLarge { len: body_len, limit }, Field::MessageLength));
        };
        w.reserve(ITEM_HEADER_LEN + body_len, Field::Packet)?;
        w.u8(kind as u8, Field::MessageKind)?;
        w.u16(len, Field::MessageLength)?;
        each_message!(self, m => m.write(w))
    }
}

#[cfg(test)]
pub(crate) mod tests;
