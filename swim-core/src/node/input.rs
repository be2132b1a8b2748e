//! Received datagrams: validation first, then the piggybacked gossip, then
//! the primary message.

use std::net::SocketAddr;

use swim_wire::{Kind, Message, Packet, UserBroadcast};

use super::Node;
use super::membership::{AliveUpdate, Sender};
use super::transmit::Outgoing;
use core::time::Duration;

use crate::broadcasts::{BroadcastKind, Broadcasts, Stored};
use crate::error::InputError;
use crate::gossip::Gossip;
use crate::members::Admit;
use crate::stats::Stats;
use crate::time::Time;
use crate::version::Version;

impl Node {
    /// Handles a datagram received from `from`. An encrypted datagram is
    /// opened in place, so `data` is scratch afterwards.
    ///
    /// The whole packet is opened and validated before anything is applied:
    /// on error the node's state is unchanged (only the refusal is counted,
    /// by reason, in [`Stats`](crate::Stats)).
    pub fn handle_datagram(&mut self, now: Time, from: SocketAddr, data: &mut [u8]) -> Result<(), InputError> {
        self.receive(now, from, data, None::<fn(&[u8]) -> bool>)
    }

    /// As [`handle_datagram`](Node::handle_datagram), from a transport that
    /// proves who its peers are (QUIC: each certificate names its member):
    /// `peer_is(name)` says whether the sender of this datagram is the
    /// member named `name`. A datagram whose sender claims another name is
    /// refused (`InputError::NotThePeer`). Set `security.names_proven` when
    /// every datagram comes this way.
    pub fn handle_datagram_proven(
        &mut self,
        now: Time,
        from: SocketAddr,
        data: &mut [u8],
        peer_is: impl FnOnce(&[u8]) -> bool,
    ) -> Result<(), InputError> {
        self.receive(now, from, data, Some(peer_is))
    }

    fn receive<F: FnOnce(&[u8]) -> bool>(
        &mut self,
        now: Time,
        from: SocketAddr,
        data: &mut [u8],
        peer_is: Option<F>,
    ) -> Result<(), InputError> {
        let now = self.advance(now);
        let received = data.len();
        if !crate::config::allowed(&self.config.security.allowed_networks, from.ip()) {
            let e = InputError::NotAllowed(from);
            self.reject(&e);
            return Err(e);
        }
        if received > self.config.limits.packet_budget {
            let e = InputError::TooLarge { len: received, limit: self.config.limits.packet_budget };
            self.reject(&e);
            return Err(e);
        }
        let (len, nonce, any_receiver) = match self.unseal(data) {
            Ok(u) => (u.len, u.nonce, u.any_receiver),
            Err(e) => {
                self.reject(&e);
                return Err(e);
            }
        };
        let data = data.get(..len.min(received)).unwrap_or_default();
        let checked = self.check(data).and_then(|packet| match packet.primary().kind() {
            kind @ (Kind::Sync | Kind::MemberRecord) => Err(InputError::Unexpected(kind)),
            // Only a joiner does not know whom it writes to.
            kind if any_receiver && kind != Kind::JoinRequest => Err(InputError::AnyReceiver(kind)),
            _ => Ok(packet),
        });
        // The transport proves who sent it: the name it gives must be that.
        let checked = checked.and_then(|packet| match (peer_is, sender_name(&packet.primary())) {
            (Some(peer_is), Some(name)) => {
                if peer_is(name) {
                    Ok(packet)
                } else {
                    Err(InputError::NotThePeer)
                }
            }
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
        // A plaintext join request beyond its source's rate is dropped whole,
        // before anything riding on it is applied.
        let plain_join = nonce.is_none() && packet.primary().kind() == Kind::JoinRequest;
        if plain_join && !self.join_limiter.allow(now, from.ip()) {
            self.stats.rate_limited += 1;
            return Ok(());
        }
        let sender = sender_name(&packet.primary()).map(|name| Sender { addr: from, name });
        self.relays_left = 1;
        for message in packet.piggyback() {
            self.apply_update(now, &message, sender);
        }
        self.relays_left = 0;
        let origin = Origin { sealed: nonce.is_some(), len: received };
        self.apply_primary(now, from, packet.primary(), origin);
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

    /// Applies one piggybacked message, received from `from` (the sender
    /// of the datagram; `None` for a sync stream's).
    pub(super) fn apply_update(&mut self, now: Time, message: &Message<'_>, from: Option<Sender<'_>>) {
        self.stats.updates_received += 1;
        match *message {
            Message::Alive(a) => {
                let version = Version::new(a.generation, a.incarnation);
                let update = AliveUpdate { name: a.name, version, addrs: a.addrs, meta: a.meta };
                self.apply_alive(now, &update, from);
            }
            Message::Suspect(s) => {
                self.apply_suspect(now, s.name, Version::new(s.generation, s.incarnation), s.by, from);
            }
            Message::Faulty(f) => {
                self.apply_faulty(now, f.name, Version::new(f.generation, f.incarnation), f.by, from);
            }
            Message::Left(l) => self.apply_left(now, l.name, Version::new(l.generation, l.incarnation)),
            Message::UserBroadcast(b) => self.on_broadcast(now, &b, true, false),
            Message::Query(q) => self.on_broadcast(now, &q, true, true),
            Message::State(b) => self.on_state(now, &b, true, from.map_or(&[][..], |f| f.name)),
            Message::QueryResponse(r) => self.on_query_response(now, &r, from.map(|f| f.addr)),
            Message::UserMessage(m) => {
                if let Some(from) = from {
                    self.on_message(from.name, m.payload, false);
                }
            }
            // The codec admits only the kinds above after the primary message
            // of a datagram (member records only follow a sync header).
            _ => {}
        }
    }

    fn apply_primary(&mut self, now: Time, from: SocketAddr, message: Message<'_>, origin: Origin) {
        let sealed = origin.sealed;
        match message {
            Message::Ping(p) => {
                if p.target != self.local_name() {
                    return; // meant for a member that used to have this address
                }
                self.stats.pings_received += 1;
                self.prober.probed = true;
                // A member this node does not know, or holds faulty or gone,
                // probes it: their views differ.
                let known = self.members.find(p.source).and_then(|s| self.members.get(s));
                let known_live = known.is_some_and(|e| e.state.is_live());
                // A plaintext ping from anyone but a live member at its own
                // address proves nothing: the ack is no larger than it.
                let proven = sealed || known.is_some_and(|e| e.state.is_live() && e.addrs.contains(&from));
                let limit = if proven { 0 } else { origin.len };
                // A stranger's ping leads to a sync with it (the repair the
                // paper's multicast mode, without periodic syncs, relies on).
                if !known_live {
                    self.pinged_by_stranger(now, Sender { addr: from, name: p.source });
                }
                let own = self.local_entry().map_or(Version::default(), |e| e.version());
                let known = Version::new(p.target_generation, p.target_incarnation);
                if known > own && known.generation == own.generation && self.leave.is_none() {
                    // The prober holds this name, at this address, at a later
                    // incarnation of this generation: a past life that reused
                    // it. Resume above it. A later generation is not taken
                    // from a bare ping: it may be a newer process elsewhere,
                    // whose version reached this address by mistake (or by
                    // forgery); a clock that went back is caught by the join,
                    // where the seed checks the address.
                    self.refute(now, known);
                }
                let receiver = self.tag(p.source);
                self.send(Outgoing::Ack { to: from, seq: p.seq, receiver, limit, known });
            }
            Message::Ack(a) => self.on_ack(now, a.seq, a.source, (!sealed).then_some(from)),
            Message::IndirectPing(p) => self.on_indirect_ping(now, &p),
            Message::IndirectAck(a) => self.on_indirect_ack(now, a.seq, a.target),
            Message::Nack(n) => self.on_nack(now, n.seq),
            Message::JoinRequest(r) => self.on_join_request(now, from, &r, origin),
            Message::JoinResponse(r) => self.on_join_response(now, from, &r),
            _ => {}
        }
    }

    /// A user broadcast: delivered once, and passed on (`gossiped`), or
    /// only kept for repair (it came with a sync).
    ///
    /// Deduplication needs the origin's window: broadcasts from members not
    /// known yet are skipped (the origin's alive update travels at least as
    /// fast, others keep re-sending the broadcast, and syncs carry both). The
    /// origin's entry is not forgotten (reaped) before every broadcast
    /// delivered from it has expired, and expired copies are never passed
    /// on: a forgotten window can never let a broadcast in twice.
    /// A query (`query`) is a broadcast whose payload is a query body: it
    /// is checked first (a malformed one is neither delivered nor passed
    /// on), and handed to the query logic rather than delivered.
    pub(super) fn on_broadcast(&mut self, now: Time, b: &UserBroadcast<'_>, gossiped: bool, query: bool) {
        let (origin, payload) = (b.origin, b.payload);
        if origin == self.local_name() {
            return;
        }
        if query && swim_wire::QueryBody::parse(payload).is_err() {
            self.stats.queries_malformed += 1;
            return;
        }
        let Some(slot) = self.members.find(origin) else { return };
        let Some(entry) = self.members.get_mut(slot) else { return };
        // Held for what is left of its lifetime, as the sender counted it
        // (never longer than this node's own lifetime: a sender's clock or
        // configuration cannot make it hold broadcasts, or their origin's
        // entry, for longer than the tombstone time allows).
        let ttl = Duration::from_millis(u64::from(b.ttl_ms)).min(self.config.dissemination.broadcast_lifetime);
        let expires = now + ttl;
        match entry.broadcasts.accept(b.generation, b.seq) {
            Admit::New => entry.broadcasts_until = entry.broadcasts_until.max(expires),
            Admit::Duplicate => return,
            Admit::TooOld => {
                self.stats.broadcasts_too_old += 1;
                return;
            }
        }
        let kind = if query { BroadcastKind::Query } else { BroadcastKind::Broadcast };
        if query {
            self.on_query(origin, b.generation, payload, expires);
        } else {
            self.stats.broadcasts_delivered += 1;
            if !gossiped {
                self.stats.broadcasts_repaired += 1;
            }
            self.events.push_with(origin.len() + payload.len(), |arena| crate::events::Record::Broadcast {
                origin: arena.store(origin),
                seq: b.seq,
                payload: arena.store(payload),
            });
        }
        let stored = Stored { origin, generation: b.generation, seq: b.seq, payload, expires, kind };
        let queue = &mut self.broadcast_queue;
        if let Some(index) = store_broadcast(&mut self.broadcasts, queue, &mut self.stats, stored, false) {
            if gossiped {
                self.broadcast_queue.enqueue(index, now);
                self.arm_gossip(now);
            } else {
                self.broadcasts.retain(index, now);
            }
        }
    }
}

/// Keeps a broadcast, making room when the pool is full: first the
/// retained broadcast closest to the end of its lifetime, then the one
/// gossiped most. A node's `own`
/// broadcasts never evict ones not sent yet.
pub(super) fn store_broadcast(
    broadcasts: &mut Broadcasts,
    queue: &mut Gossip,
    stats: &mut Stats,
    b: Stored<'_>,
    own: bool,
) -> Option<u32> {
    if let Some(index) = broadcasts.store(b) {
        return Some(index);
    }
    if broadcasts.release_earliest_expiring() {
        stats.broadcasts_evicted += 1;
    } else if let Some(victim) = queue.most_sent()
        && queue.transmits(victim).is_some_and(|t| t > 0 || !own)
    {
        queue.remove(victim);
        broadcasts.release(victim);
        stats.broadcasts_evicted += 1;
    }
    broadcasts.store(b)
}

/// How a datagram arrived: sealed for this node (so from a key holder), and
/// its length (a reply to a source that proved nothing is no larger).
#[derive(Debug, Clone, Copy)]
pub(super) struct Origin {
    pub(super) sealed: bool,
    pub(super) len: usize,
}

/// The name the sender of a datagram gives, in its primary message.
fn sender_name<'a>(primary: &Message<'a>) -> Option<&'a [u8]> {
    match *primary {
        Message::Ping(m) => Some(m.source),
        Message::Ack(m) => Some(m.source),
        Message::IndirectPing(m) => Some(m.source),
        Message::IndirectAck(m) => Some(m.source),
        Message::Nack(m) => Some(m.source),
        Message::JoinRequest(m) => Some(m.member.name),
        Message::JoinResponse(m) => Some(m.source),
        Message::Gossip(m) => Some(m.source),
        _ => None,
    }
}
