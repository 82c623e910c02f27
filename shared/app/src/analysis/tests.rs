//! `apply_analysis` through the executor, on the in-memory store and tracker, with real SARIF:
//! Semgrep 1.69's output of DefectDojo's test data (77 results), copied eight times over with
//! each copy's paths moved to a directory of its own (so 616 distinct findings: more than two
//! batches), then a later scan without half the copies.

use super::*;
use scantix_core::memory::store::MemoryStore;
use scantix_core::memory::tracker::MemoryTracker;
use scantix_core::ports::store::Store;
use serde_json::Value;

const COPIES: usize = 8;

/// The real file, its results repeated `copies` times under `copy<n>/` paths.
fn semgrep_copies(copies: usize) -> Vec<u8> {
    let path = concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../../../shared/fixtures/sarif/semgrep/defectdojo.semgrep-oss-1.69.0.issue_10191.sarif"
    );
    let mut sarif: Value = serde_json::from_slice(&std::fs::read(path).expect("the fixture"))
        .expect("the fixture is JSON");
    let results = sarif["runs"][0]["results"]
        .as_array()
        .expect("results")
        .clone();
    assert_eq!(results.len(), 77);
    let mut copied = Vec::new();
    for n in 0..copies {
        for result in &results {
            let mut result = result.clone();
            for location in result["locations"].as_array_mut().into_iter().flatten() {
                let uri = &mut location["physicalLocation"]["artifactLocation"]["uri"];
                *uri = Value::String(format!("copy{n}/{}", uri.as_str().expect("a uri")));
            }
            copied.push(result);
        }
    }
    sarif["runs"][0]["results"] = Value::Array(copied);
    serde_json::to_vec(&sarif).expect("JSON")
}

fn target() -> AnalysisTarget {
    AnalysisTarget {
        repository: Repository {
            id: 42,
            full_name: "acme/shop".into(),
            default_branch: Some("main".into()),
            html_url: None,
        },
        git_ref: None,
        commit_sha: Some("c0ffee".into()),
        category: None,
        installation_id: None,
    }
}

fn file(bytes: Vec<u8>) -> Vec<SarifFile> {
    vec![SarifFile::from_bytes("semgrep.sarif", bytes)]
}

#[tokio::test]
async fn many_batches_apply_once_then_nothing_then_the_missing_half_is_fixed() {
    let store = Arc::new(MemoryStore::new());
    let tracker = Arc::new(MemoryTracker::new());
    let executor = Executor::new(
        store.clone(),
        tracker.clone(),
        scantix_core::config::Config::default(),
    );
    let settings = RepoSettings::defaults();
    let full = semgrep_copies(COPIES);

    let mut actions = Vec::new();
    let report = apply_analysis(&executor, &settings, &target(), file(full.clone()), |a| {
        actions.push(a.clone())
    })
    .await
    .expect("applied");
    assert_eq!(report.git_ref, "refs/heads/main");
    let summary = &report.analyses[0];
    assert_eq!(
        (summary.tool.as_str(), summary.complete),
        ("Semgrep OSS", true)
    );
    assert!(summary.open > 2 * BATCH, "{summary:?}");
    let key = AnalysisKey {
        repository_id: 42,
        tool: "Semgrep OSS".into(),
        category: String::new(),
        git_ref: "refs/heads/main".into(),
    };
    let listed = store
        .analysis_findings(&key.id(), None, 10_000)
        .await
        .expect("the list");
    assert_eq!(listed.items.len(), summary.open);
    // Tickets were made in the tracker for the groups the policy tickets.
    let created = actions
        .iter()
        .filter(|a| matches!(a, Action::CreateTicket { .. }))
        .count();
    assert!(created > 0);
    assert_eq!(tracker.all().len(), created);

    // The same analysis again: nothing written.
    let again = apply_analysis(&executor, &settings, &target(), file(full), |_| {})
        .await
        .expect("applied");
    assert_eq!(again.writes, 0);
    assert_eq!(again.analyses[0].fixed, 0);

    // A later scan of half the copies: the other half is fixed.
    let half = semgrep_copies(COPIES / 2);
    let later = apply_analysis(&executor, &settings, &target(), file(half), |_| {})
        .await
        .expect("applied");
    assert_eq!(
        later.analyses[0].fixed,
        summary.open - later.analyses[0].open
    );
    assert_eq!(later.analyses[0].open * 2, summary.open);
    let listed = store
        .analysis_findings(&key.id(), None, 10_000)
        .await
        .expect("the list");
    assert_eq!(listed.items.len(), later.analyses[0].open);
}

#[tokio::test]
async fn an_invalid_file_applies_nothing_of_the_analysis() {
    let store = Arc::new(MemoryStore::new());
    let executor = Executor::new(
        store.clone(),
        Arc::new(MemoryTracker::new()),
        scantix_core::config::Config::default(),
    );
    let mut broken: Value = serde_json::from_slice(&semgrep_copies(1)).expect("JSON");
    broken["runs"][0]["results"][5]["ruleId"] = Value::Bool(true);
    let files = vec![
        SarifFile::from_bytes("good.sarif", semgrep_copies(1)),
        SarifFile::from_bytes("broken.sarif", serde_json::to_vec(&broken).expect("JSON")),
    ];
    let error = apply_analysis(
        &executor,
        &RepoSettings::defaults(),
        &target(),
        files,
        |_| {},
    )
    .await
    .expect_err("refused");
    assert!(error.is_input_fault());
    assert_eq!(error.path(), Some("runs[0].results[5].ruleId"));
    assert!(error.to_string().starts_with("broken.sarif: "), "{error}");
    let groups = store.all_groups(None, 10).await.expect("groups");
    assert!(groups.items.is_empty());
}

#[tokio::test]
async fn a_file_on_disk_is_checked_whole_before_anything_and_named_with_the_json_path() {
    let store = Arc::new(MemoryStore::new());
    let executor = Executor::new(
        store.clone(),
        Arc::new(MemoryTracker::new()),
        scantix_core::config::Config::default(),
    );
    // The 300th result of a file on disk is broken: nothing of the 299 before it is applied.
    let mut broken: Value = serde_json::from_slice(&semgrep_copies(4)).expect("JSON");
    broken["runs"][0]["results"][299]["locations"] = Value::String("app.py:3".into());
    let dir = std::env::temp_dir().join(format!("scantix-analysis-{}", uuid::Uuid::new_v4()));
    std::fs::create_dir_all(&dir).expect("a temporary directory");
    let path = dir.join("broken.sarif");
    std::fs::write(&path, serde_json::to_vec(&broken).expect("JSON")).expect("written");
    let error = apply_analysis(
        &executor,
        &RepoSettings::defaults(),
        &target(),
        vec![SarifFile::from_path(&path)],
        |_| {},
    )
    .await
    .expect_err("refused");
    let _ = std::fs::remove_dir_all(&dir);
    assert!(error.is_input_fault(), "{error}");
    assert_eq!(error.path(), Some("runs[0].results[299].locations"));
    assert!(error.to_string().contains("broken.sarif: "), "{error}");
    let groups = store.all_groups(None, 10).await.expect("groups");
    assert!(groups.items.is_empty());

    // A file that is not there: an error naming it, nothing applied.
    let error = apply_analysis(
        &executor,
        &RepoSettings::defaults(),
        &target(),
        vec![SarifFile::from_path(dir.join("gone.sarif"))],
        |_| {},
    )
    .await
    .expect_err("refused");
    assert!(error.to_string().contains("gone.sarif"), "{error}");
}

#[tokio::test]
async fn a_ticket_shows_the_rules_help_and_the_code_flow_as_source_to_sink() {
    // CodeQL for Ruby (fabasoad/sarif-to-slack's test data): two results with a code flow.
    let path = concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../../../shared/fixtures/sarif/codeql/fabasoad-sarif-to-slack.codeql-ruby.sarif"
    );
    let store = Arc::new(MemoryStore::new());
    let executor = Executor::new(
        store.clone(),
        Arc::new(MemoryTracker::new()),
        scantix_core::config::Config::default(),
    );
    let files = vec![SarifFile::from_path(path)];
    apply_analysis(
        &executor,
        &RepoSettings::defaults(),
        &target(),
        files,
        |_| {},
    )
    .await
    .expect("applied");
    let mut with_flow = 0;
    for group in store.all_groups(None, 100).await.expect("groups").items {
        let content = executor.render(&group.value).await.expect("rendered");
        let Some(line) = content.findings.iter().find(|f| f.flow.is_some()) else {
            continue;
        };
        with_flow += 1;
        let flow = line.flow.as_deref().unwrap_or_default();
        assert!(flow.contains(" → "), "{flow}");
        assert!(
            content.description.is_some(),
            "the rule's text: {content:?}"
        );
        let body = scantix_core::ticket::markdown::render(&content);
        assert!(body.contains(flow), "{body}");
        assert!(
            content
                .facts
                .iter()
                .any(|(name, value)| name == "Tool" && value == "CodeQL")
        );
    }
    assert!(with_flow > 0, "the fixture's code flows reach a ticket");

    // Semgrep's rules carry remediation help: it is the ticket's guidance.
    let path = concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../../tests/fixtures/sarif/generated/semgrep-1.185.0.sarif"
    );
    // From disk: Semgrep writes `results` before `tool`, which the second read streams with the
    // rules the first one read.
    let files = vec![SarifFile::from_path(path)];
    apply_analysis(
        &executor,
        &RepoSettings::defaults(),
        &target(),
        files,
        |_| {},
    )
    .await
    .expect("applied");
    let key = GroupKey::from_stored("42/sarif/rule:Semgrep OSS:flask-sql-injection");
    let group = store
        .get_group(&key)
        .await
        .expect("read")
        .expect("the group");
    let content = executor.render(&group.value).await.expect("rendered");
    let guidance = content.guidance.clone().expect("the rule's help");
    assert!(!guidance.trim().is_empty());
    assert!(scantix_core::ticket::markdown::render(&content).contains("app.py"));
}

/// The upload endpoint's worker runs it on a multi-threaded runtime: the future must be `Send`.
#[test]
fn applying_an_analysis_is_a_send_future() {
    fn assert_send<T: Send>(_: T) {}
    let executor = Executor::new(
        Arc::new(MemoryStore::new()),
        Arc::new(MemoryTracker::new()),
        scantix_core::config::Config::default(),
    );
    let settings = RepoSettings::defaults();
    let target = target();
    assert_send(apply_analysis(
        &executor,
        &settings,
        &target,
        vec![],
        |_| {},
    ));
}

/// Results of different groups are applied side by side, each group's in file order, and the
/// outcome is the one of an application whose store calls never overlap: the same actions in the
/// same order, the same tickets. The interleaving store yields to the runtime around every call,
/// which is what a store's network round trip does.
#[tokio::test]
async fn groups_are_applied_side_by_side_and_decide_what_one_at_a_time_decides() {
    use scantix_core::memory::faults::{Faults, FaultyStore};
    let settings = RepoSettings::defaults();
    let sarif = semgrep_copies(2);
    let apply = |store: Arc<dyn Store>| {
        let settings = &settings;
        let sarif = sarif.clone();
        async move {
            let tracker = Arc::new(MemoryTracker::new());
            let executor = Executor::new(
                store,
                tracker.clone(),
                scantix_core::config::Config::default(),
            );
            let mut actions = Vec::new();
            apply_analysis(&executor, settings, &target(), file(sarif), |a| {
                actions.push(a.clone())
            })
            .await
            .expect("applied");
            (actions, tracker.all().len())
        }
    };

    let (alone, tickets_alone) = apply(Arc::new(MemoryStore::new())).await;
    let faults = Faults::interleaving(vec![1, 1]);
    let interleaved = Arc::new(FaultyStore::new(
        Arc::new(MemoryStore::new()),
        faults.clone(),
    ));
    let (side_by_side, tickets_side_by_side) = apply(interleaved).await;

    assert!(tickets_alone > 1, "{tickets_alone} tickets");
    assert_eq!(tickets_side_by_side, tickets_alone);
    assert_eq!(side_by_side, alone, "the same actions, in file order");
    // Reads of several groups were in flight before their commits: the lanes overlapped, never
    // more of them than LANES.
    let calls = faults.calls();
    let widest = calls
        .chunk_by(|a, b| a == b)
        .filter(|run| run[0] == "store.read_event")
        .map(<[_]>::len)
        .max()
        .unwrap_or(0);
    assert!(
        (2..=LANES).contains(&widest),
        "{widest} reads in a row: {calls:?}"
    );
}
