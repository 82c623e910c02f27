//! Secrets that scanners copy into results never leave the crate.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    reason = "test code: a failed assumption is the test failing"
)]

mod common;

use common::*;
use scantix_sarif::redact::REDACTED;
use scantix_sarif::*;

/// The quoted literal on the line of `snippet` that contains `marker`.
fn literal_on_line(snippet: &str, marker: &str) -> String {
    let line = snippet.lines().find(|l| l.contains(marker)).unwrap();
    let start = line.find('\'').unwrap() + 1;
    let end = start + line[start..].find('\'').unwrap();
    line[start..end].to_owned()
}

fn serialized(analysis: &Analysis) -> String {
    serde_json::to_string(analysis).unwrap()
}

#[test]
fn njsscan_jwt_secret_appears_nowhere_in_the_output() {
    let path = generated("njsscan-1.0.1.sarif");
    let raw = json(&path);
    // The secret, taken from the fixture: the literal njsscan's hardcoded_jwt_secret match signs with.
    let secret_result = &raw["runs"][0]["results"][0];
    assert_eq!(secret_result["ruleId"], "hardcoded_jwt_secret");
    let snippet = secret_result["locations"][0]["physicalLocation"]["region"]["snippet"]["text"]
        .as_str()
        .unwrap();
    let secret = literal_on_line(snippet, "jwt.sign");
    assert_eq!(secret.len(), 16, "{secret}");
    let raw_text = String::from_utf8(bytes(&path)).unwrap();
    assert_eq!(
        raw_text.matches(&secret).count(),
        2,
        "the fixture holds it twice"
    );

    let analysis = parse(&path);
    for output in [serialized(&analysis), format!("{analysis:?}")] {
        assert!(!output.contains(&secret), "the secret leaked: {output}");
    }
    // Reader mode too.
    let streamed = parse_reader(&bytes(&path)[..], &ParseOptions::default()).unwrap();
    assert!(!serialized(&streamed).contains(&secret));

    let finding = &analysis.findings[0];
    assert!(finding.secret && finding.rule.secret);
    assert_eq!(
        finding.primary_location().unwrap().snippet.as_deref(),
        Some(REDACTED)
    );
    assert_eq!(
        finding.message,
        "Hardcoded JWT secret was found. Store it properly in an environment variable."
    );
    assert_eq!(
        finding.properties["cwe"],
        "CWE-798: Use of Hard-coded Credentials"
    );

    // The XSS finding on the signing line keeps its code, not the literal.
    let xss = analysis
        .findings
        .iter()
        .find(|f| f.line() == Some(17))
        .unwrap();
    assert!(!xss.secret);
    assert_eq!(
        xss.primary_location().unwrap().snippet.as_deref(),
        Some("  res.send(jwt.sign({ user: req.query.user }, '[REDACTED]'));")
    );
    // Other findings' snippets are untouched.
    let exec = analysis
        .findings
        .iter()
        .find(|f| f.rule.id == "generic_os_command_exec")
        .unwrap();
    assert_eq!(
        exec.primary_location().unwrap().snippet.as_deref(),
        Some("  exec('ls ' + req.query.dir, (err, out) => res.send(out));")
    );
}

#[test]
fn bandit_hardcoded_password_appears_nowhere_in_the_output() {
    let path = generated("bandit-1.9.4.sarif");
    let raw = json(&path);
    let result = raw["runs"][0]["results"]
        .as_array()
        .unwrap()
        .iter()
        .find(|r| r["ruleId"] == "B105")
        .unwrap();
    let snippet = result["locations"][0]["physicalLocation"]["region"]["snippet"]["text"]
        .as_str()
        .unwrap();
    let password = snippet.split('"').nth(1).unwrap().to_owned();
    assert!(String::from_utf8(bytes(&path)).unwrap().contains(&password));

    let analysis = parse(&path);
    assert!(!serialized(&analysis).contains(&password));
    let finding = &by_rule(&analysis, "B105")[0];
    assert!(finding.secret, "CWE-259 makes it a secret rule");
    assert_eq!(finding.message, "Possible hardcoded password: '[REDACTED]'");
    assert_eq!(
        finding.primary_location().unwrap().snippet.as_deref(),
        Some(REDACTED)
    );
    // Classification properties stay.
    assert_eq!(finding.properties["issue_severity"], "LOW");
}

#[test]
fn secret_identities_do_not_hash_the_secret_alone() {
    // The identity of the secret finding survives rotating the secret (same place, same rule),
    // so it is not derived from the secret's value.
    let path = generated("bandit-1.9.4.sarif");
    let before = parse(&path);
    let mut doc = json(&path);
    for result in doc["runs"][0]["results"].as_array_mut().unwrap() {
        if result["ruleId"] == "B105" {
            let region = &mut result["locations"][0]["physicalLocation"]["region"];
            region["snippet"]["text"] = "DB_PASSWORD = \"rotated-value\"\n".into();
        }
    }
    let after = parse_value(&doc);
    let id = |a: &Analysis| by_rule(a, "B105")[0].identity.value.clone();
    assert_eq!(id(&before), id(&after));
}
