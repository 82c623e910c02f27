//! Figure family 3: the deployed shape. Needs DynamoDB Local; the process figures also need
//! cargo-lambda (`scripts/dynamodb-local.sh scripts/with-cargo-lambda.sh cargo run --release -p
//! bench`).
//!
//! - `ack_ms_p50/p99_in_process`: `GithubReceiver::handle` over DynamoStore (verify, read, one
//!   conditional PutItem): what GitHub waits for, without the Lambda runtime around it.
//! - `worker_deliveries_per_sec_in_process`: `Worker::apply` over a stream batch
//!   (with `worker_requests_per_delivery`, `worker_requests_by_call`,
//!   `worker_failed_requests_by_call` and `worker_mean_ms_per_request`)
//!   (`scantix_wiring::worker::apply_batch`), over DynamoStore and the draft tracker, batches of 10
//!   new deliveries over 20 groups (as the stream mapping delivers them).
//! - `worker_one_group_deliveries_per_sec_in_process` (and its requests, as above): the same with
//!   every delivery of a batch joining one group, as a first scan's burst of one rule does.
//! - Per function binary, the sweeper included (release, under `cargo lambda watch`'s runtime
//!   emulator, as in Lambda): `<f>_cold_start_ms` (process spawned → first invocation answered: runtime init, cold-start
//!   wiring, first event), `<f>_warm_ms_p50/p99` (invocations through the emulator's HTTP API) and
//!   `<f>_peak_rss_mb` (the process's VmHWM after all of them).

use crate::measure::figure;
use anyhow::{Context, Result, bail};
use scantix_app::ingest::github::GithubGate;
use scantix_app::ingest::{GithubIngest, GithubReceiver};
use scantix_app::worker::Worker;
use scantix_core::inbox::{InboxItem, InboxSource};
use scantix_core::memory::draft_tracker::DraftTracker;
use scantix_core::ports::store::Store;
use scantix_core::secret::Secret;
use scantix_dynamodb::{DynamoStore, inbox_stream_image};
use scantix_webhooks::signature::sign;
use scantix_wiring::worker::{BatchResponse, StreamBatch, apply_batch};
use serde_json::{Value, json};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::Arc;
use std::time::{Duration, Instant};

const SECRET: &str = "bench-webhook-secret";
const WARM_INVOCATIONS: usize = 200;
const WORKER_BATCHES: usize = 30;

pub fn run(endpoint: &str) -> Result<()> {
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()?;
    runtime.block_on(async {
        let table = format!("scantix-bench-fn-{}", uuid::Uuid::new_v4().simple());
        let store = DynamoStore::connect_local(endpoint, &table).await;
        store
            .create_table()
            .await
            .context("creating the bench table")?;
        let store: Arc<dyn Store> = Arc::new(store);
        ack_in_process(&store).await?;
        worker_in_process(endpoint).await?;
        match std::env::var("SCANTIX_TEST_CARGO_LAMBDA") {
            Ok(cargo_lambda) if !cargo_lambda.is_empty() => {
                processes(Path::new(&cargo_lambda), endpoint, &table).await
            }
            _ => {
                figure(
                    "function_processes",
                    "skipped (run through scripts/with-cargo-lambda.sh)",
                );
                Ok(())
            }
        }
    })
}

/// A real code scanning `created` delivery, renumbered and moved to one of `groups` rules.
fn delivery(number: u64, groups: u64) -> Vec<u8> {
    let mut body: Value = serde_json::from_slice(&crate::payloads::fixture(
        "code_scanning_alert/created.payload.json",
    ))
    .expect("fixture parses");
    body["alert"]["number"] = json!(number);
    body["alert"]["rule"]["id"] = json!(format!("bench/rule-{}", number % groups));
    serde_json::to_vec(&body).expect("serialises")
}

fn percentile(sorted: &[f64], p: f64) -> f64 {
    let index = ((sorted.len() as f64 - 1.0) * p).round() as usize;
    sorted[index.min(sorted.len() - 1)]
}

fn latencies(name: &str, mut millis: Vec<f64>) {
    millis.sort_by(f64::total_cmp);
    figure(
        &format!("{name}_p50"),
        format!("{:.2}", percentile(&millis, 0.5)),
    );
    figure(
        &format!("{name}_p99"),
        format!("{:.2}", percentile(&millis, 0.99)),
    );
}

async fn ack_in_process(store: &Arc<dyn Store>) -> Result<()> {
    let receiver = GithubReceiver::new(GithubGate::new(Secret::new(SECRET)), store.clone());
    let mut millis = Vec::new();
    for n in 0..500u64 {
        let body = delivery(1_000_000 + n, 20);
        let mut headers = http::HeaderMap::new();
        headers.insert("x-github-event", "code_scanning_alert".parse()?);
        headers.insert("x-github-delivery", format!("ack-{n}").parse()?);
        headers.insert(
            "x-hub-signature-256",
            sign(SECRET.as_bytes(), &body).parse()?,
        );
        let started = Instant::now();
        let answer = receiver.handle(&headers, &body).await;
        millis.push(started.elapsed().as_secs_f64() * 1e3);
        if answer.status != 202 {
            bail!("ack: {} {}", answer.status, answer.body);
        }
    }
    latencies("ack_ms_in_process", millis);
    Ok(())
}

async fn worker_in_process(endpoint: &str) -> Result<()> {
    // Its own table, no stream (the batches are made here), with requests counted.
    let (store, counter) = crate::dynamodb::counted_store(endpoint, "worker").await?;
    let store: Arc<dyn Store> = Arc::new(store);
    let store = &store;
    let executor = Arc::new(scantix_app::execute::Executor::new(
        store.clone(),
        Arc::new(DraftTracker::new()),
        scantix_core::config::Config::default(),
    ));
    let worker = Worker::new(store.clone(), GithubIngest::for_worker(executor), None);
    // 10 groups per batch (each batch's ten alerts have ten different rules).
    worker_batches(store, &worker, &counter, 2_000_000, 20, "worker").await?;
    // A burst of one rule (a first scan): all ten deliveries of a batch join one group.
    worker_batches(store, &worker, &counter, 5_000_000, 1, "worker_one_group").await
}

/// Applies [`WORKER_BATCHES`] batches of 10 new deliveries (alerts from `first`, over `groups`
/// rules) and prints `<name>_deliveries_per_sec_in_process` and the requests they took.
async fn worker_batches(
    store: &Arc<dyn Store>,
    worker: &Worker,
    counter: &crate::dynamodb_calls::RequestCounter,
    first: u64,
    groups: u64,
    name: &str,
) -> Result<()> {
    // Built before the clock starts: the figure is the worker's, not the payload factory's.
    // Each item is in the inbox first, as the webhook function leaves it: each delivery's commit
    // settles it there (on an absent item that settle fails its condition, and the commit goes
    // again without it: a request more).
    let mut batches: Vec<StreamBatch> = Vec::new();
    for batch in 0..WORKER_BATCHES as u64 {
        let mut records = Vec::new();
        for i in 0..10u64 {
            let item = inbox_item(first + batch * 10 + i, groups);
            store.put_inbox(&item).await?;
            records.push(stream_record_of(&item)?);
        }
        batches.push(serde_json::from_value(json!({ "Records": records }))?);
    }
    let mut applied = 0;
    let before = counter.requests();
    let started = Instant::now();
    for batch in &batches {
        let response = apply_batch(worker, batch).await;
        if !response.batch_item_failures.is_empty() {
            bail!("worker batch failed: {response:?}");
        }
        applied += batch.records.len();
    }
    figure(
        &format!("{name}_deliveries_per_sec_in_process"),
        format!("{:.0}", applied as f64 / started.elapsed().as_secs_f64()),
    );
    let requests = counter.requests().since(&before);
    figure(
        &format!("{name}_requests_per_delivery"),
        format!("{:.2}", requests.total() as f64 / applied.max(1) as f64),
    );
    figure(&format!("{name}_requests_by_call"), &requests);
    // Cancelled transactions (a lost race on a version) and throttled requests: each one is
    // a delivery decided or sent again.
    figure(
        &format!("{name}_failed_requests_by_call"),
        requests.failed(),
    );
    figure(
        &format!("{name}_mean_ms_per_request"),
        requests.mean_millis(),
    );
    Ok(())
}

/// The inbox item of alert `number`'s delivery, as the webhook function stores it.
fn inbox_item(number: u64, groups: u64) -> InboxItem {
    InboxItem::received(
        InboxSource::Github,
        format!("github:bench-{number}"),
        "code_scanning_alert",
        &delivery(number, groups),
        chrono::Utc::now(),
    )
}

/// One stream record carrying a new inbox item for alert `number`.
fn stream_record(number: u64, groups: u64) -> Result<Value> {
    stream_record_of(&inbox_item(number, groups))
}

/// The stream record of `item`'s insert (its sequence number from the alert's).
fn stream_record_of(item: &InboxItem) -> Result<Value> {
    let image = inbox_stream_image(item)?;
    let number = item.id.rsplit('-').next().unwrap_or_default();
    Ok(json!({
        "eventName": "INSERT",
        "dynamodb": { "NewImage": image, "SequenceNumber": format!("{number:0>21}") }
    }))
}

struct Process(Child);

impl Drop for Process {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

fn peak_rss_mb(pid: u32) -> Option<f64> {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).ok()?;
    let line = status.lines().find(|l| l.starts_with("VmHWM:"))?;
    let kb: f64 = line.split_whitespace().nth(1)?.parse().ok()?;
    Some(kb / 1024.0)
}

async fn processes(cargo_lambda: &Path, endpoint: &str, table: &str) -> Result<()> {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("..");
    let cargo = std::env::var("CARGO").unwrap_or_else(|_| "cargo".into());
    let built = Command::new(cargo)
        .args([
            "build",
            "--release",
            "-p",
            "github-webhook",
            "-p",
            "jira-webhook",
            "-p",
            "worker",
            "-p",
            "sweeper",
        ])
        .current_dir(&root)
        .status()?;
    if !built.success() {
        bail!("building the release function binaries failed");
    }
    let port = std::net::TcpListener::bind("127.0.0.1:0")?
        .local_addr()?
        .port();
    let _emulator = Process(
        Command::new(cargo_lambda)
            .args([
                "lambda",
                "watch",
                "--only-lambda-apis",
                "-A",
                "127.0.0.1",
                "-P",
            ])
            .arg(port.to_string())
            .current_dir(&root)
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()?,
    );
    while std::net::TcpStream::connect(("127.0.0.1", port)).is_err() {
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    let http = reqwest::Client::new();
    let binaries = root.join("target/release");
    let aws = [
        ("SCANTIX_TABLE", table.to_owned()),
        ("AWS_REGION", "us-east-1".to_owned()),
        ("AWS_ACCESS_KEY_ID", "local".to_owned()),
        ("AWS_SECRET_ACCESS_KEY", "local".to_owned()),
        ("AWS_ENDPOINT_URL_DYNAMODB", endpoint.to_owned()),
        ("AWS_LAMBDA_LOG_LEVEL", "WARN".to_owned()),
        ("GITHUB_WEBHOOK_SECRET", SECRET.to_owned()),
        ("JIRA_WEBHOOK_SECRET", SECRET.to_owned()),
    ];
    let jira_body = std::fs::read(crate::payloads::fixtures_root().join(
        "jira-webhooks/mattermost-plugin-jira/webhook-cloud-issue-updated-custom-field.json",
    ))?;
    // The sweeper reads GitHub as the App: a test key (never accepted by any GitHub), and a table
    // of its own with no installations recorded, so a sweep is its fixed cost (the SLA scan over
    // an empty table, no GitHub call).
    let sweeper_table = format!("{table}-sweeper");
    DynamoStore::connect_local(endpoint, &sweeper_table)
        .await
        .create_table()
        .await
        .context("creating the sweeper's table")?;
    let app_key =
        std::fs::read_to_string(root.join("shared/adapters/github/src/testdata/app-key.pkcs8.pem"))
            .context("reading the test App key")?;
    let sweeper_env = [
        ("SCANTIX_TABLE", sweeper_table),
        ("GITHUB_APP_ID", "1".to_owned()),
        ("GITHUB_APP_PRIVATE_KEY", app_key),
        ("GITHUB_API_URL", "http://127.0.0.1:9".to_owned()),
    ];
    let scheduled = std::fs::read(root.join("events/lambda/sweeper.json"))?;
    for function in ["github-webhook", "jira-webhook", "worker", "sweeper"] {
        let binary: PathBuf = binaries.join(function);
        let mut n = 0u64;
        // Each request is built before its clock starts (signing, stream records).
        let mut request_for = || -> Result<reqwest::RequestBuilder> {
            n += 1;
            let request = match function {
                "github-webhook" => {
                    let body = delivery(3_000_000 + n, 20);
                    http.post(format!("http://127.0.0.1:{port}/lambda-url/{function}/"))
                        .header("x-github-event", "code_scanning_alert")
                        .header("x-github-delivery", format!("proc-{n}"))
                        .header("x-hub-signature-256", sign(SECRET.as_bytes(), &body))
                        .body(body)
                }
                "jira-webhook" => http
                    .post(format!("http://127.0.0.1:{port}/lambda-url/{function}/"))
                    .header("x-hub-signature", sign(SECRET.as_bytes(), &jira_body))
                    .header("x-atlassian-webhook-identifier", format!("proc-{n}"))
                    .body(jira_body.clone()),
                "sweeper" => http
                    .post(format!(
                        "http://127.0.0.1:{port}/2015-03-31/functions/{function}/invocations"
                    ))
                    .header("content-type", "application/json")
                    .body(scheduled.clone()),
                _ => {
                    let records: Vec<Value> = (0..10u64)
                        .map(|i| stream_record(4_000_000 + n * 10 + i, 20))
                        .collect::<Result<_>>()?;
                    http.post(format!(
                        "http://127.0.0.1:{port}/2015-03-31/functions/{function}/invocations"
                    ))
                    .json(&json!({ "Records": records }))
                }
            };
            Ok(request)
        };
        // A worker answer of 200 may still name failed records: those deliveries were not done.
        let answered = |function: &str, status: reqwest::StatusCode, body: &[u8]| -> Result<()> {
            if !status.is_success() {
                bail!("{function}: invocation answered {status}");
            }
            if function == "worker" {
                let response: BatchResponse = serde_json::from_slice(body)?;
                if !response.batch_item_failures.is_empty() {
                    bail!("worker: records failed: {response:?}");
                }
            }
            Ok(())
        };
        let first_request = request_for()?;
        let started = Instant::now();
        let process = Process(
            Command::new(&binary)
                .env_clear()
                .env(
                    "AWS_LAMBDA_RUNTIME_API",
                    format!("http://127.0.0.1:{port}/.rt/{function}"),
                )
                .env("AWS_LAMBDA_FUNCTION_NAME", function)
                .env("AWS_LAMBDA_FUNCTION_VERSION", "1")
                .env("AWS_LAMBDA_FUNCTION_MEMORY_SIZE", "256")
                .envs(aws.iter().map(|(k, v)| (*k, v.as_str())))
                .envs(
                    sweeper_env
                        .iter()
                        .filter(|_| function == "sweeper")
                        .map(|(k, v)| (*k, v.as_str())),
                )
                .stdout(Stdio::null())
                .stderr(Stdio::null())
                .spawn()
                .with_context(|| format!("starting {}", binary.display()))?,
        );
        let first = first_request.send().await?;
        let cold = started.elapsed();
        let status = first.status();
        answered(function, status, &first.bytes().await?)?;
        figure(
            &format!("{function}_cold_start_ms"),
            format!("{:.1}", cold.as_secs_f64() * 1e3),
        );
        let invocations = match function {
            "worker" => 20,
            "sweeper" => 50,
            _ => WARM_INVOCATIONS,
        };
        let mut millis = Vec::new();
        for _ in 0..invocations {
            let request = request_for()?;
            let started = Instant::now();
            let response = request.send().await?;
            let status = response.status();
            let body = response.bytes().await?;
            millis.push(started.elapsed().as_secs_f64() * 1e3);
            answered(function, status, &body)?;
        }
        if function == "worker" {
            let total: f64 = millis.iter().sum::<f64>() / 1e3;
            figure(
                "worker_deliveries_per_sec_process",
                format!("{:.0}", (invocations * 10) as f64 / total),
            );
        }
        latencies(&format!("{function}_warm_ms"), millis);
        if let Some(rss) = peak_rss_mb(process.0.id()) {
            figure(&format!("{function}_peak_rss_mb"), format!("{rss:.1}"));
        }
    }
    Ok(())
}
