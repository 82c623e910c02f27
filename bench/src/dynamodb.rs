//! Figure family 2: DynamoDB Local, on a fresh table. The store is wrapped in `CountingStore`, and
//! the draft tracker writes its tickets through the same wrapped store, so every DynamoDB request
//! an event causes is counted.
//!
//! - `dynamodb_round_trips_<case>`: requests per event along one group's life
//!   (`payloads::lifecycle`), with the breakdown by store call.
//! - `dynamodb_events_per_sec_<case>_<n>_task(s)`: end to end (`GithubIngest::handle` over
//!   DynamoStore and DraftTracker) with 1 task and with 16 concurrent tasks; and the round trips per
//!   event those runs averaged (above the single-event figures only if concurrent writers conflicted).
//! - `dynamodb_mean_ms_per_call_<n>_task(s)`: each store call's mean latency over those runs
//!   (seeding included), as the client saw it.
//!
//! A multi-thread runtime (one worker per core) lets 16 tasks overlap their round trips. DynamoDB
//! Local runs on this machine: the JVM and the bench share its cores.

use crate::measure::{self, Tally, figure, rate};
use crate::payloads::{
    Deliveries, Delivery, Joining, expect_status, expect_step, ingest_for, lifecycle,
};
use crate::store_calls::CountingStore;
use anyhow::{Context, Result};
use scantix::ingest::GithubIngest;
use scantix::store::Store;
use scantix::store::dynamodb::DynamoStore;
use scantix::tracker::draft::DraftTracker;
use std::cell::Cell;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};

/// Concurrent tasks handing deliveries to one ingest.
const TASKS: [usize; 2] = [1, 16];

/// Events per timed batch, per task.
const BATCH_PER_TASK: u64 = 50;

/// How many alerts join each group in the joining runs: groups grow from 1 to 5 members.
const JOINS_PER_GROUP: u64 = 4;

/// Deliveries replayed in the duplicate runs.
const DUPLICATE_POOL: usize = 64;

pub fn run(endpoint: &str) -> Result<()> {
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()?;
    runtime.block_on(async {
        let table = format!("scantix-bench-{}", uuid::Uuid::new_v4().simple());
        let dynamo = DynamoStore::connect_local(endpoint, &table).await;
        dynamo
            .create_table_with_stream(false)
            .await
            .with_context(|| {
                format!("while creating table {table} on DynamoDB Local at {endpoint}")
            })?;
        figure("dynamodb_endpoint", endpoint);
        let counting = Arc::new(CountingStore::new(Arc::new(dynamo)));
        let store: Arc<dyn Store> = counting.clone();
        let ingest = Arc::new(ingest_for(
            store.clone(),
            Arc::new(DraftTracker::new(store)),
        ));
        round_trips(&ingest, &counting).await?;
        for tasks in TASKS {
            throughput(&ingest, &counting, tasks).await?;
        }
        Ok(())
    })
}

async fn round_trips(ingest: &GithubIngest, counting: &CountingStore) -> Result<()> {
    for step in lifecycle()? {
        let (case, delivery) = (step.case, &step.delivery);
        let before = counting.calls();
        expect_step(
            &ingest.handle(&delivery.headers, &delivery.body).await,
            &step,
        )?;
        let calls = counting.calls().since(before);
        figure(&format!("dynamodb_round_trips_{case}"), calls.total());
        figure(&format!("dynamodb_round_trips_{case}_by_call"), calls);
    }
    Ok(())
}

/// New groups, joining alerts and duplicate deliveries, each from `tasks` concurrent tasks.
async fn throughput(
    ingest: &Arc<GithubIngest>,
    counting: &CountingStore,
    tasks: usize,
) -> Result<()> {
    let mut deliveries = Deliveries::new(&format!("dynamodb-{tasks}"))?;
    let batch = BATCH_PER_TASK * tasks as u64;
    let started = counting.calls();
    // Round trips are summed over timed batches only (warm-up included), not over preparation.
    let trips = RoundTrips::default();
    let apply = async |batch: Vec<Delivery>, status: &str| {
        let before = counting.calls();
        let events = batch.len() as u64;
        handle_concurrently(ingest, batch, tasks, status).await?;
        trips.add(events, counting.calls().since(before).total());
        anyhow::Ok(())
    };

    let new_group = measure::run_batches(
        batch,
        async |n| deliveries.new_groups(n),
        async |b| apply(b, "applied").await,
    )
    .await?;
    report("new_group", tasks, &new_group, trips.take());

    let joining = measure::run_batches(
        batch,
        async |n| {
            let Joining { seeds, joins } = deliveries.joining(n, JOINS_PER_GROUP)?;
            handle_concurrently(ingest, seeds, tasks, "applied").await?;
            Ok(joins)
        },
        async |b| apply(b, "applied").await,
    )
    .await?;
    report("joining", tasks, &joining, trips.take());

    let applied = deliveries.new_groups(DUPLICATE_POOL as u64)?;
    handle_concurrently(ingest, applied.clone(), tasks, "applied").await?;
    let mut next = 0;
    let duplicate = measure::run_batches(
        batch,
        async |n| {
            let replays = (next..next + n as usize)
                .map(|i| applied[i % DUPLICATE_POOL].clone())
                .collect();
            next += n as usize;
            Ok(replays)
        },
        async |b| apply(b, "duplicate").await,
    )
    .await?;
    report("duplicate", tasks, &duplicate, trips.take());
    figure(
        &format!("dynamodb_mean_ms_per_call_{}", tasks_label(tasks)),
        counting.calls().since(started).mean_millis(),
    );
    Ok(())
}

fn report(case: &str, tasks: usize, tally: &Tally, trips: f64) {
    let tasks = tasks_label(tasks);
    rate(&format!("dynamodb_events_per_sec_{case}_{tasks}"), tally);
    figure(
        &format!("dynamodb_round_trips_per_event_{case}_{tasks}"),
        format!("{trips:.2}"),
    );
}

fn tasks_label(tasks: usize) -> String {
    match tasks {
        1 => "1_task".to_owned(),
        n => format!("{n}_tasks"),
    }
}

/// Events and the round trips they took, summed over a run. Cells: the timed closure adds while
/// the run's caller reads between runs.
#[derive(Default)]
struct RoundTrips {
    events: Cell<u64>,
    trips: Cell<u64>,
}

impl RoundTrips {
    fn add(&self, events: u64, trips: u64) {
        self.events.set(self.events.get() + events);
        self.trips.set(self.trips.get() + trips);
    }

    /// The average so far, starting over.
    fn take(&self) -> f64 {
        self.trips.take() as f64 / self.events.take() as f64
    }
}

/// Hands `deliveries` to the ingest from `tasks` tasks, each taking the next delivery not yet
/// taken; fails unless every one is answered `status`.
async fn handle_concurrently(
    ingest: &Arc<GithubIngest>,
    deliveries: Vec<Delivery>,
    tasks: usize,
    status: &str,
) -> Result<()> {
    let deliveries = Arc::new(deliveries);
    let next = Arc::new(AtomicUsize::new(0));
    let mut workers = tokio::task::JoinSet::new();
    for _ in 0..tasks {
        let (ingest, deliveries, next) = (ingest.clone(), deliveries.clone(), next.clone());
        let status = status.to_owned();
        workers.spawn(async move {
            while let Some(delivery) = deliveries.get(next.fetch_add(1, Ordering::Relaxed)) {
                let answer = ingest.handle(&delivery.headers, &delivery.body).await;
                expect_status(&answer, &status)?;
            }
            anyhow::Ok(())
        });
    }
    while let Some(finished) = workers.join_next().await {
        finished??;
    }
    Ok(())
}
