//! `cargo xtask attack [FILTER]`: the attack suite (the `attack` binary of
//! the `swim-tests` crate): real members over loopback, attacked; one line
//! per attack and `attacks: tried=N refused=M`.

use std::process::Command;

use crate::{cargo, root};

pub(crate) fn run(args: &[String]) -> Result<(), String> {
    let status = Command::new(cargo())
        .current_dir(root())
        .args(["run", "--quiet", "-p", "swim-tests", "--bin", "attack", "--"])
        .args(args)
        .status()
        .map_err(|e| format!("cannot run cargo: {e}"))?;
    if status.success() { Ok(()) } else { Err(format!("an attack got through ({status})")) }
}
