//! `decide::analysis`: the lifecycle of findings that come from SARIF files applied to scantix.
//!
//! An **analysis** is the complete picture one scanner gives of one repository's ref: every
//! result of (repository, tool, category, ref), from one or more files applied together. Nobody
//! else knows these findings (GitHub holds no alert for them), so each analysis is compared with
//! the previous one of the same key:
//! - a result present and not suppressed is **open**: new, still there, or back (it reopens its
//!   ticket, as a reappearing GitHub alert does);
//! - a result present but suppressed (SARIF `suppressions`, every one accepted) is **dismissed**,
//!   with its justification in the audit;
//! - a finding the previous analysis listed open and this one does not name is **fixed** (its
//!   ticket goes stale or closes as configured, exactly as for a fixed GitHub alert) — but only
//!   if every run of the key reported its results (a run without `results`, or whose invocation
//!   failed, proves nothing fixed);
//! - a ticket a person closed in the tracker while its findings were open is not verified then
//!   (`decide_ticket` leaves SARIF groups to this module): if the next analysis still reports them,
//!   `decide_reverification` reopens it with the list.
//!
//! Each result becomes an ordinary `AlertEvent` (`event_for`) decided by `decide::alert::decide`,
//! so triage, grouping, SLA, owners, trackers and pull-request refs (recorded, never ticketed)
//! behave as for GitHub's alerts. Re-applying an analysis decides nothing new: every event it
//! yields is already stored.

use super::action::{Action, Decision};
use super::alert::{Inputs, decide};
use super::triage::Verdict;
use crate::config::Config;
use crate::event::{AlertChange, AlertEvent};
use crate::finding::{AlertState, Dismissal, Finding, pull_request_of_ref};
use crate::identity::Fingerprint;
use crate::records::{AuditEntry, FindingRecord, GroupRecord, OutboxOp, TicketState};
use chrono::{DateTime, Utc};
use sha2::{Digest, Sha256};

/// Who a dismissal by a SARIF suppression is recorded as (how a later analysis tells it from a
/// person's "won't fix", which a re-scan does not undo).
pub const SUPPRESSION: &str = "a SARIF suppression";

/// How many still-present findings a reopened ticket's comment lists (the ticket lists them all).
const STILL_PRESENT_LISTED: usize = 20;

/// What one analysis is the complete picture of.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct AnalysisKey {
    pub repository_id: u64,
    /// `tool.driver.name` as the scanner wrote it (`Semgrep OSS`, `Bandit`).
    pub tool: String,
    /// `--category`, else the run's `automationDetails` category, else empty.
    pub category: String,
    /// The ref analysed (`refs/heads/main`, `refs/pull/7/merge`).
    pub git_ref: String,
}

impl AnalysisKey {
    /// A stable, key-safe spelling: the repository id, then a digest of tool, category and ref
    /// (which may hold any character a store key cannot).
    pub fn id(&self) -> String {
        let digest = Sha256::digest(
            [
                self.tool.as_bytes(),
                self.category.as_bytes(),
                self.git_ref.as_bytes(),
            ]
            .join(&0u8),
        );
        format!("{}#{}", self.repository_id, hex::encode(&digest[..12]))
    }

    /// The pull request analysed, when the ref is a pull request's.
    pub fn pull_request(&self) -> Option<u64> {
        pull_request_of_ref(&self.git_ref)
    }
}

/// The number a SARIF finding goes by (`Finding::number`, and so its `Fingerprint`): a digest of
/// its tool, category and identity (`scantix_sarif::Identity`, stable across re-scans), cut to
/// 53 bits so that it stays exact wherever JSON numbers are doubles. Two findings of one
/// repository collide with probability about n²/2⁵⁴ (5 × 10⁻⁷ for 100,000 findings).
pub fn sarif_number(tool: &str, category: &str, identity: &str) -> u64 {
    let digest = Sha256::digest(
        [
            b"scantix-sarif-number/v1".as_slice(),
            tool.as_bytes(),
            category.as_bytes(),
            identity.as_bytes(),
        ]
        .join(&0u8),
    );
    let mut first = [0u8; 8];
    first.copy_from_slice(&digest[..8]);
    u64::from_be_bytes(first) >> 11
}

/// How a finding stands in an analysis.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Presence {
    /// Reported, not suppressed: open.
    Open,
    /// Reported with every suppression accepted: dismissed, for this reason.
    Suppressed { justification: Option<String> },
    /// Listed open by the previous analysis of the key, not reported by this one: fixed.
    Absent,
}

/// The alert event `presence` amounts to for `finding` (as this analysis reports it, or as stored
/// when absent) in the analysis of `key` at `commit_sha`, given its stored record; `None` when it
/// says nothing (absent and not open).
///
/// The event is always on the analysis' ref, so that an absence from a pull request's analysis
/// says nothing of the finding on its branch (`decide` keeps branches apart, as for alerts).
pub fn event_for(
    mut finding: Finding,
    presence: &Presence,
    stored: Option<&FindingRecord>,
    key: &AnalysisKey,
    commit_sha: Option<&str>,
    installation_id: Option<u64>,
) -> Option<AlertEvent> {
    finding.git_ref = Some(key.git_ref.clone());
    if let Some(sha) = commit_sha {
        finding.commit_sha = Some(sha.to_owned());
    }
    let known = stored.map(|r| r.finding.state);
    let by_suppression = stored
        .and_then(|r| r.finding.dismissal.as_ref())
        .is_some_and(|d| d.by.as_deref() == Some(SUPPRESSION));
    let (change, action) = match (presence, known) {
        (Presence::Absent, Some(AlertState::Open)) => {
            (AlertChange::Fixed, "absent from the analysis")
        }
        (Presence::Absent, _) => return None,
        (Presence::Open, None) => (AlertChange::Opened, "found by the analysis"),
        (Presence::Open, Some(AlertState::Open)) => (AlertChange::Updated, "still reported"),
        (Presence::Open, Some(AlertState::Fixed)) => (AlertChange::Reappeared, "reported again"),
        (Presence::Open, Some(AlertState::Dismissed)) if by_suppression => {
            (AlertChange::Reappeared, "no longer suppressed")
        }
        // A person's dismissal (a ticket closed as "won't fix") outlives re-scans, as it does in
        // GitHub: the finding stays dismissed.
        (Presence::Open, Some(AlertState::Dismissed)) => (AlertChange::Updated, "still reported"),
        (Presence::Suppressed { .. }, Some(AlertState::Dismissed)) => {
            (AlertChange::Updated, "still suppressed")
        }
        (Presence::Suppressed { .. }, _) => (AlertChange::Dismissed, "suppressed"),
    };
    finding.state = match change {
        AlertChange::Opened | AlertChange::Reappeared => AlertState::Open,
        AlertChange::Fixed => AlertState::Fixed,
        AlertChange::Dismissed => AlertState::Dismissed,
        AlertChange::Updated => known.unwrap_or(AlertState::Open),
    };
    finding.dismissal = match (presence, change) {
        (Presence::Suppressed { justification }, AlertChange::Dismissed) => Some(Dismissal {
            by: Some(SUPPRESSION.into()),
            reason: Some("suppressed".into()),
            comment: justification.clone(),
            at: None,
        }),
        (_, AlertChange::Updated) => stored.and_then(|r| r.finding.dismissal.clone()),
        _ => None,
    };
    // The analysis has no clock of its own to order by: the order of application is the order.
    finding.created_at = None;
    finding.updated_at = None;
    Some(AlertEvent {
        change,
        action: action.into(),
        finding,
        actor: Some(match presence {
            Presence::Suppressed { .. } => SUPPRESSION.into(),
            _ => "scantix (SARIF analysis)".into(),
        }),
        installation_id,
    })
}

/// Everything `decide_result` looks at: `decide::alert::Inputs` plus the result's presence.
#[derive(Debug, Clone, Copy)]
pub struct ResultInputs<'a> {
    pub event: &'a AlertEvent,
    pub presence: &'a Presence,
    pub finding: Option<&'a FindingRecord>,
    pub group: Option<&'a GroupRecord>,
    pub verdict: &'a Verdict,
    pub config: &'a Config,
    pub now: DateTime<Utc>,
    /// The analysis applied (its id and the application's), for the audit log.
    pub analysis: &'a str,
}

/// What one result of an analysis decides: the alert decision, plus the suppression's
/// justification in the audit, and whether the finding is on the analysis' open list afterwards.
#[derive(Debug, Clone, PartialEq)]
pub struct ResultDecision {
    pub decision: Decision,
    /// On the key's list of open findings after this analysis (what the next one is compared
    /// with): reported open, known to scantix (triage did not ignore it) and open in its record
    /// (a person's dismissal stands).
    pub listed: bool,
}

/// Decides one result (or one absent finding) of an analysis.
pub fn decide_result(inputs: ResultInputs<'_>) -> ResultDecision {
    let ResultInputs {
        event,
        presence,
        finding: stored,
        group,
        verdict,
        config,
        now,
        analysis,
    } = inputs;
    let mut decision = decide(Inputs {
        event,
        finding: stored,
        group,
        verdict,
        config,
        now,
        delivery: Some(analysis),
    });
    let newly_suppressed = event.change == AlertChange::Dismissed
        && stored.is_none_or(|r| r.finding.state != AlertState::Dismissed);
    // `decide` audits a dismissal of an open ticketed finding with its reason; a suppression is
    // audited whatever the finding was (new, recorded only, fixed), with its justification.
    if let (Presence::Suppressed { justification }, true) = (presence, newly_suppressed)
        && (stored.is_some() || decision.finding.is_some())
    {
        let why = justification
            .as_deref()
            .filter(|j| !j.trim().is_empty())
            .unwrap_or("no justification given");
        decision.audit.push(AuditEntry {
            at: now,
            group_key: decision.group_key.clone(),
            fingerprint: Some(Fingerprint::of(&event.finding)),
            actor: SUPPRESSION.into(),
            action: "finding.suppressed".into(),
            reason: format!(
                "alert {} suppressed in the analysis: {why}",
                event.finding.number
            ),
            delivery: Some(analysis.to_owned()),
            ticket: group.and_then(|g| g.ticket.as_ref()).map(|t| t.key.clone()),
            state: Some(AlertState::Dismissed),
        });
    }
    let open_after = (decision.finding.as_ref().or(stored)).is_some_and(FindingRecord::is_open);
    ResultDecision {
        listed: *presence == Presence::Open && open_after,
        decision,
    }
}

/// Which findings the previous analysis listed open and this one did not report: those to fix.
/// `None` when the analysis is incomplete (a run reported no results, or failed): then its
/// silence proves nothing.
pub fn absent_findings<'a>(
    previous: &'a [Fingerprint],
    reported: &std::collections::HashSet<Fingerprint>,
    complete: bool,
) -> Option<Vec<&'a Fingerprint>> {
    complete.then(|| {
        previous
            .iter()
            .filter(|fp| !reported.contains(*fp))
            .collect()
    })
}

/// A ticket a person closed while its findings were open, and this analysis still reports some of
/// them (`still_present`: the first few, and `count` in all): reopened with the list. `None` when
/// the group's ticket is not resolved, or nothing of it is still reported.
pub fn decide_reverification(
    group: &GroupRecord,
    still_present: &[FindingRecord],
    count: usize,
    now: DateTime<Utc>,
    analysis: &str,
) -> Option<Decision> {
    let ticket = group.ticket.as_ref()?;
    if group.ticket_state != TicketState::Resolved || count == 0 || group.open_ticketed() == 0 {
        return None;
    }
    let lines: Vec<String> = still_present
        .iter()
        .take(STILL_PRESENT_LISTED)
        .map(|r| format!("- alert {} ({})", r.number(), r.finding.place()))
        .collect();
    let more = match count.saturating_sub(lines.len()) {
        0 => String::new(),
        n => format!("\n- … and {n} more (see the ticket's findings)"),
    };
    let text = format!(
        "{} was closed, but the next analysis still reports {count} of its findings, so scantix reopened it:\n{}{more}",
        ticket.key,
        lines.join("\n")
    );
    let mut next = group.clone();
    next.ticket_state = TicketState::Reopened;
    next.push_op(OutboxOp::Transition {
        to: TicketState::Reopened,
    });
    next.push_op(OutboxOp::Comment { text: text.clone() });
    next.updated_at = now;
    Some(Decision {
        group_key: group.key.clone(),
        finding: None,
        findings: vec![],
        group: Some(next),
        content: None,
        audit: vec![AuditEntry {
            at: now,
            group_key: group.key.clone(),
            fingerprint: None,
            actor: "scantix (SARIF analysis)".into(),
            action: "ticket.closure_rejected".into(),
            reason: text,
            delivery: Some(analysis.to_owned()),
            ticket: Some(ticket.key.clone()),
            state: None,
        }],
        actions: vec![Action::ClosureRejected {
            group: group.key.clone(),
            ticket: ticket.key.clone(),
            still_open: still_present.iter().map(FindingRecord::number).collect(),
        }],
    })
}

#[cfg(test)]
mod tests;
