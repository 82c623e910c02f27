//! Entry point of the GitHub webhook Lambda function: logging, clients built once per cold start,
//! then the runtime loop.

use lambda_http::{run, service_fn};

#[tokio::main]
async fn main() -> Result<(), lambda_http::Error> {
    tracing_subscriber::fmt()
        .json()
        .with_target(false)
        .without_time()
        .init();
    let ingest = github_webhook::ingest_from_env().await?;
    run(service_fn(|request| {
        github_webhook::handle(&ingest, request)
    }))
    .await
}
