//! `cargo xtask paper`: the SWIM paper's and the Lifeguard paper's
//! experiments reproduced in the simulator, and the simulator's scale
//! limits measured. Every figure comes from a seeded run: the same options
//! reproduce the same numbers (except wall-clock timings in [`scale`]).
//!
//! - [`swim`]: message load, first detection, latency of spread, suspicion
//!   timeout against group size, and false positives under 10% loss, with
//!   the SWIM paper's parameters ([`swim_protocol::Config::swim_paper`]);
//! - [`lifeguard`]: 128 members, some of them slowed, Lifeguard on and off;
//! - [`delivery`]: user broadcast delivery against cluster size and loss;
//! - [`gossip`]: gossip rounds on and off (convergence, detection, false
//!   verdicts);
//! - [`selection`]: probe selection, shuffle against Kademlia and Chord
//!   buckets, at 1 to 3 probes a period and 16 to 1,000 members;
//! - [`scale`]: 1,000 full members, and 16,000 and 100,000 members with a
//!   few full members among responders.
//!
//! [`run`] runs what [`Options`] ask for; [`doc::write`] turns the results
//! into `docs/results/paper.md` and SVG plots.

pub mod delivery;
pub mod doc;
pub mod gossip;
pub mod lifeguard;
pub mod plot;
pub mod pool;
mod prose;
pub mod scale;
pub mod selection;
pub mod stats;
pub mod swim;

use std::time::Instant;

/// Which experiments to run.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Experiment {
    /// The SWIM paper's five experiments.
    Swim,
    /// The Lifeguard experiment.
    Lifeguard,
    /// The scale measurements.
    Scale,
    /// Broadcast delivery.
    Delivery,
    /// Gossip rounds on and off.
    Gossip,
    /// Probe selection strategies.
    Selection,
}

/// Every knob of the evaluation (`cargo xtask paper --help` lists them).
#[derive(Debug, Clone, PartialEq)]
pub struct Options {
    /// Base seed; every run derives its own from it.
    pub seed: u64,
    /// Threads running simulations at once (timings run alone).
    pub threads: usize,
    /// Experiments to run.
    pub only: Vec<Experiment>,
    /// Group sizes for the SWIM experiments.
    pub sizes: Vec<usize>,
    /// Runs per group size.
    pub seeds: usize,
    /// Periods over which the message load is measured.
    pub load_periods: u32,
    /// Crashes per group size and seed (first detection, suspicion timeout).
    pub crashes: usize,
    /// Broadcasts per group size and seed (latency of spread).
    pub broadcasts: usize,
    /// Members in the false-positive experiment (joining one by one).
    pub fp_members: usize,
    /// Periods of the false-positive experiment.
    pub fp_periods: u32,
    /// Packet loss of the false-positive experiment.
    pub loss: f64,
    /// Members in the Lifeguard experiment.
    pub lg_members: usize,
    /// Numbers of slowed members.
    pub lg_slowed: Vec<usize>,
    /// How long each block of a slowed member lasts, in ms.
    pub lg_delays_ms: Vec<u64>,
    /// Virtual seconds of each Lifeguard run.
    pub lg_seconds: u64,
    /// Real crashes (of healthy members) in each Lifeguard run.
    pub lg_crashes: usize,
    /// Runs per Lifeguard configuration.
    pub lg_seeds: usize,
    /// Cluster sizes of the broadcast delivery measurement.
    pub bc_sizes: Vec<usize>,
    /// Loss rates of the broadcast delivery measurement.
    pub bc_losses: Vec<f64>,
    /// Broadcasts per size and loss rate.
    pub bc_count: usize,
    /// Runs per setting of the gossip-rounds comparison.
    pub gossip_runs: usize,
    /// Cluster sizes of the scale measurement (hybrid above 1,000).
    pub scale_sizes: Vec<usize>,
    /// Full members in a hybrid scale run.
    pub scale_full: usize,
    /// Periods timed in each scale run.
    pub scale_periods: u32,
    /// Cluster sizes of the probe-selection comparison.
    pub sel_sizes: Vec<usize>,
    /// Direct probes per period (and buckets) compared.
    pub sel_ks: Vec<usize>,
    /// Simulations per strategy, `k` and size.
    pub sel_runs: usize,
    /// Crashes per simulation (at most a quarter of the members).
    pub sel_crashes: usize,
}

impl Default for Options {
    fn default() -> Self {
        Options {
            seed: 2002,
            threads: std::thread::available_parallelism().map_or(2, |n| n.get()),
            only: vec![
                Experiment::Swim,
                Experiment::Lifeguard,
                Experiment::Delivery,
                Experiment::Gossip,
                Experiment::Selection,
                Experiment::Scale,
            ],
            sizes: vec![8, 16, 24, 32, 40, 48, 56],
            seeds: 20,
            load_periods: 40,
            crashes: 6,
            broadcasts: 6,
            fp_members: 17,
            fp_periods: 87,
            loss: 0.10,
            lg_members: 128,
            lg_slowed: vec![1, 4, 8, 16, 32],
            lg_delays_ms: vec![128, 512, 2048, 8192],
            lg_seconds: 600,
            lg_crashes: 6,
            lg_seeds: 3,
            bc_sizes: vec![3, 5, 8, 16, 55, 200],
            bc_losses: vec![0.0, 0.05, 0.10],
            bc_count: 1_000,
            gossip_runs: 10,
            scale_sizes: vec![1_000, 16_000, 100_000],
            scale_full: 32,
            scale_periods: 20,
            sel_sizes: vec![16, 64, 256, 1_000],
            sel_ks: vec![1, 2, 3],
            sel_runs: 3,
            sel_crashes: 12,
        }
    }
}

/// `--help`: every option, its meaning and default.
pub const HELP: &str = "\
cargo xtask paper [OPTIONS]

Reproduces the SWIM paper's and the Lifeguard paper's experiments in the
deterministic simulator, measures the simulator's scale, prints one summary
line per experiment, and writes docs/results/paper.md and SVG plots.

  --out DIR            where to write paper.md and the plots [docs/results,
                       or nowhere with --only]
  --no-write           print the summaries only
  --only LIST          experiments: swim,lifeguard,delivery,gossip,selection,scale [all]
  --quick              small sizes and short runs (seconds; for a smoke test)
  --seed N             base seed of every run [2002]
  --threads N          simulations run at once [available cores]

SWIM paper (K = 1, T = 2 s, 3⌈log10(N+1)⌉ transmissions and suspicion periods):
  --sizes LIST         group sizes [8,16,24,32,40,48,56]
  --seeds N            runs per group size [20]
  --load-periods N     periods of the message-load measurement [40]
  --crashes N          crashes per size and seed [6]
  --broadcasts N       broadcasts per size and seed [6]
  --fp-members N       members joining one by one in the false-positive run [17]
  --fp-periods N       periods of the false-positive run [87]
  --loss P             packet loss of the false-positive run [0.1]

Lifeguard (Config::lan(), slowed members' network blocked D ms, repeatedly):
  --lg-members N       members [128]
  --lg-slowed LIST     numbers of slowed members C [1,4,8,16,32]
  --lg-delays LIST     block lengths D in ms [128,512,2048,8192]
  --lg-seconds N       virtual seconds per run [600]
  --lg-crashes N       real crashes per run [6]
  --lg-seeds N         runs per configuration [3]

Broadcast delivery (Config::local(), one broadcast every 100 ms from a random member):
  --bc-sizes LIST      cluster sizes [3,5,8,16,55,200]
  --bc-losses LIST     loss rates [0,0.05,0.1]
  --bc-count N         broadcasts per size and loss rate [1000]

Gossip rounds on and off (Config::lan(): burst joins of 32 and 128, a crash among 32,
87 periods at 10% loss among 32):
  --gossip-runs N      runs per setting [10]

Probe selection (Config::lan() with probe.direct = k; shuffle, Kademlia and Chord buckets):
  --sel-sizes LIST     cluster sizes [16,64,256,1000]
  --sel-ks LIST        direct probes per period k [1,2,3]
  --sel-runs N         simulations per strategy, k and size [3]
  --sel-crashes N      crashes per simulation, at most N/4 [12]

Scale (wall-clock timings; run alone):
  --scale-sizes LIST   cluster sizes [1000,16000,100000]
  --scale-full N       full members among responders above 2000 members [32]
  --scale-periods N    periods timed [20]
";

/// What the command line asked for.
#[derive(Debug, Clone, PartialEq)]
pub struct Command {
    /// The experiments' knobs.
    pub options: Options,
    /// Where to write the results (`None`: do not write).
    pub out: Option<String>,
    /// `--help` was given.
    pub help: bool,
}

fn list<T: std::str::FromStr>(flag: &str, value: &str) -> Result<Vec<T>, String> {
    value.split(',').map(|v| v.trim().parse().map_err(|_| format!("{flag}: `{v}` is not a valid value"))).collect()
}

fn one<T: std::str::FromStr>(flag: &str, value: &str) -> Result<T, String> {
    value.parse().map_err(|_| format!("{flag}: `{value}` is not a valid value"))
}

impl Command {
    /// Parses the arguments (without the program name).
    pub fn parse(args: &[String]) -> Result<Command, String> {
        let mut o = Options::default();
        let mut out: Option<Option<String>> = None;
        let mut help = false;
        let mut partial = false;
        let mut it = args.iter();
        while let Some(flag) = it.next() {
            match flag.as_str() {
                "--help" | "-h" => help = true,
                "--no-write" => out = Some(None),
                "--quick" => o = Options { threads: o.threads, seed: o.seed, ..Options::quick() },
                _ => {
                    let value = it.next().ok_or_else(|| format!("{flag} needs a value"))?;
                    match flag.as_str() {
                        "--out" => out = Some(Some(value.clone())),
                        "--only" => {
                            partial = true;
                            o.only = value
                                .split(',')
                                .map(|e| match e.trim() {
                                    "swim" => Ok(Experiment::Swim),
                                    "lifeguard" => Ok(Experiment::Lifeguard),
                                    "scale" => Ok(Experiment::Scale),
                                    "delivery" => Ok(Experiment::Delivery),
                                    "gossip" => Ok(Experiment::Gossip),
                                    "selection" => Ok(Experiment::Selection),
                                    other => Err(format!("--only: unknown experiment `{other}`")),
                                })
                                .collect::<Result<_, _>>()?;
                        }
                        "--seed" => o.seed = one(flag, value)?,
                        "--threads" => o.threads = one(flag, value)?,
                        "--sizes" => o.sizes = list(flag, value)?,
                        "--seeds" => o.seeds = one(flag, value)?,
                        "--load-periods" => o.load_periods = one(flag, value)?,
                        "--crashes" => o.crashes = one(flag, value)?,
                        "--broadcasts" => o.broadcasts = one(flag, value)?,
                        "--fp-members" => o.fp_members = one(flag, value)?,
                        "--fp-periods" => o.fp_periods = one(flag, value)?,
                        "--loss" => o.loss = one(flag, value)?,
                        "--lg-members" => o.lg_members = one(flag, value)?,
                        "--lg-slowed" => o.lg_slowed = list(flag, value)?,
                        "--lg-delays" => o.lg_delays_ms = list(flag, value)?,
                        "--lg-seconds" => o.lg_seconds = one(flag, value)?,
                        "--lg-crashes" => o.lg_crashes = one(flag, value)?,
                        "--lg-seeds" => o.lg_seeds = one(flag, value)?,
                        "--bc-sizes" => o.bc_sizes = list(flag, value)?,
                        "--bc-losses" => o.bc_losses = list(flag, value)?,
                        "--bc-count" => o.bc_count = one(flag, value)?,
                        "--gossip-runs" => o.gossip_runs = one(flag, value)?,
                        "--scale-sizes" => o.scale_sizes = list(flag, value)?,
                        "--scale-full" => o.scale_full = one(flag, value)?,
                        "--scale-periods" => o.scale_periods = one(flag, value)?,
                        "--sel-sizes" => o.sel_sizes = list(flag, value)?,
                        "--sel-ks" => o.sel_ks = list(flag, value)?,
                        "--sel-runs" => o.sel_runs = one(flag, value)?,
                        "--sel-crashes" => o.sel_crashes = one(flag, value)?,
                        _ => return Err(format!("unknown option {flag} (see --help)")),
                    }
                }
            }
        }
        o.validate()?;
        // A partial run must not replace the full report unless asked to.
        let out = out.unwrap_or_else(|| (!partial).then(|| "docs/results".to_owned()));
        Ok(Command { options: o, out, help })
    }
}

impl Options {
    /// Small and short: every experiment in a few seconds (for tests).
    pub fn quick() -> Self {
        Options {
            sizes: vec![8, 16],
            seeds: 2,
            load_periods: 10,
            crashes: 2,
            broadcasts: 2,
            fp_members: 6,
            fp_periods: 30,
            lg_members: 24,
            lg_slowed: vec![1, 4],
            lg_delays_ms: vec![512, 2048],
            lg_seconds: 40,
            lg_crashes: 1,
            bc_sizes: vec![3, 8],
            bc_losses: vec![0.0, 0.1],
            bc_count: 50,
            gossip_runs: 1,
            scale_sizes: vec![200, 3_000],
            scale_full: 2,
            scale_periods: 5,
            sel_sizes: vec![16, 48],
            sel_ks: vec![1, 3],
            sel_runs: 1,
            sel_crashes: 4,
            ..Options::default()
        }
    }

    /// Refuses options no experiment can run with.
    pub fn validate(&self) -> Result<(), String> {
        let check = |ok: bool, msg: &str| if ok { Ok(()) } else { Err(msg.to_owned()) };
        check(self.threads >= 1, "--threads must be at least 1")?;
        check(self.sizes.iter().all(|&n| (3..=2_000).contains(&n)), "--sizes must lie within 3..=2000")?;
        check(
            self.seeds >= 1 && self.crashes >= 1 && self.broadcasts >= 1,
            "--seeds, --crashes, --broadcasts: at least 1",
        )?;
        check(self.load_periods >= 1 && self.fp_periods >= 1, "--load-periods and --fp-periods: at least 1")?;
        check((2..=1_000).contains(&self.fp_members), "--fp-members must lie within 2..=1000")?;
        check((0.0..0.9).contains(&self.loss), "--loss must lie within [0, 0.9)")?;
        check((8..=5_000).contains(&self.lg_members), "--lg-members must lie within 8..=5000")?;
        check(
            self.lg_slowed.iter().all(|&c| c >= 1 && c + self.lg_crashes + 1 < self.lg_members),
            "--lg-slowed: each between 1 and the members left after crashes",
        )?;
        check(self.lg_delays_ms.iter().all(|&d| (1..=600_000).contains(&d)), "--lg-delays: 1 ms to 10 minutes")?;
        check(self.lg_seconds >= 10 && self.lg_seeds >= 1, "--lg-seconds at least 10, --lg-seeds at least 1")?;
        check(self.bc_sizes.iter().all(|&n| (2..=2_000).contains(&n)), "--bc-sizes must lie within 2..=2000")?;
        check(self.bc_losses.iter().all(|l| (0.0..0.9).contains(l)), "--bc-losses must lie within [0, 0.9)")?;
        check((1..=100_000).contains(&self.bc_count), "--bc-count must lie within 1..=100000")?;
        check((1..=1_000).contains(&self.gossip_runs), "--gossip-runs must lie within 1..=1000")?;
        check(self.scale_sizes.iter().all(|&n| (10..=1_000_000).contains(&n)), "--scale-sizes within 10..=1000000")?;
        check(self.scale_full >= 1 && self.scale_periods >= 1, "--scale-full and --scale-periods: at least 1")?;
        check(self.sel_sizes.iter().all(|&n| (8..=5_000).contains(&n)), "--sel-sizes must lie within 8..=5000")?;
        check(self.sel_ks.iter().all(|&k| (1..=16).contains(&k)), "--sel-ks must lie within 1..=16")?;
        check(self.sel_runs >= 1 && self.sel_crashes >= 1, "--sel-runs and --sel-crashes: at least 1")
    }
}

/// Everything measured.
#[derive(Debug, Clone, Default)]
pub struct Results {
    /// The options the results came from.
    pub options: Option<Options>,
    /// The SWIM paper's experiments.
    pub swim: Option<swim::Results>,
    /// The Lifeguard experiment.
    pub lifeguard: Option<lifeguard::Results>,
    /// Broadcast delivery.
    pub delivery: Option<delivery::Results>,
    /// Gossip rounds on and off.
    pub gossip: Option<gossip::Results>,
    /// The scale measurements.
    pub scale: Option<scale::Results>,
    /// The probe-selection comparison.
    pub selection: Option<selection::Results>,
    /// Wall-clock seconds per experiment.
    pub seconds: Vec<(Experiment, f64)>,
}

/// Runs the experiments `options` ask for, printing one summary line per
/// experiment as it finishes.
pub fn run(options: &Options) -> Results {
    let mut results = Results { options: Some(options.clone()), ..Results::default() };
    for &experiment in &options.only {
        let start = Instant::now();
        match experiment {
            Experiment::Swim => {
                let r = swim::run(options);
                for line in r.summary() {
                    println!("{line}");
                }
                results.swim = Some(r);
            }
            Experiment::Lifeguard => {
                let r = lifeguard::run(options);
                for line in r.summary() {
                    println!("{line}");
                }
                results.lifeguard = Some(r);
            }
            Experiment::Delivery => {
                let r = delivery::run(options);
                for line in r.summary() {
                    println!("{line}");
                }
                results.delivery = Some(r);
            }
            Experiment::Gossip => {
                let r = gossip::run(options);
                for line in r.summary() {
                    println!("{line}");
                }
                results.gossip = Some(r);
            }
            Experiment::Selection => {
                let r = selection::run(options);
                for line in r.summary() {
                    println!("{line}");
                }
                results.selection = Some(r);
            }
            Experiment::Scale => {
                let r = scale::run(options);
                for line in r.summary() {
                    println!("{line}");
                }
                results.scale = Some(r);
            }
        }
        results.seconds.push((experiment, start.elapsed().as_secs_f64()));
    }
    results
}
