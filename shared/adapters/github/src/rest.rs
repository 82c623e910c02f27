//! `RestGitHub`: the [`GitHub`] port over GitHub's REST API, against any base URL (github.com,
//! GitHub Enterprise Server, a test fake), through the shared outbound client (`crate::client`,
//! where the answer is read: rate-limit headers, `Link` headers, and GitHub's `message` on
//! refusals).
//!
//! Paths, query parameters and bodies are the ones GitHub's OpenAPI description gives for each
//! operation (checked in tests against `github-openapi-subset.json`). Rate limits are not waited
//! out: errors go back to the caller, saying whether (and when) a retry can help; the queue that
//! delivered the event retries it.

use crate::app_auth::InstallationTokens;
/// Why a GitHub client could not be set up (the client's; named here by the callers of
/// `RestGitHub`).
pub use crate::client::SetupError;
use crate::client::{Answer, Client, Reading};
use crate::requests::{
    Cursor, alert_path, assignment_body, decode_file, dismissal_body, encode, encode_path,
    list_path, repo_path,
};
use async_trait::async_trait;
use chrono::Utc;
use http::{Method, StatusCode};
use scantix_core::finding::{AlertKind, AlertState, DismissReason, Finding, Repository};
use scantix_core::ports::clock::Clock;
use scantix_core::ports::github::{
    AlertPage, AlertQuery, AnalysisQuery, AppInstallation, GitHub, GitHubError, IssueComment,
    problem_label,
};
use scantix_core::secret::Secret;
use scantix_http::outbound::Replay;
use scantix_webhooks::github::alert::finding_from_alert;
use serde_json::{Value, json};
use std::fmt;
use std::sync::Arc;

/// How long reading one analysis' SARIF may take: it is read while an alert is applied, and an
/// alert is never held up long for a nicety.
const ANALYSIS_SARIF_TIMEOUT: std::time::Duration = std::time::Duration::from_secs(15);

/// How many of a ref's newest analyses are looked through for the one an alert names.
const ANALYSES_LISTED: usize = 30;

/// The JWT crate, so callers name its types at the version scantix signs App JWTs with (tests
/// verify them with it).
pub use jsonwebtoken;

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
    /// As the App itself, with a fresh App JWT per call (`GET /app/installations`), and as any of
    /// its installations when asked about one (`GET /installation/repositories`).
    App(Arc<InstallationTokens>),
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
            RestAuth::App(tokens) => format!("App {}", tokens.app_id()),
        };
        f.debug_struct("RestGitHub")
            .field("base_url", &self.client.base_url())
            .field("auth", &auth)
            .finish()
    }
}

impl RestGitHub {
    /// A client of the GitHub at `base_url` (`https://api.github.com`, `https://HOST/api/v3`).
    pub fn new(base_url: &str, auth: RestAuth) -> Result<RestGitHub, SetupError> {
        let client = match &auth {
            // An installation's tokens work only on the GitHub that minted them; share that
            // client's connections.
            RestAuth::Installation { tokens, .. } | RestAuth::App(tokens)
                if tokens.client().base_url() == base_url =>
            {
                tokens.client().clone()
            }
            RestAuth::Installation { tokens, .. } | RestAuth::App(tokens) => {
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

    /// A client acting as the App itself (its JWT), on the GitHub of `tokens`.
    pub fn for_app(tokens: Arc<InstallationTokens>) -> RestGitHub {
        RestGitHub {
            client: tokens.client().clone(),
            auth: RestAuth::App(tokens),
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
        self.call_reading(method, path_and_query, body, Reading::JSON)
            .await
    }

    /// `call`, the answer asked for and read as `reading` says.
    async fn call_reading(
        &self,
        method: Method,
        path_and_query: &str,
        body: Option<&Value>,
        reading: Reading,
    ) -> Result<Answer, GitHubError> {
        // A POST creates (an issue, a comment): repeating it after a lost answer could create a
        // second, so the caller looks first. Reads and PATCHes set values: repeat freely.
        let replay = if method == Method::POST {
            Replay::Unsafe
        } else {
            Replay::Safe
        };
        let answer = match &self.auth {
            RestAuth::Token(token) => {
                self.client
                    .send(&method, path_and_query, token, body, replay, reading)
                    .await?
            }
            // A JWT is signed afresh for every call: nothing cached to drop on a 401.
            RestAuth::App(tokens) => {
                let jwt = tokens.app_jwt()?;
                self.client
                    .send(&method, path_and_query, &jwt, body, replay, reading)
                    .await?
            }
            RestAuth::Installation {
                tokens,
                installation_id,
            } => {
                let token = installation_token(tokens, *installation_id).await?;
                let answer = self
                    .client
                    .send(&method, path_and_query, &token, body, replay, reading)
                    .await?;
                if answer.status == StatusCode::UNAUTHORIZED {
                    tokens.forget(*installation_id, &token).await;
                    let token = installation_token(tokens, *installation_id).await?;
                    self.client
                        .send(&method, path_and_query, &token, body, replay, reading)
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
        self.get_all_pages_in(base, None, read).await
    }

    /// As [`Self::get_all_pages`], for answers that are an object holding the page's array under
    /// `field` (`{"total_count": …, "repositories": […]}`) when `field` is given, an array
    /// otherwise.
    async fn get_all_pages_in<T>(
        &self,
        base: &str,
        field: Option<&str>,
        read: impl Fn(&Value, &str) -> Result<T, GitHubError>,
    ) -> Result<Vec<T>, GitHubError> {
        let mut items = Vec::new();
        let mut path = base.to_owned();
        loop {
            let answer = self.call(Method::GET, &path, None).await?;
            let page: Vec<Value> = match field {
                None => answer.json()?,
                Some(field) => {
                    let mut object: Value = answer.json()?;
                    match object.get_mut(field).map(Value::take) {
                        Some(Value::Array(page)) => page,
                        _ => {
                            return Err(GitHubError::Refused(format!(
                                "{path}: the answer has no `{field}` array"
                            )));
                        }
                    }
                }
            };
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
            RestAuth::App(tokens) => format!(
                "the GitHub App's JWT (App id {}; check the App id and private key)",
                tokens.app_id()
            ),
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

    /// `PATCH` the alert with its kind's assignment field alone: `assignees` (the list replaced)
    /// for code scanning and Dependabot, `assignee` (`null` unassigns) for secret scanning.
    async fn assign_alert(
        &self,
        repo: &Repository,
        kind: AlertKind,
        number: u64,
        login: Option<&str>,
    ) -> Result<(), GitHubError> {
        self.update_alert(repo, kind, number, &assignment_body(kind, login))
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

    /// `GET /repos/{owner}/{repo}/code-scanning/analyses?ref=…&tool_name=…` (newest first), the
    /// newest of the commit; then `GET …/code-scanning/analyses/{analysis_id}` asking for
    /// `application/sarif+json`, bounded in size and time.
    async fn analysis_sarif(
        &self,
        repo: &Repository,
        query: &AnalysisQuery,
        max_bytes: usize,
    ) -> Result<Option<Vec<u8>>, GitHubError> {
        let base = format!("{}/code-scanning/analyses", repo_path(repo)?);
        let mut listing = format!(
            "{base}?ref={}&per_page={ANALYSES_LISTED}",
            encode(&query.git_ref)
        );
        if let Some(tool) = &query.tool {
            listing.push_str(&format!("&tool_name={}", encode(tool)));
        }
        let analyses: Vec<Value> = match self.call(Method::GET, &listing, None).await {
            Ok(answer) => answer.json()?,
            Err(GitHubError::NotFound(_)) => return Ok(None),
            Err(e) => return Err(e),
        };
        let newest = analyses.iter().find(|analysis| {
            query
                .commit_sha
                .as_deref()
                .is_none_or(|sha| analysis["commit_sha"].as_str() == Some(sha))
        });
        let Some(id) = newest.and_then(|a| a["id"].as_u64()) else {
            return Ok(None);
        };
        let reading = Reading {
            accept: "application/sarif+json",
            max_body: Some(max_bytes),
            timeout: Some(ANALYSIS_SARIF_TIMEOUT),
        };
        match self
            .call_reading(Method::GET, &format!("{base}/{id}"), None, reading)
            .await
        {
            Ok(answer) => Ok(Some(answer.body.into_bytes())),
            Err(GitHubError::NotFound(_)) => Ok(None),
            Err(e) => Err(e),
        }
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
        self.get_all_pages(&base, listed_repository).await
    }

    /// Pages through `GET /app/installations` (100 a page) by its `Link` header, as the App.
    async fn list_app_installations(&self) -> Result<Vec<AppInstallation>, GitHubError> {
        self.get_all_pages("/app/installations?per_page=100", |listed, path| {
            let (Some(id), Some(account)) = (
                listed["id"].as_u64(),
                listed["account"]["login"]
                    .as_str()
                    // An enterprise account has a `slug`, no `login`.
                    .or(listed["account"]["slug"].as_str()),
            ) else {
                return Err(GitHubError::Refused(format!(
                    "{path}: an installation without an id or account"
                )));
            };
            Ok(AppInstallation {
                id,
                account: account.to_owned(),
                suspended: !listed["suspended_at"].is_null(),
            })
        })
        .await
    }

    /// Pages through `GET /installation/repositories` (100 a page) with installation
    /// `installation_id`'s token: minted from the App's key (an App or installation client), or
    /// this client's own token (which must then be that installation's).
    async fn list_installation_repositories(
        &self,
        installation_id: u64,
    ) -> Result<Vec<Repository>, GitHubError> {
        let base = "/installation/repositories?per_page=100";
        let field = Some("repositories");
        match &self.auth {
            RestAuth::App(tokens) | RestAuth::Installation { tokens, .. } => {
                RestGitHub::for_installation(tokens.clone(), installation_id)
                    .with_clock(self.clock.clone())
                    .get_all_pages_in(base, field, listed_repository)
                    .await
            }
            RestAuth::Token(_) => self.get_all_pages_in(base, field, listed_repository).await,
        }
    }
}

/// A repository as GitHub's listings show it (`full-repository`, `minimal-repository`).
fn listed_repository(listed: &Value, path: &str) -> Result<Repository, GitHubError> {
    let (Some(id), Some(full_name)) = (listed["id"].as_u64(), listed["full_name"].as_str()) else {
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
