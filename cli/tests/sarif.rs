//! `scantix sarif` as a user runs it, on real scanners' SARIF only (`tests/fixtures/sarif/generated`:
//! Semgrep, Bandit and others run on the fixture's inputs). Later scans are derived from those
//! files by removing results (or runs), never written by hand, so the shapes stay the tools'.
//! Each test has a store of its own (SQLite in a temporary folder), and one runs on DynamoDB
//! Local (`--table`).
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    reason = "test code: a failed assumption is the test failing"
)]

use serde_json::Value;
use std::path::{Path, PathBuf};
use std::process::{Command, Output};
use std::sync::atomic::{AtomicUsize, Ordering};

const REPO: &[&str] = &[
    "--repo",
    "acme/shop",
    "--repo-id",
    "42",
    "--commit",
    "c0ffee",
];

/// A real scanner's output from the fixtures.
fn fixture(name: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../tests/fixtures/sarif/generated")
        .join(name)
}

fn read_json(path: &Path) -> Value {
    serde_json::from_slice(&std::fs::read(path).expect("read a fixture")).expect("fixture is JSON")
}

/// A temporary folder with one test's store and derived files, removed at the end.
struct Scratch(PathBuf);

impl Scratch {
    fn new(test: &str) -> Scratch {
        static COUNTER: AtomicUsize = AtomicUsize::new(0);
        let dir = std::env::temp_dir().join(format!(
            "scantix-sarif-{test}-{}-{}",
            std::process::id(),
            COUNTER.fetch_add(1, Ordering::Relaxed)
        ));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).expect("temporary folder");
        Scratch(dir)
    }

    fn file(&self, name: &str, json: &Value) -> PathBuf {
        let path = self.0.join(name);
        std::fs::write(&path, serde_json::to_vec_pretty(json).expect("JSON")).expect("write");
        path
    }

    /// A settings file (`.github/scantix.yml`'s format) in the scratch folder.
    fn settings(&self, yaml: &str) -> PathBuf {
        let path = self.0.join("scantix.yml");
        std::fs::write(&path, yaml).expect("write settings");
        path
    }

    fn store_args(&self) -> Vec<String> {
        vec!["--store".into(), self.0.join("store").display().to_string()]
    }

    fn scantix(&self, config: Option<&Path>, args: &[&str]) -> Output {
        scantix(&self.store_args(), config, args)
    }

    /// `scantix sarif FILES… --repo acme/shop --repo-id 42 EXTRA…`, which must succeed; its lines.
    fn sarif(&self, config: Option<&Path>, files: &[&Path], extra: &[&str]) -> Vec<Value> {
        let mut args: Vec<&str> = vec!["sarif"];
        args.extend(files.iter().map(|f| f.to_str().expect("UTF-8 path")));
        args.extend(REPO);
        args.extend(extra);
        lines(&succeeded(self.scantix(config, &args)))
    }

    fn tickets(&self) -> Value {
        let out = succeeded(self.scantix(None, &["tickets", "--json"]));
        serde_json::from_slice(&out.stdout).expect("tickets --json")
    }

    /// Every audit entry of the store, as JSON.
    fn audit(&self) -> Vec<Value> {
        let db = rusqlite::Connection::open(
            self.0
                .join("store")
                .join(scantix_wiring::local::SQLITE_DATABASE_FILE),
        )
        .expect("the store's database");
        let mut query = db
            .prepare("SELECT doc FROM audit ORDER BY seq")
            .expect("query");
        query
            .query_map([], |row| row.get::<_, String>(0))
            .expect("rows")
            .map(|doc| serde_json::from_str(&doc.expect("a row")).expect("JSON doc"))
            .collect()
    }
}

impl Drop for Scratch {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

/// `scantix STORE… [--config PATH] ARGS…`, isolated from the caller's environment.
fn scantix(store: &[String], config: Option<&Path>, args: &[&str]) -> Output {
    let mut command = Command::new(env!("CARGO_BIN_EXE_scantix"));
    command
        .args(store)
        .args(args)
        .env_clear()
        .env("PATH", std::env::var("PATH").unwrap_or_default())
        .env("RUST_LOG", "error");
    if let Some(config) = config {
        command.env("SCANTIX_CONFIG", config);
    }
    command.output().expect("run scantix")
}

fn succeeded(output: Output) -> Output {
    assert!(
        output.status.success(),
        "scantix failed ({}):\nstdout: {}\nstderr: {}",
        output.status,
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    );
    output
}

fn lines(output: &Output) -> Vec<Value> {
    String::from_utf8_lossy(&output.stdout)
        .lines()
        .map(|line| serde_json::from_str(line).unwrap_or_else(|e| panic!("{e}: {line}")))
        .collect()
}

/// How many lines decide `action`.
fn count(lines: &[Value], action: &str) -> usize {
    lines.iter().filter(|l| l["action"] == action).count()
}

/// The groups of the lines deciding `action`.
fn groups_of(lines: &[Value], action: &str) -> Vec<String> {
    lines
        .iter()
        .filter(|l| l["action"] == action)
        .map(|l| l["group"].as_str().expect("a group").to_owned())
        .collect()
}

/// The ticket of group `group` in a `tickets --json` listing.
fn ticket<'a>(listing: &'a Value, group: &str) -> &'a Value {
    listing["tickets"]
        .as_array()
        .expect("tickets")
        .iter()
        .find(|t| t["group"] == group)
        .unwrap_or_else(|| panic!("a ticket for {group} in {listing}"))
}

/// `fixture` without the results whose `ruleId` is `rule`: the same scan after the fix.
fn without_rule(fixture_name: &str, rule: &str) -> Value {
    let mut sarif = read_json(&fixture(fixture_name));
    let results = sarif["runs"][0]["results"].as_array_mut().expect("results");
    let before = results.len();
    results.retain(|r| r["ruleId"] != rule);
    assert!(
        results.len() < before,
        "{fixture_name} has results of {rule}"
    );
    sarif
}

#[test]
fn a_scan_is_ticketed_by_rule_and_applying_it_again_changes_nothing() {
    let scratch = Scratch::new("again");
    let semgrep = fixture("semgrep-1.185.0.sarif");
    let bandit = fixture("bandit-1.9.4.sarif");
    let first = scratch.sarif(None, &[&semgrep, &bandit], &[]);
    // Semgrep's four results are four rules: four tickets; Bandit's own rules are apart from
    // Semgrep's (the tool is part of the group).
    let created = groups_of(&first, "create_ticket");
    assert_eq!(
        created
            .iter()
            .filter(|g| g.starts_with("42/sarif/rule:Semgrep OSS:"))
            .count(),
        4,
        "{created:?}"
    );
    assert!(
        created
            .iter()
            .any(|g| g.starts_with("42/sarif/rule:Bandit:"))
    );
    let listing = scratch.tickets();
    let sqli = ticket(&listing, "42/sarif/rule:Semgrep OSS:flask-sql-injection");
    assert_eq!(sqli["state"], "draft");
    assert!(
        sqli["title"].as_str().unwrap().starts_with("CWE-89"),
        "{sqli}"
    );
    let finding = &sqli["findings"][0];
    assert_eq!(finding["tool"], "Semgrep OSS");
    assert_eq!(finding["rule"], "flask-sql-injection");
    assert_eq!(finding["path"], "app.py");
    assert!(finding["line"].as_u64().is_some(), "{finding}");

    // The same analysis again: every result already known, nothing written.
    let again = scratch.sarif(None, &[&semgrep, &bandit], &[]);
    assert!(!again.is_empty());
    assert!(again.iter().all(|l| l["action"] == "nothing"), "{again:?}");
    assert_eq!(scratch.tickets(), listing);
}

#[test]
fn tickets_are_grouped_as_configured() {
    let scratch = Scratch::new("grouping");
    let config = scratch.settings("grouping:\n  sarif: file\n");
    let out = scratch.sarif(Some(&config), &[&fixture("semgrep-1.185.0.sarif")], &[]);
    // Every Semgrep result is in app.py: one ticket for the file.
    assert_eq!(groups_of(&out, "create_ticket"), ["42/sarif/file:app.py"]);
    assert_eq!(count(&out, "update_ticket"), 3);
    let listing = scratch.tickets();
    assert_eq!(
        ticket(&listing, "42/sarif/file:app.py")["findings"]
            .as_array()
            .unwrap()
            .len(),
        4
    );
}

#[test]
fn results_gone_are_fixed_and_a_result_back_reopens_its_ticket() {
    for (settings, action, state) in [
        ("", "mark_ticket_stale", "stale"),
        ("when-all-fixed: close\n", "close_ticket", "resolved"),
    ] {
        let scratch = Scratch::new("fixed");
        let config = scratch.settings(settings);
        let full = fixture("semgrep-1.185.0.sarif");
        scratch.sarif(Some(&config), &[&full], &[]);
        let later = scratch.file(
            "later.sarif",
            &without_rule("semgrep-1.185.0.sarif", "flask-sql-injection"),
        );
        let out = scratch.sarif(Some(&config), &[&later], &[]);
        let sqli = "42/sarif/rule:Semgrep OSS:flask-sql-injection";
        assert_eq!(groups_of(&out, action), [sqli], "{out:?}");
        assert_eq!(count(&out, "create_ticket"), 0);
        let listing = scratch.tickets();
        assert_eq!(ticket(&listing, sqli)["state"], state);
        assert_eq!(ticket(&listing, sqli)["findings"][0]["state"], "fixed");
        assert_eq!(
            ticket(&listing, "42/sarif/rule:Semgrep OSS:python-eval")["state"],
            "draft"
        );
        // The later scan again: nothing more is fixed.
        let again = scratch.sarif(Some(&config), &[&later], &[]);
        assert!(again.iter().all(|l| l["action"] == "nothing"), "{again:?}");

        // The result comes back.
        let back = scratch.sarif(Some(&config), &[&full], &[]);
        assert_eq!(groups_of(&back, "reopen_ticket"), [sqli], "{back:?}");
        assert_eq!(ticket(&scratch.tickets(), sqli)["state"], "reopened");
    }
}

#[test]
fn a_clean_rescan_fixes_every_finding_of_its_tool_only() {
    let scratch = Scratch::new("clean");
    scratch.sarif(
        None,
        &[
            &fixture("bandit-1.9.4.sarif"),
            &fixture("semgrep-1.185.0.sarif"),
        ],
        &[],
    );
    // Bandit run on the fixed code: a real run with an empty `results`.
    let out = scratch.sarif(None, &[&fixture("bandit-1.9.4.clean.sarif")], &[]);
    assert!(count(&out, "mark_ticket_stale") >= 5, "{out:?}");
    let listing = scratch.tickets();
    for t in listing["tickets"].as_array().unwrap() {
        let bandit = t["group"].as_str().unwrap().contains(":Bandit:");
        assert_eq!(t["state"] == "stale", bandit, "{t}");
    }
}

#[test]
fn a_ticket_closed_in_the_tracker_while_its_findings_remain_is_reopened_with_the_list() {
    let scratch = Scratch::new("closed");
    let semgrep = fixture("semgrep-1.185.0.sarif");
    scratch.sarif(None, &[&semgrep], &[]);
    let group = "42/sarif/rule:Semgrep OSS:python-eval";
    let key = ticket(&scratch.tickets(), group)["key"]
        .as_str()
        .unwrap()
        .to_owned();
    // Someone closes it in Jira (a real Jira Cloud delivery, `events/jira`).
    let template = std::fs::read_to_string(
        Path::new(env!("CARGO_MANIFEST_DIR")).join("../events/jira/issue-done.template.json"),
    )
    .expect("the Jira template");
    let done = scratch.0.join("done.json");
    std::fs::write(&done, template.replace("__TICKET__", &key)).expect("write");
    let closed = lines(&succeeded(scratch.scantix(
        None,
        &["deliver", "--source", "jira", done.to_str().unwrap()],
    )));
    assert_eq!(closed[0]["ticket_state"], "resolved", "{closed:?}");
    // The next analysis still reports it: reopened, the comment listing it.
    let out = scratch.sarif(None, &[&semgrep], &[]);
    assert_eq!(groups_of(&out, "closure_rejected"), [group], "{out:?}");
    let reopened = ticket(&scratch.tickets(), group).clone();
    assert_eq!(reopened["state"], "reopened");
    let comments = reopened["comments"].to_string();
    assert!(
        comments.contains("still reports 1 of its findings") && comments.contains("app.py"),
        "{comments}"
    );
    // And once more: it stays as it is.
    let again = scratch.sarif(None, &[&semgrep], &[]);
    assert_eq!(count(&again, "closure_rejected"), 0);
}

#[test]
fn suppressed_results_are_dismissed_with_their_justification_in_the_audit() {
    let scratch = Scratch::new("suppressed");
    // Semgrep on a file with a `# nosemgrep` comment: one result suppressed in source, one not.
    let out = scratch.sarif(None, &[&fixture("semgrep-1.185.0.suppressed.sarif")], &[]);
    assert_eq!(count(&out, "create_ticket"), 1, "{out:?}");
    let dismissed: Vec<&Value> = out
        .iter()
        .filter(|l| l["action"] == "record" && l["state"] == "dismissed")
        .collect();
    assert_eq!(dismissed.len(), 1, "{out:?}");
    let audit = scratch.audit();
    let suppressed: Vec<&Value> = audit
        .iter()
        .filter(|e| e["action"] == "finding.suppressed")
        .collect();
    assert_eq!(suppressed.len(), 1, "{audit:?}");
    assert!(
        suppressed[0]["reason"]
            .as_str()
            .unwrap()
            .contains("suppressed (inSource)"),
        "{}",
        suppressed[0]
    );
    // Applied again, the suppression is not audited twice.
    scratch.sarif(None, &[&fixture("semgrep-1.185.0.suppressed.sarif")], &[]);
    let twice = scratch.audit();
    assert_eq!(
        twice
            .iter()
            .filter(|e| e["action"] == "finding.suppressed")
            .count(),
        1
    );
}

#[test]
fn a_file_with_no_runs_and_a_pull_request_analysis_ticket_nothing() {
    let scratch = Scratch::new("no-runs");
    let mut empty = read_json(&fixture("semgrep-1.185.0.sarif"));
    empty["runs"] = Value::Array(vec![]);
    let empty = scratch.file("no-runs.sarif", &empty);
    let output = succeeded(scratch.scantix(
        None,
        &["sarif", empty.to_str().unwrap(), "--repo", "acme/shop"],
    ));
    assert!(lines(&output).is_empty());
    assert!(String::from_utf8_lossy(&output.stderr).contains("no runs"));

    let on_pr = scratch.sarif(
        None,
        &[&fixture("semgrep-1.185.0.sarif")],
        &["--ref", "refs/pull/7/merge"],
    );
    assert_eq!(count(&on_pr, "record"), 4, "{on_pr:?}");
    assert!(scratch.tickets()["tickets"].as_array().unwrap().is_empty());
    // They are the pull request's summary comment's business (rendered locally, not posted).
    let summaries: Vec<&Value> = on_pr
        .iter()
        .filter(|l| l["action"] == "pull_request_summary")
        .collect();
    assert_eq!(summaries.len(), 1, "{on_pr:?}");
    let body = summaries[0]["body"].as_str().expect("the summary");
    assert!(body.contains("**4 new alerts**"), "{body}");
    assert!(
        body.contains("` flask-sql-injection `") && body.contains("— Semgrep OSS"),
        "{body}"
    );
}

#[test]
fn input_that_is_not_sarif_is_refused_in_one_line_naming_the_json_path() {
    let scratch = Scratch::new("malformed");
    let mut broken = read_json(&fixture("bandit-1.9.4.sarif"));
    broken["runs"][0]["results"][3]["locations"] = Value::String("app.py".into());
    let broken = scratch.file("broken.sarif", &broken);
    let good = fixture("semgrep-1.185.0.sarif");
    // The good file is not applied either: an analysis is all its files or nothing.
    let output = scratch.scantix(
        None,
        &[
            "sarif",
            good.to_str().unwrap(),
            broken.to_str().unwrap(),
            "--repo",
            "acme/shop",
        ],
    );
    assert!(!output.status.success());
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert_eq!(stderr.trim().lines().count(), 1, "{stderr}");
    assert!(
        stderr.contains("broken.sarif") && stderr.contains("runs[0].results[3].locations"),
        "{stderr}"
    );
    assert!(output.stdout.is_empty());
    // A GitHub webhook payload is JSON, but not SARIF.
    let webhook = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../events/github/scenario/02-code_scanning_alert.created.json");
    let output = scratch.scantix(
        None,
        &["sarif", webhook.to_str().unwrap(), "--repo", "acme/shop"],
    );
    assert!(!output.status.success());
    assert!(
        String::from_utf8_lossy(&output.stderr).contains("not SARIF 2.1.0"),
        "{}",
        String::from_utf8_lossy(&output.stderr)
    );
    assert!(scratch.tickets()["tickets"].as_array().unwrap().is_empty());
}

#[test]
fn an_analysis_on_a_dynamodb_table_works_as_on_the_embedded_store() {
    let table = scantix_tests::dynamodb::unique_table_name();
    let endpoint = scantix_tests::dynamodb::local_endpoint();
    let store = vec![
        "--dynamodb-endpoint".to_owned(),
        endpoint,
        "--table".to_owned(),
        table,
    ];
    let full = fixture("semgrep-1.185.0.sarif");
    let scratch = Scratch::new("table");
    let later = scratch.file(
        "later.sarif",
        &without_rule("semgrep-1.185.0.sarif", "flask-sql-injection"),
    );
    let run = |file: &Path| {
        let mut args = vec!["sarif", file.to_str().unwrap()];
        args.extend(REPO);
        lines(&succeeded(scantix(&store, None, &args)))
    };
    assert_eq!(count(&run(&full), "create_ticket"), 4);
    assert!(run(&full).iter().all(|l| l["action"] == "nothing"));
    let sqli = "42/sarif/rule:Semgrep OSS:flask-sql-injection";
    assert_eq!(groups_of(&run(&later), "mark_ticket_stale"), [sqli]);
    let listing: Value =
        serde_json::from_slice(&succeeded(scantix(&store, None, &["tickets", "--json"])).stdout)
            .expect("tickets --json");
    assert_eq!(ticket(&listing, sqli)["state"], "stale");
}
