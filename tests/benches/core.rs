//! `cargo xtask bench core`: the protocol engine at scale.
//!
//! - `build_16k_ms`: a node learns a table of 16,000 members (from gossip
//!   datagrams prepared beforehand).
//! - `step_p50_ns`, `step_p99_ns`: one protocol step inside that node — a
//!   timeout (probing), a received ping (carrying gossip), a received ack —
//!   each including draining the outputs, as the runtime does; then the same
//!   figures for each kind (`step_probe_*`: the timeout, which here includes
//!   decoding the probes it sends; `step_ack_*`; `step_ping_*`).
//! - `sim_member_periods_per_s`: the simulator at 1,000 members, converged.
//! - `allocs_per_member_period`: allocations inside the nodes in that run.

#![allow(
    clippy::indexing_slicing,
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::cast_possible_truncation
)]

use std::hint::black_box;
use std::net::SocketAddr;
use std::time::{Duration, Instant};

use swim_protocol::{Config, Node, Time};
use swim_tests::alloc_counter::{self, CountingAllocator};
use swim_tests::bench::{percentile, report};
use swim_tests::sim::{Sim, SimConfig};
use swim_wire::{Ack, Addrs, Alive, Header, Message, PacketWriter, Ping};

#[global_allocator]
static ALLOC: CountingAllocator = CountingAllocator;

const MEMBERS: usize = 16_000;

fn addr(i: usize) -> SocketAddr {
    SocketAddr::from(([10, (i >> 16) as u8, (i >> 8) as u8, i as u8], 7946))
}

fn name(i: usize) -> Vec<u8> {
    format!("member-{i:06}").into_bytes()
}

/// A datagram from member 1: `primary`, then alive updates for `members`.
fn datagram(primary: Message<'_>, members: impl Iterator<Item = (usize, u32)>) -> Vec<u8> {
    let mut buf = vec![0u8; 1400];
    let mut w = PacketWriter::new(&mut buf, &Header::default(), 1400).expect("header fits");
    w.push(&primary).expect("primary fits");
    for (i, incarnation) in members {
        let (n, a) = (name(i), [addr(i)]);
        let alive = Alive { generation: 0, incarnation, name: &n, addrs: Addrs::from_slice(&a), meta: b"role=db" };
        if w.push(&Message::Alive(alive)).is_err() {
            break;
        }
    }
    let len = w.finish().expect("a primary was pushed");
    buf.truncate(len);
    buf
}

fn drain(node: &mut Node, now: Time, buf: &mut [u8]) -> usize {
    let mut n = 0;
    while node.poll_transmit(now, buf).is_some() {
        n += 1;
    }
    while node.poll_event().is_some() {}
    black_box(node.poll_timeout());
    n
}

/// Builds the 16k-member node; returns it and how long building took.
fn build() -> (Node, Duration) {
    let ack = Message::Ack(Ack { seq: 0, source: b"member-000001", payload: &[] });
    let per_packet = 24; // as many as fit in 1,400 bytes
    let mut packets: Vec<Vec<u8>> = (1..MEMBERS)
        .step_by(per_packet)
        .map(|start| datagram(ack, (start..MEMBERS.min(start + per_packet)).map(|i| (i, 0))))
        .collect();
    let config = Config::lan().with(|c| {
        c.seed = 9;
        c.limits.expected_members = MEMBERS;
        c.sync.interval = Duration::ZERO;
    });
    let mut buf = vec![0u8; 1400];
    let start = Instant::now();
    let mut node = Node::new(&name(0), &[addr(0)], b"role=db", config, Time::ZERO).expect("valid config");
    for p in &mut packets {
        node.handle_datagram(Time::ZERO, addr(1), p).expect("valid datagram");
        drain(&mut node, Time::ZERO, &mut buf);
    }
    let took = start.elapsed();
    assert_eq!(node.live_members(), MEMBERS, "every member learned");
    (node, took)
}

fn main() {
    let mut builds: Vec<f64> = Vec::new();
    let mut built = None;
    for _ in 0..5 {
        let (node, took) = build();
        builds.push(took.as_secs_f64() * 1e3);
        built = Some(node);
    }
    builds.sort_by(f64::total_cmp);
    let mut node = built.expect("built five times");

    // Steps inside the converged node: answer every probe, and receive a
    // ping (with two gossip updates) every period from some member.
    let mut buf = vec![0u8; 1400];
    // Step times in ns by kind: probe (timeout), ack, ping.
    let mut kinds: [Vec<f64>; 3] = std::array::from_fn(|_| Vec::with_capacity(30_000));
    let mut now = Time::ZERO;
    let mut probe_seq = None;
    let (first, last) = (1usize, MEMBERS);
    for (round, incarnation) in (0..30_000usize).zip(1u32..) {
        now = node.poll_timeout().unwrap_or(now).max(now);
        let t = Instant::now();
        node.handle_timeout(now);
        let mut sent = Vec::new();
        while let Some(tx) = node.poll_transmit(now, &mut buf) {
            if let Ok(p) = swim_wire::Packet::parse(&buf[..tx.len], &swim_wire::DecodeOptions::default())
                && let Message::Ping(ping) = p.primary()
            {
                sent.push((tx.destination, ping.seq, ping.target.to_vec()));
            }
        }
        while node.poll_event().is_some() {}
        black_box(node.poll_timeout());
        kinds[0].push(t.elapsed().as_nanos() as f64);
        for (to, seq, target) in sent {
            probe_seq = Some((to, seq, target));
        }
        if let Some((to, seq, target)) = probe_seq.take() {
            let mut ack = datagram(Message::Ack(Ack { seq, source: &target, payload: &[] }), std::iter::empty());
            let t = Instant::now();
            let _ = node.handle_datagram(now, to, &mut ack);
            drain(&mut node, now, &mut buf);
            kinds[1].push(t.elapsed().as_nanos() as f64);
        }
        let from = first + (round * 7919) % (last - first);
        let gossip = [((round * 104_729) % (last - 2)) + 2, ((round * 1_299_709) % (last - 2)) + 2];
        let pinger = name(from);
        let mut ping = datagram(
            Message::Ping(Ping {
                seq: round as u32,
                source: &pinger,
                target: &name(0),
                target_generation: 0,
                target_incarnation: 0,
            }),
            gossip.into_iter().map(|i| (i, incarnation)),
        );
        let t = Instant::now();
        let _ = node.handle_datagram(now, addr(from), &mut ping);
        drain(&mut node, now, &mut buf);
        kinds[2].push(t.elapsed().as_nanos() as f64);
    }
    let mut steps = kinds.concat();
    steps.sort_by(f64::total_cmp);
    for v in &mut kinds {
        v.sort_by(f64::total_cmp);
    }

    // The simulator at 1,000 members: timed without counting, then counted.
    let members = 1000;
    let config = Config::local().with(|c| c.limits.expected_members = members);
    let period = config.probe.period;
    let mut sim = Sim::new(SimConfig { seed: 3, members, config, ..SimConfig::default() });
    sim.join_all(0, Duration::from_millis(2));
    assert!(sim.run_until(Duration::from_secs(120), Sim::converged), "the simulated cluster converges");
    sim.run_for(period * 50);
    let periods = 300u32;
    let t = Instant::now();
    sim.run_for(period * periods);
    let member_periods = f64::from(periods) * members as f64;
    let rate = member_periods / t.elapsed().as_secs_f64();
    sim.count_allocations(true);
    alloc_counter::accumulated(true);
    sim.run_for(period * 100);
    let allocs = alloc_counter::accumulated(true).count as f64 / (100.0 * members as f64);

    report("members", MEMBERS);
    report("build_16k_ms", format!("{:.2}", builds[builds.len() / 2]));
    report("steps_measured", steps.len());
    report("step_p50_ns", format!("{:.0}", percentile(&steps, 0.50)));
    report("step_p99_ns", format!("{:.0}", percentile(&steps, 0.99)));
    report("step_max_ns", format!("{:.0}", percentile(&steps, 1.0)));
    for (kind, v) in ["probe", "ack", "ping"].iter().zip(&kinds) {
        report(&format!("step_{kind}_p50_ns"), format!("{:.0}", percentile(v, 0.50)));
        report(&format!("step_{kind}_p99_ns"), format!("{:.0}", percentile(v, 0.99)));
    }
    report("sim_member_periods_per_s", format!("{rate:.0}"));
    report("allocs_per_member_period", format!("{allocs:.3}"));
}
