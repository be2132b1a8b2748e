//! Metrics through the [`metrics`] facade, fed from the node's counters once
//! per interval (never per message). Every metric carries a `node` label.
//!
//! | name | kind | meaning |
//! |---|---|---|
//! | `swim_packets_sent_total` | counter | datagrams sent |
//! | `swim_bytes_sent_total` | counter | bytes of those datagrams |
//! | `swim_packets_received_total` | counter | datagrams accepted |
//! | `swim_bytes_received_total` | counter | bytes of those datagrams |
//! | `swim_packets_rejected_total` | counter | datagrams and sync frames refused, all reasons |
//! | `swim_rejected_total` | counter, label `reason` | refusals by reason: `malformed`, `label`, `key` (unknown key or failed authentication), `encryption` (plaintext where encryption is required, or sealed without keys), `replay`, `unexpected`, `network` (from outside `security.allowed_networks`) |
//! | `swim_rate_limited_total` | counter | join requests and syncs refused by the per-source rate limits |
//! | `swim_probes_total` | counter | probes started |
//! | `swim_probes_failed_total` | counter | probes with no ack, direct or indirect |
//! | `swim_suspicions_total` | counter | suspicions started or learned |
//! | `swim_faulty_total` | counter | members declared faulty (as seen here) |
//! | `swim_refutations_total` | counter | suspicions of this member it refuted |
//! | `swim_broadcasts_delivered_total` | counter | user broadcasts delivered here |
//! | `swim_messages_sent_total` | counter | direct messages sent (datagrams queued, reliable exchanges opened) |
//! | `swim_messages_delivered_total` | counter | reliable messages the receiver acknowledged |
//! | `swim_messages_received_total` | counter | direct messages received and handed to the application |
//! | `swim_queries_sent_total` | counter | queries this member asked |
//! | `swim_queries_received_total` | counter | queries meant for this member, handed to the application |
//! | `swim_query_responses_received_total` | counter | answers to this member's queries (one per member and query) |
//! | `swim_query_responses_relayed_total` | counter | answers and acknowledgements passed on as a relay |
//! | `swim_state_writes_total` | counter | application state entries this member wrote |
//! | `swim_state_updates_total` | counter | other members' state entries taken in (new versions) |
//! | `swim_app_states_merged_total` | counter | syncs whose peer's application state (`AppState`) was merged here |
//! | `swim_app_state_oversized_total` | counter | application states not exchanged for being larger than `limits.max_app_state`: this member's not sent, or a peer's skipped |
//! | `swim_syncs_completed_total` | counter | sync exchanges completed |
//! | `swim_syncs_refused_total` | counter | syncs refused because as many as configured were running |
//! | `swim_sync_streams_failed_total` | counter | sync streams dropped: connection failures, resets, oversized or invalid frames |
//! | `swim_overload_reports_total` | counter | late wake-ups reported to the protocol |
//! | `swim_members_refused_total` | counter | members refused because `limits.max_members` was reached |
//! | `swim_members_not_admitted_total` | counter | members refused by `security.allowed_networks` or the admission hook (once per version; joiners included), and updates that would move a member outside the networks |
//! | `swim_events_dropped_total` | counter | protocol events dropped before the runtime read them |
//! | `swim_members_live` | gauge | members alive or suspect, this one included |
//! | `swim_members_known` | gauge | members known in any state |
//! | `swim_health_score` | gauge | Lifeguard local health (0 is healthy) |
//! | `swim_probe_timeout_seconds` | gauge | probe timeout in force |
//! | `swim_gossip_queue` | gauge | updates waiting to be disseminated |

use metrics::{Counter, Gauge, counter, gauge};
use swim_protocol::Stats;

/// A counter and the stats field it follows.
type Tracked = (Counter, fn(&Stats) -> u64);

pub(crate) struct Metrics {
    counters: [Tracked; 36],
    streams_failed: Counter,
    members_live: Gauge,
    members_known: Gauge,
    health: Gauge,
    probe_timeout: Gauge,
    gossip_queue: Gauge,
    last: Stats,
}

impl Metrics {
    /// Registers every metric once, so updates allocate nothing.
    pub(crate) fn new(node: &str) -> Self {
        let node = node.to_owned();
        let c = |name: &'static str| counter!(name, "node" => node.clone());
        let r = |reason: &'static str| counter!("swim_rejected_total", "node" => node.clone(), "reason" => reason);
        let g = |name: &'static str| gauge!(name, "node" => node.clone());
        Metrics {
            counters: [
                (c("swim_packets_sent_total"), |s| s.packets_sent),
                (c("swim_bytes_sent_total"), |s| s.bytes_sent),
                (c("swim_packets_received_total"), |s| s.packets_received),
                (c("swim_bytes_received_total"), |s| s.bytes_received),
                (c("swim_packets_rejected_total"), |s| s.packets_rejected),
                (c("swim_probes_total"), |s| s.probes),
                (c("swim_probes_failed_total"), |s| s.probes_failed),
                (c("swim_suspicions_total"), |s| s.suspicions),
                (c("swim_faulty_total"), |s| s.faulty_declared),
                (c("swim_refutations_total"), |s| s.refutations),
                (c("swim_broadcasts_delivered_total"), |s| s.broadcasts_delivered),
                (c("swim_messages_sent_total"), |s| s.messages_sent),
                (c("swim_messages_delivered_total"), |s| s.messages_delivered),
                (c("swim_messages_received_total"), |s| s.messages_received),
                (c("swim_queries_sent_total"), |s| s.queries_sent),
                (c("swim_queries_received_total"), |s| s.queries_received),
                (c("swim_query_responses_received_total"), |s| s.query_responses_received),
                (c("swim_query_responses_relayed_total"), |s| s.query_responses_relayed),
                (c("swim_state_writes_total"), |s| s.state_writes),
                (c("swim_state_updates_total"), |s| s.state_updates),
                (c("swim_app_states_merged_total"), |s| s.app_states_merged),
                (c("swim_app_state_oversized_total"), |s| s.app_state_oversized),
                (c("swim_syncs_completed_total"), |s| s.syncs_completed),
                (c("swim_syncs_refused_total"), |s| s.syncs_refused),
                (c("swim_overload_reports_total"), |s| s.overload_reports),
                (c("swim_members_refused_total"), |s| s.members_refused),
                (c("swim_members_not_admitted_total"), |s| s.members_not_admitted),
                (c("swim_events_dropped_total"), |s| s.events_dropped),
                (c("swim_rate_limited_total"), |s| s.rate_limited),
                (r("malformed"), |s| s.rejected_malformed),
                (r("label"), |s| s.rejected_label),
                (r("network"), |s| s.rejected_network),
                (r("key"), |s| s.rejected_key),
                (r("encryption"), |s| s.rejected_encryption),
                (r("replay"), |s| s.rejected_replay),
                (r("unexpected"), |s| s.rejected_unexpected),
            ],
            streams_failed: c("swim_sync_streams_failed_total"),
            members_live: g("swim_members_live"),
            members_known: g("swim_members_known"),
            health: g("swim_health_score"),
            probe_timeout: g("swim_probe_timeout_seconds"),
            gossip_queue: g("swim_gossip_queue"),
            last: Stats::default(),
        }
    }

    /// Counts a sync stream the runtime dropped.
    pub(crate) fn stream_failed(&self) {
        self.streams_failed.increment(1);
    }

    /// Publishes what changed since the last call.
    pub(crate) fn publish(&mut self, stats: &Stats) {
        for (counter, field) in &self.counters {
            counter.increment(field(stats).saturating_sub(field(&self.last)));
        }
        self.members_live.set(stats.live_members as f64);
        self.members_known.set(stats.known_members as f64);
        self.health.set(f64::from(stats.health));
        self.probe_timeout.set(stats.probe_timeout.as_secs_f64());
        self.gossip_queue.set(stats.queued_updates as f64);
        self.last = *stats;
    }
}
