//! The inbox: webhook deliveries made durable by the webhook functions and applied later by the
//! worker.
//!
//! GitHub never retries a delivery that failed, and wants an answer within 10 s; Jira retries and
//! duplicates. So a webhook function only checks a delivery and writes it here with one
//! conditional put (the item is also the dedup record: a redelivery finds it and writes nothing),
//! then answers. The table's stream hands each new item to the worker, which applies it and marks
//! it done. An item the worker gave up on stays `pending` until `scantix replay` applies it.

use chrono::{DateTime, Duration, Utc};
use serde::{Deserialize, Serialize};

/// How long an inbox item (and so a delivery's dedup) lives: GitHub lets an admin redeliver from
/// the past 3 days, Jira retries for hours, and a dead letter must still be replayable after a long
/// weekend. 14 days is also the dead-letter queue's retention.
pub const INBOX_LIFETIME: Duration = Duration::days(14);

/// Who sent the delivery.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum InboxSource {
    Github,
    Jira,
}

impl InboxSource {
    pub fn as_str(self) -> &'static str {
        match self {
            InboxSource::Github => "github",
            InboxSource::Jira => "jira",
        }
    }
}

/// Where an item is in its life.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum InboxStatus {
    /// Written by a webhook function; not applied yet (or every attempt so far failed).
    Pending,
    /// Applied (or found to need no work); kept until it expires, as the dedup record.
    Done,
}

/// One delivery as received: the raw body exactly as signed, and what is needed to apply it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct InboxItem {
    /// `github:<X-GitHub-Delivery>` or `jira:<webhook identifier>`: the same id the engine's
    /// delivery records use, so applying an item twice is recognised downstream too.
    pub id: String,
    pub source: InboxSource,
    /// GitHub's `X-GitHub-Event` (`code_scanning_alert`, …); `jira` for Jira deliveries.
    pub event: String,
    pub received_at: DateTime<Utc>,
    pub expires_at: DateTime<Utc>,
    /// The request body, byte for byte.
    #[serde(with = "body_base64")]
    pub body: Vec<u8>,
    pub status: InboxStatus,
    /// Failed attempts so far, and the last failure (for whoever replays it).
    pub attempts: u32,
    pub last_error: Option<String>,
}

impl InboxItem {
    /// A new pending item for a delivery received `now`.
    pub fn received(
        source: InboxSource,
        id: String,
        event: &str,
        body: &[u8],
        now: DateTime<Utc>,
    ) -> InboxItem {
        InboxItem {
            id,
            source,
            event: event.to_owned(),
            received_at: now,
            expires_at: now + INBOX_LIFETIME,
            body: body.to_vec(),
            status: InboxStatus::Pending,
            attempts: 0,
            last_error: None,
        }
    }

    /// The delivery id as its sender wrote it (`id` without the `github:`/`jira:` prefix).
    pub fn delivery(&self) -> &str {
        self.id
            .split_once(':')
            .map(|(_, rest)| rest)
            .unwrap_or(&self.id)
    }
}

/// What the worker did with an item.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Applied {
    /// Done: applied, a duplicate, or nothing to do. The item leaves the pending set.
    Done { outcome: String },
    /// Failed; retrying can help (a tracker outage, throttling). The item stays pending.
    Failed { error: String },
}

/// The JSON file of the local store keeps bodies as base64 text rather than arrays of numbers.
mod body_base64 {
    use base64::Engine;
    use base64::engine::general_purpose::STANDARD;
    use serde::{Deserialize, Deserializer, Serializer};

    pub fn serialize<S: Serializer>(body: &[u8], serializer: S) -> Result<S::Ok, S::Error> {
        serializer.serialize_str(&STANDARD.encode(body))
    }

    pub fn deserialize<'de, D: Deserializer<'de>>(deserializer: D) -> Result<Vec<u8>, D::Error> {
        let text = String::deserialize(deserializer)?;
        STANDARD.decode(text).map_err(serde::de::Error::custom)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_item_keeps_its_body_byte_for_byte_through_json() {
        let body = b"{\"action\":\"created\"}\n\xff\x00";
        let now = Utc::now();
        let item = InboxItem::received(InboxSource::Github, "github:abc".into(), "ping", body, now);
        let json = serde_json::to_string(&item).unwrap();
        let back: InboxItem = serde_json::from_str(&json).unwrap();
        assert_eq!(back.body, body);
        assert_eq!(back.delivery(), "abc");
        assert_eq!(back.expires_at - back.received_at, INBOX_LIFETIME);
        assert_eq!(back.status, InboxStatus::Pending);
    }
}
