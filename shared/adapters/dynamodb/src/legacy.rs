//! Groups written by the old code, upgraded the first time they are read: their inline members
//! become finding records (with member entries), the group item becomes today's small record, and
//! the rule's texts move to the group's content item. See `scantix_core::records::legacy` for the conversion.
//!
//! The upgrade writes the findings first, in transactions of `CHUNK` (each finding guarded by the
//! version it was read at), then the group guarded by its old version. A crash between leaves
//! findings already in today's form and the group still in the old one: the next read upgrades
//! again and writes the same records (the conversion is deterministic), so nothing is lost or
//! counted twice. Two readers upgrading at once race on the group's guard; the loser re-reads.

use super::DynamoStore;
use super::items::{
    Item, KIND_CONTENT, KIND_FINDING, KIND_GROUP, Key, Write, decode_doc, decode_versioned,
    document_item, version_of, versioned_write,
};
use super::lists::{group_diff, member_diff};
use scantix_core::ports::store::{Guarded, StoreError};
use scantix_core::records::legacy::{LegacyGroup, upgrade};
use scantix_core::records::{FindingRecord, GroupRecord, Versioned};
use std::collections::BTreeMap;

/// Findings per transaction: each is its put and up to two member-entry writes.
const CHUNK: usize = 30;
/// How often an upgrade starts over after losing a race before giving up (retryable).
const ATTEMPTS: usize = 5;

impl DynamoStore {
    /// Upgrades the legacy group in `item`; returns it as today's record.
    pub(super) async fn upgrade_group(
        &self,
        item: &Item,
    ) -> Result<Versioned<GroupRecord>, StoreError> {
        let mut item = item.clone();
        for _ in 0..ATTEMPTS {
            let legacy: LegacyGroup = decode_doc(&item)?;
            let version = version_of(&item)?;
            match self.try_upgrade(&legacy, version).await {
                Ok(group) => {
                    tracing::info!(group = %legacy.key, findings = legacy.members.len(), "legacy group upgraded");
                    return Ok(group);
                }
                Err(StoreError::Conflict) => {
                    // Somebody wrote meanwhile: an event on a member, or another upgrade.
                    let Some(current) = self.get_item_raw(Key::group(&legacy.key)).await? else {
                        return Err(StoreError::Corrupt(format!(
                            "group {} vanished during its upgrade",
                            legacy.key
                        )));
                    };
                    if !scantix_core::records::legacy::is_legacy_group(&super::items::doc_value(
                        &current,
                    )?) {
                        return decode_versioned(&current);
                    }
                    item = current;
                }
                Err(e) => return Err(e),
            }
        }
        Err(StoreError::Unavailable(
            "a legacy group kept changing during its upgrade; try again".into(),
        ))
    }

    async fn try_upgrade(
        &self,
        legacy: &LegacyGroup,
        version: u64,
    ) -> Result<Versioned<GroupRecord>, StoreError> {
        let keys = legacy.members.keys().map(Key::finding).collect();
        let found = self.batch_get(keys).await?;
        let mut stored: BTreeMap<_, Versioned<FindingRecord>> = BTreeMap::new();
        for item in found.values() {
            let record: Versioned<FindingRecord> = decode_versioned(item)?;
            stored.insert(record.value.fingerprint.clone(), record);
        }
        let plain = stored
            .iter()
            .map(|(fp, r)| (fp.clone(), r.value.clone()))
            .collect();
        let upgraded = upgrade(legacy, &plain);
        for chunk in upgraded.findings.chunks(CHUNK) {
            let mut writes = Vec::new();
            for record in chunk {
                let read = stored.get(&record.fingerprint);
                if read.is_some_and(|r| r.value == *record) {
                    continue;
                }
                let guarded = Guarded::replacing(record.clone(), read);
                writes.push(
                    versioned_write(Key::finding(&record.fingerprint), KIND_FINDING, &guarded)?.0,
                );
                writes.extend(member_diff(guarded.previous.as_ref(), record));
            }
            self.transact(writes, None).await?;
        }
        let guarded = Guarded {
            value: upgraded.group.clone(),
            expected_version: Some(version),
            previous: None,
        };
        let mut writes = vec![versioned_write(Key::group(&legacy.key), KIND_GROUP, &guarded)?.0];
        writes.extend(group_diff(None, &upgraded.group));
        writes.push(Write::put(document_item(
            Key::content(&legacy.key),
            KIND_CONTENT,
            &upgraded.content,
        )?));
        self.transact(writes, None).await?;
        Ok(Versioned {
            value: upgraded.group,
            version: version + 1,
        })
    }

    /// One item by key (consistent), as stored.
    pub(super) async fn get_item_raw(&self, key: Key) -> Result<Option<Item>, StoreError> {
        self.get_item(key).await
    }
}
