//! A finding's severity on scantix's scale, from the first of these that says something:
//!
//! 1. the result's `properties.security-severity` (or a CVSS v3 base score property,
//!    Dependency-Check's `cvssv3_baseScore`), read as GitHub does: ≥ 9.0 critical, ≥ 7.0 high,
//!    ≥ 4.0 medium, else low;
//! 2. the rule's `properties.security-severity` (CodeQL, Trivy, Grype), or the severity word
//!    Semgrep 1.69 writes there (`"CRITICAL"`);
//! 3. a severity word in the result's properties: a word in `security-severity`, Bandit's
//!    `issue_severity`, Dependency-Check's `severity`, `cvssv3_baseSeverity`;
//! 4. the result's `level` (error high, warning medium, note/none note);
//! 5. the rule's `defaultConfiguration.level` (Semgrep 1.185, CodeQL, Checkov);
//! 6. a severity word in the rule's properties (`severity`, CodeQL's `problem.severity`);
//! 7. SARIF's default level, `warning` (medium).
//!
//! Issue 9 lists tool-specific properties after `level`; here a result's own severity word comes
//! before it because tools that write one set `level` to a constant: Dependency-Check writes
//! `level: error` on every result while its `severity` says `low` or `medium`. Bandit's `level`
//! agrees with its `issue_severity` wherever both are present, so it reads the same either way.

use crate::bounded::PropertyBag;
use crate::model::{Level, Rule, Severity, SeveritySource};

/// Result property keys holding a CVSS-style score, most specific first.
const SCORE_KEYS: &[&str] = &["security-severity", "cvssv3_baseScore"];
/// Result property keys holding a severity word.
/// (`security-severity` first: Semgrep 1.69 writes a word there, `"CRITICAL"`, not a score.)
const WORD_KEYS: &[&str] = &[
    "security-severity",
    "issue_severity",
    "severity",
    "cvssv3_baseSeverity",
];
/// Rule property keys holding a severity word.
pub(crate) const RULE_WORD_KEYS: &[&str] = &["severity", "problem.severity"];

/// Reads a score as written (`"7.5"` or `7.5`); `None` unless a number in 0-10.
pub fn parse_score(text: &str) -> Option<f64> {
    let score: f64 = text.trim().parse().ok()?;
    Severity::from_score(score).map(|_| score)
}

/// Decides a finding's severity (see the module docs).
pub fn decide(
    properties: Option<&PropertyBag>,
    level: Option<Level>,
    rule: &Rule,
) -> (Severity, SeveritySource) {
    if let Some(bag) = properties {
        for key in SCORE_KEYS {
            if let Some((key, value)) = bag.first_of(&[key])
                && let Some(score) = parse_score(value)
                && let Some(severity) = Severity::from_score(score)
            {
                let key = key.to_owned();
                return (severity, SeveritySource::ResultScore { key, score });
            }
        }
    }
    if let Some(score) = rule.security_severity
        && let Some(severity) = Severity::from_score(score)
    {
        return (severity, SeveritySource::RuleScore { score });
    }
    if let Some(severity) = rule.security_severity_word {
        return (severity, SeveritySource::RuleSecuritySeverityWord);
    }
    if let Some(bag) = properties {
        for key in WORD_KEYS {
            if let Some((key, value)) = bag.first_of(&[key])
                && let Some(severity) = Severity::parse_word(value)
            {
                let key = key.to_owned();
                return (severity, SeveritySource::ResultProperty { key });
            }
        }
    }
    if let Some(level) = level {
        return (Severity::from_level(level), SeveritySource::Level);
    }
    if let Some(level) = rule.default_level {
        return (
            Severity::from_level(level),
            SeveritySource::RuleDefaultLevel,
        );
    }
    if let Some((key, severity)) = &rule.property_severity {
        let key = key.clone();
        return (*severity, SeveritySource::RuleProperty { key });
    }
    (
        Severity::from_level(Level::Warning),
        SeveritySource::SarifDefault,
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn scores_map_as_github_reads_them() {
        let cases = [
            (9.0, "critical"),
            (8.9, "high"),
            (7.0, "high"),
            (6.9, "medium"),
            (4.0, "medium"),
            (3.9, "low"),
            (0.0, "low"),
        ];
        for (score, expected) in cases {
            assert_eq!(
                Severity::from_score(score).unwrap().as_str(),
                expected,
                "{score}"
            );
        }
        assert_eq!(parse_score("10.5"), None);
        assert_eq!(parse_score("NaN"), None);
        assert_eq!(parse_score(" 7.5 "), Some(7.5));
    }
}
