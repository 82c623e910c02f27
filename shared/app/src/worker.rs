//! The worker: applies inbox items (see `scantix_core::inbox`) and records how each went.
//!
//! In AWS it is invoked by the table's stream with batches of new inbox items (read by
//! `scantix_dynamodb::stream::apply_batch`, which calls `apply` for each); `scantix replay` calls
//! the same `apply` for the items still pending. Applying an item twice is harmless: the engine's
//! own delivery records make the second a recognised duplicate.
//!
//! A batch is applied in lanes, concurrently: records about one subject ([`subject_of`]: one
//! alert, one pull request, one installation, one Jira issue) keep their order in one lane, since
//! a `fixed` after a `created` must stay after it; records about different subjects are
//! independent (two alerts joining one group race on the group's version, and the loser re-reads,
//! as two functions would).

use crate::ingest::{Delivered, GithubIngest, JiraIngest};
use crate::uploads::{AnalysisApplier, NotYetApplied, UploadOutcome, UploadedAnalysis};
use scantix_core::inbox::{Applied, InboxItem, InboxSource, InboxStatus};
use scantix_core::ports::store::{Store, StoreError};
use serde::Serialize;
use serde_json::Value;
use std::sync::Arc;
use tracing::Instrument;

/// What `replay` did.
#[derive(Debug, Default, Clone, PartialEq, Serialize)]
pub struct ReplayReport {
    pub pending: usize,
    pub applied: usize,
    pub failed: usize,
    /// Left pending on purpose (see `Applied::Deferred`): SARIF uploads this build cannot apply.
    #[serde(skip_serializing_if = "is_zero")]
    pub deferred: usize,
}

fn is_zero(n: &usize) -> bool {
    *n == 0
}

/// Applies inbox items with the same ingests the synchronous path uses.
pub struct Worker {
    store: Arc<dyn Store>,
    github: GithubIngest,
    /// `None` when the deployment has no Jira: Jira items then fail (and wait for replay).
    jira: Option<JiraIngest>,
    /// What applies SARIF uploads ([`NotYetApplied`] until the analysis engine is wired).
    uploads: Arc<dyn AnalysisApplier>,
}

impl Worker {
    pub fn new(store: Arc<dyn Store>, github: GithubIngest, jira: Option<JiraIngest>) -> Worker {
        Worker {
            store,
            github,
            jira,
            uploads: Arc::new(NotYetApplied),
        }
    }

    /// Applies SARIF uploads with `applier`.
    pub fn with_uploads(mut self, applier: Arc<dyn AnalysisApplier>) -> Worker {
        self.uploads = applier;
        self
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
            let delivered = match item.source {
                InboxSource::Github => {
                    self.github
                        .route(&item.event, item.delivery(), &item.body)
                        .await
                }
                InboxSource::Jira => match &self.jira {
                    Some(jira) => jira.route(&item.id, &item.body).await,
                    None => {
                        Delivered::failed("no Jira is configured for this deployment".into(), false)
                    }
                },
                // Not a webhook: no answer to read, the applier's outcome is the result.
                InboxSource::Upload => {
                    let applied = self.apply_upload(item).await;
                    self.settle(item, &applied).await;
                    return applied;
                }
            };
            let applied = delivered.applied();
            self.settle(item, &applied).await;
            applied
        }
        .instrument(span)
        .await
    }

    async fn settle(&self, item: &InboxItem, applied: &Applied) {
        let now = chrono::Utc::now();
        if let Err(e) = self.store.settle_inbox(&item.id, applied, now).await {
            // The work is applied (or failed) either way; an unsettled item is only applied
            // again by replay, as a recognised duplicate.
            tracing::warn!(error = %e, "inbox item not settled");
        }
    }

    /// A SARIF upload, handed whole to the analysis applier (see `crate::uploads`).
    async fn apply_upload(&self, item: &InboxItem) -> Applied {
        // An upload stored in parts arrives from the stream without its body: read it whole.
        let whole;
        let item = if item.body_elsewhere {
            match self.store.get_inbox(&item.id).await {
                Ok(Some(stored)) if !stored.body_elsewhere => {
                    whole = stored;
                    &whole
                }
                Ok(_) => {
                    let error = "the upload's stored parts could not be read".to_owned();
                    tracing::warn!(error = %error, outcome = "failed", "upload not read");
                    return Applied::Failed { error };
                }
                Err(e) => {
                    tracing::warn!(error = %e, outcome = "failed", "upload not read");
                    return Applied::Failed {
                        error: e.to_string(),
                    };
                }
            }
        } else {
            item
        };
        let Some(target) = &item.upload else {
            tracing::error!(outcome = "rejected", "upload item names no repository");
            return Applied::Done {
                outcome: "rejected: the upload names no repository".into(),
            };
        };
        let upload = UploadedAnalysis {
            delivery: &item.id,
            target,
            sarif: &item.body,
        };
        match self.uploads.apply_upload(upload).await {
            Ok(UploadOutcome::Applied { summary }) => {
                tracing::info!(summary = %summary, outcome = "applied", "upload applied");
                Applied::Done { outcome: summary }
            }
            Ok(UploadOutcome::NotYetApplied { reason }) => {
                tracing::warn!(reason = %reason, outcome = "deferred", "upload kept pending");
                Applied::Deferred { reason }
            }
            Err(e) if e.is_retryable() => {
                tracing::warn!(error = %e, outcome = "failed", "upload failed; it stays pending");
                Applied::Failed {
                    error: e.to_string(),
                }
            }
            Err(e) => {
                tracing::error!(error = %e, outcome = "rejected", "upload cannot be applied");
                Applied::Done {
                    outcome: format!("rejected: {e}"),
                }
            }
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
                Applied::Deferred { .. } => report.deferred += 1,
            }
        }
        Ok(report)
    }
}

/// What an item is about, as far as order matters: deliveries about one subject keep their order
/// in one lane. A body that does not parse gets a lane of its own (it is refused anyway).
pub fn subject_of(item: &InboxItem) -> String {
    // Before any parsing: an upload's body is a SARIF file (or not here at all), and its target
    // says what it is about: one lane per analysis, (repository, category), in upload order.
    if let (InboxSource::Upload, Some(t)) = (item.source, &item.upload) {
        return format!("upload:{}:{}", t.repository_id, t.category);
    }
    let Ok(body) = serde_json::from_slice::<Value>(&item.body) else {
        return format!("delivery:{}", item.id);
    };
    match item.source {
        InboxSource::Upload => format!("delivery:{}", item.id),
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
