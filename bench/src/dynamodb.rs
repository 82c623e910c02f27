//! Figure family 2: DynamoDB Local, on fresh tables without a stream. The DynamoDB client carries
//! a `RequestCounter`, so every request an event causes is counted, whichever store call made it.
//!
//! - `dynamodb_raw_conditional_puts_per_sec_1_task`: DynamoDB Local's own ceiling on this machine
//!   (one conditional PutItem per request, one task): the yardstick for events/s.
//! - `dynamodb_raw_read_then_transaction_per_sec_1_task`: the same for an event's prescribed shape
//!   with nothing of scantix in it (one 4-key BatchGetItem, one 6-put TransactWriteItems).
//! - `dynamodb_round_trips_<case>`: requests per event along one group's life
//!   (`payloads::lifecycle`) with draft tickets (no tracker: the default), with the breakdown by
//!   operation; `dynamodb_round_trips_tracker_<case>`: the same with a tracker (the in-memory
//!   twin: its calls cost no DynamoDB request, the lease, render and finalize around them do).
//! - `dynamodb_events_per_sec_<case>_<n>_task(s)`: end to end (`GithubIngest::handle` over
//!   DynamoStore) with 1 task and with 16 concurrent tasks, and the requests per event averaged.
//! - `group_of_10000_*`: one group grown to 10,000 findings, then joined: requests and bytes
//!   written per join (DynamoDB bills writes by item size).
//! - `sarif_apply_results_per_sec_dynamodb`: an upload's body applied as one analysis, as the
//!   worker applies it (`apply_analysis` over DynamoStore, the draft tracker): Semgrep's 77 real
//!   results over 17 rules, [`SARIF_COPIES`] copies each in a directory of its own, on a fresh
//!   repository; with `sarif_apply_requests_per_result_dynamodb` and `…_by_call_dynamodb`.
//! - `burst_100_findings_one_group_tracker_updates`: 100 findings of one group from 16 concurrent
//!   senders against a tracker answering in 50 ms: how many ticket updates the outbox makes.
//!
//! A multi-thread runtime (one worker per core) lets 16 tasks overlap their round trips. DynamoDB
//! Local runs on this machine: the JVM and the bench share its cores.

use crate::dynamodb_calls::RequestCounter;
use crate::measure::{self, Tally, figure, rate};
use crate::payloads::{
    Deliveries, Delivery, Joining, expect_status, expect_step, ingest_for, lifecycle,
};
use anyhow::{Context, Result};
use async_trait::async_trait;
use aws_sdk_dynamodb::Client;
use aws_sdk_dynamodb::config::{BehaviorVersion, Credentials, Region};
use aws_sdk_dynamodb::types::{AttributeValue, KeysAndAttributes, Put, TransactWriteItem};
use scantix_app::ingest::GithubIngest;
use scantix_core::identity::GroupKey;
use scantix_core::memory::counted_tracker::Counted;
use scantix_core::memory::draft_tracker::DraftTracker;
use scantix_core::memory::tracker::MemoryTracker;
use scantix_core::ports::store::Store;
use scantix_core::ports::tracker::{Tracker, TrackerError};
use scantix_core::records::{TicketRef, TicketState};
use scantix_core::ticket::TicketContent;
use scantix_dynamodb::DynamoStore;
use std::cell::Cell;
use std::collections::HashMap;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

/// Concurrent tasks handing deliveries to one ingest.
const TASKS: [usize; 2] = [1, 16];

/// Events per timed batch, per task.
const BATCH_PER_TASK: u64 = 50;

/// How many alerts join each group in the joining runs: groups grow from 1 to 5 members.
const JOINS_PER_GROUP: u64 = 4;

/// Deliveries replayed in the duplicate runs.
const DUPLICATE_POOL: usize = 64;

/// Copies of the Semgrep file's results in the SARIF figure (77 each).
const SARIF_COPIES: usize = 13;

/// The big group's size, and how many joins are measured on it.
const BIG_GROUP: u64 = 10_000;
const BIG_GROUP_JOINS: u64 = 50;

/// A DynamoStore on DynamoDB Local whose client counts its requests, over a new table (no stream).
pub(crate) async fn counted_store(
    endpoint: &str,
    label: &str,
) -> Result<(DynamoStore, RequestCounter)> {
    let counter = RequestCounter::new();
    let config = aws_sdk_dynamodb::Config::builder()
        .behavior_version(BehaviorVersion::latest())
        .region(Region::new("us-east-1"))
        .credentials_provider(Credentials::new("local", "local", None, None, "bench"))
        .endpoint_url(endpoint)
        .interceptor(counter.clone())
        .build();
    let table = format!("scantix-bench-{label}-{}", uuid::Uuid::new_v4().simple());
    let store = DynamoStore::new(Client::from_conf(config), &table);
    store
        .create_table_with_stream(false)
        .await
        .with_context(|| format!("while creating table {table} on DynamoDB Local at {endpoint}"))?;
    Ok((store, counter))
}

pub fn run(endpoint: &str) -> Result<()> {
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()?;
    runtime.block_on(async {
        figure("dynamodb_endpoint", endpoint);

        let (store, counter) = counted_store(endpoint, "drafts").await?;
        let store: Arc<dyn Store> = Arc::new(store);
        let drafts = Arc::new(ingest_for(store.clone(), Arc::new(DraftTracker::new())));
        round_trips(&drafts, &counter, "").await?;

        let (store, tracker_counter) = counted_store(endpoint, "tracker").await?;
        let tracker = ingest_for(Arc::new(store), Arc::new(MemoryTracker::new()));
        round_trips(&tracker, &tracker_counter, "tracker_").await?;

        // After the round trips: DynamoDB Local's JIT is warm by then, as it is for every run below.
        raw_puts(endpoint).await?;
        for tasks in TASKS {
            throughput(&drafts, &counter, tasks).await?;
        }
        big_group(endpoint).await?;
        burst(endpoint).await?;
        sarif_apply(endpoint).await?;
        Ok(())
    })
}

/// DynamoDB Local's ceiling: conditional PutItems of fresh small items from one task.
async fn raw_puts(endpoint: &str) -> Result<()> {
    let (store, _) = counted_store(endpoint, "raw").await?;
    let client = store.client().clone();
    let table = store.table().to_owned();
    let next = Cell::new(0u64);
    let tally = measure::run(async |_| {
        let n = next.get();
        next.set(n + 1);
        client
            .put_item()
            .table_name(&table)
            .item("pk", AttributeValue::S(format!("RAW#{n}")))
            .item("sk", AttributeValue::S("RAW".into()))
            .item("doc", AttributeValue::S("{\"n\":1}".into()))
            .condition_expression("attribute_not_exists(pk)")
            .send()
            .await
            .context("a raw conditional put")?;
        Ok(())
    })
    .await?;
    rate("dynamodb_raw_conditional_puts_per_sec_1_task", &tally);

    // The shape the storage design prescribes for an event, with no scantix in it: one
    // BatchGetItem of 4 keys, then one TransactWriteItems of 6 conditional puts of about 1 KB
    // (a join writes its finding, group, delivery, audit item and two index entries). The best
    // an event can do on this server; `dynamodb_events_per_sec_joining_1_task` set against it
    // is what scantix itself costs.
    let doc = AttributeValue::S(format!("{{\"pad\":\"{}\"}}", "x".repeat(1_000)));
    let tally = measure::run(async |_| {
        let n = next.get();
        next.set(n + 1);
        let keys = (0..4).map(|k| {
            HashMap::from([
                (
                    "pk".to_string(),
                    AttributeValue::S(format!("SHAPE#{n}#{k}")),
                ),
                ("sk".to_string(), AttributeValue::S("S".into())),
            ])
        });
        let read = KeysAndAttributes::builder()
            .set_keys(Some(keys.collect()))
            .consistent_read(true)
            .build()
            .context("keys")?;
        client
            .batch_get_item()
            .request_items(&table, read)
            .send()
            .await
            .context("a raw batch get")?;
        let puts = (0..6).map(|k| {
            let put = Put::builder()
                .table_name(&table)
                .item("pk", AttributeValue::S(format!("SHAPE#{n}#{k}")))
                .item("sk", AttributeValue::S("S".into()))
                .item("doc", doc.clone())
                .condition_expression("attribute_not_exists(pk)")
                .build()
                .context("a put")?;
            Ok(TransactWriteItem::builder().put(put).build())
        });
        client
            .transact_write_items()
            .set_transact_items(Some(puts.collect::<Result<_>>()?))
            .send()
            .await
            .context("a raw transaction")?;
        Ok(())
    })
    .await?;
    rate("dynamodb_raw_read_then_transaction_per_sec_1_task", &tally);
    Ok(())
}

async fn round_trips(ingest: &GithubIngest, counter: &RequestCounter, prefix: &str) -> Result<()> {
    for step in lifecycle()? {
        let (case, delivery) = (step.case, &step.delivery);
        let before = counter.requests();
        expect_step(
            &ingest.handle(&delivery.headers, &delivery.body).await,
            &step,
        )?;
        let requests = counter.requests().since(&before);
        figure(
            &format!("dynamodb_round_trips_{prefix}{case}"),
            requests.total(),
        );
        figure(
            &format!("dynamodb_round_trips_{prefix}{case}_by_call"),
            requests,
        );
    }
    Ok(())
}

/// New groups, joining alerts and duplicate deliveries, each from `tasks` concurrent tasks.
async fn throughput(
    ingest: &Arc<GithubIngest>,
    counter: &RequestCounter,
    tasks: usize,
) -> Result<()> {
    let mut deliveries = Deliveries::new(&format!("dynamodb-{tasks}"))?;
    let batch = BATCH_PER_TASK * tasks as u64;
    let started = counter.requests();
    // Round trips are summed over timed batches only (warm-up included), not over preparation.
    let trips = RoundTrips::default();
    let apply = async |batch: Vec<Delivery>, status: &str| {
        let before = counter.requests();
        let events = batch.len() as u64;
        handle_concurrently(ingest, batch, tasks, status).await?;
        trips.add(events, counter.requests().since(&before).total());
        anyhow::Ok(())
    };

    let new_group = measure::run_batches(
        batch,
        async |n| deliveries.new_groups(n),
        async |b| apply(b, "applied").await,
    )
    .await?;
    report("new_group", tasks, &new_group, trips.take());

    let joining = measure::run_batches(
        batch,
        async |n| {
            let Joining { seeds, joins } = deliveries.joining(n, JOINS_PER_GROUP)?;
            handle_concurrently(ingest, seeds, tasks, "applied").await?;
            Ok(joins)
        },
        async |b| apply(b, "applied").await,
    )
    .await?;
    report("joining", tasks, &joining, trips.take());

    let applied = deliveries.new_groups(DUPLICATE_POOL as u64)?;
    handle_concurrently(ingest, applied.clone(), tasks, "applied").await?;
    let mut next = 0;
    let duplicate = measure::run_batches(
        batch,
        async |n| {
            let replays = (next..next + n as usize)
                .map(|i| applied[i % DUPLICATE_POOL].clone())
                .collect();
            next += n as usize;
            Ok(replays)
        },
        async |b| apply(b, "duplicate").await,
    )
    .await?;
    report("duplicate", tasks, &duplicate, trips.take());
    figure(
        &format!("dynamodb_mean_ms_per_request_{}", tasks_label(tasks)),
        counter.requests().since(&started).mean_millis(),
    );
    Ok(())
}

/// A group grown to `BIG_GROUP` findings (8 senders), then joined `BIG_GROUP_JOINS` times from one
/// task: requests and bytes written per join.
async fn big_group(endpoint: &str) -> Result<()> {
    let (store, counter) = counted_store(endpoint, "big").await?;
    let dynamo = store.clone();
    let ingest = Arc::new(ingest_for(Arc::new(store), Arc::new(DraftTracker::new())));
    let mut deliveries = Deliveries::new("big")?;
    let group = deliveries.fresh_group();
    let seeds = (0..BIG_GROUP)
        .map(|_| deliveries.open(group))
        .collect::<Result<Vec<_>>>()?;
    let started = Instant::now();
    handle_concurrently(&ingest, seeds, 8, "applied").await?;
    figure(
        "group_of_10000_seconds_to_build",
        format!("{:.1}", started.elapsed().as_secs_f64()),
    );
    let joins = (0..BIG_GROUP_JOINS)
        .map(|_| deliveries.open(group))
        .collect::<Result<Vec<_>>>()?;
    let (before, bytes_before) = (counter.requests(), dynamo.bytes_written());
    handle_concurrently(&ingest, joins, 1, "applied").await?;
    let requests = counter.requests().since(&before);
    let bytes = dynamo.bytes_written() - bytes_before;
    figure(
        "group_of_10000_joining_round_trips",
        format!("{:.2}", requests.total() as f64 / BIG_GROUP_JOINS as f64),
    );
    figure("group_of_10000_joining_round_trips_by_call", requests);
    figure(
        "group_of_10000_bytes_written_per_join",
        bytes / BIG_GROUP_JOINS,
    );
    Ok(())
}

/// 100 findings of one group from 16 senders, against a tracker that answers in 50 ms (Jira's
/// usual): how many ticket updates reach the tracker.
async fn burst(endpoint: &str) -> Result<()> {
    let (store, _) = counted_store(endpoint, "burst").await?;
    let (tracker, calls) = Counted::new(Slow {
        inner: MemoryTracker::new(),
        delay: Duration::from_millis(50),
    });
    let ingest = Arc::new(ingest_for(Arc::new(store), Arc::new(tracker)));
    let mut deliveries = Deliveries::new("burst")?;
    let group = deliveries.fresh_group();
    let burst = (0..100)
        .map(|_| deliveries.open(group))
        .collect::<Result<Vec<_>>>()?;
    handle_concurrently(&ingest, burst, 16, "applied").await?;
    let calls = calls.snapshot();
    figure("burst_100_findings_one_group_tracker_creates", calls.create);
    figure("burst_100_findings_one_group_tracker_updates", calls.update);
    Ok(())
}

/// A tracker that takes `delay` to answer each call.
struct Slow {
    inner: MemoryTracker,
    delay: Duration,
}

#[async_trait]
impl Tracker for Slow {
    fn name(&self) -> &str {
        self.inner.name()
    }
    async fn find_by_group_key(&self, key: &GroupKey) -> Result<Option<TicketRef>, TrackerError> {
        tokio::time::sleep(self.delay).await;
        self.inner.find_by_group_key(key).await
    }
    async fn create(
        &self,
        content: &TicketContent,
    ) -> Result<(TicketRef, TicketState), TrackerError> {
        tokio::time::sleep(self.delay).await;
        self.inner.create(content).await
    }
    async fn update(&self, t: &TicketRef, c: &TicketContent) -> Result<(), TrackerError> {
        tokio::time::sleep(self.delay).await;
        self.inner.update(t, c).await
    }
    async fn comment(&self, t: &TicketRef, id: &str, text: &str) -> Result<(), TrackerError> {
        tokio::time::sleep(self.delay).await;
        self.inner.comment(t, id, text).await
    }
    async fn transition(&self, t: &TicketRef, to: TicketState) -> Result<(), TrackerError> {
        tokio::time::sleep(self.delay).await;
        self.inner.transition(t, to).await
    }
}

fn report(case: &str, tasks: usize, tally: &Tally, trips: f64) {
    let tasks = tasks_label(tasks);
    rate(&format!("dynamodb_events_per_sec_{case}_{tasks}"), tally);
    figure(
        &format!("dynamodb_round_trips_per_event_{case}_{tasks}"),
        format!("{trips:.2}"),
    );
}

fn tasks_label(tasks: usize) -> String {
    match tasks {
        1 => "1_task".to_owned(),
        n => format!("{n}_tasks"),
    }
}

/// Events and the round trips they took, summed over a run. Cells: the timed closure adds while
/// the run's caller reads between runs.
#[derive(Default)]
struct RoundTrips {
    events: Cell<u64>,
    trips: Cell<u64>,
}

impl RoundTrips {
    fn add(&self, events: u64, trips: u64) {
        self.events.set(self.events.get() + events);
        self.trips.set(self.trips.get() + trips);
    }

    /// The average so far, starting over.
    fn take(&self) -> f64 {
        self.trips.take() as f64 / self.events.take() as f64
    }
}

/// Hands `deliveries` to the ingest from `tasks` tasks, each taking the next delivery not yet
/// taken; fails unless every one is answered `status`.
async fn handle_concurrently(
    ingest: &Arc<GithubIngest>,
    deliveries: Vec<Delivery>,
    tasks: usize,
    status: &str,
) -> Result<()> {
    let deliveries = Arc::new(deliveries);
    let next = Arc::new(AtomicUsize::new(0));
    let mut workers = tokio::task::JoinSet::new();
    for _ in 0..tasks {
        let (ingest, deliveries, next) = (ingest.clone(), deliveries.clone(), next.clone());
        let status = status.to_owned();
        workers.spawn(async move {
            while let Some(delivery) = deliveries.get(next.fetch_add(1, Ordering::Relaxed)) {
                let answer = ingest.handle(&delivery.headers, &delivery.body).await;
                expect_status(&answer, &status)?;
            }
            anyhow::Ok(())
        });
    }
    while let Some(finished) = workers.join_next().await {
        finished??;
    }
    Ok(())
}

/// `sarif_apply_results_per_sec_dynamodb`: see the module's description.
async fn sarif_apply(endpoint: &str) -> Result<()> {
    use scantix_app::analysis::{SarifFile, apply_analysis};
    use scantix_app::execute::Executor;
    use scantix_app::repo_settings::RepoSettings;

    let path = crate::sarif::fixture(
        "shared:sarif/semgrep/defectdojo.semgrep-oss-1.69.0.issue_10191.sarif",
    );
    let mut sarif: serde_json::Value = serde_json::from_slice(&std::fs::read(&path)?)?;
    let results = sarif["runs"][0]["results"]
        .as_array()
        .context("the Semgrep file's results")?
        .clone();
    let mut copied = Vec::with_capacity(results.len() * SARIF_COPIES);
    for n in 0..SARIF_COPIES {
        for result in &results {
            let mut result = result.clone();
            crate::sarif::vary(&mut result, n);
            copied.push(result);
        }
    }
    sarif["runs"][0]["results"] = serde_json::Value::Array(copied);
    let body = serde_json::to_vec(&sarif)?;

    let (store, counter) = counted_store(endpoint, "sarif").await?;
    let executor = Executor::new(
        Arc::new(store),
        Arc::new(DraftTracker::new()),
        scantix_core::config::Config::default(),
    );
    let settings = RepoSettings::defaults();
    let target = crate::sarif::default_branch_of(7_700, "bench/sarif-upload");
    let before = counter.requests();
    let started = Instant::now();
    let report = apply_analysis(
        &executor,
        &settings,
        &target,
        vec![SarifFile::from_bytes("semgrep.sarif", body)],
        |_| {},
    )
    .await?;
    let elapsed = started.elapsed().as_secs_f64();
    let applied: usize = report.analyses.iter().map(|a| a.open + a.suppressed).sum();
    if applied != results.len() * SARIF_COPIES {
        anyhow::bail!(
            "applied {applied} results of {}",
            results.len() * SARIF_COPIES
        );
    }
    let requests = counter.requests().since(&before);
    figure(
        "sarif_apply_results_per_sec_dynamodb",
        format!("{:.0}", applied as f64 / elapsed),
    );
    figure(
        "sarif_apply_requests_per_result_dynamodb",
        format!("{:.2}", requests.total() as f64 / applied as f64),
    );
    figure("sarif_apply_requests_by_call_dynamodb", requests);
    Ok(())
}
