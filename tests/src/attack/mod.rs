//! The attack suite (`cargo xtask attack`): real members over loopback UDP,
//! attacked from a separate socket, each attack followed by a check that
//! nothing changed.
//!
//! Every attack runs against a fresh encrypted cluster ([`lab::Lab`]) and
//! returns [`Outcome::Refused`] only when every hostile datagram was seen
//! and refused (the member's own counters say so), no member's view moved
//! (names, states, generations, incarnations), nobody was suspected,
//! declared faulty or departed, and nothing was sent back to the attacker.
//! An attack that gets through returns [`Outcome::Failed`] with what it
//! achieved.

use std::future::Future;
use std::pin::Pin;

mod craft;
pub mod lab;
mod limits;
mod names;
mod outsider;
mod resources;

pub use lab::Lab;

/// What an attack achieved.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Outcome {
    /// Nothing: every hostile input was refused and nothing changed.
    Refused,
    /// It got through; says what changed.
    Failed(String),
}

impl Outcome {
    /// Whether the attack was refused.
    pub fn is_refused(&self) -> bool {
        matches!(self, Outcome::Refused)
    }
}

/// Who can make an attack.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Attacker {
    /// Anyone who can send datagrams to the members: no key.
    Outsider,
    /// A holder of the cluster key.
    KeyHolder,
    /// A holder of a certificate the cluster's CA signed (QUIC).
    CertificateHolder,
}

type Run = for<'a> fn(&'a Lab) -> Pin<Box<dyn Future<Output = Outcome> + Send + 'a>>;

/// One attack of the suite.
pub struct Attack {
    /// Its name, as printed.
    pub name: &'static str,
    /// Who makes it.
    pub attacker: Attacker,
    run: Run,
}

impl std::fmt::Debug for Attack {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Attack").field("name", &self.name).field("attacker", &self.attacker).finish()
    }
}

macro_rules! attack {
    ($name:literal, $who:ident, $f:path) => {
        Attack { name: $name, attacker: Attacker::$who, run: |lab| Box::pin($f(lab)) }
    };
}

/// Every attack, in the order they run.
pub fn all() -> Vec<Attack> {
    vec![
        attack!("fake-member-injection", Outsider, outsider::fake_members),
        attack!("forged-faulty", Outsider, outsider::forged_faulty),
        attack!("forged-left", Outsider, outsider::forged_left),
        attack!("forged-suspect-self", Outsider, outsider::forged_suspect_self),
        attack!("join-hijack", Outsider, outsider::join_hijack),
        attack!("wrong-key-join", Outsider, outsider::wrong_key_join),
        attack!("tampering", Outsider, outsider::tampering),
        attack!("foreign-label", KeyHolder, outsider::foreign_label),
        attack!("garbage-flood", Outsider, outsider::garbage_flood),
        attack!("oversize-datagram", Outsider, outsider::oversize),
        attack!("replay", Outsider, outsider::replay),
        attack!("cross-member-replay", Outsider, outsider::cross_member_replay),
        attack!("replayed-acks", Outsider, outsider::replayed_acks),
        attack!("nonce-epoch-reuse", Outsider, resources::nonce_epochs),
        attack!("insecure-start", Outsider, resources::insecure_start),
        attack!("idle-tcp-sync-exhaustion", Outsider, resources::idle_tcp),
        attack!("indirect-ping-reflection", KeyHolder, resources::reflection),
        attack!("amplification", Outsider, limits::amplification),
        attack!("sync-size-bypass", KeyHolder, limits::sync_size),
        attack!("rate-table-eviction-flood", Outsider, limits::eviction_flood),
        attack!("name-takeover", CertificateHolder, names::certificate_holder_takeover),
        attack!("name-takeover-same-process", KeyHolder, names::key_holder_same_process_takeover),
    ]
}

/// Runs the attacks whose names contain `filter` (all for `None`), each on
/// a fresh cluster; calls `report` after each.
pub async fn run(filter: Option<&str>, mut report: impl FnMut(&Attack, &Outcome)) -> Vec<(&'static str, Outcome)> {
    let mut results = Vec::new();
    for attack in all().into_iter().filter(|a| filter.is_none_or(|f| a.name.contains(f))) {
        let outcome = match swim::SecretKey::generate() {
            Ok(key) => match Lab::start(key).await {
                Ok(lab) => {
                    let outcome = (attack.run)(&lab).await;
                    lab.stop().await;
                    outcome
                }
                Err(e) => Outcome::Failed(format!("the lab did not start: {e}")),
            },
            Err(e) => Outcome::Failed(e.to_string()),
        };
        report(&attack, &outcome);
        results.push((attack.name, outcome));
    }
    results
}
