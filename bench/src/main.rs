//! `cargo run --release -p bench [-- --dynamodb-endpoint URL] [--only FAMILY,…]`: prints
//! scantix's measured figures, one `name: value` line each. Not a test: nothing here asserts a
//! timing. `--only` runs some families (`decision_path`, `tracker_calls`, `sarif`, `dynamodb`,
//! `functions`, `ocsf`, `load`, `load_budget`); the default is all.
//!
//! # Layout
//! - [`decision_path`]: events/s and per-stage costs on one core, over the in-memory store.
//! - [`dynamodb`]: round trips per event and events/s against DynamoDB Local (when given one).
//! - [`tracker_calls`]: tracker calls per event along one group's life.
//! - [`payloads`]: real fixtures turned into distinct signed deliveries.
//! - [`measure`]: warm-up, run sizing, printing.
//! - [`dynamodb_calls`]: an interceptor counting the DynamoDB client's requests (round trips).
//! - [`sarif`]: SARIF results/s and peak memory on a 100,000-result file.
//! - [`functions`]: the deployed shape's functions, in process and under the Lambda emulator.
//! - [`ocsf`]: the OCSF publisher's handler over the table's stream, into a Firehose-shaped sink.
//! - [`load`]: `scantix serve` on a table under 50 concurrent senders, end to end (and under a
//!   ticket budget).

mod decision_path;
mod dynamodb;
mod dynamodb_calls;
mod functions;
mod load;
mod measure;
mod ocsf;
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
    let Arguments { endpoint, only } = arguments()?;
    let wanted = |family: &str| only.as_ref().is_none_or(|o| o.iter().any(|f| f == family));
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

    if wanted("decision_path") {
        decision_path::run()?;
    }
    if wanted("tracker_calls") {
        tracker_calls::run()?;
    }
    if wanted("sarif") {
        sarif::run()?;
    }
    match endpoint {
        Some(endpoint) => {
            // DynamoDB Local keeps every stream record of every table it serves, and each write
            // gets slower as they pile up (measured: a PutItem at 2-4 ms on a fresh instance,
            // ~30 ms after 20,000 writes to another table with a stream; no slowdown when that
            // table has none). AWS's streams are a separate service. So the round-trip family's
            // tables have no stream, and the deployed shape's (which needs it) comes last.
            if wanted("dynamodb") {
                dynamodb::run(&endpoint)?;
            }
            if wanted("functions") {
                functions::run(&endpoint)?;
            }
            if wanted("ocsf") {
                ocsf::run(&endpoint)?;
            }
            if wanted("load") {
                load::run(&endpoint, load::PLAIN)?;
            }
            if wanted("load_budget") {
                load::run(&endpoint, load::BUDGETED)?;
            }
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

struct Arguments {
    endpoint: Option<String>,
    /// The families to run; `None` is all.
    only: Option<Vec<String>>,
}

/// `--dynamodb-endpoint URL` (or `=URL`, else `$SCANTIX_TEST_DYNAMODB_ENDPOINT`) and
/// `--only A,B` (or `=A,B`).
fn arguments() -> Result<Arguments> {
    let mut args = std::env::args().skip(1);
    let (mut endpoint, mut only) = (None, None);
    while let Some(arg) = args.next() {
        let (flag, inline) = match arg.split_once('=') {
            Some((flag, value)) => (flag.to_owned(), Some(value.to_owned())),
            None => (arg.clone(), None),
        };
        let mut value = || {
            inline
                .clone()
                .or_else(|| args.next())
                .with_context(|| format!("{flag} needs a value"))
        };
        match flag.as_str() {
            "--dynamodb-endpoint" => endpoint = Some(value()?),
            "--only" => only = Some(value()?.split(',').map(str::to_owned).collect()),
            _ => bail!(
                "unknown argument {arg:?}; usage: bench [--dynamodb-endpoint URL] [--only FAMILY,...]"
            ),
        }
    }
    let endpoint = endpoint.or_else(|| std::env::var(ENDPOINT_VARIABLE).ok());
    Ok(Arguments {
        endpoint: endpoint.filter(|e| !e.is_empty()),
        only,
    })
}

/// The 1-minute load average from `/proc/loadavg` (Linux), `unknown` elsewhere.
fn load_average() -> String {
    std::fs::read_to_string("/proc/loadavg")
        .ok()
        .and_then(|l| l.split_whitespace().next().map(str::to_owned))
        .unwrap_or_else(|| "unknown".into())
}
