//! `scantix serve`: a local HTTP endpoint GitHub or Jira (through a tunnel) or `curl` can deliver
//! webhooks to, with each request's headers and raw body handled exactly as the Lambda functions
//! handle them. Every answer is JSON, the server's own refusals included (a body over the limit, an
//! unknown path, a wrong method), as the Lambda functions answer.
//!
//! Where deliveries go depends on the store:
//! - the embedded store: each event is applied (`GithubIngest::handle`, `JiraIngest::handle`, …)
//!   and committed before its answer goes back — one process, nothing to queue;
//! - a DynamoDB table (`--table`): the deployed shape. Each delivery is made durable with one
//!   inbox write before its answer (the webhook functions' job, `GithubReceiver` and its siblings),
//!   and a worker task applies what arrived (the stream function's job, `Worker`), so a load
//!   against `serve` exercises the same path, retries and redeliveries included, as production.

use crate::local::{
    JIRA_SECRET_ENV, LINEAR_SECRET_ENV, LocalApp, SECRET_ENV, SERVICENOW_SECRET_ENV, StoreLocation,
};
use anyhow::Context;
use axum::Router;
use axum::body::Bytes;
use axum::extract::rejection::BytesRejection;
use axum::extract::{DefaultBodyLimit, RawQuery, State};
use axum::response::{IntoResponse, Response};
use axum::routing::{MethodRouter, get, post};
use clap::Args;
use http::{HeaderMap, StatusCode, header};
use scantix_app::ingest::github::GithubGate;
use scantix_app::ingest::jira::{JiraAuthenticity, JiraGate};
use scantix_app::ingest::linear::LinearGate;
use scantix_app::ingest::servicenow::ServiceNowGate;
use scantix_app::ingest::upload::UploadReceiver;
use scantix_app::ingest::{
    Answer, DEFAULT_MAX_BODY, GithubIngest, GithubReceiver, JiraIngest, JiraReceiver, LinearIngest,
    LinearReceiver, ServiceNowIngest, ServiceNowReceiver,
};
use scantix_app::uploads::ApplyAnalyses;
use scantix_app::worker::Worker;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;
use tokio::sync::{Notify, watch};

/// Arguments of `scantix serve`.
#[derive(Debug, Args)]
pub struct ServeArgs {
    /// Address to listen on (port 0 picks a free port; the address is printed on stdout).
    #[arg(long, value_name = "IP:PORT", default_value = "127.0.0.1:3000")]
    addr: SocketAddr,
}

/// Deliveries one worker pass applies at most, oldest first.
const WORKER_PASS: usize = 100;

/// How long an idle worker waits before looking at the inbox again without being woken: what a
/// delivery another process wrote (or one a failed pass left pending) waits at most.
const WORKER_IDLE_POLL: Duration = Duration::from_secs(1);

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
    let (inbox, worker) = match app.location() {
        StoreLocation::Table { .. } => {
            let (inbox, worker) = Inbox::over(&app)?;
            (Some(inbox), Some(worker))
        }
        _ => (None, None),
    };
    let upload_limit = inbox
        .as_ref()
        .and_then(|inbox| inbox.uploads.as_ref())
        .map_or(DEFAULT_MAX_BODY, UploadReceiver::max_body);
    // On stdout, so a script (or a test) that asked for port 0 learns the port.
    println!(
        "scantix listening on http://{addr} (POST /webhooks/github, POST /webhooks/jira, POST \
         /webhooks/linear, POST /webhooks/servicenow, POST /sarif, GET /healthz); store: {}; \
         tracker: {}; deliveries: {}; SARIF uploads: {}",
        app.location(),
        app.tracker(),
        if inbox.is_some() {
            "inbox, then worker"
        } else {
            "applied on receipt"
        },
        if inbox.as_ref().is_some_and(|i| i.uploads.is_some()) {
            "on"
        } else {
            "off"
        }
    );

    let (stop, stopped) = watch::channel(false);
    let worker = match (worker, &inbox) {
        (Some(worker), Some(inbox)) => {
            Some(tokio::spawn(work(worker, inbox.wake.clone(), stopped)))
        }
        _ => None,
    };
    let server = Arc::new(Server { app, inbox });
    let router = Router::new()
        .route("/webhooks/github", delivery_route(Source::Github))
        .route("/webhooks/jira", delivery_route(Source::Jira))
        .route("/webhooks/linear", delivery_route(Source::Linear))
        .route("/webhooks/servicenow", delivery_route(Source::ServiceNow))
        .route(
            "/sarif",
            post(sarif_upload).layer(DefaultBodyLimit::max(upload_limit)),
        )
        .route("/healthz", get(healthz))
        .fallback(not_found)
        .method_not_allowed_fallback(method_not_allowed)
        // The ingest's own limit, so that a body is refused once, the same way, whatever its size
        // (axum's default, 2 MB, would answer bodies above it in plain text).
        .layer(DefaultBodyLimit::max(DEFAULT_MAX_BODY))
        .with_state(server);
    let served = axum::serve(listener, router)
        .with_graceful_shutdown(shutdown())
        .await
        .context("serving HTTP");
    // The worker finishes the pass it is in; what it has not reached stays in the inbox for the
    // next `serve` (or `scantix replay`).
    let _ = stop.send(true);
    if let Some(worker) = worker {
        let _ = worker.await;
    }
    served?;
    tracing::info!("stopped");
    Ok(())
}

/// Which webhook a request came in on.
#[derive(Debug, Clone, Copy)]
enum Source {
    Github,
    Jira,
    Linear,
    ServiceNow,
}

/// What the routes share.
struct Server {
    app: LocalApp,
    /// `Some` on a DynamoDB table: deliveries go through the inbox.
    inbox: Option<Inbox>,
}

/// The webhook functions' half of the deployed shape: each delivery checked, read and made durable
/// with one conditional inbox write.
struct Inbox {
    github: GithubReceiver,
    jira: JiraReceiver,
    linear: LinearReceiver,
    servicenow: ServiceNowReceiver,
    /// CI jobs' SARIF uploads (`POST /sarif`), when `SCANTIX_UPLOAD_*` configure them, as the
    /// github-webhook function takes them.
    uploads: Option<UploadReceiver>,
    /// Tells the worker something arrived.
    wake: Arc<Notify>,
}

impl Inbox {
    /// The receivers over `app`'s store and secrets, and the worker applying what they receive
    /// with `app`'s executor and settings (the stream function's half).
    fn over(app: &LocalApp) -> anyhow::Result<(Inbox, Worker)> {
        let store = app.store().clone();
        let uploads = scantix_wiring::upload::upload_receiver_from_env(store.clone())
            .context("configuring SARIF uploads (SCANTIX_UPLOAD_*)")?;
        let inbox = Inbox {
            uploads,
            github: GithubReceiver::new(GithubGate::new(app.secret.clone()), store.clone()),
            jira: JiraReceiver::new(
                JiraGate::new(JiraAuthenticity::Signature(app.jira_secret.clone())),
                store.clone(),
            ),
            linear: LinearReceiver::new(LinearGate::new(app.linear_secret.clone()), store.clone()),
            servicenow: ServiceNowReceiver::new(
                ServiceNowGate::new(app.servicenow_secret.clone()),
                app.servicenow_states.clone(),
                store.clone(),
            ),
            wake: Arc::new(Notify::new()),
        };
        let executor = app.executor().clone();
        let worker = Worker::new(
            store,
            GithubIngest::for_worker(executor.clone()).with_fixed_settings(app.settings().clone()),
            Some(JiraIngest::for_worker(executor.clone())),
        )
        .with_linear(LinearIngest::for_worker(executor.clone()))
        .with_servicenow(ServiceNowIngest::for_worker(
            app.servicenow_states.clone(),
            executor.clone(),
        ))
        .with_uploads(Arc::new(ApplyAnalyses::new(executor, None)));
        Ok((inbox, worker))
    }
}

impl Server {
    /// The answer to one delivery: the receiver's (durable in the inbox) or the ingest's (applied).
    async fn answer(
        &self,
        source: Source,
        headers: &HeaderMap,
        query: Option<&str>,
        body: &[u8],
    ) -> Answer {
        let app = &self.app;
        let Some(inbox) = &self.inbox else {
            // The local ingest checks signatures, so it ignores a Data Center `?token=`.
            return match source {
                Source::Github => app.ingest.handle(headers, body).await,
                Source::Jira => app.jira.handle(headers, query, body).await,
                Source::Linear => app.linear.handle(headers, body).await,
                Source::ServiceNow => app.servicenow.handle(headers, body).await,
            };
        };
        let answer = match source {
            Source::Github => inbox.github.handle(headers, body).await,
            Source::Jira => inbox.jira.handle(headers, query, body).await,
            Source::Linear => inbox.linear.handle(headers, body).await,
            Source::ServiceNow => inbox.servicenow.handle(headers, body).await,
        };
        if answer.status == StatusCode::ACCEPTED.as_u16() {
            inbox.wake.notify_one();
        }
        answer
    }
}

/// `POST` of one delivery from `source`.
fn delivery_route(source: Source) -> MethodRouter<Arc<Server>> {
    post(
        move |State(server): State<Arc<Server>>,
              RawQuery(query): RawQuery,
              headers: HeaderMap,
              body: Result<Bytes, BytesRejection>| async move {
            match body {
                Ok(body) => respond(
                    server
                        .answer(source, &headers, query.as_deref(), &body)
                        .await,
                ),
                Err(rejection) => unreadable_body(&rejection, DEFAULT_MAX_BODY),
            }
        },
    )
}

/// `POST /sarif`: a CI job's SARIF into the inbox (202), as the github-webhook function takes it;
/// the worker applies it as an analysis.
async fn sarif_upload(
    State(server): State<Arc<Server>>,
    RawQuery(query): RawQuery,
    headers: HeaderMap,
    body: Result<Bytes, BytesRejection>,
) -> Response {
    let Some((inbox, uploads)) = server
        .inbox
        .as_ref()
        .and_then(|inbox| Some((inbox, inbox.uploads.as_ref()?)))
    else {
        return json_response(
            StatusCode::NOT_FOUND,
            serde_json::json!({
                "error": "uploads_disabled",
                "detail": "SARIF uploads are taken on a table (--table) with SCANTIX_UPLOAD_TOKEN_SECRET \
                           or SCANTIX_UPLOAD_AUDIENCE set; locally, `scantix sarif FILE` reads a file",
            }),
        );
    };
    let body = match body {
        Ok(body) => body,
        Err(rejection) => return unreadable_body(&rejection, uploads.max_body()),
    };
    let answer = uploads.handle(&headers, query.as_deref(), &body).await;
    if answer.status == StatusCode::ACCEPTED.as_u16() {
        inbox.wake.notify_one();
    }
    respond(answer)
}

/// The worker task: applies what the inbox holds, pass after pass while passes come back full,
/// then waits to be woken by a receipt (or `WORKER_IDLE_POLL`), until `stopped`.
async fn work(worker: Worker, wake: Arc<Notify>, mut stopped: watch::Receiver<bool>) {
    loop {
        let more = match worker.replay(WORKER_PASS).await {
            Ok(pass) => {
                if pass.failed > 0 {
                    tracing::warn!(
                        failed = pass.failed,
                        applied = pass.applied,
                        "deliveries failed; they stay in the inbox and are tried again"
                    );
                }
                // A full pass that made progress: more may be waiting. Otherwise wait, so that
                // deliveries that keep failing (a tracker down) are not retried in a busy loop.
                pass.pending == WORKER_PASS && pass.applied > 0
            }
            Err(e) => {
                tracing::warn!(error = %e, "reading the inbox failed; trying again");
                false
            }
        };
        if *stopped.borrow() {
            return;
        }
        if more {
            continue;
        }
        tokio::select! {
            () = wake.notified() => {}
            () = tokio::time::sleep(WORKER_IDLE_POLL) => {}
            _ = stopped.changed() => return,
        }
    }
}

/// The ingest's answer as the response.
fn respond(answer: Answer) -> Response {
    let status = StatusCode::from_u16(answer.status).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
    json_response(status, answer.body)
}

/// A body the server would not read: over `limit` (413, in the ingest's words), or cut off on the
/// way (axum's status, 400). Nothing was read, so nothing is saved.
fn unreadable_body(rejection: &BytesRejection, limit: usize) -> Response {
    let status = rejection.status();
    let body = if status == StatusCode::PAYLOAD_TOO_LARGE {
        serde_json::json!({
            "error": "payload_too_large",
            "detail": format!("body is over the limit of {limit} bytes"),
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
            "detail": "scantix serves POST /webhooks/github, POST /webhooks/jira, POST /webhooks/linear, POST /webhooks/servicenow, POST /sarif and GET /healthz",
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
