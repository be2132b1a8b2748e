//! The application's own state, exchanged in every sync (memberlist's
//! `LocalState` / `MergeRemoteState`): bytes only the application
//! understands, which the node carries and never reads.
//!
//! Each side of a sync asks the application for its bytes once, when it
//! starts sending its records (a join's sync included), and sends them
//! after its records, member state entries and broadcasts, in pieces of
//! whatever room its frames have left ([`AppStateChunk`] items). The
//! receiving side checks every piece (the total is the same in each and at
//! most 16 MiB, the pieces follow each other without gap or overlap, and
//! all are in by the side's last frame), and hands the whole to the
//! application once: a peer cannot make it merge a part, or merge twice. A
//! frame that breaks a rule is refused whole
//! ([`InputError::BadAppState`](crate::InputError::BadAppState)). A peer's
//! state larger than this node's `limits.max_app_state` (members
//! configured differently) is skipped: its pieces are checked and
//! dropped, the rest of the sync goes on, and `stats.app_state_oversized`
//! counts it.
//!
//! The bytes of each sync slot are kept in buffers that keep their
//! capacity, so a node whose state stays the same size allocates nothing
//! after its first syncs; each holds at most `limits.max_app_state` bytes,
//! for as many slots as syncs ever ran at once.

use swim_wire::{AppStateChunk, Message, Packet};

use crate::error::InputError;

/// The most a peer may announce as its state whatever this node's limit:
/// a state past `limits.max_app_state` (at most this much) is skipped, not
/// refused, but one past this is a peer breaking the protocol.
pub(crate) const APP_STATE_CEILING: usize = 16 << 20;

/// The application's part in every sync (memberlist's `LocalState` /
/// `MergeRemoteState`): what this member sends to the peer of each sync,
/// and how it takes in what the peer sent. The application decides what
/// the bytes mean and how to merge them; the merge must be commutative and
/// idempotent (a CRDT, a map of versions, a max), since syncs run in any
/// order and more than once. For a ready-made store instead, see
/// [`Node::set_state`](crate::Node::set_state).
///
/// Both calls run inside the protocol step: keep them quick (a copy, a
/// merge), and keep the state small, since every sync carries it whole
/// both ways (`limits.max_app_state` bounds it; a larger state is not sent
/// at all, and counted in `stats.app_state_oversized`).
///
/// ```
/// use std::collections::BTreeMap;
/// use swim_protocol::AppState;
///
/// /// Requests served, per member: merged by taking the larger count.
/// #[derive(Default)]
/// struct Served(BTreeMap<Vec<u8>, u64>);
///
/// impl AppState for Served {
///     fn local_state(&mut self, _join: bool, out: &mut Vec<u8>) {
///         for (name, n) in &self.0 {
///             out.push(name.len() as u8);
///             out.extend_from_slice(name);
///             out.extend_from_slice(&n.to_be_bytes());
///         }
///     }
///     fn merge_remote_state(&mut self, _from: &[u8], mut state: &[u8], _join: bool) {
///         // Whatever the peer sent, the merge never panics.
///         while let Some((&len, rest)) = state.split_first() {
///             let Some((name, rest)) = rest.split_at_checked(usize::from(len)) else { return };
///             let Some((n, rest)) = rest.split_first_chunk::<8>() else { return };
///             let mine = self.0.entry(name.to_vec()).or_default();
///             *mine = (*mine).max(u64::from_be_bytes(*n));
///             state = rest;
///         }
///     }
/// }
///
/// let mut a = Served::default();
/// a.0.insert(b"a".to_vec(), 7);
/// let mut bytes = Vec::new();
/// a.local_state(false, &mut bytes);
/// let mut b = Served::default();
/// b.merge_remote_state(b"a", &bytes, false);
/// assert_eq!(b.0.get(&b"a"[..]), Some(&7));
/// ```
pub trait AppState: Send {
    /// Appends the bytes to send to the peer of a sync to `out` (empty when
    /// called; its capacity is kept from sync to sync). `join`: the sync
    /// completes a join (the peer is new to the cluster, or this node is).
    fn local_state(&mut self, join: bool, out: &mut Vec<u8>);

    /// What the member named `from` sent in a sync: all of it, once per
    /// sync, never empty. `join` as in [`local_state`](AppState::local_state).
    /// The bytes come from a member (as authenticated as the cluster's
    /// transport makes it), not from this application: check them.
    fn merge_remote_state(&mut self, from: &[u8], state: &[u8], join: bool);
}

impl<T: AppState + ?Sized> AppState for Box<T> {
    fn local_state(&mut self, join: bool, out: &mut Vec<u8>) {
        (**self).local_state(join, out);
    }
    fn merge_remote_state(&mut self, from: &[u8], state: &[u8], join: bool) {
        (**self).merge_remote_state(from, state, join);
    }
}

/// Where one side of a sync stands with the application state: what it
/// sends, and what it has received.
#[derive(Debug, Clone, Copy, Default)]
pub(super) struct AppLeg {
    /// Bytes of this node's state for the peer (`None`: not asked yet).
    pub(super) out: Option<u32>,
    /// Bytes of it sent so far.
    pub(super) sent: u32,
    /// Bytes of the peer's state, as its first piece said.
    pub(super) incoming: Option<u32>,
    /// Bytes of it received so far.
    pub(super) received: u32,
    /// The peer's state is larger than this node takes: its pieces are
    /// dropped.
    pub(super) skip: bool,
    /// The pieces are being kept for the application (its hook was set
    /// when the first came).
    pub(super) taking: bool,
}

impl AppLeg {
    /// Bytes still to send.
    pub(super) fn unsent(&self) -> u32 {
        self.out.unwrap_or(0).saturating_sub(self.sent)
    }

    /// Checks the pieces of the peer's state in `packet` (nothing changes):
    /// the leg as it will be once they are taken in, or why the frame is
    /// refused. `last`: the frame is the peer's last of this leg, so every
    /// piece must be in. A state larger than `max` is marked to be skipped.
    pub(super) fn check(&self, packet: &Packet<'_>, max: usize, last: bool) -> Result<AppLeg, InputError> {
        let mut leg = *self;
        for message in packet.piggyback() {
            let Message::AppState(piece) = message else { continue };
            let total = usize::try_from(piece.total).unwrap_or(usize::MAX);
            if total > APP_STATE_CEILING {
                return Err(InputError::BadAppState("larger than 16 MiB"));
            }
            leg.skip |= total > max;
            if leg.incoming.is_some_and(|total| total != piece.total) {
                return Err(InputError::BadAppState("the total changed between pieces"));
            }
            if piece.offset != leg.received {
                return Err(InputError::BadAppState("a piece out of order"));
            }
            let len = u32::try_from(piece.bytes.len()).unwrap_or(u32::MAX);
            if len == 0 || leg.received.saturating_add(len) > piece.total {
                return Err(InputError::BadAppState("a piece empty or past the total"));
            }
            leg.incoming = Some(piece.total);
            leg.received += len;
        }
        if last && leg.incoming.is_some_and(|total| leg.received < total) {
            return Err(InputError::BadAppState("pieces missing at the last frame"));
        }
        Ok(leg)
    }
}

/// The application's hook, and the bytes of each sync slot.
pub(crate) struct AppStates {
    hook: Option<Box<dyn AppState>>,
    /// Per sync slot: this node's bytes for the peer.
    out: Vec<Vec<u8>>,
    /// Per sync slot: the peer's bytes received so far.
    incoming: Vec<Vec<u8>>,
}

impl core::fmt::Debug for AppStates {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.debug_struct("AppStates").field("hook", &self.hook.is_some()).finish_non_exhaustive()
    }
}

impl AppStates {
    pub(crate) fn new() -> Self {
        AppStates { hook: None, out: Vec::new(), incoming: Vec::new() }
    }

    pub(super) fn set(&mut self, hook: Box<dyn AppState>) {
        self.hook = Some(hook);
    }

    fn buffer(buffers: &mut Vec<Vec<u8>>, slot: usize) -> Option<&mut Vec<u8>> {
        if buffers.len() <= slot {
            buffers.resize_with(slot + 1, Vec::new);
        }
        buffers.get_mut(slot)
    }

    /// Asks the application for its bytes for the sync in `slot`: their
    /// length, or 0 when there is no hook or they are larger than `max`
    /// (then nothing is sent; `oversized` says so).
    pub(super) fn fetch(&mut self, slot: usize, join: bool, max: usize) -> (u32, bool) {
        let Some(hook) = self.hook.as_mut() else { return (0, false) };
        let Some(out) = Self::buffer(&mut self.out, slot) else { return (0, false) };
        out.clear();
        hook.local_state(join, out);
        match u32::try_from(out.len()) {
            Ok(len) if out.len() <= max => (len, false),
            _ => {
                out.clear();
                (0, true)
            }
        }
    }

    /// This node's bytes for the sync in `slot`, from `from` to `to`.
    pub(super) fn out(&self, slot: usize, from: u32, to: u32) -> &[u8] {
        let out = self.out.get(slot).map_or(&[][..], Vec::as_slice);
        out.get(from as usize..to as usize).unwrap_or_default()
    }

    /// Takes in a piece the peer of the sync in `slot` sent (checked by
    /// [`AppLeg::check`]), and notes in `leg` whether the pieces are kept:
    /// from the first on, and only with a hook set then (a hook set
    /// halfway through a peer's state does not get a part of it).
    pub(super) fn take(&mut self, slot: usize, piece: &AppStateChunk<'_>, leg: &mut AppLeg) {
        if piece.offset == 0 {
            leg.taking = self.hook.is_some() && !leg.skip;
        }
        if !leg.taking {
            return;
        }
        if let Some(incoming) = Self::buffer(&mut self.incoming, slot) {
            if piece.offset == 0 {
                incoming.clear();
            }
            incoming.extend_from_slice(piece.bytes);
        }
    }

    /// The peer of the sync in `slot`, `from`, has sent all of its state:
    /// the application merges it (if it was kept); whether it did.
    pub(super) fn merge(&mut self, slot: usize, from: &[u8], join: bool, leg: &AppLeg) -> bool {
        let (Some(hook), Some(incoming)) = (self.hook.as_mut(), self.incoming.get(slot)) else { return false };
        if !leg.taking || incoming.is_empty() {
            return false;
        }
        hook.merge_remote_state(from, incoming, join);
        true
    }
}

impl super::Node {
    /// Sets the application's own state hook (replacing any before): from
    /// the next sync on, this node sends what
    /// [`local_state`](AppState::local_state) gives in each sync, and hands
    /// what each peer sent to
    /// [`merge_remote_state`](AppState::merge_remote_state). See
    /// [`AppState`].
    ///
    /// ```
    /// use swim_protocol::{AppState, Config, Node, Time};
    /// struct Nothing;
    /// impl AppState for Nothing {
    ///     fn local_state(&mut self, _join: bool, _out: &mut Vec<u8>) {}
    ///     fn merge_remote_state(&mut self, _from: &[u8], _state: &[u8], _join: bool) {}
    /// }
    /// let addr = "10.0.0.1:7946".parse().unwrap();
    /// let mut node = Node::new(b"a", &[addr], b"", Config::lan(), Time::ZERO).unwrap();
    /// node.set_app_state(Nothing);
    /// ```
    pub fn set_app_state(&mut self, hook: impl AppState + 'static) {
        self.app.set(Box::new(hook));
    }
}
