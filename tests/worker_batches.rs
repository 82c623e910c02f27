//! What one stream batch costs the worker in DynamoDB requests, against the real Amazon DynamoDB
//! Local, counted by an interceptor on the client (every request the SDK sends, retries included)
//! — never timed:
//! - ten deliveries about ten groups are one read and one transaction: the lanes share requests,
//!   none goes alone first, and each commit settles its own inbox item (no write after it);
//! - ten deliveries joining one group take turns on it: each commit is decided on the group as
//!   the previous lane wrote it, and no transaction is cancelled for a lost race;
//! - a delivery whose inbox item is gone (expired) is applied all the same, and no item is made.
//!
//! Real deliveries (octokit's code scanning `created` payload), applied as the stream hands them
//! to the worker function, over the draft tracker.

use aws_sdk_dynamodb::config::interceptors::{
    BeforeTransmitInterceptorContextRef, FinalizerInterceptorContextRef,
};
use aws_sdk_dynamodb::config::{
    BehaviorVersion, ConfigBag, Credentials, Intercept, Region, RuntimeComponents,
};
use scantix_app::execute::Executor;
use scantix_app::ingest::GithubIngest;
use scantix_app::worker::Worker;
use scantix_core::config::Config;
use scantix_core::inbox::{InboxItem, InboxSource, InboxStatus};
use scantix_core::memory::draft_tracker::DraftTracker;
use scantix_core::ports::store::{Inbox, InboxWriter, Store};
use scantix_dynamodb::{DynamoStore, inbox_stream_image};
use scantix_tests::dynamodb::{local_endpoint, unique_table_name};
use scantix_tests::webhooks::{octokit, varied};
use scantix_wiring::worker::{StreamBatch, apply_batch};
use serde_json::{Value, json};
use std::collections::BTreeMap;
use std::sync::{Arc, Mutex};

/// Requests sent and requests answered with an error, by operation (`TransactWriteItems`, …).
#[derive(Debug, Clone, Default)]
struct Requests {
    seen: Arc<Mutex<BTreeMap<String, (u32, u32)>>>,
}

impl Requests {
    fn snapshot(&self) -> BTreeMap<String, (u32, u32)> {
        self.seen.lock().unwrap().clone()
    }

    /// (sent, failed) of `operation` since `before`.
    fn since(&self, before: &BTreeMap<String, (u32, u32)>, operation: &str) -> (u32, u32) {
        let now = self.snapshot().get(operation).copied().unwrap_or_default();
        let then = before.get(operation).copied().unwrap_or_default();
        (now.0 - then.0, now.1 - then.1)
    }
}

/// The operation of the request being sent, kept in its config bag until its answer.
#[derive(Debug, Clone)]
struct Operation(String);

impl aws_smithy_types::config_bag::Storable for Operation {
    type Storer = aws_smithy_types::config_bag::StoreReplace<Operation>;
}

impl Intercept for Requests {
    fn name(&self) -> &'static str {
        "Requests"
    }

    fn read_before_transmit(
        &self,
        context: &BeforeTransmitInterceptorContextRef<'_>,
        _: &RuntimeComponents,
        cfg: &mut ConfigBag,
    ) -> Result<(), Box<dyn std::error::Error + Send + Sync>> {
        // `X-Amz-Target: DynamoDB_20120810.TransactWriteItems` names the operation.
        let operation = context
            .request()
            .headers()
            .get("x-amz-target")
            .and_then(|t| t.rsplit('.').next())
            .unwrap_or("unknown")
            .to_owned();
        cfg.interceptor_state().store_put(Operation(operation));
        Ok(())
    }

    fn read_after_attempt(
        &self,
        context: &FinalizerInterceptorContextRef<'_>,
        _: &RuntimeComponents,
        cfg: &mut ConfigBag,
    ) -> Result<(), Box<dyn std::error::Error + Send + Sync>> {
        let Some(Operation(operation)) = cfg.load::<Operation>().cloned() else {
            return Ok(());
        };
        let failed = !context.response().is_some_and(|r| r.status().is_success());
        let mut seen = self.seen.lock().unwrap();
        let entry = seen.entry(operation).or_default();
        entry.0 += 1;
        entry.1 += u32::from(failed);
        Ok(())
    }
}

struct World {
    store: Arc<DynamoStore>,
    worker: Worker,
    requests: Requests,
}

/// A worker over a fresh table on DynamoDB Local whose client counts its requests.
async fn world() -> World {
    let requests = Requests::default();
    let config = aws_sdk_dynamodb::Config::builder()
        .behavior_version(BehaviorVersion::latest())
        .region(Region::new("us-east-1"))
        .credentials_provider(Credentials::new("local", "local", None, None, "test"))
        .endpoint_url(local_endpoint())
        .interceptor(requests.clone())
        .build();
    let store = DynamoStore::new(
        aws_sdk_dynamodb::Client::from_conf(config),
        unique_table_name(),
    );
    store.create_table().await.unwrap();
    let store = Arc::new(store);
    let executor = Arc::new(Executor::new(
        store.clone(),
        Arc::new(DraftTracker::new()),
        Config::default(),
    ));
    let worker = Worker::new(store.clone(), GithubIngest::for_worker(executor), None);
    World {
        store,
        worker,
        requests,
    }
}

/// The real code scanning `created` delivery for alert `number` of `rule` (one group per rule
/// under the default grouping), in the inbox as the webhook function stored it.
async fn received(world: &World, number: u64, rule: &str) -> InboxItem {
    let body = varied(
        &octokit("code_scanning_alert/created.payload.json"),
        &[
            ("alert.number", json!(number)),
            ("alert.rule.id", json!(rule)),
        ],
    );
    let item = InboxItem::received(
        InboxSource::Github,
        format!("github:batch-{number}"),
        "code_scanning_alert",
        &body,
        chrono::Utc::now(),
    );
    assert!(world.store.put_inbox(&item).await.unwrap());
    item
}

/// A stream batch as Lambda hands it to the worker: one INSERT record per item, in order.
fn batch_of(items: &[InboxItem]) -> StreamBatch {
    let records: Vec<Value> = items
        .iter()
        .enumerate()
        .map(|(n, item)| {
            json!({
                "eventName": "INSERT",
                "eventSource": "aws:dynamodb",
                "dynamodb": {
                    "NewImage": inbox_stream_image(item).unwrap(),
                    "SequenceNumber": format!("{:021}", 100 + n),
                    "StreamViewType": "NEW_IMAGE"
                }
            })
        })
        .collect();
    serde_json::from_value(json!({ "Records": records })).unwrap()
}

async fn apply(world: &World, items: &[InboxItem]) {
    let response = apply_batch(&world.worker, &batch_of(items)).await;
    assert!(
        response.batch_item_failures.is_empty(),
        "the batch failed: {response:?}"
    );
    for item in items {
        let stored = world.store.get_inbox(&item.id).await.unwrap().unwrap();
        assert_eq!(stored.status, InboxStatus::Done, "{}", item.id);
    }
}

#[tokio::test]
async fn a_batch_of_ten_deliveries_about_ten_groups_is_one_read_and_one_commit_transaction() {
    let world = world().await;
    let rules: Vec<String> = (0..10).map(|r| format!("js/rule-{r}")).collect();
    // The groups exist: the batch measured is ten findings joining ten groups.
    let mut founding = Vec::new();
    for (n, rule) in rules.iter().enumerate() {
        founding.push(received(&world, 1 + n as u64, rule).await);
    }
    apply(&world, &founding).await;

    let mut joining = Vec::new();
    for (n, rule) in rules.iter().enumerate() {
        joining.push(received(&world, 101 + n as u64, rule).await);
    }
    let before = world.requests.snapshot();
    apply(&world, &joining).await;
    // One read for the ten lanes' events; one transaction for their ten commits (70
    // actions, under DynamoDB's 100), each settling its inbox item done. Before: a second
    // transaction for the ten settles, which followed the commits; before that, the first
    // lane's read and commit went alone (2 reads, 3 transactions).
    assert_eq!(world.requests.since(&before, "BatchGetItem"), (1, 0));
    assert_eq!(world.requests.since(&before, "TransactWriteItems"), (1, 0));
    assert_eq!(world.requests.since(&before, "UpdateItem"), (0, 0));

    let groups = world.store.all_groups(None, 100).await.unwrap().items;
    assert_eq!(groups.len(), 10);
    for group in groups {
        assert_eq!(group.value.tally.open, 2, "{}", group.value.key);
    }
}

#[tokio::test]
async fn ten_deliveries_joining_one_group_in_one_batch_lose_no_race_on_it() {
    let world = world().await;
    apply(&world, &[received(&world, 1, "js/one-rule").await]).await;

    let mut joining = Vec::new();
    for n in 2..=11u64 {
        joining.push(received(&world, n, "js/one-rule").await);
    }
    let before = world.requests.snapshot();
    apply(&world, &joining).await;
    let (transactions, cancelled) = world.requests.since(&before, "TransactWriteItems");
    // Each lane decided on the group as the lane before it committed it: no transaction
    // cancelled on the group's version, no lane read again. Before: all ten read one version
    // and nine lost the race, each a cancelled transaction, a back-off and another read.
    assert_eq!(cancelled, 0, "{transactions} transactions");
    assert_eq!(world.requests.since(&before, "BatchGetItem"), (1, 0));
    // Ten commits one after another (one group item, one write per request), each settling its
    // own inbox item: nothing is written after the last. Before: each lane's settle rode with
    // the next lane's commit, the last one's alone (11).
    assert!(transactions <= 10, "{transactions} transactions");
    assert_eq!(world.requests.since(&before, "UpdateItem"), (0, 0));

    let groups = world.store.all_groups(None, 100).await.unwrap().items;
    assert_eq!(groups.len(), 1);
    assert_eq!(groups[0].value.tally.open, 11);
    assert_eq!(groups[0].version, 11, "one version per delivery");
}

#[tokio::test]
async fn a_delivery_whose_inbox_item_is_gone_is_applied_and_no_item_is_made() {
    let world = world().await;
    let kept = received(&world, 1, "js/rule-kept").await;
    // In the stream, but expired from the table since (or never stored): the commit's settle
    // fails its condition, and the commit goes again without it.
    let mut gone = received(&world, 2, "js/rule-gone").await;
    gone.id = "github:batch-gone".into();
    let response = apply_batch(&world.worker, &batch_of(&[kept.clone(), gone.clone()])).await;
    assert!(
        response.batch_item_failures.is_empty(),
        "the batch failed: {response:?}"
    );
    let stored = world.store.get_inbox(&kept.id).await.unwrap().unwrap();
    assert_eq!(stored.status, InboxStatus::Done);
    assert!(world.store.get_inbox(&gone.id).await.unwrap().is_none());
    let groups = world.store.all_groups(None, 100).await.unwrap().items;
    assert_eq!(groups.len(), 2, "both deliveries are applied");
}
