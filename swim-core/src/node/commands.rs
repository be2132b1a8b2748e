//! Commands from the application and the runtime: join, leave, broadcast,
//! metadata, overload reports and the probe timeout.

use core::time::Duration;
use std::net::SocketAddr;

use smallvec::SmallVec;
use swim_wire::{JoinRequest, JoinResponse, JoinStatus};

use super::Node;
use super::input::store_broadcast;
use super::membership::AliveUpdate;
use super::transmit::Outgoing;
use crate::config::Dissemination;
use crate::error::CommandError;
use crate::events::{JoinFailure, Record};
use crate::gossip::Item;
use crate::members::{LOCAL, State};
use crate::serial;
use crate::time::Time;

/// A join in progress.
#[derive(Debug)]
pub(crate) struct Join {
    seeds: SmallVec<[SocketAddr; 4]>,
    attempts: u32,
    pub(crate) next_at: Time,
    seq: u32,
}

/// Leave pings outstanding at once.
const LEAVE_PINGS: usize = 16;

/// A graceful departure in progress.
#[derive(Debug)]
pub(crate) struct Leave {
    /// Members to tell per round.
    fanout: usize,
    /// Sequence numbers of this round's pings (each carries the left update).
    pings: SmallVec<[u32; LEAVE_PINGS]>,
    /// Whether some member acknowledged a ping carrying the departure.
    acked: bool,
    /// When to try another round if nobody acknowledged.
    pub(crate) retry_at: Time,
}

impl Node {
    /// Joins the cluster through `seeds`: sends each a join request, and
    /// retries every `join_retry_interval` until one accepts (then syncs
    /// with it) or `join_attempts` are used up. The outcome arrives as
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
        let now = self.advance(now);
        let seq = self.next_seq();
        for &to in &seeds {
            self.send(Outgoing::JoinRequest { to, seq });
        }
        // Announce this node in its own gossip too, not only through the seeds.
        self.disseminate(now, LOCAL);
        self.join = Some(Join { seeds, attempts: 1, next_at: now + self.config.join_retry_interval, seq });
        Ok(())
    }

    /// Retries or gives up a join.
    pub(super) fn join_timer(&mut self, now: Time) {
        let Some(join) = &mut self.join else { return };
        if now < join.next_at {
            return;
        }
        if join.attempts >= self.config.join_attempts {
            self.join = None;
            self.events.push(Record::JoinFailed { reason: JoinFailure::NoAnswer });
            return;
        }
        join.attempts += 1;
        join.next_at = now + self.config.join_retry_interval;
        let (seq, count) = (join.seq, join.seeds.len());
        for i in 0..count {
            if let Some(&to) = self.join.as_ref().and_then(|j| j.seeds.get(i)) {
                self.send(Outgoing::JoinRequest { to, seq });
            }
        }
    }

    /// As a seed: a member asks to join.
    pub(super) fn on_join_request(&mut self, now: Time, from: SocketAddr, request: &JoinRequest<'_>) {
        if !self.join_limiter.allow(now, from.ip()) {
            self.stats.rate_limited += 1;
            return;
        }
        let m = request.member;
        let claimed = m.addrs.first().unwrap_or(from);
        let status = match self.members.find(m.name) {
            Some(slot) => {
                let entry = self.members.get(slot);
                let known = entry.and_then(|e| e.addrs.first().copied());
                let live = entry.is_some_and(|e| e.state.is_live());
                match known {
                    Some(known) if (slot == LOCAL || live) && known != claimed => {
                        self.name_conflict(m.name, known, claimed);
                        JoinStatus::NameConflict
                    }
                    _ => JoinStatus::Accepted,
                }
            }
            None if self.members.len() >= self.config.max_members => {
                self.stats.members_refused += 1;
                JoinStatus::ClusterFull
            }
            None => JoinStatus::Accepted,
        };
        if status == JoinStatus::Accepted {
            let update = AliveUpdate { name: m.name, incarnation: m.incarnation, addrs: m.addrs, meta: m.meta };
            self.apply_alive(now, &update);
            if self.config.dissemination == Dissemination::Multicast {
                // The seed announces the newcomer to everyone.
                if let Some(slot) = self.members.find(m.name) {
                    self.multicast(slot);
                }
            }
        }
        // A member held faulty or gone at incarnation i must come back above
        // it: i + 1 tells the joiner to refute even when it restarted at i.
        let known_incarnation = self
            .members
            .find(m.name)
            .and_then(|s| self.members.get(s))
            .map_or(0, |e| if e.state.is_live() { e.incarnation } else { e.incarnation.wrapping_add(1) });
        self.send(Outgoing::JoinResponse { to: from, seq: request.seq, status, known_incarnation });
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
            JoinStatus::Other(_) => return, // a status from a newer version: wait for another seed
        };
        self.join = None;
        if let Some(reason) = failure {
            self.events.push(Record::JoinFailed { reason });
            return;
        }
        let own = self.local_entry().map_or(0, |e| e.incarnation);
        if serial::newer(response.known_incarnation, own) {
            // This node restarted: resume above the incarnation the cluster knew.
            self.refute(now, response.known_incarnation);
        }
        self.events.push(Record::JoinSucceeded { seed: from });
        self.open_join_sync(now, from);
    }

    /// Leaves the cluster gracefully: gossips that this node left, stops
    /// probing, and pings a few members at once with the news, again every
    /// probe timeout until one of them acknowledges. Keep driving the node
    /// until [`leave_announced`](Node::leave_announced) (or a timeout), then
    /// drop it.
    pub fn leave(&mut self, now: Time) {
        if self.leave.is_some() {
            return;
        }
        let now = self.advance(now);
        self.join = None;
        self.probes.clear();
        // Counted while this node is still alive: every live member but itself.
        let others = self.members.live().saturating_sub(1);
        self.members.set_state(LOCAL, State::Left, now);
        self.disseminate(now, LOCAL);
        let fanout = self.config.indirect_probes.max(3).min(others).min(LEAVE_PINGS);
        self.leave = Some(Leave { fanout, pings: SmallVec::new(), acked: false, retry_at: now });
        self.announce_departure(now);
    }

    /// Pings a few distinct random members; the left update rides on each
    /// (it is queued as fresh gossip, so it goes first).
    fn announce_departure(&mut self, now: Time) {
        let Some(fanout) = self.leave.as_ref().map(|l| l.fanout) else { return };
        let retry = self.scaled(self.probe_timeout);
        if let Some(leave) = &mut self.leave {
            leave.pings.clear();
            leave.retry_at = now + retry;
        }
        self.disseminate(now, LOCAL);
        for _ in 0..fanout * 4 {
            if self.leave.as_ref().is_none_or(|l| l.pings.len() >= fanout) {
                break;
            }
            let Some(slot) = self.probe_list.random(&mut self.rng) else { break };
            let Some(target) = self.members.reference(slot) else { continue };
            let Some(&to) = self.members.get(slot).and_then(|e| e.addrs.first()) else { continue };
            if self.outbox.iter().any(|o| matches!(o, Outgoing::Ping { target: t, .. } if *t == target)) {
                continue;
            }
            let seq = self.next_seq();
            if let Some(leave) = &mut self.leave {
                leave.pings.push(seq);
            }
            self.send(Outgoing::Ping { to, seq, target, buddy: false });
        }
    }

    /// Retries the announcement until someone acknowledges it.
    pub(super) fn leave_timer(&mut self, now: Time) {
        if self.leave.as_ref().is_some_and(|l| !l.acked && now >= l.retry_at) {
            self.announce_departure(now);
        }
    }

    /// An ack arrived while leaving: if it answers a leave ping, the
    /// departure is known to at least one member, which gossips it on.
    pub(super) fn leave_acked(&mut self, seq: u32) {
        if let Some(leave) = &mut self.leave {
            if leave.pings.contains(&seq) {
                leave.acked = true;
            }
        }
    }

    /// Whether `leave` was called.
    pub fn has_left(&self) -> bool {
        self.leave.is_some()
    }

    /// Whether the departure reached at least one member (or there was
    /// nobody to tell): the node may stop.
    pub fn leave_announced(&self) -> bool {
        self.leave.as_ref().is_some_and(|l| l.acked || l.fanout == 0)
    }

    /// Broadcasts `payload` to every other member (delivered once each, as
    /// [`Event::Broadcast`](crate::Event::Broadcast)); returns its sequence
    /// number.
    pub fn broadcast(&mut self, now: Time, payload: &[u8]) -> Result<u32, CommandError> {
        if self.leave.is_some() {
            return Err(CommandError::Left);
        }
        let limit = self.config.max_broadcast_payload;
        if payload.len() > limit {
            return Err(CommandError::TooLarge { what: "payload", len: payload.len(), limit });
        }
        self.advance(now);
        let seq = self.next_broadcast_seq;
        let origin: &[u8] = self.members.local().map_or(&[], |e| &e.name);
        let stored =
            store_broadcast(&mut self.broadcasts, &mut self.gossip, &mut self.stats, origin, seq, payload, true);
        let index = stored.ok_or(CommandError::BroadcastQueueFull)?;
        self.gossip.enqueue(Item::Broadcast(index), now);
        self.next_broadcast_seq = seq.wrapping_add(1);
        Ok(seq)
    }

    /// Replaces this node's metadata and gossips it (with a new incarnation).
    pub fn set_metadata(&mut self, now: Time, meta: &[u8]) -> Result<(), CommandError> {
        if self.leave.is_some() {
            return Err(CommandError::Left);
        }
        let limit = self.config.max_metadata;
        if meta.len() > limit {
            return Err(CommandError::TooLarge { what: "metadata", len: meta.len(), limit });
        }
        let now = self.advance(now);
        let Some(local) = self.members.get_mut(LOCAL) else { return Ok(()) };
        local.meta.clear();
        local.meta.extend_from_slice(meta);
        local.incarnation = local.incarnation.wrapping_add(1);
        local.changed_at = now;
        self.disseminate(now, LOCAL);
        Ok(())
    }

    /// The runtime reports that it woke up `lateness` after a deadline:
    /// Lifeguard counts local overload against this node's health.
    pub fn report_overload(&mut self, now: Time, lateness: Duration) {
        self.advance(now);
        self.stats.overload_reports += 1;
        if !lateness.is_zero() {
            self.adjust_health(1);
        }
    }

    /// The probe timeout the round-trip estimator proposes (the 99th
    /// percentile of recent round trips plus 10%, within the configured
    /// bounds), or `None` before enough samples or when adaptation is off.
    pub fn proposed_probe_timeout(&self) -> Option<Duration> {
        if !self.config.adaptive_probe_timeout {
            return None;
        }
        self.rtt.proposal(self.config.min_probe_timeout, self.config.max_probe_timeout)
    }

    /// Sets the probe timeout (clamped to the configured bounds).
    pub fn set_probe_timeout(&mut self, timeout: Duration) {
        self.probe_timeout = timeout.clamp(self.config.min_probe_timeout, self.config.max_probe_timeout);
    }

    /// The probe timeout in force, health scaling included.
    pub fn probe_timeout(&self) -> Duration {
        self.scaled(self.probe_timeout)
    }

    /// This node's incarnation.
    pub fn incarnation(&self) -> u32 {
        self.local_entry().map_or(0, |e| e.incarnation)
    }
}
