//! The worker: applies inbox items (see `crate::inbox`) and records how each went.
//!
//! In AWS it is invoked by the table's stream with batches of new inbox items; `scantix replay`
//! calls the same `apply` for the items still pending. Applying an item twice is harmless: the
//! engine's own delivery records make the second a recognised duplicate.
//!
//! A batch is applied in lanes, concurrently: records about one subject (one alert, one pull
//! request, one installation, one Jira issue) keep their order in one lane, since a `fixed` after
//! a `created` must stay after it; records about different subjects are independent (two alerts
//! joining one group race on the group's version, and the loser re-reads, as two functions
//! would). A batch of ten costs about the time of its longest lane instead of the sum of all.
//!
//! Failure reporting follows Lambda's contract for stream sources with `ReportBatchItemFailures`:
//! the response names the first record (in batch order) that failed; Lambda checkpoints everything
//! before it and retries from it. A lane stops at its first failure (what follows in it would
//! come again anyway); other lanes' records after the failed one may be applied already, and come
//! back as recognised duplicates. After the mapping's retries run out, Lambda sends the batch's
//! coordinates to the dead-letter queue; the items stay pending in the table for `replay`.

use crate::inbox::{Applied, InboxItem, InboxSource, InboxStatus};
use crate::ingest::{Answer, GithubIngest, JiraIngest};
use crate::store::dynamodb::inbox_item_from_stream_image;
use crate::store::{Store, StoreError};
use serde::{Deserialize, Serialize};
use serde_json::Value;
use std::sync::Arc;
use tracing::Instrument;

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

/// What `replay` did.
#[derive(Debug, Default, Clone, PartialEq, Serialize)]
pub struct ReplayReport {
    pub pending: usize,
    pub applied: usize,
    pub failed: usize,
}

/// Applies inbox items with the same ingests the synchronous path uses.
pub struct Worker {
    store: Arc<dyn Store>,
    github: GithubIngest,
    /// `None` when the deployment has no Jira: Jira items then fail (and wait for replay).
    jira: Option<JiraIngest>,
}

impl Worker {
    pub fn new(store: Arc<dyn Store>, github: GithubIngest, jira: Option<JiraIngest>) -> Worker {
        Worker {
            store,
            github,
            jira,
        }
    }

    /// Applies one item and records the result on it. An item already done is left alone.
    pub async fn apply(&self, item: &InboxItem) -> Applied {
        let span = tracing::info_span!(
            "delivery",
            delivery = item.delivery(),
            event = %item.event,
            source = item.source.as_str(),
            attempt = item.attempts + 1
        );
        async {
            if item.status == InboxStatus::Done {
                tracing::info!(outcome = "already_done", "inbox item already applied");
                return Applied::Done {
                    outcome: "already_done".into(),
                };
            }
            let answer = match item.source {
                InboxSource::Github => {
                    self.github
                        .route(&item.event, item.delivery(), &item.body)
                        .await
                }
                InboxSource::Jira => match &self.jira {
                    Some(jira) => jira.route(&item.id, &item.body).await,
                    None => Answer::new(
                        500,
                        serde_json::json!({ "error": "no Jira is configured for this deployment" }),
                    ),
                },
            };
            let applied = applied_from(&answer);
            let now = chrono::Utc::now();
            if let Err(e) = self.store.settle_inbox(&item.id, &applied, now).await {
                // The work is applied (or failed) either way; an unsettled item is only applied
                // again by replay, as a recognised duplicate.
                tracing::warn!(error = %e, "inbox item not settled");
            }
            applied
        }
        .instrument(span)
        .await
    }

    /// Applies a stream batch in lanes (see the module docs) and names its first failure.
    pub async fn apply_batch(&self, batch: &StreamBatch) -> BatchResponse {
        let mut lanes: Vec<(String, Vec<(usize, InboxItem)>)> = Vec::new();
        for (position, record) in batch.records.iter().enumerate() {
            let Some(item) = inbox_item_of(record) else {
                continue;
            };
            let subject = subject_of(&item);
            match lanes.iter_mut().find(|(s, _)| *s == subject) {
                Some((_, lane)) => lane.push((position, item)),
                None => lanes.push((subject, vec![(position, item)])),
            }
        }
        let failures = futures_util::future::join_all(lanes.iter().map(|(_, lane)| async move {
            for (position, item) in lane {
                if let Applied::Failed { .. } = self.apply(item).await {
                    return Some(*position);
                }
            }
            None
        }))
        .await;
        match failures.into_iter().flatten().min() {
            Some(position) => BatchResponse {
                batch_item_failures: vec![ItemFailure {
                    item_identifier: batch.records[position].dynamodb.sequence_number.clone(),
                }],
            },
            None => BatchResponse::default(),
        }
    }

    /// Applies every item still pending, oldest first, at most `limit` of them.
    pub async fn replay(&self, limit: usize) -> Result<ReplayReport, StoreError> {
        let pending = self.store.pending_inbox(limit).await?;
        let mut report = ReplayReport {
            pending: pending.len(),
            ..ReplayReport::default()
        };
        for item in &pending {
            match self.apply(item).await {
                Applied::Done { .. } => report.applied += 1,
                Applied::Failed { .. } => report.failed += 1,
            }
        }
        Ok(report)
    }
}

/// The inbox item a stream record carries, or `None` for records the worker skips.
fn inbox_item_of(record: &StreamRecord) -> Option<InboxItem> {
    if record.event_name != "INSERT" {
        return None;
    }
    let image = record.dynamodb.new_image.as_ref()?;
    // Only inbox items reach the worker (the mapping's filter); anything else is skipped.
    if !image["pk"]["S"]
        .as_str()
        .is_some_and(|pk| pk.starts_with("IN#"))
    {
        return None;
    }
    match inbox_item_from_stream_image(image) {
        Ok(item) => Some(item),
        Err(e) => {
            // No retry can make an unreadable image readable; blocking the shard on it would
            // stop every delivery behind it. The item itself stays pending in the table, where
            // replay reads it.
            tracing::error!(error = %e, sequence = %record.dynamodb.sequence_number, outcome = "skipped", "unreadable stream record");
            None
        }
    }
}

/// What an item is about, as far as order matters: deliveries about one subject keep their order
/// in one lane. A body that does not parse gets a lane of its own (it is refused anyway).
fn subject_of(item: &InboxItem) -> String {
    let Ok(body) = serde_json::from_slice::<Value>(&item.body) else {
        return format!("delivery:{}", item.id);
    };
    match item.source {
        InboxSource::Jira => match body["issue"]["id"]
            .as_str()
            .or(body["issue"]["key"].as_str())
        {
            Some(issue) => format!("jira:{issue}"),
            None => format!("delivery:{}", item.id),
        },
        InboxSource::Github => {
            let repository = &body["repository"]["id"];
            let number = match item.event.as_str() {
                "pull_request" => &body["pull_request"]["number"],
                "issues" | "issue_comment" => &body["issue"]["number"],
                _ if body["alert"].is_object() => &body["alert"]["number"],
                // Installation changes apply in order among themselves.
                _ => return format!("github:installation:{}", body["installation"]["id"]),
            };
            format!("github:{}:{repository}:{number}", item.event)
        }
    }
}

/// The ingest's answer, as the inbox records it: a 5xx is a failure worth retrying; everything
/// else (applied, duplicate, ignored, and a 4xx, which no retry can change) is done.
fn applied_from(answer: &Answer) -> Applied {
    let status = answer.body["status"].as_str().unwrap_or("");
    if answer.status >= 500 {
        let error = answer.body["detail"]
            .as_str()
            .or(answer.body["error"].as_str())
            .unwrap_or("failed")
            .to_owned();
        tracing::warn!(error = %error, outcome = "failed", "inbox item failed; it stays pending");
        Applied::Failed { error }
    } else if answer.status >= 400 {
        let error = answer.body["detail"].as_str().unwrap_or("refused");
        tracing::error!(error = %error, outcome = "rejected", "inbox item cannot be applied");
        Applied::Done {
            outcome: format!("rejected: {error}"),
        }
    } else {
        Applied::Done {
            outcome: if status.is_empty() { "done" } else { status }.to_owned(),
        }
    }
}
