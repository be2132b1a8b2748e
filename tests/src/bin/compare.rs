//! The swim side of `cargo xtask compare`: the same scenarios as the
//! memberlist side (`xtask/compare/memberlist/main.go`), through the public
//! API, N members in this one process over loopback UDP.
//!
//! `compare --scenario main|loss --n N --seed S` prints one `key=value` per
//! figure:
//!
//! - `main`: `join_ms` (joins one after another through the first member,
//!   until every member counts N live, polled every 5 ms; `not_converged=1`
//!   and nothing more if that takes over 60 s); then, after ten
//!   quiet periods, over 25 periods: `cpu_us`, `datagrams` and `bytes` per
//!   member and period, and `rss_kb` per member; then the last three
//!   members are stopped without a word, one after another (each once every
//!   survivor declared the previous one faulty): `first_suspect_periods`,
//!   `first_faulty_periods`, `all_faulty_periods`, means over the three
//!   (timestamps from the members' events).
//!   With `--pace MS`, joins come that many milliseconds apart and
//!   `join_ms` counts from the last one.
//! - `floor`: no protocol, only its least traffic: every member sends one
//!   ping a period to a random other, which answers with an ack (plain
//!   tokio UDP sockets, 48-byte datagrams, 2 per member-period): `cpu_us`
//!   per member and period, what the kernel and the runtime cost alone.
//! - `loss`: converged, then 10% of datagrams dropped for 87 periods:
//!   `false_verdicts` (faulty verdicts, every member being alive).

#![allow(clippy::indexing_slicing, clippy::cast_possible_truncation, clippy::cast_precision_loss)]

use std::collections::BTreeSet;
use std::process::ExitCode;
use std::sync::Arc;
use std::time::{Duration, Instant};

use parking_lot::Mutex;
use swim::faults::{FaultConfig, FaultControl, Faults};
use swim::udp::UdpTransport;
use swim::{Cluster, Config, Event};
use swim_tests::bench::{compare_config, cpu_time, rss_kib};

const PERIOD: Duration = Duration::from_millis(200);

/// memberlist's LAN settings at T = 200 ms (see [`compare_config`]).
fn config(seed: u64) -> Config {
    compare_config(PERIOD).with(|c| c.seed = seed)
}

fn name(i: usize) -> String {
    format!("m{i:03}")
}

struct Args {
    loss: bool,
    floor: bool,
    /// Between joins (zero: a burst).
    pace: Duration,
    n: usize,
    seed: u64,
}

fn parse() -> Result<Args, String> {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let value = |flag: &str| args.iter().position(|a| a == flag).and_then(|i| args.get(i + 1)).cloned();
    let (loss, floor) = match value("--scenario").as_deref() {
        Some("main") | None => (false, false),
        Some("loss") => (true, false),
        Some("floor") => (false, true),
        Some(other) => return Err(format!("unknown scenario `{other}`")),
    };
    let number = |flag: &str, default: u64| -> Result<u64, String> {
        value(flag).map_or(Ok(default), |v| v.parse().map_err(|_| format!("{flag}: `{v}` is not a number")))
    };
    let n = usize::try_from(number("--n", 32)?).map_err(|e| e.to_string())?;
    if n < 2 {
        return Err("--n must be at least 2".into());
    }
    Ok(Args { loss, floor, n, seed: number("--seed", 1)?, pace: Duration::from_millis(number("--pace", 0)?) })
}

/// Every faulty verdict each observer made, with when.
type Verdicts = Arc<Mutex<Vec<(usize, String, Instant)>>>;
/// Every suspicion any observer raised or learned: of whom, when.
type Suspicions = Arc<Mutex<Vec<(String, Instant)>>>;

/// Crashes per run (the detection figures are means over them).
const CRASHES: usize = 3;

fn record(observer: usize, cluster: &Cluster, verdicts: &Verdicts, suspicions: &Suspicions) {
    let (mut events, verdicts, suspicions) = (cluster.events(), Arc::clone(verdicts), Arc::clone(suspicions));
    tokio::spawn(async move {
        while let Ok(event) = events.recv().await {
            match event {
                Event::MemberFaulty { member, .. } => {
                    verdicts.lock().push((observer, member.name.to_string(), Instant::now()));
                }
                Event::MemberSuspected { member, .. } => {
                    suspicions.lock().push((member.name.to_string(), Instant::now()));
                }
                _ => {}
            }
        }
    });
}

async fn all_count(members: &[Cluster], n: usize) -> bool {
    for m in members {
        if m.num_members().await.ok() != Some(n) {
            return false;
        }
    }
    true
}

/// The `floor` scenario.
async fn floor(n: usize, seed: u64) -> Result<(), String> {
    let mut sockets = Vec::with_capacity(n);
    for _ in 0..n {
        let socket = tokio::net::UdpSocket::bind("127.0.0.1:0").await.map_err(|e| e.to_string())?;
        sockets.push(Arc::new(socket));
    }
    let addrs: Arc<Vec<std::net::SocketAddr>> =
        Arc::new(sockets.iter().map(|s| s.local_addr()).collect::<Result<_, _>>().map_err(|e| e.to_string())?);
    let sent = Arc::new(std::sync::atomic::AtomicU64::new(0));
    for (i, socket) in sockets.into_iter().enumerate() {
        let (addrs, sent) = (Arc::clone(&addrs), Arc::clone(&sent));
        tokio::spawn(async move {
            let mut rng = seed.wrapping_mul(0x9E37_79B9_7F4A_7C15) ^ (i as u64 + 1);
            let mut next = move || {
                rng ^= rng << 13;
                rng ^= rng >> 7;
                rng ^= rng << 17;
                rng
            };
            let phase = PERIOD.mul_f64((next() % 1000) as f64 / 1000.0);
            let mut tick = tokio::time::interval_at(tokio::time::Instant::now() + phase, PERIOD);
            let mut buf = [0u8; 1500];
            let ping = [1u8; 48];
            loop {
                tokio::select! {
                    _ = tick.tick() => {
                        let to = (i + 1 + (next() as usize % (addrs.len() - 1))) % addrs.len();
                        if socket.send_to(&ping, addrs[to]).await.is_ok() {
                            sent.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
                        }
                    }
                    got = socket.recv_from(&mut buf) => {
                        if let Ok((len, from)) = got && buf[..len].first() == Some(&1) {
                            let mut ack = [2u8; 48];
                            ack[..8].copy_from_slice(&(i as u64).to_le_bytes());
                            if socket.send_to(&ack, from).await.is_ok() {
                                sent.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
                            }
                        }
                    }
                }
            }
        });
    }
    tokio::time::sleep(PERIOD * 10).await;
    const WINDOW: u32 = 25;
    let (cpu0, sent0) = (cpu_time(), sent.load(std::sync::atomic::Ordering::Relaxed));
    tokio::time::sleep(PERIOD * WINDOW).await;
    let (cpu1, sent1) = (cpu_time(), sent.load(std::sync::atomic::Ordering::Relaxed));
    let per = (n as f64) * f64::from(WINDOW);
    println!("cpu_us={:.1}", (cpu1 - cpu0).as_secs_f64() * 1e6 / per);
    println!("datagrams={:.2}", (sent1 - sent0) as f64 / per);
    Ok(())
}

async fn run(args: Args) -> Result<(), String> {
    let n = args.n;
    if args.floor {
        return floor(n, args.seed).await;
    }
    let base_rss = rss_kib();
    let mut members = Vec::with_capacity(n);
    let mut controls: Vec<FaultControl> = Vec::new();
    for i in 0..n {
        let builder = Cluster::builder(name(i)).config(config(args.seed * 1000 + i as u64));
        let local = "127.0.0.1:0".parse().map_err(|e| format!("{e}"))?;
        let started = if args.loss {
            let udp = UdpTransport::bind(local).await.map_err(|e| e.to_string())?;
            let (faults, control) = Faults::new(udp, FaultConfig::default(), args.seed * 1000 + i as u64);
            controls.push(control);
            builder.transport(faults).start().await
        } else {
            builder.bind(local).start().await
        };
        members.push(started.map_err(|e| e.to_string())?);
    }
    let (verdicts, suspicions): (Verdicts, Suspicions) = (Arc::default(), Arc::default());
    for (i, m) in members.iter().enumerate() {
        record(i, m, &verdicts, &suspicions);
    }
    let seed = members[0].local_addr();
    let mut start = Instant::now();
    for (i, m) in members.iter().enumerate().skip(1) {
        if !args.pace.is_zero() && i > 1 {
            tokio::time::sleep(args.pace).await;
        }
        m.join([seed]).await.map_err(|e| e.to_string())?;
    }
    if !args.pace.is_zero() {
        start = Instant::now(); // paced: from the last join
    }
    while !all_count(&members, n).await {
        if start.elapsed() > Duration::from_secs(60) {
            // Reported, not fatal: the figure is that it did not converge.
            eprintln!("compare: no convergence in 60 s");
            println!("not_converged=1");
            return Ok(());
        }
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
    println!("join_ms={:.1}", start.elapsed().as_secs_f64() * 1000.0);
    tokio::time::sleep(PERIOD * 10).await;

    if args.loss {
        verdicts.lock().clear();
        for c in &controls {
            c.set(FaultConfig { loss: 0.1, ..FaultConfig::default() });
        }
        tokio::time::sleep(PERIOD * 87).await;
        println!("false_verdicts={}", verdicts.lock().len());
        return Ok(());
    }

    // Steady state.
    const WINDOW: u32 = 25;
    let sent = |members: &[Cluster]| {
        let members = members.to_vec();
        async move {
            let mut totals = (0u64, 0u64);
            for m in &members {
                if let Ok(s) = m.stats().await {
                    totals.0 += s.packets_sent;
                    totals.1 += s.bytes_sent;
                }
            }
            totals
        }
    };
    let (cpu0, sent0) = (cpu_time(), sent(&members).await);
    tokio::time::sleep(PERIOD * WINDOW).await;
    let (cpu1, sent1) = (cpu_time(), sent(&members).await);
    let per = (n as f64) * f64::from(WINDOW);
    println!("cpu_us={:.1}", (cpu1 - cpu0).as_secs_f64() * 1e6 / per);
    println!("datagrams={:.2}", (sent1.0 - sent0.0) as f64 / per);
    println!("bytes={:.0}", (sent1.1 - sent0.1) as f64 / per);
    println!("rss_kb={:.1}", (rss_kib() - base_rss) / n as f64);

    // Crashes, one after another (each once the previous one is declared
    // by every survivor): the figures are means over them, since one crash
    // gives a noisy sample (when someone's round robin reaches the victim).
    let periods = |d: Duration| d.as_secs_f64() / PERIOD.as_secs_f64();
    let (mut suspects, mut firsts, mut alls) = (Vec::new(), Vec::new(), Vec::new());
    verdicts.lock().clear();
    suspicions.lock().clear();
    for k in 0..CRASHES.min(n.saturating_sub(2)) {
        let victim = n - 1 - k;
        let victim_name = name(victim);
        let killed = Instant::now();
        members[victim].shutdown().await.map_err(|e| e.to_string())?;
        let declared = |verdicts: &Verdicts| {
            verdicts
                .lock()
                .iter()
                .filter(|(_, who, _)| *who == victim_name)
                .map(|(o, _, _)| *o)
                .collect::<BTreeSet<_>>()
        };
        while killed.elapsed() < Duration::from_secs(60) && declared(&verdicts).len() < victim {
            tokio::time::sleep(Duration::from_millis(5)).await;
        }
        let first_suspect = suspicions.lock().iter().filter(|(who, _)| *who == victim_name).map(|(_, at)| *at).min();
        if let Some(at) = first_suspect {
            suspects.push(periods(at.saturating_duration_since(killed)));
        }
        let times: Vec<Duration> = verdicts
            .lock()
            .iter()
            .filter(|(_, who, _)| *who == victim_name)
            .map(|(_, _, at)| at.saturating_duration_since(killed))
            .collect();
        if let Some(first) = times.iter().min() {
            firsts.push(periods(*first));
        }
        if declared(&verdicts).len() == victim
            && let Some(last) = times.iter().max()
        {
            alls.push(periods(*last));
        }
    }
    let mean = |v: &[f64]| v.iter().sum::<f64>() / v.len() as f64;
    if !suspects.is_empty() {
        println!("first_suspect_periods={:.2}", mean(&suspects));
    }
    if !firsts.is_empty() {
        println!("first_faulty_periods={:.2}", mean(&firsts));
    }
    // Only when every crash was declared by all.
    if !alls.is_empty() && alls.len() == firsts.len() {
        println!("all_faulty_periods={:.2}", mean(&alls));
    }
    Ok(())
}

fn main() -> ExitCode {
    let args = match parse() {
        Ok(args) => args,
        Err(e) => {
            eprintln!("compare: {e}");
            return ExitCode::from(2);
        }
    };
    let runtime = match tokio::runtime::Builder::new_multi_thread().enable_all().build() {
        Ok(runtime) => runtime,
        Err(e) => {
            eprintln!("compare: no runtime: {e}");
            return ExitCode::FAILURE;
        }
    };
    match runtime.block_on(run(args)) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("compare: {e}");
            ExitCode::FAILURE
        }
    }
}
