//! The SWIM paper's experiments (Das, Gupta and Motivala, DSN 2002, §5),
//! with its parameters: K = 1, T = 2 s, updates sent 3⌈log10(N + 1)⌉
//! times, suspicion timeout 3⌈log10(N + 1)⌉ periods, no Lifeguard
//! ([`Config::swim_paper`]).

use std::time::Duration;

use swim_protocol::{Config, DisseminationStyle, State};

use super::{Options, pool, stats};
use crate::sim::{LinkModel, Sim, SimConfig, SimRng};

/// Figures for one group size.
#[derive(Debug, Clone, PartialEq)]
pub struct SizeRow {
    /// Group size.
    pub n: usize,
    /// Datagrams sent per member per period (mean over members and runs).
    pub sent: f64,
    /// Datagrams received per member per period.
    pub received: f64,
    /// The busiest member's datagrams sent and received per period, halved
    /// (mean over runs).
    pub busiest: f64,
    /// Periods from a crash to the first suspicion (mean over crashes).
    pub first_detection: f64,
    /// Its standard deviation.
    pub first_detection_sd: f64,
    /// Crashes measured.
    pub crashes: usize,
    /// Periods from the first suspicion to the first faulty verdict (mean).
    pub suspicion_timeout: f64,
    /// Periods from the first faulty verdict until every member has it
    /// (median).
    pub verdict_spread: f64,
    /// Periods until a broadcast reached every member (median).
    pub spread: f64,
    /// Broadcasts sent.
    pub broadcasts: usize,
    /// Broadcasts that missed some member (piggybacking alone has a small
    /// chance of that; sync, off here, would close the gap).
    pub incomplete: usize,
}

/// Group size over time under loss, for one protocol variant.
#[derive(Debug, Clone, PartialEq)]
pub struct Variant {
    /// The variant's name.
    pub name: &'static str,
    /// Mean over members that have joined of the live members each sees, per
    /// period (mean over runs).
    pub group_size: Vec<f64>,
    /// Members that had joined, per period.
    pub joined: Vec<f64>,
    /// Faulty verdicts about members that were up, summed over the members
    /// that reached or heard them, per run (mean).
    pub false_verdicts: f64,
    /// False failure detections per run (mean): a member that was up going
    /// from held faulty by nobody to held faulty by someone.
    pub false_detections: f64,
    /// Suspicions of members that were up, per run (mean).
    pub false_suspicions: f64,
}

/// All of the SWIM paper's experiments.
#[derive(Debug, Clone, PartialEq)]
pub struct Results {
    /// One row per group size.
    pub rows: Vec<SizeRow>,
    /// The false-positive experiment, per variant.
    pub variants: Vec<Variant>,
}

/// The paper's analysis of first detection: with `n − 1` live members each
/// probing one uniformly random other member per period, the expected
/// number of periods until one probes a given crashed member,
/// `1 / (1 − (1 − 1/(n − 1))^(n − 1))`; it tends to `e/(e − 1)`.
pub fn first_detection_expected(n: usize) -> f64 {
    let peers = n.saturating_sub(1).max(1) as f64;
    1.0 / (1.0 - (1.0 - 1.0 / peers).powf(peers))
}

/// The limit `e/(e − 1)`.
pub fn first_detection_limit() -> f64 {
    std::f64::consts::E / (std::f64::consts::E - 1.0)
}

/// An estimate of the periods an update takes to reach all `n` members when
/// it rides on pings and acks and members' periods are not synchronised:
/// every informed member passes it on with its own ping and with its ack to
/// the member that pings it, about twice a period, so the informed count
/// grows logistically at rate 2 per period, `I' = 2·I·(1 − I/n)`. From one
/// member, fewer than half a member is left uninformed after
/// `ln(2(n − 1)(n − ½)) / 2` periods. Ignores the transmission limit.
pub fn spread_expected(n: usize) -> f64 {
    let nf = (n as f64).max(2.0);
    (2.0 * (nf - 1.0) * (nf - 0.5)).ln() / 2.0
}

/// First detection with this implementation's scheduling: members' periods
/// start at unsynchronised phases and each probes the members in a shuffled
/// round, so the first probe of a crashed member comes after `(n − 1)/n`
/// periods on average (the minimum of `n − 1` uniform positions); the probe
/// concludes one period after it started.
pub fn first_detection_unsynchronised(n: usize) -> f64 {
    let nf = (n as f64).max(2.0);
    1.0 + (nf - 1.0) / nf
}

/// The paper's suspicion timeout: `3⌈log10(N + 1)⌉` periods.
pub fn suspicion_expected(n: usize) -> f64 {
    3.0 * ((n as f64) + 1.0).log10().ceil()
}

fn paper() -> Config {
    Config::swim_paper()
}

/// A cluster of `n` members joined through member 0 and converged.
fn converged(n: usize, seed: u64, config: Config, link: LinkModel) -> Sim {
    let mut sim = Sim::new(SimConfig { seed, members: n, config, link, ..SimConfig::default() });
    sim.join_all(0, Duration::from_millis(20));
    let ok = sim.run_until(Duration::from_secs(1200), Sim::converged);
    assert!(ok, "{n} members did not converge (seed {seed})");
    sim
}

fn periods(d: Duration, period: Duration) -> f64 {
    d.as_secs_f64() / period.as_secs_f64()
}

struct Load {
    sent: f64,
    received: f64,
    busiest: f64,
}

fn load(n: usize, seed: u64, o: &Options) -> Load {
    let config = paper();
    let period = config.probe.period;
    let mut sim = converged(n, seed, config, LinkModel::default());
    sim.metrics_mut().reset();
    sim.run_for(period * o.load_periods);
    let p = f64::from(o.load_periods);
    let m = &sim.metrics().members;
    let sent: Vec<f64> = m.iter().map(|x| x.msgs_sent as f64 / p).collect();
    let received: Vec<f64> = m.iter().map(|x| x.msgs_received as f64 / p).collect();
    let busiest = m.iter().map(|x| (x.msgs_sent + x.msgs_received) as f64 / 2.0 / p).fold(0.0, f64::max);
    Load { sent: stats::mean(&sent), received: stats::mean(&received), busiest }
}

struct Crash {
    first_detection: f64,
    suspicion: f64,
    verdict_spread: f64,
}

fn crash(n: usize, seed: u64) -> Option<Crash> {
    let config = paper();
    let period = config.probe.period;
    let mut sim = converged(n, seed, config, LinkModel::default());
    let mut rng = SimRng::new(SimRng::derive(seed, 0xc7a5));
    // At a random phase of the members' periods.
    sim.run_for(period.mul_f64(rng.unit()));
    let victim = 1 + rng.below(n - 1);
    sim.crash(victim);
    let everyone = sim.run_until(period * 100, |s| s.seen_as(victim, State::Faulty) == n - 1);
    let all_at = sim.now();
    let d = sim.metrics().detections.get(&victim).copied()?;
    let (suspected, faulty) = (d.first_suspected?, d.first_faulty?);
    Some(Crash {
        first_detection: periods(suspected.saturating_since(d.crashed_at), period),
        suspicion: periods(faulty.saturating_since(suspected), period),
        verdict_spread: if everyone { periods(all_at.saturating_since(faulty), period) } else { f64::NAN },
    })
}

/// Periods each broadcast took to reach everyone (`None`: it did not).
fn spread(n: usize, seed: u64, o: &Options) -> Vec<Option<f64>> {
    let config = paper();
    let period = config.probe.period;
    let mut sim = converged(n, seed, config, LinkModel::default());
    let mut rng = SimRng::new(SimRng::derive(seed, 0x5b7e));
    let mut out = Vec::new();
    for b in 0..o.broadcasts {
        sim.run_for(period.mul_f64(rng.unit()));
        let origin = rng.below(n);
        let payload = format!("update {b}");
        let Some(seq) = sim.broadcast(origin, payload.as_bytes()) else { continue };
        let reached = sim.run_until(period * 40, |s| {
            s.metrics().broadcasts.get(&(origin, seq)).is_some_and(|t| t.delivered >= t.expected)
        });
        let track = sim.metrics().broadcasts.get(&(origin, seq));
        out.push(match (reached, track.and_then(|t| t.last_delivery.map(|l| (l, t.sent_at)))) {
            (true, Some((last, sent))) => Some(periods(last.saturating_since(sent), period)),
            _ => None,
        });
        sim.run_for(period * 5);
    }
    out
}

/// The protocol variants compared under loss.
fn variants() -> Vec<(&'static str, Config)> {
    vec![
        (
            "SWIM basic",
            paper().with(|c| {
                c.suspicion.enabled = false;
                c.dissemination.style = DisseminationStyle::Multicast;
            }),
        ),
        ("+ infection", paper().with(|c| c.suspicion.enabled = false)),
        ("+ suspicion", paper()),
        ("+ Lifeguard", paper().with(|c| c.probe.lifeguard = true)),
    ]
}

struct FalsePositives {
    group_size: Vec<f64>,
    joined: Vec<f64>,
    false_verdicts: f64,
    false_detections: f64,
    false_suspicions: f64,
}

/// Members join one by one under loss; the group each sees, per period.
fn false_positives(config: &Config, seed: u64, o: &Options) -> FalsePositives {
    let period = config.probe.period;
    let link = LinkModel { loss: o.loss, ..LinkModel::default() };
    let n = o.fp_members;
    let mut sim = Sim::new(SimConfig { seed, members: n, config: config.clone(), link, ..SimConfig::default() });
    // Joins spread over all but the last few periods.
    let spacing = (o.fp_periods.saturating_sub(7) / u32::try_from(n - 1).unwrap_or(u32::MAX)).max(1);
    let mut group_size = Vec::new();
    let mut joined = Vec::new();
    let mut members = 1usize;
    for p in 0..o.fp_periods {
        if p > 0 && p % spacing == 0 && members < n {
            sim.join(members, 0);
            members += 1;
        }
        sim.run_for(period);
        let views: Vec<f64> = (0..members).filter_map(|i| sim.node(i)).map(|node| node.live_members() as f64).collect();
        group_size.push(stats::mean(&views));
        joined.push(members as f64);
    }
    let m = sim.metrics();
    FalsePositives {
        group_size,
        joined,
        false_verdicts: m.false_faulty as f64,
        false_detections: m.false_episodes as f64,
        false_suspicions: m.false_suspicions as f64,
    }
}

/// The results of the jobs `(size, run)` that were for size `n`.
fn of_size<'a, T>(jobs: &'a [(usize, usize)], results: &'a [T], n: usize) -> impl Iterator<Item = &'a T> {
    jobs.iter().zip(results).filter(move |((m, _), _)| *m == n).map(|(_, r)| r)
}

/// Runs all five experiments.
pub fn run(o: &Options) -> Results {
    let seed = |n: usize, run: usize, what: u64| SimRng::derive(o.seed ^ what, ((n as u64) << 20) | run as u64);
    let jobs: Vec<(usize, usize)> = o.sizes.iter().flat_map(|&n| (0..o.seeds).map(move |s| (n, s))).collect();
    let loads = pool::map(o.threads, &jobs, |&(n, s)| load(n, seed(n, s, 1), o));
    let crash_jobs: Vec<(usize, usize)> =
        o.sizes.iter().flat_map(|&n| (0..o.seeds * o.crashes).map(move |s| (n, s))).collect();
    let crashes = pool::map(o.threads, &crash_jobs, |&(n, s)| crash(n, seed(n, s, 2)));
    let spreads = pool::map(o.threads, &jobs, |&(n, s)| spread(n, seed(n, s, 3), o));

    let rows = o
        .sizes
        .iter()
        .map(|&n| {
            let l: Vec<&Load> = of_size(&jobs, &loads, n).collect();
            let c: Vec<&Crash> = of_size(&crash_jobs, &crashes, n).flatten().collect();
            let s: Vec<&Option<f64>> = of_size(&jobs, &spreads, n).flat_map(|v| v.iter()).collect();
            let first: Vec<f64> = c.iter().map(|c| c.first_detection).collect();
            let done: Vec<f64> = s.iter().filter_map(|x| **x).collect();
            let verdicts: Vec<f64> = c.iter().map(|c| c.verdict_spread).filter(|x| x.is_finite()).collect();
            SizeRow {
                n,
                sent: stats::mean(&l.iter().map(|l| l.sent).collect::<Vec<_>>()),
                received: stats::mean(&l.iter().map(|l| l.received).collect::<Vec<_>>()),
                busiest: stats::mean(&l.iter().map(|l| l.busiest).collect::<Vec<_>>()),
                first_detection: stats::mean(&first),
                first_detection_sd: stats::stddev(&first),
                crashes: c.len(),
                suspicion_timeout: stats::mean(&c.iter().map(|c| c.suspicion).collect::<Vec<_>>()),
                verdict_spread: stats::median(&verdicts),
                spread: stats::median(&done),
                broadcasts: s.len(),
                incomplete: s.len() - done.len(),
            }
        })
        .collect();

    let variant_jobs: Vec<(usize, usize)> =
        (0..variants().len()).flat_map(|v| (0..o.seeds).map(move |s| (v, s))).collect();
    let configs = variants();
    let fps = pool::map(o.threads, &variant_jobs, |&(v, s)| {
        false_positives(&configs[v].1, seed(o.fp_members, s, 4 + v as u64), o)
    });
    let variants = configs
        .iter()
        .enumerate()
        .map(|(v, (name, _))| {
            let runs: Vec<&FalsePositives> =
                variant_jobs.iter().zip(&fps).filter(|((w, _), _)| *w == v).map(|(_, r)| r).collect();
            let per_period = |f: &dyn Fn(&FalsePositives) -> &Vec<f64>| -> Vec<f64> {
                (0..o.fp_periods as usize)
                    .map(|p| stats::mean(&runs.iter().filter_map(|r| f(r).get(p).copied()).collect::<Vec<_>>()))
                    .collect()
            };
            Variant {
                name,
                group_size: per_period(&|r| &r.group_size),
                joined: per_period(&|r| &r.joined),
                false_verdicts: stats::mean(&runs.iter().map(|r| r.false_verdicts).collect::<Vec<_>>()),
                false_detections: stats::mean(&runs.iter().map(|r| r.false_detections).collect::<Vec<_>>()),
                false_suspicions: stats::mean(&runs.iter().map(|r| r.false_suspicions).collect::<Vec<_>>()),
            }
        })
        .collect();
    Results { rows, variants }
}

impl Results {
    /// One line per experiment.
    pub fn summary(&self) -> Vec<String> {
        let all = |f: fn(&SizeRow) -> f64| stats::mean(&self.rows.iter().map(f).collect::<Vec<_>>());
        let sizes = match (self.rows.first(), self.rows.last()) {
            (Some(a), Some(b)) => format!("N={}..{}", a.n, b.n),
            _ => "no sizes".to_owned(),
        };
        let mut lines = vec![
            format!(
                "paper message-load: {sizes} sent={:.2} received={:.2} per member per period (expected 2.0; busiest member {:.2})",
                all(|r| r.sent),
                all(|r| r.received),
                self.rows.iter().map(|r| r.busiest).fold(0.0, f64::max),
            ),
            format!(
                "paper first-detection: {sizes} mean={:.2} periods over {} crashes (paper's analysis e/(e-1)={:.2} in synchronised periods; unsynchronised, as here: {:.2})",
                all(|r| r.first_detection),
                self.rows.iter().map(|r| r.crashes).sum::<usize>(),
                first_detection_limit(),
                all(|r| first_detection_unsynchronised(r.n)),
            ),
            format!(
                "paper spread: {sizes} median={} periods (logistic estimate {}), {} of {} broadcasts reached everyone",
                self.rows.iter().map(|r| format!("{:.1}", r.spread)).collect::<Vec<_>>().join("/"),
                self.rows.iter().map(|r| format!("{:.1}", spread_expected(r.n))).collect::<Vec<_>>().join("/"),
                self.rows.iter().map(|r| r.broadcasts - r.incomplete).sum::<usize>(),
                self.rows.iter().map(|r| r.broadcasts).sum::<usize>(),
            ),
            format!(
                "paper suspicion-timeout: {sizes} measured={} periods (3⌈log10(N+1)⌉={})",
                self.rows.iter().map(|r| format!("{:.1}", r.suspicion_timeout)).collect::<Vec<_>>().join("/"),
                self.rows.iter().map(|r| format!("{:.0}", suspicion_expected(r.n))).collect::<Vec<_>>().join("/"),
            ),
        ];
        let fp = self
            .variants
            .iter()
            .map(|v| format!("{}={:.1}/{:.1}", v.name.replace(' ', ""), v.false_detections, v.false_verdicts))
            .collect::<Vec<_>>()
            .join(" ");
        let last = |v: &Variant| v.group_size.last().copied().unwrap_or(f64::NAN);
        let sizes = self.variants.iter().map(|v| format!("{:.1}", last(v))).collect::<Vec<_>>().join("/");
        let joined = self.variants.first().and_then(|v| v.joined.last().copied()).unwrap_or(f64::NAN);
        lines.push(format!(
            "paper false-positives: false detections/verdicts per run {fp}; final group size {sizes} of {joined:.0}"
        ));
        lines
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn analytical_curves() {
        assert!((first_detection_limit() - 1.582).abs() < 0.001);
        assert!(first_detection_expected(8) < first_detection_limit() + 0.1);
        assert!((first_detection_expected(10_000) - first_detection_limit()).abs() < 0.001);
        assert_eq!(suspicion_expected(9), 3.0);
        assert_eq!(suspicion_expected(10), 6.0);
        assert_eq!(suspicion_expected(56), 6.0);
        let (small, large) = (spread_expected(8), spread_expected(56));
        assert!((small - 2.33).abs() < 0.01 && (large - 4.36).abs() < 0.01, "{small} {large}");
        assert!((first_detection_unsynchronised(8) - 1.875).abs() < 1e-9);
    }
}
