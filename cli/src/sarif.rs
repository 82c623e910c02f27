//! `scantix sarif`: SARIF files of any scanner applied as one analysis of a repository's ref,
//! through the same triage, grouping, lifecycle and tracker as GitHub's alerts
//! (`scantix_app::analysis`). Prints each decided action as a JSON line, as `deliver` does.

use crate::local::LocalApp;
use anyhow::{Context, bail};
use clap::Args;
use scantix_app::analysis::{AnalysisError, AnalysisTarget, SarifFile, apply_analysis};
use scantix_core::finding::Repository;
use sha2::{Digest, Sha256};
use std::io::Write;
use std::path::PathBuf;

/// Arguments of `scantix sarif`.
#[derive(Debug, Args)]
pub struct SarifArgs {
    /// SARIF 2.1.0 files, applied together as one analysis (every file is checked before any is
    /// applied).
    #[arg(required = true, value_name = "FILE")]
    files: Vec<PathBuf>,

    /// The repository analysed.
    #[arg(long, value_name = "OWNER/NAME", value_parser = crate::sync::parse_full_name)]
    repo: String,

    /// The repository's numeric id (`gh api repos/OWNER/NAME --jq .id`), part of every finding's
    /// identity. Without it, an id derived from OWNER/NAME (a rename then starts afresh).
    #[arg(long, value_name = "ID")]
    repo_id: Option<u64>,

    /// The ref analysed [default: the repository's default branch as the store knows it, else
    /// refs/heads/main]. A pull request's ref (refs/pull/N/merge) is recorded, never ticketed.
    #[arg(long = "ref", value_name = "REF")]
    git_ref: Option<String>,

    /// The commit analysed.
    #[arg(long, value_name = "SHA")]
    commit: Option<String>,

    /// The analysis category, replacing each run's own (`automationDetails.id`): analyses of one
    /// tool in different categories are compared apart.
    #[arg(long, value_name = "NAME")]
    category: Option<String>,
}

/// An id for a repository named only by its name: a digest in [2⁵², 2⁵³), above GitHub's ids
/// and exact as a JSON number.
fn derived_repository_id(full_name: &str) -> u64 {
    let digest = Sha256::digest(full_name.to_lowercase().as_bytes());
    let mut first = [0u8; 8];
    first.copy_from_slice(&digest[..8]);
    (1 << 52) | (u64::from_be_bytes(first) >> 12)
}

pub async fn run(app: &LocalApp, args: SarifArgs) -> anyhow::Result<()> {
    // Read from disk when applied (checked whole first, then streamed), never held whole: a
    // missing file fails here, before anything is applied.
    let mut files = Vec::with_capacity(args.files.len());
    for path in &args.files {
        std::fs::File::open(path).with_context(|| format!("reading {}", path.display()))?;
        files.push(SarifFile::from_path(path));
    }
    let git_ref = args.git_ref.map(|r| match r.starts_with("refs/") {
        true => r,
        false => format!("refs/heads/{r}"),
    });
    let target = AnalysisTarget {
        repository: Repository {
            id: args
                .repo_id
                .unwrap_or_else(|| derived_repository_id(&args.repo)),
            full_name: args.repo.clone(),
            default_branch: None,
            html_url: None,
        },
        git_ref,
        commit_sha: args.commit,
        category: args.category,
        installation_id: None,
    };
    app.finish_queued_work().await?;

    let mut out = std::io::stdout().lock();
    // A reader that went away (`| head`) wanted no more lines; the analysis is applied anyway.
    let mut printing = true;
    let mut write_error = None;
    let applied = apply_analysis(app.executor(), app.settings(), &target, files, |action| {
        if !printing {
            return;
        }
        let written = serde_json::to_string(action)
            .map_err(std::io::Error::other)
            .and_then(|json| writeln!(out, "{json}"));
        if let Err(e) = written {
            printing = false;
            if e.kind() != std::io::ErrorKind::BrokenPipe {
                write_error = Some(e);
            }
        }
    })
    .await;
    let report = match applied {
        Ok(report) => report,
        // The file's fault: one line naming it and the JSON path, nothing applied.
        Err(AnalysisError::Sarif { file, source }) => bail!("{file}: {source}"),
        Err(e) => return Err(e).context("applying the analysis"),
    };
    if let Some(e) = write_error {
        return Err(e).context("writing to stdout");
    }
    for analysis in &report.analyses {
        let fixed = match analysis.complete {
            true => format!("{} fixed", analysis.fixed),
            false => "none fixed (a run reported no results or failed)".to_owned(),
        };
        let category = match analysis.category.as_str() {
            "" => String::new(),
            category => format!(" ({category})"),
        };
        eprintln!(
            "scantix: {}{category} on {}: {} open, {} suppressed, {fixed}",
            analysis.tool, report.git_ref, analysis.open, analysis.suppressed
        );
    }
    if report.analyses.is_empty() {
        eprintln!("scantix: no runs in the files: nothing analysed");
    }
    Ok(())
}
