//! The bulk verbs of `scantix tickets` (`close`, `reopen`, `assign`, `priority`, `regenerate`,
//! `push`, `discard`) and the runner `scantix drafts` shares: each selected group decided with
//! `decide::steer`, committed, and drained through the tracker port (its retry policy) and the
//! outbox. `--dry-run` prints what would change; more than [`CONFIRM_ABOVE`] tickets need a
//! confirmation or `--yes`. A tracker that keeps refusing leaves its calls queued in the groups:
//! the run says so and exits non-zero, and running it again finishes them, once each.

use crate::local::LocalApp;
use crate::selection::{Filters, parse_severity};
use anyhow::Context;
use clap::{Args, Subcommand};
use scantix_app::execute::steer::{SteerResult, Steering};
use scantix_core::decide::steer::{Steer, Steerer};
use scantix_core::finding::Severity;
use scantix_core::identity::GroupKey;
use scantix_core::records::GroupRecord;
use serde_json::json;
use std::io::{BufRead, IsTerminal, Write};
use std::process::ExitCode;
use std::time::Duration;

/// How many tickets a change touches before it asks first.
pub const CONFIRM_ABOVE: usize = 20;

/// Passes over groups whose tracker calls failed for now (429s, outages) before the run gives
/// up and leaves them queued for the next one.
const PASSES: u32 = 4;

/// What every bulk verb takes.
#[derive(Debug, Clone, Args)]
pub struct Common {
    /// Print what would change, change nothing.
    #[arg(long)]
    pub dry_run: bool,
    /// Change more than 20 tickets without asking.
    #[arg(long)]
    pub yes: bool,
    /// Who is acting, for the audit log [default: the local user].
    #[arg(long, value_name = "NAME")]
    pub actor: Option<String>,
}

/// A change to the selected tickets.
#[derive(Debug, Subcommand)]
pub enum Verb {
    /// Close the selected tickets, with a reason (a comment on each, and the audit log).
    Close {
        #[arg(long)]
        reason: String,
        #[command(flatten)]
        common: Common,
    },
    /// Reopen the selected closed tickets.
    Reopen {
        #[arg(long)]
        reason: Option<String>,
        #[command(flatten)]
        common: Common,
    },
    /// Assign the selected tickets to a tracker user.
    Assign {
        user: String,
        #[arg(long)]
        reason: Option<String>,
        #[command(flatten)]
        common: Common,
    },
    /// File the selected tickets at a priority: critical, high, medium, low, note, or P1 to P4.
    Priority {
        #[arg(value_parser = parse_severity)]
        priority: Severity,
        #[arg(long)]
        reason: Option<String>,
        #[command(flatten)]
        common: Common,
    },
    /// Refresh the selected tickets' title and description from current data.
    Regenerate {
        #[arg(long)]
        reason: Option<String>,
        #[command(flatten)]
        common: Common,
    },
    /// Create the selected drafts in the tracker.
    Push {
        #[arg(long)]
        reason: Option<String>,
        #[command(flatten)]
        common: Common,
    },
    /// Drop the selected drafts (their findings stay recorded, not ticketed, until they change).
    Discard {
        #[arg(long)]
        reason: Option<String>,
        #[command(flatten)]
        common: Common,
    },
}

impl Verb {
    /// The change, the reason to audit, and the common options.
    fn parts(self) -> (Steer, Option<String>, Common) {
        match self {
            Verb::Close { reason, common } => (
                Steer::Close {
                    reason: reason.clone(),
                },
                Some(reason),
                common,
            ),
            Verb::Reopen { reason, common } => (Steer::Reopen, reason, common),
            Verb::Assign {
                user,
                reason,
                common,
            } => (Steer::Assign { user }, reason, common),
            Verb::Priority {
                priority,
                reason,
                common,
            } => (Steer::Priority { to: priority }, reason, common),
            Verb::Regenerate { reason, common } => (Steer::Regenerate, reason, common),
            Verb::Push { reason, common } => (Steer::PushDraft, reason, common),
            Verb::Discard { reason, common } => (Steer::DiscardDraft, reason, common),
        }
    }
}

/// `scantix tickets [filters] <verb>`.
pub async fn run(app: &LocalApp, filters: &Filters, verb: Verb) -> anyhow::Result<ExitCode> {
    let mut groups = filters
        .select(app.executor().store(), app.executor().now())
        .await?;
    let (change, reason, common) = verb.parts();
    // `push` and `discard` are about drafts: the other selected tickets are not theirs to touch.
    if matches!(change, Steer::PushDraft | Steer::DiscardDraft) {
        groups.retain(GroupRecord::is_draft);
    }
    apply(app, &groups, &change, reason, &common).await
}

/// The local user, for `--actor`'s default.
fn local_user() -> String {
    ["USER", "USERNAME", "LOGNAME"]
        .iter()
        .find_map(|var| std::env::var(var).ok().filter(|v| !v.trim().is_empty()))
        .unwrap_or_else(|| "unknown local user".into())
}

/// Applies `change` to `groups` (or previews it), one JSON line per group on stdout, a summary on
/// stderr. Fails (exit 1) when calls are left queued or a group could not be changed.
pub async fn apply(
    app: &LocalApp,
    groups: &[GroupRecord],
    change: &Steer,
    reason: Option<String>,
    common: &Common,
) -> anyhow::Result<ExitCode> {
    let actor = common.actor.clone().unwrap_or_else(local_user);
    let by = Steerer {
        reason: reason.unwrap_or_else(|| format!("{} from the command line", change.verb())),
        actor,
    };
    let executor = app.executor();
    let mut out = std::io::stdout().lock();
    if common.dry_run {
        let mut would = 0;
        for group in groups {
            let result = executor
                .preview_steer(&group.key, change, &by)
                .await
                .with_context(|| format!("reading {}", group.key))?;
            would += usize::from(matches!(result, SteerResult::Changed(_)));
            writeln!(out, "{}", line(group, &result, None))?;
        }
        eprintln!(
            "scantix: dry run: {would} of {} selected ticket(s) would change ({}); nothing was changed",
            groups.len(),
            change.verb()
        );
        return Ok(ExitCode::SUCCESS);
    }
    if groups.len() > CONFIRM_ABOVE && !common.yes && !confirm(groups.len(), change)? {
        eprintln!("scantix: nothing changed");
        return Ok(ExitCode::FAILURE);
    }
    // What an earlier run left queued (the tracker refused it for a while) is made first: those
    // groups already read as changed, so a repeated command would not select them again.
    app.finish_queued_work().await?;
    let mut pending: Vec<&GroupRecord> = groups.iter().collect();
    let (mut changed, mut unchanged, mut refused) = (0usize, 0usize, 0usize);
    let mut failures: Vec<(GroupKey, String)> = Vec::new();
    let mut queued: Vec<GroupKey> = Vec::new();
    for pass in 0..PASSES {
        if pass > 0 {
            // The tracker port already waited out its own retries: give it longer before
            // the next pass over what is left.
            tokio::time::sleep(Duration::from_millis(500 << pass)).await;
        }
        let mut again = Vec::new();
        failures.clear();
        queued.clear();
        for group in pending {
            match executor.apply_steer(&group.key, change, &by).await {
                Ok(steering) => {
                    // A change committed on an earlier pass decides nothing now; count it once.
                    match &steering.result {
                        SteerResult::Changed(_) => changed += 1,
                        SteerResult::Unchanged(_) if pass == 0 => unchanged += 1,
                        SteerResult::Unchanged(_) => {}
                        SteerResult::Refused(_) => refused += 1,
                    }
                    writeln!(out, "{}", line(group, &steering.result, Some(&steering)))?;
                    if steering.queued > 0 {
                        queued.push(group.key.clone());
                        again.push(group);
                    }
                }
                Err(e) if e.is_retryable() => {
                    failures.push((group.key.clone(), e.to_string()));
                    again.push(group);
                }
                Err(e) => {
                    failures.push((group.key.clone(), e.to_string()));
                }
            }
        }
        pending = again;
        if pending.is_empty() {
            break;
        }
    }
    eprintln!(
        "scantix: {}: {changed} changed, {unchanged} already so, {refused} not applicable, of {} selected",
        change.verb(),
        groups.len()
    );
    if !pending.is_empty() || !failures.is_empty() {
        let why = failures
            .first()
            .map(|(key, e)| format!(" (first: {key}: {e})"))
            .unwrap_or_default();
        eprintln!(
            "scantix: {} ticket(s) still owe tracker calls{why}; they stay queued in the store: \
             run the same command again to finish them",
            pending.len().max(failures.len())
        );
        return Ok(ExitCode::FAILURE);
    }
    // Nothing the command named could take the change (a push without a tracker, a discard of
    // a ticket that is no draft): a script must see it.
    if refused > 0 && changed == 0 && unchanged == 0 {
        return Ok(ExitCode::FAILURE);
    }
    Ok(ExitCode::SUCCESS)
}

fn line(group: &GroupRecord, result: &SteerResult, after: Option<&Steering>) -> serde_json::Value {
    let (outcome, why) = match result {
        SteerResult::Changed(why) => ("changed", why),
        SteerResult::Unchanged(why) => ("unchanged", why),
        SteerResult::Refused(why) => ("refused", why),
    };
    let mut line = json!({
        "group": group.key.as_str(),
        "ticket": group.ticket.as_ref().map(|t| t.key.as_str()),
        "result": outcome,
        "why": why,
    });
    if let Some(after) = after {
        line["ticket_after"] = json!(after.ticket);
        line["state"] = json!(after.state.map(|s| s.as_str()));
        line["queued"] = json!(after.queued);
    }
    line
}

/// Asks on the terminal; without one, refuses (a script says `--yes`).
fn confirm(count: usize, change: &Steer) -> anyhow::Result<bool> {
    if !std::io::stdin().is_terminal() {
        anyhow::bail!(
            "{count} tickets selected for `{}`: more than {CONFIRM_ABOVE} need --yes (or \
             --dry-run first to see them)",
            change.verb()
        );
    }
    eprint!("{} {count} tickets? [y/N] ", change.verb());
    std::io::stderr().flush()?;
    let mut answer = String::new();
    std::io::stdin()
        .lock()
        .read_line(&mut answer)
        .context("reading the answer")?;
    Ok(matches!(answer.trim(), "y" | "Y" | "yes"))
}
