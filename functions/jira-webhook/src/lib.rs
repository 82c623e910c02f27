//! Lambda function: receives Jira webhooks (a ticket moved, deleted or commented on) and makes each
//! durable in the table's inbox (see `scantix_app::ingest::receive`); the worker applies it. The
//! handler is a plain function over any `Endpoint`, so tests call it directly with real deliveries;
//! `main.rs` only wires it to the runtime.

use anyhow::Context;
use lambda_http::{Body, Request, Response};
use scantix_app::ingest::jira::{JiraAuthenticity, JiraGate};
use scantix_app::ingest::{Endpoint, JiraReceiver};
use scantix_core::ticket::destination::Flavor;

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

/// How this deployment's Jira proves its deliveries: `JIRA_WEBHOOK_SECRET` (Cloud: the body is
/// signed) or `JIRA_WEBHOOK_TOKEN` (Data Center: a token in the webhook URL). The SAM template
/// passes one secret, `JIRA_WEBHOOK_SECRET_ARN`, and `JIRA_FLAVOR` says which it is.
pub fn authenticity_from_env() -> anyhow::Result<JiraAuthenticity> {
    let data_center = scantix_wiring::jira_flavor()? == Flavor::DataCenter;
    if let Some(token) = scantix_wiring::secret("JIRA_WEBHOOK_TOKEN")? {
        return Ok(JiraAuthenticity::UrlToken(token));
    }
    match scantix_wiring::secret("JIRA_WEBHOOK_SECRET")? {
        Some(secret) if data_center => Ok(JiraAuthenticity::UrlToken(secret)),
        Some(secret) => Ok(JiraAuthenticity::Signature(secret)),
        None => anyhow::bail!(
            "set JIRA_WEBHOOK_SECRET (Jira Cloud) or JIRA_WEBHOOK_TOKEN (Data Center), or their _ARN / _FILE forms"
        ),
    }
}

/// Builds the receiver once per cold start: the webhook secret and the table (`SCANTIX_TABLE`).
pub async fn receiver_from_env() -> anyhow::Result<JiraReceiver> {
    scantix_wiring::load_secrets()
        .await
        .context("loading secrets from Secrets Manager")?;
    let authenticity = authenticity_from_env()?;
    let store = scantix_wiring::store_from_env()
        .await
        .context("building the store")?;
    Ok(JiraReceiver::new(JiraGate::new(authenticity), store))
}
