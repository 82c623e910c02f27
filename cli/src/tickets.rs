//! `scantix tickets`: what the store holds, as a person reads it: each ticket with its state,
//! severity and findings, most severe first; then the groups that have no ticket, and why. With
//! filters (`selection`), the tickets they select; with a verb (`bulk`), a change to them.

use crate::local::StoreLocation;
use crate::selection::Filters;
use anyhow::Context;
use clap::Args;
use scantix_core::decide::drafts::DRAFT_COMMENT;
use scantix_core::finding::Severity;
use scantix_core::ports::store::{Members, Store, read_all};
use scantix_core::records::budget::{BudgetLedger, BudgetScope};
use scantix_core::records::{FindingRecord, GroupRecord, Versioned};
use scantix_core::ticket::anatomy::{LISTED_FINDINGS, TicketSource, ticket_content};
use scantix_core::ticket::listing;
use serde::Serialize;
use std::cmp::Reverse;
use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::sync::Arc;

/// Arguments of `scantix tickets`.
#[derive(Debug, Args)]
#[command(
    args_conflicts_with_subcommands = false,
    subcommand_negates_reqs = true
)]
pub struct TicketsArgs {
    /// Print the listing as one JSON document instead of a table.
    #[arg(long)]
    json: bool,

    #[command(flatten)]
    pub filters: Filters,

    /// A change to every selected ticket (see each verb's --help).
    #[command(subcommand)]
    pub verb: Option<crate::bulk::Verb>,
}

/// Everything the listing shows.
#[derive(Debug, Serialize)]
pub(crate) struct Listing {
    pub(crate) tickets: Vec<TicketView>,
    /// Groups without a ticket: recorded-only findings, or closed before any ticket was due.
    /// Not listed when filters select tickets (`scantix tickets --state …`).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub(crate) untracked: Option<Vec<UntrackedView>>,
}

#[derive(Debug, Serialize)]
pub(crate) struct TicketView {
    key: String,
    tracker: String,
    state: String,
    severity: Severity,
    /// Open ticketed findings.
    open: u32,
    /// Ticketed findings.
    total: u32,
    title: String,
    repository: String,
    group: String,
    findings: Vec<FindingView>,
    /// Comments on the ticket, oldest first (a draft's, as scantix made them).
    comments: Vec<String>,
    /// An overflow ticket's list (a ticket budget's groups waiting for their own ticket), highest
    /// priority first, as the ticket lists them.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    waiting: Vec<String>,
}

#[derive(Debug, Serialize)]
pub(crate) struct FindingView {
    number: u64,
    state: String,
    place: String,
    url: Option<String>,
    /// False for findings kept for the record only (a PR-only alert in a ticketed group).
    ticketed: bool,
    rule: String,
    path: Option<String>,
    line: Option<u64>,
    /// The scanner, when known (SARIF findings always name theirs).
    #[serde(skip_serializing_if = "Option::is_none")]
    tool: Option<String>,
}

#[derive(Debug, Serialize)]
pub(crate) struct UntrackedView {
    group: String,
    repository: String,
    kind: String,
    rule: String,
    severity: Severity,
    why: String,
    findings: Vec<FindingView>,
}

/// Prints the listing of the store at `location`.
pub async fn run(
    store: &Arc<dyn Store>,
    location: &StoreLocation,
    args: TicketsArgs,
) -> anyhow::Result<()> {
    let listing = if args.filters.is_empty() {
        // Everything, untracked groups included: the one listing that reads the whole store.
        let groups = read_all(|after| {
            let store = store.clone();
            async move { store.all_groups(after.as_deref(), 200).await }
        })
        .await
        .context("listing the store's groups")?;
        listing(store, groups).await?
    } else {
        let groups = args.filters.select(store, chrono::Utc::now()).await?;
        tickets_listing(store, groups).await?
    };
    print_listing(&listing, location, args.json)
}

/// Prints `listing` as a table (or JSON).
pub(crate) fn print_listing(
    listing: &Listing,
    location: &StoreLocation,
    json: bool,
) -> anyhow::Result<()> {
    if json {
        let json = serde_json::to_string_pretty(&listing).context("writing the listing as JSON")?;
        println!("{json}");
    } else {
        print!("{}", table(listing, location));
    }
    Ok(())
}

/// The listing of `groups`, each with a ticket (groups without one are left out).
pub(crate) async fn tickets_listing(
    store: &Arc<dyn Store>,
    groups: Vec<GroupRecord>,
) -> anyhow::Result<Listing> {
    let mut tickets = Vec::new();
    for group in groups {
        if group.ticket.is_some() {
            let members = members_of(store, &group).await?;
            tickets.extend(ticket_view(store, &group, &members).await?);
        }
    }
    sort_tickets(&mut tickets);
    Ok(Listing {
        tickets,
        untracked: None,
    })
}

fn sort_tickets(tickets: &mut [TicketView]) {
    tickets.sort_by(|a, b| (Reverse(a.severity), &a.key).cmp(&(Reverse(b.severity), &b.key)));
}

async fn members_of(
    store: &Arc<dyn Store>,
    group: &GroupRecord,
) -> anyhow::Result<Vec<FindingRecord>> {
    let key = group.key.clone();
    Ok(read_all(|after| {
        let (store, key) = (store.clone(), key.clone());
        async move {
            store
                .group_findings(&key, Members::All, after.as_deref(), 500)
                .await
        }
    })
    .await
    .with_context(|| format!("reading the findings of {key}"))?
    .into_iter()
    .map(|f| f.value)
    .collect())
}

/// The view of `group`'s ticket (`None` without one).
async fn ticket_view(
    store: &Arc<dyn Store>,
    group: &GroupRecord,
    members: &[FindingRecord],
) -> anyhow::Result<Option<TicketView>> {
    let Some(ticket) = &group.ticket else {
        return Ok(None);
    };
    let key = group.key.clone();
    let mut severity = group.severity();
    let mut waiting = Vec::new();
    let title = if BudgetScope::of_overflow_key(&key).is_some() {
        // An overflow ticket: its content is its budget's list.
        let content = listing::render(store.as_ref(), group)
            .await
            .with_context(|| format!("reading the ticket budget of {key}"))?;
        severity = content.severity;
        waiting = content
            .facts
            .iter()
            .map(|(rank, group)| format!("{rank}  {group}"))
            .collect();
        content.title
    } else {
        let content = store
            .get_content(&key)
            .await
            .with_context(|| format!("reading the texts of {key}"))?;
        let top: Vec<FindingRecord> = members
            .iter()
            .filter(|m| m.is_ticketed())
            .take(LISTED_FINDINGS)
            .cloned()
            .collect();
        ticket_content(TicketSource {
            group,
            content: content.as_ref(),
            top: &top,
        })
        .title
    };
    let comments = store
        .audit_log(&key)
        .await
        .with_context(|| format!("reading the audit log of {key}"))?
        .into_iter()
        .filter(|a| a.action == DRAFT_COMMENT)
        .map(|a| a.reason)
        .collect();
    Ok(Some(TicketView {
        key: ticket.key.clone(),
        tracker: ticket.tracker.clone(),
        state: group.ticket_state.to_string(),
        severity,
        open: group.tally.open,
        total: group.tally.ticketed(),
        title,
        repository: group.repository.full_name.clone(),
        group: group.key.to_string(),
        findings: members.iter().map(finding_view).collect(),
        comments,
        waiting,
    }))
}

async fn listing(
    store: &Arc<dyn Store>,
    groups: Vec<Versioned<GroupRecord>>,
) -> anyhow::Result<Listing> {
    let mut tickets = Vec::new();
    let mut untracked = Vec::new();
    let mut budgets = Budgets::default();
    for group in groups.into_iter().map(|g| g.value) {
        let members = members_of(store, &group).await?;
        if group.ticket.is_none() {
            let why = match budgets.waiting_in(store, &group).await? {
                Some(why) => why,
                None => why_untracked(&group, &members),
            };
            untracked.push(UntrackedView {
                group: group.key.to_string(),
                repository: group.repository.full_name.clone(),
                kind: group.kind.to_string(),
                rule: group.rule.id.clone(),
                severity: members_severity(&members),
                why,
                findings: members.iter().map(finding_view).collect(),
            });
            continue;
        }
        tickets.extend(ticket_view(store, &group, &members).await?);
    }
    sort_tickets(&mut tickets);
    untracked.sort_by(|a, b| (Reverse(a.severity), &a.group).cmp(&(Reverse(b.severity), &b.group)));
    Ok(Listing {
        tickets,
        untracked: Some(untracked),
    })
}

/// The ticket budgets read for a listing, by scope, with their overflow ticket's key.
#[derive(Default)]
struct Budgets(BTreeMap<BudgetScope, Option<(BudgetLedger, Option<String>)>>);

impl Budgets {
    /// Why `group` has no ticket, when it waits in an overflow ticket.
    async fn waiting_in(
        &mut self,
        store: &Arc<dyn Store>,
        group: &GroupRecord,
    ) -> anyhow::Result<Option<String>> {
        let mut scopes = vec![BudgetScope::Repository(group.repository.id)];
        scopes.extend(group.assignee.clone().map(BudgetScope::Owner));
        for scope in scopes {
            if !self.0.contains_key(&scope) {
                let ledger = store
                    .get_budget(&scope)
                    .await
                    .with_context(|| format!("reading the ticket budget of {scope}"))?;
                let read = match ledger {
                    Some(ledger) => {
                        let overflow = store
                            .get_group(&scope.overflow_key())
                            .await
                            .with_context(|| format!("reading the overflow ticket of {scope}"))?
                            .and_then(|g| g.value.ticket.map(|t| t.key));
                        Some((ledger.value, overflow))
                    }
                    None => None,
                };
                self.0.insert(scope.clone(), read);
            }
            if let Some(Some((ledger, overflow))) = self.0.get(&scope)
                && ledger.lists(&group.key)
            {
                return Ok(Some(format!(
                    "over the ticket budget of {} ({}): listed in its overflow ticket {}",
                    ledger.label,
                    ledger.limit,
                    overflow.as_deref().unwrap_or("(being created)")
                )));
            }
        }
        Ok(None)
    }
}

fn finding_view(record: &FindingRecord) -> FindingView {
    let f = &record.finding;
    FindingView {
        number: f.number,
        state: f.state.as_str().to_owned(),
        place: f.place(),
        url: f.html_url.clone(),
        ticketed: record.is_ticketed(),
        rule: f.rule.id.clone(),
        path: f
            .location
            .as_ref()
            .map(|l| l.path.clone())
            .or_else(|| f.package.as_ref().map(|p| p.manifest_path.clone())),
        line: f.location.as_ref().and_then(|l| l.start_line),
        tool: f.tool.clone(),
    }
}

/// `GroupRecord::severity` counts ticketed findings only; an untracked group may have none.
fn members_severity(members: &[FindingRecord]) -> Severity {
    members.iter().map(|m| m.severity).max().unwrap_or_default()
}

fn why_untracked(group: &GroupRecord, members: &[FindingRecord]) -> String {
    if let Some(at) = group.discarded_at {
        return format!(
            "draft discarded on {} (recorded only until a finding changes)",
            at.format("%Y-%m-%d")
        );
    }
    if group.has_or_awaits_ticket() {
        return "ticket queued, not created yet (a delivery to this group will retry)".into();
    }
    if group.tally.ticketed() > 0 {
        return "closed in GitHub before it needed a ticket".into();
    }
    let refs: Vec<&str> = members
        .iter()
        .filter_map(|m| m.finding.git_ref.as_deref())
        .filter(|r| r.starts_with("refs/pull/"))
        .collect();
    if !refs.is_empty() && refs.len() == members.len() {
        format!("recorded only: seen only on {}", refs.join(", "))
    } else {
        "recorded only: triage does not ticket these findings".into()
    }
}

fn table(listing: &Listing, location: &StoreLocation) -> String {
    let mut out = String::new();
    let untracked = listing.untracked.as_deref().unwrap_or_default();
    if listing.tickets.is_empty() && untracked.is_empty() {
        let _ = match listing.untracked {
            Some(_) => writeln!(out, "No tickets yet (store: {location})."),
            None => writeln!(out, "No tickets match (store: {location})."),
        };
        return out;
    }
    let headers = ["TICKET", "STATE", "SEVERITY", "OPEN", "TITLE"];
    let rows: Vec<[String; 5]> = listing
        .tickets
        .iter()
        .map(|t| {
            [
                t.key.clone(),
                t.state.clone(),
                t.severity.to_string(),
                format!("{}/{}", t.open, t.total),
                t.title.clone(),
            ]
        })
        .collect();
    let width = |i: usize| {
        rows.iter()
            .map(|r| r[i].chars().count())
            .chain([headers[i].len()])
            .max()
            .unwrap_or_default()
    };
    let widths = [width(0), width(1), width(2), width(3)];
    let row = |cells: [&str; 5]| {
        format!(
            "{:w0$}  {:w1$}  {:w2$}  {:w3$}  {}",
            cells[0],
            cells[1],
            cells[2],
            cells[3],
            cells[4],
            w0 = widths[0],
            w1 = widths[1],
            w2 = widths[2],
            w3 = widths[3],
        )
    };
    if !listing.tickets.is_empty() {
        let _ = writeln!(out, "{}", row(headers));
    }
    for (ticket, cells) in listing.tickets.iter().zip(&rows) {
        let _ = writeln!(out, "{}", row(cells.each_ref().map(String::as_str)));
        let _ = writeln!(out, "    {} · {}", ticket.repository, ticket.group);
        write_findings(&mut out, &ticket.findings, true);
        for waiting in &ticket.waiting {
            let _ = writeln!(out, "    {waiting}");
        }
        for comment in &ticket.comments {
            // Continuation lines (a list of alerts) stay under their comment.
            for (i, line) in comment.lines().enumerate() {
                let mark = if i == 0 { "›" } else { " " };
                let _ = writeln!(out, "    {mark} {line}");
            }
        }
        let _ = writeln!(out);
    }
    if !untracked.is_empty() {
        let _ = writeln!(out, "Groups without a ticket ({}):", untracked.len());
        for group in untracked {
            let _ = writeln!(
                out,
                "  {} · {} {} · {}",
                group.repository, group.kind, group.rule, group.why
            );
            // Their `why` already says whether they are recorded only.
            write_findings(&mut out, &group.findings, false);
        }
    }
    out
}

fn write_findings(out: &mut String, findings: &[FindingView], mark_recorded: bool) {
    let width = findings
        .iter()
        .map(|f| f.place.chars().count())
        .max()
        .unwrap_or_default()
        .max(1);
    for f in findings {
        let place = if f.place.is_empty() { "-" } else { &f.place };
        let _ = writeln!(
            out,
            "    #{:<5} {:9} {place:width$}  {}{}",
            f.number,
            f.state,
            f.url.as_deref().unwrap_or("-"),
            if f.ticketed || !mark_recorded {
                ""
            } else {
                "  (recorded only)"
            },
        );
    }
}
