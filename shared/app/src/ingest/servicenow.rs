//! One ServiceNow delivery (posted by scantix's business rule, `infra/servicenow/`) → one HTTP
//! answer: checked at the door (`ServiceNowGate`), then applied at once (`ServiceNowIngest`, the
//! local server and tests) or made durable in the inbox for the worker (`ServiceNowReceiver`, the
//! Lambda function).
//!
//! Authenticity: `X-Scantix-Signature: sha256=<base64 HMAC-SHA256 of the body>` under the shared
//! secret, checked over the raw bytes before anything parses them. Dedup is on
//! `X-Scantix-Delivery` (`<sys_id>:<sys_mod_count>`: the business rule sends the same id for the
//! same change, and ServiceNow's outbound queue retries with it), or on the body's digest when the
//! header is missing or odd. Answers: 413 too large, 401 unsigned or forged, 400 with the JSON
//! path for a body that cannot be read, 202 "ignored" for a change scantix does not act on (a
//! state no category names), 202 accepted / 200 duplicate once stored.

use super::receive::enqueue;
use super::{Answer, DEFAULT_MAX_BODY, Delivered};
use crate::execute::Executor;
use crate::repo_settings::SettingsSource;
use http::HeaderMap;
use scantix_core::event::TicketEvent;
use scantix_core::inbox::{InboxItem, InboxSource};
use scantix_core::ports::store::Store;
use scantix_core::secret::Secret;
use scantix_core::ticket::servicenow::ServiceNowStates;
use scantix_webhooks::servicenow::{
    SIGNATURE_HEADER, ServiceNowDelivery, parse_servicenow_delivery, verify_servicenow_signature,
};
use sha2::{Digest, Sha256};
use std::sync::Arc;
use tracing::Instrument;

/// The header carrying the business rule's id of the change.
pub const DELIVERY_HEADER: &str = "x-scantix-delivery";

/// Checks ServiceNow delivery requests before anything reads them: size, then the signature.
#[derive(Debug, Clone)]
pub struct ServiceNowGate {
    secret: Secret,
    max_body: usize,
}

impl ServiceNowGate {
    pub fn new(secret: Secret) -> ServiceNowGate {
        ServiceNowGate {
            secret,
            max_body: DEFAULT_MAX_BODY,
        }
    }

    /// The delivery's dedup id (`servicenow:<X-Scantix-Delivery>`, or `servicenow:sha256:<digest
    /// of the body>`), or the refusal the request gets (413, 401).
    pub fn admit(&self, headers: &HeaderMap, body: &[u8]) -> Result<String, Answer> {
        let header = |name: &str| headers.get(name).and_then(|v| v.to_str().ok());
        if let Some(refusal) = Answer::too_large(body, self.max_body) {
            return Err(refusal);
        }
        if let Err(why) = verify_servicenow_signature(
            self.secret.expose().as_bytes(),
            body,
            header(SIGNATURE_HEADER),
        ) {
            tracing::warn!(error = %why, "servicenow delivery refused");
            return Err(Answer::refused(401, "bad_signature", why.to_string()));
        }
        let plain_id = |d: &&str| {
            (1..=128).contains(&d.len())
                && d.bytes()
                    .all(|b| b.is_ascii_alphanumeric() || b":_-.".contains(&b))
        };
        Ok(
            match header(DELIVERY_HEADER).map(str::trim).filter(plain_id) {
                Some(id) => format!("servicenow:{id}"),
                None => format!("servicenow:sha256:{}", hex::encode(Sha256::digest(body))),
            },
        )
    }
}

/// Reads a delivery without acting on it (pure): what it says, or the answer it gets without any
/// work (a malformed body).
pub fn read_servicenow_delivery(body: &[u8]) -> Result<ServiceNowDelivery, Delivered> {
    parse_servicenow_delivery(body)
        .map_err(|e| Delivered::rejected(e.to_string(), Some(e.path.clone())))
}

/// What a read delivery means under `states`: its ticket event, or "ignored".
pub fn interpret(
    delivery: &ServiceNowDelivery,
    states: &ServiceNowStates,
) -> Result<TicketEvent, Delivered> {
    delivery.event(states).map_err(Delivered::ignored)
}

/// Applies ServiceNow deliveries: synchronously in the local server and tests (`handle`), or item
/// by item in the worker (`apply`).
pub struct ServiceNowIngest {
    /// `None` in the worker, which applies deliveries the webhook function already checked.
    gate: Option<ServiceNowGate>,
    executor: Arc<Executor>,
    settings: Option<Arc<SettingsSource>>,
    states: ServiceNowStates,
}

impl ServiceNowIngest {
    pub fn new(
        secret: Secret,
        states: ServiceNowStates,
        executor: Arc<Executor>,
    ) -> ServiceNowIngest {
        ServiceNowIngest {
            gate: Some(ServiceNowGate::new(secret)),
            executor,
            settings: None,
            states,
        }
    }

    /// An ingest that only applies deliveries already checked and stored by the webhook function
    /// (the worker's): it holds no secret, and `handle` refuses every request.
    pub fn for_worker(states: ServiceNowStates, executor: Arc<Executor>) -> ServiceNowIngest {
        ServiceNowIngest {
            gate: None,
            executor,
            settings: None,
            states,
        }
    }

    /// Decides each event under the settings of its ticket's repository (see
    /// `JiraIngest::with_settings`).
    pub fn with_settings(mut self, source: Arc<SettingsSource>) -> ServiceNowIngest {
        self.settings = Some(source);
        self
    }

    /// Handles one delivery start to end.
    pub async fn handle(&self, headers: &HeaderMap, body: &[u8]) -> Answer {
        let Some(gate) = &self.gate else {
            return Answer::refused(
                500,
                "not_configured",
                "this ingest takes no webhook requests",
            );
        };
        let delivery = match gate.admit(headers, body) {
            Ok(delivery) => delivery,
            Err(refusal) => return refusal,
        };
        let span = tracing::info_span!("delivery", delivery = %delivery, source = "servicenow");
        async {
            match read_servicenow_delivery(body) {
                Ok(read) => self.apply(&delivery, &read).await,
                Err(done) => done,
            }
        }
        .instrument(span)
        .await
        .answer(&delivery)
    }

    /// Applies one read delivery (`delivery` is its dedup id, `servicenow:…`): the worker's work.
    pub async fn apply(&self, delivery: &str, read: &ServiceNowDelivery) -> Delivered {
        match interpret(read, &self.states) {
            Ok(event) => Delivered::from_result(
                self.executor
                    .apply_ticket_with(delivery, &event, self.settings.as_deref())
                    .await,
            ),
            Err(done) => done,
        }
    }
}

/// Receives ServiceNow deliveries into the inbox (the Lambda function's whole job).
pub struct ServiceNowReceiver {
    gate: ServiceNowGate,
    states: ServiceNowStates,
    store: Arc<dyn Store>,
}

impl ServiceNowReceiver {
    pub fn new(
        gate: ServiceNowGate,
        states: ServiceNowStates,
        store: Arc<dyn Store>,
    ) -> ServiceNowReceiver {
        ServiceNowReceiver {
            gate,
            states,
            store,
        }
    }

    /// Answers one request: 202 once the delivery is durable, 200 for a redelivery, the gate's or
    /// the reader's refusal otherwise (see the module doc).
    pub async fn handle(&self, headers: &HeaderMap, body: &[u8]) -> Answer {
        let delivery = match self.gate.admit(headers, body) {
            Ok(delivery) => delivery,
            Err(refusal) => return refusal,
        };
        let span = tracing::info_span!("delivery", delivery = %delivery, source = "servicenow");
        let readable = span.in_scope(|| {
            read_servicenow_delivery(body).and_then(|read| interpret(&read, &self.states))
        });
        if let Err(done) = readable {
            return done.answer(&delivery);
        }
        let item = InboxItem::received(
            InboxSource::ServiceNow,
            delivery,
            "servicenow",
            body,
            chrono::Utc::now(),
        );
        enqueue(self.store.as_ref(), item).instrument(span).await
    }
}
