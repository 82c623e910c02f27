//! Inbox items: deliveries as the webhook functions make them durable (body gzip-compressed in a
//! binary attribute), read back by the worker from the table's stream or by `scantix replay`.
//!
//! A body too large for one item even compressed (a SARIF upload of tens of MB) is stored in
//! parts: items `INP#<delivery id>` / `0000`, `0001`, … (kind `inbox_part`), each a slice of the
//! compressed body, written *before* the inbox item, which then carries no body but the number
//! of `parts`. The stream filter (`pk` prefix `IN#`) never sees a part, and the inbox item, when
//! it appears, finds its parts already there. Why parts rather than an S3 object: no second
//! service, bucket policy or lifecycle rule to deploy, the same TTL and the same IAM grant
//! (by key prefix) as the inbox item; and the size is already bounded by what a Lambda Function
//! URL accepts (6 MB), so at most a few dozen parts.

use super::items::{Item, KIND, KIND_INBOX, Key, TTL, decode_doc, describe, document_item, number};
use aws_sdk_dynamodb::types::AttributeValue;
use chrono::SecondsFormat;
use scantix_core::inbox::{InboxItem, InboxStatus};
use scantix_core::ports::store::StoreError;

/// The sparse index of pending inbox items, and its keys.
pub const PENDING_INDEX: &str = "pending-inbox";
pub(super) const PENDING: &str = "pending";
pub(super) const RECEIVED_AT: &str = "received_at";
const BODY: &str = "body";
pub(super) const STATUS: &str = "status";
pub(super) const ATTEMPTS: &str = "attempts";
pub(super) const LAST_ERROR: &str = "last_error";
/// An item is at most 400 KB with its attribute names; the rest of an inbox item is well under
/// 10 KB, so a compressed body up to this size always fits.
const MAX_STORED_BODY: usize = 380 * 1024;
/// Parts one body may take: 64 × 380 KB ≈ 24 MB compressed, far beyond what a Function URL
/// lets in (6 MB), so only a bug or a new entry point could reach it.
const MAX_PARTS: usize = 64;
const PARTS: &str = "parts";
pub(super) const KIND_INBOX_PART: &str = "inbox_part";

/// An inbox item as written by a webhook function, and the parts its body needs first (none
/// for a body that fits in the item).
pub(super) struct InboxWrites {
    pub item: Item,
    pub parts: Vec<Item>,
}

/// The key of part `n` of delivery `id`'s body.
pub(super) fn part_key(id: &str, n: usize) -> Key {
    Key {
        pk: part_partition(id),
        sk: format!("{n:04}"),
    }
}

pub(super) fn part_partition(id: &str) -> String {
    format!("INP#{id}")
}

/// The compressed body of a delivery stored in parts, put back together from the part items
/// (in any order) and decompressed.
pub(super) fn join_parts(id: &str, parts: &[Item], expected: usize) -> Result<Vec<u8>, StoreError> {
    let mut slices: Vec<(&str, &[u8])> = Vec::with_capacity(parts.len());
    for part in parts {
        let sk = match part.get(super::items::SK) {
            Some(AttributeValue::S(sk)) => sk.as_str(),
            _ => {
                return Err(StoreError::Corrupt(format!(
                    "{}: no sort key",
                    describe(part)
                )));
            }
        };
        match part.get(BODY) {
            Some(AttributeValue::B(blob)) => slices.push((sk, blob.as_ref())),
            _ => {
                return Err(StoreError::Corrupt(format!(
                    "{}: no binary `{BODY}`",
                    describe(part)
                )));
            }
        }
    }
    if slices.len() != expected {
        return Err(StoreError::Corrupt(format!(
            "delivery {id}: {} of its {expected} body parts are stored",
            slices.len()
        )));
    }
    slices.sort_by(|a, b| a.0.cmp(b.0));
    let compressed: Vec<u8> = slices
        .iter()
        .flat_map(|(_, bytes)| bytes.iter().copied())
        .collect();
    gunzip(&compressed).map_err(|e| StoreError::Corrupt(format!("delivery {id}: body: {e}")))
}

/// The number of parts a decoded inbox item's body was stored in (0: in the item itself).
pub(super) fn parts_of(item: &Item) -> usize {
    match item.get(PARTS) {
        Some(AttributeValue::N(n)) => n.parse().unwrap_or(0),
        _ => 0,
    }
}

/// An inbox item as written by a webhook function: metadata in `doc`, the body gzip-compressed
/// (alert JSON shrinks 5–10×, which keeps a 1 MiB delivery inside DynamoDB's 400 KB item limit),
/// in the item or, beyond that, in parts (see the module docs).
pub(super) fn inbox_writes(item: &InboxItem) -> Result<InboxWrites, StoreError> {
    let body = gzip(&item.body)?;
    let ttl = AttributeValue::N(item.expires_at.timestamp().to_string());
    let mut parts = Vec::new();
    if body.len() > MAX_STORED_BODY {
        let count = body.len().div_ceil(MAX_STORED_BODY);
        if count > MAX_PARTS {
            return Err(StoreError::TooLarge(format!(
                "delivery {} is {} bytes, {} compressed; it may take at most {MAX_PARTS} parts of {MAX_STORED_BODY}",
                item.id,
                item.body.len(),
                body.len()
            )));
        }
        // Deterministic bytes (the same body compresses the same), so a redelivery rewriting
        // the parts of a stored item writes what is there already.
        for (n, slice) in body.chunks(MAX_STORED_BODY).enumerate() {
            let mut part = part_key(&item.id, n).into_item();
            part.insert(KIND.into(), AttributeValue::S(KIND_INBOX_PART.into()));
            part.insert(BODY.into(), AttributeValue::B(slice.to_vec().into()));
            part.insert(TTL.into(), ttl.clone());
            parts.push(part);
        }
    }
    let meta = InboxItem {
        body: Vec::new(),
        body_elsewhere: !parts.is_empty(),
        ..item.clone()
    };
    let mut record = document_item(Key::inbox(&item.id), KIND_INBOX, &meta)?;
    if parts.is_empty() {
        record.insert(BODY.into(), AttributeValue::B(body.into()));
    } else {
        record.insert(PARTS.into(), number(parts.len() as u64));
    }
    record.insert(STATUS.into(), AttributeValue::S("pending".into()));
    record.insert(ATTEMPTS.into(), number(0));
    record.insert(PENDING.into(), AttributeValue::S(PENDING.into()));
    record.insert(
        RECEIVED_AT.into(),
        AttributeValue::S(timestamp(item.received_at)),
    );
    record.insert(TTL.into(), ttl);
    Ok(InboxWrites {
        item: record,
        parts,
    })
}

/// Reads an inbox item back: `doc`, the body, and what `settle_inbox` changed since. A body
/// stored in parts is not here: `body_elsewhere` says so (`DynamoStore` reads the parts).
pub(super) fn decode_inbox(item: &Item) -> Result<InboxItem, StoreError> {
    let mut inbox: InboxItem = decode_doc(item)?;
    inbox.body = match item.get(BODY) {
        Some(AttributeValue::B(blob)) => gunzip(blob.as_ref())
            .map_err(|e| StoreError::Corrupt(format!("{}: body: {e}", describe(item))))?,
        None if parts_of(item) > 0 => {
            inbox.body_elsewhere = true;
            Vec::new()
        }
        _ => {
            return Err(StoreError::Corrupt(format!(
                "{}: no binary `{BODY}`",
                describe(item)
            )));
        }
    };
    inbox.status = match item.get(STATUS) {
        Some(AttributeValue::S(status)) if status == "done" => InboxStatus::Done,
        _ => InboxStatus::Pending,
    };
    if let Some(AttributeValue::N(n)) = item.get(ATTEMPTS) {
        inbox.attempts = n.parse().unwrap_or(inbox.attempts);
    }
    if let Some(AttributeValue::S(error)) = item.get(LAST_ERROR) {
        inbox.last_error = Some(error.clone());
    }
    Ok(inbox)
}

/// The inbox item in a DynamoDB stream record's `NewImage`, as Lambda delivers it (attribute
/// values in DynamoDB JSON: `{"S": "…"}`, `{"N": "…"}`, `{"B": "<base64>"}`).
pub fn inbox_item_from_stream_image(image: &serde_json::Value) -> Result<InboxItem, StoreError> {
    decode_inbox(&super::items::item_from_stream_image(image)?)
}

/// Fixed-width RFC 3339 (nanoseconds, `Z`): text order is time order, for index range keys.
pub(super) fn timestamp(at: chrono::DateTime<chrono::Utc>) -> String {
    at.to_rfc3339_opts(SecondsFormat::Nanos, true)
}

/// What the table's stream carries for a new inbox item (`NewImage`, in DynamoDB JSON as Lambda
/// delivers it): for sample events and tests of the worker without a stream at hand.
pub fn inbox_stream_image(item: &InboxItem) -> Result<serde_json::Value, StoreError> {
    use base64::Engine;
    let mut image = serde_json::Map::new();
    for (name, value) in inbox_writes(item)?.item {
        let typed = match value {
            AttributeValue::S(text) => serde_json::json!({ "S": text }),
            AttributeValue::N(number) => serde_json::json!({ "N": number }),
            AttributeValue::B(blob) => serde_json::json!({
                "B": base64::engine::general_purpose::STANDARD.encode(blob.as_ref())
            }),
            _ => continue,
        };
        image.insert(name, typed);
    }
    Ok(serde_json::Value::Object(image))
}

fn gzip(bytes: &[u8]) -> Result<Vec<u8>, StoreError> {
    use std::io::Write as _;
    let mut encoder = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
    encoder
        .write_all(bytes)
        .and_then(|()| encoder.finish())
        .map_err(|e| StoreError::Corrupt(format!("compressing a body: {e}")))
}

fn gunzip(bytes: &[u8]) -> std::io::Result<Vec<u8>> {
    use std::io::Read as _;
    let mut body = Vec::new();
    flate2::read::GzDecoder::new(bytes).read_to_end(&mut body)?;
    Ok(body)
}
