//! The cluster fuzzer's first 200 seeds (random faults, partitions,
//! restarts, departures and broadcasts in the simulator; see
//! `swim_tests::simfuzz`), on two threads. Deterministic: each seed replays
//! the same run, so a failure here is a bug to fix, and
//! `cargo xtask simfuzz --seeds 1 --seed S --verbose` shows it.

#![allow(clippy::unwrap_used, clippy::panic)]

use std::sync::Mutex;
use std::sync::atomic::{AtomicU64, Ordering};

use swim_tests::simfuzz::{FuzzOptions, run};

#[test]
fn two_hundred_seeds_keep_every_promise() {
    let next = AtomicU64::new(1);
    let failures = Mutex::new(Vec::new());
    std::thread::scope(|scope| {
        for _ in 0..2 {
            scope.spawn(|| {
                loop {
                    let seed = next.fetch_add(1, Ordering::Relaxed);
                    if seed > 200 {
                        break;
                    }
                    if let Err(f) = run(seed, FuzzOptions::default()) {
                        failures.lock().unwrap().push(f.to_string());
                    }
                }
            });
        }
    });
    let failures = failures.into_inner().unwrap();
    assert!(failures.is_empty(), "{} of 200 seeds failed:\n{}", failures.len(), failures.join("\n"));
}
