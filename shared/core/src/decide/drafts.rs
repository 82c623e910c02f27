//! Draft tickets: prepared by scantix and kept with their group, in no tracker (the local mode's
//! default, and a deployment that has not chosen a tracker yet). A draft needs no call to anybody:
//! its body is rendered from the group whenever someone looks, so the calls a decision queues for
//! it are settled in the decision's own commit instead of an outbox. That keeps drafts off the
//! round-trip budget of the event path.

use crate::identity::GroupKey;
use crate::records::{AuditEntry, GroupRecord, OutboxOp, TICKET_CREATED, TicketRef};
use chrono::{DateTime, Utc};

/// The audit action of a comment made on a draft (what a tracker would have shown as a comment).
pub const DRAFT_COMMENT: &str = "draft.commented";
/// The audit action of a draft prepared by draft mode (a policy's `draft`, `mode: draft`).
pub const DRAFT_PREPARED: &str = "draft.prepared";

/// Settles `group`'s queued tracker calls as the draft tracker would have made them: a create
/// gives the group its draft ticket, comments become audit entries, moves and refreshes need
/// nothing (the group's state and content are the draft's). Calls to GitHub stay queued.
pub fn settle_draft_ops(
    group: &mut GroupRecord,
    now: DateTime<Utc>,
    delivery: Option<&str>,
) -> Vec<AuditEntry> {
    let mut audit = Vec::new();
    let key: GroupKey = group.key.clone();
    let mut created = false;
    group.outbox.retain(|pending| match &pending.op {
        OutboxOp::Create => {
            created = true;
            false
        }
        OutboxOp::Comment { text } => {
            audit.push(AuditEntry {
                at: now,
                group_key: key.clone(),
                fingerprint: None,
                actor: "scantix".into(),
                action: DRAFT_COMMENT.into(),
                reason: text.clone(),
                delivery: delivery.map(str::to_owned),
                ticket: None,
                state: None,
            });
            false
        }
        OutboxOp::Refresh
        | OutboxOp::Transition { .. }
        | OutboxOp::CloseNotPlanned
        | OutboxOp::Assign { .. }
        // A draft is no ticket: there is nothing to copy.
        | OutboxOp::Copy { .. } => false,
        OutboxOp::DismissAlert { .. }
        | OutboxOp::DismissPending
        | OutboxOp::AssignAlerts { .. } => true,
    });
    // The group's state is the draft's: it starts as `Draft` and moves as decisions move it.
    if created && group.ticket.is_none() {
        let draft = TicketRef::draft(&key);
        audit.insert(
            0,
            AuditEntry {
                at: now,
                group_key: key.clone(),
                fingerprint: None,
                actor: "scantix".into(),
                action: TICKET_CREATED.into(),
                reason: format!("{} created as a draft (no tracker)", draft.key),
                delivery: delivery.map(str::to_owned),
                ticket: Some(draft.key.clone()),
                state: None,
            },
        );
        group.ticket = Some(draft);
    }
    let ticket = group.ticket.as_ref().map(|t| t.key.clone());
    for entry in &mut audit {
        entry.ticket = ticket.clone();
    }
    audit
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::identity::GroupingMode;
    use crate::testing::code_alert;

    #[test]
    fn a_draft_group_settles_its_calls_in_place_and_keeps_github_calls() {
        let now = Utc::now();
        let finding = code_alert(1, "js/xss", "a.js");
        let key = GroupKey::for_finding(&finding, GroupingMode::Rule);
        let mut group = GroupRecord::new(key.clone(), &finding, now);
        group.push_op(OutboxOp::Create);
        group.push_op(OutboxOp::Comment {
            text: "hello".into(),
        });
        group.push_op(OutboxOp::DismissPending);
        let audit = settle_draft_ops(&mut group, now, Some("d"));
        assert_eq!(group.ticket, Some(TicketRef::draft(&key)));
        assert_eq!(group.outbox.len(), 1, "only the GitHub call stays");
        assert_eq!(group.outbox[0].op, OutboxOp::DismissPending);
        // The draft's creation is the chain of custody's "ticketed" step, then its comment.
        assert_eq!(audit.len(), 2);
        assert_eq!(audit[0].action, TICKET_CREATED);
        assert_eq!(audit[1].action, DRAFT_COMMENT);
        assert_eq!(audit[1].reason, "hello");
        for entry in &audit {
            assert_eq!(
                entry.ticket.as_deref(),
                Some(group.ticket.as_ref().unwrap().key.as_str())
            );
        }
    }
}
