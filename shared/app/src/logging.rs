//! Structured logs: one JSON object per line, with the fields of the spans around it (delivery id,
//! event, repository, group key…), which CloudWatch Logs Insights can query.
//!
//! The level comes from `AWS_LAMBDA_LOG_LEVEL` (what the SAM template's `LogLevel` sets through
//! the function's logging config), else `RUST_LOG`, else `info`.

use tracing_subscriber::EnvFilter;
use tracing_subscriber::fmt::MakeWriter;
use tracing_subscriber::util::SubscriberInitExt;

/// Installs the JSON subscriber for this process (first call wins).
pub fn init() {
    init_with_writer(std::io::stdout);
}

/// The same, writing to `writer` (tests read the lines back).
pub fn init_with_writer<W>(writer: W)
where
    W: for<'a> MakeWriter<'a> + Send + Sync + 'static,
{
    let _ = json_subscriber(writer, &level()).try_init();
}

/// The subscriber [`init`] installs, at `level` (`info`, `warn`, …, or a `RUST_LOG` directive),
/// writing to `writer`: for a test to install for its own scope
/// (`tracing::subscriber::set_default`) and read the lines back as production writes them.
pub fn json_subscriber<W>(writer: W, level: &str) -> impl tracing::Subscriber + Send + Sync
where
    W: for<'a> MakeWriter<'a> + Send + Sync + 'static,
{
    tracing_subscriber::fmt()
        .json()
        .with_env_filter(EnvFilter::try_new(level).unwrap_or_else(|_| EnvFilter::new("info")))
        .with_target(false)
        // Lambda stamps every line itself; our own timestamp would be a second one.
        .without_time()
        .with_current_span(true)
        .with_span_list(true)
        .with_writer(writer)
        .finish()
}

fn level() -> String {
    let level = std::env::var("AWS_LAMBDA_LOG_LEVEL")
        .or_else(|_| std::env::var("RUST_LOG"))
        .unwrap_or_else(|_| "info".into())
        .to_lowercase();
    // Lambda's level names are TRACE…FATAL; `fatal` has no tracing equivalent.
    if level == "fatal" {
        "error".into()
    } else {
        level
    }
}
