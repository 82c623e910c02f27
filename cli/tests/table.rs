//! The CLI on a DynamoDB table (`--table`, `--dynamodb-endpoint`) instead of the embedded store,
//! against DynamoDB Local: the same scenario gives the same tickets, and `migrate` brings a table
//! written by older code to today's layout, and `serve` on a table takes deliveries the deployed
//! way (inbox on receipt, a worker applying them) to the same tickets.
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
use scantix_webhooks::signature::sign;
use serde_json::Value;
use std::io::{BufRead, BufReader, Read, Write};
use std::net::TcpStream;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Output, Stdio};
use std::time::{Duration, Instant};

/// `scantix` with the scenario's settings and nothing of the caller's environment that could
/// change what it does.
fn scantix(store_args: &[&str], args: &[&str]) -> Output {
    command(store_args, args).output().expect("scantix runs")
}

fn command(store_args: &[&str], args: &[&str]) -> Command {
    let events = Path::new(env!("CARGO_MANIFEST_DIR")).join("../events/github");
    let mut command = Command::new(env!("CARGO_BIN_EXE_scantix"));
    command
        .args(store_args)
        .args(args)
        .env_clear()
        .env("PATH", std::env::var("PATH").unwrap_or_default())
        .env("RUST_LOG", "error")
        .env("SCANTIX_CONFIG", events.join("scantix.yml"));
    command
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

/// `scantix serve` on a table: every delivery is answered once it is in the inbox (202, or 200 for
/// a redelivery), and the worker inside `serve` turns them into the same tickets the embedded store
/// makes when the same files are applied directly.
#[test]
fn serve_on_a_table_takes_deliveries_into_the_inbox_and_its_worker_applies_them() {
    const SECRET: &str = "a secret of this test";
    let endpoint = local_endpoint();
    let table = unique_table_name();
    let store_args = [
        "--dynamodb-endpoint",
        endpoint.as_str(),
        "--table",
        table.as_str(),
    ];
    let (server, first_line, addr) =
        ServeProcess::start(&store_args, ("SCANTIX_WEBHOOK_SECRET", SECRET));
    assert!(
        first_line.contains("deliveries: inbox, then worker"),
        "{first_line}"
    );

    let files = scenario();
    for (n, file) in files.iter().enumerate() {
        let payload = std::fs::read(file).expect("a scenario file");
        let (status, body) =
            post_github(&addr, SECRET, &event_of(file), &format!("d-{n}"), &payload);
        // A ping is answered at the door; every event is accepted into the inbox.
        let accepted = if event_of(file) == "ping" { 200 } else { 202 };
        assert_eq!(status, accepted, "{}: {body}", file.display());
    }
    // A redelivery (same X-GitHub-Delivery) is recognised at the door and applied no second time.
    let payload = std::fs::read(&files[1]).expect("a scenario file");
    let (status, body) = post_github(&addr, SECRET, &event_of(&files[1]), "d-1", &payload);
    assert_eq!(status, 200, "{body}");
    assert!(body.contains("duplicate"), "{body}");
    // A wrong signature never reaches the inbox.
    let (status, _) = post_github(&addr, "not the secret", "ping", "d-forged", b"{}");
    assert_eq!(status, 401);

    let dir = std::env::temp_dir().join(format!("scantix-serve-table-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    let expected = in_number_order(scenario_tickets(&["--store", dir.to_str().expect("UTF-8")]));
    let _ = std::fs::remove_dir_all(&dir);

    // The worker applies in the background: wait until the table shows the same tickets.
    let deadline = Instant::now() + Duration::from_secs(120);
    let mut seen;
    loop {
        let listing = succeeded(scantix(&store_args, &["tickets", "--json"]));
        seen = in_number_order(serde_json::from_slice(&listing.stdout).expect("JSON"));
        if seen == expected || Instant::now() > deadline {
            break;
        }
        std::thread::sleep(Duration::from_millis(250));
    }
    assert_eq!(seen, expected);
    let replay = succeeded(
        command(&store_args, &["replay"])
            .env_remove("SCANTIX_CONFIG")
            .output()
            .expect("scantix runs"),
    );
    assert!(
        String::from_utf8_lossy(&replay.stdout).contains("\"pending\":0"),
        "nothing is left in the inbox: {}",
        String::from_utf8_lossy(&replay.stdout)
    );

    server.interrupt();
}

/// The event a scenario file holds, from its name (`02-code_scanning_alert.created.json`).
fn event_of(file: &Path) -> String {
    let name = file
        .file_name()
        .and_then(|n| n.to_str())
        .expect("a UTF-8 name");
    let name = name.split_once('-').map_or(name, |(_, rest)| rest);
    name.split('.').next().expect("an event name").to_owned()
}

/// A signed GitHub delivery; returns the status and the body.
fn post_github(
    addr: &str,
    secret: &str,
    event: &str,
    delivery: &str,
    body: &[u8],
) -> (u16, String) {
    let headers = format!(
        "Content-Type: application/json\r\nX-GitHub-Event: {event}\r\n\
         X-GitHub-Delivery: {delivery}\r\nX-Hub-Signature-256: {}\r\n",
        sign(secret.as_bytes(), body)
    );
    post(addr, "/webhooks/github", &headers, body)
}

/// One HTTP/1.1 POST of `body` to `path` with `headers` (each line ending in CRLF) over a fresh
/// connection; returns the status and the body.
fn post(addr: &str, path: &str, headers: &str, body: &[u8]) -> (u16, String) {
    let mut stream = TcpStream::connect(addr).expect("connect to scantix serve");
    let head = format!(
        "POST {path} HTTP/1.1\r\nHost: {addr}\r\n{headers}Content-Length: {}\r\n\
         Connection: close\r\n\r\n",
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

/// `scantix serve`, killed if the test fails before it stops it.
struct ServeProcess(Child);

impl Drop for ServeProcess {
    fn drop(&mut self) {
        if let Ok(None) = self.0.try_wait() {
            let _ = self.0.kill();
            let _ = self.0.wait();
        }
    }
}

impl ServeProcess {
    /// `scantix serve` on a free port of the table `store_args` name, with one more variable;
    /// returns it, the line it printed and its address.
    fn start(store_args: &[&str], (name, value): (&str, &str)) -> (ServeProcess, String, String) {
        let mut server = ServeProcess(
            command(store_args, &["serve", "--addr", "127.0.0.1:0"])
                .env(name, value)
                .stdout(Stdio::piped())
                .stderr(Stdio::null())
                .spawn()
                .expect("start scantix serve"),
        );
        let mut first_line = String::new();
        BufReader::new(server.0.stdout.take().expect("stdout"))
            .read_line(&mut first_line)
            .expect("the listening line");
        let addr = first_line
            .split("http://")
            .nth(1)
            .and_then(|rest| rest.split_whitespace().next())
            .unwrap_or_else(|| panic!("no address in {first_line:?}"))
            .to_owned();
        (server, first_line, addr)
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

/// `POST /sarif` on `serve` over a table: a CI job's upload, authorised by an installation's
/// upload token, goes into the inbox (202) and the worker applies it as an analysis.
#[test]
fn serve_on_a_table_takes_sarif_uploads_and_its_worker_applies_them() {
    const UPLOAD_SECRET: &str = "an upload-token secret of this test";
    let endpoint = local_endpoint();
    let table = unique_table_name();
    let store_args = [
        "--dynamodb-endpoint",
        endpoint.as_str(),
        "--table",
        table.as_str(),
    ];
    let fixtures = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../shared/fixtures");

    // The App is installed on Codertocat/Hello-World (the real `installation.created` delivery).
    let dir = std::env::temp_dir().join(format!("scantix-serve-sarif-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let installation = dir.join("installation.created.json");
    std::fs::copy(
        fixtures.join(
            "github-webhooks/octokit-webhooks/payload-examples/api.github.com/installation/created.payload.json",
        ),
        &installation,
    )
    .unwrap();
    succeeded(scantix(
        &store_args,
        &["deliver", installation.to_str().expect("UTF-8")],
    ));
    let token = succeeded(
        command(&store_args, &["upload-token", "--installation", "957387"])
            .env("SCANTIX_UPLOAD_TOKEN_SECRET", UPLOAD_SECRET)
            .output()
            .expect("scantix runs"),
    );
    let token = String::from_utf8(token.stdout).unwrap().trim().to_owned();
    let _ = std::fs::remove_dir_all(&dir);

    let (server, first_line, addr) =
        ServeProcess::start(&store_args, ("SCANTIX_UPLOAD_TOKEN_SECRET", UPLOAD_SECRET));
    assert!(first_line.contains("SARIF uploads: on"), "{first_line}");

    let sarif = std::fs::read(
        fixtures.join("sarif/semgrep/defectdojo.semgrep-oss-1.69.0.issue_10191.sarif"),
    )
    .unwrap();
    let query = "repository=Codertocat/Hello-World&ref=refs/heads/master\
                 &commit=e6a08c5e3fd3ad86ae40b5b8b6bf0b0a6e8b3f11&category=semgrep";
    let upload = |authorization: &str| {
        let headers = format!(
            "Content-Type: application/sarif+json\r\nAuthorization: Bearer {authorization}\r\n"
        );
        post(&addr, &format!("/sarif?{query}"), &headers, &sarif)
    };
    let (status, forged) = upload("stxu_957387_0000");
    assert_eq!(status, 401, "{forged}");
    let (status, accepted) = upload(&token);
    assert_eq!(status, 202, "{accepted}");

    // The worker applies the analysis: its findings appear, each naming the scanner.
    let deadline = Instant::now() + Duration::from_secs(120);
    let scanned = loop {
        let listing = succeeded(scantix(&store_args, &["tickets", "--json"]));
        let listing: Value = serde_json::from_slice(&listing.stdout).expect("JSON");
        let scanned = ["tickets", "untracked"]
            .iter()
            .flat_map(|section| listing[section].as_array().cloned().unwrap_or_default())
            .flat_map(|entry| entry["findings"].as_array().cloned().unwrap_or_default())
            .filter(|finding| finding["tool"].as_str().is_some_and(|t| !t.is_empty()))
            .count();
        if scanned > 0 || Instant::now() > deadline {
            break scanned;
        }
        std::thread::sleep(Duration::from_millis(250));
    };
    assert!(scanned > 0, "the upload's findings were applied");
    server.interrupt();
}
