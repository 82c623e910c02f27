//! One deployment, several organisations: what one organisation has not installed scantix on, it
//! has not agreed to. With `SCANTIX_UNKNOWN_INSTALLATIONS=ignore`, a verified delivery of an
//! installation scantix has no record of is answered and ignored (the worker records it in the
//! inbox with why) until that installation's own event arrives or the sweeper learns it from
//! GitHub (the App's installations listed by the fake GitHub, every request checked against
//! GitHub's OpenAPI description), and an installation the App does not list is never recorded;
//! another organisation's installation
//! never covers it; and with `SCANTIX_ALLOWED_PROJECTS`, one organisation's `.github/scantix.yml`
//! cannot route tickets into another's tracker project. Real octokit payloads, renumbered where two
//! must agree.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    reason = "test code: a failed assumption is the test failing"
)]

use chrono::{Duration, Utc};
use scantix_app::execute::{Executor, ExecutorSettings, UnknownInstallations};
use scantix_app::ingest::GithubIngest;
use scantix_app::repo_settings::SettingsCache;
use scantix_app::sweep::Sweeper;
use scantix_app::sync::Syncer;
use scantix_core::config::Config;
use scantix_core::finding::{AlertKind, Repository};
use scantix_core::memory::github::MemoryGitHub;
use scantix_core::memory::store::MemoryStore;
use scantix_core::memory::tracker::MemoryTracker;
use scantix_core::ports::github_clients::GitHubClients;
use scantix_core::ports::store::Store;
use scantix_core::secret::Secret;
use scantix_core::ticket::destination::{ProjectAllowList, TrackerKind, TrackerSite};
use scantix_github::app_auth::{AppCredentials, InstallationTokens};
use scantix_github::clients::AppClients;
use scantix_tests::fake_github::{
    APP_ID, FakeGitHub, INSTALLATION_ID, app_private_key_pkcs1, open_alert,
};
use scantix_tests::webhooks::{SECRET, octokit, varied};
use serde_json::{Value, json};
use std::sync::Arc;

/// Organisation A's alert: installation 1, repository 186853002 (Codertocat/Hello-World).
const ORG_A_ALERT: &str = "code_scanning_alert/reopened.with-organization.payload.json";
/// Organisation B's alert: installation 14662836, repository 337911632.
const ORG_B_ALERT: &str = "code_scanning_alert/created.payload.json";

struct World {
    store: Arc<MemoryStore>,
    tracker: MemoryTracker,
    ingest: GithubIngest,
}

fn world(unknown_installations: UnknownInstallations) -> World {
    let store = Arc::new(MemoryStore::new());
    let tracker = MemoryTracker::new();
    let executor = Executor::new(store.clone(), Arc::new(tracker.clone()), Config::default())
        .with_settings(ExecutorSettings {
            unknown_installations,
            ..ExecutorSettings::default()
        });
    let ingest = GithubIngest::new(Secret::new(SECRET), Arc::new(executor));
    World {
        store,
        tracker,
        ingest,
    }
}

impl World {
    async fn deliver(&self, event: &str, delivery: &str, body: &[u8]) -> (u16, Value) {
        let answer = self
            .ingest
            .route(event, delivery, body)
            .await
            .answer(delivery);
        (answer.status, answer.body)
    }
}

/// Organisation A installs scantix: the real `installation.created` payload (which covers
/// Hello-World, 186853002), renumbered to A's installation id.
fn org_a_installs() -> Vec<u8> {
    varied(
        &octokit("installation/created.payload.json"),
        &[("installation.id", json!(1))],
    )
}

#[tokio::test]
async fn an_unknown_installations_alerts_are_ignored_until_it_installs() {
    let world = world(UnknownInstallations::Ignore);

    let (status, answer) = world
        .deliver("code_scanning_alert", "a-1", &octokit(ORG_A_ALERT))
        .await;
    assert_eq!(status, 202, "{answer}");
    assert_eq!(answer["status"], "ignored", "{answer}");
    assert!(
        answer["reason"]
            .as_str()
            .is_some_and(|r| r.contains("installation 1 is not known")),
        "{answer}"
    );
    assert!(world.store.groups().is_empty(), "nothing recorded for it");
    assert!(world.tracker.all().is_empty(), "no ticket");

    let (status, answer) = world
        .deliver("installation", "install-a", &org_a_installs())
        .await;
    assert_eq!(status, 200, "{answer}");

    // The same alert again (GitHub's next event about it, or the backfill): now it is A's to act on.
    let (status, answer) = world
        .deliver("code_scanning_alert", "a-2", &octokit(ORG_A_ALERT))
        .await;
    assert_eq!(status, 200, "{answer}");
    assert_eq!(world.tracker.all().len(), 1, "A's ticket");

    // B has installed nothing: its alert changes nothing of A's and makes nothing of its own.
    let (status, answer) = world
        .deliver("code_scanning_alert", "b-1", &octokit(ORG_B_ALERT))
        .await;
    assert_eq!((status, answer["status"].as_str()), (202, Some("ignored")));
    assert_eq!(world.tracker.all().len(), 1);
    assert_eq!(world.store.groups().len(), 1);
}

#[tokio::test]
async fn an_installation_covers_only_its_own_repositories() {
    let world = world(UnknownInstallations::Ignore);
    world
        .deliver("installation", "install-a", &org_a_installs())
        .await;
    // A delivery claiming A's installation for a repository A's installation does not cover.
    let claims_a = varied(&octokit(ORG_B_ALERT), &[("installation.id", json!(1))]);
    let (status, answer) = world
        .deliver("code_scanning_alert", "b-as-a", &claims_a)
        .await;
    assert_eq!(status, 202, "{answer}");
    assert!(
        answer["reason"]
            .as_str()
            .is_some_and(|r| r.contains("not covered by installation 1")),
        "{answer}"
    );
    assert!(world.tracker.all().is_empty());
}

#[tokio::test]
async fn a_single_organisation_deployment_serves_installations_it_never_recorded() {
    // The default: a deployment installed before it recorded installations keeps working.
    let world = world(UnknownInstallations::default());
    let (status, answer) = world
        .deliver("code_scanning_alert", "a-1", &octokit(ORG_A_ALERT))
        .await;
    assert_eq!(status, 200, "{answer}");
    assert_eq!(world.tracker.all().len(), 1);
}

/// Both organisations' repositories name a Jira project in the deployment's Jira: each may use its
/// own, and the one that names the other's is set aside (to its own first project) and told why.
#[tokio::test]
async fn an_organisation_cannot_route_tickets_into_another_organisations_project() {
    let github = MemoryGitHub::new();
    let section = |project: &str| {
        format!(
            "tracker:\n  kind: jira\n  jira:\n    base-url: https://tenants.atlassian.net\n    \
             flavor: cloud\n    project: {project}\n"
        )
    };
    let repo = |id: u64, full_name: &str| Repository {
        id,
        full_name: full_name.into(),
        default_branch: Some("main".into()),
        html_url: None,
    };
    let (a, b) = (repo(1, "acme/shop"), repo(2, "globex/portal"));
    github.put_file(a.id, ".github/scantix.yml", None, &section("ACMESEC"));
    // Globex's file names Acme's project.
    github.put_file(b.id, ".github/scantix.yml", None, &section("ACMESEC"));
    let allowed =
        ProjectAllowList::parse_json(r#"{"acme": ["ACMESEC"], "globex": ["GLX", "GLXOPS"]}"#)
            .unwrap();
    let cache = SettingsCache::new(std::time::Duration::from_secs(300))
        .for_tracker(TrackerSite {
            kind: TrackerKind::Jira,
            base_url: Some("https://tenants.atlassian.net".into()),
        })
        .with_allowed_projects(allowed);

    let (acme, _) = cache.for_repo(&github, &a).await;
    assert_eq!(acme.engine.destination.project.as_deref(), Some("ACMESEC"));
    assert!(acme.problems.is_empty(), "{:?}", acme.problems);

    let (globex, _) = cache.for_repo(&github, &b).await;
    assert_eq!(globex.engine.destination.project.as_deref(), Some("GLX"));
    assert!(
        globex
            .problems
            .iter()
            .any(|p| p.contains("`ACMESEC`") && p.contains("GLX, GLXOPS")),
        "{:?}",
        globex.problems
    );
}

/// Organisation A installed the App, but its `installation` delivery never reached scantix: A's
/// alerts are ignored until the sweeper lists the App's installations from GitHub and records A's
/// (with the repositories GitHub says it can access, backfilled as after an `installation` event);
/// from then on A's deliveries are applied. B uninstalled the App and C's installation is
/// suspended: neither is ever recorded, and B's deliveries stay ignored.
#[tokio::test]
async fn the_sweeper_learns_an_installation_from_github_and_invents_none() {
    const ORG_B_INSTALLATION: u64 = 14_662_836;
    const ORG_C_INSTALLATION: u64 = 31_337;
    let fake = FakeGitHub::start().await;
    fake.install(
        INSTALLATION_ID,
        "Codertocat",
        &[("Codertocat", "Hello-World", 186_853_002)],
    );
    // A's repository already has an open alert of another rule: the backfill's to find.
    let mut existing = open_alert(AlertKind::CodeScanning, 1, Utc::now() - Duration::days(3));
    existing["rule"]["id"] = json!("js/zipslip");
    existing["rule"]["name"] = json!("js/zipslip");
    fake.add_alert(
        "Codertocat",
        "Hello-World",
        AlertKind::CodeScanning,
        existing,
    );
    fake.install(
        ORG_B_INSTALLATION,
        "octo-org-b",
        &[("octo-org-b", "portal", 337_911_632)],
    );
    fake.uninstall(ORG_B_INSTALLATION);
    fake.install(ORG_C_INSTALLATION, "globex", &[("globex", "shop", 4_040)]);
    fake.suspend(ORG_C_INSTALLATION);

    let credentials = AppCredentials::new(APP_ID, Secret::new(app_private_key_pkcs1()));
    let tokens = InstallationTokens::new(&fake.base_url(), &credentials).expect("a valid key");
    let clients: Arc<dyn GitHubClients> = Arc::new(AppClients::new(Arc::new(tokens)));
    let store = Arc::new(MemoryStore::new());
    let tracker = MemoryTracker::new();
    let executor = Arc::new(
        Executor::new(store.clone(), Arc::new(tracker.clone()), Config::default())
            .with_settings(ExecutorSettings {
                unknown_installations: UnknownInstallations::Ignore,
                ..ExecutorSettings::default()
            })
            .with_github_clients(clients.clone()),
    );
    let world = World {
        store: store.clone(),
        tracker: tracker.clone(),
        ingest: GithubIngest::new(Secret::new(SECRET), executor.clone()),
    };
    let sweeper = Sweeper::new(
        executor.clone(),
        Syncer::new(
            executor.clone(),
            Arc::new(scantix_core::decide::triage::builtin),
        ),
        clients,
    )
    .learning_installations();
    let org_a_alert = varied(
        &octokit(ORG_A_ALERT),
        &[("installation.id", json!(INSTALLATION_ID))],
    );

    let (status, answer) = world
        .deliver("code_scanning_alert", "a-1", &org_a_alert)
        .await;
    assert_eq!(
        (status, answer["status"].as_str()),
        (202, Some("ignored")),
        "{answer}"
    );
    let (status, answer) = world
        .deliver("code_scanning_alert", "b-1", &octokit(ORG_B_ALERT))
        .await;
    assert_eq!(
        (status, answer["status"].as_str()),
        (202, Some("ignored")),
        "{answer}"
    );
    assert!(world.tracker.all().is_empty());

    let report = sweeper.sweep(Utc::now()).await.expect("a sweep");
    assert_eq!(report.installations_learned, 1, "{report:?}");
    assert!(report.failures.is_empty(), "{report:?}");
    let learned = store
        .get_installation(INSTALLATION_ID)
        .await
        .unwrap()
        .expect("A's installation, learned from GitHub")
        .value;
    assert_eq!(learned.account, "Codertocat");
    assert!(learned.covers(186_853_002));
    assert_eq!(learned.repositories.len(), 1, "only what GitHub listed");
    for never in [ORG_B_INSTALLATION, ORG_C_INSTALLATION] {
        assert!(
            store.get_installation(never).await.unwrap().is_none(),
            "installation {never} is not the App's to serve: not invented"
        );
    }
    // The learned repository was backfilled, as after an `installation` event: its existing alert.
    assert_eq!(
        world.tracker.all().len(),
        1,
        "the backfilled alert's ticket"
    );

    // A's next delivery (a redelivery of the one ignored) is applied now.
    let (status, answer) = world
        .deliver("code_scanning_alert", "a-1-redelivered", &org_a_alert)
        .await;
    assert_eq!(status, 200, "{answer}");
    assert_ne!(answer["status"], "ignored", "{answer}");
    assert_eq!(world.tracker.all().len(), 2, "A's alert got its ticket");
    // B's stays ignored, and a second sweep learns nothing more.
    let (status, answer) = world
        .deliver("code_scanning_alert", "b-2", &octokit(ORG_B_ALERT))
        .await;
    assert_eq!(
        (status, answer["status"].as_str()),
        (202, Some("ignored")),
        "{answer}"
    );
    let again = sweeper.sweep(Utc::now()).await.expect("a sweep");
    assert_eq!(again.installations_learned, 0, "{again:?}");
    assert_eq!(world.tracker.all().len(), 2);

    // What the sweeper asked GitHub, as GitHub's description has it, with the App's JWT.
    assert_eq!(fake.violations(), Vec::<String>::new());
    assert_eq!(fake.count("GET", "/app/installations"), 2);
    assert_eq!(fake.count("GET", "/installation/repositories"), 1);
}
