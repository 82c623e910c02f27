//! The table's creation (tests, local runs and `scantix migrate` against DynamoDB Local): keys,
//! the `pending-inbox` index, TTL and, for the worker, the stream.

use super::*;

/// How long `create_table` waits for a new table to become ACTIVE (DynamoDB Local: at once; AWS:
/// usually seconds).
const TABLE_ACTIVE_TIMEOUT: Duration = Duration::from_secs(60);

impl DynamoStore {
    /// Creates the table (on-demand billing, `pk`/`sk`) and enables TTL on `ttl`; an existing table
    /// is left as it is. For tests and the local run: in AWS the SAM template owns the table.
    pub async fn create_table(&self) -> Result<(), StoreError> {
        self.create_table_with_stream(true).await
    }

    /// `create_table`, with the stream only if `stream`. Measurements of the engine alone go
    /// without: DynamoDB Local keeps every stream record of every table it serves, and each write
    /// gets slower as they pile up, which AWS's separate streams service does not do.
    pub async fn create_table_with_stream(&self, stream: bool) -> Result<(), StoreError> {
        let stream = match stream {
            true => Some(
                StreamSpecification::builder()
                    .stream_enabled(true)
                    .stream_view_type(StreamViewType::NewImage)
                    .build()
                    .map_err(build_error)?,
            ),
            false => None,
        };
        let created = self
            .client
            .create_table()
            .table_name(&self.table)
            .billing_mode(BillingMode::PayPerRequest)
            .attribute_definitions(string_attribute(PK)?)
            .attribute_definitions(string_attribute(SK)?)
            .attribute_definitions(string_attribute(PENDING)?)
            .attribute_definitions(string_attribute(RECEIVED_AT)?)
            .key_schema(key_element(PK, KeyType::Hash)?)
            .key_schema(key_element(SK, KeyType::Range)?)
            .global_secondary_indexes(pending_index()?)
            // As in the SAM template: the worker reads new inbox items from the stream.
            .set_stream_specification(stream)
            .send()
            .await;
        let created = match created {
            Ok(created) => created,
            Err(e)
                if e.as_service_error()
                    .is_some_and(|e| e.is_resource_in_use_exception()) =>
            {
                return Ok(());
            }
            Err(e) => return Err(store_error("CreateTable", e)),
        };
        let active = created.table_description().and_then(|t| t.table_status())
            == Some(&TableStatus::Active);
        if !active {
            self.wait_until_active().await?;
        }
        // UpdateTimeToLive is refused while the table is CREATING, hence after the wait.
        let ttl = TimeToLiveSpecification::builder()
            .attribute_name(TTL)
            .enabled(true)
            .build()
            .map_err(build_error)?;
        self.client
            .update_time_to_live()
            .table_name(&self.table)
            .time_to_live_specification(ttl)
            .send()
            .await
            .map_err(|e| store_error("UpdateTimeToLive", e))?;
        Ok(())
    }

    /// Polls DescribeTable until the table is ACTIVE. (The SDK's waiter first sleeps 20 s.)
    async fn wait_until_active(&self) -> Result<(), StoreError> {
        let deadline = tokio::time::Instant::now() + TABLE_ACTIVE_TIMEOUT;
        loop {
            let described = self
                .client
                .describe_table()
                .table_name(&self.table)
                .send()
                .await
                .map_err(|e| store_error("DescribeTable", e))?;
            if described.table().and_then(|t| t.table_status()) == Some(&TableStatus::Active) {
                return Ok(());
            }
            if tokio::time::Instant::now() >= deadline {
                return Err(StoreError::Unavailable(format!(
                    "table {} is not ACTIVE after {} s",
                    self.table,
                    TABLE_ACTIVE_TIMEOUT.as_secs()
                )));
            }
            tokio::time::sleep(Duration::from_millis(500)).await;
        }
    }
}

pub(super) fn pending_index() -> Result<GlobalSecondaryIndex, StoreError> {
    GlobalSecondaryIndex::builder()
        .index_name(PENDING_INDEX)
        .key_schema(key_element(PENDING, KeyType::Hash)?)
        .key_schema(key_element(RECEIVED_AT, KeyType::Range)?)
        .projection(
            Projection::builder()
                .projection_type(ProjectionType::All)
                .build(),
        )
        .build()
        .map_err(build_error)
}

pub(super) fn string_attribute(name: &str) -> Result<AttributeDefinition, StoreError> {
    AttributeDefinition::builder()
        .attribute_name(name)
        .attribute_type(ScalarAttributeType::S)
        .build()
        .map_err(build_error)
}

pub(super) fn key_element(name: &str, key_type: KeyType) -> Result<KeySchemaElement, StoreError> {
    KeySchemaElement::builder()
        .attribute_name(name)
        .key_type(key_type)
        .build()
        .map_err(build_error)
}
