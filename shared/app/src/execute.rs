//! `Executor`: applies decisions through the ports, so that repeating any step is harmless and
//! racing events on one group still yield one ticket.
//!
//! The protocol, in two phases:
//! 1. **Commit.** One read (`Store::read_event`: the delivery's dedup record, the finding, its
//!    group, the installation), `decide`, and one atomic write of the new records, the audit
//!    entries and the delivery's dedup record, guarded by the versions read. A lost race re-reads
//!    and re-decides. The tracker calls the group now owes are part of the group record (its
//!    outbox), so they are durable from this moment on; if nobody holds the group's lease, the
//!    same write takes it. Draft tickets need no call at all: their calls are settled in that
//!    write (`drafts::settle_draft_ops`), so an event on a draft group is one read and one write.
//! 2. **Sync.** The lease holder drains the group's outbox. Only the holder calls the tracker, so
//!    ops run once, in order, and `Create` runs once however many events raced to request it.
//!    Events that find the lease taken do not wait: their op is durable, and the holder keeps
//!    draining until the outbox is empty (its release is a guarded write that fails, and so
//!    loops, if anything was queued meanwhile). That also coalesces bursts: a hundred findings
//!    joining while one refresh runs queue one more refresh, not a hundred. Each op is removed
//!    right after it succeeds; a crash in between repeats just that op, which the tracker port
//!    makes harmless (`find_for` before create, comment ids), and a crashed holder's lease
//!    expires for the next event or the sweeper. A create is bracketed in the group record
//!    (`CreateAttempt`: sent, then answered), so that the lookup after a crash knows a ticket may
//!    exist, or which one does, even where the tracker's search lags its writes.
//!
//! # Layout
//! One file per kind of event, each an `impl Executor` block (child modules, so they share the
//! executor's fields): `alert` (phase 1 for alerts), `ticket` (a person's change in the tracker,
//! and the verification that closure needs), `pull_request` (the summary comment),
//! `installation`, `group_turns` (this process's events on one group take turns from decision to
//! commit), `budget` (the ticket budget: ledgers committed with their group, promotions,
//! demotions and the overflow ticket after), `overdue` (the sweeper's SLA pass), `steer` (a person's change from the CLI:
//! drafts pushed or discarded, bulk verbs); `outbox` is phase 2 for every group;
//! `own_accounts` is who scantix writes as (so its echoes are recognised).

mod alert;
pub mod analysis;
mod budget;
mod group_turns;
mod installation;
mod outbox;
mod overdue;
pub mod own_accounts;
mod pull_request;
pub mod steer;
mod ticket;

use crate::repo_settings::SettingsSource;
use chrono::{DateTime, Duration, Utc};
use own_accounts::OwnAccounts;
use scantix_core::config::Config;
use scantix_core::decide::alert::{Inputs, decide, group_key_for};
use scantix_core::decide::drafts::settle_draft_ops;
use scantix_core::decide::installations::apply_installation;
use scantix_core::decide::ticket::{TicketDecision, TicketInputs, Verification, decide_ticket};
use scantix_core::decide::triage::{Verdict, plain};
use scantix_core::decide::{Action, Decision};
use scantix_core::event::InstallationEvent;
use scantix_core::event::{AlertEvent, TicketEvent};
use scantix_core::finding::AlertState;
use scantix_core::identity::{Fingerprint, GroupKey};
use scantix_core::ports::clock::Clock;
use scantix_core::ports::github::{GitHub, GitHubError};
use scantix_core::ports::github_clients::{GitHubClients, OneClient};
use scantix_core::ports::store::{
    Commit, EventKeys, Guarded, List, Members, Store, StoreError, TicketLink, read_all,
};
use scantix_core::ports::tracker::{Tracker, TrackerError};
use scantix_core::records::budget::BudgetLedger;
use scantix_core::records::{
    AuditEntry, CreateAttempt, DRAFT_TRACKER, DeliveryRecord, FindingRecord, GroupRecord,
    InstallationRecord, Lease, OutboxOp, PendingOp, TICKET_CREATED, TicketRef, TicketState, Triage,
    Versioned,
};
use scantix_core::ticket::TicketContent;
use std::collections::BTreeMap;
use std::sync::Arc;

/// Why applying an event failed. Every variant says whether a retry (SQS, Jira) can help.
#[derive(Debug, thiserror::Error)]
pub enum ExecuteError {
    #[error(transparent)]
    Store(#[from] StoreError),
    #[error(transparent)]
    Tracker(#[from] TrackerError),
    #[error(transparent)]
    GitHub(#[from] GitHubError),
    /// Too many concurrent writers on one group; the event is not lost: retry it.
    #[error("gave up after {0} write conflicts on one group; retry")]
    Contention(u32),
    /// Another worker holds the group's lease and did not finish in time. The event's effect is
    /// committed and its tracker calls are queued; a retry (or the sweeper) completes them.
    #[error("group {0} is being synced by another worker; its queued tracker calls are safe")]
    SyncPending(GroupKey),
    /// Another worker holds the pull request's lease and did not finish in time (or took over
    /// from this one): its summary comment is being written; retry.
    #[error("pull request {repository}#{number} is being updated by another worker; retry")]
    PullRequestBusy { repository: String, number: u64 },
}

impl ExecuteError {
    pub fn is_retryable(&self) -> bool {
        match self {
            ExecuteError::Store(e) => e.is_retryable(),
            ExecuteError::Tracker(e) => e.is_retryable(),
            ExecuteError::GitHub(e) => e.is_retryable(),
            ExecuteError::Contention(_)
            | ExecuteError::SyncPending(_)
            | ExecuteError::PullRequestBusy { .. } => true,
        }
    }
}

/// What applying one delivery did.
#[derive(Debug, Clone, PartialEq, serde::Serialize)]
pub struct Outcome {
    pub delivery: String,
    /// The delivery had been applied before: nothing was decided again.
    pub duplicate: bool,
    pub group: Option<GroupKey>,
    pub actions: Vec<Action>,
    /// The group's ticket after the sync, if it has one.
    pub ticket: Option<TicketRef>,
    pub ticket_state: Option<TicketState>,
    /// Why nothing was done, when the delivery was not acted on (a repository no longer covered
    /// by its installation).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub ignored: Option<String>,
    /// The delivery's commit also settled its inbox item done (`apply_verdict_settling`): the
    /// worker has nothing left to record on it. Not part of any answer.
    #[serde(skip)]
    pub inbox_settled: bool,
}

/// The result of phase 1 (`commit_alert`).
#[derive(Debug, Clone, PartialEq)]
pub enum Committed {
    /// Decided and written.
    Applied(Box<Applied>),
    /// Seen before; nothing written. The group it touched, when known, and that group as read
    /// with the delivery when it owes nothing (then there is nothing of the first attempt's to
    /// finish, and no need to read it again).
    Duplicate {
        group: Option<GroupKey>,
        settled: Option<Box<GroupRecord>>,
    },
    /// Not acted on (the repository is no longer covered by its installation), and why.
    Ignored(String),
}

/// A decision as committed: the group as written, and the lease the commit took (its holder
/// drains the outbox: `Executor::sync_committed`).
#[derive(Debug, Clone, PartialEq)]
pub struct Applied {
    pub decision: Decision,
    pub group: Option<Versioned<GroupRecord>>,
    pub lease: Option<String>,
}

/// Knobs of the protocol. The defaults suit Lambda (a function lives at most 15 minutes; a lease
/// outliving its holder only delays the next sync).
#[derive(Debug, Clone)]
pub struct ExecutorSettings {
    /// How long a lease is valid without renewal.
    pub lease: Duration,
    /// How long a caller waits for another lease holder before answering `SyncPending`.
    pub wait_for_lease: std::time::Duration,
    /// How many write conflicts one event tolerates before answering `Contention`.
    pub max_conflicts: u32,
    /// How long delivery ids are remembered (GitHub and Jira redeliver within hours, SQS within
    /// its retention): a week.
    pub dedup_for: Duration,
    /// How long applying an installation event may spend backfilling the repositories it just
    /// covered (see `crate::backfill`) before leaving the rest, saved page by page, to the
    /// sweeper: well inside the worker's time limit (60 s), with room for its other items.
    pub backfill_budget: std::time::Duration,
    /// Without a GitHub connection, whether pull request summaries are still rendered, from what
    /// deliveries told the store: a full scan of the groups per pull request event, so for the
    /// local mode's embedded store only (a deployment without the App does nothing for pull
    /// requests).
    pub pull_requests_from_store: bool,
    /// After the tracker could not say which account is scantix's (see `own_accounts`), how long
    /// before it is asked again: events meanwhile are decided with the configured accounts.
    pub own_accounts_retry: std::time::Duration,
    /// When events joined a group while its ticket was being written (a burst: a first scan, a
    /// backfill), how long the lease holder lets the burst go on before writing the ticket again,
    /// so that one update carries many findings instead of one update each.
    pub coalesce: std::time::Duration,
    /// What happens to events of an installation scantix has no record of.
    pub unknown_installations: UnknownInstallations,
}

/// Events of a GitHub App installation the store has no record of: served (one organisation's
/// deployment, installed before scantix recorded installations) or ignored until its installation
/// event arrives (a deployment serving several organisations: what one has not installed, it has
/// not agreed to). Ignored deliveries are answered and recorded in the inbox with why; the
/// installation event backfills the alerts they were about.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum UnknownInstallations {
    #[default]
    Serve,
    Ignore,
}

impl UnknownInstallations {
    /// `serve` or `ignore` (the deployment's `SCANTIX_UNKNOWN_INSTALLATIONS`).
    pub fn parse(value: &str) -> Option<UnknownInstallations> {
        match value.trim().to_ascii_lowercase().as_str() {
            "serve" => Some(UnknownInstallations::Serve),
            "ignore" => Some(UnknownInstallations::Ignore),
            _ => None,
        }
    }

    /// Why an event is not acted on, when `installation_id` names no recorded installation and
    /// such events are ignored.
    pub fn refusal(self, installation_id: Option<u64>) -> Option<String> {
        match (self, installation_id) {
            (UnknownInstallations::Serve, _) => None,
            (UnknownInstallations::Ignore, Some(id)) => Some(format!(
                "installation {id} is not known to this deployment: recorded, not applied, until \
                 its installation event arrives"
            )),
            (UnknownInstallations::Ignore, None) => Some(
                "the delivery names no installation, and this deployment only serves the \
                 installations it knows"
                    .into(),
            ),
        }
    }
}

impl Default for ExecutorSettings {
    fn default() -> Self {
        ExecutorSettings {
            lease: Duration::seconds(60),
            wait_for_lease: std::time::Duration::from_secs(20),
            max_conflicts: 50,
            dedup_for: Duration::days(7),
            backfill_budget: std::time::Duration::from_secs(20),
            pull_requests_from_store: false,
            own_accounts_retry: std::time::Duration::from_secs(60),
            coalesce: std::time::Duration::from_secs(2),
            unknown_installations: UnknownInstallations::Serve,
        }
    }
}

/// Applies events through a store and a tracker.
pub struct Executor {
    store: Arc<dyn Store>,
    tracker: Arc<dyn Tracker>,
    /// Without it (the local mode), closures are verified against the alert states GitHub last
    /// reported by webhook, and dismissals are not sent.
    github: Option<Arc<dyn GitHubClients>>,
    config: Config,
    clock: Clock,
    settings: ExecutorSettings,
    /// scantix's accounts in `tracker`, learned from it once per process.
    own_accounts: OwnAccounts,
    /// Turns on the groups events are being applied to (see `group_turns`).
    group_turns: group_turns::GroupTurns,
}

impl Executor {
    pub fn new(store: Arc<dyn Store>, tracker: Arc<dyn Tracker>, config: Config) -> Executor {
        Executor {
            store,
            tracker,
            github: None,
            config,
            clock: Arc::new(Utc::now),
            settings: ExecutorSettings::default(),
            own_accounts: OwnAccounts::new(),
            group_turns: group_turns::GroupTurns::default(),
        }
    }

    /// One GitHub client for every installation (a token, or the in-memory twin).
    pub fn with_github(self, github: Arc<dyn GitHub>) -> Executor {
        self.with_github_clients(Arc::new(OneClient(github)))
    }

    /// The GitHub App's clients, one per installation.
    pub fn with_github_clients(mut self, clients: Arc<dyn GitHubClients>) -> Executor {
        self.github = Some(clients);
        self
    }

    pub fn with_clock(mut self, clock: Clock) -> Executor {
        self.clock = clock;
        self
    }

    pub fn with_settings(mut self, settings: ExecutorSettings) -> Executor {
        self.settings = settings;
        self
    }

    /// Now, by the executor's clock (pinned in tests).
    pub fn now(&self) -> DateTime<Utc> {
        (self.clock)()
    }

    /// The configuration events are applied under unless a repository brings its own.
    pub fn config(&self) -> &Config {
        &self.config
    }

    pub fn store(&self) -> &Arc<dyn Store> {
        &self.store
    }

    pub fn tracker(&self) -> &Arc<dyn Tracker> {
        &self.tracker
    }

    /// The GitHub App's clients, when connected to GitHub.
    pub fn github_clients(&self) -> Option<&Arc<dyn GitHubClients>> {
        self.github.as_ref()
    }

    /// The protocol's knobs.
    pub fn settings(&self) -> &ExecutorSettings {
        &self.settings
    }
}

/// Ticket links a decision's commit writes: a draft the decision just gave its group (locally,
/// tracker deliveries name drafts).
fn draft_links(decision: &Decision, before: Option<&Versioned<GroupRecord>>) -> Vec<TicketLink> {
    let Some(group) = &decision.group else {
        return vec![];
    };
    match (&group.ticket, before.and_then(|b| b.value.ticket.as_ref())) {
        (Some(ticket), None) => vec![TicketLink {
            tracker: ticket.tracker.clone(),
            ticket_key: ticket.key.clone(),
            group: group.key.clone(),
        }],
        _ => vec![],
    }
}

/// How many findings one write of a tracker decision changes. DynamoDB's transactions hold 100
/// actions and a finding whose rank moves takes three (its record, the old member entry deleted,
/// the new one put); the rest of the room is the group, its list entries and the delivery (audit
/// entries past the room are appended right after).
const CHUNK_FINDINGS: usize = 25;
/// How often one event's commit is tried again when the store answers it is unavailable.
const UNAVAILABLE_RETRIES: u32 = 4;
/// Page size for list reads.
const PAGE: usize = 200;

/// Exponential backoff with jitter, capped at ~200 ms: conflicts here last milliseconds.
async fn backoff(attempt: u32) {
    let base = 5u64 << attempt.min(5);
    let jitter = u64::from(uuid::Uuid::new_v4().as_bytes()[0]) % base.max(1);
    tokio::time::sleep(std::time::Duration::from_millis(base + jitter)).await;
}

#[cfg(test)]
mod tests;
