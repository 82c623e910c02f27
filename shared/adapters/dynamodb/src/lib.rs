//! DynamoDB `Store` (single table): the production adapter of `scantix_core::ports::store::Store`,
//! and the table's stream as the worker function receives it. Not here: choosing the store or the
//! table (`scantix-wiring`), or what is stored (the core's records).
//!
//! # Layout
//! - this file: `DynamoStore`, the port's methods, and the table's creation (tests, local runs).
//! - [`lists`]: the list entries that index records (`L#…`, `M#…`, `AD#…`).
//! - `items`: records ↔ items (keys, `doc`, versions); `inbox`: inbox items and their stream
//!   images; `errors`: the SDK's errors → `StoreError`.
//! - `legacy`: groups written by the old code, upgraded when read, and `migrate` (all at once).
//! - [`stream`]: a stream batch's inbox items applied in order, failures reported to Lambda.
//!
//! # Table layout
//! One table, string keys `pk` (partition) and `sk` (sort). Every item has a `kind` attribute;
//! records are kept whole as JSON in a string attribute `doc`, while keys, `version` and `ttl` stay
//! real attributes because conditions and TTL read them.
//!
//! | item | `pk` | `sk` | other attributes |
//! |---|---|---|---|
//! | finding | `F#<fingerprint>` | `F` | `kind=finding`, `version` (N), `doc` (about 1 KB) |
//! | group | `G#<group key>` | `G` | `kind=group`, `version` (N), `doc` (counts, not members: about 1–2 KB whatever its size) |
//! | group content | `G#<group key>` | `C` | `kind=content`, `doc` (the rule's description and help) |
//! | audit entry | `A#<group key>` | `A#<at>#<delivery or ->#<n>#<digest>` | `kind=audit`, `doc` |
//! | delivery | `D#<delivery id>` | `D` | `kind=delivery`, `ttl` (N, epoch seconds), `doc` |
//! | ticket link | `T#<tracker>#<ticket key>` | `T` | `kind=ticket`, `group_key` (S) |
//! | installation | `I#<installation id>` | `I` | `kind=installation`, `version` (N), `doc` |
//! | inbox item | `IN#<delivery id>` | `IN` | `kind=inbox`, `doc`, `body` (B, gzip), `status`, `attempts` (N), `last_error`, `ttl`; while pending also `pending` and `received_at` |
//! | pull request | `P#<repository id>#<number>` | `P` | `kind=pull_request`, `version` (N), `doc` |
//! | list entries | `L#…`, `M#…`, `AD#…` | see [`lists`] | index items, written in the same transaction as their records |
//!
//! Pending inbox items are also in the sparse global secondary index `pending-inbox` (hash
//! `pending`, always `"pending"`; range `received_at`): settling an item removes its `pending`
//! attribute, so the index holds only what is still to be applied and `scantix replay` reads just
//! that. Inbox items are written by the webhook functions with one conditional `PutItem` and
//! afterwards only changed with `UpdateItem`, which the table's stream reports as `MODIFY`: the
//! worker's stream filter passes `INSERT`s only.
//!
//! Audit entries live in a partition per group (`A#…`, apart from the group's own so that IAM can
//! deny changing them by key prefix), so one Query reads a group's log in order: `at`
//! is written RFC 3339 with nine fraction digits (fixed width, so text order is time order), `n`
//! is the entry's zero-padded place in its commit, and `digest` is the first 4 bytes of SHA-256 of
//! the entry's JSON. The digest makes the key a function of the content: an entry can only ever
//! be rewritten with the very same bytes, so audit puts need no condition (append-only by
//! construction), and the port has no call that changes or deletes one.
//!
//! # Versions
//! Findings, groups, installations and pull requests carry a `version`. A guarded write without
//! an expected version writes only if the item is absent (`attribute_not_exists(pk)`) and stores
//! version 1; with `v` it writes only if `version = v` and stores `v + 1`.
//!
//! # Round trips
//! `read_event` is one `BatchGetItem` (consistent reads); `commit` is one `TransactWriteItems`
//! (more only beyond DynamoDB's 100 actions, which an event's commit never reaches); every `get_*`
//! is one `GetItem`; a list read is one `Query` per page and shard, plus one `BatchGetItem` for the
//! records it names. Groups written by the old code (every finding inline) are upgraded the first
//! time they are read ([`legacy`]).

mod analysis;
mod errors;
mod inbox;
mod items;
mod legacy;
pub mod lists;
pub mod stream;

pub use inbox::{PENDING_INDEX, inbox_item_from_stream_image, inbox_stream_image};
pub use legacy::Migration;

use errors::{build_error, store_error, transaction_error};
use inbox::{
    ATTEMPTS, LAST_ERROR, PENDING, RECEIVED_AT, STATUS, decode_inbox, inbox_item, timestamp,
};
use items::{
    AUDIT_PREFIX, GROUP, Item, KIND, KIND_CONTENT, KIND_FINDING, KIND_GROUP, KIND_INSTALLATION,
    KIND_PULL_REQUEST, KIND_TICKET, Key, PK, SK, TARGET_PK, TARGET_SK, TTL, Write, audit_write,
    decode_doc, decode_versioned, delivery_write, describe, doc_value, document_item, number, text,
    versioned_write,
};
use lists::{SHARDS, day_entry, day_pk, group_diff, list_pk, member_diff, members_pk};

use async_trait::async_trait;
use aws_sdk_dynamodb::Client;
use aws_sdk_dynamodb::config::{BehaviorVersion, Credentials, Region};
use aws_sdk_dynamodb::types::{
    AttributeDefinition, AttributeValue, BillingMode, GlobalSecondaryIndex, KeySchemaElement,
    KeyType, KeysAndAttributes, Projection, ProjectionType, ScalarAttributeType,
    StreamSpecification, StreamViewType, TableStatus, TimeToLiveSpecification,
};
use scantix_core::identity::{Fingerprint, GroupKey};
use scantix_core::inbox::{Applied, InboxItem};
use scantix_core::ports::store::{
    Commit, EventKeys, EventRecords, Guarded, Inbox, InboxWriter, List, Members, Page, Store,
    StoreError,
};
use scantix_core::records::{
    AuditEntry, DeliveryRecord, FindingRecord, GroupContent, GroupRecord, InstallationRecord,
    PullRequestRecord, Versioned,
};
use std::collections::HashMap;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

/// DynamoDB's limit on actions in one `TransactWriteItems`.
const MAX_TRANSACTION_ITEMS: usize = 100;
/// DynamoDB's limit on keys in one `BatchGetItem`.
const MAX_BATCH_GET: usize = 100;

/// How long `create_table` waits for a new table to become ACTIVE (DynamoDB Local: at once; AWS:
/// usually seconds).
const TABLE_ACTIVE_TIMEOUT: Duration = Duration::from_secs(60);

/// The `Store` over one DynamoDB table (layout in the module docs).
#[derive(Debug, Clone)]
pub struct DynamoStore {
    client: Client,
    table: String,
    /// Bytes written by commits so far (the size DynamoDB bills writes by), for the benchmark.
    written: Arc<AtomicU64>,
}

impl DynamoStore {
    /// A store over `table`, through a client built once at cold start.
    pub fn new(client: Client, table: impl Into<String>) -> DynamoStore {
        DynamoStore {
            client,
            table: table.into(),
            written: Arc::new(AtomicU64::new(0)),
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
            // DynamoDB Local serialises writes to one table behind a lock and answers a retryable
            // InternalServerError when a request waits too long for it ("this request will succeed
            // in actual DynamoDB"): under a burst of concurrent commits it needs more attempts than
            // the service does.
            .retry_config(
                aws_sdk_dynamodb::config::retry::RetryConfig::standard()
                    .with_max_attempts(10)
                    .with_initial_backoff(std::time::Duration::from_millis(50)),
            )
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

    /// Bytes of items written by commits since this store was made (DynamoDB bills writes by item
    /// size; the benchmark reports it per event).
    pub fn bytes_written(&self) -> u64 {
        self.written.load(Ordering::Relaxed)
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

    /// Reads many items at once (consistent), `MAX_BATCH_GET` keys per request, retrying the
    /// keys DynamoDB leaves unprocessed (it may, under load). Missing items are absent from the map.
    async fn batch_get(&self, keys: Vec<Key>) -> Result<HashMap<Key, Item>, StoreError> {
        let mut found = HashMap::new();
        let mut keys: Vec<Key> = {
            let mut unique = keys;
            unique.sort();
            unique.dedup();
            unique
        };
        while !keys.is_empty() {
            let rest = keys.split_off(keys.len().min(MAX_BATCH_GET));
            let mut wanted = KeysAndAttributes::builder().consistent_read(true);
            for key in keys {
                wanted = wanted.keys(key.into_item());
            }
            let mut request =
                HashMap::from([(self.table.clone(), wanted.build().map_err(build_error)?)]);
            let mut attempt = 0u32;
            loop {
                let output = self
                    .client
                    .batch_get_item()
                    .set_request_items(Some(request))
                    .send()
                    .await
                    .map_err(|e| store_error("BatchGetItem", e))?;
                for item in output
                    .responses
                    .unwrap_or_default()
                    .remove(&self.table)
                    .unwrap_or_default()
                {
                    if let Some(key) = Key::of(&item) {
                        found.insert(key, item);
                    }
                }
                match output.unprocessed_keys.filter(|u| !u.is_empty()) {
                    Some(unprocessed) => {
                        attempt += 1;
                        if attempt > 8 {
                            return Err(StoreError::Unavailable(
                                "DynamoDB BatchGetItem left keys unprocessed 8 times".into(),
                            ));
                        }
                        tokio::time::sleep(Duration::from_millis(10 << attempt.min(6))).await;
                        request = unprocessed;
                    }
                    None => break,
                }
            }
            keys = rest;
        }
        Ok(found)
    }

    /// One page of a Query on partition `pk`: entries with sort keys after `after` (and, when
    /// given, starting with `prefix` or below `below`), at most `limit`. Returns the items and
    /// whether the partition has more.
    ///
    /// Pages are exact, as the memory store's: "more" means another entry exists, so a list that
    /// ends on a full page says so then, not with an empty page after it. (DynamoDB's own
    /// `LastEvaluatedKey` comes back whenever a Query stops at its `Limit`, and also when it stops
    /// at 1 MB with fewer items, so the Query asks for one entry past `limit` and goes on while
    /// DynamoDB stops short.)
    async fn query_page(
        &self,
        pk: &str,
        bound: SortBound<'_>,
        after: Option<&str>,
        limit: usize,
    ) -> Result<(Vec<Item>, bool), StoreError> {
        let wanted = limit.saturating_add(1);
        let mut items: Vec<Item> = Vec::new();
        let mut start = after.map(|after| {
            Key {
                pk: pk.into(),
                sk: after.into(),
            }
            .into_item()
        });
        loop {
            let mut query = self
                .client
                .query()
                .table_name(&self.table)
                .expression_attribute_names("#pk", PK)
                .expression_attribute_values(":pk", AttributeValue::S(pk.into()))
                .consistent_read(true)
                .limit(i32::try_from(wanted - items.len()).unwrap_or(i32::MAX))
                .set_exclusive_start_key(start.take());
            query = match bound {
                SortBound::None => query.key_condition_expression("#pk = :pk"),
                SortBound::Prefix(prefix) => query
                    .key_condition_expression("#pk = :pk AND begins_with(#sk, :bound)")
                    .expression_attribute_names("#sk", SK)
                    .expression_attribute_values(":bound", AttributeValue::S(prefix.into())),
                SortBound::Below(below) => query
                    .key_condition_expression("#pk = :pk AND #sk < :bound")
                    .expression_attribute_names("#sk", SK)
                    .expression_attribute_values(":bound", AttributeValue::S(below.into())),
            };
            let output = query.send().await.map_err(|e| store_error("Query", e))?;
            items.extend(output.items.unwrap_or_default());
            match output.last_evaluated_key.filter(|k| !k.is_empty()) {
                Some(last) if items.len() < wanted => start = Some(last),
                _ => break,
            }
        }
        let more = items.len() > limit;
        items.truncate(limit);
        Ok((items, more))
    }

    /// The audit entries under `pk` (sort keys `A#…`), with their sort keys, in order.
    async fn audit_partition(&self, pk: &str) -> Result<Vec<(String, AuditEntry)>, StoreError> {
        let mut entries = Vec::new();
        let mut after: Option<String> = None;
        loop {
            let (items, more) = self
                .query_page(pk, SortBound::Prefix(AUDIT_PREFIX), after.as_deref(), 1000)
                .await?;
            after = items.last().and_then(|i| text(i, SK)).map(str::to_owned);
            for item in &items {
                let sort_key = text(item, SK).unwrap_or_default().to_owned();
                entries.push((sort_key, decode_doc(item)?));
            }
            if !more {
                return Ok(entries);
            }
        }
    }

    /// Writes `writes` in one transaction (or one request, for a single put). Counts their bytes.
    async fn transact(&self, writes: Vec<Write>, delivery: Option<&str>) -> Result<(), StoreError> {
        if writes.is_empty() {
            return Ok(());
        }
        let bytes: usize = writes.iter().map(Write::size).sum();
        let single = matches!(writes.as_slice(), [Write::Put { .. }]);
        let mut writes = writes;
        if single && let Some(Write::Put { item, condition }) = writes.pop() {
            let (names, values, expression) = condition
                .map(items::Condition::into_parts)
                .unwrap_or_default();
            self.client
                .put_item()
                .table_name(&self.table)
                .set_item(Some(item))
                .set_condition_expression(expression)
                .set_expression_attribute_names(names)
                .set_expression_attribute_values(values)
                .send()
                .await
                .map_err(|e| store_error("PutItem", e))?;
        } else {
            let items = writes
                .into_iter()
                .map(|write| write.into_transact_item(&self.table))
                .collect::<Result<Vec<_>, _>>()?;
            // The SDK fills in a ClientRequestToken, so its own retries of this call (after a
            // timeout, say) are idempotent instead of failing on what the first attempt wrote.
            self.client
                .transact_write_items()
                .set_transact_items(Some(items))
                .send()
                .await
                .map_err(|e| transaction_error(e, delivery))?;
        }
        self.written.fetch_add(bytes as u64, Ordering::Relaxed);
        Ok(())
    }

    /// Writes unconditional puts after a transaction, in further transactions of up to 100:
    /// audit entries beyond the first one's room. Each is content-addressed, so a repeat
    /// rewrites the same bytes. Not `BatchWriteItem`: IAM cannot tell its puts from its deletes,
    /// and the functions' roles deny deleting audit entries, so they are not granted it at all.
    async fn put_after(&self, writes: Vec<Write>) -> Result<(), StoreError> {
        let mut writes = writes;
        while !writes.is_empty() {
            let rest = writes.split_off(writes.len().min(100));
            self.transact(writes, None).await?;
            writes = rest;
        }
        Ok(())
    }

    /// A group item as today's record, upgrading one written by the old code on the way.
    async fn group_from(&self, item: &Item) -> Result<Versioned<GroupRecord>, StoreError> {
        if scantix_core::records::legacy::is_legacy_group(&doc_value(item)?) {
            return self.upgrade_group(item).await;
        }
        decode_versioned(item)
    }

    /// Reads the records that `entries` (member, list or day entries) point at, in entry order.
    async fn targets(&self, entries: &[Item], target: Target) -> Result<Vec<Item>, StoreError> {
        let keys: Vec<Key> = entries
            .iter()
            .filter_map(|entry| target.key_of(entry))
            .collect();
        let mut found = self.batch_get(keys.clone()).await?;
        // An entry whose record is gone (never, by construction; tolerated) is skipped.
        Ok(keys.iter().filter_map(|key| found.remove(key)).collect())
    }

    /// A page of `list`'s groups, in the list's order across its shards: each shard's next
    /// entries, merged by sort key. A sort key names its group (a group is in a list once), so it
    /// is unique across shards and the page's last one is where every shard resumes.
    async fn list_page(
        &self,
        list: &List,
        after: Option<&str>,
        limit: usize,
    ) -> Result<Page<Versioned<GroupRecord>>, StoreError> {
        let (stored, below) = list.stored();
        let shards = if stored.is_sharded() { SHARDS } else { 1 };
        let mut entries: Vec<(String, Item)> = Vec::new();
        let mut more = false;
        for shard in 0..shards {
            let bound = match &below {
                Some(below) => SortBound::Below(below),
                None => SortBound::None,
            };
            let (items, shard_more) = self
                .query_page(&list_pk(&stored, shard), bound, after, limit)
                .await?;
            more |= shard_more;
            entries.extend(
                items
                    .into_iter()
                    .filter_map(|item| text(&item, SK).map(str::to_owned).map(|sk| (sk, item))),
            );
        }
        entries.sort_by(|a, b| a.0.cmp(&b.0));
        more |= entries.len() > limit;
        entries.truncate(limit);
        let next = match more {
            true => entries.last().map(|(sk, _)| sk.clone()),
            false => None,
        };
        let items: Vec<Item> = entries.into_iter().map(|(_, item)| item).collect();
        let groups = self.targets(&items, Target::Group).await?;
        let mut out = Vec::with_capacity(groups.len());
        for item in &groups {
            out.push(self.group_from(item).await?);
        }
        Ok(Page { items: out, next })
    }
}

/// How a Query bounds the sort key.
enum SortBound<'a> {
    None,
    Prefix(&'a str),
    Below(&'a str),
}

/// What an index entry points at.
#[derive(Clone, Copy)]
enum Target {
    /// A list entry names a group by key.
    Group,
    /// Member and day entries name their item.
    Item,
}

impl Target {
    fn key_of(self, entry: &Item) -> Option<Key> {
        match self {
            Target::Group => text(entry, GROUP).map(|g| Key::group(&GroupKey::from_stored(g))),
            Target::Item => match (text(entry, TARGET_PK), text(entry, TARGET_SK)) {
                (Some(pk), Some(sk)) => Some(Key {
                    pk: pk.into(),
                    sk: sk.into(),
                }),
                _ => None,
            },
        }
    }
}

/// The writes of a commit's records and their list entries (audit entries apart).
fn record_writes(commit: &Commit) -> Result<Vec<Write>, StoreError> {
    let mut writes = Vec::new();
    // The delivery goes first: cancellation reasons come back in request order, and item 0
    // failing its condition is what tells a duplicate delivery from a lost race.
    if let Some(delivery) = &commit.delivery {
        writes.push(delivery_write(delivery)?);
    }
    for finding in &commit.findings {
        let key = Key::finding(&finding.value.fingerprint);
        writes.push(versioned_write(key, KIND_FINDING, finding)?.0);
        writes.extend(member_diff(finding.previous.as_ref(), &finding.value));
    }
    if let Some(group) = &commit.group {
        writes.push(versioned_write(Key::group(&group.value.key), KIND_GROUP, group)?.0);
        writes.extend(group_diff(group.previous.as_ref(), &group.value));
    }
    if let Some(content) = &commit.content {
        // Written once, never replaced (the port's promise), and never a reason to fail: texts
        // offered again by a later commit are left as they are.
        writes.push(Write::Keep {
            item: document_item(Key::content(&content.key), KIND_CONTENT, content)?,
        });
    }
    writes.extend(commit.analysis.iter().map(analysis::entry_write));
    for link in &commit.links {
        let mut item = Key::ticket(&link.tracker, &link.ticket_key).into_item();
        item.insert(KIND.into(), AttributeValue::S(KIND_TICKET.into()));
        item.insert(GROUP.into(), AttributeValue::S(link.group.as_str().into()));
        writes.push(Write::put(item));
    }
    Ok(writes)
}

/// Each audit entry and its day entry.
fn audit_writes(audit: &[AuditEntry]) -> Result<Vec<Write>, StoreError> {
    let mut writes = Vec::with_capacity(audit.len() * 2);
    for (n, entry) in audit.iter().enumerate() {
        let (write, key) = audit_write(entry, n)?;
        writes.push(write);
        writes.push(day_entry(entry, &key));
    }
    Ok(writes)
}

#[async_trait]
impl InboxWriter for DynamoStore {
    async fn put_inbox(&self, item: &InboxItem) -> Result<bool, StoreError> {
        let write = Write::Put {
            item: inbox_item(item)?,
            condition: Some(items::Condition::absent()),
        };
        match self.transact(vec![write], None).await {
            Ok(()) => Ok(true),
            Err(StoreError::Conflict) => Ok(false),
            Err(other) => Err(other),
        }
    }
}

#[async_trait]
impl Inbox for DynamoStore {
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
}

#[async_trait]
impl Store for DynamoStore {
    async fn read_event(&self, keys: EventKeys<'_>) -> Result<EventRecords, StoreError> {
        let delivery_key = Key::delivery(keys.delivery);
        let finding_key = Key::finding(keys.finding);
        let group_key = Key::group(keys.group);
        let installation_key = keys.installation.map(Key::installation);
        let mut wanted = vec![delivery_key.clone(), finding_key.clone(), group_key.clone()];
        wanted.extend(installation_key.clone());
        let mut found = self.batch_get(wanted).await?;
        let group = match found.remove(&group_key) {
            Some(item) => Some(self.group_from(&item).await?),
            None => None,
        };
        Ok(EventRecords {
            delivery: found
                .remove(&delivery_key)
                .map(|item| decode_doc(&item))
                .transpose()?,
            finding: found
                .remove(&finding_key)
                .map(|item| decode_versioned(&item))
                .transpose()?,
            group,
            installation: match installation_key {
                Some(key) => found
                    .remove(&key)
                    .map(|item| decode_versioned(&item))
                    .transpose()?,
                None => None,
            },
        })
    }

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
        match self.get_item(Key::group(key)).await? {
            Some(item) => Ok(Some(self.group_from(&item).await?)),
            None => Ok(None),
        }
    }

    async fn get_content(&self, key: &GroupKey) -> Result<Option<GroupContent>, StoreError> {
        let item = self.get_item(Key::content(key)).await?;
        item.map(|item| decode_doc(&item)).transpose()
    }

    async fn get_delivery(&self, id: &str) -> Result<Option<DeliveryRecord>, StoreError> {
        let item = self.get_item(Key::delivery(id)).await?;
        item.map(|item| decode_doc(&item)).transpose()
    }

    async fn commit(&self, commit: Commit) -> Result<(), StoreError> {
        let mut writes = record_writes(&commit)?;
        let mut audit = audit_writes(&commit.audit)?;
        if writes.is_empty() && audit.is_empty() {
            return Ok(());
        }
        if writes.len() > MAX_TRANSACTION_ITEMS {
            return Err(StoreError::Rejected(format!(
                "a commit of {} writes is over DynamoDB's {MAX_TRANSACTION_ITEMS} per transaction",
                writes.len()
            )));
        }
        // The state change and as many audit entries as fit are atomic; the rest are appended
        // right after the transaction succeeds. Audit puts are idempotent (content-addressed
        // keys), so a crash in between loses at most those overflow entries, never state.
        let room = MAX_TRANSACTION_ITEMS - writes.len();
        // Entries go in pairs (the entry and its day entry): never split a pair.
        let overflow = audit.split_off(audit.len().min(room - room % 2));
        writes.extend(audit);
        self.transact(writes, commit.delivery.as_ref().map(|d| d.id.as_str()))
            .await?;
        if !overflow.is_empty()
            && let Err(e) = self.put_after(overflow).await
        {
            // The commit has happened: failing it now would make the caller retry into
            // `DuplicateDelivery`/`Conflict`. Say loudly what was lost instead.
            tracing::error!(error = %e, "audit entries beyond the transaction limit could not be written");
        }
        Ok(())
    }

    async fn put_group(&self, group: Guarded<GroupRecord>) -> Result<u64, StoreError> {
        let (write, version) = versioned_write(Key::group(&group.value.key), KIND_GROUP, &group)?;
        let mut writes = vec![write];
        writes.extend(group_diff(group.previous.as_ref(), &group.value));
        self.transact(writes, None).await?;
        Ok(version)
    }

    async fn group_findings(
        &self,
        group: &GroupKey,
        which: Members,
        after: Option<&str>,
        limit: usize,
    ) -> Result<Page<Versioned<FindingRecord>>, StoreError> {
        let bound = match which {
            Members::OpenTicketed => SortBound::Prefix("0#"),
            // Ranks of recorded-only findings start with 2.
            Members::Ticketed => SortBound::Below("2"),
            Members::All => SortBound::None,
        };
        let (entries, more) = self
            .query_page(&members_pk(group), bound, after, limit)
            .await?;
        let next = match more {
            true => entries.last().and_then(|e| text(e, SK)).map(str::to_owned),
            false => None,
        };
        let items = self.targets(&entries, Target::Item).await?;
        let findings = items
            .iter()
            .map(decode_versioned)
            .collect::<Result<Vec<_>, _>>()?;
        Ok(Page {
            items: findings,
            next,
        })
    }

    async fn groups_in(
        &self,
        list: &List,
        after: Option<&str>,
        limit: usize,
    ) -> Result<Page<Versioned<GroupRecord>>, StoreError> {
        self.list_page(list, after, limit).await
    }

    async fn audit_log(&self, key: &GroupKey) -> Result<Vec<AuditEntry>, StoreError> {
        // Entries written before audit logs had their own partition sit in the group's, under
        // the same sort keys: read both and merge by sort key (time order).
        let mut keyed = self.audit_partition(&Key::audit_partition(key)).await?;
        keyed.extend(self.audit_partition(&Key::group(key).pk).await?);
        keyed.sort_by(|a, b| a.0.cmp(&b.0));
        keyed.dedup_by(|a, b| a.0 == b.0);
        Ok(keyed.into_iter().map(|(_, entry)| entry).collect())
    }

    async fn changes_on(
        &self,
        day: chrono::NaiveDate,
        after: Option<&str>,
        limit: usize,
    ) -> Result<Page<AuditEntry>, StoreError> {
        let (entries, more) = self
            .query_page(&day_pk(day), SortBound::None, after, limit)
            .await?;
        let next = match more {
            true => entries.last().and_then(|e| text(e, SK)).map(str::to_owned),
            false => None,
        };
        let items = self.targets(&entries, Target::Item).await?;
        let audit = items
            .iter()
            .map(decode_doc)
            .collect::<Result<Vec<_>, _>>()?;
        Ok(Page { items: audit, next })
    }

    async fn analysis_findings(
        &self,
        analysis: &str,
        after: Option<&str>,
        limit: usize,
    ) -> Result<Page<Fingerprint>, StoreError> {
        analysis::page(self, analysis, after, limit).await
    }

    async fn group_for_ticket(
        &self,
        tracker: &str,
        ticket_key: &str,
    ) -> Result<Option<GroupKey>, StoreError> {
        let Some(item) = self.get_item(Key::ticket(tracker, ticket_key)).await? else {
            return Ok(None);
        };
        match text(&item, GROUP) {
            Some(group) => Ok(Some(GroupKey::from_stored(group))),
            None => Err(StoreError::Corrupt(format!(
                "{}: no string `{GROUP}`",
                describe(&item)
            ))),
        }
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
        let (write, version) = versioned_write(
            Key::installation(record.value.id),
            KIND_INSTALLATION,
            &record,
        )?;
        // Its entry in the list of installations, rewritten (identically) with every change, so
        // installations recorded before the list existed join it at their next change (or at
        // `scantix migrate`).
        let entry = installation_entry(record.value.id);
        self.transact(vec![write, Write::put(entry)], None).await?;
        Ok(version)
    }

    async fn installations(&self) -> Result<Vec<Versioned<InstallationRecord>>, StoreError> {
        let mut records = Vec::new();
        let mut after: Option<String> = None;
        loop {
            let (entries, more) = self
                .query_page(INSTALLATIONS_PK, SortBound::None, after.as_deref(), 100)
                .await?;
            after = entries.last().and_then(|e| text(e, SK)).map(str::to_owned);
            for item in self.targets(&entries, Target::Item).await? {
                records.push(decode_versioned(&item)?);
            }
            if !more {
                return Ok(records);
            }
        }
    }

    async fn get_pull_request(
        &self,
        repository_id: u64,
        number: u64,
    ) -> Result<Option<Versioned<PullRequestRecord>>, StoreError> {
        let item = self
            .get_item(Key::pull_request(repository_id, number))
            .await?;
        item.map(|item| decode_versioned(&item)).transpose()
    }

    async fn put_pull_request(
        &self,
        record: Guarded<PullRequestRecord>,
    ) -> Result<u64, StoreError> {
        let key = Key::pull_request(record.value.repository.id, record.value.number);
        let (write, version) = versioned_write(key, KIND_PULL_REQUEST, &record)?;
        self.transact(vec![write], None).await?;
        Ok(version)
    }

    async fn all_groups(
        &self,
        after: Option<&str>,
        limit: usize,
    ) -> Result<Page<Versioned<GroupRecord>>, StoreError> {
        // A Scan filtered to groups: pages are 1 MB of every kind of item before the filter, so
        // this walks the table. For whole-store listings and migrations only. Groups come in the
        // scan's order; the page stops at `limit` (one group past it is looked at, so the last
        // page says it is the last), and the next one resumes after its last group's item.
        let mut start = after.map(|pk| {
            Key {
                pk: pk.into(),
                sk: "G".into(),
            }
            .into_item()
        });
        let mut found: Vec<Item> = Vec::new();
        loop {
            let output = self
                .client
                .scan()
                .table_name(&self.table)
                .filter_expression("#kind = :kind")
                .expression_attribute_names("#kind", KIND)
                .expression_attribute_values(":kind", AttributeValue::S(KIND_GROUP.into()))
                .consistent_read(true)
                .set_exclusive_start_key(start.take())
                .send()
                .await
                .map_err(|e| store_error("Scan", e))?;
            found.extend(output.items.unwrap_or_default());
            match output.last_evaluated_key.filter(|k| !k.is_empty()) {
                Some(last) if found.len() <= limit => start = Some(last),
                _ => break,
            }
        }
        let more = found.len() > limit;
        found.truncate(limit);
        let mut groups = Vec::with_capacity(found.len());
        for item in &found {
            groups.push(self.group_from(item).await?);
        }
        let next = match more {
            true => groups.last().map(|g| Key::group(&g.value.key).pk),
            false => None,
        };
        Ok(Page {
            items: groups,
            next,
        })
    }
}

/// The partition of the list of installations.
const INSTALLATIONS_PK: &str = "L#installations";

/// Installation `id`'s entry in the list of installations.
fn installation_entry(id: u64) -> Item {
    let entry = Key {
        pk: INSTALLATIONS_PK.into(),
        sk: format!("{id:020}"),
    };
    let mut item = entry.into_item();
    item.insert(KIND.into(), AttributeValue::S(items::KIND_LIST.into()));
    item.insert(
        TARGET_PK.into(),
        AttributeValue::S(Key::installation(id).pk),
    );
    item.insert(TARGET_SK.into(), AttributeValue::S("I".into()));
    item
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
