//! Workspace integration tests, benchmarks and the tools they share.
//!
//! - [`alloc_counter`]: a counting global allocator for zero-allocation tests.
//! - [`attack`]: the attack suite (`cargo xtask attack`).
//! - [`bench`](mod@bench): a small measurement harness printing `key=value` lines, used by
//!   the benchmarks that `cargo xtask bench` runs.
//! - [`sim`]: the deterministic cluster simulator.
//! - [`simfuzz`]: the cluster fuzzer (random scenarios in the simulator).
//! - [`swarm`]: one real member among thousands emulated at the wire level.
//! - [`net`]: helpers for tests over real sockets.
//! - [`user_transport`]: a transport of the kind a user would write.
//! - [`wire_samples`]: representative packets for the codec's tests and benchmarks.

// Test tooling: a panic here is a failed test (which prints its seed), so the
// lints that keep panics out of the library crates are relaxed.
#![allow(
    clippy::indexing_slicing,
    clippy::cast_possible_truncation,
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic
)]

pub mod agent_bin;
pub mod alloc_counter;
pub mod attack;
pub mod bench;
pub mod net;
pub mod paper;
pub mod sim;
pub mod simfuzz;
pub mod swarm;
pub mod user_transport;
pub mod wire_samples;
