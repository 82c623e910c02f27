//! A repository's settings as scantix applies them: its `.github/scantix.yml`, over its org's
//! `.github` repository's, over the defaults (Probot's convention); the triage policy they name;
//! its CODEOWNERS; where its tickets go within the deployment's tracker. Read through the `GitHub`
//! port and cached for a while (deliveries come in bursts). Never fatal: a broken file, or a
//! `tracker` section naming another tracker, means the defaults for that part and a `problem` that
//! says where and how to fix it.

use crate::kev::KevSource;
use crate::repo_config::{self, CONFIG_PATH, PolicyRepository, PolicySource, RepoConfig};
use scantix_core::config::Config;
use scantix_core::decide::triage::Verdict;
use scantix_core::finding::{Finding, Repository};
use scantix_core::owners::{CodeOwners, assignee_for};
use scantix_core::ports::github::GitHub;
use scantix_core::ports::tracker::Tracker;
use scantix_core::ticket::destination::{
    ProjectAllowList, TicketDestination, TrackerKind, TrackerSite,
};
/// The policy a repository's settings carry (`RepoSettings::policy`).
pub use scantix_policy::Policy;
use scantix_policy::{PolicyInput, judge};
use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

/// Where GitHub looks for CODEOWNERS, in its order.
const CODEOWNERS_PATHS: [&str; 3] = [".github/CODEOWNERS", "CODEOWNERS", "docs/CODEOWNERS"];

/// One repository's effective settings.
#[derive(Debug, Clone)]
pub struct RepoSettings {
    pub config: RepoConfig,
    /// The engine's settings derived from `config`.
    pub engine: Config,
    pub policy: Policy,
    pub owners: Option<CodeOwners>,
    /// What was wrong with the files read (each names the file, the line and the fix).
    pub problems: Vec<String>,
    /// The deployment's KEV catalogue, when it has one (`input.kev` of the policy).
    pub kev: Option<Arc<KevSource>>,
}

impl RepoSettings {
    /// Fixes where this repository's tickets go within the deployment's tracker (`site`; `None`
    /// when the caller does not know it): the destination lands in the engine config, and a
    /// `tracker` section naming another tracker becomes a problem to report, the deployment's
    /// settings applying meanwhile. Without a site, only the tracker-neutral `priorities` apply.
    pub fn routed_to(self, site: Option<&TrackerSite>) -> RepoSettings {
        self.routed_within(site, None)
    }

    /// The same, kept within `allowed`: the projects the deployment lets this repository's
    /// organisation file in (`None`: no restriction; see `ProjectAllowList`). A project chosen
    /// outside them becomes a problem to report, the organisation's first allowed project applying.
    pub fn routed_within(
        mut self,
        site: Option<&TrackerSite>,
        allowed: Option<&[String]>,
    ) -> RepoSettings {
        let mut destination = match site {
            Some(site) => {
                let (destination, problem) = self.config.ticket_destination(site);
                if let Some(problem) = problem {
                    self.problems.push(problem.to_string());
                }
                destination
            }
            None => {
                if self.config.tracker.is_some() {
                    tracing::warn!(
                        "the deployment's tracker is unknown here; a repository's `tracker` section is not applied"
                    );
                }
                TicketDestination {
                    priorities: self.config.priorities.clone(),
                    ..TicketDestination::default()
                }
            }
        };
        // Projects are Jira's; other trackers have no project for a repository to choose.
        if let (Some(allowed), Some(site)) = (allowed, site)
            && site.kind == TrackerKind::Jira
            && let Some(problem) = destination.confine_to(allowed)
        {
            self.problems.push(problem);
        }
        self.engine.destination = destination;
        self
    }

    /// Reports each `routes` entry naming a tracker not among `trackers` (the deployment's, its
    /// own first) as a problem: valid, but its tickets go to the deployment's own tracker instead
    /// (or its copies nowhere), which its author should know.
    pub fn check_routes(&mut self, trackers: &[TrackerKind]) {
        let Some(own) = trackers.first() else {
            return;
        };
        let problems =
            scantix_core::ticket::routing::unavailable(&self.engine.routes, trackers, *own);
        self.problems.extend(problems);
    }

    /// The built-in defaults: bundled policy, no owners.
    pub fn defaults() -> RepoSettings {
        RepoSettings {
            config: RepoConfig::default(),
            engine: Config::default(),
            policy: Policy::default_policy(),
            owners: None,
            problems: Vec::new(),
            kev: None,
        }
    }

    /// What triage says about `finding` here, with its assignee from CODEOWNERS and the owners map.
    pub fn verdict(&self, finding: &Finding) -> Verdict {
        let catalogue = self.kev.as_ref().map(|kev| kev.current());
        let input = PolicyInput::new(finding)
            .with_kev(catalogue.as_deref())
            .with_sla(self.engine.sla);
        let mut verdict = judge(&self.policy, &input);
        verdict.assignee = self.assignee_for(finding);
        verdict
    }

    /// The tracker user who owns `finding`'s file (or manifest): the last matching CODEOWNERS
    /// rule's first owner found in the owners map, else the default assignee.
    pub fn assignee_for(&self, finding: &Finding) -> Option<String> {
        let path = finding
            .location
            .as_ref()
            .map(|l| l.path.as_str())
            .or(finding.package.as_ref().map(|p| p.manifest_path.as_str()));
        let owners = match (&self.owners, path) {
            (Some(codeowners), Some(path)) => codeowners.lookup(path).unwrap_or_else(|e| {
                tracing::warn!(path, error = %e, "CODEOWNERS lookup gave up; no owner");
                &[]
            }),
            _ => &[],
        };
        assignee_for(owners, self.config.owners(), self.config.default_assignee())
    }
}

/// Reads `path` of `repo`; a read failure is a problem, reported, and the file counts as absent.
async fn read(
    github: &dyn GitHub,
    repo: &Repository,
    path: &str,
    problems: &mut Vec<String>,
) -> Option<String> {
    match github.read_file(repo, path, None).await {
        Ok(text) => text,
        Err(e) => {
            tracing::warn!(repo = %repo.full_name, path, error = %e, "could not read a settings file");
            problems.push(format!("{}: could not read `{path}`: {e}", repo.full_name));
            None
        }
    }
}

/// The org's `.github` repository, where org-wide settings live.
fn org_repository(repo: &Repository) -> Option<Repository> {
    let (owner, _) = repo.full_name.split_once('/')?;
    Some(Repository {
        id: 0,
        full_name: format!("{owner}/.github"),
        default_branch: None,
        html_url: None,
    })
}

/// Loads `repo`'s settings through `github`.
pub async fn load(github: &dyn GitHub, repo: &Repository) -> RepoSettings {
    let mut problems = Vec::new();
    let org = org_repository(repo);
    let parse = |text: Option<String>, from: &str, problems: &mut Vec<String>| {
        text.and_then(|yaml| match repo_config::parse(&yaml) {
            Ok(config) => Some(config),
            Err(e) => {
                problems.push(format!("{from}: {e}"));
                None
            }
        })
    };
    let own_text = read(github, repo, CONFIG_PATH, &mut problems).await;
    let own = parse(own_text, &repo.full_name, &mut problems);
    let org_config = match &org {
        Some(org) => {
            let text = read(github, org, CONFIG_PATH, &mut problems).await;
            parse(text, &org.full_name, &mut problems)
        }
        None => None,
    };
    let config = repo_config::resolve(own, org_config);

    let policy = match config.policy_source() {
        PolicySource::Bundled => Policy::default_policy(),
        PolicySource::Inline(source) => Policy::from_rego(source).unwrap_or_else(|e| {
            problems.push(format!("{}: policy: {e}", repo.full_name));
            Policy::default_policy()
        }),
        PolicySource::File { path, from } => {
            let source_repo = match from {
                PolicyRepository::ThisRepository => Some(repo.clone()),
                PolicyRepository::OrgDotGithub => org.clone(),
            };
            let text = match &source_repo {
                Some(r) => read(github, r, path, &mut problems).await,
                None => None,
            };
            match text.map(|t| Policy::from_rego(&t)) {
                Some(Ok(policy)) => policy,
                Some(Err(e)) => {
                    problems.push(format!("{path}: {e}"));
                    Policy::default_policy()
                }
                None => {
                    problems.push(format!(
                        "{}: policy-file `{path}` not found",
                        repo.full_name
                    ));
                    Policy::default_policy()
                }
            }
        }
    };

    let mut owners = None;
    for path in CODEOWNERS_PATHS {
        if let Some(text) = read(github, repo, path, &mut problems).await {
            let parsed = CodeOwners::parse(&text);
            if let Some(why) = &parsed.refused {
                problems.push(format!("{}: {path}: {why}", repo.full_name));
            }
            owners = Some(parsed);
            break;
        }
    }
    RepoSettings {
        engine: config.engine_config(),
        config,
        policy,
        owners,
        problems,
        kev: None,
    }
}

/// Settings per repository, kept for `ttl` (a changed file takes effect within it).
pub struct SettingsCache {
    ttl: Duration,
    entries: Mutex<HashMap<u64, (Instant, Arc<RepoSettings>)>>,
    /// The deployment's tracker, which a repository's `tracker` section must name to apply.
    site: Option<TrackerSite>,
    /// The deployment's KEV catalogue, handed to every repository's policy.
    kev: Option<Arc<KevSource>>,
    /// The projects each organisation may file in (empty: no restriction).
    allowed_projects: ProjectAllowList,
    /// Every tracker of the deployment (its own first), which a repository's `routes` must name
    /// to apply; `None`: not known here, and routes are not checked.
    trackers: Option<Vec<TrackerKind>>,
}

impl SettingsCache {
    pub fn new(ttl: Duration) -> SettingsCache {
        SettingsCache {
            ttl,
            entries: Mutex::new(HashMap::new()),
            site: None,
            kev: None,
            allowed_projects: ProjectAllowList::default(),
            trackers: None,
        }
    }

    /// Checks each repository's `routes` against `trackers`, the deployment's (its own first,
    /// `Tracker::kinds`): an entry naming another becomes a problem to report.
    pub fn with_trackers(mut self, trackers: Vec<TrackerKind>) -> SettingsCache {
        self.trackers = Some(trackers);
        self
    }

    /// The deployment's trackers, when set.
    pub fn trackers(&self) -> Option<&[TrackerKind]> {
        self.trackers.as_deref()
    }

    /// Hands `kev` to every repository's policy (`input.kev`).
    pub fn with_kev(mut self, kev: Option<Arc<KevSource>>) -> SettingsCache {
        self.kev = kev;
        self
    }

    /// The KEV catalogue's source, when there is one (the sweeper refreshes it).
    pub fn kev(&self) -> Option<&Arc<KevSource>> {
        self.kev.as_ref()
    }

    /// Keeps each organisation's tickets within the projects `allowed` lists for it.
    pub fn with_allowed_projects(mut self, allowed: ProjectAllowList) -> SettingsCache {
        self.allowed_projects = allowed;
        self
    }

    /// Routes each repository's tickets within `site`, the deployment's tracker (see
    /// [`RepoSettings::routed_to`]); without it a repository's `tracker` section is not applied.
    pub fn for_tracker(mut self, site: TrackerSite) -> SettingsCache {
        self.site = Some(site);
        self
    }

    /// The deployment's tracker, when set.
    pub fn tracker_site(&self) -> Option<&TrackerSite> {
        self.site.as_ref()
    }

    /// `repo`'s settings, and whether they were just loaded (so that problems are reported once
    /// per load, not once per delivery).
    pub async fn for_repo(
        &self,
        github: &dyn GitHub,
        repo: &Repository,
    ) -> (Arc<RepoSettings>, bool) {
        let cached = {
            let entries = self.entries.lock().unwrap_or_else(|p| p.into_inner());
            entries
                .get(&repo.id)
                .filter(|(at, _)| at.elapsed() < self.ttl)
                .map(|(_, s)| s.clone())
        };
        if let Some(settings) = cached {
            return (settings, false);
        }
        let owner = repo.full_name.split('/').next().unwrap_or_default();
        let mut loaded = load(github, repo)
            .await
            .routed_within(self.site.as_ref(), self.allowed_projects.for_owner(owner));
        loaded.kev = self.kev.clone();
        if let Some(trackers) = &self.trackers {
            loaded.check_routes(trackers);
        }
        let settings = Arc::new(loaded);
        let mut entries = self.entries.lock().unwrap_or_else(|p| p.into_inner());
        entries.insert(repo.id, (Instant::now(), settings.clone()));
        (settings, true)
    }
}

/// Where the webhook path gets a repository's settings: the GitHub App's clients and a cache.
pub struct SettingsSource {
    pub clients: Arc<dyn scantix_core::ports::github_clients::GitHubClients>,
    pub cache: SettingsCache,
}

impl SettingsSource {
    /// Routes repositories' tickets within `site` (the tracker the settings are used with), unless
    /// the cache was already told its tracker.
    pub fn within(self, site: TrackerSite) -> SettingsSource {
        let cache = match self.cache.tracker_site() {
            Some(_) => self.cache,
            None => self.cache.for_tracker(site),
        };
        SettingsSource { cache, ..self }
    }

    /// [`Self::within`] the deployment's trackers: `tracker`'s site, and the kinds it files in
    /// (its own first), which a repository's `routes` are checked against.
    pub fn within_trackers(self, tracker: &dyn Tracker) -> SettingsSource {
        let source = self.within(tracker.site());
        let cache = match source.cache.trackers() {
            Some(_) => source.cache,
            None => source.cache.with_trackers(tracker.kinds()),
        };
        SettingsSource { cache, ..source }
    }

    /// The settings of the repository `finding` is in, read as `installation`. Problems found
    /// when (re)loading are reported once per load, as one issue in the repository that is
    /// updated rather than repeated. GitHub being unreachable is not a reason to stop: the
    /// defaults apply.
    pub async fn settings_for(
        &self,
        installation: Option<u64>,
        repo: &Repository,
    ) -> Arc<RepoSettings> {
        let github = match self.clients.for_installation(installation) {
            Ok(github) => github,
            Err(e) => {
                tracing::warn!(error = %e, "no GitHub client for the installation; default settings");
                return Arc::new(RepoSettings::defaults());
            }
        };
        let (settings, fresh) = self.cache.for_repo(github.as_ref(), repo).await;
        if fresh && !settings.problems.is_empty() {
            let body = problem_report(&settings.problems);
            let title = "scantix: fix the configuration (defaults apply meanwhile)";
            if let Err(e) = github
                .upsert_problem_issue(repo, "config", title, &body)
                .await
            {
                tracing::warn!(repo = %repo.full_name, error = %e, "could not report configuration problems");
            }
        }
        settings
    }
}

/// The body of the configuration problem issue: each problem as inert text.
fn problem_report(problems: &[String]) -> String {
    let mut body = String::from(
        "scantix could not use part of its configuration for this repository, so the built-in \
         defaults apply to that part until it is fixed. Alert processing goes on.\n\n",
    );
    for problem in problems {
        body.push_str(&scantix_core::ticket::markdown::block(problem));
        body.push('\n');
    }
    body.push_str("\nThis issue is updated in place when scantix reads the files again.\n");
    body
}
