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
