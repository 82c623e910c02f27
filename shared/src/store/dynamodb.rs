//! DynamoDB `Store` (single table): the production adapter.
//!
//! # Table layout
//! One table, string keys `pk` (partition) and `sk` (sort). Every item has a `kind` attribute;
//! records are kept whole as JSON in a string attribute `doc`, while keys, `version` and `ttl` stay
//! real attributes because conditions and TTL read them.
//!
//! | item | `pk` | `sk` | other attributes |
//! |---|---|---|---|
//! | finding | `F#<fingerprint>` | `F` | `kind=finding`, `version` (N), `doc` |
//! | group | `G#<group key>` | `G` | `kind=group`, `version` (N), `doc` |
//! | audit entry | `G#<group key>` | `A#<at>#<delivery or ->#<n>#<digest>` | `kind=audit`, `doc` |
//! | delivery | `D#<delivery id>` | `D` | `kind=delivery`, `ttl` (N, epoch seconds), `doc` |
//! | ticket link | `T#<tracker>#<ticket key>` | `T` | `kind=ticket`, `group_key` (S) |
//! | draft ticket | `R#<draft key>` | `R` | `kind=draft`, `doc` |
//! | installation | `I#<installation id>` | `I` | `kind=installation`, `version` (N), `doc` |
//! | inbox item | `IN#<delivery id>` | `IN` | `kind=inbox`, `doc`, `body` (B, gzip), `status`, `attempts` (N), `last_error`, `ttl`; while pending also `pending` and `received_at` |
//! | pull request | `P#<repository id>#<number>` | `P` | `kind=pull_request`, `version` (N), `doc` |
//!
//! Pending inbox items are also in the sparse global secondary index `pending-inbox` (hash
//! `pending`, always `"pending"`; range `received_at`): settling an item removes its `pending`
//! attribute, so the index holds only what is still to be applied and `scantix replay` reads just
//! that. One hash value puts all pending items in one index partition; they are few (the worker
//! settles each within seconds), so it is never hot. Inbox items are written by the webhook
//! functions with one conditional `PutItem` and afterwards only changed with `UpdateItem`, which
//! the table's stream reports as `MODIFY`: the worker's stream filter passes `INSERT`s only.
//!
//! Audit entries live in their group's partition, so one Query reads a group's log in order: `at`
//! is written RFC 3339 with nine fraction digits (fixed width, so text order is time order), `n`
//! is the entry's zero-padded place in its commit, and `digest` is the first 4 bytes of SHA-256 of
//! the entry's JSON. The digest makes the key a function of the content: an entry can only ever
//! be rewritten with the very same bytes, so audit puts need no condition (append-only by
//! construction) and two commits that log at the same instant with the same delivery cannot
//! collide and cancel each other forever.
//!
//! Entries are ordered by `at`, then delivery id, then place in the commit. `MemoryStore` orders by
//! `at` then arrival; the two differ only for entries of different deliveries stamped with the
//! same nanosecond.
//!
//! # Expiry
//! Deliveries carry `ttl = expires_at` (epoch seconds). AWS deletes expired items lazily (usually
//! within two days), so a redelivery is refused for at least as long as `expires_at` promises;
//! DynamoDB Local deletes them within seconds. Until deleted, an expired delivery still counts.
//!
//! # Versions
//! Findings and groups carry a `version`. `Guarded { expected_version: None }` writes only if the
//! item is absent (`attribute_not_exists(pk)`) and stores version 1; `Some(v)` writes only if
//! `version = v` and stores `v + 1`.
//!
//! # Round trips
//! Every `get_*`, `put_group`, `link_ticket`, `create_draft` and `put_draft` is one request;
//! `commit` is one `TransactWriteItems` (plus one `PutItem` per audit entry beyond the 100-item
//! transaction limit); `list_groups` and `audit_log` are one request per 1 MB page.

use super::{Commit, Guarded, Store, StoreError};
use crate::identity::{Fingerprint, GroupKey};
use crate::inbox::{Applied, InboxItem, InboxStatus};
use crate::state::{
    AuditEntry, DeliveryRecord, FindingRecord, GroupRecord, InstallationRecord, Versioned,
};
use crate::tracker::draft::DraftTicket;
use async_trait::async_trait;
use aws_sdk_dynamodb::Client;
use aws_sdk_dynamodb::config::{BehaviorVersion, Credentials, Region};
use aws_sdk_dynamodb::error::{BuildError, DisplayErrorContext, ProvideErrorMetadata, SdkError};
use aws_sdk_dynamodb::operation::put_item::PutItemError;
use aws_sdk_dynamodb::operation::transact_write_items::TransactWriteItemsError;
use aws_sdk_dynamodb::types::{
    AttributeDefinition, AttributeValue, BillingMode, CancellationReason, GlobalSecondaryIndex,
    KeySchemaElement, KeyType, Projection, ProjectionType, Put, ScalarAttributeType,
    StreamSpecification, StreamViewType, TableStatus, TimeToLiveSpecification, TransactWriteItem,
};
use chrono::SecondsFormat;
use serde::Serialize;
use serde::de::DeserializeOwned;
use sha2::{Digest, Sha256};
use std::collections::HashMap;
use std::time::Duration;

/// One DynamoDB item as the SDK hands it over.
type Item = HashMap<String, AttributeValue>;
/// Expression placeholders: `#name` → attribute name, `:value` → value.
type Names = HashMap<String, String>;
type Values = HashMap<String, AttributeValue>;

const PK: &str = "pk";
const SK: &str = "sk";
const KIND: &str = "kind";
const DOC: &str = "doc";
const VERSION: &str = "version";
/// The attribute the table's TTL setting names (a reserved word: in an expression it must be `#ttl`).
const TTL: &str = "ttl";
const TICKET_GROUP: &str = "group_key";

/// Values of the `kind` attribute.
const KIND_FINDING: &str = "finding";
const KIND_GROUP: &str = "group";
const KIND_AUDIT: &str = "audit";
const KIND_DELIVERY: &str = "delivery";
const KIND_TICKET: &str = "ticket";
const KIND_DRAFT: &str = "draft";
const KIND_INSTALLATION: &str = "installation";
const KIND_INBOX: &str = "inbox";
/// The sparse index of pending inbox items, and its keys.
pub const PENDING_INDEX: &str = "pending-inbox";
const PENDING: &str = "pending";
const RECEIVED_AT: &str = "received_at";
const BODY: &str = "body";
const STATUS: &str = "status";
const ATTEMPTS: &str = "attempts";
const LAST_ERROR: &str = "last_error";
/// An item is at most 400 KB with its attribute names; the rest of an inbox item is well under
/// 10 KB, so a compressed body up to this size always fits.
const MAX_STORED_BODY: usize = 380 * 1024;

/// Sort-key prefix of audit entries within a group's partition.
const AUDIT_PREFIX: &str = "A#";

/// DynamoDB's limit on actions in one `TransactWriteItems`.
const MAX_TRANSACTION_ITEMS: usize = 100;

/// How long `create_table` waits for a new table to become ACTIVE (DynamoDB Local: at once; AWS:
/// usually seconds).
const TABLE_ACTIVE_TIMEOUT: Duration = Duration::from_secs(60);

/// The `Store` over one DynamoDB table (layout in the module docs).
#[derive(Debug, Clone)]
pub struct DynamoStore {
    client: Client,
    table: String,
}

impl DynamoStore {
    /// A store over `table`, through a client built once at cold start.
    pub fn new(client: Client, table: impl Into<String>) -> DynamoStore {
        DynamoStore {
            client,
            table: table.into(),
        }
    }

    /// A store over `table` on DynamoDB Local at `endpoint` (`http://127.0.0.1:8000`).
    ///
    /// DynamoDB Local ignores credentials and region but the SDK still signs requests, so dummy
    /// static ones are set here; nothing is read from the environment or `~/.aws`, so a developer's
    /// real profile can never be picked up by a test.
    pub async fn connect_local(endpoint: &str, table: &str) -> DynamoStore {
        let config = aws_sdk_dynamodb::Config::builder()
            .behavior_version(BehaviorVersion::latest())
            .region(Region::new("us-east-1"))
            .credentials_provider(Credentials::new(
                "local",
                "local",
                None,
                None,
                "scantix-local",
            ))
            .endpoint_url(endpoint)
            .build();
        DynamoStore::new(Client::from_conf(config), table)
    }

    /// The SDK client, for callers (tests, tooling) that need to look at raw items.
    pub fn client(&self) -> &Client {
        &self.client
    }

    /// The table this store reads and writes.
    pub fn table(&self) -> &str {
        &self.table
    }

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

    /// Reads one item with a strongly consistent read: after a `Conflict` the engine re-reads and
    /// must see the write it lost to, or it would decide on the same stale state again.
    async fn get_item(&self, key: Key) -> Result<Option<Item>, StoreError> {
        let output = self
            .client
            .get_item()
            .table_name(&self.table)
            .set_key(Some(key.into_item()))
            .consistent_read(true)
            .send()
            .await
            .map_err(|e| store_error("GetItem", e))?;
        Ok(output.item)
    }

    /// Writes one item with PutItem, under its condition if it has one.
    async fn put(&self, write: Write) -> Result<(), SdkError<PutItemError>> {
        let (names, values, expression) = write
            .condition
            .map(Condition::into_parts)
            .unwrap_or_default();
        self.client
            .put_item()
            .table_name(&self.table)
            .set_item(Some(write.item))
            .set_condition_expression(expression)
            .set_expression_attribute_names(names)
            .set_expression_attribute_values(values)
            .send()
            .await
            .map(|_| ())
    }

    /// Every versioned item of one kind. A Scan reads every item and filters afterwards (each page
    /// is 1 MB before the filter): fine for listings and the sweeper, never for the event path.
    /// Consistent, like the gets, so an item written just before is listed.
    async fn scan_kind<T: serde::de::DeserializeOwned>(
        &self,
        kind: &str,
    ) -> Result<Vec<Versioned<T>>, StoreError> {
        let mut pages = self
            .client
            .scan()
            .table_name(&self.table)
            .filter_expression("#kind = :kind")
            .expression_attribute_names("#kind", KIND)
            .expression_attribute_values(":kind", AttributeValue::S(kind.into()))
            .consistent_read(true)
            .into_paginator()
            .send();
        let mut records = Vec::new();
        while let Some(page) = pages.next().await {
            let page = page.map_err(|e| store_error("Scan", e))?;
            for item in page.items() {
                records.push(decode_versioned(item)?);
            }
        }
        Ok(records)
    }

    /// Writes a finding or group if its guard holds; returns the version it now has.
    async fn put_versioned<T: Serialize>(
        &self,
        key: Key,
        kind: &str,
        guarded: &Guarded<T>,
    ) -> Result<u64, StoreError> {
        let (write, version) = versioned_write(key, kind, guarded)?;
        self.put(write)
            .await
            .map_err(|e| store_error("PutItem", e))?;
        Ok(version)
    }
}

#[async_trait]
impl Store for DynamoStore {
    async fn get_finding(
        &self,
        fingerprint: &Fingerprint,
    ) -> Result<Option<Versioned<FindingRecord>>, StoreError> {
        let item = self.get_item(Key::finding(fingerprint)).await?;
        item.map(|item| decode_versioned(&item)).transpose()
    }

    async fn get_group(
        &self,
        key: &GroupKey,
    ) -> Result<Option<Versioned<GroupRecord>>, StoreError> {
        let item = self.get_item(Key::group(key)).await?;
        item.map(|item| decode_versioned(&item)).transpose()
    }

    async fn get_delivery(&self, id: &str) -> Result<Option<DeliveryRecord>, StoreError> {
        let item = self.get_item(Key::delivery(id)).await?;
        item.map(|item| decode_doc(&item)).transpose()
    }

    async fn commit(&self, commit: Commit) -> Result<(), StoreError> {
        // The delivery goes first: cancellation reasons come back in request order, and item 0
        // failing its condition is what tells a duplicate delivery from a lost race.
        let mut writes = Vec::new();
        if let Some(delivery) = &commit.delivery {
            writes.push(delivery_write(delivery)?);
        }
        if let Some(finding) = &commit.finding {
            writes.push(
                versioned_write(
                    Key::finding(&finding.value.fingerprint),
                    KIND_FINDING,
                    finding,
                )?
                .0,
            );
        }
        if let Some(group) = &commit.group {
            writes.push(versioned_write(Key::group(&group.value.key), KIND_GROUP, group)?.0);
        }
        let mut audit = commit
            .audit
            .iter()
            .enumerate()
            .map(|(n, entry)| audit_write(entry, n))
            .collect::<Result<Vec<_>, _>>()?;
        if writes.is_empty() && audit.is_empty() {
            return Ok(());
        }

        // A transaction holds at most 100 actions. The state change and as many audit entries as
        // fit are atomic; the rest are appended right after the transaction succeeds. Audit puts are
        // idempotent (content-addressed keys), so a crash in between loses at most those overflow
        // entries, never state. One event rarely logs more than a handful.
        let room = MAX_TRANSACTION_ITEMS - writes.len();
        let overflow = audit.split_off(audit.len().min(room));
        writes.extend(audit);

        let items = writes
            .into_iter()
            .map(|write| write.into_transact_item(&self.table))
            .collect::<Result<Vec<_>, _>>()?;
        // The SDK fills in a ClientRequestToken, so its own retries of this call (after a timeout,
        // say) are idempotent instead of failing on the delivery the first attempt wrote.
        self.client
            .transact_write_items()
            .set_transact_items(Some(items))
            .send()
            .await
            .map_err(|e| transaction_error(e, commit.delivery.as_ref().map(|d| d.id.as_str())))?;

        for write in overflow {
            // The commit has happened: failing it now would make the caller retry into
            // `DuplicateDelivery`/`Conflict`. Say loudly what was lost instead.
            if let Err(e) = self.put(write).await {
                tracing::error!(
                    error = %DisplayErrorContext(&e),
                    "an audit entry beyond the transaction limit could not be written"
                );
            }
        }
        Ok(())
    }

    async fn put_group(&self, group: Guarded<GroupRecord>) -> Result<u64, StoreError> {
        self.put_versioned(Key::group(&group.value.key), KIND_GROUP, &group)
            .await
    }

    async fn list_groups(&self) -> Result<Vec<Versioned<GroupRecord>>, StoreError> {
        self.scan_kind(KIND_GROUP).await
    }

    async fn audit_log(&self, key: &GroupKey) -> Result<Vec<AuditEntry>, StoreError> {
        let mut pages = self
            .client
            .query()
            .table_name(&self.table)
            .key_condition_expression("#pk = :pk AND begins_with(#sk, :audit)")
            .expression_attribute_names("#pk", PK)
            .expression_attribute_names("#sk", SK)
            .expression_attribute_values(":pk", AttributeValue::S(Key::group(key).pk))
            .expression_attribute_values(":audit", AttributeValue::S(AUDIT_PREFIX.into()))
            .scan_index_forward(true)
            .consistent_read(true)
            .into_paginator()
            .send();
        let mut entries = Vec::new();
        while let Some(page) = pages.next().await {
            let page = page.map_err(|e| store_error("Query", e))?;
            for item in page.items() {
                entries.push(decode_doc(item)?);
            }
        }
        Ok(entries)
    }

    async fn group_for_ticket(
        &self,
        tracker: &str,
        ticket_key: &str,
    ) -> Result<Option<GroupKey>, StoreError> {
        let Some(item) = self.get_item(Key::ticket(tracker, ticket_key)).await? else {
            return Ok(None);
        };
        match item.get(TICKET_GROUP) {
            Some(AttributeValue::S(group)) => Ok(Some(GroupKey::from_stored(group.clone()))),
            _ => Err(StoreError::Corrupt(format!(
                "{}: no string `{TICKET_GROUP}`",
                describe(&item)
            ))),
        }
    }

    async fn link_ticket(
        &self,
        tracker: &str,
        ticket_key: &str,
        group: &GroupKey,
    ) -> Result<(), StoreError> {
        let mut item = Key::ticket(tracker, ticket_key).into_item();
        item.insert(KIND.into(), AttributeValue::S(KIND_TICKET.into()));
        item.insert(
            TICKET_GROUP.into(),
            AttributeValue::S(group.as_str().into()),
        );
        self.put(Write {
            item,
            condition: None,
        })
        .await
        .map_err(|e| store_error("PutItem", e))
    }

    async fn create_draft(&self, ticket: &DraftTicket) -> Result<bool, StoreError> {
        let item = document_item(Key::draft(&ticket.key), KIND_DRAFT, ticket)?;
        match self
            .put(Write {
                item,
                condition: Some(Condition::absent()),
            })
            .await
        {
            Ok(()) => Ok(true),
            Err(e)
                if e.as_service_error()
                    .is_some_and(|e| e.is_conditional_check_failed_exception()) =>
            {
                Ok(false)
            }
            Err(e) => Err(store_error("PutItem", e)),
        }
    }

    async fn put_draft(&self, ticket: &DraftTicket) -> Result<(), StoreError> {
        let item = document_item(Key::draft(&ticket.key), KIND_DRAFT, ticket)?;
        self.put(Write {
            item,
            condition: None,
        })
        .await
        .map_err(|e| store_error("PutItem", e))
    }

    async fn get_installation(
        &self,
        id: u64,
    ) -> Result<Option<Versioned<InstallationRecord>>, StoreError> {
        let item = self.get_item(Key::installation(id)).await?;
        item.map(|item| decode_versioned(&item)).transpose()
    }

    async fn put_installation(
        &self,
        record: Guarded<InstallationRecord>,
    ) -> Result<u64, StoreError> {
        self.put_versioned(
            Key::installation(record.value.id),
            KIND_INSTALLATION,
            &record,
        )
        .await
    }

    async fn list_installations(&self) -> Result<Vec<Versioned<InstallationRecord>>, StoreError> {
        self.scan_kind(KIND_INSTALLATION).await
    }

    async fn get_draft(&self, key: &str) -> Result<Option<DraftTicket>, StoreError> {
        let item = self.get_item(Key::draft(key)).await?;
        item.map(|item| decode_doc(&item)).transpose()
    }

    async fn put_inbox(&self, item: &InboxItem) -> Result<bool, StoreError> {
        let write = Write {
            item: inbox_item(item)?,
            condition: Some(Condition::absent()),
        };
        match self.put(write).await {
            Ok(()) => Ok(true),
            Err(e) => match store_error("PutItem", e) {
                StoreError::Conflict => Ok(false),
                other => Err(other),
            },
        }
    }

    async fn get_inbox(&self, id: &str) -> Result<Option<InboxItem>, StoreError> {
        let item = self.get_item(Key::inbox(id)).await?;
        item.map(|item| decode_inbox(&item)).transpose()
    }

    async fn settle_inbox(
        &self,
        id: &str,
        applied: &Applied,
        at: chrono::DateTime<chrono::Utc>,
    ) -> Result<(), StoreError> {
        // UpdateItem, never a put: the stream reports it as MODIFY, which the worker's filter
        // drops, so settling never runs the delivery again. The condition keeps a late settle of
        // an item that expired meanwhile from creating a husk.
        let update = self
            .client
            .update_item()
            .table_name(&self.table)
            .set_key(Some(Key::inbox(id).into_item()))
            .condition_expression("attribute_exists(#pk)")
            .expression_attribute_names("#pk", PK);
        let update = match applied {
            Applied::Done { outcome } => update
                .update_expression(
                    "SET #status = :done, #outcome = :outcome, #settled = :at REMOVE #pending",
                )
                .expression_attribute_names("#status", STATUS)
                .expression_attribute_names("#outcome", "outcome")
                .expression_attribute_names("#settled", "settled_at")
                .expression_attribute_names("#pending", PENDING)
                .expression_attribute_values(":done", AttributeValue::S("done".into()))
                .expression_attribute_values(":outcome", AttributeValue::S(outcome.clone()))
                .expression_attribute_values(":at", AttributeValue::S(timestamp(at))),
            Applied::Failed { error } => update
                .update_expression("SET #error = :error, #failed = :at ADD #attempts :one")
                .expression_attribute_names("#error", LAST_ERROR)
                .expression_attribute_names("#failed", "failed_at")
                .expression_attribute_names("#attempts", ATTEMPTS)
                .expression_attribute_values(":error", AttributeValue::S(error.clone()))
                .expression_attribute_values(":at", AttributeValue::S(timestamp(at)))
                .expression_attribute_values(":one", number(1)),
        };
        match update.send().await {
            Ok(_) => Ok(()),
            Err(e) => match store_error("UpdateItem", e) {
                StoreError::Conflict => Ok(()),
                other => Err(other),
            },
        }
    }

    async fn pending_inbox(&self, limit: usize) -> Result<Vec<InboxItem>, StoreError> {
        // Index reads are eventually consistent: an item settled a moment ago may still be listed
        // (applying it again is a recognised duplicate), one put a moment ago may be missed (the
        // stream has it).
        let mut pages = self
            .client
            .query()
            .table_name(&self.table)
            .index_name(PENDING_INDEX)
            .key_condition_expression("#pending = :pending")
            .expression_attribute_names("#pending", PENDING)
            .expression_attribute_values(":pending", AttributeValue::S(PENDING.into()))
            .into_paginator()
            .send();
        let mut items = Vec::new();
        while let Some(page) = pages.next().await {
            let page = page.map_err(|e| store_error("Query", e))?;
            for item in page.items() {
                items.push(decode_inbox(item)?);
                if items.len() >= limit {
                    return Ok(items);
                }
            }
        }
        Ok(items)
    }

    // ----- Pull requests -----

    async fn get_pull_request(
        &self,
        repository_id: u64,
        number: u64,
    ) -> Result<Option<Versioned<crate::state::PullRequestRecord>>, StoreError> {
        let item = self
            .get_item(Key::pull_request(repository_id, number))
            .await?;
        item.map(|item| decode_versioned(&item)).transpose()
    }

    async fn put_pull_request(
        &self,
        record: Guarded<crate::state::PullRequestRecord>,
    ) -> Result<u64, StoreError> {
        let key = Key::pull_request(record.value.repository.id, record.value.number);
        self.put_versioned(key, KIND_PULL_REQUEST, &record).await
    }
}

// ----- Pull requests: item `P#<repository id>#<number>` / `P`, `kind=pull_request`, `version`,
// `doc` (one per pull request scantix comments on; read and written by key only) -----

const KIND_PULL_REQUEST: &str = "pull_request";

impl Key {
    fn pull_request(repository_id: u64, number: u64) -> Key {
        Key {
            pk: format!("P#{repository_id}#{number}"),
            sk: "P".into(),
        }
    }
}

/// The primary key of one item.
struct Key {
    pk: String,
    sk: String,
}

impl Key {
    fn finding(fingerprint: &Fingerprint) -> Key {
        Key {
            pk: format!("F#{fingerprint}"),
            sk: "F".into(),
        }
    }

    fn group(key: &GroupKey) -> Key {
        Key {
            pk: format!("G#{key}"),
            sk: "G".into(),
        }
    }

    fn audit(entry: &AuditEntry, n: usize, doc: &str) -> Key {
        let at = entry.at.to_rfc3339_opts(SecondsFormat::Nanos, true);
        let delivery = entry.delivery.as_deref().unwrap_or("-");
        let digest = Sha256::digest(doc.as_bytes());
        let digest = hex::encode(&digest[..4]);
        Key {
            pk: Key::group(&entry.group_key).pk,
            sk: format!("{AUDIT_PREFIX}{at}#{delivery}#{n:06}#{digest}"),
        }
    }

    fn delivery(id: &str) -> Key {
        Key {
            pk: format!("D#{id}"),
            sk: "D".into(),
        }
    }

    fn ticket(tracker: &str, ticket_key: &str) -> Key {
        Key {
            pk: format!("T#{tracker}#{ticket_key}"),
            sk: "T".into(),
        }
    }

    fn installation(id: u64) -> Key {
        Key {
            pk: format!("I#{id}"),
            sk: "I".into(),
        }
    }

    fn inbox(id: &str) -> Key {
        Key {
            pk: format!("IN#{id}"),
            sk: "IN".into(),
        }
    }

    fn draft(key: &str) -> Key {
        Key {
            pk: format!("R#{key}"),
            sk: "R".into(),
        }
    }

    fn into_item(self) -> Item {
        HashMap::from([
            (PK.to_string(), AttributeValue::S(self.pk)),
            (SK.to_string(), AttributeValue::S(self.sk)),
        ])
    }
}

/// A put condition with the names and values its expression uses. Names are always placeholders:
/// `ttl` and many other short words are DynamoDB reserved words.
struct Condition {
    expression: &'static str,
    names: Names,
    values: Option<Values>,
}

impl Condition {
    /// Only if no item has this key yet.
    fn absent() -> Condition {
        Condition {
            expression: "attribute_not_exists(#pk)",
            names: HashMap::from([("#pk".into(), PK.into())]),
            values: None,
        }
    }

    /// Only if the item is at `version` (which implies it exists).
    fn at_version(version: u64) -> Condition {
        Condition {
            expression: "#version = :expected",
            names: HashMap::from([("#version".into(), VERSION.into())]),
            values: Some(HashMap::from([(":expected".into(), number(version))])),
        }
    }

    /// The pieces as the SDK's `set_*` methods take them.
    fn into_parts(self) -> (Option<Names>, Option<Values>, Option<String>) {
        (
            Some(self.names),
            self.values,
            Some(self.expression.to_string()),
        )
    }
}

/// One put, usable alone (PutItem) or inside a transaction.
struct Write {
    item: Item,
    condition: Option<Condition>,
}

impl Write {
    fn into_transact_item(self, table: &str) -> Result<TransactWriteItem, StoreError> {
        let (names, values, expression) = self
            .condition
            .map(Condition::into_parts)
            .unwrap_or_default();
        let put = Put::builder()
            .table_name(table)
            .set_item(Some(self.item))
            .set_condition_expression(expression)
            .set_expression_attribute_names(names)
            .set_expression_attribute_values(values)
            .build()
            .map_err(build_error)?;
        Ok(TransactWriteItem::builder().put(put).build())
    }
}

/// The put of a finding or group under its guard, and the version it will have once written.
fn versioned_write<T: Serialize>(
    key: Key,
    kind: &str,
    guarded: &Guarded<T>,
) -> Result<(Write, u64), StoreError> {
    let (condition, version) = match guarded.expected_version {
        None => (Condition::absent(), 1),
        Some(expected) => (Condition::at_version(expected), expected + 1),
    };
    let mut item = document_item(key, kind, &guarded.value)?;
    item.insert(VERSION.into(), number(version));
    Ok((
        Write {
            item,
            condition: Some(condition),
        },
        version,
    ))
}

/// The delivery record, written only if its id was never seen; `ttl` lets DynamoDB expire it.
fn delivery_write(delivery: &DeliveryRecord) -> Result<Write, StoreError> {
    let mut item = document_item(Key::delivery(&delivery.id), KIND_DELIVERY, delivery)?;
    // DynamoDB TTL wants epoch seconds in a Number attribute; anything else is silently ignored.
    item.insert(
        TTL.into(),
        AttributeValue::N(delivery.expires_at.timestamp().to_string()),
    );
    Ok(Write {
        item,
        condition: Some(Condition::absent()),
    })
}

/// The `n`th audit entry of a commit. No condition: its key is derived from its content (see the
/// module docs), so a put can only rewrite identical bytes.
fn audit_write(entry: &AuditEntry, n: usize) -> Result<Write, StoreError> {
    let doc = encode(entry)?;
    let mut item = Key::audit(entry, n, &doc).into_item();
    item.insert(KIND.into(), AttributeValue::S(KIND_AUDIT.into()));
    item.insert(DOC.into(), AttributeValue::S(doc));
    Ok(Write {
        item,
        condition: None,
    })
}

/// Key + `kind` + the record as JSON in `doc`.
fn document_item<T: Serialize>(key: Key, kind: &str, record: &T) -> Result<Item, StoreError> {
    let mut item = key.into_item();
    item.insert(KIND.into(), AttributeValue::S(kind.into()));
    item.insert(DOC.into(), AttributeValue::S(encode(record)?));
    Ok(item)
}

/// An inbox item as written by a webhook function: metadata in `doc`, the body gzip-compressed
/// (alert JSON shrinks 5–10×, which keeps a 1 MiB delivery inside DynamoDB's 400 KB item limit).
fn inbox_item(item: &InboxItem) -> Result<Item, StoreError> {
    let body = gzip(&item.body)?;
    if body.len() > MAX_STORED_BODY {
        return Err(StoreError::TooLarge(format!(
            "delivery {} is {} bytes, {} compressed; an inbox item holds at most {MAX_STORED_BODY}",
            item.id,
            item.body.len(),
            body.len()
        )));
    }
    let meta = InboxItem {
        body: Vec::new(),
        ..item.clone()
    };
    let mut record = document_item(Key::inbox(&item.id), KIND_INBOX, &meta)?;
    record.insert(BODY.into(), AttributeValue::B(body.into()));
    record.insert(STATUS.into(), AttributeValue::S("pending".into()));
    record.insert(ATTEMPTS.into(), number(0));
    record.insert(PENDING.into(), AttributeValue::S(PENDING.into()));
    record.insert(
        RECEIVED_AT.into(),
        AttributeValue::S(timestamp(item.received_at)),
    );
    record.insert(
        TTL.into(),
        AttributeValue::N(item.expires_at.timestamp().to_string()),
    );
    Ok(record)
}

/// Reads an inbox item back: `doc`, the body, and what `settle_inbox` changed since.
fn decode_inbox(item: &Item) -> Result<InboxItem, StoreError> {
    let mut inbox: InboxItem = decode_doc(item)?;
    inbox.body = match item.get(BODY) {
        Some(AttributeValue::B(blob)) => gunzip(blob.as_ref())
            .map_err(|e| StoreError::Corrupt(format!("{}: body: {e}", describe(item))))?,
        _ => {
            return Err(StoreError::Corrupt(format!(
                "{}: no binary `{BODY}`",
                describe(item)
            )));
        }
    };
    inbox.status = match item.get(STATUS) {
        Some(AttributeValue::S(status)) if status == "done" => InboxStatus::Done,
        _ => InboxStatus::Pending,
    };
    if let Some(AttributeValue::N(n)) = item.get(ATTEMPTS) {
        inbox.attempts = n.parse().unwrap_or(inbox.attempts);
    }
    if let Some(AttributeValue::S(error)) = item.get(LAST_ERROR) {
        inbox.last_error = Some(error.clone());
    }
    Ok(inbox)
}

/// The inbox item in a DynamoDB stream record's `NewImage`, as Lambda delivers it (attribute
/// values in DynamoDB JSON: `{"S": "…"}`, `{"N": "…"}`, `{"B": "<base64>"}`).
pub fn inbox_item_from_stream_image(image: &serde_json::Value) -> Result<InboxItem, StoreError> {
    use base64::Engine;
    let corrupt = |what: String| StoreError::Corrupt(format!("stream image: {what}"));
    let fields = image
        .as_object()
        .ok_or_else(|| corrupt("not an object".into()))?;
    let mut item = Item::new();
    for (name, value) in fields {
        let (tag, inner) = value
            .as_object()
            .and_then(|typed| typed.iter().next())
            .ok_or_else(|| corrupt(format!("`{name}` is not a typed value")))?;
        let text = inner.as_str();
        let value = match (tag.as_str(), text) {
            ("S", Some(text)) => AttributeValue::S(text.into()),
            ("N", Some(text)) => AttributeValue::N(text.into()),
            ("B", Some(text)) => AttributeValue::B(
                base64::engine::general_purpose::STANDARD
                    .decode(text)
                    .map_err(|e| corrupt(format!("`{name}`: {e}")))?
                    .into(),
            ),
            // Other types (maps, lists, booleans) are not part of an inbox item.
            _ => continue,
        };
        item.insert(name.clone(), value);
    }
    decode_inbox(&item)
}

/// Fixed-width RFC 3339 (nanoseconds, `Z`): text order is time order, for index range keys.
fn timestamp(at: chrono::DateTime<chrono::Utc>) -> String {
    at.to_rfc3339_opts(SecondsFormat::Nanos, true)
}

/// What the table's stream carries for a new inbox item (`NewImage`, in DynamoDB JSON as Lambda
/// delivers it): for sample events and tests of the worker without a stream at hand.
pub fn inbox_stream_image(item: &InboxItem) -> Result<serde_json::Value, StoreError> {
    use base64::Engine;
    let mut image = serde_json::Map::new();
    for (name, value) in inbox_item(item)? {
        let typed = match value {
            AttributeValue::S(text) => serde_json::json!({ "S": text }),
            AttributeValue::N(number) => serde_json::json!({ "N": number }),
            AttributeValue::B(blob) => serde_json::json!({
                "B": base64::engine::general_purpose::STANDARD.encode(blob.as_ref())
            }),
            _ => continue,
        };
        image.insert(name, typed);
    }
    Ok(serde_json::Value::Object(image))
}

fn gzip(bytes: &[u8]) -> Result<Vec<u8>, StoreError> {
    use std::io::Write as _;
    let mut encoder = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
    encoder
        .write_all(bytes)
        .and_then(|()| encoder.finish())
        .map_err(|e| StoreError::Corrupt(format!("compressing a body: {e}")))
}

fn gunzip(bytes: &[u8]) -> std::io::Result<Vec<u8>> {
    use std::io::Read as _;
    let mut body = Vec::new();
    flate2::read::GzDecoder::new(bytes).read_to_end(&mut body)?;
    Ok(body)
}

fn pending_index() -> Result<GlobalSecondaryIndex, StoreError> {
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

fn encode<T: Serialize>(record: &T) -> Result<String, StoreError> {
    serde_json::to_string(record)
        .map_err(|e| StoreError::Corrupt(format!("a record could not be encoded: {e}")))
}

fn number(n: u64) -> AttributeValue {
    AttributeValue::N(n.to_string())
}

/// The record in an item's `doc`.
fn decode_doc<T: DeserializeOwned>(item: &Item) -> Result<T, StoreError> {
    let Some(AttributeValue::S(doc)) = item.get(DOC) else {
        return Err(StoreError::Corrupt(format!(
            "{}: no string `{DOC}`",
            describe(item)
        )));
    };
    serde_json::from_str(doc).map_err(|e| StoreError::Corrupt(format!("{}: {e}", describe(item))))
}

/// The record in an item's `doc`, with the item's `version`.
fn decode_versioned<T: DeserializeOwned>(item: &Item) -> Result<Versioned<T>, StoreError> {
    let version = match item.get(VERSION) {
        Some(AttributeValue::N(n)) => n.parse::<u64>().ok(),
        _ => None,
    };
    let Some(version) = version else {
        return Err(StoreError::Corrupt(format!(
            "{}: no numeric `{VERSION}`",
            describe(item)
        )));
    };
    Ok(Versioned {
        value: decode_doc(item)?,
        version,
    })
}

/// `pk/sk` of an item, to say which one is unreadable.
fn describe(item: &Item) -> String {
    let text = |name| match item.get(name) {
        Some(AttributeValue::S(s)) => s.as_str(),
        _ => "?",
    };
    format!("item {}/{}", text(PK), text(SK))
}

fn string_attribute(name: &str) -> Result<AttributeDefinition, StoreError> {
    AttributeDefinition::builder()
        .attribute_name(name)
        .attribute_type(ScalarAttributeType::S)
        .build()
        .map_err(build_error)
}

fn key_element(name: &str, key_type: KeyType) -> Result<KeySchemaElement, StoreError> {
    KeySchemaElement::builder()
        .attribute_name(name)
        .key_type(key_type)
        .build()
        .map_err(build_error)
}

// Error mapping: everything DynamoDB can answer is turned into a `StoreError` below, and only here.

/// What a DynamoDB error code means to the store. Codes come in two spellings: exception names
/// (`ConditionalCheckFailedException`) and transaction cancellation reasons
/// (`ConditionalCheckFailed`); both are listed.
enum Failure {
    /// A condition did not hold: a guard was stale, or the item already exists.
    ConditionFailed,
    /// Another transaction was writing the same item at the same moment.
    Raced,
    /// Throttling, a server error, or anything else: retrying later may help.
    Unavailable,
    /// A request no retry fixes.
    Rejected,
}

fn failure_of(code: &str) -> Failure {
    match code {
        "ConditionalCheckFailedException" | "ConditionalCheckFailed" => Failure::ConditionFailed,
        "TransactionConflictException" | "TransactionConflict" => Failure::Raced,
        // Errors no retry fixes: an item over 400 KB, a missing table, denied access.
        "ValidationException" | "ResourceNotFoundException" | "AccessDeniedException" => {
            Failure::Rejected
        }
        // Throttling (ThrottlingException/ThrottlingError, ProvisionedThroughputExceeded[Exception],
        // RequestLimitExceeded), server errors (InternalServerError, ServiceUnavailable), a
        // TransactionInProgressException.
        _ => Failure::Unavailable,
    }
}

/// Maps the failure of one DynamoDB request.
fn store_error<E>(operation: &str, err: SdkError<E>) -> StoreError
where
    E: ProvideErrorMetadata + std::error::Error + Send + Sync + 'static,
{
    if let SdkError::ServiceError(service) = &err {
        match failure_of(service.err().code().unwrap_or_default()) {
            Failure::ConditionFailed | Failure::Raced => return StoreError::Conflict,
            Failure::Rejected => {
                return StoreError::Rejected(format!(
                    "DynamoDB {operation}: {}",
                    DisplayErrorContext(&err)
                ));
            }
            Failure::Unavailable => {}
        }
    }
    // Everything else (a 5xx or throttling answer, a timeout, a connection that could not be made,
    // a response that could not be read) is worth retrying later.
    StoreError::Unavailable(format!(
        "DynamoDB {operation}: {}",
        DisplayErrorContext(&err)
    ))
}

/// Maps the failure of a commit's `TransactWriteItems`. `delivery` is the id of the delivery
/// written as item 0, if the commit had one.
fn transaction_error(err: SdkError<TransactWriteItemsError>, delivery: Option<&str>) -> StoreError {
    match err.as_service_error() {
        Some(TransactWriteItemsError::TransactionCanceledException(cancelled)) => {
            cancellation_error(cancelled.cancellation_reasons(), delivery)
        }
        _ => store_error("TransactWriteItems", err),
    }
}

/// Why a transaction was cancelled, from its per-item reasons (in request order; `None` for the
/// items that were fine). A duplicate delivery wins over everything else: it says the event was
/// already applied, which no re-read can change.
fn cancellation_error(reasons: &[CancellationReason], delivery: Option<&str>) -> StoreError {
    let codes: Vec<&str> = reasons.iter().map(|r| r.code().unwrap_or("None")).collect();
    if let Some(id) = delivery
        && codes
            .first()
            .is_some_and(|code| matches!(failure_of(code), Failure::ConditionFailed))
    {
        return StoreError::DuplicateDelivery(id.to_string());
    }
    let failures: Vec<&str> = codes.into_iter().filter(|code| *code != "None").collect();
    if failures
        .iter()
        .any(|code| matches!(failure_of(code), Failure::ConditionFailed | Failure::Raced))
    {
        return StoreError::Conflict;
    }
    StoreError::Unavailable(format!(
        "DynamoDB TransactWriteItems cancelled: [{}]",
        failures.join(", ")
    ))
}

/// A request the SDK refused to build: a missing required field, so a bug here, not in the data.
fn build_error(err: BuildError) -> StoreError {
    StoreError::Unavailable(format!("DynamoDB request could not be built: {err}"))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn reasons(codes: &[&str]) -> Vec<CancellationReason> {
        codes
            .iter()
            .map(|code| CancellationReason::builder().code(*code).build())
            .collect()
    }

    #[test]
    fn a_failed_delivery_condition_is_a_duplicate_even_when_a_guard_is_stale_too() {
        let error = cancellation_error(
            &reasons(&["ConditionalCheckFailed", "ConditionalCheckFailed"]),
            Some("github:1"),
        );
        assert!(matches!(error, StoreError::DuplicateDelivery(id) if id == "github:1"));
    }

    #[test]
    fn stale_guards_and_racing_transactions_are_conflicts() {
        let stale = cancellation_error(
            &reasons(&["None", "ConditionalCheckFailed", "None"]),
            Some("github:1"),
        );
        assert!(matches!(stale, StoreError::Conflict));
        let raced =
            cancellation_error(&reasons(&["TransactionConflict", "None"]), Some("github:1"));
        assert!(matches!(raced, StoreError::Conflict));
        // Without a delivery, item 0 is an ordinary guarded record.
        let first = cancellation_error(&reasons(&["ConditionalCheckFailed"]), None);
        assert!(matches!(first, StoreError::Conflict));
    }

    #[test]
    fn throttled_transactions_are_unavailable_and_name_the_reason() {
        let error = cancellation_error(&reasons(&["None", "ThrottlingError"]), None);
        assert!(
            matches!(&error, StoreError::Unavailable(m) if m.contains("ThrottlingError")),
            "{error:?}"
        );
        assert!(error.is_retryable());
    }

    #[test]
    fn audit_sort_keys_order_by_time_then_place_in_the_commit() {
        let entry = |at: &str| AuditEntry {
            at: at.parse().unwrap(),
            group_key: GroupKey::from_stored("1/code-scanning/rule:CodeQL:js/xss"),
            fingerprint: None,
            actor: "scantix".into(),
            action: "finding.opened".into(),
            reason: String::new(),
            delivery: Some("github:abc".into()),
            ticket: None,
        };
        let sk = |at: &str, n| Key::audit(&entry(at), n, &encode(&entry(at)).unwrap()).sk;
        // Whole seconds and fractions sort correctly only because the fraction is fixed width.
        let keys = [
            sk("2025-03-01T12:00:00Z", 0),
            sk("2025-03-01T12:00:00.5Z", 0),
            sk("2025-03-01T12:00:00.5Z", 1),
            sk("2025-03-01T12:00:00.5Z", 10),
            sk("2025-03-01T12:00:01Z", 0),
        ];
        assert!(keys.windows(2).all(|w| w[0] < w[1]), "{keys:#?}");
        assert!(keys[0].starts_with("A#2025-03-01T12:00:00.000000000Z#github:abc#000000#"));
    }
}
