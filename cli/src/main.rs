//! `scantix`: the product on one machine, with no cloud. Deliveries go through the same
//! `GithubIngest` as the Lambda function; the store is an embedded JSON file and the tickets are
//! drafts kept in it.

mod deliver;
mod local;
mod serve;
mod tickets;

use clap::{Parser, Subcommand};
use std::io::IsTerminal;
use std::process::ExitCode;
use tracing_subscriber::EnvFilter;

/// Turns GitHub security alerts into grouped, deduplicated tickets, locally.
#[derive(Parser)]
#[command(
    name = "scantix",
    version,
    after_help = "Environment:\n  SCANTIX_STORE           the store file (same as --store)\n  \
                  SCANTIX_WEBHOOK_SECRET  the webhook secret deliveries are signed and checked with\n                          \
                  [default: scantix-local-secret, fit for one machine only]\n  \
                  RUST_LOG                log filter for stderr (default: info for serve, warn otherwise)\n\n\
                  Run one scantix process per store file at a time: each holds the store in memory and\n\
                  saves it whole, so two (a `serve` and a `deliver`) would overwrite each other's work."
)]
struct Cli {
    #[command(flatten)]
    store: local::StoreArgs,

    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Receive GitHub webhooks over HTTP (POST /webhooks/github, GET /healthz).
    Serve(serve::ServeArgs),
    /// Deliver webhook payload files as GitHub would, in-process; one JSON line per action.
    Deliver(deliver::DeliverArgs),
    /// List the tickets in the store, with their findings and comments.
    Tickets(tickets::TicketsArgs),
    /// Delete the store file.
    Reset,
}

#[tokio::main]
async fn main() -> ExitCode {
    let cli = Cli::parse();
    // A server's log is its record of what it received; a command's output is on stdout already.
    let level = match cli.command {
        Command::Serve(_) => "info",
        _ => "warn",
    };
    tracing_subscriber::fmt()
        .with_writer(std::io::stderr)
        .with_ansi(std::io::stderr().is_terminal())
        .with_env_filter(
            EnvFilter::try_from_default_env().unwrap_or_else(|_| EnvFilter::new(level)),
        )
        .init();

    match run(cli).await {
        Ok(code) => code,
        Err(e) => {
            // The whole chain of contexts on one line, without a backtrace: these are the user's
            // errors to fix (a path, a variable), not ours to debug.
            eprintln!("scantix: {e:#}");
            ExitCode::FAILURE
        }
    }
}

async fn run(cli: Cli) -> anyhow::Result<ExitCode> {
    let location = cli.store.location();
    match cli.command {
        Command::Serve(args) => serve::run(local::LocalApp::open(location)?, args).await?,
        Command::Deliver(args) => {
            return deliver::run(&local::LocalApp::open(location)?, args).await;
        }
        Command::Tickets(args) => {
            tickets::run(&*local::open_store(&location)?, &location, args).await?
        }
        Command::Reset => local::reset(&location)?,
    }
    Ok(ExitCode::SUCCESS)
}
