//! `scantix`: the product on one machine, with no cloud. Deliveries go through the same
//! `GithubIngest` and `JiraIngest` as the Lambda functions; the store is an embedded JSON file and
//! the tickets are drafts kept in it, or Jira issues when the environment names a Jira site.
//!
//! # Layout
//! - `local`: the store file, the tracker, the executor and the ingests, wired for one machine.
//! - `deliver`: payload files delivered as GitHub or Jira would.
//! - `serve`: the same ingests over HTTP.
//! - `sync`: one repository's alerts read from GitHub's REST API (backfill, reconciliation).
//! - `tickets`: the store as a person reads it.

mod deliver;
mod local;
mod serve;
mod sync;
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
    after_help = AFTER_HELP
)]
struct Cli {
    #[command(flatten)]
    store: local::StoreArgs,

    #[command(subcommand)]
    command: Command,
}

const AFTER_HELP: &str = "\
Environment:
  SCANTIX_STORE                the store file (same as --store)
  SCANTIX_WEBHOOK_SECRET       the secret GitHub deliveries are signed and checked with
                               [default: scantix-local-secret, fit for one machine only]
  SCANTIX_JIRA_WEBHOOK_SECRET  the secret Jira deliveries are signed and checked with
                               (X-Hub-Signature) [default: scantix-local-jira-secret, likewise]
  SCANTIX_TRACKER              where tickets go: draft (default: drafts kept in the store) or jira
  JIRA_URL, JIRA_PROJECT       with SCANTIX_TRACKER=jira: the Jira site and the project key (SEC)
  JIRA_FLAVOR                  cloud (default) or data-center
  JIRA_EMAIL, JIRA_API_TOKEN   Jira Cloud credentials (an Atlassian API token)
  JIRA_TOKEN                   Jira Data Center credentials (a personal access token)
  JIRA_SETTINGS                optional JSON of the full Jira settings (issue type, priorities, ...)
  GITHUB_TOKEN                 the token `sync` reads GitHub with (see --token-env)
  GITHUB_API_URL               the API `sync` reads [default: https://api.github.com]
  RUST_LOG                     log filter for stderr (default: info for serve, warn otherwise)

Run one scantix process per store file at a time: each holds the store in memory and saves it
whole, so two (a `serve` and a `deliver`) would overwrite each other's work.";

#[derive(Subcommand)]
enum Command {
    /// Receive webhooks over HTTP (POST /webhooks/github, POST /webhooks/jira, GET /healthz).
    Serve(serve::ServeArgs),
    /// Deliver webhook payload files as GitHub (or Jira) would, in-process; one JSON line per action.
    Deliver(deliver::DeliverArgs),
    /// Read one repository's alerts from GitHub's API: backfill, then reconcile on each run.
    Sync(sync::SyncArgs),
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
        Command::Sync(args) => sync::run(location, args).await?,
        Command::Tickets(args) => {
            tickets::run(&*local::open_store(&location)?, &location, args).await?
        }
        Command::Reset => local::reset(&location)?,
    }
    Ok(ExitCode::SUCCESS)
}
