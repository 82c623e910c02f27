//! What a parse produces: runs (tool, category, whether the results are complete) and normalised
//! findings. Everything here has passed redaction ([`crate::redact`]) and is safe to store, log,
//! and put in a ticket.

use serde::Serialize;
use std::collections::BTreeMap;
use std::fmt;
use std::sync::Arc;

/// A whole SARIF file, collected: every run's description and every finding of every run (in file
/// order; `Finding::run_index` says whose).
#[derive(Debug, Clone, Serialize)]
pub struct Analysis {
    pub runs: Vec<RunInfo>,
    pub findings: Vec<Finding>,
}

/// One SARIF run: one tool's execution. An analysis in scantix's sense is (repository, tool,
/// category, ref): `tool.name` and `category` are the two this file decides.
#[derive(Debug, Clone, Serialize)]
pub struct RunInfo {
    /// Position in the file's `runs` array.
    pub index: usize,
    pub tool: Arc<Tool>,
    /// `automationDetails`, with GitHub's reading of its `id` as `category/run-id`.
    pub automation: Option<Automation>,
    /// `false` when the run has no `results` array or a `null` one: by SARIF §3.14.23 the tool did
    /// not produce results (it failed), so its absence of findings proves nothing fixed.
    pub results_reported: bool,
    /// `false` when any invocation says `executionSuccessful: false`; `None` without invocations.
    pub execution_successful: Option<bool>,
    /// Results read in this run (findings handed out, suppressed ones included).
    pub result_count: usize,
    /// Of those, results suppressed (see [`Finding::suppressed`]).
    pub suppressed_count: usize,
}

impl RunInfo {
    /// The analysis category (`automationDetails` category), if the run names one.
    pub fn category(&self) -> Option<&str> {
        self.automation.as_ref().and_then(|a| a.category.as_deref())
    }
}

/// The tool that produced a run (`tool.driver`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Tool {
    /// `driver.name`: `CodeQL`, `Semgrep OSS`, `Bandit`, `nodejsscan`…
    pub name: String,
    pub full_name: Option<String>,
    pub version: Option<String>,
    pub semantic_version: Option<String>,
    pub organization: Option<String>,
}

impl Tool {
    /// The version to show: `semanticVersion`, else `version`.
    pub fn display_version(&self) -> Option<&str> {
        self.semantic_version.as_deref().or(self.version.as_deref())
    }
}

/// `run.automationDetails`. GitHub reads `id` as `category/run-id`: everything before the last `/`
/// is the category, the rest the run id; an id without `/` is all category.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Automation {
    pub id: Option<String>,
    pub category: Option<String>,
    pub run_id: Option<String>,
    pub guid: Option<String>,
    pub correlation_guid: Option<String>,
}

/// A rule (SARIF reportingDescriptor), normalised; shared by every finding of it.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Rule {
    pub id: String,
    pub name: Option<String>,
    pub short_description: Option<String>,
    pub full_description: Option<String>,
    /// Remediation text (`help.text`).
    pub help_text: Option<String>,
    /// Remediation markdown (`help.markdown`).
    pub help_markdown: Option<String>,
    pub help_uri: Option<String>,
    pub tags: Vec<String>,
    pub default_level: Option<Level>,
    /// `properties.security-severity`, when a valid CVSS-style score (0-10).
    pub security_severity: Option<f64>,
    /// `properties.precision` (CodeQL, Bandit, Semgrep: `very-high` … `low`).
    pub precision: Option<String>,
    /// `CWE-<n>` from tags, properties, and taxonomy relationships; sorted, unique.
    pub cwes: Vec<String>,
    /// `CVE-<year>-<n>` from the id, tags and properties; sorted, unique.
    pub cves: Vec<String>,
    /// Whether results of this rule are treated as secrets ([`crate::redact`]).
    pub secret: bool,
    /// `false` for a rule the file references but does not describe (made from the result).
    pub declared: bool,
    /// A severity word in `properties.security-severity` (Semgrep 1.69: `"CRITICAL"`).
    #[serde(skip)]
    pub(crate) security_severity_word: Option<Severity>,
    /// Word severities found in the rule's properties (`severity`, CodeQL's `problem.severity`).
    #[serde(skip)]
    pub(crate) property_severity: Option<(String, Severity)>,
    /// `messageStrings`: templates results may refer to by id.
    #[serde(skip)]
    pub(crate) message_strings: BTreeMap<String, String>,
}

/// SARIF `level` (§3.27.10).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Level {
    None,
    Note,
    Warning,
    Error,
}

impl Level {
    /// Reads a level leniently (case-insensitive); unknown words give `None`.
    pub fn parse(word: &str) -> Option<Level> {
        match word.trim().to_ascii_lowercase().as_str() {
            "none" => Some(Level::None),
            "note" => Some(Level::Note),
            "warning" => Some(Level::Warning),
            "error" => Some(Level::Error),
            _ => None,
        }
    }
}

/// SARIF result `kind` (§3.27.9). Only `fail` (the default), `open` and `review` are problems;
/// `pass`, `notApplicable` and `informational` results say something was checked and is fine.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum ResultKind {
    Fail,
    Open,
    Review,
    Pass,
    NotApplicable,
    Informational,
}

impl ResultKind {
    /// Reads a kind leniently; absent or unknown is `fail`, SARIF's default.
    pub fn parse(word: Option<&str>) -> ResultKind {
        match word.map(|w| w.trim().to_ascii_lowercase()).as_deref() {
            Some("open") => ResultKind::Open,
            Some("review") => ResultKind::Review,
            Some("pass") => ResultKind::Pass,
            Some("notapplicable") => ResultKind::NotApplicable,
            Some("informational") => ResultKind::Informational,
            _ => ResultKind::Fail,
        }
    }

    /// Whether a result of this kind is a problem to track.
    pub fn is_problem(self) -> bool {
        matches!(
            self,
            ResultKind::Fail | ResultKind::Open | ResultKind::Review
        )
    }
}

/// One scale for every tool, spelled as scantix's own severity (`note` … `critical`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Severity {
    Note,
    Low,
    Medium,
    High,
    Critical,
}

impl Severity {
    /// GitHub code scanning's reading of `security-severity`: 9.0 and over critical, 7.0-8.9
    /// high, 4.0-6.9 medium, below 4.0 low. `None` outside 0-10 (not a score).
    pub fn from_score(score: f64) -> Option<Severity> {
        if !(0.0..=10.0).contains(&score) {
            return None;
        }
        Some(match score {
            s if s >= 9.0 => Severity::Critical,
            s if s >= 7.0 => Severity::High,
            s if s >= 4.0 => Severity::Medium,
            _ => Severity::Low,
        })
    }

    /// A SARIF level as GitHub shows it: error high, warning medium, note and none note.
    pub fn from_level(level: Level) -> Severity {
        match level {
            Level::Error => Severity::High,
            Level::Warning => Severity::Medium,
            Level::Note | Level::None => Severity::Note,
        }
    }

    /// The severity words tools write in properties (`HIGH`, `medium`, `moderate`, CodeQL's
    /// `recommendation`, SARIF levels). Unknown words give `None`.
    pub fn parse_word(word: &str) -> Option<Severity> {
        match word.trim().to_ascii_lowercase().as_str() {
            "critical" | "blocker" => Some(Severity::Critical),
            "high" | "error" | "major" => Some(Severity::High),
            "medium" | "moderate" | "warning" => Some(Severity::Medium),
            "low" | "minor" => Some(Severity::Low),
            "note" | "info" | "informational" | "none" | "recommendation" => Some(Severity::Note),
            _ => None,
        }
    }

    pub fn as_str(self) -> &'static str {
        match self {
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

/// Where a finding's severity came from, in the order they are tried ([`crate::severity`]).
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(tag = "from", rename_all = "snake_case")]
pub enum SeveritySource {
    /// `properties.security-severity` (or a CVSS base score property) of the result.
    ResultScore { key: String, score: f64 },
    /// The same on the rule.
    RuleScore { score: f64 },
    /// A severity word in the rule's `security-severity` (Semgrep 1.69).
    RuleSecuritySeverityWord,
    /// A severity word in the result's properties (Bandit `issue_severity`, Dependency-Check
    /// `severity`).
    ResultProperty { key: String },
    /// The result's `level`.
    Level,
    /// The rule's `defaultConfiguration.level`.
    RuleDefaultLevel,
    /// A severity word in the rule's properties (`severity`, CodeQL `problem.severity`).
    RuleProperty { key: String },
    /// Nothing said: SARIF's default level, `warning`.
    SarifDefault,
}

/// How a finding's rule was found.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum RuleSource {
    /// `ruleId` (or `rule.id`).
    RuleId,
    /// `ruleIndex` (or `rule.index`) into the tool's rules.
    RuleIndex,
    /// No rule reference: a declared rule whose id or name starts the message (Gitleaks 7 writes
    /// `"AWS Access Key secret detected"` for rule `"AWS Access Key"`).
    MessagePrefix,
    /// No rule reference and no declared rule matched: the id is `message:` + the message's stable
    /// part ([`crate::identity::stable_message`]).
    Message,
}

/// A finding: one SARIF result, normalised and redacted.
#[derive(Debug, Clone, Serialize)]
pub struct Finding {
    pub run_index: usize,
    /// Position in its run's `results` array.
    pub result_index: usize,
    pub tool: Arc<Tool>,
    /// Stable across re-scans ([`crate::identity`]).
    pub identity: Identity,
    pub rule: Arc<Rule>,
    pub rule_source: RuleSource,
    pub kind: ResultKind,
    /// The result's own `level`, as written.
    pub level: Option<Level>,
    pub severity: Severity,
    pub severity_source: SeveritySource,
    /// Confidence as the tool says it: Bandit `issue_confidence`, else the rule's `precision`.
    pub confidence: Option<String>,
    pub message: String,
    /// CWE ids of the result and its rule, sorted, unique (`CWE-79`).
    pub cwes: Vec<String>,
    /// CVE ids of the result and its rule, sorted, unique.
    pub cves: Vec<String>,
    /// The result's own tags (its rule's are in `rule.tags`).
    pub tags: Vec<String>,
    /// Every location, the primary first.
    pub locations: Vec<Location>,
    /// Locations beyond [`crate::limits::MAX_LOCATIONS`], not kept.
    pub omitted_locations: usize,
    /// Source → sink of the first code flow.
    pub flow: Option<Flow>,
    pub suppressions: Vec<Suppression>,
    /// At least one suppression and every one accepted (a `status` of `accepted` or none); one
    /// `underReview` or `rejected` keeps the result open (SARIF §3.27.23, as the SARIF SDK reads it).
    pub suppressed: bool,
    pub fingerprints: BTreeMap<String, String>,
    pub partial_fingerprints: BTreeMap<String, String>,
    /// The result's scalar properties (redacted for secrets).
    pub properties: BTreeMap<String, String>,
    /// `baselineState` as written (`new`, `unchanged`, `updated`, `absent`).
    pub baseline_state: Option<String>,
    /// Treated as a secret finding: snippets and non-allow-listed properties replaced by
    /// [`crate::redact::REDACTED`].
    pub secret: bool,
}

impl Finding {
    /// The primary location (SARIF's first).
    pub fn primary_location(&self) -> Option<&Location> {
        self.locations.first()
    }

    /// Repository-relative path of the primary location, when it has one.
    pub fn path(&self) -> Option<&str> {
        self.primary_location().and_then(|l| l.path.as_deref())
    }

    /// Start line of the primary location.
    pub fn line(&self) -> Option<u64> {
        self.primary_location().and_then(|l| l.start_line)
    }

    /// A problem to track: of a problem kind and not suppressed.
    pub fn is_open_problem(&self) -> bool {
        self.kind.is_problem() && !self.suppressed
    }
}

/// A place in the code.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Location {
    /// Repository-relative path when it could be made so, else the path as given ([`crate::paths`]).
    pub path: Option<String>,
    /// Whether `path` is relative to the repository (or, for a relative URI, taken to be).
    pub relative: bool,
    /// The artifact URI as written.
    pub uri: Option<String>,
    pub uri_base_id: Option<String>,
    pub start_line: Option<u64>,
    pub start_column: Option<u64>,
    pub end_line: Option<u64>,
    pub end_column: Option<u64>,
    pub snippet: Option<String>,
    /// A logical location (`fullyQualifiedName`, else `name`): SpotBugs' method, for instance.
    pub logical: Option<String>,
    pub message: Option<String>,
}

/// A code flow reduced to its two ends.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Flow {
    pub source: Location,
    pub sink: Location,
    /// Steps in the flow the ends come from.
    pub steps: usize,
    /// Code flows the result had (only the first is reduced).
    pub code_flows: usize,
}

/// A suppression (§3.35), as written.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Suppression {
    /// `inSource` or `external`.
    pub kind: Option<String>,
    /// `accepted`, `underReview`, `rejected`, or none (accepted).
    pub status: Option<String>,
    pub justification: Option<String>,
}

/// A finding's identity across re-scans, and what it was made from.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize)]
pub struct Identity {
    /// 32 hex characters.
    pub value: String,
    pub basis: IdentityBasis,
    /// Position among results of the same basis in the same file (0 for the first).
    pub occurrence: u32,
}

/// What an identity was computed from ([`crate::identity`]).
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize)]
#[serde(tag = "from", rename_all = "snake_case")]
pub enum IdentityBasis {
    /// A full `fingerprints` entry.
    Fingerprint { key: String },
    /// `partialFingerprints` entries (with the path).
    PartialFingerprints { keys: Vec<String> },
    /// Computed here from the rule, path and the region's snippet.
    Snippet,
    /// Computed here from the rule, path and message (no snippet in the result).
    Message,
}
