//! `cargo xtask paper`: builds the evaluation (the `paper` binary of the
//! `swim-tests` crate) with optimisations and runs it from the workspace
//! root, passing every argument through (`--help` lists them).

use std::process::Command;

use crate::{cargo, root};

pub(crate) fn run(args: &[String]) -> Result<(), String> {
    let status = Command::new(cargo())
        .current_dir(root())
        .args(["run", "--quiet", "--release", "-p", "swim-tests", "--bin", "paper", "--"])
        .args(args)
        .status()
        .map_err(|e| format!("cannot run cargo: {e}"))?;
    if status.success() { Ok(()) } else { Err(format!("the evaluation failed: {status}")) }
}
