//! The local mode with a Jira site (`SCANTIX_TRACKER=jira` and the `JIRA_*` variables): the real
//! binary against the fake Jira Cloud, which checks every request against Atlassian's OpenAPI
//! description. A GitHub delivery creates a Jira issue; the issue closed in Jira while its alert is
//! open comes back as a Jira delivery and is reopened there, with a comment.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    reason = "test code: a failed assumption is the test failing"
)]

use scantix_tests::fake_jira::{self, CLOUD_API_TOKEN, CLOUD_EMAIL, FakeJira};
use serde_json::Value;
use std::path::{Path, PathBuf};
use std::process::{Command, Output};

/// A fresh folder for one test's store and payloads, removed at the end.
struct Scratch(PathBuf);

impl Scratch {
    fn new(test: &str) -> Scratch {
        let dir =
            std::env::temp_dir().join(format!("scantix-cli-jira-{test}-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).expect("temporary folder");
        Scratch(dir)
    }

    /// `scantix --store <store> <args>` with the Jira tracker on `jira`.
    fn scantix(&self, jira: &FakeJira, args: &[&str]) -> Output {
        let mut command = Command::new(env!("CARGO_BIN_EXE_scantix"));
        command
            .arg("--store")
            .arg(self.0.join("store.json"))
            .args(args)
            .env("RUST_LOG", "error");
        for var in [
            "SCANTIX_STORE",
            "SCANTIX_WEBHOOK_SECRET",
            "SCANTIX_JIRA_WEBHOOK_SECRET",
            "JIRA_SETTINGS",
            "JIRA_FLAVOR",
            "JIRA_TOKEN",
        ] {
            command.env_remove(var);
        }
        command
            // The scenario's settings, as the README's examples pass them.
            .env("SCANTIX_CONFIG", scenario_settings())
            .env("SCANTIX_TRACKER", "jira")
            .env("JIRA_URL", jira.base_url())
            .env("JIRA_PROJECT", "SEC")
            .env("JIRA_EMAIL", CLOUD_EMAIL)
            .env("JIRA_API_TOKEN", CLOUD_API_TOKEN);
        command.output().expect("run scantix")
    }
}

impl Drop for Scratch {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

fn lines(output: &Output) -> Vec<Value> {
    assert!(
        output.status.success(),
        "scantix failed ({}):\nstdout: {}\nstderr: {}",
        output.status,
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    );
    String::from_utf8_lossy(&output.stdout)
        .lines()
        .map(|line| serde_json::from_str(line).unwrap_or_else(|e| panic!("{e}: {line}")))
        .collect()
}

/// `events/github/scantix.yml`: the scenario's settings (the bundled policy, plus the
/// rule that tickets the scenario's feature branch).
fn scenario_settings() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../events/github/scantix.yml")
}

fn scenario_file(name: &str) -> String {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../events/github/scenario")
        .join(name)
        .to_string_lossy()
        .into_owned()
}

// A multi-threaded runtime: the fake serves on its workers while the test waits for the binary.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_delivery_creates_a_jira_issue_and_closing_it_while_the_alert_is_open_reopens_it() {
    let jira = FakeJira::start(fake_jira::Flavor::Cloud).await;
    let scratch = Scratch::new("round-trip");

    let created = lines(&scratch.scantix(
        &jira,
        &[
            "deliver",
            &scenario_file("02-code_scanning_alert.created.json"),
        ],
    ));
    assert_eq!(created[0]["action"]["action"], "create_ticket");
    assert_eq!(jira.issue_keys(), ["SEC-1"]);
    assert_eq!(created[0]["ticket"], "SEC-1");
    assert_eq!(created[0]["ticket_state"], "open");

    // Someone closes it in Jira; Jira's delivery says so.
    let done = jira.set_status("SEC-1", "Done", Some("Done"));
    let file = scratch.0.join("sec-1-done.json");
    std::fs::write(&file, serde_json::to_vec(&done).expect("JSON")).expect("write the delivery");
    let closed = lines(&scratch.scantix(
        &jira,
        &["deliver", "--source", "jira", &file.to_string_lossy()],
    ));
    assert_eq!(
        closed[0]["action"]["action"], "closure_rejected",
        "{closed:?}"
    );
    assert_eq!(closed[0]["ticket_state"], "reopened");

    let issue = jira.snapshot("SEC-1").expect("the issue");
    assert_ne!(
        issue.category,
        fake_jira::Category::Done,
        "reopened in Jira"
    );
    let last = issue.comments.last().expect("a comment").to_string();
    assert!(
        last.contains("still reports 1 of its alerts open"),
        "{last}"
    );
    jira.assert_no_violations();

    // The listing shows the Jira issue (no draft) in scantix's view of it.
    let output = scratch.scantix(&jira, &["tickets", "--json"]);
    let listing: Value = serde_json::from_slice(&output.stdout).expect("JSON");
    assert_eq!(listing["tickets"][0]["key"], "SEC-1");
    assert_eq!(listing["tickets"][0]["tracker"], "jira");
    assert_eq!(listing["tickets"][0]["state"], "reopened");
}

#[test]
fn a_jira_tracker_without_its_settings_is_an_error_naming_the_variable() {
    let output = Command::new(env!("CARGO_BIN_EXE_scantix"))
        .args(["--memory", "deliver", &scenario_file("01-ping.json")])
        .env("SCANTIX_TRACKER", "jira")
        .env_remove("JIRA_SETTINGS")
        .env_remove("JIRA_URL")
        .output()
        .expect("run scantix");
    assert!(!output.status.success());
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(
        stderr.contains("JIRA_URL") && stderr.contains("SCANTIX_TRACKER"),
        "{stderr}"
    );
}

// A delivery while Jira is down is recorded and its ticket queued (the answer says so, and the
// command fails). The next command, with Jira back, makes that ticket before its own deliveries,
// as the deployed sweeper would: the group gets no other event that would.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_ticket_queued_during_an_outage_is_made_by_the_next_deliver() {
    let jira = FakeJira::start(fake_jira::Flavor::Cloud).await;
    let scratch = Scratch::new("outage");
    jira.inject(fake_jira::Fault::Status(503), 10_000);

    let during = scratch.scantix(
        &jira,
        &[
            "deliver",
            &scenario_file("02-code_scanning_alert.created.json"),
        ],
    );
    assert!(!during.status.success());
    let line: Value = serde_json::from_slice(&during.stdout).expect("one JSON line");
    assert_eq!(line["status"], "failed", "{line}");
    assert!(jira.issue_keys().is_empty());

    jira.clear_faults();
    // Another repository's alert: nothing the SQL injection's group hears of.
    let after = lines(&scratch.scantix(
        &jira,
        &[
            "deliver",
            &scenario_file("03-dependabot_alert.created.json"),
        ],
    ));
    assert_eq!(after[0]["action"]["action"], "create_ticket");
    assert_eq!(jira.issue_keys(), ["SEC-1", "SEC-2"]);
    let first = jira.snapshot("SEC-1").expect("the queued ticket");
    assert!(
        first.summary.contains("user-controlled"),
        "{}",
        first.summary
    );
    jira.assert_no_violations();
}
