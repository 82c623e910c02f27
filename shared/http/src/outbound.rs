//! The one outbound HTTP client of the adapters (Jira, GitHub REST and the App's token exchange,
//! GitHub Issues, ServiceNow): reqwest with rustls, and one retry policy that knows which calls are
//! safe to repeat.
//!
//! What is decided here, for every adapter alike:
//! - **network failures and 5xx** are repeated with exponential backoff and jitter when the call
//!   is [`Replay::Safe`]; for a [`Replay::Unsafe`] call (a create, a comment, a transition) the
//!   failure may hide a success, so it comes back as [`SendError::Ambiguous`] and the adapter
//!   checks before repeating. A refused connection never reached the server and is repeated
//!   either way;
//! - **rate limits** (429) are waited out here when the service asks for at most
//!   [`RetryPolicy::max_rate_limit_wait`]; asked for longer, the call gives up at once with
//!   [`SendError::RateLimited`] (retrying early only prolongs a limit) and the group's outbox
//!   keeps the work. An adapter whose service signals limits its own way (GitHub's 403 with
//!   `x-ratelimit-*`) sets the wait to zero and reads the answer itself;
//! - **every other answer** (2xx, 3xx, 4xx) is returned whole, for the adapter to say what it
//!   means: each adapter owns its endpoints and its errors, none owns a transport.
//!
//! Logs carry service, method, path (never the query), status and attempt — never a header or a
//! body; error texts never carry the URL's query either.
//!
//! Why reqwest and not octocrab for GitHub: scantix called octocrab only as a raw transport (its
//! typed API lacks the alert dismissal bodies per kind, cursor pagination of secret scanning, and
//! the per-call replay rules), which brought a second HTTP stack with its own retry layer that had
//! to be switched off; the App JWT it signed is one `jsonwebtoken` call. One stack, one policy.

use bytes::Bytes;
use http::header::{AUTHORIZATION, HeaderMap, HeaderValue, RETRY_AFTER};
use http::{Method, StatusCode};
use serde::de::DeserializeOwned;
use std::hash::{BuildHasher, Hasher};
use std::time::Duration;

/// Whether repeating a request after an unclear failure is harmless.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Replay {
    /// Reads, searches, edits that set values: repeat freely.
    Safe,
    /// Creates, comments, transitions: a timeout or 5xx may hide a success, so the caller looks
    /// before repeating.
    Unsafe,
}

/// How often and how patiently a call is repeated.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RetryPolicy {
    /// Attempts per call, the first included (1: no retries).
    pub max_attempts: u32,
    /// The first backoff; each further one doubles, with jitter.
    pub backoff_base: Duration,
    /// The longest backoff between two attempts.
    pub max_backoff: Duration,
    /// The longest `Retry-After` waited out inside one call; zero: rate limits are never waited
    /// out here.
    pub max_rate_limit_wait: Duration,
}

impl Default for RetryPolicy {
    fn default() -> RetryPolicy {
        RetryPolicy {
            max_attempts: 3,
            backoff_base: Duration::from_millis(500),
            max_backoff: Duration::from_secs(10),
            max_rate_limit_wait: Duration::ZERO,
        }
    }
}

impl RetryPolicy {
    /// Exponential backoff with "equal jitter": between half and all of `base · 2^(attempt-1)`,
    /// never more than `max_backoff`.
    pub fn backoff(&self, attempt: u32) -> Duration {
        let full = self
            .backoff_base
            .saturating_mul(2u32.saturating_pow(attempt.saturating_sub(1)))
            .min(self.max_backoff);
        full.mul_f64(0.5 + jitter() / 2.0)
    }
}

/// Whether redirects are followed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Redirects {
    /// Never: a redirect is an answer for the adapter to report (a wrong base URL, a login page).
    None,
    /// Within the same host only (GitHub's renamed repositories and transferred issues), so the
    /// credential never travels to another host.
    SameHost,
}

/// How a client is built.
#[derive(Debug, Clone)]
pub struct ClientSettings {
    /// Names the service in logs and errors (`jira`, `github`).
    pub service: &'static str,
    pub connect_timeout: Duration,
    /// The whole call, answer read included.
    pub timeout: Duration,
    pub redirects: Redirects,
    pub retry: RetryPolicy,
    /// The largest answer read; a longer one is refused (`SendError::TooLarge`), not buffered.
    pub max_body: usize,
}

impl ClientSettings {
    pub fn new(service: &'static str) -> ClientSettings {
        ClientSettings {
            service,
            connect_timeout: Duration::from_secs(10),
            timeout: Duration::from_secs(30),
            redirects: Redirects::None,
            retry: RetryPolicy::default(),
            // GitHub's largest answers (a page of 100 alerts, a 1 MB file as base64) fit well.
            max_body: 32 * 1024 * 1024,
        }
    }
}

/// A client could not be built.
#[derive(Debug, thiserror::Error)]
#[error("building the HTTP client: {0}")]
pub struct BuildError(String);

/// One request, described. `url` is whole (base URL and path); `query` is added to it.
#[derive(Debug, Clone)]
pub struct Request {
    pub method: Method,
    pub url: String,
    pub query: Vec<(&'static str, String)>,
    pub headers: HeaderMap,
    pub body: Option<serde_json::Value>,
    /// A form body (`application/x-www-form-urlencoded`) instead of JSON: OAuth token requests.
    pub form: Option<Form>,
    pub replay: Replay,
    /// A tighter bound than the client's on this answer (a large document read on the side).
    pub max_body: Option<usize>,
    /// A shorter time than the client's for this whole call, answer read included.
    pub timeout: Option<Duration>,
}

/// A form body. Its values may be credentials (an OAuth client secret), so `Debug` shows the names
/// only.
#[derive(Clone, Default)]
pub struct Form(pub Vec<(&'static str, String)>);

impl std::fmt::Debug for Form {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_list()
            .entries(self.0.iter().map(|(name, _)| name))
            .finish()
    }
}

impl Form {
    /// `name=value&…`, percent-encoded as HTML forms are (every byte but `A-Za-z0-9-._*`, spaces
    /// as `%20`, which every form decoder reads as a space too).
    pub fn encode(&self) -> String {
        use percent_encoding::{AsciiSet, NON_ALPHANUMERIC, utf8_percent_encode};
        const FORM: &AsciiSet = &NON_ALPHANUMERIC
            .remove(b'-')
            .remove(b'.')
            .remove(b'_')
            .remove(b'*');
        self.0
            .iter()
            .map(|(name, value)| {
                format!(
                    "{}={}",
                    utf8_percent_encode(name, FORM),
                    utf8_percent_encode(value, FORM)
                )
            })
            .collect::<Vec<_>>()
            .join("&")
    }
}

impl Request {
    pub fn new(method: Method, url: String, replay: Replay) -> Request {
        Request {
            method,
            url,
            query: Vec::new(),
            headers: HeaderMap::new(),
            body: None,
            form: None,
            replay,
            max_body: None,
            timeout: None,
        }
    }

    /// Reads at most `bytes` of the answer (never more than the client's own bound).
    pub fn max_body(mut self, bytes: usize) -> Request {
        self.max_body = Some(bytes);
        self
    }

    /// Gives the whole call `timeout`, answer read included, instead of the client's.
    pub fn timeout(mut self, timeout: Duration) -> Request {
        self.timeout = Some(timeout);
        self
    }

    pub fn query(mut self, name: &'static str, value: impl Into<String>) -> Request {
        self.query.push((name, value.into()));
        self
    }

    pub fn header(mut self, name: http::header::HeaderName, value: HeaderValue) -> Request {
        self.headers.insert(name, value);
        self
    }

    /// Sets `Authorization`, marked sensitive (never printed by `Debug`).
    pub fn authorization(mut self, mut value: HeaderValue) -> Request {
        value.set_sensitive(true);
        self.headers.insert(AUTHORIZATION, value);
        self
    }

    pub fn json(mut self, body: serde_json::Value) -> Request {
        self.body = Some(body);
        self
    }

    /// A form body instead of JSON (see [`Form`]).
    pub fn form(mut self, pairs: Vec<(&'static str, String)>) -> Request {
        self.form = Some(Form(pairs));
        self
    }

    /// Method and path, without the query (which may carry search terms): for logs and errors.
    pub fn describe(&self) -> String {
        format!("{} {}", self.method, path_of(&self.url))
    }
}

/// `Bearer <token>`, or `None` when the token cannot be a header value.
pub fn bearer(token: &str) -> Option<HeaderValue> {
    HeaderValue::from_str(&format!("Bearer {token}")).ok()
}

/// `Basic base64(user:password)`, or `None` when it cannot be a header value.
pub fn basic(user: &str, password: &str) -> Option<HeaderValue> {
    use base64::Engine as _;
    let encoded = base64::engine::general_purpose::STANDARD.encode(format!("{user}:{password}"));
    HeaderValue::from_str(&format!("Basic {encoded}")).ok()
}

/// A whole answer, whatever its status.
#[derive(Debug, Clone)]
pub struct Response {
    pub status: StatusCode,
    pub headers: HeaderMap,
    pub body: Bytes,
}

impl Response {
    /// The body as text (lossy: an error message is still worth reading).
    pub fn text(&self) -> String {
        String::from_utf8_lossy(&self.body).into_owned()
    }

    pub fn json<T: DeserializeOwned>(&self) -> Result<T, serde_json::Error> {
        serde_json::from_slice(&self.body)
    }

    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers.get(name)?.to_str().ok().map(str::trim)
    }
}

/// A call that brought no answer the adapter can read.
#[derive(Debug, thiserror::Error)]
pub enum SendError {
    /// Every attempt the policy allows failed (network, 5xx, short rate limits); later may work.
    #[error("{problem} (after {attempts} attempts)")]
    GaveUp {
        problem: String,
        attempts: u32,
        status: Option<StatusCode>,
    },
    /// The request may have taken effect: look before repeating it.
    #[error("{problem}")]
    Ambiguous {
        problem: String,
        status: Option<StatusCode>,
    },
    /// The service asks for a longer wait than a call may sit through.
    #[error("{problem}; asked to wait {}s", retry_after.as_secs())]
    RateLimited {
        problem: String,
        retry_after: Duration,
    },
    /// The request could not be sent as described (an invalid URL): repeating will not help.
    #[error("{0}")]
    Invalid(String),
    /// The answer was longer than the client reads.
    #[error("{0}")]
    TooLarge(String),
}

impl SendError {
    pub fn is_ambiguous(&self) -> bool {
        matches!(self, SendError::Ambiguous { .. })
    }

    /// The status of the last answer, when one came.
    pub fn status(&self) -> Option<StatusCode> {
        match self {
            SendError::GaveUp { status, .. } | SendError::Ambiguous { status, .. } => *status,
            SendError::RateLimited { .. } => Some(StatusCode::TOO_MANY_REQUESTS),
            SendError::Invalid(_) | SendError::TooLarge(_) => None,
        }
    }
}

/// The client: connections pooled, so build one per cold start and share it.
#[derive(Debug, Clone)]
pub struct HttpClient {
    client: reqwest::Client,
    service: &'static str,
    retry: RetryPolicy,
    max_body: usize,
}

impl HttpClient {
    pub fn new(settings: ClientSettings) -> Result<HttpClient, BuildError> {
        let redirects = match settings.redirects {
            Redirects::None => reqwest::redirect::Policy::none(),
            Redirects::SameHost => reqwest::redirect::Policy::custom(|attempt| {
                let same_host = attempt
                    .previous()
                    .first()
                    .is_some_and(|first| first.host_str() == attempt.url().host_str());
                if same_host && attempt.previous().len() < 5 {
                    attempt.follow()
                } else {
                    attempt.stop()
                }
            }),
        };
        let client = reqwest::Client::builder()
            .connect_timeout(settings.connect_timeout)
            .timeout(settings.timeout)
            .redirect(redirects)
            .user_agent(concat!("scantix/", env!("CARGO_PKG_VERSION")))
            .build()
            .map_err(|e| BuildError(describe(&e)))?;
        Ok(HttpClient {
            client,
            service: settings.service,
            retry: settings.retry,
            max_body: settings.max_body,
        })
    }

    pub fn retry_policy(&self) -> &RetryPolicy {
        &self.retry
    }

    /// The same client (and connections) with another retry policy.
    pub fn with_retry(mut self, retry: RetryPolicy) -> HttpClient {
        self.retry = retry;
        self
    }

    /// Sends `request`, repeating it where the policy allows (see the module doc). `Ok` holds any
    /// answer that is not a 5xx or a rate limit the policy handled.
    pub async fn send(&self, request: &Request) -> Result<Response, SendError> {
        let what = request.describe();
        let service = self.service;
        let mut attempt = 0;
        loop {
            attempt += 1;
            let (problem, status, asked) = match self.exchange(request).await {
                Ok(response) => {
                    tracing::debug!(
                        service, what = %what, status = response.status.as_u16(), attempt,
                        "outbound call"
                    );
                    let status = response.status;
                    if status == StatusCode::TOO_MANY_REQUESTS
                        && self.retry.max_rate_limit_wait > Duration::ZERO
                    {
                        let asked = retry_after(&response.headers);
                        let problem = format!("{service} rate limited (429) {what}");
                        match asked {
                            Some(wait) if wait > self.retry.max_rate_limit_wait => {
                                return Err(SendError::RateLimited {
                                    problem,
                                    retry_after: wait,
                                });
                            }
                            _ => (problem, Some(status), asked),
                        }
                    } else if status.is_server_error() {
                        let problem = format!("{service} answered {status} to {what}");
                        if request.replay == Replay::Unsafe {
                            return Err(SendError::Ambiguous {
                                problem,
                                status: Some(status),
                            });
                        }
                        (problem, Some(status), retry_after(&response.headers))
                    } else {
                        return Ok(response);
                    }
                }
                Err(Failed::Invalid(problem)) => return Err(SendError::Invalid(problem)),
                Err(Failed::TooLarge(problem)) => return Err(SendError::TooLarge(problem)),
                Err(Failed::NoAnswer { problem, connect }) => {
                    tracing::debug!(service, what = %what, attempt, connect, "outbound call failed");
                    // A refused connection never reached the service; anything later might have.
                    if request.replay == Replay::Unsafe && !connect {
                        return Err(SendError::Ambiguous {
                            problem,
                            status: None,
                        });
                    }
                    (problem, None, None)
                }
            };
            if attempt >= self.retry.max_attempts {
                tracing::warn!(service, what = %what, attempt, "outbound call gave up");
                return Err(SendError::GaveUp {
                    problem,
                    attempts: attempt,
                    status,
                });
            }
            let wait = match asked {
                Some(asked) if asked <= self.retry.max_rate_limit_wait => {
                    asked + self.retry.backoff_base.mul_f64(jitter())
                }
                _ => self.retry.backoff(attempt),
            };
            tracing::info!(
                service, what = %what, attempt, wait_ms = wait.as_millis() as u64,
                "outbound call will be retried"
            );
            tokio::time::sleep(wait).await;
        }
    }

    /// One request and its whole answer.
    async fn exchange(&self, request: &Request) -> Result<Response, Failed> {
        let what = request.describe();
        let url = reqwest::Url::parse(&request.url)
            .map_err(|e| Failed::Invalid(format!("{what}: not a URL: {e}")))?;
        let mut builder = self
            .client
            .request(request.method.clone(), url)
            .headers(request.headers.clone());
        if !request.query.is_empty() {
            builder = builder.query(&request.query);
        }
        if let Some(timeout) = request.timeout {
            builder = builder.timeout(timeout);
        }
        let max_body = request
            .max_body
            .map_or(self.max_body, |m| m.min(self.max_body));
        if let Some(body) = &request.body {
            builder = builder.json(body);
        } else if let Some(form) = &request.form {
            builder = builder
                .header(
                    http::header::CONTENT_TYPE,
                    HeaderValue::from_static("application/x-www-form-urlencoded"),
                )
                .body(form.encode());
        }
        let response = builder.send().await.map_err(|e| Failed::NoAnswer {
            problem: format!("calling {} {what} failed: {}", self.service, describe(&e)),
            connect: e.is_connect(),
        })?;
        let status = response.status();
        let headers = response.headers().clone();
        let mut response = response;
        let mut body = Vec::new();
        loop {
            let chunk = response.chunk().await.map_err(|e| Failed::NoAnswer {
                problem: format!(
                    "reading {}'s answer ({status}) to {what} failed: {}",
                    self.service,
                    describe(&e)
                ),
                connect: false,
            })?;
            let Some(chunk) = chunk else { break };
            if body.len() + chunk.len() > max_body {
                return Err(Failed::TooLarge(format!(
                    "{}'s answer to {what} is longer than {max_body} bytes",
                    self.service
                )));
            }
            body.extend_from_slice(&chunk);
        }
        Ok(Response {
            status,
            headers,
            body: Bytes::from(body),
        })
    }
}

enum Failed {
    Invalid(String),
    TooLarge(String),
    NoAnswer { problem: String, connect: bool },
}

/// reqwest's error text includes the URL (and so the query): keep just the kind and the cause.
fn describe(e: &reqwest::Error) -> String {
    let kind = if e.is_timeout() {
        "timed out"
    } else if e.is_connect() {
        "could not connect"
    } else if e.is_body() || e.is_decode() {
        "broken body"
    } else if e.is_builder() {
        "invalid request"
    } else {
        "request failed"
    };
    let source = std::error::Error::source(e)
        .map(|s| format!(": {s}"))
        .unwrap_or_default();
    format!("{kind}{source}")
}

/// The path of a URL, without scheme, host or query.
fn path_of(url: &str) -> &str {
    let without_scheme = url.split_once("://").map_or(url, |(_, rest)| rest);
    let path = without_scheme
        .find('/')
        .map_or("/", |at| &without_scheme[at..]);
    path.split(['?', '#']).next().unwrap_or(path)
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

/// A number in [0, 1), different on every call. `RandomState` is seeded randomly per process and
/// re-keyed per instance: enough to spread retries, with no extra dependency.
fn jitter() -> f64 {
    let bits = std::collections::hash_map::RandomState::new()
        .build_hasher()
        .finish();
    (bits >> 11) as f64 / (1u64 << 53) as f64
}

#[cfg(test)]
mod tests;
