//! Lambda function: receives GitHub App webhooks (Function URL) and makes each durable in the
//! table's inbox (see `scantix_app::ingest::receive`); the worker applies it. The same URL takes
//! CI jobs' SARIF uploads at `POST /sarif` (see `scantix_app::ingest::upload`), stored in the
//! same inbox. The handler is a plain function over any `Endpoint`, so tests call it directly
//! with real payloads, against the receiver or against the synchronous ingest; `main.rs` only
//! wires it to the runtime.

use anyhow::Context;
use lambda_http::{Body, Request, Response};
use scantix_app::ingest::github::GithubGate;
use scantix_app::ingest::{Endpoint, GithubReceiver, UploadReceiver};

/// Where uploads are posted, on the function's URL. Every other path is a webhook (GitHub posts
/// to the URL as registered, usually `/`).
pub const UPLOAD_PATH: &str = "/sarif";

/// What the function answers: webhooks, and uploads when the deployment takes them.
pub struct Routes {
    pub webhooks: GithubReceiver,
    pub uploads: Option<UploadReceiver>,
}

/// Answers one request on the function's URL: an upload at [`UPLOAD_PATH`], a webhook otherwise.
pub async fn route(
    routes: &Routes,
    request: Request,
) -> Result<Response<Body>, lambda_http::Error> {
    if request.uri().path().trim_end_matches('/') != UPLOAD_PATH {
        return handle(&routes.webhooks, request).await;
    }
    if request.method() != lambda_http::http::Method::POST {
        return json_answer(
            405,
            r#"{"error":"method_not_allowed","detail":"POST the SARIF to /sarif"}"#,
        );
    }
    match &routes.uploads {
        Some(uploads) => handle(uploads, request).await,
        None => json_answer(
            404,
            r#"{"error":"uploads_disabled","detail":"this deployment takes no SARIF uploads (set UploadAudience or UploadTokenSecretArn)"}"#,
        ),
    }
}

/// Answers one request with `endpoint`.
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
    json_answer(answer.status, answer.body.to_string())
}

fn json_answer(status: u16, body: impl Into<String>) -> Result<Response<Body>, lambda_http::Error> {
    Ok(Response::builder()
        .status(status)
        .header("content-type", "application/json")
        .body(Body::Text(body.into()))?)
}

/// Builds both routes once per cold start: the webhook secret (`GITHUB_WEBHOOK_SECRET`, or
/// `…_ARN` / `…_FILE`, see `scantix_wiring`), the table (`SCANTIX_TABLE`), and the upload endpoint
/// when `SCANTIX_UPLOAD_*` configure one (`scantix_wiring::upload`). Nothing else: this function
/// verifies and stores, it never calls GitHub or a tracker (the OIDC issuer's keys excepted).
pub async fn routes_from_env() -> anyhow::Result<Routes> {
    scantix_wiring::load_secrets()
        .await
        .context("loading secrets from Secrets Manager")?;
    let secret = scantix_wiring::required_secret("GITHUB_WEBHOOK_SECRET")?;
    let store = scantix_wiring::store_from_env()
        .await
        .context("building the store")?;
    let uploads = scantix_wiring::upload::upload_receiver_from_env(store.clone())
        .context("configuring SARIF uploads")?;
    Ok(Routes {
        webhooks: GithubReceiver::new(GithubGate::new(secret), store),
        uploads,
    })
}
