//! A member's version: which process of that name, and which incarnation of
//! it. Updates about a member are ordered by version first.
//!
//! The *generation* is drawn when a process starts (the runtime uses the
//! wall clock, in microseconds since the Unix epoch) and is larger for every
//! later process of the same name. The *incarnation* counts the refutations
//! and metadata changes within one process, from 0. Versions compare
//! lexicographically as plain integers: the order is total and transitive,
//! so no update can leave two members unable to agree which of two versions
//! is newer (serial-number arithmetic on a wrapping counter cannot promise
//! that).

use core::fmt;

pub(crate) use swim_wire::MAX_GENERATION;

/// A member's version: `(generation, incarnation)`, ordered by generation
/// first.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Default)]
pub(crate) struct Version {
    pub(crate) generation: u64,
    pub(crate) incarnation: u32,
}

impl Version {
    pub(crate) const fn new(generation: u64, incarnation: u32) -> Self {
        Version { generation, incarnation }
    }

    /// The version right after this one: the next incarnation, or, once the
    /// incarnations of this generation are used up, the first incarnation of
    /// the next generation (so a member pushed to the last incarnation can
    /// still refute). The last version of all, unreachable for a process
    /// whose generation came from a clock, is its own successor.
    pub(crate) const fn next(self) -> Self {
        match self.incarnation.checked_add(1) {
            Some(incarnation) => Version { generation: self.generation, incarnation },
            None if self.generation < MAX_GENERATION => Version { generation: self.generation + 1, incarnation: 0 },
            None => self,
        }
    }

    /// The first version of a new process above `self`: the next generation,
    /// incarnation 0 (`self` itself at the last generation).
    pub(crate) const fn next_generation(self) -> Self {
        if self.generation < MAX_GENERATION {
            Version { generation: self.generation + 1, incarnation: 0 }
        } else {
            self.next()
        }
    }
}

impl fmt::Display for Version {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}.{}", self.generation, self.incarnation)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn generation_orders_first_and_next_never_wraps() {
        assert!(Version::new(2, 0) > Version::new(1, u32::MAX));
        assert!(Version::new(1, 5) > Version::new(1, 4));
        assert_eq!(Version::new(1, 4).next(), Version::new(1, 5));
        assert_eq!(Version::new(1, u32::MAX).next(), Version::new(2, 0));
        assert!(Version::new(1, u32::MAX).next() > Version::new(1, u32::MAX));
        // Transitive, whatever the distance: a jump of 2³¹ is just newer.
        let (a, b, c) = (Version::new(1, 0), Version::new(1, 1 << 31), Version::new(1, (1 << 31) + 1));
        assert!(a < b && b < c && a < c);
    }

    #[test]
    fn versions_stop_at_the_largest_generation() {
        let last = Version::new(MAX_GENERATION, u32::MAX);
        assert_eq!(last.next(), last);
        assert_eq!(Version::new(MAX_GENERATION, 7).next_generation(), Version::new(MAX_GENERATION, 8));
        assert_eq!(Version::new(5, 7).next_generation(), Version::new(6, 0));
    }
}
