//! The executor's promises, on the in-memory store and the in-memory tracker: races yield one
//! ticket, redeliveries change nothing, and a crash at any step followed by a retry neither
//! duplicates nor loses anything. Drafts (no tracker) cost no tracker call and no extra write.

use super::*;
use async_trait::async_trait;
use scantix_core::event::{AlertChange, AlertEvent};
use scantix_core::finding::Finding;
use scantix_core::memory::counted_tracker::{CallCounts, Counted};
use scantix_core::memory::draft_tracker::DraftTracker;
use scantix_core::memory::store::MemoryStore;
use scantix_core::memory::tracker::MemoryTracker;
use scantix_core::records::TicketState;
use scantix_core::testing::code_alert;
use scantix_core::ticket::TicketContent;
use std::sync::atomic::{AtomicBool, AtomicU32, Ordering};

fn opened(finding: Finding) -> AlertEvent {
    AlertEvent {
        change: AlertChange::Opened,
        action: "created".into(),
        finding,
        actor: None,
        installation_id: None,
    }
}

fn fixed(finding: Finding) -> AlertEvent {
    AlertEvent {
        change: AlertChange::Fixed,
        action: "fixed".into(),
        ..opened(finding)
    }
}

fn executor_over(store: Arc<MemoryStore>, tracker: Arc<dyn Tracker>) -> Executor {
    Executor::new(store, tracker, Config::default())
}

struct Setup {
    store: Arc<MemoryStore>,
    exec: Executor,
    counts: Arc<CallCounts>,
    tracker: MemoryTracker,
}

fn tracker_setup() -> Setup {
    let store = Arc::new(MemoryStore::new());
    let tracker = MemoryTracker::new();
    let (counted, counts) = Counted::new(tracker.clone());
    Setup {
        store: store.clone(),
        exec: executor_over(store, Arc::new(counted)),
        counts,
        tracker,
    }
}

#[tokio::test]
async fn a_draft_group_gets_its_draft_in_the_same_write_and_comments_in_its_audit() {
    let store = Arc::new(MemoryStore::new());
    let exec = executor_over(store.clone(), Arc::new(DraftTracker::new()));
    let alert = code_alert(1, "js/xss", "a.js");
    let created = exec
        .apply_alert("github:1", &opened(alert.clone()), Triage::Ticket)
        .await
        .unwrap();
    let key = created.group.clone().unwrap();
    let draft = scantix_core::records::TicketRef::draft(&key);
    assert_eq!(created.ticket, Some(draft.clone()));
    assert_eq!(created.ticket_state, Some(TicketState::Draft));
    assert_eq!(
        store.group_for_ticket("draft", &draft.key).await.unwrap(),
        Some(key.clone()),
        "tracker deliveries naming the draft find its group"
    );
    let stale = exec
        .apply_alert("github:2", &fixed(alert), Triage::Ticket)
        .await
        .unwrap();
    assert_eq!(stale.ticket_state, Some(TicketState::Stale));
    let group = store.get_group(&key).await.unwrap().unwrap().value;
    assert!(
        group.outbox.is_empty() && group.lease.is_none(),
        "nothing owed"
    );
    let comments: Vec<_> = store
        .audit_log(&key)
        .await
        .unwrap()
        .into_iter()
        .filter(|a| a.action == scantix_core::decide::drafts::DRAFT_COMMENT)
        .collect();
    assert_eq!(comments.len(), 1, "the stale note: {comments:?}");
    assert!(comments[0].reason.contains("Marked stale"));
}

#[tokio::test]
async fn a_new_group_gets_one_ticket_and_a_joining_finding_one_update() {
    let Setup {
        store,
        exec,
        counts,
        tracker,
    } = tracker_setup();
    let first = exec
        .apply_alert(
            "github:1",
            &opened(code_alert(1, "js/xss", "a.js")),
            Triage::Ticket,
        )
        .await
        .unwrap();
    assert_eq!(counts.snapshot().create, 1);
    let ticket = first.ticket.clone().expect("ticket linked");
    assert_eq!(first.ticket_state, Some(TicketState::Open));
    let key = first.group.clone().unwrap();
    assert_eq!(
        store.group_for_ticket("memory", &ticket.key).await.unwrap(),
        Some(key.clone())
    );

    let second = exec
        .apply_alert(
            "github:2",
            &opened(code_alert(2, "js/xss", "b.js")),
            Triage::Ticket,
        )
        .await
        .unwrap();
    assert_eq!(second.ticket, Some(ticket.clone()));
    let calls = counts.snapshot();
    assert_eq!((calls.create, calls.update), (1, 1));
    let held = tracker.ticket(&ticket.key).unwrap();
    assert!(held.title.contains("(2 alerts)"), "{}", held.title);
    assert!(held.body.contains("a.js") && held.body.contains("b.js"));
    let group = store.get_group(&key).await.unwrap().unwrap().value;
    assert!(group.outbox.is_empty() && group.lease.is_none());
}

#[tokio::test]
async fn a_redelivered_delivery_makes_no_tracker_call() {
    let Setup { exec, counts, .. } = tracker_setup();
    let event = opened(code_alert(1, "js/xss", "a.js"));
    exec.apply_alert("github:1", &event, Triage::Ticket)
        .await
        .unwrap();
    let before = counts.snapshot();
    let again = exec
        .apply_alert("github:1", &event, Triage::Ticket)
        .await
        .unwrap();
    assert!(again.duplicate && again.actions.is_empty());
    assert_eq!(counts.snapshot(), before);
}

#[tokio::test]
async fn the_lifecycle_ends_stale_and_a_reappearance_reopens_the_same_ticket() {
    let Setup {
        store,
        exec,
        tracker,
        ..
    } = tracker_setup();
    let alert = code_alert(1, "js/xss", "a.js");
    let created = exec
        .apply_alert("github:1", &opened(alert.clone()), Triage::Ticket)
        .await
        .unwrap();
    let stale = exec
        .apply_alert("github:2", &fixed(alert.clone()), Triage::Ticket)
        .await
        .unwrap();
    assert_eq!(stale.ticket_state, Some(TicketState::Stale));
    let ticket = created.ticket.unwrap();
    assert_eq!(
        tracker.ticket(&ticket.key).unwrap().state,
        TicketState::Stale
    );

    let back = AlertEvent {
        change: AlertChange::Reappeared,
        action: "reopened".into(),
        ..opened(alert)
    };
    let reopened = exec
        .apply_alert("github:3", &back, Triage::Ticket)
        .await
        .unwrap();
    assert_eq!(reopened.ticket.as_ref(), Some(&ticket));
    let held = tracker.ticket(&ticket.key).unwrap();
    assert_eq!(held.state, TicketState::Reopened);
    assert_eq!(
        held.comments.len(),
        2,
        "stale note, then reopen note: {:?}",
        held.comments
    );
    let audit = store.audit_log(&created.group.unwrap()).await.unwrap();
    let verbs: Vec<_> = audit.iter().map(|a| a.action.as_str()).collect();
    assert_eq!(
        verbs,
        [
            "finding.triaged",
            "ticket.requested",
            // Recorded with the tracker's answer: the "ticketed" step of the chain of custody.
            "ticket.created",
            "ticket.updated",
            "ticket.stale",
            "ticket.reopened"
        ]
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn concurrent_deliveries_for_a_few_groups_create_exactly_one_ticket_each() {
    let Setup {
        store,
        exec,
        counts,
        tracker,
    } = tracker_setup();
    let exec = Arc::new(exec);
    let mut tasks = Vec::new();
    for i in 0..60u64 {
        let rule = ["js/xss", "js/sql-injection", "js/path-injection"][(i % 3) as usize];
        // Every fifth delivery is sent twice, as GitHub's "redeliver" button or SQS would.
        let copies = if i % 5 == 0 { 2 } else { 1 };
        for _ in 0..copies {
            let exec = exec.clone();
            let event = opened(code_alert(i + 1, rule, &format!("src/{i}.js")));
            tasks.push(tokio::spawn(async move {
                exec.apply_alert(&format!("github:{i}"), &event, Triage::Ticket)
                    .await
            }));
        }
    }
    for task in tasks {
        task.await.unwrap().unwrap();
    }
    assert_eq!(counts.snapshot().create, 3);
    let groups = store.all_groups(None, 100).await.unwrap().items;
    assert_eq!(groups.len(), 3);
    for g in &groups {
        assert_eq!(g.value.tally.open, 20, "{}", g.value.key);
        assert!(g.value.outbox.is_empty() && g.value.ticket.is_some());
        let held = tracker
            .ticket(&g.value.ticket.as_ref().unwrap().key)
            .unwrap();
        assert!(
            held.title.contains("(20 alerts)"),
            "the ticket shows every finding: {}",
            held.title
        );
    }
    // Racing joins were folded into few updates, not one per finding.
    assert!(counts.snapshot().update < 60, "{:?}", counts.snapshot());
    for i in 0..60u64 {
        assert!(
            store
                .get_finding(&scantix_core::identity::Fingerprint::new(
                    42,
                    scantix_core::finding::AlertKind::CodeScanning,
                    i + 1
                ))
                .await
                .unwrap()
                .is_some()
        );
    }
}

/// A tracker that fails on demand: after creating (the tracker has the ticket, the store does not
/// know yet), or before anything (an outage).
struct Faulty {
    inner: Arc<dyn Tracker>,
    fail_after_create: AtomicBool,
    outage: AtomicBool,
    creates: AtomicU32,
}

#[async_trait]
impl Tracker for Faulty {
    fn name(&self) -> &str {
        self.inner.name()
    }
    async fn find_by_group_key(&self, key: &GroupKey) -> Result<Option<TicketRef>, TrackerError> {
        self.check()?;
        self.inner.find_by_group_key(key).await
    }
    async fn create(
        &self,
        content: &TicketContent,
    ) -> Result<(TicketRef, TicketState), TrackerError> {
        self.check()?;
        let made = self.inner.create(content).await?;
        self.creates.fetch_add(1, Ordering::SeqCst);
        if self.fail_after_create.swap(false, Ordering::SeqCst) {
            return Err(TrackerError::Retryable(
                "connection reset after create".into(),
            ));
        }
        Ok(made)
    }
    async fn update(&self, t: &TicketRef, c: &TicketContent) -> Result<(), TrackerError> {
        self.check()?;
        self.inner.update(t, c).await
    }
    async fn comment(&self, t: &TicketRef, id: &str, text: &str) -> Result<(), TrackerError> {
        self.check()?;
        self.inner.comment(t, id, text).await
    }
    async fn transition(&self, t: &TicketRef, to: TicketState) -> Result<(), TrackerError> {
        self.check()?;
        self.inner.transition(t, to).await
    }
}

impl Faulty {
    fn check(&self) -> Result<(), TrackerError> {
        match self.outage.load(Ordering::SeqCst) {
            true => Err(TrackerError::Retryable("503 from tracker".into())),
            false => Ok(()),
        }
    }
}

fn faulty_setup() -> (Arc<MemoryStore>, Executor, Arc<Faulty>, MemoryTracker) {
    let store = Arc::new(MemoryStore::new());
    let tracker = MemoryTracker::new();
    let faulty = Arc::new(Faulty {
        inner: Arc::new(tracker.clone()),
        fail_after_create: AtomicBool::new(false),
        outage: AtomicBool::new(false),
        creates: AtomicU32::new(0),
    });
    (
        store.clone(),
        executor_over(store, faulty.clone()),
        faulty,
        tracker,
    )
}

#[tokio::test]
async fn a_crash_after_the_tracker_created_the_ticket_is_retried_without_a_second_ticket() {
    let (store, exec, faulty, tracker) = faulty_setup();
    faulty.fail_after_create.store(true, Ordering::SeqCst);
    let event = opened(code_alert(1, "js/xss", "a.js"));
    let err = exec
        .apply_alert("github:1", &event, Triage::Ticket)
        .await
        .unwrap_err();
    assert!(err.is_retryable(), "{err}");
    // The event's effect is committed and the create is still owed.
    let key = scantix_core::identity::GroupKey::for_finding(
        &event.finding,
        scantix_core::identity::GroupingMode::Rule,
    );
    let group = store.get_group(&key).await.unwrap().unwrap().value;
    assert!(group.ticket.is_none() && group.outbox.iter().any(|p| p.op == OutboxOp::Create));
    assert!(
        group.lease.is_none(),
        "the failed holder released its lease"
    );
    // The create went out, with no answer known: on record for the retry's lookup.
    let attempt = group.create_attempt.expect("the create is on record");
    assert_eq!(attempt.answered, None);
    assert!(attempt.sent_at <= exec.now());

    // The retry (same delivery: SQS or Jira redelivers) finds the ticket instead of creating one.
    let retried = exec
        .apply_alert("github:1", &event, Triage::Ticket)
        .await
        .unwrap();
    assert!(retried.duplicate);
    assert_eq!(faulty.creates.load(Ordering::SeqCst), 1);
    assert_eq!(tracker.all().len(), 1);
    assert_eq!(retried.ticket.unwrap().key, tracker.all()[0].key);
    let group = store.get_group(&key).await.unwrap().unwrap().value;
    assert_eq!(
        group.create_attempt, None,
        "recorded: nothing left to look for"
    );
}

#[tokio::test]
async fn a_tracker_outage_loses_nothing_and_the_retry_applies_everything_once() {
    let (store, exec, faulty, tracker) = faulty_setup();
    exec.apply_alert(
        "github:1",
        &opened(code_alert(1, "js/xss", "a.js")),
        Triage::Ticket,
    )
    .await
    .unwrap();
    faulty.outage.store(true, Ordering::SeqCst);
    let dismissed = AlertEvent {
        change: AlertChange::Dismissed,
        action: "closed_by_user".into(),
        actor: Some("alice".into()),
        ..opened(code_alert(1, "js/xss", "a.js"))
    };
    assert!(
        exec.apply_alert("github:2", &dismissed, Triage::Ticket)
            .await
            .unwrap_err()
            .is_retryable()
    );
    faulty.outage.store(false, Ordering::SeqCst);
    for _ in 0..2 {
        exec.apply_alert("github:2", &dismissed, Triage::Ticket)
            .await
            .unwrap();
    }
    let group = store
        .all_groups(None, 10)
        .await
        .unwrap()
        .items
        .remove(0)
        .value;
    let held = tracker.ticket(&group.ticket.unwrap().key).unwrap();
    assert_eq!(held.state, TicketState::Stale);
    let dismissals = held
        .comments
        .iter()
        .filter(|c| c.text.contains("dismissed in GitHub by alice"))
        .count();
    assert_eq!(dismissals, 1, "{:?}", held.comments);
}

#[tokio::test]
async fn an_expired_lease_of_a_dead_worker_is_taken_over() {
    let Setup { store, exec, .. } = tracker_setup();
    let event = opened(code_alert(1, "js/xss", "a.js"));
    let key = scantix_core::identity::GroupKey::for_finding(
        &event.finding,
        scantix_core::identity::GroupingMode::Rule,
    );
    // A worker committed, took the lease and died before calling the tracker.
    let mut group =
        scantix_core::records::GroupRecord::new(key.clone(), &event.finding, Utc::now());
    group.push_op(OutboxOp::Create);
    group.lease = Some(Lease {
        token: "dead".into(),
        until: Utc::now() - Duration::seconds(1),
    });
    store.put_group(Guarded::new(group)).await.unwrap();

    let synced = exec.sync_group(&key).await.unwrap().unwrap();
    assert!(synced.ticket.is_some() && synced.outbox.is_empty() && synced.lease.is_none());
}

#[tokio::test]
async fn a_live_lease_held_elsewhere_is_left_to_its_holder() {
    let Setup {
        store,
        exec,
        counts,
        ..
    } = tracker_setup();
    let event = opened(code_alert(1, "js/xss", "a.js"));
    let key = scantix_core::identity::GroupKey::for_finding(
        &event.finding,
        scantix_core::identity::GroupingMode::Rule,
    );
    let mut group =
        scantix_core::records::GroupRecord::new(key.clone(), &event.finding, Utc::now());
    group.push_op(OutboxOp::Create);
    group.lease = Some(Lease {
        token: "busy".into(),
        until: Utc::now() + Duration::seconds(60),
    });
    store.put_group(Guarded::new(group)).await.unwrap();
    // The holder drains it (this caller's op included); nobody waits for it.
    let left = exec.sync_group(&key).await.unwrap().unwrap();
    assert_eq!(
        left.outbox.len(),
        1,
        "the holder's work is left to the holder"
    );
    assert_eq!(counts.snapshot().total(), 0);
    // A delivery joining the group while the lease is held commits its change and returns.
    let joined = exec
        .apply_alert("github:9", &event, Triage::Ticket)
        .await
        .unwrap();
    assert!(!joined.duplicate && joined.ticket.is_none());
    let group = store.get_group(&key).await.unwrap().unwrap().value;
    assert_eq!(group.tally.open, 1, "the event is committed");
    assert_eq!(group.lease.as_ref().unwrap().token, "busy");
}

/// Dependabot alert `number` of one advisory in repository `repo` of the `acme` organisation.
fn advisory_in(repo: u64, number: u64) -> Finding {
    let mut finding = scantix_core::testing::dependabot_alert(
        number,
        "GHSA-wf5p-g6vw-rhxx",
        "axios",
        "package-lock.json",
    );
    finding.repository = scantix_core::finding::Repository {
        id: repo,
        full_name: format!("acme/service-{repo}"),
        default_branch: Some("main".into()),
        html_url: Some(format!("https://github.com/acme/service-{repo}")),
    };
    finding
}

fn organisation_wide() -> Config {
    let mut config = Config::default();
    config.grouping.dependabot = scantix_core::identity::GroupingMode::Advisory;
    config.grouping.scope.dependabot = scantix_core::identity::GroupScope::Organization;
    config
}

#[tokio::test]
async fn an_advisory_across_three_repositories_is_one_organisation_wide_ticket() {
    let store = Arc::new(MemoryStore::new());
    let tracker = MemoryTracker::new();
    let (counted, counts) = Counted::new(tracker.clone());
    let github = Arc::new(scantix_core::memory::github::MemoryGitHub::new());
    let exec = Executor::new(store.clone(), Arc::new(counted), organisation_wide())
        .with_github(github.clone());
    let mut key = None;
    for (n, repo) in [(1, 101), (2, 102), (3, 103)] {
        let outcome = exec
            .apply_alert(
                &format!("github:{n}"),
                &opened(advisory_in(repo, n)),
                Triage::Ticket,
            )
            .await
            .unwrap();
        key = outcome.group.clone();
        github.add_finding(advisory_in(repo, n));
    }
    let key = key.unwrap();
    assert_eq!(
        key.as_str(),
        "org:acme/dependabot/advisory:GHSA-wf5p-g6vw-rhxx"
    );
    assert_eq!(
        counts.snapshot().create,
        1,
        "one ticket for the organisation"
    );
    let group = store.get_group(&key).await.unwrap().unwrap().value;
    assert_eq!(
        group.scope,
        scantix_core::identity::GroupScope::Organization
    );
    assert_eq!(group.tally.open, 3);
    let ticket = tracker.ticket(&group.ticket.clone().unwrap().key).unwrap();
    assert!(
        ticket.title.contains("across 3 repositories"),
        "{}",
        ticket.title
    );
    for repo in ["acme/service-101", "acme/service-102", "acme/service-103"] {
        // Markdown-escaped, as every text from an alert is.
        let shown = scantix_core::ticket::markdown::escape(repo);
        assert!(
            ticket.body.contains(&shown),
            "{repo} listed: {}",
            ticket.body
        );
    }
    assert_eq!(
        store
            .groups_in(
                &scantix_core::ports::store::List::Home("org:acme".into()),
                None,
                10
            )
            .await
            .unwrap()
            .items
            .len(),
        1,
        "listed under the organisation"
    );

    // Closed as "won't fix" in the tracker: each alert is dismissed in its own repository.
    let closed = scantix_core::event::TicketEvent {
        tracker: "memory".into(),
        ticket_key: ticket.key.clone(),
        change: scantix_core::event::TicketChange::Updated {
            status: scantix_core::event::StatusCategory::Done,
            status_name: "Done".into(),
            resolution: Some("Won't Fix".into()),
            assignee_changed: None,
        },
        actor: Some("Bob".into()),
        actor_id: Some("acc-bob".into()),
    };
    exec.apply_ticket("jira:close", &closed).await.unwrap();
    let mut dismissed: Vec<(u64, u64)> = github
        .dismissed()
        .iter()
        .map(|d| (d.repository, d.number))
        .collect();
    dismissed.sort_unstable();
    assert_eq!(dismissed, [(101, 1), (102, 2), (103, 3)]);
    let group = store.get_group(&key).await.unwrap().unwrap().value;
    assert_eq!((group.tally.open, group.tally.dismissed), (0, 3));
    assert!(
        store
            .findings_of(&key)
            .iter()
            .all(|f| f.pending_dismissal.is_none()),
        "every debt paid"
    );
    assert!(group.outbox.is_empty());
}

/// A tracker whose `create` waits for the test's go, saying when it is waiting.
struct Gated {
    inner: MemoryTracker,
    gate: Arc<Gate>,
}

#[derive(Default)]
struct Gate {
    entered: tokio::sync::Notify,
    go: tokio::sync::Notify,
}

#[async_trait]
impl Tracker for Gated {
    fn name(&self) -> &str {
        self.inner.name()
    }
    async fn find_by_group_key(&self, key: &GroupKey) -> Result<Option<TicketRef>, TrackerError> {
        self.inner.find_by_group_key(key).await
    }
    async fn create(
        &self,
        content: &TicketContent,
    ) -> Result<(TicketRef, TicketState), TrackerError> {
        self.gate.entered.notify_one();
        self.gate.go.notified().await;
        self.inner.create(content).await
    }
    async fn update(&self, t: &TicketRef, c: &TicketContent) -> Result<(), TrackerError> {
        self.inner.update(t, c).await
    }
    async fn comment(&self, t: &TicketRef, id: &str, text: &str) -> Result<(), TrackerError> {
        self.inner.comment(t, id, text).await
    }
    async fn transition(&self, t: &TicketRef, to: TicketState) -> Result<(), TrackerError> {
        self.inner.transition(t, to).await
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_burst_joining_a_group_while_its_ticket_is_written_makes_one_update() {
    let store = Arc::new(MemoryStore::new());
    let tickets = MemoryTracker::new();
    let gate = Arc::new(Gate::default());
    let (counted, counts) = Counted::new(Gated {
        inner: tickets.clone(),
        gate: gate.clone(),
    });
    let exec = Arc::new(
        executor_over(store, Arc::new(counted)).with_settings(ExecutorSettings {
            coalesce: std::time::Duration::from_secs(1),
            ..ExecutorSettings::default()
        }),
    );
    let alert = |n: u64| code_alert(n, "js/xss", &format!("src/{n}.js"));

    // The first finding takes the lease and is creating the ticket...
    let first = {
        let exec = exec.clone();
        let alert = alert(1);
        tokio::spawn(async move {
            exec.apply_alert("github:1", &opened(alert), Triage::Ticket)
                .await
        })
    };
    gate.entered.notified().await;
    // ...while the burst's first half joins (each leaves the ticket's work to the holder),
    for n in 2..=50 {
        exec.apply_alert(&format!("github:{n}"), &opened(alert(n)), Triage::Ticket)
            .await
            .unwrap();
    }
    // the ticket is created, and the second half joins while the holder lets the burst go on.
    gate.go.notify_one();
    for n in 51..=100 {
        exec.apply_alert(&format!("github:{n}"), &opened(alert(n)), Triage::Ticket)
            .await
            .unwrap();
    }
    first.await.unwrap().unwrap();

    let calls = counts.snapshot();
    assert_eq!((calls.create, calls.update), (1, 1), "{calls:?}");
    let ticket = tickets.all().into_iter().next().expect("one ticket");
    assert!(ticket.title.ends_with("(100 alerts)"), "{}", ticket.title);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_holder_that_lost_its_lease_while_waiting_leaves_the_ticket_to_the_new_holder() {
    let store = Arc::new(MemoryStore::new());
    let (counted, counts) = Counted::new(MemoryTracker::new());
    let exec = Arc::new(
        executor_over(store.clone(), Arc::new(counted)).with_settings(ExecutorSettings {
            coalesce: std::time::Duration::from_secs(1),
            ..ExecutorSettings::default()
        }),
    );
    let alert = |n: u64| code_alert(n, "js/xss", &format!("src/{n}.js"));
    exec.apply_alert("github:1", &opened(alert(1)), Triage::Ticket)
        .await
        .unwrap();
    let key = store.groups()[0].value.key.clone();

    // A finding joins right after the ticket was written: its holder waits out the burst...
    let joining = {
        let exec = exec.clone();
        tokio::spawn(async move {
            exec.apply_alert("github:2", &opened(alert(2)), Triage::Ticket)
                .await
        })
    };
    tokio::time::sleep(std::time::Duration::from_millis(300)).await;
    // ...and meanwhile its lease is taken over (it expired: a slow store, a paused process).
    let current = store.get_group(&key).await.unwrap().unwrap();
    assert!(
        current.value.lease.is_some(),
        "the joining event holds the lease"
    );
    let mut taken = current.value.clone();
    taken.lease = Some(Lease {
        token: "new holder".into(),
        until: Utc::now() + Duration::seconds(60),
    });
    store
        .put_group(Guarded::replacing(taken, Some(&current)))
        .await
        .unwrap();

    // The join itself is committed whatever the sync answers.
    let _ = joining.await.unwrap();
    // The old holder wrote nothing to the ticket: the new holder's render is the last word.
    let calls = counts.snapshot();
    assert_eq!((calls.create, calls.update), (1, 0), "{calls:?}");
    let group = store.get_group(&key).await.unwrap().unwrap().value;
    assert_eq!(group.tally.total(), 2);
    assert_eq!(group.lease.map(|l| l.token).as_deref(), Some("new holder"));
}

/// The in-memory GitHub twin serving CodeQL's real SARIF (two `js/xss` results with code flows, in
/// `examples/Xss.js` and `examples/Xss2.js`, line 4) as the analysis of `refs/heads/main`.
fn github_with_codeql_analysis() -> Arc<scantix_core::memory::github::MemoryGitHub> {
    let github = Arc::new(scantix_core::memory::github::MemoryGitHub::new());
    let sarif = std::fs::read(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../../../shared/fixtures/sarif/codeql/sett-and-hive-sarif-to-comment-action.codeql.sarif"
    ))
    .expect("the fixture");
    github.add_analysis(
        42,
        scantix_core::ports::github::AnalysisQuery {
            git_ref: "refs/heads/main".into(),
            commit_sha: Some("abc".into()),
            tool: Some("CodeQL".into()),
        },
        sarif,
    );
    github
}

/// Alert `number` of `js/xss` at `path`, line 4, on main at commit `abc`.
fn xss_at(number: u64, path: &str) -> Finding {
    let mut finding = code_alert(number, "js/xss", path);
    if let Some(location) = finding.location.as_mut() {
        location.start_line = Some(4);
    }
    finding
}

#[tokio::test]
async fn a_code_scanning_alert_founding_a_ticket_reads_its_analysis_sarif_once_for_the_flow() {
    let store = Arc::new(MemoryStore::new());
    let github = github_with_codeql_analysis();
    let exec =
        executor_over(store.clone(), Arc::new(DraftTracker::new())).with_github(github.clone());
    let out = exec
        .apply_alert(
            "d-1",
            &opened(xss_at(1, "examples/Xss2.js")),
            Triage::Ticket,
        )
        .await
        .expect("applied");
    assert_eq!(github.analysis_reads(), 1);
    let fp = Fingerprint::of(&xss_at(1, "examples/Xss2.js"));
    let record = store.get_finding(&fp).await.expect("read").expect("stored");
    let flow = record.value.flow().expect("source → sink");
    assert!(flow.starts_with("examples/Xss2.js:"), "{flow}");
    let group = store
        .get_group(&out.group.expect("a group"))
        .await
        .expect("read")
        .expect("stored");
    let content = exec.render(&group.value).await.expect("rendered");
    assert_eq!(content.findings[0].flow.as_deref(), Some(flow.as_str()));

    // The group exists now: its next alert reads nothing, nor does a recorded-only alert.
    exec.apply_alert("d-2", &opened(xss_at(2, "examples/Xss.js")), Triage::Ticket)
        .await
        .expect("applied");
    exec.apply_alert(
        "d-3",
        &opened(code_alert(3, "js/other", "a.js")),
        Triage::Record,
    )
    .await
    .expect("applied");
    assert_eq!(github.analysis_reads(), 1);
}

#[tokio::test]
async fn a_sarif_over_the_size_limit_leaves_the_ticket_without_a_flow() {
    let store = Arc::new(MemoryStore::new());
    let github = Arc::new(scantix_core::memory::github::MemoryGitHub::new());
    github.add_analysis(
        42,
        scantix_core::ports::github::AnalysisQuery {
            git_ref: "refs/heads/main".into(),
            commit_sha: Some("abc".into()),
            tool: Some("CodeQL".into()),
        },
        vec![b' '; alert::ANALYSIS_SARIF_MAX_BYTES + 1],
    );
    let exec =
        executor_over(store.clone(), Arc::new(DraftTracker::new())).with_github(github.clone());
    exec.apply_alert(
        "d-1",
        &opened(xss_at(1, "examples/Xss2.js")),
        Triage::Ticket,
    )
    .await
    .expect("applied all the same");
    assert_eq!(github.analysis_reads(), 1);
    let fp = Fingerprint::of(&xss_at(1, "examples/Xss2.js"));
    let record = store.get_finding(&fp).await.expect("read").expect("stored");
    assert!(record.value.is_ticketed());
    assert_eq!(record.value.flow(), None);
}

/// A worker's lanes about six alerts of one rule, side by side in one task (as
/// `stream::apply_batch` runs them), over a store whose every call yields once after it, as a
/// request to DynamoDB would: all six read the group before any commits. They take turns on the
/// group and each commits once, on the group the lane before it wrote. Before the turns, five of
/// the six lost the race on the group's version, backed off and read again.
#[tokio::test]
async fn lanes_joining_one_group_take_turns_and_each_commits_once() {
    use scantix_core::memory::faults::{Faults, FaultyStore};
    let store = Arc::new(MemoryStore::new());
    let faults = Faults::interleaving(vec![0, 1]);
    let exec = Executor::new(
        Arc::new(FaultyStore::new(store.clone(), faults.clone())),
        Arc::new(DraftTracker::new()),
        Config::default(),
    );
    exec.apply_alert(
        "github:0",
        &opened(code_alert(1, "js/xss", "a.js")),
        Triage::Ticket,
    )
    .await
    .unwrap();
    let lane = |n: u64| {
        let exec = &exec;
        async move {
            let event = opened(code_alert(n, "js/xss", &format!("src/{n}.js")));
            exec.apply_alert(&format!("github:{n}"), &event, Triage::Ticket)
                .await
        }
    };
    let before = faults.calls().len();
    let outcomes = tokio::join!(lane(2), lane(3), lane(4), lane(5), lane(6), lane(7));
    for outcome in [
        outcomes.0, outcomes.1, outcomes.2, outcomes.3, outcomes.4, outcomes.5,
    ] {
        assert!(!outcome.unwrap().duplicate);
    }
    let calls = faults.calls()[before..].to_vec();
    let count = |call: &str| calls.iter().filter(|c| **c == call).count();
    assert_eq!(count("store.commit"), 6, "{calls:?}");
    assert_eq!(count("store.read_event"), 6, "{calls:?}");
    let groups = store.all_groups(None, 10).await.unwrap().items;
    assert_eq!(groups.len(), 1);
    assert_eq!(groups[0].value.tally.open, 7);
}
