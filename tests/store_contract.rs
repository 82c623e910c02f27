//! The `Store` contract: every scenario runs against the in-memory twin (`memory::*`) and against
//! `DynamoStore` on DynamoDB Local (`dynamodb::*`), so what the engine tests prove with
//! `MemoryStore` also holds in production. DynamoDB-only checks (the item layout the SAM template
//! and operators rely on, corrupt items, error mapping) are in `dynamodb_only`.
//!
//! Run it with DynamoDB Local started for it:
//! `scripts/dynamodb-local.sh cargo test -p scantix-tests --test store_contract`.

use anyhow::{Result, ensure};
use chrono::Duration;
use scantix::finding::AlertState;
use scantix::identity::GroupKey;
use scantix::state::{GroupRecord, Member, TicketRef, TicketState, Versioned};
use scantix::store::{Commit, Guarded, Store, StoreError};
use scantix_tests::records::{
    at, audit_entry, delivery_record, draft_ticket, finding_record, group_key_of, group_record,
    sample_finding,
};
use std::fmt::Debug;
use std::sync::Arc;

/// Declares each scenario once per backend: `memory::<scenario>` and `dynamodb::<scenario>`.
macro_rules! contract {
    ($($scenario:ident),* $(,)?) => {
        mod memory {
            $(
                #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
                async fn $scenario() -> anyhow::Result<()> {
                    let store = std::sync::Arc::new(scantix::store::memory::MemoryStore::new());
                    super::$scenario(store).await
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
    the_audit_log_is_oldest_first_in_commit_order,
    a_commit_keeps_every_audit_entry_even_past_the_transaction_limit,
    an_empty_commit_is_a_no_op,
    list_groups_lists_every_group_and_nothing_else,
    ticket_links_lead_back_to_their_group,
    a_draft_is_created_once_then_only_overwritten_on_purpose,
    of_many_writers_at_one_version_exactly_one_wins,
    inbox_items_are_stored_once_and_leave_the_pending_set_when_done,
    pull_request_records_are_created_once_then_written_only_at_the_version_read,
}

fn guarded<T>(value: T, expected_version: Option<u64>) -> Guarded<T> {
    Guarded {
        value,
        expected_version,
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

async fn findings_are_created_once_then_written_only_at_the_version_read(
    store: Arc<dyn Store>,
) -> Result<()> {
    let finding = sample_finding(7, 1);
    let first = finding_record(&finding, at(0));
    let fingerprint = first.fingerprint.clone();
    assert_eq!(store.get_finding(&fingerprint).await?, None);

    let create = |record, expected| Commit {
        finding: Some(guarded(record, expected)),
        ..Commit::default()
    };
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
    store.commit(create(fixed.clone(), Some(1))).await?;
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
    assert_eq!(
        store.put_group(guarded(ticketed.clone(), Some(1))).await?,
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
        group: Some(guarded(resolved.clone(), expected)),
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
    store.put_group(guarded(group.clone(), None)).await?;
    let mut moved_on = group.clone();
    moved_on.updated_at = at(30);
    store.put_group(guarded(moved_on.clone(), Some(1))).await?;
    let known_record = finding_record(&known, at(0));
    store
        .commit(Commit {
            finding: Some(guarded(known_record.clone(), None)),
            ..Commit::default()
        })
        .await?;

    // An event decided on version 1 of the group: its new finding, delivery and audit must not land.
    let newcomer = sample_finding(7, 2);
    let mut grown = group.clone();
    grown.members.insert(
        finding_record(&newcomer, at(40)).fingerprint,
        Member::of(&newcomer, true),
    );
    let stale_group = Commit {
        delivery: Some(delivery_record("github:stale-group", Some(&key), at(40))),
        finding: Some(guarded(finding_record(&newcomer, at(40)), None)),
        group: Some(guarded(grown.clone(), Some(1))),
        audit: vec![
            audit_entry(&key, "finding.opened", at(40), Some("github:stale-group")),
            audit_entry(&key, "ticket.refreshed", at(40), Some("github:stale-group")),
        ],
    };
    expect_conflict(store.commit(stale_group.clone()).await)?;
    assert_eq!(store.get_delivery("github:stale-group").await?, None);
    assert_eq!(
        store
            .get_finding(&finding_record(&newcomer, at(40)).fingerprint)
            .await?,
        None
    );
    assert_eq!(
        store.get_group(&key).await?,
        Some(Versioned {
            value: moved_on.clone(),
            version: 2
        })
    );
    assert_eq!(store.audit_log(&key).await?, vec![]);

    // The finding's guard is the stale one this time; the group's is right.
    let mut reopened = known_record.clone();
    reopened.updated_at = at(50);
    let stale_finding = Commit {
        delivery: Some(delivery_record("github:stale-finding", Some(&key), at(50))),
        finding: Some(guarded(reopened.clone(), Some(5))),
        group: Some(guarded(grown.clone(), Some(2))),
        audit: vec![audit_entry(
            &key,
            "finding.reopened",
            at(50),
            Some("github:stale-finding"),
        )],
    };
    expect_conflict(store.commit(stale_finding.clone()).await)?;
    assert_eq!(store.get_delivery("github:stale-finding").await?, None);
    assert_eq!(store.get_group(&key).await?.map(|g| g.version), Some(2));
    assert_eq!(store.audit_log(&key).await?, vec![]);

    // Nothing was recorded, so the same delivery re-decided on fresh state goes through.
    let retried = Commit {
        finding: Some(guarded(reopened.clone(), Some(1))),
        ..stale_finding
    };
    store.commit(retried.clone()).await?;
    assert_eq!(
        store.get_finding(&known_record.fingerprint).await?,
        Some(Versioned {
            value: reopened,
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
            finding: Some(guarded(record.clone(), None)),
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
        finding: None,
        group: Some(guarded(group_record(&finding, at(90)), None)),
        audit: vec![audit_entry(
            &key,
            "group.created",
            at(90),
            Some("github:72d3162e"),
        )],
    };
    expect_duplicate(store.commit(redelivered).await, "github:72d3162e")?;
    assert_eq!(store.get_group(&key).await?, None);
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
        finding: Some(guarded(record.clone(), None)),
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
            finding: Some(guarded(record, None)),
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
        finding: Some(guarded(finding_record(&finding, at(100)), None)),
        group: Some(guarded(group.clone(), None)),
        audit: audit.clone(),
    };
    store.commit(commit).await?;
    assert_eq!(store.audit_log(&group.key).await?, audit);
    assert_eq!(
        store.get_group(&group.key).await?.map(|g| g.version),
        Some(1)
    );
    Ok(())
}

async fn an_empty_commit_is_a_no_op(store: Arc<dyn Store>) -> Result<()> {
    store.commit(Commit::default()).await?;
    assert_eq!(store.list_groups().await?, vec![]);
    Ok(())
}

async fn list_groups_lists_every_group_and_nothing_else(store: Arc<dyn Store>) -> Result<()> {
    assert_eq!(store.list_groups().await?, vec![]);
    let groups: Vec<GroupRecord> = (1..=3)
        .map(|repo| group_record(&sample_finding(repo, 1), at(0)))
        .collect();
    for group in &groups {
        store.put_group(guarded(group.clone(), None)).await?;
    }
    let mut updated = groups[1].clone();
    updated.ticket_state = TicketState::Stale;
    store.put_group(guarded(updated.clone(), Some(1))).await?;

    // Other kinds of records in the same store (the same table, in DynamoDB) are not groups.
    let finding = sample_finding(1, 1);
    store
        .commit(Commit {
            delivery: Some(delivery_record("github:list", Some(&groups[0].key), at(5))),
            finding: Some(guarded(finding_record(&finding, at(5)), None)),
            audit: vec![audit_entry(
                &groups[0].key,
                "finding.opened",
                at(5),
                Some("github:list"),
            )],
            ..Commit::default()
        })
        .await?;
    store.link_ticket("jira", "SEC-9", &groups[0].key).await?;
    store
        .create_draft(&draft_ticket(&groups[2].key, "A draft", at(5)))
        .await?;

    let mut listed = store.list_groups().await?;
    listed.sort_by(|a, b| a.value.key.cmp(&b.value.key));
    let mut expected = vec![
        Versioned {
            value: groups[0].clone(),
            version: 1,
        },
        Versioned {
            value: updated,
            version: 2,
        },
        Versioned {
            value: groups[2].clone(),
            version: 1,
        },
    ];
    expected.sort_by(|a, b| a.value.key.cmp(&b.value.key));
    assert_eq!(listed, expected);
    Ok(())
}

async fn ticket_links_lead_back_to_their_group(store: Arc<dyn Store>) -> Result<()> {
    let first = group_key_of(&sample_finding(7, 1));
    let second = group_key_of(&sample_finding(8, 1));
    assert_eq!(store.group_for_ticket("jira", "SEC-1").await?, None);

    store.link_ticket("jira", "SEC-1", &first).await?;
    store.link_ticket("jira", "SEC-1", &first).await?;
    // GitHub issue keys contain `#`, which is also the key separator in DynamoDB.
    store.link_ticket("github", "acme/shop#7", &second).await?;

    assert_eq!(store.group_for_ticket("jira", "SEC-1").await?, Some(first));
    assert_eq!(
        store.group_for_ticket("github", "acme/shop#7").await?,
        Some(second)
    );
    // A key is only meaningful within its tracker.
    assert_eq!(store.group_for_ticket("github", "SEC-1").await?, None);
    assert_eq!(store.group_for_ticket("jira", "acme/shop#7").await?, None);
    Ok(())
}

async fn a_draft_is_created_once_then_only_overwritten_on_purpose(
    store: Arc<dyn Store>,
) -> Result<()> {
    let key = group_key_of(&sample_finding(7, 1));
    let first = draft_ticket(&key, "SQL injection in acme/shop-7", at(0));
    assert_eq!(store.get_draft(&first.key).await?, None);

    assert!(store.create_draft(&first).await?);
    // A second create (a retried tracker call) keeps the first draft.
    let second = draft_ticket(&key, "Another title", at(10));
    assert!(!store.create_draft(&second).await?);
    assert_eq!(store.get_draft(&first.key).await?, Some(first.clone()));

    let mut edited = first.clone();
    edited.state = TicketState::Resolved;
    edited.updated_at = at(20);
    store.put_draft(&edited).await?;
    assert_eq!(store.get_draft(&first.key).await?, Some(edited.clone()));
    assert!(!store.create_draft(&first).await?);
    assert_eq!(store.get_draft(&first.key).await?, Some(edited));
    Ok(())
}

async fn of_many_writers_at_one_version_exactly_one_wins(store: Arc<dyn Store>) -> Result<()> {
    let group = group_record(&sample_finding(7, 1), at(0));
    store.put_group(guarded(group.clone(), None)).await?;

    // Twenty handlers read version 1 and each try to attach their own ticket.
    let writers = (0..20).map(|n| {
        let store = Arc::clone(&store);
        let mut mine = group.clone();
        mine.ticket = Some(TicketRef {
            tracker: "jira".into(),
            key: format!("SEC-{n}"),
            url: None,
        });
        tokio::spawn(async move { (mine.clone(), store.put_group(guarded(mine, Some(1))).await) })
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
    Ok(())
}

/// What only the DynamoDB adapter has: the item layout the SAM template (TTL attribute) and
/// operators (ad-hoc queries) rely on, unreadable items, and the mapping of service errors.
mod dynamodb_only {
    use super::*;
    use aws_sdk_dynamodb::types::{AttributeValue, TimeToLiveStatus};
    use scantix::store::dynamodb::DynamoStore;
    use scantix_tests::dynamodb::{local_endpoint, local_store, unique_table_name};
    use std::collections::HashMap;

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
                finding: Some(guarded(record.clone(), None)),
                group: Some(guarded(group_record(&finding, at(0)), None)),
                audit: vec![audit_entry(
                    &key,
                    "finding.opened",
                    at(0),
                    Some("github:layout"),
                )],
            })
            .await?;
        store.link_ticket("jira", "SEC-1", &key).await?;

        let item = raw_item(&store, &format!("F#{}", record.fingerprint), "F").await?;
        assert_eq!(item.get("kind"), Some(&s("finding")));
        assert_eq!(item.get("version"), Some(&n(1)));
        assert!(matches!(item.get("doc"), Some(AttributeValue::S(_))));

        let item = raw_item(&store, &format!("G#{key}"), "G").await?;
        assert_eq!(
            (item.get("kind"), item.get("version")),
            (Some(&s("group")), Some(&n(1)))
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
            .expression_attribute_values(":pk", s(&format!("G#{key}")))
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
        let listed = store.list_groups().await;
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
            store.list_groups().await?.len(),
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
        let result = store.get_draft("DRAFT-1").await;
        assert!(
            matches!(&result, Err(StoreError::Unavailable(_))),
            "{result:?}"
        );
        Ok(())
    }
}

/// The inbox: one conditional put per delivery (a redelivery writes nothing), the body kept byte
/// for byte (DynamoDB compresses it), failures counted, `Done` takes an item out of the pending
/// set, oldest first.
async fn inbox_items_are_stored_once_and_leave_the_pending_set_when_done(
    store: Arc<dyn Store>,
) -> Result<()> {
    use scantix::inbox::{Applied, InboxItem, InboxSource, InboxStatus};
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
    assert_eq!(stored.as_ref().map(|i| &i.body), Some(&body));
    assert_eq!(stored.map(|i| i.status), Some(InboxStatus::Pending));

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

// ----- Pull request records -----

async fn pull_request_records_are_created_once_then_written_only_at_the_version_read(
    store: Arc<dyn Store>,
) -> Result<()> {
    use scantix::state::{
        FixedTicket, PullRequestRecord, PullRequestState, SummaryAlert, TicketRef,
    };
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
        store.list_groups().await?.is_empty(),
        "a pull request is not a group"
    );
    Ok(())
}
