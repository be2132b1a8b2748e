//! `cargo xtask paper --quick` through the library: every experiment runs
//! at small sizes, its figures are sane, and the report and plots are
//! written.

#![allow(
    clippy::indexing_slicing,
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::cast_possible_truncation
)]

use swim_tests::alloc_counter::CountingAllocator;
use swim_tests::paper::{Command, Options, doc, run, swim};

// The scale measurement reads the heap size from the counting allocator.
#[global_allocator]
static ALLOC: CountingAllocator = CountingAllocator;

#[test]
fn the_quick_evaluation_runs_and_writes_its_report() {
    let args: Vec<String> = ["--quick", "--threads", "2"].iter().map(|s| s.to_string()).collect();
    let command = Command::parse(&args).unwrap();
    assert_eq!(command.options.sizes, Options::quick().sizes);
    let results = run(&command.options);

    let s = results.swim.as_ref().expect("the SWIM experiments ran");
    for row in &s.rows {
        // One ping and one ack sent and received per member and period.
        assert!((row.sent - 2.0).abs() < 0.1 && (row.received - 2.0).abs() < 0.1, "{row:?}");
        assert!(row.crashes > 0 && row.first_detection > 0.5 && row.first_detection < 4.0, "{row:?}");
        assert_eq!(row.suspicion_timeout, swim::suspicion_expected(row.n), "the paper's fixed timeout");
        assert!(row.spread.is_finite() && row.spread < 10.0, "{row:?}");
    }
    let by_name = |name: &str| s.variants.iter().find(|v| v.name == name).unwrap();
    assert!(
        by_name("+ suspicion").false_detections <= by_name("+ infection").false_detections,
        "suspicion does not add false detections"
    );
    assert!(by_name("SWIM basic").group_size.len() == command.options.fp_periods as usize);

    let l = results.lifeguard.as_ref().expect("the Lifeguard experiment ran");
    assert_eq!(l.rows.len(), 2 * 2 * 2, "C × D × (on, off)");
    assert!(l.totals(true).false_healthy <= l.totals(false).false_healthy);
    assert!(l.totals(true).first_median.is_finite(), "real crashes are detected");

    let d = results.delivery.as_ref().expect("the delivery measurement ran");
    assert_eq!(d.rows.len(), 4, "sizes × loss rates");
    for row in &d.rows {
        assert_eq!((row.delivered, row.duplicates), (row.expected, 0), "every broadcast, exactly once: {row:?}");
    }

    let g = results.gossip.as_ref().expect("the gossip-rounds comparison ran");
    assert_eq!(g.rows.len(), 2);
    assert!(g.rows.iter().all(|r| r.join_32.is_finite() && r.crash_all.is_finite()), "{g:?}");

    let sc = results.scale.as_ref().expect("the scale measurement ran");
    assert_eq!(sc.rows.len(), 2);
    for row in &sc.rows {
        assert!(row.bytes_per_member > 50.0 && row.member_periods_per_s > 0.0, "{row:?}");
        assert!(row.step_p50_us <= row.step_p99_us && row.step_p99_us <= row.step_max_us, "{row:?}");
    }
    assert!(sc.rows[1].full < sc.rows[1].members, "above the full limit, responders stand in");

    let sel = results.selection.as_ref().expect("the probe-selection comparison ran");
    let o = &command.options;
    assert_eq!(sel.rows.len(), 3 * o.sel_ks.len() * o.sel_sizes.len(), "strategies × k × sizes");
    for row in &sel.rows {
        assert!(row.crashes > 0 && row.first_mean > 0.0 && row.first_worst < 10.0, "every crash detected: {row:?}");
        assert!(row.first_mean <= row.first_p99 && row.first_p99 <= row.first_worst, "{row:?}");
        // k pings and k acks a member a period (plus the gossip rounds'
        // and helpers' datagrams): the same load for every strategy at a k.
        let k = row.k as f64;
        assert!(row.load_mean >= 1.9 * k && row.load_mean < 2.0 * k + 1.0, "{row:?}");
        assert!(row.near_all.is_finite() && row.far_all.is_finite(), "everyone learns of every crash: {row:?}");
    }

    let dir = std::env::temp_dir().join(format!("swim-paper-{}", std::process::id()));
    let written = doc::write(&results, &dir, "cargo xtask paper --quick").unwrap();
    for file in [
        "paper.md",
        "load.svg",
        "first_detection.svg",
        "spread.svg",
        "suspicion.svg",
        "false_positives.svg",
        "lifeguard.svg",
        "selection.svg",
        "scale.svg",
    ] {
        assert!(written.iter().any(|w| w == file), "{file} written");
        let text = std::fs::read_to_string(dir.join(file)).unwrap();
        assert!(!text.is_empty());
    }
    let md = std::fs::read_to_string(dir.join("paper.md")).unwrap();
    assert!(md.contains("cargo xtask paper --quick") && md.contains("| 16 |"));
    assert!(md.contains("## Probe selection") && md.contains("**When buckets help.**"));
    std::fs::remove_dir_all(&dir).unwrap();
}

#[test]
fn bad_options_are_refused_with_the_flag_named() {
    let parse = |args: &[&str]| Command::parse(&args.iter().map(|s| s.to_string()).collect::<Vec<_>>());
    assert!(parse(&["--help"]).unwrap().help);
    assert!(parse(&["--sizes", "8,x"]).unwrap_err().contains("--sizes"));
    assert!(parse(&["--loss", "1.5"]).unwrap_err().contains("--loss"));
    assert!(parse(&["--only", "nope"]).unwrap_err().contains("nope"));
    assert!(parse(&["--sel-ks", "0,2"]).unwrap_err().contains("--sel-ks"));
    assert_eq!(parse(&["--only", "selection", "--sel-sizes", "32"]).unwrap().options.sel_sizes, [32]);
    assert!(parse(&["--seeds"]).unwrap_err().contains("needs a value"));
    assert!(parse(&["--frobnicate", "1"]).unwrap_err().contains("unknown option"));
    assert_eq!(parse(&["--no-write"]).unwrap().out, None);
    assert_eq!(parse(&[]).unwrap().out.as_deref(), Some("docs/results"));
    assert_eq!(parse(&["--only", "swim"]).unwrap().out, None, "a partial run does not replace the report");
    assert_eq!(parse(&["--only", "swim", "--out", "x"]).unwrap().out.as_deref(), Some("x"));
}
