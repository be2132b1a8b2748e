//! The node's own timers: one deadline per kind, in a table keyed by an
//! enum (as `quinn-proto` keeps its connection timers), so that the earliest
//! is found without knowing what each one is for. Timers that belong to
//! many things at once (probes, helper duties, suspicions, tombstones, sync
//! sessions) keep their deadlines in their own structures.

use crate::time::Time;

/// What a timer is for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Timer {
    /// The next protocol period starts (probing).
    Period,
    /// The next gossip round.
    Gossip,
    /// The next join attempt to the seeds.
    Join,
    /// The next round of a graceful departure.
    Leave,
    /// The next periodic sync.
    Sync,
    /// The next reconnect ping to a member held faulty.
    Reconnect,
    /// The earliest end of a query this node asked.
    Query,
}

const COUNT: usize = 7;

impl Timer {
    const fn index(self) -> usize {
        match self {
            Timer::Period => 0,
            Timer::Gossip => 1,
            Timer::Join => 2,
            Timer::Leave => 3,
            Timer::Sync => 4,
            Timer::Reconnect => 5,
            Timer::Query => 6,
        }
    }
}

/// One optional deadline per [`Timer`].
#[derive(Debug, Clone, Copy, Default)]
pub(crate) struct Timers {
    at: [Option<Time>; COUNT],
}

impl Timers {
    pub(crate) fn set(&mut self, timer: Timer, at: Time) {
        if let Some(slot) = self.at.get_mut(timer.index()) {
            *slot = Some(at);
        }
    }

    pub(crate) fn clear(&mut self, timer: Timer) {
        if let Some(slot) = self.at.get_mut(timer.index()) {
            *slot = None;
        }
    }

    pub(crate) fn get(&self, timer: Timer) -> Option<Time> {
        self.at.get(timer.index()).copied().flatten()
    }

    /// Whether the timer is set and due at `now`; a due timer is cleared
    /// (its handler sets it again if it recurs).
    pub(crate) fn expired(&mut self, timer: Timer, now: Time) -> bool {
        let due = self.get(timer).is_some_and(|at| at <= now);
        if due {
            self.clear(timer);
        }
        due
    }

    /// The earliest deadline set.
    pub(crate) fn next(&self) -> Option<Time> {
        self.at.iter().flatten().min().copied()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn earliest_first_and_expiry_clears() {
        let mut t = Timers::default();
        assert_eq!(t.next(), None);
        t.set(Timer::Sync, Time::from_secs(5));
        t.set(Timer::Period, Time::from_secs(2));
        assert_eq!(t.next(), Some(Time::from_secs(2)));
        assert!(!t.expired(Timer::Period, Time::from_secs(1)));
        assert!(t.expired(Timer::Period, Time::from_secs(2)));
        assert_eq!(t.get(Timer::Period), None, "cleared once expired");
        assert!(!t.expired(Timer::Join, Time::from_secs(9)), "never set");
        assert_eq!(t.next(), Some(Time::from_secs(5)));
        t.clear(Timer::Sync);
        assert_eq!(t.next(), None);
    }
}
