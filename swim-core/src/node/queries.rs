//! Queries: a request gossiped to the (filtered) cluster, and the answers
//! that come straight back to the asker.
//!
//! A query travels as a broadcast (the same pool, dedup windows, gossip
//! and sync repair), in a `Query` item whose payload is a
//! [`QueryBody`]: its name, filter, the asker's address and id, the relay
//! factor and the payload. It lives as long as its timeout: no member
//! passes it on, or takes it in, after the asker stops listening.
//!
//! A member that gets a query meant for it (by name and tags, see
//! [`QueryFilter`]) acknowledges it if the asker wants that, and hands it
//! to the application ([`Event::Query`](crate::Event::Query)), which may
//! answer once with [`Node::respond`]. Acknowledgements and answers go to
//! the asker's address in a datagram (sealed for the asker), and each also
//! through `relay` other live members, which pass it on: an answer is lost
//! only if every copy is.
//!
//! The asker counts each member once, whichever copy comes first
//! ([`Event::QueryResponse`](crate::Event::QueryResponse)), until the
//! timeout, when it reports what it got
//! ([`Event::QueryDone`](crate::Event::QueryDone)).

use core::time::Duration;
use std::net::SocketAddr;

use swim_wire::{Gossip, Message, PacketWriter, QueryBody, QueryFilter, QueryResponse, tags::TagsView};

use super::Node;
use super::seal::To;
use super::timers::Timer;
use super::transmit::Outgoing;
use crate::error::CommandError;
use crate::events::Record;
use crate::members::LOCAL;
use crate::time::Time;

/// Queries this node may have open (asked, not yet timed out) at once.
pub const MAX_OPEN_QUERIES: usize = 16;
/// Queries received that this node remembers, to answer them; the oldest
/// goes when more arrive.
pub const MAX_RECEIVED_QUERIES: usize = 64;
/// The largest relay factor.
pub const MAX_RELAY: u8 = 5;

/// How to ask a query ([`Node::query`]).
///
/// ```
/// use swim_protocol::QueryOptions;
/// let names: &[&[u8]] = &[b"cache-1", b"cache-2"];
/// let options = QueryOptions { names, tags: &[("zone", "eu-1")], relay: 2, ..QueryOptions::default() };
/// assert!(options.want_ack && options.timeout.is_none());
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct QueryOptions<'a> {
    /// Only these members (empty: any).
    pub names: &'a [&'a [u8]],
    /// Only members with all of these tags (key, value).
    pub tags: &'a [(&'a str, &'a str)],
    /// How long answers are awaited (`None`: [`Node::default_query_timeout`]).
    pub timeout: Option<Duration>,
    /// Members each acknowledgement and answer is also sent through (0 to
    /// [`MAX_RELAY`]): more copies, fewer lost answers.
    pub relay: u8,
    /// Whether members acknowledge that they got it (answer or not).
    pub want_ack: bool,
}

impl Default for QueryOptions<'_> {
    fn default() -> Self {
        QueryOptions { names: &[], tags: &[], timeout: None, relay: 2, want_ack: true }
    }
}

/// A query that arrived, for [`Node::respond`].
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct QueryHandle {
    index: u16,
    stamp: u32,
}

/// A query this node asked, awaiting answers.
#[derive(Debug, Default)]
struct Open {
    used: bool,
    id: u32,
    deadline: Time,
    asked: u32,
    /// Members (by table slot, one bit each) that answered, and that
    /// acknowledged; and how many.
    answered: Vec<u64>,
    acked: Vec<u64>,
    answers: u32,
    acks: u32,
}

/// A query received, that the application may answer.
#[derive(Debug, Default)]
struct Received {
    used: bool,
    stamp: u32,
    origin: Vec<u8>,
    generation: u64,
    id: u32,
    asker: Option<SocketAddr>,
    relay: u8,
    deadline: Time,
    answered: bool,
}

#[derive(Debug, Default)]
pub(crate) struct Queries {
    open: Vec<Open>,
    received: Vec<Received>,
    next_received: usize,
    next_id: u32,
}

/// What a response datagram carries (its names and payload wait in the
/// pending pool: origin, then responder, then payload).
#[derive(Debug, Clone, Copy)]
pub(crate) struct ResponseOut {
    pub(crate) generation: u64,
    pub(crate) id: u32,
    pub(crate) flags: u8,
    pub(crate) asker: SocketAddr,
    pub(crate) origin_len: u8,
    pub(crate) responder_len: u8,
}

impl Node {
    /// The timeout a query gets by default: long enough for it to reach
    /// every member (`dissemination.retransmit_mult · ⌈log10(N + 1)⌉`
    /// gossip rounds, or periods without gossip rounds) and for answers to
    /// come back, twice over, and at least one second.
    pub fn default_query_timeout(&self) -> Duration {
        let round = match self.config.dissemination.gossip_interval {
            Duration::ZERO => self.config.probe.period,
            gossip => gossip,
        };
        let rounds = u32::try_from(self.retransmit_limit()).unwrap_or(u32::MAX);
        round
            .saturating_mul(rounds.saturating_mul(2))
            .max(Duration::from_secs(1))
            .min(self.config.dissemination.broadcast_lifetime)
    }

    /// Asks the members that `options` selects; returns the query's id,
    /// which its [`QueryResponse`](crate::Event::QueryResponse) and
    /// [`QueryDone`](crate::Event::QueryDone) events carry. The payload is
    /// bounded as a broadcast's is (`dissemination.max_broadcast_payload`,
    /// less the query's own fields).
    ///
    /// ```
    /// use swim_protocol::{CommandError, Config, Node, QueryOptions, Time};
    /// let addr = "10.0.0.1:7946".parse().unwrap();
    /// let mut a = Node::new(b"a", &[addr], b"", Config::lan(), Time::ZERO).unwrap();
    /// let id = a.query(Time::ZERO, b"who-serves", b"shard=7", &QueryOptions::default()).unwrap();
    /// let options = QueryOptions { relay: 9, ..QueryOptions::default() };
    /// assert!(matches!(a.query(Time::ZERO, b"q", b"", &options), Err(CommandError::BadQuery(_))));
    /// # let _ = id;
    /// ```
    pub fn query(
        &mut self,
        now: Time,
        name: &[u8],
        payload: &[u8],
        options: &QueryOptions<'_>,
    ) -> Result<u32, CommandError> {
        let now = self.advance(now);
        if self.leave.is_some() {
            return Err(CommandError::Left);
        }
        if options.relay > MAX_RELAY {
            return Err(CommandError::BadQuery("relay is larger than 5"));
        }
        if name.is_empty() || name.len() > swim_wire::MAX_NAME_LEN {
            return Err(CommandError::BadQuery("the name must be 1 to 255 bytes"));
        }
        let timeout = options.timeout.unwrap_or_else(|| self.default_query_timeout());
        if timeout.is_zero() || timeout > self.config.dissemination.broadcast_lifetime {
            return Err(CommandError::BadQuery(
                "the timeout must be positive and at most dissemination.broadcast_lifetime",
            ));
        }
        let filter = QueryFilter::encode(options.names, options.tags)
            .map_err(|_| CommandError::BadQuery("a filter name, key or value is empty, too long or too many"))?;
        let asker = *self.local_entry().and_then(|e| e.addrs.first()).ok_or(CommandError::Left)?;
        let slot = self.queries.open.iter().position(|q| !q.used);
        let slot = match slot {
            Some(s) => s,
            None if self.queries.open.len() < MAX_OPEN_QUERIES => {
                self.queries.open.push(Open::default());
                self.queries.open.len() - 1
            }
            None => return Err(CommandError::TooManyQueries),
        };
        let id = self.queries.next_id;
        let timeout_ms = u32::try_from(timeout.as_millis()).unwrap_or(u32::MAX);
        let body = QueryBody {
            want_ack: options.want_ack,
            relay: options.relay,
            timeout_ms,
            id,
            asker,
            name,
            filter: &filter,
            payload,
        };
        let mut encoded = vec![0u8; body.encoded_len()];
        let len = body.encode(&mut encoded).map_err(|_| CommandError::BadQuery("it cannot be encoded"))?;
        encoded.truncate(len);
        let limit = self.config.dissemination.max_broadcast_payload;
        if encoded.len() > limit {
            return Err(CommandError::TooLarge { what: "query", len: encoded.len(), limit });
        }
        self.broadcast_as(now, &encoded, now + timeout, crate::broadcasts::BroadcastKind::Query)?;
        // Who it is for, as this node sees the cluster now.
        let parsed = QueryFilter::parse(&filter);
        let asked = self
            .members
            .iter()
            .filter(|&(slot, e)| slot != LOCAL && e.state.is_live())
            .filter(|(_, e)| {
                let tags = TagsView::lenient(&e.meta);
                parsed.is_some_and(|f| f.matches(&e.name, |k| tags.get(k)))
            })
            .count();
        let open = self.queries.open.get_mut(slot).ok_or(CommandError::TooManyQueries)?;
        open.used = true;
        open.id = id;
        open.deadline = now + timeout;
        open.asked = u32::try_from(asked).unwrap_or(u32::MAX);
        let words = self.members.slots().div_ceil(64);
        for seen in [&mut open.answered, &mut open.acked] {
            seen.clear();
            seen.resize(words, 0);
        }
        (open.answers, open.acks) = (0, 0);
        self.queries.next_id = id.wrapping_add(1);
        self.stats.queries_sent += 1;
        self.arm_query_timer();
        Ok(id)
    }

    /// A query arrived (new to this node): acknowledged and handed to the
    /// application if it is meant for this node.
    pub(super) fn on_query(&mut self, origin: &[u8], generation: u64, body: &[u8], expires: Time) {
        let Ok(q) = QueryBody::parse(body) else {
            self.stats.queries_malformed += 1;
            return;
        };
        let Some(filter) = QueryFilter::parse(q.filter) else { return };
        let Some(local) = self.local_entry() else { return };
        let tags = TagsView::lenient(&local.meta);
        if !filter.matches(&local.name, |k| tags.get(k)) {
            return;
        }
        // The asker must be a live member at the address answers go to: a
        // query cannot make this node send to an address of its choosing.
        let asker_ok = self
            .members
            .find(origin)
            .and_then(|s| self.members.get(s))
            .is_some_and(|e| e.state.is_live() && e.addrs.contains(&q.asker));
        let asker = asker_ok.then_some(q.asker);
        let r = &mut self.queries;
        if r.received.len() < MAX_RECEIVED_QUERIES {
            r.received.push(Received::default());
        }
        let index = r.next_received % MAX_RECEIVED_QUERIES.min(r.received.len().max(1));
        r.next_received = index + 1;
        let Some(entry) = r.received.get_mut(index) else { return };
        entry.used = true;
        entry.stamp = entry.stamp.wrapping_add(1);
        entry.origin.clear();
        entry.origin.extend_from_slice(origin);
        (entry.generation, entry.id, entry.asker, entry.relay) = (generation, q.id, asker, q.relay.min(MAX_RELAY));
        (entry.deadline, entry.answered) = (expires, false);
        let handle = QueryHandle { index: u16::try_from(index).unwrap_or(u16::MAX), stamp: entry.stamp };
        self.stats.queries_received += 1;
        if q.want_ack {
            // Best effort, as the answers are: a full pool loses it.
            let _ = self.send_response(index, QueryResponse::ACK, &[]);
        }
        self.events.push_with(origin.len() + q.name.len() + q.payload.len(), |arena| Record::Query {
            handle,
            origin: arena.store(origin),
            name: arena.store(q.name),
            payload: arena.store(q.payload),
        });
    }

    /// Answers a query that arrived ([`Event::Query`](crate::Event::Query)),
    /// once, before its timeout. Refused when it is over (timed out,
    /// answered, or forgotten: [`CommandError::QueryOver`]), when the asker
    /// is no longer a live member at the address it gave
    /// ([`CommandError::UnknownMember`]), when the answer does not fit one
    /// datagram beside the names it carries ([`CommandError::TooLarge`]:
    /// about `dissemination.max_broadcast_payload` less the two names), or
    /// when too many datagrams wait to be written
    /// ([`CommandError::MessageQueueFull`]).
    pub fn respond(&mut self, now: Time, query: QueryHandle, payload: &[u8]) -> Result<(), CommandError> {
        let now = self.advance(now);
        let index = usize::from(query.index);
        let entry = self
            .queries
            .received
            .get(index)
            .filter(|e| e.used && e.stamp == query.stamp && now < e.deadline && !e.answered)
            .ok_or(CommandError::QueryOver)?;
        let asker = entry.asker.ok_or(CommandError::UnknownMember)?;
        let limit = self.answer_limit(&entry.origin, asker);
        if payload.len() > limit {
            return Err(CommandError::TooLarge { what: "answer", len: payload.len(), limit });
        }
        self.send_response(index, 0, payload)?;
        if let Some(entry) = self.queries.received.get_mut(index) {
            entry.answered = true;
        }
        Ok(())
    }

    /// The largest answer to a query from `origin`: what one datagram holds
    /// beside its header, the gossip header and the response's own fields.
    fn answer_limit(&self, origin: &[u8], asker: SocketAddr) -> usize {
        let me = self.local_name();
        let response = QueryResponse { generation: 0, id: 0, flags: 0, origin, asker, responder: me, payload: &[] };
        let fixed = self.header().encoded_len()
            + Message::Gossip(Gossip { source: me }).encoded_len()
            + Message::QueryResponse(response).encoded_len();
        self.plain_budget(self.config.limits.packet_budget).saturating_sub(fixed)
    }

    /// Sends an acknowledgement or answer of received query `index` to the
    /// asker, and through `relay` live members (as many as the pending pool
    /// has room for; refused if not even the direct one fits).
    fn send_response(&mut self, index: usize, flags: u8, payload: &[u8]) -> Result<(), CommandError> {
        let (origin_slot, relay) = {
            let entry = self.queries.received.get(index).ok_or(CommandError::QueryOver)?;
            (self.members.find(&entry.origin).unwrap_or(LOCAL), entry.relay)
        };
        // Where copies go: the asker, then the relays (sealed for each).
        let mut relays = [0u32; 16];
        let found = self.random_alive(usize::from(relay), origin_slot, &mut relays);
        let mut targets: [Option<(SocketAddr, To, u8)>; 1 + MAX_RELAY as usize] = [None; 1 + MAX_RELAY as usize];
        let entry = self.queries.received.get(index).ok_or(CommandError::QueryOver)?;
        let asker = entry.asker.ok_or(CommandError::UnknownMember)?;
        let first = Some((asker, self.tag(&entry.origin), flags));
        let relayed = relays.get(..found).unwrap_or_default().iter().filter_map(|&slot| {
            let e = self.members.get(slot)?;
            Some((*e.addrs.first()?, self.tag(&e.name), flags | QueryResponse::RELAY))
        });
        for (target, t) in targets.iter_mut().zip(std::iter::once(first).chain(relayed.map(Some))) {
            *target = t;
        }
        let me = self.members.local().map(|e| &e.name[..]).ok_or(CommandError::Left)?;
        let out = |flags| ResponseOut {
            generation: entry.generation,
            id: entry.id,
            flags,
            asker,
            origin_len: u8::try_from(entry.origin.len()).unwrap_or(0),
            responder_len: u8::try_from(me.len()).unwrap_or(0),
        };
        // The payloads first (the names and the answer in the pending
        // pool, one slot per copy), then the datagrams.
        let parts = [&entry.origin[..], me, payload];
        let room = super::OUTBOX.saturating_sub(self.outbox.len());
        let mut queued: [Option<(SocketAddr, To, u16, ResponseOut)>; 1 + MAX_RELAY as usize] =
            [None; 1 + MAX_RELAY as usize];
        for (q, (to, receiver, flags)) in queued.iter_mut().zip(targets.into_iter().flatten()).take(room) {
            let Some(slot) = self.pending.store_parts(&parts) else { break };
            *q = Some((to, receiver, slot, out(flags)));
        }
        if queued.first().copied().flatten().is_none() {
            return Err(CommandError::MessageQueueFull);
        }
        for (to, receiver, slot, response) in queued.into_iter().flatten() {
            self.send(Outgoing::Response { to, receiver, slot, response });
        }
        Ok(())
    }

    /// Writes a response datagram: a gossip header and the response, with
    /// gossip in the room left.
    pub(super) fn write_response(&self, w: &mut PacketWriter<'_>, slot: u16, r: ResponseOut) -> Option<()> {
        let stored = self.pending.get(slot)?;
        let (origin, rest) = stored.split_at_checked(usize::from(r.origin_len))?;
        let (responder, payload) = rest.split_at_checked(usize::from(r.responder_len))?;
        w.push(&Message::Gossip(Gossip { source: &self.local_entry()?.name })).ok()?;
        let response = QueryResponse {
            generation: r.generation,
            id: r.id,
            flags: r.flags,
            origin,
            asker: r.asker,
            responder,
            payload,
        };
        w.push(&Message::QueryResponse(response)).ok()
    }

    /// A response arrived from `from`: for this node's open query, or to
    /// relay. Only a live member's counts, once per query and kind.
    pub(super) fn on_query_response(&mut self, now: Time, r: &QueryResponse<'_>, from: Option<SocketAddr>) {
        if r.origin != self.local_name() {
            if r.flags & QueryResponse::RELAY != 0
                && self.relays_left > 0
                && let Some(from) = from
                && self.relay_limiter.allow(now, from.ip())
            {
                self.relays_left -= 1;
                self.relay_response(r);
            }
            return;
        }
        if r.generation != self.process_generation {
            return;
        }
        let responder = self.members.find(r.responder).filter(|&s| s != LOCAL);
        let Some(slot) = responder.filter(|&s| self.members.get(s).is_some_and(|e| e.state.is_live())) else {
            return;
        };
        let Some(open) = self.queries.open.iter_mut().find(|q| q.used && q.id == r.id) else { return };
        let ack = r.flags & QueryResponse::ACK != 0;
        let (seen, count) =
            if ack { (&mut open.acked, &mut open.acks) } else { (&mut open.answered, &mut open.answers) };
        let (word, bit) = (slot as usize / 64, 1u64 << (slot % 64));
        if word >= seen.len() {
            seen.resize(word + 1, 0);
        }
        let Some(w) = seen.get_mut(word) else { return };
        if *w & bit != 0 {
            return;
        }
        *w |= bit;
        *count += 1;
        let id = r.id;
        if ack {
            self.stats.query_acks_received += 1;
            self.events.push_with(r.responder.len(), |arena| Record::QueryAck { id, from: arena.store(r.responder) });
        } else {
            self.stats.query_responses_received += 1;
            self.events.push_with(r.responder.len() + r.payload.len(), |arena| Record::QueryResponse {
                id,
                from: arena.store(r.responder),
                payload: arena.store(r.payload),
            });
        }
    }

    /// Passes a relayed response on to its asker, if the asker is a live
    /// member at that address (a relay never sends anywhere else).
    fn relay_response(&mut self, r: &QueryResponse<'_>) {
        let at_home = self
            .members
            .find(r.origin)
            .and_then(|s| self.members.get(s))
            .is_some_and(|e| e.state.is_live() && e.addrs.contains(&r.asker));
        if !at_home || self.outbox_full() {
            return;
        }
        let Some(slot) = self.pending.store_parts(&[r.origin, r.responder, r.payload]) else { return };
        let response = ResponseOut {
            generation: r.generation,
            id: r.id,
            flags: r.flags & !QueryResponse::RELAY,
            asker: r.asker,
            origin_len: u8::try_from(r.origin.len()).unwrap_or(0),
            responder_len: u8::try_from(r.responder.len()).unwrap_or(0),
        };
        let receiver: To = self.tag(r.origin);
        self.stats.query_responses_relayed += 1;
        self.send(Outgoing::Response { to: r.asker, receiver, slot, response });
    }

    /// Ends the queries whose time is up, reporting what each got.
    pub(super) fn query_timer(&mut self, now: Time) {
        if !self.timers.expired(Timer::Query, now) {
            return;
        }
        for open in self.queries.open.iter_mut().filter(|q| q.used && now >= q.deadline) {
            open.used = false;
            let (id, asked, answered, acked) = (open.id, open.asked, open.answers, open.acks);
            // Never dropped: the asker's stream of answers ends with it.
            self.events.push_always(Record::QueryDone { id, asked, answered, acked });
        }
        self.arm_query_timer();
    }

    fn arm_query_timer(&mut self) {
        match self.queries.open.iter().filter(|q| q.used).map(|q| q.deadline).min() {
            Some(at) => self.timers.set(Timer::Query, at),
            None => self.timers.clear(Timer::Query),
        }
    }
}
