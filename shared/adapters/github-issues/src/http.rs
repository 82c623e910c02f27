//! The one way the adapter talks to GitHub: `Http::send`, through the shared outbound client
//! (`scantix_http::outbound`, whose one retry policy repeats reads and edits through 5xx and
//! network failures, never a create) with the token for the repository at hand. As the App, that is the token of the installation covering the
//! repository, found once per repository (`GET /repos/{o}/{r}/installation` with the App's JWT)
//! and minted and cached by `InstallationTokens`; a 401 drops the token and tries once more with a
//! new one. A create or comment that failed unclearly comes back ambiguous (its caller checks
//! whether it happened first). Rate limits are answered
//! retryable at once, never waited out here: retrying early only prolongs a secondary limit, and
//! the group's outbox keeps the work. Every other answer becomes the `TrackerError` it means.
//! Logs carry method, path, status and attempt — never a token or a body.

use crate::settings::{IssueKey, IssuesAuth, RepoName};
use chrono::Utc;
use http::header::{ACCEPT, HeaderMap, HeaderValue};
use http::{Method, StatusCode};
use scantix_core::ports::github::GitHubError;
use scantix_core::ports::tracker::TrackerError;
use scantix_core::secret::Secret;
use scantix_http::github::pin_api_version;
pub use scantix_http::outbound::Replay;
use scantix_http::outbound::{
    self, ClientSettings, HttpClient, Redirects, Request, RetryPolicy, SendError,
};
use serde::Deserialize;
use serde::de::DeserializeOwned;
use serde_json::Value;
use std::collections::HashMap;
use std::sync::Mutex;
use std::time::Duration;

/// How long to wait on a rate limit that names no time: GitHub says "at least one minute".
const DEFAULT_RATE_LIMIT_WAIT: Duration = Duration::from_secs(60);

/// What a 404 or 410 means for a call.
#[derive(Debug, Clone, Copy)]
pub enum Scope<'a> {
    /// The call is about this issue: gone means the ticket is gone.
    Issue(&'a IssueKey),
    /// The call is about the repository (listing, creating): gone means it is the wrong one.
    Repository,
}

/// One request, described.
#[derive(Debug)]
pub struct Call<'a> {
    pub method: Method,
    pub repo: &'a RepoName,
    /// Under the base URL, starting with `/repos/`, query included.
    pub path: String,
    pub body: Option<Value>,
    pub replay: Replay,
    pub scope: Scope<'a>,
}

/// A 2xx answer's body.
#[derive(Debug)]
pub struct Reply {
    pub body: String,
}

impl Reply {
    pub fn json<T: DeserializeOwned>(&self, what: &str) -> Result<T, Failure> {
        serde_json::from_str(&self.body).map_err(|e| {
            Failure::from(TrackerError::Failed(format!(
                "unexpected answer from GitHub to {what}: {e}"
            )))
        })
    }
}

/// A failed call, with what the adapter needs beyond the `TrackerError` it becomes.
#[derive(Debug)]
pub struct Failure {
    /// GitHub's status, when it answered.
    pub status: Option<StatusCode>,
    /// The call may have taken effect although it failed: look before repeating it.
    pub ambiguous: bool,
    /// The fields a 422 names (`assignees`, `labels`, …).
    pub fields: Vec<String>,
    pub error: TrackerError,
}

impl Failure {
    fn ambiguous(message: String) -> Failure {
        Failure {
            ambiguous: true,
            ..Failure::from(TrackerError::Retryable(message))
        }
    }
}

impl From<TrackerError> for Failure {
    fn from(error: TrackerError) -> Failure {
        Failure {
            status: None,
            ambiguous: false,
            fields: Vec::new(),
            error,
        }
    }
}

impl From<Failure> for TrackerError {
    fn from(f: Failure) -> TrackerError {
        f.error
    }
}

/// A whole HTTP answer, whatever its status.
struct Answer {
    status: StatusCode,
    headers: HeaderMap,
    body: String,
}

pub struct Http {
    client: HttpClient,
    /// Without a trailing slash.
    base_url: String,
    auth: IssuesAuth,
    /// The installation covering each repository, as GitHub said (App only).
    installations: Mutex<HashMap<RepoName, u64>>,
}

impl Http {
    /// The client for `auth`'s GitHub, repeating a safe call up to `max_attempts` times.
    pub fn new(auth: IssuesAuth, max_attempts: u32) -> Result<Http, TrackerError> {
        let (base_url, setting) = match &auth {
            IssuesAuth::App(tokens) => (tokens.api_url().to_owned(), "GITHUB_API_URL"),
            IssuesAuth::Token { base_url, .. } => (base_url.clone(), "github-issues.base-url"),
        };
        let misconfigured = |why: String| TrackerError::Misconfigured {
            setting: setting.into(),
            message: format!("`{base_url}`: {why}"),
        };
        let uri: http::Uri = base_url
            .parse()
            .map_err(|_| misconfigured("not a URL".into()))?;
        if !matches!(uri.scheme_str(), Some("https" | "http"))
            || uri.authority().is_none()
            || uri.query().is_some()
        {
            return Err(misconfigured(
                "needs http(s)://host[/path], no query".into(),
            ));
        }
        let client = HttpClient::new(ClientSettings {
            // GitHub moves transferred issues and renamed repositories with a redirect on the same
            // host; the token never follows one elsewhere.
            redirects: Redirects::SameHost,
            retry: RetryPolicy {
                max_attempts,
                backoff_base: Duration::from_millis(500),
                max_backoff: Duration::from_secs(10),
                // Rate limits go back to the outbox at once (see the module doc).
                max_rate_limit_wait: Duration::ZERO,
            },
            ..ClientSettings::new("github")
        })
        .map_err(|e| misconfigured(e.to_string()))?;
        Ok(Http {
            client,
            base_url: base_url.trim_end_matches('/').to_owned(),
            auth,
            installations: Mutex::new(HashMap::new()),
        })
    }

    /// Sets the first retry delay (doubling from there). Tests make it small.
    pub fn set_backoff_base(&mut self, base: Duration) {
        let policy = RetryPolicy {
            backoff_base: base,
            ..*self.client.retry_policy()
        };
        self.client = self.client.clone().with_retry(policy);
    }

    pub fn max_attempts(&self) -> u32 {
        self.client.retry_policy().max_attempts
    }

    /// The pause before running an ambiguous flow again (see `GithubIssuesTracker::repeat`).
    pub fn backoff(&self, attempt: u32) -> Duration {
        self.client.retry_policy().backoff(attempt)
    }

    pub fn base_url(&self) -> &str {
        &self.base_url
    }

    /// Sends `call` (the shared client repeats it where that is safe); see the module doc.
    pub async fn send(&self, call: &Call<'_>) -> Result<Reply, Failure> {
        let mut token_renewed = false;
        loop {
            let (token, installation) = self.token(call.repo).await?;
            let answer = match self
                .exchange(
                    &call.method,
                    &call.path,
                    &token,
                    call.body.as_ref(),
                    call.replay,
                )
                .await
            {
                Ok(answer) => answer,
                Err(SendError::Ambiguous { problem, status }) => {
                    return Err(Failure {
                        status,
                        ..Failure::ambiguous(problem)
                    });
                }
                Err(SendError::Invalid(problem) | SendError::TooLarge(problem)) => {
                    return Err(TrackerError::Failed(problem).into());
                }
                Err(e) => return Err(TrackerError::Retryable(e.to_string()).into()),
            };
            if answer.status.is_success() {
                return Ok(Reply { body: answer.body });
            }
            tracing::debug!(
                method = %call.method, path = %call.path, status = answer.status.as_u16(),
                "github issues call refused"
            );
            if answer.status == StatusCode::UNAUTHORIZED
                && !token_renewed
                && let (IssuesAuth::App(tokens), Some(id)) = (&self.auth, installation)
            {
                // Revoked, or expired early by clock skew: once more with a new one.
                tokens.forget(id, &token).await;
                token_renewed = true;
                continue;
            }
            if let Some(wait) = rate_limit_wait(&answer) {
                return Err(TrackerError::Retryable(format!(
                    "GitHub rate limit on {} {}; retry in {} s",
                    call.method,
                    call.path,
                    wait.as_secs()
                ))
                .into());
            }
            return Err(rejection(&answer, call, &self.auth));
        }
    }

    /// The token to call `repo` with, and the installation it belongs to (App only).
    async fn token(&self, repo: &RepoName) -> Result<(Secret, Option<u64>), Failure> {
        let tokens = match &self.auth {
            IssuesAuth::Token { token, .. } => return Ok((token.clone(), None)),
            IssuesAuth::App(tokens) => tokens,
        };
        let installation = self.installation(repo).await?;
        match tokens.token(installation).await {
            Ok(token) => Ok((token, Some(installation))),
            Err(e) => {
                if !e.is_retryable() {
                    // Uninstalled since it was looked up, perhaps: look again next time.
                    self.lock_installations().remove(repo);
                }
                Err(from_token_error(e, repo).into())
            }
        }
    }

    /// The installation of the App that covers `repo`, asked of GitHub once per repository.
    async fn installation(&self, repo: &RepoName) -> Result<u64, Failure> {
        if let Some(id) = self.lock_installations().get(repo) {
            return Ok(*id);
        }
        let IssuesAuth::App(tokens) = &self.auth else {
            return Err(TrackerError::Failed("no App credentials to look up".into()).into());
        };
        let jwt = tokens
            .app_jwt()
            .map_err(|e| misconfigured("github-app.credentials", e.to_string()))?;
        let path = format!("{}/installation", repo.api_path());
        let answer = self
            .exchange(&Method::GET, &path, &jwt, None, Replay::Safe)
            .await
            .map_err(|e| TrackerError::Retryable(e.to_string()))?;
        #[derive(Deserialize)]
        struct Installation {
            id: u64,
        }
        let status = answer.status;
        if status.is_success() {
            let found: Installation = serde_json::from_str(&answer.body).map_err(|e| {
                TrackerError::Failed(format!("unexpected answer from GitHub to {path}: {e}"))
            })?;
            self.lock_installations().insert(repo.clone(), found.id);
            return Ok(found.id);
        }
        if let Some(wait) = rate_limit_wait(&answer) {
            return Err(TrackerError::Retryable(format!(
                "GitHub rate limit on GET {path}; retry in {} s",
                wait.as_secs()
            ))
            .into());
        }
        let said = message(&answer.body);
        let error = match status.as_u16() {
            404 => misconfigured(
                "github-app.installation",
                format!("the GitHub App is not installed on {repo} (or cannot see it): {said}"),
            ),
            401 => misconfigured(
                "github-app.credentials",
                format!("GitHub refused the App's JWT: {said}"),
            ),
            500..=599 => TrackerError::Retryable(format!("GitHub answered {status} to GET {path}")),
            _ => TrackerError::Failed(format!("GitHub answered {status} to GET {path}: {said}")),
        };
        Err(error.into())
    }

    /// The login scantix's changes appear under: as the App, its bot account `<slug>[bot]` (`GET
    /// /app` with the App's JWT); with a token, the token's user (`GET /user`). Asked once, not
    /// repeated here: the caller remembers the answer and asks again later after a failure.
    pub async fn own_login(&self) -> Result<String, TrackerError> {
        let (path, bearer, setting) = match &self.auth {
            IssuesAuth::App(tokens) => {
                let jwt = tokens
                    .app_jwt()
                    .map_err(|e| misconfigured("github-app.credentials", e.to_string()))?;
                ("/app", jwt, "github-app.credentials")
            }
            IssuesAuth::Token { token, .. } => ("/user", token.clone(), "github-issues.token"),
        };
        let answer = self
            .exchange(&Method::GET, path, &bearer, None, Replay::Safe)
            .await
            .map_err(|e| TrackerError::Retryable(e.to_string()))?;
        let status = answer.status;
        if !status.is_success() {
            let said = message(&answer.body);
            return Err(match status.as_u16() {
                _ if rate_limit_wait(&answer).is_some() => {
                    TrackerError::Retryable(format!("GitHub rate limit on GET {path}"))
                }
                401 => misconfigured(setting, format!("GitHub refused GET {path}: {said}")),
                500..=599 => {
                    TrackerError::Retryable(format!("GitHub answered {status} to GET {path}"))
                }
                _ => {
                    TrackerError::Failed(format!("GitHub answered {status} to GET {path}: {said}"))
                }
            });
        }
        let unexpected = |e: serde_json::Error| {
            TrackerError::Failed(format!("unexpected answer from GitHub to GET {path}: {e}"))
        };
        #[derive(Deserialize)]
        struct App {
            slug: String,
        }
        #[derive(Deserialize)]
        struct User {
            login: String,
        }
        let login = match &self.auth {
            // An App acts as `<slug>[bot]`: the login GitHub gives its bot account.
            IssuesAuth::App(_) => {
                let app: App = serde_json::from_str(&answer.body).map_err(unexpected)?;
                format!("{}[bot]", app.slug)
            }
            IssuesAuth::Token { .. } => {
                let user: User = serde_json::from_str(&answer.body).map_err(unexpected)?;
                user.login
            }
        };
        if login.is_empty() || login == "[bot]" {
            return Err(TrackerError::Failed(format!(
                "GitHub's GET {path} names no login"
            )));
        }
        Ok(login)
    }

    fn lock_installations(&self) -> std::sync::MutexGuard<'_, HashMap<RepoName, u64>> {
        self.installations
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    /// One request and its whole answer; `Err` only when no answer came (its text says why,
    /// without the URL's query or any header).
    async fn exchange(
        &self,
        method: &Method,
        path: &str,
        bearer: &Secret,
        body: Option<&Value>,
        replay: Replay,
    ) -> Result<Answer, SendError> {
        let authorization = outbound::bearer(bearer.expose()).ok_or_else(|| {
            SendError::Invalid(format!(
                "{method} {}: the token is not a valid header value",
                path.split('?').next().unwrap_or_default()
            ))
        })?;
        let mut request = Request::new(method.clone(), format!("{}{path}", self.base_url), replay)
            .header(
                ACCEPT,
                HeaderValue::from_static("application/vnd.github+json"),
            )
            .authorization(authorization);
        // The version the adapter is written for (see `API_VERSION` for why this one).
        pin_api_version(&mut request.headers);
        request.body = body.cloned();
        let response = self.client.send(&request).await?;
        Ok(Answer {
            status: response.status,
            body: response.text(),
            headers: response.headers,
        })
    }
}

fn misconfigured(setting: &str, message: String) -> TrackerError {
    TrackerError::Misconfigured {
        setting: setting.into(),
        message,
    }
}

/// A token GitHub would not mint, as the setting to fix (or a retry).
fn from_token_error(e: GitHubError, repo: &RepoName) -> TrackerError {
    if e.is_retryable() {
        TrackerError::Retryable(format!("minting a token for {repo}: {e}"))
    } else if matches!(e, GitHubError::NotFound(_)) {
        misconfigured(
            "github-app.installation",
            format!("the App's installation covering {repo} is gone: {e}"),
        )
    } else {
        misconfigured(
            "github-app.credentials",
            format!("minting a token for {repo}: {e}"),
        )
    }
}

/// What a refusal (a non-2xx answer that is neither a rate limit nor a 5xx) means.
fn rejection(answer: &Answer, call: &Call<'_>, auth: &IssuesAuth) -> Failure {
    let said = message(&answer.body);
    let fields = error_fields(&answer.body);
    let repo = call.repo;
    let what = format!("{} {}", call.method, call.path);
    let error = match (answer.status.as_u16(), call.scope) {
        (404 | 410, Scope::Issue(key)) => TrackerError::NotFound(key.to_string()),
        (404, Scope::Repository) => misconfigured(
            "github-issues.repository",
            format!("{repo} was not found, or the App cannot see it ({said})"),
        ),
        (410, Scope::Repository) => misconfigured(
            "github-issues.repository",
            format!(
                "issues are disabled in {repo} ({said}): enable them there, or file tickets in a \
                 central repository"
            ),
        ),
        (401, _) => match auth {
            IssuesAuth::App(_) => misconfigured(
                "github-app.credentials",
                format!("GitHub refused a fresh installation token for {repo}: {said}"),
            ),
            IssuesAuth::Token { .. } => misconfigured(
                "github-issues.token",
                format!("GitHub refused the token: {said}"),
            ),
        },
        (403, _) => misconfigured(
            "github-app.permissions",
            format!("{said}: scantix needs Issues read & write on {repo}"),
        ),
        (422, _) if fields.iter().any(|f| f.starts_with("assignee")) => misconfigured(
            "owners",
            format!("GitHub cannot assign the owner in {repo}: {said}"),
        ),
        // Octocrab follows GitHub's redirects on the same host (a transferred issue, a renamed
        // repository); one that reaches here pointed elsewhere.
        (300..=399, Scope::Issue(key)) => TrackerError::Failed(format!(
            "{key} moved (transferred to another repository?): GitHub answers {}",
            answer.status
        )),
        (300..=399, Scope::Repository) => misconfigured(
            "github-issues.repository",
            format!("{repo} answers {} (renamed or transferred?)", answer.status),
        ),
        _ => TrackerError::Failed(format!("GitHub refused {what}: {} {said}", answer.status)),
    };
    Failure {
        status: Some(answer.status),
        ambiguous: false,
        fields,
        error,
    }
}

/// GitHub's `message`, with the `errors` it details; else the start of the body.
fn message(body: &str) -> String {
    #[derive(Deserialize)]
    struct Refusal {
        message: String,
        #[serde(default)]
        errors: Vec<Value>,
    }
    match serde_json::from_str::<Refusal>(body) {
        Ok(refusal) if refusal.errors.is_empty() => refusal.message,
        Ok(refusal) => {
            let details: Vec<String> = refusal
                .errors
                .iter()
                .map(|e| match e {
                    Value::String(s) => s.clone(),
                    e => e.to_string(),
                })
                .collect();
            format!("{} ({})", refusal.message, details.join("; "))
        }
        Err(_) => body.chars().take(200).collect(),
    }
}

/// The `field` of each entry of a 422's `errors`.
fn error_fields(body: &str) -> Vec<String> {
    let parsed: Option<Value> = serde_json::from_str(body).ok();
    parsed
        .as_ref()
        .and_then(|v| v["errors"].as_array())
        .into_iter()
        .flatten()
        .filter_map(|e| e["field"].as_str().map(str::to_owned))
        .collect()
}

/// The wait a 403 or 429 asks for, if it is a rate limit: `retry-after` (secondary limits), else
/// `x-ratelimit-reset` when `x-ratelimit-remaining` is 0 (the primary limit), else a minute for a
/// 429 or a 403 whose message says it is a rate limit.
fn rate_limit_wait(answer: &Answer) -> Option<Duration> {
    if !matches!(answer.status.as_u16(), 403 | 429) {
        return None;
    }
    let header = |name: &str| answer.headers.get(name)?.to_str().ok().map(str::trim);
    if let Some(seconds) = header("retry-after").and_then(|v| v.parse().ok()) {
        return Some(Duration::from_secs(seconds));
    }
    if header("x-ratelimit-remaining") == Some("0")
        && let Some(reset) = header("x-ratelimit-reset").and_then(|v| v.parse::<i64>().ok())
    {
        let seconds = u64::try_from(reset - Utc::now().timestamp()).unwrap_or(0);
        return Some(Duration::from_secs(seconds.max(1)));
    }
    let said_so = message(&answer.body)
        .to_ascii_lowercase()
        .contains("rate limit");
    (answer.status == StatusCode::TOO_MANY_REQUESTS || said_so).then_some(DEFAULT_RATE_LIMIT_WAIT)
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

    fn token_auth() -> IssuesAuth {
        IssuesAuth::Token {
            base_url: "https://api.github.com".into(),
            token: Secret::new("t"),
        }
    }

    fn refused(status: u16, body: &str, scope: Scope<'_>) -> TrackerError {
        let repo = RepoName::parse("acme/shop").unwrap();
        let call = Call {
            method: Method::POST,
            repo: &repo,
            path: "/repos/acme/shop/issues".into(),
            body: None,
            replay: Replay::Unsafe,
            scope,
        };
        rejection(&answer(status, &[], body), &call, &token_auth()).error
    }

    fn setting(e: &TrackerError) -> &str {
        match e {
            TrackerError::Misconfigured { setting, .. } => setting,
            other => panic!("not misconfigured: {other:?}"),
        }
    }

    #[test]
    fn refusals_name_what_to_fix_or_say_the_ticket_is_gone() {
        let key = IssueKey::parse("acme/shop#7").unwrap();
        let gone = refused(
            410,
            r#"{"message":"This issue was deleted"}"#,
            Scope::Issue(&key),
        );
        assert!(matches!(gone, TrackerError::NotFound(ref k) if k == "acme/shop#7"));
        let missing = refused(404, r#"{"message":"Not Found"}"#, Scope::Issue(&key));
        assert!(matches!(missing, TrackerError::NotFound(_)));
        let disabled = refused(
            410,
            r#"{"message":"Issues are disabled for this repo"}"#,
            Scope::Repository,
        );
        assert_eq!(setting(&disabled), "github-issues.repository");
        assert!(
            disabled
                .to_string()
                .contains("issues are disabled in acme/shop"),
            "{disabled}"
        );
        let unknown = refused(404, r#"{"message":"Not Found"}"#, Scope::Repository);
        assert_eq!(setting(&unknown), "github-issues.repository");
        let forbidden = refused(
            403,
            r#"{"message":"Resource not accessible by integration"}"#,
            Scope::Repository,
        );
        assert_eq!(setting(&forbidden), "github-app.permissions");
        assert!(forbidden.to_string().contains("Resource not accessible"));
        let assignee = refused(
            422,
            r#"{"message":"Validation Failed","errors":[{"value":"ghost","resource":"Issue","field":"assignees","code":"invalid"}]}"#,
            Scope::Repository,
        );
        assert_eq!(setting(&assignee), "owners");
        assert!(assignee.to_string().contains("ghost"), "{assignee}");
        let invalid = refused(422, r#"{"message":"Validation Failed"}"#, Scope::Repository);
        assert!(matches!(invalid, TrackerError::Failed(_)) && !invalid.is_retryable());
        assert_eq!(
            setting(&refused(401, "", Scope::Repository)),
            "github-issues.token"
        );
    }

    #[test]
    fn rate_limits_are_read_from_either_header_style() {
        let secondary = answer(
            403,
            &[("retry-after", "17")],
            r#"{"message":"You have exceeded a secondary rate limit."}"#,
        );
        assert_eq!(rate_limit_wait(&secondary), Some(Duration::from_secs(17)));
        let reset = (Utc::now().timestamp() + 120).to_string();
        let primary = answer(
            403,
            &[
                ("x-ratelimit-remaining", "0"),
                ("x-ratelimit-reset", &reset),
            ],
            r#"{"message":"API rate limit exceeded"}"#,
        );
        let wait = rate_limit_wait(&primary).unwrap();
        assert!(
            wait > Duration::from_secs(110) && wait <= Duration::from_secs(120),
            "{wait:?}"
        );
        assert_eq!(
            rate_limit_wait(&answer(429, &[], "")),
            Some(DEFAULT_RATE_LIMIT_WAIT)
        );
        let forbidden = answer(
            403,
            &[("x-ratelimit-remaining", "4999")],
            r#"{"message":"Resource not accessible by integration"}"#,
        );
        assert_eq!(rate_limit_wait(&forbidden), None);
        assert_eq!(
            rate_limit_wait(&answer(502, &[("retry-after", "1")], "")),
            None
        );
    }
}
