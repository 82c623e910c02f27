//! Lambda function: receives the deliveries scantix's ServiceNow business rule posts (a record
//! moved, commented on or deleted; `infra/servicenow/`) and makes each durable in the table's
//! inbox (see `scantix_app::ingest::servicenow`); the worker applies it. The handler is a plain
//! function over any `Endpoint`, so tests call it directly; `main.rs` only wires it to the
//! runtime.

use anyhow::Context;
use lambda_http::{Body, Request, Response};
use scantix_app::ingest::Endpoint;
use scantix_app::ingest::servicenow::{ServiceNowGate, ServiceNowReceiver};

/// Answers one request.
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

/// Builds the receiver once per cold start: the shared secret (`SERVICENOW_WEBHOOK_SECRET`, or its
/// `_ARN` / `_FILE` forms), what the table's states mean (`SERVICENOW_SETTINGS`' `states`, so that
/// a change scantix does not act on is answered "ignored" here) and the table (`SCANTIX_TABLE`).
pub async fn receiver_from_env() -> anyhow::Result<ServiceNowReceiver> {
    scantix_wiring::load_secrets()
        .await
        .context("loading secrets from Secrets Manager")?;
    let secret = scantix_wiring::required_secret("SERVICENOW_WEBHOOK_SECRET")?;
    let states = scantix_wiring::servicenow_states_from_env()?;
    let store = scantix_wiring::store_from_env()
        .await
        .context("building the store")?;
    Ok(ServiceNowReceiver::new(
        ServiceNowGate::new(secret),
        states,
        store,
    ))
}
