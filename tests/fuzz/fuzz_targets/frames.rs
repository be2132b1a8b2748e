//! The sync stream's frame reassembly (`swim_wire::frame::Reassembler`, as
//! the runtime reads sync streams): whatever the stream and however it is
//! cut, the frames out are those of the stream, bad prefixes are refused,
//! and the buffer stays bounded.
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| swim_fuzz::run_frames(data));
