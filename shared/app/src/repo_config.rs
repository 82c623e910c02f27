//! Configuration as code: `.github/scantix.yml`.
//!
//! scantix reads the file from the alert's repository and from the organisation's `.github`
//! repository (Probot's convention), and [`resolve`]s them: a section in the repository's file
//! replaces the organisation's section as a whole, and a section in neither takes scantix's
//! default. [`parse`] is strict (kebab-case keys, unknown keys refused) and its [`ConfigError`]
//! says where in the file the problem is and how to fix it. [`RepoConfig::engine_config`] turns
//! the result into the decision engine's [`Config`]; [`RepoConfig::ticket_destination`] says where
//! the repository's tickets go within the deployment's tracker (or why its `tracker` section cannot
//! apply); the other accessors give the tracker, SLA, priority, owner and policy settings.
//!
//! # The file format
//!
//! Every section, annotated (this is `repo_config.example.yml`, which a test parses):
//!
//! ```yaml
#![doc = include_str!("repo_config.example.yml")]
//! ```

use scantix_core::config::{Config, DraftMode, Grouping, MAX_BUDGET, TicketBudget, WhenAllFixed};
use scantix_core::finding::DismissReason;
use scantix_core::sla::SlaPolicy;
use scantix_core::ticket::destination::TicketDestination;
use scantix_core::ticket::destination::TrackerSite;
use scantix_core::ticket::destination::{JiraSettings, Priorities, TrackerKind};
use scantix_core::ticket::routing::{Route, RouteTo};
use scantix_policy::{Policy, PolicyError};
use serde::de::DeserializeSeed;
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;
use std::fmt;

/// Where scantix reads the file, in the repository and in the org's `.github` repository.
pub const CONFIG_PATH: &str = ".github/scantix.yml";

/// One `.github/scantix.yml`, or several resolved into one. `None` means "not set here": the
/// next layer (org, then default) decides.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case", deny_unknown_fields)]
pub struct RepoConfig {
    pub tracker: Option<TrackerSection>,
    pub grouping: Option<Grouping>,
    /// Severity → tracker priority.
    #[serde(alias = "severity-to-priority")]
    pub priorities: Option<Priorities>,
    pub sla: Option<SlaPolicy>,
    pub when_all_fixed: Option<WhenAllFixed>,
    pub verify_closure: Option<bool>,
    /// Tracker resolution → dismissal reason; replaces the default list when given.
    pub resolutions: Option<BTreeMap<String, DismissReason>>,
    pub recreate_deleted_tickets: Option<bool>,
    /// `ticket` (the default) or `draft`: everything, or per kind and severity (a map whose keys
    /// are `default`, kinds and severities; a severity's entry wins over a kind's).
    pub mode: Option<ModeSetting>,
    /// The ticket budget: `per-repository`, `per-owner`, `exempt-severities`.
    pub budget: Option<TicketBudget>,
    /// CODEOWNERS owner (`@org/team`, `@user`, email) → tracker user id.
    pub owners: Option<BTreeMap<String, String>>,
    pub default_assignee: Option<String>,
    /// Which of the deployment's trackers tickets go to, by kind and severity, and which are
    /// told too: the first entry with `tracker` that matches a new group files its ticket; every
    /// matching entry with `also` adds a copy. A group keeps the tracker it was filed in.
    pub routes: Option<Vec<RouteEntry>>,
    /// The triage policy's Rego source.
    pub policy: Option<String>,
    /// A path to the triage policy's Rego source in the same repository as this file.
    pub policy_file: Option<String>,
    /// Set by `resolve` when the policy came from the org's file, so that `policy-file` is read
    /// from the org's `.github` repository.
    #[serde(skip)]
    policy_from_org: bool,
}

/// What scantix does with a finding that triage tickets: create the ticket, or prepare a draft
/// that a person pushes (`scantix drafts push`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum TicketMode {
    Ticket,
    Draft,
}

/// The `mode` setting: one mode for everything, or one per kind and severity.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(untagged)]
pub enum ModeSetting {
    /// `mode: draft`.
    Everything(TicketMode),
    /// `mode: { default: ticket, dependabot: draft, low: draft }`.
    Chosen(BTreeMap<ModeKey, TicketMode>),
}

// Not `#[serde(untagged)]` for reading: its error ("did not match any variant") would not say
// what is wrong; this one names the unknown word and the expected ones.
impl<'de> Deserialize<'de> for ModeSetting {
    fn deserialize<D: serde::Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        struct ModeVisitor;
        impl<'de> serde::de::Visitor<'de> for ModeVisitor {
            type Value = ModeSetting;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("`ticket`, `draft`, or a map of kinds and severities to either")
            }
            fn visit_str<E: serde::de::Error>(self, text: &str) -> Result<ModeSetting, E> {
                TicketMode::deserialize(serde::de::value::StrDeserializer::<E>::new(text))
                    .map(ModeSetting::Everything)
            }
            fn visit_map<A: serde::de::MapAccess<'de>>(
                self,
                entries: A,
            ) -> Result<ModeSetting, A::Error> {
                BTreeMap::deserialize(serde::de::value::MapAccessDeserializer::new(entries))
                    .map(ModeSetting::Chosen)
            }
        }
        deserializer.deserialize_any(ModeVisitor)
    }
}

/// A key of the `mode` map.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum ModeKey {
    Default,
    CodeScanning,
    Dependabot,
    SecretScanning,
    Sarif,
    Critical,
    High,
    Medium,
    Low,
    Note,
    Unknown,
}

impl ModeSetting {
    /// The engine's form of it.
    pub fn draft_mode(&self) -> DraftMode {
        use scantix_core::finding::{AlertKind, Severity};
        let chosen = match self {
            ModeSetting::Everything(mode) => {
                return DraftMode {
                    default: *mode == TicketMode::Draft,
                    ..DraftMode::default()
                };
            }
            ModeSetting::Chosen(chosen) => chosen,
        };
        let mut drafts = DraftMode::default();
        for (key, mode) in chosen {
            let draft = *mode == TicketMode::Draft;
            let kind = match key {
                ModeKey::Default => {
                    drafts.default = draft;
                    continue;
                }
                ModeKey::CodeScanning => AlertKind::CodeScanning,
                ModeKey::Dependabot => AlertKind::Dependabot,
                ModeKey::SecretScanning => AlertKind::SecretScanning,
                ModeKey::Sarif => AlertKind::Sarif,
                severity => {
                    let severity = match severity {
                        ModeKey::Critical => Severity::Critical,
                        ModeKey::High => Severity::High,
                        ModeKey::Medium => Severity::Medium,
                        ModeKey::Low => Severity::Low,
                        ModeKey::Note => Severity::Note,
                        _ => Severity::Unknown,
                    };
                    drafts.severities.insert(severity, draft);
                    continue;
                }
            };
            drafts.kinds.insert(kind, draft);
        }
        drafts
    }
}

/// One entry of `routes`:
///
/// ```yaml
/// routes:
///   - kinds: [secret-scanning]
///     tracker: servicenow
///   - kinds: [code-scanning]
///     tracker: jira
///   - min-severity: high
///     also: email
/// ```
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case", deny_unknown_fields)]
pub struct RouteEntry {
    /// The kinds it applies to; none given: every kind.
    #[serde(default)]
    pub kinds: Vec<RouteKind>,
    /// The least severity it applies to (`high`: high and critical); none given: every severity.
    #[serde(default)]
    pub min_severity: Option<scantix_core::finding::Severity>,
    /// The tracker the ticket is filed in.
    #[serde(default)]
    pub tracker: Option<TrackerKind>,
    /// A tracker told too (a copy of the new ticket, for email a message).
    #[serde(default)]
    pub also: Option<TrackerKind>,
}

/// A kind a `routes` entry names.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum RouteKind {
    CodeScanning,
    Dependabot,
    SecretScanning,
    Sarif,
}

impl RouteEntry {
    /// The engine's form of it; `None` for an entry `validate` refuses (neither or both targets).
    fn route(&self) -> Option<Route> {
        use scantix_core::finding::AlertKind;
        let to = match (self.tracker, self.also) {
            (Some(tracker), None) => RouteTo::Tracker(tracker),
            (None, Some(also)) => RouteTo::Also(also),
            _ => return None,
        };
        let kinds = self
            .kinds
            .iter()
            .map(|kind| match kind {
                RouteKind::CodeScanning => AlertKind::CodeScanning,
                RouteKind::Dependabot => AlertKind::Dependabot,
                RouteKind::SecretScanning => AlertKind::SecretScanning,
                RouteKind::Sarif => AlertKind::Sarif,
            })
            .collect();
        Some(Route {
            kinds,
            min_severity: self.min_severity,
            to,
        })
    }
}

/// The `tracker` section.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case", deny_unknown_fields)]
pub struct TrackerSection {
    pub kind: TrackerKind,
    /// Required when `kind` is `jira`.
    pub jira: Option<JiraSettings>,
}

/// Where the triage policy comes from, once resolved.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PolicySource<'a> {
    /// Nobody configured one: `Policy::default_policy()`.
    Bundled,
    /// Rego written in the file: `Policy::from_rego(source)`.
    Inline(&'a str),
    /// Rego in a file to fetch first, then `Policy::from_rego`.
    File {
        path: &'a str,
        /// The repository to read it from.
        from: PolicyRepository,
    },
}

/// Which repository a `policy-file` is read from: the one whose config file named it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PolicyRepository {
    /// The alert's own repository.
    ThisRepository,
    /// The organisation's `.github` repository.
    OrgDotGithub,
}

/// Why a `.github/scantix.yml` was refused: where (1-based line and column, when known), what,
/// and how to fix it.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub struct ConfigError {
    pub line: Option<usize>,
    pub column: Option<usize>,
    pub message: String,
    pub fix: String,
}

impl fmt::Display for ConfigError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{CONFIG_PATH}: ")?;
        match (self.line, self.column) {
            (Some(line), Some(column)) => write!(f, "line {line}, column {column}: ")?,
            (Some(line), None) => write!(f, "line {line}: ")?,
            _ => {}
        }
        write!(f, "{} — {}", self.message, self.fix)
    }
}

/// Top-level keys, in the order the file format documents them (for suggestions).
const TOP_LEVEL_KEYS: &[&str] = &[
    "tracker",
    "grouping",
    "priorities",
    "severity-to-priority",
    "sla",
    "when-all-fixed",
    "verify-closure",
    "resolutions",
    "recreate-deleted-tickets",
    "mode",
    "budget",
    "owners",
    "default-assignee",
    "routes",
    "policy",
    "policy-file",
];

/// Reads one `.github/scantix.yml`. An empty file (or one of only comments) is an empty config.
/// Besides the format, checks what the format cannot say: `policy` and `policy-file` are not both
/// given, a `jira` tracker has its `jira` section, an inline policy compiles. A file over the
/// limits of [`check_limits`] is refused before it is parsed.
pub fn parse(yaml: &str) -> Result<RepoConfig, ConfigError> {
    check_limits(yaml)?;
    let config = match serde_norway::from_str::<Option<RepoConfig>>(yaml) {
        Ok(config) => config.unwrap_or_default(),
        Err(e) => return Err(format_error(&e)),
    };
    validate(&config, yaml)?;
    Ok(config)
}

/// The largest `.github/scantix.yml` read, in bytes. A settings file is a few hundred bytes; with
/// an inline policy, a few kilobytes. (GitHub's contents API serves files of up to 1 MB.)
pub const MAX_CONFIG_BYTES: usize = 256 * 1024;

/// How deep `[` and `{` may nest. libyaml's work grows with the square of the nesting (measured:
/// 8,000 levels take a quarter of a second, and a file of its largest size could nest 100,000);
/// a settings file nests two or three levels.
pub const MAX_FLOW_NESTING: usize = 64;

/// How many values (texts, numbers, lists, maps) the file may stand for once its anchors and
/// aliases are expanded: YAML lets `*name` repeat a whole anchored value, so a small file can
/// stand for gigabytes ("billion laughs"; serde_norway stops only the nested kind of it, and a
/// 0.8 MB file of one large text repeated by 40,000 aliases asks for 8 GB). An owners map of a
/// few thousand teams is well within.
pub const MAX_EXPANDED_VALUES: usize = 100_000;

/// How many bytes of text the file may stand for once its anchors and aliases are expanded.
pub const MAX_EXPANDED_BYTES: usize = 4 * MAX_CONFIG_BYTES;

/// Refuses a file that would cost more to read than any settings file needs: over
/// [`MAX_CONFIG_BYTES`], flow collections nested over [`MAX_FLOW_NESTING`] deep, or more than
/// [`MAX_EXPANDED_VALUES`] values or [`MAX_EXPANDED_BYTES`] bytes of text with aliases expanded.
/// The expansion is measured by walking the document without keeping any of it, and stopped as
/// soon as it is over, so that the typed parse that follows never holds more than the limits.
fn check_limits(yaml: &str) -> Result<(), ConfigError> {
    let refuse = |line: Option<usize>, message: String, fix: &str| ConfigError {
        line,
        column: None,
        message,
        fix: fix.to_owned(),
    };
    if yaml.len() > MAX_CONFIG_BYTES {
        return Err(refuse(
            None,
            format!(
                "the file is {} bytes; scantix reads settings files of up to {MAX_CONFIG_BYTES} \
                 bytes",
                yaml.len()
            ),
            "move a long inline `policy` into a `policy-file`, and keep this file to settings",
        ));
    }
    if let Some(line) = flow_nesting_over(yaml, MAX_FLOW_NESTING) {
        return Err(refuse(
            Some(line),
            format!(
                "`[` and `{{` nest more than {MAX_FLOW_NESTING} deep here (every bracket in the \
                 file counts, quoted or not)"
            ),
            "write nested lists and maps as indented blocks, or close the brackets",
        ));
    }
    let tally = Tally::default();
    let walked = Walk(&tally).deserialize(serde_norway::Deserializer::from_str(yaml));
    if tally.over.get() {
        let line = walked.err().and_then(|e| e.location()).map(|l| l.line());
        return Err(refuse(
            line,
            format!(
                "with its anchors and aliases expanded, the file stands for more than \
                 {MAX_EXPANDED_VALUES} values or {MAX_EXPANDED_BYTES} bytes of text"
            ),
            "write the settings out instead of repeating anchors (`&name` … `*name`) so often",
        ));
    }
    // Any other error is the YAML's own: the typed parse reports it, with its fix.
    Ok(())
}

/// The 1-based line on which `[`/`{` brackets first nest deeper than `limit`, if they do.
fn flow_nesting_over(yaml: &str, limit: usize) -> Option<usize> {
    let (mut depth, mut line) = (0usize, 1usize);
    for byte in yaml.bytes() {
        match byte {
            b'[' | b'{' => {
                depth += 1;
                if depth > limit {
                    return Some(line);
                }
            }
            b']' | b'}' => depth = depth.saturating_sub(1),
            b'\n' => line += 1,
            _ => {}
        }
    }
    None
}

/// What [`Walk`] has counted so far.
#[derive(Default)]
struct Tally {
    values: std::cell::Cell<usize>,
    bytes: std::cell::Cell<usize>,
    over: std::cell::Cell<bool>,
}

/// Visits every value of a YAML document as serde_norway hands it over (an alias once more each
/// time it is used), counting into a [`Tally`] and failing once it is over the limits. Keeps
/// nothing: texts are only measured.
#[derive(Clone, Copy)]
struct Walk<'t>(&'t Tally);

impl Walk<'_> {
    fn count<E: serde::de::Error>(self, bytes: usize) -> Result<(), E> {
        let tally = self.0;
        tally.values.set(tally.values.get().saturating_add(1));
        tally.bytes.set(tally.bytes.get().saturating_add(bytes));
        if tally.values.get() > MAX_EXPANDED_VALUES || tally.bytes.get() > MAX_EXPANDED_BYTES {
            tally.over.set(true);
            return Err(E::custom("the document expands past scantix's limits"));
        }
        Ok(())
    }
}

impl<'de> serde::de::DeserializeSeed<'de> for Walk<'_> {
    type Value = ();

    fn deserialize<D: serde::Deserializer<'de>>(self, deserializer: D) -> Result<(), D::Error> {
        deserializer.deserialize_any(self)
    }
}

impl<'de> serde::de::Visitor<'de> for Walk<'_> {
    type Value = ();

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("any YAML value")
    }

    fn visit_bool<E: serde::de::Error>(self, _: bool) -> Result<(), E> {
        self.count(0)
    }

    fn visit_i64<E: serde::de::Error>(self, _: i64) -> Result<(), E> {
        self.count(0)
    }

    fn visit_i128<E: serde::de::Error>(self, _: i128) -> Result<(), E> {
        self.count(0)
    }

    fn visit_u64<E: serde::de::Error>(self, _: u64) -> Result<(), E> {
        self.count(0)
    }

    fn visit_u128<E: serde::de::Error>(self, _: u128) -> Result<(), E> {
        self.count(0)
    }

    fn visit_f64<E: serde::de::Error>(self, _: f64) -> Result<(), E> {
        self.count(0)
    }

    fn visit_str<E: serde::de::Error>(self, text: &str) -> Result<(), E> {
        self.count(text.len())
    }

    fn visit_bytes<E: serde::de::Error>(self, bytes: &[u8]) -> Result<(), E> {
        self.count(bytes.len())
    }

    fn visit_unit<E: serde::de::Error>(self) -> Result<(), E> {
        self.count(0)
    }

    fn visit_none<E: serde::de::Error>(self) -> Result<(), E> {
        self.count(0)
    }

    fn visit_some<D: serde::Deserializer<'de>>(self, inner: D) -> Result<(), D::Error> {
        serde::de::DeserializeSeed::deserialize(self, inner)
    }

    fn visit_newtype_struct<D: serde::Deserializer<'de>>(self, inner: D) -> Result<(), D::Error> {
        serde::de::DeserializeSeed::deserialize(self, inner)
    }

    fn visit_seq<A: serde::de::SeqAccess<'de>>(self, mut items: A) -> Result<(), A::Error> {
        self.count(0)?;
        while items.next_element_seed(self)?.is_some() {}
        Ok(())
    }

    fn visit_map<A: serde::de::MapAccess<'de>>(self, mut entries: A) -> Result<(), A::Error> {
        self.count(0)?;
        while entries.next_key_seed(self)?.is_some() {
            entries.next_value_seed(self)?;
        }
        Ok(())
    }

    /// A tagged value (`!tag value`).
    fn visit_enum<A: serde::de::EnumAccess<'de>>(self, tagged: A) -> Result<(), A::Error> {
        use serde::de::VariantAccess;
        let ((), value) = tagged.variant_seed(self)?;
        value.newtype_variant_seed(self)
    }
}

/// The configuration in force for a repository: `repo` (its own file) over `org` (the org's
/// `.github` repository's) section by section; sections set in neither stay `None` and take the
/// built-in defaults in the accessors.
pub fn resolve(repo: Option<RepoConfig>, org: Option<RepoConfig>) -> RepoConfig {
    let repo = repo.unwrap_or_default();
    let org = org.unwrap_or_default();
    // `policy` and `policy-file` are one section: a repository's policy file replaces the org's
    // inline policy, not merely sits beside it.
    let repo_has_policy = repo.policy.is_some() || repo.policy_file.is_some();
    let (policy, policy_file, policy_from_org) = if repo_has_policy {
        (repo.policy, repo.policy_file, repo.policy_from_org)
    } else {
        let from_org = org.policy.is_some() || org.policy_file.is_some();
        (org.policy, org.policy_file, from_org)
    };
    RepoConfig {
        tracker: repo.tracker.or(org.tracker),
        grouping: repo.grouping.or(org.grouping),
        priorities: repo.priorities.or(org.priorities),
        sla: repo.sla.or(org.sla),
        when_all_fixed: repo.when_all_fixed.or(org.when_all_fixed),
        verify_closure: repo.verify_closure.or(org.verify_closure),
        resolutions: repo.resolutions.or(org.resolutions),
        recreate_deleted_tickets: repo
            .recreate_deleted_tickets
            .or(org.recreate_deleted_tickets),
        mode: repo.mode.or(org.mode),
        budget: repo.budget.or(org.budget),
        owners: repo.owners.or(org.owners),
        default_assignee: repo.default_assignee.or(org.default_assignee),
        routes: repo.routes.or(org.routes),
        policy,
        policy_file,
        policy_from_org,
    }
}

impl RepoConfig {
    /// The decision engine's settings: what this config sets, the engine's defaults elsewhere.
    /// (`service-accounts` is a deployment setting, not a repository's, and keeps its default.)
    pub fn engine_config(&self) -> Config {
        let mut config = Config::default();
        if let Some(grouping) = self.grouping {
            config.grouping = grouping;
        }
        if let Some(when_all_fixed) = self.when_all_fixed {
            config.when_all_fixed = when_all_fixed;
        }
        if let Some(verify_closure) = self.verify_closure {
            config.verify_closure = verify_closure;
        }
        if let Some(resolutions) = &self.resolutions {
            config.resolutions = resolutions.clone();
        }
        if let Some(recreate) = self.recreate_deleted_tickets {
            config.recreate_deleted_tickets = recreate;
        }
        if let Some(sla) = self.sla {
            config.sla = sla;
        }
        if let Some(mode) = &self.mode {
            config.drafts = mode.draft_mode();
        }
        if let Some(budget) = &self.budget {
            config.budget = budget.clone();
        }
        if let Some(routes) = &self.routes {
            config.routes = routes.iter().filter_map(RouteEntry::route).collect();
        }
        config.owners = self.owners().clone();
        config
    }

    /// Where this repository's tickets go within `deployment`'s tracker: the top-level
    /// `priorities` wherever tickets go, and what a `tracker` section naming that same tracker
    /// chooses (for Jira: the project, and the issue type, priorities, labels and components it
    /// sets; a field left at its default keeps the deployment's). A `tracker` section naming
    /// another tracker (another kind, or a Jira at another address) cannot be honoured — the
    /// credentials are the deployment's — so it is set aside, with the problem to report.
    pub fn ticket_destination(
        &self,
        deployment: &TrackerSite,
    ) -> (TicketDestination, Option<ConfigError>) {
        let mut destination = TicketDestination {
            priorities: self.priorities.clone(),
            ..TicketDestination::default()
        };
        let Some(tracker) = &self.tracker else {
            return (destination, None);
        };
        let set_aside = |message: String, fix: &str| ConfigError {
            line: None,
            column: None,
            message,
            fix: fix.to_owned(),
        };
        if tracker.kind != deployment.kind {
            let problem = set_aside(
                format!(
                    "`tracker.kind` is `{}`, but this scantix deployment files tickets in `{}`, \
                     so its own settings apply",
                    tracker.kind.as_str(),
                    deployment.kind.as_str()
                ),
                "a repository chooses where tickets go within the deployment's tracker (project, \
                 issue type, priorities, labels, components), not the tracker itself: remove \
                 the `tracker` section, or give the kind the deployment uses",
            );
            return (destination, Some(problem));
        }
        let Some(jira) = tracker
            .jira
            .as_ref()
            .filter(|_| tracker.kind == TrackerKind::Jira)
        else {
            return (destination, None);
        };
        // The deployment's own address is not repeated in the report: the issue may be public.
        if let Some(site) = &deployment.base_url
            && !same_site(&jira.base_url, site)
        {
            let problem = set_aside(
                "`tracker.jira.base-url` is not the Jira this scantix deployment files tickets \
                 in, so the deployment's project and settings apply"
                    .into(),
                "set `base-url` to the deployment's Jira address, or remove the `tracker` section",
            );
            return (destination, Some(problem));
        }
        let defaults = JiraSettings::new(String::new(), jira.flavor, String::new());
        destination.project = Some(jira.project.clone());
        if jira.issue_type != defaults.issue_type {
            destination.issue_type = Some(jira.issue_type.clone());
        }
        // The section's own map wins over the top-level one, as in `jira_settings`.
        if jira.priorities != defaults.priorities {
            destination.priorities = Some(jira.priorities.clone());
        }
        destination.labels = jira.labels.clone();
        destination.components = jira.components.clone();
        (destination, None)
    }

    /// The tracker tickets go to (`draft` when none is configured).
    pub fn tracker_kind(&self) -> TrackerKind {
        self.tracker.as_ref().map(|t| t.kind).unwrap_or_default()
    }

    /// The Jira settings, when the tracker is Jira. The top-level `priorities` section applies
    /// when the `jira` section leaves its own at the defaults.
    pub fn jira_settings(&self) -> Option<JiraSettings> {
        let tracker = self.tracker.as_ref()?;
        if tracker.kind != TrackerKind::Jira {
            return None;
        }
        let mut jira = tracker.jira.clone()?;
        if let Some(priorities) = &self.priorities
            && jira.priorities == Priorities::default()
        {
            jira.priorities = priorities.clone();
        }
        Some(jira)
    }

    /// Severity → tracker priority.
    pub fn priorities(&self) -> Priorities {
        self.priorities.clone().unwrap_or_default()
    }

    /// Days to fix per severity.
    pub fn sla(&self) -> SlaPolicy {
        self.sla.unwrap_or_default()
    }

    /// CODEOWNERS owner → tracker user (empty when not configured); see `owners::assignee_for`.
    pub fn owners(&self) -> &BTreeMap<String, String> {
        static EMPTY: BTreeMap<String, String> = BTreeMap::new();
        self.owners.as_ref().unwrap_or(&EMPTY)
    }

    /// The assignee when no owner is mapped.
    pub fn default_assignee(&self) -> Option<&str> {
        self.default_assignee.as_deref()
    }

    /// Where the triage policy comes from.
    pub fn policy_source(&self) -> PolicySource<'_> {
        if let Some(source) = &self.policy {
            return PolicySource::Inline(source);
        }
        match &self.policy_file {
            Some(path) => PolicySource::File {
                path,
                from: if self.policy_from_org {
                    PolicyRepository::OrgDotGithub
                } else {
                    PolicyRepository::ThisRepository
                },
            },
            None => PolicySource::Bundled,
        }
    }
}

/// The checks serde cannot express, located by the line of the top-level key concerned.
fn validate(config: &RepoConfig, yaml: &str) -> Result<(), ConfigError> {
    let at_key = |key: &str, message: String, fix: &str| ConfigError {
        line: top_level_key_line(yaml, key),
        column: top_level_key_line(yaml, key).map(|_| 1),
        message,
        fix: fix.to_owned(),
    };
    if config.policy.is_some() && config.policy_file.is_some() {
        return Err(at_key(
            "policy-file",
            "both `policy` and `policy-file` are given".into(),
            "keep one: the policy inline, or the path of a .rego file",
        ));
    }
    if let Some(path) = &config.policy_file
        && (path.trim().is_empty()
            || path.contains("://")
            || path.split('/').any(|segment| segment == ".."))
    {
        return Err(at_key(
            "policy-file",
            format!("`{path}` is not a path inside this repository"),
            "give a repository path such as `.github/scantix.rego`",
        ));
    }
    if let Some(tracker) = &config.tracker
        && tracker.kind == TrackerKind::Jira
        && tracker.jira.is_none()
    {
        return Err(at_key(
            "tracker",
            "`tracker.kind` is `jira` but there is no `tracker.jira` section".into(),
            "add `jira:` under `tracker:` with at least `base-url`, `flavor` and `project`",
        ));
    }
    if let Some(budget) = &config.budget
        && [budget.per_repository, budget.per_owner]
            .iter()
            .flatten()
            .any(|n| *n > MAX_BUDGET)
    {
        return Err(at_key(
            "budget",
            format!("a budget is at most {MAX_BUDGET} open tickets"),
            "lower `per-repository` or `per-owner`, or leave it out for no budget",
        ));
    }
    for (index, entry) in config.routes.iter().flatten().enumerate() {
        let number = index + 1;
        match (entry.tracker, entry.also) {
            (Some(_), Some(_)) | (None, None) => {
                return Err(at_key(
                    "routes",
                    format!("`routes` entry {number} needs exactly one of `tracker` and `also`"),
                    "give `tracker: <kind>` to file the ticket there, or `also: <kind>` to have \
                     that tracker told too (as two entries if you want both)",
                ));
            }
            (None, Some(TrackerKind::Draft)) => {
                return Err(at_key(
                    "routes",
                    format!("`routes` entry {number} has `also: draft`, which tells nobody"),
                    "name a tracker with `also` (email, jira, github-issues, linear, servicenow)",
                ));
            }
            _ => {}
        }
    }
    if let Some(source) = &config.policy
        && let Err(e) = Policy::from_rego(source)
    {
        return Err(policy_error(yaml, &e));
    }
    Ok(())
}

/// An inline policy's error, located in the YAML file: its line inside the policy plus the line
/// the policy starts on (the one after `policy: |` for a block, the same one for a plain value).
fn policy_error(yaml: &str, error: &PolicyError) -> ConfigError {
    let key_line = top_level_key_line(yaml, "policy");
    let first_rego_line = key_line.map(|line| {
        let value = yaml
            .lines()
            .nth(line - 1)
            .and_then(|l| l.split_once(':'))
            .map(|(_, value)| value.trim())
            .unwrap_or_default();
        if value.starts_with('|') || value.starts_with('>') {
            line + 1
        } else {
            line
        }
    });
    let (line, column) = match (error, first_rego_line) {
        (PolicyError::Syntax { line, column, .. }, Some(first)) if *line > 0 => (
            Some(first + *line as usize - 1),
            // Block scalars are indented; the column is the policy's own plus that indent.
            Some(*column as usize + block_indent(yaml, first)),
        ),
        (
            PolicyError::Evaluation {
                line: Some(line), ..
            },
            Some(first),
        ) if *line > 0 => (Some(first + *line as usize - 1), None),
        _ => (key_line, key_line.map(|_| 1)),
    };
    ConfigError {
        line,
        column,
        message: format!("the inline `policy` does not compile: {error}"),
        fix: "fix the Rego (package scantix, Rego v1, defining `decision`); default.rego in \
              scantix's source is a working example"
            .into(),
    }
}

fn block_indent(yaml: &str, line: usize) -> usize {
    yaml.lines()
        .nth(line - 1)
        .map(|l| l.len() - l.trim_start().len())
        .unwrap_or(0)
}

/// The 1-based line on which `key:` starts at column 1, if any.
fn top_level_key_line(yaml: &str, key: &str) -> Option<usize> {
    yaml.lines()
        .position(|line| {
            line.strip_prefix(key)
                .is_some_and(|rest| rest.trim_start().starts_with(':'))
        })
        .map(|index| index + 1)
}

/// A YAML or format error → where, what, and how to fix it.
fn format_error(error: &serde_norway::Error) -> ConfigError {
    let location = error.location();
    let message = plain_types(&strip_locations(&error.to_string()));
    let fix = fix_for(&message);
    ConfigError {
        line: location.as_ref().map(|l| l.line()),
        column: location.as_ref().map(|l| l.column()),
        message,
        fix,
    }
}

/// How to fix the errors serde and libyaml report, recognised by their standard wording.
fn fix_for(message: &str) -> String {
    let quoted = backticked(message);
    if message.contains("unknown field") || message.contains("unknown variant") {
        let what = if message.contains("unknown field") {
            "key"
        } else {
            "value"
        };
        let given = quoted.first().map(String::as_str).unwrap_or_default();
        let mut expected: Vec<&str> = quoted.iter().skip(1).map(String::as_str).collect();
        if message.contains("unknown field") && expected.is_empty() {
            expected = TOP_LEVEL_KEYS.to_vec();
        }
        return match closest(given, &expected) {
            Some(near) => format!("did you mean `{near}`?"),
            None => format!("check the spelling: the {what} must be one of those listed"),
        };
    }
    if let Some(field) = message
        .contains("missing field")
        .then(|| quoted.first())
        .flatten()
    {
        return format!("add `{field}:` to this section");
    }
    if message.contains("invalid type") || message.contains("invalid value") {
        return "give this setting a value of the expected type (text, a number without quotes, \
                true/false, a list, or a map of `key: value` lines)"
            .into();
    }
    if message.contains("duplicate") {
        return "remove one of the two entries".into();
    }
    "check the YAML: indent nested keys by two spaces, put a space after each `:`, and quote \
     values that start with `@`, `*`, `&`, `!` or `%`"
        .into()
}

/// The backticked words of a serde message, in order (`unknown field `x`, expected `a`, `b``).
fn backticked(message: &str) -> Vec<String> {
    message
        .split('`')
        .skip(1)
        .step_by(2)
        .map(str::to_owned)
        .collect()
}

/// The candidate closest to `given` by edit distance, if close enough to be a typo.
fn closest<'a>(given: &str, candidates: &[&'a str]) -> Option<&'a str> {
    candidates
        .iter()
        .map(|candidate| (strsim::levenshtein(given, candidate), *candidate))
        .filter(|(distance, candidate)| *distance <= (candidate.len() / 3).max(1))
        .min_by_key(|(distance, _)| *distance)
        .map(|(_, candidate)| candidate)
}

/// serde's names for the expected types, in the file's terms.
fn plain_types(message: &str) -> String {
    let mut out = message
        .replace("expected u32", "expected a whole number")
        .replace("expected u64", "expected a whole number");
    const STRUCT: &str = "expected struct ";
    if let Some(start) = out.find(STRUCT) {
        let name_start = start + STRUCT.len();
        let name_len = out[name_start..]
            .find(|c: char| !c.is_ascii_alphanumeric())
            .unwrap_or(out.len() - name_start);
        out.replace_range(
            start..name_start + name_len,
            "expected a map of `key: value` settings",
        );
    }
    out
}

/// Drops the " at line N column M" that serde_norway appends, since `ConfigError` carries them.
fn strip_locations(message: &str) -> String {
    let mut out = String::with_capacity(message.len());
    let mut rest = message;
    while let Some(start) = rest.find(" at line ") {
        out.push_str(&rest[..start]);
        let after = &rest[start + " at line ".len()..];
        let skipped = after
            .split_once(" column ")
            .filter(|(line, _)| line.chars().all(|c| c.is_ascii_digit()))
            .map(|(_, column)| column.trim_start_matches(|c: char| c.is_ascii_digit()));
        match skipped {
            Some(remaining) => rest = remaining,
            None => {
                out.push_str(" at line ");
                rest = after;
            }
        }
    }
    out.push_str(rest);
    out
}

/// Whether two base URLs name the same Jira (scheme and host case, a trailing slash and
/// surrounding spaces aside): how a repository's `tracker.jira.base-url` is matched against the
/// deployment's.
pub fn same_site(a: &str, b: &str) -> bool {
    let normal = |raw: &str| {
        url::Url::parse(raw.trim())
            .ok()
            .map(|url| url.as_str().trim_end_matches('/').to_owned())
    };
    matches!((normal(a), normal(b)), (Some(a), Some(b)) if a == b)
}

#[cfg(test)]
mod tests {
    use super::*;
    use scantix_core::finding::Severity;
    use scantix_core::identity::GroupingMode;
    use scantix_core::records::Triage;
    use scantix_core::testing::code_alert;
    use scantix_core::ticket::destination::Flavor;
    use scantix_policy::PolicyInput;

    const EXAMPLE: &str = include_str!("repo_config.example.yml");

    #[test]
    fn the_documented_example_parses_and_sets_every_section() {
        let config = parse(EXAMPLE).unwrap();
        assert_eq!(config.tracker_kind(), TrackerKind::Jira);
        let jira = config.jira_settings().unwrap();
        assert_eq!(jira.flavor, Flavor::Cloud);
        assert_eq!(jira.project, "SEC");
        assert_eq!(jira.labels, ["security"]);
        assert_eq!(config.grouping, Some(Grouping::default()));
        assert_eq!(config.priorities, Some(Priorities::default()));
        assert_eq!(config.sla(), SlaPolicy::default());
        assert_eq!(config.when_all_fixed, Some(WhenAllFixed::MarkStale));
        assert_eq!(config.verify_closure, Some(true));
        assert_eq!(config.recreate_deleted_tickets, Some(false));
        assert_eq!(
            config.mode,
            Some(ModeSetting::Chosen(
                [(ModeKey::Default, TicketMode::Ticket)].into()
            ))
        );
        // The example shows the defaults, but for a budget, so the engine config is the default
        // one with that budget.
        let budget = TicketBudget {
            per_repository: Some(1000),
            ..TicketBudget::default()
        };
        assert_eq!(
            config.engine_config(),
            Config {
                budget: budget.clone(),
                owners: config.owners().clone(),
                ..Config::default()
            }
        );
        assert_eq!(config.budget, Some(budget));
        assert_eq!(config.routes, Some(vec![]));
        assert_eq!(
            config.owners().get("@acme/payments").map(String::as_str),
            Some("5b10ac8d82e05b22cc7d4ef5")
        );
        assert_eq!(config.default_assignee(), Some("5b10a2844c20165700ede21g"));
    }

    #[test]
    fn a_budget_reaches_the_engine_repository_over_org_and_critical_is_exempt_unless_said() {
        let org = parse("budget:\n  per-repository: 5\n  per-owner: 3\n").unwrap();
        let budget = resolve(None, Some(org.clone())).engine_config().budget;
        assert_eq!(budget.per_repository, Some(5));
        assert_eq!(budget.per_owner, Some(3));
        assert!(budget.exempts(Severity::Critical));
        assert!(!budget.exempts(Severity::High));
        let repo = parse("budget: { per-repository: 10, exempt-severities: [] }\n").unwrap();
        let budget = resolve(Some(repo), Some(org)).engine_config().budget;
        assert_eq!((budget.per_repository, budget.per_owner), (Some(10), None));
        assert!(!budget.exempts(Severity::Critical));
        assert!(!resolve(None, None).engine_config().budget.is_set());
        let wrong = parse("budget:\n  per-repo: 5\n").unwrap_err().to_string();
        assert!(wrong.contains("per-repository"), "{wrong}");
        let huge = parse("budget:\n  per-repository: 100000\n").unwrap_err();
        assert_eq!(huge.line, Some(1), "{huge}");
    }

    #[test]
    fn mode_draft_drafts_everything_or_what_the_map_names() {
        use scantix_core::finding::AlertKind;
        let everything = parse("mode: draft\n").unwrap().engine_config().drafts;
        assert!(everything.drafts(AlertKind::CodeScanning, Severity::Critical));
        let chosen = parse("mode:\n  dependabot: draft\n  critical: ticket\n  low: draft\n")
            .unwrap()
            .engine_config()
            .drafts;
        assert!(chosen.drafts(AlertKind::Dependabot, Severity::High));
        assert!(!chosen.drafts(AlertKind::Dependabot, Severity::Critical));
        assert!(chosen.drafts(AlertKind::SecretScanning, Severity::Low));
        assert!(!chosen.drafts(AlertKind::CodeScanning, Severity::High));
        // The org drafts, the repository tickets: the repository's file wins.
        let org = parse("mode: draft\n").unwrap();
        let repo = parse("mode: ticket\n").unwrap();
        assert!(
            !resolve(Some(repo), Some(org))
                .engine_config()
                .drafts
                .drafts(AlertKind::CodeScanning, Severity::High)
        );
        let wrong = parse("mode: drafts\n").unwrap_err().to_string();
        assert!(wrong.contains("mode"), "{wrong}");
    }

    #[test]
    fn the_examples_inline_policy_compiles_and_decides() {
        let config = parse(EXAMPLE).unwrap();
        let PolicySource::Inline(source) = config.policy_source() else {
            panic!("expected an inline policy");
        };
        let policy = Policy::from_rego(source).unwrap();
        let payments = code_alert(1, "js/sql-injection", "services/payments/api.js");
        let decision = policy.evaluate(&PolicyInput::new(&payments)).unwrap();
        assert_eq!(decision.triage, Triage::Ticket);
        assert_eq!(decision.sla_days, Some(3));
        assert_eq!(decision.group_by, Some(GroupingMode::Alert));
        let test = code_alert(2, "js/xss", "web/tests/x.js");
        let decision = policy.evaluate(&PolicyInput::new(&test)).unwrap();
        assert_eq!(decision.triage, Triage::Record);
    }

    #[test]
    fn an_empty_or_comment_only_file_is_all_defaults() {
        for yaml in ["", "\n\n", "# nothing configured yet\n", "---\n"] {
            let config = parse(yaml).unwrap();
            assert_eq!(config, RepoConfig::default(), "{yaml:?}");
            assert_eq!(config.engine_config(), Config::default());
            assert_eq!(config.tracker_kind(), TrackerKind::Draft);
            assert_eq!(config.policy_source(), PolicySource::Bundled);
            assert_eq!(config.sla(), SlaPolicy::default());
        }
    }

    #[test]
    fn a_file_over_the_size_limit_is_refused_with_what_to_do() {
        let policy_line = "  # a long comment in an inline policy, repeated to fill the file\n";
        let yaml = format!(
            "policy: |\n{}",
            policy_line.repeat(MAX_CONFIG_BYTES / policy_line.len() + 1)
        );
        let error = parse(&yaml).unwrap_err();
        assert!(error.message.contains("up to 262144 bytes"), "{error}");
        assert!(error.fix.contains("policy-file"), "{error}");
    }

    #[test]
    fn deeply_nested_brackets_are_refused_before_yaml_reads_them() {
        // libyaml's work grows with the square of the nesting: 10,000 levels take seconds.
        let depth = 10_000;
        let yaml = format!("owners:\n  x: {}{}\n", "[".repeat(depth), "]".repeat(depth));
        let error = parse(&yaml).unwrap_err();
        assert_eq!(error.line, Some(2), "{error}");
        assert!(error.message.contains("nest more than 64 deep"), "{error}");
        // Ordinary nesting is untouched.
        let config =
            parse("owners: {\"@a\": \"x\"}\nresolutions: {\"Won't Do\": wont-fix}\n").unwrap();
        assert_eq!(config.owners.unwrap().len(), 1);
    }

    #[test]
    fn aliases_expanding_past_the_limits_are_refused() {
        // One large text, repeated by alias: 100 KB × 2,000 = 200 MB once expanded.
        let mut yaml = format!(
            "default-assignee: &big \"{}\"\nowners:\n",
            "x".repeat(100_000)
        );
        for i in 0..2_000 {
            yaml.push_str(&format!("  \"@team{i}\": *big\n"));
        }
        assert!(yaml.len() < MAX_CONFIG_BYTES);
        let error = parse(&yaml).unwrap_err();
        assert!(
            error.message.contains("anchors and aliases expanded"),
            "{error}"
        );
        assert!(error.fix.contains("`*name`"), "{error}");
        // "Billion laughs": nine levels of nine aliases each.
        let mut yaml = String::from("l0: &l0 [lol, lol, lol, lol, lol, lol, lol, lol, lol]\n");
        for level in 1..10 {
            let aliases = vec![format!("*l{}", level - 1); 9].join(", ");
            yaml.push_str(&format!("l{level}: &l{level} [{aliases}]\n"));
        }
        let error = parse(&yaml).unwrap_err();
        assert!(
            error.message.contains("anchors and aliases expanded"),
            "{error}"
        );
        // An anchor used a few times, as people do, is fine.
        let config = parse("owners:\n  \"@a\": &lead jira-lead\n  \"@b\": *lead\n").unwrap();
        assert_eq!(config.owners.unwrap()["@b"], "jira-lead");
    }

    #[test]
    fn an_unknown_key_names_its_line_and_column_and_suggests_the_spelling() {
        let yaml = "tracker:\n  kind: draft\n\ngroupping:\n  dependabot: advisory\n";
        let error = parse(yaml).unwrap_err();
        assert_eq!((error.line, error.column), (Some(4), Some(1)));
        assert!(
            error.message.contains("unknown field `groupping`"),
            "{error}"
        );
        assert!(error.message.contains("`grouping`"), "{error}");
        assert_eq!(error.fix, "did you mean `grouping`?");
        assert!(
            error.to_string().starts_with(
                ".github/scantix.yml: line 4, column 1: unknown field `groupping`, expected one of"
            ),
            "{error}"
        );
    }

    #[test]
    fn an_unknown_nested_key_or_value_is_located_too() {
        let yaml = "grouping:\n  code-scanning: rule\n  dependabott: package\n";
        let error = parse(yaml).unwrap_err();
        assert_eq!((error.line, error.column), (Some(3), Some(3)));
        assert_eq!(error.fix, "did you mean `dependabot`?");

        let yaml = "grouping:\n  dependabot: packages\n";
        let error = parse(yaml).unwrap_err();
        assert_eq!(error.line, Some(2));
        assert!(
            error.message.contains("unknown variant `packages`"),
            "{error}"
        );
        assert_eq!(error.fix, "did you mean `package`?");

        let error = parse("frobnicate: true\n").unwrap_err();
        assert!(error.fix.starts_with("check the spelling"), "{error}");
    }

    #[test]
    fn a_wrong_type_names_its_line() {
        let yaml = "sla:\n  critical: 7\n  high: thirty\n";
        let error = parse(yaml).unwrap_err();
        assert_eq!(error.line, Some(3));
        assert!(error.message.contains("invalid type"), "{error}");
        assert!(error.message.contains("sla.high"), "{error}");
        assert!(error.fix.contains("expected type"), "{error}");

        let error = parse("verify-closure: sometimes\n").unwrap_err();
        assert_eq!(error.line, Some(1));
    }

    #[test]
    fn broken_yaml_names_its_line() {
        let error = parse("sla:\n  critical: 7\n high: 30\n").unwrap_err();
        assert_eq!((error.line, error.column), (Some(3), Some(2)), "{error}");
        assert!(error.fix.starts_with("check the YAML"), "{error}");
    }

    #[test]
    fn a_missing_required_key_says_which() {
        let yaml = "tracker:\n  kind: jira\n  jira:\n    flavor: cloud\n    project: SEC\n";
        let error = parse(yaml).unwrap_err();
        assert!(
            error.message.contains("missing field `base-url`"),
            "{error}"
        );
        assert_eq!(error.fix, "add `base-url:` to this section");
        assert!(error.line.is_some());
    }

    #[test]
    fn a_jira_tracker_needs_its_section() {
        let error = parse("# Jira please\ntracker:\n  kind: jira\n").unwrap_err();
        assert_eq!(error.line, Some(2));
        assert!(error.fix.contains("base-url"), "{error}");
    }

    #[test]
    fn routes_send_kinds_and_severities_to_the_deployments_trackers() {
        use scantix_core::finding::{AlertKind, Severity};
        let yaml = "routes:\n  - kinds: [secret-scanning]\n    tracker: servicenow\n  \
                    - kinds: [code-scanning]\n    tracker: jira\n  - min-severity: high\n    \
                    also: email\n";
        let engine = parse(yaml).unwrap().engine_config();
        assert_eq!(engine.routes.len(), 3);
        let secret = engine.destination_for(AlertKind::SecretScanning, Severity::High);
        assert_eq!(
            (secret.tracker, secret.copies),
            (Some(TrackerKind::ServiceNow), vec![TrackerKind::Email])
        );
        let code = engine.destination_for(AlertKind::CodeScanning, Severity::Low);
        assert_eq!(
            (code.tracker, code.copies),
            (Some(TrackerKind::Jira), vec![])
        );
        // The org's routes apply where the repository sets none.
        let org = parse(yaml).unwrap();
        let repo = parse("verify-closure: false\n").unwrap();
        assert_eq!(
            resolve(Some(repo), Some(org)).engine_config().routes.len(),
            3
        );
    }

    #[test]
    fn a_route_says_what_is_wrong_with_it() {
        // An unknown key in an entry: serde's message with the line.
        let error =
            parse("routes:\n  - kind: [secret-scanning]\n    tracker: servicenow\n").unwrap_err();
        assert_eq!(error.line, Some(2), "{error}");
        assert!(error.message.contains("unknown field `kind`"), "{error}");
        // An unknown tracker or kind names the ones there are.
        let error = parse("routes:\n  - tracker: servicenoww\n").unwrap_err();
        assert!(error.message.contains("servicenow"), "{error}");
        let error = parse("routes:\n  - kinds: [secrets]\n    tracker: jira\n").unwrap_err();
        assert!(error.message.contains("secret-scanning"), "{error}");
        // Neither or both targets, and a copy to nobody, name the key and the fix.
        for yaml in [
            "routes:\n  - kinds: [dependabot]\n",
            "routes:\n  - tracker: jira\n    also: email\n",
        ] {
            let error = parse(yaml).unwrap_err();
            assert_eq!(error.line, Some(1), "{error}");
            assert!(error.message.contains("exactly one of"), "{error}");
            assert!(error.fix.contains("also: <kind>"), "{error}");
        }
        let error = parse("# x\nroutes:\n  - also: draft\n").unwrap_err();
        assert_eq!(error.line, Some(2));
        assert!(error.message.contains("tells nobody"), "{error}");
    }

    #[test]
    fn policy_and_policy_file_exclude_each_other() {
        let yaml = "policy: |\n  package scantix\n  default decision := {}\npolicy-file: x.rego\n";
        let error = parse(yaml).unwrap_err();
        assert_eq!(error.line, Some(4));
        let error = parse("policy-file: ../../etc/passwd\n").unwrap_err();
        assert!(error.message.contains("not a path inside"), "{error}");
    }

    #[test]
    fn an_inline_policy_that_does_not_compile_is_located_in_the_file() {
        let yaml = "sla:\n  critical: 3\npolicy: |\n  package scantix\n  import rego.v1\n  \
                    decision := {\"triage\": \"ticket\", \"reason\": \"x\"} if {\n    input.x ==\n  }\n";
        let error = parse(yaml).unwrap_err();
        assert!(error.message.contains("does not compile"), "{error}");
        // Rego line 5 (`}`, where the expression ends) is file line 8.
        assert_eq!(error.line, Some(8), "{error}");
    }

    #[test]
    fn an_inline_policy_nesting_too_deep_is_refused_at_once() {
        // Found by fuzzing (`fuzz/`, target `repo_config`): the example file, mutated, with 42
        // `{` in its inline policy. regorus's parser is exponential in that depth; the file held
        // the loader for minutes before `scantix_policy::MAX_POLICY_NESTING`.
        let yaml = include_str!("testdata/fuzz-repo_config-nested-policy.yml");
        let error = parse(yaml).unwrap_err();
        assert!(error.message.contains("nest more than 10 deep"), "{error}");
        // Located on the file's line 18, where the policy's brackets pass the limit.
        assert_eq!(error.line, Some(18), "{error}");
    }

    #[test]
    fn an_inline_policy_with_a_huge_exponent_is_refused_at_once() {
        // Found by fuzzing (`fuzz/`, target `repo_config`): a 150-byte file whose inline policy
        // has the number `0e0000000000000000000200000029`. regorus works it out in full
        // precision; the file held the loader past the fuzzer's 25 s limit before
        // `scantix_policy::MAX_POLICY_EXPONENT`.
        let yaml = include_str!("testdata/fuzz-repo_config-policy-exponent.yml");
        let started = std::time::Instant::now();
        let error = parse(yaml).unwrap_err();
        assert!(error.message.contains("exponent is beyond ±308"), "{error}");
        // Located on the file's line 7, where the number is.
        assert_eq!(error.line, Some(7), "{error}");
        // Not a timing claim: a bound far above any machine's parse of 150 bytes, so that a
        // regression hangs here visibly rather than passing after minutes.
        assert!(started.elapsed() < std::time::Duration::from_secs(20));
    }

    #[test]
    fn severity_to_priority_is_another_name_for_priorities() {
        let config = parse("severity-to-priority:\n  critical: P1\n").unwrap();
        let priorities = config.priorities();
        assert_eq!(priorities.for_severity(Severity::Critical), "P1");
        assert_eq!(priorities.for_severity(Severity::High), "High");
    }

    #[test]
    fn top_level_priorities_apply_to_jira_unless_it_sets_its_own() {
        let base = "tracker:\n  kind: jira\n  jira:\n    base-url: https://x.atlassian.net\n    \
                    flavor: cloud\n    project: SEC\n";
        let config = parse(&format!("{base}priorities:\n  critical: P1\n")).unwrap();
        let jira = config.jira_settings().unwrap();
        assert_eq!(jira.priorities.for_severity(Severity::Critical), "P1");
        let own = format!(
            "{base}    priorities:\n      critical: Blocker\npriorities:\n  critical: P1\n"
        );
        let jira = parse(&own).unwrap().jira_settings().unwrap();
        assert_eq!(jira.priorities.for_severity(Severity::Critical), "Blocker");
    }

    #[test]
    fn the_repository_overrides_the_org_section_by_section_and_the_org_overrides_defaults() {
        let org = parse(
            "grouping:\n  code-scanning: file\nsla:\n  critical: 3\nwhen-all-fixed: close\n\
             owners:\n  \"@acme/web\": u-web\ndefault-assignee: u-sec\npolicy-file: policies/scantix.rego\n",
        )
        .unwrap();
        let repo = parse(
            "grouping:\n  dependabot: advisory\nverify-closure: false\nowners:\n  \"@acme/api\": u-api\n",
        )
        .unwrap();
        let config = resolve(Some(repo), Some(org.clone()));
        // The repository's grouping section replaces the org's whole: code scanning is back to
        // the default, not the org's `file`.
        assert_eq!(
            config.grouping,
            Some(Grouping {
                dependabot: GroupingMode::Advisory,
                ..Grouping::default()
            })
        );
        assert_eq!(config.owners().len(), 1);
        assert_eq!(config.owners()["@acme/api"], "u-api");
        assert_eq!(config.verify_closure, Some(false));
        // What the repository leaves out comes from the org.
        assert_eq!(config.sla().critical, 3);
        assert_eq!(config.sla().high, 30);
        assert_eq!(config.default_assignee(), Some("u-sec"));
        assert_eq!(
            config.policy_source(),
            PolicySource::File {
                path: "policies/scantix.rego",
                from: PolicyRepository::OrgDotGithub
            }
        );
        let engine = config.engine_config();
        assert_eq!(engine.when_all_fixed, WhenAllFixed::Close);
        assert!(!engine.verify_closure);
        assert_eq!(engine.grouping.dependabot, GroupingMode::Advisory);
        assert_eq!(engine.resolutions, Config::default().resolutions);

        // The org alone; then nothing at all.
        assert_eq!(
            resolve(None, Some(org))
                .engine_config()
                .grouping
                .code_scanning,
            GroupingMode::File
        );
        assert_eq!(resolve(None, None), RepoConfig::default());
        assert_eq!(resolve(None, None).engine_config(), Config::default());
    }

    #[test]
    fn a_repository_policy_replaces_the_orgs_whichever_form_each_takes() {
        let org = parse("policy-file: org.rego\n").unwrap();
        let repo = parse(
            "policy: |\n  package scantix\n  default decision := {\"triage\": \"ticket\", \"reason\": \"r\"}\n",
        )
        .unwrap();
        let config = resolve(Some(repo), Some(org));
        assert!(matches!(config.policy_source(), PolicySource::Inline(_)));
        assert_eq!(config.policy_file, None);

        let repo = parse("policy-file: .github/scantix.rego\n").unwrap();
        assert_eq!(
            resolve(Some(repo), None).policy_source(),
            PolicySource::File {
                path: ".github/scantix.rego",
                from: PolicyRepository::ThisRepository
            }
        );
    }

    fn jira_at(base_url: &str) -> TrackerSite {
        TrackerSite {
            kind: TrackerKind::Jira,
            base_url: Some(base_url.into()),
        }
    }

    const APPSEC: &str = "tracker:\n  kind: jira\n  jira:\n    base-url: https://acme.atlassian.net/\n    \
                          flavor: cloud\n    project: APPSEC\n    labels: [team-appsec]\n    \
                          components: [Payments]\npriorities:\n  critical: P1\n  high: P2\n";

    #[test]
    fn a_jira_section_naming_the_deployments_jira_chooses_project_priorities_labels_components() {
        let config = parse(APPSEC).unwrap();
        let (destination, problem) =
            config.ticket_destination(&jira_at("https://ACME.atlassian.net"));
        assert_eq!(problem, None);
        assert_eq!(destination.project.as_deref(), Some("APPSEC"));
        // Left at its default, the issue type stays the deployment's.
        assert_eq!(destination.issue_type, None);
        let priorities = destination.priorities.expect("the top-level map");
        assert_eq!(priorities.for_severity(Severity::Critical), "P1");
        assert_eq!(priorities.for_severity(Severity::Medium), "Medium");
        assert_eq!(destination.labels, ["team-appsec"]);
        assert_eq!(destination.components, ["Payments"]);
    }

    #[test]
    fn another_tracker_or_another_jira_is_set_aside_with_a_problem_but_priorities_still_apply() {
        let config = parse(APPSEC).unwrap();
        let draft = TrackerSite::named("draft");
        let (destination, problem) = config.ticket_destination(&draft);
        let problem = problem.expect("a problem to report").to_string();
        assert!(
            problem.contains("`tracker.kind` is `jira`") && problem.contains("`draft`"),
            "{problem}"
        );
        assert_eq!(destination.project, None);
        assert!(destination.labels.is_empty() && destination.components.is_empty());
        assert_eq!(
            destination.priorities.map(|p| p.critical),
            Some("P1".to_owned())
        );

        let (destination, problem) =
            config.ticket_destination(&jira_at("https://jira.internal.example"));
        let problem = problem.expect("another Jira").to_string();
        assert!(problem.contains("base-url"), "{problem}");
        assert!(
            !problem.contains("jira.internal.example"),
            "the deployment's address stays out of a possibly public issue: {problem}"
        );
        assert_eq!(destination.project, None);
    }

    #[test]
    fn without_a_tracker_section_only_priorities_travel_and_nothing_is_a_problem() {
        let config = parse("severity-to-priority:\n  high: P2\n").unwrap();
        for site in [
            TrackerSite::named("draft"),
            jira_at("https://x.atlassian.net"),
        ] {
            let (destination, problem) = config.ticket_destination(&site);
            assert_eq!(problem, None);
            assert_eq!(destination.project, None);
            assert_eq!(destination.priorities.map(|p| p.high), Some("P2".into()));
        }
        let (nothing, _) = RepoConfig::default().ticket_destination(&TrackerSite::named("jira"));
        assert!(nothing.is_deployment_default());
    }

    #[test]
    fn the_sla_section_reaches_the_engine() {
        let config = parse("sla:\n  critical: 2\n").unwrap();
        assert_eq!(config.engine_config().sla.critical, 2);
        assert_eq!(config.engine_config().sla.high, SlaPolicy::default().high);
    }

    #[test]
    fn resolutions_replace_the_default_list() {
        let config = parse("resolutions:\n  Risk Accepted: wont-fix\n").unwrap();
        let engine = config.engine_config();
        assert_eq!(engine.resolutions.len(), 1);
        assert_eq!(
            engine.dismissal_for("risk accepted"),
            Some(DismissReason::WontFix)
        );
        assert_eq!(engine.dismissal_for("Won't Fix"), None);
    }

    #[test]
    fn typos_get_the_closest_key_and_types_read_plainly() {
        assert_eq!(closest("trakcer", TOP_LEVEL_KEYS), Some("tracker"));
        assert_eq!(closest("zzz", TOP_LEVEL_KEYS), None);
        assert_eq!(
            strip_locations("a: b at line 3 column 7, while parsing at line 1 column 1"),
            "a: b, while parsing"
        );
        assert_eq!(
            plain_types("sla: invalid type: integer `7`, expected struct SlaPolicy"),
            "sla: invalid type: integer `7`, expected a map of `key: value` settings"
        );
        assert_eq!(
            plain_types("sla.high: invalid type: string \"x\", expected u32"),
            "sla.high: invalid type: string \"x\", expected a whole number"
        );
    }

    #[test]
    fn a_site_is_the_same_whatever_the_case_of_its_host_or_a_trailing_slash() {
        assert!(same_site(
            "https://ACME.atlassian.net/",
            " https://acme.atlassian.net"
        ));
        assert!(same_site(
            "https://jira.example.com/jira",
            "https://jira.example.com/jira/"
        ));
        assert!(!same_site(
            "https://jira.example.com/jira",
            "https://jira.example.com"
        ));
        assert!(!same_site(
            "https://a.atlassian.net",
            "https://b.atlassian.net"
        ));
        assert!(!same_site("not a url", "not a url"));
    }
}
