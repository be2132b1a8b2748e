//! The cluster every swarm process derives from the same arguments: who
//! the emulated members are, where they live, which crash when, and what
//! the rest of the cluster would gossip about it.

use std::net::{Ipv4Addr, SocketAddr};
use std::time::Duration;

use swim_protocol::Config;

/// The port of every emulated member unless told otherwise (each has its
/// own address).
pub const PORT: u16 = 7946;

/// Emulated members a worker process holds at most: a UDP socket and a TCP
/// listener each, within the 20,000 descriptors a process may open here.
pub const PER_WORKER: usize = 4000;

/// Suspicions per crash, a period apart: in a large cluster about one
/// member probes the crashed one per period, and with Lifeguard's
/// `K = 3` confirmations the first suspector's timer falls to the minimum.
pub const SUSPECTORS: usize = 4;

/// What every process of a swarm run knows.
#[derive(Debug, Clone)]
pub struct Plan {
    /// Members in the cluster, the real one included.
    pub members: usize,
    /// Worker processes.
    pub workers: usize,
    /// The seed of every random choice.
    pub seed: u64,
    /// When the run started (ms since the Unix epoch): every schedule
    /// counts from it.
    pub start_ms: u64,
    /// How long the run lasts.
    pub duration: Duration,
    /// When the first crash happens (the real member has joined by then).
    pub warmup: Duration,
    /// Time between crashes.
    pub crash_every: Duration,
    /// The real member's address.
    pub real: SocketAddr,
    /// The cluster key.
    pub key: [u8; 32],
    /// The port of every emulated member.
    pub port: u16,
}

/// A crash of an emulated member and what the cluster makes of it.
#[derive(Debug, Clone, PartialEq)]
pub struct Crash {
    /// The crashed member.
    pub victim: usize,
    /// When it stops answering (since the start).
    pub at: Duration,
    /// Who suspects it, and when.
    pub suspects: [(usize, Duration); SUSPECTORS],
    /// When the first suspector declares it faulty.
    pub faulty_at: Duration,
}

/// A rumor the emulated cluster spreads.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RumorKind {
    /// `by` suspects the subject.
    Suspect,
    /// `by` declares the subject faulty.
    Faulty,
    /// The subject refutes a suspicion (`by` is the subject).
    Alive,
}

/// One rumor: what, about whom, from when.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Rumor {
    /// What it says.
    pub kind: RumorKind,
    /// About whom (an emulated member).
    pub subject: usize,
    /// Who says it.
    pub by: usize,
    /// The subject's incarnation it names.
    pub incarnation: u32,
    /// When it starts to spread (since the start).
    pub starts: Duration,
}

/// A small seeded generator (SplitMix64): the same sequence in every process.
#[derive(Debug, Clone)]
pub struct Rng(u64);

impl Rng {
    /// A generator for `seed` and `stream` (a worker's index, say).
    pub fn new(seed: u64, stream: u64) -> Self {
        Rng(seed ^ stream.wrapping_mul(0x9e37_79b9_7f4a_7c15) ^ 0x2545_f491_4f6c_dd1d)
    }

    /// The next 64 random bits.
    pub fn next_u64(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9e37_79b9_7f4a_7c15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
        z ^ (z >> 31)
    }

    /// Uniform in `[0, 1)`.
    pub fn unit(&mut self) -> f64 {
        (self.next_u64() >> 11) as f64 / (1u64 << 53) as f64
    }

    /// Uniform in `lo..hi` (`hi > lo`).
    pub fn range(&mut self, lo: usize, hi: usize) -> usize {
        lo + (self.next_u64() % (hi - lo) as u64) as usize
    }

    /// `floor(x)` plus one with probability `frac(x)`: an integer with
    /// mean `x`.
    pub fn round(&mut self, x: f64) -> usize {
        let whole = x.floor();
        whole as usize + usize::from(self.unit() < x - whole)
    }
}

impl Plan {
    /// The protocol settings of the run: [`Config::lan`] (T = 1 s), as the
    /// real member runs it.
    pub fn config(&self) -> Config {
        Config::lan()
    }

    /// Emulated members.
    pub fn emulated(&self) -> usize {
        self.members - 1
    }

    /// The name of emulated member `i`.
    pub fn name(i: usize) -> Vec<u8> {
        format!("swarm-{i:05}").into_bytes()
    }

    /// The address of emulated member `i`: 127.16.0.1 and up.
    pub fn addr(&self, i: usize) -> SocketAddr {
        let base = u32::from(Ipv4Addr::new(127, 16, 0, 1));
        SocketAddr::new(Ipv4Addr::from(base + i as u32).into(), self.port)
    }

    /// The emulated member whose address is `addr`.
    pub fn index_of(&self, addr: SocketAddr) -> Option<usize> {
        let std::net::IpAddr::V4(ip) = addr.ip() else { return None };
        let i = u32::from(ip).checked_sub(u32::from(Ipv4Addr::new(127, 16, 0, 1)))? as usize;
        (i < self.emulated() && addr.port() == self.port).then_some(i)
    }

    /// The worker that holds emulated member `i`.
    pub fn owner(&self, i: usize) -> usize {
        i % self.workers
    }

    /// Members worker `w` holds.
    pub fn held_by(&self, w: usize) -> impl Iterator<Item = usize> + '_ {
        (w..self.emulated()).step_by(self.workers)
    }

    /// Workers needed for `members`.
    pub fn workers_for(members: usize) -> usize {
        (members - 1).div_ceil(PER_WORKER).max(1)
    }

    /// The suspicion timeout the cluster's first suspector ends with
    /// (Lifeguard's minimum, reached with `K` confirmations):
    /// `α · log10(N) · T`.
    pub fn min_suspicion(&self) -> Duration {
        let c = self.config();
        c.probe.period.mul_f64(f64::from(c.suspicion.mult) * (self.members.max(2) as f64).log10())
    }

    /// The crash schedule: from the warmup on, one every `crash_every`,
    /// while its verdict still falls within the run (member 0, the seed,
    /// never crashes).
    pub fn crashes(&self) -> Vec<Crash> {
        let mut rng = Rng::new(self.seed, u64::MAX);
        let period = self.config().probe.period;
        let mut out: Vec<Crash> = Vec::new();
        let mut at = self.warmup;
        while !self.crash_every.is_zero() && out.len() + 2 < self.emulated() {
            let victim = loop {
                let v = rng.range(1, self.emulated());
                if out.iter().all(|c| c.victim != v) {
                    break v;
                }
            };
            let first = at + period.mul_f64(1.0 + rng.unit());
            let mut suspects = [(0, Duration::ZERO); SUSPECTORS];
            for (k, s) in suspects.iter_mut().enumerate() {
                let by = loop {
                    let b = rng.range(0, self.emulated());
                    if b != victim && out.iter().all(|c| c.victim != b) {
                        break b;
                    }
                };
                *s = (by, first + period * k as u32);
            }
            let faulty_at = first + self.min_suspicion();
            if faulty_at + period * 10 > self.duration {
                break;
            }
            out.push(Crash { victim, at, suspects, faulty_at });
            at += self.crash_every;
        }
        out
    }

    /// The rumors of the crash schedule, in start order.
    pub fn crash_rumors(&self) -> Vec<Rumor> {
        let mut out = Vec::new();
        for c in self.crashes() {
            for &(by, starts) in &c.suspects {
                out.push(Rumor { kind: RumorKind::Suspect, subject: c.victim, by, incarnation: 0, starts });
            }
            let by = c.suspects[0].0;
            out.push(Rumor { kind: RumorKind::Faulty, subject: c.victim, by, incarnation: 0, starts: c.faulty_at });
        }
        out.sort_by_key(|r| r.starts);
        out
    }

    /// Expected copies of one rumor the real member receives in each gossip
    /// round after it starts: members infected in the last
    /// `⌈λ⌈log10(N + 1)⌉ / f⌉` rounds each send it to `f` random members;
    /// the infected count grows by `(N − I)(1 − e^(−f·T/N))` a round.
    pub fn curve(&self) -> Vec<f64> {
        let c = self.config();
        let n = self.members as f64;
        let fanout = c.dissemination.gossip_fanout.max(1) as f64;
        let sends = f64::from(c.dissemination.retransmit_mult) * (n + 1.0).log10().ceil();
        let active = (sends / fanout).ceil().max(1.0) as usize;
        let mut fresh = vec![1.0f64];
        let mut infected = 1.0;
        let mut out = Vec::new();
        for round in 0..1000usize {
            let from = (round + 1).saturating_sub(active);
            let transmitting: f64 = fresh[from..=round].iter().sum();
            if transmitting < 1e-3 {
                break;
            }
            out.push(fanout * transmitting / n);
            let new = (n - infected) * (1.0 - (-fanout * transmitting / n).exp());
            infected += new;
            fresh.push(new);
        }
        out
    }

    /// The arguments that give this plan to a worker (see [`Plan::parse`]).
    pub fn args(&self) -> Vec<String> {
        let key: String = self.key.iter().map(|b| format!("{b:02x}")).collect();
        vec![
            format!("--members={}", self.members),
            format!("--workers={}", self.workers),
            format!("--seed={}", self.seed),
            format!("--start-ms={}", self.start_ms),
            format!("--duration={}", self.duration.as_secs_f64()),
            format!("--warmup={}", self.warmup.as_secs_f64()),
            format!("--crash-every={}", self.crash_every.as_secs_f64()),
            format!("--real={}", self.real),
            format!("--key={key}"),
            format!("--port={}", self.port),
        ]
    }

    /// Reads a plan from `--name=value` arguments; the others are returned.
    pub fn parse(args: &[String]) -> Result<(Plan, Vec<String>), String> {
        let mut plan = Plan {
            members: 16_000,
            workers: 0,
            seed: 1,
            start_ms: 0,
            duration: Duration::from_secs(600),
            warmup: Duration::from_secs(60),
            crash_every: Duration::from_secs(60),
            real: SocketAddr::from(([127, 0, 0, 2], PORT)),
            key: [0; 32],
            port: PORT,
        };
        let mut rest = Vec::new();
        for a in args {
            let Some((k, v)) = a.split_once('=') else {
                rest.push(a.clone());
                continue;
            };
            let secs = |v: &str| v.parse::<f64>().map(Duration::from_secs_f64).map_err(|e| format!("{k}: {e}"));
            match k {
                "--members" => plan.members = v.parse().map_err(|e| format!("{k}: {e}"))?,
                "--workers" => plan.workers = v.parse().map_err(|e| format!("{k}: {e}"))?,
                "--seed" => plan.seed = v.parse().map_err(|e| format!("{k}: {e}"))?,
                "--start-ms" => plan.start_ms = v.parse().map_err(|e| format!("{k}: {e}"))?,
                "--duration" => plan.duration = secs(v)?,
                "--warmup" => plan.warmup = secs(v)?,
                "--crash-every" => plan.crash_every = secs(v)?,
                "--port" => plan.port = v.parse().map_err(|e| format!("{k}: {e}"))?,
                "--real" => plan.real = v.parse().map_err(|e| format!("{k}: {e}"))?,
                "--key" => {
                    if v.len() != 64 {
                        return Err("--key: 64 hex digits".into());
                    }
                    for (i, b) in plan.key.iter_mut().enumerate() {
                        *b = u8::from_str_radix(&v[2 * i..2 * i + 2], 16).map_err(|e| format!("--key: {e}"))?;
                    }
                }
                _ => rest.push(a.clone()),
            }
        }
        if plan.members < 3 {
            return Err("--members: at least 3".into());
        }
        if plan.workers == 0 {
            plan.workers = Plan::workers_for(plan.members);
        }
        Ok((plan, rest))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn plan(members: usize) -> Plan {
        let args = vec![format!("--members={members}"), "--duration=600".into()];
        Plan::parse(&args).unwrap().0
    }

    #[test]
    fn addresses_round_trip_and_workers_share_the_members() {
        let p = plan(16_000);
        assert_eq!(p.workers, 4);
        assert_eq!(p.index_of(p.addr(0)), Some(0));
        assert_eq!(p.index_of(p.addr(15_998)), Some(15_998));
        assert_eq!(p.index_of(p.addr(15_999)), None);
        let held: usize = (0..p.workers).map(|w| p.held_by(w).count()).sum();
        assert_eq!(held, p.emulated());
        assert!((0..p.workers).all(|w| p.held_by(w).count() <= PER_WORKER));
    }

    #[test]
    fn the_crash_schedule_is_the_same_in_every_process_and_spares_the_seed() {
        let p = plan(1000);
        let crashes = p.crashes();
        assert_eq!(crashes, p.crashes());
        assert!(crashes.len() >= 5, "{} crashes", crashes.len());
        for c in &crashes {
            assert!(c.victim != 0 && c.faulty_at > c.suspects[0].1 && c.suspects[0].1 > c.at);
            assert!(c.suspects.iter().all(|&(by, _)| by != c.victim));
        }
    }

    #[test]
    fn a_rumor_reaches_a_member_about_lambda_log_n_times() {
        // Every member receives each rumor about as often as each member
        // sends it: λ⌈log10(N + 1)⌉ = 4 · 5 at N = 16,000.
        let p = plan(16_000);
        let total: f64 = p.curve().iter().sum();
        assert!((18.0..=22.0).contains(&total), "{total}");
        // Most of the cluster is infected within about log(N) rounds.
        let half = p.curve().iter().scan(0.0, |s, &e| Some(*s + e)).position(|s| s > 1.0).unwrap();
        assert!((4..=12).contains(&half), "{half}");
    }
}
