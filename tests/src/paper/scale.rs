//! How far the simulator and the core scale: wall-clock time per simulated
//! member-period, memory per known member, and the distribution of step
//! times (one timer or one datagram handled by a member, its outputs
//! included).
//!
//! Up to [`FULL_LIMIT`] members every member is a full node. A full run of
//! N members holds N² table entries (16,000 members would need tens of
//! gigabytes), so larger clusters run a few full members among responders
//! (see the simulator's `responder` module): each full member holds and
//! works on the whole N-member table, is probed about once a period as in
//! a full cluster, and probes members that answer.

use std::net::SocketAddr;
use std::time::{Duration, Instant};

use swim_protocol::{Config, Node, SyncStatus, Time};
use swim_wire::{Ack, Addrs, Alive, Header, Message, PacketWriter};

use super::{Options, stats};
use crate::alloc_counter::live_bytes;
use crate::sim::{Sim, SimConfig};

/// Largest cluster simulated with every member a full node.
pub const FULL_LIMIT: usize = 2_000;

/// One cluster size.
#[derive(Debug, Clone, PartialEq)]
pub struct Row {
    /// Members in the cluster.
    pub members: usize,
    /// Full members (the rest are responders).
    pub full: usize,
    /// Wall seconds until every full member knew every member.
    pub build_seconds: f64,
    /// Heap bytes per member of one node that knows all of them (its table,
    /// queues and indexes, pre-sized with `limits.expected_members`), measured as
    /// the heap's growth from creating the node to having learned everyone.
    pub bytes_per_member: f64,
    /// Wall seconds that node took to learn everyone from alive updates.
    pub learn_seconds: f64,
    /// Wall seconds of one anti-entropy sync of the whole table between two
    /// nodes (both sides).
    pub sync_seconds: f64,
    /// The anti-entropy interval at this size, in protocol periods.
    pub sync_interval_periods: f64,
    /// Full members' protocol periods simulated per wall second.
    pub member_periods_per_s: f64,
    /// Steps per full member per period.
    pub steps_per_member_period: f64,
    /// Median step, µs.
    pub step_p50_us: f64,
    /// 99th percentile step, µs.
    pub step_p99_us: f64,
    /// 99.9th percentile step, µs.
    pub step_p999_us: f64,
    /// Slowest step, µs.
    pub step_max_us: f64,
}

/// Every size measured.
#[derive(Debug, Clone, PartialEq)]
pub struct Results {
    /// Periods timed per size.
    pub periods: u32,
    /// One row per size.
    pub rows: Vec<Row>,
}

/// One node learning `n − 1` members from datagrams of alive updates (32
/// per datagram, 8-byte names, one IPv4 address, no metadata): the heap it
/// holds per member, the wall time it took, and the wall time of one
/// full anti-entropy sync of that table with a second node that knows the
/// same members (both sides' work, every frame).
fn node_memory(n: usize) -> (f64, f64, f64) {
    let addr = |i: usize| SocketAddr::from(([10, (i >> 16) as u8, (i >> 8) as u8, i as u8], 7946));
    let name = |i: usize| format!("m{i:07}").into_bytes();
    let mut datagrams = Vec::new();
    for start in (1..n).step_by(32) {
        let mut buf = vec![0u8; 1400];
        let mut w = PacketWriter::new(&mut buf, &Header::default(), 1400).expect("a header fits");
        w.push(&Message::Ack(Ack { seq: 0, source: &name(1), payload: &[] })).expect("an ack fits");
        for i in start..n.min(start + 32) {
            let (nm, a) = (name(i), [addr(i)]);
            let alive = Alive { generation: 0, incarnation: 0, name: &nm, addrs: Addrs::from_slice(&a), meta: &[] };
            w.push(&Message::Alive(alive)).expect("32 updates fit");
        }
        let len = w.finish().expect("a primary was pushed");
        buf.truncate(len);
        datagrams.push(buf);
    }
    // The table sync measured is a full one (what a join costs the seed);
    // a periodic delta sync costs far less (`cargo xtask bench sync`).
    let config = Config::lan().with(|c| {
        c.limits.expected_members = n;
        c.sync.delta = false;
    });
    let mut out = vec![0u8; 1400];
    let before = live_bytes();
    let start = Instant::now();
    let mut node = Node::new(&name(0), &[addr(0)], &[], config, Time::ZERO).expect("a valid config");
    for d in &mut datagrams {
        let _ = node.handle_datagram(Time::ZERO, addr(1), d);
        while node.poll_transmit(Time::ZERO, &mut out).is_some() {}
        while node.poll_event().is_some() {}
    }
    let seconds = start.elapsed().as_secs_f64();
    assert_eq!(node.live_members(), n, "the node learned every member");
    let bytes = live_bytes().saturating_sub(before) as f64 / n as f64;
    let sync = sync_seconds(&mut node, &mut datagrams, addr(0), addr(1), &name(1));
    drop(node);
    (bytes, seconds, sync)
}

/// Lets `node` (at `at`) open its periodic sync and runs it, to the end,
/// with a second node named `peer_name` at `peer` that learns the same
/// `datagrams` first; the wall seconds of the exchange alone.
fn sync_seconds(node: &mut Node, datagrams: &mut [Vec<u8>], at: SocketAddr, peer: SocketAddr, peer_name: &[u8]) -> f64 {
    let config = Config::lan().with(|c| c.limits.expected_members = node.live_members());
    let mut other = Node::new(peer_name, &[peer], &[], config, Time::ZERO).expect("a valid config");
    let mut out = vec![0u8; 1400];
    for d in datagrams.iter_mut() {
        let _ = other.handle_datagram(Time::ZERO, peer, d);
        while other.poll_transmit(Time::ZERO, &mut out).is_some() {}
        while other.poll_event().is_some() {}
    }
    // Periodic syncs are on in `node`'s configuration: its first is due
    // within 1.5 base intervals of its start.
    let due = Time::ZERO + Config::lan().sync.interval * 2;
    node.handle_timeout(due);
    while node.poll_transmit(due, &mut out).is_some() {}
    let open = node.poll_sync_open().expect("a periodic sync is due");
    let mut frame = vec![0u8; Config::lan().sync.frame_budget];
    let start = Instant::now();
    let accepted = other.accept_sync(due, at).expect("a sync is accepted");
    let (mut a, mut b) = ((&mut *node, open.id), (&mut other, accepted));
    for _ in 0..1_000_000 {
        if a.0.sync_status(a.1) != Some(SyncStatus::Send) {
            std::mem::swap(&mut a, &mut b);
            if a.0.sync_status(a.1) != Some(SyncStatus::Send) {
                break;
            }
        }
        let len = a.0.poll_sync_frame(a.1, &mut frame).expect("a frame is written");
        let body = frame.get_mut(4..len).expect("the frame holds its prefix");
        b.0.handle_sync_frame(due, b.1, body).expect("the frame is valid");
    }
    let seconds = start.elapsed().as_secs_f64();
    assert_eq!(node.sync_status(open.id), Some(SyncStatus::Done), "the sync completed");
    node.close_sync(open.id);
    seconds
}

/// The scaled anti-entropy interval for `n` members (as the core computes
/// it), in protocol periods.
fn sync_interval_periods(config: &Config, n: usize) -> f64 {
    let scale = if n <= 32 { 1.0 } else { (n as f64 / 32.0).log2().ceil() + 1.0 };
    scale * config.sync.interval.as_secs_f64() / config.probe.period.as_secs_f64()
}

fn measure(n: usize, o: &Options) -> Row {
    let config = Config::lan().with(|c| {
        c.seed = o.seed;
        c.limits.expected_members = n;
    });
    let period = config.probe.period;
    let sync_interval_periods = sync_interval_periods(&config, n);
    let hybrid = n > FULL_LIMIT;
    let full = if hybrid { o.scale_full.min(n - 1) } else { n };
    let mut sim = Sim::new(SimConfig {
        seed: o.seed,
        members: n,
        config,
        responders_from: hybrid.then_some(full),
        time_steps: true,
        ..SimConfig::default()
    });
    let (bytes_per_member, learn_seconds, sync_seconds) = node_memory(n);
    let start = Instant::now();
    if hybrid {
        for i in 0..full {
            sim.join(i, full);
        }
    } else {
        sim.join_all(0, Duration::from_millis(2));
    }
    // Every full member sees every member live (O(full) per check).
    let built = sim
        .run_until(Duration::from_secs(1200), |s| (0..full).all(|i| s.node(i).is_some_and(|x| x.live_members() == n)));
    assert!(built, "{n} members: the full members did not learn the whole cluster");
    let build_seconds = start.elapsed().as_secs_f64();
    sim.step_times();
    sim.sync_time();
    let start = Instant::now();
    sim.run_for(period * o.scale_periods);
    // Anti-entropy syncs are left out (their cost is the table sync column):
    // a window of a few periods holds some or none by chance.
    let seconds = (start.elapsed().saturating_sub(sim.sync_time())).as_secs_f64();
    let steps: Vec<f64> = sim.step_times().into_iter().map(|ns| f64::from(ns) / 1e3).collect();
    let member_periods = full as f64 * f64::from(o.scale_periods);
    Row {
        members: n,
        full,
        build_seconds,
        bytes_per_member,
        learn_seconds,
        sync_seconds,
        sync_interval_periods,
        member_periods_per_s: member_periods / seconds.max(1e-9),
        steps_per_member_period: steps.len() as f64 / member_periods,
        step_p50_us: stats::percentile(&steps, 50.0),
        step_p99_us: stats::percentile(&steps, 99.0),
        step_p999_us: stats::percentile(&steps, 99.9),
        step_max_us: stats::percentile(&steps, 100.0),
    }
}

/// Measures every size, one at a time (timings must not share the cores).
pub fn run(o: &Options) -> Results {
    Results { periods: o.scale_periods, rows: o.scale_sizes.iter().map(|&n| measure(n, o)).collect() }
}

impl Results {
    /// One line per size.
    pub fn summary(&self) -> Vec<String> {
        self.rows
            .iter()
            .map(|r| {
                format!(
                    "paper scale: N={} ({} full) build={:.1}s memory={:.0} B/member (one node learns all in {:.1} ms) \
                     table sync={:.1} ms (every {:.0} periods) \
                     member-periods/s={:.0} steps/member-period={:.1} step p50={:.1}µs p99={:.1}µs p99.9={:.1}µs max={:.0}µs",
                    r.members,
                    r.full,
                    r.build_seconds,
                    r.bytes_per_member,
                    r.learn_seconds * 1e3,
                    r.sync_seconds * 1e3,
                    r.sync_interval_periods,
                    r.member_periods_per_s,
                    r.steps_per_member_period,
                    r.step_p50_us,
                    r.step_p99_us,
                    r.step_p999_us,
                    r.step_max_us,
                )
            })
            .collect()
    }
}
