//! The parts of SARIF 2.1.0 this crate reads, as bounded serde types (unknown keys are skipped
//! without being held). Types of what is read are checked: a wrong type is an error naming its
//! JSON path. Values outside an enumeration (`level`, `kind`, suppression `status`) are kept as
//! text and read leniently later, as if absent when unknown.

use crate::bounded::{BoundedMap, BoundedVec, Name, PropertyBag, StringMap, Text};
use crate::limits::*;
use serde::Deserialize;
use serde::de::{self, Deserializer, IgnoredAny, MapAccess, SeqAccess, Visitor};
use std::fmt;

pub type Uri = Text<MAX_URI_BYTES>;

/// §3.11 message: plain text, markdown, or a template (`id` into the rule's `messageStrings`).
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct RawMessage {
    pub text: Option<Text<MAX_TEXT_BYTES>>,
    pub markdown: Option<Text<MAX_TEXT_BYTES>>,
    pub id: Option<Name>,
    pub arguments: Option<BoundedVec<Text<MAX_TEXT_BYTES>, MAX_MESSAGE_ARGUMENTS>>,
}

/// §3.12 multiformatMessageString (rule descriptions, help, message strings), bounded to `N`.
#[derive(Debug, Clone, Default, Deserialize)]
pub struct RawMultiformat<const N: usize> {
    pub text: Option<Text<N>>,
    pub markdown: Option<Text<N>>,
}

/// §3.49 reportingDescriptor: a rule.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct RawRule {
    pub id: Option<Name>,
    pub name: Option<Name>,
    pub short_description: Option<RawMultiformat<MAX_TEXT_BYTES>>,
    pub full_description: Option<RawMultiformat<MAX_TEXT_BYTES>>,
    pub help: Option<RawMultiformat<MAX_HELP_BYTES>>,
    pub help_uri: Option<Uri>,
    pub default_configuration: Option<RawConfiguration>,
    pub properties: Option<PropertyBag>,
    pub relationships: Option<BoundedVec<RawRelationship, MAX_TAXA>>,
    pub message_strings: Option<BoundedMap<RawMultiformat<MAX_TEXT_BYTES>, MAX_MESSAGE_STRINGS>>,
}

impl RawRule {
    /// Bytes this rule holds, for the per-run rule-table budget (strings dominate).
    pub fn held_bytes(&self) -> usize {
        fn mf<const N: usize>(m: Option<&RawMultiformat<N>>) -> usize {
            m.map_or(0, |m| {
                m.text.as_ref().map_or(0, |t| t.0.len())
                    + m.markdown.as_ref().map_or(0, |t| t.0.len())
            })
        }
        let props = self.properties.as_ref().map_or(0, |p| {
            p.tags.iter().map(String::len).sum::<usize>()
                + p.values
                    .iter()
                    .map(|(k, v)| k.len() + v.len())
                    .sum::<usize>()
        });
        let strings = self.message_strings.as_ref().map_or(0, |m| {
            m.0.iter()
                .map(|(k, v)| k.len() + mf(Some(v)))
                .sum::<usize>()
        });
        let relationships = self
            .relationships
            .as_ref()
            .map_or(0, |r| r.items.len() * 3 * MAX_NAME_BYTES.min(64));
        256 + self.id.as_ref().map_or(0, |t| t.0.len())
            + self.name.as_ref().map_or(0, |t| t.0.len())
            + mf(self.short_description.as_ref())
            + mf(self.full_description.as_ref())
            + mf(self.help.as_ref())
            + self.help_uri.as_ref().map_or(0, |t| t.0.len())
            + props
            + strings
            + relationships
    }
}

/// §3.50 reportingConfiguration (only `level` is used).
#[derive(Debug, Clone, Default, Deserialize)]
pub struct RawConfiguration {
    pub level: Option<Name>,
}

/// §3.53 reportingDescriptorRelationship (taxonomy links such as a rule's CWE).
#[derive(Debug, Clone, Default, Deserialize)]
pub struct RawRelationship {
    pub target: Option<RawDescriptorRef>,
}

/// §3.52 reportingDescriptorReference: a rule (`result.rule`), a taxon (`result.taxa`), or a
/// relationship's target.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct RawDescriptorRef {
    pub id: Option<Name>,
    pub index: Option<i64>,
    pub guid: Option<Name>,
    pub tool_component: Option<RawComponentRef>,
}

/// §3.54 toolComponentReference.
#[derive(Debug, Clone, Default, Deserialize)]
pub struct RawComponentRef {
    pub name: Option<Name>,
    pub index: Option<i64>,
    pub guid: Option<Name>,
}

/// §3.27 result.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct RawResult {
    pub rule_id: Option<Name>,
    pub rule_index: Option<i64>,
    pub rule: Option<RawDescriptorRef>,
    pub kind: Option<Name>,
    pub level: Option<Name>,
    pub message: Option<RawMessage>,
    pub locations: Option<BoundedVec<RawLocation, MAX_LOCATIONS>>,
    pub code_flows: Option<RawCodeFlows>,
    pub suppressions: Option<BoundedVec<RawSuppression, MAX_SUPPRESSIONS>>,
    pub fingerprints: Option<StringMap<MAX_FINGERPRINTS>>,
    pub partial_fingerprints: Option<StringMap<MAX_FINGERPRINTS>>,
    pub properties: Option<PropertyBag>,
    pub taxa: Option<BoundedVec<RawDescriptorRef, MAX_TAXA>>,
    pub baseline_state: Option<Name>,
}

impl RawResult {
    /// Approximate bytes held, for the reader's buffer of results that precede their run's `tool`.
    pub fn held_bytes(&self) -> usize {
        fn msg(m: &Option<RawMessage>) -> usize {
            m.as_ref().map_or(0, |m| {
                m.text.as_ref().map_or(0, |t| t.0.len())
                    + m.markdown.as_ref().map_or(0, |t| t.0.len())
                    + m.arguments
                        .as_ref()
                        .map_or(0, |a| a.items.iter().map(|t| t.0.len() + 24).sum())
            })
        }
        let locations = self.locations.as_ref().map_or(0, |l| {
            l.items.iter().map(RawLocation::held_bytes).sum::<usize>()
        });
        let flows = self.code_flows.as_ref().map_or(0, |f| {
            f.source.as_ref().map_or(0, RawLocation::held_bytes)
                + f.sink.as_ref().map_or(0, RawLocation::held_bytes)
        });
        let maps = [&self.fingerprints, &self.partial_fingerprints]
            .iter()
            .map(|m| {
                m.as_ref()
                    .map_or(0, |m| m.0.iter().map(|(k, v)| k.len() + v.len() + 48).sum())
            })
            .sum::<usize>();
        let props = self.properties.as_ref().map_or(0, |p| {
            p.tags.iter().map(|t| t.len() + 24).sum::<usize>()
                + p.values
                    .iter()
                    .map(|(k, v)| k.len() + v.len() + 48)
                    .sum::<usize>()
        });
        let suppressions = self.suppressions.as_ref().map_or(0, |s| {
            s.items
                .iter()
                .map(|s| 96 + s.justification.as_ref().map_or(0, |j| j.0.len()))
                .sum()
        });
        std::mem::size_of::<RawResult>()
            + self.rule_id.as_ref().map_or(0, |t| t.0.len())
            + msg(&self.message)
            + locations
            + flows
            + maps
            + props
            + suppressions
            + self.taxa.as_ref().map_or(0, |t| t.items.len() * 128)
    }
}

/// §3.28 location.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct RawLocation {
    pub physical_location: Option<RawPhysicalLocation>,
    pub logical_locations: Option<BoundedVec<RawLogicalLocation, MAX_LOGICAL_LOCATIONS>>,
    pub message: Option<RawMessage>,
}

impl RawLocation {
    fn held_bytes(&self) -> usize {
        let physical = self.physical_location.as_ref().map_or(0, |p| {
            p.artifact_location
                .as_ref()
                .map_or(0, |a| a.uri.as_ref().map_or(0, |u| u.0.len()) + 32)
                + p.region.as_ref().map_or(0, |r| {
                    r.snippet
                        .as_ref()
                        .and_then(|s| s.text.as_ref())
                        .map_or(0, |t| t.0.len())
                })
        });
        let message = self
            .message
            .as_ref()
            .and_then(|m| m.text.as_ref())
            .map_or(0, |t| t.0.len());
        let logical = self.logical_locations.as_ref().map_or(0, |l| {
            l.items
                .iter()
                .map(|l| {
                    l.fully_qualified_name.as_ref().map_or(0, |n| n.0.len())
                        + l.name.as_ref().map_or(0, |n| n.0.len())
                })
                .sum()
        });
        std::mem::size_of::<RawLocation>() + physical + message + logical
    }
}

/// §3.29 physicalLocation. `contextRegion` is not read: the region's own snippet identifies a
/// finding, and a context snippet changes when neighbouring lines do.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct RawPhysicalLocation {
    pub artifact_location: Option<RawArtifactLocation>,
    pub region: Option<RawRegion>,
}

/// §3.4 artifactLocation. `index` into `run.artifacts` is not followed (see [`crate::paths`]).
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct RawArtifactLocation {
    pub uri: Option<Uri>,
    pub uri_base_id: Option<Name>,
}

/// §3.30 region. Numbers below 1 (invalid) are read as absent.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct RawRegion {
    pub start_line: Option<i64>,
    pub start_column: Option<i64>,
    pub end_line: Option<i64>,
    pub end_column: Option<i64>,
    pub snippet: Option<RawArtifactContent>,
}

/// §3.3 artifactContent (a snippet): only its text.
#[derive(Debug, Clone, Default, Deserialize)]
pub struct RawArtifactContent {
    pub text: Option<Text<MAX_SNIPPET_BYTES>>,
}

/// §3.33 logicalLocation.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct RawLogicalLocation {
    pub name: Option<Name>,
    pub fully_qualified_name: Option<Name>,
}

/// §3.35 suppression.
#[derive(Debug, Clone, Default, Deserialize)]
pub struct RawSuppression {
    pub kind: Option<Name>,
    pub status: Option<Name>,
    pub justification: Option<Text<MAX_TEXT_BYTES>>,
}

/// A result's `codeFlows`, reduced while reading to what a ticket shows: the first and last
/// location of the first thread flow of the first code flow (source and sink), how many steps it
/// had, and how many code flows there were. Every step is read (and type-checked) but only two
/// are held.
#[derive(Debug, Clone, Default)]
pub struct RawCodeFlows {
    pub code_flows: usize,
    pub steps: usize,
    pub source: Option<RawLocation>,
    pub sink: Option<RawLocation>,
}

impl<'de> Deserialize<'de> for RawCodeFlows {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        struct CodeFlowsVisitor;
        impl<'de> Visitor<'de> for CodeFlowsVisitor {
            type Value = RawCodeFlows;
            fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
                f.write_str("an array of code flows")
            }
            fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<RawCodeFlows, A::Error> {
                let mut flows = RawCodeFlows::default();
                if let Some(first) = seq.next_element::<FirstCodeFlow>()? {
                    flows.code_flows = 1;
                    flows.steps = first.0.steps;
                    flows.source = first.0.source;
                    flows.sink = first.0.sink;
                }
                while seq.next_element::<IgnoredAny>()?.is_some() {
                    flows.code_flows += 1;
                }
                Ok(flows)
            }
        }
        deserializer.deserialize_seq(CodeFlowsVisitor)
    }
}

/// §3.36 codeFlow: only its first thread flow is read.
struct FirstCodeFlow(RawCodeFlows);

impl<'de> Deserialize<'de> for FirstCodeFlow {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        #[derive(Deserialize)]
        #[serde(field_identifier, rename_all = "camelCase")]
        enum Field {
            ThreadFlows,
            #[serde(other)]
            Other,
        }
        struct CodeFlowVisitor;
        impl<'de> Visitor<'de> for CodeFlowVisitor {
            type Value = FirstCodeFlow;
            fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
                f.write_str("a code flow object")
            }
            fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<FirstCodeFlow, A::Error> {
                let mut flow = RawCodeFlows::default();
                while let Some(key) = map.next_key::<Field>()? {
                    match key {
                        Field::ThreadFlows => flow = map.next_value::<ThreadFlows>()?.0,
                        Field::Other => {
                            map.next_value::<IgnoredAny>()?;
                        }
                    }
                }
                Ok(FirstCodeFlow(flow))
            }
        }
        deserializer.deserialize_map(CodeFlowVisitor)
    }
}

/// `threadFlows`: the first one's locations; the others skipped.
struct ThreadFlows(RawCodeFlows);

impl<'de> Deserialize<'de> for ThreadFlows {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        struct ThreadFlowsVisitor;
        impl<'de> Visitor<'de> for ThreadFlowsVisitor {
            type Value = ThreadFlows;
            fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
                f.write_str("an array of thread flows")
            }
            fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<ThreadFlows, A::Error> {
                let first = seq.next_element::<ThreadFlow>()?.map(|t| t.0);
                while seq.next_element::<IgnoredAny>()?.is_some() {}
                Ok(ThreadFlows(first.unwrap_or_default()))
            }
        }
        deserializer.deserialize_seq(ThreadFlowsVisitor)
    }
}

/// §3.37 threadFlow: its `locations`, first and last kept.
struct ThreadFlow(RawCodeFlows);

impl<'de> Deserialize<'de> for ThreadFlow {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        #[derive(Deserialize)]
        #[serde(field_identifier, rename_all = "camelCase")]
        enum Field {
            Locations,
            #[serde(other)]
            Other,
        }
        struct ThreadFlowVisitor;
        impl<'de> Visitor<'de> for ThreadFlowVisitor {
            type Value = ThreadFlow;
            fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
                f.write_str("a thread flow object")
            }
            fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<ThreadFlow, A::Error> {
                let mut flow = RawCodeFlows::default();
                while let Some(key) = map.next_key::<Field>()? {
                    match key {
                        Field::Locations => flow = map.next_value::<FlowSteps>()?.0,
                        Field::Other => {
                            map.next_value::<IgnoredAny>()?;
                        }
                    }
                }
                Ok(ThreadFlow(flow))
            }
        }
        deserializer.deserialize_map(ThreadFlowVisitor)
    }
}

/// A thread flow's `locations`: every step read, the first and the last held.
struct FlowSteps(RawCodeFlows);

impl<'de> Deserialize<'de> for FlowSteps {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        struct StepsVisitor;
        impl<'de> Visitor<'de> for StepsVisitor {
            type Value = FlowSteps;
            fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
                f.write_str("an array of thread flow locations")
            }
            fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<FlowSteps, A::Error> {
                let mut flow = RawCodeFlows::default();
                while let Some(step) = seq.next_element::<RawThreadFlowLocation>()? {
                    flow.steps += 1;
                    let location = step.location.unwrap_or_default();
                    if flow.source.is_none() {
                        flow.source = Some(location);
                    } else {
                        flow.sink = Some(location);
                    }
                }
                if flow.steps == 1 {
                    // One step is both ends.
                    flow.sink = flow.source.clone();
                }
                Ok(FlowSteps(flow))
            }
        }
        deserializer.deserialize_seq(StepsVisitor)
    }
}

/// §3.38 threadFlowLocation: only its location (which carries the step's message).
#[derive(Debug, Clone, Default, Deserialize)]
struct RawThreadFlowLocation {
    location: Option<RawLocation>,
}

/// §3.17 runAutomationDetails.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct RawAutomationDetails {
    pub id: Option<Name>,
    pub guid: Option<Name>,
    pub correlation_guid: Option<Name>,
}

/// §3.19 toolComponent as a taxonomy: only what tells which taxonomy (CWE) it is.
#[derive(Debug, Clone, Default, Deserialize)]
pub struct RawTaxonomy {
    pub name: Option<Name>,
    pub guid: Option<Name>,
}

/// §3.20 invocation: whether the tool said it succeeded.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct RawInvocation {
    pub execution_successful: Option<bool>,
}

/// The parts of a §3.19 toolComponent (driver or extension) kept about the tool itself.
#[derive(Debug, Clone, Default)]
pub struct RawComponent {
    pub name: Option<Name>,
    pub full_name: Option<Name>,
    pub version: Option<Name>,
    pub semantic_version: Option<Name>,
    pub organization: Option<Name>,
    pub rules: Vec<RawRule>,
}

/// §3.18 tool: its driver and extensions, their rules counted against the run's budgets.
#[derive(Debug, Clone, Default)]
pub struct RawTool {
    pub driver: Option<RawComponent>,
    pub extensions: Vec<RawComponent>,
}

/// What reading one run's rules tables has used of its budgets.
#[derive(Debug, Default)]
pub struct RuleBudget {
    pub rules: usize,
    pub bytes: usize,
    /// Set when a budget is exceeded (the deserializer error only carries text).
    pub exceeded: Option<Limit>,
}

/// Reads a `tool` object with [`RuleBudget`] accounting.
pub struct ToolSeed<'b>(pub &'b mut RuleBudget);

impl<'de> de::DeserializeSeed<'de> for ToolSeed<'_> {
    type Value = RawTool;
    fn deserialize<D: Deserializer<'de>>(self, deserializer: D) -> Result<RawTool, D::Error> {
        deserializer.deserialize_map(self)
    }
}

impl<'de> Visitor<'de> for ToolSeed<'_> {
    type Value = RawTool;
    fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
        f.write_str("a tool object")
    }
    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<RawTool, A::Error> {
        #[derive(Deserialize)]
        #[serde(field_identifier, rename_all = "camelCase")]
        enum Field {
            Driver,
            Extensions,
            #[serde(other)]
            Other,
        }
        let mut tool = RawTool::default();
        while let Some(key) = map.next_key::<Field>()? {
            match key {
                Field::Driver => {
                    tool.driver = Some(map.next_value_seed(ComponentSeed(&mut *self.0))?);
                }
                Field::Extensions => {
                    tool.extensions = map.next_value_seed(ExtensionsSeed(&mut *self.0))?;
                }
                Field::Other => {
                    map.next_value::<IgnoredAny>()?;
                }
            }
        }
        Ok(tool)
    }
}

struct ExtensionsSeed<'b>(&'b mut RuleBudget);

impl<'de> de::DeserializeSeed<'de> for ExtensionsSeed<'_> {
    type Value = Vec<RawComponent>;
    fn deserialize<D: Deserializer<'de>>(self, deserializer: D) -> Result<Self::Value, D::Error> {
        deserializer.deserialize_seq(self)
    }
}

impl<'de> Visitor<'de> for ExtensionsSeed<'_> {
    type Value = Vec<RawComponent>;
    fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
        f.write_str("an array of tool components")
    }
    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Self::Value, A::Error> {
        let mut extensions = Vec::new();
        while extensions.len() < MAX_EXTENSIONS {
            match seq.next_element_seed(ComponentSeed(&mut *self.0))? {
                Some(extension) => extensions.push(extension),
                None => return Ok(extensions),
            }
        }
        while seq.next_element::<IgnoredAny>()?.is_some() {}
        Ok(extensions)
    }
}

struct ComponentSeed<'b>(&'b mut RuleBudget);

impl<'de> de::DeserializeSeed<'de> for ComponentSeed<'_> {
    type Value = RawComponent;
    fn deserialize<D: Deserializer<'de>>(self, deserializer: D) -> Result<RawComponent, D::Error> {
        deserializer.deserialize_map(self)
    }
}

impl<'de> Visitor<'de> for ComponentSeed<'_> {
    type Value = RawComponent;
    fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
        f.write_str("a tool component object")
    }
    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<RawComponent, A::Error> {
        #[derive(Deserialize)]
        #[serde(field_identifier, rename_all = "camelCase")]
        enum Field {
            Name,
            FullName,
            Version,
            SemanticVersion,
            Organization,
            Rules,
            #[serde(other)]
            Other,
        }
        let mut component = RawComponent::default();
        while let Some(key) = map.next_key::<Field>()? {
            match key {
                Field::Name => component.name = map.next_value()?,
                Field::FullName => component.full_name = map.next_value()?,
                Field::Version => component.version = map.next_value()?,
                Field::SemanticVersion => component.semantic_version = map.next_value()?,
                Field::Organization => component.organization = map.next_value()?,
                Field::Rules => {
                    component.rules = map.next_value_seed(RulesSeed(&mut *self.0))?;
                }
                Field::Other => {
                    map.next_value::<IgnoredAny>()?;
                }
            }
        }
        Ok(component)
    }
}

struct RulesSeed<'b>(&'b mut RuleBudget);

impl<'de> de::DeserializeSeed<'de> for RulesSeed<'_> {
    type Value = Vec<RawRule>;
    fn deserialize<D: Deserializer<'de>>(self, deserializer: D) -> Result<Self::Value, D::Error> {
        deserializer.deserialize_option(self)
    }
}

impl<'de> Visitor<'de> for RulesSeed<'_> {
    type Value = Vec<RawRule>;
    fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
        f.write_str("an array of rules")
    }
    fn visit_none<E: de::Error>(self) -> Result<Self::Value, E> {
        Ok(Vec::new())
    }
    fn visit_unit<E: de::Error>(self) -> Result<Self::Value, E> {
        Ok(Vec::new())
    }
    fn visit_some<D: Deserializer<'de>>(self, deserializer: D) -> Result<Self::Value, D::Error> {
        deserializer.deserialize_seq(self)
    }
    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Self::Value, A::Error> {
        let mut rules = Vec::new();
        while let Some(rule) = seq.next_element::<RawRule>()? {
            self.0.rules += 1;
            self.0.bytes += rule.held_bytes();
            let exceeded = if self.0.rules > MAX_RULES_PER_RUN {
                Some(Limit::RulesPerRun {
                    max: MAX_RULES_PER_RUN,
                })
            } else if self.0.bytes > MAX_RULE_TABLE_BYTES {
                Some(Limit::RuleTableBytes {
                    max: MAX_RULE_TABLE_BYTES,
                })
            } else {
                None
            };
            if let Some(limit) = exceeded {
                let message = limit.to_string();
                self.0.exceeded = Some(limit);
                return Err(de::Error::custom(message));
            }
            rules.push(rule);
        }
        Ok(rules)
    }
}
