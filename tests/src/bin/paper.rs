//! `cargo xtask paper`: runs the evaluation and writes `docs/results/`.
//! See `cargo xtask paper --help`.

use std::path::Path;
use std::process::ExitCode;

use swim_tests::alloc_counter::CountingAllocator;
use swim_tests::paper::{Command, HELP, doc, run};

// Counting allocator: the scale measurement reads the heap size from it.
#[global_allocator]
static ALLOC: CountingAllocator = CountingAllocator;

fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let command = match Command::parse(&args) {
        Ok(c) => c,
        Err(e) => {
            eprintln!("paper: {e}");
            return ExitCode::from(2);
        }
    };
    if command.help {
        print!("{HELP}");
        return ExitCode::SUCCESS;
    }
    let results = run(&command.options);
    if let Some(out) = &command.out {
        let line = std::iter::once("cargo xtask paper".to_owned()).chain(args).collect::<Vec<_>>().join(" ");
        match doc::write(&results, Path::new(out), &line) {
            Ok(files) => println!("paper: wrote {} files to {out}", files.len()),
            Err(e) => {
                eprintln!("paper: cannot write to {out}: {e}");
                return ExitCode::FAILURE;
            }
        }
    }
    ExitCode::SUCCESS
}
