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

/// Passes in a row that finish no group's tracker calls (429s asking for long waits, an outage,
/// leases held by another run) before the run gives up and leaves the rest queued for the next.
const IDLE_PASSES: u32 = 4;

/// Groups whose tracker calls are under way at once: a bulk of hundreds waits out the tracker's
/// short 429s side by side instead of one after the other. Each group's calls stay in order
/// (its lease); the tracker port's retry policy paces each call.
const AT_ONCE: usize = 8;

/// The longest pause for a lease another run holds: the CLI's own lease (see `local`), which a
/// killed run leaves behind on the groups it was working on.
const LEASE_WAIT_CAP: Duration = Duration::from_secs(60);

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
pub fn local_user() -> String {
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
    let mut left: Vec<Option<GroupRecord>> = vec![None; keys.len()];
    let drained = drain(executor, &keys, &mut left).await;
    failures.extend(drained.failures);
    let pending = drained.pending;
    let last_error = drained.last_error;
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

/// What [`drain`] left: the indexes of groups that still owe tracker calls, groups that failed
/// for good, and the last retryable error.
struct Drained {
    pending: Vec<usize>,
    failures: Vec<(GroupKey, String)>,
    last_error: Option<String>,
}

/// How one group's sync ended.
enum Synced {
    Done(Option<Box<GroupRecord>>),
    /// Another holder's lease (a live worker, or a run killed mid-call) until then.
    Held(chrono::DateTime<chrono::Utc>),
    /// The tracker refused for now; the calls stay queued.
    Later(String),
    Failed(String),
    /// Not tried: the tracker had just refused another group's call.
    Skipped,
}

/// Drains the outboxes of `keys`, [`AT_ONCE`] groups at a time, pass after pass while passes
/// finish something. After a pass where the tracker refused, the next waits longer; groups held
/// by another lease are waited for until it runs out (a killed run's lease is taken over then).
async fn drain(
    executor: &scantix_app::execute::Executor,
    keys: &[GroupKey],
    left: &mut [Option<GroupRecord>],
) -> Drained {
    use futures_util::StreamExt;
    use std::sync::atomic::{AtomicBool, Ordering};
    let mut pending: Vec<usize> = (0..keys.len()).collect();
    let mut failures = Vec::new();
    let mut last_error = None;
    let mut idle = 0;
    while !pending.is_empty() {
        // One refusal stops the pass from starting more: the others would meet the same limit.
        let refused = AtomicBool::new(false);
        let refused = &refused;
        let outcomes: Vec<(usize, Synced)> = futures_util::stream::iter(pending.iter().copied())
            .map(|i| async move {
                if refused.load(Ordering::Relaxed) {
                    return (i, Synced::Skipped);
                }
                let synced = match executor.sync_group(&keys[i]).await {
                    Ok(Some(group)) if !group.outbox.is_empty() => {
                        match group.lease.as_ref().map(|l| l.until) {
                            Some(until) if until > executor.now() => Synced::Held(until),
                            // Released with calls appended meanwhile: the next pass has them.
                            _ => Synced::Later(format!("{}: more calls were queued", keys[i])),
                        }
                    }
                    Ok(group) => Synced::Done(group.map(Box::new)),
                    Err(e) if e.is_retryable() => {
                        refused.store(true, Ordering::Relaxed);
                        Synced::Later(format!("{}: {e}", keys[i]))
                    }
                    Err(e) => Synced::Failed(e.to_string()),
                };
                (i, synced)
            })
            .buffer_unordered(AT_ONCE)
            .collect()
            .await;
        let before = pending.len();
        let mut again = Vec::new();
        let mut held_until = None;
        for (i, synced) in outcomes {
            match synced {
                Synced::Done(group) => left[i] = group.map(|g| *g),
                Synced::Held(until) => {
                    held_until = held_until.min(Some(until)).or(Some(until));
                    again.push(i);
                }
                Synced::Later(error) => {
                    last_error = Some(error);
                    again.push(i);
                }
                Synced::Skipped => again.push(i),
                Synced::Failed(error) => failures.push((keys[i].clone(), error)),
            }
        }
        again.sort_unstable();
        pending = again;
        if pending.is_empty() {
            break;
        }
        if pending.len() < before {
            idle = 0;
        } else {
            idle += 1;
            if idle >= IDLE_PASSES {
                break;
            }
        }
        let pause = match held_until {
            // Everything left is another holder's: wait until the first lease runs out.
            Some(until) if pending.len() == before => {
                let wait = (until - executor.now()).to_std().unwrap_or_default();
                eprintln!(
                    "scantix: waiting {}s for tickets another run holds (a run that was stopped \
                     leaves them leased)",
                    wait.as_secs() + 1
                );
                wait.min(LEASE_WAIT_CAP) + Duration::from_millis(100)
            }
            // The tracker already waited out what it could within a call: give it longer
            // before the next pass over what is left.
            _ if idle > 0 => Duration::from_millis(500 << idle),
            _ => Duration::ZERO,
        };
        tokio::time::sleep(pause).await;
    }
    Drained {
        pending,
        failures,
        last_error,
    }
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
