//! Entry point of the ServiceNow webhook Lambda function: logging, the receiver built once per
//! cold start, then the runtime loop.

use lambda_http::{run, service_fn};

#[tokio::main]
async fn main() -> Result<(), lambda_http::Error> {
    scantix_app::logging::init();
    let receiver = servicenow_webhook::receiver_from_env().await?;
    run(service_fn(|request| {
        servicenow_webhook::handle(&receiver, request)
    }))
    .await
}
