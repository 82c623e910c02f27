//! One scenario per verb: given a stored group, a person's change writes this group, queues
//! these tracker calls and audits this; the same change again decides nothing.

use super::*;
use crate::identity::{GroupKey, GroupingMode};
use crate::records::{TicketRef, TicketState};
use crate::testing::{code_alert, ticketed_record};
use chrono::TimeZone;

fn now() -> DateTime<Utc> {
    Utc.with_ymd_and_hms(2026, 11, 2, 9, 0, 0).unwrap()
}

fn by() -> Steerer {
    Steerer {
        actor: "alice".into(),
        reason: "triage meeting".into(),
    }
}

/// A group with one open finding and the given ticket.
fn group(ticket: Option<TicketRef>, state: TicketState) -> GroupRecord {
    let finding = code_alert(1, "js/xss", "a.js");
    let key = GroupKey::for_finding(&finding, GroupingMode::Rule);
    let mut group = GroupRecord::new(key.clone(), &finding, now());
    group.absorb(None, &ticketed_record(&finding, &key, now()));
    group.ticket = ticket;
    group.ticket_state = state;
    group
}

fn jira() -> Option<TicketRef> {
    Some(TicketRef {
        tracker: "jira".into(),
        key: "SEC-7".into(),
        url: None,
    })
}

fn changed(s: Steered) -> (GroupRecord, Vec<AuditEntry>) {
    match s {
        Steered::Changed { group, audit, .. } => (*group, audit),
        other => panic!("expected a change, got {other:?}"),
    }
}

fn ops(g: &GroupRecord) -> Vec<OutboxOp> {
    g.outbox.iter().map(|p| p.op.clone()).collect()
}

#[test]
fn pushing_a_draft_queues_its_create_and_audits_who_and_why_once() {
    let draft = group(None, TicketState::Draft);
    let draft = GroupRecord {
        ticket: Some(TicketRef::draft(&draft.key)),
        ..draft
    };
    let (pushed, audit) = changed(steer(&draft, &Steer::PushDraft, &by(), false, &[], now()));
    assert_eq!(pushed.ticket, None);
    assert_eq!(ops(&pushed), [OutboxOp::Create]);
    assert_eq!(audit.len(), 1);
    assert_eq!(
        (audit[0].actor.as_str(), audit[0].action.as_str()),
        ("alice", DRAFT_PUSHED)
    );
    assert_eq!(audit[0].reason, "triage meeting");
    // Pushed already (its create queued, no draft left): pushing again is refused, not repeated.
    assert!(matches!(
        steer(&pushed, &Steer::PushDraft, &by(), false, &[], now()),
        Steered::Refused(_)
    ));
    // Without a tracker there is nowhere to push to.
    assert!(matches!(
        steer(&draft, &Steer::PushDraft, &by(), true, &[], now()),
        Steered::Refused(_)
    ));
}

#[test]
fn discarding_a_draft_leaves_the_findings_without_a_ticket() {
    let base = group(None, TicketState::Draft);
    let draft = GroupRecord {
        ticket: Some(TicketRef::draft(&base.key)),
        ..base
    };
    let (discarded, audit) = changed(steer(
        &draft,
        &Steer::DiscardDraft,
        &by(),
        false,
        &[],
        now(),
    ));
    assert_eq!(discarded.ticket, None);
    assert_eq!(discarded.discarded_at, Some(now()));
    assert_eq!(discarded.tally.open, 1, "the findings stay recorded");
    assert!(!discarded.has_or_awaits_ticket());
    assert_eq!(audit[0].action, DRAFT_DISCARDED);
    assert!(matches!(
        steer(&discarded, &Steer::DiscardDraft, &by(), false, &[], now()),
        Steered::Unchanged(_)
    ));
}

#[test]
fn closing_queues_a_transition_and_a_comment_and_a_second_close_changes_nothing() {
    let open = group(jira(), TicketState::Open);
    let close = Steer::Close {
        reason: "accepted risk".into(),
    };
    let (closed, audit) = changed(steer(&open, &close, &by(), false, &[], now()));
    assert_eq!(closed.ticket_state, TicketState::Resolved);
    assert_eq!(
        ops(&closed),
        [
            OutboxOp::Transition {
                to: TicketState::Resolved
            },
            OutboxOp::Comment {
                text: "Closed by alice: accepted risk".into()
            }
        ]
    );
    assert_eq!(audit[0].ticket.as_deref(), Some("SEC-7"));
    assert!(matches!(
        steer(&closed, &close, &by(), false, &[], now()),
        Steered::Unchanged(_)
    ));
    let (reopened, _) = changed(steer(&closed, &Steer::Reopen, &by(), false, &[], now()));
    assert_eq!(reopened.ticket_state, TicketState::Reopened);
}

#[test]
fn assign_and_priority_refresh_the_ticket_and_priority_files_it_at_the_new_severity() {
    let open = group(jira(), TicketState::Open);
    // A ticket in the tracker is assigned by a call of its own (updates leave assignees alone).
    let (reassigned, _) = changed(steer(
        &open,
        &Steer::Assign { user: "bob".into() },
        &by(),
        false,
        &[],
        now(),
    ));
    assert_eq!(reassigned.assignee.as_deref(), Some("bob"));
    assert_eq!(
        ops(&reassigned),
        [OutboxOp::Assign {
            assignee: Some("bob".into())
        }]
    );
    let base = group(None, TicketState::Draft);
    let draft = GroupRecord {
        ticket: Some(TicketRef::draft(&base.key)),
        ..base
    };
    let (assigned, _) = changed(steer(
        &draft,
        &Steer::Assign { user: "bob".into() },
        &by(),
        false,
        &[],
        now(),
    ));
    assert_eq!(assigned.assignee.as_deref(), Some("bob"));
    assert!(
        assigned.outbox.is_empty(),
        "a draft's refresh is settled in place"
    );
    let (urgent, audit) = changed(steer(
        &open,
        &Steer::Priority {
            to: Severity::Critical,
        },
        &by(),
        false,
        &[],
        now(),
    ));
    assert_eq!(urgent.severity(), Severity::Critical);
    assert_ne!(open.severity(), Severity::Critical);
    assert_eq!(audit[0].action, TICKET_PRIORITIZED);
}

#[test]
fn regenerate_rebuilds_counts_and_facets_from_the_findings_as_stored() {
    let mut open = group(jira(), TicketState::Open);
    open.facets.paths.insert("gone.js");
    let finding = code_alert(1, "js/xss", "a.js");
    let members = [ticketed_record(&finding, &open.key, now())];
    let (fresh, _) = changed(steer(
        &open,
        &Steer::Regenerate,
        &by(),
        false,
        &members,
        now(),
    ));
    assert_eq!(fresh.facets.paths.single(), Some("a.js"));
    assert_eq!(fresh.tally.open, 1);
    assert_eq!(ops(&fresh), [OutboxOp::Refresh]);
}

#[test]
fn a_change_on_a_draft_is_settled_in_place() {
    let base = group(None, TicketState::Draft);
    let draft = GroupRecord {
        ticket: Some(TicketRef::draft(&base.key)),
        ..base
    };
    let close = Steer::Close {
        reason: "duplicate".into(),
    };
    let (closed, audit) = changed(steer(&draft, &close, &by(), false, &[], now()));
    assert!(closed.outbox.is_empty(), "{:?}", ops(&closed));
    assert_eq!(closed.ticket_state, TicketState::Resolved);
    assert!(
        audit
            .iter()
            .any(|a| a.action == crate::decide::drafts::DRAFT_COMMENT)
    );
}
