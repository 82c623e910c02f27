//! In-memory `Store`: the twin every test uses. It honours the same conditions as DynamoDB
//! (versions, put-if-absent, all-or-nothing commits) and answers the same lists in the same order
//! (`crate::ports::store::lists`), so tests that pass here exercise the same races and queries.
//! Lists are computed by looking at every record: fine for tests, which is all this store is for.

use crate::identity::{Fingerprint, GroupKey};
use crate::inbox::{Applied, InboxItem, InboxStatus};
use crate::ports::store::lists::{List, Members, group_lists};
use crate::ports::store::{
    Commit, EventKeys, EventRecords, Guarded, Inbox, InboxWriter, Page, Store, StoreError,
};
use crate::records::budget::{BudgetLedger, BudgetScope};
use crate::records::{
    AuditEntry, DeliveryRecord, FindingRecord, GroupContent, GroupRecord, InstallationRecord,
    PullRequestRecord, Versioned,
};
use async_trait::async_trait;
use std::collections::BTreeMap;
use std::sync::Mutex;

#[derive(Debug, Default, Clone)]
struct Tables {
    findings: BTreeMap<Fingerprint, (FindingRecord, u64)>,
    groups: BTreeMap<GroupKey, (GroupRecord, u64)>,
    contents: BTreeMap<GroupKey, GroupContent>,
    deliveries: BTreeMap<String, DeliveryRecord>,
    /// Per group, in the order written.
    audit: BTreeMap<GroupKey, Vec<AuditEntry>>,
    ticket_links: BTreeMap<String, GroupKey>,
    installations: BTreeMap<u64, (InstallationRecord, u64)>,
    inbox: BTreeMap<String, InboxItem>,
    /// (repository id, pull request number) → its record.
    pull_requests: BTreeMap<(u64, u64), (PullRequestRecord, u64)>,
    /// Analysis id → its open findings.
    analyses: BTreeMap<String, std::collections::BTreeSet<Fingerprint>>,
    /// Ticket budgets, by scope.
    budgets: BTreeMap<BudgetScope, (BudgetLedger, u64)>,
}

/// The in-memory store. Cheap to create; one mutex, held only for map operations.
#[derive(Debug, Default)]
pub struct MemoryStore {
    tables: Mutex<Tables>,
}

fn check<T>(current: Option<&(T, u64)>, expected: Option<u64>) -> Result<u64, StoreError> {
    match (current.map(|(_, v)| *v), expected) {
        (None, None) => Ok(1),
        (Some(have), Some(want)) if have == want => Ok(have + 1),
        _ => Err(StoreError::Conflict),
    }
}

fn versioned<T: Clone>((value, version): &(T, u64)) -> Versioned<T> {
    Versioned {
        value: value.clone(),
        version: *version,
    }
}

/// The page of `sorted` (sort key, item) after `after`, at most `limit` long.
fn page_of<T>(sorted: Vec<(String, T)>, after: Option<&str>, limit: usize) -> Page<T> {
    let mut rest: Vec<(String, T)> = sorted
        .into_iter()
        .filter(|(key, _)| after.is_none_or(|a| key.as_str() > a))
        .collect();
    let more = rest.len() > limit;
    rest.truncate(limit);
    let next = if more {
        rest.last().map(|(key, _)| key.clone())
    } else {
        None
    };
    Page {
        items: rest.into_iter().map(|(_, item)| item).collect(),
        next,
    }
}

impl MemoryStore {
    pub fn new() -> MemoryStore {
        MemoryStore::default()
    }

    /// Every group, in key order (tests look at the whole store with it).
    pub fn groups(&self) -> Vec<Versioned<GroupRecord>> {
        self.tables().groups.values().map(versioned).collect()
    }

    /// Every finding of `group`, in rank order.
    pub fn findings_of(&self, group: &GroupKey) -> Vec<FindingRecord> {
        let mut found: Vec<FindingRecord> = self
            .tables()
            .findings
            .values()
            .filter(|(f, _)| &f.group_key == group)
            .map(|(f, _)| f.clone())
            .collect();
        found.sort_by_key(FindingRecord::rank);
        found
    }

    fn tables(&self) -> std::sync::MutexGuard<'_, Tables> {
        // A panic while holding the lock cannot leave the maps half-written (every write below
        // checks first, then mutates), so a poisoned lock is still consistent.
        self.tables
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }
}

#[async_trait]
impl InboxWriter for MemoryStore {
    async fn put_inbox(&self, item: &InboxItem) -> Result<bool, StoreError> {
        let mut t = self.tables();
        if t.inbox.contains_key(&item.id) {
            return Ok(false);
        }
        t.inbox.insert(item.id.clone(), item.clone());
        Ok(true)
    }
}

#[async_trait]
impl Inbox for MemoryStore {
    async fn get_inbox(&self, id: &str) -> Result<Option<InboxItem>, StoreError> {
        Ok(self.tables().inbox.get(id).cloned())
    }

    async fn settle_inbox(
        &self,
        id: &str,
        applied: &Applied,
        _at: chrono::DateTime<chrono::Utc>,
    ) -> Result<(), StoreError> {
        let mut t = self.tables();
        // Like DynamoDB's conditional update: settling an item that is not there writes nothing.
        let Some(item) = t.inbox.get_mut(id) else {
            return Ok(());
        };
        match applied {
            Applied::Done { .. } => item.status = InboxStatus::Done,
            // Pending again if a commit had settled it (see `Commit::settles`).
            Applied::Failed { error } | Applied::Deferred { reason: error } => {
                item.status = InboxStatus::Pending;
                item.attempts += 1;
                item.last_error = Some(error.clone());
            }
        }
        Ok(())
    }

    async fn pending_inbox(&self, limit: usize) -> Result<Vec<InboxItem>, StoreError> {
        let t = self.tables();
        let mut pending: Vec<InboxItem> = t
            .inbox
            .values()
            .filter(|item| item.status == InboxStatus::Pending)
            .cloned()
            .collect();
        pending.sort_by(|a, b| a.received_at.cmp(&b.received_at).then(a.id.cmp(&b.id)));
        pending.truncate(limit);
        Ok(pending)
    }
}

#[async_trait]
impl Store for MemoryStore {
    async fn read_event(&self, keys: EventKeys<'_>) -> Result<EventRecords, StoreError> {
        let t = self.tables();
        Ok(EventRecords {
            delivery: t.deliveries.get(keys.delivery).cloned(),
            finding: t.findings.get(keys.finding).map(versioned),
            group: t.groups.get(keys.group).map(versioned),
            installation: keys
                .installation
                .and_then(|id| t.installations.get(&id).map(versioned)),
        })
    }

    async fn get_finding(
        &self,
        fingerprint: &Fingerprint,
    ) -> Result<Option<Versioned<FindingRecord>>, StoreError> {
        Ok(self.tables().findings.get(fingerprint).map(versioned))
    }

    async fn get_group(
        &self,
        key: &GroupKey,
    ) -> Result<Option<Versioned<GroupRecord>>, StoreError> {
        Ok(self.tables().groups.get(key).map(versioned))
    }

    async fn get_content(&self, key: &GroupKey) -> Result<Option<GroupContent>, StoreError> {
        Ok(self.tables().contents.get(key).cloned())
    }

    async fn get_delivery(&self, id: &str) -> Result<Option<DeliveryRecord>, StoreError> {
        Ok(self.tables().deliveries.get(id).cloned())
    }

    async fn commit(&self, commit: Commit) -> Result<(), StoreError> {
        let mut t = self.tables();
        // Check every condition before touching anything: all or nothing.
        if let Some(d) = &commit.delivery
            && t.deliveries.contains_key(&d.id)
        {
            return Err(StoreError::DuplicateDelivery(d.id.clone()));
        }
        let mut finding_versions = Vec::with_capacity(commit.findings.len());
        for f in &commit.findings {
            finding_versions.push(check(
                t.findings.get(&f.value.fingerprint),
                f.expected_version,
            )?);
        }
        let group_version = match &commit.group {
            Some(g) => Some(check(t.groups.get(&g.value.key), g.expected_version)?),
            None => None,
        };
        let mut budget_versions = Vec::with_capacity(commit.budgets.len());
        for b in &commit.budgets {
            budget_versions.push(check(t.budgets.get(&b.value.scope), b.expected_version)?);
        }
        if let Some(d) = commit.delivery {
            t.deliveries.insert(d.id.clone(), d);
        }
        for (f, v) in commit.findings.into_iter().zip(finding_versions) {
            t.findings.insert(f.value.fingerprint.clone(), (f.value, v));
        }
        if let (Some(g), Some(v)) = (commit.group, group_version) {
            t.groups.insert(g.value.key.clone(), (g.value, v));
        }
        if let Some(content) = commit.content {
            t.contents.entry(content.key.clone()).or_insert(content);
        }
        for (b, v) in commit.budgets.into_iter().zip(budget_versions) {
            t.budgets.insert(b.value.scope.clone(), (b.value, v));
        }
        for link in commit.links {
            t.ticket_links
                .insert(format!("{}#{}", link.tracker, link.ticket_key), link.group);
        }
        for entry in commit.audit {
            t.audit
                .entry(entry.group_key.clone())
                .or_default()
                .push(entry);
        }
        for entry in commit.analysis {
            let list = t.analyses.entry(entry.analysis).or_default();
            match entry.listed {
                true => list.insert(entry.fingerprint),
                false => list.remove(&entry.fingerprint),
            };
        }
        // As `settle_inbox`: an item that is not there is neither created nor an error.
        if let Some(settle) = commit.settles
            && let Some(item) = t.inbox.get_mut(&settle.id)
        {
            item.status = InboxStatus::Done;
        }
        Ok(())
    }

    async fn analysis_findings(
        &self,
        analysis: &str,
        after: Option<&str>,
        limit: usize,
    ) -> Result<Page<Fingerprint>, StoreError> {
        let t = self.tables();
        let listed: Vec<(String, Fingerprint)> = t
            .analyses
            .get(analysis)
            .into_iter()
            .flatten()
            .map(|fp| (fp.as_str().to_owned(), fp.clone()))
            .collect();
        Ok(page_of(listed, after, limit))
    }

    async fn get_budget(
        &self,
        scope: &BudgetScope,
    ) -> Result<Option<Versioned<BudgetLedger>>, StoreError> {
        Ok(self.tables().budgets.get(scope).map(versioned))
    }

    async fn put_group(&self, group: Guarded<GroupRecord>) -> Result<u64, StoreError> {
        let mut t = self.tables();
        let version = check(t.groups.get(&group.value.key), group.expected_version)?;
        t.groups
            .insert(group.value.key.clone(), (group.value, version));
        Ok(version)
    }

    async fn group_findings(
        &self,
        group: &GroupKey,
        which: Members,
        after: Option<&str>,
        limit: usize,
    ) -> Result<Page<Versioned<FindingRecord>>, StoreError> {
        let t = self.tables();
        let mut ranked: Vec<(String, Versioned<FindingRecord>)> = t
            .findings
            .values()
            .filter(|(f, _)| &f.group_key == group)
            .map(|entry| (entry.0.rank(), versioned(entry)))
            .filter(|(rank, _)| which.admits(rank))
            .collect();
        ranked.sort_by(|a, b| a.0.cmp(&b.0));
        Ok(page_of(ranked, after, limit))
    }

    async fn groups_in(
        &self,
        list: &List,
        after: Option<&str>,
        limit: usize,
    ) -> Result<Page<Versioned<GroupRecord>>, StoreError> {
        let t = self.tables();
        let (stored, below) = list.stored();
        let mut listed: Vec<(String, Versioned<GroupRecord>)> = t
            .groups
            .values()
            .filter_map(|entry| {
                group_lists(&entry.0)
                    .into_iter()
                    .find(|(l, _)| *l == stored)
                    .map(|(_, sort)| (sort, versioned(entry)))
            })
            .filter(|(sort, _)| below.as_ref().is_none_or(|b| sort < b))
            .collect();
        listed.sort_by(|a, b| a.0.cmp(&b.0));
        Ok(page_of(listed, after, limit))
    }

    async fn audit_log(&self, key: &GroupKey) -> Result<Vec<AuditEntry>, StoreError> {
        let mut entries = self.tables().audit.get(key).cloned().unwrap_or_default();
        entries.sort_by_key(|e| e.at);
        Ok(entries)
    }

    async fn changes_on(
        &self,
        day: chrono::NaiveDate,
        after: Option<&str>,
        limit: usize,
    ) -> Result<Page<AuditEntry>, StoreError> {
        let t = self.tables();
        let mut entries: Vec<(String, AuditEntry)> = t
            .audit
            .values()
            .flat_map(|log| log.iter().enumerate())
            .filter(|(_, e)| e.at.date_naive() == day)
            .map(|(n, e)| {
                (
                    format!("{}#{n:012}", crate::ports::store::lists::audit_sort_key(e)),
                    e.clone(),
                )
            })
            .collect();
        entries.sort_by(|a, b| a.0.cmp(&b.0));
        Ok(page_of(entries, after, limit))
    }

    async fn group_for_ticket(
        &self,
        tracker: &str,
        ticket_key: &str,
    ) -> Result<Option<GroupKey>, StoreError> {
        Ok(self
            .tables()
            .ticket_links
            .get(&format!("{tracker}#{ticket_key}"))
            .cloned())
    }

    async fn get_installation(
        &self,
        id: u64,
    ) -> Result<Option<Versioned<InstallationRecord>>, StoreError> {
        Ok(self.tables().installations.get(&id).map(versioned))
    }

    async fn put_installation(
        &self,
        record: Guarded<InstallationRecord>,
    ) -> Result<u64, StoreError> {
        let mut t = self.tables();
        let version = check(
            t.installations.get(&record.value.id),
            record.expected_version,
        )?;
        t.installations
            .insert(record.value.id, (record.value, version));
        Ok(version)
    }

    async fn installations(&self) -> Result<Vec<Versioned<InstallationRecord>>, StoreError> {
        Ok(self
            .tables()
            .installations
            .values()
            .map(versioned)
            .collect())
    }

    async fn get_pull_request(
        &self,
        repository_id: u64,
        number: u64,
    ) -> Result<Option<Versioned<PullRequestRecord>>, StoreError> {
        Ok(self
            .tables()
            .pull_requests
            .get(&(repository_id, number))
            .map(versioned))
    }

    async fn put_pull_request(
        &self,
        record: Guarded<PullRequestRecord>,
    ) -> Result<u64, StoreError> {
        let mut t = self.tables();
        let key = (record.value.repository.id, record.value.number);
        let version = check(t.pull_requests.get(&key), record.expected_version)?;
        t.pull_requests.insert(key, (record.value, version));
        Ok(version)
    }

    async fn all_groups(
        &self,
        after: Option<&str>,
        limit: usize,
    ) -> Result<Page<Versioned<GroupRecord>>, StoreError> {
        let t = self.tables();
        let all = t
            .groups
            .iter()
            .map(|(key, entry)| (key.as_str().to_owned(), versioned(entry)))
            .collect();
        Ok(page_of(all, after, limit))
    }
}
