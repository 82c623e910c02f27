//! The `scantix` command as a user runs it: the real binary, a store file in a fresh temporary
//! folder, the bundled scenario of real GitHub deliveries in `events/github/scenario`, real Jira
//! deliveries (`../shared/fixtures/jira-webhooks`) and the Jira scenario in `events/jira`.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    reason = "test code: a failed assumption is the test failing"
)]

use scantix_webhooks::signature::sign;
use serde_json::Value;
use std::io::{BufRead, BufReader, Read, Write};
use std::net::TcpStream;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Output, Stdio};
use std::sync::atomic::{AtomicUsize, Ordering};

/// A temporary folder holding one test's store, removed when the test ends.
struct Scratch(PathBuf);

impl Scratch {
    fn new(test: &str) -> Scratch {
        static COUNTER: AtomicUsize = AtomicUsize::new(0);
        let dir = std::env::temp_dir().join(format!(
            "scantix-cli-{test}-{}-{}",
            std::process::id(),
            COUNTER.fetch_add(1, Ordering::Relaxed)
        ));
        // A leftover of an earlier run with the same pid would only confuse this one.
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).expect("temporary folder");
        Scratch(dir)
    }

    /// The store's directory (what `--store` names).
    fn store(&self) -> PathBuf {
        self.0.join("store")
    }

    /// The store's database file.
    fn database(&self) -> PathBuf {
        self.store()
            .join(scantix_wiring::local::SQLITE_DATABASE_FILE)
    }

    /// Every table of the store's database and its row count: what a write would change.
    fn rows(&self) -> Vec<(String, i64)> {
        let db = rusqlite::Connection::open(self.database()).expect("open the store's database");
        let tables: Vec<String> = db
            .prepare("SELECT name FROM sqlite_master WHERE type = 'table' ORDER BY name")
            .and_then(|mut q| {
                q.query_map([], |row| row.get(0))
                    .and_then(|rows| rows.collect())
            })
            .expect("list the tables");
        tables
            .into_iter()
            .map(|table| {
                let count = db
                    .query_row(&format!("SELECT count(*) FROM \"{table}\""), [], |row| {
                        row.get(0)
                    })
                    .expect("count rows");
                (table, count)
            })
            .collect()
    }

    fn file(&self, name: &str, contents: &str) -> PathBuf {
        let path = self.0.join(name);
        std::fs::write(&path, contents).expect("write a payload file");
        path
    }

    /// `scantix --store <this store> <args>`, isolated from the caller's environment.
    fn scantix(&self, args: &[&str]) -> Output {
        command(&self.store())
            .args(args)
            .output()
            .expect("run scantix")
    }

    fn deliver<P: AsRef<std::ffi::OsStr>>(&self, files: impl IntoIterator<Item = P>) -> Output {
        command(&self.store())
            .arg("deliver")
            .args(files)
            .output()
            .expect("run scantix deliver")
    }

    fn tickets(&self) -> Value {
        let output = self.scantix(&["tickets", "--json"]);
        assert_success(&output);
        serde_json::from_slice(&output.stdout).expect("tickets --json prints JSON")
    }
}

impl Drop for Scratch {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

/// `events/github/scantix.yml`: the scenario's settings (the bundled policy, plus the
/// rule that tickets the scenario's feature branch), as the demo and the README pass them.
fn scenario_settings() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../events/github/scantix.yml")
}

/// `scantix --store <store>` with the scenario's settings (SCANTIX_CONFIG).
fn command(store: &Path) -> Command {
    let mut command = Command::new(env!("CARGO_BIN_EXE_scantix"));
    command
        .arg("--store")
        .arg(store)
        .env("RUST_LOG", "error")
        .env("SCANTIX_CONFIG", scenario_settings());
    // The caller's settings must not change what these tests see (a real Jira site above all).
    for var in [
        "SCANTIX_STORE",
        "SCANTIX_WEBHOOK_SECRET",
        "SCANTIX_JIRA_WEBHOOK_SECRET",
        "SCANTIX_TRACKER",
        "JIRA_SETTINGS",
        "JIRA_URL",
        "JIRA_PROJECT",
        "JIRA_FLAVOR",
        "JIRA_EMAIL",
        "JIRA_API_TOKEN",
        "JIRA_TOKEN",
    ] {
        command.env_remove(var);
    }
    command
}

fn scenario() -> Vec<PathBuf> {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("../events/github/scenario");
    let mut files: Vec<PathBuf> = std::fs::read_dir(&dir)
        .expect("the scenario folder")
        .map(|entry| entry.expect("a scenario entry").path())
        .filter(|path| path.extension().is_some_and(|e| e == "json"))
        .collect();
    files.sort();
    assert_eq!(files.len(), 15, "the scenario has 15 deliveries");
    files
}

fn scenario_file(prefix: &str) -> PathBuf {
    scenario()
        .into_iter()
        .find(|f| {
            f.file_name()
                .is_some_and(|n| n.to_string_lossy().starts_with(prefix))
        })
        .unwrap_or_else(|| panic!("no scenario file {prefix}-*"))
}

fn fixture(path: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../../shared/fixtures/github-webhooks")
        .join(path)
}

/// The real Jira deliveries (Cloud and Server) of mattermost-plugin-jira's test data.
fn jira_fixtures() -> Vec<PathBuf> {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../../shared/fixtures/jira-webhooks/mattermost-plugin-jira");
    let mut files: Vec<PathBuf> = std::fs::read_dir(&dir)
        .unwrap_or_else(|e| panic!("{}: {e}", dir.display()))
        .map(|entry| entry.expect("a fixture entry").path())
        .filter(|path| path.extension().is_some_and(|e| e == "json"))
        .collect();
    files.sort();
    assert_eq!(files.len(), 23, "the fixture folder has 23 deliveries");
    files
}

/// `events/jira/issue-done.template.json` with `__TICKET__` replaced, as the README's `sed` does.
fn jira_done_for(scratch: &Scratch, ticket: &str) -> PathBuf {
    let template =
        Path::new(env!("CARGO_MANIFEST_DIR")).join("../events/jira/issue-done.template.json");
    let text = std::fs::read_to_string(&template).expect("the Jira template");
    assert_eq!(
        text.matches("__TICKET__").count(),
        3,
        "the key and two URLs"
    );
    scratch.file("issue-done.json", &text.replace("__TICKET__", ticket))
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

fn lines(output: &Output) -> Vec<Value> {
    String::from_utf8_lossy(&output.stdout)
        .lines()
        .map(|line| serde_json::from_str(line).unwrap_or_else(|e| panic!("{e}: {line}")))
        .collect()
}

/// The lines of one file, by the file name's number prefix.
fn lines_of<'a>(lines: &'a [Value], prefix: &str) -> Vec<&'a Value> {
    lines
        .iter()
        .filter(|l| {
            l["file"]
                .as_str()
                .and_then(|f| Path::new(f).file_name())
                .is_some_and(|n| n.to_string_lossy().starts_with(prefix))
        })
        .collect()
}

fn actions(lines: &[&Value]) -> Vec<String> {
    lines
        .iter()
        .filter_map(|l| l["action"]["action"].as_str().map(str::to_owned))
        .collect()
}

fn ticket_of<'a>(listing: &'a Value, repository: &str, group_part: &str) -> &'a Value {
    listing["tickets"]
        .as_array()
        .expect("tickets")
        .iter()
        .find(|t| {
            t["repository"] == repository
                && t["group"].as_str().is_some_and(|g| g.contains(group_part))
        })
        .unwrap_or_else(|| panic!("no ticket for {repository} {group_part} in {listing:#}"))
}

fn comments(ticket: &Value) -> Vec<&str> {
    ticket["comments"]
        .as_array()
        .expect("comments")
        .iter()
        .filter_map(Value::as_str)
        .collect()
}

#[test]
fn the_scenario_ends_with_a_reopened_a_stale_and_a_new_ticket_and_two_untracked_groups() {
    let scratch = Scratch::new("scenario");
    let output = scratch.deliver(scenario());
    assert_success(&output);
    let lines = lines(&output);

    assert_eq!(lines_of(&lines, "01")[0]["status"], "pong");
    assert_eq!(actions(&lines_of(&lines, "02")), ["create_ticket"]);
    assert_eq!(actions(&lines_of(&lines, "03")), ["create_ticket"]);
    assert_eq!(actions(&lines_of(&lines, "04")), ["update_ticket"]);
    assert_eq!(actions(&lines_of(&lines, "05")), ["update_ticket"]);
    // Alerts on a pull request's ref also refresh that pull request's summary comment (rendered
    // locally: there is no GitHub to post it to).
    assert_eq!(
        actions(&lines_of(&lines, "06")),
        ["record", "pull_request_summary"]
    );
    assert_eq!(lines_of(&lines, "06")[0]["ticket"], Value::Null);
    // Fixed on pull request 11's merge ref only: the branch still has the alert, so its ticket
    // waits; the pull request's summary says it would resolve it.
    assert_eq!(
        actions(&lines_of(&lines, "07")),
        ["nothing", "pull_request_summary"]
    );
    assert_eq!(actions(&lines_of(&lines, "08")), ["update_ticket"]);
    assert_eq!(actions(&lines_of(&lines, "09")), ["update_ticket"]);
    assert_eq!(
        actions(&lines_of(&lines, "10")),
        ["update_ticket", "mark_ticket_stale", "comment"]
    );
    assert_eq!(
        actions(&lines_of(&lines, "11")),
        ["reopen_ticket", "comment"]
    );
    assert_eq!(actions(&lines_of(&lines, "12")), ["record"]);
    assert_eq!(actions(&lines_of(&lines, "13")), ["create_ticket"]);
    assert_eq!(
        actions(&lines_of(&lines, "14")),
        ["update_ticket", "comment", "mark_ticket_stale", "comment"]
    );
    let ignored = lines_of(&lines, "15");
    assert_eq!(
        (ignored[0]["http"].as_u64(), ignored[0]["status"].as_str()),
        (Some(202), Some("ignored"))
    );
    // Every line of one group names the same ticket, from its creation to its reopening.
    let sql_ticket = &lines_of(&lines, "02")[0]["ticket"];
    for prefix in ["04", "05", "07", "08", "09", "10", "11"] {
        assert!(
            lines_of(&lines, prefix)
                .iter()
                .all(|l| l["ticket"] == *sql_ticket),
            "{prefix}"
        );
    }
    let pr_summary = &lines_of(&lines, "07")[1]["action"]["body"];
    assert!(
        pr_summary
            .as_str()
            .is_some_and(|b| b.contains("Would resolve 1 existing ticket")),
        "{pr_summary}"
    );

    let listing = scratch.tickets();
    assert_eq!(
        listing["tickets"].as_array().map(Vec::len),
        Some(3),
        "{listing:#}"
    );

    let sql = ticket_of(&listing, "Codertocat/Hello-World", "java/sql-injection");
    assert_eq!(sql["key"], *sql_ticket);
    assert_eq!(sql["state"], "reopened");
    assert_eq!(
        (sql["open"].as_u64(), sql["total"].as_u64()),
        (Some(1), Some(3))
    );
    let mut states: Vec<(u64, &str)> = sql["findings"]
        .as_array()
        .expect("findings")
        .iter()
        .map(|f| {
            (
                f["number"].as_u64().unwrap_or_default(),
                f["state"].as_str().unwrap_or_default(),
            )
        })
        .collect();
    // The open finding ranks first; fixed ones tie in rank and are then ordered by when this run
    // applied them (wall-clock), so compare those in number order.
    assert_eq!(states.first(), Some(&(10, "open")));
    states.sort_unstable();
    assert_eq!(states, [(10, "open"), (11, "fixed"), (12, "fixed")]);
    let said = comments(sql);
    assert!(said[0].contains("Marked stale"), "{said:?}");
    assert!(
        said[1].starts_with("Reopened: alert 10 is open again"),
        "{said:?}"
    );

    let secret = ticket_of(&listing, "Codertocat/Hello-World", "adafruit_io_key");
    assert_eq!(secret["state"], "stale");
    assert_eq!(
        (secret["open"].as_u64(), secret["total"].as_u64()),
        (Some(0), Some(1))
    );
    assert!(
        comments(secret)
            .contains(&"Alert 191 was dismissed in GitHub by Codertocat as \"false_positive\"."),
        "{secret:#}"
    );

    let dependency = ticket_of(&listing, "wolfy1339/pika-pack", "semver");
    assert_eq!(dependency["state"], "draft");
    assert_eq!(
        (dependency["open"].as_u64(), dependency["total"].as_u64()),
        (Some(1), Some(1))
    );

    // Most severe first (the two high tickets by key), then the medium one.
    let severities: Vec<&str> = listing["tickets"]
        .as_array()
        .expect("tickets")
        .iter()
        .filter_map(|t| t["severity"].as_str())
        .collect();
    assert_eq!(severities, ["high", "high", "medium"]);

    let untracked = listing["untracked"].as_array().expect("untracked");
    assert_eq!(untracked.len(), 2, "{listing:#}");
    let pr_only = untracked
        .iter()
        .find(|g| g["repository"] == "example-org/example-repository")
        .expect("the PR-only Trivy alert is kept");
    assert_eq!(pr_only["findings"][0]["ticketed"], false);
    assert!(
        pr_only["why"]
            .as_str()
            .is_some_and(|w| w.contains("refs/pull/1/merge"))
    );
    let dismissed_early = untracked
        .iter()
        .find(|g| {
            g["rule"]
                .as_str()
                .is_some_and(|r| r.starts_with("ANCHOREVULN"))
        })
        .expect("the alert dismissed before any ticket is kept");
    assert_eq!(dismissed_early["findings"][0]["state"], "dismissed");

    // The table shows the same, most severe first.
    let table = scratch.scantix(&["tickets"]);
    assert_success(&table);
    let table = String::from_utf8_lossy(&table.stdout);
    assert!(table.starts_with("TICKET"), "{table}");
    assert!(table.contains("Groups without a ticket (2):"), "{table}");
}

#[test]
fn redelivering_a_file_is_a_duplicate_and_changes_nothing() {
    let scratch = Scratch::new("redelivery");
    let file = scenario_file("02");
    assert_success(&scratch.deliver([&file]));
    let rows_before = scratch.rows();
    let listing_before = scratch.tickets();

    let again = scratch.deliver([file]);
    assert_success(&again);
    let lines = lines(&again);
    assert_eq!(lines.len(), 1);
    assert_eq!(lines[0]["status"], "duplicate");
    assert_eq!(
        lines[0]["action"],
        Value::Null,
        "a duplicate decides nothing"
    );
    assert_eq!(lines[0]["ticket"], listing_before["tickets"][0]["key"]);

    assert_eq!(scratch.tickets(), listing_before);
    assert_eq!(scratch.rows(), rows_before, "a duplicate writes nothing");
}

#[test]
fn a_delivery_id_override_makes_the_same_file_a_new_delivery() {
    let scratch = Scratch::new("delivery-id");
    let file = scenario_file("02");
    assert_success(&scratch.deliver([&file]));
    let output = scratch.scantix(&[
        "deliver",
        "--delivery-id",
        "retry-by-hand",
        &file.to_string_lossy(),
    ]);
    assert_success(&output);
    let lines = lines(&output);
    assert_eq!(lines[0]["delivery"], "retry-by-hand");
    assert_eq!(lines[0]["status"], "applied");
    // A new delivery of a known state: decided again, and found to change nothing.
    assert_eq!(lines[0]["action"]["action"], "nothing");

    let both = scratch.scantix(&[
        "deliver",
        "--delivery-id",
        "x",
        &file.to_string_lossy(),
        &scenario_file("03").to_string_lossy(),
    ]);
    assert!(!both.status.success());
    assert!(String::from_utf8_lossy(&both.stderr).contains("--delivery-id names one delivery"));
}

#[test]
fn the_store_carries_state_from_one_run_to_the_next() {
    let scratch = Scratch::new("persistence");
    let first = scratch.deliver([scenario_file("02")]);
    assert_success(&first);
    let created = lines(&first);
    assert_eq!(created[0]["action"]["action"], "create_ticket");

    let second = scratch.deliver([scenario_file("04")]);
    assert_success(&second);
    let joined = lines(&second);
    assert_eq!(joined[0]["action"]["action"], "update_ticket");
    assert_eq!(joined[0]["ticket"], created[0]["ticket"]);

    let listing = scratch.tickets();
    assert_eq!(listing["tickets"].as_array().map(Vec::len), Some(1));
    assert_eq!(listing["tickets"][0]["total"], 2);
}

#[test]
fn a_payload_that_is_not_json_is_a_400_line_and_a_failed_exit_after_the_others() {
    let scratch = Scratch::new("malformed");
    let broken = scratch.file(
        "code_scanning_alert.created.json",
        "{\"action\": \"created\",",
    );
    let mistyped = scratch.file(
        "02-dependabot_alert.created.json",
        r#"{"action": "created", "alert": {"number": "x"}, "repository": {"id": 1, "full_name": "o/r"}}"#,
    );
    let output = scratch.deliver([&broken, &mistyped, &scenario_file("02")]);
    assert!(
        !output.status.success(),
        "a refused delivery fails the command"
    );
    let lines = lines(&output);
    assert_eq!(lines.len(), 3, "every file is delivered");

    assert_eq!(lines[0]["file"], broken.to_string_lossy().as_ref());
    assert_eq!(lines[0]["http"], 400);
    assert_eq!(lines[0]["status"], "refused");
    assert_eq!(lines[0]["error"], "malformed_payload");
    assert!(
        lines[0]["detail"]
            .as_str()
            .is_some_and(|d| d.contains("not JSON")),
        "{}",
        lines[0]
    );

    assert_eq!(lines[1]["file"], mistyped.to_string_lossy().as_ref());
    assert_eq!(lines[1]["http"], 400);
    assert_eq!(lines[1]["path"], "alert.number");

    assert_eq!(lines[2]["action"]["action"], "create_ticket");
    assert!(String::from_utf8_lossy(&output.stderr).contains("2 of 3 deliveries"));
    // The good delivery was kept.
    assert_eq!(
        scratch.tickets()["tickets"].as_array().map(Vec::len),
        Some(1)
    );
}

#[test]
fn a_missing_file_is_an_error_naming_it_and_nothing_is_delivered() {
    let scratch = Scratch::new("missing");
    let missing = scratch.0.join("no-such-payload.json");
    let output = scratch.deliver([&scenario_file("02"), &missing]);
    assert!(!output.status.success());
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(stderr.contains(&*missing.to_string_lossy()), "{stderr}");
    assert!(output.stdout.is_empty(), "nothing delivered");
    assert!(
        scratch
            .rows()
            .iter()
            .all(|(table, rows)| *rows == 0 || table == "schema_version"),
        "nothing stored: {:?}",
        scratch.rows()
    );
}

#[test]
fn the_event_is_read_from_file_names_or_given() {
    let scratch = Scratch::new("event-names");
    // The octokit/webhooks layout: the folder names the event.
    let octokit = fixture(
        "octokit-webhooks/payload-examples/api.github.com/code_scanning_alert/created.payload.json",
    );
    let output = scratch.deliver([octokit]);
    assert_success(&output);
    assert_eq!(lines(&output)[0]["event"], "code_scanning_alert");

    let unnamed = scratch.file("Payload.JSON", "{}");
    let output = scratch.deliver([&unnamed]);
    assert!(!output.status.success());
    assert!(String::from_utf8_lossy(&output.stderr).contains("pass --event"));

    let output = scratch.scantix(&["deliver", "--event", "ping", &unnamed.to_string_lossy()]);
    assert_success(&output);
    assert_eq!(lines(&output)[0]["status"], "pong");
}

#[test]
fn memory_leaves_no_file_and_reset_deletes_the_store() {
    let scratch = Scratch::new("reset");
    let output = scratch.scantix(&[
        "--memory",
        "deliver",
        &scenario_file("02").to_string_lossy(),
    ]);
    assert_success(&output);
    assert!(!scratch.database().exists());

    assert_success(&scratch.deliver([scenario_file("02")]));
    assert!(scratch.database().exists());
    assert_success(&scratch.scantix(&["reset"]));
    assert!(!scratch.database().exists());
    let empty = scratch.scantix(&["tickets"]);
    assert_success(&empty);
    assert!(String::from_utf8_lossy(&empty.stdout).starts_with("No tickets yet"));
}

#[test]
fn every_real_jira_delivery_about_an_untracked_issue_is_answered_and_ignored() {
    let scratch = Scratch::new("jira-untracked");
    let files = jira_fixtures();
    let names: Vec<String> = files
        .iter()
        .map(|f| f.to_string_lossy().into_owned())
        .collect();
    let mut args = vec!["deliver", "--source", "jira"];
    args.extend(names.iter().map(String::as_str));
    let output = scratch.scantix(&args);
    assert_success(&output);
    let lines = lines(&output);
    assert_eq!(lines.len(), files.len(), "one line per delivery");
    for line in &lines {
        // Either not an event scantix acts on (202), or about an issue it did not create.
        let ignored = line["status"] == "ignored"
            || (line["action"]["action"] == "ignored"
                && line["action"]["reason"]
                    .as_str()
                    .is_some_and(|r| r.ends_with("is not a scantix ticket")));
        assert!(ignored, "{line}");
        assert_eq!(line["ticket"], Value::Null, "{line}");
    }
    let resolved = lines_of(&lines, "webhook-issue-updated-resolved.json")[0];
    assert_eq!(resolved["event"], "jira:issue_updated");
    assert_eq!(resolved["http"], 200);
    assert_eq!(
        resolved["action"]["reason"],
        "TES-41 is not a scantix ticket"
    );
    // Deleted and Data Center comment deliveries: answered 202 with the reason.
    let no_issue = lines_of(&lines, "webhook-server-comment-created.json")[0];
    assert_eq!(
        (no_issue["http"].as_u64(), no_issue["status"].as_str()),
        (Some(202), Some("ignored"))
    );
    assert!(
        scratch.tickets()["tickets"]
            .as_array()
            .is_some_and(Vec::is_empty)
    );

    // Jira names its event in the body; GitHub's header option makes no sense here.
    let refused = scratch.scantix(&[
        "deliver",
        "--source",
        "jira",
        "--event",
        "x",
        &files[0].to_string_lossy(),
    ]);
    assert!(!refused.status.success());
    assert!(String::from_utf8_lossy(&refused.stderr).contains("webhookEvent"));
}

#[test]
fn closing_a_draft_in_jira_while_its_alert_is_open_reopens_it() {
    let scratch = Scratch::new("jira-draft");
    let created = scratch.deliver([scenario_file("02")]);
    assert_success(&created);
    let key = lines(&created)[0]["ticket"]
        .as_str()
        .expect("a draft key")
        .to_owned();
    assert!(key.starts_with("DRAFT-"), "{key}");

    let done = jira_done_for(&scratch, &key);
    let output = scratch.scantix(&["deliver", "--source", "jira", &done.to_string_lossy()]);
    assert_success(&output);
    let lines = lines(&output);
    assert_eq!(lines.len(), 1, "{lines:?}");
    let line = &lines[0];
    assert_eq!(line["event"], "jira:issue_updated");
    assert_eq!(line["action"]["action"], "closure_rejected", "{line}");
    assert_eq!(line["action"]["still_open"], serde_json::json!([10]));
    assert_eq!(
        (line["ticket"].as_str(), line["ticket_state"].as_str()),
        (Some(&*key), Some("reopened"))
    );

    let listing = scratch.tickets();
    let ticket = ticket_of(&listing, "Codertocat/Hello-World", "java/sql-injection");
    assert_eq!(ticket["state"], "reopened");
    let said = comments(ticket);
    assert!(
        said.last().is_some_and(|c| c.starts_with(&format!(
            "{key} was closed, but GitHub still reports 1 of its alerts open, so scantix reopened it"
        ))),
        "{said:?}"
    );

    // Jira retries with the same identifier: a duplicate, nothing said twice.
    let again = scratch.scantix(&["deliver", "--source", "jira", &done.to_string_lossy()]);
    assert_success(&again);
    assert_eq!(self::lines(&again)[0]["status"], "duplicate");
    assert_eq!(
        comments(ticket_of(
            &scratch.tickets(),
            "Codertocat/Hello-World",
            "java/sql-injection"
        ))
        .len(),
        said.len()
    );
}

/// One HTTP/1.1 request over a fresh connection; returns the status and the body.
fn http(addr: &str, request_head: &str, body: &[u8]) -> (u16, String) {
    let mut stream = TcpStream::connect(addr).expect("connect to scantix serve");
    let head = format!(
        "{request_head}Host: {addr}\r\nContent-Length: {}\r\nConnection: close\r\n\r\n",
        body.len()
    );
    stream.write_all(head.as_bytes()).expect("send head");
    stream.write_all(body).expect("send body");
    let mut response = String::new();
    stream.read_to_string(&mut response).expect("read response");
    let status = response
        .split(' ')
        .nth(1)
        .and_then(|s| s.parse().ok())
        .unwrap_or_else(|| panic!("no status in {response:?}"));
    let body = response
        .split_once("\r\n\r\n")
        .map(|(_, b)| b.to_owned())
        .unwrap_or_default();
    (status, body)
}

/// A server started by a test, stopped if the test fails before it does.
struct Server(Child);

impl Drop for Server {
    fn drop(&mut self) {
        if let Ok(None) = self.0.try_wait() {
            let _ = self.0.kill();
            let _ = self.0.wait();
        }
    }
}

impl Server {
    /// `scantix serve` on a free port, with these secrets; returns it and its address.
    fn start(scratch: &Scratch, github_secret: &str, jira_secret: &str) -> (Server, String) {
        let mut server = Server(
            command(&scratch.store())
                .env("SCANTIX_WEBHOOK_SECRET", github_secret)
                .env("SCANTIX_JIRA_WEBHOOK_SECRET", jira_secret)
                .args(["serve", "--addr", "127.0.0.1:0"])
                .stdout(Stdio::piped())
                .stderr(Stdio::null())
                .spawn()
                .expect("start scantix serve"),
        );
        let mut first_line = String::new();
        BufReader::new(server.0.stdout.take().expect("stdout"))
            .read_line(&mut first_line)
            .expect("the listening line");
        assert!(first_line.contains("POST /webhooks/jira"), "{first_line}");
        let addr = first_line
            .split("http://")
            .nth(1)
            .and_then(|rest| rest.split_whitespace().next())
            .unwrap_or_else(|| panic!("no address in {first_line:?}"))
            .to_owned();
        (server, addr)
    }

    /// Ctrl-C, then a clean exit.
    fn interrupt(mut self) {
        let interrupted = Command::new("kill")
            .args(["-INT", &self.0.id().to_string()])
            .status()
            .expect("send SIGINT");
        assert!(interrupted.success());
        let exit = self.0.wait().expect("scantix serve exits");
        assert!(exit.success(), "{exit}");
    }
}

#[test]
fn serve_answers_webhooks_saves_the_store_and_stops_on_ctrl_c() {
    let scratch = Scratch::new("serve");
    let (server, addr) = Server::start(&scratch, "a secret of this test", "a jira secret");

    let (status, body) = http(&addr, "GET /healthz HTTP/1.1\r\n", b"");
    assert_eq!((status, body.as_str()), (200, r#"{"status":"ok"}"#));

    let payload = std::fs::read(scenario_file("02")).expect("payload");
    let signature = sign(b"a secret of this test", &payload);
    let head = |signature: &str| {
        format!(
            "POST /webhooks/github HTTP/1.1\r\nContent-Type: application/json\r\nX-GitHub-Event: code_scanning_alert\r\n\
             X-GitHub-Delivery: serve-test-1\r\nX-Hub-Signature-256: {signature}\r\n"
        )
    };
    let (status, body) = http(&addr, &head(&signature), &payload);
    assert_eq!(status, 200, "{body}");
    let answer: Value = serde_json::from_str(&body).expect("a JSON answer");
    assert_eq!(answer["outcome"]["actions"][0]["action"], "create_ticket");
    // Saved before answering: another process can read the ticket already.
    assert_eq!(
        scratch.tickets()["tickets"].as_array().map(Vec::len),
        Some(1)
    );

    let (status, body) = http(&addr, &head(&sign(b"another secret", &payload)), &payload);
    assert_eq!(status, 401, "{body}");

    server.interrupt();
}

#[test]
fn serve_answers_jira_webhooks_signed_with_the_jira_secret() {
    let scratch = Scratch::new("serve-jira");
    // A draft to close, delivered before the server holds the store.
    let created = scratch.deliver([scenario_file("02")]);
    assert_success(&created);
    let key = lines(&created)[0]["ticket"]
        .as_str()
        .expect("a draft key")
        .to_owned();
    let (server, addr) = Server::start(&scratch, "a github secret", "a jira secret");

    let head = |signature: &str, query: &str, id: &str| {
        format!(
            "POST /webhooks/jira{query} HTTP/1.1\r\nContent-Type: application/json\r\n\
             X-Atlassian-Webhook-Identifier: {id}\r\nX-Hub-Signature: {signature}\r\n"
        )
    };
    let untracked = std::fs::read(
        jira_fixtures()
            .into_iter()
            .find(|f| f.ends_with("webhook-issue-updated-resolved.json"))
            .expect("the resolved fixture"),
    )
    .expect("fixture");
    let signed = sign(b"a jira secret", &untracked);
    let (status, body) = http(&addr, &head(&signed, "", "serve-jira-1"), &untracked);
    assert_eq!(status, 200, "{body}");
    let answer: Value = serde_json::from_str(&body).expect("a JSON answer");
    assert_eq!(
        answer["outcome"]["actions"][0]["reason"],
        "TES-41 is not a scantix ticket"
    );

    // Signed with the GitHub secret, or carrying a Data Center token instead: refused, since
    // the local ingest checks signatures.
    let github_signed = sign(b"a github secret", &untracked);
    let (status, body) = http(&addr, &head(&github_signed, "", "serve-jira-2"), &untracked);
    assert_eq!(status, 401, "{body}");
    let (status, body) = http(
        &addr,
        &head("", "?token=a%20jira%20secret", "serve-jira-3"),
        &untracked,
    );
    assert_eq!(status, 401, "{body}");

    // The Jira template for the draft: the closure is rejected and the draft reopened, saved.
    let done = std::fs::read(jira_done_for(&scratch, &key)).expect("the filled template");
    let (status, body) = http(
        &addr,
        &head(&sign(b"a jira secret", &done), "", "serve-jira-4"),
        &done,
    );
    assert_eq!(status, 200, "{body}");
    let answer: Value = serde_json::from_str(&body).expect("a JSON answer");
    assert_eq!(
        answer["outcome"]["actions"][0]["action"],
        "closure_rejected"
    );
    assert_eq!(scratch.tickets()["tickets"][0]["state"], "reopened");

    server.interrupt();
}

/// One request whose body the server may refuse before reading it all: the body is written from
/// another thread (its errors ignored: the server may close first), while this one reads the
/// answer. Returns the status, the `content-type` and the body.
fn http_refused_early(addr: &str, request_head: &str, body: Vec<u8>) -> (u16, String, String) {
    let stream = TcpStream::connect(addr).expect("connect to scantix serve");
    stream
        .set_read_timeout(Some(std::time::Duration::from_secs(60)))
        .expect("a read timeout");
    let mut writer = stream.try_clone().expect("a second handle");
    let head = format!(
        "{request_head}Host: {addr}\r\nContent-Length: {}\r\nConnection: close\r\n\r\n",
        body.len()
    );
    let sending = std::thread::spawn(move || {
        let _ = writer.write_all(head.as_bytes());
        let _ = writer.write_all(&body);
    });
    let mut response = Vec::new();
    let mut reader = &stream;
    let _ = reader.read_to_end(&mut response);
    let _ = stream.shutdown(std::net::Shutdown::Both);
    let _ = sending.join();
    let response = String::from_utf8_lossy(&response).into_owned();
    let (head, body) = response
        .split_once("\r\n\r\n")
        .unwrap_or_else(|| panic!("no answer in {response:?}"));
    let status = head
        .split(' ')
        .nth(1)
        .and_then(|s| s.parse().ok())
        .unwrap_or_else(|| panic!("no status in {head:?}"));
    let content_type = head
        .lines()
        .find_map(|line| {
            let (name, value) = line.split_once(':')?;
            name.eq_ignore_ascii_case("content-type")
                .then(|| value.trim().to_owned())
        })
        .unwrap_or_default();
    (status, content_type, body.to_owned())
}

#[test]
fn serve_answers_every_refusal_in_json_an_oversized_body_too() {
    let scratch = Scratch::new("serve-refusals");
    let (server, addr) = Server::start(&scratch, "a github secret", "a jira secret");

    // Over axum's own default (2 MB), where it answered "Failed to buffer the request body" in
    // plain text, and just over the ingest's limit (1 MiB): the same JSON 413 on both endpoints.
    for (path, size) in [
        ("/webhooks/github", 3 * 1024 * 1024),
        ("/webhooks/github", 1024 * 1024 + 1),
        ("/webhooks/jira", 3 * 1024 * 1024),
    ] {
        let head = format!(
            "POST {path} HTTP/1.1\r\nContent-Type: application/json\r\n\
             X-GitHub-Event: code_scanning_alert\r\nX-GitHub-Delivery: serve-big\r\n"
        );
        let (status, content_type, body) = http_refused_early(&addr, &head, vec![b' '; size]);
        assert_eq!(status, 413, "{path} {size}: {body}");
        assert_eq!(content_type, "application/json", "{path} {size}");
        let answer: Value = serde_json::from_str(&body)
            .unwrap_or_else(|e| panic!("{path} {size}: not JSON ({e}): {body:?}"));
        assert_eq!(answer["error"], "payload_too_large", "{answer}");
        assert!(
            answer["detail"]
                .as_str()
                .unwrap_or_default()
                .contains("1048576"),
            "{answer}"
        );
    }

    // The server's other refusals: a wrong method, a path it does not serve.
    let (status, body) = http(&addr, "GET /webhooks/github HTTP/1.1\r\n", b"");
    assert_eq!(status, 405, "{body}");
    let answer: Value = serde_json::from_str(&body).expect("a JSON answer");
    assert_eq!(answer["error"], "method_not_allowed");
    let (status, body) = http(&addr, "POST /webhooks/gitlab HTTP/1.1\r\n", b"{}");
    assert_eq!(status, 404, "{body}");
    let answer: Value = serde_json::from_str(&body).expect("a JSON answer");
    assert_eq!(answer["error"], "not_found");

    // The server is still there, and nothing was stored.
    let (status, _) = http(&addr, "GET /healthz HTTP/1.1\r\n", b"");
    assert_eq!(status, 200);
    server.interrupt();
}

// ----- a pull request (events/github/pull-request) -----

#[test]
fn a_pull_request_gets_one_summary_and_its_merge_names_it_on_the_ticket_it_fixes() {
    let scratch = Scratch::new("pull-request");
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("../events/github/pull-request");
    let mut files: Vec<PathBuf> = std::fs::read_dir(&dir)
        .expect("the pull request folder")
        .map(|entry| entry.expect("an entry").path())
        .filter(|p| p.extension().is_some_and(|e| e == "json"))
        .collect();
    files.sort();
    assert_eq!(files.len(), 7, "the pull request has 7 deliveries");
    let output = scratch.deliver(&files);
    assert_success(&output);
    let lines = lines(&output);
    assert_eq!(actions(&lines_of(&lines, "01")), ["create_ticket"]);
    assert_eq!(actions(&lines_of(&lines, "02")), ["pull_request_noted"]);
    for prefix in ["03", "04"] {
        assert_eq!(
            actions(&lines_of(&lines, prefix)),
            ["record", "pull_request_summary"],
            "{prefix}"
        );
    }
    assert_eq!(actions(&lines_of(&lines, "06")), ["pull_request_noted"]);
    assert_eq!(
        actions(&lines_of(&lines, "07")),
        ["pull_request_summary", "pull_request_fixes"]
    );
    // Locally the summary has nowhere to go: it is shown, as GitHub would show it, on stderr.
    let stderr = String::from_utf8_lossy(&output.stderr);
    let shown = stderr
        .matches("--- summary comment on pull request Codertocat/Hello-World#2")
        .count();
    assert_eq!(shown, 4, "{stderr}");
    assert!(
        stderr.contains("**2 new alerts** this pull request would introduce"),
        "{stderr}"
    );
    assert!(stderr.contains("**Merged.**"), "{stderr}");

    let listing = scratch.tickets();
    assert_eq!(
        listing["tickets"].as_array().map(Vec::len),
        Some(1),
        "{listing:#}"
    );
    let sql = ticket_of(&listing, "Codertocat/Hello-World", "java/sql-injection");
    let said = comments(sql);
    assert!(
        said.iter().any(|c| c.starts_with(
            "Pull request #2 (Update the README with new information.) merged; it fixes alert 10"
        )),
        "{said:?}"
    );
}

/// `scantix --memory deliver <ping>` with the draft tracker as the main one and these variables
/// for the route trackers, none of the caller's Linear settings leaking in.
fn deliver_with_routes(variables: &[(&str, &str)]) -> Output {
    let mut command = Command::new(env!("CARGO_BIN_EXE_scantix"));
    command
        .args(["--memory", "deliver"])
        .arg(scenario_file("01-ping.json"))
        .env("RUST_LOG", "error")
        .env("SCANTIX_TRACKER", "draft");
    for var in [
        "SCANTIX_ROUTE_TRACKERS",
        "LINEAR_SETTINGS",
        "LINEAR_TEAM",
        "LINEAR_API_KEY",
        "LINEAR_OAUTH_TOKEN",
    ] {
        command.env_remove(var);
    }
    command.envs(variables.iter().copied());
    command.output().expect("run scantix")
}

#[test]
fn a_route_tracker_without_its_settings_stops_the_start_naming_the_setting() {
    let output = deliver_with_routes(&[("SCANTIX_ROUTE_TRACKERS", "linear")]);
    assert!(!output.status.success());
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(
        stderr.contains("route tracker linear (SCANTIX_ROUTE_TRACKERS)")
            && stderr.contains("LINEAR_TEAM"),
        "{stderr}"
    );
    assert!(output.stdout.is_empty(), "nothing delivered: {output:?}");
}

#[test]
fn a_route_tracker_with_its_settings_starts() {
    let output = deliver_with_routes(&[
        ("SCANTIX_ROUTE_TRACKERS", "linear"),
        ("LINEAR_TEAM", "SEC"),
        ("LINEAR_API_KEY", "lin_api_not_called_for_a_ping"),
    ]);
    assert_success(&output);
}
