//! Reading alerts from GitHub's REST API into the same engine webhooks feed: the **backfill** of a
//! newly covered repository (its existing open alerts become grouped tickets, not one each) and
//! the sweeper's **reconciliation** (GitHub never retries a failed delivery, so alerts updated
//! since the last complete read are listed and any change the store missed is applied).
//!
//! Cost follows what changed: a reconciliation lists only alerts updated since the last complete
//! read, newest first, and stops at the first older one; an alert whose stored state already
//! matches is skipped without a write. Progress (the next-page cursor) is saved after every page,
//! so an interrupted run (a rate limit, a deadline such as a Lambda's time limit) resumes where it
//! stopped. Tracker calls are made once per touched group at the end, not once per alert.
//!
//! What GitHub's refusals mean here: a 403 or 404 on one kind's listing is that kind not enabled
//! on the repository (or not readable with this credential): the kind is skipped, with a log line.
//! A 401 is the credential itself refused: the sync fails, naming it, since every call would.

use crate::execute::{Committed, ExecuteError, Executor};
use scantix_core::config::Config;
use scantix_core::decide::triage::Verdict;
use scantix_core::event::{AlertChange, AlertEvent};
use scantix_core::finding::{AlertKind, AlertState, Finding, Repository};
use scantix_core::identity::{Fingerprint, GroupKey};
use scantix_core::ports::github::{AlertQuery, AlertStateFilter, GitHub, GitHubError};
use scantix_core::ports::store::{Guarded, StoreError};
use scantix_core::records::{InstallationRecord, SyncProgress};
use std::collections::BTreeSet;
use std::sync::Arc;
use std::time::Instant;

/// What one sync of one repository did.
#[derive(Debug, Clone, Default, PartialEq, Eq, serde::Serialize)]
pub struct SyncReport {
    pub list_calls: u32,
    pub alerts_seen: u32,
    /// Alerts whose change was applied through the engine.
    pub applied: u32,
    /// Alerts already known in the state GitHub reports.
    pub unchanged: u32,
    pub groups_synced: u32,
    /// Alert kinds GitHub answered 403 or 404 for (not enabled on the repository, or not readable
    /// with this credential): skipped, each with a log line.
    pub kinds_skipped: u32,
    /// False when the run stopped early (a rate limit, the deadline): the next run resumes from
    /// the saved cursor, and tracker calls not made yet stay queued for the sweeper.
    pub complete: bool,
}

impl SyncReport {
    /// Adds `other`'s counts to these (a run over several repositories); complete if both are.
    pub fn absorb(&mut self, other: &SyncReport) {
        self.list_calls += other.list_calls;
        self.alerts_seen += other.alerts_seen;
        self.applied += other.applied;
        self.unchanged += other.unchanged;
        self.groups_synced += other.groups_synced;
        self.kinds_skipped += other.kinds_skipped;
        self.complete = self.complete && other.complete;
    }
}

/// Why a sync stopped.
#[derive(Debug, thiserror::Error)]
pub enum SyncError {
    #[error(transparent)]
    GitHub(#[from] GitHubError),
    #[error(transparent)]
    Execute(#[from] ExecuteError),
    #[error(transparent)]
    Store(#[from] StoreError),
    #[error("installation {0} is not recorded")]
    UnknownInstallation(u64),
}

/// The triage applied to listed alerts (the same as for webhooks).
pub type TriageFn = Arc<dyn Fn(&Finding) -> Verdict + Send + Sync>;

/// The settings listed alerts are judged by.
#[derive(Clone, Copy)]
pub struct Rules<'a> {
    pub config: &'a Config,
    pub triage: &'a (dyn Fn(&Finding) -> Verdict + Send + Sync),
}

/// Syncs repositories through an executor.
pub struct Syncer {
    executor: Arc<Executor>,
    triage: TriageFn,
    /// When to stop (between pages, and before each group's tracker calls); never, if `None`.
    deadline: Option<Instant>,
}

/// How far one kind's listing got.
enum Listed {
    /// To its last page.
    Finished,
    /// Stopped between pages by the deadline; its cursor is saved.
    OutOfTime,
}

/// The event that brings the store from `stored` to what GitHub reports, if any.
fn change_between(stored: Option<AlertState>, reported: AlertState) -> Option<AlertChange> {
    match (stored, reported) {
        (Some(s), r) if s == r => None,
        (None, AlertState::Open) => Some(AlertChange::Opened),
        (Some(_), AlertState::Open) => Some(AlertChange::Reappeared),
        (_, AlertState::Fixed) => Some(AlertChange::Fixed),
        (_, AlertState::Dismissed) => Some(AlertChange::Dismissed),
    }
}

impl Syncer {
    pub fn new(executor: Arc<Executor>, triage: TriageFn) -> Syncer {
        Syncer {
            executor,
            triage,
            deadline: None,
        }
    }

    /// Stops at `deadline`: between two pages (the cursor saved, so the next run resumes there)
    /// and before a group's tracker calls (left queued in its outbox for the sweeper). How a
    /// caller with a time limit of its own (a Lambda) keeps inside it.
    pub fn until(mut self, deadline: Instant) -> Syncer {
        self.deadline = Some(deadline);
        self
    }

    fn out_of_time(&self) -> bool {
        self.deadline.is_some_and(|d| Instant::now() >= d)
    }

    /// Syncs every alert kind of `repo` (covered by `installation`) from where the last run left
    /// off. A repository never read completely is backfilled (its open alerts); otherwise alerts
    /// updated since the last complete read are reconciled.
    pub async fn sync_repository(
        &self,
        github: &dyn GitHub,
        installation: u64,
        repo: &Repository,
        config: &Config,
    ) -> Result<SyncReport, SyncError> {
        let rules = Rules {
            config,
            triage: &*self.triage,
        };
        self.sync_repository_with(github, installation, repo, rules)
            .await
    }

    /// `sync_repository` under the repository's own settings (its config and triage policy), so
    /// that listed alerts are judged exactly as their webhooks would be.
    pub async fn sync_repository_with(
        &self,
        github: &dyn GitHub,
        installation: u64,
        repo: &Repository,
        rules: Rules<'_>,
    ) -> Result<SyncReport, SyncError> {
        let mut report = SyncReport {
            complete: true,
            ..SyncReport::default()
        };
        let mut touched: BTreeSet<GroupKey> = BTreeSet::new();
        for kind in [
            AlertKind::CodeScanning,
            AlertKind::Dependabot,
            AlertKind::SecretScanning,
        ] {
            let outcome = self
                .sync_kind(
                    github,
                    installation,
                    repo,
                    kind,
                    rules,
                    &mut report,
                    &mut touched,
                )
                .await;
            match outcome {
                Ok(Listed::Finished) => {}
                Ok(Listed::OutOfTime) => {
                    report.complete = false;
                    break;
                }
                Err(SyncError::GitHub(GitHubError::RateLimited { .. })) => {
                    // Progress is saved page by page: stop here, the next run resumes.
                    report.complete = false;
                    break;
                }
                // A repository without that feature enabled (or a credential without access to
                // it) answers 403/404: nothing to read of this kind, the others still are.
                Err(SyncError::GitHub(
                    GitHubError::NotFound(why) | GitHubError::Forbidden(why),
                )) => {
                    tracing::info!(
                        repo = %repo.full_name, %kind, reason = %why,
                        outcome = "kind_skipped",
                        "alert kind skipped: not enabled on the repository, or not readable"
                    );
                    report.kinds_skipped += 1;
                    continue;
                }
                // Anything else, a refused credential (401) first of all, fails the sync: every
                // kind and repository would fail the same way, and skipping would hide it.
                Err(e) => return Err(e),
            }
        }
        for key in &touched {
            if self.out_of_time() {
                // Their ops are durable in their outboxes: the sweeper drains them.
                report.complete = false;
                break;
            }
            self.executor.sync_group(key).await?;
            report.groups_synced += 1;
        }
        Ok(report)
    }

    #[allow(clippy::too_many_arguments)]
    async fn sync_kind(
        &self,
        github: &dyn GitHub,
        installation: u64,
        repo: &Repository,
        kind: AlertKind,
        rules: Rules<'_>,
        report: &mut SyncReport,
        touched: &mut BTreeSet<GroupKey>,
    ) -> Result<Listed, SyncError> {
        let store = self.executor.store();
        let record = store
            .get_installation(installation)
            .await?
            .ok_or(SyncError::UnknownInstallation(installation))?;
        let progress = progress_of(&record.value, repo.id, kind);
        // A backfill imports what is open now; a reconciliation reads every state, since a fix or
        // dismissal is exactly what a lost delivery would have told.
        let query = match progress.complete_since {
            None => AlertQuery {
                state: Some(AlertStateFilter::Open),
                ..AlertQuery::default()
            },
            Some(since) => AlertQuery {
                since: Some(since),
                ..AlertQuery::default()
            },
        };
        // GitHub's `updated_at` has whole seconds: a watermark with a fraction would skip an alert
        // changed earlier in the same second.
        let started_at = progress
            .started_at
            .unwrap_or_else(|| whole_second(self.executor.now()));
        let mut cursor = progress.cursor.clone();
        loop {
            if self.out_of_time() {
                return Ok(Listed::OutOfTime);
            }
            let page = github
                .list_alerts(repo, kind, &query.at(cursor.clone()))
                .await?;
            report.list_calls += 1;
            for finding in page.findings {
                report.alerts_seen += 1;
                match self.apply_listed(finding, installation, rules).await? {
                    Some(key) => {
                        report.applied += 1;
                        touched.insert(key);
                    }
                    None => report.unchanged += 1,
                }
            }
            cursor = page.next;
            let next = match &cursor {
                Some(_) => SyncProgress {
                    cursor: cursor.clone(),
                    started_at: Some(started_at),
                    complete_since: progress.complete_since,
                },
                None => SyncProgress {
                    cursor: None,
                    started_at: None,
                    complete_since: Some(started_at),
                },
            };
            self.save_progress(installation, repo.id, kind, next)
                .await?;
            if cursor.is_none() {
                return Ok(Listed::Finished);
            }
        }
    }

    /// Applies one listed alert if the store does not already know it in that state; returns the
    /// group it touched.
    async fn apply_listed(
        &self,
        finding: Finding,
        installation: u64,
        rules: Rules<'_>,
    ) -> Result<Option<GroupKey>, SyncError> {
        let fingerprint = Fingerprint::of(&finding);
        let stored = self.executor.store().get_finding(&fingerprint).await?;
        // scantix still owes GitHub this alert's dismissal (closed as "won't fix" in the tracker,
        // the call queued in its group's outbox: GitHub was down, or the worker died before
        // making it). GitHub listing it open is GitHub not having heard yet, not a person
        // reopening it: read as reopened, it would undo the closure and drop the dismissal.
        if finding.state == AlertState::Open
            && stored
                .as_ref()
                .is_some_and(|s| s.value.pending_dismissal.is_some())
        {
            return Ok(None);
        }
        let Some(change) = change_between(
            stored.as_ref().map(|s| s.value.finding.state),
            finding.state,
        ) else {
            return Ok(None);
        };
        // The delivery id names the state reached, so a resumed run does not apply it twice.
        let when = finding
            .updated_at
            .map(|t| t.timestamp())
            .unwrap_or_default();
        let delivery = format!("sync:{fingerprint}:{}:{when}", finding.state.as_str());
        let verdict = (rules.triage)(&finding);
        let event = AlertEvent {
            change,
            action: "sync".into(),
            finding,
            actor: Some("scantix-sync".into()),
            installation_id: Some(installation),
        };
        Ok(
            match self
                .executor
                .commit_alert(&delivery, &event, &verdict, rules.config)
                .await?
            {
                Committed::Applied(applied) => Some(applied.decision.group_key),
                Committed::Duplicate { group, .. } => group,
                Committed::Ignored(_) => None,
            },
        )
    }

    async fn save_progress(
        &self,
        installation: u64,
        repo: u64,
        kind: AlertKind,
        progress: SyncProgress,
    ) -> Result<(), SyncError> {
        let store = self.executor.store();
        loop {
            let current = store
                .get_installation(installation)
                .await?
                .ok_or(SyncError::UnknownInstallation(installation))?;
            let mut record = current.value.clone();
            if let Some(entry) = record.repositories.get_mut(&repo) {
                entry.sync.insert(kind, progress.clone());
            }
            match store
                .put_installation(Guarded::replacing(record, Some(&current)))
                .await
            {
                Ok(_) => return Ok(()),
                // An installation event landed in between: re-read and write this kind's progress again.
                Err(StoreError::Conflict) => continue,
                Err(e) => return Err(e.into()),
            }
        }
    }
}

fn whole_second(t: chrono::DateTime<chrono::Utc>) -> chrono::DateTime<chrono::Utc> {
    chrono::DateTime::from_timestamp(t.timestamp(), 0).unwrap_or(t)
}

fn progress_of(record: &InstallationRecord, repo: u64, kind: AlertKind) -> SyncProgress {
    record
        .repositories
        .get(&repo)
        .and_then(|r| r.sync.get(&kind))
        .cloned()
        .unwrap_or_default()
}

#[cfg(test)]
mod tests;
