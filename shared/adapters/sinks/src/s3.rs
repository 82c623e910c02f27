//! `S3Bucket`: a bucket under a key prefix, as the `Sink` port (OCSF events as JSON lines) and the
//! `Archive` port (files by key: the daily report).
//!
//! Events: one object per publish and day of the events' `time`, at
//! `<prefix>dt=<yyyy-mm-dd>/<digest>.jsonl`, the digest made from the events' uids in order, so a
//! batch delivered again is written to the same key (replacing it) rather than beside it; a
//! retried part of a batch is a new object whose events a consumer recognises by their uids. The
//! `dt=` folders are partitions Athena and Glue read as a column.

use async_trait::async_trait;
use aws_sdk_s3::Client;
use aws_sdk_s3::error::DisplayErrorContext;
use aws_sdk_s3::primitives::ByteStream;
use chrono::{DateTime, NaiveDate};
use scantix_core::ports::sink::{Archive, ArchiveError, Sink, SinkError};
use serde_json::Value;
use sha2::{Digest, Sha256};
use std::collections::BTreeMap;

/// A bucket, and the prefix every key written there starts with (`""`, or ending in `/`).
pub struct S3Bucket {
    client: Client,
    bucket: String,
    prefix: String,
}

impl S3Bucket {
    pub fn new(client: Client, bucket: impl Into<String>, prefix: impl Into<String>) -> S3Bucket {
        S3Bucket {
            client,
            bucket: bucket.into(),
            prefix: prefix.into(),
        }
    }

    async fn put_object(&self, key: &str, body: Vec<u8>, content_type: &str) -> Result<(), String> {
        self.client
            .put_object()
            .bucket(&self.bucket)
            .key(key)
            .content_type(content_type)
            .body(ByteStream::from(body))
            .send()
            .await
            .map(|_| ())
            .map_err(|e| {
                format!(
                    "PutObject s3://{}/{key}: {}",
                    self.bucket,
                    DisplayErrorContext(&e)
                )
            })
    }
}

/// The day of an event's `time` (epoch milliseconds), UTC.
fn day_of(event: &Value) -> NaiveDate {
    let ms = event["time"].as_i64().unwrap_or_default();
    DateTime::from_timestamp_millis(ms)
        .unwrap_or_default()
        .date_naive()
}

/// The key of the object holding `events` of `day`.
pub fn events_key(prefix: &str, day: NaiveDate, events: &[&Value]) -> String {
    let mut digest = Sha256::new();
    for event in events {
        digest.update(crate::uid(event).as_bytes());
        digest.update(b"\n");
    }
    let digest = hex::encode(&digest.finalize()[..16]);
    format!("{prefix}dt={day}/{digest}.jsonl")
}

#[async_trait]
impl Sink for S3Bucket {
    fn name(&self) -> &str {
        "s3"
    }

    async fn publish(&self, events: &[Value]) -> Result<(), SinkError> {
        let mut days: BTreeMap<NaiveDate, Vec<usize>> = BTreeMap::new();
        for (position, event) in events.iter().enumerate() {
            days.entry(day_of(event)).or_default().push(position);
        }
        let mut failed = Vec::new();
        let mut reason = None;
        for (day, positions) in days {
            let of_day: Vec<&Value> = positions.iter().map(|&p| &events[p]).collect();
            let key = events_key(&self.prefix, day, &of_day);
            let mut body = Vec::new();
            for event in &of_day {
                body.extend_from_slice(event.to_string().as_bytes());
                body.push(b'\n');
            }
            // The SDK retries what can pass (throttling, 5xx); what is left, the stream retries.
            if let Err(e) = self.put_object(&key, body, "application/x-ndjson").await {
                reason.get_or_insert(e);
                failed.extend(positions);
            }
        }
        if failed.is_empty() {
            return Ok(());
        }
        failed.sort_unstable();
        Err(SinkError {
            failed,
            rejected: Vec::new(),
            reason: reason.unwrap_or_default(),
        })
    }
}

#[async_trait]
impl Archive for S3Bucket {
    async fn put(&self, key: &str, body: Vec<u8>, content_type: &str) -> Result<(), ArchiveError> {
        let key = format!("{}{key}", self.prefix);
        self.put_object(&key, body, content_type)
            .await
            .map_err(|reason| ArchiveError { key, reason })
    }
}
