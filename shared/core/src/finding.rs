//! The one model every scanner's alert is normalised into, whatever GitHub event or SARIF file it
//! came from. Everything downstream (grouping, decisions, tickets) reads only this.

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use std::fmt;

/// Which alert family a finding belongs to (GitHub's three, or any scanner's SARIF); part of its
/// identity.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum AlertKind {
    CodeScanning,
    Dependabot,
    SecretScanning,
    /// A result of a SARIF file applied to scantix directly (`scantix sarif`, the upload
    /// endpoint): any scanner's, named by `Finding::tool`. GitHub knows nothing of it, so it is
    /// never verified, dismissed or listed there; its analyses are its truth
    /// (`decide::analysis`).
    Sarif,
}

impl AlertKind {
    /// Short, stable spelling used inside keys and labels.
    pub fn as_str(self) -> &'static str {
        match self {
            AlertKind::CodeScanning => "code-scanning",
            AlertKind::Dependabot => "dependabot",
            AlertKind::SecretScanning => "secret-scanning",
            AlertKind::Sarif => "sarif",
        }
    }

    /// Whether GitHub holds the alert (and can be asked about it, or told to dismiss it).
    pub fn is_github_alert(self) -> bool {
        self != AlertKind::Sarif
    }

    /// What a person calls it in a ticket.
    pub fn label(self) -> &'static str {
        match self {
            AlertKind::CodeScanning => "Code scanning",
            AlertKind::Dependabot => "Dependabot",
            AlertKind::SecretScanning => "Secret scanning",
            AlertKind::Sarif => "SARIF",
        }
    }
}

impl fmt::Display for AlertKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// Severity on one scale for every scanner, ordered so that `Critical` is the greatest.
#[derive(
    Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize, Default,
)]
#[serde(rename_all = "snake_case")]
pub enum Severity {
    #[default]
    Unknown,
    Note,
    Low,
    Medium,
    High,
    Critical,
}

impl Severity {
    /// Reads the spellings scanners use: GitHub's `security_severity_level` and advisory severities
    /// (`critical`, `high`, `medium`/`moderate`, `low`), SARIF levels (`error`, `warning`, `note`)
    /// and tool tags such as Trivy's `"MEDIUM"`. Unknown words give `None`.
    pub fn parse_loose(word: &str) -> Option<Severity> {
        match word.trim().to_ascii_lowercase().as_str() {
            "critical" => Some(Severity::Critical),
            "high" | "error" => Some(Severity::High),
            "medium" | "moderate" | "warning" => Some(Severity::Medium),
            "low" => Some(Severity::Low),
            "note" | "info" | "informational" | "none" => Some(Severity::Note),
            _ => None,
        }
    }

    /// CVSS v3 qualitative rating of a base score.
    pub fn from_cvss(score: f64) -> Severity {
        match score {
            s if s >= 9.0 => Severity::Critical,
            s if s >= 7.0 => Severity::High,
            s if s >= 4.0 => Severity::Medium,
            s if s > 0.0 => Severity::Low,
            _ => Severity::Note,
        }
    }

    pub fn as_str(self) -> &'static str {
        match self {
            Severity::Unknown => "unknown",
            Severity::Note => "note",
            Severity::Low => "low",
            Severity::Medium => "medium",
            Severity::High => "high",
            Severity::Critical => "critical",
        }
    }
}

impl fmt::Display for Severity {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// The repository an alert lives in. The numeric id is the identity (it survives renames and
/// transfers); the full name is for people.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct Repository {
    pub id: u64,
    pub full_name: String,
    pub default_branch: Option<String>,
    pub html_url: Option<String>,
}

/// Where in the code a finding points.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize, Default)]
pub struct Location {
    pub path: String,
    pub start_line: Option<u64>,
    pub end_line: Option<u64>,
}

impl fmt::Display for Location {
    /// `path:line`, or just the path when the scanner gave no line.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.start_line {
            Some(line) => write!(f, "{}:{line}", self.path),
            None => f.write_str(&self.path),
        }
    }
}

/// One step of a data-flow path (source → sink), when the scanner reports one.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct FlowStep {
    pub location: Location,
    pub message: Option<String>,
}

/// The rule, advisory or secret type that produced a finding.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, Default)]
pub struct Rule {
    /// Scanner rule id (`js/xss`), the GHSA id for Dependabot, the secret type for secrets.
    pub id: String,
    /// One-line human name of the problem.
    pub name: String,
    /// Longer explanation, as the scanner wrote it (attacker-influenced: render inert).
    pub description: Option<String>,
    /// Remediation guidance, Markdown as the scanner wrote it.
    pub help: Option<String>,
    pub help_uri: Option<String>,
}

/// A vulnerable dependency (Dependabot findings only).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Package {
    pub ecosystem: String,
    pub name: String,
    pub manifest_path: String,
    pub vulnerable_range: Option<String>,
    pub first_patched: Option<String>,
}

/// Identifiers of a public advisory (Dependabot findings, some code scanning tools).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, Default)]
pub struct Advisory {
    pub ghsa_id: Option<String>,
    pub cve_id: Option<String>,
    pub cvss_score: Option<f64>,
    pub references: Vec<String>,
    /// How likely the vulnerability is to be exploited (Dependabot's `security_advisory.epss`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub epss: Option<Epss>,
}

/// FIRST's Exploit Prediction Scoring System, as GitHub reports it on an advisory: both numbers
/// are fractions of 1 (`0.00045` is a 0.045 % chance; `0.16` the 16th percentile). GitHub's
/// OpenAPI description bounds them 0..100, but its own examples and the live API send fractions
/// (`{"percentage": 0.00014, "percentile": 0.02594}`), so fractions they are here.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct Epss {
    /// The probability of exploitation in the next 30 days, 0 to 1.
    pub percentage: f64,
    /// Where that probability ranks among all scored CVEs, 0 to 1, when given.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub percentile: Option<f64>,
}

/// Whether a leaked secret still works, as GitHub last checked it with its provider.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum SecretValidity {
    Active,
    Inactive,
    Unknown,
}

impl SecretValidity {
    /// GitHub's spelling (`active`, `inactive`, `unknown`); other words give `None`.
    pub fn parse(word: &str) -> Option<SecretValidity> {
        match word {
            "active" => Some(SecretValidity::Active),
            "inactive" => Some(SecretValidity::Inactive),
            "unknown" => Some(SecretValidity::Unknown),
            _ => None,
        }
    }
}

/// How exposed a leaked secret is (secret scanning findings only): what makes one an incident
/// and another a chore.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize, Default)]
pub struct SecretExposure {
    /// `None` when GitHub did not say (validity checks off, or an older payload).
    #[serde(default)]
    pub validity: Option<SecretValidity>,
    /// Found in a public location (a public repository, a gist) as well.
    #[serde(default)]
    pub publicly_leaked: bool,
}

/// The alert's state as GitHub reports it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize, Default)]
#[serde(rename_all = "snake_case")]
pub enum AlertState {
    /// Open, or GitHub gave no state (code scanning alerts off the default branch).
    #[default]
    Open,
    Fixed,
    Dismissed,
}

impl AlertState {
    pub fn as_str(self) -> &'static str {
        match self {
            AlertState::Open => "open",
            AlertState::Fixed => "fixed",
            AlertState::Dismissed => "dismissed",
        }
    }
}

/// Why a person closes an alert without a fix, in scantix's words. Each alert kind spells it its
/// own way in GitHub's API; `spelling` gives that.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum DismissReason {
    FalsePositive,
    WontFix,
    UsedInTests,
}

impl DismissReason {
    /// The `dismissed_reason` / `resolution` value GitHub expects for `kind`.
    pub fn spelling(self, kind: AlertKind) -> &'static str {
        match (kind, self) {
            // A SARIF finding's dismissal stays in scantix: spelled as code scanning's, its kin.
            (AlertKind::CodeScanning | AlertKind::Sarif, DismissReason::FalsePositive) => {
                "false positive"
            }
            (AlertKind::CodeScanning | AlertKind::Sarif, DismissReason::WontFix) => "won't fix",
            (AlertKind::CodeScanning | AlertKind::Sarif, DismissReason::UsedInTests) => {
                "used in tests"
            }
            (AlertKind::SecretScanning, DismissReason::FalsePositive) => "false_positive",
            (AlertKind::SecretScanning, DismissReason::WontFix) => "wont_fix",
            (AlertKind::SecretScanning, DismissReason::UsedInTests) => "used_in_tests",
            (AlertKind::Dependabot, DismissReason::FalsePositive) => "inaccurate",
            (AlertKind::Dependabot, DismissReason::WontFix) => "tolerable_risk",
            (AlertKind::Dependabot, DismissReason::UsedInTests) => "not_used",
        }
    }
}

/// Why and by whom an alert was dismissed (or resolved without a fix).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Dismissal {
    pub by: Option<String>,
    /// The reason exactly as GitHub spells it for this alert kind (`won't fix`, `wont_fix`, …).
    pub reason: Option<String>,
    pub comment: Option<String>,
    pub at: Option<DateTime<Utc>>,
}

/// A security alert, normalised.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Finding {
    pub kind: AlertKind,
    pub repository: Repository,
    pub number: u64,
    pub rule: Rule,
    pub severity: Severity,
    pub cwes: Vec<String>,
    pub tool: Option<String>,
    pub location: Option<Location>,
    pub flow: Vec<FlowStep>,
    pub package: Option<Package>,
    pub advisory: Option<Advisory>,
    /// Secret scanning only: whether the secret works and whether it leaked publicly.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub secret: Option<SecretExposure>,
    /// The GitHub logins the alert is assigned to, when the delivery or listing said (`Some(vec![])`:
    /// nobody); `None` when it did not carry them.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub assignees: Option<Vec<String>>,
    /// Git ref the alert was seen on (`refs/heads/main`, `refs/pull/7/merge`), when known.
    pub git_ref: Option<String>,
    pub commit_sha: Option<String>,
    pub state: AlertState,
    pub dismissal: Option<Dismissal>,
    pub html_url: Option<String>,
    pub created_at: Option<DateTime<Utc>>,
    pub updated_at: Option<DateTime<Utc>>,
}

impl Finding {
    /// The pull request number when the alert was seen only on a PR's merge or head ref.
    pub fn pull_request(&self) -> Option<u64> {
        pull_request_of_ref(self.git_ref.as_deref()?)
    }

    /// A short "path:line" for lists, or the manifest for dependencies.
    pub fn place(&self) -> String {
        if let Some(loc) = &self.location {
            return loc.to_string();
        }
        match &self.package {
            Some(p) => p.manifest_path.clone(),
            None => String::new(),
        }
    }
}

/// The pull request number of a pull request's merge or head ref (`refs/pull/7/merge`).
pub fn pull_request_of_ref(git_ref: &str) -> Option<u64> {
    let rest = git_ref.strip_prefix("refs/pull/")?;
    let (number, tail) = rest.split_once('/')?;
    matches!(tail, "merge" | "head")
        .then(|| number.parse().ok())
        .flatten()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn severity_words_and_scores_map_onto_one_scale() {
        assert_eq!(Severity::parse_loose("MEDIUM"), Some(Severity::Medium));
        assert_eq!(Severity::parse_loose("moderate"), Some(Severity::Medium));
        assert_eq!(Severity::parse_loose("error"), Some(Severity::High));
        assert_eq!(Severity::parse_loose("bogus"), None);
        assert_eq!(Severity::from_cvss(9.8), Severity::Critical);
        assert_eq!(Severity::from_cvss(5.3), Severity::Medium);
        assert!(Severity::Critical > Severity::High && Severity::Note > Severity::Unknown);
    }
}
