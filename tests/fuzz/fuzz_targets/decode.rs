//! Decodes arbitrary bytes as a packet and reads every message: must never
//! panic, whatever the input.
#![no_main]

use std::hint::black_box;

use libfuzzer_sys::fuzz_target;
use swim_wire::{DecodeOptions, Header, Packet};

fuzz_target!(|data: &[u8]| {
    let any_version = DecodeOptions { min_version: 0, max_version: u8::MAX, ..DecodeOptions::default() };
    let _ = black_box(Header::parse(data, &any_version));
    if let Ok(packet) = Packet::parse(data, &any_version) {
        black_box(packet.primary());
        for message in packet.piggyback() {
            black_box(message);
        }
    }
});
