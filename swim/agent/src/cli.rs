//! The command line: every subcommand and flag, declared once (clap
//! generates the help and the errors).

use std::path::PathBuf;

use clap::{Args, Parser, Subcommand};

/// The swim agent: runs a cluster member, and asks a running one.
#[derive(Debug, Parser)]
#[command(name = "swim-agent", version, about, propagate_version = true)]
pub(crate) struct Cli {
    #[command(subcommand)]
    pub(crate) command: Command,
}

#[derive(Debug, Subcommand)]
pub(crate) enum Command {
    /// Runs a member: from a TOML config file, flags, or both (flags win).
    Agent(Box<AgentArgs>),
    /// Lists the members a running agent sees.
    Members(MembersArgs),
    /// Prints a running agent's events as they happen.
    Monitor(MonitorArgs),
    /// Shows a running agent's member, health score, probe timeout and
    /// counters.
    Info(ClientArgs),
    /// Gossips a payload to every member.
    Broadcast(BroadcastArgs),
    /// Asks the members a query and prints their answers.
    Query(QueryArgs),
    /// Lists, installs, switches to or removes cluster keys.
    Keys(KeysArgs),
    /// Makes a new cluster key (64 hex digits).
    Keygen(KeygenArgs),
    /// Makes a cluster CA (kept, and reused) and a certificate per member,
    /// for QUIC with mutual TLS.
    GenCerts(GenCertsArgs),
    /// Makes a running agent leave the cluster gracefully, then stop.
    Leave(ClientArgs),
}

/// The flags of `agent`; each may also come from the config file.
#[derive(Debug, Args, Default)]
pub(crate) struct AgentArgs {
    /// A TOML config file (see the crate's README for its keys).
    #[arg(long, short = 'c', value_name = "FILE")]
    pub(crate) config: Option<PathBuf>,
    /// This member's name (default: `agent-<advertised address>`).
    #[arg(long)]
    pub(crate) name: Option<String>,
    /// The address to listen on (UDP, and TCP or QUIC for syncs).
    #[arg(long, value_name = "ADDR")]
    pub(crate) bind: Option<std::net::SocketAddr>,
    /// The address other members reach this one at (when it differs).
    #[arg(long, value_name = "ADDR")]
    pub(crate) advertise: Option<std::net::SocketAddr>,
    /// A member to join through, `host:port`, resolved through DNS (A and
    /// AAAA) at every attempt; repeat for several.
    #[arg(long = "join", value_name = "HOST:PORT")]
    pub(crate) seeds: Vec<String>,
    /// A tag of this member, `KEY=VALUE`; repeat for several.
    #[arg(long = "tag", value_name = "KEY=VALUE", value_parser = parse_tag)]
    pub(crate) tags: Vec<(String, String)>,
    /// Carries probes and gossip over `udp` (the default; syncs over TCP)
    /// or `tcp` only (for networks that block UDP; every member must).
    #[arg(long, value_name = "TRANSPORT")]
    pub(crate) transport: Option<Carrier>,
    /// The preset timings: lan, wan or local.
    #[arg(long, value_name = "PRESET")]
    pub(crate) preset: Option<Preset>,
    /// A file of cluster keys, one per line (64 hex digits each); the first
    /// encrypts. Also `SWIM_KEY_FILE`, or the key itself in `SWIM_KEY`.
    #[arg(long, value_name = "FILE", env = "SWIM_KEY_FILE")]
    pub(crate) key_file: Option<PathBuf>,
    /// QUIC with mutual TLS: the cluster CA's certificate.
    #[arg(long, value_name = "FILE", requires_all = ["cert", "cert_key"])]
    pub(crate) ca: Option<PathBuf>,
    /// QUIC: this member's certificate.
    #[arg(long, value_name = "FILE", requires = "ca")]
    pub(crate) cert: Option<PathBuf>,
    /// QUIC: this member's private key.
    #[arg(long = "cert-key", value_name = "FILE", requires = "ca")]
    pub(crate) cert_key: Option<PathBuf>,
    /// Members outside these networks are refused (`10.0.0.0/8`); repeat.
    #[arg(long = "allow", value_name = "NETWORK")]
    pub(crate) allow: Vec<String>,
    /// Runs without a key or certificates on a non-loopback address.
    #[arg(long)]
    pub(crate) insecure_plaintext: bool,
    /// The local HTTP API's address (default 127.0.0.1:7947).
    #[arg(long, value_name = "ADDR")]
    pub(crate) api: Option<std::net::SocketAddr>,
    /// Lets the HTTP API listen on a non-loopback address.
    #[arg(long)]
    pub(crate) api_allow_remote: bool,
    /// A file whose first line is the bearer token every API request must
    /// carry (also `SWIM_API_TOKEN_FILE`).
    #[arg(long, value_name = "FILE", env = "SWIM_API_TOKEN_FILE")]
    pub(crate) api_token_file: Option<PathBuf>,
    /// Prints every event on standard output, one line each
    /// (`[   12.345s] x web-3 faulty, declared by web-1`).
    #[arg(long)]
    pub(crate) log_events: bool,
    /// Prints the members seen alive every SECONDS
    /// (`[   12.345s] view: 3 alive: web-1 web-2 web-3`).
    #[arg(long, value_name = "SECONDS", value_parser = parse_seconds)]
    pub(crate) log_view: Option<std::time::Duration>,
}

/// A positive number of seconds, fractions allowed.
fn parse_seconds(text: &str) -> Result<std::time::Duration, String> {
    let seconds: f64 = text.parse().map_err(|_| format!("`{text}` is not a number of seconds"))?;
    match std::time::Duration::try_from_secs_f64(seconds) {
        Ok(d) if !d.is_zero() => Ok(d),
        _ => Err(format!("`{text}`: give a positive number of seconds")),
    }
}

/// What carries probes and gossip (with a key or in plaintext; QUIC is
/// chosen by giving certificates).
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum, serde::Deserialize)]
#[serde(rename_all = "lowercase")]
pub(crate) enum Carrier {
    /// UDP datagrams, TCP for syncs.
    Udp,
    /// TCP only.
    Tcp,
}

/// The timing presets of [`swim::Config`].
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum, serde::Deserialize)]
#[serde(rename_all = "lowercase")]
pub(crate) enum Preset {
    /// A data centre: 1 s periods.
    Lan,
    /// Across regions: slower, more tolerant.
    Wan,
    /// One host: 200 ms periods.
    Local,
}

/// How a command reaches a running agent.
#[derive(Debug, Args, Clone)]
pub(crate) struct ClientArgs {
    /// The agent's HTTP API.
    #[arg(long, value_name = "ADDR", env = "SWIM_API", default_value = "127.0.0.1:7947", global = true)]
    pub(crate) api: String,
    /// A file holding the API's bearer token (also `SWIM_API_TOKEN_FILE`,
    /// or the token itself in `SWIM_API_TOKEN`).
    #[arg(long, value_name = "FILE", env = "SWIM_API_TOKEN_FILE", global = true)]
    pub(crate) token_file: Option<PathBuf>,
    /// Prints JSON rather than text.
    #[arg(long, global = true)]
    pub(crate) json: bool,
}

#[derive(Debug, Args)]
pub(crate) struct MembersArgs {
    #[command(flatten)]
    pub(crate) client: ClientArgs,
    /// Only members in this state: alive, suspect, faulty or left.
    #[arg(long)]
    pub(crate) state: Option<String>,
    /// Only members with this tag, `KEY=VALUE`; repeat for several (all
    /// must match).
    #[arg(long = "tag", value_name = "KEY=VALUE", value_parser = parse_tag)]
    pub(crate) tags: Vec<(String, String)>,
}

#[derive(Debug, Args)]
pub(crate) struct MonitorArgs {
    #[command(flatten)]
    pub(crate) client: ClientArgs,
}

#[derive(Debug, Args)]
pub(crate) struct BroadcastArgs {
    #[command(flatten)]
    pub(crate) client: ClientArgs,
    /// The payload (text).
    pub(crate) payload: String,
}

#[derive(Debug, Args)]
pub(crate) struct QueryArgs {
    #[command(flatten)]
    pub(crate) client: ClientArgs,
    /// The query's name.
    pub(crate) name: String,
    /// Its payload (text).
    #[arg(default_value = "")]
    pub(crate) payload: String,
    /// Only these members are asked; repeat for several.
    #[arg(long = "node", value_name = "NAME")]
    pub(crate) nodes: Vec<String>,
    /// Only members with this tag are asked, `KEY=VALUE`; repeat.
    #[arg(long = "tag", value_name = "KEY=VALUE", value_parser = parse_tag)]
    pub(crate) tags: Vec<(String, String)>,
    /// How long to wait for answers, in milliseconds (default: scaled
    /// with the cluster's size).
    #[arg(long, value_name = "MS")]
    pub(crate) timeout_ms: Option<u64>,
}

#[derive(Debug, Args)]
pub(crate) struct KeysArgs {
    #[command(flatten)]
    pub(crate) client: ClientArgs,
    #[command(subcommand)]
    pub(crate) action: KeysAction,
}

#[derive(Debug, Subcommand)]
pub(crate) enum KeysAction {
    /// The ids of the keys installed; the first encrypts.
    List,
    /// Installs the first key of a key file (it decrypts from now on).
    Install {
        /// The key file (64 hex digits on its first line).
        #[arg(long, value_name = "FILE")]
        key_file: PathBuf,
    },
    /// Encrypts with the installed key of this id from now on.
    Use {
        /// The key's id (8 hex digits, as `list` shows).
        id: String,
    },
    /// Removes the installed key of this id.
    Remove {
        /// The key's id.
        id: String,
    },
}

#[derive(Debug, Args)]
pub(crate) struct KeygenArgs {
    /// Writes the key to this new file (readable by its owner only)
    /// rather than to standard output.
    #[arg(long, value_name = "FILE")]
    pub(crate) out: Option<PathBuf>,
}

#[derive(Debug, Args)]
pub(crate) struct GenCertsArgs {
    /// The directory for the CA and the members' files.
    #[arg(long, value_name = "DIR")]
    pub(crate) out: PathBuf,
    /// The members' names, comma-separated.
    #[arg(long, value_name = "NAME,...", value_delimiter = ',', required = true)]
    pub(crate) names: Vec<String>,
}

/// `KEY=VALUE`.
pub(crate) fn parse_tag(text: &str) -> Result<(String, String), String> {
    let (k, v) = text.split_once('=').ok_or_else(|| format!("a tag is KEY=VALUE, not `{text}`"))?;
    if k.is_empty() {
        return Err(format!("a tag's key is empty in `{text}`"));
    }
    Ok((k.to_owned(), v.to_owned()))
}

#[cfg(test)]
mod tests {
    use clap::CommandFactory;

    use super::*;

    #[test]
    fn the_command_line_is_consistent() {
        Cli::command().debug_assert();
    }

    #[test]
    fn tags_need_a_key_and_an_equals_sign() {
        assert_eq!(parse_tag("role=web"), Ok(("role".into(), "web".into())));
        assert_eq!(parse_tag("empty="), Ok(("empty".into(), String::new())));
        assert!(parse_tag("role").is_err());
        assert!(parse_tag("=web").is_err());
    }

    #[test]
    fn seconds_are_positive_numbers() {
        assert_eq!(parse_seconds("1.5"), Ok(std::time::Duration::from_millis(1500)));
        for bad in ["0", "-1", "soon", "NaN", "1e300"] {
            assert!(parse_seconds(bad).is_err(), "{bad}");
        }
    }
}
