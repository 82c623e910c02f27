//! The worker of a deployment, assembled from its environment: the same for the worker function
//! (invoked by the table's stream) and for `scantix replay` (the deliveries still pending).

use crate::{
    WiringError, allowed_projects_from_env, config_from_env, deployment_has_tracker,
    executor_settings_from_env, github_clients_from_env, kev_from_env, load_secrets,
    servicenow_states_from_env, store_for_table, tracker_from_env, var,
};
use scantix_app::execute::Executor;
use scantix_app::ingest::{GithubIngest, JiraIngest, LinearIngest, ServiceNowIngest};
use scantix_app::repo_settings::{SettingsCache, SettingsSource};
use scantix_app::uploads::ApplyAnalyses;
use scantix_app::worker::{ReadItem, Worker};
use scantix_core::ports::store::Store;
use std::sync::Arc;

/// The table's stream as the worker function receives it, and the answer Lambda reads.
pub use scantix_dynamodb::stream::{BatchResponse, ItemFailure, StreamBatch};

/// Builds the worker from the function's environment: the table (`SCANTIX_TABLE`), the tracker,
/// and the GitHub App when configured (then each repository's own settings apply).
pub async fn worker_from_env() -> Result<Worker, WiringError> {
    worker_for_table(var("SCANTIX_TABLE")?).await
}

/// The same over `table` in the environment's AWS account.
pub async fn worker_for_table(table: String) -> Result<Worker, WiringError> {
    worker_over(store_for_table(table).await).await
}

/// The same over `store` (`scantix replay` passes the table its `--table` and
/// `--dynamodb-endpoint` name).
pub async fn worker_over(store: Arc<dyn Store>) -> Result<Worker, WiringError> {
    load_secrets().await?;
    let tracker = tracker_from_env()?;
    let clients = github_clients_from_env()?;
    let mut executor = Executor::new(store.clone(), tracker, config_from_env())
        .with_settings(executor_settings_from_env()?);
    if let Some(clients) = &clients {
        executor = executor.with_github_clients(clients.clone());
    }
    let executor = Arc::new(executor);
    let mut github = GithubIngest::for_worker(executor.clone());
    let mut jira = JiraIngest::for_worker(executor.clone());
    let mut linear = LinearIngest::for_worker(executor.clone());
    // ServiceNow deliveries are applied where ServiceNow is one of the deployment's trackers,
    // the main one or a route's: its groups are found by (tracker, ticket) either way.
    let mut servicenow = match deployment_has_tracker("servicenow") {
        true => Some(ServiceNowIngest::for_worker(
            servicenow_states_from_env()?,
            executor,
        )),
        false => None,
    };
    if let Some(clients) = clients {
        // Read through GitHub, cached five minutes per warm instance; the same settings decide a
        // repository's alerts and the tracker events on its tickets.
        let cache = SettingsCache::new(std::time::Duration::from_secs(300))
            .with_allowed_projects(allowed_projects_from_env()?)
            .with_kev(kev_from_env().await?);
        github = github.with_settings(SettingsSource { clients, cache });
        if let Some(source) = github.settings() {
            jira = jira.with_settings(source.clone());
            linear = linear.with_settings(source.clone());
            servicenow = servicenow.map(|s| s.with_settings(source.clone()));
        }
    }
    // SARIF uploads: applied as analyses under each repository's settings, as its alerts are.
    let uploads = ApplyAnalyses::new(github.executor().clone(), github.settings().cloned());
    let worker = Worker::new(store, github, Some(jira))
        .with_linear(linear)
        .with_uploads(Arc::new(uploads));
    Ok(match servicenow {
        Some(servicenow) => worker.with_servicenow(servicenow),
        None => worker,
    })
}

/// Applies one stream batch with `worker`, an alert's (or pull request's, …) records in order,
/// different ones side by side (see `scantix_dynamodb::stream`).
pub async fn apply_batch(worker: &Worker, batch: &StreamBatch) -> BatchResponse {
    scantix_dynamodb::stream::apply_batch(
        batch,
        ReadItem::read,
        ReadItem::subject,
        |read| async move { worker.apply_read(read).await },
    )
    .await
}
