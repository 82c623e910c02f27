//! One Linear webhook request → one HTTP answer.
//!
//! Authenticity: Linear signs the raw body (`Linear-Signature`: the bare hex HMAC-SHA256 under the
//! webhook's signing secret) and puts the time it sent the delivery *inside* the signed body
//! (`webhookTimestamp`, Unix ms). A delivery whose timestamp is more than [`MAX_AGE`] away from
//! now is refused like a bad signature: a captured delivery cannot be replayed later. (Linear's
//! own SDK checks the same minute, both ways.) Dedup is on `Linear-Delivery` (one id per
//! delivery, kept across Linear's retries), or on the body's digest where it is missing.

use super::{Answer, DEFAULT_MAX_BODY, Delivered};
use crate::execute::Executor;
use crate::repo_settings::SettingsSource;
use http::HeaderMap;
use scantix_core::event::TicketEvent;
use scantix_core::secret::Secret;
use scantix_webhooks::linear::{ParsedLinearDelivery, parse_linear_delivery, webhook_timestamp};
use scantix_webhooks::signature::verify_hex_signature;
use sha2::{Digest, Sha256};
use std::sync::Arc;
use tracing::Instrument;

/// How far a delivery's `webhookTimestamp` may be from now.
pub const MAX_AGE: chrono::Duration = chrono::Duration::minutes(1);

/// Checks Linear webhook requests before anything reads them: size, signature, freshness.
#[derive(Debug, Clone)]
pub struct LinearGate {
    secret: Secret,
    max_body: usize,
}

impl LinearGate {
    pub fn new(secret: Secret) -> LinearGate {
        LinearGate {
            secret,
            max_body: DEFAULT_MAX_BODY,
        }
    }

    /// The delivery's dedup id (`linear:<Linear-Delivery>`, or `linear:sha256:<digest>` without
    /// one), or the refusal the request gets (413, 401). `now` is the receiver's clock.
    pub fn admit(
        &self,
        headers: &HeaderMap,
        body: &[u8],
        now: chrono::DateTime<chrono::Utc>,
    ) -> Result<String, Answer> {
        let header = |name: &str| headers.get(name).and_then(|v| v.to_str().ok());
        if let Some(refusal) = Answer::too_large(body, self.max_body) {
            return Err(refusal);
        }
        if let Err(e) = verify_hex_signature(
            self.secret.expose().as_bytes(),
            body,
            header("linear-signature"),
        ) {
            tracing::warn!(error = %e, "linear webhook refused");
            return Err(Answer::refused(401, "bad_signature", e.to_string()));
        }
        // Read only now that the body is known to be Linear's.
        let fresh = match webhook_timestamp(body) {
            Ok(sent_ms) => {
                let age = now.timestamp_millis().saturating_sub(sent_ms).abs();
                if age <= MAX_AGE.num_milliseconds() {
                    Ok(())
                } else {
                    Err(format!(
                        "webhookTimestamp is {} s away from now (at most {} s): a replay, or a clock far off",
                        age / 1000,
                        MAX_AGE.num_seconds()
                    ))
                }
            }
            Err(e) => Err(format!("no usable webhookTimestamp ({e})")),
        };
        if let Err(why) = fresh {
            tracing::warn!(error = %why, "linear webhook refused");
            return Err(Answer::refused(401, "stale_delivery", why));
        }
        Ok(
            match header("linear-delivery").filter(|d| !d.is_empty() && d.len() <= 128) {
                Some(id) => format!("linear:{id}"),
                None => format!("linear:sha256:{}", hex::encode(Sha256::digest(body))),
            },
        )
    }
}

/// Applies Linear webhooks: synchronously in the local server and tests (`handle`), or item by
/// item in the worker (`apply`).
pub struct LinearIngest {
    /// `None` in the worker, which applies deliveries the webhook function already checked.
    gate: Option<LinearGate>,
    executor: Arc<Executor>,
    settings: Option<Arc<SettingsSource>>,
}

impl LinearIngest {
    pub fn new(secret: Secret, executor: Arc<Executor>) -> LinearIngest {
        LinearIngest {
            gate: Some(LinearGate::new(secret)),
            executor,
            settings: None,
        }
    }

    /// Decides each event under the settings of its ticket's repository (see
    /// `JiraIngest::with_settings`).
    pub fn with_settings(mut self, source: Arc<SettingsSource>) -> LinearIngest {
        self.settings = Some(source);
        self
    }

    /// An ingest that only applies deliveries already checked and stored (the worker's).
    pub fn for_worker(executor: Arc<Executor>) -> LinearIngest {
        LinearIngest {
            gate: None,
            executor,
            settings: None,
        }
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
        let delivery = match gate.admit(headers, body, chrono::Utc::now()) {
            Ok(delivery) => delivery,
            Err(refusal) => return refusal,
        };
        let span = tracing::info_span!("delivery", delivery = %delivery, source = "linear");
        async {
            match read_linear_delivery(body) {
                Ok(event) => self.apply(&delivery, &event).await,
                Err(done) => done,
            }
        }
        .instrument(span)
        .await
        .answer(&delivery)
    }

    /// Applies one read delivery: the work the worker does.
    pub async fn apply(&self, delivery: &str, event: &TicketEvent) -> Delivered {
        Delivered::from_result(
            self.executor
                .apply_ticket_with(delivery, event, self.settings.as_deref())
                .await,
        )
    }
}

/// Reads a delivery without acting on it (pure): the ticket event, or the answer it gets without
/// any work (ignored events, malformed bodies).
pub fn read_linear_delivery(body: &[u8]) -> Result<TicketEvent, Delivered> {
    match parse_linear_delivery(body) {
        Ok(ParsedLinearDelivery::Ticket(event)) => Ok(event),
        Ok(ParsedLinearDelivery::Ignored { reason }) => Err(Delivered::ignored(reason)),
        Err(e) => Err(Delivered::rejected(e.to_string(), Some(e.path.clone()))),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use scantix_webhooks::signature::sign_hex;

    fn headers(signature: &str, delivery: Option<&str>) -> HeaderMap {
        let mut h = HeaderMap::new();
        h.insert("linear-signature", signature.parse().unwrap());
        if let Some(d) = delivery {
            h.insert("linear-delivery", d.parse().unwrap());
        }
        h
    }

    #[test]
    fn signature_then_freshness_then_the_delivery_id() {
        let gate = LinearGate::new(Secret::new("s3cret"));
        let now = chrono::Utc::now();
        let body = format!(
            r#"{{"action":"update","type":"Issue","webhookTimestamp":{}}}"#,
            now.timestamp_millis() - 5_000
        );
        let good = sign_hex(b"s3cret", body.as_bytes());
        assert_eq!(
            gate.admit(&headers(&good, Some("d-1")), body.as_bytes(), now),
            Ok("linear:d-1".into())
        );
        assert!(
            gate.admit(&headers(&good, None), body.as_bytes(), now)
                .unwrap()
                .starts_with("linear:sha256:")
        );
        let forged = sign_hex(b"other", body.as_bytes());
        let refused = gate
            .admit(&headers(&forged, Some("d-1")), body.as_bytes(), now)
            .unwrap_err();
        assert_eq!(
            (refused.status, refused.body["error"].as_str()),
            (401, Some("bad_signature"))
        );
        let later = now + chrono::Duration::seconds(70);
        let stale = gate
            .admit(&headers(&good, Some("d-1")), body.as_bytes(), later)
            .unwrap_err();
        assert_eq!(
            (stale.status, stale.body["error"].as_str()),
            (401, Some("stale_delivery"))
        );
        let huge = vec![b' '; DEFAULT_MAX_BODY + 1];
        assert_eq!(
            gate.admit(&headers(&good, None), &huge, now)
                .unwrap_err()
                .status,
            413
        );
    }
}
