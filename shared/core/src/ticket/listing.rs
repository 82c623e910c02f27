//! What the store shows a person: a group's ticket as it reads now, rendered from the group, its
//! texts and its first findings. Drafts have no other body (they are kept with their groups), so
//! this is also how a draft is read.

use crate::decide::drafts::DRAFT_COMMENT;
use crate::identity::GroupKey;
use crate::ports::store::{Members, Store, StoreError};
use crate::records::budget::{BudgetLedger, BudgetScope};
use crate::records::{FindingRecord, GroupRecord, TicketState};
use crate::ticket::anatomy::{LISTED_FINDINGS, TicketSource, ticket_content};
use crate::ticket::{TicketContent, markdown, overflow};

/// A group's ticket content as it would be rendered now (an overflow ticket's from its budget).
pub async fn render(store: &dyn Store, group: &GroupRecord) -> Result<TicketContent, StoreError> {
    if let Some(scope) = BudgetScope::of_overflow_key(&group.key) {
        let ledger = store.get_budget(&scope).await?.map_or_else(
            || {
                BudgetLedger::new(
                    scope,
                    group.repository.full_name.clone(),
                    0,
                    group.updated_at,
                )
            },
            |l| l.value,
        );
        return Ok(overflow::overflow_content(group, &ledger));
    }
    let content = store.get_content(&group.key).await?;
    let top = store
        .group_findings(&group.key, Members::Ticketed, None, LISTED_FINDINGS)
        .await?;
    let top: Vec<FindingRecord> = top.items.into_iter().map(|f| f.value).collect();
    Ok(ticket_content(TicketSource {
        group,
        content: content.as_ref(),
        top: &top,
    }))
}

/// A ticket as a person reads it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TicketView {
    pub key: String,
    pub group: GroupKey,
    pub state: TicketState,
    pub title: String,
    /// The body in Markdown.
    pub body: String,
    pub labels: Vec<String>,
    /// What scantix said on a draft, oldest first (a tracker keeps its own tickets' comments).
    pub comments: Vec<String>,
}

/// The ticket of group `key`, rendered now; `None` if the group has no ticket.
pub async fn ticket(store: &dyn Store, key: &GroupKey) -> Result<Option<TicketView>, StoreError> {
    let Some(group) = store.get_group(key).await? else {
        return Ok(None);
    };
    let group = group.value;
    let Some(ticket) = &group.ticket else {
        return Ok(None);
    };
    let content = render(store, &group).await?;
    let comments = store
        .audit_log(key)
        .await?
        .into_iter()
        .filter(|a| a.action == DRAFT_COMMENT)
        .map(|a| a.reason)
        .collect();
    Ok(Some(TicketView {
        key: ticket.key.clone(),
        group: group.key.clone(),
        state: group.ticket_state,
        title: content.title.clone(),
        body: markdown::render(&content),
        labels: content.labels.clone(),
        comments,
    }))
}
