//! Decode → encode → decode: whatever decodes must re-encode, decode to the
//! same packet, and re-encode to the same bytes (the encoding is canonical).
#![no_main]

use libfuzzer_sys::fuzz_target;
use swim_wire::{DecodeOptions, Packet};

fuzz_target!(|data: &[u8]| {
    let opts = DecodeOptions { max_version: u8::MAX, ..DecodeOptions::default() };
    let Ok(packet) = Packet::parse(data, &opts) else { return };
    let mut first = vec![0u8; data.len()];
    let len = packet.encode(&mut first).expect("a decoded packet re-encodes into as many bytes");
    let again = Packet::parse(&first[..len], &opts).expect("a re-encoded packet decodes");
    assert_eq!(again, packet, "decode(encode(p)) == p");
    let mut second = vec![0u8; len];
    let len2 = again.encode(&mut second).expect("re-encodes");
    assert_eq!(&second[..len2], &first[..len], "the encoding is canonical");
});
