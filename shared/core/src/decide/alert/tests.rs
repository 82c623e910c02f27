//! One scenario per transition of the decision table: given a stored finding and group and an
//! event, `decide` writes these records and queues these tracker calls.

use super::*;
use crate::config::{Config, WhenAllFixed};
use crate::event::{AlertChange, AlertEvent};
use crate::finding::{AlertKind, AlertState, Dismissal, Finding, Severity};
use crate::identity::{GroupKey, GroupingMode};
use crate::records::{FindingRecord, GroupRecord, OutboxOp, TicketRef, TicketState, Triage};
use crate::testing::{code_alert, dependabot_alert};
use chrono::{DateTime, TimeZone, Utc};

fn t(minute: u32) -> DateTime<Utc> {
    Utc.with_ymd_and_hms(2026, 11, 1, 12, minute, 0).unwrap()
}

fn event(change: AlertChange, action: &str, finding: Finding) -> AlertEvent {
    AlertEvent {
        change,
        action: action.into(),
        finding,
        actor: Some("octocat".into()),
        installation_id: Some(1),
    }
}

/// The world as stored: records by fingerprint and by group key.
#[derive(Default)]
struct World {
    findings: Vec<FindingRecord>,
    groups: Vec<GroupRecord>,
    config: Config,
}

impl World {
    fn decide(&self, event: &AlertEvent, triage: Triage, now: DateTime<Utc>) -> Decision {
        self.decide_verdict(event, &crate::decide::triage::plain(triage, "test"), now)
    }

    fn decide_verdict(
        &self,
        event: &AlertEvent,
        verdict: &crate::decide::triage::Verdict,
        now: DateTime<Utc>,
    ) -> Decision {
        let fp = Fingerprint::of(&event.finding);
        let finding = self.findings.iter().find(|f| f.fingerprint == fp);
        let key = group_key_for(event, finding, &self.config, verdict.group_by);
        let group = self.groups.iter().find(|g| g.key == key);
        decide(Inputs {
            event,
            finding,
            group,
            verdict,
            config: &self.config,
            now,
            delivery: Some("d"),
        })
    }

    /// Decides and stores the outcome, as the executor's commit would.
    fn apply(&mut self, event: &AlertEvent, now: DateTime<Utc>) -> Decision {
        let d = self.decide(event, Triage::Ticket, now);
        self.store(&d);
        d
    }

    fn store(&mut self, d: &Decision) {
        if let Some(f) = &d.finding {
            self.findings.retain(|x| x.fingerprint != f.fingerprint);
            self.findings.push(f.clone());
        }
        if let Some(g) = &d.group {
            self.groups.retain(|x| x.key != g.key);
            self.groups.push(g.clone());
        }
    }

    /// Pretends the tracker drained every group's outbox and created its ticket.
    fn sync(&mut self) {
        for g in &mut self.groups {
            if g.outbox.iter().any(|p| p.op == OutboxOp::Create) && g.ticket.is_none() {
                g.ticket = Some(TicketRef {
                    tracker: "draft".into(),
                    key: "DRAFT-1".into(),
                    url: None,
                });
            }
            g.outbox.clear();
        }
    }

    fn group(&self, key: &GroupKey) -> &GroupRecord {
        self.groups
            .iter()
            .find(|g| &g.key == key)
            .expect("group stored")
    }
}

fn ops(d: &Decision) -> Vec<OutboxOp> {
    d.group
        .as_ref()
        .map(|g| g.outbox.iter().map(|p| p.op.clone()).collect())
        .unwrap_or_default()
}

fn kinds(d: &Decision) -> Vec<&'static str> {
    d.actions
        .iter()
        .map(|a| match a {
            Action::Nothing { .. } => "nothing",
            Action::Record { .. } => "record",
            Action::CreateTicket { .. } => "create",
            Action::DraftTicket { .. } => "draft",
            Action::UpdateTicket { .. } => "update",
            Action::ReopenTicket { .. } => "reopen",
            Action::MarkTicketStale { .. } => "stale",
            Action::CloseTicket { .. } => "close",
            Action::Comment { .. } => "comment",
            other => panic!("not an alert-event action: {other:?}"),
        })
        .collect()
}

/// A world with one group holding open alerts `numbers` (rule js/xss) and a created ticket.
fn ticketed_world(numbers: &[u64]) -> World {
    let mut w = World::default();
    for &n in numbers {
        w.apply(
            &event(
                AlertChange::Opened,
                "created",
                code_alert(n, "js/xss", "src/app.js"),
            ),
            t(0),
        );
    }
    w.sync();
    w
}

#[test]
fn first_actionable_finding_of_a_group_requests_its_ticket() {
    let w = World::default();
    let d = w.decide(
        &event(
            AlertChange::Opened,
            "created",
            code_alert(1, "js/xss", "src/app.js"),
        ),
        Triage::Ticket,
        t(0),
    );
    assert_eq!(kinds(&d), ["create"]);
    assert_eq!(ops(&d), [OutboxOp::Create]);
    let group = d.group.as_ref().unwrap();
    assert_eq!(group.tally.total(), 1);
    assert_eq!(group.key.as_str(), "42/code-scanning/rule:CodeQL:js/xss");
    assert_eq!(d.finding.as_ref().unwrap().group_key, group.key);
    assert_eq!(
        d.audit
            .iter()
            .map(|a| a.action.as_str())
            .collect::<Vec<_>>(),
        ["finding.triaged", "ticket.requested"]
    );
    assert_eq!(d.audit[0].actor, "octocat");
    assert_eq!(d.audit[0].delivery.as_deref(), Some("d"));
}

#[test]
fn a_finding_joining_a_ticketed_group_updates_that_ticket_and_never_creates_another() {
    let w = ticketed_world(&[1]);
    let d = w.decide(
        &event(
            AlertChange::Opened,
            "created",
            code_alert(2, "js/xss", "src/other.js"),
        ),
        Triage::Ticket,
        t(1),
    );
    assert_eq!(kinds(&d), ["update"]);
    assert_eq!(ops(&d), [OutboxOp::Refresh]);
    assert_eq!(d.group.unwrap().tally.open, 2);
}

#[test]
fn a_finding_joining_while_the_ticket_is_still_being_created_adds_no_call() {
    let mut w = World::default();
    w.apply(
        &event(
            AlertChange::Opened,
            "created",
            code_alert(1, "js/xss", "a.js"),
        ),
        t(0),
    );
    let d = w.apply(
        &event(
            AlertChange::Opened,
            "created",
            code_alert(2, "js/xss", "b.js"),
        ),
        t(1),
    );
    assert_eq!(kinds(&d), ["update"]);
    assert_eq!(
        ops(&d),
        [OutboxOp::Create],
        "the pending create renders both findings"
    );
}

#[test]
fn a_redelivered_event_decides_nothing_and_writes_nothing() {
    let mut w = World::default();
    let e = event(
        AlertChange::Opened,
        "created",
        code_alert(1, "js/xss", "a.js"),
    );
    w.apply(&e, t(0));
    let again = w.decide(&e, Triage::Ticket, t(5));
    assert_eq!(kinds(&again), ["nothing"]);
    assert!(again.finding.is_none() && again.group.is_none() && again.audit.is_empty());
}

#[test]
fn a_fix_while_other_findings_stay_open_refreshes_the_ticket() {
    let w = ticketed_world(&[1, 2]);
    let fixed = Finding {
        state: AlertState::Fixed,
        ..code_alert(1, "js/xss", "src/app.js")
    };
    let d = w.decide(
        &event(AlertChange::Fixed, "fixed", fixed),
        Triage::Ticket,
        t(2),
    );
    assert_eq!(kinds(&d), ["update"]);
    assert_eq!(ops(&d), [OutboxOp::Refresh]);
    assert_eq!(d.group.unwrap().ticket_state, TicketState::Draft);
}

#[test]
fn fixing_the_last_open_finding_marks_the_ticket_stale_by_default() {
    let mut w = ticketed_world(&[1, 2]);
    w.apply(
        &event(
            AlertChange::Fixed,
            "fixed",
            code_alert(1, "js/xss", "src/app.js"),
        ),
        t(2),
    );
    w.sync();
    let d = w.decide(
        &event(
            AlertChange::Fixed,
            "fixed",
            code_alert(2, "js/xss", "src/app.js"),
        ),
        Triage::Ticket,
        t(3),
    );
    assert_eq!(kinds(&d), ["update", "stale", "comment"]);
    assert_eq!(
        ops(&d)[..2],
        [
            OutboxOp::Refresh,
            OutboxOp::Transition {
                to: TicketState::Stale
            }
        ]
    );
    assert!(
        matches!(&ops(&d)[2], OutboxOp::Comment { text } if text.contains("2 fixed, 0 dismissed"))
    );
    assert_eq!(d.group.unwrap().ticket_state, TicketState::Stale);
}

#[test]
fn fixing_the_last_open_finding_closes_the_ticket_when_configured() {
    let mut w = ticketed_world(&[1]);
    w.config.when_all_fixed = WhenAllFixed::Close;
    let d = w.decide(
        &event(
            AlertChange::Fixed,
            "fixed",
            code_alert(1, "js/xss", "src/app.js"),
        ),
        Triage::Ticket,
        t(3),
    );
    assert_eq!(kinds(&d), ["update", "close", "comment"]);
    assert!(ops(&d).contains(&OutboxOp::Transition {
        to: TicketState::Resolved
    }));
    assert_eq!(d.group.unwrap().ticket_state, TicketState::Resolved);
}

#[test]
fn a_reopened_alert_reopens_its_stale_ticket_with_a_comment() {
    let mut w = ticketed_world(&[1]);
    w.apply(
        &event(
            AlertChange::Fixed,
            "fixed",
            code_alert(1, "js/xss", "src/app.js"),
        ),
        t(1),
    );
    w.sync();
    let d = w.decide(
        &event(
            AlertChange::Reappeared,
            "reopened",
            code_alert(1, "js/xss", "src/app.js"),
        ),
        Triage::Ticket,
        t(2),
    );
    assert_eq!(kinds(&d), ["reopen", "comment"]);
    let ops = ops(&d);
    assert_eq!(
        ops[..2],
        [
            OutboxOp::Transition {
                to: TicketState::Reopened
            },
            OutboxOp::Refresh
        ]
    );
    assert!(
        matches!(&ops[2], OutboxOp::Comment { text } if text.contains("alert 1 is open again (reopened) on refs/heads/main"))
    );
    let group = d.group.unwrap();
    assert_eq!(group.ticket_state, TicketState::Reopened);
    assert!(group.ticket.is_some(), "the same ticket, not a new one");
}

#[test]
fn a_reintroduced_dependency_reopens_the_resolved_ticket_of_its_package() {
    let mut w = World::default();
    let alert = dependabot_alert(7, "GHSA-aaaa", "semver", "package-lock.json");
    w.apply(&event(AlertChange::Opened, "created", alert.clone()), t(0));
    w.sync();
    w.apply(&event(AlertChange::Fixed, "fixed", alert.clone()), t(1));
    w.sync();
    w.groups[0].ticket_state = TicketState::Resolved; // a person closed it in the tracker
    let d = w.decide(
        &event(AlertChange::Reappeared, "reintroduced", alert),
        Triage::Ticket,
        t(2),
    );
    assert_eq!(kinds(&d), ["reopen", "comment"]);
    assert!(!ops(&d).contains(&OutboxOp::Create));
}

#[test]
fn an_alert_new_to_a_closed_group_reopens_its_ticket_rather_than_creating_one() {
    let mut w = ticketed_world(&[1]);
    w.apply(
        &event(
            AlertChange::Fixed,
            "fixed",
            code_alert(1, "js/xss", "src/app.js"),
        ),
        t(1),
    );
    w.sync();
    let d = w.decide(
        &event(
            AlertChange::Opened,
            "created",
            code_alert(9, "js/xss", "src/new.js"),
        ),
        Triage::Ticket,
        t(2),
    );
    assert_eq!(kinds(&d), ["reopen", "comment"]);
}

#[test]
fn an_alert_appearing_in_a_branch_again_comments_on_the_open_ticket() {
    let mut w = ticketed_world(&[1, 2]);
    w.apply(
        &event(
            AlertChange::Fixed,
            "fixed",
            code_alert(1, "js/xss", "src/app.js"),
        ),
        t(1),
    );
    w.sync();
    let d = w.decide(
        &event(
            AlertChange::Reappeared,
            "appeared_in_branch",
            code_alert(1, "js/xss", "src/app.js"),
        ),
        Triage::Ticket,
        t(2),
    );
    assert_eq!(kinds(&d), ["update", "comment"]);
    assert!(
        matches!(&ops(&d)[1], OutboxOp::Comment { text } if text.contains("open again (appeared_in_branch)"))
    );
}

#[test]
fn a_dismissal_in_github_comments_who_and_why_on_the_ticket() {
    let w = ticketed_world(&[1, 2]);
    let dismissed = Finding {
        state: AlertState::Dismissed,
        dismissal: Some(Dismissal {
            by: Some("alice".into()),
            reason: Some("won't fix".into()),
            comment: Some("legacy endpoint, removed next quarter".into()),
            at: None,
        }),
        ..code_alert(1, "js/xss", "src/app.js")
    };
    let d = w.decide(
        &event(AlertChange::Dismissed, "closed_by_user", dismissed),
        Triage::Ticket,
        t(2),
    );
    assert_eq!(kinds(&d), ["update", "comment"]);
    let text = "Alert 1 was dismissed in GitHub by alice as \"won't fix\": legacy endpoint, removed next quarter";
    assert!(ops(&d).contains(&OutboxOp::Comment { text: text.into() }));
    assert!(
        d.audit
            .iter()
            .any(|a| a.action == "finding.dismissed" && a.reason == text)
    );
}

#[test]
fn dismissing_the_last_open_finding_also_retires_the_ticket() {
    let w = ticketed_world(&[1]);
    let d = w.decide(
        &event(
            AlertChange::Dismissed,
            "dismissed",
            code_alert(1, "js/xss", "src/app.js"),
        ),
        Triage::Ticket,
        t(2),
    );
    assert_eq!(kinds(&d), ["update", "comment", "stale", "comment"]);
    assert!(
        matches!(&ops(&d)[1], OutboxOp::Comment { text } if text.contains("by octocat as \"no reason given\""))
    );
}

#[test]
fn an_alert_closed_before_it_was_ever_ticketed_is_recorded_without_a_ticket() {
    let w = World::default();
    let d = w.decide(
        &event(AlertChange::Fixed, "fixed", code_alert(3, "js/xss", "a.js")),
        Triage::Ticket,
        t(0),
    );
    assert_eq!(kinds(&d), ["record"]);
    assert!(ops(&d).is_empty());
    assert_eq!(d.finding.unwrap().finding.state, AlertState::Fixed);
}

#[test]
fn triage_record_keeps_the_finding_without_a_ticket() {
    let w = World::default();
    let pr_only = Finding {
        git_ref: Some("refs/pull/7/merge".into()),
        ..code_alert(4, "js/xss", "a.js")
    };
    assert_eq!(
        crate::decide::triage::default_triage(&pr_only),
        Triage::Record
    );
    let d = w.decide(
        &event(AlertChange::Opened, "created", pr_only),
        Triage::Record,
        t(0),
    );
    assert_eq!(kinds(&d), ["record"]);
    let group = d.group.unwrap();
    assert!(group.outbox.is_empty() && group.tally.recorded == 1 && group.tally.ticketed() == 0);
    assert!(!d.finding.unwrap().is_ticketed());
}

#[test]
fn triage_ignore_writes_nothing() {
    let w = World::default();
    let d = w.decide(
        &event(
            AlertChange::Opened,
            "created",
            code_alert(5, "js/xss", "a.js"),
        ),
        Triage::Ignore,
        t(0),
    );
    assert_eq!(kinds(&d), ["nothing"]);
    assert!(d.finding.is_none() && d.group.is_none());
}

#[test]
fn a_recorded_pr_alert_that_reaches_the_default_branch_gets_its_ticket() {
    let mut w = World::default();
    let pr_only = Finding {
        git_ref: Some("refs/pull/7/merge".into()),
        ..code_alert(4, "js/xss", "a.js")
    };
    let d = w.decide(
        &event(AlertChange::Opened, "created", pr_only),
        Triage::Record,
        t(0),
    );
    w.store(&d);
    let d = w.decide(
        &event(
            AlertChange::Reappeared,
            "appeared_in_branch",
            code_alert(4, "js/xss", "a.js"),
        ),
        Triage::Ticket,
        t(1),
    );
    assert_eq!(kinds(&d), ["create"]);
}

#[test]
fn once_ticketed_a_finding_stays_on_its_ticket_whatever_triage_says_later() {
    let w = ticketed_world(&[1]);
    let d = w.decide(
        &event(
            AlertChange::Fixed,
            "fixed",
            code_alert(1, "js/xss", "src/app.js"),
        ),
        Triage::Record,
        t(1),
    );
    assert_eq!(kinds(&d), ["update", "stale", "comment"]);
}

#[test]
fn an_event_older_than_the_stored_alert_is_ignored() {
    let mut w = World::default();
    let newer = Finding {
        updated_at: Some(t(10)),
        ..code_alert(1, "js/xss", "a.js")
    };
    w.apply(&event(AlertChange::Fixed, "fixed", newer), t(10));
    let older = Finding {
        updated_at: Some(t(5)),
        ..code_alert(1, "js/xss", "a.js")
    };
    let d = w.decide(
        &event(AlertChange::Opened, "created", older),
        Triage::Ticket,
        t(11),
    );
    assert_eq!(kinds(&d), ["nothing"]);
}

#[test]
fn a_public_leak_of_a_secret_is_called_out_on_the_ticket() {
    let mut w = World::default();
    let secret = Finding {
        kind: AlertKind::SecretScanning,
        location: None,
        ..code_alert(8, "aws_access_key_id", "")
    };
    w.apply(&event(AlertChange::Opened, "created", secret.clone()), t(0));
    w.sync();
    let leaked = Finding {
        severity: Severity::Critical,
        ..secret
    };
    let d = w.decide(
        &event(AlertChange::Updated, "publicly_leaked", leaked),
        Triage::Ticket,
        t(1),
    );
    assert_eq!(kinds(&d), ["update", "comment"]);
}

#[test]
fn dependabot_alerts_fixed_by_one_upgrade_share_a_ticket_by_default() {
    let mut w = World::default();
    let a = w.apply(
        &event(
            AlertChange::Opened,
            "created",
            dependabot_alert(1, "GHSA-1", "semver", "package-lock.json"),
        ),
        t(0),
    );
    let b = w.apply(
        &event(
            AlertChange::Opened,
            "created",
            dependabot_alert(2, "GHSA-2", "semver", "package-lock.json"),
        ),
        t(1),
    );
    let c = w.apply(
        &event(
            AlertChange::Opened,
            "created",
            dependabot_alert(3, "GHSA-1", "semver", "web/package-lock.json"),
        ),
        t(2),
    );
    assert_eq!(a.group_key, b.group_key);
    assert_ne!(a.group_key, c.group_key);
    assert_eq!(kinds(&b), ["update"]);
    assert_eq!(w.groups.len(), 2);
}

#[test]
fn every_grouping_mode_keys_as_documented() {
    let code = code_alert(1, "js/xss", "src/app.js");
    let dep = dependabot_alert(2, "GHSA-xyz", "lodash", "package.json");
    let key = |f: &Finding, m| GroupKey::for_finding(f, m).as_str().to_owned();
    assert_eq!(
        key(&code, GroupingMode::Rule),
        "42/code-scanning/rule:CodeQL:js/xss"
    );
    assert_eq!(
        key(&code, GroupingMode::File),
        "42/code-scanning/file:src/app.js"
    );
    assert_eq!(key(&code, GroupingMode::Alert), "42/code-scanning/alert:1");
    assert_eq!(
        key(&code, GroupingMode::Package),
        key(&code, GroupingMode::Rule),
        "falls back to rule"
    );
    assert_eq!(
        key(&dep, GroupingMode::Package),
        "42/dependabot/package:npm:lodash:package.json"
    );
    assert_eq!(
        key(&dep, GroupingMode::Advisory),
        "42/dependabot/advisory:GHSA-xyz"
    );
    assert_eq!(
        key(&dep, GroupingMode::File),
        "42/dependabot/file:package.json"
    );
}

#[test]
fn a_finding_keeps_its_group_when_the_grouping_configuration_changes() {
    let mut w = ticketed_world(&[1]);
    w.config.grouping.code_scanning = GroupingMode::File;
    let d = w.apply(
        &event(
            AlertChange::Fixed,
            "fixed",
            code_alert(1, "js/xss", "src/app.js"),
        ),
        t(1),
    );
    assert_eq!(d.group_key.as_str(), "42/code-scanning/rule:CodeQL:js/xss");
    let new = w.apply(
        &event(
            AlertChange::Opened,
            "created",
            code_alert(2, "js/xss", "src/app.js"),
        ),
        t(2),
    );
    assert_eq!(new.group_key.as_str(), "42/code-scanning/file:src/app.js");
    assert_eq!(w.group(&d.group_key).tally.total(), 1);
}

#[test]
fn a_policy_verdict_is_audited_and_its_overrides_honoured() {
    let w = World::default();
    let verdict = crate::decide::triage::Verdict {
        priority_reason: None,
        triage: Triage::Ticket,
        reason: "ticketed: payments code".into(),
        priority: Some(Severity::Critical),
        sla_days: Some(3),
        group_by: Some(GroupingMode::File),
        assignee: Some("acc-payments".into()),
        draft: false,
    };
    let d = w.decide_verdict(
        &event(
            AlertChange::Opened,
            "created",
            code_alert(1, "js/xss", "src/pay.js"),
        ),
        &verdict,
        t(0),
    );
    assert_eq!(d.group_key.as_str(), "42/code-scanning/file:src/pay.js");
    assert!(
        d.audit
            .iter()
            .any(|a| a.action == "finding.triaged" && a.reason == "ticketed: payments code")
    );
    assert_eq!(d.group.unwrap().severity(), Severity::Critical);
    let member = d.finding.unwrap();
    assert_eq!(member.severity, Severity::Critical);
    assert_eq!(
        member.due,
        Some((t(0) + chrono::Duration::days(3)).date_naive())
    );
}

#[test]
fn a_ticket_is_filed_where_the_config_said_when_it_was_requested_and_stays_there() {
    let appsec = crate::ticket::destination::TicketDestination {
        project: Some("APPSEC".into()),
        labels: vec!["team-appsec".into()],
        ..Default::default()
    };
    let mut world = World {
        config: Config {
            destination: appsec.clone(),
            ..Config::default()
        },
        ..World::default()
    };
    let first = world.apply(
        &event(
            AlertChange::Opened,
            "created",
            code_alert(1, "js/xss", "a.js"),
        ),
        t(0),
    );
    assert_eq!(ops(&first), [OutboxOp::Create]);
    assert_eq!(world.group(&first.group_key).destination, appsec);
    world.sync();

    // The file changes; the group's ticket stays where it was filed.
    world.config.destination = crate::ticket::destination::TicketDestination::default();
    let second = world.apply(
        &event(
            AlertChange::Opened,
            "created",
            code_alert(2, "js/xss", "b.js"),
        ),
        t(1),
    );
    assert_eq!(second.group_key, first.group_key);
    assert_eq!(world.group(&second.group_key).destination, appsec);
}

#[test]
fn a_ticket_is_filed_in_the_routed_tracker_and_keeps_it_when_the_routes_change() {
    use crate::ticket::destination::TrackerKind;
    use crate::ticket::routing::{Route, RouteTo};
    let routes = vec![
        Route {
            kinds: vec![AlertKind::CodeScanning],
            min_severity: None,
            to: RouteTo::Tracker(TrackerKind::ServiceNow),
        },
        Route {
            kinds: vec![],
            min_severity: Some(Severity::High),
            to: RouteTo::Also(TrackerKind::Email),
        },
    ];
    let mut world = World {
        config: Config {
            routes,
            ..Config::default()
        },
        ..World::default()
    };
    let mut alert = code_alert(1, "js/xss", "a.js");
    alert.severity = Severity::High;
    let first = world.apply(&event(AlertChange::Opened, "created", alert), t(0));
    assert_eq!(ops(&first), [OutboxOp::Create]);
    let filed = world.group(&first.group_key).destination.clone();
    assert_eq!(filed.tracker, Some(TrackerKind::ServiceNow));
    assert_eq!(filed.copies, [TrackerKind::Email]);
    world.sync();

    // The routes change; the group's ticket stays in the tracker it was filed in.
    world.config.routes = vec![Route {
        kinds: vec![],
        min_severity: None,
        to: RouteTo::Tracker(TrackerKind::Jira),
    }];
    let second = world.apply(
        &event(
            AlertChange::Opened,
            "created",
            code_alert(2, "js/xss", "b.js"),
        ),
        t(1),
    );
    assert_eq!(second.group_key, first.group_key);
    assert_eq!(
        world.group(&second.group_key).destination.tracker,
        Some(TrackerKind::ServiceNow)
    );
    // A new group follows the new routes.
    let other = world.apply(
        &event(
            AlertChange::Opened,
            "created",
            code_alert(3, "js/sqli", "c.js"),
        ),
        t(2),
    );
    assert_eq!(
        world.group(&other.group_key).destination.tracker,
        Some(TrackerKind::Jira)
    );
}

// ----- pull requests -----

#[test]
fn a_pull_request_only_alert_is_never_ticketed_whatever_triage_says_nor_when_a_person_reopens_it() {
    let mut world = World::default();
    let on_pr = Finding {
        git_ref: Some("refs/pull/3/merge".into()),
        ..code_alert(7, "js/xss", "src/app.js")
    };
    // `apply` judges every event `Ticket`, as a policy ticketing everything would.
    let created = world.apply(&event(AlertChange::Opened, "created", on_pr.clone()), t(0));
    assert_eq!(kinds(&created), ["record"]);
    assert!(ops(&created).is_empty());
    assert_eq!(created.finding.as_ref().unwrap().triage, Triage::Record);
    assert!(
        created.audit[0]
            .reason
            .starts_with("recorded: alert only on pull request #3"),
        "{:?}",
        created.audit
    );
    // The `*_by_user` actions carry no ref: the alert is still the pull request's.
    let refless = Finding {
        git_ref: None,
        ..on_pr.clone()
    };
    world.apply(
        &event(AlertChange::Dismissed, "closed_by_user", refless.clone()),
        t(1),
    );
    let reopened = world.apply(
        &event(AlertChange::Reappeared, "reopened_by_user", refless),
        t(2),
    );
    assert_eq!(kinds(&reopened), ["record"]);
    assert!(!world.group(&reopened.group_key).has_or_awaits_ticket());

    // Merged into a branch (`appeared_in_branch`): no longer the pull request's alone, ticketed.
    let on_main = Finding {
        git_ref: Some("refs/heads/main".into()),
        ..on_pr
    };
    let landed = world.apply(
        &event(AlertChange::Reappeared, "appeared_in_branch", on_main),
        t(3),
    );
    assert_eq!(kinds(&landed), ["create"]);
}

#[test]
fn a_pull_request_fixing_or_bringing_back_a_ticketed_alert_changes_its_ticket_only_once_merged() {
    let mut world = ticketed_world(&[1, 2]);
    let on_pr = |number| Finding {
        git_ref: Some("refs/pull/9/merge".into()),
        ..code_alert(number, "js/xss", "src/app.js")
    };
    // Its analysis shows alert 1 fixed on the pull request: the default branch still has it.
    let fixed_on_pr = world.apply(&event(AlertChange::Fixed, "fixed", on_pr(1)), t(1));
    assert_eq!(kinds(&fixed_on_pr), ["nothing"]);
    assert!(fixed_on_pr.finding.is_none() && fixed_on_pr.group.is_none());
    assert!(fixed_on_pr.audit.is_empty());
    let Action::Nothing { reason, .. } = &fixed_on_pr.actions[0] else {
        unreachable!()
    };
    assert!(
        reason.contains("pull request #9 only") && reason.contains("open on refs/heads/main"),
        "{reason}"
    );
    // A person's dismissal is the alert's on every branch, whatever ref it names.
    let dismissed = world.apply(
        &event(AlertChange::Dismissed, "closed_by_user", on_pr(2)),
        t(2),
    );
    assert_ne!(kinds(&dismissed), ["nothing"]);

    // Merged: the fix reaches the default branch, and the ticket hears of it.
    let merged = world.apply(
        &event(
            AlertChange::Fixed,
            "fixed",
            code_alert(1, "js/xss", "src/app.js"),
        ),
        t(3),
    );
    assert!(kinds(&merged).contains(&"stale"), "{:?}", kinds(&merged));

    // A pull request bringing the fixed alert back does not reopen the ticket either.
    let back_on_pr = world.apply(&event(AlertChange::Reappeared, "reopened", on_pr(1)), t(4));
    assert_eq!(kinds(&back_on_pr), ["nothing"]);
    assert_eq!(
        world
            .findings
            .iter()
            .find(|f| f.finding.number == 1)
            .unwrap()
            .finding
            .state,
        AlertState::Fixed
    );
}

#[test]
fn a_ticket_whose_alerts_were_all_dismissed_closes_as_not_planned_and_one_fixed_makes_it_completed()
{
    for (second, expected) in [
        (AlertChange::Dismissed, OutboxOp::CloseNotPlanned),
        (
            AlertChange::Fixed,
            OutboxOp::Transition {
                to: TicketState::Resolved,
            },
        ),
    ] {
        let mut w = ticketed_world(&[1, 2]);
        w.config.when_all_fixed = WhenAllFixed::Close;
        let dismissed = Finding {
            state: AlertState::Dismissed,
            ..code_alert(1, "js/xss", "src/app.js")
        };
        w.apply(
            &event(AlertChange::Dismissed, "closed_by_user", dismissed),
            t(1),
        );
        let last = w.apply(
            &event(second, "last", code_alert(2, "js/xss", "src/app.js")),
            t(2),
        );
        assert!(kinds(&last).contains(&"close"), "{:?}", kinds(&last));
        let ops = ops(&last);
        assert!(ops.contains(&expected), "{ops:?}");
        let said = ops.iter().any(|op| {
            matches!(op, OutboxOp::Comment { text } if text.ends_with("Closed as not planned."))
        });
        assert_eq!(said, expected == OutboxOp::CloseNotPlanned, "{ops:?}");
    }
}

#[test]
fn a_draft_verdict_prepares_a_draft_and_later_findings_update_it_not_a_tracker() {
    let mut w = World::default();
    let verdict = crate::decide::triage::Verdict {
        draft: true,
        ..crate::decide::triage::plain(Triage::Ticket, "draft: new rule")
    };
    let first = event(
        AlertChange::Opened,
        "created",
        code_alert(1, "js/xss", "a.js"),
    );
    let d = w.decide_verdict(&first, &verdict, t(0));
    assert_eq!(kinds(&d), ["draft"]);
    assert!(ops(&d).is_empty(), "no tracker call: {:?}", ops(&d));
    let group = d.group.clone().unwrap();
    assert_eq!(group.ticket, Some(TicketRef::draft(&group.key)));
    assert_eq!(group.ticket_state, TicketState::Draft);
    assert!(
        d.audit
            .iter()
            .any(|a| a.action == "draft.prepared"
                && a.reason.contains("the triage policy said draft"))
    );
    w.store(&d);

    // A second finding joins the draft: an update of the draft (its calls settled by the
    // executor as for every draft), never a create.
    let second = event(
        AlertChange::Opened,
        "created",
        code_alert(2, "js/xss", "b.js"),
    );
    let d = w.decide_verdict(&second, &verdict, t(1));
    assert_eq!(kinds(&d), ["update"]);
    assert_eq!(ops(&d), [OutboxOp::Refresh]);
    assert!(d.group.unwrap().is_draft());
}

#[test]
fn mode_draft_by_severity_wins_over_kind_and_kind_over_default() {
    use crate::config::DraftMode;
    let mode = DraftMode {
        default: false,
        kinds: [(AlertKind::Dependabot, true)].into(),
        severities: [(Severity::Critical, false), (Severity::Low, true)].into(),
    };
    assert!(mode.drafts(AlertKind::Dependabot, Severity::High));
    assert!(!mode.drafts(AlertKind::Dependabot, Severity::Critical));
    assert!(mode.drafts(AlertKind::CodeScanning, Severity::Low));
    assert!(!mode.drafts(AlertKind::CodeScanning, Severity::High));
    assert!(DraftMode::everything().drafts(AlertKind::SecretScanning, Severity::Critical));

    let w = World {
        config: Config {
            drafts: mode,
            ..Config::default()
        },
        ..World::default()
    };
    let dependabot = event(
        AlertChange::Opened,
        "created",
        dependabot_alert(1, "GHSA-aaaa-bbbb-cccc", "lodash", "package.json"),
    );
    assert_eq!(
        kinds(&w.decide(&dependabot, Triage::Ticket, t(0))),
        ["draft"]
    );
    let code = event(
        AlertChange::Opened,
        "created",
        code_alert(1, "js/xss", "a.js"),
    );
    let d = w.decide(&code, Triage::Ticket, t(0));
    assert_eq!(kinds(&d), ["create"]);
    assert_eq!(ops(&d), [OutboxOp::Create]);
}

// --- priority by risk: the verdict's priority, reason and deadline ---------------------------

/// The ticket `w` renders now for the group of `d`.
fn ticket_now(w: &World, d: &Decision) -> crate::ticket::TicketContent {
    let group = w.groups.iter().find(|g| g.key == d.group_key).unwrap();
    let mut top: Vec<FindingRecord> = w
        .findings
        .iter()
        .filter(|f| f.group_key == d.group_key)
        .cloned()
        .collect();
    top.sort_by_key(FindingRecord::rank);
    crate::ticket::anatomy::ticket_content(crate::ticket::anatomy::TicketSource {
        group,
        content: None,
        top: &top,
    })
}

fn risk_verdict(
    priority: Severity,
    why: &str,
    sla_days: Option<u32>,
) -> crate::decide::triage::Verdict {
    crate::decide::triage::Verdict {
        priority: Some(priority),
        priority_reason: Some(why.into()),
        sla_days,
        ..crate::decide::triage::plain(Triage::Ticket, "ticketed: high severity on main")
    }
}

#[test]
fn a_known_exploited_cve_files_the_ticket_higher_sooner_and_says_why() {
    let mut w = World::default();
    let mut log4j = dependabot_alert(1, "GHSA-jfh8-c2jp-5v3q", "log4j-core", "pom.xml");
    log4j.severity = Severity::High;
    let kev = risk_verdict(
        Severity::Critical,
        "raised from high: CVE-2021-44228 is in CISA's Known Exploited Vulnerabilities catalogue (added 2021-12-10)",
        Some(7),
    );
    let d = w.decide_verdict(
        &event(AlertChange::Opened, "created", log4j.clone()),
        &kev,
        t(0),
    );
    let record = d.finding.clone().unwrap();
    assert_eq!(record.severity, Severity::Critical);
    assert_eq!(record.due, Some(t(0).date_naive() + chrono::Days::new(7)));
    assert_eq!(record.priority_reason, kev.priority_reason);
    assert_eq!(d.group.as_ref().unwrap().severity(), Severity::Critical);
    w.store(&d);
    w.sync();
    let ticket = ticket_now(&w, &d);
    assert_eq!(ticket.severity, Severity::Critical);
    assert_eq!(
        ticket.priority_reason.as_deref(),
        Some(
            "critical — raised from high: CVE-2021-44228 is in CISA's Known Exploited \
             Vulnerabilities catalogue (added 2021-12-10) (alert 1)"
        )
    );

    // Without the catalogue's word (say it was wrong and is corrected), the next delivery files
    // it back at its own severity and deadline: the ticket is refreshed and says so.
    let plain = crate::decide::triage::plain(Triage::Ticket, "ticketed: high severity on main");
    let mut later = log4j;
    later.updated_at = Some(t(5));
    let d = w.decide_verdict(
        &event(AlertChange::Updated, "assignees_changed", later),
        &plain,
        t(5),
    );
    let record = d.finding.clone().unwrap();
    assert_eq!(
        (record.severity, record.priority_reason.clone()),
        (Severity::High, None)
    );
    assert_eq!(record.due, Some(t(0).date_naive() + chrono::Days::new(30)));
    assert!(ops(&d).contains(&OutboxOp::Refresh), "{:?}", ops(&d));
    w.store(&d);
    assert_eq!(
        ticket_now(&w, &d).priority_reason.as_deref(),
        Some("high: the scanner's severity of alert 1")
    );
}

#[test]
fn an_epss_reason_changing_alone_refreshes_the_ticket() {
    let mut w = World::default();
    let alert = dependabot_alert(1, "GHSA-x", "lodash", "package.json");
    let hot = |pct: &str| {
        risk_verdict(
            Severity::Critical,
            &format!(
                "raised from high: EPSS gives it a {pct} % chance of exploitation within 30 days"
            ),
            Some(7),
        )
    };
    let d = w.decide_verdict(
        &event(AlertChange::Opened, "created", alert.clone()),
        &hot("12"),
        t(0),
    );
    w.store(&d);
    w.sync();
    let d = w.decide_verdict(
        &event(AlertChange::Updated, "updated", alert.clone()),
        &hot("12"),
        t(1),
    );
    assert_eq!(kinds(&d), ["nothing"], "the same verdict changes nothing");
    let d = w.decide_verdict(
        &event(AlertChange::Updated, "updated", alert),
        &hot("30"),
        t(2),
    );
    assert!(ops(&d).contains(&OutboxOp::Refresh), "{:?}", ops(&d));
    w.store(&d);
    assert!(
        ticket_now(&w, &d)
            .priority_reason
            .unwrap()
            .contains("a 30 % chance")
    );
}

#[test]
fn an_active_secret_is_critical_and_an_inactive_one_lowered_with_its_deadline() {
    let secret = |number: u64| {
        let mut f = code_alert(number, "github_personal_access_token", "unused");
        f.kind = AlertKind::SecretScanning;
        f.location = None;
        f
    };
    let mut w = World::default();
    let active = risk_verdict(
        Severity::Critical,
        "raised from high: GitHub's check with the provider found the secret still active",
        None,
    );
    let d = w.decide_verdict(
        &event(AlertChange::Opened, "created", secret(1)),
        &active,
        t(0),
    );
    let record = d.finding.clone().unwrap();
    assert_eq!(record.severity, Severity::Critical);
    // Critical's own 7 days (the SLA table; the policy gave no days of its own).
    assert_eq!(record.due, Some(t(0).date_naive() + chrono::Days::new(7)));
    w.store(&d);
    assert!(
        ticket_now(&w, &d)
            .priority_reason
            .unwrap()
            .starts_with("critical — raised from high")
    );

    let mut w = World::default();
    let inactive = risk_verdict(
        Severity::Medium,
        "lowered from high: the provider reports the secret inactive",
        None,
    );
    let d = w.decide_verdict(
        &event(AlertChange::Opened, "created", secret(2)),
        &inactive,
        t(0),
    );
    let record = d.finding.clone().unwrap();
    assert_eq!(record.severity, Severity::Medium);
    assert_eq!(record.due, Some(t(0).date_naive() + chrono::Days::new(90)));
    w.store(&d);
    assert_eq!(
        ticket_now(&w, &d).priority_reason.as_deref(),
        Some("medium — lowered from high: the provider reports the secret inactive (alert 2)")
    );
}

// --- assignees: an alert assigned in GitHub assigns its ticket -------------------------------

/// A world whose owners map names `@carol`, with alert 1's group ticketed in Jira as SEC-1.
fn jira_world() -> (World, GroupKey) {
    let mut w = World {
        config: Config {
            owners: [("@carol".to_owned(), "acc-carol".to_owned())].into(),
            ..Config::default()
        },
        ..World::default()
    };
    let d = w.apply(
        &event(
            AlertChange::Opened,
            "created",
            code_alert(1, "js/xss", "a.js"),
        ),
        t(0),
    );
    w.sync();
    for g in &mut w.groups {
        g.ticket = Some(TicketRef {
            tracker: "jira".into(),
            key: "SEC-1".into(),
            url: None,
        });
    }
    (w, d.group_key)
}

fn assigned_in_github(logins: &[&str], minute: u32) -> AlertEvent {
    let mut alert = code_alert(1, "js/xss", "a.js");
    alert.assignees = Some(logins.iter().map(|l| (*l).to_owned()).collect());
    alert.updated_at = Some(t(minute));
    event(AlertChange::Updated, "updated_assignment", alert)
}

#[test]
fn an_alert_assigned_in_github_assigns_its_ticket_through_the_owners_map() {
    let (mut w, key) = jira_world();
    let d = w.apply(&assigned_in_github(&["carol"], 1), t(1));
    assert_eq!(
        ops(&d),
        [OutboxOp::Assign {
            assignee: Some("acc-carol".into())
        }]
    );
    assert_eq!(w.group(&key).assignee.as_deref(), Some("acc-carol"));
    let entry = d
        .audit
        .iter()
        .find(|a| a.action == "ticket.assigned")
        .unwrap();
    assert_eq!(
        entry.reason,
        "assigned to acc-carol (was nobody): alert 1 assigned to @carol in GitHub"
    );
    w.sync();

    // The echo of scantix assigning the alert itself (after a change in the tracker): the ticket
    // already has that assignee, so nothing is queued.
    let d = w.apply(&assigned_in_github(&["carol"], 2), t(2));
    assert!(ops(&d).is_empty(), "{:?}", ops(&d));
    assert!(d.audit.iter().all(|a| a.action != "ticket.assigned"));

    // Unassigned in GitHub: the ticket is unassigned.
    let d = w.apply(&assigned_in_github(&[], 3), t(3));
    assert_eq!(ops(&d), [OutboxOp::Assign { assignee: None }]);
    assert_eq!(w.group(&key).assignee, None);
}

#[test]
fn an_alert_assigned_to_someone_the_owners_map_does_not_name_leaves_the_ticket_alone() {
    let (mut w, key) = jira_world();
    let d = w.apply(&assigned_in_github(&["mallory"], 1), t(1));
    assert!(ops(&d).is_empty(), "{:?}", ops(&d));
    assert_eq!(w.group(&key).assignee, None);
    let skipped = d
        .audit
        .iter()
        .find(|a| a.action == "assignment.skipped")
        .unwrap();
    assert!(skipped.reason.contains("@mallory"), "{}", skipped.reason);
    // Other actions carrying assignees (a `created` of an assigned alert) assign nothing.
    let mut reopened = code_alert(1, "js/xss", "a.js");
    reopened.assignees = Some(vec!["carol".into()]);
    reopened.updated_at = Some(t(2));
    let d = w.apply(
        &event(AlertChange::Updated, "appeared_in_branch", reopened),
        t(2),
    );
    assert!(d.audit.iter().all(|a| a.action != "ticket.assigned"));
}

#[test]
fn a_policy_priority_without_a_reason_is_still_explained() {
    let mut w = World::default();
    let verdict = crate::decide::triage::Verdict {
        priority: Some(Severity::Critical),
        ..crate::decide::triage::plain(Triage::Ticket, "ticketed: payments code")
    };
    let d = w.decide_verdict(
        &event(
            AlertChange::Opened,
            "created",
            code_alert(1, "js/xss", "a.js"),
        ),
        &verdict,
        t(0),
    );
    assert_eq!(
        d.finding.as_ref().unwrap().priority_reason.as_deref(),
        Some("set by the triage policy (the scanner said high)")
    );
    w.store(&d);
    assert_eq!(
        ticket_now(&w, &d).priority_reason.as_deref(),
        Some("critical — set by the triage policy (the scanner said high) (alert 1)")
    );
}
