//! Scenarios of `decide_pull_request`: given a pull request record, what GitHub lists and the
//! tickets involved, this comment is (or is not) posted and these notes are queued.

use super::*;
use crate::finding::{Finding, Repository, Severity};
use crate::testing::code_alert;
use chrono::TimeZone;

fn t(minute: u32) -> DateTime<Utc> {
    Utc.with_ymd_and_hms(2026, 11, 2, 9, minute, 0).unwrap()
}

fn repository() -> Repository {
    code_alert(1, "x", "y").repository
}

fn record() -> PullRequestRecord {
    PullRequestRecord::new(repository(), 7, t(0))
}

fn event(change: PullRequestChange, action: &str) -> PullRequestEvent {
    PullRequestEvent {
        change,
        action: action.into(),
        repository: repository(),
        number: 7,
        title: "Use prepared statements".into(),
        html_url: Some("https://github.com/acme/shop/pull/7".into()),
        head_sha: Some("0123456789abcdef".into()),
        base_ref: None,
        actor: Some("octocat".into()),
        installation_id: Some(5),
    }
}

/// Alert `number` in `state` (on whichever ref is being listed).
fn alert(number: u64, rule: &str, path: &str, state: AlertState) -> Finding {
    Finding {
        state,
        ..code_alert(number, rule, path)
    }
}

fn ticket_of(group: &str, key: &str) -> KnownTicket {
    KnownTicket {
        group_key: GroupKey::from_stored(group),
        ticket: Some(TicketRef {
            tracker: "jira".into(),
            key: key.into(),
            url: Some(format!("https://jira.example.com/browse/{key}")),
        }),
    }
}

struct World {
    on_pr: Vec<Finding>,
    base: Vec<Finding>,
    tickets: Vec<(u64, KnownTicket)>,
    complete: bool,
}

impl World {
    fn new() -> World {
        World {
            on_pr: vec![],
            base: vec![],
            tickets: vec![],
            complete: true,
        }
    }

    fn listing(&self) -> Listing {
        Listing {
            on_pull_request: self.on_pr.iter().map(ListedAlert::of).collect(),
            open_on_base: self.base.iter().map(ListedAlert::of).collect(),
            complete: self.complete,
            tickets: self
                .tickets
                .iter()
                .map(|(n, t)| (Fingerprint::of(&code_alert(*n, "x", "y")), t.clone()))
                .collect(),
            ..Listing::default()
        }
    }

    fn decide(
        &self,
        trigger: PullRequestTrigger<'_>,
        record: &PullRequestRecord,
    ) -> PullRequestDecision {
        let listing = self.listing();
        decide_pull_request(PullRequestInputs {
            trigger,
            record,
            listing: wants_listing(trigger, record).then_some(&listing),
            now: t(5),
            delivery: Some("github:d-1"),
        })
    }
}

/// Two alerts of the pull request's own, one already on the base branch, one base alert fixed
/// on the pull request (ticket SEC-1).
fn busy_world() -> World {
    let mut world = World::new();
    world.on_pr = vec![
        alert(21, "js/sql-injection", "src/db.js", AlertState::Open),
        Finding {
            severity: Severity::Critical,
            ..alert(22, "js/code-injection", "src/eval.js", AlertState::Open)
        },
        alert(3, "js/xss", "src/app.js", AlertState::Open),
        alert(4, "js/xss", "src/view.js", AlertState::Fixed),
    ];
    world.base = vec![
        alert(3, "js/xss", "src/app.js", AlertState::Open),
        alert(4, "js/xss", "src/view.js", AlertState::Open),
    ];
    world.tickets = vec![(4, ticket_of("42/code-scanning/rule:CodeQL:js/xss", "SEC-1"))];
    world
}

#[test]
fn a_pull_request_introducing_two_alerts_gets_a_summary_listing_them_most_severe_first() {
    let world = busy_world();
    let opened = event(PullRequestChange::Opened, "opened");
    let decision = world.decide(PullRequestTrigger::Event(&opened), &record());
    let body = decision.comment.expect("something to say: a comment");
    assert!(body.starts_with(SUMMARY_MARKER));
    assert_eq!(decision.record.comment_body.as_deref(), Some(body.as_str()));
    let summary = &decision.record.summary;
    let introduced: Vec<u64> = summary.introduced.iter().map(|a| a.number).collect();
    assert_eq!(introduced, [22, 21], "critical first");
    assert_eq!(summary.still_open, 1);
    assert!(body.contains("**2 new alerts**"), "{body}");
    let critical = body.find("alert 22").unwrap();
    let high = body.find("alert 21").unwrap();
    assert!(critical < high, "{body}");
    for expected in [
        "**critical** ` js/code-injection ` Reflected XSS at ` src/eval.js:22 `",
        "[alert 21](<https://github.com/acme/shop/security/code-scanning/21>)",
        "**Would resolve 1 existing ticket**",
        "[SEC\\-1](<https://jira.example.com/browse/SEC-1>) — [alert 4](<https://github.com/acme/shop/security/code-scanning/4>)",
        "1 alert open on the base branch stays open",
    ] {
        assert!(body.contains(expected), "lacks {expected:?}:\n{body}");
    }
    assert!(decision.merge_notes.is_empty());
    assert_eq!(decision.record.state, PullRequestState::Open);
    assert_eq!(decision.record.title, "Use prepared statements");
    assert_eq!(decision.audit.len(), 1);
    assert_eq!(decision.audit[0].action, "pull_request.opened");
    assert_eq!(decision.audit[0].group_key.as_str(), "42/pull/7");
}

#[test]
fn nothing_to_report_posts_nothing_and_an_unchanged_summary_is_not_sent_again() {
    let mut world = World::new();
    world.base = vec![alert(3, "js/xss", "src/app.js", AlertState::Open)];
    world.on_pr = vec![alert(3, "js/xss", "src/app.js", AlertState::Open)];
    let opened = event(PullRequestChange::Opened, "opened");
    let quiet = world.decide(PullRequestTrigger::Event(&opened), &record());
    assert_eq!(quiet.comment, None);
    assert_eq!(quiet.record.comment_body, None);
    assert!(matches!(
        quiet.actions.as_slice(),
        [Action::PullRequestNoted { reason, .. }] if reason.contains("nothing to report")
    ));

    let world = busy_world();
    let first = world.decide(PullRequestTrigger::Event(&opened), &record());
    let mut posted = first.record.clone();
    posted.comment_id = Some(99);
    let pushed = event(PullRequestChange::Synchronized, "synchronize");
    let again = world.decide(PullRequestTrigger::Event(&pushed), &posted);
    assert_eq!(again.comment, None, "same results, same body: not sent");
    let refreshed = world.decide(PullRequestTrigger::AlertChanged, &posted);
    assert_eq!(refreshed.comment, None);
}

#[test]
fn a_comment_once_posted_is_edited_when_the_results_change_even_to_all_clear() {
    let world = busy_world();
    let opened = event(PullRequestChange::Opened, "opened");
    let mut posted = world
        .decide(PullRequestTrigger::Event(&opened), &record())
        .record;
    posted.comment_id = Some(99);
    // The next push fixes everything it introduced and no longer touches the base alerts.
    let mut clean = World::new();
    clean.base = busy_world().base;
    clean.on_pr = clean.base.clone();
    let pushed = event(PullRequestChange::Synchronized, "synchronize");
    let decision = clean.decide(PullRequestTrigger::Event(&pushed), &posted);
    let body = decision
        .comment
        .expect("the old comment must not keep saying otherwise");
    assert!(
        body.contains("introduces no new code scanning alerts"),
        "{body}"
    );
    assert!(!body.contains("Would resolve"), "{body}");
    assert_eq!(
        decision.record.comment_id,
        Some(99),
        "the executor's to change"
    );
}

#[test]
fn a_base_alert_counts_as_fixed_only_on_evidence() {
    let xss = "42/code-scanning/rule:CodeQL:js/xss";
    let mut world = World::new();
    world.base = vec![
        alert(3, "js/xss", "src/app.js", AlertState::Open),
        Finding {
            tool: Some("Trivy".into()),
            ..alert(5, "CVE-2024-1", "Dockerfile", AlertState::Open)
        },
        alert(6, "js/xss", "src/other.js", AlertState::Open),
    ];
    // The PR's CodeQL analysis has a new alert and no longer has 3; Trivy did not run on it.
    world.on_pr = vec![alert(21, "js/sql-injection", "src/db.js", AlertState::Open)];
    world.tickets = vec![
        (3, ticket_of(xss, "SEC-1")),
        (
            5,
            ticket_of("42/code-scanning/rule:Trivy:CVE-2024-1", "SEC-2"),
        ),
    ];
    let candidates = fix_candidates(
        &world.listing().on_pull_request,
        &world.listing().open_on_base,
        true,
    );
    let numbers: Vec<&str> = candidates.iter().map(|f| f.as_str()).collect();
    assert_eq!(numbers, ["42/code-scanning/3", "42/code-scanning/6"]);
    let summary = summarise(&world.listing());
    // 6 has no ticket: nothing to resolve. 5's tool did not analyse the PR.
    assert_eq!(summary.fixes.len(), 1);
    assert_eq!(summary.fixes[0].ticket.as_ref().unwrap().key, "SEC-1");
    assert_eq!(summary.fixes[0].alerts[0].number, 3);

    // Only what deliveries told (the local mode): absence says nothing.
    world.complete = false;
    assert!(summarise(&world.listing()).fixes.is_empty());
    // Not analysed at all: nothing is claimed, nothing introduced.
    world.on_pr.clear();
    world.complete = true;
    let summary = summarise(&world.listing());
    assert!(!summary.analyzed && summary.fixes.is_empty() && summary.introduced.is_empty());
}

#[test]
fn a_merge_queues_one_note_per_fixed_ticket_naming_the_pull_request_once() {
    let world = busy_world();
    let opened = event(PullRequestChange::Opened, "opened");
    let mut open = world
        .decide(PullRequestTrigger::Event(&opened), &record())
        .record;
    open.comment_id = Some(99);
    let merged = event(PullRequestChange::Merged, "closed");
    let decision = world.decide(PullRequestTrigger::Event(&merged), &open);
    assert_eq!(decision.record.state, PullRequestState::Merged);
    assert_eq!(decision.merge_notes.len(), 1);
    let note = &decision.merge_notes[0];
    assert_eq!(
        note.group_key.as_str(),
        "42/code-scanning/rule:CodeQL:js/xss"
    );
    assert_eq!(
        note.text,
        "Pull request #7 (Use prepared statements) merged; it fixes alert 4 of this ticket. \
         https://github.com/acme/shop/pull/7 The ticket follows when GitHub reports the alerts \
         fixed on the default branch."
    );
    assert_eq!(note.audit.group_key, note.group_key);
    assert_eq!(note.audit.action, "ticket.fixed_by_pull_request");
    assert!(matches!(
        decision.actions.as_slice(),
        [Action::PullRequestFixes { pull_request: 7, ticket: Some(t), .. }] if t == "SEC-1"
    ));
    let body = decision.comment.expect("the comment says it merged");
    assert!(body.contains("**Merged.**"), "{body}");
    assert!(body.contains("**Resolves 1 existing ticket**"), "{body}");
    assert!(body.contains("this pull request introduced:"), "{body}");

    // Told again (a second delivery of the merge): nothing new to queue.
    let again = world.decide(PullRequestTrigger::Event(&merged), &decision.record);
    assert!(again.merge_notes.is_empty());
}

#[test]
fn after_the_merge_ref_is_gone_the_last_summary_is_the_final_word() {
    let world = busy_world();
    let opened = event(PullRequestChange::Opened, "opened");
    let open = world
        .decide(PullRequestTrigger::Event(&opened), &record())
        .record;
    // GitHub no longer lists anything for `refs/pull/7/merge`.
    let gone = World::new();
    let merged = event(PullRequestChange::Merged, "closed");
    let decision = gone.decide(PullRequestTrigger::Event(&merged), &open);
    assert_eq!(decision.record.summary, open.summary);
    assert_eq!(decision.merge_notes.len(), 1);
}

#[test]
fn closing_without_merging_lists_nothing_and_only_edits_an_existing_comment() {
    let closed = event(PullRequestChange::Closed, "closed");
    assert!(!wants_listing(
        PullRequestTrigger::Event(&closed),
        &record()
    ));
    let quiet = World::new().decide(PullRequestTrigger::Event(&closed), &record());
    assert_eq!(quiet.record.state, PullRequestState::Closed);
    assert_eq!(quiet.comment, None);
    assert!(quiet.merge_notes.is_empty());

    let world = busy_world();
    let opened = event(PullRequestChange::Opened, "opened");
    let mut open = world
        .decide(PullRequestTrigger::Event(&opened), &record())
        .record;
    open.comment_id = Some(99);
    let decision = world.decide(PullRequestTrigger::Event(&closed), &open);
    let body = decision.comment.expect("a final word on the comment");
    assert!(body.contains("Closed without merging"), "{body}");
    assert!(decision.merge_notes.is_empty());
    // Alerts changing on a closed pull request no longer touch it.
    assert!(!wants_listing(
        PullRequestTrigger::AlertChanged,
        &decision.record
    ));
}

#[test]
fn hostile_alert_text_and_titles_are_inert() {
    let mut world = World::new();
    let hostile = Finding {
        rule: crate::finding::Rule {
            id: "x` <b>".into(),
            name: "@admin see #1 <img src=x onerror=alert(1)> <!-- scantix:pr-summary -->".into(),
            ..crate::finding::Rule::default()
        },
        html_url: Some("javascript:alert(1)".into()),
        ..alert(30, "x", "src/`a`.js", AlertState::Open)
    };
    world.on_pr = vec![hostile];
    let opened = PullRequestEvent {
        title: "@everyone\n<script>x</script>".repeat(20),
        ..event(PullRequestChange::Opened, "opened")
    };
    let decision = world.decide(PullRequestTrigger::Event(&opened), &record());
    let body = decision.comment.expect("posted");
    assert_eq!(body.matches(SUMMARY_MARKER).count(), 1, "{body}");
    assert!(!body.contains("@admin") && !body.contains("#1"), "{body}");
    assert!(!body.contains("<img"), "{body}");
    // The rule id is code: shown as written, in a span its own backtick cannot close.
    assert!(body.contains("`` x` <b> ``"), "{body}");
    assert!(!body.contains("javascript:"), "{body}");
    assert!(body.contains("`` src/`a`.js:30 ``"), "{body}");

    // The merge note quotes the title flat and short.
    let mut fixed_world = busy_world();
    fixed_world.on_pr.truncate(0);
    fixed_world
        .on_pr
        .push(alert(4, "js/xss", "src/view.js", AlertState::Fixed));
    let merged = PullRequestEvent {
        change: PullRequestChange::Merged,
        ..opened
    };
    let note = &fixed_world
        .decide(PullRequestTrigger::Event(&merged), &record())
        .merge_notes[0];
    assert!(!note.text.contains('\n'), "{}", note.text);
    let quoted = note.text.split(" merged;").next().unwrap();
    assert!(quoted.chars().count() < MAX_TITLE + 30, "{quoted}");
    assert!(quoted.ends_with("…)"), "{quoted}");
}

#[test]
fn long_lists_are_cut_and_counted() {
    let mut world = World::new();
    world.on_pr = (100..180)
        .map(|n| alert(n, "js/sql-injection", "src/db.js", AlertState::Open))
        .collect();
    let opened = event(PullRequestChange::Opened, "opened");
    let decision = world.decide(PullRequestTrigger::Event(&opened), &record());
    let summary = &decision.record.summary;
    assert_eq!(summary.introduced.len(), MAX_INTRODUCED);
    assert_eq!(summary.more_introduced, 30);
    let body = decision.comment.unwrap();
    assert!(body.contains("**80 new alerts**"), "{body}");
    // What is left out, from where, and where to see it all.
    assert!(
        body.contains(
            "- … and 30 more not listed here (30 GitHub code scanning): see \
             [the code scanning alerts of this pull request]\
             (<https://github.com/acme/shop/security/code-scanning?query=is%3Aopen+pr%3A7>)\n"
        ),
        "{body}"
    );
}

#[test]
fn unlisted_sarif_findings_are_counted_by_tool_and_pointed_to_the_checks() {
    // 220 introduced by a SARIF analysis: 200 read (50 listed), 20 only counted.
    let records: Vec<FindingRecord> = (0..200)
        .map(|n| sarif_record(n, "B602", &format!("src/m{n}.py"), Severity::Medium))
        .collect();
    let mut listing = sarif_listing(&records.iter().collect::<Vec<_>>(), &[], true);
    listing.more_introduced.insert("Bandit".into(), 20);
    let mut record = record();
    record.html_url = Some("https://github.com/acme/shop/pull/7".into());
    record.summary = summarise(&listing);
    assert_eq!(record.summary.introduced.len(), MAX_INTRODUCED);
    assert_eq!(record.summary.more_introduced, 170);
    assert_eq!(
        record.summary.unlisted_by_source,
        BTreeMap::from([("Bandit".to_owned(), 170)])
    );
    let body = render_summary(&record);
    assert!(body.contains("**220 new alerts**"), "{body}");
    assert!(
        body.contains(
            "- … and 170 more not listed here (170 Bandit): see [the checks of this pull request, \
             where the scanners ran](<https://github.com/acme/shop/pull/7/checks>)\n"
        ),
        "{body}"
    );
    // Without an address to point to, the count alone.
    record.html_url = None;
    let body = render_summary(&record);
    assert!(
        body.contains("- … and 170 more not listed here (170 Bandit)\n"),
        "{body}"
    );
}

/// A SARIF finding of Bandit's (`rule` at `path`:`line`), open, recorded on pull request 7's ref.
fn sarif_record(number: u64, rule: &str, path: &str, severity: Severity) -> FindingRecord {
    let finding = Finding {
        kind: crate::finding::AlertKind::Sarif,
        tool: Some("Bandit".into()),
        severity,
        html_url: None,
        git_ref: Some("refs/pull/7/merge".into()),
        rule: crate::finding::Rule {
            id: rule.into(),
            name: "subprocess call with shell=True".into(),
            ..crate::finding::Rule::default()
        },
        ..code_alert(number, rule, path)
    };
    let mut record = crate::testing::ticketed_record(
        &finding,
        &GroupKey::from_stored("42/sarif/rule:Bandit:B602"),
        t(0),
    );
    record.triage = crate::records::Triage::Record;
    record
}

/// A listing built as the executor builds it for SARIF: the two open lists compared, the
/// introduced and fixed findings read.
fn sarif_listing(on_pr: &[&FindingRecord], on_base: &[&FindingRecord], complete: bool) -> Listing {
    let fingerprints =
        |records: &[&FindingRecord]| records.iter().map(|r| r.fingerprint.clone()).collect();
    let comparison = compare_sarif(&fingerprints(on_pr), &fingerprints(on_base), complete);
    let find = |fp: &Fingerprint| {
        on_pr
            .iter()
            .chain(on_base)
            .find(|r| &r.fingerprint == fp)
            .copied()
            .expect("a listed record")
    };
    let mut listing = Listing {
        complete: true,
        sarif_analysed: true,
        more_still_open: comparison.still_open,
        ..Listing::default()
    };
    for fp in &comparison.introduced {
        listing
            .on_pull_request
            .push(ListedAlert::of_sarif(find(fp), AlertState::Open));
    }
    for fp in &comparison.fixed {
        listing
            .on_pull_request
            .push(ListedAlert::of_sarif(find(fp), AlertState::Fixed));
        listing
            .open_on_base
            .push(ListedAlert::of_sarif(find(fp), AlertState::Open));
        listing
            .tickets
            .insert(fp.clone(), ticket_of("42/sarif/rule:Bandit:B105", "SEC-9"));
    }
    listing
}

#[test]
fn a_pull_requests_sarif_analysis_is_listed_with_tool_rule_severity_and_place_then_a_fixed_result_drops_out()
 {
    let shell = sarif_record(901, "B602", "app.py", Severity::High);
    let mut hostile = sarif_record(
        902,
        "B608 <img src=x onerror=alert(1)> @octocat",
        "db/`q`.py",
        Severity::Medium,
    );
    hostile.finding.rule.name = "<script>x</script> @security-team".into();
    let on_main = sarif_record(903, "B105", "settings.py", Severity::Low);
    let both = sarif_record(904, "B101", "tests.py", Severity::Low);
    let listing = sarif_listing(&[&shell, &hostile, &both], &[&on_main, &both], true);
    let first = decide_pull_request(PullRequestInputs {
        trigger: PullRequestTrigger::AlertChanged,
        record: &record(),
        listing: Some(&listing),
        now: t(5),
        delivery: None,
    });
    let body = first.comment.expect("two introduced findings: a comment");
    let summary = &first.record.summary;
    assert!(summary.analyzed);
    assert_eq!(summary.introduced.len(), 2);
    assert_eq!(summary.still_open, 1, "B101 is open on both");
    assert_eq!(summary.fixes.len(), 1, "B105 open on main, gone here");
    assert!(body.contains("**2 new alerts**"), "{body}");
    assert!(
        body.contains(
            "**high** ` B602 ` subprocess call with shell\\=True at ` app.py:901 ` — Bandit"
        ),
        "{body}"
    );
    assert!(
        body.contains("Bandit at ` settings.py:903 `"),
        "the fixed finding, named by tool and place: {body}"
    );
    assert!(!body.contains("alert 901"), "no alert page to link: {body}");
    // Inert: the rule id stays in a code span, the name's HTML and mention are escaped.
    assert!(
        body.contains("` B608 <img src=x onerror=alert(1)> @octocat `"),
        "{body}"
    );
    assert!(!body.contains("<script>"), "{body}");
    assert!(!body.contains(" @security-team"), "{body}");
    assert!(body.contains("`` db/`q`.py:902 ``"), "{body}");
    assert!(
        body.find("B602").unwrap() < body.find("B608").unwrap(),
        "high first"
    );

    // A later analysis no longer reports B602: it drops out, and the comment is edited.
    let mut stored = first.record.clone();
    stored.comment_id = Some(77);
    let later = sarif_listing(&[&hostile, &both], &[&on_main, &both], true);
    let second = decide_pull_request(PullRequestInputs {
        trigger: PullRequestTrigger::AlertChanged,
        record: &stored,
        listing: Some(&later),
        now: t(6),
        delivery: None,
    });
    let edited = second.comment.expect("the summary changed");
    assert!(!edited.contains("B602"), "{edited}");
    assert!(edited.contains("**1 new alert**"), "{edited}");

    // An incomplete analysis (a run without results) claims nothing fixed.
    let incomplete = sarif_listing(&[&hostile], &[&on_main, &both], false);
    let third = decide_pull_request(PullRequestInputs {
        trigger: PullRequestTrigger::AlertChanged,
        record: &stored,
        listing: Some(&incomplete),
        now: t(7),
        delivery: None,
    });
    assert!(third.record.summary.fixes.is_empty());

    // An analysis with no results at all is still an analysis: nothing introduced, said so.
    let clean = sarif_listing(&[], &[], true);
    let fourth = decide_pull_request(PullRequestInputs {
        trigger: PullRequestTrigger::AlertChanged,
        record: &stored,
        listing: Some(&clean),
        now: t(8),
        delivery: None,
    });
    let body = fourth.comment.expect("changed");
    assert!(body.contains("introduces no new"), "{body}");
}
