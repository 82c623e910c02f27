//! `CountingStore`: a `Store` decorator that counts calls by method and forwards them. Against
//! `DynamoStore` every call is one round trip (`commit` one TransactWriteItems, as long as it holds
//! at most 100 items: an event's commit holds a handful), so the counts are DynamoDB round trips.

use async_trait::async_trait;
use scantix::identity::{Fingerprint, GroupKey};
use scantix::state::{AuditEntry, DeliveryRecord, FindingRecord, GroupRecord, Versioned};
use scantix::store::{Commit, Guarded, Store, StoreError};
use scantix::tracker::draft::DraftTicket;
use std::fmt;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};

/// The `Store` methods, in the order an event's path calls them.
#[derive(Debug, Clone, Copy)]
enum Method {
    GetDelivery,
    GetFinding,
    GetGroup,
    Commit,
    PutGroup,
    LinkTicket,
    GetDraft,
    CreateDraft,
    PutDraft,
    GroupForTicket,
    ListGroups,
    AuditLog,
}

const METHODS: usize = 12;

/// `Method`'s names, by discriminant.
const NAMES: [&str; METHODS] = [
    "get_delivery",
    "get_finding",
    "get_group",
    "commit",
    "put_group",
    "link_ticket",
    "get_draft",
    "create_draft",
    "put_draft",
    "group_for_ticket",
    "list_groups",
    "audit_log",
];

/// Calls made, by method (indexed by `Method`).
#[derive(Debug, Clone, Copy, Default)]
pub struct StoreCalls([u64; METHODS]);

impl StoreCalls {
    pub fn total(&self) -> u64 {
        self.0.iter().sum()
    }

    /// The calls made since `earlier`.
    pub fn since(&self, earlier: StoreCalls) -> StoreCalls {
        StoreCalls(std::array::from_fn(|i| self.0[i] - earlier.0[i]))
    }
}

/// `get_delivery=1 commit=1`: the methods called, in `Method`'s order; `none` if nothing was.
impl fmt::Display for StoreCalls {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let called: Vec<String> = NAMES
            .iter()
            .zip(self.0)
            .filter(|(_, n)| *n > 0)
            .map(|(name, n)| format!("{name}={n}"))
            .collect();
        if called.is_empty() {
            f.write_str("none")
        } else {
            f.write_str(&called.join(" "))
        }
    }
}

/// Wraps a store and counts what is asked of it.
pub struct CountingStore {
    inner: Arc<dyn Store>,
    counts: [AtomicU64; METHODS],
}

impl CountingStore {
    pub fn new(inner: Arc<dyn Store>) -> CountingStore {
        CountingStore {
            inner,
            counts: std::array::from_fn(|_| AtomicU64::new(0)),
        }
    }

    /// The calls made so far.
    pub fn calls(&self) -> StoreCalls {
        StoreCalls(std::array::from_fn(|i| {
            self.counts[i].load(Ordering::Relaxed)
        }))
    }

    fn count(&self, method: Method) {
        self.counts[method as usize].fetch_add(1, Ordering::Relaxed);
    }
}

#[async_trait]
impl Store for CountingStore {
    async fn get_finding(
        &self,
        fingerprint: &Fingerprint,
    ) -> Result<Option<Versioned<FindingRecord>>, StoreError> {
        self.count(Method::GetFinding);
        self.inner.get_finding(fingerprint).await
    }

    async fn get_group(
        &self,
        key: &GroupKey,
    ) -> Result<Option<Versioned<GroupRecord>>, StoreError> {
        self.count(Method::GetGroup);
        self.inner.get_group(key).await
    }

    async fn get_delivery(&self, id: &str) -> Result<Option<DeliveryRecord>, StoreError> {
        self.count(Method::GetDelivery);
        self.inner.get_delivery(id).await
    }

    async fn commit(&self, commit: Commit) -> Result<(), StoreError> {
        self.count(Method::Commit);
        self.inner.commit(commit).await
    }

    async fn put_group(&self, group: Guarded<GroupRecord>) -> Result<u64, StoreError> {
        self.count(Method::PutGroup);
        self.inner.put_group(group).await
    }

    async fn list_groups(&self) -> Result<Vec<Versioned<GroupRecord>>, StoreError> {
        self.count(Method::ListGroups);
        self.inner.list_groups().await
    }

    async fn audit_log(&self, key: &GroupKey) -> Result<Vec<AuditEntry>, StoreError> {
        self.count(Method::AuditLog);
        self.inner.audit_log(key).await
    }

    async fn group_for_ticket(
        &self,
        tracker: &str,
        ticket_key: &str,
    ) -> Result<Option<GroupKey>, StoreError> {
        self.count(Method::GroupForTicket);
        self.inner.group_for_ticket(tracker, ticket_key).await
    }

    async fn link_ticket(
        &self,
        tracker: &str,
        ticket_key: &str,
        group: &GroupKey,
    ) -> Result<(), StoreError> {
        self.count(Method::LinkTicket);
        self.inner.link_ticket(tracker, ticket_key, group).await
    }

    async fn create_draft(&self, ticket: &DraftTicket) -> Result<bool, StoreError> {
        self.count(Method::CreateDraft);
        self.inner.create_draft(ticket).await
    }

    async fn put_draft(&self, ticket: &DraftTicket) -> Result<(), StoreError> {
        self.count(Method::PutDraft);
        self.inner.put_draft(ticket).await
    }

    async fn get_draft(&self, key: &str) -> Result<Option<DraftTicket>, StoreError> {
        self.count(Method::GetDraft);
        self.inner.get_draft(key).await
    }
}
