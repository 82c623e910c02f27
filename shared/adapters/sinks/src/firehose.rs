//! `FirehoseSink`: each OCSF event is one record of a Kinesis Data Firehose stream, as one JSON
//! line (newline-terminated, so the objects Firehose writes to S3 are JSON lines a SIEM or Athena
//! reads as they are).
//!
//! PutRecordBatch takes at most 500 records and 4 MiB a call, a record at most 1,000 KiB, and
//! answers per record (`FailedPutCount`, an `ErrorCode` on each failed one): a call can half
//! succeed, and the failed records are sent again.

use crate::batches::Limits;
use crate::{Entry, deliver};
use async_trait::async_trait;
use aws_sdk_firehose::Client;
use aws_sdk_firehose::error::DisplayErrorContext;
use aws_sdk_firehose::primitives::Blob;
use aws_sdk_firehose::types::Record;
use scantix_core::ports::sink::{Sink, SinkError};
use serde_json::Value;

/// PutRecordBatch's limits (public for the benchmark, which splits as the sink does).
pub const LIMITS: Limits = Limits {
    max_count: 500,
    max_bytes: 4 * 1024 * 1024,
    max_entry_bytes: 1_000 * 1024,
};

/// OCSF events to a Firehose stream.
pub struct FirehoseSink {
    client: Client,
    stream: String,
}

impl FirehoseSink {
    /// Records to the delivery stream named `stream`.
    pub fn new(client: Client, stream: impl Into<String>) -> FirehoseSink {
        FirehoseSink {
            client,
            stream: stream.into(),
        }
    }
}

#[async_trait]
impl Sink for FirehoseSink {
    fn name(&self) -> &str {
        "firehose"
    }

    async fn publish(&self, events: &[Value]) -> Result<(), SinkError> {
        let lines: Vec<Vec<u8>> = events
            .iter()
            .map(|event| {
                let mut line = event.to_string().into_bytes();
                line.push(b'\n');
                line
            })
            .collect();
        let sizes: Vec<usize> = lines.iter().map(Vec::len).collect();
        deliver(&sizes, LIMITS, |positions| {
            let records: Result<Vec<Record>, _> = positions
                .iter()
                .map(|&p| Record::builder().data(Blob::new(lines[p].clone())).build())
                .collect();
            let request = records.map(|records| {
                self.client
                    .put_record_batch()
                    .delivery_stream_name(&self.stream)
                    .set_records(Some(records))
            });
            let count = positions.len();
            async move {
                let failed = |reason: String| {
                    vec![
                        Entry::Failed {
                            reason,
                            retryable: true
                        };
                        count
                    ]
                };
                let request = match request {
                    Ok(request) => request,
                    Err(e) => return failed(format!("building the records: {e}")),
                };
                match request.send().await {
                    // Every per-record error Firehose names (ServiceUnavailableException,
                    // InternalFailure) is one a later try can get past.
                    Ok(output) => output
                        .request_responses()
                        .iter()
                        .map(|answer| match answer.error_code() {
                            None => Entry::Sent,
                            Some(code) => Entry::Failed {
                                reason: format!(
                                    "{code}: {}",
                                    answer.error_message().unwrap_or_default()
                                ),
                                retryable: true,
                            },
                        })
                        .collect(),
                    Err(e) => failed(format!("PutRecordBatch: {}", DisplayErrorContext(&e))),
                }
            }
        })
        .await
    }
}
