//! Races and redeliveries against the real Amazon DynamoDB Local, through the GitHub webhook
//! function's handler: many concurrent deliveries over a few groups (some of them sent twice at
//! once) yield exactly one ticket per group and lose no finding.

use github_webhook::handle;
use scantix_app::execute::Executor;
use scantix_app::ingest::GithubIngest;
use scantix_core::config::Config;
use scantix_core::identity::Fingerprint;
use scantix_core::memory::counted_tracker::Counted;
use scantix_core::memory::tracker::MemoryTracker;
use scantix_core::ports::store::Store;
use scantix_core::secret::Secret;
use scantix_tests::dynamodb::local_store;
use scantix_tests::webhooks::{SECRET, delivery_request, octokit, varied};
use serde_json::{Value, json};
use std::collections::BTreeMap;
use std::sync::Arc;

/// Alert `number` of the real CodeQL `created` delivery, moved to `rule` and a file of its own.
fn code_alert(number: u64, rule: &str) -> Vec<u8> {
    varied(
        &octokit("code_scanning_alert/created.payload.json"),
        &[
            ("alert.number", json!(number)),
            ("alert.rule.id", json!(rule)),
            (
                "alert.instances.0.location.path",
                json!(format!("src/{number}.java")),
            ),
            (
                "alert.html_url",
                json!(format!(
                    "https://github.com/Codertocat/Hello-World/security/code-scanning/{number}"
                )),
            ),
        ],
    )
}

/// Alert `number` of the real Dependabot `created` delivery, for `package`.
fn dependabot_alert(number: u64, package: &str) -> Vec<u8> {
    varied(
        &octokit("dependabot_alert/created.payload.json"),
        &[
            ("alert.number", json!(number)),
            ("alert.dependency.package.name", json!(package)),
        ],
    )
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn sixty_concurrent_deliveries_over_five_groups_make_five_tickets_and_keep_every_finding() {
    let store: Arc<dyn Store> = Arc::new(local_store().await);
    let tickets = MemoryTracker::new();
    let (tracker, calls) = Counted::new(tickets.clone());
    let executor = Executor::new(store.clone(), Arc::new(tracker), Config::default());
    let ingest = Arc::new(GithubIngest::new(Secret::new(SECRET), Arc::new(executor)));

    let rules = ["java/sql-injection", "java/xss", "java/path-injection"];
    let packages = ["semver", "lodash"];
    let mut deliveries = Vec::new();
    let mut expected_members: BTreeMap<String, usize> = BTreeMap::new();
    for i in 0..60u64 {
        let number = 100 + i;
        let (event, body, group) = if i % 4 == 3 {
            let package = packages[(i as usize / 4) % 2];
            (
                "dependabot_alert",
                dependabot_alert(number, package),
                format!("dep:{package}"),
            )
        } else {
            let rule = rules[(i % 3) as usize];
            (
                "code_scanning_alert",
                code_alert(number, rule),
                format!("code:{rule}"),
            )
        };
        *expected_members.entry(group).or_default() += 1;
        // Every fifth delivery arrives twice at once, as a GitHub redelivery or an SQS duplicate.
        let copies = if i % 5 == 0 { 2 } else { 1 };
        for _ in 0..copies {
            deliveries.push((event, format!("race-{i}"), body.clone()));
        }
    }
    assert!(deliveries.len() >= 70);

    let send = |event: &'static str, id: String, body: Vec<u8>| {
        let ingest = ingest.clone();
        async move {
            let response = handle(ingest.as_ref(), delivery_request(event, &id, &body, None))
                .await
                .unwrap();
            let status = response.status().as_u16();
            let text = String::from_utf8_lossy(response.body().as_ref()).to_string();
            (status, text)
        }
    };
    let tasks: Vec<_> = deliveries
        .iter()
        .cloned()
        .map(|(event, id, body)| tokio::spawn(send(event, id, body)))
        .collect();
    let mut duplicates = 0;
    let mut retry = Vec::new();
    for ((event, id, body), task) in deliveries.into_iter().zip(tasks) {
        let (status, text) = task.await.unwrap();
        let answer: Value = serde_json::from_str(&text).unwrap();
        match status {
            200 if answer["status"] == "duplicate" => duplicates += 1,
            200 => {}
            // DynamoDB Local serialises a table's writes behind a lock and, under a burst this
            // size on a busy machine, answers some of them "timed out waiting for a lock" (it
            // says the request would succeed in DynamoDB). The delivery is refused whole and
            // retryable, and it is retried, as the worker (or GitHub's redelivery) would.
            503 if answer["retryable"] == true => retry.push((event, id, body)),
            _ => panic!("{id}: {status} {text}"),
        }
    }
    for (event, id, body) in retry {
        let mut attempts = 0;
        loop {
            let (status, text) = send(event, id.clone(), body.clone()).await;
            let answer: Value = serde_json::from_str(&text).unwrap();
            if status == 200 {
                if answer["status"] == "duplicate" {
                    duplicates += 1;
                }
                break;
            }
            attempts += 1;
            assert!(attempts < 20, "{id}: still {status} {text}");
            tokio::time::sleep(std::time::Duration::from_millis(100 * attempts)).await;
        }
    }
    // Each doubled delivery is applied once: its second copy is a duplicate. A retried delivery
    // may be one too: the store can refuse a write after the delivery's commit (the lease's
    // release, say), and the retry then finds it applied. The group sizes below show that
    // nothing was applied twice.
    assert!(
        duplicates >= 12,
        "each doubled delivery is applied once: {duplicates}"
    );

    let calls = calls.snapshot();
    assert_eq!(calls.create, 5, "one ticket per group: {calls:?}");
    let groups = scantix_tests::stored::groups(&*store).await;
    assert_eq!(groups.len(), 5);
    let mut sizes: Vec<usize> = groups
        .iter()
        .map(|g| g.value.tally.total() as usize)
        .collect();
    let mut expected: Vec<usize> = expected_members.values().copied().collect();
    sizes.sort();
    expected.sort();
    assert_eq!(sizes, expected, "every finding joined its group");
    for g in &groups {
        let group = &g.value;
        assert!(
            group.outbox.is_empty() && group.lease.is_none(),
            "{} left work behind",
            group.key
        );
        let ticket = group.ticket.as_ref().expect("ticket linked");
        let draft = tickets.ticket(&ticket.key).expect("ticket in the tracker");
        let count = group.tally.ticketed();
        assert!(
            draft.title.ends_with(&format!("({count} alerts)")),
            "ticket shows every finding: {}",
            draft.title
        );
        let audit = store.audit_log(&group.key).await.unwrap();
        assert_eq!(
            audit
                .iter()
                .filter(|a| a.action == "ticket.requested")
                .count(),
            1
        );
        assert_eq!(
            audit
                .iter()
                .filter(|a| a.action == "ticket.created")
                .count(),
            1
        );
        assert_eq!(
            audit.len(),
            2 * count as usize + 1,
            "per finding, its triage and what it did to the ticket; and the ticket's creation: \
             {audit:#?}"
        );
    }
    for i in 0..60u64 {
        let kind = if i % 4 == 3 {
            scantix_core::finding::AlertKind::Dependabot
        } else {
            scantix_core::finding::AlertKind::CodeScanning
        };
        let repo = if i % 4 == 3 { 512875663 } else { 337911632 };
        let fingerprint = Fingerprint::new(repo, kind, 100 + i);
        assert!(
            store.get_finding(&fingerprint).await.unwrap().is_some(),
            "{fingerprint} recorded"
        );
    }
}
