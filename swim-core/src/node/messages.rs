//! Direct messages: an application payload for one member.
//!
//! *Best effort*: one datagram, a [`Gossip`] primary with the
//! [`UserMessage`] first and member updates in the room left, sealed like
//! every datagram. It may be lost; nothing says whether it arrived.
//!
//! *Reliable*: a message exchange on a sync stream (TCP beside UDP, a QUIC
//! stream with QUIC). The opener sends one frame, a [`Sync`] header flagged
//! `MESSAGE | LAST` and the [`UserMessage`]; the receiver delivers it and
//! answers with an empty frame flagged `REPLY | MESSAGE | LAST`, which tells
//! the sender that it arrived (the exchange is then
//! [`SyncStatus::Done`]). A broken stream, a refusal or the sync deadline
//! ends it without that answer.
//!
//! Payloads wait in a pool of [`MESSAGE_SLOTS`] buffers until they are
//! written; each buffer keeps its memory for the next message.

use swim_wire::{Gossip, Message, PacketWriter, Sync, SyncFlags, UserMessage, frame};

use super::Node;
use super::seal::To;
use super::sync::{SyncId, SyncStatus};
use super::transmit::Outgoing;
use crate::error::{CommandError, InputError};
use crate::events::Record;
use crate::members::LOCAL;
use crate::time::Time;

/// Messages waiting to be written, best effort and reliable together.
pub const MESSAGE_SLOTS: usize = 64;

#[derive(Debug, Default)]
struct Slot {
    used: bool,
    payload: Vec<u8>,
}

/// The payloads of messages not yet written.
#[derive(Debug, Default)]
pub(crate) struct Pending {
    slots: Vec<Slot>,
}

impl Pending {
    /// Stores `payload`; `None` when every slot is taken.
    fn store(&mut self, payload: &[u8]) -> Option<u16> {
        let index = match self.slots.iter().position(|s| !s.used) {
            Some(i) => i,
            None if self.slots.len() < MESSAGE_SLOTS => {
                self.slots.push(Slot::default());
                self.slots.len() - 1
            }
            None => return None,
        };
        let slot = self.slots.get_mut(index)?;
        slot.used = true;
        slot.payload.clear();
        slot.payload.extend_from_slice(payload);
        u16::try_from(index).ok()
    }

    /// Stores parts one after the other.
    pub(crate) fn store_parts(&mut self, parts: &[&[u8]]) -> Option<u16> {
        let (first, rest) = parts.split_first()?;
        let index = self.store(first)?;
        if let Some(slot) = self.slots.get_mut(usize::from(index)) {
            for part in rest {
                slot.payload.extend_from_slice(part);
            }
        }
        Some(index)
    }

    pub(crate) fn get(&self, index: u16) -> Option<&[u8]> {
        self.slots.get(usize::from(index)).filter(|s| s.used).map(|s| &s.payload[..])
    }

    pub(crate) fn release(&mut self, index: u16) {
        if let Some(slot) = self.slots.get_mut(usize::from(index)) {
            slot.used = false;
        }
    }
}

/// What a session carries when it is a message exchange.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum MessageLeg {
    /// The opener's message, in this pool slot.
    Send(u16),
    /// The opener sent it and waits for the acknowledgement.
    AwaitAck,
    /// The receiver's acknowledgement.
    Acknowledge,
}

impl Node {
    /// Sends `payload` to the member `to` in one datagram, best effort: it
    /// may be lost, and nothing says whether it arrived. At most
    /// `dissemination.max_broadcast_payload` bytes (what one datagram
    /// carries beside the headers).
    ///
    /// ```
    /// use swim_protocol::{CommandError, Config, Node, Time};
    /// let addr = "10.0.0.1:7946".parse().unwrap();
    /// let mut a = Node::new(b"a", &[addr], b"", Config::lan(), Time::ZERO).unwrap();
    /// assert_eq!(a.send_message(Time::ZERO, b"nobody", b"hi"), Err(CommandError::UnknownMember));
    /// ```
    pub fn send_message(&mut self, now: Time, to: &[u8], payload: &[u8]) -> Result<(), CommandError> {
        let limit = self.config.dissemination.max_broadcast_payload;
        let (addr, receiver) = self.message_target(now, to, payload, limit)?;
        if self.outbox_full() {
            return Err(CommandError::MessageQueueFull);
        }
        let slot = self.pending.store(payload).ok_or(CommandError::MessageQueueFull)?;
        self.send(Outgoing::Message { to: addr, receiver, slot });
        self.stats.messages_sent += 1;
        Ok(())
    }

    /// Sends `payload` to the member `to` over a stream, reliably: the
    /// exchange (see [`poll_sync_open`](Node::poll_sync_open)) ends
    /// [`SyncStatus::Done`] once the receiver acknowledged it, and
    /// otherwise is closed without. At most [`max_reliable`](Node::max_reliable) bytes.
    pub fn send_reliable(&mut self, now: Time, to: &[u8], payload: &[u8]) -> Result<SyncId, CommandError> {
        let limit = self.max_reliable();
        let (addr, receiver) = self.message_target(now, to, payload, limit)?;
        let slot = self.pending.store(payload).ok_or(CommandError::MessageQueueFull)?;
        match self.open_message_sync(now, addr, receiver, slot) {
            Some(id) => {
                self.stats.messages_sent += 1;
                Ok(id)
            }
            None => {
                self.pending.release(slot);
                Err(CommandError::TooManySyncs)
            }
        }
    }

    /// The largest reliable message: `limits.max_message`, within one sync
    /// frame.
    pub fn max_reliable(&self) -> usize {
        self.config.limits.max_message.min(self.config.sync.frame_budget.saturating_sub(1024))
    }

    /// Where a message to `to` goes, or why it cannot.
    fn message_target(
        &mut self,
        now: Time,
        to: &[u8],
        payload: &[u8],
        limit: usize,
    ) -> Result<(std::net::SocketAddr, To), CommandError> {
        self.advance(now);
        if self.leave.is_some() {
            return Err(CommandError::Left);
        }
        if payload.len() > limit {
            return Err(CommandError::TooLarge { what: "message", len: payload.len(), limit });
        }
        let slot = self.members.find(to).filter(|&s| s != LOCAL).ok_or(CommandError::UnknownMember)?;
        let entry = self.members.get(slot).ok_or(CommandError::UnknownMember)?;
        if !entry.state.is_live() {
            return Err(CommandError::MemberDown(entry.state));
        }
        let addr = *entry.addrs.first().ok_or(CommandError::UnknownMember)?;
        Ok((addr, self.tag(to)))
    }

    /// A message arrived from `from`; whether it was handed on (queued
    /// for the application).
    pub(super) fn on_message(&mut self, from: &[u8], payload: &[u8], reliable: bool) -> bool {
        let fits = self.events.has_room(from.len() + payload.len());
        if from == self.local_name() || payload.len() > self.config.limits.max_message || !fits {
            self.stats.messages_refused += 1;
            return false;
        }
        self.stats.messages_received += 1;
        self.events.push_with(from.len() + payload.len(), |arena| Record::Message {
            from: arena.store(from),
            payload: arena.store(payload),
            reliable,
        });
        true
    }

    /// Writes a best-effort message's datagram: a gossip header, the
    /// message, and member updates in the room left.
    pub(super) fn write_message(&self, w: &mut PacketWriter<'_>, slot: u16) -> Option<()> {
        let payload = self.pending.get(slot)?;
        w.push(&Message::Gossip(Gossip { source: &self.local_entry()?.name })).ok()?;
        w.push(&Message::UserMessage(UserMessage { payload })).ok()
    }

    /// Writes this side's one frame of a message exchange into `buf`
    /// (length prefix included).
    pub(super) fn poll_message_frame(&mut self, id: SyncId, leg: MessageLeg, buf: &mut [u8]) -> Option<usize> {
        let (opener, peer_tag) = {
            let s = self.syncs.session(id)?;
            (s.opener, s.peer_tag)
        };
        let budget = buf.len().min(self.config.sync.frame_budget);
        let plain_budget = self.plain_budget(budget.saturating_sub(frame::PREFIX_LEN));
        let header = self.header();
        let local = self.local_entry()?;
        let flags = SyncFlags::MESSAGE | SyncFlags::LAST | if opener { 0 } else { SyncFlags::REPLY };
        let sync = Sync { flags: SyncFlags(flags), source: &local.name, total: 0, chunk: 0 };
        let (prefix, body) = buf.split_at_mut_checked(frame::PREFIX_LEN)?;
        let body = body.get_mut(..budget.saturating_sub(frame::PREFIX_LEN))?;
        let mut w = PacketWriter::new(body, &header, plain_budget).ok()?;
        w.push(&Message::Sync(sync)).ok()?;
        if let MessageLeg::Send(slot) = leg {
            w.push(&Message::UserMessage(UserMessage { payload: self.pending.get(slot)? })).ok()?;
        }
        let len = w.finish().ok()?;
        let len = self.seal(body, len, peer_tag)?;
        frame::write_prefix(prefix, len).ok()?;
        let s = self.syncs.session_mut(id)?;
        s.chunk += 1;
        s.status = if opener { SyncStatus::Receive } else { SyncStatus::Done };
        if let MessageLeg::Send(slot) = leg {
            s.message = Some(MessageLeg::AwaitAck);
            self.pending.release(slot);
        }
        Some(frame::PREFIX_LEN + len)
    }

    /// A frame of a message exchange, checked up to its header: the
    /// opener's message (delivered, then acknowledged) or the receiver's
    /// acknowledgement.
    pub(super) fn merge_message_frame(
        &mut self,
        id: SyncId,
        packet: &swim_wire::Packet<'_>,
        sync: &Sync<'_>,
        nonce: Option<swim_wire::crypto::Nonce>,
    ) -> Result<SyncStatus, InputError> {
        let s = self.syncs.session(id).ok_or(InputError::UnknownSync)?;
        let (opener, first) = (s.opener, s.expected_chunk == 0);
        let flags = sync.flags;
        let shape = SyncFlags::MESSAGE | SyncFlags::LAST | if opener { SyncFlags::REPLY } else { 0 };
        // Exactly that shape; an opener takes only the acknowledgement of
        // the message it sent, and a receiver only a message first.
        let expected = if opener { Some(MessageLeg::AwaitAck) } else { None };
        if flags.0 != shape || !first || s.message != expected {
            return Err(InputError::SyncOutOfOrder);
        }
        let mut items = packet.piggyback();
        let message = match (items.next(), items.next(), opener) {
            (Some(Message::UserMessage(m)), None, false) => Some(m),
            (None, None, true) => None,
            (Some(other), _, _) => return Err(InputError::Unexpected(other.kind())),
            _ => return Err(InputError::SyncOutOfOrder),
        };
        if message.is_some_and(|m| m.payload.len() > self.config.limits.max_message) {
            return Err(InputError::TooLarge {
                len: message.map_or(0, |m| m.payload.len()),
                limit: self.config.limits.max_message,
            });
        }
        // Acknowledged only once queued for the application: from this
        // node's own name, or with its event queue full, it is refused (the
        // sender hears that it was not delivered).
        if let Some(m) = message
            && !self.on_message(sync.source, m.payload, true)
        {
            return Err(InputError::Unexpected(swim_wire::Kind::UserMessage));
        }
        self.accepted(nonce);
        let deadline = self.sync_deadline(self.now);
        let peer_tag = self.tag(sync.source);
        let s = self.syncs.session_mut(id).ok_or(InputError::UnknownSync)?;
        s.expected_chunk += 1;
        let peer = s.peer;
        let status = if opener {
            s.status = SyncStatus::Done;
            self.stats.messages_delivered += 1;
            SyncStatus::Done
        } else {
            // The peer proved itself: the acknowledgement is sealed for it.
            (s.deadline, s.peer_tag, s.status) = (deadline, peer_tag, SyncStatus::Send);
            s.message = Some(MessageLeg::Acknowledge);
            self.sync_limiter.refund(peer.ip());
            SyncStatus::Send
        };
        Ok(status)
    }
}
