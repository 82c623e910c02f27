//! The Linear adapter against a fake Linear that checks every GraphQL request against Linear's
//! published schema: one issue per group whatever the failures (a lost answer to the create or to
//! the attachment, two runs at once, a ticket deleted and made again), states chosen by type,
//! people's labels kept, comments made once, alert text inert, and the errors Linear answers.

use scantix_core::identity::GroupKey;
use scantix_core::ports::tracker::{Tracker, TrackerError};
use scantix_core::records::{TicketRef, TicketState};
use scantix_core::secret::Secret;
use scantix_core::ticket::{STALE_LABEL, TicketContent};
use scantix_linear::{LinearAuth, LinearSettings, LinearTracker};
use scantix_tests::fake_linear::{self, API_KEY, FakeLinear, Fault, OAUTH_TOKEN, VIEWER_ID};
use serde_json::json;
use std::sync::Arc;
use std::time::Duration;

fn tracker(fake: &FakeLinear, auth: LinearAuth) -> LinearTracker {
    LinearTracker::new(
        LinearSettings {
            api_url: fake.url(),
            request_timeout_secs: 1,
            ..LinearSettings::new("SEC")
        },
        auth,
    )
    .unwrap()
    .with_backoff_base(Duration::from_millis(5))
}

fn with_key(fake: &FakeLinear) -> LinearTracker {
    tracker(fake, LinearAuth::ApiKey(Secret::new(API_KEY)))
}

/// The ticket content of `n` alerts of one rule, whose texts try to mention, link, inject HTML and
/// reorder text.
fn content(rule: &str, n: u64) -> TicketContent {
    let alerts: Vec<_> = (1..=n)
        .map(|number| {
            let mut finding =
                scantix_core::testing::code_alert(number, rule, &format!("src/{number}.js"));
            finding.rule.name =
                "XSS @here <img src=x onerror=alert(1)> [click](javascript:x) #1 $x$".into();
            finding
        })
        .collect();
    let mut content = scantix_core::testing::ticket_of(&alerts).unwrap();
    content.title = "XSS @here <script>x</script>\r\nsecond line \u{202E}txt.exe".into();
    content
}

fn key_of(ticket: &TicketRef) -> &str {
    &ticket.key
}

#[tokio::test]
async fn a_create_makes_one_issue_with_the_groups_link_and_inert_text() {
    let fake = FakeLinear::start().await;
    let linear = with_key(&fake);
    let content = content("js/xss", 2);

    assert_eq!(linear.find_for(&content).await.unwrap(), None);
    let (ticket, state) = linear.create(&content).await.unwrap();

    assert_eq!(
        (ticket.tracker.as_str(), state),
        ("linear", TicketState::Open)
    );
    assert_eq!(fake.live_issues(), std::slice::from_ref(&ticket.key));
    let issue = fake.snapshot(key_of(&ticket)).unwrap();
    assert_eq!(issue.state_type, "unstarted");
    assert_eq!(issue.priority, 2, "high severity is Linear's High");
    assert_eq!(issue.attachments.len(), 1, "{:?}", issue.attachments);
    assert!(
        issue.labels.contains(&"scantix".to_owned())
            && issue.labels.contains(&"severity:high".to_owned()),
        "{:?}",
        issue.labels
    );
    assert!(
        !issue.labels.iter().any(|l| GroupKey::is_label(l)),
        "no label per group in the team: {:?}",
        issue.labels
    );
    // The title is one line without reordering marks; the description quotes alert text inertly.
    assert!(
        !issue.title.contains('\n') && !issue.title.contains('\u{202E}'),
        "{:?}",
        issue.title
    );
    for live in ["<img", "<script>", "@here", "](javascript", "$x$"] {
        assert!(
            !issue.description.contains(live),
            "{live} in {}",
            issue.description
        );
    }
    assert!(issue.description.contains("### Findings (2)"));
    // Found again by its link, with no create.
    assert_eq!(
        linear.find_for(&content).await.unwrap(),
        Some(ticket.clone())
    );
    assert_eq!(fake.count("ScantixIssueCreate"), 1);
    // A second create for the group (the store lost the first answer) makes nothing new.
    let (again, _) = linear.create(&content).await.unwrap();
    assert_eq!(again.key, ticket.key);
    assert_eq!(fake.count("ScantixIssueCreate"), 1);
    fake.assert_no_violations();
}

#[tokio::test]
async fn a_lost_answer_to_the_create_is_found_by_id_and_attached_once() {
    let fake = FakeLinear::start().await;
    let linear = with_key(&fake);
    let content = content("js/xss", 1);
    // Linear creates the issue but the answer never arrives (the client times out after 1 s).
    fake.inject(
        "ScantixIssueCreate",
        Fault::LostResponse(Duration::from_secs(3)),
        1,
    );

    let (ticket, _) = linear.create(&content).await.unwrap();

    assert_eq!(
        fake.live_issues(),
        std::slice::from_ref(&ticket.key),
        "no second issue"
    );
    assert_eq!(fake.snapshot(&ticket.key).unwrap().attachments.len(), 1);
    assert_eq!(
        fake.count("ScantixIssueCreate"),
        1,
        "the retry found it instead"
    );
    fake.assert_no_violations();
}

#[tokio::test]
async fn a_lost_answer_to_the_attachment_is_found_by_the_link() {
    let fake = FakeLinear::start().await;
    let linear = with_key(&fake);
    let content = content("js/xss", 1);
    fake.inject(
        "ScantixAttach",
        Fault::LostResponse(Duration::from_secs(3)),
        1,
    );

    // The attachment is repeated as a safe call (Linear keeps one per issue and URL).
    let (ticket, _) = linear.create(&content).await.unwrap();

    assert_eq!(fake.live_issues(), std::slice::from_ref(&ticket.key));
    assert_eq!(fake.snapshot(&ticket.key).unwrap().attachments.len(), 1);
    assert_eq!(
        linear.find_for(&content).await.unwrap().map(|t| t.key),
        Some(ticket.key)
    );
    fake.assert_no_violations();
}

#[tokio::test]
async fn a_crash_between_create_and_attachment_is_recovered_by_another_process() {
    let fake = FakeLinear::start().await;
    let content = content("js/xss", 1);
    // The first process's attachment call fails for good (it gives up: 5xx on every attempt).
    fake.inject("ScantixAttach", Fault::Status(503), 3);
    let first = with_key(&fake);
    assert!(first.create(&content).await.unwrap_err().is_retryable());
    assert_eq!(
        fake.live_issues().len(),
        1,
        "the issue exists, without its link"
    );

    // A new process (nothing cached) retries: the issue is found by its derived id.
    let second = with_key(&fake);
    assert_eq!(second.find_for(&content).await.unwrap(), None);
    let (ticket, _) = second.create(&content).await.unwrap();
    assert_eq!(fake.live_issues(), std::slice::from_ref(&ticket.key));
    assert_eq!(fake.snapshot(&ticket.key).unwrap().attachments.len(), 1);
    fake.assert_no_violations();
}

#[tokio::test]
async fn concurrent_creates_for_one_group_make_one_issue() {
    let fake = FakeLinear::start().await;
    let content = Arc::new(content("js/xss", 3));
    let mut runs = Vec::new();
    for _ in 0..4 {
        // Separate processes: separate caches, one Linear.
        let linear = with_key(&fake);
        let content = content.clone();
        runs.push(tokio::spawn(async move { linear.create(&content).await }));
    }
    let mut keys = Vec::new();
    for run in runs {
        keys.push(run.await.unwrap().unwrap().0.key);
    }
    keys.dedup();
    assert_eq!(keys.len(), 1, "{keys:?}");
    assert_eq!(fake.live_issues().len(), 1);
    let labels = fake.snapshot(&keys[0]).unwrap().labels;
    assert_eq!(
        labels.iter().filter(|l| *l == "scantix").count(),
        1,
        "{labels:?}"
    );
    fake.assert_no_violations();
}

#[tokio::test]
async fn states_are_chosen_by_type_and_a_persons_cancel_stands() {
    let fake = FakeLinear::start().await;
    let linear = with_key(&fake);
    let (ticket, _) = linear.create(&content("js/xss", 1)).await.unwrap();
    let state = |fake: &FakeLinear| fake.snapshot(&ticket.key).unwrap().state_type;

    linear
        .transition(&ticket, TicketState::InProgress)
        .await
        .unwrap();
    assert_eq!(state(&fake), "started");
    linear
        .transition(&ticket, TicketState::Resolved)
        .await
        .unwrap();
    assert_eq!(state(&fake), "completed");
    fake.clear_requests();
    linear
        .transition(&ticket, TicketState::Resolved)
        .await
        .unwrap();
    assert_eq!(
        fake.count("ScantixIssueUpdate"),
        0,
        "already there: nothing sent"
    );
    linear
        .transition(&ticket, TicketState::Reopened)
        .await
        .unwrap();
    assert_eq!(state(&fake), "unstarted");

    // Stale is a label; leaving it by any move takes the label off.
    linear
        .transition(&ticket, TicketState::Stale)
        .await
        .unwrap();
    assert!(
        fake.snapshot(&ticket.key)
            .unwrap()
            .labels
            .contains(&STALE_LABEL.to_owned())
    );
    linear
        .transition(&ticket, TicketState::Resolved)
        .await
        .unwrap();
    let issue = fake.snapshot(&ticket.key).unwrap();
    assert!(
        !issue.labels.contains(&STALE_LABEL.to_owned()),
        "{:?}",
        issue.labels
    );

    // Closed as not planned: a canceled state; a later resolve leaves it canceled.
    linear.transition(&ticket, TicketState::Open).await.unwrap();
    linear.close_not_planned(&ticket).await.unwrap();
    assert_eq!(
        (
            state(&fake).as_str(),
            fake.snapshot(&ticket.key).unwrap().state_name.as_str()
        ),
        ("canceled", "Canceled")
    );
    linear
        .transition(&ticket, TicketState::Resolved)
        .await
        .unwrap();
    assert_eq!(state(&fake), "canceled");
    fake.assert_no_violations();
}

#[tokio::test]
async fn an_update_sends_only_what_changed_and_keeps_peoples_labels() {
    let fake = FakeLinear::start().await;
    let linear = with_key(&fake);
    let mut content = content("js/xss", 1);
    let (ticket, _) = linear.create(&content).await.unwrap();
    // An admin made a workspace label, which a repository's settings name.
    fake.seed_workspace_label("needs-triage");
    fake.clear_requests();
    linear.update(&ticket, &content).await.unwrap();
    assert_eq!(fake.count("ScantixIssueUpdate"), 0, "nothing differs");

    // The alerts are now critical (the anatomy's labels say so too), and the repository's
    // settings add a label the workspace has.
    content.severity = scantix_core::finding::Severity::Critical;
    for label in &mut content.labels {
        if label == "severity:high" {
            *label = "severity:critical".into();
        }
    }
    content.labels.push("needs-triage".into());
    linear.update(&ticket, &content).await.unwrap();
    let issue = fake.snapshot(&ticket.key).unwrap();
    assert_eq!(issue.priority, 1);
    assert!(
        issue.labels.contains(&"severity:critical".to_owned()),
        "{:?}",
        issue.labels
    );
    assert!(
        !issue.labels.contains(&"severity:high".to_owned()),
        "{:?}",
        issue.labels
    );
    assert!(
        issue.labels.contains(&"needs-triage".to_owned()),
        "the workspace label was used: {:?}",
        issue.labels
    );
    fake.assert_no_violations();
}

#[tokio::test]
async fn a_comment_is_made_once_and_its_text_is_inert() {
    let fake = FakeLinear::start().await;
    let linear = with_key(&fake);
    let (ticket, _) = linear.create(&content("js/xss", 1)).await.unwrap();
    let text = "Still open:\n- alert 1 @admin <b>x</b> [x](javascript:y)";
    linear.comment(&ticket, "c-1", text).await.unwrap();
    linear.comment(&ticket, "c-1", text).await.unwrap();
    // A lost answer: the repeat finds the comment by its id.
    fake.inject(
        "ScantixComment",
        Fault::LostResponse(Duration::from_secs(3)),
        1,
    );
    linear.comment(&ticket, "c-2", "second").await.unwrap();
    let comments = fake.snapshot(&ticket.key).unwrap().comments;
    assert_eq!(comments.len(), 2, "{comments:?}");
    assert!(
        !comments[0].contains("@admin") && !comments[0].contains("<b>"),
        "{}",
        comments[0]
    );
    fake.assert_no_violations();
}

#[tokio::test]
async fn errors_say_what_to_fix_or_to_retry() {
    let fake = FakeLinear::start().await;
    // A wrong key: the setting to fix.
    let refused = tracker(&fake, LinearAuth::ApiKey(Secret::new("lin_api_wrong")));
    match refused.create(&content("js/xss", 1)).await.unwrap_err() {
        TrackerError::Misconfigured { setting, .. } => assert_eq!(setting, "LINEAR_API_KEY"),
        other => panic!("{other:?}"),
    }
    // An unknown team.
    let nowhere = LinearTracker::new(
        LinearSettings {
            api_url: fake.url(),
            ..LinearSettings::new("NOPE")
        },
        LinearAuth::OAuth(Secret::new(OAUTH_TOKEN)),
    )
    .unwrap();
    match nowhere.create(&content("js/xss", 1)).await.unwrap_err() {
        TrackerError::Misconfigured { setting, .. } => assert_eq!(setting, "linear.team"),
        other => panic!("{other:?}"),
    }
    // Rate limits and outages are retryable; a ticket that is gone is NotFound.
    let linear = tracker(&fake, LinearAuth::OAuth(Secret::new(OAUTH_TOKEN)));
    fake.inject("*", Fault::RateLimited, 1);
    assert!(
        linear
            .create(&content("js/xss", 1))
            .await
            .unwrap_err()
            .is_retryable()
    );
    fake.inject("*", Fault::Status(502), 3);
    assert!(
        linear
            .find_for(&content("js/xss", 1))
            .await
            .unwrap_err()
            .is_retryable()
    );
    let missing = TicketRef {
        tracker: "linear".into(),
        key: "SEC-999".into(),
        url: None,
    };
    assert!(matches!(
        linear.transition(&missing, TicketState::Resolved).await.unwrap_err(),
        TrackerError::NotFound(key) if key == "SEC-999"
    ));
    assert_eq!(linear.own_accounts().await.unwrap(), [VIEWER_ID]);
    fake.assert_no_violations();
}

#[tokio::test]
async fn the_fake_refuses_what_linears_schema_refuses() {
    let schema = fake_linear::linear_schema();
    // What the adapter sends passes.
    assert!(
        schema
            .check(
                scantix_linear::graphql::READ,
                Some("ScantixIssue"),
                &json!({"id": "SEC-1"})
            )
            .is_ok()
    );
    // A field the schema lacks, an argument it lacks, an input field it lacks, a wrong type.
    for (query, variables) in [
        (
            "query Q { issue(id: \"SEC-1\") { id severityScore } }",
            json!({}),
        ),
        (
            "query Q { issue(id: \"SEC-1\", team: \"x\") { id } }",
            json!({}),
        ),
        (
            "mutation Q($input: IssueCreateInput!) { issueCreate(input: $input) { success } }",
            json!({"input": {"teamId": "t", "title": "x", "severity": 1}}),
        ),
        (
            "mutation Q($input: IssueCreateInput!) { issueCreate(input: $input) { success } }",
            json!({"input": {"title": "x"}}),
        ),
        (
            "query Q($id: String!) { issue(id: $id) { id } }",
            json!({"id": 7}),
        ),
    ] {
        assert!(
            schema.check(query, Some("Q"), &variables).is_err(),
            "{query} {variables}"
        );
    }
    // And the fake answers such a request as Linear does, recording it.
    let fake = FakeLinear::start().await;
    let answer = reqwest::Client::new()
        .post(fake.url())
        .header("authorization", API_KEY)
        .json(&json!({"query": "query Q { viewer { id shoeSize } }", "operationName": "Q"}))
        .send()
        .await
        .unwrap();
    assert_eq!(answer.status().as_u16(), 400);
    assert_eq!(fake.violations().len(), 1);
}

#[tokio::test]
async fn group_keys_with_odd_characters_keep_their_own_tickets() {
    let fake = FakeLinear::start().await;
    let linear = with_key(&fake);
    let a = content("x/a b?c#d", 1);
    let b = content("x/a%20b?c#d", 1);
    assert_ne!(a.group_key, b.group_key);
    let (ta, _) = linear.create(&a).await.unwrap();
    let (tb, _) = linear.create(&b).await.unwrap();
    assert_ne!(ta.key, tb.key);
    assert_eq!(
        linear.find_by_group_key(&a.group_key).await.unwrap(),
        Some(ta)
    );
    let unknown = GroupKey::from_stored("1/code-scanning/rule:none");
    assert_eq!(linear.find_by_group_key(&unknown).await.unwrap(), None);
    fake.assert_no_violations();
}

/// An assignee as the owners map (or `scantix tickets … assign`) names people: by email, name or
/// display name, in any case, looked up in Linear and set as `assigneeId`; `None` unassigns. A
/// name nobody has, or one two people share, is a setting to fix, and assigns nobody.
#[tokio::test]
async fn assign_looks_the_user_up_by_email_or_name_and_sets_the_assignee() {
    let fake = FakeLinear::start().await;
    let linear = with_key(&fake);
    let (ticket, _) = linear.create(&content("js/xss", 1)).await.unwrap();
    let assignee = || fake.snapshot(&ticket.key).unwrap().assignee;
    assert_eq!(assignee(), None);

    for who in ["ada@example.com", "ADA", "Ada Lovelace"] {
        linear.assign(&ticket, None).await.unwrap();
        assert_eq!(assignee(), None);
        linear.assign(&ticket, Some(who)).await.unwrap();
        assert_eq!(assignee().as_deref(), Some(fake_linear::PERSON_ID), "{who}");
    }
    let grace = fake_linear::USERS[1];
    linear.assign(&ticket, Some(grace.3)).await.unwrap();
    assert_eq!(assignee().as_deref(), Some(grace.0));

    for (who, why) in [
        ("nobody@example.com", "no Linear user"),
        ("Grace", "more than one Linear user"),
    ] {
        match linear.assign(&ticket, Some(who)).await {
            Err(TrackerError::Misconfigured { setting, message }) => {
                assert_eq!(setting, "owners");
                assert!(message.contains(why), "{message}");
            }
            other => panic!("{who}: {other:?}"),
        }
        assert_eq!(assignee().as_deref(), Some(grace.0), "unchanged");
    }
    linear.assign(&ticket, None).await.unwrap();
    assert_eq!(assignee(), None);
    fake.assert_no_violations();
}
