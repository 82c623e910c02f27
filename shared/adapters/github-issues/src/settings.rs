//! What the GitHub Issues adapter is told: where tickets go and how hard to try
//! (`GithubIssuesSettings`) and who it acts as (`IssuesAuth`, never serialised). The two names it
//! reads and writes, a repository (`RepoName`) and an issue (`IssueKey`, `owner/repo#12`), are the
//! core's (the `issues` webhook parser reads them too): re-exported here.

use scantix_core::secret::Secret;
pub use scantix_core::ticket::github_issue::{IssueKey, RepoName};
use scantix_http::auth::InstallationAuth;
use serde::{Deserialize, Serialize};
use std::sync::Arc;

/// Where tickets go and how hard each call is tried.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case", deny_unknown_fields, default)]
pub struct GithubIssuesSettings {
    /// One repository (`owner/name`) for every ticket, for teams that triage in one place; `None`
    /// files each ticket in the repository its alerts are in.
    pub repository: Option<String>,
    /// Attempts per call on a 5xx or a network failure before giving up retryably (1 = no
    /// retries). Rate limits are never retried here: retrying early prolongs a secondary limit.
    pub max_attempts: u32,
}

impl Default for GithubIssuesSettings {
    fn default() -> Self {
        GithubIssuesSettings {
            repository: None,
            max_attempts: 3,
        }
    }
}

/// Who the adapter acts as.
#[derive(Debug, Clone)]
pub enum IssuesAuth {
    /// As the GitHub App: in each repository, with the token of the installation covering it
    /// (looked up once per repository, then cached). The GitHub is the one the tokens come from.
    App(Arc<dyn InstallationAuth>),
    /// One token for every repository (a personal access token: the CLI, local runs), against the
    /// GitHub API at `base_url` (`https://api.github.com`, `https://HOST/api/v3`).
    Token { base_url: String, token: Secret },
}
