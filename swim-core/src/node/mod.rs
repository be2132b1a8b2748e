//! [`Node`]: one member's protocol state machine.

use core::time::Duration;
use std::collections::VecDeque;
use std::net::SocketAddr;

use swim_wire::{DecodeOptions, MAX_ADDRS, MAX_NAME_LEN};

use crate::broadcasts::Broadcasts;
use crate::config::{Config, ConfigError};
use crate::error::InputError;
use crate::events::{Event, EventQueue, MemberEvent, MemberInfo, Record};
use crate::gossip::Gossip;
use crate::limits::Limiter;
use crate::members::{Entry, LOCAL, MemberRef, Members, State};
use crate::probe_list::ProbeOrder;
use crate::rng::Rng;
use crate::stats::Stats;
use crate::suspicion::Deadlines;
use crate::time::Time;

mod admission;
mod app_state;
mod commands;
mod forwards;
mod input;
mod leave;
mod membership;
mod messages;
mod multicast;
mod probe;
mod queries;
mod seal;
mod state;
mod sync;
mod timers;
mod transmit;

pub use admission::{Admission, Candidate};
pub(crate) use app_state::APP_STATE_CEILING;
pub use app_state::AppState;
pub use messages::MESSAGE_SLOTS;
pub use queries::{MAX_OPEN_QUERIES, MAX_RECEIVED_QUERIES, MAX_RELAY, QueryHandle, QueryOptions};
pub use sync::{SyncId, SyncOpen, SyncStatus};
pub use transmit::Transmit;

use forwards::Forwards;
use probe::Prober;
use sync::Syncs;
use timers::{Timer, Timers};
use transmit::Outgoing;

/// Outgoing datagrams held between an input and `poll_transmit`.
const OUTBOX: usize = 512;
/// Work items of one kind handled per `handle_timeout` call (suspicion
/// expiries, reaps); more wait for the next call, which `poll_timeout` asks
/// for at once.
const BATCH: usize = 64;

/// One member of a SWIM cluster, as a sans-IO state machine.
///
/// The node never touches a socket, a clock or a thread. Its owner (the
/// runtime, the simulator, or your own loop) feeds it inputs and carries out
/// its outputs:
///
/// | inputs | outputs |
/// |---|---|
/// | [`handle_datagram`](Node::handle_datagram): a received datagram | [`poll_transmit`](Node::poll_transmit): datagrams to send, written into your buffer |
/// | [`handle_timeout`](Node::handle_timeout): time has passed | [`poll_timeout`](Node::poll_timeout): when to call `handle_timeout` next |
/// | [`handle_sync_frame`](Node::handle_sync_frame): a frame of a sync stream | [`poll_sync_open`](Node::poll_sync_open), [`poll_sync_frame`](Node::poll_sync_frame): syncs to open, frames to write |
/// | commands: [`join`](Node::join), [`leave`](Node::leave), [`broadcast`](Node::broadcast), [`set_metadata`](Node::set_metadata) | [`poll_event`](Node::poll_event): what the application should know |
///
/// **Calling contract.**
/// 1. Pass the current [`Time`] to every call that takes one; time never
///    goes backwards (an earlier time is treated as the latest one seen).
/// 2. After every input or command, drain `poll_transmit` (each call writes
///    one datagram into a buffer of at least `limits.packet_budget` bytes), drain
///    `poll_event`, and service `poll_sync_open`.
/// 3. Sleep until `poll_timeout` (recomputed after each input), then call
///    `handle_timeout`. The node measures how late that call comes: a timer
///    more than `probe.overload_threshold` late counts as local overload
///    (Lifeguard), so do not delay it on purpose.
///
/// Randomness comes only from `Config::seed`: the same seed and the same
/// inputs at the same times produce the same outputs. Every call does work
/// bounded independently of the cluster size, except the sync exchange and
/// listing members, which are O(N) overall but chunked. Memory is reserved up
/// front from the configuration and grows only when members join; a
/// converged node allocates nothing.
///
/// ```
/// use std::net::SocketAddr;
/// use swim_protocol::{Config, Node, State, Time};
///
/// let addrs: [SocketAddr; 2] = ["127.0.0.1:7001".parse().unwrap(), "127.0.0.1:7002".parse().unwrap()];
/// let mut now = Time::ZERO;
/// let a = Node::new(b"a", &addrs[..1], b"", Config::local().with(|c| c.seed = 1), now).unwrap();
/// let b = Node::new(b"b", &addrs[1..], b"", Config::local().with(|c| c.seed = 2), now).unwrap();
/// let mut nodes = [a, b];
/// nodes[1].join(now, &addrs[..1]).unwrap();
///
/// // A tiny lossless network: run both nodes for two simulated seconds.
/// let mut buf = [0u8; 1400];
/// for _ in 0..200 {
///     for i in 0..2 {
///         nodes[i].handle_timeout(now);
///         while let Some(t) = nodes[i].poll_transmit(now, &mut buf) {
///             let to = addrs.iter().position(|a| *a == t.destination).unwrap();
///             nodes[to].handle_datagram(now, addrs[i], &mut buf[..t.len]).unwrap();
///         }
///         while nodes[i].poll_event().is_some() {}
///     }
///     now += core::time::Duration::from_millis(10);
/// }
/// assert_eq!(nodes[0].member(b"b").map(|m| m.state), Some(State::Alive));
/// assert_eq!(nodes[1].member(b"a").map(|m| m.state), Some(State::Alive));
/// ```
#[derive(Debug)]
pub struct Node {
    config: Config,
    decode: DecodeOptions,
    rng: Rng,
    now: Time,
    members: Members,
    probe_list: ProbeOrder,
    /// Member updates waiting to be disseminated (ids: table slots).
    gossip: Gossip,
    /// User broadcasts waiting to be disseminated (ids: pool slots).
    broadcast_queue: Gossip,
    broadcasts: Broadcasts,
    suspicions: Deadlines,
    /// Stamps the suspicion deadlines pushed (see `Deadlines`).
    deadline_stamp: u32,
    /// Faulty and left members, oldest first, with when to reap them.
    tombstones: VecDeque<(Time, MemberRef)>,
    /// Where the reconnect attempts are in the tombstones.
    tombstone_cursor: usize,
    events: EventQueue,
    /// The application's admission hook and its recent refusals.
    gate: admission::Gate,
    outbox: VecDeque<Outgoing>,
    /// The node's own timers (periods, gossip rounds, join, leave, syncs).
    timers: Timers,
    prober: Prober,
    forwards: Forwards,
    health: u8,
    next_seq: u32,
    /// When a ping from a member this node does not know first arrived
    /// (since the last sync such pings caused).
    stranger_since: Option<Time>,
    /// The generation this node's broadcasts carry, numbered from 1 by
    /// `next_broadcast_seq`: the member's own, and both start again when it
    /// moves to a new generation (it found a past life above it).
    process_generation: u64,
    next_broadcast_seq: u32,
    /// The last name conflict reported (name hash, claimed address, when),
    /// so that a conflict repeated by gossip is reported once per period.
    last_conflict: Option<(u64, SocketAddr, Time)>,
    join: Option<commands::Join>,
    leave: Option<leave::Leave>,
    syncs: Syncs,
    /// Direct messages not yet written.
    pending: messages::Pending,
    /// Queries asked and received.
    queries: queries::Queries,
    /// Every member's application state this node holds.
    state: state::Store,
    /// When tombstones of the state are next looked at.
    state_sweep_at: Time,
    /// The application's own state hook, and each sync's bytes of it.
    app: app_state::AppStates,
    sealing: Option<seal::Sealing>,
    /// A wall-clock reading: (node time, ms since the Unix epoch).
    wall: Option<(Time, u64)>,
    join_limiter: Limiter,
    sync_limiter: Limiter,
    /// Departures sent straight back to a member that told an older story
    /// (see `push_back`): a datagram of stale claims must not make this node
    /// send one datagram per claim.
    push_back_limiter: Limiter,
    /// Query answers passed on as a relay, per source IP: one datagram in
    /// is at most one datagram out, and a source cannot make this node a
    /// hose.
    relay_limiter: Limiter,
    /// Relayed answers the datagram being handled may still cause (one:
    /// a relay's datagram carries one answer).
    relays_left: u8,
    stats: Stats,
}

/// Direct push-backs per source IP: one a second, two at once. Gossip
/// carries the rest.
const PUSH_BACK_RATE: crate::limits::RateLimit = crate::limits::RateLimit { per_second: 1, burst: 2 };

/// Query answers relayed per source IP: a member relays a few for each
/// query it sees answered (the relay factor), from many sources.
const RELAY_RATE: crate::limits::RateLimit = crate::limits::RateLimit { per_second: 20, burst: 40 };

impl Node {
    /// Creates a node named `name` (1..=255 bytes), reachable at `addrs`
    /// (1..=16, preferred first), carrying `meta`.
    pub fn new(name: &[u8], addrs: &[SocketAddr], meta: &[u8], config: Config, now: Time) -> Result<Node, ConfigError> {
        config.validate()?;
        if name.is_empty() || name.len() > MAX_NAME_LEN {
            return Err(ConfigError::new("name", "must be 1 to 255 bytes"));
        }
        if addrs.is_empty() || addrs.len() > MAX_ADDRS {
            return Err(ConfigError::new("addrs", "must hold 1 to 16 addresses"));
        }
        if meta.len() > config.limits.max_metadata {
            return Err(ConfigError::new("meta", "is larger than limits.max_metadata"));
        }
        if !addrs.iter().all(|a| crate::config::allowed(&config.security.allowed_networks, a.ip())) {
            // Every other member would refuse it.
            return Err(ConfigError::new("addrs", "include one outside security.allowed_networks"));
        }
        let sealing = seal::Sealing::new(&config, name).map_err(|_| {
            ConfigError::environment("security.encryption", "needs a nonce epoch, and the OS random source failed")
        })?;
        let expected = config.limits.expected_members.max(1);
        let mut members = Members::with_capacity(expected);
        // The table is empty and its limit is at least 2, so slot 0 (LOCAL) is ours.
        let version = crate::version::Version::new(config.generation, 0);
        members
            .insert(name, addrs.iter().copied(), meta, version, State::Alive, now)
            .ok_or(ConfigError::new("limits.max_members", "leaves no room for this node"))?;
        let decode = DecodeOptions {
            min_version: config.min_protocol_version,
            max_version: config.max_protocol_version,
            max_metadata: config.limits.max_metadata,
            max_payload: config.dissemination.max_broadcast_payload,
        };
        let mut rng = Rng::new(config.seed);
        // Spread the first period so that nodes started together do not probe in lockstep.
        let first_period = now + config.probe.period.mul_f64(rng.unit());
        let mut timers = Timers::default();
        timers.set(Timer::Period, first_period);
        if !config.sync.interval.is_zero() {
            // Members started together must not all sync at once.
            timers.set(Timer::Sync, now + config.sync.interval.mul_f64(0.5 + rng.unit()));
        }
        // Sequence numbers start at a random value, so that an ack cannot
        // be predicted from the node's start.
        let next_seq = (rng.next_u64() >> 32) as u32;
        // Room for the broadcasts of a busy step, and for the largest
        // direct message beside them.
        let event_bytes = (64 * 1024).max(8 * (config.dissemination.max_broadcast_payload + 2 * MAX_NAME_LEN))
            + config.limits.max_message
            + MAX_NAME_LEN;
        let node = Node {
            decode,
            rng,
            now,
            members,
            probe_list: ProbeOrder::new(config.probe.selection, name, config.probe.direct, expected),
            gossip: Gossip::with_capacity(expected),
            broadcast_queue: Gossip::with_capacity(config.dissemination.broadcast_capacity),
            broadcasts: Broadcasts::new(config.dissemination.broadcast_capacity),
            suspicions: Deadlines::with_capacity(crate::members::suspicion_capacity(expected)),
            deadline_stamp: 0,
            tombstones: VecDeque::with_capacity(expected),
            tombstone_cursor: 0,
            events: EventQueue::new(config.limits.event_capacity, event_bytes),
            gate: admission::Gate::new(),
            outbox: VecDeque::with_capacity(OUTBOX),
            timers,
            prober: Prober::new(&config),
            forwards: Forwards::new(),
            health: 0,
            next_seq,
            stranger_since: None,
            process_generation: config.generation,
            next_broadcast_seq: 1,
            last_conflict: None,
            join: None,
            leave: None,
            syncs: Syncs::new(config.sync.max_concurrent),
            pending: messages::Pending::default(),
            queries: queries::Queries::default(),
            state: state::Store::default(),
            state_sweep_at: Time::ZERO,
            app: app_state::AppStates::new(),
            sealing,
            wall: None,
            join_limiter: Limiter::new(config.security.join_rate, expected.clamp(64, 1024)),
            sync_limiter: Limiter::new(config.security.sync_rate, expected.clamp(64, 1024)),
            push_back_limiter: Limiter::new(PUSH_BACK_RATE, expected.clamp(64, 1024)),
            relay_limiter: Limiter::new(RELAY_RATE, expected.clamp(64, 1024)),
            relays_left: 0,
            stats: Stats::default(),
            config,
        };
        Ok(node)
    }

    /// The configuration in force.
    pub fn config(&self) -> &Config {
        &self.config
    }

    /// This node as the cluster sees it.
    pub fn local(&self) -> MemberInfo<'_> {
        // Slot 0 is filled in `new` and never removed.
        self.members.local().map(info).unwrap_or(MemberInfo {
            name: &[],
            addrs: &[],
            meta: &[],
            generation: 0,
            incarnation: 0,
            state: State::Left,
            rtt: None,
            last_answered: None,
        })
    }

    /// A member by name (this node included).
    pub fn member(&self, name: &[u8]) -> Option<MemberInfo<'_>> {
        self.members.find(name).and_then(|slot| self.members.get(slot)).map(info)
    }

    /// Every known member, this node and faulty or left ones included
    /// (O(N)).
    pub fn members(&self) -> impl Iterator<Item = MemberInfo<'_>> {
        self.members.iter().map(|(_, e)| info(e))
    }

    /// Members alive or suspect, this node included.
    pub fn live_members(&self) -> usize {
        self.members.live()
    }

    /// The local health score (0 = healthy, up to `probe.max_health`).
    pub fn health(&self) -> u8 {
        self.health
    }

    /// Counters and gauges.
    pub fn stats(&self) -> Stats {
        Stats {
            health: self.health,
            probe_timeout: self.scaled(self.prober.timeout),
            live_members: self.members.live(),
            known_members: self.members.len(),
            queued_updates: self.gossip.len() + self.broadcast_queue.len(),
            broadcasts_held: self.broadcasts.in_use(),
            state_entries: self.state.len(),
            events_dropped: self.events.dropped(),
            ..self.stats
        }
    }

    /// Checks the node's internal consistency: counts match the table, the
    /// probe list holds exactly the live peers, and every table is within
    /// its configured bound. Meant for tests, fuzzing and debugging
    /// (O(N)); a failure names the broken invariant.
    ///
    /// ```
    /// use swim_protocol::{Config, Node, Time};
    /// let node = Node::new(b"a", &["10.0.0.1:7946".parse().unwrap()], b"", Config::lan(), Time::ZERO).unwrap();
    /// assert_eq!(node.check_invariants(), Ok(()));
    /// ```
    pub fn check_invariants(&self) -> Result<(), &'static str> {
        let live = self.members.iter().filter(|(_, e)| e.state.is_live()).count();
        if live != self.members.live() {
            return Err("the live count differs from the members alive or suspect");
        }
        if self.members.len() > self.config.limits.max_members {
            return Err("more members than max_members");
        }
        if self.members.local().is_none() {
            return Err("this node's own entry is missing");
        }
        if !self.members.digest_consistent() {
            return Err("the sync digest disagrees with the member table");
        }
        for (slot, e) in self.members.iter() {
            let listed = self.probe_list.contains(slot);
            let should = slot != LOCAL && e.state.is_live();
            if listed != should {
                return Err("the probe list and the live members disagree");
            }
            if self.members.find(&e.name) != Some(slot) {
                return Err("the name index does not lead to the member");
            }
        }
        if self.probe_list.len()
            != live.saturating_sub(usize::from(self.members.local().is_some_and(|e| e.state.is_live())))
        {
            return Err("the probe list holds members that are gone");
        }
        if self.gossip.len() > self.members.slots()
            || self.broadcast_queue.len() > self.config.dissemination.broadcast_capacity
        {
            return Err("a gossip queue outgrew its table");
        }
        if self.suspicions.len() > self.suspicions.limit(self.members.suspects()) {
            return Err("the suspicion deadlines outgrew their bound");
        }
        if self.events.len() > self.config.limits.event_capacity {
            return Err("more events held than event_capacity");
        }
        if self.outbox.len() > OUTBOX
            || self.prober.probes.iter().filter(|p| !p.check).count() > self.config.probe.direct
            || self.prober.probes.iter().filter(|p| p.check).count() > probe::CHECKS
            || (self.leave.is_some() && !self.prober.probes.is_empty())
            || self
                .prober
                .probes
                .iter()
                .enumerate()
                .any(|(i, p)| self.prober.probes.iter().skip(i + 1).any(|q| q.target.slot == p.target.slot))
        {
            return Err(
                "the outbox or the probes outgrew their bounds (or probes ran twice at a member, or while leaving)",
            );
        }
        if !self.forwards.consistent() {
            return Err("helper duties are miscounted");
        }
        let limit = self.config.sync.max_concurrent;
        if self.syncs.running_on(true) > limit || self.syncs.running_on(false) > limit {
            return Err("more syncs opened, or accepted, than max_concurrent_syncs");
        }
        Ok(())
    }

    /// When `handle_timeout` must be called next.
    pub fn poll_timeout(&self) -> Option<Time> {
        [
            self.timers.next(),
            self.prober.next_deadline(),
            self.forwards.next_deadline(),
            self.suspicions.next(),
            self.tombstones.front().map(|(t, _)| *t),
            self.syncs.next_deadline(),
            self.broadcasts.next_expiry(),
        ]
        .into_iter()
        .flatten()
        .min()
    }

    /// Advances time: runs every timer that is due. A call that comes more
    /// than `probe.overload_threshold` after the earliest deadline due
    /// counts as local overload (Lifeguard: this node's health suffers, so
    /// it probes more patiently).
    pub fn handle_timeout(&mut self, now: Time) {
        let due = self.poll_timeout();
        let now = self.advance(now);
        if let Some(due) = due.filter(|&d| d <= now) {
            let late = now.saturating_since(due);
            if !self.config.probe.overload_threshold.is_zero() && late > self.config.probe.overload_threshold {
                self.stats.overload_reports += 1;
                self.adjust_health(1);
            }
        }
        self.probe_timers(now);
        self.forward_timers(now);
        self.expire_suspicions(now);
        self.reap_tombstones(now);
        self.broadcasts.expire(now, BATCH);
        if self.timers.expired(Timer::Period, now) {
            self.start_period(now);
        }
        if self.timers.expired(Timer::Gossip, now) {
            self.gossip_round(now);
        }
        if self.timers.expired(Timer::Reconnect, now) {
            self.reconnect_ping(now);
        }
        self.join_timer(now);
        self.leave_timer(now);
        self.sync_timer(now);
        self.query_timer(now);
        self.sweep_state(now);
    }

    /// The next event for the application.
    pub fn poll_event(&mut self) -> Option<Event<'_>> {
        let record = loop {
            let record = self.events.pop()?;
            if let Record::Member { member, .. } = record
                && self.members.resolve(member).is_none()
            {
                continue; // the member was reaped before the event was polled
            }
            break record;
        };
        let bytes = self.events.bytes();
        Some(match record {
            Record::Member { kind, member, state, version, bytes: extra } => {
                let entry = self.members.resolve(member)?;
                let member = MemberInfo {
                    state,
                    generation: version.generation,
                    incarnation: version.incarnation,
                    ..info(entry)
                };
                match kind {
                    MemberEvent::Joined => Event::Joined(member),
                    MemberEvent::Updated => Event::Updated { member, previous_meta: extra.get(bytes) },
                    MemberEvent::Suspected => Event::Suspected { member, by: extra.get(bytes) },
                    MemberEvent::Recovered => Event::Recovered(member),
                    MemberEvent::Faulty => Event::Faulty { member, by: extra.get(bytes) },
                    MemberEvent::Left => Event::Left(member),
                }
            }
            Record::Broadcast { origin, seq, payload } => {
                Event::Broadcast { origin: origin.get(bytes), seq, payload: payload.get(bytes) }
            }
            Record::NameConflict { name, known, claimed } => {
                Event::NameConflict { name: name.get(bytes), known, claimed }
            }
            Record::Refuted { incarnation } => Event::Refuted { incarnation },
            Record::NotAdmitted { name, addr } => Event::NotAdmitted { name: name.get(bytes), addr },
            Record::JoinSucceeded { seed } => Event::JoinSucceeded { seed },
            Record::Message { from, payload, reliable } => {
                Event::Message { from: from.get(bytes), payload: payload.get(bytes), reliable }
            }
            Record::Query { handle, origin, name, payload } => {
                Event::Query { handle, origin: origin.get(bytes), name: name.get(bytes), payload: payload.get(bytes) }
            }
            Record::QueryResponse { id, from, payload } => {
                Event::QueryResponse { id, from: from.get(bytes), payload: payload.get(bytes) }
            }
            Record::QueryAck { id, from } => Event::QueryAck { id, from: from.get(bytes) },
            Record::QueryDone { id, asked, answered, acked } => Event::QueryDone { id, asked, answered, acked },
            Record::State { owner, key, value } => {
                Event::StateChanged { owner: owner.get(bytes), key: key.get(bytes), value: value.map(|v| v.get(bytes)) }
            }
            Record::StateCleared { owner } => Event::StateCleared { owner: owner.get(bytes) },
            Record::JoinFailed { reason } => Event::JoinFailed { reason },
        })
    }

    /// Counts a refused input under its reason.
    fn reject(&mut self, e: &InputError) {
        let s = &mut self.stats;
        s.packets_rejected += 1;
        let counter = match e {
            InputError::Decode(d) => match d.kind() {
                swim_wire::ErrorKind::UnknownKey(_) | swim_wire::ErrorKind::BadSeal => &mut s.rejected_key,
                _ => &mut s.rejected_malformed,
            },
            InputError::TooLarge { .. } => &mut s.rejected_malformed,
            InputError::LabelMismatch => &mut s.rejected_label,
            InputError::NotAllowed(_) => &mut s.rejected_network,
            InputError::Plaintext | InputError::Sealed | InputError::NotThePeer => &mut s.rejected_encryption,
            InputError::Replayed | InputError::Stale | InputError::AnyReceiver(_) => &mut s.rejected_replay,
            _ => &mut s.rejected_unexpected,
        };
        *counter += 1;
    }

    /// Sets the health score (tests).
    #[cfg(test)]
    pub(crate) fn set_health(&mut self, health: u8) {
        self.health = health.min(self.config.probe.max_health);
    }

    /// Moves the clock forward (never back) and returns the current time.
    fn advance(&mut self, now: Time) -> Time {
        self.now = self.now.max(now);
        self.now
    }

    /// A duration scaled by the local health score (Lifeguard).
    fn scaled(&self, d: Duration) -> Duration {
        d * (u32::from(self.health) + 1)
    }

    fn next_seq(&mut self) -> u32 {
        let seq = self.next_seq;
        self.next_seq = self.next_seq.wrapping_add(1);
        seq
    }

    /// Raises (`delta > 0`) or lowers the health score, within `0..=max`.
    fn adjust_health(&mut self, delta: i32) {
        if !self.config.probe.lifeguard {
            return;
        }
        let score = i32::from(self.health) + delta;
        self.health = u8::try_from(score.clamp(0, i32::from(self.config.probe.max_health)))
            .unwrap_or(self.config.probe.max_health);
    }

    fn local_entry(&self) -> Option<&Entry> {
        self.members.get(LOCAL)
    }

    fn local_name(&self) -> &[u8] {
        self.local_entry().map_or(&[][..], |e| &e.name)
    }

    /// `λ · ⌈log10(N + 1)⌉`: how often each update is sent.
    pub(super) fn retransmit_limit(&self) -> usize {
        let factor = crate::convert::ceil_log10(self.members.live() + 1).max(1);
        (self.config.dissemination.retransmit_mult * factor) as usize
    }

    /// How often each user broadcast is sent: the retransmit limit, but in
    /// a small cluster at least twice per other member (up to 16), because
    /// gossip to random members misses someone in a few clusters of five
    /// out of a hundred at λ = 4 (syncs repair the rest).
    pub(super) fn broadcast_limit(&self) -> usize {
        let floor = (2 * self.members.live().saturating_sub(1)).min(16);
        self.retransmit_limit().max(floor).min(crate::gossip::MAX_TRANSMITS)
    }
}

/// A member's public view.
fn info(e: &Entry) -> MemberInfo<'_> {
    MemberInfo {
        name: &e.name,
        addrs: &e.addrs,
        meta: &e.meta,
        generation: e.generation,
        incarnation: e.incarnation,
        state: e.state,
        rtt: (e.rtt_us > 0).then(|| Duration::from_micros(u64::from(e.rtt_us))),
        last_answered: e.answered_at,
    }
}

#[cfg(test)]
mod admission_tests;
#[cfg(test)]
mod app_state_tests;
#[cfg(test)]
mod leave_tests;
#[cfg(test)]
mod membership_tests;
#[cfg(test)]
mod messages_tests;
#[cfg(test)]
mod probe_tests;
#[cfg(test)]
mod queries_tests;
#[cfg(test)]
mod security_tests;
#[cfg(test)]
mod state_tests;
#[cfg(test)]
mod suspicion_tests;
#[cfg(test)]
mod sync_delta_tests;
#[cfg(test)]
mod sync_tests;
#[cfg(test)]
mod tests;
