//! Configuring and starting a member.

use std::hash::{BuildHasher, RandomState};
use std::net::SocketAddr;

use crate::{Cluster, Error, RuntimeOptions};
use bytes::Bytes;
use swim_protocol::{Admission, AppState, Config, Encryption, Node, SecretKey, Time};
use swim_transport::Transport;
#[cfg(feature = "quic")]
use swim_transport::quic::QuicTransport;
use swim_transport::tcp::{TcpOptions, TcpTransport};
#[cfg(feature = "quic")]
use swim_transport::tls::MemberIdentity;
use swim_transport::udp::UdpTransport;

/// The default port (UDP and TCP).
pub const DEFAULT_PORT: u16 = 7946;

/// A transport, type-erased so the builder needs no type parameter.
trait Launch: Send {
    fn local_addr(&self) -> SocketAddr;
    fn max_datagram_size(&self) -> usize;
    fn vouches_for_peers(&self) -> bool;
    fn proves_names(&self) -> bool;
    fn launch(self: Box<Self>, node: Node, options: RuntimeOptions) -> Cluster;
}

struct Launcher<T>(T);

impl<T: Transport> Launch for Launcher<T> {
    fn local_addr(&self) -> SocketAddr {
        self.0.local_addr()
    }

    fn max_datagram_size(&self) -> usize {
        self.0.max_datagram_size()
    }

    fn vouches_for_peers(&self) -> bool {
        self.0.vouches_for_peers()
    }

    fn proves_names(&self) -> bool {
        self.0.proves_names()
    }

    fn launch(self: Box<Self>, node: Node, options: RuntimeOptions) -> Cluster {
        crate::spawn(node, self.0, options)
    }
}

enum Choice {
    Udp,
    Tcp(TcpOptions),
    #[cfg(feature = "quic")]
    Quic(MemberIdentity),
    Custom(Box<dyn Launch>),
}

/// Configures a member; [`start`](Builder::start) runs it.
///
/// A member on a network address must authenticate its peers: every member
/// holds the cluster's secret key ([`encrypt`](Builder::encrypt)), or runs
/// over QUIC with mutual TLS ([`quic`](Builder::quic)). Otherwise `start`
/// refuses with [`Error::Insecure`], unless
/// [`insecure_plaintext`](Builder::insecure_plaintext) says to run anyway.
/// Members on loopback addresses need neither.
///
/// ```no_run
/// # async fn demo() -> Result<(), Box<dyn std::error::Error>> {
/// use swim_protocol::{Config, SecretKey};
/// use swim_runtime::Cluster;
///
/// // The same key on every member (made once with `SecretKey::generate`,
/// // kept in a file only the service can read).
/// let key: SecretKey = std::fs::read_to_string("/etc/swim/cluster.key")?.parse()?;
/// let cluster = Cluster::builder("node-a")
///     .config(Config::lan())
///     .encrypt([key])
///     .bind("10.0.0.5:7946".parse().unwrap())
///     .metadata("zone=eu-1")
///     .seeds(["10.0.0.1:7946".parse().unwrap()])
///     .start()
///     .await?;
/// for member in cluster.members().await? {
///     println!("{} {:?}", member.name, member.state);
/// }
/// # Ok(()) }
/// ```
pub struct Builder {
    name: String,
    config: Config,
    options: RuntimeOptions,
    bind: Option<SocketAddr>,
    /// `encrypt` was called with no key.
    no_keys: bool,
    advertise: Option<SocketAddr>,
    metadata: Bytes,
    tags: Vec<(String, String)>,
    seeds: Vec<SocketAddr>,
    transport: Choice,
    insecure_plaintext: bool,
    admission: Option<Box<dyn Admission>>,
    app_state: Option<Box<dyn AppState>>,
}

impl std::fmt::Debug for Builder {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Builder")
            .field("name", &self.name)
            .field("bind", &self.bind)
            .field("advertise", &self.advertise)
            .field("seeds", &self.seeds)
            .finish_non_exhaustive()
    }
}

impl Builder {
    fn new(name: String) -> Self {
        Builder {
            name,
            config: Config::lan(),
            options: RuntimeOptions::default(),
            bind: None,
            no_keys: false,
            advertise: None,
            metadata: Bytes::new(),
            tags: Vec::new(),
            seeds: Vec::new(),
            transport: Choice::Udp,
            insecure_plaintext: false,
            admission: None,
            app_state: None,
        }
    }

    /// The protocol configuration (default [`Config::lan`]). A `generation`
    /// of 0 is replaced by the wall clock at start. A `seed` of 0
    /// is replaced by a random one; `limits.packet_budget` and
    /// `dissemination.max_broadcast_payload` are lowered if the transport's datagrams are
    /// smaller (QUIC datagrams carry 1,100 bytes). [`Cluster::config`]
    /// shows the configuration in force.
    pub fn config(mut self, config: Config) -> Self {
        self.config = config;
        self
    }

    /// How the member's task schedules and reports.
    pub fn runtime_options(mut self, options: RuntimeOptions) -> Self {
        self.options = options;
        self
    }

    /// Where to listen (default `0.0.0.0:7946`; port 0 picks a free port).
    /// Not with [`transport`](Self::transport), which is bound already.
    pub fn bind(mut self, addr: SocketAddr) -> Self {
        self.bind = Some(addr);
        self
    }

    /// The address other members reach this one at. By default, the bound
    /// address; if that is unspecified (`0.0.0.0` or `::`), the first
    /// private interface address of its family (10/8, 172.16/12,
    /// 192.168/16, 100.64/10; IPv6 fc00::/7) with the bound port, and
    /// [`start`](Self::start) fails with [`Error::NoAddressToAdvertise`]
    /// if the host has none.
    pub fn advertise(mut self, addr: SocketAddr) -> Self {
        self.advertise = Some(addr);
        self
    }

    /// Application metadata gossiped with this member (at most
    /// `limits.max_metadata` bytes).
    pub fn metadata(mut self, meta: impl Into<Bytes>) -> Self {
        self.metadata = meta.into();
        self
    }

    /// A tag of this member (see [`Cluster::set_tag`]); tags and raw
    /// [`metadata`](Self::metadata) are exclusive ([`start`](Self::start)
    /// fails with [`Error::MetadataNotTags`] given both).
    ///
    /// ```
    /// use swim_runtime::Cluster;
    /// let builder = Cluster::builder("cache-1").tag("role", "cache").tag("zone", "eu-1");
    /// ```
    pub fn tag(mut self, key: impl Into<String>, value: impl Into<String>) -> Self {
        self.tags.push((key.into(), value.into()));
        self
    }

    /// The application's say over which members this one adds (see
    /// [`Admission`]): asked once for each member new to it, joining
    /// through it or learned of from others, before it is added. A refused
    /// member is not added, a joiner is told it is not admitted, and the
    /// refusal is counted (`Stats::members_not_admitted`) and reported
    /// ([`Event::NotAdmitted`](crate::Event::NotAdmitted), once per
    /// version of the member). Give every member the same rule.
    ///
    /// ```
    /// use swim_runtime::{Candidate, Cluster};
    /// // Only members whose names say they belong to this deployment.
    /// let builder = Cluster::builder("cache-1")
    ///     .admission(|c: &Candidate<'_>| c.name.starts_with(b"cache-"));
    /// ```
    pub fn admission(mut self, hook: impl Admission + 'static) -> Self {
        self.admission = Some(Box::new(hook));
        self
    }

    /// The application's own state, carried whole by every sync both ways
    /// (memberlist's `LocalState` / `MergeRemoteState`; see [`AppState`]):
    /// in each sync with a peer this member sends what
    /// [`local_state`](AppState::local_state) gives, and hands what the
    /// peer sent to [`merge_remote_state`](AppState::merge_remote_state).
    /// Both run in the member's task: keep them quick, and share the state
    /// with the rest of the application through a lock, as below. Up to
    /// `limits.max_app_state` bytes (256 KiB by default); for a ready-made
    /// key-value store instead, see [`Cluster::set_state`].
    ///
    /// ```
    /// use std::collections::BTreeSet;
    /// use std::sync::{Arc, Mutex};
    /// use swim_runtime::{AppState, Cluster};
    ///
    /// /// A grow-only set of strings every member ends up holding.
    /// #[derive(Clone, Default)]
    /// struct Seen(Arc<Mutex<BTreeSet<String>>>);
    ///
    /// impl AppState for Seen {
    ///     fn local_state(&mut self, _join: bool, out: &mut Vec<u8>) {
    ///         let set = self.0.lock().unwrap();
    ///         out.extend_from_slice(set.iter().cloned().collect::<Vec<_>>().join("\n").as_bytes());
    ///     }
    ///     fn merge_remote_state(&mut self, _from: &[u8], state: &[u8], _join: bool) {
    ///         let mut set = self.0.lock().unwrap();
    ///         set.extend(String::from_utf8_lossy(state).split('\n').map(str::to_owned));
    ///     }
    /// }
    ///
    /// let seen = Seen::default();
    /// let builder = Cluster::builder("node-1").app_state(seen.clone());
    /// // ... the application reads and adds to `seen` as it likes.
    /// seen.0.lock().unwrap().insert("hello".to_owned());
    /// ```
    pub fn app_state(mut self, hook: impl AppState + 'static) -> Self {
        self.app_state = Some(Box::new(hook));
        self
    }

    /// Members to join through when starting; `start` waits for the join.
    pub fn seeds(mut self, seeds: impl IntoIterator<Item = SocketAddr>) -> Self {
        self.seeds = seeds.into_iter().collect();
        self
    }

    /// Encrypts every datagram and sync frame with these keys (AES-256-GCM;
    /// the first seals, all open). Shortcut for setting `security.encryption`
    /// (call it after [`config`](Self::config), which replaces it); the node
    /// draws its nonce epoch from the operating system's random source.
    /// Given no key, [`start`](Self::start) fails with [`Error::Config`]
    /// (field `encrypt`) rather than run in plaintext.
    pub fn encrypt(mut self, keys: impl IntoIterator<Item = SecretKey>) -> Self {
        let mut keys = keys.into_iter();
        match keys.next() {
            Some(first) => {
                let mut e = Encryption::new(first);
                e.keys.extend(keys);
                self.config.security.encryption = Some(e);
                self.no_keys = false;
            }
            None => self.no_keys = true,
        }
        self
    }

    /// Runs over TCP only, for networks that block UDP: probes and gossip
    /// as framed messages over a small pool of persistent connections,
    /// syncs over TCP streams, all on the bound port (see
    /// [`swim_transport::tcp`]). Every member of the cluster must use it.
    /// Encryption is the same as over UDP; the pool's sizes are
    /// [`TcpOptions`]'s defaults unless given with
    /// [`tcp_only_with`](Self::tcp_only_with).
    ///
    /// ```no_run
    /// # async fn demo(key: swim_protocol::SecretKey) -> Result<(), swim_runtime::Error> {
    /// let member = swim_runtime::Cluster::builder("web-1")
    ///     .bind("10.0.0.5:7946".parse().unwrap())
    ///     .encrypt([key])
    ///     .tcp_only()
    ///     .start()
    ///     .await?;
    /// # Ok(()) }
    /// ```
    pub fn tcp_only(self) -> Self {
        self.tcp_only_with(TcpOptions::default())
    }

    /// [`tcp_only`](Self::tcp_only) with the connection pool sized by
    /// `options`.
    pub fn tcp_only_with(mut self, options: TcpOptions) -> Self {
        self.transport = Choice::Tcp(options);
        self
    }

    /// Runs over QUIC with mutual TLS (feature `quic`): only members presenting a certificate
    /// signed by the cluster's CA can connect.
    #[cfg(feature = "quic")]
    pub fn quic(mut self, identity: MemberIdentity) -> Self {
        self.transport = Choice::Quic(identity);
        self
    }

    /// Lets the member run on a network address without authenticating
    /// anyone: no encryption keys, or keys with `accept_plaintext` (as
    /// during a migration to encryption). Without this, [`start`](Self::start)
    /// refuses such a member with [`Error::Insecure`].
    ///
    /// Anyone who can send the member a datagram can then add fake members,
    /// declare real ones failed or departed, and join. Use it only on a
    /// network where every host is trusted, and prefer
    /// [`encrypt`](Self::encrypt) or [`quic`](Self::quic). Members bound to
    /// and advertising loopback addresses (tests, demos) need neither.
    pub fn insecure_plaintext(mut self) -> Self {
        self.insecure_plaintext = true;
        self
    }

    /// Runs over a transport of your own, already bound: [`start`](Self::start)
    /// refuses it together with [`bind`](Self::bind).
    pub fn transport<T: Transport>(mut self, transport: T) -> Self {
        self.transport = Choice::Custom(Box::new(Launcher(transport)));
        self
    }

    /// Binds the transport, starts the member and, if seeds were given,
    /// joins through them (the member stops again if the join fails).
    pub async fn start(self) -> Result<Cluster, Error> {
        self.options.validate()?;
        let config_error = |field, reason| Error::Config(swim_protocol::ConfigError::runtime(field, reason));
        if self.no_keys {
            return Err(config_error(
                "encrypt",
                "was given no keys: pass at least one (`SecretKey::generate` makes one)",
            ));
        }
        if self.config.security.encryption.as_ref().is_some_and(|e| e.keys.is_empty()) {
            return Err(config_error("security.encryption", "holds no keys: give it at least one, or set it to None"));
        }
        if self.bind.is_some() && matches!(self.transport, Choice::Custom(_)) {
            return Err(config_error(
                "bind",
                "cannot be combined with `transport` (a transport of your own is bound already)",
            ));
        }
        let bind = self.bind.unwrap_or(SocketAddr::from(([0, 0, 0, 0], DEFAULT_PORT)));
        let launch: Box<dyn Launch> = match self.transport {
            Choice::Udp => Box::new(Launcher(UdpTransport::bind(bind).await?)),
            Choice::Tcp(options) => Box::new(Launcher(TcpTransport::bind(bind, options).await?)),
            #[cfg(feature = "quic")]
            Choice::Quic(identity) => {
                let quic = QuicTransport::bind(bind, &identity).await.map_err(|e| match e {
                    // The socket, as over UDP: the host's fault.
                    swim_transport::quic::QuicError::Io(e) => Error::Io(e),
                    e => Error::Transport(e.into()),
                })?;
                Box::new(Launcher(quic))
            }
            Choice::Custom(launch) => launch,
        };
        let advertise = match self.advertise {
            Some(addr) if addr.ip().is_unspecified() => {
                return Err(config_error("advertise", "must be an address others can reach, not 0.0.0.0 or ::"));
            }
            Some(addr) => addr,
            None => {
                let bound = launch.local_addr();
                if bound.ip().is_unspecified() {
                    let ip = crate::advertise::choose(bound.ip(), &crate::advertise::interface_addresses())
                        .map_err(|found| Error::NoAddressToAdvertise { bound: bound.ip(), found })?;
                    tracing::info!(%ip, "bound to an unspecified address: advertising a private interface address");
                    SocketAddr::new(ip, bound.port())
                } else {
                    bound
                }
            }
        };
        let envelope = if self.config.security.encryption.is_some() { swim_wire::crypto::OVERHEAD } else { 0 };
        let authenticated = launch.vouches_for_peers()
            || self.config.security.encryption.as_ref().is_some_and(|e| !e.accept_plaintext && !e.keys.is_empty());
        let reachable = !(launch.local_addr().ip().is_loopback() && advertise.ip().is_loopback());
        if reachable && !authenticated && !self.insecure_plaintext {
            let addr = if launch.local_addr().ip().is_loopback() { advertise } else { launch.local_addr() };
            return Err(Error::Insecure { addr });
        }
        let mut config = self.config;
        // A transport that proves names makes them identities (the driver
        // then checks every sender's name with it).
        config.security.names_proven = launch.proves_names();
        // Fit the datagram budget, and the largest broadcast with it, to
        // what the transport carries.
        config.limits.packet_budget = config.limits.packet_budget.min(launch.max_datagram_size());
        config.dissemination.max_broadcast_payload =
            config.dissemination.max_broadcast_payload.min(config.limits.packet_budget.saturating_sub(300 + envelope));
        if config.seed == 0 {
            config.seed = RandomState::new().hash_one((&self.name, std::time::SystemTime::now()));
        }
        if config.generation == 0 {
            // Every later process of this name starts later: the wall clock
            // orders them (microseconds, so that fast restarts differ).
            let since_epoch = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap_or_default();
            config.generation =
                u64::try_from(since_epoch.as_micros()).unwrap_or(u64::MAX).clamp(1, swim_wire::MAX_GENERATION);
        }
        let metadata = match (self.tags.is_empty(), self.metadata.is_empty()) {
            (true, _) => self.metadata.to_vec(),
            (false, true) => crate::tags::TagEdit::Replace(self.tags).apply(&[])?,
            (false, false) => return Err(Error::MetadataNotTags),
        };
        let mut node = Node::new(self.name.as_bytes(), &[advertise], &metadata, config, Time::ZERO)?;
        if let Some(hook) = self.admission {
            node.set_admission(BoxedAdmission(hook));
        }
        if let Some(hook) = self.app_state {
            node.set_app_state(hook);
        }
        let cluster = launch.launch(node, self.options);
        if !self.seeds.is_empty()
            && let Err(e) = cluster.join(self.seeds).await
        {
            let _ = cluster.shutdown().await;
            return Err(e);
        }
        Ok(cluster)
    }
}

impl Cluster {
    /// Starts configuring a member named `name` (1 to 255 bytes).
    pub fn builder(name: impl Into<String>) -> Builder {
        Builder::new(name.into())
    }
}

/// A boxed hook handed on to the node.
struct BoxedAdmission(Box<dyn Admission>);

impl Admission for BoxedAdmission {
    fn admit(&mut self, candidate: &swim_protocol::Candidate<'_>) -> bool {
        self.0.admit(candidate)
    }
}
