//! `CountingStore`: a `Store` decorator that counts calls by method, and the time they take, and
//! forwards them. Against `DynamoStore` every call is one round trip (`commit` one
//! TransactWriteItems, as long as it holds at most 100 items: an event's commit holds a handful),
//! so the counts are DynamoDB round trips and the times their latencies.

use async_trait::async_trait;
use scantix::identity::{Fingerprint, GroupKey};
use scantix::inbox::{Applied, InboxItem};
use scantix::state::{
    AuditEntry, DeliveryRecord, FindingRecord, GroupRecord, InstallationRecord, Versioned,
};
use scantix::store::{Commit, Guarded, Store, StoreError};
use scantix::tracker::draft::DraftTicket;
use std::fmt;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Instant;

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
    GetInstallation,
    PutInstallation,
    ListInstallations,
    PutInbox,
    GetInbox,
    SettleInbox,
    PendingInbox,
    GetPullRequest,
    PutPullRequest,
}

const METHODS: usize = 21;

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
    "get_installation",
    "put_installation",
    "list_installations",
    "put_inbox",
    "get_inbox",
    "settle_inbox",
    "pending_inbox",
    "get_pull_request",
    "put_pull_request",
];

/// Calls made and nanoseconds spent in them, by method (indexed by `Method`).
#[derive(Debug, Clone, Copy, Default)]
pub struct StoreCalls {
    counts: [u64; METHODS],
    nanos: [u64; METHODS],
}

impl StoreCalls {
    pub fn total(&self) -> u64 {
        self.counts.iter().sum()
    }

    /// The calls made since `earlier`.
    pub fn since(&self, earlier: StoreCalls) -> StoreCalls {
        StoreCalls {
            counts: std::array::from_fn(|i| self.counts[i] - earlier.counts[i]),
            nanos: std::array::from_fn(|i| self.nanos[i] - earlier.nanos[i]),
        }
    }

    /// `get_delivery=1.1 commit=9.5`: mean milliseconds per call of each method called.
    pub fn mean_millis(&self) -> String {
        listing(|i| {
            let count = self.counts[i];
            (count > 0).then(|| format!("{:.1}", self.nanos[i] as f64 / count as f64 / 1e6))
        })
    }
}

/// `get_delivery=1 commit=1`: the methods called, in `Method`'s order.
impl fmt::Display for StoreCalls {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&listing(|i| {
            (self.counts[i] > 0).then(|| self.counts[i].to_string())
        }))
    }
}

/// `name=value` for each method that has a value, in `Method`'s order; `none` if none has.
fn listing(value: impl Fn(usize) -> Option<String>) -> String {
    let listed: Vec<String> = (0..METHODS)
        .filter_map(|i| value(i).map(|v| format!("{}={v}", NAMES[i])))
        .collect();
    if listed.is_empty() {
        "none".into()
    } else {
        listed.join(" ")
    }
}

/// Wraps a store and counts what is asked of it.
pub struct CountingStore {
    inner: Arc<dyn Store>,
    counts: [AtomicU64; METHODS],
    nanos: [AtomicU64; METHODS],
}

impl CountingStore {
    pub fn new(inner: Arc<dyn Store>) -> CountingStore {
        CountingStore {
            inner,
            counts: std::array::from_fn(|_| AtomicU64::new(0)),
            nanos: std::array::from_fn(|_| AtomicU64::new(0)),
        }
    }

    /// The calls made so far.
    pub fn calls(&self) -> StoreCalls {
        StoreCalls {
            counts: load(&self.counts),
            nanos: load(&self.nanos),
        }
    }

    /// Awaits `call`, counting it and its time against `method`.
    async fn counted<T>(&self, method: Method, call: impl Future<Output = T>) -> T {
        let started = Instant::now();
        let output = call.await;
        let nanos = u64::try_from(started.elapsed().as_nanos()).unwrap_or(u64::MAX);
        self.counts[method as usize].fetch_add(1, Ordering::Relaxed);
        self.nanos[method as usize].fetch_add(nanos, Ordering::Relaxed);
        output
    }
}

fn load(counters: &[AtomicU64; METHODS]) -> [u64; METHODS] {
    std::array::from_fn(|i| counters[i].load(Ordering::Relaxed))
}

#[async_trait]
impl Store for CountingStore {
    async fn get_finding(
        &self,
        fingerprint: &Fingerprint,
    ) -> Result<Option<Versioned<FindingRecord>>, StoreError> {
        self.counted(Method::GetFinding, self.inner.get_finding(fingerprint))
            .await
    }

    async fn get_group(
        &self,
        key: &GroupKey,
    ) -> Result<Option<Versioned<GroupRecord>>, StoreError> {
        self.counted(Method::GetGroup, self.inner.get_group(key))
            .await
    }

    async fn get_delivery(&self, id: &str) -> Result<Option<DeliveryRecord>, StoreError> {
        self.counted(Method::GetDelivery, self.inner.get_delivery(id))
            .await
    }

    async fn commit(&self, commit: Commit) -> Result<(), StoreError> {
        self.counted(Method::Commit, self.inner.commit(commit))
            .await
    }

    async fn put_group(&self, group: Guarded<GroupRecord>) -> Result<u64, StoreError> {
        self.counted(Method::PutGroup, self.inner.put_group(group))
            .await
    }

    async fn list_groups(&self) -> Result<Vec<Versioned<GroupRecord>>, StoreError> {
        self.counted(Method::ListGroups, self.inner.list_groups())
            .await
    }

    async fn audit_log(&self, key: &GroupKey) -> Result<Vec<AuditEntry>, StoreError> {
        self.counted(Method::AuditLog, self.inner.audit_log(key))
            .await
    }

    async fn group_for_ticket(
        &self,
        tracker: &str,
        ticket_key: &str,
    ) -> Result<Option<GroupKey>, StoreError> {
        self.counted(
            Method::GroupForTicket,
            self.inner.group_for_ticket(tracker, ticket_key),
        )
        .await
    }

    async fn link_ticket(
        &self,
        tracker: &str,
        ticket_key: &str,
        group: &GroupKey,
    ) -> Result<(), StoreError> {
        self.counted(
            Method::LinkTicket,
            self.inner.link_ticket(tracker, ticket_key, group),
        )
        .await
    }

    async fn get_installation(
        &self,
        id: u64,
    ) -> Result<Option<Versioned<InstallationRecord>>, StoreError> {
        self.counted(Method::GetInstallation, self.inner.get_installation(id))
            .await
    }

    async fn put_installation(
        &self,
        record: Guarded<InstallationRecord>,
    ) -> Result<u64, StoreError> {
        self.counted(Method::PutInstallation, self.inner.put_installation(record))
            .await
    }

    async fn list_installations(&self) -> Result<Vec<Versioned<InstallationRecord>>, StoreError> {
        self.counted(Method::ListInstallations, self.inner.list_installations())
            .await
    }

    async fn put_inbox(&self, item: &InboxItem) -> Result<bool, StoreError> {
        self.counted(Method::PutInbox, self.inner.put_inbox(item))
            .await
    }

    async fn get_inbox(&self, id: &str) -> Result<Option<InboxItem>, StoreError> {
        self.counted(Method::GetInbox, self.inner.get_inbox(id))
            .await
    }

    async fn settle_inbox(
        &self,
        id: &str,
        applied: &Applied,
        at: scantix::chrono::DateTime<scantix::chrono::Utc>,
    ) -> Result<(), StoreError> {
        self.counted(
            Method::SettleInbox,
            self.inner.settle_inbox(id, applied, at),
        )
        .await
    }

    async fn pending_inbox(&self, limit: usize) -> Result<Vec<InboxItem>, StoreError> {
        self.counted(Method::PendingInbox, self.inner.pending_inbox(limit))
            .await
    }

    async fn get_pull_request(
        &self,
        repository_id: u64,
        number: u64,
    ) -> Result<Option<Versioned<scantix::state::PullRequestRecord>>, StoreError> {
        self.counted(
            Method::GetPullRequest,
            self.inner.get_pull_request(repository_id, number),
        )
        .await
    }

    async fn put_pull_request(
        &self,
        record: Guarded<scantix::state::PullRequestRecord>,
    ) -> Result<u64, StoreError> {
        self.counted(Method::PutPullRequest, self.inner.put_pull_request(record))
            .await
    }

    async fn create_draft(&self, ticket: &DraftTicket) -> Result<bool, StoreError> {
        self.counted(Method::CreateDraft, self.inner.create_draft(ticket))
            .await
    }

    async fn put_draft(&self, ticket: &DraftTicket) -> Result<(), StoreError> {
        self.counted(Method::PutDraft, self.inner.put_draft(ticket))
            .await
    }

    async fn get_draft(&self, key: &str) -> Result<Option<DraftTicket>, StoreError> {
        self.counted(Method::GetDraft, self.inner.get_draft(key))
            .await
    }
}
