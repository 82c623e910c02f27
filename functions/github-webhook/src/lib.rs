//! Lambda function: receives GitHub App webhooks (Function URL or API Gateway) and answers each
//! with what `scantix::ingest` decided. The handler is a plain function so tests call it directly
//! with real payloads; `main.rs` only wires it to the runtime.

use anyhow::Context;
use lambda_http::{Body, Request, Response};
use scantix::config::Config;
use scantix::engine::Executor;
use scantix::ingest::GithubIngest;
use scantix::repo_settings::{SettingsCache, SettingsSource};
use scantix::secret::Secret;
use scantix::wiring;
use std::sync::Arc;

/// Answers one webhook request.
pub async fn handle(
    ingest: &GithubIngest,
    request: Request,
) -> Result<Response<Body>, lambda_http::Error> {
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

/// Builds the ingest from the function's environment, once per cold start: the store and tracker
/// as `scantix::wiring` reads them, and `GITHUB_WEBHOOK_SECRET`.
pub async fn ingest_from_env() -> anyhow::Result<GithubIngest> {
    let secret = std::env::var("GITHUB_WEBHOOK_SECRET").context("reading GITHUB_WEBHOOK_SECRET")?;
    let store = wiring::store_from_env()
        .await
        .context("building the store")?;
    let tracker = wiring::tracker_from_env(store.clone()).context("building the tracker")?;
    let clients = wiring::github_clients_from_env().context("building the GitHub App clients")?;
    let mut executor = Executor::new(store, tracker, Config::default());
    if let Some(clients) = &clients {
        executor = executor.with_github_clients(clients.clone());
    }
    let mut ingest = GithubIngest::new(Secret::new(secret), Arc::new(executor));
    // With the App configured, each repository's own settings apply (read through GitHub,
    // cached five minutes per warm instance).
    if let Some(clients) = clients {
        let cache = SettingsCache::new(std::time::Duration::from_secs(300));
        ingest = ingest.with_settings(SettingsSource { clients, cache });
    }
    Ok(ingest)
}
