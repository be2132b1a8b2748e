//! `cargo xtask simfuzz`: the cluster fuzzer (the `simfuzz` binary of the
//! `swim-tests` crate), built in the test profile (the simulator and the
//! core are optimised there, and debug assertions stay on), run from the
//! workspace root with every argument passed through:
//! `--seeds N [--seed S] [--members M] [--threads T] [--verbose] [--watch A,B]`.

pub(crate) fn run(args: &[String]) -> Result<(), String> {
    crate::run_tests_bin("simfuzz", args, "the cluster fuzzer found failures")
}
