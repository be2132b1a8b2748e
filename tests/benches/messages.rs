//! `cargo xtask bench messages`: what a direct message costs on the wire
//! and how long it takes over loopback.
//!
//! - Sizes (exact, from the protocol engine, AES-256-GCM sealed): for
//!   payloads of 64 B, 512 B or 1 KiB, and the largest of each kind,
//!   `{best_effort|reliable}_bytes_<payload>`: the datagram (best effort),
//!   or both frames of the exchange, prefixes included (reliable).
//! - Latencies over loopback, two members in one process, for each
//!   transport (`udp`: encrypted UDP with TCP streams; `quic`) and payload
//!   (`<transport>_<kind>_<payload>_p50_us` / `_p99_us`, 300 sends each, one
//!   after another):
//!   - best effort: from `send` until the receiver's application has the
//!     event (`_lost` says how many of the sends never arrived);
//!   - reliable: from `send_reliable` until it returns, acknowledged (a
//!     stream opened, the message and the answer, the stream closed).

#![allow(
    clippy::indexing_slicing,
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::cast_possible_truncation
)]

use std::time::{Duration, Instant};

use swim::tls::ClusterCa;
use swim::{Cluster, Config, Event, SecretKey};
use swim_protocol::{Encryption, Node, SyncStatus, Time};
use swim_tests::bench::{percentile, report};

const SAMPLES: usize = 300;

fn sealed_config() -> Config {
    Config::lan().with(|c| {
        c.security.encryption = Some(Encryption::new(SecretKey([9; 32])));
        c.sync.interval = Duration::ZERO;
        c.dissemination.gossip_interval = Duration::ZERO;
    })
}

/// Two nodes that know each other, sealed.
fn pair() -> (Node, Node) {
    let addrs = ["10.0.0.1:7946".parse().unwrap(), "10.0.0.2:7946".parse().unwrap()];
    let mut a = Node::new(b"member-a", &addrs[..1], b"", sealed_config(), Time::ZERO).unwrap();
    let mut b = Node::new(b"member-b", &addrs[1..], b"", sealed_config(), Time::ZERO).unwrap();
    for node in [&mut a, &mut b] {
        node.set_wall_clock(Time::ZERO, 1_700_000_000_000);
    }
    a.join(Time::ZERO, &addrs[1..]).unwrap();
    let mut buf = vec![0u8; 1400];
    for _ in 0..4 {
        while let Some(t) = a.poll_transmit(Time::ZERO, &mut buf) {
            b.handle_datagram(Time::ZERO, addrs[0], &mut buf[..t.len]).ok();
        }
        while let Some(t) = b.poll_transmit(Time::ZERO, &mut buf) {
            a.handle_datagram(Time::ZERO, addrs[1], &mut buf[..t.len]).ok();
        }
    }
    while a.poll_sync_open().is_some() {}
    assert!(a.member(b"member-b").is_some() && b.member(b"member-a").is_some(), "the pair knows each other");
    (a, b)
}

fn sizes() {
    let (mut a, mut b) = pair();
    let mut buf = vec![0u8; 1 << 16];
    let best_max = a.config().dissemination.max_broadcast_payload;
    for len in [64, 512, best_max] {
        while a.poll_transmit(Time::ZERO, &mut buf).is_some() {}
        a.send_message(Time::ZERO, b"member-b", &vec![7u8; len]).unwrap();
        let t = a.poll_transmit(Time::ZERO, &mut buf).unwrap();
        let key = if len == best_max { "max".to_owned() } else { len.to_string() };
        report(&format!("best_effort_bytes_{key}"), t.len);
    }
    report("best_effort_max_payload", best_max);
    let reliable_max = a.max_reliable();
    for len in [64, 1024, reliable_max] {
        let id = a.send_reliable(Time::ZERO, b"member-b", &vec![7u8; len]).unwrap();
        a.poll_sync_open().unwrap();
        let accepted = b.accept_sync(Time::ZERO, "10.0.0.1:7946".parse().unwrap()).unwrap();
        let sent = a.poll_sync_frame(id, &mut buf).unwrap();
        b.handle_sync_frame(Time::ZERO, accepted, &mut buf[4..sent]).unwrap();
        let answer = b.poll_sync_frame(accepted, &mut buf).unwrap();
        assert_eq!(a.handle_sync_frame(Time::ZERO, id, &mut buf[4..answer]), Ok(SyncStatus::Done));
        a.close_sync(id);
        b.close_sync(accepted);
        while b.poll_event().is_some() {}
        let key = if len == reliable_max { "max".to_owned() } else { len.to_string() };
        report(&format!("reliable_bytes_{key}"), sent + answer);
    }
    report("reliable_max_payload", reliable_max);
}

/// Two members on loopback, `secure` making each one's builder secure
/// (a key, or a QUIC identity), joined.
async fn pair_with(secure: impl Fn(swim::Builder, &str) -> swim::Builder) -> (Cluster, Cluster) {
    let mut members = Vec::new();
    for name in ["bench-a", "bench-b"] {
        let builder = Cluster::builder(name).config(Config::local()).bind("127.0.0.1:0".parse().unwrap());
        members.push(secure(builder, name).start().await.unwrap());
    }
    let b = members.pop().unwrap();
    let a = members.pop().unwrap();
    b.join([a.local_addr()]).await.unwrap();
    a.wait_for_members(2, Duration::from_secs(20)).await.unwrap();
    (a, b)
}

fn micros(samples: &mut [f64], prefix: &str) {
    samples.sort_by(f64::total_cmp);
    report(&format!("{prefix}_p50_us"), format!("{:.0}", percentile(samples, 0.5)));
    report(&format!("{prefix}_p99_us"), format!("{:.0}", percentile(samples, 0.99)));
}

async fn latencies(transport: &str, a: &Cluster, b: &Cluster) {
    let mut inbox = b.events();
    let best_max = a.config().dissemination.max_broadcast_payload;
    for len in [64, best_max] {
        let payload = bytes::Bytes::from(vec![1u8; len]);
        let (mut samples, mut lost) = (Vec::with_capacity(SAMPLES), 0);
        for _ in 0..SAMPLES {
            let start = Instant::now();
            a.send("bench-b", payload.clone()).await.unwrap();
            let arrived = tokio::time::timeout(Duration::from_millis(200), async {
                loop {
                    if let Ok(Event::Message { .. }) = inbox.recv().await {
                        return;
                    }
                }
            })
            .await;
            match arrived {
                Ok(()) => samples.push(start.elapsed().as_secs_f64() * 1e6),
                Err(_) => lost += 1,
            }
        }
        let key = if len == best_max { "max".to_owned() } else { len.to_string() };
        micros(&mut samples, &format!("{transport}_best_effort_{key}"));
        report(&format!("{transport}_best_effort_{key}_lost"), lost);
    }
    let reliable_max = a.config().limits.max_message;
    for len in [64, 1024, 16 * 1024, reliable_max] {
        let payload = bytes::Bytes::from(vec![1u8; len]);
        let mut samples = Vec::with_capacity(SAMPLES);
        for _ in 0..SAMPLES {
            let start = Instant::now();
            a.send_reliable("bench-b", payload.clone()).await.unwrap();
            samples.push(start.elapsed().as_secs_f64() * 1e6);
        }
        let key = if len == reliable_max { "max".to_owned() } else { len.to_string() };
        micros(&mut samples, &format!("{transport}_reliable_{key}"));
    }
}

#[tokio::main(flavor = "multi_thread", worker_threads = 2)]
async fn main() {
    sizes();
    let (a, b) = pair_with(|builder, _| builder.encrypt([SecretKey([9; 32])])).await;
    latencies("udp", &a, &b).await;
    a.shutdown().await.unwrap();
    b.shutdown().await.unwrap();
    let ca = ClusterCa::generate("bench").unwrap();
    let (a, b) = pair_with(|builder, name| builder.quic(ca.issue(name).unwrap())).await;
    latencies("quic", &a, &b).await;
    a.shutdown().await.unwrap();
    b.shutdown().await.unwrap();
}
