//! Helpers for tests over real sockets: starting members, and waiting
//! (bounded in time) for the cluster to reach a state.

use std::future::Future;
use std::net::SocketAddr;
use std::time::Duration;

use swim::{Cluster, Config, Member, RuntimeOptions, State};
use tokio::time::Instant;

/// A fast configuration for loopback tests (T = 200 ms).
pub fn fast() -> Config {
    Config::local()
}

/// Polls `check` every 50 ms until it holds or `limit` passes; returns
/// whether it held.
pub async fn eventually<F, Fut>(limit: Duration, mut check: F) -> bool
where
    F: FnMut() -> Fut,
    Fut: Future<Output = bool>,
{
    let deadline = Instant::now() + limit;
    loop {
        if check().await {
            return true;
        }
        if Instant::now() >= deadline {
            return false;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

/// Starts `n` members over UDP on `ip` (ports chosen by the system), named
/// `{prefix}{i}`; none has joined yet.
pub async fn start_udp(n: usize, prefix: &str, ip: &str) -> Vec<Cluster> {
    start_with(n, prefix, ip, &fast(), &RuntimeOptions::default()).await
}

/// Like [`start_udp`], with the given configuration and runtime options.
pub async fn start_with(n: usize, prefix: &str, ip: &str, config: &Config, options: &RuntimeOptions) -> Vec<Cluster> {
    let mut members = Vec::with_capacity(n);
    for i in 0..n {
        let bind: SocketAddr = format!("{ip}:0").parse().expect("a socket address");
        let cluster = Cluster::builder(format!("{prefix}{i}"))
            .config(config.clone())
            .runtime_options(options.clone())
            .bind(bind)
            .start()
            .await;
        members.push(cluster.expect("a member starts"));
    }
    members
}

/// Starts `n` members on 127.0.0.1 with `config` and `options`, joins them
/// through the first, and waits (up to 20 s in all) until every one sees
/// all `n` live.
pub async fn start_converged(n: usize, prefix: &str, config: &Config, options: &RuntimeOptions) -> Vec<Cluster> {
    let members = start_with(n, prefix, "127.0.0.1", config, options).await;
    join_all(&members).await;
    let deadline = Instant::now() + Duration::from_secs(20);
    for m in &members {
        let left = deadline.saturating_duration_since(Instant::now());
        if let Err(e) = m.wait_for_members(n, left).await {
            panic!("{n} members converge: {} says {e}", m.name());
        }
    }
    members
}

/// Joins every member but the first through the first.
pub async fn join_all(members: &[Cluster]) {
    let Some(seed) = members.first().map(Cluster::local_addr) else { return };
    for m in members.iter().skip(1) {
        m.join([seed]).await.expect("the join succeeds");
    }
}

/// A member's view of `name`, if it has one.
pub async fn view(of: &Cluster, name: &str) -> Option<Member> {
    of.members().await.ok()?.into_iter().find(|m| m.name == name)
}

/// Whether every member in `members` sees exactly `expected` members alive.
pub async fn all_see_alive(members: &[Cluster], expected: usize) -> bool {
    for m in members {
        let Ok(view) = m.members().await else { return false };
        if view.iter().filter(|x| x.state == State::Alive).count() != expected {
            return false;
        }
    }
    true
}

/// Whether every member in `members` sees `name` in `state`.
pub async fn all_see(members: &[Cluster], name: &str, state: State) -> bool {
    for m in members {
        if view(m, name).await.map(|v| v.state) != Some(state) {
            return false;
        }
    }
    true
}
