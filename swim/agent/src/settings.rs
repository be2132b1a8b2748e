//! What an agent runs with: its config file and flags, merged (flags win),
//! checked before anything starts.

use std::collections::BTreeMap;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};

use serde::Deserialize;
use swim::{Config, Network, SecretKey};

use crate::cli::{AgentArgs, Carrier, Preset};

/// The config file: every key optional.
///
/// ```toml
/// name = "web-1"
/// bind = "0.0.0.0:7946"
/// advertise = "10.0.0.5:7946"
/// seeds = ["swim.default.svc.cluster.local:7946"]
/// preset = "lan"
/// transport = "udp"  # or "tcp", where UDP is blocked
/// key_file = "/etc/swim/cluster.key"
/// allow = ["10.0.0.0/8"]
///
/// [tags]
/// role = "web"
///
/// [answers]          # queries this agent answers, by name
/// who-serves-7 = "web-1 does"
///
/// [quic]             # instead of key_file
/// ca = "certs/ca.pem"
/// cert = "certs/web-1.pem"
/// key = "certs/web-1.key"
///
/// [api]
/// bind = "127.0.0.1:7947"
/// token_file = "/etc/swim/api.token"
/// allow_remote = false
///
/// [protocol.sync]    # any of swim::Config's settings, over the preset's
/// interval = "10s"
/// ```
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct FileConfig {
    name: Option<String>,
    bind: Option<SocketAddr>,
    advertise: Option<SocketAddr>,
    #[serde(default)]
    seeds: Vec<String>,
    preset: Option<Preset>,
    transport: Option<Carrier>,
    key_file: Option<PathBuf>,
    #[serde(default)]
    allow: Vec<String>,
    #[serde(default)]
    insecure_plaintext: bool,
    #[serde(default)]
    tags: BTreeMap<String, String>,
    #[serde(default)]
    answers: BTreeMap<String, String>,
    quic: Option<QuicFiles>,
    #[serde(default)]
    api: ApiFile,
    /// Settings of [`swim::Config`] that replace the preset's, by section
    /// (`[protocol.probe]`, `[protocol.sync]`, ...); durations as text
    /// ("200ms", "10s").
    #[serde(default)]
    protocol: toml::Table,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct QuicFiles {
    pub(crate) ca: PathBuf,
    pub(crate) cert: PathBuf,
    pub(crate) key: PathBuf,
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct ApiFile {
    bind: Option<SocketAddr>,
    token_file: Option<PathBuf>,
    #[serde(default)]
    allow_remote: bool,
}

/// How the member is secured.
#[derive(Debug)]
pub(crate) enum Security {
    /// Encrypted UDP (and TCP syncs) with these keys; the first encrypts.
    Keys(Vec<SecretKey>),
    /// QUIC with mutual TLS.
    Quic(QuicFiles),
    /// Neither (loopback only, unless `insecure_plaintext`).
    None,
}

/// Everything an agent runs with.
#[derive(Debug)]
pub(crate) struct Settings {
    pub(crate) name: Option<String>,
    pub(crate) bind: SocketAddr,
    pub(crate) advertise: Option<SocketAddr>,
    pub(crate) seeds: Vec<String>,
    pub(crate) config: Config,
    pub(crate) tags: BTreeMap<String, String>,
    pub(crate) answers: BTreeMap<String, String>,
    pub(crate) security: Security,
    pub(crate) insecure_plaintext: bool,
    /// TCP only rather than UDP (never with QUIC).
    pub(crate) tcp_only: bool,
    pub(crate) api: SocketAddr,
    pub(crate) api_token: Option<String>,
}

/// What SIGHUP reloads.
pub(crate) struct Reloaded {
    pub(crate) tags: BTreeMap<String, String>,
    /// The keys, when the member runs with keys.
    pub(crate) keys: Option<Vec<SecretKey>>,
}

/// The default address of the local API.
const DEFAULT_API: SocketAddr = SocketAddr::V4(std::net::SocketAddrV4::new(std::net::Ipv4Addr::LOCALHOST, 7947));

impl Settings {
    /// Reads the config file (if any) and merges the flags over it.
    pub(crate) fn load(args: &AgentArgs) -> Result<Settings, String> {
        let file = match &args.config {
            Some(path) => read_config(path)?,
            None => FileConfig::default(),
        };
        Settings::merge(args, file)
    }

    fn merge(args: &AgentArgs, file: FileConfig) -> Result<Settings, String> {
        let mut config = match args.preset.or(file.preset).unwrap_or(Preset::Lan) {
            Preset::Lan => Config::lan(),
            Preset::Wan => Config::wan(),
            Preset::Local => Config::local(),
        };
        if !file.protocol.is_empty() {
            config = with_overrides(config, &file.protocol)?;
        }
        let allow = if args.allow.is_empty() { &file.allow } else { &args.allow };
        config.security.allowed_networks = allow
            .iter()
            .map(|text| text.parse::<Network>().map_err(|e| format!("allow: `{text}`: {e}")))
            .collect::<Result<_, _>>()?;
        let mut tags = file.tags;
        tags.extend(args.tags.iter().cloned());

        let quic = match (&args.ca, &args.cert, &args.cert_key) {
            (Some(ca), Some(cert), Some(key)) => {
                Some(QuicFiles { ca: ca.clone(), cert: cert.clone(), key: key.clone() })
            }
            _ => file.quic,
        };
        let key_file = args.key_file.clone().or(file.key_file);
        let security = match (quic, &key_file) {
            (Some(_), Some(_)) => {
                return Err("a key file is for UDP; with QUIC, certificates authenticate members: give one".into());
            }
            (Some(files), None) => Security::Quic(files),
            (None, Some(path)) => Security::Keys(read_keys(path)?),
            (None, None) => match std::env::var("SWIM_KEY") {
                Ok(text) => Security::Keys(vec![text.trim().parse().map_err(|e| format!("SWIM_KEY: {e}"))?]),
                Err(_) => Security::None,
            },
        };

        let tcp_only = args.transport.or(file.transport) == Some(Carrier::Tcp);
        if tcp_only && matches!(security, Security::Quic(_)) {
            return Err(
                "transport tcp is for keys or plaintext; with QUIC certificates, QUIC carries everything".into()
            );
        }
        let api = args.api.or(file.api.bind).unwrap_or(DEFAULT_API);
        let remote_allowed = args.api_allow_remote || file.api.allow_remote;
        if !api.ip().is_loopback() && !remote_allowed {
            return Err(format!(
                "the API would listen on {api}, off this host: anyone who reaches it could make the member \
                 leave or change its keys. Give a loopback address, or --api-allow-remote (with a token)."
            ));
        }
        let api_token = match args.api_token_file.as_ref().or(file.api.token_file.as_ref()) {
            Some(path) => Some(read_token(path)?),
            None => None,
        };
        Ok(Settings {
            name: args.name.clone().or(file.name),
            bind: args.bind.or(file.bind).unwrap_or(SocketAddr::from(([127, 0, 0, 1], swim::DEFAULT_PORT))),
            advertise: args.advertise.or(file.advertise),
            seeds: if args.seeds.is_empty() { file.seeds } else { args.seeds.clone() },
            config,
            tags,
            answers: file.answers,
            security,
            insecure_plaintext: args.insecure_plaintext || file.insecure_plaintext,
            tcp_only,
            api,
            api_token,
        })
    }

    /// What SIGHUP reloads: the tags (file and flags) and the keys.
    pub(crate) fn reload(args: &AgentArgs) -> Result<Reloaded, String> {
        let settings = Settings::load(args)?;
        let keys = match settings.security {
            Security::Keys(keys) => Some(keys),
            _ => None,
        };
        Ok(Reloaded { tags: settings.tags, keys })
    }
}

/// `config` with the `[protocol]` table's settings in place of its own,
/// checked as a whole. The security settings that have their own keys in
/// the file (`key_file`, `quic`, `allow`) are refused here.
fn with_overrides(config: Config, overrides: &toml::Table) -> Result<Config, String> {
    if let Some(security) = overrides.get("security").and_then(toml::Value::as_table) {
        for (key, instead) in [("encryption", "key_file"), ("allowed_networks", "allow"), ("names_proven", "quic")] {
            if security.contains_key(key) {
                return Err(format!("protocol.security.{key}: set it with `{instead}` instead"));
            }
        }
    }
    let mut merged = serde_json::to_value(&config).map_err(|e| format!("protocol: {e}"))?;
    let overrides = serde_json::to_value(overrides).map_err(|e| format!("protocol: {e}"))?;
    overlay(&mut merged, overrides);
    let config: Config = serde_json::from_value(merged).map_err(|e| format!("protocol: {e}"))?;
    config.validate().map_err(|e| format!("protocol: {e}"))?;
    Ok(config)
}

/// Puts `top`'s values over `base`'s, table by table.
fn overlay(base: &mut serde_json::Value, top: serde_json::Value) {
    match (base, top) {
        (serde_json::Value::Object(base), serde_json::Value::Object(top)) => {
            for (key, value) in top {
                match base.get_mut(&key) {
                    Some(slot) => overlay(slot, value),
                    None => {
                        base.insert(key, value);
                    }
                }
            }
        }
        (slot, value) => *slot = value,
    }
}

fn read_config(path: &Path) -> Result<FileConfig, String> {
    let text = std::fs::read_to_string(path).map_err(|e| format!("config file {}: {e}", path.display()))?;
    toml::from_str(&text).map_err(|e| format!("config file {}: {e}", path.display()))
}

/// A key file: one key per line (64 hex digits), blank lines and `#`
/// comments skipped; the first key encrypts.
pub(crate) fn read_keys(path: &Path) -> Result<Vec<SecretKey>, String> {
    let text = std::fs::read_to_string(path).map_err(|e| format!("key file {}: {e}", path.display()))?;
    parse_keys(&text).map_err(|e| format!("key file {}: {e}", path.display()))
}

fn parse_keys(text: &str) -> Result<Vec<SecretKey>, String> {
    let mut keys = Vec::new();
    for (n, line) in text.lines().enumerate() {
        let line = line.trim();
        if line.is_empty() || line.starts_with('#') {
            continue;
        }
        keys.push(line.parse::<SecretKey>().map_err(|e| format!("line {}: {e}", n + 1))?);
    }
    if keys.is_empty() {
        return Err("no key in it (64 hex digits per line)".into());
    }
    Ok(keys)
}

fn read_token(path: &Path) -> Result<String, String> {
    let text = std::fs::read_to_string(path).map_err(|e| format!("token file {}: {e}", path.display()))?;
    let token = text.lines().next().unwrap_or_default().trim().to_owned();
    if token.len() < 16 {
        return Err(format!("token file {}: the token must be at least 16 characters", path.display()));
    }
    Ok(token)
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use super::*;

    fn file(text: &str) -> FileConfig {
        toml::from_str(text).unwrap()
    }

    #[test]
    fn flags_win_over_the_file() {
        let f = file(
            "name = \"from-file\"\nbind = \"127.0.0.1:8000\"\nseeds = [\"a:1\"]\npreset = \"local\"\n\
             [tags]\nrole = \"web\"\nzone = \"eu\"\n[answers]\nping = \"pong\"\n",
        );
        let args = AgentArgs {
            name: Some("from-flag".into()),
            tags: vec![("zone".into(), "us".into())],
            ..AgentArgs::default()
        };
        let s = Settings::merge(&args, f).unwrap();
        assert_eq!(s.name.as_deref(), Some("from-flag"));
        assert_eq!(s.bind, "127.0.0.1:8000".parse().unwrap());
        assert_eq!(s.seeds, ["a:1"]);
        assert_eq!(s.config.probe.period, Config::local().probe.period);
        let tags: Vec<(&str, &str)> = s.tags.iter().map(|(k, v)| (k.as_str(), v.as_str())).collect();
        assert_eq!(tags, [("role", "web"), ("zone", "us")]);
        assert_eq!(s.answers.get("ping").map(String::as_str), Some("pong"));
        assert_eq!(s.api, DEFAULT_API);
    }

    #[test]
    fn bad_settings_are_refused_with_what_is_wrong() {
        assert!(toml::from_str::<FileConfig>("nmae = \"typo\"").unwrap_err().to_string().contains("nmae"));
        let remote = AgentArgs { api: Some("0.0.0.0:7947".parse().unwrap()), ..AgentArgs::default() };
        assert!(Settings::merge(&remote, FileConfig::default()).unwrap_err().contains("off this host"));
        let allowed = AgentArgs { api_allow_remote: true, ..remote };
        assert!(Settings::merge(&allowed, FileConfig::default()).is_ok());
        let bad_net = AgentArgs { allow: vec!["10.0.0.0/99".into()], ..AgentArgs::default() };
        assert!(Settings::merge(&bad_net, FileConfig::default()).unwrap_err().starts_with("allow: `10.0.0.0/99`"));
    }

    #[test]
    fn protocol_settings_replace_the_presets_one_by_one() {
        let f = file("preset = \"local\"\n[protocol.sync]\ninterval = \"3s\"\n[protocol.probe]\nindirect = 4\n");
        let s = Settings::merge(&AgentArgs::default(), f).unwrap();
        assert_eq!(s.config.sync.interval, Duration::from_secs(3));
        assert_eq!(s.config.probe.indirect, 4);
        // The rest is the preset's.
        assert_eq!(s.config.probe.period, Config::local().probe.period);
        assert_eq!(s.config.sync.join_retry_interval, Config::local().sync.join_retry_interval);

        let refused = |text: &str| Settings::merge(&AgentArgs::default(), file(text)).unwrap_err();
        assert!(refused("[protocol.sync]\nintervall = \"3s\"").contains("intervall"));
        assert!(refused("[protocol.sync]\ninterval = \"soon\"").starts_with("protocol:"));
        assert!(refused("[protocol.probe]\nperiod = \"0s\"").starts_with("protocol:"));
        assert!(refused("[protocol.security]\nencryption = 1").contains("key_file"));
    }

    #[test]
    fn tcp_only_is_chosen_by_flag_or_file_and_never_with_quic() {
        let tcp = |args: &AgentArgs, text: &str| Settings::merge(args, file(text)).map(|s| s.tcp_only);
        assert_eq!(tcp(&AgentArgs::default(), ""), Ok(false));
        assert_eq!(tcp(&AgentArgs::default(), "transport = \"tcp\""), Ok(true));
        let udp_flag = AgentArgs { transport: Some(Carrier::Udp), ..AgentArgs::default() };
        assert_eq!(tcp(&udp_flag, "transport = \"tcp\""), Ok(false), "the flag wins");
        let quic = "transport = \"tcp\"\n[quic]\nca = \"a\"\ncert = \"b\"\nkey = \"c\"\n";
        assert!(tcp(&AgentArgs::default(), quic).unwrap_err().contains("QUIC"));
    }

    #[test]
    fn key_files_hold_keys_one_per_line() {
        let (a, b) = (SecretKey::generate().unwrap(), SecretKey::generate().unwrap());
        let keys = parse_keys(&format!("# rotated 2026-12\n{}\n\n{}\n", a.to_hex(), b.to_hex())).unwrap();
        assert_eq!(keys.iter().map(SecretKey::id).collect::<Vec<_>>(), [a.id(), b.id()]);
        assert!(parse_keys("# nothing\n").unwrap_err().contains("no key"));
        assert!(parse_keys("zz\n").unwrap_err().starts_with("line 1"));
    }
}
