//! The handle through which the application talks to its member.

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use bytes::Bytes;
use parking_lot::Mutex;
use swim_protocol::{SecretKey, Stats};
use tokio::sync::{broadcast, mpsc, oneshot};
use tokio::task::JoinHandle;

use crate::error::Error;
use crate::types::{Event, Member, Name};

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
    Local { reply: oneshot::Sender<Member> },
    Broadcast { payload: Bytes, reply: oneshot::Sender<Result<u32, Error>> },
    SetMetadata { meta: Bytes, reply: oneshot::Sender<Result<(), Error>> },
    Stats { reply: oneshot::Sender<Stats> },
    Leave { timeout: Duration, reply: oneshot::Sender<Result<(), Error>> },
    Key { change: KeyChange, reply: oneshot::Sender<Result<Vec<u32>, Error>> },
    Shutdown { reply: oneshot::Sender<()> },
}

#[derive(Debug)]
struct Shared {
    commands: mpsc::Sender<Command>,
    events: broadcast::Sender<Event>,
    name: Name,
    addr: SocketAddr,
    task: Mutex<Option<JoinHandle<()>>>,
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
/// use swim_protocol::{Config, State};
/// use swim_runtime::Cluster;
///
/// let start = |name: &str| Cluster::builder(name).config(Config::local()).bind("127.0.0.1:0".parse().unwrap()).start();
/// let (a, b) = (start("a").await?, start("b").await?);
/// b.join([a.local_addr()]).await?;
/// let view = b.members().await?;
/// assert!(view.iter().any(|m| m.name == "a" && m.state == State::Alive));
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
        events: broadcast::Sender<Event>,
        name: Name,
        addr: SocketAddr,
        task: JoinHandle<()>,
    ) -> Self {
        Cluster { shared: Arc::new(Shared { commands, events, name, addr, task: Mutex::new(Some(task)) }) }
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

    /// This member as the cluster sees it.
    pub async fn local_member(&self) -> Result<Member, Error> {
        self.ask(|reply| Command::Local { reply }).await
    }

    /// A new subscription to events. Each subscriber sees every event from
    /// now on; one that falls behind by more than the event capacity gets
    /// [`RecvError::Lagged`] and continues from the oldest event still held.
    /// Subscribers never slow the member down.
    pub fn events(&self) -> Events {
        Events { rx: self.shared.events.subscribe() }
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

/// Why no event was received.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RecvError {
    /// This subscriber fell behind and missed this many events.
    Lagged(u64),
    /// The member stopped; no more events will come.
    Closed,
}

impl std::fmt::Display for RecvError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            RecvError::Lagged(n) => write!(f, "missed {n} events"),
            RecvError::Closed => f.write_str("the member stopped"),
        }
    }
}

impl std::error::Error for RecvError {}

/// A subscription to a member's events ([`Cluster::events`]).
///
/// ```no_run
/// # async fn demo(cluster: swim_runtime::Cluster) {
/// use swim_runtime::{Event, RecvError};
/// let mut events = cluster.events();
/// loop {
///     match events.recv().await {
///         Ok(Event::MemberFaulty { member, by }) => println!("{} failed (declared by {by})", member.name),
///         Ok(_) => {}
///         Err(RecvError::Lagged(missed)) => println!("fell behind, missed {missed} events"),
///         Err(RecvError::Closed) => break,
///     }
/// }
/// # }
/// ```
#[derive(Debug)]
pub struct Events {
    rx: broadcast::Receiver<Event>,
}

impl Events {
    /// The next event.
    pub async fn recv(&mut self) -> Result<Event, RecvError> {
        self.rx.recv().await.map_err(|e| match e {
            broadcast::error::RecvError::Lagged(n) => RecvError::Lagged(n),
            broadcast::error::RecvError::Closed => RecvError::Closed,
        })
    }

    /// The next event if one is waiting.
    pub fn try_recv(&mut self) -> Option<Result<Event, RecvError>> {
        match self.rx.try_recv() {
            Ok(e) => Some(Ok(e)),
            Err(broadcast::error::TryRecvError::Empty) => None,
            Err(broadcast::error::TryRecvError::Lagged(n)) => Some(Err(RecvError::Lagged(n))),
            Err(broadcast::error::TryRecvError::Closed) => Some(Err(RecvError::Closed)),
        }
    }
}
