//! Entry point of the GitHub webhook Lambda function: logging, the receivers built once per cold
//! start, then the runtime loop.

use lambda_http::{run, service_fn};

#[tokio::main]
async fn main() -> Result<(), lambda_http::Error> {
    scantix_app::logging::init();
    let routes = github_webhook::routes_from_env().await?;
    run(service_fn(|request| {
        github_webhook::route(&routes, request)
    }))
    .await
}
