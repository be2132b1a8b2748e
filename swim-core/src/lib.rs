//! The SWIM membership protocol with Lifeguard, as a sans-IO state machine.
//!
//! [`Node`] is one member of a cluster. It has no sockets, no clock, no
//! threads and no async: the caller passes in received datagrams and the
//! current [`Time`], and takes out datagrams to send, the next deadline and
//! [`Event`]s. The same seed and inputs always give the same outputs, which is
//! what lets the workspace's simulator run thousands of members
//! deterministically, and `swim-runtime` drive one over real sockets.
//!
//! What it implements (SWIM, Das et al. 2002; Lifeguard, Dadgar et al. 2018):
//!
//! - randomized round-robin probing: direct ping, then indirect pings through
//!   K helpers, then suspicion; helpers send nacks;
//! - suspicion with refutation by incarnation numbers, and Lifeguard's
//!   dynamic suspicion timeout that shrinks with independent confirmations;
//! - Lifeguard's local health score scaling the probe interval and timeout,
//!   and the buddy system;
//! - infection-style dissemination piggybacked on protocol messages,
//!   `λ · ⌈log10(N + 1)⌉` transmissions per update, fewest-sent first;
//! - user broadcasts delivered once per member, metadata, several addresses
//!   per member, name conflicts, graceful leave, tombstones and reaping;
//! - join through seeds and periodic sync (push-pull) over a stream, chunked;
//! - an adaptive probe timeout from measured round trips.
//!
//! See [`Node`] for the calling contract.
#![forbid(unsafe_code)]

mod broadcasts;
mod config;
#[cfg(feature = "serde")]
mod config_serde;
mod convert;
pub mod digest;
mod error;
mod events;
mod gossip;
mod limits;
mod members;
mod node;
mod probe_buckets;
mod probe_list;
mod replay;
mod rng;
mod rtt;
pub mod serial;
mod stats;
mod suspicion;
mod time;
mod version;

pub use config::{
    Config, ConfigError, DisseminationConfig, DisseminationStyle, Encryption, KeyParseError, LimitsConfig, Network,
    NetworkParseError, ProbeConfig, ProbeSelection, RateLimit, SecretKey, SecurityConfig, SuspicionConfig,
    SuspicionScale, SyncConfig,
};
pub use error::{CommandError, InputError};
pub use events::{Event, JoinFailure, MemberInfo};
pub use members::State;
pub use node::{
    Admission, AppState, Candidate, MAX_OPEN_QUERIES, MAX_RECEIVED_QUERIES, MAX_RELAY, MESSAGE_SLOTS, Node,
    QueryHandle, QueryOptions, SyncId, SyncOpen, SyncStatus, Transmit,
};
pub use probe_buckets::{ordering_id, probe_distance};
pub use stats::Stats;
pub use time::Time;

/// The README's example, compiled and run as a doctest so that it stays true.
#[cfg(doctest)]
#[doc = include_str!("../README.md")]
struct ReadmeDoctests;
