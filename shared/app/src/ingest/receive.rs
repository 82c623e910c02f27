//! The webhook functions' whole job in production: check a request, read it, and make it durable
//! with one conditional inbox write (see `scantix_core::inbox`); the worker applies it later.
//!
//! Reading before storing means a malformed body gets its 400 (with the JSON path) and an event
//! scantix does not act on its 202 "ignored" from the function GitHub or Jira called, and nothing is
//! stored for either; what reaches the inbox is known to be readable.

use super::Answer;
use super::github::{Admitted, GithubGate, read_delivery};
use super::jira::{JiraGate, read_jira_delivery};
use super::linear::{LinearGate, read_linear_delivery};
use http::HeaderMap;
use scantix_core::inbox::{InboxItem, InboxSource};
use scantix_core::ports::store::{Store, StoreError};
use serde_json::json;
use std::sync::Arc;
use tracing::Instrument;

/// Receives GitHub webhooks into the inbox.
pub struct GithubReceiver {
    gate: GithubGate,
    store: Arc<dyn Store>,
}

impl GithubReceiver {
    pub fn new(gate: GithubGate, store: Arc<dyn Store>) -> GithubReceiver {
        GithubReceiver { gate, store }
    }

    /// Answers one request: 202 once the delivery is durable, 200 for a redelivery, the gate's or
    /// the reader's refusal otherwise.
    pub async fn handle(&self, headers: &HeaderMap, body: &[u8]) -> Answer {
        let Admitted { event, delivery } = match self.gate.admit(headers, body) {
            Ok(admitted) => admitted,
            Err(refusal) => return refusal,
        };
        let span = tracing::info_span!("delivery", delivery, event);
        if let Err(done) = span.in_scope(|| read_delivery(event, body)) {
            return done.answer(delivery);
        }
        let id = format!("github:{delivery}");
        let item = InboxItem::received(InboxSource::Github, id, event, body, chrono::Utc::now());
        enqueue(self.store.as_ref(), item).instrument(span).await
    }
}

/// Receives Jira webhooks into the inbox.
pub struct JiraReceiver {
    gate: JiraGate,
    store: Arc<dyn Store>,
}

impl JiraReceiver {
    pub fn new(gate: JiraGate, store: Arc<dyn Store>) -> JiraReceiver {
        JiraReceiver { gate, store }
    }

    /// Answers one request (`query` is the URL's raw query string) like `GithubReceiver::handle`.
    pub async fn handle(&self, headers: &HeaderMap, query: Option<&str>, body: &[u8]) -> Answer {
        let delivery = match self.gate.admit(headers, query, body) {
            Ok(delivery) => delivery,
            Err(refusal) => return refusal,
        };
        let span = tracing::info_span!("delivery", delivery = %delivery, source = "jira");
        if let Err(done) = span.in_scope(|| read_jira_delivery(body)) {
            return done.answer(&delivery);
        }
        let item = InboxItem::received(
            InboxSource::Jira,
            delivery,
            "jira",
            body,
            chrono::Utc::now(),
        );
        enqueue(self.store.as_ref(), item).instrument(span).await
    }
}

/// Receives Linear webhooks into the inbox.
pub struct LinearReceiver {
    gate: LinearGate,
    store: Arc<dyn Store>,
}

impl LinearReceiver {
    pub fn new(gate: LinearGate, store: Arc<dyn Store>) -> LinearReceiver {
        LinearReceiver { gate, store }
    }

    /// Answers one request like `GithubReceiver::handle`. The timestamp is checked here, at the
    /// door; the worker applies the stored delivery later, whatever its age by then.
    pub async fn handle(&self, headers: &HeaderMap, body: &[u8]) -> Answer {
        let delivery = match self.gate.admit(headers, body, chrono::Utc::now()) {
            Ok(delivery) => delivery,
            Err(refusal) => return refusal,
        };
        let span = tracing::info_span!("delivery", delivery = %delivery, source = "linear");
        if let Err(done) = span.in_scope(|| read_linear_delivery(body)) {
            return done.answer(&delivery);
        }
        let item = InboxItem::received(
            InboxSource::Linear,
            delivery,
            "linear",
            body,
            chrono::Utc::now(),
        );
        enqueue(self.store.as_ref(), item).instrument(span).await
    }
}

/// The one write: the inbox item, only if its delivery was never received.
pub(super) async fn enqueue(store: &dyn Store, item: InboxItem) -> Answer {
    match store.put_inbox(&item).await {
        Ok(true) => {
            tracing::info!(
                outcome = "accepted",
                bytes = item.body.len(),
                "delivery stored"
            );
            Answer::new(202, json!({ "status": "accepted", "delivery": item.id }))
        }
        Ok(false) => {
            tracing::info!(outcome = "duplicate", "delivery already received");
            Answer::new(200, json!({ "status": "duplicate", "delivery": item.id }))
        }
        Err(StoreError::TooLarge(why)) => {
            tracing::warn!(error = %why, outcome = "refused", "delivery too large to store");
            Answer::refused(413, "payload_too_large", why)
        }
        Err(e) => {
            // Not stored: the sender must try again (Jira does; GitHub's admin can redeliver, and
            // the sweeper reconciles alerts either way).
            tracing::error!(error = %e, retryable = e.is_retryable(), outcome = "failed", "delivery not stored");
            let status = if e.is_retryable() { 503 } else { 500 };
            Answer::new(
                status,
                json!({ "error": "not_stored", "detail": e.to_string(), "delivery": item.id, "retryable": e.is_retryable() }),
            )
        }
    }
}
