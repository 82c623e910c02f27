//! Jira's error answers → `TrackerError`: which ones a retry can help, and for the rest, which
//! setting a person has to fix. Jira's own messages are kept (they never contain our credentials,
//! which travel only in a header).

use ::http::StatusCode;
use scantix_core::ports::tracker::TrackerError;
use serde::Deserialize;
use std::collections::BTreeMap;

/// Jira's `ErrorCollection`.
#[derive(Debug, Default, Deserialize)]
struct ErrorCollection {
    #[serde(rename = "errorMessages", default)]
    error_messages: Vec<String>,
    #[serde(default)]
    errors: BTreeMap<String, String>,
}

/// A failed call, with what the adapter needs beyond the `TrackerError` it becomes.
#[derive(Debug)]
pub struct Failure {
    /// Jira's status, when it answered.
    pub status: Option<StatusCode>,
    /// The call may have taken effect even though it failed (a timeout or 5xx on a call that is
    /// not idempotent): check before repeating it.
    pub ambiguous: bool,
    pub error: TrackerError,
    /// The field Jira refused, when it named one (the root cause, if several).
    pub field: Option<String>,
}

impl Failure {
    pub fn ambiguous(message: String) -> Failure {
        Failure {
            status: None,
            ambiguous: true,
            error: TrackerError::Retryable(message),
            field: None,
        }
    }
}

impl From<TrackerError> for Failure {
    fn from(error: TrackerError) -> Failure {
        Failure {
            status: None,
            ambiguous: false,
            error,
            field: None,
        }
    }
}

impl From<Failure> for TrackerError {
    fn from(f: Failure) -> TrackerError {
        f.error
    }
}

/// The setting to change when Jira refuses `field` (`due_date_field`: where the settings put
/// the due date). A field scantix does not set itself (a custom field the screen requires) is the
/// issue type's screen's: `jira.issue-type` (or the screen, in Jira).
pub fn setting_for_field(field: &str, due_date_field: Option<&str>) -> &'static str {
    match field {
        "project" | "pid" => "jira.project",
        "issuetype" => "jira.issue-type",
        "priority" => "jira.priorities",
        "components" => "jira.components",
        "labels" => "jira.labels",
        // The accounts come from a repository's `owners` and `default-assignee`.
        "assignee" => "owners",
        "duedate" => "jira.due-date-field",
        other if Some(other) == due_date_field => "jira.due-date-field",
        _ => "jira.issue-type",
    }
}

/// Fields whose errors name the root cause when Jira reports several (an unknown project makes
/// every other field "invalid" too).
const ROOT_CAUSES: [&str; 5] = ["project", "pid", "issuetype", "priority", "components"];

/// A non-success answer that retrying will not fix. `issue` is the key the call was about, for
/// 404s; without one a 404 means the base URL is wrong.
pub fn rejection(status: StatusCode, body: &[u8], issue: Option<&str>) -> Failure {
    let collection: ErrorCollection = serde_json::from_slice(body).unwrap_or_default();
    let mut parts: Vec<String> = collection.error_messages.clone();
    parts.extend(collection.errors.iter().map(|(f, m)| format!("{f}: {m}")));
    let said = if parts.is_empty() {
        format!("Jira answered {status}")
    } else {
        format!("Jira answered {status}: {}", parts.join("; "))
    };
    let misconfigured = |setting: &str, message: String| TrackerError::Misconfigured {
        setting: setting.into(),
        message,
    };
    let error = match status {
        StatusCode::UNAUTHORIZED => misconfigured(
            "jira.auth",
            format!(
                "{said} (the credentials were refused: check the token and that it has not expired)"
            ),
        ),
        StatusCode::FORBIDDEN => misconfigured(
            "jira.auth",
            format!("{said} (the account lacks a permission in the project)"),
        ),
        StatusCode::NOT_FOUND => match issue {
            Some(key) => TrackerError::NotFound(key.to_string()),
            None => misconfigured("jira.base-url", format!("{said} (no Jira REST API there)")),
        },
        StatusCode::GONE => misconfigured(
            "jira.flavor",
            format!("{said} (this API is retired on this Jira: is the flavor right?)"),
        ),
        StatusCode::CONFLICT => TrackerError::Retryable(said),
        StatusCode::BAD_REQUEST | StatusCode::UNPROCESSABLE_ENTITY
            if !collection.errors.is_empty() =>
        {
            let field = ROOT_CAUSES
                .iter()
                .find(|f| collection.errors.contains_key(**f))
                .map(|f| f.to_string())
                .or_else(|| collection.errors.keys().next().cloned())
                .unwrap_or_default();
            return Failure {
                status: Some(status),
                ambiguous: false,
                error: misconfigured(setting_for_field(&field, None), said),
                field: Some(field),
            };
        }
        // A search naming a project that does not exist (or that the account cannot see).
        StatusCode::BAD_REQUEST if said.contains("for the field 'project'") => {
            misconfigured("jira.project", said)
        }
        s if s.is_redirection() => misconfigured(
            "jira.base-url",
            format!("{said} (a redirect: set base-url to the address Jira answers on)"),
        ),
        _ => TrackerError::Failed(said),
    };
    Failure {
        status: Some(status),
        ambiguous: false,
        error,
        field: None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn setting(f: &Failure) -> &str {
        match &f.error {
            TrackerError::Misconfigured { setting, .. } => setting,
            other => panic!("not misconfigured: {other:?}"),
        }
    }

    #[test]
    fn field_errors_name_the_setting_to_fix() {
        let cases = [
            (
                r#"{"errors":{"project":"valid project is required"}}"#,
                "jira.project",
            ),
            (
                r#"{"errors":{"issuetype":"The issue type selected is invalid."}}"#,
                "jira.issue-type",
            ),
            (
                r#"{"errors":{"priority":"Specify the Priority (name) in the string format"}}"#,
                "jira.priorities",
            ),
            (
                r#"{"errors":{"components":"Component name 'X' is not valid"}}"#,
                "jira.components",
            ),
            (
                r#"{"errors":{"duedate":"Field 'duedate' cannot be set. It is not on the appropriate screen, or unknown."}}"#,
                "jira.due-date-field",
            ),
            (
                r#"{"errors":{"labels":"Field 'labels' cannot be set. It is not on the appropriate screen, or unknown."}}"#,
                "jira.labels",
            ),
            (
                r#"{"errors":{"customfield_10050":"Team is required."}}"#,
                "jira.issue-type",
            ),
            // An unknown project makes other fields fail too: the project is the cause.
            (
                r#"{"errors":{"components":"x","project":"y","summary":"z"}}"#,
                "jira.project",
            ),
        ];
        for (body, expected) in cases {
            let f = rejection(StatusCode::BAD_REQUEST, body.as_bytes(), None);
            assert_eq!(setting(&f), expected, "{body}");
            assert!(!f.error.is_retryable());
        }
        let f = rejection(
            StatusCode::BAD_REQUEST,
            br#"{"errors":{"customfield_10010":"Field 'customfield_10010' cannot be set. It is not on the appropriate screen, or unknown."}}"#,
            None,
        );
        assert!(
            f.error
                .to_string()
                .contains("not on the appropriate screen")
        );
    }

    #[test]
    fn statuses_map_to_what_can_be_done_about_them() {
        let f = rejection(StatusCode::UNAUTHORIZED, b"", Some("SEC-1"));
        assert_eq!(setting(&f), "jira.auth");
        let f = rejection(StatusCode::FORBIDDEN, br#"{"errorMessages":["no"]}"#, None);
        assert_eq!(setting(&f), "jira.auth");
        let f = rejection(StatusCode::NOT_FOUND, b"", Some("SEC-1"));
        assert!(matches!(f.error, TrackerError::NotFound(ref k) if k == "SEC-1"));
        let f = rejection(StatusCode::NOT_FOUND, b"<html>", None);
        assert_eq!(setting(&f), "jira.base-url");
        let f = rejection(StatusCode::GONE, b"", None);
        assert_eq!(setting(&f), "jira.flavor");
        let f = rejection(StatusCode::CONFLICT, b"", Some("SEC-1"));
        assert!(f.error.is_retryable());
        let f = rejection(StatusCode::FOUND, b"", None);
        assert_eq!(setting(&f), "jira.base-url");
        let f = rejection(
            StatusCode::BAD_REQUEST,
            br#"{"errorMessages":["Error in the JQL Query"],"errors":{}}"#,
            None,
        );
        assert!(
            matches!(f.error, TrackerError::Failed(ref m) if m.contains("Error in the JQL Query"))
        );
        let f = rejection(
            StatusCode::BAD_REQUEST,
            br#"{"errorMessages":["The value 'NOPE' does not exist for the field 'project'."],"errors":{}}"#,
            None,
        );
        assert_eq!(setting(&f), "jira.project");
        assert_eq!(f.status, Some(StatusCode::BAD_REQUEST));
    }
}
