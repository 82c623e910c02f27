//! Figure family `ocsf` (needs DynamoDB Local): the OCSF publisher as deployed, minus the
//! network to the SIEM. Real code-scanning deliveries (new groups, joins, one group's whole
//! life) are applied into a table with a stream; the stream's audit inserts, read back as the
//! publisher's event source mapping delivers them (batches of 100), go through the function's
//! handler (`ocsf_publisher::publish_batch`) over the read-only store, into a sink shaped as
//! the Firehose sink: each event one JSON line, calls split by the sink's own PutRecordBatch
//! limits.
//!
//! - `ocsf_publisher_records_per_sec_in_process` / `ocsf_publisher_events_per_sec_in_process`:
//!   stream records (audit items) and OCSF events published per second, the store's reads of the
//!   records each change names included.
//! - `ocsf_events_per_record`: events per audit item (an event's transaction writes one item
//!   holding its entries).
//! - `ocsf_bytes_per_firehose_record_mean` / `_max`: one event as one Firehose record.
//! - `ocsf_firehose_requests_per_record`: PutRecordBatch calls per stream record.

use crate::measure::figure;
use crate::payloads::{Deliveries, expect_status, expect_step, ingest_for, lifecycle};
use anyhow::{Context, Result, bail};
use async_trait::async_trait;
use aws_sdk_dynamodb::Client;
use aws_sdk_dynamodb::config::{BehaviorVersion, Credentials, Region};
use ocsf_publisher::{Publisher, publish_batch};
use scantix_core::memory::draft_tracker::DraftTracker;
use scantix_core::ports::sink::{Sink, SinkError};
use scantix_core::ports::store::Store;
use scantix_dynamodb::DynamoStore;
use scantix_dynamodb::stream::StreamBatch;
use scantix_sinks::batches::split;
use serde_json::{Value, json};
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Instant;

/// The publisher's mapping hands it at most this many records at once (the template's
/// `BatchSize`, Lambda's default for streams).
const RECORDS_PER_BATCH: usize = 100;

pub fn run(endpoint: &str) -> Result<()> {
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()?;
    runtime.block_on(publish(endpoint))
}

async fn publish(endpoint: &str) -> Result<()> {
    let client = local_client(endpoint);
    let table = format!("scantix-bench-ocsf-{}", uuid::Uuid::new_v4().simple());
    let store = DynamoStore::new(client.clone(), &table);
    store
        .create_table_with_stream(true)
        .await
        .with_context(|| format!("creating {table} on DynamoDB Local at {endpoint}"))?;
    let writer: Arc<dyn Store> = Arc::new(store);

    // The history: 200 new groups, 200 joins into 50 more, one group's whole life.
    let ingest = ingest_for(writer, Arc::new(DraftTracker::new()));
    let mut deliveries = Deliveries::new("ocsf")?;
    let joining = deliveries.joining(200, 4)?;
    for delivery in deliveries
        .new_groups(200)?
        .iter()
        .chain(&joining.seeds)
        .chain(&joining.joins)
    {
        expect_status(
            &ingest.handle(&delivery.headers, &delivery.body).await,
            "applied",
        )?;
    }
    for step in lifecycle()? {
        expect_step(
            &ingest
                .handle(&step.delivery.headers, &step.delivery.body)
                .await,
            &step,
        )?;
    }

    let streams = scantix_tests::streams::local_streams_client(endpoint).await;
    let records = scantix_tests::streams::audit_inserts(&client, &streams, &table).await;
    if records.is_empty() {
        bail!("the table's stream holds no audit inserts");
    }
    let batches: Vec<StreamBatch> = records
        .chunks(RECORDS_PER_BATCH)
        .map(|records| serde_json::from_value(json!({ "Records": records })))
        .collect::<Result<_, _>>()
        .context("shaping the stream records as the publisher's event")?;

    let sink = Arc::new(FirehoseShaped::default());
    let publisher = Publisher {
        store: Arc::new(DynamoStore::new(client, &table).read_only()),
        sink: sink.clone(),
    };
    let started = Instant::now();
    for batch in &batches {
        let response = publish_batch(&publisher, batch).await;
        if !response.batch_item_failures.is_empty() {
            bail!("the publisher asked for a retry: {response:?}");
        }
    }
    let seconds = started.elapsed().as_secs_f64();
    let events = sink.events.load(Ordering::Relaxed);
    let bytes = sink.bytes.load(Ordering::Relaxed);
    let records = records.len();
    figure("ocsf_publisher_stream_records", records);
    figure(
        "ocsf_publisher_records_per_sec_in_process",
        format!("{:.0}", records as f64 / seconds),
    );
    figure(
        "ocsf_publisher_events_per_sec_in_process",
        format!("{:.0}", events as f64 / seconds),
    );
    figure(
        "ocsf_events_per_record",
        format!("{:.2}", events as f64 / records as f64),
    );
    figure(
        "ocsf_bytes_per_firehose_record_mean",
        format!("{:.0}", bytes as f64 / events.max(1) as f64),
    );
    figure(
        "ocsf_bytes_per_firehose_record_max",
        sink.largest.load(Ordering::Relaxed),
    );
    figure(
        "ocsf_firehose_requests_per_record",
        format!(
            "{:.2}",
            sink.requests.load(Ordering::Relaxed) as f64 / records as f64
        ),
    );
    Ok(())
}

fn local_client(endpoint: &str) -> Client {
    let config = aws_sdk_dynamodb::Config::builder()
        .behavior_version(BehaviorVersion::latest())
        .region(Region::new("us-east-1"))
        .credentials_provider(Credentials::new("local", "local", None, None, "bench"))
        .endpoint_url(endpoint)
        .build();
    Client::from_conf(config)
}

/// What the Firehose sink would send, without sending it: each event serialised as its record
/// (one JSON line), the calls counted as the sink splits them.
#[derive(Default)]
struct FirehoseShaped {
    events: AtomicUsize,
    bytes: AtomicUsize,
    largest: AtomicUsize,
    requests: AtomicUsize,
}

#[async_trait]
impl Sink for FirehoseShaped {
    fn name(&self) -> &str {
        "firehose-shaped"
    }

    async fn publish(&self, events: &[Value]) -> Result<(), SinkError> {
        let sizes: Vec<usize> = events.iter().map(|e| e.to_string().len() + 1).collect();
        let calls = split(&sizes, scantix_sinks::firehose::LIMITS);
        self.events.fetch_add(events.len(), Ordering::Relaxed);
        self.bytes.fetch_add(sizes.iter().sum(), Ordering::Relaxed);
        self.largest
            .fetch_max(sizes.iter().copied().max().unwrap_or(0), Ordering::Relaxed);
        self.requests
            .fetch_add(calls.calls.len(), Ordering::Relaxed);
        Ok(())
    }
}
