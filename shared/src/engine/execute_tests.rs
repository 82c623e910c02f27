//! The executor's promises, on the in-memory store and the draft tracker: races yield one ticket,
//! redeliveries change nothing, and a crash at any step followed by a retry neither duplicates nor
//! loses anything.

use super::*;
use crate::event::{AlertChange, AlertEvent};
use crate::finding::Finding;
use crate::state::TicketState;
use crate::store::memory::MemoryStore;
use crate::testing::code_alert;
use crate::ticket::TicketContent;
use crate::tracker::counted::{CallCounts, Counted};
use crate::tracker::draft::{DraftTracker, draft_key};
use async_trait::async_trait;
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

fn draft_setup() -> (Arc<MemoryStore>, Executor, Arc<CallCounts>) {
    let store = Arc::new(MemoryStore::new());
    let (tracker, counts) = Counted::new(DraftTracker::new(store.clone()));
    (
        store.clone(),
        executor_over(store, Arc::new(tracker)),
        counts,
    )
}

#[tokio::test]
async fn a_new_group_gets_one_draft_ticket_and_a_joining_finding_one_update() {
    let (store, exec, counts) = draft_setup();
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
    assert_eq!(first.ticket_state, Some(TicketState::Draft));
    let key = first.group.clone().unwrap();
    assert_eq!(ticket.key, draft_key(&key));
    assert_eq!(
        store.group_for_ticket("draft", &ticket.key).await.unwrap(),
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
    let draft = store.get_draft(&ticket.key).await.unwrap().unwrap();
    assert!(draft.title.contains("(2 alerts)"), "{}", draft.title);
    assert!(draft.body.contains("a.js") && draft.body.contains("b.js"));
    let group = store.get_group(&key).await.unwrap().unwrap().value;
    assert!(group.outbox.is_empty() && group.lease.is_none());
}

#[tokio::test]
async fn a_redelivered_delivery_makes_no_tracker_call() {
    let (_, exec, counts) = draft_setup();
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
    let (store, exec, _) = draft_setup();
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
        store.get_draft(&ticket.key).await.unwrap().unwrap().state,
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
    let draft = store.get_draft(&ticket.key).await.unwrap().unwrap();
    assert_eq!(draft.state, TicketState::Reopened);
    assert_eq!(
        draft.comments.len(),
        2,
        "stale note, then reopen note: {:?}",
        draft.comments
    );
    let audit = store.audit_log(&created.group.unwrap()).await.unwrap();
    let verbs: Vec<_> = audit.iter().map(|a| a.action.as_str()).collect();
    assert_eq!(
        verbs,
        [
            "finding.triaged",
            "ticket.requested",
            "ticket.updated",
            "ticket.stale",
            "ticket.reopened"
        ]
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn concurrent_deliveries_for_a_few_groups_create_exactly_one_ticket_each() {
    let (store, exec, counts) = draft_setup();
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
    let groups = store.list_groups().await.unwrap();
    assert_eq!(groups.len(), 3);
    for g in &groups {
        assert_eq!(g.value.members.len(), 20, "{}", g.value.key);
        assert!(g.value.outbox.is_empty() && g.value.ticket.is_some());
        let draft = store
            .get_draft(&g.value.ticket.as_ref().unwrap().key)
            .await
            .unwrap()
            .unwrap();
        assert!(
            draft.title.contains("(20 alerts)"),
            "the ticket shows every finding: {}",
            draft.title
        );
    }
    for i in 0..60u64 {
        assert!(
            store
                .get_finding(&crate::identity::Fingerprint::new(
                    42,
                    crate::finding::AlertKind::CodeScanning,
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

fn faulty_setup() -> (Arc<MemoryStore>, Executor, Arc<Faulty>) {
    let store = Arc::new(MemoryStore::new());
    let faulty = Arc::new(Faulty {
        inner: Arc::new(DraftTracker::new(store.clone())),
        fail_after_create: AtomicBool::new(false),
        outage: AtomicBool::new(false),
        creates: AtomicU32::new(0),
    });
    (store.clone(), executor_over(store, faulty.clone()), faulty)
}

#[tokio::test]
async fn a_crash_after_the_tracker_created_the_ticket_is_retried_without_a_second_ticket() {
    let (store, exec, faulty) = faulty_setup();
    faulty.fail_after_create.store(true, Ordering::SeqCst);
    let event = opened(code_alert(1, "js/xss", "a.js"));
    let err = exec
        .apply_alert("github:1", &event, Triage::Ticket)
        .await
        .unwrap_err();
    assert!(err.is_retryable(), "{err}");
    // The event's effect is committed and the create is still owed.
    let key =
        crate::identity::GroupKey::for_finding(&event.finding, crate::identity::GroupingMode::Rule);
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
    assert_eq!(retried.ticket.unwrap().key, draft_key(&key));
    let group = store.get_group(&key).await.unwrap().unwrap().value;
    assert_eq!(
        group.create_attempt, None,
        "recorded: nothing left to look for"
    );
}

#[tokio::test]
async fn a_tracker_outage_loses_nothing_and_the_retry_applies_everything_once() {
    let (store, exec, faulty) = faulty_setup();
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
    let group = store.list_groups().await.unwrap().remove(0).value;
    let draft = store
        .get_draft(&group.ticket.unwrap().key)
        .await
        .unwrap()
        .unwrap();
    assert_eq!(draft.state, TicketState::Stale);
    let dismissals = draft
        .comments
        .iter()
        .filter(|c| c.text.contains("dismissed in GitHub by alice"))
        .count();
    assert_eq!(dismissals, 1, "{:?}", draft.comments);
}

#[tokio::test]
async fn an_expired_lease_of_a_dead_worker_is_taken_over() {
    let (store, exec, _) = draft_setup();
    let event = opened(code_alert(1, "js/xss", "a.js"));
    let key =
        crate::identity::GroupKey::for_finding(&event.finding, crate::identity::GroupingMode::Rule);
    // A worker committed, took the lease and died before calling the tracker.
    let mut group = crate::state::GroupRecord::new(key.clone(), &event.finding, Utc::now());
    group.members.insert(
        Fingerprint::of(&event.finding),
        crate::state::Member::of(&event.finding, true),
    );
    group.push_op(OutboxOp::Create);
    group.lease = Some(Lease {
        token: "dead".into(),
        until: Utc::now() - Duration::seconds(1),
    });
    store
        .put_group(Guarded {
            value: group,
            expected_version: None,
        })
        .await
        .unwrap();

    let synced = exec.sync_group(&key).await.unwrap().unwrap();
    assert!(synced.ticket.is_some() && synced.outbox.is_empty() && synced.lease.is_none());
}

#[tokio::test]
async fn a_live_lease_held_elsewhere_makes_the_caller_wait_then_answer_retryable() {
    let (store, exec, _) = draft_setup();
    let exec = exec.with_settings(ExecutorSettings {
        wait_for_lease: std::time::Duration::from_millis(50),
        ..ExecutorSettings::default()
    });
    let event = opened(code_alert(1, "js/xss", "a.js"));
    let key =
        crate::identity::GroupKey::for_finding(&event.finding, crate::identity::GroupingMode::Rule);
    let mut group = crate::state::GroupRecord::new(key.clone(), &event.finding, Utc::now());
    group.push_op(OutboxOp::Create);
    group.lease = Some(Lease {
        token: "busy".into(),
        until: Utc::now() + Duration::seconds(60),
    });
    store
        .put_group(Guarded {
            value: group,
            expected_version: None,
        })
        .await
        .unwrap();
    let err = exec.sync_group(&key).await.unwrap_err();
    assert!(matches!(err, ExecuteError::SyncPending(_)) && err.is_retryable());
}
