//! Encoding and decoding a full packet allocates nothing.

#![allow(
    clippy::indexing_slicing,
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::cast_possible_truncation
)]

use swim_tests::alloc_counter::{CountingAllocator, count_allocations};
use swim_tests::wire_samples::{PingWithUpdates, decode_and_read};
use swim_wire::{DEFAULT_BUDGET, DecodeOptions};

#[global_allocator]
static ALLOC: CountingAllocator = CountingAllocator;

#[test]
fn encode_and_decode_of_a_full_packet_allocate_nothing() {
    // More updates than fit, so the writer also refuses one.
    let sample = PingWithUpdates::new(64, 32, 64);
    let opts = DecodeOptions::default();
    let mut buf = [0u8; DEFAULT_BUDGET];

    let (result, allocations) = count_allocations(|| {
        let mut total = 0;
        for _ in 0..1000 {
            let (len, fitted) = sample.encode(&mut buf).expect("encodes");
            let seen = decode_and_read(&buf[..len], &opts).expect("decodes");
            assert_eq!(seen, fitted);
            total += seen;
        }
        total
    });
    assert!(result >= 1000 * 10, "each packet carried at least 10 updates, saw {result}");
    assert_eq!(allocations.count, 0, "{allocations:?}");
}

#[test]
fn the_counter_does_count() {
    let (v, allocations) = count_allocations(|| vec![1u8; 100]);
    assert_eq!(v.len(), 100);
    assert_eq!(allocations.count, 1);
    assert_eq!(allocations.bytes, 100);
}
