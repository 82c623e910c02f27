//! What a ticket says: `anatomy` builds the tracker-neutral content of a group's ticket, and each
//! tracker renders it in its own markup (`markdown` here; Jira's ADF and wiki markup beside their
//! adapters). All alert text is attacker-controlled: renderers make it inert.

pub mod anatomy;
pub mod markdown;

use crate::finding::{AlertState, Severity};
use crate::identity::GroupKey;
use serde::{Deserialize, Serialize};

/// One finding as a line of the ticket.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct FindingLine {
    pub number: u64,
    pub state: AlertState,
    pub severity: Severity,
    pub rule: String,
    pub place: String,
    pub url: Option<String>,
    /// "source → sink", when the scanner reported a flow.
    pub flow: Option<String>,
}

/// A ticket's content, independent of any tracker's markup.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct TicketContent {
    pub group_key: GroupKey,
    /// "CWE-79: Reflected XSS in `src/app.js` (3 alerts)". Plain text; trackers escape as needed.
    pub title: String,
    pub severity: Severity,
    pub labels: Vec<String>,
    /// One or two sentences: what is wrong and where.
    pub summary: String,
    /// Name/value facts shown as a table: severity, repository, branch, commit, tool, CWE, CVE, GHSA.
    pub facts: Vec<(String, String)>,
    pub findings: Vec<FindingLine>,
    /// The scanner's explanation of the problem.
    pub description: Option<String>,
    /// The scanner's remediation guidance (Markdown as the scanner wrote it, shown as text).
    pub guidance: Option<String>,
    pub references: Vec<String>,
    /// How scantix will know the work is done.
    pub verification: String,
    /// When the work is due (from the SLA of the group's most severe finding), if an SLA applies.
    pub due: Option<chrono::NaiveDate>,
    /// Who should do it, as the tracker knows them (a Jira accountId, a GitHub login).
    pub assignee: Option<String>,
}
