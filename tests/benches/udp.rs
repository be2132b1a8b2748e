//! `cargo xtask bench udp`: 256 members in one process over loopback UDP.
//!
//! - `convergence_ms`: from the first join until every member sees all 256
//!   alive (joins sent one after another through one seed);
//! - then, converged, over a steady window: `cpu_us_per_member_period`
//!   (this process's CPU time, all threads, per member and protocol period),
//!   `bytes_per_member_period` and `msgs_per_member_period` (datagrams sent).

#![allow(
    clippy::indexing_slicing,
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::cast_possible_truncation
)]

use std::time::{Duration, Instant};

use swim::{Cluster, Config, State};
use swim_tests::bench::{cpu_time, report};

const MEMBERS: usize = 256;

async fn converged(members: &[Cluster]) -> bool {
    for m in members {
        match m.members().await {
            Ok(view) if view.iter().filter(|x| x.state == State::Alive).count() == MEMBERS => {}
            _ => return false,
        }
    }
    true
}

fn main() {
    let runtime =
        tokio::runtime::Builder::new_multi_thread().worker_threads(2).enable_all().build().expect("a runtime");
    runtime.block_on(async {
        // All 256 members share 127.0.0.1: the per-source join limit (10 a
        // second, for one address) would make this measure the limiter.
        let config = Config::local().with(|c| {
            c.limits.expected_members = MEMBERS;
            c.security.join_rate = swim::RateLimit { per_second: 0, burst: 0 };
        });
        let period = config.probe.period;
        let mut members = Vec::with_capacity(MEMBERS);
        for i in 0..MEMBERS {
            let cluster = Cluster::builder(format!("bench-{i:03}"))
                .config(config.clone())
                .bind("127.0.0.1:0".parse().expect("an address"))
                .start()
                .await
                .expect("a member starts");
            members.push(cluster);
        }
        let seed = members[0].local_addr();
        let started = Instant::now();
        for m in &members[1..] {
            m.join([seed]).await.expect("the join succeeds");
        }
        while !converged(&members).await {
            assert!(started.elapsed() < Duration::from_secs(120), "no convergence in two minutes");
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
        let convergence = started.elapsed();

        // Let the join traffic settle, then measure a steady window.
        tokio::time::sleep(period * 25).await;
        let totals =
            |stats: &[swim::Stats]| stats.iter().fold((0u64, 0u64), |(p, b), s| (p + s.packets_sent, b + s.bytes_sent));
        let mut before = Vec::with_capacity(MEMBERS);
        for m in &members {
            before.push(m.stats().await.expect("stats"));
        }
        let (cpu0, wall0) = (cpu_time(), Instant::now());
        tokio::time::sleep(period * 100).await;
        let (cpu, wall) = (cpu_time() - cpu0, wall0.elapsed());
        let mut after = Vec::with_capacity(MEMBERS);
        for m in &members {
            after.push(m.stats().await.expect("stats"));
        }
        let ((p0, b0), (p1, b1)) = (totals(&before), totals(&after));
        let member_periods = MEMBERS as f64 * wall.as_secs_f64() / period.as_secs_f64();

        report("members", MEMBERS);
        report("convergence_ms", convergence.as_millis());
        report("window_periods", format!("{:.0}", wall.as_secs_f64() / period.as_secs_f64()));
        report("cpu_us_per_member_period", format!("{:.2}", cpu.as_secs_f64() * 1e6 / member_periods));
        report("bytes_per_member_period", format!("{:.1}", (b1 - b0) as f64 / member_periods));
        report("msgs_per_member_period", format!("{:.3}", (p1 - p0) as f64 / member_periods));
        for m in &members {
            let _ = m.shutdown().await;
        }
    });
}
