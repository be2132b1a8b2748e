//! The application's own state (`AppState`, memberlist's `LocalState` /
//! `MergeRemoteState`) through the public API over real loopback: UDP with
//! TCP syncs (encrypted), and QUIC. Each member holds a map that merges by
//! union; a join brings the cluster's, periodic syncs spread later writes,
//! and a state of several frames arrives whole.

#![allow(clippy::indexing_slicing, clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::collections::BTreeMap;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use swim::{AppState, Builder, Cluster, SecretKey};
use swim_tests::net::{eventually, fast, join_all};

const LIMIT: Duration = Duration::from_secs(30);

/// Key → value, merged by union (each key is written by one member, once).
#[derive(Clone, Default)]
struct Shared(Arc<Mutex<BTreeMap<String, String>>>);

impl Shared {
    fn insert(&self, k: &str, v: &str) {
        self.0.lock().unwrap().insert(k.to_owned(), v.to_owned());
    }
    fn len(&self) -> usize {
        self.0.lock().unwrap().len()
    }
    fn get(&self, k: &str) -> Option<String> {
        self.0.lock().unwrap().get(k).cloned()
    }
}

impl AppState for Shared {
    fn local_state(&mut self, _join: bool, out: &mut Vec<u8>) {
        for (k, v) in self.0.lock().unwrap().iter() {
            out.extend_from_slice(format!("{k}={v}\n").as_bytes());
        }
    }
    fn merge_remote_state(&mut self, _from: &[u8], state: &[u8], _join: bool) {
        let text = String::from_utf8_lossy(state);
        let mut map = self.0.lock().unwrap();
        for line in text.lines() {
            if let Some((k, v)) = line.split_once('=') {
                map.entry(k.to_owned()).or_insert_with(|| v.to_owned());
            }
        }
    }
}

/// Three members, each starting with a key of its own; returns them and
/// their maps.
async fn cluster(prefix: &str, with: impl Fn(Builder, &str) -> Builder) -> (Vec<Cluster>, Vec<Shared>) {
    let config = fast().with(|c| c.sync.interval = Duration::from_secs(1));
    let (mut members, mut maps) = (Vec::new(), Vec::new());
    for i in 0..3 {
        let name = format!("{prefix}{i}");
        let map = Shared::default();
        map.insert(&format!("own-{name}"), "1");
        let builder = Cluster::builder(name.clone()).config(config.clone()).bind("127.0.0.1:0".parse().unwrap());
        members.push(with(builder, &name).app_state(map.clone()).start().await.unwrap());
        maps.push(map);
    }
    join_all(&members).await;
    (members, maps)
}

/// Every map ends with every key written so far, and later writes spread.
async fn spreads(members: Vec<Cluster>, maps: Vec<Shared>) {
    // The joins' syncs and the periodic ones bring every member's key.
    for (i, map) in maps.iter().enumerate() {
        assert!(eventually(LIMIT, || async { map.len() == 3 }).await, "member {i} holds all three keys");
    }
    // A write after the joins, and one of many frames (150 KB, a sync
    // frame holds 64 KiB): both reach everybody through periodic syncs.
    maps[2].insert("later", "yes");
    let big = "x".repeat(150_000);
    maps[1].insert("big", &big);
    for (i, map) in maps.iter().enumerate() {
        let whole = || async { map.get("later").as_deref() == Some("yes") && map.get("big").as_ref() == Some(&big) };
        assert!(eventually(LIMIT, whole).await, "member {i} got the later writes whole");
    }
    let merged = || async {
        let mut total = 0;
        for m in &members {
            total += m.stats().await.unwrap().app_states_merged;
        }
        total >= 6
    };
    assert!(eventually(LIMIT, merged).await, "syncs merged states, counted");
    for m in members {
        m.shutdown().await.unwrap();
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn app_state_spreads_through_syncs_over_encrypted_udp_and_tcp() {
    let (members, maps) = cluster("as", |b, _| b.encrypt([SecretKey([9; 32])])).await;
    spreads(members, maps).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn app_state_spreads_through_syncs_over_quic() {
    let ca = swim::tls::ClusterCa::generate("app-state").unwrap();
    let (members, maps) = cluster("aq", |b, name| b.quic(ca.issue(name).unwrap())).await;
    spreads(members, maps).await;
}
