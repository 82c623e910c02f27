//! Source → sink for GitHub's own code scanning alerts. An alert says where the problem is, not
//! how tainted data got there; the SARIF of the analysis that found it does (`codeFlows`). The
//! executor reads that SARIF once when an alert founds a new ticketed group
//! (`Executor::code_flow_of`); this finds the alert's result in it and reduces its flow to the
//! two ends SARIF findings carry (`mapping::flow_steps`), so the ticket shows both alike.
//!
//! The SARIF is GitHub's answer, but its text is the scanner's (and so the code's): parsed with
//! the same bounded, redacting parser as an upload, and only locations and scrubbed step
//! messages kept.

use super::mapping::flow_steps;
use scantix_core::finding::{Finding, FlowStep};
use scantix_sarif::ParseOptions;

/// The flow of `alert`'s result in `sarif`: the result of the alert's rule at the alert's
/// location (path and start line) that carries a code flow. `None` when there is none, or the
/// SARIF cannot be read (a flow is a nicety: its absence never fails the alert).
pub fn flow_of_alert(sarif: &[u8], alert: &Finding) -> Option<Vec<FlowStep>> {
    let location = alert.location.as_ref()?;
    let mut found = None;
    let read = scantix_sarif::stream_slice(sarif, &ParseOptions::default(), |result| {
        if found.is_some() || result.rule.id != alert.rule.id || result.flow.is_none() {
            return;
        }
        let here = result.primary_location().is_some_and(|primary| {
            primary.path.as_deref() == Some(location.path.as_str())
                && (location.start_line.is_none() || primary.start_line == location.start_line)
        });
        if here {
            let steps = flow_steps(&result);
            if steps.len() > 1 {
                found = Some(steps);
            }
        }
    });
    if let Err(e) = read {
        tracing::info!(error = %e, "the analysis' SARIF could not be read; the ticket goes without a flow");
        return None;
    }
    found
}

#[cfg(test)]
mod tests {
    use super::*;
    use scantix_core::finding::Location;
    use scantix_core::testing::code_alert;

    /// CodeQL's SARIF of `sett-and-hive/sarif-to-comment-action` (two `js/xss` results, each with
    /// a code flow of eight steps, in `examples/Xss.js` and `examples/Xss2.js`, line 4).
    fn codeql() -> Vec<u8> {
        std::fs::read(concat!(
            env!("CARGO_MANIFEST_DIR"),
            "/../../../shared/fixtures/sarif/codeql/sett-and-hive-sarif-to-comment-action.codeql.sarif"
        ))
        .expect("the fixture")
    }

    fn alert_at(rule: &str, path: &str, line: u64) -> Finding {
        Finding {
            location: Some(Location {
                path: path.into(),
                start_line: Some(line),
                end_line: None,
            }),
            ..code_alert(1, rule, path)
        }
    }

    #[test]
    fn the_alerts_own_result_gives_its_source_and_sink() {
        let sarif = codeql();
        let first = flow_of_alert(&sarif, &alert_at("js/xss", "examples/Xss.js", 4))
            .expect("a flow for Xss.js");
        let second = flow_of_alert(&sarif, &alert_at("js/xss", "examples/Xss2.js", 4))
            .expect("a flow for Xss2.js");
        assert_eq!(first.len(), 2, "source and sink: {first:?}");
        assert!(first.iter().all(|s| s.location.path == "examples/Xss.js"));
        assert!(second.iter().all(|s| s.location.path == "examples/Xss2.js"));
    }

    #[test]
    fn another_rule_place_or_a_broken_file_gives_none() {
        let sarif = codeql();
        assert_eq!(
            flow_of_alert(&sarif, &alert_at("js/sql-injection", "examples/Xss.js", 4)),
            None
        );
        assert_eq!(
            flow_of_alert(&sarif, &alert_at("js/xss", "examples/Xss.js", 5)),
            None
        );
        assert_eq!(
            flow_of_alert(&sarif, &alert_at("js/xss", "examples/Other.js", 4)),
            None
        );
        assert_eq!(
            flow_of_alert(
                b"{\"version\": \"2.1.0\", \"runs\": [",
                &alert_at("js/xss", "examples/Xss.js", 4)
            ),
            None
        );
        assert_eq!(
            flow_of_alert(
                b"<html>502 Bad Gateway</html>",
                &alert_at("js/xss", "examples/Xss.js", 4)
            ),
            None
        );
    }
}
