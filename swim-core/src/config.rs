//! The core's configuration: presets for common networks and validation of
//! every knob.

use core::fmt;
use core::time::Duration;

use swim_wire::crypto::{KEY_LEN, MAX_KEYS, OVERHEAD, key_id};
use swim_wire::{DEFAULT_BUDGET, MAX_LABEL_LEN, MIN_PROTOCOL_VERSION, PROTOCOL_VERSION};

pub use crate::limits::RateLimit;

/// A 256-bit cluster key for AES-256-GCM. Its `Debug` shows only its id, so
/// keys do not end up in logs; its bytes are zeroed when it is dropped.
///
/// Keys are written as 64 hexadecimal digits (what a key file holds):
///
/// ```
/// use swim_protocol::SecretKey;
/// let key = SecretKey::generate().unwrap();
/// let text = key.to_hex();
/// assert_eq!(text.len(), 64);
/// assert_eq!(text.parse::<SecretKey>().unwrap(), key);
/// assert!(format!("{key:?}").starts_with("SecretKey(id "));
/// assert!(!format!("{key:?}").contains(&text[..8]));
/// assert!("not a key".parse::<SecretKey>().is_err());
/// ```
#[derive(Clone, PartialEq, Eq)]
pub struct SecretKey(pub [u8; KEY_LEN]);

impl SecretKey {
    /// The key's id, as carried in packet headers.
    pub fn id(&self) -> u32 {
        key_id(&self.0)
    }

    /// A new key from the operating system's random source.
    pub fn generate() -> Result<Self, swim_wire::crypto::RandomError> {
        let mut key = SecretKey([0; KEY_LEN]);
        swim_wire::crypto::fill_random(&mut key.0)?;
        Ok(key)
    }

    /// The key as 64 lowercase hexadecimal digits.
    pub fn to_hex(&self) -> String {
        const DIGITS: &[u8; 16] = b"0123456789abcdef";
        let mut out = String::with_capacity(2 * KEY_LEN);
        for byte in self.0 {
            for nibble in [byte >> 4, byte & 0x0f] {
                out.push(char::from(DIGITS.get(usize::from(nibble)).copied().unwrap_or(b'0')));
            }
        }
        out
    }
}

impl Drop for SecretKey {
    fn drop(&mut self) {
        zeroize::Zeroize::zeroize(&mut self.0);
    }
}

/// Why a text is not a key.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum KeyParseError {
    /// The text (whitespace around it aside) is not 64 characters long.
    Length(usize),
    /// The character at this position is not a hexadecimal digit.
    NotHex(usize),
}

impl fmt::Display for KeyParseError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            KeyParseError::Length(len) => {
                write!(f, "a key is {} hexadecimal digits, found {len} characters", 2 * KEY_LEN)
            }
            KeyParseError::NotHex(at) => write!(f, "character {at} of the key is not a hexadecimal digit"),
        }
    }
}

impl std::error::Error for KeyParseError {}

impl core::str::FromStr for SecretKey {
    type Err = KeyParseError;

    /// Reads 64 hexadecimal digits (either case); whitespace around them,
    /// such as a key file's final newline, is ignored.
    fn from_str(text: &str) -> Result<Self, KeyParseError> {
        let digits = text.trim().as_bytes();
        if digits.len() != 2 * KEY_LEN {
            return Err(KeyParseError::Length(text.trim().chars().count()));
        }
        let value = |at: usize| -> Result<u8, KeyParseError> {
            let c = digits.get(at).copied().unwrap_or(0);
            char::from(c).to_digit(16).and_then(|d| u8::try_from(d).ok()).ok_or(KeyParseError::NotHex(at))
        };
        let mut key = SecretKey([0; KEY_LEN]);
        for (i, byte) in key.0.iter_mut().enumerate() {
            *byte = value(2 * i)? << 4 | value(2 * i + 1)?;
        }
        Ok(key)
    }
}

impl fmt::Debug for SecretKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "SecretKey(id {:08x})", self.id())
    }
}

/// Encryption of every datagram and sync frame (AES-256-GCM).
///
/// Moving a running cluster from plaintext to encryption, without downtime:
/// 1. give every member the keys with `encrypt_outgoing: false,
///    accept_plaintext: true` (all still send plaintext, all can open);
/// 2. then `encrypt_outgoing: true` everywhere (all send sealed, still
///    accepting plaintext from members not yet restarted);
/// 3. then `accept_plaintext: false` everywhere.
///
/// The reverse order turns encryption off. Keys rotate at runtime with
/// [`Node::add_key`](crate::Node::add_key), [`Node::use_key`](crate::Node::use_key)
/// and [`Node::remove_key`](crate::Node::remove_key).
///
/// ```
/// use swim_protocol::{Config, Encryption, SecretKey};
/// let config = Config {
///     // Nonces are drawn by the node itself, from the operating system.
///     encryption: Some(Encryption::new(SecretKey([7; 32]))),
///     ..Config::lan()
/// };
/// assert!(config.validate().is_ok());
/// ```
#[cfg_attr(feature = "serde", derive(serde::Serialize, serde::Deserialize))]
#[cfg_attr(feature = "serde", serde(deny_unknown_fields))]
#[derive(Debug, Clone, PartialEq)]
pub struct Encryption {
    /// Installed keys; the first seals, all open.
    pub keys: Vec<SecretKey>,
    /// Whether outgoing packets are sealed.
    #[cfg_attr(feature = "serde", serde(default = "crate::config_serde::yes"))]
    pub encrypt_outgoing: bool,
    /// Whether plaintext packets are accepted.
    #[cfg_attr(feature = "serde", serde(default))]
    pub accept_plaintext: bool,
    /// Packets whose sender clock differs from this node's by more than this
    /// are refused (replay protection; members' clocks must agree that well).
    #[cfg_attr(
        feature = "serde",
        serde(with = "crate::config_serde::duration", default = "crate::config_serde::minute")
    )]
    pub max_age: Duration,
}

impl Encryption {
    /// Encryption with one key: seal everything, accept nothing unsealed,
    /// refuse packets a minute off.
    ///
    /// There is no nonce setting: every node draws its own nonce epoch from
    /// the operating system when it is created, so no configuration (a
    /// constant copied between members, or kept across restarts) can make
    /// two packets share a nonce under one key.
    pub fn new(key: SecretKey) -> Self {
        Encryption {
            keys: vec![key],
            encrypt_outgoing: true,
            accept_plaintext: false,
            max_age: Duration::from_secs(60),
        }
    }
}

/// How updates about members reach the cluster.
#[cfg_attr(feature = "serde", derive(serde::Serialize, serde::Deserialize))]
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Dissemination {
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

/// Every tunable of the protocol. Start from a preset ([`Config::lan`],
/// [`Config::wan`], [`Config::local`]) and change what you need;
/// [`Config::validate`] (also run by [`Node::new`](crate::Node::new)) refuses
/// values that cannot work, naming the field.
///
/// ```
/// use core::time::Duration;
/// use swim_protocol::Config;
/// let mut config = Config::lan();
/// config.indirect_probes = 5;
/// assert!(config.validate().is_ok());
/// config.probe_timeout = Duration::from_secs(2); // longer than the period
/// let err = config.validate().unwrap_err();
/// assert_eq!(err.field(), "probe_timeout");
/// ```
#[cfg_attr(feature = "serde", derive(serde::Serialize, serde::Deserialize))]
#[cfg_attr(feature = "serde", serde(default, deny_unknown_fields))]
#[derive(Debug, Clone, PartialEq)]
pub struct Config {
    /// Seed of the node's random choices (probe order, helpers, sync peers).
    /// Give each node its own; the same seed and inputs replay the same run.
    pub seed: u64,
    /// This process's generation: every later process of the same member
    /// name must use a larger one. A member's updates are ordered by
    /// generation first, so a restarted process (on the same address or a
    /// new one) supersedes the old one at once, and its broadcasts are
    /// numbered afresh. The `swim` builder sets it to the wall clock at
    /// start, in microseconds since the Unix epoch, when it is 0; choose it
    /// yourself only if you can guarantee the order across restarts.
    pub generation: u64,
    /// Cluster label carried in every packet header; packets with another
    /// label are refused, so two clusters sharing ports never merge.
    #[cfg_attr(feature = "serde", serde(with = "crate::config_serde::label"))]
    pub label: Vec<u8>,
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
    /// ([`names_proven`](Config::names_proven)) and this is not needed.
    #[cfg_attr(
        feature = "serde",
        serde(with = "crate::config_serde::option_duration", skip_serializing_if = "Option::is_none")
    )]
    pub reclaim_time: Option<Duration>,

    /// The protocol period T: one round of probing.
    #[cfg_attr(feature = "serde", serde(with = "crate::config_serde::duration"))]
    pub protocol_period: Duration,
    /// Time to wait for a direct ack before asking helpers (initial value;
    /// see `adaptive_probe_timeout`).
    #[cfg_attr(feature = "serde", serde(with = "crate::config_serde::duration"))]
    pub probe_timeout: Duration,
    /// Lower bound for an adapted probe timeout.
    #[cfg_attr(feature = "serde", serde(with = "crate::config_serde::duration"))]
    pub min_probe_timeout: Duration,
    /// Upper bound for an adapted probe timeout. With Lifeguard, a helper
    /// nacks at 80% of the prober's timeout, and the nack must arrive before
    /// the period ends: `1.8 × max_probe_timeout` must stay within 95% of
    /// the period.
    #[cfg_attr(feature = "serde", serde(with = "crate::config_serde::duration"))]
    pub max_probe_timeout: Duration,
    /// Whether the node measures round trips and proposes a probe timeout of
    /// their 99th percentile plus 10% (the runtime applies it).
    pub adaptive_probe_timeout: bool,
    /// Each period lasts `protocol_period × (1 + period_jitter × u)` for a
    /// random `u` in `[0, 1)`, so that members started together do not
    /// probe in lockstep (0 to 0.5).
    pub period_jitter: f64,
    /// A timer that fires more than this late counts as local overload and
    /// raises the health score (Lifeguard); zero turns the check off. A
    /// tenth of the period in the presets.
    #[cfg_attr(feature = "serde", serde(with = "crate::config_serde::duration"))]
    pub overload_threshold: Duration,
    /// Members probed directly each period.
    pub direct_probes: usize,
    /// Helpers asked to probe indirectly (K).
    pub indirect_probes: usize,

    /// Whether a failed probe makes the target *suspect* (refutable) rather
    /// than faulty at once. Keep it on: off is **for reproducing the SWIM
    /// paper's comparison only** (one lost probe then condemns a member).
    pub suspicion: bool,
    /// α: the minimum suspicion timeout is `α · log10(max(N, 2)) · T` (or
    /// see `suspicion_scale`).
    pub suspicion_mult: u32,
    /// How the minimum suspicion timeout follows the cluster size.
    pub suspicion_scale: SuspicionScale,
    /// β: the suspicion timeout starts at `β ·` the minimum and falls towards
    /// the minimum as independent confirmations arrive.
    pub suspicion_max_mult: u32,
    /// Lifeguard: local health scaling probes, dynamic suspicion timeouts,
    /// nacks from helpers, and the buddy system. Keep it on: off is **for
    /// reproducing the papers' comparisons only** (a slow member then
    /// accuses healthy ones).
    pub lifeguard: bool,
    /// S: the highest local health score; probe interval and timeout are
    /// multiplied by `score + 1`.
    pub max_health: u8,

    /// λ: each update is sent at most `λ · ⌈log10(N + 1)⌉` times.
    pub retransmit_mult: u32,
    /// How member updates are disseminated.
    pub dissemination: Dissemination,
    /// Between probes, every `gossip_interval`, queued updates also go to
    /// `gossip_fanout` random members in datagrams of their own (as
    /// memberlist does): news spreads several times faster than on probes
    /// alone. Nothing is sent while the queue is empty, so a quiet cluster's
    /// load stays two datagrams per member and period. Zero turns it off.
    #[cfg_attr(feature = "serde", serde(with = "crate::config_serde::duration"))]
    pub gossip_interval: Duration,
    /// Members each gossip round sends to.
    pub gossip_fanout: usize,
    /// Bytes of one datagram, header (and encryption envelope) included.
    /// It is also the largest datagram a member accepts: anything larger is
    /// refused unread (`InputError::TooLarge`), so every member of a cluster
    /// must use the same budget. The default, 1400, fits an Ethernet MTU
    /// with room for IP, UDP and tunnel headers. (The runtime lowers it to
    /// what its transport carries: 1400 for its UDP transport, 1100 for
    /// QUIC.)
    pub packet_budget: usize,

    /// Largest metadata a member may carry.
    pub max_metadata: usize,
    /// Members to pre-size tables for.
    pub expected_members: usize,
    /// Most members the node will track; more are refused and counted.
    pub max_members: usize,
    /// How long faulty and left members are remembered before being reaped.
    /// While remembered, faulty members are occasionally contacted for a
    /// sync, which is how a cluster split by a partition merges again: keep
    /// it longer than the partitions you expect to heal from.
    #[cfg_attr(feature = "serde", serde(with = "crate::config_serde::duration"))]
    pub tombstone_ttl: Duration,

    /// Base interval between syncs with a random member (scaled up with the
    /// cluster size); zero disables periodic syncs.
    #[cfg_attr(feature = "serde", serde(with = "crate::config_serde::duration"))]
    pub sync_interval: Duration,
    /// Largest sync frame, in bytes.
    pub sync_frame_budget: usize,
    /// Syncs this node opens that may run at once, and, counted apart,
    /// syncs it accepts (all of those but one may be streams from one IP
    /// address that have not yet sent a valid frame). An
    /// accepted stream must deliver its first valid frame within
    /// `max(2 s, 2 × probe_timeout)` or is dropped, so connections that say
    /// nothing cannot hold the slots; and accepted syncs never take a slot
    /// this node's own anti-entropy needs.
    pub max_concurrent_syncs: usize,
    /// Time between join attempts to the seeds.
    #[cfg_attr(feature = "serde", serde(with = "crate::config_serde::duration"))]
    pub join_retry_interval: Duration,
    /// Attempts to reach the seeds before the join is reported failed.
    pub join_attempts: u32,

    /// Largest user broadcast payload.
    pub max_broadcast_payload: usize,
    /// User broadcasts the node holds at once, for dissemination and for
    /// repair (see `broadcast_lifetime`). Size it above your cluster's
    /// broadcast rate times the lifetime: when it runs out, the retained
    /// broadcasts closest to the end of their lifetime go first (counted in
    /// `Stats::broadcasts_evicted`).
    pub broadcast_capacity: usize,
    /// How long a broadcast lives from the moment it is sent. Every member
    /// that has it holds it until then (gossip takes the first periods), and
    /// syncs carry the broadcasts each side holds, so a member that gossip
    /// missed gets them at its next sync; nobody passes one on after its
    /// lifetime. Keep it above a few (scaled) sync intervals, so that repair
    /// gets its chance, and below `tombstone_ttl`, so that a broadcast is
    /// gone before its origin's deduplication state can be forgotten. Give
    /// every member the same value: a received broadcast carries what is
    /// left of its sender's lifetime, and a node holds it no longer than its
    /// own.
    #[cfg_attr(feature = "serde", serde(with = "crate::config_serde::duration"))]
    pub broadcast_lifetime: Duration,
    /// Events held for the application before the oldest are dropped.
    pub event_capacity: usize,

    /// Encryption of packets (`None`: plaintext).
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

    /// Protocol version written in headers.
    pub protocol_version: u8,
    /// Oldest protocol version accepted.
    pub min_protocol_version: u8,
    /// Newest protocol version accepted.
    pub max_protocol_version: u8,
}

impl Config {
    /// A local network: T = 1 s, probe timeout 500 ms, K = 3, α = 4, β = 6,
    /// λ = 4, gossip rounds every 500 ms, sync every 30 s, broadcasts live
    /// 90 s, tombstones kept 5 minutes.
    pub fn lan() -> Self {
        Config {
            seed: 0,
            generation: 0,
            label: Vec::new(),
            names_proven: false,
            reclaim_time: None,
            protocol_period: Duration::from_secs(1),
            probe_timeout: Duration::from_millis(500),
            min_probe_timeout: Duration::from_millis(50),
            max_probe_timeout: Duration::from_millis(520),
            adaptive_probe_timeout: true,
            period_jitter: 0.1,
            overload_threshold: Duration::from_millis(100),
            direct_probes: 1,
            indirect_probes: 3,
            suspicion: true,
            suspicion_mult: 4,
            suspicion_scale: SuspicionScale::Log10,
            suspicion_max_mult: 6,
            lifeguard: true,
            max_health: 8,
            retransmit_mult: 4,
            dissemination: Dissemination::Infection,
            gossip_interval: Duration::from_millis(500),
            gossip_fanout: 3,
            packet_budget: DEFAULT_BUDGET,
            max_metadata: 512,
            expected_members: 64,
            max_members: 1 << 20,
            tombstone_ttl: Duration::from_secs(300),
            sync_interval: Duration::from_secs(30),
            sync_frame_budget: 64 * 1024,
            max_concurrent_syncs: 4,
            join_retry_interval: Duration::from_secs(1),
            join_attempts: 10,
            max_broadcast_payload: 1024,
            broadcast_capacity: 256,
            broadcast_lifetime: Duration::from_secs(90),
            event_capacity: 1024,
            encryption: None,
            join_rate: RateLimit { per_second: 10, burst: 20 },
            sync_rate: RateLimit { per_second: 5, burst: 10 },
            protocol_version: PROTOCOL_VERSION,
            min_protocol_version: MIN_PROTOCOL_VERSION,
            max_protocol_version: PROTOCOL_VERSION,
        }
    }

    /// A wide-area network: T = 5 s, probe timeout 2.5 s, α = 6, gossip
    /// rounds every 2.5 s, sync every 60 s, broadcasts live 3 minutes,
    /// tombstones kept 30 minutes.
    pub fn wan() -> Self {
        Config {
            protocol_period: Duration::from_secs(5),
            probe_timeout: Duration::from_millis(2500),
            min_probe_timeout: Duration::from_millis(200),
            max_probe_timeout: Duration::from_millis(2600),
            overload_threshold: Duration::from_millis(500),
            suspicion_mult: 6,
            gossip_interval: Duration::from_millis(2500),
            sync_interval: Duration::from_secs(60),
            broadcast_lifetime: Duration::from_secs(180),
            tombstone_ttl: Duration::from_secs(1800),
            join_retry_interval: Duration::from_secs(3),
            ..Config::lan()
        }
    }

    /// One host or a fast test network: T = 200 ms, probe timeout 100 ms,
    /// α = 3, gossip rounds every 100 ms, sync every 5 s, broadcasts live
    /// 15 s, tombstones kept 30 s.
    pub fn local() -> Self {
        Config {
            protocol_period: Duration::from_millis(200),
            probe_timeout: Duration::from_millis(100),
            min_probe_timeout: Duration::from_millis(10),
            max_probe_timeout: Duration::from_millis(105),
            overload_threshold: Duration::from_millis(20),
            suspicion_mult: 3,
            gossip_interval: Duration::from_millis(100),
            sync_interval: Duration::from_secs(5),
            broadcast_lifetime: Duration::from_secs(15),
            tombstone_ttl: Duration::from_secs(30),
            join_retry_interval: Duration::from_millis(200),
            ..Config::lan()
        }
    }

    /// The SWIM paper's settings (Das, Gupta and Motivala, 2002): T = 2 s,
    /// K = 1 helper, updates sent `3⌈log10(N + 1)⌉` times, a fixed suspicion
    /// timeout of `3⌈log10(N + 1)⌉` periods, no Lifeguard, no gossip rounds,
    /// no periodic sync (so no broadcast repair), broadcasts live a minute,
    /// no period jitter; the rest as [`Config::lan`]. **For reproducing the
    /// paper's experiments only, not for production**: Lifeguard makes a
    /// real cluster markedly more robust.
    ///
    /// ```
    /// use core::time::Duration;
    /// use swim_protocol::Config;
    /// let paper = Config::swim_paper();
    /// assert_eq!((paper.protocol_period, paper.indirect_probes), (Duration::from_secs(2), 1));
    /// assert!(!paper.lifeguard && paper.validate().is_ok());
    /// ```
    pub fn swim_paper() -> Self {
        Config {
            protocol_period: Duration::from_secs(2),
            probe_timeout: Duration::from_millis(500),
            max_probe_timeout: Duration::from_millis(1000),
            adaptive_probe_timeout: false,
            period_jitter: 0.0,
            overload_threshold: Duration::from_millis(200),
            indirect_probes: 1,
            suspicion_mult: 3,
            suspicion_scale: SuspicionScale::CeilLog10,
            lifeguard: false,
            retransmit_mult: 3,
            gossip_interval: Duration::ZERO,
            sync_interval: Duration::ZERO,
            broadcast_lifetime: Duration::from_secs(60),
            ..Config::lan()
        }
    }

    /// Checks every knob; the error names the first field that cannot work.
    pub fn validate(&self) -> Result<(), ConfigError> {
        let fail = |field, reason| Err(ConfigError::new(field, reason));
        // Bytes the encryption envelope adds to every packet and frame.
        let envelope = if self.encryption.is_some() { OVERHEAD } else { 0 };
        let ms = Duration::from_millis(1);
        if self.label.len() > MAX_LABEL_LEN {
            return fail("label", "is longer than 128 bytes");
        }
        if self.protocol_period < ms * 10 {
            return fail("protocol_period", "must be at least 10 ms");
        }
        if self.protocol_period > Duration::from_secs(3600) {
            return fail("protocol_period", "must be at most an hour");
        }
        if self.probe_timeout.is_zero() || self.probe_timeout >= self.protocol_period {
            return fail("probe_timeout", "must be positive and shorter than protocol_period");
        }
        if self.min_probe_timeout.is_zero() || self.min_probe_timeout > self.probe_timeout {
            return fail("min_probe_timeout", "must be positive and at most probe_timeout");
        }
        if self.max_probe_timeout < self.probe_timeout || self.max_probe_timeout >= self.protocol_period {
            return fail("max_probe_timeout", "must be at least probe_timeout and shorter than protocol_period");
        }
        // A helper nacks at 80% of the prober's timeout; the prober waits
        // for it until its period ends (with 5% of the period for the trip).
        if self.lifeguard && self.max_probe_timeout.mul_f64(1.8) > self.protocol_period.mul_f64(0.95) {
            return fail(
                "max_probe_timeout",
                "leaves no time for nacks: 1.8 × max_probe_timeout must be within 95% of protocol_period",
            );
        }
        if !(0.0..=0.5).contains(&self.period_jitter) {
            return fail("period_jitter", "must be between 0 and 0.5");
        }
        if self.generation > swim_wire::MAX_GENERATION {
            return fail("generation", "must be below 2^62 (microseconds since 1970 are far below)");
        }
        if !(1..=16).contains(&self.direct_probes) {
            return fail("direct_probes", "must be between 1 and 16");
        }
        if self.indirect_probes > 16 {
            return fail("indirect_probes", "must be at most 16");
        }
        if !(1..=100).contains(&self.suspicion_mult) {
            return fail("suspicion_mult", "must be between 1 and 100");
        }
        if !(1..=100).contains(&self.suspicion_max_mult) {
            return fail("suspicion_max_mult", "must be between 1 and 100");
        }
        if self.max_health > 32 {
            return fail("max_health", "must be at most 32");
        }
        if !(1..=20).contains(&self.retransmit_mult) {
            return fail("retransmit_mult", "must be between 1 and 20");
        }
        if !(512..=65_507).contains(&self.packet_budget) {
            return fail("packet_budget", "must be between 512 and 65507 bytes");
        }
        if self.max_metadata > 60_000 {
            return fail("max_metadata", "must be at most 60000 bytes");
        }
        if self.max_members < 2 || self.max_members > 1 << 24 {
            return fail("max_members", "must be between 2 and 16777216");
        }
        if self.expected_members > self.max_members {
            return fail("expected_members", "must be at most max_members");
        }
        if self.tombstone_ttl < self.protocol_period {
            return fail("tombstone_ttl", "must be at least one protocol_period");
        }
        if !self.gossip_interval.is_zero() && self.gossip_interval < ms * 5 {
            return fail("gossip_interval", "must be zero (off) or at least 5 ms");
        }
        if !(1..=16).contains(&self.gossip_fanout) {
            return fail("gossip_fanout", "must be between 1 and 16");
        }
        if self.broadcast_lifetime >= self.tombstone_ttl || self.broadcast_lifetime < self.protocol_period * 4 {
            return fail("broadcast_lifetime", "must be at least 4 protocol periods and shorter than tombstone_ttl");
        }
        if self.broadcast_lifetime > Duration::from_secs(86_400) {
            return fail("broadcast_lifetime", "must be at most a day");
        }
        if !self.sync_interval.is_zero() && self.sync_interval < self.protocol_period {
            return fail("sync_interval", "must be zero (off) or at least one protocol_period");
        }
        // Item header, state, generation, incarnation, name, addresses,
        // metadata, accuser.
        let largest_record = 3 + 1 + 8 + 4 + (1 + 255) + (1 + 16 * 23) + (2 + self.max_metadata) + (1 + 255);
        if self.sync_frame_budget < 4 + 512 + largest_record + envelope || self.sync_frame_budget > 16 << 20 {
            return fail("sync_frame_budget", "must hold the largest member record, and be at most 16 MiB");
        }
        if !(1..=1024).contains(&self.max_concurrent_syncs) {
            return fail("max_concurrent_syncs", "must be between 1 and 1024");
        }
        if self.join_retry_interval < ms {
            return fail("join_retry_interval", "must be at least 1 ms");
        }
        if self.join_attempts == 0 {
            return fail("join_attempts", "must be at least 1");
        }
        if self.max_broadcast_payload + 300 + envelope > self.packet_budget {
            return fail("max_broadcast_payload", "must leave room for headers (and encryption) in packet_budget");
        }
        if !(1..=65_536).contains(&self.broadcast_capacity) {
            return fail("broadcast_capacity", "must be between 1 and 65536");
        }
        if !(16..=1 << 20).contains(&self.event_capacity) {
            return fail("event_capacity", "must be between 16 and 1048576");
        }
        if self.min_protocol_version > self.max_protocol_version
            || !(self.min_protocol_version..=self.max_protocol_version).contains(&self.protocol_version)
        {
            return fail("protocol_version", "must lie within min_protocol_version..=max_protocol_version");
        }
        if self.min_protocol_version < MIN_PROTOCOL_VERSION {
            return fail("min_protocol_version", "is older than this crate can read");
        }
        if let Some(e) = &self.encryption {
            if e.keys.is_empty() || e.keys.len() > MAX_KEYS {
                return fail("encryption.keys", "must hold 1 to 8 keys");
            }
            if e.keys.iter().enumerate().any(|(i, k)| e.keys.iter().skip(i + 1).any(|o| o.id() == k.id())) {
                return fail("encryption.keys", "holds two keys with the same id");
            }
            if e.max_age < Duration::from_secs(1) || e.max_age > Duration::from_secs(86_400) {
                return fail("encryption.max_age", "must be between 1 s and a day");
            }
            if !e.encrypt_outgoing && !e.accept_plaintext {
                return fail("encryption", "must accept plaintext while sending plaintext");
            }
        }
        for (field, rate) in [("join_rate", self.join_rate), ("sync_rate", self.sync_rate)] {
            if rate.per_second > 0 && rate.burst == 0 {
                return fail(field, "needs a burst of at least 1 when limited");
            }
        }
        Ok(())
    }
}

#[cfg(feature = "serde")]
impl Config {
    /// Serialises the configuration with its secret keys in clear (plain
    /// serialisation writes each key as `"redacted:<id>"`). For writing the
    /// file that holds the keys, readable by the service alone.
    ///
    /// ```
    /// # fn main() -> Result<(), serde_json::Error> {
    /// use swim_protocol::{Config, Encryption, SecretKey};
    /// let key = SecretKey([7; 32]);
    /// let config = Config { encryption: Some(Encryption::new(key.clone())), ..Config::lan() };
    /// assert!(!serde_json::to_string(&config)?.contains(&key.to_hex()));
    /// let mut text = Vec::new();
    /// config.serialize_with_keys(&mut serde_json::Serializer::new(&mut text))?;
    /// assert_eq!(serde_json::from_slice::<Config>(&text)?, config);
    /// # Ok(()) }
    /// ```
    pub fn serialize_with_keys<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        let _reveal = crate::config_serde::RevealGuard::new();
        serde::Serialize::serialize(self, serializer)
    }
}

impl Default for Config {
    fn default() -> Self {
        Config::lan()
    }
}

/// A configuration value that cannot work. Nothing was changed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ConfigError {
    field: &'static str,
    reason: &'static str,
    environment: bool,
}

impl ConfigError {
    pub(crate) const fn new(field: &'static str, reason: &'static str) -> Self {
        ConfigError { field, reason, environment: false }
    }

    /// The setting is fine but the host could not provide what it needs
    /// (the operating system's random source, for the nonce epoch).
    pub(crate) const fn environment(field: &'static str, reason: &'static str) -> Self {
        ConfigError { field, reason, environment: true }
    }

    /// An error about a setting outside [`Config`] (for example a runtime
    /// option), in the same shape.
    pub const fn runtime(field: &'static str, reason: &'static str) -> Self {
        ConfigError { field, reason, environment: false }
    }

    /// Whether the host is at fault rather than the value: the setting
    /// needs something the operating system failed to provide (its random
    /// source). Retrying later may succeed; changing the value will not help.
    pub fn is_environment(&self) -> bool {
        self.environment
    }

    /// The field at fault, as named in [`Config`].
    pub fn field(&self) -> &'static str {
        self.field
    }

    /// What is wrong with it.
    pub fn reason(&self) -> &'static str {
        self.reason
    }
}

impl fmt::Display for ConfigError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.environment {
            write!(f, "the host failed: `{}` {}", self.field, self.reason)
        } else {
            write!(f, "invalid config: `{}` {}", self.field, self.reason)
        }
    }
}

impl std::error::Error for ConfigError {}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn presets_are_valid() {
        for config in [Config::lan(), Config::wan(), Config::local(), Config::swim_paper()] {
            assert_eq!(config.validate(), Ok(()));
        }
        assert!(Config::wan().protocol_period > Config::lan().protocol_period);
        assert!(Config::local().protocol_period < Config::lan().protocol_period);
    }

    #[test]
    fn every_knob_is_checked() {
        type Edit = fn(&mut Config);
        let cases: &[(&str, Edit)] = &[
            ("label", |c| c.label = vec![b'x'; 129]),
            ("protocol_period", |c| c.protocol_period = Duration::from_millis(5)),
            ("protocol_period", |c| c.protocol_period = Duration::from_secs(4000)),
            ("probe_timeout", |c| c.probe_timeout = Duration::ZERO),
            ("probe_timeout", |c| c.probe_timeout = c.protocol_period),
            ("min_probe_timeout", |c| c.min_probe_timeout = c.probe_timeout * 2),
            ("max_probe_timeout", |c| c.max_probe_timeout = c.protocol_period),
            ("max_probe_timeout", |c| c.max_probe_timeout = c.protocol_period * 6 / 10),
            ("period_jitter", |c| c.period_jitter = 0.7),
            ("generation", |c| c.generation = u64::MAX),
            ("gossip_interval", |c| c.gossip_interval = Duration::from_millis(1)),
            ("gossip_fanout", |c| c.gossip_fanout = 0),
            ("broadcast_lifetime", |c| c.broadcast_lifetime = c.tombstone_ttl),
            ("broadcast_lifetime", |c| c.broadcast_lifetime = c.protocol_period),
            ("direct_probes", |c| c.direct_probes = 0),
            ("indirect_probes", |c| c.indirect_probes = 17),
            ("suspicion_mult", |c| c.suspicion_mult = 0),
            ("suspicion_max_mult", |c| c.suspicion_max_mult = 0),
            ("max_health", |c| c.max_health = 33),
            ("retransmit_mult", |c| c.retransmit_mult = 0),
            ("packet_budget", |c| c.packet_budget = 100),
            ("max_metadata", |c| c.max_metadata = 70_000),
            ("max_members", |c| c.max_members = 1),
            ("expected_members", |c| c.expected_members = c.max_members + 1),
            ("tombstone_ttl", |c| c.tombstone_ttl = Duration::from_millis(1)),
            ("sync_interval", |c| c.sync_interval = Duration::from_millis(1)),
            ("sync_frame_budget", |c| c.sync_frame_budget = 100),
            ("max_concurrent_syncs", |c| c.max_concurrent_syncs = 0),
            ("join_retry_interval", |c| c.join_retry_interval = Duration::ZERO),
            ("join_attempts", |c| c.join_attempts = 0),
            ("max_broadcast_payload", |c| c.max_broadcast_payload = c.packet_budget),
            ("broadcast_capacity", |c| c.broadcast_capacity = 0),
            ("event_capacity", |c| c.event_capacity = 1),
            ("encryption.keys", |c| {
                c.encryption = Some(Encryption { keys: vec![], ..Encryption::new(SecretKey([1; 32])) })
            }),
            ("encryption.keys", |c| {
                c.encryption =
                    Some(Encryption { keys: vec![SecretKey([1; 32]); 2], ..Encryption::new(SecretKey([1; 32])) });
            }),
            ("encryption.max_age", |c| {
                c.encryption = Some(Encryption { max_age: Duration::ZERO, ..Encryption::new(SecretKey([1; 32])) });
            }),
            ("encryption", |c| {
                let plain = Encryption { encrypt_outgoing: false, ..Encryption::new(SecretKey([1; 32])) };
                c.encryption = Some(plain);
            }),
            ("join_rate", |c| c.join_rate = RateLimit { per_second: 1, burst: 0 }),
            ("sync_rate", |c| c.sync_rate = RateLimit { per_second: 1, burst: 0 }),
            ("protocol_version", |c| c.protocol_version = c.max_protocol_version + 1),
            ("min_protocol_version", |c| {
                c.min_protocol_version = 0;
                c.protocol_version = 1;
            }),
        ];
        for (field, edit) in cases {
            let mut config = Config::lan();
            edit(&mut config);
            let err = config.validate().expect_err(field);
            assert_eq!(err.field(), *field, "{err}");
        }
    }

    #[test]
    fn sync_can_be_turned_off() {
        let config = Config { sync_interval: Duration::ZERO, ..Config::lan() };
        assert_eq!(config.validate(), Ok(()));
    }
}
