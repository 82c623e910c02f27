//! Evidence end to end: real GitHub deliveries (octokit's payload examples, varied in number, rule,
//! severity, repository and time) driven through the webhook handler and the executor with a
//! pinned clock, then the chain of custody, the metrics report and the OCSF export read back from
//! the store.
//!
//! Two histories: a hand-made one whose figures are computed by hand (an MTTR, an SLA breach, a
//! reopen), and a synthetic 90 days of several hundred findings from a fixed seed, whose figures
//! are checked against the generator's own ledger. Every OCSF event is validated against the
//! vendored OCSF 1.8.0 schema of its class, and the HTML report is loaded in headless Chromium.

use chrono::{DateTime, Duration, TimeZone, Utc};
use github_webhook::handle;
use scantix_app::execute::Executor;
use scantix_app::ingest::GithubIngest;
use scantix_core::config::Config;
use scantix_core::finding::{AlertState, Severity};
use scantix_core::identity::Fingerprint;
use scantix_core::memory::draft_tracker::DraftTracker;
use scantix_core::memory::store::MemoryStore;
use scantix_core::ports::store::Store;
use scantix_core::secret::Secret;
use scantix_evidence::metrics::{Period, Report, compute, gather};
use scantix_evidence::trail::{Subject, trail};
use scantix_tests::ocsf::OcsfSchemas;
use scantix_tests::webhooks::{SECRET, delivery_request, octokit, varied};
use serde_json::{Value, json};
use std::collections::{BTreeMap, BTreeSet};
use std::sync::{Arc, Mutex};

/// The end of every history: "now" for the reports.
fn until() -> DateTime<Utc> {
    Utc.with_ymd_and_hms(2026, 11, 30, 12, 0, 0).unwrap()
}

/// A store fed by the GitHub webhook handler, at instants the test chooses.
struct Sim {
    store: Arc<MemoryStore>,
    ingest: GithubIngest,
    clock: Arc<Mutex<DateTime<Utc>>>,
    sent: usize,
}

impl Sim {
    fn new() -> Sim {
        let store = Arc::new(MemoryStore::new());
        let clock = Arc::new(Mutex::new(until()));
        let now = clock.clone();
        let executor = Executor::new(
            store.clone(),
            Arc::new(DraftTracker::new()),
            Config::default(),
        )
        .with_clock(Arc::new(move || *now.lock().unwrap()));
        Sim {
            store,
            ingest: GithubIngest::new(Secret::new(SECRET), Arc::new(executor)),
            clock,
            sent: 0,
        }
    }

    /// Delivers `body` as GitHub would, at `at`.
    async fn deliver(&mut self, at: DateTime<Utc>, event: &str, body: Vec<u8>) {
        *self.clock.lock().unwrap() = at;
        self.sent += 1;
        let request = delivery_request(event, &format!("evidence-{}", self.sent), &body, None);
        let body = body.clone();
        let response = handle(&self.ingest, request)
            .await
            .expect("handler answers");
        if std::env::var_os("EVIDENCE_DEBUG").is_some() {
            eprintln!(
                "{at} {event}: {:?}\n  sent {}",
                response.body(),
                String::from_utf8_lossy(&body)
                    .chars()
                    .take(3000)
                    .collect::<String>()
            );
        }
        assert!(
            response.status().is_success(),
            "delivery {} ({event}) answered {}",
            self.sent,
            response.status()
        );
    }

    fn store(&self) -> &dyn Store {
        self.store.as_ref()
    }
}

/// What happens to one alert, as the payload to send.
#[derive(Debug, Clone, Copy, PartialEq)]
enum Step {
    Created,
    Fixed,
    Reopened,
    DismissedFalsePositive,
}

#[derive(Debug, Clone, Copy, PartialEq)]
enum Kind {
    Code,
    Dependabot,
}

/// One alert of a repository.
#[derive(Debug, Clone)]
struct Alert {
    repo: (u64, &'static str),
    kind: Kind,
    number: u64,
    rule: String,
    severity: &'static str,
}

impl Alert {
    fn fingerprint(&self) -> Fingerprint {
        let kind = match self.kind {
            Kind::Code => "code-scanning",
            Kind::Dependabot => "dependabot",
        };
        Fingerprint::from_stored(format!("{}/{kind}/{}", self.repo.0, self.number))
    }

    /// A real octokit payload for `step`, varied to be this alert at `at`.
    fn payload(&self, step: Step, at: DateTime<Utc>) -> (&'static str, Vec<u8>) {
        let repo = [
            ("repository.id", json!(self.repo.0)),
            ("repository.full_name", json!(self.repo.1)),
        ];
        match self.kind {
            Kind::Code => {
                let (file, extra): (&str, Vec<(&str, Value)>) = match step {
                    Step::Created => ("code_scanning_alert/created.payload.json", vec![]),
                    // The example fix is on a pull request's merge ref; this one is on the branch.
                    Step::Fixed => (
                        "code_scanning_alert/fixed.payload.json",
                        vec![
                            ("ref", json!("refs/heads/code-feature")),
                            (
                                "alert.most_recent_instance.ref",
                                json!("refs/heads/code-feature"),
                            ),
                        ],
                    ),
                    Step::Reopened => ("code_scanning_alert/reopened.payload.json", vec![]),
                    Step::DismissedFalsePositive => {
                        ("code_scanning_alert/closed-by-user.payload.json", vec![])
                    }
                };
                let mut edits = vec![
                    ("alert.number", json!(self.number)),
                    ("alert.rule.id", json!(self.rule)),
                    ("alert.rule.security_severity_level", json!(self.severity)),
                    ("alert.instances.0.ref", json!("refs/heads/code-feature")),
                    // As CodeQL tags its security queries (the example has `tags: null`).
                    (
                        "alert.rule.tags",
                        json!(["security", "external/cwe/cwe-089"]),
                    ),
                ];
                edits.extend(repo);
                edits.extend(extra);
                ("code_scanning_alert", varied(&octokit(file), &edits))
            }
            Kind::Dependabot => {
                // The fixed example is another repository's package: the created one, moved on
                // (as GitHub sends it: same alert, new state and time).
                let (action, state) = match step {
                    Step::Created => ("created", "open"),
                    Step::Fixed => ("fixed", "fixed"),
                    Step::Reopened => ("reopened", "open"),
                    Step::DismissedFalsePositive => ("dismissed", "dismissed"),
                };
                let mut edits = vec![
                    ("action", json!(action)),
                    ("alert.state", json!(state)),
                    ("alert.number", json!(self.number)),
                    ("alert.updated_at", json!(at.to_rfc3339())),
                    ("alert.security_advisory.severity", json!(self.severity)),
                    (
                        "alert.security_vulnerability.severity",
                        json!(self.severity),
                    ),
                ];
                if step == Step::Fixed {
                    edits.push(("alert.fixed_at", json!(at.to_rfc3339())));
                }
                if step == Step::DismissedFalsePositive {
                    edits.push(("alert.dismissed_reason", json!("inaccurate")));
                    edits.push(("alert.dismissed_at", json!(at.to_rfc3339())));
                }
                edits.extend(repo);
                (
                    "dependabot_alert",
                    varied(&octokit("dependabot_alert/created.payload.json"), &edits),
                )
            }
        }
    }
}

/// SLA days by severity word, as `Config::default()` has them.
fn sla_days(severity: &str) -> i64 {
    match severity {
        "critical" => 7,
        "high" => 30,
        "medium" => 90,
        _ => 180,
    }
}

fn period(since: DateTime<Utc>, repository: Option<&str>) -> Period {
    Period {
        since,
        until: until(),
        repository: repository.map(str::to_owned),
    }
}

async fn report(sim: &Sim, period: &Period) -> Report {
    let input = gather(sim.store(), period).await.unwrap();
    compute(&input, period)
}

// ---------------------------------------------------------------------------------------------
// The hand-made history
// ---------------------------------------------------------------------------------------------

const HANDMADE: (u64, &str) = (4242, "acme/handmade");

fn handmade_alert(number: u64, rule: &str, severity: &'static str) -> Alert {
    Alert {
        repo: HANDMADE,
        kind: Kind::Code,
        number,
        rule: rule.into(),
        severity,
    }
}

/// A: medium, fixed after 50 hours. B: high, fixed after 35 days (SLA 30: a breach). C: high,
/// fixed after a day and back the next (open now). All first seen at `t0`, 40 days before `until`.
async fn handmade(sim: &mut Sim) -> (DateTime<Utc>, [Alert; 3]) {
    let t0 = until() - Duration::days(40);
    let a = handmade_alert(1, "js/alpha", "medium");
    let b = handmade_alert(2, "js/bravo", "high");
    let c = handmade_alert(3, "js/charlie", "high");
    let mut steps = vec![
        (t0, &a, Step::Created),
        (t0, &b, Step::Created),
        (t0, &c, Step::Created),
        (t0 + Duration::hours(50), &a, Step::Fixed),
        (t0 + Duration::days(35), &b, Step::Fixed),
        (t0 + Duration::hours(24), &c, Step::Fixed),
        (t0 + Duration::hours(48), &c, Step::Reopened),
    ];
    steps.sort_by_key(|(at, ..)| *at);
    for (at, alert, step) in steps {
        let (event, body) = alert.payload(step, at);
        sim.deliver(at, event, body).await;
    }
    (t0, [a, b, c])
}

#[tokio::test]
async fn hand_computed_mttr_sla_breach_and_reopen_rate() {
    let mut sim = Sim::new();
    handmade(&mut sim).await;
    let report = report(
        &sim,
        &period(until() - Duration::days(90), Some(HANDMADE.1)),
    )
    .await;

    // MTTR: A after 50 h, B after 35 × 24 = 840 h; C is open again (a reopened alert is not
    // remediated, and keeps its first-seen time for when it is).
    let mttr = &report.mttr.overall;
    assert_eq!(mttr.count, 2, "{report:#?}");
    assert_eq!(mttr.p50_hours, Some(50.0));
    assert_eq!(mttr.mean_hours, Some(445.0));
    assert_eq!(mttr.max_hours, Some(840.0));
    assert_eq!(
        report.mttr.by_severity[&Severity::Medium].p50_hours,
        Some(50.0)
    );
    assert_eq!(
        report.mttr.by_severity[&Severity::High].p50_hours,
        Some(840.0)
    );
    // Ticketed on first sight: no time to ticket.
    assert_eq!(report.mttt.overall.count, 3);
    assert_eq!(report.mttt.overall.max_hours, Some(0.0));

    // SLA: B closed 5 days after its due date, A well within.
    let high = &report.sla.by_severity[&Severity::High];
    assert_eq!(
        (high.closed, high.within_due, high.percent),
        (1, 0, Some(0.0))
    );
    let medium = &report.sla.by_severity[&Severity::Medium];
    assert_eq!(
        (medium.closed, medium.within_due, medium.percent),
        (1, 1, Some(100.0))
    );
    assert_eq!(report.sla.overall.percent, Some(50.0));
    // C (high, first seen 40 days ago, SLA 30) is open and 10 days late.
    assert_eq!(report.sla.open_overdue, 1);
    assert_eq!(report.sla.days_overdue_max, Some(10));

    // Reopen rate: C came back, of the three that closed. Net resolve rate: A and B stayed fixed
    // of the three new.
    assert_eq!(
        (report.reopen_rate.numerator, report.reopen_rate.denominator),
        (1, 3)
    );
    assert_eq!(
        (
            report.net_resolve_rate.numerator,
            report.net_resolve_rate.denominator
        ),
        (2, 3)
    );
    assert_eq!(report.counts.new, 3);
    assert_eq!(
        report.counts.fixed, 3,
        "A, B and C were each fixed in the period"
    );
    assert_eq!(report.counts.open, 1);
    // Three rules, three groups, three draft tickets for three alerts.
    assert_eq!(report.counts.tickets, 3);
    assert_eq!(report.tickets_per_1000_alerts, Some(1000.0));
    // The last week ends with C open, on its one ticket.
    let last = report.backlog.last().unwrap();
    assert_eq!((last.open_findings, last.open_tickets), (1, 1));
    // The week of t0 (40 days back: the 6th week before the end) had all three open at its end?
    // No: C was fixed and back within it, A fixed after 50 h. What stayed open is B and C.
    let week_of_t0 = report
        .backlog
        .iter()
        .find(|w| {
            let end = w.week_ending.and_hms_opt(12, 0, 0).unwrap().and_utc();
            end >= until() - Duration::days(40) && end < until() - Duration::days(33)
        })
        .unwrap();
    assert_eq!(week_of_t0.new, 3);
    assert_eq!(week_of_t0.open_findings, 2, "{:#?}", report.backlog);
    // Every rule had new work; C's, still open, comes first.
    let rules: Vec<(&str, usize, usize)> = report
        .top
        .rules
        .iter()
        .map(|r| (r.name.as_str(), r.open, r.new))
        .collect();
    assert_eq!(
        rules,
        [("js/charlie", 1, 1), ("js/alpha", 0, 1), ("js/bravo", 0, 1)]
    );
}

#[tokio::test]
async fn the_chain_of_custody_of_a_finding_that_came_back_is_oldest_first_with_actor_and_time() {
    let mut sim = Sim::new();
    let (t0, [_, _, c]) = handmade(&mut sim).await;
    let entries = trail(
        sim.store(),
        &Subject::Finding(c.fingerprint()),
        None,
        until(),
    )
    .await
    .unwrap();
    let steps: Vec<(&str, DateTime<Utc>, Option<AlertState>)> = entries
        .iter()
        .filter(|e| e.action != "draft.commented")
        .map(|e| (e.action.as_str(), e.at, e.state))
        .collect();
    let open = Some(AlertState::Open);
    let fixed = Some(AlertState::Fixed);
    assert_eq!(
        steps,
        [
            ("finding.triaged", t0, open),
            ("ticket.requested", t0, open),
            ("ticket.created", t0, None),
            ("ticket.updated", t0 + Duration::hours(24), fixed),
            ("ticket.stale", t0 + Duration::hours(24), fixed),
            ("ticket.reopened", t0 + Duration::hours(48), open),
        ],
        "{entries:#?}"
    );
    // Who did it: the sender of each delivery, and scantix for the draft it made.
    let actors: BTreeSet<&str> = entries.iter().map(|e| e.actor.as_str()).collect();
    assert!(actors.contains("scantix"), "{actors:?}");
    assert!(entries.iter().all(|e| !e.actor.is_empty()));
    // Its ticket's trail (by key) has the same steps and the ticket's comments, and nothing of
    // the other findings (each has its own rule, so its own ticket).
    let ticket = entries
        .iter()
        .find_map(|e| e.ticket.clone())
        .expect("the entries name the ticket");
    let by_ticket = trail(sim.store(), &Subject::Ticket(ticket), None, until())
        .await
        .unwrap();
    assert_eq!(by_ticket.len(), entries.len());
    // --since keeps the later steps only.
    let since = trail(
        sim.store(),
        &Subject::Finding(c.fingerprint()),
        Some(t0 + Duration::hours(30)),
        until(),
    )
    .await
    .unwrap();
    assert!(since.iter().all(|e| e.at >= t0 + Duration::hours(30)));
    assert!(since.iter().any(|e| e.action == "ticket.reopened"));
    // The repository's trail holds all three findings' steps; an unknown one is an error.
    let repo = trail(
        sim.store(),
        &Subject::Repository("ACME/handmade".into()),
        None,
        until(),
    )
    .await
    .unwrap();
    let findings: BTreeSet<String> = repo
        .iter()
        .filter_map(|e| e.fingerprint.as_ref().map(|f| f.to_string()))
        .collect();
    assert_eq!(findings.len(), 3);
    assert!(repo.windows(2).all(|w| w[0].at <= w[1].at), "oldest first");
    let missing = trail(
        sim.store(),
        &Subject::Repository("acme/nothing".into()),
        None,
        until(),
    )
    .await;
    assert!(matches!(
        missing,
        Err(scantix_evidence::EvidenceError::NotFound(_))
    ));
    let missing = trail(sim.store(), &Subject::Ticket("SEC-1".into()), None, until()).await;
    assert!(matches!(
        missing,
        Err(scantix_evidence::EvidenceError::NotFound(_))
    ));
}

#[tokio::test]
async fn every_change_becomes_a_valid_ocsf_event_with_its_facts_in_place() {
    let mut sim = Sim::new();
    let (t0, [a, _, c]) = handmade(&mut sim).await;
    // And one Dependabot alert with a CVE, fixed.
    let dep = Alert {
        repo: HANDMADE,
        kind: Kind::Dependabot,
        number: 20,
        rule: String::new(),
        severity: "high",
    };
    for (at, step) in [(t0, Step::Created), (t0 + Duration::days(3), Step::Fixed)] {
        let (event, body) = dep.payload(step, at);
        sim.deliver(at, event, body).await;
    }
    let events = scantix_evidence::ocsf::export(sim.store(), until() - Duration::days(90), until())
        .await
        .unwrap();
    OcsfSchemas::load().assert_valid(&events);

    let of = |uid: &str| -> Vec<&Value> {
        events
            .iter()
            .filter(|e| e["finding_info"]["uid"] == uid)
            .collect()
    };
    let ms = |t: DateTime<Utc>| json!(t.timestamp_millis());
    // A: created (Create, New), then fixed (Close, Resolved), a Detection Finding.
    let a_events = of(a.fingerprint().as_str());
    let created = a_events[0];
    assert_eq!(created["class_uid"], 2004);
    assert_eq!(created["activity_id"], 1);
    assert_eq!(created["type_uid"], 200401);
    assert_eq!(created["status_id"], 1);
    assert_eq!(created["severity_id"], 3, "medium");
    assert_eq!(created["time"], ms(t0));
    assert_eq!(created["resources"][0]["name"], "acme/handmade");
    assert_eq!(created["resources"][0]["uid"], "4242");
    assert_eq!(created["finding_info"]["analytic"]["uid"], "js/alpha");
    let closed = a_events
        .iter()
        .find(|e| e["activity_id"] == 3)
        .expect("A's fix closes it");
    assert_eq!(closed["status_id"], 4);
    assert_eq!(closed["time"], ms(t0 + Duration::hours(50)));
    assert_eq!(closed["type_uid"], 200403);
    let tags: BTreeMap<String, String> = closed["finding_info"]["tags"]
        .as_array()
        .unwrap()
        .iter()
        .map(|t| {
            (
                t["name"].as_str().unwrap().to_owned(),
                t["value"].as_str().unwrap().to_owned(),
            )
        })
        .collect();
    assert!(tags["ticket"].starts_with("DRAFT-"), "{tags:?}");
    assert_eq!(tags["ticket_tracker"], "draft");
    // Medium: 90 days from the day it was first seen.
    assert_eq!(
        tags["sla_due_date"],
        (t0.date_naive() + Duration::days(90)).to_string()
    );
    let path = "src/main/java/com/github/demo/service/BookService.java";
    assert_eq!(closed["vulnerabilities"][0]["cwe"]["uid"], "CWE-89");
    assert_eq!(
        closed["vulnerabilities"][0]["affected_code"][0]["file"]["path"],
        path
    );
    assert_eq!(
        closed["vulnerabilities"][0]["affected_code"][0]["start_line"],
        84
    );
    assert_eq!(closed["resources"][0]["data"]["path"], path);
    // C came back: its reopening is an update of the finding (In Progress on its ticket) and of
    // its ticket.
    let c_events = of(c.fingerprint().as_str());
    let activities: Vec<(u64, u64)> = c_events
        .iter()
        .map(|e| {
            (
                e["activity_id"].as_u64().unwrap(),
                e["status_id"].as_u64().unwrap(),
            )
        })
        .collect();
    assert_eq!(activities.first(), Some(&(1, 1)));
    assert!(activities.contains(&(3, 4)), "{activities:?}");
    assert_eq!(activities.last(), Some(&(2, 2)), "{activities:?}");
    let ticket_uid = c_events[0]["finding_info"]["uid_alt"]
        .as_str()
        .unwrap()
        .to_owned();
    let ticket_events = of(&ticket_uid);
    let ticket_steps: Vec<&str> = ticket_events
        .iter()
        .map(|e| e["status_detail"].as_str().unwrap())
        .collect();
    assert_eq!(
        ticket_steps,
        [
            "ticket.requested",
            "ticket.created",
            "ticket.stale",
            "ticket.reopened"
        ]
    );
    assert_eq!(
        ticket_events[2]["activity_id"], 3,
        "stale: every finding is gone"
    );

    // The Dependabot alert: a Vulnerability Finding with its CVE, package and fix.
    let dep_events = of(dep.fingerprint().as_str());
    let fixed = dep_events.iter().find(|e| e["activity_id"] == 3).unwrap();
    assert_eq!(fixed["class_uid"], 2002);
    assert_eq!(fixed["severity_id"], 4, "high");
    let vulnerability = &fixed["vulnerabilities"][0];
    assert_eq!(vulnerability["cve"]["uid"], "CVE-2022-25883");
    assert_eq!(vulnerability["affected_packages"][0]["name"], "semver");
    assert_eq!(
        vulnerability["affected_packages"][0]["fixed_in_version"],
        "7.5.2"
    );
    assert!(
        vulnerability["remediation"]["desc"]
            .as_str()
            .unwrap()
            .contains("7.5.2")
    );

    // Idempotent for the consumer: the same changes exported again give the same uids, and no
    // two events share one.
    let again = scantix_evidence::ocsf::export(sim.store(), until() - Duration::days(90), until())
        .await
        .unwrap();
    let uids = |events: &[Value]| -> Vec<String> {
        events
            .iter()
            .map(|e| e["metadata"]["uid"].as_str().unwrap().to_owned())
            .collect()
    };
    assert_eq!(uids(&events), uids(&again));
    let distinct: BTreeSet<String> = uids(&events).into_iter().collect();
    assert_eq!(distinct.len(), events.len());
}

// ---------------------------------------------------------------------------------------------
// The synthetic 90 days
// ---------------------------------------------------------------------------------------------

/// A small deterministic generator (64-bit LCG, Knuth's constants): the same history every run.
struct Seeded(u64);

impl Seeded {
    fn next(&mut self) -> u64 {
        self.0 = self
            .0
            .wrapping_mul(6364136223846793005)
            .wrapping_add(1442695040888963407);
        self.0 >> 33
    }

    fn below(&mut self, n: u64) -> u64 {
        self.next() % n
    }
}

/// One alert's life as the generator decided it: the ledger the report is checked against.
#[derive(Debug, Clone)]
struct Life {
    alert: Alert,
    opened: DateTime<Utc>,
    fixed: Option<DateTime<Utc>>,
    reopened: Option<DateTime<Utc>>,
    false_positive: Option<DateTime<Utc>>,
}

const REPOS: [(u64, &str); 3] = [(1001, "acme/shop"), (1002, "acme/api"), (1003, "acme/web")];
const SEVERITIES: [&str; 4] = ["low", "medium", "high", "critical"];

/// 300 alerts over 90 days in three repositories: code scanning under eight rules and Dependabot;
/// about 60 % fixed after 1 to 45 days, a tenth of those back within days, 5 % dismissed as false
/// positives.
fn history(seed: u64) -> Vec<Life> {
    let mut rng = Seeded(seed);
    let start = until() - Duration::days(90);
    let mut lives = Vec::new();
    for number in 1..=300u64 {
        let repo = REPOS[rng.below(3) as usize];
        let kind = if rng.below(4) == 0 {
            Kind::Dependabot
        } else {
            Kind::Code
        };
        let alert = Alert {
            repo,
            kind,
            number,
            rule: format!("js/rule-{}", rng.below(8)),
            severity: SEVERITIES[rng.below(4) as usize],
        };
        let opened = start + Duration::minutes(rng.below(88 * 24 * 60) as i64 + 1);
        let mut life = Life {
            alert,
            opened,
            fixed: None,
            reopened: None,
            false_positive: None,
        };
        match rng.below(100) {
            0..60 => {
                let fixed = opened + Duration::minutes(rng.below(44 * 24 * 60) as i64 + 24 * 60);
                if fixed < until() {
                    life.fixed = Some(fixed);
                    if rng.below(10) == 0 {
                        let back = fixed + Duration::minutes(rng.below(5 * 24 * 60) as i64 + 60);
                        life.reopened = Some(back).filter(|b| *b < until());
                    }
                }
            }
            60..65 => {
                let at = opened + Duration::hours(rng.below(240) as i64 + 1);
                life.false_positive = Some(at).filter(|t| *t < until());
            }
            _ => {}
        }
        lives.push(life);
    }
    lives
}

async fn play(sim: &mut Sim, lives: &[Life]) {
    let mut steps: Vec<(DateTime<Utc>, usize, Step)> = Vec::new();
    for (i, life) in lives.iter().enumerate() {
        steps.push((life.opened, i, Step::Created));
        steps.extend(life.fixed.map(|t| (t, i, Step::Fixed)));
        steps.extend(life.reopened.map(|t| (t, i, Step::Reopened)));
        steps.extend(
            life.false_positive
                .map(|t| (t, i, Step::DismissedFalsePositive)),
        );
    }
    steps.sort_by_key(|(at, i, _)| (*at, *i));
    for (at, i, step) in steps {
        let (event, body) = lives[i].alert.payload(step, at);
        sim.deliver(at, event, body).await;
    }
}

/// Nearest-rank percentile, as the report computes it, of hours.
fn nearest_rank(sorted: &[f64], p: f64) -> f64 {
    let rank = ((p / 100.0) * sorted.len() as f64).ceil() as usize;
    sorted[rank.max(1) - 1]
}

#[tokio::test]
async fn ninety_days_of_a_seeded_history_report_what_the_ledger_says() {
    let lives = history(2026);
    let mut sim = Sim::new();
    play(&mut sim, &lives).await;
    assert!(sim.sent > 450, "hundreds of deliveries: {}", sim.sent);
    let since = until() - Duration::days(90);
    let report = report(&sim, &period(since, None)).await;

    // The ledger's view.
    let remediated: Vec<&Life> = lives
        .iter()
        .filter(|l| l.fixed.is_some() && l.reopened.is_none())
        .collect();
    let reopened = lives.iter().filter(|l| l.reopened.is_some()).count();
    let ever_closed = lives
        .iter()
        .filter(|l| l.fixed.is_some() || l.false_positive.is_some())
        .count();
    let open_now = lives
        .iter()
        .filter(|l| (l.fixed.is_none() || l.reopened.is_some()) && l.false_positive.is_none())
        .count();
    assert!(
        reopened > 3 && remediated.len() > 100,
        "the seed gives a varied history"
    );

    assert_eq!(report.counts.new, 300);
    assert_eq!(report.counts.alerts, 300);
    assert_eq!(report.counts.open, open_now);
    assert_eq!(
        report.counts.fixed,
        lives.iter().filter(|l| l.fixed.is_some()).count()
    );
    assert_eq!(
        report.counts.dismissed,
        lives.iter().filter(|l| l.false_positive.is_some()).count()
    );

    // MTTR: the remediated ones, false positives excluded.
    let mut hours: Vec<f64> = remediated
        .iter()
        .map(|l| (l.fixed.unwrap() - l.opened).num_seconds() as f64 / 3600.0)
        .collect();
    hours.sort_by(f64::total_cmp);
    let round = |h: f64| (h * 100.0).round() / 100.0;
    let mttr = &report.mttr.overall;
    assert_eq!(mttr.count, remediated.len());
    assert_eq!(mttr.p50_hours, Some(round(nearest_rank(&hours, 50.0))));
    assert_eq!(mttr.p90_hours, Some(round(nearest_rank(&hours, 90.0))));
    assert_eq!(
        mttr.mean_hours,
        Some(round(hours.iter().sum::<f64>() / hours.len() as f64))
    );
    // By kind, the counts add up.
    let by_kind: usize = report.mttr.by_kind.values().map(|d| d.count).sum();
    assert_eq!(by_kind, remediated.len());

    // SLA adherence, by severity.
    for severity in SEVERITIES {
        let closed: Vec<&&Life> = remediated
            .iter()
            .filter(|l| l.alert.severity == severity)
            .collect();
        let within = closed
            .iter()
            .filter(|l| {
                l.fixed.unwrap().date_naive()
                    <= l.opened.date_naive() + Duration::days(sla_days(severity))
            })
            .count();
        let key = Severity::parse_loose(severity).unwrap();
        let adherence = report
            .sla
            .by_severity
            .get(&key)
            .cloned()
            .unwrap_or_default();
        assert_eq!(
            (adherence.closed, adherence.within_due),
            (closed.len(), within),
            "{severity}"
        );
    }
    let overdue = lives
        .iter()
        .filter(|l| (l.fixed.is_none() || l.reopened.is_some()) && l.false_positive.is_none())
        .filter(|l| {
            until().date_naive()
                > l.opened.date_naive() + Duration::days(sla_days(l.alert.severity))
        })
        .count();
    assert_eq!(report.sla.open_overdue, overdue);

    // Rates.
    assert_eq!(
        (report.reopen_rate.numerator, report.reopen_rate.denominator),
        (reopened, ever_closed)
    );
    assert_eq!(
        (
            report.net_resolve_rate.numerator,
            report.net_resolve_rate.denominator
        ),
        (remediated.len(), 300)
    );
    // One ticket per (repository, rule) of code scanning, one per repository's package.
    let groups: BTreeSet<(u64, String)> = lives
        .iter()
        .map(|l| match l.alert.kind {
            Kind::Code => (l.alert.repo.0, l.alert.rule.clone()),
            Kind::Dependabot => (l.alert.repo.0, "semver".into()),
        })
        .collect();
    assert_eq!(report.counts.tickets, groups.len());
    assert_eq!(
        report.tickets_per_1000_alerts,
        Some(groups.len() as f64 / 300.0 * 1000.0)
    );

    // Backlog: open findings at the end of each week, as the ledger has them.
    assert_eq!(report.backlog.len(), 13);
    for week in &report.backlog {
        let end = week.week_ending.and_hms_opt(12, 0, 0).unwrap().and_utc();
        let open = lives
            .iter()
            .filter(|l| l.opened <= end)
            .filter(|l| {
                let closed_by = |t: Option<DateTime<Utc>>| t.is_some_and(|t| t <= end);
                let fixed = closed_by(l.fixed) && !closed_by(l.reopened);
                !fixed && !closed_by(l.false_positive)
            })
            .count();
        assert_eq!(week.open_findings, open, "week ending {}", week.week_ending);
        let new = lives
            .iter()
            .filter(|l| l.opened > end - Duration::weeks(1) && l.opened <= end)
            .count();
        assert_eq!(week.new, new, "week ending {}", week.week_ending);
    }
    assert_eq!(report.backlog.last().unwrap().open_findings, open_now);

    // Top repositories: by open findings now.
    let mut open_by_repo: BTreeMap<&str, usize> = BTreeMap::new();
    for l in lives
        .iter()
        .filter(|l| (l.fixed.is_none() || l.reopened.is_some()) && l.false_positive.is_none())
    {
        *open_by_repo.entry(l.alert.repo.1).or_default() += 1;
    }
    let top: BTreeMap<&str, usize> = report
        .top
        .repositories
        .iter()
        .map(|r| (r.name.as_str(), r.open))
        .collect();
    assert_eq!(top, open_by_repo);

    // Every change of the 90 days exports as a valid OCSF event.
    let events = scantix_evidence::ocsf::export(sim.store(), since, until())
        .await
        .unwrap();
    // At least one event per delivery: each changed a finding.
    assert!(
        events.len() >= sim.sent,
        "{} events of {} deliveries",
        events.len(),
        sim.sent
    );
    OcsfSchemas::load().assert_valid(&events);
    let classes: BTreeSet<u64> = events
        .iter()
        .map(|e| e["class_uid"].as_u64().unwrap())
        .collect();
    assert_eq!(classes, BTreeSet::from([2002, 2004]));
}

// ---------------------------------------------------------------------------------------------
// The HTML report in a real browser
// ---------------------------------------------------------------------------------------------

/// Chromium from the OS packages (`scripts/test.sh` installs it when missing).
fn chromium() -> std::path::PathBuf {
    for name in ["chromium", "chromium-browser", "google-chrome"] {
        for dir in std::env::split_paths(&std::env::var_os("PATH").unwrap_or_default()) {
            let path = dir.join(name);
            if path.is_file() {
                return path;
            }
        }
    }
    panic!("no chromium on PATH: `apt-get install -y chromium` (scripts/test.sh does it)");
}

fn headless(args: &[&str]) -> std::process::Output {
    let output = std::process::Command::new(chromium())
        .args([
            "--headless",
            "--no-sandbox",
            "--disable-gpu",
            "--disable-dev-shm-usage",
        ])
        .args([
            "--hide-scrollbars",
            "--no-first-run",
            "--disable-extensions",
        ])
        .args(args)
        .output()
        .expect("run chromium");
    assert!(
        output.status.success(),
        "chromium {args:?}: {}",
        String::from_utf8_lossy(&output.stderr)
    );
    output
}

/// How many pixels of the screenshot (`channels` bytes each, RGB first) are within a small
/// distance of `color`.
fn pixels_of(pixels: &[u8], channels: usize, color: (u8, u8, u8)) -> usize {
    pixels
        .chunks_exact(channels)
        .filter(|p| {
            let d = |a: u8, b: u8| (i32::from(a) - i32::from(b)).abs();
            d(p[0], color.0) + d(p[1], color.1) + d(p[2], color.2) <= 24
        })
        .count()
}

#[tokio::test]
async fn the_html_report_renders_its_plots_in_headless_chromium() {
    use scantix_evidence::html;
    let lives = history(2026);
    let mut sim = Sim::new();
    play(&mut sim, &lives).await;
    let report = report(&sim, &period(until() - Duration::days(90), None)).await;
    let page = html::render(&report).unwrap();
    // One self-contained file: nothing to fetch (the SVG namespace is a name, not a fetch).
    for reference in ["src=", "href=", "@import", "<script", "url("] {
        assert!(
            !page.contains(reference),
            "the report refers to {reference}"
        );
    }

    let dir = std::env::temp_dir().join(format!("scantix-report-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let file = dir.join("report.html");
    std::fs::write(&file, &page).unwrap();
    let url = format!("file://{}", file.display());

    // The DOM Chromium built: four plots, each an SVG with its data points.
    let dom = String::from_utf8(headless(&["--dump-dom", &url]).stdout).unwrap();
    let figure = |id: &str| -> String {
        let start = dom
            .find(&format!("id=\"{id}\""))
            .unwrap_or_else(|| panic!("no figure {id}"));
        let end = dom[start..].find("</figure>").unwrap() + start;
        dom[start..end].to_owned()
    };
    let backlog = figure("backlog");
    // 13 weeks, two series, a marker per point.
    assert!(backlog.matches("<circle").count() >= 26, "{backlog}");
    assert!(backlog.matches("<polyline").count() >= 2, "{backlog}");
    let bars = |id: &str| figure(id).matches("<rect").count();
    let severities_closed = report.mttr.by_severity.len();
    assert!(
        bars("mttr") > severities_closed,
        "a bar per severity, and the background"
    );
    assert!(bars("sla") > report.sla.by_severity.len());
    assert!(bars("new-vs-fixed") > 2 * 13, "two bars a week");

    // What it looks like: every series' colour is on the screen.
    let shot = dir.join("report.png");
    headless(&[
        &format!("--screenshot={}", shot.display()),
        "--window-size=1600,2400",
        &url,
    ]);
    let decoder = png::Decoder::new(std::fs::File::open(&shot).unwrap());
    let mut reader = decoder.read_info().unwrap();
    let mut buffer = vec![0; reader.output_buffer_size()];
    let frame = reader.next_frame(&mut buffer).unwrap();
    let channels = match frame.color_type {
        png::ColorType::Rgba => 4,
        png::ColorType::Rgb => 3,
        other => panic!("a screenshot in {other:?}"),
    };
    assert_eq!(frame.bit_depth, png::BitDepth::Eight);
    let rgba = &buffer[..frame.buffer_size()];
    for (name, color) in [
        ("open findings", html::OPEN_FINDINGS),
        ("open tickets", html::OPEN_TICKETS),
        ("new", html::NEW),
        ("fixed", html::FIXED),
        ("MTTR", html::MTTR),
        ("SLA", html::SLA),
    ] {
        let n = pixels_of(rgba, channels, (color.0, color.1, color.2));
        assert!(
            n > 200,
            "{name}: {n} pixels of its colour in the screenshot"
        );
    }
    // And the page is not blank: most of it white, but far from all.
    let white = pixels_of(rgba, channels, (255, 255, 255));
    assert!(
        white < rgba.len() / channels * 95 / 100,
        "{white} white pixels"
    );
    if let Ok(keep) = std::env::var("SCANTIX_REPORT_SCREENSHOT") {
        std::fs::copy(&shot, keep).unwrap();
    }
    let _ = std::fs::remove_dir_all(&dir);
}
