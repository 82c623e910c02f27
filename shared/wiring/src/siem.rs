//! Where a deployment's OCSF events and daily report go, from its environment:
//!
//! | variable | meaning |
//! |---|---|
//! | `SCANTIX_SIEM_SINK` | `eventbridge`, `firehose` or `s3` (empty: no SIEM export) |
//! | `SCANTIX_SIEM_TARGET` | the bus (name or ARN), the Firehose stream's name, or the bucket |
//! | `SCANTIX_SIEM_PREFIX` | with `s3`: the key prefix of the event objects (`ocsf/` by default) |
//! | `SCANTIX_REPORT_BUCKET` | the bucket the daily report is written to (empty: no report) |
//! | `SCANTIX_REPORT_PREFIX` | its key prefix (`reports/` by default) |
//!
//! Clients use the SDK's default chain (region, credentials, `AWS_ENDPOINT_URL_<SERVICE>`), so a
//! test points them at a local emulator the way it points the store at DynamoDB Local.

use crate::{WiringError, aws_config, optional, var};
use scantix_core::ports::sink::{Archive, Sink};
use scantix_sinks::{EventBridgeSink, FirehoseSink, S3Bucket};
use std::sync::Arc;

/// The prefix of event objects in an `s3` sink unless `SCANTIX_SIEM_PREFIX` says otherwise.
pub const DEFAULT_SIEM_PREFIX: &str = "ocsf/";
/// The prefix of the report's objects unless `SCANTIX_REPORT_PREFIX` says otherwise.
pub const DEFAULT_REPORT_PREFIX: &str = "reports/";

/// The sink `SCANTIX_SIEM_SINK` names, or `None` when it is empty.
pub async fn sink_from_env() -> Result<Option<Arc<dyn Sink>>, WiringError> {
    let Some(kind) = optional("SCANTIX_SIEM_SINK") else {
        return Ok(None);
    };
    let target = var("SCANTIX_SIEM_TARGET")?;
    let config = aws_config().await;
    let sink: Arc<dyn Sink> = match kind.as_str() {
        "eventbridge" => Arc::new(EventBridgeSink::new(
            aws_sdk_eventbridge::Client::new(config),
            target,
        )),
        "firehose" => Arc::new(FirehoseSink::new(
            aws_sdk_firehose::Client::new(config),
            target,
        )),
        "s3" => Arc::new(S3Bucket::new(
            aws_sdk_s3::Client::new(config),
            target,
            optional("SCANTIX_SIEM_PREFIX").unwrap_or_else(|| DEFAULT_SIEM_PREFIX.into()),
        )),
        other => {
            return Err(WiringError::Invalid {
                var: "SCANTIX_SIEM_SINK",
                why: format!("`{other}` is none of eventbridge, firehose, s3"),
            });
        }
    };
    Ok(Some(sink))
}

/// The bucket the daily report goes to, or `None` when `SCANTIX_REPORT_BUCKET` is empty.
pub async fn report_archive_from_env() -> Option<Arc<dyn Archive>> {
    let bucket = optional("SCANTIX_REPORT_BUCKET")?;
    let prefix = optional("SCANTIX_REPORT_PREFIX").unwrap_or_else(|| DEFAULT_REPORT_PREFIX.into());
    let client = aws_sdk_s3::Client::new(aws_config().await);
    Some(Arc::new(S3Bucket::new(client, bucket, prefix)))
}
