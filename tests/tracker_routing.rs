//! Routing through the executor: a repository's `.github/scantix.yml` sends secret scanning
//! alerts to ServiceNow and has code scanning tickets copied there, while the deployment's own
//! tracker is Jira; once filed, a group keeps its tracker when the routes change; a copy is owed
//! durably in the group, retried until its tracker takes it, and never doubled. Real GitHub
//! deliveries through the GitHub webhook function's handler, the real Jira and ServiceNow adapters
//! against their fakes (each checking every request against the vendor's API description), the
//! deployment's trackers as `TrackerRoutes` as `scantix-wiring` builds them, and the settings file
//! served by the fake GitHub, scantix acting as the test App.

use github_webhook::handle as handle_github;
use scantix_app::execute::Executor;
use scantix_app::ingest::GithubIngest;
use scantix_app::repo_settings::{SettingsCache, SettingsSource};
use scantix_app::sweep::{Drain, drain_queued};
use scantix_app::tracker_routes::TrackerRoutes;
use scantix_core::config::Config;
use scantix_core::finding::AlertKind;
use scantix_core::ports::github_clients::GitHubClients;
use scantix_core::ports::tracker::Tracker;
use scantix_core::secret::Secret;
use scantix_github::app_auth::{AppCredentials, InstallationTokens};
use scantix_github::clients::AppClients;
use scantix_jira::{self as jira, JiraAuth, JiraSettings, JiraTracker};
use scantix_servicenow::{ServiceNowAuth, ServiceNowSettings, ServiceNowTracker};
use scantix_tests::fake_github::{APP_ID, FakeGitHub, INSTALLATION_ID, app_private_key_pkcs1};
use scantix_tests::fake_jira::{self, CLOUD_API_TOKEN, CLOUD_EMAIL, FakeJira};
use scantix_tests::fake_servicenow::{self, FakeServiceNow};
use scantix_tests::webhooks::{SECRET, delivery_request, octokit, varied};
use serde_json::{Value, json};
use std::sync::Arc;
use std::time::Duration;

/// The repository of octokit's examples.
const OWNER: &str = "Codertocat";
const NAME: &str = "Hello-World";

const ROUTES: &str = "routes:
  - kinds: [secret-scanning]
    tracker: servicenow
  - kinds: [code-scanning]
    also: servicenow
";

struct World {
    executor: Arc<Executor>,
    github: FakeGitHub,
    jira: FakeJira,
    servicenow: FakeServiceNow,
    ingest: GithubIngest,
}

async fn world(settings: &str) -> World {
    let github = FakeGitHub::start().await;
    github.add_file(OWNER, NAME, ".github/scantix.yml", None, settings);
    let credentials = AppCredentials::new(APP_ID, Secret::new(app_private_key_pkcs1()));
    let tokens = Arc::new(InstallationTokens::new(&github.base_url(), &credentials).unwrap());

    let jira = FakeJira::start(fake_jira::Flavor::Cloud).await;
    let own = JiraTracker::new(
        JiraSettings {
            request_timeout_secs: 2,
            ..JiraSettings::new(jira.base_url(), jira::Flavor::Cloud, "SEC")
        },
        JiraAuth::Cloud {
            email: CLOUD_EMAIL.into(),
            api_token: Secret::new(CLOUD_API_TOKEN),
        },
    )
    .unwrap()
    .with_backoff_base(Duration::from_millis(5));
    let servicenow = FakeServiceNow::start().await;
    let other = servicenow_tracker(&servicenow);
    let trackers: Arc<dyn Tracker> =
        Arc::new(TrackerRoutes::new(Arc::new(own), vec![Arc::new(other)]));

    let clients: Arc<dyn GitHubClients> = Arc::new(AppClients::new(tokens));
    let store = Arc::new(scantix_core::memory::store::MemoryStore::new());
    let executor = Arc::new(
        Executor::new(store, trackers.clone(), Config::default())
            .with_github_clients(clients.clone()),
    );
    // Read afresh for every delivery, so that a changed file applies at once.
    let source = SettingsSource {
        clients,
        cache: SettingsCache::new(Duration::ZERO).for_tracker(trackers.site()),
    };
    let ingest = GithubIngest::new(Secret::new(SECRET), executor.clone()).with_settings(source);
    World {
        executor,
        github,
        jira,
        servicenow,
        ingest,
    }
}

/// The real ServiceNow adapter against `fake`.
fn servicenow_tracker(fake: &FakeServiceNow) -> ServiceNowTracker {
    ServiceNowTracker::new(
        ServiceNowSettings::new(fake.base_url()),
        ServiceNowAuth::Basic {
            user: fake_servicenow::USER.into(),
            password: Secret::new(fake_servicenow::PASSWORD),
        },
    )
    .unwrap()
    .with_backoff_base(Duration::from_millis(5))
}

/// The real CodeQL `created` delivery as alert `number` (rule `java/sql-injection`: one group),
/// on the default branch, from the test App's installation.
fn code_alert(number: u64) -> Value {
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

/// The real secret scanning `reopened` delivery, from the test App's installation.
fn secret_alert() -> Value {
    let body = varied(
        &octokit("secret_scanning_alert/reopened.payload.json"),
        &[("installation", json!({ "id": INSTALLATION_ID }))],
    );
    serde_json::from_slice(&body).unwrap()
}

impl World {
    async fn deliver(&self, event: &str, delivery: &str, payload: &Value) -> Value {
        let kind = match event {
            "secret_scanning_alert" => AlertKind::SecretScanning,
            _ => AlertKind::CodeScanning,
        };
        self.github
            .add_alert(OWNER, NAME, kind, payload["alert"].clone());
        let bytes = serde_json::to_vec(payload).unwrap();
        let response = handle_github(
            &self.ingest,
            delivery_request(event, delivery, &bytes, None),
        )
        .await
        .unwrap();
        let status = response.status().as_u16();
        let answer: Value = serde_json::from_slice(response.body().as_ref()).unwrap();
        assert_eq!(status, 200, "{event}: {answer}");
        answer
    }

    /// The group's queued calls, by kind.
    async fn queued(&self, group: &str) -> Vec<String> {
        let key = scantix_core::identity::GroupKey::from_stored(group);
        let stored = self
            .executor
            .store()
            .get_group(&key)
            .await
            .unwrap()
            .unwrap();
        stored
            .value
            .outbox
            .iter()
            .map(|p| {
                serde_json::to_value(&p.op).unwrap()["type"]
                    .as_str()
                    .unwrap_or_default()
                    .to_owned()
            })
            .collect()
    }

    /// The groups ServiceNow's incidents are correlated with.
    fn servicenow_groups(&self) -> Vec<String> {
        self.servicenow
            .incidents()
            .iter()
            .map(|i| i["correlation_id"].as_str().unwrap_or_default().to_owned())
            .collect()
    }
}

fn ticket_of(answer: &Value) -> (String, String) {
    let ticket = &answer["outcome"]["ticket"];
    (
        ticket["tracker"].as_str().unwrap_or_default().to_owned(),
        ticket["key"].as_str().unwrap_or_default().to_owned(),
    )
}

#[tokio::test]
async fn kinds_go_to_their_trackers_and_a_group_keeps_the_one_it_was_filed_in() {
    let w = world(ROUTES).await;

    // Code scanning: the deployment's own tracker, Jira, and a copy in ServiceNow.
    let code = w
        .deliver("code_scanning_alert", "gh-1", &code_alert(1))
        .await;
    assert_eq!(ticket_of(&code), ("jira".into(), "SEC-1".into()), "{code}");
    assert_eq!(w.jira.issue_keys(), ["SEC-1"]);
    let code_group = code["outcome"]["group"].as_str().unwrap().to_owned();
    assert_eq!(
        w.servicenow_groups(),
        std::slice::from_ref(&code_group),
        "the copy"
    );

    // Secret scanning: ServiceNow, and nothing in Jira.
    let secret = w
        .deliver("secret_scanning_alert", "gh-2", &secret_alert())
        .await;
    let (tracker, key) = ticket_of(&secret);
    assert_eq!(tracker, "servicenow", "{secret}");
    assert_eq!(w.servicenow.incidents().len(), 2);
    // Its group key has spaces, so ServiceNow correlates it by its digest label.
    let incident = w.servicenow.incident(&key).unwrap();
    assert!(
        incident["correlation_id"]
            .as_str()
            .unwrap()
            .starts_with("scantix-"),
        "{incident:?}"
    );
    assert_eq!(w.jira.issue_keys(), ["SEC-1"]);

    // The file now sends code scanning to ServiceNow. The group filed in Jira stays there: its
    // next alert updates SEC-1, and ServiceNow gets nothing new.
    w.github.add_file(
        OWNER,
        NAME,
        ".github/scantix.yml",
        None,
        "routes:\n  - kinds: [code-scanning]\n    tracker: servicenow\n",
    );
    let joined = w
        .deliver("code_scanning_alert", "gh-3", &code_alert(2))
        .await;
    assert_eq!(joined["outcome"]["group"], json!(code_group), "{joined}");
    assert_eq!(ticket_of(&joined), ("jira".into(), "SEC-1".into()));
    assert_eq!(w.jira.issue_keys(), ["SEC-1"]);
    assert_eq!(w.servicenow.incidents().len(), 2);
    assert!(
        w.jira
            .requests()
            .iter()
            .any(|r| r.method == "PUT" && r.path.ends_with("/issue/SEC-1")),
        "the Jira ticket took the second alert"
    );
    w.jira.assert_no_violations();
    w.servicenow.assert_no_violations();
    w.github.assert_no_violations();
}

#[tokio::test]
async fn without_routes_everything_goes_to_the_deployments_tracker() {
    let w = world("verify-closure: true\n").await;
    w.deliver("code_scanning_alert", "gh-1", &code_alert(1))
        .await;
    let secret = w
        .deliver("secret_scanning_alert", "gh-2", &secret_alert())
        .await;
    assert_eq!(ticket_of(&secret).0, "jira", "{secret}");
    assert_eq!(w.jira.issue_keys().len(), 2);
    assert!(w.servicenow.incidents().is_empty());
    assert!(
        w.servicenow.requests().is_empty(),
        "ServiceNow is not asked"
    );
    w.jira.assert_no_violations();
}

#[tokio::test]
async fn a_copy_that_fails_stays_queued_is_retried_and_is_never_doubled() {
    let w = world(ROUTES).await;
    // ServiceNow is down for the copy (every attempt of the adapter answers 503).
    w.servicenow.fail_next(&[503; 40]);

    let code = w
        .deliver("code_scanning_alert", "gh-1", &code_alert(1))
        .await;

    // The ticket is filed and the delivery done; the copy is owed, durably, in the group.
    assert_eq!(ticket_of(&code), ("jira".into(), "SEC-1".into()), "{code}");
    assert_eq!(w.jira.issue_keys(), ["SEC-1"]);
    assert!(w.servicenow.incidents().is_empty());
    let group = code["outcome"]["group"].as_str().unwrap().to_owned();
    assert_eq!(w.queued(&group).await, ["copy"], "the copy stays queued");

    // ServiceNow is back: the sweeper's pass over queued work sends it.
    w.servicenow.fail_next(&[]);
    let drained = drain_queued(&w.executor, chrono::Utc::now(), Drain::EveryGroup)
        .await
        .unwrap();
    assert_eq!(drained.drained, 1, "{drained:?}");
    assert_eq!(w.servicenow_groups(), std::slice::from_ref(&group));
    assert!(w.queued(&group).await.is_empty());

    // Nothing sends it again: not another pass, not the group's next alert.
    drain_queued(&w.executor, chrono::Utc::now(), Drain::EveryGroup)
        .await
        .unwrap();
    w.deliver("code_scanning_alert", "gh-2", &code_alert(2))
        .await;
    assert_eq!(w.servicenow_groups(), std::slice::from_ref(&group));
    w.jira.assert_no_violations();
    w.servicenow.assert_no_violations();
}

#[tokio::test]
async fn a_copy_made_by_an_attempt_that_died_is_found_not_sent_twice() {
    let w = world(ROUTES).await;
    w.servicenow.fail_next(&[503; 40]);
    let code = w
        .deliver("code_scanning_alert", "gh-1", &code_alert(1))
        .await;
    let group = code["outcome"]["group"].as_str().unwrap().to_owned();
    assert_eq!(w.queued(&group).await, ["copy"]);
    w.servicenow.fail_next(&[]);

    // An attempt made the copy and died before the group recorded it: ServiceNow holds the
    // group's incident, the group still owes the copy.
    let key = scantix_core::identity::GroupKey::from_stored(group.as_str());
    let stored = w.executor.store().get_group(&key).await.unwrap().unwrap();
    let content = w.executor.render(&stored.value).await.unwrap();
    servicenow_tracker(&w.servicenow)
        .create(&content)
        .await
        .unwrap();
    assert_eq!(w.servicenow.incidents().len(), 1);

    // The retry asks ServiceNow for the group's record (its correlation id) and finds it.
    drain_queued(&w.executor, chrono::Utc::now(), Drain::EveryGroup)
        .await
        .unwrap();
    assert!(w.queued(&group).await.is_empty());
    assert_eq!(
        w.servicenow.incidents().len(),
        1,
        "found, not created again"
    );
    w.servicenow.assert_no_violations();
}

#[tokio::test]
async fn a_route_to_a_tracker_the_deployment_lacks_is_reported_and_audited() {
    // This deployment has Jira and ServiceNow; the file sends secrets to Linear and copies
    // everything to email.
    let w = world(
        "routes:
  - kinds: [secret-scanning]
    tracker: linear
  - also: email
",
    )
    .await;

    let secret = w
        .deliver("secret_scanning_alert", "gh-1", &secret_alert())
        .await;

    // Filed in the deployment's own tracker, as before; no copy anywhere.
    assert_eq!(ticket_of(&secret).0, "jira", "{secret}");
    assert_eq!(w.jira.issue_keys().len(), 1);
    assert!(w.servicenow.incidents().is_empty());

    // The repository is told, in its configuration report, which entries did not apply and
    // where their tickets went.
    let issues: Vec<_> = w
        .github
        .issues(OWNER, NAME)
        .into_iter()
        .filter(|i| i.title.contains("fix the configuration"))
        .collect();
    assert_eq!(issues.len(), 1, "{issues:?}");
    let body = issues[0].body.clone().unwrap_or_default();
    assert!(
        body.contains("entry 1 files tickets in linear")
            && body.contains("(it has jira, servicenow)")
            && body.contains("filed in jira instead"),
        "{body}"
    );
    assert!(
        body.contains("entry 2 sends copies to email") && body.contains("no copy is sent"),
        "{body}"
    );

    // And the group's own chain of custody says it too.
    let group = secret["outcome"]["group"].as_str().unwrap();
    let key = scantix_core::identity::GroupKey::from_stored(group);
    let audit = w.executor.store().audit_log(&key).await.unwrap();
    let unavailable: Vec<_> = audit
        .iter()
        .filter(|e| e.action == "ticket.route_unavailable")
        .collect();
    assert_eq!(unavailable.len(), 1, "{audit:?}");
    assert!(
        unavailable[0].reason.contains("send this group to linear")
            && unavailable[0].reason.contains("filed in jira instead"),
        "{:?}",
        unavailable[0]
    );
    let not_sent: Vec<_> = audit
        .iter()
        .filter(|e| e.action == "ticket.copy_not_sent")
        .collect();
    assert_eq!(not_sent.len(), 1, "{audit:?}");
    assert!(not_sent[0].reason.contains("copy to email"), "{not_sent:?}");
    assert!(w.queued(group).await.is_empty(), "nothing left owed");
    w.jira.assert_no_violations();
}
