//! Which `GitHub` client to use for an installation. A GitHub App acts on a repository with the
//! token of the installation that covers it; tests and the CLI (one token) use one client for all.

use super::api::{GitHub, GitHubError};
use super::app_auth::InstallationTokens;
use super::rest::RestGitHub;
use std::sync::Arc;

/// Hands out the GitHub client for an installation.
pub trait GitHubClients: Send + Sync {
    /// The client acting for `installation` (`None`: an event that named no installation).
    fn for_installation(&self, installation: Option<u64>) -> Result<Arc<dyn GitHub>, GitHubError>;
}

/// The same client whatever the installation: a personal or CI token, or an in-memory twin.
pub struct OneClient(pub Arc<dyn GitHub>);

impl GitHubClients for OneClient {
    fn for_installation(&self, _: Option<u64>) -> Result<Arc<dyn GitHub>, GitHubError> {
        Ok(self.0.clone())
    }
}

/// The GitHub App's clients: one per installation, sharing the token cache.
pub struct AppClients {
    tokens: Arc<InstallationTokens>,
}

impl AppClients {
    pub fn new(tokens: Arc<InstallationTokens>) -> AppClients {
        AppClients { tokens }
    }
}

impl GitHubClients for AppClients {
    fn for_installation(&self, installation: Option<u64>) -> Result<Arc<dyn GitHub>, GitHubError> {
        let id = installation.ok_or_else(|| {
            GitHubError::Refused(
                "the event names no installation, so no installation token can act for it".into(),
            )
        })?;
        Ok(Arc::new(RestGitHub::for_installation(
            self.tokens.clone(),
            id,
        )))
    }
}
