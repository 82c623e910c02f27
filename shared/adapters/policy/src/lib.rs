//! Triage as a Rego policy: which findings are ticketed, which are only recorded, and (optionally)
//! at what priority, with what SLA and grouped how. The answer is the core's
//! `decide::triage::Verdict`; [`triage_with`] never loses a finding to a failing policy.
//!
//! Not here: where a policy comes from (a repository's or organisation's settings file, read by
//! `scantix_app::repo_settings`), or the built-in rule used without one
//! (`scantix_core::decide::triage::builtin`). This crate keeps the Rego engine (regorus) out of the
//! core.
//!
//! # Layout
//! - this file: `Policy` (compiled once, evaluated per finding, within a time limit), `PolicyInput`
//!   and `PathFacts` (what a policy reads), `PolicyError`, `triage_with`.
//! - `default.rego`: the bundled policy, annotated for policy authors.
//! - [`kev`]: CISA's Known Exploited Vulnerabilities catalogue (`input.kev`), bounded.
//!
//! A [`Policy`] is compiled once (the bundled [`Policy::default_policy`], or an org's or repo's
//! override with [`Policy::from_rego`]) and then evaluated for every finding, from any thread.
//! The policy reads a [`PolicyInput`] and must define `data.scantix.decision`; `default.rego`
//! beside this file documents both for policy authors.
//!
//! Paths are classified (test / vendored / generated) here in Rust, not in Rego, and handed to the
//! policy as `input.paths`: one tested implementation that every policy, bundled or not, gets for
//! free, without copying helper rules or needing regex builtins.

pub mod kev;

use kev::{KevCatalogue, KevEntry};
use regorus::utils::limits::{ExecutionTimerConfig, PolicyLengthConfig};
use regorus::{Engine, LimitError, Value};
use scantix_core::decide::triage::plain;
use scantix_core::finding::{Finding, Severity};
use scantix_core::identity::GroupingMode;
use scantix_core::records::Triage;
use scantix_core::sla::SlaPolicy;
use serde::{Deserialize, Serialize};
use std::fmt;
use std::num::{NonZeroU32, NonZeroUsize};
use std::sync::{Mutex, OnceLock};
use std::time::Duration;

/// What a policy decided for one finding: a triage verdict, the core's type, which the decisions
/// read.
pub use scantix_core::decide::triage::Verdict as PolicyDecision;

/// The bundled policy, as a security engineer reads it.
pub const DEFAULT_POLICY: &str = include_str!("default.rego");

/// The rule every policy must define.
const ENTRY_POINT: &str = "data.scantix.decision";

/// Why a policy could not be loaded or could not decide. Every variant is the policy author's to
/// fix (or, for `Input`, a bug of ours): retrying never helps.
#[derive(Debug, thiserror::Error)]
pub enum PolicyError {
    /// The policy text does not parse or compile. `line` and `column` are 1-based positions in
    /// the policy text.
    #[error("policy line {line}, column {column}: {message}")]
    Syntax {
        line: u32,
        column: u32,
        message: String,
    },
    /// The policy parses but is not a scantix policy (wrong package, no `decision` rule).
    #[error("policy is not a scantix policy: {0}")]
    NotAScantixPolicy(String),
    /// Evaluating the policy failed (an unsafe variable, an unknown function, two rules giving
    /// `decision` different values). `line` is given when the engine said where. `from_rego`
    /// evaluates a sample finding, so most of these are reported when the policy is loaded.
    #[error("policy evaluation failed{}: {message}", at_line(*line))]
    Evaluation { line: Option<u32>, message: String },
    /// One evaluation ran past [`EVALUATION_TIME_LIMIT`] and was stopped.
    #[error(
        "policy took longer than {0:?} on one finding and was stopped: simplify it (no \
         comprehensions over large ranges or inputs)"
    )]
    TimeLimit(Duration),
    /// No rule gave `decision` a value for this finding, and the policy has no `default decision`.
    #[error(
        "policy gave no decision for this finding: add `default decision := {{...}}` or a final \
         `else` so that every finding gets one"
    )]
    Undefined,
    /// `decision` has a value, but not one scantix understands.
    #[error("policy decision {0}")]
    Malformed(String),
    /// The policy text is over [`MAX_POLICY_BYTES`] or [`MAX_POLICY_LINES`].
    #[error(
        "policy is {bytes} bytes in {lines} lines; scantix reads policies of up to \
         {MAX_POLICY_BYTES} bytes and {MAX_POLICY_LINES} lines: keep the policy to triage rules, \
         with lists of ids or paths as short as they can be"
    )]
    TooLarge { bytes: usize, lines: usize },
    /// The input could not be handed to the policy.
    #[error("could not build the policy input: {0}")]
    Input(String),
}

fn at_line(line: Option<u32>) -> String {
    line.map(|l| format!(" at line {l}")).unwrap_or_default()
}

/// `decision` as the policy writes it. Unknown keys are refused so that a typo (`sla-days`) is an
/// error rather than a silently ignored setting.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct WrittenDecision {
    triage: WrittenTriage,
    reason: String,
    #[serde(default)]
    priority: Option<Severity>,
    #[serde(default)]
    priority_reason: Option<String>,
    #[serde(default)]
    sla_days: Option<u32>,
    #[serde(default)]
    group_by: Option<GroupingMode>,
}

/// `triage` as a policy writes it: the core's verdicts, plus `draft` (ticket it, as a draft a
/// person pushes to the tracker).
#[derive(Deserialize, Clone, Copy, PartialEq, Eq)]
#[serde(rename_all = "snake_case")]
enum WrittenTriage {
    Ticket,
    Draft,
    Record,
    Ignore,
}

/// Facts about a finding's path, computed before the policy runs (`input.paths`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Default)]
pub struct PathFacts {
    /// The code location's path, else the dependency manifest's; `None` when the alert has
    /// neither (secret scanning webhooks carry no location).
    pub path: Option<String>,
    /// In a test directory (`test/`, `tests/`, `__tests__/`, `spec/`, …) or a test file
    /// (`*_test.go`, `*.test.js`, `test_*.py`, …).
    pub is_test: bool,
    /// In vendored third-party code (`vendor/`, `node_modules/`, `third_party/`, …).
    pub is_vendor: bool,
    /// Generated or minified code (`generated/`, `*.pb.go`, `*_pb2.py`, `*.min.js`, …).
    pub is_generated: bool,
}

/// Directory names (compared ignoring ASCII case) that hold tests.
const TEST_DIRS: &[&str] = &[
    "test",
    "tests",
    "__tests__",
    "__mocks__",
    "spec",
    "specs",
    "testdata",
];
/// Directory names (compared ignoring ASCII case) that hold vendored code.
const VENDOR_DIRS: &[&str] = &[
    "vendor",
    "node_modules",
    "third_party",
    "third-party",
    "thirdparty",
    "bower_components",
];
/// Vendor directories compared exactly: CocoaPods' and Carthage's capitalised names, which in
/// lower case (`pods/`) are just as often a project's own Kubernetes manifests.
const VENDOR_DIRS_EXACT: &[&str] = &["Pods", "Carthage"];
/// Directory names (compared ignoring ASCII case) that hold generated code.
const GENERATED_DIRS: &[&str] = &["generated", "__generated__"];
/// File name endings of generated or minified code.
const GENERATED_SUFFIXES: &[&str] = &[
    ".pb.go",
    ".pb.gw.go",
    "_pb2.py",
    "_pb2_grpc.py",
    ".pb.cc",
    ".pb.h",
    ".g.dart",
    ".gen.go",
    "_generated.go",
    ".min.js",
    ".min.css",
];
/// File name endings of tests (case-sensitive: `Test.java` is a convention, `test.java` is not).
const TEST_SUFFIXES: &[&str] = &[
    "_test.go",
    "_test.py",
    "_spec.rb",
    "_test.rb",
    "Test.java",
    "Tests.java",
    "Test.kt",
    "Tests.kt",
    "Test.cs",
    "Tests.cs",
];
/// Extensions after `.test` / `.spec` in JavaScript and TypeScript test files.
const JS_EXTENSIONS: &[&str] = &["js", "jsx", "ts", "tsx", "mjs", "cjs", "mts", "cts"];

impl PathFacts {
    /// The facts about `finding`'s path (its location, else its manifest).
    pub fn of(finding: &Finding) -> PathFacts {
        let path = finding
            .location
            .as_ref()
            .map(|l| l.path.as_str())
            .or(finding.package.as_ref().map(|p| p.manifest_path.as_str()))
            .filter(|p| !p.is_empty());
        match path {
            Some(path) => PathFacts::classify(path),
            None => PathFacts::default(),
        }
    }

    /// Classifies a repository-relative path. Directory names match at any depth; the file name
    /// is matched by its ending.
    pub fn classify(path: &str) -> PathFacts {
        let trimmed = path.trim_start_matches("./").trim_start_matches('/');
        let mut segments: Vec<&str> = trimmed.split('/').filter(|s| !s.is_empty()).collect();
        let file = segments.pop().unwrap_or_default();
        let dir_in = |names: &[&str]| {
            segments
                .iter()
                .any(|dir| names.iter().any(|n| dir.eq_ignore_ascii_case(n)))
        };
        let is_test = dir_in(TEST_DIRS) || is_test_file(file);
        let is_vendor =
            dir_in(VENDOR_DIRS) || segments.iter().any(|dir| VENDOR_DIRS_EXACT.contains(dir));
        let is_generated =
            dir_in(GENERATED_DIRS) || GENERATED_SUFFIXES.iter().any(|s| file.ends_with(s));
        PathFacts {
            path: Some(path.to_owned()),
            is_test,
            is_vendor,
            is_generated,
        }
    }
}

fn is_test_file(file: &str) -> bool {
    if TEST_SUFFIXES.iter().any(|s| file.ends_with(s)) || file == "conftest.py" {
        return true;
    }
    if file.starts_with("test_") && file.ends_with(".py") {
        return true;
    }
    // `x.test.js`, `x.spec.tsx`, …
    match file.rsplit_once('.') {
        Some((stem, ext)) if JS_EXTENSIONS.contains(&ext) => {
            stem.ends_with(".test") || stem.ends_with(".spec")
        }
        _ => false,
    }
}

/// What a policy sees as `input`.
#[derive(Debug, Clone, Serialize)]
pub struct PolicyInput<'a> {
    /// The finding, serialised as `Finding` is everywhere (snake_case kinds and severities).
    pub finding: &'a Finding,
    /// The repository's default branch name (`main`), when known.
    pub default_branch: Option<&'a str>,
    /// The pull request the alert was seen on, when it was seen only on one.
    pub pull_request: Option<u64>,
    pub paths: PathFacts,
    /// The CISA KEV entry of the finding's CVE, when the catalogue is loaded and lists it.
    pub kev: Option<&'a KevEntry>,
    /// Days to fix per severity, as the repository's settings give them (so that a policy
    /// shortening a deadline knows what it shortens).
    pub sla: SlaPolicy,
}

impl<'a> PolicyInput<'a> {
    /// The input for `finding`: default branch from its repository, pull request from its ref,
    /// path facts from its location or manifest.
    pub fn new(finding: &'a Finding) -> PolicyInput<'a> {
        PolicyInput {
            finding,
            default_branch: finding.repository.default_branch.as_deref(),
            pull_request: finding.pull_request(),
            paths: PathFacts::of(finding),
            kev: None,
            sla: SlaPolicy::default(),
        }
    }

    /// With the KEV entry of the finding's CVE looked up in `catalogue`.
    pub fn with_kev(mut self, catalogue: Option<&'a KevCatalogue>) -> PolicyInput<'a> {
        let cve = self
            .finding
            .advisory
            .as_ref()
            .and_then(|a| a.cve_id.as_deref());
        self.kev = catalogue.zip(cve).and_then(|(c, cve)| c.get(cve));
        self
    }

    /// With the repository's SLA table.
    pub fn with_sla(mut self, sla: SlaPolicy) -> PolicyInput<'a> {
        self.sla = sla;
        self
    }
}

/// How long one evaluation may take before it is stopped. The bundled policy takes tens of
/// microseconds; the limit only stops a runaway org or repo policy (a comprehension over a huge
/// range) from holding a Lambda until its own timeout, and is loose enough never to trip on a
/// slow or throttled machine.
pub const EVALUATION_TIME_LIMIT: Duration = Duration::from_secs(1);

/// The largest policy read, in bytes. A triage policy is a page or two (the bundled one is 6 KB);
/// regorus's own ceiling is 1 MiB, which its parser and compiler would have to work through.
pub const MAX_POLICY_BYTES: usize = 128 * 1024;

/// The most lines a policy may have (regorus's own ceiling: 20,000).
pub const MAX_POLICY_LINES: usize = 4_000;

/// How deep `{` and `[` may nest in a policy (strings and comments aside). regorus's parser takes
/// time exponential in that depth — measured (debug build): 18 levels take 7–23 s, each level
/// about doubling it, and a 700-byte `.github/scantix.yml` with 42 levels found by fuzzing
/// (`fuzz/`, target `repo_config`) ran for minutes. A triage policy nests four or five levels.
pub const MAX_POLICY_NESTING: usize = 10;

/// The largest exponent a number in a policy may have, either way: a double's range (JSON's, in
/// practice). regorus works a number like `0e200000029` out in full precision, in time that
/// grows with the exponent — measured (debug build): `0e3000000` takes 3 s, and a 150-byte
/// `.github/scantix.yml` with `0e0000000000000000000200000029` found by fuzzing (`fuzz/`, target
/// `repo_config`) did not finish.
pub const MAX_POLICY_EXPONENT: u32 = 308;

/// A compiled triage policy, ready to evaluate from any thread (`Send + Sync`).
///
/// regorus's `Engine` evaluates through `&mut self`. The policy keeps one prepared engine behind
/// a `Mutex` and reuses it; when that engine is busy (another thread is evaluating) the call
/// clones a prepared prototype instead of waiting. The clone shares the parsed policy (`Arc`) and
/// costs little, so concurrent callers never queue. Measured (release, one thread, bundled policy,
/// input prebuilt): the reused engine ~33–41k evaluations/s, a clone per call ~31–41k/s, a fresh
/// engine that re-parses the policy per call ~4–5k/s. `evaluate` as a whole (input built from the
/// `Finding`, decision read back) ~25–29k/s.
pub struct Policy {
    reusable: Mutex<Engine>,
    /// Prepared (parsed, compiled, limits set) and never evaluated with: the source of clones.
    prototype: Engine,
    /// Where the policy came from, for `Debug` and logs.
    origin: &'static str,
}

impl Clone for Policy {
    fn clone(&self) -> Self {
        Policy {
            reusable: Mutex::new(self.prototype.clone()),
            prototype: self.prototype.clone(),
            origin: self.origin,
        }
    }
}

impl fmt::Debug for Policy {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Policy")
            .field("origin", &self.origin)
            .finish_non_exhaustive()
    }
}

impl Policy {
    /// The bundled default policy (`default.rego`), compiled on first use; later calls return a
    /// clone, which shares the compiled policy.
    pub fn default_policy() -> Policy {
        static DEFAULT: OnceLock<Policy> = OnceLock::new();
        DEFAULT
            .get_or_init(|| match Policy::compile("default.rego", DEFAULT_POLICY) {
                Ok(policy) => policy,
                // Every test run compiles `default.rego`: failing here is a build defect.
                Err(e) => unreachable!("the bundled default.rego does not compile: {e}"),
            })
            .clone()
    }

    /// An org's or repo's own policy. It must be `package scantix` in Rego v1 syntax and define
    /// `decision`.
    pub fn from_rego(source: &str) -> Result<Policy, PolicyError> {
        Policy::compile("policy.rego", source)
    }

    fn compile(origin: &'static str, source: &str) -> Result<Policy, PolicyError> {
        let lines = source.lines().count();
        if source.len() > MAX_POLICY_BYTES || lines > MAX_POLICY_LINES {
            return Err(PolicyError::TooLarge {
                bytes: source.len(),
                lines,
            });
        }
        if let Some((line, column)) = nesting_over(source, MAX_POLICY_NESTING) {
            return Err(PolicyError::Syntax {
                line,
                column,
                message: format!(
                    "`{{` and `[` nest more than {MAX_POLICY_NESTING} deep here; split the \
                     expression with intermediate variables"
                ),
            });
        }
        if let Some((line, column)) = exponent_over(source, MAX_POLICY_EXPONENT) {
            return Err(PolicyError::Syntax {
                line,
                column,
                message: format!(
                    "a number's exponent is beyond ±{MAX_POLICY_EXPONENT} here; write the \
                     number without it"
                ),
            });
        }
        let mut engine = Engine::new();
        // The same ceilings for regorus, so that the check above is the one that speaks. (regorus
        // counts the empty line after a final newline as one more.)
        engine.set_policy_length_config(PolicyLengthConfig {
            max_file_bytes: NonZeroUsize::MIN.saturating_add(MAX_POLICY_BYTES - 1),
            max_lines: NonZeroUsize::MIN.saturating_add(MAX_POLICY_LINES),
            ..PolicyLengthConfig::default()
        });
        let package = engine
            .add_policy(origin.to_owned(), source.to_owned())
            .map_err(syntax_error)?;
        if package != "data.scantix" {
            return Err(PolicyError::NotAScantixPolicy(format!(
                "its package is `{}`; write `package scantix` on its first line",
                package.trim_start_matches("data.")
            )));
        }
        let declares_decision = engine
            .has_declared_rule_rooted_at(origin, "decision")
            .map_err(|e| PolicyError::NotAScantixPolicy(format!("{e:#}")))?;
        if !declares_decision {
            return Err(PolicyError::NotAScantixPolicy(
                "it has no `decision` rule; define `decision := {\"triage\": ..., \"reason\": ...}`"
                    .into(),
            ));
        }
        // OPA's semantics: a builtin given the wrong type (`startswith(null, "x")` for an alert
        // without a path) makes its expression undefined instead of failing the evaluation, so a
        // policy behaves here as under `opa eval`.
        engine.set_strict_builtin_errors(false);
        engine.set_execution_timer_config(ExecutionTimerConfig {
            limit: EVALUATION_TIME_LIMIT,
            // Work units between clock reads: frequent enough to stop within the limit, rare
            // enough to cost nothing measurable.
            check_interval: NonZeroU32::MIN.saturating_add(63),
        });
        // Compiling prepares the engine once, so that neither the reused engine nor any clone
        // of the prototype prepares it again per evaluation.
        engine
            .compile_with_entrypoint(&ENTRY_POINT.into())
            .map_err(syntax_error)?;
        let policy = Policy {
            reusable: Mutex::new(engine.clone()),
            prototype: engine,
            origin,
        };
        // regorus finds unsafe variables, unknown functions and conflicting rules only when it
        // evaluates them: one evaluation now reports them when the policy is loaded (with the
        // config file that holds it) rather than at the first alert. Only such errors count; a
        // decision undefined for this one sample is for `evaluate` to report.
        let sample = scantix_core::testing::code_alert(1, "scantix/load-check", "src/main.rs");
        match policy.evaluate(&PolicyInput::new(&sample)) {
            Err(e @ PolicyError::Evaluation { .. }) => Err(e),
            _ => Ok(policy),
        }
    }

    /// Decides one finding.
    pub fn evaluate(&self, input: &PolicyInput<'_>) -> Result<PolicyDecision, PolicyError> {
        let json = serde_json::to_value(input).map_err(|e| PolicyError::Input(e.to_string()))?;
        let input = Value::from(json);
        let value = match self.reusable.try_lock() {
            Ok(mut engine) => decide_with(&mut engine, input),
            // Busy, or poisoned by a panic mid-evaluation: a clone of the prototype is as good.
            Err(_) => decide_with(&mut self.prototype.clone(), input),
        }?;
        if value == Value::Undefined {
            return Err(PolicyError::Undefined);
        }
        decision_from(value)
    }
}

fn decide_with(engine: &mut Engine, input: Value) -> Result<Value, PolicyError> {
    engine.set_input(input);
    engine.eval_rule(ENTRY_POINT.to_owned()).map_err(|e| {
        if let Some(LimitError::TimeLimitExceeded { limit, .. }) = e.downcast_ref::<LimitError>() {
            return PolicyError::TimeLimit(*limit);
        }
        let message = format!("{e:#}");
        PolicyError::Evaluation {
            line: location(&message).map(|(line, _)| line),
            message: last_message(&message),
        }
    })
}

fn decision_from(value: Value) -> Result<PolicyDecision, PolicyError> {
    let json = serde_json::to_value(&value).map_err(|e| PolicyError::Malformed(e.to_string()))?;
    let written: WrittenDecision = serde_path_to_error::deserialize(&json).map_err(|e| {
        let path = e.path().to_string();
        let at = if path == "." {
            String::new()
        } else {
            format!("field `{path}`: ")
        };
        PolicyError::Malformed(format!(
            "{at}{}; expected {{\"triage\": \"ticket\" | \"draft\" | \"record\" | \"ignore\", \
             \"reason\": \"...\"}} with optional \"priority\", \"priority_reason\", \"sla_days\", \"group_by\" (got {json})",
            e.inner()
        ))
    })?;
    if written.reason.trim().is_empty() {
        return Err(PolicyError::Malformed(
            "has an empty `reason`: say why, for the audit trail".into(),
        ));
    }
    let triage = match written.triage {
        WrittenTriage::Ticket | WrittenTriage::Draft => Triage::Ticket,
        WrittenTriage::Record => Triage::Record,
        WrittenTriage::Ignore => Triage::Ignore,
    };
    // One line, of a length a ticket can show: a policy may quote alert text in it.
    let priority_reason = written
        .priority_reason
        .map(|why| {
            why.chars()
                .map(|c| if c.is_control() { ' ' } else { c })
                .take(MAX_PRIORITY_REASON_CHARS)
                .collect::<String>()
        })
        .filter(|why| !why.trim().is_empty());
    Ok(PolicyDecision {
        triage,
        reason: written.reason,
        priority: written.priority,
        priority_reason,
        sla_days: written.sla_days,
        group_by: written.group_by,
        assignee: None,
        draft: written.triage == WrittenTriage::Draft,
    })
}

/// The characters of `source` that are Rego code, with their 1-based line and column. Strings
/// (`"…"` with escapes, raw `` `…` ``) and `#` comments read as spaces, quotes and `#` included,
/// so that brackets and numbers in them do not count and the tokens on either side stay apart.
fn code_chars(source: &str) -> impl Iterator<Item = (u32, u32, char)> + '_ {
    #[derive(Clone, Copy)]
    enum In {
        Code,
        String { escaped: bool },
        Raw,
        Comment,
    }
    let (mut line, mut column) = (1u32, 0u32);
    let mut state = In::Code;
    source.chars().map(move |c| {
        if c == '\n' {
            let at = (line, column.saturating_add(1), c);
            (line, column) = (line.saturating_add(1), 0);
            // A comment ends with its line, and so does a (malformed) string: Rego's `"…"` is
            // one line, only a raw string spans lines.
            if !matches!(state, In::Raw) {
                state = In::Code;
            }
            return at;
        }
        column = column.saturating_add(1);
        let (next, code) = match (state, c) {
            (In::Code, '"') => (In::String { escaped: false }, false),
            (In::Code, '`') => (In::Raw, false),
            (In::Code, '#') => (In::Comment, false),
            (In::Code, _) => (In::Code, true),
            (In::String { escaped: false }, '\\') => (In::String { escaped: true }, false),
            (In::String { escaped: false }, '"') => (In::Code, false),
            (In::String { .. }, _) => (In::String { escaped: false }, false),
            (In::Raw, '`') => (In::Code, false),
            (state, _) => (state, false),
        };
        state = next;
        (line, column, if code { c } else { ' ' })
    })
}

/// The 1-based line and column of the first `{` or `[` that nests deeper than `limit` in code
/// (see [`code_chars`]); `None` if none does. Closing brackets lower the depth whether or not
/// they match: only an upper bound matters here.
fn nesting_over(source: &str, limit: usize) -> Option<(u32, u32)> {
    let mut depth = 0usize;
    for (line, column, c) in code_chars(source) {
        match c {
            '{' | '[' => {
                depth += 1;
                if depth > limit {
                    return Some((line, column));
                }
            }
            '}' | ']' => depth = depth.saturating_sub(1),
            _ => {}
        }
    }
    None
}

/// The 1-based line and column of the first number in code (see [`code_chars`]) whose exponent
/// is larger than `limit` either way (`0e200000029`, `1E-99999`); `None` if none is. Digits
/// inside a name (`x1e999`) are no number.
fn exponent_over(source: &str, limit: u32) -> Option<(u32, u32)> {
    let mut chars = code_chars(source).peekable();
    let mut in_name = false;
    while let Some((line, column, c)) = chars.next() {
        if in_name || !c.is_ascii_digit() {
            in_name = c.is_alphanumeric() || c == '_';
            continue;
        }
        while chars
            .next_if(|&(_, _, d)| d.is_ascii_digit() || d == '.')
            .is_some()
        {}
        if chars.next_if(|&(_, _, e)| matches!(e, 'e' | 'E')).is_some() {
            chars.next_if(|&(_, _, sign)| matches!(sign, '+' | '-'));
            let mut exponent = 0u32;
            while let Some((_, _, digit)) = chars.next_if(|&(_, _, d)| d.is_ascii_digit()) {
                exponent = exponent
                    .saturating_mul(10)
                    .saturating_add(digit.to_digit(10).unwrap_or(0));
            }
            if exponent > limit {
                return Some((line, column));
            }
        }
    }
    None
}

/// A regorus parse or compile error → `PolicyError::Syntax`. regorus formats its errors as
/// `--> file:line:col`, the source line, a caret, then `error: message`; `{:#}` includes any
/// context regorus added.
fn syntax_error(error: impl fmt::Display) -> PolicyError {
    let text = format!("{error:#}");
    let (line, column) = location(&text).unwrap_or((0, 0));
    PolicyError::Syntax {
        line,
        column,
        message: last_message(&text),
    }
}

/// The `(line, column)` after the first `--> file:` in a regorus message.
fn location(text: &str) -> Option<(u32, u32)> {
    let after = &text[text.find("--> ")? + 4..];
    let first_line = after.lines().next()?;
    let mut parts = first_line.rsplitn(3, ':');
    let column = parts.next()?.trim().parse().ok()?;
    let line = parts.next()?.trim().parse().ok()?;
    Some((line, column))
}

/// The text after the last `error: ` in a regorus message (the message without the source
/// excerpt), or the whole text trimmed.
fn last_message(text: &str) -> String {
    match text.rfind("error: ") {
        Some(i) => text[i + 7..].trim().to_owned(),
        None => text.trim().to_owned(),
    }
}

/// The longest `priority_reason` kept: one line of a ticket.
pub const MAX_PRIORITY_REASON_CHARS: usize = 300;

/// The verdict of `policy` for `finding`, with no KEV catalogue and the default SLA table (see
/// [`judge`]).
pub fn triage_with(policy: &Policy, finding: &Finding) -> PolicyDecision {
    judge(policy, &PolicyInput::new(finding))
}

/// The verdict of `policy` for `input`. A policy that fails to evaluate (a bug in an org's
/// override, a time limit) must not lose the finding: it is ticketed, and the reason says why.
pub fn judge(policy: &Policy, input: &PolicyInput<'_>) -> PolicyDecision {
    match policy.evaluate(input) {
        Ok(verdict) => verdict,
        Err(e) => {
            tracing::warn!(error = %e, "triage policy failed; ticketing to be safe");
            plain(
                Triage::Ticket,
                format!("ticketed: the triage policy failed ({e})"),
            )
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use scantix_core::finding::{AlertKind, Location};
    use scantix_core::testing::{code_alert, dependabot_alert};

    fn decide(finding: &Finding) -> PolicyDecision {
        Policy::default_policy()
            .evaluate(&PolicyInput::new(finding))
            .unwrap()
    }

    fn on_ref(mut finding: Finding, git_ref: Option<&str>) -> Finding {
        finding.git_ref = git_ref.map(str::to_owned);
        finding
    }

    fn secret(number: u64, path: Option<&str>) -> Finding {
        let mut finding = code_alert(number, "github_personal_access_token", "unused");
        finding.kind = AlertKind::SecretScanning;
        finding.rule.name = "GitHub Personal Access Token".into();
        finding.tool = Some("Secret scanning".into());
        finding.location = path.map(|p| Location {
            path: p.into(),
            ..Location::default()
        });
        finding
    }

    #[test]
    fn an_alert_on_the_default_branch_is_ticketed_with_its_severity_and_branch() {
        let decision = decide(&code_alert(1, "js/xss", "src/app.js"));
        assert_eq!(
            decision,
            PolicyDecision {
                priority_reason: None,
                triage: Triage::Ticket,
                reason: "ticketed: high severity on main".into(),
                priority: None,
                sla_days: None,
                group_by: None,
                assignee: None,
                draft: false,
            }
        );
    }

    #[test]
    fn secrets_are_always_ticketed_even_on_a_pull_request_in_test_code() {
        let leaked = on_ref(
            secret(3, Some("tests/fixtures/.env")),
            Some("refs/pull/7/merge"),
        );
        let decision = decide(&leaked);
        assert_eq!(decision.triage, Triage::Ticket);
        assert_eq!(
            decision.reason,
            "ticketed: exposed secret (GitHub Personal Access Token)"
        );
        let mut low = secret(4, None);
        low.severity = Severity::Low;
        assert_eq!(decide(&low).triage, Triage::Ticket);
    }

    #[test]
    fn an_alert_only_on_a_pull_request_is_recorded() {
        for git_ref in ["refs/pull/7/merge", "refs/pull/7/head"] {
            let decision = decide(&on_ref(code_alert(1, "js/xss", "src/a.js"), Some(git_ref)));
            assert_eq!(decision.triage, Triage::Record);
            assert_eq!(decision.reason, "recorded: alert only on pull request #7");
        }
    }

    #[test]
    fn an_alert_on_another_branch_is_recorded() {
        let decision = decide(&on_ref(
            code_alert(1, "js/xss", "src/a.js"),
            Some("refs/heads/release/1.x"),
        ));
        assert_eq!(decision.triage, Triage::Record);
        assert_eq!(
            decision.reason,
            "recorded: alert on branch release/1.x, not the default branch main"
        );
    }

    #[test]
    fn an_unknown_ref_counts_as_the_default_branch() {
        // `closed_by_user` / `reopened_by_user` deliveries carry no ref.
        for git_ref in [None, Some("")] {
            let decision = decide(&on_ref(code_alert(1, "js/xss", "src/a.js"), git_ref));
            assert_eq!(decision.triage, Triage::Ticket);
            assert_eq!(decision.reason, "ticketed: high severity on main");
        }
        // Nor can a branch be told apart from the default one when the default is unknown.
        let mut finding = on_ref(code_alert(1, "js/xss", "src/a.js"), Some("refs/heads/dev"));
        finding.repository.default_branch = None;
        assert_eq!(decide(&finding).reason, "ticketed: high severity on dev");
        finding.git_ref = None;
        assert_eq!(
            decide(&finding).reason,
            "ticketed: high severity on the default branch"
        );
    }

    #[test]
    fn dependabot_alerts_have_no_ref_and_are_ticketed() {
        let decision = decide(&dependabot_alert(
            5,
            "GHSA-xxxx",
            "lodash",
            "package-lock.json",
        ));
        assert_eq!(decision.triage, Triage::Ticket);
        assert_eq!(decision.reason, "ticketed: high severity on main");
    }

    #[test]
    fn severity_below_medium_is_recorded_but_unknown_severity_is_not() {
        for (severity, triage) in [
            (Severity::Note, Triage::Record),
            (Severity::Low, Triage::Record),
            (Severity::Medium, Triage::Ticket),
            (Severity::Critical, Triage::Ticket),
            (Severity::Unknown, Triage::Ticket),
        ] {
            let mut finding = code_alert(1, "js/xss", "src/a.js");
            finding.severity = severity;
            assert_eq!(decide(&finding).triage, triage, "{severity}");
        }
        let mut low = code_alert(1, "js/xss", "src/a.js");
        low.severity = Severity::Low;
        assert_eq!(
            decide(&low).reason,
            "recorded: low severity is below medium"
        );
    }

    #[test]
    fn test_vendored_and_generated_code_is_recorded() {
        let cases = [
            ("test/unit/a.js", "recorded: test code (test/unit/a.js)"),
            ("pkg/tests/b.py", "recorded: test code (pkg/tests/b.py)"),
            (
                "web/src/__tests__/c.tsx",
                "recorded: test code (web/src/__tests__/c.tsx)",
            ),
            (
                "spec/models/user_spec.rb",
                "recorded: test code (spec/models/user_spec.rb)",
            ),
            (
                "internal/auth/token_test.go",
                "recorded: test code (internal/auth/token_test.go)",
            ),
            (
                "web/src/login.test.js",
                "recorded: test code (web/src/login.test.js)",
            ),
            (
                "vendor/github.com/x/y.go",
                "recorded: vendored code (vendor/github.com/x/y.go)",
            ),
            (
                "web/node_modules/lodash/a.js",
                "recorded: vendored code (web/node_modules/lodash/a.js)",
            ),
            (
                "third_party/zlib/inflate.c",
                "recorded: vendored code (third_party/zlib/inflate.c)",
            ),
            (
                "static/jquery.min.js",
                "recorded: generated code (static/jquery.min.js)",
            ),
            (
                "api/generated/client.ts",
                "recorded: generated code (api/generated/client.ts)",
            ),
            (
                "proto/user.pb.go",
                "recorded: generated code (proto/user.pb.go)",
            ),
        ];
        for (path, reason) in cases {
            let decision = decide(&code_alert(1, "js/xss", path));
            assert_eq!(decision.triage, Triage::Record, "{path}");
            assert_eq!(decision.reason, reason);
        }
        // A Dependabot alert is classified by its manifest.
        let vendored = dependabot_alert(2, "GHSA-x", "minimist", "vendor/tool/package.json");
        assert_eq!(decide(&vendored).triage, Triage::Record);
    }

    #[test]
    fn paths_are_classified_by_directory_name_at_any_depth_and_by_file_ending() {
        let facts = PathFacts::classify("src/Tests/Handler.cs");
        assert!(facts.is_test && !facts.is_vendor && !facts.is_generated);
        assert!(PathFacts::classify("app/UserServiceTest.java").is_test);
        assert!(PathFacts::classify("tests.py").path.is_some());
        assert!(
            !PathFacts::classify("tests.py").is_test,
            "a file named tests.py is not a dir"
        );
        assert!(!PathFacts::classify("src/contest.java").is_test);
        assert!(!PathFacts::classify("src/latest/app.js").is_test);
        assert!(PathFacts::classify("tools/test_login.py").is_test);
        assert!(PathFacts::classify("ios/Pods/AFNetworking/x.m").is_vendor);
        assert!(!PathFacts::classify("deploy/pods/api.yaml").is_vendor);
        assert!(PathFacts::classify("py/api_pb2.py").is_generated);
        assert_eq!(PathFacts::of(&secret(1, None)), PathFacts::default());
    }

    #[test]
    fn every_bundled_reason_starts_with_its_triage() {
        let findings = [
            code_alert(1, "js/xss", "src/a.js"),
            on_ref(
                code_alert(1, "js/xss", "src/a.js"),
                Some("refs/pull/1/merge"),
            ),
            code_alert(1, "js/xss", "test/a.js"),
            secret(1, None),
        ];
        for finding in &findings {
            let decision = decide(finding);
            let prefix = match decision.triage {
                Triage::Ticket => "ticketed: ",
                Triage::Record => "recorded: ",
                Triage::Ignore => "ignored: ",
            };
            assert!(decision.reason.starts_with(prefix), "{}", decision.reason);
        }
    }

    const PAYMENTS_POLICY: &str = r#"
package scantix

import rego.v1

# Payments: tighter SLA, one ticket per alert, filed as critical.
decision := {
	"triage": "ticket",
	"reason": "ticketed: payments code",
	"priority": "critical",
	"sla_days": 3,
	"group_by": "alert",
} if {
	startswith(input.paths.path, "services/payments/")
} else := {"triage": "ignore", "reason": "ignored: docs"} if {
	startswith(input.paths.path, "docs/")
} else := {"triage": "ticket", "reason": "ticketed: everything else"}
"#;

    #[test]
    fn an_override_policy_can_raise_the_sla_change_grouping_and_priority() {
        let policy = Policy::from_rego(PAYMENTS_POLICY).unwrap();
        let payments = code_alert(1, "js/sql-injection", "services/payments/charge.js");
        assert_eq!(
            policy.evaluate(&PolicyInput::new(&payments)).unwrap(),
            PolicyDecision {
                priority_reason: None,
                triage: Triage::Ticket,
                reason: "ticketed: payments code".into(),
                priority: Some(Severity::Critical),
                sla_days: Some(3),
                group_by: Some(GroupingMode::Alert),
                assignee: None,
                draft: false,
            }
        );
        let docs = code_alert(2, "js/xss", "docs/site.js");
        assert_eq!(
            policy.evaluate(&PolicyInput::new(&docs)).unwrap().triage,
            Triage::Ignore
        );
        let other = code_alert(3, "js/xss", "test/a.js");
        let decision = policy.evaluate(&PolicyInput::new(&other)).unwrap();
        assert_eq!((decision.triage, decision.sla_days), (Triage::Ticket, None));
    }

    #[test]
    fn a_draft_verdict_tickets_the_finding_as_a_draft() {
        let policy = Policy::from_rego(
            r#"package scantix
default decision := {"triage": "ticket", "reason": "ticketed: the rest"}
decision := {"triage": "draft", "reason": "draft: new rule, a person decides"} if {
	input.finding.rule.id == "js/xss"
}"#,
        )
        .unwrap();
        let drafted = triage_with(&policy, &code_alert(1, "js/xss", "src/a.js"));
        assert_eq!((drafted.triage, drafted.draft), (Triage::Ticket, true));
        assert!(drafted.reason.starts_with("draft:"));
        let ticketed = triage_with(&policy, &code_alert(2, "js/sqli", "src/a.js"));
        assert_eq!((ticketed.triage, ticketed.draft), (Triage::Ticket, false));
    }

    #[test]
    fn a_syntax_error_is_reported_with_its_line() {
        let source = "package scantix\n\nimport rego.v1\n\ndecision := {\"triage\": \"ticket\" if {\n\ttrue\n}\n";
        let error = Policy::from_rego(source).unwrap_err();
        match &error {
            PolicyError::Syntax {
                line,
                column,
                message,
            } => {
                assert_eq!(*line, 5, "{error}");
                assert!(*column > 0);
                assert!(!message.is_empty() && !message.contains("-->"), "{message}");
            }
            other => panic!("expected a syntax error, got {other:?}"),
        }
        assert!(
            error.to_string().starts_with("policy line 5, column "),
            "{error}"
        );
    }

    #[test]
    fn a_policy_without_a_decision_is_refused_when_loaded() {
        let error =
            Policy::from_rego("package scantix\n\nimport rego.v1\n\nallow := true\n").unwrap_err();
        assert!(
            matches!(&error, PolicyError::NotAScantixPolicy(m) if m.contains("`decision`")),
            "{error:?}"
        );
    }

    #[test]
    fn a_policy_in_another_package_is_refused() {
        let error = Policy::from_rego(
            "package triage\nimport rego.v1\ndecision := {\"triage\": \"ticket\", \"reason\": \"r\"}\n",
        )
        .unwrap_err();
        assert!(
            matches!(&error, PolicyError::NotAScantixPolicy(m) if m.contains("`triage`")),
            "{error:?}"
        );
    }

    #[test]
    fn a_decision_undefined_for_a_finding_is_an_error() {
        let policy = Policy::from_rego(
            "package scantix\nimport rego.v1\ndecision := {\"triage\": \"record\", \"reason\": \"pr\"} if input.pull_request != null\n",
        )
        .unwrap();
        let error = policy
            .evaluate(&PolicyInput::new(&code_alert(1, "js/xss", "a.js")))
            .unwrap_err();
        assert!(matches!(error, PolicyError::Undefined), "{error:?}");
    }

    #[test]
    fn a_malformed_decision_says_which_field_is_wrong() {
        let cases = [
            (r#"{"triage": "file", "reason": "r"}"#, "triage"),
            (
                r#"{"triage": "ticket", "reason": "r", "sla-days": 3}"#,
                "sla-days",
            ),
            (
                r#"{"triage": "ticket", "reason": "r", "sla_days": -1}"#,
                "sla_days",
            ),
            (
                r#"{"triage": "ticket", "reason": "r", "group_by": "team"}"#,
                "group_by",
            ),
            (r#"{"triage": "ticket"}"#, "reason"),
            (r#"{"triage": "ticket", "reason": " "}"#, "reason"),
            (r#""ticket""#, "expected"),
        ];
        for (value, mentions) in cases {
            let source = format!("package scantix\nimport rego.v1\ndecision := {value}\n");
            let policy = Policy::from_rego(&source).unwrap();
            let error = policy
                .evaluate(&PolicyInput::new(&code_alert(1, "js/xss", "a.js")))
                .unwrap_err();
            assert!(
                matches!(&error, PolicyError::Malformed(m) if m.contains(mentions)),
                "{value}: {error}"
            );
        }
    }

    #[test]
    fn errors_found_only_by_evaluating_are_reported_when_the_policy_is_loaded() {
        let head = "package scantix\nimport rego.v1\n";
        let cases = [
            (
                "decision := {\"triage\": \"ticket\", \"reason\": \"a\"}\n\
                 decision := {\"triage\": \"record\", \"reason\": \"b\"}\n",
                4,
                "conflicts",
            ),
            (
                "decision := {\"triage\": \"ticket\", \"reason\": x}\n",
                3,
                "unsafe",
            ),
            (
                "decision := {\"triage\": \"ticket\", \"reason\": f(1)}\n",
                3,
                "function",
            ),
        ];
        for (body, want_line, mentions) in cases {
            let error = Policy::from_rego(&format!("{head}{body}")).unwrap_err();
            assert!(
                matches!(&error, PolicyError::Evaluation { line: Some(l), message }
                    if *l == want_line && message.contains(mentions)),
                "{error:?}"
            );
        }
    }

    #[test]
    fn a_builtin_given_the_wrong_type_is_undefined_as_in_opa() {
        let policy = Policy::from_rego(PAYMENTS_POLICY).unwrap();
        let no_path = secret(1, None);
        let decision = policy.evaluate(&PolicyInput::new(&no_path)).unwrap();
        assert_eq!(decision.reason, "ticketed: everything else");
    }

    #[test]
    fn a_runaway_policy_is_stopped_at_the_time_limit() {
        // Loads (the sample finding is a pull-request-free one, so the slow rule is skipped)…
        let source = "package scantix\nimport rego.v1\n\
                      decision := {\"triage\": \"ticket\", \"reason\": sprintf(\"%d\", [n])} if {\n\
                      \tinput.pull_request != null\n\
                      \tn := count([x | some x in numbers.range(1, 5000); some y in numbers.range(1, 5000); x == y])\n\
                      }\n\
                      else := {\"triage\": \"ticket\", \"reason\": \"ticketed\"}\n";
        let policy = Policy::from_rego(source).unwrap();
        // …and is stopped on the first finding that reaches the slow rule.
        let finding = on_ref(code_alert(1, "js/xss", "a.js"), Some("refs/pull/3/merge"));
        let started = std::time::Instant::now();
        let error = policy.evaluate(&PolicyInput::new(&finding)).unwrap_err();
        assert!(matches!(error, PolicyError::TimeLimit(_)), "{error:?}");
        assert!(started.elapsed() < EVALUATION_TIME_LIMIT * 3);
    }

    #[test]
    fn a_policy_over_the_size_limits_is_refused_before_it_is_parsed() {
        let head = "package scantix\nimport rego.v1\ndecision := {\"triage\": \"ticket\", \"reason\": \"r\"}\n";
        let comment = "# a comment line that pads the policy out to its limit, and past it\n";
        let long = format!(
            "{head}{}",
            comment.repeat(MAX_POLICY_BYTES / comment.len() + 1)
        );
        let error = Policy::from_rego(&long).unwrap_err();
        assert!(matches!(error, PolicyError::TooLarge { .. }), "{error:?}");
        assert!(error.to_string().contains("up to 131072 bytes"), "{error}");
        let many = format!("{head}{}", "#\n".repeat(MAX_POLICY_LINES));
        let error = Policy::from_rego(&many).unwrap_err();
        assert!(
            matches!(error, PolicyError::TooLarge { lines, .. } if lines == MAX_POLICY_LINES + 3),
            "{error:?}"
        );
        // Within both limits, the same policy loads.
        let fits = format!("{head}{}", "#\n".repeat(MAX_POLICY_LINES - 3));
        assert!(Policy::from_rego(&fits).is_ok());
    }

    #[test]
    fn deeply_nested_brackets_are_refused_before_regorus_parses_them() {
        // Found by fuzzing `.github/scantix.yml`: regorus's parser is exponential in how deep `{`
        // and `[` nest, so 42 levels would hold the loader for hours.
        let nested = |open: &str, close: &str, depth: usize| {
            format!(
                "package scantix\nimport rego.v1\n\
                 decision := {{\"triage\": \"ticket\", \"reason\": \"r\"}} if {{\n\
                 \tx := {}1{}\n}}\n",
                open.repeat(depth),
                close.repeat(depth)
            )
        };
        for (open, close) in [("{", "}"), ("[", "]"), ("[{", "}]")] {
            let error = Policy::from_rego(&nested(open, close, 42)).unwrap_err();
            assert!(
                matches!(error, PolicyError::Syntax { line: 4, .. }),
                "{open}: {error:?}"
            );
            assert!(
                error.to_string().contains("nest more than 10 deep"),
                "{error}"
            );
        }
        // Brackets in strings and comments do not count, and real nesting within the limit loads.
        let quoted = format!(
            "package scantix\nimport rego.v1\n# {}\n\
             decision := {{\"triage\": \"ticket\", \"reason\": \"{}\"}} if {{\n\
             \tregex.match(`^{}$`, input.paths.path) == false\n\tx := [[[[{{\"a\": [1]}}]]]]\n}}\n",
            "{[".repeat(40),
            "[{".repeat(40),
            "\\[".repeat(20),
        );
        assert!(
            Policy::from_rego(&quoted).is_ok(),
            "{:?}",
            Policy::from_rego(&quoted).err()
        );
        assert_eq!(nesting_over(&quoted, MAX_POLICY_NESTING), None);
    }

    #[test]
    fn huge_exponents_are_refused_before_regorus_parses_them() {
        // Found by fuzzing `.github/scantix.yml`: regorus computes `0e200000029` in full
        // precision, in time growing with the exponent.
        let with = |number: &str| {
            format!(
                "package scantix\nimport rego.v1\n\
                 decision := {{\"triage\": \"ticket\", \"reason\": \"r\", \"x\": {number}}}\n"
            )
        };
        for number in [
            "0e200000029",
            "0e0000000000000000000200000029",
            "1.5E+309",
            "2e-400",
        ] {
            let error = Policy::from_rego(&with(number)).unwrap_err();
            assert!(
                matches!(
                    error,
                    PolicyError::Syntax {
                        line: 3,
                        column: 54,
                        ..
                    }
                ),
                "{number}: {error:?}"
            );
            assert!(error.to_string().contains("beyond ±308"), "{error}");
        }
        // Within a double's range, numbers load; exponents in strings, comments and names do
        // not count.
        for number in ["1e308", "2.5e-3", "0E0", "10"] {
            assert!(Policy::from_rego(&with(number)).is_ok(), "{number}");
        }
        let elsewhere = "package scantix\nimport rego.v1\n# 0e200000029\n\
                         x1e999 := 1\n\
                         decision := {\"triage\": \"ticket\", \"reason\": \"0e200000029\"} if {\n\
                         \tx1e999 == 1\n\
                         }\n";
        assert_eq!(exponent_over(elsewhere, MAX_POLICY_EXPONENT), None);
        assert!(
            Policy::from_rego(elsewhere).is_ok(),
            "{:?}",
            Policy::from_rego(elsewhere).err()
        );
    }

    #[test]
    fn a_policy_regex_cannot_backtrack_on_a_hostile_path() {
        // `regex.match` is the Rust regex crate: linear in the text, so a pattern that would
        // backtrack forever elsewhere (`^(a|a?)+$` on "aaa…b") answers at once, well within the
        // time limit, and the policy decides.
        let source = "package scantix\nimport rego.v1\n\
                      decision := {\"triage\": \"record\", \"reason\": \"odd path\"} if {\n\
                      \tregex.match(`^(a|a?)+$`, input.paths.path)\n\
                      } else := {\"triage\": \"ticket\", \"reason\": \"ticketed\"}\n";
        let policy = Policy::from_rego(source).unwrap();
        let path = format!("{}b", "a".repeat(4_000));
        let finding = code_alert(1, "js/xss", &path);
        let decision = policy.evaluate(&PolicyInput::new(&finding)).unwrap();
        assert_eq!(decision.reason, "ticketed");
    }

    #[test]
    fn a_busy_engine_is_not_waited_for() {
        let policy = Policy::default_policy();
        let _busy = policy.reusable.lock().unwrap();
        let decision = policy
            .evaluate(&PolicyInput::new(&code_alert(1, "js/xss", "src/a.js")))
            .unwrap();
        assert_eq!(decision.triage, Triage::Ticket);
    }

    #[test]
    fn a_policy_is_shared_across_threads() {
        fn assert_send_sync<T: Send + Sync>() {}
        assert_send_sync::<Policy>();
        let policy = std::sync::Arc::new(Policy::default_policy());
        let handles: Vec<_> = (0..4)
            .map(|i| {
                let policy = policy.clone();
                std::thread::spawn(move || {
                    let path = if i % 2 == 0 { "src/a.js" } else { "test/a.js" };
                    let finding = code_alert(i, "js/xss", path);
                    policy
                        .evaluate(&PolicyInput::new(&finding))
                        .map(|d| d.triage)
                })
            })
            .collect();
        let triages: Vec<Triage> = handles
            .into_iter()
            .map(|h| h.join().unwrap().unwrap())
            .collect();
        assert_eq!(
            triages,
            [
                Triage::Ticket,
                Triage::Record,
                Triage::Ticket,
                Triage::Record
            ]
        );
    }

    #[test]
    fn the_input_carries_the_finding_branch_pull_request_and_path_facts() {
        let finding = on_ref(
            code_alert(9, "js/xss", "test/a.js"),
            Some("refs/pull/12/head"),
        );
        let json = serde_json::to_value(PolicyInput::new(&finding)).unwrap();
        assert_eq!(json["default_branch"], "main");
        assert_eq!(json["pull_request"], 12);
        assert_eq!(json["finding"]["kind"], "code_scanning");
        assert_eq!(json["finding"]["severity"], "high");
        assert_eq!(
            json["paths"],
            serde_json::json!({"path": "test/a.js", "is_test": true, "is_vendor": false, "is_generated": false})
        );
    }

    // --- priority by risk (R1 to R5 of default.rego) ----------------------------------------

    fn kev() -> KevCatalogue {
        KevCatalogue::parse(include_bytes!("../tests/fixtures/kev-sample.json")).unwrap()
    }

    /// Dependabot alert `number` for `cve` at `severity`, with `epss` as GitHub sends it.
    fn advisory(number: u64, cve: &str, severity: Severity, epss: Option<f64>) -> Finding {
        let mut finding = dependabot_alert(number, "GHSA-jfh8-c2jp-5v3q", "log4j-core", "pom.xml");
        finding.severity = severity;
        if let Some(a) = finding.advisory.as_mut() {
            a.cve_id = Some(cve.into());
            a.epss = epss.map(|percentage| scantix_core::finding::Epss {
                percentage,
                percentile: Some(0.99),
            });
        }
        finding
    }

    fn decide_with_kev(finding: &Finding) -> PolicyDecision {
        let catalogue = kev();
        Policy::default_policy()
            .evaluate(&PolicyInput::new(finding).with_kev(Some(&catalogue)))
            .unwrap()
    }

    #[test]
    fn a_known_exploited_cve_is_raised_a_step_with_a_shorter_deadline() {
        let high = decide_with_kev(&advisory(1, "CVE-2021-44228", Severity::High, None));
        assert_eq!(high.triage, Triage::Ticket);
        assert_eq!(high.priority, Some(Severity::Critical));
        // High's 30 days become critical's 7.
        assert_eq!(high.sla_days, Some(7));
        assert_eq!(
            high.priority_reason.as_deref(),
            Some(
                "raised from high: CVE-2021-44228 is in CISA's Known Exploited Vulnerabilities \
                 catalogue (added 2021-12-10)"
            )
        );
        // A critical one stays critical and gets half its days.
        let critical = decide_with_kev(&advisory(2, "cve-2021-44228", Severity::Critical, None));
        assert_eq!(critical.priority, Some(Severity::Critical));
        assert_eq!(critical.sla_days, Some(3));
        assert!(
            critical
                .priority_reason
                .unwrap()
                .starts_with("kept at critical, deadline shortened: CVE-2021-44228")
        );
        // A low one is ticketed (not recorded for its severity), at medium.
        let low = decide_with_kev(&advisory(3, "CVE-2022-22965", Severity::Low, None));
        assert_eq!(low.triage, Triage::Ticket);
        assert_eq!(low.priority, Some(Severity::Medium));
        // The SLA table is the repository's.
        let catalogue = kev();
        let sla = SlaPolicy {
            critical: 2,
            ..SlaPolicy::default()
        };
        let finding = advisory(4, "CVE-2017-5638", Severity::High, None);
        let input = PolicyInput::new(&finding)
            .with_kev(Some(&catalogue))
            .with_sla(sla);
        let decision = Policy::default_policy().evaluate(&input).unwrap();
        assert_eq!(decision.sla_days, Some(2));
        // Not in the catalogue, or no catalogue: the finding's own severity.
        for decision in [
            decide_with_kev(&advisory(5, "CVE-2020-0001", Severity::High, None)),
            decide(&advisory(6, "CVE-2021-44228", Severity::High, None)),
        ] {
            assert_eq!(
                (
                    decision.priority,
                    decision.sla_days,
                    decision.priority_reason
                ),
                (None, None, None)
            );
        }
    }

    #[test]
    fn an_epss_of_ten_percent_or_more_raises_the_priority() {
        let hot = decide(&advisory(1, "CVE-2024-0001", Severity::Medium, Some(0.10)));
        assert_eq!(hot.priority, Some(Severity::High));
        assert_eq!(hot.sla_days, Some(30));
        assert_eq!(
            hot.priority_reason.as_deref(),
            Some("raised from medium: EPSS gives it a 10 % chance of exploitation within 30 days")
        );
        let hotter = decide(&advisory(2, "CVE-2024-0001", Severity::High, Some(0.9443)));
        assert_eq!(hotter.priority, Some(Severity::Critical));
        assert!(hotter.priority_reason.unwrap().contains("a 94.4 % chance"));
        // Just under the threshold (GitHub's example sends 0.00045): nothing changes.
        for epss in [0.0999, 0.00045] {
            let cold = decide(&advisory(3, "CVE-2024-0001", Severity::Medium, Some(epss)));
            assert_eq!(
                (cold.priority, cold.priority_reason),
                (None, None),
                "{epss}"
            );
        }
        // A low-severity alert likely to be exploited is ticketed, not recorded.
        let low = decide(&advisory(4, "CVE-2024-0001", Severity::Low, Some(0.5)));
        assert_eq!(
            (low.triage, low.priority),
            (Triage::Ticket, Some(Severity::Medium))
        );
    }

    #[test]
    fn an_active_or_public_secret_is_critical_and_an_inactive_one_lowered() {
        use scantix_core::finding::{SecretExposure, SecretValidity};
        let with = |validity: Option<SecretValidity>, publicly_leaked: bool| {
            let mut finding = secret(1, None);
            finding.secret = Some(SecretExposure {
                validity,
                publicly_leaked,
            });
            decide(&finding)
        };
        let active = with(Some(SecretValidity::Active), false);
        assert_eq!(active.priority, Some(Severity::Critical));
        assert_eq!(
            active.priority_reason.as_deref(),
            Some(
                "raised from high: GitHub's check with the provider found the secret still active"
            )
        );
        let public = with(Some(SecretValidity::Unknown), true);
        assert_eq!(public.priority, Some(Severity::Critical));
        assert_eq!(
            public.priority_reason.as_deref(),
            Some("raised from high: the secret was also found in a public location")
        );
        // Public wins over inactive: anyone may still try it elsewhere.
        assert_eq!(
            with(Some(SecretValidity::Inactive), true).priority,
            Some(Severity::Critical)
        );
        let inactive = with(Some(SecretValidity::Inactive), false);
        assert_eq!(inactive.triage, Triage::Ticket);
        assert_eq!(inactive.priority, Some(Severity::Medium));
        assert_eq!(
            inactive.priority_reason.as_deref(),
            Some("lowered from high: the provider reports the secret inactive")
        );
        for unknown in [
            with(Some(SecretValidity::Unknown), false),
            with(None, false),
        ] {
            assert_eq!((unknown.priority, unknown.priority_reason), (None, None));
        }
    }

    #[test]
    fn the_input_carries_epss_secret_exposure_kev_and_the_sla() {
        let catalogue = kev();
        let finding = advisory(1, "CVE-2021-44228", Severity::High, Some(0.97));
        let json =
            serde_json::to_value(PolicyInput::new(&finding).with_kev(Some(&catalogue))).unwrap();
        assert_eq!(
            json["finding"]["advisory"]["epss"],
            serde_json::json!({"percentage": 0.97, "percentile": 0.99})
        );
        assert_eq!(json["kev"]["product"], "Log4j2");
        assert_eq!(json["kev"]["known_ransomware"], true);
        assert_eq!(json["sla"]["critical"], 7);
        let plain = serde_json::to_value(PolicyInput::new(&secret(2, None))).unwrap();
        assert_eq!(plain["kev"], serde_json::Value::Null);
    }

    #[test]
    fn a_policy_priority_reason_is_one_bounded_line() {
        let policy = Policy::from_rego(
            "package scantix\nimport rego.v1\ndecision := {\"triage\": \"ticket\", \"reason\": \"r\", \
             \"priority\": \"high\", \"priority_reason\": concat(\"\", [\"a\\nb\", \
             concat(\"\", [\"x\" | some _ in numbers.range(1, 1000)])])}\n",
        )
        .unwrap();
        let decision = policy
            .evaluate(&PolicyInput::new(&code_alert(1, "js/xss", "a.js")))
            .unwrap();
        let why = decision.priority_reason.unwrap();
        assert!(why.starts_with("a b"), "{why}");
        assert_eq!(why.chars().count(), MAX_PRIORITY_REASON_CHARS);
    }
}
