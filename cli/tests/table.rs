//! The CLI on a DynamoDB table (`--table`, `--dynamodb-endpoint`) instead of the embedded store,
//! against DynamoDB Local: the same scenario gives the same tickets, and `migrate` brings a table
//! written by older code to today's layout.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    reason = "test code: a failed assumption is the test failing"
)]

use scantix_core::identity::GroupKey;
use scantix_core::ports::store::Store;
use scantix_tests::dynamodb::legacy::{self, LEGACY_GROUP};
use scantix_tests::dynamodb::{local_endpoint, local_store, unique_table_name};
use serde_json::Value;
use std::path::{Path, PathBuf};
use std::process::{Command, Output};

/// `scantix` with the scenario's settings and nothing of the caller's environment that could
/// change what it does.
fn scantix(store_args: &[&str], args: &[&str]) -> Output {
    let events = Path::new(env!("CARGO_MANIFEST_DIR")).join("../events/github");
    Command::new(env!("CARGO_BIN_EXE_scantix"))
        .args(store_args)
        .args(args)
        .env_clear()
        .env("PATH", std::env::var("PATH").unwrap_or_default())
        .env("RUST_LOG", "error")
        .env("SCANTIX_CONFIG", events.join("scantix.yml"))
        .output()
        .expect("scantix runs")
}

fn succeeded(output: Output) -> Output {
    assert!(
        output.status.success(),
        "scantix failed: {}\n{}",
        String::from_utf8_lossy(&output.stderr),
        String::from_utf8_lossy(&output.stdout)
    );
    output
}

fn scenario() -> Vec<PathBuf> {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("../events/github/scenario");
    let mut files: Vec<PathBuf> = std::fs::read_dir(&dir)
        .expect("the scenario folder")
        .map(|entry| entry.expect("an entry").path())
        .filter(|path| path.extension().is_some_and(|e| e == "json"))
        .collect();
    files.sort();
    assert!(files.len() >= 10, "the scenario's deliveries");
    files
}

/// The scenario delivered through `store_args`, then its `tickets --json`.
fn scenario_tickets(store_args: &[&str]) -> Value {
    let files = scenario();
    let mut args = vec!["deliver"];
    args.extend(files.iter().map(|f| f.to_str().expect("a UTF-8 path")));
    succeeded(scantix(store_args, &args));
    let listing = succeeded(scantix(store_args, &["tickets", "--json"]));
    serde_json::from_slice(&listing.stdout).expect("tickets --json prints JSON")
}

#[test]
fn a_table_on_dynamodb_local_works_exactly_like_the_embedded_store() {
    let endpoint = local_endpoint();
    let table = unique_table_name();
    let on_table = scenario_tickets(&["--dynamodb-endpoint", &endpoint, "--table", &table]);

    let dir = std::env::temp_dir().join(format!("scantix-table-test-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    let local = scenario_tickets(&["--store", dir.to_str().expect("a UTF-8 path")]);
    let _ = std::fs::remove_dir_all(&dir);

    assert!(
        !on_table["tickets"].as_array().expect("tickets").is_empty(),
        "the scenario makes tickets: {on_table}"
    );
    assert_eq!(in_number_order(on_table), in_number_order(local));
}

/// The listing with each ticket's findings in alert-number order: findings of one rank are
/// listed newest first, and "newest" is the wall-clock time each run applied them at.
fn in_number_order(mut listing: Value) -> Value {
    for section in ["tickets", "untracked"] {
        for entry in listing[section].as_array_mut().into_iter().flatten() {
            if let Some(findings) = entry["findings"].as_array_mut() {
                findings.sort_by_key(|f| f["number"].as_u64());
            }
        }
    }
    listing
}

#[test]
fn commands_that_need_a_table_say_so() {
    let output = scantix(&["--memory"], &["migrate"]);
    assert!(!output.status.success());
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(stderr.contains("--table"), "{stderr}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn migrate_upgrades_an_old_table_and_is_safe_to_repeat() {
    let store = local_store().await;
    let fixture = legacy::fixture();
    legacy::write_group(&store, &fixture, LEGACY_GROUP).await;
    let endpoint = local_endpoint();
    let args = [
        "--dynamodb-endpoint",
        endpoint.as_str(),
        "--table",
        store.table(),
    ];

    let first = succeeded(scantix(&args, &["migrate"]));
    let report: Value = serde_json::from_slice(&first.stdout).expect("a JSON report");
    assert_eq!(
        report,
        serde_json::json!({ "groups": 1, "groups_upgraded": 1, "installations_listed": 0 })
    );
    let group = store
        .get_group(&GroupKey::from_stored(LEGACY_GROUP))
        .await
        .expect("readable")
        .expect("the group");
    assert_eq!(group.value.tally.total(), 5);

    let again = succeeded(scantix(&args, &["migrate"]));
    let report: Value = serde_json::from_slice(&again.stdout).expect("a JSON report");
    assert_eq!(report["groups_upgraded"], 0);
}
