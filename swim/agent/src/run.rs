//! `agent`: runs a member with its HTTP API until a signal or
//! `POST /v1/leave`.
//!
//! - SIGINT or SIGTERM: leaves gracefully (at most 5 s); a second one
//!   stops at once.
//! - SIGHUP: reloads the tags (config file and flags) and the keys (the
//!   key file): keys new in the file are installed, the file's first
//!   becomes the encrypting one, and keys no longer in it are removed.
//! - Seeds are `host:port`, resolved through DNS (A and AAAA) at every
//!   attempt, retried with a doubling delay (1 s to 30 s) until one
//!   answers: a Kubernetes headless service works, and so does a seed that
//!   starts later.

use std::collections::BTreeMap;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::{Duration, Instant};

use swim::tls::MemberIdentity;
use swim::{Cluster, Error, Event, SecretKey};
use tokio::sync::Notify;

use crate::cli::AgentArgs;
use crate::settings::{Security, Settings};

pub(crate) async fn agent(args: AgentArgs) -> Result<(), String> {
    let settings = Settings::load(&args)?;
    // Every metric the runtime publishes goes to this recorder, which
    // `/metrics` renders.
    let metrics = metrics_exporter_prometheus::PrometheusBuilder::new()
        .install_recorder()
        .map_err(|e| format!("metrics: {e}"))?;
    let name =
        settings.name.clone().unwrap_or_else(|| format!("agent-{}", settings.advertise.unwrap_or(settings.bind)));
    let mut builder = Cluster::builder(name.clone()).config(settings.config.clone()).bind(settings.bind);
    if let Some(addr) = settings.advertise {
        builder = builder.advertise(addr);
    }
    for (k, v) in &settings.tags {
        builder = builder.tag(k, v);
    }
    let transport = match &settings.security {
        Security::Quic(files) => {
            let read = |p: &std::path::Path| std::fs::read_to_string(p).map_err(|e| format!("{}: {e}", p.display()));
            let identity = MemberIdentity::from_pem(&read(&files.ca)?, &read(&files.cert)?, &read(&files.key)?)
                .map_err(|e| format!("certificates: {e}"))?;
            builder = builder.quic(identity);
            "quic"
        }
        Security::Keys(keys) => {
            builder = builder.encrypt(keys.iter().cloned());
            if settings.tcp_only { "tcp, encrypted" } else { "udp, encrypted" }
        }
        Security::None => {
            if settings.tcp_only {
                "tcp, plaintext"
            } else {
                "udp, plaintext"
            }
        }
    };
    if settings.tcp_only {
        builder = builder.tcp_only();
    }
    if settings.insecure_plaintext {
        builder = builder.insecure_plaintext();
    }
    let cluster = builder.start().await.map_err(|e| match e {
        Error::Insecure { addr } => format!(
            "refusing to run without a key on {addr}: anyone who can reach it could forge members.\n\
             Make a key once with `swim-agent keygen --out cluster.key`, copy it to every member, and start \
             each with `--key-file cluster.key`. On a network where every host is trusted, \
             `--insecure-plaintext` runs without one."
        ),
        other => format!("starting the member: {other}"),
    })?;
    // Subscribed now, so that the log misses nothing of the join.
    let log = crate::log::Log { events: args.log_events.then(|| cluster.events()), view_every: args.log_view };
    let listener =
        tokio::net::TcpListener::bind(settings.api).await.map_err(|e| format!("api {}: {e}", settings.api))?;
    let api_addr = listener.local_addr().map_err(|e| format!("api: {e}"))?;
    // Tests and scripts read these two lines to find the member and its API.
    println!("swim-agent: member {name} at {} ({transport})", cluster.local_addr());
    println!("swim-agent: api at http://{api_addr}");

    let stop = Arc::new(Notify::new());
    let api = crate::api::Api {
        cluster: cluster.clone(),
        name: name.clone(),
        token: settings.api_token.as_deref().map(Arc::from),
        metrics,
        started: Instant::now(),
        stop: Arc::clone(&stop),
        loopback: api_addr.ip().is_loopback(),
    };
    let server = axum::serve(listener, crate::api::router(api));
    let server = tokio::spawn(async move { server.await });
    tokio::spawn(crate::log::run(cluster.clone(), name.clone(), log));
    if !settings.seeds.is_empty() {
        tokio::spawn(join_until_joined(cluster.clone(), settings.seeds.clone()));
    }
    if !settings.answers.is_empty() {
        tokio::spawn(answer_queries(cluster.clone(), settings.answers.clone()));
    }

    let mut signals = Signals::new()?;
    loop {
        tokio::select! {
            () = stop.notified() => {
                println!("swim-agent: left (asked through the API)");
                break;
            }
            signal = signals.next() => match signal {
                Signal::Stop => {
                    println!("swim-agent: leaving (a second signal stops at once)");
                    tokio::select! {
                        left = cluster.leave(Duration::from_secs(5)) => match left {
                            Ok(()) => println!("swim-agent: left"),
                            Err(e) => println!("swim-agent: stopped: {e}"),
                        },
                        _ = signals.next_stop() => println!("swim-agent: stopped at once"),
                    }
                    break;
                }
                Signal::Reload => match reload(&cluster, &args).await {
                    Ok(text) => println!("swim-agent: reloaded: {text}"),
                    Err(e) => println!("swim-agent: reload refused, nothing changed: {e}"),
                },
            },
        }
    }
    server.abort();
    let _ = cluster.shutdown().await;
    Ok(())
}

/// Resolves every seed (A and AAAA); unresolvable ones are skipped.
async fn resolve(seeds: &[String]) -> Vec<SocketAddr> {
    let mut out = Vec::new();
    for seed in seeds {
        match tokio::net::lookup_host(seed.as_str()).await {
            Ok(addrs) => out.extend(addrs),
            Err(e) => tracing::warn!("seed {seed}: {e}"),
        }
    }
    out.sort();
    out.dedup();
    out
}

async fn join_until_joined(cluster: Cluster, seeds: Vec<String>) {
    let mut delay = Duration::from_secs(1);
    loop {
        let addrs = resolve(&seeds).await;
        if addrs.is_empty() {
            println!("swim-agent: no seed resolved; retrying in {delay:?}");
        } else {
            match cluster.join(addrs).await {
                Ok(seed) => {
                    println!("swim-agent: joined through {seed}");
                    return;
                }
                Err(Error::Stopped) => return,
                Err(e) => println!("swim-agent: join failed: {e}; retrying in {delay:?}"),
            }
        }
        tokio::time::sleep(delay).await;
        delay = (delay * 2).min(Duration::from_secs(30));
    }
}

/// Answers the queries named in the config's `[answers]` with their text.
async fn answer_queries(cluster: Cluster, answers: BTreeMap<String, String>) {
    let mut events = cluster.events();
    loop {
        match events.recv().await {
            Ok(Event::Query(q)) => {
                if let Some(answer) = answers.get(&q.name.to_string())
                    && let Err(e) = cluster.respond(&q, answer.clone().into_bytes()).await
                {
                    tracing::warn!("answering query {}: {e}", q.name);
                }
            }
            Ok(_) | Err(swim::RecvError::Lagged(_)) => {}
            Err(swim::RecvError::Closed) => return,
        }
    }
}

/// SIGHUP: the tags and keys from the files again.
async fn reload(cluster: &Cluster, args: &AgentArgs) -> Result<String, String> {
    let crate::settings::Reloaded { tags, keys } = Settings::reload(args)?;
    cluster.set_tags(tags.iter().map(|(k, v)| (k.clone(), v.clone()))).await.map_err(|e| format!("tags: {e}"))?;
    let mut text = format!("{} tags", tags.len());
    if let Some(keys) = keys {
        text.push_str(&format!(", {}", rotate(cluster, &keys).await?));
    }
    Ok(text)
}

/// Makes the installed keys those of `keys`, the first encrypting.
async fn rotate(cluster: &Cluster, keys: &[SecretKey]) -> Result<String, String> {
    let e = |e: Error| format!("keys: {e}");
    let installed = cluster.key_ids().await.map_err(e)?;
    for key in keys.iter().filter(|k| !installed.contains(&k.id())) {
        cluster.add_key(key.clone()).await.map_err(e)?;
    }
    if let Some(first) = keys.first() {
        cluster.use_key(first.id()).await.map_err(e)?;
    }
    for id in installed.iter().filter(|id| !keys.iter().any(|k| k.id() == **id)) {
        cluster.remove_key(*id).await.map_err(e)?;
    }
    let ids = cluster.key_ids().await.map_err(e)?;
    Ok(format!("keys {}", ids.iter().map(|id| format!("{id:08x}")).collect::<Vec<_>>().join(" ")))
}

enum Signal {
    Stop,
    /// SIGHUP (Unix only).
    #[cfg_attr(not(unix), allow(dead_code))]
    Reload,
}

/// SIGINT, SIGTERM and SIGHUP on Unix; Ctrl-C elsewhere.
struct Signals {
    #[cfg(unix)]
    terminate: tokio::signal::unix::Signal,
    #[cfg(unix)]
    hangup: tokio::signal::unix::Signal,
    #[cfg(unix)]
    interrupt: tokio::signal::unix::Signal,
}

impl Signals {
    #[cfg(unix)]
    fn new() -> Result<Self, String> {
        use tokio::signal::unix::{SignalKind, signal};
        let s = |kind| signal(kind).map_err(|e| format!("signals: {e}"));
        Ok(Signals {
            terminate: s(SignalKind::terminate())?,
            hangup: s(SignalKind::hangup())?,
            interrupt: s(SignalKind::interrupt())?,
        })
    }

    #[cfg(not(unix))]
    fn new() -> Result<Self, String> {
        Ok(Signals {})
    }

    #[cfg(unix)]
    async fn next(&mut self) -> Signal {
        tokio::select! {
            _ = self.terminate.recv() => Signal::Stop,
            _ = self.interrupt.recv() => Signal::Stop,
            _ = self.hangup.recv() => Signal::Reload,
        }
    }

    #[cfg(not(unix))]
    async fn next(&mut self) -> Signal {
        let _ = tokio::signal::ctrl_c().await;
        Signal::Stop
    }

    async fn next_stop(&mut self) {
        while !matches!(self.next().await, Signal::Stop) {}
    }
}
