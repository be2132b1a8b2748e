//! Membership updates: how alive, suspect, faulty and left updates change
//! the table, suspicion timeouts, refutation, name conflicts, and reaping of
//! tombstones.
//!
//! Precedence, for a member held at version `h` (generation, then
//! incarnation: see the `version` module) and an update at version `u`:
//!
//! | held \ update | alive `u` | suspect `u` | faulty `u` | left `u` |
//! |---|---|---|---|---|
//! | alive `h` | `u > h` | `u ≥ h` (same generation) | `u ≥ h` | `u ≥ h` |
//! | suspect `h` | `u > h` | `u > h`: new suspicion; `u = h`: confirmation | `u ≥ h` | `u ≥ h` |
//! | faulty `h` | `u > h` (refuted, or restarted) | never | `u > h`: version only | `u ≥ h` |
//! | left `h` | newer generation only | never | `u > h` (same generation) | `u > h`: version only |
//!
//! Suspicions and verdicts never move an entry to a newer generation (the
//! newer process's address comes only with its alive update): a suspicion
//! about a newer process is ignored, and a faulty verdict about one
//! declares the process held faulty at its own version.
//!
//! At the same version the order is alive < suspect < faulty < left: a
//! departure is a fact, a verdict an opinion. An alive update from another
//! address than the one known is a name conflict unless it comes from a
//! newer process (a larger generation): reported, never merged. A node that
//! holds a member *left* and hears an older claim about it (alive, suspect,
//! faulty) sends the departure back to whoever sent the claim and gossips
//! it again.
//!
//! Updates about this node itself are refuted instead (see
//! `heard_about_self`).

use std::net::SocketAddr;

use super::Node;
use super::transmit::Outgoing;
use crate::config::DisseminationStyle;
use crate::events::{MemberEvent, Record};
use crate::members::{By, LOCAL, MAX_CONFIRMERS, State};
use crate::suspicion;
use crate::time::Time;
use crate::version::Version;

/// Random members a refutation is sent to at once, besides piggybacking.
const REFUTATION_FANOUT: usize = 3;

/// How a suspicion reached this node.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Evidence {
    /// From the accuser itself (its own probe failed, or gossip that names
    /// it).
    Accusation,
    /// From another member's copy of the state (a sync record): it starts a
    /// suspicion, but never counts as a confirmation.
    Hearsay,
}

/// What was said about this node.
#[derive(Clone, Copy)]
enum Claim<'u, 'a> {
    Alive(&'u AliveUpdate<'a>),
    /// Suspected by the named member.
    Suspect(&'u [u8]),
    /// Faulty (declared by the named member) or left.
    Gone(Option<&'u [u8]>),
}

/// Who sent the datagram an update came in: where from, and the name it
/// gave in its primary message.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Sender<'a> {
    pub(crate) addr: SocketAddr,
    pub(crate) name: &'a [u8],
}

/// An alive update or member description, from any source.
pub(crate) struct AliveUpdate<'a> {
    pub(crate) name: &'a [u8],
    pub(crate) version: Version,
    pub(crate) addrs: swim_wire::Addrs<'a>,
    pub(crate) meta: &'a [u8],
}

impl Node {
    /// Whether a claim of the name in `slot`, at `version`, from address
    /// `claimed`, must be refused: then the address this node knows. Only a
    /// newer process of the name (a larger generation) may move it to
    /// another address, never this node's own name, and with a reclaim time
    /// only once the old entry has been faulty or left that long.
    pub(super) fn conflict(&self, slot: u32, version: Version, claimed: SocketAddr) -> Option<SocketAddr> {
        let e = self.members.get(slot)?;
        let known = *e.addrs.first()?;
        let reclaimable = self.config.security.reclaim_time.is_none_or(|d| {
            matches!(e.state, State::Faulty | State::Left) && self.now.saturating_since(e.changed_at) >= d
        });
        let moves = slot != LOCAL && version.generation > e.generation && reclaimable;
        (known != claimed && !moves).then_some(known)
    }

    pub(super) fn apply_alive(&mut self, now: Time, update: &AliveUpdate<'_>, from: Option<Sender<'_>>) {
        self.apply_alive_learned(now, update, true, from);
    }

    /// Whether a member at `addrs` may be in this node's table: every one
    /// of its addresses (at least one) is in `security.allowed_networks`,
    /// so that nothing outside is stored, gossiped or sent to (a helper
    /// forwards pings to any address the table holds for a member).
    pub(super) fn admits(&self, addrs: swim_wire::Addrs<'_>) -> bool {
        let networks = &self.config.security.allowed_networks;
        networks.is_empty()
            || (addrs.first().is_some() && addrs.iter().all(|a| crate::config::allowed(networks, a.ip())))
    }

    /// Applies an alive update; a member new to this node is disseminated
    /// only if `spread_new` (a joiner learning the table from its seed
    /// passes `false`: the cluster knows those members already, and queueing
    /// thousands of updates would flood it).
    pub(super) fn apply_alive_learned(
        &mut self,
        now: Time,
        update: &AliveUpdate<'_>,
        spread_new: bool,
        from: Option<Sender<'_>>,
    ) {
        if update.name == self.local_name() {
            self.heard_about_self(now, update.version, Claim::Alive(update), from);
            return;
        }
        let Some(slot) = self.members.find(update.name) else {
            if !self.admit_new(update, false) {
                return;
            }
            let limit = self.config.limits.max_members;
            let inserted = if self.members.len() < limit {
                let addrs = update.addrs.iter();
                self.members.insert(update.name, addrs, update.meta, update.version, State::Alive, now)
            } else {
                None
            };
            match inserted {
                Some(slot) => {
                    self.probe_list.insert(slot, update.name);
                    if spread_new {
                        self.disseminate(now, slot);
                    }
                    self.member_event(MemberEvent::Joined, slot);
                }
                None => self.stats.members_refused += 1,
            }
            return;
        };
        let Some(entry) = self.members.get(slot) else { return };
        let (held, was) = (entry.version(), entry.state);
        if update.version <= held {
            if was == State::Left {
                self.push_back(now, slot, from);
            }
            return;
        }
        let Some(claimed) = update.addrs.first() else { return };
        if let Some(known) = self.conflict(slot, update.version, claimed) {
            self.name_conflict(now, update.name, known, claimed);
            return;
        }
        let moves = entry.addrs.first() != Some(&claimed);
        if !self.admits(update.addrs) {
            // Never moved outside the allowed networks.
            self.stats.members_not_admitted += 1;
            return;
        }
        if moves && self.config.security.names_proven && from.is_none_or(|f| f.name != update.name) {
            // Names are proven: only the member itself moves its name.
            self.stats.moves_refused += 1;
            return;
        }
        let restarted = update.version.generation > held.generation;
        if was == State::Left && !restarted {
            return; // a process that left does not come back; a newer one may
        }
        let changed = entry.meta != update.meta || !entry.addrs.iter().copied().eq(update.addrs.iter());
        // Queued before the entry changes, so that an update carries the
        // metadata it replaces; they show the member as it is after.
        if was == State::Suspect {
            self.member_event_as(MemberEvent::Recovered, slot, update.version);
        }
        if was != State::Faulty && was != State::Left && (changed || restarted) {
            self.member_event_as(MemberEvent::Updated, slot, update.version);
        }
        self.members.set_version(slot, update.version);
        if let Some(entry) = self.members.get_mut(slot) {
            if changed {
                entry.addrs.clear();
                entry.addrs.extend(update.addrs.iter());
                entry.meta.clear();
                entry.meta.extend_from_slice(update.meta);
            }
            entry.accuser.clear();
        }
        self.members.set_state(slot, State::Alive, now);
        self.disseminate(now, slot);
        if matches!(was, State::Faulty | State::Left) {
            if let Some(entry) = self.members.get(slot) {
                self.probe_list.insert(slot, &entry.name);
            }
            self.member_event(MemberEvent::Joined, slot);
        }
    }

    /// A suspicion gossiped by its accuser (`by`): it starts a suspicion or
    /// counts as a confirmation.
    pub(super) fn apply_suspect(
        &mut self,
        now: Time,
        name: &[u8],
        version: Version,
        by: &[u8],
        from: Option<Sender<'_>>,
    ) {
        if name == self.local_name() {
            self.heard_about_self(now, version, Claim::Suspect(by), from);
            return;
        }
        let Some(slot) = self.members.find(name) else { return };
        self.suspect(now, slot, version, By::Name(by), Evidence::Accusation, from);
    }

    /// A suspicion learned from another member's state (a sync record),
    /// naming its accuser `by`: it may start a suspicion, but never counts
    /// as an independent confirmation here, and it is gossiped on in the
    /// accuser's name (not the sync peer's), so that it confirms nothing
    /// elsewhere that the accuser's own gossip would not.
    pub(super) fn apply_suspect_state(&mut self, now: Time, name: &[u8], version: Version, by: &[u8]) {
        if name == self.local_name() {
            self.heard_about_self(now, version, Claim::Suspect(by), None);
            return;
        }
        let Some(slot) = self.members.find(name) else { return };
        self.suspect(now, slot, version, By::Name(by), Evidence::Hearsay, None);
    }

    pub(super) fn apply_faulty(
        &mut self,
        now: Time,
        name: &[u8],
        version: Version,
        by: &[u8],
        from: Option<Sender<'_>>,
    ) {
        if name == self.local_name() {
            self.heard_about_self(now, version, Claim::Gone(Some(by)), from);
            return;
        }
        let Some(slot) = self.members.find(name) else { return };
        let Some(entry) = self.members.get(slot) else { return };
        let held = entry.version();
        // A verdict never moves an entry to a newer process: that process's
        // address comes only with its alive update. A newer process that
        // died means the one held is gone too: it is declared faulty as held.
        let same_process = version.generation == held.generation;
        match entry.state {
            State::Alive | State::Suspect if version >= held => {
                let version = if same_process { version } else { held };
                self.declare_faulty(now, slot, version, By::Name(by));
            }
            State::Left if version > held && same_process => self.declare_faulty(now, slot, version, By::Name(by)),
            State::Left if version <= held => self.push_back(now, slot, from),
            State::Faulty if version > held && same_process => {
                self.members.set_version(slot, version);
            }
            _ => {}
        }
    }

    pub(super) fn apply_left(&mut self, now: Time, name: &[u8], version: Version) {
        if name == self.local_name() {
            self.heard_about_self(now, version, Claim::Gone(None), None);
            return;
        }
        let Some(slot) = self.members.find(name) else { return };
        let Some(entry) = self.members.get(slot) else { return };
        let held = entry.version();
        match entry.state {
            // Left beats a faulty verdict at the same version: the member
            // departed; the verdict only said it stopped answering.
            State::Alive | State::Suspect | State::Faulty if version >= held => {
                self.members.set_version(slot, version);
                self.bury(now, slot, State::Left);
                self.member_event(MemberEvent::Left, slot);
            }
            State::Left if version > held => {
                self.members.set_version(slot, version);
            }
            _ => {}
        }
    }

    /// This node holds the member in `slot` as left, and `from` told it an
    /// older story: the departure is gossiped again, so that nobody ends up
    /// holding the member faulty, and goes straight back to `from` (at most
    /// once a second per source IP, twice at once: a datagram full of stale
    /// claims, or a forged one, gets a bounded answer).
    fn push_back(&mut self, now: Time, slot: u32, from: Option<Sender<'_>>) {
        self.stats.departures_pushed_back += 1;
        self.disseminate(now, slot);
        if self.config.dissemination.style != DisseminationStyle::Infection {
            return;
        }
        if let (Some(from), Some(member)) = (from, self.members.reference(slot))
            && self.push_back_limiter.allow(now, from.addr.ip())
        {
            let receiver = self.tag(from.name);
            self.send(Outgoing::Update { to: from.addr, member, receiver });
        }
    }

    /// Suspects a member at `version` on behalf of `by`, or counts a
    /// confirmation of an existing suspicion (only for an `Accusation`).
    pub(super) fn suspect(
        &mut self,
        now: Time,
        slot: u32,
        version: Version,
        by: By<'_>,
        evidence: Evidence,
        from: Option<Sender<'_>>,
    ) {
        let Some(entry) = self.members.get(slot) else { return };
        let held = entry.version();
        let same_process = version.generation == held.generation;
        match entry.state {
            State::Alive if version >= held && same_process => {}
            State::Suspect if version > held && same_process => {}
            State::Suspect if version == held => {
                if evidence == Evidence::Accusation {
                    self.confirm(now, slot, by);
                }
                return;
            }
            State::Left if version <= held => {
                self.push_back(now, slot, from);
                return;
            }
            _ => return,
        }
        let n = self.members.live();
        let (alpha, period) = (self.config.suspicion.mult, self.config.probe.period);
        let min = suspicion::min_timeout(alpha, n, period, self.config.suspicion.scale);
        let (max, expected) = if self.config.probe.lifeguard {
            (min * self.config.suspicion.max_mult, expected_confirmations(alpha, n))
        } else {
            (min, 0)
        };
        let deadline = now + suspicion::timeout(min, max, 0, expected);
        let accuser = self.members.hash(self.members.accuser_name(by));
        self.members.set_accuser(slot, by);
        if self.members.get(slot).is_none() {
            return;
        }
        self.members.set_version(slot, version);
        let Some(s) = self.members.start_suspicion(slot) else { return };
        s.started = now;
        s.deadline = deadline;
        s.min = min;
        s.max = max;
        s.expected = crate::convert::to_u8(expected);
        s.accusers.push(accuser);
        self.members.set_state(slot, State::Suspect, now);
        self.push_deadline(deadline, slot);
        self.stats.suspicions += 1;
        self.disseminate(now, slot);
        self.member_event(MemberEvent::Suspected, slot);
    }

    /// Another member independently suspects a member already suspect:
    /// with Lifeguard, the timeout shrinks and the suspicion is re-gossiped.
    /// Only members this node knows count.
    fn confirm(&mut self, now: Time, slot: u32, by: By<'_>) {
        if !self.config.probe.lifeguard {
            return;
        }
        if let By::Name(name) = by
            && self.members.find(name).is_none()
        {
            return;
        }
        let accuser = self.members.hash(self.members.accuser_name(by));
        let Some(s) = self.members.suspicion_mut(slot) else { return };
        if s.accusers.contains(&accuser) || s.accusers.len() >= MAX_CONFIRMERS {
            return;
        }
        s.accusers.push(accuser);
        let confirmations = s.accusers.len().saturating_sub(1);
        if confirmations > usize::from(s.expected) {
            return;
        }
        let deadline = s.started + suspicion::timeout(s.min, s.max, confirmations, usize::from(s.expected));
        let deadline = deadline.max(now);
        let moved = deadline != s.deadline;
        s.deadline = deadline;
        self.members.set_accuser(slot, by);
        if moved {
            self.push_deadline(deadline, slot);
        }
        self.disseminate(now, slot);
    }

    /// Schedules the member's current suspicion deadline under a new stamp;
    /// stale entries are swept out before the heap outgrows its bound (twice
    /// the suspects, or the table's expected size), so that forged
    /// suspect/alive pairs cannot grow it.
    fn push_deadline(&mut self, deadline: Time, slot: u32) {
        let Some(r) = self.members.reference(slot) else { return };
        self.deadline_stamp = self.deadline_stamp.wrapping_add(1);
        let stamp = self.deadline_stamp;
        if let Some(s) = self.members.suspicion_mut(slot) {
            s.stamp = stamp;
        }
        let members = &self.members;
        let current = |m: crate::members::MemberRef, stamp: u32| {
            members.resolve(m).is_some_and(|e| e.state == State::Suspect)
                && members.suspicion(m.slot).is_some_and(|s| s.stamp == stamp)
        };
        self.suspicions.push(deadline, r, stamp, members.suspects(), current);
    }

    /// Declares a member faulty.
    pub(super) fn declare_faulty(&mut self, now: Time, slot: u32, version: Version, by: By<'_>) {
        if self.members.get(slot).is_none() {
            return;
        }
        self.members.set_version(slot, version);
        self.members.set_accuser(slot, by);
        self.bury(now, slot, State::Faulty);
        self.stats.faulty_declared += 1;
        self.member_event(MemberEvent::Faulty, slot);
    }

    /// Moves a member to a terminal state: out of the probe list, gossiped,
    /// and reaped after the tombstone time.
    fn bury(&mut self, now: Time, slot: u32, state: State) {
        self.members.set_state(slot, state, now);
        self.probe_list.remove(slot);
        self.disseminate(now, slot);
        let reference = self.members.reference(slot);
        if let (Some(r), Some(entry)) = (reference, self.members.get_mut(slot))
            && !entry.tombstone_queued
        {
            entry.tombstone_queued = true;
            self.tombstones.push_back((now + self.config.limits.tombstone_ttl, r));
        }
        if state == State::Faulty {
            self.arm_reconnect(now);
        }
    }

    /// Suspicions whose time ran out become faulty verdicts.
    pub(super) fn expire_suspicions(&mut self, now: Time) {
        for _ in 0..super::BATCH {
            let Some((member, stamp)) = self.suspicions.pop_due(now) else { return };
            let Some(entry) = self.members.resolve(member) else { continue };
            let current = self.members.suspicion(member.slot).map(|s| s.stamp);
            if entry.state != State::Suspect || current != Some(stamp) {
                continue; // refuted, or the deadline moved
            }
            let version = entry.version();
            if let Some(deadline) = self.check_suspicion(now, member.slot) {
                if let Some(s) = self.members.suspicion_mut(member.slot) {
                    s.deadline = deadline;
                }
                self.push_deadline(deadline, member.slot);
                continue;
            }
            self.declare_faulty(now, member.slot, version, By::Local);
        }
    }

    /// Forgets faulty and left members after the tombstone time (and not
    /// before every copy of their broadcasts expired).
    ///
    /// Each entry has at most one record in the queue, which is kept in
    /// order of time. A record that comes due early (the member was buried
    /// again later, or its broadcasts still live) moves to its real time,
    /// which is close to the back (a later burial is recent, and the
    /// broadcast lifetime is below the tombstone time); one for a member
    /// alive again is dropped.
    pub(super) fn reap_tombstones(&mut self, now: Time) {
        let ttl = self.config.limits.tombstone_ttl;
        for _ in 0..super::BATCH {
            let Some(&(at, member)) = self.tombstones.front() else { return };
            if at > now {
                return;
            }
            self.tombstones.pop_front();
            let Some(entry) = self.members.get_mut(member.slot).filter(|e| e.slot_generation == member.generation)
            else {
                continue;
            };
            if entry.state.is_live() {
                entry.tombstone_queued = false;
                continue;
            }
            let due = (entry.changed_at + ttl).max(entry.broadcasts_until);
            if due > now {
                let at = self.tombstones.partition_point(|&(t, _)| t <= due);
                self.tombstones.insert(at, (due, member));
            } else {
                self.gossip.remove(member.slot);
                self.members.remove(member.slot);
            }
        }
    }

    /// Something was said about this node at `version`.
    ///
    /// - From another address, an alive claim is another process using this
    ///   node's name: a conflict, reported and never refuted (two live
    ///   processes with one name must not fight with incarnations). Of
    ///   older processes only claims they send themselves are reported.
    /// - About this process (its generation, or its own address), a claim
    ///   at least as new as its version is refuted with a newer version; a
    ///   *stale* verdict that it is faulty or gone means some member still
    ///   holds an old view of it: it re-announces itself (same version).
    /// - Suspicions and verdicts about a newer generation concern another
    ///   process of this name and are ignored.
    ///
    /// A member that finds itself declared faulty was cut off from the
    /// others: its own view of them is as stale as theirs of it. Besides
    /// refuting, it syncs with whoever told it (`from`), at most once per
    /// sync interval.
    fn heard_about_self(&mut self, now: Time, version: Version, claim: Claim<'_, '_>, from: Option<Sender<'_>>) {
        if self.leave.is_some() {
            return;
        }
        let Some(local) = self.local_entry() else { return };
        let own = local.version();
        match claim {
            Claim::Alive(update) => {
                let (mine, claimed) = (local.addrs.first().copied(), update.addrs.first());
                if let (Some(mine), Some(claimed)) = (mine, claimed)
                    && mine != claimed
                {
                    let speaks_for_itself = from.map(|f| f.addr) == Some(claimed);
                    if version.generation >= own.generation || speaks_for_itself {
                        self.name_conflict(now, update.name, mine, claimed);
                    }
                    return;
                }
                let differs =
                    update.meta != local.meta.as_slice() || !local.addrs.iter().copied().eq(update.addrs.iter());
                if version > own || (version == own && differs) {
                    self.refute_to(now, version, None);
                }
            }
            Claim::Suspect(by) | Claim::Gone(Some(by)) if version.generation == own.generation => {
                if version >= own {
                    self.refute_to(now, version, Some(by));
                    if matches!(claim, Claim::Gone(_)) {
                        self.resync(now, from);
                    }
                } else if matches!(claim, Claim::Gone(_)) {
                    self.disseminate(now, LOCAL);
                }
            }
            Claim::Gone(None) if version.generation == own.generation => {
                if version >= own {
                    self.refute_to(now, version, None);
                } else {
                    self.disseminate(now, LOCAL);
                }
            }
            Claim::Gone(_) if version.generation < own.generation => self.disseminate(now, LOCAL),
            _ => {}
        }
    }

    /// Refutes: takes a version above both the node's own and the one
    /// heard, and gossips itself alive.
    pub(super) fn refute(&mut self, now: Time, heard: Version) {
        self.refute_to(now, heard, None);
    }

    /// Refutes, also sending the refutation straight to `accuser` (the
    /// member whose suspicion times out first) if it is known.
    ///
    /// A version heard *above* this node's own, about its name at its
    /// address, can only come from a past life of this process that reused
    /// its generation (a clock that went back, or a generation configured
    /// by hand). The node then becomes a new generation above it rather than
    /// the next incarnation of the old one: its broadcasts start their
    /// sequence again, and members that remember the past life's sequence
    /// numbers would otherwise drop them as duplicates.
    fn refute_to(&mut self, now: Time, heard: Version, accuser: Option<&[u8]>) {
        let Some(local) = self.members.get_mut(LOCAL) else { return };
        let own = local.version();
        let version = if heard > own { heard.next_generation() } else { own.next() };
        local.changed_at = now;
        self.members.set_version(LOCAL, version);
        if version.generation != own.generation {
            self.process_generation = version.generation;
            self.next_broadcast_seq = 1;
            self.restamp_state();
        }
        self.disseminate(now, LOCAL);
        self.stats.refutations += 1;
        if self.config.dissemination.style == DisseminationStyle::Infection {
            // The most urgent news there is: besides riding on this node's
            // messages (which Lifeguard slows down when this node is
            // unhealthy), it goes straight to a few random members.
            let accuser = accuser.and_then(|name| self.members.find(name)).filter(|&s| s != LOCAL);
            self.push_now(LOCAL, accuser);
        }
        self.adjust_health(1);
        self.events.push(Record::Refuted { incarnation: version.incarnation });
    }

    /// Sends `slot`'s current update straight to a few random live members
    /// (`also` among them, if given), besides queueing it for gossip: for
    /// news that should not wait for the next gossip round (a refutation,
    /// a member that just joined).
    pub(super) fn push_now(&mut self, slot: u32, also: Option<u32>) {
        if self.config.dissemination.style != DisseminationStyle::Infection {
            return;
        }
        let mut to = [0u32; 16];
        // Never to the member itself: random picks skip this node and the
        // one slot they are told to avoid (`also`, for this node's own news,
        // which is added after them).
        let avoid = if slot == LOCAL { also.unwrap_or(LOCAL) } else { slot };
        let mut found = self.random_alive(REFUTATION_FANOUT, avoid, &mut to);
        if let (Some(s), Some(last)) = (also, to.get_mut(found)) {
            *last = s;
            found += 1;
        }
        let Some(member) = self.members.reference(slot) else { return };
        for &target in to.get(..found).unwrap_or_default() {
            let Some(e) = self.members.get(target) else { continue };
            if let Some(&addr) = e.addrs.first() {
                let receiver = self.tag(&e.name);
                self.send(Outgoing::Update { to: addr, member, receiver });
            }
        }
    }

    /// Queues a member event (suspicions and verdicts name their accuser).
    pub(super) fn member_event(&mut self, kind: MemberEvent, slot: u32) {
        let Some(member) = self.members.reference(slot) else { return };
        let Some(entry) = self.members.get(slot) else { return };
        let (state, version) = (entry.state, entry.version());
        let by_name: &[u8] = match kind {
            MemberEvent::Suspected | MemberEvent::Faulty => &entry.accuser,
            _ => &[],
        };
        self.events.push_with(by_name.len(), |arena| Record::Member {
            kind,
            member,
            state,
            version,
            bytes: arena.store(by_name),
        });
    }

    /// Queues a member event for the member about to become alive at
    /// `version`; an update carries the metadata it replaces (the entry's
    /// current metadata).
    fn member_event_as(&mut self, kind: MemberEvent, slot: u32, version: Version) {
        let Some(member) = self.members.reference(slot) else { return };
        let Some(entry) = self.members.get(slot) else { return };
        let previous: &[u8] = if kind == MemberEvent::Updated { &entry.meta } else { &[] };
        self.events.push_with(previous.len(), |arena| Record::Member {
            kind,
            member,
            state: State::Alive,
            version,
            bytes: arena.store(previous),
        });
    }

    /// Counts a name conflict, and reports it (once per period for the same
    /// name and claimed address: gossip repeats the claim).
    pub(super) fn name_conflict(&mut self, now: Time, name: &[u8], known: SocketAddr, claimed: SocketAddr) {
        self.stats.name_conflicts += 1;
        let hash = self.members.hash(name);
        if let Some((h, addr, at)) = self.last_conflict
            && h == hash
            && addr == claimed
            && now < at + self.config.probe.period
        {
            return;
        }
        self.last_conflict = Some((hash, claimed, now));
        self.events.push_with(name.len(), |arena| Record::NameConflict { name: arena.store(name), known, claimed });
    }
}

/// Lifeguard's k, the confirmations a suspicion expects: `α − 2`, none when
/// the cluster is too small to provide them (`N − 2 < α − 2`, as
/// memberlist), and never more than can be tracked (so that the timeout can
/// reach its minimum for any α).
fn expected_confirmations(alpha: u32, members: usize) -> usize {
    let k = (alpha as usize).saturating_sub(2);
    if members.saturating_sub(2) < k { 0 } else { k.min(MAX_CONFIRMERS - 1) }
}

#[cfg(test)]
mod tests {
    use super::expected_confirmations;

    #[test]
    fn expected_confirmations_follow_memberlist_and_stay_trackable() {
        assert_eq!(expected_confirmations(4, 100), 2);
        assert_eq!(expected_confirmations(4, 3), 0, "N − 2 = 1 < α − 2 = 2: none expected");
        assert_eq!(expected_confirmations(4, 4), 2);
        assert_eq!(expected_confirmations(1, 100), 0);
        assert_eq!(expected_confirmations(50, 1000), 7, "capped at the confirmations tracked, less the accuser");
    }
}
