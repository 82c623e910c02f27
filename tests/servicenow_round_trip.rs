//! The full round trip with ServiceNow as the tracker: real GitHub deliveries through the GitHub
//! webhook function's handler, the real adapter against the fake ServiceNow (every request
//! checked against the Table API's documented shape), the fake GitHub for the alerts (checked
//! against GitHub's REST description), and the business rule's deliveries back through the
//! deployed shape: the servicenow-webhook function's handler and receiver (signature, dedup, the
//! inbox), then the worker. Scenarios: an alert becomes one incident; resolving it while GitHub
//! still reports the alert open reopens it with a work note, and the echo of that is ignored;
//! canceling it dismisses the alert as won't fix; two alerts of one group arriving at once make one
//! incident; the receiver refuses what it must.

use github_webhook::handle as github_handle;
use scantix_app::execute::Executor;
use scantix_app::ingest::servicenow::{ServiceNowGate, ServiceNowIngest};
use scantix_app::ingest::{GithubIngest, ServiceNowReceiver};
use scantix_app::worker::Worker;
use scantix_core::config::Config;
use scantix_core::finding::AlertKind;
use scantix_core::inbox::InboxStatus;
use scantix_core::memory::store::MemoryStore;
use scantix_core::ports::store::{Inbox, Store};
use scantix_core::ports::tracker::Tracker;
use scantix_core::secret::Secret;
use scantix_github::app_auth::{AppCredentials, InstallationTokens};
use scantix_github::clients::AppClients;
use scantix_servicenow::{ServiceNowAuth, ServiceNowSettings, ServiceNowStates, ServiceNowTracker};
use scantix_tests::crash::CrashAfterCreate;
use scantix_tests::fake_github::{APP_ID, FakeGitHub, INSTALLATION_ID, app_private_key_pkcs1};
use scantix_tests::fake_servicenow::{FakeServiceNow, PASSWORD, USER};
use scantix_tests::webhooks::{SECRET, delivery_request, octokit, varied};
use scantix_webhooks::servicenow::sign_servicenow;
use serde_json::{Value, json};
use std::sync::Arc;
use std::time::Duration;

const OWNER: &str = "Codertocat";
const NAME: &str = "Hello-World";
/// The business rule's shared secret.
const RULE_SECRET: &str = "test-servicenow-rule-secret";

struct World {
    github: FakeGitHub,
    servicenow: FakeServiceNow,
    store: Arc<MemoryStore>,
    ingest: GithubIngest,
    receiver: ServiceNowReceiver,
    worker: Worker,
    /// The synchronous path (`scantix serve`), on the same executor: its answer shows the actions.
    sync: ServiceNowIngest,
}

async fn world_with(crash: bool) -> World {
    let github = FakeGitHub::start().await;
    let servicenow = FakeServiceNow::start().await;
    let credentials = AppCredentials::new(APP_ID, Secret::new(app_private_key_pkcs1()));
    let tokens = Arc::new(InstallationTokens::new(&github.base_url(), &credentials).unwrap());
    let tracker = ServiceNowTracker::new(
        ServiceNowSettings::new(servicenow.base_url()),
        ServiceNowAuth::Basic {
            user: USER.into(),
            password: Secret::new(PASSWORD),
        },
    )
    .unwrap()
    .with_backoff_base(Duration::from_millis(5));
    let tracker: Arc<dyn Tracker> = match crash {
        true => Arc::new(CrashAfterCreate::new(tracker)),
        false => Arc::new(tracker),
    };
    let store = Arc::new(MemoryStore::new());
    let executor = Arc::new(
        Executor::new(store.clone(), tracker, Config::default())
            .with_github_clients(Arc::new(AppClients::new(tokens))),
    );
    let receiver = ServiceNowReceiver::new(
        ServiceNowGate::new(Secret::new(RULE_SECRET)),
        ServiceNowStates::default(),
        store.clone(),
    );
    let worker = Worker::new(
        store.clone(),
        GithubIngest::for_worker(executor.clone()),
        None,
    )
    .with_servicenow(ServiceNowIngest::for_worker(
        ServiceNowStates::default(),
        executor.clone(),
    ));
    World {
        github,
        servicenow,
        store,
        sync: ServiceNowIngest::new(
            Secret::new(RULE_SECRET),
            ServiceNowStates::default(),
            executor.clone(),
        ),
        ingest: GithubIngest::new(Secret::new(SECRET), executor),
        receiver,
        worker,
    }
}

async fn world() -> World {
    world_with(false).await
}

/// A real code scanning delivery for alert `number` (see `github_issues_round_trip`).
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
            ("ref", created["ref"].clone()),
        ],
    );
    serde_json::from_slice(&body).unwrap()
}

/// The business rule's POST as the Lambda function receives it.
fn rule_request(delivery: &str, body: &[u8], signature: Option<&str>) -> lambda_http::Request {
    let signature = signature.map_or_else(
        || sign_servicenow(RULE_SECRET.as_bytes(), body),
        str::to_owned,
    );
    let event = json!({
        "version": "2.0", "routeKey": "$default", "rawPath": "/", "rawQueryString": "",
        "headers": {
            "content-type": "application/json",
            "x-scantix-delivery": delivery,
            "x-scantix-signature": signature,
            "user-agent": "ServiceNow/1.0"
        },
        "requestContext": {
            "accountId": "anonymous", "apiId": "scantix",
            "domainName": "scantix.lambda-url.eu-west-1.on.aws", "domainPrefix": "scantix",
            "http": { "method": "POST", "path": "/", "protocol": "HTTP/1.1", "sourceIp": "192.0.2.9", "userAgent": "ServiceNow/1.0" },
            "requestId": delivery, "routeKey": "$default", "stage": "$default",
            "time": "03/Dec/2026:19:00:00 +0000", "timeEpoch": 1796324400000u64
        },
        "body": String::from_utf8(body.to_vec()).unwrap(),
        "isBase64Encoded": false
    });
    lambda_http::request::from_str(&event.to_string()).unwrap()
}

impl World {
    async fn github_sends(&self, payload: &Value, delivery: &str) -> (u16, Value) {
        let bytes = serde_json::to_vec(payload).unwrap();
        let response = github_handle(
            &self.ingest,
            delivery_request("code_scanning_alert", delivery, &bytes, None),
        )
        .await
        .unwrap();
        (
            response.status().as_u16(),
            serde_json::from_slice(response.body().as_ref()).unwrap(),
        )
    }

    /// GitHub reports alert `number` (`action_file`); the fake's alert becomes what it says.
    async fn github(&self, action_file: &str, number: u64, delivery: &str) -> Value {
        let payload = alert(action_file, number);
        self.github.add_alert(
            OWNER,
            NAME,
            AlertKind::CodeScanning,
            payload["alert"].clone(),
        );
        let (status, answer) = self.github_sends(&payload, delivery).await;
        assert_eq!(status, 200, "{action_file}: {answer}");
        answer
    }

    /// The business rule posts `body` to the servicenow-webhook function.
    async fn rule_posts(
        &self,
        delivery: &str,
        body: &[u8],
        signature: Option<&str>,
    ) -> (u16, Value) {
        let response =
            servicenow_webhook::handle(&self.receiver, rule_request(delivery, body, signature))
                .await
                .unwrap();
        (
            response.status().as_u16(),
            serde_json::from_slice(response.body().as_ref()).unwrap(),
        )
    }

    /// The business rule reports the record's last change by `user`; the function stores it and
    /// the worker applies it, as the table's stream would. Returns what the worker recorded.
    async fn delivered(&self, sys_id: &str, event: &str, user: &str) -> String {
        let (delivery, body) = self.servicenow.delivery(sys_id, event, user, false);
        let (status, answer) = self.rule_posts(&delivery, &body, None).await;
        assert_eq!(status, 202, "{answer}");
        let item = self
            .store
            .get_inbox(&format!("servicenow:{delivery}"))
            .await
            .unwrap()
            .expect("stored in the inbox");
        assert_eq!(item.status, InboxStatus::Pending);
        match self.worker.apply(&item).await {
            scantix_core::inbox::Applied::Done { outcome } => outcome,
            other => panic!("{other:?}"),
        }
    }

    /// The same through the synchronous ingest: its answer, with the actions decided.
    /// `change` overrides the delivery's id (the business rule's `<sys_id>:<sys_mod_count>`), for
    /// a change older than the record's last one.
    async fn applied_now(
        &self,
        sys_id: &str,
        event: &str,
        user: &str,
        change: Option<&str>,
    ) -> Value {
        let (mut delivery, body) = self.servicenow.delivery(sys_id, event, user, false);
        if let Some(change) = change {
            delivery = change.to_owned();
        }
        let request = rule_request(&delivery, &body, None);
        let (parts, body) = request.into_parts();
        let answer = self.sync.handle(&parts.headers, body.as_ref()).await;
        assert_eq!(answer.status, 200, "{}", answer.body);
        answer.body
    }

    fn only_incident(&self) -> serde_json::Map<String, Value> {
        let all = self.servicenow.incidents();
        assert_eq!(all.len(), 1, "one incident: {all:?}");
        all[0].clone()
    }
}

fn field(record: &serde_json::Map<String, Value>, name: &str) -> String {
    record[name].as_str().unwrap_or_default().to_owned()
}

#[tokio::test]
async fn the_round_trip_on_servicenow() {
    let w = world().await;

    // A GitHub alert becomes one incident; a second alert of the rule joins it.
    let created = w.github("created.payload.json", 10, "gh-1").await;
    let sys_id = created["outcome"]["ticket"]["key"]
        .as_str()
        .unwrap()
        .to_owned();
    let calls_per_create = w.servicenow.requests().len();
    w.servicenow.clear_requests();
    w.github("created.payload.json", 11, "gh-2").await;
    let calls_per_join = w.servicenow.requests().len();
    let incident = w.only_incident();
    assert_eq!(field(&incident, "sys_id"), sys_id);
    assert!(
        field(&incident, "short_description").contains("(2 alerts)"),
        "{incident:?}"
    );
    w.servicenow.clear_requests();

    // A person resolves it, but GitHub still reports both alerts open: scantix reopens it with a
    // work note saying so.
    w.servicenow.person_sets(
        &sys_id,
        "abel.tuter",
        &[
            ("state", "6"),
            ("close_code", "Solution provided"),
            ("close_notes", "fixed?"),
        ],
    );
    let outcome = w.delivered(&sys_id, "updated", "abel.tuter").await;
    assert_eq!(outcome, "applied");
    let calls_per_rejected_closure = w.servicenow.requests().len();
    let incident = w.only_incident();
    assert_eq!(field(&incident, "state"), "1", "reopened: {incident:?}");
    let notes = w.servicenow.journal(&sys_id, "work_notes");
    assert!(
        notes
            .last()
            .is_some_and(|n| n.contains("still reports 2 of its alerts open")),
        "{notes:?}"
    );

    // The business rule reports scantix's own reopening (and its note): echoes, nothing done.
    let before = w.servicenow.requests().len();
    let echo = w.applied_now(&sys_id, "updated", USER, None).await;
    let reason = echo["outcome"]["actions"][0]["reason"]
        .as_str()
        .unwrap_or_default();
    assert!(reason.contains("echo"), "{echo}");
    // The note was the change before the move.
    let mod_count = field(&w.only_incident(), "sys_mod_count")
        .parse::<u32>()
        .unwrap();
    let note_change = format!("{sys_id}:{}", mod_count - 1);
    let note_echo = w
        .applied_now(&sys_id, "commented", USER, Some(&note_change))
        .await;
    let reason = note_echo["outcome"]["actions"][0]["reason"]
        .as_str()
        .unwrap_or_default();
    assert!(reason.contains("echo"), "{note_echo}");
    assert_eq!(
        w.servicenow.requests().len(),
        before,
        "no ServiceNow call for echoes"
    );

    // A redelivery of the person's change (same sys_id:sys_mod_count) is a duplicate.
    w.servicenow
        .person_sets(&sys_id, "abel.tuter", &[("work_notes", "looking at it")]);
    let (delivery, body) = w
        .servicenow
        .delivery(&sys_id, "commented", "abel.tuter", false);
    assert_eq!(w.rule_posts(&delivery, &body, None).await.0, 202);
    let (status, answer) = w.rule_posts(&delivery, &body, None).await;
    assert_eq!(
        (status, answer["status"].as_str()),
        (200, Some("duplicate")),
        "{answer}"
    );

    // Both alerts get fixed, then a person resolves it: GitHub agrees, the ticket is resolved.
    w.github("fixed.payload.json", 10, "gh-3").await;
    w.github("fixed.payload.json", 11, "gh-4").await;
    w.servicenow.person_sets(
        &sys_id,
        "abel.tuter",
        &[
            ("state", "6"),
            ("close_code", "Solution provided"),
            ("close_notes", "done"),
        ],
    );
    w.delivered(&sys_id, "updated", "abel.tuter").await;
    let group = w
        .store
        .group_for_ticket("servicenow", &sys_id)
        .await
        .unwrap()
        .unwrap();
    let stored = w.store.get_group(&group).await.unwrap().unwrap();
    assert_eq!(stored.value.ticket_state.as_str(), "resolved");
    assert_eq!(field(&w.only_incident(), "state"), "6");

    w.servicenow.assert_no_violations();
    w.github.assert_no_violations();
    println!("servicenow_calls_per_ticket_created: {calls_per_create}");
    println!("servicenow_calls_per_joining_finding: {calls_per_join}");
    println!(
        "servicenow_calls_per_rejected_closure: {calls_per_rejected_closure} (a work note and a \
         move back to new, each read first)"
    );
}

#[tokio::test]
async fn canceling_the_incident_dismisses_the_alert_as_wont_fix() {
    let w = world().await;
    let created = w.github("created.payload.json", 10, "gh-1").await;
    let sys_id = created["outcome"]["ticket"]["key"]
        .as_str()
        .unwrap()
        .to_owned();

    w.servicenow
        .person_sets(&sys_id, "abel.tuter", &[("state", "8")]);
    let outcome = w.delivered(&sys_id, "updated", "abel.tuter").await;

    assert_eq!(outcome, "applied");
    let dismissed = w
        .github
        .alert(OWNER, NAME, AlertKind::CodeScanning, 10)
        .unwrap();
    assert_eq!(dismissed["state"], "dismissed");
    assert_eq!(dismissed["dismissed_reason"], "won't fix");
    assert!(
        dismissed["dismissed_comment"]
            .as_str()
            .unwrap()
            .contains("Abel Tuter"),
        "{dismissed}"
    );
    assert_eq!(
        field(&w.only_incident(), "state"),
        "8",
        "left as the person chose"
    );
    w.servicenow.assert_no_violations();
    w.github.assert_no_violations();
}

#[tokio::test]
async fn two_alerts_of_one_group_at_once_make_one_incident() {
    let w = world().await;
    let first = alert("created.payload.json", 10);
    let second = alert("created.payload.json", 11);
    for payload in [&first, &second] {
        w.github.add_alert(
            OWNER,
            NAME,
            AlertKind::CodeScanning,
            payload["alert"].clone(),
        );
    }

    let (a, b) = tokio::join!(
        w.github_sends(&first, "gh-1"),
        w.github_sends(&second, "gh-2")
    );

    // One of them may have to wait for the other's lease (a retryable 503); its retry joins.
    for ((status, answer), (payload, delivery)) in [a, b]
        .into_iter()
        .zip([(&first, "gh-1"), (&second, "gh-2")])
    {
        if status != 200 {
            assert_eq!(status, 503, "{answer}");
            let (status, answer) = w.github_sends(payload, delivery).await;
            assert_eq!(status, 200, "{answer}");
        }
    }
    let incident = w.only_incident();
    assert!(
        field(&incident, "short_description").contains("(2 alerts)"),
        "{incident:?}"
    );
    w.servicenow.assert_no_violations();
}

#[tokio::test]
async fn a_crash_after_servicenow_created_the_incident_is_retried_without_a_second() {
    let w = world_with(true).await;
    let payload = alert("created.payload.json", 10);
    w.github.add_alert(
        OWNER,
        NAME,
        AlertKind::CodeScanning,
        payload["alert"].clone(),
    );
    let (status, answer) = w.github_sends(&payload, "gh-1").await;
    assert_eq!(status, 503, "a retryable failure: {answer}");
    assert_eq!(
        w.servicenow.incidents().len(),
        1,
        "ServiceNow did create it"
    );

    let retried = w.github("created.payload.json", 10, "gh-1").await;

    let incident = w.only_incident();
    assert_eq!(
        retried["outcome"]["ticket"]["key"],
        json!(field(&incident, "sys_id"))
    );
    w.servicenow.assert_no_violations();
}

#[tokio::test]
async fn the_receiver_refuses_what_it_must_and_stores_nothing_then() {
    let w = world().await;
    let created = w.github("created.payload.json", 10, "gh-1").await;
    let sys_id = created["outcome"]["ticket"]["key"]
        .as_str()
        .unwrap()
        .to_owned();
    w.servicenow
        .person_sets(&sys_id, "abel.tuter", &[("state", "2")]);
    let (delivery, body) = w
        .servicenow
        .delivery(&sys_id, "updated", "abel.tuter", false);

    // Forged, unsigned, signed with another secret.
    for signature in [
        "sha256=AAAA".to_owned(),
        String::new(),
        sign_servicenow(b"another secret", &body),
    ] {
        let (status, answer) = w.rule_posts(&delivery, &body, Some(&signature)).await;
        assert_eq!(status, 401, "{answer}");
    }
    // Too large.
    let huge = vec![b' '; 2 * 1024 * 1024];
    assert_eq!(w.rule_posts("big", &huge, None).await.0, 413);
    // Malformed: the JSON path says where.
    let mut odd: Value = serde_json::from_slice(&body).unwrap();
    odd["state"] = json!(6);
    let odd = serde_json::to_vec(&odd).unwrap();
    let (status, answer) = w.rule_posts("odd-1", &odd, None).await;
    assert_eq!(
        (status, answer["path"].as_str()),
        (400, Some("state")),
        "{answer}"
    );
    // A state no category names: ignored.
    let mut unknown: Value = serde_json::from_slice(&body).unwrap();
    unknown["state"] = json!("42");
    let unknown = serde_json::to_vec(&unknown).unwrap();
    let (status, answer) = w.rule_posts("odd-2", &unknown, None).await;
    assert_eq!(
        (status, answer["status"].as_str()),
        (202, Some("ignored")),
        "{answer}"
    );
    assert!(
        w.store.pending_inbox(10).await.unwrap().is_empty(),
        "nothing stored"
    );

    // The real one is stored once, and applied by the worker: the ticket is in progress.
    let (status, _) = w.rule_posts(&delivery, &body, None).await;
    assert_eq!(status, 202);
    let pending = w.store.pending_inbox(10).await.unwrap();
    assert_eq!(pending.len(), 1);
    w.worker.apply(&pending[0]).await;
    let group = w
        .store
        .group_for_ticket("servicenow", &sys_id)
        .await
        .unwrap()
        .unwrap();
    let stored = w.store.get_group(&group).await.unwrap().unwrap();
    assert_eq!(stored.value.ticket_state.as_str(), "in_progress");
}
