//! Events as the decision engine sees them, whatever webhook or API listing they came from.

use crate::finding::Finding;
use serde::{Deserialize, Serialize};

/// What happened to an alert, reduced to what the lifecycle cares about.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum AlertChange {
    /// A new alert.
    Opened,
    /// A closed alert came back: reopened (by GitHub or a user), reintroduced, or appeared on a
    /// branch again.
    Reappeared,
    /// The code or dependency no longer has the problem (or a leaked secret was revoked).
    Fixed,
    /// A person (or an auto-dismiss rule) closed it without a fix.
    Dismissed,
    /// Something worth noting changed but the alert stays open (assignment, validity, a public
    /// leak of a secret).
    Updated,
}

/// One alert event, normalised.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct AlertEvent {
    pub change: AlertChange,
    /// GitHub's own action word (`closed_by_user`, `reintroduced`, …), for the audit log.
    pub action: String,
    pub finding: Finding,
    /// Who caused it (the webhook's `sender`), when known.
    pub actor: Option<String>,
    pub installation_id: Option<u64>,
}

/// A tracker's status category: the one thing about a status every workflow agrees on.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum StatusCategory {
    /// To do (Jira's `new`).
    New,
    /// In progress (Jira's `indeterminate`).
    InProgress,
    /// Done (Jira's `done`), whatever the status is called.
    Done,
}

/// What happened to a ticket in its tracker.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case", tag = "type")]
pub enum TicketChange {
    /// The ticket was edited. `status` is where it stands now (sent with every update, so a missed
    /// delivery is caught up by the next one); `resolution` is set when it is done.
    Updated {
        status: StatusCategory,
        status_name: String,
        resolution: Option<String>,
        /// `Some(None)`: unassigned; `None`: the assignee did not change.
        assignee_changed: Option<Option<String>>,
    },
    /// The ticket was deleted in the tracker.
    Deleted,
    /// Someone commented.
    Commented { author: String, excerpt: String },
}

/// One tracker event, normalised.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct TicketEvent {
    /// Which tracker (`jira`, `github`).
    pub tracker: String,
    /// The tracker's key for the ticket (`SEC-12`).
    pub ticket_key: String,
    pub change: TicketChange,
    /// Who did it: a display name for people to read.
    pub actor: Option<String>,
    /// Who did it, as the tracker identifies users (Jira accountId or user name): how scantix
    /// recognises echoes of its own writes.
    pub actor_id: Option<String>,
}

/// What happened to a pull request, reduced to what its code scanning summary cares about.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum PullRequestChange {
    Opened,
    Reopened,
    /// New commits were pushed to its head branch.
    Synchronized,
    /// Closed without merging.
    Closed,
    Merged,
}

/// One pull request event, normalised.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PullRequestEvent {
    pub change: PullRequestChange,
    /// GitHub's own action word (`synchronize`, `closed`, …), for the audit log.
    pub action: String,
    pub repository: crate::finding::Repository,
    pub number: u64,
    /// As its author wrote it: attacker-controlled, rendered inert wherever it is shown.
    pub title: String,
    pub html_url: Option<String>,
    /// The head commit after the event.
    pub head_sha: Option<String>,
    /// The branch it merges into, when that is not the repository's default branch (`None`: the
    /// default branch, or not told).
    pub base_ref: Option<String>,
    /// Who caused it (the webhook's `sender`), when known.
    pub actor: Option<String>,
    pub installation_id: Option<u64>,
}

/// A repository as installation events name it.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
pub struct NamedRepository {
    pub id: u64,
    pub full_name: String,
}

/// What changed about an installation.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum InstallationChange {
    /// Installed on an account, covering these repositories.
    Created(Vec<NamedRepository>),
    /// Uninstalled: no more work for it; its history stays.
    Deleted,
    Suspended,
    Unsuspended,
    RepositoriesAdded(Vec<NamedRepository>),
    RepositoriesRemoved(Vec<NamedRepository>),
}

/// One installation event.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct InstallationEvent {
    pub installation_id: u64,
    pub account: String,
    pub change: InstallationChange,
}
