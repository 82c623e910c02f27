//! The local app: the embedded store (an SQLite database in a directory, or a throwaway in-memory
//! one), the tracker the environment names (drafts kept with their groups unless
//! `SCANTIX_TRACKER` names a tracker), the executor and the GitHub, Jira and Linear ingests in front of
//! them, judging alerts by the settings of `--config` (or the defaults: the bundled Rego policy)
//! as a deployment judges a repository's: the product as the Lambda functions run it, minus the
//! cloud.
//!
//! The database takes one transaction per event, so several processes (a `serve` and a `tickets`
//! beside it) can use one store at once.

use anyhow::Context;
use clap::Args;
use scantix_app::execute::{Executor, ExecutorSettings};
use scantix_app::ingest::jira::JiraAuthenticity;
use scantix_app::ingest::{GithubIngest, JiraIngest, LinearIngest, ServiceNowIngest};
use scantix_app::repo_settings::RepoSettings;
use scantix_app::sweep::{Drain, DrainReport, drain_queued};
use scantix_core::memory::store::MemoryStore;
use scantix_core::ports::github::GitHub;
use scantix_core::ports::store::Store;
use scantix_core::secret::Secret;
use scantix_core::ticket::servicenow::ServiceNowStates;
use scantix_wiring::local::{SQLITE_DATABASE_FILE, sqlite_store, table_store};
use scantix_wiring::tracker_from_env;
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

/// Environment variable holding the signing secret Linear deliveries are checked with (the
/// webhook's, from Linear's settings).
pub const LINEAR_SECRET_ENV: &str = "SCANTIX_LINEAR_WEBHOOK_SECRET";

/// The secret used when `SCANTIX_LINEAR_WEBHOOK_SECRET` is unset; one machine only, as above.
pub const DEFAULT_LINEAR_SECRET: &str = "scantix-local-linear-secret";
/// The secret ServiceNow business-rule deliveries are checked (and `deliver --source servicenow`
/// signs) with.
pub const SERVICENOW_SECRET_ENV: &str = "SCANTIX_SERVICENOW_WEBHOOK_SECRET";

/// The secret used when `SCANTIX_SERVICENOW_WEBHOOK_SECRET` is unset; one machine only, as above.
pub const DEFAULT_SERVICENOW_SECRET: &str = "scantix-local-servicenow-secret";

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

    /// Use a deployment's DynamoDB table instead of the local store (the stack's `TableName`
    /// output), with the AWS SDK's credentials and region from the environment: every command
    /// then reads and writes what the deployment's functions do.
    #[arg(long, global = true, env = "SCANTIX_TABLE", value_name = "NAME")]
    table: Option<String>,

    /// With --table: the DynamoDB endpoint to use instead of AWS's, e.g. Amazon DynamoDB Local
    /// (`http://localhost:8000`; no AWS credentials needed, the table is created if missing).
    #[arg(
        long,
        global = true,
        env = "SCANTIX_DYNAMODB_ENDPOINT",
        value_name = "URL",
        requires = "table"
    )]
    dynamodb_endpoint: Option<String>,
}

impl StoreArgs {
    /// The store these arguments name.
    pub fn location(&self) -> StoreLocation {
        if self.memory {
            return StoreLocation::Memory;
        }
        if let Some(table) = &self.table {
            return StoreLocation::Table {
                table: table.clone(),
                endpoint: self.dynamodb_endpoint.clone(),
            };
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
    /// A DynamoDB table: a deployment's, or one on DynamoDB Local at `endpoint`.
    Table {
        table: String,
        endpoint: Option<String>,
    },
}

impl std::fmt::Display for StoreLocation {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            StoreLocation::Dir(path) => write!(f, "{}", path.display()),
            StoreLocation::Memory => f.write_str("in memory (--memory)"),
            StoreLocation::Table {
                table,
                endpoint: None,
            } => write!(f, "DynamoDB table {table}"),
            StoreLocation::Table {
                table,
                endpoint: Some(endpoint),
            } => write!(f, "DynamoDB table {table} at {endpoint}"),
        }
    }
}

/// Opens the store at `location` (created empty on first use, except a deployment's table).
pub async fn open_store(location: &StoreLocation) -> anyhow::Result<Arc<dyn Store>> {
    Ok(match location {
        StoreLocation::Dir(dir) => {
            sqlite_store(dir).with_context(|| format!("opening the store in {}", dir.display()))?
        }
        StoreLocation::Memory => Arc::new(MemoryStore::new()),
        StoreLocation::Table { table, endpoint } => {
            table_store(table, endpoint.as_deref())
                .await
                .with_context(|| format!("opening {location}"))?
        }
    })
}

/// The DynamoDB table `location` names (a `Table`): its name and DynamoDB Local's endpoint, if any.
pub fn table_of(location: &StoreLocation) -> anyhow::Result<(&str, Option<&str>)> {
    let StoreLocation::Table { table, endpoint } = location else {
        anyhow::bail!(
            "this command works on a DynamoDB table: name it with --table (the stack's \
             TableName output), not a local store ({location})"
        );
    };
    Ok((table, endpoint.as_deref()))
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
    /// Receives Linear deliveries exactly as the Linear webhook function does.
    pub linear: LinearIngest,
    /// The secret `linear` checks signatures with.
    pub linear_secret: Secret,
    /// Whether the Linear secret is [`DEFAULT_LINEAR_SECRET`].
    pub default_linear_secret: bool,
    /// Receives what scantix's ServiceNow business rule posts, as the servicenow-webhook function
    /// does (states from `SERVICENOW_SETTINGS`).
    pub servicenow: ServiceNowIngest,
    /// The secret `servicenow` checks signatures with.
    pub servicenow_secret: Secret,
    /// Whether `servicenow_secret` is [`DEFAULT_SERVICENOW_SECRET`].
    pub default_servicenow_secret: bool,
    /// How ServiceNow's state values map to ticket states (`SERVICENOW_SETTINGS`).
    pub servicenow_states: ServiceNowStates,
    store: Arc<dyn Store>,
    executor: Arc<Executor>,
    /// What alerts are judged by: `--config`'s settings (or the defaults), routed within the
    /// tracker.
    settings: Arc<RepoSettings>,
    location: StoreLocation,
}

impl LocalApp {
    /// Loads the store and builds the tracker, executor and ingests over it, with no GitHub
    /// connection: closures are verified against the alert states the store last heard of, and
    /// dismissals are not sent.
    pub async fn open(location: StoreLocation, settings: RepoSettings) -> anyhow::Result<LocalApp> {
        LocalApp::build(location, settings, None).await
    }

    /// The same, connected to `github`: closures are verified against GitHub, dismissals are
    /// sent, and repositories can be synced.
    pub async fn connected(
        location: StoreLocation,
        settings: RepoSettings,
        github: Arc<dyn GitHub>,
    ) -> anyhow::Result<LocalApp> {
        LocalApp::build(location, settings, Some(github)).await
    }

    async fn build(
        location: StoreLocation,
        settings: RepoSettings,
        github: Option<Arc<dyn GitHub>>,
    ) -> anyhow::Result<LocalApp> {
        let store = open_store(&location).await?;
        let (secret, default_secret) = webhook_secret(SECRET_ENV, DEFAULT_SECRET)?;
        let (jira_secret, default_jira_secret) =
            webhook_secret(JIRA_SECRET_ENV, DEFAULT_JIRA_SECRET)?;
        let (linear_secret, default_linear_secret) =
            webhook_secret(LINEAR_SECRET_ENV, DEFAULT_LINEAR_SECRET)?;
        let (servicenow_secret, default_servicenow_secret) =
            webhook_secret(SERVICENOW_SECRET_ENV, DEFAULT_SERVICENOW_SECRET)?;
        let servicenow_states = scantix_wiring::servicenow_states_from_env()
            .context("reading the ServiceNow states (SERVICENOW_SETTINGS)")?;
        let tracker = tracker_from_env().context(
            "setting up the tracker (SCANTIX_TRACKER and the JIRA_* or LINEAR_* variables, see --help)",
        )?;
        // A `tracker` section naming another tracker than the one the environment set up is set
        // aside, as a deployment sets it aside (the credentials are the environment's); said on
        // stderr, since there is no repository to open an issue in.
        let mut settings = settings.routed_to(Some(&tracker.site()));
        settings.check_routes(&tracker.kinds());
        for problem in &settings.problems {
            eprintln!("scantix: --config: {problem}; the rest of the file applies");
        }
        let settings = Arc::new(settings);
        // The settings' engine config also decides tracker events (closures, deletions), as the
        // deployment's config does there.
        let mut executor = Executor::new(store.clone(), tracker, settings.engine.clone())
            .with_settings(ExecutorSettings {
                // Pull request summaries from what deliveries told the embedded store (see
                // `deliver`), without a GitHub connection.
                pull_requests_from_store: github.is_none(),
                // A command stopped mid-call (Ctrl-C, a closed terminal) leaves the groups it
                // was on leased: the next run waits that out (`bulk`), so a third of the
                // deployment's minute. Still renewed before every call (see the outbox).
                lease: chrono::Duration::seconds(20),
                ..ExecutorSettings::default()
            });
        if let Some(github) = github {
            executor = executor.with_github(github);
        }
        let executor = Arc::new(executor);
        Ok(LocalApp {
            ingest: GithubIngest::new(secret.clone(), executor.clone())
                .with_fixed_settings(settings.clone()),
            jira: JiraIngest::new(
                JiraAuthenticity::Signature(jira_secret.clone()),
                executor.clone(),
            ),
            linear: LinearIngest::new(linear_secret.clone(), executor.clone()),
            linear_secret,
            default_linear_secret,
            servicenow: ServiceNowIngest::new(
                servicenow_secret.clone(),
                servicenow_states.clone(),
                executor.clone(),
            ),
            servicenow_states,
            store,
            secret,
            default_secret,
            jira_secret,
            default_jira_secret,
            servicenow_secret,
            default_servicenow_secret,
            executor,
            settings,
            location,
        })
    }

    /// The store every command reads and writes.
    pub fn store(&self) -> &Arc<dyn Store> {
        &self.store
    }

    /// The executor both ingests apply events through.
    pub fn executor(&self) -> &Arc<Executor> {
        &self.executor
    }

    /// What alerts are judged by (`--config`, or the defaults), routed within the tracker.
    pub fn settings(&self) -> &Arc<RepoSettings> {
        &self.settings
    }

    /// The name of the tracker tickets go to (`draft`, `jira`).
    pub fn tracker(&self) -> &str {
        self.executor.tracker().name()
    }

    /// Where the store lives.
    pub fn location(&self) -> &StoreLocation {
        &self.location
    }

    /// Makes the tracker calls that earlier runs left queued in the store (the tracker was
    /// unreachable, the command was stopped), as a deployment's sweeper does: without this, they
    /// would wait for the next event on the same group, which may never come. Stops at the first
    /// group the tracker cannot take for now (the others would wait out the same retries); says on
    /// stderr what it did and what is left, for the next run.
    pub async fn finish_queued_work(&self) -> anyhow::Result<DrainReport> {
        let report = drain_queued(&self.executor, self.executor.now(), Drain::UntilUnavailable)
            .await
            .context("reading the store for queued tracker work")?;
        if report.drained > 0 {
            eprintln!(
                "scantix: made the {} tracker calls queued by an earlier run ({} group(s))",
                self.tracker(),
                report.drained
            );
        }
        if report.still_queued > 0 {
            let why = report
                .failures
                .first()
                .map_or_else(String::new, |failure| format!(" ({failure})"));
            eprintln!(
                "scantix: {} group(s) still owe {} tracker calls{why}; they stay queued in the \
                 store and the next run makes them",
                report.still_queued,
                self.tracker()
            );
        }
        Ok(report)
    }
}

/// Deletes the store (its database and the files SQLite keeps beside it); says what it did on
/// stderr.
pub fn reset(location: &StoreLocation) -> anyhow::Result<()> {
    let dir = match location {
        StoreLocation::Dir(dir) => dir,
        StoreLocation::Memory => {
            eprintln!("nothing to reset: the store is in memory");
            return Ok(());
        }
        StoreLocation::Table { .. } => anyhow::bail!(
            "reset deletes a local store only; a deployment's table ({location}) is deleted with \
             its stack"
        ),
    };
    let database = dir.join(SQLITE_DATABASE_FILE);
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
