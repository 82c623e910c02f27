//! One deployment, several organisations: what one organisation has not installed scantix on, it
//! has not agreed to. With `SCANTIX_UNKNOWN_INSTALLATIONS=ignore`, a verified delivery of an
//! installation scantix has no record of is answered and ignored (the worker records it in the
//! inbox with why) until that installation's own event arrives; another organisation's installation
//! never covers it; and with `SCANTIX_ALLOWED_PROJECTS`, one organisation's `.github/scantix.yml`
//! cannot route tickets into another's tracker project. Real octokit payloads, renumbered where two
//! must agree.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    reason = "test code: a failed assumption is the test failing"
)]

use scantix_app::execute::{Executor, ExecutorSettings, UnknownInstallations};
use scantix_app::ingest::GithubIngest;
use scantix_app::repo_settings::SettingsCache;
use scantix_core::config::Config;
use scantix_core::finding::Repository;
use scantix_core::memory::github::MemoryGitHub;
use scantix_core::memory::store::MemoryStore;
use scantix_core::memory::tracker::MemoryTracker;
use scantix_core::secret::Secret;
use scantix_core::ticket::destination::{ProjectAllowList, TrackerKind, TrackerSite};
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
