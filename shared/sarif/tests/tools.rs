//! Each real tool's SARIF, read: counts, severities, CWEs, locations, flows, suppressions,
//! fingerprints. Expected values are read off the files themselves (see tests/fixtures/SOURCES.md).
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    reason = "test code: a failed assumption is the test failing"
)]

mod common;

use common::*;
use scantix_sarif::*;

fn severities(analysis: &Analysis) -> Vec<Severity> {
    analysis.findings.iter().map(|f| f.severity).collect()
}

fn distinct_identities(analysis: &Analysis) -> usize {
    let mut ids: Vec<&str> = analysis
        .findings
        .iter()
        .map(|f| f.identity.value.as_str())
        .collect();
    ids.sort();
    ids.dedup();
    ids.len()
}

#[test]
fn bandit_severity_comes_from_issue_severity_and_cwe_from_rule_tags() {
    let analysis = parse(&generated("bandit-1.9.4.sarif"));
    assert_eq!(analysis.runs.len(), 1);
    let run = &analysis.runs[0];
    assert_eq!(run.tool.name, "Bandit");
    assert_eq!(run.tool.display_version(), Some("1.9.4"));
    assert_eq!(run.execution_successful, Some(true));
    assert_eq!((run.result_count, analysis.findings.len()), (11, 11));

    // HIGH 3 (level error), MEDIUM 5 (no level at all), LOW 3 (level note).
    let s = severities(&analysis);
    assert_eq!(count(s.iter().copied(), Severity::High), 3);
    assert_eq!(count(s.iter().copied(), Severity::Medium), 5);
    assert_eq!(count(s.iter().copied(), Severity::Low), 3);
    for finding in &analysis.findings {
        assert_eq!(
            finding.severity_source,
            SeveritySource::ResultProperty {
                key: "issue_severity".into()
            }
        );
        assert_eq!(finding.cwes.len(), 1, "{}", finding.rule.id);
    }

    let shell = &by_rule(&analysis, "B602")[0];
    assert_eq!(shell.cwes, vec!["CWE-78"]);
    assert_eq!(
        shell.rule.name.as_deref(),
        Some("subprocess_popen_with_shell_equals_true")
    );
    assert_eq!(shell.rule.precision.as_deref(), Some("high"));
    assert_eq!(shell.confidence.as_deref(), Some("high"));
    let at = shell.primary_location().unwrap();
    assert_eq!((at.path.as_deref(), at.relative), (Some("app.py"), true));
    assert_eq!(
        (at.start_line, at.start_column, at.end_column),
        (Some(18), Some(12), Some(52))
    );
    assert_eq!(
        at.snippet.as_deref(),
        Some("    return subprocess.check_output(cmd, shell=True)\n")
    );
    assert_eq!(by_rule(&analysis, "B113")[0].cwes, vec!["CWE-400"]);
    assert_eq!(
        by_rule(&analysis, "B105")[0].confidence.as_deref(),
        Some("medium")
    );

    // No fingerprints: identities from rule, path and snippet; B501 and B113 flag the same line.
    assert!(
        analysis
            .findings
            .iter()
            .all(|f| f.identity.basis == IdentityBasis::Snippet)
    );
    assert_eq!(distinct_identities(&analysis), 11);
}

#[test]
fn bandit_clean_scan_is_one_run_with_no_results() {
    let analysis = parse(&generated("bandit-1.9.4.clean.sarif"));
    assert_eq!(analysis.runs.len(), 1);
    assert!(analysis.findings.is_empty());
    assert!(
        analysis.runs[0].results_reported,
        "an empty array is a clean scan"
    );
    assert_eq!(analysis.runs[0].result_count, 0);
}

#[test]
fn semgrep_constant_fingerprint_is_ignored_and_severity_comes_from_the_rule_default() {
    let analysis = parse(&generated("semgrep-1.185.0.sarif"));
    assert_eq!(analysis.runs[0].tool.name, "Semgrep OSS");
    assert_eq!(
        analysis.runs[0].tool.semantic_version.as_deref(),
        Some("1.185.0")
    );
    assert_eq!(analysis.findings.len(), 4);
    for finding in &analysis.findings {
        assert_eq!(finding.fingerprints["matchBasedId/v1"], "requires login");
        assert_eq!(finding.identity.basis, IdentityBasis::Snippet);
        assert_eq!(finding.severity_source, SeveritySource::RuleDefaultLevel);
        assert_eq!(finding.confidence.as_deref(), Some("very-high"));
        let at = finding.primary_location().unwrap();
        assert_eq!(at.uri_base_id.as_deref(), Some("%SRCROOT%"));
        assert_eq!(at.path.as_deref(), Some("app.py"));
    }
    assert_eq!(distinct_identities(&analysis), 4);
    let command = &by_rule(&analysis, "flask-command-injection")[0];
    assert_eq!(command.severity, Severity::High);
    assert_eq!(command.cwes, vec!["CWE-78"]);
    assert_eq!(command.rule.default_level, Some(Level::Error));
    assert_eq!(
        command.rule.help_text.as_deref(),
        Some("User input from a Flask request reaches a shell command.")
    );
    let md5 = &by_rule(&analysis, "insecure-md5")[0];
    assert_eq!(
        (md5.severity, md5.cwes.as_slice()),
        (Severity::Medium, &["CWE-327".to_owned()][..])
    );
    assert_eq!(
        by_rule(&analysis, "flask-sql-injection")[0].cwes,
        vec!["CWE-89"]
    );
}

#[test]
fn semgrep_in_source_suppression_is_honoured() {
    let analysis = parse(&generated("semgrep-1.185.0.suppressed.sarif"));
    assert_eq!(analysis.findings.len(), 2);
    assert_eq!(analysis.runs[0].suppressed_count, 1);
    let (suppressed, open) = (&analysis.findings[0], &analysis.findings[1]);
    assert!(suppressed.suppressed);
    assert!(!suppressed.is_open_problem());
    assert_eq!(
        suppressed.suppressions,
        vec![Suppression {
            kind: Some("inSource".into()),
            status: None,
            justification: None
        }]
    );
    assert_eq!(suppressed.line(), Some(6));
    assert!(!open.suppressed);
    assert!(open.is_open_problem());
    assert_eq!(open.line(), Some(10));
    // Same rule, same constant fingerprint: only the code tells them apart.
    assert_ne!(suppressed.identity.value, open.identity.value);
}

#[test]
fn semgrep_1_69_real_fingerprints_and_word_security_severity() {
    let analysis = parse(&shared(
        "semgrep/defectdojo.semgrep-oss-1.69.0.issue_10191.sarif",
    ));
    assert_eq!(analysis.findings.len(), 77);
    assert!(analysis.findings.iter().all(|f| matches!(
        &f.identity.basis,
        IdentityBasis::Fingerprint { key } if key == "matchBasedId/v1"
    )));
    assert_eq!(distinct_identities(&analysis), 77);
    // Its rules say "security-severity": "CRITICAL" / "HIGH" / "MEDIUM" (words, not scores).
    let s = severities(&analysis);
    assert_eq!(count(s.iter().copied(), Severity::Critical), 34);
    assert_eq!(count(s.iter().copied(), Severity::High), 1);
    assert_eq!(count(s.iter().copied(), Severity::Medium), 42);
    assert!(
        analysis
            .findings
            .iter()
            .all(|f| f.severity_source == SeveritySource::RuleSecuritySeverityWord)
    );
    let nosql = analysis
        .findings
        .iter()
        .filter(|f| f.cwes == ["CWE-943"])
        .count();
    assert_eq!(nosql, 27);
}

#[test]
fn checkov_has_levels_and_help_but_no_cwe() {
    let analysis = parse(&generated("checkov-3.3.30.sarif"));
    assert_eq!(analysis.runs[0].tool.name, "Checkov");
    assert_eq!(analysis.runs[0].execution_successful, None);
    assert_eq!(analysis.findings.len(), 14);
    assert!(
        analysis
            .findings
            .iter()
            .all(|f| f.severity == Severity::High
                && f.severity_source == SeveritySource::Level
                && f.cwes.is_empty())
    );
    let root = &by_rule(&analysis, "CKV_DOCKER_8")[0];
    assert_eq!((root.path(), root.line()), (Some("Dockerfile"), Some(5)));
    assert_eq!(
        root.rule.help_text.as_deref(),
        Some("Ensure the last USER is not root\nResource: /Dockerfile.USER")
    );
    let files: Vec<_> = analysis.findings.iter().filter_map(|f| f.path()).collect();
    assert_eq!(count(files.iter().copied(), "main.tf"), 10);
    // CKV_AWS_24 and CKV_AWS_23 flag the same block: different rules, different identities.
    assert_eq!(distinct_identities(&analysis), 14);
}

#[test]
fn hadolint_declares_no_rules_and_has_no_snippets() {
    let analysis = parse(&generated("hadolint-2.15.1.sarif"));
    assert_eq!(analysis.findings.len(), 7);
    let ids: Vec<&str> = analysis
        .findings
        .iter()
        .map(|f| f.rule.id.as_str())
        .collect();
    assert_eq!(
        ids,
        [
            "DL3007", "DL3009", "DL3008", "DL3015", "DL3003", "DL3002", "DL3066"
        ]
    );
    assert!(analysis.findings.iter().all(|f| !f.rule.declared
        && f.rule_source == RuleSource::RuleId
        && f.identity.basis == IdentityBasis::Message));
    let s = severities(&analysis);
    assert_eq!(
        (
            count(s.iter().copied(), Severity::Medium),
            count(s.iter().copied(), Severity::Note)
        ),
        (4, 3)
    );
    assert_eq!(
        analysis.findings[0].message,
        "Using latest is prone to errors if the image will ever update. Pin the version explicitly to a release tag"
    );
    assert_eq!(distinct_identities(&analysis), 7);
}

#[test]
fn eslint_absolute_runner_uris_become_repository_relative() {
    let analysis = parse(&generated("eslint-9.39.5.sarif"));
    assert_eq!(analysis.findings.len(), 3);
    for finding in &analysis.findings {
        let at = finding.primary_location().unwrap();
        assert_eq!((at.path.as_deref(), at.relative), (Some("server.js"), true));
        assert_eq!(
            at.uri.as_deref(),
            Some("file:///home/runner/work/scantix-fixture/scantix-fixture/server.js")
        );
    }
    let levels: Vec<_> = analysis
        .findings
        .iter()
        .map(|f| (f.rule.id.as_str(), f.severity, f.line()))
        .collect();
    assert_eq!(
        levels,
        [
            ("security/detect-child-process", Severity::Medium, Some(9)),
            (
                "security/detect-eval-with-expression",
                Severity::Medium,
                Some(13)
            ),
            ("no-eval", Severity::High, Some(13)),
        ]
    );
    assert_eq!(
        analysis.findings[0].rule.short_description.as_deref(),
        Some("Detects instances of \"child_process\" & non-literal \"exec()\" calls.")
    );
    assert_eq!(distinct_identities(&analysis), 3);
}

#[test]
fn njsscan_cwes_come_from_tags_and_properties() {
    let analysis = parse(&generated("njsscan-1.0.1.sarif"));
    assert_eq!(analysis.runs[0].tool.name, "nodejsscan");
    assert_eq!(analysis.findings.len(), 6);
    assert!(
        analysis
            .findings
            .iter()
            .all(|f| f.severity == Severity::High)
    );
    let cwes: Vec<(&str, Vec<String>)> = analysis
        .findings
        .iter()
        .map(|f| (f.rule.id.as_str(), f.cwes.clone()))
        .collect();
    assert_eq!(
        cwes[0],
        ("hardcoded_jwt_secret", vec!["CWE-798".to_owned()])
    );
    assert_eq!(
        cwes[5],
        ("express_open_redirect", vec!["CWE-601".to_owned()])
    );
    assert_eq!(
        analysis.findings[0].properties["cwe"],
        "CWE-798: Use of Hard-coded Credentials"
    );
    assert!(analysis.findings[0].secret);
    assert!(analysis.findings[1..].iter().all(|f| !f.secret));
    let xss = by_rule(&analysis, "express_xss");
    assert_eq!((xss[0].line(), xss[1].line()), (Some(13), Some(17)));
    assert_eq!(distinct_identities(&analysis), 6);
}

#[test]
fn codeql_ruby_flows_severities_and_line_hashes() {
    let analysis = parse(&shared("codeql/fabasoad-sarif-to-slack.codeql-ruby.sarif"));
    let run = &analysis.runs[0];
    assert_eq!(
        (run.tool.name.as_str(), run.tool.display_version()),
        ("CodeQL", Some("2.19.0"))
    );
    assert_eq!(analysis.findings.len(), 4);
    let summary: Vec<_> = analysis
        .findings
        .iter()
        .map(|f| (f.rule.id.as_str(), f.severity, f.rule.security_severity))
        .collect();
    assert_eq!(
        summary,
        [
            ("rb/request-forgery", Severity::Critical, Some(9.1)),
            ("rb/csrf-protection-not-enabled", Severity::High, Some(8.8)),
            ("rb/kernel-open", Severity::Critical, Some(9.8)),
            ("rb/non-constant-kernel-open", Severity::Critical, Some(9.8)),
        ]
    );
    assert!(analysis.findings.iter().all(|f| f.identity.basis
        == IdentityBasis::PartialFingerprints {
            keys: vec!["primaryLocationLineHash".into()]
        }));
    // Three rules flag line 6 with the same line hash: still three findings.
    assert_eq!(distinct_identities(&analysis), 4);
    assert_eq!(
        analysis.findings[2].cwes,
        vec!["CWE-73", "CWE-78", "CWE-88"]
    );

    let forgery = &analysis.findings[0];
    assert_eq!(forgery.rule_source, RuleSource::RuleId);
    let flow = forgery.flow.as_ref().unwrap();
    assert_eq!((flow.steps, flow.code_flows), (4, 1));
    assert_eq!(
        (
            flow.source.path.as_deref(),
            flow.source.start_line,
            flow.source.start_column
        ),
        (Some("script.rb"), Some(5), Some(16))
    );
    assert_eq!(flow.source.message.as_deref(), Some("call to params"));
    assert_eq!(
        (flow.sink.start_line, flow.sink.message.as_deref()),
        (Some(6), Some("filename"))
    );
    assert!(analysis.findings[1].flow.is_none());
}

#[test]
fn codeql_same_line_hash_in_two_files_is_two_findings() {
    let analysis = parse(&shared(
        "codeql/sett-and-hive-sarif-to-comment-action.codeql.sarif",
    ));
    assert_eq!(analysis.runs[0].tool.name, "CodeQL command-line toolchain");
    assert_eq!(analysis.findings.len(), 2);
    let [a, b] = [&analysis.findings[0], &analysis.findings[1]];
    assert_eq!(a.partial_fingerprints, b.partial_fingerprints);
    assert_eq!(
        (a.path(), b.path()),
        (Some("examples/Xss.js"), Some("examples/Xss2.js"))
    );
    assert_ne!(a.identity.value, b.identity.value);
    // No security-severity in this older CodeQL: the rule's default level.
    assert_eq!(
        (a.severity, &a.severity_source),
        (Severity::High, &SeveritySource::RuleDefaultLevel)
    );
    assert_eq!(a.cwes, vec!["CWE-116", "CWE-79"]);
    let flow = a.flow.as_ref().unwrap();
    assert_eq!(
        (flow.steps, flow.source.start_line, flow.sink.start_line),
        (8, Some(2), Some(4))
    );
    assert_eq!(flow.source.message.as_deref(), Some("document.location"));
}

#[test]
fn codeql_typescript_and_python_flows_and_scores() {
    let ts = parse(&shared(
        "codeql/fabasoad-sarif-to-slack.codeql-typescript.sarif",
    ));
    let injection = &ts.findings[0];
    assert_eq!(
        (injection.rule.id.as_str(), injection.severity),
        ("js/code-injection", Severity::Critical)
    );
    let flow = injection.flow.as_ref().unwrap();
    assert_eq!(
        (flow.steps, flow.source.start_line, flow.sink.start_line),
        (6, Some(27), Some(38))
    );
    assert_eq!(flow.source.message.as_deref(), Some("req.query.username"));
    assert_eq!(injection.path(), Some("yarn/src/app.ts"));

    let py = parse(&shared(
        "codeql/advanced-security-filter-sarif.test_input.sarif",
    ));
    assert_eq!(
        py.findings[0].severity_source,
        SeveritySource::RuleScore { score: 10.0 }
    );
    assert_eq!(py.findings[0].severity, Severity::Critical);

    let bind = parse(&shared(
        "codeql/fabasoad-sarif-to-slack.codeql-python.sarif",
    ));
    assert_eq!(
        (bind.findings[0].severity, bind.findings[0].cwes.as_slice()),
        (Severity::Medium, &["CWE-200".to_owned()][..])
    );
}

#[test]
fn every_fixture_parses_the_same_from_a_slice_and_a_reader() {
    for path in all_fixtures() {
        let analysis = parse(&path);
        for finding in &analysis.findings {
            assert_eq!(finding.identity.value.len(), 32);
            assert!(
                finding
                    .identity
                    .value
                    .bytes()
                    .all(|b| b.is_ascii_hexdigit())
            );
            assert!(!finding.rule.id.is_empty());
        }
    }
}
