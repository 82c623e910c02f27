//! `scantix`: the product on one machine, with no cloud. Deliveries go through the same
//! `GithubIngest` and `JiraIngest` as the Lambda functions; the store is an embedded JSON file and
//! the tickets are drafts kept in it, or Jira issues when the environment names a Jira site.
//!
//! # Layout
//! - `local`: the store file, the tracker, the executor and the ingests, wired for one machine.
//! - `config_file`: the settings of `--config` (`.github/scantix.yml`'s format), or the defaults.
//! - `deliver`: payload files delivered as GitHub or Jira would.
//! - `sarif`: SARIF files of any scanner applied as one analysis of a repository's ref.
//! - `serve`: the same ingests over HTTP.
//! - `sync`: a repository's (or an organisation's) alerts read from GitHub's REST API (backfill,
//!   reconciliation).
//! - `tickets`: the store as a person reads it.
//! - `audit`: the chain of custody from the audit log; `export`: changes as OCSF events;
//!   `report`: the metrics report (JSON, HTML with plots).
//! - `selection`: the filters of `tickets` and the keys people type.
//! - `bulk`: the verbs of `tickets` (close, reopen, assign, ...), through the tracker port and
//!   the outbox.
//! - `drafts`: drafts listed, shown, pushed, discarded, regenerated.
//! - `budget`: the ticket budgets rebalanced against the settings' budget now.

mod audit;
mod budget;
mod bulk;
mod config_file;
mod deliver;
mod drafts;
mod export;
mod local;
mod report;
mod sarif;
mod selection;
mod serve;
mod sync;
mod tickets;
mod upload_token;

use anyhow::Context;
use clap::{Parser, Subcommand};
use std::io::IsTerminal;
use std::path::PathBuf;
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

    /// Settings in `.github/scantix.yml`'s format (grouping, SLA, priorities, owners, the Rego
    /// policy inline or as `policy-file`), plus `codeowners: PATH`; paths are relative to the file.
    /// Without it: the defaults, with the bundled policy, as a deployment applies them to a
    /// repository without a file.
    #[arg(long, global = true, env = "SCANTIX_CONFIG", value_name = "PATH")]
    config: Option<PathBuf>,

    #[command(subcommand)]
    command: Command,
}

const AFTER_HELP: &str = "\
Environment:
  SCANTIX_STORE                the store's directory (same as --store)
  SCANTIX_TABLE                a deployment's DynamoDB table (same as --table)
  SCANTIX_DYNAMODB_ENDPOINT    a DynamoDB endpoint such as DynamoDB Local (same as --dynamodb-endpoint)
  SCANTIX_CONFIG               the settings file (same as --config)
  SCANTIX_WEBHOOK_SECRET       the secret GitHub deliveries are signed and checked with
                               [default: scantix-local-secret, fit for one machine only]
  SCANTIX_JIRA_WEBHOOK_SECRET  the secret Jira deliveries are signed and checked with
                               (X-Hub-Signature) [default: scantix-local-jira-secret, likewise]
  SCANTIX_LINEAR_WEBHOOK_SECRET  the signing secret Linear deliveries are checked with
                               (Linear-Signature) [default: scantix-local-linear-secret, likewise]
  SCANTIX_TRACKER              where tickets go: draft (default: drafts kept in the store), jira,
                               github (GitHub Issues, acting with GITHUB_TOKEN) or linear
  SCANTIX_GITHUB_ISSUES_REPO   with SCANTIX_TRACKER=github: one owner/name for every ticket
                               [default: each ticket in its alerts' repository]
  JIRA_URL, JIRA_PROJECT       with SCANTIX_TRACKER=jira: the Jira site and the project key (SEC)
  JIRA_FLAVOR                  cloud (default) or data-center
  JIRA_EMAIL, JIRA_API_TOKEN   Jira Cloud credentials (an Atlassian API token)
  JIRA_TOKEN                   Jira Data Center credentials (a personal access token)
  JIRA_SETTINGS                optional JSON of the full Jira settings (issue type, priorities, ...)
  LINEAR_TEAM                  with SCANTIX_TRACKER=linear: the team's key (SEC)
  LINEAR_API_KEY               a Linear personal API key (or LINEAR_OAUTH_TOKEN: an OAuth app's token)
  LINEAR_SETTINGS              optional JSON of the full Linear settings (api-url, group-link-base, ...)
  GITHUB_TOKEN                 the token `sync` reads GitHub with (see --token-env), and the
                               GitHub Issues tracker writes with
  GITHUB_API_URL               the API `sync` reads [default: https://api.github.com]
  RUST_LOG                     log filter for stderr (default: info for serve, warn otherwise)

The store is an SQLite database (.scantix/store.sqlite3 by default): several scantix processes
(a `serve` and a `tickets` beside it) can use it at once.";

#[derive(Subcommand)]
enum Command {
    /// Receive webhooks over HTTP (POST /webhooks/github, /webhooks/jira, /webhooks/linear; GET /healthz).
    Serve(serve::ServeArgs),
    /// Deliver webhook payload files as GitHub (or Jira) would, in-process; one JSON line per action.
    Deliver(deliver::DeliverArgs),
    /// Apply SARIF files of any scanner as one analysis of a repository's ref (--repo, --ref):
    /// findings it no longer reports are fixed; one JSON line per action.
    Sarif(sarif::SarifArgs),
    /// Read a repository's (--repo) or an organisation's (--org) alerts from GitHub's API:
    /// backfill, then reconcile on each run.
    Sync(sync::SyncArgs),
    /// Apply the deliveries still pending in a deployment's inbox (the dead letters of the worker),
    /// with the worker's settings (--table or SCANTIX_TABLE, SCANTIX_TRACKER, JIRA_*,
    /// GITHUB_APP_*; secrets as <NAME>, <NAME>_FILE or <NAME>_ARN). Prints one JSON report.
    Replay(ReplayArgs),
    /// Bring a DynamoDB table (--table) written by an older scantix to today's layout at once:
    /// groups with inline findings upgraded, installations listed. Safe to repeat and to run
    /// beside live traffic (records are otherwise upgraded as events touch them). Prints one JSON
    /// report.
    Migrate,
    /// List the tickets in the store, with their findings and comments; with filters, the
    /// tickets they select; with a verb (close, reopen, assign, priority, regenerate, push,
    /// discard), change them (--dry-run, --yes above 20, audited with --actor).
    Tickets(tickets::TicketsArgs),
    /// The chain of custody, oldest first: detected, triaged, ticketed, state changes,
    /// verifications, dismissals, with the actor and time of each step (--ticket, --group, --repo,
    /// --finding; --since).
    Audit(audit::AuditArgs),
    /// Every change of a finding or ticket as an OCSF 1.8 event, one JSON line each (--ocsf,
    /// --since).
    Export(export::ExportArgs),
    /// Metrics of a period: MTTT, MTTR, SLA adherence, reopen and net resolve rates, tickets per
    /// 1,000 alerts, the weekly backlog (--since, --repo; --json, --html FILE).
    Report(report::ReportArgs),
    /// List the drafts (tickets prepared, not pushed: `mode: draft` or a policy's `draft`), show
    /// one, push them to the tracker, discard or regenerate them.
    Drafts(drafts::DraftsArgs),
    /// Ticket budgets: `budget rebalance` balances them against the settings' budget now.
    Budget(budget::BudgetArgs),
    /// Delete the store file.
    Reset,
    /// Print the upload token of an App installation (--installation ID), for CI systems without
    /// GitHub Actions OIDC to upload SARIF with; needs the deployment's SCANTIX_UPLOAD_TOKEN_SECRET
    /// (or _FILE, or _ARN).
    UploadToken(upload_token::UploadTokenArgs),
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

#[derive(clap::Args)]
struct ReplayArgs {
    /// At most this many deliveries, oldest first.
    #[arg(long, default_value_t = 1000)]
    limit: usize,
}

/// `scantix replay`: exits non-zero while any delivery still fails, so a script can retry it.
async fn replay(location: &local::StoreLocation, args: ReplayArgs) -> anyhow::Result<ExitCode> {
    let local::StoreLocation::Table { table, endpoint } = location else {
        anyhow::bail!(
            "replay applies a deployment's pending deliveries: name its table with --table"
        );
    };
    let store = scantix_wiring::local::table_store(table, endpoint.as_deref())
        .await
        .with_context(|| format!("opening table {table}"))?;
    let worker = scantix_wiring::worker::worker_over(store)
        .await
        .context("building the worker from the environment")?;
    let report = worker
        .replay(args.limit)
        .await
        .context("reading the pending deliveries")?;
    println!("{}", serde_json::to_string(&report)?);
    Ok(if report.failed == 0 {
        ExitCode::SUCCESS
    } else {
        ExitCode::FAILURE
    })
}

async fn run(cli: Cli) -> anyhow::Result<ExitCode> {
    let location = cli.store.location();
    // Read before anything else happens, so that a file that cannot be used stops the command
    // before it delivers or syncs anything.
    let settings = || config_file::load(cli.config.as_deref());
    match cli.command {
        Command::Serve(args) => {
            serve::run(local::LocalApp::open(location, settings()?).await?, args).await?
        }
        Command::Deliver(args) => {
            let app = local::LocalApp::open(location, settings()?).await?;
            return deliver::run(&app, args).await;
        }
        Command::Sync(args) => sync::run(location, settings()?, args).await?,
        Command::Sarif(args) => {
            sarif::run(&local::LocalApp::open(location, settings()?).await?, args).await?
        }
        Command::Tickets(mut args) => match args.verb.take() {
            Some(verb) => {
                let app = local::LocalApp::open(location, settings()?).await?;
                return bulk::run(&app, &args.filters, verb).await;
            }
            None => tickets::run(&local::open_store(&location).await?, &location, args).await?,
        },
        Command::Drafts(args) => {
            let app = local::LocalApp::open(location, settings()?).await?;
            return drafts::run(&app, args).await;
        }
        Command::Budget(args) => {
            let app = local::LocalApp::open(location, settings()?).await?;
            return budget::run(&app, args).await;
        }
        Command::Audit(args) => {
            audit::run(local::open_store(&location).await?.as_ref(), args).await?
        }
        Command::Export(args) => {
            export::run(local::open_store(&location).await?.as_ref(), args).await?
        }
        Command::Report(args) => {
            report::run(local::open_store(&location).await?.as_ref(), args).await?
        }
        Command::Migrate => {
            let (table, endpoint) = local::table_of(&location)?;
            let done = scantix_wiring::local::migrate_table(table, endpoint)
                .await
                .with_context(|| format!("migrating {location}"))?;
            println!("{}", serde_json::to_string(&done)?);
        }
        Command::Reset => local::reset(&location)?,
        Command::UploadToken(args) => upload_token::run(args).await?,
        Command::Replay(args) => {
            if cli.config.is_some() {
                anyhow::bail!(
                    "--config is for local runs; `replay` applies the deployment's deliveries \
                     with each repository's own settings, as its worker does"
                );
            }
            return replay(&location, args).await;
        }
    }
    Ok(ExitCode::SUCCESS)
}
