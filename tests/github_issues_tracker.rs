//! The GitHub Issues adapter against the fake GitHub, which checks every request against GitHub's
//! REST description, acting as the test App (installation looked up, token minted): what each
//! tracker call does to the issue, how many GitHub calls it takes, that creating and commenting
//! stay single when answers are lost, and what the adapter makes of GitHub's refusals and faults.

use scantix_core::identity::GroupKey;
use scantix_core::ports::tracker::{Tracker, TrackerError};
use scantix_core::records::TicketState;
use scantix_core::secret::Secret;
use scantix_core::ticket::STALE_LABEL;
use scantix_core::ticket::{TicketContent, markdown};
use scantix_github::app_auth::{AppCredentials, InstallationTokens};
use scantix_github_issues::{GithubIssuesSettings, GithubIssuesTracker, IssuesAuth};
use scantix_tests::fake_github::{
    API_VERSION, APP_ID, FakeGitHub, Fault, INSTALLATION_ID, PLAIN_TOKEN, app_private_key_pkcs1,
};
use scantix_tests::records::sample_finding;
use std::sync::Arc;
use std::time::Duration;

/// `sample_finding(4242, _)`'s repository.
const OWNER: &str = "acme";
const REPO: &str = "shop-4242";
const ISSUES: &str = "/repos/acme/shop-4242/issues";

fn tokens(fake: &FakeGitHub) -> Arc<InstallationTokens> {
    let credentials = AppCredentials::new(APP_ID, Secret::new(app_private_key_pkcs1()));
    Arc::new(InstallationTokens::new(&fake.base_url(), &credentials).expect("the test App's key"))
}

/// The adapter as a Lambda builds it at cold start: as the App, tickets in each alert's
/// repository unless `central` names one (fast backoff for tests).
fn adapter(fake: &FakeGitHub, central: Option<&str>) -> GithubIssuesTracker {
    let settings = GithubIssuesSettings {
        repository: central.map(str::to_owned),
        ..GithubIssuesSettings::default()
    };
    GithubIssuesTracker::new(settings, IssuesAuth::App(tokens(fake)))
        .expect("valid settings")
        .with_backoff_base(Duration::from_millis(5))
}

/// The ticket content of a real-shaped group of its own (a CodeQL alert `number` of rule
/// `js/rule-<number>`), owned by `octocat`.
fn content(number: u64) -> TicketContent {
    let mut finding = sample_finding(4242, number);
    finding.rule.id = format!("js/rule-{number}");
    let mut content = scantix_core::testing::ticket_of(std::slice::from_ref(&finding)).unwrap();
    content.assignee = Some("octocat".into());
    content
}

/// Every call since the last look, as `METHOD path`, forgotten once read.
fn calls(fake: &FakeGitHub) -> Vec<String> {
    let requests = fake.requests();
    fake.clear_requests();
    requests
        .iter()
        .map(|r| format!("{} {}", r.method, r.path))
        .collect()
}

/// Mints the token and finds the installation (once per cold start and repository), so the
/// calls counted next are the operation's own.
async fn warmed(fake: &FakeGitHub, central: Option<&str>) -> GithubIssuesTracker {
    let tracker = adapter(fake, central);
    tracker.find_for(&content(999)).await.expect("a listing");
    calls(fake);
    tracker
}

fn setting_of(e: &TrackerError) -> &str {
    match e {
        TrackerError::Misconfigured { setting, .. } => setting,
        other => panic!("expected Misconfigured, got {other:?}"),
    }
}

#[tokio::test]
async fn every_call_names_the_rest_api_version() {
    let fake = FakeGitHub::start().await;
    // The installation lookup (App JWT), the token exchange, then the issue calls.
    let tracker = adapter(&fake, None);
    let (ticket, _) = tracker.create(&content(1)).await.expect("created");
    tracker
        .comment(&ticket, "note-1", "A note.")
        .await
        .expect("commented");
    let requests = fake.requests();
    assert!(
        requests.iter().any(|r| r.path.ends_with("/installation"))
            && requests.iter().any(|r| r.path.ends_with("/access_tokens"))
            && requests
                .iter()
                .any(|r| r.method == "POST" && r.path == ISSUES),
        "{:?}",
        calls(&fake)
    );
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

#[tokio::test]
async fn a_new_ticket_is_an_issue_in_the_alerts_repository() {
    let fake = FakeGitHub::start().await;
    let github = adapter(&fake, None);
    let content = content(7);

    // The executor's order: look where the group files it, then create.
    assert_eq!(github.find_for(&content).await.unwrap(), None);
    let (ticket, state) = github.create(&content).await.unwrap();

    assert_eq!(
        calls(&fake),
        [
            "GET /repos/acme/shop-4242/installation".to_owned(),
            format!("POST /app/installations/{INSTALLATION_ID}/access_tokens"),
            format!("GET {ISSUES}"),
            format!("POST {ISSUES}"),
        ],
        "one listing, one create: `create` trusts the miss `find_for` just had"
    );
    assert_eq!(state, TicketState::Open);
    assert_eq!(ticket.tracker, "github");
    assert_eq!(ticket.key, "acme/shop-4242#1");
    assert_eq!(
        ticket.url.as_deref(),
        Some("https://github.com/acme/shop-4242/issues/1")
    );
    let issue = fake.issue(OWNER, REPO, 1).unwrap();
    assert_eq!(issue.title, content.title);
    assert_eq!(
        issue.labels,
        [
            "scantix",
            "severity:high",
            content.group_key.label().as_str(),
            "code-scanning"
        ]
    );
    assert_eq!(issue.assignees, ["octocat"]);
    assert_eq!(issue.author, "scantix[bot]");
    let body = issue.body.unwrap();
    assert!(body.contains("### Findings (1)"), "{body}");
    assert!(body.ends_with(&format!("{}\n", markdown::group_marker(&content.group_key))));

    // Found again by the label and the marker.
    assert_eq!(github.find_for(&content).await.unwrap(), Some(ticket));
    let searched = fake.requests();
    assert_eq!(
        searched[0].query,
        format!(
            "labels={}&state=all&per_page=100",
            content.group_key.label()
        )
    );
    fake.assert_no_violations();
}

#[tokio::test]
async fn a_central_repository_takes_every_ticket_and_is_searched_by_group_key() {
    let fake = FakeGitHub::start().await;
    let github = adapter(&fake, Some("acme/Security-Tickets"));
    let mut other_repo = content(8);
    other_repo.repository = "globex/api".into();

    let (first, _) = github.create(&content(7)).await.unwrap();
    let (second, _) = github.create(&other_repo).await.unwrap();

    assert_eq!(first.key, "acme/security-tickets#1");
    assert_eq!(second.key, "acme/security-tickets#2");
    assert!(fake.issues("acme", "shop-4242").is_empty());
    assert!(fake.issues("globex", "api").is_empty());
    // Without content, the central repository is where to look: a fresh process finds it.
    calls(&fake);
    let after_restart = adapter(&fake, Some("acme/security-tickets"));
    let found = after_restart
        .find_by_group_key(&content(7).group_key)
        .await
        .unwrap();
    assert_eq!(found, Some(first));
    let other = GroupKey::from_stored("4242/code-scanning/rule:CodeQL:js/none");
    assert_eq!(after_restart.find_by_group_key(&other).await.unwrap(), None);
    let listings = calls(&fake)
        .iter()
        .filter(|c| *c == "GET /repos/acme/security-tickets/issues")
        .count();
    assert_eq!(listings, 2);
    fake.assert_no_violations();
}

#[tokio::test]
async fn a_person_labelling_another_issue_does_not_make_it_the_ticket() {
    let fake = FakeGitHub::start().await;
    let content = content(7);
    // Someone put the group's label on an issue of their own (no marker in its body).
    fake.add_issue(
        OWNER,
        REPO,
        "lookalike",
        &[&content.group_key.label()],
        "open",
    );
    let github = adapter(&fake, None);

    assert_eq!(github.find_for(&content).await.unwrap(), None);
    let (ticket, _) = github.create(&content).await.unwrap();

    assert_eq!(ticket.key, "acme/shop-4242#2");
    assert_eq!(github.find_for(&content).await.unwrap(), Some(ticket));
    fake.assert_no_violations();
}

#[tokio::test]
async fn a_create_whose_answer_was_lost_yields_one_issue() {
    let fake = FakeGitHub::start().await;
    let github = warmed(&fake, None).await;
    // GitHub creates the issue, but the answer is a proxy's 502.
    fake.inject_on("POST", ISSUES, None, Fault::AnswerLost(502), 1);

    let (ticket, state) = github.create(&content(7)).await.unwrap();

    assert_eq!(fake.issues(OWNER, REPO).len(), 1, "no second issue");
    assert_eq!(ticket.key, "acme/shop-4242#1");
    assert_eq!(state, TicketState::Open);
    assert_eq!(
        calls(&fake),
        [
            format!("GET {ISSUES}"),
            format!("POST {ISSUES}"),
            format!("GET {ISSUES}")
        ],
        "looked, posted (answer lost), looked again and found it"
    );

    // A 503 before GitHub acted: looked again, found nothing, posted again.
    fake.inject_on("POST", ISSUES, None, Fault::Status(503), 1);
    let (second, _) = github.create(&content(8)).await.unwrap();
    assert_eq!(second.key, "acme/shop-4242#2");
    assert_eq!(calls(&fake).len(), 4);
    assert_eq!(fake.issues(OWNER, REPO).len(), 2);
    fake.assert_no_violations();
}

#[tokio::test]
async fn a_restarted_adapter_finds_the_ticket_before_creating_another() {
    let fake = FakeGitHub::start().await;
    let content = content(7);
    // GitHub created it, then the process died before the store recorded it.
    let (created, _) = adapter(&fake, None).create(&content).await.unwrap();
    calls(&fake);

    let after_restart = adapter(&fake, None);
    // A group key alone names no repository: without a central one there is nowhere to look.
    assert_eq!(
        after_restart
            .find_by_group_key(&content.group_key)
            .await
            .unwrap(),
        None
    );
    assert!(calls(&fake).is_empty());
    let (again, _) = after_restart.create(&content).await.unwrap();

    assert_eq!(again, created);
    assert_eq!(fake.issues(OWNER, REPO).len(), 1);
    assert_eq!(fake.count("POST", ISSUES), 0, "create looked first");
    fake.assert_no_violations();
}

#[tokio::test]
async fn an_update_rewrites_the_ticket_keeps_other_labels_and_is_quiet_when_nothing_changed() {
    let fake = FakeGitHub::start().await;
    let github = warmed(&fake, None).await;
    let mut content = content(7);
    let (ticket, _) = github.create(&content).await.unwrap();
    github
        .transition(&ticket, TicketState::Stale)
        .await
        .unwrap();
    calls(&fake);

    content.title = "CWE-89: SQL injection everywhere (2 alerts)".into();
    content.severity = scantix_core::finding::Severity::Critical;
    content.labels[1] = "severity:critical".into();
    github.update(&ticket, &content).await.unwrap();

    assert_eq!(
        calls(&fake),
        [format!("GET {ISSUES}/1"), format!("PATCH {ISSUES}/1")]
    );
    let issue = fake.issue(OWNER, REPO, 1).unwrap();
    assert_eq!(issue.title, "CWE-89: SQL injection everywhere (2 alerts)");
    assert!(issue.labels.contains(&"severity:critical".to_owned()));
    assert!(
        !issue.labels.contains(&"severity:high".to_owned()),
        "{:?}",
        issue.labels
    );
    assert!(
        issue.labels.contains(&STALE_LABEL.to_owned()),
        "stale stays until a move"
    );
    assert_eq!(
        issue.assignees,
        ["octocat"],
        "assignees are people's after creation"
    );

    github.update(&ticket, &content).await.unwrap();
    assert_eq!(
        calls(&fake),
        [format!("GET {ISSUES}/1")],
        "nothing to change"
    );
    fake.assert_no_violations();
}

#[tokio::test]
async fn comments_are_posted_once_per_id_and_say_nothing_live() {
    let fake = FakeGitHub::start().await;
    let github = warmed(&fake, None).await;
    let (ticket, _) = github.create(&content(7)).await.unwrap();
    calls(&fake);
    let hostile = "Reopened: GitHub still reports 2 alerts open:\n- alert 10 (src/x.js:3 @admin <img src=x onerror=alert(1)>) see #12";

    github
        .comment(&ticket, "scantix-0a1b2c3d4e5f-4", hostile)
        .await
        .unwrap();
    let first = calls(&fake);
    github
        .comment(&ticket, "scantix-0a1b2c3d4e5f-4", hostile)
        .await
        .unwrap();
    let repeat = calls(&fake);
    github
        .comment(&ticket, "scantix-0a1b2c3d4e5f-5", "Fixed.")
        .await
        .unwrap();

    let comments_path = format!("{ISSUES}/1/comments");
    assert_eq!(
        first,
        [
            format!("GET {comments_path}"),
            format!("POST {comments_path}")
        ]
    );
    assert_eq!(repeat, [format!("GET {comments_path}")]);
    let comments = fake.comments(OWNER, REPO, 1);
    assert_eq!(comments.len(), 2);
    let shown = &comments[0].body;
    assert!(
        !shown.contains("@admin") && !shown.contains("<img") && !shown.contains("#12"),
        "{shown}"
    );
    assert!(
        shown.starts_with("Reopened\\: GitHub still reports 2 alerts open\\:\n\\- alert 10"),
        "{shown}"
    );
    assert!(shown.ends_with("<!-- scantix:comment=scantix%2D0a1b2c3d4e5f%2D4 -->"));
    fake.assert_no_violations();
}

#[tokio::test]
async fn a_repeated_comment_is_recognised_beyond_the_first_page() {
    let fake = FakeGitHub::start().await;
    let github = warmed(&fake, None).await;
    let (ticket, _) = github.create(&content(7)).await.unwrap();
    for n in 0..150 {
        fake.add_comment(OWNER, REPO, 1, &format!("me too #{n}"), "someone");
    }
    github.comment(&ticket, "c-1", "Closed.").await.unwrap();
    calls(&fake);

    github.comment(&ticket, "c-1", "Closed.").await.unwrap();

    assert_eq!(fake.comments(OWNER, REPO, 1).len(), 151);
    let read: Vec<String> = fake
        .requests()
        .iter()
        .map(|r| format!("{} {}?{}", r.method, r.path, r.query))
        .collect();
    assert_eq!(
        read,
        [
            format!("GET {ISSUES}/1/comments?per_page=100&page=1"),
            format!("GET {ISSUES}/1/comments?per_page=100&page=2")
        ],
        "both pages read, nothing posted"
    );
    fake.assert_no_violations();
}

#[tokio::test]
async fn a_comment_whose_answer_was_lost_is_posted_once() {
    let fake = FakeGitHub::start().await;
    let github = warmed(&fake, None).await;
    let (ticket, _) = github.create(&content(7)).await.unwrap();
    fake.inject_on(
        "POST",
        &format!("{ISSUES}/1/comments"),
        None,
        Fault::AnswerLost(502),
        1,
    );

    github.comment(&ticket, "c-1", "Closed.").await.unwrap();

    assert_eq!(fake.comments(OWNER, REPO, 1).len(), 1);
    fake.assert_no_violations();
}

#[tokio::test]
async fn moves_close_as_completed_reopen_and_mark_stale() {
    let fake = FakeGitHub::start().await;
    let github = warmed(&fake, None).await;
    let (ticket, _) = github.create(&content(7)).await.unwrap();
    let issue = || fake.issue(OWNER, REPO, 1).unwrap();
    calls(&fake);

    github
        .transition(&ticket, TicketState::Resolved)
        .await
        .unwrap();
    assert_eq!(
        (issue().state.as_str(), issue().state_reason.as_deref()),
        ("closed", Some("completed"))
    );
    assert_eq!(
        calls(&fake),
        [format!("GET {ISSUES}/1"), format!("PATCH {ISSUES}/1")]
    );
    github
        .transition(&ticket, TicketState::Resolved)
        .await
        .unwrap();
    assert_eq!(
        calls(&fake),
        [format!("GET {ISSUES}/1")],
        "already closed: one read"
    );

    github
        .transition(&ticket, TicketState::Reopened)
        .await
        .unwrap();
    assert_eq!(
        (issue().state.as_str(), issue().state_reason.as_deref()),
        ("open", Some("reopened"))
    );
    github
        .transition(&ticket, TicketState::InProgress)
        .await
        .unwrap();
    assert_eq!(issue().updates, 2, "open is as far as GitHub goes");

    github
        .transition(&ticket, TicketState::Stale)
        .await
        .unwrap();
    assert!(issue().labels.contains(&STALE_LABEL.to_owned()));
    assert_eq!(
        issue().state,
        "open",
        "stale is a label; the state is left alone"
    );
    calls(&fake);
    // Closed from stale: one edit closes it and takes the label off.
    github
        .transition(&ticket, TicketState::Resolved)
        .await
        .unwrap();
    assert_eq!(
        calls(&fake),
        [format!("GET {ISSUES}/1"), format!("PATCH {ISSUES}/1")]
    );
    assert_eq!(issue().state, "closed");
    assert!(!issue().labels.contains(&STALE_LABEL.to_owned()));
    assert!(issue().labels.contains(&"scantix".to_owned()));
    fake.assert_no_violations();
}

#[tokio::test]
async fn every_alert_dismissed_closes_the_issue_as_not_planned() {
    let fake = FakeGitHub::start().await;
    let github = warmed(&fake, None).await;
    let (ticket, _) = github.create(&content(7)).await.unwrap();
    github
        .transition(&ticket, TicketState::Stale)
        .await
        .unwrap();
    calls(&fake);

    github.close_not_planned(&ticket).await.unwrap();
    let issue = fake.issue(OWNER, REPO, 1).unwrap();
    assert_eq!(
        (issue.state.as_str(), issue.state_reason.as_deref()),
        ("closed", Some("not_planned"))
    );
    assert!(
        !issue.labels.iter().any(|l| l == "scantix-stale"),
        "{:?}",
        issue.labels
    );
    assert_eq!(
        calls(&fake),
        [format!("GET {ISSUES}/1"), format!("PATCH {ISSUES}/1")]
    );
    // A repeat (an outbox retry) reads, finds it closed, and writes nothing.
    github.close_not_planned(&ticket).await.unwrap();
    assert_eq!(calls(&fake), [format!("GET {ISSUES}/1")]);
    fake.assert_no_violations();
}

#[tokio::test]
async fn a_closure_as_not_planned_is_left_as_the_person_chose_it() {
    let fake = FakeGitHub::start().await;
    let github = warmed(&fake, None).await;
    let (ticket, _) = github.create(&content(7)).await.unwrap();
    fake.set_issue_state(OWNER, REPO, 1, Some("not_planned"));
    calls(&fake);

    github
        .transition(&ticket, TicketState::Resolved)
        .await
        .unwrap();

    let issue = fake.issue(OWNER, REPO, 1).unwrap();
    assert_eq!(
        (issue.state.as_str(), issue.state_reason.as_deref()),
        ("closed", Some("not_planned"))
    );
    assert_eq!(calls(&fake), [format!("GET {ISSUES}/1")]);
    github.transition(&ticket, TicketState::Open).await.unwrap();
    let issue = fake.issue(OWNER, REPO, 1).unwrap();
    assert_eq!(
        (issue.state.as_str(), issue.state_reason.as_deref()),
        ("open", Some("reopened"))
    );
    fake.assert_no_violations();
}

#[tokio::test]
async fn rate_limits_are_retryable_at_once_and_outages_after_some_attempts() {
    let fake = FakeGitHub::start().await;
    let github = warmed(&fake, None).await;
    let (ticket, _) = github.create(&content(7)).await.unwrap();
    calls(&fake);

    fake.inject(
        Fault::SecondaryRateLimit {
            retry_after_secs: 30,
        },
        1,
    );
    let secondary = github.update(&ticket, &content(7)).await.unwrap_err();
    assert!(secondary.is_retryable(), "{secondary}");
    assert!(
        secondary.to_string().contains("retry in 30 s"),
        "{secondary}"
    );
    assert_eq!(calls(&fake).len(), 1, "never retried early");

    fake.inject(Fault::PrimaryRateLimit { reset_in_secs: 600 }, 1);
    let primary = github
        .transition(&ticket, TicketState::Resolved)
        .await
        .unwrap_err();
    assert!(primary.is_retryable(), "{primary}");
    assert_eq!(calls(&fake).len(), 1);

    fake.inject(Fault::Status(503), 100);
    let update = github.update(&ticket, &content(7)).await.unwrap_err();
    assert!(
        update.is_retryable() && update.to_string().contains("after 3 attempts"),
        "{update}"
    );
    assert_eq!(calls(&fake).len(), 3, "max-attempts");
    let create = github.create(&content(8)).await.unwrap_err();
    assert!(create.is_retryable(), "{create}");
    let create_calls = calls(&fake);
    assert_eq!(create_calls[0], format!("GET {ISSUES}"));
    assert!(create_calls.len() <= 3 * 3, "{create_calls:?}");
    assert_eq!(
        fake.issues(OWNER, REPO).len(),
        1,
        "nothing created in the outage"
    );
    fake.assert_no_violations();
}

#[tokio::test]
async fn configuration_problems_name_what_to_fix() {
    let fake = FakeGitHub::start().await;
    let github = warmed(&fake, None).await;

    // Issues switched off in the repository: GitHub answers 410 to the create.
    fake.inject_on("POST", ISSUES, None, Fault::Status(410), 1);
    let disabled = github.create(&content(7)).await.unwrap_err();
    assert_eq!(
        setting_of(&disabled),
        "github-issues.repository",
        "{disabled}"
    );
    assert!(
        disabled
            .to_string()
            .contains("issues are disabled in acme/shop-4242"),
        "{disabled}"
    );

    // The App lacks Issues write: 403 without rate limit headers.
    fake.inject_on("POST", ISSUES, None, Fault::Status(403), 1);
    let forbidden = github.create(&content(7)).await.unwrap_err();
    assert_eq!(
        setting_of(&forbidden),
        "github-app.permissions",
        "{forbidden}"
    );
    assert!(!forbidden.is_retryable());

    // The App is not installed on the repository the alerts came from.
    fake.uninstall_repository("globex", "api");
    let mut elsewhere = content(8);
    elsewhere.repository = "globex/api".into();
    let uninstalled = github.create(&elsewhere).await.unwrap_err();
    assert_eq!(
        setting_of(&uninstalled),
        "github-app.installation",
        "{uninstalled}"
    );

    // A central repository that is not owner/name is refused up front.
    let bad = GithubIssuesTracker::new(
        GithubIssuesSettings {
            repository: Some("security-tickets".into()),
            ..GithubIssuesSettings::default()
        },
        IssuesAuth::App(tokens(&fake)),
    )
    .unwrap_err();
    assert_eq!(setting_of(&bad), "github-issues.repository");
    assert!(fake.issues(OWNER, REPO).is_empty());
    fake.assert_no_violations();
}

#[tokio::test]
async fn an_owner_github_cannot_assign_leaves_the_ticket_unassigned() {
    let fake = FakeGitHub::start().await;
    fake.refuse_assignee("octocat");
    let github = warmed(&fake, None).await;

    let (ticket, _) = github.create(&content(7)).await.unwrap();

    assert_eq!(ticket.key, "acme/shop-4242#1");
    let issue = fake.issue(OWNER, REPO, 1).unwrap();
    assert!(issue.assignees.is_empty());
    let statuses: Vec<u16> = fake
        .requests()
        .iter()
        .filter(|r| r.method == "POST")
        .map(|r| r.status)
        .collect();
    assert_eq!(statuses, [422, 201]);
    fake.assert_no_violations();
}

#[tokio::test]
async fn a_personal_token_works_against_any_base_url() {
    let fake = FakeGitHub::start().await;
    let github = GithubIssuesTracker::new(
        GithubIssuesSettings::default(),
        IssuesAuth::Token {
            base_url: fake.base_url(),
            token: Secret::new(PLAIN_TOKEN),
        },
    )
    .unwrap();

    let (ticket, _) = github.create(&content(7)).await.unwrap();

    assert_eq!(ticket.key, "acme/shop-4242#1");
    assert_eq!(fake.tokens_issued(), 0, "no App token involved");
    fake.assert_no_violations();
}

/// The GitHub calls each tracker operation costs, printed for the record (`--nocapture`).
#[tokio::test]
async fn calls_per_operation() {
    let fake = FakeGitHub::start().await;
    let github = adapter(&fake, None);
    let group = content(7);
    let mut report = Vec::new();
    let mut measure = |name: &str, fake: &FakeGitHub| {
        report.push(format!("{name}={}", calls(fake).len()));
    };
    github.find_for(&content(1000)).await.unwrap();
    measure("cold start (installation + token + find)", &fake);
    github.find_for(&group).await.unwrap();
    measure("find(miss)", &fake);
    let (ticket, _) = github.create(&group).await.unwrap();
    measure("create", &fake);
    github.find_for(&group).await.unwrap();
    measure("find(hit)", &fake);
    github.update(&ticket, &group).await.unwrap();
    measure("update(no change)", &fake);
    let mut changed = group.clone();
    changed.title.push_str(" again");
    github.update(&ticket, &changed).await.unwrap();
    measure("update", &fake);
    github.comment(&ticket, "c-1", "text").await.unwrap();
    measure("comment", &fake);
    github.comment(&ticket, "c-1", "text").await.unwrap();
    measure("comment(repeat)", &fake);
    github
        .transition(&ticket, TicketState::Resolved)
        .await
        .unwrap();
    measure("transition", &fake);
    github
        .transition(&ticket, TicketState::Resolved)
        .await
        .unwrap();
    measure("transition(no-op)", &fake);
    github
        .transition(&ticket, TicketState::Stale)
        .await
        .unwrap();
    measure("transition(stale)", &fake);
    github
        .transition(&ticket, TicketState::Reopened)
        .await
        .unwrap();
    measure("transition(leaving stale)", &fake);
    println!("github issues calls: {}", report.join(", "));
    assert_eq!(
        report,
        [
            "cold start (installation + token + find)=3",
            "find(miss)=1",
            "create=1",
            "find(hit)=1",
            "update(no change)=1",
            "update=2",
            "comment=2",
            "comment(repeat)=1",
            "transition=2",
            "transition(no-op)=1",
            "transition(stale)=2",
            "transition(leaving stale)=2"
        ]
    );
    fake.assert_no_violations();
}
