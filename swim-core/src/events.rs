//! Events for the application, and the pre-sized queue that holds them until
//! [`Node::poll_event`](crate::Node::poll_event).

use std::collections::VecDeque;
use std::net::SocketAddr;

use crate::members::{MemberRef, State};
use crate::version::Version;

/// A view of one member, borrowed from the node.
///
/// ```
/// use swim_protocol::{Config, Node, State, Time};
/// let node = Node::new(b"a", &["10.0.0.1:7946".parse().unwrap()], b"rack=4", Config::lan(), Time::ZERO).unwrap();
/// let me = node.local();
/// assert_eq!((me.name, me.meta, me.state, me.incarnation), (&b"a"[..], &b"rack=4"[..], State::Alive, 0));
/// assert_eq!(me.generation, 0); // `Config::generation`: the builder sets it from the clock
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub struct MemberInfo<'a> {
    /// The member's name.
    pub name: &'a [u8],
    /// Its addresses, preferred first.
    pub addrs: &'a [SocketAddr],
    /// Its application metadata.
    pub meta: &'a [u8],
    /// The generation of its process: larger for every restart of the
    /// member (see [`Config::generation`](crate::Config::generation)).
    pub generation: u64,
    /// Its incarnation within that process.
    pub incarnation: u32,
    /// Its state.
    pub state: State,
    /// The smoothed round trip of this node's direct probes of it (`None`
    /// until one was answered; always `None` for this node itself).
    pub rtt: Option<core::time::Duration>,
    /// When it last answered one of this node's probes, directly or through
    /// a helper (`None` if it never did; always `None` for this node).
    pub last_answered: Option<crate::Time>,
}

/// Why a join did not complete.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum JoinFailure {
    /// No seed answered within the configured attempts.
    NoAnswer,
    /// A seed says another live member holds this node's name.
    NameConflict,
    /// A seed says the cluster is full.
    ClusterFull,
    /// A seed does not admit this member (its address is outside the
    /// seed's `security.allowed_networks`).
    NotAdmitted,
}

impl core::fmt::Display for JoinFailure {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.write_str(match self {
            JoinFailure::NoAnswer => "no seed answered (are the seeds' addresses, ports and keys right?)",
            JoinFailure::NameConflict => "a live member already holds this member's name",
            JoinFailure::ClusterFull => "the cluster is full (a seed's `max_members` is reached)",
            JoinFailure::NotAdmitted => "a seed does not admit this member's address (its `allowed_networks`)",
        })
    }
}

impl std::error::Error for JoinFailure {}

/// Something the application may want to know, from
/// [`Node::poll_event`](crate::Node::poll_event).
///
/// ```
/// use swim_protocol::Event;
/// fn log(event: &Event<'_>) {
///     match event {
///         Event::Suspected { member, by } => {
///             println!("{} suspected by {}", String::from_utf8_lossy(member.name), String::from_utf8_lossy(by))
///         }
///         Event::Faulty { member, .. } => println!("{} is faulty", String::from_utf8_lossy(member.name)),
///         _ => {}
///     }
/// }
/// log(&Event::Refuted { incarnation: 1 });
/// ```
///
/// Member events show the member's name, addresses and metadata as they are
/// when the event is polled, and its state and incarnation as they were when
/// the event happened.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum Event<'a> {
    /// A member was learned of, or came back after being faulty or having left.
    Joined(MemberInfo<'a>),
    /// A member's metadata or addresses changed, or it restarted (a newer
    /// process took over its name while the old one was still held live).
    Updated {
        /// The member.
        member: MemberInfo<'a>,
        /// The metadata it had before (the same as `member.meta` when only
        /// its addresses or process changed).
        previous_meta: &'a [u8],
    },
    /// A member is suspected of having failed.
    Suspected {
        /// The member.
        member: MemberInfo<'a>,
        /// Who suspects it.
        by: &'a [u8],
    },
    /// A suspected member proved to be alive.
    Recovered(MemberInfo<'a>),
    /// A member was declared faulty.
    Faulty {
        /// The member.
        member: MemberInfo<'a>,
        /// Who declared it.
        by: &'a [u8],
    },
    /// A member left gracefully.
    Left(MemberInfo<'a>),
    /// A user broadcast arrived (each one once).
    Broadcast {
        /// The member that broadcast it.
        origin: &'a [u8],
        /// Its sequence number at the origin.
        seq: u32,
        /// The payload.
        payload: &'a [u8],
    },
    /// A process at another address claims a member's name without being a
    /// newer process of it (or, seen by the older process itself, a newer
    /// process took the name over); the claim was not merged.
    NameConflict {
        /// The contested name.
        name: &'a [u8],
        /// The address this node knows for the member.
        known: SocketAddr,
        /// The address of the other claimant.
        claimed: SocketAddr,
    },
    /// This node was suspected, declared faulty or said to have left, and
    /// refuted it with a new incarnation.
    Refuted {
        /// The new incarnation.
        incarnation: u32,
    },
    /// A member new to this node was not added: its address is outside
    /// `security.allowed_networks`, or the application's
    /// [`Admission`](crate::Admission) hook refused it. Reported once per
    /// version of the member (repeats are refused silently).
    NotAdmitted {
        /// The member's name.
        name: &'a [u8],
        /// Its address, if it gave one.
        addr: Option<SocketAddr>,
    },
    /// A direct message from another member arrived
    /// ([`Node::send_message`](crate::Node::send_message),
    /// [`Node::send_reliable`](crate::Node::send_reliable)).
    Message {
        /// The member that sent it (as its datagram or stream names it).
        from: &'a [u8],
        /// The payload.
        payload: &'a [u8],
        /// Whether it came over a stream (and the sender is told it
        /// arrived) rather than in a datagram.
        reliable: bool,
    },
    /// A query meant for this node arrived (once); answer it with
    /// [`Node::respond`](crate::Node::respond) before its timeout, or not.
    Query {
        /// What to answer it by.
        handle: crate::QueryHandle,
        /// The member that asks.
        origin: &'a [u8],
        /// The query's name.
        name: &'a [u8],
        /// Its payload.
        payload: &'a [u8],
    },
    /// An answer to a query this node asked (one per member).
    QueryResponse {
        /// The query's id ([`Node::query`](crate::Node::query)).
        id: u32,
        /// The member that answered.
        from: &'a [u8],
        /// Its answer.
        payload: &'a [u8],
    },
    /// A member got a query this node asked (one per member).
    QueryAck {
        /// The query's id.
        id: u32,
        /// The member.
        from: &'a [u8],
    },
    /// A query this node asked timed out: the last of its events.
    QueryDone {
        /// The query's id.
        id: u32,
        /// Live members it was meant for when it was asked, as this node
        /// saw the cluster (this node not counted).
        asked: u32,
        /// Members that answered in time.
        answered: u32,
        /// Members that acknowledged it in time.
        acked: u32,
    },
    /// Another member's application state changed (a key set, or deleted:
    /// `value` is `None`), as learned by gossip or a sync.
    StateChanged {
        /// The member that owns the key.
        owner: &'a [u8],
        /// The key.
        key: &'a [u8],
        /// Its new value; `None` when it was deleted.
        value: Option<&'a [u8]>,
    },
    /// Every state entry of `owner` this node held is gone: the owner was
    /// reaped, or a newer process of it (a restart) wrote, whose entries
    /// replace them (a restarted owner that writes nothing itself deletes
    /// the keys of its earlier process that members send back to it, which
    /// has the same effect). Once per owner and occasion, and only when the
    /// owner had values (not only tombstones); no
    /// [`StateChanged`](Event::StateChanged) follows for each key.
    StateCleared {
        /// The member whose entries went.
        owner: &'a [u8],
    },
    /// The join completed through this seed.
    JoinSucceeded {
        /// The seed that answered.
        seed: SocketAddr,
    },
    /// The join failed.
    JoinFailed {
        /// Why.
        reason: JoinFailure,
    },
}

/// Bytes of an event stored in the queue's arena.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Span {
    start: u32,
    len: u32,
}

impl Span {
    pub(crate) fn get(self, bytes: &[u8]) -> &[u8] {
        let start = self.start as usize;
        bytes.get(start..start + self.len as usize).unwrap_or_default()
    }
}

/// Which member event.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum MemberEvent {
    Joined,
    Updated,
    Suspected,
    Recovered,
    Faulty,
    Left,
}

/// An event as queued (member data is looked up when polled).
#[derive(Debug, Clone, Copy)]
pub(crate) enum Record {
    /// `bytes`: the accuser of a suspicion or verdict, the previous
    /// metadata of an update.
    Member {
        kind: MemberEvent,
        member: MemberRef,
        state: State,
        version: Version,
        bytes: Span,
    },
    Broadcast {
        origin: Span,
        seq: u32,
        payload: Span,
    },
    NameConflict {
        name: Span,
        known: SocketAddr,
        claimed: SocketAddr,
    },
    Refuted {
        incarnation: u32,
    },
    NotAdmitted {
        name: Span,
        addr: Option<SocketAddr>,
    },
    JoinSucceeded {
        seed: SocketAddr,
    },
    JoinFailed {
        reason: JoinFailure,
    },
    Message {
        from: Span,
        payload: Span,
        reliable: bool,
    },
    Query {
        handle: crate::QueryHandle,
        origin: Span,
        name: Span,
        payload: Span,
    },
    QueryResponse {
        id: u32,
        from: Span,
        payload: Span,
    },
    QueryAck {
        id: u32,
        from: Span,
    },
    QueryDone {
        id: u32,
        asked: u32,
        answered: u32,
        acked: u32,
    },
    State {
        owner: Span,
        key: Span,
        value: Option<Span>,
    },
    StateCleared {
        owner: Span,
    },
}

/// A bounded queue of records plus an arena for their bytes. The arena is
/// emptied whenever the queue drains, so it never grows past its capacity;
/// events that do not fit are dropped and counted. Both start empty and
/// grow on demand (by doubling, up to their bounds), so a member pays for
/// the most events one of its steps produced, not for `event_capacity`
/// (about 100 KiB with the presets, and as much again for the arena); once
/// grown they keep their size, so steady state allocates nothing.
#[derive(Debug)]
pub(crate) struct EventQueue {
    records: VecDeque<Record>,
    capacity: usize,
    bytes: Vec<u8>,
    byte_capacity: usize,
    dropped: u64,
}

impl EventQueue {
    pub(crate) fn new(capacity: usize, byte_capacity: usize) -> Self {
        EventQueue { records: VecDeque::new(), capacity, bytes: Vec::new(), byte_capacity, dropped: 0 }
    }

    /// Events dropped because the application did not poll in time.
    pub(crate) fn dropped(&self) -> u64 {
        self.dropped
    }

    pub(crate) fn len(&self) -> usize {
        self.records.len()
    }

    pub(crate) fn bytes(&self) -> &[u8] {
        &self.bytes
    }

    /// Queues a record whose spans are built by `build` from the arena;
    /// drops it when either the queue or the arena is full.
    pub(crate) fn push_with(&mut self, needed: usize, build: impl FnOnce(&mut Arena<'_>) -> Record) {
        if self.records.is_empty() {
            // Both start over at their beginning: only as much memory as
            // one step's events need is ever touched.
            self.records.clear();
            self.bytes.clear();
        }
        if self.records.len() >= self.capacity || self.bytes.len() + needed > self.byte_capacity {
            self.dropped += 1;
            return;
        }
        let len = self.records.len();
        if len == self.records.capacity() {
            let grown = (2 * len).max(16).min(self.capacity);
            self.records.reserve_exact(grown - len);
        }
        let used = self.bytes.len();
        if used + needed > self.bytes.capacity() {
            let grown = (2 * self.bytes.capacity()).max(used + needed).max(256).min(self.byte_capacity);
            self.bytes.reserve_exact(grown.saturating_sub(used));
        }
        let record = build(&mut Arena { bytes: &mut self.bytes });
        self.records.push_back(record);
    }

    pub(crate) fn push(&mut self, record: Record) {
        self.push_with(0, |_| record);
    }

    /// Whether a record with `needed` bytes would be queued now.
    pub(crate) fn has_room(&self, needed: usize) -> bool {
        let bytes = if self.records.is_empty() { 0 } else { self.bytes.len() };
        self.records.len() < self.capacity && bytes + needed <= self.byte_capacity
    }

    /// Queues a record without bytes even past the capacity: for the few
    /// records that end something the application waits on (at most one
    /// per open query), which must never be lost.
    pub(crate) fn push_always(&mut self, record: Record) {
        if self.records.is_empty() {
            self.records.clear();
            self.bytes.clear();
        }
        self.records.push_back(record);
    }

    pub(crate) fn pop(&mut self) -> Option<Record> {
        self.records.pop_front()
    }
}

/// Appends bytes for one record.
pub(crate) struct Arena<'a> {
    bytes: &'a mut Vec<u8>,
}

impl Arena<'_> {
    pub(crate) fn store(&mut self, data: &[u8]) -> Span {
        let start = crate::convert::to_u32(self.bytes.len());
        self.bytes.extend_from_slice(data);
        Span { start, len: crate::convert::to_u32(data.len()) }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bounded_queue_drops_and_counts() {
        let mut q = EventQueue::new(2, 8);
        q.push(Record::Refuted { incarnation: 1 });
        q.push(Record::Refuted { incarnation: 2 });
        q.push(Record::Refuted { incarnation: 3 });
        assert_eq!((q.len(), q.dropped()), (2, 1));
        assert!(matches!(q.pop(), Some(Record::Refuted { incarnation: 1 })));
    }

    #[test]
    fn storage_starts_empty_and_grows_only_as_far_as_needed() {
        let mut q = EventQueue::new(1024, 64 * 1024);
        assert_eq!((q.records.capacity(), q.bytes.capacity()), (0, 0), "nothing before the first event");
        for i in 0..20 {
            q.push_with(3, |a| Record::Broadcast { origin: a.store(b"o"), seq: i, payload: a.store(b"pa") });
        }
        assert_eq!(q.len(), 20);
        assert!(q.records.capacity() < 64 && q.bytes.capacity() <= 256, "grown to fit twenty");
        while q.pop().is_some() {}
        let (records, bytes) = (q.records.capacity(), q.bytes.capacity());
        q.push_with(3, |a| Record::Broadcast { origin: a.store(b"o"), seq: 99, payload: a.store(b"pa") });
        assert_eq!((q.records.capacity(), q.bytes.capacity()), (records, bytes), "kept once grown");
    }

    #[test]
    fn arena_holds_bytes_until_drained_and_never_exceeds_capacity() {
        let mut q = EventQueue::new(8, 8);
        q.push_with(5, |a| Record::Broadcast { origin: a.store(b"o"), seq: 1, payload: a.store(b"pay") });
        q.push_with(5, |a| Record::Broadcast { origin: a.store(b"o"), seq: 2, payload: a.store(b"load") });
        assert_eq!(q.dropped(), 1, "the arena is full");
        let Some(Record::Broadcast { payload, .. }) = q.pop() else { panic!() };
        assert_eq!(payload.get(q.bytes()), b"pay");
        // Drained: the next push reuses the arena from the start.
        q.push_with(5, |a| Record::Broadcast { origin: a.store(b"o"), seq: 3, payload: a.store(b"abcd") });
        let Some(Record::Broadcast { origin, payload, .. }) = q.pop() else { panic!() };
        assert_eq!((origin.get(q.bytes()), payload.get(q.bytes())), (&b"o"[..], &b"abcd"[..]));
    }
}
