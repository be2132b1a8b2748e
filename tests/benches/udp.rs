//! `cargo xtask bench udp [--members N]`: N members (256 by default) in one
//! process over loopback UDP, `Config::local()` (T = 200 ms).
//!
//! - `convergence_ms`: from the first join until every member sees all N
//!   alive (joins sent one after another through one seed, each waiting
//!   for the seed's answer, not for the others); `joins_ms`: until the
//!   last join was answered;
//! - then, converged, over a steady window: `cpu_us_per_member_period`
//!   (this process's CPU time, all threads, per member and protocol period)
//!   and `cores` (the same as a share of one core), `bytes_per_member_period`
//!   and `msgs_per_member_period` (datagrams sent), `false_verdicts` (faulty
//!   verdicts about members that all run, since the start; and
//!   `false_verdicts_in_window`), and `rss_kib_per_member` (the
//!   process's resident memory over the members, tables included) with
//!   `heap_kib_per_member` (the heap part of it, from the counting
//!   allocator); and `rss_alone_kib_per_member` / `heap_alone_kib_per_member`,
//!   the same once every member has started but before any joins: what a
//!   member costs beyond its member table.

#![allow(
    clippy::indexing_slicing,
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::cast_possible_truncation
)]

use std::time::{Duration, Instant};

use swim::{Cluster, Config, State};
use swim_tests::alloc_counter::{CountingAllocator, live_bytes};
use swim_tests::bench::{cpu_time, report, rss_kib};

#[global_allocator]
static ALLOCATOR: CountingAllocator = CountingAllocator;

/// `--members N`, or 256.
fn members_from_args() -> usize {
    let args: Vec<String> = std::env::args().collect();
    args.iter()
        .position(|a| a == "--members")
        .and_then(|i| args.get(i + 1))
        .map_or(256, |n| n.parse().expect("--members takes a number"))
}

async fn converged(members: &[Cluster]) -> bool {
    let n = members.len();
    // The counts first (cheap), then the states: listing every member of
    // every member is O(N²) and, done every 100 ms, would slow what it
    // measures.
    for m in members {
        if m.stats().await.map_or(true, |s| s.live_members != n) {
            return false;
        }
    }
    for m in members {
        match m.members().await {
            Ok(view) if view.iter().filter(|x| x.state == State::Alive).count() == n => {}
            _ => return false,
        }
    }
    true
}

fn main() {
    let runtime =
        tokio::runtime::Builder::new_multi_thread().worker_threads(2).enable_all().build().expect("a runtime");
    let n = members_from_args();
    runtime.block_on(async {
        // All the members share 127.0.0.1: the per-source join limit (10 a
        // second, for one address) would make this measure the limiter.
        let config = Config::local().with(|c| {
            c.limits.expected_members = n;
            c.security.join_rate = swim::RateLimit { per_second: 0, burst: 0 };
        });
        let period = config.probe.period;
        let base_rss = rss_kib();
        let base_heap = live_bytes();
        let mut members = Vec::with_capacity(n);
        for i in 0..n {
            let cluster = Cluster::builder(format!("bench-{i:04}"))
                .config(config.clone())
                .bind("127.0.0.1:0".parse().expect("an address"))
                .start()
                .await
                .expect("a member starts");
            members.push(cluster);
        }
        let rss_alone = (rss_kib() - base_rss) / n as f64;
        let heap_alone = live_bytes().saturating_sub(base_heap) as f64 / 1024.0 / n as f64;
        let seed = members[0].local_addr();
        let started = Instant::now();
        for m in &members[1..] {
            m.join([seed]).await.expect("the join succeeds");
        }
        let joined = started.elapsed();
        while !converged(&members).await {
            assert!(started.elapsed() < Duration::from_secs(300), "no convergence in five minutes");
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
        let convergence = started.elapsed();

        // Let the join traffic settle, then measure a steady window.
        tokio::time::sleep(period * 25).await;
        let totals =
            |stats: &[swim::Stats]| stats.iter().fold((0u64, 0u64), |(p, b), s| (p + s.packets_sent, b + s.bytes_sent));
        let mut before = Vec::with_capacity(n);
        for m in &members {
            before.push(m.stats().await.expect("stats"));
        }
        let (cpu0, wall0) = (cpu_time(), Instant::now());
        tokio::time::sleep(period * 100).await;
        let (cpu, wall) = (cpu_time() - cpu0, wall0.elapsed());
        let mut after = Vec::with_capacity(n);
        for m in &members {
            after.push(m.stats().await.expect("stats"));
        }
        let ((p0, b0), (p1, b1)) = (totals(&before), totals(&after));
        let member_periods = n as f64 * wall.as_secs_f64() / period.as_secs_f64();
        let verdicts = |stats: &[swim::Stats]| stats.iter().map(|s| s.faulty_declared).sum::<u64>();

        report("members", n);
        report("convergence_ms", convergence.as_millis());
        report("joins_ms", joined.as_millis());
        report("window_periods", format!("{:.0}", wall.as_secs_f64() / period.as_secs_f64()));
        report("cpu_us_per_member_period", format!("{:.2}", cpu.as_secs_f64() * 1e6 / member_periods));
        report("bytes_per_member_period", format!("{:.1}", (b1 - b0) as f64 / member_periods));
        report("msgs_per_member_period", format!("{:.3}", (p1 - p0) as f64 / member_periods));
        report("cores", format!("{:.3}", cpu.as_secs_f64() / wall.as_secs_f64()));
        report("false_verdicts", verdicts(&after));
        report("false_verdicts_in_window", verdicts(&after) - verdicts(&before));
        report("rss_kib_per_member", format!("{:.1}", (rss_kib() - base_rss) / n as f64));
        let heap = live_bytes().saturating_sub(base_heap) as f64 / 1024.0 / n as f64;
        report("heap_kib_per_member", format!("{heap:.1}"));
        report("rss_alone_kib_per_member", format!("{rss_alone:.1}"));
        report("heap_alone_kib_per_member", format!("{heap_alone:.1}"));
        for m in &members {
            let _ = m.shutdown().await;
        }
    });
}
