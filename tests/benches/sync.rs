//! `cargo xtask bench sync`: what a periodic sync costs, delta against full.
//!
//! Two nodes hold the same N members (N = 1,000 and 16,000); before each
//! exchange the answering node learns a newer incarnation of `differing`
//! members (0, 1 or 100, spread over the table), and the other node opens a
//! periodic sync with it ([`Node::sync_with`]), frame by frame in one
//! thread. For each, per exchange (medians over the repetitions):
//!
//! - `delta_bytes`, `full_bytes`: bytes on the stream, both ways, frame
//!   prefixes included; `ratio` = delta / full;
//! - `delta_records`, `full_records`: member records carried;
//! - `delta_us`, `full_us`: CPU time of both sides' frame calls (writing
//!   and merging every frame);
//! - `repaired`: whether the opener ended with every newer incarnation.

#![allow(
    clippy::indexing_slicing,
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::cast_possible_truncation
)]

use std::net::SocketAddr;
use std::time::{Duration, Instant};

use swim_protocol::{Config, Node, SyncStatus, Time};
use swim_tests::bench::{percentile, report};
use swim_wire::{Ack, Addrs, Alive, DecodeOptions, Header, Message, Packet, PacketWriter};

fn addr(i: usize) -> SocketAddr {
    SocketAddr::from(([10, (i >> 16) as u8, (i >> 8) as u8, i as u8], 7946))
}

fn name(i: usize) -> Vec<u8> {
    format!("member-{i:06}").into_bytes()
}

/// Datagrams that teach a node members `ids` at `incarnation`.
fn alive_datagrams(ids: &[usize], incarnation: u32) -> Vec<Vec<u8>> {
    let ack = Message::Ack(Ack { seq: 0, source: b"teacher", payload: &[] });
    ids.chunks(24)
        .map(|chunk| {
            let mut buf = vec![0u8; 1400];
            let mut w = PacketWriter::new(&mut buf, &Header::default(), 1400).unwrap();
            w.push(&ack).unwrap();
            for &i in chunk {
                let (n, a) = (name(i), [addr(i)]);
                let alive =
                    Alive { generation: 0, incarnation, name: &n, addrs: Addrs::from_slice(&a), meta: b"role=db" };
                w.push(&Message::Alive(alive)).unwrap();
            }
            let len = w.finish().unwrap();
            buf.truncate(len);
            buf
        })
        .collect()
}

fn teach(node: &mut Node, now: Time, datagrams: &[Vec<u8>]) {
    let mut out = vec![0u8; 1400];
    for d in datagrams {
        let _ = node.handle_datagram(now, addr(60_000), &mut d.clone());
        while node.poll_transmit(now, &mut out).is_some() {}
        while node.poll_event().is_some() {}
    }
}

/// Member 0 (the opener) and member 1, each knowing members `0..n`.
fn pair(n: usize, delta: bool) -> (Node, Node) {
    let config = Config::lan().with(|c| {
        c.limits.expected_members = n;
        c.sync.delta = delta;
    });
    let everyone: Vec<usize> = (0..n).collect();
    let datagrams = alive_datagrams(&everyone, 0);
    let mut a = Node::new(&name(0), &[addr(0)], b"role=db", config.clone(), Time::ZERO).unwrap();
    let mut b = Node::new(&name(1), &[addr(1)], b"role=db", config, Time::ZERO).unwrap();
    teach(&mut a, Time::ZERO, &datagrams);
    teach(&mut b, Time::ZERO, &datagrams);
    (a, b)
}

#[derive(Default)]
struct Exchange {
    bytes: usize,
    records: usize,
    cpu: Duration,
}

/// One periodic sync from `a` to `b`.
fn exchange(a: &mut Node, b: &mut Node, now: Time, frame: &mut [u8]) -> Exchange {
    let id_a = a.sync_with(now, &name(1)).unwrap();
    while a.poll_sync_open().is_some() {}
    let id_b = b.accept_sync(now, addr(0)).unwrap();
    let mut x = Exchange::default();
    let opts = DecodeOptions { max_metadata: 512, ..DecodeOptions::default() };
    for _ in 0..1_000_000 {
        let (from, fid, to, tid) = if a.sync_status(id_a) == Some(SyncStatus::Send) {
            (&mut *a, id_a, &mut *b, id_b)
        } else if b.sync_status(id_b) == Some(SyncStatus::Send) {
            (&mut *b, id_b, &mut *a, id_a)
        } else {
            break;
        };
        let start = Instant::now();
        let len = from.poll_sync_frame(fid, frame).unwrap();
        x.cpu += start.elapsed();
        x.bytes += len;
        let body = &mut frame[4..len];
        x.records +=
            Packet::parse(body, &opts).unwrap().piggyback().filter(|m| matches!(m, Message::MemberRecord(_))).count();
        let start = Instant::now();
        to.handle_sync_frame(now, tid, body).unwrap();
        x.cpu += start.elapsed();
    }
    assert_eq!((a.sync_status(id_a), b.sync_status(id_b)), (Some(SyncStatus::Done), Some(SyncStatus::Done)));
    a.close_sync(id_a);
    b.close_sync(id_b);
    x
}

/// Medians of `reps` exchanges with `differing` members newer at `b`.
fn measure(n: usize, differing: usize, delta: bool, reps: usize) -> (f64, f64, f64, bool) {
    let (mut a, mut b) = pair(n, delta);
    let mut frame = vec![0u8; Config::lan().sync.frame_budget];
    let changed: Vec<usize> = (0..differing).map(|k| 2 + k * (n - 2) / differing.max(1)).collect();
    let (mut bytes, mut records, mut cpu) = (Vec::new(), Vec::new(), Vec::new());
    let mut repaired = true;
    for rep in 0..reps {
        let now = Time::from_millis(10 * (rep as u64 + 1));
        teach(&mut b, now, &alive_datagrams(&changed, rep as u32 + 1));
        let x = exchange(&mut a, &mut b, now, &mut frame);
        repaired &= changed.iter().all(|&i| a.member(&name(i)).is_some_and(|m| m.incarnation == rep as u32 + 1));
        bytes.push(x.bytes as f64);
        records.push(x.records as f64);
        cpu.push(x.cpu.as_secs_f64() * 1e6);
    }
    for v in [&mut bytes, &mut records, &mut cpu] {
        v.sort_by(f64::total_cmp);
    }
    (percentile(&bytes, 0.5), percentile(&records, 0.5), percentile(&cpu, 0.5), repaired)
}

fn main() {
    for (n, reps) in [(1_000, 30), (16_000, 7)] {
        for differing in [0, 1, 100] {
            let (d_bytes, d_records, d_us, d_ok) = measure(n, differing, true, reps);
            let (f_bytes, f_records, f_us, f_ok) = measure(n, differing, false, reps);
            let tag = format!("n{n}_differing{differing}");
            report(&format!("sync_{tag}_delta_bytes"), format!("{d_bytes:.0}"));
            report(&format!("sync_{tag}_full_bytes"), format!("{f_bytes:.0}"));
            report(&format!("sync_{tag}_ratio"), format!("{:.4}", d_bytes / f_bytes));
            report(&format!("sync_{tag}_delta_records"), format!("{d_records:.0}"));
            report(&format!("sync_{tag}_full_records"), format!("{f_records:.0}"));
            report(&format!("sync_{tag}_delta_us"), format!("{d_us:.1}"));
            report(&format!("sync_{tag}_full_us"), format!("{f_us:.1}"));
            report(&format!("sync_{tag}_repaired"), d_ok && f_ok);
        }
    }
}
