//! `cargo xtask fuzz`: builds the libFuzzer targets of `tests/fuzz` on the
//! stable toolchain and runs one.
//!
//! Stable rustc cannot use `-Zsanitizer`, but it accepts LLVM's
//! sanitizer-coverage pass directly; with those flags libfuzzer-sys gets the
//! coverage feedback it needs. The build names the host target explicitly so
//! that build scripts and proc macros are compiled without instrumentation.
//!
//! Layout under `tests/fuzz/`: `fuzz_targets/` (the targets, committed),
//! `seeds/<target>/` (hand-made inputs, committed), `corpus/<target>/` (what
//! the fuzzer grows, kept between runs, ignored by git) and
//! `artifacts/<target>/` (crashing inputs, ignored by git).

use std::fs;
use std::path::Path;
use std::process::{Command, Stdio};
use std::time::Instant;

use crate::{cargo, flag_value, root};

const RUSTFLAGS: &str = "-Cpasses=sancov-module -Cllvm-args=-sanitizer-coverage-level=4 \
    -Cllvm-args=-sanitizer-coverage-inline-8bit-counters -Cllvm-args=-sanitizer-coverage-pc-table \
    -Cllvm-args=-sanitizer-coverage-trace-compares --cfg fuzzing -Cdebug-assertions -Coverflow-checks";

/// Targets and what they check.
const TARGETS: &[(&str, &str)] = &[
    ("decode", "arbitrary bytes decoded as a packet never panic"),
    ("roundtrip", "decode -> encode -> decode gives the same packet and canonical bytes"),
    ("core", "a node fed arbitrary datagrams, timers, commands and sync frames keeps its invariants"),
    ("core_sealed", "the same with encryption: sealed inputs reach the protocol, raw ones test refusals"),
    ("frames", "sync stream reassembly: any stream, cut anywhere, gives its frames; bad prefixes refused; bounded"),
    ("unauthenticated", "with encryption on, no unauthenticated datagram is accepted, answered or changes the node"),
];

const DEFAULT_SECONDS: u64 = 60;

pub(crate) fn run(args: &[String]) -> Result<(), String> {
    let Some(target) = args.first() else {
        return Err("which target? (see `cargo xtask fuzz --list`)".into());
    };
    if target == "--list" {
        for (name, what) in TARGETS {
            println!("{name:10} {what}");
        }
        return Ok(());
    }
    if !TARGETS.iter().any(|(name, _)| name == target) {
        return Err(format!("unknown fuzz target `{target}` (see `cargo xtask fuzz --list`)"));
    }
    let seconds = match flag_value(args, "--time") {
        Some(s) => s.parse::<u64>().map_err(|_| format!("--time takes whole seconds, got `{s}`"))?,
        None => DEFAULT_SECONDS,
    };

    let fuzz_dir = root().join("tests").join("fuzz");
    let host = host_triple()?;
    let target_dir = root().join("target").join("fuzz");
    eprintln!("xtask: building fuzz target `{target}` for {host}");
    let status = Command::new(cargo())
        .current_dir(&fuzz_dir)
        .env("RUSTFLAGS", RUSTFLAGS)
        .env("CARGO_TARGET_DIR", &target_dir)
        .args(["build", "--quiet", "--release", "--target", &host, "--bin", target])
        .status()
        .map_err(|e| format!("cannot run cargo: {e}"))?;
    if !status.success() {
        return Err(format!("building fuzz target `{target}` failed: {status}"));
    }
    let binary = target_dir.join(&host).join("release").join(target);

    let corpus = fuzz_dir.join("corpus").join(target);
    let seeds = fuzz_dir.join("seeds").join(target);
    let artifacts = fuzz_dir.join("artifacts").join(target);
    for dir in [&corpus, &seeds, &artifacts] {
        fs::create_dir_all(dir).map_err(|e| format!("cannot create {}: {e}", dir.display()))?;
    }
    let before = count_artifacts(&artifacts);

    let started = Instant::now();
    let output = Command::new(&binary)
        .arg(&corpus)
        .arg(&seeds)
        .arg(format!("-max_total_time={seconds}"))
        .arg(format!("-artifact_prefix={}/", artifacts.display()))
        .arg("-max_len=4096")
        .arg("-rss_limit_mb=2048")
        .arg("-print_final_stats=1")
        .stdout(Stdio::inherit())
        .stderr(Stdio::piped())
        .output()
        .map_err(|e| format!("cannot run {}: {e}", binary.display()))?;
    let elapsed = started.elapsed().as_secs_f64();
    let log = String::from_utf8_lossy(&output.stderr);
    // Keep the fuzzer's own summary visible, without its per-input chatter.
    for line in log.lines().filter(|l| is_summary(l)) {
        eprintln!("{line}");
    }

    let execs = final_stat(&log, "stat::number_of_executed_units:").unwrap_or(0);
    let crashes = count_artifacts(&artifacts).saturating_sub(before);
    println!("fuzz: target={target} execs={execs} crashes={crashes} seconds={elapsed:.0}");
    if crashes > 0 || !output.status.success() {
        return Err(format!(
            "fuzz target `{target}` found a problem ({}); inputs are in {}",
            output.status,
            artifacts.display()
        ));
    }
    Ok(())
}

fn host_triple() -> Result<String, String> {
    let out = Command::new("rustc").arg("-vV").output().map_err(|e| format!("cannot run rustc: {e}"))?;
    String::from_utf8_lossy(&out.stdout)
        .lines()
        .find_map(|l| l.strip_prefix("host: ").map(str::to_owned))
        .ok_or_else(|| "rustc -vV printed no host triple".into())
}

fn count_artifacts(dir: &Path) -> usize {
    fs::read_dir(dir).map(|entries| entries.filter_map(Result::ok).count()).unwrap_or(0)
}

fn final_stat(log: &str, key: &str) -> Option<u64> {
    log.lines().rev().find_map(|l| l.strip_prefix(key)).and_then(|v| v.trim().parse().ok())
}

fn is_summary(line: &str) -> bool {
    line.starts_with("stat::")
        || line.starts_with("Done ")
        || line.contains("ERROR")
        || line.starts_with("SUMMARY")
        || line.contains("panicked")
        || line.starts_with("INFO: seed corpus")
}
