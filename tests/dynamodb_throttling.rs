//! DynamoDB throttling and transaction conflicts, injected in the store's transport: a proxy in
//! front of DynamoDB Local answers some requests as DynamoDB does when it throttles
//! (`ProvisionedThroughputExceededException`, `ThrottlingException`) or cancels a transaction
//! (`TransactionCanceledException` with `TransactionConflict`), and forwards the rest. The webhook
//! side writes to the table directly (its inbox write is not what is under test); the worker reads
//! and commits through the proxy. Through a storm nothing is applied and nothing is lost; once it
//! eases, the worker's passes (what `scantix replay` runs) apply every delivery exactly once.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    reason = "test code: a failed assumption is the test failing"
)]

use axum::body::Bytes;
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use scantix_app::execute::{Executor, ExecutorSettings};
use scantix_app::ingest::github::GithubGate;
use scantix_app::ingest::{GithubIngest, GithubReceiver};
use scantix_app::worker::Worker;
use scantix_core::config::Config;
use scantix_core::memory::tracker::MemoryTracker;
use scantix_core::ports::store::Store;
use scantix_core::secret::Secret;
use scantix_dynamodb::DynamoStore;
use scantix_tests::dynamodb::{local_endpoint, local_store};
use scantix_tests::webhooks::{SECRET, octokit, varied};
use serde_json::json;
use std::sync::Arc;
use std::sync::atomic::{AtomicU8, AtomicU64, Ordering};

/// How the proxy treats requests.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[repr(u8)]
enum Weather {
    /// Every request throttled.
    Storm = 0,
    /// Every third request throttled, every other `TransactWriteItems` cancelled by a conflict.
    Gusty = 1,
}

struct Proxy {
    upstream: String,
    http: reqwest::Client,
    weather: AtomicU8,
    requests: AtomicU64,
    transactions: AtomicU64,
    /// Answers the proxy made up instead of forwarding.
    injected: AtomicU64,
}

impl Proxy {
    async fn start(upstream: String) -> (Arc<Proxy>, String) {
        let proxy = Arc::new(Proxy {
            upstream,
            http: reqwest::Client::new(),
            weather: AtomicU8::new(Weather::Storm as u8),
            requests: AtomicU64::new(0),
            transactions: AtomicU64::new(0),
            injected: AtomicU64::new(0),
        });
        let app = axum::Router::new()
            .fallback(forward)
            .with_state(proxy.clone());
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        tokio::spawn(async move { axum::serve(listener, app).await });
        (proxy, format!("http://{addr}"))
    }

    fn set(&self, weather: Weather) {
        self.weather.store(weather as u8, Ordering::SeqCst);
    }

    /// The made-up answer for this request, if it gets one.
    fn injected_error(&self, target: &str) -> Option<&'static str> {
        let n = self.requests.fetch_add(1, Ordering::SeqCst);
        let storm = self.weather.load(Ordering::SeqCst) == Weather::Storm as u8;
        if target.ends_with("TransactWriteItems") {
            let t = self.transactions.fetch_add(1, Ordering::SeqCst);
            if storm || t.is_multiple_of(2) {
                return Some("TransactionCanceledException");
            }
        }
        if storm || n.is_multiple_of(3) {
            return Some(if n.is_multiple_of(2) {
                "ProvisionedThroughputExceededException"
            } else {
                "ThrottlingException"
            });
        }
        None
    }
}

/// DynamoDB's own error shape (JSON 1.0 protocol): a 400 with `__type` and a message.
fn dynamodb_error(kind: &str) -> Response {
    let body = match kind {
        "TransactionCanceledException" => json!({
            "__type": "com.amazonaws.dynamodb.v20120810#TransactionCanceledException",
            "Message": "Transaction cancelled, please refer cancellation reasons for specific reasons [TransactionConflict]",
            "CancellationReasons": [{ "Code": "TransactionConflict", "Message": "Transaction is ongoing for the item" }],
        }),
        "ThrottlingException" => json!({
            "__type": "com.amazon.coral.availability#ThrottlingException",
            "message": "Rate of requests exceeds the allowed throughput.",
        }),
        _ => json!({
            "__type": "com.amazonaws.dynamodb.v20120810#ProvisionedThroughputExceededException",
            "message": "The level of configured provisioned throughput for the table was exceeded.",
        }),
    };
    (
        StatusCode::BAD_REQUEST,
        [("content-type", "application/x-amz-json-1.0")],
        body.to_string(),
    )
        .into_response()
}

async fn forward(State(proxy): State<Arc<Proxy>>, headers: HeaderMap, body: Bytes) -> Response {
    let target = headers
        .get("x-amz-target")
        .and_then(|v| v.to_str().ok())
        .unwrap_or_default()
        .to_owned();
    if let Some(kind) = proxy.injected_error(&target) {
        proxy.injected.fetch_add(1, Ordering::SeqCst);
        return dynamodb_error(kind);
    }
    let mut request = proxy.http.post(&proxy.upstream).body(body);
    for (name, value) in &headers {
        if name != "host" && name != "content-length" {
            request = request.header(name, value);
        }
    }
    match request.send().await {
        Ok(answer) => {
            let status = StatusCode::from_u16(answer.status().as_u16()).unwrap();
            let content_type = answer
                .headers()
                .get("content-type")
                .and_then(|v| v.to_str().ok())
                .unwrap_or("application/x-amz-json-1.0")
                .to_owned();
            let body = answer.bytes().await.unwrap_or_default();
            (status, [("content-type", content_type)], body).into_response()
        }
        Err(e) => (StatusCode::BAD_GATEWAY, e.to_string()).into_response(),
    }
}

/// The SDK client the functions use (standard retries, 3 attempts), pointed at the proxy, with
/// short backoffs so that the test spends its time on the storm, not asleep.
fn through_proxy(endpoint: &str) -> aws_sdk_dynamodb::Client {
    use aws_sdk_dynamodb::config::retry::RetryConfig;
    use aws_sdk_dynamodb::config::{BehaviorVersion, Credentials, Region};
    let config = aws_sdk_dynamodb::Config::builder()
        .behavior_version(BehaviorVersion::latest())
        .region(Region::new("us-east-1"))
        .credentials_provider(Credentials::new("local", "local", None, None, "test"))
        .endpoint_url(endpoint)
        .retry_config(
            RetryConfig::standard()
                .with_max_attempts(3)
                .with_initial_backoff(std::time::Duration::from_millis(5))
                .with_max_backoff(std::time::Duration::from_millis(50)),
        )
        .build();
    aws_sdk_dynamodb::Client::from_conf(config)
}

fn alert(number: u64, rule: &str) -> Vec<u8> {
    varied(
        &octokit("code_scanning_alert/created.payload.json"),
        &[
            ("alert.number", json!(number)),
            ("alert.rule.id", json!(rule)),
        ],
    )
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn throttled_and_conflicting_writes_lose_nothing_and_apply_once_when_the_storm_eases() {
    // The webhook side: the inbox, written directly.
    let direct = local_store().await;
    let table = direct.table().to_owned();
    let direct: Arc<dyn Store> = Arc::new(direct);
    let receiver = GithubReceiver::new(GithubGate::new(Secret::new(SECRET)), direct.clone());
    const RULES: u64 = 5;
    const PER_RULE: u64 = 4;
    for n in 1..=RULES * PER_RULE {
        let body = alert(n, &format!("throttle/rule-{}", n % RULES));
        let mut headers = http::HeaderMap::new();
        headers.insert("x-github-event", "code_scanning_alert".parse().unwrap());
        headers.insert("x-github-delivery", format!("t-{n}").parse().unwrap());
        headers.insert(
            "x-hub-signature-256",
            scantix_webhooks::signature::sign(SECRET.as_bytes(), &body)
                .parse()
                .unwrap(),
        );
        let answer = receiver.handle(&headers, &body).await;
        assert_eq!(answer.status, 202, "{}", answer.body);
    }

    // The worker's side: through the proxy.
    let (proxy, proxy_url) = Proxy::start(local_endpoint()).await;
    let through: Arc<dyn Store> =
        Arc::new(DynamoStore::new(through_proxy(&proxy_url), table.as_str()));
    let tracker = MemoryTracker::new();
    // A lease left by a commit that failed after taking it is waited out, as deployed; short here
    // so that the test does not sleep through the default minute.
    let executor = Arc::new(
        Executor::new(
            through.clone(),
            Arc::new(tracker.clone()),
            Config::default(),
        )
        .with_settings(ExecutorSettings {
            lease: chrono::Duration::seconds(1),
            wait_for_lease: std::time::Duration::from_millis(500),
            ..ExecutorSettings::default()
        }),
    );
    let worker = Worker::new(through, GithubIngest::for_worker(executor), None);

    // The storm: every request throttled. The pass cannot even read the inbox, or applies
    // nothing; every delivery stays pending.
    proxy.set(Weather::Storm);
    let applied = match worker.replay(100).await {
        Ok(pass) => pass.applied,
        Err(e) => {
            assert!(e.is_retryable(), "a throttled read is worth retrying: {e}");
            0
        }
    };
    assert_eq!(applied, 0);
    assert!(
        tracker.all().is_empty(),
        "no ticket while every write fails"
    );
    assert_eq!(
        direct.pending_inbox(100).await.unwrap().len() as u64,
        RULES * PER_RULE,
        "nothing lost: every delivery still pending"
    );

    // Gusty: a third of requests throttled, half the transactions cancelled by conflicts. Passes
    // (the worker's retries, then `scantix replay`) apply everything.
    proxy.set(Weather::Gusty);
    let mut passes = 0;
    loop {
        passes += 1;
        assert!(passes <= 30, "the inbox never drained");
        let Ok(pass) = worker.replay(100).await else {
            continue;
        };
        if pass.pending == 0 {
            break;
        }
    }
    let injected = proxy.injected.load(Ordering::SeqCst);
    assert!(injected > 20, "the proxy threw {injected} errors");
    assert!(direct.pending_inbox(100).await.unwrap().is_empty());

    // Exactly once: one ticket per rule, every finding on it once.
    let tickets = tracker.all();
    assert_eq!(tickets.len() as u64, RULES, "{tickets:#?}");
    let groups = direct
        .all_groups(None, 100)
        .await
        .unwrap()
        .items
        .into_iter()
        .map(|g| g.value.tally.total())
        .collect::<Vec<_>>();
    assert_eq!(groups.len() as u64, RULES);
    assert!(
        groups.iter().all(|&n| u64::from(n) == PER_RULE),
        "{groups:?}"
    );
    eprintln!("throttling: {injected} injected errors, {passes} passes");
}
