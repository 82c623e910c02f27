//! Inbox items: deliveries as the webhook functions make them durable (body gzip-compressed in a
//! binary attribute), read back by the worker from the table's stream or by `scantix replay`.

use super::items::{Item, KIND_INBOX, Key, TTL, decode_doc, describe, document_item, number};
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

/// An inbox item as written by a webhook function: metadata in `doc`, the body gzip-compressed
/// (alert JSON shrinks 5–10×, which keeps a 1 MiB delivery inside DynamoDB's 400 KB item limit).
pub(super) fn inbox_item(item: &InboxItem) -> Result<Item, StoreError> {
    let body = gzip(&item.body)?;
    if body.len() > MAX_STORED_BODY {
        return Err(StoreError::TooLarge(format!(
            "delivery {} is {} bytes, {} compressed; an inbox item holds at most {MAX_STORED_BODY}",
            item.id,
            item.body.len(),
            body.len()
        )));
    }
    let meta = InboxItem {
        body: Vec::new(),
        ..item.clone()
    };
    let mut record = document_item(Key::inbox(&item.id), KIND_INBOX, &meta)?;
    record.insert(BODY.into(), AttributeValue::B(body.into()));
    record.insert(STATUS.into(), AttributeValue::S("pending".into()));
    record.insert(ATTEMPTS.into(), number(0));
    record.insert(PENDING.into(), AttributeValue::S(PENDING.into()));
    record.insert(
        RECEIVED_AT.into(),
        AttributeValue::S(timestamp(item.received_at)),
    );
    record.insert(
        TTL.into(),
        AttributeValue::N(item.expires_at.timestamp().to_string()),
    );
    Ok(record)
}

/// Reads an inbox item back: `doc`, the body, and what `settle_inbox` changed since.
pub(super) fn decode_inbox(item: &Item) -> Result<InboxItem, StoreError> {
    let mut inbox: InboxItem = decode_doc(item)?;
    inbox.body = match item.get(BODY) {
        Some(AttributeValue::B(blob)) => gunzip(blob.as_ref())
            .map_err(|e| StoreError::Corrupt(format!("{}: body: {e}", describe(item))))?,
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
    use base64::Engine;
    let corrupt = |what: String| StoreError::Corrupt(format!("stream image: {what}"));
    let fields = image
        .as_object()
        .ok_or_else(|| corrupt("not an object".into()))?;
    let mut item = Item::new();
    for (name, value) in fields {
        let (tag, inner) = value
            .as_object()
            .and_then(|typed| typed.iter().next())
            .ok_or_else(|| corrupt(format!("`{name}` is not a typed value")))?;
        let text = inner.as_str();
        let value = match (tag.as_str(), text) {
            ("S", Some(text)) => AttributeValue::S(text.into()),
            ("N", Some(text)) => AttributeValue::N(text.into()),
            ("B", Some(text)) => AttributeValue::B(
                base64::engine::general_purpose::STANDARD
                    .decode(text)
                    .map_err(|e| corrupt(format!("`{name}`: {e}")))?
                    .into(),
            ),
            // Other types (maps, lists, booleans) are not part of an inbox item.
            _ => continue,
        };
        item.insert(name.clone(), value);
    }
    decode_inbox(&item)
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
    for (name, value) in inbox_item(item)? {
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
