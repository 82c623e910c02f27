//! `cargo run --release -p bench [-- --dynamodb-endpoint URL]`: prints scantix's measured figures,
//! one `name: value` line each. Not a test: nothing here asserts a timing.
//!
//! # Layout
//! - [`decision_path`]: events/s and per-stage costs on one core, over the in-memory store.
//! - [`dynamodb`]: round trips per event and events/s against DynamoDB Local (when given one).
//! - [`tracker_calls`]: tracker calls per event along one group's life.
//! - [`payloads`]: real fixtures turned into distinct signed deliveries.
//! - [`measure`]: warm-up, run sizing, printing.
//! - [`dynamodb_calls`]: an interceptor counting the DynamoDB client's requests (round trips).
//! - [`sarif`]: SARIF results/s and peak memory on a 100,000-result file.

mod decision_path;
mod dynamodb;
mod dynamodb_calls;
mod functions;
mod measure;
mod payloads;
mod sarif;
mod tracker_calls;

use anyhow::{Context, Result, bail};
use measure::figure;
use std::time::Instant;

/// Where `scripts/dynamodb-local.sh` tells its command DynamoDB Local listens.
const ENDPOINT_VARIABLE: &str = "SCANTIX_TEST_DYNAMODB_ENDPOINT";

fn main() -> Result<()> {
    // The SARIF memory figure's child process (see `sarif`): parse, report, exit.
    let args: Vec<String> = std::env::args().collect();
    if let [_, flag, mode, file] = args.as_slice()
        && flag == sarif::CHILD_FLAG
    {
        return sarif::child(mode, std::path::Path::new(file));
    }
    let started = Instant::now();
    let endpoint = dynamodb_endpoint()?;
    let cores = std::thread::available_parallelism().map_or(0, |n| n.get());
    let profile = if cfg!(debug_assertions) {
        "debug"
    } else {
        "release"
    };
    let (os, arch) = (std::env::consts::OS, std::env::consts::ARCH);
    figure(
        "machine",
        format!("cores={cores} os={os} arch={arch} profile={profile}"),
    );
    // Other work on the machine moves every figure: say how busy it was.
    figure("load_average_1m_at_start", load_average());

    decision_path::run()?;
    tracker_calls::run()?;
    sarif::run()?;
    match endpoint {
        Some(endpoint) => {
            // DynamoDB Local keeps every stream record of every table it serves, and each write
            // gets slower as they pile up (measured: a PutItem at 2-4 ms on a fresh instance,
            // ~30 ms after 20,000 writes to another table with a stream; no slowdown when that
            // table has none). AWS's streams are a separate service. So the round-trip family's
            // tables have no stream, and the deployed shape's (which needs it) comes last.
            dynamodb::run(&endpoint)?;
            functions::run(&endpoint)?;
        }
        None => figure(
            "dynamodb",
            format!("skipped (set {ENDPOINT_VARIABLE} or run through scripts/dynamodb-local.sh)"),
        ),
    }
    figure("load_average_1m_at_end", load_average());
    figure(
        "bench_wall_seconds",
        format!("{:.1}", started.elapsed().as_secs_f64()),
    );
    Ok(())
}

/// `--dynamodb-endpoint URL` (or `=URL`), else `$SCANTIX_TEST_DYNAMODB_ENDPOINT`.
fn dynamodb_endpoint() -> Result<Option<String>> {
    let mut args = std::env::args().skip(1);
    let mut endpoint = None;
    while let Some(arg) = args.next() {
        endpoint = match arg.strip_prefix("--dynamodb-endpoint") {
            Some("") => Some(args.next().context("--dynamodb-endpoint needs a URL")?),
            Some(value) if value.starts_with('=') => Some(value[1..].to_owned()),
            _ => bail!("unknown argument {arg:?}; usage: bench [--dynamodb-endpoint URL]"),
        };
    }
    let endpoint = endpoint.or_else(|| std::env::var(ENDPOINT_VARIABLE).ok());
    Ok(endpoint.filter(|e| !e.is_empty()))
}

/// The 1-minute load average from `/proc/loadavg` (Linux), `unknown` elsewhere.
fn load_average() -> String {
    std::fs::read_to_string("/proc/loadavg")
        .ok()
        .and_then(|l| l.split_whitespace().next().map(str::to_owned))
        .unwrap_or_else(|| "unknown".into())
}
