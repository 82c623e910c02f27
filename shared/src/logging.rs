//! Structured logs: one JSON object per line, with the fields of the spans around it (delivery id,
//! event, repository, group key…), which CloudWatch Logs Insights can query.
//!
//! The level comes from `AWS_LAMBDA_LOG_LEVEL` (what the SAM template's `LogLevel` sets through
//! the function's logging config), else `RUST_LOG`, else `info`.

use tracing_subscriber::EnvFilter;
use tracing_subscriber::fmt::MakeWriter;

/// Installs the JSON subscriber for this process (first call wins).
pub fn init() {
    init_with_writer(std::io::stdout);
}

/// The same, writing to `writer` (tests read the lines back).
pub fn init_with_writer<W>(writer: W)
where
    W: for<'a> MakeWriter<'a> + Send + Sync + 'static,
{
    let _ = tracing_subscriber::fmt()
        .json()
        .with_env_filter(filter())
        .with_target(false)
        // Lambda stamps every line itself; our own timestamp would be a second one.
        .without_time()
        .with_current_span(true)
        .with_span_list(true)
        .with_writer(writer)
        .try_init();
}

fn filter() -> EnvFilter {
    let level = std::env::var("AWS_LAMBDA_LOG_LEVEL")
        .or_else(|_| std::env::var("RUST_LOG"))
        .unwrap_or_else(|_| "info".into())
        .to_lowercase();
    // Lambda's level names are TRACE…FATAL; `fatal` has no tracing equivalent.
    let level = if level == "fatal" {
        "error".into()
    } else {
        level
    };
    EnvFilter::try_new(&level).unwrap_or_else(|_| EnvFilter::new("info"))
}
