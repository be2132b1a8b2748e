//! Queries as the application sees them: options, the stream of answers
//! for the asker, and the query a member receives.

use std::time::Duration;

use bytes::Bytes;
use swim_protocol::QueryHandle;
use tokio::sync::mpsc;

use crate::types::Name;

/// How to ask a query ([`Cluster::query`](crate::Cluster::query)): which
/// members, for how long, and how answers travel.
///
/// ```
/// use std::time::Duration;
/// use swim_runtime::QueryOptions;
/// let options = QueryOptions::new().tag("role", "cache").timeout(Duration::from_secs(3)).relay(2);
/// ```
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct QueryOptions {
    pub(crate) names: Vec<Name>,
    pub(crate) tags: Vec<(String, String)>,
    pub(crate) timeout: Option<Duration>,
    pub(crate) relay: u8,
    pub(crate) want_ack: bool,
}

impl Default for QueryOptions {
    fn default() -> Self {
        QueryOptions { names: Vec::new(), tags: Vec::new(), timeout: None, relay: 2, want_ack: true }
    }
}

impl QueryOptions {
    /// Every live member, the default timeout, relay factor 2, with
    /// acknowledgements.
    pub fn new() -> Self {
        Self::default()
    }

    /// Only the member `name` (several calls: any of them).
    #[must_use]
    pub fn name(mut self, name: impl Into<Name>) -> Self {
        self.names.push(name.into());
        self
    }

    /// Only members whose tag `key` is `value` (several calls: all of them).
    #[must_use]
    pub fn tag(mut self, key: impl Into<String>, value: impl Into<String>) -> Self {
        self.tags.push((key.into(), value.into()));
        self
    }

    /// How long answers are awaited. By default, long enough for the query
    /// to reach every member and the answers to come back twice over
    /// (`Node::default_query_timeout`: `2 · retransmit_mult ·
    /// ⌈log10(N + 1)⌉` gossip rounds, at least 1 s). At most
    /// `dissemination.broadcast_lifetime`.
    #[must_use]
    pub fn timeout(mut self, timeout: Duration) -> Self {
        self.timeout = Some(timeout);
        self
    }

    /// Members each answer is also sent through, 0 to 5 (default 2): each
    /// copy is another chance for the answer to arrive under loss.
    #[must_use]
    pub fn relay(mut self, relay: u8) -> Self {
        self.relay = relay;
        self
    }

    /// Members do not acknowledge that they got it (only answers come).
    #[must_use]
    pub fn without_acks(mut self) -> Self {
        self.want_ack = false;
        self
    }
}

/// What came back for a query.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum QueryReply {
    /// A member answered (each member once).
    Response {
        /// The member.
        from: Name,
        /// Its answer.
        payload: Bytes,
    },
    /// A member got the query (each member once; answer or not).
    Ack {
        /// The member.
        from: Name,
    },
}

/// How a query went, once its timeout passed.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct QuerySummary {
    /// Live members it was meant for when it was asked, as this member saw
    /// the cluster (itself not counted).
    pub asked: u32,
    /// Members that answered in time.
    pub answered: u32,
    /// Members that acknowledged it in time.
    pub acked: u32,
}

#[derive(Debug)]
pub(crate) enum QueryItem {
    Reply(QueryReply),
    Done(QuerySummary),
}

/// The answers to a query as they come ([`Cluster::query`](crate::Cluster::query)),
/// until its timeout.
///
/// ```no_run
/// # async fn demo(cluster: swim_runtime::Cluster) -> Result<(), swim_runtime::Error> {
/// use swim_runtime::{QueryOptions, QueryReply};
/// let mut replies = cluster.query("who-serves", "shard=7", QueryOptions::new().tag("role", "cache")).await?;
/// while let Some(reply) = replies.next().await {
///     if let QueryReply::Response { from, payload } = reply {
///         println!("{from}: {payload:?}");
///     }
/// }
/// let summary = replies.summary().expect("the query is over");
/// println!("{} of {} answered", summary.answered, summary.asked);
/// # Ok(()) }
/// ```
#[derive(Debug)]
pub struct QueryResponses {
    pub(crate) id: u32,
    pub(crate) rx: mpsc::UnboundedReceiver<QueryItem>,
    pub(crate) summary: Option<QuerySummary>,
}

impl QueryResponses {
    /// The query's id (as the protocol engine numbers them).
    pub fn id(&self) -> u32 {
        self.id
    }

    /// The next answer or acknowledgement; `None` once the timeout passed
    /// (then [`summary`](Self::summary) says how it went) or the member
    /// stopped.
    pub async fn next(&mut self) -> Option<QueryReply> {
        if self.summary.is_some() {
            return None;
        }
        match self.rx.recv().await? {
            QueryItem::Reply(reply) => Some(reply),
            QueryItem::Done(summary) => {
                self.summary = Some(summary);
                None
            }
        }
    }

    /// How the query went, once [`next`](Self::next) returned `None` after
    /// its timeout.
    pub fn summary(&self) -> Option<QuerySummary> {
        self.summary
    }

    /// Waits for the timeout and returns every answer with the summary
    /// (acknowledgements are counted in it).
    pub async fn collect(mut self) -> (Vec<(Name, Bytes)>, QuerySummary) {
        let mut answers = Vec::new();
        while let Some(reply) = self.next().await {
            if let QueryReply::Response { from, payload } = reply {
                answers.push((from, payload));
            }
        }
        (answers, self.summary.unwrap_or_default())
    }
}

/// A query meant for this member ([`Event::Query`](crate::Event::Query));
/// answer it with [`Cluster::respond`](crate::Cluster::respond) before its
/// timeout, or not at all.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Query {
    /// The member that asks.
    pub from: Name,
    /// The query's name.
    pub name: Name,
    /// Its payload.
    pub payload: Bytes,
    pub(crate) handle: QueryHandle,
}
