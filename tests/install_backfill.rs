//! Backfill on install, through the GitHub webhook handler, the App's installation tokens and the
//! fake GitHub (every request checked against GitHub's OpenAPI description): a real `installation`
//! created delivery for a repository with 1,000 existing code scanning alerts of three rules leaves
//! three grouped tickets behind it at once, in ten list calls; an `installation_repositories`
//! added delivery does the same for the repository added. Cut short (by a rate limit on a page, or
//! by a deadline already spent), it leaves its progress saved and the sweep finishes it, with no
//! ticket made twice.

use chrono::{Duration, Utc};
use github_webhook::handle;
use scantix_app::execute::{Executor, ExecutorSettings};
use scantix_app::ingest::GithubIngest;
use scantix_app::repo_settings::{SettingsCache, SettingsSource};
use scantix_app::sweep::Sweeper;
use scantix_app::sync::Syncer;
use scantix_core::config::Config;
use scantix_core::finding::AlertKind;
use scantix_core::memory::counted_tracker::{CallCounts, Counted};
use scantix_core::memory::store::MemoryStore;
use scantix_core::memory::tracker::MemoryTracker;
use scantix_core::ports::github_clients::GitHubClients;
use scantix_core::ports::store::Store;
use scantix_core::secret::Secret;
use scantix_github::app_auth::{AppCredentials, InstallationTokens};
use scantix_github::clients::AppClients;
use scantix_tests::fake_github::{
    APP_ID, FakeGitHub, Fault, INSTALLATION_ID, app_private_key_pkcs1, open_alert,
};
use scantix_tests::webhooks::{SECRET, delivery_request, octokit, varied};
use serde_json::{Value, json};
use std::sync::Arc;

/// The repository of octokit's `installation` created example, and the one its
/// `installation_repositories` added example adds.
const OWNER: &str = "Codertocat";
const REPO: &str = "Hello-World";
const ADDED: &str = "Space";
const RULES: [&str; 3] = ["js/zipslip", "js/sql-injection", "js/xss"];

struct World {
    fake: FakeGitHub,
    store: Arc<MemoryStore>,
    tracker: Arc<CallCounts>,
    executor: Arc<Executor>,
    clients: Arc<dyn GitHubClients>,
    ingest: GithubIngest,
}

async fn world(settings: ExecutorSettings) -> World {
    let fake = FakeGitHub::start().await;
    let credentials = AppCredentials::new(APP_ID, Secret::new(app_private_key_pkcs1()));
    let tokens = InstallationTokens::new(&fake.base_url(), &credentials).expect("a valid key");
    let clients: Arc<dyn GitHubClients> = Arc::new(AppClients::new(Arc::new(tokens)));
    let store = Arc::new(MemoryStore::new());
    let (tracker, counts) = Counted::new(MemoryTracker::new());
    let executor = Arc::new(
        Executor::new(store.clone(), Arc::new(tracker), Config::default())
            .with_github_clients(clients.clone())
            .with_settings(settings),
    );
    let source = SettingsSource {
        clients: clients.clone(),
        cache: SettingsCache::new(std::time::Duration::from_secs(300)),
    };
    let ingest = GithubIngest::new(Secret::new(SECRET), executor.clone()).with_settings(source);
    World {
        fake,
        store,
        tracker: counts,
        executor,
        clients,
        ingest,
    }
}

/// `count` open code scanning alerts of `repo`, of the three rules in turn, last updated a month
/// ago (a minute apart).
fn seed(fake: &FakeGitHub, repo: &str, count: u64) {
    let month_ago = Utc::now() - Duration::days(30);
    for number in 1..=count {
        let at = month_ago + Duration::minutes(number as i64);
        let mut alert = open_alert(AlertKind::CodeScanning, number, at);
        let rule = RULES[(number % 3) as usize];
        alert["rule"]["id"] = json!(rule);
        alert["rule"]["name"] = json!(rule);
        fake.add_alert(OWNER, repo, AlertKind::CodeScanning, alert);
    }
}

/// A real delivery (octokit's example of `event`/`action`), for the fake's installation.
async fn deliver(world: &World, event: &str, action: &str, delivery: &str) -> Value {
    let body = varied(
        &octokit(&format!("{event}/{action}.payload.json")),
        &[("installation.id", json!(INSTALLATION_ID))],
    );
    let response = handle(
        &world.ingest,
        delivery_request(event, delivery, &body, None),
    )
    .await
    .expect("an answer");
    let status = response.status().as_u16();
    let answer: Value = serde_json::from_slice(response.body().as_ref()).expect("JSON");
    assert_eq!(status, 200, "{answer}");
    answer
}

fn code_list_calls(fake: &FakeGitHub) -> usize {
    fake.count("GET", "/repos/*/*/code-scanning/alerts")
}

/// (groups, members over all groups, groups with a ticket, groups with tracker calls queued).
async fn groups(world: &World) -> (usize, usize, usize, usize) {
    let groups = scantix_tests::stored::groups(&*world.store).await;
    (
        groups.len(),
        groups.iter().map(|g| g.value.tally.total() as usize).sum(),
        groups.iter().filter(|g| g.value.ticket.is_some()).count(),
        groups.iter().filter(|g| !g.value.outbox.is_empty()).count(),
    )
}

fn sweeper(world: &World) -> Sweeper {
    Sweeper::new(
        world.executor.clone(),
        Syncer::new(
            world.executor.clone(),
            Arc::new(scantix_core::decide::triage::builtin),
        ),
        world.clients.clone(),
    )
    .with_settings(SettingsCache::new(std::time::Duration::from_secs(300)))
}

#[tokio::test]
async fn an_installation_delivery_leaves_grouped_tickets_behind_it_in_ten_list_calls() {
    let w = world(ExecutorSettings::default()).await;
    seed(&w.fake, REPO, 1000);

    let answer = deliver(&w, "installation", "created", "install-1").await;
    assert_eq!(answer["status"], "applied", "{answer}");
    let list_calls = code_list_calls(&w.fake);
    let creates = w.tracker.snapshot().create;
    println!(
        "installation created, 1,000 code scanning alerts: {list_calls} code scanning list calls, \
         {creates} tracker creates, {} requests to GitHub in all",
        w.fake.requests().len()
    );
    assert!(list_calls <= 11, "{list_calls} list calls for 1,000 alerts");
    assert_eq!(list_calls, 10, "100 alerts a page");
    assert_eq!(creates, 3, "one ticket per rule, not per alert");
    assert_eq!(
        groups(&w).await,
        (3, 1000, 3, 0),
        "every alert grouped, every ticket made, nothing left queued"
    );

    // The repository added later is backfilled by its own delivery.
    seed(&w.fake, ADDED, 5);
    deliver(&w, "installation_repositories", "added", "added-1").await;
    assert_eq!(
        w.tracker.snapshot().create,
        6,
        "three more rules, three more tickets"
    );

    // A redelivery does not read the alerts again: code scanning, read completely, is only
    // reconciled (one page, nothing in it changed); the kinds GitHub does not have here are asked
    // for again. Nor does the next sweep find anything to apply: no ticket made twice.
    w.fake.clear_requests();
    deliver(&w, "installation", "created", "install-1").await;
    assert_eq!(
        code_list_calls(&w.fake),
        1,
        "a reconciliation, not a second backfill"
    );
    assert_eq!(w.tracker.snapshot().create, 6);
    let swept = sweeper(&w).sweep(Utc::now()).await.unwrap();
    assert_eq!(swept.sync.applied, 0, "{swept:?}");
    assert_eq!(w.tracker.snapshot().create, 6);
    w.fake.assert_no_violations();
}

#[tokio::test]
async fn a_backfill_stopped_by_a_rate_limit_is_finished_by_the_sweep_without_a_second_ticket() {
    let w = world(ExecutorSettings::default()).await;
    seed(&w.fake, REPO, 1000);
    w.fake.inject_on(
        "GET",
        "/repos/*/*/code-scanning/alerts",
        Some("page=4"),
        Fault::SecondaryRateLimit {
            retry_after_secs: 60,
        },
        1,
    );

    deliver(&w, "installation", "created", "install-1").await;
    assert_eq!(
        groups(&w).await,
        (3, 300, 3, 0),
        "three pages in, the rate limit stops the listing; their tickets are made"
    );
    assert_eq!(w.tracker.snapshot().create, 3);
    let record = w
        .store
        .get_installation(INSTALLATION_ID)
        .await
        .unwrap()
        .expect("recorded")
        .value;
    let progress = record
        .repositories
        .values()
        .next()
        .and_then(|r| r.sync.get(&AlertKind::CodeScanning))
        .cloned()
        .expect("progress saved");
    assert_eq!(progress.cursor.as_deref(), Some("page=4"));
    assert!(progress.complete_since.is_none());

    w.fake.clear_requests();
    let swept = sweeper(&w).sweep(Utc::now()).await.unwrap();
    println!(
        "the sweep after the rate limit: {swept:?}; {} code scanning list calls",
        code_list_calls(&w.fake)
    );
    assert_eq!(swept.sync.applied, 700, "resumed at page 4: {swept:?}");
    assert_eq!(code_list_calls(&w.fake), 7);
    assert_eq!(groups(&w).await, (3, 1000, 3, 0));
    assert_eq!(w.tracker.snapshot().create, 3, "no ticket made twice");
    w.fake.assert_no_violations();
}

#[tokio::test]
async fn a_backfill_out_of_time_leaves_everything_to_the_sweep() {
    let w = world(ExecutorSettings {
        backfill_budget: std::time::Duration::ZERO,
        ..ExecutorSettings::default()
    })
    .await;
    seed(&w.fake, REPO, 250);

    let answer = deliver(&w, "installation", "created", "install-1").await;
    assert_eq!(answer["repositories_covered"], 1, "{answer}");
    assert_eq!(code_list_calls(&w.fake), 0, "no time: nothing read");
    assert_eq!(groups(&w).await.0, 0);

    let swept = sweeper(&w).sweep(Utc::now()).await.unwrap();
    assert_eq!(swept.sync.applied, 250, "{swept:?}");
    assert_eq!(groups(&w).await, (3, 250, 3, 0));
    assert_eq!(w.tracker.snapshot().create, 3);
    w.fake.assert_no_violations();
}
