//! The agent as an operator meets it: the installed binary, three agents
//! on loopback with a generated key, and the commands that ask them.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic, clippy::indexing_slicing, missing_docs)]

mod common;

use std::path::Path;
use std::process::Command;
use std::time::{Duration, Instant};

use common::{BIN, Proc, eventually, http_get, members, run, start_agent, states, temp_dir};

/// The metric names `swim_runtime::metrics` documents.
fn documented_metrics() -> Vec<String> {
    let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../swim-runtime/src/metrics.rs");
    let text = std::fs::read_to_string(path).unwrap();
    text.lines()
        .filter_map(|l| l.strip_prefix("//! | `"))
        .filter_map(|l| l.split('`').next())
        .filter(|n| n.starts_with("swim_"))
        .map(str::to_owned)
        .collect()
}

#[test]
fn three_agents_with_a_key_are_listed_monitored_and_measured() {
    let dir = temp_dir("three");
    let key = dir.join("cluster.key");
    let printed = run(&["keygen", "--out", key.to_str().unwrap()], &[]);
    assert!(printed.starts_with("wrote key "), "{printed}");
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        assert_eq!(std::fs::metadata(&key).unwrap().permissions().mode() & 0o777, 0o600);
    }
    let token = dir.join("api.token");
    std::fs::write(&token, "a-token-of-at-least-16-characters\n").unwrap();
    let env: [(&str, &Path); 2] = [("SWIM_KEY_FILE", &key), ("SWIM_API_TOKEN_FILE", &token)];
    let n2_config = dir.join("n2.toml");
    std::fs::write(&n2_config, "[tags]\nrole = \"cache\"\n[answers]\nwho-caches = \"n2 does\"\n").unwrap();

    let n1 = start_agent("n1", &["--tag", "role=web"], &env);
    let seed = n1.addr.replace("127.0.0.1", "localhost"); // through DNS
    let n2 = start_agent("n2", &["--config", n2_config.to_str().unwrap(), "--join", &seed], &env);
    let n3 = start_agent("n3", &["--join", &n1.addr, "--log-events", "--log-view", "0.5"], &env);
    eventually(Duration::from_secs(20), "n1 sees three alive", || {
        states(&n1.api, &env).iter().filter(|(_, s)| s == "alive").count() == 3
    });

    // n3 logs its events and, every half second, whom it sees alive: each
    // line stamped with the seconds since it started.
    let wanted: [fn(&str) -> bool; 3] = [
        |t| t.starts_with("joined through 127.0.0.1:"),
        |t| t.starts_with("+ n1 joined at 127.0.0.1:"),
        |t| t == "view: 3 alive: n1 n2 n3",
    ];
    let mut seen = [false; 3];
    n3.proc.wait_for(Duration::from_secs(20), "the join, n1 and the view in n3's log", |l| {
        let (stamp, text) = l.split_once("s] ")?;
        stamp.trim_start_matches('[').trim().parse::<f64>().ok()?;
        for (want, seen) in wanted.iter().zip(&mut seen) {
            *seen |= want(text);
        }
        seen.iter().all(|&s| s).then_some(())
    });

    // The table, filtered by tag.
    let table = run(&["members", "--api", &n1.api, "--tag", "role=cache"], &env);
    assert!(table.starts_with("NAME"), "{table}");
    assert!(table.contains("n2") && !table.contains("n3"), "{table}");
    let n2_json = &members(&n1.api, &env).into_iter().find(|m| m["name"] == "n2").unwrap();
    assert_eq!(n2_json["tags"]["role"], "cache");

    // A query answered by the member whose config says so.
    let answers: serde_json::Value =
        serde_json::from_str(&run(&["query", "who-caches", "--api", &n1.api, "--json"], &env)).unwrap();
    assert_eq!(answers["answers"][0]["from"], "n2", "{answers}");
    assert_eq!(answers["answers"][0]["payload"], "n2 does");

    // The API wants the token.
    let (status, _) = http_get(&n1.api, "/v1/members", None);
    assert!(status.contains("401"), "{status}");

    // A web page in the operator's browser gets nowhere: not through a
    // DNS name pointing at loopback, nor with a request from its origin.
    let raw = |request: String| {
        use std::io::{Read, Write};
        let mut stream = std::net::TcpStream::connect(&n1.api).unwrap();
        stream.write_all(request.as_bytes()).unwrap();
        let mut text = String::new();
        stream.read_to_string(&mut text).unwrap();
        text.lines().next().unwrap().to_owned()
    };
    let bearer = "Authorization: Bearer a-token-of-at-least-16-characters";
    let rebound =
        raw(format!("GET /v1/members HTTP/1.1\r\nHost: evil.example\r\n{bearer}\r\nConnection: close\r\n\r\n"));
    assert!(rebound.contains("403"), "{rebound}");
    let host = &n1.api;
    let cross = raw(format!(
        "POST /v1/leave HTTP/1.1\r\nHost: {host}\r\nOrigin: http://evil.example\r\n{bearer}\r\nContent-Length: 0\r\nConnection: close\r\n\r\n"
    ));
    assert!(cross.contains("403"), "{cross}");

    // Every documented metric is served.
    let token_text = "a-token-of-at-least-16-characters";
    let (status, body) = http_get(&n1.api, "/metrics", Some(token_text));
    assert!(status.contains("200"), "{status}");
    let missing: Vec<String> =
        documented_metrics().into_iter().filter(|name| !body.lines().any(|l| l.starts_with(name.as_str()))).collect();
    assert!(missing.is_empty(), "not served: {missing:?}");

    // A kill, as the monitor shows it: suspected, then faulty.
    let monitor = Proc::spawn(&["monitor", "--api", &n1.api, "--json"], &env);
    std::thread::sleep(Duration::from_millis(300)); // the stream is open
    drop(n3);
    let about_n3 = |kind: &'static str| {
        move |l: &str| {
            let e: serde_json::Value = serde_json::from_str(l).ok()?;
            (e["type"] == kind && e["member"]["name"] == "n3").then_some(())
        }
    };
    monitor.wait_for(Duration::from_secs(30), "n3 suspected", about_n3("member-suspected"));
    monitor.wait_for(Duration::from_secs(30), "n3 faulty", about_n3("member-faulty"));

    let info: serde_json::Value = serde_json::from_str(&run(&["info", "--api", &n1.api, "--json"], &env)).unwrap();
    assert_eq!(info["name"], "n1");
    assert_eq!(info["members"]["faulty"], 1, "{info}");
    assert_eq!(info["keys"].as_array().unwrap().len(), 1);

    // SIGHUP reloads n2's tags from its file, and its keys: a second key
    // in the file is installed (the first still encrypts).
    #[cfg(unix)]
    {
        std::fs::write(&n2_config, "[tags]\nrole = \"cache\"\nshard = \"7\"\n").unwrap();
        let second = dir.join("second.key");
        run(&["keygen", "--out", second.to_str().unwrap()], &[]);
        let both = format!("{}{}", std::fs::read_to_string(&key).unwrap(), std::fs::read_to_string(&second).unwrap());
        std::fs::write(&key, both).unwrap();
        let pid = n2.proc.child.id().to_string();
        assert!(Command::new("kill").args(["-HUP", &pid]).status().unwrap().success());
        n2.proc
            .wait_for(Duration::from_secs(10), "reload line", |l| l.starts_with("swim-agent: reloaded").then_some(()));
        eventually(Duration::from_secs(10), "n1 sees n2's new tag", || {
            members(&n1.api, &env).iter().any(|m| m["name"] == "n2" && m["tags"]["shard"] == "7")
        });
        let keys = run(&["keys", "list", "--api", &n2.api], &env);
        assert_eq!(keys.split_whitespace().filter(|w| w.len() == 8).count(), 2, "{keys}");
    }

    // `leave` through the API: n2 leaves, and its process ends.
    let mut n2 = n2;
    assert_eq!(run(&["leave", "--api", &n2.api], &env).trim(), "left");
    let deadline = Instant::now() + Duration::from_secs(15);
    while n2.proc.child.try_wait().unwrap().is_none() {
        assert!(Instant::now() < deadline, "n2 did not stop after leaving");
        std::thread::sleep(Duration::from_millis(100));
    }
    eventually(Duration::from_secs(10), "n1 sees n2 left", || {
        states(&n1.api, &env).contains(&("n2".to_owned(), "left".to_owned()))
    });
    drop(n1);
    std::fs::remove_dir_all(&dir).unwrap();
}

#[test]
fn certificates_from_gen_certs_secure_agents_over_quic_and_the_ca_is_kept() {
    let dir = temp_dir("certs");
    let certs = dir.join("certs");
    let out = certs.to_str().unwrap();
    run(&["gen-certs", "--out", out, "--names", "q1,q2"], &[]);
    let ca = std::fs::read_to_string(certs.join("ca.pem")).unwrap();
    // Later, one more member, from the same CA.
    run(&["gen-certs", "--out", out, "--names", "q3"], &[]);
    assert_eq!(std::fs::read_to_string(certs.join("ca.pem")).unwrap(), ca, "the CA is kept");
    #[cfg(unix)]
    for key in ["ca.key", "q1.key", "q3.key"] {
        use std::os::unix::fs::PermissionsExt;
        let mode = std::fs::metadata(certs.join(key)).unwrap().permissions().mode();
        assert_eq!(mode & 0o077, 0, "{key} is readable by its owner only");
    }
    let file = |name: &str| certs.join(name).to_str().unwrap().to_owned();
    let quic = |name: &str| {
        [
            "--ca".into(),
            file("ca.pem"),
            "--cert".into(),
            file(&format!("{name}.pem")),
            "--cert-key".into(),
            file(&format!("{name}.key")),
        ]
    };
    let q1_flags = quic("q1");
    let q1 = start_agent("q1", &q1_flags.iter().map(String::as_str).collect::<Vec<_>>(), &[]);
    let mut q3_flags = quic("q3").to_vec();
    q3_flags.extend(["--join".into(), q1.addr.clone()]);
    let q3 = start_agent("q3", &q3_flags.iter().map(String::as_str).collect::<Vec<_>>(), &[]);
    eventually(Duration::from_secs(20), "a member certified later joins one certified first", || {
        states(&q1.api, &[]).iter().filter(|(_, s)| s == "alive").count() == 2
    });
    drop((q1, q3));
    std::fs::remove_dir_all(&dir).unwrap();
}

#[test]
fn bad_settings_stop_the_agent_with_what_is_wrong() {
    let dir = temp_dir("bad");
    let config = dir.join("bad.toml");
    std::fs::write(&config, "nmae = \"typo\"\n").unwrap();
    let out = Command::new(BIN).args(["agent", "--config", config.to_str().unwrap()]).output().unwrap();
    assert!(!out.status.success());
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("bad.toml") && err.contains("nmae"), "{err}");
    let out = Command::new(BIN).args(["agent", "--api", "0.0.0.0:0"]).output().unwrap();
    assert!(String::from_utf8_lossy(&out.stderr).contains("off this host"));
    let out = Command::new(BIN).args(["agent", "--bind", "127.0.0.1:0", "--allow", "10.0.0.0/40"]).output().unwrap();
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(!out.status.success() && err.contains("10.0.0.0/40") && err.contains("longer"), "{err}");
    let out = Command::new(BIN).args(["agent", "--log-view", "0"]).output().unwrap();
    assert!(String::from_utf8_lossy(&out.stderr).contains("positive number of seconds"));
    let out = Command::new(BIN).args(["members", "--api", "127.0.0.1:1"]).output().unwrap();
    assert!(String::from_utf8_lossy(&out.stderr).contains("is it running?"));
    std::fs::remove_dir_all(&dir).unwrap();
}
