//! The worker's seam for SARIF uploads: an upload the upload endpoint made durable (see
//! `ingest::upload`) is handed, whole, to one [`AnalysisApplier`], which applies it as one
//! analysis of its repository (the analysis lifecycle: new findings, fixed ones, reopened ones).
//!
//! [`ApplyAnalyses`] is the deployment's applier: `crate::analysis::apply_analysis` under the
//! repository's own settings. [`NotYetApplied`] is what a worker without one does: it keeps the
//! item pending (with the reason) for `scantix replay`, and never reports it applied.

use crate::analysis::{AnalysisError, AnalysisTarget, SarifFile, SarifSource, apply_analysis};
use crate::execute::{ExecuteError, Executor};
use crate::repo_settings::{RepoSettings, SettingsSource};
use async_trait::async_trait;
use scantix_core::finding::Repository;
use scantix_core::inbox::UploadTarget;
use std::sync::Arc;

/// One uploaded analysis, as the worker hands it over.
#[derive(Debug, Clone)]
pub struct UploadedAnalysis<'a> {
    /// The inbox item's id (`upload:<digest>`): the delivery id the engine's dedup records use,
    /// so applying the same upload twice is recognised.
    pub delivery: &'a str,
    /// Repository (name and id), installation, ref, commit, category, digest of the SARIF.
    pub target: &'a UploadTarget,
    /// The SARIF file as uploaded (decompressed), already checked to read as SARIF 2.1.0 within
    /// the upload bounds (`scantix_sarif::stream_slice` accepted it). Shared, not borrowed: the
    /// applier's reading thread keeps it for as long as it reads, without a copy (an upload is up
    /// to 64 MiB by default).
    pub sarif: Arc<Vec<u8>>,
}

/// What became of an upload.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum UploadOutcome {
    /// Applied as one analysis (or recognised as applied before): the item is done. `summary`
    /// goes into the item's outcome and the log line.
    Applied { summary: String },
    /// Nothing was applied, and trying again now cannot change that: the item stays pending.
    NotYetApplied { reason: String },
}

/// Applies uploaded analyses. Errors are the executor's: retryable ones keep the item pending
/// and are retried by the stream.
#[async_trait]
pub trait AnalysisApplier: Send + Sync {
    async fn apply_upload(
        &self,
        upload: UploadedAnalysis<'_>,
    ) -> Result<UploadOutcome, ExecuteError>;
}

/// The applier of a deployment that cannot apply analyses yet.
#[derive(Debug, Clone, Copy, Default)]
pub struct NotYetApplied;

#[async_trait]
impl AnalysisApplier for NotYetApplied {
    async fn apply_upload(
        &self,
        upload: UploadedAnalysis<'_>,
    ) -> Result<UploadOutcome, ExecuteError> {
        Ok(UploadOutcome::NotYetApplied {
            reason: format!(
                "SARIF analyses are not applied by this build yet; upload {} of {} stays pending for `scantix replay`",
                upload.delivery, upload.target.repository
            ),
        })
    }
}

/// Applies an upload as one analysis of its repository (`crate::analysis`), under the settings
/// that repository's alerts get: read through GitHub when the deployment can (`settings`), else
/// the built-in defaults with the bundled policy.
pub struct ApplyAnalyses {
    executor: Arc<Executor>,
    settings: Option<Arc<SettingsSource>>,
}

impl ApplyAnalyses {
    pub fn new(executor: Arc<Executor>, settings: Option<Arc<SettingsSource>>) -> ApplyAnalyses {
        ApplyAnalyses { executor, settings }
    }
}

#[async_trait]
impl AnalysisApplier for ApplyAnalyses {
    async fn apply_upload(
        &self,
        upload: UploadedAnalysis<'_>,
    ) -> Result<UploadOutcome, ExecuteError> {
        let target = upload.target;
        let repository = Repository {
            id: target.repository_id,
            full_name: target.repository.clone(),
            default_branch: None,
            html_url: None,
        };
        let settings = match &self.settings {
            Some(source) => {
                source
                    .settings_for(Some(target.installation_id), &repository)
                    .await
            }
            None => Arc::new(RepoSettings::defaults()),
        };
        let analysis = AnalysisTarget {
            repository,
            git_ref: Some(target.git_ref.clone()),
            commit_sha: Some(target.commit.clone()).filter(|c| !c.is_empty()),
            category: Some(target.category.clone()).filter(|c| !c.is_empty()),
            installation_id: Some(target.installation_id),
        };
        let file = SarifFile {
            name: upload.delivery.to_owned(),
            source: SarifSource::Bytes(upload.sarif),
        };
        let mut actions = 0usize;
        match apply_analysis(&self.executor, &settings, &analysis, vec![file], |_| {
            actions += 1
        })
        .await
        {
            Ok(report) => Ok(UploadOutcome::Applied {
                summary: format!(
                    "applied: {} analyses of {} at {}, {actions} actions, {} writes",
                    report.analyses.len(),
                    target.repository,
                    report.git_ref,
                    report.writes
                ),
            }),
            Err(AnalysisError::Execute(e)) => Err(e),
            // The endpoint read the file before storing it, so this means limits changed since:
            // no retry can make the same bytes readable.
            Err(e) if e.is_input_fault() => Ok(UploadOutcome::Applied {
                summary: format!("rejected: {e}"),
            }),
            Err(e) => Ok(UploadOutcome::NotYetApplied {
                reason: e.to_string(),
            }),
        }
    }
}
