//! The local app: the embedded store (an SQLite database in a directory, or a throwaway in-memory
//! one), the tracker the environment names (drafts kept with their groups unless
//! `SCANTIX_TRACKER` names a tracker), the executor with the default config, and the GitHub and
//! Jira ingests in front of them: the product as the Lambda functions run it, minus the cloud.
//!
//! The database takes one transaction per event, so several processes (a `serve` and a `tickets`
//! beside it) can use one store at once.

use anyhow::Context;
use clap::Args;
use scantix::config::Config;
use scantix::engine::{Executor, ExecutorSettings};
use scantix::github::api::GitHub;
use scantix::ingest::jira::JiraAuthenticity;
use scantix::ingest::{GithubIngest, JiraIngest};
use scantix::secret::Secret;
use scantix::store::Store;
use scantix::store::memory::MemoryStore;
use scantix::store::sqlite::SqliteStore;
use scantix::wiring::tracker_from_env;
use std::path::{Path, PathBuf};
use std::sync::Arc;

/// Environment variable holding the secret GitHub deliveries are signed and checked with.
pub const SECRET_ENV: &str = "SCANTIX_WEBHOOK_SECRET";

/// The secret used when `SCANTIX_WEBHOOK_SECRET` is unset: fine on one machine (`deliver` signs with
/// it too), never for a server others can reach.
pub const DEFAULT_SECRET: &str = "scantix-local-secret";

/// Environment variable holding the secret Jira deliveries are signed (`X-Hub-Signature`) and
/// checked with: the secret of a Jira Cloud admin webhook.
pub const JIRA_SECRET_ENV: &str = "SCANTIX_JIRA_WEBHOOK_SECRET";

/// The secret used when `SCANTIX_JIRA_WEBHOOK_SECRET` is unset; one machine only, as above.
pub const DEFAULT_JIRA_SECRET: &str = "scantix-local-jira-secret";

/// Where the store lives, as chosen on the command line (shared by every subcommand).
#[derive(Debug, Args)]
pub struct StoreArgs {
    /// The store's directory (an SQLite database, `store.sqlite3`, created on first use). A path
    /// to a `.json` file names the store of older versions: its directory is used, and the old
    /// file is imported once.
    #[arg(
        long,
        global = true,
        env = "SCANTIX_STORE",
        value_name = "DIR",
        default_value = ".scantix"
    )]
    store: PathBuf,

    /// Use a throwaway in-memory store instead: nothing is read or saved (overrides --store).
    #[arg(long, global = true)]
    memory: bool,
}

impl StoreArgs {
    /// The store these arguments name.
    pub fn location(&self) -> StoreLocation {
        if self.memory {
            return StoreLocation::Memory;
        }
        let old_file = self.store.extension().is_some_and(|e| e == "json");
        match (old_file, self.store.parent()) {
            (true, Some(dir)) => StoreLocation::Dir(dir.to_path_buf()),
            _ => StoreLocation::Dir(self.store.clone()),
        }
    }
}

/// A store directory, or none at all.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum StoreLocation {
    /// A directory holding the SQLite database.
    Dir(PathBuf),
    /// Nothing on disk: the store lives and dies with the process.
    Memory,
}

impl std::fmt::Display for StoreLocation {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            StoreLocation::Dir(path) => write!(f, "{}", path.display()),
            StoreLocation::Memory => f.write_str("in memory (--memory)"),
        }
    }
}

/// Opens the store at `location` (created empty on first use).
pub fn open_store(location: &StoreLocation) -> anyhow::Result<Arc<dyn Store>> {
    Ok(match location {
        StoreLocation::Dir(dir) => Arc::new(
            SqliteStore::open(dir)
                .with_context(|| format!("opening the store in {}", dir.display()))?,
        ),
        StoreLocation::Memory => Arc::new(MemoryStore::new()),
    })
}

/// A webhook secret from `var`, and whether it is the local `default` (unset or empty).
fn webhook_secret(var: &str, default: &str) -> anyhow::Result<(Secret, bool)> {
    match std::env::var(var) {
        Ok(value) if !value.is_empty() => Ok((Secret::new(value), false)),
        Ok(_) | Err(std::env::VarError::NotPresent) => Ok((Secret::new(default), true)),
        Err(e) => Err(e).with_context(|| format!("reading {var}")),
    }
}

/// The product wired for one machine.
pub struct LocalApp {
    /// Receives GitHub deliveries exactly as the GitHub webhook function does.
    pub ingest: GithubIngest,
    /// Receives Jira deliveries exactly as the Jira webhook function does (signature mode).
    pub jira: JiraIngest,
    /// The secret `ingest` checks signatures with, for `deliver` to sign with.
    pub secret: Secret,
    /// Whether `secret` is [`DEFAULT_SECRET`].
    pub default_secret: bool,
    /// The secret `jira` checks signatures with.
    pub jira_secret: Secret,
    /// Whether `jira_secret` is [`DEFAULT_JIRA_SECRET`].
    pub default_jira_secret: bool,
    executor: Arc<Executor>,
    location: StoreLocation,
}

impl LocalApp {
    /// Loads the store and builds the tracker, executor and ingests over it, with no GitHub
    /// connection: closures are verified against the alert states the store last heard of, and
    /// dismissals are not sent.
    pub fn open(location: StoreLocation) -> anyhow::Result<LocalApp> {
        LocalApp::build(location, None)
    }

    /// The same, connected to `github`: closures are verified against GitHub, dismissals are
    /// sent, and repositories can be synced.
    pub fn connected(location: StoreLocation, github: Arc<dyn GitHub>) -> anyhow::Result<LocalApp> {
        LocalApp::build(location, Some(github))
    }

    fn build(location: StoreLocation, github: Option<Arc<dyn GitHub>>) -> anyhow::Result<LocalApp> {
        let store = open_store(&location)?;
        let (secret, default_secret) = webhook_secret(SECRET_ENV, DEFAULT_SECRET)?;
        let (jira_secret, default_jira_secret) =
            webhook_secret(JIRA_SECRET_ENV, DEFAULT_JIRA_SECRET)?;
        let tracker = tracker_from_env().context(
            "setting up the tracker (SCANTIX_TRACKER and the JIRA_* variables, see --help)",
        )?;
        let mut executor = Executor::new(store.clone(), tracker, Config::default());
        match github {
            Some(github) => executor = executor.with_github(github),
            // Pull request summaries from what deliveries told the embedded store (see `deliver`).
            None => {
                executor = executor.with_settings(ExecutorSettings {
                    pull_requests_from_store: true,
                    ..ExecutorSettings::default()
                })
            }
        }
        let executor = Arc::new(executor);
        Ok(LocalApp {
            ingest: GithubIngest::new(secret.clone(), executor.clone()),
            jira: JiraIngest::new(
                JiraAuthenticity::Signature(jira_secret.clone()),
                executor.clone(),
            ),
            secret,
            default_secret,
            jira_secret,
            default_jira_secret,
            executor,
            location,
        })
    }

    /// The executor both ingests apply events through.
    pub fn executor(&self) -> &Arc<Executor> {
        &self.executor
    }

    /// The name of the tracker tickets go to (`draft`, `jira`).
    pub fn tracker(&self) -> &str {
        self.executor.tracker().name()
    }

    /// Where the store lives.
    pub fn location(&self) -> &StoreLocation {
        &self.location
    }
}

/// Deletes the store (its database and the files SQLite keeps beside it); says what it did on
/// stderr.
pub fn reset(location: &StoreLocation) -> anyhow::Result<()> {
    let StoreLocation::Dir(dir) = location else {
        eprintln!("nothing to reset: the store is in memory");
        return Ok(());
    };
    let database = dir.join(scantix::store::sqlite::DATABASE_FILE);
    let mut removed = false;
    for suffix in ["", "-wal", "-shm"] {
        let mut name = database.clone().into_os_string();
        name.push(suffix);
        removed |= remove_if_present(Path::new(&name))?;
    }
    if removed {
        eprintln!("deleted the store in {}", dir.display());
    } else {
        eprintln!("no store in {}: nothing to delete", dir.display());
    }
    Ok(())
}

fn remove_if_present(path: &Path) -> anyhow::Result<bool> {
    match std::fs::remove_file(path) {
        Ok(()) => Ok(true),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(false),
        Err(e) => Err(e).with_context(|| format!("deleting {}", path.display())),
    }
}
