//! What the simulator measures: traffic per member, detection of crashes,
//! false verdicts, and delivery of user broadcasts.

use std::collections::HashMap;

use swim_protocol::{Event, Time};

use super::SimMember;

/// Counters of one member.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct MemberMetrics {
    /// Datagrams it sent.
    pub msgs_sent: u64,
    /// Bytes it sent.
    pub bytes_sent: u64,
    /// Datagrams it received (accepted).
    pub msgs_received: u64,
    /// Bytes it received.
    pub bytes_received: u64,
    /// Times it suspected a member that was up.
    pub false_suspicions: u64,
    /// Times it declared faulty a member that was up.
    pub false_faulty: u64,
    /// User broadcasts delivered to it.
    pub broadcasts_received: u64,
    /// User broadcasts delivered to it more than once (must stay 0).
    pub duplicate_broadcasts: u64,
}

/// How a crash was detected.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Detection {
    /// When the member crashed.
    pub crashed_at: Time,
    /// When some member first suspected it.
    pub first_suspected: Option<Time>,
    /// When some member first declared it faulty.
    pub first_faulty: Option<Time>,
    /// How many members declared it faulty.
    pub faulty_seen_by: usize,
    /// When the last of them did.
    pub last_faulty: Option<Time>,
}

/// How a user broadcast spread.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BroadcastTrack {
    /// When it was sent.
    pub sent_at: Time,
    /// Members that were live (other than the origin) when it was sent.
    pub expected: usize,
    /// Members it reached.
    pub delivered: usize,
    /// When the last of them got it.
    pub last_delivery: Option<Time>,
    receivers: Vec<bool>,
}

/// Everything measured in a run.
#[derive(Debug, Clone, Default)]
pub struct Metrics {
    /// Per member, by index.
    pub members: Vec<MemberMetrics>,
    /// Suspicions of members that were up.
    pub false_suspicions: u64,
    /// Faulty verdicts about members that were up.
    pub false_faulty: u64,
    /// Faulty verdicts about members that were up and not slowed.
    pub false_faulty_of_healthy: u64,
    /// Faulty verdicts made by members that were not slowed, about members
    /// that were up.
    pub false_faulty_by_healthy: u64,
    /// Times a member that was up went from being held faulty by nobody to
    /// being held faulty by someone: false failure detections, however far
    /// each verdict then spread.
    pub false_episodes: u64,
    /// Of those, episodes about members that were not slowed.
    pub false_episodes_of_healthy: u64,
    /// Each false detection: when, about whom (index), and the first member
    /// to hold the verdict (index).
    pub false_detections: Vec<(Time, usize, usize)>,
    /// Observers currently holding each (up) member faulty.
    held_faulty: HashMap<usize, Vec<usize>>,
    /// Faulty verdicts about members that had left gracefully.
    pub faulty_of_left: u64,
    /// "Left" events seen.
    pub left_seen: u64,
    /// Refutations made.
    pub refutations: u64,
    /// Crashes, by member index.
    pub detections: HashMap<usize, Detection>,
    /// User broadcasts, by `(origin index, sequence)`.
    pub broadcasts: HashMap<(usize, u32), BroadcastTrack>,
    /// Whether every delivered broadcast's payload is logged in
    /// `deliveries` (payloads then identify broadcasts across restarts).
    pub log_deliveries: bool,
    /// `(receiver, payload, when)` of every delivery, if logged.
    pub deliveries: Vec<(usize, Vec<u8>, Time)>,
    /// Joins that completed or failed: `(member, when, succeeded)`.
    pub joins: Vec<(usize, Time, bool)>,
}

impl Metrics {
    pub(super) fn new(members: usize) -> Self {
        Metrics { members: vec![MemberMetrics::default(); members], ..Metrics::default() }
    }

    /// Forgets everything measured so far (e.g. after warm-up).
    pub fn reset(&mut self) {
        let n = self.members.len();
        let log = self.log_deliveries;
        *self = Metrics { log_deliveries: log, ..Metrics::new(n) };
    }

    /// Sum of a per-member counter.
    pub fn total(&self, f: impl Fn(&MemberMetrics) -> u64) -> u64 {
        self.members.iter().map(f).sum()
    }

    pub(super) fn sent(&mut self, i: usize, len: usize) {
        if let Some(m) = self.members.get_mut(i) {
            m.msgs_sent += 1;
            m.bytes_sent += len as u64;
        }
    }

    pub(super) fn received(&mut self, i: usize, len: usize) {
        if let Some(m) = self.members.get_mut(i) {
            m.msgs_received += 1;
            m.bytes_received += len as u64;
        }
    }

    pub(super) fn crashed(&mut self, i: usize, at: Time) {
        self.detections.insert(
            i,
            Detection {
                crashed_at: at,
                first_suspected: None,
                first_faulty: None,
                faulty_seen_by: 0,
                last_faulty: None,
            },
        );
    }

    pub(super) fn broadcast_sent(&mut self, origin: usize, seq: u32, at: Time, expected: usize) {
        let receivers = vec![false; self.members.len()];
        self.broadcasts.insert(
            (origin, seq),
            BroadcastTrack { sent_at: at, expected, delivered: 0, last_delivery: None, receivers },
        );
    }

    pub(super) fn observe(
        &mut self,
        observer: usize,
        now: Time,
        event: &Event<'_>,
        by_name: &HashMap<Vec<u8>, usize>,
        members: &[SimMember],
    ) {
        let subject = |name: &[u8]| by_name.get(name).copied().and_then(|i| members.get(i).map(|m| (i, m)));
        let observer_healthy = members.get(observer).is_some_and(|m| m.slow.is_none());
        match event {
            Event::Suspected { member, .. } => match subject(member.name) {
                Some((_, m)) if m.is_up() && !m.left => {
                    self.false_suspicions += 1;
                    if let Some(o) = self.members.get_mut(observer) {
                        o.false_suspicions += 1;
                    }
                }
                Some((i, _)) => {
                    if let Some(d) = self.detections.get_mut(&i) {
                        d.first_suspected = Some(d.first_suspected.map_or(now, |t| t.min(now)));
                    }
                }
                None => {}
            },
            Event::Faulty { member, .. } => match subject(member.name) {
                Some((i, m)) if m.is_up() && !m.left => {
                    self.false_faulty += 1;
                    let holders = self.held_faulty.entry(i).or_default();
                    if holders.is_empty() {
                        self.false_episodes += 1;
                        self.false_detections.push((now, i, observer));
                        if m.slow.is_none() {
                            self.false_episodes_of_healthy += 1;
                        }
                    }
                    if !holders.contains(&observer) {
                        holders.push(observer);
                    }
                    if m.slow.is_none() {
                        self.false_faulty_of_healthy += 1;
                    }
                    if observer_healthy {
                        self.false_faulty_by_healthy += 1;
                    }
                    if let Some(o) = self.members.get_mut(observer) {
                        o.false_faulty += 1;
                    }
                }
                Some((_, m)) if m.left => self.faulty_of_left += 1,
                Some((i, _)) => {
                    if let Some(d) = self.detections.get_mut(&i) {
                        d.first_faulty = Some(d.first_faulty.map_or(now, |t| t.min(now)));
                        d.faulty_seen_by += 1;
                        d.last_faulty = Some(now);
                    }
                }
                None => {}
            },
            Event::Joined(member) => {
                // A member held faulty that is alive again at this observer.
                if let Some((i, _)) = subject(member.name)
                    && let Some(holders) = self.held_faulty.get_mut(&i)
                {
                    holders.retain(|&o| o != observer);
                }
            }
            Event::Left(_) => self.left_seen += 1,
            Event::Refuted { .. } => self.refutations += 1,
            Event::JoinSucceeded { .. } => self.joins.push((observer, now, true)),
            Event::JoinFailed { .. } => self.joins.push((observer, now, false)),
            Event::Broadcast { origin, seq, payload } => {
                if self.log_deliveries {
                    self.deliveries.push((observer, payload.to_vec(), now));
                }
                let Some((origin, _)) = subject(origin) else { return };
                let Some(m) = self.members.get_mut(observer) else { return };
                let Some(track) = self.broadcasts.get_mut(&(origin, *seq)) else { return };
                match track.receivers.get_mut(observer) {
                    Some(seen) if *seen => m.duplicate_broadcasts += 1,
                    Some(seen) => {
                        *seen = true;
                        m.broadcasts_received += 1;
                        track.delivered += 1;
                        track.last_delivery = Some(now);
                    }
                    None => {}
                }
            }
            _ => {}
        }
    }
}
