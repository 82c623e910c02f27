//! Assignees both ways, through the webhook handlers, the real adapters and the vendor fakes (each
//! request checked against Atlassian's or GitHub's OpenAPI description):
//! - an alert assigned in GitHub (`code_scanning_alert` `updated_assignment`) assigns its ticket,
//!   through the owners map (`@login` → Jira accountId);
//! - a ticket assigned in the tracker (Jira's `assignee` changelog, GitHub Issues' `assigned`)
//!   assigns its open alerts in GitHub (`PATCH` with `assignees`), the owners map read backwards;
//! - the echoes of those writes (scantix's account in Jira, GitHub's delivery of the alert
//!   scantix assigned) change nothing and call nobody.

use github_webhook::handle as handle_github;
use jira_webhook::handle as handle_jira;
use scantix_app::execute::Executor;
use scantix_app::ingest::jira::JiraAuthenticity;
use scantix_app::ingest::{GithubIngest, JiraIngest};
use scantix_core::config::Config;
use scantix_core::finding::AlertKind;
use scantix_core::identity::GroupKey;
use scantix_core::memory::store::MemoryStore;
use scantix_core::ports::store::Store;
use scantix_core::secret::Secret;
use scantix_github::rest::{RestAuth, RestGitHub};
use scantix_github_issues::{GithubIssuesSettings, GithubIssuesTracker, IssuesAuth};
use scantix_jira::{self as jira, JiraAuth, JiraSettings, JiraTracker};
use scantix_tests::fake_github::{FakeGitHub, PLAIN_TOKEN};
use scantix_tests::fake_jira::{
    self, Actor, CLOUD_API_TOKEN, CLOUD_EMAIL, DC_PERSONAL_ACCESS_TOKEN, FakeJira,
};
use scantix_tests::webhooks::{SECRET, delivery_request, fixture, octokit, varied};
use scantix_webhooks::signature::sign;
use serde_json::{Value, json};
use std::sync::Arc;
use std::time::Duration;

const OWNER: &str = "Codertocat";
const NAME: &str = "Hello-World";
const JIRA_SECRET: &str = "jira-webhook-secret";
const ALERT: u64 = 10;

/// The real CodeQL `created` delivery as alert `ALERT`.
fn created_alert() -> Value {
    let body = varied(
        &octokit("code_scanning_alert/created.payload.json"),
        &[("alert.number", json!(ALERT))],
    );
    serde_json::from_slice(&body).unwrap()
}

/// GitHub's `updated_assignment` delivery for the alert as `alert` now is, sent by `sender`.
fn assignment_delivery(alert: &Value, sender: &str) -> Value {
    let mut payload = created_alert();
    payload["action"] = json!("updated_assignment");
    payload["alert"] = alert.clone();
    let kind = if sender.ends_with("[bot]") {
        "Bot"
    } else {
        "User"
    };
    payload["sender"] = json!({"login": sender, "id": 9001, "type": kind});
    payload
}

fn answer_of(response: lambda_http::Response<lambda_http::Body>) -> (u16, Value) {
    let status = response.status().as_u16();
    (
        status,
        serde_json::from_slice(response.body().as_ref()).unwrap(),
    )
}

async fn send_github(ingest: &GithubIngest, event: &str, delivery: &str, body: &Value) -> Value {
    let bytes = serde_json::to_vec(body).unwrap();
    let request = delivery_request(event, delivery, &bytes, None);
    let (status, answer) = answer_of(handle_github(ingest, request).await.unwrap());
    assert_eq!(status, 200, "{event}: {answer}");
    answer
}

/// The audit actions of `ticket`'s group, in order.
async fn audit_actions(store: &MemoryStore, tracker: &str, ticket: &str) -> Vec<String> {
    let key: GroupKey = store
        .group_for_ticket(tracker, ticket)
        .await
        .unwrap()
        .expect("the ticket's group");
    store
        .audit_log(&key)
        .await
        .unwrap()
        .into_iter()
        .map(|e| e.action)
        .collect()
}

/// Calls to GitHub that assign alerts (PATCHes of alerts).
fn alert_patches(github: &FakeGitHub) -> Vec<Value> {
    github
        .requests()
        .into_iter()
        .filter(|r| r.method == "PATCH" && r.path.contains("/code-scanning/alerts/"))
        .map(|r| r.body.unwrap_or(Value::Null))
        .collect()
}

// ----- Jira Cloud -----

struct JiraWorld {
    jira: FakeJira,
    github: FakeGitHub,
    store: Arc<MemoryStore>,
    github_ingest: GithubIngest,
    jira_ingest: JiraIngest,
}

async fn jira_world(flavor: fake_jira::Flavor) -> JiraWorld {
    let jira = FakeJira::start(flavor).await;
    let github = FakeGitHub::start().await;
    github.add_alert(
        OWNER,
        NAME,
        AlertKind::CodeScanning,
        created_alert()["alert"].clone(),
    );
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
    let rest = RestGitHub::new(
        &github.base_url(),
        RestAuth::Token(Secret::new(PLAIN_TOKEN)),
    )
    .unwrap();
    // The repository's owners map: who is who in GitHub and in Jira.
    let config = Config {
        owners: [
            ("@octo-dev", "acc-octo-dev"),
            ("@carol", "acc-carol"),
            ("@acme/web", "acc-web-lead"),
        ]
        .into_iter()
        .map(|(k, v)| (k.to_owned(), v.to_owned()))
        .collect(),
        ..Config::default()
    };
    let store = Arc::new(MemoryStore::new());
    let executor = Arc::new(
        Executor::new(store.clone(), Arc::new(tracker), config).with_github(Arc::new(rest)),
    );
    JiraWorld {
        jira,
        github,
        store,
        github_ingest: GithubIngest::new(Secret::new(SECRET), executor.clone()),
        jira_ingest: JiraIngest::new(
            JiraAuthenticity::Signature(Secret::new(JIRA_SECRET)),
            executor,
        ),
    }
}

impl JiraWorld {
    async fn deliver_jira(&self, body: &Value, id: &str) -> Value {
        let bytes = serde_json::to_vec(body).unwrap();
        let request = lambda_http::http::Request::builder()
            .method("POST")
            .uri("https://scantix.example/webhooks/jira")
            .header("x-hub-signature", sign(JIRA_SECRET.as_bytes(), &bytes))
            .header("x-atlassian-webhook-identifier", id)
            .body(lambda_http::Body::Binary(bytes))
            .unwrap();
        let (status, answer) = answer_of(handle_jira(&self.jira_ingest, request).await.unwrap());
        assert_eq!(status, 200, "{answer}");
        answer
    }

    /// The alert as the fake GitHub has it now.
    fn alert(&self) -> Value {
        self.github
            .alert(OWNER, NAME, AlertKind::CodeScanning, ALERT)
            .unwrap()
    }

    fn jira_writes(&self) -> Vec<String> {
        self.jira
            .requests()
            .iter()
            .filter(|r| r.method != "GET")
            .map(|r| format!("{} {}", r.method, r.path))
            .collect()
    }
}

#[tokio::test]
async fn assignments_travel_between_github_alerts_and_jira_cloud_issues_and_echoes_stop() {
    assignments_travel_between_github_alerts_and_jira_issues(fake_jira::Flavor::Cloud).await;
}

/// Data Center names users by user name, in the assignee field and in the changelog alike.
#[tokio::test]
async fn assignments_travel_between_github_alerts_and_jira_data_center_issues_and_echoes_stop() {
    assignments_travel_between_github_alerts_and_jira_issues(fake_jira::Flavor::DataCenter).await;
}

async fn assignments_travel_between_github_alerts_and_jira_issues(flavor: fake_jira::Flavor) {
    let w = jira_world(flavor).await;
    let answer = send_github(
        &w.github_ingest,
        "code_scanning_alert",
        "gh-1",
        &created_alert(),
    )
    .await;
    assert_eq!(answer["outcome"]["ticket"]["key"], "SEC-1", "{answer}");
    let key = "SEC-1";
    assert_eq!(w.jira.assignee(key), None);

    // GitHub → Jira: a person assigns the alert to @octo-dev; the issue goes to their account.
    let mut alert = w.alert();
    alert["assignees"] = json!([{"login": "octo-dev", "id": 7, "type": "User"}]);
    // Later than the alert's creation, earlier than anything the fake GitHub stamps now.
    alert["updated_at"] = json!("2026-01-01T00:00:00Z");
    w.jira.clear_requests();
    send_github(
        &w.github_ingest,
        "code_scanning_alert",
        "gh-2",
        &assignment_delivery(&alert, "octocat"),
    )
    .await;
    assert_eq!(w.jira.assignee(key).as_deref(), Some("acc-octo-dev"));
    let api = match flavor {
        fake_jira::Flavor::Cloud => "/rest/api/3",
        fake_jira::Flavor::DataCenter => "/rest/api/2",
    };
    assert_eq!(w.jira_writes(), [format!("PUT {api}/issue/SEC-1")]);
    assert!(
        alert_patches(&w.github).is_empty(),
        "nothing sent back to GitHub"
    );

    // Its echo in Jira (scantix's own account assigned the issue) changes nothing.
    w.jira.clear_requests();
    let echo = w.jira.assign_by(Actor::Scantix, key, Some("acc-octo-dev"));
    let answer = w.deliver_jira(&echo, "jira-1").await;
    assert_eq!(
        answer["outcome"]["actions"][0]["action"], "ignored",
        "{answer}"
    );
    assert!(w.jira_writes().is_empty());
    assert!(alert_patches(&w.github).is_empty());

    // Jira → GitHub: a person reassigns the issue to Carol; the alert goes to @carol.
    let person = w.jira.assign_by(Actor::Person, key, Some("acc-carol"));
    w.deliver_jira(&person, "jira-2").await;
    assert_eq!(alert_patches(&w.github), [json!({"assignees": ["carol"]})]);
    let assigned = w.alert();
    assert_eq!(assigned["assignees"][0]["login"], "carol", "{assigned}");

    // GitHub's delivery of that assignment (sent by scantix's App) is an echo: no Jira call.
    w.jira.clear_requests();
    let answer = send_github(
        &w.github_ingest,
        "code_scanning_alert",
        "gh-3",
        &assignment_delivery(&assigned, "scantix[bot]"),
    )
    .await;
    assert!(w.jira_writes().is_empty(), "{answer}");
    // Decided on its content (the ticket already has Carol), not dropped as out of date.
    let outcome = &answer["outcome"]["actions"][0];
    assert_eq!(outcome["action"], "nothing", "{answer}");
    assert_eq!(outcome["reason"], "already known in this state", "{answer}");
    assert_eq!(w.jira.assignee(key).as_deref(), Some("acc-carol"));

    // Someone the owners map names as no GitHub user: the alerts keep their assignee, and the
    // audit log says how to fix the map.
    let stranger = w.jira.assign_by(Actor::Person, key, Some("acc-stranger"));
    w.deliver_jira(&stranger, "jira-3").await;
    assert_eq!(alert_patches(&w.github).len(), 1, "no second PATCH");

    // Unassigned in Jira: the alert is unassigned in GitHub.
    let nobody = w.jira.assign_by(Actor::Person, key, None);
    w.deliver_jira(&nobody, "jira-4").await;
    assert_eq!(
        alert_patches(&w.github).last(),
        Some(&json!({"assignees": []}))
    );
    assert_eq!(w.alert()["assignees"], json!([]));

    let actions = audit_actions(&w.store, "jira", key).await;
    for expected in ["ticket.assigned", "alerts.assigned", "assignment.skipped"] {
        assert!(
            actions.iter().any(|a| a == expected),
            "{expected}: {actions:?}"
        );
    }
    w.jira.assert_no_violations();
    w.github.assert_no_violations();
}

// ----- GitHub Issues -----

#[tokio::test]
async fn in_github_issues_logins_are_assignees_both_ways() {
    let github = FakeGitHub::start().await;
    github.add_alert(
        OWNER,
        NAME,
        AlertKind::CodeScanning,
        created_alert()["alert"].clone(),
    );
    let token = || Secret::new(PLAIN_TOKEN);
    let tracker = GithubIssuesTracker::new(
        GithubIssuesSettings::default(),
        IssuesAuth::Token {
            base_url: github.base_url(),
            token: token(),
        },
    )
    .unwrap();
    let rest = RestGitHub::new(&github.base_url(), RestAuth::Token(token())).unwrap();
    let store = Arc::new(MemoryStore::new());
    // No owners map: in GitHub Issues a tracker user is a login.
    let executor = Executor::new(store.clone(), Arc::new(tracker), Config::default())
        .with_github(Arc::new(rest));
    let ingest = GithubIngest::new(Secret::new(SECRET), Arc::new(executor));
    let answer = send_github(&ingest, "code_scanning_alert", "gh-1", &created_alert()).await;
    let ticket = answer["outcome"]["ticket"]["key"]
        .as_str()
        .unwrap()
        .to_owned();
    assert_eq!(ticket, "codertocat/hello-world#1");

    // The alert assigned in GitHub: the issue is assigned to the same login.
    let mut alert = github
        .alert(OWNER, NAME, AlertKind::CodeScanning, ALERT)
        .unwrap();
    alert["assignees"] = json!([{"login": "octo-dev", "id": 7, "type": "User"}]);
    // Later than the alert's creation, earlier than anything the fake GitHub stamps now.
    alert["updated_at"] = json!("2026-01-01T00:00:00Z");
    send_github(
        &ingest,
        "code_scanning_alert",
        "gh-2",
        &assignment_delivery(&alert, "octocat"),
    )
    .await;
    assert_eq!(
        github.issue(OWNER, NAME, 1).unwrap().assignees,
        ["octo-dev"]
    );

    // A person assigns the issue to carol: GitHub's real `issues` delivery, as `assigned`.
    let issue = github.issue_json(OWNER, NAME, 1).unwrap();
    let mut edits: Vec<(String, Value)> = vec![
        ("action".into(), json!("assigned")),
        ("repository".into(), created_alert()["repository"].clone()),
        (
            "sender".into(),
            json!({"login": "ada", "id": 9001, "type": "User"}),
        ),
        (
            "assignee".into(),
            json!({"login": "carol", "id": 9003, "type": "User"}),
        ),
    ];
    for field in [
        "number",
        "title",
        "body",
        "state",
        "state_reason",
        "labels",
        "user",
    ] {
        edits.push((format!("issue.{field}"), issue[field].clone()));
    }
    edits.push((
        "issue.assignees".into(),
        json!([{"login": "carol", "id": 9003, "type": "User"}]),
    ));
    let edits: Vec<(&str, Value)> = edits.iter().map(|(f, v)| (f.as_str(), v.clone())).collect();
    let delivery = varied(
        &fixture("github-webhooks/octocrab/webhooks/issues_opened_webhook_event.json"),
        &edits,
    );
    let delivery: Value = serde_json::from_slice(&delivery).unwrap();
    send_github(&ingest, "issues", "gh-3", &delivery).await;
    assert_eq!(alert_patches(&github), [json!({"assignees": ["carol"]})]);
    let alert = github
        .alert(OWNER, NAME, AlertKind::CodeScanning, ALERT)
        .unwrap();
    assert_eq!(alert["assignees"][0]["login"], "carol");

    let actions = audit_actions(&store, "github", &ticket).await;
    assert!(
        actions.iter().filter(|a| *a == "ticket.assigned").count() >= 2,
        "{actions:?}"
    );
    github.assert_no_violations();
}
