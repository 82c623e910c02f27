//! A tracker wrapper that "crashes" the process right after the tracker created a ticket: the
//! create took effect in the tracker, but the caller gets an error and the store never hears of
//! the ticket — what a Lambda timeout or an out-of-memory kill at that moment looks like.

use async_trait::async_trait;
use scantix_core::chrono::{DateTime, Utc};
use scantix_core::identity::GroupKey;
use scantix_core::ports::tracker::{Tracker, TrackerError};
use scantix_core::records::{CreateAttempt, CreatedTicket, TicketRef, TicketState};
use scantix_core::ticket::TicketContent;
use scantix_core::ticket::destination::TrackerSite;
use std::sync::atomic::{AtomicBool, Ordering};

pub struct CrashAfterCreate<T> {
    inner: T,
    armed: AtomicBool,
}

impl<T: Tracker> CrashAfterCreate<T> {
    /// Crashes after the first successful create only.
    pub fn new(inner: T) -> CrashAfterCreate<T> {
        CrashAfterCreate {
            inner,
            armed: AtomicBool::new(true),
        }
    }
}

#[async_trait]
impl<T: Tracker> Tracker for CrashAfterCreate<T> {
    fn name(&self) -> &str {
        self.inner.name()
    }
    fn site(&self) -> TrackerSite {
        self.inner.site()
    }
    async fn find_by_group_key(&self, key: &GroupKey) -> Result<Option<TicketRef>, TrackerError> {
        self.inner.find_by_group_key(key).await
    }
    async fn find_for(&self, content: &TicketContent) -> Result<Option<TicketRef>, TrackerError> {
        self.inner.find_for(content).await
    }
    async fn find_after(
        &self,
        content: &TicketContent,
        attempt: &CreateAttempt,
        now: DateTime<Utc>,
    ) -> Result<Option<TicketRef>, TrackerError> {
        self.inner.find_after(content, attempt, now).await
    }
    async fn create(
        &self,
        content: &TicketContent,
    ) -> Result<(TicketRef, TicketState), TrackerError> {
        let created = self.create_with_receipt(content).await?;
        Ok((created.ticket, created.state))
    }
    async fn create_with_receipt(
        &self,
        content: &TicketContent,
    ) -> Result<CreatedTicket, TrackerError> {
        let created = self.inner.create_with_receipt(content).await?;
        if self.armed.swap(false, Ordering::SeqCst) {
            return Err(TrackerError::Retryable(format!(
                "process died after {} was created",
                created.ticket.key
            )));
        }
        Ok(created)
    }
    async fn update(
        &self,
        ticket: &TicketRef,
        content: &TicketContent,
    ) -> Result<(), TrackerError> {
        self.inner.update(ticket, content).await
    }
    async fn comment(&self, ticket: &TicketRef, id: &str, text: &str) -> Result<(), TrackerError> {
        self.inner.comment(ticket, id, text).await
    }
    async fn transition(&self, ticket: &TicketRef, to: TicketState) -> Result<(), TrackerError> {
        self.inner.transition(ticket, to).await
    }
    async fn close_not_planned(&self, ticket: &TicketRef) -> Result<(), TrackerError> {
        self.inner.close_not_planned(ticket).await
    }
    async fn assign(&self, ticket: &TicketRef, assignee: Option<&str>) -> Result<(), TrackerError> {
        self.inner.assign(ticket, assignee).await
    }
    async fn own_accounts(&self) -> Result<Vec<String>, TrackerError> {
        self.inner.own_accounts().await
    }
}
