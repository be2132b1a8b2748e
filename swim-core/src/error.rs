//! Errors of the core's inputs and commands. None of them changes state:
//! inputs are validated completely before anything is applied, and commands
//! check their arguments first.

use core::fmt;

/// A received datagram or sync frame that was refused. The node's state did
/// not change; the packet is counted in [`Stats::packets_rejected`](crate::Stats).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum InputError {
    /// The bytes are not a valid packet (says what and where).
    Decode(swim_wire::Error),
    /// A datagram larger than `limits.packet_budget`, refused unread (no
    /// member sends one; a receiver need not read what only an attacker
    /// would send).
    TooLarge {
        /// Bytes received.
        len: usize,
        /// The budget in force.
        limit: usize,
    },
    /// The packet belongs to a cluster with another label.
    LabelMismatch,
    /// A message that cannot arrive this way (for example a sync record in a
    /// datagram, or a ping on a sync stream).
    Unexpected(swim_wire::Kind),
    /// The sync session is unknown or already finished.
    UnknownSync,
    /// The sync frame does not fit the exchange (wrong direction or order).
    SyncOutOfOrder,
    /// The peer sent more sync records than a cluster can hold.
    SyncTooLarge,
    /// A sync frame's pieces of application state do not fit the exchange
    /// (says how: larger than `limits.max_app_state`, out of order, past
    /// their total, or missing at the peer's last frame).
    BadAppState(&'static str),
    /// A delta sync's digest or diff does not fit the exchange (says how):
    /// a bucket count that is not a power of two up to 4,096, a key or
    /// count that changed, a run out of order or past the last bucket.
    BadDigest(&'static str),
    /// A plaintext packet, and this node accepts only encrypted ones.
    Plaintext,
    /// An encrypted packet, and this node has no keys.
    Sealed,
    /// A packet seen before (a replay of a captured packet).
    Replayed,
    /// A packet whose sender time is further from this node's clock than
    /// the configured age (an old capture, or a clock far off).
    Stale,
    /// A packet or frame sealed for any receiver that is not a join request
    /// (or a joiner's sync): everything else is sealed for its receiver by
    /// name, so this is a capture replayed out of its place.
    AnyReceiver(swim_wire::Kind),
    /// The sender gives another name than the one its transport proved
    /// (QUIC: the name in its certificate).
    NotThePeer,
    /// The sender's address is outside `security.allowed_networks`.
    NotAllowed(std::net::SocketAddr),
}

impl fmt::Display for InputError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            InputError::Decode(e) => write!(f, "malformed packet: {e}"),
            InputError::TooLarge { len, limit } => {
                write!(f, "datagram of {len} bytes, larger than the packet budget of {limit}")
            }
            InputError::LabelMismatch => f.write_str("packet from a cluster with another label"),
            InputError::Unexpected(kind) => write!(f, "unexpected {} message", kind.name()),
            InputError::UnknownSync => f.write_str("unknown sync session"),
            InputError::SyncOutOfOrder => f.write_str("sync frame out of order"),
            InputError::SyncTooLarge => f.write_str("sync exchange larger than a cluster can be"),
            InputError::BadAppState(what) => write!(f, "application state in a sync refused: {what}"),
            InputError::BadDigest(what) => write!(f, "sync digest refused: {what}"),
            InputError::Plaintext => f.write_str("plaintext packet refused: encryption is required"),
            InputError::Sealed => f.write_str("encrypted packet, and no key is installed"),
            InputError::Replayed => f.write_str("replayed packet"),
            InputError::Stale => f.write_str("packet sent too long ago (or the sender's clock is off)"),
            InputError::NotThePeer => f.write_str("the sender claims a name its certificate does not carry"),
            InputError::NotAllowed(from) => write!(f, "{from} is outside the allowed networks"),
            InputError::AnyReceiver(kind) => {
                write!(f, "{} message sealed for any receiver (only join requests may be)", kind.name())
            }
        }
    }
}

impl std::error::Error for InputError {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        match self {
            InputError::Decode(e) => Some(e),
            _ => None,
        }
    }
}

impl From<swim_wire::Error> for InputError {
    fn from(e: swim_wire::Error) -> Self {
        InputError::Decode(e)
    }
}

/// A command that was refused; the node's state did not change.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum CommandError {
    /// A payload or metadata is larger than the configured limit.
    TooLarge {
        /// What was too large (`"payload"`, `"metadata"`).
        what: &'static str,
        /// Its length.
        len: usize,
        /// The limit.
        limit: usize,
    },
    /// `join` was given no seed (other than this node's own addresses).
    NoSeeds,
    /// The node has left the cluster.
    Left,
    /// Every broadcast slot holds a broadcast still being sent for the
    /// first time; try again later.
    BroadcastQueueFull,
    /// A sync cannot be accepted or opened: as many as configured are
    /// running.
    TooManySyncs,
    /// No live member of that name is known (other than this node).
    UnknownMember,
    /// The member is known, but faulty or gone.
    MemberDown(crate::State),
    /// A query's options or name cannot be used (says which).
    BadQuery(&'static str),
    /// A state key cannot be used (says why).
    BadState(&'static str),
    /// As many queries as this node may have open are awaiting answers
    /// ([`MAX_OPEN_QUERIES`](crate::MAX_OPEN_QUERIES)).
    TooManyQueries,
    /// The query is over (timed out, forgotten, or already answered).
    QueryOver,
    /// Every slot for messages waiting to be sent is taken
    /// ([`MESSAGE_SLOTS`](crate::MESSAGE_SLOTS)); try again later.
    MessageQueueFull,
    /// The source tried too often (join or sync rate limit).
    RateLimited,
    /// The source is outside `security.allowed_networks`.
    NotAllowed,
    /// Key commands need encryption to be configured.
    NoEncryption,
    /// The keyring refused the change.
    Keyring(swim_wire::crypto::KeyringError),
}

impl fmt::Display for CommandError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            CommandError::TooLarge { what, len, limit } => {
                write!(f, "{what} of {len} bytes exceeds the limit of {limit}")
            }
            CommandError::NoSeeds => f.write_str("no seed to join through"),
            CommandError::Left => f.write_str("the node has left the cluster"),
            CommandError::BroadcastQueueFull => f.write_str("the broadcast queue is full"),
            CommandError::TooManySyncs => f.write_str("too many syncs running"),
            CommandError::UnknownMember => f.write_str("no live member of that name"),
            CommandError::MemberDown(state) => write!(f, "the member is {state}"),
            CommandError::MessageQueueFull => f.write_str("too many messages waiting to be sent"),
            CommandError::BadQuery(why) => write!(f, "bad query: {why}"),
            CommandError::BadState(why) => write!(f, "bad state: {why}"),
            CommandError::TooManyQueries => f.write_str("too many queries awaiting answers"),
            CommandError::QueryOver => f.write_str("the query is over (timed out, forgotten or answered)"),
            CommandError::RateLimited => f.write_str("too many attempts from this source"),
            CommandError::NotAllowed => f.write_str("the source is outside the allowed networks"),
            CommandError::NoEncryption => f.write_str("encryption is not configured"),
            CommandError::Keyring(e) => write!(f, "{e}"),
        }
    }
}

impl std::error::Error for CommandError {}
