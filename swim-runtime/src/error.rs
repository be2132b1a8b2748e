//! The runtime's errors.

use std::fmt;
use std::io;

use swim_protocol::{CommandError, ConfigError, JoinFailure};

/// Who is at fault for an [`Error`], and so what fixes it.
///
/// ```
/// use swim_runtime::{Error, Fault};
/// let e = Error::WaitTimedOut { wanted: 5, live: 3 };
/// assert_eq!(e.fault(), Fault::Network);
/// assert_eq!(e.to_string(), "waited for 5 live members, 3 are");
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum Fault {
    /// The application's configuration or setup: change it (nothing was
    /// started).
    Config,
    /// The call itself, at this moment (the member stopped, a command the
    /// protocol refuses, a join replaced by another).
    Usage,
    /// The network, or peers that do not answer: retrying may succeed.
    Network,
    /// A peer that answered and refused (a name already in use, a full
    /// cluster).
    Peer,
    /// The host: the operating system refused a socket or its random
    /// source failed.
    Host,
}

impl fmt::Display for Fault {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Fault::Config => "configuration",
            Fault::Usage => "usage",
            Fault::Network => "network",
            Fault::Peer => "peer",
            Fault::Host => "host",
        })
    }
}

/// What went wrong. Errors from commands leave the cluster as it was;
/// [`fault`](Error::fault) says who is to blame.
#[derive(Debug)]
#[non_exhaustive]
pub enum Error {
    /// The configuration cannot work (nothing was started).
    Config(ConfigError),
    /// The host could not provide what the member needs (the operating
    /// system's random source; nothing was started).
    Host(ConfigError),
    /// A socket could not be set up (an address in use, a permission).
    Io(io::Error),
    /// The transport could not be set up (bad TLS material, or its socket).
    Transport(Box<dyn std::error::Error + Send + Sync>),
    /// The protocol refused the command.
    Command(CommandError),
    /// Joining failed.
    JoinFailed(JoinFailure),
    /// A newer `join` replaced this one before it finished.
    Superseded,
    /// The departure was not announced before the timeout; the member stopped
    /// anyway.
    LeaveTimedOut,
    /// The member has stopped (shut down, left, or its task ended).
    Stopped,
    /// The member is bound to an unspecified address (`0.0.0.0`, `::`),
    /// has no [`advertise`](crate::Builder::advertise) address, and the
    /// host has no private address of that family to advertise (nothing
    /// was started).
    NoAddressToAdvertise {
        /// The bound address.
        bound: std::net::IpAddr,
        /// The host's addresses of that family (none private).
        found: Vec<std::net::IpAddr>,
    },
    /// [`wait_for_members`](crate::Cluster::wait_for_members) ran out of
    /// time.
    WaitTimedOut {
        /// The number of live members waited for.
        wanted: usize,
        /// The number alive or suspect when the time ran out.
        live: usize,
    },
    /// The member would run on a network address without authenticating
    /// its peers (nothing was started); the message says how to fix it.
    Insecure {
        /// The non-loopback address the member would be reached at.
        addr: std::net::SocketAddr,
    },
    /// A reliable message was not acknowledged: the stream could not be
    /// opened or broke, the receiver refused it (an older member that does
    /// not know direct messages, a full sync pool), or no answer came within
    /// the sync deadline (20 periods, at least 10 s). It may or may not
    /// have arrived.
    NotDelivered {
        /// The member it was for.
        to: crate::Name,
    },
    /// Tags that cannot be encoded (an empty or overlong key, an overlong
    /// value); nothing changed.
    Tags(swim_wire::tags::TagsError),
    /// This member's metadata is raw bytes, not tags: a single tag's
    /// change would overwrite it (replace it with
    /// [`set_tags`](crate::Cluster::set_tags), or clear it first); nothing
    /// changed.
    MetadataNotTags,
}

impl fmt::Display for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Error::Config(e) | Error::Host(e) => write!(f, "{e}"),
            Error::Io(e) => write!(f, "I/O: {e}"),
            Error::Transport(e) => write!(f, "transport: {e}"),
            Error::Command(e) => write!(f, "{e}"),
            Error::JoinFailed(reason) => write!(f, "join failed: {reason}"),
            Error::Superseded => f.write_str("replaced by a newer join"),
            Error::LeaveTimedOut => f.write_str("the departure was not announced in time"),
            Error::Stopped => f.write_str("the member has stopped"),
            Error::NoAddressToAdvertise { bound, found } => crate::advertise::describe(f, *bound, found),
            Error::WaitTimedOut { wanted, live } => write!(f, "waited for {wanted} live members, {live} are"),
            Error::Insecure { addr } => write!(
                f,
                "refusing to run unauthenticated on {addr}: anyone who can send it a datagram could add \
                 fake members or declare real ones failed. Give every member the same secret key \
                 (`Builder::encrypt`; the agent's `keygen` makes one), or run over QUIC with mutual \
                 TLS (`Builder::quic`). On a network where every host is trusted, \
                 `Builder::insecure_plaintext()` runs without either"
            ),
            Error::Tags(e) => write!(f, "bad tags: {e}"),
            Error::NotDelivered { to } => write!(f, "the message to {to} was not acknowledged"),
            Error::MetadataNotTags => f.write_str(
                "this member's metadata is raw bytes, not tags: set all tags at once with `set_tags` to replace it",
            ),
        }
    }
}

impl Error {
    /// Who is at fault.
    ///
    /// ```
    /// use swim_runtime::{Error, Fault};
    /// use swim_protocol::JoinFailure;
    /// assert_eq!(Error::JoinFailed(JoinFailure::NoAnswer).fault(), Fault::Network);
    /// assert_eq!(Error::JoinFailed(JoinFailure::NameConflict).fault(), Fault::Peer);
    /// assert_eq!(Error::Stopped.fault(), Fault::Usage);
    /// ```
    pub fn fault(&self) -> Fault {
        match self {
            Error::Config(_) | Error::Transport(_) | Error::Insecure { .. } | Error::NoAddressToAdvertise { .. } => {
                Fault::Config
            }
            Error::Host(_) | Error::Io(_) => Fault::Host,
            Error::Command(_) | Error::Superseded | Error::Stopped | Error::Tags(_) | Error::MetadataNotTags => {
                Fault::Usage
            }
            Error::JoinFailed(JoinFailure::NoAnswer)
            | Error::LeaveTimedOut
            | Error::WaitTimedOut { .. }
            | Error::NotDelivered { .. } => Fault::Network,
            Error::JoinFailed(_) => Fault::Peer,
        }
    }
}

impl std::error::Error for Error {
    /// The wrapped error's own cause: the wrapped error's message is this
    /// one's already, so error reporters that walk the chain do not print it
    /// twice.
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        match self {
            Error::Config(e) | Error::Host(e) => e.source(),
            Error::JoinFailed(e) => e.source(),
            Error::Io(e) => e.source(),
            Error::Transport(e) => e.source(),
            Error::Command(e) => e.source(),
            Error::Tags(e) => e.source(),
            _ => None,
        }
    }
}

impl From<ConfigError> for Error {
    fn from(e: ConfigError) -> Self {
        if e.is_environment() { Error::Host(e) } else { Error::Config(e) }
    }
}

impl From<CommandError> for Error {
    fn from(e: CommandError) -> Self {
        Error::Command(e)
    }
}

impl From<io::Error> for Error {
    fn from(e: io::Error) -> Self {
        Error::Io(e)
    }
}
