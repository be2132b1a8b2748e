//! A small measurement harness for `cargo xtask bench`: it prints one
//! `key=value` line per figure so results are easy to read and to compare.
//!
//! The machine is shared and noisy, so figures are medians over many batches,
//! and comparisons should be made between figures of one run.

use std::hint::black_box;
use std::time::{Duration, Instant};

/// Nanoseconds per iteration over many batches.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Timing {
    /// Median over batches.
    pub median_ns: f64,
    /// Fastest batch.
    pub min_ns: f64,
    /// Iterations measured in all.
    pub iterations: u64,
}

/// Measures `f` for about `budget`: calibrates a batch size that takes about
/// a millisecond, then times batches and reports per-iteration figures.
pub fn measure<R>(budget: Duration, mut f: impl FnMut() -> R) -> Timing {
    let mut batch = 1u64;
    loop {
        let start = Instant::now();
        for _ in 0..batch {
            black_box(f());
        }
        if start.elapsed() >= Duration::from_millis(1) || batch >= 1 << 30 {
            break;
        }
        batch *= 2;
    }
    let mut samples = Vec::new();
    let deadline = Instant::now() + budget;
    while Instant::now() < deadline || samples.len() < 5 {
        let start = Instant::now();
        for _ in 0..batch {
            black_box(f());
        }
        samples.push(start.elapsed().as_nanos() as f64 / batch as f64);
    }
    samples.sort_by(f64::total_cmp);
    Timing { median_ns: percentile(&samples, 0.5), min_ns: samples[0], iterations: batch * samples.len() as u64 }
}

/// The `q` quantile (0..=1) of sorted samples; 0 for none.
pub fn percentile(sorted: &[f64], q: f64) -> f64 {
    if sorted.is_empty() {
        return 0.0;
    }
    let rank = ((sorted.len() - 1) as f64 * q).round() as usize;
    sorted[rank.min(sorted.len() - 1)]
}

/// Prints one figure as `key=value`.
pub fn report(key: &str, value: impl std::fmt::Display) {
    println!("{key}={value}");
}

/// The CPU time of each of this process's threads now, to measure a window
/// with [`CpuWindow::elapsed`].
#[derive(Debug, Clone, Default)]
pub struct CpuWindow {
    start: std::collections::HashMap<String, u64>,
}

impl CpuWindow {
    /// Starts a window.
    pub fn start() -> Self {
        CpuWindow { start: thread_times("self").collect() }
    }

    /// The CPU time this process's threads spent since the window started:
    /// a thread that started since counts whole, and one that ended since
    /// (a previous run's runtime or ring thread winding down) takes nothing
    /// away, as it would from a plain sum over the live threads.
    pub fn elapsed(&self) -> Duration {
        let ns =
            thread_times("self").map(|(tid, now)| now.saturating_sub(self.start.get(&tid).copied().unwrap_or(0))).sum();
        Duration::from_nanos(ns)
    }
}

/// Each live thread of `pid` with its nanoseconds on a CPU.
fn thread_times(pid: &str) -> impl Iterator<Item = (String, u64)> {
    let tasks = std::fs::read_dir(format!("/proc/{pid}/task")).into_iter().flatten().filter_map(Result::ok);
    tasks.filter_map(|t| {
        let ns = std::fs::read_to_string(t.path().join("schedstat")).ok()?;
        let ns = ns.split_whitespace().next()?.parse::<u64>().ok()?;
        Some((t.file_name().to_string_lossy().into_owned(), ns))
    })
}

/// CPU time of this process so far, from the kernel's per-thread scheduler
/// statistics (nanoseconds on a CPU; zero where there are none).
pub fn cpu_time() -> Duration {
    cpu_time_of("self")
}

/// CPU time so far of the process `pid` (a number, or `self`), as
/// [`cpu_time`] reads it.
pub fn cpu_time_of(pid: &str) -> Duration {
    let Ok(tasks) = std::fs::read_dir(format!("/proc/{pid}/task")) else { return Duration::ZERO };
    let ns: u64 = tasks
        .filter_map(Result::ok)
        .filter_map(|t| std::fs::read_to_string(t.path().join("schedstat")).ok())
        .filter_map(|s| s.split_whitespace().next().and_then(|v| v.parse::<u64>().ok()))
        .sum();
    Duration::from_nanos(ns)
}

/// This process's resident set, in KiB (zero where the system does not say).
pub fn rss_kib() -> f64 {
    rss_kib_of("self")
}

/// The resident set of the process `pid` (a number, or `self`), in KiB.
pub fn rss_kib_of(pid: &str) -> f64 {
    let Ok(statm) = std::fs::read_to_string(format!("/proc/{pid}/statm")) else { return 0.0 };
    let pages = statm.split_whitespace().nth(1).and_then(|p| p.parse::<f64>().ok()).unwrap_or(0.0);
    pages * 4.0
}

/// The settings `cargo xtask compare` runs swim with: memberlist's LAN
/// timing at `period` (probe timeout half of it, bounded 10 ms to just over
/// half; gossip twice a period), and no per-address rate limits on joins or
/// syncs (every member shares 127.0.0.1, which a real cluster does not: a
/// burst of joins would open more unproven sync streams from that one
/// address than its rate allows).
pub fn compare_config(period: Duration) -> swim_protocol::Config {
    swim_protocol::Config::lan().with(|c| {
        c.probe.period = period;
        c.probe.timeout = period / 2;
        c.probe.min_timeout = Duration::from_millis(10);
        c.probe.max_timeout = period.mul_f64(0.525);
        c.probe.overload_threshold = period / 10;
        c.dissemination.gossip_interval = period / 2;
        c.security.join_rate = swim_protocol::RateLimit { per_second: 0, burst: 0 };
        c.security.sync_rate = swim_protocol::RateLimit { per_second: 0, burst: 0 };
    })
}
