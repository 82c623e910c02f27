//! `MemoryTracker`: the in-memory twin of a real tracker, for tests. It keeps tickets the way a
//! tracker does (key, title, body, labels, state, comments), answers `find_by_group_key` from them,
//! and makes repeated comments with one id a no-op, as the real adapters do; every call the
//! executor makes is visible in its tickets afterwards.

use crate::identity::GroupKey;
use crate::ports::tracker::{Tracker, TrackerError};
use crate::records::{TicketRef, TicketState};
use crate::ticket::{TicketContent, markdown};
use async_trait::async_trait;
use std::collections::BTreeMap;
use std::sync::{Arc, Mutex};

/// A comment as the tracker holds it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MemoryComment {
    pub id: String,
    pub text: String,
}

/// A ticket as the tracker holds it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MemoryTicket {
    pub key: String,
    pub group_key: GroupKey,
    pub title: String,
    /// The body rendered as Markdown.
    pub body: String,
    pub labels: Vec<String>,
    pub state: TicketState,
    pub comments: Vec<MemoryComment>,
    /// Who it is assigned to: the content's assignee at creation, then what `assign` set.
    pub assignee: Option<String>,
}

/// Tickets in memory, `MEM-1`, `MEM-2`, … in creation order. Clones share the tickets, so a test
/// keeps one to look at what the executor's copy did.
#[derive(Debug, Default, Clone)]
pub struct MemoryTracker {
    tickets: Arc<Mutex<BTreeMap<String, MemoryTicket>>>,
}

impl MemoryTracker {
    pub fn new() -> MemoryTracker {
        MemoryTracker::default()
    }

    fn tickets(&self) -> std::sync::MutexGuard<'_, BTreeMap<String, MemoryTicket>> {
        self.tickets.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// The ticket `key`, as the tracker holds it now.
    pub fn ticket(&self, key: &str) -> Option<MemoryTicket> {
        self.tickets().get(key).cloned()
    }

    /// Every ticket, in key order.
    pub fn all(&self) -> Vec<MemoryTicket> {
        self.tickets().values().cloned().collect()
    }

    fn with_ticket(
        &self,
        ticket: &TicketRef,
        change: impl FnOnce(&mut MemoryTicket),
    ) -> Result<(), TrackerError> {
        let mut tickets = self.tickets();
        let found = tickets
            .get_mut(&ticket.key)
            .ok_or_else(|| TrackerError::NotFound(ticket.key.clone()))?;
        change(found);
        Ok(())
    }
}

fn reference(key: &str) -> TicketRef {
    TicketRef {
        tracker: "memory".into(),
        key: key.into(),
        url: Some(format!("https://tracker.invalid/{key}")),
    }
}

#[async_trait]
impl Tracker for MemoryTracker {
    fn name(&self) -> &str {
        "memory"
    }

    async fn find_by_group_key(&self, group: &GroupKey) -> Result<Option<TicketRef>, TrackerError> {
        Ok(self
            .tickets()
            .values()
            .find(|t| &t.group_key == group)
            .map(|t| reference(&t.key)))
    }

    async fn create(
        &self,
        content: &TicketContent,
    ) -> Result<(TicketRef, TicketState), TrackerError> {
        let mut tickets = self.tickets();
        let key = format!("MEM-{}", tickets.len() + 1);
        tickets.insert(
            key.clone(),
            MemoryTicket {
                key: key.clone(),
                group_key: content.group_key.clone(),
                title: content.title.clone(),
                body: markdown::render(content),
                labels: content.labels.clone(),
                state: TicketState::Open,
                comments: Vec::new(),
                assignee: content.assignee.clone(),
            },
        );
        Ok((reference(&key), TicketState::Open))
    }

    async fn update(
        &self,
        ticket: &TicketRef,
        content: &TicketContent,
    ) -> Result<(), TrackerError> {
        self.with_ticket(ticket, |t| {
            t.title = content.title.clone();
            t.body = markdown::render(content);
            t.labels = content.labels.clone();
        })
    }

    async fn comment(
        &self,
        ticket: &TicketRef,
        comment_id: &str,
        text: &str,
    ) -> Result<(), TrackerError> {
        self.with_ticket(ticket, |t| {
            if !t.comments.iter().any(|c| c.id == comment_id) {
                t.comments.push(MemoryComment {
                    id: comment_id.into(),
                    text: text.into(),
                });
            }
        })
    }

    async fn transition(&self, ticket: &TicketRef, to: TicketState) -> Result<(), TrackerError> {
        self.with_ticket(ticket, |t| t.state = to)
    }

    async fn assign(&self, ticket: &TicketRef, assignee: Option<&str>) -> Result<(), TrackerError> {
        self.with_ticket(ticket, |t| t.assignee = assignee.map(str::to_owned))
    }
}
