//! Lambda function: the worker. Invoked by the table's stream with batches of new inbox items, it
//! applies each (decide, commit, tracker and GitHub calls; see `scantix_app::worker`) and reports the
//! first failure so Lambda retries from there. The handler is a plain function; `main.rs` only
//! wires it to the runtime.

use anyhow::Context;
use lambda_runtime::{Error, LambdaEvent};
use scantix_app::execute::Executor;
use scantix_app::ingest::{GithubIngest, JiraIngest};
use scantix_app::repo_settings::{SettingsCache, SettingsSource};
use scantix_wiring;
use scantix_app::worker::{BatchResponse, StreamBatch, Worker};
use serde_json::Value;
use std::sync::Arc;

/// Applies one stream batch. A batch that is not a stream event at all is the invoker's mistake:
/// an error (Lambda retries it and then gives up on it), never a panic.
pub async fn handle(worker: &Worker, event: LambdaEvent<Value>) -> Result<BatchResponse, Error> {
    let batch: StreamBatch = serde_json::from_value(event.payload)
        .context("the event is not a DynamoDB stream batch")?;
    let response = worker.apply_batch(&batch).await;
    tracing::info!(
        records = batch.records.len(),
        failed = response.batch_item_failures.len(),
        // Not `outcome`: that field is per delivery, on the lines inside each delivery's span.
        batch = if response.batch_item_failures.is_empty() {
            "applied"
        } else {
            "retry_from_failure"
        },
        "batch done"
    );
    Ok(response)
}

/// Builds the worker from the function's environment (see `scantix_wiring`): the table
/// (`SCANTIX_TABLE`), the tracker, and the GitHub App when configured (then each repository's own
/// settings apply).
pub async fn worker_from_env() -> anyhow::Result<Worker> {
    let table = std::env::var("SCANTIX_TABLE").context("reading SCANTIX_TABLE")?;
    worker_for_table(table).await
}

/// The same over `table` (`scantix replay --table` names it).
pub async fn worker_for_table(table: String) -> anyhow::Result<Worker> {
    wiring::load_secrets()
        .await
        .context("loading secrets from Secrets Manager")?;
    let store = wiring::store_for_table(table).await;
    let tracker = wiring::tracker_from_env().context("building the tracker")?;
    let clients = wiring::github_clients_from_env().context("building the GitHub App clients")?;
    let mut executor = Executor::new(store.clone(), tracker, wiring::config_from_env());
    if let Some(clients) = &clients {
        executor = executor.with_github_clients(clients.clone());
    }
    let executor = Arc::new(executor);
    let mut github = GithubIngest::for_worker(executor.clone());
    let mut jira = JiraIngest::for_worker(executor);
    if let Some(clients) = clients {
        // Read through GitHub, cached five minutes per warm instance; the same settings decide a
        // repository's alerts and the tracker events on its tickets.
        let cache = SettingsCache::new(std::time::Duration::from_secs(300));
        github = github.with_settings(SettingsSource { clients, cache });
        if let Some(source) = github.settings() {
            jira = jira.with_settings(source.clone());
        }
    }
    Ok(Worker::new(store, github, Some(jira)))
}
