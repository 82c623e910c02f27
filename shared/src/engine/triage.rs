//! Built-in triage: which findings deserve a ticket. Policies in Rego replace this per org/repo;
//! this is the rule that holds when none is configured.

use crate::finding::Finding;
use crate::state::Triage;

/// Alerts seen only on a pull request's branch never become tickets: the developer is still
/// working, and the PR itself is the place to talk about them. Everything else is ticketed.
pub fn default_triage(finding: &Finding) -> Triage {
    if finding.pull_request().is_some() {
        Triage::Record
    } else {
        Triage::Ticket
    }
}
