//! The full round trip, through both webhook functions' handlers, the real Jira adapter and a fake
//! Jira that checks every request against Atlassian's OpenAPI description: a GitHub alert becomes
//! one Jira issue; closing it in Jira while GitHub still reports the alert open reopens it with a
//! comment; fixing the alert marks it stale; "Won't Do" dismisses the alert in GitHub.

use github_webhook::handle as handle_github;
use jira_webhook::handle as handle_jira;
use scantix_app::execute::Executor;
use scantix_app::ingest::jira::JiraAuthenticity;
use scantix_app::ingest::{GithubIngest, JiraIngest};
use scantix_core::config::Config;
use scantix_core::finding::{AlertKind, AlertState};
use scantix_core::memory::github::MemoryGitHub;
use scantix_core::memory::store::MemoryStore;
use scantix_core::ports::store::Store;
use scantix_core::secret::Secret;
use scantix_jira::{self as jira, JiraAuth, JiraSettings, JiraTracker};
use scantix_tests::crash::CrashAfterCreate;
use scantix_tests::fake_jira::{
    self, CLOUD_API_TOKEN, CLOUD_EMAIL, DC_PERSONAL_ACCESS_TOKEN, FakeJira,
};
use scantix_tests::webhooks::{delivery_request, octokit, varied};
use scantix_webhooks::signature::sign;
use serde_json::{Value, json};
use std::sync::Arc;
use std::time::Duration;

const JIRA_SECRET: &str = "jira-webhook-secret";
const REPO: u64 = 337911632;

struct World {
    jira: FakeJira,
    github: Arc<MemoryGitHub>,
    store: Arc<MemoryStore>,
    github_ingest: GithubIngest,
    jira_ingest: JiraIngest,
}

async fn world(flavor: fake_jira::Flavor) -> World {
    world_with(flavor, false).await
}

/// A world whose first ticket creation "crashes" right after Jira created the issue, if `crash`.
async fn world_with(flavor: fake_jira::Flavor, crash: bool) -> World {
    let jira = FakeJira::start(flavor).await;
    let (settings, auth) = match flavor {
        fake_jira::Flavor::Cloud => (
            JiraSettings::new(jira.base_url(), jira::Flavor::Cloud, "SEC"),
            JiraAuth::Cloud {
                email: CLOUD_EMAIL.into(),
                api_token: Secret::new(CLOUD_API_TOKEN),
            },
        ),
        fake_jira::Flavor::DataCenter => (
            JiraSettings::new(jira.base_url(), jira::Flavor::DataCenter, "SEC"),
            JiraAuth::DataCenter {
                token: Secret::new(DC_PERSONAL_ACCESS_TOKEN),
            },
        ),
    };
    let settings = JiraSettings {
        request_timeout_secs: 2,
        ..settings
    };
    let tracker = JiraTracker::new(settings, auth)
        .unwrap()
        .with_backoff_base(Duration::from_millis(5));
    let store = Arc::new(MemoryStore::new());
    let github = Arc::new(MemoryGitHub::new());
    let tracker: Arc<dyn scantix_core::ports::tracker::Tracker> = match crash {
        true => Arc::new(CrashAfterCreate::new(tracker)),
        false => Arc::new(tracker),
    };
    let executor = Arc::new(
        Executor::new(store.clone(), tracker, Config::default()).with_github(github.clone()),
    );
    World {
        jira,
        github,
        store,
        github_ingest: GithubIngest::new(
            Secret::new(scantix_tests::webhooks::SECRET),
            executor.clone(),
        ),
        jira_ingest: JiraIngest::new(
            JiraAuthenticity::Signature(Secret::new(JIRA_SECRET)),
            executor,
        ),
    }
}

/// A real code scanning delivery for alert `number`: the octokit example for that action, moved to
/// the repository, rule and location of the CodeQL `created` example so all describe one alert.
fn alert(action_file: &str, number: u64) -> Vec<u8> {
    let created: Value =
        serde_json::from_slice(&octokit("code_scanning_alert/created.payload.json")).unwrap();
    varied(
        &octokit(&format!("code_scanning_alert/{action_file}")),
        &[
            ("repository", created["repository"].clone()),
            ("alert.number", json!(number)),
            ("alert.rule", created["alert"]["rule"].clone()),
            ("alert.tool", created["alert"]["tool"].clone()),
            ("alert.instances", created["alert"]["instances"].clone()),
            // On the branch the alert was found on (octokit's `fixed` example is on a pull
            // request's merge ref, which leaves a ticket as it is until the merge).
            ("ref", created["ref"].clone()),
        ],
    )
}

fn answer_of(response: lambda_http::Response<lambda_http::Body>) -> (u16, Value) {
    let status = response.status().as_u16();
    (
        status,
        serde_json::from_slice(response.body().as_ref()).unwrap(),
    )
}

impl World {
    async fn github(&self, file: &str, number: u64, delivery: &str) -> Value {
        let body = alert(file, number);
        let response = handle_github(
            &self.github_ingest,
            delivery_request("code_scanning_alert", delivery, &body, None),
        )
        .await
        .unwrap();
        let (status, answer) = answer_of(response);
        assert_eq!(status, 200, "{file}: {answer}");
        answer
    }

    /// Sends a Jira delivery as Jira Cloud does: signed, with its webhook identifier.
    async fn jira_delivery(&self, body: &Value, id: &str) -> Value {
        let bytes = serde_json::to_vec(body).unwrap();
        let request = lambda_http::http::Request::builder()
            .method("POST")
            .uri("https://scantix.example/webhooks/jira")
            .header("x-hub-signature", sign(JIRA_SECRET.as_bytes(), &bytes))
            .header("x-atlassian-webhook-identifier", id)
            .body(lambda_http::Body::Binary(bytes))
            .unwrap();
        let (status, answer) = answer_of(handle_jira(&self.jira_ingest, request).await.unwrap());
        assert!(status == 200 || status == 202, "{answer}");
        answer
    }

    fn action_names(answer: &Value) -> Vec<String> {
        answer["outcome"]["actions"].as_array().map_or(vec![], |a| {
            a.iter()
                .map(|x| x["action"].as_str().unwrap().to_owned())
                .collect()
        })
    }

    fn calls(&self) -> usize {
        self.jira.requests().len()
    }
}

fn comment_text(comment: &Value) -> String {
    match comment {
        Value::String(s) => s.clone(),
        adf => adf.to_string(),
    }
}

async fn the_round_trip(flavor: fake_jira::Flavor) -> (usize, usize, usize) {
    let w = world(flavor).await;

    // A GitHub alert becomes one Jira issue.
    let created = w.github("created.payload.json", 10, "gh-1").await;
    assert_eq!(World::action_names(&created), ["create_ticket"]);
    let keys = w.jira.issue_keys();
    assert_eq!(keys.len(), 1);
    let key = keys[0].clone();
    let per_create = w.calls();
    let issue = w.jira.snapshot(&key).unwrap();
    assert!(
        issue.labels.contains(&"scantix".to_owned()),
        "{:?}",
        issue.labels
    );
    assert!(
        issue.properties.contains_key("scantix"),
        "the group key travels with the issue"
    );

    // A second alert of the same rule joins it; a redelivery changes nothing.
    w.jira.clear_requests();
    w.github("created.payload.json", 11, "gh-2").await;
    let per_join = w.calls();
    let duplicate = w.github("created.payload.json", 11, "gh-2").await;
    assert_eq!(duplicate["status"], "duplicate");
    assert_eq!(
        w.calls(),
        per_join,
        "a duplicate delivery makes no Jira call"
    );
    assert_eq!(w.jira.issue_keys().len(), 1);

    // Someone closes it in Jira, but GitHub still reports both alerts open: reopened, with a comment.
    let done = w.jira.set_status(&key, "Done", Some("Done"));
    let rejected = w.jira_delivery(&done, "jira-1").await;
    assert_eq!(
        World::action_names(&rejected),
        ["closure_rejected"],
        "{rejected}"
    );
    let issue = w.jira.snapshot(&key).unwrap();
    assert_ne!(
        issue.category,
        fake_jira::Category::Done,
        "reopened in Jira"
    );
    let last = comment_text(issue.comments.last().unwrap());
    assert!(
        last.contains("still reports 2 of its alerts open"),
        "{last}"
    );
    // Jira retries the same delivery: nothing happens twice.
    let again = w.jira_delivery(&done, "jira-1").await;
    assert_eq!(again["status"], "duplicate");
    assert_eq!(
        w.jira.snapshot(&key).unwrap().comments.len(),
        issue.comments.len()
    );

    // Both alerts get fixed: the issue is marked stale.
    w.github("fixed.payload.json", 10, "gh-3").await;
    let stale = w.github("fixed.payload.json", 11, "gh-4").await;
    assert!(
        World::action_names(&stale).contains(&"mark_ticket_stale".to_owned()),
        "{stale}"
    );
    let issue = w.jira.snapshot(&key).unwrap();
    assert!(
        issue.labels.contains(&jira::STALE_LABEL.to_owned()),
        "{:?}",
        issue.labels
    );

    // Now a person closes it, and GitHub agrees.
    w.github
        .set_state(REPO, AlertKind::CodeScanning, 10, AlertState::Fixed);
    w.github
        .set_state(REPO, AlertKind::CodeScanning, 11, AlertState::Fixed);
    let closed = w.jira.set_status(&key, "Done", Some("Done"));
    let resolved = w.jira_delivery(&closed, "jira-2").await;
    assert_eq!(
        resolved["outcome"]["ticket_state"], "resolved",
        "{resolved}"
    );
    assert_eq!(
        w.jira.snapshot(&key).unwrap().category,
        fake_jira::Category::Done
    );

    w.jira.assert_no_violations();
    let audit = w
        .store
        .audit_log(
            &w.store
                .group_for_ticket("jira", &key)
                .await
                .unwrap()
                .unwrap(),
        )
        .await
        .unwrap();
    let verbs: Vec<&str> = audit.iter().map(|a| a.action.as_str()).collect();
    assert!(
        verbs.contains(&"ticket.closure_rejected") && verbs.contains(&"ticket.resolved"),
        "{verbs:?}"
    );
    // Requests were cleared after the create: the round trip is both parts.
    (per_create, per_join, per_create + w.jira.requests().len())
}

#[tokio::test]
async fn round_trip_on_jira_cloud() {
    let (create, join, total) = the_round_trip(fake_jira::Flavor::Cloud).await;
    println!("jira_calls_per_ticket_created: {create}");
    println!("jira_calls_per_joining_finding: {join}");
    println!("jira_calls_per_round_trip: {total}");
}

#[tokio::test]
async fn round_trip_on_jira_data_center() {
    the_round_trip(fake_jira::Flavor::DataCenter).await;
}

#[tokio::test]
async fn wont_do_in_jira_dismisses_the_alert_in_github_and_the_echo_is_quiet() {
    let w = world(fake_jira::Flavor::Cloud).await;
    w.github("created.payload.json", 10, "gh-1").await;
    let key = w.jira.issue_keys()[0].clone();
    let wont = w.jira.set_status(&key, "Done", Some("Won't Do"));
    let answer = w.jira_delivery(&wont, "jira-1").await;
    assert_eq!(World::action_names(&answer), ["dismiss_alerts"], "{answer}");
    let dismissed = w.github.dismissed();
    assert_eq!(dismissed.len(), 1);
    assert_eq!(
        (dismissed[0].number, dismissed[0].reason),
        (10, "won't fix")
    );
    assert!(dismissed[0].comment.contains(&key));

    // GitHub then tells scantix the alert was dismissed: no comment goes back to Jira.
    let comments = w.jira.snapshot(&key).unwrap().comments.len();
    let echo = w.github("closed-by-user.payload.json", 10, "gh-2").await;
    assert_eq!(World::action_names(&echo), ["nothing"], "{echo}");
    assert_eq!(w.jira.snapshot(&key).unwrap().comments.len(), comments);
    w.jira.assert_no_violations();
}

#[tokio::test]
async fn a_crash_after_jira_created_the_issue_is_retried_without_a_second_issue() {
    let w = world_with(fake_jira::Flavor::Cloud, true).await;
    let body = alert("created.payload.json", 10);
    let response = handle_github(
        &w.github_ingest,
        delivery_request("code_scanning_alert", "gh-1", &body, None),
    )
    .await
    .unwrap();
    let (status, answer) = answer_of(response);
    assert_eq!(status, 503, "a retryable failure: {answer}");
    assert_eq!(w.jira.issue_keys().len(), 1, "Jira did create it");

    // The retry (SQS or a redelivery brings the same delivery) finds the issue by its group key.
    let retried = w.github("created.payload.json", 10, "gh-1").await;
    assert_eq!(w.jira.issue_keys().len(), 1, "no second issue");
    assert_eq!(
        retried["outcome"]["ticket"]["key"],
        w.jira.issue_keys()[0].as_str()
    );
    assert_eq!(retried["outcome"]["ticket_state"], "open");
    w.jira.assert_no_violations();
}

#[tokio::test]
async fn a_lost_response_to_the_create_call_still_yields_one_issue() {
    let w = world(fake_jira::Flavor::Cloud).await;
    // Jira creates the issue but its answer never arrives (the client times out).
    w.jira.inject_on(
        "POST",
        "/rest/api/3/issue",
        fake_jira::Fault::LostResponse(Duration::from_secs(4)),
        1,
    );
    let body = alert("created.payload.json", 10);
    let response = handle_github(
        &w.github_ingest,
        delivery_request("code_scanning_alert", "gh-1", &body, None),
    )
    .await
    .unwrap();
    if answer_of(response).0 != 200 {
        w.github("created.payload.json", 10, "gh-1").await;
    }
    assert_eq!(w.jira.issue_keys().len(), 1);
    w.jira.assert_no_violations();
}

#[tokio::test]
async fn a_jira_outage_leaves_the_work_queued_and_the_retry_completes_it() {
    let w = world(fake_jira::Flavor::Cloud).await;
    // Every attempt the adapter makes on the first call fails (it tries 4 times).
    w.jira.inject(fake_jira::Fault::Status(503), 4);
    let body = alert("created.payload.json", 10);
    let response = handle_github(
        &w.github_ingest,
        delivery_request("code_scanning_alert", "gh-1", &body, None),
    )
    .await
    .unwrap();
    assert_eq!(answer_of(response).0, 503);
    assert!(w.jira.issue_keys().is_empty());
    w.github("created.payload.json", 10, "gh-1").await;
    assert_eq!(w.jira.issue_keys().len(), 1);
}

#[tokio::test]
async fn real_jira_deliveries_for_untracked_issues_are_answered_and_ignored() {
    let w = world(fake_jira::Flavor::Cloud).await;
    let dir = scantix_tests::webhooks::fixture_path("jira-webhooks/mattermost-plugin-jira");
    for entry in std::fs::read_dir(dir).unwrap() {
        let path = entry.unwrap().path();
        if path.extension().is_none_or(|e| e != "json") {
            continue;
        }
        let body: Value = serde_json::from_slice(&std::fs::read(&path).unwrap()).unwrap();
        let answer = w.jira_delivery(&body, &path.display().to_string()).await;
        let reason = answer["reason"]
            .as_str()
            .or(answer["outcome"]["actions"][0]["reason"].as_str())
            .unwrap_or_default()
            .to_owned();
        assert!(!reason.is_empty(), "{}: {answer}", path.display());
    }
    assert!(
        w.jira.requests().is_empty(),
        "no Jira call for issues scantix does not track"
    );
}

#[tokio::test]
async fn a_jira_delivery_with_a_bad_signature_is_refused() {
    let w = world(fake_jira::Flavor::Cloud).await;
    let request = lambda_http::http::Request::builder()
        .method("POST")
        .uri("https://scantix.example/webhooks/jira")
        .header("x-hub-signature", "sha256=00")
        .body(lambda_http::Body::Binary(b"{}".to_vec()))
        .unwrap();
    let (status, _) = answer_of(handle_jira(&w.jira_ingest, request).await.unwrap());
    assert_eq!(status, 401);
}
