//! Builds the ports from a deployment's environment, once per cold start, so every function wires
//! them the same way:
//!
//! | variable | meaning |
//! |---|---|
//! | `SCANTIX_TABLE` | the DynamoDB table |
//! | `SCANTIX_TRACKER` | `draft` (default) or `jira` |
//! | `JIRA_URL`, `JIRA_PROJECT`, `JIRA_FLAVOR` | the Jira site, project key, `cloud` (default) or `data-center` |
//! | `JIRA_EMAIL` + `JIRA_API_TOKEN` (Cloud) or `JIRA_TOKEN` (Data Center) | Jira credentials |
//! | `JIRA_SETTINGS` | optional JSON of the full `jira` settings (issue type, priorities, labels, …) |
//! | `GITHUB_APP_ID`, `GITHUB_APP_PRIVATE_KEY` | the GitHub App (PEM, PKCS#1 or PKCS#8); without them no GitHub calls are made |
//! | `GITHUB_API_URL` | `https://api.github.com` (default) or `https://HOST/api/v3` (Enterprise Server) |

use crate::github::app_auth::{AppCredentials, InstallationTokens};
use crate::github::clients::{AppClients, GitHubClients};
use crate::secret::Secret;
use crate::store::Store;
use crate::store::dynamodb::DynamoStore;
use crate::tracker::draft::DraftTracker;
use crate::tracker::jira::{Flavor, JiraAuth, JiraSettings, JiraTracker};
use crate::tracker::{Tracker, TrackerError};
use std::sync::Arc;

/// A deployment setting that is missing or unusable.
#[derive(Debug, thiserror::Error)]
pub enum WiringError {
    #[error("environment variable {0} is required")]
    Missing(&'static str),
    #[error("environment variable {var} is invalid: {why}")]
    Invalid { var: &'static str, why: String },
    #[error(transparent)]
    Tracker(#[from] TrackerError),
}

fn var(name: &'static str) -> Result<String, WiringError> {
    std::env::var(name).map_err(|_| WiringError::Missing(name))
}

fn optional(name: &'static str) -> Option<String> {
    std::env::var(name).ok().filter(|v| !v.is_empty())
}

/// The DynamoDB store named by `SCANTIX_TABLE`, with the AWS SDK's default credentials chain.
pub async fn store_from_env() -> Result<Arc<dyn Store>, WiringError> {
    let table = var("SCANTIX_TABLE")?;
    let aws = aws_config::load_defaults(aws_config::BehaviorVersion::latest()).await;
    Ok(Arc::new(DynamoStore::new(
        aws_sdk_dynamodb::Client::new(&aws),
        table,
    )))
}

/// The tracker named by `SCANTIX_TRACKER`.
pub fn tracker_from_env(store: Arc<dyn Store>) -> Result<Arc<dyn Tracker>, WiringError> {
    match optional("SCANTIX_TRACKER").as_deref().unwrap_or("draft") {
        "draft" => Ok(Arc::new(DraftTracker::new(store))),
        "jira" => {
            let (settings, auth) = jira_from_env()?;
            Ok(Arc::new(JiraTracker::new(settings, auth)?))
        }
        other => Err(WiringError::Invalid {
            var: "SCANTIX_TRACKER",
            why: format!("`{other}`: expected draft or jira"),
        }),
    }
}

/// Jira settings and credentials from the environment.
pub fn jira_from_env() -> Result<(JiraSettings, JiraAuth), WiringError> {
    let settings = match optional("JIRA_SETTINGS") {
        Some(json) => serde_json::from_str(&json).map_err(|e| WiringError::Invalid {
            var: "JIRA_SETTINGS",
            why: e.to_string(),
        })?,
        None => {
            let flavor = match optional("JIRA_FLAVOR").as_deref().unwrap_or("cloud") {
                "cloud" => Flavor::Cloud,
                "data-center" => Flavor::DataCenter,
                other => {
                    return Err(WiringError::Invalid {
                        var: "JIRA_FLAVOR",
                        why: format!("`{other}`: expected cloud or data-center"),
                    });
                }
            };
            JiraSettings::new(var("JIRA_URL")?, flavor, var("JIRA_PROJECT")?)
        }
    };
    let auth = match settings.flavor {
        Flavor::Cloud => JiraAuth::Cloud {
            email: var("JIRA_EMAIL")?,
            api_token: Secret::new(var("JIRA_API_TOKEN")?),
        },
        Flavor::DataCenter => JiraAuth::DataCenter {
            token: Secret::new(var("JIRA_TOKEN")?),
        },
    };
    Ok((settings, auth))
}

/// The GitHub App's per-installation clients, when `GITHUB_APP_ID` is set. Call it inside the
/// Tokio runtime (octocrab starts a worker there).
pub fn github_clients_from_env() -> Result<Option<Arc<dyn GitHubClients>>, WiringError> {
    let Some(app_id) = optional("GITHUB_APP_ID") else {
        return Ok(None);
    };
    let app_id = app_id.parse().map_err(|_| WiringError::Invalid {
        var: "GITHUB_APP_ID",
        why: "not a number".into(),
    })?;
    let key = Secret::new(var("GITHUB_APP_PRIVATE_KEY")?);
    let base = optional("GITHUB_API_URL").unwrap_or_else(|| "https://api.github.com".into());
    let tokens =
        InstallationTokens::new(&base, &AppCredentials::new(app_id, key)).map_err(|e| {
            WiringError::Invalid {
                var: "GITHUB_APP_PRIVATE_KEY",
                why: e.to_string(),
            }
        })?;
    Ok(Some(Arc::new(AppClients::new(Arc::new(tokens)))))
}
