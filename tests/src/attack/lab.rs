//! The cluster under attack, the attacker's socket, and what is compared
//! before and after an attack.

use std::collections::BTreeMap;
use std::net::SocketAddr;
use std::time::Duration;

use swim::{Cluster, Config, Event, SecretKey, State, Stats};
use tokio::net::UdpSocket;

use crate::net::{all_see_alive, eventually};
use crate::user_transport::{Capture, Recording};

/// The cluster's label (every member's packets carry it).
pub const LABEL: &[u8] = b"attacked";
/// Members in the lab.
pub const MEMBERS: usize = 4;
/// The longest wait for any condition.
pub const LIMIT: Duration = Duration::from_secs(20);

/// A member's view: name → (state, generation, incarnation).
pub type View = BTreeMap<String, (State, u64, u32)>;

/// An encrypted cluster of [`MEMBERS`] members on loopback; members 0 and 1
/// record what they send (what an eavesdropper on the wire would capture).
pub struct Lab {
    /// The members, `a0` to `a3`.
    pub members: Vec<Cluster>,
    /// The cluster key.
    pub key: SecretKey,
    /// What `a0` and `a1` sent, destination and bytes.
    pub captures: [Capture; 2],
    /// The attacker's socket (an outsider: no key).
    pub attacker: UdpSocket,
}

/// The configuration every lab member uses.
pub fn config() -> Config {
    // LAN timing (a busy machine does not make it suspect anyone), with
    // frequent syncs so that an attack on them shows within seconds.
    Config::lan().with(|c| {
        c.label = LABEL.to_vec();
        c.sync.interval = Duration::from_secs(2);
    })
}

impl Lab {
    /// Starts the cluster and waits until everyone sees everyone alive.
    pub async fn start(key: SecretKey) -> Result<Lab, String> {
        let mut members = Vec::new();
        let mut captures = Vec::new();
        for i in 0..MEMBERS {
            let udp = swim::udp::UdpTransport::bind(loopback()).await.map_err(|e| e.to_string())?;
            let builder = Cluster::builder(format!("a{i}")).config(config()).encrypt([key.clone()]);
            let started = if i < 2 {
                let (recording, capture) = Recording::new(udp);
                captures.push(capture);
                builder.transport(recording).start().await
            } else {
                builder.transport(udp).start().await
            };
            members.push(started.map_err(|e| format!("starting a{i}: {e}"))?);
        }
        let seed = members[0].local_addr();
        for m in members.iter().skip(1) {
            m.join([seed]).await.map_err(|e| format!("joining: {e}"))?;
        }
        if !eventually(LIMIT, || all_see_alive(&members, MEMBERS)).await {
            return Err("the lab cluster did not converge".into());
        }
        let attacker = UdpSocket::bind(loopback()).await.map_err(|e| e.to_string())?;
        let [c0, c1]: [Capture; 2] = captures.try_into().map_err(|_| "two captures")?;
        Ok(Lab { members, key, captures: [c0, c1], attacker })
    }

    /// Member `i`'s address.
    pub fn addr(&self, i: usize) -> SocketAddr {
        self.members[i].local_addr()
    }

    /// Every member's view and stats.
    pub async fn snapshot(&self) -> Snapshot {
        let mut views = Vec::new();
        let mut stats = Vec::new();
        for m in &self.members {
            let view = m.members().await.unwrap_or_default();
            views.push(view.iter().map(|x| (x.name.to_string(), (x.state, x.generation, x.incarnation))).collect());
            stats.push(m.stats().await.unwrap_or_default());
        }
        Snapshot { views, stats }
    }

    /// Sends `datagram` from the attacker's socket to member `i`.
    pub async fn send(&self, i: usize, datagram: &[u8]) {
        let _ = self.attacker.send_to(datagram, self.addr(i)).await;
    }

    /// Bytes that reached the attacker's socket since the last call.
    pub fn drain_attacker(&self) -> usize {
        let mut buf = [0u8; 65_536];
        let mut total = 0;
        while let Ok((len, _)) = self.attacker.try_recv_from(&mut buf) {
            total += len;
        }
        total
    }

    /// Events of every member, to check for false verdicts afterwards.
    pub fn watch(&self) -> Vec<swim::Events> {
        self.members.iter().map(Cluster::events).collect()
    }

    /// Stops every member.
    pub async fn stop(self) {
        for m in &self.members {
            let _ = m.shutdown().await;
        }
    }
}

/// What the lab looked like at one moment.
#[derive(Debug, Clone)]
pub struct Snapshot {
    /// Each member's view.
    pub views: Vec<View>,
    /// Each member's stats.
    pub stats: Vec<Stats>,
}

impl Snapshot {
    /// Why `after` differs from `self` in what an attack must not change:
    /// who is known, their states, generations and incarnations.
    pub fn changed(&self, after: &Snapshot) -> Option<String> {
        for (i, (before, now)) in self.views.iter().zip(&after.views).enumerate() {
            if before != now {
                let added: Vec<&String> = now.keys().filter(|k| !before.contains_key(*k)).collect();
                let moved: Vec<&String> =
                    now.keys().filter(|k| before.get(*k).is_some_and(|v| now.get(*k) != Some(v))).collect();
                return Some(format!("a{i}'s view changed: new {added:?}, changed {moved:?}"));
            }
        }
        None
    }

    /// Sum over members of one counter's rise since `self`.
    pub fn rise(&self, after: &Snapshot, counter: impl Fn(&Stats) -> u64) -> u64 {
        self.stats.iter().zip(&after.stats).map(|(b, a)| counter(a).saturating_sub(counter(b))).sum()
    }
}

/// Suspicions, verdicts or departures seen by any watcher (none may happen
/// in a healthy lab).
pub fn false_alarms(watchers: &mut [swim::Events]) -> Vec<String> {
    let mut seen = Vec::new();
    for w in watchers {
        while let Some(Ok(e)) = w.try_recv() {
            match &e {
                Event::MemberSuspected { member, by } => seen.push(format!("{} suspected by {by}", member.name)),
                Event::MemberFaulty { member, by } => seen.push(format!("{} faulty, declared by {by}", member.name)),
                Event::MemberLeft(m) => seen.push(format!("{} left", m.name)),
                _ => {}
            }
        }
    }
    seen
}

/// 127.0.0.1, any port.
pub fn loopback() -> SocketAddr {
    SocketAddr::from(([127, 0, 0, 1], 0))
}

/// Waits until `counter` (summed over members) rose by at least `by` since
/// `before`; returns the rise.
pub async fn wait_for_rise(lab: &Lab, before: &Snapshot, by: u64, counter: fn(&Stats) -> u64) -> u64 {
    let deadline = tokio::time::Instant::now() + LIMIT;
    loop {
        let rise = before.rise(&lab.snapshot().await, counter);
        if rise >= by || tokio::time::Instant::now() >= deadline {
            return rise;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}
