//! The runtime's errors.

use std::fmt;
use std::io;

use swim_protocol::{CommandError, ConfigError, JoinFailure};

/// What went wrong. Errors from commands leave the cluster as it was.
#[derive(Debug)]
#[non_exhaustive]
pub enum Error {
    /// The configuration cannot work (nothing was started).
    Config(ConfigError),
    /// A socket or stream failed.
    Io(io::Error),
    /// The transport could not be set up (for example, bad TLS material).
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
    /// The member would run on a network address without authenticating
    /// its peers (nothing was started); the message says how to fix it.
    Insecure {
        /// The non-loopback address the member would be reached at.
        addr: std::net::SocketAddr,
    },
}

impl fmt::Display for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Error::Config(e) => write!(f, "{e}"),
            Error::Io(e) => write!(f, "I/O: {e}"),
            Error::Transport(e) => write!(f, "transport: {e}"),
            Error::Command(e) => write!(f, "{e}"),
            Error::JoinFailed(reason) => write!(f, "join failed: {reason:?}"),
            Error::Superseded => f.write_str("replaced by a newer join"),
            Error::LeaveTimedOut => f.write_str("the departure was not announced in time"),
            Error::Stopped => f.write_str("the member has stopped"),
            Error::Insecure { addr } => write!(
                f,
                "refusing to run unauthenticated on {addr}: anyone who can send it a datagram could add \
                 fake members or declare real ones failed. Give every member the same secret key \
                 (`Builder::encrypt`; the agent's `keygen` makes one), or run over QUIC with mutual \
                 TLS (`Builder::quic`). On a network where every host is trusted, \
                 `Builder::insecure_plaintext()` runs without either"
            ),
        }
    }
}

impl std::error::Error for Error {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        match self {
            Error::Config(e) => Some(e),
            Error::Io(e) => Some(e),
            Error::Transport(e) => Some(e.as_ref()),
            Error::Command(e) => Some(e),
            _ => None,
        }
    }
}

impl From<ConfigError> for Error {
    fn from(e: ConfigError) -> Self {
        Error::Config(e)
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
