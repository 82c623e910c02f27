//! What the Jira adapter is told: where Jira is and how tickets should look there (`JiraSettings`,
//! part of the per-repository config file, and so the core's: `scantix_core::ticket::destination`,
//! re-exported here), and who it acts as (`JiraAuth`, kept apart so it is never serialised or
//! logged).

use scantix_core::secret::Secret;
pub use scantix_core::ticket::destination::{Flavor, JiraSettings, Priorities};

/// Who the adapter acts as. Deliberately neither `Serialize` nor `Deserialize`: credentials come
/// from the secret store, never from the config file, and `Debug` shows no secret.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum JiraAuth {
    /// An Atlassian account's email and API token, sent as HTTP Basic.
    Cloud { email: String, api_token: Secret },
    /// A Data Center personal access token, sent as a Bearer token.
    DataCenter { token: Secret },
}

impl JiraAuth {
    pub fn flavor(&self) -> Flavor {
        match self {
            JiraAuth::Cloud { .. } => Flavor::Cloud,
            JiraAuth::DataCenter { .. } => Flavor::DataCenter,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn credentials_never_show_in_debug_output() {
        let auth = JiraAuth::Cloud {
            email: "bot@example.com".into(),
            api_token: Secret::new("ATATT-very-secret"),
        };
        assert!(!format!("{auth:?}").contains("very-secret"));
    }
}
