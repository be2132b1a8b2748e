//! Admission: whether a member new to this node may be added to its table.
//! Two gates, in order: `security.allowed_networks` (the member's first
//! address), then the application's [`Admission`] hook, if it set one.
//! A refused member is counted (`stats.members_not_admitted`) and reported
//! once per version ([`Event::NotAdmitted`](crate::Event::NotAdmitted)):
//! the last few refusals are remembered, so the copies of its alive update
//! that gossip and syncs keep bringing cost neither the hook nor an event.

use std::net::SocketAddr;

use smallvec::SmallVec;
use swim_wire::MAX_ADDRS;

use super::Node;
use super::membership::AliveUpdate;
use crate::events::Record;
use crate::version::Version;

/// Refusals remembered, so that repeats of a refused update are refused
/// without asking again.
const REMEMBERED: usize = 16;

/// A member asking to be added, as the [`Admission`] hook sees it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub struct Candidate<'a> {
    /// Its name.
    pub name: &'a [u8],
    /// Its addresses, first the one it is reached at.
    pub addrs: &'a [SocketAddr],
    /// Its metadata.
    pub meta: &'a [u8],
    /// It asked this node to join the cluster through it (a join request);
    /// otherwise this node learned of it from gossip or a sync.
    pub joining: bool,
}

/// The application's say over which members a node adds (memberlist's
/// `AliveDelegate`): asked once for each member new to the node, before it
/// is added, whether it joins through this node or is learned of from
/// others. Return `false` to refuse it: it is not added, a joiner is told
/// it is not admitted, and the refusal is counted and reported.
///
/// Keep it fast and deterministic: it runs inside the protocol step, and
/// every member should decide alike (a member that one node refuses and
/// another admits is seen by one and not the other). Any
/// `FnMut(&Candidate) -> bool + Send` is an `Admission`.
///
/// ```
/// use swim_protocol::{Candidate, Config, Node, Time};
/// let addr = "10.0.0.1:7946".parse().unwrap();
/// let mut node = Node::new(b"a", &[addr], b"", Config::lan(), Time::ZERO).unwrap();
/// // Only members whose metadata says they serve this cluster's role.
/// node.set_admission(|c: &Candidate<'_>| c.meta.starts_with(b"role=cache"));
/// ```
pub trait Admission: Send {
    /// Whether `candidate` may be added.
    fn admit(&mut self, candidate: &Candidate<'_>) -> bool;
}

impl<F: FnMut(&Candidate<'_>) -> bool + Send> Admission for F {
    fn admit(&mut self, candidate: &Candidate<'_>) -> bool {
        self(candidate)
    }
}

/// The hook a node holds, and its recent refusals.
pub(crate) struct Gate {
    hook: Option<Box<dyn Admission>>,
    refused: Vec<(SmallVec<[u8; 32]>, Version)>,
    cursor: usize,
    /// The joiner just admitted (its request is being applied, which adds
    /// it through the ordinary path: it is not asked about twice).
    joiner: Option<(SmallVec<[u8; 32]>, Version)>,
}

impl core::fmt::Debug for Gate {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.debug_struct("Gate").field("hook", &self.hook.is_some()).field("refused", &self.refused.len()).finish()
    }
}

impl Gate {
    pub(crate) fn new() -> Self {
        Gate { hook: None, refused: Vec::with_capacity(REMEMBERED), cursor: 0, joiner: None }
    }

    fn remembers(&self, name: &[u8], version: Version) -> bool {
        self.refused.iter().any(|(n, v)| *v == version && n.as_slice() == name)
    }

    fn remember(&mut self, name: &[u8], version: Version) {
        if self.refused.len() < REMEMBERED {
            self.refused.push((SmallVec::from_slice(name), version));
        } else if let Some(slot) = self.refused.get_mut(self.cursor % REMEMBERED) {
            slot.0.clear();
            slot.0.extend_from_slice(name);
            slot.1 = version;
        }
        self.cursor = self.cursor.wrapping_add(1);
    }
}

impl Node {
    /// Sets the application's admission hook (replacing any before): see
    /// [`Admission`]. Members already in the table stay.
    pub fn set_admission(&mut self, hook: impl Admission + 'static) {
        self.gate.hook = Some(Box::new(hook));
        self.gate.refused.clear();
    }

    /// Whether the member of `update`, new to this node, may be added
    /// (`joining`: it asked to join through this node). A refusal is
    /// counted, and reported once per version.
    pub(super) fn admit_new(&mut self, update: &AliveUpdate<'_>, joining: bool) -> bool {
        if self.gate.remembers(update.name, update.version) {
            return false;
        }
        if let Some((name, version)) = self.gate.joiner.take()
            && name.as_slice() == update.name
            && version == update.version
        {
            return true;
        }
        let mut addrs = [SocketAddr::from(([0, 0, 0, 0], 0)); MAX_ADDRS];
        let mut count = 0;
        for (slot, addr) in addrs.iter_mut().zip(update.addrs.iter()) {
            *slot = addr;
            count += 1;
        }
        let addrs = addrs.get(..count).unwrap_or_default();
        let admitted = self.admits(update.addrs)
            && self
                .gate
                .hook
                .as_mut()
                .is_none_or(|hook| hook.admit(&Candidate { name: update.name, addrs, meta: update.meta, joining }));
        if admitted && joining {
            self.gate.joiner = Some((SmallVec::from_slice(update.name), update.version));
        }
        if !admitted {
            self.stats.members_not_admitted += 1;
            self.gate.remember(update.name, update.version);
            let addr = addrs.first().copied();
            let name = update.name;
            self.events.push_with(name.len(), |arena| Record::NotAdmitted { name: arena.store(name), addr });
        }
        admitted
    }
}
