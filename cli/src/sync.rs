//! `scantix sync`: a repository's alerts (`--repo`), or every repository of an organisation's
//! (`--org`), read from GitHub's REST API into the local store, as the sweeper does for every
//! covered repository: the first run backfills the open alerts (grouped into tickets, not one
//! each), later runs reconcile what changed since the last complete read, and a run stopped by a
//! rate limit resumes where it stopped.

use crate::local::{LocalApp, StoreLocation};
use anyhow::{Context, bail};
use clap::{ArgGroup, Args};
use scantix_app::execute::Executor;
use scantix_app::repo_settings::RepoSettings;
use scantix_app::sync::{SyncError, SyncReport, Syncer, TriageFn};
use scantix_core::event::{InstallationChange, InstallationEvent, NamedRepository};
use scantix_core::finding::Repository;
use scantix_core::ports::github::{GitHub, GitHubError};
use scantix_core::secret::Secret;
use serde::Serialize;
use std::sync::Arc;

/// The installation local syncs are recorded under: the engine keeps sync progress per
/// installation and repository, and a token has no installation of its own.
const LOCAL_INSTALLATION: u64 = 0;

/// The account that installation is recorded on.
const LOCAL_ACCOUNT: &str = "cli";

/// Arguments of `scantix sync`.
#[derive(Debug, Args)]
#[command(group(ArgGroup::new("target").required(true).args(["repo", "org"])))]
#[command(after_help = "\
The token is read from the environment variable named by --token-env, never from the command
line (where it would land in the shell's history and in `ps`). It needs read access to the
repository's security alerts: a fine-grained token with \"Code scanning alerts\", \"Dependabot
alerts\" and \"Secret scanning alerts\" read, or a classic token with `security_events` (and
`repo` for a private repository). `GITHUB_TOKEN=$(gh auth token)` is one way to get one.

--repo-id is the repository's numeric id: `gh api repos/OWNER/NAME --jq .id`. Alert listings do not
carry it, and it is part of every finding's identity (a renamed repository keeps its findings).

--org walks an organisation's repositories instead: those of the org's GitHub App installation
when the store has it (recorded from an `installation` delivery, see `scantix deliver`), otherwise
every repository the token can list (GET /orgs/ORG/repos, which needs \"Metadata\" read access).

The first run backfills a repository's open alerts; each later run reads only the alerts updated
since the last complete read and applies what the store missed. A run stopped by a rate limit saves
its progress page by page (with --org, the walk stops there too): run it again to resume. Kinds a
repository does not have enabled (GitHub answers 403 or 404) are skipped and counted; a token GitHub
refuses (401) fails the command, naming the variable it was read from.

Output: the sync report as one JSON document: {\"list_calls\", \"alerts_seen\", \"applied\",
\"unchanged\", \"groups_synced\", \"kinds_skipped\", \"complete\"}; with --org, {\"org\", \"source\"
(\"installation\" or \"listing\"), \"repositories\": [{\"repository\", \"report\"}], \"total\"}. The
store keeps every page applied, also after an error.

Tracker calls an earlier run left queued (the tracker was unreachable then) are made first: a
reconciliation touches only groups whose alerts changed. A tracker that fails during the sync
fails the command; what was read stays recorded, and the next run makes the calls.")]
pub struct SyncArgs {
    /// The repository, as OWNER/NAME.
    #[arg(long, value_name = "OWNER/NAME", value_parser = parse_full_name, requires = "repo_id")]
    repo: Option<String>,

    /// The repository's numeric id (`gh api repos/OWNER/NAME --jq .id`).
    #[arg(long, value_name = "ID", requires = "repo")]
    repo_id: Option<u64>,

    /// Every repository of this organisation instead of one.
    #[arg(long, value_name = "ORG", value_parser = parse_org)]
    org: Option<String>,

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
pub(crate) fn parse_full_name(text: &str) -> Result<String, String> {
    match text.split_once('/') {
        Some((owner, name)) if !owner.is_empty() && !name.is_empty() && !name.contains('/') => {
            Ok(text.to_owned())
        }
        _ => Err(format!("expected OWNER/NAME, got {text:?}")),
    }
}

/// An organisation name as GitHub allows a login (letters, digits and hyphens, at most 39, not
/// starting with a hyphen), so it can only ever be one path segment.
fn parse_org(text: &str) -> Result<String, String> {
    let valid = !text.is_empty()
        && text.len() <= 39
        && !text.starts_with('-')
        && text.chars().all(|c| c.is_ascii_alphanumeric() || c == '-');
    if valid {
        Ok(text.to_owned())
    } else {
        Err(format!("expected an organisation name, got {text:?}"))
    }
}

/// Syncs the repository (or the organisation's) and prints the report.
pub async fn run(
    location: StoreLocation,
    settings: RepoSettings,
    args: SyncArgs,
) -> anyhow::Result<()> {
    let token = match std::env::var(&args.token_env) {
        Ok(token) if !token.trim().is_empty() => Secret::new(token.trim()),
        _ => bail!(
            "no GitHub token in {var}: set {var} (or name another variable with --token-env); \
             scantix reads tokens from the environment only",
            var = args.token_env
        ),
    };
    let github = scantix_wiring::local::github_with_token(&args.api_url, token)
        .context("setting up the GitHub client (--api-url)")?;
    let app = LocalApp::connected(location, settings, github.clone()).await?;
    // Tracker calls an earlier run queued (the tracker was down then): a reconciliation only
    // touches groups whose alerts changed, so nothing else would make them.
    app.finish_queued_work().await?;
    match (&args.org, &args.repo, args.repo_id) {
        (Some(org), _, _) => run_org(&app, github.as_ref(), org, &args).await,
        (None, Some(full_name), Some(id)) => {
            let repo = Repository {
                id,
                full_name: full_name.clone(),
                // Unknown without another call; the sweeper syncs without them too.
                default_branch: None,
                html_url: None,
            };
            run_repo(&app, github.as_ref(), repo, &args).await
        }
        // clap already requires --org, or --repo with --repo-id.
        _ => bail!("give --org ORG, or --repo OWNER/NAME with --repo-id ID"),
    }
}

/// `--repo`: one repository, covered by the local installation.
async fn run_repo(
    app: &LocalApp,
    github: &dyn GitHub,
    repo: Repository,
    args: &SyncArgs,
) -> anyhow::Result<()> {
    let executor = app.executor();
    cover_locally(
        executor,
        std::slice::from_ref(&repo),
        &format!("cli:cover:{}", repo.id),
    )
    .await?;
    let synced = syncer(app)
        .sync_repository(github, LOCAL_INSTALLATION, &repo, &app.settings().engine)
        .await;
    let report = synced.map_err(|e| explained(e, &repo.full_name, args))?;
    let json = serde_json::to_string_pretty(&report).context("writing the report as JSON")?;
    println!("{json}");
    if !report.complete {
        eprintln!(
            "scantix: GitHub's rate limit stopped the sync; its progress is saved: run the same \
             command again later to resume"
        );
    } else if report.list_calls == 0 {
        // The sync skips kinds GitHub forbids or does not have (403, 404): when it skipped all
        // three, the likelier cause is the token's access or the name, and silence would hide it.
        bail!(
            "GitHub listed no alerts of {} at all: check the token in {} (its access to the \
             repository's security alerts), --repo, --repo-id and --api-url",
            repo.full_name,
            args.token_env
        );
    }
    Ok(())
}

/// The report of `sync --org`.
#[derive(Debug, Serialize)]
struct OrgReport {
    org: String,
    /// Where the repositories came from: the org's recorded `installation`, or GitHub's `listing`.
    source: &'static str,
    repositories: Vec<RepositoryReport>,
    total: SyncReport,
}

#[derive(Debug, Serialize)]
struct RepositoryReport {
    repository: String,
    report: SyncReport,
}

/// `--org`: every repository of `org`, one after the other. A rate limit stops the walk (the next
/// repository would meet it too); the next run resumes it: repositories read completely are only
/// reconciled, the one that was stopped resumes from its cursor.
async fn run_org(
    app: &LocalApp,
    github: &dyn GitHub,
    org: &str,
    args: &SyncArgs,
) -> anyhow::Result<()> {
    let executor = app.executor();
    let recorded = recorded_repositories(executor, org).await?;
    let (source, targets) = if recorded.is_empty() {
        let listed = github.list_org_repositories(org).await.map_err(|e| {
            let context = match e {
                GitHubError::Unauthorized { .. } => format!(
                    "listing the repositories of {org}: GitHub refused the token in {}",
                    args.token_env
                ),
                _ => format!("listing the repositories of {org} (check --org and --api-url)"),
            };
            anyhow::Error::new(e).context(context)
        })?;
        if listed.is_empty() {
            bail!(
                "GitHub listed no repositories of {org}: check --org and the token in {}",
                args.token_env
            );
        }
        // Under the local installation, whose account is not the org's: the next run lists
        // again, and so finds repositories created meanwhile.
        cover_locally(executor, &listed, &format!("cli:cover-org:{org}")).await?;
        let targets = listed
            .into_iter()
            .map(|repo| (LOCAL_INSTALLATION, repo))
            .collect();
        ("listing", targets)
    } else {
        ("installation", recorded)
    };

    let syncer = syncer(app);
    let mut report = OrgReport {
        org: org.to_owned(),
        source,
        repositories: Vec::new(),
        total: SyncReport {
            complete: true,
            ..SyncReport::default()
        },
    };
    let mut failure = None;
    for (installation, repo) in &targets {
        match syncer
            .sync_repository(github, *installation, repo, &app.settings().engine)
            .await
        {
            Ok(synced) => {
                report.total.absorb(&synced);
                let stopped = !synced.complete;
                report.repositories.push(RepositoryReport {
                    repository: repo.full_name.clone(),
                    report: synced,
                });
                if stopped {
                    break;
                }
            }
            Err(e) => {
                failure = Some(explained(e, &repo.full_name, args));
                break;
            }
        }
    }
    let json = serde_json::to_string_pretty(&report).context("writing the report as JSON")?;
    println!("{json}");
    if let Some(failure) = failure {
        return Err(failure);
    }
    if !report.total.complete {
        let at = report
            .repositories
            .last()
            .map_or(org, |r| r.repository.as_str());
        eprintln!(
            "scantix: GitHub's rate limit stopped the sync at {at}; its progress is saved: run \
             the same command again later to resume"
        );
    } else if report.total.list_calls == 0 {
        bail!(
            "GitHub listed no alerts of any repository of {org}: check the token in {} (its \
             access to the repositories' security alerts) and --api-url",
            args.token_env
        );
    }
    Ok(())
}

/// A syncer that judges listed alerts as deliveries are judged: by the settings of `--config` (or
/// the defaults, with the bundled policy), as a deployment judges them by the repository's own.
fn syncer(app: &LocalApp) -> Syncer {
    let settings = app.settings().clone();
    let triage: TriageFn = Arc::new(move |finding| settings.verdict(finding));
    Syncer::new(app.executor().clone(), triage)
}

/// The repositories that the store's active installations on `org` cover, each with its
/// installation: the App's own record of what it may read (from `installation` deliveries).
async fn recorded_repositories(
    executor: &Executor,
    org: &str,
) -> anyhow::Result<Vec<(u64, Repository)>> {
    let installations = executor
        .store()
        .installations()
        .await
        .context("reading the installations recorded in the store")?;
    let mut repositories = Vec::new();
    for installation in installations {
        let record = installation.value;
        if !record.active || !record.account.eq_ignore_ascii_case(org) {
            continue;
        }
        repositories.extend(record.covered().map(|c| (record.id, c.repository())));
    }
    Ok(repositories)
}

/// Records `repositories` as covered by the local installation: the engine syncs only covered
/// repositories. Recording the coverage again is harmless: the record keeps its sync progress, and
/// `delivery` makes the audit entry once.
async fn cover_locally(
    executor: &Executor,
    repositories: &[Repository],
    delivery: &str,
) -> anyhow::Result<()> {
    let named = repositories
        .iter()
        .map(|repo| NamedRepository {
            id: repo.id,
            full_name: repo.full_name.clone(),
        })
        .collect();
    let coverage = InstallationEvent {
        installation_id: LOCAL_INSTALLATION,
        account: LOCAL_ACCOUNT.to_owned(),
        change: InstallationChange::Created(named),
    };
    executor
        .apply_installation(delivery, &coverage, Some("scantix-cli"))
        .await
        .context("recording the repositories as covered")?;
    Ok(())
}

/// A sync error with what to check; for a refused token, the variable it was read from.
fn explained(error: SyncError, repository: &str, args: &SyncArgs) -> anyhow::Error {
    let context = match &error {
        SyncError::Execute(e) if e.is_retryable() => format!(
            "syncing {repository}: the alerts read are recorded and their tracker calls queued \
             in the store; run the same command again once the tracker answers"
        ),
        SyncError::GitHub(GitHubError::Unauthorized { .. }) => format!(
            "syncing {repository} from {}: GitHub refused the token in {} (401: wrong, expired \
             or revoked)",
            args.api_url, args.token_env
        ),
        _ => format!("syncing {repository} from {}", args.api_url),
    };
    anyhow::Error::new(error).context(context)
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

    #[test]
    fn an_organisation_is_one_login() {
        assert_eq!(parse_org("octo-org").as_deref(), Ok("octo-org"));
        let too_long = "x".repeat(40);
        for bad in [
            "",
            "octo/org",
            "-octo",
            "octo org",
            "a%2Fb",
            too_long.as_str(),
        ] {
            assert!(parse_org(bad).is_err(), "{bad:?}");
        }
    }
}
