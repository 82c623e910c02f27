//! One scenario per transition of a tracker event: given a group with its ticket and a tracker
//! event, `decide_ticket` records this, owes these calls, or first asks GitHub.

use super::*;
use crate::config::Config;
use crate::event::{StatusCategory, TicketChange, TicketEvent};
use crate::finding::AlertState;
use crate::finding::DismissReason;
use crate::identity::{GroupKey, GroupingMode};
use crate::records::{GroupRecord, OutboxOp, TicketRef, TicketState, Triage};
use crate::testing::code_alert;
use chrono::{TimeZone, Utc};

fn now() -> DateTime<Utc> {
    Utc.with_ymd_and_hms(2026, 11, 2, 9, 0, 0).unwrap()
}

/// A group and its findings, as stored.
#[derive(Debug, Clone)]
struct Stored {
    group: GroupRecord,
    findings: Vec<FindingRecord>,
}

impl Stored {
    /// Alert `n` is now in `state` (its record and the group's counts).
    fn set_state(&mut self, n: u64, state: AlertState) {
        let fingerprint = fp(n);
        let Some(record) = self
            .findings
            .iter_mut()
            .find(|r| r.fingerprint == fingerprint)
        else {
            panic!("no alert {n}");
        };
        let old = record.clone();
        record.finding.state = state;
        self.group.absorb(Some(&old), record);
    }

    /// The findings `decide_ticket` is given: the open ticketed ones.
    fn open(&self) -> Vec<FindingRecord> {
        self.findings
            .iter()
            .filter(|r| r.is_ticketed() && r.is_open())
            .cloned()
            .collect()
    }
}

/// A group of open alerts `numbers` whose ticket is SEC-1, in `state`.
fn group(numbers: &[u64], state: TicketState) -> Stored {
    let first = code_alert(numbers[0], "js/xss", "src/app.js");
    let key = GroupKey::for_finding(&first, GroupingMode::Rule);
    let mut g = GroupRecord::new(key.clone(), &first, now());
    let mut findings = Vec::new();
    for &n in numbers {
        let f = code_alert(n, "js/xss", "src/app.js");
        let record = FindingRecord {
            priority_reason: None,
            fingerprint: Fingerprint::of(&f),
            group_key: key.clone(),
            severity: f.severity,
            finding: f,
            triage: Triage::Ticket,
            due: None,
            owner: None,
            first_seen: now(),
            updated_at: now(),
            ticketed_at: Some(now()),
            closed_at: None,
            reopens: 0,
            pending_dismissal: None,
        };
        g.absorb(None, &record);
        findings.push(record);
    }
    g.ticket = Some(TicketRef {
        tracker: "jira".into(),
        key: "SEC-1".into(),
        url: None,
    });
    g.ticket_state = state;
    Stored { group: g, findings }
}

fn fp(n: u64) -> Fingerprint {
    Fingerprint::of(&code_alert(n, "js/xss", "src/app.js"))
}

fn moved(status: StatusCategory, resolution: Option<&str>) -> TicketEvent {
    TicketEvent {
        tracker: "jira".into(),
        ticket_key: "SEC-1".into(),
        change: TicketChange::Updated {
            status,
            status_name: format!("{status:?}"),
            resolution: resolution.map(str::to_owned),
            assignee_changed: None,
        },
        actor: Some("Bob".into()),
        actor_id: Some("acc-bob".into()),
    }
}

fn run(
    event: &TicketEvent,
    stored: &Stored,
    verification: Option<&Verification>,
    config: &Config,
) -> TicketDecision {
    let open = stored.open();
    decide_ticket(TicketInputs {
        event,
        group: &stored.group,
        open_findings: Some(&open),
        verification,
        config,
        now: now(),
        delivery: Some("j1"),
    })
}

fn decided(d: TicketDecision) -> Decision {
    match d {
        TicketDecision::Decided(d) => *d,
        other => panic!("expected a decision, got {other:?}"),
    }
}

/// The state `decision` leaves alert `n` in (unchanged: `None`).
fn state_of(d: &Decision, n: u64) -> Option<AlertState> {
    d.findings
        .iter()
        .find(|r| r.fingerprint == fp(n))
        .map(|r| r.finding.state)
}

fn ops(d: &Decision) -> Vec<OutboxOp> {
    d.group
        .as_ref()
        .map(|g| g.outbox.iter().map(|p| p.op.clone()).collect())
        .unwrap_or_default()
}

#[test]
fn closing_a_ticket_with_open_alerts_first_reads_them() {
    let g = group(&[1, 2], TicketState::Open);
    let d = decide_ticket(TicketInputs {
        event: &moved(StatusCategory::Done, Some("Done")),
        group: &g.group,
        open_findings: None,
        verification: None,
        config: &Config::default(),
        now: now(),
        delivery: Some("j1"),
    });
    assert_eq!(d, TicketDecision::NeedsOpenFindings);
}

#[test]
fn closing_a_ticket_with_open_alerts_first_asks_github() {
    let g = group(&[1, 2], TicketState::Open);
    let d = run(
        &moved(StatusCategory::Done, Some("Done")),
        &g,
        None,
        &Config::default(),
    );
    assert_eq!(d, TicketDecision::NeedsVerification(vec![fp(1), fp(2)]));
}

#[test]
fn a_closure_github_confirms_resolves_the_findings() {
    let g = group(&[1, 2], TicketState::Open);
    let verified = Verification::from([(fp(1), AlertState::Fixed), (fp(2), AlertState::Dismissed)]);
    let d = decided(run(
        &moved(StatusCategory::Done, Some("Done")),
        &g,
        Some(&verified),
        &Config::default(),
    ));
    let after = d.group.as_ref().unwrap();
    assert_eq!(after.ticket_state, TicketState::Resolved);
    assert_eq!(state_of(&d, 1), Some(AlertState::Fixed));
    assert_eq!(state_of(&d, 2), Some(AlertState::Dismissed));
    assert_eq!(
        (after.tally.open, after.tally.fixed, after.tally.dismissed),
        (0, 1, 1)
    );
    assert!(ops(&d).is_empty());
    assert_eq!(d.audit[0].action, "ticket.resolved");
    assert_eq!(d.audit[0].actor, "Bob");
}

#[test]
fn a_closure_while_github_still_reports_an_alert_open_reopens_the_ticket_with_the_list() {
    let g = group(&[1, 2], TicketState::InProgress);
    let verified = Verification::from([(fp(1), AlertState::Fixed), (fp(2), AlertState::Open)]);
    let d = decided(run(
        &moved(StatusCategory::Done, Some("Done")),
        &g,
        Some(&verified),
        &Config::default(),
    ));
    assert_eq!(
        d.group.as_ref().unwrap().ticket_state,
        TicketState::Reopened
    );
    let ops = ops(&d);
    assert_eq!(
        ops[0],
        OutboxOp::Transition {
            to: TicketState::Reopened
        }
    );
    assert!(
        matches!(&ops[1], OutboxOp::Comment { text } if text.contains("still reports 1 of its alerts open") && text.contains("alert 2 (src/app.js:2)"))
    );
    assert!(
        d.findings.is_empty(),
        "nothing resolved on a rejected closure"
    );
    assert_eq!(d.group.as_ref().unwrap().tally.open, 2);
    assert!(
        matches!(&d.actions[0], Action::ClosureRejected { still_open, .. } if still_open == &vec![2])
    );
}

#[test]
fn a_wont_fix_resolution_dismisses_the_open_alerts_in_github() {
    let mut g = group(&[1, 2], TicketState::Open);
    g.set_state(2, AlertState::Fixed);
    let d = decided(run(
        &moved(StatusCategory::Done, Some("won't do")),
        &g,
        None,
        &Config::default(),
    ));
    let after = d.group.as_ref().unwrap();
    assert_eq!(after.ticket_state, TicketState::Resolved);
    assert_eq!(state_of(&d, 1), Some(AlertState::Dismissed));
    assert_eq!(state_of(&d, 2), None, "a fixed alert is not dismissed");
    assert_eq!(ops(&d), [OutboxOp::DismissPending]);
    let owed = d.findings[0].pending_dismissal.as_ref().unwrap();
    assert_eq!(owed.reason, DismissReason::WontFix);
    assert_eq!(
        owed.comment,
        "Closed as \"won't do\" in SEC-1 by Bob (via scantix)."
    );
    assert_eq!(
        (after.tally.open, after.tally.fixed, after.tally.dismissed),
        (0, 1, 1)
    );
}

#[test]
fn a_false_positive_resolution_maps_to_its_reason() {
    let g = group(&[1], TicketState::Open);
    let d = decided(run(
        &moved(StatusCategory::Done, Some("False Positive")),
        &g,
        None,
        &Config::default(),
    ));
    assert_eq!(ops(&d), [OutboxOp::DismissPending]);
    assert_eq!(
        d.findings[0].pending_dismissal.as_ref().map(|o| o.reason),
        Some(DismissReason::FalsePositive)
    );
    assert_eq!(
        d.findings[0]
            .finding
            .dismissal
            .as_ref()
            .and_then(|x| x.reason.as_deref()),
        Some("false positive"),
        "spelled as code scanning wants it"
    );
}

#[test]
fn with_verification_off_a_closure_is_taken_at_its_word() {
    let g = group(&[1], TicketState::Open);
    let config = Config {
        verify_closure: false,
        ..Config::default()
    };
    let d = decided(run(
        &moved(StatusCategory::Done, Some("Done")),
        &g,
        None,
        &config,
    ));
    assert_eq!(d.group.unwrap().ticket_state, TicketState::Resolved);
}

#[test]
fn closing_a_stale_ticket_needs_no_verification() {
    let mut g = group(&[1], TicketState::Stale);
    g.set_state(1, AlertState::Fixed);
    let d = decided(run(
        &moved(StatusCategory::Done, Some("Done")),
        &g,
        None,
        &Config::default(),
    ));
    assert_eq!(d.group.unwrap().ticket_state, TicketState::Resolved);
}

#[test]
fn an_event_matching_the_recorded_state_is_an_echo_and_decides_nothing() {
    for (state, category) in [
        (TicketState::Open, StatusCategory::New),
        (TicketState::Reopened, StatusCategory::New),
        (TicketState::Stale, StatusCategory::New),
        (TicketState::InProgress, StatusCategory::InProgress),
        (TicketState::Resolved, StatusCategory::Done),
    ] {
        let d = decided(run(
            &moved(category, None),
            &group(&[1], state),
            None,
            &Config::default(),
        ));
        assert!(
            d.group.is_none() && d.audit.is_empty(),
            "{state:?} {category:?}"
        );
        assert!(matches!(d.actions[0], Action::Ignored { .. }));
    }
}

#[test]
fn events_by_scantix_itself_are_ignored() {
    let config = Config {
        service_accounts: vec!["acc-bob".into()],
        ..Config::default()
    };
    let d = decided(run(
        &moved(StatusCategory::Done, Some("Done")),
        &group(&[1], TicketState::Open),
        None,
        &config,
    ));
    assert!(d.group.is_none());
}

#[test]
fn starting_work_records_in_progress() {
    let d = decided(run(
        &moved(StatusCategory::InProgress, None),
        &group(&[1], TicketState::Open),
        None,
        &Config::default(),
    ));
    assert_eq!(d.group.unwrap().ticket_state, TicketState::InProgress);
    assert!(matches!(
        d.actions[0],
        Action::TicketMoved {
            from: TicketState::Open,
            to: TicketState::InProgress,
            ..
        }
    ));
}

#[test]
fn a_person_reopening_a_resolved_ticket_records_reopened() {
    let d = decided(run(
        &moved(StatusCategory::New, None),
        &group(&[1], TicketState::Resolved),
        None,
        &Config::default(),
    ));
    assert_eq!(d.group.unwrap().ticket_state, TicketState::Reopened);
}

fn assigned(to: Option<&str>) -> TicketEvent {
    let mut event = moved(StatusCategory::New, None);
    if let TicketChange::Updated {
        assignee_changed, ..
    } = &mut event.change
    {
        *assignee_changed = Some(to.map(str::to_owned));
    }
    event
}

fn owners(pairs: &[(&str, &str)]) -> Config {
    Config {
        owners: pairs
            .iter()
            .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
            .collect(),
        ..Config::default()
    }
}

fn queued(group: &GroupRecord) -> Vec<OutboxOp> {
    group.outbox.iter().map(|p| p.op.clone()).collect()
}

#[test]
fn a_ticket_assigned_in_the_tracker_assigns_its_alerts_in_github_through_the_owners_map() {
    let config = owners(&[("@acme/web", "acc-team"), ("@carol", "acc-carol")]);
    let d = decided(run(
        &assigned(Some("acc-carol")),
        &group(&[1, 2], TicketState::Open),
        None,
        &config,
    ));
    let actions: Vec<&str> = d.audit.iter().map(|a| a.action.as_str()).collect();
    assert_eq!(actions, ["ticket.assigned", "alerts.assigned"]);
    assert_eq!(d.audit[0].reason, "assigned to acc-carol");
    assert_eq!(
        d.audit[1].reason,
        "assigning its 2 open alerts in GitHub to @carol"
    );
    let after = d.group.unwrap();
    assert_eq!(after.assignee.as_deref(), Some("acc-carol"));
    assert_eq!(
        queued(&after),
        [OutboxOp::AssignAlerts {
            login: Some("carol".into())
        }]
    );

    // Unassigned in the tracker: the alerts are unassigned too.
    let mut carol = group(&[1], TicketState::Open);
    carol.group.assignee = Some("acc-carol".into());
    let d = decided(run(&assigned(None), &carol, None, &config));
    assert_eq!(
        queued(&d.group.unwrap()),
        [OutboxOp::AssignAlerts { login: None }]
    );
}

#[test]
fn an_assignment_already_known_or_unmapped_leaves_the_alerts_alone() {
    let config = owners(&[("@carol", "acc-carol")]);
    // The assignee scantix already has (its own assign, echoed without an actor it knows):
    // audited, nothing queued, nothing written.
    let mut carol = group(&[1], TicketState::Open);
    carol.group.assignee = Some("acc-carol".into());
    let d = decided(run(&assigned(Some("acc-carol")), &carol, None, &config));
    assert_eq!(d.audit.len(), 1);
    assert!(d.group.is_none(), "nothing changed");

    // Someone the owners map does not name as a GitHub user: the ticket's assignee is recorded,
    // the alerts keep theirs, and the audit says how to fix the map.
    let d = decided(run(
        &assigned(Some("acc-dave")),
        &group(&[1], TicketState::Open),
        None,
        &config,
    ));
    let after = d.group.unwrap();
    assert_eq!(after.assignee.as_deref(), Some("acc-dave"));
    assert!(after.outbox.is_empty(), "{:?}", after.outbox);
    assert_eq!(d.audit[1].action, "assignment.skipped");
    assert!(
        d.audit[1].reason.contains("\"@login\": acc-dave"),
        "{}",
        d.audit[1].reason
    );

    // An echo of scantix's own write (its account) changes nothing at all.
    let echo = TicketEvent {
        actor_id: Some("scantix-bot".into()),
        ..assigned(Some("acc-carol"))
    };
    let config = Config {
        service_accounts: vec!["scantix-bot".into()],
        ..config
    };
    let d = decided(run(&echo, &group(&[1], TicketState::Open), None, &config));
    assert!(d.group.is_none() && d.audit.is_empty());
}

#[test]
fn in_github_issues_the_assignee_is_a_login_already() {
    let mut issue = group(&[1], TicketState::Open);
    issue.group.ticket = Some(TicketRef {
        tracker: "github".into(),
        key: "acme/shop#4".into(),
        url: None,
    });
    let event = TicketEvent {
        tracker: "github".into(),
        ticket_key: "acme/shop#4".into(),
        ..assigned(Some("octo-dev"))
    };
    let d = decided(run(&event, &issue, None, &Config::default()));
    assert_eq!(
        queued(&d.group.unwrap()),
        [OutboxOp::AssignAlerts {
            login: Some("octo-dev".into())
        }]
    );
}

#[test]
fn a_deleted_ticket_leaves_the_findings_tracked_without_a_new_ticket() {
    let mut g = group(&[1], TicketState::Open);
    g.group.push_op(OutboxOp::Refresh);
    let event = TicketEvent {
        change: TicketChange::Deleted,
        ..moved(StatusCategory::New, None)
    };
    let d = decided(run(&event, &g, None, &Config::default()));
    let after = d.group.unwrap();
    assert!(after.ticket.is_none() && after.deleted_ticket.is_some() && after.outbox.is_empty());
    assert!(
        after.has_or_awaits_ticket(),
        "a new alert in the group does not create a ticket"
    );
    assert_eq!(after.tally.open, 1);
}

#[test]
fn a_deleted_ticket_is_recreated_when_configured_and_findings_are_open() {
    let event = TicketEvent {
        change: TicketChange::Deleted,
        ..moved(StatusCategory::New, None)
    };
    let config = Config {
        recreate_deleted_tickets: true,
        ..Config::default()
    };
    let d = decided(run(&event, &group(&[1], TicketState::Open), None, &config));
    let after = d.group.unwrap();
    assert_eq!(after.outbox[0].op, OutboxOp::Create);
    assert!(after.ticket.is_none() && after.deleted_ticket.is_none());
}

#[test]
fn comments_are_audited_and_scantix_own_comments_skipped() {
    let comment = |excerpt: &str| TicketEvent {
        change: TicketChange::Commented {
            author: "Dana".into(),
            excerpt: excerpt.into(),
        },
        ..moved(StatusCategory::New, None)
    };
    let d = decided(run(
        &comment("fixed in #42"),
        &group(&[1], TicketState::Open),
        None,
        &Config::default(),
    ));
    assert_eq!(
        (d.audit[0].action.as_str(), d.audit[0].reason.as_str()),
        ("ticket.commented", "Dana: fixed in #42")
    );
    let own = decided(run(
        &comment("Alert 1 reopened\nscantix ref scantix-ab12-3"),
        &group(&[1], TicketState::Open),
        None,
        &Config::default(),
    ));
    assert!(own.audit.is_empty());
}

#[test]
fn an_event_for_a_ticket_the_group_no_longer_has_is_ignored() {
    let mut event = moved(StatusCategory::Done, Some("Done"));
    event.ticket_key = "SEC-99".into();
    let d = decided(run(
        &event,
        &group(&[1], TicketState::Open),
        None,
        &Config::default(),
    ));
    assert!(d.group.is_none());
}
