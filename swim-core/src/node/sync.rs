//! Sync (push-pull anti-entropy): full state exchanged with one member over
//! a stream, in bounded frames.
//!
//! The opener sends its whole table in chunks (the last flagged `LAST`);
//! the other side merges each chunk as it arrives, then answers with its own
//! table the same way (flagged `REPLY`). Each frame is at most
//! `sync.frame_budget` bytes, and producing or merging one frame is the only
//! work a call does, so no call is O(N).
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

use swim_wire::{Header, MemberRecord, MemberState, Message, PacketWriter, Sync, SyncFlags, frame};

use super::Node;
use super::membership::{AliveUpdate, Sender};
use super::seal::To;
use super::timers::Timer;
use crate::error::{CommandError, InputError};
use crate::members::{Entry, LOCAL, State};
use crate::time::Time;
use crate::version::Version;

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
struct Session {
    active: bool,
    generation: u32,
    peer: SocketAddr,
    /// Whom this node's frames are sealed for: the peer by name, or any
    /// receiver (a joiner's sync, to a seed it knows by address only). An
    /// accepting node learns it from the opener's first frame.
    peer_tag: To,
    opener: bool,
    join: bool,
    status: SyncStatus,
    /// Next table slot to send.
    cursor: u32,
    /// Next broadcast pool slot to send (after the table).
    broadcast_cursor: u32,
    chunk: u32,
    expected_chunk: u32,
    /// Member records received so far.
    records: usize,
    /// Other items (broadcasts, updates) received so far.
    others: usize,
    deadline: Time,
    /// When it started, in starts: the oldest unproven stream goes first.
    order: u64,
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
    fn sync_deadline(&self, now: Time) -> Time {
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
        let session = Session {
            active: true,
            generation: 0,
            peer,
            peer_tag,
            opener: true,
            join,
            status: SyncStatus::Send,
            cursor: 0,
            broadcast_cursor: 0,
            chunk: 0,
            expected_chunk: 0,
            records: 0,
            others: 0,
            deadline: self.sync_deadline(now),
            order: 0,
        };
        let id = self.syncs.start(self.config.sync.max_concurrent, session)?;
        self.syncs.pending.push_back(id);
        Some(id)
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
            s.active = false;
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
        // With a tenth of randomness, so that syncs do not fall into step.
        let jitter = 0.9 + 0.2 * self.rng.unit();
        self.timers.set(Timer::Sync, now + self.sync_period().mul_f64(jitter));
        // Anti-entropy with a random member: each side's view repairs the
        // other's (a verdict only one side holds becomes a suspicion the
        // accused refutes).
        let mut picked = [0u32; 16];
        let found = self.random_alive(1, LOCAL, &mut picked);
        let alive = picked.get(..found).and_then(|p| p.first()).and_then(|&slot| self.members.get(slot));
        if let Some((addr, tag)) = alive.and_then(|e| Some((*e.addrs.first()?, self.tag(&e.name)))) {
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
        if !self.sync_limiter.allow(now, peer.ip()) {
            self.stats.rate_limited += 1;
            return Err(CommandError::RateLimited);
        }
        let session = Session {
            active: true,
            generation: 0,
            peer,
            peer_tag: None,
            opener: false,
            join: false,
            status: SyncStatus::Receive,
            cursor: 0,
            broadcast_cursor: 0,
            chunk: 0,
            expected_chunk: 0,
            records: 0,
            others: 0,
            deadline: self.first_frame_deadline(now),
            order: 0,
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
        s.active = false;
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

    /// A join's sync is done: the next periodic sync comes as soon as the
    /// joiner's alive has had time to spread (`λ·⌈log10(N + 1)⌉` gossip
    /// rounds), with a random member. Until the cluster knew it, nobody
    /// gossiped to the joiner, so news that spread in that window (members
    /// that joined just after it, in a burst of joins) passed it by; this
    /// sync brings them, where waiting for a probe from each of them would
    /// take up to N periods.
    fn follow_up_join(&mut self, now: Time) {
        if self.config.sync.interval.is_zero() {
            return;
        }
        let rounds = u32::try_from(self.retransmit_limit()).unwrap_or(u32::MAX);
        let soon = now + self.config.dissemination.gossip_interval.saturating_mul(rounds);
        if self.timers.get(Timer::Sync).is_none_or(|at| at > soon) {
            self.timers.set(Timer::Sync, soon);
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

    /// Writes this node's next frame (length prefix included) into `buf`,
    /// which should hold `sync.frame_budget` bytes; `None` when it is not
    /// this side's turn.
    pub fn poll_sync_frame(&mut self, id: SyncId, buf: &mut [u8]) -> Option<usize> {
        let s = self.syncs.get(id)?;
        if s.status != SyncStatus::Send {
            return None;
        }
        let (cursor, broadcast_cursor, chunk, opener, join) = (s.cursor, s.broadcast_cursor, s.chunk, s.opener, s.join);
        let peer_tag = s.peer_tag;
        let budget = buf.len().min(self.config.sync.frame_budget);
        let plain_budget = frame::PREFIX_LEN + self.plain_budget(budget.saturating_sub(frame::PREFIX_LEN));
        let local = self.local_entry()?;
        let header = self.header();
        let total = u32::try_from(self.members.len()).unwrap_or(u32::MAX);
        let sync = |flags| Message::Sync(Sync { flags: SyncFlags(flags), source: &local.name, total, chunk });

        // How many records fit, so the LAST flag is known before writing.
        // A record larger than a frame cannot happen with a valid config; it
        // is skipped rather than stalling the exchange.
        let mut used = frame::PREFIX_LEN + header.encoded_len() + sync(0).encoded_len();
        let slots = crate::convert::to_u32(self.members.slots());
        let mut end = cursor;
        let mut full = false;
        while end < slots {
            if let Some(e) = self.members.get(end) {
                let len = Message::MemberRecord(self.record(e)).encoded_len();
                if used + len > plain_budget {
                    end += u32::from(end == cursor);
                    full = true;
                    break;
                }
                used += len;
            }
            end += 1;
        }
        // Then the broadcasts held (none in a join sync).
        let pool = if join { 0 } else { self.broadcasts.capacity() };
        let mut broadcast_end = broadcast_cursor;
        while !full && end >= slots && broadcast_end < pool {
            if let Some(b) = self.broadcasts.get(broadcast_end).and_then(|b| self.user_broadcast(b)) {
                let len = Message::UserBroadcast(b).encoded_len();
                if used + len > plain_budget {
                    broadcast_end += u32::from(broadcast_end == broadcast_cursor && end == cursor);
                    break;
                }
                used += len;
            }
            broadcast_end += 1;
        }
        let last = end >= slots && broadcast_end >= pool;
        let flags = if join { SyncFlags::JOIN } else { 0 }
            | if opener { 0 } else { SyncFlags::REPLY }
            | if last { SyncFlags::LAST } else { 0 };

        let (prefix, body) = buf.split_at_mut_checked(frame::PREFIX_LEN)?;
        let body = body.get_mut(..budget.saturating_sub(frame::PREFIX_LEN))?;
        let mut w = PacketWriter::new(body, &header, plain_budget.saturating_sub(frame::PREFIX_LEN)).ok()?;
        w.push(&sync(flags)).ok()?;
        // A push fails only for the one item too large for any frame (the
        // ranges above hold what fits): it is left out, and the writer is
        // unchanged by the failure.
        for slot in cursor..end {
            if let Some(e) = self.members.get(slot) {
                let _ = w.push(&Message::MemberRecord(self.record(e)));
            }
        }
        for index in broadcast_cursor..broadcast_end {
            if let Some(b) = self.broadcasts.get(index).and_then(|b| self.user_broadcast(b)) {
                let _ = w.push(&Message::UserBroadcast(b));
            }
        }
        let len = w.finish().ok()?;
        let len = self.seal(body, len, peer_tag)?;
        frame::write_prefix(prefix, len).ok()?;

        let s = self.syncs.get_mut(id)?;
        s.cursor = end;
        s.broadcast_cursor = broadcast_end;
        s.chunk += 1;
        if last {
            s.status = if opener { SyncStatus::Receive } else { SyncStatus::Done };
            if !opener {
                self.stats.syncs_completed += 1;
            }
        }
        Some(frame::PREFIX_LEN + len)
    }

    /// Merges a frame received on the exchange's stream (without its length
    /// prefix; an encrypted frame is opened in place). On error nothing was
    /// merged.
    pub fn handle_sync_frame(&mut self, now: Time, id: SyncId, data: &mut [u8]) -> Result<SyncStatus, InputError> {
        self.handle_sync_frame_proven(now, id, data, |_| true)
    }

    /// As [`handle_sync_frame`](Node::handle_sync_frame), on a stream whose
    /// transport proves who the peer is: `peer_is(name)` says whether the
    /// peer is the member named `name`; a frame that gives another name is
    /// refused (`InputError::NotThePeer`).
    pub fn handle_sync_frame_proven(
        &mut self,
        now: Time,
        id: SyncId,
        data: &mut [u8],
        peer_is: impl FnOnce(&[u8]) -> bool,
    ) -> Result<SyncStatus, InputError> {
        self.advance(now);
        let result = self.merge_frame(id, data, peer_is);
        if let Err(e) = &result {
            self.reject(e);
        }
        result
    }

    fn merge_frame(
        &mut self,
        id: SyncId,
        data: &mut [u8],
        peer_is: impl FnOnce(&[u8]) -> bool,
    ) -> Result<SyncStatus, InputError> {
        let s = self.syncs.get(id).ok_or(InputError::UnknownSync)?;
        let (opener, expected_chunk, records, others) = (s.opener, s.expected_chunk, s.records, s.others);
        let peer = s.peer;
        // A joiner's first sync teaches it what the cluster already knows.
        let joining = opener && s.join;
        if s.status != SyncStatus::Receive {
            return Err(InputError::SyncOutOfOrder);
        }
        let unsealed = self.unseal(data)?;
        let packet = self.check(data.get(..unsealed.len).unwrap_or_default())?;
        let Message::Sync(sync) = packet.primary() else {
            return Err(InputError::Unexpected(packet.primary().kind()));
        };
        if sync.flags.contains(SyncFlags::REPLY) != opener || sync.chunk != expected_chunk {
            return Err(InputError::SyncOutOfOrder);
        }
        // Only a joiner does not know whom it syncs with (a seed, by
        // address); every other frame is sealed for this node by name.
        if unsealed.any_receiver && (opener || !sync.flags.contains(SyncFlags::JOIN)) {
            return Err(InputError::AnyReceiver(swim_wire::Kind::Sync));
        }
        if !peer_is(sync.source) {
            return Err(InputError::NotThePeer);
        }
        // A peer cannot make this node take in more than a cluster's worth
        // of records, nor more broadcasts and updates than it can hold:
        // every item counts.
        let incoming = packet.piggyback().filter(|m| m.kind() == swim_wire::Kind::MemberRecord).count();
        let other_items = packet.piggyback().count() - incoming;
        let limit = self.config.limits.max_members.saturating_add(64);
        let other_limit = self.config.dissemination.broadcast_capacity.saturating_add(64);
        if records.saturating_add(incoming) > limit || others.saturating_add(other_items) > other_limit {
            return Err(InputError::SyncTooLarge);
        }
        self.accepted(unsealed.nonce);
        let now = self.now;
        for message in packet.piggyback() {
            match message {
                Message::MemberRecord(r) => self.merge_record(now, &r, sync.source, !joining, peer),
                Message::UserBroadcast(b) if !joining => self.on_broadcast(now, &b, false),
                Message::UserBroadcast(_) => {}
                other => self.apply_update(now, &other, None),
            }
        }
        let last = sync.flags.contains(SyncFlags::LAST);
        let deadline = self.sync_deadline(now);
        let peer_tag = self.tag(sync.source);
        let s = self.syncs.get_mut(id).ok_or(InputError::UnknownSync)?;
        let proved = !opener && s.expected_chunk == 0;
        if proved {
            // The peer proved itself: the exchange gets its full time, and
            // the replies are sealed for it.
            s.deadline = deadline;
            s.peer_tag = peer_tag;
        }
        s.expected_chunk += 1;
        s.records += incoming;
        s.others += other_items;
        if last {
            if opener {
                s.status = SyncStatus::Done;
                self.stats.syncs_completed += 1;
            } else {
                s.status = SyncStatus::Send;
                s.join = sync.flags.contains(SyncFlags::JOIN);
            }
        }
        let (status, peer, joined) = (s.status, s.peer, opener && s.join && last);
        if joined {
            // The joiner now knows the cluster: its own alive starts over,
            // so that its transmissions reach random members of the whole
            // table rather than the few it knew while the sync ran.
            self.disseminate(now, LOCAL);
            self.follow_up_join(now);
        }
        if proved {
            // Only streams that never prove themselves count against their
            // source's rate: a host running many members is not throttled.
            self.sync_limiter.refund(peer.ip());
        }
        Ok(status)
    }

    fn merge_record(&mut self, now: Time, r: &MemberRecord<'_>, source: &[u8], spread_new: bool, peer: SocketAddr) {
        let m = r.member;
        // Where names are proven, the peer's record of itself is first hand.
        let own =
            (self.config.security.names_proven && m.name == source).then_some(Sender { addr: peer, name: source });
        let version = Version::new(m.generation, m.incarnation);
        // The accuser the record names; a peer that names none is its own
        // witness.
        let by = if r.by.is_empty() { source } else { r.by };
        match r.state {
            MemberState::Alive => {
                let update = AliveUpdate { name: m.name, version, addrs: m.addrs, meta: m.meta };
                self.apply_alive_learned(now, &update, spread_new, own);
            }
            MemberState::Suspect => {
                if self.members.find(m.name).is_none() {
                    // A member this node did not know: it is live, if suspect.
                    let update = AliveUpdate { name: m.name, version, addrs: m.addrs, meta: m.meta };
                    self.apply_alive_learned(now, &update, spread_new, None);
                }
                self.apply_suspect_state(now, m.name, version, by);
            }
            MemberState::Faulty => self.apply_suspect_state(now, m.name, version, by),
            MemberState::Left => self.apply_left(now, m.name, version),
        }
    }

    /// A member as a sync record (suspicions and verdicts name the accuser).
    fn record<'a>(&'a self, e: &'a Entry) -> MemberRecord<'a> {
        let by = match e.state {
            State::Suspect | State::Faulty => self.accuser_name(e),
            State::Alive | State::Left => &[],
        };
        MemberRecord { state: e.state.to_wire(), member: super::transmit::alive(e), by }
    }

    /// The header of this node's packets.
    pub(super) fn header(&self) -> Header<'_> {
        Header {
            version: self.config.protocol_version,
            encrypted: false,
            key_id: None,
            label: &self.config.label,
            any_receiver: false,
        }
    }
}
