//! The same with encryption: structured datagrams are sealed with the
//! cluster's key (so they reach the logic behind authentication), and raw
//! bytes test the refusal paths.
#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| swim_fuzz::run_core(data, true));
