//! The cluster fuzzer: seeded random scenarios in the simulator, checked
//! against the protocol's promises after every step and at the end.
//!
//! A scenario (a pure function of its seed) starts 3–64 members, lets them
//! converge, then plays a random schedule of crashes, restarts (on the same
//! address or a new one), graceful departures, partitions (any split) and
//! one-way cuts, heals, loss (0–30%), duplication, reordering (jitter),
//! slowed members, metadata changes and user broadcasts. Then it heals
//! everything (members cut off from the cluster for good, because a join
//! failed or went through a member that was itself cut off, join again
//! through a member of the cluster, as an application retries its seeds)
//! and runs until the cluster is quiet. What it checks:
//!
//! - **invariants**, every 100 ms of virtual time: each node's
//!   [`check_invariants`](swim_protocol::Node::check_invariants) (its tables
//!   within their bounds), an outbox that never overflowed, no event lost;
//! - **no lingering verdict**: from `suspicion max + sync interval` after
//!   the heal, no live member's current process is held faulty by a live member;
//! - **one view**, at the end: every live member sees every other live
//!   member alive; every crashed or departed one is held faulty, left or not
//!   at all; one that announced its departure is held left or not at all,
//!   never faulty;
//! - **broadcasts**: never delivered twice; and each one sent by a member
//!   live (and joined) from then to the end reaches every member live (and
//!   joined) over that time, provided no partition cut the cluster within
//!   `dissemination.broadcast_lifetime` of the send (the repair window: beyond it, nobody
//!   holds it any more).
//!
//! [`run`] runs one seed; the `simfuzz` binary (`cargo xtask simfuzz`) runs
//! many and prints `simfuzz: seeds=N failures=F seconds=S`.

use std::collections::{HashMap, HashSet};
use std::fmt;
use std::time::Duration;

use swim_protocol::{Config, ProbeSelection, State, Time};

use crate::sim::{LinkModel, Sim, SimConfig, SimRng, Slow, SlowMode};

/// How a run is shaped.
#[derive(Debug, Clone, Copy, Default)]
pub struct FuzzOptions {
    /// Cluster size (otherwise 3–64, drawn from the seed).
    pub members: Option<usize>,
    /// Print what the scenario does, as it does it (to debug a failure).
    pub verbose: bool,
    /// With `verbose`: also print every change in how member `.0` sees
    /// member `.1`, checked every 100 ms.
    pub watch: Option<(usize, usize)>,
}

/// What a passing run did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Outcome {
    /// Members in the cluster.
    pub members: usize,
    /// Faults and commands played.
    pub events: usize,
    /// Broadcasts sent.
    pub broadcasts: usize,
    /// Virtual time the run took.
    pub virtual_time: Duration,
}

/// A broken promise.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Failure {
    /// The run's seed.
    pub seed: u64,
    /// Cluster size.
    pub members: usize,
    /// Which property.
    pub property: &'static str,
    /// When (virtual time).
    pub at: Time,
    /// What exactly.
    pub detail: String,
}

impl fmt::Display for Failure {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "seed {} ({} members): {} broken at {:?}: {}\n  replay: cargo xtask simfuzz --seeds 1 --seed {}",
            self.seed, self.members, self.property, self.at, self.detail, self.seed
        )
    }
}

/// One broadcast the scenario sent.
struct Sent {
    origin: usize,
    payload: Vec<u8>,
    at: Time,
}

/// The scenario's bookkeeping next to the simulator.
struct Run {
    sim: Sim,
    rng: SimRng,
    seed: u64,
    n: usize,
    /// When each member last (re)started.
    up_since: Vec<Time>,
    sent: Vec<Sent>,
    /// Intervals during which a partition or cut was in force.
    partitioned: Vec<(Time, Time)>,
    partitioned_since: Option<Time>,
    counter: u64,
    events: usize,
    verbose: bool,
    watch: Option<(usize, usize)>,
    watched: String,
    /// Deliveries checked for duplicates so far, and what they delivered
    /// (receiver, its process's start, payload).
    checked: usize,
    delivered: HashSet<(usize, Time, Vec<u8>)>,
}

/// The configuration under test: `Config::local()`, with tombstones kept
/// longer than the chaos lasts. Members that have held each other faulty
/// for longer than the tombstone time forget each other, and partitions
/// that long are outside what the protocol promises to heal (docs/core.md).
///
/// The probe selection follows the seed (without drawing from the
/// scenario's generator): half the seeds probe in buckets, Kademlia's or
/// Chord's, with 1 to 3 direct probes a period.
fn fuzz_config(seed: u64, n: usize) -> Config {
    Config::local().with(|c| {
        c.limits.expected_members = n.max(8);
        c.limits.tombstone_ttl = Duration::from_secs(90);
        c.probe.selection = match seed % 4 {
            1 => ProbeSelection::Kademlia,
            2 => ProbeSelection::Chord,
            _ => ProbeSelection::Shuffle,
        };
        if c.probe.selection != ProbeSelection::Shuffle {
            c.probe.direct = 1 + (seed / 4 % 3) as usize;
        }
    })
}

/// Runs the scenario of `seed`.
pub fn run(seed: u64, options: FuzzOptions) -> Result<Outcome, Failure> {
    let mut rng = SimRng::new(seed ^ 0x0f0f_5157_f022_0001);
    // Drawn even when given, so that a seed replays the same scenario.
    let drawn = 3 + rng.below(62);
    let n = options.members.unwrap_or(drawn).max(2);
    let config = fuzz_config(seed, n);
    let mut sim = Sim::new(SimConfig { seed, members: n, config, ..SimConfig::default() });
    sim.metrics_mut().log_deliveries = true;
    let mut run = Run {
        sim,
        rng,
        seed,
        n,
        up_since: vec![Time::ZERO; n],
        sent: Vec::new(),
        partitioned: Vec::new(),
        partitioned_since: None,
        counter: 0,
        events: 0,
        verbose: options.verbose,
        watch: options.watch,
        watched: String::new(),
        checked: 0,
        delivered: HashSet::new(),
    };
    run.play()?;
    Ok(Outcome {
        members: n,
        events: run.events,
        broadcasts: run.sent.len(),
        virtual_time: Duration::from_micros(run.sim.now().as_micros()),
    })
}

impl Run {
    fn fail(&self, property: &'static str, detail: String) -> Failure {
        Failure { seed: self.seed, members: self.n, property, at: self.sim.now(), detail }
    }

    fn config(&self) -> Config {
        fuzz_config(self.seed, self.n)
    }

    fn play(&mut self) -> Result<(), Failure> {
        self.sim.join_all(0, Duration::from_millis(20));
        if !self.sim.run_until(Duration::from_secs(60), Sim::converged) {
            return Err(self.fail("initial convergence", format!("{} members did not converge", self.n)));
        }
        // The chaos: a random schedule of faults and commands.
        let chaos = Duration::from_secs(10 + self.rng.below(31) as u64);
        let count = 5 + self.rng.below(21);
        let start = self.sim.now();
        let mut times: Vec<Duration> = (0..count).map(|_| chaos.mul_f64(self.rng.unit())).collect();
        times.sort();
        for at in times {
            self.run_checked(start + at)?;
            self.chaos_event();
        }
        self.run_checked(start + chaos)?;

        // Heal everything, then run until quiet.
        self.say(|| "heal everything".to_owned());
        self.sim.network.heal();
        self.sim.network.default = LinkModel::default();
        for i in 0..self.n {
            self.sim.slow(i, None);
        }
        self.end_partition();
        // Members that can no longer find the cluster join again, as an
        // application does on `JoinFailed`, through a seed in the cluster
        // (the seeds an application is configured with are long-lived
        // members). That is every group of live members with no tie to the
        // largest group: none of them holds a member of it at its current
        // process (or the reverse), so nothing in the protocol can bring
        // them together: a join failed while its seeds were cut off, or
        // went through a member that was itself cut off. A member held at
        // an older process or as left is no tie: its address and its
        // reconnect pings lead nowhere.
        let live = self.live();
        let groups = self.groups(&live);
        if let Some(main) = groups.iter().max_by_key(|g| g.len()).cloned() {
            let known = |j: usize| self.sim.node(j).map_or(0, swim_protocol::Node::live_members);
            let best = main.iter().map(|&j| known(j)).max().unwrap_or(0);
            let seeds: Vec<usize> = main.iter().copied().filter(|&j| known(j) == best).collect();
            for group in groups.iter().filter(|g| **g != main) {
                let (Some(i), Some(seed)) = (self.pick(group), self.pick(&seeds)) else { continue };
                self.say(|| format!("{i} joins again through {seed}"));
                self.sim.join(i, seed);
            }
        }
        let healed = self.sim.now();
        let config = self.config();
        let live = self.sim.live().count().max(2);
        let min = config.probe.period.mul_f64(f64::from(config.suspicion.mult) * (live as f64).log10());
        let suspicion_max = min * config.suspicion.max_mult;
        let scale = if live <= 32 { 1.0 } else { (live as f64 / 32.0).log2().ceil() + 1.0 };
        let sync = config.sync.interval.mul_f64(scale * 1.1);
        let verdicts_gone = healed + suspicion_max + sync;
        let limit = healed + Duration::from_secs(120);
        loop {
            self.check_step()?;
            if self.sim.now() >= verdicts_gone {
                self.check_no_false_verdict()?;
            }
            let quiet = self.sim.now() >= verdicts_gone && self.final_view().is_ok() && self.broadcasts().is_ok();
            if quiet {
                return Ok(());
            }
            if self.sim.now() >= limit {
                self.final_view()?;
                return self.broadcasts();
            }
            self.sim.run_for(Duration::from_millis(100));
        }
    }

    /// Runs to `until`, checking the invariants every 100 ms.
    fn run_checked(&mut self, until: Time) -> Result<(), Failure> {
        while self.sim.now() < until {
            let step = (self.sim.now() + Duration::from_millis(100)).min(until);
            self.sim.run_for(Duration::from_micros(step.as_micros() - self.sim.now().as_micros()));
            self.check_step()?;
        }
        Ok(())
    }

    fn live(&self) -> Vec<usize> {
        self.sim.live().collect()
    }

    /// The live members in groups: two are tied when either holds the
    /// other's current process in a state other than left.
    fn groups(&self, live: &[usize]) -> Vec<Vec<usize>> {
        let mut group: Vec<usize> = (0..self.n).collect();
        fn root(group: &mut [usize], mut i: usize) -> usize {
            while group[i] != i {
                group[i] = group[group[i]];
                i = group[i];
            }
            i
        }
        for &i in live {
            let Some(node) = self.sim.node(i) else { continue };
            for &j in live {
                let Some(current) = self.sim.node(j).map(|n| n.local().generation) else { continue };
                let tied = node
                    .member(self.name(j))
                    .is_some_and(|m| j != i && m.generation == current && m.state != State::Left);
                if tied {
                    let (a, b) = (root(&mut group, i), root(&mut group, j));
                    group[a] = b;
                }
            }
        }
        let mut out: Vec<Vec<usize>> = Vec::new();
        let mut roots: Vec<usize> = Vec::new();
        for &i in live {
            let r = root(&mut group, i);
            match roots.iter().position(|&x| x == r) {
                Some(k) => out[k].push(i),
                None => {
                    roots.push(r);
                    out.push(vec![i]);
                }
            }
        }
        out
    }

    fn pick(&mut self, from: &[usize]) -> Option<usize> {
        (!from.is_empty()).then(|| from[self.rng.below(from.len())])
    }

    fn start_partition(&mut self) {
        if self.partitioned_since.is_none() {
            self.partitioned_since = Some(self.sim.now());
        }
    }

    fn end_partition(&mut self) {
        if let Some(since) = self.partitioned_since.take() {
            self.partitioned.push((since, self.sim.now()));
        }
    }

    fn say(&self, what: impl FnOnce() -> String) {
        if self.verbose {
            eprintln!("{:>10.3}s  {}", self.sim.now().as_micros() as f64 / 1e6, what());
        }
    }

    fn chaos_event(&mut self) {
        self.events += 1;
        let live = self.live();
        let down: Vec<usize> = (0..self.n).filter(|&i| !self.sim.members()[i].is_up()).collect();
        match self.rng.below(14) {
            0 | 1 if live.len() > 2 => {
                if let Some(v) = self.pick(&live) {
                    self.say(|| format!("crash {v}"));
                    self.sim.crash(v);
                }
            }
            2 | 3 if !down.is_empty() && !live.is_empty() => {
                let (Some(v), Some(seed)) = (self.pick(&down), self.pick(&live)) else { return };
                if self.rng.below(2) == 0 {
                    self.say(|| format!("restart {v} (same address), joining through {seed}"));
                    self.sim.restart(v, seed);
                } else {
                    self.say(|| format!("restart {v} on a new address, joining through {seed}"));
                    self.sim.restart_elsewhere(v, seed);
                }
                self.up_since[v] = self.sim.now();
            }
            4 if live.len() > 2 => {
                if let Some(v) = self.pick(&live) {
                    self.say(|| format!("{v} leaves"));
                    self.sim.leave(v);
                }
            }
            5 => {
                let groups = 2 + self.rng.below(2) as u32;
                let assignment: Vec<u32> = (0..self.n).map(|_| self.rng.below(groups as usize) as u32).collect();
                self.say(|| format!("partition {assignment:?}"));
                self.sim.network.partition(self.n, |i| assignment[i]);
                self.start_partition();
            }
            6 => {
                for _ in 0..1 + self.rng.below(2 * self.n) {
                    let (from, to) = (self.rng.below(self.n), self.rng.below(self.n));
                    if from != to {
                        self.say(|| format!("cut {from} -> {to}"));
                        self.sim.network.cut(from, to);
                    }
                }
                self.start_partition();
            }
            7 => {
                self.say(|| "heal".to_owned());
                self.sim.network.heal();
                self.end_partition();
            }
            8 => {
                let loss = [0.0, 0.05, 0.1, 0.2, 0.3][self.rng.below(5)];
                self.say(|| format!("loss {loss}"));
                self.sim.network.default.loss = loss;
            }
            9 => {
                let link = &mut self.sim.network.default;
                link.duplicate = [0.0, 0.02, 0.1][self.rng.below(3)];
                link.jitter = Duration::from_micros([200, 5_000, 40_000][self.rng.below(3)]);
                let (d, j) = (link.duplicate, link.jitter);
                self.say(|| format!("duplicate {d}, jitter {j:?}"));
            }
            10 => {
                if let Some(v) = self.pick(&live) {
                    let mode = if self.rng.below(2) == 0 { SlowMode::Stall } else { SlowMode::BlockIo };
                    let delay = Duration::from_millis(100 + self.rng.below(900) as u64);
                    let slow = Slow { delay, every: Duration::from_secs(2), from: self.sim.now(), mode };
                    self.say(|| format!("slow {v}: {mode:?} {delay:?} of every 2 s"));
                    self.sim.slow(v, Some(slow));
                }
            }
            11 => {
                if let Some(v) = self.pick(&live) {
                    self.counter += 1;
                    let meta = format!("meta-{}", self.counter);
                    self.say(|| format!("{v} sets metadata {meta}"));
                    self.sim.set_metadata(v, meta.as_bytes());
                }
            }
            _ => {
                if let Some(v) = self.pick(&live) {
                    self.counter += 1;
                    let payload = format!("b{}-from-{v}", self.counter).into_bytes();
                    self.say(|| format!("{v} broadcasts {}", String::from_utf8_lossy(&payload)));
                    if self.sim.broadcast(v, &payload).is_some() {
                        self.sent.push(Sent { origin: v, payload, at: self.sim.now() });
                    }
                }
            }
        }
    }

    /// Every node's tables within their bounds, nothing dropped, nothing
    /// delivered twice.
    fn check_step(&mut self) -> Result<(), Failure> {
        if let (true, Some((observer, subject))) = (self.verbose, self.watch) {
            let name = self.name(subject).to_vec();
            let view = |n: &swim_protocol::Node| n.member(&name).map(|m| (m.state, m.generation, m.incarnation));
            let held = self.sim.node(observer).and_then(view);
            let own = self.sim.node(subject).map(|n| (n.local().generation, n.incarnation()));
            let holders: Vec<usize> = self
                .live()
                .into_iter()
                .filter(|&i| self.sim.node(i).and_then(view).is_some_and(|(state, _, _)| state == State::Faulty))
                .collect();
            let stats = self.sim.node(observer).map(|n| n.stats());
            let health = stats.map(|s| (s.health, s.syncs_completed, s.reconnect_pings));
            let now = format!(
                "{observer} holds {subject} as {held:?}; {subject} is at {own:?}; held faulty by {holders:?}; \
                 {observer}'s health, syncs, reconnect pings {health:?}"
            );
            if now != self.watched {
                self.say(|| now.clone());
                self.watched = now;
            }
        }
        for i in 0..self.n {
            let Some(node) = self.sim.node(i) else { continue };
            if let Err(broken) = node.check_invariants() {
                return Err(self.fail("invariants", format!("member {i}: {broken}")));
            }
            let stats = node.stats();
            if stats.transmits_dropped > 0 || stats.events_dropped > 0 {
                return Err(self.fail(
                    "work bound",
                    format!(
                        "member {i} dropped {} datagrams and {} events",
                        stats.transmits_dropped, stats.events_dropped
                    ),
                ));
            }
        }
        let deliveries = &self.sim.metrics().deliveries;
        for (receiver, payload, _) in deliveries.get(self.checked..).unwrap_or_default() {
            // Deliveries since the last check belong to the receiver's
            // current process (restarts happen between checks).
            let process = self.up_since.get(*receiver).copied().unwrap_or(Time::ZERO);
            if !self.delivered.insert((*receiver, process, payload.clone())) {
                let detail = format!("member {receiver} got {} twice", String::from_utf8_lossy(payload));
                return Err(Failure {
                    seed: self.seed,
                    members: self.n,
                    property: "broadcast exactly once",
                    at: self.sim.now(),
                    detail,
                });
            }
        }
        self.checked = deliveries.len();
        Ok(())
    }

    fn name(&self, i: usize) -> &[u8] {
        &self.sim.members()[i].name
    }

    fn check_no_false_verdict(&self) -> Result<(), Failure> {
        let live = self.live();
        for &observer in &live {
            let Some(node) = self.sim.node(observer) else { continue };
            for &j in &live {
                // A verdict about an older process of j is right (that
                // process is gone); whether j's current one is known is
                // the final view's business.
                let Some(current) = self.sim.node(j).map(|n| n.local().generation) else { continue };
                if node.member(self.name(j)).is_some_and(|m| m.state == State::Faulty && m.generation == current) {
                    return Err(self.fail(
                        "no lingering verdict",
                        format!("member {observer} still holds live member {j} faulty"),
                    ));
                }
            }
        }
        Ok(())
    }

    fn final_view(&self) -> Result<(), Failure> {
        let live = self.live();
        for &observer in &live {
            let Some(node) = self.sim.node(observer) else { continue };
            for j in 0..self.n {
                if j == observer {
                    continue;
                }
                let m = &self.sim.members()[j];
                let held = node.member(self.name(j)).map(|info| info.state);
                let ok = if m.is_up() && !m.left {
                    held == Some(State::Alive)
                } else if m.left && m.leave_announced && !m.is_up() {
                    matches!(held, None | Some(State::Left))
                } else {
                    matches!(held, None | Some(State::Faulty | State::Left))
                };
                if !ok {
                    let what = if m.is_up() && !m.left {
                        "live"
                    } else if m.left && m.leave_announced {
                        "departed"
                    } else {
                        "down"
                    };
                    return Err(self.fail("one view", format!("member {observer} holds {what} member {j} as {held:?}")));
                }
            }
        }
        Ok(())
    }

    /// Whether member `i`'s current process had joined the cluster (its
    /// join through a seed succeeded) by `at`; the first member is the seed.
    fn joined_by(&self, i: usize, at: Time) -> bool {
        let since = self.up_since[i];
        if i == 0 && since == Time::ZERO {
            return true;
        }
        self.sim.metrics().joins.iter().any(|&(m, when, ok)| m == i && ok && when >= since && when <= at)
    }

    fn broadcasts(&self) -> Result<(), Failure> {
        let retention = self.config().dissemination.broadcast_lifetime;
        let live = self.live();
        let mut got: HashMap<(&[u8], usize), usize> = HashMap::new();
        for (receiver, payload, _) in &self.sim.metrics().deliveries {
            *got.entry((payload.as_slice(), *receiver)).or_default() += 1;
        }
        for b in &self.sent {
            if !live.contains(&b.origin) || self.up_since[b.origin] > b.at || !self.joined_by(b.origin, b.at) {
                continue; // the origin did not live on, or was not in the cluster
            }
            let cut = self.partitioned.iter().any(|&(from, to)| from <= b.at + retention && to >= b.at)
                || self.partitioned_since.is_some_and(|since| since <= b.at + retention);
            if cut {
                continue; // a partition may have kept it from some members for longer than it is held
            }
            for &r in &live {
                if r == b.origin || self.up_since[r] > b.at || !self.joined_by(r, b.at) {
                    continue;
                }
                if got.get(&(b.payload.as_slice(), r)).copied().unwrap_or(0) != 1 {
                    return Err(self.fail(
                        "broadcast delivery",
                        format!(
                            "member {r} never got {} (sent by {} at {:?})",
                            String::from_utf8_lossy(&b.payload),
                            b.origin,
                            b.at
                        ),
                    ));
                }
            }
        }
        Ok(())
    }
}
