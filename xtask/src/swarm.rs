//! `cargo xtask swarm`: one real member (`swim-agent`, its own process) in a cluster of thousands emulated at the wire level by a few
//! worker processes over loopback (`tests/src/swarm/`). Builds both in
//! release and runs `tests/src/bin/swarm.rs`, which prints `swarm: key=value`
//! figures.

use std::process::Command;

const USAGE: &str =
    "usage: cargo xtask swarm [--members N] [--duration SECONDS] [--warmup SECONDS] [--crash-every SECONDS] [--seed S]";

pub(crate) fn run(args: &[String]) -> Result<(), String> {
    let mut passed = Vec::new();
    let mut it = args.iter();
    while let Some(a) = it.next() {
        match a.as_str() {
            "--members" | "--duration" | "--warmup" | "--crash-every" | "--seed" => {
                let value = it.next().ok_or(format!("{a} needs a value\n{USAGE}"))?;
                passed.push(format!("{a}={value}"));
            }
            "-h" | "--help" => {
                println!("{USAGE}");
                return Ok(());
            }
            other => return Err(format!("unknown option `{other}`\n{USAGE}")),
        }
    }
    let root = crate::root();
    for (package, what) in [("swim-tests", ["--bin", "swarm"]), ("swim-agent", ["--bin", "swim-agent"])] {
        let status = Command::new(crate::cargo())
            .current_dir(&root)
            .args(["build", "--quiet", "--release", "-p", package])
            .args(what)
            .status()
            .map_err(|e| format!("cannot run cargo: {e}"))?;
        if !status.success() {
            return Err(format!("building {package} failed ({status})"));
        }
    }
    let agent = root.join("target/release/swim-agent");
    let status = Command::new(root.join("target/release/swarm"))
        .arg(format!("--agent={}", agent.display()))
        .args(&passed)
        .status()
        .map_err(|e| format!("cannot run the swarm: {e}"))?;
    if status.success() { Ok(()) } else { Err(format!("the swarm failed ({status})")) }
}
