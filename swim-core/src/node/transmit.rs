//! Outgoing datagrams: the outbox, and encoding each one with as much gossip
//! as fits the packet budget.

use std::net::SocketAddr;

use swim_wire::{
    Ack, Addrs, Alive, Faulty, Gossip, IndirectAck, IndirectPing, JoinRequest, JoinResponse, JoinStatus, Left, Message,
    Nack, PacketWriter, Ping, Suspect, UserBroadcast,
};

use super::seal::To;
use super::{Node, OUTBOX};
use crate::broadcasts::BroadcastKind;
use crate::gossip::Item;
use crate::members::{Entry, LOCAL, MemberRef, State};
use crate::time::Time;
use crate::version::Version;

/// A datagram written by [`Node::poll_transmit`]: send the first `len`
/// bytes of the buffer to `destination`.
///
/// ```
/// use swim_protocol::{Config, Node, Time};
/// let seed: std::net::SocketAddr = "10.0.0.9:7946".parse().unwrap();
/// let mut node = Node::new(b"a", &["10.0.0.1:7946".parse().unwrap()], b"", Config::lan(), Time::ZERO).unwrap();
/// node.join(Time::ZERO, &[seed]).unwrap();
/// let mut buf = [0u8; 1400];
/// let t = node.poll_transmit(Time::ZERO, &mut buf).expect("a join request");
/// assert_eq!(t.destination, seed);
/// let datagram = &buf[..t.len]; // hand this to the socket
/// assert!(datagram.starts_with(b"SW"));
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Transmit {
    /// Where to send it.
    pub destination: SocketAddr,
    /// How many bytes of the buffer to send.
    pub len: usize,
}

/// A datagram waiting to be encoded. It names what to send, not its bytes:
/// the bytes (and the gossip riding along) are produced at `poll_transmit`
/// time, so they are as fresh as possible and the outbox stays small.
#[derive(Debug, Clone, Copy)]
pub(crate) enum Outgoing {
    Ping {
        to: SocketAddr,
        seq: u32,
        target: MemberRef,
        /// What rides first.
        carry: Carry,
    },
    ForwardPing {
        index: u16,
        generation: u32,
    },
    Ack {
        to: SocketAddr,
        seq: u32,
        /// The pinger.
        receiver: To,
        /// Most bytes to send (0: the packet budget).
        limit: usize,
        /// This node's version as the pinger holds it: if older than this
        /// node's own when the ack is encoded, the ack carries this node's
        /// alive update first.
        known: Version,
    },
    IndirectPing {
        to: SocketAddr,
        seq: u32,
        target: MemberRef,
        target_addr: SocketAddr,
        want_nack: bool,
        nack_after_us: u32,
        /// The helper.
        receiver: To,
    },
    IndirectAck {
        index: u16,
        generation: u32,
    },
    Nack {
        index: u16,
        generation: u32,
    },
    JoinRequest {
        to: SocketAddr,
        seq: u32,
    },
    JoinResponse {
        to: SocketAddr,
        seq: u32,
        status: JoinStatus,
        known: Version,
        /// The joiner.
        receiver: To,
        /// Most bytes to send (0: the packet budget).
        limit: usize,
    },
    /// A member's state, alone in a gossip datagram (multicast mode,
    /// refutations, departures pushed back).
    Update {
        to: SocketAddr,
        member: MemberRef,
        receiver: To,
    },
    /// A gossip round's datagram: queued updates only (dropped if none
    /// would go to this destination).
    Gossip {
        to: SocketAddr,
        receiver: To,
    },
    /// A best-effort direct message (its payload in the pending pool),
    /// with gossip in the room left.
    Message {
        to: SocketAddr,
        receiver: To,
        slot: u16,
    },
    /// A query's acknowledgement or answer (names and payload in the
    /// pending pool), with gossip in the room left.
    Response {
        to: SocketAddr,
        receiver: To,
        slot: u16,
        response: super::queries::ResponseOut,
    },
}

/// What a ping carries before any other gossip.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Carry {
    /// Nothing in particular.
    Nothing,
    /// The target's own suspicion, if it is suspect (Lifeguard's buddy
    /// system: a suspect learns of its suspicion at once).
    Suspicion,
    /// A reconnect ping to a member held faulty: its verdict, so it can
    /// refute at once, and this node's own state, so that a member that
    /// holds an older process of this node learns of this one.
    Reconnect,
}

/// Most gossip items one packet can carry (the smallest item is 9 bytes).
const MAX_PICKED: usize = 192;
/// Items that did not fit before the search for smaller ones stops.
const MAX_MISSES: usize = 8;

/// The gossip items a packet carried, and queue items found stale.
struct Picked {
    sent: [Item; MAX_PICKED],
    sent_len: usize,
    stale: [Item; 16],
    stale_len: usize,
}

impl Picked {
    fn new() -> Self {
        Picked { sent: [Item::Member(0); MAX_PICKED], sent_len: 0, stale: [Item::Member(0); 16], stale_len: 0 }
    }

    fn sent(&mut self, item: Item) {
        if let Some(slot) = self.sent.get_mut(self.sent_len) {
            *slot = item;
            self.sent_len += 1;
        }
    }

    fn stale(&mut self, item: Item) {
        if let Some(slot) = self.stale.get_mut(self.stale_len) {
            *slot = item;
            self.stale_len += 1;
        }
    }

    fn full(&self) -> bool {
        self.sent_len >= MAX_PICKED || self.stale_len >= self.stale.len()
    }
}

impl Node {
    pub(super) fn send(&mut self, out: Outgoing) {
        if self.outbox_full() {
            self.stats.transmits_dropped += 1;
            if let Outgoing::Message { slot, .. } | Outgoing::Response { slot, .. } = out {
                self.pending.release(slot); // never written: its payload goes
            }
            return;
        }
        self.outbox.push_back(out);
    }

    /// Whether the outbox takes no more datagrams.
    pub(super) fn outbox_full(&self) -> bool {
        self.outbox.len() >= OUTBOX
    }

    /// Writes the next datagram into `buf` (at least `limits.packet_budget` bytes
    /// long) and says where to send it; `None` when there is nothing to send.
    pub fn poll_transmit(&mut self, now: Time, buf: &mut [u8]) -> Option<Transmit> {
        self.advance(now);
        while let Some(out) = self.outbox.pop_front() {
            if self.outbox.is_empty() {
                // Back to the start of its buffer: a ring walking all of
                // it would touch (and keep resident) every page over time.
                self.outbox.clear();
            }
            let mut picked = Picked::new();
            let written = self.write_packet(out, buf, &mut picked);
            if let Outgoing::Message { slot, .. } | Outgoing::Response { slot, .. } = out {
                self.pending.release(slot);
            }
            let sealed = written.and_then(|(to, receiver, len)| Some((to, self.seal(buf, len, receiver)?)));
            if let Some((destination, len)) = sealed {
                self.account(now, &picked);
                self.stats.packets_sent += 1;
                self.stats.bytes_sent += len as u64;
                return Some(Transmit { destination, len });
            }
            // The datagram referred to a member or forward that is gone.
        }
        None
    }

    /// Records the transmissions of the gossip a packet carried.
    fn account(&mut self, now: Time, picked: &Picked) {
        let (limit, broadcast_limit) = (self.retransmit_limit(), self.broadcast_limit());
        for &item in picked.sent.get(..picked.sent_len).unwrap_or_default() {
            let done = match item {
                Item::Member(slot) => {
                    if slot == LOCAL {
                        self.left_update_sent();
                    }
                    self.gossip.sent(slot, limit)
                }
                Item::Broadcast(index) => {
                    let done = self.broadcast_queue.sent(index, broadcast_limit);
                    if done.is_some() {
                        self.broadcasts.retain(index, now);
                    }
                    done
                }
            };
            if let Some(since) = done {
                self.stats.updates_spread += 1;
                self.stats.spread_time += now.saturating_since(since);
            }
        }
        self.stats.updates_sent += picked.sent_len as u64;
        for &item in picked.stale.get(..picked.stale_len).unwrap_or_default() {
            match item {
                Item::Member(slot) => self.gossip.remove(slot),
                Item::Broadcast(index) => {
                    self.broadcast_queue.remove(index);
                    self.broadcasts.release(index);
                }
            }
        }
    }

    /// Encodes one datagram and its gossip; says where it goes and whom it
    /// is sealed for; `None` if it went stale.
    fn write_packet(&self, out: Outgoing, buf: &mut [u8], picked: &mut Picked) -> Option<(SocketAddr, To, usize)> {
        let local = self.local_entry()?;
        let me = &local.name[..];
        let budget = self.plain_budget(self.config.limits.packet_budget);
        let mut w = PacketWriter::new(buf, &self.header(), budget).ok()?;
        // Messages that must ride first (and are then not repeated).
        let mut first: [Option<Item>; 2] = [None, None];
        let (to, receiver) = match out {
            Outgoing::Ping { to, seq, target, carry } => {
                let t = self.members.resolve(target)?;
                // The member moved (a later process elsewhere) since the ping
                // was decided: its version must not reach the old address,
                // where a past process would take it for its own past life.
                if t.addrs.first() != Some(&to) {
                    return None;
                }
                let ping = Ping {
                    seq,
                    source: me,
                    target: &t.name,
                    target_generation: t.generation,
                    target_incarnation: t.incarnation,
                };
                w.push(&Message::Ping(ping)).ok()?;
                match carry {
                    Carry::Suspicion if t.state == State::Suspect => first[0] = Some(Item::Member(target.slot)),
                    Carry::Reconnect if t.state == State::Faulty => {
                        first = [Some(Item::Member(target.slot)), Some(Item::Member(LOCAL))];
                    }
                    _ => {}
                }
                (to, self.tag(&t.name))
            }
            Outgoing::ForwardPing { index, generation } => {
                let (f, target) = self.forwards.get(index, generation)?;
                let ping = Ping {
                    seq: f.seq,
                    source: me,
                    target,
                    target_generation: f.target_version.generation,
                    target_incarnation: f.target_version.incarnation,
                };
                w.push(&Message::Ping(ping)).ok()?;
                (f.target_addr, self.tag(target))
            }
            Outgoing::Ack { to, seq, receiver, limit, known } => {
                w.push(&Message::Ack(Ack { seq, source: me, payload: &[] })).ok()?;
                self.limit_reply(&mut w, limit);
                // The pinger holds an older version of this node (a
                // suspicion this node refuted, whose refutation it missed):
                // the answer sets it right, whatever the gossip queue holds.
                if known < local.version() {
                    first[0] = Some(Item::Member(LOCAL));
                }
                (to, receiver)
            }
            Outgoing::IndirectPing { to, seq, target, target_addr, want_nack, nack_after_us, receiver } => {
                let t = self.members.resolve(target)?;
                if t.addrs.first() != Some(&target_addr) {
                    return None; // as for pings: the target moved
                }
                let ping = IndirectPing {
                    seq,
                    want_nack,
                    source: me,
                    target: &t.name,
                    target_generation: t.generation,
                    target_incarnation: t.incarnation,
                    target_addr,
                    nack_after_us,
                };
                w.push(&Message::IndirectPing(ping)).ok()?;
                (to, receiver)
            }
            Outgoing::IndirectAck { index, generation } => {
                let (f, target) = self.forwards.get(index, generation)?;
                let ack = IndirectAck { seq: f.requester_seq, source: me, target };
                w.push(&Message::IndirectAck(ack)).ok()?;
                // As for acks: a requester that holds an older version of
                // the target (whose ack may just have told this node of a
                // newer one) learns the current one with the answer.
                let slot = self.members.find(target).filter(|&s| {
                    self.members.get(s).is_some_and(|e| e.state.is_live() && f.target_version < e.version())
                });
                first[0] = slot.map(Item::Member);
                (f.requester, f.requester_tag)
            }
            Outgoing::Nack { index, generation } => {
                let (f, target) = self.forwards.get(index, generation)?;
                w.push(&Message::Nack(Nack { seq: f.requester_seq, source: me, target })).ok()?;
                (f.requester, f.requester_tag)
            }
            Outgoing::JoinRequest { to, seq } => {
                w.push(&Message::JoinRequest(JoinRequest { seq, member: alive(local) })).ok()?;
                // The seed's name is not known yet: for any receiver.
                (to, None)
            }
            Outgoing::JoinResponse { to, seq, status, known, receiver, limit } => {
                let members = u32::try_from(self.members.live()).unwrap_or(u32::MAX);
                let response = JoinResponse {
                    seq,
                    status,
                    source: me,
                    known_generation: known.generation,
                    known_incarnation: known.incarnation,
                    members,
                };
                w.push(&Message::JoinResponse(response)).ok()?;
                self.limit_reply(&mut w, limit);
                // The joiner learns of the seed itself first.
                first[0] = Some(Item::Member(LOCAL));
                (to, receiver)
            }
            Outgoing::Update { to, member, receiver } => {
                self.members.resolve(member)?;
                w.push(&Message::Gossip(Gossip { source: me })).ok()?;
                let message = self.gossip_message(Item::Member(member.slot))?;
                w.push(&message).ok()?;
                if member.slot == LOCAL && self.leave.is_some() {
                    picked.sent(Item::Member(LOCAL));
                }
                let len = w.finish().ok()?;
                return Some((to, receiver, len));
            }
            Outgoing::Gossip { to, receiver } => {
                w.push(&Message::Gossip(Gossip { source: me })).ok()?;
                (to, receiver)
            }
            Outgoing::Message { to, receiver, slot } => {
                self.write_message(&mut w, slot)?;
                (to, receiver)
            }
            Outgoing::Response { to, receiver, slot, response } => {
                self.write_response(&mut w, slot, response)?;
                (to, receiver)
            }
        };
        // A departing node's news rides first on everything it sends.
        if self.leave.is_some() && !first.contains(&Some(Item::Member(LOCAL))) {
            first[1] = first[1].or(Some(Item::Member(LOCAL)));
        }
        for item in first.into_iter().flatten() {
            if let Some(message) = self.gossip_message(item) {
                let queued = match item {
                    Item::Member(slot) => self.gossip.transmits(slot).is_some(),
                    Item::Broadcast(index) => self.broadcast_queue.transmits(index).is_some(),
                };
                let departure = self.leave.is_some() && item == Item::Member(LOCAL);
                // A reply to an unproven sender (perhaps a forged address)
                // does not use up the item's transmissions.
                let unproven = matches!(out, Outgoing::Ack { limit, .. } if limit > 0);
                if w.push(&message).is_ok() && (queued || departure) && !unproven {
                    picked.sent(item);
                }
            }
        }
        // A query's answer goes to an address a query names (checked, but
        // chosen by others): it carries no gossip, so that it is never
        // larger than what caused it, nor spends updates' transmissions.
        if !matches!(out, Outgoing::Response { .. }) {
            self.fill_gossip(&mut w, first, to, picked);
        }
        if matches!(out, Outgoing::Gossip { .. }) && picked.sent_len == 0 {
            return None; // nothing this destination could learn
        }
        if matches!(out, Outgoing::JoinRequest { .. }) {
            // The seed's answer is no larger than the request (a plaintext
            // one proves nothing; a sealed one, for any receiver, can be
            // replayed from a forged source): padded, it leaves room for
            // the seed to say who it is and what it knows.
            w.pad_to(self.config.limits.packet_budget);
        }
        let len = w.finish().ok()?;
        Some((to, receiver, len))
    }

    /// Caps a reply at `limit` bytes once sealed (0: no cap), never below
    /// its one message.
    fn limit_reply(&self, w: &mut PacketWriter<'_>, limit: usize) {
        if limit > 0 {
            let overhead = self.config.limits.packet_budget - self.plain_budget(self.config.limits.packet_budget);
            w.shrink_budget(limit.saturating_sub(overhead));
        }
    }

    /// Adds queued gossip while it fits: member updates first and user
    /// broadcasts in the room left, except in every fourth packet, where
    /// broadcasts go first, so that neither kind can starve the other. Each
    /// queue gives its fewest-sent items first. An alive update about the
    /// destination itself would tell it nothing: it is skipped, so the
    /// transmission goes to someone who can learn from it.
    fn fill_gossip(&self, w: &mut PacketWriter<'_>, skip: [Option<Item>; 2], to: SocketAddr, picked: &mut Picked) {
        let members = self.gossip.iter(self.retransmit_limit()).map(Item::Member);
        let broadcasts = self.broadcast_queue.iter(self.broadcast_limit()).map(Item::Broadcast);
        if self.stats.packets_sent % 4 == 3 {
            self.fill_from(w, broadcasts, skip, to, picked);
            self.fill_from(w, members, skip, to, picked);
        } else {
            self.fill_from(w, members, skip, to, picked);
            self.fill_from(w, broadcasts, skip, to, picked);
        }
    }

    fn fill_from(
        &self,
        w: &mut PacketWriter<'_>,
        items: impl Iterator<Item = Item>,
        skip: [Option<Item>; 2],
        to: SocketAddr,
        picked: &mut Picked,
    ) {
        let mut misses = 0;
        for item in items {
            if picked.full() || misses >= MAX_MISSES || w.remaining() < swim_wire::ITEM_HEADER_LEN + 6 {
                break;
            }
            if skip.contains(&Some(item)) {
                continue;
            }
            if let Item::Member(slot) = item {
                let about_destination = self.members.get(slot).is_some_and(|e| e.addrs.first() == Some(&to));
                if about_destination && slot != LOCAL && self.members.get(slot).is_some_and(|e| e.state == State::Alive)
                {
                    continue;
                }
            }
            let Some(message) = self.gossip_message(item) else {
                picked.stale(item);
                continue;
            };
            match w.push(&message) {
                Ok(()) => picked.sent(item),
                Err(e) if e.is_no_room() => misses += 1,
                Err(_) => picked.stale(item),
            }
        }
    }

    /// The message a gossip item stands for now.
    fn gossip_message(&self, item: Item) -> Option<Message<'_>> {
        match item {
            Item::Member(slot) => {
                let e = self.members.get(slot)?;
                let (generation, incarnation, name) = (e.generation, e.incarnation, &e.name[..]);
                let by = self.accuser_name(e);
                Some(match e.state {
                    State::Alive => Message::Alive(alive(e)),
                    State::Suspect => Message::Suspect(Suspect { generation, incarnation, name, by }),
                    State::Faulty => Message::Faulty(Faulty { generation, incarnation, name, by }),
                    State::Left => Message::Left(Left { generation, incarnation, name }),
                })
            }
            Item::Broadcast(index) => self.broadcasts.get(index).and_then(|b| self.broadcast_message(b)),
        }
    }

    /// A held broadcast (or query) as a message, with what is left of its
    /// lifetime; `None` once that is over (it is not passed on).
    pub(super) fn broadcast_message<'a>(&self, b: crate::broadcasts::Stored<'a>) -> Option<Message<'a>> {
        let left = b.expires.saturating_since(self.now);
        let ttl_ms = u32::try_from(left.as_millis()).unwrap_or(u32::MAX);
        let kind = b.kind;
        let b = UserBroadcast { generation: b.generation, seq: b.seq, ttl_ms, origin: b.origin, payload: b.payload };
        let message = match kind {
            BroadcastKind::Broadcast => Message::UserBroadcast(b),
            BroadcastKind::Query => Message::Query(b),
            BroadcastKind::State => Message::State(b),
        };
        (ttl_ms > 0).then_some(message)
    }

    /// Who suspected or declared a member (this node if nobody was recorded).
    pub(super) fn accuser_name<'a>(&'a self, e: &'a Entry) -> &'a [u8] {
        if e.accuser.is_empty() { self.local_name() } else { &e.accuser }
    }
}

/// A member as an alive update.
pub(super) fn alive(e: &Entry) -> Alive<'_> {
    Alive {
        generation: e.generation,
        incarnation: e.incarnation,
        name: &e.name,
        addrs: Addrs::from_slice(&e.addrs),
        meta: &e.meta,
    }
}
