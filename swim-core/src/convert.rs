//! Saturating integer conversions. Every narrowing in the core goes through
//! these, at places where the value is bounded by a validated limit (member
//! slots by `limits.max_members` ≤ 2²⁴, counts by fixed capacities); saturating
//! instead of truncating keeps even a broken bound harmless.

pub(crate) fn to_u32(n: usize) -> u32 {
    u32::try_from(n).unwrap_or(u32::MAX)
}

pub(crate) fn to_u16(n: usize) -> u16 {
    u16::try_from(n).unwrap_or(u16::MAX)
}

pub(crate) fn to_u8(n: usize) -> u8 {
    u8::try_from(n).unwrap_or(u8::MAX)
}

/// `⌈log10(n)⌉`, exactly, for `n ≥ 1` (0 for `n ≤ 1`).
pub(crate) fn ceil_log10(n: usize) -> u32 {
    if n <= 1 {
        return 0;
    }
    let floor = n.ilog10();
    if 10usize.pow(floor) == n { floor } else { floor + 1 }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn conversions_saturate_and_log_is_exact() {
        assert_eq!(to_u8(300), 255);
        assert_eq!(to_u16(70_000), u16::MAX);
        assert_eq!(to_u32(7), 7);
        let cases = [(1, 0), (2, 1), (9, 1), (10, 1), (11, 2), (100, 2), (101, 3), (1001, 4)];
        for (n, want) in cases {
            assert_eq!(ceil_log10(n), want, "ceil(log10({n}))");
        }
    }
}
