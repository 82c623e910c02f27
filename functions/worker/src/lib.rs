//! Lambda function: the worker. Invoked by the table's stream with batches of new inbox items, it
//! applies each (decide, commit, tracker and GitHub calls; see `scantix_app::worker`) and reports
//! the first failure so Lambda retries from there. The handler is a plain function; `main.rs` only
//! wires it to the runtime, with the worker `scantix_wiring::worker::worker_from_env` builds.

use anyhow::Context;
use lambda_runtime::{Error, LambdaEvent};
use scantix_app::worker::Worker;
use scantix_wiring::worker::{BatchResponse, StreamBatch, apply_batch};
use serde_json::Value;

/// Applies one stream batch. A batch that is not a stream event at all is the invoker's mistake:
/// an error (Lambda retries it and then gives up on it), never a panic.
pub async fn handle(worker: &Worker, event: LambdaEvent<Value>) -> Result<BatchResponse, Error> {
    let batch: StreamBatch = serde_json::from_value(event.payload)
        .context("the event is not a DynamoDB stream batch")?;
    let response = apply_batch(worker, &batch).await;
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
