//! What the Linear adapter is told: which team tickets go to and how hard to try
//! (`LinearSettings`), and who it acts as (`LinearAuth`, never serialised).

use scantix_core::secret::Secret;
use serde::{Deserialize, Serialize};

/// Linear's one GraphQL endpoint.
pub const DEFAULT_API_URL: &str = "https://api.linear.app/graphql";

/// Where a group's link points by default. Linear keys attachments by URL (one per issue and URL),
/// which is how a group's issue is found again; the URL only has to be stable and unique per
/// group. `.invalid` is reserved (RFC 2606): the link names the group, it leads nowhere.
pub const DEFAULT_GROUP_LINK_BASE: &str = "https://scantix.invalid/groups/";

/// Where tickets go and how hard each call is tried.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case", deny_unknown_fields, default)]
pub struct LinearSettings {
    /// The team tickets are filed in, by key (`SEC`, as issue identifiers start).
    pub team: String,
    /// The GraphQL endpoint (tests point it at a fake).
    pub api_url: String,
    /// Prefix of each group's link: `<base><group key, percent-encoded>`. Changing it makes
    /// existing tickets unfindable by group: set it once.
    pub group_link_base: String,
    /// Attempts per call on a 5xx or a network failure before giving up retryably (1 = no retries).
    pub max_attempts: u32,
    /// Seconds one call may take, answer included.
    pub request_timeout_secs: u64,
}

impl Default for LinearSettings {
    fn default() -> Self {
        LinearSettings {
            team: String::new(),
            api_url: DEFAULT_API_URL.into(),
            group_link_base: DEFAULT_GROUP_LINK_BASE.into(),
            max_attempts: 3,
            request_timeout_secs: 20,
        }
    }
}

impl LinearSettings {
    /// Settings for `team` with every default.
    pub fn new(team: impl Into<String>) -> LinearSettings {
        LinearSettings {
            team: team.into(),
            ..LinearSettings::default()
        }
    }
}

/// Who the adapter acts as. Linear takes a personal API key as the bare `Authorization` value and
/// an OAuth access token as `Bearer <token>`.
#[derive(Debug, Clone)]
pub enum LinearAuth {
    /// A personal API key (`lin_api_…`): local runs.
    ApiKey(Secret),
    /// An OAuth app's access token: deployments, where the app (not a person) is the actor.
    OAuth(Secret),
}

impl LinearAuth {
    /// The setting to fix when Linear refuses the credential.
    pub fn setting(&self) -> &'static str {
        match self {
            LinearAuth::ApiKey(_) => "LINEAR_API_KEY",
            LinearAuth::OAuth(_) => "LINEAR_OAUTH_TOKEN",
        }
    }
}
