//! Entry point of the OCSF publisher Lambda function: logging, the store and the sink built once
//! per cold start, then the runtime loop.

use lambda_runtime::{run, service_fn};
use ocsf_publisher::{Publisher, handle};

#[tokio::main]
async fn main() -> Result<(), lambda_runtime::Error> {
    scantix_app::logging::init();
    let publisher = Publisher::from_env().await?;
    run(service_fn(|event| handle(&publisher, event))).await
}
