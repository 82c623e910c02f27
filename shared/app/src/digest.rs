//! The daily digest: once a day the sweeper hands the previous day's audit entries (UTC) to the
//! deployment's digest sender (the email tracker in digest mode, wired by `scantix-wiring`), which
//! picks the events it reports. The day is marked done in the store with a delivery record
//! (`digest:<day>`), written after the send: a crash in between sends the day again, which the
//! sender makes the same messages (same ids), never a gap.

use async_trait::async_trait;
use chrono::{DateTime, Duration, NaiveDate, Utc};
use scantix_core::ports::store::{Commit, Store, StoreError, read_all};
use scantix_core::records::{AuditEntry, DeliveryRecord};

/// What sends a day's digest (the email tracker in digest mode).
#[async_trait]
pub trait DailyDigest: Send + Sync {
    /// Sends the digest of `day` from its audit entries; how many messages went out.
    async fn send(&self, day: NaiveDate, changes: &[AuditEntry]) -> Result<usize, DigestError>;
}

#[derive(Debug, thiserror::Error)]
pub enum DigestError {
    #[error(transparent)]
    Store(#[from] StoreError),
    /// The sender failed; the day is not marked done, so the next sweep sends it again.
    #[error("the digest was not sent: {0}")]
    Send(String),
}

/// The delivery id that marks `day`'s digest sent.
fn marker(day: NaiveDate) -> String {
    format!("digest:{day}")
}

/// Sends yesterday's digest (by `now`, UTC) unless it went out already: `Some(messages)` when it
/// was sent now, `None` when it had been.
pub async fn send_daily_digest(
    store: &dyn Store,
    digest: &dyn DailyDigest,
    now: DateTime<Utc>,
) -> Result<Option<usize>, DigestError> {
    let day = (now - Duration::days(1)).date_naive();
    let id = marker(day);
    if store.get_delivery(&id).await?.is_some() {
        return Ok(None);
    }
    let changes =
        read_all(|after| async move { store.changes_on(day, after.as_deref(), 200).await }).await?;
    let sent = digest.send(day, &changes).await?;
    let record = DeliveryRecord {
        id,
        group_key: None,
        received_at: now,
        // Kept past the day it marks, as long as any delivery record.
        expires_at: now + Duration::days(7),
    };
    match store
        .commit(Commit {
            delivery: Some(record),
            ..Commit::default()
        })
        .await
    {
        // Another sweep marked it meanwhile: both sent the same messages.
        Ok(()) | Err(StoreError::DuplicateDelivery(_)) => Ok(Some(sent)),
        Err(e) => Err(e.into()),
    }
}
