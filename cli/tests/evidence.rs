//! `scantix audit`, `scantix export --ocsf` and `scantix report` as a user runs them: the real
//! binary on a store filled by delivering the bundled scenario of real GitHub deliveries
//! (`events/github/scenario`).
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    reason = "test code: a failed assumption is the test failing"
)]

use scantix_tests::ocsf::OcsfSchemas;
use serde_json::Value;
use std::path::{Path, PathBuf};
use std::process::{Command, Output};
use std::sync::atomic::{AtomicUsize, Ordering};

/// A store in a fresh temporary folder, filled with the scenario; removed when the test ends.
struct Scenario(PathBuf);

impl Scenario {
    fn delivered(test: &str) -> Scenario {
        static COUNTER: AtomicUsize = AtomicUsize::new(0);
        let dir = std::env::temp_dir().join(format!(
            "scantix-evidence-{test}-{}-{}",
            std::process::id(),
            COUNTER.fetch_add(1, Ordering::Relaxed)
        ));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).unwrap();
        let scenario = Scenario(dir);
        let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("../events/github/scenario");
        let mut files: Vec<PathBuf> = std::fs::read_dir(&dir)
            .unwrap()
            .map(|e| e.unwrap().path())
            .filter(|p| p.extension().is_some_and(|e| e == "json"))
            .collect();
        files.sort();
        let output = scenario.scantix(&["deliver"], &files);
        assert_success(&output);
        scenario
    }

    fn scantix(&self, args: &[&str], files: &[PathBuf]) -> Output {
        let mut command = Command::new(env!("CARGO_BIN_EXE_scantix"));
        command
            .arg("--store")
            .arg(self.0.join("store"))
            .env("RUST_LOG", "error")
            .env(
                "SCANTIX_CONFIG",
                Path::new(env!("CARGO_MANIFEST_DIR")).join("../events/github/scantix.yml"),
            );
        for var in [
            "SCANTIX_STORE",
            "SCANTIX_TRACKER",
            "SCANTIX_WEBHOOK_SECRET",
            "JIRA_URL",
        ] {
            command.env_remove(var);
        }
        command
            .args(args)
            .args(files)
            .output()
            .expect("run scantix")
    }

    fn json(&self, args: &[&str]) -> Value {
        let output = self.scantix(args, &[]);
        assert_success(&output);
        serde_json::from_slice(&output.stdout).expect("one JSON document")
    }
}

impl Drop for Scenario {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

fn assert_success(output: &Output) {
    assert!(
        output.status.success(),
        "scantix failed ({}):\nstdout: {}\nstderr: {}",
        output.status,
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    );
}

/// The key of the ticket of the scenario's SQL injection alert (10): created, fixed on the
/// branch (stale), reopened.
fn reopened_ticket(scenario: &Scenario) -> String {
    let listing = scenario.json(&["tickets", "--json"]);
    listing["tickets"]
        .as_array()
        .unwrap()
        .iter()
        .find(|t| t["state"] == "reopened")
        .unwrap_or_else(|| panic!("a reopened ticket: {listing:#}"))["key"]
        .as_str()
        .unwrap()
        .to_owned()
}

#[test]
fn audit_tells_the_chain_of_custody_of_a_reopened_ticket() {
    let scenario = Scenario::delivered("audit");
    let ticket = reopened_ticket(&scenario);
    let trail = scenario.json(&["audit", "--ticket", &ticket, "--json"]);
    let entries = trail["entries"].as_array().unwrap();
    let actions: Vec<&str> = entries
        .iter()
        .map(|e| e["action"].as_str().unwrap())
        .filter(|a| *a != "draft.commented")
        .collect();
    // Detected and triaged, ticketed, its alerts fixed (stale), then back.
    for step in [
        "finding.triaged",
        "ticket.requested",
        "ticket.created",
        "ticket.stale",
        "ticket.reopened",
    ] {
        assert!(actions.contains(&step), "{step} missing from {actions:?}");
    }
    let position = |a: &str| actions.iter().position(|x| *x == a).unwrap();
    assert!(position("finding.triaged") < position("ticket.created"));
    assert!(position("ticket.stale") < position("ticket.reopened"));
    // Oldest first, and every step has its time and actor.
    let times: Vec<&str> = entries.iter().map(|e| e["at"].as_str().unwrap()).collect();
    let mut sorted = times.clone();
    sorted.sort();
    assert_eq!(times, sorted);
    assert!(
        entries
            .iter()
            .all(|e| !e["actor"].as_str().unwrap().is_empty())
    );
    // A fix says so: the state it left the finding in.
    assert!(
        entries
            .iter()
            .any(|e| e["action"] == "ticket.updated" && e["state"] == "fixed"),
        "{trail:#}"
    );

    // As lines: one per step, time first, then the actor.
    let text = scenario.scantix(&["audit", "--ticket", &ticket], &[]);
    assert_success(&text);
    let text = String::from_utf8(text.stdout).unwrap();
    assert_eq!(
        text.lines().filter(|l| !l.starts_with("    ")).count(),
        entries.len()
    );
    assert!(text.contains("ticket.reopened"));
    assert!(
        text.lines()
            .all(|l| l.starts_with("    ") || l.starts_with("20"))
    );

    // The same trail by group; by finding, only that finding's steps and its ticket's.
    let group = entries[0]["group_key"].as_str().unwrap();
    let by_group = scenario.json(&["audit", "--group", group, "--json"]);
    assert_eq!(by_group["entries"].as_array().unwrap().len(), entries.len());
    let finding = entries
        .iter()
        .find_map(|e| e["fingerprint"].as_str())
        .unwrap();
    let by_finding = scenario.json(&["audit", "--finding", finding, "--json"]);
    assert!(
        by_finding["entries"]
            .as_array()
            .unwrap()
            .iter()
            .all(|e| e["fingerprint"].is_null() || e["fingerprint"] == finding)
    );
    // The repository, and everything of the last 30 days, hold it too.
    let by_repo = scenario.json(&["audit", "--repo", "Codertocat/Hello-World", "--json"]);
    assert!(by_repo["entries"].as_array().unwrap().len() >= entries.len());
    let everything = scenario.json(&["audit", "--json"]);
    assert!(everything["entries"].as_array().unwrap().len() > entries.len());
    // A period that ends before the scenario holds nothing.
    let none = scenario.json(&[
        "audit",
        "--ticket",
        &ticket,
        "--since",
        "2099-01-01",
        "--json",
    ]);
    assert_eq!(none["entries"], serde_json::json!([]));
}

#[test]
fn audit_refuses_what_it_cannot_find_or_read() {
    let scenario = Scenario::delivered("audit-errors");
    for (args, says) in [
        (vec!["audit", "--ticket", "SEC-404"], "no ticket `SEC-404`"),
        (
            vec!["audit", "--finding", "1/code-scanning/1"],
            "no finding",
        ),
        (
            vec!["audit", "--repo", "acme/nothing"],
            "no group of repository",
        ),
        (vec!["audit", "--since", "yesterday"], "--since"),
        (
            vec!["audit", "--ticket", "A", "--group", "B"],
            "cannot be used with",
        ),
        (vec!["export"], "--ocsf"),
    ] {
        let output = scenario.scantix(&args, &[]);
        assert!(!output.status.success(), "{args:?} succeeded");
        let stderr = String::from_utf8_lossy(&output.stderr);
        assert!(stderr.contains(says), "{args:?}: {stderr}");
    }
}

#[test]
fn export_prints_one_valid_ocsf_event_per_change() {
    let scenario = Scenario::delivered("export");
    let output = scenario.scantix(&["export", "--ocsf", "--since", "1d"], &[]);
    assert_success(&output);
    let events: Vec<Value> = String::from_utf8(output.stdout)
        .unwrap()
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    assert!(events.len() > 10, "{} events", events.len());
    OcsfSchemas::load().assert_valid(&events);
    // The Dependabot alert (a CVE) is a Vulnerability Finding; code scanning and secret scanning
    // are Detection Findings.
    let dependabot = events
        .iter()
        .find(|e| e["finding_info"]["uid"] == "512875663/dependabot/20")
        .expect("the Dependabot alert's event");
    assert_eq!(dependabot["class_uid"], 2002);
    assert_eq!(
        dependabot["vulnerabilities"][0]["cve"]["uid"],
        "CVE-2022-25883"
    );
    assert!(events.iter().any(|e| e["class_uid"] == 2004));
    // Alert 13, dismissed as a false positive: closed, suppressed.
    let dismissed = events
        .iter()
        .find(|e| e["finding_info"]["uid"] == "337911632/code-scanning/13")
        .expect("alert 13's event");
    assert_eq!(dismissed["status_id"], 3);
}

#[test]
fn report_prints_json_and_writes_an_html_file() {
    let scenario = Scenario::delivered("report");
    let report = scenario.json(&["report", "--since", "1d", "--json"]);
    // Deliveries were just made: everything is new today. Ticketed: alerts 10, 11, 12 (the
    // team's branch) and 20 (Dependabot) and the secret; recorded only: the pull request's.
    assert!(report["counts"]["new"].as_u64().unwrap() >= 4, "{report:#}");
    assert!(
        report["counts"]["fixed"].as_u64().unwrap() >= 2,
        "{report:#}"
    );
    assert!(
        report["reopen_rate"]["numerator"].as_u64().unwrap() >= 1,
        "{report:#}"
    );
    assert_eq!(report["backlog"].as_array().unwrap().len(), 1);
    let by_repo = scenario.json(&["report", "--repo", "wolfy1339/pika-pack", "--json"]);
    assert_eq!(by_repo["counts"]["new"], 1, "{by_repo:#}");

    let html = scenario.0.join("report.html");
    let output = scenario.scantix(&["report", "--html", html.to_str().unwrap()], &[]);
    assert_success(&output);
    let page = std::fs::read_to_string(&html).unwrap();
    for id in ["backlog", "mttr", "sla", "new-vs-fixed"] {
        assert!(page.contains(&format!("<figure id=\"{id}\"")), "{id}");
    }
    assert_eq!(page.matches("<svg").count(), 4);
}
