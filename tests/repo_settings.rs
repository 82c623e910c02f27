//! Per-repository settings on the webhook path, through the GitHub webhook function's handler and
//! the in-memory GitHub: the org's `.github/scantix.yml` and a repository override both apply,
//! the default Rego policy records test-path alerts, CODEOWNERS picks the assignee, and a broken
//! file is reported once while processing goes on with the defaults.

use github_webhook::handle;
use lambda_http::Body;
use scantix::config::Config;
use scantix::engine::Executor;
use scantix::github::api::MemoryGitHub;
use scantix::github::clients::OneClient;
use scantix::ingest::GithubIngest;
use scantix::repo_settings::{SettingsCache, SettingsSource};
use scantix::secret::Secret;
use scantix::state::TicketState;
use scantix::store::Store;
use scantix::store::memory::MemoryStore;
use scantix::ticket::anatomy::ticket_content;
use scantix::tracker::draft::DraftTracker;
use scantix_tests::webhooks::{SECRET, delivery_request, octokit, varied};
use serde_json::{Value, json};
use std::sync::Arc;
use std::time::Duration;

const ORG_CONFIG: &str = "when-all-fixed: close\ngrouping:\n  code-scanning: file\n";
const REPO_CONFIG: &str =
    "grouping:\n  code-scanning: alert\nowners:\n  \"@acme/backend\": acc-backend\n";
const CODEOWNERS: &str = "* @acme/everyone\nsrc/main/java/ @acme/backend\n";

fn world() -> (Arc<MemoryStore>, Arc<MemoryGitHub>, GithubIngest) {
    let store = Arc::new(MemoryStore::new());
    let github = Arc::new(MemoryGitHub::new());
    let executor = Executor::new(
        store.clone(),
        Arc::new(DraftTracker::new(store.clone())),
        Config::default(),
    );
    let source = SettingsSource {
        clients: Arc::new(OneClient(github.clone())),
        cache: SettingsCache::new(Duration::from_secs(300)),
    };
    let ingest = GithubIngest::new(Secret::new(SECRET), Arc::new(executor)).with_settings(source);
    (store, github, ingest)
}

/// The real CodeQL `created` delivery, on the default branch, as alert `number` at `path`.
fn alert(file: &str, number: u64, path: &str) -> (u64, Vec<u8>) {
    let created: Value =
        serde_json::from_slice(&octokit("code_scanning_alert/created.payload.json")).unwrap();
    let repo = created["repository"]["id"].as_u64().unwrap();
    let body = varied(
        &octokit(&format!("code_scanning_alert/{file}")),
        &[
            ("repository", created["repository"].clone()),
            ("installation", created["installation"].clone()),
            ("alert.number", json!(number)),
            ("alert.rule", created["alert"]["rule"].clone()),
            ("alert.tool", created["alert"]["tool"].clone()),
            (
                "alert.instances",
                json!([{ "ref": "refs/heads/master", "state": "open", "location": { "path": path, "start_line": 84 } }]),
            ),
            ("ref", json!("refs/heads/master")),
        ],
    );
    (repo, body)
}

async fn send(ingest: &GithubIngest, delivery: &str, body: &[u8]) -> Value {
    let response = handle(
        ingest,
        delivery_request("code_scanning_alert", delivery, body, None),
    )
    .await
    .unwrap();
    let status = response.status().as_u16();
    let answer: Value = match response.body() {
        Body::Text(text) => serde_json::from_str(text).unwrap(),
        other => panic!("{other:?}"),
    };
    assert_eq!(status, 200, "{answer}");
    answer
}

#[tokio::test]
async fn org_config_repo_override_policy_and_codeowners_all_apply() {
    let (store, github, ingest) = world();
    let (repo, body) = alert(
        "created.payload.json",
        10,
        "src/main/java/com/github/demo/service/BookService.java",
    );
    github.put_file(0, ".github/scantix.yml", None, ORG_CONFIG); // the org's `.github` repository
    github.put_file(repo, ".github/scantix.yml", None, REPO_CONFIG);
    github.put_file(repo, ".github/CODEOWNERS", None, CODEOWNERS);

    let created = send(&ingest, "d-1", &body).await;
    let key = created["outcome"]["group"].as_str().unwrap().to_owned();
    assert!(
        key.ends_with("/alert:10"),
        "the repository's grouping wins over the org's: {key}"
    );
    let group = store
        .get_group(&scantix::identity::GroupKey::from_stored(key.clone()))
        .await
        .unwrap()
        .unwrap()
        .value;
    assert_eq!(
        ticket_content(&group).assignee.as_deref(),
        Some("acc-backend"),
        "CODEOWNERS' last match, mapped"
    );
    let audit = store.audit_log(&group.key).await.unwrap();
    assert!(
        audit
            .iter()
            .any(|a| a.action == "finding.triaged" && a.reason.starts_with("ticketed")),
        "{audit:#?}"
    );

    // The org's `when-all-fixed: close` applies where the repository says nothing.
    let (_, fixed) = alert(
        "fixed.payload.json",
        10,
        "src/main/java/com/github/demo/service/BookService.java",
    );
    let fixed = varied(&fixed, &[("ref", json!("refs/heads/master"))]);
    let closed = send(&ingest, "d-2", &fixed).await;
    assert_eq!(
        closed["outcome"]["ticket_state"],
        json!(TicketState::Resolved),
        "{closed}"
    );

    // The bundled policy records alerts in test code without a ticket.
    let (_, in_tests) = alert(
        "created.payload.json",
        11,
        "src/test/java/BookServiceTest.java",
    );
    let recorded = send(&ingest, "d-3", &in_tests).await;
    assert_eq!(
        recorded["outcome"]["actions"][0]["action"], "record",
        "{recorded}"
    );
    assert!(github.problem_issues().is_empty());
}

#[tokio::test]
async fn an_invalid_config_is_reported_once_and_processing_goes_on_with_the_defaults() {
    let (_, github, ingest) = world();
    let (repo, body) = alert("created.payload.json", 10, "src/main/java/Book.java");
    github.put_file(
        repo,
        ".github/scantix.yml",
        None,
        "groupping:\n  code-scanning: file\n",
    );

    let first = send(&ingest, "d-1", &body).await;
    assert_eq!(
        first["outcome"]["actions"][0]["action"], "create_ticket",
        "defaults apply: {first}"
    );
    let (_, second) = alert("created.payload.json", 11, "src/main/java/Other.java");
    send(&ingest, "d-2", &second).await;

    let issues = github.problem_issues();
    assert_eq!(
        issues.len(),
        1,
        "one report, not one per delivery: {issues:?}"
    );
    let (_, _, title, body, _) = &issues[0];
    assert!(title.contains("configuration"), "{title}");
    assert!(
        body.contains("line 1") && body.contains("grouping"),
        "says where and how to fix it: {body}"
    );
}
