//! `scantix-sinks`: the `Sink` port (`scantix_core::ports::sink`) as the three places a SIEM takes
//! scantix's OCSF events from in AWS, and the `Archive` port as an S3 bucket (the daily report).
//! Each adapter splits what it is handed into the calls its service takes (count and byte
//! limits), retries the entries a call reports as failed for a reason that can pass, and tells the
//! caller exactly which events did not arrive, so the stream retries from the first of them.
//!
//! Not here: which events to send or when (`scantix_evidence::publish`), the stream
//! (`scantix_dynamodb::stream`), choosing a sink from the environment (`scantix_wiring`).
//!
//! # Layout
//! - [`batches`]: the pure split of events into calls under a count and a byte limit.
//! - [`eventbridge`]: `EventBridgeSink`, PutEvents (10 entries, 256 KB a call).
//! - [`firehose`]: `FirehoseSink`, PutRecordBatch (500 records, 4 MiB a call, 1,000 KiB a record),
//!   one JSON line per record.
//! - [`s3`]: `S3Bucket`, PutObject: events as JSON lines, one object per batch and day under a
//!   key made from their uids; and files (the report) by key.

pub mod batches;
pub mod eventbridge;
pub mod firehose;
pub mod s3;

pub use eventbridge::EventBridgeSink;
pub use firehose::FirehoseSink;
pub use s3::S3Bucket;

use batches::{Limits, split};
use scantix_core::ports::sink::SinkError;
use std::future::Future;
use std::time::Duration;

/// How many times an entry a call reported as failed (throttled, an internal error) is sent
/// again, in all, before its event is reported as not delivered.
pub(crate) const ATTEMPTS: u32 = 3;

/// The pause before attempt `n` (1-based; none before the first): 100 ms, 400 ms.
pub(crate) fn backoff(attempt: u32) -> Duration {
    Duration::from_millis(100 * 4u64.pow(attempt.saturating_sub(1)))
}

/// An event's `metadata.uid`, for logs and keys.
pub(crate) fn uid(event: &serde_json::Value) -> &str {
    event["metadata"]["uid"].as_str().unwrap_or_default()
}

/// What a service said about one entry of a call.
#[derive(Debug, Clone, PartialEq)]
pub(crate) enum Entry {
    Sent,
    /// Not taken: why, and whether sending it again may help.
    Failed {
        reason: String,
        retryable: bool,
    },
}

/// Sends entries of `sizes` in calls under `limits` with `send` (which gets the positions of one
/// call and answers one `Entry` per position, in order), sends again those that failed for a
/// reason that can pass, up to `ATTEMPTS` in all, and says which did not arrive.
pub(crate) async fn deliver<F, Fut>(
    sizes: &[usize],
    limits: Limits,
    send: F,
) -> Result<(), SinkError>
where
    F: Fn(Vec<usize>) -> Fut,
    Fut: Future<Output = Vec<Entry>>,
{
    let first = split(sizes, limits);
    let mut rejected = first.too_large.clone();
    let mut reason = (!rejected.is_empty())
        .then(|| format!("{} events are larger than one entry may be", rejected.len()));
    let mut pending: Vec<usize> = first.calls.into_iter().flatten().collect();
    for attempt in 1..=ATTEMPTS {
        if pending.is_empty() {
            break;
        }
        if attempt > 1 {
            tokio::time::sleep(backoff(attempt - 1)).await;
        }
        let pending_sizes: Vec<usize> = pending.iter().map(|&p| sizes[p]).collect();
        let mut again = Vec::new();
        for call in split(&pending_sizes, limits).calls {
            let positions: Vec<usize> = call.iter().map(|&i| pending[i]).collect();
            let answers = send(positions.clone()).await;
            for (n, position) in positions.into_iter().enumerate() {
                match answers.get(n) {
                    Some(Entry::Sent) => {}
                    Some(Entry::Failed {
                        reason: why,
                        retryable,
                    }) => {
                        reason.get_or_insert_with(|| why.clone());
                        if *retryable {
                            again.push(position);
                        } else {
                            rejected.push(position);
                        }
                    }
                    // An answer shorter than the call: the missing entries are not known sent.
                    None => {
                        reason
                            .get_or_insert_with(|| "the service answered for fewer entries".into());
                        again.push(position);
                    }
                }
            }
        }
        pending = again;
    }
    if pending.is_empty() && rejected.is_empty() {
        return Ok(());
    }
    pending.sort_unstable();
    rejected.sort_unstable();
    Err(SinkError {
        failed: pending,
        rejected,
        reason: reason.unwrap_or_default(),
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::Mutex;

    const LIMITS: Limits = Limits {
        max_count: 2,
        max_bytes: 100,
        max_entry_bytes: 50,
    };

    #[tokio::test(start_paused = true)]
    async fn throttled_entries_are_sent_again_and_malformed_ones_reported_for_good() {
        // Entry 1 is throttled once, entry 2 is malformed, entry 4 too large to send at all.
        let calls = Mutex::new(Vec::new());
        let result = deliver(&[10, 10, 10, 10, 60], LIMITS, |positions| {
            let first_try = !calls.lock().unwrap().iter().flatten().any(|&p| p == 1);
            calls.lock().unwrap().push(positions.clone());
            let answers = positions
                .iter()
                .map(|&p| match p {
                    1 if first_try => Entry::Failed {
                        reason: "ThrottlingException".into(),
                        retryable: true,
                    },
                    2 => Entry::Failed {
                        reason: "MalformedDetail".into(),
                        retryable: false,
                    },
                    _ => Entry::Sent,
                })
                .collect();
            async move { answers }
        })
        .await;
        assert_eq!(
            result,
            Err(SinkError {
                failed: vec![],
                rejected: vec![2, 4],
                reason: "1 events are larger than one entry may be".into(),
            })
        );
        assert_eq!(
            *calls.lock().unwrap(),
            vec![vec![0, 1], vec![2, 3], vec![1]]
        );
    }

    #[tokio::test(start_paused = true)]
    async fn an_entry_failing_every_attempt_is_reported_as_retryable() {
        let result = deliver(&[10, 10], LIMITS, |positions| async move {
            positions
                .iter()
                .map(|&p| match p {
                    0 => Entry::Failed {
                        reason: "InternalFailure".into(),
                        retryable: true,
                    },
                    _ => Entry::Sent,
                })
                .collect()
        })
        .await;
        let error = result.unwrap_err();
        assert_eq!((error.failed, error.rejected), (vec![0], vec![]));
        assert_eq!(error.reason, "InternalFailure");
    }
}
