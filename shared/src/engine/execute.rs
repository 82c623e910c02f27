//! `Executor`: applies decisions through the ports, so that repeating any step is harmless and
//! racing events on one group still yield one ticket.
//!
//! The protocol, in two phases:
//! 1. **Commit.** Read the finding and its group, `decide`, and write the new records, the audit
//!    entries and the delivery's dedup record in one atomic commit guarded by the versions read.
//!    A lost race re-reads and re-decides. The tracker calls the group now owes are part of the
//!    group record (its outbox), so they are durable from this moment on.
//! 2. **Sync.** Drain the group's outbox. Only the holder of the group's lease calls the tracker,
//!    so ops run once, in order, and `Create` runs once however many events raced to request it.
//!    Each op is removed from the outbox right after it succeeds; a crash in between repeats just
//!    that op, which the tracker port makes harmless (a lookup before create, comment ids). A
//!    create is bracketed in the group record (`CreateAttempt`: sent, then answered), so that the
//!    lookup after a crash knows a ticket may exist, or which one does, even where the tracker's
//!    search lags its writes. A caller that finds the lease taken waits for the holder to finish,
//!    so when `apply_*` returns Ok the group's ticket reflects the event.

use super::decide::{Action, Decision, Inputs, decide, group_key_for};
use super::decide_ticket::{TicketDecision, TicketInputs, Verification, decide_ticket};
use super::installations::apply_installation;
use super::own_accounts::OwnAccounts;
use super::triage::{Verdict, plain};
use crate::config::Config;
use crate::event::{AlertEvent, TicketEvent};
use crate::github::api::{GitHub, GitHubError};
use crate::github::clients::{GitHubClients, OneClient};
use crate::github::installation_webhook::InstallationEvent;
use crate::identity::{Fingerprint, GroupKey};
use crate::repo_settings::SettingsSource;
use crate::state::{
    AuditEntry, CreateAttempt, DeliveryRecord, GroupRecord, InstallationRecord, Lease, OutboxOp,
    PendingOp, TicketRef, TicketState, Triage, Versioned,
};
use crate::store::{Commit, Guarded, Store, StoreError};
use crate::ticket::anatomy::ticket_content;
use crate::tracker::{Tracker, TrackerError};
use chrono::{DateTime, Duration, Utc};
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
}

/// The result of phase 1 (`commit_alert`).
#[derive(Debug, Clone, PartialEq)]
pub enum Committed {
    /// Decided and written.
    Applied(Box<Decision>),
    /// Seen before; nothing written. The group it touched, when known.
    Duplicate(Option<GroupKey>),
}

/// A source of "now"; tests pin it.
pub type Clock = Arc<dyn Fn() -> DateTime<Utc> + Send + Sync>;

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

    /// Applies one alert event, delivered as `delivery` (`github:<X-GitHub-Delivery>`), with a bare
    /// triage (no reason, no overrides) under the executor's configuration.
    pub async fn apply_alert(
        &self,
        delivery: &str,
        event: &AlertEvent,
        triage: Triage,
    ) -> Result<Outcome, ExecuteError> {
        let verdict = plain(triage, format!("{triage:?}").to_lowercase());
        self.apply_verdict(delivery, event, &verdict, &self.config)
            .await
    }

    /// Applies one alert event as triage judged it (`verdict`), under `config` (the repository's
    /// own configuration).
    pub async fn apply_verdict(
        &self,
        delivery: &str,
        event: &AlertEvent,
        verdict: &Verdict,
        config: &Config,
    ) -> Result<Outcome, ExecuteError> {
        let (group, mut actions, duplicate) =
            match self.commit_alert(delivery, event, verdict, config).await? {
                Committed::Applied(decision) => (Some(decision.group_key), decision.actions, false),
                Committed::Duplicate(group) => (group, vec![], true),
            };
        let synced = match &group {
            Some(key) => self.sync_group(key).await?,
            None => None,
        };
        // An alert seen only on a pull request changes what the pull request's summary says
        // (also on a redelivery: the first attempt may have failed to post it).
        actions.extend(self.refresh_pull_request_of(event).await?);
        Ok(Outcome {
            delivery: delivery.into(),
            duplicate,
            group,
            actions,
            ticket: synced.as_ref().and_then(|g| g.ticket.clone()),
            ticket_state: synced.as_ref().map(|g| g.ticket_state),
        })
    }

    /// Phase 1 only: decides and commits an alert event, leaving the tracker calls it queued in
    /// the group's outbox for `sync_group`. A backfill commits many events this way and then syncs
    /// each touched group once.
    pub async fn commit_alert(
        &self,
        delivery: &str,
        event: &AlertEvent,
        verdict: &Verdict,
        config: &Config,
    ) -> Result<Committed, ExecuteError> {
        if let Some(seen) = self.store.get_delivery(delivery).await? {
            return Ok(Committed::Duplicate(seen.group_key));
        }
        let fingerprint = Fingerprint::of(&event.finding);
        let mut conflicts = 0;
        loop {
            let now = (self.clock)();
            let finding = self.store.get_finding(&fingerprint).await?;
            let key = group_key_for(
                event,
                finding.as_ref().map(|f| &f.value),
                config,
                verdict.group_by,
            );
            let group = self.store.get_group(&key).await?;
            let decision = decide(Inputs {
                event,
                finding: finding.as_ref().map(|f| &f.value),
                group: group.as_ref().map(|g| &g.value),
                verdict,
                config,
                now,
                delivery: Some(delivery),
            });
            let commit = self.commit_for(
                delivery,
                &decision,
                finding.map(|f| f.version),
                group.map(|g| g.version),
                now,
            );
            match self.store.commit(commit).await {
                Ok(()) => return Ok(Committed::Applied(Box::new(decision))),
                Err(StoreError::Conflict) => {
                    conflicts += 1;
                    if conflicts >= self.settings.max_conflicts {
                        return Err(ExecuteError::Contention(conflicts));
                    }
                    backoff(conflicts).await;
                }
                // A concurrent copy of this delivery won the commit.
                Err(StoreError::DuplicateDelivery(_)) => {
                    return Ok(Committed::Duplicate(Some(key)));
                }
                Err(e) => return Err(e.into()),
            }
        }
    }

    /// Applies one tracker event (a ticket moved, deleted, commented), delivered as `delivery`
    /// (`jira:<X-Atlassian-Webhook-Identifier>`), under the executor's configuration. Events about
    /// tickets scantix does not track are recorded as seen and otherwise ignored.
    pub async fn apply_ticket(
        &self,
        delivery: &str,
        event: &TicketEvent,
    ) -> Result<Outcome, ExecuteError> {
        self.apply_ticket_with(delivery, event, None).await
    }

    /// [`Executor::apply_ticket`], deciding under the settings of the ticket's repository as
    /// `settings` reads them (its `.github/scantix.yml`: `verify-closure`, `resolutions`,
    /// `recreate-deleted-tickets`, …), the same settings its alerts are judged by; `None` (no
    /// GitHub connection) decides under the executor's configuration.
    pub async fn apply_ticket_with(
        &self,
        delivery: &str,
        event: &TicketEvent,
        settings: Option<&SettingsSource>,
    ) -> Result<Outcome, ExecuteError> {
        if let Some(seen) = self.store.get_delivery(delivery).await? {
            return self.duplicate(delivery, seen.group_key).await;
        }
        let mut key = self
            .store
            .group_for_ticket(&event.tracker, &event.ticket_key)
            .await?;
        if key.is_none() && event.tracker != self.tracker.name() {
            // The ticket may be this executor's own under another tracker's name: locally, the
            // draft tracker stands in for Jira, and Jira deliveries name draft tickets.
            key = self
                .store
                .group_for_ticket(self.tracker.name(), &event.ticket_key)
                .await?;
        }
        let Some(key) = key else {
            let now = (self.clock)();
            let record = DeliveryRecord {
                id: delivery.into(),
                group_key: None,
                received_at: now,
                expires_at: now + self.settings.dedup_for,
            };
            return match self
                .store
                .commit(Commit {
                    delivery: Some(record),
                    ..Commit::default()
                })
                .await
            {
                Ok(()) | Err(StoreError::DuplicateDelivery(_)) => Ok(Outcome {
                    delivery: delivery.into(),
                    duplicate: false,
                    group: None,
                    actions: vec![Action::Ignored {
                        reason: format!("{} is not a scantix ticket", event.ticket_key),
                    }],
                    ticket: None,
                    ticket_state: None,
                }),
                Err(e) => Err(e.into()),
            };
        };
        let mut conflicts = 0;
        let mut verification: Option<Verification> = None;
        // Read once, with the group: its repository does not change between attempts.
        let mut config: Option<Config> = None;
        let decision = loop {
            let now = (self.clock)();
            let group = self
                .store
                .get_group(&key)
                .await?
                .ok_or(StoreError::Corrupt(format!(
                    "ticket {} links to missing group {key}",
                    event.ticket_key
                )))?;
            let config: &Config = match &mut config {
                Some(config) => config,
                unread => unread.insert(self.ticket_config(&group.value, settings, event).await),
            };
            let inputs = TicketInputs {
                event,
                group: &group.value,
                verification: verification.as_ref(),
                config,
                now,
                delivery: Some(delivery),
            };
            let decision = match decide_ticket(inputs) {
                TicketDecision::Decided(decision) => *decision,
                TicketDecision::NeedsVerification(fingerprints) => {
                    verification = Some(self.verify(&group.value, &fingerprints).await?);
                    continue;
                }
            };
            let commit = self.commit_for(delivery, &decision, None, Some(group.version), now);
            match self.store.commit(commit).await {
                Ok(()) => break decision,
                Err(StoreError::Conflict) => {
                    conflicts += 1;
                    if conflicts >= self.settings.max_conflicts {
                        return Err(ExecuteError::Contention(conflicts));
                    }
                    backoff(conflicts).await;
                }
                Err(StoreError::DuplicateDelivery(_)) => {
                    return self.duplicate(delivery, Some(key)).await;
                }
                Err(e) => return Err(e.into()),
            }
        };
        let synced = self.sync_group(&decision.group_key).await?;
        Ok(Outcome {
            delivery: delivery.into(),
            duplicate: false,
            group: Some(decision.group_key),
            actions: decision.actions,
            ticket: synced.as_ref().and_then(|g| g.ticket.clone()),
            ticket_state: synced.as_ref().map(|g| g.ticket_state),
        })
    }

    /// The configuration a tracker event on `group` is decided under: its repository's settings
    /// when `settings` can read them (defaults where GitHub cannot be read, as for its alerts),
    /// else the executor's. Which tracker accounts are scantix's own is the deployment's to say,
    /// whichever applies: a repository's file cannot make a person's changes count as echoes.
    async fn ticket_config(
        &self,
        group: &GroupRecord,
        settings: Option<&SettingsSource>,
        event: &TicketEvent,
    ) -> Config {
        let mut config = match settings {
            Some(source) => {
                let repo = source
                    .settings_for(group.installation_id, &group.repository)
                    .await;
                repo.engine.clone()
            }
            None => self.config.clone(),
        };
        config.service_accounts = self.service_accounts(event).await;
        config
    }

    /// The tracker accounts whose changes are scantix's own: those configured, and the one its
    /// tracker credential is (asked of the tracker once per process). Asked only for an event
    /// that names its actor: only such an event can be recognised as an echo.
    async fn service_accounts(&self, event: &TicketEvent) -> Vec<String> {
        let mut accounts = self.config.service_accounts.clone();
        if event.actor_id.is_none() {
            return accounts;
        }
        let retry = self.settings.own_accounts_retry;
        if let Some(own) = self.own_accounts.get(self.tracker.as_ref(), retry).await {
            for account in own {
                if !accounts.contains(account) {
                    accounts.push(account.clone());
                }
            }
        }
        accounts
    }

    /// Applies an installation event: which repositories the App covers. Idempotent (the record
    /// after an event does not depend on how often it was applied), audited under
    /// `installation/<id>`.
    pub async fn apply_installation(
        &self,
        delivery: &str,
        event: &InstallationEvent,
        actor: Option<&str>,
    ) -> Result<InstallationRecord, ExecuteError> {
        let mut conflicts = 0;
        let record = loop {
            let now = (self.clock)();
            let stored = self.store.get_installation(event.installation_id).await?;
            let next = apply_installation(stored.as_ref().map(|s| &s.value), event, now);
            let guarded = Guarded {
                value: next.clone(),
                expected_version: stored.map(|s| s.version),
            };
            match self.store.put_installation(guarded).await {
                Ok(_) => break next,
                Err(StoreError::Conflict) if conflicts < self.settings.max_conflicts => {
                    conflicts += 1;
                    backoff(conflicts).await;
                }
                Err(e) => return Err(e.into()),
            }
        };
        let now = (self.clock)();
        let entry = AuditEntry {
            at: now,
            group_key: GroupKey::from_stored(format!("installation/{}", event.installation_id)),
            fingerprint: None,
            actor: actor.unwrap_or("github").to_owned(),
            action: "installation.changed".into(),
            reason: format!("{:?} on {}", event.change, event.account),
            delivery: Some(delivery.to_owned()),
            ticket: None,
        };
        let delivery = DeliveryRecord {
            id: delivery.into(),
            group_key: None,
            received_at: now,
            expires_at: now + self.settings.dedup_for,
        };
        match self
            .store
            .commit(Commit {
                delivery: Some(delivery),
                audit: vec![entry],
                ..Commit::default()
            })
            .await
        {
            Ok(()) | Err(StoreError::DuplicateDelivery(_)) => Ok(record),
            Err(e) => Err(e.into()),
        }
    }

    /// Flags every ticket past its due date (once each) and syncs those groups; returns how many
    /// were flagged. A full scan of groups: the sweeper's job, not the event path's.
    pub async fn flag_overdue(&self, now: DateTime<Utc>) -> Result<u32, ExecuteError> {
        let mut flagged = 0;
        for stored in self.store.list_groups().await? {
            let Some((group, entry)) = super::decide::decide_overdue(&stored.value, now) else {
                continue;
            };
            let key = group.key.clone();
            let commit = Commit {
                group: Some(Guarded {
                    value: group,
                    expected_version: Some(stored.version),
                }),
                audit: vec![entry],
                ..Commit::default()
            };
            match self.store.commit(commit).await {
                Ok(()) => {
                    flagged += 1;
                    self.sync_group(&key).await?;
                }
                // An event changed the group meanwhile; the next sweep looks again.
                Err(StoreError::Conflict) => {}
                Err(e) => return Err(e.into()),
            }
        }
        Ok(flagged)
    }

    /// Asks GitHub for the current state of `fingerprints` (members of `group`).
    async fn verify(
        &self,
        group: &GroupRecord,
        fingerprints: &[Fingerprint],
    ) -> Result<Verification, ExecuteError> {
        let mut states = Verification::new();
        for fp in fingerprints {
            let Some(member) = group.members.get(fp) else {
                continue;
            };
            let state = match &self.github {
                Some(clients) => {
                    let github = clients.for_installation(group.installation_id)?;
                    github
                        .alert_state(&group.repository, group.kind, member.number)
                        .await?
                }
                None => member.state,
            };
            states.insert(fp.clone(), state);
        }
        Ok(states)
    }

    fn commit_for(
        &self,
        delivery: &str,
        decision: &Decision,
        finding_version: Option<u64>,
        group_version: Option<u64>,
        now: DateTime<Utc>,
    ) -> Commit {
        Commit {
            delivery: Some(DeliveryRecord {
                id: delivery.into(),
                group_key: Some(decision.group_key.clone()),
                received_at: now,
                expires_at: now + self.settings.dedup_for,
            }),
            finding: decision.finding.clone().map(|value| Guarded {
                value,
                expected_version: finding_version,
            }),
            group: decision.group.clone().map(|value| Guarded {
                value,
                expected_version: group_version,
            }),
            audit: decision.audit.clone(),
        }
    }

    /// A delivery seen before: decide nothing, but finish any tracker calls its first attempt may
    /// have left queued (it may have crashed after committing).
    async fn duplicate(
        &self,
        delivery: &str,
        group: Option<GroupKey>,
    ) -> Result<Outcome, ExecuteError> {
        let synced = match &group {
            Some(key) => self.sync_group(key).await?,
            None => None,
        };
        Ok(Outcome {
            delivery: delivery.into(),
            duplicate: true,
            group,
            actions: vec![],
            ticket: synced.as_ref().and_then(|g| g.ticket.clone()),
            ticket_state: synced.as_ref().map(|g| g.ticket_state),
        })
    }

    /// Drains `key`'s outbox through the tracker; returns the group as left. Safe to call any time
    /// (the sweeper calls it for groups with queued ops).
    pub async fn sync_group(&self, key: &GroupKey) -> Result<Option<GroupRecord>, ExecuteError> {
        let token = uuid::Uuid::new_v4().to_string();
        let started = std::time::Instant::now();
        let mut waits = 0;
        loop {
            let Some(current) = self.store.get_group(key).await? else {
                return Ok(None);
            };
            if current.value.outbox.is_empty() {
                return Ok(Some(current.value));
            }
            let now = (self.clock)();
            if current
                .value
                .lease
                .as_ref()
                .is_some_and(|l| l.token != token && l.until > now)
            {
                if started.elapsed() >= self.settings.wait_for_lease {
                    return Err(ExecuteError::SyncPending(key.clone()));
                }
                waits += 1;
                backoff(waits.min(6)).await;
                continue;
            }
            let mut leased = current.value.clone();
            leased.lease = Some(Lease {
                token: token.clone(),
                until: now + self.settings.lease,
            });
            match self
                .store
                .put_group(Guarded {
                    value: leased.clone(),
                    expected_version: Some(current.version),
                })
                .await
            {
                Ok(version) => {
                    return self
                        .drain(
                            Versioned {
                                value: leased,
                                version,
                            },
                            &token,
                        )
                        .await
                        .map(Some);
                }
                Err(StoreError::Conflict) => continue,
                Err(e) => return Err(e.into()),
            }
        }
    }

    /// Runs the outbox while holding the lease, then releases it.
    async fn drain(
        &self,
        mut group: Versioned<GroupRecord>,
        token: &str,
    ) -> Result<GroupRecord, ExecuteError> {
        loop {
            let Some(pending) = group.value.outbox.first().cloned() else {
                // Release; if ops were appended meanwhile, the conditional write fails and the
                // loop picks them up.
                let released = self
                    .modify_group(group, token, |g| {
                        if g.outbox.is_empty() {
                            g.lease = None;
                        }
                    })
                    .await?;
                if released.value.outbox.is_empty() {
                    return Ok(released.value);
                }
                group = released;
                continue;
            };
            // What the tracker is about to be shown; if the group changes meanwhile (a racing
            // event whose refresh was folded into this op), a fresh refresh is queued below.
            let rendered = matches!(pending.op, OutboxOp::Create | OutboxOp::Refresh)
                .then(|| ticket_content(&group.value));
            let result = match self.perform(&mut group, token, &pending).await {
                Ok(result) => result,
                Err(e) => {
                    // Leave the op queued and free the lease so a retry can proceed at once.
                    let _ = self.modify_group(group, token, |g| g.lease = None).await;
                    return Err(e);
                }
            };
            if let Some((ticket, _)) = &result {
                self.store
                    .link_ticket(&ticket.tracker, &ticket.key, &group.value.key)
                    .await?;
            }
            group = self
                .modify_group(group, token, |g| {
                    g.outbox.retain(|p| p.id != pending.id);
                    if pending.op == OutboxOp::Create {
                        // The ticket is recorded (or was already): nothing left to look for.
                        g.create_attempt = None;
                    }
                    if let Some((ticket, initial)) = &result
                        && g.ticket.is_none()
                    {
                        g.ticket = Some(ticket.clone());
                        // The decided state wins (the group may already be stale); a fresh ticket
                        // starts where the tracker put it.
                        if g.ticket_state == TicketState::Draft {
                            g.ticket_state = *initial;
                        }
                    }
                    if rendered
                        .as_ref()
                        .is_some_and(|shown| *shown != ticket_content(g))
                    {
                        g.push_op(OutboxOp::Refresh);
                    }
                    // The last op done: release in the same write (one round trip fewer). If a
                    // racing event appended ops, the re-read record has them and the lease stays.
                    if g.outbox.is_empty() {
                        g.lease = None;
                    }
                })
                .await?;
            if group.value.lease.is_none() {
                return Ok(group.value);
            }
        }
    }

    /// Performs one op; returns the ticket and its state when the op created (or found) it.
    /// `group` is the leased record, kept current when the op writes to it (a create does).
    async fn perform(
        &self,
        leased: &mut Versioned<GroupRecord>,
        token: &str,
        pending: &PendingOp,
    ) -> Result<Option<(TicketRef, TicketState)>, ExecuteError> {
        if pending.op == OutboxOp::Create && leased.value.ticket.is_none() {
            return self.create_ticket(leased, token).await.map(Some);
        }
        let group = &leased.value;
        if let OutboxOp::DismissAlert {
            number,
            reason,
            comment,
        } = &pending.op
        {
            let Some(github) = &self.github else {
                tracing::warn!(group = %group.key, number, "no GitHub connection: dismissal not sent");
                return Ok(None);
            };
            let github = github.for_installation(group.installation_id)?;
            github
                .dismiss_alert(&group.repository, group.kind, *number, *reason, comment)
                .await?;
            return Ok(None);
        }
        let ticket = match (&pending.op, &group.ticket) {
            // Created by an earlier run of this op (see `create_ticket`).
            (OutboxOp::Create, _) => return Ok(None),
            (_, Some(ticket)) => ticket,
            (op, None) => {
                // Unreachable by construction (a create is always queued first); dropping the op
                // beats wedging the outbox.
                tracing::warn!(group = %group.key, ?op, "op without a ticket dropped");
                return Ok(None);
            }
        };
        match &pending.op {
            OutboxOp::Create | OutboxOp::DismissAlert { .. } => {}
            OutboxOp::Refresh => self.tracker.update(ticket, &ticket_content(group)).await?,
            OutboxOp::Comment { text } => {
                let id = format!("{}-{}", group.key.label(), pending.id);
                self.tracker.comment(ticket, &id, text).await?
            }
            OutboxOp::Transition { to } => self.tracker.transition(ticket, *to).await?,
            OutboxOp::CloseNotPlanned => self.tracker.close_not_planned(ticket).await?,
        }
        Ok(None)
    }

    /// The group's ticket: found where an earlier create (or a store that lost track) left one,
    /// created otherwise. The create is bracketed in the group record: `sent_at` before the request
    /// goes out, the answer the moment it arrives, both under the lease. A retry after a crash
    /// anywhere in between then asks the tracker with what it knows (`find_after`): the answered
    /// ticket, or the time a create may have landed, which a tracker whose search lags its writes
    /// (Jira Cloud) needs to look consistently. Without an attempt on record, no create was ever
    /// sent for this group by this protocol; the lookup still runs, for tickets made before the
    /// store knew of them (a store reset, a crash in an older version).
    async fn create_ticket(
        &self,
        leased: &mut Versioned<GroupRecord>,
        token: &str,
    ) -> Result<(TicketRef, TicketState), ExecuteError> {
        let content = ticket_content(&leased.value);
        // Looked for where the group files it (a repository's own project, say).
        let existing = match &leased.value.create_attempt {
            Some(attempt) => {
                self.tracker
                    .find_after(&content, attempt, (self.clock)())
                    .await?
            }
            None => self.tracker.find_for(&content).await?,
        };
        if let Some(ticket) = existing {
            let answered = leased
                .value
                .create_attempt
                .as_ref()
                .and_then(|a| a.answered.as_ref())
                .filter(|created| created.ticket == ticket);
            let state = match answered {
                Some(created) => created.state,
                // Found after a crash: it was created open (or as a draft, by the draft tracker).
                None if self.tracker.name() == "draft" => TicketState::Draft,
                None => TicketState::Open,
            };
            tracing::info!(group = %leased.value.key, ticket = %ticket, "ticket found, not created again");
            return Ok((ticket, state));
        }
        let sent_at = (self.clock)();
        *leased = self
            .modify_group(leased.clone(), token, |g| {
                g.create_attempt = Some(CreateAttempt {
                    sent_at,
                    answered: None,
                });
            })
            .await?;
        let created = self.tracker.create_with_receipt(&content).await?;
        // Durable before anything else can fail (the reverse link, the final write): a retry uses
        // this answer instead of a search that may not show the ticket yet.
        *leased = self
            .modify_group(leased.clone(), token, |g| {
                if let Some(attempt) = &mut g.create_attempt {
                    attempt.answered = Some(created.clone());
                }
            })
            .await?;
        tracing::info!(group = %leased.value.key, ticket = %created.ticket, "ticket created");
        Ok((created.ticket, created.state))
    }

    /// Read-modify-write of a leased group, re-reading on conflicts (events keep appending to the
    /// outbox and changing members while the lease holder works).
    async fn modify_group(
        &self,
        mut group: Versioned<GroupRecord>,
        token: &str,
        change: impl Fn(&mut GroupRecord),
    ) -> Result<Versioned<GroupRecord>, ExecuteError> {
        loop {
            if group.value.lease.as_ref().is_none_or(|l| l.token != token) {
                // Our lease expired and somebody else took over: they own the outbox now.
                return Err(ExecuteError::SyncPending(group.value.key.clone()));
            }
            let mut next = group.value.clone();
            change(&mut next);
            match self
                .store
                .put_group(Guarded {
                    value: next.clone(),
                    expected_version: Some(group.version),
                })
                .await
            {
                Ok(version) => {
                    return Ok(Versioned {
                        value: next,
                        version,
                    });
                }
                Err(StoreError::Conflict) => {
                    let key = group.value.key.clone();
                    group = self
                        .store
                        .get_group(&key)
                        .await?
                        .ok_or(StoreError::Conflict)?;
                }
                Err(e) => return Err(e.into()),
            }
        }
    }
}

/// Exponential backoff with jitter, capped at ~200 ms: conflicts here last milliseconds.
async fn backoff(attempt: u32) {
    let base = 5u64 << attempt.min(5);
    let jitter = u64::from(uuid::Uuid::new_v4().as_bytes()[0]) % base.max(1);
    tokio::time::sleep(std::time::Duration::from_millis(base + jitter)).await;
}

// The pull request side (`apply_pull_request`), in its own file; a child module, so it shares the
// executor's fields and backoff.
#[path = "execute_pull_request.rs"]
mod pull_request;

#[cfg(test)]
#[path = "execute_tests.rs"]
mod tests;
