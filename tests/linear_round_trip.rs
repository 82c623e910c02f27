//! The full round trip with Linear as the tracker: GitHub deliveries through the GitHub webhook
//! function's handler, the real Linear adapter against a fake Linear that checks every GraphQL
//! request against Linear's published schema, and Linear's deliveries back — signed as Linear
//! signs them, stamped with `webhookTimestamp`, named by `Linear-Delivery` — through the Linear
//! webhook function's handler, synchronously (`LinearIngest`) and in the deployed shape (the
//! receiver makes each durable in the inbox, the worker applies it). Deliveries are built by the
//! fake in the shape of Linear's `EntityWebhookPayload` / `IssueWebhookPayload`, which the fake
//! checks against the schema's webhook types (Linear's docs, https://linear.app/developers/webhooks,
//! publish no example bodies under a licence; see `tests/fixtures/linear/SOURCES.md`).

use github_webhook::handle as handle_github;
use linear_webhook::handle as handle_linear;
use scantix_app::execute::Executor;
use scantix_app::ingest::linear::LinearGate;
use scantix_app::ingest::{GithubIngest, LinearIngest, LinearReceiver};
use scantix_app::worker::Worker;
use scantix_core::config::Config;
use scantix_core::finding::{AlertKind, AlertState};
use scantix_core::memory::github::MemoryGitHub;
use scantix_core::memory::store::MemoryStore;
use scantix_core::ports::store::Store;
use scantix_core::ports::tracker::Tracker;
use scantix_core::secret::Secret;
use scantix_core::ticket::STALE_LABEL;
use scantix_linear::{LinearAuth, LinearSettings, LinearTracker};
use scantix_tests::fake_linear::{API_KEY, Actor, FakeLinear};
use scantix_tests::webhooks::{delivery_request, octokit, varied};
use scantix_webhooks::signature::sign_hex;
use serde_json::{Value, json};
use std::sync::Arc;
use std::time::Duration;

const LINEAR_SECRET: &str = "linear-webhook-signing-secret";
const REPO: u64 = 337911632;

struct World {
    linear: FakeLinear,
    github: Arc<MemoryGitHub>,
    store: Arc<MemoryStore>,
    executor: Arc<Executor>,
    github_ingest: GithubIngest,
    linear_ingest: LinearIngest,
}

async fn world() -> World {
    let linear = FakeLinear::start().await;
    let tracker = LinearTracker::new(
        LinearSettings {
            api_url: linear.url(),
            request_timeout_secs: 2,
            ..LinearSettings::new("SEC")
        },
        LinearAuth::ApiKey(Secret::new(API_KEY)),
    )
    .unwrap()
    .with_backoff_base(Duration::from_millis(5));
    let store = Arc::new(MemoryStore::new());
    let github = Arc::new(MemoryGitHub::new());
    let tracker: Arc<dyn Tracker> = Arc::new(tracker);
    let executor = Arc::new(
        Executor::new(store.clone(), tracker, Config::default()).with_github(github.clone()),
    );
    World {
        linear,
        github,
        store,
        github_ingest: GithubIngest::new(
            Secret::new(scantix_tests::webhooks::SECRET),
            executor.clone(),
        ),
        linear_ingest: LinearIngest::new(Secret::new(LINEAR_SECRET), executor.clone()),
        executor,
    }
}

/// A real code scanning delivery for alert `number` (see `jira_round_trip.rs`).
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

/// A Linear delivery request: the body signed with `secret`, named `id`.
fn linear_request(body: &[u8], id: Option<&str>, secret: &str) -> lambda_http::Request {
    let mut request = lambda_http::http::Request::builder()
        .method("POST")
        .uri("https://scantix.example/webhooks/linear")
        .header("content-type", "application/json; charset=utf-8")
        .header("linear-event", "Issue")
        .header("linear-signature", sign_hex(secret.as_bytes(), body));
    if let Some(id) = id {
        request = request.header("linear-delivery", id);
    }
    request
        .body(lambda_http::Body::Binary(body.to_vec()))
        .unwrap()
}

fn action_names(answer: &Value) -> Vec<String> {
    answer["outcome"]["actions"].as_array().map_or(vec![], |a| {
        a.iter()
            .map(|x| x["action"].as_str().unwrap_or_default().to_owned())
            .collect()
    })
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

    /// Sends a Linear delivery as Linear does; returns status and answer.
    async fn deliver(&self, body: &Value, id: &str) -> (u16, Value) {
        let bytes = serde_json::to_vec(body).unwrap();
        answer_of(
            handle_linear(
                &self.linear_ingest,
                linear_request(&bytes, Some(id), LINEAR_SECRET),
            )
            .await
            .unwrap(),
        )
    }

    async fn linear(&self, body: &Value, id: &str) -> Value {
        let (status, answer) = self.deliver(body, id).await;
        assert!(status == 200 || status == 202, "{status}: {answer}");
        answer
    }
}

#[tokio::test]
async fn the_round_trip_on_linear() {
    let w = world().await;

    // A GitHub alert becomes one Linear issue; a second alert of the rule joins it.
    let created = w.github("created.payload.json", 10, "gh-1").await;
    assert_eq!(action_names(&created), ["create_ticket"], "{created}");
    let per_create = w.linear.requests().len();
    let keys = w.linear.live_issues();
    assert_eq!(keys.len(), 1);
    let key = keys[0].clone();
    w.linear.clear_requests();
    w.github("created.payload.json", 11, "gh-2").await;
    let per_join = w.linear.requests().len();
    assert_eq!(w.linear.live_issues().len(), 1);

    // A person completes it in Linear, but GitHub still reports both alerts open: verified, and
    // reopened with a comment.
    let done = w.linear.move_issue(Actor::Person, &key, "Done");
    let rejected = w.linear(&done, "ld-1").await;
    assert_eq!(action_names(&rejected), ["closure_rejected"], "{rejected}");
    let issue = w.linear.snapshot(&key).unwrap();
    assert_eq!(issue.state_type, "unstarted", "reopened in Linear");
    assert!(
        issue
            .comments
            .last()
            .unwrap()
            .contains("still reports 2 of its alerts open"),
        "{:?}",
        issue.comments
    );
    // Linear retries the same delivery: nothing happens twice.
    let again = w.linear(&done, "ld-1").await;
    assert_eq!(again["status"], "duplicate", "{again}");
    assert_eq!(
        w.linear.snapshot(&key).unwrap().comments.len(),
        issue.comments.len()
    );

    // Linear then reports scantix's own reopening: an echo, ignored.
    let echo = w.linear.move_issue(Actor::Scantix, &key, "Todo");
    let ignored = w.linear(&echo, "ld-2").await;
    assert_eq!(action_names(&ignored), ["ignored"], "{ignored}");
    assert!(
        ignored["outcome"]["actions"][0]["reason"]
            .as_str()
            .unwrap()
            .contains("echo")
    );

    // A person starts work: in progress, by the state's type.
    let started = w.linear.move_issue(Actor::Person, &key, "In Progress");
    let moved = w.linear(&started, "ld-3").await;
    assert_eq!(moved["outcome"]["ticket_state"], "in_progress", "{moved}");

    // Both alerts get fixed: the issue is marked stale.
    w.github("fixed.payload.json", 10, "gh-3").await;
    let stale = w.github("fixed.payload.json", 11, "gh-4").await;
    assert!(
        action_names(&stale).contains(&"mark_ticket_stale".to_owned()),
        "{stale}"
    );
    assert!(
        w.linear
            .snapshot(&key)
            .unwrap()
            .labels
            .contains(&STALE_LABEL.to_owned())
    );

    // Now a person completes it, and GitHub agrees: resolved.
    w.github
        .set_state(REPO, AlertKind::CodeScanning, 10, AlertState::Fixed);
    w.github
        .set_state(REPO, AlertKind::CodeScanning, 11, AlertState::Fixed);
    let closed = w.linear.move_issue(Actor::Person, &key, "Done");
    let resolved = w.linear(&closed, "ld-4").await;
    assert_eq!(
        resolved["outcome"]["ticket_state"], "resolved",
        "{resolved}"
    );
    assert_eq!(w.linear.snapshot(&key).unwrap().state_type, "completed");

    // A comment by a person is audited.
    let comment = w.linear.comment(Actor::Person, &key, "Verified in staging");
    let audited = w.linear(&comment, "ld-5").await;
    assert_eq!(action_names(&audited), ["ticket_audited"], "{audited}");

    w.linear.assert_no_violations();
    let group = w
        .store
        .group_for_ticket("linear", &key)
        .await
        .unwrap()
        .unwrap();
    let audit = w.store.audit_log(&group).await.unwrap();
    let verbs: Vec<&str> = audit.iter().map(|a| a.action.as_str()).collect();
    assert!(
        verbs.contains(&"ticket.closure_rejected") && verbs.contains(&"ticket.resolved"),
        "{verbs:?}"
    );
    let total = per_create + w.linear.requests().len();
    println!("linear_calls_per_ticket_created: {per_create}");
    println!("linear_calls_per_joining_finding: {per_join}");
    println!("linear_calls_per_round_trip: {total}");
}

#[tokio::test]
async fn canceled_in_linear_dismisses_the_alert_in_github_and_the_echo_is_quiet() {
    let w = world().await;
    w.github("created.payload.json", 10, "gh-1").await;
    let key = w.linear.live_issues()[0].clone();
    let canceled = w.linear.move_issue(Actor::Person, &key, "Canceled");
    let answer = w.linear(&canceled, "ld-1").await;
    assert_eq!(action_names(&answer), ["dismiss_alerts"], "{answer}");
    let dismissed = w.github.dismissed();
    assert_eq!(dismissed.len(), 1);
    assert_eq!(
        (dismissed[0].number, dismissed[0].reason),
        (10, "won't fix")
    );
    assert!(
        dismissed[0].comment.contains(&key),
        "{}",
        dismissed[0].comment
    );

    // GitHub then reports the dismissal: nothing goes back to Linear.
    let comments = w.linear.snapshot(&key).unwrap().comments.len();
    let echo = w.github("closed-by-user.payload.json", 10, "gh-2").await;
    assert_eq!(action_names(&echo), ["nothing"], "{echo}");
    assert_eq!(w.linear.snapshot(&key).unwrap().comments.len(), comments);
    // "Duplicate" is another canceled state: the same dismissal, whatever it is called.
    w.linear.assert_no_violations();
}

#[tokio::test]
async fn concurrent_deliveries_for_one_group_make_one_issue() {
    let w = Arc::new(world().await);
    let mut runs = Vec::new();
    for number in 20..26u64 {
        let w = w.clone();
        runs.push(tokio::spawn(async move {
            let body = alert("created.payload.json", number);
            handle_github(
                &w.github_ingest,
                delivery_request("code_scanning_alert", &format!("gh-{number}"), &body, None),
            )
            .await
            .unwrap()
            .status()
            .as_u16()
        }));
    }
    for run in runs {
        let status = run.await.unwrap();
        assert!(status == 200 || status == 503, "{status}");
    }
    // Whatever was left queued (a lost race) is retried as a redelivery would.
    for number in 20..26u64 {
        w.github("created.payload.json", number, &format!("gh-{number}"))
            .await;
    }
    assert_eq!(
        w.linear.live_issues().len(),
        1,
        "{:?}",
        w.linear.live_issues()
    );
    w.linear.assert_no_violations();
}

#[tokio::test]
async fn deliveries_are_refused_unless_signed_fresh_and_readable() {
    let w = world().await;
    w.github("created.payload.json", 10, "gh-1").await;
    let key = w.linear.live_issues()[0].clone();
    let done = w.linear.move_issue(Actor::Person, &key, "Done");
    let bytes = serde_json::to_vec(&done).unwrap();

    // Signed with another secret: 401.
    let forged = linear_request(&bytes, Some("x-1"), "not-the-secret");
    let (status, answer) = answer_of(handle_linear(&w.linear_ingest, forged).await.unwrap());
    assert_eq!(
        (status, answer["error"].as_str()),
        (401, Some("bad_signature")),
        "{answer}"
    );
    // Unsigned: 401.
    let mut unsigned = linear_request(&bytes, Some("x-2"), LINEAR_SECRET);
    unsigned.headers_mut().remove("linear-signature");
    assert_eq!(
        answer_of(handle_linear(&w.linear_ingest, unsigned).await.unwrap()).0,
        401
    );
    // Signed, but sent more than a minute ago (a replay): 401.
    let mut old = done.clone();
    old["webhookTimestamp"] = json!(chrono::Utc::now().timestamp_millis() - 2 * 60 * 1000);
    let (status, answer) = w.deliver(&old, "x-3").await;
    assert_eq!(
        (status, answer["error"].as_str()),
        (401, Some("stale_delivery")),
        "{answer}"
    );
    // Signed and fresh, but not a delivery scantix can read: 400 with the JSON path.
    let mut broken = done.clone();
    broken["data"]["state"]["type"] = json!(7);
    let (status, answer) = w.deliver(&broken, "x-4").await;
    assert_eq!(status, 400, "{answer}");
    assert_eq!(answer["path"], "data.state.type");
    // An event scantix does not act on: 202, ignored.
    let mut project = done.clone();
    project["type"] = json!("Project");
    let (status, answer) = w.deliver(&project, "x-5").await;
    assert_eq!(
        (status, answer["status"].as_str()),
        (202, Some("ignored")),
        "{answer}"
    );
    // Too large: 413, before the signature is even checked.
    let huge = vec![b' '; 2 * 1024 * 1024];
    let request = linear_request(&huge, Some("x-6"), LINEAR_SECRET);
    assert_eq!(
        answer_of(handle_linear(&w.linear_ingest, request).await.unwrap()).0,
        413
    );
    // None of these changed the group.
    assert_eq!(w.linear.snapshot(&key).unwrap().comments.len(), 0);
    w.linear.assert_no_violations();
}

#[tokio::test]
async fn in_the_deployed_shape_deliveries_are_stored_once_and_applied_by_the_worker() {
    let w = world().await;
    w.github("created.payload.json", 10, "gh-1").await;
    let key = w.linear.live_issues()[0].clone();
    let receiver =
        LinearReceiver::new(LinearGate::new(Secret::new(LINEAR_SECRET)), w.store.clone());

    let done = w.linear.move_issue(Actor::Person, &key, "Done");
    let bytes = serde_json::to_vec(&done).unwrap();
    let (status, answer) = answer_of(
        handle_linear(
            &receiver,
            linear_request(&bytes, Some("ld-1"), LINEAR_SECRET),
        )
        .await
        .unwrap(),
    );
    assert_eq!(
        (status, answer["status"].as_str()),
        (202, Some("accepted")),
        "{answer}"
    );
    // Linear retries it (same Linear-Delivery): stored once.
    let (status, answer) = answer_of(
        handle_linear(
            &receiver,
            linear_request(&bytes, Some("ld-1"), LINEAR_SECRET),
        )
        .await
        .unwrap(),
    );
    assert_eq!(
        (status, answer["status"].as_str()),
        (200, Some("duplicate")),
        "{answer}"
    );

    // The worker applies what was stored, later (the timestamp was checked at the door).
    let worker = Worker::new(
        w.store.clone(),
        GithubIngest::for_worker(w.executor.clone()),
        None,
    )
    .with_linear(LinearIngest::for_worker(w.executor.clone()));
    let report = worker.replay(10).await.unwrap();
    assert_eq!(
        (report.pending, report.applied, report.failed),
        (1, 1, 0),
        "{report:?}"
    );
    let issue = w.linear.snapshot(&key).unwrap();
    assert_eq!(
        issue.state_type, "unstarted",
        "closure rejected: GitHub still reports it open"
    );
    assert_eq!(issue.comments.len(), 1);
    assert_eq!(worker.replay(10).await.unwrap().pending, 0);
    w.linear.assert_no_violations();
}

#[tokio::test]
async fn a_deleted_issue_leaves_the_findings_tracked_without_a_ticket() {
    let w = world().await;
    w.github("created.payload.json", 10, "gh-1").await;
    let key = w.linear.live_issues()[0].clone();
    let group = w
        .store
        .group_for_ticket("linear", &key)
        .await
        .unwrap()
        .unwrap();
    let removed = w.linear.remove_issue(&key);
    let answer = w.linear(&removed, "ld-1").await;
    assert_eq!(action_names(&answer), ["ticket_deleted"], "{answer}");
    let record = w.store.get_group(&group).await.unwrap().unwrap().value;
    assert_eq!(record.ticket, None, "the group no longer names the ticket");
    assert_eq!(record.deleted_ticket.map(|t| t.key), Some(key));
    w.linear.assert_no_violations();
}
