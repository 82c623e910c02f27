//! The `GitHub` port: what scantix asks of GitHub's REST API (an alert's current state, listing a
//! repository's alerts, dismissing and reopening an alert, reading a file, keeping one issue per
//! problem topic up to date), with `MemoryGitHub`
//! as its in-memory twin. The octocrab adapter (`super::rest::RestGitHub`) sits behind the same
//! trait.

use crate::finding::{AlertKind, AlertState, Finding, Repository};
use async_trait::async_trait;
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;
use std::sync::Mutex;
use std::time::Duration;

/// Why a person closes an alert without a fix, in scantix's words. Each alert kind spells it its
/// own way in GitHub's API; `spelling` gives that.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum DismissReason {
    FalsePositive,
    WontFix,
    UsedInTests,
}

impl DismissReason {
    /// The `dismissed_reason` / `resolution` value GitHub expects for `kind`.
    pub fn spelling(self, kind: AlertKind) -> &'static str {
        match (kind, self) {
            (AlertKind::CodeScanning, DismissReason::FalsePositive) => "false positive",
            (AlertKind::CodeScanning, DismissReason::WontFix) => "won't fix",
            (AlertKind::CodeScanning, DismissReason::UsedInTests) => "used in tests",
            (AlertKind::SecretScanning, DismissReason::FalsePositive) => "false_positive",
            (AlertKind::SecretScanning, DismissReason::WontFix) => "wont_fix",
            (AlertKind::SecretScanning, DismissReason::UsedInTests) => "used_in_tests",
            (AlertKind::Dependabot, DismissReason::FalsePositive) => "inaccurate",
            (AlertKind::Dependabot, DismissReason::WontFix) => "tolerable_risk",
            (AlertKind::Dependabot, DismissReason::UsedInTests) => "not_used",
        }
    }
}

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

/// A dismissal `MemoryGitHub` was asked for.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Dismissed {
    pub repository: u64,
    pub kind: AlertKind,
    pub number: u64,
    pub reason: &'static str,
    pub comment: String,
}

/// An alert: (repository id, kind, number).
type AlertKey = (u64, AlertKind, u64);

/// In-memory GitHub: alert states and findings set by the test (or the local run), files put
/// there, dismissals, reopenings and problem issues recorded, listings counted. Alerts it was never told about are
/// reported open: the cautious answer for verification.
#[derive(Debug, Default)]
pub struct MemoryGitHub {
    inner: Mutex<Memory>,
}

#[derive(Debug, Default)]
struct Memory {
    states: BTreeMap<AlertKey, AlertState>,
    findings: BTreeMap<AlertKey, Finding>,
    /// (repository id, path, ref; `None` for the default branch) → content.
    files: BTreeMap<(u64, String, Option<String>), String>,
    dismissed: Vec<Dismissed>,
    reopened: Vec<AlertKey>,
    list_calls: usize,
    /// (repository id, topic) → the issue kept about it. Nothing here closes issues, so each
    /// one stays the open issue of its topic.
    problem_issues: BTreeMap<(u64, String), ProblemIssue>,
    /// Repository id → the last issue number given there.
    last_issue: BTreeMap<u64, u64>,
    /// (repository id, ref) → the code scanning alerts of that ref by number, each in its state
    /// on the ref: what the last analysis of the ref found.
    ref_findings: BTreeMap<(u64, String), BTreeMap<u64, Finding>>,
    /// (repository id, issue or pull request number) → its conversation, oldest first.
    comments: BTreeMap<(u64, u64), Vec<StoredComment>>,
    /// The last comment id given (ids are unique across repositories, as GitHub's are).
    last_comment: u64,
    comment_calls: CommentCalls,
}

#[derive(Debug, Clone)]
struct StoredComment {
    id: u64,
    body: String,
    by_bot: bool,
    edits: u32,
}

/// How many calls of each comment endpoint `MemoryGitHub` answered.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct CommentCalls {
    pub listed: usize,
    pub created: usize,
    pub updated: usize,
}

#[derive(Debug, Clone)]
struct ProblemIssue {
    number: u64,
    title: String,
    body: String,
    times_updated: u32,
}

impl MemoryGitHub {
    pub fn new() -> MemoryGitHub {
        MemoryGitHub::default()
    }

    pub fn set_state(&self, repository: u64, kind: AlertKind, number: u64, state: AlertState) {
        self.lock().states.insert((repository, kind, number), state);
    }

    /// Adds (or replaces) an alert that listings return; its state is the finding's.
    pub fn add_finding(&self, finding: Finding) {
        let key = (finding.repository.id, finding.kind, finding.number);
        let mut memory = self.lock();
        memory.states.insert(key, finding.state);
        memory.findings.insert(key, finding);
    }

    /// Puts a file at `path` on `git_ref` (`None`: the default branch).
    pub fn put_file(&self, repository: u64, path: &str, git_ref: Option<&str>, content: &str) {
        self.lock().files.insert(
            (repository, path.to_owned(), git_ref.map(str::to_owned)),
            content.to_owned(),
        );
    }

    pub fn dismissed(&self) -> Vec<Dismissed> {
        self.lock().dismissed.clone()
    }

    /// The alerts reopened, as (repository id, kind, number), oldest first.
    pub fn reopened(&self) -> Vec<(u64, AlertKind, u64)> {
        self.lock().reopened.clone()
    }

    /// The problem issues opened, as (repository id, number, title, body, times updated since
    /// opened), by repository and number.
    pub fn problem_issues(&self) -> Vec<(u64, u64, String, String, u32)> {
        let mut issues: Vec<_> = self
            .lock()
            .problem_issues
            .iter()
            .map(|((repository, _), issue)| {
                (
                    *repository,
                    issue.number,
                    issue.title.clone(),
                    issue.body.clone(),
                    issue.times_updated,
                )
            })
            .collect();
        issues.sort_by_key(|(repository, number, ..)| (*repository, *number));
        issues
    }

    /// How many `list_alerts` calls were made: what one page costs against the real API.
    pub fn list_calls(&self) -> usize {
        self.lock().list_calls
    }

    /// A new analysis of `git_ref` (`refs/pull/7/merge`): its code scanning alerts are now exactly
    /// `findings`, each in its state on that ref.
    pub fn set_ref_findings(&self, repository: u64, git_ref: &str, findings: Vec<Finding>) {
        let by_number = findings.into_iter().map(|f| (f.number, f)).collect();
        self.lock()
            .ref_findings
            .insert((repository, git_ref.to_owned()), by_number);
    }

    /// Adds a comment to the conversation of issue or pull request `number` (a person's, unless
    /// `by_bot`); returns its id.
    pub fn add_comment(&self, repository: u64, number: u64, body: &str, by_bot: bool) -> u64 {
        let mut memory = self.lock();
        memory.last_comment += 1;
        let id = memory.last_comment;
        memory
            .comments
            .entry((repository, number))
            .or_default()
            .push(StoredComment {
                id,
                body: body.to_owned(),
                by_bot,
                edits: 0,
            });
        id
    }

    /// Deletes a comment, as a person may.
    pub fn delete_comment(&self, repository: u64, comment_id: u64) {
        let mut memory = self.lock();
        for ((repo, _), comments) in memory.comments.iter_mut() {
            if *repo == repository {
                comments.retain(|c| c.id != comment_id);
            }
        }
    }

    /// The conversation of issue or pull request `number`, oldest first, as (comment id, body,
    /// times edited).
    pub fn comments(&self, repository: u64, number: u64) -> Vec<(u64, String, u32)> {
        self.lock()
            .comments
            .get(&(repository, number))
            .into_iter()
            .flatten()
            .map(|c| (c.id, c.body.clone(), c.edits))
            .collect()
    }

    /// How many comment calls were made, by endpoint.
    pub fn comment_calls(&self) -> CommentCalls {
        self.lock().comment_calls
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Memory> {
        self.inner.lock().unwrap_or_else(|p| p.into_inner())
    }
}

#[async_trait]
impl GitHub for MemoryGitHub {
    /// The repositories of `org` among those with alerts here, by id.
    async fn list_org_repositories(&self, org: &str) -> Result<Vec<Repository>, GitHubError> {
        let memory = self.lock();
        let mut found: BTreeMap<u64, Repository> = BTreeMap::new();
        for finding in memory.findings.values() {
            let owner = finding.repository.full_name.split_once('/').map(|(o, _)| o);
            if owner.is_some_and(|owner| owner.eq_ignore_ascii_case(org)) {
                found
                    .entry(finding.repository.id)
                    .or_insert_with(|| finding.repository.clone());
            }
        }
        Ok(found.into_values().collect())
    }

    async fn alert_state(
        &self,
        repo: &Repository,
        kind: AlertKind,
        number: u64,
    ) -> Result<AlertState, GitHubError> {
        Ok(self
            .lock()
            .states
            .get(&(repo.id, kind, number))
            .copied()
            .unwrap_or(AlertState::Open))
    }

    async fn dismiss_alert(
        &self,
        repo: &Repository,
        kind: AlertKind,
        number: u64,
        reason: DismissReason,
        comment: &str,
    ) -> Result<(), GitHubError> {
        let key = (repo.id, kind, number);
        let mut memory = self.lock();
        if memory
            .states
            .get(&key)
            .is_some_and(|s| *s != AlertState::Open)
        {
            return Ok(());
        }
        memory.states.insert(key, AlertState::Dismissed);
        memory.dismissed.push(Dismissed {
            repository: repo.id,
            kind,
            number,
            reason: reason.spelling(kind),
            comment: comment.to_owned(),
        });
        Ok(())
    }

    async fn reopen_alert(
        &self,
        repo: &Repository,
        kind: AlertKind,
        number: u64,
    ) -> Result<(), GitHubError> {
        let key = (repo.id, kind, number);
        let mut memory = self.lock();
        if memory
            .states
            .get(&key)
            .is_none_or(|s| *s == AlertState::Open)
        {
            return Ok(());
        }
        memory.states.insert(key, AlertState::Open);
        memory.reopened.push(key);
        Ok(())
    }

    async fn list_alerts(
        &self,
        repo: &Repository,
        kind: AlertKind,
        query: &AlertQuery,
    ) -> Result<AlertPage, GitHubError> {
        let mut memory = self.lock();
        memory.list_calls += 1;
        // The cursor is the page number, as GitHub's page-numbered listings have it.
        let page: usize = match &query.cursor {
            None => 1,
            Some(cursor) => cursor
                .parse()
                .ok()
                .filter(|page| *page >= 1)
                .ok_or_else(|| GitHubError::Refused(format!("not a cursor: {cursor:?}")))?,
        };
        let mut matching: Vec<Finding> = match &query.git_ref {
            // As on GitHub, only code scanning lists per ref.
            Some(_) if kind != AlertKind::CodeScanning => {
                return Err(GitHubError::Refused(format!(
                    "{kind} alerts are not listed per ref"
                )));
            }
            Some(git_ref) => memory
                .ref_findings
                .get(&(repo.id, git_ref.clone()))
                .into_iter()
                .flat_map(|by_number| by_number.values())
                .filter(|finding| query.admits(finding))
                .cloned()
                .collect(),
            None => memory
                .findings
                .range((repo.id, kind, 0)..=(repo.id, kind, u64::MAX))
                .map(|(key, finding)| Finding {
                    state: memory.states.get(key).copied().unwrap_or(finding.state),
                    ..finding.clone()
                })
                .filter(|finding| query.admits(finding))
                .collect(),
        };
        // Most recently updated first; unknown times last, then newest numbers first.
        matching.sort_by(|a, b| {
            b.updated_at
                .cmp(&a.updated_at)
                .then(b.number.cmp(&a.number))
        });
        let size = usize::from(query.page_size());
        let start = (page - 1).saturating_mul(size);
        let findings: Vec<Finding> = matching.iter().skip(start).take(size).cloned().collect();
        let next = (start.saturating_add(size) < matching.len()).then(|| (page + 1).to_string());
        Ok(AlertPage { findings, next })
    }

    async fn read_file(
        &self,
        repo: &Repository,
        path: &str,
        git_ref: Option<&str>,
    ) -> Result<Option<String>, GitHubError> {
        let key = (repo.id, path.to_owned(), git_ref.map(str::to_owned));
        Ok(self.lock().files.get(&key).cloned())
    }

    async fn upsert_problem_issue(
        &self,
        repo: &Repository,
        topic: &str,
        title: &str,
        body: &str,
    ) -> Result<u64, GitHubError> {
        problem_label(topic)?;
        let mut memory = self.lock();
        if let Some(issue) = memory.problem_issues.get_mut(&(repo.id, topic.to_owned())) {
            issue.title = title.to_owned();
            issue.body = body.to_owned();
            issue.times_updated += 1;
            return Ok(issue.number);
        }
        let last = memory.last_issue.entry(repo.id).or_default();
        *last += 1;
        let number = *last;
        memory.problem_issues.insert(
            (repo.id, topic.to_owned()),
            ProblemIssue {
                number,
                title: title.to_owned(),
                body: body.to_owned(),
                times_updated: 0,
            },
        );
        Ok(number)
    }

    async fn list_issue_comments(
        &self,
        repo: &Repository,
        number: u64,
    ) -> Result<Vec<IssueComment>, GitHubError> {
        let mut memory = self.lock();
        memory.comment_calls.listed += 1;
        Ok(memory
            .comments
            .get(&(repo.id, number))
            .into_iter()
            .flatten()
            .map(|c| IssueComment {
                id: c.id,
                body: c.body.clone(),
                by_bot: c.by_bot,
            })
            .collect())
    }

    async fn create_issue_comment(
        &self,
        repo: &Repository,
        number: u64,
        body: &str,
    ) -> Result<u64, GitHubError> {
        self.lock().comment_calls.created += 1;
        // scantix comments as its App: a bot.
        Ok(self.add_comment(repo.id, number, body, true))
    }

    async fn update_issue_comment(
        &self,
        repo: &Repository,
        comment_id: u64,
        body: &str,
    ) -> Result<(), GitHubError> {
        let mut memory = self.lock();
        memory.comment_calls.updated += 1;
        let comment = memory
            .comments
            .iter_mut()
            .filter(|((repository, _), _)| *repository == repo.id)
            .flat_map(|(_, comments)| comments.iter_mut())
            .find(|c| c.id == comment_id)
            .ok_or_else(|| GitHubError::NotFound(format!("comment {comment_id}")))?;
        comment.body = body.to_owned();
        comment.edits += 1;
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::testing::code_alert;
    use chrono::TimeZone;

    fn at(minute: u32) -> DateTime<Utc> {
        Utc.with_ymd_and_hms(2026, 3, 1, 12, 0, 0).unwrap()
            + chrono::Duration::minutes(minute.into())
    }

    /// `count` open code scanning alerts of acme/shop, alert n updated n minutes after noon.
    fn seeded(count: u64) -> (MemoryGitHub, Repository) {
        let github = MemoryGitHub::new();
        let mut repository = None;
        for number in 1..=count {
            let mut finding = code_alert(number, "js/xss", "src/app.js");
            finding.updated_at = Some(at(number as u32));
            repository = Some(finding.repository.clone());
            github.add_finding(finding);
        }
        (github, repository.expect("at least one alert"))
    }

    #[tokio::test]
    async fn a_thousand_alerts_list_in_ten_pages_newest_first() {
        let (github, repo) = seeded(1000);
        let all = github
            .list_all_alerts(&repo, AlertKind::CodeScanning, &AlertQuery::open())
            .await
            .unwrap();
        assert_eq!(all.len(), 1000);
        assert_eq!(github.list_calls(), 10);
        assert_eq!(all.first().map(|f| f.number), Some(1000));
        assert_eq!(all.last().map(|f| f.number), Some(1));
    }

    #[tokio::test]
    async fn state_and_since_filter_and_a_stored_cursor_resumes() {
        let (github, repo) = seeded(30);
        github.set_state(repo.id, AlertKind::CodeScanning, 30, AlertState::Fixed);
        let query = AlertQuery {
            state: Some(AlertStateFilter::Open),
            since: Some(at(11)),
            per_page: 8,
            ..AlertQuery::default()
        };
        let first = github
            .list_alerts(&repo, AlertKind::CodeScanning, &query)
            .await
            .unwrap();
        let numbers: Vec<u64> = first.findings.iter().map(|f| f.number).collect();
        assert_eq!(numbers, [29, 28, 27, 26, 25, 24, 23, 22]);
        let stored = first.next.clone().expect("more pages");
        let rest = github
            .list_all_alerts(&repo, AlertKind::CodeScanning, &query.at(Some(stored)))
            .await
            .unwrap();
        let numbers: Vec<u64> = rest.iter().map(|f| f.number).collect();
        assert_eq!(numbers, [21, 20, 19, 18, 17, 16, 15, 14, 13, 12, 11]);
        let bad = query.at(Some("after=xyz".into()));
        assert!(matches!(
            github
                .list_alerts(&repo, AlertKind::CodeScanning, &bad)
                .await,
            Err(GitHubError::Refused(_))
        ));
    }

    #[tokio::test]
    async fn dismissing_and_reopening_show_in_listings() {
        let (github, repo) = seeded(3);
        let kind = AlertKind::CodeScanning;
        github
            .dismiss_alert(&repo, kind, 2, DismissReason::WontFix, "accepted")
            .await
            .unwrap();
        let open = github
            .list_all_alerts(&repo, kind, &AlertQuery::open())
            .await
            .unwrap();
        assert_eq!(open.iter().map(|f| f.number).collect::<Vec<_>>(), [3, 1]);
        github.reopen_alert(&repo, kind, 2).await.unwrap();
        github.reopen_alert(&repo, kind, 3).await.unwrap();
        assert_eq!(
            github.reopened(),
            [(repo.id, kind, 2)],
            "reopening an open alert is a no-op"
        );
        assert_eq!(
            github.alert_state(&repo, kind, 2).await.unwrap(),
            AlertState::Open
        );
    }

    #[tokio::test]
    async fn files_are_read_per_ref() {
        let (github, repo) = seeded(1);
        github.put_file(repo.id, ".github/scantix.yml", None, "jira: {}\n");
        github.put_file(
            repo.id,
            ".github/scantix.yml",
            Some("feature"),
            "jira: {project: X}\n",
        );
        let read = |r: Option<&'static str>| github.read_file(&repo, ".github/scantix.yml", r);
        assert_eq!(read(None).await.unwrap().as_deref(), Some("jira: {}\n"));
        assert_eq!(
            read(Some("feature")).await.unwrap().as_deref(),
            Some("jira: {project: X}\n")
        );
        assert_eq!(read(Some("other")).await.unwrap(), None);
    }

    #[tokio::test]
    async fn a_problem_issue_is_opened_once_per_topic_and_updated_in_place() {
        let (github, repo) = seeded(1);
        let first = github
            .upsert_problem_issue(&repo, "config", "scantix: config", "line 3: `jira` <b>")
            .await
            .unwrap();
        let again = github
            .upsert_problem_issue(&repo, "config", "scantix: config", "line 4: unknown key")
            .await
            .unwrap();
        let other = github
            .upsert_problem_issue(&repo, "jira-access", "scantix: Jira", "401")
            .await
            .unwrap();
        assert_eq!((first, again, other), (1, 1, 2));
        assert_eq!(
            github.problem_issues(),
            [
                (
                    repo.id,
                    1,
                    "scantix: config".into(),
                    "line 4: unknown key".into(),
                    1
                ),
                (repo.id, 2, "scantix: Jira".into(), "401".into(), 0),
            ]
        );
    }

    #[tokio::test]
    async fn problem_topics_must_make_a_single_label() {
        let (github, repo) = seeded(1);
        for topic in ["", "a,b", "Config", "x".repeat(43).as_str()] {
            let result = github.upsert_problem_issue(&repo, topic, "t", "b").await;
            assert!(matches!(result, Err(GitHubError::Refused(_))), "{topic:?}");
        }
        assert_eq!(problem_label(&"x".repeat(42)).unwrap().len(), 50);
        assert!(github.problem_issues().is_empty());
    }

    #[tokio::test]
    async fn a_marked_comment_is_posted_once_then_edited_in_place() {
        let (github, repo) = seeded(1);
        let marker = "<!-- scantix:test -->";
        // A person quoting the marker: their comment is never taken for scantix's.
        let quoted = github.add_comment(repo.id, 7, &format!("why is {marker} here?"), false);
        let first = github
            .upsert_marked_comment(&repo, 7, marker, &format!("{marker}\none"), None)
            .await
            .unwrap();
        let CommentWrite::Created(id) = first else {
            panic!("expected a new comment, got {first:?}");
        };
        // Remembered: edited directly, without listing the conversation.
        let listed_before = github.comment_calls().listed;
        let known = github
            .upsert_marked_comment(&repo, 7, marker, &format!("{marker}\ntwo"), Some(id))
            .await
            .unwrap();
        assert_eq!(known, CommentWrite::Edited(id));
        assert_eq!(github.comment_calls().listed, listed_before);
        // Forgotten (a crash before the id was stored): found by its marker.
        let found = github
            .upsert_marked_comment(&repo, 7, marker, &format!("{marker}\nthree"), None)
            .await
            .unwrap();
        assert_eq!(found, CommentWrite::Edited(id));
        assert_eq!(
            github.comments(repo.id, 7),
            [
                (quoted, format!("why is {marker} here?"), 0),
                (id, format!("{marker}\nthree"), 2)
            ]
        );
        assert_eq!(github.comment_calls().created, 1);
    }

    #[tokio::test]
    async fn a_deleted_marked_comment_is_posted_again_and_a_body_needs_its_marker() {
        let (github, repo) = seeded(1);
        let marker = "<!-- scantix:test -->";
        let body = format!("{marker}\nsummary");
        let first = github
            .upsert_marked_comment(&repo, 3, marker, &body, None)
            .await
            .unwrap();
        github.delete_comment(repo.id, first.comment_id());
        let again = github
            .upsert_marked_comment(&repo, 3, marker, &body, Some(first.comment_id()))
            .await
            .unwrap();
        assert!(matches!(again, CommentWrite::Created(id) if id != first.comment_id()));
        assert_eq!(github.comments(repo.id, 3).len(), 1);
        let unmarked = github
            .upsert_marked_comment(&repo, 3, marker, "no marker", None)
            .await;
        assert!(matches!(unmarked, Err(GitHubError::Refused(_))));
    }

    #[tokio::test]
    async fn a_ref_lists_its_own_analysis_in_its_own_states() {
        let (github, repo) = seeded(2);
        let mut fixed_here = code_alert(1, "js/xss", "src/app.js");
        fixed_here.state = AlertState::Fixed;
        let new_here = code_alert(9, "js/sql-injection", "src/db.js");
        github.set_ref_findings(repo.id, "refs/pull/4/merge", vec![fixed_here, new_here]);
        let listed = github
            .list_all_alerts(&repo, AlertKind::CodeScanning, &AlertQuery::pull_request(4))
            .await
            .unwrap();
        let states: Vec<(u64, AlertState)> = listed.iter().map(|f| (f.number, f.state)).collect();
        assert_eq!(states, [(9, AlertState::Open), (1, AlertState::Fixed)]);
        // The default branch is unchanged by it.
        let open = github
            .list_all_alerts(&repo, AlertKind::CodeScanning, &AlertQuery::open())
            .await
            .unwrap();
        assert_eq!(open.len(), 2);
        let dependabot = github
            .list_alerts(&repo, AlertKind::Dependabot, &AlertQuery::pull_request(4))
            .await;
        assert!(matches!(dependabot, Err(GitHubError::Refused(_))));
    }

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
