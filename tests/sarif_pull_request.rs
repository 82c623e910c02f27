//! SARIF analyses of a pull request's ref, end to end: real scanner outputs
//! (`tests/fixtures/sarif/generated`, Bandit 1.9.4 and Semgrep 1.185.0 on the same insecure
//! `app.py`) applied through `apply_analysis` and the executor, scantix talking to the fake GitHub
//! (every request checked against GitHub's REST description) through the REST adapter, tickets
//! kept by the draft tracker. Analyses on a pull request's ref are never ticketed: the pull
//! request's one summary comment lists them, and is edited in place as later analyses change.

use scantix_app::analysis::{AnalysisTarget, SarifFile, apply_analysis};
use scantix_app::execute::Executor;
use scantix_app::repo_settings::RepoSettings;
use scantix_core::decide::Action;
use scantix_core::finding::{AlertKind, Repository};
use scantix_core::memory::draft_tracker::DraftTracker;
use scantix_core::memory::store::MemoryStore;
use scantix_core::ports::store::Store;
use scantix_core::secret::Secret;
use scantix_github::rest::{RestAuth, RestGitHub};
use scantix_tests::fake_github::{FakeComment, FakeGitHub, PLAIN_TOKEN};
use serde_json::Value;
use std::sync::Arc;

const OWNER: &str = "acme";
const NAME: &str = "shop";
const REPO_ID: u64 = 4242;
const PR: u64 = 7;
const PR_REF: &str = "refs/pull/7/merge";
const MARKER: &str = "<!-- scantix:pr-summary -->";

fn fixture(name: &str) -> Vec<u8> {
    let path = std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("fixtures/sarif/generated")
        .join(name);
    std::fs::read(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()))
}

/// Semgrep's real output without its result for `rule`: the same scan after that fix.
fn semgrep_without(rule: &str) -> Vec<u8> {
    let mut sarif: Value =
        serde_json::from_slice(&fixture("semgrep-1.185.0.sarif")).expect("the fixture is JSON");
    let results = sarif["runs"][0]["results"].as_array_mut().expect("results");
    let before = results.len();
    results.retain(|r| !r["ruleId"].as_str().is_some_and(|id| id.ends_with(rule)));
    assert_eq!(results.len(), before - 1, "one result of {rule}");
    serde_json::to_vec(&sarif).expect("JSON")
}

/// Semgrep OSS 1.69.0's real output (77 results, `../shared/fixtures`) copied `copies` times,
/// each copy's files under `copyN/` and its fingerprints suffixed: that many distinct findings.
fn semgrep_copies(copies: usize) -> Vec<u8> {
    let path = scantix_tests::webhooks::fixture_path(
        "sarif/semgrep/defectdojo.semgrep-oss-1.69.0.issue_10191.sarif",
    );
    let mut sarif: Value =
        serde_json::from_slice(&std::fs::read(&path).expect("the fixture")).expect("JSON");
    let results = sarif["runs"][0]["results"]
        .as_array()
        .expect("results")
        .clone();
    let mut copied = Vec::new();
    for n in 0..copies {
        for result in &results {
            let mut result = result.clone();
            for location in result["locations"].as_array_mut().into_iter().flatten() {
                let uri = &mut location["physicalLocation"]["artifactLocation"]["uri"];
                *uri = Value::String(format!("copy{n}/{}", uri.as_str().expect("a uri")));
            }
            for print in result["fingerprints"].as_object_mut().into_iter().flatten() {
                *print.1 = Value::String(format!("{}-copy{n}", print.1.as_str().expect("text")));
            }
            copied.push(result);
        }
    }
    sarif["runs"][0]["results"] = Value::Array(copied);
    serde_json::to_vec(&sarif).expect("JSON")
}

struct World {
    fake: FakeGitHub,
    store: Arc<MemoryStore>,
    executor: Executor,
}

async fn world() -> World {
    let fake = FakeGitHub::start().await;
    let github = RestGitHub::new(&fake.base_url(), RestAuth::Token(Secret::new(PLAIN_TOKEN)))
        .expect("a client of the fake GitHub");
    let store = Arc::new(MemoryStore::new());
    let executor = Executor::new(
        store.clone(),
        Arc::new(DraftTracker::new()),
        scantix_core::config::Config::default(),
    )
    .with_github(Arc::new(github));
    World {
        fake,
        store,
        executor,
    }
}

impl World {
    /// Applies `files` as one analysis of `git_ref`; returns the actions decided.
    async fn apply(&self, git_ref: &str, files: Vec<(&str, Vec<u8>)>) -> Vec<Action> {
        let target = AnalysisTarget {
            repository: Repository {
                id: REPO_ID,
                full_name: format!("{OWNER}/{NAME}"),
                default_branch: Some("main".into()),
                html_url: Some(format!("https://github.com/{OWNER}/{NAME}")),
            },
            git_ref: Some(git_ref.into()),
            commit_sha: Some("c0ffee".into()),
            category: None,
            installation_id: None,
        };
        let files = files
            .into_iter()
            .map(|(name, bytes)| SarifFile::from_bytes(name, bytes))
            .collect();
        let mut actions = Vec::new();
        apply_analysis(
            &self.executor,
            &RepoSettings::defaults(),
            &target,
            files,
            |a| actions.push(a.clone()),
        )
        .await
        .expect("applied");
        actions
    }

    fn posts(&self) -> usize {
        self.fake.count(
            "POST",
            &format!("/repos/{OWNER}/{NAME}/issues/{PR}/comments"),
        )
    }

    fn edits(&self) -> usize {
        self.fake
            .count("PATCH", &format!("/repos/{OWNER}/{NAME}/issues/comments/*"))
    }

    /// The one summary comment as GitHub shows it.
    fn summary(&self) -> String {
        let ours: Vec<FakeComment> = self
            .fake
            .comments(OWNER, NAME, PR)
            .into_iter()
            .filter(|c| c.body.contains(MARKER))
            .collect();
        assert_eq!(ours.len(), 1, "one summary comment: {ours:#?}");
        ours[0].body.clone()
    }

    /// Tickets made or queued for findings of `tool`.
    async fn tickets_of(&self, tool: &str) -> usize {
        let groups = self.store.all_groups(None, 1000).await.expect("groups");
        groups
            .items
            .iter()
            .filter(|g| g.value.kind == AlertKind::Sarif && g.value.has_or_awaits_ticket())
            .filter(|g| g.value.key.as_str().contains(&format!(":{tool}:")))
            .count()
    }
}

#[tokio::test]
async fn a_pull_requests_sarif_analysis_is_listed_in_its_one_comment_never_ticketed_and_edited_as_results_go()
 {
    let world = world().await;
    // The default branch: Bandit's findings, ticketed.
    world
        .apply(
            "refs/heads/main",
            vec![("bandit.sarif", fixture("bandit-1.9.4.sarif"))],
        )
        .await;
    let bandit_tickets = world.tickets_of("Bandit").await;
    assert!(bandit_tickets > 0, "Bandit's findings on main are ticketed");
    assert_eq!(world.posts(), 0, "no pull request yet, no comment");

    // The pull request: Semgrep finds four things; Bandit, run on the fixed code, nothing.
    let actions = world
        .apply(
            PR_REF,
            vec![
                ("semgrep.sarif", fixture("semgrep-1.185.0.sarif")),
                ("bandit.sarif", fixture("bandit-1.9.4.clean.sarif")),
            ],
        )
        .await;
    assert!(
        actions.iter().any(|a| matches!(
            a,
            Action::PullRequestSummary {
                pull_request: PR,
                ..
            }
        )),
        "{actions:#?}"
    );
    assert_eq!(world.tickets_of("Semgrep OSS").await, 0, "never ticketed");
    assert_eq!(world.tickets_of("Bandit").await, bandit_tickets);
    assert_eq!((world.posts(), world.edits()), (1, 0));
    let body = world.summary();
    assert!(body.contains("**4 new alerts**"), "{body}");
    for rule in [
        "flask-command-injection",
        "flask-sql-injection",
        "python-eval",
        "insecure-md5",
    ] {
        let line = body
            .lines()
            .find(|l| l.contains(rule))
            .unwrap_or_else(|| panic!("{rule} listed: {body}"));
        assert!(line.contains("— Semgrep OSS"), "{line}");
        assert!(line.contains("app.py:"), "{line}");
        assert!(line.starts_with("- **"), "severity first: {line}");
    }
    assert!(body.contains("` app.py:25 `"), "{body}");
    // Bandit's main-branch findings are gone on the pull request: their tickets would resolve.
    assert!(body.contains("Would resolve"), "{body}");
    assert!(body.contains("Bandit at ` app.py:"), "{body}");

    // The same analysis again: nothing new to say, nothing sent.
    world
        .apply(
            PR_REF,
            vec![
                ("semgrep.sarif", fixture("semgrep-1.185.0.sarif")),
                ("bandit.sarif", fixture("bandit-1.9.4.clean.sarif")),
            ],
        )
        .await;
    assert_eq!((world.posts(), world.edits()), (1, 0));

    // A later push fixes the eval: Semgrep's next analysis of the pull request lacks it, and the
    // comment is edited in place without it.
    world
        .apply(
            PR_REF,
            vec![("semgrep.sarif", semgrep_without("python-eval"))],
        )
        .await;
    assert_eq!((world.posts(), world.edits()), (1, 1));
    let body = world.summary();
    assert!(!body.contains("python-eval"), "{body}");
    assert!(body.contains("**3 new alerts**"), "{body}");
    assert!(
        body.contains("Would resolve"),
        "Bandit's analysis still stands: {body}"
    );
    assert_eq!(world.tickets_of("Semgrep OSS").await, 0);
    assert!(
        world.fake.violations().is_empty(),
        "{:?}",
        world.fake.violations()
    );
}

#[tokio::test]
async fn a_pull_request_introducing_more_than_the_comment_lists_says_how_many_and_where_the_rest_are()
 {
    let world = world().await;
    // 3 × 77 = 231 findings introduced by one Semgrep analysis of the pull request: more than a
    // refresh reads (200) and than the comment lists (50).
    world
        .apply(PR_REF, vec![("semgrep.sarif", semgrep_copies(3))])
        .await;
    assert_eq!(world.tickets_of("Semgrep OSS").await, 0, "never ticketed");
    assert_eq!(world.posts(), 1);
    let body = world.summary();
    assert!(body.contains("**231 new alerts**"), "{body}");
    let listed = body
        .lines()
        .filter(|l| l.starts_with("- **") && l.contains("— Semgrep OSS"))
        .count();
    assert_eq!(listed, 50, "{body}");
    assert!(
        body.contains(
            "- … and 181 more not listed here (181 Semgrep OSS): see [the checks of this pull \
             request, where the scanners ran](<https://github.com/acme/shop/pull/7/checks>)\n"
        ),
        "{body}"
    );
    assert!(
        world.fake.violations().is_empty(),
        "{:?}",
        world.fake.violations()
    );
}
