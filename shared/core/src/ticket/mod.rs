//! What a ticket says: `anatomy` builds the tracker-neutral content of a group's ticket, and each
//! tracker renders it in its own markup (`markdown` here; Jira's ADF and wiki markup beside their
//! adapters). All alert text is attacker-controlled: renderers make it inert.

pub mod anatomy;
pub mod markdown;

use crate::finding::{AlertState, Severity};
use crate::identity::GroupKey;
use crate::tracker::jira::Priorities;
use serde::{Deserialize, Serialize};

/// Where and how a repository's tickets are filed *within* the deployment's tracker, as its
/// `.github/scantix.yml` chose: the tracker and its credentials are the deployment's, the project,
/// issue type, priority map, extra labels and components may be the repository's. Empty fields
/// keep the tracker's deployment settings. Fixed on the group when its ticket is requested, so a
/// ticket stays where it was filed (and is found there again after a crash) whatever the file
/// says later.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default)]
pub struct TicketDestination {
    /// The tracker's project (a Jira project key).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub project: Option<String>,
    /// The issue type, by name.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub issue_type: Option<String>,
    /// Severity → priority name, replacing the deployment's map.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub priorities: Option<Priorities>,
    /// Labels added to the ticket, besides scantix's own and the deployment's.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub labels: Vec<String>,
    /// Components (by name), replacing the deployment's.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub components: Vec<String>,
}

impl TicketDestination {
    /// Nothing chosen: the deployment's settings apply throughout.
    pub fn is_deployment_default(&self) -> bool {
        *self == TicketDestination::default()
    }
}

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
