//! `decide_ticket`: the pure core for events coming back from a tracker (a ticket moved, deleted,
//! commented). (event, the ticket's group, GitHub's answer if one was needed, config, now) → the
//! group to write, the calls it now owes, the audit entries.
//!
//! Closing a ticket does not close its findings on the tracker's word alone: unless the resolution
//! means "won't fix", GitHub is asked first, and a ticket closed while GitHub still reports an
//! alert open is reopened with the list. Events that match what scantix already recorded (echoes of
//! its own writes, redeliveries) decide nothing.

use super::action::{Action, Decision};
use super::alert::{ASSIGNMENT_SKIPPED, TICKET_ASSIGNED};
use crate::config::Config;
use crate::event::{StatusCategory, TicketChange, TicketEvent};
use crate::finding::{AlertState, Dismissal};
use crate::identity::Fingerprint;
use crate::records::{
    AuditEntry, FindingRecord, GroupRecord, OutboxOp, PendingDismissal, TicketState,
};
use chrono::{DateTime, Utc};
use std::collections::BTreeMap;

/// Audited when a ticket's assignment is queued for its alerts in GitHub.
pub const ALERTS_ASSIGNED: &str = "alerts.assigned";

/// The GitHub login a ticket assigned to `user` in `tracker` assigns its alerts to (`Ok(None)`:
/// nobody): the owners map read backwards; in GitHub Issues, the user itself (a login). `Err` says
/// why none can be.
fn login_for(user: Option<&str>, config: &Config, tracker: &str) -> Result<Option<String>, String> {
    let Some(user) = user else {
        return Ok(None);
    };
    if let Some(login) = crate::owners::login_for_tracker_user(user, &config.owners) {
        return Ok(Some(login));
    }
    let is_login = !user.is_empty() && user.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-');
    if tracker == "github" && is_login {
        return Ok(Some(user.to_owned()));
    }
    Err(format!(
        "the ticket was assigned to {user}, whom the owners map names as no GitHub user: its \
         alerts keep their assignees (add `\"@login\": {user}` under `owners`)"
    ))
}

/// How many still-open alerts a rejected closure's comment lists (the ticket lists them all).
const STILL_OPEN_LISTED: usize = 20;

/// GitHub's current state of the alerts a closure claims are gone.
pub type Verification = BTreeMap<Fingerprint, AlertState>;

/// Everything `decide_ticket` looks at.
#[derive(Debug, Clone, Copy)]
pub struct TicketInputs<'a> {
    pub event: &'a TicketEvent,
    pub group: &'a GroupRecord,
    /// The group's open ticketed findings; `None` until read (see
    /// `TicketDecision::NeedsOpenFindings`): only a closure needs them.
    pub open_findings: Option<&'a [FindingRecord]>,
    /// `None` until GitHub was asked; see `TicketDecision::NeedsVerification`.
    pub verification: Option<&'a Verification>,
    pub config: &'a Config,
    pub now: DateTime<Utc>,
    pub delivery: Option<&'a str>,
}

/// The outcome of `decide_ticket`.
#[derive(Debug, Clone, PartialEq)]
pub enum TicketDecision {
    /// Read the group's open ticketed findings, then decide again with them.
    NeedsOpenFindings,
    /// Ask GitHub for the current state of these alerts, then decide again with the answer.
    NeedsVerification(Vec<Fingerprint>),
    Decided(Box<Decision>),
}

/// Whether `state` already reflects a ticket standing in `category`. Stale tickets stay in an open
/// status (they carry a label), so any open category matches them.
fn already_in(state: TicketState, category: StatusCategory) -> bool {
    match category {
        StatusCategory::Done => state == TicketState::Resolved,
        StatusCategory::InProgress => matches!(state, TicketState::InProgress | TicketState::Stale),
        StatusCategory::New => {
            matches!(
                state,
                TicketState::Draft | TicketState::Open | TicketState::Reopened | TicketState::Stale
            )
        }
    }
}

/// Decides what a tracker event means for the ticket's group.
pub fn decide_ticket(inputs: TicketInputs<'_>) -> TicketDecision {
    let TicketInputs {
        event,
        group: stored,
        open_findings,
        verification,
        config,
        now,
        delivery,
    } = inputs;
    let key = stored.key.clone();
    let ticket = event.ticket_key.clone();
    let mut out = Decision {
        group_key: key.clone(),
        finding: None,
        group: None,
        content: None,
        findings: vec![],
        audit: vec![],
        actions: vec![],
    };
    let actor = event
        .actor
        .clone()
        .or(event.actor_id.clone())
        .unwrap_or_else(|| event.tracker.clone());
    let audit =
        |action: &str, reason: String, fingerprint: Option<Fingerprint>, out: &mut Decision| {
            out.audit.push(AuditEntry {
                at: now,
                group_key: key.clone(),
                fingerprint,
                actor: actor.clone(),
                action: action.into(),
                reason,
                delivery: delivery.map(str::to_owned),
                ticket: Some(ticket.clone()),
                state: None,
            });
        };
    let ignore = |reason: &str, mut out: Decision| {
        out.actions.push(Action::Ignored {
            reason: reason.into(),
        });
        TicketDecision::Decided(Box::new(out))
    };

    let is_echo = event
        .actor_id
        .as_ref()
        .is_some_and(|id| config.service_accounts.contains(id));
    if is_echo {
        return ignore("an echo of scantix's own write", out);
    }
    if stored.ticket.as_ref().is_none_or(|t| t.key != ticket) {
        return ignore("the ticket is no longer this group's", out);
    }
    let mut group = stored.clone();

    match &event.change {
        TicketChange::Commented { author, excerpt } => {
            if excerpt.contains("scantix ref ") {
                return ignore("scantix's own comment", out);
            }
            audit(
                "ticket.commented",
                format!("{author}: {excerpt}"),
                None,
                &mut out,
            );
            out.actions.push(Action::TicketAudited {
                group: key.clone(),
                ticket,
                what: "comment".into(),
            });
            return TicketDecision::Decided(Box::new(out));
        }
        TicketChange::Deleted => {
            let deleted = group.ticket.take();
            group.deleted_ticket = deleted;
            // Only GitHub calls survive: there is no ticket left to comment on or move.
            group.outbox.retain(|p| p.op.is_github_call());
            let recreate = config.recreate_deleted_tickets && group.open_ticketed() > 0;
            if recreate {
                group.deleted_ticket = None;
                group.ticket_state = TicketState::Draft;
                group.push_op(OutboxOp::Create);
            }
            let reason = match recreate {
                true => format!(
                    "{ticket} deleted in the tracker; a new ticket is requested (open findings remain)"
                ),
                false => format!(
                    "{ticket} deleted in the tracker; findings stay tracked without a ticket"
                ),
            };
            audit("ticket.deleted", reason, None, &mut out);
            out.actions.push(Action::TicketDeleted {
                group: key.clone(),
                ticket,
                recreate,
            });
        }
        TicketChange::Updated {
            status,
            status_name,
            resolution,
            assignee_changed,
        } => {
            let mut reassigned = false;
            if let Some(assignee) = assignee_changed {
                let who = assignee.clone().unwrap_or_else(|| "nobody".into());
                audit(
                    TICKET_ASSIGNED,
                    format!("assigned to {who}"),
                    None,
                    &mut out,
                );
                out.actions.push(Action::TicketAudited {
                    group: key.clone(),
                    ticket: ticket.clone(),
                    what: format!("assigned to {who}"),
                });
                // The alerts follow, in GitHub, where their kind has assignees (all three do).
                if *assignee != group.assignee {
                    group.assignee = assignee.clone();
                    reassigned = true;
                    if group.kind.is_github_alert() && group.tally.open > 0 {
                        match login_for(assignee.as_deref(), config, &event.tracker) {
                            Ok(login) => {
                                let what = match &login {
                                    Some(login) => format!(
                                        "assigning its {} open alerts in GitHub to @{login}",
                                        group.tally.open
                                    ),
                                    None => format!(
                                        "unassigning its {} open alerts in GitHub",
                                        group.tally.open
                                    ),
                                };
                                group.push_op(OutboxOp::AssignAlerts { login });
                                audit(ALERTS_ASSIGNED, what, None, &mut out);
                            }
                            Err(why) => audit(ASSIGNMENT_SKIPPED, why, None, &mut out),
                        }
                    }
                }
            }
            if already_in(group.ticket_state, *status) {
                if out.audit.is_empty() {
                    return ignore("the ticket is already in this state", out);
                }
                if reassigned {
                    group.updated_at = now;
                    out.group = Some(group);
                }
                return TicketDecision::Decided(Box::new(out));
            }
            let from = group.ticket_state;
            match status {
                StatusCategory::New | StatusCategory::InProgress => {
                    let to = match (status, from.is_closed()) {
                        (StatusCategory::InProgress, _) => TicketState::InProgress,
                        (_, true) => TicketState::Reopened,
                        _ => TicketState::Open,
                    };
                    group.ticket_state = to;
                    audit(
                        "ticket.moved",
                        format!("{ticket} moved to {status_name} in the tracker"),
                        None,
                        &mut out,
                    );
                    out.actions.push(Action::TicketMoved {
                        group: key.clone(),
                        ticket,
                        from,
                        to,
                    });
                }
                StatusCategory::Done => {
                    let dismissal = resolution.as_deref().and_then(|r| config.dismissal_for(r));
                    // GitHub can confirm its own alerts now; a SARIF group's findings are
                    // confirmed by the next analysis instead (`decide::analysis`), which reopens
                    // the ticket with the list if they are still there.
                    let in_github = group.kind.is_github_alert();
                    let verify_now = config.verify_closure && in_github;
                    let wanted = group.tally.open > 0 && (dismissal.is_some() || verify_now);
                    let open: &[FindingRecord] = match open_findings {
                        Some(open) => open,
                        None if wanted => return TicketDecision::NeedsOpenFindings,
                        None => &[],
                    };
                    if let Some(reason) = dismissal {
                        let resolution = resolution.clone().unwrap_or_default();
                        let comment = format!(
                            "Closed as \"{resolution}\" in {ticket} by {actor} (via scantix)."
                        );
                        let mut numbers = Vec::new();
                        for old in open {
                            let mut new = old.clone();
                            new.finding.state = AlertState::Dismissed;
                            new.finding.dismissal = Some(Dismissal {
                                by: Some(actor.clone()),
                                reason: Some(reason.spelling(old.finding.kind).to_owned()),
                                comment: Some(comment.clone()),
                                at: Some(now),
                            });
                            // Only GitHub's alerts are dismissed anywhere but here.
                            new.pending_dismissal = in_github.then(|| PendingDismissal {
                                reason,
                                comment: comment.clone(),
                            });
                            new.closed_at = Some(now);
                            new.updated_at = now;
                            group.absorb(Some(old), &new);
                            numbers.push(old.number());
                            audit(
                                "finding.dismissed",
                                comment.clone(),
                                Some(old.fingerprint.clone()),
                                &mut out,
                            );
                            out.findings.push(new);
                        }
                        if !numbers.is_empty() && in_github {
                            group.push_op(OutboxOp::DismissPending);
                        }
                        let whom = if in_github { " in GitHub" } else { "" };
                        group.ticket_state = TicketState::Resolved;
                        audit(
                            "ticket.resolved",
                            format!(
                                "{ticket} closed as \"{resolution}\": dismissing {} alerts{whom}",
                                numbers.len()
                            ),
                            None,
                            &mut out,
                        );
                        out.actions.push(Action::DismissAlerts {
                            group: key.clone(),
                            ticket,
                            numbers,
                            reason,
                        });
                    } else if verify_now && !open.is_empty() {
                        let Some(verified) = verification else {
                            return TicketDecision::NeedsVerification(
                                open.iter().map(|r| r.fingerprint.clone()).collect(),
                            );
                        };
                        let still_open: Vec<&FindingRecord> = open
                            .iter()
                            .filter(|r| {
                                verified
                                    .get(&r.fingerprint)
                                    .is_none_or(|s| *s == AlertState::Open)
                            })
                            .collect();
                        if still_open.is_empty() {
                            for old in open {
                                if let Some(state) = verified.get(&old.fingerprint) {
                                    let mut new = old.clone();
                                    new.finding.state = *state;
                                    new.closed_at = Some(now);
                                    new.updated_at = now;
                                    group.absorb(Some(old), &new);
                                    out.findings.push(new);
                                }
                            }
                            group.ticket_state = TicketState::Resolved;
                            audit(
                                "ticket.resolved",
                                format!(
                                    "{ticket} closed; GitHub confirms all {} open alerts are gone",
                                    open.len()
                                ),
                                None,
                                &mut out,
                            );
                            out.actions.push(Action::TicketMoved {
                                group: key.clone(),
                                ticket,
                                from,
                                to: TicketState::Resolved,
                            });
                        } else {
                            // A ticket's comment lists the first few; the ticket lists the rest.
                            let lines: Vec<String> = still_open
                                .iter()
                                .take(STILL_OPEN_LISTED)
                                .map(|r| {
                                    format!(
                                        "- alert {} ({}) {}",
                                        r.number(),
                                        r.finding.place(),
                                        r.finding.html_url.as_deref().unwrap_or("")
                                    )
                                })
                                .collect();
                            let more = match still_open.len().saturating_sub(lines.len()) {
                                0 => String::new(),
                                n => format!("\n- … and {n} more (see the ticket's findings)"),
                            };
                            let numbers = still_open.iter().map(|r| r.number()).collect();
                            let text = format!(
                                "{ticket} was closed, but GitHub still reports {} of its alerts open, so scantix reopened it:\n{}{more}",
                                still_open.len(),
                                lines.join("\n")
                            );
                            group.ticket_state = TicketState::Reopened;
                            group.push_op(OutboxOp::Transition {
                                to: TicketState::Reopened,
                            });
                            group.push_op(OutboxOp::Comment { text: text.clone() });
                            audit("ticket.closure_rejected", text, None, &mut out);
                            out.actions.push(Action::ClosureRejected {
                                group: key.clone(),
                                ticket,
                                still_open: numbers,
                            });
                        }
                    } else {
                        group.ticket_state = TicketState::Resolved;
                        let why = if group.tally.open == 0 {
                            "no alert was open"
                        } else if !in_github {
                            "the next analysis verifies its findings"
                        } else {
                            "verification is off"
                        };
                        audit(
                            "ticket.resolved",
                            format!("{ticket} closed in the tracker ({why})"),
                            None,
                            &mut out,
                        );
                        out.actions.push(Action::TicketMoved {
                            group: key.clone(),
                            ticket,
                            from,
                            to: TicketState::Resolved,
                        });
                    }
                }
            }
        }
    }
    group.updated_at = now;
    out.group = Some(group);
    TicketDecision::Decided(Box::new(out))
}

#[cfg(test)]
mod tests;
