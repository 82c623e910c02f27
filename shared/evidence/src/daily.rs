//! The metrics report kept where people find it: once a day (the sweeper's daily schedule) the
//! JSON and the HTML report of the last 90 days go to the `Archive` port (an S3 bucket), under the
//! day's date and under `latest/`. Writing a day again replaces its files, so a retried run leaves
//! one report per day.

use crate::EvidenceError;
use crate::metrics::{Period, compute, gather};
use chrono::{DateTime, Duration, Utc};
use scantix_core::ports::sink::Archive;
use scantix_core::ports::store::Store;

/// The days a daily report covers, as `scantix report` by default.
pub const PERIOD_DAYS: i64 = 90;

/// Computes the report of the `PERIOD_DAYS` before `now` and writes it: `<yyyy-mm-dd>/report.json`,
/// `<yyyy-mm-dd>/report.html`, and the same two under `latest/`. Answers the keys written.
pub async fn archive_report(
    store: &dyn Store,
    archive: &dyn Archive,
    now: DateTime<Utc>,
) -> Result<Vec<String>, EvidenceError> {
    let period = Period {
        since: now - Duration::days(PERIOD_DAYS),
        until: now,
        repository: None,
    };
    let input = gather(store, &period).await?;
    let report = compute(&input, &period);
    let json = serde_json::to_vec_pretty(&report)
        .map_err(|e| EvidenceError::BadInput(format!("the report as JSON: {e}")))?;
    let html = crate::html::render(&report)?.into_bytes();
    let day = now.format("%Y-%m-%d").to_string();
    let mut written = Vec::new();
    for folder in [day.as_str(), "latest"] {
        for (name, body, content_type) in [
            ("report.json", &json, "application/json"),
            ("report.html", &html, "text/html; charset=utf-8"),
        ] {
            let key = format!("{folder}/{name}");
            archive.put(&key, body.clone(), content_type).await?;
            written.push(key);
        }
    }
    Ok(written)
}

#[cfg(test)]
mod tests {
    use super::*;
    use scantix_core::memory::sink::MemorySink;
    use scantix_core::memory::store::MemoryStore;

    #[tokio::test]
    async fn a_day_s_report_is_written_under_its_date_and_latest() {
        let store = MemoryStore::new();
        let archive = MemorySink::new();
        let now: DateTime<Utc> = "2026-12-04T06:00:00Z".parse().unwrap();
        let keys = archive_report(&store, &archive, now).await.unwrap();
        assert_eq!(
            keys,
            [
                "2026-12-04/report.json",
                "2026-12-04/report.html",
                "latest/report.json",
                "latest/report.html"
            ]
        );
        let files = archive.files();
        let (json, content_type) = &files["2026-12-04/report.json"];
        assert_eq!(content_type, "application/json");
        let report: serde_json::Value = serde_json::from_slice(json).unwrap();
        assert_eq!(report["since"], "2026-09-05T06:00:00Z");
        assert_eq!(report["until"], "2026-12-04T06:00:00Z");
        let (html, _) = &files["latest/report.html"];
        assert!(String::from_utf8_lossy(html).contains("<svg"));
    }
}
