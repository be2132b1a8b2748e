//! The one error type of the codec: what failed, in which message, in which
//! field, at which byte offset.

use core::fmt;

use crate::message::Kind;

/// A named part of a packet, used to say where an error happened.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum Field {
    /// The packet's magic bytes.
    Magic,
    /// The protocol version byte.
    Version,
    /// The header flags byte.
    Flags,
    /// The header length byte.
    HeaderLength,
    /// The key id of an encrypted packet.
    KeyId,
    /// The cluster label.
    Label,
    /// The kind byte of a message.
    MessageKind,
    /// The length of a message body.
    MessageLength,
    /// A sequence number.
    Seq,
    /// The name of the member that sent a message.
    Source,
    /// The name of the member a probe is about.
    Target,
    /// The incarnation of the target of a probe.
    TargetIncarnation,
    /// The address of the target of an indirect probe.
    TargetAddress,
    /// The name of the member an update is about.
    Name,
    /// An incarnation number.
    Incarnation,
    /// A member's process generation.
    Generation,
    /// When a helper should send its nack.
    NackAfter,
    /// How much longer a broadcast lives.
    TimeToLive,
    /// The list of a member's addresses.
    Addresses,
    /// Member metadata.
    Metadata,
    /// The name of the member that suspected or declared another faulty.
    By,
    /// An application payload.
    Payload,
    /// Per-message flags.
    MessageFlags,
    /// A member's state in a sync record.
    State,
    /// The status of a join response.
    Status,
    /// A count of members or records.
    Count,
    /// A chunk index of a sync exchange.
    Chunk,
    /// The length prefix of a stream frame.
    FrameLength,
    /// The salt of a sync digest.
    Key,
    /// A bucket count or index of a sync digest.
    Buckets,
    /// The values or bits of a sync digest.
    Digest,
    /// The whole packet (used when no single field is at fault).
    Packet,
}

impl fmt::Display for Field {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

impl Field {
    /// The field's name as written in error messages.
    pub const fn name(self) -> &'static str {
        match self {
            Field::Magic => "magic",
            Field::Version => "version",
            Field::Flags => "flags",
            Field::HeaderLength => "header length",
            Field::KeyId => "key id",
            Field::Label => "label",
            Field::MessageKind => "message kind",
            Field::MessageLength => "message length",
            Field::Seq => "sequence number",
            Field::Source => "source",
            Field::Target => "target",
            Field::TargetIncarnation => "target incarnation",
            Field::TargetAddress => "target address",
            Field::Name => "name",
            Field::Incarnation => "incarnation",
            Field::Generation => "generation",
            Field::NackAfter => "nack after",
            Field::TimeToLive => "time to live",
            Field::Addresses => "addresses",
            Field::Metadata => "metadata",
            Field::By => "by",
            Field::Payload => "payload",
            Field::MessageFlags => "message flags",
            Field::State => "state",
            Field::Status => "status",
            Field::Count => "count",
            Field::Chunk => "chunk",
            Field::FrameLength => "frame length",
            Field::Key => "digest key",
            Field::Buckets => "digest buckets",
            Field::Digest => "digest values",
            Field::Packet => "packet",
        }
    }
}

/// What went wrong.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum ErrorKind {
    /// The input ended before the field did.
    Truncated {
        /// Bytes the field needs.
        needed: usize,
        /// Bytes that were left.
        available: usize,
    },
    /// The packet does not start with [`MAGIC`](crate::MAGIC).
    BadMagic,
    /// The protocol version is outside the accepted range.
    UnsupportedVersion {
        /// The version the packet carries.
        version: u8,
        /// The lowest version accepted.
        min: u8,
        /// The highest version accepted.
        max: u8,
    },
    /// The packet sets flags this decoder must understand but does not.
    UnknownRequiredFlags(u8),
    /// The packet is encrypted and must be opened with the cluster's keyring
    /// before it can be parsed.
    Encrypted,
    /// No installed key has this id.
    UnknownKey(u32),
    /// The packet failed authentication: forged, corrupted, or sealed with
    /// another key of the same id.
    BadSeal,
    /// An encrypted packet was expected.
    NotEncrypted,
    /// The header length is shorter than the fields the flags announce.
    BadHeaderLength(u8),
    /// A name is empty.
    EmptyName,
    /// A name is longer than [`MAX_NAME_LEN`](crate::MAX_NAME_LEN).
    NameTooLong(usize),
    /// A length exceeds the configured limit.
    TooLarge {
        /// The length found or requested.
        len: usize,
        /// The limit in force.
        limit: usize,
    },
    /// An address family byte is neither 4 nor 6.
    BadAddressFamily(u8),
    /// A member record or alive update has no address.
    NoAddresses,
    /// A field holds a value outside its domain (for example an unknown
    /// member state).
    BadValue(u32),
    /// A generation above [`MAX_GENERATION`](crate::MAX_GENERATION).
    BadGeneration(u64),
    /// The first message is not one that can stand first in a packet.
    MissingPrimary,
    /// The first message is of a kind this decoder does not know.
    UnknownPrimary(u8),
    /// A message appears where it may not (for example a second primary
    /// message, or a member record outside a sync packet).
    Misplaced,
    /// The encoder's buffer or byte budget has no room for the message; the
    /// packet written so far is unchanged.
    NoRoom {
        /// Bytes the message needs.
        needed: usize,
        /// Bytes left under the budget.
        remaining: usize,
    },
    /// The operating system's random source failed while drawing a nonce
    /// epoch; nothing was sealed.
    NoRandomness,
}

/// An error from decoding or encoding: what failed and where.
///
/// Decoding errors are always the sender's fault (a malformed, truncated or
/// foreign packet); encoding errors are the caller's (a value out of range or
/// a full buffer). Neither ever leaves partial state behind: a failed decode
/// returns nothing, and a failed encode leaves the packet as it was.
///
/// ```
/// use swim_wire::{Packet, DecodeOptions, ErrorKind, Field};
/// let err = Packet::parse(b"XX\x01", &DecodeOptions::default()).unwrap_err();
/// assert_eq!(err.kind(), ErrorKind::BadMagic);
/// assert_eq!(err.field(), Field::Magic);
/// assert_eq!(err.offset(), 0);
/// assert_eq!(err.to_string(), "bad magic in field `magic` at byte 0");
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Error {
    kind: ErrorKind,
    message: Option<Kind>,
    field: Field,
    offset: usize,
}

impl Error {
    pub(crate) const fn new(kind: ErrorKind, message: Option<Kind>, field: Field, offset: usize) -> Self {
        Error { kind, message, field, offset }
    }

    /// The same error, said to be inside `message`.
    pub(crate) const fn in_message(mut self, message: Kind) -> Self {
        self.message = Some(message);
        self
    }

    /// What went wrong.
    pub const fn kind(&self) -> ErrorKind {
        self.kind
    }

    /// The message being decoded or encoded, if the error is inside one.
    pub const fn message(&self) -> Option<Kind> {
        self.message
    }

    /// The field at fault.
    pub const fn field(&self) -> Field {
        self.field
    }

    /// The byte offset of the field from the start of the packet (or stream
    /// frame) being decoded or encoded.
    pub const fn offset(&self) -> usize {
        self.offset
    }

    /// Whether this is an encoder's "does not fit" error, which callers
    /// usually handle by sending what fits and keeping the rest for later.
    pub const fn is_no_room(&self) -> bool {
        matches!(self.kind, ErrorKind::NoRoom { .. })
    }
}

impl fmt::Display for ErrorKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match *self {
            ErrorKind::Truncated { needed, available } => {
                write!(f, "truncated ({needed} bytes needed, {available} available)")
            }
            ErrorKind::BadMagic => f.write_str("bad magic"),
            ErrorKind::UnsupportedVersion { version, min, max } => {
                write!(f, "unsupported protocol version {version} (accepted {min}..={max})")
            }
            ErrorKind::UnknownRequiredFlags(bits) => write!(f, "unknown required flags {bits:#04x}"),
            ErrorKind::Encrypted => f.write_str("packet is encrypted"),
            ErrorKind::UnknownKey(id) => write!(f, "no key {id:08x}"),
            ErrorKind::BadSeal => f.write_str("packet failed authentication"),
            ErrorKind::NotEncrypted => f.write_str("packet is not encrypted"),
            ErrorKind::BadHeaderLength(len) => write!(f, "header length {len} too short for its flags"),
            ErrorKind::EmptyName => f.write_str("empty name"),
            ErrorKind::NameTooLong(len) => {
                write!(f, "name of {len} bytes (at most {})", crate::MAX_NAME_LEN)
            }
            ErrorKind::TooLarge { len, limit } => write!(f, "{len} bytes exceed the limit of {limit}"),
            ErrorKind::BadAddressFamily(family) => write!(f, "unknown address family {family}"),
            ErrorKind::NoAddresses => f.write_str("no address"),
            ErrorKind::BadValue(value) => write!(f, "invalid value {value}"),
            ErrorKind::BadGeneration(value) => {
                write!(f, "generation {value} above the largest, {}", crate::MAX_GENERATION)
            }
            ErrorKind::MissingPrimary => f.write_str("packet does not start with a primary message"),
            ErrorKind::UnknownPrimary(kind) => write!(f, "unknown primary message kind {kind:#04x}"),
            ErrorKind::Misplaced => f.write_str("message not allowed in this position"),
            ErrorKind::NoRoom { needed, remaining } => {
                write!(f, "no room ({needed} bytes needed, {remaining} left under the budget)")
            }
            ErrorKind::NoRandomness => f.write_str("the operating system's random source failed"),
        }
    }
}

impl fmt::Display for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} in field `{}`", self.kind, self.field.name())?;
        if let Some(kind) = self.message {
            write!(f, " of {}", kind.name())?;
        }
        write!(f, " at byte {}", self.offset)
    }
}

impl std::error::Error for Error {}

/// The codec's result type.
pub type Result<T> = core::result::Result<T, Error>;
