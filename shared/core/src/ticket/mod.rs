//! What a ticket says: `anatomy` builds the tracker-neutral content of a group's ticket, and each
//! tracker renders it in its own markup (`markdown` and `plain` here; Jira's ADF and wiki markup
//! beside their adapters). All alert text is attacker-controlled: renderers make it inert.
//! `destination` says where a ticket is filed (`routing`: in which of the deployment's trackers),
//! `github_issue` and `servicenow` how tickets in
//! GitHub Issues and ServiceNow are named, and `listing` how a group's ticket reads now (drafts
//! are read so); `overflow` what a ticket budget's overflow ticket lists.

pub mod anatomy;
pub mod destination;
pub mod github_issue;
pub mod listing;
pub mod markdown;
pub mod overflow;
pub mod plain;
pub mod routing;
pub mod servicenow;

use crate::finding::{AlertState, Severity};
use crate::identity::GroupKey;
use destination::TicketDestination;
use serde::{Deserialize, Serialize};

/// The label that marks a ticket whose findings are all gone (`TicketState::Stale`): a state that
/// asks a person to look, which no workflow has a status for. Every tracker with labels uses it.
pub const STALE_LABEL: &str = "scantix-stale";

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
    /// `owner/name`, for a group spanning repositories (an organisation-wide one).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub repository: Option<String>,
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
    /// Why the ticket has its priority, in one line every renderer shows under the summary
    /// ("critical, raised from high: CVE-2021-44228 is in CISA's Known Exploited Vulnerabilities
    /// catalogue"). Policy text (an org's policy may quote alert text): rendered inert.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub priority_reason: Option<String>,
    /// Name/value facts shown as a table: severity, repository, branch, commit, tool, CWE, CVE, GHSA.
    pub facts: Vec<(String, String)>,
    /// The first findings (the most severe and newest open ones): a ticket lists at most
    /// `anatomy::LISTED_FINDINGS`.
    pub findings: Vec<FindingLine>,
    /// Ticketed findings beyond those listed.
    #[serde(default)]
    pub more_findings: u32,
    /// Where every finding is listed (GitHub's alert list, filtered to the group's rule).
    #[serde(default)]
    pub listing_url: Option<String>,
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
    /// Where the repository chose to file it within the tracker (the group's, fixed at creation).
    #[serde(default)]
    pub destination: TicketDestination,
    /// The repository the alerts are in (`owner/name`): where a GitHub issue is filed unless the
    /// deployment names a central repository.
    #[serde(default)]
    pub repository: String,
}
