//! `cargo xtask attack [FILTER]`: runs the attack suite (see
//! `swim_tests::attack`) against real members over loopback UDP and prints
//! one line per attack, `attack: NAME outcome=refused|FAILED detail=...`,
//! then `attacks: tried=N refused=M`. Exits non-zero if any attack got
//! through.

use std::process::ExitCode;

use swim_tests::attack::{self, Attacker, Outcome};

#[tokio::main(flavor = "multi_thread", worker_threads = 2)]
async fn main() -> ExitCode {
    let filter = std::env::args().nth(1);
    let results = attack::run(filter.as_deref(), |attack, outcome| {
        let by = match attack.attacker {
            Attacker::Outsider => "outsider",
            Attacker::KeyHolder => "key-holder",
            Attacker::CertificateHolder => "certificate-holder",
        };
        match outcome {
            Outcome::Refused => println!("attack: {} outcome=refused by={by}", attack.name),
            Outcome::Failed(detail) => println!("attack: {} outcome=FAILED by={by} detail={detail}", attack.name),
        }
    })
    .await;
    let refused = results.iter().filter(|(_, o)| o.is_refused()).count();
    println!("attacks: tried={} refused={refused}", results.len());
    if refused == results.len() { ExitCode::SUCCESS } else { ExitCode::FAILURE }
}
