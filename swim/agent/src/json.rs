//! The JSON shapes of the API (documented in the crate's README): what a
//! member, an event and the agent's info look like on the wire.

use std::collections::BTreeMap;
use std::time::Instant;

use serde::{Deserialize, Serialize};
use swim::{Event, Member, Stats};

/// A member as this agent sees it.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub(crate) struct MemberJson {
    pub(crate) name: String,
    pub(crate) addrs: Vec<String>,
    /// `alive`, `suspect`, `faulty` or `left`.
    pub(crate) state: String,
    pub(crate) incarnation: u32,
    pub(crate) generation: u64,
    pub(crate) tags: BTreeMap<String, String>,
    /// Smoothed round trip of this agent's probes of it, in milliseconds.
    pub(crate) rtt_ms: Option<f64>,
    /// Milliseconds since it last answered one of this agent's probes.
    pub(crate) last_heard_ms: Option<u64>,
    /// Whether it is the agent's own member.
    pub(crate) local: bool,
}

impl MemberJson {
    pub(crate) fn new(m: &Member, local: &str) -> Self {
        let now = Instant::now();
        MemberJson {
            name: m.name.to_string(),
            addrs: m.addrs.iter().map(ToString::to_string).collect(),
            state: m.state.to_string(),
            incarnation: m.incarnation,
            generation: m.generation,
            tags: m.tags().iter().map(|(k, v)| (k.to_owned(), v.to_owned())).collect(),
            rtt_ms: m.rtt.map(|d| d.as_secs_f64() * 1e3),
            last_heard_ms: m
                .last_answered
                .map(|at| u64::try_from(now.saturating_duration_since(at).as_millis()).unwrap_or(u64::MAX)),
            local: m.name == *local,
        }
    }
}

/// `GET /v1/info`.
#[derive(Debug, Serialize, Deserialize)]
pub(crate) struct InfoJson {
    pub(crate) name: String,
    pub(crate) addr: String,
    pub(crate) uptime_s: f64,
    /// Lifeguard's local health score (0 is healthy).
    pub(crate) health_score: u8,
    pub(crate) probe_timeout_ms: f64,
    /// Members by state, as this agent sees them.
    pub(crate) members: BTreeMap<String, usize>,
    /// Key ids installed (8 hex digits), the encrypting one first.
    pub(crate) keys: Vec<String>,
    /// The protocol's counters.
    pub(crate) counters: BTreeMap<String, u64>,
}

pub(crate) fn counters(s: &Stats) -> BTreeMap<String, u64> {
    let c: [(&str, u64); 20] = [
        ("packets_sent", s.packets_sent),
        ("packets_received", s.packets_received),
        ("packets_rejected", s.packets_rejected),
        ("bytes_sent", s.bytes_sent),
        ("bytes_received", s.bytes_received),
        ("probes", s.probes),
        ("probes_failed", s.probes_failed),
        ("suspicions", s.suspicions),
        ("faulty_declared", s.faulty_declared),
        ("refutations", s.refutations),
        ("broadcasts_delivered", s.broadcasts_delivered),
        ("messages_received", s.messages_received),
        ("queries_sent", s.queries_sent),
        ("queries_received", s.queries_received),
        ("syncs_completed", s.syncs_completed),
        ("members_refused", s.members_refused),
        ("members_not_admitted", s.members_not_admitted),
        ("events_dropped", s.events_dropped),
        ("rate_limited", s.rate_limited),
        ("overload_reports", s.overload_reports),
    ];
    c.into_iter().map(|(k, v)| (k.to_owned(), v)).collect()
}

/// Bytes from a peer, as text (invalid UTF-8 replaced).
fn text(bytes: &[u8]) -> String {
    String::from_utf8_lossy(bytes).into_owned()
}

/// An event as `GET /v1/events` streams it: `{"type": ..., ...}`, with the
/// member's JSON where there is one; `None` for the kinds not shown.
pub(crate) fn event(e: &Event, local: &str) -> Option<serde_json::Value> {
    use serde_json::json;
    let m = |m: &Member| MemberJson::new(m, local);
    Some(match e {
        Event::MemberJoined(member) => json!({"type": "member-joined", "member": m(member)}),
        Event::MemberUpdated { member, changed_tags, .. } => json!({
            "type": "member-updated",
            "member": m(member),
            "changed_tags": changed_tags.iter().map(ToString::to_string).collect::<Vec<_>>(),
        }),
        Event::MemberSuspected { member, by } => {
            json!({"type": "member-suspected", "member": m(member), "by": by.to_string()})
        }
        Event::MemberRecovered(member) => json!({"type": "member-recovered", "member": m(member)}),
        Event::MemberFaulty { member, by } => {
            json!({"type": "member-faulty", "member": m(member), "by": by.to_string()})
        }
        Event::MemberLeft(member) => json!({"type": "member-left", "member": m(member)}),
        Event::Broadcast { origin, seq, payload } => {
            json!({"type": "broadcast", "origin": origin.to_string(), "seq": seq, "payload": text(payload)})
        }
        Event::Message { from, payload, reliable } => {
            json!({"type": "message", "from": from.to_string(), "reliable": reliable, "payload": text(payload)})
        }
        Event::Query(q) => json!({
            "type": "query", "from": q.from.to_string(), "name": q.name.to_string(), "payload": text(&q.payload),
        }),
        Event::NameConflict { name, known, claimed } => json!({
            "type": "name-conflict", "name": name.to_string(), "known": known.to_string(),
            "claimed": claimed.to_string(),
        }),
        Event::NotAdmitted { name, addr } => json!({
            "type": "not-admitted", "name": name.to_string(), "addr": addr.map(|a| a.to_string()),
        }),
        Event::Refuted { incarnation } => json!({"type": "refuted", "incarnation": incarnation}),
        Event::JoinSucceeded { seed } => json!({"type": "join-succeeded", "seed": seed.to_string()}),
        Event::JoinFailed { reason } => json!({"type": "join-failed", "reason": format!("{reason:?}")}),
        Event::Missed { count } => json!({"type": "missed", "count": count}),
        _ => return None,
    })
}
