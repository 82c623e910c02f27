//! Backfill and reconciliation against the in-memory GitHub: grouped tickets, bounded list calls,
//! resumption after a rate limit, and repair of a missed delivery.

use super::*;
use async_trait::async_trait;
use chrono::{Duration, TimeZone, Utc};
use scantix_core::event::{InstallationChange, InstallationEvent, NamedRepository};
use scantix_core::finding::DismissReason;
use scantix_core::finding::Finding;
use scantix_core::memory::counted_tracker::{CallCounts, Counted};
use scantix_core::memory::github::MemoryGitHub;
use scantix_core::memory::store::MemoryStore;
use scantix_core::memory::tracker::MemoryTracker;
use scantix_core::ports::github::AlertPage;
use scantix_core::ports::store::Store;
use scantix_core::testing::code_alert;
use std::sync::atomic::{AtomicU32, Ordering};

const INSTALLATION: u64 = 5;

fn repo() -> Repository {
    code_alert(1, "r", "p").repository
}

/// Alert `n` of one of ten rules, updated at minute `n`.
fn alert(n: u64) -> Finding {
    Finding {
        updated_at: Some(
            Utc.with_ymd_and_hms(2026, 10, 1, 0, 0, 0).unwrap() + Duration::minutes(n as i64),
        ),
        ..code_alert(n, &format!("js/rule-{}", n % 10), &format!("src/{n}.js"))
    }
}

async fn setup() -> (Arc<MemoryStore>, Arc<Executor>, Arc<CallCounts>, Syncer) {
    let store = Arc::new(MemoryStore::new());
    let (tracker, calls) = Counted::new(MemoryTracker::new());
    let executor = Arc::new(Executor::new(
        store.clone(),
        Arc::new(tracker),
        Config::default(),
    ));
    let r = repo();
    let installed = InstallationEvent {
        installation_id: INSTALLATION,
        account: "acme".into(),
        change: InstallationChange::Created(vec![NamedRepository {
            id: r.id,
            full_name: r.full_name,
        }]),
    };
    executor
        .apply_installation("github:install", &installed, None)
        .await
        .unwrap();
    let syncer = Syncer::new(
        executor.clone(),
        Arc::new(scantix_core::decide::triage::builtin),
    );
    (store, executor, calls, syncer)
}

#[tokio::test]
async fn a_backfill_of_a_thousand_alerts_makes_eleven_list_calls_and_one_ticket_per_group() {
    let (store, _, calls, syncer) = setup().await;
    let github = MemoryGitHub::new();
    for n in 1..=1000 {
        github.add_finding(alert(n));
    }
    let report = syncer
        .sync_repository(&github, INSTALLATION, &repo(), &Config::default())
        .await
        .unwrap();
    assert!(report.complete);
    assert_eq!((report.alerts_seen, report.applied), (1000, 1000));
    // 10 pages of 100 for the code scanning alerts, and one (empty) page each for the other kinds.
    assert_eq!(report.list_calls, 12, "{report:?}");
    assert_eq!(github.list_calls() as u32, report.list_calls);
    let tracker = calls.snapshot();
    assert_eq!(tracker.create, 10, "ten groups, ten tickets: {tracker:?}");
    assert_eq!(
        tracker.update, 0,
        "joining findings fold into the pending create"
    );
    let groups = store.groups();
    assert_eq!(groups.len(), 10);
    assert!(
        groups
            .iter()
            .all(|g| g.value.tally.open == 100 && g.value.outbox.is_empty())
    );
}

/// Interrupts list call number `fail_on` (counting from 1), once: with a rate limit, or by taking
/// until `outlast` has passed (a slow page that runs the caller out of time) and then answering.
struct RateLimitedOnce {
    inner: MemoryGitHub,
    calls: AtomicU32,
    fail_on: u32,
    outlast: Option<std::time::Instant>,
}

#[async_trait]
impl GitHub for RateLimitedOnce {
    async fn alert_state(
        &self,
        repo: &Repository,
        kind: AlertKind,
        number: u64,
    ) -> Result<AlertState, GitHubError> {
        self.inner.alert_state(repo, kind, number).await
    }
    async fn dismiss_alert(
        &self,
        repo: &Repository,
        kind: AlertKind,
        n: u64,
        r: DismissReason,
        c: &str,
    ) -> Result<(), GitHubError> {
        self.inner.dismiss_alert(repo, kind, n, r, c).await
    }
    async fn reopen_alert(
        &self,
        repo: &Repository,
        kind: AlertKind,
        number: u64,
    ) -> Result<(), GitHubError> {
        self.inner.reopen_alert(repo, kind, number).await
    }
    async fn list_alerts(
        &self,
        repo: &Repository,
        kind: AlertKind,
        query: &AlertQuery,
    ) -> Result<AlertPage, GitHubError> {
        if self.calls.fetch_add(1, Ordering::SeqCst) + 1 == self.fail_on {
            match self.outlast {
                Some(deadline) => {
                    tokio::time::sleep_until(tokio::time::Instant::from_std(deadline)).await;
                }
                None => {
                    return Err(GitHubError::RateLimited {
                        retry_after: std::time::Duration::from_secs(60),
                    });
                }
            }
        }
        self.inner.list_alerts(repo, kind, query).await
    }
    async fn read_file(
        &self,
        repo: &Repository,
        path: &str,
        git_ref: Option<&str>,
    ) -> Result<Option<String>, GitHubError> {
        self.inner.read_file(repo, path, git_ref).await
    }
    async fn upsert_problem_issue(
        &self,
        repo: &Repository,
        topic: &str,
        title: &str,
        body: &str,
    ) -> Result<u64, GitHubError> {
        self.inner
            .upsert_problem_issue(repo, topic, title, body)
            .await
    }
    async fn list_issue_comments(
        &self,
        repo: &Repository,
        number: u64,
    ) -> Result<Vec<scantix_core::ports::github::IssueComment>, GitHubError> {
        self.inner.list_issue_comments(repo, number).await
    }
    async fn create_issue_comment(
        &self,
        repo: &Repository,
        number: u64,
        body: &str,
    ) -> Result<u64, GitHubError> {
        self.inner.create_issue_comment(repo, number, body).await
    }
    async fn update_issue_comment(
        &self,
        repo: &Repository,
        comment_id: u64,
        body: &str,
    ) -> Result<(), GitHubError> {
        self.inner
            .update_issue_comment(repo, comment_id, body)
            .await
    }
}

#[tokio::test]
async fn an_interrupted_backfill_resumes_from_its_cursor() {
    let (store, _, calls, syncer) = setup().await;
    let github = RateLimitedOnce {
        inner: MemoryGitHub::new(),
        calls: AtomicU32::new(0),
        fail_on: 4,
        outlast: None,
    };
    for n in 1..=1000 {
        github.inner.add_finding(alert(n));
    }
    let first = syncer
        .sync_repository(&github, INSTALLATION, &repo(), &Config::default())
        .await
        .unwrap();
    assert!(!first.complete);
    assert_eq!(first.applied, 300, "three pages before the rate limit");
    let cursor = store
        .get_installation(INSTALLATION)
        .await
        .unwrap()
        .unwrap()
        .value
        .repositories[&repo().id]
        .sync[&AlertKind::CodeScanning]
        .clone();
    assert!(cursor.cursor.is_some() && cursor.complete_since.is_none());

    let second = syncer
        .sync_repository(&github, INSTALLATION, &repo(), &Config::default())
        .await
        .unwrap();
    assert!(second.complete);
    assert_eq!(second.applied, 700, "resumed, not restarted: {second:?}");
    assert_eq!(calls.snapshot().create, 10);
    assert_eq!(
        store
            .groups()
            .iter()
            .map(|g| g.value.tally.total())
            .sum::<u32>(),
        1000
    );
}

#[tokio::test]
async fn reconciliation_repairs_a_missed_delivery_and_reads_only_what_changed() {
    let (store, executor, _, syncer) = setup().await;
    let github = MemoryGitHub::new();
    // Ten alerts, one per rule: one group each.
    for n in 1..=10 {
        github.add_finding(alert(n));
    }
    syncer
        .sync_repository(&github, INSTALLATION, &repo(), &Config::default())
        .await
        .unwrap();
    let calls_after_backfill = github.list_calls();

    // Alert 3 is fixed on GitHub, but the delivery never reached scantix.
    let fixed = Finding {
        state: AlertState::Fixed,
        updated_at: Some(Utc::now()),
        ..alert(3)
    };
    github.add_finding(fixed);
    let report = syncer
        .sync_repository(&github, INSTALLATION, &repo(), &Config::default())
        .await
        .unwrap();
    assert_eq!(report.applied, 1, "{report:?}");
    assert_eq!(
        report.alerts_seen, 1,
        "only alerts updated since the last complete read are read"
    );
    let stored = store
        .get_finding(&Fingerprint::of(&alert(3)))
        .await
        .unwrap()
        .unwrap();
    assert_eq!(stored.value.finding.state, AlertState::Fixed);
    let group = store
        .get_group(&stored.value.group_key)
        .await
        .unwrap()
        .unwrap()
        .value;
    assert_eq!(
        group.ticket_state,
        scantix_core::records::TicketState::Stale,
        "its group had only that alert open"
    );
    assert!(github.list_calls() - calls_after_backfill <= 3);

    // Nothing changed since: nothing applied. (The fix landed within the watermark's second, so
    // it may be read once more — the watermark is whole seconds, like GitHub's timestamps.)
    let quiet = syncer
        .sync_repository(&github, INSTALLATION, &repo(), &Config::default())
        .await
        .unwrap();
    assert_eq!(quiet.applied, 0);
    assert!(quiet.alerts_seen <= 1, "{quiet:?}");
    drop(executor);
}

#[tokio::test]
async fn a_deadline_stops_between_pages_and_the_next_run_resumes_without_a_second_ticket() {
    let (store, executor, calls, _) = setup().await;
    // Generous for two pages; the third page itself outlasts it.
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(1);
    let github = RateLimitedOnce {
        inner: MemoryGitHub::new(),
        calls: AtomicU32::new(0),
        fail_on: 3,
        outlast: Some(deadline),
    };
    for n in 1..=1000 {
        github.inner.add_finding(alert(n));
    }
    let bounded = Syncer::new(
        executor.clone(),
        Arc::new(scantix_core::decide::triage::builtin),
    )
    .until(deadline);
    let first = bounded
        .sync_repository(&github, INSTALLATION, &repo(), &Config::default())
        .await
        .unwrap();
    assert!(!first.complete, "{first:?}");
    assert_eq!(
        (first.list_calls, first.applied),
        (3, 300),
        "the page in hand is applied and saved, no further page is asked for"
    );
    assert_eq!(
        (first.groups_synced, calls.snapshot().create),
        (0, 0),
        "out of time: tracker calls stay queued"
    );
    let queued = store
        .groups()
        .iter()
        .filter(|g| !g.value.outbox.is_empty())
        .count();
    assert_eq!(queued, 10);

    // The next run (the sweeper's, without a deadline) resumes at page 4 and files each ticket once.
    let unbounded = Syncer::new(executor, Arc::new(scantix_core::decide::triage::builtin));
    let second = unbounded
        .sync_repository(&github, INSTALLATION, &repo(), &Config::default())
        .await
        .unwrap();
    assert!(second.complete);
    assert_eq!(second.applied, 700, "resumed, not restarted: {second:?}");
    assert_eq!(calls.snapshot().create, 10);
}

#[tokio::test]
async fn a_deadline_already_passed_reads_nothing() {
    let (_, executor, _, _) = setup().await;
    let github = MemoryGitHub::new();
    github.add_finding(alert(1));
    let report = Syncer::new(executor, Arc::new(scantix_core::decide::triage::builtin))
        .until(std::time::Instant::now())
        .sync_repository(&github, INSTALLATION, &repo(), &Config::default())
        .await
        .unwrap();
    assert!(!report.complete);
    assert_eq!((report.list_calls, github.list_calls()), (0, 0));
}

/// Found by the crash-point enumeration (`tests/crash_points.rs`, the App variant): a ticket closed
/// as "won't fix" whose dismissal has not reached GitHub yet (GitHub down, or the worker died
/// after the commit) is still listed open by GitHub. The sweeper's reconciliation used to read
/// that as the alert reopened: it reopened the finding and its ticket, and the queued dismissal,
/// finding the alert open, was dropped — the person's decision undone without a word.
#[tokio::test]
async fn an_alert_whose_won_t_fix_dismissal_is_still_owed_is_not_read_as_reopened() {
    use scantix_core::event::{StatusCategory, TicketChange, TicketEvent};
    use scantix_core::memory::faults::{CrashPoint, Fault, Faults, FaultyGitHub, Moment};
    use scantix_core::records::TicketState;

    let (store, _, _, syncer) = setup().await;
    let github = Arc::new(MemoryGitHub::new());
    // GitHub's own listing, without `updated_at` (as the real payloads): read on every pass.
    let open = code_alert(1, "js/xss", "src/app.js");
    github.add_finding(open.clone());
    syncer
        .sync_repository(&*github, INSTALLATION, &repo(), &Config::default())
        .await
        .unwrap();
    let fingerprint = Fingerprint::of(&open);
    let key = store
        .get_finding(&fingerprint)
        .await
        .unwrap()
        .unwrap()
        .value
        .group_key;
    let ticket = store.get_group(&key).await.unwrap().unwrap().value.ticket;
    let ticket = ticket.expect("the backfill ticketed it");

    // Closed as "won't fix" in the tracker while GitHub refuses the dismissal for now.
    let faults = Faults::new();
    faults.arm(CrashPoint {
        call: 0,
        moment: Moment::Before,
        fault: Fault::Fail,
    });
    let tracker = MemoryTracker::new();
    let closing = Executor::new(store.clone(), Arc::new(tracker), Config::default())
        .with_github(Arc::new(FaultyGitHub::new(github.clone(), faults.clone())));
    let closed = TicketEvent {
        tracker: ticket.tracker.clone(),
        ticket_key: ticket.key.clone(),
        change: TicketChange::Updated {
            status: StatusCategory::Done,
            status_name: "Done".into(),
            resolution: Some("Won't Fix".into()),
            assignee_changed: None,
        },
        actor: Some("Bob".into()),
        actor_id: Some("acc-bob".into()),
    };
    let err = closing
        .apply_ticket("jira:wont-fix", &closed)
        .await
        .unwrap_err();
    assert!(err.is_retryable(), "{err}");
    assert_eq!(faults.struck(), Some("github.dismiss_alert"));
    let owed = store
        .get_finding(&fingerprint)
        .await
        .unwrap()
        .unwrap()
        .value;
    assert_eq!(owed.finding.state, AlertState::Dismissed);
    assert!(owed.pending_dismissal.is_some(), "the dismissal is owed");

    // The sweeper's reconciliation runs before the outbox is drained: GitHub still lists it open.
    let report = syncer
        .sync_repository(&*github, INSTALLATION, &repo(), &Config::default())
        .await
        .unwrap();
    assert_eq!(report.applied, 0, "{report:?}");
    let kept = store
        .get_finding(&fingerprint)
        .await
        .unwrap()
        .unwrap()
        .value;
    assert_eq!(kept.finding.state, AlertState::Dismissed);
    assert!(kept.pending_dismissal.is_some());
    let group = store.get_group(&key).await.unwrap().unwrap().value;
    assert_eq!(
        group.ticket_state,
        TicketState::Resolved,
        "the closure stands"
    );

    // Then the outbox is drained: GitHub gets the dismissal.
    closing.sync_group(&key).await.unwrap();
    let dismissed: Vec<u64> = github.dismissed().iter().map(|d| d.number).collect();
    assert_eq!(dismissed, [1]);
    let paid = store
        .get_finding(&fingerprint)
        .await
        .unwrap()
        .unwrap()
        .value;
    assert!(paid.pending_dismissal.is_none());
}
