//! One scenario per step of an analysis' lifecycle: given what is stored and how a result stands
//! in the analysis, these records, tracker calls and audit entries are decided.

use super::*;
use crate::config::{Config, WhenAllFixed};
use crate::decide::alert::group_key_for;
use crate::decide::ticket::{TicketDecision, TicketInputs, decide_ticket};
use crate::decide::triage::plain;
use crate::event::{StatusCategory, TicketChange, TicketEvent};
use crate::finding::{AlertKind, Finding};
use crate::identity::GroupKey;
use crate::records::{TicketRef, Triage};
use crate::testing::code_alert;
use chrono::TimeZone;
use std::collections::HashSet;

fn t(minute: u32) -> DateTime<Utc> {
    Utc.with_ymd_and_hms(2026, 11, 1, 12, minute, 0).unwrap()
}

fn key(git_ref: &str) -> AnalysisKey {
    AnalysisKey {
        repository_id: 42,
        tool: "Semgrep OSS".into(),
        category: String::new(),
        git_ref: git_ref.into(),
    }
}

/// A SARIF result as the app maps it: kind `sarif`, its tool, a number from its identity.
fn result(identity: &str, path: &str) -> Finding {
    Finding {
        kind: AlertKind::Sarif,
        number: sarif_number("Semgrep OSS", "", identity),
        tool: Some("Semgrep OSS".into()),
        html_url: None,
        ..code_alert(1, "python.sqli", path)
    }
}

/// The stored world, and each result applied to it as the executor would.
#[derive(Default)]
struct World {
    findings: Vec<FindingRecord>,
    groups: Vec<GroupRecord>,
    config: Config,
}

impl World {
    fn apply(&mut self, finding: Finding, presence: Presence, on: &AnalysisKey) -> ResultDecision {
        let fp = Fingerprint::of(&finding);
        let stored = self.findings.iter().find(|f| f.fingerprint == fp).cloned();
        let Some(event) = event_for(finding, &presence, stored.as_ref(), on, Some("c1"), None)
        else {
            return ResultDecision {
                decision: Decision {
                    group_key: GroupKey::from_stored("-"),
                    finding: None,
                    findings: vec![],
                    group: None,
                    content: None,
                    audit: vec![],
                    actions: vec![],
                },
                listed: false,
            };
        };
        let verdict = plain(Triage::Ticket, "test");
        let group_key = group_key_for(&event, stored.as_ref(), &self.config, None);
        let group = self.groups.iter().find(|g| g.key == group_key).cloned();
        let out = decide_result(ResultInputs {
            event: &event,
            presence: &presence,
            finding: stored.as_ref(),
            group: group.as_ref(),
            verdict: &verdict,
            config: &self.config,
            now: t(1),
            analysis: "sarif:test",
        });
        self.store(&out.decision);
        out
    }

    fn store(&mut self, d: &Decision) {
        if let Some(f) = &d.finding {
            self.findings.retain(|x| x.fingerprint != f.fingerprint);
            self.findings.push(f.clone());
        }
        if let Some(g) = &d.group {
            let mut g = g.clone();
            // The tracker made the ticket and drained the calls.
            if g.ticket.is_none() && g.outbox.iter().any(|p| p.op == OutboxOp::Create) {
                g.ticket = Some(TicketRef {
                    tracker: "draft".into(),
                    key: "DRAFT-1".into(),
                    url: None,
                });
            }
            g.outbox.clear();
            self.groups.retain(|x| x.key != g.key);
            self.groups.push(g);
        }
    }

    fn only_group(&self) -> &GroupRecord {
        assert_eq!(self.groups.len(), 1);
        &self.groups[0]
    }
}

fn kinds(d: &Decision) -> Vec<String> {
    d.actions
        .iter()
        .map(|a| {
            serde_json::to_value(a).unwrap()["action"]
                .as_str()
                .unwrap()
                .to_owned()
        })
        .collect()
}

#[test]
fn a_new_result_opens_a_ticket_and_is_listed() {
    let mut world = World::default();
    let out = world.apply(
        result("a", "app.py"),
        Presence::Open,
        &key("refs/heads/main"),
    );
    assert_eq!(kinds(&out.decision), ["create_ticket"]);
    assert!(out.listed);
    let record = out.decision.finding.expect("a new record");
    assert_eq!(record.finding.kind, AlertKind::Sarif);
    assert_eq!(record.finding.commit_sha.as_deref(), Some("c1"));
    assert!(
        record.fingerprint.as_str().starts_with("42/sarif/"),
        "{}",
        record.fingerprint
    );
}

#[test]
fn reapplying_the_same_analysis_writes_nothing() {
    let mut world = World::default();
    let main = key("refs/heads/main");
    world.apply(result("a", "app.py"), Presence::Open, &main);
    let again = world.apply(result("a", "app.py"), Presence::Open, &main);
    assert_eq!(kinds(&again.decision), ["nothing"]);
    assert_eq!(again.decision.finding, None);
    assert_eq!(again.decision.group, None);
    assert!(again.decision.audit.is_empty());
    assert!(
        again.listed,
        "still on the list the next analysis is compared with"
    );
}

#[test]
fn a_moved_line_is_the_same_finding_and_refreshes_its_ticket() {
    let mut world = World::default();
    let main = key("refs/heads/main");
    world.apply(result("a", "app.py"), Presence::Open, &main);
    let mut moved = result("a", "app.py");
    moved.location.as_mut().unwrap().start_line = Some(90);
    let out = world.apply(moved, Presence::Open, &main);
    assert_eq!(kinds(&out.decision), ["update_ticket"]);
    assert_eq!(world.findings.len(), 1);
}

#[test]
fn an_absent_finding_is_fixed_and_its_ticket_goes_stale_or_closes_as_configured() {
    for (when, to, action) in [
        (
            WhenAllFixed::MarkStale,
            TicketState::Stale,
            "mark_ticket_stale",
        ),
        (WhenAllFixed::Close, TicketState::Resolved, "close_ticket"),
    ] {
        let mut world = World {
            config: Config {
                when_all_fixed: when,
                ..Config::default()
            },
            ..World::default()
        };
        let main = key("refs/heads/main");
        world.apply(result("a", "app.py"), Presence::Open, &main);
        let stored = world.findings[0].finding.clone();
        let out = world.apply(stored, Presence::Absent, &main);
        assert_eq!(kinds(&out.decision), ["update_ticket", action, "comment"]);
        assert!(!out.listed);
        assert_eq!(world.only_group().ticket_state, to);
        assert_eq!(world.findings[0].finding.state, AlertState::Fixed);
        let Some(Action::Comment { text, .. }) = out.decision.actions.last() else {
            panic!("a comment");
        };
        assert!(text.contains("gone from the latest analysis"), "{text}");
        // Absent again: nothing more to say.
        let stored = world.findings[0].finding.clone();
        let again = world.apply(stored, Presence::Absent, &main);
        assert!(again.decision.actions.is_empty() && again.decision.finding.is_none());
    }
}

#[test]
fn a_result_back_reopens_its_ticket() {
    let mut world = World::default();
    let main = key("refs/heads/main");
    world.apply(result("a", "app.py"), Presence::Open, &main);
    let stored = world.findings[0].finding.clone();
    world.apply(stored, Presence::Absent, &main);
    let out = world.apply(result("a", "app.py"), Presence::Open, &main);
    assert_eq!(kinds(&out.decision), ["reopen_ticket", "comment"]);
    assert_eq!(world.only_group().ticket_state, TicketState::Reopened);
    assert_eq!(world.findings[0].reopens, 1);
    assert!(out.listed);
}

#[test]
fn a_suppressed_result_is_dismissed_with_its_justification_in_the_audit() {
    let mut world = World::default();
    let main = key("refs/heads/main");
    let suppressed = Presence::Suppressed {
        justification: Some("false positive: input is a constant".into()),
    };
    // New and suppressed: recorded dismissed, never ticketed.
    let out = world.apply(result("b", "app.py"), suppressed.clone(), &main);
    assert_eq!(kinds(&out.decision), ["record"]);
    assert!(!out.listed);
    let audit = out
        .decision
        .audit
        .iter()
        .find(|a| a.action == "finding.suppressed");
    assert!(
        audit.is_some_and(|a| a.reason.contains("input is a constant")),
        "{:?}",
        out.decision.audit
    );
    // Open and ticketed, then suppressed: dismissed on the ticket, not "in GitHub".
    world.apply(result("a", "app.py"), Presence::Open, &main);
    let out = world.apply(result("a", "app.py"), suppressed.clone(), &main);
    let text = out
        .decision
        .actions
        .iter()
        .find_map(|a| match a {
            Action::Comment { text, .. } if text.contains("dismissed") => Some(text.clone()),
            _ => None,
        })
        .expect("a dismissal comment");
    assert!(
        text.contains("input is a constant") && !text.contains("GitHub"),
        "{text}"
    );
    assert!(
        out.decision
            .audit
            .iter()
            .any(|a| a.action == "finding.suppressed")
    );
    // Still suppressed: nothing new.
    let again = world.apply(result("a", "app.py"), suppressed, &main);
    assert_eq!(kinds(&again.decision), ["nothing"]);
    assert!(again.decision.audit.is_empty());
    // Unsuppressed: back.
    let back = world.apply(result("a", "app.py"), Presence::Open, &main);
    assert_eq!(
        back.decision.finding.unwrap().finding.state,
        AlertState::Open
    );
}

#[test]
fn a_persons_dismissal_outlives_the_next_analysis() {
    let mut world = World::default();
    let main = key("refs/heads/main");
    world.apply(result("a", "app.py"), Presence::Open, &main);
    let record = &mut world.findings[0];
    record.finding.state = AlertState::Dismissed;
    record.finding.dismissal = Some(Dismissal {
        by: Some("alice".into()),
        reason: Some("won't fix".into()),
        comment: None,
        at: None,
    });
    let out = world.apply(result("a", "app.py"), Presence::Open, &main);
    assert_eq!(kinds(&out.decision), ["nothing"]);
    assert_eq!(world.findings[0].finding.state, AlertState::Dismissed);
    assert!(!out.listed, "a dismissed finding is not on the open list");
}

#[test]
fn a_pull_request_analysis_records_and_never_touches_the_branch() {
    let mut world = World::default();
    let pr = key("refs/pull/7/merge");
    let out = world.apply(result("p", "new.py"), Presence::Open, &pr);
    assert_eq!(kinds(&out.decision), ["record"]);
    assert_eq!(world.findings[0].triage, Triage::Record);
    // A finding of the branch, reported and then not reported on the pull request.
    let main = key("refs/heads/main");
    world.apply(result("a", "app.py"), Presence::Open, &main);
    let on_pr = world.apply(result("a", "app.py"), Presence::Open, &pr);
    assert_eq!(kinds(&on_pr.decision), ["nothing"]);
    assert!(on_pr.listed);
    let stored = world
        .findings
        .iter()
        .find(|f| f.finding.git_ref.as_deref() == Some("refs/heads/main"))
        .unwrap()
        .finding
        .clone();
    let gone_on_pr = world.apply(stored, Presence::Absent, &pr);
    assert_eq!(kinds(&gone_on_pr.decision), ["nothing"]);
    assert!(
        world
            .findings
            .iter()
            .all(|f| f.finding.state == AlertState::Open)
    );
}

#[test]
fn an_incomplete_analysis_fixes_nothing() {
    let previous = vec![
        Fingerprint::new(42, AlertKind::Sarif, 1),
        Fingerprint::new(42, AlertKind::Sarif, 2),
    ];
    let reported: HashSet<Fingerprint> = [previous[0].clone()].into();
    assert_eq!(absent_findings(&previous, &reported, false), None);
    assert_eq!(
        absent_findings(&previous, &reported, true),
        Some(vec![&previous[1]])
    );
}

#[test]
fn a_ticket_closed_while_its_findings_remain_is_reopened_by_the_next_analysis_with_the_list() {
    let mut world = World::default();
    let main = key("refs/heads/main");
    world.apply(result("a", "app.py"), Presence::Open, &main);
    world.apply(result("b", "lib.py"), Presence::Open, &main);
    // A person closes the ticket: accepted for now, verified by the next analysis.
    let group = world.only_group().clone();
    let event = TicketEvent {
        tracker: "draft".into(),
        ticket_key: "DRAFT-1".into(),
        change: TicketChange::Updated {
            status: StatusCategory::Done,
            status_name: "Done".into(),
            resolution: Some("Done".into()),
            assignee_changed: None,
        },
        actor: Some("alice".into()),
        actor_id: None,
    };
    let TicketDecision::Decided(closed) = decide_ticket(TicketInputs {
        event: &event,
        group: &group,
        open_findings: None,
        verification: None,
        config: &world.config,
        now: t(2),
        delivery: None,
    }) else {
        panic!("a SARIF ticket's closure is not verified with GitHub");
    };
    let closed = closed.group.expect("the group moves");
    assert_eq!(closed.ticket_state, TicketState::Resolved);
    assert!(closed.outbox.is_empty());
    // The next analysis still reports both.
    let present = world.findings.clone();
    let reopened =
        decide_reverification(&closed, &present, present.len(), t(3), "sarif:next").unwrap();
    let group = reopened.group.as_ref().unwrap();
    assert_eq!(group.ticket_state, TicketState::Reopened);
    let comment = group
        .outbox
        .iter()
        .find_map(|p| match &p.op {
            OutboxOp::Comment { text } => Some(text.clone()),
            _ => None,
        })
        .unwrap();
    assert!(
        comment.contains("app.py") && comment.contains("lib.py"),
        "{comment}"
    );
    assert!(matches!(
        &reopened.actions[..],
        [Action::ClosureRejected { still_open, .. }] if still_open.len() == 2
    ));
    // Once reopened, the same analysis again changes nothing.
    assert_eq!(
        decide_reverification(group, &present, present.len(), t(4), "sarif:next"),
        None
    );
}

#[test]
fn wont_fix_on_a_sarif_ticket_dismisses_in_scantix_only() {
    let mut world = World::default();
    world.apply(
        result("a", "app.py"),
        Presence::Open,
        &key("refs/heads/main"),
    );
    let group = world.only_group().clone();
    let event = TicketEvent {
        tracker: "draft".into(),
        ticket_key: "DRAFT-1".into(),
        change: TicketChange::Updated {
            status: StatusCategory::Done,
            status_name: "Done".into(),
            resolution: Some("Won't Do".into()),
            assignee_changed: None,
        },
        actor: Some("alice".into()),
        actor_id: None,
    };
    let open = world.findings.clone();
    let TicketDecision::Decided(d) = decide_ticket(TicketInputs {
        event: &event,
        group: &group,
        open_findings: Some(&open),
        verification: None,
        config: &world.config,
        now: t(2),
        delivery: None,
    }) else {
        panic!("decided");
    };
    assert!(d.findings.iter().all(|f| f.pending_dismissal.is_none()));
    assert!(
        d.group
            .unwrap()
            .outbox
            .iter()
            .all(|p| p.op != OutboxOp::DismissPending)
    );
}

#[test]
fn numbers_are_stable_exact_in_json_and_keys_differ_by_ref() {
    let n = sarif_number("Bandit", "", "0123456789abcdef0123456789abcdef");
    assert_eq!(
        n,
        sarif_number("Bandit", "", "0123456789abcdef0123456789abcdef")
    );
    assert!(n < 1 << 53);
    assert_ne!(
        n,
        sarif_number("Bandit", "py", "0123456789abcdef0123456789abcdef")
    );
    assert_ne!(key("refs/heads/main").id(), key("refs/heads/dev").id());
    assert!(key("refs/heads/main").id().starts_with("42#"));
    assert_eq!(key("refs/pull/7/merge").pull_request(), Some(7));
}
