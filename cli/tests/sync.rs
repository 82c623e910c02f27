//! `scantix sync` as a user runs it: the real binary against the fake GitHub (which checks every
//! request against GitHub's OpenAPI description), with the token in an environment variable.
//! Given 250 open code scanning alerts of three rules plus one Dependabot and one secret scanning
//! alert, the first run backfills them into one ticket per rule (and per other alert) in 3 + 1 + 1
//! list calls; the second run reads one page per kind and applies nothing. A token GitHub refuses
//! (401) fails the command naming its variable. `--org` walks an organisation's repositories: those
//! GitHub lists (`GET /orgs/{org}/repos`, checked against GitHub's description of it), resuming
//! after a rate limit, or those its recorded installation covers, without a listing.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    reason = "test code: a failed assumption is the test failing"
)]

use chrono::{Duration, Utc};
use scantix_core::finding::AlertKind;
use scantix_tests::fake_github::{FakeGitHub, Fault, PLAIN_TOKEN, open_alert};
use scantix_tests::fake_jira::{self, CLOUD_API_TOKEN, CLOUD_EMAIL, FakeJira};
use serde_json::{Value, json};
use std::collections::BTreeMap;
use std::path::PathBuf;
use std::process::{Command, Output};

const OWNER: &str = "octocat";
const REPO: &str = "hello-world";
const REPO_ID: &str = "1296269";
/// Not `GITHUB_TOKEN`: the token travels in a variable the test names with `--token-env`.
const TOKEN_VAR: &str = "SCANTIX_TEST_SYNC_TOKEN";
const RULES: [&str; 3] = ["js/zipslip", "js/sql-injection", "js/xss"];

/// A fresh folder for one test's store, removed at the end.
struct Scratch(PathBuf);

impl Scratch {
    fn new(test: &str) -> Scratch {
        let dir =
            std::env::temp_dir().join(format!("scantix-cli-sync-{test}-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).expect("temporary folder");
        Scratch(dir)
    }

    /// `scantix --store <store> <args>`, with the token in `TOKEN_VAR` and nothing else of the
    /// caller's environment that scantix reads.
    fn scantix(&self, token: Option<&str>, args: &[&str]) -> Output {
        self.scantix_with(token, args, &[])
    }

    /// The same, with `env` set besides.
    fn scantix_with(&self, token: Option<&str>, args: &[&str], env: &[(&str, String)]) -> Output {
        let mut command = Command::new(env!("CARGO_BIN_EXE_scantix"));
        command
            .arg("--store")
            .arg(self.0.join("store.json"))
            .args(args)
            .env("RUST_LOG", "error");
        for var in [
            "SCANTIX_STORE",
            "SCANTIX_CONFIG",
            "SCANTIX_TRACKER",
            "GITHUB_TOKEN",
            "GITHUB_API_URL",
            TOKEN_VAR,
        ] {
            command.env_remove(var);
        }
        if let Some(token) = token {
            command.env(TOKEN_VAR, token);
        }
        for (var, value) in env {
            command.env(var, value);
        }
        command.output().expect("run scantix")
    }
}

impl Drop for Scratch {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

fn sync(scratch: &Scratch, fake: &FakeGitHub, token: Option<&str>) -> Output {
    let api = fake.base_url();
    scratch.scantix(
        token,
        &[
            "sync",
            "--repo",
            &format!("{OWNER}/{REPO}"),
            "--repo-id",
            REPO_ID,
            "--api-url",
            &api,
            "--token-env",
            TOKEN_VAR,
        ],
    )
}

fn report(output: &Output) -> Value {
    assert!(
        output.status.success(),
        "scantix sync failed ({}):\nstdout: {}\nstderr: {}",
        output.status,
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    );
    serde_json::from_slice(&output.stdout).expect("the report is JSON")
}

/// 250 code scanning alerts, rule by number modulo 3, last updated a month ago (before any
/// run's start, so a reconciliation finds none of them changed); one alert of each other kind.
fn seed(fake: &FakeGitHub) {
    seed_repo(fake, OWNER, REPO, 250);
    let month_ago = Utc::now() - Duration::days(30);
    fake.add_alert(
        OWNER,
        REPO,
        AlertKind::Dependabot,
        open_alert(AlertKind::Dependabot, 1, month_ago),
    );
    fake.add_alert(
        OWNER,
        REPO,
        AlertKind::SecretScanning,
        open_alert(AlertKind::SecretScanning, 1, month_ago),
    );
}

fn list_calls(fake: &FakeGitHub, kind: AlertKind) -> usize {
    fake.count("GET", &format!("/repos/*/*/{}/alerts", kind.as_str()))
}

fn tickets(scratch: &Scratch) -> Value {
    let output = scratch.scantix(None, &["tickets", "--json"]);
    assert!(
        output.status.success(),
        "{}",
        String::from_utf8_lossy(&output.stderr)
    );
    serde_json::from_slice(&output.stdout).expect("tickets --json prints JSON")
}

// A multi-threaded runtime: the fake serves on its workers while the test waits for the binary.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_backfill_groups_250_alerts_per_rule_and_a_second_run_applies_nothing() {
    let fake = FakeGitHub::start().await;
    seed(&fake);
    let scratch = Scratch::new("backfill");

    let first = report(&sync(&scratch, &fake, Some(PLAIN_TOKEN)));
    let calls = [
        AlertKind::CodeScanning,
        AlertKind::Dependabot,
        AlertKind::SecretScanning,
    ]
    .map(|k| list_calls(&fake, k));
    println!("first run: {first}; list calls per kind (code, dependabot, secret): {calls:?}");
    assert_eq!(calls, [3, 1, 1], "100 alerts a page");
    assert_eq!(
        first,
        json!({"list_calls": 5, "alerts_seen": 252, "applied": 252, "unchanged": 0, "groups_synced": 5, "kinds_skipped": 0, "complete": true})
    );
    fake.assert_no_violations();
    assert!(
        fake.requests()
            .iter()
            .all(|r| r.bearer.as_deref() == Some(PLAIN_TOKEN))
    );

    let listing = tickets(&scratch);
    let all = listing["tickets"].as_array().expect("tickets");
    assert_eq!(
        all.len(),
        5,
        "one per rule, one Dependabot, one secret: {listing:#}"
    );
    let per_rule: BTreeMap<&str, u64> = all
        .iter()
        .filter(|t| {
            t["group"]
                .as_str()
                .is_some_and(|g| g.contains("/code-scanning/"))
        })
        .map(|t| {
            let group = t["group"].as_str().unwrap_or_default();
            let rule = RULES
                .into_iter()
                .find(|r| group.ends_with(r))
                .unwrap_or_else(|| panic!("{group}"));
            (rule, t["total"].as_u64().unwrap_or_default())
        })
        .collect();
    assert_eq!(
        per_rule,
        BTreeMap::from([("js/sql-injection", 84), ("js/xss", 83), ("js/zipslip", 83)])
    );
    assert!(
        all.iter()
            .all(|t| t["state"] == "draft" && t["repository"] == format!("{OWNER}/{REPO}"))
    );

    // Nothing changed on GitHub: one page per kind, and the first alert is already older than
    // the last complete read, so nothing is applied and the tickets stay as they were.
    fake.clear_requests();
    let second = report(&sync(&scratch, &fake, Some(PLAIN_TOKEN)));
    println!("second run: {second}");
    assert_eq!(
        second,
        json!({"list_calls": 3, "alerts_seen": 0, "applied": 0, "unchanged": 0, "groups_synced": 0, "kinds_skipped": 0, "complete": true})
    );
    assert_eq!(tickets(&scratch), listing);

    // One alert fixed since: the reconciliation applies exactly that change. GitHub stamps
    // changes in whole seconds, and the last complete read started within this second.
    std::thread::sleep(std::time::Duration::from_millis(1100));
    let mut fixed = open_alert(AlertKind::CodeScanning, 7, Utc::now());
    fixed["rule"]["id"] = json!(RULES[1]);
    fixed["rule"]["name"] = json!(RULES[1]);
    fixed["state"] = json!("fixed");
    fixed["fixed_at"] = json!(scantix_tests::fake_github::github_time(Utc::now()));
    fake.add_alert(OWNER, REPO, AlertKind::CodeScanning, fixed);
    let third = report(&sync(&scratch, &fake, Some(PLAIN_TOKEN)));
    assert_eq!(
        (third["applied"].as_u64(), third["groups_synced"].as_u64()),
        (Some(1), Some(1)),
        "{third}"
    );
    fake.assert_no_violations();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_missing_or_refused_token_fails_the_command_and_says_where_it_was_read() {
    let fake = FakeGitHub::start().await;
    seed(&fake);
    let scratch = Scratch::new("token");

    let missing = sync(&scratch, &fake, None);
    assert!(!missing.status.success());
    let stderr = String::from_utf8_lossy(&missing.stderr);
    assert!(stderr.contains(TOKEN_VAR), "{stderr}");
    assert!(fake.requests().is_empty(), "nothing sent without a token");

    // GitHub answers 401: a refused token, not a repository with nothing enabled. The command
    // fails at the first listing and says which variable the token came from.
    let refused = sync(&scratch, &fake, Some("ghp_not_a_token_the_fake_knows"));
    assert!(!refused.status.success());
    let stderr = String::from_utf8_lossy(&refused.stderr);
    assert!(
        stderr.contains("GitHub refused the token in") && stderr.contains(TOKEN_VAR),
        "{stderr}"
    );
    assert!(stderr.contains("401"), "{stderr}");
    assert!(
        !stderr.contains("ghp_not_a_token"),
        "never the token itself: {stderr}"
    );
    assert_eq!(
        fake.count("GET", "/repos/*/*/*/alerts"),
        1,
        "stopped at the first 401, not tried on every kind"
    );
    assert!(
        tickets(&scratch)["tickets"]
            .as_array()
            .is_some_and(Vec::is_empty)
    );

    let bad_name = scratch.scantix(
        Some(PLAIN_TOKEN),
        &["sync", "--repo", "hello-world", "--repo-id", REPO_ID],
    );
    assert!(!bad_name.status.success());
    assert!(String::from_utf8_lossy(&bad_name.stderr).contains("OWNER/NAME"));
}

const ORG: &str = "octo-org";

fn sync_org(scratch: &Scratch, fake: &FakeGitHub, token: Option<&str>, org: &str) -> Output {
    let api = fake.base_url();
    scratch.scantix(
        token,
        &[
            "sync",
            "--org",
            org,
            "--api-url",
            &api,
            "--token-env",
            TOKEN_VAR,
        ],
    )
}

/// `count` open code scanning alerts of `owner/repo`, of the three rules in turn, a month old.
fn seed_repo(fake: &FakeGitHub, owner: &str, repo: &str, count: u64) {
    let month_ago = Utc::now() - Duration::days(30);
    for number in 1..=count {
        let mut alert = open_alert(
            AlertKind::CodeScanning,
            number,
            month_ago + Duration::minutes(number as i64),
        );
        let rule = RULES[(number % 3) as usize];
        alert["rule"]["id"] = json!(rule);
        alert["rule"]["name"] = json!(rule);
        fake.add_alert(owner, repo, AlertKind::CodeScanning, alert);
    }
}

/// Tickets per repository, and their findings in all.
fn tickets_by_repository(scratch: &Scratch) -> (BTreeMap<String, usize>, u64) {
    let listing = tickets(scratch);
    let all = listing["tickets"].as_array().cloned().unwrap_or_default();
    let mut per_repo = BTreeMap::new();
    let mut findings = 0;
    for ticket in &all {
        let repo = ticket["repository"].as_str().unwrap_or_default().to_owned();
        *per_repo.entry(repo).or_insert(0) += 1;
        findings += ticket["total"].as_u64().unwrap_or_default();
    }
    (per_repo, findings)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_org_is_walked_through_its_listing_and_a_rate_limit_stops_the_walk_until_the_next_run() {
    let fake = FakeGitHub::start().await;
    // Listed newest first: docs (no security features: every kind answers 404), web, api.
    fake.add_repository(ORG, "api", 101);
    fake.add_repository(ORG, "web", 102);
    fake.add_repository(ORG, "docs", 103);
    seed_repo(&fake, ORG, "api", 150);
    seed_repo(&fake, ORG, "web", 20);
    fake.inject_on(
        "GET",
        &format!("/repos/{ORG}/api/code-scanning/alerts"),
        Some("page=2"),
        Fault::SecondaryRateLimit {
            retry_after_secs: 60,
        },
        1,
    );
    let scratch = Scratch::new("org");

    let first = sync_org(&scratch, &fake, Some(PLAIN_TOKEN), ORG);
    let stderr = String::from_utf8_lossy(&first.stderr).into_owned();
    let first = report(&first);
    println!("first run: {first}");
    assert_eq!(first["source"], "listing");
    let walked: Vec<&str> = first["repositories"]
        .as_array()
        .expect("repositories")
        .iter()
        .map(|r| r["repository"].as_str().unwrap_or_default())
        .collect();
    assert_eq!(walked, ["octo-org/docs", "octo-org/web", "octo-org/api"]);
    assert_eq!(first["repositories"][0]["report"]["kinds_skipped"], 3);
    assert_eq!(
        (
            &first["total"]["applied"],
            &first["total"]["complete"],
            &first["repositories"][2]["report"]["complete"]
        ),
        (&json!(120), &json!(false), &json!(false)),
        "web whole, api's first page, then the rate limit"
    );
    assert!(
        stderr.contains("rate limit stopped the sync at octo-org/api"),
        "{stderr}"
    );
    assert_eq!(fake.count("GET", &format!("/orgs/{ORG}/repos")), 1);

    // The next run resumes: api from its second page; web only reconciled.
    fake.clear_requests();
    let second = report(&sync_org(&scratch, &fake, Some(PLAIN_TOKEN), ORG));
    println!("second run: {second}");
    assert_eq!(second["total"]["applied"], 50, "{second}");
    assert_eq!(second["total"]["complete"], true);
    assert_eq!(
        fake.count("GET", &format!("/repos/{ORG}/api/code-scanning/alerts")),
        1,
        "resumed at page 2, not restarted"
    );
    let (per_repo, findings) = tickets_by_repository(&scratch);
    assert_eq!(
        per_repo,
        BTreeMap::from([
            ("octo-org/api".to_owned(), 3),
            ("octo-org/web".to_owned(), 3)
        ])
    );
    assert_eq!(findings, 170);
    fake.assert_no_violations();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_org_with_a_recorded_installation_is_walked_through_its_record_without_a_listing() {
    let fake = FakeGitHub::start().await;
    // The repository octokit's `installation` created example covers.
    seed_repo(&fake, "Codertocat", "Hello-World", 30);
    let scratch = Scratch::new("org-installation");
    let installation = scantix_tests::webhooks::fixture_path(
        "github-webhooks/octokit-webhooks/payload-examples/api.github.com/installation/created.payload.json",
    );
    let delivered = scratch.scantix(None, &["deliver", &installation.to_string_lossy()]);
    assert!(
        delivered.status.success(),
        "{}",
        String::from_utf8_lossy(&delivered.stderr)
    );

    let synced = report(&sync_org(&scratch, &fake, Some(PLAIN_TOKEN), "codertocat"));
    assert_eq!(synced["source"], "installation", "{synced}");
    assert_eq!(
        synced["repositories"][0]["repository"],
        "Codertocat/Hello-World"
    );
    assert_eq!(synced["total"]["applied"], 30);
    assert_eq!(
        fake.count("GET", "/orgs/**"),
        0,
        "the record says what to read"
    );
    let (per_repo, _) = tickets_by_repository(&scratch);
    assert_eq!(
        per_repo,
        BTreeMap::from([("Codertocat/Hello-World".to_owned(), 3)])
    );
    fake.assert_no_violations();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_org_listing_refused_or_empty_fails_and_says_what_to_check() {
    let fake = FakeGitHub::start().await;
    fake.add_repository(ORG, "api", 101);
    let scratch = Scratch::new("org-refused");

    let refused = sync_org(&scratch, &fake, Some("ghp_not_a_token_the_fake_knows"), ORG);
    assert!(!refused.status.success());
    let stderr = String::from_utf8_lossy(&refused.stderr);
    assert!(
        stderr.contains("GitHub refused the token in") && stderr.contains(TOKEN_VAR),
        "{stderr}"
    );

    let unknown = sync_org(&scratch, &fake, Some(PLAIN_TOKEN), "no-such-org");
    assert!(!unknown.status.success());
    let stderr = String::from_utf8_lossy(&unknown.stderr);
    assert!(
        stderr.contains("no-such-org") && stderr.contains("--org"),
        "{stderr}"
    );

    let invalid = sync_org(&scratch, &fake, Some(PLAIN_TOKEN), "octo/org");
    assert!(!invalid.status.success());
    assert!(String::from_utf8_lossy(&invalid.stderr).contains("organisation name"));
    let both = scratch.scantix(
        Some(PLAIN_TOKEN),
        &[
            "sync",
            "--org",
            ORG,
            "--repo",
            "octo/hello",
            "--repo-id",
            "1",
        ],
    );
    assert!(!both.status.success(), "--org or --repo, not both");
    fake.assert_no_violations();
}

/// Two code scanning alerts of two rules: a high one in application code, and one in test code.
fn seed_app_and_test_alerts(fake: &FakeGitHub) {
    let month_ago = Utc::now() - Duration::days(30);
    fake.add_alert(
        OWNER,
        REPO,
        AlertKind::CodeScanning,
        open_alert(AlertKind::CodeScanning, 1, month_ago),
    );
    let mut in_tests = open_alert(AlertKind::CodeScanning, 2, month_ago);
    in_tests["rule"]["id"] = json!("js/xss");
    in_tests["rule"]["name"] = json!("js/xss");
    in_tests["most_recent_instance"]["location"]["path"] = json!("test/fixtures/render.js");
    fake.add_alert(OWNER, REPO, AlertKind::CodeScanning, in_tests);
}

/// The groups' rules, ticketed and not.
fn rules_by_fate(scratch: &Scratch) -> (Vec<String>, Vec<String>) {
    let listing = tickets(scratch);
    let rules = |list: &str, field: &str| -> Vec<String> {
        let mut rules: Vec<String> = listing[list]
            .as_array()
            .into_iter()
            .flatten()
            .filter_map(|g| g[field].as_str())
            .map(|g| g.rsplit(':').next().unwrap_or(g).to_owned())
            .collect();
        rules.sort();
        rules
    };
    (rules("tickets", "group"), rules("untracked", "rule"))
}

// Listed alerts are judged as deliveries are: by the bundled policy without --config (it records
// alerts in test code), by the settings file's policy with it.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn listed_alerts_are_judged_by_the_bundled_policy_or_the_configs() {
    let fake = FakeGitHub::start().await;
    seed_app_and_test_alerts(&fake);

    let bundled = Scratch::new("bundled-policy");
    report(&sync(&bundled, &fake, Some(PLAIN_TOKEN)));
    assert_eq!(
        rules_by_fate(&bundled),
        (vec!["js/zipslip".to_owned()], vec!["js/xss".to_owned()]),
        "the alert in test code is recorded, not ticketed"
    );

    let configured = Scratch::new("config-policy");
    let config = configured.0.join("scantix.yml");
    std::fs::write(
        &config,
        "policy: |\n  package scantix\n\n  import rego.v1\n\n  \
         decision := {\"triage\": \"record\", \"reason\": \"recorded: this team files by hand\"}\n",
    )
    .expect("write the settings");
    let api = fake.base_url();
    let output = configured.scantix(
        Some(PLAIN_TOKEN),
        &[
            "--config",
            &config.to_string_lossy(),
            "sync",
            "--repo",
            &format!("{OWNER}/{REPO}"),
            "--repo-id",
            REPO_ID,
            "--api-url",
            &api,
            "--token-env",
            TOKEN_VAR,
        ],
    );
    assert_eq!(report(&output)["applied"], 2);
    assert_eq!(
        rules_by_fate(&configured),
        (vec![], vec!["js/xss".to_owned(), "js/zipslip".to_owned()])
    );
    fake.assert_no_violations();
}

/// The environment that files tickets in `jira` (Cloud), each call tried once: an outage fails
/// fast instead of waiting out retries.
fn jira_env(jira: &FakeJira) -> Vec<(&'static str, String)> {
    let settings = json!({
        "base-url": jira.base_url(),
        "flavor": "cloud",
        "project": "SEC",
        "max-attempts": 1,
        "request-timeout-secs": 5,
    });
    vec![
        ("SCANTIX_TRACKER", "jira".to_owned()),
        ("JIRA_SETTINGS", settings.to_string()),
        ("JIRA_EMAIL", CLOUD_EMAIL.to_owned()),
        ("JIRA_API_TOKEN", CLOUD_API_TOKEN.to_owned()),
    ]
}

// A sync while Jira is down records the alerts and advances the sync position; its tickets stay
// queued. The next run reads nothing new from GitHub (the alerts did not change), yet must make
// the queued Jira calls, as the deployed sweeper would: before, it reported `complete: true`, made
// no Jira call, and the tickets stayed queued for good.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn tickets_queued_during_a_jira_outage_are_made_by_the_next_run() {
    let github = FakeGitHub::start().await;
    seed_app_and_test_alerts(&github);
    let jira = FakeJira::start(fake_jira::Flavor::Cloud).await;
    let env = jira_env(&jira);
    let scratch = Scratch::new("jira-outage");
    let api = github.base_url();
    let args = [
        "sync",
        "--repo",
        &format!("{OWNER}/{REPO}"),
        "--repo-id",
        REPO_ID,
        "--api-url",
        &api,
        "--token-env",
        TOKEN_VAR,
    ];

    // Jira answers 503 to everything.
    jira.inject(fake_jira::Fault::Status(503), 10_000);
    let during = scratch.scantix_with(Some(PLAIN_TOKEN), &args, &env);
    let stderr = String::from_utf8_lossy(&during.stderr).into_owned();
    assert!(!during.status.success(), "the outage is reported: {stderr}");
    assert!(jira.issue_keys().is_empty());
    let listing = tickets(&scratch);
    assert_eq!(
        listing["tickets"].as_array().map(Vec::len),
        Some(0),
        "{listing:#}"
    );

    // Jira is back. GitHub has nothing new: the run reconciles nothing, and makes the calls.
    jira.clear_faults();
    jira.clear_requests();
    let after = report(&scratch.scantix_with(Some(PLAIN_TOKEN), &args, &env));
    assert_eq!(
        (after["applied"].as_u64(), after["complete"].as_bool()),
        (Some(0), Some(true)),
        "{after}"
    );
    assert_eq!(
        jira.issue_keys(),
        ["SEC-1"],
        "the ticket queued during the outage (the test-code alert is only recorded)"
    );
    let listing = tickets(&scratch);
    let ticket = &listing["tickets"][0];
    assert_eq!(
        (ticket["key"].as_str(), ticket["tracker"].as_str()),
        (Some("SEC-1"), Some("jira")),
        "{listing:#}"
    );

    // Nothing is left queued: a third run makes no Jira call at all.
    jira.clear_requests();
    report(&scratch.scantix_with(Some(PLAIN_TOKEN), &args, &env));
    assert_eq!(jira.requests().len(), 0, "{:?}", jira.requests());
    jira.assert_no_violations();
    github.assert_no_violations();
    // What the outage run told the user.
    assert!(stderr.contains("run the same command again"), "{stderr}");
}
