//! In-memory `Store`: the twin every test uses, and the local mode's embedded store. It honours the
//! same conditions as DynamoDB (versions, put-if-absent, all-or-nothing commits), so tests that pass
//! here exercise the same races. `save`/`load` keep it in a JSON file between local runs.

use super::{Commit, Guarded, Store, StoreError};
use crate::identity::{Fingerprint, GroupKey};
use crate::inbox::{Applied, InboxItem, InboxStatus};
use crate::state::{
    AuditEntry, DeliveryRecord, FindingRecord, GroupRecord, InstallationRecord, Versioned,
};
use crate::tracker::draft::DraftTicket;
use async_trait::async_trait;
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;
use std::path::Path;
use std::sync::Mutex;

#[derive(Debug, Default, Clone, Serialize, Deserialize)]
struct Tables {
    findings: BTreeMap<Fingerprint, (FindingRecord, u64)>,
    groups: BTreeMap<GroupKey, (GroupRecord, u64)>,
    deliveries: BTreeMap<String, DeliveryRecord>,
    audit: BTreeMap<GroupKey, Vec<AuditEntry>>,
    ticket_links: BTreeMap<String, GroupKey>,
    drafts: BTreeMap<String, DraftTicket>,
    #[serde(default)]
    installations: BTreeMap<u64, (InstallationRecord, u64)>,
    #[serde(default)]
    inbox: BTreeMap<String, InboxItem>,
    /// (repository id, pull request number) → its record.
    #[serde(default, with = "pull_request_entries")]
    pull_requests: BTreeMap<(u64, u64), (crate::state::PullRequestRecord, u64)>,
}

/// Pull request records as a JSON list: JSON object keys must be strings, these are pairs.
mod pull_request_entries {
    use crate::state::PullRequestRecord;
    use serde::{Deserialize, Deserializer, Serialize, Serializer};
    use std::collections::BTreeMap;

    type Entries = BTreeMap<(u64, u64), (PullRequestRecord, u64)>;

    pub fn serialize<S: Serializer>(entries: &Entries, serializer: S) -> Result<S::Ok, S::Error> {
        let list: Vec<&(PullRequestRecord, u64)> = entries.values().collect();
        list.serialize(serializer)
    }

    pub fn deserialize<'de, D: Deserializer<'de>>(deserializer: D) -> Result<Entries, D::Error> {
        let list = Vec::<(PullRequestRecord, u64)>::deserialize(deserializer)?;
        Ok(list
            .into_iter()
            .map(|(record, version)| ((record.repository.id, record.number), (record, version)))
            .collect())
    }
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

impl MemoryStore {
    pub fn new() -> MemoryStore {
        MemoryStore::default()
    }

    fn tables(&self) -> std::sync::MutexGuard<'_, Tables> {
        // A panic while holding the lock cannot leave the maps half-written (every write below
        // checks first, then mutates), so a poisoned lock is still consistent.
        self.tables
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }

    /// Loads a store saved by `save`; a missing file is an empty store.
    pub fn load(path: &Path) -> Result<MemoryStore, StoreError> {
        let tables = match std::fs::read(path) {
            Ok(bytes) => serde_json::from_slice(&bytes)
                .map_err(|e| StoreError::Corrupt(format!("{}: {e}", path.display())))?,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Tables::default(),
            Err(e) => return Err(StoreError::Unavailable(format!("{}: {e}", path.display()))),
        };
        Ok(MemoryStore {
            tables: Mutex::new(tables),
        })
    }

    /// Writes the whole store to `path` (atomically: a temporary file renamed over it).
    pub fn save(&self, path: &Path) -> Result<(), StoreError> {
        let json =
            serde_json::to_vec(&*self.tables()).map_err(|e| StoreError::Corrupt(e.to_string()))?;
        let tmp = path.with_extension("tmp");
        let io = |e: std::io::Error| StoreError::Unavailable(format!("{}: {e}", path.display()));
        if let Some(dir) = path.parent() {
            std::fs::create_dir_all(dir).map_err(io)?;
        }
        std::fs::write(&tmp, json).map_err(io)?;
        std::fs::rename(&tmp, path).map_err(io)
    }

    /// Every draft ticket, for listings.
    pub fn drafts(&self) -> Vec<DraftTicket> {
        self.tables().drafts.values().cloned().collect()
    }
}

#[async_trait]
impl Store for MemoryStore {
    async fn get_finding(
        &self,
        fingerprint: &Fingerprint,
    ) -> Result<Option<Versioned<FindingRecord>>, StoreError> {
        let t = self.tables();
        Ok(t.findings
            .get(fingerprint)
            .map(|(value, version)| Versioned {
                value: value.clone(),
                version: *version,
            }))
    }

    async fn get_group(
        &self,
        key: &GroupKey,
    ) -> Result<Option<Versioned<GroupRecord>>, StoreError> {
        let t = self.tables();
        Ok(t.groups.get(key).map(|(value, version)| Versioned {
            value: value.clone(),
            version: *version,
        }))
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
        let finding_version = match &commit.finding {
            Some(g) => Some(check(
                t.findings.get(&g.value.fingerprint),
                g.expected_version,
            )?),
            None => None,
        };
        let group_version = match &commit.group {
            Some(g) => Some(check(t.groups.get(&g.value.key), g.expected_version)?),
            None => None,
        };
        if let Some(d) = commit.delivery {
            t.deliveries.insert(d.id.clone(), d);
        }
        if let (Some(g), Some(v)) = (commit.finding, finding_version) {
            t.findings.insert(g.value.fingerprint.clone(), (g.value, v));
        }
        if let (Some(g), Some(v)) = (commit.group, group_version) {
            t.groups.insert(g.value.key.clone(), (g.value, v));
        }
        for entry in commit.audit {
            t.audit
                .entry(entry.group_key.clone())
                .or_default()
                .push(entry);
        }
        Ok(())
    }

    async fn put_group(&self, group: Guarded<GroupRecord>) -> Result<u64, StoreError> {
        let mut t = self.tables();
        let version = check(t.groups.get(&group.value.key), group.expected_version)?;
        t.groups
            .insert(group.value.key.clone(), (group.value, version));
        Ok(version)
    }

    async fn list_groups(&self) -> Result<Vec<Versioned<GroupRecord>>, StoreError> {
        let t = self.tables();
        Ok(t.groups
            .values()
            .map(|(value, version)| Versioned {
                value: value.clone(),
                version: *version,
            })
            .collect())
    }

    async fn audit_log(&self, key: &GroupKey) -> Result<Vec<AuditEntry>, StoreError> {
        let mut entries = self.tables().audit.get(key).cloned().unwrap_or_default();
        entries.sort_by_key(|e| e.at);
        Ok(entries)
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

    async fn link_ticket(
        &self,
        tracker: &str,
        ticket_key: &str,
        group: &GroupKey,
    ) -> Result<(), StoreError> {
        self.tables()
            .ticket_links
            .insert(format!("{tracker}#{ticket_key}"), group.clone());
        Ok(())
    }

    async fn get_installation(
        &self,
        id: u64,
    ) -> Result<Option<Versioned<InstallationRecord>>, StoreError> {
        let t = self.tables();
        Ok(t.installations.get(&id).map(|(value, version)| Versioned {
            value: value.clone(),
            version: *version,
        }))
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

    async fn list_installations(&self) -> Result<Vec<Versioned<InstallationRecord>>, StoreError> {
        let t = self.tables();
        Ok(t.installations
            .values()
            .map(|(value, version)| Versioned {
                value: value.clone(),
                version: *version,
            })
            .collect())
    }

    async fn put_inbox(&self, item: &InboxItem) -> Result<bool, StoreError> {
        let mut t = self.tables();
        if t.inbox.contains_key(&item.id) {
            return Ok(false);
        }
        t.inbox.insert(item.id.clone(), item.clone());
        Ok(true)
    }

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
            Applied::Failed { error } => {
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

    async fn create_draft(&self, ticket: &DraftTicket) -> Result<bool, StoreError> {
        let mut t = self.tables();
        if t.drafts.contains_key(&ticket.key) {
            return Ok(false);
        }
        t.drafts.insert(ticket.key.clone(), ticket.clone());
        Ok(true)
    }

    async fn put_draft(&self, ticket: &DraftTicket) -> Result<(), StoreError> {
        self.tables()
            .drafts
            .insert(ticket.key.clone(), ticket.clone());
        Ok(())
    }

    async fn get_draft(&self, key: &str) -> Result<Option<DraftTicket>, StoreError> {
        Ok(self.tables().drafts.get(key).cloned())
    }

    // ----- Pull requests -----

    async fn get_pull_request(
        &self,
        repository_id: u64,
        number: u64,
    ) -> Result<Option<Versioned<crate::state::PullRequestRecord>>, StoreError> {
        let t = self.tables();
        Ok(t.pull_requests
            .get(&(repository_id, number))
            .map(|(value, version)| Versioned {
                value: value.clone(),
                version: *version,
            }))
    }

    async fn put_pull_request(
        &self,
        record: Guarded<crate::state::PullRequestRecord>,
    ) -> Result<u64, StoreError> {
        let mut t = self.tables();
        let key = (record.value.repository.id, record.value.number);
        let version = check(t.pull_requests.get(&key), record.expected_version)?;
        t.pull_requests.insert(key, (record.value, version));
        Ok(version)
    }
}
