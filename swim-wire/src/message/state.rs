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

use super::{ByteStr, Field, Reader, Writer, blob_len, fmt, name_len};
use crate::error::Result;
use crate::message::Kind;

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
