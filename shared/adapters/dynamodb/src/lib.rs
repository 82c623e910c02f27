//! DynamoDB `Store` (single table): the production adapter of `scantix_core::ports::store::Store`,
//! and the table's stream as the worker function receives it. Not here: choosing the store or the
//! table (`scantix-wiring`), or what is stored (the core's records).
//!
//! # Layout
//! - this file: `DynamoStore` and the port's methods; `requests`: the DynamoDB requests under
//!   them and the writes a commit becomes; `table`: the table's creation (tests, local runs).
//! - [`lists`]: the list entries that index records (`L#…`, `M#…`, `AD#…`).
//! - `items`: records ↔ items (keys, `doc`, versions); `inbox`: inbox items and their stream
//!   images; `errors`: the SDK's errors → `StoreError`.
//! - `group_commit`: concurrent commits sent in one transaction, each answered on its own;
//!   `group_read`: concurrent event reads sent in one `BatchGetItem`.
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
//! | audit entries | `A#<group key>` | `A#<at>#<delivery or ->#<n>#<digest>` | `kind=audit`, `doc` (a commit's entries about the group, as a JSON array; older items hold one entry) |
//! | delivery | `D#<delivery id>` | `D` | `kind=delivery`, `ttl` (N, epoch seconds), `doc` |
//! | ticket link | `T#<tracker>#<ticket key>` | `T` | `kind=ticket`, `group_key` (S) |
//! | installation | `I#<installation id>` | `I` | `kind=installation`, `version` (N), `doc` |
//! | inbox item | `IN#<delivery id>` | `IN` | `kind=inbox`, `doc`, `body` (B, gzip), `status`, `attempts` (N), `last_error`, `ttl`; while pending also `pending` and `received_at` |
//! | inbox body part | `INP#<delivery id>` | `0000`, `0001`, … | `kind=inbox_part`, `body` (B, a slice of the gzip body), `ttl`: only for bodies too large for their inbox item (then it has `parts` (N) instead of `body`) |
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
//! is the first entry's zero-padded place in its commit, and `digest` is the first 4 bytes of
//! SHA-256 of the item's JSON. One item holds a commit's entries about one group (a JSON array):
//! each item costs its keys and a day entry, so a join writes one audit item, not three. The
//! digest makes the key a function of the content: an item can only ever be rewritten with the
//! very same bytes, so audit puts need no condition (append-only by construction), and the port
//! has no call that changes or deletes one.
//!
//! # Versions
//! Findings, groups, installations and pull requests carry a `version`. A guarded write without
//! an expected version writes only if the item is absent (`attribute_not_exists(pk)`) and stores
//! version 1; with `v` it writes only if `version = v` and stores `v + 1`.
//!
//! # Round trips
//! `read_event` is one `BatchGetItem` (consistent reads; shared with reads that arrive while one
//! is in flight, `group_read`); `commit` is one `TransactWriteItems`
//! (more only beyond DynamoDB's 100 actions, which an event's commit never reaches), shared with
//! the commits that arrive while another is in flight (`group_commit`); every `get_*`
//! is one `GetItem`; a list read is one `Query` per page and shard, plus one `BatchGetItem` for the
//! records it names. Groups written by the old code (every finding inline) are upgraded the first
//! time they are read ([`legacy`]).

mod analysis;
mod errors;
mod group_commit;
mod group_read;
mod inbox;
mod items;
mod legacy;
pub mod lists;
mod requests;
pub mod stream;
mod table;

pub use inbox::{PENDING_INDEX, inbox_item_from_stream_image, inbox_stream_image};
pub use legacy::Migration;

use errors::{build_error, store_error, transaction_error};
use inbox::{
    ATTEMPTS, LAST_ERROR, PENDING, RECEIVED_AT, STATUS, decode_inbox, inbox_writes, join_parts,
    part_partition, parts_of, timestamp,
};
use items::{
    AUDIT_PREFIX, GROUP, Item, KIND, KIND_BUDGET, KIND_CONTENT, KIND_FINDING, KIND_GROUP,
    KIND_INSTALLATION, KIND_PULL_REQUEST, KIND_TICKET, Key, PK, SK, TARGET_PK, TARGET_SK, TTL,
    Write, audit_write, decode_audit, decode_doc, decode_versioned, delivery_write, describe,
    doc_value, document_item, number, text, versioned_write,
};
use lists::{SHARDS, day_entry, day_pk, group_diff, list_pk, member_diff, members_pk};
use requests::{Target, audit_writes, record_writes};

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
use scantix_core::records::budget::{BudgetLedger, BudgetScope};
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

/// The `Store` over one DynamoDB table (layout in the module docs).
#[derive(Debug, Clone)]
pub struct DynamoStore {
    client: Client,
    table: String,
    /// Bytes written by commits so far (the size DynamoDB bills writes by), for the benchmark.
    written: Arc<AtomicU64>,
    /// Commits waiting to share a transaction (see `group_commit`).
    group: Arc<group_commit::GroupCommit>,
    /// Event reads waiting to share a request (see `group_read`).
    reads: Arc<group_read::GroupRead>,
    /// Never writes while reading: a group in the old format is read as its upgrade would leave
    /// it, but not upgraded (see [`DynamoStore::read_only`]).
    read_only: bool,
}

impl DynamoStore {
    /// `inbox` with its body read from its `parts` (see `inbox`), when it was stored in parts.
    async fn with_parts(
        &self,
        mut inbox: InboxItem,
        parts: usize,
    ) -> Result<InboxItem, StoreError> {
        if !inbox.body_elsewhere || parts == 0 {
            return Ok(inbox);
        }
        let (items, _) = self
            .query_page(&part_partition(&inbox.id), SortBound::None, None, parts)
            .await?;
        inbox.body = join_parts(&inbox.id, &items, parts)?;
        inbox.body_elsewhere = false;
        Ok(inbox)
    }

    /// A store over `table`, through a client built once at cold start.
    pub fn new(client: Client, table: impl Into<String>) -> DynamoStore {
        DynamoStore {
            client,
            table: table.into(),
            written: Arc::new(AtomicU64::new(0)),
            group: Arc::default(),
            reads: Arc::default(),
            read_only: false,
        }
    }

    /// This store for a reader whose role may not write the table (the OCSF publisher): reading a
    /// group still in the old format converts it in memory, exactly as the upgrade on first read
    /// would (`scantix_core::records::legacy::upgrade`), without writing the upgrade — which such
    /// a role would be refused, failing the read for good. The group's version stays the stored
    /// one; its texts come from the old record. Writes through it are still the caller's to avoid.
    pub fn read_only(mut self) -> DynamoStore {
        self.read_only = true;
        self
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
}

/// How a Query bounds the sort key.
enum SortBound<'a> {
    None,
    Prefix(&'a str),
    Below(&'a str),
}

#[async_trait]
impl InboxWriter for DynamoStore {
    async fn put_inbox(&self, item: &InboxItem) -> Result<bool, StoreError> {
        let writes = inbox_writes(item)?;
        // Parts first, one put each (a transaction holds at most 4 MB): the inbox item, whose
        // INSERT starts the worker, must find them all. A crash in between leaves parts without
        // an item, which expire with their TTL; the sender's retry rewrites them identically.
        for part in writes.parts {
            self.transact(vec![Write::put(part)], None).await?;
        }
        let write = Write::Put {
            item: writes.item,
            condition: Some(items::Condition::absent()),
        };
        match self.transact(vec![write], None).await {
            Ok(()) => Ok(true),
            Err(StoreError::Conflict) => Ok(false),
            Err(other) => Err(other),
        }
    }
}

/// The update that settles inbox item `id` as done (`settle_inbox`, or a commit's
/// `Commit::settles`): out of the pending index, with its outcome. Conditioned on the item
/// existing (`Write::Update`), so it never creates a husk.
fn inbox_done_write(id: &str, outcome: &str, at: chrono::DateTime<chrono::Utc>) -> Write {
    Write::Update {
        key: Key::inbox(id),
        expression: "SET #status = :done, #outcome = :outcome, #settled = :at REMOVE #pending"
            .into(),
        names: HashMap::from([
            ("#pk".into(), PK.into()),
            ("#status".into(), STATUS.into()),
            ("#outcome".into(), "outcome".into()),
            ("#settled".into(), "settled_at".into()),
            ("#pending".into(), PENDING.into()),
        ]),
        values: HashMap::from([
            (":at".into(), AttributeValue::S(timestamp(at))),
            (":done".into(), AttributeValue::S("done".into())),
            (":outcome".into(), AttributeValue::S(outcome.into())),
        ]),
    }
}

/// The update that records a failed (or deferred) attempt on inbox item `id`: it stays pending,
/// or goes back to pending — the delivery's commit settles it done (`Commit::settles`) before its
/// tracker calls are made, and when those fail the delivery waits for the stream's retry or
/// replay like any other failure.
fn inbox_failed_write(id: &str, error: &str, at: chrono::DateTime<chrono::Utc>) -> Write {
    Write::Update {
        key: Key::inbox(id),
        expression: "SET #status = :pending, #pending = :pending, #error = :error, #failed = :at \
                     REMOVE #outcome, #settled ADD #attempts :one"
            .into(),
        names: HashMap::from([
            ("#pk".into(), PK.into()),
            ("#status".into(), STATUS.into()),
            ("#pending".into(), PENDING.into()),
            ("#outcome".into(), "outcome".into()),
            ("#settled".into(), "settled_at".into()),
            ("#error".into(), LAST_ERROR.into()),
            ("#failed".into(), "failed_at".into()),
            ("#attempts".into(), ATTEMPTS.into()),
        ]),
        values: HashMap::from([
            (":at".into(), AttributeValue::S(timestamp(at))),
            (":pending".into(), AttributeValue::S(PENDING.into())),
            (":error".into(), AttributeValue::S(error.into())),
            (":one".into(), number(1)),
        ]),
    }
}

#[async_trait]
impl Inbox for DynamoStore {
    async fn get_inbox(&self, id: &str) -> Result<Option<InboxItem>, StoreError> {
        let Some(item) = self.get_item(Key::inbox(id)).await? else {
            return Ok(None);
        };
        let inbox = decode_inbox(&item)?;
        self.with_parts(inbox, parts_of(&item)).await.map(Some)
    }

    async fn settle_inbox(
        &self,
        id: &str,
        applied: &Applied,
        at: chrono::DateTime<chrono::Utc>,
    ) -> Result<(), StoreError> {
        // An update, never a put: the stream reports it as MODIFY, which the worker's filter
        // drops, so settling never runs the delivery again. Its condition (the item exists) keeps
        // a late settle of an item that expired meanwhile from creating a husk. It shares a
        // transaction with other lanes' commits when one is in flight (`group_commit`).
        let settle = match applied {
            Applied::Done { outcome } => inbox_done_write(id, outcome, at),
            Applied::Failed { error } | Applied::Deferred { reason: error } => {
                inbox_failed_write(id, error, at)
            }
        };
        match self.transact_grouped(vec![settle], None, None).await {
            Ok(()) | Err(StoreError::Conflict) => Ok(()),
            Err(other) => Err(other),
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
                let inbox = decode_inbox(item)?;
                items.push(self.with_parts(inbox, parts_of(item)).await?);
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
        let mut found = self.batch_get_grouped(wanted).await?;
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
        if item.is_none() && self.read_only {
            // An old-format group keeps its texts in its own record, not in a content item.
            return self.legacy_content(key).await;
        }
        item.map(|item| decode_doc(&item)).transpose()
    }

    async fn get_delivery(&self, id: &str) -> Result<Option<DeliveryRecord>, StoreError> {
        let item = self.get_item(Key::delivery(id)).await?;
        item.map(|item| decode_doc(&item)).transpose()
    }

    async fn commit(&self, commit: Commit) -> Result<(), StoreError> {
        let mut writes = record_writes(&commit)?;
        // The settle goes last of the state writes; its index tells its cancellation reason
        // from the others' (`group_commit`: an absent item's commit goes again without it).
        let settle = commit.settles.as_ref().map(|settle| {
            writes.push(inbox_done_write(&settle.id, &settle.outcome, settle.at));
            writes.len() - 1
        });
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
        self.transact_grouped(
            writes,
            commit.delivery.as_ref().map(|d| d.id.as_str()),
            settle,
        )
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

    async fn get_budget(
        &self,
        scope: &BudgetScope,
    ) -> Result<Option<Versioned<BudgetLedger>>, StoreError> {
        let item = self.get_item(Key::budget(scope)).await?;
        item.map(|item| decode_versioned(&item)).transpose()
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
        Ok(keyed.into_iter().flat_map(|(_, entries)| entries).collect())
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
        let mut audit = Vec::new();
        for item in &items {
            audit.extend(decode_audit(item)?);
        }
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
