//! Drafts and bulk operations on the real binary against the fake Jira Cloud (which checks every
//! request against Atlassian's OpenAPI description): `mode: draft` prepares drafts that reach
//! Jira only when pushed; a discarded draft never does; a bulk close of 60 tickets under Jira 429s
//! completes, resumably, with one transition and one comment per ticket; 500 drafts pushed and
//! closed under a 429 storm, each run killed part way and run again, make one issue, one
//! transition, one comment and one audit entry each; `budget rebalance` follows a budget changed
//! in the config file. Payloads are the
//! scenario's real GitHub deliveries (`events/github/scenario`); the bulk test delivers the same
//! real alert under 60 alert numbers.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    reason = "test code: a failed assumption is the test failing"
)]

use scantix_tests::fake_jira::{
    self, CLOUD_API_TOKEN, CLOUD_EMAIL, Category, FakeJira, Fault, Storm,
};
use serde_json::Value;
use std::collections::BTreeSet;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Output, Stdio};

/// A fresh folder for one test's store, settings and payloads, removed at the end; and where the
/// store is (the folder's embedded store, or a DynamoDB table).
struct Scratch(PathBuf, Vec<String>);

impl Scratch {
    /// With `settings` (YAML) beside the scenario's policy, on the embedded store.
    fn new(test: &str, settings: &str) -> Scratch {
        let mut scratch = Scratch::bare(test, settings);
        scratch.1 = vec![
            "--store".into(),
            scratch.0.join("store").to_string_lossy().into(),
        ];
        scratch
    }

    /// The same on a fresh table of DynamoDB Local (`--table`, as on a deployment's).
    fn on_table(test: &str, settings: &str) -> Scratch {
        let mut scratch = Scratch::bare(test, settings);
        scratch.1 = vec![
            "--dynamodb-endpoint".into(),
            scantix_tests::dynamodb::local_endpoint(),
            "--table".into(),
            scantix_tests::dynamodb::unique_table_name(),
        ];
        scratch
    }

    fn bare(test: &str, settings: &str) -> Scratch {
        let dir =
            std::env::temp_dir().join(format!("scantix-cli-drafts-{test}-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).expect("temporary folder");
        let repo = Path::new(env!("CARGO_MANIFEST_DIR")).join("..");
        std::fs::copy(
            repo.join("events/github/scantix.rego"),
            dir.join("scantix.rego"),
        )
        .expect("the scenario's policy");
        std::fs::write(
            dir.join("scantix.yml"),
            format!("policy-file: scantix.rego\n{settings}"),
        )
        .expect("settings");
        Scratch(dir, Vec::new())
    }

    /// `scantix --store <store> <args>` with the Jira tracker on `jira`, stdin closed.
    fn scantix(&self, jira: &FakeJira, args: &[&str]) -> Output {
        self.command(jira, args).output().expect("run scantix")
    }

    /// The same, started: its output is discarded.
    fn spawn(&self, jira: &FakeJira, args: &[&str]) -> Child {
        self.command(jira, args)
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("start scantix")
    }

    fn command(&self, jira: &FakeJira, args: &[&str]) -> Command {
        let mut command = Command::new(env!("CARGO_BIN_EXE_scantix"));
        command
            .args(&self.1)
            .args(args)
            .stdin(Stdio::null())
            .env("RUST_LOG", "error");
        for var in [
            "SCANTIX_STORE",
            "SCANTIX_TABLE",
            "SCANTIX_WEBHOOK_SECRET",
            "SCANTIX_JIRA_WEBHOOK_SECRET",
            "JIRA_SETTINGS",
            "JIRA_FLAVOR",
            "JIRA_TOKEN",
        ] {
            command.env_remove(var);
        }
        command
            .env("SCANTIX_CONFIG", self.0.join("scantix.yml"))
            .env("SCANTIX_TRACKER", "jira")
            .env("JIRA_URL", jira.base_url())
            .env("JIRA_PROJECT", "SEC")
            .env("JIRA_EMAIL", CLOUD_EMAIL)
            .env("JIRA_API_TOKEN", CLOUD_API_TOKEN)
            .env("USER", "local-tester");
        command
    }

    fn ok(&self, jira: &FakeJira, args: &[&str]) -> Output {
        let output = self.scantix(jira, args);
        assert!(
            output.status.success(),
            "scantix {args:?} failed ({}):\nstdout: {}\nstderr: {}",
            output.status,
            String::from_utf8_lossy(&output.stdout),
            String::from_utf8_lossy(&output.stderr)
        );
        output
    }

    fn json(&self, jira: &FakeJira, args: &[&str]) -> Value {
        serde_json::from_slice(&self.ok(jira, args).stdout).expect("JSON")
    }

    /// The audit entries the store holds for `group`, oldest first (`None` on a table: the
    /// audit is read through `scantix audit`, another command's business).
    fn audit(&self, group: &str) -> Option<Vec<Value>> {
        if self.1.first().is_none_or(|a| a != "--store") {
            return None;
        }
        let db = rusqlite::Connection::open(self.0.join("store/store.sqlite3")).expect("database");
        let mut query = db
            .prepare("SELECT doc FROM audit WHERE group_key = ?1 ORDER BY seq")
            .expect("query");
        query
            .query_map([group], |row| row.get::<_, String>(0))
            .expect("rows")
            .map(|doc| serde_json::from_str(&doc.expect("row")).expect("JSON"))
            .collect::<Vec<Value>>()
            .into()
    }
}

impl Drop for Scratch {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

fn scenario(name: &str) -> String {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../events/github/scenario")
        .join(name)
        .to_string_lossy()
        .into_owned()
}

fn lines(output: &Output) -> Vec<Value> {
    String::from_utf8_lossy(&output.stdout)
        .lines()
        .map(|line| serde_json::from_str(line).unwrap_or_else(|e| panic!("{e}: {line}")))
        .collect()
}

fn field_names(ticket: &Value) -> BTreeSet<String> {
    ticket
        .as_object()
        .expect("object")
        .keys()
        .cloned()
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn drafts_reach_jira_only_when_pushed_and_every_push_and_discard_is_audited() {
    let jira = FakeJira::start(fake_jira::Flavor::Cloud).await;
    drafts_pushed_and_discarded(&jira, &Scratch::new("push", "mode: draft\n"));
}

/// Deployed, `scantix --table` works the drafts of the deployment's table as the local store's.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn drafts_on_a_dynamodb_table_work_as_on_the_embedded_store() {
    let jira = FakeJira::start(fake_jira::Flavor::Cloud).await;
    drafts_pushed_and_discarded(&jira, &Scratch::on_table("table", "mode: draft\n"));
}

fn drafts_pushed_and_discarded(jira: &FakeJira, scratch: &Scratch) {
    // Two groups (a code scanning rule, a Dependabot advisory), a second finding joining the
    // first: drafts, and not one request creates anything in Jira.
    let delivered = lines(&scratch.ok(
        jira,
        &[
            "deliver",
            &scenario("02-code_scanning_alert.created.json"),
            &scenario("03-dependabot_alert.created.json"),
            &scenario("04-code_scanning_alert.created.json"),
        ],
    ));
    let actions: Vec<&str> = delivered
        .iter()
        .map(|l| l["action"]["action"].as_str().unwrap())
        .collect();
    assert_eq!(actions, ["draft_ticket", "draft_ticket", "update_ticket"]);
    assert!(jira.issue_keys().is_empty(), "{:?}", jira.issue_keys());

    let drafts = scratch.json(jira, &["drafts", "--json"]);
    let listed = drafts["tickets"].as_array().expect("tickets");
    assert_eq!(listed.len(), 2, "{drafts:#}");
    assert!(listed.iter().all(|t| t["tracker"] == "draft"));
    // The same shape as `scantix tickets --json`, field for field.
    let tickets = scratch.json(jira, &["tickets", "--json"]);
    assert_eq!(
        field_names(&listed[0]),
        field_names(&tickets["tickets"][0]),
        "drafts --json and tickets --json list tickets alike"
    );
    let sql = listed
        .iter()
        .find(|t| t["group"].as_str().unwrap().contains("java/sql-injection"))
        .expect("the code scanning draft");
    let sql_key = sql["key"].as_str().unwrap().to_owned();
    let sql_group = sql["group"].as_str().unwrap().to_owned();
    assert_eq!(
        (sql["open"].as_u64(), sql["total"].as_u64()),
        (Some(2), Some(2))
    );
    let npm = listed
        .iter()
        .find(|t| t["group"].as_str().unwrap().contains("dependabot"))
        .expect("the Dependabot draft");
    let (npm_key, npm_group) = (
        npm["key"].as_str().unwrap().to_owned(),
        npm["group"].as_str().unwrap().to_owned(),
    );

    let shown = String::from_utf8(scratch.ok(jira, &["drafts", "show", &sql_key]).stdout).unwrap();
    assert!(shown.contains("BookService.java"), "{shown}");

    // A dry run of the push changes nothing.
    let dry = lines(&scratch.ok(jira, &["drafts", "push", &sql_key, "--dry-run"]));
    assert_eq!(dry[0]["result"], "changed");
    assert!(jira.issue_keys().is_empty());

    let pushed = lines(&scratch.ok(
        jira,
        &[
            "drafts",
            "push",
            &sql_key,
            "--actor",
            "alice",
            "--reason",
            "reviewed: real",
        ],
    ));
    assert_eq!(pushed[0]["result"], "changed", "{pushed:?}");
    assert_eq!(pushed[0]["ticket_after"], "SEC-1");
    assert_eq!(pushed[0]["state"], "open");
    assert_eq!(jira.issue_keys(), ["SEC-1"]);
    let issue = jira.snapshot("SEC-1").expect("the issue");
    assert!(issue.summary.contains("(2 alerts)"), "{}", issue.summary);
    if let Some(audit) = scratch.audit(&sql_group) {
        let push = audit
            .iter()
            .find(|a| a["action"] == "draft.pushed")
            .expect("the push audited");
        assert_eq!(
            (&push["actor"], &push["reason"], &push["ticket"]),
            (
                &Value::from("alice"),
                &Value::from("reviewed: real"),
                &Value::from(sql_key.as_str())
            )
        );
    }

    // Pushing again: nothing more reaches Jira.
    let again = lines(&scratch.ok(jira, &["drafts", "push", &sql_key]));
    assert_eq!(again[0]["result"], "unchanged", "{again:?}");
    assert_eq!(jira.issue_keys(), ["SEC-1"]);

    // The other draft is discarded (actor: the local user); its findings stay recorded.
    let discarded = lines(&scratch.ok(
        jira,
        &["drafts", "discard", &npm_key, "--reason", "not exploitable"],
    ));
    assert_eq!(discarded[0]["result"], "changed", "{discarded:?}");
    if let Some(audit) = scratch.audit(&npm_group) {
        let discard = audit
            .into_iter()
            .find(|a| a["action"] == "draft.discarded")
            .expect("the discard audited");
        assert_eq!(discard["actor"], "local-tester");
        assert_eq!(discard["reason"], "not exploitable");
    }
    let tickets = scratch.json(jira, &["tickets", "--json"]);
    let keys: Vec<&str> = tickets["tickets"]
        .as_array()
        .unwrap()
        .iter()
        .map(|t| t["key"].as_str().unwrap())
        .collect();
    assert_eq!(keys, ["SEC-1"]);
    let untracked = &tickets["untracked"][0];
    assert_eq!(untracked["group"], npm_group.as_str());
    assert!(
        untracked["why"]
            .as_str()
            .unwrap()
            .contains("draft discarded"),
        "{untracked}"
    );
    assert!(
        scratch.json(jira, &["drafts", "--json"])["tickets"]
            .as_array()
            .unwrap()
            .is_empty()
    );
    assert!(jira.issue_keys() == ["SEC-1"]);
    jira.assert_no_violations();
}

/// The scenario's first code scanning alert under alert number `number`: 60 real alerts of one
/// repository, one ticket each (`grouping: code-scanning: alert`).
fn alert_file(scratch: &Scratch, number: u64) -> String {
    let text = std::fs::read_to_string(scenario("02-code_scanning_alert.created.json")).unwrap();
    let mut payload: Value = serde_json::from_str(&text).unwrap();
    let alert = &mut payload["alert"];
    alert["number"] = number.into();
    for field in ["url", "html_url"] {
        let url = alert[field].as_str().unwrap();
        let base = url.rsplit_once('/').unwrap().0.to_owned();
        alert[field] = format!("{base}/{number}").into();
    }
    let path = scratch
        .0
        .join(format!("{number:02}-code_scanning_alert.created.json"));
    std::fs::write(&path, serde_json::to_vec(&payload).unwrap()).unwrap();
    path.to_string_lossy().into_owned()
}

/// Comments on `key` that scantix's bulk close made.
fn closing_comments(jira: &FakeJira, key: &str) -> usize {
    jira.snapshot(key)
        .expect("issue")
        .comments
        .iter()
        .filter(|c| c.to_string().contains("Closed by bob: accepted risk"))
        .count()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_bulk_close_under_jira_429s_completes_resumably_without_duplicates() {
    const TICKETS: u64 = 60;
    let jira = FakeJira::start(fake_jira::Flavor::Cloud).await;
    let scratch = Scratch::new("bulk", "grouping:\n  code-scanning: alert\n");
    let files: Vec<String> = (1..=TICKETS).map(|n| alert_file(&scratch, n)).collect();
    let mut deliver = vec!["deliver"];
    deliver.extend(files.iter().map(String::as_str));
    scratch.ok(&jira, &deliver);
    let keys = jira.issue_keys();
    assert_eq!(keys.len(), TICKETS as usize);

    let close = [
        "tickets",
        "--state",
        "open",
        "--repo",
        "codertocat/hello-world",
        "close",
        "--reason",
        "accepted risk",
        "--actor",
        "bob",
    ];
    // A dry run lists the 60, changes nothing.
    let mut dry = close.to_vec();
    dry.push("--dry-run");
    let preview = lines(&scratch.ok(&jira, &dry));
    assert_eq!(preview.len(), TICKETS as usize);
    assert!(preview.iter().all(|l| l["result"] == "changed"));
    // Without --yes, and no terminal to ask on: refused, nothing changed.
    let refused = scratch.scantix(&jira, &close);
    assert!(!refused.status.success());
    assert!(
        String::from_utf8_lossy(&refused.stderr).contains("--yes"),
        "{}",
        String::from_utf8_lossy(&refused.stderr)
    );
    assert!(
        keys.iter()
            .all(|k| jira.snapshot(k).unwrap().category != Category::Done)
    );

    // Jira answers 429 to every request, asking for an hour: the run commits every close, makes
    // none, and says so.
    let mut yes = close.to_vec();
    yes.push("--yes");
    jira.inject(
        Fault::RateLimited {
            retry_after_secs: 3600,
        },
        100_000,
    );
    let stopped = scratch.scantix(&jira, &yes);
    assert!(!stopped.status.success(), "the calls are still owed");
    assert!(
        String::from_utf8_lossy(&stopped.stderr).contains("run the same command again"),
        "{}",
        String::from_utf8_lossy(&stopped.stderr)
    );
    assert!(
        keys.iter()
            .all(|k| jira.snapshot(k).unwrap().category != Category::Done)
    );

    let stopped_lines = lines(&stopped);
    assert_eq!(stopped_lines.len(), TICKETS as usize);
    assert!(stopped_lines.iter().all(|l| l["result"] == "changed"
        && l["state"] == "resolved"
        && l["queued"].as_u64() >= Some(2)));

    // Jira still rate-limits the next requests for a second each, more of them than one call
    // waits out; the same command finishes the work on a later pass.
    jira.clear_faults();
    jira.inject(
        Fault::RateLimited {
            retry_after_secs: 1,
        },
        6,
    );
    let finished = scratch.ok(&jira, &yes);
    let stderr = String::from_utf8_lossy(&finished.stderr);
    assert!(!stderr.contains("still owe"), "{stderr}");
    for key in &keys {
        let issue = jira.snapshot(key).unwrap();
        assert_eq!(issue.category, Category::Done, "{key}: {}", issue.status);
        assert_eq!(
            closing_comments(&jira, key),
            1,
            "{key}: one closing comment"
        );
    }
    // Once more: everything is already so, nothing reaches Jira.
    jira.clear_requests();
    let repeat = scratch.ok(&jira, &yes);
    assert!(
        lines(&repeat).is_empty(),
        "no open ticket is left to select"
    );
    let writes = jira
        .requests()
        .into_iter()
        .filter(|r| r.method != "GET")
        .count();
    assert_eq!(writes, 0);

    // Every close is audited with its actor and reason.
    let listing = scratch.json(&jira, &["tickets", "--json", "--state", "resolved"]);
    let resolved = listing["tickets"].as_array().unwrap();
    assert_eq!(resolved.len(), TICKETS as usize);
    let group = resolved[0]["group"].as_str().unwrap();
    let audit = scratch.audit(group).expect("the embedded store");
    let closed: Vec<&Value> = audit
        .iter()
        .filter(|a| a["action"] == "ticket.closed" && a["actor"] == "bob")
        .collect();
    assert_eq!(closed.len(), 1, "{audit:#?}");
    assert_eq!(closed[0]["reason"], "accepted risk");
    jira.assert_no_violations();
}

/// Waits (polling the fake, no time limit of its own) until `done` holds or `child` exits, then
/// kills `child` mid-run as a crash or a closed terminal would. Returns whether it was killed
/// while still running.
fn kill_when(child: &mut Child, done: impl Fn() -> bool) -> bool {
    loop {
        if child.try_wait().expect("the run's status").is_some() {
            return false;
        }
        if done() {
            child.kill().expect("kill scantix");
            child.wait().expect("reap scantix");
            return true;
        }
        std::thread::sleep(std::time::Duration::from_millis(20));
    }
}

/// Every audit entry of the embedded store, by group key.
fn audit_by_group(scratch: &Scratch) -> Vec<(String, Value)> {
    let db = rusqlite::Connection::open(scratch.0.join("store/store.sqlite3")).expect("database");
    let mut query = db
        .prepare("SELECT group_key, doc FROM audit ORDER BY seq")
        .expect("query");
    query
        .query_map([], |row| {
            Ok((row.get::<_, String>(0)?, row.get::<_, String>(1)?))
        })
        .expect("rows")
        .map(|row| {
            let (group, doc) = row.expect("row");
            (group, serde_json::from_str(&doc).expect("JSON"))
        })
        .collect()
}

/// How many audit entries of `action` each group has, for the groups in `groups`.
fn audited_once_each(scratch: &Scratch, groups: &BTreeSet<String>, action: &str, actor: &str) {
    let mut counts: std::collections::BTreeMap<String, usize> =
        groups.iter().map(|g| (g.clone(), 0)).collect();
    for (group, entry) in audit_by_group(scratch) {
        if entry["action"] == action {
            assert_eq!(entry["actor"], actor, "{entry}");
            *counts
                .get_mut(&group)
                .expect("an audited group is selected") += 1;
        }
    }
    let wrong: Vec<_> = counts.iter().filter(|(_, n)| **n != 1).collect();
    assert!(
        wrong.is_empty(),
        "{action} audited other than once: {wrong:?}"
    );
}

/// The issue description's promise, on the real binary: 500 drafts pushed with `drafts push
/// --all`, then closed with a bulk `close`, while Jira answers 429 to every third request
/// (Retry-After 0 s, every twentieth 1 s). Each run is killed part way (`SIGKILL`: a crash, a closed
/// terminal) and run again: the second run finishes, every draft becomes exactly one issue, every
/// issue is transitioned once and commented once, and each change is audited once.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_bulk_of_500_under_a_429_storm_killed_part_way_finishes_once_per_ticket() {
    const TICKETS: u64 = 500;
    let jira = FakeJira::start(fake_jira::Flavor::Cloud).await;
    let scratch = Scratch::new("storm", "mode: draft\ngrouping:\n  code-scanning: alert\n");
    let files: Vec<String> = (1..=TICKETS).map(|n| alert_file(&scratch, n)).collect();
    for chunk in files.chunks(100) {
        let mut deliver = vec!["deliver"];
        deliver.extend(chunk.iter().map(String::as_str));
        scratch.ok(&jira, &deliver);
    }
    let drafts = scratch.json(&jira, &["drafts", "--json"]);
    let groups: BTreeSet<String> = drafts["tickets"]
        .as_array()
        .unwrap()
        .iter()
        .map(|t| t["group"].as_str().unwrap().to_owned())
        .collect();
    assert_eq!(groups.len(), TICKETS as usize);
    assert!(jira.issue_keys().is_empty());

    jira.storm(Storm {
        refused: 1,
        of: 3,
        retry_after_secs: 0,
        long_every: 20,
        latency: std::time::Duration::from_millis(2),
    });

    // The push, killed once a third of the issues exist, then run again to the end.
    let push = [
        "drafts", "push", "--all", "--yes", "--actor", "carol", "--reason", "triaged",
    ];
    let mut run = scratch.spawn(&jira, &push);
    assert!(
        kill_when(&mut run, || jira.issue_keys().len() >= 150),
        "the push ended before it was killed"
    );
    let at_kill = jira.issue_keys().len();
    assert!(at_kill < TICKETS as usize, "{at_kill} issues at the kill");
    let finished = scratch.ok(&jira, &push);
    let stderr = String::from_utf8_lossy(&finished.stderr);
    assert!(!stderr.contains("still owe"), "{stderr}");

    // One issue per draft, no more: each carries its group, no two the same.
    let keys = jira.issue_keys();
    assert_eq!(keys.len(), TICKETS as usize, "no draft pushed twice");
    let issue_groups: BTreeSet<String> = keys
        .iter()
        .map(|k| {
            let issue = jira.snapshot(k).unwrap();
            issue.properties["scantix"]["groupKey"]
                .as_str()
                .unwrap_or_else(|| panic!("{k}: {:?}", issue.properties))
                .to_owned()
        })
        .collect();
    assert_eq!(issue_groups, groups);
    assert!(
        scratch.json(&jira, &["drafts", "--json"])["tickets"]
            .as_array()
            .unwrap()
            .is_empty()
    );
    let tickets = scratch.json(&jira, &["tickets", "--json", "--state", "open"]);
    let listed: BTreeSet<&str> = tickets["tickets"]
        .as_array()
        .unwrap()
        .iter()
        .map(|t| t["key"].as_str().unwrap())
        .collect();
    assert_eq!(listed.len(), TICKETS as usize);
    assert!(listed.iter().all(|k| k.starts_with("SEC-")));
    audited_once_each(&scratch, &groups, "draft.pushed", "carol");

    // The bulk close, killed once a third are closed, then run again to the end.
    let close = [
        "tickets",
        "--state",
        "open",
        "close",
        "--reason",
        "accepted risk",
        "--yes",
        "--actor",
        "bob",
    ];
    let mut run = scratch.spawn(&jira, &close);
    assert!(
        kill_when(&mut run, || {
            jira.count_done("POST", "/issue/*/transitions") >= 150
        }),
        "the close ended before it was killed"
    );
    let finished = scratch.ok(&jira, &close);
    let stderr = String::from_utf8_lossy(&finished.stderr);
    assert!(!stderr.contains("still owe"), "{stderr}");
    for key in &keys {
        let issue = jira.snapshot(key).unwrap();
        assert_eq!(issue.category, Category::Done, "{key}: {}", issue.status);
        assert_eq!(
            closing_comments(&jira, key),
            1,
            "{key}: one closing comment"
        );
    }
    assert_eq!(
        jira.count_done("POST", "/issue/*/transitions"),
        TICKETS as usize,
        "one transition per ticket"
    );
    assert_eq!(jira.issue_keys().len(), TICKETS as usize);
    audited_once_each(&scratch, &groups, "ticket.closed", "bob");

    // The storm was one: every third request was refused.
    let requests = jira.requests().len();
    let refused = jira.rate_limited();
    assert!(
        refused * 3 >= requests - 2,
        "{refused} of {requests} refused"
    );
    jira.assert_no_violations();
}

/// Alert `number` as [`alert_file`] writes it, its rule at security severity `level`.
fn leveled_alert_file(scratch: &Scratch, number: u64, level: &str) -> String {
    let path = alert_file(scratch, number);
    let mut payload: Value = serde_json::from_slice(&std::fs::read(&path).unwrap()).unwrap();
    payload["alert"]["rule"]["security_severity_level"] = level.into();
    std::fs::write(&path, serde_json::to_vec(&payload).unwrap()).unwrap();
    path
}

/// The Jira issues not done, the overflow issue apart: (own issues, the overflow issue's summary).
fn open_issues(jira: &FakeJira) -> (Vec<String>, Option<String>) {
    let (mut own, mut overflow) = (Vec::new(), None);
    for key in jira.issue_keys() {
        let issue = jira.snapshot(&key).unwrap();
        if issue.category == Category::Done {
            continue;
        }
        if issue.summary.starts_with("Ticket budget:") {
            overflow = Some(issue.summary);
        } else {
            own.push(key);
        }
    }
    (own, overflow)
}

/// The issue's example: 30 groups under a budget of 5 make 5 issues and one overflow issue listing
/// 25. The budget in the config file grows to 8: `scantix budget rebalance` (after a `--dry-run`
/// that moves nothing) promotes 3, the overflow issue lists 22. It shrinks to 3: the 5
/// lowest-priority issues are closed into the overflow issue. Each move is audited with the actor.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn budget_rebalance_promotes_and_demotes_when_the_budget_in_the_config_file_changes() {
    let jira = FakeJira::start(fake_jira::Flavor::Cloud).await;
    let settings =
        |n: u32| format!("grouping:\n  code-scanning: alert\nbudget:\n  per-repository: {n}\n");
    let scratch = Scratch::new("budget", &settings(5));
    let set_budget = |n: u32| {
        std::fs::write(
            scratch.0.join("scantix.yml"),
            format!("policy-file: scantix.rego\n{}", settings(n)),
        )
        .unwrap()
    };
    // Highs and mediums, interleaved (the scenario's policy records lows without a ticket).
    let levels = ["high", "medium"];
    let files: Vec<String> = (1..=30u64)
        .map(|n| leveled_alert_file(&scratch, n, levels[(n % 2) as usize]))
        .collect();
    let mut deliver = vec!["deliver"];
    deliver.extend(files.iter().map(String::as_str));
    scratch.ok(&jira, &deliver);
    let (own, overflow) = open_issues(&jira);
    assert_eq!(own.len(), 5);
    let overflow = overflow.expect("the overflow issue");
    assert!(overflow.contains("25 groups waiting"), "{overflow}");

    // Nothing to do while the budget stays.
    let same = lines(&scratch.ok(&jira, &["budget", "rebalance"]));
    assert_eq!(same.len(), 1, "{same:?}");
    assert_eq!(
        (same[0]["tickets"].as_u64(), same[0]["overflow"].as_u64()),
        (Some(5), Some(25))
    );

    // The budget grows to 8: a dry run says which three would be promoted, and moves nothing.
    set_budget(8);
    let requests = jira.requests().len();
    let dry = lines(&scratch.ok(&jira, &["budget", "rebalance", "--dry-run"]));
    assert_eq!(dry[0]["promoted"].as_array().unwrap().len(), 3, "{dry:?}");
    assert_eq!(
        (dry[0]["budget_before"].as_u64(), dry[0]["budget"].as_u64()),
        (Some(5), Some(8))
    );
    assert_eq!(open_issues(&jira).0.len(), 5);
    assert!(
        jira.requests()[requests..]
            .iter()
            .all(|r| r.method == "GET")
    );

    let grown = lines(&scratch.ok(
        &jira,
        &[
            "budget",
            "rebalance",
            "--repo",
            "Codertocat/Hello-World",
            "--actor",
            "dana",
        ],
    ));
    assert_eq!(grown[0]["promoted"], dry[0]["promoted"]);
    assert_eq!(
        (grown[0]["tickets"].as_u64(), grown[0]["overflow"].as_u64()),
        (Some(8), Some(22))
    );
    let (own, overflow) = open_issues(&jira);
    assert_eq!(own.len(), 8);
    assert!(overflow.unwrap().contains("22 groups waiting"));
    for group in grown[0]["promoted"].as_array().unwrap() {
        let audit = scratch.audit(group.as_str().unwrap()).unwrap();
        let promoted: Vec<&Value> = audit
            .iter()
            .filter(|a| a["action"] == "ticket.promoted")
            .collect();
        assert_eq!(promoted.len(), 1, "{audit:#?}");
        assert_eq!(promoted[0]["actor"], "dana");
    }

    // It shrinks to 3: the five lowest in priority are demoted, the highs stay.
    set_budget(3);
    let shrunk = lines(&scratch.ok(&jira, &["budget", "rebalance", "--actor", "dana"]));
    let demoted = shrunk[0]["demoted"].as_array().unwrap();
    assert_eq!(demoted.len(), 5, "{shrunk:?}");
    assert_eq!(
        (
            shrunk[0]["tickets"].as_u64(),
            shrunk[0]["overflow"].as_u64()
        ),
        (Some(3), Some(27))
    );
    let (own, overflow) = open_issues(&jira);
    assert_eq!(own.len(), 3);
    assert!(overflow.unwrap().contains("27 groups waiting"));
    let listing = scratch.json(&jira, &["tickets", "--json", "--state", "open"]);
    let kept: Vec<&Value> = listing["tickets"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|t| !t["group"].as_str().unwrap().starts_with("overflow:"))
        .collect();
    assert_eq!(kept.len(), 3);
    assert!(kept.iter().all(|t| t["severity"] == "high"), "{kept:#?}");
    for group in demoted {
        let audit = scratch.audit(group.as_str().unwrap()).unwrap();
        let entry = audit
            .iter()
            .find(|a| a["action"] == "ticket.demoted")
            .expect("audited");
        assert_eq!(entry["actor"], "dana");
    }
    jira.assert_no_violations();
}
