//! Lambda function, run on a schedule: one sweep (see `scantix_app::sweep`), and, on its daily
//! schedule (payload `{"task": "report"}`), the metrics report written to the report bucket when
//! one is configured (`scantix_evidence::daily`). The handlers are plain functions; `main.rs` only
//! wires them to the runtime.

use anyhow::Context;
use lambda_runtime::{Error, LambdaEvent};
use scantix_app::execute::{Executor, UnknownInstallations};
use scantix_app::repo_settings::SettingsCache;
use scantix_app::sweep::{SweepReport, Sweeper};
use scantix_app::sync::Syncer;
use scantix_core::config::Config;
use scantix_core::ports::sink::Archive;
use scantix_core::ports::store::Store;
use serde::Serialize;
use serde_json::Value;
use std::sync::Arc;

/// What the function works with: the sweeper, and where the daily report goes (if anywhere).
pub struct Sweep {
    pub sweeper: Sweeper,
    pub report: Option<DailyReport>,
}

/// The store the report is computed from and the archive it is written to.
pub struct DailyReport {
    pub store: Arc<dyn Store>,
    pub archive: Arc<dyn Archive>,
}

/// What one invocation did.
#[derive(Debug, Serialize)]
#[serde(untagged)]
pub enum Done {
    Swept(SweepReport),
    /// The keys of the report's files (none when no bucket is configured).
    Reported {
        report: Vec<String>,
    },
}

/// One invocation: the daily report when the schedule's payload says `{"task": "report"}`, a sweep
/// otherwise (the sweep schedule's payload is not read).
pub async fn handle_event(sweep: &Sweep, event: LambdaEvent<Value>) -> Result<Done, Error> {
    if event.payload["task"].as_str() != Some("report") {
        return Ok(Done::Swept(handle(&sweep.sweeper, event).await?));
    }
    let Some(daily) = &sweep.report else {
        tracing::info!(outcome = "no_report_bucket", "no report bucket configured");
        return Ok(Done::Reported { report: Vec::new() });
    };
    let keys = scantix_evidence::daily::archive_report(
        daily.store.as_ref(),
        daily.archive.as_ref(),
        chrono_now(),
    )
    .await
    .context("writing the daily report")?;
    tracing::info!(
        files = keys.len(),
        outcome = "reported",
        "daily report written"
    );
    Ok(Done::Reported { report: keys })
}

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
        digest_messages = report.digest_messages,
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

/// Builds the function's state from its environment: the sweeper ([`sweeper_from_env`]) and, when
/// `SCANTIX_REPORT_BUCKET` is set, the daily report's bucket.
pub async fn sweep_from_env() -> anyhow::Result<Sweep> {
    let sweeper = sweeper_from_env().await?;
    let report = match scantix_wiring::siem::report_archive_from_env().await {
        Some(archive) => Some(DailyReport {
            store: scantix_wiring::store_from_env()
                .await
                .context("building the store")?,
            archive,
        }),
        None => None,
    };
    Ok(Sweep { sweeper, report })
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
    // A deployment that ignores installations it has no record of learns them from GitHub, so an
    // `installation` event that never arrived does not leave an organisation ignored for good.
    let learn_installations = settings.unknown_installations == UnknownInstallations::Ignore;
    let executor = Arc::new(
        Executor::new(store, tracker, Config::default())
            .with_settings(settings)
            .with_github_clients(clients.clone()),
    );
    let syncer = Syncer::new(
        executor.clone(),
        Arc::new(scantix_core::decide::triage::builtin),
    );
    let kev = scantix_wiring::kev_from_env()
        .await
        .context("reading the KEV catalogue")?;
    let settings = SettingsCache::new(std::time::Duration::from_secs(300))
        .with_allowed_projects(
            scantix_wiring::allowed_projects_from_env()
                .context("reading SCANTIX_ALLOWED_PROJECTS")?,
        )
        .with_kev(kev);
    let sweeper = Sweeper::new(executor, syncer, clients).with_settings(settings);
    let sweeper = if learn_installations {
        sweeper.learning_installations()
    } else {
        sweeper
    };
    Ok(
        match scantix_wiring::digest_from_env().context("building the email digest")? {
            Some(digest) => sweeper.with_digest(digest),
            None => sweeper,
        },
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use scantix_core::memory::draft_tracker::DraftTracker;
    use scantix_core::memory::github::MemoryGitHub;
    use scantix_core::memory::sink::MemorySink;
    use scantix_core::memory::store::MemoryStore;
    use scantix_core::ports::github_clients::OneClient;
    use serde_json::json;

    fn sweep(report: Option<Arc<MemorySink>>) -> Sweep {
        let store = Arc::new(MemoryStore::new());
        let executor = Arc::new(Executor::new(
            store.clone(),
            Arc::new(DraftTracker::new()),
            Config::default(),
        ));
        let syncer = Syncer::new(
            executor.clone(),
            Arc::new(scantix_core::decide::triage::builtin),
        );
        let clients = Arc::new(OneClient(Arc::new(MemoryGitHub::new())));
        Sweep {
            sweeper: Sweeper::new(executor, syncer, clients),
            report: report.map(|archive| DailyReport {
                store: store.clone(),
                archive,
            }),
        }
    }

    fn event(payload: serde_json::Value) -> LambdaEvent<Value> {
        LambdaEvent::new(payload, lambda_runtime::Context::default())
    }

    #[tokio::test]
    async fn the_report_task_writes_the_report_and_a_scheduled_event_sweeps() {
        let archive = Arc::new(MemorySink::new());
        let function = sweep(Some(archive.clone()));
        let done = handle_event(&function, event(json!({ "task": "report" })))
            .await
            .unwrap();
        let Done::Reported { report } = done else {
            panic!("the report task reports: {done:?}");
        };
        assert_eq!(report.len(), 4);
        assert_eq!(archive.files().len(), 4);

        // EventBridge's scheduled event (no Input): a sweep, and no report written.
        let scheduled =
            json!({ "detail-type": "Scheduled Event", "source": "aws.events", "detail": {} });
        let done = handle_event(&function, event(scheduled)).await.unwrap();
        assert!(matches!(done, Done::Swept(_)), "{done:?}");
        assert_eq!(archive.files().len(), 4);
    }

    #[tokio::test]
    async fn without_a_report_bucket_the_report_task_writes_nothing() {
        let done = handle_event(&sweep(None), event(json!({ "task": "report" })))
            .await
            .unwrap();
        assert!(matches!(done, Done::Reported { ref report } if report.is_empty()));
    }
}
