//! DynamoDB Local for tests: a fresh table per store, on the server `scripts/dynamodb-local.sh`
//! started (it exports the endpoint), so tests run in parallel without seeing each other's items.

use scantix_dynamodb::DynamoStore;
use std::sync::atomic::{AtomicU32, Ordering};

/// Where `scripts/dynamodb-local.sh` tells tests DynamoDB Local listens.
pub const ENDPOINT_VARIABLE: &str = "SCANTIX_TEST_DYNAMODB_ENDPOINT";

/// The DynamoDB Local endpoint. Panics when it is not set: a test that needs DynamoDB must fail
/// loudly rather than skip and pass.
pub fn local_endpoint() -> String {
    match std::env::var(ENDPOINT_VARIABLE) {
        Ok(endpoint) if !endpoint.is_empty() => endpoint,
        _ => panic!(
            "{ENDPOINT_VARIABLE} is not set, and this test needs DynamoDB Local. Run the tests through \
             scripts/test.sh, or wrap the command in scripts/dynamodb-local.sh, which starts DynamoDB \
             Local and sets the variable:\n    \
             scripts/dynamodb-local.sh cargo test -p scantix-tests --test store_contract"
        ),
    }
}

/// A table name no other test (in this process or another test binary) uses.
pub fn unique_table_name() -> String {
    static NEXT: AtomicU32 = AtomicU32::new(0);
    format!(
        "scantix-test-{}-{}",
        std::process::id(),
        NEXT.fetch_add(1, Ordering::Relaxed)
    )
}

/// A `DynamoStore` over a new, empty table on DynamoDB Local.
pub async fn local_store() -> DynamoStore {
    let endpoint = local_endpoint();
    let table = unique_table_name();
    let store = DynamoStore::connect_local(&endpoint, &table).await;
    if let Err(e) = store.create_table().await {
        panic!("could not create table {table} on DynamoDB Local at {endpoint}: {e}");
    }
    store
}

/// Tables written by older scantix versions, item by item as that code wrote them (see
/// tests/fixtures/legacy/README.md): for the upgrade-on-read and `scantix migrate` tests.
pub mod legacy {
    use aws_sdk_dynamodb::types::AttributeValue;
    use scantix_core::records::{AuditEntry, InstallationRecord};
    use scantix_dynamodb::DynamoStore;
    use std::collections::HashMap;

    /// A raw DynamoDB item.
    pub type Item = HashMap<String, AttributeValue>;

    /// The legacy group of five findings (fixed, reopened, recorded-only among them).
    pub const LEGACY_GROUP: &str = "337911632/code-scanning/rule:CodeQL:java/sql-injection";

    /// The old CLI's store file: the same serde types the old DynamoDB adapter wrote as `doc`.
    pub fn fixture() -> serde_json::Value {
        serde_json::from_str(include_str!("../fixtures/legacy/store.json"))
            .expect("tests/fixtures/legacy/store.json is JSON")
    }

    pub fn s(value: &str) -> AttributeValue {
        AttributeValue::S(value.into())
    }

    pub fn n(value: i64) -> AttributeValue {
        AttributeValue::N(value.to_string())
    }

    /// Writes `item` as is, with no condition.
    pub async fn put_raw(store: &DynamoStore, item: Item) {
        store
            .client()
            .put_item()
            .table_name(store.table())
            .set_item(Some(item))
            .send()
            .await
            .expect("DynamoDB Local takes the item");
    }

    /// Writes the fixture's group `key` and its members' findings as the old code did: `G#` and
    /// `F#` items, `version` and `doc`, no list or member entries. Returns the old group document
    /// and version.
    pub async fn write_group(
        store: &DynamoStore,
        fixture: &serde_json::Value,
        key: &str,
    ) -> (serde_json::Value, u64) {
        let entry = &fixture["groups"][key];
        let (doc, version) = (entry[0].clone(), entry[1].as_u64().expect("a version"));
        put_raw(
            store,
            Item::from([
                ("pk".into(), s(&format!("G#{key}"))),
                ("sk".into(), s("G")),
                ("kind".into(), s("group")),
                ("version".into(), n(version as i64)),
                ("doc".into(), s(&doc.to_string())),
            ]),
        )
        .await;
        for fingerprint in doc["members"].as_object().expect("members").keys() {
            let finding = &fixture["findings"][fingerprint];
            put_raw(
                store,
                Item::from([
                    ("pk".into(), s(&format!("F#{fingerprint}"))),
                    ("sk".into(), s("F")),
                    ("kind".into(), s("finding")),
                    ("version".into(), n(finding[1].as_i64().expect("a version"))),
                    ("doc".into(), s(&finding[0].to_string())),
                ]),
            )
            .await;
        }
        (doc, version)
    }

    /// Writes an installation as the old code did: its item only, before the list of
    /// installations existed.
    pub async fn write_installation(store: &DynamoStore, record: &InstallationRecord) {
        put_raw(
            store,
            Item::from([
                ("pk".into(), s(&format!("I#{}", record.id))),
                ("sk".into(), s("I")),
                ("kind".into(), s("installation")),
                ("version".into(), n(1)),
                (
                    "doc".into(),
                    s(&serde_json::to_string(record).expect("a record serialises")),
                ),
            ]),
        )
        .await;
    }

    /// Writes an audit entry where the old code kept them: in its group's partition.
    pub async fn write_audit_entry(store: &DynamoStore, entry: &AuditEntry) {
        let at = entry.at.to_rfc3339_opts(chrono::SecondsFormat::Nanos, true);
        put_raw(
            store,
            Item::from([
                ("pk".into(), s(&format!("G#{}", entry.group_key))),
                ("sk".into(), s(&format!("A#{at}#-#000000#00000000"))),
                ("kind".into(), s("audit")),
                (
                    "doc".into(),
                    s(&serde_json::to_string(entry).expect("an entry serialises")),
                ),
            ]),
        )
        .await;
    }
}
