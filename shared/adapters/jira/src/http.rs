//! The one way the adapter talks to Jira: `Http::send`, which authenticates, retries what can be
//! retried (429 after `Retry-After`, 5xx and network failures with exponential backoff and
//! jitter), and turns every other answer into a `Failure`. Logs carry method, path, status and
//! attempt — never headers or bodies.

use super::dialect::Dialect;
use super::errors::{Failure, rejection};
use super::settings::JiraAuth;
use reqwest::header::{HeaderMap, RETRY_AFTER};
use reqwest::{Method, StatusCode};
use scantix_core::ports::tracker::TrackerError;
use serde::de::DeserializeOwned;
use serde_json::Value;
use std::hash::{BuildHasher, Hasher};
use std::time::Duration;

/// Longest wait the adapter will sit through inside one call. A `Retry-After` asking for more is
/// honoured by giving up now (retryably), not by calling early.
pub const MAX_WAIT: Duration = Duration::from_secs(30);

/// Whether repeating a request after an unclear failure is harmless.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Replay {
    /// GETs, searches, edits that set values: repeat freely.
    Safe,
    /// Creating an issue or a comment, a transition: a timeout or 5xx may hide a success, so the
    /// caller checks before repeating (see `JiraTracker::repeat`).
    Unsafe,
}

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
    pub client: reqwest::Client,
    /// Without a trailing slash.
    pub base_url: String,
    pub dialect: Dialect,
    pub auth: JiraAuth,
    pub max_attempts: u32,
    pub backoff_base: Duration,
}

impl Http {
    pub async fn send(&self, call: &Call<'_>) -> Result<Reply, Failure> {
        let mut attempt = 0;
        loop {
            attempt += 1;
            let url = format!("{}{}", self.base_url, call.path);
            let mut request = self
                .client
                .request(call.method.clone(), url)
                .header(reqwest::header::ACCEPT, "application/json");
            if !call.query.is_empty() {
                request = request.query(&call.query);
            }
            if let Some(body) = &call.body {
                request = request.json(body);
            }
            request = self.dialect.authorize(request, &self.auth);

            let (problem, retry_after) = match request.send().await {
                Ok(response) => {
                    let status = response.status();
                    let retry_after = retry_after(response.headers());
                    let body = response.bytes().await;
                    tracing::debug!(
                        method = %call.method, path = %call.path, status = status.as_u16(), attempt,
                        "jira call"
                    );
                    match body {
                        Ok(body) if status.is_success() => {
                            return Ok(Reply {
                                body: body.to_vec(),
                            });
                        }
                        Ok(_) if status == StatusCode::TOO_MANY_REQUESTS => {
                            (format!("rate limited (429) on {}", call.path), retry_after)
                        }
                        Ok(_) if status.is_server_error() => {
                            let problem = format!("Jira answered {status} on {}", call.path);
                            if call.replay == Replay::Unsafe {
                                return Err(Failure {
                                    status: Some(status),
                                    ..Failure::ambiguous(problem)
                                });
                            }
                            (problem, retry_after)
                        }
                        Ok(body) => return Err(rejection(status, &body, call.issue)),
                        // The answer was cut off: Jira may have acted on the request.
                        Err(e) => {
                            let problem = format!(
                                "reading Jira's answer ({status}) to {} failed: {}",
                                call.path,
                                without_url(&e)
                            );
                            if call.replay == Replay::Unsafe {
                                return Err(Failure::ambiguous(problem));
                            }
                            (problem, None)
                        }
                    }
                }
                Err(e) => {
                    let problem =
                        format!("calling Jira at {} failed: {}", call.path, without_url(&e));
                    tracing::debug!(
                        method = %call.method, path = %call.path, attempt,
                        timeout = e.is_timeout(), connect = e.is_connect(), "jira call failed"
                    );
                    // A refused connection never reached Jira; anything later might have.
                    if call.replay == Replay::Unsafe && !e.is_connect() {
                        return Err(Failure::ambiguous(problem));
                    }
                    (problem, None)
                }
            };

            if attempt >= self.max_attempts {
                tracing::warn!(method = %call.method, path = %call.path, attempt, "jira call gave up");
                return Err(TrackerError::Retryable(format!(
                    "{problem} (after {attempt} attempts)"
                ))
                .into());
            }
            let wait = match retry_after {
                Some(asked) if asked > MAX_WAIT => {
                    return Err(TrackerError::Retryable(format!(
                        "{problem}; Jira asks to wait {}s",
                        asked.as_secs()
                    ))
                    .into());
                }
                Some(asked) => asked + self.backoff_base.mul_f64(jitter()),
                None => backoff(self.backoff_base, attempt),
            };
            tracing::info!(
                method = %call.method, path = %call.path, attempt, wait_ms = wait.as_millis() as u64,
                "jira call will be retried"
            );
            tokio::time::sleep(wait).await;
        }
    }
}

/// reqwest's error text includes the URL (and so the query): keep just the kind.
fn without_url(e: &reqwest::Error) -> String {
    let kind = if e.is_timeout() {
        "timed out"
    } else if e.is_connect() {
        "could not connect"
    } else if e.is_body() || e.is_decode() {
        "broken body"
    } else {
        "request failed"
    };
    let source = std::error::Error::source(e)
        .map(|s| format!(": {s}"))
        .unwrap_or_default();
    format!("{kind}{source}")
}

/// `Retry-After` as seconds or as an HTTP date.
pub fn retry_after(headers: &HeaderMap) -> Option<Duration> {
    let value = headers.get(RETRY_AFTER)?.to_str().ok()?.trim();
    if let Ok(seconds) = value.parse::<u64>() {
        return Some(Duration::from_secs(seconds));
    }
    let at = chrono::DateTime::parse_from_rfc2822(value).ok()?;
    let from_now = at.signed_duration_since(chrono::Utc::now());
    Some(from_now.to_std().unwrap_or(Duration::ZERO))
}

/// Exponential backoff with "equal jitter": between half and all of `base · 2^(attempt-1)`,
/// never more than `MAX_WAIT`.
pub fn backoff(base: Duration, attempt: u32) -> Duration {
    let full = base
        .saturating_mul(2u32.saturating_pow(attempt.saturating_sub(1)))
        .min(MAX_WAIT);
    full.mul_f64(0.5 + jitter() / 2.0)
}

/// A number in [0, 1), different on every call. `RandomState` is seeded randomly per process and
/// re-keyed per instance: enough to spread retries, with no extra dependency.
fn jitter() -> f64 {
    let bits = std::collections::hash_map::RandomState::new()
        .build_hasher()
        .finish();
    (bits >> 11) as f64 / (1u64 << 53) as f64
}

#[cfg(test)]
mod tests {
    use super::*;
    use reqwest::header::HeaderValue;

    #[test]
    fn retry_after_reads_seconds_and_http_dates() {
        let mut h = HeaderMap::new();
        h.insert(RETRY_AFTER, HeaderValue::from_static("7"));
        assert_eq!(retry_after(&h), Some(Duration::from_secs(7)));
        let soon = chrono::Utc::now() + chrono::Duration::seconds(20);
        h.insert(
            RETRY_AFTER,
            HeaderValue::from_str(&soon.format("%a, %d %b %Y %H:%M:%S GMT").to_string()).unwrap(),
        );
        let d = retry_after(&h).unwrap();
        assert!(
            d > Duration::from_secs(17) && d <= Duration::from_secs(20),
            "{d:?}"
        );
        h.insert(
            RETRY_AFTER,
            HeaderValue::from_static("Wed, 21 Oct 2015 07:28:00 GMT"),
        );
        assert_eq!(retry_after(&h), Some(Duration::ZERO));
        h.insert(RETRY_AFTER, HeaderValue::from_static("soon"));
        assert_eq!(retry_after(&h), None);
    }

    #[test]
    fn backoff_grows_with_jitter_and_is_capped() {
        let base = Duration::from_millis(100);
        for attempt in 1..=4 {
            let full = base * 2u32.pow(attempt - 1);
            for _ in 0..50 {
                let d = backoff(base, attempt);
                assert!(d >= full / 2 && d <= full, "{attempt}: {d:?}");
            }
        }
        assert!(backoff(base, 40) <= MAX_WAIT);
        let spread: std::collections::BTreeSet<_> = (0..20).map(|_| backoff(base, 3)).collect();
        assert!(spread.len() > 10);
    }
}
