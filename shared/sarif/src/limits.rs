//! Every bound on what a SARIF file can make this crate hold, in one place, with its reason.
//!
//! Two kinds. Per-value bounds (texts, lists inside one result or rule) *truncate*: a scanner that
//! writes a 200 KB snippet is not wrong, and a truncated snippet still identifies the finding
//! (truncation is deterministic, so identities stay stable). Aggregate bounds (rules per run, runs,
//! results, input bytes, memory held while waiting for a run's `tool`) *reject* the file with
//! [`crate::SarifError::LimitExceeded`]: past them the file is hostile or broken, and a partial
//! analysis must not be applied as complete (it would mark every missing finding fixed).
//!
//! Nesting depth: what this crate reads has a fixed shape about 12 levels deep, under serde_json's
//! recursion limit (128, kept on: `unbounded_depth` is not enabled). Anything deeper can only sit in
//! parts that are skipped (unknown keys, nested values in property bags), which serde_json skips
//! without recursing (one byte of its own stack per level, so bounded by the input size): a file
//! nested 100,000 deep there is read, not refused, and cannot overflow the stack.
//!
//! One thing no JSON reader can bound cheaply: a single JSON string is read whole before it can be
//! truncated, so a hostile file can make one transient allocation as large as the string (never
//! more than the input size, which [`ParseOptions::max_input_bytes`] bounds). From a byte slice
//! without escapes, strings are borrowed and nothing is allocated.

use serde::Serialize;
use std::fmt;

/// Messages, descriptions, suppression justifications, flow-step messages. Real outputs stay under
/// 2 KB (the longest in the fixtures is a 1.6 KB Grype description).
pub const MAX_TEXT_BYTES: usize = 16 * 1024;
/// Code snippets. Real ones are a line or a few; njsscan's 15-line match is 600 bytes, and the
/// longest in the fixtures is 6.8 KB.
pub const MAX_SNIPPET_BYTES: usize = 16 * 1024;
/// A rule's help (text and markdown each): CodeQL's query help runs to a few KB.
pub const MAX_HELP_BYTES: usize = 64 * 1024;
/// Identifiers and short values: rule ids and names, tags, tool names and versions, levels, kinds,
/// fingerprint keys and values, property keys and scalar values.
pub const MAX_NAME_BYTES: usize = 1024;
/// URIs and paths.
pub const MAX_URI_BYTES: usize = 4096;

/// Locations kept per result (the rest are counted in `omitted_locations`). Real results have 1.
pub const MAX_LOCATIONS: usize = 32;
/// Logical locations kept per physical location (SpotBugs writes one: the method).
pub const MAX_LOGICAL_LOCATIONS: usize = 4;
/// Suppressions kept per result.
pub const MAX_SUPPRESSIONS: usize = 16;
/// Entries kept per `fingerprints` / `partialFingerprints` map (real ones have 1-5).
pub const MAX_FINGERPRINTS: usize = 16;
/// Keys kept per property bag (Dependency-Check writes ~30 CVSS fields per result).
pub const MAX_PROPERTIES: usize = 64;
/// Tags kept per property bag.
pub const MAX_TAGS: usize = 64;
/// Taxa references per result and relationships per rule.
pub const MAX_TAXA: usize = 32;
/// `messageStrings` entries kept per rule, and arguments per message.
pub const MAX_MESSAGE_STRINGS: usize = 16;
/// Arguments substituted into a message template.
pub const MAX_MESSAGE_ARGUMENTS: usize = 16;
/// `originalUriBaseIds` entries kept per run, and how many hops a base-id chain may take.
pub const MAX_BASE_IDS: usize = 64;
pub const MAX_BASE_ID_HOPS: usize = 8;
/// Taxonomies and invocations kept per run (only their names / success flags are read).
pub const MAX_TAXONOMIES: usize = 16;
pub const MAX_INVOCATIONS: usize = 64;
/// Tool extensions (CodeQL query packs) kept per run; their rules count toward the rule limits.
pub const MAX_EXTENSIONS: usize = 64;

/// Rules in one run's tool (driver and extensions together). CodeQL's largest suites have ~500,
/// Semgrep's registry packs a few thousand. Exceeding it rejects the file.
pub const MAX_RULES_PER_RUN: usize = 50_000;
/// Bytes of rule metadata held for one run (the rules table is held while its results stream).
/// Exceeding it rejects the file.
pub const MAX_RULE_TABLE_BYTES: usize = 64 * 1024 * 1024;
/// Runs in one file. Exceeding it rejects the file.
pub const MAX_RUNS: usize = 1_000;

/// Bounds the caller chooses per use (the CLI and the upload endpoint differ).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ParseOptions {
    /// Input bytes read before the file is rejected. Default 512 MiB (a 100,000-result file is
    /// ~100 MB).
    pub max_input_bytes: u64,
    /// Results in the whole file (all runs) before it is rejected. Default 1,000,000.
    pub max_results: usize,
    /// Only for [`crate::stream_reader`]: bytes of results held while a run's `tool` has not been
    /// read yet (Semgrep and Hadolint write the run's keys alphabetically, so `results` comes
    /// before `tool`). Default 512 MiB. [`crate::stream_slice`] never holds results.
    pub max_buffered_bytes: usize,
    /// Absolute checkout directories (e.g. `/home/runner/work/app/app`) to make absolute
    /// `file://` URIs repository-relative, on top of the run's own `originalUriBaseIds` and the
    /// well-known CI checkout layouts (see [`crate::paths`]).
    pub source_roots: Vec<String>,
}

impl Default for ParseOptions {
    fn default() -> Self {
        ParseOptions {
            max_input_bytes: 512 * 1024 * 1024,
            max_results: 1_000_000,
            max_buffered_bytes: 512 * 1024 * 1024,
            source_roots: Vec::new(),
        }
    }
}

/// Which aggregate bound a file exceeded.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(tag = "limit", rename_all = "snake_case")]
pub enum Limit {
    InputBytes { max: u64 },
    Results { max: usize },
    Runs { max: usize },
    RulesPerRun { max: usize },
    RuleTableBytes { max: usize },
    BufferedBytes { max: usize },
}

impl fmt::Display for Limit {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Limit::InputBytes { max } => write!(f, "more than {max} bytes of input"),
            Limit::Results { max } => write!(f, "more than {max} results"),
            Limit::Runs { max } => write!(f, "more than {max} runs"),
            Limit::RulesPerRun { max } => write!(f, "more than {max} rules in one run"),
            Limit::RuleTableBytes { max } => {
                write!(f, "more than {max} bytes of rule metadata in one run")
            }
            Limit::BufferedBytes { max } => write!(
                f,
                "more than {max} bytes of results before the run's `tool` \
                 (put `tool` before `results`, or parse from a byte slice)"
            ),
        }
    }
}
