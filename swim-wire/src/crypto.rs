//! Encryption of packets: AES-256-GCM with a keyring.
//!
//! A sealed packet keeps its header in the clear (with the `ENCRYPTED` and
//! `KEY_ID` flags and the key id), followed by the nonce, the ciphertext and
//! the authentication tag:
//!
//! ```text
//! [header][nonce: epoch u64, counter u32][ciphertext of: sender time u64 (ms), items][tag 16]
//! ```
//!
//! The additional authenticated data is the whole header followed by the
//! receiver's [`ReceiverTag`] (not sent: the receiver supplies its own), so
//! the cluster label, the version and the key id cannot be altered, and a
//! packet sealed for one member does not open at another. Only a packet whose
//! sender does not know its receiver's name (a join request to a seed) is
//! sealed for any receiver, said by the `ANY_RECEIVER` header flag; the
//! receiver decides what it accepts so. The primary key of
//! the [`Keyring`] seals; every installed key opens, chosen by the key id in
//! the header (no trial decryption). Sealing and opening work in place and
//! allocate nothing: [`Keyring::seal`] turns a plaintext packet in a buffer
//! into a sealed one, [`Keyring::open`] does the reverse.
//!
//! Nonces must never repeat under one key. The caller supplies them as a
//! random epoch (one per process run, from a cryptographic generator) and a
//! counter; with 64-bit random epochs a repeat across a cluster is
//! negligible. The sender time lets receivers refuse replays (see the
//! `swim-protocol` replay guard).

use core::fmt;

use ring::aead::{AES_256_GCM, Aad, LessSafeKey, Nonce as AeadNonce, UnboundKey};

use crate::cursor::Writer;
use crate::error::{Error, ErrorKind, Field, Result};
use crate::packet::{DecodeOptions, Header, MAX_LABEL_LEN, field, flags};

/// Bytes of a key.
pub const KEY_LEN: usize = 32;
/// Bytes of a nonce.
pub const NONCE_LEN: usize = 12;
/// Bytes of the authentication tag.
pub const TAG_LEN: usize = 16;
/// Bytes of the sender's timestamp inside the ciphertext.
pub const TIME_LEN: usize = 8;
/// How many more bytes a sealed packet takes than its plaintext: key id,
/// nonce, timestamp and tag.
pub const OVERHEAD: usize = 4 + NONCE_LEN + TIME_LEN + TAG_LEN;
/// Most keys a keyring holds.
pub const MAX_KEYS: usize = 8;

/// Bytes of a [`ReceiverTag`].
pub const RECEIVER_TAG_LEN: usize = 8;

/// What binds a sealed packet to its receiver: the first eight bytes of
/// SHA-256 over a domain tag and the receiver's member name. It is part of
/// the authenticated data and never sent.
///
/// ```
/// use swim_wire::crypto::ReceiverTag;
/// assert_eq!(ReceiverTag::of(b"node-1"), ReceiverTag::of(b"node-1"));
/// assert_ne!(ReceiverTag::of(b"node-1"), ReceiverTag::of(b"node-2"));
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct ReceiverTag([u8; RECEIVER_TAG_LEN]);

impl ReceiverTag {
    /// The tag of the member named `name`.
    pub fn of(name: &[u8]) -> Self {
        let mut ctx = ring::digest::Context::new(&ring::digest::SHA256);
        ctx.update(b"swim receiver\0");
        ctx.update(name);
        let digest = ctx.finish();
        let mut tag = [0u8; RECEIVER_TAG_LEN];
        if let Some(src) = digest.as_ref().get(..RECEIVER_TAG_LEN) {
            tag.copy_from_slice(src);
        }
        ReceiverTag(tag)
    }
}

/// Longest header a sealed packet has: fixed part, key id, label.
const MAX_SEALED_HEADER: usize = field::OPTIONAL + 4 + 1 + MAX_LABEL_LEN;

/// Copies `header` and, unless the packet is for any receiver, `to` into
/// `aad`; returns the length used. `header` is at most `MAX_SEALED_HEADER`
/// bytes (checked by the callers), so all of it and the tag always fit.
fn bound_aad(aad: &mut [u8; MAX_SEALED_HEADER + RECEIVER_TAG_LEN], header: &[u8], to: Option<&ReceiverTag>) -> usize {
    let tag: &[u8] = to.map_or(&[], |t| &t.0);
    let len = header.len() + tag.len();
    if let Some((h, rest)) = aad.split_at_mut_checked(header.len()) {
        h.copy_from_slice(header);
        if let Some(t) = rest.get_mut(..tag.len()) {
            t.copy_from_slice(tag);
        }
    }
    len.min(aad.len())
}

/// A key's id: the first four bytes of SHA-256 over a domain tag and the key.
///
/// ```
/// use swim_wire::crypto::key_id;
/// assert_eq!(key_id(&[7; 32]), key_id(&[7; 32]));
/// assert_ne!(key_id(&[7; 32]), key_id(&[8; 32]));
/// ```
pub fn key_id(key: &[u8; KEY_LEN]) -> u32 {
    let mut ctx = ring::digest::Context::new(&ring::digest::SHA256);
    ctx.update(b"swim key id\0");
    ctx.update(key);
    let digest = ctx.finish();
    let [a, b, c, d, ..] = *digest.as_ref() else { return 0 };
    u32::from_be_bytes([a, b, c, d])
}

/// A nonce: the sender's random epoch and its counter within it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct Nonce {
    /// Random per sender process run.
    pub epoch: u64,
    /// Increments with every packet the sender seals.
    pub counter: u32,
}

impl Nonce {
    fn to_bytes(self) -> [u8; NONCE_LEN] {
        let mut out = [0u8; NONCE_LEN];
        let (epoch, counter) = out.split_at_mut(8);
        epoch.copy_from_slice(&self.epoch.to_be_bytes());
        counter.copy_from_slice(&self.counter.to_be_bytes());
        out
    }

    fn from_bytes(b: [u8; NONCE_LEN]) -> Self {
        let [e0, e1, e2, e3, e4, e5, e6, e7, c0, c1, c2, c3] = b;
        Nonce {
            epoch: u64::from_be_bytes([e0, e1, e2, e3, e4, e5, e6, e7]),
            counter: u32::from_be_bytes([c0, c1, c2, c3]),
        }
    }
}

/// The nonces one sender seals with: an epoch drawn from the operating
/// system's random source, and a counter within it.
///
/// There is no way to choose the epoch (outside the `dangerous-fixed-nonces`
/// feature, for tests and fuzzers): a constant or reused epoch under one key
/// would repeat nonces, and AES-GCM fails completely when a nonce repeats.
/// With 64-bit random epochs, a repeat anywhere in a cluster is negligible.
///
/// ```
/// use swim_wire::crypto::NonceSequence;
/// let (mut a, mut b) = (NonceSequence::random().unwrap(), NonceSequence::random().unwrap());
/// let (first, second) = (a.next_nonce().unwrap(), a.next_nonce().unwrap());
/// assert_eq!((first.epoch, first.counter + 1), (second.epoch, second.counter));
/// assert_ne!(first.epoch, b.next_nonce().unwrap().epoch);
/// ```
pub struct NonceSequence {
    epoch: u64,
    counter: u32,
}

impl fmt::Debug for NonceSequence {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("NonceSequence").field("counter", &self.counter).finish_non_exhaustive()
    }
}

/// The operating system's random source failed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RandomError;

impl fmt::Display for RandomError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("the operating system's random source failed")
    }
}

impl std::error::Error for RandomError {}

/// Fills `out` from the operating system's cryptographic generator.
pub fn fill_random(out: &mut [u8]) -> core::result::Result<(), RandomError> {
    use ring::rand::SecureRandom;
    ring::rand::SystemRandom::new().fill(out).map_err(|_| RandomError)
}

/// A random `u64` from the operating system's cryptographic generator.
pub fn random_u64() -> core::result::Result<u64, RandomError> {
    let mut bytes = [0u8; 8];
    fill_random(&mut bytes)?;
    Ok(u64::from_be_bytes(bytes))
}

impl NonceSequence {
    /// A sequence with a fresh random epoch.
    pub fn random() -> core::result::Result<Self, RandomError> {
        Ok(NonceSequence { epoch: random_u64()?, counter: 0 })
    }

    /// A sequence starting at `epoch` and `counter`: only for tests and
    /// fuzzers that must produce repeated or chosen nonces. Never seal real
    /// traffic with it.
    #[cfg(feature = "dangerous-fixed-nonces")]
    pub fn dangerous_fixed(epoch: u64, counter: u32) -> Self {
        NonceSequence { epoch, counter }
    }

    #[cfg(test)]
    pub(crate) fn fixed(epoch: u64, counter: u32) -> Self {
        NonceSequence { epoch, counter }
    }

    /// The next nonce. When the counter wraps (after 2³² packets), a new
    /// random epoch is drawn.
    pub fn next_nonce(&mut self) -> core::result::Result<Nonce, RandomError> {
        let nonce = Nonce { epoch: self.epoch, counter: self.counter };
        match self.counter.checked_add(1) {
            Some(next) => self.counter = next,
            None => {
                self.epoch = random_u64()?;
                self.counter = 0;
            }
        }
        Ok(nonce)
    }
}

/// What went wrong managing a keyring.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum KeyringError {
    /// The keyring holds [`MAX_KEYS`] keys.
    Full,
    /// A key with this id is installed already.
    Duplicate(u32),
    /// No key has this id.
    Unknown(u32),
    /// The primary key cannot be removed; make another key primary first.
    Primary(u32),
}

impl fmt::Display for KeyringError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            KeyringError::Full => write!(f, "the keyring holds {MAX_KEYS} keys already"),
            KeyringError::Duplicate(id) => write!(f, "key {id:08x} is installed already"),
            KeyringError::Unknown(id) => write!(f, "no key {id:08x}"),
            KeyringError::Primary(id) => write!(f, "key {id:08x} is the primary key; make another primary first"),
        }
    }
}

impl std::error::Error for KeyringError {}

struct Key {
    id: u32,
    aead: LessSafeKey,
}

/// The keys a member seals and opens packets with.
///
/// ```
/// use swim_wire::crypto::{Keyring, NonceSequence, ReceiverTag, key_id};
/// use swim_wire::*;
///
/// let mut ring = Keyring::new(&[1; 32]);
/// let mut buf = [0u8; 256];
/// let mut w = PacketWriter::new(&mut buf, &Header::default(), 256 - crypto::OVERHEAD).unwrap();
/// w.push(&Message::Ping(Ping { seq: 1, source: b"a", target: b"b", target_generation: 0, target_incarnation: 0 })).unwrap();
/// let plain = w.finish().unwrap();
///
/// // Sealed for the member named "b", which opens it with its own tag.
/// let b = ReceiverTag::of(b"b");
/// let mut nonces = NonceSequence::random().unwrap();
/// let sealed = ring.seal(&mut buf, plain, &mut nonces, 1_700_000_000_000, Some(&b)).unwrap();
/// assert_eq!(sealed, plain + crypto::OVERHEAD);
/// let opened = ring.open(&mut buf, sealed, &DecodeOptions::default(), &b).unwrap();
/// assert_eq!((opened.sent_at_ms, opened.key_id), (1_700_000_000_000, key_id(&[1; 32])));
/// // The plaintext packet is back, its header now naming the key.
/// let packet = Packet::parse(&buf[..opened.len], &DecodeOptions::default()).unwrap();
/// assert_eq!(packet.header().key_id, Some(opened.key_id));
/// assert!(matches!(packet.primary(), Message::Ping(p) if p.seq == 1));
///
/// // Rotation: add a key, make it primary, remove the old one.
/// let new = ring.add(&[2; 32]).unwrap();
/// ring.set_primary(new).unwrap();
/// ring.remove(key_id(&[1; 32])).unwrap();
/// assert_eq!(ring.primary_id(), new);
/// ```
pub struct Keyring {
    keys: Vec<Key>,
    primary: u32,
}

impl fmt::Debug for Keyring {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let ids: Vec<String> = self.keys.iter().map(|k| format!("{:08x}", k.id)).collect();
        f.debug_struct("Keyring").field("primary", &format_args!("{:08x}", self.primary)).field("keys", &ids).finish()
    }
}

#[allow(clippy::expect_used)]
fn aead_key(raw: &[u8; KEY_LEN]) -> LessSafeKey {
    // `UnboundKey::new` fails only for a key of the wrong length, and
    // KEY_LEN is AES-256-GCM's key length.
    LessSafeKey::new(UnboundKey::new(&AES_256_GCM, raw).expect("a 32-byte key is an AES-256-GCM key"))
}

impl Keyring {
    /// A keyring holding `primary`.
    pub fn new(primary: &[u8; KEY_LEN]) -> Self {
        let id = key_id(primary);
        let mut keys = Vec::with_capacity(MAX_KEYS);
        keys.push(Key { id, aead: aead_key(primary) });
        Keyring { keys, primary: id }
    }

    /// Installs a key for opening; returns its id.
    pub fn add(&mut self, key: &[u8; KEY_LEN]) -> core::result::Result<u32, KeyringError> {
        let id = key_id(key);
        if self.keys.iter().any(|k| k.id == id) {
            return Err(KeyringError::Duplicate(id));
        }
        if self.keys.len() >= MAX_KEYS {
            return Err(KeyringError::Full);
        }
        self.keys.push(Key { id, aead: aead_key(key) });
        Ok(id)
    }

    /// Makes an installed key the one that seals.
    pub fn set_primary(&mut self, id: u32) -> core::result::Result<(), KeyringError> {
        if !self.keys.iter().any(|k| k.id == id) {
            return Err(KeyringError::Unknown(id));
        }
        self.primary = id;
        Ok(())
    }

    /// Removes a key (not the primary one).
    pub fn remove(&mut self, id: u32) -> core::result::Result<(), KeyringError> {
        if id == self.primary {
            return Err(KeyringError::Primary(id));
        }
        let before = self.keys.len();
        self.keys.retain(|k| k.id != id);
        if self.keys.len() == before {
            return Err(KeyringError::Unknown(id));
        }
        Ok(())
    }

    /// The id of the key that seals.
    pub fn primary_id(&self) -> u32 {
        self.primary
    }

    /// The ids of every installed key.
    pub fn ids(&self) -> impl Iterator<Item = u32> + '_ {
        self.keys.iter().map(|k| k.id)
    }

    fn key(&self, id: u32) -> Option<&LessSafeKey> {
        self.keys.iter().find(|k| k.id == id).map(|k| &k.aead)
    }

    /// Seals the plaintext packet in `buf[..plain_len]` in place with the
    /// primary key and the next nonce of `nonces`, for the member whose tag
    /// is `to` (`None`: for any receiver, which sets the `ANY_RECEIVER`
    /// flag); returns the sealed length (`plain_len + OVERHEAD`). `buf` must
    /// have room for the overhead.
    pub fn seal(
        &self,
        buf: &mut [u8],
        plain_len: usize,
        nonces: &mut NonceSequence,
        sent_at_ms: u64,
        to: Option<&ReceiverTag>,
    ) -> Result<usize> {
        let any_version = DecodeOptions { min_version: 0, max_version: u8::MAX, ..DecodeOptions::default() };
        let (header, body_at) = Header::parse(buf.get(..plain_len).unwrap_or_default(), &any_version)?;
        if header.encrypted {
            return Err(Error::new(ErrorKind::Encrypted, None, Field::Flags, field::FLAGS));
        }
        let mut label = [0u8; MAX_LABEL_LEN];
        let label_len = header.label.len().min(MAX_LABEL_LEN);
        if let (Some(dst), Some(src)) = (label.get_mut(..label_len), header.label.get(..label_len)) {
            dst.copy_from_slice(src);
        }
        let sealed_header = Header {
            version: header.version,
            encrypted: true,
            key_id: Some(self.primary),
            label: label.get(..label_len).unwrap_or_default(),
            any_receiver: to.is_none(),
        };
        let header_len = sealed_header.encoded_len();
        let body_len = plain_len - body_at;
        let sealed_len = header_len + NONCE_LEN + TIME_LEN + body_len + TAG_LEN;
        if sealed_len > buf.len() {
            let kind = ErrorKind::NoRoom { needed: sealed_len, remaining: buf.len() };
            return Err(Error::new(kind, None, Field::Packet, plain_len));
        }
        let key =
            self.key(self.primary).ok_or(Error::new(ErrorKind::UnknownKey(self.primary), None, Field::KeyId, 0))?;
        // Drawn before `buf` changes: a failure leaves the plaintext as it was.
        let nonce =
            nonces.next_nonce().map_err(|_| Error::new(ErrorKind::NoRandomness, None, Field::Packet, header_len))?;
        let text_at = header_len + NONCE_LEN;
        buf.copy_within(body_at..plain_len, text_at + TIME_LEN);
        let mut w = Writer::new(buf, 0, header_len);
        let step = sealed_header.write(&mut w);
        w.finish(step)?;
        let (header_bytes, rest) = buf.split_at_mut(header_len);
        let mut aad = [0u8; MAX_SEALED_HEADER + RECEIVER_TAG_LEN];
        let aad_len = bound_aad(&mut aad, header_bytes, to);
        let aad = aad.get(..aad_len).unwrap_or_default();
        let (nonce_bytes, rest) = rest.split_at_mut(NONCE_LEN);
        let (text, tag_space) = rest.split_at_mut(TIME_LEN + body_len);
        nonce_bytes.copy_from_slice(&nonce.to_bytes());
        if let Some(time) = text.get_mut(..TIME_LEN) {
            time.copy_from_slice(&sent_at_ms.to_be_bytes());
        }
        let tag = key
            .seal_in_place_separate_tag(AeadNonce::assume_unique_for_key(nonce.to_bytes()), Aad::from(aad), text)
            .map_err(|_| Error::new(ErrorKind::BadSeal, None, Field::Packet, header_len))?;
        if let Some(dst) = tag_space.get_mut(..TAG_LEN) {
            dst.copy_from_slice(tag.as_ref());
        }
        Ok(sealed_len)
    }

    /// Opens the sealed packet in `buf[..len]` in place, for the member
    /// whose tag is `me`, leaving the plaintext packet (header included) at
    /// the start of `buf`. A packet sealed for another member fails; one
    /// sealed for any receiver opens, with [`Opened::any_receiver`] set.
    /// Fails without telling apart a wrong key, a wrong receiver, a forgery
    /// or corruption.
    pub fn open(&self, buf: &mut [u8], len: usize, opts: &DecodeOptions, me: &ReceiverTag) -> Result<Opened> {
        let (header, header_len) = Header::parse(buf.get(..len).unwrap_or_default(), opts)?;
        let any_receiver = header.any_receiver;
        if !header.encrypted {
            return Err(Error::new(ErrorKind::NotEncrypted, None, Field::Flags, field::FLAGS));
        }
        let Some(key_id) = header.key_id else {
            return Err(Error::new(ErrorKind::UnknownKey(0), None, Field::KeyId, field::OPTIONAL));
        };
        let key =
            self.key(key_id).ok_or(Error::new(ErrorKind::UnknownKey(key_id), None, Field::KeyId, field::OPTIONAL))?;
        if header_len > MAX_SEALED_HEADER {
            // Extensions no version writes on a sealed packet: all of the
            // header, and the receiver's tag, must be authenticated.
            let kind = ErrorKind::BadHeaderLength(u8::try_from(header_len).unwrap_or(u8::MAX));
            return Err(Error::new(kind, None, Field::HeaderLength, field::HEADER_LEN));
        }
        let minimum = header_len + NONCE_LEN + TIME_LEN + TAG_LEN;
        if len < minimum {
            let kind = ErrorKind::Truncated { needed: minimum, available: len };
            return Err(Error::new(kind, None, Field::Packet, header_len));
        }
        let (header_bytes, rest) = buf.split_at_mut(header_len);
        let mut aad = [0u8; MAX_SEALED_HEADER + RECEIVER_TAG_LEN];
        let aad_len = bound_aad(&mut aad, header_bytes, (!any_receiver).then_some(me));
        let aad = aad.get(..aad_len).unwrap_or_default();
        let (nonce_bytes, rest) = rest.split_at_mut(NONCE_LEN);
        let sealed = rest.get_mut(..len - header_len - NONCE_LEN).unwrap_or_default();
        let mut raw = [0u8; NONCE_LEN];
        raw.copy_from_slice(nonce_bytes);
        let nonce = Nonce::from_bytes(raw);
        let text = key
            .open_in_place(AeadNonce::assume_unique_for_key(raw), Aad::from(aad), sealed)
            .map_err(|_| Error::new(ErrorKind::BadSeal, None, Field::Packet, header_len))?;
        let mut time = [0u8; TIME_LEN];
        if let Some(src) = text.get(..TIME_LEN) {
            time.copy_from_slice(src);
        }
        let body_len = text.len().saturating_sub(TIME_LEN);
        // Clear the ENCRYPTED flag and move the items up to the header.
        if let Some(bits) = header_bytes.get_mut(field::FLAGS) {
            *bits &= !(flags::ENCRYPTED | flags::ANY_RECEIVER);
        }
        let body_at = header_len + NONCE_LEN + TIME_LEN;
        buf.copy_within(body_at..body_at + body_len, header_len);
        Ok(Opened { len: header_len + body_len, nonce, sent_at_ms: u64::from_be_bytes(time), key_id, any_receiver })
    }
}

/// What [`Keyring::open`] found.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Opened {
    /// Length of the plaintext packet now at the start of the buffer.
    pub len: usize,
    /// The sender's nonce (for replay checks).
    pub nonce: Nonce,
    /// The sender's wall-clock time when it sealed the packet (ms since the
    /// Unix epoch).
    pub sent_at_ms: u64,
    /// The key that opened it.
    pub key_id: u32,
    /// It was sealed for any receiver, not for this one by name.
    pub any_receiver: bool,
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::message::tests::hex;
    use crate::{Message, Packet, PacketWriter, Ping};

    fn bob() -> ReceiverTag {
        ReceiverTag::of(b"bob")
    }

    fn plaintext(buf: &mut [u8], label: &[u8]) -> usize {
        let header = Header { label, ..Header::default() };
        let budget = buf.len() - OVERHEAD;
        let mut w = PacketWriter::new(buf, &header, budget).unwrap();
        w.push(&Message::Ping(Ping {
            seq: 7,
            source: b"a",
            target: b"b",
            target_generation: 0,
            target_incarnation: 3,
        }))
        .unwrap();
        w.finish().unwrap()
    }

    #[test]
    fn golden_sealed_packet() {
        // Fixed key, nonce and time give fixed bytes: the envelope's format
        // (and the AES-256-GCM output) is pinned.
        let ring = Keyring::new(&[0x11; 32]);
        let mut buf = [0u8; 128];
        let plain = plaintext(&mut buf, b"");
        let sealed = ring
            .seal(&mut buf, plain, &mut NonceSequence::fixed(0x0102_0304_0506_0708, 9), 1000, Some(&bob()))
            .unwrap();
        let id = key_id(&[0x11; 32]).to_be_bytes();
        let mut expected = hex("5357 02 03 09");
        expected.extend_from_slice(&id);
        expected.extend(hex("0102030405060708 00000009"));
        assert_eq!(&buf[..expected.len()], &expected[..]);
        assert_eq!(sealed, plain + OVERHEAD);
        // The ciphertext is not the plaintext.
        assert!(!buf[..sealed].windows(2).any(|w| w == b"a\x01"));
        let opened = ring.open(&mut buf, sealed, &DecodeOptions::default(), &bob()).unwrap();
        assert_eq!(opened.nonce, Nonce { epoch: 0x0102_0304_0506_0708, counter: 9 });
        let packet = Packet::parse(&buf[..opened.len], &DecodeOptions::default()).unwrap();
        assert_eq!(packet.header().key_id, Some(u32::from_be_bytes(id)));
        assert!(!packet.header().encrypted);
    }

    #[test]
    fn any_change_is_detected() {
        let ring = Keyring::new(&[3; 32]);
        let mut buf = [0u8; 128];
        let plain = plaintext(&mut buf, b"prod");
        let sealed = ring.seal(&mut buf, plain, &mut NonceSequence::fixed(1, 1), 5, Some(&bob())).unwrap();
        let original = buf;
        for i in 0..sealed {
            // Flags and key id changes are refused before the AEAD; others by it.
            if i == field::FLAGS {
                continue;
            }
            let mut tampered = original;
            tampered[i] ^= 0x01;
            let err = ring.open(&mut tampered, sealed, &DecodeOptions::default(), &bob()).unwrap_err();
            assert!(
                matches!(
                    err.kind(),
                    ErrorKind::BadSeal
                        | ErrorKind::UnknownKey(_)
                        | ErrorKind::BadMagic
                        | ErrorKind::UnsupportedVersion { .. }
                        | ErrorKind::BadHeaderLength(_)
                        | ErrorKind::Truncated { .. }
                ),
                "byte {i}: {err}"
            );
        }
        // A relabelled packet (another cluster's label) fails authentication.
        let mut relabelled = original;
        let at = 5 + 4 + 1; // after the key id and the label's length byte
        relabelled[at..at + 4].copy_from_slice(b"test");
        assert_eq!(
            ring.open(&mut relabelled, sealed, &DecodeOptions::default(), &bob()).unwrap_err().kind(),
            ErrorKind::BadSeal
        );
    }

    #[test]
    fn wrong_and_rotated_keys() {
        let mut a = Keyring::new(&[1; 32]);
        let b = Keyring::new(&[2; 32]);
        let mut buf = [0u8; 128];
        let plain = plaintext(&mut buf, b"");
        let sealed = a.seal(&mut buf, plain, &mut NonceSequence::fixed(1, 1), 0, Some(&bob())).unwrap();
        let mut copy = buf;
        let err = b.open(&mut copy, sealed, &DecodeOptions::default(), &bob()).unwrap_err();
        assert_eq!(err.kind(), ErrorKind::UnknownKey(key_id(&[1; 32])));
        // After installing b's key, a can open b's packets and still its own.
        let id2 = a.add(&[2; 32]).unwrap();
        let mut by_b = [0u8; 128];
        let plain_b = plaintext(&mut by_b, b"");
        let sealed_b = b.seal(&mut by_b, plain_b, &mut NonceSequence::fixed(2, 1), 0, Some(&bob())).unwrap();
        assert_eq!(a.open(&mut by_b, sealed_b, &DecodeOptions::default(), &bob()).unwrap().key_id, id2);
        assert!(a.open(&mut buf, sealed, &DecodeOptions::default(), &bob()).is_ok());
        // Keyring rules.
        assert_eq!(a.add(&[2; 32]), Err(KeyringError::Duplicate(id2)));
        assert_eq!(a.remove(key_id(&[1; 32])), Err(KeyringError::Primary(key_id(&[1; 32]))));
        assert_eq!(a.set_primary(99), Err(KeyringError::Unknown(99)));
        for k in 3..=u8::try_from(MAX_KEYS).unwrap() {
            a.add(&[k; 32]).unwrap();
        }
        assert_eq!(a.add(&[200; 32]), Err(KeyringError::Full));
        assert_eq!(a.ids().count(), MAX_KEYS);
        a.set_primary(id2).unwrap();
        a.remove(key_id(&[1; 32])).unwrap();
        assert_eq!(a.remove(key_id(&[1; 32])), Err(KeyringError::Unknown(key_id(&[1; 32]))));
    }

    #[test]
    fn sealing_needs_room_and_a_plaintext_packet() {
        let ring = Keyring::new(&[1; 32]);
        let mut buf = [0u8; 96];
        let plain = plaintext(&mut buf, b"");
        let mut small = [0u8; 40];
        small[..plain].copy_from_slice(&buf[..plain]);
        assert!(
            ring.seal(&mut small, plain, &mut NonceSequence::fixed(1, 1), 0, Some(&bob())).unwrap_err().is_no_room()
        );
        let sealed = ring.seal(&mut buf, plain, &mut NonceSequence::fixed(1, 1), 0, Some(&bob())).unwrap();
        assert_eq!(
            ring.seal(&mut buf, sealed, &mut NonceSequence::fixed(1, 2), 0, Some(&bob())).unwrap_err().kind(),
            ErrorKind::Encrypted
        );
        let mut plain_copy = [0u8; 96];
        let plain2 = plaintext(&mut plain_copy, b"");
        assert_eq!(
            ring.open(&mut plain_copy, plain2, &DecodeOptions::default(), &bob()).unwrap_err().kind(),
            ErrorKind::NotEncrypted
        );
    }

    #[test]
    fn a_packet_opens_only_at_its_receiver_unless_sealed_for_any() {
        let ring = Keyring::new(&[5; 32]);
        let carol = ReceiverTag::of(b"carol");
        let mut buf = [0u8; 128];
        let plain = plaintext(&mut buf, b"prod");
        let sealed = ring.seal(&mut buf, plain, &mut NonceSequence::fixed(1, 1), 0, Some(&bob())).unwrap();
        let mut at_carol = buf;
        let err = ring.open(&mut at_carol, sealed, &DecodeOptions::default(), &carol).unwrap_err();
        assert_eq!(err.kind(), ErrorKind::BadSeal);
        // Claiming "any receiver" on it does not help: the flag is authenticated.
        let mut flagged = buf;
        flagged[field::FLAGS] |= flags::ANY_RECEIVER;
        let err = ring.open(&mut flagged, sealed, &DecodeOptions::default(), &carol).unwrap_err();
        assert_eq!(err.kind(), ErrorKind::BadSeal);
        let opened = ring.open(&mut buf, sealed, &DecodeOptions::default(), &bob()).unwrap();
        assert!(!opened.any_receiver);

        let mut buf = [0u8; 128];
        let plain = plaintext(&mut buf, b"prod");
        let sealed = ring.seal(&mut buf, plain, &mut NonceSequence::fixed(1, 2), 0, None).unwrap();
        assert_ne!(buf[field::FLAGS] & flags::ANY_RECEIVER, 0);
        let mut unflagged = buf;
        unflagged[field::FLAGS] &= !flags::ANY_RECEIVER;
        let err = ring.open(&mut unflagged, sealed, &DecodeOptions::default(), &carol).unwrap_err();
        assert_eq!(err.kind(), ErrorKind::BadSeal);
        let opened = ring.open(&mut buf, sealed, &DecodeOptions::default(), &carol).unwrap();
        assert!(opened.any_receiver);
        // The opened packet reads as plaintext, flags cleared.
        let packet = Packet::parse(&buf[..opened.len], &DecodeOptions::default()).unwrap();
        assert!(!packet.header().encrypted && !packet.header().any_receiver);
    }

    #[test]
    fn a_sealed_header_too_long_to_authenticate_whole_is_refused() {
        let ring = Keyring::new(&[5; 32]);
        let mut buf = [0u8; 600];
        let plain = plaintext(&mut buf, b"");
        let sealed = ring.seal(&mut buf, plain, &mut NonceSequence::fixed(1, 3), 0, Some(&bob())).unwrap();
        // The same packet with 200 bytes of header extension inserted.
        let header_len = usize::from(buf[field::HEADER_LEN]);
        let mut long = buf[..header_len].to_vec();
        long.extend_from_slice(&[0u8; 200]);
        long[field::HEADER_LEN] = u8::try_from(header_len + 200).unwrap();
        long.extend_from_slice(&buf[header_len..sealed]);
        let len = long.len();
        let err = ring.open(&mut long, len, &DecodeOptions::default(), &bob()).unwrap_err();
        assert!(matches!(err.kind(), ErrorKind::BadHeaderLength(_)), "{err}");
    }
}
