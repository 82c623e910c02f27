//! The open findings of each SARIF analysis (`scantix_core::decide::analysis`): one row per
//! (analysis, fingerprint) in `analysis_findings`, put or deleted in the transaction that writes
//! the finding, and read a page at a time in fingerprint order.

use super::errors::sql_error;
use super::{fetch_limit, page_of};
use rusqlite::{Connection, Transaction, params};
use scantix_core::identity::Fingerprint;
use scantix_core::ports::store::{AnalysisEntry, Page, StoreError};

/// Puts `entry`'s finding on its analysis' list, or takes it off (either is idempotent).
pub(super) fn put_entry(tx: &Transaction<'_>, entry: &AnalysisEntry) -> Result<(), StoreError> {
    let sql = match entry.listed {
        true => "INSERT OR IGNORE INTO analysis_findings (analysis, fingerprint) VALUES (?1, ?2)",
        false => "DELETE FROM analysis_findings WHERE analysis = ?1 AND fingerprint = ?2",
    };
    tx.execute(sql, params![entry.analysis, entry.fingerprint.as_str()])
        .map_err(sql_error)?;
    Ok(())
}

/// A page of `analysis`' open findings after `after`, in fingerprint order.
pub(super) fn page(
    conn: &Connection,
    analysis: &str,
    after: Option<&str>,
    limit: usize,
) -> Result<Page<Fingerprint>, StoreError> {
    let mut statement = conn
        .prepare_cached(
            "SELECT fingerprint FROM analysis_findings WHERE analysis = ?1 AND fingerprint > ?2
             ORDER BY fingerprint LIMIT ?3",
        )
        .map_err(sql_error)?;
    let rows = statement
        .query_map(
            params![analysis, after.unwrap_or(""), fetch_limit(limit)],
            |row| row.get::<_, String>(0),
        )
        .map_err(sql_error)?;
    let mut listed = Vec::new();
    for row in rows {
        let fingerprint = row.map_err(sql_error)?;
        listed.push((fingerprint.clone(), Fingerprint::from_stored(fingerprint)));
    }
    Ok(page_of(listed, limit))
}
