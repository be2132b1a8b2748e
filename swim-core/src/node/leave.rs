//! Graceful departure: the node gossips that it left, stops probing, tells
//! members directly with pings that carry the news, answers pings meanwhile,
//! and stops only once the departure is known well enough that no member
//! will declare it faulty instead:
//!
//! - in a cluster of at most [`LEAVE_PINGS`] other members, each of them is
//!   pinged (again every probe timeout) until it acknowledges, or, for
//!   members that never do (they crashed meanwhile), for
//!   [`SMALL_ROUNDS`] rounds once someone did;
//! - in a larger one, `max(K, 3)` random members are pinged per round until
//!   one acknowledges and the left update has been sent the retransmit limit
//!   (`λ·⌈log10(N + 1)⌉` times, on pings, acks and gossip rounds), as any
//!   other update would be.
//!
//! The caller bounds the whole departure with a timeout (the runtime's
//! `leave` takes one).

use smallvec::SmallVec;

use super::Node;
use super::timers::Timer;
use super::transmit::{Carry, Outgoing};
use crate::members::{LOCAL, MemberRef, State};
use crate::time::Time;

/// Most members told directly: all of them in a cluster this small.
pub(crate) const LEAVE_PINGS: usize = 16;
/// Rounds after which a small cluster's silent members are given up on.
const SMALL_ROUNDS: u32 = 3;

/// A member pinged with the news: its ping's sequence number, and whether
/// it acknowledged.
#[derive(Debug, Clone, Copy)]
struct Told {
    member: MemberRef,
    seq: u32,
    acked: bool,
}

/// A graceful departure in progress.
#[derive(Debug)]
pub(crate) struct Leave {
    /// Whether every other member is told directly (small clusters).
    everyone: bool,
    /// Members told directly: all others (small clusters), or this round's.
    told: SmallVec<[Told; LEAVE_PINGS]>,
    /// Acknowledgements of leave pings so far.
    acks: u32,
    /// Times the left update went out.
    sent: u32,
    /// Transmissions the left update needs (the retransmit limit when the
    /// departure began).
    needed: u32,
    /// Whether there was anybody to tell.
    alone: bool,
    /// Rounds of pings so far.
    rounds: u32,
}

impl Leave {
    fn done(&self) -> bool {
        let spread = self.acks > 0 && self.sent >= self.needed;
        self.alone
            || (self.everyone && (self.told.iter().all(|t| t.acked) || (spread && self.rounds >= SMALL_ROUNDS)))
            || (!self.everyone && spread)
    }
}

impl Node {
    /// Leaves the cluster gracefully: gossips that this node left, stops
    /// probing and tells members directly (see the module's description).
    /// Keep driving the node (it still answers pings and sends gossip) until
    /// [`leave_announced`](Node::leave_announced) or your timeout, then drop
    /// it.
    pub fn leave(&mut self, now: Time) {
        if self.leave.is_some() {
            return;
        }
        let now = self.advance(now);
        self.join = None;
        self.timers.clear(Timer::Join);
        self.timers.clear(Timer::Period);
        self.timers.clear(Timer::Sync);
        self.timers.clear(Timer::Reconnect);
        self.prober.probes.clear();
        let needed = crate::convert::to_u32(self.retransmit_limit());
        // Counted while this node is still alive: every live member but itself.
        let others = self.members.live().saturating_sub(1);
        let everyone = others <= LEAVE_PINGS;
        let mut told = SmallVec::new();
        if everyone {
            for (slot, e) in self.members.iter() {
                if slot != LOCAL
                    && e.state.is_live()
                    && let Some(member) = self.members.reference(slot)
                {
                    told.push(Told { member, seq: 0, acked: false });
                }
            }
        }
        self.members.set_state(LOCAL, State::Left, now);
        let alone = told.is_empty() && others == 0;
        self.leave = Some(Leave { everyone, alone, told, acks: 0, sent: 0, needed, rounds: 0 });
        self.announce_departure(now);
    }

    /// One round: the left update is queued afresh and pings carry it first.
    fn announce_departure(&mut self, now: Time) {
        let retry = self.scaled(self.prober.timeout);
        self.timers.set(Timer::Leave, now + retry);
        self.disseminate(now, LOCAL);
        let Some(leave) = self.leave.as_mut() else { return };
        leave.rounds += 1;
        if !leave.everyone {
            leave.told.clear();
            let fanout = self.config.probe.indirect.max(3);
            let mut picked = [0u32; 16];
            let found = self.random_members(fanout, LOCAL, &mut picked, State::is_live);
            for &slot in picked.get(..found).unwrap_or_default() {
                if let (Some(member), Some(leave)) = (self.members.reference(slot), self.leave.as_mut()) {
                    leave.told.push(Told { member, seq: 0, acked: false });
                }
            }
        }
        let count = self.leave.as_ref().map_or(0, |l| l.told.len());
        for i in 0..count {
            let Some(t) = self.leave.as_ref().and_then(|l| l.told.get(i)).copied() else { continue };
            if t.acked {
                continue;
            }
            let Some(&to) = self.members.resolve(t.member).and_then(|e| e.addrs.first()) else { continue };
            let seq = self.next_seq();
            if let Some(told) = self.leave.as_mut().and_then(|l| l.told.get_mut(i)) {
                told.seq = seq;
            }
            self.send(Outgoing::Ping { to, seq, target: t.member, carry: Carry::Nothing });
        }
    }

    /// Another round while the departure is not known well enough.
    pub(super) fn leave_timer(&mut self, now: Time) {
        if self.timers.expired(Timer::Leave, now) && !self.leave_announced() {
            self.announce_departure(now);
        }
    }

    /// An ack arrived: it may answer a leave ping.
    pub(super) fn leave_acked(&mut self, seq: u32, source: &[u8]) {
        let Some(leave) = self.leave.as_mut() else { return };
        let members = &self.members;
        let told = leave.told.iter_mut().find(|t| {
            t.seq == seq && !t.acked && members.resolve(t.member).is_some_and(|e| e.name.as_slice() == source)
        });
        if let Some(t) = told {
            t.acked = true;
            leave.acks += 1;
        }
    }

    /// The left update went out once more.
    pub(super) fn left_update_sent(&mut self) {
        if let Some(leave) = self.leave.as_mut() {
            leave.sent = leave.sent.saturating_add(1);
        }
    }

    /// Whether `leave` was called.
    pub fn has_left(&self) -> bool {
        self.leave.is_some()
    }

    /// Whether the departure is known well enough (or there was nobody to
    /// tell): the node may stop.
    pub fn leave_announced(&self) -> bool {
        self.leave.as_ref().is_some_and(Leave::done)
    }
}
