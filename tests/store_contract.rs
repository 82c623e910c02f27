//! The `Store` contract: every scenario runs against the in-memory twin (`memory::*`), the local
//! mode's SQLite database (`sqlite::*`, in a temporary directory) and `DynamoStore` on DynamoDB
//! Local (`dynamodb::*`), so what the engine tests prove with `MemoryStore` also holds locally and
//! in production. What only one adapter has is in `sqlite_only` (crashes, concurrent processes,
//! schema versions, the old JSON store's import) and `dynamodb_only` (the item layout, legacy
//! groups upgraded on read, error mapping).
//!
//! Run it with DynamoDB Local started for it:
//! `scripts/dynamodb-local.sh cargo test -p scantix-tests --test store_contract`.

use anyhow::{Result, ensure};
use chrono::{DateTime, Duration, NaiveDate, Utc};
use scantix_core::decide::budget::rebalance;
use scantix_core::finding::{AlertState, Severity};
use scantix_core::identity::GroupScope;
use scantix_core::identity::{Fingerprint, GroupKey};
use scantix_core::ports::store::{
    Commit, EventKeys, Guarded, InboxSettle, List, Members, Page, Store, StoreError, TicketLink,
    read_all,
};
use scantix_core::records::budget::{BudgetEntry, BudgetLedger, BudgetScope, LEDGER_BYTES};
use scantix_core::records::{
    AuditEntry, FindingRecord, GroupContent, GroupRecord, InstallationRecord, OutboxOp, TicketRef,
    TicketState, Triage, Versioned,
};
use scantix_tests::records::{
    at, audit_entry, delivery_record, finding_record, group_key_of, group_record, sample_finding,
};
use std::collections::BTreeSet;
use std::fmt::Debug;
use std::sync::Arc;

/// Declares each scenario once per backend: `memory::<scenario>`, `sqlite::<scenario>` and
/// `dynamodb::<scenario>`.
macro_rules! contract {
    ($($scenario:ident),* $(,)?) => {
        mod memory {
            $(
                #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
                async fn $scenario() -> anyhow::Result<()> {
                    let store = std::sync::Arc::new(scantix_core::memory::store::MemoryStore::new());
                    super::$scenario(store).await
                }
            )*
        }
        mod sqlite {
            $(
                #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
                async fn $scenario() -> anyhow::Result<()> {
                    let (store, _dir) = scantix_tests::sqlite::temp_store();
                    super::$scenario(std::sync::Arc::new(store)).await
                }
            )*
        }
        mod dynamodb {
            $(
                #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
                async fn $scenario() -> anyhow::Result<()> {
                    let store = std::sync::Arc::new(scantix_tests::dynamodb::local_store().await);
                    super::$scenario(store).await
                }
            )*
        }
    };
}

contract! {
    findings_are_created_once_then_written_only_at_the_version_read,
    groups_are_created_once_then_written_only_at_the_version_read,
    a_stale_guard_writes_nothing_of_the_commit,
    a_duplicate_delivery_writes_nothing_of_the_commit,
    racing_commits_of_one_delivery_let_exactly_one_through,
    concurrent_commits_each_get_their_own_answer,
    the_audit_log_is_oldest_first_in_commit_order,
    a_commit_keeps_every_audit_entry_even_past_the_transaction_limit,
    an_empty_commit_is_a_no_op,
    all_groups_pages_through_every_group_and_nothing_else,
    ticket_links_lead_back_to_their_group,
    a_draft_ticket_lives_in_its_group,
    of_many_writers_at_one_version_exactly_one_wins,
    inbox_items_are_stored_once_and_leave_the_pending_set_when_done,
    a_commit_settles_its_inbox_item_done_in_the_same_write,
    a_commit_settling_an_absent_inbox_item_writes_the_rest_and_creates_no_item,
    pull_request_records_are_created_once_then_written_only_at_the_version_read,
    read_event_returns_each_part,
    concurrent_event_reads_each_see_their_own_records,
    content_is_written_once_with_a_new_group,
    a_commit_of_many_findings_lands_whole_or_not_at_all,
    group_findings_come_in_rank_order_a_page_at_a_time,
    a_findings_rank_moves_with_it_and_leaves_no_stale_entry,
    groups_enter_and_leave_their_home_and_state_lists,
    due_lists_are_earliest_first_and_follow_the_ticket,
    the_queue_lists_groups_with_tracker_calls_oldest_change_first,
    changes_on_lists_a_days_audit_in_time_order,
    installations_are_versioned_and_all_listed,
    analysis_lists_follow_their_findings_in_one_write,
    budget_ledgers_are_written_with_their_group_and_only_at_the_version_read,
    of_many_events_racing_for_a_budgets_last_slot_exactly_one_takes_it,
    a_ledger_at_its_size_limit_is_one_item,
}

fn guarded<T>(value: T, expected_version: Option<u64>) -> Guarded<T> {
    Guarded {
        value,
        expected_version,
        previous: None,
    }
}

fn expect_conflict<T: Debug>(result: Result<T, StoreError>) -> Result<()> {
    ensure!(
        matches!(result, Err(StoreError::Conflict)),
        "expected Conflict, got {result:?}"
    );
    Ok(())
}

fn expect_duplicate<T: Debug>(result: Result<T, StoreError>, id: &str) -> Result<()> {
    ensure!(
        matches!(&result, Err(StoreError::DuplicateDelivery(got)) if got == id),
        "expected DuplicateDelivery({id}), got {result:?}"
    );
    Ok(())
}

/// A commit of just these findings.
fn findings_commit(findings: Vec<Guarded<FindingRecord>>) -> Commit {
    Commit {
        findings,
        ..Commit::default()
    }
}

/// Every page of a paged list read `limit` at a time, checked for the memory store's paging: full
/// pages but the last, no empty page after a full one, a cursor on every page but the last.
async fn pages<T, F, Fut>(limit: usize, mut page: F) -> Result<Vec<T>>
where
    F: FnMut(Option<String>) -> Fut,
    Fut: std::future::Future<Output = Result<Page<T>, StoreError>>,
{
    let mut all = Vec::new();
    let mut after = None;
    for read in 0.. {
        ensure!(read < 10_000, "paging does not end");
        let next = page(after.take()).await?;
        let count = next.items.len();
        all.extend(next.items);
        match next.next {
            Some(cursor) => {
                ensure!(
                    count == limit,
                    "a page with a cursor must be full: {count} of {limit}"
                );
                after = Some(cursor);
            }
            None => {
                ensure!(
                    count > 0 || read == 0,
                    "an empty page after a full one: the previous page should have ended the list"
                );
                break;
            }
        }
    }
    Ok(all)
}

/// The keys of the groups in `list`, read two at a time.
async fn listed(store: &Arc<dyn Store>, list: List) -> Result<Vec<GroupKey>> {
    let groups = pages(2, |after| {
        let store = Arc::clone(store);
        let list = list.clone();
        async move { store.groups_in(&list, after.as_deref(), 2).await }
    })
    .await?;
    Ok(groups.into_iter().map(|g| g.value.key).collect())
}

/// The alert numbers of `group`'s findings of `which`, read `limit` at a time.
async fn members(
    store: &Arc<dyn Store>,
    group: &GroupKey,
    which: Members,
    limit: usize,
) -> Result<Vec<u64>> {
    let found = pages(limit, |after| {
        let store = Arc::clone(store);
        let group = group.clone();
        async move {
            store
                .group_findings(&group, which, after.as_deref(), limit)
                .await
        }
    })
    .await?;
    Ok(found.into_iter().map(|f| f.value.finding.number).collect())
}

async fn findings_are_created_once_then_written_only_at_the_version_read(
    store: Arc<dyn Store>,
) -> Result<()> {
    let finding = sample_finding(7, 1);
    let first = finding_record(&finding, at(0));
    let fingerprint = first.fingerprint.clone();
    assert_eq!(store.get_finding(&fingerprint).await?, None);

    let create = |record, expected| findings_commit(vec![guarded(record, expected)]);
    store.commit(create(first.clone(), None)).await?;
    assert_eq!(
        store.get_finding(&fingerprint).await?,
        Some(Versioned {
            value: first.clone(),
            version: 1
        })
    );
    // A second "create" lost the race to the first.
    expect_conflict(store.commit(create(first.clone(), None)).await)?;

    let mut fixed = first.clone();
    fixed.finding.state = AlertState::Fixed;
    fixed.updated_at = at(60);
    store
        .commit(findings_commit(vec![Guarded::replacing(
            fixed.clone(),
            Some(&Versioned {
                value: first.clone(),
                version: 1,
            }),
        )]))
        .await?;
    // Stale, and from the future: both refused.
    expect_conflict(store.commit(create(first.clone(), Some(1))).await)?;
    expect_conflict(store.commit(create(first.clone(), Some(3))).await)?;
    assert_eq!(
        store.get_finding(&fingerprint).await?,
        Some(Versioned {
            value: fixed,
            version: 2
        })
    );

    // Updating a finding that was never written is a conflict too, and writes nothing.
    let never = finding_record(&sample_finding(7, 2), at(0));
    expect_conflict(store.commit(create(never.clone(), Some(1))).await)?;
    assert_eq!(store.get_finding(&never.fingerprint).await?, None);
    Ok(())
}

async fn groups_are_created_once_then_written_only_at_the_version_read(
    store: Arc<dyn Store>,
) -> Result<()> {
    let finding = sample_finding(7, 1);
    let group = group_record(&finding, at(0));
    let key = group.key.clone();
    assert_eq!(store.get_group(&key).await?, None);

    assert_eq!(store.put_group(guarded(group.clone(), None)).await?, 1);
    expect_conflict(store.put_group(guarded(group.clone(), None)).await)?;

    let mut ticketed = group.clone();
    ticketed.ticket = Some(TicketRef {
        tracker: "jira".into(),
        key: "SEC-1".into(),
        url: None,
    });
    ticketed.ticket_state = TicketState::Open;
    let read = Versioned {
        value: group.clone(),
        version: 1,
    };
    assert_eq!(
        store
            .put_group(Guarded::replacing(ticketed.clone(), Some(&read)))
            .await?,
        2
    );
    expect_conflict(store.put_group(guarded(group.clone(), Some(1))).await)?;
    assert_eq!(
        store.get_group(&key).await?,
        Some(Versioned {
            value: ticketed.clone(),
            version: 2
        })
    );

    // The same guard through a commit.
    let mut resolved = ticketed.clone();
    resolved.ticket_state = TicketState::Resolved;
    let commit = |expected| Commit {
        group: Some(Guarded {
            value: resolved.clone(),
            expected_version: expected,
            previous: Some(ticketed.clone()),
        }),
        ..Commit::default()
    };
    expect_conflict(store.commit(commit(Some(1))).await)?;
    store.commit(commit(Some(2))).await?;
    assert_eq!(
        store.get_group(&key).await?,
        Some(Versioned {
            value: resolved,
            version: 3
        })
    );

    let absent = group_record(&sample_finding(8, 1), at(0));
    expect_conflict(store.put_group(guarded(absent.clone(), Some(4))).await)?;
    assert_eq!(store.get_group(&absent.key).await?, None);
    Ok(())
}

async fn a_stale_guard_writes_nothing_of_the_commit(store: Arc<dyn Store>) -> Result<()> {
    let known = sample_finding(7, 1);
    let group = group_record(&known, at(0));
    let key = group.key.clone();
    let known_record = finding_record(&known, at(0));
    store
        .commit(Commit {
            findings: vec![guarded(known_record.clone(), None)],
            group: Some(guarded(group.clone(), None)),
            ..Commit::default()
        })
        .await?;
    let v1 = Versioned {
        value: group.clone(),
        version: 1,
    };
    let mut moved_on = group.clone();
    moved_on.updated_at = at(30);
    store
        .put_group(Guarded::replacing(moved_on.clone(), Some(&v1)))
        .await?;

    // An event decided on version 1 of the group: its new findings, delivery and audit must not land.
    let newcomers: Vec<FindingRecord> = (2..=4)
        .map(|n| finding_record(&sample_finding(7, n), at(40)))
        .collect();
    let mut grown = group.clone();
    for record in &newcomers {
        grown.absorb(None, record);
    }
    let stale_group = Commit {
        delivery: Some(delivery_record("github:stale-group", Some(&key), at(40))),
        findings: newcomers.iter().map(|r| guarded(r.clone(), None)).collect(),
        group: Some(Guarded::replacing(grown.clone(), Some(&v1))),
        audit: vec![
            audit_entry(&key, "finding.opened", at(40), Some("github:stale-group")),
            audit_entry(&key, "ticket.refreshed", at(40), Some("github:stale-group")),
        ],
        ..Commit::default()
    };
    expect_conflict(store.commit(stale_group.clone()).await)?;
    assert_eq!(store.get_delivery("github:stale-group").await?, None);
    for record in &newcomers {
        assert_eq!(store.get_finding(&record.fingerprint).await?, None);
    }
    assert_eq!(
        store.get_group(&key).await?,
        Some(Versioned {
            value: moved_on.clone(),
            version: 2
        })
    );
    assert_eq!(store.audit_log(&key).await?, vec![]);
    assert_eq!(members(&store, &key, Members::All, 10).await?, vec![1]);

    // The finding's guard is the stale one this time, after records that were fine: SQLite has
    // written those by the time it meets the stale guard, and must roll them back.
    let mut fixed = known_record.clone();
    fixed.updated_at = at(50);
    fixed.finding.state = AlertState::Fixed;
    let v2 = Versioned {
        value: moved_on.clone(),
        version: 2,
    };
    let mut stale_findings = newcomers
        .iter()
        .map(|r| guarded(r.clone(), None))
        .collect::<Vec<_>>();
    stale_findings.push(guarded(fixed.clone(), Some(5)));
    let stale_finding = Commit {
        delivery: Some(delivery_record("github:stale-finding", Some(&key), at(50))),
        findings: stale_findings,
        group: Some(Guarded::replacing(grown.clone(), Some(&v2))),
        audit: vec![audit_entry(
            &key,
            "finding.fixed",
            at(50),
            Some("github:stale-finding"),
        )],
        ..Commit::default()
    };
    expect_conflict(store.commit(stale_finding.clone()).await)?;
    assert_eq!(store.get_delivery("github:stale-finding").await?, None);
    assert_eq!(store.get_group(&key).await?.map(|g| g.version), Some(2));
    for record in &newcomers {
        assert_eq!(store.get_finding(&record.fingerprint).await?, None);
    }
    assert_eq!(store.audit_log(&key).await?, vec![]);
    assert_eq!(
        members(&store, &key, Members::OpenTicketed, 10).await?,
        vec![1],
        "the stale finding's rank did not move"
    );

    // Nothing was recorded, so the same delivery re-decided on fresh state goes through.
    let mut retried = stale_finding.clone();
    let last = retried.findings.len() - 1;
    retried.findings[last] = Guarded::replacing(
        fixed.clone(),
        Some(&Versioned {
            value: known_record.clone(),
            version: 1,
        }),
    );
    store.commit(retried.clone()).await?;
    assert_eq!(
        store.get_finding(&known_record.fingerprint).await?,
        Some(Versioned {
            value: fixed,
            version: 2
        })
    );
    assert_eq!(
        store.get_group(&key).await?,
        Some(Versioned {
            value: grown,
            version: 3
        })
    );
    assert_eq!(store.audit_log(&key).await?, retried.audit);
    assert_eq!(
        store.get_delivery("github:stale-finding").await?,
        retried.delivery
    );
    let mut open = members(&store, &key, Members::OpenTicketed, 10).await?;
    open.sort();
    assert_eq!(open, vec![2, 3, 4]);
    Ok(())
}

async fn a_duplicate_delivery_writes_nothing_of_the_commit(store: Arc<dyn Store>) -> Result<()> {
    let finding = sample_finding(7, 1);
    let record = finding_record(&finding, at(0));
    let key = record.group_key.clone();
    let delivery = delivery_record("github:72d3162e", Some(&key), at(0));
    store
        .commit(Commit {
            delivery: Some(delivery.clone()),
            findings: vec![guarded(record.clone(), None)],
            ..Commit::default()
        })
        .await?;
    assert_eq!(
        store.get_delivery(&delivery.id).await?,
        Some(delivery.clone())
    );

    // GitHub redelivers: the same id, whatever else the commit carries, is refused as a whole.
    let redelivered = Commit {
        delivery: Some(delivery_record("github:72d3162e", Some(&key), at(90))),
        group: Some(guarded(group_record(&finding, at(90)), None)),
        content: Some(GroupContent::of(&key, &finding)),
        links: vec![TicketLink {
            tracker: "jira".into(),
            ticket_key: "SEC-1".into(),
            group: key.clone(),
        }],
        audit: vec![audit_entry(
            &key,
            "group.created",
            at(90),
            Some("github:72d3162e"),
        )],
        ..Commit::default()
    };
    expect_duplicate(store.commit(redelivered).await, "github:72d3162e")?;
    assert_eq!(store.get_group(&key).await?, None);
    assert_eq!(store.get_content(&key).await?, None);
    assert_eq!(store.group_for_ticket("jira", "SEC-1").await?, None);
    assert_eq!(store.audit_log(&key).await?, vec![]);
    assert_eq!(
        store.get_delivery(&delivery.id).await?,
        Some(delivery.clone()),
        "the first record stays"
    );

    // A duplicate is reported as such even when a guard is stale too: it is the definitive answer
    // (an ambiguous timeout retried after the first attempt landed looks exactly like this).
    let replayed = Commit {
        delivery: Some(delivery.clone()),
        findings: vec![guarded(record.clone(), None)],
        ..Commit::default()
    };
    expect_duplicate(store.commit(replayed).await, "github:72d3162e")?;
    assert_eq!(
        store
            .get_finding(&record.fingerprint)
            .await?
            .map(|f| f.version),
        Some(1)
    );
    Ok(())
}

async fn racing_commits_of_one_delivery_let_exactly_one_through(
    store: Arc<dyn Store>,
) -> Result<()> {
    // GitHub retried while the first attempt was still running: several handlers race with one id,
    // each with a different (independent) finding so only the delivery ties them together. Each
    // retries on `Conflict` as the engine does: DynamoDB may cancel racing transactions with
    // TransactionConflict (possibly all of them at first).
    let attempts = (1..=8u64).map(|number| {
        let store = Arc::clone(&store);
        let record = finding_record(&sample_finding(7, number), at(0));
        let commit = Commit {
            delivery: Some(delivery_record("github:raced", None, at(0))),
            findings: vec![guarded(record, None)],
            ..Commit::default()
        };
        tokio::spawn(async move {
            for _ in 0..20 {
                match store.commit(commit.clone()).await {
                    Err(StoreError::Conflict) => {
                        tokio::time::sleep(std::time::Duration::from_millis(20)).await
                    }
                    settled => return settled,
                }
            }
            Err(StoreError::Conflict)
        })
    });
    let mut winners = 0;
    for attempt in attempts.collect::<Vec<_>>() {
        match attempt.await? {
            Ok(()) => winners += 1,
            Err(StoreError::DuplicateDelivery(id)) if id == "github:raced" => {}
            Err(other) => {
                anyhow::bail!("a losing commit must end as DuplicateDelivery, got {other:?}")
            }
        }
    }
    assert_eq!(winners, 1);
    let mut findings_written = 0;
    for number in 1..=8 {
        let fingerprint = finding_record(&sample_finding(7, number), at(0)).fingerprint;
        findings_written += usize::from(store.get_finding(&fingerprint).await?.is_some());
    }
    assert_eq!(findings_written, 1, "only the winner's finding is written");
    Ok(())
}

/// Many commits at once, as a worker's lanes make them (DynamoDB sends those that arrive while
/// one is in flight in one transaction): each lands or fails on its own, as if it had been alone.
/// One decided on a stale group fails with `Conflict`, one of a delivery already applied with
/// `DuplicateDelivery`, and neither stops nor half-writes the others.
async fn concurrent_commits_each_get_their_own_answer(store: Arc<dyn Store>) -> Result<()> {
    let group = group_record(&sample_finding(8, 1), at(0));
    store.put_group(guarded(group.clone(), None)).await?;
    store
        .commit(Commit {
            delivery: Some(delivery_record("github:seen", None, at(0))),
            ..Commit::default()
        })
        .await?;
    let commits = (1..=24u64).map(|n| {
        let record = finding_record(&sample_finding(9, n), at(10));
        let id = match n {
            12 => "github:seen".to_string(),
            n => format!("github:concurrent-{n}"),
        };
        let mut commit = Commit {
            delivery: Some(delivery_record(&id, None, at(10))),
            findings: vec![guarded(record.clone(), None)],
            ..Commit::default()
        };
        if n == 7 {
            // Decided on version 5 of a group that is at version 1.
            let stale = Versioned {
                value: group.clone(),
                version: 5,
            };
            commit.group = Some(Guarded::replacing(group.clone(), Some(&stale)));
        }
        let store = Arc::clone(&store);
        tokio::spawn(async move { (n, record.fingerprint, store.commit(commit).await) })
    });
    for task in commits.collect::<Vec<_>>() {
        let (n, fingerprint, result) = task.await?;
        match n {
            7 => expect_conflict(result)?,
            12 => expect_duplicate(result, "github:seen")?,
            _ => ensure!(result.is_ok(), "commit {n}: {result:?}"),
        }
        let written = store.get_finding(&fingerprint).await?.is_some();
        ensure!(
            written == !matches!(n, 7 | 12),
            "commit {n}: finding written = {written}"
        );
    }
    assert_eq!(
        store.get_group(&group.key).await?.map(|g| g.version),
        Some(1)
    );
    Ok(())
}

async fn the_audit_log_is_oldest_first_in_commit_order(store: Arc<dyn Store>) -> Result<()> {
    let key = group_key_of(&sample_finding(7, 1));
    let other = group_key_of(&sample_finding(8, 1));
    let delivery = Some("github:d1");
    let burst = vec![
        audit_entry(&key, "finding.opened", at(10), delivery),
        audit_entry(&key, "group.created", at(10), delivery),
        audit_entry(&key, "ticket.requested", at(10), delivery),
        audit_entry(&other, "finding.opened", at(10), delivery),
    ];
    store
        .commit(Commit {
            audit: burst.clone(),
            ..Commit::default()
        })
        .await?;
    let later = audit_entry(&key, "ticket.created", at(20), None);
    // Half a second after the burst: sub-second precision must sort correctly too.
    let between = audit_entry(
        &key,
        "ticket.refreshed",
        at(10) + Duration::milliseconds(500),
        None,
    );
    // Logged last but stamped first (a slow handler): the log is ordered by time, not arrival.
    let earliest = audit_entry(&key, "finding.seen", at(5), Some("github:d0"));
    for entry in [&later, &between, &earliest] {
        store
            .commit(Commit {
                audit: vec![entry.clone()],
                ..Commit::default()
            })
            .await?;
    }

    let log = store.audit_log(&key).await?;
    let expected = vec![
        earliest,
        burst[0].clone(),
        burst[1].clone(),
        burst[2].clone(),
        between,
        later,
    ];
    assert_eq!(log, expected);
    assert_eq!(store.audit_log(&other).await?, vec![burst[3].clone()]);
    assert_eq!(
        store
            .audit_log(&group_key_of(&sample_finding(9, 1)))
            .await?,
        vec![]
    );
    Ok(())
}

async fn a_commit_keeps_every_audit_entry_even_past_the_transaction_limit(
    store: Arc<dyn Store>,
) -> Result<()> {
    // A bulk event (a whole rule dismissed at once) can log more entries than DynamoDB's
    // 100-action transaction holds. All of them at one instant: order comes from the commit.
    let finding = sample_finding(7, 1);
    let group = group_record(&finding, at(0));
    let audit: Vec<_> = (0..150)
        .map(|n| {
            audit_entry(
                &group.key,
                &format!("finding.dismissed.{n}"),
                at(100),
                Some("github:bulk"),
            )
        })
        .collect();
    let commit = Commit {
        delivery: Some(delivery_record("github:bulk", Some(&group.key), at(100))),
        findings: vec![guarded(finding_record(&finding, at(100)), None)],
        group: Some(guarded(group.clone(), None)),
        audit: audit.clone(),
        ..Commit::default()
    };
    store.commit(commit).await?;
    assert_eq!(store.audit_log(&group.key).await?, audit);
    assert_eq!(
        store.get_group(&group.key).await?.map(|g| g.version),
        Some(1)
    );
    let day = pages(40, |after| {
        let store = Arc::clone(&store);
        async move {
            store
                .changes_on(at(100).date_naive(), after.as_deref(), 40)
                .await
        }
    })
    .await?;
    assert_eq!(day, audit, "the day's changes hold every entry too");
    Ok(())
}

async fn an_empty_commit_is_a_no_op(store: Arc<dyn Store>) -> Result<()> {
    store.commit(Commit::default()).await?;
    assert_eq!(store.all_groups(None, 10).await?, Page::default());
    assert_eq!(
        store.changes_on(at(0).date_naive(), None, 10).await?,
        Page::default()
    );
    Ok(())
}

async fn all_groups_pages_through_every_group_and_nothing_else(
    store: Arc<dyn Store>,
) -> Result<()> {
    assert_eq!(store.all_groups(None, 2).await?, Page::default());
    let groups: Vec<GroupRecord> = (1..=5)
        .map(|repo| group_record(&sample_finding(repo, 1), at(0)))
        .collect();
    for group in &groups {
        store.put_group(guarded(group.clone(), None)).await?;
    }
    let mut updated = groups[1].clone();
    updated.ticket_state = TicketState::Stale;
    store
        .put_group(Guarded::replacing(
            updated.clone(),
            Some(&Versioned {
                value: groups[1].clone(),
                version: 1,
            }),
        ))
        .await?;

    // Other kinds of records in the same store (the same table, in DynamoDB) are not groups.
    let finding = sample_finding(1, 1);
    store
        .commit(Commit {
            delivery: Some(delivery_record("github:list", Some(&groups[0].key), at(5))),
            findings: vec![guarded(finding_record(&finding, at(5)), None)],
            content: Some(GroupContent::of(&groups[0].key, &finding)),
            links: vec![TicketLink {
                tracker: "jira".into(),
                ticket_key: "SEC-9".into(),
                group: groups[0].key.clone(),
            }],
            audit: vec![audit_entry(
                &groups[0].key,
                "finding.opened",
                at(5),
                Some("github:list"),
            )],
            ..Commit::default()
        })
        .await?;

    // Pages of at most the limit, every group once (DynamoDB reads them in its scan's order).
    let mut seen = Vec::new();
    let mut after: Option<String> = None;
    for _ in 0..10 {
        let page = store.all_groups(after.as_deref(), 2).await?;
        ensure!(page.items.len() <= 2, "a page of {}", page.items.len());
        seen.extend(page.items);
        match page.next {
            Some(next) => after = Some(next),
            None => break,
        }
    }
    seen.sort_by(|a, b| a.value.key.cmp(&b.value.key));
    let mut expected: Vec<Versioned<GroupRecord>> = groups
        .iter()
        .map(|g| Versioned {
            value: g.clone(),
            version: 1,
        })
        .collect();
    expected[1] = Versioned {
        value: updated,
        version: 2,
    };
    expected.sort_by(|a, b| a.value.key.cmp(&b.value.key));
    assert_eq!(seen, expected);
    Ok(())
}

async fn ticket_links_lead_back_to_their_group(store: Arc<dyn Store>) -> Result<()> {
    let first = group_key_of(&sample_finding(7, 1));
    let second = group_key_of(&sample_finding(8, 1));
    assert_eq!(store.group_for_ticket("jira", "SEC-1").await?, None);

    let link = |tracker: &str, ticket_key: &str, group: &GroupKey| TicketLink {
        tracker: tracker.into(),
        ticket_key: ticket_key.into(),
        group: group.clone(),
    };
    let links = |links| Commit {
        links,
        ..Commit::default()
    };
    store
        .commit(links(vec![link("jira", "SEC-1", &first)]))
        .await?;
    // Linking again is harmless.
    store
        .commit(links(vec![link("jira", "SEC-1", &first)]))
        .await?;
    // GitHub issue keys contain `#`, which is also the key separator in DynamoDB.
    store
        .commit(links(vec![link("github", "acme/shop#7", &second)]))
        .await?;

    assert_eq!(
        store.group_for_ticket("jira", "SEC-1").await?,
        Some(first.clone())
    );
    assert_eq!(
        store.group_for_ticket("github", "acme/shop#7").await?,
        Some(second)
    );
    // A key is only meaningful within its tracker.
    assert_eq!(store.group_for_ticket("github", "SEC-1").await?, None);
    assert_eq!(store.group_for_ticket("jira", "acme/shop#7").await?, None);
    Ok(())
}

async fn a_draft_ticket_lives_in_its_group(store: Arc<dyn Store>) -> Result<()> {
    // A draft is no record of its own: the group carries the ticket and its state, the link finds
    // the group, and the group's lists show it like any ticket.
    let finding = sample_finding(7, 1);
    let mut group = group_record(&finding, at(0));
    let draft = TicketRef::draft(&group.key);
    group.ticket = Some(draft.clone());
    group.ticket_state = TicketState::Draft;
    store
        .commit(Commit {
            delivery: Some(delivery_record("github:draft", Some(&group.key), at(0))),
            findings: vec![guarded(finding_record(&finding, at(0)), None)],
            group: Some(guarded(group.clone(), None)),
            content: Some(GroupContent::of(&group.key, &finding)),
            links: vec![TicketLink {
                tracker: draft.tracker.clone(),
                ticket_key: draft.key.clone(),
                group: group.key.clone(),
            }],
            ..Commit::default()
        })
        .await?;
    let read = store.get_group(&group.key).await?;
    assert_eq!(
        read.as_ref().and_then(|g| g.value.ticket.clone()),
        Some(draft.clone())
    );
    assert_eq!(
        store.group_for_ticket("draft", &draft.key).await?,
        Some(group.key.clone())
    );
    assert_eq!(
        listed(&store, List::State(TicketState::Draft)).await?,
        vec![group.key.clone()]
    );
    assert_eq!(
        listed(&store, List::Due).await?,
        vec![group.key.clone()],
        "a draft with open findings is due like any ticket"
    );

    // Resolving the draft is a write of its group, and moves it between lists.
    let mut resolved = group.clone();
    resolved.ticket_state = TicketState::Resolved;
    store
        .put_group(Guarded::replacing(resolved, read.as_ref()))
        .await?;
    assert_eq!(
        listed(&store, List::State(TicketState::Draft)).await?,
        vec![]
    );
    assert_eq!(
        listed(&store, List::State(TicketState::Resolved)).await?,
        vec![group.key.clone()]
    );
    assert_eq!(listed(&store, List::Due).await?, vec![]);
    Ok(())
}

async fn of_many_writers_at_one_version_exactly_one_wins(store: Arc<dyn Store>) -> Result<()> {
    let group = group_record(&sample_finding(7, 1), at(0));
    store.put_group(guarded(group.clone(), None)).await?;
    let read = Versioned {
        value: group.clone(),
        version: 1,
    };

    // Twenty handlers read version 1 and each try to attach their own ticket.
    let writers = (0..20).map(|n| {
        let store = Arc::clone(&store);
        let mut mine = group.clone();
        mine.ticket = Some(TicketRef {
            tracker: "jira".into(),
            key: format!("SEC-{n}"),
            url: None,
        });
        mine.ticket_state = TicketState::Open;
        let write = Guarded::replacing(mine.clone(), Some(&read));
        tokio::spawn(async move { (mine, store.put_group(write).await) })
    });
    let mut winner = None;
    for writer in writers.collect::<Vec<_>>() {
        let (mine, result) = writer.await?;
        match result {
            Ok(version) => {
                ensure!(winner.is_none(), "a second writer won");
                assert_eq!(version, 2);
                winner = Some(mine);
            }
            Err(StoreError::Conflict) => {}
            Err(other) => anyhow::bail!("a losing writer must see Conflict, got {other:?}"),
        }
    }
    let Some(winner) = winner else {
        anyhow::bail!("no writer won")
    };
    assert_eq!(
        store.get_group(&group.key).await?,
        Some(Versioned {
            value: winner,
            version: 2
        })
    );
    // The losers left no list entries behind: one group in the open state.
    assert_eq!(
        listed(&store, List::State(TicketState::Open)).await?,
        vec![group.key.clone()]
    );
    Ok(())
}

/// The inbox: one conditional put per delivery (a redelivery writes nothing), the body kept byte
/// for byte (DynamoDB compresses it), failures counted, `Done` takes an item out of the pending
/// set, oldest first.
async fn inbox_items_are_stored_once_and_leave_the_pending_set_when_done(
    store: Arc<dyn Store>,
) -> Result<()> {
    use scantix_core::inbox::{Applied, InboxItem, InboxSource, InboxStatus};
    // Received now: DynamoDB Local deletes items whose `ttl` has passed within seconds, so these
    // times must lie in the future of their expiry.
    let now = chrono::Utc::now();
    let at = |seconds: i64| now + Duration::seconds(seconds);
    // A real delivery, large enough that compression matters.
    let body = scantix_tests::webhooks::octokit("code_scanning_alert/created.payload.json");
    let first = InboxItem::received(
        InboxSource::Github,
        "github:d-1".into(),
        "code_scanning_alert",
        &body,
        at(10),
    );
    let second = InboxItem::received(InboxSource::Jira, "jira:d-2".into(), "jira", b"{}", at(20));
    ensure!(store.put_inbox(&second).await?, "a new item is written");
    ensure!(store.put_inbox(&first).await?, "a new item is written");
    let mut changed = first.clone();
    changed.body = b"something else".to_vec();
    ensure!(
        !store.put_inbox(&changed).await?,
        "a redelivery writes nothing"
    );
    let stored = store.get_inbox("github:d-1").await?;
    assert_eq!(stored.as_ref(), Some(&first));

    let pending: Vec<String> = store
        .pending_inbox(10)
        .await?
        .into_iter()
        .map(|i| i.id)
        .collect();
    assert_eq!(
        pending,
        vec!["github:d-1".to_string(), "jira:d-2".to_string()]
    );
    assert_eq!(store.pending_inbox(1).await?.len(), 1);

    let failed = Applied::Failed {
        error: "tracker unavailable: 503".into(),
    };
    store.settle_inbox("github:d-1", &failed, at(11)).await?;
    store.settle_inbox("github:d-1", &failed, at(12)).await?;
    let retried = store.get_inbox("github:d-1").await?.expect("still there");
    assert_eq!(retried.attempts, 2);
    assert_eq!(
        retried.last_error.as_deref(),
        Some("tracker unavailable: 503")
    );
    assert_eq!(retried.status, InboxStatus::Pending);
    assert_eq!(retried.body, body);

    let done = Applied::Done {
        outcome: "applied".into(),
    };
    store.settle_inbox("github:d-1", &done, at(13)).await?;
    store.settle_inbox("github:d-1", &done, at(14)).await?;
    assert_eq!(
        store.get_inbox("github:d-1").await?.map(|i| i.status),
        Some(InboxStatus::Done)
    );
    let pending: Vec<String> = store
        .pending_inbox(10)
        .await?
        .into_iter()
        .map(|i| i.id)
        .collect();
    assert_eq!(pending, vec!["jira:d-2".to_string()]);
    // Settling an item that is not there (expired meanwhile) creates nothing.
    store.settle_inbox("github:gone", &done, at(15)).await?;
    ensure!(store.get_inbox("github:gone").await?.is_none(), "no husk");
    Ok(())
}

/// A pending inbox item for delivery `id`, received now (DynamoDB Local deletes items whose `ttl`
/// has passed, so it must lie in the future).
fn pending_item(id: &str) -> scantix_core::inbox::InboxItem {
    scantix_core::inbox::InboxItem::received(
        scantix_core::inbox::InboxSource::Github,
        id.into(),
        "code_scanning_alert",
        b"{}",
        Utc::now(),
    )
}

fn settle_of(id: &str) -> Option<InboxSettle> {
    Some(InboxSettle {
        id: id.into(),
        outcome: "applied".into(),
        at: Utc::now(),
    })
}

/// The worker's commit: the event's records and its inbox item marked done, all in one write, so
/// a commit that fails leaves the item pending and one that succeeds leaves it done.
async fn a_commit_settles_its_inbox_item_done_in_the_same_write(
    store: Arc<dyn Store>,
) -> Result<()> {
    use scantix_core::inbox::{Applied, InboxStatus};
    let item = pending_item("github:settled-1");
    ensure!(store.put_inbox(&item).await?, "a new item is written");
    let finding = sample_finding(7, 1);
    let record = finding_record(&finding, at(0));
    let key = record.group_key.clone();

    // A stale guard: nothing of the commit is written, the settle included.
    let stale = Commit {
        delivery: Some(delivery_record("github:settled-1", Some(&key), at(0))),
        findings: vec![guarded(record.clone(), Some(3))],
        settles: settle_of(&item.id),
        ..Commit::default()
    };
    expect_conflict(store.commit(stale).await)?;
    assert_eq!(
        store.get_inbox(&item.id).await?.map(|i| i.status),
        Some(InboxStatus::Pending)
    );
    ensure!(
        store
            .pending_inbox(10)
            .await?
            .iter()
            .any(|i| i.id == item.id),
        "a failed commit leaves its item pending"
    );

    store
        .commit(Commit {
            delivery: Some(delivery_record("github:settled-1", Some(&key), at(0))),
            findings: vec![guarded(record.clone(), None)],
            settles: settle_of(&item.id),
            ..Commit::default()
        })
        .await?;
    let settled = store.get_inbox(&item.id).await?.expect("still there");
    assert_eq!(settled.status, InboxStatus::Done);
    // Only the status moves: the body and the attempts are as they were.
    assert_eq!(settled.body, item.body);
    assert_eq!(settled.attempts, 0);
    ensure!(
        !store
            .pending_inbox(10)
            .await?
            .iter()
            .any(|i| i.id == item.id),
        "a settled item leaves the pending set"
    );
    ensure!(
        store.get_delivery("github:settled-1").await?.is_some(),
        "the delivery is recorded"
    );
    ensure!(
        store.get_finding(&record.fingerprint).await?.is_some(),
        "the finding is written"
    );

    // A later step of the delivery failed (its tracker calls): the worker's failed attempt puts
    // the item back in the pending set, for the stream's retry or replay.
    let failed = Applied::Failed {
        error: "tracker: 503".into(),
    };
    store.settle_inbox(&item.id, &failed, Utc::now()).await?;
    let again = store.get_inbox(&item.id).await?.expect("still there");
    assert_eq!((again.status, again.attempts), (InboxStatus::Pending, 1));
    assert_eq!(again.last_error.as_deref(), Some("tracker: 503"));
    ensure!(
        store
            .pending_inbox(10)
            .await?
            .iter()
            .any(|i| i.id == item.id),
        "a failed attempt after the commit puts the item back in the pending set"
    );
    Ok(())
}

/// An inbox item that is not there (expired after its 14 days, or never stored) is neither
/// created by a commit that names it nor a reason for the commit to fail: the rest is written.
/// Alone and side by side with commits whose items are there (DynamoDB merges concurrent
/// commits into one transaction; the absent item's condition must cancel nobody else's).
async fn a_commit_settling_an_absent_inbox_item_writes_the_rest_and_creates_no_item(
    store: Arc<dyn Store>,
) -> Result<()> {
    use scantix_core::inbox::InboxStatus;
    let commit_of = |n: u64, settles: &str| {
        let record = finding_record(&sample_finding(n, n), at(0));
        let delivery = delivery_record(
            &format!("github:absent-{n}"),
            Some(&record.group_key),
            at(0),
        );
        (
            record.fingerprint.clone(),
            Commit {
                delivery: Some(delivery),
                findings: vec![guarded(record, None)],
                settles: settle_of(settles),
                ..Commit::default()
            },
        )
    };
    let (fingerprint, alone) = commit_of(1, "github:gone-1");
    store.commit(alone).await?;
    ensure!(store.get_inbox("github:gone-1").await?.is_none(), "no item");
    ensure!(
        store.get_finding(&fingerprint).await?.is_some(),
        "the rest is written"
    );
    ensure!(
        store.get_delivery("github:absent-1").await?.is_some(),
        "the delivery is recorded"
    );

    // Side by side: even ones settle items that are there, odd ones items that are not.
    let mut commits = Vec::new();
    for n in 2..12u64 {
        let item = format!("github:absent-item-{n}");
        if n % 2 == 0 {
            ensure!(store.put_inbox(&pending_item(&item)).await?, "a new item");
        }
        commits.push(commit_of(n, &item));
    }
    let tasks: Vec<_> = commits
        .iter()
        .map(|(_, commit)| {
            let store = Arc::clone(&store);
            let commit = commit.clone();
            tokio::spawn(async move { store.commit(commit).await })
        })
        .collect();
    for task in tasks {
        task.await??;
    }
    for (n, (fingerprint, _)) in (2..12u64).zip(&commits) {
        let item = store.get_inbox(&format!("github:absent-item-{n}")).await?;
        match n % 2 {
            0 => assert_eq!(item.map(|i| i.status), Some(InboxStatus::Done)),
            _ => ensure!(item.is_none(), "no item for {n}"),
        }
        ensure!(
            store.get_finding(fingerprint).await?.is_some(),
            "finding {n} is written"
        );
    }
    Ok(())
}

// ----- Pull request records -----

async fn pull_request_records_are_created_once_then_written_only_at_the_version_read(
    store: Arc<dyn Store>,
) -> Result<()> {
    use scantix_core::records::{FixedTicket, PullRequestRecord, PullRequestState, SummaryAlert};
    let finding = sample_finding(7, 1);
    let repository = finding.repository.clone();
    assert_eq!(store.get_pull_request(repository.id, 12).await?, None);

    let mut first = PullRequestRecord::new(repository.clone(), 12, at(0));
    first.title = "Use prepared statements <b>".into();
    first.summary.analyzed = true;
    first.summary.introduced = vec![SummaryAlert::of(&finding)];
    first.summary.fixes = vec![FixedTicket {
        group_key: group_key_of(&finding),
        ticket: Some(TicketRef {
            tracker: "jira".into(),
            key: "SEC-1".into(),
            url: None,
        }),
        alerts: vec![SummaryAlert::of(&finding)],
        more_alerts: 3,
    }];
    assert_eq!(
        store.put_pull_request(guarded(first.clone(), None)).await?,
        1
    );
    // A second "create" lost the race to the first: exactly one record, so one comment.
    expect_conflict(store.put_pull_request(guarded(first.clone(), None)).await)?;
    assert_eq!(
        store.get_pull_request(repository.id, 12).await?,
        Some(Versioned {
            value: first.clone(),
            version: 1
        })
    );

    let mut commented = first.clone();
    commented.comment_id = Some(4_100_000_001);
    commented.comment_body = Some("<!-- scantix:pr-summary -->\nsummary".into());
    commented.state = PullRequestState::Merged;
    assert_eq!(
        store
            .put_pull_request(guarded(commented.clone(), Some(1)))
            .await?,
        2
    );
    expect_conflict(
        store
            .put_pull_request(guarded(first.clone(), Some(1)))
            .await,
    )?;
    assert_eq!(
        store.get_pull_request(repository.id, 12).await?,
        Some(Versioned {
            value: commented,
            version: 2
        })
    );

    // Keyed by repository and number: another pull request, or the same number elsewhere, is
    // another record; and none of them is a group.
    assert_eq!(store.get_pull_request(repository.id, 13).await?, None);
    assert_eq!(store.get_pull_request(repository.id + 1, 12).await?, None);
    let elsewhere = PullRequestRecord::new(sample_finding(8, 1).repository, 12, at(5));
    store.put_pull_request(guarded(elsewhere, None)).await?;
    assert_eq!(
        store
            .get_pull_request(repository.id, 12)
            .await?
            .map(|r| r.version),
        Some(2)
    );
    ensure!(
        store.all_groups(None, 10).await?.items.is_empty(),
        "a pull request is not a group"
    );
    Ok(())
}

// ----- The event read -----

fn installation(id: u64, account: &str, now: DateTime<Utc>) -> InstallationRecord {
    use scantix_core::records::CoveredRepository;
    InstallationRecord {
        id,
        account: account.into(),
        active: true,
        repositories: [(
            7,
            CoveredRepository {
                id: 7,
                full_name: format!("{account}/shop-7"),
                active: true,
                sync: Default::default(),
            },
        )]
        .into_iter()
        .collect(),
        updated_at: now,
    }
}

async fn read_event_returns_each_part(store: Arc<dyn Store>) -> Result<()> {
    let finding = sample_finding(7, 1);
    let record = finding_record(&finding, at(0));
    let group = group_record(&finding, at(0));
    let keys = EventKeys {
        delivery: "github:event",
        finding: &record.fingerprint,
        group: &group.key,
        installation: Some(41),
    };
    assert_eq!(store.read_event(keys).await?, Default::default());

    let delivery = delivery_record("github:event", Some(&group.key), at(0));
    store
        .commit(Commit {
            delivery: Some(delivery.clone()),
            findings: vec![guarded(record.clone(), None)],
            group: Some(guarded(group.clone(), None)),
            ..Commit::default()
        })
        .await?;
    store
        .put_installation(guarded(installation(41, "acme", at(0)), None))
        .await?;
    let read = store.read_event(keys).await?;
    assert_eq!(read.delivery, Some(delivery));
    assert_eq!(
        read.finding,
        Some(Versioned {
            value: record.clone(),
            version: 1
        })
    );
    assert_eq!(
        read.group,
        Some(Versioned {
            value: group.clone(),
            version: 1
        })
    );
    assert_eq!(
        read.installation,
        Some(Versioned {
            value: installation(41, "acme", at(0)),
            version: 1
        })
    );

    // Each part is looked up by its own key: another delivery, a group the finding is not in
    // (the configuration changed since), no installation asked for.
    let other_group = group_key_of(&sample_finding(8, 1));
    let read = store
        .read_event(EventKeys {
            delivery: "github:another",
            finding: &record.fingerprint,
            group: &other_group,
            installation: None,
        })
        .await?;
    assert_eq!(read.delivery, None);
    assert_eq!(read.finding.map(|f| f.value.group_key), Some(group.key));
    assert_eq!(read.group, None);
    assert_eq!(read.installation, None);
    Ok(())
}

/// Many event reads at once, as a worker's lanes make them (DynamoDB sends those that arrive
/// while one is in flight in one request): each sees exactly its own records.
async fn concurrent_event_reads_each_see_their_own_records(store: Arc<dyn Store>) -> Result<()> {
    // Findings 1..=12 are stored (each with its delivery); 13..=24 are not.
    for n in 1..=12u64 {
        store
            .commit(Commit {
                delivery: Some(delivery_record(&format!("github:read-{n}"), None, at(0))),
                findings: vec![guarded(finding_record(&sample_finding(9, n), at(0)), None)],
                ..Commit::default()
            })
            .await?;
    }
    let reads = (1..=24u64).map(|n| {
        let store = Arc::clone(&store);
        tokio::spawn(async move {
            let finding = sample_finding(9, n);
            let fingerprint = finding_record(&finding, at(0)).fingerprint;
            let group = group_key_of(&finding);
            let delivery = format!("github:read-{n}");
            let read = store
                .read_event(EventKeys {
                    delivery: &delivery,
                    finding: &fingerprint,
                    group: &group,
                    installation: None,
                })
                .await;
            (n, fingerprint, read)
        })
    });
    for task in reads.collect::<Vec<_>>() {
        let (n, fingerprint, read) = task.await?;
        let read = read?;
        let stored = n <= 12;
        ensure!(
            read.finding.as_ref().map(|f| &f.value.fingerprint) == stored.then_some(&fingerprint),
            "read {n}: finding {:?}",
            read.finding
        );
        ensure!(
            read.delivery.as_ref().map(|d| d.id.clone())
                == stored.then(|| format!("github:read-{n}")),
            "read {n}: delivery {:?}",
            read.delivery
        );
    }
    Ok(())
}

async fn content_is_written_once_with_a_new_group(store: Arc<dyn Store>) -> Result<()> {
    let finding = sample_finding(7, 1);
    let group = group_record(&finding, at(0));
    let key = group.key.clone();
    assert_eq!(store.get_content(&key).await?, None);
    let content = GroupContent::of(&key, &finding);
    assert!(content.help.is_some() && content.description.is_some());
    store
        .commit(Commit {
            findings: vec![guarded(finding_record(&finding, at(0)), None)],
            group: Some(guarded(group.clone(), None)),
            content: Some(content.clone()),
            ..Commit::default()
        })
        .await?;
    assert_eq!(store.get_content(&key).await?, Some(content.clone()));

    // Texts offered again (a later commit of the group) never replace the first.
    let mut edited = content.clone();
    edited.help = Some("# Rewritten".into());
    let mut changed = group.clone();
    changed.updated_at = at(10);
    store
        .commit(Commit {
            group: Some(Guarded::replacing(
                changed,
                Some(&Versioned {
                    value: group.clone(),
                    version: 1,
                }),
            )),
            content: Some(edited),
            ..Commit::default()
        })
        .await?;
    assert_eq!(store.get_content(&key).await?, Some(content));

    // A new group whose commit fails leaves no texts either.
    let late = group_record(&sample_finding(8, 1), at(0));
    expect_conflict(
        store
            .commit(Commit {
                group: Some(guarded(late.clone(), Some(1))),
                content: Some(GroupContent::of(&late.key, &sample_finding(8, 1))),
                ..Commit::default()
            })
            .await,
    )?;
    assert_eq!(store.get_content(&late.key).await?, None);
    Ok(())
}

async fn a_commit_of_many_findings_lands_whole_or_not_at_all(store: Arc<dyn Store>) -> Result<()> {
    // A first scan of a repository: forty findings of one rule in one commit with their group.
    let first = sample_finding(7, 1);
    let records: Vec<FindingRecord> = (1..=40)
        .map(|n| finding_record(&sample_finding(7, n), at(n as i64)))
        .collect();
    let mut group = GroupRecord::new(group_key_of(&first), &first, at(0));
    for record in &records {
        group.absorb(None, record);
    }
    let key = group.key.clone();
    store
        .commit(Commit {
            delivery: Some(delivery_record("github:scan", Some(&key), at(50))),
            findings: records.iter().map(|r| guarded(r.clone(), None)).collect(),
            group: Some(guarded(group.clone(), None)),
            content: Some(GroupContent::of(&key, &first)),
            audit: vec![
                audit_entry(&key, "group.created", at(50), Some("github:scan")),
                audit_entry(&key, "findings.opened", at(50), Some("github:scan")),
            ],
            ..Commit::default()
        })
        .await?;
    let mut all = members(&store, &key, Members::All, 7).await?;
    all.sort();
    assert_eq!(all, (1..=40).collect::<Vec<u64>>());
    let stored = store.get_group(&key).await?;
    assert_eq!(stored.as_ref().map(|g| g.value.tally.open), Some(40));

    // Twenty of them fixed at once, in a commit whose last guard is stale: nothing changes.
    let read: Vec<Versioned<FindingRecord>> = records
        .iter()
        .map(|r| Versioned {
            value: r.clone(),
            version: 1,
        })
        .collect();
    let fixed = |r: &Versioned<FindingRecord>| {
        let mut f = r.value.clone();
        f.finding.state = AlertState::Fixed;
        f.closed_at = Some(at(60));
        Guarded::replacing(f, Some(r))
    };
    let mut writes: Vec<Guarded<FindingRecord>> = read[..20].iter().map(fixed).collect();
    let mut stale = fixed(&read[20]);
    stale.expected_version = Some(7);
    writes.push(stale);
    let mut closed = group.clone();
    for write in &writes {
        closed.absorb(write.previous.as_ref(), &write.value);
    }
    let commit = |findings, closed: &GroupRecord| Commit {
        findings,
        group: Some(Guarded::replacing(closed.clone(), stored.as_ref())),
        ..Commit::default()
    };
    expect_conflict(store.commit(commit(writes.clone(), &closed)).await)?;
    assert_eq!(
        members(&store, &key, Members::OpenTicketed, 100)
            .await?
            .len(),
        40
    );
    assert_eq!(store.get_group(&key).await?, stored);

    // The same without the stale guard: all twenty move at once.
    writes.pop();
    let mut closed = group.clone();
    for write in &writes {
        closed.absorb(write.previous.as_ref(), &write.value);
    }
    store.commit(commit(writes, &closed)).await?;
    let mut open = members(&store, &key, Members::OpenTicketed, 100).await?;
    open.sort();
    assert_eq!(open, (21..=40).collect::<Vec<u64>>());
    assert_eq!(
        store.get_group(&key).await?.map(|g| g.value.tally.fixed),
        Some(20)
    );
    Ok(())
}

/// Finding `number` of repository 7's SQL injection group, first seen at `first_seen`.
fn ranked(
    number: u64,
    severity: Severity,
    state: AlertState,
    triage: Triage,
    first_seen: i64,
) -> FindingRecord {
    let mut record = finding_record(&sample_finding(7, number), at(first_seen));
    record.severity = severity;
    record.finding.severity = severity;
    record.finding.state = state;
    record.triage = triage;
    record
}

async fn group_findings_come_in_rank_order_a_page_at_a_time(store: Arc<dyn Store>) -> Result<()> {
    use AlertState::{Dismissed, Fixed, Open};
    use Severity::{Critical, High, Low, Medium};
    use Triage::{Record, Ticket};
    let records = vec![
        ranked(1, High, Open, Ticket, 10),
        ranked(2, Critical, Open, Ticket, 5),
        ranked(3, High, Open, Ticket, 20),
        ranked(4, Low, Open, Ticket, 30),
        ranked(5, Critical, Fixed, Ticket, 40),
        ranked(6, Medium, Dismissed, Ticket, 1),
        ranked(7, Critical, Open, Record, 50),
        ranked(8, Medium, Open, Ticket, 15),
        ranked(9, Low, Fixed, Record, 2),
    ];
    let key = records[0].group_key.clone();
    // Another group's findings are not listed.
    let stranger = finding_record(&sample_finding(8, 1), at(0));
    let mut writes: Vec<_> = records.iter().map(|r| guarded(r.clone(), None)).collect();
    writes.push(guarded(stranger, None));
    store.commit(findings_commit(writes)).await?;

    // Open and ticketed first, most severe first, newest first; then closed; then recorded only.
    let open = vec![2, 3, 1, 8, 4];
    let ticketed = [open.clone(), vec![5, 6]].concat();
    let all = [ticketed.clone(), vec![7, 9]].concat();
    for limit in [1, 2, 3, 100] {
        assert_eq!(
            members(&store, &key, Members::OpenTicketed, limit).await?,
            open,
            "open ticketed, {limit} a page"
        );
        assert_eq!(
            members(&store, &key, Members::Ticketed, limit).await?,
            ticketed,
            "ticketed, {limit} a page"
        );
        assert_eq!(
            members(&store, &key, Members::All, limit).await?,
            all,
            "all, {limit} a page"
        );
    }
    let top = store
        .group_findings(&key, Members::Ticketed, None, 3)
        .await?;
    assert_eq!(
        top.items
            .iter()
            .map(|f| (f.value.finding.number, f.version))
            .collect::<Vec<_>>(),
        vec![(2, 1), (3, 1), (1, 1)],
        "the top of the ticket, with the versions read"
    );
    assert_eq!(
        store
            .group_findings(&group_key_of(&sample_finding(9, 1)), Members::All, None, 5)
            .await?,
        Page::default()
    );
    Ok(())
}

async fn a_findings_rank_moves_with_it_and_leaves_no_stale_entry(
    store: Arc<dyn Store>,
) -> Result<()> {
    let records = [
        ranked(1, Severity::High, AlertState::Open, Triage::Ticket, 10),
        ranked(2, Severity::Medium, AlertState::Open, Triage::Ticket, 10),
    ];
    let key = records[0].group_key.clone();
    store
        .commit(findings_commit(
            records.iter().map(|r| guarded(r.clone(), None)).collect(),
        ))
        .await?;
    let mut current = Versioned {
        value: records[0].clone(),
        version: 1,
    };
    let mut step = |change: &dyn Fn(&mut FindingRecord)| {
        let mut next = current.value.clone();
        change(&mut next);
        let write = Guarded::replacing(next.clone(), Some(&current));
        current = Versioned {
            value: next,
            version: current.version + 1,
        };
        findings_commit(vec![write])
    };

    store
        .commit(step(&|f| f.finding.state = AlertState::Fixed))
        .await?;
    assert_eq!(
        members(&store, &key, Members::OpenTicketed, 10).await?,
        vec![2]
    );
    assert_eq!(members(&store, &key, Members::All, 10).await?, vec![2, 1]);

    // Back, and more severe than before: first again, once.
    store
        .commit(step(&|f| {
            f.finding.state = AlertState::Open;
            f.severity = Severity::Critical;
        }))
        .await?;
    assert_eq!(
        members(&store, &key, Members::OpenTicketed, 10).await?,
        vec![1, 2]
    );
    // Kept for the record only: out of the ticket's findings, still in the group's.
    store.commit(step(&|f| f.triage = Triage::Record)).await?;
    assert_eq!(members(&store, &key, Members::Ticketed, 10).await?, vec![2]);
    assert_eq!(members(&store, &key, Members::All, 1).await?, vec![2, 1]);
    let listed = store
        .group_findings(&key, Members::All, None, 10)
        .await?
        .items;
    assert_eq!(listed.last(), Some(&current), "read back as last written");
    Ok(())
}

/// A group of repository `repo` (rule group of its alert 1) with a ticket in `state` (none when
/// `None`), whose one open finding is due `due_in` days after `at(0)`.
fn ticketed_group(repo: u64, state: Option<TicketState>, due_in: u64) -> GroupRecord {
    let finding = sample_finding(repo, 1);
    let mut record = finding_record(&finding, at(0));
    record.due = Some(at(0).date_naive() + chrono::Days::new(due_in));
    let mut group = GroupRecord::new(group_key_of(&finding), &finding, at(0));
    group.absorb(None, &record);
    if let Some(state) = state {
        group.ticket = Some(TicketRef {
            tracker: "jira".into(),
            key: format!("SEC-{repo}"),
            url: None,
        });
        group.ticket_state = state;
    }
    group
}

/// Writes `group` over what `stored` holds (creating it when `None`); returns it as stored.
async fn write_group(
    store: &Arc<dyn Store>,
    group: GroupRecord,
    stored: Option<&Versioned<GroupRecord>>,
) -> Result<Versioned<GroupRecord>> {
    let version = store
        .put_group(Guarded::replacing(group.clone(), stored))
        .await?;
    Ok(Versioned {
        value: group,
        version,
    })
}

async fn groups_enter_and_leave_their_home_and_state_lists(store: Arc<dyn Store>) -> Result<()> {
    // Two groups of repository 7 (two rules), one of repository 8, one organisation-wide group.
    let sql = ticketed_group(7, None, 30);
    let mut other_rule = sample_finding(7, 2);
    other_rule.rule.id = "js/xss".into();
    let xss = GroupRecord::new(group_key_of(&other_rule), &other_rule, at(0));
    let elsewhere = ticketed_group(8, Some(TicketState::Open), 30);
    let mut org = ticketed_group(9, Some(TicketState::Open), 30);
    org.key = GroupKey::from_stored("org:acme/dependabot/advisory:GHSA-1234");
    org.scope = GroupScope::Organization;
    let sql_stored = write_group(&store, sql.clone(), None).await?;
    write_group(&store, xss.clone(), None).await?;
    let elsewhere_stored = write_group(&store, elsewhere.clone(), None).await?;
    write_group(&store, org.clone(), None).await?;

    let mut home_7 = vec![sql.key.clone(), xss.key.clone()];
    home_7.sort();
    assert_eq!(listed(&store, List::Home("7".into())).await?, home_7);
    assert_eq!(
        listed(&store, List::Home("8".into())).await?,
        vec![elsewhere.key.clone()]
    );
    // Organisation-wide groups are at home in their organisation (by login, lower case).
    assert_eq!(
        listed(&store, List::Home("org:acme".into())).await?,
        vec![org.key.clone()]
    );
    assert_eq!(listed(&store, List::Home("9".into())).await?, vec![]);
    let mut open = vec![elsewhere.key.clone(), org.key.clone()];
    open.sort();
    assert_eq!(listed(&store, List::State(TicketState::Open)).await?, open);
    assert_eq!(
        listed(&store, List::State(TicketState::Draft)).await?,
        vec![],
        "groups without a ticket are in no state list"
    );

    // Repository 7's SQL group gets its ticket; repository 8's goes stale.
    let mut ticketed = sql.clone();
    ticketed.ticket = Some(TicketRef {
        tracker: "jira".into(),
        key: "SEC-7".into(),
        url: None,
    });
    ticketed.ticket_state = TicketState::Open;
    write_group(&store, ticketed, Some(&sql_stored)).await?;
    let mut stale = elsewhere.clone();
    stale.ticket_state = TicketState::Stale;
    let stale_stored = write_group(&store, stale.clone(), Some(&elsewhere_stored)).await?;
    let mut open = vec![sql.key.clone(), org.key.clone()];
    open.sort();
    assert_eq!(listed(&store, List::State(TicketState::Open)).await?, open);
    assert_eq!(
        listed(&store, List::State(TicketState::Stale)).await?,
        vec![elsewhere.key.clone()]
    );

    // Reopened: out of `Stale` again, and in `Reopened` only.
    let mut reopened = stale;
    reopened.ticket_state = TicketState::Reopened;
    write_group(&store, reopened, Some(&stale_stored)).await?;
    assert_eq!(
        listed(&store, List::State(TicketState::Stale)).await?,
        vec![]
    );
    assert_eq!(
        listed(&store, List::State(TicketState::Reopened)).await?,
        vec![elsewhere.key.clone()]
    );
    assert_eq!(
        listed(&store, List::Home("8".into())).await?,
        vec![elsewhere.key.clone()],
        "home is home whatever the state"
    );
    Ok(())
}

async fn due_lists_are_earliest_first_and_follow_the_ticket(store: Arc<dyn Store>) -> Result<()> {
    // Twelve open tickets due on twelve different days, written in an order that is neither
    // their due order nor their key order (and spread over DynamoDB's list shards).
    let due_in: Vec<u64> = vec![9, 3, 12, 1, 7, 5, 11, 2, 8, 4, 10, 6];
    let mut stored = Vec::new();
    for (n, days) in due_in.iter().enumerate() {
        let group = ticketed_group(100 + n as u64, Some(TicketState::Open), *days);
        stored.push(write_group(&store, group, None).await?);
    }
    // Without a ticket, or with a closed one, a group is in no due list.
    write_group(&store, ticketed_group(200, None, 1), None).await?;
    write_group(
        &store,
        ticketed_group(201, Some(TicketState::Resolved), 1),
        None,
    )
    .await?;

    let by_due = |upto: u64| {
        let mut keys: Vec<(u64, GroupKey)> = due_in
            .iter()
            .zip(&stored)
            .filter(|(days, _)| **days <= upto)
            .map(|(days, g)| (*days, g.value.key.clone()))
            .collect();
        keys.sort();
        keys.into_iter().map(|(_, key)| key).collect::<Vec<_>>()
    };
    assert_eq!(listed(&store, List::Due).await?, by_due(99));
    let day = |days: u64| at(0).date_naive() + chrono::Days::new(days);
    assert_eq!(listed(&store, List::DueBy(day(4))).await?, by_due(4));
    assert_eq!(listed(&store, List::DueBy(day(0))).await?, vec![]);
    assert_eq!(listed(&store, List::DueBy(day(12))).await?, by_due(12));

    // The ticket due first is resolved, the one due on day 2 gets an earlier finding (day 0).
    let first = &stored[3];
    let mut resolved = first.value.clone();
    resolved.ticket_state = TicketState::Resolved;
    write_group(&store, resolved, Some(first)).await?;
    let second = &stored[7];
    let mut earlier = second.value.clone();
    let mut urgent = finding_record(&sample_finding(107, 2), at(0));
    urgent.group_key = earlier.key.clone();
    urgent.due = Some(day(0));
    earlier.absorb(None, &urgent);
    write_group(&store, earlier, Some(second)).await?;
    let mut expected = by_due(99);
    expected.retain(|key| *key != first.value.key && *key != second.value.key);
    expected.insert(0, second.value.key.clone());
    assert_eq!(listed(&store, List::Due).await?, expected);
    assert_eq!(
        listed(&store, List::DueBy(day(0))).await?,
        vec![second.value.key.clone()]
    );
    Ok(())
}

async fn the_queue_lists_groups_with_tracker_calls_oldest_change_first(
    store: Arc<dyn Store>,
) -> Result<()> {
    let mut stored = Vec::new();
    // Changed at 50, 10, 30, 20, 40 seconds: queued in that order of time, not of writing.
    for (n, changed) in [50, 10, 30, 20, 40].into_iter().enumerate() {
        let mut group = ticketed_group(300 + n as u64, Some(TicketState::Open), 30);
        group.updated_at = at(changed);
        group.push_op(OutboxOp::Refresh);
        stored.push(write_group(&store, group, None).await?);
    }
    write_group(
        &store,
        ticketed_group(399, Some(TicketState::Open), 30),
        None,
    )
    .await?;
    let key = |n: usize| stored[n].value.key.clone();
    assert_eq!(
        listed(&store, List::Queued).await?,
        vec![key(1), key(3), key(2), key(4), key(0)]
    );

    // Drained: out of the queue. Changed again with a call queued: at its new place.
    let mut drained = stored[1].value.clone();
    drained.outbox.clear();
    drained.updated_at = at(60);
    write_group(&store, drained, Some(&stored[1])).await?;
    let mut requeued = stored[3].value.clone();
    requeued.updated_at = at(70);
    requeued.push_op(OutboxOp::Comment {
        text: "one more".into(),
    });
    write_group(&store, requeued, Some(&stored[3])).await?;
    assert_eq!(
        listed(&store, List::Queued).await?,
        vec![key(2), key(4), key(0), key(3)]
    );
    Ok(())
}

async fn changes_on_lists_a_days_audit_in_time_order(store: Arc<dyn Store>) -> Result<()> {
    let a = group_key_of(&sample_finding(7, 1));
    let b = group_key_of(&sample_finding(8, 1));
    let day = at(0).date_naive();
    let next_day = at(86_400).date_naive();
    let entry = |group: &GroupKey, action: &str, when: DateTime<Utc>| {
        audit_entry(group, action, when, Some("github:day"))
    };
    // Written out of time order, over two commits and two groups; one the next day.
    let first_commit = vec![
        entry(&b, "b.second", at(20)),
        entry(&a, "a.first", at(10)),
        entry(&a, "a.tomorrow", at(86_400)),
    ];
    let second_commit = vec![
        entry(&b, "b.first", at(5)),
        entry(&a, "a.same-instant-as-b", at(20)),
        entry(&a, "a.last", at(30) + Duration::milliseconds(1)),
    ];
    for audit in [&first_commit, &second_commit] {
        store
            .commit(Commit {
                audit: audit.clone(),
                ..Commit::default()
            })
            .await?;
    }
    let read = |day: NaiveDate, limit: usize| {
        let store = Arc::clone(&store);
        async move {
            pages(limit, |after| {
                let store = Arc::clone(&store);
                async move { store.changes_on(day, after.as_deref(), limit).await }
            })
            .await
        }
    };
    let actions =
        |entries: Vec<AuditEntry>| entries.into_iter().map(|e| e.action).collect::<Vec<_>>();
    // By time; at one instant, by group.
    let (of_a, of_b) = ("a.same-instant-as-b", "b.second");
    let same_instant = match a < b {
        true => [of_a, of_b],
        false => [of_b, of_a],
    };
    let expected = [
        vec!["b.first", "a.first"],
        same_instant.to_vec(),
        vec!["a.last"],
    ]
    .concat();
    for limit in [1, 2, 5, 50] {
        assert_eq!(actions(read(day, limit).await?), expected, "{limit} a page");
    }
    assert_eq!(actions(read(next_day, 2).await?), vec!["a.tomorrow"]);
    assert_eq!(read(day.pred_opt().unwrap_or(day), 2).await?, vec![]);
    Ok(())
}

async fn installations_are_versioned_and_all_listed(store: Arc<dyn Store>) -> Result<()> {
    assert_eq!(store.installations().await?, vec![]);
    assert_eq!(store.get_installation(2).await?, None);
    for id in [30, 2, 1_000_000_007] {
        assert_eq!(
            store
                .put_installation(guarded(installation(id, "acme", at(0)), None))
                .await?,
            1
        );
    }
    expect_conflict(
        store
            .put_installation(guarded(installation(2, "acme", at(0)), None))
            .await,
    )?;
    let mut suspended = installation(2, "acme", at(10));
    suspended.active = false;
    assert_eq!(
        store
            .put_installation(Guarded::replacing(
                suspended.clone(),
                Some(&Versioned {
                    value: installation(2, "acme", at(0)),
                    version: 1
                })
            ))
            .await?,
        2
    );
    expect_conflict(
        store
            .put_installation(guarded(installation(2, "acme", at(20)), Some(1)))
            .await,
    )?;
    expect_conflict(
        store
            .put_installation(guarded(installation(5, "acme", at(20)), Some(1)))
            .await,
    )?;
    assert_eq!(
        store.get_installation(2).await?,
        Some(Versioned {
            value: suspended.clone(),
            version: 2
        })
    );
    let all = store.installations().await?;
    assert_eq!(
        all.iter()
            .map(|i| (i.value.id, i.version))
            .collect::<Vec<_>>(),
        vec![(2, 2), (30, 1), (1_000_000_007, 1)],
        "every installation once, by id"
    );
    assert_eq!(all[0].value, suspended);
    Ok(())
}

/// Reads every finding of `group` (any order), for checks of a whole group.
async fn all_findings(store: &Arc<dyn Store>, group: &GroupKey) -> Result<Vec<FindingRecord>> {
    let found = read_all(|after| {
        let store = Arc::clone(store);
        let group = group.clone();
        async move {
            store
                .group_findings(&group, Members::All, after.as_deref(), 100)
                .await
        }
    })
    .await?;
    Ok(found.into_iter().map(|f| f.value).collect())
}

/// The fingerprints of `records`.
fn fingerprints(records: &[FindingRecord]) -> BTreeSet<Fingerprint> {
    records.iter().map(|r| r.fingerprint.clone()).collect()
}

/// What only the SQLite adapter has: a file that outlives processes (crashes, two processes at
/// once, readers beside a writer), a schema version, and the import of the old local JSON store.
mod sqlite_only {
    use super::*;
    use scantix_sqlite::{DATABASE_FILE, LEGACY_FILE, SCHEMA_VERSION, SqliteStore};
    use scantix_tests::sqlite::{TempDir, temp_store};
    use std::io::BufRead;
    use std::path::Path;
    use std::time::Instant;

    /// A connection of the test's own to the store's database file, to look beneath the port.
    fn raw(dir: &Path) -> Result<rusqlite::Connection> {
        Ok(rusqlite::Connection::open(dir.join(DATABASE_FILE))?)
    }

    // ----- Crashes -----

    /// Tells `crash_writer` where the store is (and that it runs as a child of the crash test).
    const CRASH_DIR: &str = "SCANTIX_TEST_CRASH_DIR";
    /// Findings per commit of the crash writer, and audit entries.
    const BATCH: u64 = 25;
    const AUDIT_PER_COMMIT: usize = 5;

    fn crash_group() -> GroupKey {
        group_key_of(&sample_finding(7, 1))
    }

    /// The writer the crash test kills: commits batches of findings into one group, forever,
    /// each commit building on the last (the group's version and counts), and says when one
    /// landed.
    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    #[ignore = "the writer that a_writer_killed_mid_commit_leaves_whole_commits_only runs and kills"]
    async fn crash_writer() -> Result<()> {
        let dir = std::env::var(CRASH_DIR)
            .map_err(|_| anyhow::anyhow!("{CRASH_DIR} is not set: run the crash test instead"))?;
        let store = SqliteStore::open(&dir)?;
        let key = crash_group();
        loop {
            let read = store.get_group(&key).await?;
            let k = read
                .as_ref()
                .map_or(0, |g| u64::from(g.value.tally.total()) / BATCH);
            let first = sample_finding(7, 1);
            let mut group = match &read {
                Some(g) => g.value.clone(),
                None => GroupRecord::new(key.clone(), &first, at(0)),
            };
            let delivery = format!("github:crash-{k}");
            let records: Vec<FindingRecord> = (k * BATCH + 1..=(k + 1) * BATCH)
                .map(|n| finding_record(&sample_finding(7, n), at(n as i64)))
                .collect();
            for record in &records {
                group.absorb(None, record);
            }
            group.updated_at = at(k as i64);
            store
                .commit(Commit {
                    delivery: Some(delivery_record(&delivery, Some(&key), at(k as i64))),
                    findings: records.into_iter().map(|r| guarded(r, None)).collect(),
                    group: Some(Guarded::replacing(group, read.as_ref())),
                    audit: (0..AUDIT_PER_COMMIT)
                        .map(|n| {
                            audit_entry(
                                &key,
                                &format!("crash.{k}.{n}"),
                                at(k as i64),
                                Some(&delivery),
                            )
                        })
                        .collect(),
                    ..Commit::default()
                })
                .await?;
            println!("committed {k}");
        }
    }

    /// What a crashed writer left: whole commits and nothing else. Returns how many landed.
    async fn whole_commits(dir: &Path) -> Result<u64> {
        let integrity: String =
            raw(dir)?.query_row("PRAGMA integrity_check", [], |row| row.get(0))?;
        assert_eq!(integrity, "ok");
        let store: Arc<dyn Store> = Arc::new(SqliteStore::open(dir)?);
        let key = crash_group();
        let Some(group) = store.get_group(&key).await? else {
            return Ok(0);
        };
        let findings = all_findings(&store, &key).await?;
        let total = u64::from(group.value.tally.total());
        assert_eq!(
            findings.len() as u64,
            total,
            "the group counts its findings"
        );
        ensure!(
            total % BATCH == 0,
            "a commit landed in part: {total} findings"
        );
        let landed = total / BATCH;
        assert_eq!(group.version, landed, "one group write per commit");
        for k in 0..landed {
            ensure!(
                store
                    .get_delivery(&format!("github:crash-{k}"))
                    .await?
                    .is_some(),
                "commit {k}'s findings without its delivery"
            );
        }
        ensure!(
            store
                .get_delivery(&format!("github:crash-{landed}"))
                .await?
                .is_none(),
            "a delivery without its findings"
        );
        assert_eq!(
            store.audit_log(&key).await?.len(),
            landed as usize * AUDIT_PER_COMMIT
        );
        Ok(landed)
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn a_writer_killed_mid_commit_leaves_whole_commits_only() -> Result<()> {
        let dir = TempDir::new();
        let mut landed = 0;
        for round in 0..8u64 {
            let mut child = std::process::Command::new(std::env::current_exe()?)
                .args([
                    "--exact",
                    "sqlite_only::crash_writer",
                    "--ignored",
                    "--nocapture",
                    "--test-threads",
                    "1",
                ])
                .env(CRASH_DIR, dir.path())
                .stdout(std::process::Stdio::piped())
                .stderr(std::process::Stdio::null())
                .spawn()?;
            let stdout = child
                .stdout
                .take()
                .ok_or_else(|| anyhow::anyhow!("no stdout"))?;
            // Once the writer has committed this round, let it write on for a few milliseconds
            // (a different number each round), then kill it (SIGKILL: no destructor runs).
            let started = tokio::task::spawn_blocking(move || {
                std::io::BufReader::new(stdout)
                    .lines()
                    .map_while(Result::ok)
                    .any(|line| line.starts_with("committed"))
            })
            .await?;
            ensure!(started, "the writer never committed (round {round})");
            tokio::time::sleep(std::time::Duration::from_millis(3 + 7 * round)).await;
            child.kill()?;
            child.wait()?;
            let now = whole_commits(dir.path()).await?;
            ensure!(now > landed, "round {round}: no commit landed ({now})");
            landed = now;
        }
        Ok(())
    }

    // ----- Processes, readers and writers -----

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn two_processes_on_one_file_let_one_of_racing_commits_through() -> Result<()> {
        // Two stores on one file have a connection each, as two processes do: SQLite's file lock,
        // not the store's mutex, decides between them.
        let dir = TempDir::new();
        let stores: Vec<Arc<dyn Store>> = vec![
            Arc::new(SqliteStore::open(dir.path())?),
            Arc::new(SqliteStore::open(dir.path())?),
        ];
        let attempts = (1..=8u64).map(|number| {
            let store = Arc::clone(&stores[number as usize % 2]);
            let commit = Commit {
                delivery: Some(delivery_record("github:two-processes", None, at(0))),
                findings: vec![guarded(
                    finding_record(&sample_finding(7, number), at(0)),
                    None,
                )],
                ..Commit::default()
            };
            tokio::spawn(async move { store.commit(commit).await })
        });
        let mut winners = 0;
        for attempt in attempts.collect::<Vec<_>>() {
            match attempt.await? {
                Ok(()) => winners += 1,
                Err(StoreError::DuplicateDelivery(_)) => {}
                Err(other) => anyhow::bail!("expected a duplicate, got {other:?}"),
            }
        }
        assert_eq!(winners, 1);
        // What one wrote, the other reads at once.
        let key = group_key_of(&sample_finding(7, 1));
        let written = members(&stores[0], &key, Members::All, 10).await?;
        assert_eq!(members(&stores[1], &key, Members::All, 10).await?, written);
        assert_eq!(written.len(), 1);
        Ok(())
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn readers_go_on_while_another_process_writes() -> Result<()> {
        let (store, dir) = temp_store();
        let store: Arc<dyn Store> = Arc::new(store);
        let group = group_record(&sample_finding(7, 1), at(0));
        store.put_group(guarded(group.clone(), None)).await?;

        // Another process holds the write lock, in the middle of a transaction.
        let other = raw(dir.path())?;
        other.execute_batch("BEGIN IMMEDIATE; CREATE TABLE half_done (x)")?;
        let started = Instant::now();
        for _ in 0..20 {
            assert_eq!(
                store.get_group(&group.key).await?.map(|g| g.version),
                Some(1)
            );
            assert_eq!(listed(&store, List::Home("7".into())).await?.len(), 1);
        }
        ensure!(
            started.elapsed() < std::time::Duration::from_secs(2),
            "reads waited for the writer: {:?}",
            started.elapsed()
        );
        // A write waits for the lock (the busy timeout) instead of failing, and lands after.
        let writer = {
            let store = Arc::clone(&store);
            let mut next = group.clone();
            next.updated_at = at(5);
            let write = Guarded::replacing(
                next,
                Some(&Versioned {
                    value: group.clone(),
                    version: 1,
                }),
            );
            tokio::spawn(async move { store.put_group(write).await })
        };
        tokio::time::sleep(std::time::Duration::from_millis(300)).await;
        ensure!(!writer.is_finished(), "the write did not wait for the lock");
        other.execute_batch("ROLLBACK")?;
        assert_eq!(writer.await??, 2);
        Ok(())
    }

    #[tokio::test]
    async fn a_write_costs_what_it_changes() -> Result<()> {
        // A group of 2,000 findings; then one more finding joins it. The write-ahead log shows
        // what the commit wrote: a few pages, not the group's findings again.
        let (store, dir) = temp_store();
        let first = sample_finding(7, 1);
        let mut group = GroupRecord::new(group_key_of(&first), &first, at(0));
        let mut version = None;
        for batch in 0..40u64 {
            let records: Vec<FindingRecord> = (batch * 50 + 1..=batch * 50 + 50)
                .map(|n| finding_record(&sample_finding(7, n), at(n as i64)))
                .collect();
            let previous = group.clone();
            for record in &records {
                group.absorb(None, record);
            }
            store
                .commit(Commit {
                    findings: records.into_iter().map(|r| guarded(r, None)).collect(),
                    group: Some(Guarded {
                        value: group.clone(),
                        expected_version: version,
                        previous: version.map(|_| previous),
                    }),
                    ..Commit::default()
                })
                .await?;
            version = Some(version.unwrap_or(0) + 1);
        }
        let wal = dir.path().join(format!("{DATABASE_FILE}-wal"));
        let checkpoint = |conn: &rusqlite::Connection| -> Result<()> {
            conn.query_row("PRAGMA wal_checkpoint(TRUNCATE)", [], |_| Ok(()))?;
            Ok(())
        };
        let conn = raw(dir.path())?;
        checkpoint(&conn)?;
        let database = std::fs::metadata(dir.path().join(DATABASE_FILE))?.len();
        assert_eq!(std::fs::metadata(&wal)?.len(), 0);

        let joining = finding_record(&sample_finding(7, 5_000), at(9_000));
        let mut joined = group.clone();
        joined.absorb(None, &joining);
        store
            .commit(Commit {
                delivery: Some(delivery_record("github:join", Some(&group.key), at(9_000))),
                findings: vec![guarded(joining, None)],
                group: Some(guarded(joined, version)),
                audit: vec![audit_entry(&group.key, "finding.opened", at(9_000), None)],
                ..Commit::default()
            })
            .await?;
        let written = std::fs::metadata(&wal)?.len();
        println!("database {database} bytes; one joining commit wrote {written} bytes of log");
        ensure!(
            written < 128 * 1024 && written * 20 < database,
            "a commit of one finding wrote {written} bytes (the database is {database})"
        );
        Ok(())
    }

    // ----- Schema -----

    #[test]
    fn the_database_says_its_schema_version_and_a_newer_one_is_refused() -> Result<()> {
        let (store, dir) = temp_store();
        drop(store);
        let conn = raw(dir.path())?;
        let version: u32 =
            conn.query_row("SELECT version FROM schema_version", [], |row| row.get(0))?;
        assert_eq!(version, SCHEMA_VERSION);
        let mode: String = conn.query_row("PRAGMA journal_mode", [], |row| row.get(0))?;
        assert_eq!(mode, "wal");
        // Opening again changes nothing.
        drop(SqliteStore::open(dir.path())?);
        let version: u32 =
            conn.query_row("SELECT version FROM schema_version", [], |row| row.get(0))?;
        assert_eq!(version, SCHEMA_VERSION);

        conn.execute(
            "UPDATE schema_version SET version = ?1",
            [SCHEMA_VERSION + 1],
        )?;
        let result = SqliteStore::open(dir.path());
        assert!(
            matches!(&result, Err(StoreError::Rejected(m)) if m.contains("newer scantix")),
            "{result:?}"
        );
        Ok(())
    }

    /// The audit trail is append-only beneath the port too: a statement that would change or
    /// delete an entry (ours by mistake, or a person's at the sqlite3 prompt) is refused, and the
    /// entry reads as written.
    #[tokio::test]
    async fn audit_entries_cannot_be_updated_or_deleted_in_the_file() -> Result<()> {
        let (store, dir) = temp_store();
        let key = group_key_of(&sample_finding(5, 1));
        let entry = audit_entry(&key, "finding.triaged", at(10), Some("github:d1"));
        store
            .commit(Commit {
                audit: vec![entry.clone()],
                ..Commit::default()
            })
            .await?;
        let conn = raw(dir.path())?;
        for statement in [
            "UPDATE audit SET doc = '{}'",
            "UPDATE audit SET at = '2000-01-01T00:00:00Z'",
            "DELETE FROM audit",
        ] {
            let refused = conn.execute(statement, []);
            assert!(
                matches!(&refused, Err(e) if e.to_string().contains("append-only")),
                "{statement}: {refused:?}"
            );
        }
        assert_eq!(store.audit_log(&key).await?, vec![entry]);
        Ok(())
    }

    // ----- The old local store -----

    /// The old CLI's store file (see tests/fixtures/legacy/README.md).
    fn legacy_fixture() -> &'static str {
        include_str!("fixtures/legacy/store.json")
    }

    fn with_legacy_file(dir: &Path) -> Result<()> {
        std::fs::write(dir.join(LEGACY_FILE), legacy_fixture())?;
        Ok(())
    }

    /// The audit entries the fixture holds, per key.
    fn fixture_audit(fixture: &serde_json::Value) -> Vec<(GroupKey, usize)> {
        fixture["audit"]
            .as_object()
            .map(|audit| {
                audit
                    .iter()
                    .map(|(key, log)| {
                        (
                            GroupKey::from_stored(key.clone()),
                            log.as_array().map_or(0, Vec::len),
                        )
                    })
                    .collect()
            })
            .unwrap_or_default()
    }

    #[tokio::test]
    async fn the_old_json_store_is_imported_once() -> Result<()> {
        let dir = TempDir::new();
        with_legacy_file(dir.path())?;
        let fixture: serde_json::Value = serde_json::from_str(legacy_fixture())?;
        let store: Arc<dyn Store> = Arc::new(SqliteStore::open(dir.path())?);
        ensure!(
            !dir.path().join(LEGACY_FILE).exists(),
            "the file is renamed"
        );
        ensure!(
            dir.path().join(format!("{LEGACY_FILE}.imported")).exists(),
            "and kept"
        );

        // Groups: today's records, counted from the members the old group held.
        let groups = fixture["groups"].as_object().expect("groups");
        assert_eq!(groups.len(), 5);
        let mut listed_groups = Vec::new();
        let mut after: Option<String> = None;
        loop {
            let page = store.all_groups(after.as_deref(), 2).await?;
            listed_groups.extend(page.items);
            match page.next {
                Some(next) => after = Some(next),
                None => break,
            }
        }
        assert_eq!(listed_groups.len(), groups.len());
        for (key, entry) in groups {
            let (old, old_version) = (&entry[0], entry[1].as_u64().expect("a version"));
            let key = GroupKey::from_stored(key.clone());
            let group = store.get_group(&key).await?.expect("imported");
            assert_eq!(group.version, old_version + 1, "{key}: upgraded once");
            let members = old["members"].as_object().expect("inline members");
            let open = members
                .values()
                .filter(|m| m["ticketed"] == true && m["state"] == "open")
                .count();
            let recorded = members.values().filter(|m| m["ticketed"] == false).count();
            assert_eq!(group.value.tally.total() as usize, members.len(), "{key}");
            assert_eq!(group.value.tally.open as usize, open, "{key}");
            assert_eq!(group.value.tally.recorded as usize, recorded, "{key}");
            assert_eq!(
                group.value.ticket.as_ref().map(|t| t.key.as_str()),
                old["ticket"]["key"].as_str(),
                "{key}"
            );
            assert_eq!(
                serde_json::to_value(group.value.ticket_state)?,
                old["ticket_state"],
                "{key}"
            );
            let found: BTreeSet<String> = all_findings(&store, &key)
                .await?
                .iter()
                .map(|f| f.fingerprint.as_str().to_owned())
                .collect();
            let expected: BTreeSet<String> = members.keys().cloned().collect();
            assert_eq!(found, expected, "{key}: its findings");
            let content = store.get_content(&key).await?.expect("the rule's texts");
            assert_eq!(content.help.as_deref(), old["rule"]["help"].as_str());
            let home = List::Home(scantix_core::ports::store::lists::home_of(&group.value));
            ensure!(listed(&store, home).await?.contains(&key), "{key} at home");
        }
        let (in_state_lists, tickets) = (
            listed(&store, List::State(TicketState::Open)).await?.len()
                + listed(&store, List::State(TicketState::Draft)).await?.len()
                + listed(&store, List::State(TicketState::Reopened))
                    .await?
                    .len()
                + listed(&store, List::State(TicketState::Stale)).await?.len()
                + listed(&store, List::State(TicketState::Resolved))
                    .await?
                    .len(),
            fixture["ticket_links"].as_object().map_or(0, |l| l.len()),
        );
        assert_eq!(
            in_state_lists, tickets,
            "every ticketed group is in its state list"
        );

        // Findings, slimmed: the rule's texts live in the group's content now.
        for (fingerprint, entry) in fixture["findings"].as_object().expect("findings") {
            let record = store
                .get_finding(&serde_json::from_value(serde_json::json!(fingerprint))?)
                .await?
                .expect("imported");
            assert_eq!(record.value.finding.rule.description, None);
            assert_eq!(
                record.value.finding.number,
                entry[0]["finding"]["number"].as_u64().expect("a number")
            );
        }
        for id in fixture["deliveries"]
            .as_object()
            .expect("deliveries")
            .keys()
        {
            ensure!(store.get_delivery(id).await?.is_some(), "delivery {id}");
        }
        let audit = fixture_audit(&fixture);
        assert_eq!(audit.len(), 7);
        for (key, count) in &audit {
            let log = store.audit_log(key).await?;
            assert_eq!(log.len(), *count, "{key}");
            let old: Vec<String> = fixture["audit"][key.as_str()]
                .as_array()
                .expect("a log")
                .iter()
                .filter_map(|e| e["action"].as_str().map(str::to_owned))
                .collect();
            assert_eq!(
                log.iter().map(|e| e.action.clone()).collect::<Vec<_>>(),
                old,
                "{key}: in order"
            );
        }
        for (link, group) in fixture["ticket_links"].as_object().expect("links") {
            let (tracker, ticket) = link.split_once('#').expect("tracker#key");
            assert_eq!(
                store.group_for_ticket(tracker, ticket).await?,
                Some(GroupKey::from_stored(group.as_str().expect("a key")))
            );
        }
        let installations: Vec<u64> = store
            .installations()
            .await?
            .into_iter()
            .map(|i| i.value.id)
            .collect();
        let expected: Vec<u64> = fixture["installations"]
            .as_object()
            .expect("installations")
            .keys()
            .map(|id| id.parse())
            .collect::<Result<_, _>>()?;
        assert_eq!(installations, expected);
        for entry in fixture["pull_requests"].as_array().expect("pull requests") {
            let (repository, number) = (
                entry[0]["repository"]["id"].as_u64().expect("an id"),
                entry[0]["number"].as_u64().expect("a number"),
            );
            let record = store
                .get_pull_request(repository, number)
                .await?
                .expect("imported");
            assert_eq!(Some(record.version), entry[1].as_u64());
        }

        // Opened again: nothing imported twice.
        drop(store);
        let store: Arc<dyn Store> = Arc::new(SqliteStore::open(dir.path())?);
        for (key, count) in &audit {
            assert_eq!(store.audit_log(key).await?.len(), *count, "{key}");
        }
        Ok(())
    }

    #[tokio::test]
    async fn an_import_cut_short_before_the_rename_is_not_repeated() -> Result<()> {
        let dir = TempDir::new();
        with_legacy_file(dir.path())?;
        drop(SqliteStore::open(dir.path())?);
        // The process died after the import's commit, before the rename.
        std::fs::rename(
            dir.path().join(format!("{LEGACY_FILE}.imported")),
            dir.path().join(LEGACY_FILE),
        )?;
        let store = SqliteStore::open(dir.path())?;
        ensure!(!dir.path().join(LEGACY_FILE).exists(), "renamed this time");
        let fixture: serde_json::Value = serde_json::from_str(legacy_fixture())?;
        for (key, count) in fixture_audit(&fixture) {
            assert_eq!(store.audit_log(&key).await?.len(), count, "{key}");
        }
        Ok(())
    }

    #[tokio::test]
    async fn an_old_store_beside_a_database_with_records_is_refused() -> Result<()> {
        let (store, dir) = temp_store();
        store
            .put_group(guarded(group_record(&sample_finding(7, 1), at(0)), None))
            .await?;
        drop(store);
        with_legacy_file(dir.path())?;
        let result = SqliteStore::open(dir.path());
        assert!(
            matches!(&result, Err(StoreError::Rejected(m)) if m.contains("move one of them away")),
            "{result:?}"
        );
        ensure!(
            dir.path().join(LEGACY_FILE).exists(),
            "the file is left alone"
        );
        // An unreadable old store says so.
        let empty = TempDir::new();
        std::fs::write(empty.path().join(LEGACY_FILE), "{\"groups\": [")?;
        let result = SqliteStore::open(empty.path());
        assert!(matches!(&result, Err(StoreError::Corrupt(_))), "{result:?}");
        Ok(())
    }
}

/// What only the DynamoDB adapter has: the item layout the SAM template (TTL attribute) and
/// operators (ad-hoc queries) rely on, groups written by the old code (upgraded on first read),
/// unreadable items, the transaction limit, and the mapping of service errors.
mod dynamodb_only {
    use super::*;
    use aws_sdk_dynamodb::types::{AttributeValue, TimeToLiveStatus};
    use scantix_core::records::legacy::{LegacyGroup, upgrade};
    use scantix_dynamodb::{DynamoStore, Migration};
    use scantix_tests::dynamodb::legacy::{self, LEGACY_GROUP};
    use scantix_tests::dynamodb::{local_endpoint, local_store, unique_table_name};
    use std::collections::{BTreeMap, HashMap};

    type Item = HashMap<String, AttributeValue>;

    async fn raw_item(store: &DynamoStore, pk: &str, sk: &str) -> Result<Item> {
        let output = store
            .client()
            .get_item()
            .table_name(store.table())
            .key("pk", AttributeValue::S(pk.into()))
            .key("sk", AttributeValue::S(sk.into()))
            .consistent_read(true)
            .send()
            .await?;
        output
            .item
            .ok_or_else(|| anyhow::anyhow!("no item {pk}/{sk}"))
    }

    async fn put_raw(store: &DynamoStore, item: Item) -> Result<()> {
        store
            .client()
            .put_item()
            .table_name(store.table())
            .set_item(Some(item))
            .send()
            .await?;
        Ok(())
    }

    fn s(value: &str) -> AttributeValue {
        AttributeValue::S(value.into())
    }

    fn n(value: i64) -> AttributeValue {
        AttributeValue::N(value.to_string())
    }

    #[tokio::test]
    async fn items_follow_the_documented_layout() -> Result<()> {
        let store = local_store().await;
        let finding = sample_finding(7, 1);
        let record = finding_record(&finding, at(0));
        let key = record.group_key.clone();
        let delivery = delivery_record("github:layout", Some(&key), at(0));
        store
            .commit(Commit {
                delivery: Some(delivery.clone()),
                findings: vec![guarded(record.clone(), None)],
                group: Some(guarded(group_record(&finding, at(0)), None)),
                content: Some(GroupContent::of(&key, &finding)),
                links: vec![TicketLink {
                    tracker: "jira".into(),
                    ticket_key: "SEC-1".into(),
                    group: key.clone(),
                }],
                audit: vec![audit_entry(
                    &key,
                    "finding.opened",
                    at(0),
                    Some("github:layout"),
                )],
                analysis: vec![],
                budgets: vec![
                    guarded(super::ledger_with(BudgetScope::Repository(7), 1, 5), None),
                    guarded(
                        super::ledger_with(BudgetScope::Owner("@octo-org/payments".into()), 1, 5),
                        None,
                    ),
                ],
                settles: None,
            })
            .await?;

        // A scope's ticket budget: one small versioned item per scope.
        let item = raw_item(&store, "B#repo#7", "B").await?;
        assert_eq!(
            (item.get("kind"), item.get("version")),
            (Some(&s("budget")), Some(&n(1)))
        );
        let item = raw_item(&store, "B#owner#@octo-org/payments", "B").await?;
        assert_eq!(item.get("kind"), Some(&s("budget")));

        let item = raw_item(&store, &format!("F#{}", record.fingerprint), "F").await?;
        assert_eq!(item.get("kind"), Some(&s("finding")));
        assert_eq!(item.get("version"), Some(&n(1)));
        assert!(matches!(item.get("doc"), Some(AttributeValue::S(_))));

        let item = raw_item(&store, &format!("G#{key}"), "G").await?;
        assert_eq!(
            (item.get("kind"), item.get("version")),
            (Some(&s("group")), Some(&n(1)))
        );
        let item = raw_item(&store, &format!("G#{key}"), "C").await?;
        assert_eq!(item.get("kind"), Some(&s("content")));
        let item = raw_item(&store, &format!("M#{key}"), &record.rank()).await?;
        assert_eq!(
            item.get("target_pk"),
            Some(&s(&format!("F#{}", record.fingerprint)))
        );

        // DynamoDB TTL only honours a Number of epoch seconds.
        let item = raw_item(&store, "D#github:layout", "D").await?;
        assert_eq!(item.get("ttl"), Some(&n(delivery.expires_at.timestamp())));
        assert_eq!(item.get("kind"), Some(&s("delivery")));

        let item = raw_item(&store, "T#jira#SEC-1", "T").await?;
        assert_eq!(item.get("group_key"), Some(&s(key.as_str())));

        let audit = store
            .client()
            .query()
            .table_name(store.table())
            .key_condition_expression("pk = :pk AND begins_with(sk, :a)")
            .expression_attribute_values(":pk", s(&format!("A#{key}")))
            .expression_attribute_values(":a", s("A#"))
            .send()
            .await?;
        let sort_keys: Vec<_> = audit
            .items()
            .iter()
            .filter_map(|i| i.get("sk")?.as_s().ok())
            .collect();
        assert_eq!(sort_keys.len(), 1);
        assert!(
            sort_keys[0].starts_with("A#2025-03-01T12:00:00.000000000Z#github:layout#000000#"),
            "{sort_keys:?}"
        );
        Ok(())
    }

    #[tokio::test]
    async fn unreadable_items_are_reported_as_corrupt() -> Result<()> {
        let store = local_store().await;
        let finding = sample_finding(7, 1);
        let group = group_record(&finding, at(0));
        let pk = format!("G#{}", group.key);
        put_raw(
            &store,
            Item::from([
                ("pk".into(), s(&pk)),
                ("sk".into(), s("G")),
                ("kind".into(), s("group")),
                ("version".into(), n(1)),
                ("doc".into(), s("{\"key\":")),
            ]),
        )
        .await?;
        let result = store.get_group(&group.key).await;
        assert!(
            matches!(result, Err(StoreError::Corrupt(ref m)) if m.contains(&pk)),
            "{result:?}"
        );
        let listed = store.all_groups(None, 10).await;
        assert!(matches!(listed, Err(StoreError::Corrupt(_))), "{listed:?}");

        // A readable document without its version is no better.
        let doc = serde_json::to_string(&group)?;
        put_raw(
            &store,
            Item::from([
                ("pk".into(), s(&pk)),
                ("sk".into(), s("G")),
                ("kind".into(), s("group")),
                ("doc".into(), s(&doc)),
            ]),
        )
        .await?;
        let result = store.get_group(&group.key).await;
        assert!(
            matches!(result, Err(StoreError::Corrupt(ref m)) if m.contains("version")),
            "{result:?}"
        );

        put_raw(
            &store,
            Item::from([
                ("pk".into(), s("T#jira#SEC-2")),
                ("sk".into(), s("T")),
                ("kind".into(), s("ticket")),
            ]),
        )
        .await?;
        let result = store.group_for_ticket("jira", "SEC-2").await;
        assert!(matches!(result, Err(StoreError::Corrupt(_))), "{result:?}");
        Ok(())
    }

    #[tokio::test]
    async fn the_table_expires_deliveries_by_their_ttl() -> Result<()> {
        // DynamoDB Local does sweep expired items: in under a second with a few tables, but it
        // took over 15 s with this suite's ~20 tables on one server, too slow to wait for here.
        // Checking the setting is enough; the sweeping is DynamoDB's job.
        let store = local_store().await;
        let described = store
            .client()
            .describe_time_to_live()
            .table_name(store.table())
            .send()
            .await?;
        let ttl = described.time_to_live_description();
        assert_eq!(
            ttl.and_then(|t| t.time_to_live_status()),
            Some(&TimeToLiveStatus::Enabled)
        );
        assert_eq!(ttl.and_then(|t| t.attribute_name()), Some("ttl"));
        Ok(())
    }

    #[tokio::test]
    async fn creating_the_table_again_is_harmless() -> Result<()> {
        let store = local_store().await;
        store
            .put_group(guarded(group_record(&sample_finding(7, 1), at(0)), None))
            .await?;
        store.create_table().await?;
        assert_eq!(
            store.all_groups(None, 10).await?.items.len(),
            1,
            "the existing table is kept as it is"
        );
        Ok(())
    }

    #[tokio::test]
    async fn a_missing_table_is_rejected_and_a_missing_server_unavailable() -> Result<()> {
        // No table: DynamoDB answers ResourceNotFoundException, which no retry fixes.
        let store = DynamoStore::connect_local(&local_endpoint(), &unique_table_name()).await;
        let result = store
            .get_group(&GroupKey::from_stored("7/code-scanning/x"))
            .await;
        assert!(
            matches!(&result, Err(StoreError::Rejected(m)) if m.contains("ResourceNotFound")),
            "{result:?}"
        );
        assert!(!result.unwrap_err().is_retryable());
        let result = store
            .commit(Commit {
                audit: vec![audit_entry(&GroupKey::from_stored("x"), "a", at(0), None)],
                ..Commit::default()
            })
            .await;
        assert!(
            matches!(&result, Err(StoreError::Rejected(_))),
            "{result:?}"
        );

        // No server: the connection is refused (after the SDK's own retries).
        let store = DynamoStore::connect_local("http://127.0.0.1:9", "scantix-nowhere").await;
        let result = store
            .get_group(&GroupKey::from_stored("7/code-scanning/x"))
            .await;
        assert!(
            matches!(&result, Err(StoreError::Unavailable(_))),
            "{result:?}"
        );
        Ok(())
    }

    #[tokio::test]
    async fn a_commit_past_the_transaction_limit_is_refused_whole() -> Result<()> {
        // Each finding whose rank moves is three actions (its item, its old member entry out, the
        // new one in): forty findings closed at once do not fit DynamoDB's 100 actions. The
        // commit is refused before anything is sent, so nothing of it is written.
        let store = local_store().await;
        let records: Vec<FindingRecord> = (1..=40)
            .map(|n| finding_record(&sample_finding(7, n), at(0)))
            .collect();
        store
            .commit(findings_commit(
                records.iter().map(|r| guarded(r.clone(), None)).collect(),
            ))
            .await?;
        let closing = records
            .iter()
            .map(|r| {
                let mut fixed = r.clone();
                fixed.finding.state = AlertState::Fixed;
                Guarded::replacing(
                    fixed,
                    Some(&Versioned {
                        value: r.clone(),
                        version: 1,
                    }),
                )
            })
            .collect();
        let result = store.commit(findings_commit(closing)).await;
        assert!(
            matches!(&result, Err(StoreError::Rejected(m)) if m.contains("100")),
            "{result:?}"
        );
        let store: Arc<dyn Store> = Arc::new(store);
        assert_eq!(
            members(&store, &records[0].group_key, Members::OpenTicketed, 100)
                .await?
                .len(),
            40
        );
        Ok(())
    }

    // ----- Groups written by the old code -----

    /// The old CLI's store file: its groups and findings are the documents the old code wrote
    /// in DynamoDB items too (the same serde types; see tests/fixtures/legacy/README.md).
    fn legacy_fixture() -> Result<serde_json::Value> {
        Ok(legacy::fixture())
    }

    async fn write_legacy_group(
        store: &DynamoStore,
        fixture: &serde_json::Value,
        key: &str,
    ) -> Result<(serde_json::Value, u64)> {
        Ok(legacy::write_group(store, fixture, key).await)
    }

    /// Checks a group upgraded from `old`: counts from its members, every finding once in rank
    /// order at the version the upgrade gave it, in its lists, with its texts.
    async fn check_upgraded(
        store: &Arc<dyn Store>,
        fixture: &serde_json::Value,
        old: &serde_json::Value,
        group: &Versioned<GroupRecord>,
    ) -> Result<()> {
        let key = group.value.key.clone();
        let members = old["members"].as_object().expect("members");
        let open: Vec<&String> = members
            .iter()
            .filter(|(_, m)| m["ticketed"] == true && m["state"] == "open")
            .map(|(fp, _)| fp)
            .collect();
        assert_eq!(group.value.tally.total() as usize, members.len());
        assert_eq!(group.value.tally.open as usize, open.len());
        assert_eq!(
            group.value.tally.recorded as usize,
            members.values().filter(|m| m["ticketed"] == false).count()
        );
        let found = all_findings(store, &key).await?;
        assert_eq!(
            fingerprints(&found)
                .iter()
                .map(|f| f.as_str().to_owned())
                .collect::<BTreeSet<_>>(),
            members.keys().cloned().collect::<BTreeSet<_>>(),
            "every member once"
        );
        for record in &found {
            let old_version = fixture["findings"][record.fingerprint.as_str()][1]
                .as_u64()
                .expect("a version");
            let read = store
                .get_finding(&record.fingerprint)
                .await?
                .expect("there");
            assert_eq!(
                read.version,
                old_version + 1,
                "{}: written once",
                record.fingerprint
            );
            assert_eq!(
                record.finding.state,
                serde_json::from_value(members[record.fingerprint.as_str()]["state"].clone())?,
                "{}: the state the group knew",
                record.fingerprint
            );
        }
        let open_listed = store
            .group_findings(&key, Members::OpenTicketed, None, 100)
            .await?;
        assert_eq!(open_listed.items.len(), open.len());
        assert_eq!(
            listed(store, List::Home("337911632".into())).await?,
            vec![key.clone()]
        );
        assert_eq!(
            listed(store, List::State(group.value.ticket_state)).await?,
            vec![key.clone()]
        );
        let content = store.get_content(&key).await?.expect("the rule's texts");
        assert_eq!(content.help.as_deref(), old["rule"]["help"].as_str());
        assert_eq!(group.value.rule.help, None, "texts moved out of the group");
        Ok(())
    }

    #[tokio::test]
    async fn a_group_in_the_old_format_is_upgraded_on_first_read() -> Result<()> {
        let store = local_store().await;
        let fixture = legacy_fixture()?;
        let (old, version) = write_legacy_group(&store, &fixture, LEGACY_GROUP).await?;
        let key = GroupKey::from_stored(LEGACY_GROUP);

        let first: Arc<dyn Store> = Arc::new(store.clone());
        let group = first.get_group(&key).await?.expect("the group");
        assert_eq!(group.version, version + 1);
        check_upgraded(&first, &fixture, &old, &group).await?;
        let item = raw_item(&store, &format!("G#{key}"), "G").await?;
        let doc: serde_json::Value =
            serde_json::from_str(item.get("doc").and_then(|d| d.as_s().ok()).expect("doc"))?;
        ensure!(
            doc.get("members").is_none(),
            "the item is in today's format"
        );

        // Another process reads the upgraded record, and upgrades nothing again.
        let second: Arc<dyn Store> =
            Arc::new(DynamoStore::connect_local(&local_endpoint(), store.table()).await);
        assert_eq!(second.get_group(&key).await?, Some(group.clone()));
        let finding = sample_fingerprint(&old);
        let read = second
            .read_event(EventKeys {
                delivery: "github:after-upgrade",
                finding: &finding,
                group: &key,
                installation: None,
            })
            .await?;
        assert_eq!(read.group, Some(group));
        Ok(())
    }

    fn sample_fingerprint(old: &serde_json::Value) -> Fingerprint {
        let first = old["members"]
            .as_object()
            .and_then(|m| m.keys().next().cloned())
            .unwrap_or_default();
        serde_json::from_value(serde_json::json!(first)).expect("a fingerprint")
    }

    #[tokio::test]
    async fn an_upgrade_cut_short_after_the_findings_completes_on_the_next_read() -> Result<()> {
        let store = local_store().await;
        let fixture = legacy_fixture()?;
        let (old, version) = write_legacy_group(&store, &fixture, LEGACY_GROUP).await?;
        let key = GroupKey::from_stored(LEGACY_GROUP);

        // The first half of an upgrade, as the adapter writes it: the members as today's finding
        // records (with their member entries), each guarded by the version read; then the crash,
        // before the group item.
        let legacy: LegacyGroup = serde_json::from_value(old.clone())?;
        let mut stored = BTreeMap::new();
        let mut read = BTreeMap::new();
        for fingerprint in legacy.members.keys() {
            let record = store
                .get_finding(fingerprint)
                .await?
                .expect("an old finding");
            stored.insert(fingerprint.clone(), record.value.clone());
            read.insert(fingerprint.clone(), record);
        }
        let upgraded = upgrade(&legacy, &stored);
        let writes = upgraded
            .findings
            .iter()
            .map(|record| Guarded::replacing(record.clone(), read.get(&record.fingerprint)))
            .collect();
        store.commit(findings_commit(writes)).await?;
        let item = raw_item(&store, &format!("G#{key}"), "G").await?;
        assert_eq!(
            item.get("version"),
            Some(&n(version as i64)),
            "still the old group"
        );

        let store: Arc<dyn Store> = Arc::new(store);
        let group = store.get_group(&key).await?.expect("the group");
        assert_eq!(group.version, version + 1);
        assert_eq!(group.value, upgraded.group, "the same conversion, finished");
        check_upgraded(&store, &fixture, &old, &group).await?;
        Ok(())
    }

    #[tokio::test]
    async fn migrate_brings_a_whole_old_table_to_todays_layout() -> Result<()> {
        let store = local_store().await;
        let fixture = legacy_fixture()?;
        let (old, _) = write_legacy_group(&store, &fixture, LEGACY_GROUP).await?;
        let key = GroupKey::from_stored(LEGACY_GROUP);
        let now = at(0);
        legacy::write_installation(&store, &installation(41, "acme", now)).await;
        let old_entry = AuditEntry {
            at: now,
            group_key: key.clone(),
            fingerprint: None,
            actor: "scantix".into(),
            action: "ticket.created".into(),
            reason: "written by the old code".into(),
            delivery: None,
            ticket: Some("SEC-1".into()),
            state: None,
        };
        legacy::write_audit_entry(&store, &old_entry).await;
        let shared: Arc<dyn Store> = Arc::new(store.clone());
        assert!(
            shared.installations().await?.is_empty(),
            "before: the old installation is in no list"
        );

        let done = store.migrate().await?;
        assert_eq!(
            done,
            Migration {
                groups: 1,
                groups_upgraded: 1,
                installations_listed: 1
            }
        );
        let item = raw_item(&store, &format!("G#{key}"), "G").await?;
        let doc: serde_json::Value =
            serde_json::from_str(item.get("doc").and_then(|d| d.as_s().ok()).expect("doc"))?;
        ensure!(doc.get("members").is_none(), "upgraded in place");
        let group = shared.get_group(&key).await?.expect("the group");
        check_upgraded(&shared, &fixture, &old, &group).await?;
        let listed: Vec<u64> = shared
            .installations()
            .await?
            .iter()
            .map(|i| i.value.id)
            .collect();
        assert_eq!(listed, vec![41]);

        // New audit entries go to the log's own partition; the old ones stay readable, in order.
        let new_entry = AuditEntry {
            at: at(60),
            reason: "written today".into(),
            ..old_entry.clone()
        };
        shared
            .commit(Commit {
                audit: vec![new_entry.clone()],
                ..Commit::default()
            })
            .await?;
        assert_eq!(shared.audit_log(&key).await?, vec![old_entry, new_entry]);

        // Again: nothing left to upgrade, the same list entries rewritten.
        let again = store.migrate().await?;
        assert_eq!(again.groups_upgraded, 0);
        assert_eq!(again.installations_listed, 1);
        assert_eq!(shared.get_group(&key).await?, Some(group));
        Ok(())
    }
}

/// The open findings of a SARIF analysis: entries put and taken off in the write of their
/// finding (all or nothing with it), idempotent, one list per analysis, read a page at a time in
/// fingerprint order.
async fn analysis_lists_follow_their_findings_in_one_write(store: Arc<dyn Store>) -> Result<()> {
    use scantix_core::ports::store::AnalysisEntry;
    let entry = |analysis: &str, record: &FindingRecord, listed| AnalysisEntry {
        analysis: analysis.into(),
        fingerprint: record.fingerprint.clone(),
        listed,
    };
    let list = |analysis: &'static str| {
        let store = store.clone();
        pages(2, move |after| {
            let store = store.clone();
            async move { store.analysis_findings(analysis, after.as_deref(), 2).await }
        })
    };
    let records: Vec<FindingRecord> = (1..=5)
        .map(|n| finding_record(&sample_finding(7, n), at(0)))
        .collect();
    ensure!(list("7#main").await?.is_empty(), "no analysis applied yet");
    store
        .commit(Commit {
            findings: records.iter().map(|r| guarded(r.clone(), None)).collect(),
            analysis: records
                .iter()
                .map(|r| entry("7#main", r, true))
                .chain([entry("7#dev", &records[0], true)])
                .collect(),
            ..Commit::default()
        })
        .await?;
    let mut expected: Vec<Fingerprint> = records.iter().map(|r| r.fingerprint.clone()).collect();
    expected.sort();
    ensure!(
        list("7#main").await? == expected,
        "every entry, in fingerprint order"
    );
    ensure!(
        list("7#dev").await? == [records[0].fingerprint.clone()],
        "lists are apart"
    );

    // Listing again changes nothing; taking one off leaves the others.
    store
        .commit(Commit {
            analysis: vec![
                entry("7#main", &records[1], true),
                entry("7#main", &records[2], false),
            ],
            ..Commit::default()
        })
        .await?;
    expected.retain(|fp| *fp != records[2].fingerprint);
    ensure!(
        list("7#main").await? == expected,
        "one entry off, the rest as they were"
    );

    // A commit that loses its race writes no entry either.
    let mut fixed = records[3].clone();
    fixed.finding.state = scantix_core::finding::AlertState::Fixed;
    let stale = Commit {
        findings: vec![guarded(fixed, Some(7))],
        analysis: vec![
            entry("7#main", &records[3], false),
            entry("7#main", &records[2], true),
        ],
        ..Commit::default()
    };
    expect_conflict(store.commit(stale).await)?;
    ensure!(
        list("7#main").await? == expected,
        "nothing of a refused commit"
    );
    Ok(())
}

// ---------------------------------------------------------------------------------------------
// Ticket budgets: one ledger per scope, written in the commit of the group that moved it
// ---------------------------------------------------------------------------------------------

fn ledger_with(scope: BudgetScope, holders: usize, limit: u32) -> BudgetLedger {
    let mut ledger = BudgetLedger::new(scope, "octo-org/octo-repo".into(), limit, at(0));
    for n in 0..holders {
        ledger.holders.push(BudgetEntry {
            group: GroupKey::from_stored(format!("7/code_scanning/rule:CodeQL:js/rule-{n}")),
            priority: Severity::High,
            title: format!("Rule {n}"),
            open: 1,
            since: at(n as i64),
        });
    }
    ledger
}

async fn budget_ledgers_are_written_with_their_group_and_only_at_the_version_read(
    store: Arc<dyn Store>,
) -> Result<()> {
    let repo = BudgetScope::Repository(7);
    let owner = BudgetScope::Owner("@octo-org/payments".into());
    ensure!(
        store.get_budget(&repo).await?.is_none(),
        "nothing counted yet"
    );
    let group = group_record(&sample_finding(7, 1), at(0));
    let ledger = ledger_with(repo.clone(), 1, 5);
    let owners = ledger_with(owner.clone(), 1, 2);
    store
        .commit(Commit {
            group: Some(guarded(group.clone(), None)),
            budgets: vec![guarded(ledger.clone(), None), guarded(owners.clone(), None)],
            ..Commit::default()
        })
        .await?;
    assert_eq!(
        store.get_budget(&repo).await?,
        Some(Versioned {
            value: ledger.clone(),
            version: 1
        })
    );
    assert_eq!(
        store.get_budget(&owner).await?.map(|l| l.value),
        Some(owners)
    );

    // A commit whose ledger guard is stale writes nothing: not its group either.
    let mut moved = group.clone();
    moved.ticket_state = TicketState::Open;
    let mut stale = ledger.clone();
    stale.overflow_more = 3;
    expect_conflict(
        store
            .commit(Commit {
                group: Some(guarded(moved.clone(), Some(1))),
                budgets: vec![guarded(stale.clone(), None)],
                ..Commit::default()
            })
            .await,
    )?;
    assert_eq!(
        store.get_group(&group.key).await?.map(|g| g.value),
        Some(group)
    );
    assert_eq!(store.get_budget(&repo).await?.map(|l| l.version), Some(1));
    // At the version read, it goes through.
    store
        .commit(Commit {
            group: Some(guarded(moved.clone(), Some(1))),
            budgets: vec![guarded(stale.clone(), Some(1))],
            ..Commit::default()
        })
        .await?;
    assert_eq!(
        store.get_budget(&repo).await?,
        Some(Versioned {
            value: stale,
            version: 2
        })
    );
    Ok(())
}

async fn of_many_events_racing_for_a_budgets_last_slot_exactly_one_takes_it(
    store: Arc<dyn Store>,
) -> Result<()> {
    let scope = BudgetScope::Repository(7);
    let full_but_one = ledger_with(scope.clone(), 4, 5);
    store
        .commit(Commit {
            budgets: vec![guarded(full_but_one.clone(), None)],
            ..Commit::default()
        })
        .await?;
    let read = Versioned {
        value: full_but_one.clone(),
        version: 1,
    };
    // Ten events, each founding a group, read the ledger with one slot left and each take it in
    // the commit of its group.
    let racers = (0..10u64).map(|n| {
        let store = Arc::clone(&store);
        let mut finding = sample_finding(7, 100 + n);
        finding.rule.id = format!("js/racer-{n}");
        let group = group_record(&finding, at(0));
        let mut taken = full_but_one.clone();
        taken.holders.push(BudgetEntry {
            group: group.key.clone(),
            priority: Severity::High,
            title: format!("racer {n}"),
            open: 1,
            since: at(10),
        });
        let commit = Commit {
            group: Some(guarded(group.clone(), None)),
            budgets: vec![Guarded::replacing(taken, Some(&read))],
            ..Commit::default()
        };
        tokio::spawn(async move { (group, store.commit(commit).await) })
    });
    let mut winners = Vec::new();
    for racer in racers.collect::<Vec<_>>() {
        let (group, result) = racer.await?;
        match result {
            Ok(()) => winners.push(group),
            Err(StoreError::Conflict) => ensure!(
                store.get_group(&group.key).await?.is_none(),
                "a losing event wrote its group"
            ),
            Err(other) => anyhow::bail!("a losing event must see Conflict, got {other:?}"),
        }
    }
    ensure!(
        winners.len() == 1,
        "{} events took the last slot",
        winners.len()
    );
    let ledger = store.get_budget(&scope).await?.map(|l| l.value);
    let holders = ledger.map(|l| l.holders.len());
    assert_eq!(holders, Some(5));
    Ok(())
}

async fn a_ledger_at_its_size_limit_is_one_item(store: Arc<dyn Store>) -> Result<()> {
    // Long group keys (a SARIF group by file of a deep path) in a budget far over: the decision
    // keeps the ledger within LEDGER_BYTES by counting the lowest entries instead of keeping them.
    let scope = BudgetScope::Owner("@octo-org/platform".into());
    let mut ledger = ledger_with(scope.clone(), 300, 300);
    let deep = "very/deep/path/".repeat(40);
    for n in 0..2_000u32 {
        ledger.overflow.push(BudgetEntry {
            group: GroupKey::from_stored(format!("7/sarif/file:{deep}{n}.ts")),
            priority: Severity::Medium,
            title: "m".repeat(100),
            open: n,
            since: at(0),
        });
    }
    rebalance(&mut ledger);
    let bytes = serde_json::to_vec(&ledger)?.len();
    ensure!(bytes <= LEDGER_BYTES, "{bytes} bytes");
    ensure!(ledger.overflowed() == 2_000, "every waiting group counted");
    store
        .commit(Commit {
            budgets: vec![guarded(ledger.clone(), None)],
            ..Commit::default()
        })
        .await?;
    assert_eq!(
        store.get_budget(&scope).await?.map(|l| l.value),
        Some(ledger)
    );
    Ok(())
}
