//! Any interleaving of two events on one group yields one ticket. Two real deliveries about the
//! SQL injection group of `events/github/scenario` (alerts 10, 11, 12 created, 10 fixed, 10
//! reopened; the same file twice is a redelivery under a new id) are applied concurrently by two
//! workers on one thread (or by two lanes of one worker, which take turns on the group), through
//! ports that yield to the runtime before and after each call as often as `proptest` picks
//! (`Faults::interleaving`): every interleaving of their reads, commits, lease takes and tracker
//! calls is on the table. Whatever it is, once the sweeper has had its
//! pass, the group has exactly one ticket (none only when no alert was ever open), it is the one
//! the store records, nothing is left queued, and every alert named is stored.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    reason = "test code: a failed assumption is the test failing"
)]

use chrono::{DateTime, Duration, TimeZone, Utc};
use proptest::prelude::*;
use scantix_app::execute::{Executor, ExecutorSettings};
use scantix_app::ingest::GithubIngest;
use scantix_app::sweep::{Drain, drain_queued};
use scantix_core::config::Config;
use scantix_core::identity::Fingerprint;
use scantix_core::memory::faults::{Faults, FaultyStore, FaultyTracker};
use scantix_core::memory::store::MemoryStore;
use scantix_core::memory::tracker::MemoryTracker;
use scantix_core::ports::clock::Clock;
use scantix_core::ports::store::Store;
use scantix_core::ports::tracker::Tracker;
use std::sync::Arc;

/// Scenario deliveries about one group, with the alert each names and whether it leaves it open.
const DELIVERIES: [(&str, u64, bool); 5] = [
    ("02-code_scanning_alert.created.json", 10, true),
    ("04-code_scanning_alert.created.json", 11, true),
    ("05-code_scanning_alert.created.json", 12, true),
    ("08-code_scanning_alert.fixed.json", 10, false),
    ("11-code_scanning_alert.reopened.json", 10, true),
];
const REPOSITORY: u64 = 337_911_632;

fn body(file: &str) -> Vec<u8> {
    let path = format!(
        "{}/../../events/github/scenario/{file}",
        env!("CARGO_MANIFEST_DIR")
    );
    std::fs::read(&path).unwrap_or_else(|e| panic!("{path}: {e}"))
}

fn now() -> DateTime<Utc> {
    Utc.with_ymd_and_hms(2021, 2, 11, 6, 0, 0).unwrap()
}

/// Applies deliveries `a` and `b` concurrently with `yields`, by two workers or, with
/// `one_worker`, by two lanes of one (which take turns on the group: `execute::group_turns`);
/// returns the store and tracker.
async fn race(
    a: usize,
    b: usize,
    yields: Vec<u8>,
    one_worker: bool,
) -> (Arc<MemoryStore>, MemoryTracker) {
    let faults = Faults::interleaving(yields);
    let store = Arc::new(MemoryStore::new());
    let tickets = MemoryTracker::new();
    let clock: Clock = Arc::new(now);
    let settings = ExecutorSettings {
        wait_for_lease: std::time::Duration::ZERO,
        coalesce: std::time::Duration::ZERO,
        ..ExecutorSettings::default()
    };
    let executor = || {
        Executor::new(
            Arc::new(FaultyStore::new(store.clone(), faults.clone())) as Arc<dyn Store>,
            Arc::new(FaultyTracker::new(
                Arc::new(tickets.clone()),
                faults.clone(),
            )) as Arc<dyn Tracker>,
            Config::default(),
        )
        .with_clock(clock.clone())
        .with_settings(settings.clone())
    };
    // Two workers, as two Lambda invocations would be; or one, as two lanes of a stream batch.
    let first_executor = Arc::new(executor());
    let second_executor = match one_worker {
        true => first_executor.clone(),
        false => Arc::new(executor()),
    };
    let first = GithubIngest::for_worker(first_executor);
    let second = GithubIngest::for_worker(second_executor);
    let (file_a, file_b) = (DELIVERIES[a].0, DELIVERIES[b].0);
    let (body_a, body_b) = (body(file_a), body(file_b));
    let one = first.route("code_scanning_alert", "one", &body_a);
    let two = second.route("code_scanning_alert", "two", &body_b);
    let _ = tokio::join!(one, two);
    // The sweeper's next pass, once any lease a loser left has expired.
    let later: Clock = Arc::new(|| now() + Duration::minutes(5));
    let sweeper = Executor::new(store.clone(), Arc::new(tickets.clone()), Config::default())
        .with_clock(later);
    drain_queued(&sweeper, now() + Duration::minutes(5), Drain::EveryGroup)
        .await
        .unwrap();
    (store, tickets)
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 128, ..ProptestConfig::default() })]

    #[test]
    fn any_interleaving_of_two_events_on_one_group_yields_one_ticket(
        a in 0..DELIVERIES.len(),
        b in 0..DELIVERIES.len(),
        yields in proptest::collection::vec(0u8..4, 1..64),
        one_worker in proptest::bool::ANY,
    ) {
        let runtime = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .start_paused(true)
            .build()
            .unwrap();
        let (store, tickets) = runtime.block_on(race(a, b, yields, one_worker));
        let ever_open = DELIVERIES[a].2 || DELIVERIES[b].2;
        let all = tickets.all();
        prop_assert_eq!(all.len(), usize::from(ever_open), "{:#?}", all);
        let groups = store.groups();
        prop_assert_eq!(groups.len(), 1);
        let group = &groups[0].value;
        prop_assert!(group.outbox.is_empty() && group.lease.is_none(), "{:#?}", group);
        prop_assert_eq!(
            group.ticket.as_ref().map(|t| t.key.clone()),
            all.first().map(|t| t.key.clone())
        );
        for (_, number, _) in [DELIVERIES[a], DELIVERIES[b]] {
            let fingerprint = Fingerprint::new(
                REPOSITORY,
                scantix_core::finding::AlertKind::CodeScanning,
                number,
            );
            prop_assert!(store.findings_of(&group.key).iter().any(|f| f.fingerprint == fingerprint));
        }
    }
}
