//! The `GitHub` port: what scantix asks of GitHub's REST API (an alert's current state, dismissing
//! an alert), with `MemoryGitHub` as its in-memory twin. The octocrab adapter sits behind the same
//! trait.

use crate::finding::{AlertKind, AlertState, Repository};
use async_trait::async_trait;
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;
use std::sync::Mutex;

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
    #[error("GitHub refused: {0}")]
    Refused(String),
    #[error("alert not found: {0}")]
    NotFound(String),
}

impl GitHubError {
    pub fn is_retryable(&self) -> bool {
        matches!(self, GitHubError::Retryable(_))
    }
}

/// The GitHub REST port.
#[async_trait]
pub trait GitHub: Send + Sync {
    /// The alert's state as GitHub reports it now.
    async fn alert_state(&self, repo: &Repository, kind: AlertKind, number: u64) -> Result<AlertState, GitHubError>;

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

/// In-memory GitHub: alert states set by the test (or the local run), dismissals recorded.
/// Alerts it was never told about are reported open: the cautious answer for verification.
#[derive(Debug, Default)]
pub struct MemoryGitHub {
    states: Mutex<BTreeMap<(u64, AlertKind, u64), AlertState>>,
    dismissed: Mutex<Vec<Dismissed>>,
}

impl MemoryGitHub {
    pub fn new() -> MemoryGitHub {
        MemoryGitHub::default()
    }

    pub fn set_state(&self, repository: u64, kind: AlertKind, number: u64, state: AlertState) {
        self.lock_states().insert((repository, kind, number), state);
    }

    pub fn dismissed(&self) -> Vec<Dismissed> {
        self.dismissed.lock().unwrap_or_else(|p| p.into_inner()).clone()
    }

    fn lock_states(&self) -> std::sync::MutexGuard<'_, BTreeMap<(u64, AlertKind, u64), AlertState>> {
        self.states.lock().unwrap_or_else(|p| p.into_inner())
    }
}

#[async_trait]
impl GitHub for MemoryGitHub {
    async fn alert_state(&self, repo: &Repository, kind: AlertKind, number: u64) -> Result<AlertState, GitHubError> {
        Ok(self.lock_states().get(&(repo.id, kind, number)).copied().unwrap_or(AlertState::Open))
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
        if self.lock_states().get(&key).is_some_and(|s| *s != AlertState::Open) {
            return Ok(());
        }
        self.lock_states().insert(key, AlertState::Dismissed);
        self.dismissed.lock().unwrap_or_else(|p| p.into_inner()).push(Dismissed {
            repository: repo.id,
            kind,
            number,
            reason: reason.spelling(kind),
            comment: comment.to_owned(),
        });
        Ok(())
    }
}
