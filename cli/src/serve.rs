//! `scantix serve`: a local HTTP endpoint GitHub or Jira (through a tunnel) or `curl` can deliver
//! webhooks to. Each request goes to `GithubIngest::handle` (or `JiraIngest::handle`,
//! `LinearIngest::handle`) with its
//! headers and raw body, exactly as the Lambda functions do; each event is committed to the store
//! before its answer goes back. Every answer is JSON, the server's own refusals included (a body
//! over the limit, an unknown path, a wrong method), as the Lambda functions answer.

use crate::local::{
    JIRA_SECRET_ENV, LINEAR_SECRET_ENV, LocalApp, SECRET_ENV, SERVICENOW_SECRET_ENV,
};
use anyhow::Context;
use axum::Router;
use axum::body::Bytes;
use axum::extract::rejection::BytesRejection;
use axum::extract::{DefaultBodyLimit, RawQuery, State};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use clap::Args;
use http::{HeaderMap, StatusCode, header};
use scantix_app::ingest::{Answer, DEFAULT_MAX_BODY};
use std::net::SocketAddr;
use std::sync::Arc;

/// Arguments of `scantix serve`.
#[derive(Debug, Args)]
pub struct ServeArgs {
    /// Address to listen on (port 0 picks a free port; the address is printed on stdout).
    #[arg(long, value_name = "IP:PORT", default_value = "127.0.0.1:3000")]
    addr: SocketAddr,
}

/// Serves until Ctrl-C (or SIGTERM).
pub async fn run(app: LocalApp, args: ServeArgs) -> anyhow::Result<()> {
    // Tracker calls an earlier run left queued, before taking new work (the sweeper's job,
    // deployed).
    app.finish_queued_work().await?;
    let listener = tokio::net::TcpListener::bind(args.addr)
        .await
        .with_context(|| format!("listening on {}", args.addr))?;
    let addr = listener.local_addr().context("reading the bound address")?;
    for (default, var) in [
        (app.default_secret, SECRET_ENV),
        (app.default_jira_secret, JIRA_SECRET_ENV),
        (app.default_linear_secret, LINEAR_SECRET_ENV),
        (app.default_servicenow_secret, SERVICENOW_SECRET_ENV),
    ] {
        if default && !addr.ip().is_loopback() {
            tracing::warn!(
                %addr,
                "listening beyond this machine with a local default webhook secret: anyone who \
                 reads scantix's source can sign deliveries; set {var}"
            );
        }
    }
    // On stdout, so a script (or a test) that asked for port 0 learns the port.
    println!(
        "scantix listening on http://{addr} (POST /webhooks/github, POST /webhooks/jira, POST \
         /webhooks/linear, POST /webhooks/servicenow, GET /healthz); store: {}; tracker: {}",
        app.location(),
        app.tracker()
    );

    let app = Arc::new(app);
    let router = Router::new()
        .route("/webhooks/github", post(webhook))
        .route("/webhooks/jira", post(jira_webhook))
        .route("/webhooks/linear", post(linear_webhook))
        .route("/webhooks/servicenow", post(servicenow_webhook))
        .route("/healthz", get(healthz))
        .fallback(not_found)
        .method_not_allowed_fallback(method_not_allowed)
        // The ingest's own limit, so that a body is refused once, the same way, whatever its size
        // (axum's default, 2 MB, would answer bodies above it in plain text).
        .layer(DefaultBodyLimit::max(DEFAULT_MAX_BODY))
        .with_state(app.clone());
    axum::serve(listener, router)
        .with_graceful_shutdown(shutdown())
        .await
        .context("serving HTTP")?;
    tracing::info!("stopped");
    Ok(())
}

/// One GitHub delivery: the ingest's answer.
async fn webhook(
    State(app): State<Arc<LocalApp>>,
    headers: HeaderMap,
    body: Result<Bytes, BytesRejection>,
) -> Response {
    let body = match body {
        Ok(body) => body,
        Err(rejection) => return unreadable_body(&rejection),
    };
    respond(app.ingest.handle(&headers, &body).await)
}

/// One Jira delivery. The query string goes along as it came: the local ingest checks signatures,
/// so it ignores a Data Center `?token=`.
async fn jira_webhook(
    State(app): State<Arc<LocalApp>>,
    RawQuery(query): RawQuery,
    headers: HeaderMap,
    body: Result<Bytes, BytesRejection>,
) -> Response {
    let body = match body {
        Ok(body) => body,
        Err(rejection) => return unreadable_body(&rejection),
    };
    respond(app.jira.handle(&headers, query.as_deref(), &body).await)
}

/// One Linear delivery (signature and `webhookTimestamp` checked as the function checks them).
async fn linear_webhook(
    State(app): State<Arc<LocalApp>>,
    headers: HeaderMap,
    body: Result<Bytes, BytesRejection>,
) -> Response {
    let body = match body {
        Ok(body) => body,
        Err(rejection) => return unreadable_body(&rejection),
    };
    respond(app.linear.handle(&headers, &body).await)
}

/// One delivery from scantix's ServiceNow business rule.
async fn servicenow_webhook(
    State(app): State<Arc<LocalApp>>,
    headers: HeaderMap,
    body: Result<Bytes, BytesRejection>,
) -> Response {
    let body = match body {
        Ok(body) => body,
        Err(rejection) => return unreadable_body(&rejection),
    };
    respond(app.servicenow.handle(&headers, &body).await)
}

/// The ingest's answer as the response.
fn respond(answer: Answer) -> Response {
    let status = StatusCode::from_u16(answer.status).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
    json_response(status, answer.body)
}

/// A body the server would not read: over [`DEFAULT_MAX_BODY`] (413, in the ingest's words), or cut
/// off on the way (axum's status, 400). Nothing was read, so nothing is saved.
fn unreadable_body(rejection: &BytesRejection) -> Response {
    let status = rejection.status();
    let body = if status == StatusCode::PAYLOAD_TOO_LARGE {
        serde_json::json!({
            "error": "payload_too_large",
            "detail": format!("body is over the limit of {DEFAULT_MAX_BODY} bytes"),
        })
    } else {
        serde_json::json!({ "error": "unreadable_body", "detail": rejection.body_text() })
    };
    json_response(status, body)
}

async fn not_found() -> Response {
    json_response(
        StatusCode::NOT_FOUND,
        serde_json::json!({
            "error": "not_found",
            "detail": "scantix serves POST /webhooks/github, POST /webhooks/jira, POST /webhooks/linear, POST /webhooks/servicenow and GET /healthz",
        }),
    )
}

async fn method_not_allowed() -> Response {
    json_response(
        StatusCode::METHOD_NOT_ALLOWED,
        serde_json::json!({
            "error": "method_not_allowed",
            "detail": "webhooks are POSTed; /healthz is read with GET",
        }),
    )
}

async fn healthz() -> Response {
    json_response(StatusCode::OK, serde_json::json!({ "status": "ok" }))
}

fn json_response(status: StatusCode, body: serde_json::Value) -> Response {
    (
        status,
        [(header::CONTENT_TYPE, "application/json")],
        body.to_string(),
    )
        .into_response()
}

/// Resolves at Ctrl-C or SIGTERM; in-flight requests then finish before the server stops.
async fn shutdown() {
    let ctrl_c = async {
        if let Err(e) = tokio::signal::ctrl_c().await {
            tracing::error!(error = %e, "cannot listen for Ctrl-C");
            std::future::pending::<()>().await;
        }
    };
    #[cfg(unix)]
    let terminate = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut signal) => {
                signal.recv().await;
            }
            Err(e) => {
                tracing::error!(error = %e, "cannot listen for SIGTERM");
                std::future::pending::<()>().await;
            }
        }
    };
    #[cfg(not(unix))]
    let terminate = std::future::pending::<()>();
    tokio::select! {
        () = ctrl_c => {},
        () = terminate => {},
    }
    tracing::info!("shutting down");
}
