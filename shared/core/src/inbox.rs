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
    /// scantix's business rule in ServiceNow (`infra/servicenow/`).
    #[serde(rename = "servicenow")]
    ServiceNow,
    Linear,
    /// A CI job's SARIF upload (the upload endpoint); what it is about is in [`InboxItem::upload`].
    Upload,
}

impl InboxSource {
    pub fn as_str(self) -> &'static str {
        match self {
            InboxSource::Github => "github",
            InboxSource::Jira => "jira",
            InboxSource::ServiceNow => "servicenow",
            InboxSource::Linear => "linear",
            InboxSource::Upload => "upload",
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
    /// `github:<X-GitHub-Delivery>`, `jira:<webhook identifier>`, `linear:<Linear-Delivery>` or `upload:<digest of what the
    /// upload is>` (see `scantix_app::ingest::upload`): the same id the engine's
    /// delivery records use, so applying an item twice is recognised downstream too.
    pub id: String,
    pub source: InboxSource,
    /// GitHub's `X-GitHub-Event` (`code_scanning_alert`, …); `jira` or `linear` for trackers'.
    pub event: String,
    pub received_at: DateTime<Utc>,
    pub expires_at: DateTime<Utc>,
    /// The request body, byte for byte (a SARIF upload's decompressed).
    #[serde(with = "body_base64")]
    pub body: Vec<u8>,
    pub status: InboxStatus,
    /// Failed attempts so far, and the last failure (for whoever replays it).
    pub attempts: u32,
    pub last_error: Option<String>,
    /// For an upload: the analysis it is (repository, ref, commit, category), as its token and
    /// URL named it. A webhook's body says this itself; a SARIF file does not.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub upload: Option<UploadTarget>,
    /// The body is too large to travel with the item (a SARIF upload stored in parts, see the
    /// DynamoDB adapter): `body` is empty here and `Inbox::get_inbox` reads it whole.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub body_elsewhere: bool,
}

/// What a SARIF upload is an analysis of. The repository comes from the caller's credential (a
/// GitHub Actions OIDC token names it; an installation's upload token covers the installation's
/// repositories), never from the body.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct UploadTarget {
    /// `owner/name`.
    pub repository: String,
    pub repository_id: u64,
    /// The App installation that covers the repository.
    pub installation_id: u64,
    /// `refs/heads/main`, `refs/pull/7/merge`, …
    #[serde(rename = "ref")]
    pub git_ref: String,
    /// The commit analysed (40 hex digits).
    pub commit: String,
    /// The analysis category (`semgrep`, `trivy/image`); empty when the upload named none.
    pub category: String,
    /// SHA-256 of the SARIF as decompressed, hex: part of the delivery id.
    pub digest: String,
    /// How the caller authenticated (`github-oidc` or `upload-token`), for the audit trail.
    pub authenticated_by: String,
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
            upload: None,
            body_elsewhere: false,
        }
    }

    /// A new pending item for a SARIF upload: `sarif` is the file as decompressed.
    pub fn uploaded(
        id: String,
        target: UploadTarget,
        sarif: Vec<u8>,
        now: DateTime<Utc>,
    ) -> InboxItem {
        InboxItem {
            id,
            source: InboxSource::Upload,
            event: "sarif".to_owned(),
            received_at: now,
            expires_at: now + INBOX_LIFETIME,
            body: sarif,
            status: InboxStatus::Pending,
            attempts: 0,
            last_error: None,
            upload: Some(target),
            body_elsewhere: false,
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
    /// Not applied, and retrying at once cannot help: this deployment cannot apply such items yet
    /// (a SARIF upload before the analysis engine is wired). The item stays pending, with the
    /// reason recorded as a failed attempt, for `scantix replay` once it can; the stream does not
    /// retry it, so it holds up nothing behind it.
    Deferred { reason: String },
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
