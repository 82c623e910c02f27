//! The `GitHub` port: what scantix asks of GitHub's REST API (an alert's current state, listing a
//! repository's alerts, dismissing and reopening an alert, reading a file, keeping one issue per
//! problem topic up to date). Its in-memory twin is `crate::memory::github::MemoryGitHub`; the REST
//! adapter is `scantix_github::rest::RestGitHub`.

use crate::finding::{AlertKind, AlertState, DismissReason, Finding, Repository};
use async_trait::async_trait;
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use std::time::Duration;

/// Why a GitHub call failed.
#[derive(Debug, thiserror::Error)]
pub enum GitHubError {
    #[error("GitHub temporarily unavailable: {0}")]
    Retryable(String),
    /// GitHub's primary or secondary rate limit. Retrying before `retry_after` has passed only
    /// makes a secondary limit last longer.
    #[error("GitHub rate limit reached; retry in {} s", retry_after.as_secs())]
    RateLimited { retry_after: Duration },
    #[error("GitHub refused: {0}")]
    Refused(String),
    /// 403 (other than a rate limit): the credential is good, but may not do this here — a
    /// feature not enabled on the repository (code scanning, Dependabot alerts, secret scanning),
    /// or a permission the token or App lacks.
    #[error("GitHub forbade it (403): {0}")]
    Forbidden(String),
    /// The credential itself was refused (401: bad, expired or revoked), or no installation token
    /// could be had for it. Every call with it will fail the same way until someone fixes it.
    #[error(
        "GitHub did not accept {credential}: {detail} — fix the credential; retrying will not help"
    )]
    Unauthorized {
        /// Which credential, in words an operator can act on ("the GitHub token",
        /// "installation 42's access token", "the GitHub App's JWT (App id 7)").
        credential: String,
        detail: String,
    },
    #[error("alert not found: {0}")]
    NotFound(String),
}

impl GitHubError {
    pub fn is_retryable(&self) -> bool {
        matches!(
            self,
            GitHubError::Retryable(_) | GitHubError::RateLimited { .. }
        )
    }

    /// The same error, an `Unauthorized` one naming `credential` (others unchanged): the call
    /// that saw the 401 knows the request, the client that sent it knows the credential.
    pub fn naming_credential(self, credential: impl Into<String>) -> GitHubError {
        match self {
            GitHubError::Unauthorized { detail, .. } => GitHubError::Unauthorized {
                credential: credential.into(),
                detail,
            },
            other => other,
        }
    }

    /// How long to wait before retrying, when GitHub said.
    pub fn retry_after(&self) -> Option<Duration> {
        match self {
            GitHubError::RateLimited { retry_after } => Some(*retry_after),
            _ => None,
        }
    }
}

/// Which alerts a listing wants, by the state scantix reads them in (see [`AlertState`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum AlertStateFilter {
    Open,
    Fixed,
    Dismissed,
}

impl AlertStateFilter {
    pub fn matches(self, state: AlertState) -> bool {
        matches!(
            (self, state),
            (AlertStateFilter::Open, AlertState::Open)
                | (AlertStateFilter::Fixed, AlertState::Fixed)
                | (AlertStateFilter::Dismissed, AlertState::Dismissed)
        )
    }
}

/// One page's worth of a listing: what to list and where to start.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AlertQuery {
    /// Only alerts in this state; all of them when `None`.
    pub state: Option<AlertStateFilter>,
    /// Only alerts updated at or after this instant. Alerts that carry no `updated_at` are kept:
    /// nothing says they are older.
    pub since: Option<DateTime<Utc>>,
    /// Where to go on: the `next` of the page before, as it was returned (it may have been
    /// stored in between). `None` starts at the most recently updated alert.
    pub cursor: Option<String>,
    /// Alerts per page, 1 to 100 (GitHub's maximum; more is read as 100).
    pub per_page: u8,
    /// Code scanning only: the alerts of this Git ref (`refs/pull/7/merge`, `refs/heads/dev`)
    /// instead of the default branch's, each in the state it has *on that ref* (an alert open on
    /// the default branch that a pull request removes is listed as fixed on the PR's ref).
    pub git_ref: Option<String>,
}

impl Default for AlertQuery {
    fn default() -> Self {
        AlertQuery {
            state: None,
            since: None,
            cursor: None,
            per_page: 100,
            git_ref: None,
        }
    }
}

impl AlertQuery {
    /// Open alerts, 100 a page.
    pub fn open() -> AlertQuery {
        AlertQuery {
            state: Some(AlertStateFilter::Open),
            ..AlertQuery::default()
        }
    }

    /// Every code scanning alert of pull request `number`, in its state on the PR's merge ref
    /// (the ref GitHub's description names for pull requests), 100 a page.
    pub fn pull_request(number: u64) -> AlertQuery {
        AlertQuery {
            git_ref: Some(format!("refs/pull/{number}/merge")),
            ..AlertQuery::default()
        }
    }

    /// The same query, resumed at `cursor`.
    pub fn at(&self, cursor: Option<String>) -> AlertQuery {
        AlertQuery {
            cursor,
            ..self.clone()
        }
    }

    /// `per_page` within GitHub's 1..=100.
    pub fn page_size(&self) -> u8 {
        self.per_page.clamp(1, 100)
    }

    /// Whether a finding passes the state and `since` filters.
    pub fn admits(&self, finding: &Finding) -> bool {
        self.state.is_none_or(|s| s.matches(finding.state)) && self.is_recent(finding.updated_at)
    }

    /// Whether `updated_at` is at or after `since` (unknown counts as recent).
    pub fn is_recent(&self, updated_at: Option<DateTime<Utc>>) -> bool {
        match (self.since, updated_at) {
            (Some(since), Some(updated)) => updated >= since,
            _ => true,
        }
    }
}

/// One page of a listing, most recently updated first.
#[derive(Debug, Clone, PartialEq)]
pub struct AlertPage {
    pub findings: Vec<Finding>,
    /// Where the next page starts (an opaque cursor: keep it as it is and pass it back in
    /// [`AlertQuery::cursor`] with the same query); `None` when this was the last page, or when
    /// the alerts left are all older than `since`.
    pub next: Option<String>,
}

/// Which code scanning analysis to read the SARIF of: the newest of `tool` on `git_ref`, and of
/// `commit_sha` when given (an alert names all three of its most recent instance).
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct AnalysisQuery {
    pub git_ref: String,
    pub commit_sha: Option<String>,
    /// The tool's name (`CodeQL`); `None`: any tool.
    pub tool: Option<String>,
}

/// The GitHub REST port.
#[async_trait]
pub trait GitHub: Send + Sync {
    /// The alert's state as GitHub reports it now.
    async fn alert_state(
        &self,
        repo: &Repository,
        kind: AlertKind,
        number: u64,
    ) -> Result<AlertState, GitHubError>;

    /// Dismisses (code scanning, Dependabot) or resolves (secret scanning) an alert. Dismissing an
    /// alert that is already closed is a no-op.
    async fn dismiss_alert(
        &self,
        repo: &Repository,
        kind: AlertKind,
        number: u64,
        reason: DismissReason,
        comment: &str,
    ) -> Result<(), GitHubError>;

    /// Reopens a dismissed (or resolved) alert. Reopening an open alert is a no-op.
    async fn reopen_alert(
        &self,
        repo: &Repository,
        kind: AlertKind,
        number: u64,
    ) -> Result<(), GitHubError>;

    /// Assigns an alert to `login` (`None`: to nobody): code scanning and Dependabot alerts take
    /// `assignees` (the list replaced), secret scanning alerts one `assignee`. How a ticket's
    /// assignee in the tracker reaches its alerts. The default refuses: a client that cannot.
    async fn assign_alert(
        &self,
        repo: &Repository,
        kind: AlertKind,
        number: u64,
        login: Option<&str>,
    ) -> Result<(), GitHubError> {
        let _ = (repo, number, login);
        Err(GitHubError::Refused(format!(
            "this GitHub client cannot assign {kind} alerts"
        )))
    }

    /// The SARIF of the code scanning analysis `query` names (the newest that matches), as GitHub
    /// serves it; `None` when GitHub holds no such analysis. An answer longer than `max_bytes`
    /// is not read (`Refused`). The default has none: a client that cannot read analyses.
    async fn analysis_sarif(
        &self,
        repo: &Repository,
        query: &AnalysisQuery,
        max_bytes: usize,
    ) -> Result<Option<Vec<u8>>, GitHubError> {
        let _ = (repo, query, max_bytes);
        Ok(None)
    }

    /// One page of the repository's alerts of `kind`, most recently updated first.
    async fn list_alerts(
        &self,
        repo: &Repository,
        kind: AlertKind,
        query: &AlertQuery,
    ) -> Result<AlertPage, GitHubError>;

    /// A text file of the repository at `git_ref` (the default branch when `None`); `None` when
    /// there is no such file.
    async fn read_file(
        &self,
        repo: &Repository,
        path: &str,
        git_ref: Option<&str>,
    ) -> Result<Option<String>, GitHubError>;

    /// Opens, or updates in place, the one issue scantix keeps in `repo` about `topic` (e.g.
    /// "config"): found by its label `scantix-<topic>` among open issues; created if none; its
    /// body replaced otherwise. Never a second issue for the same topic. Returns the issue number.
    ///
    /// `body` is sent as given: a caller quoting user input (a YAML error) escapes it. A topic
    /// that [`problem_label`] refuses is `Refused`.
    async fn upsert_problem_issue(
        &self,
        repo: &Repository,
        topic: &str,
        title: &str,
        body: &str,
    ) -> Result<u64, GitHubError>;

    /// Every comment of the conversation of issue or pull request `number` (GitHub keeps a pull
    /// request's conversation as issue comments), oldest first.
    async fn list_issue_comments(
        &self,
        repo: &Repository,
        number: u64,
    ) -> Result<Vec<IssueComment>, GitHubError>;

    /// Posts a comment on issue or pull request `number`; returns the new comment's id.
    async fn create_issue_comment(
        &self,
        repo: &Repository,
        number: u64,
        body: &str,
    ) -> Result<u64, GitHubError>;

    /// Replaces the body of comment `comment_id`; `NotFound` when the comment is gone (a person
    /// deleted it).
    async fn update_issue_comment(
        &self,
        repo: &Repository,
        comment_id: u64,
        body: &str,
    ) -> Result<(), GitHubError>;

    /// Keeps one comment on issue or pull request `number`: the one carrying `marker` (a hidden
    /// HTML comment `body` must contain). `known` is its id if the caller remembers one: edited
    /// directly (one call). Otherwise, or when that comment was deleted, the conversation is
    /// searched for a comment by a bot carrying the marker (written by an earlier attempt that
    /// crashed before remembering it) and that one is edited; only when there is none is a new
    /// comment posted.
    ///
    /// The search does not stop two callers from both posting: callers serialise per issue
    /// (scantix holds a lease on its pull request record while it calls this).
    async fn upsert_marked_comment(
        &self,
        repo: &Repository,
        number: u64,
        marker: &str,
        body: &str,
        known: Option<u64>,
    ) -> Result<CommentWrite, GitHubError> {
        if marker.is_empty() || !body.contains(marker) {
            return Err(GitHubError::Refused(format!(
                "a marked comment must carry its marker {marker:?}"
            )));
        }
        if let Some(id) = known {
            match self.update_issue_comment(repo, id, body).await {
                Ok(()) => return Ok(CommentWrite::Edited(id)),
                // Deleted by a person: look for another copy, else post a new one.
                Err(GitHubError::NotFound(_)) => {}
                Err(e) => return Err(e),
            }
        }
        let comments = self.list_issue_comments(repo, number).await?;
        // Only a bot's comment can be scantix's: a person quoting the marker must not have their
        // comment overwritten.
        let found = comments
            .iter()
            .find(|c| c.by_bot && Some(c.id) != known && c.body.contains(marker));
        match found {
            Some(comment) => {
                self.update_issue_comment(repo, comment.id, body).await?;
                Ok(CommentWrite::Edited(comment.id))
            }
            None => Ok(CommentWrite::Created(
                self.create_issue_comment(repo, number, body).await?,
            )),
        }
    }

    /// Every alert the query admits, page after page from its cursor. A caller that must survive
    /// a failure halfway (a rate limit, a Lambda timeout) pages with `list_alerts` itself and
    /// keeps each `next`.
    async fn list_all_alerts(
        &self,
        repo: &Repository,
        kind: AlertKind,
        query: &AlertQuery,
    ) -> Result<Vec<Finding>, GitHubError> {
        let mut findings = Vec::new();
        let mut query = query.clone();
        loop {
            let page = self.list_alerts(repo, kind, &query).await?;
            findings.extend(page.findings);
            match page.next {
                Some(next) => query.cursor = Some(next),
                None => return Ok(findings),
            }
        }
    }

    /// Every repository of organisation `org` the credential can see (`GET /orgs/{org}/repos`):
    /// how a token-only caller (the CLI) finds what to sync when no installation record lists
    /// them. The App's path never needs it: installation events name their repositories. A client
    /// that cannot list them answers `Refused`.
    async fn list_org_repositories(&self, org: &str) -> Result<Vec<Repository>, GitHubError> {
        Err(GitHubError::Refused(format!(
            "this GitHub client cannot list the repositories of {org}"
        )))
    }

    /// Every installation of the GitHub App (`GET /app/installations`, authenticated as the App
    /// with its JWT), page after page: how the sweeper learns an installation whose
    /// `installation` event never reached scantix. Only a client acting as the App can list them
    /// (`GitHubClients::for_app`); others answer `Refused`.
    async fn list_app_installations(&self) -> Result<Vec<AppInstallation>, GitHubError> {
        Err(GitHubError::Refused(
            "this GitHub client does not act as the GitHub App: it cannot list its installations"
                .into(),
        ))
    }

    /// Every repository installation `installation_id` can access (`GET /installation/repositories`,
    /// with that installation's token), page after page: what an `installation` created event
    /// would have named. A client that cannot act for the installation answers `Refused`.
    async fn list_installation_repositories(
        &self,
        installation_id: u64,
    ) -> Result<Vec<Repository>, GitHubError> {
        Err(GitHubError::Refused(format!(
            "this GitHub client cannot list the repositories of installation {installation_id}"
        )))
    }
}

/// An installation of the GitHub App, as `GET /app/installations` lists it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AppInstallation {
    pub id: u64,
    /// The account (organisation or user) it is installed on: its `account.login`.
    pub account: String,
    /// Suspended (`suspended_at` set): GitHub mints no token for it until it is unsuspended.
    pub suspended: bool,
}

/// A comment in the conversation of an issue or pull request.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct IssueComment {
    pub id: u64,
    pub body: String,
    /// Written by a bot account (a GitHub App, as scantix is).
    pub by_bot: bool,
}

/// What [`GitHub::upsert_marked_comment`] did, with the comment's id.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case", tag = "write", content = "comment_id")]
pub enum CommentWrite {
    Created(u64),
    Edited(u64),
}

impl CommentWrite {
    pub fn comment_id(self) -> u64 {
        match self {
            CommentWrite::Created(id) | CommentWrite::Edited(id) => id,
        }
    }
}

/// Longest problem topic: GitHub's label names stop at 50 characters, `scantix-` takes 8.
const MAX_TOPIC_LEN: usize = 42;

/// The label that marks the issue about `topic`: `scantix-<topic>`. Topics are lowercase ASCII
/// letters, digits and `-`, at most 42 of them, so the label fits GitHub's 50 characters and
/// passes whole through the listing's comma-separated `labels` filter.
pub fn problem_label(topic: &str) -> Result<String, GitHubError> {
    let valid = !topic.is_empty()
        && topic.len() <= MAX_TOPIC_LEN
        && topic
            .bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-');
    if valid {
        Ok(format!("scantix-{topic}"))
    } else {
        Err(GitHubError::Refused(format!(
            "problem topic {topic:?}: use 1 to {MAX_TOPIC_LEN} of a-z, 0-9 and -"
        )))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rate_limits_are_retryable_and_say_when() {
        let limited = GitHubError::RateLimited {
            retry_after: Duration::from_secs(42),
        };
        assert!(limited.is_retryable());
        assert_eq!(limited.retry_after(), Some(Duration::from_secs(42)));
        assert_eq!(
            limited.to_string(),
            "GitHub rate limit reached; retry in 42 s"
        );
        assert!(!GitHubError::Refused("no".into()).is_retryable());
    }
}
