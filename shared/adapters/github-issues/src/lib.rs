//! The GitHub Issues adapter: tickets as issues, in the repository the alerts are in or in one
//! central repository, through the shared outbound client with the App's installation tokens (got through
//! `scantix_http::auth::InstallationAuth`: `scantix-wiring` hands over the GitHub adapter's). Not
//! here: the `issues` webhook (`scantix_webhooks::github::issues`), which names tickets the same
//! way (`scantix_core::ticket::github_issue`).
//!
//! Every call is safe to repeat:
//! - an issue carries its group twice: the group's digest label (`scantix-3f2a9c1b0d4e`; GitHub
//!   labels stop at 50 characters), which the issues listing can filter on, and the group key
//!   itself in a hidden marker at the end of the body, which confirms the match. `find_for` lists
//!   the target repository's issues with that label (`state=all`) and keeps the one whose body
//!   carries the marker; `create` looks the same way before posting, unless `find_for` just did,
//!   and again before posting once more after an unclear failure;
//! - a comment ends with a hidden marker naming its `comment_id`, looked for before posting;
//! - edits and moves read the issue and send only what differs: a repeat sends nothing.
//!
//! `find_by_group_key` alone (no content) can only look in a central repository: a group key names
//! its repository by id, and the issues API wants a name. Without one it answers `None`, and
//! `create`, which has the content, looks before posting.
//!
//! # Layout
//! - [`settings`]: `GithubIssuesSettings`, `IssuesAuth` (never serialised); `RepoName` and
//!   `IssueKey` are the core's, re-exported.
//! - [`issue`]: what is sent (title, body, labels, assignee, moves, comments) and read back.
//! - `http`: the single `send` (installation token per repository, retries, GitHub's refusals →
//!   `TrackerError`).

mod http;
pub mod issue;
pub mod settings;

pub use settings::{GithubIssuesSettings, IssueKey, IssuesAuth, RepoName};

use self::http::{Call, Failure, Http, Replay, Scope};
use ::http::Method;
use async_trait::async_trait;
use issue::{Comment, Issue};
use scantix_core::identity::GroupKey;
use scantix_core::ports::tracker::{Tracker, TrackerError};
use scantix_core::records::{TicketRef, TicketState};
use scantix_core::ticket::TicketContent;
use serde_json::json;
use std::future::Future;
use std::sync::Mutex;
use std::time::Duration;

/// `TicketRef::tracker` of GitHub issues.
pub use scantix_core::ticket::github_issue::TRACKER_NAME;

/// Comments per page of a comment listing: GitHub's maximum.
const COMMENTS_PER_PAGE: usize = 100;

/// How many pages of comments are searched for a marker before posting anyway (3,000 comments:
/// far beyond any ticket's conversation).
const MAX_COMMENT_PAGES: u32 = 30;

/// Tickets in GitHub Issues.
pub struct GithubIssuesTracker {
    settings: GithubIssuesSettings,
    /// The central repository, when the settings name one.
    central: Option<RepoName>,
    http: Http,
    /// Where `find_for` last looked and found nothing. The executor asks right before `create`,
    /// which then need not look again; any other call in between makes `create` look itself.
    last_miss: Mutex<Option<(GroupKey, RepoName)>>,
}

impl std::fmt::Debug for GithubIssuesTracker {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("GithubIssuesTracker")
            .field("settings", &self.settings)
            .field("base_url", &self.http.base_url())
            .finish_non_exhaustive()
    }
}

impl GithubIssuesTracker {
    /// Checks the settings and builds the client (once: it pools connections, and as the App it
    /// remembers which installation covers each repository). Call it inside the Tokio runtime.
    pub fn new(
        settings: GithubIssuesSettings,
        auth: IssuesAuth,
    ) -> Result<GithubIssuesTracker, TrackerError> {
        let misconfigured = |setting: &str, message: String| TrackerError::Misconfigured {
            setting: setting.into(),
            message,
        };
        if settings.max_attempts == 0 {
            return Err(misconfigured(
                "github-issues.max-attempts",
                "must be at least 1 (1 means no retries)".into(),
            ));
        }
        let central = settings
            .repository
            .as_deref()
            .map(RepoName::parse)
            .transpose()
            .map_err(|why| misconfigured("github-issues.repository", why))?;
        Ok(GithubIssuesTracker {
            http: Http::new(auth, settings.max_attempts)?,
            central,
            settings,
            last_miss: Mutex::new(None),
        })
    }

    /// Sets the first retry delay (doubling from there; 500 ms by default). Tests make it small.
    pub fn with_backoff_base(mut self, base: Duration) -> GithubIssuesTracker {
        self.http.set_backoff_base(base);
        self
    }

    /// The repository `content`'s ticket is filed in.
    fn target(&self, content: &TicketContent) -> Result<RepoName, TrackerError> {
        match &self.central {
            Some(central) => Ok(central.clone()),
            None => RepoName::parse(&content.repository)
                .map_err(|why| TrackerError::Failed(format!("the alerts' repository: {why}"))),
        }
    }

    fn reference(&self, repo: &RepoName, issue: &Issue) -> TicketRef {
        let key = IssueKey {
            repo: repo.clone(),
            number: issue.number,
        };
        TicketRef {
            tracker: TRACKER_NAME.into(),
            key: key.to_string(),
            url: issue.html_url.clone(),
        }
    }

    fn lock_last_miss(&self) -> std::sync::MutexGuard<'_, Option<(GroupKey, RepoName)>> {
        self.last_miss
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    /// Runs `flow` again while it fails ambiguously (a create or comment whose outcome is unknown),
    /// with backoff between runs. Each flow starts by checking whether its earlier run took
    /// effect, which is what makes running it again safe.
    async fn repeat<T, F, Fut>(&self, mut flow: F) -> Result<T, TrackerError>
    where
        F: FnMut(u32) -> Fut,
        Fut: Future<Output = Result<T, Failure>>,
    {
        let mut attempt = 1;
        loop {
            match flow(attempt).await {
                Ok(value) => return Ok(value),
                Err(f) if f.ambiguous && attempt < self.http.max_attempts() => {
                    tracing::info!(
                        attempt,
                        "github call outcome unknown; checking, then repeating"
                    );
                    tokio::time::sleep(self.http.backoff(attempt)).await;
                    attempt += 1;
                }
                Err(f) => return Err(f.error),
            }
        }
    }

    /// The ticket of `group` in `repo`: the oldest issue with the group's label whose body carries
    /// its marker.
    async fn search(
        &self,
        repo: &RepoName,
        group: &GroupKey,
    ) -> Result<Option<TicketRef>, Failure> {
        let label = group.label();
        let call = Call {
            method: Method::GET,
            repo,
            // The label is the group's digest: letters, digits and `-`, nothing to encode.
            path: format!(
                "{}/issues?labels={label}&state=all&per_page=100",
                repo.api_path()
            ),
            body: None,
            replay: Replay::Safe,
            scope: Scope::Repository,
        };
        let listed: Vec<Issue> = self.http.send(&call).await?.json("the issue listing")?;
        let (mut ours, others): (Vec<Issue>, Vec<Issue>) =
            listed.into_iter().partition(|i| i.is_ticket_of(group));
        if !others.is_empty() {
            let numbers: Vec<u64> = others.iter().map(|i| i.number).collect();
            tracing::warn!(repo = %repo, %label, ?numbers, "issues carry the group's label but not its marker; not taken as its ticket");
        }
        ours.sort_by_key(|i| i.number);
        if ours.len() > 1 {
            let numbers: Vec<u64> = ours.iter().map(|i| i.number).collect();
            tracing::warn!(repo = %repo, group = %group, ?numbers, "more than one issue for one group; using the oldest");
        }
        Ok(ours.first().map(|issue| self.reference(repo, issue)))
    }

    /// Posts the issue. An owner GitHub cannot assign (not a collaborator, a typo in the owners
    /// map) would cost the whole ticket; it is created unassigned instead, with a warning.
    async fn post(&self, repo: &RepoName, content: &TicketContent) -> Result<TicketRef, Failure> {
        let call = |with_assignee: bool| Call {
            method: Method::POST,
            repo,
            path: format!("{}/issues", repo.api_path()),
            body: Some(issue::create_body(content, with_assignee)),
            replay: Replay::Unsafe,
            scope: Scope::Repository,
        };
        let reply = match self.http.send(&call(true)).await {
            Ok(reply) => reply,
            // A 422 created nothing: posting again without the assignee is safe.
            Err(f) if f.fields.iter().any(|field| field.starts_with("assignee")) => {
                tracing::warn!(repo = %repo, error = %f.error, "GitHub cannot assign the owner; creating the ticket unassigned");
                self.http.send(&call(false)).await?
            }
            Err(f) => return Err(f),
        };
        let created: Issue = reply.json("the issue creation")?;
        if !created
            .label_names()
            .iter()
            .any(|l| l.eq_ignore_ascii_case(&content.group_key.label()))
        {
            // GitHub drops labels silently for callers without push access.
            tracing::warn!(repo = %repo, issue = created.number, "the issue was created without its labels: it cannot be found again by group; grant the App Issues write access");
        }
        Ok(self.reference(repo, &created))
    }

    async fn read(&self, key: &IssueKey) -> Result<Issue, Failure> {
        let call = Call {
            method: Method::GET,
            repo: &key.repo,
            path: format!("{}/issues/{}", key.repo.api_path(), key.number),
            body: None,
            replay: Replay::Safe,
            scope: Scope::Issue(key),
        };
        self.http.send(&call).await?.json("the issue")
    }

    async fn edit(&self, key: &IssueKey, changes: serde_json::Value) -> Result<(), Failure> {
        let call = Call {
            method: Method::PATCH,
            repo: &key.repo,
            path: format!("{}/issues/{}", key.repo.api_path(), key.number),
            body: Some(changes),
            // A PATCH sets values: sending it twice leaves the issue as once.
            replay: Replay::Safe,
            scope: Scope::Issue(key),
        };
        self.http.send(&call).await.map(|_| ())
    }

    async fn comment_once(
        &self,
        key: &IssueKey,
        comment_id: &str,
        text: &str,
    ) -> Result<(), Failure> {
        let comments_path = format!("{}/issues/{}/comments", key.repo.api_path(), key.number);
        // GitHub lists comments oldest first; a repeat looks at them all (one page, mostly).
        for page in 1..=MAX_COMMENT_PAGES {
            let call = Call {
                method: Method::GET,
                repo: &key.repo,
                path: format!("{comments_path}?per_page={COMMENTS_PER_PAGE}&page={page}"),
                body: None,
                replay: Replay::Safe,
                scope: Scope::Issue(key),
            };
            let comments: Vec<Comment> = self.http.send(&call).await?.json("the comment list")?;
            if issue::has_comment(&comments, comment_id) {
                tracing::debug!(issue = %key, comment_id, "comment already there");
                return Ok(());
            }
            if comments.len() < COMMENTS_PER_PAGE {
                break;
            }
            if page == MAX_COMMENT_PAGES {
                tracing::warn!(issue = %key, "too many comments to look through; posting without looking further");
            }
        }
        let post = Call {
            method: Method::POST,
            repo: &key.repo,
            path: comments_path,
            body: Some(json!({ "body": issue::comment_body(comment_id, text) })),
            replay: Replay::Unsafe,
            scope: Scope::Issue(key),
        };
        self.http.send(&post).await.map(|_| ())
    }
}

#[async_trait]
impl Tracker for GithubIssuesTracker {
    fn name(&self) -> &str {
        TRACKER_NAME
    }

    async fn find_by_group_key(&self, key: &GroupKey) -> Result<Option<TicketRef>, TrackerError> {
        let Some(central) = &self.central else {
            tracing::debug!(group = %key, "no central repository: the group's repository is only known from its content");
            return Ok(None);
        };
        let found = self.search(central, key).await?;
        if found.is_none() {
            *self.lock_last_miss() = Some((key.clone(), central.clone()));
        }
        Ok(found)
    }

    async fn find_for(&self, content: &TicketContent) -> Result<Option<TicketRef>, TrackerError> {
        let repo = self.target(content)?;
        let found = self.search(&repo, &content.group_key).await?;
        if found.is_none() {
            *self.lock_last_miss() = Some((content.group_key.clone(), repo));
        }
        Ok(found)
    }

    async fn create(
        &self,
        content: &TicketContent,
    ) -> Result<(TicketRef, TicketState), TrackerError> {
        let repo = self.target(content)?;
        let group = &content.group_key;
        let just_looked = {
            let mut last = self.lock_last_miss();
            let hit = last.as_ref().is_some_and(|(g, r)| g == group && *r == repo);
            // Used once: a later create looks again.
            *last = None;
            hit
        };
        let repo = &repo;
        let ticket = self
            .repeat(|attempt| async move {
                // Look before creating: always after an unclear failure (GitHub may have created
                // it), and first unless `find_for` looked a moment ago.
                if (attempt > 1 || !just_looked)
                    && let Some(found) = self.search(repo, group).await?
                {
                    return Ok(found);
                }
                self.post(repo, content).await
            })
            .await?;
        tracing::info!(issue = %ticket.key, group = %group, "github issue created");
        Ok((ticket, TicketState::Open))
    }

    async fn update(
        &self,
        ticket: &TicketRef,
        content: &TicketContent,
    ) -> Result<(), TrackerError> {
        let key = IssueKey::parse(&ticket.key)?;
        let current = self.read(&key).await?;
        match issue::edit_body(&current, content) {
            Some(changes) => Ok(self.edit(&key, changes).await?),
            None => Ok(()),
        }
    }

    async fn comment(
        &self,
        ticket: &TicketRef,
        comment_id: &str,
        text: &str,
    ) -> Result<(), TrackerError> {
        let key = IssueKey::parse(&ticket.key)?;
        let key = &key;
        self.repeat(|_| self.comment_once(key, comment_id, text))
            .await
    }

    async fn transition(&self, ticket: &TicketRef, to: TicketState) -> Result<(), TrackerError> {
        let key = IssueKey::parse(&ticket.key)?;
        let current = self.read(&key).await?;
        match issue::move_body(&current, to) {
            Some(changes) => {
                tracing::info!(issue = %key, to = %to, "github issue moved");
                Ok(self.edit(&key, changes).await?)
            }
            None => Ok(()),
        }
    }

    async fn close_not_planned(&self, ticket: &TicketRef) -> Result<(), TrackerError> {
        let key = IssueKey::parse(&ticket.key)?;
        let current = self.read(&key).await?;
        match issue::close_not_planned_body(&current) {
            Some(changes) => {
                tracing::info!(issue = %key, "github issue closed as not planned");
                Ok(self.edit(&key, changes).await?)
            }
            None => Ok(()),
        }
    }

    /// `PATCH` the issue's `assignees` alone (the list replaced; `[]` unassigns). A tracker user
    /// here is a login (an owner's `@login` works too); anything else is refused as the owners
    /// map's mistake, without a call.
    async fn assign(&self, ticket: &TicketRef, assignee: Option<&str>) -> Result<(), TrackerError> {
        let key = IssueKey::parse(&ticket.key)?;
        let logins: Vec<String> = match assignee {
            None => Vec::new(),
            Some(who) => match issue::login(who) {
                Some(login) => vec![login],
                None => {
                    return Err(TrackerError::Misconfigured {
                        setting: "owners".into(),
                        message: format!("{who:?} is not a GitHub login"),
                    });
                }
            },
        };
        tracing::info!(issue = %key, assigned = !logins.is_empty(), "github issue assigned");
        Ok(self
            .edit(&key, serde_json::json!({ "assignees": logins }))
            .await?)
    }

    /// The login `issues` deliveries name as `sender` when scantix made the change.
    async fn own_accounts(&self) -> Result<Vec<String>, TrackerError> {
        Ok(vec![self.http.own_login().await?])
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use scantix_core::secret::Secret;

    fn with(
        repository: Option<&str>,
        max_attempts: u32,
    ) -> Result<GithubIssuesTracker, TrackerError> {
        GithubIssuesTracker::new(
            GithubIssuesSettings {
                repository: repository.map(str::to_owned),
                max_attempts,
            },
            IssuesAuth::Token {
                base_url: "https://ghe.example.com/api/v3".into(),
                token: Secret::new("ghp_very_secret"),
            },
        )
    }

    fn setting_of(r: Result<GithubIssuesTracker, TrackerError>) -> String {
        match r {
            Err(TrackerError::Misconfigured { setting, .. }) => setting,
            other => panic!("{other:?}"),
        }
    }

    #[tokio::test]
    async fn settings_are_checked_up_front_and_the_token_never_shows() {
        let tracker = with(Some("Acme/Security-Tickets"), 3).unwrap();
        assert_eq!(tracker.name(), "github");
        assert_eq!(
            tracker.central.as_ref().unwrap().to_string(),
            "acme/security-tickets"
        );
        assert!(!format!("{tracker:?}").contains("very_secret"));
        assert_eq!(
            setting_of(with(Some("acme"), 3)),
            "github-issues.repository"
        );
        assert_eq!(setting_of(with(None, 0)), "github-issues.max-attempts");
        let bad_url = GithubIssuesTracker::new(
            GithubIssuesSettings::default(),
            IssuesAuth::Token {
                base_url: "ftp://x".into(),
                token: Secret::new("t"),
            },
        );
        assert_eq!(setting_of(bad_url), "github-issues.base-url");
    }

    #[tokio::test]
    async fn keys_that_did_not_come_from_github_reach_no_url() {
        let tracker = with(None, 1).unwrap();
        for bad in [
            "SEC-12",
            "acme/shop#1/../../x",
            "acme/shop#x",
            "../../admin#1",
        ] {
            let ticket = TicketRef {
                tracker: "github".into(),
                key: bad.into(),
                url: None,
            };
            let err = tracker
                .transition(&ticket, TicketState::Resolved)
                .await
                .unwrap_err();
            assert!(matches!(err, TrackerError::Failed(_)), "{bad}: {err}");
        }
    }
}
