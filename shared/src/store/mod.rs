//! The `Store` port: where findings, groups (with their ticket mapping and outbox), delivery ids
//! and the audit log live. `memory` is the in-process twin (and the local mode's embedded store);
//! `dynamodb` is production.

pub mod dynamodb;
pub mod memory;

use crate::identity::{Fingerprint, GroupKey};
use crate::inbox::{Applied, InboxItem};
use crate::state::{
    AuditEntry, DeliveryRecord, FindingRecord, GroupRecord, InstallationRecord, Versioned,
};
use crate::tracker::draft::DraftTicket;
use async_trait::async_trait;

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

/// A record to write only if it is still at the version it was read at (`None`: only if absent).
#[derive(Debug, Clone, PartialEq)]
pub struct Guarded<T> {
    pub value: T,
    pub expected_version: Option<u64>,
}

/// Everything one event changes, written atomically: all of it or none of it.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Commit {
    /// Written only if absent; if present the whole commit fails with `DuplicateDelivery`.
    pub delivery: Option<DeliveryRecord>,
    pub finding: Option<Guarded<FindingRecord>>,
    pub group: Option<Guarded<GroupRecord>>,
    /// Appended, never overwritten.
    pub audit: Vec<AuditEntry>,
}

/// The persistence port.
#[async_trait]
pub trait Store: Send + Sync {
    async fn get_finding(
        &self,
        fingerprint: &Fingerprint,
    ) -> Result<Option<Versioned<FindingRecord>>, StoreError>;

    async fn get_group(&self, key: &GroupKey)
    -> Result<Option<Versioned<GroupRecord>>, StoreError>;

    async fn get_delivery(&self, id: &str) -> Result<Option<DeliveryRecord>, StoreError>;

    /// Applies `commit` atomically. Fails with `Conflict` if a guarded record moved on, or with
    /// `DuplicateDelivery` if the delivery was already recorded; either way nothing is written.
    async fn commit(&self, commit: Commit) -> Result<(), StoreError>;

    /// Writes one group record if it is still at `expected_version`; returns the new version.
    async fn put_group(&self, group: Guarded<GroupRecord>) -> Result<u64, StoreError>;

    /// Every group, for listings and the sweeper (a full scan: not for the event path).
    async fn list_groups(&self) -> Result<Vec<Versioned<GroupRecord>>, StoreError>;

    /// A group's audit log, oldest first.
    async fn audit_log(&self, key: &GroupKey) -> Result<Vec<AuditEntry>, StoreError>;

    /// The group a ticket belongs to (tracker webhooks name tickets, not groups).
    async fn group_for_ticket(
        &self,
        tracker: &str,
        ticket_key: &str,
    ) -> Result<Option<GroupKey>, StoreError>;

    /// Records which group a ticket belongs to. Idempotent.
    async fn link_ticket(
        &self,
        tracker: &str,
        ticket_key: &str,
        group: &GroupKey,
    ) -> Result<(), StoreError>;

    /// What scantix knows of one installation of the GitHub App.
    async fn get_installation(
        &self,
        id: u64,
    ) -> Result<Option<Versioned<InstallationRecord>>, StoreError>;

    /// Writes an installation record if it is still at `expected_version`; returns the new version.
    async fn put_installation(
        &self,
        record: Guarded<InstallationRecord>,
    ) -> Result<u64, StoreError>;

    /// Every installation (the sweeper walks them).
    async fn list_installations(&self) -> Result<Vec<Versioned<InstallationRecord>>, StoreError>;

    // The inbox (see `crate::inbox`): deliveries the webhook functions made durable.

    /// Writes a delivery to the inbox if no item has its id; false when one had (a redelivery:
    /// nothing is written). This is the only write a webhook function makes.
    async fn put_inbox(&self, item: &InboxItem) -> Result<bool, StoreError>;

    async fn get_inbox(&self, id: &str) -> Result<Option<InboxItem>, StoreError>;

    /// Records what the worker did with an item: `Done` takes it out of the pending set,
    /// `Failed` counts the attempt and keeps the error. Repeating it is harmless.
    async fn settle_inbox(
        &self,
        id: &str,
        applied: &Applied,
        at: chrono::DateTime<chrono::Utc>,
    ) -> Result<(), StoreError>;

    /// Up to `limit` items still pending, oldest first (what `scantix replay` applies).
    async fn pending_inbox(&self, limit: usize) -> Result<Vec<InboxItem>, StoreError>;

    // The draft tracker keeps its tickets here, so the embedded default needs no other service.

    /// Writes a draft ticket if none has its key yet; returns false if one had.
    async fn create_draft(&self, ticket: &DraftTicket) -> Result<bool, StoreError>;
    async fn put_draft(&self, ticket: &DraftTicket) -> Result<(), StoreError>;
    async fn get_draft(&self, key: &str) -> Result<Option<DraftTicket>, StoreError>;

    // ----- Pull requests: the record behind each pull request's summary comment -----

    /// The record of pull request `number` of repository `repository_id`.
    async fn get_pull_request(
        &self,
        repository_id: u64,
        number: u64,
    ) -> Result<Option<Versioned<crate::state::PullRequestRecord>>, StoreError>;

    /// Writes a pull request record if it is still at `expected_version` (`None`: only if absent);
    /// returns the new version.
    async fn put_pull_request(
        &self,
        record: Guarded<crate::state::PullRequestRecord>,
    ) -> Result<u64, StoreError>;
}
