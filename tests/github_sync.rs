//! The sync against the fake GitHub (every request checked against GitHub's OpenAPI description):
//! what GitHub's refusals mean. A kind GitHub forbids (403) or does not have (404) is skipped and
//! counted while the other kinds are read, and read later once allowed; a credential GitHub refuses
//! (401) fails the sync with an error naming it, whether a plain token, the App's JWT or an
//! installation the App has no token for, and the sweeper reports it instead of passing it off as
//! "nothing enabled".

use chrono::{Duration, Utc};
use scantix_app::execute::Executor;
use scantix_app::sweep::Sweeper;
use scantix_app::sync::{SyncError, Syncer};
use scantix_core::config::Config;
use scantix_core::decide::triage::builtin;
use scantix_core::event::{InstallationChange, InstallationEvent, NamedRepository};
use scantix_core::finding::{AlertKind, Repository};
use scantix_core::memory::draft_tracker::DraftTracker;
use scantix_core::memory::store::MemoryStore;
use scantix_core::ports::github::GitHubError;
use scantix_core::ports::github_clients::OneClient;
use scantix_core::ports::store::Store;
use scantix_core::secret::Secret;
use scantix_github::app_auth::{AppCredentials, InstallationTokens};
use scantix_github::rest::{RestAuth, RestGitHub};
use scantix_tests::fake_github::{
    APP_ID, FakeGitHub, Fault, INSTALLATION_ID, PLAIN_TOKEN, app_private_key_pkcs1, open_alert,
};
use std::sync::Arc;

const OWNER: &str = "octocat";
const REPO: &str = "hello-world";

fn repository() -> Repository {
    Repository {
        id: 1_296_269,
        full_name: format!("{OWNER}/{REPO}"),
        default_branch: None,
        html_url: None,
    }
}

/// A store whose installation `installation` covers the repository, and a syncer over it.
async fn synced_world(installation: u64) -> (Arc<MemoryStore>, Arc<Executor>, Syncer) {
    let store = Arc::new(MemoryStore::new());
    let executor = Arc::new(Executor::new(
        store.clone(),
        Arc::new(DraftTracker::new()),
        Config::default(),
    ));
    let repo = repository();
    let installed = InstallationEvent {
        installation_id: installation,
        account: OWNER.into(),
        change: InstallationChange::Created(vec![NamedRepository {
            id: repo.id,
            full_name: repo.full_name,
        }]),
    };
    executor
        .apply_installation("github:installed", &installed, None)
        .await
        .expect("recorded");
    let syncer = Syncer::new(executor.clone(), Arc::new(builtin));
    (store, executor, syncer)
}

/// Five open code scanning and three open Dependabot alerts; no secret scanning (GitHub answers
/// 404 for a repository without it).
fn seed(fake: &FakeGitHub) {
    let at = Utc::now() - Duration::days(3);
    for number in 1..=5 {
        fake.add_alert(
            OWNER,
            REPO,
            AlertKind::CodeScanning,
            open_alert(AlertKind::CodeScanning, number, at),
        );
    }
    for number in 1..=3 {
        fake.add_alert(
            OWNER,
            REPO,
            AlertKind::Dependabot,
            open_alert(AlertKind::Dependabot, number, at),
        );
    }
}

fn app_tokens(fake: &FakeGitHub, app_id: u64) -> Arc<InstallationTokens> {
    let credentials = AppCredentials::new(app_id, Secret::new(app_private_key_pkcs1()));
    Arc::new(InstallationTokens::new(&fake.base_url(), &credentials).expect("a valid key"))
}

#[tokio::test]
async fn a_kind_github_forbids_or_lacks_is_skipped_and_the_other_kinds_are_read() {
    let fake = FakeGitHub::start().await;
    seed(&fake);
    let (store, _, syncer) = synced_world(INSTALLATION_ID).await;
    let github = RestGitHub::for_installation(app_tokens(&fake, APP_ID), INSTALLATION_ID);
    // Code scanning answers 403 once, as GitHub does where Advanced Security is off.
    fake.inject_on(
        "GET",
        "/repos/*/*/code-scanning/alerts",
        None,
        Fault::Status(403),
        1,
    );

    let first = syncer
        .sync_repository(&github, INSTALLATION_ID, &repository(), &Config::default())
        .await
        .expect("a forbidden or missing kind does not fail the sync");
    println!("with code scanning forbidden and no secret scanning: {first:?}");
    assert!(first.complete);
    assert_eq!(
        first.kinds_skipped, 2,
        "code scanning (403), secret scanning (404)"
    );
    assert_eq!((first.list_calls, first.applied), (1, 3), "Dependabot read");
    let record = store
        .get_installation(INSTALLATION_ID)
        .await
        .unwrap()
        .unwrap()
        .value;
    let progress = &record.repositories[&repository().id].sync;
    assert!(progress[&AlertKind::Dependabot].complete_since.is_some());
    assert!(
        !progress.contains_key(&AlertKind::CodeScanning),
        "a skipped kind is not marked read: it is backfilled once allowed"
    );

    // Allowed now: the next run backfills code scanning; Dependabot is only reconciled.
    let second = syncer
        .sync_repository(&github, INSTALLATION_ID, &repository(), &Config::default())
        .await
        .unwrap();
    assert_eq!((second.applied, second.kinds_skipped), (5, 1), "{second:?}");
    fake.assert_no_violations();
}

#[tokio::test]
async fn a_token_github_refuses_fails_the_sync_naming_the_token() {
    let fake = FakeGitHub::start().await;
    seed(&fake);
    let (store, _, syncer) = synced_world(INSTALLATION_ID).await;
    let wrong = RestGitHub::new(
        &fake.base_url(),
        RestAuth::Token(Secret::new("ghp_revoked_long_ago")),
    )
    .expect("a base URL");

    let err = syncer
        .sync_repository(&wrong, INSTALLATION_ID, &repository(), &Config::default())
        .await
        .expect_err("a 401 is not a kind that is off");
    let SyncError::GitHub(GitHubError::Unauthorized { credential, detail }) = &err else {
        panic!("expected Unauthorized, got {err:?}");
    };
    assert_eq!(credential, "the GitHub token");
    assert!(
        detail.starts_with("401 GET /repos/octocat/hello-world/"),
        "{detail}"
    );
    let message = err.to_string();
    assert!(
        message.contains("did not accept the GitHub token") && !message.contains("ghp_revoked"),
        "names the credential, never its value: {message}"
    );
    assert_eq!(
        fake.count("GET", "/repos/*/*/*/alerts"),
        1,
        "stops at the first 401 instead of trying every kind"
    );
    assert!(scantix_tests::stored::groups(&*store).await.is_empty());

    // The sweeper reports it as a failure, naming the credential, rather than a quiet pass.
    let executor = Arc::new(Executor::new(
        store.clone(),
        Arc::new(DraftTracker::new()),
        Config::default(),
    ));
    let sweeper = Sweeper::new(
        executor.clone(),
        Syncer::new(executor.clone(), Arc::new(builtin)),
        Arc::new(OneClient(Arc::new(wrong))),
    );
    let swept = sweeper.sweep(Utc::now()).await.unwrap();
    assert_eq!(swept.failures.len(), 1, "{swept:?}");
    assert!(
        swept.failures[0].contains("did not accept the GitHub token"),
        "{swept:?}"
    );

    // The same repository with the right token goes through.
    let right = RestGitHub::new(&fake.base_url(), RestAuth::Token(Secret::new(PLAIN_TOKEN)))
        .expect("a base URL");
    let report = syncer
        .sync_repository(&right, INSTALLATION_ID, &repository(), &Config::default())
        .await
        .unwrap();
    assert_eq!(report.applied, 8);
    fake.assert_no_violations();
}

#[tokio::test]
async fn an_app_github_refuses_or_an_installation_without_a_token_fails_naming_which() {
    let fake = FakeGitHub::start().await;
    seed(&fake);

    // Another App's key signs the JWT: the exchange is refused (401), and says whose JWT.
    let (_, _, syncer) = synced_world(INSTALLATION_ID).await;
    let stranger = RestGitHub::for_installation(app_tokens(&fake, APP_ID + 1), INSTALLATION_ID);
    let err = syncer
        .sync_repository(
            &stranger,
            INSTALLATION_ID,
            &repository(),
            &Config::default(),
        )
        .await
        .expect_err("the App's JWT is refused");
    let SyncError::GitHub(GitHubError::Unauthorized { credential, .. }) = &err else {
        panic!("expected Unauthorized, got {err:?}");
    };
    assert!(
        credential.contains(&format!("App id {}", APP_ID + 1)),
        "{credential}"
    );

    // An installation the App has no token for (uninstalled): GitHub answers the exchange 404,
    // which must not read as "no alerts of this kind".
    let gone = INSTALLATION_ID + 1;
    let (_, _, syncer) = synced_world(gone).await;
    let github = RestGitHub::for_installation(app_tokens(&fake, APP_ID), gone);
    let err = syncer
        .sync_repository(&github, gone, &repository(), &Config::default())
        .await
        .expect_err("no token, no sync");
    let SyncError::GitHub(GitHubError::Unauthorized { credential, .. }) = &err else {
        panic!("expected Unauthorized, got {err:?}");
    };
    assert!(
        credential.contains(&format!("installation {gone}")),
        "{credential}"
    );
    assert_eq!(
        fake.count("GET", "/repos/**"),
        0,
        "nothing listed without a token"
    );
    fake.assert_no_violations();
}
