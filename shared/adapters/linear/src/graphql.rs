//! The one way the adapter talks to Linear: `Gql::run`, a GraphQL operation POSTed to the one
//! endpoint through the shared outbound client (`scantix_http::outbound`, whose retry policy
//! repeats reads and value-setting edits through 5xx and network failures, never a create), and
//! the documents it sends. Linear answers most refusals as GraphQL errors (HTTP 200 or 400 with an
//! `errors` array whose `extensions.code` says what kind); each becomes a [`LinearError`], which
//! says whether a retry can help. Logs carry the operation name and status, never the key or a body.

use crate::settings::LinearAuth;
use http::header::{CONTENT_TYPE, HeaderValue};
use http::{Method, StatusCode};
use scantix_core::ports::tracker::TrackerError;
use scantix_http::outbound::{self, HttpClient, Replay, Request, SendError};
use serde::Deserialize;
use serde::de::DeserializeOwned;
use serde_json::{Value, json};

/// The team, its workflow states (by type and position) and nothing else.
pub const TEAM: &str = "query ScantixTeam($key: String!) {
  teams(filter: { key: { eq: $key } }) {
    nodes { id key states(first: 100) { nodes { id name type position } } }
  }
}";

/// Labels by name, the team's and the workspace's.
pub const LABELS: &str = "query ScantixLabels($names: [String!]) {
  issueLabels(first: 100, filter: { name: { in: $names } }) {
    nodes { id name team { id } }
  }
}";

pub const LABEL_CREATE: &str = "mutation ScantixLabelCreate($input: IssueLabelCreateInput!) {
  issueLabelCreate(input: $input) { success issueLabel { id name } }
}";

/// The issues carrying a group's link, deleted ones included (they are told apart by `trashed`).
pub const FIND_BY_LINK: &str = "query ScantixFindByLink($url: String!) {
  attachmentsForURL(url: $url, first: 50, includeArchived: true) {
    nodes { id issue { id identifier url trashed } }
  }
}";

/// The issues with any of a group's derived ids, archived and deleted ones included.
pub const FIND_BY_IDS: &str = "query ScantixFindByIds($ids: [ID!]) {
  issues(first: 50, includeArchived: true, filter: { id: { in: $ids } }) {
    nodes { id identifier url trashed }
  }
}";

pub const CREATE: &str = "mutation ScantixIssueCreate($input: IssueCreateInput!) {
  issueCreate(input: $input) { success issue { id identifier url } }
}";

pub const ATTACH: &str = "mutation ScantixAttach($input: AttachmentCreateInput!) {
  attachmentCreate(input: $input) { success attachment { id } }
}";

pub const READ: &str = "query ScantixIssue($id: String!) {
  issue(id: $id) {
    id identifier title description priority dueDate trashed
    state { id type }
    labels(first: 100) { nodes { id name } }
  }
}";

pub const UPDATE: &str = "mutation ScantixIssueUpdate($id: String!, $input: IssueUpdateInput!) {
  issueUpdate(id: $id, input: $input) { success }
}";

/// A comment by its id, and whether its issue is in the trash (no ticket any more), in one call.
pub const COMMENT_FIND: &str = "query ScantixCommentFind($id: ID, $issue: String!) {
  comments(filter: { id: { eq: $id } }) { nodes { id } }
  issue(id: $issue) { trashed }
}";

pub const COMMENT: &str = "mutation ScantixComment($input: CommentCreateInput!) {
  commentCreate(input: $input) { success comment { id } }
}";

pub const VIEWER: &str = "query ScantixViewer { viewer { id } }";

/// The workspace's users an assignee names: by email, name or display name, any case. Two at
/// most: more than one is an ambiguity to report, not a choice to make.
pub const USERS: &str = "query ScantixUsers($who: String!) {
  users(first: 2, filter: { or: [
    { email: { eqIgnoreCase: $who } },
    { name: { eqIgnoreCase: $who } },
    { displayName: { eqIgnoreCase: $who } }
  ] }) {
    nodes { id }
  }
}";

/// Why a call to Linear failed.
#[derive(Debug, thiserror::Error)]
pub enum LinearError {
    /// No answer, a 5xx, every attempt used: later may work.
    #[error("Linear is unavailable: {0}")]
    Unavailable(String),
    /// A create or comment whose outcome is unknown: look before sending it again.
    #[error("the outcome of a Linear call is unknown: {0}")]
    Ambiguous(String),
    #[error("Linear rate limit: {0}")]
    RateLimited(String),
    /// The API key or OAuth token was refused.
    #[error("Linear refused the credential: {0}")]
    Unauthenticated(String),
    /// The credential may not do this (a team it cannot see, a missing OAuth scope).
    #[error("Linear refused the request: {0}")]
    Forbidden(String),
    /// The entity named does not exist (or the credential cannot see it).
    #[error("not found in Linear: {0}")]
    NotFound(String),
    /// Any other GraphQL error: what was sent is wrong, repeating it will not help.
    #[error("Linear refused {operation}: {message}")]
    Refused { operation: String, message: String },
    #[error("unexpected answer from Linear to {operation}: {why}")]
    Unexpected { operation: String, why: String },
    /// Linear's setup does not fit the settings (no such team, no state of a needed type).
    #[error("{message}")]
    Misconfigured { setting: String, message: String },
}

impl LinearError {
    pub fn is_ambiguous(&self) -> bool {
        matches!(self, LinearError::Ambiguous(_))
    }

    /// The port's error; `auth` names the credential's setting, `ticket` the ticket a not-found is
    /// about (a not-found elsewhere is a configuration problem).
    pub fn into_tracker(self, auth: &LinearAuth, ticket: Option<&str>) -> TrackerError {
        let message = self.to_string();
        match self {
            LinearError::Unavailable(_)
            | LinearError::Ambiguous(_)
            | LinearError::RateLimited(_) => TrackerError::Retryable(message),
            LinearError::Unauthenticated(_) => TrackerError::Misconfigured {
                setting: auth.setting().into(),
                message,
            },
            LinearError::Forbidden(_) => TrackerError::Misconfigured {
                setting: "linear.team".into(),
                message: format!("{message}: scantix needs read and write on the team's issues"),
            },
            LinearError::NotFound(what) => match ticket {
                Some(key) => TrackerError::NotFound(key.to_owned()),
                None => TrackerError::Failed(format!("not found in Linear: {what}")),
            },
            LinearError::Refused { .. } | LinearError::Unexpected { .. } => {
                TrackerError::Failed(message)
            }
            LinearError::Misconfigured { setting, message } => {
                TrackerError::Misconfigured { setting, message }
            }
        }
    }
}

/// The GraphQL client: one endpoint, one credential.
#[derive(Debug, Clone)]
pub struct Gql {
    pub client: HttpClient,
    pub url: String,
    pub auth: LinearAuth,
}

#[derive(Deserialize)]
struct Envelope {
    #[serde(default)]
    data: Option<Value>,
    #[serde(default)]
    errors: Vec<GraphQlError>,
}

#[derive(Deserialize)]
struct GraphQlError {
    #[serde(default)]
    message: String,
    #[serde(default)]
    extensions: Extensions,
}

#[derive(Deserialize, Default)]
struct Extensions {
    #[serde(default)]
    code: Option<String>,
    #[serde(default, rename = "type")]
    kind: Option<String>,
    #[serde(default, rename = "userPresentableMessage")]
    user_message: Option<String>,
}

impl Gql {
    /// Runs `document` (its operation is named `operation` in logs) with `variables` and reads
    /// `data` as `T`. `replay` says whether sending it twice is harmless.
    pub async fn run<T: DeserializeOwned>(
        &self,
        operation: &str,
        document: &str,
        variables: Value,
        replay: Replay,
    ) -> Result<T, LinearError> {
        let authorization = match &self.auth {
            // A personal API key goes as it is; an OAuth token as a bearer token.
            LinearAuth::ApiKey(key) => HeaderValue::from_str(key.expose()).ok(),
            LinearAuth::OAuth(token) => outbound::bearer(token.expose()),
        }
        .ok_or_else(|| {
            LinearError::Unauthenticated("the credential is not a valid header value".into())
        })?;
        let request = Request::new(Method::POST, self.url.clone(), replay)
            .header(CONTENT_TYPE, HeaderValue::from_static("application/json"))
            .authorization(authorization)
            .json(json!({ "query": document, "variables": variables, "operationName": operation }));
        let response = match self.client.send(&request).await {
            Ok(response) => response,
            Err(SendError::Ambiguous { problem, .. }) => {
                return Err(LinearError::Ambiguous(format!("{operation}: {problem}")));
            }
            Err(SendError::RateLimited { problem, .. }) => {
                return Err(LinearError::RateLimited(problem));
            }
            Err(e @ (SendError::Invalid(_) | SendError::TooLarge(_))) => {
                return Err(LinearError::Unexpected {
                    operation: operation.into(),
                    why: e.to_string(),
                });
            }
            Err(e) => return Err(LinearError::Unavailable(format!("{operation}: {e}"))),
        };
        let status = response.status;
        tracing::debug!(operation, status = status.as_u16(), "linear call");
        if status == StatusCode::TOO_MANY_REQUESTS {
            return Err(LinearError::RateLimited(format!(
                "{operation} answered 429"
            )));
        }
        if status == StatusCode::UNAUTHORIZED {
            return Err(LinearError::Unauthenticated(format!(
                "{operation} answered 401"
            )));
        }
        if status == StatusCode::FORBIDDEN {
            return Err(LinearError::Forbidden(format!("{operation} answered 403")));
        }
        let envelope: Envelope = response.json().map_err(|e| LinearError::Unexpected {
            operation: operation.into(),
            why: format!("{status}, not a GraphQL answer: {e}"),
        })?;
        if let Some(first) = envelope.errors.first() {
            return Err(classify(operation, first, envelope.errors.len()));
        }
        if !status.is_success() {
            return Err(LinearError::Unexpected {
                operation: operation.into(),
                why: format!("{status} without a GraphQL error"),
            });
        }
        let data = envelope.data.unwrap_or(Value::Null);
        serde_json::from_value(data).map_err(|e| LinearError::Unexpected {
            operation: operation.into(),
            why: e.to_string(),
        })
    }
}

/// A GraphQL error as the kind of failure it is. Linear names the kind in `extensions.code`
/// (`RATELIMITED`, `AUTHENTICATION_ERROR`, `FORBIDDEN`, `INVALID_INPUT`, …); an entity that does
/// not exist is an invalid input whose message says "not found".
fn classify(operation: &str, error: &GraphQlError, count: usize) -> LinearError {
    let ext = &error.extensions;
    let said = ext
        .user_message
        .clone()
        .filter(|m| !m.is_empty())
        .unwrap_or_else(|| error.message.clone());
    let said = if count > 1 {
        format!("{said} (and {} more errors)", count - 1)
    } else {
        said
    };
    let code = ext.code.as_deref().unwrap_or_default().to_ascii_uppercase();
    let kind = ext.kind.as_deref().unwrap_or_default().to_ascii_lowercase();
    let not_found = error.message.to_ascii_lowercase().contains("not found");
    match code.as_str() {
        "RATELIMITED" | "RATE_LIMITED" => LinearError::RateLimited(said),
        "AUTHENTICATION_ERROR" => LinearError::Unauthenticated(said),
        "FORBIDDEN" => LinearError::Forbidden(said),
        "INTERNAL_SERVER_ERROR" => LinearError::Unavailable(said),
        _ if not_found || kind.contains("not found") => LinearError::NotFound(said),
        _ => LinearError::Refused {
            operation: operation.into(),
            message: said,
        },
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn error(value: Value) -> LinearError {
        let e: GraphQlError = serde_json::from_value(value).unwrap();
        classify("Op", &e, 1)
    }

    #[test]
    fn graphql_errors_are_classified_by_code() {
        assert!(matches!(
            error(json!({"message": "x", "extensions": {"code": "RATELIMITED"}})),
            LinearError::RateLimited(_)
        ));
        assert!(matches!(
            error(json!({"message": "x", "extensions": {"code": "AUTHENTICATION_ERROR"}})),
            LinearError::Unauthenticated(_)
        ));
        assert!(matches!(
            error(
                json!({"message": "Entity not found: Issue", "extensions": {"code": "INVALID_INPUT"}})
            ),
            LinearError::NotFound(_)
        ));
        let refused = error(json!({"message": "Argument Validation Error",
            "extensions": {"code": "INVALID_INPUT", "userPresentableMessage": "title is too long"}}));
        assert!(
            refused.to_string().contains("title is too long"),
            "{refused}"
        );
        let auth = LinearAuth::ApiKey(scantix_core::secret::Secret::new("k"));
        assert!(matches!(
            LinearError::NotFound("Issue".into()).into_tracker(&auth, Some("SEC-1")),
            TrackerError::NotFound(key) if key == "SEC-1"
        ));
        assert!(matches!(
            LinearError::Unauthenticated("x".into()).into_tracker(&auth, None),
            TrackerError::Misconfigured { setting, .. } if setting == "LINEAR_API_KEY"
        ));
        assert!(
            LinearError::RateLimited("x".into())
                .into_tracker(&auth, None)
                .is_retryable()
        );
    }
}
