//! One webhook request (headers + raw body) → one HTTP answer; inside, a typed [`Delivered`] that
//! the worker records without any HTTP in between. The Lambda functions and the local
//! server all call this, so what a caller sees is the same everywhere.
//!
//! Order matters: size, then authenticity over the raw bytes (before any parsing, so
//! unauthenticated input never reaches the JSON parser), then dedup and routing. Every refusal says
//! why; the caller's mistakes are 4xx, ours are 5xx.

pub mod delivered;
pub mod github;
pub mod jira;
pub mod linear;
pub mod receive;
pub mod servicenow;
pub mod upload;

pub use delivered::{Delivered, Disposition};
pub use github::GithubIngest;
pub use jira::JiraIngest;
pub use linear::LinearIngest;
pub use receive::{GithubReceiver, JiraReceiver, LinearReceiver};
pub use servicenow::{ServiceNowIngest, ServiceNowReceiver};
pub use upload::UploadReceiver;

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
impl Endpoint for LinearIngest {
    async fn answer(&self, headers: &HeaderMap, _query: Option<&str>, body: &[u8]) -> Answer {
        self.handle(headers, body).await
    }
}

#[async_trait]
impl Endpoint for LinearReceiver {
    async fn answer(&self, headers: &HeaderMap, _query: Option<&str>, body: &[u8]) -> Answer {
        self.handle(headers, body).await
    }
}

#[async_trait]
impl Endpoint for JiraReceiver {
    async fn answer(&self, headers: &HeaderMap, query: Option<&str>, body: &[u8]) -> Answer {
        self.handle(headers, query, body).await
    }
}

#[async_trait]
impl Endpoint for ServiceNowIngest {
    async fn answer(&self, headers: &HeaderMap, _query: Option<&str>, body: &[u8]) -> Answer {
        self.handle(headers, body).await
    }
}

#[async_trait]
impl Endpoint for ServiceNowReceiver {
    async fn answer(&self, headers: &HeaderMap, _query: Option<&str>, body: &[u8]) -> Answer {
        self.handle(headers, body).await
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
}
