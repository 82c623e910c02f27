//! `scantix budget rebalance`: the ticket budgets balanced against the budget the settings give
//! now, without waiting for an event of each scope (the sweeper does the same for every
//! repository on its schedule). Free slots promote the highest-priority waiting groups to
//! tickets of their own; a smaller budget demotes the lowest-priority tickets into the overflow
//! ticket. `--dry-run` prints what would move; each move is audited with `--actor`.

use crate::bulk::local_user;
use crate::local::LocalApp;
use anyhow::Context;
use clap::{Args, Subcommand};
use scantix_core::identity::GroupKey;
use scantix_core::ports::store::read_all;
use scantix_core::records::budget::{BudgetLedger, BudgetScope};
use serde_json::json;
use std::collections::BTreeSet;
use std::io::Write;
use std::process::ExitCode;

/// Arguments of `scantix budget`.
#[derive(Debug, Args)]
pub struct BudgetArgs {
    #[command(subcommand)]
    command: BudgetCommand,
}

#[derive(Debug, Subcommand)]
enum BudgetCommand {
    /// Balance the ticket budgets against the settings' budget now.
    Rebalance(RebalanceArgs),
}

#[derive(Debug, Args)]
struct RebalanceArgs {
    /// Only this repository's budget and its groups' owners' [default: every budget].
    #[arg(long, value_name = "OWNER/NAME")]
    repo: Option<String>,
    /// Print what would move, move nothing.
    #[arg(long)]
    dry_run: bool,
    /// Who is acting, for the audit log [default: the local user].
    #[arg(long, value_name = "NAME")]
    actor: Option<String>,
}

/// Runs `scantix budget`.
pub async fn run(app: &LocalApp, args: BudgetArgs) -> anyhow::Result<ExitCode> {
    let BudgetCommand::Rebalance(args) = args.command;
    let executor = app.executor();
    let config = executor.config();
    let actor = args.actor.clone().unwrap_or_else(local_user);
    // The scopes the groups count in: their repository's and their owner's, whatever the budget
    // says now (a budget taken out of the settings frees every slot).
    let groups = read_all(|after| {
        let store = executor.store().clone();
        async move { store.all_groups(after.as_deref(), 200).await }
    })
    .await
    .context("reading the groups")?;
    let mut scopes = BTreeSet::new();
    for group in groups {
        let group = group.value;
        if BudgetScope::of_overflow_key(&group.key).is_some() {
            continue;
        }
        if let Some(repo) = &args.repo
            && !group.repository.full_name.eq_ignore_ascii_case(repo)
        {
            continue;
        }
        scopes.insert(BudgetScope::Repository(group.repository.id));
        if let Some(owner) = group.assignee {
            scopes.insert(BudgetScope::Owner(owner));
        }
    }
    if scopes.is_empty()
        && let Some(repo) = &args.repo
    {
        anyhow::bail!("no group of repository {repo} is recorded");
    }
    let mut out = std::io::stdout().lock();
    let (mut moved, mut budgets) = (0usize, 0usize);
    for scope in &scopes {
        let Some((stored, next)) = executor
            .preview_rebalance(scope, config)
            .await
            .with_context(|| format!("reading the budget of {scope}"))?
        else {
            continue;
        };
        budgets += 1;
        let after = if args.dry_run || (stored == next && stored.moves.is_empty()) {
            next
        } else {
            executor
                .rebalance_budget(scope, config, &actor)
                .await
                .with_context(|| format!("rebalancing the budget of {scope}"))?
                .unwrap_or(next)
        };
        let (promoted, demoted) = (arrivals(&stored, &after), arrivals(&after, &stored));
        moved += promoted.len() + demoted.len();
        let line = json!({
            "scope": stored.label,
            "budget_before": stored.limit,
            "budget": after.limit,
            "promoted": promoted,
            "demoted": demoted,
            "tickets": after.holders.len(),
            "overflow": after.overflowed(),
        });
        writeln!(out, "{line}")?;
    }
    let done = if args.dry_run {
        "dry run: would move"
    } else {
        "moved"
    };
    eprintln!("scantix: budget rebalance: {budgets} budget(s), {done} {moved} group(s)");
    Ok(ExitCode::SUCCESS)
}

/// The groups holding a slot in `after` that did not hold one in `before`.
fn arrivals(before: &BudgetLedger, after: &BudgetLedger) -> Vec<String> {
    let held: BTreeSet<&GroupKey> = before.holders.iter().map(|e| &e.group).collect();
    after
        .holders
        .iter()
        .filter(|e| !held.contains(&e.group))
        .map(|e| e.group.as_str().to_owned())
        .collect()
}
