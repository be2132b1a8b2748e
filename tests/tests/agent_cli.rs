//! The agent's key and certificate commands, as an operator runs them:
//! `keygen` writes a private key file; `gen-certs` keeps the CA (its key
//! private) and reuses it for members added later, whose certificates then
//! work with the first ones.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::indexing_slicing)]

use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Duration;

use swim::Cluster;
use swim::tls::MemberIdentity;
use swim_tests::net::{all_see_alive, eventually, fast, join_all};

fn agent() -> PathBuf {
    swim_tests::agent_bin::build().expect("the agent builds")
}

fn run(agent: &Path, args: &[&str]) {
    let out = Command::new(agent).args(args).output().unwrap();
    assert!(out.status.success(), "agent {args:?}: {}", String::from_utf8_lossy(&out.stderr));
}

#[cfg(unix)]
fn private(path: &Path) -> bool {
    use std::os::unix::fs::PermissionsExt;
    std::fs::metadata(path).unwrap().permissions().mode() & 0o077 == 0
}

#[cfg(not(unix))]
fn private(_: &Path) -> bool {
    true
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn keys_and_certificates_made_by_the_agent_work_and_stay_private() {
    let agent = agent();
    let dir = std::env::temp_dir().join(format!("swim-agent-cli-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    let key = dir.join("cluster.key");
    run(&agent, &["keygen", "--out", key.to_str().unwrap()]);
    assert!(private(&key), "the key file is private");
    let text = std::fs::read_to_string(&key).unwrap();
    assert!(text.trim().parse::<swim::SecretKey>().is_ok(), "the key file holds a key");

    let certs = dir.join("certs");
    let out = certs.to_str().unwrap();
    run(&agent, &["gen-certs", "--out", out, "--names", "n1,n2"]);
    assert!(private(&certs.join("ca.key")) && private(&certs.join("n1.key")), "private keys are private");
    let ca_before = std::fs::read_to_string(certs.join("ca.pem")).unwrap();
    // Later, one more member, from the same CA.
    run(&agent, &["gen-certs", "--out", out, "--names", "n3"]);
    assert_eq!(std::fs::read_to_string(certs.join("ca.pem")).unwrap(), ca_before, "the CA is kept");

    let load = |name: &str| {
        let read = |f: String| std::fs::read_to_string(certs.join(f)).unwrap();
        MemberIdentity::from_pem(&ca_before, &read(format!("{name}.pem")), &read(format!("{name}.key"))).unwrap()
    };
    let mut members = Vec::new();
    for name in ["n1", "n3"] {
        let builder = Cluster::builder(name).config(fast()).bind("127.0.0.1:0".parse().unwrap());
        members.push(builder.quic(load(name)).start().await.unwrap());
    }
    join_all(&members).await;
    let converged = eventually(Duration::from_secs(20), || all_see_alive(&members, 2)).await;
    assert!(converged, "a member certified later joins one certified first");
    for m in &members {
        m.shutdown().await.unwrap();
    }
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn a_malformed_allowed_network_is_refused_with_the_reason() {
    let out = Command::new(agent()).args(["--bind", "127.0.0.1:0", "--allow", "127.0.0.0/8,10.0.0.0/40"]).output();
    let out = out.unwrap();
    assert!(!out.status.success(), "the agent refuses to start");
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("10.0.0.0/40") && err.contains("longer"), "{err}");
}
