//! Lambda function: the OCSF publisher. Invoked by the table's stream with batches of new audit
//! items (the mapping's filter passes only those), it publishes each change of a finding or
//! ticket they hold as OCSF events to the configured sink (`scantix_evidence::publish`), and
//! names the first record not wholly delivered so Lambda retries from there. The handler is a
//! plain function; `main.rs` only wires it to the runtime, with what [`Publisher::from_env`] builds.
//!
//! At least once: a retried record publishes its events again, with the same `metadata.uid`s (a
//! digest of each audit entry) and `finding_info.uid`s (the finding's fingerprint), so the
//! consumer drops the repeats.

use anyhow::Context;
use lambda_runtime::{Error, LambdaEvent};
use scantix_core::ports::sink::Sink;
use scantix_core::ports::store::Store;
use scantix_dynamodb::stream::{BatchResponse, ItemFailure, StreamBatch, audit_entries_of};
use scantix_evidence::publish::{Change, publish};
use serde_json::Value;
use std::sync::Arc;

/// What the function works with: the table (the records a change names) and the sink.
pub struct Publisher {
    pub store: Arc<dyn Store>,
    pub sink: Arc<dyn Sink>,
}

impl Publisher {
    /// From the function's environment: the table (`SCANTIX_TABLE`), read only (the function's
    /// role may not write it, so a group still in the old format is read without its upgrade),
    /// and the sink (`SCANTIX_SIEM_SINK`, `SCANTIX_SIEM_TARGET`; `scantix_wiring::siem`), which
    /// it requires.
    pub async fn from_env() -> anyhow::Result<Publisher> {
        let store = scantix_wiring::read_only_store_from_env()
            .await
            .context("building the store")?;
        let sink = scantix_wiring::siem::sink_from_env()
            .await
            .context("building the SIEM sink")?
            .context("SCANTIX_SIEM_SINK is required by the OCSF publisher")?;
        Ok(Publisher { store, sink })
    }
}

/// The changes a stream batch carries, in its order: one per audit item inserted. Records that
/// are not audit items are skipped (the mapping's filter lets none through); an audit image that
/// does not read is logged and skipped, since no retry makes it readable and blocking the shard
/// on it would stop every change behind it.
pub fn changes_of(batch: &StreamBatch) -> Vec<Change> {
    let mut changes = Vec::new();
    for record in &batch.records {
        let id = &record.dynamodb.sequence_number;
        match audit_entries_of(record) {
            Some(Ok(entries)) => changes.push(Change {
                id: id.clone(),
                entries,
            }),
            Some(Err(e)) => {
                tracing::error!(error = %e, sequence = %id, outcome = "skipped", "unreadable audit item on the stream");
            }
            None => {}
        }
    }
    changes
}

/// Publishes one stream batch. A payload that is not a stream batch is the invoker's mistake: an
/// error, never a panic.
pub async fn handle(
    publisher: &Publisher,
    event: LambdaEvent<Value>,
) -> Result<BatchResponse, Error> {
    let batch: StreamBatch = serde_json::from_value(event.payload)
        .context("the event is not a DynamoDB stream batch")?;
    Ok(publish_batch(publisher, &batch).await)
}

/// The handler's work on a parsed batch.
pub async fn publish_batch(publisher: &Publisher, batch: &StreamBatch) -> BatchResponse {
    let changes = changes_of(batch);
    let published = publish(publisher.store.as_ref(), publisher.sink.as_ref(), &changes).await;
    for (change, reason) in &published.dropped {
        tracing::error!(sequence = %change, reason = %reason, sink = publisher.sink.name(), outcome = "dropped", "the sink refused an event for good");
    }
    tracing::info!(
        records = batch.records.len(),
        changes = changes.len(),
        events = published.events,
        dropped = published.dropped.len(),
        sink = publisher.sink.name(),
        error = published.error.as_deref().unwrap_or(""),
        batch = if published.retry_from.is_none() {
            "published"
        } else {
            "retry_from_failure"
        },
        "batch done"
    );
    BatchResponse {
        batch_item_failures: published
            .retry_from
            .into_iter()
            .map(|item_identifier| ItemFailure { item_identifier })
            .collect(),
    }
}
