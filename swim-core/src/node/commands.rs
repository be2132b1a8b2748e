//! Commands from the application: join, broadcast, metadata (leave is in
//! `leave.rs`).

use core::time::Duration;
use std::net::SocketAddr;

use smallvec::SmallVec;
use swim_wire::{JoinRequest, JoinResponse, JoinStatus};

use super::Node;
use super::input::Origin;
use super::input::store_broadcast;
use super::membership::AliveUpdate;
use super::membership::Sender;
use super::timers::Timer;
use super::transmit::Outgoing;
use crate::broadcasts::{BroadcastKind, Stored};
use crate::config::DisseminationStyle;
use crate::error::CommandError;
use crate::events::{JoinFailure, Record};
use crate::members::LOCAL;
use crate::time::Time;
use crate::version::Version;

/// A join in progress.
#[derive(Debug)]
pub(crate) struct Join {
    seeds: SmallVec<[SocketAddr; 4]>,
    attempts: u32,
    seq: u32,
}

impl Node {
    /// Joins the cluster through `seeds`: sends each a join request, and
    /// retries every `sync.join_retry_interval` until one accepts (then syncs
    /// with it) or `sync.join_attempts` are used up. The outcome arrives as
    /// [`Event::JoinSucceeded`](crate::Event::JoinSucceeded) or
    /// [`Event::JoinFailed`](crate::Event::JoinFailed). This node's own
    /// addresses among the seeds are skipped.
    pub fn join(&mut self, now: Time, seeds: &[SocketAddr]) -> Result<(), CommandError> {
        if self.leave.is_some() {
            return Err(CommandError::Left);
        }
        let own: &[SocketAddr] = self.local_entry().map_or(&[], |e| &e.addrs);
        let seeds: SmallVec<[SocketAddr; 4]> = seeds.iter().copied().filter(|s| !own.contains(s)).collect();
        if seeds.is_empty() {
            return Err(CommandError::NoSeeds);
        }
        // A seed outside the allowed networks would never be heard from
        // (its answers are refused unread): say so now.
        let networks = &self.config.security.allowed_networks;
        let seeds: SmallVec<[SocketAddr; 4]> =
            seeds.into_iter().filter(|s| crate::config::allowed(networks, s.ip())).collect();
        if seeds.is_empty() {
            return Err(CommandError::NotAllowed);
        }
        let now = self.advance(now);
        let seq = self.next_seq();
        for &to in &seeds {
            self.send(Outgoing::JoinRequest { to, seq });
        }
        // Announce this node in its own gossip too, not only through the seeds.
        self.disseminate(now, LOCAL);
        self.join = Some(Join { seeds, attempts: 1, seq });
        self.timers.set(Timer::Join, now + self.config.sync.join_retry_interval);
        Ok(())
    }

    /// Retries or gives up a join.
    pub(super) fn join_timer(&mut self, now: Time) {
        if !self.timers.expired(Timer::Join, now) {
            return;
        }
        let Some(join) = &mut self.join else { return };
        if join.attempts >= self.config.sync.join_attempts {
            self.join = None;
            self.events.push(Record::JoinFailed { reason: JoinFailure::NoAnswer });
            return;
        }
        join.attempts += 1;
        self.timers.set(Timer::Join, now + self.config.sync.join_retry_interval);
        let Some(join) = &self.join else { return };
        let (seq, count) = (join.seq, join.seeds.len());
        for i in 0..count {
            if let Some(&to) = self.join.as_ref().and_then(|j| j.seeds.get(i)) {
                self.send(Outgoing::JoinRequest { to, seq });
            }
        }
    }

    /// As a seed: a member asks to join.
    ///
    /// A sealed request comes from a key holder (a replay of a capture is
    /// refused by the replay window, once per member): only plaintext ones
    /// count against their source's `security.join_rate` (checked on receipt, before
    /// anything riding on the request is applied), so that a host starting
    /// many members of an encrypted cluster at once is not throttled.
    /// The answer is no larger than the request (beyond the bare response,
    /// which must go).
    pub(super) fn on_join_request(&mut self, now: Time, from: SocketAddr, request: &JoinRequest<'_>, origin: Origin) {
        let m = request.member;
        let claimed = m.addrs.first().unwrap_or(from);
        let version = Version::new(m.generation, m.incarnation);
        let update = AliveUpdate { name: m.name, version, addrs: m.addrs, meta: m.meta };
        let status = match self.members.find(m.name) {
            // A member new to this node: the allowed networks, then the
            // application's hook.
            None if !self.admit_new(&update, true) => JoinStatus::NotAdmitted,
            // A known one at a new address outside the networks.
            Some(_) if !self.admits(m.addrs) => {
                self.stats.members_not_admitted += 1;
                JoinStatus::NotAdmitted
            }
            Some(slot) => match self.conflict(slot, version, claimed) {
                Some(known) => {
                    self.name_conflict(now, m.name, known, claimed);
                    JoinStatus::NameConflict
                }
                None => JoinStatus::Accepted,
            },
            None if self.members.len() >= self.config.limits.max_members => {
                self.stats.members_refused += 1;
                JoinStatus::ClusterFull
            }
            None => JoinStatus::Accepted,
        };
        if status == JoinStatus::Accepted {
            // First hand: the joiner speaks for itself.
            self.apply_alive(now, &update, Some(Sender { addr: from, name: m.name }));
            if self.config.dissemination.style == DisseminationStyle::Multicast {
                // The seed announces the newcomer to everyone.
                if let Some(slot) = self.members.find(m.name) {
                    self.multicast(slot);
                }
            }
        }
        // A member held faulty or gone at version v must come back above it:
        // the next version tells the joiner to refute even when it restarted
        // with v (a process that reuses its generation).
        let known = self
            .members
            .find(m.name)
            .and_then(|s| self.members.get(s))
            .map_or(Version::default(), |e| if e.state.is_live() { e.version() } else { e.version().next() });
        let receiver = self.tag(m.name);
        // Never larger than the request: a sealed request is for any
        // receiver, so a capture can be replayed to another seed from a
        // forged source (joiners pad their requests).
        let limit = origin.len;
        self.send(Outgoing::JoinResponse { to: from, seq: request.seq, status, known, receiver, limit });
        if status == JoinStatus::Accepted
            && let Some(slot) = self.members.find(m.name)
        {
            // Gossiping, the seed also tells a few members at once (after
            // its answer): the news starts spreading now, not at the next
            // gossip round.
            self.push_now(slot, None);
        }
    }

    /// As a joiner: a seed answered.
    pub(super) fn on_join_response(&mut self, now: Time, from: SocketAddr, response: &JoinResponse<'_>) {
        if self.join.as_ref().is_none_or(|j| j.seq != response.seq) {
            return;
        }
        let failure = match response.status {
            JoinStatus::Accepted => None,
            JoinStatus::NameConflict => Some(JoinFailure::NameConflict),
            JoinStatus::ClusterFull => Some(JoinFailure::ClusterFull),
            JoinStatus::NotAdmitted => Some(JoinFailure::NotAdmitted),
            JoinStatus::Other(_) => return, // a status from a newer version: wait for another seed
        };
        self.join = None;
        if let Some(reason) = failure {
            self.events.push(Record::JoinFailed { reason });
            return;
        }
        let own = self.local_entry().map_or(Version::default(), |e| e.version());
        let known = Version::new(response.known_generation, response.known_incarnation);
        if known == own.next() {
            // The seed holds this process faulty or gone at its version (it
            // answers the next one): an ordinary refutation.
            self.refute(now, own);
        } else if known > own {
            // A past life above this process (its clock went back, or it
            // reuses a generation): resume as a new generation above it.
            self.refute(now, known);
        }
        self.events.push(Record::JoinSucceeded { seed: from });
        self.open_join_sync(now, from);
    }

    /// Broadcasts `payload` to every other member (delivered once each, as
    /// [`Event::Broadcast`](crate::Event::Broadcast)); returns its sequence
    /// number.
    pub fn broadcast(&mut self, now: Time, payload: &[u8]) -> Result<u32, CommandError> {
        if self.leave.is_some() {
            return Err(CommandError::Left);
        }
        let limit = self.config.dissemination.max_broadcast_payload;
        if payload.len() > limit {
            return Err(CommandError::TooLarge { what: "payload", len: payload.len(), limit });
        }
        let now = self.advance(now);
        let expires = now + self.config.dissemination.broadcast_lifetime;
        self.broadcast_as(now, payload, expires, BroadcastKind::Broadcast)
    }

    /// Gossips a broadcast (or a query) of this node that lives until
    /// `expires`; returns its sequence number.
    pub(super) fn broadcast_as(
        &mut self,
        now: Time,
        payload: &[u8],
        expires: Time,
        kind: BroadcastKind,
    ) -> Result<u32, CommandError> {
        let seq = self.next_broadcast_seq;
        let origin: &[u8] = self.members.local().map_or(&[], |e| &e.name);
        let b = Stored { origin, generation: self.process_generation, seq, payload, expires, kind };
        let stored = store_broadcast(&mut self.broadcasts, &mut self.broadcast_queue, &mut self.stats, b, true);
        let index = stored.ok_or(CommandError::BroadcastQueueFull)?;
        self.broadcast_queue.enqueue(index, now);
        self.arm_gossip(now);
        self.next_broadcast_seq = seq.wrapping_add(1);
        Ok(seq)
    }

    /// Replaces this node's metadata and gossips it (with a new incarnation).
    pub fn set_metadata(&mut self, now: Time, meta: &[u8]) -> Result<(), CommandError> {
        if self.leave.is_some() {
            return Err(CommandError::Left);
        }
        let limit = self.config.limits.max_metadata;
        if meta.len() > limit {
            return Err(CommandError::TooLarge { what: "metadata", len: meta.len(), limit });
        }
        let now = self.advance(now);
        let Some(local) = self.members.get_mut(LOCAL) else { return Ok(()) };
        local.meta.clear();
        local.meta.extend_from_slice(meta);
        let next = local.version().next();
        local.changed_at = now;
        self.members.set_version(LOCAL, next);
        self.disseminate(now, LOCAL);
        Ok(())
    }

    /// The probe timeout in force, health scaling included.
    pub fn probe_timeout(&self) -> Duration {
        self.scaled(self.prober.timeout)
    }

    /// This node's incarnation.
    pub fn incarnation(&self) -> u32 {
        self.local_entry().map_or(0, |e| e.incarnation)
    }
}
