//! The text of `paper.md`: tables, the papers' values and the analytical
//! expectations beside ours, and what explains each gap. Numbers are
//! interpolated from the results; the reasoning is fixed text, checked
//! against the numbers whenever the results are regenerated.

use std::fmt::Write as _;

use super::doc::{f1, f2, row};
use super::{Options, delivery, gossip, lifeguard, scale, selection, stats, swim};

fn mean_of(rows: &[swim::SizeRow], f: impl Fn(&swim::SizeRow) -> f64) -> f64 {
    stats::mean(&rows.iter().map(f).collect::<Vec<_>>())
}

/// The SWIM paper's experiments.
pub(super) fn swim(md: &mut String, s: &swim::Results, o: Option<&Options>) {
    let seeds = o.map_or(0, |o| o.seeds);
    let (fp_members, fp_periods, loss) = o.map_or((0, 0, 0.0), |o| (o.fp_members, o.fp_periods, o.loss));
    let _ = writeln!(md, "## The SWIM paper's experiments\n");
    let _ = writeln!(
        md,
        "Das, Gupta and Motivala measured a SWIM prototype with groups of up to 55 members (DSN \
         2002). Their parameters are ours here (`Config::swim_paper()`): K = 1 indirect probe, protocol period T = 2 s, every \
         update piggybacked 3⌈log(N+1)⌉ times, a fixed suspicion timeout of 3⌈log(N+1)⌉ periods, no \
         Lifeguard, no periodic sync. The paper writes `log` without a base; we read it as log10, as \
         memberlist does for its transmission limit (with ln, both would be two to three times larger at \
         these sizes). Network: 0.5 ms one-way latency plus up to 0.2 ms jitter, no loss except in \
         the last experiment. {seeds} seeded runs per group size. The paper's measured points are in \
         its figures, which we do not transcribe: the \"paper\" columns give the values its text \
         and analysis state.\n"
    );

    let _ = writeln!(md, "### Message load\n\n![message load](load.svg)\n");
    md.push_str(&row(&["N", "sent", "received", "busiest member", "paper"].map(String::from)));
    md.push_str("|---|---|---|---|---|\n");
    for r in &s.rows {
        md.push_str(&row(&[r.n.to_string(), f2(r.sent), f2(r.received), f2(r.busiest), "≈ 2, constant".into()]));
    }
    let _ = writeln!(
        md,
        "\nDatagrams per member per period over the measured periods (\"busiest member\": the \
         member with the most, sent and received averaged). **No gap.** In a steady cluster each \
         member sends one ping (its probe) and one ack (to the probe it receives: with every \
         member probing one other per period, a member is probed once per period on average), \
         and receives the same. Gossip rides on those two messages and adds none; without loss no \
         probe goes indirect. The load does not grow with N, as the paper found. The busiest \
         member is a little above 2 because the number of probes a member receives in a period \
         varies.\n"
    );

    let _ = writeln!(md, "### First detection\n\n![first detection](first_detection.svg)\n");
    md.push_str(&row(&[
        "N",
        "crashes",
        "measured (periods)",
        "± sd",
        "paper: 1/(1 − (1 − 1/(N−1))^(N−1))",
        "unsynchronised: 1 + (N−1)/N",
    ]
    .map(String::from)));
    md.push_str("|---|---|---|---|---|---|\n");
    for r in &s.rows {
        md.push_str(&row(&[
            r.n.to_string(),
            r.crashes.to_string(),
            f2(r.first_detection),
            f2(r.first_detection_sd),
            f2(swim::first_detection_expected(r.n)),
            f2(swim::first_detection_unsynchronised(r.n)),
        ]));
    }
    let measured = mean_of(&s.rows, |r| r.first_detection);
    let ours = mean_of(&s.rows, |r| swim::first_detection_unsynchronised(r.n));
    let crashes: usize = s.rows.iter().map(|r| r.crashes).sum();
    let _ = writeln!(
        md,
        "\nPeriods from a crash (at a random moment) to the first suspicion of the crashed member. \
         Mean over all sizes: **{}** measured against the paper's e/(e−1) = {} — **a gap of {} \
         periods, which is a difference in what is counted, not in the protocol.** The paper's \
         analysis assumes all members start their periods together and the crash happens at a \
         period boundary: each period some member picks the crashed one with probability \
         1 − (1 − 1/(N−1))^(N−1) ≈ 1 − 1/e, and detection is counted at the end of that period, \
         giving e/(e−1) periods. Here, as in any real deployment, members' periods run at \
         independent phases (the runtime also jitters them) and the crash falls anywhere: the \
         first probe of the crashed member starts after the minimum of N − 1 uniform positions, \
         (N − 1)/N of a period on average (members probe in shuffled rounds, so each member's \
         next probe of it is uniform over its round), and that probe concludes one period later. \
         That expectation, {} on average, is what we measure ({} crashes; the standard error is \
         about ±{}). The shuffled rounds also bound the worst case, which uniform random choice \
         does not: every member probes every other within two rounds.\n",
        f2(measured),
        f2(swim::first_detection_limit()),
        f2(measured - swim::first_detection_limit()),
        f2(ours),
        crashes,
        f2(mean_of(&s.rows, |r| r.first_detection_sd) / (crashes as f64 / s.rows.len().max(1) as f64).sqrt()),
    );

    let _ = writeln!(md, "### Latency of spread\n\n![latency of spread](spread.svg)\n");
    md.push_str(&row(&[
        "N",
        "broadcasts",
        "reached all",
        "median (periods)",
        "logistic estimate",
        "faulty verdict, first to all (median)",
    ]
    .map(String::from)));
    md.push_str("|---|---|---|---|---|---|\n");
    for r in &s.rows {
        md.push_str(&row(&[
            r.n.to_string(),
            r.broadcasts.to_string(),
            (r.broadcasts - r.incomplete).to_string(),
            f1(r.spread),
            f1(swim::spread_expected(r.n)),
            f1(r.verdict_spread),
        ]));
    }
    let first = s.rows.first();
    let _ = writeln!(
        md,
        "\nPeriods until a user broadcast (an update like any other, piggybacked the same number of \
         times) reached every member. It grows with log N, as the paper reports for infection \
         style dissemination. The estimate: each informed member passes the update on with its \
         own ping and with its ack to the member that pings it, about twice a period at \
         independent phases, so the informed count grows logistically and fewer than half a \
         member is left after ln(2(N−1)(N−½))/2 periods. It is a mean-field approximation, and \
         the medians lie within half a period of it. \
         **Broadcasts that missed someone:** 3⌈log10(N+1)⌉ is only 3 transmissions per member up \
         to N = 9, so at N = {} {} of {} broadcasts missed a member (each member has about an \
         e^−3 chance of being missed); from N = 10 it is 6 and misses are rare. Periodic sync, off \
         in the paper's settings and on in ours, closes those gaps for membership; user \
         broadcasts are best-effort by design. The last column is the time from the first faulty \
         verdict about a crashed member to the last: shorter, because with suspicion every member \
         runs its own timer from when it heard the suspicion, so verdicts appear in parallel.\n",
        first.map_or(0, |r| r.n),
        first.map_or(0, |r| r.incomplete),
        first.map_or(0, |r| r.broadcasts),
    );

    let _ = writeln!(md, "### Suspicion timeout\n\n![suspicion timeout](suspicion.svg)\n");
    md.push_str(&row(&["N", "measured (periods)", "paper: 3⌈log10(N+1)⌉"].map(String::from)));
    md.push_str("|---|---|---|\n");
    for r in &s.rows {
        md.push_str(&row(&[r.n.to_string(), f2(r.suspicion_timeout), f1(swim::suspicion_expected(r.n))]));
    }
    let _ = writeln!(
        md,
        "\nPeriods from the first suspicion of a crashed member to the first faulty verdict. **No \
         gap:** the timeout is the configured 3⌈log10(N+1)⌉ periods (`SuspicionScale::CeilLog10`), \
         in whole steps: 3 periods up to N = 9, 6 up to 99. Our default scale is smooth, \
         α·log10(N) periods, and Lifeguard makes it dynamic (see below).\n"
    );

    let _ = writeln!(
        md,
        "### False positives under {:.0}% loss\n\n![false positives](false_positives.svg)\n",
        loss * 100.0
    );
    md.push_str(&row(&[
        "variant",
        "false detections per run",
        "false verdicts per run (all members)",
        "false suspicions per run",
        "final group size",
    ]
    .map(String::from)));
    md.push_str("|---|---|---|---|---|\n");
    for v in &s.variants {
        md.push_str(&row(&[
            v.name.to_owned(),
            f1(v.false_detections),
            f1(v.false_verdicts),
            f1(v.false_suspicions),
            f1(v.group_size.last().copied().unwrap_or(f64::NAN)),
        ]));
    }
    let by = |name: &str| s.variants.iter().find(|v| v.name == name);
    let det = |name: &str| by(name).map_or(f64::NAN, |v| v.false_detections);
    let size = |name: &str| by(name).and_then(|v| v.group_size.last().copied()).unwrap_or(f64::NAN);
    let _ = writeln!(
        md,
        "\n{fp_members} members join one after another (one every few periods) while every \
         datagram is lost with probability {loss}; {fp_periods} periods; the plot shows the group \
         size each member sees (alive or suspect), averaged over members and runs. A *false \
         detection* is a member that is up going from held faulty by nobody to held faulty by \
         someone; *false verdicts* count every member that reached or heard such a verdict. With \
         K = 1 and 10% loss a probe fails (ping or ack lost, then one of the four indirect \
         messages lost) about 6% of the time, so members are wrongly suspected constantly.\n\n\
         - **SWIM basic** (failure detector, no suspicion, verdicts multicast to the members the \
           detector believes alive): {} false detections per run, and the group seen shrinks to {} \
           of {fp_members}: nobody tells a member it was declared faulty — the multicast goes to \
           live members only and nothing is piggybacked — so it never refutes and never comes back.\n\
         - **+ infection** (piggybacked dissemination, no suspicion): {} false detections, more \
           than basic because the victims do come back: the verdict rides on the acks to their \
           own probes, they refute and rejoin, and get detected again. Each verdict also spreads to \
           everyone. The group seen recovers to {}.\n\
         - **+ suspicion** (the paper's full protocol): {} false detections; a suspected member \
           learns of the suspicion by gossip and refutes within the 3⌈log10(N+1)⌉-period timeout \
           almost always. The group stays whole ({}).\n\
         - **+ Lifeguard**: {} — nacks keep a prober whose own messages are lost from blaming the \
           target, the suspicion timeout starts long and shrinks only with independent \
           confirmations, and the buddy system tells a suspect at once.\n\n\
         The paper's conclusion is the same: the suspicion mechanism removes most of the basic \
         protocol's false positives.\n",
        f1(det("SWIM basic")),
        f1(size("SWIM basic")),
        f1(det("+ infection")),
        f1(size("+ infection")),
        f1(det("+ suspicion")),
        f1(size("+ suspicion")),
        f1(det("+ Lifeguard")),
    );
}

/// The Lifeguard experiment.
pub(super) fn lifeguard(md: &mut String, l: &lifeguard::Results) {
    let _ = writeln!(md, "## The Lifeguard experiment\n\n![lifeguard](lifeguard.svg)\n");
    let _ = writeln!(
        md,
        "Lifeguard (Dadgar, Phillips and Currey, 2018) targets false failure detections caused by \
         slow members. Here: {} members with `Config::lan()` \
         (T = 1 s, probe timeout 500 ms, K = 3, α = 4, β = 6), Lifeguard on or off; C members are \
         slowed — their network is blocked (datagrams to and from them held) for D ms, then free \
         for max(D, 1 s), again and again, while their timers keep running; {} virtual seconds per \
         run, {} runs per configuration with the same seeds on and off (the same members slowed \
         and crashed). Each run also crashes healthy members, one at a time, to measure detection \
         latency.\n",
        l.members, l.seconds, l.runs
    );
    md.push_str(&row(&[
        "C",
        "D (ms)",
        "false detections off / on",
        "of healthy members off / on",
        "false verdicts off / on",
        "about healthy members off / on",
        "first verdict of a crash, median s, off / on",
    ]
    .map(String::from)));
    md.push_str("|---|---|---|---|---|---|---|\n");
    let find = |c: usize, d: u64, on: bool| l.rows.iter().find(|r| (r.slowed, r.delay_ms, r.lifeguard) == (c, d, on));
    let mut keys: Vec<(usize, u64)> = l.rows.iter().map(|r| (r.slowed, r.delay_ms)).collect();
    keys.dedup();
    for (c, d) in keys {
        let (Some(off), Some(on)) = (find(c, d, false), find(c, d, true)) else { continue };
        md.push_str(&row(&[
            c.to_string(),
            d.to_string(),
            format!("{} / {}", off.detections_all, on.detections_all),
            format!("{} / {}", off.detections_healthy, on.detections_healthy),
            format!("{} / {}", off.false_all, on.false_all),
            format!("{} / {}", off.false_healthy, on.false_healthy),
            format!("{} / {}", f1(stats::median(&off.first_detection)), f1(stats::median(&on.first_detection))),
        ]));
    }
    let (off, on) = (l.totals(false), l.totals(true));
    let pair =
        |off: u64, on: u64| format!("{off} without Lifeguard, {on} with ({})", lifeguard::Results::ratio(off, on));
    let _ = writeln!(
        md,
        "\n**Totals.** False detections of healthy members: **{}**; false verdicts about healthy \
         members: **{}**. Counting the slowed members too: detections {}; verdicts {}. Real \
         crashes ({} per mode): first faulty verdict after a median {} s without and {} s with Lifeguard; every \
         healthy member had it after {} s and {} s ({} and {} crashes not fully detected before \
         the run moved on).\n\n\
         - **Healthy members: {}** Without Lifeguard a slowed member's probes \
           fail whenever its network is blocked, it suspects healthy members, and with a fixed \
           timeout its suspicions become verdicts that spread to everyone. With Lifeguard the \
           nacks it does not receive raise its health score, which stretches its probe timeout and \
           period, so it accuses far less; its remaining suspicions start at β times the minimum \
           timeout and shrink only with independent confirmations, which healthy members never \
           give; and the suspect hears of the suspicion from the buddy system and refutes (our \
           refutations also go straight to the accuser and three random members).\n\
         - **Slowed members are still detected, by design.** With D = 8192 ms a slowed member is \
           silent for 8.2 s at a time: about the minimum suspicion timeout at 128 members \
           (4·log10(128) = 8.4 periods). Every member that probes it suspects it, those \
           independent confirmations bring the timeout down to the minimum, and its refutation \
           after the block reaches the earliest suspecters too late. A member silent for as long \
           as the suspicion timeout is what a failure detector must report; this is why the ratio \
           over all members is smaller. Blocks of 2 s or less cause almost no verdicts either way: \
           they are shorter than the time a suspicion needs.\n\
         - **Detection latency is unchanged**: Lifeguard's timeout starts at β × min but a real \
           crash is confirmed by independent probers within a few periods, which brings it down \
           to the minimum.\n",
        pair(off.detections_healthy, on.detections_healthy),
        pair(off.false_healthy, on.false_healthy),
        pair(off.detections_all, on.detections_all),
        pair(off.false_all, on.false_all),
        off.crashes,
        f1(off.first_median),
        f1(on.first_median),
        f1(off.full_median),
        f1(on.full_median),
        off.undetected,
        on.undetected,
        if on.detections_healthy * 50 <= off.detections_healthy && on.false_healthy * 50 <= off.false_healthy {
            "the target of 50× fewer false detections is met."
        } else {
            "the target of 50× fewer false detections is not met here."
        },
    );
}

/// Broadcast delivery.
pub(super) fn delivery(md: &mut String, d: &delivery::Results) {
    let _ = writeln!(
        md,
        "## User broadcast delivery\n\n\
         The promise (docs/core.md): every broadcast reaches every member that is live \
         for its lifetime, exactly once. Here each cluster runs `Config::local()`; one \
         broadcast every 100 ms comes from a random member while every link loses the \
         given share of datagrams; then the cluster runs one lifetime and one sync \
         interval more. *Owed* counts every other member for every broadcast.\n"
    );
    md.push_str(&row(&[
        "members",
        "loss",
        "broadcasts",
        "owed",
        "delivered",
        "ratio",
        "duplicates",
        "by repair",
        "last delivery, median (s)",
        "last delivery, p99 (s)",
        "last delivery, max (s)",
    ]
    .map(String::from)));
    md.push_str("|---|---|---|---|---|---|---|---|---|---|---|\n");
    for r in &d.rows {
        md.push_str(&row(&[
            r.members.to_string(),
            format!("{:.0}%", r.loss * 100.0),
            r.broadcasts.to_string(),
            r.expected.to_string(),
            r.delivered.to_string(),
            format!("{:.2}%", 100.0 * r.ratio()),
            r.duplicates.to_string(),
            r.repaired.to_string(),
            f2(r.last_delivery.0),
            f2(r.last_delivery.1),
            f2(r.last_delivery.2),
        ]));
    }
    let _ = writeln!(
        md,
        "\nIn all, {:.2}% of the deliveries owed were made. Gossip alone (at least \
         `2(N − 1)` transmissions in small clusters) delivers almost everything within a \
         second; the rest (the \"by repair\" column) came with a periodic sync, from any \
         member that still held the broadcast, which is why the last delivery of a few \
         broadcasts comes up to a sync interval (5 s here) after the send.\n",
        100.0 * d.total_ratio()
    );
}

/// Gossip rounds on and off.
pub(super) fn gossip(md: &mut String, g: &gossip::Results) {
    let _ = writeln!(
        md,
        "## Gossip rounds\n\n\
         Besides riding on probes, queued updates go to 3 random members every \
         `dissemination.gossip_interval` (T/2 in `Config::lan()`), as memberlist does, but only while \
         something is queued. The same seeded scenarios with them off and on \
         (`Config::lan()`, T = 1 s; medians of {} runs; false verdicts summed):\n",
        g.runs
    );
    md.push_str(&row(&["figure", "off", "on"].map(String::from)));
    md.push_str("|---|---|---|\n");
    let (off, on) = (&g.rows[0], &g.rows[1]);
    let lines: [(&str, String, String); 5] = [
        ("burst join of 32: all see all (s)", f2(off.join_32), f2(on.join_32)),
        ("burst join of 128: all see all (s)", f2(off.join_128), f2(on.join_128)),
        ("a crash among 32: declared by all (periods)", f1(off.crash_all), f1(on.crash_all)),
        (
            "false faulty verdicts, 87 periods at 10% loss, 32 members",
            off.false_episodes.to_string(),
            on.false_episodes.to_string(),
        ),
        ("false suspicions in those runs", off.false_suspicions.to_string(), on.false_suspicions.to_string()),
    ];
    for (name, a, b) in lines {
        md.push_str(&row(&[name.to_owned(), a, b]));
    }
    md.push('\n');
}

/// The probe-selection comparison, and what it says about when buckets
/// help.
pub(super) fn selection(md: &mut String, s: &selection::Results) {
    let _ = writeln!(
        md,
        "## Probe selection\n\n\
         go-swim orders members by an id hashed from the name and probes them from buckets by \
         distance (`BucketSelectionList`); `probe.selection` offers that beside SWIM's shuffled \
         round robin. With `probe.direct = k`, the members, farthest first, fill k buckets of \
         ⌈n·(2/3)·(1/3)^i⌉ (the last takes the rest) and each period probes one member of each. \
         Distances are Kademlia's XOR or Chord's clockwise way round the ring. The shuffle at the \
         same k probes k members a period too, so every row of a given k carries the same load. \
         `Config::lan()` (T = 1 s, gossip rounds on), {} simulations per row, crashes at random \
         phases. First detection: periods from the crash to its first suspicion. Near and far: the \
         third of the survivors nearest the victim by the strategy's metric (those holding it in \
         their nearest bucket) and the farthest third; for the shuffle, by XOR distance, as a \
         control. \"All near\" and \"all far\": periods until each of those members held it suspect \
         or faulty, by its own probe or by gossip.\n\n![first detection by probe selection](selection.svg)\n",
        s.runs
    );
    md.push_str(&row(&[
        "strategy",
        "k",
        "N",
        "crashes",
        "first detection: mean",
        "p99",
        "worst",
        "received per period: mean",
        "busiest",
        "first suspected by a near member",
        "all near",
        "all far",
    ]
    .map(String::from)));
    md.push_str("|---|---|---|---|---|---|---|---|---|---|---|---|\n");
    for r in &s.rows {
        md.push_str(&row(&[
            selection::name(r.strategy).to_owned(),
            r.k.to_string(),
            r.n.to_string(),
            r.crashes.to_string(),
            f2(r.first_mean),
            f1(r.first_p99),
            f1(r.first_worst),
            f2(r.load_mean),
            f2(r.load_max),
            format!("{:.0}%", r.near_first * 100.0),
            f1(r.near_all),
            f1(r.far_all),
        ]));
    }
    md.push('\n');
    let (Some(&k), Some(&n)) = (s.rows.iter().map(|r| r.k).max().as_ref(), s.rows.iter().map(|r| r.n).max().as_ref())
    else {
        return;
    };
    let (Some(shuffle), Some(kademlia), Some(chord)) = (
        s.row(swim_protocol::ProbeSelection::Shuffle, k, n),
        s.row(swim_protocol::ProbeSelection::Kademlia, k, n),
        s.row(swim_protocol::ProbeSelection::Chord, k, n),
    ) else {
        return;
    };
    let gap = |r: &selection::Row| r.far_all - r.near_all;
    let same_time = gap(kademlia).abs() < 0.3 && gap(chord).abs() < 0.3;
    let _ = writeln!(
        md,
        "**What it shows.** At k = 1 a bucket list is a single bucket, so the three rows of each size \
         are the same protocol and differ by chance only. At k = {k} and N = {n}, the probes cost the \
         same (a member receives {} datagrams a period with the shuffle, {} with Kademlia buckets, {} \
         with Chord's) and so does the mean first detection ({} periods for the shuffle, {} and {} \
         with buckets): each member is still probed k times a period on average, only not by the \
         same members. Buckets change who raises the first suspicion: one of the victim's near third \
         in {:.0}% (Kademlia) and {:.0}% (Chord) of crashes, against {:.0}% for the shuffle's control \
         third (a third, by chance). {} The 99th percentile of first detection is {} and {} periods \
         against {} for the shuffle (with {} crashes a row, it is the worst one){}.\n",
        f2(shuffle.load_mean),
        f2(kademlia.load_mean),
        f2(chord.load_mean),
        f2(shuffle.first_mean),
        f2(kademlia.first_mean),
        f2(chord.first_mean),
        kademlia.near_first * 100.0,
        chord.near_first * 100.0,
        shuffle.near_first * 100.0,
        if same_time {
            format!(
                "But it does not make the near members know sooner: the suspicion is gossiped to \
                 everyone within about a period, so all the near members hold it suspect after {} \
                 and {} periods and all the far ones after {} and {} (shuffle: {} and {}).",
                f1(kademlia.near_all),
                f1(chord.near_all),
                f1(kademlia.far_all),
                f1(chord.far_all),
                f1(shuffle.near_all),
                f1(shuffle.far_all)
            )
        } else {
            format!(
                "The near members all hold it suspect after {} and {} periods, the far ones after {} \
                 and {} (shuffle: {} and {}).",
                f1(kademlia.near_all),
                f1(chord.near_all),
                f1(kademlia.far_all),
                f1(chord.far_all),
                f1(shuffle.near_all),
                f1(shuffle.far_all)
            )
        },
        f1(kademlia.first_p99),
        f1(chord.first_p99),
        f1(shuffle.first_p99),
        kademlia.crashes,
        if kademlia.first_p99.min(chord.first_p99) > shuffle.first_p99 * 1.2 {
            ": a far member is probed by a given prober only every ~2·(2N/3) of its first bucket's picks"
        } else {
            ": no longer tail than the shuffle's here"
        }
    );
    let _ = writeln!(
        md,
        "**When buckets help.** {} For plain membership, the default stays the shuffle, whose round \
         robin also bounds every member's probe gap by 2N − 1 periods.\n",
        if same_time {
            "In a cluster that gossips, hardly: the first suspicion comes from the victim's \
             neighbours by id more often, at no extra traffic, but everyone learns of it about as soon \
             either way. Buckets matter where what a member learns by its own probes counts more than \
             gossip: an application that acts on the first suspicion (it arrives from a neighbour by \
             id, such as a replica placed by the same hash), or a cluster run with gossip rounds off \
             and few piggybacked updates."
        } else {
            "When an application cares which members learn of a failure first: a member's neighbours \
             by id (replicas placed by the same hash, a ring's successors) notice its crash sooner than \
             the rest, at no extra traffic. They do not make the cluster as a whole detect failures \
             sooner."
        }
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
        "one node learns all (ms)",
        "table sync (ms)",
        "sync every (periods)",
        "member-periods/s",
        "steps per member-period",
        "p50 (µs)",
        "p99 (µs)",
        "p99.9 (µs)",
        "max (µs)",
    ]
    .map(String::from)));
    md.push_str("|---|---|---|---|---|---|---|---|---|---|---|---|---|\n");
    for r in &s.rows {
        md.push_str(&row(&[
            r.members.to_string(),
            r.full.to_string(),
            f1(r.build_seconds),
            format!("{:.0}", r.bytes_per_member),
            f1(r.learn_seconds * 1e3),
            f1(r.sync_seconds * 1e3),
            format!("{:.0}", r.sync_interval_periods),
            format!("{:.0}", r.member_periods_per_s),
            f1(r.steps_per_member_period),
            f1(r.step_p50_us),
            f1(r.step_p99_us),
            f1(r.step_p999_us),
            format!("{:.0}", r.step_max_us),
        ]));
    }
    // The smallest bytes per member measured: a lower bound for a full 16,000-member run.
    let bytes_16k =
        s.rows.iter().map(|r| r.bytes_per_member).fold(f64::NAN, |a, b| if a.is_nan() { b } else { a.min(b) });
    let hybrid_steps = s
        .rows
        .iter()
        .find(|r| r.full < r.members)
        .map_or(0.0, |r| r.steps_per_member_period * r.full as f64 * f64::from(s.periods));
    let _ = writeln!(
        md,
        "\nWall-clock figures from one run on this shared 2-core machine (they vary from run to \
         run; compare rows, not runs). `Config::lan()`, {} periods timed after the cluster is \
         built.\n\n\
         - **How large clusters are simulated.** A full simulation of N members holds N² table \
           entries: 16,000 members would need 16,000² × {:.0} bytes, {:.0} GB. \
           Above {} members the simulator runs a few full members among *responders*, stand-ins \
           that answer pings, indirect pings, join requests and join syncs without a table. Each \
           full member learns the whole N-member table through a real join and sync, is probed \
           about once a period (responders ping it), and probes members that answer: its work per \
           period is what it would be in a full cluster at rest. What responders cannot show is \
           dissemination among themselves.\n\
         - **Member-periods per second** is how many protocol periods of full members one core \
           simulates per second of wall time, the simulator's own overhead included. A step is \
           one timer or one datagram handled by a member, its outputs included: three to four per \
           period (the period's timer, the ack, the ping it answers, and a gossip round while \
           updates are queued). Step times stay in the low microseconds from 1,000 to 100,000 \
           members: every step is O(1) in the cluster size, and a larger table only costs cache \
           misses. The hybrid rows time {:.0} steps each (full members × periods × steps per \
           member-period), so their p99.9 is close to their maximum.\n\
         - **Bytes per member** is the heap one node holds per known member once it knows all of \
           them, pre-sized with `limits.expected_members`: the table entry (name and accuser inline up \
           to 32 bytes, two inline addresses, metadata, the broadcast window), the name index, \
           the probe list, the dissemination queue's links, and records for suspicions (held \
           apart, sized for one member in eight). At 1,000 members fixed costs (the event arena, \
           the rate limiters' tables) still show.\n\
         - **Build** is the wall time until every full member knew every member (for the full \
           cluster, everyone joining through one seed); **one node learns all** is a single node \
           taking in alive updates for the whole cluster.\n\
         - **Table sync** is one anti-entropy exchange of the whole table between two nodes that \
           know every member, both sides' work, every frame; each member opens one per scaled \
           sync interval (\"sync every\") and accepts about as many, so it adds about \
           `2 × table sync / sync every` per member-period ({:.1} µs at the largest size). \
           Member-periods per second leave the syncs of the timed periods out (the timed window holds \
           some or none by chance; a member's first sync comes within 1.5 base \
           intervals of its start, before the interval has grown with the table). In a real member it is \
           not one step: the runtime hands it one frame (at most `sync.frame_budget`, 64 KiB) at \
           a time.\n",
        s.periods,
        bytes_16k,
        16_000f64 * 16_000.0 * bytes_16k / 1e9,
        super::scale::FULL_LIMIT,
        hybrid_steps,
        s.rows.last().map_or(0.0, |r| 2.0 * r.sync_seconds * 1e6 / r.sync_interval_periods.max(1.0)),
    );
}
