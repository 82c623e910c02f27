//! `scantix audit`: the chain of custody of a ticket, group, repository or finding (or of
//! everything in a period), oldest first, one line per step with its time and actor.

use anyhow::Context;
use chrono::{DateTime, SecondsFormat, Utc};
use clap::Args;
use scantix_core::identity::{Fingerprint, GroupKey};
use scantix_core::ports::store::Store;
use scantix_core::records::AuditEntry;
use scantix_evidence::trail::{Subject, trail};
use serde::Serialize;
use std::fmt::Write as _;

/// Arguments of `scantix audit`.
#[derive(Debug, Args)]
#[command(group(clap::ArgGroup::new("subject").args(["ticket", "group", "repo", "finding"])))]
pub struct AuditArgs {
    /// A ticket by its key (SEC-42, DRAFT-1A2B3C4D), or <tracker>:<key>.
    #[arg(long, value_name = "KEY")]
    ticket: Option<String>,
    /// A group by its key (as `scantix tickets` prints it).
    #[arg(long, value_name = "KEY")]
    group: Option<String>,
    /// Every group of a repository.
    #[arg(long, value_name = "OWNER/NAME")]
    repo: Option<String>,
    /// One finding: <repository id>/<kind>/<number>, as this command prints it.
    #[arg(long, value_name = "ID")]
    finding: Option<String>,
    /// Only steps since then: a duration back from now (30d, 12h, 2w), a day (2026-11-01) or an
    /// instant. Without a subject, the last 30 days.
    #[arg(long, value_name = "WHEN")]
    since: Option<String>,
    /// Print the trail as one JSON document instead of lines.
    #[arg(long)]
    json: bool,
}

#[derive(Serialize)]
struct Trail<'a> {
    entries: &'a [AuditEntry],
}

pub async fn run(store: &dyn Store, args: AuditArgs) -> anyhow::Result<()> {
    let now = Utc::now();
    let since = args
        .since
        .as_deref()
        .map(|s| scantix_evidence::window::since(s, now))
        .transpose()
        .context("reading --since")?;
    let subject = match (args.ticket, args.group, args.repo, args.finding) {
        (Some(ticket), ..) => Subject::Ticket(ticket),
        (_, Some(group), ..) => Subject::Group(GroupKey::from_stored(group)),
        (_, _, Some(repo), _) => Subject::Repository(repo),
        (.., Some(finding)) => Subject::Finding(Fingerprint::from_stored(finding)),
        (None, None, None, None) => Subject::Everything,
    };
    let entries = trail(store, &subject, since, now)
        .await
        .context("reading the audit trail")?;
    if args.json {
        let json = serde_json::to_string_pretty(&Trail { entries: &entries })
            .context("writing the trail as JSON")?;
        println!("{json}");
    } else {
        print!("{}", lines(&entries));
    }
    Ok(())
}

/// One line per step: time, actor, what happened, to what (finding, else ticket, else group), and
/// why; a reason of several lines continues indented.
fn lines(entries: &[AuditEntry]) -> String {
    let mut out = String::new();
    if entries.is_empty() {
        out.push_str("No audit entries.\n");
        return out;
    }
    let actor_width = entries
        .iter()
        .map(|e| e.actor.chars().count())
        .max()
        .unwrap_or_default();
    let action_width = entries
        .iter()
        .map(|e| e.action.len())
        .max()
        .unwrap_or_default();
    for entry in entries {
        let subject = match (&entry.fingerprint, &entry.ticket) {
            (Some(finding), Some(ticket)) => format!("{finding} ({ticket})"),
            (Some(finding), None) => finding.to_string(),
            (None, Some(ticket)) => format!("{ticket} · {}", entry.group_key),
            (None, None) => entry.group_key.to_string(),
        };
        let mut reason = entry.reason.lines();
        let _ = writeln!(
            out,
            "{}  {:actor_width$}  {:action_width$}  {subject}  {}",
            entry.at.to_rfc3339_opts(SecondsFormat::Secs, true),
            entry.actor,
            entry.action,
            reason.next().unwrap_or_default(),
        );
        for more in reason {
            let _ = writeln!(out, "    {more}");
        }
    }
    out
}

/// The instant a `--since` names, for the commands that take one.
pub fn since_or(
    text: Option<&str>,
    default_days: i64,
    now: DateTime<Utc>,
) -> anyhow::Result<DateTime<Utc>> {
    match text {
        Some(text) => scantix_evidence::window::since(text, now).context("reading --since"),
        None => Ok(now - chrono::Duration::days(default_days)),
    }
}
