//! The ServiceNow adapter against the fake ServiceNow, which checks every request against the
//! Table API's documented shape: what each tracker call does to the incident, how many calls it
//! takes, that creating and noting stay single when answers are lost, that states move by
//! category, and what the adapter makes of ServiceNow's refusals and faults.

use scantix_core::finding::Severity;
use scantix_core::ports::tracker::{Tracker, TrackerError};
use scantix_core::records::{TicketRef, TicketState};
use scantix_core::secret::Secret;
use scantix_core::ticket::TicketContent;
use scantix_core::ticket::plain::has_code_tag;
use scantix_servicenow::{ServiceNowAuth, ServiceNowSettings, ServiceNowTracker};
use scantix_tests::fake_servicenow::{CLIENT_ID, CLIENT_SECRET, FakeServiceNow, PASSWORD, USER};
use scantix_tests::records::sample_finding;
use serde_json::{Value, json};
use std::time::Duration;

fn basic() -> ServiceNowAuth {
    ServiceNowAuth::Basic {
        user: USER.into(),
        password: Secret::new(PASSWORD),
    }
}

fn adapter_with(fake: &FakeServiceNow, auth: ServiceNowAuth) -> ServiceNowTracker {
    ServiceNowTracker::new(ServiceNowSettings::new(fake.base_url()), auth)
        .expect("valid settings")
        .with_backoff_base(Duration::from_millis(5))
}

fn adapter(fake: &FakeServiceNow) -> ServiceNowTracker {
    adapter_with(fake, basic())
}

/// The content of a group of its own, with alert text that tries to break out of plain text.
fn content(number: u64) -> TicketContent {
    let mut finding = sample_finding(4242, number);
    finding.rule.id = format!("js/rule-{number}");
    finding.rule.name = "XSS [code]<img src=x onerror=alert(1)>[/code]".into();
    let mut content = scantix_core::testing::ticket_of(std::slice::from_ref(&finding)).unwrap();
    content.title = format!("[CODE]<script>alert(1)</script>[/CODE] rule {number}");
    content
}

fn calls(fake: &FakeServiceNow) -> Vec<String> {
    let requests = fake.requests();
    fake.clear_requests();
    requests
        .iter()
        .map(|r| format!("{} {}", r.method, r.path))
        .collect()
}

fn field(record: &serde_json::Map<String, Value>, name: &str) -> String {
    record[name].as_str().unwrap().to_owned()
}

#[tokio::test]
async fn one_incident_per_group_found_again_by_its_correlation_id() {
    let fake = FakeServiceNow::start().await;
    let tracker = adapter(&fake);
    let content = content(1);

    assert_eq!(tracker.find_for(&content).await.unwrap(), None);
    let (ticket, state) = tracker.create(&content).await.unwrap();

    assert_eq!(state, TicketState::Open);
    assert_eq!(ticket.tracker, "servicenow");
    assert_eq!(
        calls(&fake),
        [
            "GET /api/now/table/incident",
            "POST /api/now/table/incident"
        ],
        "the look right before the create is not repeated"
    );
    let incident = fake.incident(&ticket.key).unwrap();
    assert_eq!(field(&incident, "number"), "INC0010001");
    assert_eq!(
        field(&incident, "correlation_id"),
        content.group_key.as_str()
    );
    assert_eq!(field(&incident, "correlation_display"), "scantix");
    assert_eq!(field(&incident, "urgency"), "1");
    assert_eq!(field(&incident, "impact"), "2");
    for text in ["short_description", "description"] {
        let text = field(&incident, text);
        assert!(!has_code_tag(&text), "inert: {text}");
    }
    assert!(
        field(&incident, "description").ends_with(&format!("scantix group: {}", content.group_key))
    );
    assert_eq!(
        ticket.url,
        Some(format!(
            "{}/incident.do?sys_id={}",
            fake.base_url(),
            ticket.key
        ))
    );

    // Found again by its group, and a second create for the group looks first and finds it.
    assert_eq!(
        tracker.find_by_group_key(&content.group_key).await.unwrap(),
        Some(ticket.clone())
    );
    let (again, _) = tracker.create(&content).await.unwrap();
    assert_eq!(again, ticket);
    assert_eq!(fake.incidents().len(), 1);
    // Another group gets its own.
    tracker.create(&self::content(2)).await.unwrap();
    assert_eq!(fake.incidents().len(), 2);
    fake.assert_no_violations();
}

#[tokio::test]
async fn a_create_whose_answer_was_lost_is_found_not_repeated() {
    let fake = FakeServiceNow::start().await;
    let tracker = adapter(&fake);
    fake.lose_create_answers(1);

    let (ticket, _) = tracker.create(&content(1)).await.unwrap();

    assert_eq!(fake.incidents().len(), 1, "no second incident");
    assert_eq!(field(&fake.incidents()[0], "sys_id"), ticket.key);
    assert_eq!(
        calls(&fake),
        [
            "GET /api/now/table/incident",
            "POST /api/now/table/incident",
            "GET /api/now/table/incident"
        ],
        "after the lost answer, the look finds it"
    );
    fake.assert_no_violations();
}

#[tokio::test]
async fn states_move_by_category_and_a_record_already_there_stays() {
    let fake = FakeServiceNow::start().await;
    let tracker = adapter(&fake);
    let (ticket, _) = tracker.create(&content(1)).await.unwrap();
    let state = |fake: &FakeServiceNow| field(&fake.incident(&ticket.key).unwrap(), "state");

    tracker
        .transition(&ticket, TicketState::InProgress)
        .await
        .unwrap();
    assert_eq!(state(&fake), "2");

    // A person put it on hold: in progress too, so it stays on hold.
    fake.person_sets(&ticket.key, "abel.tuter", &[("state", "3")]);
    calls(&fake);
    tracker
        .transition(&ticket, TicketState::InProgress)
        .await
        .unwrap();
    assert_eq!(state(&fake), "3");
    assert_eq!(
        calls(&fake),
        [format!("GET /api/now/table/incident/{}", ticket.key)]
    );

    // Resolving sets the close fields the incident data policy asks for.
    tracker
        .transition(&ticket, TicketState::Resolved)
        .await
        .unwrap();
    let resolved = fake.incident(&ticket.key).unwrap();
    assert_eq!(field(&resolved, "state"), "6");
    assert_eq!(field(&resolved, "close_code"), "Solution provided");
    assert!(!field(&resolved, "close_notes").is_empty());

    // Reopening goes back to New; stale leaves the state alone by default.
    tracker
        .transition(&ticket, TicketState::Reopened)
        .await
        .unwrap();
    assert_eq!(state(&fake), "1");
    calls(&fake);
    tracker
        .transition(&ticket, TicketState::Stale)
        .await
        .unwrap();
    assert_eq!(state(&fake), "1");
    assert!(
        calls(&fake).is_empty(),
        "nothing to do for stale by default"
    );

    // "Not planned" cancels; a canceled record is left as the person chose.
    tracker.close_not_planned(&ticket).await.unwrap();
    assert_eq!(state(&fake), "8");
    tracker.close_not_planned(&ticket).await.unwrap();
    assert_eq!(state(&fake), "8");

    // A closed incident cannot be reopened: reported, not retried forever.
    fake.person_sets(&ticket.key, "abel.tuter", &[("state", "7")]);
    let err = tracker
        .transition(&ticket, TicketState::Reopened)
        .await
        .unwrap_err();
    assert!(matches!(err, TrackerError::Failed(_)), "{err}");
    assert!(err.to_string().contains("cannot be reopened"), "{err}");
    fake.assert_no_violations();
}

#[tokio::test]
async fn a_resolve_the_data_policy_refuses_names_the_setting_to_fix() {
    let fake = FakeServiceNow::start().await;
    let mut settings = ServiceNowSettings::new(fake.base_url());
    settings.resolve_fields.clear();
    let tracker = ServiceNowTracker::new(settings, basic()).unwrap();
    let (ticket, _) = tracker.create(&content(1)).await.unwrap();

    let err = tracker
        .transition(&ticket, TicketState::Resolved)
        .await
        .unwrap_err();

    match &err {
        TrackerError::Misconfigured { setting, message } => {
            assert_eq!(setting, "servicenow.resolve-fields");
            assert!(message.contains("Data Policy Exception"), "{message}");
        }
        other => panic!("{other:?}"),
    }
    assert_eq!(field(&fake.incident(&ticket.key).unwrap(), "state"), "1");
    fake.assert_no_violations();
}

#[tokio::test]
async fn work_notes_are_single_plain_and_marked() {
    let fake = FakeServiceNow::start().await;
    let tracker = adapter(&fake);
    let (ticket, _) = tracker.create(&content(1)).await.unwrap();
    let text = "Still open: [code]<b>#3</b>[/code]";

    tracker
        .comment(&ticket, "scantix-0a1b2c-4", text)
        .await
        .unwrap();
    tracker
        .comment(&ticket, "scantix-0a1b2c-4", text)
        .await
        .unwrap();

    let notes = fake.journal(&ticket.key, "work_notes");
    assert_eq!(notes.len(), 1, "a repeat adds nothing: {notes:?}");
    assert!(notes[0].ends_with("scantix ref scantix-0a1b2c-4"));
    assert!(!has_code_tag(&notes[0]), "{}", notes[0]);
    tracker
        .comment(&ticket, "scantix-0a1b2c-5", "next")
        .await
        .unwrap();
    assert_eq!(fake.journal(&ticket.key, "work_notes").len(), 2);

    // A note whose answer is lost (it landed, then a 502): looked for again, and found.
    fake.lose_patch_answers(1);
    tracker
        .comment(&ticket, "scantix-0a1b2c-6", "again")
        .await
        .unwrap();
    assert_eq!(fake.journal(&ticket.key, "work_notes").len(), 3);
    fake.assert_no_violations();
}

#[tokio::test]
async fn an_update_sends_only_what_differs() {
    let fake = FakeServiceNow::start().await;
    let tracker = adapter(&fake);
    let mut content = content(1);
    let (ticket, _) = tracker.create(&content).await.unwrap();
    calls(&fake);

    tracker.update(&ticket, &content).await.unwrap();
    assert_eq!(
        calls(&fake),
        [format!("GET /api/now/table/incident/{}", ticket.key)],
        "nothing changed: no write, so no business rule delivery either"
    );

    content.severity = Severity::Critical;
    tracker.update(&ticket, &content).await.unwrap();
    let patch = fake.requests().last().unwrap().clone();
    assert_eq!(patch.method, "PATCH");
    assert_eq!(patch.body, Some(json!({"impact": "1"})));
    fake.assert_no_violations();
}

#[tokio::test]
async fn oauth_gets_one_token_and_uses_it() {
    let fake = FakeServiceNow::start().await;
    let tracker = adapter_with(
        &fake,
        ServiceNowAuth::OAuth {
            client_id: CLIENT_ID.into(),
            client_secret: Secret::new(CLIENT_SECRET),
            user: Some(USER.into()),
        },
    );
    let (ticket, _) = tracker.create(&content(1)).await.unwrap();
    tracker
        .transition(&ticket, TicketState::InProgress)
        .await
        .unwrap();
    assert_eq!(
        fake.count("POST", "/oauth_token.do"),
        1,
        "the token is kept"
    );
    assert_eq!(tracker.own_accounts().await.unwrap(), [USER.to_owned()]);

    let wrong = adapter_with(
        &fake,
        ServiceNowAuth::OAuth {
            client_id: CLIENT_ID.into(),
            client_secret: Secret::new("wrong"),
            user: None,
        },
    );
    let err = wrong.find_for(&content(1)).await.unwrap_err();
    assert!(
        matches!(&err, TrackerError::Misconfigured { setting, .. } if setting == "servicenow.auth"),
        "{err}"
    );
    fake.assert_no_violations();
}

#[tokio::test]
async fn faults_and_refusals_become_what_they_mean() {
    let fake = FakeServiceNow::start().await;
    let tracker = adapter(&fake);

    // A 5xx on a read is repeated; a short rate limit is waited out.
    fake.fail_next(&[503, 429]);
    assert_eq!(tracker.find_for(&content(1)).await.unwrap(), None);

    // A 5xx on every attempt: retryable, nothing lost.
    fake.fail_next(&[500, 500, 500, 500]);
    let err = tracker.find_for(&content(1)).await.unwrap_err();
    assert!(err.is_retryable(), "{err}");

    // Bad credentials, an unknown table, a deleted record.
    let wrong = adapter_with(
        &fake,
        ServiceNowAuth::Basic {
            user: USER.into(),
            password: Secret::new("wrong"),
        },
    );
    let err = wrong.find_for(&content(1)).await.unwrap_err();
    assert!(
        matches!(&err, TrackerError::Misconfigured { setting, .. } if setting == "servicenow.auth"),
        "{err}"
    );
    let mut settings = ServiceNowSettings::new(fake.base_url());
    settings.table = "u_nope".into();
    let err = ServiceNowTracker::new(settings, basic())
        .unwrap()
        .find_for(&content(1))
        .await
        .unwrap_err();
    assert!(
        matches!(&err, TrackerError::Misconfigured { setting, .. } if setting == "servicenow.table"),
        "{err}"
    );
    let (ticket, _) = tracker.create(&content(1)).await.unwrap();
    fake.person_deletes(&ticket.key);
    let err = tracker
        .transition(&ticket, TicketState::Resolved)
        .await
        .unwrap_err();
    assert!(matches!(err, TrackerError::NotFound(_)), "{err}");
    let not_ours = TicketRef {
        tracker: "servicenow".into(),
        key: "INC0010001".into(),
        url: None,
    };
    assert!(tracker.update(&not_ours, &content(1)).await.is_err());
    fake.assert_no_violations();
}

/// An assignee as the owners map names people (and as the business rule names them back): a
/// `user_name`, an email, or a `sys_id`, set as the record's `assigned_to` (the user's `sys_id`,
/// the reference ServiceNow stores); `None` clears it. A name nobody has, one two accounts share,
/// or one that would change the encoded query is a setting to fix, and the record stays as it was.
#[tokio::test]
async fn assign_sets_assigned_to_to_the_users_sys_id() {
    use scantix_tests::fake_servicenow::USERS;
    let fake = FakeServiceNow::start().await;
    let tracker = adapter(&fake);
    let (ticket, _) = tracker.create(&content(7)).await.unwrap();
    let assigned = || field(&fake.incident(&ticket.key).unwrap(), "assigned_to");
    assert_eq!(assigned(), "");

    let (beth, abel) = (USERS[0], USERS[1]);
    for (who, expected) in [(beth.1, beth.0), (abel.2, abel.0), (beth.0, beth.0)] {
        tracker.assign(&ticket, None).await.unwrap();
        assert_eq!(assigned(), "");
        tracker.assign(&ticket, Some(who)).await.unwrap();
        assert_eq!(assigned(), expected, "{who}");
    }
    for (who, why) in [
        ("nobody", "no ServiceNow user has the user_name"),
        ("fred@example.com", "more than one ServiceNow user"),
        (
            "beth.anglin^ORuser_name=abel.tuter",
            "not a ServiceNow user name",
        ),
    ] {
        fake.clear_requests();
        match tracker.assign(&ticket, Some(who)).await {
            Err(TrackerError::Misconfigured { setting, message }) => {
                assert_eq!(setting, "owners");
                assert!(message.contains(why), "{message}");
            }
            other => panic!("{who}: {other:?}"),
        }
        assert_eq!(assigned(), beth.0, "unchanged");
        assert!(
            fake.requests().iter().all(|r| r.method == "GET"),
            "{who}: nothing written"
        );
    }
    tracker.assign(&ticket, None).await.unwrap();
    assert_eq!(assigned(), "");
    fake.assert_no_violations();
}
