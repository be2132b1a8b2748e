//! `cargo xtask bench wire`: encode and decode of a ping carrying 8 alive
//! updates with 32-byte names and 64-byte metadata.

#![allow(
    clippy::indexing_slicing,
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::cast_possible_truncation
)]

use std::time::Duration;

use swim_tests::bench::{measure, report};
use swim_tests::wire_samples::{PingWithUpdates, decode_and_read};
use swim_wire::{DEFAULT_BUDGET, DecodeOptions};

fn main() {
    let sample = PingWithUpdates::standard();
    let opts = DecodeOptions::default();
    let mut buf = [0u8; DEFAULT_BUDGET];
    let (len, fitted) = sample.encode(&mut buf).expect("the standard packet encodes");
    assert_eq!(fitted, sample.updates(), "all 8 updates fit the budget");

    let budget = Duration::from_secs(2);
    let encode = measure(budget, || sample.encode(&mut buf));
    let packet = buf;
    let decode = measure(budget, || decode_and_read(&packet[..len], &opts));

    report("packet_bytes", len);
    report("updates", fitted);
    report("encode_ns_per_packet", format!("{:.1}", encode.median_ns));
    report("decode_ns_per_packet", format!("{:.1}", decode.median_ns));
    report("encode_ns_min", format!("{:.1}", encode.min_ns));
    report("decode_ns_min", format!("{:.1}", decode.min_ns));
}
