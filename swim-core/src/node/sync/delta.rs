//! The delta exchange: the digest the opener sends, the set of differing
//! buckets the other side answers with, and the walk over the records of
//! those buckets.

use swim_wire::{Kind, Message, Packet, SyncDiff, SyncDigest};

use crate::digest::{self, BucketSet, MAX_BUCKETS, Walk};
use crate::error::InputError;
use crate::members::Members;

/// Bytes of a digest item besides its values: item header, key, bucket
/// count, first bucket, value count.
pub(super) const DIGEST_ITEM: usize = swim_wire::ITEM_HEADER_LEN + 8 + 4 + 4 + 2;

/// Bytes of a diff item besides its bits.
pub(super) const DIFF_ITEM: usize = swim_wire::ITEM_HEADER_LEN + 4 + 4 + 2;

/// Most values or bytes one item holds (its body length is 16 bits).
const ITEM_VALUES: usize = (u16::MAX as usize - 18) / 4;

/// Where a delta exchange stands.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Leg {
    /// The opener's digest (sent by the opener, received by the other).
    Digest,
    /// The reply: the differing buckets and their records.
    Reply,
    /// The opener's records of the differing buckets.
    Records,
}

/// One side's state of a delta exchange.
#[derive(Debug, Clone, Copy)]
pub(super) struct Delta {
    pub(super) leg: Leg,
    /// The salt of the digest's values.
    pub(super) key: u64,
    /// Buckets of the digest (0 until the first digest run arrives).
    pub(super) buckets: u32,
    /// The buckets whose records travel.
    pub(super) differ: BucketSet,
    /// Digest values (opener) or diff bytes (reply) sent so far.
    pub(super) sent: u32,
    /// Digest values or diff bytes received so far.
    pub(super) received: u32,
    /// Where the walk over the differing buckets' records is.
    pub(super) walk: BucketWalk,
}

/// A position in the walk over the records of a set of buckets.
#[derive(Debug, Clone, Copy)]
pub(super) struct BucketWalk {
    buckets: u32,
    bucket: u32,
    walk: Walk,
}

impl BucketWalk {
    /// The next record of a bucket in `differ`, moving the walk on.
    pub(super) fn next(&mut self, differ: &BucketSet, members: &Members) -> Option<u32> {
        let leaves = members.digest();
        loop {
            let bucket = differ.next_from(self.bucket)?;
            if bucket != self.bucket {
                self.bucket = bucket;
                self.walk = Walk::START;
            }
            if let Some(slot) = leaves.next_in_bucket(bucket, self.buckets, &mut self.walk) {
                return Some(slot);
            }
            self.bucket = bucket.checked_add(1)?;
            self.walk = Walk::START;
        }
    }
}

impl Delta {
    /// The opener's side: a digest of `buckets` salted with `key`.
    pub(super) fn opening(key: u64, buckets: u32) -> Self {
        Delta {
            leg: Leg::Digest,
            key,
            buckets,
            differ: BucketSet::default(),
            sent: 0,
            received: 0,
            walk: BucketWalk { buckets, bucket: 0, walk: Walk::START },
        }
    }

    /// The answering side, before the digest arrives.
    pub(super) fn answering() -> Self {
        Delta::opening(0, 0)
    }

    /// Bytes of the diff: a bit per bucket.
    fn diff_bytes(&self) -> u32 {
        self.buckets.div_ceil(8)
    }

    /// Digest values (opener, first leg) or diff bytes (reply) left to
    /// send.
    pub(super) fn unsent(&self) -> u32 {
        match self.leg {
            Leg::Digest => self.buckets.saturating_sub(self.sent),
            Leg::Reply => self.diff_bytes().saturating_sub(self.sent),
            Leg::Records => 0,
        }
    }

    /// How many digest values or diff bytes fit in `room` bytes.
    pub(super) fn fit(&self, room: usize) -> u32 {
        let (overhead, unit) = if self.leg == Leg::Digest { (DIGEST_ITEM, 4) } else { (DIFF_ITEM, 1) };
        let n = (room.saturating_sub(overhead) / unit).min(ITEM_VALUES);
        crate::convert::to_u32(n).min(self.unsent())
    }

    /// The records walk starts over at the first differing bucket.
    pub(super) fn restart_walk(&mut self) {
        self.walk = BucketWalk { buckets: self.buckets, bucket: 0, walk: Walk::START };
    }

    /// Writes `count` digest values (from the next unsent) into `out`.
    pub(super) fn digest_values<'b>(&self, members: &Members, count: u32, out: &'b mut [u8]) -> &'b [u8] {
        let leaves = members.digest();
        let mut len = 0;
        for (bucket, chunk) in (self.sent..self.sent.saturating_add(count)).zip(out.chunks_exact_mut(4)) {
            let value = digest::salted(leaves.bucket_sum(bucket, self.buckets), self.key);
            chunk.copy_from_slice(&value.to_be_bytes());
            len += 4;
        }
        out.get(..len).unwrap_or_default()
    }

    /// Writes `count` diff bytes (from the next unsent) into `out`.
    pub(super) fn diff_bits<'b>(&self, count: u32, out: &'b mut [u8]) -> &'b [u8] {
        let mut len = 0;
        for (index, byte) in (self.sent..self.sent.saturating_add(count)).zip(out.iter_mut()) {
            *byte = self.differ.byte(index);
            len += 1;
        }
        out.get(..len).unwrap_or_default()
    }

    /// Takes in a frame's digest or diff runs, checking each against the
    /// exchange: the same key and bucket count throughout, runs in order,
    /// none past the end. The caller applies the result only if all of the
    /// frame is valid.
    pub(super) fn take_runs(&mut self, members: &Members, packet: &Packet<'_>) -> Result<(), InputError> {
        for message in packet.piggyback() {
            match message {
                Message::SyncDigest(run) if self.leg == Leg::Digest && self.sent == 0 => {
                    self.take_digest(members, &run)?
                }
                Message::SyncDiff(run) if self.leg == Leg::Reply => self.take_diff(&run)?,
                Message::SyncDigest(_) => return Err(InputError::Unexpected(Kind::SyncDigest)),
                Message::SyncDiff(_) => return Err(InputError::Unexpected(Kind::SyncDiff)),
                _ => {}
            }
        }
        Ok(())
    }

    fn take_digest(&mut self, members: &Members, run: &SyncDigest<'_>) -> Result<(), InputError> {
        if self.buckets == 0 {
            if !run.buckets.is_power_of_two() || run.buckets > MAX_BUCKETS {
                return Err(InputError::BadDigest("the bucket count is not a power of two up to 4096"));
            }
            self.buckets = run.buckets;
            self.key = run.key;
            // A bucket the digest does not cover counts as differing.
            self.differ.fill(run.buckets);
        }
        if run.buckets != self.buckets || run.key != self.key {
            return Err(InputError::BadDigest("the bucket count or key changed within the exchange"));
        }
        let count = crate::convert::to_u32(run.count());
        let end = run.first.checked_add(count).filter(|&end| end <= self.buckets);
        if run.first != self.received || end.is_none() {
            return Err(InputError::BadDigest("a digest run out of order or past the last bucket"));
        }
        let leaves = members.digest();
        for (i, bucket) in (run.first..run.first + count).enumerate() {
            let theirs = run.value(i);
            let ours = digest::salted(leaves.bucket_sum(bucket, self.buckets), self.key);
            if theirs == Some(ours) {
                self.differ.set(bucket, false);
            }
        }
        self.received += count;
        Ok(())
    }

    fn take_diff(&mut self, run: &SyncDiff<'_>) -> Result<(), InputError> {
        let count = crate::convert::to_u32(run.bits.len());
        let first_byte = run.first / 8;
        let in_order = run.buckets == self.buckets && run.first.is_multiple_of(8) && first_byte == self.received;
        if !in_order || first_byte.saturating_add(count) > self.diff_bytes() {
            return Err(InputError::BadDigest("a diff run out of order or past the last bucket"));
        }
        for (index, &byte) in (first_byte..).zip(run.bits) {
            self.differ.set_byte(index, byte);
        }
        // Bits past the last bucket name nothing.
        for bucket in self.buckets..(first_byte + count) * 8 {
            self.differ.set(bucket, false);
        }
        self.received += count;
        Ok(())
    }

    /// The other side's last frame of its digest (or diff) came: every
    /// bucket must have been covered.
    pub(super) fn check_complete(&self) -> Result<(), InputError> {
        let complete = match self.leg {
            Leg::Digest => self.buckets > 0 && self.received == self.buckets,
            Leg::Reply => self.received == self.diff_bytes(),
            Leg::Records => true,
        };
        if complete { Ok(()) } else { Err(InputError::BadDigest("the digest or diff ended before its last bucket")) }
    }
}
