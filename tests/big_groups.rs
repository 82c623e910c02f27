//! A group of 10,000 findings through its whole life, on the in-memory store and on DynamoDB
//! Local: a finding joins, one is fixed, the last open one is fixed (the ticket goes stale), one
//! comes back (the ticket reopens). Every event reads and writes a bounded amount whatever the
//! group's size, and the ticket lists its first findings with a count of the rest.
//!
//! The group is seeded through the store port directly (the records `decide` would have written,
//! in commits of a few dozen findings), so the test spends its time on the lifecycle, not on
//! 10,000 deliveries.

use scantix_app::execute::Executor;
use scantix_core::config::Config;
use scantix_core::event::{AlertChange, AlertEvent};
use scantix_core::finding::{AlertState, Finding};
use scantix_core::identity::{GroupKey, GroupingMode};
use scantix_core::memory::counted_tracker::Counted;
use scantix_core::memory::tracker::MemoryTracker;
use scantix_core::ports::store::{Commit, Guarded, Store};
use scantix_core::records::{GroupContent, GroupRecord, OutboxOp, TicketState, Triage, Versioned};
use scantix_core::testing::{code_alert, ticketed_record};
use std::sync::Arc;

const SIZE: u64 = 10_000;
const SEED_CHUNK: usize = 30;

fn alert(number: u64) -> Finding {
    code_alert(
        number,
        "js/sql-injection",
        &format!("src/routes/{}.js", number % 500),
    )
}

fn event(change: AlertChange, action: &str, number: u64) -> AlertEvent {
    let mut finding = alert(number);
    finding.state = match change {
        AlertChange::Fixed => AlertState::Fixed,
        _ => AlertState::Open,
    };
    AlertEvent {
        change,
        action: action.into(),
        finding,
        actor: None,
        installation_id: None,
    }
}

/// Stores a group of `SIZE` findings with its ticket: alert 1 open, the others fixed.
async fn seed(store: &dyn Store) -> GroupKey {
    let now = chrono::Utc::now();
    let first = alert(1);
    let key = GroupKey::for_finding(&first, GroupingMode::Rule);
    let mut group: Option<Versioned<GroupRecord>> = None;
    let mut next = GroupRecord::new(key.clone(), &first, now);
    let numbers: Vec<u64> = (1..=SIZE).collect();
    for chunk in numbers.chunks(SEED_CHUNK) {
        let mut findings = Vec::new();
        for &n in chunk {
            let mut record = ticketed_record(&alert(n), &key, now);
            if n != 1 {
                record.finding.state = AlertState::Fixed;
                record.closed_at = Some(now);
            }
            next.absorb(None, &record);
            findings.push(Guarded::new(record));
        }
        store
            .commit(Commit {
                findings,
                group: Some(Guarded::replacing(next.clone(), group.as_ref())),
                content: group.is_none().then(|| GroupContent::of(&key, &first)),
                ..Commit::default()
            })
            .await
            .expect("seeding the group");
        group = Some(Versioned {
            value: next.clone(),
            version: group.as_ref().map_or(1, |g| g.version + 1),
        });
    }
    // Its ticket, created as the executor would (through the tracker, then linked).
    let mut with_ticket = next.clone();
    with_ticket.push_op(OutboxOp::Create);
    store
        .put_group(Guarded::replacing(with_ticket, group.as_ref()))
        .await
        .expect("queueing the ticket");
    key
}

async fn lifecycle(store: Arc<dyn Store>) {
    let tracker = MemoryTracker::new();
    let key = seed(store.as_ref()).await;
    let (counted, calls) = Counted::new(tracker.clone());
    let exec = Executor::new(store.clone(), Arc::new(counted), Config::default());
    let created = exec.sync_group(&key).await.unwrap().unwrap();
    let ticket = created.ticket.clone().expect("the queued create ran");
    assert_eq!(created.tally.ticketed(), SIZE as u32);
    let shown = tracker.ticket(&ticket.key).unwrap();
    assert!(shown.title.contains("(10000 alerts)"), "{}", shown.title);
    assert!(
        shown.body.matches("- [").count() >= 25,
        "the first findings are listed"
    );
    assert!(
        shown.body.contains("and 9975 more"),
        "the rest are counted: {}",
        shown.body
    );

    let step = async |delivery: &str, e: AlertEvent| {
        exec.apply_alert(delivery, &e, Triage::Ticket)
            .await
            .unwrap()
    };
    // Joins: 10,001 findings, two open.
    let joined = step(
        "github:join",
        event(AlertChange::Opened, "created", SIZE + 1),
    )
    .await;
    assert_eq!(joined.ticket.as_ref(), Some(&ticket));
    // One of the two fixed: still open work.
    let fixed = step("github:fix", event(AlertChange::Fixed, "fixed", SIZE + 1)).await;
    assert_eq!(fixed.ticket_state, Some(TicketState::Open));
    // The last open one fixed: stale.
    let stale = step("github:stale", event(AlertChange::Fixed, "fixed", 1)).await;
    assert_eq!(stale.ticket_state, Some(TicketState::Stale));
    assert_eq!(
        tracker.ticket(&ticket.key).unwrap().state,
        TicketState::Stale
    );
    // One comes back: reopened, on the same ticket.
    let back = step(
        "github:back",
        event(AlertChange::Reappeared, "reopened", 4242),
    )
    .await;
    assert_eq!(back.ticket_state, Some(TicketState::Reopened));
    assert_eq!(back.ticket.as_ref(), Some(&ticket));

    let group = store.get_group(&key).await.unwrap().unwrap().value;
    assert_eq!(
        (group.tally.open, group.tally.fixed),
        (1, SIZE as u32),
        "every finding counted once"
    );
    assert!(group.outbox.is_empty() && group.lease.is_none());
    let record_json = serde_json::to_vec(&group).unwrap().len();
    assert!(
        record_json < 4_096,
        "the group record stays small: {record_json} bytes"
    );
    let calls = calls.snapshot();
    assert_eq!(calls.create, 1, "{calls:?}");
    let top = store
        .group_findings(
            &key,
            scantix_core::ports::store::Members::OpenTicketed,
            None,
            10,
        )
        .await
        .unwrap();
    assert_eq!(
        top.items
            .iter()
            .map(|f| f.value.number())
            .collect::<Vec<_>>(),
        [4242],
        "the one open finding leads the ticket"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_group_of_ten_thousand_lives_its_whole_life_in_memory() {
    lifecycle(Arc::new(scantix_core::memory::store::MemoryStore::new())).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_group_of_ten_thousand_lives_its_whole_life_on_dynamodb() {
    lifecycle(Arc::new(scantix_tests::dynamodb::local_store().await)).await;
}
