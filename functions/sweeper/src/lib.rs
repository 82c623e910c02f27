//! Lambda function, run on a schedule: one sweep (see `scantix_app::sweep`). The handler is a plain
//! function; `main.rs` only wires it to the runtime.

use anyhow::Context;
use lambda_runtime::{Error, LambdaEvent};
use scantix_app::execute::Executor;
use scantix_app::repo_settings::SettingsCache;
use scantix_app::sweep::{SweepReport, Sweeper};
use scantix_app::sync::Syncer;
use scantix_core::config::Config;
use serde_json::Value;
use std::sync::Arc;

/// Runs one sweep; the scheduled event's payload is not used.
pub async fn handle(sweeper: &Sweeper, _event: LambdaEvent<Value>) -> Result<SweepReport, Error> {
    let report = sweeper.sweep(chrono_now()).await?;
    tracing::info!(
        installations = report.installations,
        repositories = report.repositories,
        applied = report.sync.applied,
        list_calls = report.sync.list_calls,
        drained = report.groups_drained,
        overdue = report.overdue_flagged,
        failures = report.failures.len(),
        outcome = if report.failures.is_empty() {
            "swept"
        } else {
            "swept_with_failures"
        },
        "sweep done"
    );
    for failure in &report.failures {
        tracing::warn!(failure = %failure, "sweep failure; retried next sweep");
    }
    Ok(report)
}

fn chrono_now() -> scantix_core::chrono::DateTime<scantix_core::chrono::Utc> {
    scantix_core::chrono::Utc::now()
}

/// Builds the sweeper from the function's environment (see `scantix_wiring`); the GitHub App
/// (`GITHUB_APP_ID`, `GITHUB_APP_PRIVATE_KEY`) is required here: sweeping is reading GitHub.
pub async fn sweeper_from_env() -> anyhow::Result<Sweeper> {
    scantix_wiring::load_secrets()
        .await
        .context("loading secrets from Secrets Manager")?;
    let store = scantix_wiring::store_from_env()
        .await
        .context("building the store")?;
    let tracker = scantix_wiring::tracker_from_env().context("building the tracker")?;
    let clients = scantix_wiring::github_clients_from_env()
        .context("building the GitHub App clients")?
        .context("GITHUB_APP_ID is required by the sweeper")?;
    let settings =
        scantix_wiring::executor_settings_from_env().context("reading the executor settings")?;
    let executor = Arc::new(
        Executor::new(store, tracker, Config::default())
            .with_settings(settings)
            .with_github_clients(clients.clone()),
    );
    let syncer = Syncer::new(
        executor.clone(),
        Arc::new(scantix_core::decide::triage::builtin),
    );
    let kev = scantix_wiring::kev_from_env().context("reading the KEV catalogue")?;
    let settings = SettingsCache::new(std::time::Duration::from_secs(300))
        .with_allowed_projects(
            scantix_wiring::allowed_projects_from_env()
                .context("reading SCANTIX_ALLOWED_PROJECTS")?,
        )
        .with_kev(kev);
    Ok(Sweeper::new(executor, syncer, clients).with_settings(settings))
}
