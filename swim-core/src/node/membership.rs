//! Membership updates: how alive, suspect, faulty and left updates change
//! the table, suspicion timeouts, refutation, and reaping of tombstones.
//!
//! Precedence, for a member known at incarnation `j` (SWIM §4.2), with
//! serial-number comparison:
//!
//! | update | applies when the member is | and |
//! |---|---|---|
//! | alive `i` | alive or suspect | `i > j` |
//! | alive `i` | faulty or left | `i > j` (the member restarted) |
//! | suspect `i` | alive | `i ≥ j` |
//! | suspect `i` | suspect | `i > j` (new suspicion) or `i = j` (a confirmation) |
//! | faulty `i`, left `i` | alive or suspect | `i ≥ j` |
//!
//! Updates about this node itself are refuted instead (see [`Node::refute`]).

use std::net::SocketAddr;

use super::Node;
use super::transmit::Outgoing;
use crate::config::Dissemination;
use crate::events::{MemberEvent, Record};
use crate::gossip::Item;
use crate::members::{By, LOCAL, MAX_CONFIRMERS, State};
use crate::serial;
use crate::suspicion;
use crate::time::Time;

/// Random members a refutation is sent to at once, besides piggybacking.
const REFUTATION_FANOUT: usize = 3;

/// How a suspicion reached this node.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Evidence {
    /// From the accuser itself (its own probe failed, or its gossip names it).
    Accusation,
    /// From another member's copy of the state, without the accuser.
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

/// An alive update or member description, from any source.
pub(crate) struct AliveUpdate<'a> {
    pub(crate) name: &'a [u8],
    pub(crate) incarnation: u32,
    pub(crate) addrs: swim_wire::Addrs<'a>,
    pub(crate) meta: &'a [u8],
}

impl Node {
    pub(super) fn apply_alive(&mut self, now: Time, update: &AliveUpdate<'_>) {
        self.apply_alive_learned(now, update, true);
    }

    /// Applies an alive update; a member new to this node is disseminated
    /// only if `spread_new` (a joiner learning the table from its seed
    /// passes `false`: the cluster knows those members already, and queueing
    /// thousands of updates would flood it).
    pub(super) fn apply_alive_learned(&mut self, now: Time, update: &AliveUpdate<'_>, spread_new: bool) {
        if update.name == self.local_name() {
            self.heard_about_self(now, update.incarnation, Claim::Alive(update));
            return;
        }
        let Some(slot) = self.members.find(update.name) else {
            let limit = self.config.max_members;
            let inserted = if self.members.len() < limit {
                self.members.insert(
                    update.name,
                    update.addrs.iter(),
                    update.meta,
                    update.incarnation,
                    State::Alive,
                    now,
                )
            } else {
                None
            };
            match inserted {
                Some(slot) => {
                    self.probe_list.insert(slot);
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
        if !serial::newer(update.incarnation, entry.incarnation) {
            return;
        }
        let first_known = entry.addrs.first().copied();
        let first_claimed = update.addrs.first();
        if entry.state.is_live() && first_known != first_claimed {
            if let (Some(known), Some(claimed)) = (first_known, first_claimed) {
                self.name_conflict(update.name, known, claimed);
            }
            return;
        }
        let was = entry.state;
        let changed = entry.meta != update.meta || !entry.addrs.iter().copied().eq(update.addrs.iter());
        if let Some(entry) = self.members.get_mut(slot) {
            entry.incarnation = update.incarnation;
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
        match was {
            State::Faulty | State::Left => {
                self.probe_list.insert(slot);
                self.member_event(MemberEvent::Joined, slot);
            }
            State::Suspect => {
                self.member_event(MemberEvent::Recovered, slot);
                if changed {
                    self.member_event(MemberEvent::Updated, slot);
                }
            }
            State::Alive if changed => self.member_event(MemberEvent::Updated, slot),
            State::Alive => {}
        }
    }

    /// A suspicion gossiped by its accuser (`by`): it starts a suspicion or
    /// counts as a confirmation.
    pub(super) fn apply_suspect(&mut self, now: Time, name: &[u8], incarnation: u32, by: &[u8]) {
        if name == self.local_name() {
            self.heard_about_self(now, incarnation, Claim::Suspect(by));
            return;
        }
        let Some(slot) = self.members.find(name) else { return };
        self.suspect(now, slot, incarnation, By::Name(by), Evidence::Accusation);
    }

    /// A suspicion learned from another member's state (a sync record): it
    /// may start a suspicion, but says nothing about who suspects, so it
    /// never counts as an independent confirmation.
    pub(super) fn apply_suspect_state(&mut self, now: Time, name: &[u8], incarnation: u32, from: &[u8]) {
        if name == self.local_name() {
            self.heard_about_self(now, incarnation, Claim::Suspect(from));
            return;
        }
        let Some(slot) = self.members.find(name) else { return };
        self.suspect(now, slot, incarnation, By::Name(from), Evidence::Hearsay);
    }

    pub(super) fn apply_faulty(&mut self, now: Time, name: &[u8], incarnation: u32, by: &[u8]) {
        if name == self.local_name() {
            self.heard_about_self(now, incarnation, Claim::Gone(Some(by)));
            return;
        }
        let Some(slot) = self.members.find(name) else { return };
        let Some(entry) = self.members.get(slot) else { return };
        if entry.state.is_live() && serial::at_least(incarnation, entry.incarnation) {
            self.declare_faulty(now, slot, incarnation, By::Name(by));
        }
    }

    pub(super) fn apply_left(&mut self, now: Time, name: &[u8], incarnation: u32) {
        if name == self.local_name() {
            self.heard_about_self(now, incarnation, Claim::Gone(None));
            return;
        }
        let Some(slot) = self.members.find(name) else { return };
        let Some(entry) = self.members.get(slot) else { return };
        if entry.state.is_live() && serial::at_least(incarnation, entry.incarnation) {
            if let Some(entry) = self.members.get_mut(slot) {
                entry.incarnation = incarnation;
            }
            self.bury(now, slot, State::Left);
            self.member_event(MemberEvent::Left, slot);
        }
    }

    /// Suspects a member at `incarnation` on behalf of `by`, or counts a
    /// confirmation of an existing suspicion (only for an `Accusation`).
    pub(super) fn suspect(&mut self, now: Time, slot: u32, incarnation: u32, by: By<'_>, evidence: Evidence) {
        let Some(entry) = self.members.get(slot) else { return };
        match entry.state {
            State::Alive if serial::at_least(incarnation, entry.incarnation) => {}
            State::Suspect if serial::newer(incarnation, entry.incarnation) => {}
            State::Suspect if incarnation == entry.incarnation => {
                if evidence == Evidence::Accusation {
                    self.confirm(now, slot, by);
                }
                return;
            }
            _ => return,
        }
        let n = self.members.live();
        let (alpha, period) = (self.config.suspicion_mult, self.config.protocol_period);
        let min = suspicion::min_timeout(alpha, n, period, self.config.suspicion_scale);
        let (max, expected) = if self.config.lifeguard {
            let k = (self.config.suspicion_mult as usize).saturating_sub(2).min(n.saturating_sub(2));
            (min * self.config.suspicion_max_mult, k)
        } else {
            (min, 0)
        };
        let deadline = now + suspicion::timeout(min, max, 0, expected);
        let accuser = self.members.hash(self.members.accuser_name(by));
        self.members.set_accuser(slot, by);
        let Some(entry) = self.members.get_mut(slot) else { return };
        entry.incarnation = incarnation;
        let Some(s) = self.members.start_suspicion(slot) else { return };
        s.started = now;
        s.deadline = deadline;
        s.min = min;
        s.max = max;
        s.expected = crate::convert::to_u8(expected);
        s.accusers.push(accuser);
        self.members.set_state(slot, State::Suspect, now);
        if let Some(r) = self.members.reference(slot) {
            self.suspicions.push(deadline, r);
        }
        self.stats.suspicions += 1;
        self.disseminate(now, slot);
        self.member_event(MemberEvent::Suspected, slot);
    }

    /// Another member independently suspects a member already suspect:
    /// with Lifeguard, the timeout shrinks and the suspicion is re-gossiped.
    fn confirm(&mut self, now: Time, slot: u32, by: By<'_>) {
        if !self.config.lifeguard {
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
        s.deadline = deadline;
        self.members.set_accuser(slot, by);
        if let Some(r) = self.members.reference(slot) {
            self.suspicions.push(deadline, r);
        }
        self.disseminate(now, slot);
    }

    /// Declares a member faulty.
    pub(super) fn declare_faulty(&mut self, now: Time, slot: u32, incarnation: u32, by: By<'_>) {
        let Some(entry) = self.members.get_mut(slot) else { return };
        entry.incarnation = incarnation;
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
        if let Some(r) = self.members.reference(slot) {
            self.tombstones.push_back((now + self.config.tombstone_ttl, r));
        }
    }

    /// Suspicions whose time ran out become faulty verdicts.
    pub(super) fn expire_suspicions(&mut self, now: Time) {
        for _ in 0..super::BATCH {
            let Some((at, member)) = self.suspicions.pop_due(now) else { return };
            let Some(entry) = self.members.resolve(member) else { continue };
            let current = self.members.suspicion(member.slot).map(|s| s.deadline);
            if entry.state != State::Suspect || current != Some(at) {
                continue; // refuted, or the deadline moved
            }
            let incarnation = entry.incarnation;
            self.declare_faulty(now, member.slot, incarnation, By::Local);
        }
    }

    /// Forgets faulty and left members after the tombstone time.
    pub(super) fn reap_tombstones(&mut self, now: Time) {
        for _ in 0..super::BATCH {
            let Some(&(at, member)) = self.tombstones.front() else { return };
            if at > now {
                return;
            }
            self.tombstones.pop_front();
            let Some(entry) = self.members.resolve(member) else { continue };
            let expired = !entry.state.is_live() && entry.changed_at + self.config.tombstone_ttl <= now;
            if expired {
                self.gossip.remove(Item::Member(member.slot));
                self.members.remove(member.slot);
            }
        }
    }

    /// Something was said about this node at `incarnation`: refute it unless
    /// it is stale. An alive update needs refuting only when it is newer, or
    /// as new but different. A stale verdict that this node is faulty or gone
    /// means some member still holds an old view of it: this node then
    /// re-announces itself (same incarnation), so that member can catch up.
    fn heard_about_self(&mut self, now: Time, incarnation: u32, claim: Claim<'_, '_>) {
        if self.leave.is_some() {
            return;
        }
        let Some(local) = self.local_entry() else { return };
        let own = local.incarnation;
        let stale = match claim {
            Claim::Alive(update) => {
                !serial::newer(incarnation, own)
                    && !(incarnation == own
                        && (update.meta != local.meta.as_slice()
                            || !local.addrs.iter().copied().eq(update.addrs.iter())))
            }
            Claim::Suspect(_) | Claim::Gone(_) => !serial::at_least(incarnation, own),
        };
        let accuser = match claim {
            Claim::Suspect(by) | Claim::Gone(Some(by)) => Some(by),
            _ => None,
        };
        if !stale {
            self.refute_to(now, incarnation, accuser);
        } else if matches!(claim, Claim::Gone(_)) {
            self.disseminate(now, LOCAL);
        }
    }

    /// Refutes: takes an incarnation above both the node's own and the one
    /// heard, and gossips itself alive.
    pub(super) fn refute(&mut self, now: Time, heard: u32) {
        self.refute_to(now, heard, None);
    }

    /// Refutes, also sending the refutation straight to `accuser` (the
    /// member whose suspicion times out first) if it is known.
    fn refute_to(&mut self, now: Time, heard: u32, accuser: Option<&[u8]>) {
        let Some(local) = self.members.get_mut(LOCAL) else { return };
        let incarnation = serial::max(local.incarnation, heard).wrapping_add(1);
        local.incarnation = incarnation;
        local.changed_at = now;
        self.disseminate(now, LOCAL);
        self.stats.refutations += 1;
        if self.config.dissemination == Dissemination::Infection {
            // The most urgent news there is: besides riding on this node's
            // messages (which Lifeguard slows down when this node is
            // unhealthy), it goes straight to a few random members.
            let mut to = [0u32; 16];
            let accuser = accuser.and_then(|name| self.members.find(name)).filter(|&s| s != LOCAL);
            let mut found = self.random_alive(REFUTATION_FANOUT, accuser.unwrap_or(LOCAL), &mut to);
            if let (Some(slot), Some(last)) = (accuser, to.get_mut(found)) {
                *last = slot;
                found += 1;
            }
            for &slot in to.get(..found).unwrap_or_default() {
                if let (Some(&addr), Some(member)) =
                    (self.members.get(slot).and_then(|e| e.addrs.first()), self.members.reference(LOCAL))
                {
                    self.send(Outgoing::Update { to: addr, member });
                }
            }
        }
        self.adjust_health(1);
        self.events.push(Record::Refuted { incarnation });
    }

    /// Queues a member event (suspicions and verdicts name their accuser).
    pub(super) fn member_event(&mut self, kind: MemberEvent, slot: u32) {
        let Some(member) = self.members.reference(slot) else { return };
        let Some(entry) = self.members.get(slot) else { return };
        let (state, incarnation) = (entry.state, entry.incarnation);
        let by_name: &[u8] = match kind {
            MemberEvent::Suspected | MemberEvent::Faulty => &entry.accuser,
            _ => &[],
        };
        self.events.push_with(by_name.len(), |arena| Record::Member {
            kind,
            member,
            state,
            incarnation,
            by: arena.store(by_name),
        });
    }

    pub(super) fn name_conflict(&mut self, name: &[u8], known: SocketAddr, claimed: SocketAddr) {
        self.stats.name_conflicts += 1;
        self.events.push_with(name.len(), |arena| Record::NameConflict { name: arena.store(name), known, claimed });
    }
}
