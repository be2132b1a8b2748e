//! Cluster membership and failure detection for Rust: every member of a
//! cluster learns, within seconds and without a central server, which others
//! are alive, suspected or failed, and can gossip small payloads to all.
//!
//! It implements SWIM (Das, Gupta, Motivala, 2002) with suspicion and
//! infection-style dissemination, and the Lifeguard refinements (Dadgar et
//! al., 2018) that keep a slow or overloaded member from accusing healthy
//! ones. It runs over UDP (with TCP for state syncs) by default, over QUIC
//! with mutual TLS, or over a transport of your own.
//!
//! ```no_run
//! use std::time::Duration;
//! use swim::{Cluster, Config, Event};
//!
//! #[tokio::main]
//! async fn main() -> Result<(), swim::Error> {
//!     let cluster = Cluster::builder("node-b")
//!         .config(Config::lan())
//!         .bind("127.0.0.1:7947".parse().unwrap())
//!         .seeds(["127.0.0.1:7946".parse().unwrap()])
//!         .start()
//!         .await?;
//!     let mut events = cluster.events();
//!     cluster.broadcast("hello, everyone").await?;
//!     while let Ok(event) = events.recv().await {
//!         match event {
//!             Event::MemberJoined(m) => println!("{} joined", m.name),
//!             Event::MemberFaulty { member, .. } => println!("{} failed", member.name),
//!             Event::Broadcast { origin, payload, .. } => println!("{origin}: {payload:?}"),
//!             _ => {}
//!         }
//!     }
//!     cluster.leave(Duration::from_secs(5)).await
//! }
//! ```
//!
//! The crates beneath, for those who need them: `swim-protocol` (the sans-IO
//! protocol engine), `swim-wire` (the wire format), `swim-transport`
//! ([`Transport`] and its implementations), `swim-runtime` (the tokio task).
#![forbid(unsafe_code)]

pub use bytes::Bytes;
pub use swim_protocol::{
    Admission, AppState, Candidate, CommandError, Config, ConfigError, DisseminationConfig, DisseminationStyle,
    Encryption, JoinFailure, KeyParseError, LimitsConfig, Network, NetworkParseError, ProbeConfig, RateLimit,
    SecretKey, SecurityConfig, State, Stats, SuspicionConfig, SuspicionScale, SyncConfig,
};
pub use swim_runtime::{
    Builder, Cluster, DEFAULT_PORT, Error, Event, Events, Fault, Member, Name, PeriodReport, Query, QueryOptions,
    QueryReply, QueryResponses, QuerySummary, RecvError, RuntimeOptions, TagChange, TagsError, TagsView, View, metrics,
};
#[cfg(all(feature = "io-uring", target_os = "linux"))]
pub use swim_transport::uring;
pub use swim_transport::{Transport, tcp, udp};
#[cfg(feature = "test-util")]
pub use swim_transport::{faults, memory};
#[cfg(feature = "quic")]
pub use swim_transport::{quic, tls};

/// The README's Rust blocks, compiled as doctests so that they stay true.
#[cfg(doctest)]
#[doc = include_str!("../../README.md")]
struct ReadmeDoctests;

/// The docs pages' Rust blocks, compiled as doctests too.
#[cfg(doctest)]
#[doc = include_str!("../../docs/tags.md")]
struct TagsDoctests;

#[cfg(doctest)]
#[doc = include_str!("../../docs/messages.md")]
struct MessagesDoctests;

#[cfg(doctest)]
#[doc = include_str!("../../docs/queries.md")]
struct QueriesDoctests;

#[cfg(doctest)]
#[doc = include_str!("../../docs/state.md")]
struct StateDoctests;
