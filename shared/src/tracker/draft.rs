//! The draft tracker: tickets kept as drafts in scantix's own store, so the product runs with no
//! tracker at all (locally, or while a team decides where tickets should go).

use super::{Tracker, TrackerError};
use crate::identity::GroupKey;
use crate::state::{TicketRef, TicketState};
use crate::store::{Store, StoreError};
use crate::ticket::{TicketContent, markdown};
use async_trait::async_trait;
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};
use std::sync::Arc;

/// A comment on a draft ticket.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct DraftComment {
    pub id: String,
    pub text: String,
    pub at: DateTime<Utc>,
}

/// A ticket as the draft tracker keeps it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct DraftTicket {
    pub key: String,
    pub group_key: GroupKey,
    pub title: String,
    /// The ticket body rendered as Markdown, as it would appear in a tracker.
    pub body: String,
    pub labels: Vec<String>,
    pub state: TicketState,
    pub comments: Vec<DraftComment>,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
}

/// The draft ticket key of a group: derived from the group key, so creating twice is harmless.
pub fn draft_key(group: &GroupKey) -> String {
    let digest = Sha256::digest(group.as_str().as_bytes());
    format!("DRAFT-{}", hex::encode(&digest[..4]).to_uppercase())
}

pub struct DraftTracker {
    store: Arc<dyn Store>,
    clock: fn() -> DateTime<Utc>,
}

impl DraftTracker {
    pub fn new(store: Arc<dyn Store>) -> DraftTracker {
        DraftTracker {
            store,
            clock: Utc::now,
        }
    }

    async fn load(&self, ticket: &TicketRef) -> Result<DraftTicket, TrackerError> {
        self.store
            .get_draft(&ticket.key)
            .await
            .map_err(from_store)?
            .ok_or_else(|| TrackerError::NotFound(ticket.key.clone()))
    }

    async fn save(&self, mut draft: DraftTicket) -> Result<(), TrackerError> {
        draft.updated_at = (self.clock)();
        self.store.put_draft(&draft).await.map_err(from_store)
    }
}

fn from_store(e: StoreError) -> TrackerError {
    TrackerError::Retryable(e.to_string())
}

fn reference(key: String) -> TicketRef {
    TicketRef {
        tracker: "draft".into(),
        key,
        url: None,
    }
}

#[async_trait]
impl Tracker for DraftTracker {
    fn name(&self) -> &str {
        "draft"
    }

    async fn find_by_group_key(&self, group: &GroupKey) -> Result<Option<TicketRef>, TrackerError> {
        let key = draft_key(group);
        let found = self.store.get_draft(&key).await.map_err(from_store)?;
        Ok(found.map(|d| reference(d.key)))
    }

    async fn create(
        &self,
        content: &TicketContent,
    ) -> Result<(TicketRef, TicketState), TrackerError> {
        let now = (self.clock)();
        let draft = DraftTicket {
            key: draft_key(&content.group_key),
            group_key: content.group_key.clone(),
            title: content.title.clone(),
            body: markdown::render(content),
            labels: content.labels.clone(),
            state: TicketState::Draft,
            comments: Vec::new(),
            created_at: now,
            updated_at: now,
        };
        // Already there (an earlier attempt got this far): that draft is the ticket.
        self.store.create_draft(&draft).await.map_err(from_store)?;
        Ok((reference(draft.key), TicketState::Draft))
    }

    async fn update(
        &self,
        ticket: &TicketRef,
        content: &TicketContent,
    ) -> Result<(), TrackerError> {
        let mut draft = self.load(ticket).await?;
        draft.title = content.title.clone();
        draft.body = markdown::render(content);
        draft.labels = content.labels.clone();
        self.save(draft).await
    }

    async fn comment(
        &self,
        ticket: &TicketRef,
        comment_id: &str,
        text: &str,
    ) -> Result<(), TrackerError> {
        let mut draft = self.load(ticket).await?;
        if draft.comments.iter().any(|c| c.id == comment_id) {
            return Ok(());
        }
        draft.comments.push(DraftComment {
            id: comment_id.into(),
            text: text.into(),
            at: (self.clock)(),
        });
        self.save(draft).await
    }

    async fn transition(&self, ticket: &TicketRef, to: TicketState) -> Result<(), TrackerError> {
        let mut draft = self.load(ticket).await?;
        if draft.state == to {
            return Ok(());
        }
        draft.state = to;
        self.save(draft).await
    }
}
