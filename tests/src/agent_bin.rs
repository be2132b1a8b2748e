//! `swim-agent` as a program the tests of real networks run: built once per
//! test binary through cargo, then found in the target directory.

use std::path::{Path, PathBuf};
use std::process::Command;

/// Builds `swim-agent` (debug profile) and returns its path.
pub fn build() -> Result<PathBuf, String> {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).parent().ok_or("no workspace root")?.to_path_buf();
    let cargo = std::env::var("CARGO").unwrap_or_else(|_| "cargo".into());
    let status = Command::new(&cargo)
        .current_dir(&root)
        .args(["build", "-q", "-p", "swim-agent", "--bin", "swim-agent"])
        .status()
        .map_err(|e| format!("running {cargo}: {e}"))?;
    if !status.success() {
        return Err(format!("building swim-agent failed: {status}"));
    }
    let target = std::env::var("CARGO_TARGET_DIR").map(PathBuf::from).unwrap_or_else(|_| root.join("target"));
    Ok(target.join("debug").join(format!("swim-agent{}", std::env::consts::EXE_SUFFIX)))
}
