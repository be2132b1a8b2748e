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
//! of it writes ([`Event::StateCleared`](crate::Event::StateCleared)).
//!
//! **Forgotten tombstones.** A node forgets a tombstone when its time is
//! up, and remembers, per owner and process, the highest version it forgot
//! (the owner's *floor*). A key it does not hold arriving at a version at
//! or below the floor is stale: a tombstone it forgot (syncs carry each
//! tombstone's remaining time, so all members forget it at about the same
//! time), or a value deleted since, from a member that missed the deletion.
//! It is refused, unless the owner itself sends it (the owner is the
//! authority on its own keys). A member that moves to a new generation
//! (refuting a past life of itself) re-stamps its entries with it.

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
    /// When a tombstone is forgotten (`None`: a value).
    pub(crate) expires: Option<Time>,
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
    /// The highest version (in `generation`) of a tombstone forgotten.
    floor: u32,
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

    pub(crate) fn find(&self, owner: &[u8], key: &[u8]) -> Option<usize> {
        let mut buf = [0u8; 2 * MAX_NAME_LEN + 1];
        self.index.get(index_key(&mut buf, owner, key)).copied()
    }

    /// The generation `owner`'s entries belong to, and how many it has.
    fn owner(&self, owner: &[u8]) -> Option<Owner> {
        self.owners.get(owner).copied()
    }

    /// Whether `owner` has a value (not only tombstones), O(entries).
    fn has_values(&self, owner: &[u8]) -> bool {
        self.of(owner).any(|e| e.parsed().is_some_and(|b| !b.deleted))
    }

    /// The entries of `owner` (tombstones included).
    pub(crate) fn of<'a>(&'a self, owner: &'a [u8]) -> impl Iterator<Item = &'a Entry> + 'a {
        self.entries.iter().filter(move |e| e.owner == owner)
    }

    /// Puts an entry; `false` if a version as new or newer is held.
    fn put(&mut self, owner: &[u8], generation: u64, seq: u32, body: &[u8], expires: Option<Time>) -> bool {
        let key = match StateBody::parse(body) {
            Ok(b) => b.key,
            Err(_) => return false,
        };
        if let Some(i) = self.find(owner, key) {
            let Some(e) = self.entries.get_mut(i) else { return false };
            if (generation, seq) <= (e.generation, e.seq) {
                return false;
            }
            (e.generation, e.seq, e.expires) = (generation, seq, expires);
            e.body.clear();
            e.body.extend_from_slice(body);
            return true;
        }
        let mut buf = [0u8; 2 * MAX_NAME_LEN + 1];
        let index_key = index_key(&mut buf, owner, key).to_vec();
        self.index.insert(index_key, self.entries.len());
        self.entries.push(Entry { owner: owner.to_vec(), generation, seq, body: body.to_vec(), expires });
        match self.owners.get_mut(owner) {
            Some(o) => o.keys += 1,
            None => {
                self.owners.insert(owner.to_vec(), Owner { generation, keys: 1, floor: 0 });
            }
        }
        true
    }

    /// Raises the floors of the owners whose tombstones are past their time
    /// at `now` (they are removed next); whether there are any.
    fn expire(&mut self, now: Time) -> bool {
        let mut any = false;
        for e in self.entries.iter().filter(|e| e.expires.is_some_and(|at| now >= at)) {
            if let Some(o) = self.owners.get_mut(&e.owner)
                && o.generation == e.generation
            {
                o.floor = o.floor.max(e.seq);
            }
            any = true;
        }
        any
    }

    /// Moves `owner`'s entries to its new process `generation`, numbering
    /// them from `next_seq` on (in store order); returns the next free one.
    fn restamp(&mut self, owner: &[u8], generation: u64, mut next_seq: u32) -> u32 {
        for e in self.entries.iter_mut().filter(|e| e.owner == owner) {
            (e.generation, e.seq) = (generation, next_seq);
            next_seq = next_seq.wrapping_add(1);
        }
        if let Some(o) = self.owners.get_mut(owner) {
            (o.generation, o.floor) = (generation, 0);
        }
        next_seq
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
            // An owner's floor outlives its entries (while it is in the table).
            self.owners.retain(|_, o| o.keys > 0 || o.floor > 0);
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
        let expires = body.deleted.then(|| now + self.config.limits.tombstone_ttl);
        self.state.put(&owner, generation, seq, encoded, expires);
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

    /// This node moved to a new process generation (refuting a past life):
    /// its entries move with it, so that the others, who now take only the
    /// new generation's, get them at their next sync.
    pub(super) fn restamp_state(&mut self) {
        let Some(own) = self.members.local().map(|e| e.name.clone()) else { return };
        let next = self.next_broadcast_seq;
        self.next_broadcast_seq = self.state.restamp(&own, self.process_generation, next);
    }

    /// A state entry arrived from the member named `from` (gossiped: passed
    /// on if new, and `ttl_ms` is its broadcast's; from a sync: merged only,
    /// and `ttl_ms` is a tombstone's remaining time). Entries of this node
    /// itself, of members it does not know, stale and malformed ones are
    /// dropped.
    pub(super) fn on_state(&mut self, now: Time, b: &swim_wire::UserBroadcast<'_>, gossiped: bool, from: &[u8]) {
        let owner = b.origin;
        if owner == self.local_name() {
            self.correct_own_state(now, b);
            return;
        }
        if self.members.find(owner).is_none() {
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
        let mut held = self.state.owner(owner);
        if b.generation != current || held.is_some_and(|o| b.generation < o.generation) {
            self.stats.state_refused += 1;
            return;
        }
        // A newer process of the owner: what the older one wrote is gone
        // (once per restart of the owner: the generation is the table's),
        // before the entry is weighed against the limits.
        if held.is_some_and(|o| o.generation < b.generation) {
            let had_values = self.state.has_values(owner);
            self.state.retain(|e| e.owner != owner || e.generation >= b.generation);
            if let Some(o) = self.state.owners.get_mut(owner) {
                (o.generation, o.floor) = (b.generation, 0);
            }
            if had_values {
                self.events.push_with(owner.len(), |arena| Record::StateCleared { owner: arena.store(owner) });
            }
            held = self.state.owner(owner);
        }
        let known = self.state.find(owner, body.key);
        let owner_full =
            held.is_some_and(|o| o.generation == b.generation && o.keys >= self.config.limits.max_state_keys);
        if known.is_none() && (self.state.len() >= self.config.limits.max_state || owner_full) {
            self.stats.state_refused += 1;
            return;
        }
        // A key this node does not hold, at or below a version it forgot a
        // tombstone of: stale (see the module's documentation), unless the
        // owner itself vouches for a value.
        let floor = held.filter(|o| o.generation == b.generation).map_or(0, |o| o.floor);
        let expired = body.deleted && !gossiped && b.ttl_ms == 0;
        if known.is_none() && ((b.seq <= floor && (body.deleted || from != owner)) || expired) {
            self.stats.state_refused += 1;
            return;
        }
        // A tombstone lives out the time its sender gave it left (a sync's),
        // or all of it (a new deletion, gossiped).
        let ttl = self.config.limits.tombstone_ttl;
        let left = if gossiped { ttl } else { core::time::Duration::from_millis(u64::from(b.ttl_ms)).min(ttl) };
        if !self.state.put(owner, b.generation, b.seq, b.payload, body.deleted.then(|| now + left)) {
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

    /// An entry of this node's own came back from a member. One it does not
    /// hold, of a version it wrote before, is a value it deleted (and has
    /// forgotten the tombstone of), or one of a past process of it: the
    /// member missed the deletion, or the restart. The owner is the
    /// authority on its keys: it deletes the key again, and the fresh
    /// tombstone corrects that member and any other still holding the
    /// value (a past process's, once one of the new process's entries
    /// reaches them, drops all of that process's). Bounded like any write
    /// (`limits.max_state_keys`); counted in `stats.state_corrected`.
    fn correct_own_state(&mut self, now: Time, b: &swim_wire::UserBroadcast<'_>) {
        let Ok(body) = StateBody::parse(b.payload) else { return };
        if body.deleted || self.state.find(self.local_name(), body.key).is_some() {
            return;
        }
        let generation = self.process_generation;
        let past = b.generation < generation || (b.generation == generation && b.seq < self.next_broadcast_seq);
        if past && self.delete_state(now, body.key).is_ok() {
            self.stats.state_corrected += 1;
        }
    }

    /// Forgets the entries of a member that is reaped (reported once per
    /// owner that had values), and tombstones past their time, raising their
    /// owners' floors (O(entries + owners), at most once a period).
    pub(super) fn sweep_state(&mut self, now: Time) {
        if self.state.owners.is_empty() || now < self.state_sweep_at {
            return;
        }
        self.state_sweep_at = now + self.config.probe.period;
        let members = &self.members;
        let events = &mut self.events;
        let mut reaped = false;
        let state = &self.state;
        for owner in state.owners.keys().filter(|owner| members.find(owner).is_none()) {
            reaped = true;
            if state.has_values(owner) {
                events.push_with(owner.len(), |arena| Record::StateCleared { owner: arena.store(owner) });
            }
        }
        if reaped {
            self.state.owners.retain(|owner, _| members.find(owner).is_some());
        }
        if self.state.expire(now) || reaped {
            self.state.retain(|e| members.find(&e.owner).is_some() && e.expires.is_none_or(|at| now < at));
        }
    }
}
