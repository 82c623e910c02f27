//! An in-process fake GitHub REST API on a free local port, for testing the REST adapter and the
//! App authentication against something that refuses what GitHub refuses.
//!
//! # What it checks
//! Every request is checked against GitHub's official REST description
//! (`../shared/fixtures/github-openapi/github-openapi-subset.json`, through [`crate::openapi`])
//! before anything else; a request it does not satisfy is answered 400 and recorded as a
//! violation. Then credentials: `POST /app/installations/{id}/access_tokens` wants an App JWT
//! (RS256, signed with the test App's key, `iss` the App id, `iat` in the past, `exp` at most 10
//! minutes ahead); every `/repos/...` call wants an installation token this fake issued and that
//! has not expired, or [`PLAIN_TOKEN`]. Bad credentials are answered 401 as GitHub does, and are
//! not violations: a correct client must expect them.
//!
//! # What it serves
//! Alerts of the three kinds per repository, seeded by the test (real responses from
//! `github-rest-responses/octocrab`, and numbered variants of them): list with `state`, `sort`,
//! `direction`, `per_page`, paged with `Link` headers as GitHub pages each kind (page numbers for
//! code scanning and secret scanning, `after` cursors for Dependabot); get; PATCH to dismiss,
//! resolve or reopen (with GitHub's rule that a closing state needs its reason). File contents,
//! base64 as GitHub sends them. Issues per repository (any repository has them): list filtered by
//! `labels` (all of them) and `state`, newest first, `per_page` and `page`; create; PATCH of
//! title, body, state and labels. Injected faults: rate limits in both of GitHub's styles, and any
//! status.
//!
//! # Not modelled
//! `before` cursors, the other list filters (`tool_name`, `severity`, `ecosystem`, …), assignees,
//! alert instances and locations, check runs (501, recorded), the issue listing's other filters,
//! its sorts and `Link` headers, pull requests among issues, permissions of tokens,
//! GitHub's refusal to reopen a fixed alert, the rate limit counters of healthy answers.

use crate::openapi::{OpenApi, query_pairs};
use crate::webhooks::fixture_path;
use axum::Router;
use axum::body::Body;
use axum::extract::{Request, State as AxumState};
use axum::response::Response;
use chrono::{DateTime, Utc};
use scantix::finding::AlertKind;
use scantix::github::rest::octocrab::jsonwebtoken::{Algorithm, DecodingKey, Validation, decode};
use serde_json::{Value, json};
use std::collections::BTreeMap;
use std::sync::{Arc, Mutex, MutexGuard, OnceLock, PoisonError};
use tokio::task::JoinHandle;

/// The test App's id (`iss` of its JWTs).
pub const APP_ID: u64 = 1_234_567;
/// The installation the test App has; access tokens for any other are refused (404).
pub const INSTALLATION_ID: u64 = 4_242;
/// A token accepted as it is (a personal access token), for clients without App credentials.
pub const PLAIN_TOKEN: &str = "ghp_fake_personal_access_token";

/// The test App's private key in GitHub's download format (`BEGIN RSA PRIVATE KEY`).
pub fn app_private_key_pkcs1() -> String {
    key_file("app-key.pkcs1.pem")
}

/// The same key as PKCS#8 (`BEGIN PRIVATE KEY`).
pub fn app_private_key_pkcs8() -> String {
    key_file("app-key.pkcs8.pem")
}

fn key_file(name: &str) -> String {
    let path = std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../shared/src/github/testdata")
        .join(name);
    std::fs::read_to_string(&path)
        .unwrap_or_else(|e| panic!("reading the test key {}: {e}", path.display()))
}

/// A real REST response from `github-rest-responses/octocrab/<name>`.
pub fn octocrab_response(name: &str) -> Value {
    let path = fixture_path(&format!("github-rest-responses/octocrab/{name}"));
    let text = std::fs::read_to_string(&path)
        .unwrap_or_else(|e| panic!("reading fixture {}: {e}", path.display()));
    serde_json::from_str(&text).expect("fixtures are JSON")
}

/// A copy of a real alert renumbered `number` and last updated at `updated_at` (its URLs follow
/// the number): how tests make many alerts of a real shape.
pub fn numbered(alert: &Value, number: u64, updated_at: DateTime<Utc>) -> Value {
    let mut alert = alert.clone();
    alert["number"] = json!(number);
    alert["updated_at"] = json!(github_time(updated_at));
    for field in ["url", "html_url", "locations_url", "instances_url"] {
        let Some(url) = alert[field].as_str() else {
            continue;
        };
        let renumbered = renumber_url(url, number);
        alert[field] = json!(renumbered);
    }
    alert
}

/// `…/alerts/42/locations` → `…/alerts/7/locations`; `…/code-scanning/42` → `…/code-scanning/7`.
fn renumber_url(url: &str, number: u64) -> String {
    let mut segments: Vec<String> = url.split('/').map(str::to_owned).collect();
    if let Some(i) = segments.iter().rposition(|s| s.parse::<u64>().is_ok()) {
        segments[i] = number.to_string();
    }
    segments.join("/")
}

/// GitHub's timestamp format: `2024-10-07T11:59:33Z`.
pub fn github_time(at: DateTime<Utc>) -> String {
    at.format("%Y-%m-%dT%H:%M:%SZ").to_string()
}

/// One request as the fake received it.
#[derive(Clone, Debug, PartialEq)]
pub struct RecordedRequest {
    pub method: String,
    pub path: String,
    /// The raw query string, without `?`.
    pub query: String,
    /// The bearer token or JWT sent (`Authorization: Bearer X` or `token X`), if any.
    pub bearer: Option<String>,
    /// The JSON body; a body that is not JSON is kept as a JSON string.
    pub body: Option<Value>,
    pub status: u16,
}

/// A fault to answer with instead of the real answer.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Fault {
    /// GitHub's primary rate limit: 403 with `x-ratelimit-remaining: 0` and `x-ratelimit-reset`
    /// this many seconds ahead.
    PrimaryRateLimit { reset_in_secs: i64 },
    /// A secondary rate limit: 429 with `retry-after`.
    SecondaryRateLimit { retry_after_secs: u64 },
    /// This status, with GitHub's error shape.
    Status(u16),
}

/// A fake GitHub serving on `127.0.0.1:<free port>` until dropped.
pub struct FakeGitHub {
    shared: Arc<Shared>,
    server: JoinHandle<()>,
}

struct Shared {
    api: &'static OpenApi,
    base_url: String,
    state: Mutex<GitHubState>,
}

struct GitHubState {
    /// ("owner/repo" lowercased, kind) → alerts, as seeded.
    alerts: BTreeMap<(String, AlertKind), Vec<Value>>,
    /// ("owner/repo" lowercased, path, ref) → file content.
    files: BTreeMap<(String, String, Option<String>), String>,
    /// "owner/repo" lowercased → its issues, oldest first (numbered from 1).
    issues: BTreeMap<String, Vec<FakeIssue>>,
    tokens: Vec<IssuedToken>,
    token_lifetime: chrono::Duration,
    requests: Vec<RecordedRequest>,
    violations: Vec<String>,
    faults: Vec<(Fault, usize)>,
}

/// An issue as the fake keeps it: what the issue endpoints read and write.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct FakeIssue {
    pub number: u64,
    pub title: String,
    pub body: Option<String>,
    pub labels: Vec<String>,
    /// `open` or `closed`.
    pub state: String,
    /// How many PATCHes it took.
    pub updates: u32,
}

impl FakeIssue {
    /// As the API shows an issue (the fields scantix and octocrab read).
    fn to_json(&self, base_url: &str, repo: &str) -> Value {
        let labels: Vec<Value> = self
            .labels
            .iter()
            .map(|name| json!({"name": name, "color": "ededed", "default": false}))
            .collect();
        json!({
            "id": self.number + 1_000_000,
            "number": self.number,
            "url": format!("{base_url}/repos/{repo}/issues/{}", self.number),
            "html_url": format!("https://github.com/{repo}/issues/{}", self.number),
            "title": self.title,
            "body": self.body,
            "state": self.state,
            "labels": labels,
            "user": {"login": "scantix[bot]", "id": 1, "type": "Bot"},
        })
    }
}

struct IssuedToken {
    token: String,
    expires_at: DateTime<Utc>,
}

fn github_description() -> &'static OpenApi {
    static GITHUB: OnceLock<OpenApi> = OnceLock::new();
    GITHUB.get_or_init(|| {
        OpenApi::load(fixture_path("github-openapi/github-openapi-subset.json"))
            .expect("the GitHub OpenAPI subset in ../shared/fixtures loads")
    })
}

fn public_key() -> &'static DecodingKey {
    static KEY: OnceLock<DecodingKey> = OnceLock::new();
    KEY.get_or_init(|| {
        DecodingKey::from_rsa_pem(key_file("app-key.public.pem").as_bytes())
            .expect("the test App's public key")
    })
}

impl FakeGitHub {
    pub async fn start() -> Self {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
            .await
            .expect("binding a local port for the fake GitHub");
        let address = listener.local_addr().expect("the fake GitHub's address");
        let shared = Arc::new(Shared {
            api: github_description(),
            base_url: format!("http://{address}"),
            state: Mutex::new(GitHubState {
                alerts: BTreeMap::new(),
                files: BTreeMap::new(),
                issues: BTreeMap::new(),
                tokens: Vec::new(),
                token_lifetime: chrono::Duration::hours(1),
                requests: Vec::new(),
                violations: Vec::new(),
                faults: Vec::new(),
            }),
        });
        let app = Router::new()
            .fallback(serve)
            .with_state(Arc::clone(&shared));
        let server = tokio::spawn(async move {
            let _ = axum::serve(listener, app).await;
        });
        Self { shared, server }
    }

    /// `http://127.0.0.1:<port>`: the API base URL, as `https://api.github.com` is.
    pub fn base_url(&self) -> String {
        self.shared.base_url.clone()
    }

    /// Seeds (or replaces, by number) an alert of `owner/repo`; the repository exists from then on.
    pub fn add_alert(&self, owner: &str, repo: &str, kind: AlertKind, alert: Value) {
        let number = alert["number"]
            .as_u64()
            .expect("a seeded alert has a number");
        let mut state = self.shared.lock();
        let alerts = state
            .alerts
            .entry((repo_key(owner, repo), kind))
            .or_default();
        alerts.retain(|a| a["number"].as_u64() != Some(number));
        alerts.push(alert);
    }

    /// The alert as GitHub now has it.
    pub fn alert(&self, owner: &str, repo: &str, kind: AlertKind, number: u64) -> Option<Value> {
        let state = self.shared.lock();
        let alerts = state.alerts.get(&(repo_key(owner, repo), kind))?;
        alerts
            .iter()
            .find(|a| a["number"].as_u64() == Some(number))
            .cloned()
    }

    /// Puts a file at `path` on `git_ref` (`None`: the default branch).
    pub fn add_file(&self, owner: &str, repo: &str, path: &str, git_ref: Option<&str>, text: &str) {
        self.shared.lock().files.insert(
            (
                repo_key(owner, repo),
                path.to_owned(),
                git_ref.map(str::to_owned),
            ),
            text.to_owned(),
        );
    }

    /// Seeds an issue of `owner/repo` (`state` `open` or `closed`); returns its number.
    pub fn add_issue(
        &self,
        owner: &str,
        repo: &str,
        title: &str,
        labels: &[&str],
        state: &str,
    ) -> u64 {
        let mut shared = self.shared.lock();
        let issues = shared.issues.entry(repo_key(owner, repo)).or_default();
        let number = issues.len() as u64 + 1;
        issues.push(FakeIssue {
            number,
            title: title.to_owned(),
            body: None,
            labels: labels.iter().map(|l| (*l).to_owned()).collect(),
            state: state.to_owned(),
            updates: 0,
        });
        number
    }

    /// The issues of `owner/repo` as GitHub now has them, oldest first.
    pub fn issues(&self, owner: &str, repo: &str) -> Vec<FakeIssue> {
        let shared = self.shared.lock();
        shared
            .issues
            .get(&repo_key(owner, repo))
            .cloned()
            .unwrap_or_default()
    }

    /// How long the installation tokens issued from now on live (an hour, as on GitHub).
    pub fn set_token_lifetime(&self, lifetime: chrono::Duration) {
        self.shared.lock().token_lifetime = lifetime;
    }

    /// Revokes every installation token issued so far: they are answered 401 from now on.
    pub fn revoke_tokens(&self) {
        for token in &mut self.shared.lock().tokens {
            token.expires_at = DateTime::<Utc>::MIN_UTC;
        }
    }

    /// How many installation tokens were issued.
    pub fn tokens_issued(&self) -> usize {
        self.shared.lock().tokens.len()
    }

    /// Answers the next `count` `/repos/...` requests with a secondary rate limit: 429 with
    /// `retry-after: <retry_after_secs>`.
    pub fn inject_rate_limit(&self, count: usize, retry_after_secs: u64) {
        self.inject(Fault::SecondaryRateLimit { retry_after_secs }, count);
    }

    /// Answers the next `count` `/repos/...` requests with `fault`.
    pub fn inject(&self, fault: Fault, count: usize) {
        self.shared.lock().faults.push((fault, count));
    }

    /// Every request received, oldest first.
    pub fn requests(&self) -> Vec<RecordedRequest> {
        self.shared.lock().requests.clone()
    }

    /// How many requests match `method` (`*` for any) and `path`, where `*` is one segment and a
    /// final `**` any rest: `count("GET", "/repos/*/*/dependabot/alerts")`.
    pub fn count(&self, method: &str, path: &str) -> usize {
        self.shared
            .lock()
            .requests
            .iter()
            .filter(|r| pattern_matches(method, path, &r.method, &r.path))
            .count()
    }

    /// Forgets the requests received so far (not the violations), to count a later phase alone.
    pub fn clear_requests(&self) {
        self.shared.lock().requests.clear();
    }

    /// The requests refused as wrong on any GitHub, as sentences naming method, path and why.
    pub fn violations(&self) -> Vec<String> {
        self.shared.lock().violations.clone()
    }

    /// The violations so far, forgotten: for a test that provokes one on purpose.
    pub fn take_violations(&self) -> Vec<String> {
        std::mem::take(&mut self.shared.lock().violations)
    }

    /// Fails the test if any request was refused as wrong on any GitHub.
    pub fn assert_no_violations(&self) {
        let violations = self.violations();
        assert!(
            violations.is_empty(),
            "the fake GitHub refused {} request(s):\n{}",
            violations.len(),
            violations.join("\n")
        );
    }
}

impl Drop for FakeGitHub {
    fn drop(&mut self) {
        self.server.abort();
    }
}

fn repo_key(owner: &str, repo: &str) -> String {
    format!("{owner}/{repo}").to_ascii_lowercase()
}

/// The one handler: every request goes through [`Shared::respond`].
async fn serve(AxumState(shared): AxumState<Arc<Shared>>, request: Request) -> Response {
    let (parts, body) = request.into_parts();
    let authorization = parts
        .headers
        .get("authorization")
        .and_then(|v| v.to_str().ok())
        .unwrap_or_default()
        .to_owned();
    let incoming = Incoming {
        method: parts.method.as_str().to_owned(),
        path: parts.uri.path().to_owned(),
        query: parts.uri.query().unwrap_or_default().to_owned(),
        bearer: authorization
            .strip_prefix("Bearer ")
            .or_else(|| authorization.strip_prefix("token "))
            .map(str::to_owned),
        body: axum::body::to_bytes(body, 16 << 20)
            .await
            .unwrap_or_default()
            .to_vec(),
    };
    shared.respond(&incoming).into_response()
}

struct Incoming {
    method: String,
    path: String,
    query: String,
    bearer: Option<String>,
    body: Vec<u8>,
}

struct Reply {
    status: u16,
    body: Value,
    headers: Vec<(&'static str, String)>,
    violations: Vec<String>,
}

impl Reply {
    fn json(status: u16, body: Value) -> Self {
        Self {
            status,
            body,
            headers: Vec::new(),
            violations: Vec::new(),
        }
    }

    /// GitHub's error shape: `{"message", "documentation_url", "status"}`.
    fn error(status: u16, message: &str) -> Self {
        Self::json(
            status,
            json!({
                "message": message,
                "documentation_url": "https://docs.github.com/rest",
                "status": status.to_string(),
            }),
        )
    }

    /// A request wrong on any GitHub: answered, and recorded as a violation.
    fn violation(status: u16, violations: Vec<String>) -> Self {
        let mut reply = Self::error(
            status,
            &format!("Invalid request.\n\n{}", violations.join("\n")),
        );
        reply.violations = violations;
        reply
    }

    fn not_found() -> Self {
        Self::error(404, "Not Found")
    }

    fn header(mut self, name: &'static str, value: impl Into<String>) -> Self {
        self.headers.push((name, value.into()));
        self
    }

    fn into_response(self) -> Response {
        let mut builder = Response::builder()
            .status(self.status)
            .header("content-type", "application/json; charset=utf-8");
        for (name, value) in self.headers {
            builder = builder.header(name, value);
        }
        builder
            .body(Body::from(self.body.to_string()))
            .unwrap_or_else(|_| Response::new(Body::empty()))
    }
}

/// A request once checked: what the route handlers read.
struct Call {
    method: String,
    path: String,
    raw_query: String,
    query: Vec<(String, String)>,
    bearer: Option<String>,
    body: Value,
}

impl Call {
    fn param(&self, name: &str) -> Option<&str> {
        self.query
            .iter()
            .find(|(n, _)| n == name)
            .map(|(_, v)| v.as_str())
    }
}

impl Shared {
    fn lock(&self) -> MutexGuard<'_, GitHubState> {
        self.state.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// Records the request, decides the answer, records violations. The lock is held throughout,
    /// so requests apply one at a time.
    fn respond(&self, incoming: &Incoming) -> Reply {
        let mut state = self.lock();
        let body = (!incoming.body.is_empty()).then(|| {
            serde_json::from_slice::<Value>(&incoming.body)
                .map_err(|_| String::from_utf8_lossy(&incoming.body).into_owned())
        });
        state.requests.push(RecordedRequest {
            method: incoming.method.clone(),
            path: incoming.path.clone(),
            query: incoming.query.clone(),
            bearer: incoming.bearer.clone(),
            body: body
                .as_ref()
                .map(|b| b.clone().unwrap_or_else(Value::String)),
            status: 0,
        });
        let recorded = state.requests.len() - 1;
        let reply = self.decide(&mut state, incoming, body);
        state.requests[recorded].status = reply.status;
        let at = format!("{} {}", incoming.method, incoming.path);
        let violations: Vec<String> = reply
            .violations
            .iter()
            .map(|v| format!("{at}: {v}"))
            .collect();
        state.violations.extend(violations);
        reply
    }

    fn decide(
        &self,
        state: &mut GitHubState,
        incoming: &Incoming,
        body: Option<Result<Value, String>>,
    ) -> Reply {
        let body = match body {
            None => None,
            Some(Ok(value)) => Some(value),
            Some(Err(text)) => {
                return Reply::violation(400, vec![format!("the body is not JSON: {text:?}")]);
            }
        };
        if let Err(violations) = self.api.check_request(
            &incoming.method,
            &incoming.path,
            &incoming.query,
            body.as_ref(),
        ) {
            return Reply::violation(400, violations);
        }
        let call = Call {
            method: incoming.method.clone(),
            path: incoming.path.clone(),
            raw_query: incoming.query.clone(),
            query: query_pairs(&incoming.query),
            bearer: incoming.bearer.clone(),
            body: body.unwrap_or(Value::Null),
        };
        let segments: Vec<&str> = call.path.trim_start_matches('/').split('/').collect();
        if let ["app", "installations", id, "access_tokens"] = segments.as_slice() {
            return self.issue_token(state, id, &call);
        }
        if !self.authenticated(state, &call) {
            return Reply::error(401, "Bad credentials");
        }
        if let Some(reply) = take_fault(state) {
            return reply;
        }
        self.route(state, &call, &segments)
    }

    fn authenticated(&self, state: &GitHubState, call: &Call) -> bool {
        let now = Utc::now();
        match call.bearer.as_deref() {
            Some(PLAIN_TOKEN) => true,
            Some(token) => state
                .tokens
                .iter()
                .any(|t| t.token == token && t.expires_at > now),
            None => false,
        }
    }

    fn route(&self, state: &mut GitHubState, call: &Call, segments: &[&str]) -> Reply {
        match (call.method.as_str(), segments) {
            ("GET", ["repos", owner, repo, kind, "alerts"]) => match alert_kind(kind) {
                Some(kind) => self.list_alerts(state, &repo_key(owner, repo), kind, call),
                None => Reply::not_found(),
            },
            ("GET", ["repos", owner, repo, kind, "alerts", number]) => {
                match (alert_kind(kind), number.parse::<u64>()) {
                    (Some(kind), Ok(number)) => {
                        get_alert(state, &repo_key(owner, repo), kind, number, call)
                    }
                    _ => Reply::not_found(),
                }
            }
            ("PATCH", ["repos", owner, repo, kind, "alerts", number]) => {
                match (alert_kind(kind), number.parse::<u64>()) {
                    (Some(kind), Ok(number)) => {
                        update_alert(state, &repo_key(owner, repo), kind, number, &call.body)
                    }
                    _ => Reply::not_found(),
                }
            }
            ("GET", ["repos", owner, repo, "contents", path @ ..]) => {
                get_contents(state, &repo_key(owner, repo), &path.join("/"), call)
            }
            ("GET", ["repos", owner, repo, "issues"]) => {
                self.list_issues(state, &repo_key(owner, repo), call)
            }
            ("POST", ["repos", owner, repo, "issues"]) => {
                self.create_issue(state, &repo_key(owner, repo), &call.body)
            }
            ("PATCH", ["repos", owner, repo, "issues", number]) => match number.parse::<u64>() {
                Ok(number) => self.update_issue(state, &repo_key(owner, repo), number, &call.body),
                Err(_) => Reply::not_found(),
            },
            _ => Reply::violation(
                501,
                vec![format!(
                    "the fake GitHub does not model {} {} (it is in the description)",
                    call.method, call.path
                )],
            ),
        }
    }

    // ----- App authentication -----

    /// `POST /app/installations/{id}/access_tokens`, with an App JWT.
    fn issue_token(&self, state: &mut GitHubState, id: &str, call: &Call) -> Reply {
        let Some(jwt) = call.bearer.as_deref() else {
            return Reply::error(
                401,
                "A JSON web token could not be decoded (no Authorization header)",
            );
        };
        if let Err(why) = check_app_jwt(jwt) {
            return Reply::error(401, &why);
        }
        if id != INSTALLATION_ID.to_string() {
            return Reply::not_found();
        }
        let expires_at = Utc::now() + state.token_lifetime;
        let token = format!("ghs_fake{:04}", state.tokens.len() + 1);
        state.tokens.push(IssuedToken {
            token: token.clone(),
            expires_at,
        });
        Reply::json(
            201,
            json!({
                "token": token,
                "expires_at": github_time(expires_at),
                "permissions": {
                    "contents": "read",
                    "security_events": "write",
                    "vulnerability_alerts": "write",
                    "secret_scanning_alerts": "write",
                },
                "repository_selection": "all",
            }),
        )
    }

    // ----- alerts -----

    fn list_alerts(&self, state: &GitHubState, repo: &str, kind: AlertKind, call: &Call) -> Reply {
        let Some(alerts) = state.alerts.get(&(repo.to_owned(), kind)) else {
            return Reply::not_found();
        };
        if call.param("before").is_some() {
            return Reply::violation(501, vec!["the fake GitHub does not model `before`".into()]);
        }
        let states: Option<Vec<&str>> = call.param("state").map(|s| s.split(',').collect());
        let sort = call.param("sort").unwrap_or("created").to_owned();
        let descending = call.param("direction") != Some("asc");
        let per_page = call
            .param("per_page")
            .and_then(|p| p.parse::<usize>().ok())
            .unwrap_or(30)
            .clamp(1, 100);

        let mut listed: Vec<&Value> = alerts
            .iter()
            .filter(|alert| {
                let state = alert["state"].as_str().unwrap_or("open");
                states.as_ref().is_none_or(|wanted| wanted.contains(&state))
            })
            .collect();
        listed.sort_by_key(|alert| position(alert, &sort));
        if descending {
            listed.reverse();
        }
        let hide_secret = call.param("hide_secret") == Some("true");
        let shown = |alert: &&Value| shown_alert(alert, hide_secret);

        if kind == AlertKind::Dependabot {
            // Cursor pages: `after` names the position of the last alert of the page before.
            let start = match call.param("after") {
                None => 0,
                Some(cursor) => match decode_cursor(cursor) {
                    Some(after) => listed
                        .iter()
                        .position(|a| {
                            let p = position(a, &sort);
                            if descending { p < after } else { p > after }
                        })
                        .unwrap_or(listed.len()),
                    None => {
                        return Reply::error(400, "The cursor is invalid");
                    }
                },
            };
            let page: Vec<Value> = listed
                .iter()
                .skip(start)
                .take(per_page)
                .map(shown)
                .collect();
            let mut reply = Reply::json(200, Value::Array(page));
            if start + per_page < listed.len() {
                let last = listed[start + per_page - 1];
                let cursor = encode_cursor(position(last, &sort));
                let next = self.page_url(call, "after", &cursor);
                reply = reply.header("link", format!("<{next}>; rel=\"next\""));
            }
            return reply;
        }

        let page = call
            .param("page")
            .and_then(|p| p.parse::<usize>().ok())
            .unwrap_or(1)
            .max(1);
        let last_page = listed.len().div_ceil(per_page).max(1);
        let shown_page: Vec<Value> = listed
            .iter()
            .skip((page - 1) * per_page)
            .take(per_page)
            .map(shown)
            .collect();
        let mut links = Vec::new();
        if page > 1 {
            links.push((self.page_url(call, "page", &(page - 1).to_string()), "prev"));
        }
        if page < last_page {
            links.push((self.page_url(call, "page", &(page + 1).to_string()), "next"));
            links.push((self.page_url(call, "page", &last_page.to_string()), "last"));
        }
        if page > 1 {
            links.push((self.page_url(call, "page", "1"), "first"));
        }
        let mut reply = Reply::json(200, Value::Array(shown_page));
        if !links.is_empty() {
            let link: Vec<String> = links
                .iter()
                .map(|(url, rel)| format!("<{url}>; rel=\"{rel}\""))
                .collect();
            reply = reply.header("link", link.join(", "));
        }
        reply
    }

    // ----- issues -----

    /// `GET /repos/{owner}/{repo}/issues`: issues carrying every label of `labels`, in `state`
    /// (`open` unless told), newest first as GitHub's default `created`/`desc` sort has it.
    fn list_issues(&self, state: &GitHubState, repo: &str, call: &Call) -> Reply {
        let wanted_labels: Vec<&str> = call
            .param("labels")
            .map(|l| l.split(',').filter(|l| !l.is_empty()).collect())
            .unwrap_or_default();
        let wanted_state = call.param("state").unwrap_or("open");
        let per_page = call
            .param("per_page")
            .and_then(|p| p.parse::<usize>().ok())
            .unwrap_or(30)
            .clamp(1, 100);
        let page = call
            .param("page")
            .and_then(|p| p.parse::<usize>().ok())
            .unwrap_or(1)
            .max(1);
        let listed: Vec<Value> = state
            .issues
            .get(repo)
            .into_iter()
            .flatten()
            .rev()
            .filter(|issue| wanted_state == "all" || issue.state == wanted_state)
            .filter(|issue| {
                // GitHub matches label names case-insensitively.
                wanted_labels
                    .iter()
                    .all(|w| issue.labels.iter().any(|l| l.eq_ignore_ascii_case(w)))
            })
            .skip((page - 1) * per_page)
            .take(per_page)
            .map(|issue| issue.to_json(&self.base_url, repo))
            .collect();
        Reply::json(200, Value::Array(listed))
    }

    /// `POST /repos/{owner}/{repo}/issues`: a new open issue, its labels kept by name.
    fn create_issue(&self, state: &mut GitHubState, repo: &str, body: &Value) -> Reply {
        let issues = state.issues.entry(repo.to_owned()).or_default();
        let issue = FakeIssue {
            number: issues.len() as u64 + 1,
            title: text_of(&body["title"]),
            body: body["body"].as_str().map(str::to_owned),
            labels: label_names(&body["labels"]),
            state: "open".to_owned(),
            updates: 0,
        };
        let shown = issue.to_json(&self.base_url, repo);
        issues.push(issue);
        Reply::json(201, shown)
    }

    /// `PATCH /repos/{owner}/{repo}/issues/{issue_number}`: the fields sent, replaced.
    fn update_issue(
        &self,
        state: &mut GitHubState,
        repo: &str,
        number: u64,
        body: &Value,
    ) -> Reply {
        let Some(issue) = state
            .issues
            .get_mut(repo)
            .and_then(|issues| issues.iter_mut().find(|i| i.number == number))
        else {
            return Reply::not_found();
        };
        if let Some(title) = body.get("title").filter(|t| !t.is_null()) {
            issue.title = text_of(title);
        }
        if let Some(text) = body.get("body") {
            issue.body = text.as_str().map(str::to_owned);
        }
        if let Some(new_state) = body["state"].as_str() {
            issue.state = new_state.to_owned();
        }
        if body.get("labels").is_some() {
            issue.labels = label_names(&body["labels"]);
        }
        issue.updates += 1;
        Reply::json(200, issue.to_json(&self.base_url, repo))
    }

    /// This request's URL with `name` set to `value`, every other parameter kept as sent.
    fn page_url(&self, call: &Call, name: &str, value: &str) -> String {
        let mut pairs: Vec<String> = call
            .raw_query
            .split('&')
            .filter(|pair| !pair.is_empty())
            .filter(|pair| pair.split('=').next() != Some(name))
            .map(str::to_owned)
            .collect();
        pairs.push(format!("{name}={}", url_encode(value)));
        format!("{}{}?{}", self.base_url, call.path, pairs.join("&"))
    }
}

/// A title as sent: the description allows a string or an integer.
fn text_of(value: &Value) -> String {
    value
        .as_str()
        .map(str::to_owned)
        .unwrap_or_else(|| value.to_string())
}

/// Label names from a `labels` array of names or `{"name": …}` objects.
fn label_names(labels: &Value) -> Vec<String> {
    labels
        .as_array()
        .into_iter()
        .flatten()
        .filter_map(|l| l.as_str().or_else(|| l["name"].as_str()))
        .map(str::to_owned)
        .collect()
}

fn alert_kind(segment: &str) -> Option<AlertKind> {
    match segment {
        "code-scanning" => Some(AlertKind::CodeScanning),
        "dependabot" => Some(AlertKind::Dependabot),
        "secret-scanning" => Some(AlertKind::SecretScanning),
        _ => None,
    }
}

/// Where an alert sorts: (its `sort` field as seconds, or its number; its number).
fn position(alert: &Value, sort: &str) -> (i64, u64) {
    let number = alert["number"].as_u64().unwrap_or_default();
    let time = |field: &str| {
        alert[field]
            .as_str()
            .and_then(|t| t.parse::<DateTime<Utc>>().ok())
            .map(|t| t.timestamp())
    };
    let key = match sort {
        "updated" => time("updated_at").or_else(|| time("created_at")),
        "created" => time("created_at"),
        _ => None,
    };
    (key.unwrap_or(number as i64), number)
}

/// An opaque-looking cursor for a position, as GitHub's are (base64 of a versioned tuple).
fn encode_cursor((key, number): (i64, u64)) -> String {
    base64_encode(format!("cursor:v2:{key}:{number}").as_bytes())
}

fn decode_cursor(cursor: &str) -> Option<(i64, u64)> {
    let text = String::from_utf8(base64_decode(cursor)?).ok()?;
    let rest = text.strip_prefix("cursor:v2:")?;
    let (key, number) = rest.split_once(':')?;
    Some((key.parse().ok()?, number.parse().ok()?))
}

/// The alert as the API shows it: without the secret itself when `hide_secret` was asked for.
fn shown_alert(alert: &Value, hide_secret: bool) -> Value {
    let mut alert = alert.clone();
    if hide_secret && let Some(object) = alert.as_object_mut() {
        object.remove("secret");
    }
    alert
}

fn find_alert<'a>(
    state: &'a mut GitHubState,
    repo: &str,
    kind: AlertKind,
    number: u64,
) -> Result<&'a mut Value, Reply> {
    let alerts = state
        .alerts
        .get_mut(&(repo.to_owned(), kind))
        .ok_or_else(Reply::not_found)?;
    alerts
        .iter_mut()
        .find(|a| a["number"].as_u64() == Some(number))
        .ok_or_else(|| Reply::error(404, &format!("No alert found for alert number {number}")))
}

fn get_alert(
    state: &mut GitHubState,
    repo: &str,
    kind: AlertKind,
    number: u64,
    call: &Call,
) -> Reply {
    match find_alert(state, repo, kind, number) {
        Ok(alert) => Reply::json(
            200,
            shown_alert(alert, call.param("hide_secret") == Some("true")),
        ),
        Err(reply) => reply,
    }
}

/// PATCH: dismiss / resolve / reopen, with GitHub's rule that closing needs a reason.
fn update_alert(
    state: &mut GitHubState,
    repo: &str,
    kind: AlertKind,
    number: u64,
    body: &Value,
) -> Reply {
    let alert = match find_alert(state, repo, kind, number) {
        Ok(alert) => alert,
        Err(reply) => return reply,
    };
    let now = json!(github_time(Utc::now()));
    let bot = json!({"login": "scantix[bot]", "id": 1, "type": "Bot"});
    let Some(new_state) = body["state"].as_str() else {
        return Reply::violation(
            501,
            vec!["the fake GitHub models state changes only".into()],
        );
    };
    let (closing, reason, comment, by, at) = match kind {
        AlertKind::SecretScanning => (
            "resolved",
            "resolution",
            "resolution_comment",
            "resolved_by",
            "resolved_at",
        ),
        _ => (
            "dismissed",
            "dismissed_reason",
            "dismissed_comment",
            "dismissed_by",
            "dismissed_at",
        ),
    };
    if new_state == closing {
        if body[reason].is_null() {
            return Reply::violation(
                422,
                vec![format!(
                    "`{reason}` is required when the state is `{closing}`"
                )],
            );
        }
        alert[reason] = body[reason].clone();
        alert[comment] = body.get(comment).cloned().unwrap_or(Value::Null);
        alert[by] = bot;
        alert[at] = now.clone();
    } else {
        for field in [reason, comment, by, at] {
            alert[field] = Value::Null;
        }
    }
    alert["state"] = json!(new_state);
    alert["updated_at"] = now;
    Reply::json(200, alert.clone())
}

// ----- contents -----

fn get_contents(state: &GitHubState, repo: &str, path: &str, call: &Call) -> Reply {
    let path = crate::openapi::percent_decode(path);
    let git_ref = call.param("ref").map(str::to_owned);
    let key = (repo.to_owned(), path.clone(), git_ref.clone());
    if let Some(text) = state.files.get(&key) {
        let name = path.rsplit('/').next().unwrap_or_default();
        return Reply::json(
            200,
            json!({
                "type": "file",
                "encoding": "base64",
                "size": text.len(),
                "name": name,
                "path": path,
                "content": base64_lines(text.as_bytes()),
                "sha": format!("{:040x}", text.len()),
            }),
        );
    }
    let prefix = format!("{path}/");
    let entries: Vec<Value> = state
        .files
        .keys()
        .filter(|(r, p, g)| r == repo && *g == git_ref && p.starts_with(&prefix))
        .map(|(_, p, _)| json!({"type": "file", "path": p, "name": p.rsplit('/').next()}))
        .collect();
    if entries.is_empty() {
        Reply::not_found()
    } else {
        Reply::json(200, Value::Array(entries))
    }
}

// ----- faults -----

fn take_fault(state: &mut GitHubState) -> Option<Reply> {
    let (fault, remaining) = state.faults.iter_mut().find(|(_, n)| *n > 0)?;
    *remaining -= 1;
    Some(match fault.clone() {
        Fault::PrimaryRateLimit { reset_in_secs } => {
            let reset = Utc::now().timestamp() + reset_in_secs;
            Reply::error(403, "API rate limit exceeded for installation.")
                .header("x-ratelimit-limit", "5000")
                .header("x-ratelimit-remaining", "0")
                .header("x-ratelimit-used", "5000")
                .header("x-ratelimit-reset", reset.to_string())
                .header("x-ratelimit-resource", "core")
        }
        Fault::SecondaryRateLimit { retry_after_secs } => Reply::error(
            429,
            "You have exceeded a secondary rate limit. Please wait a few minutes before you try again.",
        )
        .header("retry-after", retry_after_secs.to_string()),
        Fault::Status(status) => Reply::error(status, "Injected failure"),
    })
}

/// Checks an App JWT as GitHub does: RS256 with the App's key, `iss` the App id, `iat` in the
/// past, `exp` in the future but at most 10 minutes ahead.
fn check_app_jwt(jwt: &str) -> Result<(), String> {
    let mut validation = Validation::new(Algorithm::RS256);
    // `iss` is a number for GitHub; jsonwebtoken would check it only as a string.
    validation.set_required_spec_claims(&["exp"]);
    validation.leeway = 0;
    let claims = decode::<Value>(jwt, public_key(), &validation)
        .map_err(|e| format!("A JSON web token could not be decoded ({e})"))?
        .claims;
    let now = Utc::now().timestamp();
    let number = |name: &str| {
        claims[name]
            .as_i64()
            .or_else(|| claims[name].as_str()?.parse().ok())
    };
    if number("iss") != Some(APP_ID as i64) {
        return Err(format!(
            "'Issuer' claim ('iss') must be the App id, got {}",
            claims["iss"]
        ));
    }
    match (number("iat"), number("exp")) {
        (Some(iat), _) if iat > now => Err(
            "'Issued at' claim ('iat') must be an Integer representing a time in the past".into(),
        ),
        (_, Some(exp)) if exp > now + 600 => {
            Err("'Expiration time' claim ('exp') is too far in the future".into())
        }
        (Some(_), Some(_)) => Ok(()),
        _ => Err("'iat' and 'exp' claims are required".into()),
    }
}

/// `*` matches any method or one path segment; a final `**` any remaining segments.
fn pattern_matches(method: &str, pattern: &str, actual_method: &str, path: &str) -> bool {
    if method != "*" && !method.eq_ignore_ascii_case(actual_method) {
        return false;
    }
    let wanted: Vec<&str> = pattern.trim_start_matches('/').split('/').collect();
    let actual: Vec<&str> = path.trim_start_matches('/').split('/').collect();
    for (i, part) in wanted.iter().enumerate() {
        match *part {
            "**" if i + 1 == wanted.len() => return true,
            "*" if i < actual.len() => {}
            _ if actual.get(i) == Some(part) => {}
            _ => return false,
        }
    }
    wanted.len() == actual.len()
}

/// Percent-encodes everything but RFC 3986's unreserved characters.
fn url_encode(text: &str) -> String {
    text.bytes()
        .map(|b| {
            if b.is_ascii_alphanumeric() || b"-._~".contains(&b) {
                char::from(b).to_string()
            } else {
                format!("%{b:02X}")
            }
        })
        .collect()
}

const BASE64: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";

fn base64_encode(bytes: &[u8]) -> String {
    let mut out = String::new();
    for chunk in bytes.chunks(3) {
        let byte = |i: usize| u32::from(chunk.get(i).copied().unwrap_or(0));
        let n = (byte(0) << 16) | (byte(1) << 8) | byte(2);
        for i in 0..4 {
            if i <= chunk.len() {
                out.push(char::from(BASE64[(n >> (18 - 6 * i)) as usize & 63]));
            } else {
                out.push('=');
            }
        }
    }
    out
}

/// Base64 in lines of 60 characters, each ending in `\n`, as the contents API sends it.
fn base64_lines(bytes: &[u8]) -> String {
    let encoded = base64_encode(bytes);
    let mut out = String::new();
    for line in encoded.as_bytes().chunks(60) {
        out.push_str(&String::from_utf8_lossy(line));
        out.push('\n');
    }
    out
}

fn base64_decode(text: &str) -> Option<Vec<u8>> {
    let mut bits = 0u32;
    let mut count = 0;
    let mut out = Vec::new();
    for c in text.trim_end_matches('=').bytes() {
        let value = BASE64.iter().position(|b| *b == c)? as u32;
        bits = (bits << 6) | value;
        count += 6;
        if count >= 8 {
            count -= 8;
            out.push((bits >> count) as u8);
            bits &= (1 << count) - 1;
        }
    }
    Some(out)
}
