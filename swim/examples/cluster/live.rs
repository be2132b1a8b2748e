//! `--live`: the demo as an observer × member grid, redrawn in the terminal
//! while members crash, a partition splits the cluster and heals, a member
//! leaves and another broadcasts.
//!
//! Every member runs over UDP wrapped in the fault-injection transport, so
//! that a partition is real: datagrams across the cut are dropped and
//! streams across it refused. Row `i` is what member `i` sees; column `j`
//! is member `j`. Times are given in seconds and in protocol periods (T).

use std::fmt::Write as _;
use std::io::{IsTerminal, Write as _};
use std::net::SocketAddr;
use std::time::{Duration, Instant};

use swim::udp::UdpTransport;
use swim::{Cluster, Config, Event, Events, State, View};
use swim_transport::faults::{FaultConfig, FaultControl, Faults};

use crate::{DemoError, name};

/// How often the grid is sampled (and redrawn, on a terminal).
const TICK: Duration = Duration::from_millis(50);

/// How long a terminal shows the grid between steps.
const PAUSE: Duration = Duration::from_millis(1500);

/// Why a row's member no longer runs.
#[derive(Clone, Copy, PartialEq)]
enum Down {
    Crashed,
    Left,
}

/// A step's outcome: when each of its milestones was first reached, and
/// when it was done (`None`: not within its time limit).
struct Outcome {
    marks: Vec<Option<Duration>>,
    done: Option<Duration>,
}

/// A condition over the grid.
type Check<'a> = &'a dyn Fn(&Live) -> bool;

struct Live {
    members: Vec<Cluster>,
    views: Vec<View>,
    controls: Vec<FaultControl>,
    addrs: Vec<SocketAddr>,
    down: Vec<Option<Down>>,
    /// Broadcast copies each member has received, while one spreads.
    inboxes: Vec<Option<(Events, u32)>>,
    period: Duration,
    started: Instant,
    step: String,
    step_started: Instant,
    log: Vec<String>,
    /// Set once the last step is over.
    finished: bool,
    /// The member that broadcast, once one has.
    sender: Option<usize>,
    tty: bool,
    colour: bool,
}

impl Live {
    /// How `observer` sees `member` (`None`: not in its table).
    fn sees(&self, observer: usize, member: usize) -> Option<State> {
        let wanted = name(member);
        self.views[observer].current().iter().find(|m| m.name == wanted.as_str()).map(|m| m.state)
    }

    /// The members still running.
    fn up(&self) -> impl Iterator<Item = usize> + '_ {
        (0..self.members.len()).filter(|&i| self.down[i].is_none())
    }

    /// Whether every running member other than `member` sees it in one of `states`
    /// (`None` standing for "no longer in the table").
    fn all_see(&self, member: usize, states: &[Option<State>]) -> bool {
        self.up().filter(|&o| o != member).all(|o| states.contains(&self.sees(o, member)))
    }

    /// Whether any running member other than `member` sees it in `state`.
    fn any_sees(&self, member: usize, state: State) -> bool {
        self.up().filter(|&o| o != member).any(|o| self.sees(o, member) == Some(state))
    }

    fn at(&self, d: Duration) -> String {
        format!("{:.2}s ({:.1} T)", d.as_secs_f64(), d.as_secs_f64() / self.period.as_secs_f64())
    }

    /// Starts a step: times are counted from here.
    fn begin(&mut self, step: String) {
        self.step = step;
        self.step_started = Instant::now();
    }

    /// On a terminal, keeps the grid on screen for a moment between steps,
    /// so that one can watch it.
    async fn pause(&mut self) {
        if self.tty {
            let until = Instant::now() + PAUSE;
            while Instant::now() < until {
                tokio::time::sleep(TICK).await;
                self.read_inboxes();
                self.draw();
            }
        }
    }

    /// Samples the grid every tick until `done` holds or `limit` passes
    /// (counted from the step's start), noting when each of `marks` first
    /// holds.
    async fn until(&mut self, limit: Duration, marks: &[Check<'_>], done: Check<'_>) -> Outcome {
        let mut outcome = Outcome { marks: vec![None; marks.len()], done: None };
        loop {
            tokio::time::sleep(TICK).await;
            let elapsed = self.step_started.elapsed();
            self.read_inboxes();
            for (mark, seen) in marks.iter().zip(&mut outcome.marks) {
                if seen.is_none() && mark(self) {
                    *seen = Some(elapsed);
                }
            }
            if done(self) {
                outcome.done = Some(elapsed);
            }
            if self.tty {
                self.draw();
            }
            if outcome.done.is_some() || elapsed >= limit {
                return outcome;
            }
        }
    }

    fn read_inboxes(&mut self) {
        for (events, copies) in self.inboxes.iter_mut().flatten() {
            while let Some(event) = events.try_recv() {
                if let Ok(Event::Broadcast { .. }) = event {
                    *copies += 1;
                }
            }
        }
    }

    /// Ends a step: logs it (and shows the grid as it was, off a terminal).
    fn record(&mut self, line: String, ok: bool) -> bool {
        self.log.push(if ok { line } else { format!("{line}  <- NOT AS EXPECTED") });
        if !self.tty {
            self.draw();
        }
        ok
    }

    /// The step in progress and how long it has run, or the end.
    fn now(&self) -> String {
        if self.finished {
            return self.step.clone();
        }
        format!("{} ({})", self.step, self.at(self.step_started.elapsed()))
    }

    fn paint(&self, text: &str, code: &str) -> String {
        if self.colour { format!("\x1b[{code}m{text}\x1b[0m") } else { text.to_owned() }
    }

    fn cell(&self, observer: usize, member: usize) -> String {
        if self.down[observer].is_some() {
            return self.paint("  ·", "2");
        }
        match self.sees(observer, member) {
            Some(State::Alive) => self.paint("  ●", "32"),
            Some(State::Suspect) => self.paint("  ?", "1;33"),
            Some(State::Faulty) => self.paint("  ✕", "1;31"),
            Some(State::Left) => self.paint("  ○", "34"),
            None => "  ·".to_owned(),
        }
    }

    fn draw(&self) {
        let n = self.members.len();
        let mut out = String::new();
        let clear = if self.tty { "\x1b[K" } else { "" };
        if self.tty {
            out.push_str("\x1b[H");
        }
        let total = self.started.elapsed();
        let _ = writeln!(
            out,
            "swim live demo: {n} members on 127.0.0.1 over UDP, protocol period T = {:?}   t = {}{clear}",
            self.period,
            self.at(total)
        );
        let _ = writeln!(out, "now: {}{clear}", self.now());
        let _ = writeln!(out, "{clear}");
        let mut header = String::from("       ");
        for j in 0..n {
            let _ = write!(header, "{j:>3}");
        }
        let _ = writeln!(out, "{header}{clear}");
        for i in 0..n {
            let _ = write!(out, "  {} │", name(i));
            for j in 0..n {
                out.push_str(&self.cell(i, j));
            }
            match (self.down[i], &self.inboxes[i]) {
                (Some(Down::Crashed), _) => out.push_str("  crashed"),
                (Some(Down::Left), _) => out.push_str("  left"),
                (None, Some((_, copies))) if *copies > 0 => out.push_str(&self.paint("  ✉ got the broadcast", "36")),
                _ if self.sender == Some(i) => out.push_str(&self.paint("  ✉ sent a broadcast", "36")),
                _ => {}
            }
            let _ = writeln!(out, "{clear}");
        }
        let _ = writeln!(out, "{clear}");
        let _ = writeln!(
            out,
            "  {} alive  {} suspect  {} faulty  {} left  · not known   (row: what that member sees; column: the member){clear}",
            self.paint("●", "32"),
            self.paint("?", "1;33"),
            self.paint("✕", "1;31"),
            self.paint("○", "34"),
        );
        let _ = writeln!(out, "{clear}");
        for line in &self.log {
            let _ = writeln!(out, "  {line}{clear}");
        }
        if self.tty {
            out.push_str("\x1b[J");
        }
        let mut stdout = std::io::stdout().lock();
        let _ = stdout.write_all(out.as_bytes());
        let _ = stdout.flush();
    }
}

/// Runs the live demo with `n` members; an error if a step did not end as
/// it should.
pub(crate) async fn run(n: usize) -> Result<(), DemoError> {
    let config = Config::local();
    let tty = std::io::stdout().is_terminal();
    let colour = tty && std::env::var_os("NO_COLOR").is_none();
    let mut members = Vec::with_capacity(n);
    let mut controls = Vec::with_capacity(n);
    for i in 0..n {
        let udp = UdpTransport::bind(SocketAddr::from(([127, 0, 0, 1], 0))).await?;
        let (transport, control) = Faults::new(udp, FaultConfig::default(), i as u64 + 1);
        members.push(Cluster::builder(name(i)).config(config.clone()).transport(transport).start().await?);
        controls.push(control);
    }
    let mut views = Vec::with_capacity(n);
    for m in &members {
        views.push(m.watch().await?);
    }
    if tty {
        print!("\x1b[2J");
    }
    let mut live = Live {
        addrs: members.iter().map(Cluster::local_addr).collect(),
        members,
        views,
        controls,
        down: vec![None; n],
        inboxes: (0..n).map(|_| None).collect(),
        period: config.probe.period,
        started: Instant::now(),
        step: String::new(),
        step_started: Instant::now(),
        log: Vec::new(),
        finished: false,
        sender: None,
        tty,
        colour,
    };
    let mut ok = true;

    // Everyone joins through m00.
    live.begin("every member joins through m00".into());
    let seed = live.addrs[0];
    for m in &live.members[1..] {
        m.join([seed]).await?;
    }
    let all_alive = |l: &Live| l.up().all(|m| l.all_see(m, &[Some(State::Alive)]));
    let joined = live.until(Duration::from_secs(30), &[], &all_alive).await;
    ok &= match joined.done {
        Some(t) => live.record(format!("joined: all {n} see all {n} alive after {}", live.at(t)), true),
        None => live.record("joined: the members did not all see each other within 30 s".into(), false),
    };

    // A crash: no goodbye.
    let victim = 3;
    let title = format!("{} crashed", name(victim));
    live.pause().await;
    live.begin(format!("{title}: no goodbye"));
    live.members[victim].shutdown().await?;
    live.down[victim] = Some(Down::Crashed);
    let suspected = |l: &Live| l.any_sees(victim, State::Suspect) || l.any_sees(victim, State::Faulty);
    let first_verdict = |l: &Live| l.any_sees(victim, State::Faulty);
    let everywhere = |l: &Live| l.all_see(victim, &[Some(State::Faulty), None]);
    let crash = live.until(Duration::from_secs(30), &[&suspected, &first_verdict], &everywhere).await;
    let line = format!(
        "{title}: first suspected after {}, first declared faulty after {}, faulty for all {} others after {}",
        maybe(&live, crash.marks[0]),
        maybe(&live, crash.marks[1]),
        live.up().count(),
        maybe(&live, crash.done)
    );
    ok &= live.record(line, crash.done.is_some());

    // A partition into two halves, then the heal.
    let half = n / 2;
    let title = format!("partition {}–{} | {}–{}", name(0), name(half - 1), name(half), name(n - 1));
    live.pause().await;
    live.begin(format!("{title}, made by the fault-injection transport"));
    for i in 0..n {
        let other = if i < half { half..n } else { 0..half };
        live.controls[i].cut_off(other.map(|j| live.addrs[j]));
    }
    let across = |l: &Live, want: &[Option<State>]| {
        l.up().all(|o| l.up().filter(|&m| (m < half) != (o < half)).all(|m| want.contains(&l.sees(o, m))))
    };
    let any_suspicion = |l: &Live| !across(l, &[Some(State::Alive)]);
    let split = |l: &Live| across(l, &[Some(State::Faulty), None]);
    let cut = live.until(Duration::from_secs(30), &[&any_suspicion], &split).await;
    let line = format!(
        "{title}: first suspicion across the cut after {}, each side holds the other faulty after {}",
        maybe(&live, cut.marks[0]),
        maybe(&live, cut.done)
    );
    ok &= live.record(line, cut.done.is_some());
    live.pause().await;
    live.begin("the partition heals".into());
    for control in &live.controls {
        control.heal();
    }
    let healed = live.until(Duration::from_secs(60), &[], &all_alive).await;
    let line = format!("healed: one cluster again, all alive, after {}", maybe(&live, healed.done));
    ok &= live.record(line, healed.done.is_some());

    // A graceful departure.
    let leaver = 1;
    let title = format!("{} left", name(leaver));
    live.pause().await;
    live.begin(format!("{} leaves gracefully", name(leaver)));
    live.members[leaver].leave(Duration::from_secs(5)).await?;
    live.down[leaver] = Some(Down::Left);
    let wrongly = |l: &Live| l.any_sees(leaver, State::Faulty);
    let gone = |l: &Live| l.all_see(leaver, &[Some(State::Left), None]);
    let left = live.until(Duration::from_secs(30), &[&wrongly], &gone).await;
    let faulty = left.marks[0].is_some();
    let line = format!(
        "{title}: all see it left after {}{}",
        maybe(&live, left.done),
        if faulty { ", but someone declared it faulty" } else { ", and nobody declared it faulty" }
    );
    ok &= live.record(line, left.done.is_some() && !faulty);

    // A broadcast.
    let sender = 0;
    let title = format!("{} broadcasts", name(sender));
    live.pause().await;
    for i in live.up().collect::<Vec<_>>() {
        live.inboxes[i] = Some((live.members[i].events(), 0));
    }
    live.begin(title.clone());
    live.sender = Some(sender);
    live.members[sender].broadcast(format!("hello from {}", name(sender))).await?;
    let got = |l: &Live, i: usize| l.inboxes[i].as_ref().map_or(0, |(_, c)| *c);
    let everyone = |l: &Live| l.up().filter(|&i| i != sender).all(|i| got(l, i) > 0);
    let spread = live.until(Duration::from_secs(10), &[], &everyone).await;
    let receivers = live.up().filter(|&i| i != sender).count();
    let once = live.up().filter(|&i| i != sender && got(&live, i) == 1).count();
    let line = format!(
        "{title}: all {receivers} others received it after {}, {once} of them exactly once",
        maybe(&live, spread.done)
    );
    ok &= live.record(line, spread.done.is_some());

    live.step = if ok { "done: every step ended as expected".into() } else { "done, with surprises".into() };
    live.finished = true;
    live.draw();
    for i in live.up().collect::<Vec<_>>() {
        live.members[i].shutdown().await?;
    }
    if ok { Ok(()) } else { Err("a step did not end as expected (see the log above)".into()) }
}

fn maybe(live: &Live, at: Option<Duration>) -> String {
    at.map_or_else(|| "never (within the step's limit)".to_owned(), |d| live.at(d))
}
