//! `cargo xtask simfuzz`: the cluster fuzzer (the `simfuzz` binary of the
//! `swim-tests` crate), built in the test profile (the simulator and the
//! core are optimised there, and debug assertions stay on), run from the
//! workspace root with every argument passed through:
//! `--seeds N [--seed S] [--members M] [--threads T] [--verbose] [--watch A,B]`.

use std::process::Command;

use crate::{cargo, root};

pub(crate) fn run(args: &[String]) -> Result<(), String> {
    let status = Command::new(cargo())
        .current_dir(root())
        .args(["run", "--quiet", "-p", "swim-tests", "--bin", "simfuzz", "--"])
        .args(args)
        .status()
        .map_err(|e| format!("cannot run cargo: {e}"))?;
    if status.success() { Ok(()) } else { Err(format!("the cluster fuzzer found failures ({status})")) }
}
