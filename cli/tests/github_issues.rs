//! The local run with GitHub Issues as the tracker, as the README shows it: the real `scantix`
//! binary, `SCANTIX_TRACKER=github` and a token, delivering the bundled scenario's real payloads to
//! the fake GitHub (which checks every request against GitHub's REST description).
//!
//! Alert 10 gets one issue; a redelivery and pull request 11's fix on its merge ref leave it as it
//! is; the fix on the branch after the merge labels it stale.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    reason = "test code: a failed assumption is the test failing"
)]

use scantix_tests::fake_github::{FakeGitHub, FakeIssue, PLAIN_TOKEN};
use std::path::{Path, PathBuf};
use std::process::Command;

const OWNER: &str = "Codertocat";
const REPO: &str = "Hello-World";

fn scenario_file(prefix: &str) -> PathBuf {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("../events/github/scenario");
    std::fs::read_dir(&dir)
        .expect("the scenario folder")
        .map(|entry| entry.expect("an entry").path())
        .find(|p| {
            p.file_name()
                .is_some_and(|n| n.to_string_lossy().starts_with(prefix))
        })
        .unwrap_or_else(|| panic!("no scenario file {prefix}-*"))
}

/// `scantix --store <store> deliver <file>` against `fake`, with nothing else of the caller's
/// environment that scantix reads.
fn deliver(store: &Path, fake: &FakeGitHub, file: &Path) {
    let mut command = Command::new(env!("CARGO_BIN_EXE_scantix"));
    command
        .arg("--store")
        .arg(store)
        .arg("deliver")
        .arg(file)
        .env("RUST_LOG", "error")
        // The scenario's settings, as the README's examples pass them.
        .env(
            "SCANTIX_CONFIG",
            Path::new(env!("CARGO_MANIFEST_DIR")).join("../events/github/scantix.yml"),
        )
        .env("SCANTIX_TRACKER", "github")
        .env("GITHUB_TOKEN", PLAIN_TOKEN)
        .env("GITHUB_API_URL", fake.base_url());
    for var in [
        "SCANTIX_STORE",
        "SCANTIX_GITHUB_ISSUES_REPO",
        "SCANTIX_WEBHOOK_SECRET",
        "GITHUB_APP_ID",
        "GITHUB_APP_PRIVATE_KEY",
    ] {
        command.env_remove(var);
    }
    let output = command.output().expect("run scantix");
    assert!(
        output.status.success(),
        "{}: {}\n{}",
        file.display(),
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    );
}

fn only_issue(fake: &FakeGitHub) -> FakeIssue {
    let issues = fake.issues(OWNER, REPO);
    assert_eq!(issues.len(), 1, "{issues:#?}");
    issues.into_iter().next().unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_local_run_keeps_one_github_issue_through_a_pull_request_and_its_merge() {
    let fake = FakeGitHub::start().await;
    let dir = std::env::temp_dir().join(format!("scantix-cli-issues-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    let store = dir.join("store.json");

    deliver(&store, &fake, &scenario_file("02"));
    let created = only_issue(&fake);
    assert_eq!(created.state, "open");
    assert_eq!(
        created.title,
        "Query built from user-controlled sources in \
         `src/main/java/com/github/demo/service/BookService.java` (1 alert)"
    );
    for label in ["scantix", "severity:high"] {
        assert!(
            created.labels.iter().any(|l| l == label),
            "{label}: {:?}",
            created.labels
        );
    }
    // The group key rides in a hidden marker, alert text is escaped.
    let body = created.body.clone().unwrap_or_default();
    assert!(body.contains("<!-- scantix:group="), "{body}");

    // A redelivery, then pull request 11's analysis showing alert 10 fixed on its merge ref.
    deliver(&store, &fake, &scenario_file("02"));
    deliver(&store, &fake, &scenario_file("07"));
    let unchanged = only_issue(&fake);
    assert_eq!(
        (unchanged.state.as_str(), unchanged.labels.clone()),
        (created.state.as_str(), created.labels.clone())
    );

    // Merged: alert 10 fixed on the branch. Its only alert is closed: the issue is labelled stale.
    deliver(&store, &fake, &scenario_file("08"));
    let stale = only_issue(&fake);
    assert!(
        stale.labels.iter().any(|l| l == "scantix-stale"),
        "{:?}",
        stale.labels
    );
    let comments = fake.comments(OWNER, REPO, stale.number);
    assert!(
        comments.iter().any(|c| c.body.contains("Marked stale")),
        "{comments:#?}"
    );
    fake.assert_no_violations();
    let _ = std::fs::remove_dir_all(&dir);
}
