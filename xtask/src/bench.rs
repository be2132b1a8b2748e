//! `cargo xtask bench`: runs the benchmarks of the `swim-tests` crate, each a
//! plain binary (`harness = false`) that prints `key=value` lines.

use std::process::Command;

use crate::{cargo, root};

/// Benchmarks and what they measure.
pub(crate) const BENCHES: &[(&str, &str)] = &[
    ("wire", "encode and decode of a ping carrying 8 alive updates (32-byte names, 64-byte metadata)"),
    ("core", "16,000-member node build and step times; simulator throughput and allocations at 1,000 members"),
    (
        "sync",
        "bytes, records and CPU of one periodic sync, delta against full, at 1,000 and 16,000 members with 0, 1 and 100 differing",
    ),
    (
        "messages",
        "direct messages: datagram and exchange sizes, and loopback latencies (best effort, reliable) over encrypted UDP+TCP and QUIC",
    ),
    (
        "udp",
        "N members (--members N, 256 by default) in one process over loopback UDP: burst-join convergence, CPU, bytes, messages, false verdicts and RSS per member",
    ),
];

pub(crate) fn run(args: &[String]) -> Result<(), String> {
    match args.split_first() {
        Some((name, _)) if name == "--list" => list(),
        None => list(),
        Some((name, extra)) => {
            if !BENCHES.iter().any(|(n, _)| n == name) {
                return Err(format!("unknown benchmark `{name}` (see `cargo xtask bench --list`)"));
            }
            let status = Command::new(cargo())
                .current_dir(root())
                .args(["bench", "--quiet", "-p", "swim-tests", "--bench", name, "--"])
                .args(extra)
                .status()
                .map_err(|e| format!("cannot run cargo: {e}"))?;
            if status.success() { Ok(()) } else { Err(format!("benchmark `{name}` failed: {status}")) }
        }
    }
}

fn list() -> Result<(), String> {
    for (name, what) in BENCHES {
        println!("{name:10} {what}");
    }
    Ok(())
}
