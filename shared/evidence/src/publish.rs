//! Every change of a finding or ticket, published to a SIEM as it happens: the deployed side of
//! `scantix export --ocsf`. The caller (the `ocsf-publisher` function) hands over the changes of a
//! stream batch, each the audit entries of one audit item as the table's stream carried it; this
//! module makes their OCSF events (`crate::ocsf`, with the records they name as they are now),
//! sends them through the `Sink` port, and says which change to retry from.
//!
//! At least once, idempotent for the consumer: an event's `metadata.uid` is a digest of its audit
//! entry and `finding_info.uid` the finding's fingerprint (or `ticket:<group>`), so a change
//! delivered twice (a retried batch, a retried call) gives events with the same uids, which a
//! consumer drops as repeats. Nothing here remembers what was sent: the stream's checkpoint does.

use crate::EvidenceError;
use crate::read::Records;
use scantix_core::ports::sink::Sink;
use scantix_core::ports::store::Store;
use scantix_core::records::AuditEntry;

/// One change as the stream carried it: its id (the record's sequence number, what Lambda is told
/// to retry from) and the audit entries it holds.
#[derive(Debug, Clone, PartialEq)]
pub struct Change {
    pub id: String,
    pub entries: Vec<AuditEntry>,
}

/// What a publish did.
#[derive(Debug, Default, PartialEq)]
pub struct Published {
    /// Events delivered (a retried change's events count again).
    pub events: usize,
    /// The first change (in batch order) not wholly delivered while a retry can help: retry from
    /// it. `None`: everything that can be delivered was.
    pub retry_from: Option<String>,
    /// Why, for the log.
    pub error: Option<String>,
    /// Events no retry can deliver (the sink refused them for good), with the change they came
    /// from and the sink's reason: logged and left, so one such event does not hold up the stream.
    pub dropped: Vec<(String, String)>,
}

/// Publishes the events of `changes` (in their order) to `sink`, reading the records they name
/// from `store` once each. A store read that fails stops the batch at that change; a sink that
/// refuses events names their changes; the earliest of these is where the stream retries from.
pub async fn publish(store: &dyn Store, sink: &dyn Sink, changes: &[Change]) -> Published {
    let mut records = Records::default();
    let mut events = Vec::new();
    // For each event, the change it belongs to (its position in `changes`).
    let mut owners = Vec::new();
    let mut stopped: Option<(usize, EvidenceError)> = None;
    for (position, change) in changes.iter().enumerate() {
        match crate::ocsf::events_with(store, &mut records, &change.entries).await {
            Ok(of_change) => {
                owners.extend(std::iter::repeat_n(position, of_change.len()));
                events.extend(of_change);
            }
            Err(e) => {
                stopped = Some((position, e));
                break;
            }
        }
    }
    let mut published = Published::default();
    let mut first_failed = stopped.as_ref().map(|(position, _)| *position);
    published.error = stopped.map(|(_, e)| format!("reading the records a change names: {e}"));
    if events.is_empty() {
        published.retry_from = first_failed.map(|p| changes[p].id.clone());
        return published;
    }
    match sink.publish(&events).await {
        Ok(()) => published.events = events.len(),
        Err(e) => {
            published.events = events
                .len()
                .saturating_sub(e.failed.len() + e.rejected.len());
            let change_of = |i: &usize| owners.get(*i).copied();
            if let Some(failed) = e.failed.iter().filter_map(change_of).min() {
                first_failed = Some(first_failed.map_or(failed, |f| f.min(failed)));
                published
                    .error
                    .get_or_insert(format!("{} did not take every event: {e}", sink.name()));
            }
            published.dropped = e
                .rejected
                .iter()
                .filter_map(change_of)
                .map(|p| (changes[p].id.clone(), e.reason.clone()))
                .collect();
        }
    }
    published.retry_from = first_failed.map(|p| changes[p].id.clone());
    published
}

#[cfg(test)]
mod tests {
    use super::*;
    use scantix_core::memory::sink::MemorySink;
    use scantix_core::memory::store::MemoryStore;
    use scantix_core::testing;

    fn change(id: &str, action: &str, number: u64) -> Change {
        let finding = testing::code_alert(number, "js/xss", "src/app.js");
        Change {
            id: id.into(),
            entries: vec![AuditEntry {
                at: "2026-11-02T10:00:00Z".parse().unwrap(),
                group_key: scantix_core::identity::GroupKey::from_stored("1/code-scanning/rule:x"),
                fingerprint: Some(scantix_core::identity::Fingerprint::of(&finding)),
                actor: "scantix".into(),
                action: action.into(),
                reason: "test".into(),
                delivery: Some(format!("github:{id}")),
                ticket: None,
                state: None,
            }],
        }
    }

    #[tokio::test]
    async fn a_refused_event_names_its_change_and_a_redelivery_gives_the_same_uids() {
        let store = MemoryStore::new();
        let sink = MemorySink::new();
        let changes = vec![
            change("100", "finding.triaged", 1),
            change("200", "finding.triaged", 2),
            change("300", "finding.triaged", 3),
        ];
        let first = publish(&store, &sink, &changes).await;
        assert_eq!(first.events, 3);
        assert_eq!(first.retry_from, None);
        let uids: Vec<String> = sink
            .events()
            .iter()
            .map(|e| e["metadata"]["uid"].as_str().unwrap().to_owned())
            .collect();

        // The second change's event is refused: the stream retries from it.
        sink.refuse(&uids[1]);
        let second = publish(&store, &sink, &changes).await;
        assert_eq!(second.events, 2);
        assert_eq!(second.retry_from.as_deref(), Some("200"));

        // Lambda retries from "200": the same events, the same uids.
        sink.accept_all();
        let retried = publish(&store, &sink, &changes[1..]).await;
        assert_eq!(retried.retry_from, None);
        let again: Vec<String> = sink.events()[5..]
            .iter()
            .map(|e| e["metadata"]["uid"].as_str().unwrap().to_owned())
            .collect();
        assert_eq!(again, uids[1..]);
    }

    #[tokio::test]
    async fn changes_that_are_not_state_changes_publish_nothing() {
        let store = MemoryStore::new();
        let sink = MemorySink::new();
        let published = publish(&store, &sink, &[change("1", "ticket.commented", 1)]).await;
        assert_eq!(published, Published::default());
        assert_eq!(sink.calls(), 0);
    }
}
