//! What the functions log about a delivery agrees with what they answer: the `outcome` of its log
//! line is its answer's `status` (applied, duplicate, ignored, pong). Real deliveries through the
//! GitHub webhook function's handler, with the production JSON subscriber writing into a buffer.
//!
//! A binary of its own with a single test: the subscriber is the process-wide default, so that no
//! other test's thread can have made tracing cache "nobody listens" for a callsite first (a
//! thread-scoped subscriber misses those lines when tests run in parallel).

use github_webhook::handle;
use lambda_http::Body;
use scantix_app::execute::Executor;
use scantix_app::ingest::GithubIngest;
use scantix_core::config::Config;
use scantix_core::memory::draft_tracker::DraftTracker;
use scantix_core::memory::store::MemoryStore;
use scantix_core::secret::Secret;
use scantix_tests::webhooks::{SECRET, delivery_request, octokit};
use serde_json::Value;
use std::sync::{Arc, Mutex};

/// The lines written so far, shared with the subscriber.
#[derive(Clone, Default)]
struct Lines(Arc<Mutex<Vec<u8>>>);

impl std::io::Write for Lines {
    fn write(&mut self, bytes: &[u8]) -> std::io::Result<usize> {
        self.0
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .extend_from_slice(bytes);
        Ok(bytes.len())
    }

    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

impl Lines {
    fn parsed(&self) -> Vec<Value> {
        let bytes = self.0.lock().unwrap_or_else(|p| p.into_inner()).clone();
        String::from_utf8(bytes)
            .unwrap()
            .lines()
            .map(|line| serde_json::from_str(line).expect("a JSON log line"))
            .collect()
    }
}

async fn send(ingest: &GithubIngest, event: &str, delivery: &str, body: &[u8]) -> Value {
    let response = handle(ingest, delivery_request(event, delivery, body, None))
        .await
        .expect("handler never errors");
    match response.body() {
        Body::Text(text) => serde_json::from_str(text).expect("JSON answer"),
        other => panic!("unexpected body {other:?}"),
    }
}

#[tokio::test]
async fn each_deliverys_log_line_says_what_its_answer_says() {
    let lines = Lines::default();
    let writer = lines.clone();
    tracing::subscriber::set_global_default(scantix_app::logging::json_subscriber(
        move || writer.clone(),
        "info",
    ))
    .expect("the only subscriber of this test binary");

    let store = Arc::new(MemoryStore::new());
    let tracker = Arc::new(DraftTracker::new());
    let executor = Executor::new(store, tracker, Config::default());
    let ingest = GithubIngest::new(Secret::new(SECRET), Arc::new(executor));
    let created = octokit("code_scanning_alert/created.payload.json");
    let deliveries: Vec<(&str, &str, Vec<u8>)> = vec![
        ("code_scanning_alert", "log-1", created.clone()),
        // The same delivery again: a duplicate, which was logged "applied".
        ("code_scanning_alert", "log-1", created),
        ("ping", "log-2", octokit("ping/payload.json")),
        ("star", "log-3", br#"{"action":"created"}"#.to_vec()),
    ];
    let mut statuses = Vec::new();
    for (event, delivery, body) in &deliveries {
        let answer = send(&ingest, event, delivery, body).await;
        statuses.push(answer["status"].as_str().unwrap_or_default().to_owned());
    }
    assert_eq!(statuses, ["applied", "duplicate", "pong", "ignored"]);

    // One line per delivery carries an `outcome`, in order, and it is the answer's status.
    let lines = lines.parsed();
    let outcomes: Vec<(&str, &str)> = lines
        .iter()
        .filter_map(|line| {
            let outcome = line["fields"]["outcome"].as_str()?;
            let delivery = line["spans"][0]["delivery"].as_str().unwrap_or_default();
            Some((delivery, outcome))
        })
        .collect();
    assert_eq!(
        outcomes,
        [
            ("log-1", "applied"),
            ("log-1", "duplicate"),
            ("log-2", "pong"),
            ("log-3", "ignored")
        ],
        "{lines:#?}"
    );
    let duplicate = lines
        .iter()
        .find(|line| line["fields"]["outcome"] == "duplicate")
        .expect("the duplicate's line");
    assert_eq!(duplicate["fields"]["message"], "delivery duplicate");
}
