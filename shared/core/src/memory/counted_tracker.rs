//! A `Tracker` decorator that counts calls by kind: the figures behind "tracker calls per event"
//! in the benchmark, and what tests assert side effects with.

use crate::identity::GroupKey;
use crate::ports::tracker::{Tracker, TrackerError};
use crate::records::{CreateAttempt, CreatedTicket, TicketRef, TicketState};
use crate::ticket::TicketContent;
use crate::ticket::destination::TrackerSite;
use async_trait::async_trait;
use chrono::{DateTime, Utc};
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};

/// Calls made so far, by kind.
#[derive(Debug, Default)]
pub struct CallCounts {
    pub find: AtomicU64,
    pub create: AtomicU64,
    pub update: AtomicU64,
    pub comment: AtomicU64,
    pub transition: AtomicU64,
}

/// A snapshot of `CallCounts`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, serde::Serialize)]
pub struct Calls {
    pub find: u64,
    pub create: u64,
    pub update: u64,
    pub comment: u64,
    pub transition: u64,
}

impl Calls {
    pub fn total(&self) -> u64 {
        self.find + self.create + self.update + self.comment + self.transition
    }
}

impl CallCounts {
    pub fn snapshot(&self) -> Calls {
        let get = |c: &AtomicU64| c.load(Ordering::SeqCst);
        Calls {
            find: get(&self.find),
            create: get(&self.create),
            update: get(&self.update),
            comment: get(&self.comment),
            transition: get(&self.transition),
        }
    }
}

/// Wraps a tracker and counts what is asked of it.
pub struct Counted<T> {
    inner: T,
    counts: Arc<CallCounts>,
}

impl<T: Tracker> Counted<T> {
    pub fn new(inner: T) -> (Counted<T>, Arc<CallCounts>) {
        let counts = Arc::new(CallCounts::default());
        (
            Counted {
                inner,
                counts: counts.clone(),
            },
            counts,
        )
    }
}

#[async_trait]
impl<T: Tracker> Tracker for Counted<T> {
    fn name(&self) -> &str {
        self.inner.name()
    }

    fn site(&self) -> TrackerSite {
        self.inner.site()
    }

    fn kinds(&self) -> Vec<crate::ticket::destination::TrackerKind> {
        self.inner.kinds()
    }

    async fn find_by_group_key(&self, key: &GroupKey) -> Result<Option<TicketRef>, TrackerError> {
        self.counts.find.fetch_add(1, Ordering::SeqCst);
        self.inner.find_by_group_key(key).await
    }

    async fn find_for(&self, content: &TicketContent) -> Result<Option<TicketRef>, TrackerError> {
        self.counts.find.fetch_add(1, Ordering::SeqCst);
        self.inner.find_for(content).await
    }

    async fn copy_to(
        &self,
        kind: crate::ticket::destination::TrackerKind,
        content: &TicketContent,
    ) -> Result<Option<TicketRef>, TrackerError> {
        self.inner.copy_to(kind, content).await
    }

    async fn find_after(
        &self,
        content: &TicketContent,
        attempt: &CreateAttempt,
        now: DateTime<Utc>,
    ) -> Result<Option<TicketRef>, TrackerError> {
        self.counts.find.fetch_add(1, Ordering::SeqCst);
        self.inner.find_after(content, attempt, now).await
    }

    async fn create(
        &self,
        content: &TicketContent,
    ) -> Result<(TicketRef, TicketState), TrackerError> {
        self.counts.create.fetch_add(1, Ordering::SeqCst);
        self.inner.create(content).await
    }

    async fn create_with_receipt(
        &self,
        content: &TicketContent,
    ) -> Result<CreatedTicket, TrackerError> {
        self.counts.create.fetch_add(1, Ordering::SeqCst);
        self.inner.create_with_receipt(content).await
    }

    async fn update(
        &self,
        ticket: &TicketRef,
        content: &TicketContent,
    ) -> Result<(), TrackerError> {
        self.counts.update.fetch_add(1, Ordering::SeqCst);
        self.inner.update(ticket, content).await
    }

    async fn comment(&self, ticket: &TicketRef, id: &str, text: &str) -> Result<(), TrackerError> {
        self.counts.comment.fetch_add(1, Ordering::SeqCst);
        self.inner.comment(ticket, id, text).await
    }

    async fn transition(&self, ticket: &TicketRef, to: TicketState) -> Result<(), TrackerError> {
        self.counts.transition.fetch_add(1, Ordering::SeqCst);
        self.inner.transition(ticket, to).await
    }

    async fn close_not_planned(&self, ticket: &TicketRef) -> Result<(), TrackerError> {
        self.counts.transition.fetch_add(1, Ordering::SeqCst);
        self.inner.close_not_planned(ticket).await
    }

    async fn assign(&self, ticket: &TicketRef, assignee: Option<&str>) -> Result<(), TrackerError> {
        self.counts.update.fetch_add(1, Ordering::SeqCst);
        self.inner.assign(ticket, assignee).await
    }

    /// Not counted: it is about the credential, not about tickets.
    async fn own_accounts(&self) -> Result<Vec<String>, TrackerError> {
        self.inner.own_accounts().await
    }
}
