//! One Jira webhook request → one HTTP answer.
//!
//! Authenticity: Jira Cloud admin webhooks with a secret sign the body (`X-Hub-Signature:
//! sha256=<hex>`); Data Center webhooks cannot sign, so their URL carries a shared token
//! (`?token=…`), compared in constant time. Dedup is on `X-Atlassian-Webhook-Identifier` (Jira
//! retries with the same id), or on the body's digest where Data Center sends none.

use super::{Answer, DEFAULT_MAX_BODY};
use crate::engine::Executor;
use crate::github::signature::verify_signature;
use crate::jira::webhook::{ParsedJiraDelivery, parse_jira_delivery};
use crate::secret::Secret;
use http::HeaderMap;
use serde_json::json;
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

/// Receives Jira webhooks.
pub struct JiraIngest {
    authenticity: JiraAuthenticity,
    executor: Arc<Executor>,
    max_body: usize,
}

impl JiraIngest {
    pub fn new(authenticity: JiraAuthenticity, executor: Arc<Executor>) -> JiraIngest {
        JiraIngest {
            authenticity,
            executor,
            max_body: DEFAULT_MAX_BODY,
        }
    }

    /// Handles one delivery; `query` is the request URL's raw query string.
    pub async fn handle(&self, headers: &HeaderMap, query: Option<&str>, body: &[u8]) -> Answer {
        let header = |name: &str| headers.get(name).and_then(|v| v.to_str().ok());
        if let Some(refusal) = Answer::too_large(body, self.max_body) {
            return refusal;
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
            return Answer::refused(401, "bad_signature", why);
        }
        let delivery = match header("x-atlassian-webhook-identifier")
            .filter(|d| !d.is_empty() && d.len() <= 128)
        {
            Some(id) => format!("jira:{id}"),
            None => format!("jira:sha256:{}", hex::encode(Sha256::digest(body))),
        };
        let span = tracing::info_span!("delivery", delivery = %delivery, source = "jira");
        self.route(&delivery, body).instrument(span).await
    }

    /// Acts on an authenticated delivery.
    async fn route(&self, delivery: &str, body: &[u8]) -> Answer {
        let event = match parse_jira_delivery(body) {
            Ok(ParsedJiraDelivery::Ticket(event)) => event,
            Ok(ParsedJiraDelivery::Ignored { reason }) => {
                tracing::info!(reason = %reason, outcome = "ignored", "delivery ignored");
                return Answer::new(202, json!({ "status": "ignored", "reason": reason }));
            }
            Err(e) => {
                tracing::warn!(error = %e, "malformed jira payload");
                let mut answer = Answer::refused(400, "malformed_payload", e.to_string());
                answer.body["path"] = json!(e.path);
                return answer;
            }
        };
        let result = self.executor.apply_ticket(delivery, &event).await;
        super::answer_for(result, delivery)
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
