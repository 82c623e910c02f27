//! Per-repository settings on the webhook path, through the GitHub webhook function's handler and
//! the in-memory GitHub: the org's `.github/scantix.yml` and a repository override both apply,
//! the default Rego policy records test-path alerts, CODEOWNERS picks the assignee, and a broken
//! file is reported once while processing goes on with the defaults. Against a fake Jira (every
//! request checked against Atlassian's OpenAPI description): a repository whose file names its own
//! Jira project and priority map gets its tickets there, found there again after a crash, while a
//! repository without one files in the deployment's project; a file naming another tracker (a
//! Jira at another address, or Jira on a draft deployment) is reported and the deployment's
//! settings apply.

use github_webhook::handle;
use lambda_http::Body;
use scantix_app::execute::Executor;
use scantix_app::ingest::GithubIngest;
use scantix_app::repo_settings::{SettingsCache, SettingsSource};
use scantix_core::config::Config;
use scantix_core::finding::Severity;
use scantix_core::memory::draft_tracker::DraftTracker;
use scantix_core::memory::github::MemoryGitHub;
use scantix_core::memory::store::MemoryStore;
use scantix_core::ports::github_clients::OneClient;
use scantix_core::ports::store::Store;
use scantix_core::ports::tracker::Tracker;
use scantix_core::records::TicketState;
use scantix_core::secret::Secret;
use scantix_jira::{Flavor, JiraAuth, JiraSettings, JiraTracker};
use scantix_tests::crash::CrashAfterCreate;
use scantix_tests::fake_jira::{self, CLOUD_API_TOKEN, CLOUD_EMAIL, FakeJira, FakeJiraConfig};
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
        Arc::new(DraftTracker::new()),
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
        .get_group(&scantix_core::identity::GroupKey::from_stored(key.clone()))
        .await
        .unwrap()
        .unwrap()
        .value;
    assert_eq!(
        scantix_core::ticket::listing::render(store.as_ref(), &group)
            .await
            .unwrap()
            .assignee
            .as_deref(),
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

// ---------------------------------------------------------------------------------------------
// Where a repository's tickets go within the deployment's tracker
// ---------------------------------------------------------------------------------------------

/// A Jira deployment filing in `SEC` (the fake Jira also has `APPSEC`, and priorities `P1`,
/// `P2`), with each repository's settings read from the in-memory GitHub; the first ticket
/// creation "crashes" right after Jira made the issue if `crash`.
async fn jira_world(crash: bool) -> (FakeJira, Arc<MemoryGitHub>, GithubIngest) {
    let config = FakeJiraConfig {
        other_projects: vec!["APPSEC".into()],
        priorities: ["Highest", "High", "Medium", "Low", "Lowest", "P1", "P2"]
            .map(String::from)
            .to_vec(),
        ..FakeJiraConfig::default()
    };
    let jira = FakeJira::start_with(fake_jira::Flavor::Cloud, config).await;
    let settings = JiraSettings {
        request_timeout_secs: 2,
        ..JiraSettings::new(jira.base_url(), Flavor::Cloud, "SEC")
    };
    let auth = JiraAuth::Cloud {
        email: CLOUD_EMAIL.into(),
        api_token: Secret::new(CLOUD_API_TOKEN),
    };
    let tracker = JiraTracker::new(settings, auth)
        .unwrap()
        .with_backoff_base(Duration::from_millis(5));
    let tracker: Arc<dyn Tracker> = if crash {
        Arc::new(CrashAfterCreate::new(tracker))
    } else {
        Arc::new(tracker)
    };
    let store = Arc::new(MemoryStore::new());
    let github = Arc::new(MemoryGitHub::new());
    let executor = Executor::new(store, tracker, Config::default()).with_github(github.clone());
    let source = SettingsSource {
        clients: Arc::new(OneClient(github.clone())),
        cache: SettingsCache::new(Duration::from_secs(300)),
    };
    let ingest = GithubIngest::new(Secret::new(SECRET), Arc::new(executor)).with_settings(source);
    (jira, github, ingest)
}

/// The real CodeQL `created` delivery of alert `number`, moved to repository `id` / `name` when
/// given (another repository of the same org).
fn alert_of(repository: Option<(u64, &str)>, number: u64, path: &str) -> (u64, Vec<u8>) {
    let created: Value =
        serde_json::from_slice(&octokit("code_scanning_alert/created.payload.json")).unwrap();
    let mut repo = created["repository"].clone();
    if let Some((id, full_name)) = repository {
        repo["id"] = json!(id);
        repo["full_name"] = json!(full_name);
        repo["name"] = json!(full_name.split_once('/').map_or(full_name, |(_, n)| n));
    }
    let id = repo["id"].as_u64().unwrap();
    let (_, body) = alert("created.payload.json", number, path);
    (id, varied(&body, &[("repository", repo)]))
}

/// The priority the fake Jira holds for `key`.
fn priority_of(jira: &FakeJira, key: &str) -> String {
    let issue = jira.snapshot(key).expect("the issue");
    issue.fields["priority"]["name"]
        .as_str()
        .unwrap_or_default()
        .to_owned()
}

/// The ticket key an answer's group ended with.
fn ticket_of(answer: &Value) -> String {
    answer["outcome"]["ticket"]["key"]
        .as_str()
        .unwrap_or_else(|| panic!("no ticket: {answer}"))
        .to_owned()
}

#[tokio::test]
async fn a_repository_files_its_tickets_in_its_own_jira_project_at_its_own_priorities() {
    let (jira, github, ingest) = jira_world(true).await;
    let config = format!(
        "tracker:\n  kind: jira\n  jira:\n    base-url: {}\n    flavor: cloud\n    project: APPSEC\n    \
         labels: [team-appsec]\npriorities:\n  critical: P1\n  high: P1\n  medium: P2\n  low: P2\n  \
         note: P2\n  unknown: P2\n",
        jira.base_url()
    );
    let (own, first) = alert_of(None, 10, "src/main/java/Book.java");
    github.put_file(own, ".github/scantix.yml", None, &config);

    // The first attempt dies right after Jira created the issue; GitHub's redelivery finds it
    // in APPSEC (where it was filed) instead of filing a second one.
    let response = handle(
        &ingest,
        delivery_request("code_scanning_alert", "d-1", &first, None),
    )
    .await
    .unwrap();
    assert_eq!(response.status().as_u16(), 503, "the crash is retryable");
    let retried = send(&ingest, "d-1", &first).await;
    let appsec = ticket_of(&retried);
    assert_eq!(
        jira.issue_keys(),
        std::slice::from_ref(&appsec),
        "one issue, not two"
    );
    let issue = jira.snapshot(&appsec).unwrap();
    assert_eq!(issue.project, "APPSEC");
    assert!(
        issue.labels.contains(&"team-appsec".to_owned()),
        "{:?}",
        issue.labels
    );
    // The fixture's rule is CodeQL `error`: high, which the repository files at P1.
    assert_eq!(severity_of(&ingest, &retried).await, Severity::High);
    let expected = "P1";
    assert_eq!(priority_of(&jira, &appsec), expected);

    // A second alert of the rule joins it; the refreshed ticket keeps the repository's priority.
    let (_, second) = alert_of(None, 11, "src/main/java/Shelf.java");
    let joined = send(&ingest, "d-2", &second).await;
    assert_eq!(ticket_of(&joined), appsec);
    assert_eq!(priority_of(&jira, &appsec), expected);

    // A repository without a config file files in the deployment's project, at its priorities.
    let (_, elsewhere) = alert_of(Some((own + 1, "Codertocat/Other")), 12, "src/App.java");
    let default = ticket_of(&send(&ingest, "d-3", &elsewhere).await);
    let issue = jira.snapshot(&default).unwrap();
    assert_eq!(issue.project, "SEC");
    assert!(!issue.labels.contains(&"team-appsec".to_owned()));
    assert_eq!(
        priority_of(&jira, &default),
        "High",
        "the default map's high"
    );
    let creates = jira.count("POST", "/rest/api/3/issue");
    println!(
        "Jira issue creates: {creates} (one per repository: the crashed attempt's issue was found again, not filed twice)"
    );
    assert_eq!(creates, 2);
    assert!(github.problem_issues().is_empty());
    jira.assert_no_violations();
}

/// The severity of the group an answer names.
async fn severity_of(ingest: &GithubIngest, answer: &Value) -> Severity {
    let key = answer["outcome"]["group"].as_str().unwrap().to_owned();
    let group = ingest
        .executor()
        .store()
        .get_group(&scantix_core::identity::GroupKey::from_stored(key))
        .await
        .unwrap()
        .unwrap()
        .value;
    group.severity()
}

#[tokio::test]
async fn a_tracker_section_naming_another_jira_is_reported_and_the_deployments_project_applies() {
    let (jira, github, ingest) = jira_world(false).await;
    let (repo, body) = alert_of(None, 10, "src/main/java/Book.java");
    github.put_file(
        repo,
        ".github/scantix.yml",
        None,
        "tracker:\n  kind: jira\n  jira:\n    base-url: https://elsewhere.atlassian.net\n    \
         flavor: cloud\n    project: APPSEC\n",
    );

    let key = ticket_of(&send(&ingest, "d-1", &body).await);
    assert_eq!(jira.snapshot(&key).unwrap().project, "SEC");
    let issues = github.problem_issues();
    assert_eq!(issues.len(), 1, "{issues:?}");
    let (_, _, _, report, _) = &issues[0];
    assert!(report.contains("base-url"), "{report}");
    assert!(
        !report.contains(&jira.base_url()),
        "the deployment's Jira address stays out of the repository: {report}"
    );
    jira.assert_no_violations();
}

#[tokio::test]
async fn a_jira_section_on_a_draft_deployment_is_reported_and_drafts_go_on() {
    let (_, github, ingest) = world();
    let (repo, body) = alert("created.payload.json", 10, "src/main/java/Book.java");
    github.put_file(
        repo,
        ".github/scantix.yml",
        None,
        "tracker:\n  kind: jira\n  jira:\n    base-url: https://acme.atlassian.net\n    \
         flavor: cloud\n    project: APPSEC\n",
    );

    let created = send(&ingest, "d-1", &body).await;
    assert_eq!(created["outcome"]["actions"][0]["action"], "create_ticket");
    assert!(ticket_of(&created).starts_with("DRAFT-"), "{created}");
    let issues = github.problem_issues();
    assert_eq!(issues.len(), 1, "{issues:?}");
    let (_, _, title, report, _) = &issues[0];
    assert!(title.contains("configuration"), "{title}");
    assert!(
        report.contains("`tracker.kind` is `jira`") && report.contains("`draft`"),
        "{report}"
    );
}

#[tokio::test]
async fn a_codeowners_file_over_githubs_limit_is_reported_and_hostile_lines_stay_cheap() {
    use scantix_app::repo_settings::load;
    use scantix_core::finding::Repository;
    let github = MemoryGitHub::new();
    let repo = Repository {
        id: 7,
        full_name: "acme/web".into(),
        default_branch: Some("main".into()),
        html_url: None,
    };
    let line = "/services/payments/ @acme/payments\n";
    github.put_file(
        7,
        ".github/CODEOWNERS",
        None,
        &line.repeat(3 * 1024 * 1024 / line.len() + 1),
    );
    let settings = load(&github, &repo).await;
    assert!(
        settings
            .problems
            .iter()
            .any(|p| p.contains(".github/CODEOWNERS") && p.contains("3 MB")),
        "{:?}",
        settings.problems
    );

    // A file of lines written to backtrack: every finding's assignee is still decided at once.
    // (The last matching line wins, so lookups try the hostile lines before the first one.)
    let hostile = "* @acme/everyone\n".to_owned() + &"a*a*a*a*a*a*a*a*b @acme/slow\n".repeat(1_000);
    github.put_file(7, ".github/CODEOWNERS", None, &hostile);
    let settings = load(&github, &repo).await.routed_to(None);
    assert!(settings.problems.is_empty(), "{:?}", settings.problems);
    let owners = settings.owners.as_ref().unwrap();
    assert_eq!(owners.owners_of(&"a".repeat(40)), ["@acme/everyone"]);
}
