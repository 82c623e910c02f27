//! `RestGitHub`: the [`GitHub`] port over GitHub's REST API, through octocrab, against any base URL
//! (github.com, GitHub Enterprise Server, a test fake).
//!
//! Paths, query parameters and bodies are the ones GitHub's OpenAPI description gives for each
//! operation (checked in tests against `github-openapi-subset.json`). Where the description says
//! more than octocrab's typed API exposes, octocrab's raw calls are used (`crate::client`, where
//! the answer is read: rate-limit headers, `Link` headers, and GitHub's `message` on refusals).
//!
//! Octocrab's own retries are switched off: they retry 5xx and 429 at once, which prolongs a
//! secondary rate limit. Errors go back to the caller instead, saying whether (and when) a retry
//! can help; the queue that delivered the event retries it.

use crate::app_auth::InstallationTokens;
/// Why a GitHub client could not be set up (the client's; named here by the callers of
/// `RestGitHub`).
pub use crate::client::SetupError;
use crate::client::{Answer, Client};
use async_trait::async_trait;
use base64::Engine as _;
use chrono::Utc;
use http::{Method, StatusCode};
use scantix_core::finding::{AlertKind, AlertState, DismissReason, Finding, Repository};
use scantix_core::ports::clock::Clock;
use scantix_core::ports::github::{
    AlertPage, AlertQuery, AlertStateFilter, GitHub, GitHubError, IssueComment, problem_label,
};
use scantix_core::secret::Secret;
use scantix_webhooks::github::alert::finding_from_alert;
use serde_json::{Value, json};
use std::fmt;
use std::sync::Arc;

/// The client crate, so callers name its types at the version scantix uses (its `jsonwebtoken`
/// is the one that verifies App JWTs in tests).
pub use octocrab;

/// Longest `dismissed_comment` code scanning and Dependabot accept (`maxLength` in the
/// description); longer comments are cut to it.
const MAX_DISMISSAL_COMMENT: usize = 280;

/// How `RestGitHub` authenticates.
#[derive(Clone)]
pub enum RestAuth {
    /// As an App installation, with tokens minted and cached by `tokens`.
    Installation {
        tokens: Arc<InstallationTokens>,
        installation_id: u64,
    },
    /// A token sent as it is (a personal access token, an installation token from elsewhere):
    /// the CLI's way, against any base URL.
    Token(Secret),
}

/// The `GitHub` port over GitHub's REST API.
pub struct RestGitHub {
    client: Client,
    auth: RestAuth,
    clock: Clock,
}

impl fmt::Debug for RestGitHub {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let auth = match &self.auth {
            RestAuth::Installation {
                installation_id, ..
            } => format!("installation {installation_id}"),
            RestAuth::Token(_) => "token".to_owned(),
        };
        f.debug_struct("RestGitHub")
            .field("base_url", &self.client.base_url())
            .field("auth", &auth)
            .finish()
    }
}

impl RestGitHub {
    /// A client of the GitHub at `base_url` (`https://api.github.com`, `https://HOST/api/v3`).
    /// Call it inside the Tokio runtime: octocrab starts its connection worker there.
    pub fn new(base_url: &str, auth: RestAuth) -> Result<RestGitHub, SetupError> {
        let client = match &auth {
            // An installation's tokens work only on the GitHub that minted them; share that
            // client's connections.
            RestAuth::Installation { tokens, .. } if tokens.client().base_url() == base_url => {
                tokens.client().clone()
            }
            RestAuth::Installation { tokens, .. } => {
                return Err(SetupError::InvalidBaseUrl {
                    url: base_url.to_owned(),
                    reason: format!(
                        "the installation tokens are minted by {}",
                        tokens.client().base_url()
                    ),
                });
            }
            RestAuth::Token(_) => Client::new(base_url)?,
        };
        Ok(RestGitHub {
            client,
            auth,
            clock: Arc::new(Utc::now),
        })
    }

    /// A client acting as `installation_id`, on the GitHub (and connections) of `tokens`: cheap,
    /// so one can be made per delivery.
    pub fn for_installation(tokens: Arc<InstallationTokens>, installation_id: u64) -> RestGitHub {
        RestGitHub {
            client: tokens.client().clone(),
            auth: RestAuth::Installation {
                tokens,
                installation_id,
            },
            clock: Arc::new(Utc::now),
        }
    }

    /// Replaces the clock that turns `x-ratelimit-reset` into a wait (tests pin it).
    pub fn with_clock(mut self, clock: Clock) -> RestGitHub {
        self.clock = clock;
        self
    }

    /// One authenticated call. An installation token GitHub answers 401 to is dropped and the
    /// call made once more with a new one (a token revoked, or expired early by clock skew).
    async fn call(
        &self,
        method: Method,
        path_and_query: &str,
        body: Option<&Value>,
    ) -> Result<Answer, GitHubError> {
        let answer = match &self.auth {
            RestAuth::Token(token) => {
                self.client
                    .send(&method, path_and_query, token, body)
                    .await?
            }
            RestAuth::Installation {
                tokens,
                installation_id,
            } => {
                let token = installation_token(tokens, *installation_id).await?;
                let answer = self
                    .client
                    .send(&method, path_and_query, &token, body)
                    .await?;
                if answer.status == StatusCode::UNAUTHORIZED {
                    tokens.forget(*installation_id, &token).await;
                    let token = installation_token(tokens, *installation_id).await?;
                    self.client
                        .send(&method, path_and_query, &token, body)
                        .await?
                } else {
                    answer
                }
            }
        };
        answer
            .checked(&format!("{method} {path_and_query}"), (self.clock)())
            .map_err(|e| e.naming_credential(self.credential()))
    }

    /// Every item of the list at `base` (a path whose query ends with `per_page=…`), page after
    /// page by the `Link` header, each read by `read(item, page path)`.
    async fn get_all_pages<T>(
        &self,
        base: &str,
        read: impl Fn(&Value, &str) -> Result<T, GitHubError>,
    ) -> Result<Vec<T>, GitHubError> {
        let mut items = Vec::new();
        let mut path = base.to_owned();
        loop {
            let answer = self.call(Method::GET, &path, None).await?;
            let page: Vec<Value> = answer.json()?;
            for item in &page {
                items.push(read(item, &path)?);
            }
            match answer.link("next").as_deref().and_then(Cursor::from_link) {
                Some(Cursor::Page(next)) => path = format!("{base}&page={next}"),
                _ => return Ok(items),
            }
        }
    }

    /// The credential this client sends, in words an operator can act on (never its value).
    fn credential(&self) -> String {
        match &self.auth {
            RestAuth::Token(_) => "the GitHub token".to_owned(),
            RestAuth::Installation {
                installation_id, ..
            } => format!("installation {installation_id}'s access token (minted just now)"),
        }
    }

    /// The alert as GitHub has it now.
    async fn alert(
        &self,
        repo: &Repository,
        kind: AlertKind,
        number: u64,
    ) -> Result<Finding, GitHubError> {
        let mut path = alert_path(repo, kind, number)?;
        if kind == AlertKind::SecretScanning {
            // scantix never needs the secret itself: it should not even be in memory.
            path.push_str("?hide_secret=true");
        }
        let answer = self.call(Method::GET, &path, None).await?;
        let alert: Value = answer.json()?;
        finding_from_alert(kind, alert, repo)
            .map_err(|err| GitHubError::Refused(format!("unreadable {kind} alert {number}: {err}")))
    }

    async fn update_alert(
        &self,
        repo: &Repository,
        kind: AlertKind,
        number: u64,
        body: &Value,
    ) -> Result<(), GitHubError> {
        let path = alert_path(repo, kind, number)?;
        self.call(Method::PATCH, &path, Some(body)).await?;
        Ok(())
    }
}

#[async_trait]
impl GitHub for RestGitHub {
    async fn alert_state(
        &self,
        repo: &Repository,
        kind: AlertKind,
        number: u64,
    ) -> Result<AlertState, GitHubError> {
        Ok(self.alert(repo, kind, number).await?.state)
    }

    /// Reads the alert first: PATCHing a closed alert would overwrite the reason a person gave
    /// (or be refused, for a fixed one), and the port promises a no-op.
    async fn dismiss_alert(
        &self,
        repo: &Repository,
        kind: AlertKind,
        number: u64,
        reason: DismissReason,
        comment: &str,
    ) -> Result<(), GitHubError> {
        if self.alert_state(repo, kind, number).await? != AlertState::Open {
            return Ok(());
        }
        self.update_alert(repo, kind, number, &dismissal_body(kind, reason, comment))
            .await
    }

    async fn reopen_alert(
        &self,
        repo: &Repository,
        kind: AlertKind,
        number: u64,
    ) -> Result<(), GitHubError> {
        if self.alert_state(repo, kind, number).await? == AlertState::Open {
            return Ok(());
        }
        // `open` is the reopening state of all three kinds.
        self.update_alert(repo, kind, number, &json!({"state": "open"}))
            .await
    }

    async fn list_alerts(
        &self,
        repo: &Repository,
        kind: AlertKind,
        query: &AlertQuery,
    ) -> Result<AlertPage, GitHubError> {
        let path = list_path(repo, kind, query)?;
        let answer = self.call(Method::GET, &path, None).await?;
        let next = answer.link("next").and_then(|url| {
            let cursor = Cursor::from_link(&url);
            if cursor.is_none() {
                tracing::warn!(%url, "a next page without `page` or `after`; listing stops here");
            }
            cursor.map(|cursor| cursor.to_string())
        });
        let alerts: Vec<Value> = answer.json()?;
        let listed = alerts.len();
        let mut findings = Vec::with_capacity(listed);
        let mut older_reached = false;
        for alert in alerts {
            // Listed for a ref, the alert's own `state` is its default-branch state (`null` for an
            // alert found only off it); its state on the ref is its `most_recent_instance`'s,
            // "the most recent instance of this alert for the specified Git reference".
            let state_on_ref = query
                .git_ref
                .as_ref()
                .and_then(|_| alert["most_recent_instance"]["state"].as_str())
                .and_then(state_on_ref);
            let finding = match finding_from_alert(kind, alert, repo) {
                Ok(finding) => Finding {
                    state: state_on_ref.unwrap_or(finding.state),
                    ..finding
                },
                Err(err) => {
                    tracing::warn!(%kind, repo = %repo.full_name, %err, "skipping an unreadable alert");
                    continue;
                }
            };
            // Sorted by `updated` descending: the first alert older than `since` ends the listing.
            // (Dependabot's `updated` sort is by the last *state* change, so an alert updated
            // otherwise since may lie beyond the cut; its webhooks carry such changes anyway.)
            if !query.is_recent(finding.updated_at) {
                older_reached = true;
                break;
            }
            if query.admits(&finding) {
                findings.push(finding);
            }
        }
        tracing::debug!(%kind, repo = %repo.full_name, listed, kept = findings.len(), "listed alerts");
        Ok(AlertPage {
            findings,
            next: if older_reached { None } else { next },
        })
    }

    async fn read_file(
        &self,
        repo: &Repository,
        path: &str,
        git_ref: Option<&str>,
    ) -> Result<Option<String>, GitHubError> {
        let mut url = format!("{}/contents/{}", repo_path(repo)?, encode_path(path)?);
        if let Some(git_ref) = git_ref {
            url.push_str(&format!("?ref={}", encode(git_ref)));
        }
        let answer = match self.call(Method::GET, &url, None).await {
            Ok(answer) => answer,
            Err(GitHubError::NotFound(_)) => return Ok(None),
            Err(err) => return Err(err),
        };
        decode_file(path, &answer.json()?).map(Some)
    }

    /// Lists the newest open issue carrying the topic's label, then PATCHes it or POSTs a new
    /// one. Two deliveries racing here can both find none and open two: GitHub has no
    /// conditional create, and the window is one listing long.
    async fn upsert_problem_issue(
        &self,
        repo: &Repository,
        topic: &str,
        title: &str,
        body: &str,
    ) -> Result<u64, GitHubError> {
        let label = problem_label(topic)?;
        let issues = format!("{}/issues", repo_path(repo)?);
        let listing = format!("{issues}?labels={}&state=open&per_page=1", encode(&label));
        let found: Vec<Value> = self.call(Method::GET, &listing, None).await?.json()?;
        // The issues listing returns pull requests too (they carry `pull_request`); a labelled
        // one is not ours to rewrite. The issue opened instead is newer, so it is found next time.
        let existing = found
            .first()
            .filter(|issue| issue.get("pull_request").is_none())
            .map(|issue| issue_number(issue, &listing))
            .transpose()?;
        if let Some(number) = existing {
            let path = format!("{issues}/{number}");
            self.call(
                Method::PATCH,
                &path,
                Some(&json!({"title": title, "body": body})),
            )
            .await?;
            return Ok(number);
        }
        let request = json!({"title": title, "body": body, "labels": [label]});
        let created: Value = self
            .call(Method::POST, &issues, Some(&request))
            .await?
            .json()?;
        let number = issue_number(&created, &issues)?;
        // GitHub drops the labels of a caller without push access silently; without the label
        // the next call cannot find this issue and would open another.
        let labelled = created["labels"].as_array().is_some_and(|labels| {
            labels
                .iter()
                .any(|l| l.as_str().or_else(|| l["name"].as_str()) == Some(label.as_str()))
        });
        if !labelled {
            tracing::warn!(repo = %repo.full_name, number, %label, "GitHub dropped the label of a new problem issue; the next one will be a duplicate");
        }
        Ok(number)
    }

    /// Pages through `GET /repos/{o}/{r}/issues/{n}/comments` (oldest first, 100 a page) by its
    /// `Link` header.
    async fn list_issue_comments(
        &self,
        repo: &Repository,
        number: u64,
    ) -> Result<Vec<IssueComment>, GitHubError> {
        let base = format!("{}/issues/{number}/comments?per_page=100", repo_path(repo)?);
        self.get_all_pages(&base, issue_comment).await
    }

    async fn create_issue_comment(
        &self,
        repo: &Repository,
        number: u64,
        body: &str,
    ) -> Result<u64, GitHubError> {
        let path = format!("{}/issues/{number}/comments", repo_path(repo)?);
        let created: Value = self
            .call(Method::POST, &path, Some(&json!({ "body": body })))
            .await?
            .json()?;
        Ok(issue_comment(&created, &path)?.id)
    }

    async fn update_issue_comment(
        &self,
        repo: &Repository,
        comment_id: u64,
        body: &str,
    ) -> Result<(), GitHubError> {
        let path = format!("{}/issues/comments/{comment_id}", repo_path(repo)?);
        self.call(Method::PATCH, &path, Some(&json!({ "body": body })))
            .await?;
        Ok(())
    }

    /// Pages through `GET /orgs/{org}/repos` (`type=all`, 100 a page) by its `Link` header.
    async fn list_org_repositories(&self, org: &str) -> Result<Vec<Repository>, GitHubError> {
        if org.is_empty() || org.contains('/') {
            return Err(GitHubError::Refused(format!(
                "{org:?} is not an organisation name"
            )));
        }
        let base = format!("/orgs/{}/repos?type=all&per_page=100", encode(org));
        self.get_all_pages(&base, |listed, path| {
            let (Some(id), Some(full_name)) = (listed["id"].as_u64(), listed["full_name"].as_str())
            else {
                return Err(GitHubError::Refused(format!(
                    "{path}: a repository without an id or full_name"
                )));
            };
            Ok(Repository {
                id,
                full_name: full_name.to_owned(),
                default_branch: listed["default_branch"].as_str().map(str::to_owned),
                html_url: listed["html_url"].as_str().map(str::to_owned),
            })
        })
        .await
    }
}

/// An instance's `state` word (`open`, `fixed`, `dismissed`) as an alert state.
fn state_on_ref(word: &str) -> Option<AlertState> {
    match word {
        "open" => Some(AlertState::Open),
        "fixed" => Some(AlertState::Fixed),
        "dismissed" => Some(AlertState::Dismissed),
        _ => None,
    }
}

/// A comment of the issue comments API: its id, body, and whether a bot wrote it (`user.type`
/// `Bot`, or posted through an App).
fn issue_comment(comment: &Value, what: &str) -> Result<IssueComment, GitHubError> {
    let id = comment["id"]
        .as_u64()
        .ok_or_else(|| GitHubError::Refused(format!("{what}: a comment without an id")))?;
    Ok(IssueComment {
        id,
        body: comment["body"].as_str().unwrap_or_default().to_owned(),
        by_bot: comment["user"]["type"] == "Bot" || comment["performed_via_github_app"].is_object(),
    })
}

/// A token for `installation_id`. GitHub refusing one (403, 404: the installation suspended,
/// uninstalled, or another App's) means no call can be made for the installation until someone
/// acts: `Unauthorized`, naming it, and not the 403/404 a call would read as "this repository has
/// no such feature".
async fn installation_token(
    tokens: &InstallationTokens,
    installation_id: u64,
) -> Result<Secret, GitHubError> {
    tokens
        .token(installation_id)
        .await
        .map_err(|error| match error {
            GitHubError::Forbidden(detail) | GitHubError::NotFound(detail) => {
                GitHubError::Unauthorized {
                    credential: format!(
                        "installation {installation_id} of GitHub App {}",
                        tokens.app_id()
                    ),
                    detail: format!(
                        "no access token for it (suspended, uninstalled, or another App's): \
                         {detail}"
                    ),
                }
            }
            other => other,
        })
}

/// The `number` of an issue in an answer to `what`.
fn issue_number(issue: &Value, what: &str) -> Result<u64, GitHubError> {
    issue["number"]
        .as_u64()
        .ok_or_else(|| GitHubError::Refused(format!("{what}: an issue without a number")))
}

// ---------------------------------------------------------------------------------------------
// Requests
// ---------------------------------------------------------------------------------------------

/// `/repos/{owner}/{repo}`, each part percent-encoded.
fn repo_path(repo: &Repository) -> Result<String, GitHubError> {
    match repo.full_name.split_once('/') {
        Some((owner, name)) if !owner.is_empty() && !name.is_empty() && !name.contains('/') => {
            Ok(format!("/repos/{}/{}", encode(owner), encode(name)))
        }
        _ => Err(GitHubError::Refused(format!(
            "repository name {:?} is not `owner/name`",
            repo.full_name
        ))),
    }
}

/// `/repos/{owner}/{repo}/{code-scanning|dependabot|secret-scanning}/alerts/{number}`.
fn alert_path(repo: &Repository, kind: AlertKind, number: u64) -> Result<String, GitHubError> {
    Ok(format!(
        "{}/{}/alerts/{number}",
        repo_path(repo)?,
        kind.as_str()
    ))
}

/// The list endpoint with the parameters its description accepts: all three sort by `updated`,
/// `desc` (so `since` can stop early), take `per_page` up to 100 and a `state` of their own words;
/// code scanning pages by `page`, Dependabot by the `after` cursor, secret scanning by either.
fn list_path(
    repo: &Repository,
    kind: AlertKind,
    query: &AlertQuery,
) -> Result<String, GitHubError> {
    let mut params: Vec<(&str, String)> = vec![
        ("sort", "updated".to_owned()),
        ("direction", "desc".to_owned()),
        ("per_page", query.page_size().to_string()),
    ];
    match (&query.git_ref, kind) {
        // No `state` with a ref: GitHub filters on the alert's own state, which for an alert
        // found only on that ref is `null`; the states on the ref are filtered after reading.
        (Some(git_ref), AlertKind::CodeScanning) => params.push(("ref", git_ref.clone())),
        (Some(_), _) => {
            return Err(GitHubError::Refused(format!(
                "{kind} alerts are not listed per ref"
            )));
        }
        (None, _) => {
            if let Some(state) = query.state {
                params.push(("state", state_param(kind, state).to_owned()));
            }
        }
    }
    if kind == AlertKind::SecretScanning {
        params.push(("hide_secret", "true".to_owned()));
    }
    if let Some(cursor) = &query.cursor {
        let cursor = Cursor::parse(cursor)?;
        match (kind, &cursor) {
            (AlertKind::CodeScanning, Cursor::After(_))
            | (AlertKind::Dependabot, Cursor::Page(_)) => {
                return Err(GitHubError::Refused(format!(
                    "cursor {cursor} does not page {kind} alerts"
                )));
            }
            (_, Cursor::Page(page)) => params.push(("page", page.to_string())),
            (_, Cursor::After(after)) => params.push(("after", after.clone())),
        }
    }
    let query: Vec<String> = params
        .iter()
        .map(|(name, value)| format!("{name}={}", encode(value)))
        .collect();
    Ok(format!(
        "{}/{}/alerts?{}",
        repo_path(repo)?,
        kind.as_str(),
        query.join("&")
    ))
}

/// The `state` filter as each kind's list endpoint spells it. The listing filters again on the
/// state scantix reads (a resolved secret is fixed when revoked, dismissed otherwise).
fn state_param(kind: AlertKind, state: AlertStateFilter) -> &'static str {
    match (kind, state) {
        (_, AlertStateFilter::Open) => "open",
        (AlertKind::CodeScanning | AlertKind::Dependabot, AlertStateFilter::Fixed) => "fixed",
        // SARIF findings never reach GitHub (`AlertKind::is_github_alert`); spelled as their kin.
        (AlertKind::CodeScanning | AlertKind::Sarif, AlertStateFilter::Dismissed) => "dismissed",
        (AlertKind::Sarif, AlertStateFilter::Fixed) => "fixed",
        (AlertKind::Dependabot, AlertStateFilter::Dismissed) => "dismissed,auto_dismissed",
        (AlertKind::SecretScanning, _) => "resolved",
    }
}

/// The PATCH body that closes an alert without a fix, as each kind's description requires.
fn dismissal_body(kind: AlertKind, reason: DismissReason, comment: &str) -> Value {
    let reason = reason.spelling(kind);
    let comment = comment.trim();
    let mut body = match kind {
        AlertKind::CodeScanning | AlertKind::Dependabot | AlertKind::Sarif => {
            json!({"state": "dismissed", "dismissed_reason": reason})
        }
        AlertKind::SecretScanning => json!({"state": "resolved", "resolution": reason}),
    };
    if !comment.is_empty() {
        let (field, text) = match kind {
            AlertKind::CodeScanning | AlertKind::Sarif => ("dismissed_comment", shortened(comment)),
            AlertKind::Dependabot => ("dismissed_comment", shortened(comment)),
            // The description sets no length limit on a resolution comment.
            AlertKind::SecretScanning => ("resolution_comment", comment.to_owned()),
        };
        body[field] = Value::String(text);
    }
    body
}

/// `comment` cut to `MAX_DISMISSAL_COMMENT` characters, ending in `…` when cut.
fn shortened(comment: &str) -> String {
    if comment.chars().count() <= MAX_DISMISSAL_COMMENT {
        return comment.to_owned();
    }
    let mut cut: String = comment.chars().take(MAX_DISMISSAL_COMMENT - 1).collect();
    cut.push('…');
    cut
}

/// Where a listing goes on: a page number (code scanning, secret scanning) or an `after` cursor
/// (Dependabot), as GitHub's `Link: <…>; rel="next"` gives it. Spelled `page=N` / `after=X`.
#[derive(Debug, Clone, PartialEq, Eq)]
enum Cursor {
    Page(u32),
    After(String),
}

impl Cursor {
    fn parse(text: &str) -> Result<Cursor, GitHubError> {
        let invalid = || GitHubError::Refused(format!("not a listing cursor: {text:?}"));
        match text.split_once('=') {
            Some(("page", page)) => page
                .parse()
                .ok()
                .filter(|p| *p >= 1)
                .map(Cursor::Page)
                .ok_or_else(invalid),
            Some(("after", after)) if !after.is_empty() => Ok(Cursor::After(after.to_owned())),
            _ => Err(invalid()),
        }
    }

    /// The cursor of a `rel="next"` URL: its `after`, else its `page`.
    fn from_link(url: &str) -> Option<Cursor> {
        let query = url.split_once('?')?.1;
        let param = |name: &str| {
            query.split('&').find_map(|pair| {
                let (key, value) = pair.split_once('=')?;
                (key == name).then(|| percent_decode(value))
            })
        };
        match param("after") {
            Some(after) if !after.is_empty() => Some(Cursor::After(after)),
            _ => param("page")?.parse().ok().map(Cursor::Page),
        }
    }
}

impl fmt::Display for Cursor {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Cursor::Page(page) => write!(f, "page={page}"),
            Cursor::After(after) => write!(f, "after={after}"),
        }
    }
}

/// A file's text from a contents API answer.
fn decode_file(path: &str, contents: &Value) -> Result<String, GitHubError> {
    let refused = |why: &str| Err(GitHubError::Refused(format!("{path}: {why}")));
    if contents.is_array() {
        return refused("is a directory");
    }
    if contents["type"] != "file" {
        return refused(&format!("is a {}, not a file", contents["type"]));
    }
    // Files over 1 MB come with `"encoding": "none"` and no content.
    if contents["encoding"] != "base64" {
        return refused("is too large for the contents API");
    }
    let encoded: String = contents["content"]
        .as_str()
        .unwrap_or_default()
        .chars()
        .filter(|c| !c.is_ascii_whitespace())
        .collect();
    let Ok(bytes) = base64::engine::general_purpose::STANDARD.decode(encoded) else {
        return refused("content is not base64");
    };
    String::from_utf8(bytes).or_else(|_| refused("is not UTF-8 text"))
}

/// Percent-encodes everything but RFC 3986's unreserved characters.
fn encode(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for byte in text.bytes() {
        if byte.is_ascii_alphanumeric() || b"-._~".contains(&byte) {
            out.push(char::from(byte));
        } else {
            out.push_str(&format!("%{byte:02X}"));
        }
    }
    out
}

/// A repository path, each segment encoded; empty segments (`a//b`, a trailing `/`) refused.
fn encode_path(path: &str) -> Result<String, GitHubError> {
    let segments: Vec<&str> = path.trim_start_matches('/').split('/').collect();
    if segments
        .iter()
        .any(|s| s.is_empty() || *s == "." || *s == "..")
    {
        return Err(GitHubError::Refused(format!("not a file path: {path:?}")));
    }
    Ok(segments
        .into_iter()
        .map(encode)
        .collect::<Vec<_>>()
        .join("/"))
}

/// Decodes `%XX` escapes (and `+` as a space, as in query strings); malformed ones stay as they are.
fn percent_decode(text: &str) -> String {
    let bytes = text.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        let hex = bytes
            .get(i + 1..i + 3)
            .and_then(|h| std::str::from_utf8(h).ok())
            .and_then(|h| u8::from_str_radix(h, 16).ok());
        match (bytes[i], hex) {
            (b'%', Some(byte)) => {
                out.push(byte);
                i += 3;
            }
            (b'+', _) => {
                out.push(b' ');
                i += 1;
            }
            (byte, _) => {
                out.push(byte);
                i += 1;
            }
        }
    }
    String::from_utf8_lossy(&out).into_owned()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::client::link_target;

    fn repo() -> Repository {
        Repository {
            id: 1,
            full_name: "octo-org/hello world".into(),
            default_branch: Some("main".into()),
            html_url: None,
        }
    }

    #[test]
    fn list_paths_use_only_parameters_each_endpoint_takes() {
        let query = AlertQuery {
            state: Some(AlertStateFilter::Dismissed),
            per_page: 250,
            ..AlertQuery::default()
        };
        assert_eq!(
            list_path(
                &repo(),
                AlertKind::Dependabot,
                &query.at(Some("after=Y3Vy+c29y".into()))
            )
            .unwrap(),
            "/repos/octo-org/hello%20world/dependabot/alerts?sort=updated&direction=desc\
             &per_page=100&state=dismissed%2Cauto_dismissed&after=Y3Vy%2Bc29y"
        );
        assert_eq!(
            list_path(
                &repo(),
                AlertKind::CodeScanning,
                &query.at(Some("page=3".into()))
            )
            .unwrap(),
            "/repos/octo-org/hello%20world/code-scanning/alerts?sort=updated&direction=desc\
             &per_page=100&state=dismissed&page=3"
        );
        assert_eq!(
            list_path(&repo(), AlertKind::SecretScanning, &AlertQuery::open()).unwrap(),
            "/repos/octo-org/hello%20world/secret-scanning/alerts?sort=updated&direction=desc\
             &per_page=100&state=open&hide_secret=true"
        );
        for (kind, cursor) in [
            (AlertKind::CodeScanning, "after=x"),
            (AlertKind::Dependabot, "page=2"),
            (AlertKind::SecretScanning, "page=0"),
            (AlertKind::SecretScanning, "https://api.github.com/x?page=2"),
        ] {
            let result = list_path(&repo(), kind, &query.at(Some(cursor.into())));
            assert!(
                matches!(result, Err(GitHubError::Refused(_))),
                "{kind} {cursor}"
            );
        }
    }

    #[test]
    fn a_pull_requests_listing_names_its_ref_and_no_state() {
        let query = AlertQuery {
            state: Some(AlertStateFilter::Open),
            ..AlertQuery::pull_request(7)
        };
        assert_eq!(
            list_path(&repo(), AlertKind::CodeScanning, &query).unwrap(),
            "/repos/octo-org/hello%20world/code-scanning/alerts?sort=updated&direction=desc\
             &per_page=100&ref=refs%2Fpull%2F7%2Fmerge"
        );
        assert!(matches!(
            list_path(&repo(), AlertKind::Dependabot, &query),
            Err(GitHubError::Refused(_))
        ));
    }

    #[test]
    fn next_links_give_page_numbers_or_cursors() {
        let pages = r#"<https://api.github.com/repositories/1/code-scanning/alerts?per_page=100&state=dismissed,fixed&page=2>; rel="next", <https://api.github.com/repositories/1/code-scanning/alerts?per_page=100&page=10>; rel="last""#;
        let next = link_target(pages, "next").unwrap();
        assert_eq!(Cursor::from_link(&next), Some(Cursor::Page(2)));
        assert_eq!(link_target(pages, "prev"), None);
        let cursors = r#"<https://ghe.example.com/api/v3/repos/o/r/dependabot/alerts?per_page=100&after=Y3Vyc29yOnYyOpK0%3D>; rel="next""#;
        let next = Cursor::from_link(&link_target(cursors, "next").unwrap()).unwrap();
        assert_eq!(next, Cursor::After("Y3Vyc29yOnYyOpK0=".into()));
        assert_eq!(Cursor::parse(&next.to_string()).unwrap(), next);
    }

    #[test]
    fn dismissal_bodies_spell_each_kind_its_way() {
        let long = "x".repeat(400);
        let code = dismissal_body(AlertKind::CodeScanning, DismissReason::WontFix, &long);
        assert_eq!(code["state"], "dismissed");
        assert_eq!(code["dismissed_reason"], "won't fix");
        let comment = code["dismissed_comment"].as_str().unwrap();
        assert_eq!(comment.chars().count(), 280);
        assert!(comment.ends_with('…'));
        assert_eq!(
            dismissal_body(AlertKind::Dependabot, DismissReason::WontFix, "accepted"),
            json!({"state": "dismissed", "dismissed_reason": "tolerable_risk", "dismissed_comment": "accepted"})
        );
        assert_eq!(
            dismissal_body(AlertKind::SecretScanning, DismissReason::WontFix, " "),
            json!({"state": "resolved", "resolution": "wont_fix"})
        );
    }

    #[test]
    fn files_decode_from_the_contents_answer() {
        let file = json!({"type": "file", "encoding": "base64", "content": "amlyYTog\ne30K\n"});
        assert_eq!(decode_file("a.yml", &file).unwrap(), "jira: {}\n");
        assert!(decode_file("src", &json!([])).is_err());
        assert!(
            decode_file(
                "big",
                &json!({"type": "file", "encoding": "none", "content": ""})
            )
            .is_err()
        );
        assert_eq!(
            encode_path("/.github/scantix config.yml").unwrap(),
            ".github/scantix%20config.yml"
        );
        assert!(encode_path("a/../b").is_err());
    }
}
