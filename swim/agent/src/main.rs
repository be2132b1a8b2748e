//! `swim-agent`: the swim cluster member as a tool operators run.
//!
//! ```text
//! swim-agent keygen --out cluster.key
//! swim-agent agent --name n1 --bind 10.0.0.1:7946 --key-file cluster.key
//! swim-agent agent --name n2 --bind 10.0.0.2:7946 --key-file cluster.key --join 10.0.0.1:7946
//! swim-agent members            # asks the agent on this host, through its API
//! swim-agent monitor            # its events as they happen
//! ```
//!
//! `agent` runs a member and serves a local HTTP API (127.0.0.1:7947 by
//! default; see [`api`]) that every other command talks to. See the
//! crate's README for the config file and the API's JSON shapes.

#![forbid(unsafe_code)]

mod api;
mod cli;
mod client;
mod json;
mod log;
mod run;
mod secrets;
mod settings;

use clap::Parser;

use cli::{Cli, Command};

fn main() {
    let cli = Cli::parse();
    if std::env::var_os("RUST_LOG").is_some() {
        tracing_subscriber::fmt()
            .with_env_filter(tracing_subscriber::EnvFilter::from_default_env())
            .with_writer(std::io::stderr)
            .init();
    }
    let result = match tokio::runtime::Builder::new_multi_thread().enable_all().build() {
        Ok(runtime) => runtime.block_on(dispatch(cli.command)),
        Err(e) => Err(format!("starting the runtime: {e}")),
    };
    if let Err(message) = result {
        eprintln!("swim-agent: {message}");
        std::process::exit(1);
    }
}

async fn dispatch(command: Command) -> Result<(), String> {
    match command {
        Command::Agent(args) => run::agent(*args).await,
        Command::Members(args) => client::members(&args).await,
        Command::Monitor(args) => client::monitor(&args).await,
        Command::Info(args) => client::info(&args).await,
        Command::Broadcast(args) => client::broadcast(&args).await,
        Command::Query(args) => client::query(&args).await,
        Command::Keys(args) => client::keys(&args).await,
        Command::Keygen(args) => secrets::keygen(&args),
        Command::GenCerts(args) => secrets::gen_certs(&args),
        Command::Leave(args) => client::leave(&args).await,
    }
}
