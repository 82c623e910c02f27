//! `MemoryGitHub`: the in-memory twin of the `GitHub` port (`crate::ports::github`), for tests and
//! the local mode. Alert states and findings are set by the caller, files put there, dismissals,
//! reopenings, problem issues and comments recorded, listings counted.

use crate::finding::{AlertKind, AlertState, DismissReason, Finding, Repository};
use crate::ports::github::{
    AlertPage, AlertQuery, AnalysisQuery, AppInstallation, GitHub, GitHubError, IssueComment,
    problem_label,
};
use async_trait::async_trait;
use std::collections::BTreeMap;
use std::sync::Mutex;

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
    /// Alert → the logins it is assigned to, as `assign_alert` left them.
    assignees: BTreeMap<AlertKey, Vec<String>>,
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
    /// Code scanning analyses (repository id, analysis) → their SARIF, oldest first.
    analyses: Vec<(u64, AnalysisQuery, Vec<u8>)>,
    /// How many analysis SARIF reads were answered.
    analysis_reads: usize,
    /// The App's installations by id, each with the repositories it can access.
    installations: BTreeMap<u64, (AppInstallation, Vec<Repository>)>,
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

    /// Adds a code scanning analysis of `repository` (its ref, commit and tool) with its SARIF.
    pub fn add_analysis(&self, repository: u64, analysis: AnalysisQuery, sarif: Vec<u8>) {
        self.lock().analyses.push((repository, analysis, sarif));
    }

    /// How many times an analysis' SARIF was asked for.
    pub fn analysis_reads(&self) -> usize {
        self.lock().analysis_reads
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

    /// The logins alert `number` of `kind` in repository `repository` is assigned to (`None`:
    /// never assigned here).
    pub fn assignees(&self, repository: u64, kind: AlertKind, number: u64) -> Option<Vec<String>> {
        self.lock()
            .assignees
            .get(&(repository, kind, number))
            .cloned()
    }

    /// How many comment calls were made, by endpoint.
    pub fn comment_calls(&self) -> CommentCalls {
        self.lock().comment_calls
    }

    /// Installs the App on `installation.account` with access to `repositories` (or replaces
    /// that installation): listed by `list_app_installations` from now on.
    pub fn install(&self, installation: AppInstallation, repositories: Vec<Repository>) {
        self.lock()
            .installations
            .insert(installation.id, (installation, repositories));
    }

    /// Uninstalls installation `id`: no longer listed, its repositories no longer readable.
    pub fn uninstall(&self, id: u64) {
        self.lock().installations.remove(&id);
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Memory> {
        self.inner.lock().unwrap_or_else(|p| p.into_inner())
    }
}

#[async_trait]
impl GitHub for MemoryGitHub {
    async fn analysis_sarif(
        &self,
        repo: &Repository,
        query: &AnalysisQuery,
        max_bytes: usize,
    ) -> Result<Option<Vec<u8>>, GitHubError> {
        let mut memory = self.lock();
        memory.analysis_reads += 1;
        let found = memory.analyses.iter().rev().find(|(repository, known, _)| {
            *repository == repo.id
                && known.git_ref == query.git_ref
                && (query.commit_sha.is_none() || known.commit_sha == query.commit_sha)
                && (query.tool.is_none() || known.tool == query.tool)
        });
        match found {
            Some((_, _, sarif)) if sarif.len() > max_bytes => Err(GitHubError::Refused(format!(
                "the analysis' SARIF is longer than {max_bytes} bytes"
            ))),
            Some((_, _, sarif)) => Ok(Some(sarif.clone())),
            None => Ok(None),
        }
    }

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

    async fn list_app_installations(&self) -> Result<Vec<AppInstallation>, GitHubError> {
        Ok(self
            .lock()
            .installations
            .values()
            .map(|(installation, _)| installation.clone())
            .collect())
    }

    /// As GitHub: no token for an installation that is not there (`NotFound`) or suspended.
    async fn list_installation_repositories(
        &self,
        installation_id: u64,
    ) -> Result<Vec<Repository>, GitHubError> {
        match self.lock().installations.get(&installation_id) {
            Some((installation, repositories)) if !installation.suspended => {
                Ok(repositories.clone())
            }
            Some(_) => Err(GitHubError::Forbidden(format!(
                "installation {installation_id} is suspended"
            ))),
            None => Err(GitHubError::NotFound(format!(
                "installation {installation_id}"
            ))),
        }
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

    /// Replaces the alert's assignees, as GitHub does; an alert GitHub never reported is
    /// `NotFound`.
    async fn assign_alert(
        &self,
        repo: &Repository,
        kind: AlertKind,
        number: u64,
        login: Option<&str>,
    ) -> Result<(), GitHubError> {
        let key = (repo.id, kind, number);
        let mut memory = self.lock();
        if !memory.findings.contains_key(&key) && !memory.states.contains_key(&key) {
            return Err(GitHubError::NotFound(format!(
                "{} {kind} alert {number}",
                repo.full_name
            )));
        }
        let logins: Vec<String> = login.map(str::to_owned).into_iter().collect();
        if let Some(finding) = memory.findings.get_mut(&key) {
            finding.assignees = Some(logins.clone());
        }
        memory.assignees.insert(key, logins);
        Ok(())
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
    use crate::ports::github::{AlertStateFilter, CommentWrite};
    use crate::testing::code_alert;
    use chrono::TimeZone;
    use chrono::{DateTime, Utc};

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
}
