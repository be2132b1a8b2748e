//! The deterministic cluster simulator: many [`Node`]s in one process on a
//! virtual clock, talking through a seeded network model.
//!
//! Everything that happens is an entry in one time-ordered queue (datagram
//! deliveries, sync-stream frames, node timers, scheduled commands), so a
//! run is a pure function of its seed and configuration: the same seed
//! replays the same run, event for event. If a test panics while a `Sim` is
//! alive, the seed is printed so the run can be replayed
//! (`SWIM_SIM_SEED=<seed>`, see [`seed_from_env`]).
//!
//! ```
//! use std::time::Duration;
//! use swim_tests::sim::{Sim, SimConfig};
//!
//! let mut sim = Sim::new(SimConfig { members: 8, seed: 7, ..SimConfig::default() });
//! sim.join_all(0, Duration::from_millis(10));
//! assert!(sim.run_until(Duration::from_secs(30), |s| s.converged()));
//! ```

mod metrics;
mod network;
mod queries;
mod queue;
mod random;
mod responder;
mod streams;

use std::collections::HashMap;
use std::net::SocketAddr;
use std::time::Duration;

use swim_protocol::{Config, Event, Node, State, SyncId, Time};

use crate::alloc_counter;
pub use metrics::{BroadcastTrack, Detection, MemberMetrics, Metrics};
pub use network::{LinkModel, Network};
pub use queries::QueryLog;
use queue::Queue;
pub use random::SimRng;

/// The wall clock of simulated time zero (ms since the Unix epoch).
pub const SIM_WALL_CLOCK_MS: u64 = 1_800_000_000_000;

/// The seed to use: `SWIM_SIM_SEED` from the environment if set, else
/// `default`.
pub fn seed_from_env(default: u64) -> u64 {
    std::env::var("SWIM_SIM_SEED").ok().and_then(|s| s.parse().ok()).unwrap_or(default)
}

/// What to simulate.
#[derive(Debug, Clone)]
pub struct SimConfig {
    /// Seed of the whole run (nodes' seeds derive from it).
    pub seed: u64,
    /// How many members exist (started but not joined).
    pub members: usize,
    /// The nodes' configuration (each gets its own seed).
    pub config: Config,
    /// Every link's behaviour.
    pub link: LinkModel,
    /// Count allocations made inside the nodes (needs the counting
    /// allocator installed in the binary).
    pub count_allocations: bool,
    /// Check every node's invariants after everything it handles (O(N) per
    /// event: for small runs).
    pub check_invariants: bool,
    /// Members from this index on are responders rather than full nodes
    /// (see the `responder` module): for clusters too large to simulate in
    /// full. `None`: every member is a full node.
    pub responders_from: Option<usize>,
    /// Record how long each timer and datagram takes a full member
    /// (including carrying out its outputs), for [`Sim::step_times`].
    pub time_steps: bool,
    /// How long a leaving member keeps running at most before it stops
    /// anyway (as the runtime's `leave` timeout).
    pub leave_timeout: Duration,
}

impl Default for SimConfig {
    fn default() -> Self {
        SimConfig {
            seed: 1,
            members: 8,
            config: Config::local(),
            link: LinkModel::default(),
            count_allocations: false,
            check_invariants: false,
            responders_from: None,
            time_steps: false,
            leave_timeout: Duration::from_secs(5),
        }
    }
}

/// What a slowed member suffers during each slow window.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SlowMode {
    /// The process stalls (CPU exhaustion): its inputs and its timers wait
    /// for the window to end; then its overdue timers fire first.
    Stall,
    /// Its network stalls: datagrams to it and from it are held until the
    /// window ends, while its timers keep firing on time (the Lifeguard
    /// paper's slow members).
    BlockIo,
}

/// A slowed member: slow for `delay` out of every `every`, from `from`.
#[derive(Debug, Clone, Copy)]
pub struct Slow {
    /// How long each slow window lasts.
    pub delay: Duration,
    /// How often a window starts.
    pub every: Duration,
    /// When the first window starts.
    pub from: Time,
    /// What is held back.
    pub mode: SlowMode,
}

impl Slow {
    /// If `now` falls in a slow window, when it ends.
    fn frozen_until(&self, now: Time) -> Option<Time> {
        if now < self.from {
            return None;
        }
        let every = self.every.as_micros().max(1) as u64;
        let phase = (now.as_micros() - self.from.as_micros()) % every;
        let delay = self.delay.as_micros() as u64;
        (phase < delay).then(|| Time::from_micros(now.as_micros() + (delay - phase)))
    }
}

/// One simulated member.
#[derive(Debug)]
pub struct SimMember {
    /// Its name.
    pub name: Vec<u8>,
    /// Its address.
    pub addr: SocketAddr,
    // Boxed: moved out and back on every event, which must be cheap.
    node: Option<Box<Node>>,
    deadline: Option<Time>,
    /// When it crashed, if it is down.
    pub crashed_at: Option<Time>,
    /// Whether it left gracefully (and stopped).
    pub left: bool,
    /// When it began to leave, while it still runs.
    leaving_since: Option<Time>,
    /// Whether its departure was announced before it stopped (`false`: it
    /// stopped at the leave timeout, or has not stopped yet).
    pub leave_announced: bool,
    /// How it is slowed, if it is.
    pub slow: Option<Slow>,
    /// Whether it is a responder rather than a full node.
    pub responder: bool,
    restarts: u32,
}

impl SimMember {
    /// Whether the member is running.
    pub fn is_up(&self) -> bool {
        self.node.is_some() || (self.responder && self.crashed_at.is_none())
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Pending {
    /// A node's deadline `due` (postponed past `due` if the node is frozen).
    Timer {
        node: usize,
        due: Time,
    },
    Datagram {
        to: usize,
        from: usize,
        buf: usize,
    },
    Frame {
        sync: usize,
        to_side: usize,
        buf: usize,
    },
    Join {
        node: usize,
        seed: usize,
    },
    /// A random responder pings full member `to` (then again a period
    /// later): full members are probed as often as in a full cluster.
    ResponderPing {
        to: usize,
    },
}

#[derive(Debug)]
struct SimSync {
    /// `(member, session)` of the opener and of the acceptor.
    ends: [(usize, SyncId); 2],
    open: [bool; 2],
    /// Latest scheduled arrival per direction, to keep stream order.
    last_arrival: [Time; 2],
}

/// The simulator.
#[derive(Debug)]
pub struct Sim {
    seed: u64,
    now: Time,
    rng: SimRng,
    config: Config,
    /// The network model (change it between runs).
    pub network: Network,
    members: Vec<SimMember>,
    by_addr: HashMap<SocketAddr, usize>,
    by_name: HashMap<Vec<u8>, usize>,
    queue: Queue<Pending>,
    buffers: Vec<Vec<u8>>,
    free_buffers: Vec<usize>,
    syncs: Vec<SimSync>,
    scratch: Vec<u8>,
    metrics: Metrics,
    count_allocations: bool,
    check_invariants: bool,
    /// Nanoseconds of each full member's step, if recorded.
    step_times: Option<Vec<u32>>,
    /// When the step being timed began.
    step_started: Option<std::time::Instant>,
    /// Wall time spent in sync exchanges (with `time_steps`).
    sync_time: Duration,
    /// Index of the first responder (the member count if none).
    responders_from: usize,
    leave_timeout: Duration,
    /// Queries asked and answered.
    queries: QueryLog,
}

impl Sim {
    /// Creates the members (running, each alone until it joins).
    pub fn new(sim: SimConfig) -> Self {
        let mut this = Sim {
            queries: QueryLog::default(),
            seed: sim.seed,
            now: Time::ZERO,
            rng: SimRng::new(sim.seed),
            config: sim.config,
            network: Network::new(sim.link),
            members: Vec::with_capacity(sim.members),
            by_addr: HashMap::with_capacity(sim.members),
            by_name: HashMap::with_capacity(sim.members),
            queue: Queue::new(),
            buffers: Vec::new(),
            free_buffers: Vec::new(),
            syncs: Vec::new(),
            scratch: Vec::new(),
            metrics: Metrics::new(sim.members),
            count_allocations: sim.count_allocations,
            check_invariants: sim.check_invariants,
            step_times: sim.time_steps.then(Vec::new),
            step_started: None,
            sync_time: Duration::ZERO,
            responders_from: sim.responders_from.unwrap_or(sim.members).min(sim.members),
            leave_timeout: sim.leave_timeout,
        };
        let frame = this.config.sync.frame_budget.max(this.config.limits.packet_budget);
        this.scratch = vec![0; frame];
        let responders_from = this.responders_from;
        for i in 0..sim.members {
            let name = format!("m{i:05}").into_bytes();
            let addr = SocketAddr::from(([10, (i >> 16) as u8, (i >> 8) as u8, i as u8], 7946));
            this.by_addr.insert(addr, i);
            this.by_name.insert(name.clone(), i);
            this.members.push(SimMember {
                name,
                addr,
                node: None,
                deadline: None,
                crashed_at: None,
                left: false,
                leaving_since: None,
                leave_announced: false,
                slow: None,
                responder: i >= responders_from,
                restarts: 0,
            });
            if i < responders_from {
                this.boot(i);
            }
        }
        if responders_from < sim.members {
            for i in 0..responders_from {
                let at = Time::ZERO + this.config.probe.period.mul_f64(this.rng.unit());
                this.schedule(at, Pending::ResponderPing { to: i });
            }
        }
        this
    }

    /// The run's seed.
    pub fn seed(&self) -> u64 {
        self.seed
    }

    /// The virtual time.
    pub fn now(&self) -> Time {
        self.now
    }

    /// All members.
    pub fn members(&self) -> &[SimMember] {
        &self.members
    }

    /// A member's node, if it is up.
    pub fn node(&self, i: usize) -> Option<&Node> {
        self.members.get(i).and_then(|m| m.node.as_deref())
    }

    /// The index of the member with this name.
    pub fn index_of(&self, name: &[u8]) -> Option<usize> {
        self.by_name.get(name).copied()
    }

    /// What was measured so far.
    pub fn metrics(&self) -> &Metrics {
        &self.metrics
    }

    /// Mutable access to the metrics (e.g. to reset them after warm-up).
    pub fn metrics_mut(&mut self) -> &mut Metrics {
        &mut self.metrics
    }

    /// Starts (or restarts) member `i` with a fresh node.
    fn boot(&mut self, i: usize) {
        let Some(m) = self.members.get_mut(i) else { return };
        let seed = SimRng::derive(self.seed, (i as u64) << 16 | u64::from(m.restarts));
        // Each process of a member starts later than the last: the wall
        // clock gives it a newer generation (as the runtime does).
        let generation = SIM_WALL_CLOCK_MS * 1000 + self.now.as_micros();
        // With encryption, each node draws its own nonce epoch: ciphertexts
        // differ between runs, but no behaviour depends on their bytes.
        let config = self.config.clone().with(|c| {
            c.seed = seed;
            c.generation = generation;
        });
        let mut node = Node::new(&m.name, &[m.addr], b"", config, self.now).expect("the simulator's config is valid");
        // One wall clock for everyone (replay protection compares sender times).
        node.set_wall_clock(self.now, SIM_WALL_CLOCK_MS + self.now.as_micros() / 1000);
        m.node = Some(Box::new(node));
        m.crashed_at = None;
        m.left = false;
        m.leaving_since = None;
        m.leave_announced = false;
        m.deadline = None;
        self.settle(i);
    }

    /// Every member but `seed` joins through `seed`, one every `stagger`.
    pub fn join_all(&mut self, seed: usize, stagger: Duration) {
        let mut at = self.now;
        for i in (0..self.members.len()).filter(|&i| i != seed) {
            self.schedule(at, Pending::Join { node: i, seed });
            at += stagger;
        }
    }

    /// Member `i` joins through `seed` now.
    pub fn join(&mut self, i: usize, seed: usize) {
        self.schedule(self.now, Pending::Join { node: i, seed });
    }

    /// Crashes member `i`: it stops at once, without leaving.
    pub fn crash(&mut self, i: usize) {
        if let Some(m) = self.members.get_mut(i)
            && (m.node.take().is_some() || (m.responder && m.crashed_at.is_none()))
        {
            m.crashed_at = Some(self.now);
            m.deadline = None;
            self.metrics.crashed(i, self.now);
        }
    }

    /// Restarts a stopped member (crashed or departed) under the same name
    /// and address, with no memory of its past; it joins through `seed`.
    pub fn restart(&mut self, i: usize, seed: usize) {
        if let Some(m) = self.members.get_mut(i) {
            if m.node.is_some() || m.responder {
                return;
            }
            m.restarts += 1;
        }
        self.boot(i);
        self.join(i, seed);
    }

    /// Restarts a stopped member under the same name on a new address (a
    /// container that comes back elsewhere); the old address goes dead. It
    /// joins through `seed`.
    pub fn restart_elsewhere(&mut self, i: usize, seed: usize) {
        let Some(m) = self.members.get_mut(i) else { return };
        if m.node.is_some() || m.responder {
            return;
        }
        m.restarts += 1;
        let old = m.addr;
        let port = 7946u16.wrapping_add(u16::try_from(m.restarts % 50_000).unwrap_or(0));
        m.addr = SocketAddr::new(old.ip(), port);
        let new = m.addr;
        self.by_addr.remove(&old);
        self.by_addr.insert(new, i);
        self.boot(i);
        self.join(i, seed);
    }

    /// Member `i` leaves gracefully; it stops once its departure has been
    /// announced, or at the leave timeout (checked as the simulation runs).
    pub fn leave(&mut self, i: usize) {
        let now = self.now;
        if self.with_node(i, |node, _| node.leave(now)).is_none() {
            return;
        }
        if let Some(m) = self.members.get_mut(i) {
            m.left = true;
            m.leaving_since = Some(now);
        }
        self.settle(i);
    }

    /// Broadcasts from member `i`.
    pub fn broadcast(&mut self, i: usize, payload: &[u8]) -> Option<u32> {
        let now = self.now;
        let seq = self.with_node(i, |node, _| node.broadcast(now, payload).ok()).flatten()?;
        let live = self.members.iter().filter(|m| m.is_up() && !m.left).count();
        self.metrics.broadcast_sent(i, seq, now, live.saturating_sub(1));
        self.settle(i);
        Some(seq)
    }

    /// Changes member `i`'s metadata.
    pub fn set_metadata(&mut self, i: usize, meta: &[u8]) {
        let now = self.now;
        self.with_node(i, |node, _| node.set_metadata(now, meta).ok());
        self.settle(i);
    }

    /// Turns counting of the nodes' allocations on or off (see
    /// [`alloc_counter::accumulated`]).
    pub fn count_allocations(&mut self, on: bool) {
        self.count_allocations = on;
    }

    /// Slows member `i` (or stops slowing it with `None`).
    pub fn slow(&mut self, i: usize, slow: Option<Slow>) {
        if let Some(m) = self.members.get_mut(i) {
            m.slow = slow;
        }
    }

    /// Runs for `duration` of virtual time.
    pub fn run_for(&mut self, duration: Duration) {
        let end = self.now + duration;
        self.run_to(end);
    }

    /// Runs until `done` holds (checked every 100 ms of virtual time) or
    /// `limit` has passed; returns whether `done` held.
    pub fn run_until(&mut self, limit: Duration, mut done: impl FnMut(&Sim) -> bool) -> bool {
        let end = self.now + limit;
        while self.now < end {
            if done(self) {
                return true;
            }
            let step = (self.now + Duration::from_millis(100)).min(end);
            self.run_to(step);
        }
        done(self)
    }

    fn run_to(&mut self, end: Time) {
        while let Some(at) = self.queue.peek_time() {
            if at > end {
                break;
            }
            let Some((at, pending)) = self.queue.pop() else { break };
            self.now = self.now.max(at);
            self.dispatch(pending);
        }
        self.now = self.now.max(end);
    }

    fn schedule(&mut self, at: Time, pending: Pending) {
        self.queue.push(at, pending);
    }

    /// If member `i`'s `kind` of activity is held now, until when.
    fn held_until(&self, i: usize, timer: bool) -> Option<Time> {
        let slow = self.members.get(i).and_then(|m| m.slow)?;
        if timer && slow.mode == SlowMode::BlockIo {
            return None;
        }
        slow.frozen_until(self.now)
    }

    fn dispatch(&mut self, pending: Pending) {
        let target = match pending {
            Pending::Timer { node, .. } | Pending::Datagram { to: node, .. } | Pending::Join { node, .. } => Some(node),
            Pending::Frame { sync, to_side, .. } => self.syncs.get(sync).and_then(|s| s.ends.get(to_side)).map(|e| e.0),
            Pending::ResponderPing { .. } => None,
        };
        let timer = matches!(pending, Pending::Timer { .. } | Pending::Join { .. });
        if let Some(thaw) = target.and_then(|i| self.held_until(i, timer)) {
            // A stalled process finds its timeouts expired when it wakes,
            // before it reads what arrived meanwhile.
            let at = if timer { thaw } else { thaw + Duration::from_micros(1) };
            self.schedule(at, pending);
            return;
        }
        match pending {
            Pending::Timer { node, due } => {
                if self.members.get(node).is_some_and(|m| m.deadline == Some(due)) {
                    // This wake-up is used: whatever deadline the node has
                    // next (even the same one, if work is left) is scheduled.
                    if let Some(m) = self.members.get_mut(node) {
                        m.deadline = None;
                    }
                    self.step_started = self.step_times.is_some().then(std::time::Instant::now);
                    self.fire_timer(node);
                    self.record_step();
                }
            }
            Pending::Datagram { to, from, buf } => {
                if self.members.get(to).is_some_and(|m| m.responder) {
                    if self.members.get(to).is_some_and(SimMember::is_up) {
                        let data = self.buffers.get_mut(buf).map(std::mem::take).unwrap_or_default();
                        self.metrics.received(to, data.len());
                        self.respond(to, from, &data);
                        if let Some(b) = self.buffers.get_mut(buf) {
                            *b = data;
                        }
                    }
                } else {
                    self.step_started = self.step_times.is_some().then(std::time::Instant::now);
                    self.deliver(to, from, buf);
                    self.record_step();
                }
                self.release(buf);
            }
            Pending::Frame { sync, to_side, buf } => {
                let started = self.step_times.is_some().then(std::time::Instant::now);
                self.deliver_frame(sync, to_side, buf);
                self.release(buf);
                self.sync_time += started.map_or(Duration::ZERO, |s| s.elapsed());
            }
            Pending::ResponderPing { to } => {
                self.responder_ping(to);
                let next = self.now + self.config.probe.period.mul_f64(0.5 + self.rng.unit());
                self.schedule(next, Pending::ResponderPing { to });
            }
            Pending::Join { node, seed } => {
                let (now, seed_addr) = (self.now, self.members.get(seed).map(|m| m.addr));
                if let Some(addr) = seed_addr {
                    self.with_node(node, |n, _| n.join(now, &[addr]).ok());
                    self.settle(node);
                }
            }
        }
    }

    /// Ends the step being timed, if any: the node's call and the carrying
    /// out of its datagrams and events. A sync it opens is not part of it:
    /// the simulator runs a whole exchange at once (all frames, and a
    /// responder's side), where a real member handles one frame per call.
    fn record_step(&mut self) {
        if let (Some(start), Some(times)) = (self.step_started.take(), self.step_times.as_mut()) {
            times.push(u32::try_from(start.elapsed().as_nanos()).unwrap_or(u32::MAX));
        }
    }

    /// Nanoseconds of every step of a full member so far (with
    /// `time_steps`), and clears them.
    pub fn step_times(&mut self) -> Vec<u32> {
        self.step_times.as_mut().map(std::mem::take).unwrap_or_default()
    }

    /// Wall time spent in sync exchanges so far (with `time_steps`: every
    /// frame, both sides, a responder's side included), and clears it.
    pub fn sync_time(&mut self) -> Duration {
        std::mem::take(&mut self.sync_time)
    }

    fn fire_timer(&mut self, i: usize) {
        let now = self.now;
        // A stalled member handles its timers late; the node itself tells
        // that from local overload.
        self.with_node(i, |node, _| node.handle_timeout(now));
        self.settle(i);
    }

    fn deliver(&mut self, to: usize, from: usize, buf: usize) {
        let Some(from_addr) = self.members.get(from).map(|m| m.addr) else { return };
        let Some(mut data) = self.buffers.get_mut(buf).map(std::mem::take) else { return };
        let now = self.now;
        let len = data.len();
        let accepted = self.with_node(to, |node, _| node.handle_datagram(now, from_addr, &mut data).is_ok());
        if let Some(b) = self.buffers.get_mut(buf) {
            *b = data;
        }
        if accepted == Some(true) {
            self.metrics.received(to, len);
            self.settle(to);
        }
    }

    /// Runs `f` on member `i`'s node (counting its allocations if asked).
    fn with_node<R>(&mut self, i: usize, f: impl FnOnce(&mut Node, Time) -> R) -> Option<R> {
        let now = self.now;
        let node = self.members.get_mut(i)?.node.as_deref_mut()?;
        Some(if self.count_allocations { alloc_counter::accumulate(|| f(node, now)) } else { f(node, now) })
    }

    /// Carries out member `i`'s outputs: datagrams, events, syncs, and its
    /// next deadline.
    fn settle(&mut self, i: usize) {
        let Some(mut node) = self.members.get_mut(i).and_then(|m| m.node.take()) else { return };
        let now = self.now;
        let count = self.count_allocations;
        let counted = |f: &mut dyn FnMut() -> bool| if count { alloc_counter::accumulate(f) } else { f() };
        let mut answers = Vec::new();
        // Answers to queries go out with the datagrams of the same step.
        for round in 0..2 {
            for handle in answers.drain(..) {
                let _ = node.respond(now, handle, format!("{i}").as_bytes());
            }
            let mut scratch = std::mem::take(&mut self.scratch);
            loop {
                let mut sent = None;
                counted(&mut || {
                    sent = node.poll_transmit(now, &mut scratch);
                    true
                });
                let Some(t) = sent else { break };
                let Some(&to) = self.by_addr.get(&t.destination) else { continue };
                self.metrics.sent(i, t.len);
                // A member whose network is blocked sends when the block ends.
                let departs = self.held_until(i, false).unwrap_or(now);
                let deliveries: [Option<Duration>; 2] = self.network.deliveries(&mut self.rng, i, to);
                for delay in deliveries.into_iter().flatten() {
                    let buf = self.store(scratch.get(..t.len).unwrap_or_default());
                    self.schedule(departs + delay, Pending::Datagram { to, from: i, buf });
                }
            }
            self.scratch = scratch;
            loop {
                // Only the node's own work is counted, not the metrics'.
                let event = if count { alloc_counter::accumulate(|| node.poll_event()) } else { node.poll_event() };
                let Some(event) = event else { break };
                self.metrics.observe(i, now, &event, &self.by_name, &self.members);
                if let Some(handle) = self.queries.observe(i, now, &event) {
                    answers.push(handle);
                }
            }
            if answers.is_empty() || round == 1 {
                break;
            }
        }
        let mut opens = Vec::new();
        while let Some(open) = node.poll_sync_open() {
            opens.push(open);
        }
        let announced = node.leave_announced();
        let deadline = node.poll_timeout();
        if self.check_invariants
            && let Err(broken) = node.check_invariants()
        {
            panic!("member {i} at {now:?}: {broken}");
        }
        if let Some(m) = self.members.get_mut(i) {
            m.node = Some(node);
        }
        self.record_step();
        let started = (self.step_times.is_some() && !opens.is_empty()).then(std::time::Instant::now);
        for open in opens {
            self.open_sync(i, open.id, open.peer);
        }
        self.sync_time += started.map_or(Duration::ZERO, |s| s.elapsed());
        let timed_out =
            self.members.get(i).and_then(|m| m.leaving_since).is_some_and(|since| now >= since + self.leave_timeout);
        if announced || timed_out {
            // The departure is out (or out of time): the member stops.
            if let Some(m) = self.members.get_mut(i) {
                m.node = None;
                m.deadline = None;
                m.leaving_since = None;
                m.leave_announced = announced;
            }
            return;
        }
        if let Some(m) = self.members.get_mut(i)
            && deadline != m.deadline
        {
            m.deadline = deadline;
            if let Some(at) = deadline {
                let at = at.max(now);
                m.deadline = Some(at);
                self.schedule(at, Pending::Timer { node: i, due: at });
            }
        }
    }

    fn store(&mut self, data: &[u8]) -> usize {
        match self.free_buffers.pop() {
            Some(i) => {
                if let Some(b) = self.buffers.get_mut(i) {
                    b.clear();
                    b.extend_from_slice(data);
                }
                i
            }
            None => {
                self.buffers.push(data.to_vec());
                self.buffers.len() - 1
            }
        }
    }

    fn release(&mut self, buf: usize) {
        self.free_buffers.push(buf);
    }

    /// Members that are up and have not left.
    pub fn live(&self) -> impl Iterator<Item = usize> + '_ {
        self.members.iter().enumerate().filter(|(_, m)| m.is_up() && !m.left).map(|(i, _)| i)
    }

    /// Whether every running member sees exactly the running members as
    /// alive (O(N²)).
    pub fn converged(&self) -> bool {
        let live: Vec<usize> = self.live().collect();
        // Counts first (O(N)), the full comparison only when they agree.
        let counts_agree = live.iter().all(|&i| self.node(i).is_some_and(|n| n.live_members() == live.len()));
        counts_agree
            && live.iter().all(|&i| {
                let Some(node) = self.node(i) else { return false };
                node.live_members() == live.len()
                    && live.iter().all(|&j| {
                        let name = &self.members[j].name;
                        node.member(name).is_some_and(|m| m.state == State::Alive)
                    })
            })
    }

    /// How many running members see member `j` in `state`.
    pub fn seen_as(&self, j: usize, state: State) -> usize {
        let name = &self.members[j].name;
        self.live().filter(|&i| self.node(i).and_then(|n| n.member(name)).is_some_and(|m| m.state == state)).count()
    }
}

impl Drop for Sim {
    fn drop(&mut self) {
        if std::thread::panicking() {
            eprintln!("simulation seed: {} (replay with SWIM_SIM_SEED={})", self.seed, self.seed);
        }
    }
}

/// Member events a test may want to look at, by kind.
pub fn event_kind(event: &Event<'_>) -> &'static str {
    match event {
        Event::Joined(_) => "joined",
        Event::Updated { .. } => "updated",
        Event::Suspected { .. } => "suspected",
        Event::Recovered(_) => "recovered",
        Event::Faulty { .. } => "faulty",
        Event::Left(_) => "left",
        Event::Broadcast { .. } => "broadcast",
        Event::NameConflict { .. } => "name conflict",
        Event::Refuted { .. } => "refuted",
        Event::JoinSucceeded { .. } => "join succeeded",
        Event::JoinFailed { .. } => "join failed",
        _ => "other",
    }
}
