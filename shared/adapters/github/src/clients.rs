//! `AppClients`: the GitHub App's clients, one `RestGitHub` per installation, sharing one token
//! cache (`scantix_core::ports::github_clients` is the port they implement).

use crate::app_auth::InstallationTokens;
use crate::rest::RestGitHub;
use scantix_core::ports::github::{GitHub, GitHubError};
use scantix_core::ports::github_clients::GitHubClients;
use std::sync::Arc;

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

    fn for_app(&self) -> Result<Arc<dyn GitHub>, GitHubError> {
        Ok(Arc::new(RestGitHub::for_app(self.tokens.clone())))
    }
}
