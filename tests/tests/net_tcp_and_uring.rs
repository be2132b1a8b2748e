//! The other transports over loopback. TCP only (`Builder::tcp_only`):
//! encrypted members with no UDP socket at all converge, detect a crash and
//! a departure, and split and heal around a partition made by the
//! fault-injection transport. UDP on io_uring (Linux): encrypted members
//! converge and detect a crash.

#![allow(clippy::indexing_slicing, clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::time::Duration;

use swim::faults::{FaultConfig, Faults};
use swim::tcp::{TcpOptions, TcpTransport};
use swim::{Cluster, SecretKey, State};
use swim_tests::net::{all_see, all_see_alive, eventually, fast, join_all};

const LIMIT: Duration = Duration::from_secs(30);

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn members_over_tcp_only_converge_detect_a_crash_and_leave() {
    let key = SecretKey::generate().unwrap();
    let mut members = Vec::new();
    for i in 0..5 {
        let member = Cluster::builder(format!("t{i}"))
            .config(fast())
            .bind("127.0.0.1:0".parse().unwrap())
            .encrypt([key.clone()])
            .tcp_only()
            .start()
            .await
            .unwrap();
        members.push(member);
    }
    join_all(&members).await;
    assert!(eventually(LIMIT, || all_see_alive(&members, 5)).await, "five members over TCP converge");
    // No UDP socket: nothing listens for UDP on a member's port.
    let udp = std::net::UdpSocket::bind(members[0].local_addr());
    assert!(udp.is_ok(), "the member holds no UDP socket on its port");
    drop(udp);

    members[4].shutdown().await.unwrap();
    assert!(eventually(LIMIT, || all_see(&members[..4], "t4", State::Faulty)).await, "the crash is detected");
    members[3].leave(Duration::from_secs(5)).await.unwrap();
    assert!(eventually(LIMIT, || all_see(&members[..3], "t3", State::Left)).await, "the departure is seen");
    for m in &members[..3] {
        m.shutdown().await.unwrap();
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_partition_over_tcp_only_splits_and_heals() {
    let key = SecretKey::generate().unwrap();
    let mut members = Vec::new();
    let mut controls = Vec::new();
    for i in 0..4u64 {
        let tcp = TcpTransport::bind("127.0.0.1:0".parse().unwrap(), TcpOptions::default()).await.unwrap();
        let (transport, control) = Faults::new(tcp, FaultConfig::default(), i + 1);
        controls.push(control);
        let member = Cluster::builder(format!("p{i}")).config(fast()).encrypt([key.clone()]).transport(transport);
        members.push(member.start().await.unwrap());
    }
    join_all(&members).await;
    assert!(eventually(LIMIT, || all_see_alive(&members, 4)).await);
    let addrs: Vec<_> = members.iter().map(Cluster::local_addr).collect();
    for (side, other) in [([0, 1], [2, 3]), ([2, 3], [0, 1])] {
        for i in side {
            controls[i].cut_off(other.iter().map(|&j| addrs[j]));
        }
    }
    let split = eventually(LIMIT, || async {
        all_see(&members[..2], "p2", State::Faulty).await && all_see(&members[2..], "p0", State::Faulty).await
    })
    .await;
    assert!(split, "each side holds the other faulty");
    for control in &controls {
        control.heal();
    }
    assert!(eventually(Duration::from_secs(60), || all_see_alive(&members, 4)).await, "one cluster again");
    for m in &members {
        m.shutdown().await.unwrap();
    }
}

/// The same cluster over UDP on io_uring (Linux): converges, detects a
/// crash, and keeps its members' encryption.
#[cfg(target_os = "linux")]
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn members_over_udp_on_io_uring_converge_and_detect_a_crash() {
    use swim_transport::uring::UringUdpTransport;
    let key = SecretKey::generate().unwrap();
    let mut members = Vec::new();
    for i in 0..5 {
        let transport = UringUdpTransport::bind("127.0.0.1:0".parse().unwrap()).await.expect("io_uring is available");
        let member = Cluster::builder(format!("u{i}")).config(fast()).encrypt([key.clone()]).transport(transport);
        members.push(member.start().await.unwrap());
    }
    join_all(&members).await;
    assert!(eventually(LIMIT, || all_see_alive(&members, 5)).await, "five members over io_uring converge");
    members[4].shutdown().await.unwrap();
    assert!(eventually(LIMIT, || all_see(&members[..4], "u4", State::Faulty)).await, "the crash is detected");
    for m in &members[..4] {
        m.shutdown().await.unwrap();
    }
}
