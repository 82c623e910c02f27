//! People's changes come back from a route tracker as from the main one. The deployment's main
//! tracker is Jira; a repository's `.github/scantix.yml` routes secret scanning to ServiceNow. A
//! secret's group is filed in ServiceNow, and the business rule's deliveries about it go through
//! the deployed shape — the servicenow-webhook function's handler and receiver (signature, the
//! inbox), then the worker as `scantix-wiring` assembles it for such a deployment — to the group
//! found by (tracker, ticket), acted on through the tracker it was filed in: a resolution is
//! verified against GitHub and resolves the findings, a cancel dismisses the alert as won't fix.
//! A Jira delivery naming the ServiceNow record's id touches nothing (tenant/ticket isolation).
//! Real adapters against the fakes (each checking every request against the vendor's API
//! description), scantix acting as the test App.

use github_webhook::handle as handle_github;
use scantix_app::execute::Executor;
use scantix_app::ingest::jira::{JiraAuthenticity, JiraGate};
use scantix_app::ingest::servicenow::{ServiceNowGate, ServiceNowIngest};
use scantix_app::ingest::{GithubIngest, JiraIngest, JiraReceiver, ServiceNowReceiver};
use scantix_app::repo_settings::{SettingsCache, SettingsSource};
use scantix_app::tracker_routes::TrackerRoutes;
use scantix_app::worker::Worker;
use scantix_core::config::Config;
use scantix_core::finding::AlertKind;
use scantix_core::inbox::Applied;
use scantix_core::memory::store::MemoryStore;
use scantix_core::ports::github_clients::GitHubClients;
use scantix_core::ports::store::{Inbox, Store};
use scantix_core::ports::tracker::Tracker;
use scantix_core::secret::Secret;
use scantix_github::app_auth::{AppCredentials, InstallationTokens};
use scantix_github::clients::AppClients;
use scantix_jira::{self as jira, JiraAuth, JiraSettings, JiraTracker};
use scantix_servicenow::{ServiceNowAuth, ServiceNowSettings, ServiceNowStates, ServiceNowTracker};
use scantix_tests::fake_github::{
    APP_ID, FakeGitHub, INSTALLATION_ID, app_private_key_pkcs1, open_alert,
};
use scantix_tests::fake_jira::{self, CLOUD_API_TOKEN, CLOUD_EMAIL, FakeJira};
use scantix_tests::fake_servicenow::{self, FakeServiceNow};
use scantix_tests::webhooks::{SECRET, delivery_request, octokit, varied};
use scantix_webhooks::servicenow::sign_servicenow;
use scantix_webhooks::signature::sign;
use serde_json::{Value, json};
use std::sync::Arc;
use std::time::Duration;

const OWNER: &str = "Codertocat";
const NAME: &str = "Hello-World";
const RULE_SECRET: &str = "test-servicenow-rule-secret";
const JIRA_SECRET: &str = "test-jira-webhook-secret";

/// Secrets to ServiceNow; everything else to the deployment's own tracker, Jira.
const ROUTES: &str = "routes:
  - kinds: [secret-scanning]
    tracker: servicenow
";

struct World {
    github: FakeGitHub,
    jira: FakeJira,
    servicenow: FakeServiceNow,
    store: Arc<MemoryStore>,
    ingest: GithubIngest,
    servicenow_receiver: ServiceNowReceiver,
    jira_receiver: JiraReceiver,
    worker: Worker,
}

/// The other shape: ServiceNow is the main tracker, and code scanning is routed to Jira.
const ROUTES_TO_JIRA: &str = "routes:
  - kinds: [code-scanning]
    tracker: jira
";

/// Which tracker is the deployment's main one.
#[derive(Clone, Copy)]
enum Main {
    Jira,
    ServiceNow,
}

async fn world() -> World {
    world_with(Main::Jira).await
}

async fn world_with(main: Main) -> World {
    let github = FakeGitHub::start().await;
    let routes = match main {
        Main::Jira => ROUTES,
        Main::ServiceNow => ROUTES_TO_JIRA,
    };
    github.add_file(OWNER, NAME, ".github/scantix.yml", None, routes);
    let credentials = AppCredentials::new(APP_ID, Secret::new(app_private_key_pkcs1()));
    let tokens = Arc::new(InstallationTokens::new(&github.base_url(), &credentials).unwrap());

    let fake_jira = FakeJira::start(fake_jira::Flavor::Cloud).await;
    let own = JiraTracker::new(
        JiraSettings {
            request_timeout_secs: 2,
            ..JiraSettings::new(fake_jira.base_url(), jira::Flavor::Cloud, "SEC")
        },
        JiraAuth::Cloud {
            email: CLOUD_EMAIL.into(),
            api_token: Secret::new(CLOUD_API_TOKEN),
        },
    )
    .unwrap()
    .with_backoff_base(Duration::from_millis(5));
    let servicenow = FakeServiceNow::start().await;
    let route = ServiceNowTracker::new(
        ServiceNowSettings::new(servicenow.base_url()),
        ServiceNowAuth::Basic {
            user: fake_servicenow::USER.into(),
            password: Secret::new(fake_servicenow::PASSWORD),
        },
    )
    .unwrap()
    .with_backoff_base(Duration::from_millis(5));
    // As `scantix_wiring::tracker_from_env` builds SCANTIX_TRACKER=jira,
    // SCANTIX_ROUTE_TRACKERS=servicenow.
    let (jira, servicenow_tracker): (Arc<dyn Tracker>, Arc<dyn Tracker>) =
        (Arc::new(own), Arc::new(route));
    let trackers: Arc<dyn Tracker> = Arc::new(match main {
        Main::Jira => TrackerRoutes::new(jira, vec![servicenow_tracker]),
        Main::ServiceNow => TrackerRoutes::new(servicenow_tracker, vec![jira]),
    });

    let clients: Arc<dyn GitHubClients> = Arc::new(AppClients::new(tokens));
    let store = Arc::new(MemoryStore::new());
    let executor = Arc::new(
        Executor::new(store.clone(), trackers.clone(), Config::default())
            .with_github_clients(clients.clone()),
    );
    let source = SettingsSource {
        clients,
        cache: SettingsCache::new(Duration::ZERO),
    };
    let ingest = GithubIngest::new(Secret::new(SECRET), executor.clone()).with_settings(source);
    let settings = ingest.settings().unwrap().clone();
    // The worker as `scantix_wiring::worker::worker_over` assembles it when ServiceNow is one of
    // the deployment's trackers (here a route's, not the main one).
    let worker = Worker::new(
        store.clone(),
        GithubIngest::for_worker(executor.clone()).with_shared_settings(settings.clone()),
        Some(JiraIngest::for_worker(executor.clone()).with_settings(settings.clone())),
    )
    .with_servicenow(
        ServiceNowIngest::for_worker(ServiceNowStates::default(), executor).with_settings(settings),
    );
    World {
        github,
        jira: fake_jira,
        servicenow,
        servicenow_receiver: ServiceNowReceiver::new(
            ServiceNowGate::new(Secret::new(RULE_SECRET)),
            ServiceNowStates::default(),
            store.clone(),
        ),
        jira_receiver: JiraReceiver::new(
            JiraGate::new(JiraAuthenticity::Signature(Secret::new(JIRA_SECRET))),
            store.clone(),
        ),
        store,
        ingest,
        worker,
    }
}

/// The real secret scanning `reopened` delivery, from the test App's installation.
fn secret_alert() -> Value {
    let body = varied(
        &octokit("secret_scanning_alert/reopened.payload.json"),
        &[("installation", json!({ "id": INSTALLATION_ID }))],
    );
    serde_json::from_slice(&body).unwrap()
}

/// The real CodeQL `created` delivery (rule `java/sql-injection`), on the default branch.
fn code_alert() -> Value {
    let on_master = json!([{
        "ref": "refs/heads/master",
        "state": "open",
        "location": { "path": "src/main/java/com/github/demo/service/BookService.java", "start_line": 84 }
    }]);
    let body = varied(
        &octokit("code_scanning_alert/created.payload.json"),
        &[
            ("installation.id", json!(INSTALLATION_ID)),
            ("alert.instances", on_master),
            ("ref", json!("refs/heads/master")),
        ],
    );
    serde_json::from_slice(&body).unwrap()
}

/// A Lambda function URL request carrying `body` with `headers`.
fn function_request(headers: &[(&str, String)], body: &[u8]) -> lambda_http::Request {
    let headers: serde_json::Map<String, Value> = headers
        .iter()
        .map(|(name, value)| ((*name).to_owned(), json!(value)))
        .chain([("content-type".to_owned(), json!("application/json"))])
        .collect();
    let event = json!({
        "version": "2.0", "routeKey": "$default", "rawPath": "/", "rawQueryString": "",
        "headers": headers,
        "requestContext": {
            "accountId": "anonymous", "apiId": "scantix",
            "domainName": "scantix.lambda-url.eu-west-1.on.aws", "domainPrefix": "scantix",
            "http": { "method": "POST", "path": "/", "protocol": "HTTP/1.1", "sourceIp": "192.0.2.9", "userAgent": "test" },
            "requestId": "r", "routeKey": "$default", "stage": "$default",
            "time": "04/Dec/2026:18:00:00 +0000", "timeEpoch": 1796407200000u64
        },
        "body": String::from_utf8(body.to_vec()).unwrap(),
        "isBase64Encoded": false
    });
    lambda_http::request::from_str(&event.to_string()).unwrap()
}

fn answer_of(response: lambda_http::Response<lambda_http::Body>) -> (u16, Value) {
    (
        response.status().as_u16(),
        serde_json::from_slice(response.body().as_ref()).unwrap(),
    )
}

impl World {
    /// GitHub delivers `payload` (its alert becomes the fake's); the answer.
    async fn github_delivers(&self, event: &str, delivery: &str, payload: &Value) -> Value {
        let kind = match event {
            "secret_scanning_alert" => AlertKind::SecretScanning,
            _ => AlertKind::CodeScanning,
        };
        // The delivery's secret scanning alert is GitHub's short form; GitHub's API holds the
        // whole alert (octocrab's recorded one, renumbered), open.
        let alert = match kind {
            AlertKind::SecretScanning => {
                let number = payload["alert"]["number"].as_u64().unwrap();
                open_alert(kind, number, chrono::Utc::now())
            }
            _ => payload["alert"].clone(),
        };
        self.github.add_alert(OWNER, NAME, kind, alert);
        let bytes = serde_json::to_vec(payload).unwrap();
        let (status, answer) = answer_of(
            handle_github(
                &self.ingest,
                delivery_request(event, delivery, &bytes, None),
            )
            .await
            .unwrap(),
        );
        assert_eq!(status, 200, "{event}: {answer}");
        answer
    }

    /// The stored inbox item `id` applied by the worker, as the table's stream would: what it
    /// recorded.
    async fn worker_applies(&self, id: &str) -> String {
        let item = self
            .store
            .get_inbox(id)
            .await
            .unwrap()
            .expect("stored in the inbox");
        match self.worker.apply(&item).await {
            Applied::Done { outcome } => outcome,
            other => panic!("{id}: {other:?}"),
        }
    }

    /// The business rule reports the record's last change by a person, through the
    /// servicenow-webhook function; the worker applies it.
    async fn servicenow_delivers(&self, sys_id: &str) -> String {
        let (delivery, body) = self
            .servicenow
            .delivery(sys_id, "updated", "abel.tuter", false);
        let headers = [
            ("x-scantix-delivery", delivery.clone()),
            (
                "x-scantix-signature",
                sign_servicenow(RULE_SECRET.as_bytes(), &body),
            ),
        ];
        let (status, answer) = answer_of(
            servicenow_webhook::handle(
                &self.servicenow_receiver,
                function_request(&headers, &body),
            )
            .await
            .unwrap(),
        );
        assert_eq!(status, 202, "{answer}");
        self.worker_applies(&format!("servicenow:{delivery}")).await
    }

    /// Jira delivers `payload` through the jira-webhook function; the worker applies it.
    async fn jira_delivers(&self, id: &str, payload: &Value) -> String {
        let body = serde_json::to_vec(payload).unwrap();
        let headers = [
            ("x-hub-signature", sign(JIRA_SECRET.as_bytes(), &body)),
            ("x-atlassian-webhook-identifier", id.to_owned()),
        ];
        let (status, answer) = answer_of(
            jira_webhook::handle(&self.jira_receiver, function_request(&headers, &body))
                .await
                .unwrap(),
        );
        assert_eq!(status, 202, "{answer}");
        self.worker_applies(&format!("jira:{id}")).await
    }

    /// The secret's group, filed in ServiceNow: its group key and the record's sys_id.
    async fn secret_filed_in_servicenow(&self) -> (String, String) {
        let answer = self
            .github_delivers("secret_scanning_alert", "gh-secret", &secret_alert())
            .await;
        let ticket = &answer["outcome"]["ticket"];
        assert_eq!(ticket["tracker"], "servicenow", "{answer}");
        assert!(self.jira.issue_keys().is_empty(), "nothing in Jira");
        (
            answer["outcome"]["group"].as_str().unwrap().to_owned(),
            ticket["key"].as_str().unwrap().to_owned(),
        )
    }

    async fn group_state(&self, group: &str) -> String {
        let key = scantix_core::identity::GroupKey::from_stored(group);
        let stored = self.store.get_group(&key).await.unwrap().unwrap();
        stored.value.ticket_state.as_str().to_owned()
    }

    fn secret(&self) -> Value {
        let number = secret_alert()["alert"]["number"].as_u64().unwrap();
        self.github
            .alert(OWNER, NAME, AlertKind::SecretScanning, number)
            .unwrap()
    }

    /// Jira gets no call about any ticket: at most the one question, once per process, of which
    /// account is scantix's (`GET /myself`), asked of every tracker of the deployment so that an
    /// echo from any of them is recognised.
    fn assert_jira_not_asked_about_tickets(&self) {
        let about_tickets: Vec<String> = self
            .jira
            .requests()
            .iter()
            .filter(|r| !r.path.ends_with("/myself"))
            .map(|r| format!("{} {}", r.method, r.path))
            .collect();
        assert!(about_tickets.is_empty(), "{about_tickets:?}");
    }

    fn assert_no_violations(&self) {
        self.jira.assert_no_violations();
        self.servicenow.assert_no_violations();
        self.github.assert_no_violations();
    }
}

fn state(record: &serde_json::Map<String, Value>) -> &str {
    record["state"].as_str().unwrap_or_default()
}

#[tokio::test]
async fn a_servicenow_resolution_of_a_routed_group_is_verified_against_github_and_resolves_it() {
    let w = world().await;
    let (group, sys_id) = w.secret_filed_in_servicenow().await;

    // A person resolves the incident while GitHub still reports the secret open: verified, and
    // the incident is reopened in ServiceNow (the tracker the group was filed in), not in Jira.
    w.servicenow.clear_requests();
    w.github.clear_requests();
    w.servicenow.person_sets(
        &sys_id,
        "abel.tuter",
        &[("state", "6"), ("close_code", "Solution provided")],
    );
    assert_eq!(w.servicenow_delivers(&sys_id).await, "applied");
    let rejected_servicenow = w.servicenow.requests().len();
    let rejected_github = w.github.requests().len();
    assert_eq!(state(&w.servicenow.incident(&sys_id).unwrap()), "1");
    assert!(
        w.servicenow
            .journal(&sys_id, "work_notes")
            .last()
            .is_some_and(|n| n.contains("still reports")),
        "the work note says why"
    );
    assert_ne!(w.group_state(&group).await, "resolved");

    // The secret is revoked and resolved in GitHub (no delivery about it reaches scantix); the
    // person resolves the incident again: GitHub agrees, and the group and its finding resolve.
    let mut revoked = w.secret();
    revoked["state"] = json!("resolved");
    revoked["resolution"] = json!("revoked");
    w.github
        .add_alert(OWNER, NAME, AlertKind::SecretScanning, revoked);
    w.servicenow.clear_requests();
    w.github.clear_requests();
    w.jira.clear_requests();
    w.servicenow.person_sets(
        &sys_id,
        "abel.tuter",
        &[("state", "6"), ("close_code", "Solution provided")],
    );
    assert_eq!(w.servicenow_delivers(&sys_id).await, "applied");
    let resolved_servicenow = w.servicenow.requests().len();
    let resolved_github = w.github.requests().len();
    assert!(
        w.github
            .requests()
            .iter()
            .any(|r| r.method == "GET" && r.path.contains("/secret-scanning/alerts/")),
        "verified against GitHub: {:?}",
        w.github.requests()
    );
    assert_eq!(w.group_state(&group).await, "resolved");
    assert_eq!(
        state(&w.servicenow.incident(&sys_id).unwrap()),
        "6",
        "left resolved"
    );
    let key = scantix_core::identity::GroupKey::from_stored(group.clone());
    let open = w.worker_open_findings(&key).await;
    assert_eq!(open, 0, "the secret's finding is resolved");
    w.assert_jira_not_asked_about_tickets();
    w.assert_no_violations();

    println!(
        "routed_servicenow_rejected_closure_calls: servicenow {rejected_servicenow}, github {rejected_github}"
    );
    println!(
        "routed_servicenow_verified_resolution_calls: servicenow {resolved_servicenow}, github {resolved_github}, jira 0"
    );
}

impl World {
    async fn worker_open_findings(&self, key: &scantix_core::identity::GroupKey) -> usize {
        use scantix_core::ports::store::Members;
        self.store
            .group_findings(key, Members::OpenTicketed, None, 100)
            .await
            .unwrap()
            .items
            .len()
    }
}

#[tokio::test]
async fn a_servicenow_cancel_of_a_routed_group_dismisses_the_secret_as_wont_fix() {
    let w = world().await;
    let (group, sys_id) = w.secret_filed_in_servicenow().await;

    w.servicenow
        .person_sets(&sys_id, "abel.tuter", &[("state", "8")]);
    assert_eq!(w.servicenow_delivers(&sys_id).await, "applied");

    let secret = w.secret();
    assert_eq!(secret["state"], "resolved", "{secret}");
    assert_eq!(secret["resolution"], "wont_fix", "{secret}");
    assert!(
        secret["resolution_comment"]
            .as_str()
            .unwrap_or_default()
            .contains("Abel Tuter"),
        "{secret}"
    );
    assert_eq!(state(&w.servicenow.incident(&sys_id).unwrap()), "8");
    assert_ne!(w.group_state(&group).await, "open");
    w.assert_jira_not_asked_about_tickets();
    w.assert_no_violations();
}

#[tokio::test]
async fn a_jira_delivery_cannot_touch_a_group_filed_in_servicenow() {
    jira_cannot_touch_servicenow(Main::Jira).await;
}

/// The same with ServiceNow as the main tracker and Jira a route's: a Jira delivery is no more
/// taken for one about the main tracker's ticket than the other way round.
#[tokio::test]
async fn a_jira_delivery_cannot_touch_a_group_filed_in_the_main_tracker_servicenow() {
    jira_cannot_touch_servicenow(Main::ServiceNow).await;
}

async fn jira_cannot_touch_servicenow(main: Main) {
    let w = world_with(main).await;
    let (group, sys_id) = w.secret_filed_in_servicenow().await;
    // Code scanning goes to Jira, the main tracker.
    let code = w
        .github_delivers("code_scanning_alert", "gh-code", &code_alert())
        .await;
    assert_eq!(code["outcome"]["ticket"]["tracker"], "jira", "{code}");
    let jira_key = code["outcome"]["ticket"]["key"]
        .as_str()
        .unwrap()
        .to_owned();
    let before = w.group_state(&group).await;
    w.servicenow.clear_requests();
    w.github.clear_requests();

    // A genuine, signed Jira "Won't Do", its issue key replaced by the ServiceNow record's id:
    // found under Jira's name only, so it is no scantix ticket.
    let mut wont = w.jira.set_status(&jira_key, "Done", Some("Won't Do"));
    wont["issue"]["key"] = json!(sys_id);
    w.jira_delivers("jira-forged", &wont).await;
    assert_eq!(w.group_state(&group).await, before);
    assert_eq!(w.secret()["state"], "open", "the secret is not dismissed");
    assert!(
        w.servicenow.requests().is_empty(),
        "ServiceNow is not asked"
    );
    assert!(
        !w.github.requests().iter().any(|r| r.method == "PATCH"),
        "nothing is dismissed in GitHub"
    );

    // The real delivery about the Jira ticket still acts on the Jira group only.
    let wont = w.jira.set_status(&jira_key, "Done", Some("Won't Do"));
    assert_eq!(w.jira_delivers("jira-real", &wont).await, "applied");
    assert_eq!(w.secret()["state"], "open");
    let number = code_alert()["alert"]["number"].as_u64().unwrap();
    let code_alert = w
        .github
        .alert(OWNER, NAME, AlertKind::CodeScanning, number)
        .unwrap();
    assert_eq!(code_alert["state"], "dismissed", "{code_alert}");
    assert_eq!(state(&w.servicenow.incident(&sys_id).unwrap()), "1");
    w.assert_no_violations();
}
