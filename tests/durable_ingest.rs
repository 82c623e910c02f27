//! Durable ingest: the webhook functions only check a delivery and store it in the inbox (one
//! conditional write), the worker applies it from the table's stream, and what the worker gave up
//! on is applied by `replay` once the cause is gone. Real deliveries, the real Jira adapter against
//! the fake Jira (every request checked against Atlassian's OpenAPI description).

use github_webhook::handle;
use scantix_app::execute::Executor;
use scantix_app::ingest::github::GithubGate;
use scantix_app::ingest::{GithubIngest, GithubReceiver, JiraIngest};
use scantix_app::worker::Worker;
use scantix_core::config::Config;
use scantix_core::inbox::{InboxItem, InboxStatus};
use scantix_core::memory::github::MemoryGitHub;
use scantix_core::memory::store::MemoryStore;
use scantix_core::ports::store::Inbox;
use scantix_core::secret::Secret;
use scantix_dynamodb::inbox_stream_image;
use scantix_jira::{self as jira, JiraAuth, JiraSettings, JiraTracker};
use scantix_tests::fake_jira::{self, CLOUD_API_TOKEN, CLOUD_EMAIL, FakeJira, Fault};
use scantix_tests::webhooks::{SECRET, delivery_request, octokit, varied};
use scantix_wiring::worker::{BatchResponse, StreamBatch, apply_batch};
use serde_json::{Value, json};
use std::sync::Arc;
use std::time::Duration;

struct World {
    jira: FakeJira,
    store: Arc<MemoryStore>,
    receiver: GithubReceiver,
    worker: Worker,
}

async fn world() -> World {
    let jira = FakeJira::start(fake_jira::Flavor::Cloud).await;
    let settings = JiraSettings {
        request_timeout_secs: 2,
        ..JiraSettings::new(jira.base_url(), jira::Flavor::Cloud, "SEC")
    };
    let auth = JiraAuth::Cloud {
        email: CLOUD_EMAIL.into(),
        api_token: Secret::new(CLOUD_API_TOKEN),
    };
    let tracker = JiraTracker::new(settings, auth)
        .unwrap()
        .with_backoff_base(Duration::from_millis(2));
    let store = Arc::new(MemoryStore::new());
    let executor = Arc::new(
        Executor::new(store.clone(), Arc::new(tracker), Config::default())
            .with_github(Arc::new(MemoryGitHub::new())),
    );
    let receiver = GithubReceiver::new(GithubGate::new(Secret::new(SECRET)), store.clone());
    let worker = Worker::new(
        store.clone(),
        GithubIngest::for_worker(executor.clone()),
        Some(JiraIngest::for_worker(executor)),
    );
    World {
        jira,
        store,
        receiver,
        worker,
    }
}

/// A real code scanning `created` delivery for alert `number` of rule `rule` (one group per rule
/// under the default grouping).
fn alert(number: u64, rule: &str) -> Vec<u8> {
    varied(
        &octokit("code_scanning_alert/created.payload.json"),
        &[
            ("alert.number", json!(number)),
            ("alert.rule.id", json!(rule)),
        ],
    )
}

impl World {
    async fn post(&self, event: &str, delivery: &str, body: &[u8]) -> (u16, Value) {
        let response = handle(
            &self.receiver,
            delivery_request(event, delivery, body, None),
        )
        .await
        .unwrap();
        let status = response.status().as_u16();
        (
            status,
            serde_json::from_slice(response.body().as_ref()).unwrap(),
        )
    }

    async fn pending(&self) -> Vec<InboxItem> {
        self.store.pending_inbox(1000).await.unwrap()
    }
}

/// A stream batch as Lambda hands it to the worker: one INSERT record per item, sequence numbers
/// in order.
fn batch_of(items: &[InboxItem]) -> StreamBatch {
    let records: Vec<Value> = items
        .iter()
        .enumerate()
        .map(|(n, item)| {
            let image = inbox_stream_image(item).unwrap();
            json!({
                "eventID": format!("event-{n}"),
                "eventName": "INSERT",
                "eventVersion": "1.1",
                "eventSource": "aws:dynamodb",
                "awsRegion": "eu-west-1",
                "dynamodb": {
                    "ApproximateCreationDateTime": 1795000000.0,
                    "Keys": { "pk": image["pk"].clone(), "sk": image["sk"].clone() },
                    "NewImage": image,
                    "SequenceNumber": format!("{:021}", 100 + n),
                    "SizeBytes": 1000,
                    "StreamViewType": "NEW_IMAGE"
                },
                "eventSourceARN": "arn:aws:dynamodb:eu-west-1:123456789012:table/scantix/stream/2026-11-22T00:00:00.000"
            })
        })
        .collect();
    serde_json::from_value(json!({ "Records": records })).unwrap()
}

#[tokio::test]
async fn a_delivery_is_stored_once_and_applied_later_by_the_worker() {
    let w = world().await;
    let body = alert(1, "js/rule-a");
    let (status, answer) = w.post("code_scanning_alert", "d-1", &body).await;
    assert_eq!((status, answer["status"].as_str()), (202, Some("accepted")));
    // Stored byte for byte, and nothing applied yet: the webhook function made no tracker call.
    let pending = w.pending().await;
    assert_eq!(pending.len(), 1);
    assert_eq!(pending[0].body, body);
    assert_eq!(pending[0].event, "code_scanning_alert");
    assert!(w.jira.requests().is_empty());
    assert!(scantix_tests::stored::groups(&*w.store).await.is_empty());

    // GitHub's redelivery of the same delivery is recognised at the door.
    let (status, answer) = w.post("code_scanning_alert", "d-1", &body).await;
    assert_eq!(
        (status, answer["status"].as_str()),
        (200, Some("duplicate"))
    );
    assert_eq!(w.pending().await.len(), 1);

    let response = apply_batch(&w.worker, &batch_of(&pending)).await;
    assert_eq!(response, BatchResponse::default());
    assert_eq!(w.jira.issue_keys().len(), 1);
    assert!(w.pending().await.is_empty());
    let item = w.store.get_inbox("github:d-1").await.unwrap().unwrap();
    assert_eq!(item.status, InboxStatus::Done);

    // The stream delivers at least once: the same batch again changes nothing.
    let creates = w.jira.count("POST", "/rest/api/3/issue");
    assert_eq!(
        apply_batch(&w.worker, &batch_of(&pending)).await,
        BatchResponse::default()
    );
    assert_eq!(w.jira.count("POST", "/rest/api/3/issue"), creates);
    w.jira.assert_no_violations();
}

#[tokio::test]
async fn refused_and_ignored_deliveries_store_nothing() {
    let w = world().await;
    let body = alert(1, "js/rule-a");
    let bad = delivery_request("code_scanning_alert", "d-1", &body, Some("sha256=00"));
    let response = handle(&w.receiver, bad).await.unwrap();
    assert_eq!(response.status().as_u16(), 401);

    let (status, answer) = w
        .post(
            "code_scanning_alert",
            "d-2",
            br#"{"action":"created","alert":{"number":"one"}}"#,
        )
        .await;
    assert_eq!(status, 400, "{answer}");
    assert!(answer["path"].as_str().is_some(), "{answer}");

    let (status, _) = w.post("ping", "d-3", &octokit("ping/payload.json")).await;
    assert_eq!(status, 200);
    let (status, answer) = w
        .post(
            "check_suite",
            "d-4",
            &octokit("check_suite/completed.payload.json"),
        )
        .await;
    assert_eq!((status, answer["status"].as_str()), (202, Some("ignored")));

    let huge = vec![b' '; 2 * 1024 * 1024];
    let (status, _) = w.post("code_scanning_alert", "d-5", &huge).await;
    assert_eq!(status, 413);

    assert!(w.pending().await.is_empty());
    assert!(w.store.get_inbox("github:d-2").await.unwrap().is_none());
}

/// The issue's "done means": a forced tracker outage leaves every event either applied or waiting
/// for replay (the dead-letter path), and replay applies them once the tracker is back.
#[tokio::test]
async fn a_tracker_outage_leaves_every_event_pending_and_replay_applies_each_once() {
    let w = world().await;
    // Five deliveries over three groups (rules).
    let deliveries = [
        (1, "js/rule-a"),
        (2, "js/rule-a"),
        (3, "js/rule-b"),
        (4, "js/rule-c"),
        (5, "js/rule-b"),
    ];
    for (number, path) in deliveries {
        let (status, _) = w
            .post(
                "code_scanning_alert",
                &format!("d-{number}"),
                &alert(number, path),
            )
            .await;
        assert_eq!(status, 202);
    }
    let items = w.pending().await;
    assert_eq!(items.len(), 5);

    // Jira is down: every call answers 503.
    w.jira.inject(Fault::Status(503), 100_000);
    // Lambda's event source mapping: invoke, and on a reported failure retry from the failed
    // record, up to MaximumRetryAttempts (5) times, then give the batch to the dead-letter queue.
    let mut from = 0;
    let mut invocations = 0;
    let mut dead_lettered = false;
    while from < items.len() {
        let response = apply_batch(&w.worker, &batch_of(&items[from..])).await;
        invocations += 1;
        let Some(failure) = response.batch_item_failures.first() else {
            break;
        };
        let failed_at = batch_of(&items[from..])
            .records
            .iter()
            .position(|r| r.dynamodb.sequence_number == failure.item_identifier)
            .expect("the failure names a record of the batch");
        from += failed_at;
        if invocations > 5 {
            dead_lettered = true;
            break;
        }
    }
    assert!(dead_lettered, "the outage outlasts the retries");
    // Nothing was lost and nothing half-done. The worker applies a batch's alerts side by side,
    // so a delivery that joined a group while another one held the group's tracker work is
    // committed (its share of the ticket is in the group's outbox) and done; the deliveries that
    // owed the tracker calls are still pending, with their failures: at least one per group.
    let pending = w.pending().await;
    assert!(pending.len() >= 3, "{} pending", pending.len());
    for group in scantix_tests::stored::groups(&*w.store).await {
        assert!(group.value.ticket.is_none(), "{:?}", group.value.key);
        assert!(
            !group.value.outbox.is_empty(),
            "{:?} owes its ticket",
            group.value.key
        );
    }
    assert!(pending[0].attempts >= 5, "{:?}", pending[0].attempts);
    assert!(
        pending[0]
            .last_error
            .as_deref()
            .unwrap_or("")
            .contains("503"),
        "{:?}",
        pending[0].last_error
    );
    assert!(w.jira.issue_keys().is_empty());

    // The tracker is back; the operator replays.
    w.jira.clear_faults();
    let report = w.worker.replay(100).await.unwrap();
    assert_eq!(
        (report.pending, report.applied, report.failed),
        (pending.len(), pending.len(), 0)
    );
    assert!(w.pending().await.is_empty());
    // One ticket per group, no more.
    assert_eq!(w.jira.issue_keys().len(), 3);
    let creates = w.jira.count("POST", "/rest/api/3/issue");
    assert_eq!(creates, 3);

    // Replaying again (or the stream's late retry of a dead-lettered batch) changes nothing.
    let again = w.worker.replay(100).await.unwrap();
    assert_eq!(again.pending, 0);
    apply_batch(&w.worker, &batch_of(&items)).await;
    assert_eq!(w.jira.count("POST", "/rest/api/3/issue"), 3);
    for group in scantix_tests::stored::groups(&*w.store).await {
        assert!(group.value.ticket.is_some(), "{:?}", group.value.key);
        assert!(group.value.outbox.is_empty(), "{:?}", group.value.outbox);
    }
    w.jira.assert_no_violations();
}

#[tokio::test]
async fn a_batch_names_its_first_failure_and_keeps_each_alerts_order() {
    let w = world().await;
    for (number, path) in [(1, "js/rule-a"), (2, "js/rule-b"), (3, "js/rule-c")] {
        w.post(
            "code_scanning_alert",
            &format!("d-{number}"),
            &alert(number, path),
        )
        .await;
    }
    // Alert 2 is fixed right after it was created: the same subject, so the same lane.
    let fixed = varied(
        &octokit("code_scanning_alert/fixed.payload.json"),
        &[
            ("alert.number", json!(2)),
            ("alert.rule.id", json!("js/rule-b")),
        ],
    );
    w.post("code_scanning_alert", "d-2-fixed", &fixed).await;
    let items = w.pending().await;
    let position = |id: &str| items.iter().position(|i| i.id == id).expect("pending");
    let batch = batch_of(&items);
    let first_only = batch_of(&items[position("github:d-1")..=position("github:d-1")]);
    assert_eq!(
        apply_batch(&w.worker, &first_only).await,
        BatchResponse::default()
    );
    // The tracker fails from now on.
    w.jira.inject(Fault::Status(503), 100_000);
    let response = apply_batch(&w.worker, &batch).await;
    // The first record is a recognised duplicate now; of the failures, the earliest in the
    // batch is named, so Lambda retries from there.
    let failed = [position("github:d-2"), position("github:d-3")]
        .into_iter()
        .min()
        .expect("two");
    assert_eq!(
        response.batch_item_failures[0].item_identifier,
        batch.records[failed].dynamodb.sequence_number
    );
    // Alert 3 is another subject, in its own lane: attempted beside alert 2, and failed too.
    let third = w.store.get_inbox("github:d-3").await.unwrap().unwrap();
    assert_eq!((third.status, third.attempts), (InboxStatus::Pending, 1));
    // Alert 2's `fixed` waits behind its failed `created` (Lambda re-sends both, in order).
    let after = w
        .store
        .get_inbox("github:d-2-fixed")
        .await
        .unwrap()
        .unwrap();
    assert_eq!((after.status, after.attempts), (InboxStatus::Pending, 0));
}

/// The sample events in `events/lambda/` (for `cargo lambda invoke --data-file`) do what their
/// README says: the Function URL request is accepted, the stream batch becomes a ticket.
#[tokio::test]
async fn the_sample_lambda_events_work() {
    let w = world().await;
    let root = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../events/lambda");
    let read = |name: &str| std::fs::read_to_string(root.join(name)).expect("sample event");

    let receiver = GithubReceiver::new(
        GithubGate::new(Secret::new("scantix-local-secret")),
        w.store.clone(),
    );
    let request = lambda_http::request::from_str(&read("github-webhook.json")).unwrap();
    let response = handle(&receiver, request).await.unwrap();
    assert_eq!(response.status().as_u16(), 202);
    // What the webhook function stored is what the sample stream batch carries.
    let stored = w.pending().await;
    let batch: StreamBatch = serde_json::from_str(&read("worker.json")).unwrap();
    let image = batch.records[0].dynamodb.new_image.as_ref().unwrap();
    let sample = scantix_dynamodb::inbox_item_from_stream_image(image).unwrap();
    assert_eq!((&sample.id, &sample.body), (&stored[0].id, &stored[0].body));

    assert_eq!(
        apply_batch(&w.worker, &batch).await,
        BatchResponse::default()
    );
    assert_eq!(w.jira.issue_keys().len(), 1);
    let _: Value = serde_json::from_str(&read("sweeper.json")).unwrap();
}

#[tokio::test]
async fn both_webhook_functions_refuse_an_oversized_body_in_json() {
    use scantix_app::ingest::DEFAULT_MAX_BODY;
    use scantix_app::ingest::JiraReceiver;
    use scantix_app::ingest::jira::{JiraAuthenticity, JiraGate};
    let store = Arc::new(MemoryStore::new());
    let github = GithubReceiver::new(GithubGate::new(Secret::new(SECRET)), store.clone());
    let jira = JiraReceiver::new(
        JiraGate::new(JiraAuthenticity::Signature(Secret::new("a jira secret"))),
        store.clone(),
    );
    // One byte over the limit, a body that is otherwise a well-formed, signed delivery.
    let mut body = br#"{"action":"created","pad":""#.to_vec();
    body.resize(DEFAULT_MAX_BODY - 1, b'x');
    body.extend_from_slice(br#""}"#);
    assert_eq!(body.len(), DEFAULT_MAX_BODY + 1);

    let github_answer = handle(
        &github,
        delivery_request("code_scanning_alert", "big", &body, None),
    )
    .await
    .unwrap();
    let jira_request = lambda_http::http::Request::builder()
        .method("POST")
        .uri("https://scantix.example/webhooks/jira")
        .header(
            "x-hub-signature",
            scantix_webhooks::signature::sign(b"a jira secret", &body),
        )
        .header("x-atlassian-webhook-identifier", "big")
        .body(lambda_http::Body::Binary(body.clone()))
        .unwrap();
    let jira_answer = jira_webhook::handle(&jira, jira_request).await.unwrap();
    for (function, response) in [
        ("github-webhook", github_answer),
        ("jira-webhook", jira_answer),
    ] {
        assert_eq!(response.status().as_u16(), 413, "{function}");
        assert_eq!(
            response.headers()["content-type"],
            "application/json",
            "{function}"
        );
        let answer: Value = serde_json::from_slice(response.body().as_ref()).unwrap();
        assert_eq!(answer["error"], "payload_too_large", "{function}: {answer}");
        assert!(
            answer["detail"].as_str().unwrap().contains("1048576"),
            "{function}: {answer}"
        );
    }
    assert!(store.pending_inbox(10).await.unwrap().is_empty());
}
