//! The swarm: one real member in a cluster of thousands, the others
//! emulated at the wire level (`cargo xtask swarm`).
//!
//! A real member (the `agent` example, its own process) joins a cluster
//! whose other members are emulated by a few worker processes. Each
//! emulated member has its own address in 127.0.0.0/8, its own UDP socket
//! and TCP listener, its own nonce sequence, and speaks the protocol as the
//! real member sees it: it answers pings, indirect pings (with nacks for a
//! silent target), the join and syncs (full and delta: its digest is
//! computed with the protocol's public [`swim_protocol::digest`]
//! functions), pings the real member, opens syncs with it, gossips, and
//! refutes a suspicion of itself. No emulated member holds a table of its
//! own: a worker keeps one view of the whole cluster, which its members
//! share.
//!
//! What the rest of the cluster would do is a model, the same in every
//! worker (a function of the seed, so workers need not talk): each period
//! the real member is pinged by about one member, as in a cluster where
//! every member probes one other; a periodic sync reaches it about once
//! per sync interval; crashes happen on a schedule, and each crash is
//! suspected by three members about a period apart (the first within two
//! periods of the crash) and declared faulty by the first after the
//! suspicion timeout. Each such rumor reaches the real member as gossip
//! would: an infection curve (fanout `f` per gossip round, each member
//! sending a rumor `λ⌈log10(N + 1)⌉` times) gives the expected number of
//! copies the real member receives per round.
//!
//! - [`plan`]: the cluster (names, addresses, the crash schedule, the rumor
//!   curve) every process derives from the same arguments.
//! - [`codec`]: sealing, opening and framing.
//! - [`sync`]: the emulated side of sync exchanges.
//! - [`worker`]: a worker process.

pub mod codec;
pub mod plan;
pub mod sync;
pub mod worker;

pub use plan::Plan;
