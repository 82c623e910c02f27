//! Lambda function: receives Linear webhooks (an issue moved, removed or commented on) and makes
//! each durable in the table's inbox (see `scantix_app::ingest::receive`); the worker applies it.
//! The handler is a plain function over any `Endpoint`, so tests call it directly; `main.rs` only
//! wires it to the runtime.

use anyhow::Context;
use lambda_http::{Body, Request, Response};
use scantix_app::ingest::linear::LinearGate;
use scantix_app::ingest::{Endpoint, LinearReceiver};

/// Answers one webhook request.
pub async fn handle(
    endpoint: &dyn Endpoint,
    request: Request,
) -> Result<Response<Body>, lambda_http::Error> {
    let query = request.uri().query().map(str::to_owned);
    let (parts, body) = request.into_parts();
    let answer = endpoint
        .answer(&parts.headers, query.as_deref(), body.as_ref())
        .await;
    let response = Response::builder()
        .status(answer.status)
        .header("content-type", "application/json")
        .body(Body::Text(answer.body.to_string()))?;
    Ok(response)
}

/// Builds the receiver once per cold start: the webhook's signing secret (`LINEAR_WEBHOOK_SECRET`,
/// or its `_ARN` / `_FILE` forms) and the table (`SCANTIX_TABLE`).
pub async fn receiver_from_env() -> anyhow::Result<LinearReceiver> {
    scantix_wiring::load_secrets()
        .await
        .context("loading secrets from Secrets Manager")?;
    let secret = scantix_wiring::required_secret("LINEAR_WEBHOOK_SECRET")
        .context("the Linear webhook's signing secret")?;
    let store = scantix_wiring::store_from_env()
        .await
        .context("building the store")?;
    Ok(LinearReceiver::new(LinearGate::new(secret), store))
}
