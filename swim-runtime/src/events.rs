//! Events fanned out from the member's task to its subscribers.
//!
//! A queue shared by the task (one [`Publisher`]) and the subscriptions
//! ([`Events`]), growing on demand up to `limits.event_capacity` events and
//! holding each event only until every subscriber has read it: a member
//! nobody subscribes to keeps no events at all (and the task does not even
//! build them), and one whose subscribers keep up holds a handful. Each
//! held event counts the subscribers yet to read it; a subscriber that
//! falls more than the capacity behind finds the oldest events gone and is
//! told how many it missed.

use std::collections::VecDeque;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll, Waker};

use parking_lot::Mutex;
use tokio_stream::Stream;

use crate::types::Event;

/// Above this many slots, an emptied queue gives its memory back (a burst
/// of events is over).
const KEEP_SLOTS: usize = 64;

#[derive(Debug)]
struct Held {
    event: Event,
    /// Subscribers that have not read it yet.
    unread: usize,
}

#[derive(Debug, Default)]
struct Queue {
    held: VecDeque<Held>,
    /// The sequence number of `held[0]`.
    head: u64,
    capacity: usize,
    subscribers: usize,
    /// The task ended: no more events will come.
    closed: bool,
    /// Subscribers waiting for an event, by subscription id.
    waiting: Vec<(u64, Waker)>,
    /// An empty list kept for the next wake-up (woken outside the lock).
    spare: Vec<(u64, Waker)>,
    next_id: u64,
}

impl Queue {
    fn end(&self) -> u64 {
        self.head + self.held.len() as u64
    }

    /// Drops the events at the front that every subscriber has read.
    fn trim(&mut self) {
        while self.held.front().is_some_and(|h| h.unread == 0) {
            self.held.pop_front();
            self.head += 1;
        }
        if self.held.is_empty() && self.held.capacity() > KEEP_SLOTS {
            self.held = VecDeque::new();
        }
    }
}

impl Bus {
    /// Wakes every waiting subscriber, outside the lock (a waker may run
    /// code that takes it); the list's memory is reused.
    fn wake_all(&self, mut q: parking_lot::MutexGuard<'_, Queue>) {
        if q.waiting.is_empty() {
            return;
        }
        let spare = std::mem::take(&mut q.spare);
        let mut woken = std::mem::replace(&mut q.waiting, spare);
        drop(q);
        for (_, waker) in woken.drain(..) {
            waker.wake();
        }
        let mut q = self.queue.lock();
        if q.spare.capacity() < woken.capacity() {
            q.spare = woken;
        }
    }
}

/// The queue, shared by the task and every subscription.
#[derive(Debug, Default)]
pub(crate) struct Bus {
    queue: Mutex<Queue>,
}

impl Bus {
    /// A bus holding at most `capacity` events (at least one), and its
    /// publisher (which closes the bus when dropped).
    pub(crate) fn new(capacity: usize) -> (Arc<Bus>, Publisher) {
        let bus = Arc::new(Bus::default());
        bus.queue.lock().capacity = capacity.max(1);
        (bus.clone(), Publisher { bus })
    }

    /// A subscription to the events published from now on.
    pub(crate) fn subscribe(self: &Arc<Bus>) -> Events {
        let mut q = self.queue.lock();
        q.subscribers += 1;
        q.next_id += 1;
        Events { bus: self.clone(), next: q.end(), id: q.next_id }
    }
}

/// The task's end of the bus.
#[derive(Debug)]
pub(crate) struct Publisher {
    bus: Arc<Bus>,
}

impl Publisher {
    /// Whether anyone would read an event published now: when not, the
    /// caller need not build it.
    pub(crate) fn wanted(&self) -> bool {
        self.bus.queue.lock().subscribers > 0
    }

    /// Hands `event` to every current subscriber (none: it is dropped).
    /// The oldest event goes if the queue is full; a subscriber that had
    /// not read it has lagged.
    pub(crate) fn send(&self, event: Event) {
        let mut q = self.bus.queue.lock();
        if q.subscribers == 0 {
            return;
        }
        let unread = q.subscribers;
        q.held.push_back(Held { event, unread });
        if q.held.len() > q.capacity {
            q.held.pop_front();
            q.head += 1;
        }
        self.bus.wake_all(q);
    }

    /// A new subscription, from the next event on.
    pub(crate) fn subscribe(&self) -> Events {
        self.bus.subscribe()
    }
}

impl Drop for Publisher {
    fn drop(&mut self) {
        let mut q = self.bus.queue.lock();
        q.closed = true;
        self.bus.wake_all(q);
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

/// A subscription to a member's events ([`Cluster::events`],
/// [`Cluster::subscribe`]).
///
/// Read it with [`recv`](Events::recv), or as a [`Stream`] of
/// `Result<Event, RecvError>` (which ends when the member stops), with the
/// combinators of `tokio_stream::StreamExt` or `futures::StreamExt`:
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
///
/// ```no_run
/// # async fn demo(cluster: swim_runtime::Cluster) {
/// use tokio_stream::StreamExt;
/// let mut joins = cluster.events().filter_map(|e| match e {
///     Ok(swim_runtime::Event::MemberJoined(m)) => Some(m.name),
///     _ => None,
/// });
/// while let Some(name) = joins.next().await {
///     println!("{name} joined");
/// }
/// # }
/// ```
#[derive(Debug)]
pub struct Events {
    bus: Arc<Bus>,
    /// The sequence number of the next event to read.
    next: u64,
    id: u64,
}

impl Events {
    /// The next event; [`RecvError::Closed`] once the member has stopped and
    /// every held event was read.
    pub async fn recv(&mut self) -> Result<Event, RecvError> {
        std::future::poll_fn(|cx| self.poll_recv(Some(cx))).await
    }

    /// The next event if one is waiting.
    pub fn try_recv(&mut self) -> Option<Result<Event, RecvError>> {
        match self.poll_recv(None) {
            Poll::Ready(next) => Some(next),
            Poll::Pending => None,
        }
    }

    /// The next event, lag or end; registers `cx` to be woken if none is
    /// there yet.
    fn poll_recv(&mut self, cx: Option<&mut Context<'_>>) -> Poll<Result<Event, RecvError>> {
        let mut q = self.bus.queue.lock();
        if self.next < q.head {
            let missed = q.head - self.next;
            self.next = q.head;
            return Poll::Ready(Err(RecvError::Lagged(missed)));
        }
        let index = usize::try_from(self.next - q.head).unwrap_or(usize::MAX);
        if let Some(held) = q.held.get_mut(index) {
            held.unread = held.unread.saturating_sub(1);
            self.next += 1;
            // The last reader of the oldest event takes it; others copy.
            let event = if index == 0 && held.unread == 0 {
                let event = q.held.pop_front().map(|h| h.event);
                q.head += 1;
                event
            } else {
                Some(held.event.clone())
            };
            q.trim();
            if let Some(event) = event {
                return Poll::Ready(Ok(event));
            }
        }
        if q.closed {
            return Poll::Ready(Err(RecvError::Closed));
        }
        if let Some(cx) = cx {
            let waker = cx.waker();
            match q.waiting.iter_mut().find(|(id, _)| *id == self.id) {
                Some((_, w)) => w.clone_from(waker),
                None => q.waiting.push((self.id, waker.clone())),
            }
        }
        Poll::Pending
    }
}

impl Stream for Events {
    type Item = Result<Event, RecvError>;

    fn poll_next(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<Self::Item>> {
        match self.poll_recv(Some(cx)) {
            Poll::Ready(Err(RecvError::Closed)) => Poll::Ready(None),
            Poll::Ready(next) => Poll::Ready(Some(next)),
            Poll::Pending => Poll::Pending,
        }
    }
}

impl Drop for Events {
    fn drop(&mut self) {
        let mut q = self.bus.queue.lock();
        q.subscribers = q.subscribers.saturating_sub(1);
        // What this subscriber left unread no longer waits for it.
        let from = usize::try_from(self.next.saturating_sub(q.head)).unwrap_or(usize::MAX);
        for held in q.held.iter_mut().skip(from) {
            held.unread = held.unread.saturating_sub(1);
        }
        q.trim();
        q.waiting.retain(|(id, _)| *id != self.id);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn refuted(incarnation: u32) -> Event {
        Event::Refuted { incarnation }
    }

    fn held(bus: &Bus) -> usize {
        bus.queue.lock().held.len()
    }

    #[test]
    fn nobody_subscribed_nothing_held() {
        let (bus, publisher) = Bus::new(8);
        assert!(!publisher.wanted());
        publisher.send(refuted(1));
        assert_eq!(held(&bus), 0);
        let mut events = publisher.subscribe();
        assert!(publisher.wanted());
        assert!(events.try_recv().is_none(), "only events from the subscription on");
        publisher.send(refuted(2));
        assert_eq!(events.try_recv(), Some(Ok(refuted(2))));
        assert_eq!(held(&bus), 0, "read by its only subscriber: gone");
    }

    #[test]
    fn each_subscriber_reads_every_event_and_events_go_once_all_have() {
        let (bus, publisher) = Bus::new(8);
        let (mut a, mut b) = (publisher.subscribe(), publisher.subscribe());
        for i in 0..3 {
            publisher.send(refuted(i));
        }
        for i in 0..3 {
            assert_eq!(a.try_recv(), Some(Ok(refuted(i))));
        }
        assert_eq!(held(&bus), 3, "b has not read them");
        assert_eq!(b.try_recv(), Some(Ok(refuted(0))));
        assert_eq!(held(&bus), 2);
        drop(b);
        assert_eq!(held(&bus), 0, "a dropped subscriber holds nothing back");
        assert!(a.try_recv().is_none());
    }

    #[test]
    fn a_subscriber_that_falls_behind_is_told_how_many_it_missed() {
        let (bus, publisher) = Bus::new(4);
        let mut slow = publisher.subscribe();
        for i in 0..10 {
            publisher.send(refuted(i));
        }
        assert_eq!(held(&bus), 4, "never more than the capacity");
        assert_eq!(slow.try_recv(), Some(Err(RecvError::Lagged(6))));
        for i in 6..10 {
            assert_eq!(slow.try_recv(), Some(Ok(refuted(i))));
        }
        assert!(slow.try_recv().is_none());
    }

    #[test]
    fn a_burst_gives_its_memory_back_once_read() {
        let (bus, publisher) = Bus::new(10_000);
        let mut events = publisher.subscribe();
        for i in 0..1000 {
            publisher.send(refuted(i));
        }
        while let Some(Ok(_)) = events.try_recv() {}
        assert_eq!(bus.queue.lock().held.capacity(), 0);
    }

    #[tokio::test]
    async fn a_waiting_subscriber_is_woken_and_the_end_is_seen_once_all_is_read() {
        let (bus, publisher) = Bus::new(8);
        let mut events = publisher.subscribe();
        let reader = tokio::spawn(async move {
            let mut got = Vec::new();
            while let Ok(event) = events.recv().await {
                got.push(event);
            }
            got
        });
        tokio::task::yield_now().await;
        publisher.send(Event::JoinSucceeded { seed: "127.0.0.1:1".parse().unwrap() });
        publisher.send(refuted(7));
        drop(publisher);
        let got = reader.await.unwrap();
        assert_eq!(got.len(), 2);
        assert_eq!(got[1], refuted(7));
        // Subscribing to a member that stopped: closed at once.
        assert_eq!(bus.subscribe().try_recv(), Some(Err(RecvError::Closed)));
    }
}
