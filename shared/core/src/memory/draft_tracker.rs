//! The draft tracker: no tracker at all. Tickets are drafts kept with their groups (see
//! `crate::decide::drafts`), so the product runs locally, or before a team has chosen where tickets
//! go, with nothing but its store. The executor settles a draft's calls in the commit that queues
//! them; this adapter exists so that a deployment without a tracker still has a `Tracker`, and its
//! calls are answered without doing anything.

use crate::identity::GroupKey;
use crate::ports::tracker::{Tracker, TrackerError};
use crate::records::{DRAFT_TRACKER, TicketRef, TicketState};
use crate::ticket::TicketContent;
use async_trait::async_trait;

/// Tickets as drafts, kept with their groups.
#[derive(Debug, Default, Clone, Copy)]
pub struct DraftTracker;

impl DraftTracker {
    pub fn new() -> DraftTracker {
        DraftTracker
    }
}

#[async_trait]
impl Tracker for DraftTracker {
    fn name(&self) -> &str {
        DRAFT_TRACKER
    }

    async fn find_by_group_key(&self, group: &GroupKey) -> Result<Option<TicketRef>, TrackerError> {
        // A draft's key is its group's: there is nothing to find, only to name.
        Ok(Some(TicketRef::draft(group)))
    }

    async fn create(
        &self,
        content: &TicketContent,
    ) -> Result<(TicketRef, TicketState), TrackerError> {
        Ok((TicketRef::draft(&content.group_key), TicketState::Draft))
    }

    async fn update(&self, _: &TicketRef, _: &TicketContent) -> Result<(), TrackerError> {
        Ok(())
    }

    async fn comment(&self, _: &TicketRef, _: &str, _: &str) -> Result<(), TrackerError> {
        Ok(())
    }

    async fn transition(&self, _: &TicketRef, _: TicketState) -> Result<(), TrackerError> {
        Ok(())
    }
}
