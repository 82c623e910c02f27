//! The REST adapter (`RestGitHub`) and the App authentication (`InstallationTokens`) against the
//! fake GitHub, which checks every request against GitHub's OpenAPI description: alert states,
//! dismissals in each kind's spelling, listings of 1,000 alerts, `since`, resumable cursors, rate
//! limits, file contents, problem issues opened once per topic, and installation tokens minted
//! once and reused; every call, the token exchange included, names the REST API version.

use chrono::{DateTime, Duration as Minutes, Utc};
use scantix_core::finding::DismissReason;
use scantix_core::finding::{AlertKind, AlertState, Repository};
use scantix_core::ports::github::{AlertQuery, AlertStateFilter, GitHub, GitHubError};
use scantix_core::secret::Secret;
use scantix_github::app_auth::{AppCredentials, InstallationTokens};
use scantix_github::rest::{RestAuth, RestGitHub};
use scantix_tests::fake_github::{
    API_VERSION, APP_ID, FakeGitHub, Fault, INSTALLATION_ID, PLAIN_TOKEN, app_private_key_pkcs1,
    app_private_key_pkcs8, octocrab_response, open_alert,
};
use serde_json::{Value, json};
use std::collections::BTreeSet;
use std::sync::Arc;
use std::time::Duration;

const OWNER: &str = "octocat";
const REPO: &str = "hello-world";

const CODE: AlertKind = AlertKind::CodeScanning;
const DEPENDABOT: AlertKind = AlertKind::Dependabot;
const SECRETS: AlertKind = AlertKind::SecretScanning;

fn repository() -> Repository {
    Repository {
        id: 1_296_269,
        full_name: format!("{OWNER}/{REPO}"),
        default_branch: Some("main".into()),
        html_url: Some(format!("https://github.com/{OWNER}/{REPO}")),
    }
}

fn tokens(fake: &FakeGitHub, pem: String) -> Arc<InstallationTokens> {
    let credentials = AppCredentials::new(APP_ID, Secret::new(pem));
    Arc::new(InstallationTokens::new(&fake.base_url(), &credentials).expect("valid test key"))
}

/// The Lambda's way: as the App's installation.
fn as_installation(fake: &FakeGitHub) -> RestGitHub {
    RestGitHub::for_installation(tokens(fake, app_private_key_pkcs1()), INSTALLATION_ID)
}

/// The CLI's way: a plain token against a base URL.
fn with_token(fake: &FakeGitHub) -> RestGitHub {
    RestGitHub::new(&fake.base_url(), RestAuth::Token(Secret::new(PLAIN_TOKEN)))
        .expect("a valid base URL")
}

/// The real REST responses of octocrab's test suite: code scanning 1 and 42 (dismissed),
/// Dependabot 1–5 (open), secret scanning 1 (open) and 2 (resolved as a false positive); plus
/// code scanning 7, alert 42 reopened.
fn seed_real_alerts(fake: &FakeGitHub) {
    let multiple = octocrab_response("codescanning_alerts_multiple.json");
    fake.add_alert(OWNER, REPO, CODE, multiple[0].clone());
    fake.add_alert(
        OWNER,
        REPO,
        CODE,
        octocrab_response("codescanning_alert_single.json"),
    );
    fake.add_alert(OWNER, REPO, CODE, open_alert(CODE, 7, noon()));
    for alert in as_list(octocrab_response("check_dependabot_alerts.json")) {
        fake.add_alert(OWNER, REPO, DEPENDABOT, alert);
    }
    for alert in as_list(octocrab_response("check_secrets_alerts.json")) {
        fake.add_alert(OWNER, REPO, SECRETS, alert);
    }
}

fn as_list(value: Value) -> Vec<Value> {
    value.as_array().cloned().expect("a list response")
}

fn noon() -> DateTime<Utc> {
    "2026-03-01T12:00:00Z".parse().expect("a timestamp")
}

/// `count` open alerts of `kind`, alert n updated n minutes after noon.
fn seed_many(fake: &FakeGitHub, kind: AlertKind, count: u64) {
    for number in 1..=count {
        let updated = noon() + Minutes::minutes(number as i64);
        fake.add_alert(OWNER, REPO, kind, open_alert(kind, number, updated));
    }
}

fn list_calls(fake: &FakeGitHub, kind: AlertKind) -> usize {
    fake.count("GET", &format!("/repos/*/*/{}/alerts", kind.as_str()))
}

#[tokio::test]
async fn alert_states_read_from_real_responses_of_each_kind() {
    let fake = FakeGitHub::start().await;
    seed_real_alerts(&fake);
    let github = with_token(&fake);
    let repo = repository();

    for (kind, number, expected) in [
        (CODE, 42, AlertState::Dismissed),
        (CODE, 7, AlertState::Open),
        (DEPENDABOT, 3, AlertState::Open),
        (SECRETS, 1, AlertState::Open),
        (SECRETS, 2, AlertState::Dismissed),
    ] {
        let state = github
            .alert_state(&repo, kind, number)
            .await
            .expect("a state");
        assert_eq!(state, expected, "{kind} {number}");
    }
    let missing = github.alert_state(&repo, DEPENDABOT, 999).await;
    assert!(
        matches!(missing, Err(GitHubError::NotFound(_))),
        "{missing:?}"
    );

    // scantix never asks for the secret itself.
    let secret_reads: Vec<_> = fake
        .requests()
        .into_iter()
        .filter(|r| r.path.contains("/secret-scanning/"))
        .collect();
    assert!(
        secret_reads.iter().all(|r| r.query == "hide_secret=true"),
        "{secret_reads:?}"
    );
    fake.assert_no_violations();
}

#[tokio::test]
async fn alerts_are_assigned_in_each_kinds_field_and_a_refused_login_is_an_error() {
    let fake = FakeGitHub::start().await;
    seed_real_alerts(&fake);
    let github = as_installation(&fake);
    let repo = repository();
    for (kind, number) in [(CODE, 7), (DEPENDABOT, 3), (SECRETS, 1)] {
        github
            .assign_alert(&repo, kind, number, Some("carol"))
            .await
            .expect("assigned");
    }
    let assigned = |kind, number| fake.alert(OWNER, REPO, kind, number).unwrap();
    assert_eq!(assigned(CODE, 7)["assignees"][0]["login"], "carol");
    assert_eq!(assigned(DEPENDABOT, 3)["assignees"][0]["login"], "carol");
    assert_eq!(assigned(SECRETS, 1)["assigned_to"]["login"], "carol");
    // Nobody: each kind's way of clearing it.
    for (kind, number) in [(CODE, 7), (DEPENDABOT, 3), (SECRETS, 1)] {
        github
            .assign_alert(&repo, kind, number, None)
            .await
            .expect("unassigned");
    }
    let patches: Vec<Value> = fake
        .requests()
        .into_iter()
        .filter(|r| r.method == "PATCH")
        .filter_map(|r| r.body)
        .collect();
    assert_eq!(
        patches,
        [
            json!({"assignees": ["carol"]}),
            json!({"assignees": ["carol"]}),
            json!({"assignee": "carol"}),
            json!({"assignees": []}),
            json!({"assignees": []}),
            json!({"assignee": null}),
        ]
    );
    assert_eq!(assigned(CODE, 7)["assignees"], json!([]));
    assert_eq!(assigned(SECRETS, 1)["assigned_to"], Value::Null);
    // A login GitHub cannot assign is refused, not retried.
    fake.refuse_assignee("mallory");
    let refused = github
        .assign_alert(&repo, CODE, 7, Some("mallory"))
        .await
        .unwrap_err();
    assert!(!refused.is_retryable(), "{refused}");
    fake.assert_no_violations();
}

#[tokio::test]
async fn dismissals_use_each_kinds_spelling_and_leave_closed_alerts_alone() {
    let fake = FakeGitHub::start().await;
    seed_real_alerts(&fake);
    let github = as_installation(&fake);
    let repo = repository();
    let long_comment = "Accepted risk: the endpoint is internal. ".repeat(10);

    for (kind, number) in [(CODE, 7), (DEPENDABOT, 3), (SECRETS, 1)] {
        github
            .dismiss_alert(&repo, kind, number, DismissReason::WontFix, &long_comment)
            .await
            .expect("dismissed");
    }
    let patches: Vec<Value> = fake
        .requests()
        .into_iter()
        .filter(|r| r.method == "PATCH")
        .filter_map(|r| r.body)
        .collect();
    let cut: String = long_comment.chars().take(279).chain(['…']).collect();
    assert_eq!(
        patches,
        [
            json!({"state": "dismissed", "dismissed_reason": "won't fix", "dismissed_comment": cut}),
            json!({"state": "dismissed", "dismissed_reason": "tolerable_risk", "dismissed_comment": cut}),
            json!({"state": "resolved", "resolution": "wont_fix", "resolution_comment": long_comment.trim()}),
        ]
    );
    let stored = fake.alert(OWNER, REPO, CODE, 7).expect("alert 7");
    assert_eq!(
        (
            stored["state"].as_str(),
            stored["dismissed_reason"].as_str()
        ),
        (Some("dismissed"), Some("won't fix"))
    );
    let stored = fake.alert(OWNER, REPO, SECRETS, 1).expect("secret 1");
    assert_eq!(
        (stored["state"].as_str(), stored["resolution"].as_str()),
        (Some("resolved"), Some("wont_fix"))
    );
    for (kind, number) in [(CODE, 7), (DEPENDABOT, 3), (SECRETS, 1)] {
        assert_eq!(
            github.alert_state(&repo, kind, number).await.unwrap(),
            AlertState::Dismissed
        );
    }

    // Already closed (by a person, with their own reason): no PATCH overwrites it.
    fake.clear_requests();
    github
        .dismiss_alert(&repo, CODE, 42, DismissReason::FalsePositive, "scantix")
        .await
        .expect("a no-op");
    assert_eq!(fake.count("PATCH", "/repos/**"), 0);
    let stored = fake.alert(OWNER, REPO, CODE, 42).expect("alert 42");
    assert_eq!(stored["dismissed_reason"], "false positive");

    // Reopening: `state=open` for each kind; an open alert is left alone.
    for (kind, number) in [(CODE, 7), (DEPENDABOT, 3), (SECRETS, 1), (DEPENDABOT, 4)] {
        github
            .reopen_alert(&repo, kind, number)
            .await
            .expect("reopened");
    }
    assert_eq!(fake.count("PATCH", "/repos/**"), 3);
    for (kind, number) in [(CODE, 7), (DEPENDABOT, 3), (SECRETS, 1)] {
        assert_eq!(
            github.alert_state(&repo, kind, number).await.unwrap(),
            AlertState::Open
        );
        assert_eq!(
            fake.alert(OWNER, REPO, kind, number).unwrap()["state"],
            "open"
        );
    }
    fake.assert_no_violations();
}

#[tokio::test]
async fn the_fake_refuses_a_reason_spelt_for_another_kind() {
    let fake = FakeGitHub::start().await;
    seed_real_alerts(&fake);
    let client = reqwest::Client::new();
    let patch = |kind: &str, number: u64, body: Value| {
        client
            .patch(format!(
                "{}/repos/{OWNER}/{REPO}/{kind}/alerts/{number}",
                fake.base_url()
            ))
            .bearer_auth(PLAIN_TOKEN)
            .header("x-github-api-version", API_VERSION)
            .json(&body)
            .send()
    };

    // Secret scanning's spelling sent to code scanning, and code scanning's to Dependabot.
    let answer = patch(
        "code-scanning",
        7,
        json!({"state": "dismissed", "dismissed_reason": "wont_fix"}),
    )
    .await
    .expect("an answer");
    assert_eq!(answer.status(), 400);
    let answer = patch(
        "dependabot",
        3,
        json!({"state": "dismissed", "dismissed_reason": "won't fix"}),
    )
    .await
    .expect("an answer");
    assert_eq!(answer.status(), 400);

    let violations = fake.take_violations();
    assert_eq!(violations.len(), 2, "{violations:#?}");
    assert!(
        violations[0].contains("body.dismissed_reason") && violations[0].contains("\"wont_fix\""),
        "{}",
        violations[0]
    );
    assert!(
        violations[1].contains("body.dismissed_reason") && violations[1].contains("\"won't fix\""),
        "{}",
        violations[1]
    );
    assert_eq!(
        fake.alert(OWNER, REPO, CODE, 7).unwrap()["state"],
        "open",
        "nothing changed"
    );
    fake.assert_no_violations();
}

#[tokio::test]
async fn a_thousand_alerts_of_each_kind_list_in_ten_calls() {
    let fake = FakeGitHub::start().await;
    let github = as_installation(&fake);
    let repo = repository();
    for kind in [CODE, DEPENDABOT, SECRETS] {
        seed_many(&fake, kind, 1000);
        let findings = github
            .list_all_alerts(&repo, kind, &AlertQuery::open())
            .await
            .expect("listed");
        let calls = list_calls(&fake, kind);
        eprintln!("{kind}: {} findings in {calls} list calls", findings.len());
        assert!((10..=11).contains(&calls), "{kind}: {calls} list calls");
        assert_eq!(findings.len(), 1000, "{kind}");
        let numbers: BTreeSet<u64> = findings.iter().map(|f| f.number).collect();
        assert_eq!(numbers.len(), 1000, "{kind}: no alert twice");
        assert_eq!(
            findings[0].number, 1000,
            "{kind}: most recently updated first"
        );
        assert!(
            findings
                .iter()
                .all(|f| f.kind == kind && f.repository == repo && f.state == AlertState::Open)
        );
        let first_page = fake
            .requests()
            .into_iter()
            .find(|r| r.path.ends_with(&format!("/{}/alerts", kind.as_str())))
            .expect("a list call");
        assert!(
            first_page.query.contains("per_page=100"),
            "{}",
            first_page.query
        );
    }
    fake.assert_no_violations();
}

#[tokio::test]
async fn since_stops_the_listing_at_the_first_older_alert() {
    let fake = FakeGitHub::start().await;
    let github = as_installation(&fake);
    let repo = repository();
    for kind in [CODE, DEPENDABOT] {
        seed_many(&fake, kind, 1000);
        let query = AlertQuery {
            since: Some(noon() + Minutes::minutes(851)),
            ..AlertQuery::default()
        };
        let findings = github
            .list_all_alerts(&repo, kind, &query)
            .await
            .expect("listed");
        let numbers: Vec<u64> = findings.iter().map(|f| f.number).collect();
        assert_eq!(numbers, (851..=1000).rev().collect::<Vec<_>>(), "{kind}");
        assert_eq!(
            list_calls(&fake, kind),
            2,
            "{kind}: stops on the second page"
        );
    }
    fake.assert_no_violations();
}

#[tokio::test]
async fn a_stored_cursor_resumes_the_listing_in_a_later_invocation() {
    let fake = FakeGitHub::start().await;
    let repo = repository();
    for kind in [DEPENDABOT, SECRETS, CODE] {
        seed_many(&fake, kind, 250);
        let query = AlertQuery {
            state: Some(AlertStateFilter::Open),
            per_page: 100,
            ..AlertQuery::default()
        };
        let first = as_installation(&fake)
            .list_alerts(&repo, kind, &query)
            .await
            .expect("page 1");
        let stored: String = first.next.clone().expect("more to come");
        let expected_style = if kind == DEPENDABOT {
            "after="
        } else {
            "page="
        };
        assert!(stored.starts_with(expected_style), "{kind}: {stored}");

        // A new cold start: new client, new token, the cursor from storage.
        let rest = as_installation(&fake)
            .list_all_alerts(&repo, kind, &query.at(Some(stored)))
            .await
            .expect("the rest");
        let mut numbers: Vec<u64> = first.findings.iter().map(|f| f.number).collect();
        numbers.extend(rest.iter().map(|f| f.number));
        assert_eq!(numbers, (1..=250).rev().collect::<Vec<_>>(), "{kind}");
    }
    fake.assert_no_violations();
}

#[tokio::test]
async fn rate_limits_surface_with_the_wait_github_asks_for() {
    let fake = FakeGitHub::start().await;
    seed_real_alerts(&fake);
    let github = as_installation(&fake);
    let repo = repository();

    fake.inject_rate_limit(1, 17);
    let err = github
        .alert_state(&repo, DEPENDABOT, 1)
        .await
        .expect_err("rate limited");
    assert!(err.is_retryable());
    assert_eq!(err.retry_after(), Some(Duration::from_secs(17)), "{err}");
    assert_eq!(
        fake.count("GET", "/repos/**"),
        1,
        "no retry of its own: it would prolong the limit"
    );
    assert_eq!(
        github.alert_state(&repo, DEPENDABOT, 1).await.unwrap(),
        AlertState::Open
    );

    fake.inject(Fault::PrimaryRateLimit { reset_in_secs: 120 }, 1);
    let err = github
        .list_alerts(&repo, CODE, &AlertQuery::default())
        .await
        .expect_err("rate limited");
    let wait = err.retry_after().expect("a wait").as_secs();
    assert!((118..=121).contains(&wait), "{err}");

    // A read is repeated through a 5xx (the shared client's policy: three attempts) …
    let reads = fake.count("GET", "/repos/**");
    fake.inject(Fault::Status(502), 1);
    let read = github.read_file(&repo, "README.md", None).await;
    assert!(!matches!(read, Err(GitHubError::Retryable(_))), "{read:?}");
    assert_eq!(
        fake.count("GET", "/repos/**"),
        reads + 2,
        "one 502, one retry"
    );
    // … until the attempts run out: then the queue retries the event.
    fake.inject(Fault::Status(502), 3);
    let err = github
        .read_file(&repo, "README.md", None)
        .await
        .expect_err("502");
    assert!(matches!(err, GitHubError::Retryable(_)), "{err}");
    assert_eq!(fake.count("GET", "/repos/**"), reads + 5);
    fake.inject(Fault::Status(422), 1);
    let err = github
        .dismiss_alert(&repo, DEPENDABOT, 2, DismissReason::WontFix, "")
        .await
        .expect_err("422");
    assert!(
        matches!(&err, GitHubError::Refused(m) if m.contains("Injected failure")),
        "{err}"
    );
    fake.assert_no_violations();
}

#[tokio::test]
async fn files_are_read_on_the_default_branch_or_a_ref() {
    let fake = FakeGitHub::start().await;
    seed_real_alerts(&fake);
    let config = "jira:\n  project: SEC\n# déjà vu: ünïcode survives base64\n";
    fake.add_file(OWNER, REPO, ".github/scantix.yml", None, config);
    fake.add_file(
        OWNER,
        REPO,
        ".github/scantix.yml",
        Some("release/2.x"),
        "jira: {}\n",
    );
    let github = as_installation(&fake);
    let repo = repository();

    let read = |git_ref| github.read_file(&repo, ".github/scantix.yml", git_ref);
    assert_eq!(read(None).await.unwrap().as_deref(), Some(config));
    assert_eq!(
        read(Some("release/2.x")).await.unwrap().as_deref(),
        Some("jira: {}\n")
    );
    assert_eq!(read(Some("main-old")).await.unwrap(), None);
    assert_eq!(
        github
            .read_file(&repo, "no/such/file.yml", None)
            .await
            .unwrap(),
        None
    );
    let directory = github.read_file(&repo, ".github", None).await;
    assert!(
        matches!(directory, Err(GitHubError::Refused(_))),
        "{directory:?}"
    );
    fake.assert_no_violations();
}

#[tokio::test]
async fn a_problem_issue_is_opened_once_per_topic_and_updated_in_place() {
    let fake = FakeGitHub::start().await;
    // A closed issue of the topic (a person fixed the file once) and an open one of someone else.
    let closed = fake.add_issue(
        OWNER,
        REPO,
        "old config problem",
        &["scantix-config"],
        "closed",
    );
    fake.add_issue(OWNER, REPO, "Crash on start", &["bug"], "open");
    let github = as_installation(&fake);
    let repo = repository();
    let title = "scantix cannot read .github/scantix.yml";
    let first_body = "```\nline 3: unknown field `jira-projet`, expected `jira` <b>ü</b>\n```";
    let second_body = "```\nline 7: invalid type: string \"high\", expected a number\n```";

    let opened = github
        .upsert_problem_issue(&repo, "config", title, first_body)
        .await
        .unwrap();
    let updated = github
        .upsert_problem_issue(&repo, "config", title, second_body)
        .await
        .unwrap();
    let other = github
        .upsert_problem_issue(&repo, "jira-access", "scantix cannot reach Jira", "401")
        .await
        .unwrap();

    assert_eq!(opened, 3, "the closed issue of the topic is left alone");
    assert_eq!(updated, opened, "the second upsert updates the first issue");
    assert_eq!(other, 4);
    let issues = fake.issues(OWNER, REPO);
    let mine: Vec<_> = issues
        .iter()
        .filter(|i| i.labels.iter().any(|l| l.starts_with("scantix-")))
        .map(|i| (i.number, i.labels.clone(), i.state.as_str(), i.updates))
        .collect();
    assert_eq!(
        mine,
        [
            (closed, vec!["scantix-config".to_owned()], "closed", 0),
            (3, vec!["scantix-config".to_owned()], "open", 1),
            (4, vec!["scantix-jira-access".to_owned()], "open", 0),
        ]
    );
    assert_eq!(issues[2].title, title);
    assert_eq!(
        issues[2].body.as_deref(),
        Some(second_body),
        "the body is kept as given"
    );
    assert_eq!(fake.count("GET", "/repos/*/*/issues"), 3);
    assert_eq!(fake.count("POST", "/repos/*/*/issues"), 2);
    assert_eq!(fake.count("PATCH", "/repos/*/*/issues/*"), 1);
    let listing = fake
        .requests()
        .into_iter()
        .find(|r| r.method == "GET")
        .expect("a listing");
    assert_eq!(listing.query, "labels=scantix-config&state=open&per_page=1");
    fake.assert_no_violations();
}

#[tokio::test]
async fn an_installation_token_is_minted_once_and_reused_across_invocations() {
    let fake = FakeGitHub::start().await;
    seed_real_alerts(&fake);
    let repo = repository();
    // Built once per cold start, with the key in PKCS#8 this time.
    let tokens = tokens(&fake, app_private_key_pkcs8());

    for _invocation in 0..2 {
        let github = RestGitHub::for_installation(Arc::clone(&tokens), INSTALLATION_ID);
        github.alert_state(&repo, CODE, 42).await.expect("a state");
        github
            .list_alerts(&repo, DEPENDABOT, &AlertQuery::default())
            .await
            .expect("a page");
    }
    assert_eq!(fake.tokens_issued(), 1);
    assert_eq!(fake.count("POST", "/app/installations/*/access_tokens"), 1);
    let bearers: BTreeSet<Option<String>> = fake
        .requests()
        .into_iter()
        .filter(|r| r.path.starts_with("/repos/"))
        .map(|r| r.bearer)
        .collect();
    assert_eq!(bearers, BTreeSet::from([Some("ghs_fake0001".to_owned())]));
    fake.assert_no_violations();
}

#[tokio::test]
async fn tokens_are_replaced_near_expiry_and_when_github_refuses_them() {
    let fake = FakeGitHub::start().await;
    seed_real_alerts(&fake);
    let repo = repository();
    let github = as_installation(&fake);

    // A token with less than five minutes left is not used.
    fake.set_token_lifetime(Minutes::minutes(4));
    github.alert_state(&repo, CODE, 7).await.unwrap();
    github.alert_state(&repo, CODE, 7).await.unwrap();
    assert_eq!(fake.tokens_issued(), 2);

    fake.set_token_lifetime(Minutes::hours(1));
    github.alert_state(&repo, CODE, 7).await.unwrap();
    github.alert_state(&repo, CODE, 7).await.unwrap();
    assert_eq!(fake.tokens_issued(), 3);

    // Revoked behind our back: the 401 drops it, and the call goes through with a new one.
    fake.revoke_tokens();
    assert_eq!(
        github.alert_state(&repo, CODE, 7).await.unwrap(),
        AlertState::Open
    );
    assert_eq!(fake.tokens_issued(), 4);

    // A JWT of another App is not accepted: the exchange fails, and says so.
    let stranger = AppCredentials::new(APP_ID + 1, Secret::new(app_private_key_pkcs1()));
    let stranger = InstallationTokens::new(&fake.base_url(), &stranger).expect("a valid key");
    let err = stranger.token(INSTALLATION_ID).await.expect_err("refused");
    assert!(
        matches!(&err, GitHubError::Unauthorized { credential, detail }
            if credential.contains("JWT") && detail.starts_with("401")),
        "{err}"
    );
    assert_eq!(fake.tokens_issued(), 4);
    fake.assert_no_violations();
}

#[tokio::test]
async fn the_fake_refuses_a_request_that_names_no_api_version_or_another_one() {
    let fake = FakeGitHub::start().await;
    seed_real_alerts(&fake);
    let url = format!(
        "{}/repos/{OWNER}/{REPO}/code-scanning/alerts/7",
        fake.base_url()
    );
    let get = |version: Option<&str>| {
        let mut request = reqwest::Client::new()
            .get(&url)
            .bearer_auth(PLAIN_TOKEN)
            .header("accept", "application/vnd.github+json");
        if let Some(version) = version {
            request = request.header("x-github-api-version", version);
        }
        request.send()
    };
    assert_eq!(get(Some(API_VERSION)).await.unwrap().status(), 200);
    assert!(fake.violations().is_empty());

    assert_eq!(get(None).await.unwrap().status(), 400);
    assert_eq!(get(Some("2026-03-10")).await.unwrap().status(), 400);
    // Twice, even the right one: GitHub would read "2022-11-28, 2022-11-28".
    let twice = reqwest::Client::new()
        .get(&url)
        .bearer_auth(PLAIN_TOKEN)
        .header("x-github-api-version", API_VERSION)
        .header("x-github-api-version", API_VERSION)
        .send()
        .await
        .unwrap();
    assert_eq!(twice.status(), 400);
    let violations = fake.take_violations();
    assert_eq!(violations.len(), 3, "{violations:?}");
    assert!(violations[0].contains("no X-GitHub-Api-Version header"));
    assert!(violations[1].contains("`2026-03-10`"));
    assert!(violations[2].contains("2 times"));
}

#[tokio::test]
async fn every_call_names_the_api_version_the_client_was_written_for() {
    let fake = FakeGitHub::start().await;
    seed_real_alerts(&fake);
    fake.add_file(
        OWNER,
        REPO,
        ".github/scantix.yml",
        None,
        "verify-closure: true\n",
    );
    let repo = repository();
    for github in [as_installation(&fake), with_token(&fake)] {
        github.alert_state(&repo, CODE, 42).await.expect("a state");
        github
            .list_alerts(&repo, DEPENDABOT, &AlertQuery::default())
            .await
            .expect("a page");
        github
            .read_file(&repo, ".github/scantix.yml", None)
            .await
            .expect("the file");
        github
            .dismiss_alert(&repo, CODE, 7, DismissReason::WontFix, "not ours")
            .await
            .expect("dismissed");
        github
            .upsert_problem_issue(&repo, "config", "scantix: fix the configuration", "body")
            .await
            .expect("an issue");
    }
    let requests = fake.requests();
    // The token exchange (App JWT) and the calls with the tokens, of both kinds.
    assert_eq!(fake.count("POST", "/app/installations/*/access_tokens"), 1);
    assert!(requests.len() >= 11, "{}", requests.len());
    for request in &requests {
        assert_eq!(
            request.api_version.as_deref(),
            Some(API_VERSION),
            "{} {}",
            request.method,
            request.path
        );
    }
    fake.assert_no_violations();
}
