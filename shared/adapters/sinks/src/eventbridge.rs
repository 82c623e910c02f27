//! `EventBridgeSink`: each OCSF event is one EventBridge event on a bus (PutEvents), source
//! `scantix`, detail type `OCSF <class name>` (`OCSF Vulnerability Finding`, `OCSF Detection
//! Finding`), the event itself as the detail, its time as the event's time. Rules on the bus route
//! them on (to a SIEM's API destination, a queue, a log group).
//!
//! PutEvents takes at most 10 entries and 256 KB a call, an entry's size counted as AWS documents
//! it ("Calculating PutEvents event entry size": 14 bytes for the time, then the UTF-8 bytes of
//! source, detail type and detail). It answers per entry: a call can half succeed.

use crate::batches::Limits;
use crate::{Entry, deliver};
use async_trait::async_trait;
use aws_sdk_eventbridge::Client;
use aws_sdk_eventbridge::error::DisplayErrorContext;
use aws_sdk_eventbridge::primitives::DateTime;
use aws_sdk_eventbridge::types::PutEventsRequestEntry;
use scantix_core::ports::sink::{Sink, SinkError};
use serde_json::Value;

/// The events' `source`.
pub const SOURCE: &str = "scantix";

const LIMITS: Limits = Limits {
    max_count: 10,
    max_bytes: 256 * 1024,
    max_entry_bytes: 256 * 1024,
};

/// Per-entry error codes no retry gets past (the entry itself is wrong).
const PERMANENT: &[&str] = &["ValidationException", "MalformedDetail", "InvalidArgument"];

/// OCSF events to an EventBridge bus.
pub struct EventBridgeSink {
    client: Client,
    bus: String,
}

impl EventBridgeSink {
    /// Events to `bus` (its name or ARN).
    pub fn new(client: Client, bus: impl Into<String>) -> EventBridgeSink {
        EventBridgeSink {
            client,
            bus: bus.into(),
        }
    }
}

/// An event's detail type: `OCSF <class name>`.
pub fn detail_type(event: &Value) -> String {
    format!("OCSF {}", event["class_name"].as_str().unwrap_or("Finding"))
}

#[async_trait]
impl Sink for EventBridgeSink {
    fn name(&self) -> &str {
        "eventbridge"
    }

    async fn publish(&self, events: &[Value]) -> Result<(), SinkError> {
        let entries: Vec<(String, String, i64)> = events
            .iter()
            .map(|event| {
                let time = event["time"].as_i64().unwrap_or_default();
                (detail_type(event), event.to_string(), time)
            })
            .collect();
        let sizes: Vec<usize> = entries
            .iter()
            .map(|(kind, detail, _)| 14 + SOURCE.len() + kind.len() + detail.len())
            .collect();
        deliver(&sizes, LIMITS, |positions| {
            let request = positions
                .iter()
                .fold(self.client.put_events(), |request, &p| {
                    let (kind, detail, time) = &entries[p];
                    request.entries(
                        PutEventsRequestEntry::builder()
                            .event_bus_name(&self.bus)
                            .source(SOURCE)
                            .detail_type(kind)
                            .detail(detail)
                            .time(DateTime::from_millis(*time))
                            .build(),
                    )
                });
            let count = positions.len();
            async move {
                match request.send().await {
                    Ok(output) => output
                        .entries()
                        .iter()
                        .map(|entry| match entry.error_code() {
                            None => Entry::Sent,
                            Some(code) => Entry::Failed {
                                reason: format!(
                                    "{code}: {}",
                                    entry.error_message().unwrap_or_default()
                                ),
                                retryable: !PERMANENT.contains(&code),
                            },
                        })
                        .collect(),
                    // The SDK has retried what its retry policy retries; the stream retries later.
                    Err(e) => {
                        let reason = format!("PutEvents: {}", DisplayErrorContext(&e));
                        vec![
                            Entry::Failed {
                                reason,
                                retryable: true
                            };
                            count
                        ]
                    }
                }
            }
        })
        .await
    }
}
