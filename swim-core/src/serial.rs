//! Serial-number arithmetic (RFC 1982) for 32-bit sequence numbers (probes,
//! user broadcasts), so that comparisons stay correct when counters wrap.
//! Member versions do not wrap: see the crate's `version` module.
//!
//! `a` is newer than `b` when the forward distance from `b` to `a` is
//! between 1 and 2³¹−1. Two numbers exactly 2³¹ apart are incomparable; both
//! [`newer`] and [`newer`] in reverse say no, which makes such an update be
//! ignored rather than flip-flop.

/// Whether `a` is newer than `b`.
///
/// ```
/// use swim_protocol::serial::newer;
/// assert!(newer(5, 4));
/// assert!(newer(0, u32::MAX));        // across the wrap
/// assert!(!newer(u32::MAX, 0));
/// assert!(!newer(7, 7));
/// ```
#[inline]
pub const fn newer(a: u32, b: u32) -> bool {
    let d = a.wrapping_sub(b);
    d != 0 && d < 0x8000_0000
}

/// Whether `a` is newer than or equal to `b`.
#[inline]
pub const fn at_least(a: u32, b: u32) -> bool {
    a == b || newer(a, b)
}

/// The newer of two numbers (`a` when they are incomparable).
#[inline]
pub const fn max(a: u32, b: u32) -> u32 {
    if newer(b, a) { b } else { a }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ordering_holds_across_the_wrap() {
        for base in [0u32, 1, 0x7fff_ffff, 0x8000_0000, u32::MAX - 3, u32::MAX] {
            for step in [1u32, 2, 1000, 0x7fff_ffff] {
                let later = base.wrapping_add(step);
                assert!(newer(later, base), "{later} newer than {base}");
                assert!(!newer(base, later));
                assert!(at_least(later, base) && at_least(base, base));
                assert_eq!(max(base, later), later);
                assert_eq!(max(later, base), later);
            }
        }
    }

    #[test]
    fn half_the_space_apart_is_incomparable() {
        assert!(!newer(0x8000_0000, 0));
        assert!(!newer(0, 0x8000_0000));
        assert_eq!(max(3, 3u32.wrapping_add(0x8000_0000)), 3);
    }
}
