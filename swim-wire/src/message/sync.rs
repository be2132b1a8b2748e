//! The messages of a sync stream: the [`Sync`] header that opens every
//! frame, the [`MemberRecord`]s of a table, and the digest exchange of a
//! delta sync ([`SyncDigest`] from the opener, [`SyncDiff`] in the reply).

use super::Alive;
use super::{Body, ByteStr, Field, Reader, Step, Writer, fmt, name_len};
use crate::error::ErrorKind;
use crate::packet::DecodeOptions;

/// Flags of a [`Sync`] message.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
pub struct SyncFlags(pub u8);

impl SyncFlags {
    /// The exchange is a join.
    pub const JOIN: u8 = 0x01;
    /// This side answers an exchange the other opened.
    pub const REPLY: u8 = 0x02;
    /// This chunk is the last of this side's state.
    pub const LAST: u8 = 0x04;
    /// A delta exchange. From the opener: its frames carry a
    /// [`SyncDigest`] of its table instead of the records. In the reply:
    /// the frames carry the [`SyncDiff`] of the buckets that differ and
    /// this side's records of those buckets only, and the opener answers
    /// with its records of the same buckets (a third leg, flagged as the
    /// first). A member that does not know this flag ignores it and the
    /// digest, and replies with its whole table, which ends the exchange.
    pub const DELTA: u8 = 0x08;
    /// A message exchange: the opener's one frame carries a
    /// [`UserMessage`](crate::UserMessage) instead of state, and the reply
    /// is an empty frame that acknowledges it. (A member that does not know
    /// this flag replies with its whole table, without it: the opener takes
    /// that as a refusal.)
    pub const MESSAGE: u8 = 0x10;

    /// Whether all of `bits` are set.
    pub const fn contains(self, bits: u8) -> bool {
        self.0 & bits == bits
    }
}

/// Sync (push-pull) chunk header: opens every frame of a sync stream; the
/// frame's [`MemberRecord`]s follow it.
#[derive(Clone, Copy, PartialEq, Eq)]
pub struct Sync<'a> {
    /// Join / reply / last-chunk flags.
    pub flags: SyncFlags,
    /// Name of the member sending its state.
    pub source: &'a [u8],
    /// Records in this side's whole state.
    pub total: u32,
    /// Index of this chunk, from 0.
    pub chunk: u32,
}

/// A member's state in a [`MemberRecord`].
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum MemberState {
    /// Alive.
    Alive,
    /// Suspected of having failed.
    Suspect,
    /// Declared faulty.
    Faulty,
    /// Left gracefully.
    Left,
}

impl MemberState {
    /// The wire byte.
    pub const fn to_u8(self) -> u8 {
        match self {
            MemberState::Alive => 0,
            MemberState::Suspect => 1,
            MemberState::Faulty => 2,
            MemberState::Left => 3,
        }
    }

    /// The state for a wire byte.
    pub const fn from_u8(byte: u8) -> Option<Self> {
        Some(match byte {
            0 => MemberState::Alive,
            1 => MemberState::Suspect,
            2 => MemberState::Faulty,
            3 => MemberState::Left,
            _ => return None,
        })
    }
}

/// One member's full state in a sync exchange.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct MemberRecord<'a> {
    /// The member's state.
    pub state: MemberState,
    /// The member itself.
    pub member: Alive<'a>,
    /// Who suspected or declared it (suspect and faulty records; empty
    /// otherwise), so that a suspicion learned through a sync names its
    /// accuser rather than the sync peer.
    pub by: &'a [u8],
}

debug_with_bytes!(Sync { flags: plain, source: bytes, total: plain, chunk: plain });

impl<'a> Body<'a> for Sync<'a> {
    #[inline(always)]
    fn read(r: &mut Reader<'a>, _: &DecodeOptions) -> Step<Self> {
        Ok(Sync {
            flags: SyncFlags(r.u8(Field::MessageFlags)?),
            source: r.name(Field::Source)?,
            total: r.u32(Field::Count)?,
            chunk: r.u32(Field::Chunk)?,
        })
    }
    #[inline(always)]
    fn len(&self) -> usize {
        1 + name_len(self.source) + 4 + 4
    }
    #[inline(always)]
    fn write(&self, w: &mut Writer<'_>) -> Step<()> {
        w.u8(self.flags.0, Field::MessageFlags)?;
        w.name(self.source, Field::Source)?;
        w.u32(self.total, Field::Count)?;
        w.u32(self.chunk, Field::Chunk)
    }
}

impl<'a> Body<'a> for MemberRecord<'a> {
    #[inline(always)]
    fn read(r: &mut Reader<'a>, opts: &DecodeOptions) -> Step<Self> {
        let at = r.offset();
        let byte = r.u8(Field::State)?;
        let state = MemberState::from_u8(byte)
            .ok_or_else(|| r.fail_at(ErrorKind::BadValue(u32::from(byte)), Field::State, at))?;
        let member = Alive::read(r, opts)?;
        Ok(MemberRecord { state, member, by: r.optional_name(Field::By)? })
    }
    #[inline(always)]
    fn len(&self) -> usize {
        1 + self.member.len() + 1 + self.by.len()
    }
    #[inline(always)]
    fn write(&self, w: &mut Writer<'_>) -> Step<()> {
        w.u8(self.state.to_u8(), Field::State)?;
        self.member.write(w)?;
        w.optional_name(self.by, Field::By)
    }
}

/// The digest of a table, or a run of it: for buckets `first ..` among
/// `buckets`, each bucket's 32-bit value. How members fall into buckets and
/// what a value sums is the core's business; the wire carries the values.
#[derive(Clone, Copy, PartialEq, Eq)]
pub struct SyncDigest<'a> {
    /// The salt of the exchange's values.
    pub key: u64,
    /// Buckets in the whole digest.
    pub buckets: u32,
    /// The first bucket of this run.
    pub first: u32,
    /// The values, 4 bytes each, big-endian.
    pub values: &'a [u8],
}

impl SyncDigest<'_> {
    /// Values this run holds.
    pub fn count(&self) -> usize {
        self.values.len() / 4
    }

    /// The value of bucket `first + index`.
    ///
    /// ```
    /// use swim_wire::SyncDigest;
    /// let d = SyncDigest { key: 7, buckets: 16, first: 4, values: &[0, 0, 0, 9, 1, 2, 3, 4] };
    /// assert_eq!((d.count(), d.value(0), d.value(1), d.value(2)), (2, Some(9), Some(0x0102_0304), None));
    /// ```
    pub fn value(&self, index: usize) -> Option<u32> {
        let at = index.checked_mul(4)?;
        let bytes: [u8; 4] = self.values.get(at..at.checked_add(4)?)?.try_into().ok()?;
        Some(u32::from_be_bytes(bytes))
    }
}

/// Which buckets differ, or a run of them: bit `i` of byte `j` is bucket
/// `first + 8·j + i` among `buckets`.
#[derive(Clone, Copy, PartialEq, Eq)]
pub struct SyncDiff<'a> {
    /// Buckets in the whole digest.
    pub buckets: u32,
    /// The first bucket of this run.
    pub first: u32,
    /// The bits.
    pub bits: &'a [u8],
}

impl fmt::Debug for SyncDigest<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let (key, buckets, first, values) = (self.key, self.buckets, self.first, self.count());
        f.debug_struct("SyncDigest")
            .field("key", &key)
            .field("buckets", &buckets)
            .field("first", &first)
            .field("values", &values)
            .finish()
    }
}

debug_with_bytes!(SyncDiff { buckets: plain, first: plain, bits: bytes });

/// Reads a two-byte count of `unit`-byte elements and the elements.
fn counted<'a>(r: &mut Reader<'a>, unit: usize, field: Field) -> Step<&'a [u8]> {
    let count = usize::from(r.u16(field)?);
    r.bytes(count * unit, field)
}

/// Writes what [`counted`] reads (the caller keeps the count within u16).
fn write_counted(w: &mut Writer<'_>, bytes: &[u8], unit: usize, field: Field) -> Step<()> {
    let count = bytes.len() / unit;
    let Ok(count) = u16::try_from(count) else {
        let limit = usize::from(u16::MAX) * unit;
        return Err(w.fail(ErrorKind::TooLarge { len: bytes.len(), limit }, field));
    };
    w.u16(count, field)?;
    w.bytes(bytes.get(..usize::from(count) * unit).unwrap_or_default(), field)
}

impl<'a> Body<'a> for SyncDigest<'a> {
    #[inline(always)]
    fn read(r: &mut Reader<'a>, _: &DecodeOptions) -> Step<Self> {
        Ok(SyncDigest {
            key: r.u64(Field::Key)?,
            buckets: r.u32(Field::Buckets)?,
            first: r.u32(Field::Buckets)?,
            values: counted(r, 4, Field::Digest)?,
        })
    }
    #[inline(always)]
    fn len(&self) -> usize {
        8 + 4 + 4 + 2 + self.values.len() / 4 * 4
    }
    #[inline(always)]
    fn write(&self, w: &mut Writer<'_>) -> Step<()> {
        w.u64(self.key, Field::Key)?;
        w.u32(self.buckets, Field::Buckets)?;
        w.u32(self.first, Field::Buckets)?;
        write_counted(w, self.values, 4, Field::Digest)
    }
}

impl<'a> Body<'a> for SyncDiff<'a> {
    #[inline(always)]
    fn read(r: &mut Reader<'a>, _: &DecodeOptions) -> Step<Self> {
        Ok(SyncDiff {
            buckets: r.u32(Field::Buckets)?,
            first: r.u32(Field::Buckets)?,
            bits: counted(r, 1, Field::Digest)?,
        })
    }
    #[inline(always)]
    fn len(&self) -> usize {
        4 + 4 + 2 + self.bits.len()
    }
    #[inline(always)]
    fn write(&self, w: &mut Writer<'_>) -> Step<()> {
        w.u32(self.buckets, Field::Buckets)?;
        w.u32(self.first, Field::Buckets)?;
        write_counted(w, self.bits, 1, Field::Digest)
    }
}
