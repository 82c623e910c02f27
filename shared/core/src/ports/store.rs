//! The `Store` port: where findings, groups (with their ticket mapping and outbox), delivery ids,
//! the audit log, installations, pull requests and the inbox live. `crate::memory::store` is the
//! in-process twin (tests); `scantix_sqlite` is the local mode's embedded database;
//! `scantix_dynamodb` is production; `lists` says which lists each record belongs to, so every
//! adapter answers the same queries the same way.
//!
//! # Access patterns (each a key lookup or one list read, never a scan on a hot path)
//! | question | how |
//! |---|---|
//! | everything one alert event needs | `read_event`: delivery, finding, group, installation in one round trip |
//! | apply one event | `commit`: one atomic write (finding, group, delivery record, audit, content, links) |
//! | a group's top findings, or all of them | `group_findings` (rank order: open first, most severe, newest) |
//! | the group of a ticket (tracker webhooks) | `group_for_ticket` |
//! | a repository's (or organisation's) groups | `groups_in(List::Home(..))` |
//! | open tickets by due date (SLA sweep) | `groups_in(List::Due)` |
//! | groups with queued tracker calls (sweeper) | `groups_in(List::Queued)` |
//! | groups by ticket state (listings, bulk operations) | `groups_in(List::State(..))` |
//! | what changed on a day (metrics, export) | `changes_on(day)` |
//! | the open findings of an analysis (repository, tool, category, ref) | `analysis_findings` |
//! | every installation (sweeper) | `installations` |
//! | a scope's ticket budget (who holds a slot, who waits) | `get_budget` |

pub mod lists;

use crate::identity::{Fingerprint, GroupKey};
use crate::inbox::{Applied, InboxItem};
use crate::records::budget::{BudgetLedger, BudgetScope};
use crate::records::{
    AuditEntry, DeliveryRecord, FindingRecord, GroupContent, GroupRecord, InstallationRecord,
    PullRequestRecord, Versioned,
};
use async_trait::async_trait;
pub use lists::{List, Members};

/// Why a store call failed, and whether trying again can help.
#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    /// A conditional write lost a race: somebody wrote the record since it was read. Re-read,
    /// re-decide, retry.
    #[error("a concurrent write changed the record; read it again and retry")]
    Conflict,
    /// The delivery was already accepted: nothing of this commit was written.
    #[error("delivery {0} was already processed")]
    DuplicateDelivery(String),
    /// The backend is unavailable or throttling; retrying later can help.
    #[error("store unavailable: {0}")]
    Unavailable(String),
    /// A record could not be read back (corrupt or from an incompatible version).
    #[error("stored record is unreadable: {0}")]
    Corrupt(String),
    /// The backend refused the request for a reason no retry fixes (an item over 400 KB, a missing
    /// table, denied access): the deployment or the data needs fixing.
    #[error("store rejected the request: {0}")]
    Rejected(String),
    /// The record is larger than the store can hold (a DynamoDB item is at most 400 KB).
    #[error("too large to store: {0}")]
    TooLarge(String),
}

impl StoreError {
    pub fn is_retryable(&self) -> bool {
        matches!(self, StoreError::Conflict | StoreError::Unavailable(_))
    }
}

/// A record to write only if it is still as it was read (`previous: None`: only if absent). The
/// previous value lets an adapter move the record between lists (`lists`) in the same write.
#[derive(Debug, Clone, PartialEq)]
pub struct Guarded<T> {
    pub value: T,
    pub expected_version: Option<u64>,
    /// The record as read at `expected_version` (`None` with it).
    pub previous: Option<T>,
}

impl<T: Clone> Guarded<T> {
    /// `value`, replacing `read` (or created if `read` is `None`).
    pub fn replacing(value: T, read: Option<&Versioned<T>>) -> Guarded<T> {
        Guarded {
            value,
            expected_version: read.map(|r| r.version),
            previous: read.map(|r| r.value.clone()),
        }
    }

    /// `value`, created only if absent.
    pub fn new(value: T) -> Guarded<T> {
        Guarded {
            value,
            expected_version: None,
            previous: None,
        }
    }
}

/// A ticket's link to its group (how a tracker webhook finds the group).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TicketLink {
    pub tracker: String,
    pub ticket_key: String,
    pub group: GroupKey,
}

/// Everything one event changes, written atomically: all of it or none of it.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Commit {
    /// Written only if absent; if present the whole commit fails with `DuplicateDelivery`.
    pub delivery: Option<DeliveryRecord>,
    pub findings: Vec<Guarded<FindingRecord>>,
    pub group: Option<Guarded<GroupRecord>>,
    /// A new group's long texts: written if absent, never replaced.
    pub content: Option<GroupContent>,
    /// Ticket → group links (idempotent).
    pub links: Vec<TicketLink>,
    /// Appended, never overwritten.
    pub audit: Vec<AuditEntry>,
    /// Findings joining or leaving an analysis' list of open findings (idempotent).
    pub analysis: Vec<AnalysisEntry>,
    /// Ticket budgets the change moved (`decide::budget`), each guarded by the version read: two
    /// events racing for a scope's last slot cannot both take it.
    pub budgets: Vec<Guarded<BudgetLedger>>,
    /// The inbox item this commit's delivery came from, marked done in the same write (the
    /// worker's path: applying a delivery and recording it applied cannot come apart). An
    /// absent item (expired after its 14 days, or never stored) is neither created nor a
    /// reason to fail: the rest of the commit is written without it.
    pub settles: Option<InboxSettle>,
}

/// An inbox item settled done by a commit (see [`Commit::settles`]): what `settle_inbox` with
/// `Applied::Done` would write.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct InboxSettle {
    /// The item's id (`github:<X-GitHub-Delivery>`).
    pub id: String,
    /// The outcome recorded on it, as known at commit time (`applied`).
    pub outcome: String,
    pub at: chrono::DateTime<chrono::Utc>,
}

/// A finding's place on the list of open findings of one SARIF analysis
/// (`decide::analysis::AnalysisKey::id`): the list the next analysis of the same key is compared
/// with. Written in the same atomic write as the finding it names, so the list is exactly as
/// current as the findings.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AnalysisEntry {
    pub analysis: String,
    pub fingerprint: Fingerprint,
    /// `true`: on the list (added if absent); `false`: off it (removed if present).
    pub listed: bool,
}

impl Commit {
    /// How many records the commit writes (adapters with a per-write limit split by it).
    pub fn writes(&self) -> usize {
        usize::from(self.delivery.is_some())
            + self.findings.len()
            + usize::from(self.group.is_some())
            + usize::from(self.content.is_some())
            + self.links.len()
            + self.audit.len()
            + self.analysis.len()
            + self.budgets.len()
            + usize::from(self.settles.is_some())
    }
}

/// What one alert event needs read: all of it in one round trip.
#[derive(Debug, Clone, Copy)]
pub struct EventKeys<'a> {
    /// The delivery's dedup id.
    pub delivery: &'a str,
    pub finding: &'a Fingerprint,
    /// The group the finding belongs to if it is new (its stored record may name another).
    pub group: &'a GroupKey,
    pub installation: Option<u64>,
}

/// What `read_event` found.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct EventRecords {
    pub delivery: Option<DeliveryRecord>,
    pub finding: Option<Versioned<FindingRecord>>,
    pub group: Option<Versioned<GroupRecord>>,
    pub installation: Option<Versioned<InstallationRecord>>,
}

/// One page of a list; `next` continues it.
#[derive(Debug, Clone, PartialEq)]
pub struct Page<T> {
    pub items: Vec<T>,
    /// Where the next page starts (`None`: this was the last).
    pub next: Option<String>,
}

impl<T> Default for Page<T> {
    fn default() -> Self {
        Page {
            items: Vec::new(),
            next: None,
        }
    }
}

/// The one write a webhook function makes: a delivery into the inbox (the function's IAM grant is
/// exactly this).
#[async_trait]
pub trait InboxWriter: Send + Sync {
    /// Writes a delivery to the inbox if no item has its id; false when one had (a redelivery:
    /// nothing is written).
    async fn put_inbox(&self, item: &InboxItem) -> Result<bool, StoreError>;
}

/// The inbox as the worker and `scantix replay` use it.
#[async_trait]
pub trait Inbox: InboxWriter {
    async fn get_inbox(&self, id: &str) -> Result<Option<InboxItem>, StoreError>;

    /// Records what the worker did with an item: `Done` takes it out of the pending set,
    /// `Failed` (and `Deferred`) counts the attempt, keeps the error and leaves the item pending
    /// — back in the pending set if the delivery's commit settled it done (`Commit::settles`)
    /// before a later step of the delivery failed. Repeating it is harmless.
    async fn settle_inbox(
        &self,
        id: &str,
        applied: &Applied,
        at: chrono::DateTime<chrono::Utc>,
    ) -> Result<(), StoreError>;

    /// Up to `limit` items still pending, oldest first (what `scantix replay` applies).
    async fn pending_inbox(&self, limit: usize) -> Result<Vec<InboxItem>, StoreError>;
}

/// The persistence port.
#[async_trait]
pub trait Store: Inbox {
    /// The records one alert event needs, in one round trip.
    async fn read_event(&self, keys: EventKeys<'_>) -> Result<EventRecords, StoreError>;

    async fn get_finding(
        &self,
        fingerprint: &Fingerprint,
    ) -> Result<Option<Versioned<FindingRecord>>, StoreError>;

    async fn get_group(&self, key: &GroupKey)
    -> Result<Option<Versioned<GroupRecord>>, StoreError>;

    /// A group's long texts (rule description and help), for rendering its ticket.
    async fn get_content(&self, key: &GroupKey) -> Result<Option<GroupContent>, StoreError>;

    async fn get_delivery(&self, id: &str) -> Result<Option<DeliveryRecord>, StoreError>;

    /// Applies `commit` atomically. Fails with `Conflict` if a guarded record moved on, or with
    /// `DuplicateDelivery` if the delivery was already recorded; either way nothing is written.
    async fn commit(&self, commit: Commit) -> Result<(), StoreError>;

    /// The ticket budget of `scope`, if anything was ever counted in it.
    async fn get_budget(
        &self,
        scope: &BudgetScope,
    ) -> Result<Option<Versioned<BudgetLedger>>, StoreError>;

    /// Writes one group record if it is still as read; returns the new version.
    async fn put_group(&self, group: Guarded<GroupRecord>) -> Result<u64, StoreError>;

    /// A page of `group`'s findings of `which`, in rank order (`FindingRecord::rank`), starting
    /// after `after` (a page's `next`).
    async fn group_findings(
        &self,
        group: &GroupKey,
        which: Members,
        after: Option<&str>,
        limit: usize,
    ) -> Result<Page<Versioned<FindingRecord>>, StoreError>;

    /// A page of the groups in `list`, in the list's order.
    async fn groups_in(
        &self,
        list: &List,
        after: Option<&str>,
        limit: usize,
    ) -> Result<Page<Versioned<GroupRecord>>, StoreError>;

    /// A group's audit log, oldest first. The log is append-only: `commit` appends entries and no
    /// call of this port changes or removes one (a chain of custody is only worth what nobody can
    /// rewrite; the deployment's IAM roles and the SQLite schema refuse it beneath the port too).
    async fn audit_log(&self, key: &GroupKey) -> Result<Vec<AuditEntry>, StoreError>;

    /// A page of the audit entries written on `day` (UTC), in time order.
    async fn changes_on(
        &self,
        day: chrono::NaiveDate,
        after: Option<&str>,
        limit: usize,
    ) -> Result<Page<AuditEntry>, StoreError>;

    /// A page of the open findings of analysis `analysis` (`AnalysisKey::id`), in fingerprint
    /// order, starting after `after` (a page's `next`).
    async fn analysis_findings(
        &self,
        analysis: &str,
        after: Option<&str>,
        limit: usize,
    ) -> Result<Page<Fingerprint>, StoreError>;

    /// The group a ticket belongs to (tracker webhooks name tickets, not groups).
    async fn group_for_ticket(
        &self,
        tracker: &str,
        ticket_key: &str,
    ) -> Result<Option<GroupKey>, StoreError>;

    /// What scantix knows of one installation of the GitHub App.
    async fn get_installation(
        &self,
        id: u64,
    ) -> Result<Option<Versioned<InstallationRecord>>, StoreError>;

    /// Writes an installation record if it is still as read; returns the new version.
    async fn put_installation(
        &self,
        record: Guarded<InstallationRecord>,
    ) -> Result<u64, StoreError>;

    /// Every installation (the sweeper walks them).
    async fn installations(&self) -> Result<Vec<Versioned<InstallationRecord>>, StoreError>;

    /// The record of pull request `number` of repository `repository_id`.
    async fn get_pull_request(
        &self,
        repository_id: u64,
        number: u64,
    ) -> Result<Option<Versioned<PullRequestRecord>>, StoreError>;

    /// Writes a pull request record if it is still at `expected_version` (`None`: only if absent);
    /// returns the new version.
    async fn put_pull_request(&self, record: Guarded<PullRequestRecord>)
    -> Result<u64, StoreError>;

    /// A page of every group: a scan, for whole-store listings and migrations only. Pages hold at
    /// most `limit` groups and every group comes once; the order is the adapter's (key order in
    /// memory and SQLite, DynamoDB's scan order).
    async fn all_groups(
        &self,
        after: Option<&str>,
        limit: usize,
    ) -> Result<Page<Versioned<GroupRecord>>, StoreError>;
}

/// Reads every page of a paged list.
pub async fn read_all<T, F, Fut>(mut page: F) -> Result<Vec<T>, StoreError>
where
    F: FnMut(Option<String>) -> Fut,
    Fut: std::future::Future<Output = Result<Page<T>, StoreError>>,
{
    let mut all = Vec::new();
    let mut after = None;
    loop {
        let next = page(after.take()).await?;
        all.extend(next.items);
        match next.next {
            Some(cursor) => after = Some(cursor),
            None => return Ok(all),
        }
    }
}
