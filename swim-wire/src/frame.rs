//! Framing of packets on a byte stream (sync exchanges): each packet is
//! preceded by its length as a big-endian `u32`.
//!
//! ```
//! use swim_wire::frame;
//! let mut buf = [0u8; 16];
//! frame::write_prefix(&mut buf, 300).unwrap();
//! assert_eq!(frame::read_prefix([buf[0], buf[1], buf[2], buf[3]], 1024), Ok(300));
//! assert!(frame::read_prefix([0, 0, 8, 0], 1024).is_err());
//! ```

use crate::error::{Error, ErrorKind, Field, Result};

/// Bytes of the length prefix.
pub const PREFIX_LEN: usize = 4;

/// Reads a frame's length from its prefix, refusing lengths above `max`.
pub fn read_prefix(prefix: [u8; PREFIX_LEN], max: usize) -> Result<usize> {
    let len = u32::from_be_bytes(prefix) as usize;
    if len > max {
        return Err(Error::new(ErrorKind::TooLarge { len, limit: max }, None, Field::FrameLength, 0));
    }
    Ok(len)
}

/// Writes the prefix for a packet of `len` bytes at the start of `buf`.
pub fn write_prefix(buf: &mut [u8], len: usize) -> Result<()> {
    let value = u32::try_from(len)
        .map_err(|_| Error::new(ErrorKind::TooLarge { len, limit: u32::MAX as usize }, None, Field::FrameLength, 0))?;
    let available = buf.len();
    let dst = buf.get_mut(..PREFIX_LEN).ok_or(Error::new(
        ErrorKind::NoRoom { needed: PREFIX_LEN, remaining: available },
        None,
        Field::FrameLength,
        0,
    ))?;
    dst.copy_from_slice(&value.to_be_bytes());
    Ok(())
}

/// Reassembles frames from a byte stream read in pieces of any size, into
/// one buffer that never grows beyond the largest frame allowed (prefix
/// included).
///
/// Read into [`space`](Reassembler::space), report what was read with
/// [`advance`](Reassembler::advance); once [`frame`](Reassembler::frame)
/// returns the frame's packet, handle it (in place, if it is sealed) and
/// [`consume`](Reassembler::consume) it before reading on.
///
/// ```
/// use swim_wire::frame::{Reassembler, write_prefix};
/// let mut stream = vec![0u8; 4];
/// write_prefix(&mut stream, 3).unwrap();
/// stream.extend_from_slice(b"abc");
/// let mut r = Reassembler::new(1024);
/// for byte in &stream {
///     // One byte at a time, as a slow stream would deliver it.
///     r.space().unwrap()[0] = *byte;
///     r.advance(1);
/// }
/// assert_eq!(r.frame().as_deref(), Some(&b"abc"[..]));
/// r.consume();
/// assert!(r.frame().is_none());
/// ```
#[derive(Debug)]
pub struct Reassembler {
    buf: Vec<u8>,
    filled: usize,
    max_frame: usize,
}

impl Reassembler {
    /// A reassembler for frames of at most `max_frame` bytes (prefix not
    /// counted).
    pub fn new(max_frame: usize) -> Self {
        Reassembler { buf: Vec::new(), filled: 0, max_frame }
    }

    /// Bytes the frame being received takes, prefix included, once its
    /// prefix is in; refuses an empty frame or one above the maximum.
    fn want(&self) -> Result<usize> {
        let Some(&[a, b, c, d]) = self.buf.get(..PREFIX_LEN).filter(|_| self.filled >= PREFIX_LEN) else {
            return Ok(PREFIX_LEN);
        };
        match read_prefix([a, b, c, d], self.max_frame)? {
            0 => Err(Error::new(ErrorKind::BadValue(0), None, Field::FrameLength, 0)),
            len => Ok(PREFIX_LEN + len),
        }
    }

    /// Where the next bytes read from the stream go: never empty while the
    /// frame is incomplete, empty once it is complete. Fails, for good, on
    /// a prefix that announces an empty frame or one above the maximum (the
    /// stream is to be closed).
    pub fn space(&mut self) -> Result<&mut [u8]> {
        let want = self.want()?;
        if self.buf.len() < want {
            self.buf.resize(want, 0);
        }
        Ok(self.buf.get_mut(self.filled..want).unwrap_or_default())
    }

    /// Records that `n` bytes were read into [`space`](Reassembler::space)
    /// (at most its length).
    pub fn advance(&mut self, n: usize) {
        let want = self.want().unwrap_or(self.filled);
        self.filled = (self.filled + n).min(want.max(self.filled)).min(self.buf.len());
    }

    /// The packet of the frame, once it is complete.
    pub fn frame(&mut self) -> Option<&mut [u8]> {
        let want = self.want().ok()?;
        if want > PREFIX_LEN && self.filled == want {
            return self.buf.get_mut(PREFIX_LEN..want);
        }
        None
    }

    /// Forgets the complete frame, to receive the next one (does nothing
    /// while the frame is incomplete).
    pub fn consume(&mut self) {
        if self.frame().is_some() {
            self.filled = 0;
        }
    }

    /// Bytes held for the frame being received, prefix included.
    pub fn buffered(&self) -> usize {
        self.filled
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn framed(packets: &[&[u8]]) -> Vec<u8> {
        let mut out = Vec::new();
        for p in packets {
            let mut prefix = [0u8; PREFIX_LEN];
            write_prefix(&mut prefix, p.len()).unwrap();
            out.extend_from_slice(&prefix);
            out.extend_from_slice(p);
        }
        out
    }

    #[test]
    fn frames_come_out_whole_whatever_the_pieces() {
        let packets: [&[u8]; 3] = [b"first", b"x", &[7u8; 300]];
        let stream = framed(&packets);
        for piece in [1, 2, 3, 5, 64, 1000] {
            let mut r = Reassembler::new(512);
            let mut got: Vec<Vec<u8>> = Vec::new();
            let mut at = 0;
            while at < stream.len() {
                let space = r.space().unwrap();
                assert!(!space.is_empty());
                let n = piece.min(space.len()).min(stream.len() - at);
                space[..n].copy_from_slice(&stream[at..at + n]);
                r.advance(n);
                at += n;
                if let Some(f) = r.frame() {
                    got.push(f.to_vec());
                    r.consume();
                }
            }
            assert_eq!(got, packets.iter().map(|p| p.to_vec()).collect::<Vec<_>>(), "pieces of {piece}");
            assert!(r.buf.len() <= PREFIX_LEN + 300);
        }
    }

    #[test]
    fn empty_and_oversized_frames_are_refused() {
        for (prefix, max) in [([0u8, 0, 0, 0], 16), ([0, 0, 0, 17], 16), ([0xff; 4], 1 << 20)] {
            let mut r = Reassembler::new(max);
            r.space().unwrap().copy_from_slice(&prefix);
            r.advance(4);
            assert!(r.space().is_err(), "{prefix:?}");
            assert!(r.frame().is_none());
            assert!(r.buf.len() <= PREFIX_LEN);
        }
    }
}
