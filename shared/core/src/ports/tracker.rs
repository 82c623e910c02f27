//! The `Tracker` port: where tickets live. `crate::memory::draft_tracker` is no tracker at all
//! (tickets are drafts kept with their groups); `crate::memory::tracker` is the in-memory twin
//! tests use; real trackers (`scantix_jira`, `scantix_github_issues`) are adapters behind the same
//! trait.

use crate::identity::GroupKey;
use crate::records::{CreateAttempt, CreatedTicket, TicketRef, TicketState};
use crate::ticket::TicketContent;
use crate::ticket::destination::{TrackerKind, TrackerSite};
use async_trait::async_trait;
use chrono::{DateTime, Utc};

/// Why a tracker call failed, and what to do about it.
#[derive(Debug, thiserror::Error)]
pub enum TrackerError {
    /// Rate limited, a 5xx, a timeout: the call may succeed later. Nothing is lost: the op stays in
    /// the group's outbox.
    #[error("tracker temporarily unavailable: {0}")]
    Retryable(String),
    /// The tracker refused because of our configuration (unknown project, a field not on the
    /// screen). Retrying will not help; `setting` names what to fix.
    #[error("tracker rejected the request; check setting `{setting}`: {message}")]
    Misconfigured { setting: String, message: String },
    /// The ticket no longer exists in the tracker.
    #[error("ticket {0} not found in the tracker")]
    NotFound(String),
    #[error("tracker call failed: {0}")]
    Failed(String),
}

impl TrackerError {
    pub fn is_retryable(&self) -> bool {
        matches!(self, TrackerError::Retryable(_))
    }
}

/// The ticketing port. Every call must be safe to repeat: `create` is preceded by `find_for`
/// (by default `find_by_group_key`), and `comment` takes an id that makes a repeated comment a
/// no-op where the tracker allows it.
#[async_trait]
pub trait Tracker: Send + Sync {
    /// Short name recorded in `TicketRef::tracker` (`draft`, `jira`, `github`).
    fn name(&self) -> &str;

    /// Which tracker this is, as a repository's config file names one. The default reads the kind
    /// from `name`; an adapter with a site of its own (Jira) adds it, and a wrapper forwards it.
    fn site(&self) -> TrackerSite {
        TrackerSite::named(self.name())
    }

    /// The kinds of tracker this deployment files in through this port: its own, and the
    /// others a repository's `routes` may name. The default is a single tracker's. Wrappers must
    /// forward it.
    fn kinds(&self) -> Vec<TrackerKind> {
        vec![self.site().kind]
    }

    /// The ticket already made for this group, if any: how a retry after a crash between "tracker
    /// created it" and "store recorded it" finds it instead of creating a second one.
    async fn find_by_group_key(&self, key: &GroupKey) -> Result<Option<TicketRef>, TrackerError>;

    /// The ticket already made for the group `content` renders, looked for where
    /// `content.destination` files it (a repository's own Jira project, say). The default looks
    /// by group key alone, for trackers whose tickets are found the same way wherever they are.
    async fn find_for(&self, content: &TicketContent) -> Result<Option<TicketRef>, TrackerError> {
        self.find_by_group_key(&content.group_key).await
    }

    /// The group's ticket after an earlier create whose ticket the store has not recorded
    /// (`attempt`, kept in the group record), at `now` by the executor's clock. A tracker whose
    /// search may not show its own recent writes must make this lookup consistent: with the
    /// answer's receipt where the answer arrived, by waiting until such a write shows otherwise.
    /// The default trusts an answered ticket and otherwise looks as `find_for` does: for trackers
    /// whose lookups see every write at once. Wrappers must forward it.
    async fn find_after(
        &self,
        content: &TicketContent,
        attempt: &CreateAttempt,
        now: DateTime<Utc>,
    ) -> Result<Option<TicketRef>, TrackerError> {
        let _ = now;
        match &attempt.answered {
            Some(created) => Ok(Some(created.ticket.clone())),
            None => self.find_for(content).await,
        }
    }

    /// Sends a copy of the ticket `content` renders to the deployment's tracker of `kind` (a
    /// `routes` entry with `also`), unless that tracker already holds the group's copy: returns
    /// the copy (`None`: no copy is kept there, as for a tracker that is where the ticket is
    /// filed). The default is a single tracker's: it has no other to copy to. Wrappers must
    /// forward it.
    async fn copy_to(
        &self,
        kind: TrackerKind,
        content: &TicketContent,
    ) -> Result<Option<TicketRef>, TrackerError> {
        let _ = content;
        if self.site().kind == kind {
            return Ok(None);
        }
        Err(TrackerError::Misconfigured {
            setting: "SCANTIX_ROUTE_TRACKERS".into(),
            message: format!(
                "this deployment has no {} tracker to copy to",
                kind.as_str()
            ),
        })
    }

    /// Creates the ticket; returns it and the state it starts in.
    async fn create(
        &self,
        content: &TicketContent,
    ) -> Result<(TicketRef, TicketState), TrackerError>;

    /// `create`, with the receipt `find_after` needs to read the ticket back consistently (see
    /// [`CreatedTicket::receipt`]). The default has none. Wrappers must forward it.
    async fn create_with_receipt(
        &self,
        content: &TicketContent,
    ) -> Result<CreatedTicket, TrackerError> {
        let (ticket, state) = self.create(content).await?;
        Ok(CreatedTicket {
            ticket,
            state,
            receipt: None,
        })
    }

    /// Replaces the ticket's title, body and fields with `content`.
    async fn update(&self, ticket: &TicketRef, content: &TicketContent)
    -> Result<(), TrackerError>;

    /// Adds a comment. `comment_id` is unique per group and op, so a repeat can be recognised.
    async fn comment(
        &self,
        ticket: &TicketRef,
        comment_id: &str,
        text: &str,
    ) -> Result<(), TrackerError>;

    /// Moves the ticket to `to` (by the tracker's own workflow).
    async fn transition(&self, ticket: &TicketRef, to: TicketState) -> Result<(), TrackerError>;

    /// Sets the ticket's assignee (`None`: nobody), as the tracker names users (a Jira accountId or
    /// Data Center user name, a GitHub login). How a GitHub alert's assignment reaches its ticket.
    /// The default, for trackers that keep no assignee scantix sets (email): nothing (scantix keeps
    /// the group's assignee, and the audit log says who). Wrappers must forward it.
    async fn assign(&self, ticket: &TicketRef, assignee: Option<&str>) -> Result<(), TrackerError> {
        let _ = (ticket, assignee);
        Ok(())
    }

    /// Closes the ticket as "not planned" where the tracker records why a ticket closed; where it
    /// does not, this is `transition(ticket, Resolved)`. Wrappers must forward it.
    async fn close_not_planned(&self, ticket: &TicketRef) -> Result<(), TrackerError> {
        self.transition(ticket, TicketState::Resolved).await
    }

    /// Who scantix is in this tracker: the ids, as `TicketEvent::actor_id` names users, of the
    /// account its credential acts as (Jira Cloud: the accountId; Data Center: the user name and
    /// key; GitHub: the App's `<slug>[bot]` or the token's login). The tracker's webhooks name it
    /// on every change scantix made itself, which is how those echoes are told from people's
    /// changes. One call to the tracker: the executor asks once per process and remembers
    /// (`scantix_app::execute::own_accounts`). The default, for trackers without webhooks: nobody.
    /// Wrappers must forward it.
    async fn own_accounts(&self) -> Result<Vec<String>, TrackerError> {
        Ok(Vec::new())
    }
}
