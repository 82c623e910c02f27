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

pub mod analysis;
pub mod own_accounts;

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
use scantix_core::records::{
    AuditEntry, CreateAttempt, DRAFT_TRACKER, DeliveryRecord, FindingRecord, GroupRecord,
    InstallationRecord, Lease, OutboxOp, PendingOp, TicketRef, TicketState, Triage, Versioned,
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
        let committed = self
            .commit_alert_leased(delivery, event, verdict, config, true)
            .await?;
        let (group, mut actions, duplicate, synced) = match committed {
            Committed::Applied(applied) => {
                let synced = self.sync_committed(&applied).await?;
                (
                    Some(applied.decision.group_key),
                    applied.decision.actions,
                    false,
                    synced,
                )
            }
            Committed::Duplicate { group, settled } => {
                // The first attempt may have crashed after committing: finish what it queued
                // (nothing to finish when the group read with the delivery owes nothing).
                let synced = match (&group, settled) {
                    (_, Some(settled)) => Some(*settled),
                    (Some(key), None) => self.sync_group(key).await?,
                    (None, None) => None,
                };
                (group, vec![], true, synced)
            }
            Committed::Ignored(reason) => {
                return Ok(Outcome {
                    delivery: delivery.into(),
                    duplicate: false,
                    group: None,
                    actions: vec![Action::Ignored {
                        reason: reason.clone(),
                    }],
                    ticket: None,
                    ticket_state: None,
                    ignored: Some(reason),
                });
            }
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
            ignored: None,
        })
    }

    /// Phase 1 only: decides and commits an alert event, leaving the tracker calls it queued in
    /// the group's outbox for `sync_group`. A backfill or a batch of stream records commits many
    /// events this way and then syncs each touched group once.
    pub async fn commit_alert(
        &self,
        delivery: &str,
        event: &AlertEvent,
        verdict: &Verdict,
        config: &Config,
    ) -> Result<Committed, ExecuteError> {
        self.commit_alert_leased(delivery, event, verdict, config, false)
            .await
    }

    /// `commit_alert`, taking the group's lease in the same write when `take_lease` and calls are
    /// now owed (then `sync_committed` drains them without another write to take it).
    async fn commit_alert_leased(
        &self,
        delivery: &str,
        event: &AlertEvent,
        verdict: &Verdict,
        config: &Config,
        take_lease: bool,
    ) -> Result<Committed, ExecuteError> {
        let fingerprint = Fingerprint::of(&event.finding);
        // The group a new finding would join; a known finding keeps the group it was put in.
        let new_key = group_key_for(event, None, config, verdict.group_by);
        let mut conflicts = 0;
        let mut unavailable = 0;
        loop {
            let now = (self.clock)();
            let read = self
                .store
                .read_event(EventKeys {
                    delivery,
                    finding: &fingerprint,
                    group: &new_key,
                    installation: event.installation_id,
                })
                .await?;
            if let Some(seen) = read.delivery {
                let settled = read
                    .group
                    .filter(|g| {
                        seen.group_key.as_ref() == Some(&new_key) && g.value.outbox.is_empty()
                    })
                    .map(|g| Box::new(g.value));
                return Ok(Committed::Duplicate {
                    group: seen.group_key,
                    settled,
                });
            }
            // An uninstalled App, or a repository taken out of it, gets no more work;
            // installations scantix never heard of (installed before it was deployed) are served.
            if let Some(installation) = &read.installation
                && !installation.value.covers(event.finding.repository.id)
            {
                return Ok(Committed::Ignored(format!(
                    "repository {} is not covered by installation {}",
                    event.finding.repository.full_name, installation.value.id
                )));
            }
            let finding = read.finding;
            let key = group_key_for(
                event,
                finding.as_ref().map(|f| &f.value),
                config,
                verdict.group_by,
            );
            // Only after a grouping change does a known finding's group differ from the one read.
            let group = match (&finding, key == new_key) {
                (Some(_), false) => self.store.get_group(&key).await?,
                _ => read.group,
            };
            let mut decision = decide(Inputs {
                event,
                finding: finding.as_ref().map(|f| &f.value),
                group: group.as_ref().map(|g| &g.value),
                verdict,
                config,
                now,
                delivery: Some(delivery),
            });
            let lease = self.prepare_group(&mut decision, now, Some(delivery), take_lease);
            let commit = Commit {
                delivery: Some(self.delivery_record(delivery, Some(&decision.group_key), now)),
                findings: decision
                    .finding
                    .clone()
                    .map(|value| Guarded::replacing(value, finding.as_ref()))
                    .into_iter()
                    .collect(),
                group: decision
                    .group
                    .clone()
                    .map(|value| Guarded::replacing(value, group.as_ref())),
                content: decision.content.clone(),
                links: draft_links(&decision, group.as_ref()),
                audit: decision.audit.clone(),
                analysis: Vec::new(),
            };
            match self.store.commit(commit).await {
                Ok(()) => {
                    let committed = decision.group.clone().map(|value| Versioned {
                        value,
                        version: group.as_ref().map_or(1, |g| g.version + 1),
                    });
                    return Ok(Committed::Applied(Box::new(Applied {
                        decision,
                        group: committed.or(group),
                        lease,
                    })));
                }
                Err(StoreError::Conflict) => {
                    conflicts += 1;
                    if conflicts >= self.settings.max_conflicts {
                        return Err(ExecuteError::Contention(conflicts));
                    }
                    backoff(conflicts).await;
                }
                // Throttling or a store under load (DynamoDB answers a transaction that waited
                // too long for an item's lock with a 500): nothing was written, and a moment
                // later the same commit usually goes through.
                Err(StoreError::Unavailable(why)) if unavailable < UNAVAILABLE_RETRIES => {
                    unavailable += 1;
                    tracing::warn!(attempt = unavailable, why = %why, "store unavailable; retrying the commit");
                    backoff(unavailable + 2).await;
                }
                // A concurrent copy of this delivery won the commit.
                Err(StoreError::DuplicateDelivery(_)) => {
                    return Ok(Committed::Duplicate {
                        group: Some(key),
                        settled: None,
                    });
                }
                Err(e) => return Err(e.into()),
            }
        }
    }

    /// Phase 2 for a committed decision: drains the group's outbox if the commit took the lease.
    /// Returns the group as left (or as committed, when another holder drains it).
    pub async fn sync_committed(
        &self,
        applied: &Applied,
    ) -> Result<Option<GroupRecord>, ExecuteError> {
        match (&applied.lease, &applied.group) {
            (Some(token), Some(group)) => match self.drain(group.clone(), token).await {
                Ok(left) => Ok(Some(left)),
                // The lease ran out mid-drain (a slow tracker or store) and another caller took
                // it over: the outbox is theirs now, this delivery's part is committed, and it is
                // left to them as any non-holder leaves it.
                Err(ExecuteError::SyncPending(key)) => {
                    tracing::info!(group = %key, "lease taken over mid-drain; the new holder finishes");
                    Ok(Some(group.value.clone()))
                }
                Err(e) => Err(e),
            },
            (None, group) => Ok(group.as_ref().map(|g| g.value.clone())),
            (Some(_), None) => Ok(None),
        }
    }

    /// Readies a decided group for its commit: a draft group's calls are settled in place (their
    /// audit entries join the decision's); a group that now owes tracker calls takes the lease if
    /// nobody holds it. Returns the lease token taken.
    fn prepare_group(
        &self,
        decision: &mut Decision,
        now: DateTime<Utc>,
        delivery: Option<&str>,
        take_lease: bool,
    ) -> Option<String> {
        let group = decision.group.as_mut()?;
        if self.drafts_only() || group.is_draft() {
            let settled = settle_draft_ops(group, now, delivery);
            decision.audit.extend(settled);
        }
        let free = group.lease.as_ref().is_none_or(|l| l.until <= now);
        if !take_lease || group.outbox.is_empty() || !free {
            return None;
        }
        let token = uuid::Uuid::new_v4().to_string();
        group.lease = Some(Lease {
            token: token.clone(),
            until: now + self.settings.lease,
        });
        Some(token)
    }

    /// Whether this executor's tracker is the draft tracker: tickets are drafts kept with their
    /// groups, and no call is ever made for them.
    fn drafts_only(&self) -> bool {
        self.tracker.name() == DRAFT_TRACKER
    }

    fn delivery_record(
        &self,
        delivery: &str,
        group: Option<&GroupKey>,
        now: DateTime<Utc>,
    ) -> DeliveryRecord {
        DeliveryRecord {
            id: delivery.into(),
            group_key: group.cloned(),
            received_at: now,
            expires_at: now + self.settings.dedup_for,
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
            let synced = match &seen.group_key {
                Some(key) => self.sync_group(key).await?,
                None => None,
            };
            return Ok(Outcome {
                delivery: delivery.into(),
                duplicate: true,
                group: seen.group_key,
                actions: vec![],
                ticket: synced.as_ref().and_then(|g| g.ticket.clone()),
                ticket_state: synced.as_ref().map(|g| g.ticket_state),
                ignored: None,
            });
        }
        let mut key = self
            .store
            .group_for_ticket(&event.tracker, &event.ticket_key)
            .await?;
        if key.is_none() && event.tracker != self.tracker.name() {
            // The ticket may be this executor's own under another tracker's name: locally,
            // drafts stand in for Jira, and Jira deliveries name draft tickets.
            key = self
                .store
                .group_for_ticket(self.tracker.name(), &event.ticket_key)
                .await?;
        }
        let Some(key) = key else {
            let now = (self.clock)();
            return match self
                .store
                .commit(Commit {
                    delivery: Some(self.delivery_record(delivery, None, now)),
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
                    ignored: None,
                }),
                Err(e) => Err(e.into()),
            };
        };
        let mut conflicts = 0;
        let mut open: Option<Vec<Versioned<FindingRecord>>> = None;
        let mut verification: Option<Verification> = None;
        // Read once, with the group: its repository does not change between attempts.
        let mut config: Option<Config> = None;
        let (decision, committed, lease) = loop {
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
            let open_records: Option<Vec<FindingRecord>> = open
                .as_ref()
                .map(|open| open.iter().map(|f| f.value.clone()).collect());
            let inputs = TicketInputs {
                event,
                group: &group.value,
                open_findings: open_records.as_deref(),
                verification: verification.as_ref(),
                config,
                now,
                delivery: Some(delivery),
            };
            let mut decision = match decide_ticket(inputs) {
                TicketDecision::Decided(decision) => *decision,
                TicketDecision::NeedsOpenFindings => {
                    open = Some(self.open_findings(&key).await?);
                    continue;
                }
                TicketDecision::NeedsVerification(fingerprints) => {
                    let records = open.as_deref().unwrap_or_default();
                    verification = Some(self.verify(&group.value, records, &fingerprints).await?);
                    continue;
                }
            };
            let lease = self.prepare_group(&mut decision, now, Some(delivery), true);
            let versions: BTreeMap<&Fingerprint, &Versioned<FindingRecord>> = open
                .iter()
                .flatten()
                .map(|f| (&f.value.fingerprint, f))
                .collect();
            match self
                .commit_in_chunks(delivery, &decision, &group, &versions, now)
                .await
            {
                Ok(version) => {
                    let committed = decision
                        .group
                        .clone()
                        .map(|value| Versioned { value, version });
                    break (decision, committed, lease);
                }
                Err(StoreError::Conflict) => {
                    conflicts += 1;
                    if conflicts >= self.settings.max_conflicts {
                        return Err(ExecuteError::Contention(conflicts));
                    }
                    // What changed may be the findings read: read them again.
                    open = None;
                    verification = None;
                    backoff(conflicts).await;
                }
                Err(StoreError::DuplicateDelivery(_)) => {
                    let synced = self.sync_group(&key).await?;
                    return Ok(Outcome {
                        delivery: delivery.into(),
                        duplicate: true,
                        group: Some(key),
                        actions: vec![],
                        ticket: synced.as_ref().and_then(|g| g.ticket.clone()),
                        ticket_state: synced.as_ref().map(|g| g.ticket_state),
                        ignored: None,
                    });
                }
                Err(e) => return Err(e.into()),
            }
        };
        let applied = Applied {
            decision,
            group: committed,
            lease,
        };
        let synced = self.sync_committed(&applied).await?;
        Ok(Outcome {
            delivery: delivery.into(),
            duplicate: false,
            group: Some(applied.decision.group_key),
            actions: applied.decision.actions,
            ticket: synced.as_ref().and_then(|g| g.ticket.clone()),
            ticket_state: synced.as_ref().map(|g| g.ticket_state),
            ignored: None,
        })
    }

    /// Commits a tracker decision that may change many findings (a ticket of thousands closed as
    /// "won't fix"): in writes of at most `CHUNK_FINDINGS` findings, each with the group's counts
    /// moved for just those findings, the last with the decided group, the audit and the
    /// delivery record. Each write is consistent on its own, so a crash between two leaves a
    /// group whose counts match its findings, and the retried delivery decides the rest. Returns
    /// the group's version after the last write.
    async fn commit_in_chunks(
        &self,
        delivery: &str,
        decision: &Decision,
        group: &Versioned<GroupRecord>,
        versions: &BTreeMap<&Fingerprint, &Versioned<FindingRecord>>,
        now: DateTime<Utc>,
    ) -> Result<u64, StoreError> {
        let guarded = |record: &FindingRecord| {
            Guarded::replacing(record.clone(), versions.get(&record.fingerprint).copied())
        };
        let chunks: Vec<&[FindingRecord]> = decision.findings.chunks(CHUNK_FINDINGS).collect();
        let mut base = group.clone();
        for chunk in chunks.iter().take(chunks.len().saturating_sub(1)) {
            let mut partial = base.value.clone();
            for record in *chunk {
                let old = versions.get(&record.fingerprint).map(|v| &v.value);
                partial.absorb(old, record);
            }
            self.store
                .commit(Commit {
                    findings: chunk.iter().map(&guarded).collect(),
                    group: Some(Guarded::replacing(partial.clone(), Some(&base))),
                    ..Commit::default()
                })
                .await?;
            base = Versioned {
                value: partial,
                version: base.version + 1,
            };
        }
        let last = chunks.last().copied().unwrap_or_default();
        let commit = Commit {
            delivery: Some(self.delivery_record(delivery, Some(&decision.group_key), now)),
            findings: last.iter().map(&guarded).collect(),
            group: decision
                .group
                .clone()
                .map(|value| Guarded::replacing(value, Some(&base))),
            content: None,
            links: draft_links(decision, Some(&base)),
            audit: decision.audit.clone(),
            analysis: Vec::new(),
        };
        let changes_group = commit.group.is_some();
        self.store.commit(commit).await?;
        Ok(base.version + u64::from(changes_group))
    }

    /// Every open ticketed finding of group `key`, with the versions they were read at.
    pub async fn open_findings(
        &self,
        key: &GroupKey,
    ) -> Result<Vec<Versioned<FindingRecord>>, ExecuteError> {
        let store = self.store.clone();
        Ok(read_all(|after| {
            let store = store.clone();
            let key = key.clone();
            async move {
                store
                    .group_findings(&key, Members::OpenTicketed, after.as_deref(), PAGE)
                    .await
            }
        })
        .await?)
    }

    /// What a ticket for `group` says now: its long texts and its first findings read from the
    /// store, rendered.
    pub async fn render(&self, group: &GroupRecord) -> Result<TicketContent, ExecuteError> {
        Ok(scantix_core::ticket::listing::render(self.store.as_ref(), group).await?)
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
            let guarded = Guarded::replacing(next.clone(), stored.as_ref());
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
        match self
            .store
            .commit(Commit {
                delivery: Some(self.delivery_record(delivery, None, now)),
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
    /// were flagged. Reads the list of open tickets by due date up to today, not every group.
    pub async fn flag_overdue(&self, now: DateTime<Utc>) -> Result<u32, ExecuteError> {
        let mut flagged = 0;
        let mut after: Option<String> = None;
        'pages: loop {
            let page = self
                .store
                .groups_in(&List::Due, after.as_deref(), PAGE)
                .await?;
            for stored in page.items {
                // The list is in due-date order: past the first one still in time, none is late.
                if stored
                    .value
                    .due()
                    .is_none_or(|due| !scantix_core::sla::is_overdue(due, now))
                {
                    break 'pages;
                }
                let Some((mut group, entry)) =
                    scantix_core::decide::alert::decide_overdue(&stored.value, now)
                else {
                    continue;
                };
                let mut decision = Decision {
                    group_key: group.key.clone(),
                    finding: None,
                    findings: vec![],
                    group: None,
                    content: None,
                    audit: vec![entry],
                    actions: vec![],
                };
                group.lease = stored.value.lease.clone();
                decision.group = Some(group);
                let lease = self.prepare_group(&mut decision, now, None, true);
                let commit = Commit {
                    group: decision
                        .group
                        .clone()
                        .map(|value| Guarded::replacing(value, Some(&stored))),
                    audit: decision.audit.clone(),
                    ..Commit::default()
                };
                match self.store.commit(commit).await {
                    Ok(()) => {
                        flagged += 1;
                        let applied = Applied {
                            group: decision.group.clone().map(|value| Versioned {
                                value,
                                version: stored.version + 1,
                            }),
                            decision,
                            lease,
                        };
                        self.sync_committed(&applied).await?;
                    }
                    // An event changed the group meanwhile; the next sweep looks again.
                    Err(StoreError::Conflict) => {}
                    Err(e) => return Err(e.into()),
                }
            }
            match page.next {
                Some(next) => after = Some(next),
                None => break,
            }
        }
        Ok(flagged)
    }

    /// Asks GitHub for the current state of `fingerprints` (among `open`, the group's open
    /// findings).
    async fn verify(
        &self,
        group: &GroupRecord,
        open: &[Versioned<FindingRecord>],
        fingerprints: &[Fingerprint],
    ) -> Result<Verification, ExecuteError> {
        let mut states = Verification::new();
        let by_fingerprint: BTreeMap<&Fingerprint, &FindingRecord> = open
            .iter()
            .map(|f| (&f.value.fingerprint, &f.value))
            .collect();
        for fp in fingerprints {
            let Some(record) = by_fingerprint.get(fp) else {
                continue;
            };
            let state = match &self.github {
                Some(clients) => {
                    let github = clients.for_installation(group.installation_id)?;
                    github
                        .alert_state(&record.finding.repository, group.kind, record.number())
                        .await?
                }
                None => record.finding.state,
            };
            states.insert(fp.clone(), state);
        }
        Ok(states)
    }

    /// Drains `key`'s outbox through the tracker if nobody else is: takes the lease when it is
    /// free (or expired) and drains; leaves a group whose lease is held to its holder. Returns the
    /// group as left. Safe to call any time (the sweeper calls it for groups with queued ops).
    pub async fn sync_group(&self, key: &GroupKey) -> Result<Option<GroupRecord>, ExecuteError> {
        let token = uuid::Uuid::new_v4().to_string();
        loop {
            let Some(current) = self.store.get_group(key).await? else {
                return Ok(None);
            };
            if current.value.outbox.is_empty() {
                return Ok(Some(current.value));
            }
            let now = (self.clock)();
            if current.value.lease.as_ref().is_some_and(|l| l.until > now) {
                // A live holder drains it, this op included.
                return Ok(Some(current.value));
            }
            let mut leased = current.value.clone();
            leased.lease = Some(Lease {
                token: token.clone(),
                until: now + self.settings.lease,
            });
            match self
                .store
                .put_group(Guarded::replacing(leased.clone(), Some(&current)))
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
                // Release; if ops were appended meanwhile, the guarded write fails and the loop
                // picks them up.
                let released = self
                    .modify_group(group, token, None, |g, _| {
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
            let real_ticket = !self.drafts_only() && !group.value.is_draft();
            if pending.op == OutboxOp::Refresh && real_ticket {
                group = self.coalesce(group, token).await?;
            }
            let rendered_at = (self.clock)();
            // What the render sees; events change `updated_at` when they change the group.
            let rendered_from = group.value.updated_at;
            let result = match self.perform(&mut group, token, &pending).await {
                Ok(result) => result,
                Err(e) => {
                    // Leave the op queued and free the lease so a retry can proceed at once.
                    let _ = self
                        .modify_group(group, token, None, |g, _| g.lease = None)
                        .await;
                    return Err(e);
                }
            };
            let renders = matches!(pending.op, OutboxOp::Create | OutboxOp::Refresh);
            let link = result.as_ref().map(|(ticket, _)| TicketLink {
                tracker: ticket.tracker.clone(),
                ticket_key: ticket.key.clone(),
                group: group.value.key.clone(),
            });
            let next = self
                .modify_group(group, token, link, |g, raced| {
                    g.outbox.retain(|p| p.id != pending.id);
                    if renders && real_ticket {
                        g.ticket_written_at = Some(rendered_at);
                    }
                    if pending.op == OutboxOp::Create {
                        // The ticket is recorded (or was already): nothing left to look for.
                        g.create_attempt = None;
                    }
                    if renders && (raced || g.updated_at != rendered_from) {
                        // The group changed while the ticket was being rendered and written (a
                        // racing event's refresh was folded into this one, or into the create):
                        // render it once more.
                        g.push_op(OutboxOp::Refresh);
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
                    // The last op done: release in the same write (one round trip fewer). If a
                    // racing event appended ops, the re-read record has them and the lease stays.
                    if g.outbox.is_empty() {
                        g.lease = None;
                    }
                })
                .await?;
            group = next;
            if group.value.lease.is_none() {
                return Ok(group.value);
            }
        }
    }

    /// Before a refresh: when the ticket was written less than `settings.coalesce` ago, waits
    /// out the rest while holding `group`'s lease, then re-reads the group. Findings joining
    /// meanwhile (a burst: a first scan, a backfill) leave their refresh to this holder, so one
    /// update carries all of them. Returns the record still leased to `token`.
    async fn coalesce(
        &self,
        group: Versioned<GroupRecord>,
        token: &str,
    ) -> Result<Versioned<GroupRecord>, ExecuteError> {
        let now = (self.clock)();
        let Some(written) = group.value.ticket_written_at else {
            return Ok(group);
        };
        let Ok(since) = (now - written).to_std() else {
            return Ok(group);
        };
        let remaining = group
            .value
            .lease
            .as_ref()
            .and_then(|l| (l.until - now).to_std().ok())
            .unwrap_or_default();
        // Never wait out the lease itself: another caller would take it over mid-write.
        let pause = self
            .settings
            .coalesce
            .saturating_sub(since)
            .min(remaining / 2);
        if pause.is_zero() {
            return Ok(group);
        }
        tokio::time::sleep(pause).await;
        match self.store.get_group(&group.value.key).await? {
            Some(current)
                if current
                    .value
                    .lease
                    .as_ref()
                    .is_some_and(|l| l.token == token) =>
            {
                Ok(current)
            }
            // Not ours any more (the lease ran out): keep the record we had; its next guarded
            // write fails and the caller's loop treats it as any lost race.
            _ => Ok(group),
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
        let real_tracker = !self.drafts_only() && !leased.value.is_draft();
        if pending.op == OutboxOp::Create && leased.value.ticket.is_none() && real_tracker {
            return self.create_ticket(leased, token).await.map(Some);
        }
        let group = &leased.value;
        match &pending.op {
            OutboxOp::DismissAlert {
                number,
                reason,
                comment,
            } => {
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
            OutboxOp::DismissPending => {
                self.dismiss_pending(group).await?;
                return Ok(None);
            }
            _ => {}
        }
        if group.is_draft() || self.drafts_only() {
            // Drafts are settled in their commits; an op left from before is a no-op, except a
            // create, which gives the group its draft.
            return Ok(match (&pending.op, &group.ticket) {
                (OutboxOp::Create, None) => {
                    Some((TicketRef::draft(&group.key), TicketState::Draft))
                }
                _ => None,
            });
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
            OutboxOp::Create | OutboxOp::DismissAlert { .. } | OutboxOp::DismissPending => {}
            OutboxOp::Refresh => {
                let content = self.render(group).await?;
                self.tracker.update(ticket, &content).await?
            }
            OutboxOp::Comment { text } => {
                let id = format!("{}-{}", group.key.label(), pending.id);
                self.tracker.comment(ticket, &id, text).await?
            }
            OutboxOp::Transition { to } => self.tracker.transition(ticket, *to).await?,
            OutboxOp::CloseNotPlanned => self.tracker.close_not_planned(ticket).await?,
        }
        Ok(None)
    }

    /// Sends GitHub the dismissals scantix owes for `group`'s findings (a "won't fix" closure),
    /// page by page, clearing each finding's debt once GitHub took it. A finding that came back
    /// open meanwhile keeps it unpaid: a person reopened it after the closure.
    async fn dismiss_pending(&self, group: &GroupRecord) -> Result<(), ExecuteError> {
        let mut after: Option<String> = None;
        loop {
            let page = self
                .store
                .group_findings(&group.key, Members::Ticketed, after.as_deref(), PAGE)
                .await?;
            for stored in page.items {
                let record = &stored.value;
                let Some(owed) = &record.pending_dismissal else {
                    continue;
                };
                if record.finding.state != AlertState::Dismissed {
                    continue;
                }
                match &self.github {
                    Some(clients) => {
                        let github = clients.for_installation(group.installation_id)?;
                        github
                            .dismiss_alert(
                                &record.finding.repository,
                                record.finding.kind,
                                record.number(),
                                owed.reason,
                                &owed.comment,
                            )
                            .await?;
                    }
                    None => {
                        tracing::warn!(group = %group.key, number = record.number(), "no GitHub connection: dismissal not sent");
                    }
                }
                let mut paid = record.clone();
                paid.pending_dismissal = None;
                match self
                    .store
                    .commit(Commit {
                        findings: vec![Guarded::replacing(paid, Some(&stored))],
                        ..Commit::default()
                    })
                    .await
                {
                    // A webhook changed the finding meanwhile (GitHub's own `dismissed`, most
                    // likely, which settles the debt too); the dismissal is idempotent anyway.
                    Ok(()) | Err(StoreError::Conflict) => {}
                    Err(e) => return Err(e.into()),
                }
            }
            match page.next {
                Some(next) => after = Some(next),
                None => return Ok(()),
            }
        }
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
        let content = self.render(&leased.value).await?;
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
                // Found after a crash: it was created open.
                None => TicketState::Open,
            };
            tracing::info!(group = %leased.value.key, ticket = %ticket, "ticket found, not created again");
            return Ok((ticket, state));
        }
        let sent_at = (self.clock)();
        *leased = self
            .modify_group(leased.clone(), token, None, |g, _| {
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
            .modify_group(leased.clone(), token, None, |g, _| {
                if let Some(attempt) = &mut g.create_attempt {
                    attempt.answered = Some(created.clone());
                }
            })
            .await?;
        tracing::info!(group = %leased.value.key, ticket = %created.ticket, "ticket created");
        Ok((created.ticket, created.state))
    }

    /// Read-modify-write of a leased group, re-reading on conflicts (events keep appending to the
    /// outbox and changing counts while the lease holder works). `change` is told whether anybody
    /// else wrote the group since the holder last read it. Returns the group as written.
    async fn modify_group(
        &self,
        mut group: Versioned<GroupRecord>,
        token: &str,
        link: Option<TicketLink>,
        change: impl Fn(&mut GroupRecord, bool),
    ) -> Result<Versioned<GroupRecord>, ExecuteError> {
        let mut raced = false;
        loop {
            if group.value.lease.as_ref().is_none_or(|l| l.token != token) {
                // Our lease expired and somebody else took over: they own the outbox now.
                return Err(ExecuteError::SyncPending(group.value.key.clone()));
            }
            let mut next = group.value.clone();
            change(&mut next, raced);
            let commit = Commit {
                group: Some(Guarded::replacing(next.clone(), Some(&group))),
                links: link.iter().cloned().collect(),
                ..Commit::default()
            };
            match self.store.commit(commit).await {
                Ok(()) => {
                    return Ok(Versioned {
                        value: next,
                        version: group.version + 1,
                    });
                }
                Err(StoreError::Conflict) => {
                    raced = true;
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

// The pull request side (`apply_pull_request`), in its own file; a child module, so it shares the
// executor's fields and backoff.
mod pull_request;

#[cfg(test)]
mod tests;
