//! `scantix-evidence`: what scantix shows the people who audit and measure the work, read from
//! the store through its access patterns (a group's audit log, the day index of audit entries, a
//! group's findings, the due list), never by scanning the table once per question.
//!
//! It is not where anything is decided or written: the audit entries it reads are written by the
//! decisions' commits (`scantix_core::decide`), and no function here can change one (the `Store`
//! port has no call that does; the deployment's IAM roles deny it, `scripts/lint-infra.sh`).
//!
//! # Layout
//! - [`window`]: `--since 30d` and friends, read into an instant.
//! - [`read`]: the audit entries of a period (the day index), and the records they name.
//! - [`trail`]: the chain of custody of a ticket, group, repository or finding (`scantix audit`).
//! - [`ocsf`]: audit entries as OCSF 1.8 Vulnerability (2002) and Detection (2004) Findings, for
//!   a SIEM (`scantix export --ocsf`).
//! - [`publish`]: the same events sent to a SIEM through the `Sink` port as changes happen (the
//!   `ocsf-publisher` function on the table's stream), and which change to retry from.
//! - [`metrics`]: the metrics report (`scantix report`): MTTT, MTTR, SLA adherence, reopen and net
//!   resolve rates, tickets per 1,000 alerts, the weekly backlog, top repositories, rules, owners.
//! - [`html`]: that report as one self-contained HTML file with SVG plots (`--html FILE`).
//! - [`daily`]: both written once a day to the `Archive` port (the deployment's report bucket).

pub mod daily;
pub mod html;
pub mod metrics;
pub mod ocsf;
pub mod publish;
pub mod read;
pub mod trail;
pub mod window;

use scantix_core::ports::sink::ArchiveError;
use scantix_core::ports::store::StoreError;

/// Why evidence could not be produced: the caller named something wrong, or the store failed.
#[derive(Debug, thiserror::Error)]
pub enum EvidenceError {
    /// What the caller asked about is not in the store (a ticket key, a finding id).
    #[error("{0}")]
    NotFound(String),
    /// The caller's input does not read (a `--since` that is no duration or date).
    #[error("{0}")]
    BadInput(String),
    #[error(transparent)]
    Store(#[from] StoreError),
    /// The report could not be kept (the bucket refused or was unreachable).
    #[error(transparent)]
    Archive(#[from] ArchiveError),
    /// A plot of the HTML report could not be drawn.
    #[error("drawing a plot of the report: {0}")]
    Plot(String),
}

impl EvidenceError {
    /// Whether trying again later can help (the store was unavailable or raced).
    pub fn is_retryable(&self) -> bool {
        matches!(self, EvidenceError::Store(e) if e.is_retryable())
    }
}
