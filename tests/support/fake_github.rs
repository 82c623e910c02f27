//! An in-process fake GitHub REST API on a free local port, for testing the REST adapter and the
//! App authentication against something that refuses what GitHub refuses.
//!
//! # What it checks
//! Every request is checked against GitHub's official REST description
//! (`../shared/fixtures/github-openapi/github-openapi-subset.json`, through [`crate::openapi`],
//! plus `GET /orgs/{org}/repos`, `GET /app` and `GET /user`, which the subset leaves out,
//! transcribed in [`org_repos_item`], [`authenticated_app_item`] and [`authenticated_user_item`])
//! before anything else; a request it does not satisfy is answered 400 and recorded as a
//! violation. Then credentials: `POST /app/installations/{id}/access_tokens` wants an App JWT
//! (RS256, signed with the test App's key, `iss` the App id, `iat` in the past, `exp` at most 10
//! minutes ahead); every `/repos/...` call wants an installation token this fake issued and that
//! has not expired, or [`PLAIN_TOKEN`]. Bad credentials are answered 401 as GitHub does, and are
//! not violations: a correct client must expect them.
//!
//! Every request must also name the REST API version it was written for, [`API_VERSION`], in
//! `X-GitHub-Api-Version`. GitHub answers 400 to a version it does not support; one that names
//! none gets GitHub's current default, which changes under a client that did not ask for it, so
//! here it is a violation too (answered 400).
//!
//! # What it serves
//! Alerts of the three kinds per repository, seeded by the test (real responses from
//! `github-rest-responses/octocrab`, and numbered variants of them): list with `state`, `sort`,
//! `direction`, `per_page`, paged with `Link` headers as GitHub pages each kind (page numbers for
//! code scanning and secret scanning, `after` cursors for Dependabot), and code scanning also per
//! `ref` (a pull request's analysis, seeded with [`FakeGitHub::set_ref_alerts`]); get; PATCH to
//! dismiss, resolve or reopen (with GitHub's rule that a closing state needs its reason) and to
//! assign (`assignees`, or a secret's `assignee`; logins [`FakeGitHub::refuse_assignee`] names are
//! refused 422). File
//! contents, base64 as GitHub sends them. Issues per repository (any repository has them), pull
//! requests among them as the issues API shows them ([`FakeGitHub::add_pull_request`]): list
//! filtered by `labels` (all of them) and `state`, sorted by `created` or `updated` either way
//! (newest first unless told), `per_page` and `page` with `Link` headers; create (with assignees:
//! any login but those [`FakeGitHub::refuse_assignee`] names, refused 422 as GitHub does); get;
//! PATCH of title, body, state with `state_reason`, labels and assignees; deleted issues answer
//! 410. Issue and pull request comments (the conversation of any number: the fake does not model
//! pull requests themselves): list (oldest first, `since`, `per_page`, `page`, `Link` headers),
//! create, get, PATCH and DELETE by comment id; written by `scantix[bot]` whatever the token, or
//! seeded as a person's ([`FakeGitHub::add_comment`]). Which installation covers a repository
//! (`GET /repos/{o}/{r}/installation`, with the App's JWT): [`INSTALLATION_ID`], unless
//! [`FakeGitHub::uninstall_repository`] took it out. The App's installations (`GET
//! /app/installations`, with its JWT, paged; [`INSTALLATION_ID`] on account [`INSTALLATION_ACCOUNT`]
//! unless [`FakeGitHub::install`] or [`FakeGitHub::uninstall`] changed them), each built from the
//! description's own `base-installation` example; the repositories one can access (`GET
//! /installation/repositories`, with a token minted for that installation, paged); tokens are
//! minted only for a listed installation (404 otherwise, 403 when suspended). An organisation's repositories (`GET /orgs/{org}/repos`, seeded
//! with [`FakeGitHub::add_repository`]), paged by `page` with `Link` headers. Who is calling: the
//! test App (`GET /app` with its JWT; slug [`APP_SLUG`]) and [`PLAIN_TOKEN`]'s user (`GET /user`;
//! [`PLAIN_TOKEN_LOGIN`]; an installation token is refused 403 there). Injected faults:
//! rate limits in both of GitHub's styles, and any status, on any request or on chosen ones; and
//! an answer lost after the request took effect ([`Fault::AnswerLost`]).
//!
//! # Not modelled
//! `before` cursors, the other list filters (`tool_name`, `severity`, `ecosystem`, …), alert
//! assignees, alert instances and locations, check runs (501, recorded), the issue listing's other
//! filters (`assignee`, `creator`, `since`, …) and its `comments` sort, locked conversations,
//! reactions, permissions of tokens, the org
//! repository listing's `type` filter and other sorts (every repository is listed, by creation),
//! GitHub's refusal to reopen a fixed alert, the rate limit counters of healthy answers.

use crate::fake_jira::pattern_matches;
use crate::openapi::{OpenApi, query_pairs};
use crate::webhooks::fixture_path;
use axum::Router;
use axum::body::Body;
use axum::extract::{Request, State as AxumState};
use axum::response::Response;
use chrono::{DateTime, Utc};
use scantix_core::finding::AlertKind;
use scantix_github::rest::jsonwebtoken::{Algorithm, DecodingKey, Validation, decode};
use serde_json::{Value, json};
use std::collections::BTreeMap;
use std::sync::{Arc, Mutex, MutexGuard, OnceLock, PoisonError};
use tokio::task::JoinHandle;

/// The test App's id (`iss` of its JWTs).
pub const APP_ID: u64 = 1_234_567;
/// The installation the test App has at the start; access tokens for one it does not have are
/// refused (404).
pub const INSTALLATION_ID: u64 = 4_242;
/// The account [`INSTALLATION_ID`] is installed on, until [`FakeGitHub::install`] says otherwise.
pub const INSTALLATION_ACCOUNT: &str = "octo-org";
/// A token accepted as it is (a personal access token), for clients without App credentials.
pub const PLAIN_TOKEN: &str = "ghp_fake_personal_access_token";
/// The REST API version this fake serves: the one GitHub's description (the vendored
/// `@octokit/openapi` 23.0.2) describes, whose only newer version, 2026-03-10, it lists as
/// `x-github-breaking-changes` patches that the fake does not model.
pub const API_VERSION: &str = "2022-11-28";
/// The user [`PLAIN_TOKEN`] belongs to (`GET /user`): a machine account scantix runs as locally.
pub const PLAIN_TOKEN_LOGIN: &str = "scantix-runner";
/// The test App's slug (`GET /app`): its bot account, which writes as the App, is `scantix[bot]`.
pub const APP_SLUG: &str = "scantix";

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
        .join("../shared/adapters/github/src/testdata")
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

/// A real alert of `kind` (octocrab's recorded responses: the single code scanning alert, the
/// first Dependabot alert, the second secret scanning alert), renumbered `number`, updated at
/// `updated_at`, and open (its dismissal or resolution cleared).
pub fn open_alert(kind: AlertKind, number: u64, updated_at: DateTime<Utc>) -> Value {
    let base = match kind {
        AlertKind::CodeScanning => octocrab_response("codescanning_alert_single.json"),
        AlertKind::Dependabot => octocrab_response("check_dependabot_alerts.json")[0].clone(),
        AlertKind::SecretScanning => octocrab_response("check_secrets_alerts.json")[1].clone(),
        // GitHub holds no alert for a SARIF finding applied to scantix.
        AlertKind::Sarif => return Value::Null,
    };
    let mut alert = numbered(&base, number, updated_at);
    alert["state"] = json!("open");
    for field in [
        "dismissed_by",
        "dismissed_at",
        "dismissed_reason",
        "dismissed_comment",
        "resolution",
        "resolved_at",
        "resolved_by",
        "resolution_comment",
    ] {
        if alert.get(field).is_some() {
            alert[field] = Value::Null;
        }
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
    /// The `X-GitHub-Api-Version` header sent, if any.
    pub api_version: Option<String>,
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
    /// The request takes effect, but its answer is lost: the client gets this status instead (a
    /// proxy's 502 after GitHub acted, a gateway timeout). What makes a create ambiguous.
    AnswerLost(u16),
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
    /// Every repository's issue and pull request comments, oldest first (ids from 1).
    comments: Vec<FakeComment>,
    /// Logins GitHub will not assign (not collaborators): an issue naming one is refused.
    unassignable: Vec<String>,
    /// "owner/repo" lowercased of repositories the test App is not installed on.
    not_installed: Vec<String>,
    tokens: Vec<IssuedToken>,
    token_lifetime: chrono::Duration,
    requests: Vec<RecordedRequest>,
    violations: Vec<String>,
    faults: Vec<(Fault, usize)>,
    /// Faults for chosen requests only, checked before `faults`.
    targeted: Vec<Targeted>,
    /// Repository id → (owner, name), as seeded: what an organisation's listing shows.
    repositories: BTreeMap<u64, (String, String)>,
    /// Pull requests: ("owner/repo" lowercased, ref) → the code scanning alerts of that ref's last
    /// analysis, each with the `most_recent_instance` of that ref (see `set_ref_alerts`).
    ref_alerts: BTreeMap<(String, String), Vec<Value>>,
    /// "owner/repo" lowercased → its code scanning analyses (GitHub's `code-scanning-analysis`
    /// objects) with their SARIF, oldest first (see `add_analysis`).
    analyses: BTreeMap<String, Vec<(Value, Value)>>,
    /// The test App's installations by id.
    installations: BTreeMap<u64, FakeInstallation>,
}

/// An installation of the test App: the account it is on, the repositories it can access
/// (owner, name, id), and whether it is suspended.
#[derive(Clone, Debug)]
struct FakeInstallation {
    account: String,
    repositories: Vec<(String, String, u64)>,
    suspended: bool,
}

/// A fault for the requests matching `method`, `path` (see [`FakeGitHub::count`]) and, if set,
/// carrying `query` in their query string.
struct Targeted {
    method: String,
    path: String,
    query: Option<String>,
    fault: Fault,
    remaining: usize,
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
    /// `completed`, `not_planned`, `duplicate` (closed) or `reopened`; `None` for a new issue.
    pub state_reason: Option<String>,
    pub assignees: Vec<String>,
    /// Who opened it: `scantix[bot]` for issues created through the API.
    pub author: String,
    /// A pull request, as the issues API shows one.
    pub pull_request: bool,
    /// Deleted by a person: gone from listings, answered 410.
    pub deleted: bool,
    /// How many PATCHes it took.
    pub updates: u32,
}

impl FakeIssue {
    fn new(number: u64, title: &str, author: &str) -> Self {
        Self {
            number,
            title: title.to_owned(),
            body: None,
            labels: Vec::new(),
            state: "open".to_owned(),
            state_reason: None,
            assignees: Vec::new(),
            author: author.to_owned(),
            pull_request: false,
            deleted: false,
            updates: 0,
        }
    }

    /// As the API (and an `issues` webhook's `issue`) shows an issue.
    fn to_json(&self, base_url: &str, repo: &str) -> Value {
        let labels: Vec<Value> = self
            .labels
            .iter()
            .map(|name| json!({"name": name, "color": "ededed", "default": false}))
            .collect();
        let assignees: Vec<Value> = self.assignees.iter().map(|login| user(login)).collect();
        let kind = if self.pull_request { "pull" } else { "issues" };
        let mut shown = json!({
            "id": self.number + 1_000_000,
            "node_id": format!("I_fake{}", self.number),
            "number": self.number,
            "url": format!("{base_url}/repos/{repo}/issues/{}", self.number),
            "repository_url": format!("{base_url}/repos/{repo}"),
            "comments_url": format!("{base_url}/repos/{repo}/issues/{}/comments", self.number),
            "html_url": format!("https://github.com/{repo}/{kind}/{}", self.number),
            "title": self.title,
            "body": self.body,
            "state": self.state,
            "state_reason": self.state_reason,
            "locked": false,
            "labels": labels,
            "assignee": assignees.first(),
            "assignees": assignees,
            "user": user(&self.author),
            "author_association": "NONE",
        });
        if self.pull_request {
            shown["pull_request"] = json!({
                "url": format!("{base_url}/repos/{repo}/pulls/{}", self.number),
                "html_url": format!("https://github.com/{repo}/pull/{}", self.number),
            });
        }
        shown
    }
}

/// A user as the API shows one: an App's bot account (`…[bot]`) is a `Bot`.
fn user(login: &str) -> Value {
    let kind = if login.ends_with("[bot]") {
        "Bot"
    } else {
        "User"
    };
    json!({"login": login, "id": login.len(), "type": kind})
}

/// An issue or pull request comment as the fake keeps it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct FakeComment {
    pub id: u64,
    /// "owner/repo" lowercased.
    pub repo: String,
    /// The issue or pull request it is on.
    pub number: u64,
    pub body: String,
    pub author: String,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
    /// How many PATCHes it took.
    pub updates: u32,
}

impl FakeComment {
    fn to_json(&self, base_url: &str) -> Value {
        let repo = &self.repo;
        json!({
            "id": self.id,
            "node_id": format!("IC_fake{}", self.id),
            "url": format!("{base_url}/repos/{repo}/issues/comments/{}", self.id),
            "html_url": format!("https://github.com/{repo}/issues/{}#issuecomment-{}", self.number, self.id),
            "issue_url": format!("{base_url}/repos/{repo}/issues/{}", self.number),
            "body": self.body,
            "user": user(&self.author),
            "author_association": "NONE",
            "created_at": github_time(self.created_at),
            "updated_at": github_time(self.updated_at),
        })
    }
}

struct IssuedToken {
    token: String,
    expires_at: DateTime<Utc>,
    /// The installation it acts for.
    installation: u64,
}

fn github_description() -> &'static OpenApi {
    static GITHUB: OnceLock<OpenApi> = OnceLock::new();
    GITHUB.get_or_init(|| {
        OpenApi::load(fixture_path("github-openapi/github-openapi-subset.json"))
            .expect("the GitHub OpenAPI subset in ../shared/fixtures loads")
            .with_part(
                std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
                    .join("fixtures/github-openapi/code-scanning-analyses.json"),
            )
            .expect("the code scanning analyses part of the description loads")
            .with_path("/orgs/{org}/repos", org_repos_item())
            .with_path("/app", authenticated_app_item())
            .with_path("/user", authenticated_user_item())
            .with_path("/app/installations", app_installations_item())
            .with_path(
                "/installation/repositories",
                installation_repositories_item(),
            )
    })
}

/// `GET /app/installations` ("List installations for the authenticated app", operationId
/// `apps/list-installations`) as GitHub's official REST description gives it (the
/// `github/rest-api-description` document the subset was cut from; MIT, see
/// `../shared/fixtures/github-openapi/LICENSE.github-rest-api-description.md`), transcribed because
/// the subset leaves it out: `per_page`, `page` and `since` by reference to the subset's own
/// components, `outdated` inline; the response (an array of `installation`) is not checked.
/// Matches docs.github.com/rest/apps/apps#list-installations-for-the-authenticated-app.
pub fn app_installations_item() -> Value {
    json!({
        "get": {
            "summary": "List installations for the authenticated app",
            "description": "The permissions the installation has are included under the `permissions` key.\n\nYou must use a [JWT](https://docs.github.com/apps/building-github-apps/authenticating-with-github-apps/#authenticating-as-a-github-app) to access this endpoint.",
            "tags": ["apps"],
            "operationId": "apps/list-installations",
            "externalDocs": {
                "description": "API method documentation",
                "url": "https://docs.github.com/rest/apps/apps#list-installations-for-the-authenticated-app"
            },
            "parameters": [
                { "$ref": "#/components/parameters/per-page" },
                { "$ref": "#/components/parameters/page" },
                { "$ref": "#/components/parameters/since" },
                {
                    "name": "outdated",
                    "in": "query",
                    "required": false,
                    "schema": { "type": "string" }
                }
            ],
            "responses": { "200": { "description": "The permissions the installation has are included under the `permissions` key." } }
        }
    })
}

/// `GET /installation/repositories` ("List repositories accessible to the app installation",
/// operationId `apps/list-repos-accessible-to-installation`), from the same description and for
/// the same reason as [`app_installations_item`]: `per_page` and `page`; the response (`{
/// total_count, repositories, repository_selection }`) is not checked. Matches
/// docs.github.com/rest/apps/installations#list-repositories-accessible-to-the-app-installation.
pub fn installation_repositories_item() -> Value {
    json!({
        "get": {
            "summary": "List repositories accessible to the app installation",
            "description": "List repositories that an app installation can access.",
            "tags": ["apps"],
            "operationId": "apps/list-repos-accessible-to-installation",
            "externalDocs": {
                "description": "API method documentation",
                "url": "https://docs.github.com/rest/apps/installations#list-repositories-accessible-to-the-app-installation"
            },
            "parameters": [
                { "$ref": "#/components/parameters/per-page" },
                { "$ref": "#/components/parameters/page" }
            ],
            "responses": { "200": { "description": "Response" } }
        }
    })
}

/// `GET /app` ("Get the authenticated app", operationId `apps/get-authenticated`) as GitHub's
/// official REST description (`@octokit/openapi` 23.0.2, `generated/api.github.com.json`, the
/// subset's source; MIT, see `../shared/fixtures/github-openapi/LICENSE.octokit-openapi`) gives it,
/// transcribed because the subset leaves it out; the response (an `integration`) is not checked.
pub fn authenticated_app_item() -> Value {
    json!({
        "get": {
            "summary": "Get the authenticated app",
            "description": "Returns the GitHub App associated with the authentication credentials used. To see how many app installations are associated with this GitHub App, see the `installations_count` in the response. For more details about your app's installations, see the \"[List installations for the authenticated app](https://docs.github.com/rest/apps/apps#list-installations-for-the-authenticated-app)\" endpoint.\n\nYou must use a [JWT](https://docs.github.com/apps/building-github-apps/authenticating-with-github-apps/#authenticating-as-a-github-app) to access this endpoint.",
            "tags": ["apps"],
            "operationId": "apps/get-authenticated",
            "externalDocs": {
                "description": "API method documentation",
                "url": "https://docs.github.com/rest/apps/apps#get-the-authenticated-app"
            },
            "parameters": [],
            "responses": { "200": { "description": "Response" } }
        }
    })
}

/// `GET /user` ("Get the authenticated user", operationId `users/get-authenticated`), from the same
/// description and for the same reason as [`authenticated_app_item`]. GitHub marks it
/// `enabledForGitHubApps: false`: an installation token is refused (403), a user's token answered.
pub fn authenticated_user_item() -> Value {
    json!({
        "get": {
            "summary": "Get the authenticated user",
            "description": "OAuth app tokens and personal access tokens (classic) need the `user` scope in order for the response to include private profile information.",
            "tags": ["users"],
            "operationId": "users/get-authenticated",
            "externalDocs": {
                "description": "API method documentation",
                "url": "https://docs.github.com/rest/users/users#get-the-authenticated-user"
            },
            "parameters": [],
            "responses": { "200": { "description": "Response" } }
        }
    })
}

/// `GET /orgs/{org}/repos` ("List organization repositories", operationId `repos/list-for-org`)
/// as GitHub's official REST description (`api.github.com.json` of github/rest-api-description,
/// MIT; see `../shared/fixtures/github-openapi/LICENSE.github-rest-api-description.md`) gives it,
/// transcribed because the subset leaves it out: `org` inlined from `components/parameters/org`,
/// `per_page` and `page` by reference to the subset's own components, the response not (responses
/// are not checked). Its parameters match docs.github.com/rest/repos/repos#list-organization-repositories.
pub fn org_repos_item() -> Value {
    json!({
        "get": {
            "summary": "List organization repositories",
            "operationId": "repos/list-for-org",
            "parameters": [
                {
                    "name": "org",
                    "description": "The organization name. The name is not case sensitive.",
                    "in": "path",
                    "required": true,
                    "schema": { "type": "string" }
                },
                {
                    "name": "type",
                    "description": "Specifies the types of repositories you want returned.",
                    "in": "query",
                    "required": false,
                    "schema": {
                        "type": "string",
                        "enum": ["all", "public", "private", "forks", "sources", "member"],
                        "default": "all"
                    }
                },
                {
                    "name": "sort",
                    "description": "The property to sort the results by.",
                    "in": "query",
                    "required": false,
                    "schema": {
                        "type": "string",
                        "enum": ["created", "updated", "pushed", "full_name"],
                        "default": "created"
                    }
                },
                {
                    "name": "direction",
                    "description": "The order to sort by. Default: `asc` when using `full_name`, otherwise `desc`.",
                    "in": "query",
                    "required": false,
                    "schema": { "type": "string", "enum": ["asc", "desc"] }
                },
                { "$ref": "#/components/parameters/per-page" },
                { "$ref": "#/components/parameters/page" }
            ],
            "responses": { "200": { "description": "Response" } }
        }
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
                comments: Vec::new(),
                unassignable: Vec::new(),
                not_installed: Vec::new(),
                tokens: Vec::new(),
                token_lifetime: chrono::Duration::hours(1),
                requests: Vec::new(),
                violations: Vec::new(),
                faults: Vec::new(),
                targeted: Vec::new(),
                repositories: BTreeMap::new(),
                ref_alerts: BTreeMap::new(),
                analyses: BTreeMap::new(),
                installations: BTreeMap::from([(
                    INSTALLATION_ID,
                    FakeInstallation {
                        account: INSTALLATION_ACCOUNT.to_owned(),
                        repositories: Vec::new(),
                        suspended: false,
                    },
                )]),
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

    /// Seeds a repository of `owner` with this id: listed by `GET /orgs/{owner}/repos`.
    pub fn add_repository(&self, owner: &str, name: &str, id: u64) {
        self.shared
            .lock()
            .repositories
            .insert(id, (owner.to_owned(), name.to_owned()));
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
        let mut issue = FakeIssue::new(number, title, "octocat");
        issue.labels = labels.iter().map(|l| (*l).to_owned()).collect();
        issue.state = state.to_owned();
        issues.push(issue);
        number
    }

    /// Seeds a pull request of `owner/repo`, numbered among its issues as GitHub numbers them;
    /// returns its number. Its conversation takes comments like an issue's.
    pub fn add_pull_request(&self, owner: &str, repo: &str, title: &str) -> u64 {
        let mut shared = self.shared.lock();
        let issues = shared.issues.entry(repo_key(owner, repo)).or_default();
        let number = issues.len() as u64 + 1;
        let mut pull = FakeIssue::new(number, title, "octocat");
        pull.pull_request = true;
        issues.push(pull);
        number
    }

    /// Issue `number` of `owner/repo` as GitHub now has it.
    pub fn issue(&self, owner: &str, repo: &str, number: u64) -> Option<FakeIssue> {
        self.issues(owner, repo)
            .into_iter()
            .find(|i| i.number == number)
    }

    /// Issue `number` as the API (and an `issues` webhook's `issue`) shows it.
    pub fn issue_json(&self, owner: &str, repo: &str, number: u64) -> Option<Value> {
        let key = repo_key(owner, repo);
        let issue = self.issue(owner, repo, number)?;
        Some(issue.to_json(&self.shared.base_url, &key))
    }

    /// A person closes (`state_reason` `completed`, `not_planned`, `duplicate`) or reopens
    /// (`None`) issue `number` in GitHub's page, as the `issues` webhook then reports.
    pub fn set_issue_state(
        &self,
        owner: &str,
        repo: &str,
        number: u64,
        state_reason: Option<&str>,
    ) {
        let mut shared = self.shared.lock();
        if let Some(issue) = shared
            .issues
            .get_mut(&repo_key(owner, repo))
            .and_then(|issues| issues.iter_mut().find(|i| i.number == number))
        {
            match state_reason {
                Some(reason) => {
                    issue.state = "closed".to_owned();
                    issue.state_reason = Some(reason.to_owned());
                }
                None => {
                    issue.state = "open".to_owned();
                    issue.state_reason = Some("reopened".to_owned());
                }
            }
        }
    }

    /// A person deletes issue `number`: it answers 410 from now on.
    pub fn delete_issue(&self, owner: &str, repo: &str, number: u64) {
        let mut shared = self.shared.lock();
        if let Some(issue) = shared
            .issues
            .get_mut(&repo_key(owner, repo))
            .and_then(|issues| issues.iter_mut().find(|i| i.number == number))
        {
            issue.deleted = true;
        }
    }

    /// Seeds a comment by `author` on issue or pull request `number`; returns its id.
    pub fn add_comment(
        &self,
        owner: &str,
        repo: &str,
        number: u64,
        body: &str,
        author: &str,
    ) -> u64 {
        let mut shared = self.shared.lock();
        push_comment(&mut shared, &repo_key(owner, repo), number, body, author)
    }

    /// The comments on issue or pull request `number`, oldest first.
    pub fn comments(&self, owner: &str, repo: &str, number: u64) -> Vec<FakeComment> {
        let key = repo_key(owner, repo);
        self.shared
            .lock()
            .comments
            .iter()
            .filter(|c| c.repo == key && c.number == number)
            .cloned()
            .collect()
    }

    /// GitHub will not assign `login` (not a collaborator): an issue naming it is refused 422.
    pub fn refuse_assignee(&self, login: &str) {
        self.shared.lock().unassignable.push(login.to_owned());
    }

    /// Installs the test App on `account` as installation `id`, with access to `repositories`
    /// (owner, name, id), or replaces that installation: listed by `GET /app/installations`,
    /// tokens minted for it, its repositories listed by `GET /installation/repositories`.
    pub fn install(&self, id: u64, account: &str, repositories: &[(&str, &str, u64)]) {
        self.shared.lock().installations.insert(
            id,
            FakeInstallation {
                account: account.to_owned(),
                repositories: repositories
                    .iter()
                    .map(|(owner, name, id)| ((*owner).to_owned(), (*name).to_owned(), *id))
                    .collect(),
                suspended: false,
            },
        );
    }

    /// Suspends installation `id`: still listed (with `suspended_at`), no token minted for it.
    pub fn suspend(&self, id: u64) {
        if let Some(installation) = self.shared.lock().installations.get_mut(&id) {
            installation.suspended = true;
        }
    }

    /// Uninstalls installation `id`: no longer listed, no token minted for it.
    pub fn uninstall(&self, id: u64) {
        self.shared.lock().installations.remove(&id);
    }

    /// Takes `owner/repo` out of the test App's installation: its installation lookup answers 404.
    pub fn uninstall_repository(&self, owner: &str, repo: &str) {
        self.shared.lock().not_installed.push(repo_key(owner, repo));
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

    /// Answers the next `count` requests matching `method` and `path` (as in [`Self::count`])
    /// whose query string contains `query` (any, if `None`) with `fault`: a rate limit on page 4
    /// of one listing, say (`query: Some("page=4")`).
    pub fn inject_on(
        &self,
        method: &str,
        path: &str,
        query: Option<&str>,
        fault: Fault,
        count: usize,
    ) {
        self.shared.lock().targeted.push(Targeted {
            method: method.to_owned(),
            path: path.to_owned(),
            query: query.map(str::to_owned),
            fault,
            remaining: count,
        });
    }

    /// Drops every fault not yet used up: the outage is over.
    pub fn clear_faults(&self) {
        let mut shared = self.shared.lock();
        shared.faults.clear();
        shared.targeted.clear();
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
        api_version: {
            let sent: Vec<String> = parts
                .headers
                .get_all("x-github-api-version")
                .iter()
                .map(|v| String::from_utf8_lossy(v.as_bytes()).into_owned())
                .collect();
            match sent.as_slice() {
                [] => None,
                [one] => Some(one.clone()),
                // Recorded as sent, and refused as a version the fake does not serve.
                many => Some(format!("{} ({} times)", many.join(", "), many.len())),
            }
        },
        accept: parts
            .headers
            .get("accept")
            .map(|v| String::from_utf8_lossy(v.as_bytes()).into_owned()),
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
    api_version: Option<String>,
    accept: Option<String>,
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
    /// A fault's answer given after the request took effect ([`Fault::AnswerLost`]).
    takes_effect: bool,
}

impl Reply {
    fn json(status: u16, body: Value) -> Self {
        Self {
            status,
            body,
            headers: Vec::new(),
            violations: Vec::new(),
            takes_effect: false,
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
        let content_type = self
            .headers
            .iter()
            .find(|(name, _)| *name == "content-type")
            .map_or("application/json; charset=utf-8".to_owned(), |(_, v)| {
                v.clone()
            });
        let mut builder = Response::builder()
            .status(self.status)
            .header("content-type", content_type);
        let headers: Vec<_> = self
            .headers
            .into_iter()
            .filter(|(name, _)| *name != "content-type")
            .collect();
        for (name, value) in headers {
            builder = builder.header(name, value);
        }
        builder
            .body(Body::from(self.body.to_string()))
            .unwrap_or_else(|_| Response::new(Body::empty()))
    }
}

/// A request once checked: what the route handlers read.
struct Call {
    /// The `Accept` header: some operations answer another media type for it.
    accept: Option<String>,
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
            api_version: incoming.api_version.clone(),
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
        match incoming.api_version.as_deref() {
            Some(API_VERSION) => {}
            Some(other) => {
                return Reply::violation(
                    400,
                    vec![format!(
                        "X-GitHub-Api-Version `{other}` is not the version this fake serves \
                         ({API_VERSION})"
                    )],
                );
            }
            None => {
                return Reply::violation(
                    400,
                    vec![format!(
                        "no X-GitHub-Api-Version header: name the version the client was \
                         written for ({API_VERSION})"
                    )],
                );
            }
        }
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
            accept: incoming.accept.clone(),
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
        if let ("GET", ["app", "installations"]) = (call.method.as_str(), segments.as_slice()) {
            if let Some(reply) = take_targeted_fault(state, &call) {
                return reply;
            }
            return self.list_installations(state, &call);
        }
        // Who is calling: with the App's JWT or a user's token, not an installation token.
        if let ("GET", [who @ ("app" | "user")]) = (call.method.as_str(), segments.as_slice()) {
            if let Some(reply) = take_targeted_fault(state, &call) {
                return reply;
            }
            return match *who {
                "app" => self.authenticated_app(&call),
                _ => self.authenticated_user(&call),
            };
        }
        if let ["repos", owner, repo, "installation"] = segments.as_slice() {
            return repository_installation(state, &repo_key(owner, repo), &call);
        }
        if !self.authenticated(state, &call) {
            return Reply::error(401, "Bad credentials");
        }
        if let Some(reply) = take_targeted_fault(state, &call).or_else(|| take_fault(state)) {
            if reply.takes_effect {
                let _ = self.route(state, &call, &segments);
            }
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
            ("GET", ["repos", owner, repo, "code-scanning", "analyses"]) => {
                list_analyses(state, &repo_key(owner, repo), call)
            }
            ("GET", ["repos", owner, repo, "code-scanning", "analyses", id]) => {
                match id.parse::<u64>() {
                    Ok(id) => get_analysis(state, &repo_key(owner, repo), id, call),
                    Err(_) => Reply::not_found(),
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
            ("GET", ["orgs", org, "repos"]) => self.list_org_repositories(state, org, call),
            ("GET", ["installation", "repositories"]) => {
                self.list_installation_repositories(state, call)
            }
            ("PATCH", ["repos", owner, repo, "issues", number]) => match number.parse::<u64>() {
                Ok(number) => self.update_issue(state, &repo_key(owner, repo), number, &call.body),
                Err(_) => Reply::not_found(),
            },
            ("GET", ["repos", owner, repo, "issues", number]) => match number.parse::<u64>() {
                Ok(number) => self.get_issue(state, &repo_key(owner, repo), number),
                Err(_) => Reply::not_found(),
            },
            (method, ["repos", owner, repo, "issues", "comments", id]) => match id.parse::<u64>() {
                Ok(id) => self.comment_by_id(state, method, &repo_key(owner, repo), id, call),
                Err(_) => Reply::not_found(),
            },
            ("GET", ["repos", owner, repo, "issues", number, "comments"]) => {
                match number.parse::<u64>() {
                    Ok(number) => self.list_comments(state, &repo_key(owner, repo), number, call),
                    Err(_) => Reply::not_found(),
                }
            }
            ("POST", ["repos", owner, repo, "issues", number, "comments"]) => {
                match number.parse::<u64>() {
                    Ok(number) => self.create_comment(state, &repo_key(owner, repo), number, call),
                    Err(_) => Reply::not_found(),
                }
            }
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
        let Some((installation, listed)) = id
            .parse::<u64>()
            .ok()
            .and_then(|id| Some((id, state.installations.get(&id)?)))
        else {
            return Reply::not_found();
        };
        if listed.suspended {
            return Reply::error(403, "This installation has been suspended");
        }
        let expires_at = Utc::now() + state.token_lifetime;
        let token = format!("ghs_fake{:04}", state.tokens.len() + 1);
        state.tokens.push(IssuedToken {
            token: token.clone(),
            expires_at,
            installation,
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

    /// `GET /app/installations`, with the App's JWT: every installation, oldest first, each the
    /// description's `base-installation` example renumbered and moved to its account, paged by
    /// `per_page` and `page` with `Link` headers.
    fn list_installations(&self, state: &GitHubState, call: &Call) -> Reply {
        let Some(jwt) = call.bearer.as_deref() else {
            return Reply::error(
                401,
                "A JSON web token could not be decoded (no Authorization header)",
            );
        };
        if let Err(why) = check_app_jwt(jwt) {
            return Reply::error(401, &why);
        }
        let example =
            self.api.doc()["components"]["examples"]["base-installation"]["value"].clone();
        let listed: Vec<Value> = state
            .installations
            .iter()
            .map(|(id, installation)| {
                let mut shown = example.clone();
                shown["id"] = json!(id);
                shown["app_id"] = json!(APP_ID);
                shown["app_slug"] = json!(APP_SLUG);
                shown["account"] = user(&installation.account);
                shown["account"]["type"] = json!("Organization");
                shown["access_tokens_url"] = json!(format!(
                    "{}/app/installations/{id}/access_tokens",
                    self.base_url
                ));
                shown["repositories_url"] =
                    json!(format!("{}/installation/repositories", self.base_url));
                if installation.suspended {
                    shown["suspended_at"] = json!("2026-01-01T00:00:00Z");
                    shown["suspended_by"] = user("octocat");
                }
                shown
            })
            .collect();
        self.page_of(call, listed, Value::Array)
    }

    /// `GET /installation/repositories`, with an installation token: the repositories of the
    /// installation the token was minted for, oldest first, paged.
    fn list_installation_repositories(&self, state: &GitHubState, call: &Call) -> Reply {
        let Some(installation) = call.bearer.as_deref().and_then(|bearer| {
            state
                .tokens
                .iter()
                .find(|t| t.token == bearer)
                .map(|t| t.installation)
        }) else {
            return Reply::error(403, "Resource not accessible by personal access token");
        };
        let Some(installed) = state.installations.get(&installation) else {
            return Reply::error(401, "Bad credentials");
        };
        let repositories: Vec<Value> = installed
            .repositories
            .iter()
            .map(|(owner, name, id)| {
                let full_name = format!("{owner}/{name}");
                json!({
                    "id": id,
                    "node_id": format!("R_fake{id}"),
                    "name": name,
                    "full_name": full_name,
                    "private": false,
                    "owner": {"login": owner, "id": 1, "type": "Organization"},
                    "html_url": format!("https://github.com/{full_name}"),
                    "url": format!("{}/repos/{full_name}", self.base_url),
                    "default_branch": "main",
                    "archived": false,
                    "fork": false,
                })
            })
            .collect();
        let total = repositories.len();
        let selection = "selected";
        self.page_of(call, repositories, |page| {
            json!({
                "total_count": total,
                "repositories": page,
                "repository_selection": selection,
            })
        })
    }

    /// The page `per_page` (30 unless told, at most 100) and `page` (from 1) ask for of `items`,
    /// wrapped by `shape`, with a `Link` header to the next and last pages when there are more.
    fn page_of(
        &self,
        call: &Call,
        items: Vec<Value>,
        shape: impl Fn(Vec<Value>) -> Value,
    ) -> Reply {
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
        let last_page = items.len().div_ceil(per_page).max(1);
        let shown: Vec<Value> = items
            .into_iter()
            .skip((page - 1) * per_page)
            .take(per_page)
            .collect();
        let mut reply = Reply::json(200, shape(shown));
        if page < last_page {
            let next = self.page_url(call, "page", &(page + 1).to_string());
            let last = self.page_url(call, "page", &last_page.to_string());
            reply = reply.header(
                "link",
                format!("<{next}>; rel=\"next\", <{last}>; rel=\"last\""),
            );
        }
        reply
    }

    // ----- who is calling -----

    /// `GET /app`, with the App's JWT: the test App, as GitHub's own example of the answer shows
    /// an App, with its id and slug.
    fn authenticated_app(&self, call: &Call) -> Reply {
        let Some(jwt) = call.bearer.as_deref() else {
            return Reply::error(
                401,
                "A JSON web token could not be decoded (no Authorization header)",
            );
        };
        if let Err(why) = check_app_jwt(jwt) {
            return Reply::error(401, &why);
        }
        let base = &self.base_url;
        Reply::json(
            200,
            json!({
                "id": APP_ID,
                "slug": APP_SLUG,
                "client_id": "Iv1.ab1112223334445c",
                "node_id": "MDExOkludGVncmF0aW9uMQ==",
                "owner": user("acme"),
                "name": APP_SLUG,
                "description": "",
                "external_url": "https://example.com",
                "html_url": format!("https://github.com/apps/{APP_SLUG}"),
                "created_at": "2017-07-08T16:18:44-04:00",
                "updated_at": "2017-07-08T16:18:44-04:00",
                "permissions": {
                    "issues": "write",
                    "metadata": "read",
                    "contents": "read",
                    "security_events": "write",
                    "vulnerability_alerts": "write",
                    "secret_scanning_alerts": "write",
                },
                "events": ["code_scanning_alert", "dependabot_alert", "secret_scanning_alert", "issues"],
                "url": format!("{base}/app"),
            }),
        )
    }

    /// `GET /user`: [`PLAIN_TOKEN`]'s user; an installation token is not a user (403, as GitHub
    /// answers an App), anything else 401.
    fn authenticated_user(&self, call: &Call) -> Reply {
        match call.bearer.as_deref() {
            Some(PLAIN_TOKEN) => {
                let mut shown = user(PLAIN_TOKEN_LOGIN);
                shown["name"] = json!("scantix (local runs)");
                shown["html_url"] = json!(format!("https://github.com/{PLAIN_TOKEN_LOGIN}"));
                Reply::json(200, shown)
            }
            Some(token) if token.starts_with("ghs_") => {
                Reply::error(403, "Resource not accessible by integration")
            }
            _ => Reply::error(401, "Bad credentials"),
        }
    }

    // ----- alerts -----

    fn list_alerts(&self, state: &GitHubState, repo: &str, kind: AlertKind, call: &Call) -> Reply {
        let alerts = match (
            state.alerts.get(&(repo.to_owned(), kind)),
            call.param("ref"),
        ) {
            (None, _) => return Reply::not_found(),
            // Pull requests: a ref lists its own analysis (none yet: no alerts).
            (Some(_), Some(git_ref)) => ref_alerts(state, repo, git_ref),
            (Some(alerts), None) => alerts,
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
                // Under a ref, an alert is in the state of that ref's instance.
                let state = call
                    .param("ref")
                    .and_then(|_| alert["most_recent_instance"]["state"].as_str())
                    .or(alert["state"].as_str())
                    .unwrap_or("open");
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

    // ----- organisations -----

    /// `GET /orgs/{org}/repos`: the org's repositories, newest (highest id) first as the default
    /// `created` sort has it, oldest first with `direction=asc`; `per_page` (30 unless told, at
    /// most 100) and `page`, with `Link` headers as GitHub pages this listing. An
    /// org without repositories here does not exist: 404, as GitHub answers.
    fn list_org_repositories(&self, state: &GitHubState, org: &str, call: &Call) -> Reply {
        let mut owned: Vec<Value> = state
            .repositories
            .iter()
            .rev()
            .filter(|(_, (owner, _))| owner.eq_ignore_ascii_case(org))
            .map(|(id, (owner, name))| {
                let full_name = format!("{owner}/{name}");
                json!({
                    "id": id,
                    "node_id": format!("R_fake{id}"),
                    "name": name,
                    "full_name": full_name,
                    "private": false,
                    "owner": {"login": owner, "id": 1, "type": "Organization"},
                    "html_url": format!("https://github.com/{full_name}"),
                    "url": format!("{}/repos/{full_name}", self.base_url),
                    "default_branch": "main",
                    "archived": false,
                    "fork": false,
                })
            })
            .collect();
        if owned.is_empty() {
            return Reply::not_found();
        }
        if call.param("direction") == Some("asc") {
            owned.reverse();
        }
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
        let last_page = owned.len().div_ceil(per_page).max(1);
        let shown: Vec<Value> = owned
            .into_iter()
            .skip((page - 1) * per_page)
            .take(per_page)
            .collect();
        let mut reply = Reply::json(200, Value::Array(shown));
        if page < last_page {
            let next = self.page_url(call, "page", &(page + 1).to_string());
            let last = self.page_url(call, "page", &last_page.to_string());
            reply = reply.header(
                "link",
                format!("<{next}>; rel=\"next\", <{last}>; rel=\"last\""),
            );
        }
        reply
    }

    // ----- issues -----

    /// `GET /repos/{owner}/{repo}/issues`: issues and pull requests carrying every label of
    /// `labels`, in `state` (`open` unless told), by `sort` (`created` or `updated`) in
    /// `direction` (`desc` unless told), `per_page` and `page` with `Link` headers.
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
        let mut listed: Vec<&FakeIssue> = state
            .issues
            .get(repo)
            .into_iter()
            .flatten()
            .filter(|issue| !issue.deleted)
            .filter(|issue| wanted_state == "all" || issue.state == wanted_state)
            .filter(|issue| {
                // GitHub matches label names case-insensitively.
                wanted_labels
                    .iter()
                    .all(|w| issue.labels.iter().any(|l| l.eq_ignore_ascii_case(w)))
            })
            .collect();
        // Numbers follow creation; an update bumps an issue's PATCH count, its only clock here.
        match call.param("sort") {
            Some("updated") => listed.sort_by_key(|i| (i.updates, i.number)),
            _ => listed.sort_by_key(|i| i.number),
        }
        if call.param("direction") != Some("asc") {
            listed.reverse();
        }
        let total = listed.len();
        let shown: Vec<Value> = listed
            .into_iter()
            .skip((page - 1) * per_page)
            .take(per_page)
            .map(|issue| issue.to_json(&self.base_url, repo))
            .collect();
        self.paged(call, Value::Array(shown), page, total.div_ceil(per_page))
    }

    /// The answer for page `page` of `last_page` (at least 1), with GitHub's `Link` header.
    fn paged(&self, call: &Call, items: Value, page: usize, last_page: usize) -> Reply {
        let last_page = last_page.max(1);
        let mut links = Vec::new();
        if page > 1 {
            links.push(format!(
                "<{}>; rel=\"prev\"",
                self.page_url(call, "page", &(page - 1).to_string())
            ));
        }
        if page < last_page {
            links.push(format!(
                "<{}>; rel=\"next\"",
                self.page_url(call, "page", &(page + 1).to_string())
            ));
            links.push(format!(
                "<{}>; rel=\"last\"",
                self.page_url(call, "page", &last_page.to_string())
            ));
        }
        if page > 1 {
            links.push(format!(
                "<{}>; rel=\"first\"",
                self.page_url(call, "page", "1")
            ));
        }
        let reply = Reply::json(200, items);
        if links.is_empty() {
            reply
        } else {
            reply.header("link", links.join(", "))
        }
    }

    /// `POST /repos/{owner}/{repo}/issues`: a new open issue by `scantix[bot]`, its labels kept by
    /// name; refused 422 (and not created) if it names an assignee GitHub cannot assign.
    fn create_issue(&self, state: &mut GitHubState, repo: &str, body: &Value) -> Reply {
        let assignees = label_names(&body["assignees"]);
        if let Some(refused) = refused_assignee(state, &assignees) {
            return refused;
        }
        let issues = state.issues.entry(repo.to_owned()).or_default();
        let mut issue = FakeIssue::new(
            issues.len() as u64 + 1,
            &text_of(&body["title"]),
            "scantix[bot]",
        );
        issue.body = body["body"].as_str().map(str::to_owned);
        issue.labels = label_names(&body["labels"]);
        issue.assignees = assignees;
        let shown = issue.to_json(&self.base_url, repo);
        issues.push(issue);
        Reply::json(201, shown)
    }

    /// `GET /repos/{owner}/{repo}/issues/{issue_number}`.
    fn get_issue(&self, state: &GitHubState, repo: &str, number: u64) -> Reply {
        match find_issue(state, repo, number) {
            Ok(issue) => Reply::json(200, issue.to_json(&self.base_url, repo)),
            Err(reply) => reply,
        }
    }

    /// `PATCH /repos/{owner}/{repo}/issues/{issue_number}`: the fields sent, replaced. A state
    /// change takes its `state_reason` (closing: `completed` unless told; reopening: `reopened`).
    fn update_issue(
        &self,
        state: &mut GitHubState,
        repo: &str,
        number: u64,
        body: &Value,
    ) -> Reply {
        if body.get("assignees").is_some()
            && let Some(refused) = refused_assignee(state, &label_names(&body["assignees"]))
        {
            return refused;
        }
        let issue = match find_issue_mut(state, repo, number) {
            Ok(issue) => issue,
            Err(reply) => return reply,
        };
        if let Some(title) = body.get("title").filter(|t| !t.is_null()) {
            issue.title = text_of(title);
        }
        if let Some(text) = body.get("body") {
            issue.body = text.as_str().map(str::to_owned);
        }
        if let Some(new_state) = body["state"].as_str()
            && new_state != issue.state
        {
            issue.state_reason = match (new_state, body["state_reason"].as_str()) {
                ("open", _) => Some("reopened".to_owned()),
                (_, Some(reason)) if reason != "reopened" => Some(reason.to_owned()),
                _ => Some("completed".to_owned()),
            };
            issue.state = new_state.to_owned();
        }
        if body.get("labels").is_some() {
            issue.labels = label_names(&body["labels"]);
        }
        if body.get("assignees").is_some() {
            issue.assignees = label_names(&body["assignees"]);
        }
        issue.updates += 1;
        Reply::json(200, issue.to_json(&self.base_url, repo))
    }

    // ----- issue and pull request comments -----

    /// `GET /repos/{owner}/{repo}/issues/{issue_number}/comments`: oldest first, updated at or
    /// after `since`, `per_page` (30 unless told, at most 100) and `page` with `Link` headers.
    fn list_comments(&self, state: &GitHubState, repo: &str, number: u64, call: &Call) -> Reply {
        if let Some(gone) = deleted_issue(state, repo, number) {
            return gone;
        }
        let since = call
            .param("since")
            .and_then(|s| s.parse::<DateTime<Utc>>().ok());
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
        let listed: Vec<&FakeComment> = state
            .comments
            .iter()
            .filter(|c| c.repo == repo && c.number == number)
            .filter(|c| since.is_none_or(|since| c.updated_at >= since))
            .collect();
        let total = listed.len();
        let shown: Vec<Value> = listed
            .into_iter()
            .skip((page - 1) * per_page)
            .take(per_page)
            .map(|c| c.to_json(&self.base_url))
            .collect();
        self.paged(call, Value::Array(shown), page, total.div_ceil(per_page))
    }

    /// `POST /repos/{owner}/{repo}/issues/{issue_number}/comments`, by `scantix[bot]`.
    fn create_comment(
        &self,
        state: &mut GitHubState,
        repo: &str,
        number: u64,
        call: &Call,
    ) -> Reply {
        if let Some(gone) = deleted_issue(state, repo, number) {
            return gone;
        }
        let Some(text) = call.body["body"].as_str() else {
            return Reply::violation(422, vec!["`body` must be a string".into()]);
        };
        let id = push_comment(state, repo, number, text, "scantix[bot]");
        let shown = state
            .comments
            .iter()
            .find(|c| c.id == id)
            .map(|c| c.to_json(&self.base_url))
            .unwrap_or(Value::Null);
        Reply::json(201, shown)
    }

    /// `GET`, `PATCH` (the body replaced) and `DELETE` of
    /// `/repos/{owner}/{repo}/issues/comments/{comment_id}`.
    fn comment_by_id(
        &self,
        state: &mut GitHubState,
        method: &str,
        repo: &str,
        id: u64,
        call: &Call,
    ) -> Reply {
        let Some(index) = state
            .comments
            .iter()
            .position(|c| c.id == id && c.repo == repo)
        else {
            return Reply::not_found();
        };
        match method {
            "GET" => Reply::json(200, state.comments[index].to_json(&self.base_url)),
            "PATCH" => {
                let Some(text) = call.body["body"].as_str() else {
                    return Reply::violation(422, vec!["`body` must be a string".into()]);
                };
                let comment = &mut state.comments[index];
                comment.body = text.to_owned();
                comment.updated_at = Utc::now();
                comment.updates += 1;
                Reply::json(200, comment.to_json(&self.base_url))
            }
            "DELETE" => {
                state.comments.remove(index);
                Reply::json(204, Value::Null)
            }
            other => Reply::violation(
                501,
                vec![format!(
                    "the fake GitHub does not model {other} of a comment"
                )],
            ),
        }
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

/// The issue `number` of `repo`, or GitHub's answer for it: 404 unknown, 410 deleted.
fn find_issue<'a>(state: &'a GitHubState, repo: &str, number: u64) -> Result<&'a FakeIssue, Reply> {
    let issue = state
        .issues
        .get(repo)
        .and_then(|issues| issues.iter().find(|i| i.number == number))
        .ok_or_else(Reply::not_found)?;
    if issue.deleted {
        return Err(Reply::error(410, "This issue was deleted"));
    }
    Ok(issue)
}

fn find_issue_mut<'a>(
    state: &'a mut GitHubState,
    repo: &str,
    number: u64,
) -> Result<&'a mut FakeIssue, Reply> {
    find_issue(state, repo, number)?;
    state
        .issues
        .get_mut(repo)
        .and_then(|issues| issues.iter_mut().find(|i| i.number == number))
        .ok_or_else(Reply::not_found)
}

/// 410 for the conversation of a deleted issue. Any other number has one: the fake keeps no
/// pull requests of its own, and their conversations are issue comments.
fn deleted_issue(state: &GitHubState, repo: &str, number: u64) -> Option<Reply> {
    match find_issue(state, repo, number) {
        Err(reply) if reply.status == 410 => Some(reply),
        _ => None,
    }
}

fn push_comment(state: &mut GitHubState, repo: &str, number: u64, body: &str, author: &str) -> u64 {
    let id = state.comments.iter().map(|c| c.id).max().unwrap_or(0) + 1;
    let now = Utc::now();
    state.comments.push(FakeComment {
        id,
        repo: repo.to_owned(),
        number,
        body: body.to_owned(),
        author: author.to_owned(),
        created_at: now,
        updated_at: now,
        updates: 0,
    });
    id
}

/// GitHub's 422 for an assignee it cannot assign, if `assignees` names one.
fn refused_assignee(state: &GitHubState, assignees: &[String]) -> Option<Reply> {
    let refused = assignees
        .iter()
        .find(|a| state.unassignable.iter().any(|u| u.eq_ignore_ascii_case(a)))?;
    let mut reply = Reply::error(422, "Validation Failed");
    reply.body["errors"] =
        json!([{"value": refused, "resource": "Issue", "field": "assignees", "code": "invalid"}]);
    Some(reply)
}

/// `GET /repos/{owner}/{repo}/installation`, with the App's JWT: the test App's installation.
fn repository_installation(state: &GitHubState, repo: &str, call: &Call) -> Reply {
    let Some(jwt) = call.bearer.as_deref() else {
        return Reply::error(
            401,
            "A JSON web token could not be decoded (no Authorization header)",
        );
    };
    if let Err(why) = check_app_jwt(jwt) {
        return Reply::error(401, &why);
    }
    if state.not_installed.iter().any(|r| r == repo) {
        return Reply::not_found();
    }
    let owner = repo.split('/').next().unwrap_or_default();
    Reply::json(
        200,
        json!({
            "id": INSTALLATION_ID,
            "app_id": APP_ID,
            "account": {"login": owner, "id": 1, "type": "Organization"},
            "repository_selection": "all",
            "target_type": "Organization",
            "permissions": {"issues": "write", "security_events": "write", "contents": "read"},
            "events": ["issues", "code_scanning_alert"],
        }),
    )
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

/// A user as alerts name their assignees (GitHub's `simple-user`, the fields scantix reads).
fn alert_user(login: &str) -> Value {
    json!({
        "login": login, "id": 1000, "node_id": "U_fake", "type": "User", "site_admin": false,
        "avatar_url": "https://avatars.example/u", "html_url": format!("https://github.com/{login}"),
    })
}

/// PATCH: dismiss / resolve / reopen, with GitHub's rule that closing needs a reason; and assign
/// (`assignees` for code scanning and Dependabot, the list replaced; `assignee` for secret
/// scanning, `null` unassigning), refused 422 for a login GitHub cannot assign.
fn update_alert(
    state: &mut GitHubState,
    repo: &str,
    kind: AlertKind,
    number: u64,
    body: &Value,
) -> Reply {
    let assigning: Option<Vec<String>> = match kind {
        AlertKind::SecretScanning => body
            .get("assignee")
            .map(|a| a.as_str().map(str::to_owned).into_iter().collect()),
        _ => body.get("assignees").map(|a| {
            a.as_array()
                .into_iter()
                .flatten()
                .filter_map(|l| l.as_str().map(str::to_owned))
                .collect()
        }),
    };
    if let Some(logins) = &assigning
        && let Some(refused) = refused_assignee(state, logins)
    {
        return refused;
    }
    let alert = match find_alert(state, repo, kind, number) {
        Ok(alert) => alert,
        Err(reply) => return reply,
    };
    let now = json!(github_time(Utc::now()));
    let bot = json!({"login": "scantix[bot]", "id": 1, "type": "Bot"});
    if let Some(logins) = assigning {
        match kind {
            AlertKind::SecretScanning => {
                alert["assigned_to"] = logins.first().map_or(Value::Null, |l| alert_user(l));
            }
            _ => {
                alert["assignees"] = logins.iter().map(|l| alert_user(l)).collect();
            }
        }
        alert["updated_at"] = now.clone();
    }
    let Some(new_state) = body["state"].as_str() else {
        return Reply::json(200, alert.clone());
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

// ----- pull requests: alerts per ref -----

/// The alerts of `git_ref`'s last analysis in `repo` (none if it was never analysed).
fn ref_alerts<'a>(state: &'a GitHubState, repo: &str, git_ref: &str) -> &'a Vec<Value> {
    static NONE: Vec<Value> = Vec::new();
    state
        .ref_alerts
        .get(&(repo.to_owned(), git_ref.to_owned()))
        .unwrap_or(&NONE)
}

impl FakeGitHub {
    /// A new code scanning analysis of `git_ref` (`refs/pull/7/merge`): listing the alerts with
    /// `ref=<git_ref>` answers exactly `alerts` from now on. Each alert's `most_recent_instance`
    /// must be its instance on that ref: its `state` there (an alert open on the default branch
    /// that the pull request removes is `fixed` there) is what the `state` filter reads. The
    /// repository's code scanning exists from then on.
    pub fn set_ref_alerts(&self, owner: &str, repo: &str, git_ref: &str, alerts: Vec<Value>) {
        let mut state = self.shared.lock();
        let key = repo_key(owner, repo);
        state
            .alerts
            .entry((key.clone(), AlertKind::CodeScanning))
            .or_default();
        state.ref_alerts.insert((key, git_ref.to_owned()), alerts);
    }
}

// ----- code scanning analyses -----

impl FakeGitHub {
    /// A code scanning analysis of `owner/repo`: `tool` ran on `git_ref` at `commit_sha` and
    /// uploaded `sarif`. Listed newest first, filtered by `ref` and `tool_name`; got by id as
    /// GitHub's `code-scanning-analysis` object, or as its SARIF when asked for
    /// `application/sarif+json`. Returns its id.
    pub fn add_analysis(
        &self,
        owner: &str,
        repo: &str,
        git_ref: &str,
        commit_sha: &str,
        tool: &str,
        sarif: Value,
    ) -> u64 {
        let mut state = self.shared.lock();
        let id = 200_000 + state.analyses.values().map(Vec::len).sum::<usize>() as u64 + 1;
        let results = sarif["runs"]
            .as_array()
            .into_iter()
            .flatten()
            .map(|run| run["results"].as_array().map_or(0, Vec::len))
            .sum::<usize>();
        // The fields of `code-scanning-analysis`, as GitHub's example has them.
        let analysis = json!({
            "ref": git_ref,
            "commit_sha": commit_sha,
            "analysis_key": ".github/workflows/codeql-analysis.yml:analyze",
            "environment": "{\"language\":\"javascript\"}",
            "error": "",
            "category": ".github/workflows/codeql-analysis.yml:analyze/language:javascript",
            "created_at": github_time(Utc::now()),
            "results_count": results,
            "rules_count": 1,
            "id": id,
            "url": format!("{}/repos/{owner}/{repo}/code-scanning/analyses/{id}", self.base_url()),
            "sarif_id": format!("6c81cd8e-b078-4ac3-a3be-1dad7dbd0b{id:02}"),
            "tool": { "name": tool, "guid": null, "version": "2.4.0" },
            "deletable": true,
            "warning": ""
        });
        state
            .analyses
            .entry(repo_key(owner, repo))
            .or_default()
            .push((analysis, sarif));
        id
    }
}

/// `GET /repos/{owner}/{repo}/code-scanning/analyses`: newest first, by `ref` and `tool_name`.
fn list_analyses(state: &GitHubState, repo: &str, call: &Call) -> Reply {
    let Some(analyses) = state.analyses.get(repo) else {
        return Reply::error(404, "no analysis found");
    };
    let per_page = call
        .param("per_page")
        .and_then(|n| n.parse::<usize>().ok())
        .unwrap_or(30);
    let listed: Vec<Value> = analyses
        .iter()
        .rev()
        .map(|(analysis, _)| analysis)
        .filter(|a| call.param("ref").is_none_or(|r| a["ref"] == r))
        .filter(|a| {
            call.param("tool_name")
                .is_none_or(|t| a["tool"]["name"] == t)
        })
        .take(per_page)
        .cloned()
        .collect();
    Reply::json(200, Value::Array(listed))
}

/// `GET /repos/{owner}/{repo}/code-scanning/analyses/{analysis_id}`: the analysis, or its SARIF
/// for `Accept: application/sarif+json`.
fn get_analysis(state: &GitHubState, repo: &str, id: u64, call: &Call) -> Reply {
    let found = state
        .analyses
        .get(repo)
        .into_iter()
        .flatten()
        .find(|(analysis, _)| analysis["id"] == id);
    let Some((analysis, sarif)) = found else {
        return Reply::error(404, "Analysis not found");
    };
    match call.accept.as_deref() {
        Some(accept) if accept.contains("application/sarif+json") => {
            Reply::json(200, sarif.clone()).header("content-type", "application/sarif+json")
        }
        _ => Reply::json(200, analysis.clone()),
    }
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

fn take_targeted_fault(state: &mut GitHubState, call: &Call) -> Option<Reply> {
    let targeted = state.targeted.iter_mut().find(|t| {
        t.remaining > 0
            && pattern_matches(&t.method, &t.path, &call.method, &call.path)
            && t.query
                .as_deref()
                .is_none_or(|q| call.raw_query.split('&').any(|pair| pair == q))
    })?;
    targeted.remaining -= 1;
    Some(fault_reply(targeted.fault.clone()))
}

fn take_fault(state: &mut GitHubState) -> Option<Reply> {
    let (fault, remaining) = state.faults.iter_mut().find(|(_, n)| *n > 0)?;
    *remaining -= 1;
    Some(fault_reply(fault.clone()))
}

fn fault_reply(fault: Fault) -> Reply {
    match fault {
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
        Fault::AnswerLost(status) => Reply {
            takes_effect: true,
            ..Reply::error(status, "Injected failure after the request took effect")
        },
    }
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
