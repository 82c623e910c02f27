//! The HTTP client every call to GitHub goes through (the port's adapter's, and the App's token
//! exchange): the shared outbound client (`scantix_http::outbound`: one retry policy, which
//! repeats reads and edits through 5xx and network failures but never a create) against one base
//! URL, each call with the bearer it is given and the pinned API version; and every answer read
//! here: rate-limit headers, `Link` headers, and GitHub's `message` on refusals. Rate limits are
//! never waited out in a call: retrying early only prolongs a secondary limit, and the queue that
//! delivered the event retries it.

use chrono::{DateTime, Utc};
use http::header::{ACCEPT, HeaderMap, HeaderValue};
use http::{Method, StatusCode};
use scantix_core::ports::github::GitHubError;
use scantix_core::secret::Secret;
use scantix_http::github::pin_api_version;
use scantix_http::outbound::{
    self, ClientSettings, HttpClient, Redirects, Replay, Request, RetryPolicy, SendError,
};
use serde::de::DeserializeOwned;
use serde_json::Value;
use std::time::Duration;

/// How long to wait on a rate limit that names no time: GitHub says "at least one minute".
const DEFAULT_RATE_LIMIT_WAIT: Duration = Duration::from_secs(60);

/// Why a GitHub client could not be set up: configuration, never worth a retry.
#[derive(Debug, thiserror::Error)]
pub enum SetupError {
    #[error("GitHub API base URL {url:?}: {reason}")]
    InvalidBaseUrl { url: String, reason: String },
    #[error("GitHub App private key: {0}")]
    InvalidKey(String),
}

/// How an answer is asked for and read: its media type, and bounds tighter than the client's.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Reading {
    pub(crate) accept: &'static str,
    pub(crate) max_body: Option<usize>,
    pub(crate) timeout: Option<Duration>,
}

impl Reading {
    /// GitHub's JSON, within the client's bounds: every call but a few.
    pub(crate) const JSON: Reading = Reading {
        accept: "application/vnd.github+json",
        max_body: None,
        timeout: None,
    };
}

/// The shared client against one base URL: each request carries the bearer it is given (an App
/// JWT, an installation token, a plain token) and the API version, and every answer is read here.
#[derive(Clone, Debug)]
pub(crate) struct Client {
    http: HttpClient,
    /// Without a trailing slash.
    base_url: String,
}

impl Client {
    pub(crate) fn new(base_url: &str) -> Result<Client, SetupError> {
        let invalid = |reason: &str| SetupError::InvalidBaseUrl {
            url: base_url.to_owned(),
            reason: reason.to_owned(),
        };
        let uri: http::Uri = base_url.parse().map_err(|_| invalid("not a URL"))?;
        if !matches!(uri.scheme_str(), Some("https" | "http")) || uri.authority().is_none() {
            return Err(invalid("needs http(s)://host"));
        }
        if uri.query().is_some() {
            return Err(invalid("must not have a query"));
        }
        let http = HttpClient::new(ClientSettings {
            // GitHub moves renamed repositories and transferred issues with a redirect on the same
            // host; the token never follows one elsewhere.
            redirects: Redirects::SameHost,
            retry: RetryPolicy {
                max_attempts: 3,
                backoff_base: Duration::from_millis(250),
                max_backoff: Duration::from_secs(4),
                max_rate_limit_wait: Duration::ZERO,
            },
            ..ClientSettings::new("github")
        })
        .map_err(|e| invalid(&e.to_string()))?;
        Ok(Client {
            http,
            base_url: base_url.trim_end_matches('/').to_owned(),
        })
    }

    pub(crate) fn base_url(&self) -> &str {
        &self.base_url
    }

    /// Sends one request (`path_and_query` below the base URL) and reads the whole answer;
    /// anything but a 2xx becomes the error it means. `now` dates `x-ratelimit-reset`.
    pub(crate) async fn call(
        &self,
        method: Method,
        path_and_query: &str,
        bearer: &Secret,
        body: Option<&Value>,
        replay: Replay,
        now: DateTime<Utc>,
    ) -> Result<Answer, GitHubError> {
        self.send(&method, path_and_query, bearer, body, replay, Reading::JSON)
            .await?
            .checked(&format!("{method} {path_and_query}"), now)
    }

    /// Sends one request and reads the whole answer, whatever its status: only a request that
    /// got no answer is an error here.
    pub(crate) async fn send(
        &self,
        method: &Method,
        path_and_query: &str,
        bearer: &Secret,
        body: Option<&Value>,
        replay: Replay,
        reading: Reading,
    ) -> Result<Answer, GitHubError> {
        let authorization = outbound::bearer(bearer.expose())
            .ok_or_else(|| GitHubError::Refused("the token is not a valid header value".into()))?;
        let mut request = Request::new(
            method.clone(),
            format!("{}{path_and_query}", self.base_url),
            replay,
        )
        .header(ACCEPT, HeaderValue::from_static(reading.accept))
        .authorization(authorization);
        if let Some(bytes) = reading.max_body {
            request = request.max_body(bytes);
        }
        if let Some(timeout) = reading.timeout {
            request = request.timeout(timeout);
        }
        pin_api_version(&mut request.headers);
        request.body = body.cloned();
        let response = self.http.send(&request).await.map_err(|e| match e {
            SendError::Invalid(problem) | SendError::TooLarge(problem) => {
                GitHubError::Refused(problem)
            }
            other => GitHubError::Retryable(other.to_string()),
        })?;
        Ok(Answer {
            status: response.status,
            body: response.text(),
            headers: response.headers,
        })
    }
}

/// A whole HTTP answer.
pub(crate) struct Answer {
    pub(crate) status: StatusCode,
    pub(crate) headers: HeaderMap,
    pub(crate) body: String,
}

impl Answer {
    /// The answer if it is a 2xx, else the error it means. `what` names the request; `now`
    /// dates `x-ratelimit-reset`.
    pub(crate) fn checked(self, what: &str, now: DateTime<Utc>) -> Result<Answer, GitHubError> {
        if self.status.is_success() {
            Ok(self)
        } else {
            Err(self.error(what, now))
        }
    }

    /// The body, read as `T`.
    pub(crate) fn json<T: DeserializeOwned>(&self) -> Result<T, GitHubError> {
        serde_json::from_str(&self.body).map_err(|err| {
            GitHubError::Refused(format!(
                "unexpected answer from GitHub ({}): {err}",
                self.status
            ))
        })
    }

    fn header(&self, name: &str) -> Option<&str> {
        self.headers.get(name)?.to_str().ok()
    }

    /// The URL of the `Link` header's entry with this `rel`.
    pub(crate) fn link(&self, rel: &str) -> Option<String> {
        link_target(self.header("link")?, rel)
    }

    /// GitHub's `message`, else the start of the body.
    fn message(&self) -> String {
        let parsed: Option<Value> = serde_json::from_str(&self.body).ok();
        match parsed.as_ref().and_then(|v| v["message"].as_str()) {
            Some(message) => message.to_owned(),
            None => self.body.chars().take(200).collect(),
        }
    }

    /// What a non-2xx answer means. `what` names the request.
    pub(crate) fn error(&self, what: &str, now: DateTime<Utc>) -> GitHubError {
        let status = self.status.as_u16();
        let message = self.message();
        if let Some(retry_after) = self.rate_limit_wait(now, &message) {
            return GitHubError::RateLimited { retry_after };
        }
        match status {
            // Which credential it was is for the client that sent it to say.
            401 => GitHubError::Unauthorized {
                credential: "the credential sent".to_owned(),
                detail: format!("401 {what}: {message}"),
            },
            403 => GitHubError::Forbidden(format!("{what}: {message}")),
            404 => GitHubError::NotFound(format!("{what}: {message}")),
            500..=599 => GitHubError::Retryable(format!("{status} {what}: {message}")),
            _ => GitHubError::Refused(format!("{status} {what}: {message}")),
        }
    }

    /// The wait a 403 or 429 asks for, if it is a rate limit: `retry-after` (secondary limits),
    /// else `x-ratelimit-reset` when `x-ratelimit-remaining` is 0 (the primary limit), else a
    /// minute for a 429 or a 403 whose message says it is a rate limit.
    fn rate_limit_wait(&self, now: DateTime<Utc>, message: &str) -> Option<Duration> {
        if !matches!(self.status.as_u16(), 403 | 429) {
            return None;
        }
        if let Some(seconds) = self
            .header("retry-after")
            .and_then(|v| v.trim().parse().ok())
        {
            return Some(Duration::from_secs(seconds));
        }
        if self.header("x-ratelimit-remaining").map(str::trim) == Some("0")
            && let Some(reset) = self
                .header("x-ratelimit-reset")
                .and_then(|v| v.trim().parse::<i64>().ok())
        {
            let seconds = u64::try_from(reset - now.timestamp()).unwrap_or(0);
            // A reset already past: the clocks differ by a little; wait a moment, not zero.
            return Some(Duration::from_secs(seconds.max(1)));
        }
        let said_so = message.to_ascii_lowercase().contains("rate limit");
        (self.status == StatusCode::TOO_MANY_REQUESTS || said_so).then_some(DEFAULT_RATE_LIMIT_WAIT)
    }
}

/// The target of the `Link` header entry with `rel` (`<url>; rel="next", <url>; rel="last"`).
/// Split on `<` rather than `,`: GitHub's URLs may hold commas (`state=dismissed,fixed`). Written
/// here rather than taken from a crate: none in the lockfile parses RFC 8288 headers, and this
/// reads the one shape GitHub sends (the URL's query is then read with `url`).
pub(crate) fn link_target(header: &str, rel: &str) -> Option<String> {
    header.split('<').skip(1).find_map(|entry| {
        let (url, params) = entry.split_once('>')?;
        let matches = params.split(';').any(|param| {
            let param = param.trim().trim_end_matches(',').trim();
            param
                .strip_prefix("rel=")
                .is_some_and(|v| v.trim_matches('"').split_whitespace().any(|r| r == rel))
        });
        matches.then(|| url.trim().to_owned())
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn answer(status: u16, headers: &[(&'static str, &str)], body: &str) -> Answer {
        let mut map = HeaderMap::new();
        for (name, value) in headers {
            map.insert(*name, HeaderValue::from_str(value).unwrap());
        }
        Answer {
            status: StatusCode::from_u16(status).unwrap(),
            headers: map,
            body: body.to_owned(),
        }
    }
    fn noon() -> DateTime<Utc> {
        "2026-03-01T12:00:00Z".parse().unwrap()
    }

    #[test]
    fn rate_limits_are_read_from_either_header_style() {
        let secondary = answer(
            403,
            &[("retry-after", "17")],
            r#"{"message":"You have exceeded a secondary rate limit."}"#,
        );
        assert!(matches!(
            secondary.error("GET /x", noon()),
            GitHubError::RateLimited { retry_after } if retry_after == Duration::from_secs(17)
        ));
        let reset = (noon().timestamp() + 120).to_string();
        let primary = answer(
            403,
            &[
                ("x-ratelimit-remaining", "0"),
                ("x-ratelimit-reset", &reset),
            ],
            r#"{"message":"API rate limit exceeded for installation ID 1."}"#,
        );
        assert_eq!(
            primary.error("GET /x", noon()).retry_after(),
            Some(Duration::from_secs(120))
        );
        let bare = answer(429, &[], "");
        assert_eq!(
            bare.error("GET /x", noon()).retry_after(),
            Some(DEFAULT_RATE_LIMIT_WAIT)
        );
        let forbidden = answer(
            403,
            &[("x-ratelimit-remaining", "4999")],
            r#"{"message":"Resource not accessible by integration"}"#,
        );
        let err = forbidden.error("PATCH /x", noon());
        assert!(
            matches!(&err, GitHubError::Forbidden(m) if m.contains("Resource not accessible")),
            "{err}"
        );
    }
    #[test]
    fn other_statuses_map_onto_what_a_retry_can_do() {
        assert!(matches!(
            answer(404, &[], r#"{"message":"Not Found"}"#).error("GET /x", noon()),
            GitHubError::NotFound(_)
        ));
        assert!(
            answer(502, &[], "<html>bad gateway</html>")
                .error("GET /x", noon())
                .is_retryable()
        );
        let err = answer(422, &[], r#"{"message":"Validation Failed"}"#).error("PATCH /x", noon());
        assert_eq!(
            err.to_string(),
            "GitHub refused: 422 PATCH /x: Validation Failed"
        );
        let err = answer(401, &[], r#"{"message":"Bad credentials"}"#)
            .error("GET /x", noon())
            .naming_credential("the GitHub token");
        assert!(!err.is_retryable());
        assert_eq!(
            err.to_string(),
            "GitHub did not accept the GitHub token: 401 GET /x: Bad credentials — fix the \
             credential; retrying will not help"
        );
    }
    #[tokio::test]
    async fn base_urls_must_be_http_urls() {
        for url in [
            "api.github.com",
            "ftp://x",
            "https://x/api?y=1",
            "not a url",
        ] {
            assert!(Client::new(url).is_err(), "{url}");
        }
        assert!(Client::new("https://ghe.example.com/api/v3").is_ok());
    }
}
