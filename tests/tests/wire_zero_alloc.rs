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
fn sealing_and_opening_allocate_nothing() {
    use swim_wire::crypto::{Keyring, NonceSequence, OVERHEAD, ReceiverTag};
    let sample = PingWithUpdates::new(64, 32, 64);
    let mut ring = Keyring::new(&[9; 32]);
    ring.add(&[8; 32]).unwrap();
    let opts = DecodeOptions::default();
    let mut buf = [0u8; DEFAULT_BUDGET + OVERHEAD];
    let mut nonces = NonceSequence::random().unwrap();
    let to = ReceiverTag::of(b"receiver");
    let (seen, allocations) = count_allocations(|| {
        let mut seen = 0;
        for _ in 0..1000 {
            let (len, _) = sample.encode(&mut buf[..DEFAULT_BUDGET]).expect("encodes");
            let sealed = ring.seal(&mut buf, len, &mut nonces, 1, Some(&to)).expect("seals");
            let opened = ring.open(&mut buf, sealed, &opts, &to).expect("opens");
            seen += decode_and_read(&buf[..opened.len], &opts).expect("decodes");
        }
        seen
    });
    assert!(seen >= 10_000);
    assert_eq!(allocations.count, 0, "{allocations:?}");
}

#[test]
fn the_counter_does_count() {
    let (v, allocations) = count_allocations(|| vec![1u8; 100]);
    assert_eq!(v.len(), 100);
    assert_eq!(allocations.count, 1);
    assert_eq!(allocations.bytes, 100);
}
