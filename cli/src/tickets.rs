//! `scantix tickets`: what the store holds, as a person reads it: each ticket with its state,
//! severity and findings, most severe first; then the groups that have no ticket, and why.

use crate::local::StoreLocation;
use anyhow::Context;
use clap::Args;
use scantix::finding::Severity;
use scantix::state::{GroupRecord, Member};
use scantix::store::Store;
use scantix::store::memory::MemoryStore;
use scantix::ticket::anatomy::ticket_content;
use scantix::tracker::draft::DraftTicket;
use serde::Serialize;
use std::cmp::Reverse;
use std::collections::BTreeMap;
use std::fmt::Write as _;

/// Arguments of `scantix tickets`.
#[derive(Debug, Args)]
pub struct TicketsArgs {
    /// Print the listing as one JSON document instead of a table.
    #[arg(long)]
    json: bool,
}

/// Everything the listing shows.
#[derive(Debug, Serialize)]
struct Listing {
    tickets: Vec<TicketView>,
    /// Groups without a ticket: recorded-only findings, or closed before any ticket was due.
    untracked: Vec<UntrackedView>,
}

#[derive(Debug, Serialize)]
struct TicketView {
    key: String,
    tracker: String,
    state: String,
    severity: Severity,
    /// Open ticketed findings.
    open: usize,
    /// Ticketed findings.
    total: usize,
    title: String,
    repository: String,
    group: String,
    findings: Vec<FindingView>,
    /// Comments on the ticket, oldest first.
    comments: Vec<String>,
}

#[derive(Debug, Serialize)]
struct FindingView {
    number: u64,
    state: String,
    place: String,
    url: Option<String>,
    /// False for findings kept for the record only (a PR-only alert in a ticketed group).
    ticketed: bool,
}

#[derive(Debug, Serialize)]
struct UntrackedView {
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
    store: &MemoryStore,
    location: &StoreLocation,
    args: TicketsArgs,
) -> anyhow::Result<()> {
    let groups = store
        .list_groups()
        .await
        .context("listing the store's groups")?;
    let drafts: BTreeMap<String, DraftTicket> = store
        .drafts()
        .into_iter()
        .map(|d| (d.key.clone(), d))
        .collect();
    let listing = listing(groups.into_iter().map(|g| g.value).collect(), &drafts);
    if args.json {
        let json = serde_json::to_string_pretty(&listing).context("writing the listing as JSON")?;
        println!("{json}");
    } else {
        print!("{}", table(&listing, location));
    }
    Ok(())
}

fn listing(groups: Vec<GroupRecord>, drafts: &BTreeMap<String, DraftTicket>) -> Listing {
    let mut tickets = Vec::new();
    let mut untracked = Vec::new();
    for group in groups {
        let findings = group.members.values().map(finding_view).collect();
        let Some(ticket) = &group.ticket else {
            untracked.push(UntrackedView {
                group: group.key.to_string(),
                repository: group.repository.full_name.clone(),
                kind: group.kind.to_string(),
                rule: group.rule.id.clone(),
                severity: members_severity(&group),
                why: why_untracked(&group),
                findings,
            });
            continue;
        };
        let draft = drafts.get(&ticket.key);
        tickets.push(TicketView {
            key: ticket.key.clone(),
            tracker: ticket.tracker.clone(),
            // While calls are queued, the draft is the ticket as the tracker holds it. Once the
            // outbox is drained, the group's state is: it also follows moves made in the tracker,
            // which reach the group without a call to the draft (a Jira delivery naming a draft).
            state: match draft {
                Some(d) if !group.outbox.is_empty() => d.state,
                _ => group.ticket_state,
            }
            .to_string(),
            severity: group.severity(),
            open: group.open_ticketed(),
            total: group.ticketed().count(),
            title: draft.map_or_else(|| ticket_content(&group).title, |d| d.title.clone()),
            repository: group.repository.full_name.clone(),
            group: group.key.to_string(),
            findings,
            comments: draft
                .map(|d| d.comments.iter().map(|c| c.text.clone()).collect())
                .unwrap_or_default(),
        });
    }
    tickets.sort_by(|a, b| (Reverse(a.severity), &a.key).cmp(&(Reverse(b.severity), &b.key)));
    untracked.sort_by(|a, b| (Reverse(a.severity), &a.group).cmp(&(Reverse(b.severity), &b.group)));
    Listing { tickets, untracked }
}

fn finding_view(member: &Member) -> FindingView {
    FindingView {
        number: member.number,
        state: member.state.as_str().to_owned(),
        place: member.place.clone(),
        url: member.html_url.clone(),
        ticketed: member.ticketed,
    }
}

/// `GroupRecord::severity` counts ticketed members only; an untracked group may have none.
fn members_severity(group: &GroupRecord) -> Severity {
    group
        .members
        .values()
        .map(|m| m.severity)
        .max()
        .unwrap_or_default()
}

fn why_untracked(group: &GroupRecord) -> String {
    if group.has_or_awaits_ticket() {
        return "ticket queued, not created yet (a delivery to this group will retry)".into();
    }
    if group.ticketed().next().is_some() {
        return "closed in GitHub before it needed a ticket".into();
    }
    let refs: Vec<&str> = group
        .members
        .values()
        .filter_map(|m| m.git_ref.as_deref())
        .filter(|r| r.starts_with("refs/pull/"))
        .collect();
    if !refs.is_empty() && refs.len() == group.members.len() {
        format!("recorded only: seen only on {}", refs.join(", "))
    } else {
        "recorded only: triage does not ticket these findings".into()
    }
}

fn table(listing: &Listing, location: &StoreLocation) -> String {
    let mut out = String::new();
    if listing.tickets.is_empty() && listing.untracked.is_empty() {
        let _ = writeln!(out, "No tickets yet (store: {location}).");
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
        for comment in &ticket.comments {
            // Continuation lines (a list of alerts) stay under their comment.
            for (i, line) in comment.lines().enumerate() {
                let mark = if i == 0 { "›" } else { " " };
                let _ = writeln!(out, "    {mark} {line}");
            }
        }
        let _ = writeln!(out);
    }
    if !listing.untracked.is_empty() {
        let _ = writeln!(
            out,
            "Groups without a ticket ({}):",
            listing.untracked.len()
        );
        for group in &listing.untracked {
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
