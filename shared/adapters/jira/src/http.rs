//! The one way the adapter talks to Jira: `Http::send`, a `Call` sent through the shared outbound
//! client (`scantix_http::outbound`: its retry policy repeats what is safe to repeat, waits out
//! short rate limits, and reports ambiguity), with Jira's credentials; every answer that is not a
//! success becomes a `Failure` here (`errors`).

use super::dialect::Dialect;
use super::errors::{Failure, rejection};
use super::settings::JiraAuth;
use ::http::Method;
use scantix_core::ports::tracker::TrackerError;
pub use scantix_http::outbound::Replay;
use scantix_http::outbound::{HttpClient, Request, SendError};
use serde::de::DeserializeOwned;
use serde_json::Value;
use std::time::Duration;

/// Longest wait the adapter will sit through inside one call. A `Retry-After` asking for more is
/// honoured by giving up now (retryably), not by calling early.
pub const MAX_WAIT: Duration = Duration::from_secs(30);

/// One request, described.
#[derive(Debug)]
pub struct Call<'a> {
    pub method: Method,
    /// Under the base URL, starting with `/`.
    pub path: String,
    pub query: Vec<(&'static str, String)>,
    pub body: Option<Value>,
    pub replay: Replay,
    /// The issue the call is about: a 404 then means it is gone.
    pub issue: Option<&'a str>,
}

impl<'a> Call<'a> {
    pub fn new(method: Method, path: String, replay: Replay) -> Call<'a> {
        Call {
            method,
            path,
            query: Vec::new(),
            body: None,
            replay,
            issue: None,
        }
    }

    pub fn query(mut self, name: &'static str, value: impl Into<String>) -> Self {
        self.query.push((name, value.into()));
        self
    }

    pub fn body(mut self, body: Value) -> Self {
        self.body = Some(body);
        self
    }

    pub fn about(mut self, issue: &'a str) -> Self {
        self.issue = Some(issue);
        self
    }
}

/// A successful answer.
#[derive(Debug)]
pub struct Reply {
    pub body: Vec<u8>,
}

impl Reply {
    pub fn json<T: DeserializeOwned>(&self, what: &str) -> Result<T, Failure> {
        serde_json::from_slice(&self.body).map_err(|e| {
            Failure::from(TrackerError::Failed(format!(
                "unexpected answer from Jira to {what}: {e}"
            )))
        })
    }
}

pub struct Http {
    pub client: HttpClient,
    /// Without a trailing slash.
    pub base_url: String,
    pub dialect: Dialect,
    pub auth: JiraAuth,
}

impl Http {
    pub async fn send(&self, call: &Call<'_>) -> Result<Reply, Failure> {
        let authorization =
            self.dialect
                .authorization(&self.auth)
                .ok_or_else(|| TrackerError::Misconfigured {
                    setting: "jira.auth".into(),
                    message: "the credentials cannot be sent in a header (a line break?)".into(),
                })?;
        let mut request = Request::new(
            call.method.clone(),
            format!("{}{}", self.base_url, call.path),
            call.replay,
        )
        .header(
            ::http::header::ACCEPT,
            ::http::header::HeaderValue::from_static("application/json"),
        )
        .authorization(authorization);
        request.query.clone_from(&call.query);
        request.body.clone_from(&call.body);
        match self.client.send(&request).await {
            Ok(answer) if answer.status.is_success() => Ok(Reply {
                body: answer.body.to_vec(),
            }),
            Ok(answer) => Err(rejection(answer.status, &answer.body, call.issue)),
            Err(SendError::Ambiguous { problem, status }) => Err(Failure {
                status,
                ..Failure::ambiguous(problem)
            }),
            Err(e @ (SendError::GaveUp { .. } | SendError::RateLimited { .. })) => {
                Err(TrackerError::Retryable(format!("Jira: {e}")).into())
            }
            Err(SendError::TooLarge(problem)) => Err(TrackerError::Failed(problem).into()),
            Err(SendError::Invalid(problem)) => Err(TrackerError::Misconfigured {
                setting: "jira.base-url".into(),
                message: problem,
            }
            .into()),
        }
    }

    /// The pause before running an ambiguous flow again (see `JiraTracker::repeat`).
    pub fn backoff(&self, attempt: u32) -> Duration {
        self.client.retry_policy().backoff(attempt)
    }

    pub fn max_attempts(&self) -> u32 {
        self.client.retry_policy().max_attempts
    }
}
