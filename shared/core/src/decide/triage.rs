//! Triage: which findings deserve a ticket, and why. The verdict comes from a Rego policy (see
//! `scantix_policy`; a bundled default, overridable per org or repository); `builtin` is the rule
//! that holds where no policy engine is wanted (tests, benchmarks).

use crate::finding::{Finding, Severity};
use crate::identity::GroupingMode;
use crate::records::Triage;

/// What triage said about one finding: ticket it or not, why (for the audit log), and what to
/// override (priority, SLA days, grouping). A policy's decision, or the built-in rule's.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Verdict {
    pub triage: Triage,
    /// One line for the audit trail ("recorded: alert only on pull request #7").
    pub reason: String,
    /// The severity to file the ticket at instead of the finding's own.
    pub priority: Option<Severity>,
    /// Why the finding is filed at the priority it is (a known exploited CVE, a secret still
    /// active): one line the ticket shows. `None`: the finding's own severity, nothing more.
    pub priority_reason: Option<String>,
    /// Days until the fix is due, instead of the SLA table's.
    pub sla_days: Option<u32>,
    /// Grouping for this finding instead of the configured mode for its kind.
    pub group_by: Option<GroupingMode>,
    /// Who should fix it (a tracker user), from CODEOWNERS and the owners map; not the policy's
    /// to set.
    pub assignee: Option<String>,
    /// Ticket it, but as a draft a person pushes to the tracker (the policy's `draft` verdict):
    /// scantix prepares the ticket and keeps it with the group until someone decides.
    pub draft: bool,
}

/// A verdict with no overrides.
pub fn plain(triage: Triage, reason: impl Into<String>) -> Verdict {
    Verdict {
        triage,
        reason: reason.into(),
        priority: None,
        priority_reason: None,
        sla_days: None,
        group_by: None,
        assignee: None,
        draft: false,
    }
}

/// Alerts seen only on a pull request's branch never become tickets: the developer is still
/// working, and the PR itself is the place to talk about them. Everything else is ticketed.
pub fn default_triage(finding: &Finding) -> Triage {
    if finding.pull_request().is_some() {
        Triage::Record
    } else {
        Triage::Ticket
    }
}

/// `default_triage` as a verdict.
pub fn builtin(finding: &Finding) -> Verdict {
    match finding.pull_request() {
        Some(pr) => plain(
            Triage::Record,
            format!("recorded: alert only on pull request #{pr}"),
        ),
        None => plain(Triage::Ticket, "ticketed: built-in triage"),
    }
}
