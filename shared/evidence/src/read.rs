//! Reading what evidence needs through the store's access patterns: the audit entries of a period
//! from the day index (one query per day, `Store::changes_on`), and the finding, group and texts an
//! entry names, each read once however many entries name it.

use crate::EvidenceError;
use chrono::{DateTime, Utc};
use scantix_core::identity::{Fingerprint, GroupKey};
use scantix_core::ports::store::{Page, Store, read_all};
use scantix_core::records::{AuditEntry, FindingRecord, GroupContent, GroupRecord};
use std::collections::HashMap;

/// How many entries one read of the day index asks for.
const PAGE: usize = 500;

/// Every audit entry written from `from` to `to` (both included), oldest first: one query of the
/// day index per day of the period, whatever the size of the store.
pub async fn changes_between(
    store: &dyn Store,
    from: DateTime<Utc>,
    to: DateTime<Utc>,
) -> Result<Vec<AuditEntry>, EvidenceError> {
    let mut entries = Vec::new();
    let mut day = from.date_naive();
    while day <= to.date_naive() {
        let of_day: Vec<AuditEntry> = read_all(|after: Option<String>| async move {
            let page: Page<AuditEntry> = store.changes_on(day, after.as_deref(), PAGE).await?;
            Ok(page)
        })
        .await?;
        entries.extend(of_day.into_iter().filter(|e| e.at >= from && e.at <= to));
        let Some(next) = day.succ_opt() else { break };
        day = next;
    }
    // The day index is in time order already; a stable sort keeps the order of entries written
    // at the same instant (their order in the commit).
    entries.sort_by_key(|e| e.at);
    Ok(entries)
}

/// The records audit entries name, read on first use and kept: an export of a thousand entries
/// about forty groups reads forty groups.
#[derive(Default)]
pub struct Records {
    findings: HashMap<Fingerprint, Option<FindingRecord>>,
    groups: HashMap<GroupKey, Option<GroupRecord>>,
    contents: HashMap<GroupKey, Option<GroupContent>>,
}

impl Records {
    pub async fn finding(
        &mut self,
        store: &dyn Store,
        fingerprint: &Fingerprint,
    ) -> Result<Option<&FindingRecord>, EvidenceError> {
        if !self.findings.contains_key(fingerprint) {
            let read = store.get_finding(fingerprint).await?.map(|v| v.value);
            self.findings.insert(fingerprint.clone(), read);
        }
        Ok(self.findings.get(fingerprint).and_then(Option::as_ref))
    }

    pub async fn group(
        &mut self,
        store: &dyn Store,
        key: &GroupKey,
    ) -> Result<Option<&GroupRecord>, EvidenceError> {
        if !self.groups.contains_key(key) {
            let read = store.get_group(key).await?.map(|v| v.value);
            self.groups.insert(key.clone(), read);
        }
        Ok(self.groups.get(key).and_then(Option::as_ref))
    }

    pub async fn content(
        &mut self,
        store: &dyn Store,
        key: &GroupKey,
    ) -> Result<Option<&GroupContent>, EvidenceError> {
        if !self.contents.contains_key(key) {
            let read = store.get_content(key).await?;
            self.contents.insert(key.clone(), read);
        }
        Ok(self.contents.get(key).and_then(Option::as_ref))
    }
}
