//! Which `GitHub` client to use for an installation. A GitHub App acts on a repository with the
//! token of the installation that covers it (`scantix_github::clients::AppClients`); tests and the
//! CLI (one token) use one client for all.

use crate::ports::github::{GitHub, GitHubError};
use std::sync::Arc;

/// Hands out the GitHub client for an installation.
pub trait GitHubClients: Send + Sync {
    /// The client acting for `installation` (`None`: an event that named no installation).
    fn for_installation(&self, installation: Option<u64>) -> Result<Arc<dyn GitHub>, GitHubError>;

    /// The client acting as the GitHub App itself (its JWT), for what only the App may ask:
    /// which installations it has, and each one's repositories. `Refused` when there is no App.
    fn for_app(&self) -> Result<Arc<dyn GitHub>, GitHubError> {
        Err(GitHubError::Refused(
            "no GitHub App: these clients cannot list the App's installations".into(),
        ))
    }
}

/// The same client whatever the installation: a personal or CI token, or an in-memory twin.
pub struct OneClient(pub Arc<dyn GitHub>);

impl GitHubClients for OneClient {
    fn for_installation(&self, _: Option<u64>) -> Result<Arc<dyn GitHub>, GitHubError> {
        Ok(self.0.clone())
    }

    /// The same client: an in-memory twin answers as the App would; a token gets GitHub's answer.
    fn for_app(&self) -> Result<Arc<dyn GitHub>, GitHubError> {
        Ok(self.0.clone())
    }
}
