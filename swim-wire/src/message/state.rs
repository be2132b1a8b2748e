//! Application state: each member's versioned key-value entries. An entry
//! travels in a [`State`](super::Kind::State) item, laid out as a
//! [`UserBroadcast`](super::UserBroadcast): its owner, the owner's process
//! generation and the entry's version (the owner's sequence number, shared
//! with its broadcasts), and a [`StateBody`] as the payload.
//!
//! | bytes | field |
//! |---|---|
//! | 1 | flags: `0x01` a tombstone (the key was deleted; no value) |
//! | name | the key |
//! | blob | the value |
//!
//! ```
//! use swim_wire::StateBody;
//! let body = StateBody { deleted: false, key: b"load", value: b"0.42" };
//! let mut buf = [0u8; 64];
//! let len = body.encode(&mut buf).unwrap();
//! assert_eq!(StateBody::parse(&buf[..len]).unwrap(), body);
//! ```
//!
//! The application's *own* state (bytes only it understands, exchanged
//! whole in every sync) travels in [`AppStateChunk`] items instead, in as
//! many pieces as the sync's frames need.

use super::{Body, ByteStr, Field, Reader, Step, Writer, blob_len, fmt, name_len};
use crate::error::Result;
use crate::message::Kind;
use crate::packet::DecodeOptions;

/// One entry of a member's application state.
#[derive(Clone, Copy, PartialEq, Eq)]
pub struct StateBody<'a> {
    /// The key was deleted (a tombstone; `value` is empty).
    pub deleted: bool,
    /// The key (1 to 255 bytes).
    pub key: &'a [u8],
    /// The value.
    pub value: &'a [u8],
}

impl fmt::Debug for StateBody<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("StateBody")
            .field("deleted", &self.deleted)
            .field("key", &ByteStr(self.key))
            .field("value", &ByteStr(self.value))
            .finish()
    }
}

impl<'a> StateBody<'a> {
    /// Bytes it takes.
    pub fn encoded_len(&self) -> usize {
        1 + name_len(self.key) + blob_len(self.value)
    }

    /// Writes it into `buf`; returns the length.
    pub fn encode(&self, buf: &mut [u8]) -> Result<usize> {
        let mut w = Writer::new(buf, 0, usize::MAX);
        let step = (|| {
            w.u8(u8::from(self.deleted), Field::MessageFlags)?;
            w.name(self.key, Field::Name)?;
            w.blob(self.value, Field::Payload)
        })();
        w.finish(step)?;
        Ok(w.pos())
    }

    /// Validates and reads a body.
    pub fn parse(bytes: &'a [u8]) -> Result<Self> {
        let mut r = Reader::new(bytes, 0, Some(Kind::State));
        let step = (|| {
            let flags = r.u8(Field::MessageFlags)?;
            let key = r.name(Field::Name)?;
            let value = r.blob(Field::Payload, usize::from(u16::MAX))?;
            Ok(StateBody { deleted: flags & 1 == 1, key, value })
        })();
        r.finish(step)
    }
}

/// A piece of one side's application state in a sync (kind `0x4c`, only
/// on a [`Sync`](super::Sync) frame): the whole is `total` bytes, and this
/// piece starts `offset` bytes into it. The pieces of one side come in
/// order, in as many frames as they need.
///
/// ```
/// use swim_wire::{AppStateChunk, DecodeOptions, Header, Message, PROTOCOL_VERSION, Packet, PacketWriter, Sync, SyncFlags};
/// let header = Header { version: PROTOCOL_VERSION, encrypted: false, key_id: None, label: b"", any_receiver: false };
/// let mut buf = [0u8; 128];
/// let mut w = PacketWriter::new(&mut buf, &header, 128).unwrap();
/// w.push(&Message::Sync(Sync { flags: SyncFlags(SyncFlags::LAST), source: b"a", total: 1, chunk: 0 })).unwrap();
/// let piece = AppStateChunk { total: 5, offset: 0, bytes: b"hello" };
/// w.push(&Message::AppState(piece)).unwrap();
/// let len = w.finish().unwrap();
/// let packet = Packet::parse(&buf[..len], &DecodeOptions::default()).unwrap();
/// assert_eq!(packet.piggyback().next(), Some(Message::AppState(piece)));
/// ```
#[derive(Clone, Copy, PartialEq, Eq)]
pub struct AppStateChunk<'a> {
    /// Bytes of the side's whole application state.
    pub total: u32,
    /// Where this piece starts in it.
    pub offset: u32,
    /// The piece (at most [`MAX_PIECE`](AppStateChunk::MAX_PIECE) bytes).
    pub bytes: &'a [u8],
}

impl fmt::Debug for AppStateChunk<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("AppStateChunk")
            .field("total", &self.total)
            .field("offset", &self.offset)
            .field("bytes", &ByteStr(self.bytes))
            .finish()
    }
}

impl AppStateChunk<'_> {
    /// The largest piece one item carries: an item's body is at most
    /// 65,535 bytes, and the total, offset and length take 10 of them.
    pub const MAX_PIECE: usize = u16::MAX as usize - 10;

    /// Bytes an item with a piece of `len` bytes takes, item header
    /// included.
    pub const fn item_len(len: usize) -> usize {
        super::ITEM_HEADER_LEN + 4 + 4 + 2 + len
    }
}

impl<'a> Body<'a> for AppStateChunk<'a> {
    #[inline(always)]
    fn read(r: &mut Reader<'a>, _: &DecodeOptions) -> Step<Self> {
        Ok(AppStateChunk {
            total: r.u32(Field::Count)?,
            offset: r.u32(Field::Chunk)?,
            bytes: r.blob(Field::Payload, Self::MAX_PIECE)?,
        })
    }
    #[inline(always)]
    fn len(&self) -> usize {
        4 + 4 + blob_len(self.bytes)
    }
    #[inline(always)]
    fn write(&self, w: &mut Writer<'_>) -> Step<()> {
        w.u32(self.total, Field::Count)?;
        w.u32(self.offset, Field::Chunk)?;
        w.blob(self.bytes, Field::Payload)
    }
}
