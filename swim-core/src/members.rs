//! The member table: one slot per known member (including this node, always
//! in slot 0), a name index, and generation-checked references.
//!
//! Slots are reused after a member is reaped; a reused slot keeps the
//! capacity of its name and metadata buffers, so churn does not allocate once
//! the table has warmed up.

use core::time::Duration;
use std::hash::{BuildHasher, RandomState};
use std::net::SocketAddr;

use hashbrown::HashTable;
use smallvec::SmallVec;

use crate::digest::{self, Leaves};
use crate::time::Time;
use crate::version::Version;

/// A member's state as this node sees it.
///
/// ```
/// use swim_protocol::State;
/// assert!(State::Suspect.is_live());
/// assert!(!State::Faulty.is_live() && !State::Left.is_live());
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum State {
    /// Answering probes (as far as this node knows).
    Alive,
    /// Failed a probe; it may still refute before its suspicion times out.
    Suspect,
    /// Declared failed.
    Faulty,
    /// Departed gracefully.
    Left,
}

impl core::fmt::Display for State {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.write_str(match self {
            State::Alive => "alive",
            State::Suspect => "suspect",
            State::Faulty => "faulty",
            State::Left => "left",
        })
    }
}

impl State {
    /// Whether the member counts as part of the cluster (alive or suspect).
    pub const fn is_live(self) -> bool {
        matches!(self, State::Alive | State::Suspect)
    }

    /// The state as member records carry it on the wire.
    ///
    /// ```
    /// use swim_protocol::State;
    /// assert_eq!(State::Suspect.to_wire(), swim_wire::MemberState::Suspect);
    /// ```
    pub const fn to_wire(self) -> swim_wire::MemberState {
        match self {
            State::Alive => swim_wire::MemberState::Alive,
            State::Suspect => swim_wire::MemberState::Suspect,
            State::Faulty => swim_wire::MemberState::Faulty,
            State::Left => swim_wire::MemberState::Left,
        }
    }
}

/// Who suspects or declares a member.
#[derive(Debug, Clone, Copy)]
pub(crate) enum By<'a> {
    /// This node.
    Local,
    /// The member of this name (possibly unknown to this node).
    Name(&'a [u8]),
}

/// The slot of this node itself.
pub(crate) const LOCAL: u32 = 0;

/// A reference to a slot that notices when the slot has been reused.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct MemberRef {
    pub(crate) slot: u32,
    pub(crate) generation: u32,
}

/// Sequence numbers a [`BroadcastWindow`] remembers below its highest.
pub(crate) const BROADCAST_WINDOW: u32 = 128;

/// Dedup window for user broadcasts from one origin: the origin's process
/// generation, the highest sequence number delivered from it, and a bitmap
/// of the [`BROADCAST_WINDOW`] before it. A broadcast is identified by
/// origin, generation and sequence number: a restarted origin numbers its
/// broadcasts from 1 again under a newer generation.
#[derive(Debug, Clone, Copy, Default)]
pub(crate) struct BroadcastWindow {
    pub(crate) generation: u64,
    pub(crate) highest: u32,
    pub(crate) seen: u128,
    pub(crate) any: bool,
}

/// What a [`BroadcastWindow`] says about a broadcast.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Admit {
    /// Not seen before: deliver it.
    New,
    /// Delivered already.
    Duplicate,
    /// From an older process of the origin, or too far below the window to
    /// tell: not delivered, and counted.
    TooOld,
}

impl BroadcastWindow {
    /// Records broadcast `seq` of the origin's process `generation`.
    pub(crate) fn accept(&mut self, generation: u64, seq: u32) -> Admit {
        if !self.any || generation > self.generation {
            *self = BroadcastWindow { generation, highest: seq, seen: 1, any: true };
            return Admit::New;
        }
        if generation < self.generation {
            return Admit::TooOld;
        }
        if crate::serial::newer(seq, self.highest) {
            let shift = seq.wrapping_sub(self.highest);
            self.seen = if shift >= BROADCAST_WINDOW { 1 } else { (self.seen << shift) | 1 };
            self.highest = seq;
            return Admit::New;
        }
        let back = self.highest.wrapping_sub(seq);
        if back >= BROADCAST_WINDOW {
            return Admit::TooOld;
        }
        let bit = 1u128 << back;
        let new = self.seen & bit == 0;
        self.seen |= bit;
        if new { Admit::New } else { Admit::Duplicate }
    }
}

/// Suspicion records allocated up front for a table of `capacity`: enough
/// that loss-driven suspicions in a healthy cluster never grow the table.
pub(crate) fn suspicion_capacity(capacity: usize) -> usize {
    (capacity / 8).clamp(16, 4096)
}

/// Most independent confirmations of a suspicion that are tracked.
pub(crate) const MAX_CONFIRMERS: usize = 8;

/// Suspicion bookkeeping of a suspect member.
#[derive(Debug, Clone, Default)]
pub(crate) struct Suspicion {
    pub(crate) started: Time,
    pub(crate) deadline: Time,
    /// Bounds of the timeout, fixed when the suspicion started.
    pub(crate) min: Duration,
    pub(crate) max: Duration,
    /// Confirmations expected (k).
    pub(crate) expected: u8,
    /// The stamp of its current deadline in the deadline heap.
    pub(crate) stamp: u32,
    /// Check rounds this node started: probes of the suspect itself before
    /// its verdict (see `Node::check_suspicion`).
    pub(crate) checks: u8,
    /// Whether the suspect answered one of this node's probes since the
    /// last check round started.
    pub(crate) answered: bool,
    /// Name hashes of the members whose suspicions were counted (the first
    /// accuser included), so that each counts once.
    pub(crate) accusers: SmallVec<[u64; MAX_CONFIRMERS]>,
}

/// One slot of the table.
#[derive(Debug, Clone)]
pub(crate) struct Entry {
    /// Counts the slot's uses, so that references to a reused slot fail.
    pub(crate) slot_generation: u32,
    pub(crate) occupied: bool,
    /// Inline up to 32 bytes: typical names cost no allocation, and a lookup
    /// compares them without a second cache miss.
    pub(crate) name: SmallVec<[u8; 32]>,
    pub(crate) addrs: SmallVec<[SocketAddr; 2]>,
    pub(crate) meta: Vec<u8>,
    /// The process generation of the member as this node knows it.
    pub(crate) generation: u64,
    pub(crate) incarnation: u32,
    pub(crate) state: State,
    pub(crate) changed_at: Time,
    /// Who suspected or declared the member (for gossip and events). Inline
    /// up to 32 bytes, so that suspicions do not allocate for typical names;
    /// a longer name allocates once per slot and the capacity is kept.
    pub(crate) accuser: SmallVec<[u8; 32]>,
    /// The record of its current suspicion in the side table, or
    /// `NO_SUSPICION` (set exactly while the member is suspect).
    suspicion: u32,
    pub(crate) broadcasts: BroadcastWindow,
    /// When the last broadcast seen from this member expires: the entry is
    /// not reaped before (its window must outlive every copy).
    pub(crate) broadcasts_until: Time,
    /// Whether the node's tombstone queue holds a record for this entry
    /// (at most one: a member buried again and again costs one record).
    pub(crate) tombstone_queued: bool,
    /// Smoothed round trip of this node's direct probes of the member, in
    /// microseconds (0: none measured yet).
    pub(crate) rtt_us: u32,
    /// When the member last answered one of this node's probes (directly or
    /// through a helper).
    pub(crate) answered_at: Option<Time>,
}

impl Entry {
    /// Records an answer to a probe, and its round trip when it was direct:
    /// the first sample is taken as it is, later ones move the average by
    /// an eighth of their difference (as TCP smooths its round trip).
    pub(crate) fn answered(&mut self, now: Time, rtt: Option<core::time::Duration>) {
        self.answered_at = Some(now);
        if let Some(rtt) = rtt {
            let sample = u32::try_from(rtt.as_micros()).unwrap_or(u32::MAX).max(1);
            self.rtt_us = if self.rtt_us == 0 {
                sample
            } else {
                let (old, new) = (i64::from(self.rtt_us), i64::from(sample));
                u32::try_from(old + (new - old) / 8).unwrap_or(u32::MAX).max(1)
            };
        }
    }

    /// The member's version.
    pub(crate) fn version(&self) -> Version {
        Version::new(self.generation, self.incarnation)
    }

    fn set_version(&mut self, version: Version) {
        self.generation = version.generation;
        self.incarnation = version.incarnation;
    }

    fn vacant() -> Self {
        Entry {
            slot_generation: 0,
            occupied: false,
            name: SmallVec::new(),
            addrs: SmallVec::new(),
            meta: Vec::new(),
            generation: 0,
            incarnation: 0,
            state: State::Left,
            changed_at: Time::ZERO,
            accuser: SmallVec::new(),
            suspicion: NO_SUSPICION,
            broadcasts: BroadcastWindow::default(),
            broadcasts_until: Time::ZERO,
            tombstone_queued: false,
            rtt_us: 0,
            answered_at: None,
        }
    }
}

/// An entry without a suspicion record.
const NO_SUSPICION: u32 = u32::MAX;

/// The table.
#[derive(Debug)]
pub(crate) struct Members {
    entries: Vec<Entry>,
    free: Vec<u32>,
    /// Suspicion records, apart from the entries: few members are suspect
    /// at once, and the record (128 bytes) would otherwise sit in every
    /// entry. Records are reused through `free_suspicions`.
    suspicions: Vec<Suspicion>,
    free_suspicions: Vec<u32>,
    index: HashTable<u32>,
    hasher: RandomState,
    /// Per-bucket sums of the records, for delta syncs.
    digest: Leaves,
    /// Members alive or suspect, this node included.
    live: usize,
    occupied: usize,
}

impl Members {
    pub(crate) fn with_capacity(capacity: usize) -> Self {
        Members {
            entries: Vec::with_capacity(capacity),
            free: Vec::with_capacity(capacity),
            suspicions: Vec::with_capacity(suspicion_capacity(capacity)),
            free_suspicions: Vec::with_capacity(suspicion_capacity(capacity)),
            index: HashTable::with_capacity(capacity),
            hasher: RandomState::new(),
            digest: Leaves::with_capacity(capacity),
            live: 0,
            occupied: 0,
        }
    }

    /// The keyed hash of a name (also identifies accusers).
    pub(crate) fn hash(&self, name: &[u8]) -> u64 {
        self.hasher.hash_one(name)
    }

    /// Records who accused the member in `slot`: `by`, or this node itself.
    pub(crate) fn set_accuser(&mut self, slot: u32, by: By<'_>) {
        let (head, tail) = self.entries.split_at_mut(1);
        let (Some(local), Some(entry)) = (head.first(), tail.get_mut((slot as usize).wrapping_sub(1))) else { return };
        entry.accuser.clear();
        entry.accuser.extend_from_slice(match by {
            By::Local => &local.name,
            By::Name(name) => name,
        });
    }

    /// The name of an accuser.
    pub(crate) fn accuser_name<'a>(&'a self, by: By<'a>) -> &'a [u8] {
        match by {
            By::Local => self.local().map_or(&[], |e| &e.name),
            By::Name(name) => name,
        }
    }

    pub(crate) fn find(&self, name: &[u8]) -> Option<u32> {
        let entries = &self.entries;
        self.index
            .find(self.hash(name), |&slot| entries.get(slot as usize).is_some_and(|e| e.name.as_slice() == name))
            .copied()
    }

    /// Adds a member (the caller checks `len()` against its limit).
    pub(crate) fn insert(
        &mut self,
        name: &[u8],
        addrs: impl Iterator<Item = SocketAddr>,
        meta: &[u8],
        version: Version,
        state: State,
        now: Time,
    ) -> Option<u32> {
        let slot = match self.free.pop() {
            Some(slot) => slot,
            None => {
                let slot = u32::try_from(self.entries.len()).ok()?;
                self.entries.push(Entry::vacant());
                slot
            }
        };
        let entry = self.entries.get_mut(slot as usize)?;
        entry.occupied = true;
        entry.name.clear();
        entry.name.extend_from_slice(name);
        entry.addrs.clear();
        entry.addrs.extend(addrs);
        entry.meta.clear();
        entry.meta.extend_from_slice(meta);
        entry.set_version(version);
        entry.state = state;
        entry.changed_at = now;
        entry.accuser.clear();
        entry.suspicion = NO_SUSPICION;
        entry.broadcasts = BroadcastWindow::default();
        entry.broadcasts_until = Time::ZERO;
        entry.tombstone_queued = false;
        entry.rtt_us = 0;
        entry.answered_at = None;
        let key = digest::name_key(name);
        self.digest.insert(slot, key, digest::record_hash(key, version.generation, version.incarnation, state));
        let hash = self.hasher.hash_one(name);
        let entries = &self.entries;
        let hasher = &self.hasher;
        self.index
            .insert_unique(hash, slot, |&s| hasher.hash_one(entries.get(s as usize).map_or(&[][..], |e| &e.name)));
        self.occupied += 1;
        if state.is_live() {
            self.live += 1;
        }
        Some(slot)
    }

    /// Frees a slot (the member is forgotten).
    pub(crate) fn remove(&mut self, slot: u32) {
        let Some(entry) = self.entries.get(slot as usize) else { return };
        if !entry.occupied || slot == LOCAL {
            return;
        }
        let hash = self.hash(&entry.name);
        if let Ok(found) = self.index.find_entry(hash, |&s| s == slot) {
            found.remove();
        }
        self.end_suspicion(slot);
        self.digest.remove(slot);
        if let Some(entry) = self.entries.get_mut(slot as usize) {
            if entry.state.is_live() {
                self.live -= 1;
            }
            entry.occupied = false;
            entry.slot_generation = entry.slot_generation.wrapping_add(1);
            self.occupied -= 1;
            self.free.push(slot);
        }
    }

    pub(crate) fn get(&self, slot: u32) -> Option<&Entry> {
        self.entries.get(slot as usize).filter(|e| e.occupied)
    }

    pub(crate) fn get_mut(&mut self, slot: u32) -> Option<&mut Entry> {
        self.entries.get_mut(slot as usize).filter(|e| e.occupied)
    }

    pub(crate) fn local(&self) -> Option<&Entry> {
        self.get(LOCAL)
    }

    pub(crate) fn reference(&self, slot: u32) -> Option<MemberRef> {
        self.get(slot).map(|e| MemberRef { slot, generation: e.slot_generation })
    }

    pub(crate) fn resolve(&self, r: MemberRef) -> Option<&Entry> {
        self.get(r.slot).filter(|e| e.slot_generation == r.generation)
    }

    pub(crate) fn resolve_mut(&mut self, r: MemberRef) -> Option<&mut Entry> {
        self.get_mut(r.slot).filter(|e| e.slot_generation == r.generation)
    }

    /// Changes a member's state, keeping the live count right.
    pub(crate) fn set_state(&mut self, slot: u32, state: State, now: Time) {
        let Some(entry) = self.entries.get_mut(slot as usize).filter(|e| e.occupied) else { return };
        match (entry.state.is_live(), state.is_live()) {
            (true, false) => self.live -= 1,
            (false, true) => self.live += 1,
            _ => {}
        }
        entry.state = state;
        entry.changed_at = now;
        let version = entry.version();
        if state != State::Suspect {
            self.end_suspicion(slot);
        }
        self.rehash(slot, version, state);
    }

    /// Changes a member's version.
    pub(crate) fn set_version(&mut self, slot: u32, version: Version) {
        let Some(entry) = self.get_mut(slot) else { return };
        entry.set_version(version);
        let state = entry.state;
        self.rehash(slot, version, state);
    }

    fn rehash(&mut self, slot: u32, version: Version, state: State) {
        let key = self.digest.key(slot);
        self.digest.update(slot, digest::record_hash(key, version.generation, version.incarnation, state));
    }

    /// The per-bucket sums of the records.
    pub(crate) fn digest(&self) -> &Leaves {
        &self.digest
    }

    /// Whether the digest agrees with the records: every member's key and
    /// contribution as computed afresh, and the leaves' lists and sums (for
    /// `check_invariants`: O(N)).
    pub(crate) fn digest_consistent(&self) -> bool {
        self.digest.members() == self.occupied
            && self.digest.lists_consistent()
            && self.iter().all(|(slot, e)| {
                let key = digest::name_key(&e.name);
                self.digest.record(slot) == Some((key, digest::record_hash(key, e.generation, e.incarnation, e.state)))
            })
    }

    /// The suspicion of a suspect member.
    pub(crate) fn suspicion(&self, slot: u32) -> Option<&Suspicion> {
        self.get(slot).and_then(|e| self.suspicions.get(e.suspicion as usize))
    }

    pub(crate) fn suspicion_mut(&mut self, slot: u32) -> Option<&mut Suspicion> {
        let id = self.get(slot)?.suspicion;
        self.suspicions.get_mut(id as usize)
    }

    /// A cleared suspicion record for a member about to become suspect:
    /// its current one, a free one, or a new one (the table grows only past
    /// the most suspicions ever held at once).
    pub(crate) fn start_suspicion(&mut self, slot: u32) -> Option<&mut Suspicion> {
        let entry = self.entries.get_mut(slot as usize).filter(|e| e.occupied)?;
        if entry.suspicion == NO_SUSPICION {
            entry.suspicion = match self.free_suspicions.pop() {
                Some(id) => id,
                None => {
                    self.suspicions.push(Suspicion::default());
                    crate::convert::to_u32(self.suspicions.len() - 1)
                }
            };
        }
        let record = self.suspicions.get_mut(entry.suspicion as usize)?;
        record.accusers.clear();
        record.checks = 0;
        record.answered = false;
        Some(record)
    }

    /// Returns a member's suspicion record, if any, to the free list.
    fn end_suspicion(&mut self, slot: u32) {
        let Some(entry) = self.entries.get_mut(slot as usize) else { return };
        let id = core::mem::replace(&mut entry.suspicion, NO_SUSPICION);
        if id != NO_SUSPICION {
            self.free_suspicions.push(id);
        }
    }

    /// Members suspect now (suspicion records in use).
    pub(crate) fn suspects(&self) -> usize {
        self.suspicions.len() - self.free_suspicions.len()
    }

    /// Suspicion records held (in use or free): the most at once so far.
    #[cfg(test)]
    pub(crate) fn suspicion_records(&self) -> usize {
        self.suspicions.len()
    }

    /// Members alive or suspect, this node included.
    pub(crate) fn live(&self) -> usize {
        self.live
    }

    /// Members known in any state, this node included.
    pub(crate) fn len(&self) -> usize {
        self.occupied
    }

    /// Slots ever allocated (the bound of slot numbers).
    pub(crate) fn slots(&self) -> usize {
        self.entries.len()
    }

    pub(crate) fn iter(&self) -> impl Iterator<Item = (u32, &Entry)> {
        self.entries.iter().enumerate().filter(|(_, e)| e.occupied).map(|(i, e)| (crate::convert::to_u32(i), e))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn addr(port: u16) -> SocketAddr {
        SocketAddr::from(([127, 0, 0, 1], port))
    }

    #[test]
    fn insert_find_remove_and_reuse() {
        let mut m = Members::with_capacity(4);
        let a = m.insert(b"a", [addr(1)].into_iter(), b"", Version::default(), State::Alive, Time::ZERO).unwrap();
        let b = m.insert(b"b", [addr(2)].into_iter(), b"m", Version::new(0, 3), State::Suspect, Time::ZERO).unwrap();
        assert_eq!((a, b), (0, 1));
        assert_eq!(m.find(b"b"), Some(b));
        assert_eq!(m.live(), 2);
        let r = m.reference(b).unwrap();
        m.remove(b);
        assert_eq!(m.find(b"b"), None);
        assert!(m.resolve(r).is_none(), "a stale reference does not resolve");
        assert_eq!(m.live(), 1);
        let c = m.insert(b"c", [addr(3)].into_iter(), b"", Version::default(), State::Alive, Time::ZERO).unwrap();
        assert_eq!(c, b, "the freed slot is reused");
        assert_eq!(m.find(b"c"), Some(c));
        assert_eq!(m.len(), 2);
    }

    #[test]
    fn local_slot_is_never_removed() {
        let mut m = Members::with_capacity(2);
        m.insert(b"self", [addr(1)].into_iter(), b"", Version::default(), State::Alive, Time::ZERO).unwrap();
        m.insert(b"x", [addr(2)].into_iter(), b"", Version::default(), State::Alive, Time::ZERO).unwrap();
        assert_eq!(m.len(), 2);
        m.remove(LOCAL);
        assert!(m.local().is_some());
    }

    #[test]
    fn set_state_tracks_live_count() {
        let mut m = Members::with_capacity(2);
        let s = m.insert(b"x", [addr(2)].into_iter(), b"", Version::default(), State::Alive, Time::ZERO).unwrap();
        m.set_state(s, State::Suspect, Time::from_secs(1));
        assert_eq!(m.live(), 1);
        m.set_state(s, State::Faulty, Time::from_secs(2));
        assert_eq!(m.live(), 0);
        assert_eq!(m.get(s).unwrap().changed_at, Time::from_secs(2));
        m.set_state(s, State::Alive, Time::from_secs(3));
        assert_eq!(m.live(), 1);
    }

    #[test]
    fn suspicion_records_live_while_suspect_and_are_reused() {
        let mut m = Members::with_capacity(4);
        let x = m.insert(b"x", [addr(1)].into_iter(), b"", Version::default(), State::Alive, Time::ZERO).unwrap();
        let y = m.insert(b"y", [addr(2)].into_iter(), b"", Version::default(), State::Alive, Time::ZERO).unwrap();
        assert!(m.suspicion(x).is_none(), "an alive member has no record");
        m.start_suspicion(x).unwrap().deadline = Time::from_secs(5);
        m.set_state(x, State::Suspect, Time::ZERO);
        assert_eq!(m.suspicion(x).map(|s| s.deadline), Some(Time::from_secs(5)));
        m.start_suspicion(x).unwrap().accusers.push(7);
        assert_eq!(m.suspicion_records(), 1, "a new suspicion of a suspect reuses its record");
        assert_eq!(m.suspicion(x).unwrap().accusers.len(), 1, "and clears its accusers");
        m.set_state(x, State::Alive, Time::from_secs(1));
        assert!(m.suspicion(x).is_none(), "a refuted suspicion frees its record");
        m.start_suspicion(y).unwrap();
        m.set_state(y, State::Suspect, Time::ZERO);
        assert_eq!(m.suspicion_records(), 1, "the freed record is reused");
        m.remove(y);
        m.start_suspicion(x).unwrap();
        assert_eq!(m.suspicion_records(), 1, "a removed member's record is freed too");
    }

    #[test]
    fn broadcast_window_delivers_each_sequence_once() {
        let mut w = BroadcastWindow::default();
        assert_eq!(w.accept(1, 10), Admit::New);
        assert_eq!(w.accept(1, 10), Admit::Duplicate);
        assert_eq!(w.accept(1, 12), Admit::New);
        assert_eq!(w.accept(1, 11), Admit::New, "out of order but new");
        assert_eq!(w.accept(1, 11), Admit::Duplicate);
        assert_eq!(w.accept(1, 12 + BROADCAST_WINDOW - 1), Admit::New);
        assert_eq!(w.accept(1, 11), Admit::TooOld, "below the window: refused and counted");
        assert_eq!(w.accept(1, 12), Admit::Duplicate, "the far end of the window is still known");
        // Across the wrap.
        let mut w = BroadcastWindow::default();
        assert_eq!(w.accept(1, u32::MAX), Admit::New);
        assert_eq!(w.accept(1, 0), Admit::New);
        assert_eq!(w.accept(1, u32::MAX), Admit::Duplicate);
        assert_eq!(w.accept(1, u32::MAX - 1), Admit::New);
    }

    #[test]
    fn a_restarted_origin_starts_a_new_window() {
        let mut w = BroadcastWindow::default();
        for seq in 1..=5 {
            assert_eq!(w.accept(7, seq), Admit::New);
        }
        // The origin restarted: its new process numbers from 1 again.
        assert_eq!(w.accept(9, 1), Admit::New, "a newer generation resets the window");
        assert_eq!(w.accept(9, 1), Admit::Duplicate);
        assert_eq!(w.accept(7, 4), Admit::TooOld, "the old process's broadcasts are over");
    }
}
