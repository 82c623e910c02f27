//! The lists of `scantix_core::ports::store::lists` as small index items, kept in the same
//! transaction as the records they name, so a list read is as consistent as a key read (a global
//! secondary index would lag its table), and an existing table needs no schema change to have them.
//!
//! | entry | `pk` | `sk` | other attributes |
//! |---|---|---|---|
//! | group in a list | `L#<list id>` (`#<shard>` for shared lists) | the list's sort key | `kind=list`, `group_key` |
//! | finding in its group | `M#<group key>` | the finding's rank | `kind=member`, `target_pk`, `target_sk` |
//! | audit entry of a day | `AD#<yyyy-mm-dd>` | time, group and the entry's own `sk` | `kind=day`, `target_pk`, `target_sk` |
//!
//! Lists any group may join (`Due`, `Queued`, `State`) are spread over `SHARDS` partitions by a
//! digest of the group key, so no single partition takes every change; a read takes the next
//! entries of every shard, merged by sort key. `Home` lists are one partition per repository.

use super::items::{
    GROUP, Item, KIND, KIND_DAY, KIND_LIST, KIND_MEMBER, Key, TARGET_PK, TARGET_SK, Write,
};
use aws_sdk_dynamodb::types::AttributeValue;
use scantix_core::ports::store::lists::{List, audit_sort_key, group_lists};
use scantix_core::records::{AuditEntry, FindingRecord, GroupRecord};
use sha2::{Digest, Sha256};
use std::collections::BTreeMap;

/// Partitions of each shared list.
pub(super) const SHARDS: u8 = 4;

/// The partition key of `list`'s entries in shard `shard` (ignored for unsharded lists).
pub(super) fn list_pk(list: &List, shard: u8) -> String {
    match list.is_sharded() {
        true => format!("L#{}#{shard}", list.id()),
        false => format!("L#{}", list.id()),
    }
}

/// Which shard a group's entries go to.
fn shard_of(group: &GroupRecord) -> u8 {
    Sha256::digest(group.key.as_str().as_bytes())[0] % SHARDS
}

/// Every list entry of `group`, by key.
pub(super) fn group_entries(group: &GroupRecord) -> BTreeMap<Key, Item> {
    group_lists(group)
        .into_iter()
        .map(|(list, sort)| {
            let key = Key {
                pk: list_pk(&list, shard_of(group)),
                sk: sort,
            };
            let mut item = key.clone().into_item();
            item.insert(KIND.into(), AttributeValue::S(KIND_LIST.into()));
            item.insert(GROUP.into(), AttributeValue::S(group.key.as_str().into()));
            (key, item)
        })
        .collect()
}

/// The member entry of `finding` in its group.
pub(super) fn member_entry(finding: &FindingRecord) -> (Key, Item) {
    let key = member_key(finding);
    let target = Key::finding(&finding.fingerprint);
    let mut item = key.clone().into_item();
    item.insert(KIND.into(), AttributeValue::S(KIND_MEMBER.into()));
    item.insert(TARGET_PK.into(), AttributeValue::S(target.pk));
    item.insert(TARGET_SK.into(), AttributeValue::S(target.sk));
    (key, item)
}

fn member_key(finding: &FindingRecord) -> Key {
    Key {
        pk: members_pk(&finding.group_key),
        sk: finding.rank(),
    }
}

/// The partition of a group's member entries.
pub(super) fn members_pk(group: &scantix_core::identity::GroupKey) -> String {
    format!("M#{group}")
}

/// The day entry of an audit entry written at `audit`.
pub(super) fn day_entry(entry: &AuditEntry, audit: &Key) -> Write {
    let key = Key {
        pk: day_pk(entry.at.date_naive()),
        sk: format!("{}#{}", audit_sort_key(entry), audit.sk),
    };
    let mut item = key.into_item();
    item.insert(KIND.into(), AttributeValue::S(KIND_DAY.into()));
    item.insert(TARGET_PK.into(), AttributeValue::S(audit.pk.clone()));
    item.insert(TARGET_SK.into(), AttributeValue::S(audit.sk.clone()));
    Write::put(item)
}

pub(super) fn day_pk(day: chrono::NaiveDate) -> String {
    format!("AD#{}", day.format("%Y-%m-%d"))
}

/// The writes that move entries from `old` to `new`: deletes of entries no longer wanted, puts of
/// new ones; entries in both stay untouched.
pub(super) fn diff(old: &BTreeMap<Key, Item>, new: &BTreeMap<Key, Item>) -> Vec<Write> {
    let deletes = old
        .keys()
        .filter(|key| !new.contains_key(*key))
        .map(|key| Write::Delete { key: key.clone() });
    let puts = new
        .iter()
        .filter(|(key, _)| !old.contains_key(*key))
        .map(|(_, item)| Write::put(item.clone()));
    deletes.chain(puts).collect()
}

/// The writes that keep a finding's member entry right when it goes from `old` to `new`.
pub(super) fn member_diff(old: Option<&FindingRecord>, new: &FindingRecord) -> Vec<Write> {
    let old: BTreeMap<Key, Item> = old.map(member_entry).into_iter().collect();
    let new: BTreeMap<Key, Item> = [member_entry(new)].into_iter().collect();
    diff(&old, &new)
}

/// The writes that keep a group's list entries right when it goes from `old` to `new`.
pub(super) fn group_diff(old: Option<&GroupRecord>, new: &GroupRecord) -> Vec<Write> {
    let old = old.map(group_entries).unwrap_or_default();
    diff(&old, &group_entries(new))
}
