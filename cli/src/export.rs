//! `scantix export --ocsf`: every change of a finding or ticket in a period as an OCSF 1.8 event,
//! one JSON line each, oldest first (what the deployment's exporter sends its sink).

use anyhow::Context;
use chrono::Utc;
use clap::Args;
use scantix_core::ports::store::Store;
use std::io::Write;

/// Arguments of `scantix export`.
#[derive(Debug, Args)]
pub struct ExportArgs {
    /// OCSF 1.8 events (Vulnerability Finding 2002, Detection Finding 2004), one JSON line each:
    /// the one format there is, named so that others can come.
    #[arg(long, required = true)]
    ocsf: bool,
    /// Changes since then: a duration back from now (30d, 12h, 2w), a day or an instant
    /// [default: 30d].
    #[arg(long, value_name = "WHEN")]
    since: Option<String>,
}

pub async fn run(store: &dyn Store, args: ExportArgs) -> anyhow::Result<()> {
    if !args.ocsf {
        anyhow::bail!("name the format to export: --ocsf");
    }
    let now = Utc::now();
    let from = crate::audit::since_or(
        args.since.as_deref(),
        scantix_evidence::trail::DEFAULT_PERIOD_DAYS,
        now,
    )?;
    let events = scantix_evidence::ocsf::export(store, from, now)
        .await
        .context("reading the changes to export")?;
    let mut out = std::io::stdout().lock();
    for event in &events {
        serde_json::to_writer(&mut out, event).context("writing an event")?;
        out.write_all(b"\n").context("writing an event")?;
    }
    out.flush().context("writing the events")?;
    Ok(())
}
