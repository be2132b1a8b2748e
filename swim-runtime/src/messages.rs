//! Reliable messages in flight: waiting for a stream slot, then waiting
//! for the receiver's acknowledgement.

use std::collections::VecDeque;

use bytes::Bytes;
use swim_protocol::{CommandError, Node, SyncId, SyncStatus, Time};
use tokio::sync::oneshot;

use crate::error::Error;
use crate::types::Name;

/// Reliable messages waiting for a stream slot, at most: past that,
/// `send_reliable` is refused with `MessageQueueFull`.
const MAX_WAITING: usize = 1024;

type Reply = oneshot::Sender<Result<(), Error>>;

#[derive(Debug, Default)]
pub(crate) struct Deliveries {
    /// Not started yet: every sync slot was taken.
    waiting: VecDeque<(Name, Bytes, Reply)>,
    /// Started: the exchange, and whom it is for.
    running: Vec<(SyncId, Name, Reply)>,
}

impl Deliveries {
    /// Queues a reliable message; it starts at the next [`start`](Self::start).
    pub(crate) fn queue(&mut self, to: Name, payload: Bytes, reply: Reply) {
        if self.waiting.len() >= MAX_WAITING {
            let _ = reply.send(Err(Error::Command(CommandError::MessageQueueFull)));
            return;
        }
        self.waiting.push_back((to, payload, reply));
    }

    /// Starts waiting messages while the node has room for them, one
    /// exchange at a time per receiver (so that a receiver sees one
    /// sender's messages in the order they were sent, and one sender never
    /// fills its stream slots); refusals other than a full pool are
    /// answered at once.
    pub(crate) fn start(&mut self, node: &mut Node, now: Time) {
        let mut at = 0;
        // Members with an exchange running, or an earlier message waiting
        // (a handful: one per receiver).
        let mut busy: Vec<Name> = self.running.iter().map(|(_, n, _)| n.clone()).collect();
        while let Some((to, payload, _)) = self.waiting.get(at) {
            if busy.contains(to) {
                at += 1;
                continue;
            }
            busy.push(to.clone());
            match node.send_reliable(now, to.as_bytes(), payload) {
                Err(CommandError::TooManySyncs | CommandError::MessageQueueFull) => break,
                started => {
                    let Some((to, _, reply)) = self.waiting.remove(at) else { break };
                    match started {
                        Ok(id) => self.running.push((id, to, reply)),
                        Err(e) => {
                            let _ = reply.send(Err(e.into()));
                        }
                    }
                }
            }
        }
    }

    /// The exchange `id` completed: its sender hears that it arrived.
    pub(crate) fn acknowledged(&mut self, id: SyncId) {
        if let Some(at) = self.running.iter().position(|(i, _, _)| *i == id) {
            let (_, _, reply) = self.running.swap_remove(at);
            let _ = reply.send(Ok(()));
        }
    }

    /// Exchanges the node no longer runs, unacknowledged: their senders
    /// hear that they failed.
    pub(crate) fn reap(&mut self, node: &Node) {
        let mut at = 0;
        while let Some((id, _, _)) = self.running.get(at) {
            match node.sync_status(*id) {
                Some(SyncStatus::Send | SyncStatus::Receive) => at += 1,
                // Done is answered by `acknowledged` before the close.
                Some(SyncStatus::Done) => at += 1,
                None => {
                    let (_, to, reply) = self.running.swap_remove(at);
                    let _ = reply.send(Err(Error::NotDelivered { to }));
                }
            }
        }
    }

    pub(crate) fn is_idle(&self) -> bool {
        self.waiting.is_empty() && self.running.is_empty()
    }
}
