//! `scantix drafts`: the tickets scantix prepared and keeps with their groups (draft mode: the
//! policy's `draft` verdict, the settings' `mode: draft`, or no tracker at all), and what people
//! do with them: list, show, push to the tracker, discard, regenerate. Each change is audited
//! with its actor (`--actor`, the local user by default) and reason.

use crate::bulk::{self, Common};
use crate::local::LocalApp;
use crate::selection::{Filters, group_named};
use crate::tickets::{print_listing, tickets_listing};
use anyhow::Context;
use clap::{Args, Subcommand};
use scantix_core::decide::steer::Steer;
use scantix_core::records::GroupRecord;
use scantix_core::ticket::markdown;
use std::process::ExitCode;

/// Arguments of `scantix drafts`.
#[derive(Debug, Args)]
#[command(args_conflicts_with_subcommands = false)]
pub struct DraftsArgs {
    /// Print the listing as one JSON document (`{"tickets": [...]}`, as `scantix tickets --json`).
    #[arg(long)]
    json: bool,

    #[command(flatten)]
    filters: Filters,

    #[command(subcommand)]
    command: Option<DraftsCommand>,
}

/// What to do with drafts (without one: list them).
#[derive(Debug, Subcommand)]
enum DraftsCommand {
    /// Print one draft as the tracker would get it: its title and description.
    Show {
        /// The draft's key (`DRAFT-…`) or its group's key.
        key: String,
    },
    /// Create drafts in the configured tracker (SCANTIX_TRACKER).
    Push(Chosen),
    /// Drop drafts: their findings stay recorded, not ticketed, until they change.
    Discard(Chosen),
    /// Rebuild drafts' content from their findings as stored now.
    Regenerate(Chosen),
}

/// Which drafts, and the options every change takes.
#[derive(Debug, Args)]
struct Chosen {
    /// Drafts by key (`DRAFT-…`, or a group key).
    #[arg(required_unless_present = "all", conflicts_with = "all")]
    keys: Vec<String>,
    /// Every draft the filters select.
    #[arg(long)]
    all: bool,
    /// Why, for the audit log.
    #[arg(long)]
    reason: Option<String>,
    #[command(flatten)]
    common: Common,
}

/// Runs `scantix drafts`.
pub async fn run(app: &LocalApp, args: DraftsArgs) -> anyhow::Result<ExitCode> {
    let store = app.executor().store();
    let now = app.executor().now();
    let (change, chosen) = match args.command {
        None => {
            let drafts = args.filters.select_drafts(store, now).await?;
            let listing = tickets_listing(store, drafts).await?;
            print_listing(&listing, app.location(), args.json)?;
            return Ok(ExitCode::SUCCESS);
        }
        Some(DraftsCommand::Show { key }) => {
            let group = group_named(store, app.tracker(), &key).await?;
            if !group.is_draft() {
                anyhow::bail!(
                    "{key} is not a draft{}",
                    group
                        .ticket
                        .as_ref()
                        .map(|t| format!(" (its ticket is {} in {})", t.key, t.tracker))
                        .unwrap_or_default()
                );
            }
            let content = app
                .executor()
                .render(&group)
                .await
                .with_context(|| format!("rendering {key}"))?;
            println!("{}\n", content.title);
            println!("{}", markdown::render(&content));
            return Ok(ExitCode::SUCCESS);
        }
        Some(DraftsCommand::Push(chosen)) => (Steer::PushDraft, chosen),
        Some(DraftsCommand::Discard(chosen)) => (Steer::DiscardDraft, chosen),
        Some(DraftsCommand::Regenerate(chosen)) => (Steer::Regenerate, chosen),
    };
    let groups: Vec<GroupRecord> = if chosen.all {
        args.filters.select_drafts(store, now).await?
    } else {
        let mut groups = Vec::new();
        for key in &chosen.keys {
            groups.push(group_named(store, app.tracker(), key).await?);
        }
        groups
    };
    bulk::apply(app, &groups, &change, chosen.reason, &chosen.common).await
}
