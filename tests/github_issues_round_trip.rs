//! The full round trip with GitHub Issues as the tracker, through the GitHub webhook function's
//! handler, the real adapter, and one fake GitHub that serves both the alerts and the issues and
//! checks every request against GitHub's REST description; scantix acts as the test App
//! (installation looked up, tokens minted). The scenarios of `jira_round_trip.rs`: a GitHub alert
//! becomes one issue; closing it while GitHub still reports the alert open reopens it with a
//! comment; fixing the alerts marks it stale, and a closure is then confirmed; closing it as "not
//! planned" dismisses the alert in GitHub. The `issues` deliveries are octocrab's real one,
//! edited as each step needs, with the issue as the fake GitHub then has it.

use github_webhook::handle;
use scantix_app::execute::Executor;
use scantix_app::ingest::GithubIngest;
use scantix_core::config::Config;
use scantix_core::finding::AlertKind;
use scantix_core::memory::store::MemoryStore;
use scantix_core::ports::store::Store;
use scantix_core::ports::tracker::Tracker;
use scantix_core::secret::Secret;
use scantix_core::ticket::STALE_LABEL;
use scantix_github::app_auth::{AppCredentials, InstallationTokens};
use scantix_github::clients::AppClients;
use scantix_github_issues::{GithubIssuesSettings, GithubIssuesTracker, IssuesAuth};
use scantix_tests::crash::CrashAfterCreate;
use scantix_tests::fake_github::{APP_ID, FakeGitHub, INSTALLATION_ID, app_private_key_pkcs1};
use scantix_tests::webhooks::{SECRET, delivery_request, fixture, octokit, varied};
use serde_json::{Value, json};
use std::sync::Arc;
use std::time::Duration;

/// The repository of octokit's code scanning examples.
const OWNER: &str = "Codertocat";
const NAME: &str = "Hello-World";
const KEY_PREFIX: &str = "codertocat/hello-world#";

struct World {
    fake: FakeGitHub,
    store: Arc<MemoryStore>,
    ingest: GithubIngest,
}

async fn world() -> World {
    world_with(false).await
}

/// A world whose first ticket creation "crashes" right after GitHub created the issue, if `crash`.
async fn world_with(crash: bool) -> World {
    let fake = FakeGitHub::start().await;
    let credentials = AppCredentials::new(APP_ID, Secret::new(app_private_key_pkcs1()));
    // One token cache for the tracker and the alert calls, as a warm Lambda shares it.
    let tokens = Arc::new(InstallationTokens::new(&fake.base_url(), &credentials).unwrap());
    let tracker = GithubIssuesTracker::new(
        GithubIssuesSettings::default(),
        IssuesAuth::App(tokens.clone()),
    )
    .unwrap()
    .with_backoff_base(Duration::from_millis(5));
    let tracker: Arc<dyn Tracker> = match crash {
        true => Arc::new(CrashAfterCreate::new(tracker)),
        false => Arc::new(tracker),
    };
    let store = Arc::new(MemoryStore::new());
    let executor = Executor::new(store.clone(), tracker, Config::default())
        .with_github_clients(Arc::new(AppClients::new(tokens)));
    World {
        fake,
        store,
        ingest: GithubIngest::new(Secret::new(SECRET), Arc::new(executor)),
    }
}

/// A real code scanning delivery for alert `number`: the octokit example for that action, moved to
/// the repository, rule and location of the CodeQL `created` example so all describe one alert,
/// from the test App's installation.
fn alert(action_file: &str, number: u64) -> Value {
    let created: Value =
        serde_json::from_slice(&octokit("code_scanning_alert/created.payload.json")).unwrap();
    let body = varied(
        &octokit(&format!("code_scanning_alert/{action_file}")),
        &[
            ("repository", created["repository"].clone()),
            ("installation.id", json!(INSTALLATION_ID)),
            ("alert.number", json!(number)),
            ("alert.rule", created["alert"]["rule"].clone()),
            ("alert.tool", created["alert"]["tool"].clone()),
            ("alert.instances", created["alert"]["instances"].clone()),
            // On the branch the alert was found on (octokit's `fixed` example is on a pull
            // request's merge ref, which leaves a ticket as it is until the merge).
            ("ref", created["ref"].clone()),
        ],
    );
    serde_json::from_slice(&body).unwrap()
}

/// A person on GitHub, as a webhook's `sender` names them.
fn person() -> Value {
    json!({"login": "octocat", "id": 583231, "type": "User"})
}

/// The App's bot account: the author of every issue scantix opens.
fn scantix_bot() -> Value {
    json!({"login": "scantix[bot]", "id": 1, "type": "Bot"})
}

impl World {
    async fn send(&self, event: &str, delivery: &str, body: &Value) -> (u16, Value) {
        let bytes = serde_json::to_vec(body).unwrap();
        let response = handle(
            &self.ingest,
            delivery_request(event, delivery, &bytes, None),
        )
        .await
        .unwrap();
        let status = response.status().as_u16();
        (
            status,
            serde_json::from_slice(response.body().as_ref()).unwrap(),
        )
    }

    /// GitHub reports alert `number` (`action_file`): the fake's alert becomes what the delivery
    /// says, as GitHub's own would, and the delivery is sent.
    async fn github(&self, action_file: &str, number: u64, delivery: &str) -> Value {
        let payload = alert(action_file, number);
        self.fake.add_alert(
            OWNER,
            NAME,
            AlertKind::CodeScanning,
            payload["alert"].clone(),
        );
        let (status, answer) = self.send("code_scanning_alert", delivery, &payload).await;
        assert_eq!(status, 200, "{action_file}: {answer}");
        answer
    }

    /// GitHub's `issues` delivery for `action` on issue `number` by `sender`: octocrab's real
    /// delivery, with the issue as the fake GitHub now has it and this repository.
    fn issues_delivery(&self, action: &str, number: u64, sender: Value) -> Value {
        let issue = self.fake.issue_json(OWNER, NAME, number).unwrap();
        let created: Value =
            serde_json::from_slice(&octokit("code_scanning_alert/created.payload.json")).unwrap();
        let issue_fields = [
            "number",
            "title",
            "body",
            "state",
            "state_reason",
            "labels",
            "user",
            "html_url",
            "assignees",
        ]
        .map(|field| (format!("issue.{field}"), issue[field].clone()));
        let mut edits: Vec<(&str, Value)> = vec![
            ("action", json!(action)),
            ("repository", created["repository"].clone()),
            ("sender", sender),
            ("installation.id", json!(INSTALLATION_ID)),
        ];
        edits.extend(issue_fields.iter().map(|(f, v)| (f.as_str(), v.clone())));
        let body = varied(
            &fixture("github-webhooks/octocrab/webhooks/issues_opened_webhook_event.json"),
            &edits,
        );
        serde_json::from_slice(&body).unwrap()
    }

    /// A person closes issue `number` as `reason` (or reopens it, `None`) on GitHub, and GitHub
    /// tells scantix.
    async fn person_moves(&self, number: u64, reason: Option<&str>, delivery: &str) -> Value {
        self.fake.set_issue_state(OWNER, NAME, number, reason);
        let action = if reason.is_some() {
            "closed"
        } else {
            "reopened"
        };
        let body = self.issues_delivery(action, number, person());
        let (status, answer) = self.send("issues", delivery, &body).await;
        assert_eq!(status, 200, "{answer}");
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
        self.fake.requests().len()
    }
}

/// GitHub calls by what they are for.
struct Tally {
    /// Issues and their comments: the tracker's own calls.
    issues: usize,
    /// Alert reads (closure verification, pull request listings) and dismissals.
    alerts: usize,
    /// Once per cold start and repository: the installation lookup and the token; once per cold
    /// start: which account is the App's (`GET /app`, to tell echoes of its own changes).
    auth: usize,
}

fn tally(requests: &[scantix_tests::fake_github::RecordedRequest]) -> Tally {
    let count = |wanted: fn(&str) -> bool| requests.iter().filter(|r| wanted(&r.path)).count();
    Tally {
        issues: count(|p| p.contains("/issues")),
        alerts: count(|p| p.contains("/code-scanning/")),
        auth: count(|p| p == "/app" || p.starts_with("/app/") || p.ends_with("/installation")),
    }
}

#[tokio::test]
async fn the_round_trip_on_github_issues() {
    let w = world().await;

    // A GitHub alert becomes one issue, in the alert's repository.
    let created = w.github("created.payload.json", 10, "gh-1").await;
    assert_eq!(World::action_names(&created), ["create_ticket"]);
    let key = created["outcome"]["ticket"]["key"]
        .as_str()
        .unwrap()
        .to_owned();
    assert_eq!(key, format!("{KEY_PREFIX}1"));
    let at_create = tally(&w.fake.requests());
    let per_create_cold = w.calls();
    let issue = w.fake.issue(OWNER, NAME, 1).unwrap();
    assert!(
        issue.labels.contains(&"scantix".to_owned()),
        "{:?}",
        issue.labels
    );
    assert!(
        issue
            .body
            .as_deref()
            .unwrap()
            .contains("<!-- scantix:group="),
        "the group key travels with the issue"
    );

    // A second alert of the same rule joins it; a redelivery changes nothing.
    w.fake.clear_requests();
    w.github("created.payload.json", 11, "gh-2").await;
    let per_join = w.calls();
    assert!(
        w.fake
            .issue(OWNER, NAME, 1)
            .unwrap()
            .title
            .contains("(2 alerts)"),
        "the ticket says so"
    );
    let duplicate = w.github("created.payload.json", 11, "gh-2").await;
    assert_eq!(duplicate["status"], "duplicate");
    assert_eq!(
        w.calls(),
        per_join,
        "a duplicate delivery makes no GitHub call"
    );
    assert_eq!(w.fake.issues(OWNER, NAME).len(), 1);

    // Someone closes it, but GitHub still reports both alerts open: reopened, with a comment.
    let rejected = w.person_moves(1, Some("completed"), "issues-1").await;
    assert_eq!(
        World::action_names(&rejected),
        ["closure_rejected"],
        "{rejected}"
    );
    let issue = w.fake.issue(OWNER, NAME, 1).unwrap();
    assert_eq!(
        (issue.state.as_str(), issue.state_reason.as_deref()),
        ("open", Some("reopened")),
        "reopened on GitHub"
    );
    let comments = w.fake.comments(OWNER, NAME, 1);
    let last = &comments.last().unwrap().body;
    assert!(
        last.contains("still reports 2 of its alerts open"),
        "{last}"
    );
    assert_eq!(
        w.fake.count("GET", "/repos/*/*/code-scanning/alerts/*"),
        2,
        "both alerts verified against GitHub"
    );
    // GitHub retries the same delivery: nothing happens twice.
    let again = w
        .send(
            "issues",
            "issues-1",
            &w.issues_delivery("closed", 1, person()),
        )
        .await
        .1;
    assert_eq!(again["status"], "duplicate");
    assert_eq!(w.fake.comments(OWNER, NAME, 1).len(), comments.len());
    // GitHub then reports scantix's own reopening: an echo, answered without a lookup.
    let echo = w.issues_delivery("reopened", 1, scantix_bot());
    let (status, answer) = w.send("issues", "issues-2", &echo).await;
    assert_eq!(status, 202, "{answer}");
    assert!(
        answer["reason"].as_str().unwrap().contains("echo"),
        "{answer}"
    );

    // Both alerts get fixed: the issue is marked stale.
    w.github("fixed.payload.json", 10, "gh-3").await;
    let stale = w.github("fixed.payload.json", 11, "gh-4").await;
    assert!(
        World::action_names(&stale).contains(&"mark_ticket_stale".to_owned()),
        "{stale}"
    );
    let issue = w.fake.issue(OWNER, NAME, 1).unwrap();
    assert!(
        issue.labels.contains(&STALE_LABEL.to_owned()),
        "{:?}",
        issue.labels
    );
    assert_eq!(issue.state, "open");

    // Now a person closes it, and GitHub agrees: the alerts are fixed.
    let resolved = w.person_moves(1, Some("completed"), "issues-3").await;
    assert_eq!(
        resolved["outcome"]["ticket_state"], "resolved",
        "{resolved}"
    );
    assert_eq!(w.fake.issue(OWNER, NAME, 1).unwrap().state, "closed");

    w.fake.assert_no_violations();
    let group = w
        .store
        .group_for_ticket("github", &key)
        .await
        .unwrap()
        .unwrap();
    let audit = w.store.audit_log(&group).await.unwrap();
    let verbs: Vec<&str> = audit.iter().map(|a| a.action.as_str()).collect();
    assert!(
        verbs.contains(&"ticket.closure_rejected") && verbs.contains(&"ticket.resolved"),
        "{verbs:?}"
    );
    let after_create = tally(&w.fake.requests());
    let total = per_create_cold + w.calls();
    println!(
        "github_calls_per_ticket_created: {} (cold start: {per_create_cold}, with the installation lookup and token)",
        at_create.issues
    );
    println!("github_calls_per_joining_finding: {per_join}");
    println!(
        "github_calls_per_round_trip: {total} (issues API {}, alerts API {}, App auth {})",
        at_create.issues + after_create.issues,
        at_create.alerts + after_create.alerts,
        at_create.auth + after_create.auth
    );
}

#[tokio::test]
async fn not_planned_on_github_dismisses_the_alert_and_the_echo_is_quiet() {
    let w = world().await;
    w.github("created.payload.json", 10, "gh-1").await;
    let key = format!("{KEY_PREFIX}1");

    let answer = w.person_moves(1, Some("not_planned"), "issues-1").await;

    assert_eq!(World::action_names(&answer), ["dismiss_alerts"], "{answer}");
    let dismissed = w
        .fake
        .alert(OWNER, NAME, AlertKind::CodeScanning, 10)
        .unwrap();
    assert_eq!(dismissed["state"], "dismissed");
    assert_eq!(dismissed["dismissed_reason"], "won't fix");
    let comment = dismissed["dismissed_comment"].as_str().unwrap();
    assert!(
        comment.contains(&key) && comment.contains("octocat"),
        "{comment}"
    );
    let issue = w.fake.issue(OWNER, NAME, 1).unwrap();
    assert_eq!(
        issue.state_reason.as_deref(),
        Some("not_planned"),
        "left as the person chose"
    );

    // GitHub then tells scantix the alert was dismissed: no comment goes back to the issue.
    let comments = w.fake.comments(OWNER, NAME, 1).len();
    let mut echo = alert("closed-by-user.payload.json", 10);
    echo["alert"]["dismissed_reason"] = json!("won't fix");
    let (status, answer) = w.send("code_scanning_alert", "gh-2", &echo).await;
    assert_eq!(status, 200, "{answer}");
    assert_eq!(World::action_names(&answer), ["nothing"], "{answer}");
    assert_eq!(w.fake.comments(OWNER, NAME, 1).len(), comments);
    w.fake.assert_no_violations();
}

#[tokio::test]
async fn a_deleted_issue_leaves_the_findings_tracked_without_a_ticket() {
    let w = world().await;
    w.github("created.payload.json", 10, "gh-1").await;
    w.fake.delete_issue(OWNER, NAME, 1);
    w.fake.clear_requests();

    let body = w.issues_delivery("deleted", 1, person());
    let (status, answer) = w.send("issues", "issues-1", &body).await;

    assert_eq!(status, 200, "{answer}");
    assert_eq!(World::action_names(&answer), ["ticket_deleted"], "{answer}");
    assert_eq!(answer["outcome"]["ticket"], Value::Null);
    // The only call: scantix asking, once per process, which account is the App's (an event
    // naming its actor may be an echo of scantix's own change).
    assert_eq!(w.fake.count("GET", "/app"), 1);
    assert_eq!(w.calls(), 1, "nothing to tell GitHub");
    // A later alert of the group does not open a second issue on its own.
    w.github("created.payload.json", 11, "gh-2").await;
    assert_eq!(w.fake.issues(OWNER, NAME).len(), 1);
    w.fake.assert_no_violations();
}

#[tokio::test]
async fn a_crash_after_github_created_the_issue_is_retried_without_a_second_issue() {
    let w = world_with(true).await;
    let payload = alert("created.payload.json", 10);
    w.fake.add_alert(
        OWNER,
        NAME,
        AlertKind::CodeScanning,
        payload["alert"].clone(),
    );
    let (status, answer) = w.send("code_scanning_alert", "gh-1", &payload).await;
    assert_eq!(status, 503, "a retryable failure: {answer}");
    assert_eq!(w.fake.issues(OWNER, NAME).len(), 1, "GitHub did create it");

    // The retry (SQS or a redelivery brings the same delivery) finds the issue by its label.
    let retried = w.github("created.payload.json", 10, "gh-1").await;
    assert_eq!(w.fake.issues(OWNER, NAME).len(), 1, "no second issue");
    assert_eq!(
        retried["outcome"]["ticket"]["key"],
        format!("{KEY_PREFIX}1")
    );
    assert_eq!(retried["outcome"]["ticket_state"], "open");
    w.fake.assert_no_violations();
}

#[tokio::test]
async fn issues_deliveries_about_other_issues_are_answered_and_ignored() {
    let w = world().await;
    let real = fixture("github-webhooks/octocrab/webhooks/issues_opened_webhook_event.json");
    let opened: Value = serde_json::from_slice(&real).unwrap();
    let mut closed = opened.clone();
    closed["action"] = json!("closed");
    closed["issue"]["state"] = json!("closed");
    closed["issue"]["state_reason"] = json!("completed");

    for (delivery, body) in [("d-1", &opened), ("d-2", &closed)] {
        let (status, answer) = w.send("issues", delivery, body).await;
        assert_eq!(status, 202, "{answer}");
        assert!(
            !answer["reason"].as_str().unwrap_or_default().is_empty(),
            "{answer}"
        );
    }
    assert!(
        w.fake.requests().is_empty(),
        "no GitHub call for issues scantix does not track"
    );

    // A scantix ticket's label on an issue scantix has no record of: looked up, then ignored.
    let mut unknown = closed.clone();
    unknown["issue"]["labels"] = json!([{"name": "scantix-0a1b2c3d4e5f"}]);
    let (status, answer) = w.send("issues", "d-3", &unknown).await;
    assert_eq!(status, 200, "{answer}");
    assert!(
        answer["outcome"]["actions"][0]["reason"]
            .as_str()
            .unwrap()
            .contains("not a scantix ticket"),
        "{answer}"
    );
    let malformed = varied(
        &real,
        &[("action", json!("closed")), ("issue.number", json!("one"))],
    );
    let (status, answer) = w
        .send(
            "issues",
            "d-4",
            &serde_json::from_slice(&malformed).unwrap(),
        )
        .await;
    assert_eq!(status, 400, "{answer}");
    assert_eq!(answer["path"], "issue.number");
    w.fake.assert_no_violations();
}
