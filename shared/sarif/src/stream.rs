//! Reading a SARIF log as a stream: the log, its runs, and each run's `results` array one result at
//! a time (serde seeds and visitors), so memory holds one result plus its run's rules table.
//!
//! SARIF does not fix the order of a run's keys, and normalising a result needs the run's `tool`
//! (rules) and `originalUriBaseIds`. From a byte slice, a first pass reads every run's context and
//! reads but drops every result (so a file that fails does so before any finding is handed out),
//! and a second pass streams results with the contexts ([`Mode::Scan`], [`Mode::Emit`]).
//! From a reader there is one pass ([`Mode::Stream`]): results are normalised as soon as the run's
//! `tool` has been read, and results that come before it (Semgrep and Hadolint write keys
//! alphabetically) are held, bounded by [`ParseOptions::max_buffered_bytes`], until the run ends.

use crate::bounded::{BoundedMap, BoundedVec};
use crate::error::SarifError;
use crate::identity::Occurrences;
use crate::limits::*;
use crate::model::{Automation, Finding, RunInfo};
use crate::normalise::{RunContext, finding_from};
use crate::raw::*;
use serde::Deserialize;
use serde::de::{self, DeserializeSeed, Deserializer, IgnoredAny, MapAccess, SeqAccess, Visitor};
use std::collections::BTreeMap;
use std::fmt;

/// Which pass this is.
pub(crate) enum Mode {
    /// The one pass over a reader.
    Stream,
    /// A slice's first pass: read each run's context; read and drop results.
    Scan,
    /// A slice's second pass, with the contexts the first pass read (taken run by run).
    Emit(Vec<Option<RunContext>>),
}

/// Why a parse stopped, when the deserializer's error (text only) cannot say it.
#[derive(Debug)]
pub(crate) enum Failure {
    Limit(Limit),
    NotSarif(String),
}

/// Everything a pass shares between its visitors.
pub(crate) struct ParseState<'a> {
    pub options: &'a ParseOptions,
    pub mode: Mode,
    pub sink: &'a mut dyn FnMut(Finding),
    pub occurrences: Occurrences,
    pub results_total: usize,
    pub runs: Vec<RunInfo>,
    /// Filled by [`Mode::Scan`].
    pub contexts: Vec<Option<RunContext>>,
    pub failure: Option<Failure>,
    /// Whether the top-level value was an object (else the input is not SARIF at all).
    pub saw_object: bool,
}

impl<'a> ParseState<'a> {
    pub fn new(options: &'a ParseOptions, mode: Mode, sink: &'a mut dyn FnMut(Finding)) -> Self {
        ParseState {
            options,
            mode,
            sink,
            occurrences: Occurrences::default(),
            results_total: 0,
            runs: Vec::new(),
            contexts: Vec::new(),
            failure: None,
            saw_object: false,
        }
    }

    /// Records why the parse stops and gives the error to return through serde.
    fn fail<E: de::Error>(&mut self, failure: Failure) -> E {
        let message = match &failure {
            Failure::Limit(limit) => limit.to_string(),
            Failure::NotSarif(reason) => reason.clone(),
        };
        self.failure = Some(failure);
        E::custom(message)
    }
}

/// Runs one pass over a JSON document, with paths tracked for errors.
pub(crate) fn run_pass<'de, R: serde_json::de::Read<'de>>(
    de: &mut serde_json::Deserializer<R>,
    state: &mut ParseState<'_>,
    too_large: &dyn Fn() -> bool,
) -> Result<(), SarifError> {
    let mut track = serde_path_to_error::Track::new();
    let outcome = LogSeed(&mut *state)
        .deserialize(serde_path_to_error::Deserializer::new(&mut *de, &mut track))
        .and_then(|()| de.end());
    outcome.map_err(|error| classify(error, readable(track.path()), state, too_large))
}

/// The path as serde_path_to_error writes it, without the `?` it gives an unread key (an error
/// between two keys is reported at their object: `runs[0].?` reads `runs[0]`).
fn readable(path: serde_path_to_error::Path) -> String {
    let text = path.to_string();
    let trimmed = text.trim_end_matches('?').trim_end_matches('.');
    if trimmed.is_empty() {
        ".".to_owned()
    } else {
        trimmed.to_owned()
    }
}

fn classify(
    error: serde_json::Error,
    path: String,
    state: &mut ParseState<'_>,
    too_large: &dyn Fn() -> bool,
) -> SarifError {
    match state.failure.take() {
        Some(Failure::Limit(limit)) => return SarifError::LimitExceeded { path, limit },
        Some(Failure::NotSarif(reason)) => return SarifError::NotSarif { reason },
        None => {}
    }
    if error.is_io() {
        if too_large() {
            return SarifError::LimitExceeded {
                path,
                limit: Limit::InputBytes {
                    max: state.options.max_input_bytes,
                },
            };
        }
        return SarifError::Read(error.into());
    }
    let (line, column) = (error.line(), error.column());
    let full = error.to_string();
    let suffix = format!(" at line {line} column {column}");
    let reason = full.strip_suffix(&suffix).unwrap_or(&full).to_owned();
    if !state.saw_object {
        return SarifError::NotSarif {
            reason: format!("the input is not a JSON object ({full})"),
        };
    }
    match error.classify() {
        serde_json::error::Category::Eof => SarifError::Truncated { path, line, column },
        serde_json::error::Category::Syntax => SarifError::Syntax {
            path,
            reason,
            line,
            column,
        },
        _ => SarifError::Invalid {
            path,
            reason,
            line,
            column,
        },
    }
}

/// The top-level `sarifLog` object: `version` must be `"2.1.0"`, `runs` must be there.
struct LogSeed<'s, 'a>(&'s mut ParseState<'a>);

impl<'de> DeserializeSeed<'de> for LogSeed<'_, '_> {
    type Value = ();
    fn deserialize<D: Deserializer<'de>>(self, deserializer: D) -> Result<(), D::Error> {
        deserializer.deserialize_map(self)
    }
}

impl<'de> Visitor<'de> for LogSeed<'_, '_> {
    type Value = ();
    fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
        f.write_str("a SARIF log object")
    }
    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<(), A::Error> {
        #[derive(Deserialize)]
        #[serde(field_identifier, rename_all = "camelCase")]
        enum Field {
            Version,
            Runs,
            #[serde(other)]
            Other,
        }
        let state = self.0;
        state.saw_object = true;
        let (mut version_ok, mut runs_seen) = (false, false);
        while let Some(key) = map.next_key::<Field>()? {
            match key {
                Field::Version => {
                    let version = map.next_value::<crate::bounded::AnyScalar>()?;
                    match version.0.as_deref() {
                        Some("2.1.0") => version_ok = true,
                        Some(other) => {
                            let reason = format!("`version` is {other:?}, not \"2.1.0\"");
                            return Err(state.fail(Failure::NotSarif(reason)));
                        }
                        None => {
                            let reason = "`version` is not a string".to_owned();
                            return Err(state.fail(Failure::NotSarif(reason)));
                        }
                    }
                }
                Field::Runs => {
                    if runs_seen {
                        return Err(de::Error::duplicate_field("runs"));
                    }
                    runs_seen = true;
                    map.next_value_seed(RunsSeed(&mut *state))?;
                }
                Field::Other => {
                    map.next_value::<IgnoredAny>()?;
                }
            }
        }
        if !version_ok {
            let reason = "no `version` (SARIF 2.1.0 logs say \"version\": \"2.1.0\")".to_owned();
            return Err(state.fail(Failure::NotSarif(reason)));
        }
        if !runs_seen {
            let reason = "no `runs` array".to_owned();
            return Err(state.fail(Failure::NotSarif(reason)));
        }
        Ok(())
    }
}

/// `runs`: an array (or `null`, meaning none).
struct RunsSeed<'s, 'a>(&'s mut ParseState<'a>);

impl<'de> DeserializeSeed<'de> for RunsSeed<'_, '_> {
    type Value = ();
    fn deserialize<D: Deserializer<'de>>(self, deserializer: D) -> Result<(), D::Error> {
        deserializer.deserialize_option(self)
    }
}

impl<'de> Visitor<'de> for RunsSeed<'_, '_> {
    type Value = ();
    fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
        f.write_str("an array of runs")
    }
    fn visit_none<E: de::Error>(self) -> Result<(), E> {
        Ok(())
    }
    fn visit_unit<E: de::Error>(self) -> Result<(), E> {
        Ok(())
    }
    fn visit_some<D: Deserializer<'de>>(self, deserializer: D) -> Result<(), D::Error> {
        deserializer.deserialize_seq(self)
    }
    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<(), A::Error> {
        let state = self.0;
        let mut index = 0;
        loop {
            if index >= MAX_RUNS {
                if seq.next_element::<IgnoredAny>()?.is_none() {
                    return Ok(());
                }
                return Err(state.fail(Failure::Limit(Limit::Runs { max: MAX_RUNS })));
            }
            if seq
                .next_element_seed(RunSeed {
                    state: &mut *state,
                    index,
                })?
                .is_none()
            {
                return Ok(());
            }
            index += 1;
        }
    }
}

/// One run.
struct RunSeed<'s, 'a> {
    state: &'s mut ParseState<'a>,
    index: usize,
}

impl<'de> DeserializeSeed<'de> for RunSeed<'_, '_> {
    type Value = ();
    fn deserialize<D: Deserializer<'de>>(self, deserializer: D) -> Result<(), D::Error> {
        deserializer.deserialize_map(self)
    }
}

/// What the results array of a run said.
#[derive(Default)]
struct ResultsOutcome {
    reported: bool,
    count: usize,
    suppressed: usize,
}

impl<'de> Visitor<'de> for RunSeed<'_, '_> {
    type Value = ();
    fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
        f.write_str("a run object")
    }
    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<(), A::Error> {
        #[derive(Deserialize)]
        #[serde(field_identifier, rename_all = "camelCase")]
        enum Field {
            Tool,
            Results,
            OriginalUriBaseIds,
            Taxonomies,
            AutomationDetails,
            Invocations,
            #[serde(other)]
            Other,
        }
        let RunSeed { state, index } = self;
        let mut context = match &mut state.mode {
            Mode::Emit(contexts) => contexts.get_mut(index).and_then(Option::take),
            Mode::Stream | Mode::Scan => None,
        };
        let prepared = context.is_some();
        let mut tool: Option<RawTool> = None;
        let mut budget = RuleBudget::default();
        let mut base_ids = BTreeMap::new();
        let mut taxonomies = Vec::new();
        let mut automation = None;
        let mut execution_successful = None;
        let mut pending: Vec<(usize, RawResult)> = Vec::new();
        let mut outcome = ResultsOutcome::default();
        let (mut tool_seen, mut results_seen) = (false, false);
        while let Some(key) = map.next_key::<Field>()? {
            match key {
                Field::Tool => {
                    if tool_seen {
                        return Err(de::Error::duplicate_field("tool"));
                    }
                    tool_seen = true;
                    if prepared {
                        map.next_value::<IgnoredAny>()?;
                    } else {
                        match map.next_value_seed(ToolSeed(&mut budget)) {
                            Ok(read) => tool = Some(read),
                            Err(error) => {
                                return Err(match budget.exceeded.take() {
                                    Some(limit) => state.fail(Failure::Limit(limit)),
                                    None => error,
                                });
                            }
                        }
                    }
                }
                Field::Results => {
                    if results_seen {
                        return Err(de::Error::duplicate_field("results"));
                    }
                    results_seen = true;
                    if context.is_none()
                        && !matches!(state.mode, Mode::Scan)
                        && let Some(read) = tool.take()
                    {
                        context = Some(RunContext::new(
                            index,
                            read,
                            base_ids.clone(),
                            taxonomies.clone(),
                            state.options.source_roots.clone(),
                        ));
                    }
                    outcome = map.next_value_seed(ResultsSeed {
                        state: &mut *state,
                        context: context.as_mut(),
                        pending: &mut pending,
                        pending_bytes: 0,
                    })?;
                }
                Field::OriginalUriBaseIds if !prepared => {
                    let read: Option<BoundedMap<RawArtifactLocation, MAX_BASE_IDS>> =
                        map.next_value()?;
                    base_ids = read.unwrap_or_default().0;
                }
                Field::Taxonomies if !prepared => {
                    let read: Option<BoundedVec<RawTaxonomy, MAX_TAXONOMIES>> = map.next_value()?;
                    taxonomies = read.unwrap_or_default().items;
                }
                Field::AutomationDetails => {
                    automation = map
                        .next_value::<Option<RawAutomationDetails>>()?
                        .map(automation_from);
                }
                Field::Invocations => {
                    let read: Option<BoundedVec<RawInvocation, MAX_INVOCATIONS>> =
                        map.next_value()?;
                    let flags = read.unwrap_or_default().items;
                    let flags = flags.iter().filter_map(|i| i.execution_successful);
                    execution_successful =
                        flags.fold(None, |all, ok| Some(all.unwrap_or(true) && ok));
                }
                Field::OriginalUriBaseIds | Field::Taxonomies | Field::Other => {
                    map.next_value::<IgnoredAny>()?;
                }
            }
        }
        if !tool_seen {
            return Err(de::Error::missing_field("tool"));
        }
        let mut context = match (context, tool) {
            (Some(context), _) => context,
            (None, read) => RunContext::new(
                index,
                read.unwrap_or_default(),
                base_ids,
                taxonomies,
                state.options.source_roots.clone(),
            ),
        };
        // Results that came before `tool` (reader only), now that the run is known.
        for (result_index, raw) in pending {
            let finding = finding_from(raw, &mut context, &mut state.occurrences, result_index);
            outcome.suppressed += usize::from(finding.suppressed);
            (state.sink)(finding);
        }
        state.runs.push(RunInfo {
            index,
            tool: context.tool.clone(),
            automation,
            results_reported: outcome.reported,
            execution_successful,
            result_count: outcome.count,
            suppressed_count: outcome.suppressed,
        });
        if matches!(state.mode, Mode::Scan) {
            state.contexts.push(Some(context));
        }
        Ok(())
    }
}

/// GitHub's reading of `automationDetails.id`: `category/run-id` split at the last `/`.
fn automation_from(raw: RawAutomationDetails) -> Automation {
    let id = raw.id.map(|id| id.0);
    let (category, run_id) = match id.as_deref() {
        Some(id) => match id.rfind('/') {
            Some(slash) => (
                Some(id[..slash].to_owned()).filter(|c| !c.is_empty()),
                Some(id[slash + 1..].to_owned()).filter(|r| !r.is_empty()),
            ),
            None => (Some(id.to_owned()).filter(|c| !c.is_empty()), None),
        },
        None => (None, None),
    };
    Automation {
        id,
        category,
        run_id,
        guid: raw.guid.map(|g| g.0),
        correlation_guid: raw.correlation_guid.map(|g| g.0),
    }
}

/// A run's `results`, streamed: each result read, normalised and handed to the sink (or held
/// until the run's `tool` is known, or only counted in [`Mode::Scan`]).
struct ResultsSeed<'s, 'a, 'c, 'p> {
    state: &'s mut ParseState<'a>,
    context: Option<&'c mut RunContext>,
    pending: &'p mut Vec<(usize, RawResult)>,
    pending_bytes: usize,
}

impl<'de> DeserializeSeed<'de> for ResultsSeed<'_, '_, '_, '_> {
    type Value = ResultsOutcome;
    fn deserialize<D: Deserializer<'de>>(
        self,
        deserializer: D,
    ) -> Result<ResultsOutcome, D::Error> {
        deserializer.deserialize_option(self)
    }
}

impl<'de> Visitor<'de> for ResultsSeed<'_, '_, '_, '_> {
    type Value = ResultsOutcome;
    fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
        f.write_str("an array of results")
    }
    fn visit_none<E: de::Error>(self) -> Result<ResultsOutcome, E> {
        Ok(ResultsOutcome::default())
    }
    fn visit_unit<E: de::Error>(self) -> Result<ResultsOutcome, E> {
        Ok(ResultsOutcome::default())
    }
    fn visit_some<D: Deserializer<'de>>(self, deserializer: D) -> Result<ResultsOutcome, D::Error> {
        deserializer.deserialize_seq(self)
    }
    fn visit_seq<A: SeqAccess<'de>>(mut self, mut seq: A) -> Result<ResultsOutcome, A::Error> {
        let mut outcome = ResultsOutcome {
            reported: true,
            ..ResultsOutcome::default()
        };
        let scan = matches!(self.state.mode, Mode::Scan);
        while let Some(raw) = seq.next_element::<RawResult>()? {
            self.state.results_total += 1;
            if self.state.results_total > self.state.options.max_results {
                let max = self.state.options.max_results;
                return Err(self.state.fail(Failure::Limit(Limit::Results { max })));
            }
            let result_index = outcome.count;
            outcome.count += 1;
            if scan {
                // Read (so every type and limit is checked before anything is handed out), not kept.
                continue;
            }
            match self.context.as_deref_mut() {
                Some(context) => {
                    let state = &mut *self.state;
                    let finding = finding_from(raw, context, &mut state.occurrences, result_index);
                    outcome.suppressed += usize::from(finding.suppressed);
                    (state.sink)(finding);
                }
                None => {
                    self.pending_bytes += raw.held_bytes();
                    let max = self.state.options.max_buffered_bytes;
                    if self.pending_bytes > max {
                        return Err(self
                            .state
                            .fail(Failure::Limit(Limit::BufferedBytes { max })));
                    }
                    self.pending.push((result_index, raw));
                }
            }
        }
        Ok(outcome)
    }
}
