//! One GitHub webhook request (headers + raw body) → one HTTP answer.
//!
//! Order matters: size, then signature over the raw bytes (before any parsing, so unauthenticated
//! input never reaches the JSON parser), then dedup and routing. Every refusal says why; the
//! caller's mistakes are 4xx, ours are 5xx.

use super::{Answer, DEFAULT_MAX_BODY, Delivered};
use crate::execute::Executor;
use crate::repo_settings::{RepoSettings, SettingsSource};
use http::HeaderMap;
use scantix_core::decide::triage::builtin;
use scantix_core::event::AlertEvent;
use scantix_core::event::InstallationEvent;
use scantix_core::secret::Secret;
use scantix_webhooks::github::alert::{ParsedDelivery, PayloadError, parse_delivery};
use scantix_webhooks::github::installation::parse_installation;
use scantix_webhooks::signature::verify_signature;
use serde_json::json;
use std::sync::Arc;
use tracing::Instrument;

/// Checks GitHub webhook requests before anything reads them: size, signature over the raw bytes,
/// the event and delivery headers. The synchronous ingest and the durable receiver share it.
#[derive(Debug, Clone)]
pub struct GithubGate {
    secret: Secret,
    max_body: usize,
}

/// A request that passed the gate.
#[derive(Debug, Clone, Copy)]
pub struct Admitted<'a> {
    /// `X-GitHub-Event`.
    pub event: &'a str,
    /// `X-GitHub-Delivery`, as GitHub wrote it.
    pub delivery: &'a str,
}

impl GithubGate {
    pub fn new(secret: Secret) -> GithubGate {
        GithubGate {
            secret,
            max_body: DEFAULT_MAX_BODY,
        }
    }

    pub fn with_max_body(mut self, bytes: usize) -> GithubGate {
        self.max_body = bytes;
        self
    }

    /// The request's event and delivery id, or the refusal it gets (413, 401, 400).
    pub fn admit<'a>(&self, headers: &'a HeaderMap, body: &[u8]) -> Result<Admitted<'a>, Answer> {
        let header = |name: &str| headers.get(name).and_then(|v| v.to_str().ok());
        if let Some(refusal) = Answer::too_large(body, self.max_body) {
            return Err(refusal);
        }
        if let Err(e) = verify_signature(
            self.secret.expose().as_bytes(),
            body,
            header("x-hub-signature-256"),
        ) {
            tracing::warn!(error = %e, "webhook signature rejected");
            return Err(Answer::refused(401, "bad_signature", e.to_string()));
        }
        let Some(event) = header("x-github-event").filter(|e| !e.is_empty()) else {
            return Err(Answer::refused(
                400,
                "missing_header",
                "X-GitHub-Event is required",
            ));
        };
        let Some(delivery) =
            header("x-github-delivery").filter(|d| !d.is_empty() && d.len() <= 128)
        else {
            return Err(Answer::refused(
                400,
                "missing_header",
                "X-GitHub-Delivery is required",
            ));
        };
        Ok(Admitted { event, delivery })
    }
}

/// Applies GitHub webhooks: synchronously in the local server and tests (`handle`), or item by
/// item in the worker (`route`).
pub struct GithubIngest {
    /// `None` in the worker, which applies deliveries the webhook function already checked.
    gate: Option<GithubGate>,
    executor: Arc<Executor>,
    /// Per-repository settings, when scantix can read GitHub; built-in triage otherwise. Shared
    /// (`Arc`) with the Jira ingest of the same process, so both read through one cache.
    settings: Option<Arc<SettingsSource>>,
    /// One set of settings for every repository (the local run's `--config`, or the defaults with
    /// the bundled policy): the same policy path as the deployment, without a GitHub to read from.
    fixed: Option<Arc<RepoSettings>>,
}

impl GithubIngest {
    pub fn new(secret: Secret, executor: Arc<Executor>) -> GithubIngest {
        GithubIngest {
            gate: Some(GithubGate::new(secret)),
            executor,
            settings: None,
            fixed: None,
        }
    }

    /// An ingest that only applies deliveries already checked and stored by the webhook function
    /// (the worker's): it holds no webhook secret, and `handle` refuses every request.
    pub fn for_worker(executor: Arc<Executor>) -> GithubIngest {
        GithubIngest {
            gate: None,
            executor,
            settings: None,
            fixed: None,
        }
    }

    /// Reads each repository's settings through GitHub (see `repo_settings`): for its alerts and
    /// for the `issues` events of its tickets.
    pub fn with_settings(self, source: SettingsSource) -> GithubIngest {
        let source = source.within_trackers(self.executor.tracker().as_ref());
        self.with_shared_settings(Arc::new(source))
    }

    /// The same, with a source another ingest of this process uses too (see [`Self::settings`]).
    pub fn with_shared_settings(mut self, source: Arc<SettingsSource>) -> GithubIngest {
        self.settings = Some(source);
        self
    }

    /// Where this ingest reads repositories' settings, for the Jira ingest to share.
    pub fn settings(&self) -> Option<&Arc<SettingsSource>> {
        self.settings.as_ref()
    }

    /// Judges every repository's alerts by `settings` (config, policy, CODEOWNERS) instead of
    /// reading each repository's own: how the local run applies the policy a deployment would.
    /// Settings read through GitHub (`with_settings`) take precedence.
    pub fn with_fixed_settings(mut self, settings: Arc<RepoSettings>) -> GithubIngest {
        self.fixed = Some(settings);
        self
    }

    pub fn with_max_body(mut self, bytes: usize) -> GithubIngest {
        self.gate = self.gate.map(|gate| gate.with_max_body(bytes));
        self
    }

    pub fn executor(&self) -> &Arc<Executor> {
        &self.executor
    }

    /// Handles one delivery start to end. Never panics, never answers 5xx for the caller's
    /// mistakes.
    pub async fn handle(&self, headers: &HeaderMap, body: &[u8]) -> Answer {
        let Some(gate) = &self.gate else {
            return Answer::refused(
                500,
                "not_configured",
                "this ingest takes no webhook requests",
            );
        };
        let Admitted { event, delivery } = match gate.admit(headers, body) {
            Ok(admitted) => admitted,
            Err(refusal) => return refusal,
        };
        let span = tracing::info_span!("delivery", delivery, event);
        self.route(event, delivery, body)
            .instrument(span)
            .await
            .answer(delivery)
    }

    /// Acts on an authenticated delivery: read it, then apply it.
    pub async fn route(&self, event: &str, delivery: &str, body: &[u8]) -> Delivered {
        match read_delivery(event, body) {
            Ok(work) => self.apply(delivery, work, None).await,
            Err(done) => done,
        }
    }

    /// Applies one read delivery: the work the worker does. `inbox` is the inbox item it was read
    /// from, if any: an alert's commit then settles that item done in the same write (see
    /// `Delivered::settled_inbox`); other work leaves settling to the caller.
    pub async fn apply(&self, delivery: &str, work: Work, inbox: Option<&str>) -> Delivered {
        let delivery_id = format!("github:{delivery}");
        match work {
            Work::Installation(change) => {
                match self
                    .executor
                    .apply_installation(&delivery_id, &change, None)
                    .await
                {
                    Ok(record) => {
                        // Newly covered repositories' existing alerts, now (bounded; see `backfill`).
                        crate::backfill::after_installation(
                            &self.executor,
                            self.settings.as_deref(),
                            &record,
                            &change,
                        )
                        .await;
                        let covered = record
                            .repositories
                            .values()
                            .filter(|r| record.covers(r.id))
                            .count();
                        tracing::info!(
                            installation = record.id,
                            covered,
                            outcome = super::Disposition::Applied.as_str(),
                            "installation recorded"
                        );
                        Delivered::Applied {
                            duplicate: false,
                            detail: json!({ "installation": record.id, "active": record.active, "repositories_covered": covered }),
                            inbox_settled: false,
                        }
                    }
                    Err(e) => Delivered::from_result(Err(e)),
                }
            }
            Work::Alert(alert) => self.apply_alert(&delivery_id, &alert, inbox).await,
            // The pull request's summary comment, and on a merge the tickets it fixes.
            Work::PullRequest(change) => Delivered::from_result(
                self.executor
                    .apply_pull_request(&delivery_id, &change)
                    .await,
            ),
            // The same round trip as Jira's: closure verified against GitHub, won't-fix dismisses,
            // under the ticket's repository's settings.
            Work::Ticket(event) => Delivered::from_result(
                self.executor
                    .apply_ticket_with(&delivery_id, &event, self.settings.as_deref())
                    .await,
            ),
        }
    }

    async fn apply_alert(
        &self,
        delivery_id: &str,
        alert: &AlertEvent,
        inbox: Option<&str>,
    ) -> Delivered {
        let span = tracing::info_span!(
            "alert",
            repository = %alert.finding.repository.full_name,
            kind = ?alert.finding.kind,
            alert = alert.finding.number,
            action = %alert.action
        );
        self.apply_alert_in_span(delivery_id, alert, inbox)
            .instrument(span)
            .await
    }

    async fn apply_alert_in_span(
        &self,
        delivery_id: &str,
        alert: &AlertEvent,
        inbox: Option<&str>,
    ) -> Delivered {
        // With a GitHub connection, the repository's own settings decide (config file, org
        // defaults, Rego policy, CODEOWNERS); in a local run, its one settings file (or the
        // defaults) through the same policy; without either (tests), built-in triage.
        let settings = match (&self.settings, &self.fixed) {
            (Some(source), _) => Some(
                source
                    .settings_for(alert.installation_id, &alert.finding.repository)
                    .await,
            ),
            (None, Some(fixed)) => Some(fixed.clone()),
            (None, None) => None,
        };
        let result = match settings {
            Some(settings) => {
                let verdict = settings.verdict(&alert.finding);
                self.executor
                    .apply_verdict_settling(delivery_id, alert, &verdict, &settings.engine, inbox)
                    .await
            }
            None => {
                let verdict = builtin(&alert.finding);
                self.executor
                    .apply_verdict_settling(
                        delivery_id,
                        alert,
                        &verdict,
                        self.executor.config(),
                        inbox,
                    )
                    .await
            }
        };
        Delivered::from_result(result)
    }
}

/// An authenticated delivery, read: what there is to apply.
#[derive(Debug)]
pub enum Work {
    Installation(InstallationEvent),
    /// Boxed: an alert event is several hundred bytes, the other variants a fraction of it.
    Alert(Box<AlertEvent>),
    PullRequest(scantix_core::event::PullRequestEvent),
    /// A person closed, reopened or deleted a ticket kept in GitHub Issues.
    Ticket(scantix_core::event::TicketEvent),
}

/// Reads a delivery without acting on it (pure): the work it asks for, or the answer it gets
/// without any (`ping`, events and actions scantix does not act on, malformed bodies). The webhook
/// function calls this before making a delivery durable, so what the worker later reads is known to
/// be readable and nothing is stored for deliveries that need no work.
pub fn read_delivery(event: &str, body: &[u8]) -> Result<Work, Delivered> {
    if event == "issues" {
        return read_issues(body);
    }
    if event == "pull_request" {
        return match scantix_webhooks::github::pull_request::parse_pull_request(body) {
            Ok(Some(change)) => Ok(Work::PullRequest(change)),
            Ok(None) => Err(Delivered::ignored(
                "`pull_request` action not acted on".to_owned(),
            )),
            Err(e) => Err(malformed(&e)),
        };
    }
    if matches!(event, "installation" | "installation_repositories") {
        return match parse_installation(event, body) {
            Ok(Some(change)) => Ok(Work::Installation(change)),
            Ok(None) => Err(Delivered::ignored(format!("`{event}` action not acted on"))),
            Err((path, message)) => Err(Delivered::rejected(
                format!("{path}: {message}"),
                Some(path),
            )),
        };
    }
    match parse_delivery(event, body) {
        Ok(ParsedDelivery::Alert(alert)) => Ok(Work::Alert(Box::new(alert))),
        Ok(ParsedDelivery::Ping) => Err(Delivered::pong()),
        Ok(ParsedDelivery::Ignored { reason }) => Err(Delivered::ignored(reason)),
        Err(e) => Err(malformed(&e)),
    }
}

/// An `issues` delivery: a ticket event if it is about a scantix ticket in GitHub Issues.
fn read_issues(body: &[u8]) -> Result<Work, Delivered> {
    use scantix_webhooks::github::issues::{ParsedIssuesDelivery, parse_issues_delivery};
    match parse_issues_delivery(body) {
        Ok(ParsedIssuesDelivery::Ticket(event)) => Ok(Work::Ticket(event)),
        Ok(ParsedIssuesDelivery::Ignored { reason }) => Err(Delivered::ignored(reason)),
        Err(e) => Err(malformed(&e)),
    }
}

fn malformed(e: &PayloadError) -> Delivered {
    let path = match e {
        PayloadError::Invalid { path, .. } => Some(path.clone()),
        _ => None,
    };
    Delivered::rejected(e.to_string(), path)
}
