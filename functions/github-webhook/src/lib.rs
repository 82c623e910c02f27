//! Lambda function: receives GitHub App webhooks (Function URL) and makes each durable in the
//! table's inbox (see `scantix_app::ingest::receive`); the worker applies it. The handler is a
//! plain function over any `Endpoint`, so tests call it directly with real payloads, against the
//! receiver or against the synchronous ingest; `main.rs` only wires it to the runtime.

use anyhow::Context;
use lambda_http::{Body, Request, Response};
use scantix_app::ingest::Endpoint;
use scantix_app::ingest::GithubReceiver;
use scantix_app::ingest::github::GithubGate;

/// Answers one webhook request.
pub async fn handle(
    endpoint: &dyn Endpoint,
    request: Request,
) -> Result<Response<Body>, lambda_http::Error> {
    let query = request.uri().query().map(str::to_owned);
    let (parts, body) = request.into_parts();
    // `Body` holds the bytes exactly as sent (a Function URL's base64 already undone), which is
    // what the signature covers.
    let answer = endpoint
        .answer(&parts.headers, query.as_deref(), body.as_ref())
        .await;
    let response = Response::builder()
        .status(answer.status)
        .header("content-type", "application/json")
        .body(Body::Text(answer.body.to_string()))?;
    Ok(response)
}

/// Builds the receiver once per cold start: the webhook secret (`GITHUB_WEBHOOK_SECRET`, or
/// `…_ARN` / `…_FILE`, see `scantix_wiring`) and the table (`SCANTIX_TABLE`). Nothing else: this
/// function verifies and stores, it never calls GitHub or a tracker.
pub async fn receiver_from_env() -> anyhow::Result<GithubReceiver> {
    scantix_wiring::load_secrets()
        .await
        .context("loading secrets from Secrets Manager")?;
    let secret = scantix_wiring::required_secret("GITHUB_WEBHOOK_SECRET")?;
    let store = scantix_wiring::store_from_env()
        .await
        .context("building the store")?;
    Ok(GithubReceiver::new(GithubGate::new(secret), store))
}
