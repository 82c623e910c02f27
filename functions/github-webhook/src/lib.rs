//! Lambda function: receives GitHub App webhooks (Function URL or API Gateway) and answers each
//! with what `scantix::ingest` decided. The handler is a plain function so tests call it directly
//! with real payloads; `main.rs` only wires it to the runtime.

use anyhow::Context;
use lambda_http::{Body, Request, Response};
use scantix::config::Config;
use scantix::engine::Executor;
use scantix::ingest::GithubIngest;
use scantix::secret::Secret;
use scantix::store::Store;
use scantix::store::dynamodb::DynamoStore;
use scantix::tracker::draft::DraftTracker;
use std::sync::Arc;

/// Answers one webhook request.
pub async fn handle(ingest: &GithubIngest, request: Request) -> Result<Response<Body>, lambda_http::Error> {
    let (parts, body) = request.into_parts();
    // `Body` holds the bytes exactly as sent (API Gateway's base64 already undone), which is what
    // the signature covers.
    let answer = ingest.handle(&parts.headers, body.as_ref()).await;
    let response = Response::builder()
        .status(answer.status)
        .header("content-type", "application/json")
        .body(Body::Text(answer.body.to_string()))?;
    Ok(response)
}

/// Builds the ingest from the function's environment, once per cold start:
/// `SCANTIX_TABLE` (the DynamoDB table) and `GITHUB_WEBHOOK_SECRET`.
pub async fn ingest_from_env() -> anyhow::Result<GithubIngest> {
    let table = std::env::var("SCANTIX_TABLE").context("reading SCANTIX_TABLE (the DynamoDB table name)")?;
    let secret = std::env::var("GITHUB_WEBHOOK_SECRET").context("reading GITHUB_WEBHOOK_SECRET")?;
    let aws = aws_config::load_defaults(aws_config::BehaviorVersion::latest()).await;
    let store: Arc<dyn Store> = Arc::new(DynamoStore::new(aws_sdk_dynamodb::Client::new(&aws), table));
    let tracker = Arc::new(DraftTracker::new(store.clone()));
    let executor = Executor::new(store, tracker, Config::default());
    Ok(GithubIngest::new(Secret::new(secret), Arc::new(executor)))
}
