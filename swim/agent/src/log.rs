//! `--log-events` and `--log-view`: the agent's own lines on standard
//! output, each stamped with the seconds since it started, for operators
//! reading a log and for scripts (the tests over network namespaces and
//! the swarm read them).
//!
//! ```text
//! [    0.412s] joined through 10.0.0.1:7946
//! [    0.415s] + web-2 joined at 10.0.0.2:7946
//! [    1.000s] view: 2 alive: web-1 web-2
//! [   14.020s] ? web-2 suspected by web-1
//! [   15.210s] x web-2 faulty, declared by web-3
//! ```

use std::io::Write as _;
use std::time::{Duration, Instant};

use swim::{Cluster, Event, Events, RecvError, State};
use tokio::time::Interval;

use crate::client::{describe, shown};

/// What to log: the events (subscribed before the member joins, so that
/// none is missed) and/or the view every so often.
pub(crate) struct Log {
    pub(crate) events: Option<Events>,
    pub(crate) view_every: Option<Duration>,
}

/// Logs until the member stops.
pub(crate) async fn run(cluster: Cluster, name: String, log: Log) {
    let started = Instant::now();
    let stamp = || format!("[{:>9.3}s]", started.elapsed().as_secs_f64());
    let Log { mut events, view_every } = log;
    let mut view = view_every.map(tokio::time::interval);
    if events.is_none() && view.is_none() {
        return;
    }
    loop {
        let line = tokio::select! {
            event = next_event(&mut events) => match event {
                Ok(event) => match crate::json::event(&event, &name) {
                    Some(json) => describe(&json),
                    None => continue,
                },
                Err(RecvError::Lagged(missed)) => format!("(missed {missed} events)"),
                Err(RecvError::Closed) => return,
            },
            () = tick(&mut view) => {
                let Ok(members) = cluster.members().await else { return };
                let mut alive: Vec<String> =
                    members.iter().filter(|m| m.state == State::Alive).map(|m| shown(&m.name.to_string())).collect();
                alive.sort();
                format!("view: {} alive: {}", alive.len(), alive.join(" "))
            }
        };
        let mut out = std::io::stdout().lock();
        // A closed standard output ends the log, not the agent.
        if writeln!(out, "{} {line}", stamp()).and_then(|()| out.flush()).is_err() {
            return;
        }
    }
}

/// The next event; never, when events are not logged.
async fn next_event(events: &mut Option<Events>) -> Result<Event, RecvError> {
    match events {
        Some(events) => events.recv().await,
        None => std::future::pending().await,
    }
}

/// The next time to log the view; never, when it is not logged.
async fn tick(view: &mut Option<Interval>) {
    match view {
        Some(interval) => {
            interval.tick().await;
        }
        None => std::future::pending().await,
    }
}
