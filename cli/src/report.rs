//! `scantix report`: the metrics of a period (MTTT, MTTR, SLA adherence, reopen and net resolve
//! rates, tickets per 1,000 alerts, the weekly backlog, top repositories, rules and owners), as a
//! summary, as JSON (`--json`), or as one self-contained HTML file with plots (`--html FILE`).

use anyhow::Context;
use chrono::Utc;
use clap::Args;
use scantix_core::ports::store::Store;
use scantix_evidence::metrics::{Period, Report, compute, gather};
use std::fmt::Write as _;
use std::path::PathBuf;

/// The period a report covers unless `--since` says otherwise.
const DEFAULT_PERIOD_DAYS: i64 = 90;

/// Arguments of `scantix report`.
#[derive(Debug, Args)]
pub struct ReportArgs {
    /// The period: since a duration back from now (90d, 12w), a day or an instant [default: 90d].
    #[arg(long, value_name = "WHEN")]
    since: Option<String>,
    /// Only this repository's findings.
    #[arg(long, value_name = "OWNER/NAME")]
    repo: Option<String>,
    /// Print the report as one JSON document.
    #[arg(long)]
    json: bool,
    /// Also write the report as one self-contained HTML file with plots.
    #[arg(long, value_name = "FILE")]
    html: Option<PathBuf>,
}

pub async fn run(store: &dyn Store, args: ReportArgs) -> anyhow::Result<()> {
    let now = Utc::now();
    let since = crate::audit::since_or(args.since.as_deref(), DEFAULT_PERIOD_DAYS, now)?;
    let period = Period {
        since,
        until: now,
        repository: args.repo,
    };
    let input = gather(store, &period)
        .await
        .context("reading the period's changes and open findings")?;
    let report = compute(&input, &period);
    if let Some(path) = &args.html {
        let html = scantix_evidence::html::render(&report).context("drawing the report")?;
        std::fs::write(path, html).with_context(|| format!("writing {}", path.display()))?;
    }
    if args.json {
        let json = serde_json::to_string_pretty(&report).context("writing the report as JSON")?;
        println!("{json}");
    } else {
        print!("{}", summary(&report));
    }
    Ok(())
}

fn summary(report: &Report) -> String {
    let mut out = String::new();
    let hours = |h: Option<f64>| h.map_or("–".to_owned(), |h| format!("{h:.1} h"));
    let share = |r: Option<f64>| r.map_or("–".to_owned(), |r| format!("{:.1}%", r * 100.0));
    let _ = writeln!(
        out,
        "{} → {}{}",
        report.since.format("%Y-%m-%d"),
        report.until.format("%Y-%m-%d"),
        report
            .repository
            .as_deref()
            .map(|r| format!(" · {r}"))
            .unwrap_or_default()
    );
    let c = &report.counts;
    let _ = writeln!(
        out,
        "findings: {} new, {} fixed, {} dismissed, {} open now; {} alerts → {} tickets",
        c.new, c.fixed, c.dismissed, c.open, c.alerts, c.tickets
    );
    let _ = writeln!(
        out,
        "MTTT p50 {} · MTTR p50 {} (p90 {}) · SLA adherence {} · overdue now {}",
        hours(report.mttt.overall.p50_hours),
        hours(report.mttr.overall.p50_hours),
        hours(report.mttr.overall.p90_hours),
        report
            .sla
            .overall
            .percent
            .map_or("–".to_owned(), |p| format!("{p:.1}%")),
        report.sla.open_overdue
    );
    let _ = writeln!(
        out,
        "reopen rate {} · net resolve rate {} · tickets per 1,000 alerts {}",
        share(report.reopen_rate.rate),
        report
            .net_resolve_rate
            .rate
            .map_or("–".to_owned(), |r| format!("{r:.2}")),
        report
            .tickets_per_1000_alerts
            .map_or("–".to_owned(), |r| format!("{r:.0}"))
    );
    out
}
