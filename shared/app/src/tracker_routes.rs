//! The deployment's trackers as one `Tracker`: the one `SCANTIX_TRACKER` names, and the others
//! `SCANTIX_ROUTE_TRACKERS` adds, which a repository's `routes` send tickets to
//! (`scantix_core::ticket::routing` decides; the group keeps the decision in its destination).
//! A new ticket goes where its content's destination says; every later call goes to the tracker
//! the ticket is in (`TicketRef::tracker`), so a group keeps the tracker it was filed in. A route
//! to a tracker this deployment does not have files in the deployment's own, with a warning.
//!
//! Copies (`also` routes): the executor queues one `OutboxOp::Copy` per tracker named in the write
//! that records the new ticket, and makes it after the group's own calls through `copy_to`, which
//! asks that tracker for the group's copy (by group key, as before any create) and creates it only
//! if none is there. So a copy is retried like any queued call (the group's next event, the
//! sweeper) and never doubled by a retry after a lost answer, in trackers that can be asked; email
//! cannot be, and a resent copy is the same message (`Message-ID` per group) to its readers.
//! Nothing later (updates, moves) is copied.

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use scantix_core::identity::GroupKey;
use scantix_core::ports::tracker::{Tracker, TrackerError};
use scantix_core::records::{CreateAttempt, CreatedTicket, TicketRef, TicketState};
use scantix_core::ticket::TicketContent;
use scantix_core::ticket::destination::{TrackerKind, TrackerSite};
use std::sync::Arc;

/// The deployment's trackers: its own, and the others routes may name.
pub struct TrackerRoutes {
    own: Arc<dyn Tracker>,
    others: Vec<Arc<dyn Tracker>>,
}

impl TrackerRoutes {
    /// `own` takes every ticket no route sends elsewhere; `others` are told apart by their kind
    /// (`Tracker::site`), the first of a kind winning.
    pub fn new(own: Arc<dyn Tracker>, others: Vec<Arc<dyn Tracker>>) -> TrackerRoutes {
        TrackerRoutes { own, others }
    }

    fn of_kind(&self, kind: TrackerKind) -> Option<&Arc<dyn Tracker>> {
        std::iter::once(&self.own)
            .chain(&self.others)
            .find(|t| t.site().kind == kind)
    }

    /// Where a new ticket for `content` goes.
    fn filing(&self, content: &TicketContent) -> &Arc<dyn Tracker> {
        let Some(kind) = content.destination.tracker else {
            return &self.own;
        };
        self.of_kind(kind).unwrap_or_else(|| {
            tracing::warn!(
                group = %content.group_key,
                routed = kind.as_str(),
                own = self.own.name(),
                "routed to a tracker this deployment does not have (SCANTIX_ROUTE_TRACKERS); filed in its own"
            );
            &self.own
        })
    }

    /// The tracker `ticket` is in.
    fn holding(&self, ticket: &TicketRef) -> &Arc<dyn Tracker> {
        std::iter::once(&self.own)
            .chain(&self.others)
            .find(|t| t.name() == ticket.tracker)
            .unwrap_or(&self.own)
    }
}

#[async_trait]
impl Tracker for TrackerRoutes {
    fn name(&self) -> &str {
        self.own.name()
    }

    fn site(&self) -> TrackerSite {
        self.own.site()
    }

    fn kinds(&self) -> Vec<TrackerKind> {
        std::iter::once(&self.own)
            .chain(&self.others)
            .map(|t| t.site().kind)
            .collect()
    }

    async fn find_by_group_key(&self, key: &GroupKey) -> Result<Option<TicketRef>, TrackerError> {
        self.own.find_by_group_key(key).await
    }

    async fn find_for(&self, content: &TicketContent) -> Result<Option<TicketRef>, TrackerError> {
        self.filing(content).find_for(content).await
    }

    async fn find_after(
        &self,
        content: &TicketContent,
        attempt: &CreateAttempt,
        now: DateTime<Utc>,
    ) -> Result<Option<TicketRef>, TrackerError> {
        self.filing(content).find_after(content, attempt, now).await
    }

    async fn create(
        &self,
        content: &TicketContent,
    ) -> Result<(TicketRef, TicketState), TrackerError> {
        self.filing(content).create(content).await
    }

    async fn create_with_receipt(
        &self,
        content: &TicketContent,
    ) -> Result<CreatedTicket, TrackerError> {
        self.filing(content).create_with_receipt(content).await
    }

    async fn copy_to(
        &self,
        kind: TrackerKind,
        content: &TicketContent,
    ) -> Result<Option<TicketRef>, TrackerError> {
        let Some(copy) = self.of_kind(kind) else {
            return Err(TrackerError::Misconfigured {
                setting: "SCANTIX_ROUTE_TRACKERS".into(),
                message: format!(
                    "a copy to {}, a tracker this deployment does not have",
                    kind.as_str()
                ),
            });
        };
        // Where the ticket is filed (a route fell back to the deployment's own): no copy.
        if Arc::ptr_eq(copy, self.filing(content)) {
            return Ok(None);
        }
        if let Some(found) = copy.find_for(content).await? {
            return Ok(Some(found));
        }
        let (ticket, _) = copy.create(content).await?;
        Ok(Some(ticket))
    }

    async fn update(
        &self,
        ticket: &TicketRef,
        content: &TicketContent,
    ) -> Result<(), TrackerError> {
        self.holding(ticket).update(ticket, content).await
    }

    async fn comment(
        &self,
        ticket: &TicketRef,
        comment_id: &str,
        text: &str,
    ) -> Result<(), TrackerError> {
        self.holding(ticket).comment(ticket, comment_id, text).await
    }

    async fn transition(&self, ticket: &TicketRef, to: TicketState) -> Result<(), TrackerError> {
        self.holding(ticket).transition(ticket, to).await
    }

    async fn close_not_planned(&self, ticket: &TicketRef) -> Result<(), TrackerError> {
        self.holding(ticket).close_not_planned(ticket).await
    }

    /// scantix's accounts in every tracker: an echo from any of them is scantix's own.
    async fn own_accounts(&self) -> Result<Vec<String>, TrackerError> {
        let mut accounts = self.own.own_accounts().await?;
        for other in &self.others {
            accounts.extend(other.own_accounts().await?);
        }
        Ok(accounts)
    }
}
