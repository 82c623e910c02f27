//! Identity across re-scans, on real files changed the way a later scan would change them.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    reason = "test code: a failed assumption is the test failing"
)]

mod common;

use common::*;
use scantix_sarif::*;
use serde_json::Value;

/// Moves every region of `result` (locations and flows) down by `by` lines.
fn shift_lines(value: &mut Value, by: i64) {
    match value {
        Value::Object(map) => {
            for key in ["startLine", "endLine"] {
                if let Some(Value::Number(n)) = map.get(key)
                    && let Some(line) = n.as_i64()
                {
                    map.insert(key.to_owned(), Value::from(line + by));
                }
            }
            for child in map.values_mut() {
                shift_lines(child, by);
            }
        }
        Value::Array(items) => items.iter_mut().for_each(|v| shift_lines(v, by)),
        _ => {}
    }
}

fn results(doc: &mut Value) -> &mut Vec<Value> {
    doc["runs"][0]["results"].as_array_mut().unwrap()
}

fn ids(analysis: &Analysis) -> Vec<String> {
    analysis
        .findings
        .iter()
        .map(|f| f.identity.value.clone())
        .collect()
}

#[test]
fn a_result_whose_line_moved_keeps_its_identity() {
    // One per basis: snippet (Semgrep 1.185), message (ESLint), line hash (CodeQL),
    // full fingerprint (Semgrep 1.69).
    for path in [
        generated("semgrep-1.185.0.sarif"),
        generated("eslint-9.39.5.sarif"),
        generated("bandit-1.9.4.sarif"),
        shared("codeql/fabasoad-sarif-to-slack.codeql-ruby.sarif"),
        shared("semgrep/defectdojo.semgrep-oss-1.69.0.issue_10191.sarif"),
    ] {
        let before = parse(&path);
        let mut doc = json(&path);
        shift_lines(&mut doc["runs"][0]["results"][0], 7);
        let after = parse_value(&doc);
        assert_eq!(
            after.findings[0].line(),
            before.findings[0].line().map(|l| l + 7)
        );
        assert_eq!(ids(&before), ids(&after), "{}", path.display());
    }
}

#[test]
fn a_whole_file_moving_down_keeps_every_identity() {
    let path = generated("njsscan-1.0.1.sarif");
    let before = parse(&path);
    let mut doc = json(&path);
    shift_lines(&mut doc["runs"][0]["results"], 40);
    assert_eq!(ids(&before), ids(&parse_value(&doc)));
}

#[test]
fn changing_the_flagged_code_changes_the_identity() {
    let path = generated("semgrep-1.185.0.sarif");
    let before = parse(&path);
    let mut doc = json(&path);
    let snippet =
        &mut results(&mut doc)[0]["locations"][0]["physicalLocation"]["region"]["snippet"]["text"];
    *snippet = Value::from("    return subprocess.check_output(cmd, shell=True, timeout=5)");
    let after = parse_value(&doc);
    assert_ne!(
        before.findings[0].identity.value,
        after.findings[0].identity.value
    );
    assert_eq!(
        ids(&before)[1..],
        ids(&after)[1..],
        "the other results are untouched"
    );

    // Re-indenting is not a change.
    let mut doc = json(&path);
    let snippet =
        &mut results(&mut doc)[0]["locations"][0]["physicalLocation"]["region"]["snippet"]["text"];
    *snippet = Value::from("\treturn   subprocess.check_output(cmd,   shell=True)  ");
    assert_eq!(ids(&before), ids(&parse_value(&doc)));
}

#[test]
fn two_identical_results_in_one_file_get_distinct_identities() {
    for path in [
        generated("semgrep-1.185.0.sarif"),
        generated("hadolint-2.15.1.sarif"),
        shared("codeql/fabasoad-sarif-to-slack.codeql-ruby.sarif"),
    ] {
        let mut doc = json(&path);
        let first = results(&mut doc)[0].clone();
        results(&mut doc).push(first);
        let analysis = parse_value(&doc);
        let (a, b) = (&analysis.findings[0], analysis.findings.last().unwrap());
        assert_eq!(a.identity.basis, b.identity.basis);
        assert_eq!((a.identity.occurrence, b.identity.occurrence), (0, 1));
        assert_ne!(a.identity.value, b.identity.value, "{}", path.display());
        // The first keeps the identity it had alone.
        assert_eq!(a.identity.value, parse(&path).findings[0].identity.value);
    }
}

#[test]
fn identity_depends_on_the_rule_and_the_file() {
    let path = generated("semgrep-1.185.0.sarif");
    let before = parse(&path);
    let mut doc = json(&path);
    results(&mut doc)[0]["locations"][0]["physicalLocation"]["artifactLocation"]["uri"] =
        Value::from("moved/app.py");
    results(&mut doc)[1]["ruleId"] = Value::from("python-eval");
    let after = parse_value(&doc);
    assert_ne!(
        before.findings[0].identity.value,
        after.findings[0].identity.value
    );
    assert_ne!(
        before.findings[1].identity.value,
        after.findings[1].identity.value
    );
    assert_eq!(ids(&before)[2..], ids(&after)[2..]);
}

#[test]
fn a_real_fingerprint_is_trusted_over_the_code() {
    // Semgrep 1.69's matchBasedId survives an edit of the snippet (the tool vouches for it).
    let path = shared("semgrep/defectdojo.semgrep-oss-1.69.0.issue_10191.sarif");
    let before = parse(&path);
    let mut doc = json(&path);
    results(&mut doc)[0]["locations"][0]["physicalLocation"]["region"]["snippet"]["text"] =
        Value::from("      const buffer = fs.readFileSync(path.join('dist', file))");
    assert_eq!(ids(&before), ids(&parse_value(&doc)));
}

#[test]
fn the_same_file_parsed_twice_gives_the_same_identities() {
    for path in all_fixtures() {
        assert_eq!(ids(&parse(&path)), ids(&parse(&path)), "{}", path.display());
    }
}
