//! `decide_pull_request`: the pure core of pull request feedback. (what happened, the stored pull
//! request record, what GitHub lists for the pull request and for its base branch, the tickets of
//! the alerts involved, now) → the record to keep, the summary comment to post (if it changed), and
//! on a merge the note each fixed ticket gets. No I/O, no clock.
//!
//! # One comment, edited in place
//! scantix keeps **one** comment per pull request, found again by the hidden [`SUMMARY_MARKER`]. It
//! lists the alerts the pull request would introduce (severity, rule, `path:line`, a link to the
//! alert) and the existing tickets it would resolve (alerts open on the base branch that are gone
//! on the pull request). A comment rather than a check run: a check run belongs to one head commit,
//! so every push would need a new one and the history of runs piles up on the PR; a comment is one
//! object, edited in place, and visible in the conversation where the author works. It is posted
//! only once there is something to say, and from then on edited whenever what it says changes
//! (never when it does not: an unchanged body is not sent again).
//!
//! # What counts as what
//! GitHub lists a pull request's code scanning alerts for its merge ref (`refs/pull/N/merge`),
//! each in its state *on that ref*. An alert open there and not open on the base branch is
//! *introduced*. A base alert is *fixed* by the pull request when the listing shows it fixed on
//! the ref, or when it is absent from a listing that holds results of the same tool (an alert of a
//! tool that did not analyse the pull request says nothing). Without any result for the pull
//! request (its analysis has not run yet) nothing is claimed fixed.
//!
//! Alerts that exist only on a pull request never become tickets (see `decide`); they are this
//! comment's business. When the pull request merges, each ticket it fixes gets a comment naming it,
//! through the group's outbox; the `fixed` alert events that follow on the default branch mark the
//! ticket stale or close it as for any fix.
//!
//! Everything shown comes from alert text and the pull request's author: attacker-controlled, and
//! rendered inert through `ticket::markdown` (no HTML, no mentions, no breaking out of code spans).

use super::action::Action;
use crate::event::{PullRequestChange, PullRequestEvent};
use crate::finding::{AlertState, Finding};
use crate::identity::{Fingerprint, GroupKey};
use crate::records::{
    AuditEntry, FindingRecord, FixedTicket, PullRequestRecord, PullRequestState,
    PullRequestSummary, SummaryAlert, TicketRef,
};
use crate::ticket::markdown::{code, escape, link};
use chrono::{DateTime, Utc};
use std::collections::{BTreeMap, BTreeSet};
use std::fmt::Write;

/// Marks scantix's summary comment among a pull request's comments. Alert text cannot forge it:
/// rendering escapes `<`.
pub const SUMMARY_MARKER: &str = "<!-- scantix:pr-summary -->";

/// Introduced alerts listed by name; more are counted. Keeps the comment readable and the record
/// (which keeps the summary) far below DynamoDB's 400 KB.
const MAX_INTRODUCED: usize = 50;

/// Fixed alerts listed per ticket; more are counted.
const MAX_FIXED_PER_TICKET: usize = 20;

/// Longest pull request title quoted in a ticket comment.
const MAX_TITLE: usize = 120;

/// What prompted a look at a pull request.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum PullRequestTrigger<'a> {
    /// A `pull_request` delivery.
    Event(&'a PullRequestEvent),
    /// A code scanning alert seen only on the pull request changed: its analysis ran.
    AlertChanged,
}

/// One alert of a listing, reduced to what the summary needs.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ListedAlert {
    pub fingerprint: Fingerprint,
    /// The scanner; an alert's absence means something only where its tool ran.
    pub tool: Option<String>,
    /// Its state on the ref listed.
    pub state: AlertState,
    pub alert: SummaryAlert,
}

impl ListedAlert {
    pub fn of(finding: &Finding) -> ListedAlert {
        ListedAlert {
            fingerprint: Fingerprint::of(finding),
            tool: finding.tool.clone(),
            state: finding.state,
            alert: SummaryAlert::of(finding),
        }
    }

    /// A SARIF finding of the pull request's analyses, in `state` on the pull request. Its tool
    /// is kept apart from GitHub's tools (`sarif:` before it): whether it is fixed is said
    /// explicitly by [`compare_sarif`], never inferred from an absence in GitHub's listing.
    pub fn of_sarif(record: &FindingRecord, state: AlertState) -> ListedAlert {
        ListedAlert {
            fingerprint: record.fingerprint.clone(),
            tool: Some(format!(
                "sarif:{}",
                record.finding.tool.as_deref().unwrap_or_default()
            )),
            state,
            alert: SummaryAlert {
                severity: record.severity,
                ..SummaryAlert::of(&record.finding)
            },
        }
    }

    /// A finding as the store last saw it (the local mode, without GitHub).
    pub fn of_record(record: &FindingRecord) -> ListedAlert {
        ListedAlert {
            fingerprint: record.fingerprint.clone(),
            tool: None,
            state: record.finding.state,
            alert: SummaryAlert {
                severity: record.severity,
                ..SummaryAlert::of(&record.finding)
            },
        }
    }
}

/// The ticket a base alert is on.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct KnownTicket {
    pub group_key: GroupKey,
    /// `None` while its creation is queued.
    pub ticket: Option<TicketRef>,
}

/// What is known about a pull request's alerts right now.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct Listing {
    /// The pull request's code scanning alerts, each in its state on the pull request.
    pub on_pull_request: Vec<ListedAlert>,
    /// Code scanning alerts open on the base branch.
    pub open_on_base: Vec<ListedAlert>,
    /// Whether `on_pull_request` is GitHub's whole analysis of the pull request, so that an alert
    /// missing from it is gone; false when it holds only what deliveries told (the local mode).
    pub complete: bool,
    /// The tickets of the base alerts the pull request fixes (see [`fix_candidates`]); alerts
    /// without a ticket are not listed as resolving anything.
    pub tickets: BTreeMap<Fingerprint, KnownTicket>,
    /// A SARIF analysis of the pull request was applied: it is analysed, even without results.
    pub sarif_analysed: bool,
    /// Introduced findings counted but not read (beyond what a summary lists), by the tool of
    /// the SARIF analysis they are in.
    pub more_introduced: BTreeMap<String, usize>,
    /// Findings open on both the pull request and its base, counted but not listed.
    pub more_still_open: usize,
}

/// How a SARIF analysis of a pull request compares with the same analysis (tool, category) of its
/// base branch, by the two open lists.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct SarifComparison {
    /// Open on the pull request, not on the base branch, in fingerprint order.
    pub introduced: Vec<Fingerprint>,
    /// Open on the base branch, absent from the pull request's analysis (only when that analysis
    /// is complete: a run without results proves nothing fixed), in fingerprint order.
    pub fixed: Vec<Fingerprint>,
    /// Open on both.
    pub still_open: usize,
}

/// Compares the open list of a pull request's SARIF analysis (`on_pull_request`) with that of
/// the same tool and category on its base branch (`on_base`).
pub fn compare_sarif(
    on_pull_request: &BTreeSet<Fingerprint>,
    on_base: &BTreeSet<Fingerprint>,
    complete: bool,
) -> SarifComparison {
    SarifComparison {
        introduced: on_pull_request.difference(on_base).cloned().collect(),
        fixed: match complete {
            true => on_base.difference(on_pull_request).cloned().collect(),
            false => Vec::new(),
        },
        still_open: on_pull_request.intersection(on_base).count(),
    }
}

/// Everything `decide_pull_request` looks at.
#[derive(Debug, Clone, Copy)]
pub struct PullRequestInputs<'a> {
    pub trigger: PullRequestTrigger<'a>,
    /// The stored record (a fresh one for a pull request seen for the first time).
    pub record: &'a PullRequestRecord,
    /// `None` when nothing was listed (see [`wants_listing`]) or the listing is gone.
    pub listing: Option<&'a Listing>,
    pub now: DateTime<Utc>,
    /// The delivery that brought the trigger, for the audit log.
    pub delivery: Option<&'a str>,
}

/// A comment to queue on a ticket the merged pull request fixes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MergeNote {
    pub group_key: GroupKey,
    pub ticket: Option<TicketRef>,
    pub text: String,
    /// Written with the queued comment, in the group's log.
    pub audit: AuditEntry,
}

/// The outcome of `decide_pull_request`.
#[derive(Debug, Clone, PartialEq)]
pub struct PullRequestDecision {
    /// The record to keep (lease and comment id as they were: the executor owns those).
    pub record: PullRequestRecord,
    /// The summary to post or edit; `None`: the comment stays as it is (or is not posted yet).
    pub comment: Option<String>,
    /// On a merge: one note per ticket the pull request fixes.
    pub merge_notes: Vec<MergeNote>,
    pub actions: Vec<Action>,
    /// The pull request's own log (under [`PullRequestRecord::audit_key`]).
    pub audit: Vec<AuditEntry>,
}

/// Whether the trigger needs the pull request's alerts listed (a closed pull request's comment
/// changes only its headline; a merge lists once more for the final word).
pub fn wants_listing(trigger: PullRequestTrigger<'_>, record: &PullRequestRecord) -> bool {
    match trigger {
        PullRequestTrigger::Event(event) => event.change != PullRequestChange::Closed,
        PullRequestTrigger::AlertChanged => record.state == PullRequestState::Open,
    }
}

/// The base alerts the pull request fixes: listed fixed on its ref, or absent from a complete
/// listing that holds results of their tool. These are the ones whose tickets a listing needs.
pub fn fix_candidates(
    on_pull_request: &[ListedAlert],
    open_on_base: &[ListedAlert],
    complete: bool,
) -> Vec<Fingerprint> {
    let on_pr: BTreeMap<&Fingerprint, AlertState> = on_pull_request
        .iter()
        .map(|a| (&a.fingerprint, a.state))
        .collect();
    let analysed_tools: BTreeSet<Option<&str>> =
        on_pull_request.iter().map(|a| a.tool.as_deref()).collect();
    open_on_base
        .iter()
        .filter(|base| match on_pr.get(&base.fingerprint) {
            Some(state) => *state == AlertState::Fixed,
            None => complete && analysed_tools.contains(&base.tool.as_deref()),
        })
        .map(|base| base.fingerprint.clone())
        .collect()
}

/// What `listing` says about the pull request.
pub fn summarise(listing: &Listing) -> PullRequestSummary {
    let on_base: BTreeSet<&Fingerprint> = listing
        .open_on_base
        .iter()
        .map(|a| &a.fingerprint)
        .collect();
    let mut introduced: Vec<&SummaryAlert> = listing
        .on_pull_request
        .iter()
        .filter(|a| a.state == AlertState::Open && !on_base.contains(&a.fingerprint))
        .map(|a| &a.alert)
        .collect();
    introduced.sort_by(|a, b| b.severity.cmp(&a.severity).then(a.number.cmp(&b.number)));
    let still_open = listing
        .on_pull_request
        .iter()
        .filter(|a| a.state == AlertState::Open && on_base.contains(&a.fingerprint))
        .count();

    let fixed: BTreeSet<Fingerprint> = fix_candidates(
        &listing.on_pull_request,
        &listing.open_on_base,
        listing.complete,
    )
    .into_iter()
    .collect();
    let mut by_group: BTreeMap<&GroupKey, (&KnownTicket, Vec<&SummaryAlert>)> = BTreeMap::new();
    for base in &listing.open_on_base {
        let Some(ticket) = listing.tickets.get(&base.fingerprint) else {
            continue;
        };
        if fixed.contains(&base.fingerprint) {
            by_group
                .entry(&ticket.group_key)
                .or_insert_with(|| (ticket, Vec::new()))
                .1
                .push(&base.alert);
        }
    }
    let fixes = by_group
        .into_values()
        .map(|(ticket, mut alerts)| {
            alerts.sort_by_key(|a| a.number);
            alerts.dedup_by_key(|a| a.number);
            FixedTicket {
                group_key: ticket.group_key.clone(),
                ticket: ticket.ticket.clone(),
                more_alerts: count_beyond(alerts.len(), MAX_FIXED_PER_TICKET),
                alerts: alerts
                    .into_iter()
                    .take(MAX_FIXED_PER_TICKET)
                    .cloned()
                    .collect(),
            }
        })
        .collect();
    // What the comment cannot list, by where it comes from: the least severe of those read,
    // and those only counted.
    let mut unlisted: BTreeMap<String, u32> = BTreeMap::new();
    for alert in introduced.iter().skip(MAX_INTRODUCED) {
        *unlisted.entry(source_of(alert).to_owned()).or_default() += 1;
    }
    for (tool, count) in &listing.more_introduced {
        let count = u32::try_from(*count).unwrap_or(u32::MAX);
        let entry = unlisted.entry(tool.clone()).or_default();
        *entry = entry.saturating_add(count);
    }
    unlisted.retain(|_, n| *n > 0);
    let more_introduced: usize = listing.more_introduced.values().sum();
    PullRequestSummary {
        analyzed: !listing.on_pull_request.is_empty() || listing.sarif_analysed,
        more_introduced: count_beyond(introduced.len() + more_introduced, MAX_INTRODUCED),
        unlisted_by_source: unlisted,
        introduced: introduced
            .into_iter()
            .take(MAX_INTRODUCED)
            .cloned()
            .collect(),
        fixes,
        still_open: u32::try_from(still_open + listing.more_still_open).unwrap_or(u32::MAX),
    }
}

/// Where an introduced alert comes from, as the comment names it: a SARIF finding's tool, or
/// GitHub code scanning.
fn source_of(alert: &SummaryAlert) -> &str {
    alert.tool.as_deref().unwrap_or(CODE_SCANNING)
}

/// How the comment names GitHub's own code scanning alerts among the sources of introduced ones.
pub const CODE_SCANNING: &str = "GitHub code scanning";

fn count_beyond(len: usize, limit: usize) -> u32 {
    u32::try_from(len.saturating_sub(limit)).unwrap_or(u32::MAX)
}

/// Decides what `inputs.trigger` means for the pull request's record, its comment and the tickets
/// it fixes.
pub fn decide_pull_request(inputs: PullRequestInputs<'_>) -> PullRequestDecision {
    let PullRequestInputs {
        trigger,
        record,
        listing,
        now,
        delivery,
    } = inputs;
    let mut next = record.clone();
    let mut audit = Vec::new();
    let mut actions = Vec::new();
    let mut actor = "github".to_owned();
    let mut merged_now = false;
    if let PullRequestTrigger::Event(event) = trigger {
        // A delivery without a title (lenient parsing) keeps the one known.
        if !event.title.is_empty() {
            next.title = event.title.clone();
        }
        next.html_url = event.html_url.clone().or(next.html_url);
        next.head_sha = event.head_sha.clone().or(next.head_sha);
        next.base_ref = event.base_ref.clone();
        next.installation_id = event.installation_id.or(next.installation_id);
        next.repository = event.repository.clone();
        next.state = match event.change {
            PullRequestChange::Opened
            | PullRequestChange::Reopened
            | PullRequestChange::Synchronized => PullRequestState::Open,
            PullRequestChange::Closed => PullRequestState::Closed,
            PullRequestChange::Merged => PullRequestState::Merged,
        };
        merged_now =
            event.change == PullRequestChange::Merged && record.state != PullRequestState::Merged;
        if let Some(login) = &event.actor {
            actor = login.clone();
        }
        audit.push(AuditEntry {
            at: now,
            group_key: record.audit_key(),
            fingerprint: None,
            actor: actor.clone(),
            action: format!("pull_request.{}", event.action),
            reason: format!("pull request #{} {}", event.number, state_word(next.state)),
            delivery: delivery.map(str::to_owned),
            ticket: None,
            state: None,
        });
    }

    next.summary = match listing.map(summarise) {
        Some(fresh) if fresh.analyzed || next.state == PullRequestState::Open => fresh,
        // Merged or closed: GitHub drops the PR's merge ref, and with it the results. The last
        // summary seen is the pull request's final word.
        _ => record.summary.clone(),
    };

    let mut merge_notes = Vec::new();
    if merged_now {
        for fixed in &next.summary.fixes {
            let text = merge_note_text(&next, fixed);
            actions.push(Action::PullRequestFixes {
                pull_request: next.number,
                group: fixed.group_key.clone(),
                ticket: fixed.ticket.as_ref().map(|t| t.key.clone()),
                text: text.clone(),
            });
            merge_notes.push(MergeNote {
                group_key: fixed.group_key.clone(),
                ticket: fixed.ticket.clone(),
                audit: AuditEntry {
                    at: now,
                    group_key: fixed.group_key.clone(),
                    fingerprint: None,
                    actor: actor.clone(),
                    action: "ticket.fixed_by_pull_request".into(),
                    reason: text.clone(),
                    delivery: delivery.map(str::to_owned),
                    ticket: fixed.ticket.as_ref().map(|t| t.key.clone()),
                    state: None,
                },
                text,
            });
        }
    }

    let body = render_summary(&next);
    let has_comment = record.comment_id.is_some() || record.comment_body.is_some();
    let worth_posting =
        has_comment || (next.state == PullRequestState::Open && next.summary.has_news());
    let comment = (worth_posting && record.comment_body.as_deref() != Some(body.as_str()))
        .then(|| body.clone());
    if comment.is_some() {
        next.comment_body = Some(body);
    } else {
        let reason = if !worth_posting {
            "nothing to report: no comment posted".to_owned()
        } else {
            "the summary is unchanged".to_owned()
        };
        actions.push(Action::PullRequestNoted {
            pull_request: next.number,
            reason,
        });
    }
    next.updated_at = now;
    PullRequestDecision {
        record: next,
        comment,
        merge_notes,
        actions,
        audit,
    }
}

fn state_word(state: PullRequestState) -> &'static str {
    match state {
        PullRequestState::Open => "open",
        PullRequestState::Closed => "closed without merging",
        PullRequestState::Merged => "merged",
    }
}

/// The note a fixed ticket gets when the pull request merges. Plain text: trackers render comment
/// text inert. The title is flattened and shortened; it is the author's, not scantix's.
fn merge_note_text(record: &PullRequestRecord, fixed: &FixedTicket) -> String {
    let title: String = record
        .title
        .split_whitespace()
        .collect::<Vec<_>>()
        .join(" ")
        .chars()
        .filter(|c| !c.is_control())
        .collect();
    let title = if title.chars().count() > MAX_TITLE {
        title.chars().take(MAX_TITLE - 1).collect::<String>() + "…"
    } else {
        title
    };
    let named = if title.is_empty() {
        format!("Pull request #{}", record.number)
    } else {
        format!("Pull request #{} ({title})", record.number)
    };
    let numbers: Vec<String> = fixed.alerts.iter().map(|a| a.number.to_string()).collect();
    let more = if fixed.more_alerts > 0 {
        format!(" and {} more", fixed.more_alerts)
    } else {
        String::new()
    };
    let plural = if fixed.alerts.len() + fixed.more_alerts as usize == 1 {
        "alert"
    } else {
        "alerts"
    };
    let url = record
        .html_url
        .as_deref()
        .map(|u| format!(" {u}"))
        .unwrap_or_default();
    format!(
        "{named} merged; it fixes {plural} {}{more} of this ticket.{url} The ticket follows when \
         GitHub reports the alerts fixed on the default branch.",
        numbers.join(", ")
    )
}

/// The summary comment's Markdown. Every piece of alert or author text goes through
/// `ticket::markdown`.
pub fn render_summary(record: &PullRequestRecord) -> String {
    let summary = &record.summary;
    let merged = record.state == PullRequestState::Merged;
    let mut md = String::new();
    let _ = writeln!(md, "{SUMMARY_MARKER}");
    md.push_str("### scantix: code scanning on this pull request\n\n");
    match record.state {
        PullRequestState::Open => {}
        PullRequestState::Merged => md.push_str(
            "**Merged.** The tickets below were told so; each closes (or is marked stale) once \
             GitHub reports its alerts fixed on the default branch.\n\n",
        ),
        PullRequestState::Closed => {
            md.push_str("**Closed without merging.** This summary is final.\n\n")
        }
    }
    if !summary.analyzed {
        md.push_str("No code scanning results for this pull request yet.\n");
        return md;
    }
    let introduced = summary.introduced.len() + summary.more_introduced as usize;
    if introduced == 0 {
        md.push_str("This pull request introduces no new code scanning alerts.\n\n");
    } else {
        let verb = if merged {
            "introduced"
        } else {
            "would introduce"
        };
        let _ = writeln!(
            md,
            "**{introduced} new {}** this pull request {verb}:\n",
            plural(introduced, "alert", "alerts")
        );
        for alert in &summary.introduced {
            let _ = writeln!(md, "- {}", alert_line(alert));
        }
        if summary.more_introduced > 0 {
            let _ = writeln!(md, "- {}", unlisted_line(record));
        }
        md.push('\n');
    }
    if !summary.fixes.is_empty() {
        let tickets = summary.fixes.len();
        let _ = writeln!(
            md,
            "**{} {tickets} existing {}** (alerts open on the base branch that are gone here):\n",
            if merged { "Resolves" } else { "Would resolve" },
            plural(tickets, "ticket", "tickets")
        );
        for fixed in &summary.fixes {
            let ticket = match &fixed.ticket {
                Some(t) => link(&t.key, t.url.as_deref()),
                None => "a ticket being created".to_owned(),
            };
            let alerts: Vec<String> = fixed.alerts.iter().map(alert_name).collect();
            let more = if fixed.more_alerts > 0 {
                format!(" and {} more", fixed.more_alerts)
            } else {
                String::new()
            };
            let rule = fixed
                .alerts
                .first()
                .map(|a| format!(": {}", rule_words(a)))
                .unwrap_or_default();
            let _ = writeln!(md, "- {ticket} — {}{more}{rule}", alerts.join(", "));
        }
        md.push('\n');
    }
    if summary.still_open > 0 {
        let n = summary.still_open as usize;
        let _ = writeln!(
            md,
            "{n} {} open on the base branch {} open with this pull request.\n",
            plural(n, "alert", "alerts"),
            plural(n, "stays", "stay")
        );
    }
    md.push_str(
        "<sub>Alerts found only on a pull request never become tickets. This comment is edited \
         in place as results change.</sub>\n",
    );
    md
}

/// "… and 230 more not listed here (210 Semgrep OSS, 20 GitHub code scanning): see …": how many
/// the comment leaves out, from which sources, and where they can all be seen — GitHub's alerts
/// page filtered to the pull request for its own alerts, the pull request's checks (where the
/// scanners ran and wrote their output) for SARIF findings. Links only when the pull request's
/// or the repository's address is known.
fn unlisted_line(record: &PullRequestRecord) -> String {
    let summary = &record.summary;
    let mut line = format!("… and {} more not listed here", summary.more_introduced);
    let sources: Vec<String> = summary
        .unlisted_by_source
        .iter()
        .map(|(source, n)| format!("{n} {}", escape(source)))
        .collect();
    if !sources.is_empty() {
        let _ = write!(line, " ({})", sources.join(", "));
    }
    let repository = record
        .repository
        .html_url
        .clone()
        .or_else(|| {
            let url = record.html_url.as_deref()?;
            let (repository, _) = url.rsplit_once("/pull/")?;
            Some(repository.to_owned())
        })
        .map(|url| url.trim_end_matches('/').to_owned());
    let pull_request = record.html_url.clone().or_else(|| {
        let repository = repository.as_deref()?;
        Some(format!("{repository}/pull/{}", record.number))
    });
    let mut see = Vec::new();
    if let Some(repository) = repository.as_deref()
        && summary.unlisted_by_source.contains_key(CODE_SCANNING)
    {
        let url = format!(
            "{repository}/security/code-scanning?query=is%3Aopen+pr%3A{}",
            record.number
        );
        see.push(link(
            "the code scanning alerts of this pull request",
            Some(&url),
        ));
    }
    if let Some(pull_request) = pull_request.as_deref()
        && summary
            .unlisted_by_source
            .keys()
            .any(|source| source != CODE_SCANNING)
    {
        let url = format!("{}/checks", pull_request.trim_end_matches('/'));
        see.push(link(
            "the checks of this pull request, where the scanners ran",
            Some(&url),
        ));
    }
    if !see.is_empty() {
        let _ = write!(line, ": see {}", see.join(" and "));
    }
    line
}

/// `high` `js/xss` Reflected XSS at `src/app.js:12` — alert 14 (linked); a SARIF finding is
/// named by its tool instead (it has no alert page to link to).
fn alert_line(alert: &SummaryAlert) -> String {
    let place = if alert.place.is_empty() {
        String::new()
    } else {
        format!(" at {}", code(&alert.place))
    };
    format!(
        "**{}** {}{place} — {}",
        alert.severity,
        rule_words(alert),
        match &alert.tool {
            Some(tool) => escape(tool),
            None => alert_name(alert),
        }
    )
}

/// "alert 14" linked to its page, or for a SARIF finding "Bandit at `app.py:3`".
fn alert_name(alert: &SummaryAlert) -> String {
    match &alert.tool {
        Some(tool) if alert.place.is_empty() => escape(tool),
        Some(tool) => format!("{} at {}", escape(tool), code(&alert.place)),
        None => link(
            &format!("alert {}", alert.number),
            alert.html_url.as_deref(),
        ),
    }
}

/// The rule's id as code, and its name when it says more.
fn rule_words(alert: &SummaryAlert) -> String {
    let name = alert.rule_name.trim();
    if name.is_empty() || name == alert.rule_id {
        code(&alert.rule_id)
    } else {
        format!("{} {}", code(&alert.rule_id), escape(name))
    }
}

fn plural<'a>(n: usize, one: &'a str, many: &'a str) -> &'a str {
    if n == 1 { one } else { many }
}

#[cfg(test)]
mod tests;
