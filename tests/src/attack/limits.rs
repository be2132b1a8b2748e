//! Attacks on the limits: replies larger than their requests (reflection
//! with amplification), a sync larger than a cluster, and floods from many
//! sources that try to churn the per-source rate table.

use std::net::SocketAddr;
use std::time::Duration;

use swim::{Cluster, Event, Stats};
use swim_wire::{Addrs, Alive, JoinRequest, Message, Ping, Sync, SyncFlags, UserBroadcast, frame};
use tokio::io::AsyncWriteExt;
use tokio::net::{TcpStream, UdpSocket};

use super::Outcome;
use super::craft::{plain, plain_within, seal};
use super::lab::{LABEL, LIMIT, Lab, config, loopback, wait_for_rise};

/// Datagrams that reached `socket` within `wait`: their lengths.
async fn replies(socket: &UdpSocket, wait: Duration) -> Vec<usize> {
    let mut lens = Vec::new();
    let mut buf = [0u8; 65_536];
    let deadline = tokio::time::Instant::now() + wait;
    while let Ok(Ok((len, _))) = tokio::time::timeout_at(deadline, socket.recv_from(&mut buf)).await {
        lens.push(len);
    }
    lens
}

pub(super) async fn amplification(_lab: &Lab) -> Outcome {
    // A plaintext cluster (loopback needs no keys) with gossip queued: forty
    // broadcasts. The attacker's socket stands for a victim whose address a
    // forger would put as the source: every answer must be no larger than
    // the request that caused it.
    let mut members: Vec<Cluster> = Vec::new();
    for i in 0..2 {
        let started = Cluster::builder(format!("p{i}")).bind(loopback()).config(config()).start().await;
        match started {
            Ok(c) => members.push(c),
            Err(e) => return Outcome::Failed(format!("starting p{i}: {e}")),
        }
    }
    let outcome = amplify(&members).await;
    for m in &members {
        let _ = m.shutdown().await;
    }
    outcome
}

async fn amplify(members: &[Cluster]) -> Outcome {
    let seed = members[0].local_addr();
    if members[1].join([seed]).await.is_err() {
        return Outcome::Failed("the plaintext cluster did not form".into());
    }
    for i in 0..40u32 {
        let _ = members[0].broadcast(vec![b'x'; 64 + i as usize]).await;
    }
    let Ok(victim) = UdpSocket::bind(loopback()).await else { return Outcome::Failed("no socket".into()) };
    let Ok(victim_addr) = victim.local_addr() else { return Outcome::Failed("no address".into()) };
    let addrs = [victim_addr];
    let (mut requests, mut joins): (Vec<Vec<u8>>, Vec<Vec<u8>>) = (Vec::new(), Vec::new());
    for seq in 0..20u32 {
        // A ping in a member's name (from the wrong address), a stranger's,
        // and an unpadded join request in a member's name (a plaintext
        // cluster admits anyone new: a forged joiner at the victim's address
        // is a member, probed until found faulty; see docs/security.md).
        let source: &[u8] = if seq % 2 == 0 { b"p1" } else { b"stranger" };
        let ping = Ping { seq, source, target: b"p0", target_generation: 0, target_incarnation: 0 };
        requests.push(plain(LABEL, &Message::Ping(ping), &[]));
        let member = Alive { generation: 1, incarnation: 0, name: b"p1", addrs: Addrs::from_slice(&addrs), meta: b"" };
        joins.push(plain(LABEL, &Message::JoinRequest(JoinRequest { seq, member }), &[]));
    }
    // Pings first, then join requests, with a pause between: an answer that
    // comes late is held against a request of its own kind.
    requests.extend(joins);
    let sent: usize = requests.iter().map(Vec::len).sum();
    let (mut answers, mut total) = (0, 0);
    for (i, r) in requests.iter().enumerate() {
        if i == 20 {
            total += replies(&victim, Duration::from_millis(500)).await.iter().sum::<usize>();
        }
        let _ = victim.send_to(r, seed).await;
        // The answers to this request (a member answers within
        // milliseconds; one that comes later counts against the next).
        for len in replies(&victim, Duration::from_millis(50)).await {
            if len > r.len() {
                return Outcome::Failed(format!("a {len}-byte answer to a {}-byte request", r.len()));
            }
            answers += 1;
            total += len;
        }
    }
    total += replies(&victim, Duration::from_millis(500)).await.iter().sum::<usize>();
    if answers == 0 {
        return Outcome::Failed("nothing answered: the test shows nothing".into());
    }
    if total > sent {
        return Outcome::Failed(format!("{answers} answers, {total} bytes for {sent} sent"));
    }
    Outcome::Refused
}

pub(super) async fn sync_size(lab: &Lab) -> Outcome {
    // A key holder opens a sync with a0 and sends, in one frame, more
    // broadcasts than a member holds: the frame must be refused whole.
    let broadcasts: Vec<(String, Vec<u8>)> =
        (0..400).map(|i| (format!("origin-{}", i % 7), format!("flood {i}").into_bytes())).collect();
    let header = Message::Sync(Sync { flags: SyncFlags(SyncFlags::LAST), source: b"a1", total: 0, chunk: 0 });
    let items: Vec<Message<'_>> = broadcasts
        .iter()
        .enumerate()
        .map(|(i, (origin, payload))| {
            Message::UserBroadcast(UserBroadcast {
                generation: 1,
                seq: u32::try_from(i).unwrap_or(0) + 1,
                ttl_ms: 60_000,
                origin: origin.as_bytes(),
                payload,
            })
        })
        .collect();
    let packet = sealed_frame(lab, &header, &items);
    if packet.len() < 1400 {
        return Outcome::Failed("the frame could not be written".into());
    }
    let before = lab.snapshot().await;
    let mut watch = lab.members[0].events();
    let Ok(mut stream) = TcpStream::connect(lab.addr(0)).await else {
        return Outcome::Failed("no connection to a0's sync port".into());
    };
    if stream.write_all(&packet).await.is_err() {
        return Outcome::Failed("the frame could not be sent".into());
    }
    let refused = wait_for_rise(lab, &before, 1, |s: &Stats| s.packets_rejected).await;
    tokio::time::sleep(Duration::from_millis(500)).await;
    let after = lab.snapshot().await;
    let mut delivered = 0;
    while let Some(Ok(e)) = watch.try_recv() {
        if matches!(e, Event::Broadcast { .. }) {
            delivered += 1;
        }
    }
    if refused < 1 {
        return Outcome::Failed("the oversized sync frame was not refused".into());
    }
    if delivered > 0 {
        return Outcome::Failed(format!("{delivered} broadcasts of the oversized frame delivered"));
    }
    match before.changed(&after) {
        Some(why) => Outcome::Failed(why),
        None => Outcome::Refused,
    }
}

/// A sync frame (length prefix and packet, sealed for a0 with the lab's key
/// as a key holder would) holding `header` and `items`.
fn sealed_frame(lab: &Lab, header: &Message<'_>, items: &[Message<'_>]) -> Vec<u8> {
    let body = seal(&lab.key, Some(b"a0"), plain_within(LABEL, header, items, 60_000));
    let mut frame = vec![0u8; frame::PREFIX_LEN];
    if frame::write_prefix(&mut frame, body.len()).is_err() {
        return Vec::new();
    }
    frame.extend_from_slice(&body);
    frame
}

pub(super) async fn eviction_flood(lab: &Lab) -> Outcome {
    // Sync connections that never prove themselves, from 300 loopback
    // sources (127.0.x.y, one each, to churn a0's rate table), then a
    // burst of 60 from one source: that source must still be limited, and
    // the members' own syncs must go on.
    let target = lab.addr(0);
    let before = lab.snapshot().await;
    for i in 0..300u32 {
        let source = SocketAddr::from(([127, 0, 1 + (i / 250) as u8, 1 + (i % 250) as u8], 0));
        let _ = connect_from(source, target).await;
    }
    let busy = SocketAddr::from(([127, 0, 9, 9], 0));
    let mut streams = Vec::new();
    for _ in 0..60 {
        if let Some(s) = connect_from(busy, target).await {
            streams.push(s);
        }
    }
    tokio::time::sleep(Duration::from_millis(500)).await;
    let mid = lab.snapshot().await;
    let limited = before.rise(&mid, |s| s.rate_limited);
    drop(streams);
    // The members' own syncs go on: a0 completes more within the limit.
    let synced = wait_for_rise(lab, &mid, 2, |s| s.syncs_completed).await;
    let after = lab.snapshot().await;
    // sync_rate allows a burst of 10 from the busy source (and at most one
    // fresh burst per table eviction, which 300 new sources may not buy).
    if limited < 40 {
        return Outcome::Failed(format!("only {limited} of 60 connections from one source were limited"));
    }
    if synced < 2 {
        return Outcome::Failed("the members' syncs stopped".into());
    }
    match before.changed(&after) {
        Some(why) => Outcome::Failed(why),
        None => Outcome::Refused,
    }
}

/// A TCP connection to `to` from the address `from` (port chosen by the
/// system); `None` if refused.
async fn connect_from(from: SocketAddr, to: SocketAddr) -> Option<TcpStream> {
    let socket = tokio::net::TcpSocket::new_v4().ok()?;
    socket.bind(from).ok()?;
    tokio::time::timeout(LIMIT, socket.connect(to)).await.ok()?.ok()
}
