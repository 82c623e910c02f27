//! Groups written by the old code, upgraded the first time they are read: their inline members
//! become finding records (with member entries), the group item becomes today's small record, and
//! the rule's texts move to the group's content item. See `scantix_core::records::legacy` for the
//! conversion.
//!
//! The upgrade writes the findings first, in transactions of `CHUNK` (each finding guarded by the
//! version it was read at), then the group guarded by its old version. A crash between leaves
//! findings already in today's form and the group still in the old one: the next read upgrades
//! again and writes the same records (the conversion is deterministic), so nothing is lost or
//! counted twice. Two readers upgrading at once race on the group's guard; the loser re-reads.

use super::DynamoStore;
use super::errors::store_error;
use super::items::{
    Item, KIND, KIND_CONTENT, KIND_FINDING, KIND_GROUP, KIND_INSTALLATION, Key, Write, decode_doc,
    decode_versioned, doc_value, document_item, text, version_of, versioned_write,
};
use super::lists::{group_diff, member_diff};
use aws_sdk_dynamodb::types::AttributeValue;
use scantix_core::ports::store::{Guarded, StoreError};
use scantix_core::records::legacy::{LegacyGroup, upgrade};
use scantix_core::records::{FindingRecord, GroupRecord, Versioned};
use std::collections::BTreeMap;

/// Findings per transaction: each is its put and up to two member-entry writes.
const CHUNK: usize = 30;
/// How often an upgrade starts over after losing a race before giving up (retryable).
const ATTEMPTS: usize = 5;

/// What [`DynamoStore::migrate`] found and did.
#[derive(Debug, Default, Clone, PartialEq, Eq, serde::Serialize)]
pub struct Migration {
    /// Groups in the table.
    pub groups: u64,
    /// Of those, groups that were in the inline-members format and are now upgraded.
    pub groups_upgraded: u64,
    /// Installations (re)written into the list of installations.
    pub installations_listed: u64,
}

impl DynamoStore {
    /// Brings a whole table written by older code to today's layout at once, instead of record
    /// by record as events touch them: every legacy group upgraded (with its list and member
    /// entries), every installation in the list of installations. Safe to repeat and to run
    /// beside live traffic: upgrades are guarded by the version read (a racing event wins and
    /// the upgrade re-reads), and list entries are rewritten identically. One Scan of the table.
    pub async fn migrate(&self) -> Result<Migration, StoreError> {
        let mut done = Migration::default();
        let mut start: Option<std::collections::HashMap<String, AttributeValue>> = None;
        loop {
            let output = self
                .client
                .scan()
                .table_name(&self.table)
                .filter_expression("#kind IN (:group, :installation)")
                .expression_attribute_names("#kind", KIND)
                .expression_attribute_values(":group", AttributeValue::S(KIND_GROUP.into()))
                .expression_attribute_values(
                    ":installation",
                    AttributeValue::S(KIND_INSTALLATION.into()),
                )
                .consistent_read(true)
                .set_exclusive_start_key(start.take())
                .send()
                .await
                .map_err(|e| store_error("Scan", e))?;
            for item in output.items() {
                match text(item, KIND) {
                    Some(KIND_GROUP) => {
                        done.groups += 1;
                        if scantix_core::records::legacy::is_legacy_group(&doc_value(item)?) {
                            self.upgrade_group(item).await?;
                            done.groups_upgraded += 1;
                        }
                    }
                    Some(KIND_INSTALLATION) => {
                        let id = Key::of(item)
                            .and_then(|key| key.pk.strip_prefix("I#")?.parse::<u64>().ok())
                            .ok_or_else(|| {
                                StoreError::Corrupt(format!(
                                    "an installation item without an installation key: {:?}",
                                    Key::of(item)
                                ))
                            })?;
                        self.transact(vec![Write::put(super::installation_entry(id))], None)
                            .await?;
                        done.installations_listed += 1;
                    }
                    _ => {}
                }
            }
            match output.last_evaluated_key {
                Some(last) if !last.is_empty() => start = Some(last),
                _ => return Ok(done),
            }
        }
    }

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

    /// The legacy group in `item` as its upgrade would leave it, and its texts, converted in
    /// memory only (a read-only store's reading; see `DynamoStore::read_only`). The version is
    /// the stored one: nothing was written.
    pub(super) async fn legacy_view(
        &self,
        item: &Item,
    ) -> Result<(Versioned<GroupRecord>, scantix_core::records::GroupContent), StoreError> {
        let legacy: LegacyGroup = decode_doc(item)?;
        let version = version_of(item)?;
        let keys = legacy.members.keys().map(Key::finding).collect();
        let found = self.batch_get(keys).await?;
        let mut stored: BTreeMap<_, FindingRecord> = BTreeMap::new();
        for item in found.values() {
            let record: Versioned<FindingRecord> = decode_versioned(item)?;
            stored.insert(record.value.fingerprint.clone(), record.value);
        }
        let upgraded = upgrade(&legacy, &stored);
        Ok((
            Versioned {
                value: upgraded.group,
                version,
            },
            upgraded.content,
        ))
    }

    /// The texts of group `key` when it is still in the old format (its record holds them);
    /// `None` when it is not, or there is no such group.
    pub(super) async fn legacy_content(
        &self,
        key: &scantix_core::identity::GroupKey,
    ) -> Result<Option<scantix_core::records::GroupContent>, StoreError> {
        let Some(item) = self.get_item_raw(Key::group(key)).await? else {
            return Ok(None);
        };
        if !scantix_core::records::legacy::is_legacy_group(&super::items::doc_value(&item)?) {
            return Ok(None);
        }
        Ok(Some(self.legacy_view(&item).await?.1))
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
