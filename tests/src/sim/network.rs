//! The simulated network: per-link loss, latency with jitter, duplication,
//! and partitions. Reordering follows from jitter.

use std::collections::HashMap;
use std::time::Duration;

use super::random::SimRng;

/// How one direction of a link behaves.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct LinkModel {
    /// Probability that a datagram is lost.
    pub loss: f64,
    /// One-way latency.
    pub latency: Duration,
    /// Extra latency, uniform in `[0, jitter]` (so datagrams can overtake).
    pub jitter: Duration,
    /// Probability that a datagram is delivered twice.
    pub duplicate: f64,
}

impl Default for LinkModel {
    fn default() -> Self {
        LinkModel { loss: 0.0, latency: Duration::from_micros(500), jitter: Duration::from_micros(200), duplicate: 0.0 }
    }
}

/// The whole network.
#[derive(Debug, Clone, Default)]
pub struct Network {
    /// The model of every link without an override.
    pub default: LinkModel,
    overrides: HashMap<(usize, usize), LinkModel>,
    /// Partition group of each member; members in different groups cannot
    /// reach each other. Empty means no partition.
    groups: Vec<u32>,
    /// Directed links cut on top of the groups (asymmetric partitions).
    cut: std::collections::HashSet<(usize, usize)>,
}

impl Network {
    /// A network where every link follows `default`.
    pub fn new(default: LinkModel) -> Self {
        Network { default, overrides: HashMap::new(), groups: Vec::new(), cut: Default::default() }
    }

    /// Overrides the link from `from` to `to`.
    pub fn set_link(&mut self, from: usize, to: usize, model: LinkModel) {
        self.overrides.insert((from, to), model);
    }

    /// The model of the link from `from` to `to`.
    pub fn link(&self, from: usize, to: usize) -> LinkModel {
        self.overrides.get(&(from, to)).copied().unwrap_or(self.default)
    }

    /// Splits the members: `group_of(i)` gives each member's side.
    pub fn partition(&mut self, members: usize, group_of: impl Fn(usize) -> u32) {
        self.groups = (0..members).map(group_of).collect();
    }

    /// Cuts the link from `from` to `to` only (the other direction keeps
    /// working): an asymmetric partition.
    pub fn cut(&mut self, from: usize, to: usize) {
        self.cut.insert((from, to));
    }

    /// Removes every partition and cut link (link overrides stay).
    pub fn heal(&mut self) {
        self.groups.clear();
        self.cut.clear();
    }

    /// Whether `from` can reach `to` at all.
    pub fn connected(&self, from: usize, to: usize) -> bool {
        let grouped = match (self.groups.get(from), self.groups.get(to)) {
            (Some(a), Some(b)) => a == b,
            _ => true,
        };
        grouped && !self.cut.contains(&(from, to))
    }

    /// The delays after which copies of one datagram arrive: none if it is
    /// lost, two if it is duplicated.
    pub fn deliveries(&self, rng: &mut SimRng, from: usize, to: usize) -> [Option<Duration>; 2] {
        let model = self.link(from, to);
        if !self.connected(from, to) || rng.chance(model.loss) {
            return [None, None];
        }
        let delay = |rng: &mut SimRng| Some(model.latency + model.jitter.mul_f64(rng.unit()));
        let first = delay(rng);
        let second = if rng.chance(model.duplicate) { delay(rng) } else { None };
        [first, second]
    }

    /// Latency of a stream frame (streams are reliable: no loss, no copies).
    pub fn stream_delay(&self, rng: &mut SimRng, from: usize, to: usize) -> Duration {
        let model = self.link(from, to);
        model.latency + model.jitter.mul_f64(rng.unit())
    }
}
