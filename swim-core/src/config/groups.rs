//! The configuration's groups, one per concern. Each knob's documentation
//! says what it does and how to choose it; the presets
//! ([`Config::lan`](crate::Config::lan) and the others) are good starting
//! points, and most deployments change only the probe period and perhaps
//! the suspicion multiplier.

use core::time::Duration;

use super::keys::Encryption;
use crate::config::Config;
use crate::limits::RateLimit;

/// How members check each other: one probe round per period, a direct ping,
/// then indirect pings through helpers (SWIM), with Lifeguard's local
/// health.
///
/// Detection time is about `period × (1 + suspicion timeout)`; load is two
/// datagrams per member and period plus `2 · indirect` per failed probe.
#[cfg_attr(feature = "serde", derive(serde::Serialize, serde::Deserialize))]
#[cfg_attr(feature = "serde", serde(default, deny_unknown_fields))]
#[derive(Debug, Clone, PartialEq)]
#[non_exhaustive]
pub struct ProbeConfig {
    /// The protocol period T: one member probed per period (10 ms to an
    /// hour). Choose it from how fast failures must be noticed against how
    /// much traffic is acceptable: halving it doubles the probe traffic and
    /// roughly halves detection time. 1 s on a LAN, 5 s across regions,
    /// 200 ms for tests on one host; it must comfortably exceed the round
    /// trip between any two members plus `timeout`.
    #[cfg_attr(feature = "serde", serde(with = "crate::config_serde::duration"))]
    pub period: Duration,
    /// How long to wait for a direct ack before asking helpers (the
    /// starting value when `adaptive_timeout` is on). Set it to a few times
    /// the 99th-percentile round trip; shorter than `period`.
    #[cfg_attr(feature = "serde", serde(with = "crate::config_serde::duration"))]
    pub timeout: Duration,
    /// Lower bound for an adapted timeout: what a loaded network may still
    /// need however fast the round trips look (positive, at most `timeout`).
    #[cfg_attr(feature = "serde", serde(with = "crate::config_serde::duration"))]
    pub min_timeout: Duration,
    /// Upper bound for an adapted timeout. With Lifeguard, a helper nacks
    /// at 80% of the prober's timeout and the nack must arrive before the
    /// period ends: `1.8 × max_timeout` must stay within 95% of `period`.
    #[cfg_attr(feature = "serde", serde(with = "crate::config_serde::duration"))]
    pub max_timeout: Duration,
    /// Whether the node measures round trips and proposes a timeout of
    /// their 99th percentile plus 10%, within the bounds (the runtime
    /// applies it). Leave it on unless you need a fixed timeout to compare
    /// runs.
    pub adaptive_timeout: bool,
    /// Each period lasts `period × (1 + jitter × u)` for a random `u` in
    /// `[0, 1)`, so that members started together do not probe in
    /// lockstep (0 to 0.5; 0.1 is plenty). 0 only for experiments.
    pub jitter: f64,
    /// A timer that fires more than this late counts as local overload and
    /// raises the health score (Lifeguard); zero turns the check off. About
    /// a tenth of the period: larger hides overload, smaller mistakes
    /// scheduler noise for it.
    #[cfg_attr(feature = "serde", serde(with = "crate::config_serde::duration"))]
    pub overload_threshold: Duration,
    /// Members probed directly each period (1 to 16). 1 is SWIM's design
    /// and keeps the load constant; more finds failures proportionally
    /// sooner for proportionally more traffic.
    pub direct: usize,
    /// Helpers asked to probe a member that did not answer (K, at most 16).
    /// More helpers make a false suspicion from lost datagrams less likely
    /// (each helper is another independent path) for `2 · K` more datagrams
    /// per failed probe. 3 suits most networks; 0 turns indirect probing off.
    pub indirect: usize,
    /// How each period's targets are chosen. [`ProbeSelection::Shuffle`]
    /// (the default, SWIM's) probes every member once per round in a
    /// fresh random order: the best worst case, the same load everywhere.
    /// The bucket strategies split the members by distance from this one
    /// into `direct` buckets and probe one of each per period, so near
    /// members are probed more often than far ones: a crash is seen first
    /// by the crashed member's neighbours. Choose them with `direct ≥ 2`
    /// when that locality matters (see the probe-selection section of
    /// `docs/results/paper.md`); with `direct = 1` they are a shuffle.
    pub selection: ProbeSelection,
    /// Lifeguard: local health scaling probes, dynamic suspicion timeouts,
    /// nacks from helpers, and the buddy system. Keep it on: off is **for
    /// reproducing the papers' comparisons only** (a slow member then
    /// accuses healthy ones).
    pub lifeguard: bool,
    /// S: the highest local health score (at most 32). A member that
    /// notices it is slow (missed nacks, late timers) stretches its probe
    /// period and timeout by `score + 1`; 8 lets a badly overloaded member
    /// back off ninefold.
    pub max_health: u8,
}

/// How a member that missed a probe is treated: suspect first, declared
/// faulty once the suspicion times out without a refutation.
///
/// The timeout starts at `max_mult × min` and falls towards
/// `min = mult × log10(max(N, 2)) × period` as other members independently
/// confirm the suspicion (Lifeguard). Larger multipliers mean fewer false
/// verdicts under loss and slower verdicts for real failures.
#[cfg_attr(feature = "serde", derive(serde::Serialize, serde::Deserialize))]
#[cfg_attr(feature = "serde", serde(default, deny_unknown_fields))]
#[derive(Debug, Clone, PartialEq)]
#[non_exhaustive]
pub struct SuspicionConfig {
    /// Whether a failed probe makes the target *suspect* (refutable) rather
    /// than faulty at once. Keep it on: off is **for reproducing the SWIM
    /// paper's comparison only** (one lost probe then condemns a member).
    pub enabled: bool,
    /// α (1 to 100): the minimum suspicion timeout in periods, per
    /// `log10` of the cluster size. 4 on a LAN; raise it (6 for a WAN) where
    /// loss or pauses last longer, lower it only on a reliable network.
    pub mult: u32,
    /// How the minimum timeout follows the cluster size; keep
    /// [`SuspicionScale::Log10`].
    pub scale: SuspicionScale,
    /// β (1 to 100): the timeout starts at `β ×` the minimum. Larger gives a
    /// lone suspicion more time to be refuted while confirmations from
    /// several members still bring the verdict down to the minimum; 6 is
    /// Lifeguard's value.
    pub max_mult: u32,
}

/// How updates about members, and the application's broadcasts, reach
/// everyone.
#[cfg_attr(feature = "serde", derive(serde::Serialize, serde::Deserialize))]
#[cfg_attr(feature = "serde", serde(default, deny_unknown_fields))]
#[derive(Debug, Clone, PartialEq)]
#[non_exhaustive]
pub struct DisseminationConfig {
    /// λ (1 to 20): each update is sent at most `λ · ⌈log10(N + 1)⌉`
    /// times. Higher reaches everyone more surely under loss, for more
    /// bytes per update; 4 reaches all members with overwhelming
    /// probability at a few percent loss (the simulator's figures are in
    /// `docs/results/`).
    pub retransmit_mult: u32,
    /// How updates travel; keep [`DisseminationStyle::Infection`].
    pub style: DisseminationStyle,
    /// Between probes, every `gossip_interval`, queued updates also go to
    /// `gossip_fanout` random members in datagrams of their own (as
    /// memberlist does): news spreads several times faster than on probes
    /// alone. Nothing is sent while the queue is empty, so a quiet cluster's
    /// load stays two datagrams per member and period. Half the period is a
    /// good value; zero turns it off (at least 5 ms otherwise).
    #[cfg_attr(feature = "serde", serde(with = "crate::config_serde::duration"))]
    pub gossip_interval: Duration,
    /// Members each gossip round sends to (1 to 16); 3 spreads fast without
    /// bursts.
    pub gossip_fanout: usize,
    /// Largest user broadcast payload, in bytes. It must leave room for the
    /// headers in one datagram: at most `packet_budget − 300` (less the
    /// encryption envelope). Larger payloads belong in direct messages or
    /// your own transfer.
    pub max_broadcast_payload: usize,
    /// User broadcasts the node holds at once, for dissemination and for
    /// repair (1 to 65,536; see `broadcast_lifetime`). Size it above your
    /// cluster's broadcast rate times the lifetime: when it runs out, the
    /// retained broadcasts closest to the end of their lifetime go first
    /// (counted in `Stats::broadcasts_evicted`).
    pub broadcast_capacity: usize,
    /// How long a broadcast lives from the moment it is sent. Every member
    /// that has it holds it until then (gossip takes the first periods), and
    /// syncs carry the broadcasts each side holds, so a member that gossip
    /// missed gets them at its next sync; nobody passes one on after its
    /// lifetime. Keep it above a few (scaled) sync intervals, so that repair
    /// gets its chance, and below `limits.tombstone_ttl`, so that a
    /// broadcast is gone before its origin's deduplication state can be
    /// forgotten. Give every member the same value: a received broadcast
    /// carries what is left of its sender's lifetime, and a node holds it no
    /// longer than its own.
    #[cfg_attr(feature = "serde", serde(with = "crate::config_serde::duration"))]
    pub broadcast_lifetime: Duration,
}

/// Joining, and the periodic full-state syncs (push-pull over a stream)
/// that repair whatever gossip missed and merge clusters after a partition.
#[cfg_attr(feature = "serde", derive(serde::Serialize, serde::Deserialize))]
#[cfg_attr(feature = "serde", serde(default, deny_unknown_fields))]
#[derive(Debug, Clone, PartialEq)]
#[non_exhaustive]
pub struct SyncConfig {
    /// Base interval between syncs with a random member, scaled up with the
    /// cluster size (so the whole cluster's sync traffic stays bounded);
    /// zero disables periodic syncs. Shorter repairs faster and costs a
    /// stream of O(N) records each time: 30 s on a LAN, a minute across
    /// regions; at least one period.
    #[cfg_attr(feature = "serde", serde(with = "crate::config_serde::duration"))]
    pub interval: Duration,
    /// Largest sync frame, in bytes: it must hold the largest member record
    /// (with `limits.max_metadata`), at most 16 MiB. 64 KiB is plenty.
    pub frame_budget: usize,
    /// Syncs this node opens that may run at once, and, counted apart,
    /// syncs it accepts (1 to 1,024; all of those but one may be streams
    /// from one IP address that have not yet sent a valid frame). An
    /// accepted stream must deliver its first valid frame within
    /// `max(2 s, 2 × probe.timeout)` or is dropped, so connections that say
    /// nothing cannot hold the slots; and accepted syncs never take a slot
    /// this node's own anti-entropy needs. 4 suits clusters of thousands.
    pub max_concurrent: usize,
    /// Time between join attempts to the seeds (at least 1 ms): about a
    /// round trip to the farthest seed, plus its processing.
    #[cfg_attr(feature = "serde", serde(with = "crate::config_serde::duration"))]
    pub join_retry_interval: Duration,
    /// Attempts to reach the seeds before the join is reported failed (at
    /// least 1). Attempts times the interval is how long a start waits for
    /// seeds that are themselves starting.
    pub join_attempts: u32,
    /// Whether the syncs this node opens (all but a join's: periodic ones,
    /// with members held faulty or strangers, `Node::sync_with`) are
    /// *delta* syncs: a digest of the table first (about a byte per
    /// member), then only the records of the buckets where the two tables
    /// differ, both ways. On by default; a join's sync is always full. Off, every periodic sync
    /// ships both tables whole (what members of earlier releases do): turn
    /// it off only to compare the two. A member answers a delta sync in
    /// kind whatever this says.
    pub delta: bool,
}

/// Sizes: datagrams, metadata, the member table, and what is held for the
/// application.
#[cfg_attr(feature = "serde", derive(serde::Serialize, serde::Deserialize))]
#[cfg_attr(feature = "serde", serde(default, deny_unknown_fields))]
#[derive(Debug, Clone, PartialEq)]
#[non_exhaustive]
pub struct LimitsConfig {
    /// Bytes of one datagram, header (and encryption envelope) included
    /// (512 to 65,507). It is also the largest datagram a member accepts:
    /// anything larger is refused unread (`InputError::TooLarge`), so every
    /// member of a cluster must use the same budget. The default, 1400,
    /// fits an Ethernet MTU with room for IP, UDP and tunnel headers; raise
    /// it only where every path carries larger datagrams. (The runtime
    /// lowers it to what its transport carries: 1400 for its UDP transport,
    /// 1100 for QUIC.)
    pub packet_budget: usize,
    /// Largest metadata a member may carry, in bytes (at most 60,000).
    /// Metadata rides in member records: keep it small (a few hundred bytes)
    /// so that updates still share datagrams.
    pub max_metadata: usize,
    /// Largest reliable direct message, in bytes (1 to 60,000; default
    /// 32,768). It travels in one sync frame, so a smaller
    /// `sync.frame_budget` lowers it to the frame less 1 KiB (for headers
    /// and the envelope). Larger messages are refused when sent, and
    /// dropped when received. (A best-effort message is bounded by the datagram:
    /// `dissemination.max_broadcast_payload`.) The core holds a received
    /// message until the application polls it, beside its events.
    pub max_message: usize,
    /// Most application state keys this member may hold of its own
    /// (default 256; see [`Node::set_state`](crate::Node::set_state)).
    pub max_state_keys: usize,
    /// Most state entries a node holds, every member's together (default
    /// 65,536): entries beyond are dropped and counted. Every sync carries
    /// each side's whole state, so keep the state small.
    pub max_state: usize,
    /// Largest application state, in bytes, that a member sends or takes
    /// in through its [`AppState`](crate::AppState) hook in one sync (0 to
    /// 16 MiB; default 262,144). Every sync carries the state whole, both
    /// ways, in pieces within `sync.frame_budget`, and the receiver holds a
    /// peer's until it is all in (up to this much per running sync): size
    /// it to the state you expect, with room to grow. A larger state is not
    /// sent at all, and a peer's larger one is skipped (the rest of the
    /// sync goes on); both are counted in `stats.app_state_oversized`.
    pub max_app_state: usize,
    /// Members to pre-size tables for: the cluster size you expect, so that
    /// a converged node allocates nothing more (at most `max_members`).
    pub expected_members: usize,
    /// Most members the node will track (2 to 2^24); more are refused and
    /// counted. A bound on memory against a flood of fake members.
    pub max_members: usize,
    /// How long faulty and left members are remembered before being reaped.
    /// While remembered, faulty members are occasionally contacted for a
    /// sync, which is how a cluster split by a partition merges again: keep
    /// it longer than the partitions you expect to heal from (at least one
    /// period).
    #[cfg_attr(feature = "serde", serde(with = "crate::config_serde::duration"))]
    pub tombstone_ttl: Duration,
    /// Events held for the application (16 to 2^20): between two polls in
    /// the core, and for each subscriber in the runtime; a subscriber
    /// further behind loses the oldest. Raise it if subscribers lag during
    /// mass joins.
    pub event_capacity: usize,
}

/// Who is believed: encryption, rate limits on what strangers can ask, and
/// how names are bound to addresses.
#[cfg_attr(feature = "serde", derive(serde::Serialize, serde::Deserialize))]
#[cfg_attr(feature = "serde", serde(default, deny_unknown_fields))]
#[derive(Debug, Clone, PartialEq)]
#[non_exhaustive]
pub struct SecurityConfig {
    /// Encryption of packets (`None`: plaintext, which a member on a
    /// network address should never run).
    pub encryption: Option<Encryption>,
    /// Plaintext join requests accepted per second from one source (an IPv4
    /// address, an IPv6 /64). Sealed requests come from key holders and are
    /// not limited. Raise it for plaintext test clusters that start many
    /// members on one host at once; zero `per_second` turns it off.
    pub join_rate: RateLimit,
    /// Sync streams accepted per second from one source (an IPv4 address,
    /// an IPv6 /64), counting only streams that never deliver a valid first
    /// frame (a proven stream gives its attempt back): it bounds how fast a
    /// source can hold sync slots with junk, never how often members sync.
    pub sync_rate: RateLimit,
    /// Peers prove their names (the runtime sets it when its transport
    /// does: QUIC, whose certificates name their members, with datagrams
    /// handed in through [`Node::handle_datagram_proven`](crate::Node::handle_datagram_proven)).
    /// A member's address then moves only on the member's own word: an
    /// alive update that puts a name at another address is taken only from
    /// that member itself, never second hand (gossip, syncs). Leave it off
    /// otherwise: with a shared key anyone may speak for any name, and
    /// refusing second-hand moves would only slow legitimate ones.
    pub names_proven: bool,
    /// How long a name stays at its address once its member is faulty or
    /// left (memberlist's `DeadNodeReclaimTime`). With `Some(d)`, a newer
    /// process of a name at another address is a name conflict, refused,
    /// until the entry at the old address has been faulty or left for `d`;
    /// so a holder of a shared key cannot move a live member's name to
    /// itself, at the price of a restart elsewhere waiting for the old
    /// process's verdict and `d`. `None` (the default): a newer process
    /// moves the name at once (restarts on new addresses, as in Kubernetes,
    /// rejoin in one round trip). Under QUIC names are proven
    /// (`names_proven`) and this is not needed.
    #[cfg_attr(
        feature = "serde",
        serde(with = "crate::config_serde::option_duration", skip_serializing_if = "Option::is_none")
    )]
    pub reclaim_time: Option<Duration>,
    /// The networks members may be in (memberlist's `CIDRsAllowed`); empty
    /// (the default): every address. A datagram from an address outside
    /// them is refused unread, and so is a sync stream (over TCP when it
    /// connects; over QUIC after its handshake); a member that gives an
    /// address outside them is never added (nor moved there), and a joiner
    /// that does is answered that it is not admitted; `join` skips seeds
    /// outside them, and a node whose own address is outside them does not
    /// start. An allow-list is a fence, not a lock: source addresses can be
    /// forged, so it keeps strangers' traffic and a key holder's mistakes
    /// out of the table, and encryption keeps out the rest. Every member
    /// should hold the same list: one that admits a member another refuses
    /// makes the two disagree about it for as long as it is a member.
    ///
    /// ```
    /// use swim_protocol::Config;
    /// let config = Config::lan().with(|c| {
    ///     c.security.allowed_networks = vec!["10.0.0.0/8".parse().unwrap(), "fd00::/8".parse().unwrap()];
    /// });
    /// assert!(config.validate().is_ok());
    /// ```
    #[cfg_attr(feature = "serde", serde(skip_serializing_if = "Vec::is_empty"))]
    pub allowed_networks: Vec<super::Network>,
}

/// How updates about members reach the cluster.
#[cfg_attr(feature = "serde", derive(serde::Serialize, serde::Deserialize))]
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum DisseminationStyle {
    /// Infection style: updates ride on pings, acks and other protocol
    /// messages, `λ · ⌈log10(N + 1)⌉` times each (SWIM's design; the only
    /// sensible choice in production).
    #[default]
    Infection,
    /// **For reproducing the SWIM paper only.** "SWIM basic": the member that makes a verdict, refutes, joins a new
    /// member or leaves sends the update once to every member it knows, in
    /// a datagram of its own (best-effort multicast over unicast); received
    /// updates are not passed on. O(N) datagrams per update; kept to
    /// reproduce the SWIM paper's comparison. User broadcasts still ride on
    /// protocol messages.
    Multicast,
}

/// How a member picks whom to probe each period ([`ProbeConfig::selection`]).
///
/// ```
/// use swim_protocol::{Config, ProbeSelection};
/// let config = Config::lan().with(|c| {
///     c.probe.selection = ProbeSelection::Kademlia;
///     c.probe.direct = 2;
/// });
/// assert!(config.validate().is_ok());
/// ```
#[cfg_attr(feature = "serde", derive(serde::Serialize, serde::Deserialize))]
#[cfg_attr(feature = "serde", serde(rename_all = "lowercase"))]
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum ProbeSelection {
    /// SWIM's randomized round robin over every member: each is probed
    /// once per round, within `2N − 1` picks.
    #[default]
    Shuffle,
    /// Buckets by XOR distance between ordering ids (Kademlia's metric):
    /// symmetric, so the members that probe a member most are the ones it
    /// probes most.
    Kademlia,
    /// Buckets by clockwise distance on the ring of ordering ids (Chord's
    /// metric): a member's nearest are the ones just after it.
    Chord,
}

/// How the minimum suspicion timeout grows with the cluster size `N`.
#[cfg_attr(feature = "serde", derive(serde::Serialize, serde::Deserialize))]
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum SuspicionScale {
    /// `α · log10(max(N, 2)) · T`: smooth growth (as in Lifeguard and
    /// memberlist).
    #[default]
    Log10,
    /// **For reproducing the SWIM paper only.** `α · ⌈log10(N + 1)⌉ · T`: whole steps, the SWIM paper's
    /// `3⌈log(N+1)⌉` periods with α = 3.
    CeilLog10,
}

macro_rules! default_from_lan {
    ($($group:ident => $field:ident),*) => {$(
        /// The [`Config::lan`] values.
        impl Default for $group {
            fn default() -> Self {
                Config::lan().$field
            }
        }
    )*};
}

default_from_lan!(
    ProbeConfig => probe,
    SuspicionConfig => suspicion,
    DisseminationConfig => dissemination,
    SyncConfig => sync,
    LimitsConfig => limits,
    SecurityConfig => security
);
