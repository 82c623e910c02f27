//! Entry point of the sweeper Lambda function: logging, clients built once per cold start, then
//! the runtime loop.

use lambda_runtime::{run, service_fn};

#[tokio::main]
async fn main() -> Result<(), lambda_runtime::Error> {
    scantix_app::logging::init();
    let sweep = sweeper::sweep_from_env().await?;
    run(service_fn(|event| sweeper::handle_event(&sweep, event))).await
}
