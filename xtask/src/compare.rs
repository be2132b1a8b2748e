//! `cargo xtask compare`: swim and hashicorp/memberlist side by side, on
//! this machine, in one invocation, runs alternating.
//!
//! The memberlist side is `xtask/compare/memberlist/main.go`, built against
//! Debian's `golang-github-hashicorp-memberlist-dev` (installed here if
//! missing, as root; `GO111MODULE=off`, `GOPATH=/usr/share/gocode`, no
//! network). The swim side is `tests/src/bin/compare.rs` on the public API.
//! Both run the same scenarios with N members in one process over loopback
//! UDP at T = 200 ms, probe timeout 100 ms, gossip every 100 ms; each prints
//! `key=value` figures, and this command prints, per figure and size,
//! `compare: figure=NAME n=N memberlist=X swim=Y ratio=Y/X verdict=ahead|even|behind`
//! (every figure is lower-is-better), and writes `docs/results/compare.md`.

use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::path::{Path, PathBuf};
use std::process::Command;

/// Figures of the main scenario, in print order: key, what it is.
const MAIN: &[(&str, &str)] = &[
    ("join_ms", "burst join: all see all (ms)"),
    ("not_converged", "burst join: runs not converged within 60 s"),
    ("cpu_us", "CPU per member-period, steady (µs)"),
    ("datagrams", "datagrams sent per member-period, steady"),
    ("bytes", "bytes sent per member-period, steady"),
    ("rss_kb", "RSS per member in process (KiB)"),
    ("first_suspect_periods", "crash: first suspicion (periods)"),
    ("first_faulty_periods", "crash: first faulty verdict (periods)"),
    ("all_faulty_periods", "crash: all survivors declared it (periods)"),
];

struct Options {
    runs: usize,
    sizes: Vec<usize>,
    loss_runs: usize,
}

fn parse(args: &[String]) -> Result<Options, String> {
    let mut o = Options { runs: 3, sizes: vec![32, 128], loss_runs: 3 };
    let mut it = args.iter();
    while let Some(a) = it.next() {
        let mut value = || it.next().ok_or(format!("{a} needs a value"));
        match a.as_str() {
            "--runs" => o.runs = value()?.parse().map_err(|_| "--runs: not a number")?,
            "--loss-runs" => o.loss_runs = value()?.parse().map_err(|_| "--loss-runs: not a number")?,
            "--sizes" => {
                o.sizes = value()?
                    .split(',')
                    .map(|s| s.parse().map_err(|_| format!("--sizes: `{s}` is not a number")))
                    .collect::<Result<_, _>>()?;
            }
            "--quick" => o = Options { runs: 1, sizes: vec![32], loss_runs: 1 },
            "-h" | "--help" => {
                return Err("usage: cargo xtask compare [--runs R] [--sizes 32,128] [--loss-runs R] [--quick]".into());
            }
            other => return Err(format!("unknown option `{other}`")),
        }
    }
    if o.runs == 0 || o.sizes.is_empty() {
        return Err("nothing to run".into());
    }
    Ok(o)
}

const GOPATH: &str = "/usr/share/gocode";

/// Go and memberlist from Debian's packages, installed if missing.
fn ensure_go() -> Result<(), String> {
    let memberlist = Path::new(GOPATH).join("src/github.com/hashicorp/memberlist");
    let have_go = Command::new("go").arg("version").output().is_ok_and(|o| o.status.success());
    if have_go && memberlist.is_dir() {
        return Ok(());
    }
    println!("compare: installing golang-go and golang-github-hashicorp-memberlist-dev (apt-get)");
    let status = Command::new("apt-get")
        .args(["install", "-y", "-qq", "golang-go", "golang-github-hashicorp-memberlist-dev"])
        .status()
        .map_err(|e| format!("cannot run apt-get: {e}"))?;
    if status.success() { Ok(()) } else { Err(format!("apt-get failed ({status}); run as root")) }
}

fn build(root: &Path) -> Result<(PathBuf, PathBuf), String> {
    let out = root.join("target/compare");
    std::fs::create_dir_all(&out).map_err(|e| format!("{}: {e}", out.display()))?;
    let go_bin = out.join("memberlist-compare");
    let status = Command::new("go")
        .current_dir(root.join("xtask/compare/memberlist"))
        .env("GO111MODULE", "off")
        .env("GOPATH", GOPATH)
        .env("GOFLAGS", "")
        .args(["build", "-o"])
        .arg(&go_bin)
        .arg(".")
        .status()
        .map_err(|e| format!("cannot run go: {e}"))?;
    if !status.success() {
        return Err(format!("go build failed ({status})"));
    }
    let status = Command::new(crate::cargo())
        .current_dir(root)
        .args(["build", "--quiet", "--release", "-p", "swim-tests", "--bin", "compare"])
        .status()
        .map_err(|e| format!("cannot run cargo: {e}"))?;
    if !status.success() {
        return Err(format!("building the swim side failed ({status})"));
    }
    Ok((go_bin, root.join("target/release/compare")))
}

/// Runs one side once; its `key=value` lines.
fn run_side(bin: &Path, scenario: &str, n: usize, seed: usize, pace: u64) -> Result<BTreeMap<String, f64>, String> {
    let output = Command::new(bin)
        .args(["--scenario", scenario, "--n", &n.to_string(), "--seed", &seed.to_string()])
        .args(["--pace", &pace.to_string()])
        .output()
        .map_err(|e| format!("{}: {e}", bin.display()))?;
    if !output.status.success() {
        return Err(format!("{} {scenario} n={n} failed: {}", bin.display(), String::from_utf8_lossy(&output.stderr)));
    }
    let text = String::from_utf8_lossy(&output.stdout);
    Ok(text
        .lines()
        .filter_map(|l| l.split_once('='))
        .filter_map(|(k, v)| v.trim().parse().ok().map(|v| (k.trim().to_owned(), v)))
        .collect())
}

fn median(values: &mut [f64]) -> Option<f64> {
    if values.is_empty() {
        return None;
    }
    values.sort_by(f64::total_cmp);
    let mid = values.len() / 2;
    let upper = *values.get(mid)?;
    if values.len() % 2 == 1 { Some(upper) } else { Some((values.get(mid - 1)? + upper) / 2.0) }
}

struct Row {
    figure: &'static str,
    what: &'static str,
    n: usize,
    memberlist: Option<f64>,
    swim: Option<f64>,
    runs: (usize, usize),
}

impl Row {
    fn verdict(&self) -> (String, &'static str) {
        match (self.memberlist, self.swim) {
            (Some(m), Some(s)) if m == 0.0 && s == 0.0 => ("-".into(), "even"),
            (Some(0.0), Some(_)) => ("inf".into(), "behind"),
            (Some(m), Some(s)) => (format!("{:.2}", s / m), if s < m { "ahead" } else { "behind" }),
            (None, Some(_)) => ("-".into(), "ahead"),
            _ => ("-".into(), "behind"),
        }
    }
}

fn show(v: Option<f64>) -> String {
    v.map_or("n/a".into(), |v| if v.fract() == 0.0 { format!("{v:.0}") } else { format!("{v:.2}") })
}

pub(crate) fn run(args: &[String]) -> Result<(), String> {
    let o = parse(args)?;
    let root = crate::root();
    ensure_go()?;
    let (go_bin, swim_bin) = build(&root)?;
    let mut rows = Vec::new();
    let mut paced_runs: BTreeMap<(&str, usize), usize> = BTreeMap::new();
    let mut floors = String::new();
    for &n in &o.sizes {
        let mut values: BTreeMap<(&str, &str), Vec<f64>> = BTreeMap::new();
        for r in 0..o.runs {
            // Alternate: memberlist, then swim, with the same seed.
            for (side, bin) in [("memberlist", &go_bin), ("swim", &swim_bin)] {
                let mut figures = run_side(bin, "main", n, r + 1, 0)?;
                println!("compare: run side={side} n={n} seed={} {figures:?}", r + 1);
                let slow = figures.get("join_ms").is_none_or(|&ms| ms > SLOW_JOIN_MS)
                    || figures.get("datagrams").is_some_and(|&d| d > BUSY_DATAGRAMS);
                if figures.contains_key("not_converged") || slow {
                    // The burst did not converge, or took so long that the
                    // cluster was still recovering from it: the other
                    // figures come from a cluster formed at a gentler pace.
                    let mut paced = run_side(bin, "main", n, r + 1, PACE_MS)?;
                    println!("compare: run side={side} n={n} seed={} pace={PACE_MS}ms {paced:?}", r + 1);
                    paced.remove("join_ms");
                    paced.remove("not_converged");
                    figures.extend(paced);
                    *paced_runs.entry((side, n)).or_default() += 1;
                }
                for (key, _) in MAIN {
                    if let Some(v) = figures.get(*key) {
                        values.entry((side, key)).or_default().push(*v);
                    }
                }
            }
        }
        // What the kernel and tokio cost alone at this rate of datagrams.
        let mut floor = Vec::new();
        for r in 0..o.runs {
            let figures = run_side(&swim_bin, "floor", n, r + 1, 0)?;
            println!("compare: run side=floor n={n} seed={} {figures:?}", r + 1);
            floor.extend(figures.get("cpu_us").copied());
        }
        let floor = median(&mut floor);
        let ml_cpu = median(&mut values.get(&("memberlist", "cpu_us")).cloned().unwrap_or_default());
        println!("compare: floor n={n} cpu_us={}", show(floor));
        let _ = write!(
            floors,
            "\n- N = {n}: {} µs per member-period (memberlist's CPU / 20: {} µs).",
            show(floor),
            show(ml_cpu.map(|m| m / 20.0))
        );
        for (key, what) in MAIN {
            let mut m = values.get(&("memberlist", *key)).cloned().unwrap_or_default();
            let mut s = values.get(&("swim", *key)).cloned().unwrap_or_default();
            let mut runs = (m.len(), s.len());
            let (m, s) = if *key == "not_converged" {
                runs = (o.runs, o.runs);
                // Summed from +0.0: an empty float sum is -0.0.
                (Some(m.iter().fold(0.0, |a, b| a + b)), Some(s.iter().fold(0.0, |a, b| a + b)))
            } else {
                (median(&mut m), median(&mut s))
            };
            rows.push(Row { figure: key, what, n, memberlist: m, swim: s, runs });
        }
    }
    // False verdicts at 10% loss over 87 periods, N = 32: totals over the runs.
    let (mut m_false, mut s_false) = (0.0, 0.0);
    for r in 0..o.loss_runs {
        for (side, bin) in [("memberlist", &go_bin), ("swim", &swim_bin)] {
            let figures = run_side(bin, "loss", 32, r + 1, 0)?;
            println!("compare: run side={side} loss n=32 seed={} {figures:?}", r + 1);
            let v = figures.get("false_verdicts").copied().unwrap_or(f64::NAN);
            if side == "memberlist" { m_false += v } else { s_false += v }
        }
    }
    rows.push(Row {
        figure: "false_verdicts",
        what: "false faulty verdicts, 10% loss, 87 periods (total over the runs)",
        n: 32,
        memberlist: Some(m_false),
        swim: Some(s_false),
        runs: (o.loss_runs, o.loss_runs),
    });
    let mut table = String::new();
    for row in &rows {
        let (ratio, verdict) = row.verdict();
        println!(
            "compare: figure={} n={} memberlist={} swim={} ratio={ratio} verdict={verdict}",
            row.figure,
            row.n,
            show(row.memberlist),
            show(row.swim),
        );
        let _ = writeln!(
            table,
            "| {} | {} | {} | {} | {ratio} | {verdict} | {}/{} |",
            row.what,
            row.n,
            show(row.memberlist),
            show(row.swim),
            row.runs.0,
            row.runs.1
        );
    }
    let mut paced = String::new();
    for ((side, n), count) in &paced_runs {
        let _ = write!(
            paced,
            "\n\n{side}'s burst join at N = {n} did not converge within 10 s (50 periods), or left it sending more \
             than {BUSY_DATAGRAMS} datagrams per member-period in the steady window, in {count} of {} runs; in \
             those runs its other figures come from a second run whose joins came {PACE_MS} ms apart.",
            o.runs
        );
    }
    let notes = format!(
        "{paced}\n\nThe CPU floor: plain tokio UDP sockets in one process, each sending one 48-byte ping a period \
         to a random other, which answers (the least traffic a SWIM period has: 2 datagrams per \
         member-period), measured as the CPU figure above (`compare --scenario floor`):{floors}"
    );
    write_report(&root, &o, &table, &notes)
}

/// Between joins, where a burst did not converge.
const PACE_MS: u64 = 50;

/// A burst that took longer than this (50 periods) to converge leaves a
/// cluster still busy with it (a member melting down suspects every other
/// at once): its steady-state and crash figures are taken from a paced run.
const SLOW_JOIN_MS: f64 = 50.0 * 200.0;

/// Datagrams per member-period above which a steady window is not steady:
/// a settled SWIM cluster sends about two (a ping and its ack), and a
/// member still gossiping the burst, or suspecting its peers because it is
/// overloaded, sends more; its figures then come from a paced run too.
const BUSY_DATAGRAMS: f64 = 3.0;

fn write_report(root: &Path, o: &Options, table: &str, paced: &str) -> Result<(), String> {
    let go = Command::new("go").arg("version").output().map(|o| String::from_utf8_lossy(&o.stdout).trim().to_owned());
    let cpus = std::thread::available_parallelism().map_or(0, usize::from);
    let text = format!(
        "# swim against hashicorp/memberlist\n\n\
         Written by `cargo xtask compare` ({} runs per size, alternating memberlist and swim with the same \
         seed; medians; {} loss runs). Both sides: N members in one process over loopback UDP on this \
         machine ({cpus} CPUs), joined one after another through the first member; T = 200 ms, probe \
         timeout 100 ms, gossip every 100 ms.\n\n\
         - memberlist 0.2.2 (Debian's `golang-github-hashicorp-memberlist-dev`, {}), \
         `DefaultLANConfig` with those three settings; its transport wrapped to count (and, in the loss \
         runs, drop) sent datagrams.\n\
         - swim: `Config::lan()` with those settings (probe timeout bounds 10–105 ms), joins from one \
         address not rate-limited (every member shares 127.0.0.1); the loss runs send through the \
         `faults` transport.\n\n\
         Figures: join until every member counts N live (polled every 5 ms; a run that has not \
         converged after 60 s is counted, and where one took longer than 10 s (50 periods) or left the \
         cluster busy (over {BUSY_DATAGRAMS} datagrams per member-period in the steady window) the other \
         figures of that run come from a second one with joins {PACE_MS} ms apart); after ten quiet periods, \
         25 periods of steady state (CPU from the kernel's per-thread scheduler statistics; datagrams \
         and bytes as sent); RSS growth per member after the joins; then the last three members stop \
         without a word, one after another, each once every survivor declared the previous one \
         (the crash figures are means over the three; first suspicion and faulty verdicts as the \
         members report them: memberlist's `msg.suspect` metric and `NotifyLeave`, swim's events). \
         False verdicts: converged, then 10% of sent datagrams dropped for 87 periods. Lower is better \
         everywhere; the ratio is swim / memberlist.\n\n\
         | figure | N | memberlist | swim | ratio | verdict | runs (m/s) |\n|---|---|---|---|---|---|---|\n{table}{paced}\n",
        o.runs,
        o.loss_runs,
        go.unwrap_or_else(|_| "go".into()),
    );
    let path = root.join("docs/results/compare.md");
    std::fs::write(&path, text).map_err(|e| format!("{}: {e}", path.display()))?;
    println!("compare: wrote {}", path.display());
    Ok(())
}
