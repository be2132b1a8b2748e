//! Packets an attacker writes: plaintext, or sealed with a key it holds.

use swim::SecretKey;
use swim_wire::crypto::{Keyring, NonceSequence, OVERHEAD, ReceiverTag};
use swim_wire::{Header, Message, PacketWriter};

/// The wall clock in milliseconds (what sealed packets carry).
pub(super) fn wall_ms() -> u64 {
    let since = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap_or_default();
    u64::try_from(since.as_millis()).unwrap_or(u64::MAX)
}

/// A plaintext packet with `label`: `primary`, then as many `updates` as fit
/// in 1400 bytes (room left for sealing).
pub(super) fn plain(label: &[u8], primary: &Message<'_>, updates: &[Message<'_>]) -> Vec<u8> {
    plain_within(label, primary, updates, 1400 - OVERHEAD)
}

/// As [`plain`], within `budget` bytes.
pub(super) fn plain_within(label: &[u8], primary: &Message<'_>, updates: &[Message<'_>], budget: usize) -> Vec<u8> {
    let mut buf = vec![0u8; budget + OVERHEAD];
    let header = Header { label, ..Header::default() };
    let Ok(mut w) = PacketWriter::new(&mut buf, &header, budget) else { return Vec::new() };
    if w.push(primary).is_err() {
        return Vec::new();
    }
    for u in updates {
        if w.push(u).is_err() {
            break;
        }
    }
    let len = w.finish().unwrap_or(0);
    buf.truncate(len);
    buf
}

/// The same packet sealed with `key` for the member named `to` (`None`: for
/// any receiver), as a holder of that key would send it.
pub(super) fn sealed(
    key: &SecretKey,
    to: Option<&[u8]>,
    label: &[u8],
    primary: &Message<'_>,
    updates: &[Message<'_>],
) -> Vec<u8> {
    seal(key, to, plain(label, primary, updates))
}

/// Seals the plaintext packet `buf` with `key` for the member named `to`
/// (`None`: for any receiver).
pub(super) fn seal(key: &SecretKey, to: Option<&[u8]>, mut buf: Vec<u8>) -> Vec<u8> {
    let len = buf.len();
    buf.resize(len + OVERHEAD, 0);
    let ring = Keyring::new(&key.0);
    let Ok(mut nonces) = NonceSequence::random() else { return Vec::new() };
    let to = to.map(ReceiverTag::of);
    match ring.seal(&mut buf, len, &mut nonces, wall_ms(), to.as_ref()) {
        Ok(sealed) => {
            buf.truncate(sealed);
            buf
        }
        Err(_) => Vec::new(),
    }
}

/// Deterministic pseudo-random bytes (xorshift), for garbage.
pub(super) fn garbage(state: &mut u64, len: usize) -> Vec<u8> {
    (0..len)
        .map(|_| {
            *state ^= *state << 13;
            *state ^= *state >> 7;
            *state ^= *state << 17;
            (*state >> 24) as u8
        })
        .collect()
}

/// The nonce epoch of a sealed datagram (the 8 bytes after its header).
pub(super) fn nonce_epoch(datagram: &[u8]) -> Option<u64> {
    let header_len = usize::from(*datagram.get(4)?);
    let bytes: [u8; 8] = datagram.get(header_len..header_len + 8)?.try_into().ok()?;
    Some(u64::from_be_bytes(bytes))
}
