//! A worker process: the emulated members it holds, their sockets, and
//! the share of the cluster's traffic towards the real member that falls
//! to them.

use std::cell::RefCell;
use std::net::SocketAddr;
use std::rc::Rc;
use std::time::{Duration, Instant};

use swim_protocol::State;
use swim_protocol::digest::name_key;
use swim_wire::crypto::{NonceSequence, ReceiverTag};
use swim_wire::{
    Ack, Addrs, Alive, Faulty, Gossip, IndirectAck, JoinResponse, JoinStatus, Message, Nack, Ping, Suspect,
};
use tokio::net::{TcpListener, UdpSocket};
use tokio::task::JoinHandle;

use super::codec::{Codec, now_ms};
use super::plan::{Crash, Plan, Rng, Rumor, RumorKind};

/// The real member's name (the swarm starts the agent with it).
pub const REAL_NAME: &[u8] = b"swarm-real";

/// How often the worker's clock ticks (crashes, pings, syncs).
const TICK: Duration = Duration::from_millis(50);

/// Every emulated member's generation.
pub const GENERATION: u64 = 1;

/// One member's record in the worker's view of the cluster.
#[derive(Debug, Clone)]
pub struct Rec {
    /// Its name.
    pub name: Vec<u8>,
    /// Its name's digest key.
    pub key: u64,
    /// Where it is.
    pub addr: SocketAddr,
    /// Its version.
    pub generation: u64,
    /// Its version.
    pub incarnation: u32,
    /// Its state.
    pub state: State,
    /// Who suspected or declared it.
    pub by: Vec<u8>,
    /// Its metadata.
    pub meta: Vec<u8>,
}

/// Declares [`Counters`] once: its fields, their difference, and their
/// `key=value` line.
macro_rules! counters {
    ($($(#[doc = $doc:literal])* $name:ident),* $(,)?) => {
        /// Counts of what passed between the worker's members and the real member.
        #[derive(Debug, Clone, Copy, Default)]
        pub struct Counters {
            $($(#[doc = $doc])* pub $name: u64,)*
        }

        impl Counters {
            fn minus(&self, o: &Counters) -> Counters {
                Counters { $($name: self.$name - o.$name,)* }
            }

            /// `prefix.name=value` pairs.
            pub fn line(&self, prefix: &str) -> String {
                [$(format!("{prefix}.{}={}", stringify!($name), self.$name)),*].join(" ")
            }
        }
    };
}

counters! {
    /// Bytes received from the real member (datagrams and sync streams).
    bytes_in,
    /// Bytes sent to it.
    bytes_out,
    /// Datagrams received from it.
    datagrams_in,
    /// Datagrams sent to it.
    datagrams_out,
    /// Its pings answered.
    pings_in,
    /// Its indirect pings.
    indirect_in,
    /// Nacks sent for a silent target.
    nacks_out,
    /// Pings sent to it.
    pings_out,
    /// Its acks to those pings.
    acks_in,
    /// Gossip datagrams sent to it.
    gossip_out,
    /// Syncs it opened with an emulated member, completed.
    syncs_in,
    /// Syncs an emulated member opened with it, completed.
    syncs_out,
    /// Syncs that failed (either way).
    syncs_failed,
    /// Buckets that differed in delta syncs (either way).
    buckets_differ,
    /// Records it sent in syncs.
    records_in,
    /// Suspicions of a live member refuted.
    refutes,
    /// Datagrams or frames that did not open or parse.
    bad,
}

/// A member this worker holds.
struct Own {
    socket: Rc<UdpSocket>,
    nonces: NonceSequence,
    tag: ReceiverTag,
    tasks: Vec<JoinHandle<()>>,
}

/// A worker's state, shared by its tasks (one thread).
pub struct Worker {
    /// The run.
    pub plan: Plan,
    /// The cluster key.
    pub codec: Rc<Codec>,
    /// Every member, emulated ones by index, then the real one (once
    /// known); `None` once reaped.
    pub view: Vec<Option<Rec>>,
    own: Vec<Option<Own>>,
    index: usize,
    rng: Rng,
    crashes: Vec<Crash>,
    crashed_applied: usize,
    rumors: Vec<Rumor>,
    curve: Vec<f64>,
    /// The real member's tag.
    pub real_tag: ReceiverTag,
    seq: u32,
    /// What passed so far.
    pub counters: Counters,
    syncs_running: usize,
}

/// Sends `data` from emulated member `from`'s socket (best effort, as UDP is).
fn send(socket: &UdpSocket, data: &[u8], to: SocketAddr) -> bool {
    socket.try_send_to(data, to).is_ok()
}

impl Worker {
    /// Since the run started.
    pub fn elapsed(&self) -> Duration {
        Duration::from_millis(now_ms().saturating_sub(self.plan.start_ms))
    }

    /// The slot of the real member in the view.
    pub fn real_slot(&self) -> usize {
        self.plan.emulated()
    }

    /// Whether emulated member `i` has crashed by now.
    pub fn crashed(&self, i: usize) -> bool {
        let now = self.elapsed();
        self.crashes.iter().any(|c| c.victim == i && c.at <= now)
    }

    /// Nonces and the tag of an emulated member this worker holds.
    pub fn own_parts(&mut self, i: usize) -> Option<(&mut NonceSequence, ReceiverTag)> {
        let w = self.plan.workers;
        self.own.get_mut(i / w).and_then(Option::as_mut).map(|o| (&mut o.nonces, o.tag))
    }

    fn own_socket(&self, i: usize) -> Option<Rc<UdpSocket>> {
        self.own.get(i / self.plan.workers).and_then(Option::as_ref).map(|o| o.socket.clone())
    }

    /// Learns the real member's record (from a join request, an alive
    /// update, or its own record in a sync).
    pub fn learn_real(&mut self, a: &Alive<'_>) {
        if a.name != REAL_NAME {
            return;
        }
        let slot = self.real_slot();
        let newer = match &self.view[slot] {
            Some(r) => (a.generation, a.incarnation) > (r.generation, r.incarnation),
            None => true,
        };
        if newer && let Some(addr) = a.addrs.first() {
            self.view[slot] = Some(Rec {
                name: a.name.to_vec(),
                key: name_key(a.name),
                addr,
                generation: a.generation,
                incarnation: a.incarnation,
                state: State::Alive,
                by: Vec::new(),
                meta: a.meta.to_vec(),
            });
        }
    }

    /// The real member suspects or declares `name` (at `incarnation`): if
    /// it is a live member this worker holds, it refutes.
    fn accused(&mut self, name: &[u8], incarnation: u32) {
        let Some(i) = parse_index(name).filter(|&i| i < self.plan.emulated()) else { return };
        if self.plan.owner(i) != self.index || self.crashed(i) {
            return;
        }
        let Some(rec) = self.view[i].as_mut() else { return };
        if incarnation < rec.incarnation {
            return;
        }
        rec.incarnation = incarnation + 1;
        let incarnation = rec.incarnation;
        self.counters.refutes += 1;
        let starts = self.elapsed();
        self.rumors.push(Rumor { kind: RumorKind::Alive, subject: i, by: i, incarnation, starts });
        // The accused answers at once, as a live member hearing of its
        // suspicion does.
        let name = Plan::name(i);
        let addrs = [self.plan.addr(i)];
        let alive = Message::Alive(Alive {
            generation: GENERATION,
            incarnation,
            name: &name,
            addrs: Addrs::from_slice(&addrs),
            meta: b"",
        });
        self.send_to_real(i, &[Message::Gossip(Gossip { source: &name }), alive]);
    }

    fn send_to_real(&mut self, from: usize, messages: &[Message<'_>]) -> bool {
        let tag = self.real_tag;
        let real = self.plan.real;
        let Some(socket) = self.own_socket(from) else { return false };
        let codec = self.codec.clone();
        let Some((nonces, _)) = self.own_parts(from) else { return false };
        let Some(data) = codec.datagram(nonces, Some(&tag), messages) else { return false };
        if send(&socket, &data, real) {
            self.counters.datagrams_out += 1;
            self.counters.bytes_out += data.len() as u64;
            true
        } else {
            false
        }
    }

    /// A datagram for emulated member `i`: its replies, each with a delay.
    fn on_datagram(&mut self, i: usize, from: SocketAddr, data: &mut [u8]) -> Vec<(Duration, Vec<u8>)> {
        let from_real = from == self.plan.real;
        if from_real {
            self.counters.datagrams_in += 1;
            self.counters.bytes_in += data.len() as u64;
        }
        let Some((_, tag)) = self.own_parts(i) else { return Vec::new() };
        let len = data.len();
        let Ok((plain, _)) = self.codec.open(data, len, &tag) else {
            self.counters.bad += 1;
            return Vec::new();
        };
        let Ok(packet) = self.codec.parse(&data[..plain]) else {
            self.counters.bad += 1;
            return Vec::new();
        };
        for m in packet.piggyback() {
            match m {
                Message::Alive(a) => self.learn_real(&a),
                Message::Suspect(s) => self.accused(s.name, s.incarnation),
                Message::Faulty(f) => self.accused(f.name, f.incarnation),
                _ => {}
            }
        }
        let name = Plan::name(i);
        let mut out = Vec::new();
        let reply = |w: &mut Worker, to: &[u8], m: Message<'_>| {
            let tag = ReceiverTag::of(to);
            let codec = w.codec.clone();
            let (nonces, _) = w.own_parts(i)?;
            codec.datagram(nonces, Some(&tag), &[m])
        };
        match packet.primary() {
            Message::Ping(p) if p.target == name.as_slice() => {
                self.counters.pings_in += u64::from(from_real);
                let ack = Message::Ack(Ack { seq: p.seq, source: &name, payload: b"" });
                out.extend(reply(self, p.source, ack).map(|d| (Duration::ZERO, d)));
            }
            Message::IndirectPing(p) => {
                self.counters.indirect_in += u64::from(from_real);
                let target = self.plan.index_of(p.target_addr);
                if target.is_some_and(|t| !self.crashed(t)) {
                    let ack = Message::IndirectAck(IndirectAck { seq: p.seq, source: &name, target: p.target });
                    out.extend(reply(self, p.source, ack).map(|d| (Duration::ZERO, d)));
                } else if p.want_nack {
                    self.counters.nacks_out += 1;
                    let nack = Message::Nack(Nack { seq: p.seq, source: &name, target: p.target });
                    let after = Duration::from_micros(u64::from(p.nack_after_us));
                    out.extend(reply(self, p.source, nack).map(|d| (after, d)));
                }
            }
            Message::JoinRequest(j) => {
                self.learn_real(&j.member);
                let members = self.view.iter().flatten().count() as u32;
                let response = Message::JoinResponse(JoinResponse {
                    seq: j.seq,
                    status: JoinStatus::Accepted,
                    source: &name,
                    known_generation: 0,
                    known_incarnation: 0,
                    members,
                });
                out.extend(reply(self, j.member.name, response).map(|d| (Duration::ZERO, d)));
            }
            Message::Ack(_) if from_real => self.counters.acks_in += 1,
            _ => {}
        }
        if from_real {
            self.counters.datagrams_out += out.len() as u64;
            self.counters.bytes_out += out.iter().map(|(_, d)| d.len() as u64).sum::<u64>();
        }
        out
    }

    /// A random live member this worker holds, other than `not`.
    fn random_own(&mut self, not: usize) -> Option<usize> {
        let held = self.plan.held_by(self.index).count();
        for _ in 0..16 {
            let i = self.index + self.rng.range(0, held) * self.plan.workers;
            if i != not && !self.crashed(i) && self.own_socket(i).is_some() {
                return Some(i);
            }
        }
        None
    }

    /// This worker's share of the cluster: of the members that could send
    /// to the real member, the fraction it holds.
    fn share(&self) -> f64 {
        self.plan.held_by(self.index).count() as f64 / self.plan.emulated() as f64
    }

    /// One tick: crashes and verdicts come due, pings and syncs towards the
    /// real member start.
    fn tick(&mut self, dt: Duration) -> Vec<usize> {
        let now = self.elapsed();
        // Crashes of members held here: their sockets close.
        while let Some(c) = self.crashes.get(self.crashed_applied).filter(|c| c.at <= now).cloned() {
            self.crashed_applied += 1;
            if self.plan.owner(c.victim) == self.index
                && let Some(own) = self.own.get_mut(c.victim / self.plan.workers).and_then(Option::take)
            {
                for t in own.tasks {
                    t.abort();
                }
            }
        }
        // The view follows the verdicts, and forgets them after the
        // tombstone time, as the real member does.
        let ttl = self.plan.config().limits.tombstone_ttl;
        for c in &self.crashes {
            let slot = &mut self.view[c.victim];
            if now >= c.faulty_at + ttl {
                *slot = None;
            } else if let Some(r) = slot.as_mut() {
                let (state, at) =
                    if now >= c.faulty_at { (State::Faulty, c.faulty_at) } else { (State::Suspect, c.suspects[0].1) };
                if now >= at && r.state != state {
                    r.state = state;
                    r.by = Plan::name(c.suspects[0].0);
                }
            }
        }
        // About one member pings the real member per period.
        let config = self.plan.config();
        let rate = self.share() * self.plan.emulated() as f64 / (self.plan.members - 1) as f64;
        let pings = self.rng.round(rate * dt.as_secs_f64() / config.probe.period.as_secs_f64());
        for _ in 0..pings {
            self.ping_real();
        }
        // And about one opens a sync with it per sync interval.
        let n = self.plan.members as f64;
        let scale = if n <= 32.0 { 1.0 } else { (n / 32.0).log2().ceil() + 1.0 };
        let sync_period = config.sync.interval.mul_f64(scale).as_secs_f64();
        let syncs = self.rng.round(rate * dt.as_secs_f64() / sync_period);
        (0..syncs).filter_map(|_| self.random_own(usize::MAX)).collect()
    }

    fn ping_real(&mut self) {
        let Some(from) = self.random_own(usize::MAX) else { return };
        let Some(real) = self.view[self.real_slot()].clone() else { return };
        self.seq = self.seq.wrapping_add(1);
        let name = Plan::name(from);
        let ping = Message::Ping(Ping {
            seq: self.seq,
            source: &name,
            target: REAL_NAME,
            target_generation: real.generation,
            target_incarnation: real.incarnation,
        });
        if self.send_to_real(from, &[ping]) {
            self.counters.pings_out += 1;
        }
    }

    /// One gossip round: the copies of each live rumor that reach the real
    /// member this round from members held here.
    fn gossip_round(&mut self) {
        if self.view[self.real_slot()].is_none() {
            return;
        }
        let now = self.elapsed();
        let round = self.plan.config().dissemination.gossip_interval;
        let share = self.share();
        // Each live rumor with its expected copies this round (a refutation
        // spreads from the member that holds the subject: all of it here).
        let due: Vec<(Rumor, f64)> = self
            .rumors
            .iter()
            .filter(|r| r.starts <= now)
            .filter_map(|r| {
                let age = ((now - r.starts).as_secs_f64() / round.as_secs_f64()) as usize;
                let share = if r.kind == RumorKind::Alive { 1.0 } else { share };
                self.curve.get(age).map(|&expected| (*r, expected * share))
            })
            .collect();
        let sends: Vec<(Rumor, usize)> = due.into_iter().map(|(r, e)| (r, self.rng.round(e))).collect();
        let packets = sends.iter().map(|s| s.1).max().unwrap_or(0);
        for k in 0..packets {
            let carried: Vec<Rumor> = sends.iter().filter(|s| s.1 > k).map(|s| s.0).collect();
            let subject = carried.first().map_or(usize::MAX, |r| r.subject);
            let Some(from) = self.random_own(subject) else { continue };
            let names: Vec<(Vec<u8>, Vec<u8>)> =
                carried.iter().map(|r| (Plan::name(r.subject), Plan::name(r.by))).collect();
            let addrs: Vec<[SocketAddr; 1]> = carried.iter().map(|r| [self.plan.addr(r.subject)]).collect();
            let source = Plan::name(from);
            let mut messages = vec![Message::Gossip(Gossip { source: &source })];
            for ((r, (name, by)), addr) in carried.iter().zip(&names).zip(&addrs) {
                let (generation, incarnation) = (GENERATION, r.incarnation);
                messages.push(match r.kind {
                    RumorKind::Suspect => Message::Suspect(Suspect { generation, incarnation, name, by }),
                    RumorKind::Faulty => Message::Faulty(Faulty { generation, incarnation, name, by }),
                    RumorKind::Alive => Message::Alive(Alive {
                        generation,
                        incarnation,
                        name,
                        addrs: Addrs::from_slice(addr),
                        meta: b"",
                    }),
                });
            }
            if self.send_to_real(from, &messages) {
                self.counters.gossip_out += 1;
            }
        }
        // Rumors past their curve are done.
        let horizon = round * self.curve.len() as u32;
        self.rumors.retain(|r| r.starts + horizon > now);
    }
}

/// The index in a name `swarm-NNNNN`.
pub fn parse_index(name: &[u8]) -> Option<usize> {
    std::str::from_utf8(name.strip_prefix(b"swarm-")?).ok()?.parse().ok()
}

/// Runs worker `index` of `plan` until the run ends (printing `ready` once
/// its sockets are bound); returns its counters: all of the run, and from
/// the end of the warmup on.
pub fn run(plan: Plan, index: usize) -> Result<(Counters, Counters), String> {
    let rt = tokio::runtime::Builder::new_current_thread().enable_all().build().map_err(|e| e.to_string())?;
    let local = tokio::task::LocalSet::new();
    local.block_on(&rt, async move { run_async(plan, index).await })
}

async fn run_async(plan: Plan, index: usize) -> Result<(Counters, Counters), String> {
    let mut view: Vec<Option<Rec>> = (0..plan.emulated())
        .map(|i| {
            let name = Plan::name(i);
            Some(Rec {
                key: name_key(&name),
                name,
                addr: plan.addr(i),
                generation: GENERATION,
                incarnation: 0,
                state: State::Alive,
                by: Vec::new(),
                meta: Vec::new(),
            })
        })
        .collect();
    view.push(None);
    let held: Vec<usize> = plan.held_by(index).collect();
    let worker = Rc::new(RefCell::new(Worker {
        codec: Rc::new(Codec::new(&plan.key)),
        view,
        own: Vec::new(),
        index,
        rng: Rng::new(plan.seed, index as u64),
        crashes: plan.crashes(),
        crashed_applied: 0,
        rumors: plan.crash_rumors(),
        curve: plan.curve(),
        real_tag: ReceiverTag::of(REAL_NAME),
        seq: 0,
        counters: Counters::default(),
        syncs_running: 0,
        plan: plan.clone(),
    }));
    for &i in &held {
        let addr = plan.addr(i);
        let socket = Rc::new(UdpSocket::bind(addr).await.map_err(|e| format!("udp {addr}: {e}"))?);
        let listener = TcpListener::bind(addr).await.map_err(|e| format!("tcp {addr}: {e}"))?;
        let nonces = NonceSequence::random().map_err(|e| e.to_string())?;
        let udp = tokio::task::spawn_local(receive(worker.clone(), i, socket.clone()));
        let tcp = tokio::task::spawn_local(accept(worker.clone(), i, listener));
        let own = Own { socket, nonces, tag: ReceiverTag::of(&Plan::name(i)), tasks: vec![udp, tcp] };
        let mut w = worker.borrow_mut();
        let slot = i / plan.workers;
        if w.own.len() <= slot {
            w.own.resize_with(slot + 1, || None);
        }
        w.own[slot] = Some(own);
    }
    println!("ready worker={index} members={}", held.len());

    let end = Duration::from_millis(plan.start_ms) + plan.duration;
    let gossip_every = plan.config().dissemination.gossip_interval;
    let mut next_gossip = Instant::now();
    let mut steady: Option<Counters> = None;
    let mut last = Instant::now();
    loop {
        tokio::time::sleep(TICK).await;
        let now = Duration::from_millis(now_ms());
        if now >= end {
            break;
        }
        let dt = last.elapsed();
        last = Instant::now();
        let opens = worker.borrow_mut().tick(dt);
        for from in opens {
            if worker.borrow().syncs_running < 2 {
                worker.borrow_mut().syncs_running += 1;
                tokio::task::spawn_local(super::sync::open(worker.clone(), from));
            }
        }
        if Instant::now() >= next_gossip {
            next_gossip += gossip_every;
            worker.borrow_mut().gossip_round();
        }
        let w = worker.borrow();
        if steady.is_none() && w.elapsed() >= plan.warmup {
            steady = Some(w.counters);
        }
    }
    let w = worker.borrow();
    Ok((w.counters, w.counters.minus(&steady.unwrap_or_default())))
}

impl Worker {
    /// A fresh salt for a digest.
    pub fn random_key(&mut self) -> u64 {
        self.rng.next_u64()
    }

    /// A sync this worker opened ended.
    pub fn sync_ended(&mut self) {
        self.syncs_running = self.syncs_running.saturating_sub(1);
    }
}

async fn receive(worker: Rc<RefCell<Worker>>, i: usize, socket: Rc<UdpSocket>) {
    let mut buf = vec![0u8; 2048];
    loop {
        let Ok((len, from)) = socket.recv_from(&mut buf).await else { continue };
        let replies = worker.borrow_mut().on_datagram(i, from, &mut buf[..len]);
        for (after, data) in replies {
            if after.is_zero() {
                send(&socket, &data, from);
            } else {
                let socket = socket.clone();
                tokio::task::spawn_local(async move {
                    tokio::time::sleep(after).await;
                    send(&socket, &data, from);
                });
            }
        }
    }
}

async fn accept(worker: Rc<RefCell<Worker>>, i: usize, listener: TcpListener) {
    loop {
        let Ok((stream, _)) = listener.accept().await else { continue };
        tokio::task::spawn_local(super::sync::respond(worker.clone(), i, stream));
    }
}
