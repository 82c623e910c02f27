//! ServiceNow deliveries → `TicketEvent`s. ServiceNow has no webhooks of its own: scantix's
//! business rule (`infra/servicenow/scantix-business-rule.js`) posts one JSON body per change of a
//! record scantix filed (`correlation_display = scantix`), signed with a shared secret.
//!
//! # The delivery (what the business rule sends)
//! ```json
//! { "delivery": "<sys_id>:<sys_mod_count>", "event": "updated" | "commented" | "deleted",
//!   "table": "incident", "sys_id": "<32 hex>", "number": "INC0010001",
//!   "state": "6", "state_name": "Resolved", "close_code": "Solution provided",
//!   "assigned_to_changed": false, "assigned_to": "<user_name or empty>",
//!   "comment": "<the newest journal entry, for commented>",
//!   "actor": { "user_name": "abel.tuter", "display_name": "Abel Tuter" } }
//! ```
//! `X-Scantix-Signature: sha256=<base64 of HMAC-SHA256(body)>` signs it: what ServiceNow's
//! `GlideCertificateEncryption.generateMac` gives (base64, not hex), checked over the raw bytes
//! before anything is parsed, in constant time.
//!
//! Reading is two steps, so that the worker can read an inbox item without the deployment's
//! settings: [`parse_servicenow_delivery`] (the body, pure) and [`ServiceNowDelivery::event`]
//! (what its state value means under the table's `ServiceNowStates`). Events scantix does not act
//! on are ignored, never errors.

use crate::signature::{SignatureError, mac_for};
use hmac::Mac;
use scantix_core::event::{StatusCategory, TicketChange, TicketEvent};
use scantix_core::ticket::servicenow::{ServiceNowStates, StateCategory, SysId, TRACKER_NAME};
use serde::Deserialize;

/// The header the business rule signs deliveries in.
pub const SIGNATURE_HEADER: &str = "x-scantix-signature";

/// Longest excerpt of a comment kept in the audit log (as for Jira).
const EXCERPT_CHARS: usize = 280;

/// A body that is not a delivery scantix can read.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{path}: {message}")]
pub struct ServiceNowPayloadError {
    /// Where in the body (`sys_id`; `.` for the root).
    pub path: String,
    pub message: String,
}

/// One delivery, read but not yet interpreted (see [`ServiceNowDelivery::event`]).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ServiceNowDelivery {
    /// The business rule's id for this change (`<sys_id>:<sys_mod_count>`), when it sent a usable
    /// one: what redeliveries are recognised by.
    pub delivery: Option<String>,
    pub sys_id: SysId,
    pub number: String,
    pub change: ServiceNowChange,
    /// Who made the change, for people to read.
    pub actor: Option<String>,
    /// Who made the change as ServiceNow names users (`user_name`): how echoes are recognised.
    pub actor_id: Option<String>,
}

/// What changed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ServiceNowChange {
    Updated {
        state: String,
        state_name: Option<String>,
        close_code: Option<String>,
        /// `Some(None)`: unassigned; `None`: the assignee did not change.
        assignee_changed: Option<Option<String>>,
    },
    Commented {
        text: String,
    },
    Deleted,
    /// An event name this build does not know: ignored.
    Other(String),
}

#[derive(Deserialize)]
struct Body {
    #[serde(default)]
    delivery: Option<String>,
    event: String,
    sys_id: String,
    #[serde(default)]
    number: String,
    #[serde(default)]
    state: Option<String>,
    #[serde(default)]
    state_name: Option<String>,
    #[serde(default)]
    close_code: Option<String>,
    #[serde(default)]
    assigned_to_changed: bool,
    #[serde(default)]
    assigned_to: Option<String>,
    #[serde(default)]
    comment: Option<String>,
    #[serde(default)]
    actor: Option<Actor>,
}

#[derive(Deserialize)]
struct Actor {
    #[serde(default)]
    user_name: Option<String>,
    #[serde(default)]
    display_name: Option<String>,
}

/// Checks `X-Scantix-Signature: sha256=<base64>` against the raw `body`, in constant time.
pub fn verify_servicenow_signature(
    secret: &[u8],
    body: &[u8],
    header: Option<&str>,
) -> Result<(), SignatureError> {
    use base64::Engine as _;
    let header = header.map(str::trim).unwrap_or_default();
    if header.is_empty() {
        return Err(SignatureError::Missing);
    }
    let encoded = header
        .strip_prefix("sha256=")
        .ok_or(SignatureError::Malformed {
            reason: "expected `sha256=` followed by the base64 digest",
        })?;
    let tag = base64::engine::general_purpose::STANDARD
        .decode(encoded)
        .map_err(|_| SignatureError::Malformed {
            reason: "the digest is not base64",
        })?;
    if tag.len() != 32 {
        return Err(SignatureError::Malformed {
            reason: "a SHA-256 digest is 32 bytes",
        });
    }
    let mut mac = mac_for(secret);
    mac.update(body);
    mac.verify_slice(&tag).map_err(|_| SignatureError::Mismatch)
}

/// The header value the business rule attaches to `body` (tests and the CLI sign with it).
pub fn sign_servicenow(secret: &[u8], body: &[u8]) -> String {
    use base64::Engine as _;
    let mut mac = mac_for(secret);
    mac.update(body);
    format!(
        "sha256={}",
        base64::engine::general_purpose::STANDARD.encode(mac.finalize().into_bytes())
    )
}

/// Reads one delivery.
pub fn parse_servicenow_delivery(
    body: &[u8],
) -> Result<ServiceNowDelivery, ServiceNowPayloadError> {
    let deserializer = &mut serde_json::Deserializer::from_slice(body);
    let body: Body =
        serde_path_to_error::deserialize(deserializer).map_err(|e| ServiceNowPayloadError {
            path: e.path().to_string(),
            message: e.inner().to_string(),
        })?;
    let sys_id = SysId::parse(&body.sys_id).map_err(|message| ServiceNowPayloadError {
        path: "sys_id".into(),
        message,
    })?;
    let change = match body.event.as_str() {
        "updated" => {
            let state = body.state.filter(|s| !s.trim().is_empty()).ok_or_else(|| {
                ServiceNowPayloadError {
                    path: "state".into(),
                    message: "missing: an update names the record's state".into(),
                }
            })?;
            ServiceNowChange::Updated {
                state: state.trim().to_owned(),
                state_name: body.state_name.filter(|s| !s.trim().is_empty()),
                close_code: body.close_code.filter(|c| !c.trim().is_empty()),
                assignee_changed: body
                    .assigned_to_changed
                    .then(|| body.assigned_to.filter(|a| !a.trim().is_empty())),
            }
        }
        "commented" => ServiceNowChange::Commented {
            text: body.comment.unwrap_or_default(),
        },
        "deleted" => ServiceNowChange::Deleted,
        other => ServiceNowChange::Other(other.chars().take(40).collect()),
    };
    let actor = body.actor.as_ref();
    Ok(ServiceNowDelivery {
        // Used as part of a store key: only a plain id is taken; otherwise the body's digest is.
        delivery: body.delivery.filter(|d| {
            (1..=128).contains(&d.len())
                && d.bytes()
                    .all(|b| b.is_ascii_alphanumeric() || b":_-.".contains(&b))
        }),
        sys_id,
        number: body.number,
        change,
        actor: actor.and_then(|a| a.display_name.clone().or_else(|| a.user_name.clone())),
        actor_id: actor
            .and_then(|a| a.user_name.clone())
            .filter(|u| !u.is_empty()),
    })
}

impl ServiceNowDelivery {
    /// What the delivery means under the table's `states`: the ticket event, or why it is ignored.
    /// Resolved states are done with the record's close code as the resolution (so a close code
    /// the configuration maps, "Duplicate" say, dismisses); canceled ones are done with
    /// `states.canceled_resolution` ("Won't Fix": the alerts are dismissed as won't fix).
    pub fn event(&self, states: &ServiceNowStates) -> Result<TicketEvent, String> {
        let change = match &self.change {
            ServiceNowChange::Updated {
                state,
                state_name,
                close_code,
                assignee_changed,
            } => {
                let Some(category) = states.category(state) else {
                    return Err(format!(
                        "state `{state}` of {} is in no category of the ServiceNow states setting",
                        self.number
                    ));
                };
                let (status, resolution) = match category {
                    StateCategory::New => (StatusCategory::New, None),
                    StateCategory::InProgress => (StatusCategory::InProgress, None),
                    StateCategory::Resolved => (StatusCategory::Done, close_code.clone()),
                    StateCategory::Canceled => (
                        StatusCategory::Done,
                        Some(states.canceled_resolution.clone()),
                    ),
                };
                TicketChange::Updated {
                    status,
                    status_name: state_name
                        .clone()
                        .unwrap_or_else(|| format!("state {state}")),
                    resolution,
                    assignee_changed: assignee_changed.clone(),
                }
            }
            ServiceNowChange::Commented { text } => TicketChange::Commented {
                author: self.actor.clone().unwrap_or_default(),
                excerpt: text.chars().take(EXCERPT_CHARS).collect(),
            },
            ServiceNowChange::Deleted => TicketChange::Deleted,
            ServiceNowChange::Other(event) => {
                return Err(format!("`{event}` is not an event scantix acts on"));
            }
        };
        Ok(TicketEvent {
            tracker: TRACKER_NAME.into(),
            ticket_key: self.sys_id.to_string(),
            change,
            actor: self.actor.clone(),
            actor_id: self.actor_id.clone(),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    const SYS_ID: &str = "a9e30c7dc61122760116894de7bcc7bd";

    fn delivery(fields: serde_json::Value) -> Vec<u8> {
        let mut body = json!({
            "delivery": format!("{SYS_ID}:4"), "event": "updated", "table": "incident",
            "sys_id": SYS_ID, "number": "INC0010001", "state": "6", "state_name": "Resolved",
            "close_code": "Solution provided", "assigned_to_changed": false, "assigned_to": "",
            "actor": {"user_name": "abel.tuter", "display_name": "Abel Tuter"},
        });
        for (k, v) in fields.as_object().unwrap() {
            body[k] = v.clone();
        }
        serde_json::to_vec(&body).unwrap()
    }

    fn event(fields: serde_json::Value) -> Result<TicketEvent, String> {
        parse_servicenow_delivery(&delivery(fields))
            .unwrap()
            .event(&ServiceNowStates::default())
    }

    #[test]
    fn states_are_read_by_category() {
        let resolved = event(json!({})).unwrap();
        assert_eq!(resolved.tracker, "servicenow");
        assert_eq!(resolved.ticket_key, SYS_ID);
        assert_eq!(resolved.actor_id.as_deref(), Some("abel.tuter"));
        assert!(matches!(
            &resolved.change,
            TicketChange::Updated { status: StatusCategory::Done, resolution: Some(r), assignee_changed: None, .. }
                if r == "Solution provided"
        ));
        let canceled = event(json!({"state": "8", "state_name": "Canceled"})).unwrap();
        assert!(matches!(
            &canceled.change,
            TicketChange::Updated { status: StatusCategory::Done, resolution: Some(r), .. } if r == "Won't Fix"
        ));
        let on_hold =
            event(json!({"state": "3", "assigned_to_changed": true, "assigned_to": "beth"}))
                .unwrap();
        assert!(matches!(
            &on_hold.change,
            TicketChange::Updated { status: StatusCategory::InProgress, assignee_changed: Some(Some(a)), .. } if a == "beth"
        ));
        assert!(event(json!({"state": "42"})).unwrap_err().contains("`42`"));
    }

    #[test]
    fn comments_deletions_and_unknown_events() {
        let note = event(json!({"event": "commented", "comment": "looking into it"})).unwrap();
        assert!(
            matches!(&note.change, TicketChange::Commented { excerpt, .. } if excerpt == "looking into it")
        );
        assert_eq!(
            event(json!({"event": "deleted"})).unwrap().change,
            TicketChange::Deleted
        );
        assert!(event(json!({"event": "inserted"})).is_err());
    }

    #[test]
    fn malformed_bodies_are_errors_with_a_path() {
        let bad = parse_servicenow_delivery(&delivery(json!({"sys_id": "../../x"}))).unwrap_err();
        assert_eq!(bad.path, "sys_id");
        let bad = parse_servicenow_delivery(&delivery(json!({"state": 6}))).unwrap_err();
        assert_eq!(bad.path, "state");
        let bad = parse_servicenow_delivery(&delivery(json!({"state": null}))).unwrap_err();
        assert_eq!(bad.path, "state");
        assert!(parse_servicenow_delivery(b"{").is_err());
        let odd_id = parse_servicenow_delivery(&delivery(json!({"delivery": "a b/c"}))).unwrap();
        assert_eq!(odd_id.delivery, None);
    }

    #[test]
    fn signatures_are_base64_hmacs_of_the_raw_body() {
        let body = delivery(json!({}));
        let header = sign_servicenow(b"shared", &body);
        assert_eq!(
            verify_servicenow_signature(b"shared", &body, Some(&header)),
            Ok(())
        );
        assert_eq!(
            verify_servicenow_signature(b"other", &body, Some(&header)),
            Err(SignatureError::Mismatch)
        );
        let mut tampered = body.clone();
        tampered.push(b' ');
        assert_eq!(
            verify_servicenow_signature(b"shared", &tampered, Some(&header)),
            Err(SignatureError::Mismatch)
        );
        assert_eq!(
            verify_servicenow_signature(b"shared", &body, None),
            Err(SignatureError::Missing)
        );
        for bad in [
            "sha256=!!",
            "sha256=AAAA",
            &header.replace("sha256=", "sha1="),
        ] {
            assert!(
                matches!(
                    verify_servicenow_signature(b"shared", &body, Some(bad)),
                    Err(SignatureError::Malformed { .. })
                ),
                "{bad}"
            );
        }
    }
}
