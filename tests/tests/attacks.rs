//! The attack suite (`cargo xtask attack`) in the test run: every attack the
//! defences already stop must be refused. The attacks listed in `OPEN` still
//! get through (docs/security.md, "Not covered"); they run and are reported,
//! and each leaves this list when its defence lands.

use swim_tests::attack::{self, Outcome};

/// Attacks not yet refused (none today).
const OPEN: &[&str] = &[];

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_defended_attack_is_refused() {
    let results = attack::run(None, |attack, outcome| eprintln!("attack: {} {outcome:?}", attack.name)).await;
    assert!(results.len() >= 22, "the suite ran every attack");
    let got_through: Vec<(&str, String)> = results
        .iter()
        .filter(|(name, _)| !OPEN.contains(name))
        .filter_map(|(name, outcome)| match outcome {
            Outcome::Refused => None,
            Outcome::Failed(detail) => Some((*name, detail.clone())),
        })
        .collect();
    assert!(got_through.is_empty(), "attacks that got through: {got_through:?}");
}
