//! The Jira adapter against a fake Jira that checks every request against Atlassian's OpenAPI
//! description, on both flavors: what each tracker call does to the issue, how many Jira calls it
//! takes, and what the adapter makes of Jira's refusals and faults.

use chrono::NaiveDate;
use scantix_core::identity::GroupKey;
use scantix_core::ports::tracker::{Tracker, TrackerError};
use scantix_core::records::{TicketRef, TicketState};
use scantix_core::secret::Secret;
use scantix_core::ticket::TicketContent;
use scantix_jira::{self as jira, JiraAuth, JiraSettings, JiraTracker};
use scantix_tests::fake_jira::{
    CLOUD_API_TOKEN, CLOUD_EMAIL, Category, CustomField, DC_PERSONAL_ACCESS_TOKEN, FakeJira,
    FakeJiraConfig, Fault, Flavor, Workflow,
};
use scantix_tests::records::sample_finding;
use serde_json::{Value, json};
use std::time::{Duration, Instant};

/// The adapter for `fake`, as a Lambda would build it at cold start (fast backoff for tests).
fn adapter_with(fake: &FakeJira, edit: impl FnOnce(&mut JiraSettings)) -> JiraTracker {
    let (flavor, auth) = match fake.flavor() {
        Flavor::Cloud => (
            jira::Flavor::Cloud,
            JiraAuth::Cloud {
                email: CLOUD_EMAIL.into(),
                api_token: Secret::new(CLOUD_API_TOKEN),
            },
        ),
        Flavor::DataCenter => (
            jira::Flavor::DataCenter,
            JiraAuth::DataCenter {
                token: Secret::new(DC_PERSONAL_ACCESS_TOKEN),
            },
        ),
    };
    let mut settings = JiraSettings::new(fake.base_url(), flavor, "SEC");
    settings.labels = vec!["appsec team".into()];
    settings.components = vec!["Backend".into()];
    settings.request_timeout_secs = 2;
    edit(&mut settings);
    JiraTracker::new(settings, auth)
        .expect("valid settings")
        .with_backoff_base(Duration::from_millis(5))
}

fn adapter(fake: &FakeJira) -> JiraTracker {
    adapter_with(fake, |_| {})
}

/// The ticket content of a real-shaped group (a CodeQL SQL injection alert `number`), due on
/// 2025-04-01 and assigned to someone this flavor can name.
fn content(flavor: Flavor, number: u64) -> TicketContent {
    let mut c = scantix_core::testing::ticket_of(&[sample_finding(4242, number)]).unwrap();
    c.due = NaiveDate::from_ymd_opt(2025, 4, 1);
    c.assignee = Some(match flavor {
        Flavor::Cloud => "5b10ac8d82e05b22cc7d4ef5".into(),
        Flavor::DataCenter => "ada".into(),
    });
    c
}

fn setting_of(e: &TrackerError) -> &str {
    match e {
        TrackerError::Misconfigured { setting, .. } => setting,
        other => panic!("expected Misconfigured, got {other:?}"),
    }
}

/// Every call since the last `clear_requests`, as `METHOD path`, for the call-count report.
fn calls(fake: &FakeJira) -> Vec<String> {
    let requests = fake.requests();
    fake.clear_requests();
    requests
        .iter()
        .map(|r| format!("{} {}", r.method, r.path))
        .collect()
}

/// The two calls that learn the create screen of Bug in SEC (done once per adapter and TTL).
fn learning(flavor: Flavor) -> [String; 2] {
    let base = flavor.rest_base();
    [
        format!("GET {base}/issue/createmeta/SEC/issuetypes"),
        format!("GET {base}/issue/createmeta/SEC/issuetypes/10001"),
    ]
}

/// Runs a scenario on both flavors.
macro_rules! on_both_flavors {
    ($scenario:ident) => {
        mod $scenario {
            #[tokio::test]
            async fn cloud() {
                super::$scenario(super::Flavor::Cloud).await
            }
            #[tokio::test]
            async fn data_center() {
                super::$scenario(super::Flavor::DataCenter).await
            }
        }
    };
}

on_both_flavors!(create_sets_fields_property_and_labels);
async fn create_sets_fields_property_and_labels(flavor: Flavor) {
    let fake = FakeJira::start(flavor).await;
    let jira = adapter(&fake);
    let content = content(flavor, 7);

    let (ticket, state) = jira.create(&content).await.unwrap();

    // The create screen is learnt first: every field is on it here.
    let [types, fields] = learning(flavor);
    assert_eq!(
        calls(&fake),
        [types, fields, format!("POST {}/issue", flavor.rest_base())]
    );
    assert_eq!(state, TicketState::Open);
    assert_eq!(ticket.tracker, "jira");
    assert_eq!(ticket.key, "SEC-1");
    assert_eq!(
        ticket.url.as_deref(),
        Some(format!("{}/browse/SEC-1", fake.base_url()).as_str())
    );
    let issue = fake.snapshot("SEC-1").unwrap();
    assert_eq!(issue.summary, content.title);
    assert_eq!(
        issue.labels,
        [
            "scantix",
            "severity:high",
            content.group_key.label().as_str(),
            "code-scanning",
            "appsec-team"
        ]
    );
    assert_eq!(issue.fields["priority"]["name"], "High");
    assert_eq!(issue.fields["duedate"], "2025-04-01");
    assert_eq!(issue.fields["components"], json!([{ "name": "Backend" }]));
    match flavor {
        Flavor::Cloud => {
            assert_eq!(issue.fields["description"]["type"], "doc");
            assert_eq!(
                issue.fields["assignee"],
                json!({ "accountId": "5b10ac8d82e05b22cc7d4ef5" })
            );
        }
        Flavor::DataCenter => {
            let wiki = issue.fields["description"].as_str().unwrap();
            assert!(wiki.contains("h3. Findings (1)"), "{wiki}");
            assert_eq!(issue.fields["assignee"], json!({ "name": "ada" }));
        }
    }
    assert_eq!(
        issue.properties["scantix"],
        json!({ "groupKey": content.group_key.as_str() })
    );
    assert_eq!(issue.category, Category::New);
    fake.assert_no_violations();
}

on_both_flavors!(update_rewrites_the_ticket_and_keeps_other_labels);
async fn update_rewrites_the_ticket_and_keeps_other_labels(flavor: Flavor) {
    let fake = FakeJira::start(flavor).await;
    let jira = adapter(&fake);
    let mut content = content(flavor, 7);
    let (ticket, _) = jira.create(&content).await.unwrap();
    jira.transition(&ticket, TicketState::Stale).await.unwrap();
    calls(&fake);

    content.title = "CWE-89: SQL injection everywhere (2 alerts)".into();
    content.severity = scantix_core::finding::Severity::Critical;
    content.labels[1] = "severity:critical".into();
    content.due = NaiveDate::from_ymd_opt(2025, 3, 15);
    jira.update(&ticket, &content).await.unwrap();

    assert_eq!(
        calls(&fake),
        [format!("PUT {}/issue/SEC-1", flavor.rest_base())]
    );
    let issue = fake.snapshot("SEC-1").unwrap();
    assert_eq!(issue.summary, "CWE-89: SQL injection everywhere (2 alerts)");
    assert_eq!(issue.fields["priority"]["name"], "Highest");
    assert_eq!(issue.fields["duedate"], "2025-03-15");
    assert!(issue.labels.contains(&"severity:critical".to_owned()));
    assert!(
        !issue.labels.contains(&"severity:high".to_owned()),
        "{:?}",
        issue.labels
    );
    assert!(
        issue.labels.contains(&jira::STALE_LABEL.to_owned()),
        "stale stays until a move"
    );
    fake.assert_no_violations();
}

on_both_flavors!(comments_are_posted_once_per_id);
async fn comments_are_posted_once_per_id(flavor: Flavor) {
    let fake = FakeJira::start(flavor).await;
    let jira = adapter(&fake);
    let (ticket, _) = jira.create(&content(flavor, 7)).await.unwrap();
    calls(&fake);
    let hostile =
        "Reopened: GitHub still reports 2 alerts open. [~admin] {color:red}x{color} \\{code}";

    jira.comment(&ticket, "scantix-0a1b2c3d4e5f-4", hostile)
        .await
        .unwrap();
    let first = calls(&fake);
    jira.comment(&ticket, "scantix-0a1b2c3d4e5f-4", hostile)
        .await
        .unwrap();
    let repeat = calls(&fake);
    jira.comment(&ticket, "scantix-0a1b2c3d4e5f-5", "Fixed.")
        .await
        .unwrap();

    let base = flavor.rest_base();
    assert_eq!(
        first,
        [
            format!("GET {base}/issue/SEC-1/comment"),
            format!("POST {base}/issue/SEC-1/comment")
        ]
    );
    assert_eq!(repeat, [format!("GET {base}/issue/SEC-1/comment")]);
    let comments = fake.snapshot("SEC-1").unwrap().comments;
    assert_eq!(comments.len(), 2);
    match &comments[0] {
        Value::String(wiki) => {
            assert!(
                wiki.contains("\\[\\~admin\\]") && !wiki.contains("[~admin]"),
                "{wiki}"
            );
            assert!(wiki.ends_with("{color:#97a0af}scantix ref scantix\\-0a1b2c3d4e5f\\-4{color}"));
        }
        adf => {
            assert_eq!(adf["type"], "doc");
            let s = adf.to_string();
            assert!(s.contains("[~admin]") && !s.contains("\"mention\""), "{s}");
            assert!(s.contains("scantix ref scantix-0a1b2c3d4e5f-4"));
        }
    }
    // The id also travels as a comment property.
    let posted = fake
        .requests()
        .into_iter()
        .rfind(|r| r.method == "POST")
        .and_then(|r| r.body)
        .unwrap();
    assert_eq!(
        posted["properties"],
        json!([{ "key": "scantix", "value": { "commentId": "scantix-0a1b2c3d4e5f-5" } }])
    );
    fake.assert_no_violations();
}

/// A security team's own workflow: no status is called "To Do" or "Done".
fn custom_workflow() -> FakeJiraConfig {
    let workflow = Workflow::new(&[
        ("Triage", Category::New),
        ("Fixing", Category::Indeterminate),
        ("Verified", Category::Done),
        ("Won't Fix", Category::Done),
        ("Reopened", Category::New),
    ])
    .transition("11", "Start fixing", &["Triage", "Reopened"], "Fixing")
    .transition("21", "Won't fix", &[], "Won't Fix")
    .transition("31", "Verify the fix", &["Fixing"], "Verified")
    .transition("41", "Reopen", &["Verified", "Won't Fix"], "Reopened");
    FakeJiraConfig {
        workflow,
        ..FakeJiraConfig::default()
    }
}

on_both_flavors!(transitions_follow_a_custom_workflow_by_category);
async fn transitions_follow_a_custom_workflow_by_category(flavor: Flavor) {
    let fake = FakeJira::start_with(flavor, custom_workflow()).await;
    let jira = adapter(&fake);
    let (ticket, _) = jira.create(&content(flavor, 7)).await.unwrap();
    assert_eq!(fake.snapshot("SEC-1").unwrap().status, "Triage");
    calls(&fake);
    let base = flavor.rest_base();
    let status = || fake.snapshot("SEC-1").unwrap().status;

    jira.transition(&ticket, TicketState::InProgress)
        .await
        .unwrap();
    assert_eq!(status(), "Fixing");
    assert_eq!(
        calls(&fake),
        [
            format!("GET {base}/issue/SEC-1"),
            format!("GET {base}/issue/SEC-1/transitions"),
            format!("POST {base}/issue/SEC-1/transitions")
        ]
    );

    // Two ways into `done`: the one that sounds like a fix wins over "Won't fix".
    jira.transition(&ticket, TicketState::Resolved)
        .await
        .unwrap();
    assert_eq!(status(), "Verified");
    calls(&fake);

    // Already done: a no-op, one read.
    jira.transition(&ticket, TicketState::Resolved)
        .await
        .unwrap();
    assert_eq!(status(), "Verified");
    assert_eq!(calls(&fake), [format!("GET {base}/issue/SEC-1")]);

    jira.transition(&ticket, TicketState::Reopened)
        .await
        .unwrap();
    assert_eq!(status(), "Reopened");
    jira.transition(&ticket, TicketState::Open).await.unwrap();
    assert_eq!(status(), "Reopened", "Reopened is already in `new`");
    fake.assert_no_violations();
}

on_both_flavors!(a_workflow_without_the_way_is_a_misconfiguration);
async fn a_workflow_without_the_way_is_a_misconfiguration(flavor: Flavor) {
    let config = FakeJiraConfig {
        workflow: Workflow::new(&[("Triage", Category::New), ("Closed", Category::Done)])
            .transition("21", "Close", &["Triage"], "Closed"),
        ..FakeJiraConfig::default()
    };
    let fake = FakeJira::start_with(flavor, config).await;
    let jira = adapter(&fake);
    let (ticket, _) = jira.create(&content(flavor, 7)).await.unwrap();

    let err = jira
        .transition(&ticket, TicketState::InProgress)
        .await
        .unwrap_err();

    assert_eq!(setting_of(&err), "jira.workflow");
    assert!(
        err.to_string().contains(
            "no transition from Triage to a status in category indeterminate; available: Close → Closed (done)"
        ),
        "{err}"
    );
    assert_eq!(fake.snapshot("SEC-1").unwrap().status, "Triage");
    fake.assert_no_violations();
}

on_both_flavors!(stale_is_a_label_and_leaving_it_removes_the_label);
async fn stale_is_a_label_and_leaving_it_removes_the_label(flavor: Flavor) {
    let fake = FakeJira::start(flavor).await;
    let jira = adapter(&fake);
    let (ticket, _) = jira.create(&content(flavor, 7)).await.unwrap();
    jira.transition(&ticket, TicketState::Resolved)
        .await
        .unwrap();
    calls(&fake);
    let base = flavor.rest_base();

    jira.transition(&ticket, TicketState::Stale).await.unwrap();
    assert_eq!(calls(&fake), [format!("PUT {base}/issue/SEC-1")]);
    let issue = fake.snapshot("SEC-1").unwrap();
    assert!(issue.labels.contains(&jira::STALE_LABEL.to_owned()));
    assert_eq!(issue.status, "Done", "the status is left alone");

    // Reopened from stale: moved, and the label goes.
    jira.transition(&ticket, TicketState::Reopened)
        .await
        .unwrap();
    assert_eq!(
        calls(&fake),
        [
            format!("GET {base}/issue/SEC-1"),
            format!("GET {base}/issue/SEC-1/transitions"),
            format!("POST {base}/issue/SEC-1/transitions"),
            format!("PUT {base}/issue/SEC-1")
        ]
    );
    let issue = fake.snapshot("SEC-1").unwrap();
    assert_eq!(issue.category, Category::New);
    assert!(!issue.labels.contains(&jira::STALE_LABEL.to_owned()));
    assert!(issue.labels.contains(&"scantix".to_owned()));
    fake.assert_no_violations();
}

on_both_flavors!(a_fresh_adapter_finds_the_ticket_by_group_key);
async fn a_fresh_adapter_finds_the_ticket_by_group_key(flavor: Flavor) {
    let fake = FakeJira::start(flavor).await;
    let content = content(flavor, 7);
    // Jira created it, then the process died before the store recorded it.
    let (created, _) = adapter(&fake).create(&content).await.unwrap();
    calls(&fake);

    let after_restart = adapter(&fake);
    let found = after_restart
        .find_by_group_key(&content.group_key)
        .await
        .unwrap();

    assert_eq!(found, Some(created));
    let search = match flavor {
        Flavor::Cloud => "POST /rest/api/3/search/jql",
        Flavor::DataCenter => "POST /rest/api/2/search",
    };
    assert_eq!(
        calls(&fake),
        [search],
        "found by the property in one search"
    );
    let other = GroupKey::from_stored("4242/code-scanning/rule:CodeQL:js/other");
    assert_eq!(after_restart.find_by_group_key(&other).await.unwrap(), None);
    assert_eq!(calls(&fake), [search, search], "a miss also asks by label");
    fake.assert_no_violations();
}

on_both_flavors!(without_an_indexed_property_the_label_finds_it);
async fn without_an_indexed_property_the_label_finds_it(flavor: Flavor) {
    // A plain API-token integration: Jira accepts the property JQL and finds nothing.
    let config = FakeJiraConfig {
        indexed_properties: vec![],
        ..FakeJiraConfig::default()
    };
    let fake = FakeJira::start_with(flavor, config).await;
    let content = content(flavor, 7);
    let (created, _) = adapter(&fake).create(&content).await.unwrap();
    calls(&fake);

    let found = adapter(&fake)
        .find_by_group_key(&content.group_key)
        .await
        .unwrap();

    assert_eq!(found, Some(created));
    let jqls = searched_jql(&fake);
    assert_eq!(jqls.len(), 2, "{jqls:?}");
    assert!(
        jqls[0].contains("issue.property[scantix].groupKey = "),
        "{jqls:?}"
    );
    assert_eq!(
        jqls[1],
        format!(
            "project = \"SEC\" AND labels = \"{}\" ORDER BY created ASC",
            content.group_key.label()
        )
    );
    fake.assert_no_violations();
}

/// The JQL of every search so far.
fn searched_jql(fake: &FakeJira) -> Vec<String> {
    fake.requests()
        .into_iter()
        .filter_map(|r| r.body?["jql"].as_str().map(str::to_owned))
        .collect()
}

on_both_flavors!(a_lost_create_response_yields_one_issue);
async fn a_lost_create_response_yields_one_issue(flavor: Flavor) {
    let fake = FakeJira::start(flavor).await;
    let jira = adapter_with(&fake, |s| s.request_timeout_secs = 1);
    // Jira creates the issue, but its answer never arrives (the client times out).
    fake.inject_on(
        "POST",
        "/issue",
        Fault::LostResponse(Duration::from_secs(3)),
        1,
    );

    let (ticket, state) = jira.create(&content(flavor, 7)).await.unwrap();

    assert_eq!(fake.issue_keys(), ["SEC-1"], "no second issue");
    assert_eq!(ticket.key, "SEC-1");
    assert_eq!(state, TicketState::Open);
    // The create screen learnt, the lost POST, then one search by property that finds it.
    assert_eq!(calls(&fake).len(), 4);
    fake.assert_no_violations();
}

on_both_flavors!(rate_limits_are_waited_out);
async fn rate_limits_are_waited_out(flavor: Flavor) {
    let fake = FakeJira::start(flavor).await;
    let jira = adapter(&fake);
    fake.inject(
        Fault::RateLimited {
            retry_after_secs: 1,
        },
        1,
    );

    let started = Instant::now();
    let (ticket, _) = jira.create(&content(flavor, 7)).await.unwrap();

    assert!(
        started.elapsed() >= Duration::from_secs(1),
        "Retry-After honoured"
    );
    assert_eq!(ticket.key, "SEC-1");
    let statuses: Vec<u16> = fake.requests().iter().map(|r| r.status).collect();
    assert_eq!(
        statuses,
        [429, 200, 200, 201],
        "a 429 (on the first call, learning the screen) is repeated as is: Jira did nothing"
    );
    fake.assert_no_violations();
}

on_both_flavors!(an_outage_ends_in_a_retryable_error);
async fn an_outage_ends_in_a_retryable_error(flavor: Flavor) {
    let fake = FakeJira::start(flavor).await;
    let jira = adapter(&fake);
    let (ticket, _) = jira.create(&content(flavor, 7)).await.unwrap();
    calls(&fake);
    fake.inject(Fault::Status(503), 100);

    let update = jira.update(&ticket, &content(flavor, 7)).await.unwrap_err();
    let update_calls = calls(&fake).len();
    let create = jira.create(&content(flavor, 8)).await.unwrap_err();
    let create_calls = calls(&fake);

    assert!(update.is_retryable(), "{update}");
    assert!(update.to_string().contains("after 4 attempts"), "{update}");
    assert_eq!(update_calls, 4, "max-attempts");
    assert!(create.is_retryable(), "{create}");
    // A create is never blindly repeated: POST, then a search to see whether it happened (itself
    // retried up to four times).
    let base = flavor.rest_base();
    assert_eq!(create_calls[0], format!("POST {base}/issue"));
    assert_eq!(create_calls.len(), 5, "{create_calls:?}");
    assert_eq!(fake.issue_keys(), ["SEC-1"]);
    fake.assert_no_violations();
}

on_both_flavors!(an_unknown_project_names_jira_project);
async fn an_unknown_project_names_jira_project(flavor: Flavor) {
    let fake = FakeJira::start(flavor).await;
    let jira = adapter_with(&fake, |s| s.project = "NOPE".into());
    let content = content(flavor, 7);

    let find = jira
        .find_by_group_key(&content.group_key)
        .await
        .unwrap_err();
    let create = jira.create(&content).await.unwrap_err();

    assert_eq!(setting_of(&find), "jira.project", "{find}");
    assert_eq!(setting_of(&create), "jira.project", "{create}");
    assert!(!create.is_retryable());
    assert!(fake.issue_keys().is_empty());
    fake.assert_no_violations();
}

on_both_flavors!(a_field_jira_refuses_names_a_real_setting);
/// Where Jira gives no create metadata (a Data Center before 8.4), every configured field is sent,
/// and a refusal names the setting that turns it off or moves it, not a made-up one.
async fn a_field_jira_refuses_names_a_real_setting(flavor: Flavor) {
    let mut config = FakeJiraConfig::default();
    config.fields_on_screen.retain(|f| f != "duedate");
    let fake = FakeJira::start_with(flavor, config).await;
    fake.inject_on("GET", "/issue/createmeta/**", Fault::Status(404), 1);
    let jira = adapter(&fake);

    let err = jira.create(&content(flavor, 7)).await.unwrap_err();

    assert_eq!(setting_of(&err), "jira.due-date-field", "{err}");
    assert!(
        err.to_string().contains("not on the appropriate screen"),
        "{err}"
    );
    assert_eq!(
        calls(&fake).len(),
        2,
        "the metadata asked for, the create not retried"
    );
    // The fake counts a field off the screen as a request wrong on that Jira: the one provoked.
    let violations = fake.violations();
    assert_eq!(violations.len(), 1, "{violations:?}");
    assert!(violations[0].contains("duedate"), "{violations:?}");
}

/// The fields a ticket of `content` sets when the screen has them all.
const OPTIONAL_FIELDS: [&str; 5] = ["duedate", "priority", "labels", "components", "assignee"];

on_both_flavors!(a_project_without_a_field_gets_tickets_without_it);
/// Before, scantix sent every field: a project whose create screen lacks one (most often the due
/// date) answered 400 to every create. Now the screen is learnt and the field left out, for each
/// field scantix may set; the edit leaves it out too.
async fn a_project_without_a_field_gets_tickets_without_it(flavor: Flavor) {
    for missing in OPTIONAL_FIELDS {
        let mut config = FakeJiraConfig::default();
        config.fields_on_screen.retain(|f| f != missing);
        let fake = FakeJira::start_with(flavor, config).await;
        let jira = adapter(&fake);
        let content = content(flavor, 7);

        let (ticket, _) = jira
            .create(&content)
            .await
            .unwrap_or_else(|e| panic!("without {missing}: {e}"));
        jira.update(&ticket, &content)
            .await
            .unwrap_or_else(|e| panic!("without {missing}, the edit: {e}"));

        let issue = fake.snapshot(&ticket.key).expect("the issue");
        for field in OPTIONAL_FIELDS {
            assert_eq!(
                issue.fields.contains_key(field),
                field != missing,
                "without {missing}: {field} in {:?}",
                issue.fields.keys().collect::<Vec<_>>()
            );
        }
        fake.assert_no_violations();
    }
}

on_both_flavors!(screens_are_learnt_per_project_and_issue_type_and_cached);
/// One adapter filing into two projects (a repository's own, and the deployment's): each
/// project's screen is learnt once and applies to its own tickets only.
async fn screens_are_learnt_per_project_and_issue_type_and_cached(flavor: Flavor) {
    let mut config = FakeJiraConfig {
        other_projects: vec!["APPSEC".into()],
        ..FakeJiraConfig::default()
    };
    let mut without_due = config.fields_on_screen.clone();
    without_due.retain(|f| f != "duedate");
    config.screens.insert("APPSEC".into(), without_due);
    let fake = FakeJira::start_with(flavor, config).await;
    let jira = adapter(&fake);
    let in_sec = content(flavor, 7);
    let mut in_appsec = content(flavor, 8);
    in_appsec.group_key = GroupKey::from_stored("4242/code-scanning/rule:CodeQL:js/appsec");
    in_appsec.destination.project = Some("APPSEC".into());

    let mut keys = Vec::new();
    for content in [&in_sec, &in_appsec, &in_sec, &in_appsec] {
        let mut content = content.clone();
        content.group_key =
            GroupKey::from_stored(format!("{}:{}", content.group_key.as_str(), keys.len()));
        keys.push(jira.create(&content).await.unwrap().0.key);
    }

    assert_eq!(fake.count("GET", "/issue/createmeta/SEC/issuetypes"), 1);
    assert_eq!(fake.count("GET", "/issue/createmeta/APPSEC/issuetypes"), 1);
    assert_eq!(fake.count("GET", "/issue/createmeta/*/issuetypes/*"), 2);
    let due: Vec<bool> = keys
        .iter()
        .map(|k| fake.snapshot(k).unwrap().fields.contains_key("duedate"))
        .collect();
    assert_eq!(due, [true, false, true, false]);
    fake.assert_no_violations();

    // Cached for a while only: with no time to live, every create learns again.
    let eager = adapter(&fake).with_screen_ttl(Duration::ZERO);
    fake.clear_requests();
    for n in 0..2 {
        let mut content = in_sec.clone();
        content.group_key = GroupKey::from_stored(format!("4242/code-scanning/rule:x:{n}"));
        eager.create(&content).await.unwrap();
    }
    assert_eq!(fake.count("GET", "/issue/createmeta/SEC/issuetypes/*"), 2);
}

on_both_flavors!(a_screen_changed_meanwhile_is_learnt_again);
/// An admin takes the due date off the screen after scantix learnt it: the next create is refused
/// for that field, the screen is learnt again, and the create goes through without it.
async fn a_screen_changed_meanwhile_is_learnt_again(flavor: Flavor) {
    let fake = FakeJira::start(flavor).await;
    let jira = adapter(&fake);
    jira.create(&content(flavor, 7)).await.unwrap();
    let without_due = [
        "summary",
        "description",
        "issuetype",
        "project",
        "labels",
        "priority",
        "components",
        "assignee",
    ];
    fake.change_screen("SEC", &without_due);
    fake.clear_requests();

    let mut next = content(flavor, 8);
    next.group_key = GroupKey::from_stored("4242/code-scanning/rule:CodeQL:js/next");
    let (ticket, _) = jira.create(&next).await.unwrap();

    let statuses: Vec<(String, u16)> = fake
        .requests()
        .iter()
        .map(|r| (r.method.clone(), r.status))
        .collect();
    assert_eq!(
        statuses,
        [
            ("POST".to_owned(), 400),
            ("GET".to_owned(), 200),
            ("GET".to_owned(), 200),
            ("POST".to_owned(), 201)
        ]
    );
    assert!(
        !fake
            .snapshot(&ticket.key)
            .unwrap()
            .fields
            .contains_key("duedate")
    );
    // The one refused request is the one the change provoked.
    assert_eq!(fake.violations().len(), 1, "{:?}", fake.violations());
}

on_both_flavors!(the_due_date_goes_to_a_custom_field_or_nowhere);
/// `due-date-field` puts the SLA date in a custom date (or date-time) field, or turns it off.
async fn the_due_date_goes_to_a_custom_field_or_nowhere(flavor: Flavor) {
    for (kind, expected) in [
        ("date", json!("2025-04-01")),
        ("datetime", json!("2025-04-01T00:00:00.000+0000")),
    ] {
        let mut config = FakeJiraConfig::default();
        config.fields_on_screen.retain(|f| f != "duedate");
        config.fields_on_screen.push("customfield_10042".into());
        config.custom_fields.push(CustomField {
            id: "customfield_10042".into(),
            name: "Fix by".into(),
            kind: kind.into(),
        });
        let fake = FakeJira::start_with(flavor, config).await;
        let jira = adapter_with(&fake, |s| {
            s.due_date_field = Some("customfield_10042".into());
        });
        let (ticket, _) = jira.create(&content(flavor, 7)).await.unwrap();
        let fields = fake.snapshot(&ticket.key).unwrap().fields;
        assert_eq!(fields["customfield_10042"], expected, "{kind}");
        assert!(!fields.contains_key("duedate"));
        fake.assert_no_violations();
    }

    let fake = FakeJira::start(flavor).await;
    let jira = adapter_with(&fake, |s| s.due_date_field = Some("none".into()));
    let (ticket, _) = jira.create(&content(flavor, 7)).await.unwrap();
    assert!(
        !fake
            .snapshot(&ticket.key)
            .unwrap()
            .fields
            .contains_key("duedate")
    );
}

on_both_flavors!(a_required_field_scantix_does_not_fill_is_named_before_any_create);
/// A screen that requires a field scantix does not fill would refuse every create: the adapter
/// says so without sending one, naming the field and the setting to change.
async fn a_required_field_scantix_does_not_fill_is_named_before_any_create(flavor: Flavor) {
    let mut config = FakeJiraConfig::default();
    config.fields_on_screen.push("customfield_10050".into());
    config.required_fields.push("customfield_10050".into());
    config.custom_fields.push(CustomField {
        id: "customfield_10050".into(),
        name: "Team".into(),
        kind: "string".into(),
    });
    let fake = FakeJira::start_with(flavor, config).await;

    let err = adapter(&fake)
        .create(&content(flavor, 7))
        .await
        .unwrap_err();

    assert_eq!(setting_of(&err), "jira.issue-type", "{err}");
    let said = err.to_string();
    assert!(said.contains("Team (customfield_10050)"), "{said}");
    assert!(said.contains("default value"), "{said}");
    assert_eq!(
        fake.count("POST", "/issue"),
        0,
        "nothing sent that Jira would refuse"
    );

    // A required due date with the due date turned off names that setting.
    let mut config = FakeJiraConfig::default();
    config.required_fields.push("duedate".into());
    let fake = FakeJira::start_with(flavor, config).await;
    let jira = adapter_with(&fake, |s| s.due_date_field = Some("none".into()));
    let err = jira.create(&content(flavor, 7)).await.unwrap_err();
    assert_eq!(setting_of(&err), "jira.due-date-field", "{err}");
    fake.assert_no_violations();
}

on_both_flavors!(an_unknown_issue_type_names_jira_issue_type);
async fn an_unknown_issue_type_names_jira_issue_type(flavor: Flavor) {
    let fake = FakeJira::start(flavor).await;
    let jira = adapter_with(&fake, |s| s.issue_type = "Vulnerability".into());
    let err = jira.create(&content(flavor, 7)).await.unwrap_err();
    assert_eq!(setting_of(&err), "jira.issue-type", "{err}");
    assert!(err.to_string().contains("Bug, Task, Story"), "{err}");
    assert_eq!(fake.count("POST", "/issue"), 0);
    fake.assert_no_violations();
}

on_both_flavors!(bad_credentials_and_missing_issues_are_told_apart);
async fn bad_credentials_and_missing_issues_are_told_apart(flavor: Flavor) {
    let fake = FakeJira::start(flavor).await;
    let gone = TicketRef {
        tracker: "jira".into(),
        key: "SEC-404".into(),
        url: None,
    };
    let err = adapter(&fake)
        .update(&gone, &content(flavor, 7))
        .await
        .unwrap_err();
    assert!(
        matches!(err, TrackerError::NotFound(ref k) if k == "SEC-404"),
        "{err}"
    );

    let wrong = match flavor {
        Flavor::Cloud => JiraAuth::Cloud {
            email: CLOUD_EMAIL.into(),
            api_token: Secret::new("revoked"),
        },
        Flavor::DataCenter => JiraAuth::DataCenter {
            token: Secret::new("revoked"),
        },
    };
    let settings = adapter(&fake).settings().clone();
    let jira = JiraTracker::new(settings, wrong).unwrap();
    let err = jira.create(&content(flavor, 7)).await.unwrap_err();
    assert_eq!(setting_of(&err), "jira.auth");
    assert!(!err.to_string().contains("revoked"));
    let statuses: Vec<u16> = fake.requests().iter().map(|r| r.status).collect();
    assert_eq!(
        statuses,
        [200, 200, 404, 401],
        "the screen learnt, then neither is retried"
    );
    fake.assert_no_violations();
}

/// The Jira calls each tracker operation costs, printed for the record (`--nocapture`).
#[tokio::test]
async fn calls_per_operation() {
    for flavor in [Flavor::Cloud, Flavor::DataCenter] {
        let fake = FakeJira::start(flavor).await;
        let jira = adapter(&fake);
        let content = content(flavor, 7);
        let mut report = Vec::new();
        let mut measure = |name: &str, fake: &FakeJira| {
            report.push(format!("{name}={}", calls(fake).len()));
        };
        jira.find_by_group_key(&content.group_key).await.unwrap();
        measure("find(miss)", &fake);
        let (ticket, _) = jira.create(&content).await.unwrap();
        measure("create", &fake);
        jira.find_by_group_key(&content.group_key).await.unwrap();
        measure("find(hit)", &fake);
        jira.update(&ticket, &content).await.unwrap();
        measure("update", &fake);
        jira.comment(&ticket, "c-1", "text").await.unwrap();
        measure("comment", &fake);
        jira.comment(&ticket, "c-1", "text").await.unwrap();
        measure("comment(repeat)", &fake);
        jira.transition(&ticket, TicketState::InProgress)
            .await
            .unwrap();
        measure("transition", &fake);
        jira.transition(&ticket, TicketState::InProgress)
            .await
            .unwrap();
        measure("transition(no-op)", &fake);
        jira.transition(&ticket, TicketState::Stale).await.unwrap();
        measure("transition(stale)", &fake);
        jira.transition(&ticket, TicketState::Resolved)
            .await
            .unwrap();
        measure("transition(leaving stale)", &fake);
        println!("jira {flavor:?} calls: {}", report.join(", "));
        assert_eq!(
            report,
            [
                "find(miss)=2",
                // The first create learns the project's create screen (two calls, then cached).
                "create=3",
                "find(hit)=1",
                "update=1",
                "comment=2",
                "comment(repeat)=1",
                "transition=3",
                "transition(no-op)=1",
                "transition(stale)=1",
                "transition(leaving stale)=4"
            ]
        );
        fake.assert_no_violations();
    }
}

/// A fake Cloud Jira whose search shows new issues only after `lag`.
async fn lagging(lag: Duration, edit: impl FnOnce(&mut FakeJiraConfig)) -> FakeJira {
    let mut config = FakeJiraConfig {
        search_lag: lag,
        ..FakeJiraConfig::default()
    };
    edit(&mut config);
    FakeJira::start_with(Flavor::Cloud, config).await
}

/// Removes `label` from issue `key`, as a person editing it in Jira would.
async fn remove_label(fake: &FakeJira, key: &str, label: &str) {
    let url = format!(
        "{}{}/issue/{key}",
        fake.base_url(),
        fake.flavor().rest_base()
    );
    let status = reqwest::Client::new()
        .put(url)
        .header("authorization", fake.authorization())
        .json(&json!({ "update": { "labels": [{ "remove": label }] } }))
        .send()
        .await
        .expect("the fake Jira answers")
        .status();
    assert_eq!(status.as_u16(), 204);
}

// The answer of a create is in the group record, but the ticket is not (the store failed after
// it): the lookup names the issue in `reconcileIssues` and finds it at once, however far behind
// the search is. Where no search can match it (a property Jira does not index, and the group's
// label removed by someone), a read by id (consistent) still finds it; a deleted one is gone.
#[tokio::test]
async fn an_answered_create_is_found_at_once_through_reconcile_issues() {
    use scantix_core::chrono::Utc;
    use scantix_core::records::CreateAttempt;
    for searchable in [true, false] {
        let fake = lagging(Duration::from_secs(60), |config| {
            if !searchable {
                config.indexed_properties.clear();
            }
        })
        .await;
        let jira = adapter(&fake);
        let content = content(Flavor::Cloud, 7);
        let created = jira.create_with_receipt(&content).await.unwrap();
        if !searchable {
            remove_label(&fake, &created.ticket.key, &content.group_key.label()).await;
        }
        assert!(created.receipt.is_some(), "Jira's issue id");
        let attempt = CreateAttempt {
            sent_at: Utc::now(),
            answered: Some(created.clone()),
        };
        fake.clear_requests();

        let started = Instant::now();
        let found = jira
            .find_after(&content, &attempt, Utc::now())
            .await
            .unwrap();

        assert_eq!(
            found,
            Some(created.ticket.clone()),
            "searchable: {searchable}"
        );
        assert!(started.elapsed() < Duration::from_secs(5), "no waiting");
        let searches: Vec<Value> = fake
            .requests()
            .into_iter()
            .filter(|r| r.path.ends_with("/search/jql"))
            .filter_map(|r| r.body)
            .collect();
        let receipt: u64 = created.receipt.as_deref().unwrap().parse().unwrap();
        assert!(
            !searches.is_empty()
                && searches
                    .iter()
                    .all(|b| b["reconcileIssues"] == json!([receipt])),
            "{searches:?}"
        );
        assert_eq!(fake.issue_keys().len(), 1);
        fake.assert_no_violations();

        if !searchable {
            fake.delete_issue(&created.ticket.key);
            let gone = jira
                .find_after(&content, &attempt, Utc::now())
                .await
                .unwrap();
            assert_eq!(gone, None, "deleted meanwhile: a new one is due");
        }
    }
}

// A create was sent and nothing is known of its answer (the process died): the lookup searches
// until an issue it made must show (`search-consistency-secs` after the request), and stops as
// soon as it does; had nothing been created, it would find nothing by then.
#[tokio::test]
async fn an_unanswered_create_is_looked_for_until_the_search_must_show_it() {
    use scantix_core::chrono::Utc;
    use scantix_core::records::CreateAttempt;
    let fake = lagging(Duration::from_millis(1500), |_| {}).await;
    let jira = adapter_with(&fake, |s| s.search_consistency_secs = Some(4));
    let content = content(Flavor::Cloud, 7);
    let sent_at = Utc::now();
    let (made, _) = jira.create(&content).await.unwrap();
    let unanswered = CreateAttempt {
        sent_at,
        answered: None,
    };

    let started = Instant::now();
    let found = jira
        .find_after(&content, &unanswered, Utc::now())
        .await
        .unwrap();
    let waited = started.elapsed();

    assert_eq!(found, Some(made));
    assert!(
        waited >= Duration::from_millis(1000) && waited < Duration::from_secs(4),
        "until the index caught up, not the whole window: {waited:?}"
    );

    // Another group, never created: nothing, once the window is over.
    let other = self::content(Flavor::Cloud, 8);
    let mut other = other;
    other.group_key = GroupKey::from_stored("4242/code-scanning/rule:CodeQL:js/other");
    let started = Instant::now();
    let none = jira
        .find_after(
            &other,
            &CreateAttempt {
                sent_at: Utc::now(),
                answered: None,
            },
            Utc::now(),
        )
        .await
        .unwrap();
    assert_eq!(none, None);
    assert!(
        started.elapsed() >= Duration::from_secs(3),
        "the whole window"
    );
    fake.assert_no_violations();
}
