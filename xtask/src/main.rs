//! `cargo xtask`: the project's automation, in Rust so it runs wherever cargo
//! does.
//!
//! - `cargo xtask fuzz --list` / `cargo xtask fuzz <target> [--time SECONDS]`
//! - `cargo xtask bench --list` / `cargo xtask bench <name>`
//! - `cargo xtask paper [--help | options]`
//! - `cargo xtask simfuzz --seeds N [--seed S] [--members M]`
//! - `cargo xtask attack [FILTER]`
//! - `cargo xtask msrv`
//! - `cargo xtask compare [--runs R] [--sizes 32,128] [--quick]`
//! - `cargo xtask swarm [--members N] [--duration SECONDS] ...`

use std::path::{Path, PathBuf};
use std::process::ExitCode;

mod attack;
mod bench;
mod compare;
mod fuzz;
mod msrv;
mod paper;
mod simfuzz;
mod swarm;

const USAGE: &str = "\
usage: cargo xtask <command> [args]

commands:
  fuzz --list                     list the libFuzzer targets
  fuzz <target> [--time SECONDS]  build and run a target (default 60 s); prints
                                  `fuzz: target=<name> execs=<N> crashes=<N> seconds=<S>`
  bench --list                    list the benchmarks
  bench <name>                    run a benchmark; prints one `key=value` per figure
  paper [--help | options]        reproduce the SWIM and Lifeguard papers' experiments
                                  and the scale limits; writes docs/results/
  simfuzz --seeds N [--seed S] [--members M] [--threads T] [--verbose] [--watch A,B]
                                  the cluster fuzzer: N seeded random scenarios in the
                                  simulator; prints `simfuzz: seeds=N failures=F seconds=S`
  attack [FILTER]                 the attack suite: real members over loopback, attacked;
                                  prints `attack: NAME outcome=refused|FAILED ...` per attack
                                  and `attacks: tried=N refused=M`
  compare [--runs R] [--sizes 32,128] [--loss-runs R] [--quick]
                                  swim and hashicorp/memberlist side by side (installs Go and
                                  memberlist from Debian's packages); prints `compare: figure=...`
                                  lines and writes docs/results/compare.md
  swarm [--members 16000] [--duration 600] [--warmup 60] [--crash-every 60] [--seed S]
                                  one real member (the agent, its own process) among N - 1
                                  members emulated over loopback; prints `swarm: key=value`
                                  figures (its CPU, RSS, bytes per period, crash detection)
  msrv                            each package's oldest usable Rust from its dependency
                                  graph against its declared rust-version (fails if below)
";

fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let (command, rest) = match args.split_first() {
        Some((command, rest)) => (Some(command.as_str()), rest),
        None => (None, &[][..]),
    };
    let result = match command {
        Some("fuzz") => fuzz::run(rest),
        Some("bench") => bench::run(rest),
        Some("paper") => paper::run(rest),
        Some("simfuzz") => simfuzz::run(rest),
        Some("attack") => attack::run(rest),
        Some("msrv") => msrv::run(rest),
        Some("compare") => compare::run(rest),
        Some("swarm") => swarm::run(rest),
        Some("-h" | "--help" | "help") | None => {
            print!("{USAGE}");
            Ok(())
        }
        Some(other) => Err(format!("unknown command `{other}`\n\n{USAGE}")),
    };
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(message) => {
            eprintln!("xtask: {message}");
            ExitCode::FAILURE
        }
    }
}

/// The workspace root (xtask lives one level below it).
fn root() -> PathBuf {
    let manifest = Path::new(env!("CARGO_MANIFEST_DIR"));
    manifest.parent().unwrap_or(manifest).to_path_buf()
}

/// Runs binary `bin` of the `swim-tests` crate (test profile) from the
/// workspace root with `args`; `failure` says what a non-zero exit means.
fn run_tests_bin(bin: &str, args: &[String], failure: &str) -> Result<(), String> {
    let status = std::process::Command::new(cargo())
        .current_dir(root())
        .args(["run", "--quiet", "-p", "swim-tests", "--bin", bin, "--"])
        .args(args)
        .status()
        .map_err(|e| format!("cannot run cargo: {e}"))?;
    if status.success() { Ok(()) } else { Err(format!("{failure} ({status})")) }
}

/// The cargo that runs us, so toolchain overrides carry through.
fn cargo() -> String {
    std::env::var("CARGO").unwrap_or_else(|_| "cargo".to_owned())
}

/// Reads `--name VALUE` from `args`.
fn flag_value<'a>(args: &'a [String], name: &str) -> Option<&'a str> {
    args.iter().position(|a| a == name).and_then(|i| args.get(i + 1)).map(String::as_str)
}
