//! DynamoDB Streams on DynamoDB Local: what the event source mappings do in AWS, done by hand in
//! tests. Reads a table's stream from its start, keeps what a SAM template filter passes (the
//! worker's: INSERTs of inbox items; the OCSF publisher's: INSERTs of audit items), and shapes the
//! records as the Lambda event the function gets.

use aws_sdk_dynamodbstreams::types::{AttributeValue, OperationType, ShardIteratorType};
use base64::Engine;
use serde_json::{Map, Value, json};

/// A Streams client for DynamoDB Local, with the same dummy credentials as the store.
pub async fn local_streams_client(endpoint: &str) -> aws_sdk_dynamodbstreams::Client {
    let config = aws_sdk_dynamodbstreams::Config::builder()
        .behavior_version(aws_sdk_dynamodbstreams::config::BehaviorVersion::latest())
        .region(aws_sdk_dynamodbstreams::config::Region::new("us-east-1"))
        .credentials_provider(aws_sdk_dynamodbstreams::config::Credentials::new(
            "local",
            "local",
            None,
            None,
            "dynamodb-local",
        ))
        .endpoint_url(endpoint)
        .build();
    aws_sdk_dynamodbstreams::Client::from_conf(config)
}

/// Every record the table's stream holds that the worker's mapping would deliver (INSERT, `pk`
/// starting `IN#`), oldest first, as Lambda's DynamoDB event records.
pub async fn inbox_inserts(
    dynamodb: &aws_sdk_dynamodb::Client,
    streams: &aws_sdk_dynamodbstreams::Client,
    table: &str,
) -> Vec<Value> {
    inserts_under(dynamodb, streams, table, "IN#").await
}

/// Every record the OCSF publisher's mapping would deliver (INSERT, `pk` starting `A#`: audit
/// items, not the `AD#` day index), oldest first, as Lambda's DynamoDB event records.
pub async fn audit_inserts(
    dynamodb: &aws_sdk_dynamodb::Client,
    streams: &aws_sdk_dynamodbstreams::Client,
    table: &str,
) -> Vec<Value> {
    inserts_under(dynamodb, streams, table, "A#").await
}

/// The INSERT records of items whose `pk` starts with `prefix` (the filter's `prefix` match).
async fn inserts_under(
    dynamodb: &aws_sdk_dynamodb::Client,
    streams: &aws_sdk_dynamodbstreams::Client,
    table: &str,
    prefix: &str,
) -> Vec<Value> {
    let described = dynamodb
        .describe_table()
        .table_name(table)
        .send()
        .await
        .expect("DescribeTable");
    let stream_arn = described
        .table()
        .and_then(|t| t.latest_stream_arn())
        .expect("the table has a stream")
        .to_owned();
    let stream = streams
        .describe_stream()
        .stream_arn(&stream_arn)
        .send()
        .await
        .expect("DescribeStream");
    let shards = stream
        .stream_description()
        .map(|d| d.shards().to_vec())
        .unwrap_or_default();
    let mut records = Vec::new();
    for shard in shards {
        let Some(shard_id) = shard.shard_id() else {
            continue;
        };
        let mut iterator = streams
            .get_shard_iterator()
            .stream_arn(&stream_arn)
            .shard_id(shard_id)
            .shard_iterator_type(ShardIteratorType::TrimHorizon)
            .send()
            .await
            .expect("GetShardIterator")
            .shard_iterator;
        // An open shard always hands back a next iterator; stop at the first empty page.
        while let Some(current) = iterator {
            let page = streams
                .get_records()
                .shard_iterator(current)
                .send()
                .await
                .expect("GetRecords");
            if page.records().is_empty() {
                break;
            }
            for record in page.records() {
                if let Some(event) = lambda_record(record, &stream_arn, prefix) {
                    records.push(event);
                }
            }
            iterator = page.next_shard_iterator;
        }
    }
    records
}

fn lambda_record(
    record: &aws_sdk_dynamodbstreams::types::Record,
    arn: &str,
    prefix: &str,
) -> Option<Value> {
    let change = record.dynamodb()?;
    let image = change.new_image()?;
    let passes = matches!(image.get("pk"), Some(AttributeValue::S(pk)) if pk.starts_with(prefix));
    if record.event_name() != Some(&OperationType::Insert) || !passes {
        return None;
    }
    let typed = |attributes: &std::collections::HashMap<String, AttributeValue>| {
        let mut out = Map::new();
        for (name, value) in attributes {
            let value = match value {
                AttributeValue::S(s) => json!({ "S": s }),
                AttributeValue::N(n) => json!({ "N": n }),
                AttributeValue::B(b) => json!({
                    "B": base64::engine::general_purpose::STANDARD.encode(b.as_ref())
                }),
                _ => continue,
            };
            out.insert(name.clone(), value);
        }
        Value::Object(out)
    };
    Some(json!({
        "eventID": record.event_id(),
        "eventName": "INSERT",
        "eventVersion": record.event_version(),
        "eventSource": "aws:dynamodb",
        "awsRegion": record.aws_region(),
        "dynamodb": {
            "Keys": change.keys().map(typed),
            "NewImage": typed(image),
            "SequenceNumber": change.sequence_number(),
            "SizeBytes": change.size_bytes(),
            "StreamViewType": "NEW_IMAGE"
        },
        "eventSourceARN": arn
    }))
}
