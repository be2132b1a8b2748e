//! Application state: a small versioned key-value store per member
//! (chitchat's model). Each member owns its keys; each write gets the next
//! version, the owner's process generation and the sequence number it
//! shares with its broadcasts, and the newest version of a key wins
//! everywhere. Deletions are tombstones, kept for `limits.tombstone_ttl`
//! and then forgotten.
//!
//! New versions spread by gossip, as broadcasts do: a `State` item with the
//! broadcast layout, its payload a [`StateBody`]. A member passes on only
//! versions new to it. Every sync carries each side's whole store after
//! its records and broadcasts, for repair: a member that gossip missed, or
//! that was on the other side of a partition, catches up at its next sync.
//! An owner's entries go when the owner is reaped, and when a newer process
//! of it writes.

use std::collections::HashMap;

use swim_wire::{MAX_NAME_LEN, StateBody};

use super::Node;
use crate::broadcasts::{BroadcastKind, Stored};
use crate::error::CommandError;
use crate::events::Record;
use crate::time::Time;

/// One entry: the owner's key, at a version.
#[derive(Debug)]
pub(crate) struct Entry {
    pub(crate) owner: Vec<u8>,
    pub(crate) generation: u64,
    pub(crate) seq: u32,
    /// The encoded [`StateBody`] (what syncs send as is).
    pub(crate) body: Vec<u8>,
    /// When a tombstone was written or learned (it goes `tombstone_ttl`
    /// later).
    pub(crate) deleted_at: Option<Time>,
}

impl Entry {
    /// The entry's key, value and whether it was deleted.
    pub(crate) fn parsed(&self) -> Option<StateBody<'_>> {
        StateBody::parse(&self.body).ok()
    }
}

/// Every member's entries this node holds.
#[derive(Debug, Default)]
pub(crate) struct Store {
    /// In no particular order, so that a sync can walk them by index.
    entries: Vec<Entry>,
    /// Owner and key (a length byte, the owner, the key) to index.
    index: HashMap<Vec<u8>, usize>,
    /// Per owner: the process generation its entries belong to, and how
    /// many it has (O(1) checks per received entry).
    owners: HashMap<Vec<u8>, Owner>,
}

#[derive(Debug, Clone, Copy, Default)]
struct Owner {
    generation: u64,
    keys: usize,
}

/// The index key of `owner`'s `key`, in `buf`.
fn index_key<'b>(buf: &'b mut [u8; 2 * MAX_NAME_LEN + 1], owner: &[u8], key: &[u8]) -> &'b [u8] {
    let len = 1 + owner.len() + key.len();
    if let Some(out) = buf.get_mut(..len) {
        let (head, rest) = out.split_at_mut(1);
        head.copy_from_slice(&[u8::try_from(owner.len()).unwrap_or(u8::MAX)]);
        let (o, k) = rest.split_at_mut(owner.len());
        o.copy_from_slice(owner);
        k.copy_from_slice(key);
    }
    buf.get(..len).unwrap_or_default()
}

impl Store {
    pub(crate) fn len(&self) -> usize {
        self.entries.len()
    }

    pub(crate) fn get(&self, index: usize) -> Option<&Entry> {
        self.entries.get(index)
    }

    fn find(&self, owner: &[u8], key: &[u8]) -> Option<usize> {
        let mut buf = [0u8; 2 * MAX_NAME_LEN + 1];
        self.index.get(index_key(&mut buf, owner, key)).copied()
    }

    /// The generation `owner`'s entries belong to, and how many it has.
    fn owner(&self, owner: &[u8]) -> Option<Owner> {
        self.owners.get(owner).copied()
    }

    /// The entries of `owner` (tombstones included).
    pub(crate) fn of<'a>(&'a self, owner: &'a [u8]) -> impl Iterator<Item = &'a Entry> + 'a {
        self.entries.iter().filter(move |e| e.owner == owner)
    }

    /// Puts an entry; `false` if a version as new or newer is held.
    fn put(&mut self, owner: &[u8], generation: u64, seq: u32, body: &[u8], deleted_at: Option<Time>) -> bool {
        let key = match StateBody::parse(body) {
            Ok(b) => b.key,
            Err(_) => return false,
        };
        if let Some(i) = self.find(owner, key) {
            let Some(e) = self.entries.get_mut(i) else { return false };
            if (generation, seq) <= (e.generation, e.seq) {
                return false;
            }
            (e.generation, e.seq, e.deleted_at) = (generation, seq, deleted_at);
            e.body.clear();
            e.body.extend_from_slice(body);
            return true;
        }
        let mut buf = [0u8; 2 * MAX_NAME_LEN + 1];
        let index_key = index_key(&mut buf, owner, key).to_vec();
        self.index.insert(index_key, self.entries.len());
        self.entries.push(Entry { owner: owner.to_vec(), generation, seq, body: body.to_vec(), deleted_at });
        match self.owners.get_mut(owner) {
            Some(o) => o.keys += 1,
            None => {
                self.owners.insert(owner.to_vec(), Owner { generation, keys: 1 });
            }
        }
        true
    }

    /// Removes the entries `keep` refuses (O(entries)).
    fn retain(&mut self, mut keep: impl FnMut(&Entry) -> bool) {
        let before = self.entries.len();
        self.entries.retain(|e| keep(e));
        if self.entries.len() != before {
            self.index.clear();
            for o in self.owners.values_mut() {
                o.keys = 0;
            }
            let mut buf = [0u8; 2 * MAX_NAME_LEN + 1];
            for (i, e) in self.entries.iter().enumerate() {
                if let Some(b) = e.parsed() {
                    self.index.insert(index_key(&mut buf, &e.owner, b.key).to_vec(), i);
                }
                if let Some(o) = self.owners.get_mut(&e.owner) {
                    o.keys += 1;
                }
            }
            self.owners.retain(|_, o| o.keys > 0);
        }
    }
}

impl Node {
    /// Sets this node's state `key` to `value` (a new version, gossiped to
    /// every member and repaired by syncs). The key is 1 to 255 bytes; key
    /// and value together at most `dissemination.max_broadcast_payload`
    /// less 4 bytes.
    ///
    /// ```
    /// use swim_protocol::{Config, Node, Time};
    /// let mut a = Node::new(b"a", &["10.0.0.1:7946".parse().unwrap()], b"", Config::lan(), Time::ZERO).unwrap();
    /// a.set_state(Time::ZERO, b"load", b"0.42").unwrap();
    /// assert_eq!(a.state_value(b"a", b"load"), Some(&b"0.42"[..]));
    /// a.delete_state(Time::ZERO, b"load").unwrap();
    /// assert_eq!(a.state_value(b"a", b"load"), None);
    /// ```
    pub fn set_state(&mut self, now: Time, key: &[u8], value: &[u8]) -> Result<(), CommandError> {
        self.write_state(now, StateBody { deleted: false, key, value })
    }

    /// Deletes this node's state `key` (a tombstone, gossiped like a write).
    pub fn delete_state(&mut self, now: Time, key: &[u8]) -> Result<(), CommandError> {
        self.write_state(now, StateBody { deleted: true, key, value: &[] })
    }

    fn write_state(&mut self, now: Time, body: StateBody<'_>) -> Result<(), CommandError> {
        let now = self.advance(now);
        if self.leave.is_some() {
            return Err(CommandError::Left);
        }
        if body.key.is_empty() || body.key.len() > MAX_NAME_LEN {
            return Err(CommandError::BadState("the key must be 1 to 255 bytes"));
        }
        let limit = self.config.dissemination.max_broadcast_payload;
        if body.encoded_len() > limit {
            return Err(CommandError::TooLarge { what: "state", len: body.encoded_len(), limit });
        }
        let mine = self.state.of(self.members.local().map_or(&[][..], |e| &e.name)).count();
        let known = self.state.find(self.local_name(), body.key).is_some();
        if !known && (mine >= self.config.limits.max_state_keys || self.state.len() >= self.config.limits.max_state) {
            return Err(CommandError::TooLarge {
                what: "state keys",
                len: mine + 1,
                limit: self.config.limits.max_state_keys,
            });
        }
        let mut encoded = vec![0u8; body.encoded_len()];
        let len = body.encode(&mut encoded).map_err(|_| CommandError::BadState("it cannot be encoded"))?;
        let encoded = encoded.get(..len).unwrap_or_default();
        let expires = now + self.config.dissemination.broadcast_lifetime;
        // With the broadcast pool full of entries still being gossiped, the
        // write still counts (its version taken): syncs spread it.
        let seq = match self.broadcast_as(now, encoded, expires, BroadcastKind::State) {
            Err(CommandError::BroadcastQueueFull) => {
                let seq = self.next_broadcast_seq;
                self.next_broadcast_seq = seq.wrapping_add(1);
                seq
            }
            other => other?,
        };
        let generation = self.process_generation;
        let owner = self.members.local().map(|e| e.name.to_vec()).unwrap_or_default();
        self.state.put(&owner, generation, seq, encoded, body.deleted.then_some(now));
        self.stats.state_writes += 1;
        Ok(())
    }

    /// The value of `owner`'s state `key` (`None` if unknown or deleted).
    pub fn state_value(&self, owner: &[u8], key: &[u8]) -> Option<&[u8]> {
        let e = self.state.get(self.state.find(owner, key)?)?;
        let b = e.parsed()?;
        (!b.deleted).then_some(b.value)
    }

    /// `owner`'s state: its keys and values (deleted keys left out), in no
    /// particular order.
    pub fn state_of<'a>(&'a self, owner: &'a [u8]) -> impl Iterator<Item = (&'a [u8], &'a [u8])> + 'a {
        self.state.of(owner).filter_map(|e| e.parsed()).filter(|b| !b.deleted).map(|b| (b.key, b.value))
    }

    /// A state entry arrived (gossiped: passed on if new; from a sync:
    /// merged only). Entries of this node itself, of members it does not
    /// know, and malformed ones are dropped.
    pub(super) fn on_state(&mut self, now: Time, b: &swim_wire::UserBroadcast<'_>, gossiped: bool) {
        let owner = b.origin;
        if owner == self.local_name() || self.members.find(owner).is_none() {
            return;
        }
        let Ok(body) = StateBody::parse(b.payload) else {
            self.stats.state_refused += 1;
            return;
        };
        // Only the owner's current process writes: an entry of an older
        // process is stale, and one of a process the table does not know
        // (yet, or ever: a forgery) waits for the owner's alive update.
        let current = self.members.find(owner).and_then(|s| self.members.get(s)).map_or(0, |e| e.generation);
        let held = self.state.owner(owner);
        if b.generation != current || held.is_some_and(|o| b.generation < o.generation) {
            self.stats.state_refused += 1;
            return;
        }
        let known = self.state.find(owner, body.key);
        let owner_full =
            held.is_some_and(|o| o.generation == b.generation && o.keys >= self.config.limits.max_state_keys);
        if known.is_none() && (self.state.len() >= self.config.limits.max_state || owner_full) {
            self.stats.state_refused += 1;
            return;
        }
        // A newer process of the owner: what the older one wrote is gone
        // (once per restart of the owner: the generation is the table's).
        if held.is_some_and(|o| o.generation < b.generation) {
            self.state.retain(|e| e.owner != owner || e.generation >= b.generation);
            if let Some(o) = self.state.owners.get_mut(owner) {
                o.generation = b.generation;
            }
        }
        if !self.state.put(owner, b.generation, b.seq, b.payload, body.deleted.then_some(now)) {
            return;
        }
        self.stats.state_updates += 1;
        let value = (!body.deleted).then_some(body.value);
        self.events.push_with(owner.len() + body.key.len() + body.value.len(), |arena| Record::State {
            owner: arena.store(owner),
            key: arena.store(body.key),
            value: value.map(|v| arena.store(v)),
        });
        if gossiped {
            let ttl = core::time::Duration::from_millis(u64::from(b.ttl_ms))
                .min(self.config.dissemination.broadcast_lifetime);
            let stored = Stored {
                origin: owner,
                generation: b.generation,
                seq: b.seq,
                payload: b.payload,
                expires: now + ttl,
                kind: BroadcastKind::State,
            };
            let queue = &mut self.broadcast_queue;
            if let Some(index) =
                super::input::store_broadcast(&mut self.broadcasts, queue, &mut self.stats, stored, false)
            {
                self.broadcast_queue.enqueue(index, now);
                self.arm_gossip(now);
            }
        }
    }

    /// Forgets the entries of a member that is reaped, and tombstones past
    /// their time (O(entries), at most once a period).
    pub(super) fn sweep_state(&mut self, now: Time) {
        if self.state.len() == 0 || now < self.state_sweep_at {
            return;
        }
        self.state_sweep_at = now + self.config.probe.period;
        let ttl = self.config.limits.tombstone_ttl;
        let members = &self.members;
        self.state.retain(|e| members.find(&e.owner).is_some() && e.deleted_at.is_none_or(|at| now < at + ttl));
    }
}
