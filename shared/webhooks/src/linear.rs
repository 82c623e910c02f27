//! Linear webhook deliveries → `TicketEvent`s, in the shape Jira's take (`crate::jira`), so that
//! `scantix_core::decide::ticket` treats both alike.
//!
//! A delivery is Linear's `EntityWebhookPayload` (`action`, `type`, `actor`, `data`,
//! `updatedFrom`, `webhookTimestamp`, …; the types are in Linear's published GraphQL schema).
//! What scantix acts on:
//! - `Issue` `update` → the ticket stands where `data.state.type` says, never its name: `triage`,
//!   `backlog`, `unstarted` are to do, `started` in progress, `completed` done (verified against
//!   GitHub), `canceled` done as [`CANCELED_RESOLUTION`], which `Config::resolutions` maps to the
//!   configured "won't fix" dismissal. An assignee change (`updatedFrom.assigneeId`) is noted.
//! - `Issue` `remove` → the ticket is gone.
//! - `Comment` `create` on an issue → a comment, for the audit log.
//!
//! Every other type and action is ignored. The actor's id (`actor.id`) is how echoes of scantix's
//! own writes are told from people's changes. Checking the signature and the timestamp is the
//! gate's job (`scantix_app::ingest::linear`), before this reads anything.

use scantix_core::event::{StatusCategory, TicketChange, TicketEvent};
use serde::Deserialize;
use serde_json::Value;

/// `TicketEvent::tracker` of Linear issues (the adapter's `TicketRef::tracker`).
pub const TRACKER_NAME: &str = "linear";

/// The resolution a canceled issue gets: the name the default `resolutions` map to a won't-fix
/// dismissal (a deployment maps it to another reason in its `resolutions`).
pub const CANCELED_RESOLUTION: &str = "Won't Fix";

/// The resolution a completed issue gets: no dismissal, so the closure is verified.
pub const COMPLETED_RESOLUTION: &str = "Completed";

/// Longest excerpt of a comment kept in the audit log.
const EXCERPT_CHARS: usize = 280;

/// What one Linear delivery means to scantix.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ParsedLinearDelivery {
    Ticket(TicketEvent),
    Ignored { reason: String },
}

/// A body that is not a Linear delivery scantix can read.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{path}: {message}")]
pub struct LinearPayloadError {
    /// Where in the body (`data.state.type`; `.` for the root).
    pub path: String,
    pub message: String,
}

#[derive(Deserialize)]
struct Envelope {
    action: String,
    #[serde(rename = "type")]
    kind: String,
}

#[derive(Deserialize)]
struct IssueDelivery {
    #[serde(default)]
    actor: Option<Actor>,
    data: IssueData,
    #[serde(rename = "updatedFrom", default)]
    updated_from: Option<serde_json::Map<String, Value>>,
}

#[derive(Deserialize)]
struct Actor {
    id: String,
    #[serde(default)]
    name: Option<String>,
}

#[derive(Deserialize)]
struct IssueData {
    identifier: String,
    state: State,
    #[serde(default)]
    assignee: Option<User>,
    #[serde(rename = "assigneeId", default)]
    assignee_id: Option<String>,
}

#[derive(Deserialize)]
struct State {
    #[serde(default)]
    name: String,
    #[serde(rename = "type")]
    kind: String,
}

#[derive(Deserialize)]
struct User {
    #[serde(default)]
    id: Option<String>,
    #[serde(default)]
    name: Option<String>,
}

#[derive(Deserialize)]
struct RemovedDelivery {
    #[serde(default)]
    actor: Option<Actor>,
    data: Removed,
}

#[derive(Deserialize)]
struct Removed {
    identifier: String,
}

#[derive(Deserialize)]
struct CommentDelivery {
    #[serde(default)]
    actor: Option<Actor>,
    data: CommentData,
}

#[derive(Deserialize)]
struct CommentData {
    #[serde(default)]
    body: String,
    #[serde(default)]
    issue: Option<Removed>,
    #[serde(default)]
    user: Option<User>,
}

fn read<'a, T: Deserialize<'a>>(body: &'a [u8]) -> Result<T, LinearPayloadError> {
    let deserializer = &mut serde_json::Deserializer::from_slice(body);
    serde_path_to_error::deserialize(deserializer).map_err(|e| LinearPayloadError {
        path: e.path().to_string(),
        message: e.inner().to_string(),
    })
}

/// The `webhookTimestamp` of a delivery (Unix milliseconds), for the gate's freshness check.
pub fn webhook_timestamp(body: &[u8]) -> Result<i64, LinearPayloadError> {
    #[derive(Deserialize)]
    struct Stamped {
        #[serde(rename = "webhookTimestamp")]
        at: f64,
    }
    let stamped: Stamped = read(body)?;
    if !stamped.at.is_finite() {
        return Err(LinearPayloadError {
            path: "webhookTimestamp".into(),
            message: "not a finite number".into(),
        });
    }
    Ok(stamped.at as i64)
}

/// Reads one Linear delivery (its signature and timestamp already checked).
pub fn parse_linear_delivery(body: &[u8]) -> Result<ParsedLinearDelivery, LinearPayloadError> {
    let envelope: Envelope = read(body)?;
    let ignored = |reason: String| Ok(ParsedLinearDelivery::Ignored { reason });
    let (actor, actor_id, ticket_key, change) =
        match (envelope.kind.as_str(), envelope.action.as_str()) {
            ("Issue", "update") => {
                let delivery: IssueDelivery = read(body)?;
                let data = delivery.data;
                let (status, resolution) = match data.state.kind.as_str() {
                    "triage" | "backlog" | "unstarted" => (StatusCategory::New, None),
                    "started" => (StatusCategory::InProgress, None),
                    "completed" => (StatusCategory::Done, Some(COMPLETED_RESOLUTION.to_owned())),
                    "canceled" => (StatusCategory::Done, Some(CANCELED_RESOLUTION.to_owned())),
                    other => {
                        return Err(LinearPayloadError {
                            path: "data.state.type".into(),
                            message: format!("unknown workflow state type {other:?}"),
                        });
                    }
                };
                let assignee_changed = delivery
                    .updated_from
                    .as_ref()
                    .is_some_and(|from| from.contains_key("assigneeId"))
                    .then(|| {
                        data.assignee
                            .as_ref()
                            .and_then(|a| a.name.clone().or_else(|| a.id.clone()))
                            .or(data.assignee_id.clone())
                    });
                let change = TicketChange::Updated {
                    status,
                    status_name: data.state.name,
                    resolution,
                    assignee_changed,
                };
                let (actor, actor_id) = who(delivery.actor);
                (actor, actor_id, data.identifier, change)
            }
            ("Issue", "remove") => {
                let delivery: RemovedDelivery = read(body)?;
                let (actor, actor_id) = who(delivery.actor);
                (
                    actor,
                    actor_id,
                    delivery.data.identifier,
                    TicketChange::Deleted,
                )
            }
            ("Comment", "create") => {
                let delivery: CommentDelivery = read(body)?;
                let Some(issue) = delivery.data.issue else {
                    return ignored("a comment on something other than an issue".into());
                };
                let (actor, actor_id) = who(delivery.actor);
                let author = delivery
                    .data
                    .user
                    .and_then(|u| u.name.or(u.id))
                    .or(actor.clone())
                    .unwrap_or_default();
                let change = TicketChange::Commented {
                    author,
                    excerpt: delivery.data.body.chars().take(EXCERPT_CHARS).collect(),
                };
                (actor, actor_id, issue.identifier, change)
            }
            (kind, action) => {
                return ignored(format!(
                    "`{kind}` `{action}` is not an event scantix acts on"
                ));
            }
        };
    Ok(ParsedLinearDelivery::Ticket(TicketEvent {
        tracker: TRACKER_NAME.into(),
        ticket_key,
        change,
        actor,
        actor_id,
    }))
}

/// The actor's name (for people to read) and id (for echoes).
fn who(actor: Option<Actor>) -> (Option<String>, Option<String>) {
    match actor {
        Some(a) => (a.name.or_else(|| Some(a.id.clone())), Some(a.id)),
        None => (None, None),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use scantix_core::config::Config;
    use scantix_core::finding::DismissReason;
    use serde_json::json;

    /// An `Issue` `update` delivery in the shape of Linear's `EntityWebhookPayload` and
    /// `IssueWebhookPayload` (the fields read here and those Linear marks required around them).
    fn issue_update(state_type: &str, updated_from: Value) -> Vec<u8> {
        serde_json::to_vec(&json!({
            "action": "update",
            "type": "Issue",
            "actor": {"id": "2e3b0f1c-person", "name": "Ada", "type": "user",
                      "email": "ada@example.com", "url": "https://linear.app/acme/profiles/ada"},
            "createdAt": "2026-12-03T18:00:00.000Z",
            "organizationId": "org-1",
            "webhookId": "wh-1",
            "webhookTimestamp": 1_796_320_800_000_i64,
            "url": "https://linear.app/acme/issue/SEC-12/xss",
            "updatedFrom": updated_from,
            "data": {
                "id": "uuid-12", "identifier": "SEC-12", "number": 12, "title": "XSS",
                "state": {"id": "s-1", "name": "Won't do", "type": state_type, "color": "#95a2b3"},
                "stateId": "s-1", "teamId": "team-1", "labelIds": [], "labels": [],
                "assignee": {"id": "u-2", "name": "Bo", "email": "bo@example.com", "url": "https://linear.app/acme/profiles/bo"},
                "assigneeId": "u-2", "priority": 2, "priorityLabel": "High",
                "createdAt": "2026-12-01T00:00:00.000Z", "updatedAt": "2026-12-03T18:00:00.000Z",
                "url": "https://linear.app/acme/issue/SEC-12/xss"
            }
        }))
        .unwrap()
    }

    fn event(body: &[u8]) -> TicketEvent {
        match parse_linear_delivery(body).unwrap() {
            ParsedLinearDelivery::Ticket(t) => t,
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn state_comes_from_its_type_not_its_name() {
        for (kind, category) in [
            ("triage", StatusCategory::New),
            ("backlog", StatusCategory::New),
            ("unstarted", StatusCategory::New),
            ("started", StatusCategory::InProgress),
            ("completed", StatusCategory::Done),
            ("canceled", StatusCategory::Done),
        ] {
            let e = event(&issue_update(kind, json!({"stateId": "s-0"})));
            assert!(
                matches!(&e.change, TicketChange::Updated { status, .. } if *status == category),
                "{kind}: {e:?}"
            );
            assert_eq!(e.ticket_key, "SEC-12");
            assert_eq!(e.actor_id.as_deref(), Some("2e3b0f1c-person"));
        }
    }

    #[test]
    fn canceled_is_the_configured_wont_fix_and_completed_is_verified() {
        let resolution = |kind| match event(&issue_update(kind, json!({}))).change {
            TicketChange::Updated { resolution, .. } => resolution.unwrap(),
            other => panic!("{other:?}"),
        };
        let config = Config::default();
        assert_eq!(
            config.dismissal_for(&resolution("canceled")),
            Some(DismissReason::WontFix)
        );
        assert_eq!(config.dismissal_for(&resolution("completed")), None);
    }

    #[test]
    fn assignee_changes_are_read_from_updated_from() {
        let assigned = event(&issue_update("started", json!({"assigneeId": null})));
        assert!(matches!(
            assigned.change,
            TicketChange::Updated { assignee_changed: Some(Some(ref who)), .. } if who == "Bo"
        ));
        let moved = event(&issue_update("started", json!({"stateId": "s-0"})));
        assert!(matches!(
            moved.change,
            TicketChange::Updated {
                assignee_changed: None,
                ..
            }
        ));
    }

    #[test]
    fn removals_comments_and_the_rest() {
        let removed = json!({"action": "remove", "type": "Issue", "webhookTimestamp": 1,
            "data": {"id": "uuid-12", "identifier": "SEC-12", "state": {"type": "started"}}});
        assert_eq!(
            event(&serde_json::to_vec(&removed).unwrap()).change,
            TicketChange::Deleted
        );
        let comment = json!({"action": "create", "type": "Comment", "webhookTimestamp": 1,
            "actor": {"id": "u-2", "name": "Bo"},
            "data": {"id": "c-1", "body": "Looking at it", "issueId": "uuid-12",
                     "issue": {"id": "uuid-12", "identifier": "SEC-12", "title": "XSS", "teamId": "t", "url": "u"},
                     "user": {"id": "u-2", "name": "Bo"}}});
        let commented = event(&serde_json::to_vec(&comment).unwrap());
        assert!(
            matches!(&commented.change, TicketChange::Commented { author, excerpt } if author == "Bo" && excerpt == "Looking at it")
        );
        for (kind, action) in [
            ("Issue", "create"),
            ("Project", "update"),
            ("IssueLabel", "remove"),
        ] {
            let body =
                serde_json::to_vec(&json!({"action": action, "type": kind, "data": {}})).unwrap();
            assert!(
                matches!(
                    parse_linear_delivery(&body).unwrap(),
                    ParsedLinearDelivery::Ignored { .. }
                ),
                "{kind} {action}"
            );
        }
    }

    #[test]
    fn malformed_bodies_are_errors_with_a_path() {
        assert!(parse_linear_delivery(b"{").is_err());
        let err = parse_linear_delivery(
            br#"{"action":"update","type":"Issue","data":{"identifier":"SEC-1","state":{"type":7}}}"#,
        )
        .unwrap_err();
        assert_eq!(err.path, "data.state.type");
        let err = parse_linear_delivery(
            br#"{"action":"update","type":"Issue","data":{"identifier":"SEC-1","state":{"type":"odd"}}}"#,
        )
        .unwrap_err();
        assert_eq!(err.path, "data.state.type");
        assert_eq!(
            webhook_timestamp(br#"{"webhookTimestamp": 1796320800000}"#),
            Ok(1_796_320_800_000)
        );
        assert_eq!(webhook_timestamp(b"{}").unwrap_err().path, ".");
    }
}
