//! Jira webhook deliveries (Cloud and Data Center) → `TicketEvent`s.
//!
//! Deliveries use the REST v2 shape on both (`self` under `/rest/api/2`, plain text). "Done" is read
//! from `fields.status.statusCategory.key`, never from status names, which differ per workflow.
//! Events scantix does not act on are `Ignored`, never errors.

use scantix_core::event::{StatusCategory, TicketChange, TicketEvent};
use serde::Deserialize;
use serde_json::Value;

/// What one Jira delivery means to scantix.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ParsedJiraDelivery {
    Ticket(TicketEvent),
    Ignored { reason: String },
}

/// A body that is not a Jira delivery scantix can read.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{path}: {message}")]
pub struct JiraPayloadError {
    /// Where in the body (`issue.key`; `.` for the root).
    pub path: String,
    pub message: String,
}

#[derive(Deserialize)]
struct Delivery {
    #[serde(rename = "webhookEvent", default)]
    webhook_event: String,
    #[serde(default)]
    user: Option<User>,
    #[serde(default)]
    issue: Option<Issue>,
    #[serde(default)]
    changelog: Option<Changelog>,
    #[serde(default)]
    comment: Option<Comment>,
}

#[derive(Deserialize)]
struct User {
    #[serde(rename = "accountId", default)]
    account_id: Option<String>,
    #[serde(default)]
    name: Option<String>,
    #[serde(rename = "displayName", default)]
    display_name: Option<String>,
}

impl User {
    /// Cloud identifies users by accountId, Data Center by name.
    fn id(&self) -> Option<String> {
        self.account_id.clone().or_else(|| self.name.clone())
    }
}

#[derive(Deserialize)]
struct Issue {
    key: String,
    #[serde(default)]
    fields: Option<Fields>,
}

#[derive(Deserialize, Default)]
struct Fields {
    #[serde(default)]
    status: Option<Status>,
    #[serde(default)]
    resolution: Option<Named>,
}

#[derive(Deserialize)]
struct Status {
    #[serde(default)]
    name: String,
    #[serde(rename = "statusCategory", default)]
    category: Option<Category>,
}

#[derive(Deserialize)]
struct Category {
    #[serde(default)]
    key: String,
}

#[derive(Deserialize)]
struct Named {
    #[serde(default)]
    name: Option<String>,
}

#[derive(Deserialize, Default)]
struct Changelog {
    #[serde(default)]
    items: Vec<ChangeItem>,
}

#[derive(Deserialize)]
struct ChangeItem {
    #[serde(default)]
    field: String,
    #[serde(default)]
    to: Option<Value>,
    #[serde(rename = "toString", default)]
    to_string: Option<String>,
}

#[derive(Deserialize)]
struct Comment {
    #[serde(default)]
    author: Option<User>,
    #[serde(default)]
    body: Option<Value>,
}

/// Longest excerpt of a comment kept in the audit log.
const EXCERPT_CHARS: usize = 280;

/// Reads one Jira delivery.
pub fn parse_jira_delivery(body: &[u8]) -> Result<ParsedJiraDelivery, JiraPayloadError> {
    let deserializer = &mut serde_json::Deserializer::from_slice(body);
    let delivery: Delivery =
        serde_path_to_error::deserialize(deserializer).map_err(|e| JiraPayloadError {
            path: e.path().to_string(),
            message: e.inner().to_string(),
        })?;
    let ignored = |reason: String| Ok(ParsedJiraDelivery::Ignored { reason });
    let Some(issue) = delivery.issue else {
        // Data Center's comment events carry the comment only, not its issue.
        return ignored(format!(
            "`{}` delivery names no issue",
            delivery.webhook_event
        ));
    };
    let actor = delivery
        .user
        .as_ref()
        .and_then(|u| u.display_name.clone().or_else(|| u.name.clone()));
    let actor_id = delivery.user.as_ref().and_then(User::id);
    let change = match delivery.webhook_event.as_str() {
        "jira:issue_updated" => {
            let fields = issue.fields.unwrap_or_default();
            let Some(status) = fields.status else {
                return Err(JiraPayloadError {
                    path: "issue.fields.status".into(),
                    message: "missing".into(),
                });
            };
            let category = match status.category.as_ref().map(|c| c.key.as_str()) {
                Some("new") => StatusCategory::New,
                Some("indeterminate") => StatusCategory::InProgress,
                Some("done") => StatusCategory::Done,
                other => {
                    return Err(JiraPayloadError {
                        path: "issue.fields.status.statusCategory.key".into(),
                        message: format!("unknown status category {other:?}"),
                    });
                }
            };
            let items = delivery.changelog.unwrap_or_default().items;
            let assignee_changed = items.iter().find(|i| i.field == "assignee").map(|i| {
                // `to` is the accountId (Cloud) or user name (Data Center); `toString` the name.
                i.to.as_ref()
                    .and_then(Value::as_str)
                    .map(str::to_owned)
                    .or_else(|| i.to_string.clone())
            });
            TicketChange::Updated {
                status: category,
                status_name: status.name,
                resolution: fields.resolution.and_then(|r| r.name),
                assignee_changed,
            }
        }
        "jira:issue_deleted" => TicketChange::Deleted,
        "comment_created" => {
            let comment = delivery.comment.unwrap_or(Comment {
                author: None,
                body: None,
            });
            let author = comment
                .author
                .as_ref()
                .and_then(|a| a.display_name.clone().or_else(|| a.id()))
                .unwrap_or_default();
            let text = match comment.body {
                Some(Value::String(text)) => text,
                Some(adf) => adf_text(&adf),
                None => String::new(),
            };
            let comment_author_id = comment.author.as_ref().and_then(User::id);
            return Ok(ParsedJiraDelivery::Ticket(TicketEvent {
                tracker: "jira".into(),
                ticket_key: issue.key,
                change: TicketChange::Commented {
                    author,
                    excerpt: text.chars().take(EXCERPT_CHARS).collect(),
                },
                actor,
                actor_id: comment_author_id.or(actor_id),
            }));
        }
        other => return ignored(format!("`{other}` is not an event scantix acts on")),
    };
    Ok(ParsedJiraDelivery::Ticket(TicketEvent {
        tracker: "jira".into(),
        ticket_key: issue.key,
        change,
        actor,
        actor_id,
    }))
}

/// The plain text of an ADF document (Cloud sends comment bodies as ADF to v3 webhooks).
fn adf_text(node: &Value) -> String {
    let mut out = String::new();
    if let Some(text) = node.get("text").and_then(Value::as_str) {
        out.push_str(text);
    }
    if let Some(children) = node.get("content").and_then(Value::as_array) {
        for child in children {
            out.push_str(&adf_text(child));
        }
        if node.get("type").and_then(Value::as_str) == Some("paragraph") {
            out.push('\n');
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn fixture(name: &str) -> Vec<u8> {
        let path = format!(
            "{}/../../../shared/fixtures/jira-webhooks/mattermost-plugin-jira/{name}",
            env!("CARGO_MANIFEST_DIR")
        );
        std::fs::read(&path).unwrap_or_else(|e| panic!("{path}: {e}"))
    }

    fn ticket(name: &str) -> TicketEvent {
        match parse_jira_delivery(&fixture(name)).unwrap() {
            ParsedJiraDelivery::Ticket(t) => t,
            other => panic!("{name}: {other:?}"),
        }
    }

    #[test]
    fn every_real_delivery_parses() {
        let dir = format!(
            "{}/../../../shared/fixtures/jira-webhooks/mattermost-plugin-jira",
            env!("CARGO_MANIFEST_DIR")
        );
        let mut count = 0;
        for entry in std::fs::read_dir(dir).unwrap() {
            let path = entry.unwrap().path();
            if path.extension().is_some_and(|e| e == "json") {
                parse_jira_delivery(&std::fs::read(&path).unwrap())
                    .unwrap_or_else(|e| panic!("{}: {e}", path.display()));
                count += 1;
            }
        }
        assert_eq!(count, 23);
    }

    #[test]
    fn a_resolved_issue_is_done_with_its_resolution_on_cloud_and_server() {
        for name in [
            "webhook-issue-updated-resolved.json",
            "webhook-server-issue-updated-resolved.json",
            "webhook-server-issue-updated-closed.json",
        ] {
            let event = ticket(name);
            assert!(
                matches!(&event.change, TicketChange::Updated { status: StatusCategory::Done, resolution: Some(r), .. } if r == "Done"),
                "{name}: {event:?}"
            );
        }
        assert_eq!(
            ticket("webhook-issue-updated-resolved.json").ticket_key,
            "TES-41"
        );
        assert_eq!(
            ticket("webhook-server-issue-updated-resolved.json")
                .actor_id
                .as_deref(),
            Some("admin")
        );
    }

    #[test]
    fn status_comes_from_the_category_not_the_name() {
        let started = ticket("webhook-issue-updated-started-working.json");
        assert!(matches!(
            started.change,
            TicketChange::Updated {
                status: StatusCategory::InProgress,
                ..
            }
        ));
        let reopened = ticket("webhook-issue-updated-reopened.json");
        assert!(matches!(
            reopened.change,
            TicketChange::Updated {
                status: StatusCategory::New,
                resolution: None,
                ..
            }
        ));
    }

    #[test]
    fn assignee_changes_are_read_from_the_changelog() {
        let assigned = ticket("webhook-issue-updated-assigned.json");
        assert!(
            matches!(
                assigned.change,
                TicketChange::Updated {
                    assignee_changed: Some(Some(_)),
                    ..
                }
            ),
            "{assigned:?}"
        );
        let nobody = ticket("webhook-issue-updated-assigned-nobody.json");
        assert!(
            matches!(
                nobody.change,
                TicketChange::Updated {
                    assignee_changed: Some(None),
                    ..
                }
            ),
            "{nobody:?}"
        );
        let edited = ticket("webhook-issue-updated-edited.json");
        assert!(matches!(
            edited.change,
            TicketChange::Updated {
                assignee_changed: None,
                ..
            }
        ));
    }

    #[test]
    fn deletions_and_comments_are_events_and_the_rest_is_ignored() {
        assert_eq!(
            ticket("webhook-issue-deleted.json").change,
            TicketChange::Deleted
        );
        let comment = ticket("webhook-cloud-comment-created.json");
        assert!(
            matches!(&comment.change, TicketChange::Commented { excerpt, .. } if excerpt.starts_with("Added a comment"))
        );
        assert_eq!(
            comment.actor_id.as_deref(),
            Some("5c5f880629be9642ba529340")
        );
        for name in [
            "webhook-server-comment-created.json",
            "webhook-cloud-comment-deleted.json",
            "webhook-issue-created.json",
        ] {
            assert!(
                matches!(
                    parse_jira_delivery(&fixture(name)).unwrap(),
                    ParsedJiraDelivery::Ignored { .. }
                ),
                "{name}"
            );
        }
    }

    #[test]
    fn malformed_bodies_are_errors_with_a_path() {
        assert!(parse_jira_delivery(b"{").is_err());
        let err =
            parse_jira_delivery(br#"{"webhookEvent":"jira:issue_updated","issue":{"key":7}}"#)
                .unwrap_err();
        assert_eq!(err.path, "issue.key");
    }
}
