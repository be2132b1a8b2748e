//! The periodic health report: what a member can tell about the protocol
//! from its own counters, logged every few periods.

use std::time::Duration;

use swim_protocol::Stats;

/// What changed between two snapshots of a node's [`Stats`], as the runtime
/// logs it every [`RuntimeOptions::report_every`](crate::RuntimeOptions)
/// periods (`tracing` target `swim::report`, level INFO).
///
/// ```
/// use std::time::Duration;
/// use swim_runtime::PeriodReport;
/// use swim_protocol::Stats;
///
/// let earlier = Stats::default();
/// let mut later = Stats::default();
/// later.periods = 10;
/// later.periods_probed = 6;
/// later.live_members = 101;
/// later.updates_spread = 4;
/// later.spread_time = Duration::from_secs(20);
/// let report = PeriodReport::between(&earlier, &later, Duration::from_secs(1));
/// assert_eq!(report.probed, Some(0.6));
/// assert!((report.expected_probed - 0.634).abs() < 0.001); // 1 − (1 − 1/100)^100
/// assert_eq!(report.spread, Some(Duration::from_secs(5)));
/// assert_eq!(report.spread_periods, Some(5.0));
/// ```
#[derive(Debug, Clone, Copy, PartialEq)]
#[non_exhaustive]
pub struct PeriodReport {
    /// Protocol periods this member ran in the window.
    pub periods: u64,
    /// Fraction of those periods in which it was probed at least once
    /// (`None` without periods).
    pub probed: Option<f64>,
    /// That fraction as expected with this many members:
    /// `1 − (1 − 1/(N − 1))^(N − 1)`.
    pub expected_probed: f64,
    /// Mean time an update spent being disseminated by this member before
    /// its last transmission: an estimate of how long updates take to reach
    /// everyone (`None` if no update finished in the window).
    pub spread: Option<Duration>,
    /// The same in protocol periods.
    pub spread_periods: Option<f64>,
    /// The local health score at the end of the window.
    pub health: u8,
    /// The probe timeout in force at the end of the window.
    pub probe_timeout: Duration,
    /// Members alive or suspect, this one included.
    pub live_members: usize,
    /// Probes of this member's that failed in the window.
    pub failed_probes: u64,
}

impl PeriodReport {
    /// The report for the window between two snapshots of one node's stats.
    pub fn between(earlier: &Stats, later: &Stats, period: Duration) -> Self {
        let periods = later.periods.saturating_sub(earlier.periods);
        let probed_periods = later.periods_probed.saturating_sub(earlier.periods_probed);
        let spread_count = later.updates_spread.saturating_sub(earlier.updates_spread);
        let spread_total = later.spread_time.saturating_sub(earlier.spread_time);
        let spread = u32::try_from(spread_count).ok().filter(|&n| n > 0).map(|n| spread_total / n);
        let peers = later.live_members.saturating_sub(1).max(1) as f64;
        PeriodReport {
            periods,
            probed: (periods > 0).then(|| probed_periods as f64 / periods as f64),
            expected_probed: 1.0 - (1.0 - 1.0 / peers).powf(peers),
            spread,
            spread_periods: spread.filter(|_| !period.is_zero()).map(|s| s.as_secs_f64() / period.as_secs_f64()),
            health: later.health,
            probe_timeout: later.probe_timeout,
            live_members: later.live_members,
            failed_probes: later.probes_failed.saturating_sub(earlier.probes_failed),
        }
    }

    /// Logs the report (`tracing` target `swim::report`, INFO); a value
    /// that is unknown in this window is logged as -1.
    pub(crate) fn log(&self) {
        tracing::info!(
            target: "swim::report",
            periods = self.periods,
            live_members = self.live_members,
            probed_pct = self.probed.map_or(-1.0, |p| (p * 1000.0).round() / 10.0),
            expected_probed_pct = (self.expected_probed * 1000.0).round() / 10.0,
            spread_ms = self.spread.map_or(-1, |s| i64::try_from(s.as_millis()).unwrap_or(i64::MAX)),
            spread_periods = self.spread_periods.map_or(-1.0, |p| (p * 10.0).round() / 10.0),
            health = self.health,
            probe_timeout_ms = u64::try_from(self.probe_timeout.as_millis()).unwrap_or(u64::MAX),
            failed_probes = self.failed_probes,
            "protocol report"
        );
    }
}
