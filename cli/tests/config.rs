//! `--config`: a local run judges alerts by the same Rego policy path as a deployment. Without a
//! settings file, the bundled policy decides (as for a repository without `.github/scantix.yml`);
//! with one, its policy (inline or `policy-file`), grouping, owners and `codeowners` do. The real
//! binary, on the bundled scenario's real deliveries; a file it cannot use stops it before it
//! delivers anything.
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

/// A temporary folder for one test's store and settings, removed when the test ends.
struct Scratch(PathBuf);

impl Scratch {
    fn new(test: &str) -> Scratch {
        static COUNTER: AtomicUsize = AtomicUsize::new(0);
        let dir = std::env::temp_dir().join(format!(
            "scantix-cli-config-{test}-{}-{}",
            std::process::id(),
            COUNTER.fetch_add(1, Ordering::Relaxed)
        ));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).expect("temporary folder");
        Scratch(dir)
    }

    fn path(&self, name: &str) -> PathBuf {
        self.0.join(name)
    }

    fn file(&self, name: &str, contents: &str) -> PathBuf {
        let path = self.path(name);
        if let Some(dir) = path.parent() {
            std::fs::create_dir_all(dir).expect("a folder for the file");
        }
        std::fs::write(&path, contents).expect("write a file");
        path
    }

    /// `scantix --store <store> <args>`, with none of the caller's settings.
    fn scantix(&self, args: &[&str]) -> Output {
        let mut command = Command::new(env!("CARGO_BIN_EXE_scantix"));
        command
            .arg("--store")
            .arg(self.path("store.json"))
            .args(args)
            .env("RUST_LOG", "error");
        for var in [
            "SCANTIX_STORE",
            "SCANTIX_CONFIG",
            "SCANTIX_WEBHOOK_SECRET",
            "SCANTIX_TRACKER",
            "JIRA_SETTINGS",
            "JIRA_URL",
        ] {
            command.env_remove(var);
        }
        command.output().expect("run scantix")
    }

    /// The store's records, read from its database: what the settings decided, beyond what
    /// `tickets` shows. `{"audit": [entries], "findings": [records]}`.
    fn store(&self) -> Value {
        let db = rusqlite::Connection::open(
            self.path("store.json")
                .with_file_name(scantix_wiring::local::SQLITE_DATABASE_FILE),
        )
        .expect("open the store's database");
        let docs = |table: &str| -> Vec<Value> {
            let mut query = db
                .prepare(&format!("SELECT doc FROM {table}"))
                .expect("a table of the store");
            query
                .query_map([], |row| row.get::<_, String>(0))
                .expect("read the table")
                .map(|doc| serde_json::from_str(&doc.expect("a row")).expect("JSON"))
                .collect()
        };
        serde_json::json!({ "audit": docs("audit"), "findings": docs("findings") })
    }
}

impl Drop for Scratch {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

fn scenario_file(prefix: &str) -> String {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("../events/github/scenario");
    std::fs::read_dir(&dir)
        .expect("the scenario folder")
        .map(|entry| entry.expect("a scenario entry").path())
        .find(|f| {
            f.file_name()
                .is_some_and(|n| n.to_string_lossy().starts_with(&format!("{prefix}-")))
        })
        .unwrap_or_else(|| panic!("no scenario file {prefix}-*"))
        .to_string_lossy()
        .into_owned()
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

/// The action names each file's lines carry, in order, keyed by the file's number prefix.
fn actions_by_file(output: &Output) -> Vec<(String, Vec<String>)> {
    let mut by_file: Vec<(String, Vec<String>)> = Vec::new();
    for line in String::from_utf8_lossy(&output.stdout).lines() {
        let line: Value = serde_json::from_str(line).unwrap_or_else(|e| panic!("{e}: {line}"));
        let file = line["file"].as_str().unwrap_or_default();
        let prefix = Path::new(file)
            .file_name()
            .map(|n| n.to_string_lossy()[..2].to_owned())
            .unwrap_or_default();
        let action = line["action"]["action"].as_str().unwrap_or("-").to_owned();
        match by_file.last_mut() {
            Some((last, actions)) if *last == prefix => actions.push(action),
            _ => by_file.push((prefix, vec![action])),
        }
    }
    by_file
}

fn expected(pairs: &[(&str, &[&str])]) -> Vec<(String, Vec<String>)> {
    pairs
        .iter()
        .map(|(file, actions)| {
            (
                (*file).to_owned(),
                actions.iter().map(|a| (*a).to_owned()).collect(),
            )
        })
        .collect()
}

/// The group records of the saved store, by group key.
#[test]
fn without_config_the_bundled_policy_decides_as_it_does_deployed() {
    let scratch = Scratch::new("bundled");
    // Alert 10 is on `code-feature`, not on Hello-World's default branch `master`; the bundled
    // policy records such alerts. A leaked secret it tickets wherever it is.
    let output = scratch.scantix(&["deliver", &scenario_file("02"), &scenario_file("13")]);

    assert_success(&output);
    assert_eq!(
        actions_by_file(&output),
        expected(&[("02", &["record"]), ("13", &["create_ticket"])])
    );
    let store = scratch.store();
    let reasons: Vec<&str> = store["audit"]
        .as_array()
        .expect("audit")
        .iter()
        .filter(|e| e["action"] == "finding.triaged")
        .filter_map(|e| e["reason"].as_str())
        .collect();
    assert!(
        reasons
            .iter()
            .any(|r| r
                .contains("recorded: alert on branch code-feature, not the default branch master")),
        "the bundled policy's own reason is in the audit trail: {reasons:?}"
    );
    assert!(
        reasons
            .iter()
            .any(|r| r.contains("ticketed: exposed secret (adafruit_io_key)")),
        "{reasons:?}"
    );
}

#[test]
fn a_config_file_applies_its_policy_file_grouping_owners_and_codeowners() {
    let scratch = Scratch::new("file");
    // The opposite of the bundled policy, to be sure it is this one deciding: code scanning
    // alerts ticketed on any branch, secrets only recorded.
    scratch.file(
        "settings/rules/triage.rego",
        "package scantix\n\nimport rego.v1\n\n\
         decision := {\"triage\": \"record\", \"reason\": \"recorded: secrets go to the vault team\"} if {\n\
         \tinput.finding.kind == \"secret_scanning\"\n\
         } else := {\"triage\": \"ticket\", \"reason\": \"ticketed: every code scanning alert\"}\n",
    );
    scratch.file(
        "settings/CODEOWNERS",
        "# Books\n/src/main/java/com/github/demo/service/ @acme/books\n",
    );
    let config = scratch.file(
        "settings/scantix.yml",
        "# Paths are relative to this file.\n\
         grouping:\n  code-scanning: alert\n\
         policy-file: rules/triage.rego\n\
         codeowners: CODEOWNERS\n\
         owners:\n  \"@acme/books\": 5b10ac8d82e05b22cc7d4ef5\n",
    );
    let config = config.to_string_lossy();

    // `--config` after the subcommand: a global option.
    let output = scratch.scantix(&[
        "deliver",
        "--config",
        &config,
        &scenario_file("02"),
        &scenario_file("04"),
        &scenario_file("13"),
    ]);

    assert_success(&output);
    // One ticket per alert (grouping), the secret recorded (policy).
    assert_eq!(
        actions_by_file(&output),
        expected(&[
            ("02", &["create_ticket"]),
            ("04", &["create_ticket"]),
            ("13", &["record"]),
        ])
    );
    let store = scratch.store();
    let owners: Vec<(String, Option<&str>)> = store["findings"]
        .as_array()
        .expect("findings")
        .iter()
        .map(|f| {
            (
                f["fingerprint"].as_str().unwrap_or_default().to_owned(),
                f["owner"].as_str(),
            )
        })
        .collect();
    assert!(
        owners.contains(&(
            "337911632/code-scanning/10".into(),
            Some("5b10ac8d82e05b22cc7d4ef5")
        )),
        "CODEOWNERS and the owners map assign the alert: {owners:?}"
    );
    assert!(
        owners.contains(&("257423561/secret-scanning/191".into(), None)),
        "{owners:?}"
    );
}

#[test]
fn an_inline_policy_decides_too() {
    let scratch = Scratch::new("inline");
    let config = scratch.file(
        "scantix.yml",
        "policy: |\n  package scantix\n\n  import rego.v1\n\n  \
         decision := {\"triage\": \"record\", \"reason\": \"recorded: filed by hand here\"}\n",
    );

    let output = scratch.scantix(&[
        "--config",
        &config.to_string_lossy(),
        "deliver",
        &scenario_file("13"),
    ]);

    assert_success(&output);
    assert_eq!(actions_by_file(&output), expected(&[("13", &["record"])]));
}

#[test]
fn a_config_that_cannot_be_used_stops_the_command_before_anything_is_delivered() {
    let scratch = Scratch::new("broken");
    let typo = scratch.file("typo.yml", "grouping:\n  code-scaning: alert\n");
    let no_policy = scratch.file("no-policy.yml", "policy-file: missing.rego\n");
    let bad_rego = scratch.file(
        "bad-rego.yml",
        "sla:\n  high: 30\npolicy: |\n  package scantix\n  decision := {\n",
    );
    let missing = scratch.path("nowhere.yml");
    let cases = [
        (
            typo.clone(),
            vec!["line 2", "did you mean `code-scanning`?"],
        ),
        (no_policy, vec!["policy-file: missing.rego", "missing.rego"]),
        (bad_rego, vec!["does not compile"]),
        (missing.clone(), vec!["nowhere.yml"]),
    ];
    for (config, said) in cases {
        let output = scratch.scantix(&[
            "--config",
            &config.to_string_lossy(),
            "deliver",
            &scenario_file("13"),
        ]);
        let stderr = String::from_utf8_lossy(&output.stderr);
        assert!(!output.status.success(), "{}: {stderr}", config.display());
        assert!(
            stderr.contains(&*config.to_string_lossy()),
            "names the file: {stderr}"
        );
        for words in said {
            assert!(stderr.contains(words), "{words:?} in {stderr}");
        }
        assert!(output.stdout.is_empty(), "nothing delivered");
        assert!(
            !scratch
                .path(scantix_wiring::local::SQLITE_DATABASE_FILE)
                .exists(),
            "the store is not even opened"
        );
    }
}

/// The scenario's settings (`events/github/scantix.yml`, used by the demo, the README and
/// the CLI tests) are the bundled policy plus one rule: checked, so the two cannot drift apart.
#[test]
fn the_scenario_policy_is_the_bundled_policy_plus_one_rule() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("..");
    let read = |path: &str| {
        std::fs::read_to_string(root.join(path)).unwrap_or_else(|e| panic!("{path}: {e}"))
    };
    let scenario = read("events/github/scantix.rego");
    let added = scenario
        .strip_prefix(&read("shared/adapters/policy/src/default.rego"))
        .expect("the scenario's policy starts with the bundled one, unchanged (copy it again)");
    let rules: Vec<&str> = added
        .lines()
        .filter(|l| !l.trim().is_empty() && !l.starts_with('#'))
        .collect();
    assert_eq!(
        rules,
        ["on_default_branch if finding.git_ref == \"refs/heads/code-feature\""]
    );
    assert!(read("events/github/scantix.yml").contains("\npolicy-file: scantix.rego\n"));
}
