//! `scantix replay` as an operator runs it after the worker gave up on deliveries: the real binary,
//! configured like the worker (table, tracker) through the environment, against DynamoDB Local.
//! Deliveries left pending in the inbox are applied once; a second run finds nothing to do.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    reason = "test code: a failed assumption is the test failing"
)]

use scantix_core::inbox::{InboxItem, InboxSource, InboxStatus};
use scantix_core::ports::store::{Inbox, InboxWriter};
use scantix_tests::dynamodb::{local_endpoint, local_store};
use scantix_tests::webhooks::{octokit, varied};
use serde_json::{Value, json};
use std::process::Command;

fn replay(table: &str) -> (bool, Value) {
    let output = Command::new(env!("CARGO_BIN_EXE_scantix"))
        .args(["replay", "--table", table])
        .env_clear()
        .env("PATH", std::env::var("PATH").unwrap_or_default())
        // The test's store is DynamoDB Local's database for this key and region.
        .env("AWS_REGION", "us-east-1")
        .env("AWS_ACCESS_KEY_ID", "local")
        .env("AWS_SECRET_ACCESS_KEY", "local")
        .env("AWS_ENDPOINT_URL_DYNAMODB", local_endpoint())
        .env("SCANTIX_TRACKER", "draft")
        .output()
        .expect("scantix runs");
    let stdout = String::from_utf8_lossy(&output.stdout);
    let report = serde_json::from_str(stdout.trim()).unwrap_or_else(|e| {
        panic!(
            "not a JSON report ({e}): {stdout}\nstderr: {}",
            String::from_utf8_lossy(&output.stderr)
        )
    });
    (output.status.success(), report)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn pending_deliveries_are_applied_once() {
    let store = local_store().await;
    let now = chrono::Utc::now();
    for (number, rule) in [(1, "js/rule-a"), (2, "js/rule-a"), (3, "js/rule-b")] {
        let body = varied(
            &octokit("code_scanning_alert/created.payload.json"),
            &[
                ("alert.number", json!(number)),
                ("alert.rule.id", json!(rule)),
            ],
        );
        let item = InboxItem::received(
            InboxSource::Github,
            format!("github:replay-{number}"),
            "code_scanning_alert",
            &body,
            now,
        );
        assert!(store.put_inbox(&item).await.unwrap());
    }

    let (ok, report) = replay(store.table());
    assert!(ok, "{report}");
    assert_eq!(report, json!({ "pending": 3, "applied": 3, "failed": 0 }));
    let groups = scantix_tests::stored::groups(&store).await;
    assert_eq!(groups.len(), 2);
    assert!(groups.iter().all(|g| g.value.ticket.is_some()));
    for n in 1..=3 {
        let item = store
            .get_inbox(&format!("github:replay-{n}"))
            .await
            .unwrap()
            .unwrap();
        assert_eq!(item.status, InboxStatus::Done);
    }

    let (ok, report) = replay(store.table());
    assert!(ok);
    assert_eq!(report, json!({ "pending": 0, "applied": 0, "failed": 0 }));
}
