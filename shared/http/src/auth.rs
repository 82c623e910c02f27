//! `InstallationAuth`: where a GitHub App's credentials come from, for an adapter that calls GitHub
//! as the App. `scantix_github::app_auth::InstallationTokens` implements it (minting, caching and
//! renewing tokens); the GitHub Issues tracker uses it.

use async_trait::async_trait;
use scantix_core::ports::github::GitHubError;
use scantix_core::secret::Secret;
use std::fmt;

/// A GitHub App's credentials, as a caller needs them: the App's own JWT (to ask which
/// installation covers a repository) and an installation's access token (to act there).
#[async_trait]
pub trait InstallationAuth: fmt::Debug + Send + Sync {
    /// The GitHub API the tokens are for (`https://api.github.com`, `https://HOST/api/v3`).
    fn api_url(&self) -> &str;

    /// A fresh JWT signed with the App's key.
    fn app_jwt(&self) -> Result<Secret, GitHubError>;

    /// An access token of `installation_id`, from the cache while it is fresh.
    async fn token(&self, installation_id: u64) -> Result<Secret, GitHubError>;

    /// Drops `stale` from the cache (GitHub refused it), so the next `token` mints a new one.
    async fn forget(&self, installation_id: u64, stale: &Secret);
}
