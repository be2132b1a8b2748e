//! Failure detection: the protocol period, direct and indirect probes, and
//! this node's part as a helper for others' indirect probes.

use core::time::Duration;
use std::net::SocketAddr;

use super::Node;
use super::forwards::{Due, Forward};
use super::membership::Evidence;
use super::timers::Timer;
use super::transmit::{Carry, Outgoing};
use crate::config::Config;
use crate::members::{By, Entry, LOCAL, MemberRef, State};
use crate::rtt::RttEstimator;
use crate::time::Time;
use crate::version::Version;

/// On average, one reconnect ping per this many periods (while faulty
/// members are held).
const RECONNECT_PERIODS: u32 = 4;

/// Most suspicion checks (see [`Node::check_suspicion`]) running at once:
/// more at the same time mean a mass failure, whose verdicts are not held
/// back.
pub(crate) const CHECKS: usize = 4;

/// Most check rounds per suspicion: one, and more only while the suspect
/// answers without refuting.
pub(crate) const CHECK_ROUNDS: usize = 3;

/// One probe of one member in the current period.
#[derive(Debug, Clone)]
pub(crate) struct Probe {
    pub(crate) target: MemberRef,
    /// The target's generation when the probe started: a later process of
    /// the target (on another address) is not the one probed.
    pub(crate) generation: u64,
    pub(crate) addr: SocketAddr,
    pub(crate) seq: u32,
    pub(crate) indirect_seq: u32,
    pub(crate) started: Time,
    pub(crate) indirect_at: Time,
    pub(crate) end_at: Time,
    pub(crate) acked: bool,
    pub(crate) indirect_sent: bool,
    pub(crate) nacks_expected: u8,
    pub(crate) nacks: u8,
    /// Whether it checks a suspicion (see [`Node::check_suspicion`]) rather
    /// than being one of the period's round-robin probes.
    pub(crate) check: bool,
}

impl Probe {
    pub(crate) fn next_deadline(&self) -> Time {
        if !self.acked && !self.indirect_sent { self.indirect_at.min(self.end_at) } else { self.end_at }
    }

    /// Whether `entry` (the target's) is still the process this probe
    /// pings: same generation, same address.
    fn still_probed(&self, entry: &Entry) -> bool {
        entry.generation == self.generation && entry.addrs.first() == Some(&self.addr)
    }
}

/// The prober's state: the probes of the current period, the round-trip
/// estimator, and the probe timeout it adapts.
#[derive(Debug)]
pub(crate) struct Prober {
    pub(crate) probes: Vec<Probe>,
    rtt: RttEstimator,
    /// The probe timeout before health scaling: the configured one, then
    /// (with `probe.adaptive_timeout`) the 99th percentile of recent round
    /// trips plus 10%, within the configured bounds.
    pub(crate) timeout: Duration,
    /// Whether a direct ping arrived since the last period started.
    pub(crate) probed: bool,
}

impl Prober {
    pub(crate) fn new(config: &Config) -> Self {
        Prober {
            // And the suspicion checks, which run across period boundaries.
            probes: Vec::with_capacity(config.probe.direct + CHECKS),
            rtt: RttEstimator::new(),
            timeout: config.probe.timeout,
            probed: false,
        }
    }

    pub(crate) fn next_deadline(&self) -> Option<Time> {
        self.probes.iter().map(Probe::next_deadline).min()
    }

    /// Applies the round-trip estimator's proposal (once per period).
    fn adapt(&mut self, config: &Config) {
        if !config.probe.adaptive_timeout {
            return;
        }
        if let Some(proposed) = self.rtt.proposal(config.probe.min_timeout, config.probe.max_timeout) {
            self.timeout = proposed;
        }
    }

    /// When a helper should nack a silent target: 80% of this prober's
    /// unscaled timeout, in microseconds (Lifeguard).
    fn nack_after_us(&self) -> u32 {
        u32::try_from(self.timeout.mul_f64(0.8).as_micros()).unwrap_or(u32::MAX)
    }
}

impl Node {
    /// Starts a protocol period: picks targets and pings them.
    pub(super) fn start_period(&mut self, now: Time) {
        self.prober.adapt(&self.config);
        self.drop_overdue_gossip(now);
        let period = self.scaled(self.config.probe.period);
        let timeout = self.scaled(self.prober.timeout);
        // The period's probes end when the next period starts: one wake-up
        // for both.
        let jitter = period.mul_f64(self.config.probe.jitter * self.rng.unit());
        let length = period + jitter;
        let wanted = self.config.probe.direct.min(self.probe_list.len());
        // At a round boundary the next pick can be a member already probed
        // (this period, or by a suspicion check still running); it counts as
        // probed, and another pick is drawn.
        let mut started = 0;
        for _ in 0..2 * wanted {
            if started >= wanted {
                break;
            }
            let Some(slot) = self.probe_list.next(&mut self.rng) else { break };
            if slot == LOCAL || self.prober.probes.iter().any(|p| p.target.slot == slot) {
                continue;
            }
            started += usize::from(self.probe(now, slot, timeout, length, false));
        }
        self.timers.set(Timer::Period, now + length);
        self.stats.periods += 1;
        self.stats.periods_probed += u64::from(core::mem::take(&mut self.prober.probed));
    }

    /// Pings the member in `slot` (with its suspicion riding first, under
    /// Lifeguard), to be helped by others after `timeout` and concluded
    /// after `length`; returns whether a probe started.
    fn probe(&mut self, now: Time, slot: u32, timeout: Duration, length: Duration, check: bool) -> bool {
        let Some(entry) = self.members.get(slot) else { return false };
        let (Some(&addr), Some(target)) = (entry.addrs.first(), self.members.reference(slot)) else { return false };
        let carry = if self.config.probe.lifeguard { Carry::Suspicion } else { Carry::Nothing };
        let generation = entry.generation;
        let seq = self.next_seq();
        let indirect_seq = self.next_seq();
        self.prober.probes.push(Probe {
            target,
            generation,
            addr,
            seq,
            indirect_seq,
            started: now,
            indirect_at: now + timeout,
            end_at: now + length,
            acked: false,
            indirect_sent: false,
            nacks_expected: 0,
            nacks: 0,
            check,
        });
        self.stats.probes += 1;
        self.send(Outgoing::Ping { to: addr, seq, target, carry });
        true
    }

    /// Probes a suspect first-hand before this node's verdict on it, if the
    /// suspicion needs it; returns when the verdict may come instead (the
    /// end of that probe), or `None` if it may come now.
    ///
    /// A suspicion that ran its course with fewer independent confirmations
    /// than expected is weak evidence: the other members' probes of the
    /// suspect succeeded, or they heard a refutation that this node missed
    /// (under loss, every copy of it can miss one member, and nothing
    /// repeats it once its transmissions are spent). Such a node pings the
    /// suspect itself, with the suspicion riding first and helpers after the
    /// probe timeout, and gives its verdict only after that probe: a live
    /// suspect answers with its refutation (the ack carries its alive update
    /// whenever the ping names an older version of it). A suspect that
    /// answered (through a helper, whose ping does not carry the suspicion)
    /// without refuting is checked again, up to [`CHECK_ROUNDS`] rounds in
    /// all. A crashed member is confirmed by others within the minimum
    /// timeout, so its verdict is not delayed; with fewer confirmations, by
    /// one protocol period. At most [`CHECKS`] run at once, and none while
    /// this node leaves.
    pub(super) fn check_suspicion(&mut self, now: Time, slot: u32) -> Option<Time> {
        if self.leave.is_some() {
            return None;
        }
        let s = self.members.suspicion_mut(slot)?;
        let weak = s.accusers.len().saturating_sub(1) < usize::from(s.expected);
        let again = s.checks > 0 && s.answered && usize::from(s.checks) < CHECK_ROUNDS;
        if !((weak && s.checks == 0) || again) {
            return None;
        }
        if let Some(running) = self.prober.probes.iter().find(|p| p.target.slot == slot) {
            let end = running.end_at;
            self.start_check_round(slot);
            return Some(end);
        }
        if self.prober.probes.iter().filter(|p| p.check).count() >= CHECKS {
            return None;
        }
        let period = self.scaled(self.config.probe.period);
        let timeout = self.scaled(self.prober.timeout);
        self.start_check_round(slot);
        self.probe(now, slot, timeout, period, true).then_some(now + period)
    }

    fn start_check_round(&mut self, slot: u32) {
        if let Some(s) = self.members.suspicion_mut(slot) {
            s.checks = s.checks.saturating_add(1);
            s.answered = false;
        }
        self.stats.suspicions_checked += 1;
    }

    /// A probe of `target` was answered: if it is suspect, its suspicion
    /// has been answered (see [`check_suspicion`](Node::check_suspicion)).
    fn note_answer(&mut self, target: MemberRef) {
        if self.members.resolve(target).is_some_and(|e| e.state == State::Suspect)
            && let Some(s) = self.members.suspicion_mut(target.slot)
        {
            s.answered = true;
        }
    }

    /// Every [`RECONNECT_PERIODS`] protocol periods or so (not scaled by
    /// health: these pings accuse nobody, and a member just back from
    /// isolation is the one that most needs them), a member held faulty,
    /// taken in turn, is pinged with its verdict and this node's own state
    /// riding first: a member that is in fact alive (a partition healed, a
    /// verdict was false) refutes at once, straight to this node, and learns
    /// of this node if it held an older process of it. It costs one datagram
    /// per [`RECONNECT_PERIODS`] periods, and only while faulty members are
    /// held.
    pub(super) fn reconnect_ping(&mut self, now: Time) {
        if self.tombstones.is_empty() || self.leave.is_some() {
            return; // armed again when a member is declared faulty
        }
        self.arm_reconnect(now);
        let Some(slot) = self.next_faulty_slot() else { return };
        let (Some(target), Some(&to)) =
            (self.members.reference(slot), self.members.get(slot).and_then(|e| e.addrs.first()))
        else {
            return;
        };
        let seq = self.next_seq();
        self.stats.reconnect_pings += 1;
        self.send(Outgoing::Ping { to, seq, target, carry: Carry::Reconnect });
    }

    /// Schedules a gossip round (within one interval, at random), unless
    /// one is scheduled: something was queued.
    pub(super) fn arm_gossip(&mut self, now: Time) {
        if !self.config.dissemination.gossip_interval.is_zero() && self.timers.get(Timer::Gossip).is_none() {
            self.timers.set(Timer::Gossip, now + self.config.dissemination.gossip_interval.mul_f64(self.rng.unit()));
        }
    }

    /// Schedules the next reconnect ping, unless one is scheduled.
    pub(super) fn arm_reconnect(&mut self, now: Time) {
        if self.timers.get(Timer::Reconnect).is_none() {
            let every = self.config.probe.period * RECONNECT_PERIODS;
            self.timers.set(Timer::Reconnect, now + every.mul_f64(0.5 + self.rng.unit()));
        }
    }

    /// Items still queued after the retransmit limit shrank (members left)
    /// would never be sent again: they leave the queues.
    fn drop_overdue_gossip(&mut self, now: Time) {
        self.gossip.drain_from(self.retransmit_limit(), |_| {});
        let limit = self.broadcast_limit();
        let (queue, pool) = (&mut self.broadcast_queue, &mut self.broadcasts);
        queue.drain_from(limit, |index| pool.retain(index, now));
    }

    /// Indirect phase and verdicts of running probes.
    pub(super) fn probe_timers(&mut self, now: Time) {
        let mut i = 0;
        while let Some(probe) = self.prober.probes.get(i) {
            if now >= probe.end_at {
                let probe = self.prober.probes.swap_remove(i);
                self.conclude(now, &probe);
                continue;
            }
            if !probe.acked && !probe.indirect_sent && now >= probe.indirect_at {
                self.send_indirect(i);
            }
            i += 1;
        }
    }

    /// Up to `want` (at most 16) random distinct alive members other than
    /// this node and `avoid`, into `out`; returns how many. A few tries
    /// each, so the work stays O(want) whatever the cluster size.
    pub(super) fn random_alive(&mut self, want: usize, avoid: u32, out: &mut [u32; 16]) -> usize {
        self.random_members(want, avoid, out, |state| state == State::Alive)
    }

    /// As [`random_alive`](Node::random_alive), for members in a state
    /// accepted by `usable`.
    pub(super) fn random_members(
        &mut self,
        want: usize,
        avoid: u32,
        out: &mut [u32; 16],
        usable: impl Fn(State) -> bool,
    ) -> usize {
        let want = want.min(out.len());
        let mut found = 0;
        for _ in 0..want * 4 {
            if found >= want {
                break;
            }
            let Some(slot) = self.probe_list.random(&mut self.rng) else { break };
            let ok = slot != avoid
                && slot != LOCAL
                && !out.get(..found).unwrap_or_default().contains(&slot)
                && self.members.get(slot).is_some_and(|e| usable(e.state));
            if ok && let Some(h) = out.get_mut(found) {
                *h = slot;
                found += 1;
            }
        }
        found
    }

    /// Asks up to K random helpers to probe the target of probe `i`.
    fn send_indirect(&mut self, i: usize) {
        let Some(probe) = self.prober.probes.get(i) else { return };
        let (target, seq, addr) = (probe.target, probe.indirect_seq, probe.addr);
        let target_live = self.members.resolve(target).is_some_and(|e| e.state.is_live() && probe.still_probed(e));
        let mut helpers = [0u32; 16];
        // A target that left, was declared faulty or restarted elsewhere
        // meanwhile needs no help.
        let found =
            if target_live { self.random_alive(self.config.probe.indirect, target.slot, &mut helpers) } else { 0 };
        let want_nack = self.config.probe.lifeguard;
        let nack_after_us = self.prober.nack_after_us();
        for &slot in helpers.get(..found).unwrap_or_default() {
            let Some(helper) = self.members.get(slot) else { continue };
            if let Some(&to) = helper.addrs.first() {
                let receiver = self.tag(&helper.name);
                self.stats.indirect_pings_sent += 1;
                let ping =
                    Outgoing::IndirectPing { to, seq, target, target_addr: addr, want_nack, nack_after_us, receiver };
                self.send(ping);
            }
        }
        if let Some(probe) = self.prober.probes.get_mut(i) {
            probe.indirect_sent = true;
            probe.nacks_expected = if want_nack { crate::convert::to_u8(found) } else { 0 };
        }
    }

    /// The end of a probe: adjust health, and suspect the target if no ack
    /// came.
    fn conclude(&mut self, now: Time, probe: &Probe) {
        if probe.acked {
            return; // health was credited when the ack arrived
        }
        // A target that left, was declared faulty, was forgotten or was
        // replaced by a later process (on another address) while it was
        // probed says nothing about this node or about the member now.
        let Some(entry) = self.members.resolve(probe.target) else { return };
        if !entry.state.is_live() || !probe.still_probed(entry) {
            return;
        }
        self.stats.probes_failed += 1;
        // Lifeguard: with helpers expected to nack, each missing nack hints
        // that this node, not the target, has trouble; without helpers, any
        // failed probe counts against this node's health.
        let penalty = if probe.nacks_expected > 0 { probe.nacks_expected.saturating_sub(probe.nacks) } else { 1 };
        let version = entry.version();
        self.adjust_health(i32::from(penalty));
        if self.config.suspicion.enabled {
            self.suspect(now, probe.target.slot, version, By::Local, Evidence::Accusation, None);
        } else {
            self.declare_faulty(now, probe.target.slot, version, By::Local);
        }
    }

    /// A direct ack with sequence number `seq` from the member named
    /// `source`: for one of this node's probes, for a leave ping, or for a
    /// probe it performs for someone else. An ack must name the member that
    /// was pinged.
    ///
    /// An ack counts only if it echoes the sequence number and the probed
    /// member's name. A sealed one is bound to this node by its key, so it
    /// comes from a key holder; a plaintext one (`unsealed_from`) proves
    /// nothing, so it must also come from one of the member's addresses.
    pub(super) fn on_ack(&mut self, now: Time, seq: u32, source: &[u8], unsealed_from: Option<SocketAddr>) {
        let members = &self.members;
        let from_member = |e: &Entry| unsealed_from.is_none_or(|from| e.addrs.contains(&from));
        if members.find(source).and_then(|s| members.get(s)).is_some_and(|e| !from_member(e)) {
            return;
        }
        self.leave_acked(seq, source);
        let members = &self.members;
        let probe = self.prober.probes.iter_mut().find(|p| {
            p.seq == seq
                && !p.acked
                && members.resolve(p.target).is_some_and(|e| e.name.as_slice() == source && from_member(e))
        });
        if let Some(probe) = probe {
            probe.acked = true;
            let rtt = now.saturating_since(probe.started);
            let target = probe.target;
            self.prober.rtt.record(rtt);
            if let Some(entry) = self.members.resolve_mut(target) {
                entry.answered(now, Some(rtt));
            }
            self.note_answer(target);
            self.adjust_health(-1);
            return;
        }
        if let Some((index, generation)) = self.forwards.answered(seq, source, unsealed_from) {
            self.send(Outgoing::IndirectAck { index, generation });
        }
    }

    /// A helper reports that the target answered.
    pub(super) fn on_indirect_ack(&mut self, now: Time, seq: u32, target: &[u8]) {
        let members = &self.members;
        let probe = self.prober.probes.iter_mut().find(|p| {
            p.indirect_seq == seq && !p.acked && members.resolve(p.target).is_some_and(|e| e.name.as_slice() == target)
        });
        if let Some(probe) = probe {
            probe.acked = true;
            let target = probe.target;
            if let Some(entry) = self.members.resolve_mut(target) {
                entry.answered(now, None);
            }
            self.note_answer(target);
            self.adjust_health(-1);
        }
    }

    /// A helper reports that the target stayed silent.
    ///
    /// Once every helper asked has said so, and no ack came, nothing more
    /// is waited for: the probe ends now (its target is suspected a little
    /// before the end of the period it would have waited for).
    pub(super) fn on_nack(&mut self, now: Time, seq: u32) {
        if let Some(probe) = self.prober.probes.iter_mut().find(|p| p.indirect_seq == seq) {
            probe.nacks = probe.nacks.saturating_add(1);
            self.stats.nacks_received += 1;
            if !probe.acked && probe.indirect_sent && probe.nacks_expected > 0 && probe.nacks >= probe.nacks_expected {
                probe.end_at = probe.end_at.min(now);
            }
        }
    }

    /// Another member asks this node to probe `target` for it.
    ///
    /// Only for a live member, about a live member of this node's table,
    /// and only at the addresses the table holds: the ping goes to the
    /// target's, the answer to the requester's (not to where the request
    /// came from, which a forger chooses, and which NAT may change). A
    /// helper never sends anything (a ping, or a nack and its gossip) to an
    /// address outside the cluster because a datagram asked it to.
    pub(super) fn on_indirect_ping(&mut self, now: Time, ping: &swim_wire::IndirectPing<'_>) {
        let is_self = ping.target == self.local_name();
        let live_at = |name: &[u8]| {
            self.members.find(name).and_then(|s| self.members.get(s)).filter(|e| e.state.is_live()).map(|e| &e.addrs)
        };
        let requester = live_at(ping.source).and_then(|addrs| addrs.first().copied());
        let target_addr = if is_self {
            Some(ping.target_addr)
        } else {
            live_at(ping.target).and_then(|addrs| {
                if addrs.contains(&ping.target_addr) { Some(ping.target_addr) } else { addrs.first().copied() }
            })
        };
        let (Some(requester), Some(target_addr)) = (requester, target_addr) else {
            self.stats.indirect_pings_refused += 1;
            return;
        };
        let timeout = self.scaled(self.prober.timeout);
        // The nack is due when the prober asked (80% of its own unscaled
        // timeout, so that it arrives while the prober waits), within this
        // node's bounds; a prober that did not say gets 80% of ours.
        let nack_after = match ping.nack_after_us {
            0 => self.prober.timeout.mul_f64(0.8),
            us => Duration::from_micros(u64::from(us)).min(self.config.probe.max_timeout),
        };
        let seq = self.next_seq();
        let record = Forward {
            active: true,
            generation: 0,
            requester,
            requester_tag: self.tag(ping.source),
            requester_seq: ping.seq,
            seq,
            target_addr,
            target_version: Version::new(ping.target_generation, ping.target_incarnation),
            acked: is_self,
            nack_at: ping.want_nack.then(|| now + nack_after),
            expires: now + timeout.max(nack_after),
        };
        let (index, generation) = self.forwards.start(record, ping.target);
        self.stats.indirect_probes_helped += 1;
        if is_self {
            // Asked to probe this node itself: it is evidently alive.
            self.send(Outgoing::IndirectAck { index, generation });
        } else {
            self.send(Outgoing::ForwardPing { index, generation });
        }
    }

    /// Nacks for silent targets and expiry of finished forwards.
    pub(super) fn forward_timers(&mut self, now: Time) {
        let mut nacks = [(0u16, 0u32); super::forwards::FORWARDS];
        let mut count = 0;
        self.forwards.timers(now, |Due::Nack { index, generation }| {
            if let Some(slot) = nacks.get_mut(count) {
                *slot = (index, generation);
                count += 1;
            }
        });
        for &(index, generation) in nacks.get(..count).unwrap_or_default() {
            self.stats.nacks_sent += 1;
            self.send(Outgoing::Nack { index, generation });
        }
    }

    /// A gossip round: queued updates and broadcasts go to a few random live
    /// members in datagrams of their own. Nothing is sent when nothing is
    /// queued.
    ///
    /// The timer runs only while something is queued: a quiet member does
    /// not wake up for it.
    pub(super) fn gossip_round(&mut self, now: Time) {
        if self.config.dissemination.gossip_interval.is_zero() {
            return;
        }
        let work =
            self.gossip.has_work(self.retransmit_limit()) || self.broadcast_queue.has_work(self.broadcast_limit());
        if !work {
            return; // armed again when something is queued
        }
        self.timers.set(Timer::Gossip, now + self.config.dissemination.gossip_interval);
        let mut to = [0u32; 16];
        // Suspects too: they are the ones who need to hear it to refute.
        let found = self.random_members(self.config.dissemination.gossip_fanout, LOCAL, &mut to, State::is_live);
        for &slot in to.get(..found).unwrap_or_default() {
            let Some(e) = self.members.get(slot) else { continue };
            if let Some(&addr) = e.addrs.first() {
                let receiver = self.tag(&e.name);
                self.send(Outgoing::Gossip { to: addr, receiver });
            }
        }
    }
}
