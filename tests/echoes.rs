//! Echoes of scantix's own tracker writes change nothing, whichever tracker and credential: Jira
//! Cloud (the API token's accountId), Jira Data Center (the personal access token's user name),
//! GitHub Issues as the App (`<slug>[bot]`) and with a token (the token's login). scantix learns
//! who it is from the tracker (`GET /myself`, `GET /app`, `GET /user` on the fakes, each request
//! checked against the vendor's OpenAPI description) once per process, and a tracker that cannot
//! say does not hold events up: they are decided without it, and it is asked again later.
//!
//! Each echo is one the stored state alone cannot tell from a person's change: it arrives after
//! the group moved on (webhooks come late and out of order), so without knowing scantix's account
//! it would be read as a person closing the ticket while GitHub still reports its alert open, and
//! scantix would reopen the ticket and comment on it.

use github_webhook::handle as handle_github;
use jira_webhook::handle as handle_jira;
use scantix_app::execute::{Executor, ExecutorSettings};
use scantix_app::ingest::jira::JiraAuthenticity;
use scantix_app::ingest::{GithubIngest, JiraIngest};
use scantix_core::config::Config;
use scantix_core::finding::AlertKind;
use scantix_core::identity::GroupKey;
use scantix_core::memory::github::MemoryGitHub;
use scantix_core::memory::store::MemoryStore;
use scantix_core::ports::github::GitHub;
use scantix_core::ports::store::Store;
use scantix_core::ports::tracker::Tracker;
use scantix_core::records::GroupRecord;
use scantix_core::secret::Secret;
use scantix_github::app_auth::{AppCredentials, InstallationTokens};
use scantix_github::clients::AppClients;
use scantix_github::rest::{RestAuth, RestGitHub};
use scantix_github_issues::{GithubIssuesSettings, GithubIssuesTracker, IssuesAuth};
use scantix_jira::{self as jira, JiraAuth, JiraSettings, JiraTracker};
use scantix_tests::fake_github::{
    APP_ID, APP_SLUG, FakeGitHub, INSTALLATION_ID, PLAIN_TOKEN, PLAIN_TOKEN_LOGIN,
    app_private_key_pkcs1,
};
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

/// The real CodeQL `created` delivery as alert `number`, from the test App's installation.
fn created_alert(number: u64) -> Value {
    let body = varied(
        &octokit("code_scanning_alert/created.payload.json"),
        &[
            ("installation.id", json!(INSTALLATION_ID)),
            ("alert.number", json!(number)),
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

/// Asserts that `answer` ignored the event as an echo.
fn assert_echo_ignored(answer: &Value) {
    assert_eq!(action_names(answer), ["ignored"], "{answer}");
    let reason = answer["outcome"]["actions"][0]["reason"]
        .as_str()
        .unwrap_or_default();
    assert!(reason.contains("echo"), "{answer}");
}

async fn send_github(ingest: &GithubIngest, event: &str, delivery: &str, body: &Value) -> Value {
    let bytes = serde_json::to_vec(body).unwrap();
    let request = delivery_request(event, delivery, &bytes, None);
    let (status, answer) = answer_of(handle_github(ingest, request).await.unwrap());
    assert_eq!(status, 200, "{event}: {answer}");
    answer
}

/// What a group is, for "nothing changed": its record and how many audit entries it has.
async fn group_state(store: &MemoryStore, tracker: &str, ticket: &str) -> (GroupRecord, usize) {
    let key: GroupKey = store
        .group_for_ticket(tracker, ticket)
        .await
        .unwrap()
        .expect("the ticket's group");
    let group = store.get_group(&key).await.unwrap().unwrap().value;
    let audit = store.audit_log(&key).await.unwrap().len();
    (group, audit)
}

// ----- Jira -----

struct JiraWorld {
    jira: FakeJira,
    store: Arc<MemoryStore>,
    github_ingest: GithubIngest,
    jira_ingest: JiraIngest,
}

/// A deployment on `flavor` whose tracker is asked again `retry` after failing to say who it is.
async fn jira_world(flavor: fake_jira::Flavor, retry: Duration) -> JiraWorld {
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
    // GitHub keeps reporting the alerts open, as the in-memory twin does until told otherwise.
    let github: Arc<dyn GitHub> = Arc::new(MemoryGitHub::new());
    let executor = Arc::new(
        Executor::new(store.clone(), Arc::new(tracker), Config::default())
            .with_github(github)
            .with_settings(ExecutorSettings {
                own_accounts_retry: retry,
                ..ExecutorSettings::default()
            }),
    );
    JiraWorld {
        jira,
        store,
        github_ingest: GithubIngest::new(Secret::new(SECRET), executor.clone()),
        jira_ingest: JiraIngest::new(
            JiraAuthenticity::Signature(Secret::new(JIRA_SECRET)),
            executor,
        ),
    }
}

impl JiraWorld {
    /// Alert `number` becomes a Jira issue; returns its key.
    async fn ticket(&self, number: u64) -> String {
        let answer = send_github(
            &self.github_ingest,
            "code_scanning_alert",
            &format!("gh-{number}"),
            &created_alert(number),
        )
        .await;
        assert_eq!(action_names(&answer), ["create_ticket"], "{answer}");
        self.jira.issue_keys().last().unwrap().clone()
    }

    async fn deliver(&self, body: &Value, id: &str) -> Value {
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

    /// Jira's delivery of scantix (the credentials' account) closing issue `key`, arriving late:
    /// the issue itself is left open, as it is again by the time such an echo arrives.
    fn late_echo_of_a_close(&self, key: &str) -> Value {
        let echo = self
            .jira
            .set_status_by(Actor::Scantix, key, "Done", Some("Done"));
        self.jira.set_status(key, "To Do", None);
        echo
    }

    /// Jira calls other than `GET /myself`: what an echo must not cause.
    fn writes_and_reads(&self) -> Vec<String> {
        self.jira
            .requests()
            .iter()
            .filter(|r| !r.path.ends_with("/myself"))
            .map(|r| format!("{} {}", r.method, r.path))
            .collect()
    }
}

async fn an_echo_on_jira_changes_nothing(flavor: fake_jira::Flavor) {
    let w = jira_world(flavor, Duration::from_secs(60)).await;
    let key = w.ticket(10).await;
    let before = group_state(&w.store, "jira", &key).await;
    w.jira.clear_requests();

    let echo = w.late_echo_of_a_close(&key);
    let answer = w.deliver(&echo, "jira-echo-1").await;

    assert_echo_ignored(&answer);
    assert_eq!(group_state(&w.store, "jira", &key).await, before);
    assert_eq!(w.writes_and_reads(), Vec::<String>::new(), "no Jira call");
    assert_eq!(w.jira.count("GET", "/myself"), 1);

    // A second echo: scantix already knows who it is.
    let again = w
        .jira
        .set_status_by(Actor::Scantix, &key, "In Progress", None);
    assert_echo_ignored(&w.deliver(&again, "jira-echo-2").await);
    assert_eq!(w.jira.count("GET", "/myself"), 1, "asked once per process");
    assert_eq!(group_state(&w.store, "jira", &key).await, before);

    // The same move by a person is acted on: the echo was told apart by who made it.
    let person = w.jira.set_status(&key, "Done", Some("Done"));
    let acted = w.deliver(&person, "jira-person-1").await;
    assert_eq!(action_names(&acted), ["closure_rejected"], "{acted}");
    w.jira.assert_no_violations();
}

#[tokio::test]
async fn an_echo_on_jira_cloud_changes_nothing() {
    an_echo_on_jira_changes_nothing(fake_jira::Flavor::Cloud).await;
}

#[tokio::test]
async fn an_echo_on_jira_data_center_changes_nothing() {
    an_echo_on_jira_changes_nothing(fake_jira::Flavor::DataCenter).await;
}

#[tokio::test]
async fn jira_failing_to_say_who_scantix_is_holds_nothing_up_and_is_asked_again() {
    // No pause between asks, so the second event asks again.
    let w = jira_world(fake_jira::Flavor::Cloud, Duration::ZERO).await;
    let key = w.ticket(10).await;
    // Every attempt the adapter makes at `GET /myself` fails (it tries 4 times).
    w.jira
        .inject_on("GET", "/myself", fake_jira::Fault::Status(503), 4);

    let echo = w.late_echo_of_a_close(&key);
    let answer = w.deliver(&echo, "jira-echo-1").await;
    // Processed, without knowing it is an echo: read as a person's closure, as before scantix
    // knew its own account.
    assert_eq!(action_names(&answer), ["closure_rejected"], "{answer}");
    let asked = w.jira.count("GET", "/myself");
    assert_eq!(asked, 4);

    // Jira is back: the next event asks again, and its echo is recognised.
    let before = group_state(&w.store, "jira", &key).await;
    let echo = w
        .jira
        .set_status_by(Actor::Scantix, &key, "Done", Some("Done"));
    assert_echo_ignored(&w.deliver(&echo, "jira-echo-2").await);
    assert_eq!(w.jira.count("GET", "/myself"), asked + 1);
    assert_eq!(group_state(&w.store, "jira", &key).await, before);
    w.jira.assert_no_violations();
}

// ----- GitHub Issues -----

struct IssuesWorld {
    github: FakeGitHub,
    store: Arc<MemoryStore>,
    ingest: GithubIngest,
}

/// How scantix acts on GitHub.
enum Credential {
    App,
    Token,
}

async fn issues_world(credential: Credential) -> IssuesWorld {
    let github = FakeGitHub::start().await;
    let store = Arc::new(MemoryStore::new());
    let executor = match credential {
        Credential::App => {
            let credentials = AppCredentials::new(APP_ID, Secret::new(app_private_key_pkcs1()));
            let tokens =
                Arc::new(InstallationTokens::new(&github.base_url(), &credentials).unwrap());
            let tracker = GithubIssuesTracker::new(
                GithubIssuesSettings::default(),
                IssuesAuth::App(tokens.clone()),
            )
            .unwrap();
            Executor::new(store.clone(), Arc::new(tracker), Config::default())
                .with_github_clients(Arc::new(AppClients::new(tokens)))
        }
        Credential::Token => {
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
            Executor::new(store.clone(), Arc::new(tracker), Config::default())
                .with_github(Arc::new(rest))
        }
    };
    IssuesWorld {
        github,
        store,
        ingest: GithubIngest::new(Secret::new(SECRET), Arc::new(executor)),
    }
}

impl IssuesWorld {
    /// Alert `number`, open in GitHub, becomes issue #1.
    async fn ticket(&self, number: u64) -> String {
        let payload = created_alert(number);
        self.github.add_alert(
            OWNER,
            NAME,
            AlertKind::CodeScanning,
            payload["alert"].clone(),
        );
        let answer = send_github(&self.ingest, "code_scanning_alert", "gh-1", &payload).await;
        assert_eq!(action_names(&answer), ["create_ticket"], "{answer}");
        assert_eq!(
            answer["outcome"]["ticket"]["key"],
            "codertocat/hello-world#1"
        );
        "codertocat/hello-world#1".to_owned()
    }

    /// GitHub's `closed` delivery for issue #1 by `sender`, the issue opened by `author`:
    /// octocrab's real `issues` delivery with the issue as the fake GitHub has it. The issue is
    /// left open in the fake: the echo arrives after it was reopened.
    fn late_close_by(&self, sender: &str, author: &str) -> Value {
        self.github
            .set_issue_state(OWNER, NAME, 1, Some("completed"));
        let issue = self.github.issue_json(OWNER, NAME, 1).unwrap();
        self.github.set_issue_state(OWNER, NAME, 1, None);
        let kind = if sender.ends_with("[bot]") {
            "Bot"
        } else {
            "User"
        };
        let mut edits: Vec<(String, Value)> = vec![
            ("action".into(), json!("closed")),
            ("repository".into(), created_alert(1)["repository"].clone()),
            (
                "sender".into(),
                json!({"login": sender, "id": 9001, "type": kind}),
            ),
            ("installation.id".into(), json!(INSTALLATION_ID)),
        ];
        for field in ["number", "title", "body", "state", "state_reason", "labels"] {
            edits.push((format!("issue.{field}"), issue[field].clone()));
        }
        edits.push((
            "issue.user".into(),
            json!({"login": author, "id": 9002, "type": if author.ends_with("[bot]") { "Bot" } else { "User" }}),
        ));
        let edits: Vec<(&str, Value)> =
            edits.iter().map(|(f, v)| (f.as_str(), v.clone())).collect();
        let body = varied(
            &fixture("github-webhooks/octocrab/webhooks/issues_opened_webhook_event.json"),
            &edits,
        );
        serde_json::from_slice(&body).unwrap()
    }

    /// GitHub calls other than asking who is calling and minting tokens.
    fn calls_about_work(&self) -> Vec<String> {
        self.github
            .requests()
            .iter()
            .filter(|r| !matches!(r.path.as_str(), "/app" | "/user"))
            .filter(|r| !r.path.ends_with("/access_tokens") && !r.path.ends_with("/installation"))
            .map(|r| format!("{} {}", r.method, r.path))
            .collect()
    }
}

#[tokio::test]
async fn an_echo_on_github_issues_as_the_app_changes_nothing() {
    let w = issues_world(Credential::App).await;
    let key = w.ticket(10).await;
    let before = group_state(&w.store, "github", &key).await;
    w.github.clear_requests();

    // The App's bot closes a ticket it did not open (one a local run opened with a token, adopted
    // by its group label and marker), so the `issues` parser cannot tell by the author alone.
    let bot = format!("{APP_SLUG}[bot]");
    let echo = w.late_close_by(&bot, PLAIN_TOKEN_LOGIN);
    let answer = send_github(&w.ingest, "issues", "issues-echo-1", &echo).await;

    assert_echo_ignored(&answer);
    assert_eq!(group_state(&w.store, "github", &key).await, before);
    assert_eq!(w.calls_about_work(), Vec::<String>::new(), "no GitHub call");
    assert_eq!(w.github.count("GET", "/app"), 1);
    w.github.assert_no_violations();
}

#[tokio::test]
async fn an_echo_on_github_issues_with_a_token_changes_nothing() {
    let w = issues_world(Credential::Token).await;
    let key = w.ticket(10).await;
    let before = group_state(&w.store, "github", &key).await;
    w.github.clear_requests();

    // With a token, scantix writes as the token's user: a `User`, not a bot.
    let echo = w.late_close_by(PLAIN_TOKEN_LOGIN, PLAIN_TOKEN_LOGIN);
    let answer = send_github(&w.ingest, "issues", "issues-echo-1", &echo).await;

    assert_echo_ignored(&answer);
    assert_eq!(group_state(&w.store, "github", &key).await, before);
    assert_eq!(w.calls_about_work(), Vec::<String>::new(), "no GitHub call");
    assert_eq!(w.github.count("GET", "/user"), 1);

    // The same close by a person is acted on.
    let person = w.late_close_by("octocat", PLAIN_TOKEN_LOGIN);
    let acted = send_github(&w.ingest, "issues", "issues-person-1", &person).await;
    assert_eq!(action_names(&acted), ["closure_rejected"], "{acted}");
    assert_eq!(w.github.count("GET", "/user"), 1, "asked once per process");
    w.github.assert_no_violations();
}

#[tokio::test]
async fn the_app_bot_and_the_token_user_are_who_github_says() {
    // GitHub names the App's bot account after its slug, and a token's user by login; an
    // installation token is not a user (GitHub refuses it `GET /user`).
    let github = FakeGitHub::start().await;
    let credentials = AppCredentials::new(APP_ID, Secret::new(app_private_key_pkcs1()));
    let tokens = Arc::new(InstallationTokens::new(&github.base_url(), &credentials).unwrap());
    let as_app =
        GithubIssuesTracker::new(GithubIssuesSettings::default(), IssuesAuth::App(tokens)).unwrap();
    assert_eq!(as_app.own_accounts().await.unwrap(), ["scantix[bot]"]);
    let as_user = GithubIssuesTracker::new(
        GithubIssuesSettings::default(),
        IssuesAuth::Token {
            base_url: github.base_url(),
            token: Secret::new(PLAIN_TOKEN),
        },
    )
    .unwrap();
    assert_eq!(as_user.own_accounts().await.unwrap(), [PLAIN_TOKEN_LOGIN]);
    let wrong = GithubIssuesTracker::new(
        GithubIssuesSettings::default(),
        IssuesAuth::Token {
            base_url: github.base_url(),
            token: Secret::new("ghp_not_a_token_the_fake_knows"),
        },
    )
    .unwrap();
    let refused = wrong.own_accounts().await.unwrap_err().to_string();
    assert!(refused.contains("github-issues.token"), "{refused}");
    github.assert_no_violations();
}
