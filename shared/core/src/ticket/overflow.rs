//! The overflow ticket of a ticket budget (`crate::decide::budget`): one per repository (or
//! owner), listing the groups over the budget highest priority first, rendered from the scope's
//! ledger and updated in place as groups join, leave or are promoted.

use super::TicketContent;
use crate::finding::Severity;
use crate::records::GroupRecord;
use crate::records::budget::BudgetLedger;

/// How many waiting groups the ticket lists; the rest are counted.
pub const OVERFLOW_LISTED: usize = 50;

/// The rule id overflow tickets' groups carry (they group no alert of their own).
pub const OVERFLOW_RULE: &str = "scantix/ticket-budget";

/// The overflow ticket's content: `group` is its group (`BudgetScope::overflow_key`), `ledger`
/// the scope's budget as stored.
pub fn overflow_content(group: &GroupRecord, ledger: &BudgetLedger) -> TicketContent {
    let waiting = ledger.overflowed();
    let severity = ledger
        .overflow
        .first()
        .map_or(Severity::Unknown, |e| e.priority);
    let plural = if waiting == 1 { "group" } else { "groups" };
    let title = format!(
        "Ticket budget: {waiting} {plural} waiting in {} (budget {})",
        ledger.label, ledger.limit
    );
    let summary = format!(
        "{} keeps at most {} open tickets from scantix ({} held now). These {waiting} {plural} of \
         findings are over that budget: each gets its own ticket, highest priority first, as one \
         of those tickets closes. Until then, they are listed here.",
        ledger.label,
        ledger.limit,
        ledger.holders.len()
    );
    let mut facts: Vec<(String, String)> = ledger
        .overflow
        .iter()
        .take(OVERFLOW_LISTED)
        .enumerate()
        .map(|(i, e)| {
            let open = if e.open == 1 { "finding" } else { "findings" };
            (
                format!("{}. {}", i + 1, e.priority),
                format!("{} ({} open {open}) · {}", e.title, e.open, e.group),
            )
        })
        .collect();
    let more = waiting.saturating_sub(facts.len());
    if more > 0 {
        facts.push(("…".into(), format!("and {more} more, lower in priority")));
    }
    TicketContent {
        group_key: group.key.clone(),
        title,
        severity,
        labels: vec![
            "scantix".to_string(),
            "scantix-budget".to_string(),
            format!("severity:{severity}"),
            group.key.label(),
        ],
        summary,
        facts,
        findings: Vec::new(),
        more_findings: 0,
        listing_url: None,
        description: None,
        guidance: None,
        references: Vec::new(),
        verification: "Nothing to fix here: work the listed groups' own tickets as they are \
                       created. scantix closes this ticket when no group is waiting."
            .to_string(),
        due: None,
        priority_reason: None,
        assignee: group.assignee.clone(),
        destination: group.destination.clone(),
        repository: group.repository.full_name.clone(),
    }
}
