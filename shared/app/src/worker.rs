//! The worker: applies inbox items (see `scantix_core::inbox`) and records how each went.
//!
//! In AWS it is invoked by the table's stream with batches of new inbox items (read by
//! `scantix_dynamodb::stream::apply_batch`, which calls `apply` for each); `scantix replay` calls
//! the same `apply` for the items still pending. Applying an item twice is harmless: the engine's
//! own delivery records make the second a recognised duplicate.
//!
//! Each item's body is read once ([`ReadItem`]): the lane it goes in and the work applied come
//! from that one reading. A batch is applied in lanes, concurrently: records about one subject
//! ([`ReadItem::subject`]: one alert, one pull request, one installation, one ticket) keep their
//! order in one lane, since
//! a `fixed` after a `created` must stay after it; records about different subjects are
//! independent (two alerts joining one group take turns on it in the executor, each deciding on
//! the group the other committed; against another process they race on the group's version, and
//! the loser re-reads).

use crate::ingest::github::{Work, read_delivery};
use crate::ingest::jira::read_jira_delivery;
use crate::ingest::linear::read_linear_delivery;
use crate::ingest::servicenow::read_servicenow_delivery;
use crate::ingest::{Delivered, GithubIngest, JiraIngest, LinearIngest, ServiceNowIngest};
use crate::uploads::{AnalysisApplier, NotYetApplied, UploadOutcome, UploadedAnalysis};
use scantix_core::event::TicketEvent;
use scantix_core::inbox::{Applied, InboxItem, InboxSource, InboxStatus};
use scantix_core::ports::store::{Store, StoreError};
use serde::Serialize;
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
    /// `None` when the deployment has no ServiceNow: its items then fail (and wait for replay).
    servicenow: Option<ServiceNowIngest>,
    /// `None` when the deployment has no Linear: Linear items then fail (and wait for replay).
    linear: Option<LinearIngest>,
    /// What applies SARIF uploads ([`NotYetApplied`] until the analysis engine is wired).
    uploads: Arc<dyn AnalysisApplier>,
}

impl Worker {
    pub fn new(store: Arc<dyn Store>, github: GithubIngest, jira: Option<JiraIngest>) -> Worker {
        Worker {
            store,
            github,
            jira,
            servicenow: None,
            linear: None,
            uploads: Arc::new(NotYetApplied),
        }
    }

    /// Applies ServiceNow deliveries with `ingest`.
    pub fn with_servicenow(mut self, ingest: ServiceNowIngest) -> Worker {
        self.servicenow = Some(ingest);
        self
    }

    /// Applies Linear items with `linear`.
    pub fn with_linear(mut self, linear: LinearIngest) -> Worker {
        self.linear = Some(linear);
        self
    }

    /// Applies SARIF uploads with `applier`.
    pub fn with_uploads(mut self, applier: Arc<dyn AnalysisApplier>) -> Worker {
        self.uploads = applier;
        self
    }

    /// Applies one item and records the result on it. An item already done is left alone.
    pub async fn apply(&self, item: &InboxItem) -> Applied {
        self.apply_read(ReadItem::read(item.clone())).await
    }

    /// Applies an item already read (see [`ReadItem`]) and records the result on it.
    pub async fn apply_read(&self, read: ReadItem) -> Applied {
        let ReadItem { mut item, work } = read;
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
            let delivered = match work {
                Err(done) => done,
                // The item is one the store holds (a stream record's image, or a pending item
                // listed by replay): an alert's commit settles it done in the same write.
                Ok(ItemWork::Github(work)) => {
                    self.github
                        .apply(item.delivery(), work, Some(&item.id))
                        .await
                }
                Ok(ItemWork::Jira(event)) => match &self.jira {
                    Some(jira) => jira.apply(&item.id, &event).await,
                    None => {
                        Delivered::failed("no Jira is configured for this deployment".into(), false)
                    }
                },
                Ok(ItemWork::ServiceNow(read)) => match &self.servicenow {
                    Some(servicenow) => servicenow.apply(&item.id, &read).await,
                    None => Delivered::failed(
                        "no ServiceNow is configured for this deployment".into(),
                        false,
                    ),
                },
                Ok(ItemWork::Linear(event)) => match &self.linear {
                    Some(linear) => linear.apply(&item.id, &event).await,
                    None => Delivered::failed(
                        "no Linear is configured for this deployment".into(),
                        false,
                    ),
                },
                // Not a webhook: no answer to read, the applier's outcome is the result.
                Ok(ItemWork::Upload) => {
                    let applied = self.apply_upload(&mut item).await;
                    self.settle(&item, &applied).await;
                    return applied;
                }
            };
            let applied = delivered.applied();
            // Settled already by the commit that applied it: one write fewer per delivery.
            if !delivered.settled_inbox() {
                self.settle(&item, &applied).await;
            }
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

    /// A SARIF upload, handed whole to the analysis applier (see `crate::uploads`). Its body is
    /// moved out of `item` (settling needs only the id), so the applier holds the one copy.
    async fn apply_upload(&self, item: &mut InboxItem) -> Applied {
        // An upload stored in parts arrives from the stream without its body: read it whole.
        let mut whole;
        let item = if item.body_elsewhere {
            match self.store.get_inbox(&item.id).await {
                Ok(Some(stored)) if !stored.body_elsewhere => {
                    whole = stored;
                    &mut whole
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
        let sarif = Arc::new(std::mem::take(&mut item.body));
        let Some(target) = &item.upload else {
            tracing::error!(outcome = "rejected", "upload item names no repository");
            return Applied::Done {
                outcome: "rejected: the upload names no repository".into(),
            };
        };
        let upload = UploadedAnalysis {
            delivery: &item.id,
            target,
            sarif,
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

/// An inbox item with its body read once: what there is to apply, or what became of it without
/// any work (a malformed body, an event not acted on). The lane an item goes in and the work the
/// worker applies both come from this one reading.
#[derive(Debug)]
pub struct ReadItem {
    pub item: InboxItem,
    work: Result<ItemWork, Delivered>,
}

#[derive(Debug)]
enum ItemWork {
    Github(Work),
    Jira(TicketEvent),
    /// Read, not yet interpreted: what its state means is the ServiceNow ingest's setting.
    ServiceNow(scantix_webhooks::servicenow::ServiceNowDelivery),
    Linear(TicketEvent),
    /// A SARIF upload: its body is not read here (a SARIF file, checked at the door, or stored
    /// in parts and not in the item at all); its target says what it is.
    Upload,
}

impl ReadItem {
    pub fn read(item: InboxItem) -> ReadItem {
        let work = match item.source {
            InboxSource::Github => read_delivery(&item.event, &item.body).map(ItemWork::Github),
            InboxSource::Jira => read_jira_delivery(&item.body).map(ItemWork::Jira),
            InboxSource::ServiceNow => {
                read_servicenow_delivery(&item.body).map(ItemWork::ServiceNow)
            }
            InboxSource::Linear => read_linear_delivery(&item.body).map(ItemWork::Linear),
            InboxSource::Upload => Ok(ItemWork::Upload),
        };
        ReadItem { item, work }
    }

    /// What the item is about, as far as order matters: deliveries about one subject keep their
    /// order in one lane (one alert, one pull request, one installation, one ticket). An item
    /// with nothing to apply gets a lane of its own.
    pub fn subject(&self) -> String {
        match &self.work {
            Ok(ItemWork::Github(Work::Alert(alert))) => format!(
                "alert:{}:{}:{}",
                alert.finding.repository.id,
                alert.finding.kind.as_str(),
                alert.finding.number
            ),
            Ok(ItemWork::Github(Work::PullRequest(change))) => {
                format!("pull_request:{}:{}", change.repository.id, change.number)
            }
            // Installation changes apply in order among themselves.
            Ok(ItemWork::Github(Work::Installation(change))) => {
                format!("installation:{}", change.installation_id)
            }
            Ok(
                ItemWork::Github(Work::Ticket(event))
                | ItemWork::Jira(event)
                | ItemWork::Linear(event),
            ) => {
                format!("ticket:{}:{}", event.tracker, event.ticket_key)
            }
            Ok(ItemWork::ServiceNow(read)) => format!(
                "ticket:{}:{}",
                scantix_core::ticket::servicenow::TRACKER_NAME,
                read.sys_id
            ),
            // One lane per analysis, (repository, category), in upload order.
            Ok(ItemWork::Upload) => match &self.item.upload {
                Some(t) => format!("upload:{}:{}", t.repository_id, t.category),
                None => format!("delivery:{}", self.item.id),
            },
            Err(_) => format!("delivery:{}", self.item.id),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A delivery of the bundled scenario (real GitHub payloads), as the inbox holds it.
    fn scenario_item(file: &str, event: &str) -> InboxItem {
        let path = format!(
            "{}/../../events/github/scenario/{file}",
            env!("CARGO_MANIFEST_DIR")
        );
        let body = std::fs::read(&path).unwrap_or_else(|e| panic!("{path}: {e}"));
        InboxItem::received(
            InboxSource::Github,
            format!("github:{file}"),
            event,
            &body,
            chrono::Utc::now(),
        )
    }

    #[test]
    fn one_alert_s_deliveries_share_a_lane_and_other_alerts_get_their_own() {
        let created = ReadItem::read(scenario_item(
            "02-code_scanning_alert.created.json",
            "code_scanning_alert",
        ));
        let fixed = ReadItem::read(scenario_item(
            "07-code_scanning_alert.fixed.json",
            "code_scanning_alert",
        ));
        let other = ReadItem::read(scenario_item(
            "04-code_scanning_alert.created.json",
            "code_scanning_alert",
        ));
        assert_eq!(created.subject(), "alert:337911632:code-scanning:10");
        assert_eq!(fixed.subject(), created.subject());
        assert_ne!(other.subject(), created.subject());

        // Nothing to apply (a ping; a body that is not JSON): a lane of its own, and the
        // answer the reading gave, applied without parsing again.
        let ping = ReadItem::read(scenario_item("01-ping.json", "ping"));
        assert_eq!(ping.subject(), "delivery:github:01-ping.json");
        let mut broken =
            scenario_item("02-code_scanning_alert.created.json", "code_scanning_alert");
        broken.body = b"{not json".to_vec();
        let broken = ReadItem::read(broken);
        assert!(matches!(broken.work, Err(Delivered::Rejected { .. })));
    }

    #[test]
    fn a_linear_item_goes_in_its_tickets_lane() {
        let body = br#"{"action":"update","type":"Issue","webhookTimestamp":1,
            "actor":{"id":"u-1","name":"Ada"},
            "data":{"identifier":"SEC-12","state":{"name":"Done","type":"completed"}}}"#;
        let item = InboxItem::received(
            InboxSource::Linear,
            "linear:d-1".into(),
            "linear",
            body,
            chrono::Utc::now(),
        );
        let read = ReadItem::read(item);
        assert_eq!(read.subject(), "ticket:linear:SEC-12");
        assert!(matches!(read.work, Ok(ItemWork::Linear(_))));
    }
}
