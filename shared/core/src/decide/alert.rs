//! `decide`: the pure core. (event, the finding's stored record, its group's stored record, triage,
//! config, now) → the records to write, the tracker calls the group now owes, the audit entries,
//! and a readable list of what was decided. No I/O, no clock: every input is an argument, so every
//! transition is tested with plain values.
//!
//! Re-deciding an event whose effects are already stored decides nothing new; that is what makes
//! redelivery and retry-after-crash safe.

use super::action::{Action, Decision};
use super::triage::Verdict;
use crate::config::{Config, WhenAllFixed};
use crate::decide::drafts::DRAFT_PREPARED;
use crate::event::{AlertChange, AlertEvent};
use crate::finding::{AlertState, Finding};
use crate::identity::{Fingerprint, GroupKey, GroupingMode};
use crate::records::{
    AuditEntry, FindingRecord, GroupContent, GroupRecord, OutboxOp, TicketRef, TicketState, Triage,
};
use chrono::{DateTime, Utc};

/// Everything `decide` looks at.
#[derive(Debug, Clone, Copy)]
pub struct Inputs<'a> {
    pub event: &'a AlertEvent,
    pub finding: Option<&'a FindingRecord>,
    pub group: Option<&'a GroupRecord>,
    /// What triage said: ticket or record, why, and the overrides to honour.
    pub verdict: &'a Verdict,
    pub config: &'a Config,
    pub now: DateTime<Utc>,
    /// The delivery that brought the event, for the audit log.
    pub delivery: Option<&'a str>,
}

/// The group a finding belongs to: the one it was first put in, or the configured grouping's.
pub fn group_key_for(
    event: &AlertEvent,
    stored: Option<&FindingRecord>,
    config: &Config,
    group_by: Option<GroupingMode>,
) -> GroupKey {
    match stored {
        Some(record) => record.group_key.clone(),
        None => {
            let kind = event.finding.kind;
            let mode = group_by.unwrap_or_else(|| config.grouping.mode_for(kind));
            GroupKey::for_finding_in(&event.finding, mode, config.grouping.scope_for(kind))
        }
    }
}

/// The state an alert is in after `event`, whatever the payload's `state` field says: payloads
/// lag (a `reopened` delivery may still carry the old state), the action does not.
fn state_after(event: &AlertEvent) -> AlertState {
    match event.change {
        AlertChange::Opened | AlertChange::Reappeared => AlertState::Open,
        AlertChange::Fixed => AlertState::Fixed,
        AlertChange::Dismissed => AlertState::Dismissed,
        AlertChange::Updated => event.finding.state,
    }
}

/// Decides what `inputs.event` means for its finding, group and ticket.
pub fn decide(inputs: Inputs<'_>) -> Decision {
    let Inputs {
        event,
        finding: stored,
        group: stored_group,
        verdict,
        config,
        now,
        delivery,
    } = inputs;
    // Alerts seen only on a pull request never become tickets, whatever a policy says: the pull
    // request's summary comment is where they are talked about (see `decide_pull_request`). A
    // delivery without a ref (`closed_by_user`) is on the ref last seen.
    let seen_on = (event.finding.git_ref.as_deref())
        .or_else(|| stored.and_then(|r| r.finding.git_ref.as_deref()));
    let pr_only = seen_on
        .and_then(crate::finding::pull_request_of_ref)
        .filter(|_| verdict.triage == Triage::Ticket);
    let triage = if pr_only.is_some() {
        Triage::Record
    } else {
        verdict.triage
    };
    let fingerprint = Fingerprint::of(&event.finding);
    let key = group_key_for(event, stored, config, verdict.group_by);
    let mut out = Decision {
        group_key: key.clone(),
        finding: None,
        group: None,
        content: None,
        findings: vec![],
        audit: vec![],
        actions: vec![],
    };
    let actor = event.actor.clone().unwrap_or_else(|| "github".into());
    // Every entry this event writes is about its finding: each carries the state it leaves the
    // finding in, so an export can tell a fix from other updates.
    let state = state_after(event);
    let audit = |action: &str, reason: String, out: &mut Decision| {
        out.audit.push(AuditEntry {
            at: now,
            group_key: key.clone(),
            fingerprint: Some(fingerprint.clone()),
            actor: actor.clone(),
            action: action.into(),
            reason,
            delivery: delivery.map(str::to_owned),
            ticket: stored_group
                .and_then(|g| g.ticket.as_ref())
                .map(|t| t.key.clone()),
            state: Some(state),
        });
    };

    // Out of order (a retried older delivery overtaking a newer one): the stored record is newer.
    if let (Some(record), Some(incoming)) = (stored, event.finding.updated_at)
        && record
            .finding
            .updated_at
            .is_some_and(|known| known > incoming)
    {
        let reason = format!("event `{}` is older than the stored alert", event.action);
        out.actions.push(Action::Nothing {
            fingerprint,
            reason,
        });
        return out;
    }
    // A pull request's analysis speaks for its branch only. An alert known off pull requests
    // keeps its state and its ticket until a change reaches that branch (after a merge, the
    // `fixed` on the default branch); what the pull request would fix or bring back is its
    // summary comment's business. A dismissal is the alert's on every branch, so it goes through.
    if let (Some(pr), Some(record)) = (event.finding.pull_request(), stored)
        && event.change != AlertChange::Dismissed
        && record.finding.pull_request().is_none()
    {
        let known_on = record.finding.git_ref.as_deref().unwrap_or("its branch");
        let reason = format!(
            "`{}` on pull request #{pr} only; the alert stays {} on {known_on} until the change reaches it",
            event.action,
            record.finding.state.as_str()
        );
        out.actions.push(Action::Nothing {
            fingerprint,
            reason,
        });
        return out;
    }
    if stored.is_none() && triage == Triage::Ignore {
        out.actions.push(Action::Nothing {
            fingerprint,
            reason: "ignored by triage".into(),
        });
        return out;
    }

    let mut finding: Finding = event.finding.clone();
    finding.state = state_after(event);
    // Some deliveries omit what others carried (`*_by_user` actions have no ref or commit, older
    // payloads no location): keep what is known rather than forget it.
    if let Some(known) = stored.map(|r| &r.finding) {
        finding.git_ref = finding.git_ref.or_else(|| known.git_ref.clone());
        finding.commit_sha = finding.commit_sha.or_else(|| known.commit_sha.clone());
        finding.location = finding.location.or_else(|| known.location.clone());
        finding.html_url = finding.html_url.or_else(|| known.html_url.clone());
    }
    // Once on a ticket, always on it: triage decides only whether a finding joins the ticket.
    let ticketed = stored.is_some_and(FindingRecord::is_ticketed) || triage == Triage::Ticket;
    let first_seen = stored.map_or(now, |r| r.first_seen);
    // The policy may file it at another priority, and give it another deadline.
    let severity = verdict.priority.unwrap_or(finding.severity);
    let was_open = stored.is_some_and(|r| r.is_ticketed() && r.is_open());
    let is_open_now = finding.state == AlertState::Open;
    let record = FindingRecord {
        fingerprint: fingerprint.clone(),
        group_key: key.clone(),
        finding: FindingRecord::slim(finding.clone()),
        triage: if ticketed { Triage::Ticket } else { triage },
        severity,
        // A policy that moves the priority without saying why is still named as the reason.
        priority_reason: verdict.priority_reason.clone().or_else(|| {
            (severity != finding.severity).then(|| {
                format!(
                    "set by the triage policy (the scanner said {})",
                    finding.severity
                )
            })
        }),
        due: config.sla.due_date(severity, first_seen, verdict.sla_days),
        owner: verdict.assignee.clone(),
        first_seen,
        updated_at: now,
        ticketed_at: stored
            .and_then(|r| r.ticketed_at)
            .or(ticketed.then_some(now)),
        closed_at: match (is_open_now, stored) {
            (true, _) => None,
            (false, Some(old)) if !old.is_open() => old.closed_at.or(Some(now)),
            (false, _) => Some(now),
        },
        reopens: stored.map_or(0, |r| r.reopens)
            + u32::from(is_open_now && stored.is_some_and(|r| !r.is_open())),
        // GitHub reporting the alert dismissed settles what scantix owed it. (If it reports the
        // alert open or fixed instead, the debt stays but is only paid while scantix's record says
        // dismissed: see `OutboxOp::DismissPending`.)
        pending_dismissal: stored
            .and_then(|r| r.pending_dismissal.clone())
            .filter(|_| finding.state != AlertState::Dismissed),
    };
    if stored.is_none_or(|old| {
        FindingRecord {
            updated_at: now,
            ..old.clone()
        } != record
    }) {
        out.finding = Some(record.clone());
    }

    let mut group = match stored_group {
        Some(group) => group.clone(),
        None => {
            out.content = Some(GroupContent::of(&key, &finding));
            GroupRecord::new(key.clone(), &finding, now)
        }
    };
    if event.installation_id.is_some() {
        group.installation_id = event.installation_id;
    }
    if stored.is_none() {
        let reason = match pr_only {
            Some(pr) => format!(
                "recorded: alert only on pull request #{pr} (triage said \"{}\")",
                verdict.reason
            ),
            None => verdict.reason.clone(),
        };
        audit("finding.triaged", reason, &mut out);
    }
    // What a ticket shows of the finding changed (or it is new): the group's counts follow.
    let member_changed = stored.is_none_or(|old| !old.shows_the_same(&record));
    if member_changed {
        group.absorb(stored, &record);
    }
    // Assigned in GitHub: the ticket follows, through the owners map.
    let reassigned = ticketed
        && match (&event.finding.assignees, is_assignment(&event.action)) {
            (Some(logins), true) => match assignee_from_github(logins, config, &group) {
                Ok(user) if user != group.assignee => {
                    let was = group.assignee.clone().unwrap_or_else(|| "nobody".into());
                    group.assignee = user.clone();
                    if group.ticket.as_ref().is_some_and(|t| !t.is_draft()) {
                        group.push_op(OutboxOp::Assign {
                            assignee: user.clone(),
                        });
                    }
                    let who = user.unwrap_or_else(|| "nobody".into());
                    let by = match logins.first() {
                        Some(login) => format!("assigned to @{login}"),
                        None => "unassigned".into(),
                    };
                    let what = format!(
                        "assigned to {who} (was {was}): alert {} {by} in GitHub",
                        finding.number
                    );
                    audit(TICKET_ASSIGNED, what.clone(), &mut out);
                    out.actions.push(Action::TicketAudited {
                        group: key.clone(),
                        ticket: group
                            .ticket
                            .as_ref()
                            .map(|t| t.key.clone())
                            .unwrap_or_default(),
                        what,
                    });
                    true
                }
                Ok(_) => false,
                Err(why) => {
                    audit(ASSIGNMENT_SKIPPED, why, &mut out);
                    false
                }
            },
            _ => false,
        };

    if !ticketed {
        if member_changed {
            let reason = format!(
                "{} ({}); not ticketed by triage",
                event.action,
                finding.state.as_str()
            );
            audit("finding.recorded", reason.clone(), &mut out);
            out.actions.push(Action::Record {
                fingerprint,
                group: key,
                state: finding.state,
                reason,
            });
            group.updated_at = now;
            out.group = Some(group);
        } else {
            out.actions.push(Action::Nothing {
                fingerprint,
                reason: "already recorded".into(),
            });
        }
        return out;
    }
    if !member_changed {
        if reassigned {
            group.updated_at = now;
            out.group = Some(group);
            return out;
        }
        out.actions.push(Action::Nothing {
            fingerprint,
            reason: "already known in this state".into(),
        });
        return out;
    }
    let previous_closed = stored.is_some_and(|r| r.is_ticketed() && !r.is_open());

    let is_open = finding.state == AlertState::Open;
    let number = finding.number;
    let comment = |group: &mut GroupRecord, out: &mut Decision, text: String| {
        group.push_op(OutboxOp::Comment { text: text.clone() });
        out.actions.push(Action::Comment {
            fingerprint: fingerprint.clone(),
            group: key.clone(),
            text,
        });
    };

    if !group.has_or_awaits_ticket() {
        if is_open && (verdict.draft || config.drafts.drafts(finding.kind, severity)) {
            // Prepared, not created: the draft is the group's until a person pushes it (then the
            // outbox creates it) or discards it. Later findings update the draft, not a tracker.
            group.destination = config.destination_for(finding.kind, severity);
            group.ticket = Some(TicketRef::draft(&key));
            group.ticket_state = TicketState::Draft;
            group.discarded_at = None;
            let why = if verdict.draft {
                "the triage policy said draft"
            } else {
                "the settings' `mode: draft`"
            };
            audit(
                DRAFT_PREPARED,
                format!(
                    "first actionable finding: alert {number} {} ({why})",
                    event.action
                ),
                &mut out,
            );
            out.actions.push(Action::DraftTicket {
                fingerprint: fingerprint.clone(),
                group: key.clone(),
            });
        } else if is_open {
            // Where the ticket goes is decided with the request and kept with it.
            group.destination = config.destination_for(finding.kind, severity);
            group.discarded_at = None;
            group.push_op(OutboxOp::Create);
            audit(
                "ticket.requested",
                format!("first actionable finding: alert {number} {}", event.action),
                &mut out,
            );
            out.actions.push(Action::CreateTicket {
                fingerprint: fingerprint.clone(),
                group: key.clone(),
            });
        } else {
            // Closed before it ever needed a ticket: remember it, nothing to work on.
            audit(
                "finding.recorded",
                format!("{} before any ticket", finding.state.as_str()),
                &mut out,
            );
            out.actions.push(Action::Record {
                fingerprint: fingerprint.clone(),
                group: key.clone(),
                state: finding.state,
                reason: "closed before any ticket".into(),
            });
        }
    } else if is_open && !was_open && group.ticket_state.is_closed() {
        group.push_op(OutboxOp::Transition {
            to: TicketState::Reopened,
        });
        group.ticket_state = TicketState::Reopened;
        group.push_op(OutboxOp::Refresh);
        let text = format!(
            "Reopened: alert {number} is open again ({}){}.",
            event.action,
            finding
                .git_ref
                .as_deref()
                .map(|r| format!(" on {r}"))
                .unwrap_or_default()
        );
        audit("ticket.reopened", text.clone(), &mut out);
        out.actions.push(Action::ReopenTicket {
            fingerprint: fingerprint.clone(),
            group: key.clone(),
        });
        comment(&mut group, &mut out, text);
    } else {
        group.push_op(OutboxOp::Refresh);
        audit(
            "ticket.updated",
            format!(
                "alert {number} {} ({})",
                event.action,
                finding.state.as_str()
            ),
            &mut out,
        );
        out.actions.push(Action::UpdateTicket {
            fingerprint: fingerprint.clone(),
            group: key.clone(),
            state: finding.state,
        });
        if is_open && previous_closed {
            comment(
                &mut group,
                &mut out,
                format!("Alert {number} is open again ({}).", event.action),
            );
        }
        if event.action == "publicly_leaked" {
            comment(
                &mut group,
                &mut out,
                format!(
                    "Alert {number}: the secret was found in a public location. Revoke it now."
                ),
            );
        }
    }

    if finding.state == AlertState::Dismissed && was_open {
        let d = finding.dismissal.as_ref();
        let by = d
            .and_then(|d| d.by.clone())
            .or(event.actor.clone())
            .unwrap_or_else(|| "someone".into());
        let why = d
            .and_then(|d| d.reason.clone())
            .unwrap_or_else(|| "no reason given".into());
        let note = d
            .and_then(|d| d.comment.clone())
            .filter(|c| !c.trim().is_empty());
        // A SARIF finding is dismissed by its analysis (a suppression), not in GitHub.
        let in_github = if finding.kind.is_github_alert() {
            " in GitHub"
        } else {
            ""
        };
        let text = match note {
            Some(note) => {
                format!("Alert {number} was dismissed{in_github} by {by} as \"{why}\": {note}")
            }
            None => format!("Alert {number} was dismissed{in_github} by {by} as \"{why}\"."),
        };
        audit("finding.dismissed", text.clone(), &mut out);
        if group.has_or_awaits_ticket() {
            comment(&mut group, &mut out, text);
        }
    }

    // The last open finding just closed: the ticket has no work left.
    if !is_open
        && was_open
        && group.has_or_awaits_ticket()
        && group.open_ticketed() == 0
        && !group.ticket_state.is_closed()
    {
        let (fixed, dismissed) = (group.tally.fixed, group.tally.dismissed);
        let summary = match finding.kind.is_github_alert() {
            true => format!(
                "Every alert on this ticket is closed in GitHub ({fixed} fixed, {dismissed} dismissed)."
            ),
            false => format!(
                "Every finding on this ticket is gone from the latest analysis ({fixed} fixed, {dismissed} dismissed)."
            ),
        };
        let (to, verb, action) = match config.when_all_fixed {
            WhenAllFixed::MarkStale => (
                TicketState::Stale,
                "ticket.stale",
                Action::MarkTicketStale {
                    fingerprint: fingerprint.clone(),
                    group: key.clone(),
                },
            ),
            WhenAllFixed::Close => (
                TicketState::Resolved,
                "ticket.closed",
                Action::CloseTicket {
                    fingerprint: fingerprint.clone(),
                    group: key.clone(),
                },
            ),
        };
        group.ticket_state = to;
        // Nothing was fixed, people dismissed it all: a tracker that says why a ticket closed
        // must not say "completed".
        let not_planned = to == TicketState::Resolved && fixed == 0;
        group.push_op(if not_planned {
            OutboxOp::CloseNotPlanned
        } else {
            OutboxOp::Transition { to }
        });
        audit(verb, summary.clone(), &mut out);
        out.actions.push(action);
        let text = match to {
            TicketState::Stale => format!("{summary} Marked stale: confirm and close it."),
            _ if not_planned => format!("{summary} Closed as not planned."),
            _ => format!("{summary} Closed."),
        };
        comment(&mut group, &mut out, text);
    }

    group.updated_at = now;
    out.group = Some(group);
    out
}

/// Audited when a ticket's assignee changes (in GitHub, in the tracker, or by a person in scantix).
pub const TICKET_ASSIGNED: &str = "ticket.assigned";

/// Audited when an assignment cannot be carried over (a login or tracker user the owners map does
/// not name).
pub const ASSIGNMENT_SKIPPED: &str = "assignment.skipped";

/// GitHub's action words for a change of an alert's assignees.
pub fn is_assignment(action: &str) -> bool {
    matches!(
        action,
        "updated_assignment" | "assignees_changed" | "assigned" | "unassigned"
    )
}

/// The tracker user an alert assigned to `logins` in GitHub makes the ticket's assignee
/// (`Ok(None)`: nobody): the first login the owners map names; in GitHub Issues, where users are
/// logins, the first login itself. `Err` says why none can be.
pub fn assignee_from_github(
    logins: &[String],
    config: &Config,
    group: &GroupRecord,
) -> Result<Option<String>, String> {
    if logins.is_empty() {
        return Ok(None);
    }
    if let Some(user) = logins
        .iter()
        .find_map(|login| crate::owners::tracker_user_for_login(login, &config.owners))
    {
        return Ok(Some(user));
    }
    let in_github_issues = group.ticket.as_ref().is_some_and(|t| t.tracker == "github");
    match logins.first() {
        Some(login) if in_github_issues => Ok(Some(login.clone())),
        _ => Err(format!(
            "the alert was assigned in GitHub to {}, whom the owners map does not name: the \
             ticket keeps its assignee (add `\"@login\": tracker-user` under `owners`)",
            logins
                .iter()
                .map(|l| format!("@{l}"))
                .collect::<Vec<_>>()
                .join(", ")
        )),
    }
}

#[cfg(test)]
mod tests;

/// How the comment that flags an overdue ticket starts: trackers that treat it apart (email sends it
/// as an "overdue" message) recognise it by this.
pub const OVERDUE_PREFIX: &str = "Overdue:";

/// Flags `group`'s ticket overdue if it is past its due date and not flagged yet: a label (through
/// the refreshed ticket) and one comment, once. `None`: nothing to do.
pub fn decide_overdue(
    group: &GroupRecord,
    now: DateTime<Utc>,
) -> Option<(GroupRecord, AuditEntry)> {
    let due = group.due()?;
    let ticket = group.ticket.as_ref()?;
    if group.overdue_flagged || group.ticket_state.is_closed() || !crate::sla::is_overdue(due, now)
    {
        return None;
    }
    let mut next = group.clone();
    next.overdue_flagged = true;
    let days = (now.date_naive() - due).num_days();
    let text = format!(
        "{OVERDUE_PREFIX} this {} ticket was due on {due} ({days} days ago) and {} of its alerts are still open.",
        group.severity(),
        group.open_ticketed()
    );
    next.push_op(OutboxOp::Refresh);
    next.push_op(OutboxOp::Comment { text: text.clone() });
    next.updated_at = now;
    let entry = AuditEntry {
        at: now,
        group_key: group.key.clone(),
        fingerprint: None,
        actor: "scantix".into(),
        action: "ticket.overdue".into(),
        reason: text,
        delivery: None,
        ticket: Some(ticket.key.clone()),
        state: None,
    };
    Some((next, entry))
}
