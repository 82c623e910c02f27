//! `issues` deliveries → `TicketEvent`s: what people do to scantix's tickets in GitHub Issues, in
//! the shape Jira's deliveries take (`crate::jira`), so that `scantix_core::decide::ticket` treats
//! both alike.
//!
//! - `closed` → the ticket is done. GitHub's `state_reason` stands for Jira's resolution, named
//!   as `Config::resolutions` names them: `not_planned` ("Close as not planned": won't fix, can't
//!   reproduce, stale) is `Won't Fix` and `duplicate` is `Duplicate`, which dismiss the alerts in
//!   GitHub; `completed` (or no reason) is `Completed`, which has GitHub verify the fix first.
//! - `reopened` → the ticket is open again; `deleted` → the ticket is gone.
//! - `assigned` / `unassigned` → the ticket's assignee is now the issue's first assignee (or
//!   nobody), in the issue's state.
//! - Every other action (`opened`, `edited`, `labeled`, `transferred`, …) is ignored.
//!
//! Two kinds of delivery are ignored before anything is looked up: issues that are not scantix
//! tickets (neither the group label nor the group marker: most issues of a repository the App is
//! installed on), and echoes of scantix's own changes — the sender is a GitHub App's bot account
//! (`type: Bot`, login ending `[bot]`) and the same account opened the issue, which for a scantix
//! ticket is scantix's App. (Echoes that slip through are harmless: `decide_ticket` ignores a move
//! to the state already recorded.)

use super::alert::PayloadError;
use scantix_core::event::{StatusCategory, TicketChange, TicketEvent};
use scantix_core::identity::GroupKey;
use scantix_core::ticket::github_issue::{IssueKey, RepoName, TRACKER_NAME};
use serde::Deserialize;
use serde_json::Value;

/// The resolution a ticket closed as "not planned" in GitHub gets: the name the default
/// `resolutions` map to a won't-fix dismissal.
pub const NOT_PLANNED_RESOLUTION: &str = "Won't Fix";

/// What one `issues` delivery means to scantix.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ParsedIssuesDelivery {
    Ticket(TicketEvent),
    Ignored { reason: String },
}

#[derive(Deserialize)]
struct Delivery {
    issue: Issue,
    repository: Repository,
    #[serde(default)]
    sender: Option<User>,
}

#[derive(Deserialize)]
struct Issue {
    number: u64,
    #[serde(default)]
    state_reason: Option<String>,
    #[serde(default)]
    labels: Vec<scantix_core::ticket::github_issue::Label>,
    #[serde(default)]
    body: Option<String>,
    #[serde(default)]
    user: Option<User>,
    #[serde(default)]
    pull_request: Option<Value>,
    #[serde(default)]
    state: Option<String>,
    #[serde(default)]
    assignees: Vec<User>,
}

#[derive(Deserialize)]
struct Repository {
    full_name: String,
}

#[derive(Deserialize)]
struct User {
    #[serde(default)]
    login: String,
    #[serde(rename = "type", default)]
    kind: Option<String>,
}

impl User {
    /// A GitHub App's bot account (`scantix[bot]`).
    fn is_app_bot(&self) -> bool {
        self.kind.as_deref() == Some("Bot") && self.login.ends_with("[bot]")
    }
}

/// Reads one `issues` delivery (its signature already checked).
pub fn parse_issues_delivery(body: &[u8]) -> Result<ParsedIssuesDelivery, PayloadError> {
    let payload: Value = serde_json::from_slice(body).map_err(|e| PayloadError::NotJson {
        line: e.line(),
        column: e.column(),
        message: e.to_string(),
    })?;
    let ignored = |reason: String| Ok(ParsedIssuesDelivery::Ignored { reason });
    let Some(action) = payload.get("action").and_then(Value::as_str) else {
        return ignored("`issues` delivery without an action".into());
    };
    // Decided before the issue is read, so an action GitHub adds later (with a shape of its own)
    // is ignored rather than refused.
    if !matches!(
        action,
        "closed" | "reopened" | "deleted" | "assigned" | "unassigned"
    ) {
        return ignored(format!(
            "`issues` action `{action}` is not one scantix acts on"
        ));
    }
    let delivery: Delivery =
        serde_path_to_error::deserialize(&payload).map_err(|e| PayloadError::Invalid {
            path: e.path().to_string(),
            message: e.inner().to_string(),
        })?;
    let issue = &delivery.issue;
    if issue.pull_request.is_some() {
        return ignored("a pull request, not a ticket".into());
    }
    let is_scantix_ticket = issue.labels.iter().any(|l| GroupKey::is_label(l.name()))
        || issue
            .body
            .as_deref()
            .is_some_and(|b| b.contains(scantix_core::ticket::markdown::GROUP_MARKER_PREFIX));
    if !is_scantix_ticket {
        return ignored(format!(
            "issue #{} is not a scantix ticket (no group label or marker)",
            issue.number
        ));
    }
    if let (Some(sender), Some(author)) = (&delivery.sender, &issue.user)
        && sender.is_app_bot()
        && sender.login == author.login
    {
        return ignored(format!(
            "an echo of scantix's own change (by {})",
            sender.login
        ));
    }
    let repo =
        RepoName::parse(&delivery.repository.full_name).map_err(|why| PayloadError::Invalid {
            path: "repository.full_name".into(),
            message: why,
        })?;
    let key = IssueKey {
        repo,
        number: issue.number,
    };
    let change = match action {
        "closed" => TicketChange::Updated {
            status: StatusCategory::Done,
            status_name: "closed".into(),
            resolution: Some(resolution(issue.state_reason.as_deref()).into()),
            assignee_changed: None,
        },
        "reopened" => TicketChange::Updated {
            status: StatusCategory::New,
            status_name: "open".into(),
            resolution: None,
            assignee_changed: None,
        },
        "assigned" | "unassigned" => {
            let closed = issue.state.as_deref() == Some("closed");
            TicketChange::Updated {
                status: if closed {
                    StatusCategory::Done
                } else {
                    StatusCategory::New
                },
                status_name: if closed { "closed" } else { "open" }.into(),
                resolution: closed.then(|| resolution(issue.state_reason.as_deref()).into()),
                assignee_changed: Some(
                    issue
                        .assignees
                        .iter()
                        .map(|a| a.login.clone())
                        .find(|login| !login.is_empty()),
                ),
            }
        }
        _ => TicketChange::Deleted,
    };
    let login = delivery
        .sender
        .map(|s| s.login)
        .filter(|login| !login.is_empty());
    Ok(ParsedIssuesDelivery::Ticket(TicketEvent {
        tracker: TRACKER_NAME.into(),
        ticket_key: key.to_string(),
        change,
        actor: login.clone(),
        actor_id: login,
    }))
}

/// GitHub's `state_reason` in the words of `Config::resolutions`.
fn resolution(state_reason: Option<&str>) -> &'static str {
    match state_reason {
        Some("not_planned") => NOT_PLANNED_RESOLUTION,
        Some("duplicate") => "Duplicate",
        _ => "Completed",
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use scantix_core::config::Config;
    use scantix_core::finding::DismissReason;
    use serde_json::json;

    /// The real `issues` delivery (octocrab's test suite), made a scantix ticket's `action`.
    fn delivery(action: &str, edits: &[(&str, Value)]) -> Vec<u8> {
        let path = format!(
            "{}/../../../shared/fixtures/github-webhooks/octocrab/webhooks/issues_opened_webhook_event.json",
            env!("CARGO_MANIFEST_DIR")
        );
        let mut payload: Value =
            serde_json::from_slice(&std::fs::read(&path).unwrap_or_else(|e| panic!("{path}: {e}")))
                .unwrap();
        payload["action"] = json!(action);
        payload["issue"]["labels"] = json!([{"name": "scantix"}, {"name": "scantix-0a1b2c3d4e5f"}]);
        for (field, value) in edits {
            let mut target = &mut payload;
            for part in field.split('.') {
                target = &mut target[part];
            }
            *target = value.clone();
        }
        serde_json::to_vec(&payload).unwrap()
    }

    fn event(action: &str, edits: &[(&str, Value)]) -> TicketEvent {
        match parse_issues_delivery(&delivery(action, edits)).unwrap() {
            ParsedIssuesDelivery::Ticket(event) => event,
            other => panic!("{action}: {other:?}"),
        }
    }

    fn reason(action: &str, edits: &[(&str, Value)]) -> String {
        match parse_issues_delivery(&delivery(action, edits)).unwrap() {
            ParsedIssuesDelivery::Ignored { reason } => reason,
            other => panic!("{action}: {other:?}"),
        }
    }

    #[test]
    fn closing_as_completed_is_done_and_asks_for_verification() {
        let closed = event(
            "closed",
            &[
                ("issue.state", json!("closed")),
                ("issue.state_reason", json!("completed")),
            ],
        );
        assert_eq!(closed.tracker, "github");
        assert_eq!(closed.ticket_key, "gagbo/circadian.nvim#1");
        assert_eq!(closed.actor_id.as_deref(), Some("gagbo"));
        let TicketChange::Updated {
            status, resolution, ..
        } = &closed.change
        else {
            panic!("{closed:?}");
        };
        assert_eq!(*status, StatusCategory::Done);
        assert_eq!(
            Config::default().dismissal_for(resolution.as_deref().unwrap()),
            None
        );
    }

    #[test]
    fn not_planned_and_duplicate_mean_dismissal_under_the_default_resolutions() {
        for (state_reason, expected) in [
            ("not_planned", DismissReason::WontFix),
            ("duplicate", DismissReason::WontFix),
        ] {
            let event = event("closed", &[("issue.state_reason", json!(state_reason))]);
            let TicketChange::Updated {
                resolution: Some(resolution),
                ..
            } = &event.change
            else {
                panic!("{event:?}");
            };
            assert_eq!(
                Config::default().dismissal_for(resolution),
                Some(expected),
                "{state_reason}"
            );
        }
    }

    #[test]
    fn an_assignment_names_the_issues_first_assignee() {
        let assigned = event(
            "assigned",
            &[
                ("assignee", json!({"login": "octo-dev", "type": "User"})),
                (
                    "issue.assignees",
                    json!([{"login": "octo-dev", "type": "User"}]),
                ),
            ],
        );
        assert!(
            matches!(
                &assigned.change,
                TicketChange::Updated { status: StatusCategory::New, assignee_changed: Some(Some(who)), .. }
                    if who == "octo-dev"
            ),
            "{assigned:?}"
        );
        let unassigned = event("unassigned", &[("issue.assignees", json!([]))]);
        assert!(
            matches!(
                unassigned.change,
                TicketChange::Updated {
                    assignee_changed: Some(None),
                    ..
                }
            ),
            "{unassigned:?}"
        );
    }

    #[test]
    fn reopening_and_deleting_are_events() {
        let reopened = event("reopened", &[("issue.state_reason", json!("reopened"))]);
        assert!(matches!(
            reopened.change,
            TicketChange::Updated {
                status: StatusCategory::New,
                resolution: None,
                ..
            }
        ));
        assert_eq!(event("deleted", &[]).change, TicketChange::Deleted);
    }

    #[test]
    fn keys_match_what_the_adapter_records_whatever_the_case() {
        let closed = event(
            "closed",
            &[
                ("repository.full_name", json!("Acme/Shop")),
                ("issue.number", json!(12)),
            ],
        );
        assert_eq!(closed.ticket_key, "acme/shop#12");
    }

    #[test]
    fn scantixs_own_changes_and_other_issues_are_ignored_without_a_lookup() {
        let bot = json!({"login": "scantix[bot]", "id": 1, "type": "Bot"});
        assert!(
            reason(
                "closed",
                &[("sender", bot.clone()), ("issue.user", bot.clone())]
            )
            .contains("echo")
        );
        // Another App's bot closing scantix's ticket is a person's act by proxy: acted on.
        let other_bot = json!({"login": "stale[bot]", "id": 2, "type": "Bot"});
        event("closed", &[("sender", other_bot), ("issue.user", bot)]);
        assert!(
            reason("closed", &[("issue.labels", json!([{"name": "bug"}]))])
                .contains("not a scantix ticket")
        );
        // The marker alone is enough (a person removed the labels).
        event(
            "closed",
            &[
                ("issue.labels", json!([])),
                (
                    "issue.body",
                    json!("x\n<!-- scantix:group=42/code%2Dscanning -->"),
                ),
            ],
        );
        for action in ["opened", "edited", "labeled", "transferred", "pinned"] {
            assert!(
                reason(action, &[]).contains("not one scantix acts on"),
                "{action}"
            );
        }
        let pull = reason("closed", &[("issue.pull_request", json!({"url": "x"}))]);
        assert!(pull.contains("pull request"));
    }

    #[test]
    fn the_real_opened_delivery_is_ignored_and_broken_ones_are_errors() {
        let path = format!(
            "{}/../../../shared/fixtures/github-webhooks/octocrab/webhooks/issues_opened_webhook_event.json",
            env!("CARGO_MANIFEST_DIR")
        );
        let real = std::fs::read(&path).unwrap();
        assert!(matches!(
            parse_issues_delivery(&real),
            Ok(ParsedIssuesDelivery::Ignored { .. })
        ));
        assert!(matches!(
            parse_issues_delivery(b"{"),
            Err(PayloadError::NotJson { .. })
        ));
        let err = parse_issues_delivery(&delivery("closed", &[("issue.number", json!("one"))]))
            .unwrap_err();
        assert!(
            matches!(err, PayloadError::Invalid { ref path, .. } if path == "issue.number"),
            "{err}"
        );
        let err = parse_issues_delivery(&delivery(
            "closed",
            &[("repository.full_name", json!("../x"))],
        ))
        .unwrap_err();
        assert!(
            matches!(err, PayloadError::Invalid { ref path, .. } if path == "repository.full_name"),
            "{err}"
        );
    }
}
