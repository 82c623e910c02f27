//! GitHub alert webhooks (`code_scanning_alert`, `dependabot_alert`, `secret_scanning_alert`) →
//! [`AlertEvent`]s. This module owns two mappings: GitHub's action words onto [`AlertChange`], and
//! each event's payload shape onto [`Finding`]. It sees a body whose signature was already checked
//! and decides nothing about what happens next.
//!
//! Real payloads drift from their schemas: older examples lack fields, `alert.state` is `null` for
//! code scanning alerts off the default branch, the `*_by_user` actions send empty `ref`s, the
//! webhook form of a secret scanning alert has no `state` at all. So only what scantix cannot do
//! without is strict: the alert number and the repository's id and full name. Every other field is
//! [`Loose`]: absent, `null` or of an unexpected type, it reads as `None`, and the finding loses
//! that detail rather than the delivery failing (a failed delivery is an alert nobody tracks).

use chrono::{DateTime, Utc};
use scantix_core::event::{AlertChange, AlertEvent};
use scantix_core::finding::{
    Advisory, AlertKind, AlertState, Dismissal, Epss, Finding, Location, Package, Repository, Rule,
    SecretExposure, SecretValidity, Severity,
};
use serde::Deserialize;
use serde::de::{DeserializeOwned, Deserializer};
use serde_json::Value;

/// What one webhook delivery means to scantix.
#[derive(Debug, Clone, PartialEq)]
#[allow(
    clippy::large_enum_variant,
    reason = "one value per request, matched and moved once; the agreed API is `Alert(AlertEvent)`"
)]
pub enum ParsedDelivery {
    /// An alert event to act on.
    Alert(AlertEvent),
    /// GitHub's `ping`, sent when the webhook is set up: answer 2xx and do nothing.
    Ping,
    /// A delivery scantix does not act on (another event, or an action it does not know). Answer
    /// 2xx all the same, so GitHub does not mark the hook as failing.
    Ignored { reason: String },
}

/// A body scantix cannot read. Always the sender's fault: retrying the same body cannot help.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum PayloadError {
    /// The body is not JSON at all.
    #[error("body is not JSON (line {line}, column {column}): {message}")]
    NotJson {
        line: usize,
        column: usize,
        message: String,
    },
    /// The body is JSON, but a field scantix cannot do without is missing or of the wrong type.
    /// `path` is where, in `serde_path_to_error`'s spelling (`alert.number`; `.` for the root).
    #[error("{path}: {message}")]
    Invalid { path: String, message: String },
}

/// Reads one webhook delivery. `event_name` is the `X-GitHub-Event` header, `body` the raw body
/// (whose signature the caller has already checked).
///
/// Alert events with an action scantix knows become [`ParsedDelivery::Alert`]; `ping` becomes
/// [`ParsedDelivery::Ping`]; every other event or action is [`ParsedDelivery::Ignored`], never an
/// error. Errors are kept for bodies that are not JSON objects, and for alerts without a usable
/// number or repository.
pub fn parse_delivery(event_name: &str, body: &[u8]) -> Result<ParsedDelivery, PayloadError> {
    let payload = parse_json_object(body)?;
    let kind = match event_name {
        "ping" => return Ok(ParsedDelivery::Ping),
        "code_scanning_alert" => AlertKind::CodeScanning,
        "dependabot_alert" => AlertKind::Dependabot,
        "secret_scanning_alert" => AlertKind::SecretScanning,
        "" => return Ok(ignored("the delivery names no event".to_owned())),
        other => return Ok(ignored(format!("`{other}` is not an alert event"))),
    };
    let Some(action) = payload.get("action").and_then(Value::as_str) else {
        return Ok(ignored(format!(
            "`{event_name}` delivery without an action"
        )));
    };
    // Decide on the action before reading the alert, so that an action GitHub adds later (with a
    // payload shape of its own) is ignored rather than refused.
    if change_for(kind, action, None).is_none() {
        return Ok(ignored(format!(
            "`{event_name}` action `{action}` is not one scantix acts on"
        )));
    }
    require_object(&payload, "alert")?;
    require_object(&payload, "repository")?;
    let event = match kind {
        AlertKind::CodeScanning => code_scanning_event(action, read(&payload)?)?,
        AlertKind::Dependabot => dependabot_event(action, read(&payload)?)?,
        AlertKind::SecretScanning => secret_scanning_event(action, read(&payload)?)?,
        // No webhook carries SARIF results (`change_for` has no action for them).
        AlertKind::Sarif => return Ok(ignored(format!("`{event_name}` is not an alert event"))),
    };
    Ok(ParsedDelivery::Alert(event))
}

/// One alert object of GitHub's REST API (`GET .../alerts`, `GET .../alerts/{n}`) as a
/// [`Finding`] of `repository`. REST alerts have the webhook `alert`'s shape, so this is the same
/// mapping, read as for an action that changes nothing: the alert's own `state` (and, for
/// secrets, `resolution`) decides the finding's state, and no state reads as open.
pub fn finding_from_alert(
    kind: AlertKind,
    alert: Value,
    repository: &Repository,
) -> Result<Finding, PayloadError> {
    let payload = serde_json::json!({
        "alert": alert,
        "repository": {
            "id": repository.id,
            "full_name": repository.full_name,
            "default_branch": repository.default_branch,
            "html_url": repository.html_url,
        },
    });
    require_object(&payload, "alert")?;
    let event = match kind {
        AlertKind::CodeScanning => code_scanning_event("updated_assignment", read(&payload)?)?,
        AlertKind::Dependabot => dependabot_event("assignees_changed", read(&payload)?)?,
        AlertKind::SecretScanning => secret_scanning_event("validated", read(&payload)?)?,
        // GitHub's REST API lists no SARIF results applied to scantix.
        AlertKind::Sarif => {
            return Err(PayloadError::Invalid {
                path: ".".into(),
                message: "SARIF findings are not GitHub alerts".into(),
            });
        }
    };
    Ok(event.finding)
}

fn ignored(reason: String) -> ParsedDelivery {
    ParsedDelivery::Ignored { reason }
}

/// What an action means for the alert's lifecycle; `None` for actions scantix does not act on.
///
/// `resolution` matters only for a resolved secret: revoking it is the fix (the secret is dead),
/// any other resolution closes the alert without one.
fn change_for(kind: AlertKind, action: &str, resolution: Option<&str>) -> Option<AlertChange> {
    use AlertChange::{Dismissed, Fixed, Opened, Reappeared, Updated};
    let change = match kind {
        AlertKind::CodeScanning => match action {
            "created" => Opened,
            "reopened" | "reopened_by_user" | "appeared_in_branch" => Reappeared,
            "closed_by_user" => Dismissed,
            "fixed" => Fixed,
            "updated_assignment" => Updated,
            _ => return None,
        },
        AlertKind::Dependabot => match action {
            "created" => Opened,
            "reopened" | "reintroduced" | "auto_reopened" => Reappeared,
            "dismissed" | "auto_dismissed" => Dismissed,
            "fixed" => Fixed,
            "assignees_changed" => Updated,
            _ => return None,
        },
        AlertKind::SecretScanning => match action {
            "created" => Opened,
            "reopened" => Reappeared,
            "resolved" if resolution == Some("revoked") => Fixed,
            "resolved" => Dismissed,
            // Not in today's schema, but octokit's older schemas have it: a revoked secret.
            "revoked" => Fixed,
            "validated" | "publicly_leaked" | "assigned" | "unassigned" => Updated,
            _ => return None,
        },
        AlertKind::Sarif => return None,
    };
    Some(change)
}

mod events;
mod payloads;
mod reading;
#[cfg(test)]
mod tests;

use events::*;
use payloads::*;
pub(crate) use reading::parse_json_object;
use reading::*;
