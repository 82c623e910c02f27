//! Figure family 3: tracker calls per event, counted by `Counted` around the in-memory tracker
//! (over a MemoryStore; drafts make none), along one group's life (`payloads::lifecycle`): a new group, a joining alert,
//! a duplicate delivery, a fix that leaves the group open, the fix that empties it (stale), and a
//! reappearance (reopen).

use crate::measure::figure;
use crate::payloads::{expect_step, ingest_for, lifecycle};
use anyhow::Result;
use scantix_core::memory::counted_tracker::{Calls, Counted};
use scantix_core::memory::store::MemoryStore;
use scantix_core::memory::tracker::MemoryTracker;
use scantix_core::ports::store::Store;
use std::sync::Arc;

pub fn run() -> Result<()> {
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()?;
    runtime.block_on(async {
        let store: Arc<dyn Store> = Arc::new(MemoryStore::new());
        let (tracker, counts) = Counted::new(MemoryTracker::new());
        let ingest = ingest_for(store, Arc::new(tracker));
        for step in lifecycle()? {
            let (case, delivery) = (step.case, &step.delivery);
            let before = counts.snapshot();
            let answered = ingest.handle(&delivery.headers, &delivery.body).await;
            expect_step(&answered, &step)?;
            let calls = since(counts.snapshot(), before);
            figure(&format!("tracker_calls_{case}"), calls.total());
            figure(&format!("tracker_calls_{case}_by_kind"), by_kind(&calls));
            figure(
                &format!("tracker_calls_{case}_decided"),
                decided(&answered.body),
            );
        }
        Ok(())
    })
}

/// The calls made between two snapshots.
fn since(after: Calls, before: Calls) -> Calls {
    Calls {
        find: after.find - before.find,
        create: after.create - before.create,
        update: after.update - before.update,
        comment: after.comment - before.comment,
        transition: after.transition - before.transition,
    }
}

/// `find=1 create=1`: the kinds called, in `Calls`' order; `none` when nothing was.
fn by_kind(calls: &Calls) -> String {
    let kinds = [
        ("find", calls.find),
        ("create", calls.create),
        ("update", calls.update),
        ("comment", calls.comment),
        ("transition", calls.transition),
    ];
    let called: Vec<String> = kinds
        .iter()
        .filter(|(_, n)| *n > 0)
        .map(|(kind, n)| format!("{kind}={n}"))
        .collect();
    if called.is_empty() {
        "none".into()
    } else {
        called.join(" ")
    }
}

/// The actions the engine decided (`create_ticket, comment`), as the ingest answered them, so the
/// reader can see each step is the case its name says.
fn decided(answer: &serde_json::Value) -> String {
    let actions: Vec<&str> = answer["outcome"]["actions"]
        .as_array()
        .into_iter()
        .flatten()
        .filter_map(|a| a["action"].as_str())
        .collect();
    if actions.is_empty() {
        "nothing".into()
    } else {
        actions.join(", ")
    }
}
