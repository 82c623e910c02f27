//! The worker's seam for SARIF uploads: an upload the upload endpoint made durable (see
//! `ingest::upload`) is handed, whole, to one [`AnalysisApplier`], which applies it as one
//! analysis of its repository (the analysis lifecycle: new findings, fixed ones, reopened ones).
//!
//! Until the deployment has such an applier, [`NotYetApplied`] answers every upload with
//! [`UploadOutcome::NotYetApplied`]: the worker keeps the item pending (with the reason) for
//! `scantix replay`, and never reports it applied.

use crate::execute::ExecuteError;
use async_trait::async_trait;
use scantix_core::inbox::UploadTarget;

/// One uploaded analysis, as the worker hands it over.
#[derive(Debug, Clone, Copy)]
pub struct UploadedAnalysis<'a> {
    /// The inbox item's id (`upload:<digest>`): the delivery id the engine's dedup records use,
    /// so applying the same upload twice is recognised.
    pub delivery: &'a str,
    /// Repository (name and id), installation, ref, commit, category, digest of the SARIF.
    pub target: &'a UploadTarget,
    /// The SARIF file as uploaded (decompressed), already checked to read as SARIF 2.1.0 within
    /// the upload bounds (`scantix_sarif::stream_slice` accepted it).
    pub sarif: &'a [u8],
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
