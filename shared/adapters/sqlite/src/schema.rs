//! The SQLite schema, its migrations, and how every connection is set up (WAL, durability, busy
//! timeout). A database records the schema version it is at; `migrate` brings it to the version
//! this code knows, one step at a time, each step in its own transaction.

use super::errors::sql_error;
use rusqlite::{Connection, OpenFlags, OptionalExtension};
use scantix_core::ports::store::StoreError;
use std::path::Path;
use std::time::Duration;

/// How long a statement waits for another connection's write lock before giving up with
/// `Unavailable` (another process on the same file: `scantix serve` and a `scantix deliver`).
pub(super) const BUSY_TIMEOUT: Duration = Duration::from_secs(5);

/// The schema, as the steps that build it: step `n` takes a database from version `n` to `n + 1`.
/// Append new steps; never edit one that has shipped.
///
/// Every record is kept whole as JSON in `doc` (the same serde shape as the DynamoDB items'), with
/// the columns that conditions, lists and ordering read beside it:
/// - `findings.rank` (`FindingRecord::rank`) with the index `findings_by_rank`: a group's findings
///   in rank order, a page at a time, without reading the others;
/// - `group_lists`: one row per list a group is in
///   (`scantix_core::ports::store::lists::group_lists`), rewritten with the group, so a list read
///   is one index range;
/// - `analysis_findings`: one row per open finding of a SARIF analysis, written with the finding;
/// - `audit.day`/`day_key`: the changes of a day in time order; `seq` (the rowid) keeps the order
///   in which entries were written for those stamped with the same instant.
const MIGRATIONS: &[&str] = &[
    // 0 → 1
    "
    CREATE TABLE findings (
        fingerprint TEXT PRIMARY KEY,
        group_key   TEXT NOT NULL,
        rank        TEXT NOT NULL,
        version     INTEGER NOT NULL,
        doc         TEXT NOT NULL
    ) WITHOUT ROWID;
    CREATE INDEX findings_by_rank ON findings (group_key, rank);

    CREATE TABLE groups (
        key     TEXT PRIMARY KEY,
        version INTEGER NOT NULL,
        doc     TEXT NOT NULL
    ) WITHOUT ROWID;

    CREATE TABLE group_lists (
        list      TEXT NOT NULL,
        sort      TEXT NOT NULL,
        group_key TEXT NOT NULL,
        PRIMARY KEY (list, sort)
    ) WITHOUT ROWID;
    CREATE INDEX group_lists_by_group ON group_lists (group_key);

    CREATE TABLE contents (
        key TEXT PRIMARY KEY,
        doc TEXT NOT NULL
    ) WITHOUT ROWID;

    CREATE TABLE deliveries (
        id         TEXT PRIMARY KEY,
        expires_at TEXT NOT NULL,
        doc        TEXT NOT NULL
    ) WITHOUT ROWID;

    CREATE TABLE audit (
        seq       INTEGER PRIMARY KEY,
        group_key TEXT NOT NULL,
        at        TEXT NOT NULL,
        day       TEXT NOT NULL,
        day_key   TEXT NOT NULL,
        doc       TEXT NOT NULL
    );
    CREATE INDEX audit_by_group ON audit (group_key, at, seq);
    CREATE INDEX audit_by_day ON audit (day, day_key, seq);

    CREATE TABLE ticket_links (
        tracker    TEXT NOT NULL,
        ticket_key TEXT NOT NULL,
        group_key  TEXT NOT NULL,
        PRIMARY KEY (tracker, ticket_key)
    ) WITHOUT ROWID;

    CREATE TABLE installations (
        id      INTEGER PRIMARY KEY,
        version INTEGER NOT NULL,
        doc     TEXT NOT NULL
    );

    CREATE TABLE pull_requests (
        repository_id INTEGER NOT NULL,
        number        INTEGER NOT NULL,
        version       INTEGER NOT NULL,
        doc           TEXT NOT NULL,
        PRIMARY KEY (repository_id, number)
    ) WITHOUT ROWID;

    CREATE TABLE inbox (
        id          TEXT PRIMARY KEY,
        received_at TEXT NOT NULL,
        status      TEXT NOT NULL,
        attempts    INTEGER NOT NULL,
        last_error  TEXT,
        doc         TEXT NOT NULL,
        body        BLOB NOT NULL
    ) WITHOUT ROWID;
    CREATE INDEX inbox_pending ON inbox (received_at, id) WHERE status = 'pending';

    -- JSON stores of the old local mode already imported, by digest: an import interrupted
    -- between its commit and the file's rename is not repeated.
    CREATE TABLE legacy_imports (
        digest      TEXT PRIMARY KEY,
        imported_at TEXT NOT NULL
    ) WITHOUT ROWID;
    ",
    // 1 → 2: the open findings of each SARIF analysis (`crate::analysis`).
    "
    CREATE TABLE analysis_findings (
        analysis    TEXT NOT NULL,
        fingerprint TEXT NOT NULL,
        PRIMARY KEY (analysis, fingerprint)
    ) WITHOUT ROWID;
    ",
    // 2 → 3: the audit trail is append-only in the file too, as IAM makes it in DynamoDB: no
    // statement, ours or a person's at the sqlite3 prompt, changes or deletes an entry.
    "
    CREATE TRIGGER audit_entries_are_never_updated BEFORE UPDATE ON audit
    BEGIN SELECT RAISE(ABORT, 'audit entries are append-only'); END;
    CREATE TRIGGER audit_entries_are_never_deleted BEFORE DELETE ON audit
    BEGIN SELECT RAISE(ABORT, 'audit entries are append-only'); END;
    ",
    // 3 → 4: ticket budgets, one ledger per scope (`scantix_core::decide::budget`).
    "
    CREATE TABLE budgets (
        scope   TEXT PRIMARY KEY,
        version INTEGER NOT NULL,
        doc     TEXT NOT NULL
    ) WITHOUT ROWID;
    ",
];

/// The schema version this code writes.
pub const SCHEMA_VERSION: u32 = MIGRATIONS.len() as u32;

/// Opens a connection to `path` (creating the file) with the settings every connection uses.
///
/// - `journal_mode=WAL`: readers never wait for the writer and the writer never waits for readers;
///   a commit appends to the log, so a crash mid-write leaves the database as of the last commit.
/// - `synchronous=FULL`: the log is synced to disk at every commit. With `NORMAL` (WAL's usual
///   setting) a commit survives a crash of the process but not of the machine: the last commits
///   can vanish on power loss. A commit here is a delivery scantix has acknowledged (GitHub does
///   not redeliver), so it must stay; the cost is one sync of the log per commit. Measured on
///   the development machine (debug build, one finding joining a group of up to 1,000 with its
///   delivery and audit entry, a busy 2-core VM): median commit 1.4 ms with `FULL`, 0.9 ms with
///   `NORMAL`.
/// - a busy timeout, for another process writing to the same file.
pub(super) fn connect(path: &Path) -> Result<Connection, StoreError> {
    let flags = OpenFlags::SQLITE_OPEN_READ_WRITE
        | OpenFlags::SQLITE_OPEN_CREATE
        | OpenFlags::SQLITE_OPEN_NO_MUTEX;
    let conn = Connection::open_with_flags(path, flags).map_err(|e| {
        StoreError::Unavailable(format!("opening the store {}: {e}", path.display()))
    })?;
    conn.busy_timeout(BUSY_TIMEOUT).map_err(sql_error)?;
    let mode: String = conn
        .pragma_update_and_check(None, "journal_mode", "WAL", |row| row.get(0))
        .map_err(sql_error)?;
    if !mode.eq_ignore_ascii_case("wal") {
        return Err(StoreError::Rejected(format!(
            "the store {} cannot use SQLite's write-ahead log (journal mode {mode}): put it on a \
             local file system",
            path.display()
        )));
    }
    conn.pragma_update(None, "synchronous", "FULL")
        .map_err(sql_error)?;
    Ok(conn)
}

/// Brings the database to `SCHEMA_VERSION`; refuses one written by a newer scantix.
pub(super) fn migrate(conn: &mut Connection) -> Result<(), StoreError> {
    conn.execute_batch("CREATE TABLE IF NOT EXISTS schema_version (version INTEGER NOT NULL)")
        .map_err(sql_error)?;
    loop {
        let tx = conn
            .transaction_with_behavior(rusqlite::TransactionBehavior::Immediate)
            .map_err(sql_error)?;
        let at: Option<u32> = tx
            .query_row("SELECT version FROM schema_version", [], |row| row.get(0))
            .optional()
            .map_err(sql_error)?;
        let at = at.unwrap_or(0);
        if at == SCHEMA_VERSION {
            return Ok(());
        }
        let Some(step) = MIGRATIONS.get(at as usize) else {
            return Err(StoreError::Rejected(format!(
                "the store is at schema version {at}, written by a newer scantix (this one knows \
                 up to {SCHEMA_VERSION}): upgrade scantix"
            )));
        };
        tx.execute_batch(step).map_err(sql_error)?;
        tx.execute("DELETE FROM schema_version", [])
            .map_err(sql_error)?;
        tx.execute("INSERT INTO schema_version (version) VALUES (?1)", [at + 1])
            .map_err(sql_error)?;
        tx.commit().map_err(sql_error)?;
    }
}
