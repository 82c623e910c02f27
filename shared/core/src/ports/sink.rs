//! The `Sink` port: where a SIEM's events go (an EventBridge bus, a Kinesis Data Firehose stream,
//! an S3 bucket; `scantix_sinks` holds the adapters), and the `Archive` port: where files are kept
//! (the daily metrics report, in S3). `crate::memory::sink` is the in-memory twin of both.
//!
//! A sink is at least once: an event may arrive twice (a retried stream batch, a retried call), so
//! every event carries a stable uid (`metadata.uid`) a consumer drops repeats by. What a sink owes
//! its caller is the truth about which events it did not deliver, so the caller retries those.

use async_trait::async_trait;
use serde_json::Value;

/// Which events of a `publish` did not arrive: those a retry may deliver, and those it never will.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
#[error("{} events not delivered, {} refused for good ({reason})", failed.len(), rejected.len())]
pub struct SinkError {
    /// Positions, in the slice handed to `publish`, of the events not delivered that a later try
    /// may deliver (throttled, the service unavailable), ascending.
    pub failed: Vec<usize>,
    /// Positions of the events no retry can deliver (larger than the service takes, refused as
    /// malformed): the caller reports them and moves on instead of holding up the stream.
    pub rejected: Vec<usize>,
    /// The first reason the service gave (an error code and message), for the log.
    pub reason: String,
}

/// Where OCSF events go.
#[async_trait]
pub trait Sink: Send + Sync {
    /// What the sink is (`eventbridge`, `firehose`, `s3`, `memory`), for logs.
    fn name(&self) -> &str;

    /// Delivers `events` (OCSF JSON objects), in batches the service takes. `Ok` when every one
    /// arrived; otherwise the positions of those that did not (the others did arrive).
    async fn publish(&self, events: &[Value]) -> Result<(), SinkError>;
}

/// Why a file could not be kept.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
#[error("writing {key}: {reason}")]
pub struct ArchiveError {
    pub key: String,
    pub reason: String,
}

/// Where files are kept, by key (an S3 bucket under a prefix). Writing a key again replaces it.
#[async_trait]
pub trait Archive: Send + Sync {
    async fn put(&self, key: &str, body: Vec<u8>, content_type: &str) -> Result<(), ArchiveError>;
}
