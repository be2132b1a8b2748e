//! Sealing, opening and framing as an emulated member does it: the
//! protocol's own codec (`swim-wire`) with the cluster key.

use std::time::{SystemTime, UNIX_EPOCH};

use swim_wire::crypto::{Keyring, NonceSequence, OVERHEAD, ReceiverTag};
use swim_wire::{DEFAULT_BUDGET, DecodeOptions, Header, Message, Packet, PacketWriter, Sync, SyncFlags, frame};

/// Plaintext bytes of a sync frame this side writes (the real member takes
/// up to its `sync.frame_budget`, 64 KiB with the presets).
pub const FRAME_BUDGET: usize = 32 * 1024;

/// The wall clock in ms since the Unix epoch (what sealed packets carry).
pub fn now_ms() -> u64 {
    SystemTime::now().duration_since(UNIX_EPOCH).map_or(0, |d| d.as_millis() as u64)
}

/// The cluster key and the decoding rules.
pub struct Codec {
    ring: Keyring,
    /// What a packet must satisfy.
    pub opts: DecodeOptions,
}

impl Codec {
    /// A codec with `key`.
    pub fn new(key: &[u8; 32]) -> Self {
        Codec { ring: Keyring::new(key), opts: DecodeOptions::default() }
    }

    /// Opens a sealed packet in place for the member tagged `me`: the
    /// plaintext length, and whether it was sealed for any receiver.
    pub fn open(&self, buf: &mut [u8], len: usize, me: &ReceiverTag) -> Result<(usize, bool), swim_wire::Error> {
        let opened = self.ring.open(buf, len, &self.opts, me)?;
        Ok((opened.len, opened.any_receiver))
    }

    /// Parses an opened packet.
    pub fn parse<'b>(&self, plain: &'b [u8]) -> Result<Packet<'b>, swim_wire::Error> {
        Packet::parse(plain, &self.opts)
    }

    /// One sealed datagram: `messages[0]` as the primary, then as many of
    /// the others as fit the default budget.
    pub fn datagram(
        &self,
        nonces: &mut NonceSequence,
        to: Option<&ReceiverTag>,
        messages: &[Message<'_>],
    ) -> Option<Vec<u8>> {
        let mut buf = vec![0u8; DEFAULT_BUDGET];
        let mut w = PacketWriter::new(&mut buf, &Header::default(), DEFAULT_BUDGET - OVERHEAD).ok()?;
        let (first, rest) = messages.split_first()?;
        w.push(first).ok()?;
        for m in rest {
            if w.fits(m) {
                w.push(m).ok()?;
            }
        }
        let len = w.finish().ok()?;
        let len = self.ring.seal(&mut buf, len, nonces, now_ms(), to).ok()?;
        buf.truncate(len);
        Some(buf)
    }

    /// A side's turn of a sync exchange as frames (length prefix included):
    /// `items` in order, as many per frame as fit [`FRAME_BUDGET`], each
    /// frame opened by a `Sync` header with `flags`, `source` and `total`
    /// and numbered from `first_chunk`; the last one flagged `LAST` (one
    /// frame even with no items).
    #[allow(clippy::too_many_arguments)]
    pub fn frames(
        &self,
        nonces: &mut NonceSequence,
        to: Option<&ReceiverTag>,
        flags: u8,
        source: &[u8],
        total: u32,
        first_chunk: u32,
        items: &[Message<'_>],
    ) -> Option<Vec<Vec<u8>>> {
        let header = Header::default();
        let sync_len = Message::Sync(Sync { flags: SyncFlags(0), source, total, chunk: 0 }).encoded_len();
        let room = FRAME_BUDGET - OVERHEAD - header.encoded_len() - sync_len;
        // Split the items into frames first: the LAST flag opens a frame.
        let mut groups: Vec<&[Message<'_>]> = Vec::new();
        let (mut start, mut used) = (0, 0);
        for (i, m) in items.iter().enumerate() {
            let len = m.encoded_len();
            if used + len > room && i > start {
                groups.push(&items[start..i]);
                (start, used) = (i, 0);
            }
            used += len;
        }
        groups.push(&items[start..]);
        let count = groups.len();
        let mut out = Vec::with_capacity(count);
        for (k, group) in groups.into_iter().enumerate() {
            let last = if k + 1 == count { SyncFlags::LAST } else { 0 };
            let chunk = first_chunk + k as u32;
            let sync = Message::Sync(Sync { flags: SyncFlags(flags | last), source, total, chunk });
            let mut buf = vec![0u8; frame::PREFIX_LEN + FRAME_BUDGET];
            let body = &mut buf[frame::PREFIX_LEN..];
            let mut w = PacketWriter::new(body, &header, FRAME_BUDGET - OVERHEAD).ok()?;
            w.push(&sync).ok()?;
            for m in group {
                w.push(m).ok()?;
            }
            let len = w.finish().ok()?;
            let len = self.ring.seal(body, len, nonces, now_ms(), to).ok()?;
            frame::write_prefix(&mut buf, len).ok()?;
            buf.truncate(frame::PREFIX_LEN + len);
            out.push(buf);
        }
        Some(out)
    }
}
