//! The SIEM export, deployed: real GitHub deliveries (octokit's payload examples) applied through
//! the webhook handler and the executor into a real table on DynamoDB Local, the table's stream
//! read back as the OCSF publisher's event source mapping delivers it (INSERTs of `A#` audit
//! items), and the `ocsf-publisher` function's handler run on those batches. Every event is
//! validated against the vendored OCSF 1.8.0 schema of its class and compared with what
//! `scantix export --ocsf` prints for the same store; a redelivered record gives the same uids; a
//! refused event names its record for Lambda to retry from.
//!
//! Then the sinks against a real local AWS emulator (moto's server: `scripts/with-moto.sh`): what
//! arrived in the S3 bucket, in the bucket behind a Firehose stream, and in the queue an
//! EventBridge rule forwards the bus's events to, read back with boto3; and the daily report in
//! its bucket.
//!
//! Run: `scripts/dynamodb-local.sh scripts/with-moto.sh cargo test -p scantix-tests --test ocsf_publisher`

use chrono::{DateTime, Duration, TimeZone, Utc};
use github_webhook::handle;
use ocsf_publisher::{Publisher, publish_batch};
use scantix_app::execute::Executor;
use scantix_app::ingest::GithubIngest;
use scantix_core::config::Config;
use scantix_core::memory::draft_tracker::DraftTracker;
use scantix_core::memory::sink::MemorySink;
use scantix_core::memory::store::MemoryStore;
use scantix_core::ports::sink::Sink;
use scantix_core::ports::store::Store;
use scantix_core::secret::Secret;
use scantix_dynamodb::stream::StreamBatch;
use scantix_sinks::{EventBridgeSink, FirehoseSink, S3Bucket};
use scantix_tests::dynamodb::local_store;
use scantix_tests::moto::MotoServer;
use scantix_tests::ocsf::OcsfSchemas;
use scantix_tests::streams::{audit_inserts, local_streams_client};
use scantix_tests::webhooks::{SECRET, delivery_request, octokit, varied};
use serde_json::{Value, json};
use std::collections::{BTreeMap, BTreeSet};
use std::sync::{Arc, Mutex};

/// When the history starts.
fn t0() -> DateTime<Utc> {
    Utc.with_ymd_and_hms(2026, 11, 2, 9, 0, 0).unwrap()
}

/// A store fed by the GitHub webhook handler at instants the test chooses.
struct Sim {
    ingest: GithubIngest,
    clock: Arc<Mutex<DateTime<Utc>>>,
    sent: usize,
}

impl Sim {
    fn over(store: Arc<dyn Store>) -> Sim {
        let clock = Arc::new(Mutex::new(t0()));
        let now = clock.clone();
        let executor = Executor::new(
            store.clone(),
            Arc::new(DraftTracker::new()),
            Config::default(),
        )
        .with_clock(Arc::new(move || *now.lock().unwrap()));
        Sim {
            ingest: GithubIngest::new(Secret::new(SECRET), Arc::new(executor)),
            clock,
            sent: 0,
        }
    }

    async fn deliver(&mut self, at: DateTime<Utc>, (event, body): (&str, Vec<u8>)) {
        *self.clock.lock().unwrap() = at;
        self.sent += 1;
        let request = delivery_request(event, &format!("siem-{}", self.sent), &body, None);
        let response = handle(&self.ingest, request)
            .await
            .expect("handler answers");
        assert!(
            response.status().is_success(),
            "delivery {} ({event}) answered {}",
            self.sent,
            response.status()
        );
    }

    /// A short history with both classes and every activity: two code scanning alerts of one
    /// rule (one fixed), a Dependabot alert (dismissed as inaccurate).
    async fn history(&mut self) {
        self.deliver(t0(), code_alert(1, "created")).await;
        self.deliver(t0() + Duration::hours(1), code_alert(2, "created"))
            .await;
        self.deliver(
            t0() + Duration::hours(2),
            dependabot_alert(3, "created", "open"),
        )
        .await;
        self.deliver(t0() + Duration::hours(5), code_alert(1, "fixed"))
            .await;
        self.deliver(
            t0() + Duration::days(1),
            dependabot_alert(3, "dismissed", "dismissed"),
        )
        .await;
    }
}

const REPO: (u64, &str) = (7071, "acme/siem");

fn code_alert(number: u64, action: &str) -> (&'static str, Vec<u8>) {
    let file = format!("code_scanning_alert/{action}.payload.json");
    let mut edits = vec![
        ("alert.number", json!(number)),
        ("alert.rule.id", json!("js/sql-injection")),
        ("alert.rule.security_severity_level", json!("high")),
        ("alert.instances.0.ref", json!("refs/heads/main")),
        (
            "alert.rule.tags",
            json!(["security", "external/cwe/cwe-089"]),
        ),
        ("repository.id", json!(REPO.0)),
        ("repository.full_name", json!(REPO.1)),
    ];
    if action == "fixed" {
        // The example fix is on a pull request's merge ref; this one is on the branch.
        edits.push(("ref", json!("refs/heads/main")));
        edits.push(("alert.most_recent_instance.ref", json!("refs/heads/main")));
    }
    ("code_scanning_alert", varied(&octokit(&file), &edits))
}

fn dependabot_alert(number: u64, action: &str, state: &str) -> (&'static str, Vec<u8>) {
    let mut edits = vec![
        ("action", json!(action)),
        ("alert.state", json!(state)),
        ("alert.number", json!(number)),
        ("repository.id", json!(REPO.0)),
        ("repository.full_name", json!(REPO.1)),
    ];
    if state == "dismissed" {
        edits.push(("alert.dismissed_reason", json!("inaccurate")));
        edits.push(("alert.dismissed_at", json!("2026-11-03T09:00:00Z")));
    }
    (
        "dependabot_alert",
        varied(&octokit("dependabot_alert/created.payload.json"), &edits),
    )
}

fn uid(event: &Value) -> String {
    event["metadata"]["uid"]
        .as_str()
        .expect("every event has a metadata.uid")
        .to_owned()
}

fn by_uid(events: &[Value]) -> BTreeMap<String, Value> {
    events.iter().map(|e| (uid(e), e.clone())).collect()
}

fn batch_of(records: &[Value]) -> StreamBatch {
    serde_json::from_value(json!({ "Records": records })).expect("a stream batch")
}

/// What `scantix export --ocsf` prints for the whole history.
async fn exported(store: &dyn Store) -> Vec<Value> {
    scantix_evidence::ocsf::export(store, t0() - Duration::days(1), t0() + Duration::days(2))
        .await
        .expect("export")
}

#[tokio::test]
async fn audit_items_on_the_table_s_stream_are_published_as_the_events_export_prints() {
    let dynamo = local_store().await;
    let (client, table) = (dynamo.client().clone(), dynamo.table().to_owned());
    let store: Arc<dyn Store> = Arc::new(dynamo);
    let mut sim = Sim::over(store.clone());
    sim.history().await;

    let endpoint = scantix_tests::dynamodb::local_endpoint();
    let streams = local_streams_client(&endpoint).await;
    let records = audit_inserts(&client, &streams, &table).await;
    assert!(
        records.len() >= 5,
        "one audit item per commit at least: {} records",
        records.len()
    );

    // As the event source mapping would: batches of 10, in stream order.
    let sink = Arc::new(MemorySink::new());
    let publisher = Publisher {
        store: store.clone(),
        sink: sink.clone(),
    };
    for chunk in records.chunks(10) {
        let response = publish_batch(&publisher, &batch_of(chunk)).await;
        assert!(response.batch_item_failures.is_empty(), "{response:?}");
    }
    let published = sink.events();
    OcsfSchemas::load().assert_valid(&published);

    // Exactly the events the export prints for the same store: one per change, no more.
    let expected = exported(store.as_ref()).await;
    assert_eq!(published.len(), expected.len());
    assert_eq!(by_uid(&published), by_uid(&expected));

    // Both classes and the three activities, with their facts: the fixed code scanning alert's
    // close is a Detection Finding resolved, keyed by its fingerprint; the dismissed Dependabot
    // alert's is a Vulnerability Finding suppressed.
    let classes: BTreeSet<u64> = published
        .iter()
        .map(|e| e["class_uid"].as_u64().unwrap())
        .collect();
    assert_eq!(classes, BTreeSet::from([2002, 2004]));
    let closes: Vec<&Value> = published
        .iter()
        .filter(|e| {
            e["activity_id"] == 3
                && e["finding_info"]["uid"]
                    .as_str()
                    .is_some_and(|u| !u.starts_with("ticket:"))
        })
        .collect();
    let fixed = closes
        .iter()
        .find(|e| e["finding_info"]["uid"] == format!("{}/code-scanning/1", REPO.0))
        .expect("the fix of code scanning alert 1 is a close");
    assert_eq!(fixed["class_uid"], 2004);
    assert_eq!(fixed["status"], "Resolved");
    assert_eq!(fixed["resources"][0]["name"], REPO.1);
    let dismissed = closes
        .iter()
        .find(|e| e["finding_info"]["uid"] == format!("{}/dependabot/3", REPO.0))
        .expect("the dismissal of Dependabot alert 3 is a close");
    assert_eq!(dismissed["class_uid"], 2002);
    assert_eq!(dismissed["status"], "Suppressed");
    let creates = published.iter().filter(|e| e["activity_id"] == 1).count();
    assert!(creates >= 3, "one create per alert at least: {creates}");

    // At least once, idempotent for the consumer: the stream delivers the first batch again;
    // its events come out identical, uids included.
    let again = Arc::new(MemorySink::new());
    let redelivered = Publisher {
        store: store.clone(),
        sink: again.clone(),
    };
    let first = &records[..records.len().min(10)];
    publish_batch(&redelivered, &batch_of(first)).await;
    let first_time = &published[..again.events().len()];
    assert_eq!(again.events(), first_time);

    // A sink that refuses one event: the response names that event's record, and only it
    // (Lambda checkpoints the records before it and retries from it).
    let refusing = Arc::new(MemorySink::new());
    let victim = &published[published.len() / 2];
    refusing.refuse(&uid(victim));
    let publisher = Publisher {
        store: store.clone(),
        sink: refusing.clone(),
    };
    // Which record made the victim: each published alone into a sink of its own.
    let mut owner = None;
    for record in &records {
        let alone = Arc::new(MemorySink::new());
        let probe = Publisher {
            store: store.clone(),
            sink: alone.clone(),
        };
        publish_batch(&probe, &batch_of(std::slice::from_ref(record))).await;
        if alone.events().iter().any(|e| uid(e) == uid(victim)) {
            owner = Some(record);
            break;
        }
    }
    let owner = owner.expect("some record made every event");
    let mut failures = Vec::new();
    for chunk in records.chunks(10) {
        failures.extend(
            publish_batch(&publisher, &batch_of(chunk))
                .await
                .batch_item_failures,
        );
    }
    assert_eq!(failures.len(), 1, "{failures:?}");
    assert_eq!(
        failures[0].item_identifier,
        owner["dynamodb"]["SequenceNumber"].as_str().unwrap()
    );
}

/// The events of the short history, from a memory store (the sink tests need events, not a
/// table).
async fn some_events() -> Vec<Value> {
    let store: Arc<dyn Store> = Arc::new(MemoryStore::new());
    let mut sim = Sim::over(store.clone());
    sim.history().await;
    let events = exported(store.as_ref()).await;
    assert!(events.len() >= 5);
    events
}

/// `n` distinct events made from `events` (a copy's uid marked with its number): volume for the
/// sinks' batching, which looks at nothing but size and count.
fn many(events: &[Value], n: usize) -> Vec<Value> {
    (0..n)
        .map(|i| {
            let mut event = events[i % events.len()].clone();
            event["metadata"]["uid"] = json!(format!("{}-{i}", uid(&event)));
            event
        })
        .collect()
}

fn lines(body: &str) -> Vec<Value> {
    body.lines()
        .map(|line| serde_json::from_str(line).expect("each line is one JSON event"))
        .collect()
}

#[tokio::test]
async fn the_s3_sink_writes_json_lines_and_a_redelivered_batch_rewrites_the_same_object() {
    let moto = MotoServer::start();
    moto.boto3(
        "client('s3').create_bucket(Bucket='scantix-siem')\nprint('{}')",
        &[],
    );
    let events = some_events().await;
    OcsfSchemas::load().assert_valid(&events);
    let sink = S3Bucket::new(moto.s3(), "scantix-siem", "ocsf/");

    sink.publish(&events).await.expect("every event arrives");
    let objects = moto.objects("scantix-siem", "ocsf/");
    // The history spans two days: one object per day, under its `dt=` partition.
    let keys: Vec<&str> = objects.iter().map(|(k, ..)| k.as_str()).collect();
    assert_eq!(keys.len(), 2, "{keys:?}");
    assert!(keys[0].starts_with("ocsf/dt=2026-11-02/") && keys[0].ends_with(".jsonl"));
    assert!(keys[1].starts_with("ocsf/dt=2026-11-03/"));
    let arrived: Vec<Value> = objects
        .iter()
        .flat_map(|(_, _, body)| lines(body))
        .collect();
    assert_eq!(by_uid(&arrived), by_uid(&events));
    assert!(
        objects
            .iter()
            .all(|(_, kind, _)| kind == "application/x-ndjson")
    );

    // The same batch again: the same keys, nothing beside them.
    sink.publish(&events).await.expect("every event arrives");
    assert_eq!(moto.objects("scantix-siem", "ocsf/"), objects);
}

#[tokio::test]
async fn the_firehose_sink_delivers_every_event_across_calls_of_at_most_500_records() {
    let moto = MotoServer::start();
    moto.boto3(
        "client('s3').create_bucket(Bucket='scantix-firehose')\n\
         client('firehose').create_delivery_stream(DeliveryStreamName='scantix-ocsf', \
           ExtendedS3DestinationConfiguration={'RoleARN': 'arn:aws:iam::123456789012:role/firehose', \
           'BucketARN': 'arn:aws:s3:::scantix-firehose', 'Prefix': 'ocsf/'})\n\
         print('{}')",
        &[],
    );
    let events = many(&some_events().await, 1_203);
    let sink = FirehoseSink::new(moto.firehose(), "scantix-ocsf");
    sink.publish(&events).await.expect("every record arrives");

    // Firehose writes what it took to the bucket; every event is there once, as one JSON line.
    let objects = moto.objects("scantix-firehose", "ocsf/");
    let arrived: Vec<Value> = objects
        .iter()
        .flat_map(|(_, _, body)| lines(body))
        .collect();
    assert_eq!(arrived.len(), 1_203);
    assert_eq!(by_uid(&arrived), by_uid(&events));
    // moto writes one object per PutRecordBatch call: 500 + 500 + 203.
    let mut per_call: Vec<usize> = objects.iter().map(|(_, _, b)| b.lines().count()).collect();
    per_call.sort_unstable();
    assert_eq!(per_call, vec![203, 500, 500]);
}

#[tokio::test]
async fn the_eventbridge_sink_puts_every_event_on_the_bus_where_a_rule_forwards_it() {
    let moto = MotoServer::start();
    moto.boto3(
        "events, sqs = client('events'), client('sqs')\n\
         events.create_event_bus(Name='scantix-siem')\n\
         queue = sqs.create_queue(QueueName='siem')['QueueUrl']\n\
         arn = sqs.get_queue_attributes(QueueUrl=queue, AttributeNames=['QueueArn'])['Attributes']['QueueArn']\n\
         events.put_rule(Name='ocsf', EventBusName='scantix-siem', \
           EventPattern=json.dumps({'source': ['scantix'], 'detail-type': [{'prefix': 'OCSF '}]}))\n\
         events.put_targets(Rule='ocsf', EventBusName='scantix-siem', Targets=[{'Id': 'queue', 'Arn': arn}])\n\
         print('{}')",
        &[],
    );
    let events = many(&some_events().await, 23);
    let sink = EventBridgeSink::new(moto.eventbridge(), "scantix-siem");
    sink.publish(&events).await.expect("every entry is taken");

    let received = moto.boto3(
        "sqs = client('sqs')\n\
         queue = sqs.get_queue_url(QueueName='siem')['QueueUrl']\n\
         out = []\n\
         while True:\n    \
             got = sqs.receive_message(QueueUrl=queue, MaxNumberOfMessages=10).get('Messages', [])\n    \
             if not got: break\n    \
             out += [json.loads(m['Body']) for m in got]\n    \
             sqs.delete_message_batch(QueueUrl=queue, Entries=[{'Id': str(i), 'ReceiptHandle': m['ReceiptHandle']} for i, m in enumerate(got)])\n\
         print(json.dumps(out))",
        &[],
    );
    let received = received.as_array().expect("a list of EventBridge events");
    assert_eq!(received.len(), 23);
    let details: Vec<Value> = received.iter().map(|e| e["detail"].clone()).collect();
    assert_eq!(by_uid(&details), by_uid(&events));
    for event in received {
        assert_eq!(event["source"], "scantix");
        let class = event["detail"]["class_name"].as_str().unwrap();
        assert_eq!(event["detail-type"], format!("OCSF {class}"));
    }
}

#[tokio::test]
async fn the_daily_report_lands_in_the_report_bucket_as_json_and_html() {
    let moto = MotoServer::start();
    moto.boto3(
        "client('s3').create_bucket(Bucket='scantix-reports')\nprint('{}')",
        &[],
    );
    let store: Arc<dyn Store> = Arc::new(MemoryStore::new());
    let mut sim = Sim::over(store.clone());
    sim.history().await;
    let archive = S3Bucket::new(moto.s3(), "scantix-reports", "reports/");
    let now = t0() + Duration::days(2);
    let keys = scantix_evidence::daily::archive_report(store.as_ref(), &archive, now)
        .await
        .expect("the report is written");
    assert_eq!(keys.len(), 4);

    let objects = moto.objects("scantix-reports", "reports/");
    let names: Vec<&str> = objects.iter().map(|(k, ..)| k.as_str()).collect();
    assert_eq!(
        names,
        [
            "reports/2026-11-04/report.html",
            "reports/2026-11-04/report.json",
            "reports/latest/report.html",
            "reports/latest/report.json"
        ]
    );
    let (_, kind, json) = &objects[1];
    assert_eq!(kind, "application/json");
    let report: Value = serde_json::from_str(json).unwrap();
    // Three alerts first seen in the period, one fixed, one dismissed.
    assert_eq!(report["counts"]["new"], 3);
    assert_eq!(report["counts"]["fixed"], 1);
    assert_eq!(report["counts"]["dismissed"], 1);
    let (_, kind, html) = &objects[0];
    assert_eq!(kind, "text/html; charset=utf-8");
    assert!(html.contains("<svg"));
    // `latest/` is the same report.
    assert_eq!(objects[3].2, *json);
}

/// The `ocsf-publisher` binary under `cargo lambda watch`'s runtime emulator, configured as the
/// SAM template configures it with `SiemSink=eventbridge` (table, sink and target in its
/// environment, nothing else), reading DynamoDB Local and putting events on moto's EventBridge,
/// whose rule forwards them to a queue read back with boto3. The stream's records are invoked
/// twice, as a retried batch would be: the queue holds every event twice, under the same uids.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_deployed_function_publishes_the_stream_s_changes_to_eventbridge() {
    use scantix_tests::lambda_emulator::Emulator;
    let moto = MotoServer::start();
    moto.boto3(
        "events, sqs = client('events'), client('sqs')\n\
         events.create_event_bus(Name='siem-bus')\n\
         queue = sqs.create_queue(QueueName='siem-e2e')['QueueUrl']\n\
         arn = sqs.get_queue_attributes(QueueUrl=queue, AttributeNames=['QueueArn'])['Attributes']['QueueArn']\n\
         events.put_rule(Name='ocsf', EventBusName='siem-bus', EventPattern=json.dumps({'source': ['scantix']}))\n\
         events.put_targets(Rule='ocsf', EventBusName='siem-bus', Targets=[{'Id': 'queue', 'Arn': arn}])\n\
         print('{}')",
        &[],
    );
    let dynamo = local_store().await;
    let (client, table) = (dynamo.client().clone(), dynamo.table().to_owned());
    let store: Arc<dyn Store> = Arc::new(dynamo);
    Sim::over(store.clone()).history().await;
    let endpoint = scantix_tests::dynamodb::local_endpoint();
    let records = audit_inserts(&client, &local_streams_client(&endpoint).await, &table).await;

    let mut emulator = Emulator::start();
    emulator.run_function(
        "ocsf-publisher",
        &[
            ("SCANTIX_TABLE", table.clone()),
            ("SCANTIX_SIEM_SINK", "eventbridge".into()),
            ("SCANTIX_SIEM_TARGET", "siem-bus".into()),
            ("SCANTIX_SIEM_PREFIX", "ocsf/".into()),
            // DynamoDB Local keeps one database per access key and region: the test store's.
            ("AWS_REGION", "us-east-1".into()),
            ("AWS_ACCESS_KEY_ID", "local".into()),
            ("AWS_SECRET_ACCESS_KEY", "local".into()),
            ("AWS_ENDPOINT_URL_DYNAMODB", endpoint.clone()),
            ("AWS_ENDPOINT_URL_EVENTBRIDGE", moto.endpoint.clone()),
            ("AWS_LAMBDA_LOG_LEVEL", "INFO".into()),
        ],
    );
    let http = scantix_tests::lambda_emulator::invocation_client();
    for _ in 0..2 {
        let answer: Value = http
            .post(emulator.url("/2015-03-31/functions/ocsf-publisher/invocations"))
            .json(&json!({ "Records": records }))
            .send()
            .await
            .expect("the emulator answers")
            .json()
            .await
            .expect("the function answers JSON");
        assert_eq!(
            answer,
            json!({ "batchItemFailures": [] }),
            "{}",
            emulator.log("ocsf-publisher")
        );
    }

    let received = moto.boto3(
        "sqs = client('sqs')\n\
         queue = sqs.get_queue_url(QueueName='siem-e2e')['QueueUrl']\n\
         out = []\n\
         while True:\n    \
             got = sqs.receive_message(QueueUrl=queue, MaxNumberOfMessages=10).get('Messages', [])\n    \
             if not got: break\n    \
             out += [json.loads(m['Body'])['detail'] for m in got]\n    \
             sqs.delete_message_batch(QueueUrl=queue, Entries=[{'Id': str(i), 'ReceiptHandle': m['ReceiptHandle']} for i, m in enumerate(got)])\n\
         print(json.dumps(out))",
        &[],
    );
    let received: Vec<Value> = serde_json::from_value(received).unwrap();
    let expected = exported(store.as_ref()).await;
    OcsfSchemas::load().assert_valid(&received);
    // Every change twice (at least once), each time with the same uid: the consumer keeps one.
    assert_eq!(received.len(), 2 * expected.len());
    assert_eq!(by_uid(&received), by_uid(&expected));
    let mut counts: BTreeMap<String, usize> = BTreeMap::new();
    for event in &received {
        *counts.entry(uid(event)).or_default() += 1;
    }
    assert!(counts.values().all(|&n| n == 2), "{counts:?}");
    let log = emulator.log("ocsf-publisher");
    assert!(
        log.contains("\"batch done\"") || log.contains("batch done"),
        "{log}"
    );
}

/// A table written before today's storage model: a group still in the old format (its members
/// inline, its texts in its record; `tests/fixtures/legacy`), and a change about one of its
/// findings on the stream. The publisher's role may not write the table, so it must publish the
/// change without upgrading the group on read (which would be refused, deployed, and fail the
/// record for good): the group read as its upgrade would leave it, the item left as it was.
#[tokio::test]
async fn a_change_of_a_group_still_in_the_old_format_is_published_without_writing() {
    use scantix_core::identity::{Fingerprint, GroupKey};
    use scantix_core::ports::store::Commit;
    use scantix_core::records::AuditEntry;
    use scantix_tests::dynamodb::legacy::{self, LEGACY_GROUP};

    let dynamo = local_store().await;
    let (client, table) = (dynamo.client().clone(), dynamo.table().to_owned());
    let (old, version) = legacy::write_group(&dynamo, &legacy::fixture(), LEGACY_GROUP).await;
    let fingerprint = "337911632/code-scanning/10";
    assert!(old["members"].get(fingerprint).is_some());
    // The change, as today's code appends it: an audit item of its own (`A#<group>`).
    let entry = AuditEntry {
        at: t0(),
        group_key: GroupKey::from_stored(LEGACY_GROUP),
        fingerprint: Some(Fingerprint::from_stored(fingerprint)),
        actor: "github".into(),
        action: "finding.fixed".into(),
        reason: "alert 10 fixed".into(),
        delivery: Some("github:legacy-1".into()),
        ticket: None,
        state: None,
    };
    dynamo
        .commit(Commit {
            audit: vec![entry],
            ..Commit::default()
        })
        .await
        .expect("the audit item");
    let endpoint = scantix_tests::dynamodb::local_endpoint();
    let records = audit_inserts(&client, &local_streams_client(&endpoint).await, &table).await;
    assert_eq!(records.len(), 1);

    // The publisher as `Publisher::from_env` builds it: over the table, read only.
    let sink = Arc::new(MemorySink::new());
    let publisher = Publisher {
        store: Arc::new(dynamo.clone().read_only()),
        sink: sink.clone(),
    };
    let response = publish_batch(&publisher, &batch_of(&records)).await;
    assert!(response.batch_item_failures.is_empty(), "{response:?}");
    let published = sink.events();
    assert_eq!(published.len(), 1, "{published:?}");
    OcsfSchemas::load().assert_valid(&published);
    let event = &published[0];
    assert_eq!(event["finding_info"]["uid"], fingerprint, "{event}");
    assert_eq!(event["class_uid"], 2004, "code scanning: Detection Finding");
    let rule_title = old["rule"]["name"].as_str().unwrap_or_default();
    assert!(
        !rule_title.is_empty() && event.to_string().contains(rule_title),
        "the group's rule, read from the old record: {event}"
    );

    // Nothing written: the group's item is still the old one, at its old version.
    let item = client
        .get_item()
        .table_name(&table)
        .key("pk", legacy::s(&format!("G#{LEGACY_GROUP}")))
        .key("sk", legacy::s("G"))
        .consistent_read(true)
        .send()
        .await
        .expect("read")
        .item
        .expect("the group's item");
    let doc: Value = serde_json::from_str(item["doc"].as_s().expect("doc")).expect("JSON");
    assert!(doc.get("members").is_some(), "still in the old format");
    assert_eq!(
        item["version"].as_n().expect("version"),
        &version.to_string()
    );
}
