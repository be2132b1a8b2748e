//! Sync streams between simulated members: opened, pumped frame by frame
//! with stream latency and in order, and closed at both ends when broken.

use std::net::SocketAddr;
use std::time::Duration;

use swim_protocol::{SyncId, SyncStatus};

use super::{Pending, Sim, SimMember, SimSync};

impl Sim {
    pub(super) fn open_sync(&mut self, opener: usize, id: SyncId, peer: SocketAddr) {
        if let Some(&to) = self.by_addr.get(&peer)
            && self.members.get(to).is_some_and(|m| m.responder)
        {
            if self.members.get(to).is_some_and(SimMember::is_up) && self.network.connected(opener, to) {
                self.serve_sync(opener, id, to);
            } else {
                self.with_node(opener, |n, _| n.close_sync(id));
            }
            return;
        }
        let now = self.now;
        let from_addr = self.members.get(opener).map(|m| m.addr);
        let accepted = match (self.by_addr.get(&peer).copied(), from_addr) {
            (Some(to), Some(from)) if self.network.connected(opener, to) => {
                self.with_node(to, |n, _| n.accept_sync(now, from).ok()).flatten().map(|aid| (to, aid))
            }
            _ => None,
        };
        let Some((to, aid)) = accepted else {
            // Connection refused or unreachable.
            self.with_node(opener, |n, _| n.close_sync(id));
            return;
        };
        self.syncs.push(SimSync { ends: [(opener, id), (to, aid)], open: [true, true], last_arrival: [now, now] });
        let sync = self.syncs.len() - 1;
        self.pump(sync, 0);
        self.pump(sync, 1);
    }

    /// Sends whatever side `side` of a sync has to send.
    fn pump(&mut self, sync: usize, side: usize) {
        let Some(&(member, id)) = self.syncs.get(sync).and_then(|s| s.ends.get(side)) else { return };
        loop {
            let status = self.node(member).and_then(|n| n.sync_status(id));
            match status {
                Some(SyncStatus::Send) => {
                    let mut scratch = std::mem::take(&mut self.scratch);
                    let written = self.with_node(member, |n, _| n.poll_sync_frame(id, &mut scratch)).flatten();
                    let frame = written.map(|len| self.store(scratch.get(4..len).unwrap_or_default()));
                    self.scratch = scratch;
                    let Some(buf) = frame else {
                        self.abort_sync(sync);
                        return;
                    };
                    let other = 1 - side;
                    let to = self.syncs.get(sync).and_then(|s| s.ends.get(other)).map(|e| e.0).unwrap_or(member);
                    let delay = self.network.stream_delay(&mut self.rng, member, to);
                    let Some(s) = self.syncs.get_mut(sync) else { return };
                    let at = (self.now + delay).max(s.last_arrival[other] + Duration::from_micros(1));
                    s.last_arrival[other] = at;
                    self.schedule(at, Pending::Frame { sync, to_side: other, buf });
                }
                Some(SyncStatus::Done) => {
                    self.with_node(member, |n, _| n.close_sync(id));
                    if let Some(s) = self.syncs.get_mut(sync) {
                        s.open[side] = false;
                    }
                    return;
                }
                Some(SyncStatus::Receive) => return,
                None => {
                    if let Some(s) = self.syncs.get_mut(sync) {
                        s.open[side] = false;
                    }
                    return;
                }
            }
        }
    }

    pub(super) fn deliver_frame(&mut self, sync: usize, to_side: usize, buf: usize) {
        let Some(s) = self.syncs.get(sync) else { return };
        let (member, id) = s.ends[to_side];
        let from = s.ends[1 - to_side].0;
        if !s.open[to_side] || !self.network.connected(from, member) {
            self.abort_sync(sync);
            return;
        }
        let Some(mut data) = self.buffers.get_mut(buf).map(std::mem::take) else { return };
        let now = self.now;
        let result = self.with_node(member, |n, _| n.handle_sync_frame(now, id, &mut data));
        if let Some(b) = self.buffers.get_mut(buf) {
            *b = data;
        }
        match result {
            Some(Ok(_)) => {
                self.pump(sync, to_side);
                self.settle(member);
            }
            _ => self.abort_sync(sync),
        }
    }

    /// Closes both ends of a broken sync stream.
    fn abort_sync(&mut self, sync: usize) {
        let Some(s) = self.syncs.get_mut(sync) else { return };
        let ends = s.ends;
        s.open = [false, false];
        for (member, id) in ends {
            self.with_node(member, |n, _| n.close_sync(id));
        }
    }
}
