//! Received datagrams: validation first, then the piggybacked gossip, then
//! the primary message.

use std::net::SocketAddr;

use swim_wire::{Kind, Message, Packet};

use super::Node;
use super::membership::AliveUpdate;
use super::transmit::Outgoing;
use crate::broadcasts::Broadcasts;
use crate::error::InputError;
use crate::gossip::Gossip;
use crate::gossip::Item;
use crate::serial;
use crate::stats::Stats;
use crate::time::Time;

impl Node {
    /// Handles a datagram received from `from`. An encrypted datagram is
    /// opened in place, so `data` is scratch afterwards.
    ///
    /// The whole packet is opened and validated before anything is applied:
    /// on error the node's state is unchanged (only the refusal is counted,
    /// by reason, in [`Stats`](crate::Stats)).
    pub fn handle_datagram(&mut self, now: Time, from: SocketAddr, data: &mut [u8]) -> Result<(), InputError> {
        let now = self.advance(now);
        let received = data.len();
        let (len, nonce) = match self.unseal(data) {
            Ok(u) => (u.len, u.nonce),
            Err(e) => {
                self.reject(&e);
                return Err(e);
            }
        };
        let data = data.get(..len.min(received)).unwrap_or_default();
        let checked = self.check(data).and_then(|packet| match packet.primary().kind() {
            kind @ (Kind::Sync | Kind::MemberRecord) => Err(InputError::Unexpected(kind)),
            _ => Ok(packet),
        });
        let packet = match checked {
            Ok(packet) => packet,
            Err(e) => {
                self.reject(&e);
                return Err(e);
            }
        };
        self.accepted(nonce);
        self.stats.packets_received += 1;
        self.stats.bytes_received += received as u64;
        for message in packet.piggyback() {
            self.apply_update(now, &message);
        }
        self.apply_primary(now, from, packet.primary());
        Ok(())
    }

    /// Parses a packet and checks that it belongs to this cluster.
    pub(super) fn check<'a>(&self, data: &'a [u8]) -> Result<Packet<'a>, InputError> {
        let packet = Packet::parse(data, &self.decode)?;
        if packet.header().label != self.config.label.as_slice() {
            return Err(InputError::LabelMismatch);
        }
        Ok(packet)
    }

    /// Applies one piggybacked message.
    pub(super) fn apply_update(&mut self, now: Time, message: &Message<'_>) {
        self.stats.updates_received += 1;
        match *message {
            Message::Alive(a) => {
                let update = AliveUpdate { name: a.name, incarnation: a.incarnation, addrs: a.addrs, meta: a.meta };
                self.apply_alive(now, &update);
            }
            Message::Suspect(s) => self.apply_suspect(now, s.name, s.incarnation, s.by),
            Message::Faulty(f) => self.apply_faulty(now, f.name, f.incarnation, f.by),
            Message::Left(l) => self.apply_left(now, l.name, l.incarnation),
            Message::UserBroadcast(b) => self.on_broadcast(now, b.origin, b.seq, b.payload),
            // The codec admits only the kinds above after the primary message
            // of a datagram (member records only follow a sync header).
            _ => {}
        }
    }

    fn apply_primary(&mut self, now: Time, from: SocketAddr, message: Message<'_>) {
        match message {
            Message::Ping(p) => {
                if p.target != self.local_name() {
                    return; // meant for a member that used to have this address
                }
                self.stats.pings_received += 1;
                self.probed = true;
                if self.members.find(p.source).is_none() {
                    self.pinged_by_stranger(now, from);
                }
                let own = self.local_entry().map_or(0, |e| e.incarnation);
                if serial::newer(p.target_incarnation, own) && self.leave.is_none() {
                    // This node restarted: the cluster knew it at a later incarnation.
                    self.refute(now, p.target_incarnation);
                }
                self.send(Outgoing::Ack { to: from, seq: p.seq });
            }
            Message::Ack(a) => self.on_ack(now, a.seq),
            Message::IndirectPing(p) => {
                self.on_indirect_ping(now, from, p.seq, p.target, p.target_addr, p.target_incarnation, p.want_nack);
            }
            Message::IndirectAck(a) => self.on_indirect_ack(a.seq),
            Message::Nack(n) => self.on_nack(n.seq),
            Message::JoinRequest(r) => self.on_join_request(now, from, &r),
            Message::JoinResponse(r) => self.on_join_response(now, from, &r),
            _ => {}
        }
    }

    /// A user broadcast: delivered once, and passed on.
    fn on_broadcast(&mut self, now: Time, origin: &[u8], seq: u32, payload: &[u8]) {
        if origin == self.local_name() {
            return;
        }
        // Deduplication needs the origin's window: broadcasts from members
        // not known yet are skipped (the origin's alive update travels at
        // least as fast, and others keep re-sending the broadcast).
        let Some(slot) = self.members.find(origin) else { return };
        let Some(entry) = self.members.get_mut(slot) else { return };
        if !entry.broadcasts.accept(seq) {
            return;
        }
        self.stats.broadcasts_delivered += 1;
        self.events.push_with(origin.len() + payload.len(), |arena| crate::events::Record::Broadcast {
            origin: arena.store(origin),
            seq,
            payload: arena.store(payload),
        });
        let stored =
            store_broadcast(&mut self.broadcasts, &mut self.gossip, &mut self.stats, origin, seq, payload, false);
        if let Some(index) = stored {
            self.gossip.enqueue(Item::Broadcast(index), now);
        }
    }
}

/// Keeps a broadcast for dissemination, evicting the most-sent one when the
/// pool is full. A node's `own` broadcasts never evict unsent ones.
pub(super) fn store_broadcast(
    broadcasts: &mut Broadcasts,
    gossip: &mut Gossip,
    stats: &mut Stats,
    origin: &[u8],
    seq: u32,
    payload: &[u8],
    own: bool,
) -> Option<u32> {
    if let Some(index) = broadcasts.store(origin, seq, payload) {
        return Some(index);
    }
    let victim = gossip.most_sent(|i| matches!(i, Item::Broadcast(_)));
    let evictable = victim.is_some_and(|v| gossip.transmits(v).is_some_and(|t| t > 0 || !own));
    if let (Some(victim @ Item::Broadcast(index)), true) = (victim, evictable) {
        gossip.remove(victim);
        broadcasts.release(index);
        stats.broadcasts_evicted += 1;
    }
    broadcasts.store(origin, seq, payload)
}
