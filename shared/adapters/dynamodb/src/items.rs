//! How records become DynamoDB items: keys, the JSON `doc`, conditions, and the puts and deletes
//! a write is made of (one request alone, or one action of a transaction).

use super::errors::build_error;
use aws_sdk_dynamodb::types::{AttributeValue, Delete, Put, TransactWriteItem, Update};
use chrono::SecondsFormat;
use scantix_core::identity::{Fingerprint, GroupKey};
use scantix_core::ports::store::{Guarded, StoreError};
use scantix_core::records::budget::BudgetScope;
use scantix_core::records::{AuditEntry, DeliveryRecord, Versioned};
use serde::Serialize;
use serde::de::DeserializeOwned;
use sha2::{Digest, Sha256};
use std::collections::HashMap;

/// One DynamoDB item as the SDK hands it over.
pub(super) type Item = HashMap<String, AttributeValue>;
/// Expression placeholders: `#name` → attribute name, `:value` → value.
type Names = HashMap<String, String>;
type Values = HashMap<String, AttributeValue>;

pub(super) const PK: &str = "pk";
pub(super) const SK: &str = "sk";
pub(super) const KIND: &str = "kind";
pub(super) const DOC: &str = "doc";
pub(super) const VERSION: &str = "version";
/// The attribute the table's TTL setting names (a reserved word: in an expression it must be `#ttl`).
pub(super) const TTL: &str = "ttl";
/// A ticket link's group, and a list entry's group.
pub(super) const GROUP: &str = "group_key";
/// A member or day entry's target item.
pub(super) const TARGET_PK: &str = "target_pk";
pub(super) const TARGET_SK: &str = "target_sk";

/// Values of the `kind` attribute.
pub(super) const KIND_FINDING: &str = "finding";
pub(super) const KIND_GROUP: &str = "group";
pub(super) const KIND_CONTENT: &str = "content";
pub(super) const KIND_AUDIT: &str = "audit";
pub(super) const KIND_DELIVERY: &str = "delivery";
pub(super) const KIND_TICKET: &str = "ticket";
pub(super) const KIND_INSTALLATION: &str = "installation";
pub(super) const KIND_INBOX: &str = "inbox";
pub(super) const KIND_PULL_REQUEST: &str = "pull_request";
pub(super) const KIND_LIST: &str = "list";
pub(super) const KIND_MEMBER: &str = "member";
pub(super) const KIND_DAY: &str = "day";
pub(super) const KIND_BUDGET: &str = "budget";

/// Sort-key prefix of audit entries within a group's partition.
pub(super) const AUDIT_PREFIX: &str = "A#";
/// Partition-key prefix of audit logs (`A#<group key>`). Tables written before audit entries had
/// their own partition keep older entries in the group's partition (`G#<group key>`, same sort
/// keys); the log reads both.
pub(super) const AUDIT_PARTITION_PREFIX: &str = "A#";

/// The primary key of one item.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub(super) struct Key {
    pub pk: String,
    pub sk: String,
}

impl Key {
    pub fn finding(fingerprint: &Fingerprint) -> Key {
        Key {
            pk: format!("F#{fingerprint}"),
            sk: "F".into(),
        }
    }

    pub fn group(key: &GroupKey) -> Key {
        Key {
            pk: format!("G#{key}"),
            sk: "G".into(),
        }
    }

    /// A group's long texts, beside the group in its partition.
    pub fn content(key: &GroupKey) -> Key {
        Key {
            pk: format!("G#{key}"),
            sk: "C".into(),
        }
    }

    pub fn audit(entry: &AuditEntry, n: usize, doc: &str) -> Key {
        let at = entry.at.to_rfc3339_opts(SecondsFormat::Nanos, true);
        let delivery = entry.delivery.as_deref().unwrap_or("-");
        let digest = Sha256::digest(doc.as_bytes());
        let digest = hex::encode(&digest[..4]);
        Key {
            pk: Key::audit_partition(&entry.group_key),
            sk: format!("{AUDIT_PREFIX}{at}#{delivery}#{n:06}#{digest}"),
        }
    }

    /// The partition of a group's audit log. Its own partition, not the group's: IAM conditions
    /// (`dynamodb:LeadingKeys`) see only partition keys, so this prefix is what lets the
    /// template deny every function `UpdateItem` and `DeleteItem` on audit entries.
    pub fn audit_partition(key: &GroupKey) -> String {
        format!("{AUDIT_PARTITION_PREFIX}{key}")
    }

    pub fn delivery(id: &str) -> Key {
        Key {
            pk: format!("D#{id}"),
            sk: "D".into(),
        }
    }

    pub fn ticket(tracker: &str, ticket_key: &str) -> Key {
        Key {
            pk: format!("T#{tracker}#{ticket_key}"),
            sk: "T".into(),
        }
    }

    pub fn installation(id: u64) -> Key {
        Key {
            pk: format!("I#{id}"),
            sk: "I".into(),
        }
    }

    pub fn inbox(id: &str) -> Key {
        Key {
            pk: format!("IN#{id}"),
            sk: "IN".into(),
        }
    }

    /// A scope's ticket budget: `B#repo#<id>` or `B#owner#<owner>`.
    pub fn budget(scope: &BudgetScope) -> Key {
        Key {
            pk: format!("B#{}", scope.id()),
            sk: "B".into(),
        }
    }

    pub fn pull_request(repository_id: u64, number: u64) -> Key {
        Key {
            pk: format!("P#{repository_id}#{number}"),
            sk: "P".into(),
        }
    }

    pub fn into_item(self) -> Item {
        HashMap::from([
            (PK.to_string(), AttributeValue::S(self.pk)),
            (SK.to_string(), AttributeValue::S(self.sk)),
        ])
    }

    /// The key of `item`, when it has one.
    pub fn of(item: &Item) -> Option<Key> {
        match (item.get(PK), item.get(SK)) {
            (Some(AttributeValue::S(pk)), Some(AttributeValue::S(sk))) => Some(Key {
                pk: pk.clone(),
                sk: sk.clone(),
            }),
            _ => None,
        }
    }
}

/// A condition with the names and values its expression uses. Names are always placeholders:
/// `ttl` and many other short words are DynamoDB reserved words.
#[derive(Debug, Clone)]
pub(super) struct Condition {
    expression: &'static str,
    names: Names,
    values: Option<Values>,
}

impl Condition {
    /// Only if no item has this key yet.
    pub fn absent() -> Condition {
        Condition {
            expression: "attribute_not_exists(#pk)",
            names: HashMap::from([("#pk".into(), PK.into())]),
            values: None,
        }
    }

    /// Only if the item is at `version` (which implies it exists).
    pub fn at_version(version: u64) -> Condition {
        Condition {
            expression: "#version = :expected",
            names: HashMap::from([("#version".into(), VERSION.into())]),
            values: Some(HashMap::from([(":expected".into(), number(version))])),
        }
    }

    /// The pieces as the SDK's `set_*` methods take them.
    pub fn into_parts(self) -> (Option<Names>, Option<Values>, Option<String>) {
        (
            Some(self.names),
            self.values,
            Some(self.expression.to_string()),
        )
    }
}

/// One put or delete, usable alone or as an action of a transaction.
#[derive(Debug, Clone)]
pub(super) enum Write {
    Put {
        item: Item,
        condition: Option<Condition>,
    },
    Delete {
        key: Key,
    },
    /// Writes `item`'s `doc` (and `kind`) only where the item has none yet: a write that never
    /// replaces and never fails (an `Update` with `if_not_exists`), for records written once.
    Keep {
        item: Item,
    },
    /// Changes some attributes of an item that exists (`expression`: `SET`, `REMOVE`, `ADD`),
    /// and nothing where it does not: how an inbox item is settled. An update, not a put, so the
    /// table's stream reports it as `MODIFY`. `names` must map `#pk` (the condition's).
    Update {
        key: Key,
        expression: String,
        names: Names,
        values: Values,
    },
}

impl Write {
    /// An `Update`'s condition: the item exists.
    pub const UPDATE_CONDITION: &str = "attribute_exists(#pk)";

    pub fn put(item: Item) -> Write {
        Write::Put {
            item,
            condition: None,
        }
    }

    /// The item written (or deleted).
    pub fn key(&self) -> Option<Key> {
        match self {
            Write::Put { item, .. } | Write::Keep { item } => Key::of(item),
            Write::Delete { key } | Write::Update { key, .. } => Some(key.clone()),
        }
    }

    /// The bytes DynamoDB counts for the write (attribute names and values), the basis of its
    /// write capacity; a delete counts its key.
    pub fn size(&self) -> usize {
        match self {
            Write::Put { item, .. } | Write::Keep { item } => item_size(item),
            Write::Delete { key } => key.pk.len() + key.sk.len() + PK.len() + SK.len(),
            Write::Update { key, values, .. } => {
                key.pk.len() + key.sk.len() + PK.len() + SK.len() + item_size(values)
            }
        }
    }

    pub fn into_transact_item(self, table: &str) -> Result<TransactWriteItem, StoreError> {
        match self {
            Write::Put { item, condition } => {
                let (names, values, expression) =
                    condition.map(Condition::into_parts).unwrap_or_default();
                let put = Put::builder()
                    .table_name(table)
                    .set_item(Some(item))
                    .set_condition_expression(expression)
                    .set_expression_attribute_names(names)
                    .set_expression_attribute_values(values)
                    .build()
                    .map_err(build_error)?;
                Ok(TransactWriteItem::builder().put(put).build())
            }
            Write::Keep { item } => {
                let key = Key::of(&item)
                    .ok_or_else(|| StoreError::Corrupt("an item to keep has no key".into()))?;
                let (kind, doc) = (item.get(KIND).cloned(), item.get(DOC).cloned());
                let update = Update::builder()
                    .table_name(table)
                    .set_key(Some(key.into_item()))
                    .update_expression("SET #kind = :kind, #doc = if_not_exists(#doc, :doc)")
                    .expression_attribute_names("#kind", KIND)
                    .expression_attribute_names("#doc", DOC)
                    .set_expression_attribute_values(Some(HashMap::from([
                        (
                            ":kind".to_string(),
                            kind.unwrap_or(AttributeValue::Null(true)),
                        ),
                        (
                            ":doc".to_string(),
                            doc.unwrap_or(AttributeValue::Null(true)),
                        ),
                    ])))
                    .build()
                    .map_err(build_error)?;
                Ok(TransactWriteItem::builder().update(update).build())
            }
            Write::Update {
                key,
                expression,
                names,
                values,
            } => {
                let update = Update::builder()
                    .table_name(table)
                    .set_key(Some(key.into_item()))
                    .update_expression(expression)
                    .condition_expression(Write::UPDATE_CONDITION)
                    .set_expression_attribute_names(Some(names))
                    .set_expression_attribute_values(Some(values))
                    .build()
                    .map_err(build_error)?;
                Ok(TransactWriteItem::builder().update(update).build())
            }
            Write::Delete { key } => {
                let delete = Delete::builder()
                    .table_name(table)
                    .set_key(Some(key.into_item()))
                    .build()
                    .map_err(build_error)?;
                Ok(TransactWriteItem::builder().delete(delete).build())
            }
        }
    }
}

/// DynamoDB's size of an item: the UTF-8 length of every attribute name and value (numbers
/// counted as their text, which is close enough for a figure).
pub(super) fn item_size(item: &Item) -> usize {
    item.iter()
        .map(|(name, value)| {
            name.len()
                + match value {
                    AttributeValue::S(s) | AttributeValue::N(s) => s.len(),
                    AttributeValue::B(b) => b.as_ref().len(),
                    _ => 8,
                }
        })
        .sum()
}

/// The put of a versioned record under its guard, and the version it will have once written.
pub(super) fn versioned_write<T: Serialize>(
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
        Write::Put {
            item,
            condition: Some(condition),
        },
        version,
    ))
}

/// The delivery record, written only if its id was never seen; `ttl` lets DynamoDB expire it.
pub(super) fn delivery_write(delivery: &DeliveryRecord) -> Result<Write, StoreError> {
    let mut item = document_item(Key::delivery(&delivery.id), KIND_DELIVERY, delivery)?;
    // DynamoDB TTL wants epoch seconds in a Number attribute; anything else is silently ignored.
    item.insert(
        TTL.into(),
        AttributeValue::N(delivery.expires_at.timestamp().to_string()),
    );
    Ok(Write::Put {
        item,
        condition: Some(Condition::absent()),
    })
}

/// One audit item for `entries`, consecutive entries of one commit about one group at one instant
/// (`n` is the first one's place in the commit), and its key. The item holds them all, in order,
/// as a JSON array: one item per commit and group rather than one per entry, since each item
/// costs its keys again (and a day entry of its own). No condition: its key is derived from its
/// content (see the module docs), so a put can only rewrite identical bytes.
pub(super) fn audit_write(entries: &[AuditEntry], n: usize) -> Result<(Write, Key), StoreError> {
    let Some(first) = entries.first() else {
        return Err(StoreError::Corrupt("an audit item without entries".into()));
    };
    let doc = encode(&entries)?;
    let key = Key::audit(first, n, &doc);
    let mut item = key.clone().into_item();
    item.insert(KIND.into(), AttributeValue::S(KIND_AUDIT.into()));
    item.insert(DOC.into(), AttributeValue::S(doc));
    Ok((Write::put(item), key))
}

/// The entries of an audit item: an array (one per commit and group), or one entry as items
/// written before audit entries were batched hold it.
pub(super) fn decode_audit(item: &Item) -> Result<Vec<AuditEntry>, StoreError> {
    #[derive(serde::Deserialize)]
    #[serde(untagged)]
    enum Stored {
        Many(Vec<AuditEntry>),
        One(Box<AuditEntry>),
    }
    Ok(match decode_doc::<Stored>(item)? {
        Stored::Many(entries) => entries,
        Stored::One(entry) => vec![*entry],
    })
}

/// An item as the table's stream carries it to Lambda (`NewImage`: DynamoDB JSON, each value
/// typed, `{"S": "…"}`), read back into the SDK's shape. Strings, numbers and binaries (base64)
/// are what scantix writes; other types are left out.
pub(super) fn item_from_stream_image(image: &serde_json::Value) -> Result<Item, StoreError> {
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
            _ => continue,
        };
        item.insert(name.clone(), value);
    }
    Ok(item)
}

/// Key + `kind` + the record as JSON in `doc`.
pub(super) fn document_item<T: Serialize>(
    key: Key,
    kind: &str,
    record: &T,
) -> Result<Item, StoreError> {
    let mut item = key.into_item();
    item.insert(KIND.into(), AttributeValue::S(kind.into()));
    item.insert(DOC.into(), AttributeValue::S(encode(record)?));
    Ok(item)
}

pub(super) fn encode<T: Serialize>(record: &T) -> Result<String, StoreError> {
    serde_json::to_string(record)
        .map_err(|e| StoreError::Corrupt(format!("a record could not be encoded: {e}")))
}

pub(super) fn number(n: u64) -> AttributeValue {
    AttributeValue::N(n.to_string())
}

/// The string attribute `name` of `item`.
pub(super) fn text<'a>(item: &'a Item, name: &str) -> Option<&'a str> {
    match item.get(name) {
        Some(AttributeValue::S(s)) => Some(s.as_str()),
        _ => None,
    }
}

/// The raw JSON in an item's `doc`.
pub(super) fn doc_value(item: &Item) -> Result<serde_json::Value, StoreError> {
    let doc = text(item, DOC)
        .ok_or_else(|| StoreError::Corrupt(format!("{}: no string `{DOC}`", describe(item))))?;
    serde_json::from_str(doc).map_err(|e| StoreError::Corrupt(format!("{}: {e}", describe(item))))
}

/// The record in an item's `doc`.
pub(super) fn decode_doc<T: DeserializeOwned>(item: &Item) -> Result<T, StoreError> {
    let doc = text(item, DOC)
        .ok_or_else(|| StoreError::Corrupt(format!("{}: no string `{DOC}`", describe(item))))?;
    serde_json::from_str(doc).map_err(|e| StoreError::Corrupt(format!("{}: {e}", describe(item))))
}

/// The item's `version`.
pub(super) fn version_of(item: &Item) -> Result<u64, StoreError> {
    match item.get(VERSION) {
        Some(AttributeValue::N(n)) => n.parse::<u64>().ok(),
        _ => None,
    }
    .ok_or_else(|| StoreError::Corrupt(format!("{}: no numeric `{VERSION}`", describe(item))))
}

/// The record in an item's `doc`, with the item's `version`.
pub(super) fn decode_versioned<T: DeserializeOwned>(
    item: &Item,
) -> Result<Versioned<T>, StoreError> {
    Ok(Versioned {
        value: decode_doc(item)?,
        version: version_of(item)?,
    })
}

/// `pk/sk` of an item, to say which one is unreadable.
pub(super) fn describe(item: &Item) -> String {
    format!(
        "item {}/{}",
        text(item, PK).unwrap_or("?"),
        text(item, SK).unwrap_or("?")
    )
}

#[cfg(test)]
mod tests {
    use super::*;
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
            state: None,
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

    #[test]
    fn an_audit_item_holds_its_entries_in_order_and_old_single_entries_still_read() {
        let entry = |action: &str| AuditEntry {
            at: "2025-03-01T12:00:00Z".parse().unwrap(),
            group_key: GroupKey::from_stored("1/code-scanning/rule:CodeQL:js/xss"),
            fingerprint: None,
            actor: "scantix".into(),
            action: action.into(),
            reason: String::new(),
            delivery: Some("github:abc".into()),
            ticket: None,
            state: None,
        };
        let entries = vec![entry("finding.opened"), entry("group.joined")];
        let (Write::Put { item, .. }, _) = audit_write(&entries, 0).unwrap() else {
            panic!("an audit item is a put");
        };
        assert_eq!(decode_audit(&item).unwrap(), entries);

        let mut old = item.clone();
        old.insert(DOC.into(), AttributeValue::S(encode(&entries[0]).unwrap()));
        assert_eq!(decode_audit(&old).unwrap(), vec![entries[0].clone()]);
        assert!(audit_write(&[], 0).is_err());
    }
}
