//! The core's configuration: presets for common networks, the knobs grouped
//! by concern, and validation of every knob.

use core::fmt;
use core::time::Duration;

use swim_wire::crypto::{MAX_KEYS, OVERHEAD};
use swim_wire::{DEFAULT_BUDGET, MAX_LABEL_LEN, MIN_PROTOCOL_VERSION, PROTOCOL_VERSION};

mod groups;
mod keys;
mod network;

pub use crate::limits::RateLimit;
pub use groups::{
    DisseminationConfig, DisseminationStyle, LimitsConfig, ProbeConfig, ProbeSelection, SecurityConfig,
    SuspicionConfig, SuspicionScale, SyncConfig,
};
pub use keys::{Encryption, KeyParseError, SecretKey};
pub(crate) use network::allowed;
pub use network::{Network, NetworkParseError};

/// Every tunable of the protocol, grouped by concern: [`probe`](Config::probe),
/// [`suspicion`](Config::suspicion), [`dissemination`](Config::dissemination),
/// [`sync`](Config::sync), [`limits`](Config::limits) and
/// [`security`](Config::security). Start from a preset ([`Config::lan`],
/// [`Config::wan`], [`Config::local`]) and change what you need, in place or
/// with [`with`](Config::with); [`Config::validate`] (also run by
/// [`Node::new`](crate::Node::new)) refuses values that cannot work, naming
/// the field (`"probe.timeout"`).
///
/// The structs are `#[non_exhaustive]`, so that later versions can add
/// knobs: start from a preset rather than writing every field.
///
/// ```
/// use core::time::Duration;
/// use swim_protocol::Config;
/// let mut config = Config::lan();
/// config.probe.indirect = 5;
/// assert!(config.validate().is_ok());
/// let config = config.with(|c| c.probe.timeout = Duration::from_secs(2)); // longer than the period
/// let err = config.validate().unwrap_err();
/// assert_eq!(err.field(), "probe.timeout");
/// ```
#[cfg_attr(feature = "serde", derive(serde::Serialize, serde::Deserialize))]
#[cfg_attr(feature = "serde", serde(default, deny_unknown_fields))]
#[derive(Debug, Clone, PartialEq)]
#[non_exhaustive]
pub struct Config {
    /// Seed of the node's random choices (probe order, helpers, sync peers).
    /// Give each node its own (the `swim` builder draws one when it is 0);
    /// the same seed and inputs replay the same run.
    pub seed: u64,
    /// This process's generation: every later process of the same member
    /// name must use a larger one. A member's updates are ordered by
    /// generation first, so a restarted process (on the same address or a
    /// new one) supersedes the old one at once, and its broadcasts are
    /// numbered afresh. The `swim` builder sets it to the wall clock at
    /// start, in microseconds since the Unix epoch, when it is 0; choose it
    /// yourself only if you can guarantee the order across restarts.
    pub generation: u64,
    /// Cluster label carried in every packet header (at most 128 bytes);
    /// packets with another label are refused, so two clusters sharing
    /// ports never merge. Give each cluster its own when several share a
    /// network.
    #[cfg_attr(feature = "serde", serde(with = "crate::config_serde::label"))]
    pub label: Vec<u8>,
    /// Probing: the period, timeouts, helpers, Lifeguard.
    pub probe: ProbeConfig,
    /// Suspicion: how long a suspect has to refute.
    pub suspicion: SuspicionConfig,
    /// Dissemination: retransmissions, gossip rounds, broadcasts.
    pub dissemination: DisseminationConfig,
    /// Joining and periodic syncs.
    pub sync: SyncConfig,
    /// Sizes: datagrams, metadata, the member table, events.
    pub limits: LimitsConfig,
    /// Encryption, rate limits, names.
    pub security: SecurityConfig,
    /// Protocol version written in headers. Leave the three versions alone
    /// unless rolling a cluster across a protocol upgrade: first widen the
    /// accepted range everywhere, then raise the written version.
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
            probe: ProbeConfig {
                period: Duration::from_secs(1),
                timeout: Duration::from_millis(500),
                min_timeout: Duration::from_millis(50),
                max_timeout: Duration::from_millis(520),
                adaptive_timeout: true,
                jitter: 0.1,
                overload_threshold: Duration::from_millis(100),
                direct: 1,
                indirect: 3,
                selection: ProbeSelection::Shuffle,
                lifeguard: true,
                max_health: 8,
            },
            suspicion: SuspicionConfig { enabled: true, mult: 4, scale: SuspicionScale::Log10, max_mult: 6 },
            dissemination: DisseminationConfig {
                retransmit_mult: 4,
                style: DisseminationStyle::Infection,
                gossip_interval: Duration::from_millis(500),
                gossip_fanout: 3,
                max_broadcast_payload: 1024,
                broadcast_capacity: 256,
                broadcast_lifetime: Duration::from_secs(90),
            },
            sync: SyncConfig {
                interval: Duration::from_secs(30),
                frame_budget: 64 * 1024,
                max_concurrent: 4,
                join_retry_interval: Duration::from_secs(1),
                join_attempts: 10,
                delta: true,
            },
            limits: LimitsConfig {
                packet_budget: DEFAULT_BUDGET,
                max_metadata: 512,
                max_message: 32 * 1024,
                max_state_keys: 256,
                max_state: 65_536,
                max_app_state: 256 * 1024,
                expected_members: 64,
                max_members: 1 << 20,
                tombstone_ttl: Duration::from_secs(300),
                event_capacity: 1024,
            },
            security: SecurityConfig {
                encryption: None,
                join_rate: RateLimit { per_second: 10, burst: 20 },
                sync_rate: RateLimit { per_second: 5, burst: 10 },
                names_proven: false,
                reclaim_time: None,
                allowed_networks: Vec::new(),
            },
            protocol_version: PROTOCOL_VERSION,
            min_protocol_version: MIN_PROTOCOL_VERSION,
            max_protocol_version: PROTOCOL_VERSION,
        }
    }

    /// A wide-area network: T = 5 s, probe timeout 2.5 s, α = 6, gossip
    /// rounds every 2.5 s, sync every 60 s, broadcasts live 3 minutes,
    /// tombstones kept 30 minutes.
    pub fn wan() -> Self {
        Config::lan().with(|c| {
            c.probe.period = Duration::from_secs(5);
            c.probe.timeout = Duration::from_millis(2500);
            c.probe.min_timeout = Duration::from_millis(200);
            c.probe.max_timeout = Duration::from_millis(2600);
            c.probe.overload_threshold = Duration::from_millis(500);
            c.suspicion.mult = 6;
            c.dissemination.gossip_interval = Duration::from_millis(2500);
            c.dissemination.broadcast_lifetime = Duration::from_secs(180);
            c.sync.interval = Duration::from_secs(60);
            c.sync.join_retry_interval = Duration::from_secs(3);
            c.limits.tombstone_ttl = Duration::from_secs(1800);
        })
    }

    /// One host or a fast test network: T = 200 ms, probe timeout 100 ms,
    /// α = 3, gossip rounds every 100 ms, sync every 5 s, broadcasts live
    /// 15 s, tombstones kept 30 s.
    pub fn local() -> Self {
        Config::lan().with(|c| {
            c.probe.period = Duration::from_millis(200);
            c.probe.timeout = Duration::from_millis(100);
            c.probe.min_timeout = Duration::from_millis(10);
            c.probe.max_timeout = Duration::from_millis(105);
            c.probe.overload_threshold = Duration::from_millis(20);
            c.suspicion.mult = 3;
            c.dissemination.gossip_interval = Duration::from_millis(100);
            c.dissemination.broadcast_lifetime = Duration::from_secs(15);
            c.sync.interval = Duration::from_secs(5);
            c.sync.join_retry_interval = Duration::from_millis(200);
            c.limits.tombstone_ttl = Duration::from_secs(30);
        })
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
    /// assert_eq!((paper.probe.period, paper.probe.indirect), (Duration::from_secs(2), 1));
    /// assert!(!paper.probe.lifeguard && paper.validate().is_ok());
    /// ```
    pub fn swim_paper() -> Self {
        Config::lan().with(|c| {
            c.probe.period = Duration::from_secs(2);
            c.probe.timeout = Duration::from_millis(500);
            c.probe.max_timeout = Duration::from_millis(1000);
            c.probe.adaptive_timeout = false;
            c.probe.jitter = 0.0;
            c.probe.overload_threshold = Duration::from_millis(200);
            c.probe.indirect = 1;
            c.probe.lifeguard = false;
            c.suspicion.mult = 3;
            c.suspicion.scale = SuspicionScale::CeilLog10;
            c.dissemination.retransmit_mult = 3;
            c.dissemination.gossip_interval = Duration::ZERO;
            c.dissemination.broadcast_lifetime = Duration::from_secs(60);
            c.sync.interval = Duration::ZERO;
        })
    }

    /// Changes the configuration with `change` and returns it: the
    /// builder-style way to set knobs on a preset.
    ///
    /// ```
    /// use core::time::Duration;
    /// use swim_protocol::Config;
    /// let config = Config::lan().with(|c| {
    ///     c.probe.period = Duration::from_millis(500);
    ///     c.probe.timeout = Duration::from_millis(200);
    ///     c.probe.max_timeout = Duration::from_millis(250);
    ///     c.limits.max_metadata = 128;
    /// });
    /// assert!(config.validate().is_ok());
    /// ```
    #[must_use]
    pub fn with(mut self, change: impl FnOnce(&mut Config)) -> Self {
        change(&mut self);
        self
    }

    /// Checks every knob; the error names the first field that cannot work,
    /// as a path (`"probe.timeout"`).
    pub fn validate(&self) -> Result<(), ConfigError> {
        if self.label.len() > MAX_LABEL_LEN {
            return fail("label", "is longer than 128 bytes");
        }
        if self.generation > swim_wire::MAX_GENERATION {
            return fail("generation", "must be below 2^62 (microseconds since 1970 are far below)");
        }
        self.validate_probe()?;
        self.validate_suspicion()?;
        self.validate_limits()?;
        self.validate_dissemination()?;
        self.validate_sync()?;
        self.validate_security()?;
        if self.min_protocol_version > self.max_protocol_version
            || !(self.min_protocol_version..=self.max_protocol_version).contains(&self.protocol_version)
        {
            return fail("protocol_version", "must lie within min_protocol_version..=max_protocol_version");
        }
        if self.min_protocol_version < MIN_PROTOCOL_VERSION {
            return fail("min_protocol_version", "is older than this crate can read");
        }
        Ok(())
    }

    /// Bytes the encryption envelope adds to every packet and frame.
    fn envelope(&self) -> usize {
        if self.security.encryption.is_some() { OVERHEAD } else { 0 }
    }

    fn validate_probe(&self) -> Result<(), ConfigError> {
        let p = &self.probe;
        let ms = Duration::from_millis(1);
        if p.period < ms * 10 {
            return fail("probe.period", "must be at least 10 ms");
        }
        if p.period > Duration::from_secs(3600) {
            return fail("probe.period", "must be at most an hour");
        }
        if p.timeout.is_zero() || p.timeout >= p.period {
            return fail("probe.timeout", "must be positive and shorter than probe.period");
        }
        if p.min_timeout.is_zero() || p.min_timeout > p.timeout {
            return fail("probe.min_timeout", "must be positive and at most probe.timeout");
        }
        if p.max_timeout < p.timeout || p.max_timeout >= p.period {
            return fail("probe.max_timeout", "must be at least probe.timeout and shorter than probe.period");
        }
        // A helper nacks at 80% of the prober's timeout; the prober waits
        // for it until its period ends (with 5% of the period for the trip).
        if p.lifeguard && p.max_timeout.mul_f64(1.8) > p.period.mul_f64(0.95) {
            return fail(
                "probe.max_timeout",
                "leaves no time for nacks: 1.8 × probe.max_timeout must be within 95% of probe.period",
            );
        }
        if !(0.0..=0.5).contains(&p.jitter) {
            return fail("probe.jitter", "must be between 0 and 0.5");
        }
        if !(1..=16).contains(&p.direct) {
            return fail("probe.direct", "must be between 1 and 16");
        }
        if p.indirect > 16 {
            return fail("probe.indirect", "must be at most 16");
        }
        if p.max_health > 32 {
            return fail("probe.max_health", "must be at most 32");
        }
        Ok(())
    }

    fn validate_suspicion(&self) -> Result<(), ConfigError> {
        let s = &self.suspicion;
        if !(1..=100).contains(&s.mult) {
            return fail("suspicion.mult", "must be between 1 and 100");
        }
        if !(1..=100).contains(&s.max_mult) {
            return fail("suspicion.max_mult", "must be between 1 and 100");
        }
        Ok(())
    }

    fn validate_dissemination(&self) -> Result<(), ConfigError> {
        let d = &self.dissemination;
        if !(1..=20).contains(&d.retransmit_mult) {
            return fail("dissemination.retransmit_mult", "must be between 1 and 20");
        }
        if !d.gossip_interval.is_zero() && d.gossip_interval < Duration::from_millis(5) {
            return fail("dissemination.gossip_interval", "must be zero (off) or at least 5 ms");
        }
        if !(1..=16).contains(&d.gossip_fanout) {
            return fail("dissemination.gossip_fanout", "must be between 1 and 16");
        }
        if d.broadcast_lifetime >= self.limits.tombstone_ttl || d.broadcast_lifetime < self.probe.period * 4 {
            return fail(
                "dissemination.broadcast_lifetime",
                "must be at least 4 probe periods and shorter than limits.tombstone_ttl",
            );
        }
        if d.broadcast_lifetime > Duration::from_secs(86_400) {
            return fail("dissemination.broadcast_lifetime", "must be at most a day");
        }
        if d.max_broadcast_payload + 300 + self.envelope() > self.limits.packet_budget {
            return fail(
                "dissemination.max_broadcast_payload",
                "must leave room for headers (and encryption) in limits.packet_budget",
            );
        }
        if !(1..=65_536).contains(&d.broadcast_capacity) {
            return fail("dissemination.broadcast_capacity", "must be between 1 and 65536");
        }
        Ok(())
    }

    fn validate_sync(&self) -> Result<(), ConfigError> {
        let s = &self.sync;
        if !s.interval.is_zero() && s.interval < self.probe.period {
            return fail("sync.interval", "must be zero (off) or at least one probe.period");
        }
        // Item header, state, generation, incarnation, name, addresses,
        // metadata, accuser.
        let largest_record = 3 + 1 + 8 + 4 + (1 + 255) + (1 + 16 * 23) + (2 + self.limits.max_metadata) + (1 + 255);
        if s.frame_budget < 4 + 512 + largest_record + self.envelope() || s.frame_budget > 16 << 20 {
            return fail("sync.frame_budget", "must hold the largest member record, and be at most 16 MiB");
        }
        if !(1..=1024).contains(&s.max_concurrent) {
            return fail("sync.max_concurrent", "must be between 1 and 1024");
        }
        if s.join_retry_interval < Duration::from_millis(1) {
            return fail("sync.join_retry_interval", "must be at least 1 ms");
        }
        if s.join_attempts == 0 {
            return fail("sync.join_attempts", "must be at least 1");
        }
        Ok(())
    }

    fn validate_limits(&self) -> Result<(), ConfigError> {
        let l = &self.limits;
        if !(512..=65_507).contains(&l.packet_budget) {
            return fail("limits.packet_budget", "must be between 512 and 65507 bytes");
        }
        if l.max_metadata > 60_000 {
            return fail("limits.max_metadata", "must be at most 60000 bytes");
        }
        if l.max_state_keys > l.max_state || l.max_state > 1 << 24 {
            return fail("limits.max_state", "must be at most 16777216, and at least limits.max_state_keys");
        }
        if l.max_app_state > crate::node::APP_STATE_CEILING {
            return fail("limits.max_app_state", "must be at most 16777216 bytes");
        }
        if !(1..=60_000).contains(&l.max_message) {
            return fail("limits.max_message", "must be between 1 and 60000 bytes");
        }
        if l.max_members < 2 || l.max_members > 1 << 24 {
            return fail("limits.max_members", "must be between 2 and 16777216");
        }
        if l.expected_members > l.max_members {
            return fail("limits.expected_members", "must be at most limits.max_members");
        }
        if l.tombstone_ttl < self.probe.period {
            return fail("limits.tombstone_ttl", "must be at least one probe.period");
        }
        if !(16..=1 << 20).contains(&l.event_capacity) {
            return fail("limits.event_capacity", "must be between 16 and 1048576");
        }
        Ok(())
    }

    fn validate_security(&self) -> Result<(), ConfigError> {
        let s = &self.security;
        if let Some(e) = &s.encryption {
            if e.keys.is_empty() || e.keys.len() > MAX_KEYS {
                return fail("security.encryption.keys", "must hold 1 to 8 keys");
            }
            if e.keys.iter().enumerate().any(|(i, k)| e.keys.iter().skip(i + 1).any(|o| o.id() == k.id())) {
                return fail("security.encryption.keys", "holds two keys with the same id");
            }
            if e.max_age < Duration::from_secs(1) || e.max_age > Duration::from_secs(86_400) {
                return fail("security.encryption.max_age", "must be between 1 s and a day");
            }
            if !e.encrypt_outgoing && !e.accept_plaintext {
                return fail("security.encryption", "must accept plaintext while sending plaintext");
            }
        }
        for (field, rate) in [("security.join_rate", s.join_rate), ("security.sync_rate", s.sync_rate)] {
            if rate.per_second > 0 && rate.burst == 0 {
                return fail(field, "needs a burst of at least 1 when limited");
            }
        }
        Ok(())
    }
}

fn fail(field: &'static str, reason: &'static str) -> Result<(), ConfigError> {
    Err(ConfigError::new(field, reason))
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
    /// let config = Config::lan().with(|c| c.security.encryption = Some(Encryption::new(key.clone())));
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
        assert!(Config::wan().probe.period > Config::lan().probe.period);
        assert!(Config::local().probe.period < Config::lan().probe.period);
        assert_eq!(ProbeConfig::default(), Config::lan().probe);
    }

    #[test]
    fn every_knob_is_checked() {
        type Edit = fn(&mut Config);
        let cases: &[(&str, Edit)] = &[
            ("label", |c| c.label = vec![b'x'; 129]),
            ("probe.period", |c| c.probe.period = Duration::from_millis(5)),
            ("probe.period", |c| c.probe.period = Duration::from_secs(4000)),
            ("probe.timeout", |c| c.probe.timeout = Duration::ZERO),
            ("probe.timeout", |c| c.probe.timeout = c.probe.period),
            ("probe.min_timeout", |c| c.probe.min_timeout = c.probe.timeout * 2),
            ("probe.max_timeout", |c| c.probe.max_timeout = c.probe.period),
            ("probe.max_timeout", |c| c.probe.max_timeout = c.probe.period * 6 / 10),
            ("probe.jitter", |c| c.probe.jitter = 0.7),
            ("generation", |c| c.generation = u64::MAX),
            ("dissemination.gossip_interval", |c| c.dissemination.gossip_interval = Duration::from_millis(1)),
            ("dissemination.gossip_fanout", |c| c.dissemination.gossip_fanout = 0),
            ("dissemination.broadcast_lifetime", |c| c.dissemination.broadcast_lifetime = c.limits.tombstone_ttl),
            ("dissemination.broadcast_lifetime", |c| c.dissemination.broadcast_lifetime = c.probe.period),
            ("probe.direct", |c| c.probe.direct = 0),
            ("probe.indirect", |c| c.probe.indirect = 17),
            ("suspicion.mult", |c| c.suspicion.mult = 0),
            ("suspicion.max_mult", |c| c.suspicion.max_mult = 0),
            ("probe.max_health", |c| c.probe.max_health = 33),
            ("dissemination.retransmit_mult", |c| c.dissemination.retransmit_mult = 0),
            ("limits.packet_budget", |c| c.limits.packet_budget = 100),
            ("limits.max_metadata", |c| c.limits.max_metadata = 70_000),
            ("limits.max_message", |c| c.limits.max_message = 0),
            ("limits.max_app_state", |c| c.limits.max_app_state = (16 << 20) + 1),
            ("limits.max_members", |c| c.limits.max_members = 1),
            ("limits.expected_members", |c| c.limits.expected_members = c.limits.max_members + 1),
            ("limits.tombstone_ttl", |c| c.limits.tombstone_ttl = Duration::from_millis(1)),
            ("sync.interval", |c| c.sync.interval = Duration::from_millis(1)),
            ("sync.frame_budget", |c| c.sync.frame_budget = 100),
            ("sync.max_concurrent", |c| c.sync.max_concurrent = 0),
            ("sync.join_retry_interval", |c| c.sync.join_retry_interval = Duration::ZERO),
            ("sync.join_attempts", |c| c.sync.join_attempts = 0),
            ("dissemination.max_broadcast_payload", |c| {
                c.dissemination.max_broadcast_payload = c.limits.packet_budget;
            }),
            ("dissemination.broadcast_capacity", |c| c.dissemination.broadcast_capacity = 0),
            ("limits.event_capacity", |c| c.limits.event_capacity = 1),
            ("security.encryption.keys", |c| {
                c.security.encryption = Some(Encryption { keys: vec![], ..Encryption::new(SecretKey([1; 32])) });
            }),
            ("security.encryption.keys", |c| {
                let keys = vec![SecretKey([1; 32]); 2];
                c.security.encryption = Some(Encryption { keys, ..Encryption::new(SecretKey([1; 32])) });
            }),
            ("security.encryption.max_age", |c| {
                let e = Encryption { max_age: Duration::ZERO, ..Encryption::new(SecretKey([1; 32])) };
                c.security.encryption = Some(e);
            }),
            ("security.encryption", |c| {
                let plain = Encryption { encrypt_outgoing: false, ..Encryption::new(SecretKey([1; 32])) };
                c.security.encryption = Some(plain);
            }),
            ("security.join_rate", |c| c.security.join_rate = RateLimit { per_second: 1, burst: 0 }),
            ("security.sync_rate", |c| c.security.sync_rate = RateLimit { per_second: 1, burst: 0 }),
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
        let config = Config::lan().with(|c| c.sync.interval = Duration::ZERO);
        assert_eq!(config.validate(), Ok(()));
    }
}
