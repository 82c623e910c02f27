//! One Jira webhook request → one HTTP answer.
//!
//! Authenticity: Jira Cloud admin webhooks with a secret sign the body (`X-Hub-Signature:
//! sha256=<hex>`); Data Center webhooks cannot sign, so their URL carries a shared token
//! (`?token=…`), compared in constant time. Dedup is on `X-Atlassian-Webhook-Identifier` (Jira
//! retries with the same id), or on the body's digest where Data Center sends none.

use super::{Answer, DEFAULT_MAX_BODY, Delivered};
use crate::execute::Executor;
use crate::repo_settings::SettingsSource;
use http::HeaderMap;
use scantix_core::event::TicketEvent;
use scantix_core::secret::Secret;
use scantix_webhooks::jira::{ParsedJiraDelivery, parse_jira_delivery};
use scantix_webhooks::signature::verify_signature;
use sha2::{Digest, Sha256};
use std::sync::Arc;
use tracing::Instrument;

/// How Jira deliveries prove they are Jira's.
#[derive(Debug, Clone)]
pub enum JiraAuthenticity {
    /// Cloud: HMAC-SHA256 of the body with this secret, in `X-Hub-Signature`.
    Signature(Secret),
    /// Data Center: this token in the webhook URL's query string (`token=`).
    UrlToken(Secret),
}

/// Checks Jira webhook requests before anything reads them: size, then authenticity.
#[derive(Debug, Clone)]
pub struct JiraGate {
    authenticity: JiraAuthenticity,
    max_body: usize,
}

impl JiraGate {
    pub fn new(authenticity: JiraAuthenticity) -> JiraGate {
        JiraGate {
            authenticity,
            max_body: DEFAULT_MAX_BODY,
        }
    }

    /// The delivery's dedup id (`jira:<identifier>`, or `jira:sha256:<digest of the body>` where
    /// Data Center sends none), or the refusal the request gets (413, 401). `query` is the request
    /// URL's raw query string.
    pub fn admit(
        &self,
        headers: &HeaderMap,
        query: Option<&str>,
        body: &[u8],
    ) -> Result<String, Answer> {
        let header = |name: &str| headers.get(name).and_then(|v| v.to_str().ok());
        if let Some(refusal) = Answer::too_large(body, self.max_body) {
            return Err(refusal);
        }
        let authentic = match &self.authenticity {
            JiraAuthenticity::Signature(secret) => {
                verify_signature(secret.expose().as_bytes(), body, header("x-hub-signature"))
                    .map_err(|e| e.to_string())
            }
            JiraAuthenticity::UrlToken(token) => match query_param(query.unwrap_or(""), "token") {
                Some(given) if constant_time_eq(given.as_bytes(), token.expose().as_bytes()) => {
                    Ok(())
                }
                Some(_) => Err("the webhook token does not match".into()),
                None => Err("the webhook URL carries no token".into()),
            },
        };
        if let Err(why) = authentic {
            tracing::warn!(error = %why, "jira webhook refused");
            return Err(Answer::refused(401, "bad_signature", why));
        }
        Ok(
            match header("x-atlassian-webhook-identifier")
                .filter(|d| !d.is_empty() && d.len() <= 128)
            {
                Some(id) => format!("jira:{id}"),
                None => format!("jira:sha256:{}", hex::encode(Sha256::digest(body))),
            },
        )
    }
}

/// Applies Jira webhooks: synchronously in the local server and tests (`handle`), or item by item
/// in the worker (`route`).
pub struct JiraIngest {
    /// `None` in the worker, which applies deliveries the webhook function already checked.
    gate: Option<JiraGate>,
    executor: Arc<Executor>,
    /// Where the settings of a ticket's repository are read (shared with the GitHub ingest);
    /// without it, events are decided under the executor's configuration.
    settings: Option<Arc<SettingsSource>>,
}

impl JiraIngest {
    pub fn new(authenticity: JiraAuthenticity, executor: Arc<Executor>) -> JiraIngest {
        JiraIngest {
            gate: Some(JiraGate::new(authenticity)),
            executor,
            settings: None,
        }
    }

    /// Decides each event under the settings of its ticket's repository, read through `source`
    /// (the GitHub ingest's: see `GithubIngest::settings`), as that repository's alerts are.
    pub fn with_settings(mut self, source: Arc<SettingsSource>) -> JiraIngest {
        self.settings = Some(source);
        self
    }

    /// An ingest that only applies deliveries already checked and stored by the webhook function
    /// (the worker's): it holds no webhook secret, and `handle` refuses every request.
    pub fn for_worker(executor: Arc<Executor>) -> JiraIngest {
        JiraIngest {
            gate: None,
            executor,
            settings: None,
        }
    }

    /// Handles one delivery start to end; `query` is the request URL's raw query string.
    pub async fn handle(&self, headers: &HeaderMap, query: Option<&str>, body: &[u8]) -> Answer {
        let Some(gate) = &self.gate else {
            return Answer::refused(
                500,
                "not_configured",
                "this ingest takes no webhook requests",
            );
        };
        let delivery = match gate.admit(headers, query, body) {
            Ok(delivery) => delivery,
            Err(refusal) => return refusal,
        };
        let span = tracing::info_span!("delivery", delivery = %delivery, source = "jira");
        self.route(&delivery, body)
            .instrument(span)
            .await
            .answer(&delivery)
    }

    /// Acts on an authenticated delivery (`delivery` is its dedup id, `jira:…`).
    pub async fn route(&self, delivery: &str, body: &[u8]) -> Delivered {
        match read_jira_delivery(body) {
            Ok(event) => self.apply(delivery, &event).await,
            Err(done) => done,
        }
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
pub fn read_jira_delivery(body: &[u8]) -> Result<TicketEvent, Delivered> {
    match parse_jira_delivery(body) {
        Ok(ParsedJiraDelivery::Ticket(event)) => Ok(event),
        Ok(ParsedJiraDelivery::Ignored { reason }) => Err(Delivered::ignored(reason)),
        Err(e) => Err(Delivered::rejected(e.to_string(), Some(e.path.clone()))),
    }
}

fn query_param<'a>(query: &'a str, name: &str) -> Option<&'a str> {
    query
        .split('&')
        .filter_map(|pair| pair.split_once('='))
        .find(|(k, _)| *k == name)
        .map(|(_, v)| v)
}

/// Compares without an early exit, so timing does not tell how much of a guess was right.
fn constant_time_eq(a: &[u8], b: &[u8]) -> bool {
    a.len() == b.len() && a.iter().zip(b).fold(0u8, |acc, (x, y)| acc | (x ^ y)) == 0
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tokens_are_read_from_the_query_and_compared_exactly() {
        assert_eq!(query_param("a=1&token=s3cret", "token"), Some("s3cret"));
        assert_eq!(query_param("tokenx=1", "token"), None);
        assert!(constant_time_eq(b"abc", b"abc"));
        assert!(!constant_time_eq(b"abc", b"abd") && !constant_time_eq(b"abc", b"abcd"));
    }
}
