//! A core node fed arbitrary sequences of datagrams, timers, commands and
//! sync frames (plaintext): it must never panic and must keep its invariants.
#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| swim_fuzz::run_core(data, false));
