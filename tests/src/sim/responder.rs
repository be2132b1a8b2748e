//! Responders: stand-ins for members that the simulator does not run as
//! full nodes, so that a few full members can live in a cluster of 100,000.
//!
//! A responder holds no membership table. It answers what is asked of it —
//! a ping with an ack, an indirect ping with an indirect ack (or a nack)
//! according to whether the target is up, a join request with an
//! acceptance, and a join sync with the whole member list — and ignores
//! gossip. Full members therefore see a cluster of the full size and do all
//! of their protocol work against it; what responders cannot reproduce is
//! dissemination among themselves.

use std::net::SocketAddr;

use swim_protocol::SyncId;
use swim_wire::{
    Ack, Addrs, Alive, DecodeOptions, Header, IndirectAck, JoinResponse, JoinStatus, MemberRecord, MemberState,
    Message, Nack, Packet, PacketWriter, Ping, Sync, SyncFlags,
};

use super::{Pending, Sim, SimMember};

impl Sim {
    /// A datagram reached responder `to` from `from`: answer it.
    pub(super) fn respond(&mut self, to: usize, from: usize, data: &[u8]) {
        let Some(me) = self.members.get(to).map(|m| m.name.clone()) else { return };
        let Ok(packet) = Packet::parse(data, &DecodeOptions::default()) else { return };
        let label = self.config.label.clone();
        let header = Header { label: &label, ..Header::default() };
        let mut buf = std::mem::take(&mut self.scratch);
        let reply = match packet.primary() {
            Message::Ping(p) if p.target == &me[..] => {
                Some(Message::Ack(Ack { seq: p.seq, source: &me, payload: &[] }))
            }
            Message::IndirectPing(p) => {
                let target_up = self.index_of(p.target).and_then(|i| self.members.get(i)).is_some_and(|m| m.is_up());
                if target_up {
                    Some(Message::IndirectAck(IndirectAck { seq: p.seq, source: &me, target: p.target }))
                } else if p.want_nack {
                    Some(Message::Nack(Nack { seq: p.seq, source: &me, target: p.target }))
                } else {
                    None
                }
            }
            Message::JoinRequest(r) => {
                let members = u32::try_from(self.members.len()).unwrap_or(u32::MAX);
                let status = JoinStatus::Accepted;
                Some(Message::JoinResponse(JoinResponse {
                    seq: r.seq,
                    status,
                    source: &me,
                    known_generation: 0,
                    known_incarnation: 0,
                    members,
                }))
            }
            _ => None,
        };
        let written = reply.and_then(|message| {
            let mut w = PacketWriter::new(&mut buf, &header, self.config.limits.packet_budget).ok()?;
            w.push(&message).ok()?;
            w.finish().ok()
        });
        if let Some(len) = written {
            let departs = self.now;
            let deliveries = self.network.deliveries(&mut self.rng, to, from);
            self.metrics.sent(to, len);
            for delay in deliveries.into_iter().flatten() {
                let stored = self.store(buf.get(..len).unwrap_or_default());
                self.schedule(departs + delay, Pending::Datagram { to: from, from: to, buf: stored });
            }
        }
        self.scratch = buf;
    }

    /// A random responder pings full member `to`, if it is up.
    pub(super) fn responder_ping(&mut self, to: usize) {
        let first = self.responders_from;
        if first >= self.members.len() || !self.members.get(to).is_some_and(SimMember::is_up) {
            return;
        }
        let from = first + self.rng.below(self.members.len() - first);
        let (Some(source), Some(target)) =
            (self.members.get(from).map(|m| m.name.clone()), self.members.get(to).map(|m| m.name.clone()))
        else {
            return;
        };
        let label = self.config.label.clone();
        let header = Header { label: &label, ..Header::default() };
        let mut buf = std::mem::take(&mut self.scratch);
        let ping = Ping {
            seq: self.rng.next_u64() as u32,
            source: &source,
            target: &target,
            target_generation: 0,
            target_incarnation: 0,
        };
        let written = PacketWriter::new(&mut buf, &header, self.config.limits.packet_budget).ok().and_then(|mut w| {
            w.push(&Message::Ping(ping)).ok()?;
            w.finish().ok()
        });
        if let Some(len) = written {
            self.metrics.sent(from, len);
            for delay in self.network.deliveries(&mut self.rng, from, to).into_iter().flatten() {
                let stored = self.store(buf.get(..len).unwrap_or_default());
                self.schedule(self.now + delay, Pending::Datagram { to, from, buf: stored });
            }
        }
        self.scratch = buf;
    }

    /// Full member `opener` opened sync `id` to a responder: the exchange
    /// happens at once — its frames are read and dropped, and the reply
    /// lists every member as alive (a responder's view of the cluster).
    pub(super) fn serve_sync(&mut self, opener: usize, id: SyncId, responder: usize) {
        let now = self.now;
        let mut buf = vec![0u8; self.config.sync.frame_budget];
        // The opener's half.
        for _ in 0..self.members.len() + 2 {
            let sent = self.with_node(opener, |n, _| n.poll_sync_frame(id, &mut buf)).flatten();
            if sent.is_none() {
                break;
            }
        }
        let Some(me) = self.members.get(responder).map(|m| m.name.clone()) else { return };
        let label = self.config.label.clone();
        let header = Header { label: &label, ..Header::default() };
        let total = u32::try_from(self.members.len()).unwrap_or(u32::MAX);
        let mut next = 0usize;
        let mut chunk = 0u32;
        // Frames are well under the budget so that the LAST flag is known
        // before writing: 16 records of at most ~40 bytes each.
        while next < self.members.len() {
            let end = (next + 16).min(self.members.len());
            let mut flags = SyncFlags::REPLY | SyncFlags::JOIN;
            if end == self.members.len() {
                flags |= SyncFlags::LAST;
            }
            let len = {
                let Ok(mut w) = PacketWriter::new(&mut buf, &header, self.config.sync.frame_budget - 4) else {
                    return;
                };
                let sync = Sync { flags: SyncFlags(flags), source: &me, total, chunk };
                if w.push(&Message::Sync(sync)).is_err() {
                    return;
                }
                for m in self.members.get(next..end).unwrap_or_default() {
                    let addrs: [SocketAddr; 1] = [m.addr];
                    let addrs = Addrs::from_slice(&addrs);
                    let member = Alive { generation: 0, incarnation: 0, name: &m.name, addrs, meta: &[] };
                    let (state, by) =
                        if m.is_up() { (MemberState::Alive, &[][..]) } else { (MemberState::Faulty, &me[..]) };
                    if w.push(&Message::MemberRecord(MemberRecord { state, member, by })).is_err() {
                        return;
                    }
                }
                match w.finish() {
                    Ok(len) => len,
                    Err(_) => return,
                }
            };
            let merged = self.with_node(opener, |n, _| n.handle_sync_frame(now, id, &mut buf[..len]).is_ok());
            if merged != Some(true) {
                break;
            }
            next = end;
            chunk += 1;
        }
        self.with_node(opener, |n, _| n.close_sync(id));
        self.settle(opener);
    }
}
