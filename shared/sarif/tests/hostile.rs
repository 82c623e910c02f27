//! Malformed and hostile input: a clear error naming the JSON path, or bounded output; never a
//! panic. Every input starts from a real file, changed.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    reason = "test code: a failed assumption is the test failing"
)]

mod common;

use common::*;
use scantix_sarif::limits::*;
use scantix_sarif::*;
use serde_json::Value;

/// Parses both ways; both must agree on failing, and the slice error is returned.
fn error_of(bytes: &[u8], options: &ParseOptions) -> SarifError {
    let from_reader = parse_reader(bytes, options);
    let from_slice = parse_slice(bytes, options);
    match (from_slice, from_reader) {
        (Err(slice), Err(reader)) => {
            // Input size is checked up front for a slice, as bytes arrive for a reader.
            if !slice.is_too_large() {
                assert_eq!(slice.path(), reader.path(), "{slice} / {reader}");
            }
            slice
        }
        (slice, reader) => panic!(
            "expected errors, got {:?} / {:?}",
            slice.err(),
            reader.err()
        ),
    }
}

fn error_of_value(value: &Value) -> SarifError {
    error_of(
        &serde_json::to_vec(value).unwrap(),
        &ParseOptions::default(),
    )
}

fn njsscan() -> Value {
    json(&generated("njsscan-1.0.1.sarif"))
}

#[test]
fn a_truncated_file_says_where_it_ends() {
    let whole = bytes(&generated("bandit-1.9.4.sarif"));
    for cut in [whole.len() / 3, whole.len() / 2, whole.len() - 2] {
        let error = error_of(&whole[..cut], &ParseOptions::default());
        match &error {
            SarifError::Truncated { path, .. } if cut < whole.len() - 2 => {
                assert!(path.starts_with("runs[0].results["), "{error}")
            }
            // Cut after the last value: the document's own object is unfinished.
            SarifError::Truncated { path, .. } => assert_eq!(path, ".", "{error}"),
            other => panic!("{cut}: {other}"),
        }
        assert!(error.to_string().contains("truncated"));
        assert!(error.is_input_fault() && !error.is_too_large());
    }
}

#[test]
fn a_wrong_type_at_depth_names_its_path() {
    let mut doc = njsscan();
    doc["runs"][0]["results"][3]["locations"] = Value::from("server.js:17");
    let error = error_of_value(&doc);
    assert!(matches!(error, SarifError::Invalid { .. }), "{error}");
    assert_eq!(error.path(), Some("runs[0].results[3].locations"));
    assert!(
        error
            .to_string()
            .starts_with("invalid SARIF at runs[0].results[3].locations: invalid type: string"),
        "{error}"
    );

    let mut doc = njsscan();
    doc["runs"][0]["results"][1]["locations"][0]["physicalLocation"]["region"]["startLine"] =
        Value::from("nine");
    let error = error_of_value(&doc);
    assert_eq!(
        error.path(),
        Some("runs[0].results[1].locations[0].physicalLocation.region.startLine")
    );

    let mut doc = njsscan();
    doc["runs"][0]["tool"]["driver"]["rules"][2]["defaultConfiguration"] = Value::from(true);
    assert_eq!(
        error_of_value(&doc).path(),
        Some("runs[0].tool.driver.rules[2].defaultConfiguration")
    );

    let mut doc = njsscan();
    doc["runs"][0]["results"][0]["fingerprints"] = serde_json::json!({ "k": 1 });
    assert_eq!(
        error_of_value(&doc).path(),
        Some("runs[0].results[0].fingerprints.k")
    );
}

#[test]
fn property_bags_are_free_form_and_never_a_type_error() {
    let mut doc = njsscan();
    doc["runs"][0]["results"][0]["properties"] = serde_json::json!({
        "tags": "not-a-list", "nested": {"a": [1, {"b": null}]}, "n": 3, "cwe": ["CWE-1"]
    });
    let analysis = parse_value(&doc);
    assert_eq!(
        analysis.findings[0].properties.get("n"),
        Some(&"[REDACTED]".to_owned()),
        "a secret finding"
    );
    let mut doc = njsscan();
    doc["runs"][0]["results"][1]["properties"] = serde_json::json!({"tags": [1, "x", [2]], "n": 3});
    let analysis = parse_value(&doc);
    assert_eq!(analysis.findings[1].tags, vec!["1", "x"]);
    assert_eq!(analysis.findings[1].properties["n"], "3");
}

#[test]
fn not_sarif_2_1_0_is_said_plainly() {
    let base = json(&generated("hadolint-2.15.1.sarif"));
    let mut wrong = base.clone();
    wrong["version"] = Value::from("2.0.0");
    let mut number = base.clone();
    number["version"] = Value::from(2.1);
    let mut missing = base.clone();
    missing.as_object_mut().unwrap().remove("version");
    let mut no_runs = base.clone();
    no_runs.as_object_mut().unwrap().remove("runs");
    let cases: Vec<(Vec<u8>, &str)> = vec![
        (
            serde_json::to_vec(&wrong).unwrap(),
            "`version` is \"2.0.0\"",
        ),
        (serde_json::to_vec(&number).unwrap(), "`version` is \"2.1\""),
        (serde_json::to_vec(&missing).unwrap(), "no `version`"),
        (serde_json::to_vec(&no_runs).unwrap(), "no `runs`"),
        (
            serde_json::to_vec(&base["runs"]).unwrap(),
            "not a JSON object",
        ),
        (b"\"2.1.0\"".to_vec(), "not a JSON object"),
        (Vec::new(), "not a JSON object"),
        (
            b"<?xml version=\"1.0\"?><sarif/>".to_vec(),
            "not a JSON object",
        ),
    ];
    for (input, says) in cases {
        let error = error_of(&input, &ParseOptions::default());
        assert!(matches!(error, SarifError::NotSarif { .. }), "{error}");
        assert!(
            error.to_string().starts_with("not SARIF 2.1.0: "),
            "{error}"
        );
        assert!(
            error.to_string().contains(says),
            "{error} should say {says}"
        );
    }
}

#[test]
fn a_wrong_version_after_the_runs_still_fails_the_whole_file() {
    // njsscan writes `runs` before `version`: a reader has streamed results by then.
    let text = String::from_utf8(bytes(&generated("njsscan-1.0.1.sarif"))).unwrap();
    assert!(text.find("\"runs\"").unwrap() < text.find("\"version\"").unwrap());
    let changed = text.replace("\"version\": \"2.1.0\"", "\"version\": \"2.2.0\"");
    assert_ne!(changed, text);
    let mut delivered = 0;
    let error = stream_reader(changed.as_bytes(), &ParseOptions::default(), |_| {
        delivered += 1
    })
    .unwrap_err();
    assert!(matches!(error, SarifError::NotSarif { .. }), "{error}");
    assert_eq!(
        delivered, 6,
        "findings came first: the contract says discard them"
    );
    // From a slice, the first pass refuses it before any finding is handed out.
    let mut delivered = 0;
    assert!(
        stream_slice(changed.as_bytes(), &ParseOptions::default(), |_| {
            delivered += 1
        })
        .is_err()
    );
    assert_eq!(delivered, 0);
}

#[test]
fn no_runs_zero_results_and_missing_results() {
    let mut doc = json(&generated("bandit-1.9.4.clean.sarif"));
    doc["runs"] = serde_json::json!([]);
    let analysis = parse_value(&doc);
    assert!(analysis.runs.is_empty() && analysis.findings.is_empty());
    doc["runs"] = Value::Null;
    assert!(parse_value(&doc).runs.is_empty());

    let clean = parse(&generated("bandit-1.9.4.clean.sarif"));
    assert!(clean.runs[0].results_reported && clean.findings.is_empty());

    // `results: null` or absent: the tool produced none (it failed), which proves nothing fixed.
    let mut doc = json(&generated("bandit-1.9.4.sarif"));
    doc["runs"][0]["results"] = Value::Null;
    let analysis = parse_value(&doc);
    assert!(!analysis.runs[0].results_reported && analysis.findings.is_empty());
    doc["runs"][0].as_object_mut().unwrap().remove("results");
    assert!(!parse_value(&doc).runs[0].results_reported);
}

#[test]
fn a_run_without_tool_and_duplicated_keys_are_invalid() {
    let mut doc = json(&generated("hadolint-2.15.1.sarif"));
    doc["runs"][0].as_object_mut().unwrap().remove("tool");
    let error = error_of_value(&doc);
    assert_eq!(error.path(), Some("runs[0]"));
    assert!(
        error.to_string().contains("missing field `tool`"),
        "{error}"
    );

    let text = String::from_utf8(bytes(&generated("checkov-3.3.30.sarif"))).unwrap();
    let doubled = text.replacen("\"results\": [", "\"results\": [], \"results\": [", 1);
    assert_ne!(doubled, text);
    let error = error_of(doubled.as_bytes(), &ParseOptions::default());
    assert!(
        error.to_string().contains("duplicate field `results`"),
        "{error}"
    );
}

#[test]
fn trailing_garbage_is_a_syntax_error() {
    let mut input = bytes(&generated("hadolint-2.15.1.sarif"));
    input.extend_from_slice(b"\n{\"more\": true}");
    let error = error_of(&input, &ParseOptions::default());
    assert!(matches!(error, SarifError::Syntax { .. }), "{error}");
}

#[test]
fn huge_strings_are_truncated_not_refused() {
    let mut doc = njsscan();
    let huge = "A".repeat(5 * 1024 * 1024);
    doc["runs"][0]["results"][2]["message"]["text"] = Value::from(huge.clone());
    doc["runs"][0]["results"][2]["locations"][0]["physicalLocation"]["region"]["snippet"]["text"] =
        Value::from(format!("é{huge}"));
    doc["runs"][0]["tool"]["driver"]["rules"][2]["id"] = Value::from(huge.clone());
    doc["runs"][0]["results"][2]["ruleId"] = Value::from(huge.clone());
    let input = serde_json::to_vec(&doc).unwrap();
    for analysis in [
        parse_slice(&input, &ParseOptions::default()).unwrap(),
        parse_reader(&input[..], &ParseOptions::default()).unwrap(),
    ] {
        let finding = &analysis.findings[2];
        assert!(finding.message.len() <= MAX_TEXT_BYTES + bounded::TRUNCATED.len());
        assert!(finding.message.ends_with(bounded::TRUNCATED));
        let snippet = finding
            .primary_location()
            .unwrap()
            .snippet
            .as_deref()
            .unwrap();
        assert!(snippet.len() <= MAX_SNIPPET_BYTES + bounded::TRUNCATED.len());
        assert!(snippet.starts_with('é'));
        // The truncated id still finds its (truncated) rule.
        assert!(finding.rule.declared);
        assert!(finding.rule.id.len() <= MAX_NAME_BYTES + bounded::TRUNCATED.len());
    }
}

#[test]
fn deep_nesting_is_skipped_where_free_form_and_refused_where_typed() {
    let deep = format!("{}{}", "[".repeat(100_000), "]".repeat(100_000));
    // In a property bag or an unknown key: skipped (serde_json does not recurse there).
    for (at, value) in [
        ("properties", format!("{{\"x\":{deep}}}")),
        ("unknownKey", deep.clone()),
    ] {
        let mut doc = njsscan();
        doc["runs"][0]["results"][4][at] = Value::Null;
        let text = serde_json::to_string(&doc).unwrap().replacen(
            &format!("\"{at}\":null"),
            &format!("\"{at}\":{value}"),
            1,
        );
        for analysis in [
            parse_slice(text.as_bytes(), &ParseOptions::default()).unwrap(),
            parse_reader(text.as_bytes(), &ParseOptions::default()).unwrap(),
        ] {
            assert_eq!(analysis.findings.len(), 6, "{at}");
        }
    }
    // Where SARIF has a shape: a type error at the first wrong level (serde reads an object from
    // an array positionally, so the error is at its first element).
    let mut doc = njsscan();
    doc["runs"][0]["results"][4]["message"] = Value::Null;
    let text = serde_json::to_string(&doc).unwrap().replacen(
        "\"message\":null",
        &format!("\"message\":{deep}"),
        1,
    );
    let error = error_of(text.as_bytes(), &ParseOptions::default());
    assert_eq!(
        error.path(),
        Some("runs[0].results[4].message[0]"),
        "{error}"
    );
}

#[test]
fn per_result_lists_are_bounded() {
    let mut doc = njsscan();
    let location = doc["runs"][0]["results"][1]["locations"][0].clone();
    let step = serde_json::json!({ "location": location });
    doc["runs"][0]["results"][1]["locations"] = Value::Array(vec![location; 10_000]);
    doc["runs"][0]["results"][1]["codeFlows"] =
        serde_json::json!([{ "threadFlows": [{ "locations": vec![step; 10_000] }] }, {}, {}]);
    let tags: Vec<String> = (0..1000).map(|i| format!("tag-{i}")).collect();
    doc["runs"][0]["results"][1]["properties"]["tags"] = serde_json::json!(tags);
    let analysis = parse_value(&doc);
    let finding = &analysis.findings[1];
    assert_eq!(finding.locations.len(), MAX_LOCATIONS);
    assert_eq!(finding.omitted_locations, 10_000 - MAX_LOCATIONS);
    let flow = finding.flow.as_ref().unwrap();
    assert_eq!((flow.steps, flow.code_flows), (10_000, 3));
    assert_eq!(finding.tags.len(), MAX_TAGS);
}

#[test]
fn aggregate_limits_reject_the_file() {
    let input = bytes(&generated("bandit-1.9.4.sarif"));

    let small = ParseOptions {
        max_input_bytes: 1000,
        ..ParseOptions::default()
    };
    let error = error_of(&input, &small);
    assert!(error.is_too_large(), "{error}");

    let few = ParseOptions {
        max_results: 5,
        ..ParseOptions::default()
    };
    let error = error_of(&input, &few);
    assert!(
        matches!(
            error,
            SarifError::LimitExceeded {
                limit: Limit::Results { max: 5 },
                ..
            }
        ),
        "{error}"
    );
    assert_eq!(error.path(), Some("runs[0].results"));

    // 1,001 runs (copies of a real clean run).
    let mut doc = json(&generated("bandit-1.9.4.clean.sarif"));
    let run = doc["runs"][0].clone();
    doc["runs"] = Value::Array(vec![run; MAX_RUNS + 1]);
    let error = error_of_value(&doc);
    assert!(
        matches!(
            error,
            SarifError::LimitExceeded {
                limit: Limit::Runs { .. },
                ..
            }
        ),
        "{error}"
    );

    // More rules than a run may hold (copies of a real rule).
    let mut doc = njsscan();
    let rule = doc["runs"][0]["tool"]["driver"]["rules"][0].clone();
    doc["runs"][0]["tool"]["driver"]["rules"] = Value::Array(vec![rule; MAX_RULES_PER_RUN + 1]);
    let error = error_of_value(&doc);
    assert!(
        matches!(
            error,
            SarifError::LimitExceeded {
                limit: Limit::RulesPerRun { .. },
                ..
            }
        ),
        "{error}"
    );
    assert_eq!(error.path(), Some("runs[0].tool.driver.rules"));

    // Rule texts adding up past the table's byte budget.
    let mut doc = njsscan();
    let mut rule = doc["runs"][0]["tool"]["driver"]["rules"][0].clone();
    rule["help"] = serde_json::json!({ "text": "h".repeat(MAX_HELP_BYTES), "markdown": "m".repeat(MAX_HELP_BYTES) });
    let needed = MAX_RULE_TABLE_BYTES / (2 * MAX_HELP_BYTES) + 2;
    doc["runs"][0]["tool"]["driver"]["rules"] = Value::Array(vec![rule; needed]);
    let error = error_of_value(&doc);
    assert!(
        matches!(
            error,
            SarifError::LimitExceeded {
                limit: Limit::RuleTableBytes { .. },
                ..
            }
        ),
        "{error}"
    );
}

#[test]
fn results_before_tool_are_held_within_the_buffer_limit() {
    // Semgrep writes `results` before `tool`: a reader holds them until `tool` arrives.
    let path = generated("semgrep-1.185.0.sarif");
    let input = bytes(&path);
    let text = String::from_utf8(input.clone()).unwrap();
    assert!(text.find("\"results\"").unwrap() < text.find("\"tool\"").unwrap());
    let tight = ParseOptions {
        max_buffered_bytes: 1000,
        ..ParseOptions::default()
    };
    let error = parse_reader(&input[..], &tight).unwrap_err();
    assert!(
        matches!(
            error,
            SarifError::LimitExceeded {
                limit: Limit::BufferedBytes { .. },
                ..
            }
        ),
        "{error}"
    );
    // A slice needs no buffer.
    assert_eq!(parse_slice(&input, &tight).unwrap().findings.len(), 4);
}

#[test]
fn base_ids_after_results_apply_from_a_slice() {
    // `originalUriBaseIds` naming a sub-directory, written after `results` (SpotBugs writes it
    // last); the run's keys written in this order by hand (a JSON map would sort them).
    let doc = json(&generated("semgrep-1.185.0.sarif"));
    let run = &doc["runs"][0];
    let text = format!(
        r#"{{"version":"2.1.0","runs":[{{"tool":{},"results":{},"originalUriBaseIds":{}}}]}}"#,
        run["tool"],
        run["results"],
        serde_json::json!({ "%SRCROOT%": { "uri": "services/api/", "uriBaseId": "REPO" } }),
    );
    let analysis = parse_slice(text.as_bytes(), &ParseOptions::default()).unwrap();
    assert_eq!(analysis.findings[0].path(), Some("services/api/app.py"));
    // A reader has normalised the results before it sees the base ids: paths as given.
    let streamed = parse_reader(text.as_bytes(), &ParseOptions::default()).unwrap();
    assert_eq!(streamed.findings[0].path(), Some("app.py"));
}
