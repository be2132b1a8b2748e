//! Real processes on separate network hosts: six `swim-agent` processes sharing a
//! key made by `swim-agent keygen` (an agent without one refuses to start), each in
//! its own network namespace, joined by veth pairs to a bridge. Faults are
//! injected with iptables (this machine's kernel has no netem): 10% random
//! loss, then a partition of 2 members from 4, healed once both sides see it; then one
//! agent is killed.
//!
//! Needs root, `ip` and `iptables` (`.ci/run` installs them); otherwise the
//! test says so and passes without running. Every wait is bounded, and the
//! namespaces (with their rules) are removed even when the test fails.

#![allow(
    clippy::indexing_slicing,
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::cast_possible_truncation
)]

use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

const AGENTS: usize = 6;

fn run(args: &[&str]) -> Result<(), String> {
    let out = Command::new(args[0]).args(&args[1..]).output().map_err(|e| format!("{}: {e}", args[0]))?;
    if out.status.success() {
        Ok(())
    } else {
        Err(format!("`{}` failed: {}", args.join(" "), String::from_utf8_lossy(&out.stderr).trim()))
    }
}

fn available() -> Result<(), String> {
    let uid = Command::new("id").arg("-u").output().map_err(|e| e.to_string())?;
    if String::from_utf8_lossy(&uid.stdout).trim() != "0" {
        return Err("not root".into());
    }
    for tool in ["ip", "iptables"] {
        if Command::new(tool).arg("--version").output().is_err() && Command::new(tool).arg("-V").output().is_err() {
            return Err(format!("`{tool}` is not installed"));
        }
    }
    Ok(())
}

/// The namespaces and agents of one run; torn down on drop (also on panic).
struct Lab {
    prefix: String,
    agents: Vec<Option<Child>>,
    logs: Vec<PathBuf>,
    /// Rules every host keeps under the faults of the moment.
    base: Vec<Vec<String>>,
}

impl Lab {
    fn host(&self, i: usize) -> String {
        format!("{}h{i}", self.prefix)
    }

    fn hub(&self) -> String {
        format!("{}hub", self.prefix)
    }

    fn ip(i: usize) -> String {
        format!("10.77.0.{i}")
    }

    fn exec(&self, i: usize, args: &[&str]) -> Result<(), String> {
        let ns = self.host(i);
        let mut full = vec!["ip", "netns", "exec", ns.as_str()];
        full.extend_from_slice(args);
        run(&full)
    }

    fn build(prefix: &str) -> Result<Lab, String> {
        let lab = Lab { prefix: prefix.to_owned(), agents: Vec::new(), logs: Vec::new(), base: Vec::new() };
        let hub = lab.hub();
        run(&["ip", "netns", "add", &hub])?;
        run(&["ip", "netns", "exec", &hub, "ip", "link", "add", "br0", "type", "bridge"])?;
        run(&["ip", "netns", "exec", &hub, "ip", "link", "set", "br0", "up"])?;
        for i in 1..=AGENTS {
            let host = lab.host(i);
            let root_end = format!("{prefix}v{i}");
            run(&["ip", "netns", "add", &host])?;
            run(&["ip", "link", "add", &root_end, "type", "veth", "peer", "name", "eth0", "netns", &host])?;
            run(&["ip", "link", "set", &root_end, "netns", &hub])?;
            run(&["ip", "netns", "exec", &hub, "ip", "link", "set", &root_end, "master", "br0", "up"])?;
            lab.exec(i, &["ip", "addr", "add", &format!("{}/24", Lab::ip(i)), "dev", "eth0"])?;
            lab.exec(i, &["ip", "link", "set", "eth0", "up"])?;
            lab.exec(i, &["ip", "link", "set", "lo", "up"])?;
            lab.exec(i, &["iptables", "-N", "SWIMFAULT"])?;
            lab.exec(i, &["iptables", "-A", "INPUT", "-i", "eth0", "-j", "SWIMFAULT"])?;
        }
        Ok(lab)
    }

    /// Agent 1 started without a key on its network address: it must refuse
    /// at once and say how to make one. Returns its message.
    fn refused_without_key(&self, agent: &Path) -> Result<String, String> {
        let host = self.host(1);
        let bind = format!("{}:7946", Lab::ip(1));
        let agent = agent.to_str().unwrap_or_default();
        let args = ["netns", "exec", host.as_str(), agent, "agent", "--bind", bind.as_str()];
        let out = Command::new("ip").args(args).output().map_err(|e| e.to_string())?;
        if out.status.success() {
            return Err(format!("expected a refusal, got {:?}", out.status));
        }
        Ok(String::from_utf8_lossy(&out.stderr).into_owned())
    }

    fn start(&mut self, agent: &Path, dir: &Path, key_file: &Path, extra: &[&str]) -> Result<(), String> {
        // The LAN preset, with a sync every 3 s to hurry the heal.
        let config = dir.join("agent.toml");
        std::fs::write(&config, "preset = \"lan\"\n[protocol.sync]\ninterval = \"3s\"\n").map_err(|e| e.to_string())?;
        let config = config.to_str().unwrap_or_default();
        for i in 1..=AGENTS {
            let log = dir.join(format!("a{i}.log"));
            let file = std::fs::File::create(&log).map_err(|e| e.to_string())?;
            let bind = format!("{}:7946", Lab::ip(i));
            let seed = format!("{}:7946", Lab::ip(1));
            let name = format!("a{i}");
            let host = self.host(i);
            let mut args = vec!["netns", "exec", host.as_str(), agent.to_str().unwrap_or_default(), "agent"];
            args.extend(["--name", name.as_str(), "--bind", bind.as_str(), "--config", config]);
            args.extend(["--log-events", "--log-view", "1"]);
            args.extend(extra);
            args.extend(["--key-file", key_file.to_str().unwrap_or_default()]);
            if i > 1 {
                args.extend(["--join", seed.as_str()]);
            }
            let child =
                Command::new("ip").args(&args).stdout(file).stderr(Stdio::null()).spawn().map_err(|e| e.to_string())?;
            self.agents.push(Some(child));
            self.logs.push(log);
            std::thread::sleep(Duration::from_millis(200));
        }
        Ok(())
    }

    fn log(&self, i: usize) -> String {
        std::fs::read_to_string(&self.logs[i - 1]).unwrap_or_default()
    }

    /// The last `view:` line of agent `i`: who it sees alive.
    fn view(&self, i: usize) -> Vec<String> {
        let log = self.log(i);
        let line = log.lines().rev().find(|l| l.contains(" view: ")).unwrap_or_default().to_owned();
        line.split(" alive: ").nth(1).unwrap_or_default().split_whitespace().map(String::from).collect()
    }

    fn faults(&self, i: usize, rules: &[Vec<String>]) {
        let _ = self.exec(i, &["iptables", "-F", "SWIMFAULT"]);
        for rule in self.base.iter().chain(rules) {
            let mut args = vec!["iptables", "-A", "SWIMFAULT"];
            args.extend(rule.iter().map(String::as_str));
            self.exec(i, &args).expect("iptables accepts the rule");
        }
    }

    fn kill(&mut self, i: usize) {
        if let Some(mut child) = self.agents[i - 1].take() {
            // `ip netns exec` runs the agent in its place (exec), so this is the agent.
            let _ = child.kill();
            let _ = child.wait();
        }
    }
}

impl Drop for Lab {
    fn drop(&mut self) {
        for i in 1..=self.agents.len() {
            self.kill(i);
        }
        for i in 1..=AGENTS {
            let _ = run(&["ip", "netns", "del", &self.host(i)]);
        }
        let _ = run(&["ip", "netns", "del", &self.hub()]);
    }
}

fn wait_until(limit: Duration, mut done: impl FnMut() -> bool) -> bool {
    let deadline = Instant::now() + limit;
    while Instant::now() < deadline {
        if done() {
            return true;
        }
        std::thread::sleep(Duration::from_millis(250));
    }
    done()
}

fn names(range: std::ops::RangeInclusive<usize>) -> Vec<String> {
    range.map(|i| format!("a{i}")).collect()
}

#[test]
fn agents_in_network_namespaces_survive_loss_partitions_and_a_crash() {
    if let Err(why) = available() {
        eprintln!("skipped: network-namespace test needs root, ip and iptables ({why})");
        return;
    }
    let agent = swim_tests::agent_bin::build().expect("the agent builds");
    let dir = std::env::temp_dir().join(format!("swim-netns-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();

    let _serial = SERIAL.lock().unwrap_or_else(std::sync::PoisonError::into_inner);
    let prefix = format!("sw{}u", std::process::id() % 100_000);
    let mut lab = Lab::build(&prefix).unwrap_or_else(|e| panic!("setting up namespaces: {e}"));

    // Secure by default: without a key, an agent on a network address
    // refuses to start and says how to make one; with the key, all works.
    let refusal = lab.refused_without_key(&agent).unwrap();
    assert!(refusal.contains("agent keygen") && refusal.contains("--key-file"), "a refusal that helps: {refusal}");
    let key_file = dir.join("cluster.key");
    let made = Command::new(&agent).args(["keygen", "--out", key_file.to_str().unwrap()]).output().unwrap();
    assert!(made.status.success(), "keygen: {}", String::from_utf8_lossy(&made.stderr));
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        let mode = std::fs::metadata(&key_file).unwrap().permissions().mode();
        assert_eq!(mode & 0o077, 0, "the key file is private: {mode:o}");
    }
    lab.start(&agent, &dir, &key_file, &[]).unwrap();
    let everyone = names(1..=AGENTS);
    let converged = wait_until(Duration::from_secs(30), || (1..=AGENTS).all(|i| lab.view(i) == everyone));
    assert!(
        converged,
        "six agents in six namespaces converge: {:?}",
        (1..=AGENTS).map(|i| lab.view(i)).collect::<Vec<_>>()
    );

    // 10% random loss on every host, for 30 s: nobody is declared faulty.
    let loss = vec![
        "-m".into(),
        "statistic".into(),
        "--mode".into(),
        "random".into(),
        "--probability".into(),
        "0.1".into(),
        "-j".into(),
        "DROP".into(),
    ];
    for i in 1..=AGENTS {
        lab.faults(i, std::slice::from_ref(&loss));
    }
    let marks: Vec<usize> = (1..=AGENTS).map(|i| lab.log(i).len()).collect();
    std::thread::sleep(Duration::from_secs(30));
    for i in 1..=AGENTS {
        let during = lab.log(i)[marks[i - 1]..].to_owned();
        let false_verdicts: Vec<&str> = during.lines().filter(|l| l.contains(" faulty, declared by ")).collect();
        assert!(false_verdicts.is_empty(), "a{i} declared live agents faulty under 10% loss: {false_verdicts:?}");
    }
    assert!(wait_until(Duration::from_secs(10), || (1..=AGENTS).all(|i| lab.view(i) == everyone)));

    partition_heal_and_crash(&mut lab);
    eprintln!("namespaces: converged, no false verdict under 10% loss, partition healed, crash detected");
    drop(lab);
    let _ = std::fs::remove_dir_all(&dir);
}

/// A partition: {a1, a2} | {a3..a6}, held until both sides see the split
/// (at most 30 s), then healed; then a6 killed without a goodbye, and
/// everyone declares it faulty.
fn partition_heal_and_crash(lab: &mut Lab) {
    let everyone = names(1..=AGENTS);
    let (small, large) = (1..=2, 3..=AGENTS);
    for i in 1..=AGENTS {
        let others = if small.contains(&i) { large.clone() } else { small.clone() };
        let rules: Vec<Vec<String>> =
            others.map(|o| vec!["-s".into(), Lab::ip(o), "-j".into(), "DROP".into()]).collect();
        lab.faults(i, &rules);
    }
    let cut = Instant::now();
    let split = wait_until(Duration::from_secs(30), || lab.view(1) == names(1..=2) && lab.view(3) == names(3..=AGENTS));
    std::thread::sleep(Duration::from_secs(2));
    eprintln!(
        "during the partition: a1 sees {:?}, a3 sees {:?} (split: {split}, seen in {:.1} s)",
        lab.view(1),
        lab.view(3),
        cut.elapsed().as_secs_f64() - 2.0
    );
    for i in 1..=AGENTS {
        lab.faults(i, &[]);
    }
    let heal = Instant::now();
    let healed = wait_until(Duration::from_secs(60), || (1..=AGENTS).all(|i| lab.view(i) == everyone));
    eprintln!("healed in {:.1} s", heal.elapsed().as_secs_f64());
    assert!(healed, "one cluster after the heal: {:?}", (1..=AGENTS).map(|i| lab.view(i)).collect::<Vec<_>>());

    // A crash: kill a6 without a goodbye; everyone declares it faulty.
    lab.kill(6);
    let killed = Instant::now();
    let detected = wait_until(Duration::from_secs(60), || {
        (1..=5).all(|i| lab.log(i).lines().rev().take(200).any(|l| l.contains("x a6 faulty")))
    });
    assert!(detected, "every survivor declared a6 faulty");
    eprintln!("the crash declared faulty by all survivors in {:.1} s", killed.elapsed().as_secs_f64());
    assert!(wait_until(Duration::from_secs(10), || (1..=5).all(|i| lab.view(i) == names(1..=5))));
}

/// The two tests build namespaces and load the machine: one at a time.
static SERIAL: std::sync::Mutex<()> = std::sync::Mutex::new(());

#[test]
fn agents_over_tcp_only_with_udp_blocked_converge_heal_and_detect_a_crash() {
    if let Err(why) = available() {
        eprintln!("skipped: network-namespace test needs root, ip and iptables ({why})");
        return;
    }
    let _serial = SERIAL.lock().unwrap_or_else(std::sync::PoisonError::into_inner);
    let agent = swim_tests::agent_bin::build().expect("the agent builds");
    let dir = std::env::temp_dir().join(format!("swim-netns-tcp-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let prefix = format!("sw{}t", std::process::id() % 100_000);
    let mut lab = Lab::build(&prefix).unwrap_or_else(|e| panic!("setting up namespaces: {e}"));
    // No UDP gets through, from the start to the end.
    lab.base = vec![["-p", "udp", "-j", "DROP"].map(String::from).to_vec()];
    for i in 1..=AGENTS {
        lab.faults(i, &[]);
    }
    let key_file = dir.join("cluster.key");
    let made = Command::new(&agent).args(["keygen", "--out", key_file.to_str().unwrap()]).output().unwrap();
    assert!(made.status.success(), "keygen: {}", String::from_utf8_lossy(&made.stderr));
    lab.start(&agent, &dir, &key_file, &["--transport", "tcp"]).unwrap();
    let everyone = names(1..=AGENTS);
    let converged = wait_until(Duration::from_secs(30), || (1..=AGENTS).all(|i| lab.view(i) == everyone));
    assert!(
        converged,
        "six agents over TCP only, UDP blocked, converge: {:?}",
        (1..=AGENTS).map(|i| lab.view(i)).collect::<Vec<_>>()
    );
    assert!(lab.log(2).contains("(tcp, encrypted)"), "the agent runs over TCP: {}", lab.log(2));
    partition_heal_and_crash(&mut lab);
    eprintln!("namespaces over TCP only, UDP blocked: converged, partition healed, crash detected");
    drop(lab);
    let _ = std::fs::remove_dir_all(&dir);
}
