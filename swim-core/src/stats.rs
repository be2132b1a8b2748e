//! Counters of what a node did, for metrics and tests.

use core::time::Duration;

/// A snapshot of a node's counters ([`Node::stats`](crate::Node::stats)).
///
/// ```
/// use swim_protocol::{Config, Node, Time};
/// let node = Node::new(b"a", &["10.0.0.1:7946".parse().unwrap()], b"", Config::lan(), Time::ZERO).unwrap();
/// let stats = node.stats();
/// assert_eq!((stats.live_members, stats.packets_sent, stats.health), (1, 0, 0));
/// ```
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
#[non_exhaustive]
pub struct Stats {
    /// Datagrams produced by `poll_transmit`.
    pub packets_sent: u64,
    /// Bytes of those datagrams.
    pub bytes_sent: u64,
    /// Datagrams accepted by `handle_datagram`.
    pub packets_received: u64,
    /// Bytes of those datagrams.
    pub bytes_received: u64,
    /// Datagrams and sync frames refused, for any reason (the total of the
    /// `rejected_*` counters).
    pub packets_rejected: u64,
    /// Refused: not a valid packet, or larger than the packet budget.
    pub rejected_malformed: u64,
    /// Refused: another cluster's label.
    pub rejected_label: u64,
    /// Refused: from an address outside `security.allowed_networks`
    /// (datagrams, and sync streams refused when they connect).
    pub rejected_network: u64,
    /// Refused: unknown key, or failed authentication.
    pub rejected_key: u64,
    /// Refused: plaintext where encryption is required, or sealed where no
    /// key is installed.
    pub rejected_encryption: u64,
    /// Refused: a replay, or a sender time outside the allowed age.
    pub rejected_replay: u64,
    /// Refused: a message that cannot arrive that way, or a sync frame out of
    /// order or beyond the size limit.
    pub rejected_unexpected: u64,
    /// Join requests and syncs refused by the per-source rate limits.
    pub rate_limited: u64,
    /// Protocol periods started.
    pub periods: u64,
    /// Periods in which this node was pinged directly at least once
    /// (counted when the next period starts); `periods_probed / periods`
    /// estimates how likely a member is probed in a period, `1 − 1/e` ≈ 63%
    /// in a large steady cluster.
    pub periods_probed: u64,
    /// Probes started.
    pub probes: u64,
    /// Direct pings received (this node was probed).
    pub pings_received: u64,
    /// Probes that got no ack, direct or indirect.
    pub probes_failed: u64,
    /// Indirect pings sent on behalf of this node's probes.
    pub indirect_pings_sent: u64,
    /// Indirect probes this node performed for others.
    pub indirect_probes_helped: u64,
    /// Indirect pings refused: from someone not a live member, or about a
    /// target not live in this node's table.
    pub indirect_pings_refused: u64,
    /// Nacks sent as a helper.
    pub nacks_sent: u64,
    /// Nacks received as a prober.
    pub nacks_received: u64,
    /// Suspicions this node started or learned.
    pub suspicions: u64,
    /// Suspicions this node probed first-hand before its verdict, because
    /// fewer independent confirmations came than expected (see
    /// [`SuspicionConfig`](crate::SuspicionConfig)).
    pub suspicions_checked: u64,
    /// Members this node saw declared faulty (by itself or others).
    pub faulty_declared: u64,
    /// Times this node refuted a suspicion of itself.
    pub refutations: u64,
    /// Gossip updates and broadcasts piggybacked on sent packets.
    pub updates_sent: u64,
    /// Gossip updates and broadcasts received.
    pub updates_received: u64,
    /// Updates and broadcasts that were sent their full `λ · ⌈log10(N + 1)⌉`
    /// times and left the queue (by then they have most likely reached
    /// everyone).
    pub updates_spread: u64,
    /// Total time those updates spent in the queue, from first queued to
    /// last sent: divided by `updates_spread`, an estimate of how long an
    /// update takes to reach everyone.
    pub spread_time: Duration,
    /// User broadcasts delivered to the application.
    pub broadcasts_delivered: u64,
    /// Direct messages this node sent (queued as a datagram, or opened as
    /// an exchange).
    pub messages_sent: u64,
    /// Reliable messages the receiver acknowledged.
    pub messages_delivered: u64,
    /// Direct messages received and handed to the application.
    pub messages_received: u64,
    /// Application state entries this node wrote (sets and deletions).
    pub state_writes: u64,
    /// Other members' state entries this node took in (new versions).
    pub state_updates: u64,
    /// State entries dropped: malformed, or past `limits.max_state`.
    pub state_refused: u64,
    /// This node's own keys it deleted again: a member sent back a value
    /// it had deleted (and forgotten the tombstone of), or one a past
    /// process of it wrote.
    pub state_corrected: u64,
    /// Syncs whose peer's application state ([`AppState`](crate::AppState))
    /// this node handed to the application.
    pub app_states_merged: u64,
    /// Application states not exchanged for being larger than
    /// `limits.max_app_state`: this node's, not sent in a sync, or a peer's,
    /// skipped (a peer configured with a larger limit).
    pub app_state_oversized: u64,
    /// Queries this node asked.
    pub queries_sent: u64,
    /// Queries meant for this node, handed to the application.
    pub queries_received: u64,
    /// Queries dropped unread (a malformed body).
    pub queries_malformed: u64,
    /// Answers to this node's queries (one per member and query).
    pub query_responses_received: u64,
    /// Acknowledgements of this node's queries (one per member and query).
    pub query_acks_received: u64,
    /// Answers and acknowledgements this node passed on as a relay.
    pub query_responses_relayed: u64,
    /// Direct messages received and dropped (larger than
    /// `limits.max_message`, or claiming to come from this node).
    pub messages_refused: u64,
    /// User broadcasts that arrived with a sync rather than by gossip (the
    /// repair path; included in `broadcasts_delivered`).
    pub broadcasts_repaired: u64,
    /// User broadcasts evicted from a full pool before their gossip or
    /// retention was over (size `dissemination.broadcast_capacity` above your rate).
    pub broadcasts_evicted: u64,
    /// User broadcasts refused because they came from an older process of
    /// their origin, or too far below the newest one from that origin to
    /// tell whether they were delivered.
    pub broadcasts_too_old: u64,
    /// Members refused because `limits.max_members` was reached.
    pub members_refused: u64,
    /// Members not admitted: a member new to this node refused (an address
    /// outside `security.allowed_networks`, or the application's admission
    /// hook; once per version, joiners included), or a newer update that
    /// would move a known member outside the networks (each one counted).
    pub members_not_admitted: u64,
    /// Name conflicts seen.
    pub name_conflicts: u64,
    /// Second-hand claims that a member moved to another address, refused
    /// because peers prove their names (`security.names_proven`).
    pub moves_refused: u64,
    /// Times this node, holding a member as left, answered an older claim
    /// about it (alive, suspect, faulty) with the departure.
    pub departures_pushed_back: u64,
    /// Events dropped because the application did not poll them in time.
    pub events_dropped: u64,
    /// Transmissions dropped because the outbox was full.
    pub transmits_dropped: u64,
    /// Sync exchanges completed.
    pub syncs_completed: u64,
    /// Pings sent to members held faulty, to see whether they are back.
    pub reconnect_pings: u64,
    /// Syncs opened because this node found itself declared faulty (it was
    /// cut off, so its own view is stale too).
    pub resyncs: u64,
    /// Syncs opened because members this node did not know kept pinging it.
    pub stranger_syncs: u64,
    /// Syncs refused because `sync.max_concurrent` were running.
    pub syncs_refused: u64,
    /// Timers that fired later than `overload_threshold` (local overload).
    pub overload_reports: u64,
    /// The local health score (0 is healthy).
    pub health: u8,
    /// The probe timeout in force, health scaling included.
    pub probe_timeout: Duration,
    /// Members alive or suspect, this node included.
    pub live_members: usize,
    /// Members known in any state, this node included.
    pub known_members: usize,
    /// Updates and broadcasts waiting in the dissemination queues.
    pub queued_updates: usize,
    /// User broadcasts held, being gossiped or retained for repair.
    pub broadcasts_held: usize,
    /// Application state entries held, every member's, tombstones
    /// included.
    pub state_entries: usize,
}
