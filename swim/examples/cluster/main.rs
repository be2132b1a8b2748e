//! The swim demo: a local cluster over real sockets, a crash, a departure
//! and a broadcast, narrated; or, with `--live`, watched as a grid redrawn
//! in the terminal (with a partition and its heal too).
//!
//! ```text
//! cargo run --release --example cluster                 # 16 members over UDP
//! cargo run --release --example cluster -- --members 32 --quic
//! cargo run --release --example cluster -- --live       # the grid
//! ```

#![allow(clippy::indexing_slicing, clippy::cast_possible_truncation)]

use std::collections::HashMap;
use std::time::{Duration, Instant};

use swim::tls::ClusterCa;
use swim::{Cluster, Config, Event, Events, State};
use tokio_stream::{StreamExt, StreamMap};

mod live;

type DemoError = Box<dyn std::error::Error>;

const USAGE: &str = "usage: cluster [--members N] [--quic] | cluster --live [--members N]";

/// The most members `--live` draws (a grid of 40 × 40 fits a wide terminal).
const LIVE_MAX: usize = 40;

struct Args {
    members: usize,
    quic: bool,
    live: bool,
}

fn parse_args() -> Result<Args, String> {
    let mut args = Args { members: 16, quic: false, live: false };
    let mut it = std::env::args().skip(1);
    while let Some(arg) = it.next() {
        match arg.as_str() {
            "--members" => {
                let n = it.next().ok_or("--members needs a number")?;
                args.members = n.parse().map_err(|_| format!("--members: `{n}` is not a number"))?;
            }
            "--quic" => args.quic = true,
            "--live" => args.live = true,
            "-h" | "--help" => return Err(USAGE.into()),
            other => return Err(format!("unknown argument `{other}` (try --help)")),
        }
    }
    if args.members < 5 {
        return Err("--members must be at least 5".into());
    }
    if args.live && args.quic {
        return Err("--live runs over UDP (its partition is made by the fault-injection transport): drop --quic".into());
    }
    if args.live && args.members > LIVE_MAX {
        return Err(format!("--live draws at most {LIVE_MAX} members"));
    }
    Ok(args)
}

#[tokio::main]
async fn main() {
    let args = match parse_args() {
        Ok(args) => args,
        Err(message) => {
            eprintln!("{message}");
            std::process::exit(2);
        }
    };
    let outcome = if args.live { live::run(args.members).await } else { run(args).await };
    if let Err(e) = outcome {
        eprintln!("demo failed: {e}");
        std::process::exit(1);
    }
}

fn name(i: usize) -> String {
    format!("m{i:02}")
}

fn secs(d: Duration) -> String {
    format!("{:.2}s", d.as_secs_f64())
}

async fn run(args: Args) -> Result<(), DemoError> {
    let config = Config::local();
    let n = args.members;
    let transport = if args.quic { "QUIC with mutual TLS" } else { "UDP (syncs over TCP)" };
    println!("swim demo: {n} members on 127.0.0.1 over {transport}, protocol period {:?}\n", config.probe.period);

    // Start the members.
    let ca = if args.quic { Some(ClusterCa::generate("demo")?) } else { None };
    let mut members = Vec::with_capacity(n);
    for i in 0..n {
        let mut builder = Cluster::builder(name(i))
            .config(config.clone())
            .bind(std::net::SocketAddr::from(([127, 0, 0, 1], 0)))
            .metadata(format!("zone={}", ["a", "b", "c"][i % 3]));
        if let Some(ca) = &ca {
            builder = builder.quic(ca.issue(&name(i))?);
        }
        members.push(builder.start().await?);
    }
    let first = members[0].local_addr().port();
    println!("  started {n} members ({}:{first} and up)", members[0].local_addr().ip());

    // Everyone joins through m00; wait until everyone sees everyone.
    let started = Instant::now();
    let seed = members[0].local_addr();
    for m in &members[1..] {
        m.join([seed]).await?;
    }
    for m in &members {
        m.wait_for_members(n, Duration::from_secs(30)).await?;
    }
    println!("  all {n} members see all {n} alive after {}\n", secs(started.elapsed()));

    // Kill two members without a goodbye, and watch the survivors.
    let victims = [3, n - 5];
    let mut watchers: StreamMap<usize, Events> =
        (0..n).filter(|i| !victims.contains(i)).map(|i| (i, members[i].events())).collect();
    let killed_at = Instant::now();
    for &v in &victims {
        members[v].shutdown().await?;
    }
    println!("  killed {} and {} (no goodbye)", name(victims[0]), name(victims[1]));
    let survivors = watchers.len();
    let mut first_suspected: HashMap<String, (Duration, String)> = HashMap::new();
    let mut faulty_at: HashMap<String, Vec<Duration>> = HashMap::new();
    let deadline = tokio::time::Instant::now() + Duration::from_secs(60);
    while victims.iter().any(|&v| faulty_at.get(&name(v)).map_or(0, Vec::len) < survivors) {
        let Ok(Some((_, event))) = tokio::time::timeout_at(deadline, watchers.next()).await else { break };
        let at = killed_at.elapsed();
        match event {
            Ok(Event::MemberSuspected { member, by }) => {
                first_suspected.entry(member.name.to_string()).or_insert((at, by.to_string()));
            }
            Ok(Event::MemberFaulty { member, .. }) => faulty_at.entry(member.name.to_string()).or_default().push(at),
            _ => {}
        }
    }
    for &v in &victims {
        let who = name(v);
        let suspected = first_suspected.get(&who).map_or("never".into(), |(t, by)| format!("{} (by {by})", secs(*t)));
        let verdicts = faulty_at.get(&who).cloned().unwrap_or_default();
        let (first, last) = (verdicts.iter().min(), verdicts.iter().max());
        println!("    {who}: first suspected after {suspected}");
        match (first, last) {
            (Some(first), Some(last)) => println!(
                "         declared faulty by the first survivor after {}, by all {} of {survivors} after {}",
                secs(*first),
                verdicts.len(),
                secs(*last)
            ),
            _ => println!("         not declared faulty within a minute"),
        }
    }

    // One member leaves gracefully.
    let leaver = 1;
    let mut events = members[0].events();
    let left_at = Instant::now();
    members[leaver].leave(Duration::from_secs(5)).await?;
    let live: Vec<usize> = (0..n).filter(|i| !victims.contains(i) && *i != leaver).collect();
    let remaining: Vec<Cluster> = live.iter().map(|&i| members[i].clone()).collect();
    let leaver_name = name(leaver);
    for m in &remaining {
        let mut view = m.watch().await?;
        let left = view.wait_for(|v| v.iter().any(|x| x.name == *leaver_name && x.state == State::Left));
        drop(tokio::time::timeout(Duration::from_secs(30), left).await??);
    }
    let mut faulty = false;
    while let Some(Ok(e)) = events.try_recv() {
        faulty |= matches!(&e, Event::MemberFaulty { member, .. } if member.name == name(leaver).as_str());
    }
    println!(
        "\n  {} left gracefully: all {} remaining members saw it leave after {}{}",
        name(leaver),
        remaining.len(),
        secs(left_at.elapsed()),
        if faulty { " (but someone declared it faulty!)" } else { ", and nobody declared it faulty" }
    );

    // A broadcast.
    let mut inboxes: StreamMap<usize, Events> = remaining.iter().map(Cluster::events).enumerate().collect();
    let sender = &remaining[0];
    let sent_at = Instant::now();
    sender.broadcast(format!("hello from {}", sender.name())).await?;
    let mut received = vec![0usize; remaining.len()];
    let mut last = Duration::ZERO;
    let mut text = String::new();
    // Until every other member has it, then half a second more: would a
    // duplicate arrive?
    let mut deadline = tokio::time::Instant::now() + Duration::from_secs(10);
    while let Ok(Some((i, event))) = tokio::time::timeout_at(deadline, inboxes.next()).await {
        if let Ok(Event::Broadcast { payload, .. }) = event {
            received[i] += 1;
            last = last.max(sent_at.elapsed());
            text = String::from_utf8_lossy(&payload).into_owned();
            if received.iter().skip(1).all(|&r| r > 0) {
                deadline = deadline.min(tokio::time::Instant::now() + Duration::from_millis(500));
            }
        }
    }
    let once = received.iter().skip(1).filter(|&&r| r == 1).count();
    println!(
        "  {} broadcast \"{text}\": {once} of {} other members received it exactly once, the last after {}",
        sender.name(),
        remaining.len() - 1,
        secs(last)
    );

    // The membership table, as one member sees it.
    let viewer = &remaining[1];
    println!("\n  membership as {} sees it:\n", viewer.name());
    println!("    {:<6} {:<22} {:<8} {:>11}  METADATA", "NAME", "ADDRESS", "STATE", "INCARNATION");
    let mut table = viewer.members().await?;
    table.sort_by(|a, b| a.name.cmp(&b.name));
    for m in &table {
        let addr = m.addrs.first().map_or(String::new(), ToString::to_string);
        let state = m.state.to_string();
        let meta = String::from_utf8_lossy(&m.meta);
        println!("    {:<6} {:<22} {:<8} {:>11}  {meta}", m.name.to_string(), addr, state, m.incarnation);
    }
    for m in &remaining {
        m.shutdown().await?;
    }
    Ok(())
}
