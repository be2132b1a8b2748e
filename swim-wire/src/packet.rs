//! Packets: a header, one primary message, and piggybacked messages.
//!
//! ```text
//! 0      2         3       4            5
//! +------+---------+-------+------------+-------------------+---------------------+
//! | "SW" | version | flags | header len | [key id u32]      | [label len, label]  | ... extension
//! +------+---------+-------+------------+-------------------+---------------------+
//! | primary message item | piggybacked item | piggybacked item | ...
//! ```
//!
//! The header length counts every header byte, so a newer version may append
//! header fields that an older decoder skips. Flag bits `0x3f` must be
//! understood; bits `0xc0` may be ignored.

use core::fmt;

use crate::cursor::{Reader, Step, Writer};
use crate::error::{Error, ErrorKind, Field, Result};
use crate::message::{ITEM_HEADER_LEN, Kind, Message};

/// The first two bytes of every packet.
pub const MAGIC: [u8; 2] = *b"SW";
/// The protocol version this crate writes by default.
pub const PROTOCOL_VERSION: u8 = 2;
/// The oldest protocol version this crate can read.
pub const MIN_PROTOCOL_VERSION: u8 = 2;
/// The longest member name, in bytes.
pub const MAX_NAME_LEN: usize = 255;
/// The largest process generation a packet may carry: `2⁶² − 1`.
///
/// Generations are drawn from the wall clock in microseconds (about `2⁵¹`
/// today), so the bound leaves room for centuries of restarts while keeping
/// the top of the range out of reach: a version can always be followed by
/// a newer one, which a generation of `u64::MAX` could not.
pub const MAX_GENERATION: u64 = (1 << 62) - 1;
/// The longest cluster label, in bytes.
pub const MAX_LABEL_LEN: usize = 128;
/// The default byte budget of one datagram.
pub const DEFAULT_BUDGET: usize = 1400;
/// The default metadata limit, in bytes.
pub const DEFAULT_MAX_METADATA: usize = 512;

/// Byte offsets of the fixed header fields.
pub mod field {
    use core::ops::Range;
    /// Magic bytes.
    pub const MAGIC: Range<usize> = 0..2;
    /// Protocol version.
    pub const VERSION: usize = 2;
    /// Flags.
    pub const FLAGS: usize = 3;
    /// Length of the whole header.
    pub const HEADER_LEN: usize = 4;
    /// First optional field.
    pub const OPTIONAL: usize = 5;
}

/// Header flag bits.
pub mod flags {
    /// The body is sealed with an AEAD.
    pub const ENCRYPTED: u8 = 0x01;
    /// A key id (u32) follows the fixed header.
    pub const KEY_ID: u8 = 0x02;
    /// A cluster label follows (after the key id, if any).
    pub const LABEL: u8 = 0x04;
    /// The sealed body is bound to no particular receiver (a join request to
    /// a seed whose name the sender does not know); without it, a sealed
    /// body is bound to its receiver's name.
    pub const ANY_RECEIVER: u8 = 0x08;
    /// Bits a decoder must understand to read the packet (the others,
    /// `0xc0`, are hints it may ignore).
    pub const REQUIRED: u8 = 0x3f;
    /// Required bits this version understands.
    pub const KNOWN: u8 = ENCRYPTED | KEY_ID | LABEL | ANY_RECEIVER;
}

/// The item kind of padding (see [`PacketWriter::pad_to`]): reserved, never
/// a message, skipped by every decoder as an unknown piggybacked kind.
pub const PADDING_KIND: u8 = 0x7f;

/// The packet header.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Header<'a> {
    /// Protocol version.
    pub version: u8,
    /// Whether the body is encrypted.
    pub encrypted: bool,
    /// Id of the key that sealed the body.
    pub key_id: Option<u32>,
    /// Cluster label (empty for none); packets of other clusters are refused.
    pub label: &'a [u8],
    /// A sealed body bound to no particular receiver (see
    /// [`flags::ANY_RECEIVER`]); only join requests may be sent so.
    pub any_receiver: bool,
}

impl Default for Header<'_> {
    fn default() -> Self {
        Header { version: PROTOCOL_VERSION, encrypted: false, key_id: None, label: &[], any_receiver: false }
    }
}

impl<'a> Header<'a> {
    /// Bytes the header takes on the wire.
    pub fn encoded_len(&self) -> usize {
        field::OPTIONAL
            + if self.key_id.is_some() { 4 } else { 0 }
            + if self.label.is_empty() { 0 } else { 1 + self.label.len() }
    }

    /// Reads a header and returns it with the offset of the body.
    ///
    /// ```
    /// use swim_wire::{Header, DecodeOptions};
    /// let (header, body_at) = Header::parse(b"SW\x02\x00\x05", &DecodeOptions::default()).unwrap();
    /// assert_eq!(header, Header::default());
    /// assert_eq!(body_at, 5);
    /// ```
    pub fn parse(buf: &'a [u8], opts: &DecodeOptions) -> Result<(Self, usize)> {
        let r = &mut Reader::new(buf, 0, None);
        let step = Self::read(r, opts);
        r.finish(step)
    }

    fn read(r: &mut Reader<'a>, opts: &DecodeOptions) -> Step<(Self, usize)> {
        if r.array::<2>(Field::Magic)? != MAGIC {
            return Err(r.fail_at(ErrorKind::BadMagic, Field::Magic, field::MAGIC.start));
        }
        let version = r.u8(Field::Version)?;
        if version < opts.min_version || version > opts.max_version {
            let kind = ErrorKind::UnsupportedVersion { version, min: opts.min_version, max: opts.max_version };
            return Err(r.fail_at(kind, Field::Version, field::VERSION));
        }
        let bits = r.u8(Field::Flags)?;
        let unknown = bits & flags::REQUIRED & !flags::KNOWN;
        if unknown != 0 {
            return Err(r.fail_at(ErrorKind::UnknownRequiredFlags(unknown), Field::Flags, field::FLAGS));
        }
        let header_len = r.u8(Field::HeaderLength)?;
        let mut header = Header {
            version,
            encrypted: bits & flags::ENCRYPTED != 0,
            key_id: None,
            label: &[],
            any_receiver: bits & flags::ANY_RECEIVER != 0,
        };
        if bits & flags::KEY_ID != 0 {
            header.key_id = Some(r.u32(Field::KeyId)?);
        }
        if bits & flags::LABEL != 0 {
            let at = r.offset();
            let label = r.name(Field::Label)?;
            // A label the writer would refuse is refused here too, so whatever
            // decodes can be written back.
            if label.len() > MAX_LABEL_LEN {
                let kind = ErrorKind::TooLarge { len: label.len(), limit: MAX_LABEL_LEN };
                return Err(r.fail_at(kind, Field::Label, at));
            }
            header.label = label;
        }
        let end = usize::from(header_len);
        let Some(extension) = end.checked_sub(r.offset()) else {
            return Err(r.fail_at(ErrorKind::BadHeaderLength(header_len), Field::HeaderLength, field::HEADER_LEN));
        };
        // Skip header extensions of newer versions.
        r.bytes(extension, Field::HeaderLength)?;
        Ok((header, end))
    }

    pub(crate) fn write(&self, w: &mut Writer<'_>) -> Step<()> {
        if self.label.len() > MAX_LABEL_LEN {
            return Err(w.fail(ErrorKind::TooLarge { len: self.label.len(), limit: MAX_LABEL_LEN }, Field::Label));
        }
        let len = self.encoded_len();
        w.reserve(len, Field::Packet)?;
        let mut bits = 0;
        if self.encrypted {
            bits |= flags::ENCRYPTED;
        }
        if self.key_id.is_some() {
            bits |= flags::KEY_ID;
        }
        if !self.label.is_empty() {
            bits |= flags::LABEL;
        }
        if self.any_receiver {
            bits |= flags::ANY_RECEIVER;
        }
        w.bytes(&MAGIC, Field::Magic)?;
        w.u8(self.version, Field::Version)?;
        w.u8(bits, Field::Flags)?;
        // `len <= 5 + 4 + 1 + MAX_LABEL_LEN`, checked above, fits a byte.
        w.u8(u8::try_from(len).unwrap_or(u8::MAX), Field::HeaderLength)?;
        if let Some(id) = self.key_id {
            w.u32(id, Field::KeyId)?;
        }
        if !self.label.is_empty() {
            w.name(self.label, Field::Label)?;
        }
        Ok(())
    }
}

/// What a decoder accepts.
///
/// ```
/// use swim_wire::{DecodeOptions, PROTOCOL_VERSION};
/// // During a rolling upgrade, accept the next version too.
/// let opts = DecodeOptions { max_version: PROTOCOL_VERSION + 1, max_metadata: 1024, ..DecodeOptions::default() };
/// assert_eq!(opts.min_version, 2);
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct DecodeOptions {
    /// Oldest protocol version accepted.
    pub min_version: u8,
    /// Newest protocol version accepted.
    pub max_version: u8,
    /// Largest metadata accepted, in bytes.
    pub max_metadata: usize,
    /// Largest ack or broadcast payload accepted, in bytes.
    pub max_payload: usize,
}

impl Default for DecodeOptions {
    fn default() -> Self {
        DecodeOptions {
            min_version: MIN_PROTOCOL_VERSION,
            max_version: PROTOCOL_VERSION,
            max_metadata: DEFAULT_MAX_METADATA,
            max_payload: usize::from(u16::MAX),
        }
    }
}

/// A validated packet borrowed from a receive buffer.
///
/// [`Packet::parse`] checks every length and field once; afterwards the
/// accessors and the [`Piggyback`] iterator cannot fail or panic.
///
/// ```
/// use swim_wire::*;
/// let mut buf = [0u8; DEFAULT_BUDGET];
/// let mut w = PacketWriter::new(&mut buf, &Header::default(), DEFAULT_BUDGET).unwrap();
/// w.push(&Message::Ping(Ping { seq: 7, source: b"a", target: b"b", target_generation: 0, target_incarnation: 0 })).unwrap();
/// w.push(&Message::Left(Left { generation: 1, incarnation: 2, name: b"c" })).unwrap();
/// let len = w.finish().unwrap();
///
/// let packet = Packet::parse(&buf[..len], &DecodeOptions::default()).unwrap();
/// let Message::Ping(ping) = packet.primary() else { panic!("not a ping") };
/// assert_eq!(ping.seq, 7);
/// assert_eq!(packet.piggyback().count(), 1);
/// ```
#[derive(Clone, Copy)]
pub struct Packet<'a> {
    header: Header<'a>,
    primary: Message<'a>,
    /// Items after the primary message.
    rest: &'a [u8],
    rest_offset: usize,
    opts: DecodeOptions,
}

impl<'a> Packet<'a> {
    /// Validates a whole packet.
    pub fn parse(buf: &'a [u8], opts: &DecodeOptions) -> Result<Self> {
        let (header, body_at) = Header::parse(buf, opts)?;
        if header.encrypted {
            return Err(Error::new(ErrorKind::Encrypted, None, Field::Flags, field::FLAGS));
        }
        let body = buf.get(body_at..).unwrap_or_default();
        let mut items = Items { rest: body, offset: body_at };
        let Some(first) = items.next_item()? else {
            return Err(Error::new(ErrorKind::MissingPrimary, None, Field::MessageKind, body_at));
        };
        if !Kind::is_primary_byte(first.kind) {
            return Err(Error::new(ErrorKind::MissingPrimary, None, Field::MessageKind, first.at));
        }
        let Some(primary) = Message::decode(first.kind, first.body, first.body_at(), opts)? else {
            return Err(Error::new(ErrorKind::UnknownPrimary(first.kind), None, Field::MessageKind, first.at));
        };
        let (rest, rest_offset) = (items.rest, items.offset);
        let records_allowed = primary.kind() == Kind::Sync;
        while let Some(item) = items.next_item()? {
            let sync_only = Kind::from_u8(item.kind).is_some_and(Kind::is_sync_only);
            let misplaced = Kind::is_primary_byte(item.kind) || (sync_only && !records_allowed);
            if misplaced {
                let kind = Kind::from_u8(item.kind);
                return Err(Error::new(ErrorKind::Misplaced, kind, Field::MessageKind, item.at));
            }
            Message::decode(item.kind, item.body, item.body_at(), opts)?;
        }
        Ok(Packet { header, primary, rest, rest_offset, opts: *opts })
    }

    /// The header.
    pub fn header(&self) -> &Header<'a> {
        &self.header
    }

    /// The primary message.
    pub fn primary(&self) -> Message<'a> {
        self.primary
    }

    /// The piggybacked messages, in order; items of unknown kinds are
    /// skipped.
    pub fn piggyback(&self) -> Piggyback<'a> {
        Piggyback { items: Items { rest: self.rest, offset: self.rest_offset }, opts: self.opts }
    }

    /// Writes the packet (header, primary, known piggybacked messages) into
    /// `buf` and returns its length: the canonical form of what was parsed.
    pub fn encode(&self, buf: &mut [u8]) -> Result<usize> {
        let mut w = PacketWriter::new(buf, &self.header, usize::MAX)?;
        w.push(&self.primary)?;
        for message in self.piggyback() {
            w.push(&message)?;
        }
        w.finish()
    }
}

impl PartialEq for Packet<'_> {
    fn eq(&self, other: &Self) -> bool {
        self.header == other.header && self.primary == other.primary && self.piggyback().eq(other.piggyback())
    }
}

impl Eq for Packet<'_> {}

impl fmt::Debug for Packet<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Packet")
            .field("header", &self.header)
            .field("primary", &self.primary)
            .field("piggyback", &DebugIter(self.piggyback()))
            .finish()
    }
}

struct DebugIter<'a>(Piggyback<'a>);

impl fmt::Debug for DebugIter<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_list().entries(self.0.clone()).finish()
    }
}

/// One raw item: kind byte and body.
struct Item<'a> {
    kind: u8,
    body: &'a [u8],
    /// Offset of the kind byte.
    at: usize,
}

impl Item<'_> {
    fn body_at(&self) -> usize {
        self.at + ITEM_HEADER_LEN
    }
}

/// Splits a body into items, checking each length.
#[derive(Clone)]
struct Items<'a> {
    rest: &'a [u8],
    offset: usize,
}

impl<'a> Items<'a> {
    #[inline(always)]
    fn next_item(&mut self) -> Result<Option<Item<'a>>> {
        if self.rest.is_empty() {
            return Ok(None);
        }
        let at = self.offset;
        let r = &mut Reader::new(self.rest, at, None);
        let step = Self::read(r);
        let (kind, body) = match r.finish(step) {
            Ok(item) => item,
            Err(e) => {
                let kind = self.rest.first().copied().and_then(Kind::from_u8);
                return Err(Error::new(e.kind(), kind, e.field(), e.offset()));
            }
        };
        self.offset = r.offset();
        self.rest = r.rest();
        Ok(Some(Item { kind, body, at }))
    }

    #[inline]
    fn read(r: &mut Reader<'a>) -> Step<(u8, &'a [u8])> {
        let kind = r.u8(Field::MessageKind)?;
        let at = r.offset();
        let len = usize::from(r.u16(Field::MessageLength)?);
        match r.bytes(len, Field::MessageLength) {
            Ok(body) => Ok((kind, body)),
            // Report a short body at its length field.
            Err(_) => Err(r.fail_at(r.error().kind(), Field::MessageLength, at)),
        }
    }
}

/// Iterator over the piggybacked messages of a validated [`Packet`].
#[derive(Clone)]
pub struct Piggyback<'a> {
    items: Items<'a>,
    opts: DecodeOptions,
}

impl<'a> Iterator for Piggyback<'a> {
    type Item = Message<'a>;

    #[inline]
    fn next(&mut self) -> Option<Message<'a>> {
        loop {
            // Everything was validated by `Packet::parse`, so errors cannot
            // happen here; if one did, iteration would simply end.
            let item = self.items.next_item().ok()??;
            if let Some(message) = Message::decode(item.kind, item.body, item.body_at(), &self.opts).ok()? {
                return Some(message);
            }
        }
    }
}

/// Writes a packet into a caller-owned buffer, up to a byte budget.
///
/// The first message pushed must be a primary one; every later message is
/// piggybacked. A message that does not fit is refused with
/// [`ErrorKind::NoRoom`] and leaves the packet as it was, so the caller can
/// try a smaller one or stop.
///
/// ```
/// use swim_wire::*;
/// let mut buf = [0u8; 64];
/// let mut w = PacketWriter::new(&mut buf, &Header::default(), 40).unwrap();
/// w.push(&Message::Ack(Ack { seq: 1, source: b"node-a", payload: &[] })).unwrap();
/// let big = Message::UserBroadcast(UserBroadcast { generation: 1, seq: 1, ttl_ms: 10_000, origin: b"node-a", payload: &[0; 64] });
/// let err = w.push(&big).unwrap_err();
/// assert!(err.is_no_room());
/// assert_eq!(err.message(), Some(Kind::UserBroadcast));
/// let len = w.finish().unwrap();
/// assert_eq!(len, 5 + 3 + 4 + 7 + 2);
/// ```
pub struct PacketWriter<'b> {
    w: Writer<'b>,
    primary: Option<Kind>,
}

impl fmt::Debug for PacketWriter<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("PacketWriter")
            .field("len", &self.len())
            .field("remaining", &self.remaining())
            .field("primary", &self.primary)
            .finish()
    }
}

impl<'b> PacketWriter<'b> {
    /// Starts a packet: writes the header into `buf`, which will be filled
    /// to at most `budget` bytes.
    #[inline]
    pub fn new(buf: &'b mut [u8], header: &Header<'_>, budget: usize) -> Result<Self> {
        let mut w = Writer::new(buf, 0, budget);
        let step = header.write(&mut w);
        w.finish(step)?;
        Ok(PacketWriter { w, primary: None })
    }

    /// Appends a message: the primary one first, then piggybacked ones.
    #[inline]
    pub fn push(&mut self, message: &Message<'_>) -> Result<()> {
        let kind = message.kind();
        let misplaced = match self.primary {
            None => !kind.is_primary(),
            Some(primary) => kind.is_primary() || (kind.is_sync_only() && primary != Kind::Sync),
        };
        if misplaced {
            let error = if self.primary.is_none() { ErrorKind::MissingPrimary } else { ErrorKind::Misplaced };
            return Err(Error::new(error, Some(kind), Field::MessageKind, self.w.pos()));
        }
        message.encode(&mut self.w)?;
        self.primary.get_or_insert(kind);
        Ok(())
    }

    /// Whether `message` would fit in what is left of the budget.
    pub fn fits(&self, message: &Message<'_>) -> bool {
        message.encoded_len() <= self.w.remaining()
    }

    /// Bytes written so far.
    pub fn len(&self) -> usize {
        self.w.pos()
    }

    /// Whether nothing but the header has been written.
    pub fn is_empty(&self) -> bool {
        self.primary.is_none()
    }

    /// Bytes left under the budget.
    pub fn remaining(&self) -> usize {
        self.w.remaining()
    }

    /// Pads the packet to `len` bytes (or its budget, if smaller) with one
    /// piggybacked item of the reserved kind [`PADDING_KIND`], which every
    /// decoder skips as unknown. A sender that has not proven itself pads
    /// its request so that the answer, which may be no larger, can say
    /// something (a joiner's plaintext join request). Does nothing before
    /// the primary message, or when fewer than an item header's bytes are
    /// missing.
    ///
    /// ```
    /// use swim_wire::{DecodeOptions, Gossip, Header, Message, Packet, PacketWriter};
    /// let mut buf = [0u8; 1400];
    /// let mut w = PacketWriter::new(&mut buf, &Header::default(), 1400).unwrap();
    /// w.push(&Message::Gossip(Gossip { source: b"a" })).unwrap();
    /// w.pad_to(600);
    /// let len = w.finish().unwrap();
    /// assert_eq!(len, 600);
    /// let packet = Packet::parse(&buf[..len], &DecodeOptions::default()).unwrap();
    /// assert_eq!(packet.piggyback().count(), 0, "padding is skipped");
    /// ```
    pub fn pad_to(&mut self, len: usize) {
        let target = len.min(self.w.pos() + self.w.remaining());
        let Some(body) = target.checked_sub(self.w.pos() + crate::message::ITEM_HEADER_LEN) else { return };
        if self.primary.is_none() {
            return;
        }
        let body = u16::try_from(body).unwrap_or(u16::MAX);
        let at = self.w.pos();
        let step = (|| -> Step<()> {
            self.w.u8(PADDING_KIND, Field::MessageKind)?;
            self.w.u16(body, Field::MessageLength)?;
            let zeros = [0u8; 64];
            let mut left = usize::from(body);
            while left > 0 {
                let n = left.min(zeros.len());
                self.w.bytes(zeros.get(..n).unwrap_or_default(), Field::Packet)?;
                left -= n;
            }
            Ok(())
        })();
        if step.is_err() {
            self.w.truncate(at);
        }
    }

    /// Lowers the budget to `budget` bytes, never below what is already
    /// written (a reply to an unproven source, say, once its one message is
    /// in: no larger than the request).
    ///
    /// ```
    /// use swim_wire::{Gossip, Header, Message, PacketWriter};
    /// let mut buf = [0u8; 1400];
    /// let mut w = PacketWriter::new(&mut buf, &Header::default(), 1400).unwrap();
    /// w.push(&Message::Gossip(Gossip { source: b"a" })).unwrap();
    /// w.shrink_budget(3);
    /// assert_eq!(w.remaining(), 0);
    /// ```
    pub fn shrink_budget(&mut self, budget: usize) {
        self.w.shrink(budget);
    }

    /// Ends the packet and returns its length; fails if no primary message
    /// was pushed.
    #[inline]
    pub fn finish(self) -> Result<usize> {
        match self.primary {
            Some(_) => Ok(self.w.pos()),
            None => Err(Error::new(ErrorKind::MissingPrimary, None, Field::Packet, self.w.pos())),
        }
    }
}

#[cfg(test)]
mod tests;
