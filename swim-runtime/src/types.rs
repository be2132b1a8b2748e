//! Owned views of members and events, as handed to the application.

use std::fmt;
use std::net::SocketAddr;
use std::time::{Duration, Instant};

use bytes::Bytes;
use swim_protocol::{JoinFailure, MemberInfo, State};
use swim_wire::tags::TagsView;

use crate::tags::{TagChange, tag_changes};

/// A member's name. Names are bytes on the wire; they display as UTF-8
/// (lossily, should a peer use other bytes).
///
/// ```
/// use swim_runtime::Name;
/// let name = Name::from("node-a");
/// assert_eq!(name, "node-a");
/// assert_eq!(name.as_str(), Some("node-a"));
/// assert_eq!(name.to_string(), "node-a");
/// ```
#[derive(Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Name(Bytes);

impl Name {
    /// The name's bytes.
    pub fn as_bytes(&self) -> &[u8] {
        &self.0
    }

    /// The name as text, if it is UTF-8.
    pub fn as_str(&self) -> Option<&str> {
        std::str::from_utf8(&self.0).ok()
    }
}

impl From<&[u8]> for Name {
    fn from(bytes: &[u8]) -> Self {
        Name(Bytes::copy_from_slice(bytes))
    }
}

impl From<&str> for Name {
    fn from(s: &str) -> Self {
        Name(Bytes::copy_from_slice(s.as_bytes()))
    }
}

impl From<String> for Name {
    fn from(s: String) -> Self {
        Name(Bytes::from(s))
    }
}

impl From<Bytes> for Name {
    fn from(bytes: Bytes) -> Self {
        Name(bytes)
    }
}

impl AsRef<[u8]> for Name {
    fn as_ref(&self) -> &[u8] {
        &self.0
    }
}

impl PartialEq<str> for Name {
    fn eq(&self, other: &str) -> bool {
        self.0 == other.as_bytes()
    }
}

impl PartialEq<&str> for Name {
    fn eq(&self, other: &&str) -> bool {
        self.0 == other.as_bytes()
    }
}

impl fmt::Display for Name {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&String::from_utf8_lossy(&self.0))
    }
}

impl fmt::Debug for Name {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{:?}", String::from_utf8_lossy(&self.0))
    }
}

/// A member of the cluster (a snapshot), from [`Cluster::members`](crate::Cluster::members)
/// or an [`Event`].
///
/// Fields may be added in later versions (it is `#[non_exhaustive]`): read
/// them, do not build a `Member`. Equality compares every field, the
/// health fields (`rtt`, `last_answered`) included.
///
/// ```no_run
/// # async fn demo(cluster: swim_runtime::Cluster) -> Result<(), swim_runtime::Error> {
/// for m in cluster.alive_members().await? {
///     println!("{} is {} at {:?} (incarnation {}): {:?}", m.name, m.state, m.addrs, m.incarnation, m.meta);
///     if let (Some(rtt), Some(at)) = (m.rtt, m.last_answered) {
///         println!("  round trip {rtt:?}, answered {:?} ago", at.elapsed());
///     }
/// }
/// # Ok(()) }
/// ```
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct Member {
    /// Its name.
    pub name: Name,
    /// Its addresses, preferred first.
    pub addrs: Vec<SocketAddr>,
    /// Its application metadata.
    pub meta: Bytes,
    /// The generation of its process (larger for every restart: the wall
    /// clock at start, in microseconds since the Unix epoch).
    pub generation: u64,
    /// Its incarnation within that process (grows when it refutes a
    /// suspicion or changes metadata).
    pub incarnation: u32,
    /// Its state as this member sees it.
    pub state: State,
    /// The smoothed round trip of this member's direct probes of it (an
    /// exponentially weighted average, 1/8 weight to each new sample);
    /// `None` until one was answered, and for this member itself.
    pub rtt: Option<Duration>,
    /// When it last answered one of this member's probes, directly or
    /// through a helper; `None` if it never did, and for this member itself.
    /// (On tokio's clock: under a paused test clock, compare it with
    /// `tokio::time::Instant::now().into_std()`.)
    pub last_answered: Option<Instant>,
}

impl Member {
    /// Its tags (none when its metadata is raw bytes rather than tags, see
    /// [`Cluster::set_tag`](crate::Cluster::set_tag)). A view over
    /// [`meta`](Self::meta): nothing is copied.
    ///
    /// ```no_run
    /// # async fn demo(cluster: swim_runtime::Cluster) -> Result<(), swim_runtime::Error> {
    /// for m in cluster.alive_members().await? {
    ///     let tags: Vec<String> = m.tags().iter().map(|(k, v)| format!("{k}={v}")).collect();
    ///     println!("{}: {}", m.name, tags.join(" "));
    /// }
    /// # Ok(()) }
    /// ```
    pub fn tags(&self) -> TagsView<'_> {
        TagsView::lenient(&self.meta)
    }

    /// The value of its tag `key`.
    pub fn tag(&self, key: &str) -> Option<&str> {
        self.tags().get(key)
    }

    /// Whether its tag `key` is `value`.
    pub fn has_tag(&self, key: &str, value: &str) -> bool {
        self.tag(key) == Some(value)
    }

    /// `origin` is the instant the node's clock counts from.
    pub(crate) fn from_info(m: &MemberInfo<'_>, origin: Instant) -> Self {
        Member {
            name: Name::from(m.name),
            addrs: m.addrs.to_vec(),
            meta: Bytes::copy_from_slice(m.meta),
            generation: m.generation,
            incarnation: m.incarnation,
            state: m.state,
            rtt: m.rtt,
            last_answered: m.last_answered.map(|t| origin + Duration::from_micros(t.as_micros())),
        }
    }
}

/// Something that happened in the cluster, as seen by this member (see
/// [`Events`](crate::Events) for how to receive them).
///
/// ```
/// use swim_runtime::Event;
/// fn describe(event: &Event) -> String {
///     match event {
///         Event::MemberJoined(m) => format!("{} joined", m.name),
///         Event::MemberFaulty { member, by } => format!("{} failed, said {by}", member.name),
///         Event::MemberLeft(m) => format!("{} left", m.name),
///         Event::Broadcast { origin, payload, .. } => format!("{origin} says {payload:?}"),
///         other => format!("{other:?}"),
///     }
/// }
/// assert_eq!(describe(&Event::Refuted { incarnation: 3 }), "Refuted { incarnation: 3 }");
/// ```
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum Event {
    /// A member joined (or came back after failing or leaving).
    MemberJoined(Member),
    /// A member's metadata (its tags) or addresses changed, or a newer
    /// process of it took over.
    MemberUpdated {
        /// The member.
        member: Member,
        /// Its metadata before.
        previous_meta: Bytes,
        /// The tags that changed, in key order (empty when no tag did).
        changed_tags: Vec<TagChange>,
    },
    /// A member is suspected of having failed.
    MemberSuspected {
        /// The member.
        member: Member,
        /// Who suspects it.
        by: Name,
    },
    /// A suspected member proved alive.
    MemberRecovered(Member),
    /// A member was declared faulty.
    MemberFaulty {
        /// The member.
        member: Member,
        /// Who declared it.
        by: Name,
    },
    /// A member left gracefully.
    MemberLeft(Member),
    /// A user broadcast arrived (each one once).
    Broadcast {
        /// Who broadcast it.
        origin: Name,
        /// Its sequence number at the origin.
        seq: u32,
        /// The payload.
        payload: Bytes,
    },
    /// Another process claims a live member's name from another address.
    NameConflict {
        /// The contested name.
        name: Name,
        /// The address known for the member.
        known: SocketAddr,
        /// The other claimant's address.
        claimed: SocketAddr,
    },
    /// A member new to this one was not added: its address is outside
    /// `security.allowed_networks`, or the builder's
    /// [`admission`](crate::Builder::admission) hook refused it (once per
    /// version of the member).
    NotAdmitted {
        /// Its name.
        name: Name,
        /// Its address, if it gave one.
        addr: Option<SocketAddr>,
    },
    /// A direct message from another member arrived
    /// ([`Cluster::send`](crate::Cluster::send),
    /// [`Cluster::send_reliable`](crate::Cluster::send_reliable)).
    Message {
        /// Who sent it, as its datagram or stream says: with a shared key
        /// any key holder can give any name; over QUIC the certificate
        /// proves it.
        from: Name,
        /// The payload.
        payload: Bytes,
        /// Whether it came over a stream (the sender was told it arrived)
        /// rather than in a datagram.
        reliable: bool,
    },
    /// A query meant for this member arrived (once): answer it with
    /// [`Cluster::respond`](crate::Cluster::respond), or not.
    Query(crate::Query),
    /// Another member's application state changed
    /// ([`Cluster::set_state`](crate::Cluster::set_state)), as learned by
    /// gossip or a sync: once per new version this member takes in.
    StateChanged {
        /// The member that owns the key.
        owner: Name,
        /// The key.
        key: Bytes,
        /// Its new value; `None` when it was deleted.
        value: Option<Bytes>,
    },
    /// Every state entry of `owner` this member held is gone: the owner was
    /// reaped, or a newer process of it (a restart) started writing, whose
    /// entries replace them. Once per owner and occasion; read
    /// [`Cluster::state`](crate::Cluster::state) for what is left.
    StateCleared {
        /// The member whose entries went.
        owner: Name,
    },
    /// This member was suspected (or declared faulty) and refuted it.
    Refuted {
        /// Its new incarnation.
        incarnation: u32,
    },
    /// A join completed through this seed.
    JoinSucceeded {
        /// The seed.
        seed: SocketAddr,
    },
    /// A join failed.
    JoinFailed {
        /// Why.
        reason: JoinFailure,
    },
    /// The member's own queue overflowed: more than
    /// [`LimitsConfig::event_capacity`](swim_protocol::LimitsConfig::event_capacity)
    /// events happened in one step (a mass join, a merge after a
    /// partition), and this many were lost for every subscriber. Take a new
    /// snapshot with [`Cluster::subscribe`](crate::Cluster::subscribe), or
    /// raise the capacity.
    Missed {
        /// Events lost.
        count: u64,
    },
}

impl Event {
    /// `origin` is the instant the node's clock counts from.
    pub(crate) fn from_core(e: &swim_protocol::Event<'_>, origin: Instant) -> Option<Self> {
        use swim_protocol::Event as E;
        let own = |m: &MemberInfo<'_>| Member::from_info(m, origin);
        Some(match e {
            E::Joined(m) => Event::MemberJoined(own(m)),
            E::Updated { member, previous_meta } => Event::MemberUpdated {
                member: own(member),
                previous_meta: Bytes::copy_from_slice(previous_meta),
                changed_tags: tag_changes(previous_meta, member.meta),
            },
            E::Suspected { member, by } => Event::MemberSuspected { member: own(member), by: Name::from(*by) },
            E::Recovered(m) => Event::MemberRecovered(own(m)),
            E::Faulty { member, by } => Event::MemberFaulty { member: own(member), by: Name::from(*by) },
            E::Left(m) => Event::MemberLeft(own(m)),
            E::Broadcast { origin, seq, payload } => {
                Event::Broadcast { origin: Name::from(*origin), seq: *seq, payload: Bytes::copy_from_slice(payload) }
            }
            E::NameConflict { name, known, claimed } => {
                Event::NameConflict { name: Name::from(*name), known: *known, claimed: *claimed }
            }
            E::Refuted { incarnation } => Event::Refuted { incarnation: *incarnation },
            E::NotAdmitted { name, addr } => Event::NotAdmitted { name: Name::from(*name), addr: *addr },
            E::JoinSucceeded { seed } => Event::JoinSucceeded { seed: *seed },
            E::JoinFailed { reason } => Event::JoinFailed { reason: *reason },
            E::Query { handle, origin, name, payload } => Event::Query(crate::Query {
                from: Name::from(*origin),
                name: Name::from(*name),
                payload: Bytes::copy_from_slice(payload),
                handle: *handle,
            }),
            E::StateChanged { owner, key, value } => Event::StateChanged {
                owner: Name::from(*owner),
                key: Bytes::copy_from_slice(key),
                value: value.map(Bytes::copy_from_slice),
            },
            E::StateCleared { owner } => Event::StateCleared { owner: Name::from(*owner) },
            E::Message { from, payload, reliable } => Event::Message {
                from: Name::from(*from),
                payload: Bytes::copy_from_slice(payload),
                reliable: *reliable,
            },
            _ => return None,
        })
    }
}
