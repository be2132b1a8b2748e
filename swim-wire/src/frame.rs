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
