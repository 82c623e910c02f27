//! The old local mode's store, a JSON file (`MemoryStore::save` of the code before findings were
//! records of their own), imported into the database once: groups upgraded by
//! `scantix_core::records::legacy::upgrade` (their inline members become finding records, the
//! rule's texts the group's content), and findings, deliveries, the audit log, ticket links,
//! installations, the inbox and pull requests as they were. Draft tickets are dropped: a draft now
//! lives in its group (its ticket and state were already there), and only their comments are lost.
//!
//! The import is one transaction, recorded by the file's digest in `legacy_imports`; the file is
//! then renamed to `store.json.imported`. A crash between the two leaves the file in place and the
//! next open only renames it.

use super::errors::sql_error;
use super::{
    apply_commit, put_content, put_finding, put_group, put_inbox, put_installation,
    put_pull_request, sql_id, timestamp,
};
use rusqlite::types::ToSql;
use rusqlite::{Connection, OptionalExtension, TransactionBehavior, params};
use scantix_core::identity::{Fingerprint, GroupKey};
use scantix_core::inbox::InboxItem;
use scantix_core::ports::store::{Commit, Guarded, StoreError, TicketLink};
use scantix_core::records::legacy::{LegacyGroup, is_legacy_group, upgrade};
use scantix_core::records::{
    AuditEntry, DeliveryRecord, FindingRecord, GroupRecord, InstallationRecord, PullRequestRecord,
};
use serde::Deserialize;
use sha2::{Digest, Sha256};
use std::collections::BTreeMap;
use std::path::Path;

/// The old local mode's store file, looked for in the store's directory.
pub const LEGACY_FILE: &str = "store.json";

/// The old JSON store, as `MemoryStore::save` wrote it. Record types that did not change are read
/// as today's types; groups as `serde_json::Value` first, to tell the old shape from today's.
#[derive(Debug, Deserialize)]
struct LegacyTables {
    #[serde(default)]
    findings: BTreeMap<Fingerprint, (FindingRecord, u64)>,
    #[serde(default)]
    groups: BTreeMap<GroupKey, (serde_json::Value, u64)>,
    #[serde(default)]
    deliveries: BTreeMap<String, DeliveryRecord>,
    #[serde(default)]
    audit: BTreeMap<GroupKey, Vec<AuditEntry>>,
    /// `<tracker>#<ticket key>` → group.
    #[serde(default)]
    ticket_links: BTreeMap<String, GroupKey>,
    #[serde(default)]
    installations: BTreeMap<u64, (InstallationRecord, u64)>,
    #[serde(default)]
    inbox: BTreeMap<String, InboxItem>,
    /// A list: JSON object keys are strings, and these were keyed by pairs.
    #[serde(default)]
    pull_requests: Vec<(PullRequestRecord, u64)>,
}

/// Imports the JSON store at `path` if there is one (see the module docs).
pub(super) fn import_legacy(conn: &mut Connection, path: &Path) -> Result<(), StoreError> {
    let bytes = match std::fs::read(path) {
        Ok(bytes) => bytes,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(()),
        Err(e) => {
            return Err(StoreError::Unavailable(format!(
                "reading the old store {}: {e}",
                path.display()
            )));
        }
    };
    let digest = hex::encode(Sha256::digest(&bytes));
    let tx = conn
        .transaction_with_behavior(TransactionBehavior::Immediate)
        .map_err(sql_error)?;
    let done: Option<String> = tx
        .query_row(
            "SELECT digest FROM legacy_imports WHERE digest = ?1",
            [&digest],
            |row| row.get(0),
        )
        .optional()
        .map_err(sql_error)?;
    if done.is_none() {
        let has_records: bool = tx
            .query_row(
                "SELECT EXISTS (SELECT 1 FROM groups) OR EXISTS (SELECT 1 FROM findings)
                     OR EXISTS (SELECT 1 FROM deliveries)",
                [],
                |row| row.get(0),
            )
            .map_err(sql_error)?;
        if has_records {
            // Merging two stores would let the older one's records overwrite newer ones.
            return Err(StoreError::Rejected(format!(
                "{} is a store of an older scantix, and the database beside it already has \
                 records: move one of them away (to import the file, move the database)",
                path.display()
            )));
        }
        let tables: LegacyTables = serde_json::from_slice(&bytes).map_err(|e| {
            StoreError::Corrupt(format!(
                "the old store {} is unreadable: {e}",
                path.display()
            ))
        })?;
        write_tables(&tx, tables)?;
        tx.execute(
            "INSERT INTO legacy_imports (digest, imported_at) VALUES (?1, ?2)",
            params![digest, timestamp(chrono::Utc::now())],
        )
        .map_err(sql_error)?;
    }
    tx.commit().map_err(sql_error)?;
    let mut imported = path.as_os_str().to_owned();
    imported.push(".imported");
    std::fs::rename(path, &imported).map_err(|e| {
        StoreError::Unavailable(format!(
            "renaming the imported old store {}: {e}",
            path.display()
        ))
    })?;
    tracing::info!(file = %path.display(), "old JSON store imported");
    Ok(())
}

fn write_tables(tx: &rusqlite::Transaction<'_>, tables: LegacyTables) -> Result<(), StoreError> {
    let mut findings = tables.findings;
    for (key, (doc, version)) in tables.groups {
        let corrupt = |e: serde_json::Error| StoreError::Corrupt(format!("old group {key}: {e}"));
        if !is_legacy_group(&doc) {
            let group: GroupRecord = serde_json::from_value(doc).map_err(corrupt)?;
            put_versioned_group(tx, group, version)?;
            continue;
        }
        let legacy: LegacyGroup = serde_json::from_value(doc).map_err(corrupt)?;
        let stored: BTreeMap<Fingerprint, FindingRecord> = legacy
            .members
            .keys()
            .filter_map(|fp| {
                findings
                    .get(fp)
                    .map(|(record, _)| (fp.clone(), record.clone()))
            })
            .collect();
        let upgraded = upgrade(&legacy, &stored);
        for record in upgraded.findings {
            // A member's record changes in the upgrade: its version moves on, as in DynamoDB's.
            let version = match findings.remove(&record.fingerprint) {
                Some((_, version)) => version + 1,
                None => 1,
            };
            put_versioned_finding(tx, record, version)?;
        }
        put_versioned_group(tx, upgraded.group, version + 1)?;
        put_content(tx, &upgraded.content)?;
    }
    // Findings that no group lists (the old code always put a finding in a group; kept rather
    // than lost).
    for (_, (record, version)) in findings {
        let record = FindingRecord {
            finding: FindingRecord::slim(record.finding.clone()),
            ..record
        };
        put_versioned_finding(tx, record, version)?;
    }
    for delivery in tables.deliveries.into_values() {
        apply_commit(
            tx,
            &Commit {
                delivery: Some(delivery),
                ..Commit::default()
            },
        )?;
    }
    let mut commit = Commit::default();
    for (link, group) in tables.ticket_links {
        let Some((tracker, ticket_key)) = link.split_once('#') else {
            return Err(StoreError::Corrupt(format!(
                "old ticket link {link:?}: no `<tracker>#<key>`"
            )));
        };
        commit.links.push(TicketLink {
            tracker: tracker.to_owned(),
            ticket_key: ticket_key.to_owned(),
            group,
        });
    }
    // Each group's log in the order the old store kept it (the order it was written).
    commit.audit = tables.audit.into_values().flatten().collect();
    apply_commit(tx, &commit)?;
    for (record, version) in tables.installations.into_values() {
        let id = sql_id("installation", record.id)?;
        put_installation(tx, &Guarded::new(record))?;
        set_version(
            tx,
            "UPDATE installations SET version = ?1 WHERE id = ?2",
            &[&id],
            version,
        )?;
    }
    for item in tables.inbox.into_values() {
        put_inbox(tx, &item)?;
    }
    for (record, version) in tables.pull_requests {
        let (repository, number) = (record.repository.id, record.number);
        put_pull_request(tx, &Guarded::new(record))?;
        set_version(
            tx,
            "UPDATE pull_requests SET version = ?1 WHERE repository_id = ?2 AND number = ?3",
            &[
                &sql_id("repository", repository)?,
                &sql_id("pull request", number)?,
            ],
            version,
        )?;
    }
    Ok(())
}

/// Writes `group` as new, then gives it the version it had (plus one when upgraded).
fn put_versioned_group(
    tx: &rusqlite::Transaction<'_>,
    group: GroupRecord,
    version: u64,
) -> Result<(), StoreError> {
    put_group(tx, &Guarded::new(group.clone()))?;
    set_version(
        tx,
        "UPDATE groups SET version = ?1 WHERE key = ?2",
        &[&group.key.as_str()],
        version,
    )
}

fn put_versioned_finding(
    tx: &rusqlite::Transaction<'_>,
    record: FindingRecord,
    version: u64,
) -> Result<(), StoreError> {
    let fingerprint = record.fingerprint.clone();
    put_finding(tx, &Guarded::new(record))?;
    set_version(
        tx,
        "UPDATE findings SET version = ?1 WHERE fingerprint = ?2",
        &[&fingerprint.as_str()],
        version,
    )
}

/// Runs `update` (`?1` the version, `?2`… the record's key): a record imported keeps its version.
fn set_version(
    tx: &rusqlite::Transaction<'_>,
    update: &str,
    key: &[&dyn ToSql],
    version: u64,
) -> Result<(), StoreError> {
    let version = sql_id("version", version)?;
    let mut args: Vec<&dyn ToSql> = vec![&version];
    args.extend_from_slice(key);
    tx.execute(update, args.as_slice()).map_err(sql_error)?;
    Ok(())
}
