//! From SARIF's shapes to scantix's: a run's tool and rules table ([`RunContext`]), and each result
//! turned into a [`Finding`] against it — rule resolved, severity decided, CWE/CVE gathered, paths
//! made relative, code flow reduced, suppressions read, secrets redacted, identity computed.

use crate::bounded::PropertyBag;
use crate::identity::{IdentityInput, Occurrences, identity_key, stable_message};
use crate::limits::MAX_RULES_PER_RUN;
use crate::model::*;
use crate::paths;
use crate::raw::*;
use crate::redact::{self, REDACTED};
use crate::severity::{self, RULE_WORD_KEYS};
use crate::taxonomy;
use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::sync::Arc;

/// What normalising one run's results needs from the run: its tool, rules, base ids, taxonomies.
#[derive(Debug)]
pub(crate) struct RunContext {
    pub index: usize,
    pub tool: Arc<Tool>,
    secret_scanner: bool,
    driver_rules: Vec<Arc<Rule>>,
    extension_rules: Vec<Vec<Arc<Rule>>>,
    by_id: HashMap<String, Arc<Rule>>,
    /// Rules made for ids the file references without describing (Hadolint declares none).
    undeclared: HashMap<String, Arc<Rule>>,
    base_ids: BTreeMap<String, RawArtifactLocation>,
    taxonomies: Vec<RawTaxonomy>,
    source_roots: Vec<String>,
}

impl RunContext {
    pub fn new(
        index: usize,
        tool: RawTool,
        base_ids: BTreeMap<String, RawArtifactLocation>,
        taxonomies: Vec<RawTaxonomy>,
        source_roots: Vec<String>,
    ) -> RunContext {
        let driver = tool.driver.unwrap_or_default();
        let text = |t: Option<crate::bounded::Name>| t.map(|t| t.0).filter(|t| !t.is_empty());
        let tool_info = Arc::new(Tool {
            name: text(driver.name).unwrap_or_else(|| "unknown".to_owned()),
            full_name: text(driver.full_name),
            version: text(driver.version),
            semantic_version: text(driver.semantic_version),
            organization: text(driver.organization),
        });
        let secret_scanner = redact::is_secret_scanner(&tool_info.name);
        let make = |rules: Vec<RawRule>| -> Vec<Arc<Rule>> {
            rules
                .into_iter()
                .enumerate()
                .map(|(i, raw)| Arc::new(rule_from(raw, i, &taxonomies)))
                .collect()
        };
        let driver_rules = make(driver.rules);
        let extension_rules: Vec<Vec<Arc<Rule>>> =
            tool.extensions.into_iter().map(|e| make(e.rules)).collect();
        let mut by_id = HashMap::new();
        // Driver rules win over extensions' for the same id; the first of duplicates wins.
        for rule in driver_rules.iter().chain(extension_rules.iter().flatten()) {
            by_id.entry(rule.id.clone()).or_insert_with(|| rule.clone());
        }
        RunContext {
            index,
            tool: tool_info,
            secret_scanner,
            driver_rules,
            extension_rules,
            by_id,
            undeclared: HashMap::new(),
            base_ids,
            taxonomies,
            source_roots,
        }
    }

    /// The rule a result refers to, and how it was found.
    fn resolve_rule(&mut self, raw: &RawResult, message: &str) -> (Arc<Rule>, RuleSource) {
        let reference = raw.rule.as_ref();
        let component = reference
            .and_then(|r| r.tool_component.as_ref())
            .and_then(|c| c.index)
            .and_then(|i| usize::try_from(i).ok());
        let table = match component {
            Some(i) => self.extension_rules.get(i).map(Vec::as_slice),
            None => Some(self.driver_rules.as_slice()),
        };
        let id = raw
            .rule_id
            .as_ref()
            .or(reference.and_then(|r| r.id.as_ref()))
            .map(|id| id.as_str())
            .filter(|id| !id.is_empty());
        let index = raw
            .rule_index
            .or(reference.and_then(|r| r.index))
            .and_then(|i| usize::try_from(i).ok());
        let indexed = index.and_then(|i| table.and_then(|t| t.get(i)));
        if let Some(id) = id {
            // With both, the index is the precise reference: real files repeat ids (a merged
            // CodeQL log declares `py/code-injection` twice, 9.3 and 10.0, and its result points
            // at the second).
            if let Some(rule) = indexed.filter(|rule| rule.id == id) {
                return (rule.clone(), RuleSource::RuleId);
            }
            let declared = match table {
                Some(table) if component.is_some() => table.iter().find(|r| r.id == id).cloned(),
                _ => self.by_id.get(id).cloned(),
            };
            let rule = declared.unwrap_or_else(|| self.undeclared_rule(id));
            return (rule, RuleSource::RuleId);
        }
        if let Some(rule) = indexed {
            return (rule.clone(), RuleSource::RuleIndex);
        }
        // No reference: a declared rule whose id or name begins the message (Gitleaks 7).
        let prefixed = self
            .driver_rules
            .iter()
            .filter_map(|rule| {
                [Some(rule.id.as_str()), rule.name.as_deref()]
                    .into_iter()
                    .flatten()
                    .filter(|word| word.len() >= 3 && message.starts_with(word))
                    .map(str::len)
                    .max()
                    .map(|len| (len, rule))
            })
            .max_by_key(|(len, _)| *len)
            .map(|(_, rule)| rule.clone());
        if let Some(rule) = prefixed {
            return (rule, RuleSource::MessagePrefix);
        }
        let id = format!("message:{}", stable_message(message));
        (self.undeclared_rule(&id), RuleSource::Message)
    }

    fn undeclared_rule(&mut self, id: &str) -> Arc<Rule> {
        if let Some(rule) = self.undeclared.get(id) {
            return rule.clone();
        }
        let mut cwes = BTreeSet::new();
        let mut cves = BTreeSet::new();
        taxonomy::cwes_in(id, &mut cwes);
        taxonomy::cves_in(id, &mut cves);
        let secret = redact::is_secret_rule([id], cwes.iter().map(String::as_str));
        let rule = Arc::new(Rule {
            id: id.to_owned(),
            name: None,
            short_description: None,
            full_description: None,
            help_text: None,
            help_markdown: None,
            help_uri: None,
            tags: Vec::new(),
            default_level: None,
            security_severity: None,
            precision: None,
            cwes: cwes.into_iter().collect(),
            cves: cves.into_iter().collect(),
            secret,
            declared: false,
            security_severity_word: None,
            property_severity: None,
            message_strings: BTreeMap::new(),
        });
        // Bounded like the declared table: past it, rules are made per result and not shared.
        if self.undeclared.len() < MAX_RULES_PER_RUN {
            self.undeclared.insert(id.to_owned(), rule.clone());
        }
        rule
    }
}

/// A declared rule, normalised.
fn rule_from(raw: RawRule, index: usize, taxonomies: &[RawTaxonomy]) -> Rule {
    let text = |t: Option<crate::bounded::Text<{ crate::limits::MAX_NAME_BYTES }>>| {
        t.map(|t| t.0).filter(|t| !t.trim().is_empty())
    };
    let name = text(raw.name);
    // SARIF requires an id; without one, the name, else the position, stands in.
    let id = text(raw.id)
        .or_else(|| name.clone())
        .unwrap_or_else(|| format!("rule-{index}"));
    let properties = raw.properties.unwrap_or_default();
    let mut cwes = BTreeSet::new();
    let mut cves = BTreeSet::new();
    taxonomy::cwes_in(&id, &mut cwes);
    taxonomy::cves_in(&id, &mut cves);
    gather_ids(&properties, &mut cwes, &mut cves);
    for relationship in raw.relationships.map(|r| r.items).unwrap_or_default() {
        if let Some(target) = relationship.target {
            taxonomy::cwe_of_reference(&target, taxonomies, &mut cwes);
        }
    }
    let secret = redact::is_secret_rule(
        std::iter::once(id.as_str())
            .chain(name.as_deref())
            .chain(properties.tags.iter().map(String::as_str)),
        cwes.iter().map(String::as_str),
    );
    let multiformat = |m: Option<RawMultiformat<{ crate::limits::MAX_TEXT_BYTES }>>| {
        m.and_then(|m| m.text.or(m.markdown))
            .map(|t| t.0)
            .filter(|t| !t.trim().is_empty())
    };
    let (help_text, help_markdown) = match raw.help {
        Some(help) => (help.text.map(|t| t.0), help.markdown.map(|t| t.0)),
        None => (None, None),
    };
    let property_severity = properties
        .first_of(RULE_WORD_KEYS)
        .and_then(|(key, value)| Severity::parse_word(value).map(|s| (key.to_owned(), s)));
    let message_strings = raw
        .message_strings
        .map(|m| {
            m.0.into_iter()
                .filter_map(|(id, m)| m.text.or(m.markdown).map(|t| (id, t.0)))
                .collect()
        })
        .unwrap_or_default();
    Rule {
        id,
        name,
        short_description: multiformat(raw.short_description),
        full_description: multiformat(raw.full_description),
        help_text,
        help_markdown,
        help_uri: raw.help_uri.map(|u| u.0),
        default_level: raw
            .default_configuration
            .and_then(|c| c.level)
            .and_then(|l| Level::parse(l.as_str())),
        security_severity: properties
            .get("security-severity")
            .and_then(severity::parse_score),
        security_severity_word: properties
            .get("security-severity")
            .filter(|value| severity::parse_score(value).is_none())
            .and_then(Severity::parse_word),
        precision: properties.get("precision").map(str::to_ascii_lowercase),
        tags: properties.tags,
        cwes: cwes.into_iter().collect(),
        cves: cves.into_iter().collect(),
        secret,
        declared: true,
        property_severity,
        message_strings,
    }
}

/// CWE and CVE ids in a property bag's tags and in values under CWE/CVE-named keys.
fn gather_ids(bag: &PropertyBag, cwes: &mut BTreeSet<String>, cves: &mut BTreeSet<String>) {
    for tag in &bag.tags {
        taxonomy::cwes_in(tag, cwes);
        taxonomy::cves_in(tag, cves);
    }
    for (key, value) in &bag.values {
        if taxonomy::is_cwe_key(key) {
            taxonomy::cwes_in(value, cwes);
        }
        if taxonomy::is_cve_key(key) {
            taxonomy::cves_in(value, cves);
        }
    }
}

/// A message's text: `text`, else `markdown`, else its rule's template filled with `arguments`.
fn message_text(message: Option<&RawMessage>, rule: &Rule) -> String {
    let Some(message) = message else {
        return String::new();
    };
    if let Some(text) = message.text.as_ref().or(message.markdown.as_ref()) {
        return text.0.clone();
    }
    let Some(template) = message
        .id
        .as_ref()
        .and_then(|id| rule.message_strings.get(id.as_str()))
    else {
        return String::new();
    };
    let arguments = message
        .arguments
        .as_ref()
        .map(|a| a.items.as_slice())
        .unwrap_or_default();
    // `{n}` placeholders (§3.11.5); `{{` and `}}` are literal braces.
    let mut out = String::with_capacity(template.len());
    let mut chars = template.chars().peekable();
    while let Some(c) = chars.next() {
        match c {
            '{' if chars.peek() == Some(&'{') => {
                chars.next();
                out.push('{');
            }
            '}' if chars.peek() == Some(&'}') => {
                chars.next();
                out.push('}');
            }
            '{' => {
                let mut digits = String::new();
                while let Some(d) = chars.peek().filter(|d| d.is_ascii_digit()) {
                    digits.push(*d);
                    chars.next();
                }
                if chars.peek() == Some(&'}') && !digits.is_empty() {
                    chars.next();
                    match digits.parse::<usize>().ok().and_then(|n| arguments.get(n)) {
                        Some(argument) => out.push_str(&argument.0),
                        None => out.push_str(&format!("{{{digits}}}")),
                    }
                } else {
                    out.push('{');
                    out.push_str(&digits);
                }
            }
            other => out.push(other),
        }
        if out.len() > crate::limits::MAX_TEXT_BYTES {
            return crate::bounded::truncated(&out, crate::limits::MAX_TEXT_BYTES);
        }
    }
    out
}

/// How a finding's text is redacted ([`crate::redact`]).
enum Redaction {
    /// Not a secret finding: scrub.
    Scrub,
    /// A secret finding, with the values its text must not contain.
    Secret(redact::KnownSecrets),
}

impl Redaction {
    fn text(&self, text: &str) -> String {
        match self {
            Redaction::Scrub => redact::scrub(text).into_owned(),
            Redaction::Secret(known) => redact::scrub_secret(text, known),
        }
    }

    /// The snippet to show.
    fn snippet(&self, snippet: &str) -> String {
        match self {
            Redaction::Scrub => redact::scrub_snippet(snippet),
            Redaction::Secret(_) => REDACTED.to_owned(),
        }
    }

    /// The snippet to compute an identity from (never the secret itself).
    fn identity_snippet(&self, snippet: &str) -> String {
        match self {
            Redaction::Scrub => redact::scrub_snippet(snippet),
            Redaction::Secret(known) => redact::scrub_secret(snippet, known),
        }
    }
}

/// Normalises one result of a run into a finding.
pub(crate) fn finding_from(
    raw: RawResult,
    context: &mut RunContext,
    occurrences: &mut Occurrences,
    result_index: usize,
) -> Finding {
    // The raw message decides the rule when there is no reference, before anything is redacted.
    let raw_message_text = raw
        .message
        .as_ref()
        .and_then(|m| m.text.as_ref().or(m.markdown.as_ref()))
        .map(|t| t.0.as_str())
        .unwrap_or("");
    let (rule, rule_source) = context.resolve_rule(&raw, raw_message_text);
    let message = message_text(raw.message.as_ref(), &rule);

    let properties = raw.properties.unwrap_or_default();
    let mut cwes: BTreeSet<String> = rule.cwes.iter().cloned().collect();
    let mut cves: BTreeSet<String> = rule.cves.iter().cloned().collect();
    gather_ids(&properties, &mut cwes, &mut cves);
    for taxon in raw
        .taxa
        .as_ref()
        .map(|t| t.items.as_slice())
        .unwrap_or_default()
    {
        taxonomy::cwe_of_reference(taxon, &context.taxonomies, &mut cwes);
    }

    let secret = context.secret_scanner
        || rule.secret
        || redact::is_secret_rule(
            properties.tags.iter().map(String::as_str),
            cwes.iter().map(String::as_str),
        );
    let raw_locations = raw.locations.unwrap_or_default();
    let redaction = if secret {
        let snippets = raw_locations
            .items
            .iter()
            .chain(
                raw.code_flows
                    .iter()
                    .flat_map(|f| f.source.iter().chain(f.sink.iter())),
            )
            .filter_map(snippet_of);
        Redaction::Secret(redact::KnownSecrets::new(&redact::known_secret_values(
            properties
                .values
                .iter()
                .map(|(k, v)| (k.as_str(), v.as_str())),
            snippets,
        )))
    } else {
        Redaction::Scrub
    };

    let level = raw.level.as_ref().and_then(|l| Level::parse(l.as_str()));
    let (severity, severity_source) = severity::decide(Some(&properties), level, &rule);
    let confidence = properties
        .first_of(&["issue_confidence", "confidence"])
        .map(|(_, v)| v.to_ascii_lowercase())
        .or_else(|| rule.precision.clone());

    let identity_snippet = raw_locations
        .items
        .first()
        .and_then(snippet_of)
        .map(|s| redaction.identity_snippet(s));
    let locations: Vec<Location> = raw_locations
        .items
        .iter()
        .map(|l| location_from(l, context, &redaction))
        .collect();
    let flow = raw.code_flows.as_ref().and_then(|flows| {
        let source = flows.source.as_ref()?;
        let sink = flows.sink.as_ref().unwrap_or(source);
        Some(Flow {
            source: location_from(source, context, &redaction),
            sink: location_from(sink, context, &redaction),
            steps: flows.steps,
            code_flows: flows.code_flows,
        })
    });

    let suppressions: Vec<Suppression> = raw
        .suppressions
        .map(|s| s.items)
        .unwrap_or_default()
        .into_iter()
        .map(|s| Suppression {
            kind: s.kind.map(|k| k.0),
            status: s.status.map(|k| k.0),
            justification: s.justification.map(|j| redaction.text(&j.0)),
        })
        .collect();
    let suppressed = !suppressions.is_empty()
        && suppressions.iter().all(|s| {
            s.status
                .as_deref()
                .is_none_or(|status| status.trim().eq_ignore_ascii_case("accepted"))
        });

    let fingerprints = raw.fingerprints.map(|m| m.0).unwrap_or_default();
    let partial_fingerprints = raw.partial_fingerprints.map(|m| m.0).unwrap_or_default();
    let message = redaction.text(&message);
    let primary = locations.first();
    let identity_path = primary.and_then(|l| l.path.as_deref().or(l.logical.as_deref()));
    let key = identity_key(&IdentityInput {
        tool: &context.tool.name,
        rule_id: &rule.id,
        path: identity_path,
        snippet: identity_snippet.as_deref(),
        message: &message,
        fingerprints: &fingerprints,
        partial_fingerprints: &partial_fingerprints,
    });
    let identity = key.identity(occurrences.next(&key));

    let redact_map = |map: BTreeMap<String, String>| -> BTreeMap<String, String> {
        map.into_iter()
            .map(|(k, v)| {
                let v = redaction.text(&v);
                (k, v)
            })
            .collect()
    };
    let result_properties = properties
        .values
        .into_iter()
        .map(|(key, value)| {
            let value = match &redaction {
                Redaction::Secret(_) if !redact::is_safe_property(&key) => REDACTED.to_owned(),
                _ => redaction.text(&value),
            };
            (key, value)
        })
        .collect();

    Finding {
        run_index: context.index,
        result_index,
        tool: context.tool.clone(),
        identity,
        rule,
        rule_source,
        kind: ResultKind::parse(raw.kind.as_ref().map(|k| k.as_str())),
        level,
        severity,
        severity_source,
        confidence,
        message,
        cwes: cwes.into_iter().collect(),
        cves: cves.into_iter().collect(),
        tags: properties.tags.iter().map(|t| redaction.text(t)).collect(),
        locations,
        omitted_locations: raw_locations.omitted,
        flow,
        suppressions,
        suppressed,
        fingerprints: redact_map(fingerprints),
        partial_fingerprints: redact_map(partial_fingerprints),
        properties: result_properties,
        baseline_state: raw.baseline_state.map(|b| b.0),
        secret,
    }
}

fn snippet_of(location: &RawLocation) -> Option<&str> {
    location
        .physical_location
        .as_ref()?
        .region
        .as_ref()?
        .snippet
        .as_ref()?
        .text
        .as_ref()
        .map(|t| t.as_str())
}

/// A location, path resolved and text redacted.
fn location_from(raw: &RawLocation, context: &RunContext, redaction: &Redaction) -> Location {
    let physical = raw.physical_location.as_ref();
    let artifact = physical.and_then(|p| p.artifact_location.as_ref());
    let uri = artifact.and_then(|a| a.uri.as_ref()).map(|u| u.as_str());
    let uri_base_id = artifact
        .and_then(|a| a.uri_base_id.as_ref())
        .map(|b| b.as_str());
    let resolved = uri
        .and_then(|uri| paths::resolve(uri, uri_base_id, &context.base_ids, &context.source_roots));
    let region = physical.and_then(|p| p.region.as_ref());
    // SARIF numbers are 1-based; 0 and negatives (invalid) read as absent.
    let positive = |n: Option<i64>| n.and_then(|n| u64::try_from(n).ok()).filter(|n| *n > 0);
    let logical = raw.logical_locations.as_ref().and_then(|l| {
        l.items.iter().find_map(|l| {
            l.fully_qualified_name
                .as_ref()
                .or(l.name.as_ref())
                .map(|n| n.0.clone())
        })
    });
    Location {
        relative: resolved.as_ref().is_some_and(|r| r.relative),
        path: resolved.map(|r| r.path),
        uri: uri.map(str::to_owned),
        uri_base_id: uri_base_id.map(str::to_owned),
        start_line: positive(region.and_then(|r| r.start_line)),
        start_column: positive(region.and_then(|r| r.start_column)),
        end_line: positive(region.and_then(|r| r.end_line)),
        end_column: positive(region.and_then(|r| r.end_column)),
        snippet: snippet_of(raw).map(|s| redaction.snippet(s)),
        logical,
        message: raw
            .message
            .as_ref()
            .and_then(|m| m.text.as_ref().or(m.markdown.as_ref()))
            .map(|t| redaction.text(&t.0)),
    }
}
