//! SQLite `Store` (the port `scantix_core::ports::store::Store`): the local mode's embedded
//! database (`scantix serve`, `deliver`, `sync`), one file beside the working copy. Same semantics
//! as the memory store and DynamoDB (versions, put-if-absent, all-or-nothing commits, the lists of
//! `scantix_core::ports::store::lists` in their order), with writes that cost what they change and
//! reads that never wait for a writer. Not here: choosing the store (`scantix-wiring`), or what is
//! stored (the core's records).
//!
//! # How
//! - One transaction per write (`BEGIN IMMEDIATE`: the write lock is taken first, so two writers
//!   queue instead of deadlocking on a lock upgrade). Conditions are checked inside it and any
//!   failure rolls the whole of it back: a commit lands entirely or not at all, and a process
//!   killed mid-commit leaves the database as of the last commit (SQLite's write-ahead log).
//! - Lists are indexed columns, kept in the write that changes their record: a finding's `rank`
//!   (a group's findings in rank order), one `group_lists` row per list a group is in, the audit
//!   log by group and by day. A list read is one index range, a page at a time.
//! - Reads run on their own connections (a small pool) in a read transaction each, so one read
//!   sees one state, and many read while one writes. The port is async and SQLite is not: every
//!   call runs on tokio's blocking pool.
//! - Page cursors are the last sort key of the page, as in the memory store.
//!
//! # Layout
//! - this file: `SqliteStore`, the port's methods.
//! - `schema`: the tables, indexes and settings.
//! - `import`: a JSON store of the old local mode found beside the database, imported once when
//!   the store opens.
//! - `errors`: SQLite's errors → `StoreError`.

mod analysis;
mod errors;
mod import;
mod schema;

pub use import::LEGACY_FILE;
pub use schema::SCHEMA_VERSION;

use async_trait::async_trait;
use errors::{corrupt, sql_error};
use rusqlite::types::ToSql;
use rusqlite::{Connection, OptionalExtension, Transaction, TransactionBehavior, params};
use scantix_core::identity::{Fingerprint, GroupKey};
use scantix_core::inbox::{Applied, InboxItem, InboxStatus};
use scantix_core::ports::store::lists::{List, Members, audit_sort_key, group_lists, member_entry};
use scantix_core::ports::store::{
    Commit, EventKeys, EventRecords, Guarded, Inbox, InboxWriter, Page, Store, StoreError,
    TicketLink,
};
use scantix_core::records::budget::{BudgetLedger, BudgetScope};
use scantix_core::records::{
    AuditEntry, DeliveryRecord, FindingRecord, GroupContent, GroupRecord, InstallationRecord,
    PullRequestRecord, Versioned,
};
use serde::Serialize;
use serde::de::DeserializeOwned;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex, MutexGuard};

/// The database's file name in the store's directory.
pub const DATABASE_FILE: &str = "store.sqlite3";

/// Idle reader connections kept open for the next reads (more are opened under load, and closed
/// after).
const IDLE_READERS: usize = 4;

/// The `Store` over one SQLite database (see the module docs). Cheap to clone; clones share the
/// connections.
#[derive(Clone)]
pub struct SqliteStore {
    shared: Arc<Shared>,
}

impl std::fmt::Debug for SqliteStore {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SqliteStore")
            .field("path", &self.shared.path)
            .finish()
    }
}

struct Shared {
    path: PathBuf,
    /// The one connection this process writes through: writes queue here rather than on SQLite's
    /// file lock (other processes still meet that, and wait up to the busy timeout).
    writer: Mutex<Connection>,
    /// Idle reader connections.
    readers: Mutex<Vec<Connection>>,
}

/// Locks `mutex`; a panic while it was held cannot have left a transaction open (a dropped
/// `Transaction` rolls back), so a poisoned lock still guards a consistent connection.
fn lock<T>(mutex: &Mutex<T>) -> MutexGuard<'_, T> {
    mutex
        .lock()
        .unwrap_or_else(|poisoned| poisoned.into_inner())
}

impl SqliteStore {
    /// Opens (creating it if needed) the store in directory `dir`: the database `DATABASE_FILE`,
    /// brought to the current schema, with the old local mode's JSON store (`LEGACY_FILE`)
    /// imported if it is still there.
    pub fn open(dir: impl AsRef<Path>) -> Result<SqliteStore, StoreError> {
        let dir = dir.as_ref();
        std::fs::create_dir_all(dir).map_err(|e| {
            StoreError::Unavailable(format!(
                "creating the store directory {}: {e}",
                dir.display()
            ))
        })?;
        let path = dir.join(DATABASE_FILE);
        let mut writer = schema::connect(&path)?;
        schema::migrate(&mut writer)?;
        import::import_legacy(&mut writer, &dir.join(LEGACY_FILE))?;
        Ok(SqliteStore {
            shared: Arc::new(Shared {
                path,
                writer: Mutex::new(writer),
                readers: Mutex::new(Vec::new()),
            }),
        })
    }

    /// The database file.
    pub fn path(&self) -> &Path {
        &self.shared.path
    }

    /// Runs `work` in one read transaction on a reader connection, off the async threads.
    async fn read<T, F>(&self, work: F) -> Result<T, StoreError>
    where
        T: Send + 'static,
        F: FnOnce(&Transaction<'_>) -> Result<T, StoreError> + Send + 'static,
    {
        let shared = Arc::clone(&self.shared);
        blocking(move || shared.read(work)).await
    }

    /// Runs `work` in one write transaction, committed if it returns `Ok`, rolled back otherwise.
    async fn write<T, F>(&self, work: F) -> Result<T, StoreError>
    where
        T: Send + 'static,
        F: FnOnce(&Transaction<'_>) -> Result<T, StoreError> + Send + 'static,
    {
        let shared = Arc::clone(&self.shared);
        blocking(move || shared.write(work)).await
    }
}

/// Runs blocking SQLite work on tokio's blocking pool.
async fn blocking<T, F>(work: F) -> Result<T, StoreError>
where
    T: Send + 'static,
    F: FnOnce() -> Result<T, StoreError> + Send + 'static,
{
    tokio::task::spawn_blocking(work)
        .await
        .map_err(|e| StoreError::Unavailable(format!("a store task did not finish: {e}")))?
}

impl Shared {
    fn read<T>(
        &self,
        work: impl FnOnce(&Transaction<'_>) -> Result<T, StoreError>,
    ) -> Result<T, StoreError> {
        let idle = lock(&self.readers).pop();
        let mut conn = match idle {
            Some(conn) => conn,
            None => schema::connect(&self.path)?,
        };
        let result = (|| {
            // A deferred transaction: a snapshot from its first read, so one call sees one state.
            let tx = conn
                .transaction_with_behavior(TransactionBehavior::Deferred)
                .map_err(sql_error)?;
            let out = work(&tx)?;
            tx.finish().map_err(sql_error)?;
            Ok(out)
        })();
        let mut idle = lock(&self.readers);
        if idle.len() < IDLE_READERS {
            idle.push(conn);
        }
        result
    }

    fn write<T>(
        &self,
        work: impl FnOnce(&Transaction<'_>) -> Result<T, StoreError>,
    ) -> Result<T, StoreError> {
        let mut conn = lock(&self.writer);
        let tx = conn
            .transaction_with_behavior(TransactionBehavior::Immediate)
            .map_err(sql_error)?;
        let out = work(&tx)?;
        tx.commit().map_err(sql_error)?;
        Ok(out)
    }
}

// ---------------------------------------------------------------------------------------------
// Rows
// ---------------------------------------------------------------------------------------------

fn encode<T: Serialize>(record: &T) -> Result<String, StoreError> {
    serde_json::to_string(record)
        .map_err(|e| StoreError::Corrupt(format!("a record could not be encoded: {e}")))
}

fn decode<T: DeserializeOwned>(what: &str, doc: &str) -> Result<T, StoreError> {
    serde_json::from_str(doc).map_err(|e| corrupt(what, e))
}

/// An id SQLite can hold (a signed 64-bit integer).
fn sql_id(what: &str, id: u64) -> Result<i64, StoreError> {
    i64::try_from(id).map_err(|_| StoreError::Rejected(format!("{what} {id} is out of range")))
}

/// Fixed-width RFC 3339 (nanoseconds, `Z`): text order is time order.
fn timestamp(at: chrono::DateTime<chrono::Utc>) -> String {
    at.to_rfc3339_opts(chrono::SecondsFormat::Nanos, true)
}

/// One row of `(version, doc)` read by `sql` with `params`, decoded.
fn versioned_row<T: DeserializeOwned>(
    conn: &Connection,
    what: &str,
    sql: &str,
    params: &[&dyn ToSql],
) -> Result<Option<Versioned<T>>, StoreError> {
    let row: Option<(i64, String)> = conn
        .query_row(sql, params, |row| Ok((row.get(0)?, row.get(1)?)))
        .optional()
        .map_err(sql_error)?;
    row.map(|(version, doc)| {
        Ok(Versioned {
            value: decode(what, &doc)?,
            version: version_of(what, version)?,
        })
    })
    .transpose()
}

fn version_of(what: &str, stored: i64) -> Result<u64, StoreError> {
    u64::try_from(stored).map_err(|_| corrupt(what, format!("version {stored}")))
}

/// The version a guarded write stores, if its guard holds against `current` (the stored
/// version): the memory store's rule, `None`+`None` creates at 1, `v`+`v` writes `v + 1`.
fn next_version(current: Option<i64>, expected: Option<u64>) -> Result<i64, StoreError> {
    match (current, expected) {
        (None, None) => Ok(1),
        (Some(have), Some(want)) if u64::try_from(have).ok() == Some(want) => Ok(have + 1),
        _ => Err(StoreError::Conflict),
    }
}

fn current_version(
    conn: &Connection,
    sql: &str,
    params: &[&dyn ToSql],
) -> Result<Option<i64>, StoreError> {
    conn.query_row(sql, params, |row| row.get(0))
        .optional()
        .map_err(sql_error)
}

fn get_finding(
    conn: &Connection,
    fingerprint: &Fingerprint,
) -> Result<Option<Versioned<FindingRecord>>, StoreError> {
    versioned_row(
        conn,
        &format!("finding {fingerprint}"),
        "SELECT version, doc FROM findings WHERE fingerprint = ?1",
        &[&fingerprint.as_str()],
    )
}

fn get_group(
    conn: &Connection,
    key: &GroupKey,
) -> Result<Option<Versioned<GroupRecord>>, StoreError> {
    versioned_row(
        conn,
        &format!("group {key}"),
        "SELECT version, doc FROM groups WHERE key = ?1",
        &[&key.as_str()],
    )
}

fn get_delivery(conn: &Connection, id: &str) -> Result<Option<DeliveryRecord>, StoreError> {
    let doc: Option<String> = conn
        .query_row("SELECT doc FROM deliveries WHERE id = ?1", [id], |row| {
            row.get(0)
        })
        .optional()
        .map_err(sql_error)?;
    doc.map(|doc| decode(&format!("delivery {id}"), &doc))
        .transpose()
}

fn get_installation(
    conn: &Connection,
    id: u64,
) -> Result<Option<Versioned<InstallationRecord>>, StoreError> {
    versioned_row(
        conn,
        &format!("installation {id}"),
        "SELECT version, doc FROM installations WHERE id = ?1",
        &[&sql_id("installation", id)?],
    )
}

/// Writes a finding under its guard; its rank column moves with it.
fn put_finding(tx: &Transaction<'_>, finding: &Guarded<FindingRecord>) -> Result<(), StoreError> {
    let record = &finding.value;
    let fingerprint = record.fingerprint.as_str();
    let current = current_version(
        tx,
        "SELECT version FROM findings WHERE fingerprint = ?1",
        &[&fingerprint],
    )?;
    let version = next_version(current, finding.expected_version)?;
    let (group, rank) = member_entry(record);
    tx.execute(
        "INSERT INTO findings (fingerprint, group_key, rank, version, doc)
         VALUES (?1, ?2, ?3, ?4, ?5)
         ON CONFLICT (fingerprint) DO UPDATE SET
             group_key = excluded.group_key, rank = excluded.rank,
             version = excluded.version, doc = excluded.doc",
        params![fingerprint, group.as_str(), rank, version, encode(record)?],
    )
    .map_err(sql_error)?;
    Ok(())
}

/// Writes a group under its guard, and its list entries: the old ones out, the new ones in.
fn put_group(tx: &Transaction<'_>, group: &Guarded<GroupRecord>) -> Result<u64, StoreError> {
    let record = &group.value;
    let key = record.key.as_str();
    let current = current_version(tx, "SELECT version FROM groups WHERE key = ?1", &[&key])?;
    let version = next_version(current, group.expected_version)?;
    tx.execute(
        "INSERT INTO groups (key, version, doc) VALUES (?1, ?2, ?3)
         ON CONFLICT (key) DO UPDATE SET version = excluded.version, doc = excluded.doc",
        params![key, version, encode(record)?],
    )
    .map_err(sql_error)?;
    // Entries come from the record written, not from `group.previous`: the list rows can never
    // disagree with the group row, whatever the caller believed it replaced.
    tx.execute("DELETE FROM group_lists WHERE group_key = ?1", [key])
        .map_err(sql_error)?;
    let mut insert = tx
        .prepare_cached("INSERT INTO group_lists (list, sort, group_key) VALUES (?1, ?2, ?3)")
        .map_err(sql_error)?;
    for (list, sort) in group_lists(record) {
        insert
            .execute(params![list.id(), sort, key])
            .map_err(sql_error)?;
    }
    version_of("group", version)
}

fn get_budget(
    conn: &Connection,
    scope: &BudgetScope,
) -> Result<Option<Versioned<BudgetLedger>>, StoreError> {
    let id = scope.id();
    versioned_row(
        conn,
        &format!("budget of {scope}"),
        "SELECT version, doc FROM budgets WHERE scope = ?1",
        &[&id],
    )
}

/// Writes a scope's budget under its guard.
fn put_budget(tx: &Transaction<'_>, ledger: &Guarded<BudgetLedger>) -> Result<(), StoreError> {
    let id = ledger.value.scope.id();
    let current = current_version(tx, "SELECT version FROM budgets WHERE scope = ?1", &[&id])?;
    let version = next_version(current, ledger.expected_version)?;
    tx.execute(
        "INSERT INTO budgets (scope, version, doc) VALUES (?1, ?2, ?3)
         ON CONFLICT (scope) DO UPDATE SET version = excluded.version, doc = excluded.doc",
        params![id, version, encode(&ledger.value)?],
    )
    .map_err(sql_error)?;
    Ok(())
}

fn put_audit(tx: &Transaction<'_>, entry: &AuditEntry) -> Result<(), StoreError> {
    tx.prepare_cached(
        "INSERT INTO audit (group_key, at, day, day_key, doc) VALUES (?1, ?2, ?3, ?4, ?5)",
    )
    .and_then(|mut insert| {
        insert.execute(params![
            entry.group_key.as_str(),
            timestamp(entry.at),
            entry.at.date_naive().format("%Y-%m-%d").to_string(),
            audit_sort_key(entry),
            encode(entry).map_err(|e| rusqlite::Error::ToSqlConversionFailure(Box::new(e)))?,
        ])
    })
    .map_err(sql_error)?;
    Ok(())
}

fn put_link(tx: &Transaction<'_>, link: &TicketLink) -> Result<(), StoreError> {
    tx.execute(
        "INSERT INTO ticket_links (tracker, ticket_key, group_key) VALUES (?1, ?2, ?3)
         ON CONFLICT (tracker, ticket_key) DO UPDATE SET group_key = excluded.group_key",
        params![link.tracker, link.ticket_key, link.group.as_str()],
    )
    .map_err(sql_error)?;
    Ok(())
}

fn put_delivery(tx: &Transaction<'_>, delivery: &DeliveryRecord) -> Result<(), StoreError> {
    tx.execute(
        "INSERT INTO deliveries (id, expires_at, doc) VALUES (?1, ?2, ?3)",
        params![
            delivery.id,
            timestamp(delivery.expires_at),
            encode(delivery)?
        ],
    )
    .map_err(sql_error)?;
    Ok(())
}

/// Writes `content` unless the group already has its texts (never replaced).
fn put_content(tx: &Transaction<'_>, content: &GroupContent) -> Result<(), StoreError> {
    tx.execute(
        "INSERT INTO contents (key, doc) VALUES (?1, ?2) ON CONFLICT (key) DO NOTHING",
        params![content.key.as_str(), encode(content)?],
    )
    .map_err(sql_error)?;
    Ok(())
}

fn put_installation(
    tx: &Transaction<'_>,
    record: &Guarded<InstallationRecord>,
) -> Result<u64, StoreError> {
    let id = sql_id("installation", record.value.id)?;
    let current = current_version(
        tx,
        "SELECT version FROM installations WHERE id = ?1",
        &[&id],
    )?;
    let version = next_version(current, record.expected_version)?;
    tx.execute(
        "INSERT INTO installations (id, version, doc) VALUES (?1, ?2, ?3)
         ON CONFLICT (id) DO UPDATE SET version = excluded.version, doc = excluded.doc",
        params![id, version, encode(&record.value)?],
    )
    .map_err(sql_error)?;
    version_of("installation", version)
}

fn put_pull_request(
    tx: &Transaction<'_>,
    record: &Guarded<PullRequestRecord>,
) -> Result<u64, StoreError> {
    let repository = sql_id("repository", record.value.repository.id)?;
    let number = sql_id("pull request", record.value.number)?;
    let current = current_version(
        tx,
        "SELECT version FROM pull_requests WHERE repository_id = ?1 AND number = ?2",
        &[&repository, &number],
    )?;
    let version = next_version(current, record.expected_version)?;
    tx.execute(
        "INSERT INTO pull_requests (repository_id, number, version, doc) VALUES (?1, ?2, ?3, ?4)
         ON CONFLICT (repository_id, number) DO UPDATE SET
             version = excluded.version, doc = excluded.doc",
        params![repository, number, version, encode(&record.value)?],
    )
    .map_err(sql_error)?;
    version_of("pull request", version)
}

fn put_inbox(tx: &Transaction<'_>, item: &InboxItem) -> Result<bool, StoreError> {
    // The body is kept as bytes beside the rest (the JSON form would hold it as base64).
    let meta = InboxItem {
        body: Vec::new(),
        ..item.clone()
    };
    let status = match item.status {
        InboxStatus::Pending => "pending",
        InboxStatus::Done => "done",
    };
    let written = tx
        .execute(
            "INSERT INTO inbox (id, received_at, status, attempts, last_error, doc, body)
             VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7) ON CONFLICT (id) DO NOTHING",
            params![
                item.id,
                timestamp(item.received_at),
                status,
                item.attempts,
                item.last_error,
                encode(&meta)?,
                item.body,
            ],
        )
        .map_err(sql_error)?;
    Ok(written == 1)
}

/// Applies a commit inside `tx`: the memory store's order of checks (a duplicate delivery first,
/// then each guard), each record checked as it is written; the first failure returns, and the
/// caller's transaction is rolled back with everything written before it.
fn apply_commit(tx: &Transaction<'_>, commit: &Commit) -> Result<(), StoreError> {
    if let Some(delivery) = &commit.delivery {
        if get_delivery(tx, &delivery.id)?.is_some() {
            return Err(StoreError::DuplicateDelivery(delivery.id.clone()));
        }
        put_delivery(tx, delivery)?;
    }
    for finding in &commit.findings {
        put_finding(tx, finding)?;
    }
    if let Some(group) = &commit.group {
        put_group(tx, group)?;
    }
    if let Some(content) = &commit.content {
        put_content(tx, content)?;
    }
    for ledger in &commit.budgets {
        put_budget(tx, ledger)?;
    }
    for link in &commit.links {
        put_link(tx, link)?;
    }
    for entry in &commit.audit {
        put_audit(tx, entry)?;
    }
    for entry in &commit.analysis {
        analysis::put_entry(tx, entry)?;
    }
    // An update, as `settle_inbox`'s: an item that is not there is neither created nor an error.
    if let Some(settle) = &commit.settles {
        tx.execute(
            "UPDATE inbox SET status = 'done' WHERE id = ?1",
            [&settle.id],
        )
        .map_err(sql_error)?;
    }
    Ok(())
}

/// `rows` (sort key, item), fetched one past `limit`, as a page whose `next` is the last sort key
/// when more follow: the memory store's paging.
fn page_of<T>(mut rows: Vec<(String, T)>, limit: usize) -> Page<T> {
    let more = rows.len() > limit;
    rows.truncate(limit);
    let next = match more {
        true => rows.last().map(|(sort, _)| sort.clone()),
        false => None,
    };
    Page {
        items: rows.into_iter().map(|(_, item)| item).collect(),
        next,
    }
}

/// `limit + 1`, as SQLite's LIMIT takes it.
fn fetch_limit(limit: usize) -> i64 {
    i64::try_from(limit).unwrap_or(i64::MAX).saturating_add(1)
}

fn group_findings(
    conn: &Connection,
    group: &GroupKey,
    which: Members,
    after: Option<&str>,
    limit: usize,
) -> Result<Page<Versioned<FindingRecord>>, StoreError> {
    let (from, below) = which.rank_range();
    let mut sql = String::from("SELECT rank, version, doc FROM findings WHERE group_key = ?1");
    let mut args: Vec<Box<dyn ToSql>> = vec![Box::new(group.as_str().to_owned())];
    let mut bound = |sql: &mut String, condition: &str, value: &str| {
        args.push(Box::new(value.to_owned()));
        sql.push_str(&format!(" AND rank {condition} ?{}", args.len()));
    };
    if let Some(after) = after {
        bound(&mut sql, ">", after);
    }
    if let Some(from) = from {
        bound(&mut sql, ">=", from);
    }
    if let Some(below) = below {
        bound(&mut sql, "<", below);
    }
    args.push(Box::new(fetch_limit(limit)));
    sql.push_str(&format!(" ORDER BY rank LIMIT ?{}", args.len()));
    let mut statement = conn.prepare_cached(&sql).map_err(sql_error)?;
    let rows = statement
        .query_map(rusqlite::params_from_iter(args.iter()), |row| {
            Ok((
                row.get::<_, String>(0)?,
                row.get::<_, i64>(1)?,
                row.get::<_, String>(2)?,
            ))
        })
        .map_err(sql_error)?;
    let mut found = Vec::new();
    for row in rows {
        let (rank, version, doc) = row.map_err(sql_error)?;
        let what = format!("finding ranked {rank}");
        found.push((
            rank.clone(),
            Versioned {
                value: decode(&what, &doc)?,
                version: version_of(&what, version)?,
            },
        ));
    }
    Ok(page_of(found, limit))
}

fn groups_in(
    conn: &Connection,
    list: &List,
    after: Option<&str>,
    limit: usize,
) -> Result<Page<Versioned<GroupRecord>>, StoreError> {
    let (stored, below) = list.stored();
    let mut sql = String::from(
        "SELECT l.sort, g.version, g.doc FROM group_lists l JOIN groups g ON g.key = l.group_key
         WHERE l.list = ?1",
    );
    let mut args: Vec<Box<dyn ToSql>> = vec![Box::new(stored.id())];
    if let Some(after) = after {
        args.push(Box::new(after.to_owned()));
        sql.push_str(&format!(" AND l.sort > ?{}", args.len()));
    }
    if let Some(below) = below {
        args.push(Box::new(below));
        sql.push_str(&format!(" AND l.sort < ?{}", args.len()));
    }
    args.push(Box::new(fetch_limit(limit)));
    sql.push_str(&format!(" ORDER BY l.sort LIMIT ?{}", args.len()));
    sorted_groups(conn, &sql, &args, limit)
}

fn all_groups(
    conn: &Connection,
    after: Option<&str>,
    limit: usize,
) -> Result<Page<Versioned<GroupRecord>>, StoreError> {
    let args: Vec<Box<dyn ToSql>> = vec![
        Box::new(after.unwrap_or_default().to_owned()),
        Box::new(fetch_limit(limit)),
    ];
    sorted_groups(
        conn,
        "SELECT key, version, doc FROM groups WHERE key > ?1 ORDER BY key LIMIT ?2",
        &args,
        limit,
    )
}

/// Groups read by `sql` as (sort key, version, doc) rows, as a page.
fn sorted_groups(
    conn: &Connection,
    sql: &str,
    args: &[Box<dyn ToSql>],
    limit: usize,
) -> Result<Page<Versioned<GroupRecord>>, StoreError> {
    let mut statement = conn.prepare_cached(sql).map_err(sql_error)?;
    let rows = statement
        .query_map(rusqlite::params_from_iter(args.iter()), |row| {
            Ok((
                row.get::<_, String>(0)?,
                row.get::<_, i64>(1)?,
                row.get::<_, String>(2)?,
            ))
        })
        .map_err(sql_error)?;
    let mut found = Vec::new();
    for row in rows {
        let (sort, version, doc) = row.map_err(sql_error)?;
        let what = format!("group listed at {sort}");
        found.push((
            sort.clone(),
            Versioned {
                value: decode(&what, &doc)?,
                version: version_of(&what, version)?,
            },
        ));
    }
    Ok(page_of(found, limit))
}

/// A `changes_on` cursor: the entry's day key and its place in the log.
fn audit_cursor(day_key: &str, seq: i64) -> String {
    format!("{day_key}#{seq:020}")
}

fn changes_on(
    conn: &Connection,
    day: chrono::NaiveDate,
    after: Option<&str>,
    limit: usize,
) -> Result<Page<AuditEntry>, StoreError> {
    let (after_key, after_seq) = match after {
        None => (String::new(), -1),
        Some(cursor) => {
            let parsed = cursor
                .rsplit_once('#')
                .and_then(|(key, seq)| Some((key.to_owned(), seq.parse::<i64>().ok()?)));
            parsed.ok_or_else(|| {
                StoreError::Rejected(format!("{cursor:?} is not a cursor of a day's changes"))
            })?
        }
    };
    let mut statement = conn
        .prepare_cached(
            "SELECT day_key, seq, doc FROM audit WHERE day = ?1 AND (day_key, seq) > (?2, ?3)
             ORDER BY day_key, seq LIMIT ?4",
        )
        .map_err(sql_error)?;
    let rows = statement
        .query_map(
            params![
                day.format("%Y-%m-%d").to_string(),
                after_key,
                after_seq,
                fetch_limit(limit)
            ],
            |row| {
                Ok((
                    row.get::<_, String>(0)?,
                    row.get::<_, i64>(1)?,
                    row.get::<_, String>(2)?,
                ))
            },
        )
        .map_err(sql_error)?;
    let mut found = Vec::new();
    for row in rows {
        let (day_key, seq, doc) = row.map_err(sql_error)?;
        found.push((
            audit_cursor(&day_key, seq),
            decode(&format!("audit entry {seq}"), &doc)?,
        ));
    }
    Ok(page_of(found, limit))
}

/// An inbox row: status, attempts, last error, the item's JSON without its body, the body.
type InboxRow = (String, i64, Option<String>, String, Vec<u8>);

fn inbox_item(conn: &Connection, id: &str) -> Result<Option<InboxItem>, StoreError> {
    let row: Option<InboxRow> = conn
        .query_row(
            "SELECT status, attempts, last_error, doc, body FROM inbox WHERE id = ?1",
            [id],
            |row| {
                Ok((
                    row.get(0)?,
                    row.get(1)?,
                    row.get(2)?,
                    row.get(3)?,
                    row.get(4)?,
                ))
            },
        )
        .optional()
        .map_err(sql_error)?;
    let Some((status, attempts, last_error, doc, body)) = row else {
        return Ok(None);
    };
    let what = format!("inbox item {id}");
    let mut item: InboxItem = decode(&what, &doc)?;
    item.body = body;
    item.status = match status.as_str() {
        "done" => InboxStatus::Done,
        _ => InboxStatus::Pending,
    };
    item.attempts = u32::try_from(attempts).map_err(|_| corrupt(&what, "attempts"))?;
    item.last_error = last_error;
    Ok(Some(item))
}

#[async_trait]
impl InboxWriter for SqliteStore {
    async fn put_inbox(&self, item: &InboxItem) -> Result<bool, StoreError> {
        let item = item.clone();
        self.write(move |tx| put_inbox(tx, &item)).await
    }
}

#[async_trait]
impl Inbox for SqliteStore {
    async fn get_inbox(&self, id: &str) -> Result<Option<InboxItem>, StoreError> {
        let id = id.to_owned();
        self.read(move |tx| inbox_item(tx, &id)).await
    }

    async fn settle_inbox(
        &self,
        id: &str,
        applied: &Applied,
        _at: chrono::DateTime<chrono::Utc>,
    ) -> Result<(), StoreError> {
        let id = id.to_owned();
        let applied = applied.clone();
        // An update: settling an item that is not there (expired) writes nothing.
        self.write(move |tx| {
            match &applied {
                Applied::Done { .. } => {
                    tx.execute("UPDATE inbox SET status = 'done' WHERE id = ?1", [&id])
                }
                Applied::Failed { error } | Applied::Deferred { reason: error } => tx.execute(
                    // Pending again if a commit had settled it (see `Commit::settles`).
                    "UPDATE inbox SET status = 'pending', attempts = attempts + 1, last_error = ?2 \
                     WHERE id = ?1",
                    params![id, error],
                ),
            }
            .map_err(sql_error)?;
            Ok(())
        })
        .await
    }

    async fn pending_inbox(&self, limit: usize) -> Result<Vec<InboxItem>, StoreError> {
        self.read(move |tx| {
            let mut statement = tx
                .prepare_cached(
                    "SELECT id FROM inbox WHERE status = 'pending' ORDER BY received_at, id
                     LIMIT ?1",
                )
                .map_err(sql_error)?;
            let ids = statement
                .query_map([i64::try_from(limit).unwrap_or(i64::MAX)], |row| {
                    row.get::<_, String>(0)
                })
                .map_err(sql_error)?
                .collect::<Result<Vec<_>, _>>()
                .map_err(sql_error)?;
            let mut items = Vec::with_capacity(ids.len());
            for id in ids {
                items.extend(inbox_item(tx, &id)?);
            }
            Ok(items)
        })
        .await
    }
}

#[async_trait]
impl Store for SqliteStore {
    async fn read_event(&self, keys: EventKeys<'_>) -> Result<EventRecords, StoreError> {
        let delivery = keys.delivery.to_owned();
        let finding = keys.finding.clone();
        let group = keys.group.clone();
        let installation = keys.installation;
        self.read(move |tx| {
            Ok(EventRecords {
                delivery: get_delivery(tx, &delivery)?,
                finding: get_finding(tx, &finding)?,
                group: get_group(tx, &group)?,
                installation: match installation {
                    Some(id) => get_installation(tx, id)?,
                    None => None,
                },
            })
        })
        .await
    }

    async fn get_finding(
        &self,
        fingerprint: &Fingerprint,
    ) -> Result<Option<Versioned<FindingRecord>>, StoreError> {
        let fingerprint = fingerprint.clone();
        self.read(move |tx| get_finding(tx, &fingerprint)).await
    }

    async fn get_group(
        &self,
        key: &GroupKey,
    ) -> Result<Option<Versioned<GroupRecord>>, StoreError> {
        let key = key.clone();
        self.read(move |tx| get_group(tx, &key)).await
    }

    async fn get_content(&self, key: &GroupKey) -> Result<Option<GroupContent>, StoreError> {
        let key = key.clone();
        self.read(move |tx| {
            let doc: Option<String> = tx
                .query_row(
                    "SELECT doc FROM contents WHERE key = ?1",
                    [key.as_str()],
                    |row| row.get(0),
                )
                .optional()
                .map_err(sql_error)?;
            doc.map(|doc| decode(&format!("content of group {key}"), &doc))
                .transpose()
        })
        .await
    }

    async fn get_delivery(&self, id: &str) -> Result<Option<DeliveryRecord>, StoreError> {
        let id = id.to_owned();
        self.read(move |tx| get_delivery(tx, &id)).await
    }

    async fn commit(&self, commit: Commit) -> Result<(), StoreError> {
        if commit.writes() == 0 {
            return Ok(());
        }
        self.write(move |tx| apply_commit(tx, &commit)).await
    }

    async fn get_budget(
        &self,
        scope: &BudgetScope,
    ) -> Result<Option<Versioned<BudgetLedger>>, StoreError> {
        let scope = scope.clone();
        self.read(move |tx| get_budget(tx, &scope)).await
    }

    async fn put_group(&self, group: Guarded<GroupRecord>) -> Result<u64, StoreError> {
        self.write(move |tx| put_group(tx, &group)).await
    }

    async fn group_findings(
        &self,
        group: &GroupKey,
        which: Members,
        after: Option<&str>,
        limit: usize,
    ) -> Result<Page<Versioned<FindingRecord>>, StoreError> {
        let group = group.clone();
        let after = after.map(str::to_owned);
        self.read(move |tx| group_findings(tx, &group, which, after.as_deref(), limit))
            .await
    }

    async fn groups_in(
        &self,
        list: &List,
        after: Option<&str>,
        limit: usize,
    ) -> Result<Page<Versioned<GroupRecord>>, StoreError> {
        let list = list.clone();
        let after = after.map(str::to_owned);
        self.read(move |tx| groups_in(tx, &list, after.as_deref(), limit))
            .await
    }

    async fn audit_log(&self, key: &GroupKey) -> Result<Vec<AuditEntry>, StoreError> {
        let key = key.clone();
        self.read(move |tx| {
            let mut statement = tx
                .prepare_cached("SELECT seq, doc FROM audit WHERE group_key = ?1 ORDER BY at, seq")
                .map_err(sql_error)?;
            let rows = statement
                .query_map([key.as_str()], |row| {
                    Ok((row.get::<_, i64>(0)?, row.get::<_, String>(1)?))
                })
                .map_err(sql_error)?;
            let mut entries = Vec::new();
            for row in rows {
                let (seq, doc) = row.map_err(sql_error)?;
                entries.push(decode(&format!("audit entry {seq}"), &doc)?);
            }
            Ok(entries)
        })
        .await
    }

    async fn changes_on(
        &self,
        day: chrono::NaiveDate,
        after: Option<&str>,
        limit: usize,
    ) -> Result<Page<AuditEntry>, StoreError> {
        let after = after.map(str::to_owned);
        self.read(move |tx| changes_on(tx, day, after.as_deref(), limit))
            .await
    }

    async fn analysis_findings(
        &self,
        analysis: &str,
        after: Option<&str>,
        limit: usize,
    ) -> Result<Page<Fingerprint>, StoreError> {
        let (analysis, after) = (analysis.to_owned(), after.map(str::to_owned));
        self.read(move |tx| analysis::page(tx, &analysis, after.as_deref(), limit))
            .await
    }

    async fn group_for_ticket(
        &self,
        tracker: &str,
        ticket_key: &str,
    ) -> Result<Option<GroupKey>, StoreError> {
        let tracker = tracker.to_owned();
        let ticket_key = ticket_key.to_owned();
        self.read(move |tx| {
            let group: Option<String> = tx
                .query_row(
                    "SELECT group_key FROM ticket_links WHERE tracker = ?1 AND ticket_key = ?2",
                    [&tracker, &ticket_key],
                    |row| row.get(0),
                )
                .optional()
                .map_err(sql_error)?;
            Ok(group.map(GroupKey::from_stored))
        })
        .await
    }

    async fn get_installation(
        &self,
        id: u64,
    ) -> Result<Option<Versioned<InstallationRecord>>, StoreError> {
        self.read(move |tx| get_installation(tx, id)).await
    }

    async fn put_installation(
        &self,
        record: Guarded<InstallationRecord>,
    ) -> Result<u64, StoreError> {
        self.write(move |tx| put_installation(tx, &record)).await
    }

    async fn installations(&self) -> Result<Vec<Versioned<InstallationRecord>>, StoreError> {
        self.read(|tx| {
            let mut statement = tx
                .prepare_cached("SELECT id, version, doc FROM installations ORDER BY id")
                .map_err(sql_error)?;
            let rows = statement
                .query_map([], |row| {
                    Ok((
                        row.get::<_, i64>(0)?,
                        row.get::<_, i64>(1)?,
                        row.get::<_, String>(2)?,
                    ))
                })
                .map_err(sql_error)?;
            let mut records = Vec::new();
            for row in rows {
                let (id, version, doc) = row.map_err(sql_error)?;
                let what = format!("installation {id}");
                records.push(Versioned {
                    value: decode(&what, &doc)?,
                    version: version_of(&what, version)?,
                });
            }
            Ok(records)
        })
        .await
    }

    async fn get_pull_request(
        &self,
        repository_id: u64,
        number: u64,
    ) -> Result<Option<Versioned<PullRequestRecord>>, StoreError> {
        self.read(move |tx| {
            versioned_row(
                tx,
                &format!("pull request {repository_id}#{number}"),
                "SELECT version, doc FROM pull_requests WHERE repository_id = ?1 AND number = ?2",
                &[
                    &sql_id("repository", repository_id)?,
                    &sql_id("pull request", number)?,
                ],
            )
        })
        .await
    }

    async fn put_pull_request(
        &self,
        record: Guarded<PullRequestRecord>,
    ) -> Result<u64, StoreError> {
        self.write(move |tx| put_pull_request(tx, &record)).await
    }

    async fn all_groups(
        &self,
        after: Option<&str>,
        limit: usize,
    ) -> Result<Page<Versioned<GroupRecord>>, StoreError> {
        let after = after.map(str::to_owned);
        self.read(move |tx| all_groups(tx, after.as_deref(), limit))
            .await
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_guard_holds_only_at_the_version_stored() {
        assert_eq!(next_version(None, None).ok(), Some(1));
        assert_eq!(next_version(Some(3), Some(3)).ok(), Some(4));
        for (current, expected) in [(None, Some(1)), (Some(1), None), (Some(2), Some(3))] {
            assert!(matches!(
                next_version(current, expected),
                Err(StoreError::Conflict)
            ));
        }
    }

    #[test]
    fn pages_end_where_the_list_ends() {
        let rows = |n: usize| (0..n).map(|i| (format!("k{i}"), i)).collect::<Vec<_>>();
        // Fetched one past the limit: a full page with more after it says where to go on.
        let page = page_of(rows(3), 2);
        assert_eq!(
            (page.items, page.next),
            (vec![0, 1], Some("k1".to_string()))
        );
        let page = page_of(rows(2), 2);
        assert_eq!((page.items, page.next), (vec![0, 1], None));
        assert_eq!(page_of(rows(0), 2), Page::default());
    }

    #[tokio::test]
    async fn a_cursor_of_another_list_is_refused_not_misread() {
        let dir = std::env::temp_dir().join(format!("scantix-unit-{}", uuid::Uuid::new_v4()));
        let store = SqliteStore::open(&dir).expect("a store");
        let day = chrono::NaiveDate::from_ymd_opt(2025, 3, 1).expect("a day");
        let result = store.changes_on(day, Some("not-a-cursor"), 10).await;
        assert!(matches!(result, Err(StoreError::Rejected(_))), "{result:?}");
        drop(store);
        let _ = std::fs::remove_dir_all(dir);
    }

    #[test]
    fn a_busy_database_is_worth_retrying_and_a_damaged_one_is_not() {
        let failure = |code| {
            sql_error(rusqlite::Error::SqliteFailure(
                rusqlite::ffi::Error {
                    code,
                    extended_code: 0,
                },
                None,
            ))
        };
        assert!(failure(rusqlite::ErrorCode::DatabaseBusy).is_retryable());
        assert!(matches!(
            failure(rusqlite::ErrorCode::DatabaseCorrupt),
            StoreError::Corrupt(_)
        ));
        assert!(!failure(rusqlite::ErrorCode::ReadOnly).is_retryable());
    }
}
