//! One webhook request (headers + raw body) → one HTTP answer. The Lambda functions and the local
//! server all call this, so what a caller sees is the same everywhere.
//!
//! Order matters: size, then authenticity over the raw bytes (before any parsing, so
//! unauthenticated input never reaches the JSON parser), then dedup and routing. Every refusal says
//! why; the caller's mistakes are 4xx, ours are 5xx.

pub mod github;
pub mod jira;
pub mod receive;
pub mod upload;

pub use github::GithubIngest;
pub use jira::JiraIngest;
pub use receive::{GithubReceiver, JiraReceiver};
pub use upload::UploadReceiver;

use crate::execute::{ExecuteError, Outcome};
use async_trait::async_trait;
use http::HeaderMap;
use serde_json::{Value, json};

/// GitHub caps webhook payloads at 25 MB; alert payloads are a few KB. 1 MiB leaves room for the
/// largest real alert (long rule help texts) while refusing abuse early.
pub const DEFAULT_MAX_BODY: usize = 1024 * 1024;

/// Something that answers webhook requests: the synchronous ingests (local server, tests) and the
/// durable receivers (the Lambda functions). `query` is the URL's raw query string.
#[async_trait]
pub trait Endpoint: Send + Sync {
    async fn answer(&self, headers: &HeaderMap, query: Option<&str>, body: &[u8]) -> Answer;
}

#[async_trait]
impl Endpoint for GithubIngest {
    async fn answer(&self, headers: &HeaderMap, _query: Option<&str>, body: &[u8]) -> Answer {
        self.handle(headers, body).await
    }
}

#[async_trait]
impl Endpoint for GithubReceiver {
    async fn answer(&self, headers: &HeaderMap, _query: Option<&str>, body: &[u8]) -> Answer {
        self.handle(headers, body).await
    }
}

#[async_trait]
impl Endpoint for UploadReceiver {
    async fn answer(&self, headers: &HeaderMap, query: Option<&str>, body: &[u8]) -> Answer {
        self.handle(headers, query, body).await
    }
}

#[async_trait]
impl Endpoint for JiraIngest {
    async fn answer(&self, headers: &HeaderMap, query: Option<&str>, body: &[u8]) -> Answer {
        self.handle(headers, query, body).await
    }
}

#[async_trait]
impl Endpoint for JiraReceiver {
    async fn answer(&self, headers: &HeaderMap, query: Option<&str>, body: &[u8]) -> Answer {
        self.handle(headers, query, body).await
    }
}

/// What became of a delivery that got as far as being read: the `status` of its answer and the
/// `outcome` of its log line, both from here, so that the two cannot disagree. (Refusals before
/// that — size, signature, headers, a malformed body — are answered with an `error` instead.)
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Disposition {
    /// Applied now.
    Applied,
    /// Applied before, under the same delivery id: nothing done this time.
    Duplicate,
    /// Nothing for scantix to do (an event or action it does not act on, an uncovered repository).
    Ignored,
    /// GitHub's `ping`.
    Pong,
    /// Could not be applied (the answer says whether a retry can help).
    Failed,
}

impl Disposition {
    pub fn as_str(self) -> &'static str {
        match self {
            Disposition::Applied => "applied",
            Disposition::Duplicate => "duplicate",
            Disposition::Ignored => "ignored",
            Disposition::Pong => "pong",
            Disposition::Failed => "failed",
        }
    }
}

/// An HTTP answer: status and JSON body.
#[derive(Debug, Clone, PartialEq)]
pub struct Answer {
    pub status: u16,
    pub body: Value,
}

impl Answer {
    pub(crate) fn new(status: u16, body: Value) -> Answer {
        Answer { status, body }
    }

    /// 413 for a body over `max` bytes, checked before anything else reads it.
    pub(crate) fn too_large(body: &[u8], max: usize) -> Option<Answer> {
        (body.len() > max).then(|| {
            Answer::refused(
                413,
                "payload_too_large",
                format!("body is {} bytes; the limit is {max}", body.len()),
            )
        })
    }

    pub(crate) fn refused(status: u16, error: &str, detail: impl Into<String>) -> Answer {
        Answer::new(status, json!({ "error": error, "detail": detail.into() }))
    }

    /// 202 for a delivery scantix does not act on, and its log line.
    pub(crate) fn ignored(reason: String) -> Answer {
        let disposition = Disposition::Ignored;
        tracing::info!(reason = %reason, outcome = disposition.as_str(), "delivery ignored");
        Answer::new(
            202,
            json!({ "status": disposition.as_str(), "reason": reason }),
        )
    }

    /// 200 for GitHub's `ping`, and its log line.
    pub(crate) fn pong() -> Answer {
        let disposition = Disposition::Pong;
        tracing::info!(outcome = disposition.as_str(), "ping answered");
        Answer::new(200, json!({ "status": disposition.as_str() }))
    }

    /// 400 for a body scantix cannot read, naming the JSON `path` of what is wrong when known.
    pub(crate) fn malformed(detail: impl Into<String>, path: Option<&str>) -> Answer {
        let mut answer = Answer::refused(400, "malformed_payload", detail);
        if let Some(path) = path {
            answer.body["path"] = json!(path);
        }
        answer
    }
}

pub(crate) fn answer_for(result: Result<Outcome, ExecuteError>, delivery: &str) -> Answer {
    match result {
        Ok(Outcome {
            ignored: Some(reason),
            ..
        }) => Answer::ignored(reason),
        Ok(outcome) => {
            let disposition = if outcome.duplicate {
                Disposition::Duplicate
            } else {
                Disposition::Applied
            };
            tracing::info!(
                group = outcome.group.as_ref().map(|g| g.as_str()),
                ticket = outcome.ticket.as_ref().map(|t| t.key.as_str()),
                actions = outcome.actions.len(),
                outcome = disposition.as_str(),
                "delivery {}",
                disposition.as_str()
            );
            Answer::new(
                200,
                json!({ "status": disposition.as_str(), "outcome": outcome }),
            )
        }
        Err(e) => {
            tracing::error!(error = %e, retryable = e.is_retryable(), outcome = Disposition::Failed.as_str(), "delivery failed");
            let status = if e.is_retryable() { 503 } else { 500 };
            Answer::new(
                status,
                json!({ "error": "processing_failed", "detail": e.to_string(), "delivery": delivery, "retryable": e.is_retryable() }),
            )
        }
    }
}
