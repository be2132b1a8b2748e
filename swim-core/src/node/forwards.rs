//! Indirect probes this node performs for other members (it is their
//! helper): a small table of compact records, with target names kept out of
//! line so that scanning the records touches little memory, and a count of
//! active ones so that an idle node does not scan at all.

use std::net::SocketAddr;

use swim_wire::MAX_NAME_LEN;

use crate::time::Time;
use crate::version::Version;

/// Indirect probes helped with at once; the one closest to expiring is
/// replaced when more arrive.
pub(crate) const FORWARDS: usize = 64;

/// One indirect probe performed for `requester`.
#[derive(Debug, Clone)]
pub(crate) struct Forward {
    pub(crate) active: bool,
    pub(crate) generation: u32,
    pub(crate) requester: SocketAddr,
    /// What the indirect ack or nack is sealed for.
    pub(crate) requester_tag: super::seal::To,
    pub(crate) requester_seq: u32,
    /// Sequence number of this node's ping to the target.
    pub(crate) seq: u32,
    pub(crate) target_addr: SocketAddr,
    pub(crate) target_version: Version,
    pub(crate) acked: bool,
    pub(crate) nack_at: Option<Time>,
    pub(crate) expires: Time,
}

impl Forward {
    fn next_deadline(&self) -> Time {
        match self.nack_at {
            Some(at) if !self.acked => at.min(self.expires),
            _ => self.expires,
        }
    }
}

/// What a forward's timer asks for.
pub(crate) enum Due {
    Nack { index: u16, generation: u32 },
}

#[derive(Debug)]
pub(crate) struct Forwards {
    records: Vec<Forward>,
    names: Vec<([u8; MAX_NAME_LEN], u8)>,
    active: usize,
}

impl Forwards {
    pub(crate) fn new() -> Self {
        Forwards { records: Vec::with_capacity(FORWARDS), names: Vec::with_capacity(FORWARDS), active: 0 }
    }

    /// A forward and its target's name, if `generation` still matches.
    pub(crate) fn get(&self, index: u16, generation: u32) -> Option<(&Forward, &[u8])> {
        let i = usize::from(index);
        let f = self.records.get(i).filter(|f| f.generation == generation)?;
        let (name, len) = self.names.get(i)?;
        Some((f, name.get(..usize::from(*len)).unwrap_or_default()))
    }

    /// Starts a forward; returns its index and generation.
    pub(crate) fn start(&mut self, mut record: Forward, target: &[u8]) -> (u16, u32) {
        let index = match self.records.iter().position(|f| !f.active) {
            Some(index) => index,
            None if self.records.len() < FORWARDS => {
                self.records.push(Forward { active: false, ..record.clone() });
                self.names.push(([0; MAX_NAME_LEN], 0));
                self.records.len() - 1
            }
            None => {
                let oldest = self.records.iter().enumerate().min_by_key(|(_, f)| f.expires).map(|(i, _)| i);
                oldest.unwrap_or(0)
            }
        };
        let was_active = self.records.get(index).is_some_and(|f| f.active);
        let generation = self.records.get(index).map_or(0, |f| f.generation.wrapping_add(1));
        record.active = true;
        record.generation = generation;
        if let Some(slot) = self.records.get_mut(index) {
            *slot = record;
        }
        if let Some((name, len)) = self.names.get_mut(index) {
            let n = target.len().min(MAX_NAME_LEN);
            if let (Some(dst), Some(src)) = (name.get_mut(..n), target.get(..n)) {
                dst.copy_from_slice(src);
            }
            *len = crate::convert::to_u8(n);
        }
        if !was_active {
            self.active += 1;
        }
        (crate::convert::to_u16(index), generation)
    }

    /// The active forward whose ping to the target used `seq`, answered by
    /// the target (`source`) and not answered before: marks it answered and
    /// returns it.
    /// A plaintext ack (`unsealed_from`) must come from the target's address.
    pub(crate) fn answered(
        &mut self,
        seq: u32,
        source: &[u8],
        unsealed_from: Option<SocketAddr>,
    ) -> Option<(u16, u32)> {
        if self.active == 0 {
            return None;
        }
        let names = &self.names;
        let (index, f) = self.records.iter_mut().enumerate().find(|(i, f)| {
            let named = names.get(*i).is_some_and(|(name, len)| name.get(..usize::from(*len)) == Some(source));
            let from_target = unsealed_from.is_none_or(|from| from == f.target_addr);
            f.active && f.seq == seq && !f.acked && named && from_target
        })?;
        f.acked = true;
        Some((crate::convert::to_u16(index), f.generation))
    }

    /// Runs due timers: returns the nacks to send, retires expired forwards.
    pub(crate) fn timers(&mut self, now: Time, mut due: impl FnMut(Due)) {
        if self.active == 0 {
            return;
        }
        for (index, f) in self.records.iter_mut().enumerate().filter(|(_, f)| f.active) {
            if let Some(at) = f.nack_at
                && !f.acked
                && now >= at
            {
                f.nack_at = None;
                due(Due::Nack { index: crate::convert::to_u16(index), generation: f.generation });
            }
            // A forward may expire when its nack is sent (nack time and
            // expiry can coincide): the nack is encoded from the record
            // before it is reused.
            if now >= f.expires {
                f.active = false;
                self.active -= 1;
            }
        }
    }

    /// Whether the active count matches the records.
    pub(crate) fn consistent(&self) -> bool {
        self.records.iter().filter(|f| f.active).count() == self.active && self.records.len() <= FORWARDS
    }

    pub(crate) fn next_deadline(&self) -> Option<Time> {
        if self.active == 0 {
            return None;
        }
        self.records.iter().filter(|f| f.active).map(Forward::next_deadline).min()
    }
}
