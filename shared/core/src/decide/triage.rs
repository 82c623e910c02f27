//! Triage: which findings deserve a ticket, and why. The verdict comes from a Rego policy (see
//! `crate::policy`; a bundled default, overridable per org or repository); `builtin` is the rule
//! that holds where no policy engine is wanted (tests, benchmarks).

use crate::finding::Finding;
use crate::policy::{Policy, PolicyDecision, PolicyInput};
use crate::state::Triage;

/// What triage said about one finding: ticket it or not, why (for the audit log), and what to
/// override (priority, SLA days, grouping).
pub type Verdict = PolicyDecision;

/// A verdict with no overrides.
pub fn plain(triage: Triage, reason: impl Into<String>) -> Verdict {
    Verdict {
        triage,
        reason: reason.into(),
        priority: None,
        sla_days: None,
        group_by: None,
        assignee: None,
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

/// The verdict of `policy` for `finding`. A policy that fails to evaluate (a bug in an org's
/// override, a time limit) must not lose the finding: it is ticketed, and the reason says why.
pub fn triage_with(policy: &Policy, finding: &Finding) -> Verdict {
    match policy.evaluate(&PolicyInput::new(finding)) {
        Ok(verdict) => verdict,
        Err(e) => {
            tracing::warn!(error = %e, "triage policy failed; ticketing to be safe");
            plain(
                Triage::Ticket,
                format!("ticketed: the triage policy failed ({e})"),
            )
        }
    }
}
