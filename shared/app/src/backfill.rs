//! Backfill on install: the repositories an `installation` (created) or `installation_repositories`
//! (added) event just covered get their existing open alerts imported at once, grouped into
//! tickets by the same resumable sync the sweeper runs, instead of at the next scheduled sweep.
//!
//! It runs inside the handling of the event, so a deadline bounds it (the worker is a Lambda with
//! a time limit): it stops between pages with the cursor saved, and before a group's tracker
//! calls, which stay queued in the group's outbox. The next sweep resumes the listing where it
//! stopped and drains those outboxes; no ticket is made twice (the cursor resumes the listing, the
//! sync's delivery ids make a re-read alert a duplicate, and a ticket is looked for before it is
//! created). It never fails the event: what it cannot do now is logged and left to the sweeper.

use crate::execute::Executor;
use crate::repo_settings::SettingsSource;
use crate::sync::{Rules, SyncError, SyncReport, Syncer};
use scantix_core::decide::triage::builtin;
use scantix_core::event::{InstallationChange, InstallationEvent};
use scantix_core::finding::{AlertKind, Finding};
use scantix_core::ports::github::GitHubError;
use scantix_core::ports::github_clients::GitHubClients;
use scantix_core::records::{CoveredRepository, InstallationRecord};
use std::sync::Arc;
use std::time::Instant;

/// What one backfill did.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct BackfillReport {
    /// Repositories synced (completely or not).
    pub repositories: u32,
    /// Totals over them.
    pub sync: SyncReport,
    /// False when something is left for the sweeper: a repository not reached before the
    /// deadline, a listing stopped by it or by a rate limit, tracker calls still queued.
    pub complete: bool,
    /// One line per repository that failed (the sweeper retries it).
    pub failures: Vec<String>,
}

impl Default for BackfillReport {
    fn default() -> Self {
        BackfillReport {
            repositories: 0,
            sync: SyncReport {
                complete: true,
                ..SyncReport::default()
            },
            complete: true,
            failures: Vec::new(),
        }
    }
}

/// The repositories `event` brought under the installation: those of an installation created,
/// or added to one. Removals, suspensions and deletions bring none.
pub fn newly_covered(event: &InstallationEvent) -> Vec<u64> {
    match &event.change {
        InstallationChange::Created(repos) | InstallationChange::RepositoriesAdded(repos) => {
            repos.iter().map(|r| r.id).collect()
        }
        _ => Vec::new(),
    }
}

/// Backfills what `event` just covered (`record` being the installation as it left the event),
/// within the executor's `backfill_budget`. Judged by each repository's settings when `settings`
/// is given (as on the webhook path), by the built-in triage otherwise; read with `settings`'
/// GitHub clients, else the executor's. Without a GitHub connection there is nothing to read.
pub async fn after_installation(
    executor: &Arc<Executor>,
    settings: Option<&SettingsSource>,
    record: &InstallationRecord,
    event: &InstallationEvent,
) -> BackfillReport {
    let repositories = newly_covered(event);
    if repositories.is_empty() {
        return BackfillReport::default();
    }
    let deadline = Instant::now() + executor.settings().backfill_budget;
    backfill(executor, settings, record, &repositories, deadline).await
}

/// Backfills `repository_ids` of installation `record` until `deadline`. Repositories with every
/// kind read completely (a redelivered event, a repository added back) are left to the sweeper's
/// reconciliation; in the others, an interrupted listing resumes from its saved cursor, a kind
/// already read is only reconciled, and a kind GitHub lacked (404) or forbade (403) is asked for
/// again.
pub async fn backfill(
    executor: &Arc<Executor>,
    settings: Option<&SettingsSource>,
    record: &InstallationRecord,
    repository_ids: &[u64],
    deadline: Instant,
) -> BackfillReport {
    let mut report = BackfillReport::default();
    let due: Vec<&CoveredRepository> = repository_ids
        .iter()
        .filter(|id| record.covers(**id))
        .filter_map(|id| record.repositories.get(id))
        .filter(|covered| !read_completely(covered))
        .collect();
    if due.is_empty() {
        return report;
    }
    let clients: Option<Arc<dyn GitHubClients>> = settings
        .map(|source| source.clients.clone())
        .or_else(|| executor.github_clients().cloned());
    let github = match clients.map(|c| c.for_installation(Some(record.id))) {
        Some(Ok(github)) => github,
        Some(Err(e)) => {
            tracing::warn!(installation = record.id, error = %e, "no GitHub client for the backfill; the sweeper will do it");
            report.complete = false;
            report
                .failures
                .push(format!("installation {}: {e}", record.id));
            return report;
        }
        None => {
            tracing::info!(
                installation = record.id,
                "no GitHub connection: nothing to backfill from"
            );
            report.complete = false;
            return report;
        }
    };
    let syncer = Syncer::new(executor.clone(), Arc::new(builtin)).until(deadline);
    for covered in due {
        if Instant::now() >= deadline {
            report.complete = false;
            break;
        }
        let repo = covered.repository();
        let synced = match settings {
            Some(source) => {
                // As on the webhook path: the repository's config, policy and CODEOWNERS, and its
                // configuration problems reported once.
                let repo_settings = source.settings_for(Some(record.id), &repo).await;
                let triage = |finding: &Finding| repo_settings.verdict(finding);
                let rules = Rules {
                    config: &repo_settings.engine,
                    triage: &triage,
                };
                syncer
                    .sync_repository_with(github.as_ref(), record.id, &repo, rules)
                    .await
            }
            None => {
                syncer
                    .sync_repository(github.as_ref(), record.id, &repo, executor.config())
                    .await
            }
        };
        report.repositories += 1;
        match synced {
            Ok(sync) => {
                report.sync.absorb(&sync);
                if !sync.complete {
                    // Out of time or rate limited: the next repository would be too.
                    report.complete = false;
                    break;
                }
            }
            Err(e) => {
                tracing::warn!(repo = %repo.full_name, error = %e, "backfill failed; the sweeper retries it");
                report.complete = false;
                report.failures.push(format!("{}: {e}", repo.full_name));
                // A refused credential refuses every repository alike.
                if matches!(e, SyncError::GitHub(GitHubError::Unauthorized { .. })) {
                    break;
                }
            }
        }
    }
    tracing::info!(
        installation = record.id,
        repositories = report.repositories,
        list_calls = report.sync.list_calls,
        applied = report.sync.applied,
        groups_synced = report.sync.groups_synced,
        complete = report.complete,
        outcome = if report.complete {
            "backfilled"
        } else {
            "backfill_left_to_sweeper"
        },
        "backfill on install"
    );
    report
}

/// Whether every alert kind of the repository has been read completely once.
fn read_completely(covered: &CoveredRepository) -> bool {
    [
        AlertKind::CodeScanning,
        AlertKind::Dependabot,
        AlertKind::SecretScanning,
    ]
    .iter()
    .all(|kind| {
        covered
            .sync
            .get(kind)
            .is_some_and(|p| p.complete_since.is_some())
    })
}
