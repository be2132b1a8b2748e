//! The member's task: one loop that owns the node and waits on everything at
//! once — received datagrams, the next deadline (one `Sleep`, reset in
//! place), accepted and open sync streams, and commands — then carries out
//! the node's outputs. Buffers are allocated once; nothing is spawned or
//! allocated per datagram or per period.

use std::future::poll_fn;
use std::io;
use std::net::SocketAddr;
use std::pin::Pin;
use std::sync::Arc;
use std::time::Duration;

use bytes::Bytes;
use swim_protocol::{CommandError, Event as CoreEvent, Node, Stats, SyncId, SyncStatus, Time};
use swim_transport::Transport;
use tokio::sync::{mpsc, oneshot, watch};
use tokio::time::{Instant, Sleep};

use crate::cluster::{Command, KeyChange, View};
use crate::error::Error;
use crate::events::Publisher;
use crate::messages::Deliveries;
use crate::metrics::Metrics;
use crate::queries::{QueryItem, QueryReply, QueryResponses, QuerySummary};
use crate::syncs::{SyncEvent, Syncs};
use crate::tags::TagEdit;
use crate::types::{Event, Member};
use crate::{PeriodReport, RuntimeOptions};

/// What woke the loop.
enum Wake<S> {
    Command(Option<Command>),
    Datagram(io::Result<(usize, SocketAddr)>),
    Timer,
    Accept(io::Result<(S, SocketAddr)>),
    Sync(SyncEvent),
}

/// What watchers see, and when it was last rebuilt.
struct LiveView {
    tx: watch::Sender<Arc<[Member]>>,
    /// A member changed since the last rebuild.
    stale: bool,
    /// The protocol period of the last rebuild.
    period: u64,
}

#[derive(PartialEq, Eq)]
enum Flow {
    Continue,
    Stop,
}

pub(crate) struct Driver<T: Transport> {
    node: Node,
    transport: T,
    options: RuntimeOptions,
    origin: Instant,
    events: Publisher,
    /// The live view handed to watchers.
    view: LiveView,
    /// `Stats::events_dropped` when last looked at.
    events_dropped: u64,
    /// The outcome of a join, answered once the step's events are out.
    joined: Option<Result<SocketAddr, Error>>,
    recv: Vec<u8>,
    send: Vec<u8>,
    frame: Vec<u8>,
    syncs: Syncs<T::Stream>,
    /// Reliable messages waiting to start or to be acknowledged.
    deliveries: Deliveries,
    /// This member's open queries, and where their answers go.
    queries: Vec<(u32, mpsc::UnboundedSender<QueryItem>)>,
    join: Option<oneshot::Sender<Result<SocketAddr, Error>>>,
    leave: Option<(Instant, oneshot::Sender<Result<(), Error>>)>,
    wake_at: Option<Instant>,
    metrics: Metrics,
    next_publish: Instant,
    /// The stats at the last report, and the period count that triggers the next.
    reported: (Stats, u64),
}

impl<T: Transport> Driver<T> {
    pub(crate) fn new(node: Node, transport: T, options: RuntimeOptions, events: Publisher) -> Self {
        let config = node.config();
        let budget = config.limits.packet_budget;
        // Opened and accepted syncs have a pool each.
        let syncs = Syncs::new(2 * config.sync.max_concurrent, config.sync.frame_budget);
        let name = node.local().name.to_vec();
        let origin = Instant::now();
        Driver {
            metrics: Metrics::new(&String::from_utf8_lossy(&name)),
            next_publish: origin + options.metrics_interval,
            reported: (node.stats(), u64::from(options.report_every)),
            node,
            transport,
            options,
            origin,
            events,
            view: LiveView { tx: watch::Sender::new(Arc::from([])), stale: false, period: 0 },
            events_dropped: 0,
            joined: None,
            // One byte more than the budget: a larger datagram arrives
            // truncated, still too large, and is refused unread.
            recv: vec![0; budget + 1],
            send: vec![0; budget],
            frame: Vec::new(),
            syncs,
            deliveries: Deliveries::default(),
            queries: Vec::new(),
            join: None,
            leave: None,
            wake_at: None,
        }
    }

    /// The node's clock: microseconds since the task started.
    fn now(&self) -> Time {
        Time::from_micros(u64::try_from(self.origin.elapsed().as_micros()).unwrap_or(u64::MAX))
    }

    fn instant(&self, t: Time) -> Instant {
        self.origin + Duration::from_micros(t.as_micros())
    }

    /// Tells the node the wall-clock time (encrypted packets carry it for
    /// replay protection), following any clock adjustment.
    fn update_wall_clock(&mut self, now: Time) {
        if let Ok(since_epoch) = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH) {
            self.node.set_wall_clock(now, u64::try_from(since_epoch.as_millis()).unwrap_or(u64::MAX));
        }
    }

    pub(crate) async fn run(mut self, mut commands: mpsc::Receiver<Command>) {
        self.update_wall_clock(self.now());
        let sleep = tokio::time::sleep_until(self.origin);
        tokio::pin!(sleep);
        self.flush().await;
        self.arm(sleep.as_mut());
        loop {
            let wake = tokio::select! {
                command = commands.recv() => Wake::Command(command),
                received = self.transport.recv_from(&mut self.recv) => Wake::Datagram(received),
                () = &mut sleep, if self.wake_at.is_some() => Wake::Timer,
                accepted = self.transport.accept() => Wake::Accept(accepted),
                event = poll_fn(|cx| self.syncs.poll_event(cx)) => Wake::Sync(event),
            };
            let flow = match wake {
                Wake::Command(None) => Flow::Stop, // every handle was dropped
                Wake::Command(Some(command)) => self.command(command),
                Wake::Datagram(Ok((len, from))) => {
                    let now = self.now();
                    let data = self.recv.get_mut(..len).unwrap_or_default();
                    let result = if self.transport.proves_names() {
                        let transport = &self.transport;
                        self.node.handle_datagram_proven(now, from, data, |name| transport.peer_is(from, name))
                    } else {
                        self.node.handle_datagram(now, from, data)
                    };
                    if let Err(e) = result {
                        tracing::trace!(%from, error = %e, "refused a datagram");
                    }
                    Flow::Continue
                }
                Wake::Datagram(Err(e)) if one_datagram_error(&e) => {
                    // About one datagram (an oversized one, or an ICMP error
                    // for an earlier send): the next is fine. No pause, so
                    // that a sender of oversized datagrams cannot slow the
                    // loop down.
                    tracing::debug!(error = %e, "a datagram could not be received");
                    Flow::Continue
                }
                Wake::Datagram(Err(e)) => {
                    tracing::warn!(error = %e, "receiving failed");
                    tokio::time::sleep(Duration::from_millis(10)).await;
                    Flow::Continue
                }
                Wake::Timer => {
                    self.timer();
                    Flow::Continue
                }
                Wake::Accept(Ok((stream, peer))) => {
                    match self.node.accept_sync(self.now(), peer) {
                        Ok(id) => self.syncs.accepted(id, stream, peer),
                        Err(e) => tracing::debug!(%peer, error = %e, "refused a sync"),
                    }
                    Flow::Continue
                }
                Wake::Accept(Err(e)) => {
                    tracing::debug!(error = %e, "accepting a stream failed");
                    tokio::time::sleep(Duration::from_millis(10)).await;
                    Flow::Continue
                }
                Wake::Sync(event) => {
                    self.sync_event(event);
                    Flow::Continue
                }
            };
            if flow == Flow::Stop {
                break;
            }
            self.flush().await;
            if self.leave_finished() {
                break;
            }
            self.arm(sleep.as_mut());
        }
        let ids: Vec<SyncId> = self.syncs.ids().collect();
        for id in ids {
            self.close_sync(id);
        }
        tracing::debug!("stopped");
    }

    /// Sets the one timer to the node's next deadline (the node jitters its
    /// own periods), or to the leave deadline if that comes first.
    fn arm(&mut self, sleep: Pin<&mut Sleep>) {
        let mut at = self.node.poll_timeout().map(|d| self.instant(d));
        if let Some((leave_by, _)) = &self.leave {
            at = Some(at.map_or(*leave_by, |a| a.min(*leave_by)));
        }
        if at != self.wake_at {
            self.wake_at = at;
            if let Some(at) = at {
                sleep.reset(at);
            }
        }
    }

    /// The timer fired: run the node's timers (the node measures how late
    /// they come: local overload is its business), publish metrics when due.
    fn timer(&mut self) {
        let now = self.now();
        self.wake_at = None;
        self.update_wall_clock(now);
        let overloads = self.node.stats().overload_reports;
        self.node.handle_timeout(now);
        if self.node.stats().overload_reports > overloads {
            tracing::debug!("timers fired late: local overload");
        }
        // Streams of exchanges the node gave up on.
        loop {
            let forgotten = self.syncs.ids().find(|id| self.node.sync_status(*id).is_none());
            match forgotten {
                Some(id) => self.close_sync(id),
                None => break,
            }
        }
        if Instant::now() >= self.next_publish {
            self.metrics.publish(&self.node.stats());
            self.next_publish += self.options.metrics_interval;
        }
        self.report();
    }

    /// Logs a [`PeriodReport`] when `report_every` more periods have run.
    fn report(&mut self) {
        let every = u64::from(self.options.report_every);
        let stats = self.node.stats();
        if every == 0 || stats.periods < self.reported.1 {
            return;
        }
        PeriodReport::between(&self.reported.0, &stats, self.node.config().probe.period).log();
        self.reported = (stats, stats.periods + every);
    }

    /// Carries out the node's outputs: datagrams, events, syncs to open.
    async fn flush(&mut self) {
        let now = self.now();
        while let Some(t) = self.node.poll_transmit(now, &mut self.send) {
            let datagram = self.send.get(..t.len).unwrap_or_default();
            if let Err(e) = self.transport.send_to(datagram, t.destination).await {
                tracing::debug!(to = %t.destination, error = %e, "sending failed");
            }
        }
        let origin = self.origin.into_std();
        while let Some(event) = self.node.poll_event() {
            if !route_query(&event, &mut self.queries) {
                announce(&event, &mut self.view.stale, &mut self.joined, &self.events, origin);
            }
        }
        // One copy of the counters per flush (this runs after every datagram).
        let stats = self.node.stats();
        let dropped = stats.events_dropped;
        if dropped > self.events_dropped {
            // More happened in one step than the core holds: say so, so
            // that subscribers know to take a new snapshot.
            let missed = dropped - self.events_dropped;
            self.events_dropped = dropped;
            tracing::warn!(missed, "events dropped: more in one step than limits.event_capacity");
            self.view.stale = true;
            self.events.send(Event::Missed { count: missed });
        }
        // The join's caller hears of it after the step's events are out.
        if let Some(outcome) = self.joined.take()
            && let Some(reply) = self.join.take()
        {
            let _ = reply.send(outcome);
        }
        // Refreshed after a change, and once a period (health, reaped
        // members), while anyone watches.
        let period = stats.periods;
        if (self.view.stale || period != self.view.period) && self.view.tx.receiver_count() > 0 {
            self.refresh_view();
        }
        if !self.deliveries.is_idle() {
            self.deliveries.reap(&self.node);
            self.deliveries.start(&mut self.node, now);
        }
        while let Some(open) = self.node.poll_sync_open() {
            let connect = self.transport.connect(open.peer);
            self.syncs.connecting(open.id, connect, open.peer);
        }
    }

    /// Every member, as handed to the application.
    fn snapshot(&self) -> Vec<Member> {
        let origin = self.origin.into_std();
        self.node.members().map(|m| Member::from_info(&m, origin)).collect()
    }

    /// Rebuilds the watchers' view; watchers are woken only if it differs.
    fn refresh_view(&mut self) {
        let members: Arc<[Member]> = self.snapshot().into();
        self.view.tx.send_if_modified(|view| {
            let changed = **view != *members;
            if changed {
                *view = members;
            }
            changed
        });
        self.view.stale = false;
        self.view.period = self.node.stats().periods;
    }

    fn command(&mut self, command: Command) -> Flow {
        let now = self.now();
        match command {
            Command::Join { seeds, reply } => match self.node.join(now, &seeds) {
                Ok(()) => {
                    if let Some(old) = self.join.replace(reply) {
                        let _ = old.send(Err(Error::Superseded));
                    }
                }
                Err(e) => {
                    let _ = reply.send(Err(e.into()));
                }
            },
            Command::Members { reply } => {
                let _ = reply.send(self.snapshot());
            }
            Command::Member { name, reply } => {
                let origin = self.origin.into_std();
                let _ = reply.send(self.node.member(name.as_bytes()).map(|m| Member::from_info(&m, origin)));
            }
            Command::Local { reply } => {
                let _ = reply.send(Member::from_info(&self.node.local(), self.origin.into_std()));
            }
            Command::Subscribe { reply } => {
                // Events are handed out only in `flush`, after this returns:
                // the subscription starts exactly where the snapshot ends.
                let _ = reply.send((self.snapshot(), self.events.subscribe()));
            }
            Command::Watch { reply } => {
                self.refresh_view();
                let _ = reply.send(View::new(self.view.tx.subscribe()));
            }
            Command::Broadcast { payload, reply } => {
                let _ = reply.send(self.node.broadcast(now, &payload).map_err(Error::from));
            }
            Command::SetMetadata { meta, reply } => {
                self.view.stale = true;
                let _ = reply.send(self.node.set_metadata(now, &meta).map_err(Error::from));
            }
            Command::Tags { edit, reply } => {
                self.view.stale = true;
                let _ = reply.send(self.set_tags(now, edit));
            }
            Command::Send { to, payload, reliable: false, reply } => {
                let _ = reply.send(self.node.send_message(now, to.as_bytes(), &payload).map_err(Error::from));
            }
            Command::Send { to, payload, reliable: true, reply } => self.deliveries.queue(to, payload, reply),
            Command::Query { name, payload, options, reply } => {
                let names: Vec<&[u8]> = options.names.iter().map(|n| n.as_bytes()).collect();
                let tags: Vec<(&str, &str)> = options.tags.iter().map(|(k, v)| (k.as_str(), v.as_str())).collect();
                let core = swim_protocol::QueryOptions {
                    names: &names,
                    tags: &tags,
                    timeout: options.timeout,
                    relay: options.relay,
                    want_ack: options.want_ack,
                };
                let asked = self.node.query(now, &name, &payload, &core).map(|id| {
                    let (tx, rx) = mpsc::unbounded_channel();
                    self.queries.push((id, tx));
                    QueryResponses { id, rx, summary: None }
                });
                let _ = reply.send(asked.map_err(Error::from));
            }
            Command::Respond { handle, payload, reply } => {
                let _ = reply.send(self.node.respond(now, handle, &payload).map_err(Error::from));
            }
            Command::SetState { key, value, reply } => {
                let done = match value {
                    Some(value) => self.node.set_state(now, &key, &value),
                    None => self.node.delete_state(now, &key),
                };
                let _ = reply.send(done.map_err(Error::from));
            }
            Command::State { owner, reply } => {
                let mut state: Vec<(Bytes, Bytes)> = self
                    .node
                    .state_of(owner.as_bytes())
                    .map(|(k, v)| (Bytes::copy_from_slice(k), Bytes::copy_from_slice(v)))
                    .collect();
                state.sort();
                let _ = reply.send(state);
            }
            Command::Stats { reply } => {
                let _ = reply.send(self.node.stats());
            }
            Command::Key { change, reply } => {
                let done = match change {
                    KeyChange::Add(key) => self.node.add_key(&key).map(drop),
                    KeyChange::Use(id) => self.node.use_key(id),
                    KeyChange::Remove(id) => self.node.remove_key(id),
                    KeyChange::List => Ok(()),
                };
                let _ = reply.send(done.map(|()| self.node.key_ids()).map_err(Error::from));
            }
            Command::Leave { timeout, reply } => {
                if self.leave.is_none() {
                    self.view.stale = true;
                    self.node.leave(now);
                    self.leave = Some((Instant::now() + timeout, reply));
                } else {
                    let _ = reply.send(Err(Error::Command(CommandError::Left)));
                }
            }
            Command::Shutdown { reply } => {
                let _ = reply.send(());
                return Flow::Stop;
            }
        }
        Flow::Continue
    }

    /// Applies a change of this member's tags to its metadata.
    fn set_tags(&mut self, now: Time, edit: TagEdit) -> Result<(), Error> {
        let meta = edit.apply(self.node.local().meta)?;
        let limit = self.node.config().limits.max_metadata;
        if meta.len() > limit {
            return Err(Error::Command(CommandError::TooLarge { what: "tags", len: meta.len(), limit }));
        }
        Ok(self.node.set_metadata(now, &meta)?)
    }

    /// Whether a departure is complete (announced, or out of time).
    fn leave_finished(&mut self) -> bool {
        let Some((deadline, _)) = &self.leave else { return false };
        let outcome = if self.node.leave_announced() {
            Ok(())
        } else if Instant::now() >= *deadline {
            Err(Error::LeaveTimedOut)
        } else {
            return false;
        };
        if let Some((_, reply)) = self.leave.take() {
            let _ = reply.send(outcome);
        }
        true
    }

    fn sync_event(&mut self, event: SyncEvent) {
        match event {
            SyncEvent::Connected(id) | SyncEvent::Flushed(id) => self.pump(id),
            SyncEvent::Frame(id) => {
                let now = self.now();
                let (transport, peer) = (&self.transport, self.syncs.peer(id));
                let peer_is =
                    |name: &[u8]| !transport.proves_names() || peer.is_some_and(|p| transport.peer_is(p, name));
                let result = self.node.handle_sync_frame_proven(now, id, self.syncs.frame(id), peer_is);
                self.syncs.consume_frame(id);
                match result {
                    Ok(_) => self.pump(id),
                    Err(e) => {
                        tracing::debug!(error = %e, "refused a sync frame");
                        self.node.close_sync(id);
                        self.close_sync(id);
                    }
                }
            }
            SyncEvent::Failed(id, e) => {
                tracing::debug!(error = %e, "sync stream failed");
                self.metrics.stream_failed();
                self.node.close_sync(id);
                self.release_frame();
            }
        }
    }

    /// Moves an exchange along: writes its next frame once the previous one
    /// is out (one frame per step), or closes it when it is done.
    fn pump(&mut self, id: SyncId) {
        match self.node.sync_status(id) {
            Some(SyncStatus::Send) => {
                if self.syncs.flushed(id) {
                    // The frame buffer exists only while syncs run.
                    if self.frame.is_empty() {
                        self.frame = vec![0; self.node.config().sync.frame_budget];
                    }
                    if let Some(len) = self.node.poll_sync_frame(id, &mut self.frame) {
                        self.syncs.queue(id, self.frame.get(..len).unwrap_or_default());
                    }
                }
            }
            Some(SyncStatus::Done) => {
                self.deliveries.acknowledged(id);
                if self.syncs.flushed(id) {
                    self.node.close_sync(id);
                    self.close_sync(id);
                }
            }
            Some(SyncStatus::Receive) => {}
            None => self.close_sync(id),
        }
    }

    /// Drops a sync stream; with the last one, the frame buffer goes too.
    fn close_sync(&mut self, id: SyncId) {
        self.syncs.close(id);
        self.release_frame();
    }

    fn release_frame(&mut self) {
        if self.syncs.ids().next().is_none() {
            self.frame = Vec::new();
        }
    }
}

/// Hands an answer, acknowledgement or end of one of this member's queries
/// to its asker; says whether `event` was one.
fn route_query(event: &CoreEvent<'_>, queries: &mut Vec<(u32, mpsc::UnboundedSender<QueryItem>)>) -> bool {
    let (id, item) = match *event {
        CoreEvent::QueryResponse { id, from, payload } => {
            (id, QueryItem::Reply(QueryReply::Response { from: from.into(), payload: Bytes::copy_from_slice(payload) }))
        }
        CoreEvent::QueryAck { id, from } => (id, QueryItem::Reply(QueryReply::Ack { from: from.into() })),
        CoreEvent::QueryDone { id, asked, answered, acked } => {
            (id, QueryItem::Done(QuerySummary { asked, answered, acked }))
        }
        _ => return false,
    };
    let done = matches!(item, QueryItem::Done(_));
    if let Some(at) = queries.iter().position(|(i, _)| *i == id) {
        let gone = queries.get(at).is_some_and(|(_, tx)| tx.send(item).is_err());
        if done || gone {
            // The asker hears nothing more (or stopped listening).
            queries.swap_remove(at);
        }
    }
    true
}

/// Whether a receive error concerns one datagram only: Windows reports a
/// datagram larger than the buffer as an error (WSAEMSGSIZE, 10040) where
/// Unix truncates it, and reports an ICMP "port unreachable" for an earlier
/// send as a reset on the next receive.
fn one_datagram_error(e: &std::io::Error) -> bool {
    use std::io::ErrorKind;
    const WSAEMSGSIZE: i32 = 10040;
    matches!(e.kind(), ErrorKind::ConnectionReset | ErrorKind::ConnectionRefused)
        || (cfg!(windows) && e.raw_os_error() == Some(WSAEMSGSIZE))
}

/// Logs an event, marks the watchers' view `stale`, completes a waiting
/// join (`joined`), and hands the event to subscribers if there are any (a slow
/// subscriber lags; it never blocks this task). Without subscribers the
/// application's copy of the event is not even built.
fn announce(
    event: &CoreEvent<'_>,
    stale: &mut bool,
    joined: &mut Option<Result<SocketAddr, Error>>,
    events: &Publisher,
    origin: std::time::Instant,
) {
    let name = |n: &[u8]| String::from_utf8_lossy(n).into_owned();
    match event {
        CoreEvent::Joined(m) => tracing::info!(member = %name(m.name), "member joined"),
        CoreEvent::Suspected { member, by } => {
            tracing::debug!(member = %name(member.name), by = %name(by), "member suspected");
        }
        CoreEvent::Recovered(m) => tracing::debug!(member = %name(m.name), "member recovered"),
        CoreEvent::Faulty { member, by } => {
            tracing::info!(member = %name(member.name), by = %name(by), "member faulty");
        }
        CoreEvent::Left(m) => tracing::info!(member = %name(m.name), "member left"),
        CoreEvent::NameConflict { name: n, claimed, .. } => {
            tracing::warn!(name = %name(n), %claimed, "name conflict");
        }
        CoreEvent::Refuted { incarnation } => tracing::info!(incarnation, "refuted a suspicion of this member"),
        CoreEvent::NotAdmitted { name: n, addr } => {
            tracing::info!(member = %name(n), addr = ?addr, "member not admitted");
        }
        CoreEvent::JoinSucceeded { seed } => {
            tracing::info!(%seed, "joined");
            *joined = Some(Ok(*seed));
        }
        CoreEvent::JoinFailed { reason } => {
            tracing::warn!(%reason, "join failed");
            *joined = Some(Err(Error::JoinFailed(*reason)));
        }
        _ => {}
    }
    if matches!(
        event,
        CoreEvent::Joined(_)
            | CoreEvent::Updated { .. }
            | CoreEvent::Suspected { .. }
            | CoreEvent::Recovered(_)
            | CoreEvent::Faulty { .. }
            | CoreEvent::Left(_)
            | CoreEvent::Refuted { .. }
    ) {
        *stale = true;
    }
    if events.wanted()
        && let Some(event) = Event::from_core(event, origin)
    {
        events.send(event);
    }
}

#[cfg(test)]
mod tests {
    use super::one_datagram_error;
    use std::io::{Error, ErrorKind};

    #[test]
    fn errors_about_one_datagram_do_not_pause_the_loop() {
        assert!(one_datagram_error(&Error::from(ErrorKind::ConnectionReset)));
        assert!(one_datagram_error(&Error::from(ErrorKind::ConnectionRefused)));
        assert!(!one_datagram_error(&Error::from(ErrorKind::PermissionDenied)));
        assert_eq!(one_datagram_error(&Error::from_raw_os_error(10040)), cfg!(windows));
    }
}
