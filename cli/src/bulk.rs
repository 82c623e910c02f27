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
use scantix_core::ports::store::{List, read_all};
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
    /// Assign the selected tickets to a tracker user: a ticket in the tracker through the
    /// tracker's assign call (the outbox), a draft whose push then creates it assigned.
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
    // First every change, decided and committed with its tracker calls queued (store writes
    // only); then the calls, group by group through the outbox.
    let (mut changed, mut unchanged, mut refused) = (0usize, 0usize, 0usize);
    let mut failures: Vec<(GroupKey, String)> = Vec::new();
    let mut results = Vec::with_capacity(groups.len());
    for group in groups {
        match executor.commit_steer(&group.key, change, &by).await {
            Ok(result) => {
                match &result {
                    SteerResult::Changed(_) => changed += 1,
                    SteerResult::Unchanged(_) => unchanged += 1,
                    SteerResult::Refused(_) => refused += 1,
                }
                results.push((group, result));
            }
            Err(e) => failures.push((group.key.clone(), e.to_string())),
        }
    }
    // Then the calls: these groups', and whatever an earlier run left queued (a tracker that
    // refused for a while): those groups already read as changed, so the same command run
    // again would not select them, and must still finish them.
    let mut keys: Vec<GroupKey> = results.iter().map(|(g, _)| g.key.clone()).collect();
    let earlier = read_all(|after| {
        let store = executor.store().clone();
        async move { store.groups_in(&List::Queued, after.as_deref(), 200).await }
    })
    .await
    .context("reading the groups with queued tracker calls")?;
    for group in earlier {
        if !keys.contains(&group.value.key) {
            keys.push(group.value.key);
        }
    }
    let mut pending: Vec<usize> = (0..keys.len()).collect();
    let mut left: Vec<Option<GroupRecord>> = vec![None; keys.len()];
    let mut last_error = None;
    for pass in 0..PASSES {
        if pass > 0 {
            // The tracker port already waited out what it could within a call: give the
            // tracker longer before the next pass over what is left.
            tokio::time::sleep(Duration::from_millis(500 << pass)).await;
        }
        let mut again = Vec::new();
        let mut rest = pending.into_iter();
        for i in rest.by_ref() {
            let key = &keys[i];
            match executor.sync_group(key).await {
                Ok(group) => {
                    if group.as_ref().is_some_and(|g| !g.outbox.is_empty()) {
                        again.push(i);
                    }
                    left[i] = group;
                }
                Err(e) if e.is_retryable() => {
                    // The tracker refuses for now: the other groups would wait out the same
                    // limit. Their calls stay queued for the next pass (or the next run).
                    last_error = Some(format!("{key}: {e}"));
                    again.push(i);
                    break;
                }
                Err(e) => failures.push((key.clone(), e.to_string())),
            }
        }
        again.extend(rest);
        pending = again;
        if pending.is_empty() {
            break;
        }
    }
    for i in &pending {
        left[*i] = executor
            .store()
            .get_group(&keys[*i])
            .await
            .with_context(|| format!("reading {}", keys[*i]))?
            .map(|g| g.value);
    }
    for ((group, result), after) in results.iter().zip(&left) {
        let after = Steering::of(&group.key, result.clone(), after.as_ref(), None);
        writeln!(out, "{}", line(group, result, Some(&after)))?;
    }
    eprintln!(
        "scantix: {}: {changed} changed, {unchanged} already so, {refused} not applicable, of {} selected",
        change.verb(),
        groups.len()
    );
    if !pending.is_empty() || !failures.is_empty() {
        let why = failures
            .first()
            .map(|(key, e)| format!("{key}: {e}"))
            .or(last_error)
            .map(|e| format!(" (last: {e})"))
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
