//! The requests under the port's methods: one `GetItem`, `BatchGetItem` in chunks with its
//! unprocessed keys, a `Query` page, one `TransactWriteItems` (its cancellation reasons read), and
//! the writes a commit turns into.

use super::*;

impl DynamoStore {
    /// Reads one item with a strongly consistent read: after a `Conflict` the engine re-reads and
    /// must see the write it lost to, or it would decide on the same stale state again.
    pub(super) async fn get_item(&self, key: Key) -> Result<Option<Item>, StoreError> {
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
    pub(super) async fn batch_get(&self, keys: Vec<Key>) -> Result<HashMap<Key, Item>, StoreError> {
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
    pub(super) async fn query_page(
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
    pub(super) async fn audit_partition(
        &self,
        pk: &str,
    ) -> Result<Vec<(String, Vec<AuditEntry>)>, StoreError> {
        let mut entries = Vec::new();
        let mut after: Option<String> = None;
        loop {
            let (items, more) = self
                .query_page(pk, SortBound::Prefix(AUDIT_PREFIX), after.as_deref(), 1000)
                .await?;
            after = items.last().and_then(|i| text(i, SK)).map(str::to_owned);
            for item in &items {
                let sort_key = text(item, SK).unwrap_or_default().to_owned();
                entries.push((sort_key, decode_audit(item)?));
            }
            if !more {
                return Ok(entries);
            }
        }
    }

    /// Writes `writes` in one transaction (or one request, for a single put). Counts their bytes.
    pub(super) async fn transact(
        &self,
        writes: Vec<Write>,
        delivery: Option<&str>,
    ) -> Result<(), StoreError> {
        if writes.is_empty() {
            return Ok(());
        }
        let bytes: usize = writes.iter().map(Write::size).sum();
        let single = matches!(
            writes.as_slice(),
            [Write::Put { .. } | Write::Update { .. }]
        );
        let mut writes = writes;
        if single
            && let Some(Write::Update {
                key,
                expression,
                names,
                values,
            }) = writes.pop_if(|w| matches!(w, Write::Update { .. }))
        {
            self.client
                .update_item()
                .table_name(&self.table)
                .set_key(Some(key.into_item()))
                .update_expression(expression)
                .condition_expression(Write::UPDATE_CONDITION)
                .set_expression_attribute_names(Some(names))
                .set_expression_attribute_values(Some(values))
                .send()
                .await
                .map_err(|e| store_error("UpdateItem", e))?;
        } else if single && let Some(Write::Put { item, condition }) = writes.pop() {
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
    pub(super) async fn put_after(&self, writes: Vec<Write>) -> Result<(), StoreError> {
        let mut writes = writes;
        while !writes.is_empty() {
            let rest = writes.split_off(writes.len().min(100));
            self.transact(writes, None).await?;
            writes = rest;
        }
        Ok(())
    }

    /// A group item as today's record, upgrading one written by the old code on the way.
    pub(super) async fn group_from(
        &self,
        item: &Item,
    ) -> Result<Versioned<GroupRecord>, StoreError> {
        if scantix_core::records::legacy::is_legacy_group(&doc_value(item)?) {
            if self.read_only {
                return self.legacy_view(item).await.map(|(group, _)| group);
            }
            return self.upgrade_group(item).await;
        }
        decode_versioned(item)
    }

    /// Reads the records that `entries` (member, list or day entries) point at, in entry order.
    pub(super) async fn targets(
        &self,
        entries: &[Item],
        target: Target,
    ) -> Result<Vec<Item>, StoreError> {
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
    pub(super) async fn list_page(
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

/// What an index entry points at.
#[derive(Clone, Copy)]
pub(super) enum Target {
    /// A list entry names a group by key.
    Group,
    /// Member and day entries name their item.
    Item,
}

impl Target {
    pub(super) fn key_of(self, entry: &Item) -> Option<Key> {
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
pub(super) fn record_writes(commit: &Commit) -> Result<Vec<Write>, StoreError> {
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
    for ledger in &commit.budgets {
        let key = Key::budget(&ledger.value.scope);
        writes.push(versioned_write(key, KIND_BUDGET, ledger)?.0);
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

/// The audit items of a commit and their day entries: one item per run of entries about one
/// group at one instant (a commit's entries share its time, so usually one item per group), so
/// that the day index, which orders items by time, still orders entries by time.
pub(super) fn audit_writes(audit: &[AuditEntry]) -> Result<Vec<Write>, StoreError> {
    let mut writes = Vec::new();
    let mut start = 0;
    while start < audit.len() {
        let first = &audit[start];
        let run = audit[start..]
            .iter()
            .take_while(|e| e.group_key == first.group_key && e.at == first.at)
            .count();
        let (write, key) = audit_write(&audit[start..start + run], start)?;
        writes.push(write);
        writes.push(day_entry(first, &key));
        start += run;
    }
    Ok(writes)
}
