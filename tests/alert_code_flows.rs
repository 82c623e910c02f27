//! Source → sink for GitHub's own code scanning alerts, end to end: a real `code_scanning_alert`
//! delivery (octokit's `created` example, its rule and location moved onto a result of the real
//! CodeQL SARIF below) through the webhook handler; scantix, founding the alert's ticket, reads
//! the analysis' SARIF from the fake GitHub (every request checked against GitHub's REST
//! description, the analyses operations included) through the REST adapter, once per new group;
//! tickets kept by the draft tracker.
//!
//! The SARIF is CodeQL's of `sett-and-hive/sarif-to-comment-action`
//! (`../shared/fixtures/sarif/codeql`, MIT): two `js/xss` results, in `examples/Xss.js` and
//! `examples/Xss2.js`, each with an eight-step code flow.

use github_webhook::handle;
use scantix_app::execute::Executor;
use scantix_app::ingest::GithubIngest;
use scantix_core::memory::draft_tracker::DraftTracker;
use scantix_core::memory::store::MemoryStore;
use scantix_core::ports::store::Store;
use scantix_core::records::GroupRecord;
use scantix_core::secret::Secret;
use scantix_github::rest::{RestAuth, RestGitHub};
use scantix_tests::fake_github::{FakeGitHub, Fault, PLAIN_TOKEN};
use scantix_tests::webhooks::{SECRET, delivery_request, fixture_path, octokit, varied};
use serde_json::{Value, json};
use std::sync::Arc;

const OWNER: &str = "Codertocat";
const NAME: &str = "Hello-World";
/// The ref and commit of octokit's `created` example.
const REF: &str = "refs/heads/code-feature";
const SHA: &str = "788437584c2522f27feab10d8e631bab3e9e783a";
const ANALYSES: &str = "/repos/Codertocat/Hello-World/code-scanning/analyses";
const ANALYSIS: &str = "/repos/Codertocat/Hello-World/code-scanning/analyses/*";

struct World {
    fake: FakeGitHub,
    store: Arc<MemoryStore>,
    executor: Arc<Executor>,
    ingest: GithubIngest,
}

async fn world() -> World {
    let fake = FakeGitHub::start().await;
    let github = RestGitHub::new(&fake.base_url(), RestAuth::Token(Secret::new(PLAIN_TOKEN)))
        .expect("a client of the fake GitHub");
    let store = Arc::new(MemoryStore::new());
    let executor = Arc::new(
        Executor::new(
            store.clone(),
            Arc::new(DraftTracker::new()),
            scantix_core::config::Config::default(),
        )
        .with_github(Arc::new(github)),
    );
    let ingest = GithubIngest::new(Secret::new(SECRET), executor.clone());
    World {
        fake,
        store,
        executor,
        ingest,
    }
}

fn codeql_sarif() -> Value {
    let path = fixture_path("sarif/codeql/sett-and-hive-sarif-to-comment-action.codeql.sarif");
    serde_json::from_slice(&std::fs::read(&path).expect("the fixture")).expect("JSON")
}

/// Octokit's `code_scanning_alert.created`, as alert `number` of `rule` at `path`, line 4.
fn alert(number: u64, rule: &str, path: &str) -> Vec<u8> {
    varied(
        &octokit("code_scanning_alert/created.payload.json"),
        &[
            ("alert.number", json!(number)),
            ("alert.rule.id", json!(rule)),
            ("alert.instances.0.location.path", json!(path)),
            ("alert.instances.0.location.start_line", json!(4)),
            ("alert.instances.0.location.end_line", json!(4)),
        ],
    )
}

impl World {
    async fn send(&self, delivery: &str, body: &[u8]) {
        let response = handle(
            &self.ingest,
            delivery_request("code_scanning_alert", delivery, body, None),
        )
        .await
        .expect("the handler never errors");
        assert_eq!(response.status().as_u16(), 200, "{delivery}");
    }

    /// The group of rule `rule`, as stored.
    async fn group_of(&self, rule: &str) -> GroupRecord {
        let groups = self.store.all_groups(None, 100).await.expect("groups");
        groups
            .items
            .into_iter()
            .map(|g| g.value)
            .find(|g| g.key.as_str().ends_with(&format!(":{rule}")))
            .unwrap_or_else(|| panic!("a group for {rule}"))
    }

    /// The flows of `rule`'s ticket, as rendered.
    async fn flows(&self, rule: &str) -> Vec<String> {
        let group = self.group_of(rule).await;
        assert!(group.has_or_awaits_ticket(), "{rule} is ticketed");
        let content = self.executor.render(&group).await.expect("rendered");
        content
            .findings
            .iter()
            .filter_map(|f| f.flow.clone())
            .collect()
    }

    fn reads(&self) -> (usize, usize) {
        (
            self.fake.count("GET", ANALYSES),
            self.fake.count("GET", ANALYSIS),
        )
    }
}

#[tokio::test]
async fn a_new_code_scanning_ticket_shows_source_to_sink_from_the_analysis_sarif_read_once() {
    let world = world().await;
    world
        .fake
        .add_analysis(OWNER, NAME, REF, SHA, "CodeQL", codeql_sarif());

    world
        .send("d-1", &alert(21, "js/xss", "examples/Xss2.js"))
        .await;
    assert_eq!(world.reads(), (1, 1), "one listing, one SARIF read");
    let flows = world.flows("js/xss").await;
    assert_eq!(flows.len(), 1, "{flows:?}");
    assert!(flows[0].contains(" → "), "{flows:?}");
    assert!(
        flows[0].starts_with("examples/Xss2.js:") && !flows[0].contains("examples/Xss.js"),
        "the alert's own result, not its twin in Xss.js: {flows:?}"
    );
    let rendered = scantix_core::ticket::markdown::render(
        &world
            .executor
            .render(&world.group_of("js/xss").await)
            .await
            .expect("rendered"),
    );
    assert!(rendered.contains(&flows[0]), "{rendered}");

    // The second alert of the rule joins the group: no second read.
    world
        .send("d-2", &alert(22, "js/xss", "examples/Xss.js"))
        .await;
    assert_eq!(world.reads(), (1, 1), "at most once per new group");
    // A redelivery decides nothing, and reads nothing.
    world
        .send("d-1", &alert(21, "js/xss", "examples/Xss2.js"))
        .await;
    assert_eq!(world.reads(), (1, 1));
    assert!(
        world.fake.violations().is_empty(),
        "{:?}",
        world.fake.violations()
    );
}

#[tokio::test]
async fn without_the_analysis_sarif_the_ticket_goes_without_a_flow_and_the_alert_is_applied() {
    let world = world().await;
    // No analysis of the alert's commit: the listing has only another commit's.
    world
        .fake
        .add_analysis(OWNER, NAME, REF, &"0".repeat(40), "CodeQL", codeql_sarif());
    world
        .send("d-1", &alert(21, "js/xss", "examples/Xss2.js"))
        .await;
    assert_eq!(world.reads(), (1, 0), "listed, nothing to read");
    assert!(world.flows("js/xss").await.is_empty());

    // GitHub failing on the SARIF read (every retry): a ticket all the same, without a flow.
    world
        .fake
        .add_analysis(OWNER, NAME, REF, SHA, "CodeQL", codeql_sarif());
    world
        .fake
        .inject_on("GET", ANALYSIS, None, Fault::Status(502), 10);
    world
        .send("d-2", &alert(31, "js/code-injection", "examples/Xss.js"))
        .await;
    assert_eq!(world.reads().0, 2);
    assert!(world.reads().1 >= 1);
    assert!(world.flows("js/code-injection").await.is_empty());

    // A SARIF whose results are not the alert's: no flow either.
    world
        .send("d-3", &alert(41, "js/sql-injection", "examples/Xss.js"))
        .await;
    assert!(world.flows("js/sql-injection").await.is_empty());
    assert!(
        world.fake.violations().is_empty(),
        "{:?}",
        world.fake.violations()
    );
}
