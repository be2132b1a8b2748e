//! `cargo xtask bench udp [--members N] [--transport LIST]`: N members (256
//! by default) in one process over loopback, `Config::local()` (T = 200 ms),
//! over each transport of LIST in turn (`udp`, the default; `uring`, UDP on
//! io_uring, Linux only; `tcp`, TCP only). With more than one, each block
//! starts with `transport=NAME`, and `X_vs_Y_cpu` and `X_vs_Y_datagrams_per_s`
//! give each later transport's figures over the first's, measured in this
//! one run. `datagrams_per_s`: datagrams sent per second by all members in
//! the steady window. Then, without members, the transport's capacity:
//! `blast_received_per_s` (one transport sending 200-byte datagrams to
//! another as fast as it can for a second) and `blast_cpu_ns_per_datagram`.
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

use swim::{Cluster, Config, State, Transport};
use swim_tests::alloc_counter::{CountingAllocator, live_bytes};
use swim_tests::bench::{CpuWindow, report, rss_kib};

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

/// `--transport udp,uring,tcp`, or udp.
fn transports_from_args() -> Vec<String> {
    let args: Vec<String> = std::env::args().collect();
    let list = args.iter().position(|a| a == "--transport").and_then(|i| args.get(i + 1));
    let list: Vec<String> = list.map_or_else(|| vec!["udp".to_owned()], |l| l.split(',').map(str::to_owned).collect());
    for t in &list {
        assert!(["udp", "uring", "tcp"].contains(&t.as_str()), "--transport: `{t}` is not udp, uring or tcp");
    }
    list
}

/// A member over `transport`, on loopback.
async fn start(name: String, config: &Config, transport: &str) -> Cluster {
    let addr = "127.0.0.1:0".parse().expect("an address");
    let builder = Cluster::builder(name).config(config.clone());
    let started = match transport {
        "tcp" => builder.bind(addr).tcp_only().start().await,
        #[cfg(target_os = "linux")]
        "uring" => {
            let uring = swim_transport::uring::UringUdpTransport::bind(addr).await.expect("io_uring is available");
            builder.transport(uring).start().await
        }
        #[cfg(not(target_os = "linux"))]
        "uring" => panic!("io_uring is Linux only"),
        _ => builder.bind(addr).start().await,
    };
    started.expect("a member starts")
}

/// What the comparison needs of one transport's run.
struct Figures {
    cpu_us_per_member_period: f64,
    datagrams_per_s: f64,
    blast_per_s: f64,
    blast_cpu_ns: f64,
}

/// The transport's own capacity, without members: one of a pair sends
/// 200-byte datagrams to the other as fast as it can for a second (giving
/// way to the receiver every 64); what arrives per second, and the CPU
/// time per datagram that arrived.
async fn blast<T: Transport>(a: T, b: T) -> (f64, f64) {
    use std::sync::Arc;
    use std::sync::atomic::{AtomicU64, Ordering};
    let (a, b) = (Arc::new(a), Arc::new(b));
    let to = b.local_addr();
    let received = Arc::new(AtomicU64::new(0));
    let counter = Arc::clone(&received);
    let receiver = tokio::spawn(async move {
        let mut buf = [0u8; 2048];
        while b.recv_from(&mut buf).await.is_ok() {
            counter.fetch_add(1, Ordering::Relaxed);
        }
    });
    let payload = [7u8; 200];
    let (cpu, started) = (CpuWindow::start(), Instant::now());
    let mut sent = 0u64;
    while started.elapsed() < Duration::from_secs(1) {
        let _ = a.send_to(&payload, to).await;
        sent += 1;
        if sent.is_multiple_of(64) {
            tokio::task::yield_now().await;
        }
    }
    tokio::time::sleep(Duration::from_millis(200)).await;
    let (got, cpu) = (received.load(Ordering::Relaxed), cpu.elapsed());
    receiver.abort();
    (got as f64 / started.elapsed().as_secs_f64(), cpu.as_nanos() as f64 / got.max(1) as f64)
}

async fn blast_over(transport: &str) -> (f64, f64) {
    let addr = "127.0.0.1:0".parse().expect("an address");
    match transport {
        "tcp" => {
            use swim_transport::tcp::{TcpOptions, TcpTransport};
            let options = TcpOptions { queue: 4096, inbox: 4096, ..TcpOptions::default() };
            let bind = || TcpTransport::bind(addr, options);
            blast(bind().await.expect("tcp"), bind().await.expect("tcp")).await
        }
        #[cfg(target_os = "linux")]
        "uring" => {
            use swim_transport::uring::UringUdpTransport;
            blast(
                UringUdpTransport::bind(addr).await.expect("uring"),
                UringUdpTransport::bind(addr).await.expect("uring"),
            )
            .await
        }
        _ => {
            use swim::udp::UdpTransport;
            blast(UdpTransport::bind(addr).await.expect("udp"), UdpTransport::bind(addr).await.expect("udp")).await
        }
    }
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
    let n = members_from_args();
    let transports = transports_from_args();
    if let [transport] = transports.as_slice() {
        measure(n, transport);
        return;
    }
    // Each transport in a process of its own, one after another, so that
    // none measures what another left running.
    let mut figures = Vec::new();
    for transport in &transports {
        report("transport", transport);
        let exe = std::env::current_exe().expect("this benchmark's path");
        let out = std::process::Command::new(exe)
            .args(["--members", &n.to_string(), "--transport", transport])
            .output()
            .expect("the benchmark runs again");
        assert!(out.status.success(), "{transport}: {}", String::from_utf8_lossy(&out.stderr));
        let text = String::from_utf8_lossy(&out.stdout).into_owned();
        print!("{text}");
        let figure = |key: &str| -> f64 {
            text.lines()
                .find_map(|l| l.strip_prefix(key).and_then(|v| v.strip_prefix('=')))
                .and_then(|v| v.parse().ok())
                .unwrap_or(f64::NAN)
        };
        figures.push(Figures {
            cpu_us_per_member_period: figure("cpu_us_per_member_period"),
            datagrams_per_s: figure("datagrams_per_s"),
            blast_per_s: figure("blast_received_per_s"),
            blast_cpu_ns: figure("blast_cpu_ns_per_datagram"),
        });
    }
    let (first, first_figures) = (&transports[0], &figures[0]);
    for (t, f) in transports.iter().zip(&figures).skip(1) {
        report(&format!("{t}_vs_{first}_blast_per_s"), format!("{:.2}", f.blast_per_s / first_figures.blast_per_s));
        report(&format!("{t}_vs_{first}_blast_cpu"), format!("{:.2}", f.blast_cpu_ns / first_figures.blast_cpu_ns));
        report(
            &format!("{t}_vs_{first}_cpu"),
            format!("{:.2}", f.cpu_us_per_member_period / first_figures.cpu_us_per_member_period),
        );
        report(
            &format!("{t}_vs_{first}_datagrams_per_s"),
            format!("{:.2}", f.datagrams_per_s / first_figures.datagrams_per_s),
        );
    }
}

/// One transport's run, on a runtime of its own.
fn measure(n: usize, transport: &str) -> Figures {
    let runtime =
        tokio::runtime::Builder::new_multi_thread().worker_threads(2).enable_all().build().expect("a runtime");
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
            members.push(start(format!("bench-{i:04}"), &config, transport).await);
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
        let (cpu0, wall0) = (CpuWindow::start(), Instant::now());
        tokio::time::sleep(period * 100).await;
        let (cpu, wall) = (cpu0.elapsed(), wall0.elapsed());
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
        let datagrams_per_s = (p1 - p0) as f64 / wall.as_secs_f64();
        report("datagrams_per_s", format!("{datagrams_per_s:.0}"));
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
        drop(members);
        let (blast_per_s, blast_cpu_ns) = blast_over(transport).await;
        report("blast_received_per_s", format!("{blast_per_s:.0}"));
        report("blast_cpu_ns_per_datagram", format!("{blast_cpu_ns:.0}"));
        Figures {
            cpu_us_per_member_period: cpu.as_secs_f64() * 1e6 / member_periods,
            datagrams_per_s,
            blast_per_s,
            blast_cpu_ns,
        }
    })
}
