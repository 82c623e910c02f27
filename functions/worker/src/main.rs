//! Entry point of the worker Lambda function: logging, clients built once per cold start, then
//! the runtime loop.

use anyhow::Context;
use lambda_runtime::{run, service_fn};

#[tokio::main]
async fn main() -> Result<(), lambda_runtime::Error> {
    scantix_app::logging::init();
    let worker = scantix_wiring::worker::worker_from_env()
        .await
        .context("building the worker from the environment")?;
    run(service_fn(|event| worker::handle(&worker, event))).await
}
