//! A sync exchange's frames: what each side writes in its turn, and how a
//! received frame is checked and merged.
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
//! Then the member state entries, whole, and last the application's own
//! state (see `app_state.rs`), in pieces of the room left. That is the
//! order in which a frame's room is planned (`plan_frame`, which counts only
//! sizes); inside a frame, the state entries are written before the
//! broadcasts.

use std::net::SocketAddr;

use swim_wire::{
    AppStateChunk, Header, Kind, MemberRecord, MemberState, Message, PacketWriter, Sync, SyncDiff, SyncDigest,
    SyncFlags, frame,
};

use super::delta::{BucketWalk, Delta, Leg};
use super::{Node, SyncId, SyncStatus};
use crate::broadcasts::BroadcastKind;
use crate::digest::{BucketSet, MAX_BUCKETS};
use crate::error::InputError;
use crate::members::{Entry, LOCAL, Members, State};
use crate::node::membership::{AliveUpdate, Sender};
use crate::time::Time;
use crate::version::Version;

/// Where a side's records stand: the next table slot (a full exchange), or
/// the walk over the differing buckets (a delta one).
#[derive(Debug, Clone, Copy)]
enum Records {
    Slots(u32),
    Buckets(BucketWalk),
}

impl Records {
    /// The next record to send, moving on.
    fn next(&mut self, members: &Members, differ: Option<&BucketSet>) -> Option<u32> {
        match self {
            Records::Slots(cursor) => {
                let slots = crate::convert::to_u32(members.slots());
                while *cursor < slots {
                    let slot = *cursor;
                    *cursor += 1;
                    if members.get(slot).is_some() {
                        return Some(slot);
                    }
                }
                None
            }
            Records::Buckets(walk) => walk.next(differ?, members),
        }
    }
}

/// What the next frame holds, worked out before it is written (the `LAST`
/// flag opens the frame).
struct Plan {
    /// Digest values or diff bytes.
    runs: u32,
    /// Records: how many steps of the walk (an oversized record is a step
    /// that writes nothing), and where the walk ends.
    steps: u32,
    records: Option<Records>,
    /// Broadcast pool slots up to which this frame goes.
    broadcast_end: u32,
    /// State entries up to which this frame goes.
    state_end: u32,
    /// Bytes of the application's own state up to which this frame goes.
    app_end: u32,
    last: bool,
}

/// The records walk of a side: the table's slots, or (a delta exchange)
/// the differing buckets.
fn records_cursor(cursor: u32, delta: Option<Delta>) -> Records {
    match delta {
        Some(d) => Records::Buckets(d.walk),
        None => Records::Slots(cursor),
    }
}

impl Node {
    /// Writes this node's next frame (length prefix included) into `buf`,
    /// which should hold `sync.frame_budget` bytes; `None` when it is not
    /// this side's turn.
    pub fn poll_sync_frame(&mut self, id: SyncId, buf: &mut [u8]) -> Option<usize> {
        let s = self.syncs.get(id)?;
        if s.status != SyncStatus::Send {
            return None;
        }
        if let Some(leg) = s.message {
            return self.poll_message_frame(id, leg, buf);
        }
        let (opener, join, peer_tag, chunk, delta) = (s.opener, s.join, s.peer_tag, s.chunk, s.delta);
        // The application's own state is asked for once, as this side
        // starts sending its records.
        if s.app.out.is_none() && delta.is_none_or(|d| d.leg != Leg::Digest) {
            let (len, oversized) = self.app.fetch(id.index as usize, join, self.config.limits.max_app_state);
            self.stats.app_state_oversized += u64::from(oversized);
            self.syncs.get_mut(id)?.app.out = Some(len);
        }
        let budget = buf.len().min(self.config.sync.frame_budget);
        let plain_budget = frame::PREFIX_LEN + self.plain_budget(budget.saturating_sub(frame::PREFIX_LEN));
        let mut plan = self.plan_frame(id, plain_budget)?;
        let local = self.local_entry()?;
        let header = self.header();
        let total = u32::try_from(self.members.len()).unwrap_or(u32::MAX);
        let flags = if join { SyncFlags::JOIN } else { 0 }
            | if opener { 0 } else { SyncFlags::REPLY }
            | if plan.last { SyncFlags::LAST } else { 0 }
            | if delta.is_some() { SyncFlags::DELTA } else { 0 };
        let sync = Message::Sync(Sync { flags: SyncFlags(flags), source: &local.name, total, chunk });

        let (prefix, body) = buf.split_at_mut_checked(frame::PREFIX_LEN)?;
        let body = body.get_mut(..budget.saturating_sub(frame::PREFIX_LEN))?;
        let mut w = PacketWriter::new(body, &header, plain_budget.saturating_sub(frame::PREFIX_LEN)).ok()?;
        w.push(&sync).ok()?;
        if let Some(d) = delta.filter(|_| plan.runs > 0) {
            let mut scratch = [0u8; 4 * MAX_BUCKETS as usize];
            let first = d.sent;
            let message = if d.leg == Leg::Digest {
                let values = d.digest_values(&self.members, plan.runs, &mut scratch);
                Message::SyncDigest(SyncDigest { key: d.key, buckets: d.buckets, first, values })
            } else {
                let bits = d.diff_bits(plan.runs, &mut scratch);
                Message::SyncDiff(SyncDiff { buckets: d.buckets, first: first * 8, bits })
            };
            w.push(&message).ok()?;
        }
        // A push fails only for the one record too large for any frame (the
        // plan holds what fits): it is left out, and the writer is unchanged
        // by the failure.
        let s = self.syncs.get(id)?;
        let mut records = records_cursor(s.cursor, s.delta);
        let differ = s.delta.as_ref().map(|d| &d.differ);
        for _ in 0..plan.steps {
            if let Some(e) = records.next(&self.members, differ).and_then(|slot| self.members.get(slot)) {
                let _ = w.push(&Message::MemberRecord(self.record(e)));
            }
        }
        for index in s.state_cursor..plan.state_end {
            if let Some(message) = self.state_message(index) {
                let _ = w.push(&message);
            }
        }
        for index in s.broadcast_cursor..plan.broadcast_end {
            let pooled = self.broadcasts.get(index).filter(|b| b.kind != BroadcastKind::State);
            if let Some(message) = pooled.and_then(|b| self.broadcast_message(b)) {
                let _ = w.push(&message);
            }
        }
        if plan.app_end > s.app.sent {
            let bytes = self.app.out(id.index as usize, s.app.sent, plan.app_end);
            let total = s.app.out.unwrap_or(0);
            // The plan made room for it (a piece is at most
            // `AppStateChunk::MAX_PIECE`); were it refused, the piece waits
            // for the next frame rather than being counted as sent.
            let pushed = w.push(&Message::AppState(AppStateChunk { total, offset: s.app.sent, bytes }));
            debug_assert!(pushed.is_ok(), "the plan makes room for the piece");
            if pushed.is_err() {
                (plan.app_end, plan.last) = (s.app.sent, false);
            }
        }
        let len = w.finish().ok()?;
        let len = self.seal(body, len, peer_tag)?;
        frame::write_prefix(prefix, len).ok()?;

        let s = self.syncs.get_mut(id)?;
        match plan.records {
            Some(Records::Slots(cursor)) => s.cursor = cursor,
            Some(Records::Buckets(walked)) => {
                if let Some(d) = s.delta.as_mut() {
                    d.walk = walked;
                }
            }
            None => {}
        }
        if let Some(d) = s.delta.as_mut() {
            d.sent += plan.runs;
        }
        s.broadcast_cursor = plan.broadcast_end;
        s.state_cursor = plan.state_end;
        s.app.sent = plan.app_end;
        s.chunk += 1;
        if plan.last {
            let completed = match s.delta.as_mut() {
                // The reply comes next (to the digest, or to the reply).
                Some(d) if d.leg != Leg::Records => {
                    d.leg = if d.leg == Leg::Digest { Leg::Reply } else { Leg::Records };
                    d.received = 0;
                    s.status = SyncStatus::Receive;
                    false
                }
                Some(_) => true,
                None if opener => {
                    s.status = SyncStatus::Receive;
                    false
                }
                None => true,
            };
            if completed {
                s.status = SyncStatus::Done;
                self.stats.syncs_completed += 1;
            }
        }
        Some(frame::PREFIX_LEN + len)
    }

    /// What the exchange's next frame holds within `plain_budget` bytes.
    fn plan_frame(&self, id: SyncId, plain_budget: usize) -> Option<Plan> {
        let s = self.syncs.get(id)?;
        let local = self.local_entry()?;
        let sync = Message::Sync(Sync { flags: SyncFlags(0), source: &local.name, total: 0, chunk: 0 });
        let mut used = frame::PREFIX_LEN + self.header().encoded_len() + sync.encoded_len();
        let mut plan = Plan {
            runs: 0,
            steps: 0,
            records: None,
            broadcast_end: s.broadcast_cursor,
            state_end: s.state_cursor,
            app_end: s.app.sent,
            last: false,
        };

        // The digest (the opener's first leg: nothing else) or the diff.
        if let Some(d) = s.delta.filter(|d| d.leg != Leg::Records) {
            plan.runs = d.fit(plain_budget.saturating_sub(used));
            if plan.runs == 0 && d.unsent() > 0 {
                return None; // a buffer too small for one value
            }
            if plan.runs > 0 {
                used += if d.leg == Leg::Digest { super::delta::DIGEST_ITEM } else { super::delta::DIFF_ITEM };
                used += plan.runs as usize * if d.leg == Leg::Digest { 4 } else { 1 };
            }
            let runs_done = plan.runs == d.unsent();
            if d.leg == Leg::Digest || !runs_done {
                plan.last = runs_done;
                return Some(plan);
            }
        }

        // Records: a record larger than a frame cannot happen with a valid
        // config; it is skipped (as the first of an empty frame) rather
        // than stalling the exchange.
        let mut records = records_cursor(s.cursor, s.delta);
        let differ = s.delta.as_ref().map(|d| &d.differ);
        let mut full = false;
        loop {
            let mut ahead = records;
            let Some(slot) = ahead.next(&self.members, differ) else { break };
            let len = self.members.get(slot).map_or(0, |e| Message::MemberRecord(self.record(e)).encoded_len());
            if used + len > plain_budget {
                if plan.steps == 0 && plan.runs == 0 {
                    (records, plan.steps) = (ahead, 1);
                }
                full = true;
                break;
            }
            used += len;
            records = ahead;
            plan.steps += 1;
        }
        plan.records = Some(records);

        // Then the broadcasts held (none in a join sync).
        let pool = if s.join { 0 } else { self.broadcasts.capacity() };
        let mut end = s.broadcast_cursor;
        while !full && end < pool {
            // State entries go with the store, below (not twice).
            let pooled = self.broadcasts.get(end).filter(|b| b.kind != BroadcastKind::State);
            if let Some(message) = pooled.and_then(|b| self.broadcast_message(b)) {
                let len = message.encoded_len();
                if used + len > plain_budget {
                    let alone = end == s.broadcast_cursor && plan.steps == 0 && plan.runs == 0;
                    end += u32::from(alone);
                    full = true;
                    break;
                }
                used += len;
            }
            end += 1;
        }
        plan.broadcast_end = end;

        // Then the application state (whole, every sync).
        let entries = crate::convert::to_u32(self.state.len());
        let mut state_end = s.state_cursor;
        while !full && state_end < entries {
            if let Some(message) = self.state_message(state_end) {
                let len = message.encoded_len();
                if used + len > plain_budget {
                    let alone = state_end == s.state_cursor && plan.steps == 0 && plan.runs == 0;
                    state_end += u32::from(alone && end == s.broadcast_cursor);
                    full = true;
                    break;
                }
                used += len;
            }
            state_end += 1;
        }
        plan.state_end = state_end;

        // Last, the application's own state, in a piece of the room left.
        let unsent = s.app.unsent();
        if !full && unsent > 0 {
            let room = plain_budget.saturating_sub(used + AppStateChunk::item_len(0)).min(AppStateChunk::MAX_PIECE);
            let piece = u32::try_from(room).unwrap_or(u32::MAX).min(unsent);
            let empty = plan.steps == 0 && plan.runs == 0 && end == s.broadcast_cursor && state_end == s.state_cursor;
            if piece == 0 && empty {
                return None; // a buffer too small for one byte of it
            }
            plan.app_end = s.app.sent + piece;
            full = piece < unsent;
        }
        plan.last = !full && end >= pool && state_end >= entries;
        Some(plan)
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
        let (opener, expected_chunk, records, others, states) =
            (s.opener, s.expected_chunk, s.records, s.others, s.states);
        let (peer, mut delta, message, app, join) = (s.peer, s.delta, s.message.is_some(), s.app, s.join);
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
            return Err(InputError::AnyReceiver(Kind::Sync));
        }
        if !peer_is(sync.source) {
            return Err(InputError::NotThePeer);
        }
        if sync.flags.contains(SyncFlags::MESSAGE) || message {
            return self.merge_message_frame(id, &packet, &sync, unsealed.nonce);
        }
        // A join's sync says so from its first frame to its last.
        let join = if opener || expected_chunk > 0 { join } else { sync.flags.contains(SyncFlags::JOIN) };
        if !opener && sync.flags.contains(SyncFlags::JOIN) != join {
            return Err(InputError::SyncOutOfOrder);
        }
        // Delta or full: the opener's first frame says, and every later
        // frame agrees; a peer that does not know delta syncs replies in
        // full (its reply ends the exchange).
        let is_delta = sync.flags.contains(SyncFlags::DELTA);
        if !opener && expected_chunk == 0 && is_delta {
            if sync.flags.contains(SyncFlags::JOIN) {
                return Err(InputError::SyncOutOfOrder);
            }
            delta = Some(Delta::answering());
        }
        if opener && expected_chunk == 0 && !is_delta {
            delta = None;
        }
        if is_delta != delta.is_some() {
            return Err(InputError::SyncOutOfOrder);
        }
        match delta.as_mut() {
            Some(d) => {
                d.take_runs(&self.members, &packet)?;
                if sync.flags.contains(SyncFlags::LAST) {
                    d.check_complete()?;
                }
            }
            None => {
                if let Some(m) = packet.piggyback().find(|m| matches!(m.kind(), Kind::SyncDigest | Kind::SyncDiff)) {
                    return Err(InputError::Unexpected(m.kind()));
                }
            }
        }
        // A peer cannot make this node take in more than a cluster's worth
        // of records, nor more broadcasts and updates than it can hold:
        // every item counts.
        let incoming = packet.piggyback().filter(|m| m.kind() == Kind::MemberRecord).count();
        let state_items = packet.piggyback().filter(|m| m.kind() == Kind::State).count();
        let other_items = packet.piggyback().filter(|m| !m.kind().is_sync_only() && m.kind() != Kind::State).count();
        let limit = self.config.limits.max_members.saturating_add(64);
        let other_limit = self.config.dissemination.broadcast_capacity.saturating_add(64);
        let state_limit = self.config.limits.max_state.saturating_add(64);
        if records.saturating_add(incoming) > limit
            || others.saturating_add(other_items) > other_limit
            || states.saturating_add(state_items) > state_limit
        {
            return Err(InputError::SyncTooLarge);
        }
        let last = sync.flags.contains(SyncFlags::LAST);
        let app_before = app;
        let mut app = app.check(&packet, self.config.limits.max_app_state, last)?;
        self.accepted(unsealed.nonce);
        let now = self.now;
        for message in packet.piggyback() {
            match message {
                Message::MemberRecord(r) => self.merge_record(now, &r, sync.source, !joining, peer),
                Message::State(b) => self.on_state(now, &b, false, sync.source),
                Message::AppState(piece) => self.app.take(id.index as usize, &piece, &mut app),
                Message::UserBroadcast(b) if !joining => self.on_broadcast(now, &b, false, false),
                Message::Query(q) if !joining => self.on_broadcast(now, &q, false, true),
                Message::UserBroadcast(_) | Message::Query(_) | Message::SyncDigest(_) | Message::SyncDiff(_) => {}
                other => self.apply_update(now, &other, None),
            }
        }
        self.stats.app_state_oversized += u64::from(app.skip && !app_before.skip);
        if app.incoming.is_some_and(|total| app.received == total && total > 0) && app.received > app_before.received {
            // All of the peer's state is in: the application merges it, once.
            let merged = self.app.merge(id.index as usize, sync.source, join, &app);
            self.stats.app_states_merged += u64::from(merged);
        }
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
        s.join = join;
        s.records += incoming;
        s.others += other_items;
        s.states += state_items;
        s.delta = delta;
        s.app = app;
        if last {
            let is_delta = s.delta.is_some();
            match s.delta.as_mut() {
                // The digest is in: the reply (the differing buckets).
                Some(d) if d.leg == Leg::Digest => {
                    (d.leg, d.sent) = (Leg::Reply, 0);
                    d.restart_walk();
                    s.status = SyncStatus::Send;
                }
                // The reply is in: the opener's records of those buckets.
                Some(d) if d.leg == Leg::Reply => {
                    (d.leg, d.sent) = (Leg::Records, 0);
                    d.restart_walk();
                    s.status = SyncStatus::Send;
                }
                _ if opener || is_delta => {
                    s.status = SyncStatus::Done;
                    self.stats.syncs_completed += 1;
                }
                _ => s.status = SyncStatus::Send,
            }
        }
        let (status, peer, joined) = (s.status, s.peer, opener && s.join && last);
        if joined {
            // The joiner now knows the cluster: its own alive starts over,
            // so that its transmissions reach random members of the whole
            // table rather than the few it knew while the sync ran.
            self.disseminate(now, LOCAL);
            self.push_now(LOCAL, None);
            self.follow_up_join(now, peer, peer_tag);
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
        MemberRecord { state: e.state.to_wire(), member: crate::node::transmit::alive(e), by }
    }

    /// State entry `index` as a sync item: merged, not passed on, so its
    /// time to live is a tombstone's time left (0 for a value).
    fn state_message(&self, index: u32) -> Option<Message<'_>> {
        let e = self.state.get(index as usize)?;
        let left = e.expires.map_or(0, |at| at.saturating_since(self.now).as_millis());
        let b = swim_wire::UserBroadcast {
            generation: e.generation,
            seq: e.seq,
            ttl_ms: u32::try_from(left).unwrap_or(u32::MAX),
            origin: &e.owner,
            payload: &e.body,
        };
        Some(Message::State(b))
    }

    /// The header of this node's packets.
    pub(in crate::node) fn header(&self) -> Header<'_> {
        Header {
            version: self.config.protocol_version,
            encrypted: false,
            key_id: None,
            label: &self.config.label,
            any_receiver: false,
        }
    }
}
