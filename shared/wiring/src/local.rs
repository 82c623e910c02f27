//! The ports for runs on one machine (the `scantix` command): the embedded SQLite store, a table on
//! DynamoDB Local or a deployment's, its migration, and GitHub acting with one token.

use crate::dynamodb_table;
use scantix_core::ports::github::GitHub;
use scantix_core::ports::store::{Store, StoreError};
use scantix_core::secret::Secret;
use scantix_dynamodb::DynamoStore;
use scantix_github::rest::{RestAuth, RestGitHub, SetupError};
use scantix_sqlite::SqliteStore;
use std::path::Path;
use std::sync::Arc;

/// The file the SQLite store keeps in its directory (beside it, SQLite's `-wal` and `-shm`).
pub const SQLITE_DATABASE_FILE: &str = scantix_sqlite::DATABASE_FILE;

/// The SQLite store in `dir`, created empty on first use.
pub fn sqlite_store(dir: &Path) -> Result<Arc<dyn Store>, StoreError> {
    Ok(Arc::new(SqliteStore::open(dir)?))
}

/// A DynamoDB table as the store: a deployment's (the AWS SDK's usual settings), or `table` on
/// DynamoDB Local at `endpoint`, created there when absent (a local server starts empty).
pub async fn table_store(
    table: &str,
    endpoint: Option<&str>,
) -> Result<Arc<dyn Store>, StoreError> {
    Ok(Arc::new(open_table(table, endpoint).await?))
}

/// `scantix migrate`: brings the table to today's layout at once (see
/// `scantix_dynamodb::DynamoStore::migrate`), and says what it did.
pub async fn migrate_table(
    table_name: &str,
    endpoint: Option<&str>,
) -> Result<scantix_dynamodb::Migration, StoreError> {
    open_table(table_name, endpoint).await?.migrate().await
}

async fn open_table(table: &str, endpoint: Option<&str>) -> Result<DynamoStore, StoreError> {
    Ok(match endpoint {
        None => dynamodb_table(table.to_owned()).await,
        Some(endpoint) => {
            let store = DynamoStore::connect_local(endpoint, table).await;
            // Harmless when the table exists.
            store.create_table().await?;
            store
        }
    })
}

/// GitHub's REST API at `api_url`, acting with `token` for every repository (a personal or CI
/// token: `scantix sync`).
pub fn github_with_token(api_url: &str, token: Secret) -> Result<Arc<dyn GitHub>, SetupError> {
    Ok(Arc::new(RestGitHub::new(api_url, RestAuth::Token(token))?))
}
