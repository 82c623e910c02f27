//! Lambda function: receives Jira webhooks (a ticket moved, deleted or commented on) and answers
//! each with what `scantix::ingest::jira` decided. The handler is a plain function so tests call it
//! directly with real deliveries; `main.rs` only wires it to the runtime.

use anyhow::Context;
use lambda_http::{Body, Request, Response};
use scantix::config::Config;
use scantix::engine::Executor;
use scantix::ingest::JiraIngest;
use scantix::ingest::jira::JiraAuthenticity;
use scantix::secret::Secret;
use scantix::wiring;
use std::sync::Arc;

/// Answers one webhook request.
pub async fn handle(
    ingest: &JiraIngest,
    request: Request,
) -> Result<Response<Body>, lambda_http::Error> {
    let query = request.uri().query().map(str::to_owned);
    let (parts, body) = request.into_parts();
    let answer = ingest
        .handle(&parts.headers, query.as_deref(), body.as_ref())
        .await;
    let response = Response::builder()
        .status(answer.status)
        .header("content-type", "application/json")
        .body(Body::Text(answer.body.to_string()))?;
    Ok(response)
}

/// Builds the ingest from the function's environment (see `scantix::wiring`), plus
/// `JIRA_WEBHOOK_SECRET` (Cloud, signed deliveries) or `JIRA_WEBHOOK_TOKEN` (Data Center, a token in
/// the webhook URL).
pub async fn ingest_from_env() -> anyhow::Result<JiraIngest> {
    let authenticity = match (
        std::env::var("JIRA_WEBHOOK_SECRET"),
        std::env::var("JIRA_WEBHOOK_TOKEN"),
    ) {
        (Ok(secret), _) => JiraAuthenticity::Signature(Secret::new(secret)),
        (_, Ok(token)) => JiraAuthenticity::UrlToken(Secret::new(token)),
        _ => anyhow::bail!(
            "set JIRA_WEBHOOK_SECRET (Jira Cloud) or JIRA_WEBHOOK_TOKEN (Data Center)"
        ),
    };
    let store = wiring::store_from_env()
        .await
        .context("building the store")?;
    let tracker = wiring::tracker_from_env(store.clone()).context("building the tracker")?;
    let mut executor = Executor::new(store, tracker, Config::default());
    if let Some(clients) =
        wiring::github_clients_from_env().context("building the GitHub App clients")?
    {
        executor = executor.with_github_clients(clients);
    }
    Ok(JiraIngest::new(authenticity, Arc::new(executor)))
}
