//! The tokio runtime that drives one [`swim_protocol::Node`] over a
//! [`swim_transport::Transport`].
//!
//! [`spawn`] starts one task per member. The task owns the node and waits on
//! everything at once: received datagrams, the node's next deadline (one
//! timer, reset in place), sync streams and commands. After each wake-up it
//! sends the node's datagrams, hands its events to subscribers and moves
//! sync exchanges along. Nothing is spawned, created or allocated per
//! datagram or per period: buffers are allocated once and reused.
//!
//! The task sleeps until the node's next deadline and hands it the time
//! (the node itself jitters its periods, counts late wake-ups as overload
//! for Lifeguard's local health, and adapts its probe timeout); it also
//! publishes metrics (see
//! [`metrics`] for their names), logs a [`PeriodReport`] every few periods,
//! and logs through `tracing` (span `swim`, field `node`).
//!
//! Applications normally use [`Cluster::builder`] (re-exported by the `swim`
//! crate) rather than calling [`spawn`] directly.
#![forbid(unsafe_code)]

use std::time::Duration;

use swim_protocol::Node;
use swim_transport::Transport;
use tokio::sync::mpsc;
use tracing::Instrument;

use crate::events::Bus;

mod advertise;
mod builder;
mod cluster;
mod driver;
mod error;
mod events;
mod messages;
pub mod metrics;
mod queries;
mod report;
mod syncs;
mod tags;
mod types;

pub use builder::{Builder, DEFAULT_PORT};
pub use cluster::{Cluster, View};
pub use error::{Error, Fault};
pub use events::{Events, RecvError};
pub use queries::{Query, QueryOptions, QueryReply, QueryResponses, QuerySummary};
pub use report::PeriodReport;
pub use swim_protocol::{Admission, AppState, Candidate};
pub use swim_wire::tags::{TagsError, TagsView};
pub use tags::TagChange;
pub use types::{Event, Member, Name};

/// How the task schedules and reports (events held for subscribers are
/// [`LimitsConfig::event_capacity`](swim_protocol::LimitsConfig::event_capacity)).
/// Fields may be added in later versions: start from `default()` and use
/// the setters.
///
/// ```
/// use std::time::Duration;
/// use swim_runtime::RuntimeOptions;
/// let options = RuntimeOptions::default().report_every(10).metrics_interval(Duration::from_millis(500));
/// assert!(options.validate().is_ok());
/// let bad = options.metrics_interval(Duration::ZERO);
/// assert_eq!(bad.validate().unwrap_err().field(), "metrics_interval");
/// ```
#[derive(Debug, Clone, PartialEq)]
#[non_exhaustive]
pub struct RuntimeOptions {
    /// Commands queued for the task (default 64). Callers wait when it is
    /// full; raise it only if many tasks share one member.
    pub command_capacity: usize,
    /// How often metrics are published (default 1 s).
    pub metrics_interval: Duration,
    /// Every this many protocol periods, a [`PeriodReport`] is logged
    /// (`tracing` target `swim::report`, INFO); 0 turns it off (default 60).
    pub report_every: u32,
}

impl Default for RuntimeOptions {
    fn default() -> Self {
        RuntimeOptions { command_capacity: 64, metrics_interval: Duration::from_secs(1), report_every: 60 }
    }
}

impl RuntimeOptions {
    /// Sets [`command_capacity`](Self::command_capacity).
    #[must_use]
    pub fn command_capacity(mut self, capacity: usize) -> Self {
        self.command_capacity = capacity;
        self
    }

    /// Sets [`metrics_interval`](Self::metrics_interval).
    #[must_use]
    pub fn metrics_interval(mut self, interval: Duration) -> Self {
        self.metrics_interval = interval;
        self
    }

    /// Sets [`report_every`](Self::report_every).
    #[must_use]
    pub fn report_every(mut self, periods: u32) -> Self {
        self.report_every = periods;
        self
    }

    /// Checks the options; the error names the field.
    pub fn validate(&self) -> Result<(), swim_protocol::ConfigError> {
        let check =
            |ok: bool, field, reason| if ok { Ok(()) } else { Err(swim_protocol::ConfigError::runtime(field, reason)) };
        check(self.command_capacity >= 1, "command_capacity", "must be at least 1")?;
        check(!self.metrics_interval.is_zero(), "metrics_interval", "must be positive")
    }
}

/// Starts the member's task on the current tokio runtime and returns its
/// handle. The node should have been created at [`swim_protocol::Time::ZERO`]:
/// the task's clock starts now.
///
/// ```no_run
/// # async fn demo() -> Result<(), Box<dyn std::error::Error>> {
/// use swim_protocol::{Config, Node, Time};
/// use swim_runtime::{RuntimeOptions, spawn};
/// use swim_transport::{Transport, udp::UdpTransport};
///
/// let transport = UdpTransport::bind("127.0.0.1:0".parse()?).await?;
/// let node = Node::new(b"node-a", &[transport.local_addr()], b"", Config::lan(), Time::ZERO)?;
/// let cluster = spawn(node, transport, RuntimeOptions::default());
/// println!("{} is up at {}", cluster.name(), cluster.local_addr());
/// # Ok(()) }
/// ```
pub fn spawn<T: Transport>(node: Node, transport: T, options: RuntimeOptions) -> Cluster {
    let (commands, command_rx) = mpsc::channel(options.command_capacity.max(1));
    let (events, publisher) = Bus::new(node.config().limits.event_capacity);
    let config = node.config().clone();
    let local = node.local();
    let name = Name::from(local.name);
    let addr = local.addrs.first().copied().unwrap_or_else(|| transport.local_addr());
    let span = tracing::info_span!("swim", node = %name);
    let driver = driver::Driver::new(node, transport, options, publisher);
    let task = tokio::spawn(driver.run(command_rx).instrument(span));
    Cluster::new(commands, events, name, addr, config, task)
}
