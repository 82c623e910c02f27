//! `scantix sync`: one repository's alerts read from GitHub's REST API into the local store, as the
//! sweeper does for every covered repository: the first run backfills the open alerts (grouped
//! into tickets, not one each), later runs reconcile what changed since the last complete read, and
//! a run stopped by a rate limit resumes where it stopped.

use crate::local::{LocalApp, StoreLocation};
use anyhow::{Context, bail};
use clap::Args;
use scantix::engine::triage::builtin;
use scantix::finding::Repository;
use scantix::github::installation_webhook::{
    InstallationChange, InstallationEvent, NamedRepository,
};
use scantix::github::rest::{RestAuth, RestGitHub};
use scantix::secret::Secret;
use scantix::sync::Syncer;
use std::sync::Arc;

/// The installation local syncs are recorded under: the engine keeps sync progress per
/// installation and repository, and a token has no installation of its own.
const LOCAL_INSTALLATION: u64 = 0;

/// The account that installation is recorded on.
const LOCAL_ACCOUNT: &str = "cli";

/// Arguments of `scantix sync`.
#[derive(Debug, Args)]
#[command(after_help = "\
The token is read from the environment variable named by --token-env, never from the command
line (where it would land in the shell's history and in `ps`). It needs read access to the
repository's security alerts: a fine-grained token with \"Code scanning alerts\", \"Dependabot
alerts\" and \"Secret scanning alerts\" read, or a classic token with `security_events` (and
`repo` for a private repository). `GITHUB_TOKEN=$(gh auth token)` is one way to get one.

--repo-id is the repository's numeric id: `gh api repos/OWNER/NAME --jq .id`. Alert listings do not
carry it, and it is part of every finding's identity (a renamed repository keeps its findings).

The first run backfills the repository's open alerts; each later run reads only the alerts updated
since the last complete read and applies what the store missed. A run stopped by a rate limit saves
its progress page by page: run it again to resume. Kinds the repository does not have enabled
(GitHub answers 403 or 404) are skipped.

Output: the sync report as one JSON document: {\"list_calls\", \"alerts_seen\", \"applied\",
\"unchanged\", \"groups_synced\", \"complete\"}. The store is saved at the end, also after an error.")]
pub struct SyncArgs {
    /// The repository, as OWNER/NAME.
    #[arg(long, value_name = "OWNER/NAME", value_parser = parse_full_name)]
    repo: String,

    /// The repository's numeric id (`gh api repos/OWNER/NAME --jq .id`).
    #[arg(long, value_name = "ID")]
    repo_id: u64,

    /// GitHub's REST API: https://api.github.com, or https://HOST/api/v3 for GitHub Enterprise
    /// Server.
    #[arg(
        long,
        value_name = "URL",
        env = "GITHUB_API_URL",
        default_value = "https://api.github.com"
    )]
    api_url: String,

    /// The environment variable holding the GitHub token.
    #[arg(long, value_name = "VAR", default_value = "GITHUB_TOKEN")]
    token_env: String,
}

/// `owner/name`, both parts non-empty: anything else would be refused by GitHub, and the sync
/// reads a refusal as "this kind of alert is not enabled" and reports nothing read.
fn parse_full_name(text: &str) -> Result<String, String> {
    match text.split_once('/') {
        Some((owner, name)) if !owner.is_empty() && !name.is_empty() && !name.contains('/') => {
            Ok(text.to_owned())
        }
        _ => Err(format!("expected OWNER/NAME, got {text:?}")),
    }
}

/// Syncs the repository, prints the report, saves the store.
pub async fn run(location: StoreLocation, args: SyncArgs) -> anyhow::Result<()> {
    let token = match std::env::var(&args.token_env) {
        Ok(token) if !token.trim().is_empty() => Secret::new(token.trim()),
        _ => bail!(
            "no GitHub token in {var}: set {var} (or name another variable with --token-env); \
             scantix reads tokens from the environment only",
            var = args.token_env
        ),
    };
    let github = Arc::new(
        RestGitHub::new(&args.api_url, RestAuth::Token(token))
            .context("setting up the GitHub client (--api-url)")?,
    );
    let app = LocalApp::connected(location, github.clone())?;
    let executor = app.executor().clone();
    let repo = Repository {
        id: args.repo_id,
        full_name: args.repo.clone(),
        // Unknown without another call; the sweeper syncs without them too.
        default_branch: None,
        html_url: None,
    };

    // The engine syncs only repositories an installation covers. Recording the coverage again is
    // harmless: the record keeps its sync progress, and the delivery id makes the audit entry once.
    let coverage = InstallationEvent {
        installation_id: LOCAL_INSTALLATION,
        account: LOCAL_ACCOUNT.to_owned(),
        change: InstallationChange::Created(vec![NamedRepository {
            id: repo.id,
            full_name: repo.full_name.clone(),
        }]),
    };
    executor
        .apply_installation(
            &format!("cli:cover:{}", repo.id),
            &coverage,
            Some("scantix-cli"),
        )
        .await
        .context("recording the repository as covered")?;

    let syncer = Syncer::new(executor.clone(), Arc::new(builtin));
    let synced = syncer
        .sync_repository(
            github.as_ref(),
            LOCAL_INSTALLATION,
            &repo,
            executor.config(),
        )
        .await;
    // Progress is saved page by page in the store: keep it even when the sync failed midway.
    app.save()?;
    let report =
        synced.with_context(|| format!("syncing {} from {}", repo.full_name, args.api_url))?;
    let json = serde_json::to_string_pretty(&report).context("writing the report as JSON")?;
    println!("{json}");
    if !report.complete {
        eprintln!(
            "scantix: GitHub's rate limit stopped the sync; its progress is saved: run the same \
             command again later to resume"
        );
    } else if report.list_calls == 0 {
        // The sync skips kinds GitHub refuses (not enabled, or not allowed): when it skipped all
        // three, the likelier cause is the token or the name, and silence would hide it.
        bail!(
            "GitHub listed no alerts of {} at all: check the token in {} (its access to the \
             repository's security alerts), --repo, --repo-id and --api-url",
            repo.full_name,
            args.token_env
        );
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_repository_is_named_owner_slash_name() {
        assert_eq!(parse_full_name("octo/hello").as_deref(), Ok("octo/hello"));
        for bad in ["octo", "/hello", "octo/", "octo/hello/x", ""] {
            assert!(parse_full_name(bad).is_err(), "{bad:?}");
        }
    }
}
