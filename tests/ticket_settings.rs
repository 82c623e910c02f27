//! A tracker event on a ticket is decided under the settings of the ticket's repository, as its
//! alerts are: `verify-closure`, `resolutions` and `recreate-deleted-tickets` from the
//! repository's `.github/scantix.yml` win over the deployment's configuration. Through the webhook
//! functions' handlers, the real adapters, a fake GitHub that serves the alerts, the settings file
//! and (for GitHub Issues) the tickets, and a fake Jira, each checking every request against the
//! vendor's OpenAPI description; scantix acts as the test App. The deployment keeps the built-in
//! defaults, so each repository's file says the opposite of what the deployment alone would do:
//! the Jira path for the first two settings, the `issues` path for the third.

use github_webhook::handle as handle_github;
use jira_webhook::handle as handle_jira;
use scantix_app::execute::Executor;
use scantix_app::ingest::jira::JiraAuthenticity;
use scantix_app::ingest::{GithubIngest, JiraIngest};
use scantix_app::repo_settings::{SettingsCache, SettingsSource};
use scantix_core::config::Config;
use scantix_core::finding::AlertKind;
use scantix_core::ports::github_clients::GitHubClients;
use scantix_core::ports::tracker::Tracker;
use scantix_core::secret::Secret;
use scantix_github::app_auth::{AppCredentials, InstallationTokens};
use scantix_github::clients::AppClients;
use scantix_github_issues::{GithubIssuesSettings, GithubIssuesTracker, IssuesAuth};
use scantix_jira::{self as jira, JiraAuth, JiraSettings, JiraTracker};
use scantix_tests::fake_github::{APP_ID, FakeGitHub, INSTALLATION_ID, app_private_key_pkcs1};
use scantix_tests::fake_jira::{self, CLOUD_API_TOKEN, CLOUD_EMAIL, FakeJira};
use scantix_tests::webhooks::{SECRET, delivery_request, fixture, octokit, varied};
use scantix_webhooks::signature::sign;
use serde_json::{Value, json};
use std::sync::Arc;
use std::time::Duration;

/// The repository of octokit's code scanning examples.
const OWNER: &str = "Codertocat";
const NAME: &str = "Hello-World";
const JIRA_SECRET: &str = "jira-webhook-secret";

/// Where the deployment files tickets.
enum Tracked {
    Jira,
    GithubIssues,
}

struct World {
    github: FakeGitHub,
    /// With `Tracked::Jira`.
    jira: Option<FakeJira>,
    github_ingest: GithubIngest,
    jira_ingest: JiraIngest,
}

/// A deployment with the default configuration, filing tickets in `tracked`, whose one repository
/// carries `settings` as its `.github/scantix.yml`.
async fn world(tracked: Tracked, settings: &str) -> World {
    let github = FakeGitHub::start().await;
    github.add_file(OWNER, NAME, ".github/scantix.yml", None, settings);
    let credentials = AppCredentials::new(APP_ID, Secret::new(app_private_key_pkcs1()));
    let tokens = Arc::new(InstallationTokens::new(&github.base_url(), &credentials).unwrap());
    let (tracker, jira): (Arc<dyn Tracker>, Option<FakeJira>) = match tracked {
        Tracked::Jira => {
            let jira = FakeJira::start(fake_jira::Flavor::Cloud).await;
            let settings = JiraSettings {
                request_timeout_secs: 2,
                ..JiraSettings::new(jira.base_url(), jira::Flavor::Cloud, "SEC")
            };
            let auth = JiraAuth::Cloud {
                email: CLOUD_EMAIL.into(),
                api_token: Secret::new(CLOUD_API_TOKEN),
            };
            let tracker = JiraTracker::new(settings, auth)
                .unwrap()
                .with_backoff_base(Duration::from_millis(5));
            (Arc::new(tracker), Some(jira))
        }
        Tracked::GithubIssues => {
            let tracker = GithubIssuesTracker::new(
                GithubIssuesSettings::default(),
                IssuesAuth::App(tokens.clone()),
            )
            .unwrap()
            .with_backoff_base(Duration::from_millis(5));
            (Arc::new(tracker), None)
        }
    };
    let clients: Arc<dyn GitHubClients> = Arc::new(AppClients::new(tokens));
    let store = Arc::new(scantix_core::memory::store::MemoryStore::new());
    let executor = Arc::new(
        Executor::new(store, tracker, Config::default()).with_github_clients(clients.clone()),
    );
    // As the worker wires them: one settings source for both ingests.
    let source = SettingsSource {
        clients,
        cache: SettingsCache::new(Duration::from_secs(300)),
    };
    let github_ingest =
        GithubIngest::new(Secret::new(SECRET), executor.clone()).with_settings(source);
    let shared = github_ingest
        .settings()
        .cloned()
        .expect("settings were given");
    let jira_ingest = JiraIngest::new(
        JiraAuthenticity::Signature(Secret::new(JIRA_SECRET)),
        executor,
    )
    .with_settings(shared);
    World {
        github,
        jira,
        github_ingest,
        jira_ingest,
    }
}

/// The real CodeQL `created` delivery as alert `number`, on the default branch (the bundled
/// policy tickets default-branch alerts), from the test App's installation.
fn created_alert(number: u64) -> Value {
    let on_master = json!([{
        "ref": "refs/heads/master",
        "state": "open",
        "location": { "path": "src/main/java/com/github/demo/service/BookService.java", "start_line": 84 }
    }]);
    let body = varied(
        &octokit("code_scanning_alert/created.payload.json"),
        &[
            ("installation.id", json!(INSTALLATION_ID)),
            ("alert.number", json!(number)),
            ("alert.instances", on_master),
            ("ref", json!("refs/heads/master")),
        ],
    );
    serde_json::from_slice(&body).unwrap()
}

fn answer_of(response: lambda_http::Response<lambda_http::Body>) -> (u16, Value) {
    let status = response.status().as_u16();
    (
        status,
        serde_json::from_slice(response.body().as_ref()).unwrap(),
    )
}

fn action_names(answer: &Value) -> Vec<String> {
    answer["outcome"]["actions"].as_array().map_or(vec![], |a| {
        a.iter()
            .map(|x| x["action"].as_str().unwrap_or_default().to_owned())
            .collect()
    })
}

impl World {
    fn jira(&self) -> &FakeJira {
        self.jira.as_ref().expect("a Jira world")
    }

    async fn send_github(&self, event: &str, delivery: &str, body: &Value) -> Value {
        let bytes = serde_json::to_vec(body).unwrap();
        let request = delivery_request(event, delivery, &bytes, None);
        let (status, answer) =
            answer_of(handle_github(&self.github_ingest, request).await.unwrap());
        assert_eq!(status, 200, "{event}: {answer}");
        answer
    }

    /// GitHub reports open alert `number`, which the fake GitHub then serves as open; it becomes
    /// the group's ticket.
    async fn open_alert(&self, number: u64, delivery: &str) {
        let payload = created_alert(number);
        let alert = payload["alert"].clone();
        self.github
            .add_alert(OWNER, NAME, AlertKind::CodeScanning, alert);
        let answer = self
            .send_github("code_scanning_alert", delivery, &payload)
            .await;
        assert_eq!(action_names(&answer), ["create_ticket"], "{answer}");
    }

    /// A Jira Cloud delivery, signed, with its webhook identifier.
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
        assert_eq!(status, 200, "{answer}");
        answer
    }

    /// GitHub's `issues` delivery for `action` on issue `number` by a person: octocrab's real
    /// delivery, with the issue as the fake GitHub has it.
    fn issues_delivery(&self, action: &str, number: u64) -> Value {
        let issue = self.github.issue_json(OWNER, NAME, number).unwrap();
        let created = created_alert(number);
        let mut edits: Vec<(String, Value)> = vec![
            ("action".into(), json!(action)),
            ("repository".into(), created["repository"].clone()),
            (
                "sender".into(),
                json!({"login": "octocat", "id": 583231, "type": "User"}),
            ),
            ("installation.id".into(), json!(INSTALLATION_ID)),
        ];
        for field in ["number", "title", "body", "state", "labels", "user"] {
            edits.push((format!("issue.{field}"), issue[field].clone()));
        }
        let edits: Vec<(&str, Value)> =
            edits.iter().map(|(f, v)| (f.as_str(), v.clone())).collect();
        let body = varied(
            &fixture("github-webhooks/octocrab/webhooks/issues_opened_webhook_event.json"),
            &edits,
        );
        serde_json::from_slice(&body).unwrap()
    }
}

#[tokio::test]
async fn the_repository_turns_closure_verification_off() {
    // The deployment verifies closures (the default); this repository trusts its people.
    assert!(Config::default().verify_closure);
    let w = world(Tracked::Jira, "verify-closure: false\n").await;
    w.open_alert(10, "gh-1").await;
    let key = w.jira().issue_keys()[0].clone();
    w.github.clear_requests();

    // A person closes the ticket while GitHub still reports the alert open.
    let done = w.jira().set_status(&key, "Done", Some("Done"));
    let answer = w.jira_delivery(&done, "jira-1").await;

    assert_eq!(action_names(&answer), ["ticket_moved"], "{answer}");
    assert_eq!(answer["outcome"]["ticket_state"], "resolved");
    assert_eq!(
        w.github.count("GET", "/repos/*/*/code-scanning/alerts/*"),
        0,
        "GitHub is not asked"
    );
    assert_eq!(
        w.jira().snapshot(&key).unwrap().category,
        fake_jira::Category::Done,
        "the ticket stays closed"
    );
    w.jira().assert_no_violations();
    w.github.assert_no_violations();
}

#[tokio::test]
async fn the_repository_resolutions_decide_what_dismisses_its_alerts() {
    // "Cannot Reproduce" is no dismissal in the deployment's (default) map; in this repository's
    // it means a false positive.
    assert_eq!(Config::default().dismissal_for("Cannot Reproduce"), None);
    let settings = "resolutions:\n  Cannot Reproduce: false-positive\n";
    let w = world(Tracked::Jira, settings).await;
    w.open_alert(10, "gh-1").await;
    let key = w.jira().issue_keys()[0].clone();

    let closed = w.jira().set_status(&key, "Done", Some("Cannot Reproduce"));
    let answer = w.jira_delivery(&closed, "jira-1").await;

    assert_eq!(action_names(&answer), ["dismiss_alerts"], "{answer}");
    let alert = w
        .github
        .alert(OWNER, NAME, AlertKind::CodeScanning, 10)
        .unwrap();
    assert_eq!(
        (&alert["state"], &alert["dismissed_reason"]),
        (&json!("dismissed"), &json!("false positive")),
        "{alert}"
    );
    w.jira().assert_no_violations();
    w.github.assert_no_violations();
}

#[tokio::test]
async fn the_repository_has_deleted_tickets_recreated() {
    // The deployment leaves a deleted ticket deleted (the default); this repository wants it back.
    assert!(!Config::default().recreate_deleted_tickets);
    let w = world(Tracked::GithubIssues, "recreate-deleted-tickets: true\n").await;
    w.open_alert(10, "gh-1").await;
    assert_eq!(w.github.issues(OWNER, NAME).len(), 1);

    // A person deletes the issue while its alert is still open.
    w.github.delete_issue(OWNER, NAME, 1);
    let deleted = w.issues_delivery("deleted", 1);
    let answer = w.send_github("issues", "issues-1", &deleted).await;

    assert_eq!(action_names(&answer), ["ticket_deleted"], "{answer}");
    assert_eq!(
        answer["outcome"]["ticket"]["key"], "codertocat/hello-world#2",
        "a new issue: {answer}"
    );
    let live: Vec<u64> = w
        .github
        .issues(OWNER, NAME)
        .iter()
        .filter(|i| !i.deleted)
        .map(|i| i.number)
        .collect();
    assert_eq!(live, [2]);
    w.github.assert_no_violations();
}
