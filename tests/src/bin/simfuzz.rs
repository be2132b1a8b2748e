//! `cargo xtask simfuzz`: runs seeded random scenarios in the simulator and
//! checks the protocol's promises (see `swim_tests::simfuzz`).
//!
//! `simfuzz --seeds N [--seed S] [--members M] [--threads T] [--verbose]`
//! runs seeds `S..S+N` (S defaults to 1) and prints each failure with its
//! replay command, then `simfuzz: seeds=N failures=F seconds=S`. Exits
//! non-zero on any failure. `--verbose` prints what each scenario does;
//! `--watch A,B` adds every change in how member A sees member B.

use std::process::ExitCode;
use std::sync::Mutex;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Instant;

use swim_tests::simfuzz::{FuzzOptions, run};

fn value(args: &[String], flag: &str) -> Result<Option<u64>, String> {
    match args.iter().position(|a| a == flag) {
        None => Ok(None),
        Some(i) => {
            let v = args.get(i + 1).ok_or(format!("{flag} needs a value"))?;
            v.parse().map(Some).map_err(|_| format!("{flag}: `{v}` is not a number"))
        }
    }
}

fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let parsed = (|| -> Result<_, String> {
        for a in args.iter().filter(|a| a.starts_with("--")) {
            if !["--seeds", "--seed", "--members", "--threads", "--verbose", "--watch"].contains(&a.as_str()) {
                return Err(format!("unknown option `{a}`"));
            }
        }
        let seeds = value(&args, "--seeds")?.unwrap_or(100);
        let first = value(&args, "--seed")?.unwrap_or(1);
        let members = value(&args, "--members")?.map(|m| m.clamp(2, 64) as usize);
        let threads = value(&args, "--threads")?.unwrap_or(2).max(1);
        Ok((seeds, first, members, threads))
    })();
    let (seeds, first, members, threads) = match parsed {
        Ok(p) => p,
        Err(e) => {
            eprintln!("simfuzz: {e}\nusage: simfuzz --seeds N [--seed S] [--members M] [--threads T] [--verbose]");
            return ExitCode::from(2);
        }
    };
    let verbose = args.iter().any(|a| a == "--verbose");
    let watch = args.iter().position(|a| a == "--watch").and_then(|i| args.get(i + 1)).and_then(|w| {
        let (a, b) = w.split_once(',')?;
        Some((a.parse().ok()?, b.parse().ok()?))
    });
    let started = Instant::now();
    let next = AtomicU64::new(0);
    let failures = Mutex::new(Vec::new());
    std::thread::scope(|scope| {
        for _ in 0..threads {
            scope.spawn(|| {
                loop {
                    let k = next.fetch_add(1, Ordering::Relaxed);
                    if k >= seeds {
                        break;
                    }
                    if let Err(failure) = run(first + k, FuzzOptions { members, verbose, watch }) {
                        println!("{failure}");
                        failures.lock().map(|mut f| f.push(failure)).ok();
                    }
                }
            });
        }
    });
    let failed = failures.lock().map(|f| f.len()).unwrap_or(0);
    println!("simfuzz: seeds={seeds} failures={failed} seconds={}", started.elapsed().as_secs());
    if failed == 0 { ExitCode::SUCCESS } else { ExitCode::FAILURE }
}
