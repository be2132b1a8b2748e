//! Writes the results: `paper.md` (tables, with the papers' values and the
//! analytical expectations beside ours, and what explains each gap) and one
//! SVG plot per experiment.

use std::fmt::Write as _;
use std::path::Path;

use super::plot::{Chart, Scale, Series};
use super::{Experiment, Results, lifeguard, scale, selection, swim};

/// The plots, by file name.
pub fn charts(r: &Results) -> Vec<(&'static str, Chart)> {
    let mut out = Vec::new();
    if let Some(s) = &r.swim {
        let xs = |f: &dyn Fn(&swim::SizeRow) -> f64| -> Vec<(f64, f64)> {
            s.rows.iter().map(|row| (row.n as f64, f(row))).collect()
        };
        out.push((
            "load.svg",
            Chart {
                title: "Message load (K = 1, T = 2 s)".into(),
                x_label: "group size N".into(),
                y_label: "datagrams per member per period".into(),
                y_scale: Scale::Linear,
                series: vec![
                    Series::measured("sent", xs(&|r| r.sent)),
                    Series::measured("received", xs(&|r| r.received)),
                    Series::measured("busiest member (sent + received) / 2", xs(&|r| r.busiest)),
                    Series::reference("expected: 2.0", xs(&|_| 2.0)),
                ],
            },
        ));
        out.push((
            "first_detection.svg",
            Chart {
                title: "First detection of a crash".into(),
                x_label: "group size N".into(),
                y_label: "protocol periods".into(),
                y_scale: Scale::Linear,
                series: vec![
                    Series::measured("measured: crash to first suspicion", xs(&|r| r.first_detection)),
                    Series::reference(
                        "paper's analysis (synchronised periods)",
                        xs(&|r| swim::first_detection_expected(r.n)),
                    ),
                    Series::reference(
                        "unsynchronised periods: 1 + (N-1)/N",
                        xs(&|r| swim::first_detection_unsynchronised(r.n)),
                    ),
                ],
            },
        ));
        out.push((
            "spread.svg",
            Chart {
                title: "Latency of spread (an update reaching every member)".into(),
                x_label: "group size N".into(),
                y_label: "protocol periods (median)".into(),
                y_scale: Scale::Linear,
                series: vec![
                    Series::measured("measured: user broadcast", xs(&|r| r.spread)),
                    Series::measured("measured: faulty verdict, first to all", xs(&|r| r.verdict_spread)),
                    Series::reference("logistic estimate ln(2(N-1)(N-1/2))/2", xs(&|r| swim::spread_expected(r.n))),
                ],
            },
        ));
        out.push((
            "suspicion.svg",
            Chart {
                title: "Suspicion timeout".into(),
                x_label: "group size N".into(),
                y_label: "protocol periods".into(),
                y_scale: Scale::Linear,
                series: vec![
                    Series::measured("measured: first suspicion to first faulty verdict", xs(&|r| r.suspicion_timeout)),
                    Series::reference("3⌈log10(N+1)⌉", xs(&|r| swim::suspicion_expected(r.n))),
                ],
            },
        ));
        let mut series: Vec<Series> = s
            .variants
            .iter()
            .map(|v| {
                Series::measured(v.name, v.group_size.iter().enumerate().map(|(p, y)| ((p + 1) as f64, *y)).collect())
            })
            .collect();
        if let Some(v) = s.variants.first() {
            series.push(Series::reference(
                "members joined",
                v.joined.iter().enumerate().map(|(p, y)| ((p + 1) as f64, *y)).collect(),
            ));
        }
        out.push((
            "false_positives.svg",
            Chart {
                title: "Group size seen under 10% loss, members joining one by one".into(),
                x_label: "protocol period".into(),
                y_label: "members seen alive or suspect (mean over members)".into(),
                y_scale: Scale::Linear,
                series,
            },
        ));
    }
    if let Some(l) = &r.lifeguard {
        let mut slowed: Vec<usize> = l.rows.iter().map(|r| r.slowed).collect();
        slowed.sort_unstable();
        slowed.dedup();
        let sum = |lifeguard: bool, f: fn(&lifeguard::Row) -> u64| -> Vec<(f64, f64)> {
            slowed
                .iter()
                .map(|&c| {
                    let total: u64 = l.rows.iter().filter(|r| r.lifeguard == lifeguard && r.slowed == c).map(f).sum();
                    (c as f64, total as f64)
                })
                .collect()
        };
        out.push((
            "lifeguard.svg",
            Chart {
                title: format!(
                    "False detections, {} members, {} runs × {} s per point, all D",
                    l.members, l.runs, l.seconds
                ),
                x_label: "slowed members C".into(),
                y_label: "false failure detections".into(),
                y_scale: Scale::Log1p,
                series: vec![
                    Series::measured("no Lifeguard: any member", sum(false, |r| r.detections_all)),
                    Series::measured("no Lifeguard: healthy members", sum(false, |r| r.detections_healthy)),
                    Series::measured("Lifeguard: any member", sum(true, |r| r.detections_all)),
                    Series::measured("Lifeguard: healthy members", sum(true, |r| r.detections_healthy)),
                ],
            },
        ));
    }
    if let Some(s) = &r.selection {
        let ks: Vec<usize> = s
            .rows
            .iter()
            .map(|r| r.k)
            .filter(|&k| k > 1)
            .collect::<std::collections::BTreeSet<_>>()
            .into_iter()
            .collect();
        let mut series = Vec::new();
        for &k in &ks {
            for strategy in selection::STRATEGIES {
                let points = s
                    .rows
                    .iter()
                    .filter(|r| r.strategy == strategy && r.k == k)
                    .map(|r| ((r.n as f64).log10(), r.first_p99))
                    .collect();
                series.push(Series::measured(format!("{}, k = {k}", selection::name(strategy)), points));
            }
        }
        out.push((
            "selection.svg",
            Chart {
                title: "First detection of a crash by probe selection (99th percentile)".into(),
                x_label: "log10(members)".into(),
                y_label: "protocol periods".into(),
                y_scale: Scale::Linear,
                series,
            },
        ));
    }
    if let Some(s) = &r.scale {
        let xs = |f: &dyn Fn(&scale::Row) -> f64| -> Vec<(f64, f64)> {
            s.rows.iter().map(|row| ((row.members as f64).log10(), f(row))).collect()
        };
        out.push((
            "scale.svg",
            Chart {
                title: "Step time against cluster size".into(),
                x_label: "log10(members)".into(),
                y_label: "µs per step".into(),
                y_scale: Scale::Log1p,
                series: vec![
                    Series::measured("median", xs(&|r| r.step_p50_us)),
                    Series::measured("99th percentile", xs(&|r| r.step_p99_us)),
                    Series::measured("99.9th percentile", xs(&|r| r.step_p999_us)),
                ],
            },
        ));
    }
    out
}

/// One decimal, or a dash for no value.
pub(super) fn f1(x: f64) -> String {
    if x.is_finite() { format!("{x:.1}") } else { "–".to_owned() }
}

/// Two decimals, or a dash for no value.
pub(super) fn f2(x: f64) -> String {
    if x.is_finite() { format!("{x:.2}") } else { "–".to_owned() }
}

/// The markdown report.
pub fn markdown(r: &Results, command: &str) -> String {
    let mut md = String::new();
    let _ = writeln!(
        md,
        "# Evaluation: the SWIM and Lifeguard experiments, broadcasts, gossip rounds, probe selection, and scale\n"
    );
    let _ = writeln!(
        md,
        "Generated by `{command}` (see `cargo xtask paper --help` for every knob); every \
         figure below comes from seeded simulations and is reproduced exactly by the same \
         command, except the wall-clock timings of the scale section. Do not edit by hand: \
         regenerate.\n"
    );
    for (e, secs) in &r.seconds {
        let name = match e {
            Experiment::Swim => "SWIM paper experiments",
            Experiment::Lifeguard => "Lifeguard experiment",
            Experiment::Delivery => "broadcast delivery",
            Experiment::Gossip => "gossip rounds",
            Experiment::Selection => "probe selection",
            Experiment::Scale => "scale",
        };
        let _ = writeln!(md, "- {name}: {secs:.0} s of wall time on this machine");
    }
    md.push('\n');
    if let Some(s) = &r.swim {
        super::prose::swim(&mut md, s, r.options.as_ref());
    }
    if let Some(l) = &r.lifeguard {
        super::prose::lifeguard(&mut md, l);
    }
    if let Some(d) = &r.delivery {
        super::prose::delivery(&mut md, d);
    }
    if let Some(g) = &r.gossip {
        super::prose::gossip(&mut md, g);
    }
    if let Some(s) = &r.selection {
        super::prose::selection(&mut md, s);
    }
    if let Some(s) = &r.scale {
        super::prose::scale(&mut md, s);
    }
    md
}

/// Writes `paper.md` and the plots into `dir`.
pub fn write(r: &Results, dir: &Path, command: &str) -> std::io::Result<Vec<String>> {
    std::fs::create_dir_all(dir)?;
    let mut written = Vec::new();
    for (name, chart) in charts(r) {
        std::fs::write(dir.join(name), chart.svg())?;
        written.push(name.to_owned());
    }
    std::fs::write(dir.join("paper.md"), markdown(r, command))?;
    written.push("paper.md".to_owned());
    Ok(written)
}

/// A markdown table row.
pub(super) fn row(cells: &[String]) -> String {
    format!("| {} |\n", cells.join(" | "))
}
