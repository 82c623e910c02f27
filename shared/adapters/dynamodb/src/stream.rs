//! The table's stream, as the worker function receives it: a batch of DynamoDB stream records
//! (Lambda's event for a stream source), the inbox items in their `NewImage`s, and the answer
//! Lambda reads with `ReportBatchItemFailures`. What applying an item means is the caller's (the
//! worker, `scantix_app::worker::Worker::apply`); which records hold inbox items, and how an image
//! reads, is this adapter's.
//!
//! Items are applied in lanes, side by side: the caller says what each item is about, and items
//! about one subject keep their order in one lane. A batch of ten costs about the time of its
//! longest lane instead of the sum of all.
//!
//! Failure reporting follows Lambda's contract for stream sources with `ReportBatchItemFailures`:
//! the response names the first record (in batch order) that failed; Lambda checkpoints
//! everything before it and retries from it. A lane stops at its first failure (what follows in
//! it would come again anyway); other lanes' records after the failed one may be applied already,
//! and come back as recognised duplicates. After the mapping's retries run out, Lambda sends the
//! batch's coordinates to the dead-letter queue; the items stay pending in the table for `replay`.
//!
//! The same stream carries every audit item the table takes (`A#<group>` partitions, inserted
//! once and never changed, so a `NEW_IMAGE` holds the whole change): [`audit_entries_of`] reads
//! them for the SIEM publisher (`functions/ocsf-publisher`).

use crate::inbox::inbox_item_from_stream_image;
use crate::items::{
    AUDIT_PARTITION_PREFIX, KIND, KIND_AUDIT, decode_audit, item_from_stream_image, text,
};
use scantix_core::inbox::{Applied, InboxItem};
use scantix_core::ports::store::StoreError;
use scantix_core::records::AuditEntry;
use serde::{Deserialize, Serialize};
use serde_json::Value;
use std::future::Future;

/// A batch from a DynamoDB stream event source mapping, as Lambda delivers it (only the fields
/// the worker reads).
#[derive(Debug, Deserialize)]
pub struct StreamBatch {
    #[serde(rename = "Records", default)]
    pub records: Vec<StreamRecord>,
}

#[derive(Debug, Deserialize)]
pub struct StreamRecord {
    /// `INSERT`, `MODIFY` or `REMOVE`.
    #[serde(rename = "eventName", default)]
    pub event_name: String,
    pub dynamodb: StreamChange,
}

#[derive(Debug, Deserialize)]
pub struct StreamChange {
    #[serde(rename = "SequenceNumber")]
    pub sequence_number: String,
    #[serde(rename = "NewImage", default)]
    pub new_image: Option<Value>,
}

/// The answer Lambda reads with `ReportBatchItemFailures`: an empty list means all done.
#[derive(Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct BatchResponse {
    #[serde(rename = "batchItemFailures")]
    pub batch_item_failures: Vec<ItemFailure>,
}

#[derive(Debug, PartialEq, Serialize, Deserialize)]
pub struct ItemFailure {
    /// The failed record's sequence number.
    #[serde(rename = "itemIdentifier")]
    pub item_identifier: String,
}

/// Applies a stream batch's inbox items with `apply` (the worker's), in lanes by `subject`, and
/// names the first failure (see the module docs).
/// Each item is first `read` once (the worker parses its body), and that reading says its
/// `subject` and is what `apply` gets.
pub async fn apply_batch<T, R, S, F, Fut>(
    batch: &StreamBatch,
    read: R,
    subject: S,
    apply: F,
) -> BatchResponse
where
    R: Fn(InboxItem) -> T,
    S: Fn(&T) -> String,
    F: Fn(T) -> Fut,
    Fut: Future<Output = Applied>,
{
    let mut lanes: Vec<(String, Vec<(usize, T)>)> = Vec::new();
    for (position, record) in batch.records.iter().enumerate() {
        let Some(item) = inbox_item_of(record).map(&read) else {
            continue;
        };
        let about = subject(&item);
        match lanes.iter_mut().find(|(s, _)| *s == about) {
            Some((_, lane)) => lane.push((position, item)),
            None => lanes.push((about, vec![(position, item)])),
        }
    }
    let apply = &apply;
    let failures = futures_util::future::join_all(lanes.into_iter().map(|(_, lane)| async move {
        for (position, item) in lane {
            // `Deferred` is not a failure here: retrying it now cannot help, and reporting it
            // would hold up every record behind it in the shard; it waits pending for replay.
            if let Applied::Failed { .. } = apply(item).await {
                return Some(position);
            }
        }
        None
    }))
    .await;
    match failures.into_iter().flatten().min() {
        Some(position) => BatchResponse {
            batch_item_failures: vec![ItemFailure {
                item_identifier: batch.records[position].dynamodb.sequence_number.clone(),
            }],
        },
        None => BatchResponse::default(),
    }
}

/// The inbox item a stream record carries, or `None` for records the worker skips.
fn inbox_item_of(record: &StreamRecord) -> Option<InboxItem> {
    if record.event_name != "INSERT" {
        return None;
    }
    let image = record.dynamodb.new_image.as_ref()?;
    // Only inbox items reach the worker (the mapping's filter); anything else is skipped.
    if !image["pk"]["S"]
        .as_str()
        .is_some_and(|pk| pk.starts_with("IN#"))
    {
        return None;
    }
    match inbox_item_from_stream_image(image) {
        Ok(item) => Some(item),
        Err(e) => {
            // No retry can make an unreadable image readable; blocking the shard on it would
            // stop every delivery behind it. The item itself stays pending in the table, where
            // replay reads it.
            tracing::error!(error = %e, sequence = %record.dynamodb.sequence_number, outcome = "skipped", "unreadable stream record");
            None
        }
    }
}

/// The audit entries a stream record carries: `Some` for the insert of an audit item (partition
/// `A#<group>`, kind `audit`), with its entries in the order they were committed (or why its
/// image does not read); `None` for every other record (findings, groups, the inbox, the `AD#`
/// day index, removals).
///
/// Pure: the same record always gives the same entries, so the events made of them carry the same
/// uids however often the stream delivers the record.
pub fn audit_entries_of(record: &StreamRecord) -> Option<Result<Vec<AuditEntry>, StoreError>> {
    if record.event_name != "INSERT" {
        return None;
    }
    let image = record.dynamodb.new_image.as_ref()?;
    let pk = image["pk"]["S"].as_str()?;
    // `AD#…` (the day index) shares the first letter; an audit partition is `A#` exactly.
    if !pk.starts_with(AUDIT_PARTITION_PREFIX) {
        return None;
    }
    let item = match item_from_stream_image(image) {
        Ok(item) => item,
        Err(e) => return Some(Err(e)),
    };
    if text(&item, KIND) != Some(KIND_AUDIT) {
        return None;
    }
    Some(decode_audit(&item))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::items::{Item, Write, audit_write};
    use aws_sdk_dynamodb::types::AttributeValue;
    use scantix_core::identity::{Fingerprint, GroupKey};
    use serde_json::{Map, json};

    fn entry(action: &str) -> AuditEntry {
        AuditEntry {
            at: "2026-11-02T09:00:00Z".parse().unwrap(),
            group_key: GroupKey::from_stored("7071/code-scanning/rule:CodeQL:js/sql-injection"),
            fingerprint: Some(Fingerprint::from_stored("7071/code-scanning/1")),
            actor: "scantix".into(),
            action: action.into(),
            reason: "test".into(),
            delivery: Some("github:1".into()),
            ticket: None,
            state: None,
        }
    }

    /// The item as Lambda's DynamoDB event carries it (`NewImage`, typed values).
    fn image(item: &Item) -> Value {
        let mut out = Map::new();
        for (name, value) in item {
            if let AttributeValue::S(s) = value {
                out.insert(name.clone(), json!({ "S": s }));
            }
        }
        Value::Object(out)
    }

    fn record(event_name: &str, image: Value) -> StreamRecord {
        serde_json::from_value(json!({
            "eventName": event_name,
            "dynamodb": { "SequenceNumber": "100", "NewImage": image }
        }))
        .unwrap()
    }

    #[test]
    fn an_inserted_audit_item_gives_its_entries_in_order_and_nothing_else_gives_any() {
        let entries = vec![entry("finding.triaged"), entry("ticket.requested")];
        let (Write::Put { item, .. }, key) = audit_write(&entries, 0).unwrap() else {
            panic!("an audit item is a put");
        };
        assert!(key.pk.starts_with("A#"));
        let insert = record("INSERT", image(&item));
        assert_eq!(audit_entries_of(&insert).unwrap().unwrap(), entries);
        // The same record twice: the same entries (the events' uids are digests of them).
        assert_eq!(
            audit_entries_of(&insert).unwrap().unwrap(),
            audit_entries_of(&insert).unwrap().unwrap()
        );

        // Not an insert; the day index (`AD#`); an inbox item: none of them is a change.
        assert!(audit_entries_of(&record("MODIFY", image(&item))).is_none());
        let mut day = image(&item);
        day["pk"] = json!({ "S": "AD#2026-11-02" });
        assert!(audit_entries_of(&record("INSERT", day)).is_none());
        let inbox =
            json!({ "pk": { "S": "IN#github:1" }, "sk": { "S": "IN" }, "kind": { "S": "inbox" } });
        assert!(audit_entries_of(&record("INSERT", inbox)).is_none());

        // An audit item whose doc does not read: an error, for the caller to log and skip.
        let mut broken = image(&item);
        broken["doc"] = json!({ "S": "{not json" });
        assert!(
            audit_entries_of(&record("INSERT", broken))
                .unwrap()
                .is_err()
        );
    }
}
