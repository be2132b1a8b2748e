//! One real member in a cluster of thousands (`cargo xtask swarm`): see
//! [`swim_tests::swarm`].
//!
//! `swarm --agent=PATH [--members=16000] [--duration=600] [--warmup=60]
//! [--crash-every=60] [--seed=1]` starts the worker processes that emulate
//! the other members, then the agent (the real member, its own process),
//! which joins through emulated member 0 and runs until the end; and
//! prints `swarm: key=value` figures: the agent's CPU (% of one core, from
//! the end of the warmup on, syncs included), its resident set, the bytes
//! and datagrams it sent and received per protocol period, its join, and
//! for each crash how long until it suspected and declared the member.
//! `swarm worker --index=W ...` is a worker (the parent starts them). With
//! `SWARM_VERBOSE` set, the agent's lines (but member joins) go to stderr.

#![allow(clippy::indexing_slicing, clippy::cast_possible_truncation, clippy::cast_precision_loss)]

use std::collections::BTreeMap;
use std::io::{BufRead, BufReader};
use std::process::{Child, Command, ExitCode, Stdio};
use std::sync::mpsc;
use std::time::Duration;

use swim_tests::bench::{cpu_time_of, rss_kib_of};
use swim_tests::swarm::codec::now_ms;
use swim_tests::swarm::worker::{REAL_NAME, parse_index};
use swim_tests::swarm::{Plan, worker};

fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let result =
        if args.first().map(String::as_str) == Some("worker") { run_worker(&args[1..]) } else { parent(&args) };
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("swarm: {e}");
            ExitCode::FAILURE
        }
    }
}

fn run_worker(args: &[String]) -> Result<(), String> {
    let (plan, rest) = Plan::parse(args)?;
    let index = rest
        .iter()
        .find_map(|a| a.strip_prefix("--index="))
        .ok_or("worker: --index=W")?
        .parse()
        .map_err(|e| format!("--index: {e}"))?;
    let (all, steady) = worker::run(plan, index)?;
    println!("counters worker={index} {} {}", all.line("all"), steady.line("steady"));
    Ok(())
}

/// A line from a child, with when it arrived (ms since the run started).
struct Line {
    from: String,
    at_ms: u64,
    text: String,
}

fn forward(child: &mut Child, from: String, start_ms: u64, tx: mpsc::Sender<Line>) {
    let Some(out) = child.stdout.take() else { return };
    std::thread::spawn(move || {
        for text in BufReader::new(out).lines().map_while(Result::ok) {
            let at_ms = now_ms().saturating_sub(start_ms);
            if tx.send(Line { from: from.clone(), at_ms, text }).is_err() {
                break;
            }
        }
    });
}

/// What the agent said, as it said it.
#[derive(Default)]
struct AgentLog {
    joined_ms: Option<u64>,
    /// When it counted every emulated member.
    all_known_ms: Option<u64>,
    known: usize,
    suspected: BTreeMap<usize, u64>,
    faulty: BTreeMap<usize, u64>,
    refuted: usize,
    other_faulty: usize,
}

impl AgentLog {
    fn take(&mut self, line: &Line, emulated: usize) {
        // `[  12.345s] ? name suspected by ...`
        let text = line.text.split_once("] ").map_or(line.text.as_str(), |(_, rest)| rest);
        let words: Vec<&str> = text.split_whitespace().collect();
        let member = words.get(1).and_then(|n| parse_index(n.as_bytes()));
        match (words.first().copied(), member) {
            (Some("joined"), _) => self.joined_ms = Some(line.at_ms),
            (Some("+"), Some(_)) => {
                self.known += 1;
                if self.known >= emulated {
                    self.all_known_ms.get_or_insert(line.at_ms);
                }
            }
            (Some("?"), Some(i)) => {
                self.suspected.entry(i).or_insert(line.at_ms);
            }
            (Some("x"), Some(i)) => {
                self.faulty.entry(i).or_insert(line.at_ms);
            }
            (Some("x"), None) => self.other_faulty += 1,
            // The agent's event buffer overflows in the burst of its join
            // (every member is news at once): those were member joins.
            (Some("(missed"), _) if self.all_known_ms.is_none() => {
                self.known += words.get(1).and_then(|n| n.parse::<usize>().ok()).unwrap_or(0);
                if self.known >= emulated {
                    self.all_known_ms.get_or_insert(line.at_ms);
                }
            }
            (Some("!"), _) if line.text.contains("refuted") => self.refuted += 1,
            _ => {}
        }
    }
}

fn stop(children: &mut [Child]) {
    for c in children {
        let _ = c.kill();
        let _ = c.wait();
    }
}

fn parent(args: &[String]) -> Result<(), String> {
    let (mut plan, rest) = Plan::parse(args)?;
    let agent = rest.iter().find_map(|a| a.strip_prefix("--agent=")).ok_or("--agent=PATH (swim-agent)")?;
    swim_wire::crypto::fill_random(&mut plan.key).map_err(|e| e.to_string())?;
    plan.start_ms = now_ms();
    let key: String = plan.key.iter().map(|b| format!("{b:02x}")).collect();
    let exe = std::env::current_exe().map_err(|e| e.to_string())?;
    let (tx, rx) = mpsc::channel();
    let mut children = Vec::new();
    for w in 0..plan.workers {
        let mut child = Command::new(&exe)
            .arg("worker")
            .arg(format!("--index={w}"))
            .args(plan.args())
            .stdout(Stdio::piped())
            .spawn()
            .map_err(|e| format!("starting worker {w}: {e}"))?;
        forward(&mut child, format!("worker{w}"), plan.start_ms, tx.clone());
        children.push(child);
    }
    let mut ready = 0;
    while ready < plan.workers {
        match rx.recv_timeout(Duration::from_secs(120)) {
            Ok(line) if line.text.starts_with("ready") => ready += 1,
            Ok(_) => {}
            Err(_) => {
                stop(&mut children);
                return Err("the workers did not start (see their errors above)".into());
            }
        }
    }
    let ready_ms = now_ms() - plan.start_ms;
    let seed_addr = plan.addr(0);
    let name = String::from_utf8_lossy(REAL_NAME).into_owned();
    let mut agent = Command::new(agent)
        .args(["agent", "--bind", &plan.real.to_string(), "--name", &name, "--join", &seed_addr.to_string()])
        .args(["--preset", "lan", "--log-events", "--api", "127.0.0.1:0"])
        .env("SWIM_KEY", &key)
        .stdout(Stdio::piped())
        .spawn()
        .map_err(|e| format!("starting the agent {agent}: {e}"))?;
    let pid = agent.id().to_string();
    let agent_start_ms = now_ms() - plan.start_ms;
    forward(&mut agent, "agent".into(), plan.start_ms, tx.clone());
    drop(tx);

    let verbose = std::env::var_os("SWARM_VERBOSE").is_some();
    let mut log = AgentLog::default();
    let mut counters: Vec<String> = Vec::new();
    let mut marks: Vec<(u64, Duration, f64)> = Vec::new();
    let warmup_ms = plan.warmup.as_millis() as u64;
    let end_ms = plan.duration.as_millis() as u64;
    let mut next_mark = warmup_ms;
    loop {
        let now = now_ms() - plan.start_ms;
        if next_mark <= end_ms && now >= next_mark {
            marks.push((now, cpu_time_of(&pid), rss_kib_of(&pid)));
            next_mark = if next_mark < end_ms { (next_mark + 60_000).min(end_ms - 1000) } else { u64::MAX };
            if next_mark <= now {
                next_mark = u64::MAX;
            }
        }
        if now > end_ms + 30_000 || counters.len() == plan.workers {
            break;
        }
        if let Ok(Some(status)) = agent.try_wait() {
            stop(&mut children);
            return Err(format!("the agent stopped: {status}"));
        }
        match rx.recv_timeout(Duration::from_millis(200)) {
            Ok(line) if line.from == "agent" => {
                if verbose && !line.text.contains(" + ") {
                    eprintln!("agent {:.1}: {}", line.at_ms as f64 / 1000.0, line.text);
                }
                log.take(&line, plan.emulated());
            }
            Ok(line) if line.text.starts_with("counters") => counters.push(line.text),
            Ok(_) | Err(mpsc::RecvTimeoutError::Timeout) => {}
            Err(mpsc::RecvTimeoutError::Disconnected) => break,
        }
    }
    let hwm = std::fs::read_to_string(format!("/proc/{pid}/status"))
        .ok()
        .and_then(|s| s.lines().find(|l| l.starts_with("VmHWM:")).map(str::to_owned))
        .and_then(|l| l.split_whitespace().nth(1).and_then(|v| v.parse::<f64>().ok()))
        .unwrap_or(0.0);
    let _ = agent.kill();
    let _ = agent.wait();
    stop(&mut children);
    report(&plan, &log, &counters, &marks, hwm, ready_ms, agent_start_ms)
}

fn sum(counters: &[String], key: &str) -> u64 {
    counters
        .iter()
        .flat_map(|l| l.split_whitespace())
        .filter_map(|kv| kv.split_once('='))
        .filter(|(k, _)| *k == key)
        .filter_map(|(_, v)| v.parse::<u64>().ok())
        .sum()
}

fn report(
    plan: &Plan,
    log: &AgentLog,
    counters: &[String],
    marks: &[(u64, Duration, f64)],
    hwm: f64,
    ready_ms: u64,
    agent_start_ms: u64,
) -> Result<(), String> {
    let say = |k: &str, v: String| println!("swarm: {k}={v}");
    say("members", plan.members.to_string());
    say("workers", plan.workers.to_string());
    say("seconds", plan.duration.as_secs().to_string());
    say("workers_ready_s", format!("{:.1}", ready_ms as f64 / 1000.0));
    let joined = log.joined_ms.ok_or("the agent never joined")?;
    say("join_s", format!("{:.2}", (joined - agent_start_ms) as f64 / 1000.0));
    match log.all_known_ms {
        Some(at) => say("knows_all_s", format!("{:.2}", (at - agent_start_ms) as f64 / 1000.0)),
        None => say("knows_all_s", format!("never (knew {})", log.known)),
    }
    let (Some(first), Some(last)) = (marks.first(), marks.last()) else {
        return Err("the run ended before its warmup".into());
    };
    let wall = Duration::from_millis(last.0 - first.0);
    let cpu = last.1.saturating_sub(first.1);
    say("cpu_pct_of_core", format!("{:.3}", 100.0 * cpu.as_secs_f64() / wall.as_secs_f64().max(1e-9)));
    let worst = marks
        .windows(2)
        .map(|w| (w[1].1.saturating_sub(w[0].1)).as_secs_f64() / ((w[1].0 - w[0].0) as f64 / 1000.0).max(1e-9))
        .fold(0.0, f64::max);
    say("cpu_pct_worst_minute", format!("{:.3}", 100.0 * worst));
    say("rss_kib", format!("{:.0}", last.2));
    say("rss_peak_kib", format!("{hwm:.0}"));
    let periods = wall.as_secs_f64() / plan.config().probe.period.as_secs_f64();
    let per = |key: &str| format!("{:.1}", sum(counters, key) as f64 / periods);
    say("bytes_sent_per_period", per("steady.bytes_in"));
    say("bytes_received_per_period", per("steady.bytes_out"));
    say("datagrams_sent_per_period", per("steady.datagrams_in"));
    say("datagrams_received_per_period", per("steady.datagrams_out"));
    say("pings_answered", sum(counters, "steady.acks_in").to_string());
    say("pinged_by_it", sum(counters, "steady.pings_in").to_string());
    say("indirect_pings_by_it", sum(counters, "steady.indirect_in").to_string());
    say("syncs_it_opened", sum(counters, "all.syncs_in").to_string());
    say("syncs_opened_with_it", sum(counters, "all.syncs_out").to_string());
    say("syncs_failed", sum(counters, "all.syncs_failed").to_string());
    say("sync_buckets_differing", sum(counters, "all.buckets_differ").to_string());
    say("bad_packets", sum(counters, "all.bad").to_string());
    let crashes = plan.crashes();
    let mut suspect = Vec::new();
    let mut faulty = Vec::new();
    for c in &crashes {
        let at = c.at.as_millis() as u64;
        let s = log.suspected.get(&c.victim).map(|&t| (t.saturating_sub(at)) as f64 / 1000.0);
        let f = log.faulty.get(&c.victim).map(|&t| (t.saturating_sub(at)) as f64 / 1000.0);
        let show = |x: Option<f64>| x.map_or("never".into(), |v| format!("{v:.1}"));
        println!(
            "swarm: crash member={} at_s={:.0} suspected_after_s={} faulty_after_s={} cluster_verdict_after_s={:.1}",
            c.victim,
            c.at.as_secs_f64(),
            show(s),
            show(f),
            (c.faulty_at - c.at).as_secs_f64()
        );
        suspect.extend(s);
        faulty.extend(f);
    }
    let stats = |v: &[f64]| {
        let mean = v.iter().sum::<f64>() / v.len().max(1) as f64;
        format!("{mean:.1}/{:.1}", v.iter().copied().fold(0.0, f64::max))
    };
    say("crashes", crashes.len().to_string());
    say("suspected_mean_max_s", stats(&suspect));
    say("faulty_mean_max_s", stats(&faulty));
    say("crashes_missed", (crashes.len() - faulty.len()).to_string());
    let crashed = |i: &usize| crashes.iter().any(|c| c.victim == *i);
    say("false_suspicions", log.suspected.keys().filter(|i| !crashed(i)).count().to_string());
    say("false_verdicts", (log.faulty.keys().filter(|i| !crashed(i)).count() + log.other_faulty).to_string());
    say("refutations", sum(counters, "all.refutes").to_string());
    Ok(())
}
