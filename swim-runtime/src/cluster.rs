//! The handle through which the application talks to its member.

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use bytes::Bytes;
use parking_lot::Mutex;
use swim_protocol::{Config, SecretKey, Stats};
use tokio::sync::{mpsc, oneshot, watch};
use tokio::task::JoinHandle;

use crate::error::Error;
use crate::events::{Bus, Events};
use crate::queries::{Query, QueryOptions, QueryResponses};
use crate::tags::TagEdit;
use crate::types::{Member, Name};

/// A change to the keyring.
#[derive(Debug)]
pub(crate) enum KeyChange {
    Add(SecretKey),
    Use(u32),
    Remove(u32),
    List,
}

/// A request to the member's task.
#[derive(Debug)]
pub(crate) enum Command {
    Join { seeds: Vec<SocketAddr>, reply: oneshot::Sender<Result<SocketAddr, Error>> },
    Members { reply: oneshot::Sender<Vec<Member>> },
    Member { name: Name, reply: oneshot::Sender<Option<Member>> },
    Local { reply: oneshot::Sender<Member> },
    Subscribe { reply: oneshot::Sender<(Vec<Member>, Events)> },
    Watch { reply: oneshot::Sender<View> },
    Broadcast { payload: Bytes, reply: oneshot::Sender<Result<u32, Error>> },
    SetMetadata { meta: Bytes, reply: oneshot::Sender<Result<(), Error>> },
    Tags { edit: TagEdit, reply: oneshot::Sender<Result<(), Error>> },
    Send { to: Name, payload: Bytes, reliable: bool, reply: oneshot::Sender<Result<(), Error>> },
    Query { name: Bytes, payload: Bytes, options: QueryOptions, reply: oneshot::Sender<Result<QueryResponses, Error>> },
    Respond { handle: swim_protocol::QueryHandle, payload: Bytes, reply: oneshot::Sender<Result<(), Error>> },
    SetState { key: Bytes, value: Option<Bytes>, reply: oneshot::Sender<Result<(), Error>> },
    State { owner: Name, reply: oneshot::Sender<Vec<(Bytes, Bytes)>> },
    Stats { reply: oneshot::Sender<Stats> },
    Leave { timeout: Duration, reply: oneshot::Sender<Result<(), Error>> },
    Key { change: KeyChange, reply: oneshot::Sender<Result<Vec<u32>, Error>> },
    Shutdown { reply: oneshot::Sender<()> },
}

#[derive(Debug)]
struct Shared {
    commands: mpsc::Sender<Command>,
    /// Closed by the member's task when it ends.
    events: Arc<Bus>,
    name: Name,
    addr: SocketAddr,
    config: Config,
    task: Mutex<Option<JoinHandle<()>>>,
}

/// A live view of the members ([`Cluster::watch`]): every member this one
/// knows, in every state (as [`Cluster::members`] lists them), replaced as
/// a whole after a step of the member that changed one, and at least once
/// a period (for the health fields and reaped members) while anyone
/// watches. Reading it never holds up the member: each read is a cheap
/// clone of the current list.
///
/// ```no_run
/// # async fn demo(cluster: swim_runtime::Cluster) -> Result<(), swim_runtime::Error> {
/// let mut view = cluster.watch().await?;
/// println!("{} members known", view.current().len());
/// let members = view.wait_for(|m| m.iter().filter(|m| m.state.is_live()).count() >= 3).await?;
/// println!("now {} are live", members.iter().filter(|m| m.state.is_live()).count());
/// # Ok(()) }
/// ```
#[derive(Debug, Clone)]
pub struct View {
    rx: watch::Receiver<Arc<[Member]>>,
}

impl View {
    pub(crate) fn new(rx: watch::Receiver<Arc<[Member]>>) -> Self {
        View { rx }
    }

    /// The members now.
    pub fn current(&self) -> Arc<[Member]> {
        Arc::clone(&self.rx.borrow())
    }

    /// Waits for the next change and returns the new view;
    /// [`Error::Stopped`] once the member has stopped.
    pub async fn changed(&mut self) -> Result<Arc<[Member]>, Error> {
        self.rx.changed().await.map_err(|_| Error::Stopped)?;
        Ok(Arc::clone(&self.rx.borrow_and_update()))
    }

    /// Waits until `condition` holds for the view (checking the current
    /// one first) and returns that view; [`Error::Stopped`] if the member
    /// stops first.
    pub async fn wait_for(&mut self, mut condition: impl FnMut(&[Member]) -> bool) -> Result<Arc<[Member]>, Error> {
        loop {
            let now = Arc::clone(&self.rx.borrow_and_update());
            if condition(&now) {
                return Ok(now);
            }
            self.rx.changed().await.map_err(|_| Error::Stopped)?;
        }
    }
}

/// A running cluster member. Cheap to clone; every clone controls the same
/// member. The member keeps running until [`leave`](Cluster::leave) or
/// [`shutdown`](Cluster::shutdown), or until every clone is dropped.
///
/// Every method talks to the member's task; a method fails with
/// [`Error::Stopped`] once the member has stopped.
///
/// ```
/// # #[tokio::main(flavor = "current_thread")] async fn main() -> Result<(), swim_runtime::Error> {
/// use std::time::Duration;
/// use swim_protocol::Config;
/// use swim_runtime::Cluster;
///
/// let start = |name: &str| Cluster::builder(name).config(Config::local()).bind("127.0.0.1:0".parse().unwrap()).start();
/// let (a, b) = (start("a").await?, start("b").await?);
/// b.join([a.local_addr()]).await?;
/// let view = b.members().await?;
/// assert!(view.iter().any(|m| m.name == "a" && m.state.is_live()));
/// a.wait_for_members(2, Duration::from_secs(5)).await?;
/// assert!(a.member("b").await?.is_some_and(|m| m.state.is_live()));
/// b.set_metadata("role=cache").await?;
/// let seq = a.broadcast("hello").await?;
/// assert_eq!(seq, 1);
/// assert!(a.stats().await?.live_members >= 1);
/// b.leave(Duration::from_secs(2)).await?;
/// a.shutdown().await?;
/// # Ok(()) }
/// ```
#[derive(Debug, Clone)]
pub struct Cluster {
    shared: Arc<Shared>,
}

impl Cluster {
    pub(crate) fn new(
        commands: mpsc::Sender<Command>,
        events: Arc<Bus>,
        name: Name,
        addr: SocketAddr,
        config: Config,
        task: JoinHandle<()>,
    ) -> Self {
        let task = Mutex::new(Some(task));
        Cluster { shared: Arc::new(Shared { commands, events, name, addr, config, task }) }
    }

    async fn ask<R>(&self, make: impl FnOnce(oneshot::Sender<R>) -> Command) -> Result<R, Error> {
        let (reply, answer) = oneshot::channel();
        self.shared.commands.send(make(reply)).await.map_err(|_| Error::Stopped)?;
        answer.await.map_err(|_| Error::Stopped)
    }

    /// This member's name.
    pub fn name(&self) -> &Name {
        &self.shared.name
    }

    /// The address this member advertises.
    pub fn local_addr(&self) -> SocketAddr {
        self.shared.addr
    }

    /// The configuration in force: what was given, with what the builder
    /// filled in or fitted to the transport (`seed`, `generation`,
    /// `limits.packet_budget`, `dissemination.max_broadcast_payload`, `security.names_proven`).
    pub fn config(&self) -> &Config {
        &self.shared.config
    }

    /// Joins the cluster through `seeds` (retrying as configured) and waits
    /// for the outcome; returns the seed that answered.
    pub async fn join(&self, seeds: impl IntoIterator<Item = SocketAddr>) -> Result<SocketAddr, Error> {
        let seeds = seeds.into_iter().collect();
        self.ask(|reply| Command::Join { seeds, reply }).await?
    }

    /// Every member this one knows, itself and faulty or departed members
    /// (until they are reaped) included.
    pub async fn members(&self) -> Result<Vec<Member>, Error> {
        self.ask(|reply| Command::Members { reply }).await
    }

    /// The members that count as part of the cluster: alive or suspect
    /// (a suspect may still refute), this member included. Faulty and
    /// departed members are left out.
    pub async fn alive_members(&self) -> Result<Vec<Member>, Error> {
        let mut members = self.members().await?;
        members.retain(|m| m.state.is_live());
        Ok(members)
    }

    /// The member named `name` as this one sees it (this member included),
    /// in any state; `None` if it is unknown or was reaped.
    pub async fn member(&self, name: impl Into<Name>) -> Result<Option<Member>, Error> {
        let name = name.into();
        self.ask(|reply| Command::Member { name, reply }).await
    }

    /// How many members are alive or suspect, this member included (as
    /// [`alive_members`](Cluster::alive_members) counts them).
    pub async fn num_members(&self) -> Result<usize, Error> {
        Ok(self.stats().await?.live_members)
    }

    /// Every member this one knows now, and the events that follow, with
    /// nothing lost or repeated between the two: the member's task takes the
    /// snapshot and the subscription between two of its steps. After
    /// [`RecvError::Lagged`] or [`Event::Missed`], events were lost: call
    /// it again for a fresh snapshot.
    ///
    /// ```no_run
    /// # async fn demo(cluster: swim_runtime::Cluster) -> Result<(), swim_runtime::Error> {
    /// use swim_runtime::Event;
    /// let (members, mut events) = cluster.subscribe().await?;
    /// let mut live: Vec<_> = members.into_iter().filter(|m| m.state.is_live()).map(|m| m.name).collect();
    /// while let Ok(event) = events.recv().await {
    ///     match event {
    ///         Event::MemberJoined(m) => live.push(m.name),
    ///         Event::MemberFaulty { member, .. } | Event::MemberLeft(member) => live.retain(|n| *n != member.name),
    ///         _ => {}
    ///     }
    ///     println!("{} live", live.len());
    /// }
    /// # Ok(()) }
    /// ```
    pub async fn subscribe(&self) -> Result<(Vec<Member>, Events), Error> {
        self.ask(|reply| Command::Subscribe { reply }).await
    }

    /// A live view of every member this one knows (see [`View`]). The view
    /// is rebuilt, in O(members), after each step of the member that
    /// changed a member and once a period, only while someone watches.
    ///
    /// ```no_run
    /// # async fn demo(cluster: swim_runtime::Cluster) -> Result<(), swim_runtime::Error> {
    /// let mut view = cluster.watch().await?;
    /// while let Ok(members) = view.changed().await {
    ///     let live = members.iter().filter(|m| m.state.is_live()).count();
    ///     println!("{live} members alive or suspect");
    /// }
    /// # Ok(()) }
    /// ```
    pub async fn watch(&self) -> Result<View, Error> {
        self.ask(|reply| Command::Watch { reply }).await
    }

    /// Waits until at least `n` members are alive or suspect (this one
    /// included), for at most `timeout`.
    ///
    /// Fails with [`Error::WaitTimedOut`] (saying how many there were) when
    /// the time runs out, and with [`Error::Stopped`] if the member stops.
    pub async fn wait_for_members(&self, n: usize, timeout: Duration) -> Result<(), Error> {
        let live = |members: &[Member]| members.iter().filter(|m| m.state.is_live()).count();
        let mut last = 0;
        let wait = async {
            let mut view = self.watch().await?;
            view.wait_for(|members| {
                last = live(members);
                last >= n
            })
            .await
            .map(drop)
        };
        let outcome = tokio::time::timeout(timeout, wait).await;
        match outcome {
            Ok(outcome) => outcome,
            Err(_) => Err(Error::WaitTimedOut { wanted: n, live: last }),
        }
    }

    /// This member as the cluster sees it.
    pub async fn local_member(&self) -> Result<Member, Error> {
        self.ask(|reply| Command::Local { reply }).await
    }

    /// A new subscription to events from now on. Each subscriber sees every
    /// event; one that falls behind by more than
    /// [`LimitsConfig::event_capacity`](swim_protocol::LimitsConfig::event_capacity) events gets [`RecvError::Lagged`] and
    /// continues from the oldest event still held. Subscribers never slow
    /// the member down.
    ///
    /// Events that happened before the call are not replayed: to start
    /// from what the member already knows, use
    /// [`subscribe`](Cluster::subscribe).
    pub fn events(&self) -> Events {
        // Once the member stopped, a subscription that is closed already.
        self.shared.events.subscribe()
    }

    /// Broadcasts `payload` to every other member; it arrives once at each
    /// as [`Event::Broadcast`]. Returns its sequence number.
    pub async fn broadcast(&self, payload: impl Into<Bytes>) -> Result<u32, Error> {
        let payload = payload.into();
        self.ask(|reply| Command::Broadcast { payload, reply }).await?
    }

    /// Replaces this member's metadata; the cluster learns it by gossip.
    pub async fn set_metadata(&self, meta: impl Into<Bytes>) -> Result<(), Error> {
        let meta = meta.into();
        self.ask(|reply| Command::SetMetadata { meta, reply }).await?
    }

    /// Sends `payload` to the member `to` in one datagram, best effort:
    /// sealed like every datagram, it arrives at most once as
    /// [`Event::Message`](crate::Event::Message) with `reliable: false`, or
    /// is lost, and nothing says which. Returns once it is queued. At most
    /// `dissemination.max_broadcast_payload` bytes (about 1,000 over UDP).
    ///
    /// Refused, with nothing sent: a member this one does not know
    /// ([`CommandError::UnknownMember`](swim_protocol::CommandError::UnknownMember),
    /// this member included), one faulty or gone
    /// ([`CommandError::MemberDown`](swim_protocol::CommandError::MemberDown)),
    /// a payload too large
    /// ([`CommandError::TooLarge`](swim_protocol::CommandError::TooLarge)),
    /// or too many messages waiting
    /// ([`CommandError::MessageQueueFull`](swim_protocol::CommandError::MessageQueueFull)).
    ///
    /// ```no_run
    /// # async fn demo(cluster: swim_runtime::Cluster) -> Result<(), swim_runtime::Error> {
    /// cluster.send("cache-2", "invalidate user:42").await?;
    /// cluster.send_reliable("cache-2", vec![0u8; 20_000]).await?; // acknowledged
    /// # Ok(()) }
    /// ```
    pub async fn send(&self, to: impl Into<Name>, payload: impl Into<Bytes>) -> Result<(), Error> {
        let (to, payload) = (to.into(), payload.into());
        self.ask(|reply| Command::Send { to, payload, reliable: false, reply }).await?
    }

    /// Sends `payload` to the member `to` over a stream (TCP beside UDP, a
    /// QUIC stream over QUIC), sealed like every sync frame, and returns
    /// once the receiver acknowledged it: its member took it in and handed
    /// it on as [`Event::Message`](crate::Event::Message) with
    /// `reliable: true` to its subscribers (a member nobody subscribes to
    /// keeps no events; one whose queue is full refuses the message, and
    /// the sender gets [`Error::NotDelivered`]). At most `limits.max_message` bytes (32 KiB by
    /// default). Refused as [`send`](Cluster::send) is; and
    /// [`Error::NotDelivered`] when no acknowledgement came (it may still
    /// have arrived: make it idempotent, or number it). Messages wait for a
    /// free stream slot (`sync.max_concurrent`) when all are busy.
    pub async fn send_reliable(&self, to: impl Into<Name>, payload: impl Into<Bytes>) -> Result<(), Error> {
        let (to, payload) = (to.into(), payload.into());
        self.ask(|reply| Command::Send { to, payload, reliable: true, reply }).await?
    }

    /// Asks the members that `options` selects (by name and tags; all
    /// live members by default) and returns their answers as they come,
    /// until the timeout. The query is gossiped like a broadcast, each
    /// member it is meant for acknowledges it (unless
    /// [`without_acks`](QueryOptions::without_acks)) and hands it to its
    /// application as [`Event::Query`](crate::Event::Query), and answers
    /// ([`respond`](Cluster::respond)) come straight back, and through
    /// `relay` other members. Each member's answer and acknowledgement
    /// counts once.
    ///
    /// Refused with nothing sent: options out of range
    /// ([`CommandError::BadQuery`](swim_protocol::CommandError::BadQuery)),
    /// a name, filter and payload larger than a broadcast may be
    /// ([`CommandError::TooLarge`](swim_protocol::CommandError::TooLarge)),
    /// 16 queries still open
    /// ([`CommandError::TooManyQueries`](swim_protocol::CommandError::TooManyQueries)).
    ///
    /// ```no_run
    /// # async fn demo(cluster: swim_runtime::Cluster) -> Result<(), swim_runtime::Error> {
    /// use swim_runtime::QueryOptions;
    /// let replies = cluster.query("who-serves", "shard=7", QueryOptions::new().tag("role", "cache")).await?;
    /// let (answers, summary) = replies.collect().await;
    /// for (from, payload) in answers {
    ///     println!("{from} answered {payload:?}");
    /// }
    /// println!("{} of {} answered, {} acknowledged", summary.answered, summary.asked, summary.acked);
    /// # Ok(()) }
    /// ```
    pub async fn query(
        &self,
        name: impl Into<Bytes>,
        payload: impl Into<Bytes>,
        options: QueryOptions,
    ) -> Result<QueryResponses, Error> {
        let (name, payload) = (name.into(), payload.into());
        self.ask(|reply| Command::Query { name, payload, options, reply }).await?
    }

    /// Answers a query this member received ([`Event::Query`](crate::Event::Query)),
    /// once, before its timeout; later, or a second time, it is refused
    /// with [`CommandError::QueryOver`](swim_protocol::CommandError::QueryOver).
    /// At most `dissemination.max_broadcast_payload` bytes.
    ///
    /// ```no_run
    /// # async fn demo(cluster: swim_runtime::Cluster) -> Result<(), swim_runtime::Error> {
    /// use swim_runtime::Event;
    /// let mut events = cluster.events();
    /// while let Ok(event) = events.recv().await {
    ///     if let Event::Query(query) = event && query.name == "who-serves" {
    ///         cluster.respond(&query, "I do").await?;
    ///     }
    /// }
    /// # Ok(()) }
    /// ```
    pub async fn respond(&self, query: &Query, payload: impl Into<Bytes>) -> Result<(), Error> {
        let (handle, payload) = (query.handle, payload.into());
        self.ask(|reply| Command::Respond { handle, payload, reply }).await?
    }

    /// Sets this member's application state `key` to `value`: a new
    /// version, gossiped to every member (as broadcasts are) and repaired
    /// by every sync, so that each member ends with every live member's
    /// latest values; others see it as
    /// [`Event::StateChanged`](crate::Event::StateChanged) and in
    /// [`state`](Cluster::state). Keys are 1 to 255 bytes; key and value
    /// together at most `dissemination.max_broadcast_payload` less 4 bytes;
    /// at most `limits.max_state_keys` keys (256 by default). See
    /// `docs/state.md`.
    ///
    /// ```no_run
    /// # async fn demo(cluster: swim_runtime::Cluster) -> Result<(), swim_runtime::Error> {
    /// cluster.set_state("load", "0.42").await?;
    /// for (key, value) in cluster.state("cache-2").await? {
    ///     println!("cache-2 {key:?} = {value:?}");
    /// }
    /// cluster.delete_state("load").await?;
    /// # Ok(()) }
    /// ```
    pub async fn set_state(&self, key: impl Into<Bytes>, value: impl Into<Bytes>) -> Result<(), Error> {
        let (key, value) = (key.into(), Some(value.into()));
        self.ask(|reply| Command::SetState { key, value, reply }).await?
    }

    /// Deletes this member's state `key` (a tombstone, spread as a write
    /// is and forgotten after `limits.tombstone_ttl`).
    pub async fn delete_state(&self, key: impl Into<Bytes>) -> Result<(), Error> {
        let key = key.into();
        self.ask(|reply| Command::SetState { key, value: None, reply }).await?
    }

    /// Member `owner`'s application state as this member holds it (this
    /// member's own included), sorted by key.
    pub async fn state(&self, owner: impl Into<Name>) -> Result<Vec<(Bytes, Bytes)>, Error> {
        let owner = owner.into();
        self.ask(|reply| Command::State { owner, reply }).await
    }

    /// Sets this member's tag `key` to `value`, keeping its other tags;
    /// the cluster learns it by gossip, and other members see it in
    /// [`Member::tags`] and as a [`TagChange`](crate::TagChange) of an
    /// [`Event::MemberUpdated`](crate::Event::MemberUpdated). Tags live in
    /// the metadata and share its budget (`limits.max_metadata`, 512 bytes
    /// by default; each tag costs its key and value plus 3 bytes, and the
    /// map 3): a change that does not fit is refused with
    /// [`CommandError::TooLarge`](swim_protocol::CommandError::TooLarge),
    /// an empty or overlong key with [`Error::Tags`], and on a member whose
    /// metadata is raw bytes with [`Error::MetadataNotTags`]. Nothing
    /// changes on error.
    ///
    /// ```no_run
    /// # async fn demo(cluster: swim_runtime::Cluster) -> Result<(), swim_runtime::Error> {
    /// cluster.set_tag("role", "primary").await?;
    /// cluster.set_tag("shard", "7").await?;
    /// let primaries = cluster.members_with_tag("role", "primary").await?;
    /// println!("{} primaries", primaries.len());
    /// # Ok(()) }
    /// ```
    pub async fn set_tag(&self, key: impl Into<String>, value: impl Into<String>) -> Result<(), Error> {
        let edit = TagEdit::Set(key.into(), value.into());
        self.ask(|reply| Command::Tags { edit, reply }).await?
    }

    /// Removes this member's tag `key` (nothing happens if it has none).
    pub async fn remove_tag(&self, key: impl Into<String>) -> Result<(), Error> {
        let edit = TagEdit::Remove(key.into());
        self.ask(|reply| Command::Tags { edit, reply }).await?
    }

    /// Replaces all of this member's tags (and raw metadata, if it had
    /// any) with `tags`; a key given twice keeps its last value.
    pub async fn set_tags<K, V>(&self, tags: impl IntoIterator<Item = (K, V)>) -> Result<(), Error>
    where
        K: Into<String>,
        V: Into<String>,
    {
        let edit = TagEdit::Replace(tags.into_iter().map(|(k, v)| (k.into(), v.into())).collect());
        self.ask(|reply| Command::Tags { edit, reply }).await?
    }

    /// The live members (alive or suspect, this one included) whose tag
    /// `key` is `value`.
    pub async fn members_with_tag(&self, key: &str, value: &str) -> Result<Vec<Member>, Error> {
        let mut members = self.alive_members().await?;
        members.retain(|m| m.has_tag(key, value));
        Ok(members)
    }

    /// Installs a key for opening packets; returns the ids of the installed
    /// keys (the one in use first). Rotation across a running cluster: add
    /// the new key on every member, then [`use_key`](Cluster::use_key) it on
    /// every member, then [`remove_key`](Cluster::remove_key) the old one.
    pub async fn add_key(&self, key: SecretKey) -> Result<Vec<u32>, Error> {
        self.ask(|reply| Command::Key { change: KeyChange::Add(key), reply }).await?
    }

    /// Seals with the installed key `id` from now on.
    pub async fn use_key(&self, id: u32) -> Result<Vec<u32>, Error> {
        self.ask(|reply| Command::Key { change: KeyChange::Use(id), reply }).await?
    }

    /// Removes the installed key `id` (refused for the key in use).
    pub async fn remove_key(&self, id: u32) -> Result<Vec<u32>, Error> {
        self.ask(|reply| Command::Key { change: KeyChange::Remove(id), reply }).await?
    }

    /// The ids of the installed keys, the one in use first.
    pub async fn key_ids(&self) -> Result<Vec<u32>, Error> {
        self.ask(|reply| Command::Key { change: KeyChange::List, reply }).await?
    }

    /// Counters and gauges of this member.
    pub async fn stats(&self) -> Result<Stats, Error> {
        self.ask(|reply| Command::Stats { reply }).await
    }

    /// Leaves gracefully: tells the cluster, waits up to `timeout` for the
    /// departure to be sent to enough members, then stops. Others see the
    /// member as left, not faulty.
    pub async fn leave(&self, timeout: Duration) -> Result<(), Error> {
        let result = self.ask(|reply| Command::Leave { timeout, reply }).await?;
        self.wait().await;
        result
    }

    /// Stops at once, without telling anyone (the cluster will detect the
    /// member as failed).
    pub async fn shutdown(&self) -> Result<(), Error> {
        self.ask(|reply| Command::Shutdown { reply }).await?;
        self.wait().await;
        Ok(())
    }

    /// Waits for the member's task to end.
    async fn wait(&self) {
        let task = self.shared.task.lock().take();
        if let Some(task) = task {
            let _ = task.await;
        }
    }
}
