//! One GitHub webhook request (headers + raw body) → one HTTP answer.
//!
//! Order matters: size, then signature over the raw bytes (before any parsing, so unauthenticated
//! input never reaches the JSON parser), then dedup and routing. Every refusal says why; the
//! caller's mistakes are 4xx, ours are 5xx.

use super::{Answer, DEFAULT_MAX_BODY};
use crate::engine::Executor;
use crate::engine::triage::builtin;
use crate::github::alert_webhook::{ParsedDelivery, PayloadError, parse_delivery};
use crate::github::installation_webhook::parse_installation;
use crate::github::signature::verify_signature;
use crate::repo_settings::SettingsSource;
use crate::secret::Secret;
use http::HeaderMap;
use serde_json::json;
use std::sync::Arc;
use tracing::Instrument;

/// Receives GitHub webhooks.
pub struct GithubIngest {
    secret: Secret,
    executor: Arc<Executor>,
    /// Per-repository settings, when scantix can read GitHub; built-in triage otherwise.
    settings: Option<SettingsSource>,
    max_body: usize,
}

impl GithubIngest {
    pub fn new(secret: Secret, executor: Arc<Executor>) -> GithubIngest {
        GithubIngest {
            secret,
            executor,
            settings: None,
            max_body: DEFAULT_MAX_BODY,
        }
    }

    /// Reads each repository's settings through GitHub (see `repo_settings`).
    pub fn with_settings(mut self, source: SettingsSource) -> GithubIngest {
        self.settings = Some(source);
        self
    }

    pub fn with_max_body(mut self, bytes: usize) -> GithubIngest {
        self.max_body = bytes;
        self
    }

    pub fn executor(&self) -> &Arc<Executor> {
        &self.executor
    }

    /// Handles one delivery. Never panics, never answers 5xx for the caller's mistakes.
    pub async fn handle(&self, headers: &HeaderMap, body: &[u8]) -> Answer {
        let header = |name: &str| headers.get(name).and_then(|v| v.to_str().ok());
        if let Some(refusal) = Answer::too_large(body, self.max_body) {
            return refusal;
        }
        if let Err(e) = verify_signature(
            self.secret.expose().as_bytes(),
            body,
            header("x-hub-signature-256"),
        ) {
            tracing::warn!(error = %e, "webhook signature rejected");
            return Answer::refused(401, "bad_signature", e.to_string());
        }
        let Some(event) = header("x-github-event").filter(|e| !e.is_empty()) else {
            return Answer::refused(400, "missing_header", "X-GitHub-Event is required");
        };
        let Some(delivery) =
            header("x-github-delivery").filter(|d| !d.is_empty() && d.len() <= 128)
        else {
            return Answer::refused(400, "missing_header", "X-GitHub-Delivery is required");
        };
        let span = tracing::info_span!("delivery", delivery, event);
        self.route(event, delivery, body).instrument(span).await
    }

    /// Acts on an authenticated delivery.
    async fn route(&self, event: &str, delivery: &str, body: &[u8]) -> Answer {
        let delivery_id = format!("github:{delivery}");
        if matches!(event, "installation" | "installation_repositories") {
            return match parse_installation(event, body) {
                Ok(Some(change)) => match self
                    .executor
                    .apply_installation(&delivery_id, &change, None)
                    .await
                {
                    Ok(record) => {
                        let covered = record
                            .repositories
                            .values()
                            .filter(|r| record.covers(r.id))
                            .count();
                        tracing::info!(
                            installation = record.id,
                            covered,
                            outcome = "applied",
                            "installation recorded"
                        );
                        Answer::new(
                            200,
                            json!({ "status": "applied", "installation": record.id, "active": record.active, "repositories_covered": covered }),
                        )
                    }
                    Err(e) => super::answer_for(Err(e), delivery),
                },
                Ok(None) => Answer::new(
                    202,
                    json!({ "status": "ignored", "reason": format!("`{event}` action not acted on") }),
                ),
                Err((path, message)) => {
                    let mut answer =
                        Answer::refused(400, "malformed_payload", format!("{path}: {message}"));
                    answer.body["path"] = json!(path);
                    answer
                }
            };
        }
        let parsed = match parse_delivery(event, body) {
            Ok(parsed) => parsed,
            Err(e) => return malformed(&e),
        };
        let alert = match parsed {
            ParsedDelivery::Ping => return Answer::new(200, json!({ "status": "pong" })),
            ParsedDelivery::Ignored { reason } => {
                tracing::info!(reason = %reason, outcome = "ignored", "delivery ignored");
                return Answer::new(202, json!({ "status": "ignored", "reason": reason }));
            }
            ParsedDelivery::Alert(alert) => alert,
        };
        // An uninstalled App, or a repository taken out of it, gets no more work; deliveries of
        // installations scantix never heard of (installed before it was deployed) are served.
        if let Some(installation) = alert.installation_id {
            match self.executor.store().get_installation(installation).await {
                Ok(Some(record)) if !record.value.covers(alert.finding.repository.id) => {
                    let reason = format!(
                        "repository {} is not covered by installation {installation}",
                        alert.finding.repository.full_name
                    );
                    tracing::info!(reason = %reason, outcome = "ignored", "delivery ignored");
                    return Answer::new(202, json!({ "status": "ignored", "reason": reason }));
                }
                Ok(_) => {}
                Err(e) => return super::answer_for(Err(e.into()), delivery),
            }
        }
        // With a GitHub connection, the repository's own settings decide (config file, org
        // defaults, Rego policy, CODEOWNERS); without one (local runs, tests), built-in triage.
        let result = match &self.settings {
            Some(source) => {
                let settings = source
                    .settings_for(alert.installation_id, &alert.finding.repository)
                    .await;
                let verdict = settings.verdict(&alert.finding);
                self.executor
                    .apply_verdict(&delivery_id, &alert, &verdict, &settings.engine)
                    .await
            }
            None => {
                let verdict = builtin(&alert.finding);
                self.executor
                    .apply_verdict(&delivery_id, &alert, &verdict, self.executor.config())
                    .await
            }
        };
        super::answer_for(result, delivery)
    }
}

fn malformed(e: &PayloadError) -> Answer {
    tracing::warn!(error = %e, "malformed payload");
    let mut answer = Answer::refused(400, "malformed_payload", e.to_string());
    if let PayloadError::Invalid { path, .. } = e {
        answer.body["path"] = json!(path);
    }
    answer
}
