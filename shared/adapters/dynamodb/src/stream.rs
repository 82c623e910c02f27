//! The table's stream, as the worker function receives it: a batch of DynamoDB stream records
//! (Lambda's event for a stream source), the inbox items in their `NewImage`s, and the answer
//! Lambda reads with `ReportBatchItemFailures`. What applying an item means is the caller's (the
//! worker, `scantix_app::worker::Worker::apply`); which records hold inbox items, and how an image
//! reads, is this adapter's.
//!
//! Failure reporting follows Lambda's contract for stream sources with `ReportBatchItemFailures`:
//! the response names the first record that failed; Lambda checkpoints everything before it and
//! retries from it (the records after it included, so the batch stops at the first failure rather
//! than applying records that will come again anyway). After the mapping's retries run out, Lambda
//! sends the batch's coordinates to the dead-letter queue; the items stay pending in the table for
//! `replay`.

use crate::inbox::inbox_item_from_stream_image;
use scantix_core::inbox::{Applied, InboxItem};
use serde::{Deserialize, Serialize};
use serde_json::Value;
use std::future::Future;

/// A batch from a DynamoDB stream event source mapping, as Lambda delivers it (only the fields
/// the worker reads).
#[derive(Debug, Deserialize)]
pub struct StreamBatch {
    #[serde(rename = "Records", default)]
    pub records: Vec<StreamRecord>,
}

#[derive(Debug, Deserialize)]
pub struct StreamRecord {
    /// `INSERT`, `MODIFY` or `REMOVE`.
    #[serde(rename = "eventName", default)]
    pub event_name: String,
    pub dynamodb: StreamChange,
}

#[derive(Debug, Deserialize)]
pub struct StreamChange {
    #[serde(rename = "SequenceNumber")]
    pub sequence_number: String,
    #[serde(rename = "NewImage", default)]
    pub new_image: Option<Value>,
}

/// The answer Lambda reads with `ReportBatchItemFailures`: an empty list means all done.
#[derive(Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct BatchResponse {
    #[serde(rename = "batchItemFailures")]
    pub batch_item_failures: Vec<ItemFailure>,
}

#[derive(Debug, PartialEq, Serialize, Deserialize)]
pub struct ItemFailure {
    /// The failed record's sequence number.
    #[serde(rename = "itemIdentifier")]
    pub item_identifier: String,
}

/// Applies a stream batch's inbox items in order with `apply` (the worker's), stopping at the first
/// failure (see the module docs).
pub async fn apply_batch<F, Fut>(batch: &StreamBatch, mut apply: F) -> BatchResponse
where
    F: FnMut(InboxItem) -> Fut,
    Fut: Future<Output = Applied>,
{
    for record in &batch.records {
        if record.event_name != "INSERT" {
            continue;
        }
        let Some(image) = &record.dynamodb.new_image else {
            continue;
        };
        // Only inbox items reach the worker (the mapping's filter); anything else is skipped.
        if !image["pk"]["S"]
            .as_str()
            .is_some_and(|pk| pk.starts_with("IN#"))
        {
            continue;
        }
        let item = match inbox_item_from_stream_image(image) {
            Ok(item) => item,
            Err(e) => {
                // No retry can make an unreadable image readable; blocking the shard on it
                // would stop every delivery behind it. The item itself stays pending in the
                // table, where replay reads it.
                tracing::error!(error = %e, sequence = %record.dynamodb.sequence_number, outcome = "skipped", "unreadable stream record");
                continue;
            }
        };
        if let Applied::Failed { .. } = apply(item).await {
            return BatchResponse {
                batch_item_failures: vec![ItemFailure {
                    item_identifier: record.dynamodb.sequence_number.clone(),
                }],
            };
        }
    }
    BatchResponse::default()
}
