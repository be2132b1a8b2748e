//! One long-lived member that prints membership changes: how to run swim as
//! real processes on real hosts.
//!
//! ```text
//! # Every member holds the cluster's secret key (made once, copied to each host):
//! cargo run --release --example agent -- keygen --out cluster.key
//! cargo run --release --example agent -- --bind 10.0.0.1:7946 --key-file cluster.key
//! cargo run --release --example agent -- --bind 10.0.0.2:7946 --key-file cluster.key --join 10.0.0.1:7946
//!
//! # QUIC with mutual TLS: make a CA and member certificates, then
//! cargo run --release --example agent -- gen-certs --out certs --names n1,n2
//! cargo run --release --example agent -- --name n1 --bind 10.0.0.1:7946 \
//!     --quic --ca certs/ca.pem --cert certs/n1.pem --key certs/n1.key
//! ```
//!
//! The key can also come from the environment: `SWIM_KEY_FILE` (a path) or
//! `SWIM_KEY` (the 64 hex digits); never from the command line, where other
//! users of the host could read it. Without a key (or QUIC), the agent runs
//! only on loopback addresses, unless `--insecure-plaintext` says otherwise.
//!
//! Ctrl-C (or SIGTERM) leaves the cluster gracefully. Each line starts with
//! the seconds since start; `view:` lines list the members seen alive. Set
//! `RUST_LOG` (for example `RUST_LOG=swim_runtime=debug`) to see the
//! protocol's own log on stderr; `RUST_LOG=swim::report=info` shows only the
//! protocol report logged every 60 periods.

#![allow(clippy::indexing_slicing, clippy::cast_possible_truncation)]

use std::net::SocketAddr;
use std::path::PathBuf;
use std::time::{Duration, Instant};

use swim::tls::{ClusterCa, MemberIdentity};
use swim::{Cluster, Config, Error, Event, RecvError, SecretKey, State};

const USAGE: &str = "\
usage: agent --bind ADDR [--name NAME] [--join ADDR[,ADDR...]] [--advertise ADDR]
             [--config lan|wan|local] [--meta TEXT | --tag KEY=VALUE...] [--status SECONDS]
             [--sync-interval SECONDS] [--allow NETWORK[,NETWORK...]]
             [--key-file FILE | --quic --ca FILE --cert FILE --key FILE | --insecure-plaintext]
       agent keygen [--out FILE]
       agent gen-certs --out DIR --names NAME[,NAME...]
The key may also come from SWIM_KEY_FILE (a path) or SWIM_KEY (64 hex digits).";

struct Args {
    name: Option<String>,
    bind: SocketAddr,
    advertise: Option<SocketAddr>,
    join: Vec<SocketAddr>,
    config: Config,
    meta: String,
    tags: Vec<(String, String)>,
    status: Duration,
    quic: Option<(PathBuf, PathBuf, PathBuf)>,
    key: Option<SecretKey>,
    insecure_plaintext: bool,
}

/// Reads a key file: 64 hex digits (what `keygen` writes).
fn read_key_file(path: &std::path::Path) -> Result<SecretKey, String> {
    let text = std::fs::read_to_string(path).map_err(|e| format!("key file {}: {e}", path.display()))?;
    text.parse().map_err(|e| format!("key file {}: {e}", path.display()))
}

/// The key from `--key-file`, else `SWIM_KEY_FILE`, else `SWIM_KEY`.
fn find_key(key_file: Option<PathBuf>) -> Result<Option<SecretKey>, String> {
    if let Some(path) = key_file.or_else(|| std::env::var_os("SWIM_KEY_FILE").map(PathBuf::from)) {
        return read_key_file(&path).map(Some);
    }
    match std::env::var("SWIM_KEY") {
        Ok(text) => text.parse().map(Some).map_err(|e| format!("SWIM_KEY: {e}")),
        Err(_) => Ok(None),
    }
}

fn parse_addrs(list: &str) -> Result<Vec<SocketAddr>, String> {
    list.split(',')
        .map(|a| a.trim().parse().map_err(|_| format!("`{a}` is not an address like 10.0.0.1:7946")))
        .collect()
}

fn parse_args(args: &[String]) -> Result<Args, String> {
    let mut parsed = Args {
        name: None,
        bind: "127.0.0.1:7946".parse().map_err(|_| "default address")?,
        advertise: None,
        join: Vec::new(),
        config: Config::lan(),
        meta: String::new(),
        tags: Vec::new(),
        status: Duration::from_secs(10),
        quic: None,
        key: None,
        insecure_plaintext: false,
    };
    let mut key_file = None;
    let (mut quic, mut ca, mut cert, mut key) = (false, None, None, None);
    let mut sync_interval = None;
    let mut allow = Vec::new();
    let mut it = args.iter();
    while let Some(arg) = it.next() {
        let mut value = || it.next().cloned().ok_or_else(|| format!("{arg} needs a value"));
        match arg.as_str() {
            "--name" => parsed.name = Some(value()?),
            "--bind" => parsed.bind = value()?.parse().map_err(|_| "--bind takes an address like 10.0.0.1:7946")?,
            "--advertise" => parsed.advertise = Some(value()?.parse().map_err(|_| "--advertise takes an address")?),
            "--join" => parsed.join = parse_addrs(&value()?)?,
            "--meta" => parsed.meta = value()?,
            "--tag" => {
                let text = value()?;
                let (k, v) = text.split_once('=').ok_or_else(|| format!("--tag takes KEY=VALUE, not `{text}`"))?;
                parsed.tags.push((k.to_owned(), v.to_owned()));
            }
            // Members outside these networks are refused (docs/admission.md).
            "--allow" => {
                for text in value()?.split(',') {
                    allow.push(text.parse::<swim::Network>().map_err(|e| format!("--allow: {e}"))?);
                }
            }
            "--status" => {
                let s: f64 = value()?.parse().map_err(|_| "--status takes seconds")?;
                parsed.status = Duration::try_from_secs_f64(s).map_err(|_| "--status takes positive seconds")?;
            }
            "--sync-interval" => {
                let s: u64 = value()?.parse().map_err(|_| "--sync-interval takes whole seconds")?;
                sync_interval = Some(Duration::from_secs(s));
            }
            "--config" => {
                parsed.config = match value()?.as_str() {
                    "lan" => Config::lan(),
                    "wan" => Config::wan(),
                    "local" => Config::local(),
                    other => return Err(format!("--config: `{other}` is not lan, wan or local")),
                }
            }
            "--quic" => quic = true,
            "--ca" => ca = Some(PathBuf::from(value()?)),
            "--cert" => cert = Some(PathBuf::from(value()?)),
            "--key" => key = Some(PathBuf::from(value()?)),
            "--key-file" => key_file = Some(PathBuf::from(value()?)),
            "--insecure-plaintext" => parsed.insecure_plaintext = true,
            "-h" | "--help" => return Err(USAGE.into()),
            other => return Err(format!("unknown argument `{other}`\n{USAGE}")),
        }
    }
    if let Some(interval) = sync_interval {
        parsed.config.sync.interval = interval;
    }
    parsed.config.security.allowed_networks = allow;
    if quic {
        match (ca, cert, key) {
            (Some(ca), Some(cert), Some(key)) => parsed.quic = Some((ca, cert, key)),
            _ => return Err("--quic needs --ca, --cert and --key".into()),
        }
    }
    if parsed.quic.is_none() {
        parsed.key = find_key(key_file)?;
    } else if key_file.is_some() {
        return Err("--key-file is for UDP; with --quic, certificates authenticate members".into());
    }
    Ok(parsed)
}

/// Writes `text` to a new file only its owner can read.
fn write_private(path: &std::path::Path, text: &str) -> Result<(), String> {
    use std::io::Write;
    let mut options = std::fs::OpenOptions::new();
    options.write(true).create_new(true);
    #[cfg(unix)]
    std::os::unix::fs::OpenOptionsExt::mode(&mut options, 0o600);
    let mut file = options.open(path).map_err(|e| format!("{}: {e}", path.display()))?;
    file.write_all(text.as_bytes()).map_err(|e| format!("{}: {e}", path.display()))
}

/// `keygen [--out FILE]`: a new cluster key, into a new file readable only
/// by its owner (or on standard output).
fn keygen(args: &[String]) -> Result<(), String> {
    let out = match args {
        [] => None,
        [flag, path] if flag == "--out" => Some(PathBuf::from(path)),
        _ => return Err(USAGE.into()),
    };
    let key = SecretKey::generate().map_err(|e| e.to_string())?;
    match out {
        Some(path) => {
            write_private(&path, &format!("{}\n", key.to_hex()))?;
            println!("wrote key {:08x} to {}; copy it to every member (--key-file)", key.id(), path.display());
        }
        None => println!("{}", key.to_hex()),
    }
    Ok(())
}

/// `gen-certs --out DIR --names a,b`: one certificate per name, from the CA
/// in DIR (made, with its key, on first use).
fn gen_certs(args: &[String]) -> Result<(), String> {
    let (mut out, mut names) = (None, None);
    let mut it = args.iter();
    while let Some(arg) = it.next() {
        match arg.as_str() {
            "--out" => out = it.next().map(PathBuf::from),
            "--names" => names = it.next().cloned(),
            other => return Err(format!("unknown argument `{other}`\n{USAGE}")),
        }
    }
    let (Some(out), Some(names)) = (out, names) else { return Err(USAGE.into()) };
    std::fs::create_dir_all(&out).map_err(|e| format!("{}: {e}", out.display()))?;
    let write = |file: &str, text: &str| {
        let path = out.join(file);
        std::fs::write(&path, text).map_err(|e| format!("{}: {e}", path.display()))
    };
    // The CA is kept (its key readable by its owner only) and reused, so
    // that members added later join the same cluster.
    let (ca_pem, ca_key) = (out.join("ca.pem"), out.join("ca.key"));
    let ca = if ca_key.exists() {
        let read = |p: &PathBuf| std::fs::read_to_string(p).map_err(|e| format!("{}: {e}", p.display()));
        ClusterCa::from_pem("swim agents", &read(&ca_pem)?, &read(&ca_key)?)
            .map_err(|e| format!("{}: {e}", ca_key.display()))?
    } else {
        let ca = ClusterCa::generate("swim agents").map_err(|e| e.to_string())?;
        write_private(&ca_key, &ca.key_pem())?;
        write("ca.pem", &ca.cert_pem())?;
        ca
    };
    for name in names.split(',') {
        let id = ca.issue(name).map_err(|e| e.to_string())?;
        write(&format!("{name}.pem"), id.cert_pem())?;
        // Private keys: readable by their owner only.
        write_private(&out.join(format!("{name}.key")), id.key_pem())?;
    }
    println!("wrote a certificate and key per member (valid for a year), with ca.pem and ca.key, to {}", out.display());
    Ok(())
}

#[tokio::main]
async fn main() {
    if std::env::var_os("RUST_LOG").is_some() {
        tracing_subscriber::fmt()
            .with_env_filter(tracing_subscriber::EnvFilter::from_default_env())
            .with_writer(std::io::stderr)
            .init();
    }
    let args: Vec<String> = std::env::args().skip(1).collect();
    let rest = args.get(1..).unwrap_or_default();
    let result = if args.first().map(String::as_str) == Some("gen-certs") {
        gen_certs(rest)
    } else if args.first().map(String::as_str) == Some("keygen") {
        keygen(rest)
    } else {
        match parse_args(&args) {
            Ok(parsed) => run(parsed).await,
            Err(message) => Err(message),
        }
    };
    if let Err(message) = result {
        eprintln!("{message}");
        std::process::exit(2);
    }
}

async fn run(args: Args) -> Result<(), String> {
    let start = Instant::now();
    let stamp = move || format!("[{:>9.3}s]", start.elapsed().as_secs_f64());
    let name = args.name.clone().unwrap_or_else(|| format!("agent-{}", args.advertise.unwrap_or(args.bind)));
    let mut builder = Cluster::builder(name.clone()).config(args.config).bind(args.bind).metadata(args.meta);
    for (key, value) in args.tags {
        builder = builder.tag(key, value);
    }
    if let Some(addr) = args.advertise {
        builder = builder.advertise(addr);
    }
    let transport = if let Some((ca, cert, key)) = &args.quic {
        let read = |p: &PathBuf| std::fs::read_to_string(p).map_err(|e| format!("{}: {e}", p.display()));
        let identity = MemberIdentity::from_pem(&read(ca)?, &read(cert)?, &read(key)?).map_err(|e| e.to_string())?;
        builder = builder.quic(identity);
        "quic"
    } else if let Some(key) = args.key {
        builder = builder.encrypt([key]);
        "udp, encrypted"
    } else {
        "udp"
    };
    if args.insecure_plaintext {
        builder = builder.insecure_plaintext();
    }
    let cluster = builder.start().await.map_err(|e| match e {
        Error::Insecure { addr } => format!(
            "refusing to run without a key on {addr}: anyone who can reach it could forge members.\n\
             Make a key once with `agent keygen --out cluster.key`, copy it to every member, and start each with\n\
             `--key-file cluster.key` (or SWIM_KEY_FILE=cluster.key). On a network where every host is trusted,\n\
             `--insecure-plaintext` runs without one."
        ),
        other => format!("starting: {other}"),
    })?;
    let mut events = cluster.events();
    println!("{} {name} up at {} ({transport})", stamp(), cluster.local_addr());
    if !args.join.is_empty() {
        match cluster.join(args.join.iter().copied()).await {
            Ok(seed) => println!("{} joined through {seed}", stamp()),
            Err(e) => println!("{} join failed: {e} (running alone; others can join this member)", stamp()),
        }
    }

    let mut status = tokio::time::interval(args.status);
    let mut terminate = Terminate::new()?;
    loop {
        tokio::select! {
            event = events.recv() => match event {
                Ok(event) => print_event(&stamp(), &event),
                Err(RecvError::Lagged(n)) => println!("{} (missed {n} events)", stamp()),
                Err(RecvError::Closed) => break,
            },
            _ = status.tick() => {
                if let Ok(members) = cluster.members().await {
                    let mut alive: Vec<String> =
                        members.iter().filter(|m| m.state == State::Alive).map(|m| shown(&m.name)).collect();
                    alive.sort();
                    println!("{} view: {} alive: {}", stamp(), alive.len(), alive.join(" "));
                }
            }
            _ = tokio::signal::ctrl_c() => break,
            _ = terminate.recv() => break,
        }
    }
    println!("{} leaving", stamp());
    match cluster.leave(Duration::from_secs(5)).await {
        Ok(()) => println!("{} left", stamp()),
        Err(e) => println!("{} stopped: {e}", stamp()),
    }
    Ok(())
}

/// SIGTERM on Unix; elsewhere there is none, and Ctrl-C alone stops the
/// agent.
struct Terminate {
    #[cfg(unix)]
    signal: tokio::signal::unix::Signal,
}

impl Terminate {
    fn new() -> Result<Self, String> {
        #[cfg(unix)]
        let terminate = Terminate {
            signal: tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate())
                .map_err(|e| e.to_string())?,
        };
        #[cfg(not(unix))]
        let terminate = Terminate {};
        Ok(terminate)
    }

    async fn recv(&mut self) {
        #[cfg(unix)]
        self.signal.recv().await;
        #[cfg(not(unix))]
        std::future::pending::<()>().await;
    }
}

/// What a peer sent, made safe for a terminal: control characters (escape
/// sequences among them) and the invisible marks that reorder or hide text
/// (bidirectional overrides, zero-width characters) are shown escaped,
/// never interpreted.
fn shown(text: impl std::fmt::Display) -> String {
    let hidden = |c: char| {
        c.is_control()
            || matches!(c, '\u{200b}'..='\u{200f}' | '\u{202a}'..='\u{202e}' | '\u{2060}'..='\u{2069}' | '\u{feff}')
    };
    text.to_string().chars().flat_map(|c| if hidden(c) { c.escape_unicode().collect() } else { vec![c] }).collect()
}

fn shown_bytes(bytes: &[u8]) -> String {
    shown(String::from_utf8_lossy(bytes))
}

fn print_event(stamp: &str, event: &Event) {
    match event {
        Event::MemberJoined(m) => {
            let addr = m.addrs.first().map_or(String::new(), ToString::to_string);
            println!("{stamp} + {} joined at {addr}", shown(&m.name));
        }
        Event::MemberUpdated { member, changed_tags, .. } if !changed_tags.is_empty() => {
            let changes: Vec<String> = changed_tags.iter().map(ToString::to_string).collect();
            println!("{stamp} ~ {} tags changed: {}", shown(&member.name), changes.join(", "));
        }
        Event::MemberUpdated { member, .. } => {
            println!("{stamp} ~ {} updated: {}", shown(&member.name), shown_bytes(&member.meta));
        }
        Event::MemberSuspected { member, by } => {
            println!("{stamp} ? {} suspected by {}", shown(&member.name), shown(by));
        }
        Event::MemberRecovered(m) => println!("{stamp} ! {} recovered", shown(&m.name)),
        Event::MemberFaulty { member, by } => {
            println!("{stamp} x {} faulty, declared by {}", shown(&member.name), shown(by));
        }
        Event::MemberLeft(m) => println!("{stamp} - {} left", shown(&m.name)),
        Event::Query(q) => {
            println!("{stamp} ? query {} from {}: {}", shown(&q.name), shown(&q.from), shown_bytes(&q.payload));
        }
        Event::Message { from, payload, reliable } => {
            let how = if *reliable { "reliable" } else { "best effort" };
            println!("{stamp} > message from {} ({how}): {}", shown(from), shown_bytes(payload));
        }
        Event::Broadcast { origin, payload, .. } => {
            println!("{stamp} * broadcast from {}: {}", shown(origin), shown_bytes(payload));
        }
        Event::NameConflict { name, claimed, .. } => {
            println!("{stamp} ! name {} also claimed by {claimed}", shown(name));
        }
        Event::Refuted { incarnation } => println!("{stamp} ! refuted a suspicion (incarnation {incarnation})"),
        Event::Missed { count } => println!("{stamp} ! {count} events lost (more in one step than the event capacity)"),
        _ => {}
    }
}
