//! Sync (push-pull anti-entropy): state exchanged with one member over a
//! stream, in bounded frames.
//!
//! A *full* exchange (a join's, or with a member that does not know delta
//! syncs): the opener sends its whole table in chunks (the last flagged
//! `LAST`); the other side merges each chunk as it arrives, then answers
//! with its own table the same way (flagged `REPLY`).
//!
//! A *delta* exchange (every other one; `sync.delta`), in three legs: the
//! opener sends a digest of its table (a 32-bit value per bucket of about
//! four members, see `crate::digest`); the other side compares it with its
//! own and answers with the set of buckets that differ and its records of
//! those buckets; the opener answers with its records of the same buckets.
//! When the tables agree, the exchange costs the digest: about a byte per
//! member, where a full one costs the records (some 40 bytes each) both
//! ways. A peer that does not know delta syncs skips the digest (a decoder
//! skips items it does not know) and replies with its whole table, which
//! ends the exchange.
//!
//! Each frame is at most `sync.frame_budget` bytes, and producing or
//! merging one frame is the only work a call does, so no call is O(N) in
//! records. (A frame of digest values folds the per-leaf sums of its
//! buckets: one XOR per two members, contiguous, a few microseconds for a
//! whole digest at 16,000 members.)
//!
//! Records merge like gossip, except that a *faulty* record is merged as a
//! *suspicion*: a member that one side has declared faulty gets a chance to
//! refute before the other side agrees (a stale view healing a partition
//! must not kill members that are alive). Suspect and faulty records name
//! their accuser, so a suspicion learned through a sync is passed on in the
//! accuser's name, never the sync peer's.
//!
//! After its records, each side sends the user broadcasts it holds (being
//! gossiped, or retained until their lifetime ends): a member that gossip
//! missed gets them here, exactly once (the same dedup window applies).
//! Join syncs carry none: a joiner was not there when they were sent.

use std::collections::VecDeque;
use std::net::SocketAddr;

use super::Node;
use super::membership::Sender;
use super::seal::To;
use super::timers::Timer;
use crate::digest;
use crate::error::CommandError;
use crate::members::{LOCAL, State};
use crate::time::Time;

mod delta;
mod frames;

use delta::Delta;

use super::app_state::AppLeg;
use super::messages::MessageLeg;

/// Identifies one sync exchange of a node.
///
/// A whole exchange between two nodes, with the caller carrying the frames
/// (a real runtime carries them over a stream):
///
/// ```
/// use swim_protocol::{Config, Node, SyncStatus, Time};
/// let addrs = ["10.0.0.1:7946".parse().unwrap(), "10.0.0.2:7946".parse().unwrap()];
/// let config = Config::lan().with(|c| c.sync.interval = core::time::Duration::ZERO);
/// let mut a = Node::new(b"a", &addrs[..1], b"", config.clone(), Time::ZERO).unwrap();
/// let mut b = Node::new(b"b", &addrs[1..], b"", config, Time::ZERO).unwrap();
/// // a joins through b: b accepts, a opens a sync with it.
/// a.join(Time::ZERO, &addrs[1..]).unwrap();
/// let mut buf = vec![0u8; 1400];
/// let t = a.poll_transmit(Time::ZERO, &mut buf).unwrap();
/// b.handle_datagram(Time::ZERO, addrs[0], &mut buf[..t.len]).unwrap();
/// let t = b.poll_transmit(Time::ZERO, &mut buf).unwrap();
/// a.handle_datagram(Time::ZERO, addrs[1], &mut buf[..t.len]).unwrap();
/// let open = a.poll_sync_open().expect("a sync to b");
/// let accepted = b.accept_sync(Time::ZERO, addrs[0]).unwrap();
///
/// let mut frame = vec![0u8; 64 * 1024];
/// let (mut from, mut to, mut ids) = (&mut a, &mut b, (open.id, accepted));
/// while from.sync_status(ids.0) == Some(SyncStatus::Send) {
///     let len = from.poll_sync_frame(ids.0, &mut frame).unwrap();
///     to.handle_sync_frame(Time::ZERO, ids.1, &mut frame[4..len]).unwrap();
///     if from.sync_status(ids.0) != Some(SyncStatus::Send) && to.sync_status(ids.1) == Some(SyncStatus::Send) {
///         (from, to, ids) = (to, from, (ids.1, ids.0)); // the reply
///     }
/// }
/// assert_eq!(a.sync_status(open.id), Some(SyncStatus::Done));
/// assert_eq!(b.sync_status(accepted), Some(SyncStatus::Done));
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct SyncId {
    index: u32,
    generation: u32,
}

/// A sync the node wants opened: connect a stream to `peer`, then exchange
/// frames with [`Node::poll_sync_frame`] and [`Node::handle_sync_frame`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SyncOpen {
    /// The exchange.
    pub id: SyncId,
    /// Whom to connect to.
    pub peer: SocketAddr,
    /// Whether this sync completes a join.
    pub join: bool,
}

/// What a sync exchange needs next.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SyncStatus {
    /// Write frames from [`Node::poll_sync_frame`].
    Send,
    /// Read a frame and pass it to [`Node::handle_sync_frame`].
    Receive,
    /// Finished: close the stream and call [`Node::close_sync`].
    Done,
}

#[derive(Debug, Clone)]
pub(super) struct Session {
    active: bool,
    generation: u32,
    pub(super) peer: SocketAddr,
    /// Whom this node's frames are sealed for: the peer by name, or any
    /// receiver (a joiner's sync, to a seed it knows by address only). An
    /// accepting node learns it from the opener's first frame.
    pub(super) peer_tag: To,
    pub(super) opener: bool,
    join: bool,
    pub(super) status: SyncStatus,
    /// Next table slot to send.
    cursor: u32,
    /// Next broadcast pool slot to send (after the table).
    broadcast_cursor: u32,
    /// Next application state entry to send (after the broadcasts).
    pub(super) state_cursor: u32,
    pub(super) chunk: u32,
    pub(super) expected_chunk: u32,
    /// Member records received so far.
    records: usize,
    /// Other items (broadcasts, updates) received so far.
    others: usize,
    /// Application state entries received so far.
    states: usize,
    pub(super) deadline: Time,
    /// When it started, in starts: the oldest unproven stream goes first.
    order: u64,
    /// The digest exchange of a delta sync (not in a join's).
    delta: Option<Delta>,
    /// A message exchange's leg to send (see `messages.rs`).
    pub(super) message: Option<MessageLeg>,
    /// The application's own state, both ways (see `app_state.rs`).
    pub(super) app: AppLeg,
}

impl Session {
    /// A session this node opens with `peer`, sending first, full and
    /// without a message (the fields a caller sets otherwise are its own).
    fn opening(peer: SocketAddr, peer_tag: To, deadline: Time) -> Self {
        Session {
            active: true,
            generation: 0,
            peer,
            peer_tag,
            opener: true,
            join: false,
            status: SyncStatus::Send,
            cursor: 0,
            broadcast_cursor: 0,
            state_cursor: 0,
            chunk: 0,
            expected_chunk: 0,
            records: 0,
            others: 0,
            states: 0,
            deadline,
            order: 0,
            delta: None,
            message: None,
            app: AppLeg::default(),
        }
    }
}

#[derive(Debug)]
pub(crate) struct Syncs {
    sessions: Vec<Session>,
    pending: VecDeque<SyncId>,
    /// A join sync that failed (refused, broken, timed out), to be tried
    /// again with the same seed: when, with whom, and attempts left.
    join_retry: Option<(Time, SocketAddr, u32)>,
    /// Attempts left for the current join's sync.
    join_attempts: u32,
    /// When this node last synced because it was declared faulty.
    last_resync: Option<Time>,
    /// After a join: the delay before the next follow-up sync, doubling
    /// until it reaches the sync interval.
    follow_up: Option<core::time::Duration>,
    /// After a join: the seed, whom the first follow-up sync goes to.
    follow_up_seed: Option<(SocketAddr, To)>,
    /// Sessions started so far.
    started: u64,
}

impl Syncs {
    pub(crate) fn new(capacity: usize) -> Self {
        Syncs {
            sessions: Vec::with_capacity(2 * capacity),
            pending: VecDeque::with_capacity(2 * capacity),
            join_retry: None,
            join_attempts: 0,
            last_resync: None,
            follow_up: None,
            follow_up_seed: None,
            started: 0,
        }
    }

    pub(crate) fn next_deadline(&self) -> Option<Time> {
        let sessions = self.sessions.iter().filter(|s| s.active).map(|s| s.deadline).min();
        [sessions, self.join_retry.map(|(at, _, _)| at)].into_iter().flatten().min()
    }

    /// Sessions running that this node opened (`true`) or accepted.
    pub(crate) fn running_on(&self, opened: bool) -> usize {
        self.sessions.iter().filter(|s| s.active && s.opener == opened).count()
    }

    fn get(&self, id: SyncId) -> Option<&Session> {
        self.sessions.get(id.index as usize).filter(|s| s.active && s.generation == id.generation)
    }

    fn get_mut(&mut self, id: SyncId) -> Option<&mut Session> {
        self.sessions.get_mut(id.index as usize).filter(|s| s.active && s.generation == id.generation)
    }

    pub(super) fn session(&self, id: SyncId) -> Option<&Session> {
        self.get(id)
    }

    pub(super) fn session_mut(&mut self, id: SyncId) -> Option<&mut Session> {
        self.get_mut(id)
    }

    /// Starts a session if its pool has room. Syncs this node opens and
    /// syncs it accepts are counted apart, so accepted streams never stop
    /// this node's own anti-entropy. Among accepted ones, a stream that has
    /// not yet sent a valid frame is *unproven*: unproven streams from one
    /// network (an IPv4 address, an IPv6 /64) may fill all of the pool but
    /// one slot, and when the pool is full the oldest unproven stream makes
    /// room. A peer proves itself within a round trip, so a flood of silent
    /// connections from one network only ever displaces other silent
    /// connections, and members sharing a host can still sync in bursts.
    fn start(&mut self, limit: usize, session: Session) -> Option<SyncId> {
        if !session.opener {
            let unproven = |s: &&Session| s.active && !s.opener && s.expected_chunk == 0;
            let per_network = limit.saturating_sub(1).max(1);
            let near = |s: &&Session| same_network(s.peer.ip(), session.peer.ip());
            if self.sessions.iter().filter(unproven).filter(near).count() >= per_network {
                return None;
            }
            let accepted = self.sessions.iter().filter(|s| s.active && !s.opener).count();
            if accepted >= limit {
                let oldest = self.sessions.iter_mut().filter(|s| s.active && !s.opener && s.expected_chunk == 0);
                let victim = oldest.min_by_key(|s| s.order)?;
                victim.active = false;
            }
        } else if self.sessions.iter().filter(|s| s.active && s.opener).count() >= limit {
            return None;
        }
        let index = match self.sessions.iter().position(|s| !s.active) {
            Some(index) => index,
            None if self.sessions.len() < 2 * limit => {
                self.sessions.push(Session { active: false, ..session.clone() });
                self.sessions.len() - 1
            }
            None => return None,
        };
        self.started += 1;
        let order = self.started;
        let slot = self.sessions.get_mut(index)?;
        let generation = slot.generation.wrapping_add(1);
        *slot = Session { active: true, generation, order, ..session };
        Some(SyncId { index: crate::convert::to_u32(index), generation })
    }
}

/// Whether two addresses belong to one network as the sync pool counts
/// them: the same IPv4 address (IPv4-mapped IPv6 included), or the same
/// IPv6 /64 (what one host can draw addresses from).
fn same_network(a: std::net::IpAddr, b: std::net::IpAddr) -> bool {
    crate::limits::network(a) == crate::limits::network(b)
}

impl Node {
    /// How long a sync may take before it is abandoned.
    pub(super) fn sync_deadline(&self, now: Time) -> Time {
        now + (self.config.probe.period * 20).max(core::time::Duration::from_secs(10))
    }

    /// How long an accepted stream may take to deliver its first valid
    /// frame (the opener sends it as soon as it is connected): a connection
    /// that says nothing holds its slot no longer than this.
    fn first_frame_deadline(&self, now: Time) -> Time {
        now + (self.config.probe.timeout * 2).max(core::time::Duration::from_secs(2))
    }

    /// Opens a sync with `peer`, whose frames are sealed for `peer_tag`
    /// (`None` when too many are running).
    pub(super) fn open_sync(&mut self, now: Time, peer: SocketAddr, join: bool, peer_tag: To) -> Option<SyncId> {
        // A periodic sync starts with a digest of the table; a join's
        // ships it whole (the joiner knows nothing yet).
        let delta = (!join && self.config.sync.delta)
            .then(|| Delta::opening(self.rng.next_u64(), digest::buckets_for(self.members.len())));
        let session = Session { join, delta, ..Session::opening(peer, peer_tag, self.sync_deadline(now)) };
        let id = self.syncs.start(self.config.sync.max_concurrent, session)?;
        self.syncs.pending.push_back(id);
        Some(id)
    }

    /// Opens a message exchange with `peer` for the message in pool slot
    /// `slot` (`None` when too many syncs are running).
    pub(super) fn open_message_sync(&mut self, now: Time, peer: SocketAddr, peer_tag: To, slot: u16) -> Option<SyncId> {
        let message = Some(MessageLeg::Send(slot));
        let session = Session { message, ..Session::opening(peer, peer_tag, self.sync_deadline(now)) };
        let id = self.syncs.start(self.config.sync.max_concurrent, session)?;
        self.syncs.pending.push_back(id);
        Some(id)
    }

    /// A session ends: a message it had not sent gives its slot back.
    fn end_session(pending: &mut super::messages::Pending, s: &mut Session) {
        s.active = false;
        if let Some(MessageLeg::Send(slot)) = s.message.take() {
            pending.release(slot);
        }
    }

    /// A member this node does not know (or holds faulty or gone) pinged
    /// it: an alive update never arrived (dissemination by piggybacking can
    /// miss a member, and without periodic syncs nothing would repair that). Once such pings have kept
    /// coming for as long as an update takes to be disseminated
    /// (`λ·⌈log10(N + 1)⌉` periods: long enough for a fresh joiner's news to
    /// arrive first), this node syncs with the latest stranger; at most one
    /// such sync per that time.
    pub(super) fn pinged_by_stranger(&mut self, now: Time, from: Sender<'_>) {
        if self.join.is_some() || self.leave.is_some() {
            return;
        }
        let patience = self.config.probe.period * u32::try_from(self.retransmit_limit()).unwrap_or(u32::MAX);
        match self.stranger_since {
            None => self.stranger_since = Some(now),
            Some(since) if now >= since + patience => {
                if self.open_sync(now, from.addr, false, self.tag(from.name)).is_some() {
                    self.stranger_since = None;
                    self.stats.stranger_syncs += 1;
                }
            }
            Some(_) => {}
        }
    }

    /// This node was declared faulty (see `heard_about_self`): it syncs with
    /// the member that said so, unless it did such a sync within the last
    /// sync interval (or periodic syncs are off).
    pub(super) fn resync(&mut self, now: Time, peer: Option<Sender<'_>>) {
        let Some(peer) = peer else { return };
        // Only with a member at its own address: a forged source address
        // never makes this node connect anywhere.
        let at_home = self
            .members
            .find(peer.name)
            .and_then(|s| self.members.get(s))
            .is_some_and(|e| e.addrs.contains(&peer.addr));
        if !at_home {
            return;
        }
        if self.config.sync.interval.is_zero() || self.join.is_some() {
            return;
        }
        if self.syncs.last_resync.is_some_and(|at| now < at + self.config.sync.interval) {
            return;
        }
        if self.open_sync(now, peer.addr, false, self.tag(peer.name)).is_some() {
            self.syncs.last_resync = Some(now);
            self.stats.resyncs += 1;
        }
    }

    /// Periodic syncs (every scaled `sync.interval`, give or take a tenth),
    /// retried join syncs, and abandoned sessions.
    pub(super) fn sync_timer(&mut self, now: Time) {
        let mut abandoned_join = None;
        for s in self.syncs.sessions.iter_mut().filter(|s| s.active && now >= s.deadline) {
            Self::end_session(&mut self.pending, s);
            if s.opener && s.join {
                abandoned_join = Some(s.peer);
            }
        }
        if let Some(peer) = abandoned_join {
            self.retry_join_sync(peer);
        }
        if let Some((at, peer, left)) = self.syncs.join_retry
            && now >= at
        {
            // No room for it now (or leaving): later, never in a loop.
            let retry = self.leave.is_none() && self.open_sync(now, peer, true, None).is_none();
            self.syncs.join_retry = retry.then(|| (now + self.config.sync.join_retry_interval, peer, left));
        }
        if self.leave.is_some() || !self.timers.expired(Timer::Sync, now) {
            return;
        }
        // With a tenth of randomness, so that syncs do not fall into step;
        // sooner while a join's follow-ups last.
        let jitter = 0.9 + 0.2 * self.rng.unit();
        let period = self.sync_period();
        let next = match self.syncs.follow_up.take() {
            Some(delay) if delay < period => {
                self.syncs.follow_up = Some(delay.saturating_mul(2));
                delay
            }
            _ => period.mul_f64(jitter),
        };
        self.timers.set(Timer::Sync, now + next);
        // Anti-entropy with a random member: each side's view repairs the
        // other's (a verdict only one side holds becomes a suspicion the
        // accused refutes).
        // (A join's first follow-up goes to its seed.)
        let mut picked = [0u32; 16];
        let found = self.random_alive(1, LOCAL, &mut picked);
        let alive = picked.get(..found).and_then(|p| p.first()).and_then(|&slot| self.members.get(slot));
        let peer = self.syncs.follow_up_seed.take();
        if let Some((addr, tag)) = peer.or_else(|| alive.and_then(|e| Some((*e.addrs.first()?, self.tag(&e.name))))) {
            self.open_sync(now, addr, false, tag);
        }
        // And, while it holds members faulty, with one of them.
        if let Some((addr, tag)) = self.random_faulty() {
            self.open_sync(now, addr, false, tag);
        }
    }

    /// The address of the next member held faulty (see
    /// [`next_faulty_slot`](Node::next_faulty_slot)): every sync interval one
    /// gets a sync, so that the sides of a healed partition find each other
    /// (a member that is really down just refuses the connection).
    fn random_faulty(&mut self) -> Option<(SocketAddr, To)> {
        let slot = self.next_faulty_slot()?;
        self.members.get(slot).and_then(|e| Some((*e.addrs.first()?, self.tag(&e.name))))
    }

    /// The next member declared faulty and not yet reaped, taking the
    /// tombstones in turn (a few steps per call, so O(1)): reconnect pings
    /// and syncs reach every member held faulty within a bounded number of
    /// attempts, where random picks could keep missing one.
    pub(super) fn next_faulty_slot(&mut self) -> Option<u32> {
        let len = self.tombstones.len();
        if len == 0 {
            return None;
        }
        for _ in 0..8 {
            let at = self.tombstone_cursor % len;
            self.tombstone_cursor = at + 1;
            let (_, member) = self.tombstones.get(at)?;
            if self.members.resolve(*member).is_some_and(|e| e.state == State::Faulty) {
                return Some(member.slot);
            }
        }
        None
    }

    /// Opens an anti-entropy sync with the live member `name` now, as the
    /// periodic ones are (a delta sync unless `sync.delta` is off): for an
    /// application that knows a repair is due (a partition it healed, a
    /// member it restored) rather than waiting for the sync interval. The
    /// runtime connects it like any other (see [`poll_sync_open`](Node::poll_sync_open)).
    ///
    /// ```
    /// use swim_protocol::{CommandError, Config, Node, Time};
    /// let addrs = ["10.0.0.1:7946".parse().unwrap(), "10.0.0.2:7946".parse().unwrap()];
    /// let config = Config::lan();
    /// let mut a = Node::new(b"a", &addrs[..1], b"", config.clone(), Time::ZERO).unwrap();
    /// assert_eq!(a.sync_with(Time::ZERO, b"b"), Err(CommandError::UnknownMember));
    /// # let mut b = Node::new(b"b", &addrs[1..], b"", config, Time::ZERO).unwrap();
    /// # a.join(Time::ZERO, &addrs[1..]).unwrap();
    /// # let mut buf = vec![0u8; 1400];
    /// # let t = a.poll_transmit(Time::ZERO, &mut buf).unwrap();
    /// # b.handle_datagram(Time::ZERO, addrs[0], &mut buf[..t.len]).unwrap();
    /// # let t = b.poll_transmit(Time::ZERO, &mut buf).unwrap();
    /// # a.handle_datagram(Time::ZERO, addrs[1], &mut buf[..t.len]).unwrap();
    /// # while a.poll_sync_open().is_some() {}
    /// // Once a knows b (it joined through it):
    /// let id = a.sync_with(Time::ZERO, b"b").unwrap();
    /// assert_eq!(a.poll_sync_open().map(|o| (o.id, o.peer, o.join)), Some((id, addrs[1], false)));
    /// ```
    pub fn sync_with(&mut self, now: Time, name: &[u8]) -> Result<SyncId, CommandError> {
        let now = self.advance(now);
        if self.leave.is_some() {
            return Err(CommandError::Left);
        }
        let slot = self.members.find(name).filter(|&s| s != LOCAL).ok_or(CommandError::UnknownMember)?;
        let entry = self.members.get(slot).filter(|e| e.state.is_live()).ok_or(CommandError::UnknownMember)?;
        let addr = *entry.addrs.first().ok_or(CommandError::UnknownMember)?;
        let tag = self.tag(name);
        self.open_sync(now, addr, false, tag).ok_or(CommandError::TooManySyncs)
    }

    /// A sync the node wants opened, if any.
    pub fn poll_sync_open(&mut self) -> Option<SyncOpen> {
        while let Some(id) = self.syncs.pending.pop_front() {
            if let Some(s) = self.syncs.get(id) {
                return Some(SyncOpen { id, peer: s.peer, join: s.join });
            }
        }
        None
    }

    /// A peer opened a sync stream to this node. Refused when as many syncs
    /// as configured are running, or when the peer's address tries too often
    /// (`security.sync_rate`).
    pub fn accept_sync(&mut self, now: Time, peer: SocketAddr) -> Result<SyncId, CommandError> {
        let now = self.advance(now);
        if !crate::config::allowed(&self.config.security.allowed_networks, peer.ip()) {
            self.reject(&crate::InputError::NotAllowed(peer));
            return Err(CommandError::NotAllowed);
        }
        if !self.sync_limiter.allow(now, peer.ip()) {
            self.stats.rate_limited += 1;
            return Err(CommandError::RateLimited);
        }
        let session = Session {
            opener: false,
            status: SyncStatus::Receive,
            ..Session::opening(peer, None, self.first_frame_deadline(now))
        };
        let started = self.syncs.start(self.config.sync.max_concurrent, session);
        if started.is_none() {
            self.stats.syncs_refused += 1;
        }
        started.ok_or(CommandError::TooManySyncs)
    }

    /// What the exchange needs next (`None` if it is unknown or was closed).
    pub fn sync_status(&self, id: SyncId) -> Option<SyncStatus> {
        self.syncs.get(id).map(|s| s.status)
    }

    /// The anti-entropy interval for the cluster's size: it grows with the
    /// cluster, `⌈log2(N / 32)⌉ + 1` times the base beyond 32 members.
    fn sync_period(&self) -> core::time::Duration {
        let n = self.members.live().max(1) as f64;
        let scale = if n <= 32.0 { 1.0 } else { (n / 32.0).log2().ceil() + 1.0 };
        self.config.sync.interval.mul_f64(scale)
    }

    /// Ends an exchange (finished or failed) and frees its slot.
    pub fn close_sync(&mut self, id: SyncId) {
        let Some(s) = self.syncs.get_mut(id) else { return };
        Self::end_session(&mut self.pending, s);
        let (failed_join, peer) = (s.opener && s.join && s.status != SyncStatus::Done, s.peer);
        if failed_join {
            self.retry_join_sync(peer);
        }
    }

    /// Opens the sync that completes a join through `seed`.
    pub(super) fn open_join_sync(&mut self, now: Time, seed: SocketAddr) {
        self.syncs.join_attempts = self.config.sync.join_attempts.saturating_sub(1);
        self.syncs.join_retry = None;
        if self.open_sync(now, seed, true, None).is_none() {
            self.retry_join_sync(seed);
        }
    }

    /// A join's sync with `seed` (sealed for `tag`) is done: the next
    /// periodic sync comes one gossip round later, with the seed (every
    /// member that joined through it since is in its table; a busy seed may
    /// refuse it), then λ gossip rounds after the join
    /// (`dissemination.retransmit_mult`) with a random member, then after
    /// twice that delay, four times, … until the sync interval (probe
    /// periods stand for gossip rounds where there are none). Until the
    /// cluster knew the joiner, nobody gossiped to it, so news that spread
    /// in that window (members that joined just after it, in a burst of
    /// joins) passed it by; these syncs bring them, where waiting for a
    /// probe from each of them would take up to N periods. (They are delta
    /// syncs: between tables that agree, a digest of about a byte per
    /// member.)
    fn follow_up_join(&mut self, now: Time, seed: SocketAddr, tag: To) {
        if self.config.sync.interval.is_zero() {
            return;
        }
        let round = match self.config.dissemination.gossip_interval {
            core::time::Duration::ZERO => self.config.probe.period,
            gossip => gossip,
        };
        let soon = now + round;
        if self.timers.get(Timer::Sync).is_none_or(|at| at > soon) {
            self.timers.set(Timer::Sync, soon);
            let after = self.config.dissemination.retransmit_mult.saturating_sub(1).max(1);
            self.syncs.follow_up = Some(round.saturating_mul(after));
            self.syncs.follow_up_seed = Some((seed, tag));
        }
    }

    /// A join's sync did not complete: without it the joiner knows only what
    /// gossip told it, so it tries again after `sync.join_retry_interval`, up to
    /// `sync.join_attempts` times in all.
    fn retry_join_sync(&mut self, peer: SocketAddr) {
        let left = self.syncs.join_attempts;
        if left == 0 || self.leave.is_some() {
            return;
        }
        self.syncs.join_attempts = left - 1;
        self.syncs.join_retry = Some((self.now + self.config.sync.join_retry_interval, peer, left - 1));
    }
}
