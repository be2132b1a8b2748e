//! Bounds-checked reading and writing of big-endian fields.
//!
//! Every access goes through checked splitting, so no input can make the
//! codec panic. A failing step records its [`Error`] (with the absolute byte
//! offset of the field) inside the reader or writer and returns the
//! zero-sized [`Stop`]; keeping the error out of the return type lets every
//! successful step return in registers, which is most of the codec's speed.

use crate::error::{Error, ErrorKind, Field, Result};
use crate::message::Kind;

/// A step failed; the reader or writer holds the error.
#[derive(Debug)]
pub(crate) struct Stop;

/// The result of one codec step.
pub(crate) type Step<T> = core::result::Result<T, Stop>;

const NO_ERROR: Error = Error::new(ErrorKind::Truncated { needed: 0, available: 0 }, None, Field::Packet, 0);

/// A reader over a slice that knows where the slice ends in the packet.
pub(crate) struct Reader<'a> {
    rest: &'a [u8],
    /// Offset of the end of the input from the start of the packet.
    end: usize,
    message: Option<Kind>,
    error: Error,
}

impl<'a> Reader<'a> {
    /// A reader over `buf`, which starts at byte `base` of the packet.
    #[inline]
    pub(crate) fn new(buf: &'a [u8], base: usize, message: Option<Kind>) -> Self {
        Reader { rest: buf, end: base + buf.len(), message, error: NO_ERROR }
    }

    /// Absolute offset of the next byte.
    #[inline]
    pub(crate) fn offset(&self) -> usize {
        self.end - self.rest.len()
    }

    /// The error recorded by the step that returned [`Stop`].
    pub(crate) fn error(&self) -> Error {
        self.error
    }

    /// Turns a step's outcome into the public result.
    #[inline]
    pub(crate) fn finish<T>(&self, step: Step<T>) -> Result<T> {
        step.map_err(|Stop| self.error)
    }

    /// Records an error about the field that starts at `offset`.
    #[cold]
    pub(crate) fn fail_at(&mut self, kind: ErrorKind, field: Field, offset: usize) -> Stop {
        self.error = Error::new(kind, self.message, field, offset);
        Stop
    }

    #[inline]
    pub(crate) fn bytes(&mut self, len: usize, field: Field) -> Step<&'a [u8]> {
        match self.rest.split_at_checked(len) {
            Some((head, tail)) => {
                self.rest = tail;
                Ok(head)
            }
            None => {
                let kind = ErrorKind::Truncated { needed: len, available: self.rest.len() };
                Err(self.fail_at(kind, field, self.offset()))
            }
        }
    }

    #[inline]
    pub(crate) fn array<const N: usize>(&mut self, field: Field) -> Step<[u8; N]> {
        match self.rest.split_first_chunk::<N>() {
            Some((head, tail)) => {
                self.rest = tail;
                Ok(*head)
            }
            None => {
                let kind = ErrorKind::Truncated { needed: N, available: self.rest.len() };
                Err(self.fail_at(kind, field, self.offset()))
            }
        }
    }

    #[inline]
    pub(crate) fn u8(&mut self, field: Field) -> Step<u8> {
        Ok(self.array::<1>(field)?[0])
    }

    #[inline]
    pub(crate) fn u16(&mut self, field: Field) -> Step<u16> {
        Ok(u16::from_be_bytes(self.array(field)?))
    }

    #[inline]
    pub(crate) fn u32(&mut self, field: Field) -> Step<u32> {
        Ok(u32::from_be_bytes(self.array(field)?))
    }

    #[inline]
    pub(crate) fn u64(&mut self, field: Field) -> Step<u64> {
        Ok(u64::from_be_bytes(self.array(field)?))
    }

    /// A process generation, at most [`MAX_GENERATION`](crate::MAX_GENERATION).
    #[inline]
    pub(crate) fn generation(&mut self) -> Step<u64> {
        let at = self.offset();
        let value = self.u64(Field::Generation)?;
        if value > crate::MAX_GENERATION {
            return Err(self.fail_at(ErrorKind::BadGeneration(value), Field::Generation, at));
        }
        Ok(value)
    }

    /// An optional name: one length byte (0: none), then the bytes.
    #[inline]
    pub(crate) fn optional_name(&mut self, field: Field) -> Step<&'a [u8]> {
        let len = self.u8(field)?;
        self.bytes(usize::from(len), field)
    }

    /// The unread rest of the input, left unread.
    #[inline]
    pub(crate) fn peek_rest(&self) -> &'a [u8] {
        self.rest
    }

    /// The unread rest of the input, consumed.
    #[inline]
    pub(crate) fn rest(&mut self) -> &'a [u8] {
        core::mem::take(&mut self.rest)
    }

    /// A name: one length byte, then 1..=255 bytes.
    #[inline]
    pub(crate) fn name(&mut self, field: Field) -> Step<&'a [u8]> {
        let at = self.offset();
        let len = self.u8(field)?;
        if len == 0 {
            return Err(self.fail_at(ErrorKind::EmptyName, field, at));
        }
        self.bytes(usize::from(len), field)
    }

    /// A blob with a two-byte length, bounded by `limit`.
    #[inline]
    pub(crate) fn blob(&mut self, field: Field, limit: usize) -> Step<&'a [u8]> {
        let at = self.offset();
        let len = usize::from(self.u16(field)?);
        if len > limit {
            return Err(self.fail_at(ErrorKind::TooLarge { len, limit }, field, at));
        }
        self.bytes(len, field)
    }
}

/// A writer into a caller-owned buffer, limited to `limit` bytes.
pub(crate) struct Writer<'b> {
    /// The buffer, already cut to the byte budget.
    buf: &'b mut [u8],
    pos: usize,
    error: Error,
}

impl<'b> Writer<'b> {
    /// A writer that may fill `buf` up to `limit` bytes (clamped to its
    /// length), starting at `pos`.
    pub(crate) fn new(buf: &'b mut [u8], pos: usize, limit: usize) -> Self {
        let limit = limit.min(buf.len());
        // `limit <= buf.len()`, so the split cannot panic.
        let (buf, _) = buf.split_at_mut(limit);
        Writer { buf, pos, error: NO_ERROR }
    }

    #[inline]
    pub(crate) fn pos(&self) -> usize {
        self.pos
    }

    /// Lowers the limit to `limit` bytes, never below what is written.
    pub(crate) fn shrink(&mut self, limit: usize) {
        let limit = limit.max(self.pos).min(self.buf.len());
        let buf = core::mem::take(&mut self.buf);
        // `limit <= buf.len()`, so the split cannot panic.
        let (buf, _) = buf.split_at_mut(limit);
        self.buf = buf;
    }

    /// Forgets everything written after `pos`.
    pub(crate) fn truncate(&mut self, pos: usize) {
        self.pos = self.pos.min(pos);
    }

    #[inline]
    pub(crate) fn remaining(&self) -> usize {
        self.buf.len().saturating_sub(self.pos)
    }

    /// Turns a step's outcome into the public result.
    #[inline]
    pub(crate) fn finish<T>(&self, step: Step<T>) -> Result<T> {
        step.map_err(|Stop| self.error)
    }

    /// Records an error about the field at the current position (the caller
    /// names the message, see [`Error::in_message`]).
    #[cold]
    pub(crate) fn fail(&mut self, kind: ErrorKind, field: Field) -> Stop {
        self.error = Error::new(kind, None, field, self.pos);
        Stop
    }

    /// Checks that `needed` bytes fit before anything is written.
    #[inline]
    pub(crate) fn reserve(&mut self, needed: usize, field: Field) -> Step<()> {
        if needed > self.remaining() {
            return Err(self.fail(ErrorKind::NoRoom { needed, remaining: self.remaining() }, field));
        }
        Ok(())
    }

    #[inline(always)]
    pub(crate) fn bytes(&mut self, bytes: &[u8], field: Field) -> Step<()> {
        let end = self.pos.saturating_add(bytes.len());
        match self.buf.get_mut(self.pos..end) {
            Some(dst) => {
                dst.copy_from_slice(bytes);
                self.pos = end;
                Ok(())
            }
            None => Err(self.fail(ErrorKind::NoRoom { needed: bytes.len(), remaining: self.remaining() }, field)),
        }
    }

    #[inline(always)]
    pub(crate) fn u8(&mut self, value: u8, field: Field) -> Step<()> {
        self.bytes(&[value], field)
    }

    #[inline(always)]
    pub(crate) fn u16(&mut self, value: u16, field: Field) -> Step<()> {
        self.bytes(&value.to_be_bytes(), field)
    }

    #[inline(always)]
    pub(crate) fn u32(&mut self, value: u32, field: Field) -> Step<()> {
        self.bytes(&value.to_be_bytes(), field)
    }

    #[inline(always)]
    pub(crate) fn u64(&mut self, value: u64, field: Field) -> Step<()> {
        self.bytes(&value.to_be_bytes(), field)
    }

    /// A process generation; refuses one above [`MAX_GENERATION`](crate::MAX_GENERATION).
    #[inline(always)]
    pub(crate) fn generation(&mut self, value: u64) -> Step<()> {
        if value > crate::MAX_GENERATION {
            return Err(self.fail(ErrorKind::BadGeneration(value), Field::Generation));
        }
        self.u64(value, Field::Generation)
    }

    /// An optional name: empty is written as a zero length byte.
    #[inline(always)]
    pub(crate) fn optional_name(&mut self, name: &[u8], field: Field) -> Step<()> {
        if name.is_empty() { self.u8(0, field) } else { self.name(name, field) }
    }

    #[inline(always)]
    pub(crate) fn name(&mut self, name: &[u8], field: Field) -> Step<()> {
        let len = match check_name(name) {
            Ok(len) => len,
            Err(kind) => return Err(self.fail(kind, field)),
        };
        self.u8(len, field)?;
        self.bytes(name, field)
    }

    #[inline(always)]
    pub(crate) fn blob(&mut self, blob: &[u8], field: Field) -> Step<()> {
        let Ok(len) = u16::try_from(blob.len()) else {
            return Err(self.fail(ErrorKind::TooLarge { len: blob.len(), limit: usize::from(u16::MAX) }, field));
        };
        self.u16(len, field)?;
        self.bytes(blob, field)
    }
}

/// Validates a name for encoding and returns its length byte.
#[inline]
pub(crate) fn check_name(name: &[u8]) -> core::result::Result<u8, ErrorKind> {
    if name.is_empty() {
        return Err(ErrorKind::EmptyName);
    }
    u8::try_from(name.len()).map_err(|_| ErrorKind::NameTooLong(name.len()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reader_reports_absolute_offsets() {
        let mut r = Reader::new(&[1, 2, 3], 10, Some(Kind::Ping));
        assert_eq!(r.u16(Field::Seq).unwrap(), 0x0102);
        let step = r.u32(Field::Incarnation);
        let err = r.finish(step).unwrap_err();
        assert_eq!(err.offset(), 12);
        assert_eq!(err.kind(), ErrorKind::Truncated { needed: 4, available: 1 });
        assert_eq!(err.message(), Some(Kind::Ping));
    }

    #[test]
    fn reader_rejects_empty_and_truncated_names() {
        let mut r = Reader::new(&[0], 0, None);
        assert!(r.name(Field::Name).is_err());
        assert_eq!(r.error().kind(), ErrorKind::EmptyName);
        let mut r = Reader::new(&[5, b'a'], 0, None);
        assert!(r.name(Field::Name).is_err());
        assert_eq!(r.error().kind(), ErrorKind::Truncated { needed: 5, available: 1 });
        assert_eq!(r.error().offset(), 1);
    }

    #[test]
    fn reader_enforces_blob_limit() {
        let mut r = Reader::new(&[0, 9, 0], 4, None);
        assert!(r.blob(Field::Metadata, 8).is_err());
        assert_eq!(r.error().kind(), ErrorKind::TooLarge { len: 9, limit: 8 });
        assert_eq!(r.error().offset(), 4);
    }

    #[test]
    fn writer_stops_at_limit_without_partial_writes() {
        let mut buf = [0u8; 8];
        let mut w = Writer::new(&mut buf, 0, 5);
        w.u32(7, Field::Seq).unwrap();
        let step = w.u16(1, Field::Seq);
        let err = w.finish(step).unwrap_err();
        assert_eq!(err.kind(), ErrorKind::NoRoom { needed: 2, remaining: 1 });
        assert_eq!(w.pos(), 4);
        assert_eq!(buf, [0, 0, 0, 7, 0, 0, 0, 0]);
    }

    #[test]
    fn writer_validates_names() {
        let mut buf = [0u8; 300];
        let mut w = Writer::new(&mut buf, 0, 300);
        let step = w.name(b"", Field::Name);
        assert_eq!(w.finish(step).unwrap_err().kind(), ErrorKind::EmptyName);
        let step = w.name(&[b'x'; 256], Field::Name);
        assert_eq!(w.finish(step).unwrap_err().kind(), ErrorKind::NameTooLong(256));
        w.name(&[b'x'; 255], Field::Name).unwrap();
        assert_eq!(w.pos(), 256);
    }
}
