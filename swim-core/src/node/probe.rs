//! Failure detection: the protocol period, direct and indirect probes, and
//! this node's part as a helper for others' indirect probes.

use std::net::SocketAddr;

use super::Node;
use super::forwards::{Due, Forward};
use super::membership::Evidence;
use super::transmit::Outgoing;
use crate::members::{By, LOCAL, MemberRef, State};
use crate::time::Time;

/// One probe of one member in the current period.
#[derive(Debug, Clone)]
pub(crate) struct Probe {
    pub(crate) target: MemberRef,
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
}

impl Probe {
    pub(crate) fn next_deadline(&self) -> Time {
        if !self.acked && !self.indirect_sent { self.indirect_at.min(self.end_at) } else { self.end_at }
    }
}

impl Node {
    /// Starts a protocol period: picks targets and pings them.
    pub(super) fn start_period(&mut self, now: Time) {
        let period = self.scaled(self.config.protocol_period);
        let timeout = self.scaled(self.probe_timeout);
        let wanted = self.config.direct_probes.min(self.probe_list.len());
        // At a round boundary the next pick can be a member already probed
        // this period; it counts as probed, and another pick is drawn.
        for _ in 0..2 * wanted {
            if self.probes.len() >= wanted {
                break;
            }
            let Some(slot) = self.probe_list.next(&mut self.rng) else { break };
            if slot == LOCAL || self.probes.iter().any(|p| p.target.slot == slot) {
                continue;
            }
            let Some(entry) = self.members.get(slot) else { continue };
            let (Some(&addr), Some(target)) = (entry.addrs.first(), self.members.reference(slot)) else { continue };
            let buddy = self.config.lifeguard && entry.state == State::Suspect;
            let seq = self.next_seq();
            let indirect_seq = self.next_seq();
            self.probes.push(Probe {
                target,
                addr,
                seq,
                indirect_seq,
                started: now,
                indirect_at: now + timeout,
                end_at: now + period,
                acked: false,
                indirect_sent: false,
                nacks_expected: 0,
                nacks: 0,
            });
            self.stats.probes += 1;
            self.send(Outgoing::Ping { to: addr, seq, target, buddy });
        }
        self.next_period = now + period;
        self.stats.periods += 1;
        self.stats.periods_probed += u64::from(core::mem::take(&mut self.probed));
    }

    /// Indirect phase and verdicts of running probes.
    pub(super) fn probe_timers(&mut self, now: Time) {
        let mut i = 0;
        while let Some(probe) = self.probes.get(i) {
            if now >= probe.end_at {
                let probe = self.probes.swap_remove(i);
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
        let want = want.min(out.len());
        let mut found = 0;
        for _ in 0..want * 4 {
            if found >= want {
                break;
            }
            let Some(slot) = self.probe_list.random(&mut self.rng) else { break };
            let usable = slot != avoid
                && slot != LOCAL
                && !out.get(..found).unwrap_or_default().contains(&slot)
                && self.members.get(slot).is_some_and(|e| e.state == State::Alive);
            if usable {
                if let Some(h) = out.get_mut(found) {
                    *h = slot;
                    found += 1;
                }
            }
        }
        found
    }

    /// Asks up to K random helpers to probe the target of probe `i`.
    fn send_indirect(&mut self, i: usize) {
        let Some(probe) = self.probes.get(i) else { return };
        let (target, seq, addr) = (probe.target, probe.indirect_seq, probe.addr);
        let mut helpers = [0u32; 16];
        let found = self.random_alive(self.config.indirect_probes, target.slot, &mut helpers);
        let want_nack = self.config.lifeguard;
        for &slot in helpers.get(..found).unwrap_or_default() {
            if let Some(&to) = self.members.get(slot).and_then(|e| e.addrs.first()) {
                self.stats.indirect_pings_sent += 1;
                self.send(Outgoing::IndirectPing { to, seq, target, target_addr: addr, want_nack });
            }
        }
        if let Some(probe) = self.probes.get_mut(i) {
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
        self.stats.probes_failed += 1;
        // Lifeguard: with helpers expected to nack, each missing nack hints
        // that this node, not the target, has trouble; without helpers, any
        // failed probe counts against this node's health.
        let penalty = if probe.nacks_expected > 0 { probe.nacks_expected.saturating_sub(probe.nacks) } else { 1 };
        self.adjust_health(i32::from(penalty));
        let Some(entry) = self.members.resolve(probe.target) else { return };
        if !entry.state.is_live() {
            return;
        }
        let incarnation = entry.incarnation;
        if self.config.suspicion {
            self.suspect(now, probe.target.slot, incarnation, By::Local, Evidence::Accusation);
        } else {
            self.declare_faulty(now, probe.target.slot, incarnation, By::Local);
        }
    }

    /// A direct ack with sequence number `seq`: for one of this node's
    /// probes, or for a probe it performs for someone else.
    pub(super) fn on_ack(&mut self, now: Time, seq: u32) {
        self.leave_acked(seq);
        if let Some(probe) = self.probes.iter_mut().find(|p| p.seq == seq && !p.acked) {
            probe.acked = true;
            let rtt = now.saturating_since(probe.started);
            self.rtt.record(rtt);
            self.adjust_health(-1);
            return;
        }
        if let Some((index, generation)) = self.forwards.answered(seq) {
            self.send(Outgoing::IndirectAck { index, generation });
        }
    }

    /// A helper reports that the target answered.
    pub(super) fn on_indirect_ack(&mut self, seq: u32) {
        if let Some(probe) = self.probes.iter_mut().find(|p| p.indirect_seq == seq && !p.acked) {
            probe.acked = true;
            self.adjust_health(-1);
        }
    }

    /// A helper reports that the target stayed silent.
    pub(super) fn on_nack(&mut self, seq: u32) {
        if let Some(probe) = self.probes.iter_mut().find(|p| p.indirect_seq == seq) {
            probe.nacks = probe.nacks.saturating_add(1);
            self.stats.nacks_received += 1;
        }
    }

    /// Another member asks this node to probe `target` for it.
    #[allow(clippy::too_many_arguments)]
    pub(super) fn on_indirect_ping(
        &mut self,
        now: Time,
        requester: SocketAddr,
        requester_seq: u32,
        target: &[u8],
        target_addr: SocketAddr,
        target_incarnation: u32,
        want_nack: bool,
    ) {
        let timeout = self.scaled(self.probe_timeout);
        let seq = self.next_seq();
        let is_self = target == self.local_name();
        let record = Forward {
            active: true,
            generation: 0,
            requester,
            requester_seq,
            seq,
            target_addr,
            target_incarnation,
            acked: is_self,
            nack_at: want_nack.then(|| now + timeout.mul_f64(0.8)),
            expires: now + timeout,
        };
        let (index, generation) = self.forwards.start(record, target);
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
}
