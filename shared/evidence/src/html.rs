//! The metrics report as one self-contained HTML file (`scantix report --html FILE`): the figures
//! in tables and four plots drawn here as inline SVG with `plotters` (no script, no font file, no
//! CDN: it opens the same offline, in a mail client, or archived as evidence years later).
//!
//! Plots: the backlog burn-down (open findings and open tickets per week), MTTR by severity,
//! SLA adherence by severity, and new vs fixed findings per week. Every text from the store
//! (repository names, rule ids, owners) is escaped.

use crate::EvidenceError;
use crate::metrics::{Durations, Ranked, Report, Week};
use plotters::prelude::*;
use std::fmt::Write as _;

/// The series colours, also what the browser test looks for in a screenshot of the report.
pub const OPEN_FINDINGS: RGBColor = RGBColor(0xd6, 0x27, 0x28);
pub const OPEN_TICKETS: RGBColor = RGBColor(0x1f, 0x77, 0xb4);
pub const NEW: RGBColor = RGBColor(0xff, 0x7f, 0x0e);
pub const FIXED: RGBColor = RGBColor(0x2c, 0xa0, 0x2c);
pub const MTTR: RGBColor = RGBColor(0x94, 0x67, 0xbd);
pub const SLA: RGBColor = RGBColor(0x17, 0xbe, 0xcf);

const SIZE: (u32, u32) = (720, 360);

/// One figure of a week of the backlog (a series of a weekly plot).
type WeekFigure = fn(&Week) -> usize;

fn plot_error(e: impl std::fmt::Display) -> EvidenceError {
    EvidenceError::Plot(e.to_string())
}

/// The report as an HTML document.
pub fn render(report: &Report) -> Result<String, EvidenceError> {
    let mut html = String::new();
    let title = match &report.repository {
        Some(repo) => format!("scantix report: {}", escape(repo)),
        None => "scantix report".to_owned(),
    };
    let _ = write!(
        html,
        "<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\"><title>{title}</title>\
         <style>body{{font-family:sans-serif;margin:2em;color:#222}}table{{border-collapse:collapse;margin:1em 0}}\
         td,th{{border:1px solid #ccc;padding:4px 8px;text-align:right}}th:first-child,td:first-child{{text-align:left}}\
         figure{{display:inline-block;margin:1em}}</style></head><body>\n<h1>{title}</h1>\n\
         <p>From {} to {}.</p>\n",
        report.since.format("%Y-%m-%d %H:%M UTC"),
        report.until.format("%Y-%m-%d %H:%M UTC"),
    );
    summary(&mut html, report);
    let plots = [
        ("backlog", "Backlog burn-down", backlog_plot(report)?),
        (
            "mttr",
            "MTTR by severity (hours, median)",
            mttr_plot(report)?,
        ),
        ("sla", "SLA adherence by severity (%)", sla_plot(report)?),
        (
            "new-vs-fixed",
            "New vs fixed per week",
            new_fixed_plot(report)?,
        ),
    ];
    for (id, caption, svg) in plots {
        let _ = writeln!(
            html,
            "<figure id=\"{id}\" class=\"plot\">{svg}<figcaption>{caption}</figcaption></figure>"
        );
    }
    durations_table(
        &mut html,
        "Time to ticket (hours)",
        &report.mttt.overall,
        &report.mttt.by_severity,
    );
    durations_table(
        &mut html,
        "Time to remediate (hours)",
        &report.mttr.overall,
        &report.mttr.by_severity,
    );
    ranked_table(&mut html, "Top repositories", &report.top.repositories);
    ranked_table(&mut html, "Top rules", &report.top.rules);
    ranked_table(&mut html, "Top owners", &report.top.owners);
    html.push_str("</body></html>\n");
    Ok(html)
}

fn summary(html: &mut String, report: &Report) {
    let percent = |r: Option<f64>| r.map_or("–".to_owned(), |r| format!("{:.1}%", r * 100.0));
    let number = |r: Option<f64>| r.map_or("–".to_owned(), |r| format!("{r:.1}"));
    let rows = [
        ("New findings", report.counts.new.to_string()),
        ("Fixed", report.counts.fixed.to_string()),
        ("Dismissed", report.counts.dismissed.to_string()),
        ("Open now", report.counts.open.to_string()),
        (
            "MTTT, median (hours)",
            number(report.mttt.overall.p50_hours),
        ),
        (
            "MTTR, median (hours)",
            number(report.mttr.overall.p50_hours),
        ),
        (
            "SLA adherence",
            report
                .sla
                .overall
                .percent
                .map_or("–".to_owned(), |p| format!("{p:.1}%")),
        ),
        ("Open and overdue now", report.sla.open_overdue.to_string()),
        ("Reopen rate", percent(report.reopen_rate.rate)),
        (
            "Net resolve rate (stayed fixed ÷ new)",
            number(report.net_resolve_rate.rate),
        ),
        (
            "Tickets per 1,000 alerts",
            number(report.tickets_per_1000_alerts),
        ),
    ];
    html.push_str("<table id=\"summary\"><tr><th>Figure</th><th>Value</th></tr>\n");
    for (name, value) in rows {
        let _ = writeln!(html, "<tr><td>{name}</td><td>{value}</td></tr>");
    }
    html.push_str("</table>\n");
}

fn durations_table(
    html: &mut String,
    caption: &str,
    overall: &Durations,
    by_severity: &std::collections::BTreeMap<scantix_core::finding::Severity, Durations>,
) {
    let cell = |h: Option<f64>| h.map_or("–".to_owned(), |h| format!("{h:.1}"));
    let _ = writeln!(
        html,
        "<table><caption>{caption}</caption><tr><th>Severity</th><th>Count</th><th>Mean</th><th>p50</th><th>p90</th><th>Max</th></tr>"
    );
    let rows = by_severity
        .iter()
        .rev()
        .map(|(s, d)| (s.as_str(), d))
        .chain(std::iter::once(("all", overall)));
    for (name, d) in rows {
        let _ = writeln!(
            html,
            "<tr><td>{name}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td></tr>",
            d.count,
            cell(d.mean_hours),
            cell(d.p50_hours),
            cell(d.p90_hours),
            cell(d.max_hours)
        );
    }
    html.push_str("</table>\n");
}

fn ranked_table(html: &mut String, caption: &str, ranked: &[Ranked]) {
    let _ = writeln!(
        html,
        "<table><caption>{caption}</caption><tr><th>Name</th><th>Open</th><th>New</th></tr>"
    );
    for r in ranked {
        let _ = writeln!(
            html,
            "<tr><td>{}</td><td>{}</td><td>{}</td></tr>",
            escape(&r.name),
            r.open,
            r.new
        );
    }
    html.push_str("</table>\n");
}

/// Text made inert in HTML.
pub fn escape(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            c => out.push(c),
        }
    }
    out
}

/// Week labels (`11-08`) for an x axis of week indices.
fn week_label(report: &Report, i: f64) -> String {
    let index = i.round();
    if (index - i).abs() > 0.01 || index < 0.0 {
        return String::new();
    }
    report
        .backlog
        .get(index as usize)
        .map(|w| w.week_ending.format("%m-%d").to_string())
        .unwrap_or_default()
}

fn axis_top(values: impl Iterator<Item = f64>) -> f64 {
    let max = values.fold(0.0_f64, f64::max);
    if max <= 0.0 { 1.0 } else { max * 1.15 }
}

fn backlog_plot(report: &Report) -> Result<String, EvidenceError> {
    let mut svg = String::new();
    {
        let root = SVGBackend::with_string(&mut svg, SIZE).into_drawing_area();
        root.fill(&WHITE).map_err(plot_error)?;
        let weeks = report.backlog.len().max(1) as f64;
        let top = axis_top(
            report
                .backlog
                .iter()
                .map(|w| w.open_findings.max(w.open_tickets) as f64),
        );
        let mut chart = ChartBuilder::on(&root)
            .caption(
                "Backlog: open findings and tickets per week",
                ("sans-serif", 18),
            )
            .margin(12)
            .x_label_area_size(30)
            .y_label_area_size(44)
            .build_cartesian_2d(-0.5..weeks - 0.5, 0.0..top)
            .map_err(plot_error)?;
        chart
            .configure_mesh()
            .x_label_formatter(&|x| week_label(report, *x))
            .y_desc("open")
            .draw()
            .map_err(plot_error)?;
        let series: [(RGBColor, &str, WeekFigure); 2] = [
            (OPEN_FINDINGS, "open findings", |w| w.open_findings),
            (OPEN_TICKETS, "open tickets", |w| w.open_tickets),
        ];
        for (color, label, value) in series {
            let points: Vec<(f64, f64)> = report
                .backlog
                .iter()
                .enumerate()
                .map(|(i, w)| (i as f64, value(w) as f64))
                .collect();
            chart
                .draw_series(LineSeries::new(points.clone(), color.stroke_width(3)))
                .map_err(plot_error)?
                .label(label)
                .legend(move |(x, y)| {
                    PathElement::new(vec![(x, y), (x + 20, y)], color.stroke_width(3))
                });
            chart
                .draw_series(
                    points
                        .into_iter()
                        .map(|p| Circle::new(p, 4, color.filled())),
                )
                .map_err(plot_error)?;
        }
        chart
            .configure_series_labels()
            .background_style(WHITE.mix(0.9))
            .border_style(BLACK)
            .draw()
            .map_err(plot_error)?;
        root.present().map_err(plot_error)?;
    }
    Ok(svg)
}

/// Vertical bars, one per label, on a plain numeric axis.
fn bar_plot(
    caption: &str,
    bars: &[(String, f64)],
    color: RGBColor,
    top: f64,
) -> Result<String, EvidenceError> {
    let mut svg = String::new();
    {
        let root = SVGBackend::with_string(&mut svg, SIZE).into_drawing_area();
        root.fill(&WHITE).map_err(plot_error)?;
        let n = bars.len().max(1) as f64;
        let mut chart = ChartBuilder::on(&root)
            .caption(caption, ("sans-serif", 18))
            .margin(12)
            .x_label_area_size(30)
            .y_label_area_size(44)
            .build_cartesian_2d(-0.5..n - 0.5, 0.0..top)
            .map_err(plot_error)?;
        chart
            .configure_mesh()
            .disable_x_mesh()
            .x_labels(bars.len().max(1))
            .x_label_formatter(&|x| {
                let i = x.round();
                if (i - x).abs() > 0.01 || i < 0.0 {
                    return String::new();
                }
                bars.get(i as usize)
                    .map(|(l, _)| l.clone())
                    .unwrap_or_default()
            })
            .draw()
            .map_err(plot_error)?;
        chart
            .draw_series(bars.iter().enumerate().map(|(i, (_, v))| {
                let x = i as f64;
                Rectangle::new([(x - 0.35, 0.0), (x + 0.35, *v)], color.filled())
            }))
            .map_err(plot_error)?;
        root.present().map_err(plot_error)?;
    }
    Ok(svg)
}

fn mttr_plot(report: &Report) -> Result<String, EvidenceError> {
    let bars: Vec<(String, f64)> = report
        .mttr
        .by_severity
        .iter()
        .rev()
        .filter_map(|(s, d)| d.p50_hours.map(|h| (s.as_str().to_owned(), h)))
        .collect();
    let top = axis_top(bars.iter().map(|(_, v)| *v));
    bar_plot("MTTR by severity (median hours)", &bars, MTTR, top)
}

fn sla_plot(report: &Report) -> Result<String, EvidenceError> {
    let bars: Vec<(String, f64)> = report
        .sla
        .by_severity
        .iter()
        .rev()
        .filter_map(|(s, a)| a.percent.map(|p| (s.as_str().to_owned(), p)))
        .collect();
    bar_plot(
        "SLA adherence by severity (% closed by the due date)",
        &bars,
        SLA,
        105.0,
    )
}

fn new_fixed_plot(report: &Report) -> Result<String, EvidenceError> {
    let mut svg = String::new();
    {
        let root = SVGBackend::with_string(&mut svg, SIZE).into_drawing_area();
        root.fill(&WHITE).map_err(plot_error)?;
        let weeks = report.backlog.len().max(1) as f64;
        let top = axis_top(report.backlog.iter().map(|w| w.new.max(w.fixed) as f64));
        let mut chart = ChartBuilder::on(&root)
            .caption("New vs fixed findings per week", ("sans-serif", 18))
            .margin(12)
            .x_label_area_size(30)
            .y_label_area_size(44)
            .build_cartesian_2d(-0.5..weeks - 0.5, 0.0..top)
            .map_err(plot_error)?;
        chart
            .configure_mesh()
            .disable_x_mesh()
            .x_label_formatter(&|x| week_label(report, *x))
            .draw()
            .map_err(plot_error)?;
        let series: [(RGBColor, &str, f64, WeekFigure); 2] = [
            (NEW, "new", -0.2, |w| w.new),
            (FIXED, "fixed", 0.2, |w| w.fixed),
        ];
        for (color, label, offset, value) in series {
            chart
                .draw_series(report.backlog.iter().enumerate().map(|(i, w)| {
                    let x = i as f64 + offset;
                    Rectangle::new(
                        [(x - 0.18, 0.0), (x + 0.18, value(w) as f64)],
                        color.filled(),
                    )
                }))
                .map_err(plot_error)?
                .label(label)
                .legend(move |(x, y)| {
                    Rectangle::new([(x, y - 5), (x + 14, y + 5)], color.filled())
                });
        }
        chart
            .configure_series_labels()
            .background_style(WHITE.mix(0.9))
            .border_style(BLACK)
            .draw()
            .map_err(plot_error)?;
        root.present().map_err(plot_error)?;
    }
    Ok(svg)
}
