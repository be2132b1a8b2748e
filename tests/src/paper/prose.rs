//! The text of `paper.md`: tables and what explains each gap. Numbers are
//! interpolated from the results; the reasoning is fixed text, checked
//! against the numbers when the results are regenerated.

use std::fmt::Write as _;

use super::doc::{f1, f2, row};
use super::{Options, lifeguard, scale, swim};

/// The SWIM paper's experiments.
pub(super) fn swim(md: &mut String, s: &swim::Results, o: Option<&Options>) {
    let seeds = o.map_or(0, |o| o.seeds);
    let _ = writeln!(md, "## The SWIM paper's experiments\n");
    let _ = writeln!(
        md,
        "Parameters as in the paper: K = 1 indirect probe, protocol period T = 2 s, every update \
         piggybacked 3⌈log10(N+1)⌉ times, suspicion timeout 3⌈log10(N+1)⌉ periods, no Lifeguard, \
         no periodic sync (`Config::swim_paper()`). Network: 0.5 ms one-way latency with up to \
         0.2 ms jitter, no loss except where stated. {seeds} runs per group size.\n"
    );
    let _ = writeln!(md, "### Message load\n\n![message load](load.svg)\n");
    md.push_str(&row(&["N", "sent", "received", "busiest", "expected", "paper"].map(String::from)));
    md.push_str("|---|---|---|---|---|---|\n");
    for r in &s.rows {
        md.push_str(&row(&[r.n.to_string(), f2(r.sent), f2(r.received), f2(r.busiest), "2.0".into(), "≈ 2".into()]));
    }
    md.push('\n');
    let _ = writeln!(md, "### First detection\n\n![first detection](first_detection.svg)\n");
    md.push_str(&row(
        &["N", "crashes", "measured (periods)", "± sd", "paper's analysis", "analysis + 1"].map(String::from)
    ));
    md.push_str("|---|---|---|---|---|---|\n");
    for r in &s.rows {
        let e = swim::first_detection_expected(r.n);
        md.push_str(&row(&[
            r.n.to_string(),
            r.crashes.to_string(),
            f2(r.first_detection),
            f2(r.first_detection_sd),
            f2(e),
            f2(e + 1.0),
        ]));
    }
    md.push('\n');
    let _ = writeln!(md, "### Latency of spread\n\n![latency of spread](spread.svg)\n");
    md.push_str(&row(&[
        "N",
        "broadcasts",
        "reached all",
        "median (periods)",
        "faulty verdict, first to all",
        "mean-field",
    ]
    .map(String::from)));
    md.push_str("|---|---|---|---|---|---|\n");
    for r in &s.rows {
        md.push_str(&row(&[
            r.n.to_string(),
            r.broadcasts.to_string(),
            (r.broadcasts - r.incomplete).to_string(),
            f1(r.spread),
            f1(r.verdict_spread),
            f1(swim::spread_expected(r.n)),
        ]));
    }
    md.push('\n');
    let _ = writeln!(md, "### Suspicion timeout\n\n![suspicion timeout](suspicion.svg)\n");
    md.push_str(&row(&["N", "measured (periods)", "3⌈log10(N+1)⌉"].map(String::from)));
    md.push_str("|---|---|---|\n");
    for r in &s.rows {
        md.push_str(&row(&[r.n.to_string(), f2(r.suspicion_timeout), f1(swim::suspicion_expected(r.n))]));
    }
    md.push('\n');
    let _ = writeln!(md, "### False positives under 10% loss\n\n![false positives](false_positives.svg)\n");
    md.push_str(&row(
        &["variant", "false faulty verdicts per run", "false suspicions per run", "final group size"].map(String::from)
    ));
    md.push_str("|---|---|---|---|\n");
    for v in &s.variants {
        md.push_str(&row(&[
            v.name.to_owned(),
            f1(v.false_verdicts),
            f1(v.false_suspicions),
            f1(v.group_size.last().copied().unwrap_or(f64::NAN)),
        ]));
    }
    md.push('\n');
}

/// The Lifeguard experiment.
pub(super) fn lifeguard(md: &mut String, l: &lifeguard::Results) {
    let _ = writeln!(md, "## The Lifeguard experiment\n\n![lifeguard](lifeguard.svg)\n");
    md.push_str(&row(&[
        "C",
        "D (ms)",
        "false verdicts, off",
        "on",
        "about healthy members, off",
        "on",
        "first verdict of a crash (median s), off",
        "on",
    ]
    .map(String::from)));
    md.push_str("|---|---|---|---|---|---|---|---|\n");
    let find = |c: usize, d: u64, on: bool| l.rows.iter().find(|r| (r.slowed, r.delay_ms, r.lifeguard) == (c, d, on));
    let mut keys: Vec<(usize, u64)> = l.rows.iter().map(|r| (r.slowed, r.delay_ms)).collect();
    keys.dedup();
    for (c, d) in keys {
        let (Some(off), Some(on)) = (find(c, d, false), find(c, d, true)) else { continue };
        md.push_str(&row(&[
            c.to_string(),
            d.to_string(),
            off.false_all.to_string(),
            on.false_all.to_string(),
            off.false_healthy.to_string(),
            on.false_healthy.to_string(),
            f1(super::stats::median(&off.first_detection)),
            f1(super::stats::median(&on.first_detection)),
        ]));
    }
    let (off, on) = (l.totals(false), l.totals(true));
    let _ = writeln!(
        md,
        "\nTotals: false verdicts {} without Lifeguard, {} with ({}); about healthy members {} and {} ({}). \
         Real crashes ({} per mode): first faulty verdict after a median {} s without and {} s with Lifeguard; \
         every healthy member had it after {} s and {} s ({} and {} not complete in time).\n",
        off.false_all,
        on.false_all,
        lifeguard::Results::ratio(off.false_all, on.false_all),
        off.false_healthy,
        on.false_healthy,
        lifeguard::Results::ratio(off.false_healthy, on.false_healthy),
        off.crashes,
        f1(off.first_median),
        f1(on.first_median),
        f1(off.full_median),
        f1(on.full_median),
        off.undetected,
        on.undetected,
    );
}

/// The scale measurements.
pub(super) fn scale(md: &mut String, s: &scale::Results) {
    let _ = writeln!(md, "## Scale\n\n![step times](scale.svg)\n");
    md.push_str(&row(&[
        "members",
        "full members",
        "build (s)",
        "bytes per member",
        "learn all (ms)",
        "member-periods/s",
        "steps per member-period",
        "p50 (µs)",
        "p99 (µs)",
        "p99.9 (µs)",
        "max (µs)",
    ]
    .map(String::from)));
    md.push_str("|---|---|---|---|---|---|---|---|---|---|---|\n");
    for r in &s.rows {
        md.push_str(&row(&[
            r.members.to_string(),
            r.full.to_string(),
            f1(r.build_seconds),
            format!("{:.0}", r.bytes_per_member),
            f1(r.learn_seconds * 1e3),
            format!("{:.0}", r.member_periods_per_s),
            f1(r.steps_per_member_period),
            f1(r.step_p50_us),
            f1(r.step_p99_us),
            f1(r.step_p999_us),
            format!("{:.0}", r.step_max_us),
        ]));
    }
    md.push('\n');
}
