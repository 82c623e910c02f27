//! SARIF files applied as one analysis: the entry point every way in shares (`scantix sarif`, the
//! upload endpoint's worker). One or more files of one repository's ref are read, each run's
//! results become findings of kind `sarif` (`mapping`), and each (tool, category) they hold is an
//! analysis compared with the previous one (`scantix_core::decide::analysis`), applied through
//! the executor (`crate::execute::analysis`).
//!
//! # Order, and what is held
//! 1. Every file is checked whole before anything is applied: a file that is not SARIF 2.1.0
//!    changes nothing, and the error names the file and the JSON path.
//! 2. The previous analysis' open list of each key is read: identities only.
//! 3. Results are streamed from the files on a blocking thread and applied in batches of
//!    [`BATCH`] as they come (a bounded channel: the parser waits for the store); within a batch
//!    the results of up to [`LANES`] groups are applied side by side, each group's in order, so
//!    the store's round trips overlap instead of adding up (a large upload must fit the worker's
//!    Lambda timeout). A file of 100,000 results holds one batch of findings at a time, plus the
//!    identities seen and each run's rules table. A file on disk ([`SarifSource::Path`]) is read
//!    twice from the disk and never held whole; an upload's body is in memory already and is
//!    shared, not copied.
//! 4. Findings listed before and not reported now are fixed (only for keys whose every run
//!    reported its results); tickets a person closed while the analysis still reports their
//!    findings are reopened with the list; then each touched group's tracker calls are made.
//! 5. On a pull request's ref (`refs/pull/N/merge` or `/head`), whose findings are recorded and
//!    never ticketed, the pull request's one summary comment is refreshed: it lists what the
//!    analysis introduces and fixes (`Executor::refresh_pull_request_after_analysis`).

pub mod code_flow;
pub mod mapping;

use crate::execute::analysis::{ResultCommitted, Subject, provisional_group};
use crate::execute::{ExecuteError, Executor};
use crate::repo_settings::RepoSettings;
use futures_util::StreamExt;
use mapping::{finding_of, presence_of};
use scantix_core::decide::Action;
use scantix_core::decide::analysis::{AnalysisKey, Presence, absent_findings};
use scantix_core::finding::{Finding, Repository, pull_request_of_ref};
use scantix_core::identity::{Fingerprint, GroupKey};
use scantix_core::ports::store::{List, read_all};
use scantix_core::records::{FindingRecord, PullRequestAnalysis, TicketState};
use scantix_sarif::{Checked, ParseOptions, RunInfo, SarifError};
use serde::Serialize;
use std::collections::{BTreeMap, BTreeSet, HashSet};
use std::path::{Path, PathBuf};
use std::sync::Arc;

/// How many findings are parsed ahead of the store, and applied between two reads of the file.
pub const BATCH: usize = 256;

/// How many groups' results of one batch are applied side by side (each group's in order).
pub const LANES: usize = 8;

/// The ref an analysis is of when nobody says: the repository's default branch, or this.
pub const FALLBACK_REF: &str = "refs/heads/main";

/// How many still-reported findings a re-verified ticket's comment is given.
const LISTED_STILL_PRESENT: usize = 20;

/// Page size of the reads of an analysis' open list.
const LIST_PAGE: usize = 1000;

/// Which repository and ref the files analyse.
#[derive(Debug, Clone)]
pub struct AnalysisTarget {
    pub repository: Repository,
    /// `None`: the repository's default branch (as the store last heard it), else
    /// [`FALLBACK_REF`].
    pub git_ref: Option<String>,
    pub commit_sha: Option<String>,
    /// Overrides every run's own category (`automationDetails`), as GitHub's upload parameter does.
    pub category: Option<String>,
    /// The GitHub App installation the repository is in, when known.
    pub installation_id: Option<u64>,
}

/// One SARIF file (decompressed).
#[derive(Debug, Clone)]
pub struct SarifFile {
    /// For errors: a path, or `upload`.
    pub name: String,
    pub source: SarifSource,
}

/// Where a SARIF file's bytes are.
#[derive(Debug, Clone)]
pub enum SarifSource {
    /// In memory (an upload's body), shared with the reading thread rather than copied.
    Bytes(Arc<Vec<u8>>),
    /// On disk: opened once to check it and once to stream its results, never held whole, so
    /// applying it holds memory for one batch of findings and the identities seen, whatever the
    /// file's size. The file must not change between the two reads.
    Path(PathBuf),
}

impl SarifFile {
    /// A file held in memory, named `name` in errors.
    pub fn from_bytes(name: impl Into<String>, bytes: Vec<u8>) -> SarifFile {
        SarifFile {
            name: name.into(),
            source: SarifSource::Bytes(Arc::new(bytes)),
        }
    }

    /// A file on disk, read when applied (named by its path in errors).
    pub fn from_path(path: impl Into<PathBuf>) -> SarifFile {
        let path = path.into();
        SarifFile {
            name: path.display().to_string(),
            source: SarifSource::Path(path),
        }
    }

    /// The first pass: the file checked whole.
    fn check(&self, options: &ParseOptions) -> Result<Checked, AnalysisError> {
        match &self.source {
            SarifSource::Bytes(bytes) => scantix_sarif::check_slice(bytes, options),
            SarifSource::Path(path) => scantix_sarif::check_reader(self.open(path)?, options),
        }
        .map_err(|source| self.sarif_error(source))
    }

    /// The second pass: each finding handed to `on_finding` as it is read.
    fn emit(
        &self,
        checked: Checked,
        options: &ParseOptions,
        on_finding: impl FnMut(scantix_sarif::Finding),
    ) -> Result<(), AnalysisError> {
        match &self.source {
            SarifSource::Bytes(bytes) => {
                scantix_sarif::emit_slice(checked, bytes, options, on_finding)
            }
            SarifSource::Path(path) => {
                scantix_sarif::emit_reader(checked, self.open(path)?, options, on_finding)
            }
        }
        .map(drop)
        .map_err(|source| self.sarif_error(source))
    }

    fn open(&self, path: &Path) -> Result<std::fs::File, AnalysisError> {
        std::fs::File::open(path).map_err(|e| self.sarif_error(SarifError::Read(e)))
    }

    fn sarif_error(&self, source: SarifError) -> AnalysisError {
        AnalysisError::Sarif {
            file: self.name.clone(),
            source,
        }
    }
}

/// Why an analysis could not be applied.
#[derive(Debug, thiserror::Error)]
pub enum AnalysisError {
    /// A file is not SARIF 2.1.0 (or is over a limit): nothing was applied.
    #[error("{file}: {source}")]
    Sarif {
        file: String,
        #[source]
        source: SarifError,
    },
    /// The store or the tracker failed; what was committed stands, and applying the same files
    /// again finishes the rest.
    #[error(transparent)]
    Execute(#[from] ExecuteError),
    /// The thread reading the files stopped.
    #[error("reading the SARIF files stopped: {0}")]
    Reader(String),
}

impl AnalysisError {
    /// Whether the input is at fault (answer 4xx; retrying the same files cannot help).
    pub fn is_input_fault(&self) -> bool {
        matches!(self, AnalysisError::Sarif { source, .. } if source.is_input_fault())
    }

    /// The JSON path of the problem, for an input fault that has one.
    pub fn path(&self) -> Option<&str> {
        match self {
            AnalysisError::Sarif { source, .. } => source.path(),
            _ => None,
        }
    }
}

/// What applying the files did.
#[derive(Debug, Clone, Default, Serialize)]
pub struct AnalysisReport {
    /// The application's id (audit entries name it).
    pub id: String,
    pub git_ref: String,
    pub analyses: Vec<AnalysisSummary>,
    /// Records written (findings, groups and list entries changed): 0 when re-applied.
    pub writes: usize,
}

/// One (tool, category) of the files.
#[derive(Debug, Clone, Serialize)]
pub struct AnalysisSummary {
    pub tool: String,
    pub category: String,
    /// Every run reported its results: absent findings were fixed.
    pub complete: bool,
    /// Results open in this analysis.
    pub open: usize,
    pub suppressed: usize,
    /// Open in the previous analysis, absent from this one.
    pub fixed: usize,
}

/// One analysed result, as handed from the reading thread.
struct Mapped {
    key: usize,
    finding: Finding,
    presence: Presence,
}

/// Applies `files` as one analysis of `target`, judged by `settings`, handing each decided action
/// to `on_action` as it is decided.
pub async fn apply_analysis(
    executor: &Executor,
    settings: &RepoSettings,
    target: &AnalysisTarget,
    files: Vec<SarifFile>,
    mut on_action: impl FnMut(&Action),
) -> Result<AnalysisReport, AnalysisError> {
    let files = Arc::new(files);
    let options = Arc::new(ParseOptions::default());

    // 1. Every file checked whole first. What the check read of each run (tool, rules table, base
    // ids) is kept for the second pass, so results stream in one pass more whatever the order of
    // a run's keys; no result is kept.
    let checked: Vec<Checked> = {
        let (files, options) = (files.clone(), options.clone());
        tokio::task::spawn_blocking(move || {
            files
                .iter()
                .map(|file| file.check(&options))
                .collect::<Result<Vec<_>, _>>()
        })
        .await
        .map_err(|e| AnalysisError::Reader(e.to_string()))??
    };
    let runs: Vec<Vec<RunInfo>> = checked.iter().map(|c| c.runs().to_vec()).collect();

    let git_ref = match &target.git_ref {
        Some(git_ref) => git_ref.clone(),
        None => default_ref(executor, &target.repository).await?,
    };
    let mut keys: Vec<AnalysisKey> = Vec::new();
    let mut summaries: Vec<AnalysisSummary> = Vec::new();
    let mut run_keys: Vec<Vec<usize>> = Vec::new();
    for file_runs in &runs {
        let mut of_file = Vec::new();
        for run in file_runs {
            let key = AnalysisKey {
                repository_id: target.repository.id,
                tool: run.tool.name.clone(),
                category: (target.category.clone())
                    .or_else(|| run.category().map(str::to_owned))
                    .unwrap_or_default(),
                git_ref: git_ref.clone(),
            };
            let index = match keys.iter().position(|k| *k == key) {
                Some(index) => index,
                None => {
                    summaries.push(AnalysisSummary {
                        tool: key.tool.clone(),
                        category: key.category.clone(),
                        complete: true,
                        open: 0,
                        suppressed: 0,
                        fixed: 0,
                    });
                    keys.push(key);
                    keys.len() - 1
                }
            };
            // A run without results, or whose tool failed, proves nothing fixed (SARIF §3.14.23).
            summaries[index].complete &=
                run.results_reported && run.execution_successful != Some(false);
            of_file.push(index);
        }
        run_keys.push(of_file);
    }

    // 2. What the previous analysis of each key listed open.
    let mut previous: Vec<HashSet<Fingerprint>> = Vec::with_capacity(keys.len());
    for key in &keys {
        let id = key.id();
        let store = executor.store().clone();
        let listed = read_all(|after| {
            let (store, id) = (store.clone(), id.clone());
            async move {
                store
                    .analysis_findings(&id, after.as_deref(), LIST_PAGE)
                    .await
            }
        })
        .await
        .map_err(ExecuteError::from)?;
        previous.push(listed.into_iter().collect());
    }

    let mut run = Application {
        executor,
        settings,
        target,
        keys: &keys,
        id: format!("sarif:{}", uuid::Uuid::new_v4()),
        writes: 0,
        touched: BTreeSet::new(),
        resolved: BTreeMap::new(),
    };

    // 3. Results streamed from the files, applied a batch at a time.
    let (sender, mut batches) = tokio::sync::mpsc::channel::<Vec<Mapped>>(2);
    let reader = {
        let (files, options, keys) = (files.clone(), options.clone(), keys.clone());
        let (repository, commit) = (target.repository.clone(), target.commit_sha.clone());
        tokio::task::spawn_blocking(move || {
            for ((file, checked), of_file) in files.iter().zip(checked).zip(&run_keys) {
                let mut batch = Vec::with_capacity(BATCH);
                file.emit(checked, &options, |result| {
                    let (Some(presence), Some(&key)) =
                        (presence_of(&result), of_file.get(result.run_index))
                    else {
                        return;
                    };
                    let finding = finding_of(&result, &repository, &keys[key], commit.as_deref());
                    batch.push(Mapped {
                        key,
                        finding,
                        presence,
                    });
                    if batch.len() >= BATCH {
                        // A closed channel means the applier stopped on an error: it says why.
                        let _ = sender.blocking_send(std::mem::take(&mut batch));
                    }
                })?;
                if !batch.is_empty() {
                    let _ = sender.blocking_send(batch);
                }
            }
            Ok::<(), AnalysisError>(())
        })
    };
    let mut seen: Vec<HashSet<Fingerprint>> = vec![HashSet::new(); keys.len()];
    while let Some(batch) = batches.recv().await {
        let mut planned = Vec::with_capacity(batch.len());
        for Mapped {
            key,
            finding,
            presence,
        } in batch
        {
            let fingerprint = Fingerprint::of(&finding);
            // One identity twice in one analysis (the same run in two files): the first counts.
            if !seen[key].insert(fingerprint.clone()) {
                continue;
            }
            match presence {
                Presence::Open => summaries[key].open += 1,
                _ => summaries[key].suppressed += 1,
            }
            let was_listed = previous[key].contains(&fingerprint);
            planned.push((
                key,
                Subject::Reported(Box::new(finding), presence),
                was_listed,
            ));
        }
        run.apply_all(planned, &mut on_action).await?;
    }
    reader
        .await
        .map_err(|e| AnalysisError::Reader(e.to_string()))??;

    // 4. Absent findings fixed, closed tickets re-verified, tracker calls made.
    for (key, listed) in previous.iter().enumerate() {
        // In fingerprint order, so that a rerun after a failure meets them in the same order.
        let mut listed: Vec<Fingerprint> = listed.iter().cloned().collect();
        listed.sort();
        let Some(absent) = absent_findings(&listed, &seen[key], summaries[key].complete) else {
            continue;
        };
        summaries[key].fixed = absent.len();
        for fingerprint in absent {
            let subject = Subject::Absent(fingerprint.clone());
            run.apply(subject, key, true, &mut on_action).await?;
        }
    }
    for (group, (still, count)) in std::mem::take(&mut run.resolved) {
        if let Some(decision) = executor
            .reverify_group(&group, &still, count, &run.id)
            .await?
        {
            run.writes += 1;
            run.touched.insert(group);
            decision.actions.iter().for_each(&mut on_action);
        }
    }
    for group in &run.touched {
        executor.sync_group(group).await?;
    }
    // 5. On a pull request's ref: its findings are the summary comment's business.
    if let Some(number) = pull_request_of_ref(&git_ref) {
        let analyses: Vec<PullRequestAnalysis> = keys
            .iter()
            .zip(&summaries)
            .map(|(key, summary)| PullRequestAnalysis {
                tool: key.tool.clone(),
                category: key.category.clone(),
                git_ref: key.git_ref.clone(),
                complete: summary.complete,
            })
            .collect();
        let actions = executor
            .refresh_pull_request_after_analysis(
                &target.repository,
                number,
                target.installation_id,
                &analyses,
            )
            .await?;
        actions.iter().for_each(&mut on_action);
    }
    Ok(AnalysisReport {
        id: run.id,
        git_ref,
        analyses: summaries,
        writes: run.writes,
    })
}

/// One application's running state: what it wrote, which groups it touched, and which groups
/// with a resolved ticket it still finds findings of.
struct Application<'a> {
    executor: &'a Executor,
    settings: &'a RepoSettings,
    target: &'a AnalysisTarget,
    keys: &'a [AnalysisKey],
    id: String,
    writes: usize,
    touched: BTreeSet<GroupKey>,
    /// Group → its first still-reported open findings, and how many in all.
    resolved: BTreeMap<GroupKey, (Vec<FindingRecord>, usize)>,
}

/// What one subject of an analysis is: which key says it, the subject, and whether the key's
/// previous analysis listed it open.
type Planned = (usize, Subject, bool);

impl Application<'_> {
    /// Applies one subject, alone.
    async fn apply(
        &mut self,
        subject: Subject,
        key: usize,
        was_listed: bool,
        on_action: &mut impl FnMut(&Action),
    ) -> Result<(), AnalysisError> {
        self.apply_all(vec![(key, subject, was_listed)], on_action)
            .await
    }

    /// Applies `planned`, up to [`LANES`] groups side by side: the subjects of one (provisional)
    /// group in their order, one lane per group, so that a large analysis waits for the store
    /// once per group's result in turn rather than once per result of the whole file. What was
    /// committed is then recorded, and its actions handed on, in `planned`'s order whatever order
    /// the lanes finished in. On an error in one lane the others still run to their end.
    async fn apply_all(
        &mut self,
        planned: Vec<Planned>,
        on_action: &mut impl FnMut(&Action),
    ) -> Result<(), AnalysisError> {
        let settings = self.settings;
        let verdict = |finding: &Finding| settings.verdict(finding);
        let mut lanes: BTreeMap<Option<GroupKey>, Vec<usize>> = BTreeMap::new();
        for (index, (key, subject, _)) in planned.iter().enumerate() {
            let group = provisional_group(
                subject,
                &self.keys[*key],
                self.target.commit_sha.as_deref(),
                &verdict,
                &settings.engine,
            );
            lanes.entry(group).or_default().push(index);
        }
        let this = &*self;
        let planned = &planned;
        let verdict = &verdict;
        let mut lanes =
            futures_util::stream::iter(lanes.into_iter().map(|(group, lane)| async move {
                let mut committed = Vec::with_capacity(lane.len());
                for index in lane {
                    let (key, subject, was_listed) = &planned[index];
                    let result = this
                        .executor
                        .commit_analysis_result(
                            subject,
                            group.as_ref(),
                            &this.keys[*key],
                            this.target.commit_sha.as_deref(),
                            this.target.installation_id,
                            *was_listed,
                            verdict,
                            &settings.engine,
                            &this.id,
                        )
                        .await;
                    match result {
                        Ok(result) => committed.push((index, result)),
                        Err(e) => return (committed, Some(e)),
                    }
                }
                (committed, None)
            }))
            .buffer_unordered(LANES);
        let mut outcomes: Vec<Option<ResultCommitted>> = planned.iter().map(|_| None).collect();
        let mut failed = None;
        while let Some((committed, error)) = lanes.next().await {
            for (index, result) in committed {
                outcomes[index] = Some(result);
            }
            failed = failed.or(error);
        }
        drop(lanes);
        for (outcome, (_, subject, _)) in outcomes.into_iter().zip(planned) {
            if let Some(outcome) = outcome {
                self.record(subject, outcome, on_action);
            }
        }
        match failed {
            Some(e) => Err(e.into()),
            None => Ok(()),
        }
    }

    /// Books one committed subject: its actions, the write, the touched group, and a resolved
    /// ticket whose finding the analysis still reports.
    fn record(
        &mut self,
        subject: &Subject,
        committed: ResultCommitted,
        on_action: &mut impl FnMut(&Action),
    ) {
        let ResultCommitted {
            decision,
            record,
            group,
            written,
        } = committed;
        decision.actions.iter().for_each(&mut *on_action);
        if written {
            self.writes += 1;
        }
        if let Some(group) = &group
            && written
        {
            self.touched.insert(group.key.clone());
        }
        // A ticket a person closed, whose finding this analysis still reports open.
        if let (Some(group), Some(record), Subject::Reported(..)) = (&group, &record, subject)
            && group.ticket.is_some()
            && group.ticket_state == TicketState::Resolved
            && record.is_ticketed()
            && record.is_open()
        {
            let (listed, count) = self.resolved.entry(group.key.clone()).or_default();
            if listed.len() < LISTED_STILL_PRESENT {
                listed.push(record.clone());
            }
            *count += 1;
        }
    }
}

/// The repository's default branch as the store last heard it (from any of its groups), else
/// [`FALLBACK_REF`].
async fn default_ref(executor: &Executor, repository: &Repository) -> Result<String, ExecuteError> {
    let branch = match &repository.default_branch {
        Some(branch) => Some(branch.clone()),
        None => executor
            .store()
            .groups_in(&List::Home(repository.id.to_string()), None, 1)
            .await?
            .items
            .into_iter()
            .find_map(|g| g.value.repository.default_branch),
    };
    Ok(match branch {
        Some(branch) if branch.starts_with("refs/") => branch,
        Some(branch) => format!("refs/heads/{branch}"),
        None => FALLBACK_REF.to_owned(),
    })
}

#[cfg(test)]
mod tests;
