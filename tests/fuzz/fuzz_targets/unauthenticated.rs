//! A node with encryption on: after some authenticated traffic, no
//! unauthenticated input (raw, plaintext, wrong key, another receiver's,
//! tampered, replayed) is accepted, answered, or changes what can be seen.
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| swim_fuzz::run_unauthenticated(data));
