//! Figure family 1: the decision path on one core (a current-thread runtime), over the in-memory
//! store, for three cases: an alert that opens a new group (its ticket is to be created), an alert
//! joining a group that has its ticket, and a delivery already applied.
//!
//! - `stage_*`: each stage alone, its inputs made once: HMAC verify, parse (and its JSON tokenising
//!   alone), the memory store's reads, `decide` (also against a group of 100), and rendering a
//!   ticket (what the executor does for every ticket create or refresh). Also the size of a group
//!   record as JSON, which every group write carries whole.
//! - `decision_path_*`: verify + parse + plan (the reads and `decide` that `Executor::apply_alert`
//!   does before it commits). Nothing is written, so each case's stored state stays as set up.
//! - `ingest_*`: the whole `GithubIngest::handle` over MemoryStore + DraftTracker: commit, outbox
//!   sync, draft ticket writes. Every event is a new delivery (duplicates aside), made between timed
//!   batches.

use crate::measure::{self, figure, nanos, rate};
use crate::payloads::{Deliveries, Delivery, Joining, SECRET, expect_status, ingest_for};
use anyhow::{Context, Result, bail};
use chrono::Utc;
use scantix_app::ingest::GithubIngest;
use scantix_core::config::Config;
use scantix_core::decide::alert::group_key_for;
use scantix_core::decide::triage::builtin;
use scantix_core::decide::{Action, Decision, Inputs, decide};
use scantix_core::event::AlertEvent;
use scantix_core::identity::Fingerprint;
use scantix_core::memory::draft_tracker::DraftTracker;
use scantix_core::memory::store::MemoryStore;
use scantix_core::ports::store::Store;
use scantix_core::records::{FindingRecord, GroupRecord};
use scantix_core::ticket::anatomy::ticket_content;
use scantix_core::ticket::markdown;
use scantix_webhooks::github::alert::{ParsedDelivery, parse_delivery};
use scantix_webhooks::signature::verify_signature;
use std::hint::black_box;
use std::sync::Arc;

/// Distinct deliveries cycled through by the runs that write nothing.
const POOL: u64 = 256;

/// Events made between two timed sections of a run that needs new events.
const BATCH: u64 = 1000;

/// How many alerts join each group in the `ingest_*_joining` run: groups grow from 1 to 5 members.
const JOINS_PER_GROUP: u64 = 4;

/// Members of the big group in `stage_decide_*_joining_group_of_100`.
const BIG_GROUP: u64 = 100;

pub fn run() -> Result<()> {
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()?;
    runtime.block_on(async {
        stages().await?;
        plans().await?;
        ingests().await
    })
}

/// A MemoryStore and an ingest over it that keeps its tickets as drafts in the same store.
fn memory_ingest() -> (Arc<MemoryStore>, GithubIngest) {
    let store = Arc::new(MemoryStore::new());
    let ingest = ingest_for(store.clone(), Arc::new(DraftTracker::new()));
    (store, ingest)
}

async fn stages() -> Result<()> {
    let mut deliveries = Deliveries::new("stage")?;
    let opening = deliveries.new_groups(1)?.remove(0);
    figure("payload_bytes_code_scanning_created", opening.body.len());
    wire_stages(&opening).await?;
    engine_stages(&mut deliveries, &alert_of(&opening)?).await
}

/// What happens to the raw body: verify, parse.
async fn wire_stages(opening: &Delivery) -> Result<()> {
    let verify = measure::run(async |_| {
        verify_signature(
            SECRET.as_bytes(),
            black_box(&opening.body),
            Some(&opening.signature),
        )?;
        Ok(())
    })
    .await?;
    nanos("stage_verify_ns_per_event", &verify);

    let parse = measure::run(async |_| {
        black_box(parse_delivery(opening.event, black_box(&opening.body))?);
        Ok(())
    })
    .await?;
    nanos("stage_parse_ns_per_event", &parse);

    // The JSON tokenising part of parsing alone: the rest is mapping the tree onto a Finding.
    let json_tree = measure::run(async |_| {
        black_box(serde_json::from_slice::<serde_json::Value>(black_box(
            &opening.body,
        ))?);
        Ok(())
    })
    .await?;
    nanos("stage_parse_json_tree_only_ns_per_event", &json_tree);
    Ok(())
}

/// What happens to the parsed event: reads, `decide`, rendering the ticket. `opening` opens a
/// group of its own.
async fn engine_stages(deliveries: &mut Deliveries, opening: &AlertEvent) -> Result<()> {
    let (store, ingest) = memory_ingest();
    // A group with its ticket and one member, and a group of BIG_GROUP members; then a new alert
    // for each, parsed once.
    let small = deliveries.fresh_group();
    let big = deliveries.fresh_group();
    handle_all(&ingest, &[deliveries.open(small)?], "applied").await?;
    let big_members = (0..BIG_GROUP)
        .map(|_| deliveries.open(big))
        .collect::<Result<Vec<_>>>()?;
    handle_all(&ingest, &big_members, "applied").await?;
    let joining_small = alert_of(&deliveries.open(small)?)?;
    let joining_big = alert_of(&deliveries.open(big)?)?;

    let config = Config::default();
    let reads = measure::run(async |_| {
        black_box(read_state(&*store, &config, &joining_small).await?);
        Ok(())
    })
    .await?;
    nanos("stage_memory_store_reads_ns_per_event", &reads);

    let now = Utc::now();
    for (case, event) in [
        ("new_group", opening),
        ("joining", &joining_small),
        ("joining_group_of_100", &joining_big),
    ] {
        let (finding, group) = read_state(&*store, &config, event).await?;
        let tally = measure::run(async |_| {
            black_box(decide(Inputs {
                event: black_box(event),
                finding: finding.as_ref(),
                group: group.as_ref(),
                verdict: &builtin(&event.finding),
                config: &config,
                now,
                delivery: Some("github:bench"),
            }));
            Ok(())
        })
        .await?;
        nanos(&format!("stage_decide_ns_per_event_{case}"), &tally);
    }

    // The size of the group record every event rewrites, at 1 and 100 members.
    for (case, event) in [("1", &joining_small), ("100", &joining_big)] {
        let (_, group) = read_state(&*store, &config, event).await?;
        let group = group.context("the group was stored above")?;
        figure(
            &format!("group_record_json_bytes_group_of_{case}"),
            serde_json::to_vec(&group)?.len(),
        );
    }
    for size in [10, 10_000] {
        decide_render(size, &joining_small).await?;
    }
    Ok(())
}

/// `decide` for an alert joining a group of `size` findings, then the ticket rendered as the
/// executor renders it (its first findings and the group's counts): the per-event cost that must
/// not grow with the group.
async fn decide_render(size: u64, event: &AlertEvent) -> Result<()> {
    use scantix_core::records::GroupContent;
    use scantix_core::ticket::anatomy::{LISTED_FINDINGS, TicketSource};
    let now = Utc::now();
    let config = Config::default();
    let key = group_key_for(event, None, &config, None);
    let mut group = GroupRecord::new(key.clone(), &event.finding, now);
    let mut top = Vec::new();
    for number in 0..size {
        let mut finding = event.finding.clone();
        finding.number = 1_000_000 + number;
        let record = scantix_core::testing::ticketed_record(&finding, &key, now);
        group.absorb(None, &record);
        if top.len() < LISTED_FINDINGS {
            top.push(record);
        }
    }
    group.push_op(scantix_core::records::OutboxOp::Create);
    let content = GroupContent::of(&key, &event.finding);
    let verdict = builtin(&event.finding);
    let tally = measure::run(async |_| {
        let decision = decide(Inputs {
            event: black_box(event),
            finding: None,
            group: Some(black_box(&group)),
            verdict: &verdict,
            config: &config,
            now,
            delivery: Some("github:bench"),
        });
        let group = decision.group.as_ref().unwrap_or(&group);
        let ticket = ticket_content(TicketSource {
            group,
            content: Some(&content),
            top: &top,
        });
        black_box(markdown::render(&ticket));
        Ok(())
    })
    .await?;
    nanos(
        &format!("group_of_{size}_decide_render_ns_per_event"),
        &tally,
    );
    Ok(())
}

async fn plans() -> Result<()> {
    let (store, ingest) = memory_ingest();
    let mut deliveries = Deliveries::new("plan")?;
    let new_groups = deliveries.new_groups(POOL)?;
    let Joining { seeds, joins } = deliveries.joining(POOL, 1)?;
    handle_all(&ingest, &seeds, "applied").await?;

    let config = Config::default();
    for (case, pool, expected) in [
        ("new_group", &new_groups, "create_ticket"),
        ("joining", &joins, "update_ticket"),
        ("duplicate", &seeds, "duplicate"),
    ] {
        // Untimed: the case is what its name says for every delivery of the pool.
        for delivery in pool {
            let planned = plan_kind(&plan(&*store, &config, delivery).await?);
            if planned != expected {
                bail!("{case}: planned {planned}, expected {expected}");
            }
        }
        let tally = measure::run(async |i| {
            let delivery = &pool[(i % POOL) as usize];
            black_box(plan(&*store, &config, delivery).await?);
            Ok(())
        })
        .await?;
        rate(
            &format!("decision_path_events_per_sec_one_core_{case}"),
            &tally,
        );
    }
    Ok(())
}

async fn ingests() -> Result<()> {
    let (_, ingest) = memory_ingest();
    let mut deliveries = Deliveries::new("ingest")?;
    let apply = async |batch: Vec<Delivery>| handle_all(&ingest, &batch, "applied").await;

    let new_group = measure::run_batches(BATCH, async |n| deliveries.new_groups(n), apply).await?;
    rate("ingest_events_per_sec_one_core_new_group", &new_group);

    let joining = measure::run_batches(
        BATCH,
        async |n| {
            let Joining { seeds, joins } = deliveries.joining(n, JOINS_PER_GROUP)?;
            handle_all(&ingest, &seeds, "applied").await?;
            Ok(joins)
        },
        apply,
    )
    .await?;
    rate("ingest_events_per_sec_one_core_joining", &joining);

    let applied = deliveries.new_groups(POOL)?;
    handle_all(&ingest, &applied, "applied").await?;
    let duplicate = measure::run(async |i| {
        let delivery = &applied[(i % POOL) as usize];
        let answer = ingest.handle(&delivery.headers, &delivery.body).await;
        expect_status(&answer, "duplicate")
    })
    .await?;
    rate("ingest_events_per_sec_one_core_duplicate", &duplicate);
    Ok(())
}

/// Hands each delivery to the ingest in turn; fails unless each is answered `status`.
async fn handle_all(ingest: &GithubIngest, deliveries: &[Delivery], status: &str) -> Result<()> {
    for delivery in deliveries {
        expect_status(
            &ingest.handle(&delivery.headers, &delivery.body).await,
            status,
        )?;
    }
    Ok(())
}

/// What `Executor::apply_alert` works out before it writes anything, preceded by what
/// `GithubIngest::handle` does first: verify, parse, the installation read, the dedup check, the
/// finding and group reads, `decide`. Mirrors the two step for step; keep it in line with them. `None`: the delivery was
/// applied before, so nothing is decided.
async fn plan(store: &dyn Store, config: &Config, delivery: &Delivery) -> Result<Option<Decision>> {
    verify_signature(SECRET.as_bytes(), &delivery.body, Some(&delivery.signature))?;
    let event = alert_of(delivery)?;
    // The ingest reads the installation to refuse repositories the App no longer covers; the
    // bench's installation is unknown to the store, which the ingest serves.
    if let Some(installation) = event.installation_id {
        store.get_installation(installation).await?;
    }
    let id = format!("github:{}", delivery.id);
    if store.get_delivery(&id).await?.is_some() {
        return Ok(None);
    }
    let (finding, group) = read_state(store, config, &event).await?;
    Ok(Some(decide(Inputs {
        event: &event,
        finding: finding.as_ref(),
        group: group.as_ref(),
        verdict: &builtin(&event.finding),
        config,
        now: Utc::now(),
        delivery: Some(&id),
    })))
}

/// What `plan` came to, as the first action's JSON tag (`create_ticket`), or `duplicate`.
fn plan_kind(plan: &Option<Decision>) -> &'static str {
    let Some(decision) = plan else {
        return "duplicate";
    };
    match decision.actions.first() {
        Some(Action::CreateTicket { .. }) => "create_ticket",
        Some(Action::UpdateTicket { .. }) => "update_ticket",
        Some(Action::Nothing { .. }) => "nothing",
        Some(_) => "other",
        None => "no action",
    }
}

/// The stored finding and group an event is decided against, read as the executor reads them.
async fn read_state(
    store: &dyn Store,
    config: &Config,
    event: &AlertEvent,
) -> Result<(Option<FindingRecord>, Option<GroupRecord>)> {
    let finding = store
        .get_finding(&Fingerprint::of(&event.finding))
        .await?
        .map(|f| f.value);
    let key = group_key_for(event, finding.as_ref(), config, None);
    let group = store.get_group(&key).await?.map(|g| g.value);
    Ok((finding, group))
}

/// The alert event a delivery carries.
fn alert_of(delivery: &Delivery) -> Result<AlertEvent> {
    match parse_delivery(delivery.event, &delivery.body)? {
        ParsedDelivery::Alert(event) => Ok(event),
        other => bail!("a bench delivery is not an alert: {other:?}"),
    }
}
