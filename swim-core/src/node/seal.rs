//! Encryption as the node applies it: sealing outgoing packets and frames,
//! opening incoming ones, refusing replays, and rotating keys.

use swim_wire::Header;
use swim_wire::crypto::{Keyring, Nonce, NonceSequence, OVERHEAD, RandomError, ReceiverTag};

use super::Node;
use crate::config::{Config, SecretKey};
use crate::error::{CommandError, InputError};
use crate::replay::{Refusal, ReplayGuard};
use crate::time::Time;

#[derive(Debug)]
pub(crate) struct Sealing {
    ring: Keyring,
    encrypt_outgoing: bool,
    accept_plaintext: bool,
    /// Drawn from the operating system: never configurable, so never reused.
    nonces: NonceSequence,
    replay: ReplayGuard,
    /// This node's own tag: what packets sealed for it are bound to.
    me: ReceiverTag,
}

impl Sealing {
    /// The node's sealing state, `Ok(None)` without encryption; fails only
    /// if the operating system's random source does.
    pub(crate) fn new(config: &Config, name: &[u8]) -> Result<Option<Self>, RandomError> {
        let Some(e) = config.security.encryption.as_ref() else { return Ok(None) };
        let Some((primary, others)) = e.keys.split_first() else { return Ok(None) };
        let mut ring = Keyring::new(&primary.0);
        for key in others {
            // Distinct ids and at most MAX_KEYS keys: checked by `Config::validate`.
            let _ = ring.add(&key.0);
        }
        let capacity = 4 * config.limits.expected_members.max(64);
        let max_age_ms = u64::try_from(e.max_age.as_millis()).unwrap_or(u64::MAX);
        Ok(Some(Sealing {
            ring,
            encrypt_outgoing: e.encrypt_outgoing,
            accept_plaintext: e.accept_plaintext,
            nonces: NonceSequence::random()?,
            replay: ReplayGuard::new(capacity, max_age_ms),
            me: ReceiverTag::of(name),
        }))
    }
}

/// A packet opened (or accepted as plaintext), and the nonce to record once
/// the rest of it has been validated.
pub(super) struct Unsealed {
    pub(super) len: usize,
    pub(super) nonce: Option<Nonce>,
    /// Sealed for any receiver rather than for this node by name.
    pub(super) any_receiver: bool,
}

/// Who a packet or frame is sealed for: the member with this tag, or (for a
/// join request to a seed, whose name is not known yet) any receiver.
pub(crate) type To = Option<ReceiverTag>;

impl Node {
    /// Gives the node the wall-clock time (ms since the Unix epoch) at `now`.
    /// With encryption, packets carry their sender's wall-clock time, and
    /// packets sent longer ago than `Encryption::max_age` are refused as
    /// replays; the runtime calls this regularly so the node follows clock
    /// adjustments. Without a wall clock, only the replay window applies.
    pub fn set_wall_clock(&mut self, now: Time, unix_ms: u64) {
        self.wall = Some((now, unix_ms));
    }

    fn wall_ms(&self, now: Time) -> Option<u64> {
        let (at, ms) = self.wall?;
        let elapsed = u64::try_from(now.saturating_since(at).as_millis()).unwrap_or(u64::MAX);
        Some(ms.saturating_add(elapsed))
    }

    /// Bytes a packet may take before sealing, within `budget`.
    pub(super) fn plain_budget(&self, budget: usize) -> usize {
        match &self.sealing {
            Some(s) if s.encrypt_outgoing => budget.saturating_sub(OVERHEAD),
            _ => budget,
        }
    }

    /// Whether this node seals what it sends.
    pub(super) fn seals(&self) -> bool {
        self.sealing.as_ref().is_some_and(|s| s.encrypt_outgoing)
    }

    /// The tag binding packets to the member named `name`, `None` when
    /// this node does not seal (the tag is then not needed).
    pub(super) fn tag(&self, name: &[u8]) -> To {
        self.seals().then(|| ReceiverTag::of(name))
    }

    /// Seals the plaintext packet in `buf[..len]` for `to` if the node
    /// encrypts; returns the length to send.
    pub(super) fn seal(&mut self, buf: &mut [u8], len: usize, to: To) -> Option<usize> {
        let sent_at = self.wall_ms(self.now).unwrap_or(0);
        let Some(s) = self.sealing.as_mut().filter(|s| s.encrypt_outgoing) else { return Some(len) };
        s.ring.seal(buf, len, &mut s.nonces, sent_at, to.as_ref()).ok()
    }

    /// Opens `data` in place if it is sealed, and checks the encryption
    /// policy and replay protection. Nothing is recorded yet.
    pub(super) fn unseal(&self, data: &mut [u8]) -> Result<Unsealed, InputError> {
        let len = data.len();
        let (header, _) = Header::parse(data, &self.decode)?;
        let Some(s) = &self.sealing else {
            if header.encrypted {
                return Err(InputError::Sealed);
            }
            return Ok(Unsealed { len, nonce: None, any_receiver: false });
        };
        if !header.encrypted {
            return if s.accept_plaintext {
                Ok(Unsealed { len, nonce: None, any_receiver: false })
            } else {
                Err(InputError::Plaintext)
            };
        }
        let opened = s.ring.open(data, len, &self.decode, &s.me)?;
        let wall = self.wall_ms(self.now);
        let time_checked = match wall {
            Some(now_ms) => s.replay.check(opened.nonce, opened.sent_at_ms, now_ms),
            None => s.replay.check(opened.nonce, opened.sent_at_ms, opened.sent_at_ms),
        };
        time_checked.map_err(|r| match r {
            Refusal::Replayed => InputError::Replayed,
            Refusal::Stale | Refusal::Future => InputError::Stale,
        })?;
        Ok(Unsealed { len: opened.len, nonce: Some(opened.nonce), any_receiver: opened.any_receiver })
    }

    /// Records the nonce of a packet that was accepted.
    pub(super) fn accepted(&mut self, nonce: Option<Nonce>) {
        let now_ms = self.now.as_micros() / 1000;
        if let (Some(s), Some(nonce)) = (self.sealing.as_mut(), nonce) {
            s.replay.record(nonce, now_ms);
        }
    }

    /// Installs a key for opening packets (others may already seal with it);
    /// returns its id.
    pub fn add_key(&mut self, key: &SecretKey) -> Result<u32, CommandError> {
        let s = self.sealing.as_mut().ok_or(CommandError::NoEncryption)?;
        s.ring.add(&key.0).map_err(CommandError::Keyring)
    }

    /// Makes an installed key the one this node seals with.
    pub fn use_key(&mut self, id: u32) -> Result<(), CommandError> {
        let s = self.sealing.as_mut().ok_or(CommandError::NoEncryption)?;
        s.ring.set_primary(id).map_err(CommandError::Keyring)
    }

    /// Removes a key (not the one in use).
    pub fn remove_key(&mut self, id: u32) -> Result<(), CommandError> {
        let s = self.sealing.as_mut().ok_or(CommandError::NoEncryption)?;
        s.ring.remove(id).map_err(CommandError::Keyring)
    }

    /// The ids of the installed keys, the one in use first (empty without
    /// encryption).
    pub fn key_ids(&self) -> Vec<u32> {
        let Some(s) = &self.sealing else { return Vec::new() };
        let primary = s.ring.primary_id();
        std::iter::once(primary).chain(s.ring.ids().filter(|&id| id != primary)).collect()
    }
}
