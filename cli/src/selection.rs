//! Which tickets a command acts on: `scantix tickets`' filters (`--repo`, `--kind`, `--severity`,
//! `--state`, `--rule`, `--owner`, `--older-than`, `--overdue`), read through the store's
//! by-state lists (`List::State`), never a scan, and the keys people type (`DRAFT-1A2B3C4D`,
//! `SEC-42`, or a group key).

use anyhow::Context;
use chrono::{DateTime, Duration, Utc};
use clap::Args;
use scantix_core::finding::{AlertKind, Severity};
use scantix_core::identity::GroupKey;
use scantix_core::ports::store::{List, Store, read_all};
use scantix_core::records::{DRAFT_TRACKER, GroupRecord, TicketState};
use std::sync::Arc;

/// Every ticket state, in the order listings walk them.
const STATES: [TicketState; 6] = [
    TicketState::Draft,
    TicketState::Open,
    TicketState::InProgress,
    TicketState::Reopened,
    TicketState::Stale,
    TicketState::Resolved,
];

/// The filters of `scantix tickets` (each repeatable; a ticket matches when it matches every
/// filter given, and any of the values of each).
#[derive(Debug, Clone, Default, Args)]
pub struct Filters {
    /// Tickets of this repository (owner/name).
    #[arg(long, global = true, value_name = "OWNER/NAME")]
    pub repo: Vec<String>,
    /// Tickets of this kind: code-scanning, dependabot, secret-scanning, sarif.
    #[arg(long, global = true, value_parser = parse_kind)]
    pub kind: Vec<AlertKind>,
    /// Tickets filed at this severity: critical, high, medium, low, note, unknown.
    #[arg(long, global = true, value_parser = parse_severity)]
    pub severity: Vec<Severity>,
    /// Tickets in this state: draft, open, in_progress, reopened, stale, resolved.
    #[arg(long, global = true, value_parser = parse_state)]
    pub state: Vec<TicketState>,
    /// Tickets of this rule (or advisory) id.
    #[arg(long, global = true, value_name = "ID")]
    pub rule: Vec<String>,
    /// Tickets assigned to this tracker user.
    #[arg(long, global = true, value_name = "USER")]
    pub owner: Vec<String>,
    /// Tickets whose group is older than this: `30d`, `12h`, `2w`.
    #[arg(long, global = true, value_name = "AGE", value_parser = parse_age)]
    pub older_than: Option<Duration>,
    /// Tickets past their due date and not closed.
    #[arg(long, global = true)]
    pub overdue: bool,
}

impl Filters {
    /// Whether no filter is given.
    pub fn is_empty(&self) -> bool {
        self.repo.is_empty()
            && self.kind.is_empty()
            && self.severity.is_empty()
            && self.state.is_empty()
            && self.rule.is_empty()
            && self.owner.is_empty()
            && self.older_than.is_none()
            && !self.overdue
    }

    /// Whether `group` has a ticket and it matches every filter given.
    pub fn matches(&self, group: &GroupRecord, now: DateTime<Utc>) -> bool {
        let any = |values: &[String], value: &str| {
            values.is_empty() || values.iter().any(|v| v.eq_ignore_ascii_case(value))
        };
        group.ticket.is_some()
            && any(&self.repo, &group.repository.full_name)
            && (self.kind.is_empty() || self.kind.contains(&group.kind))
            && (self.severity.is_empty() || self.severity.contains(&group.severity()))
            && (self.state.is_empty() || self.state.contains(&group.ticket_state))
            && (self.rule.is_empty() || self.rule.contains(&group.rule.id))
            && (self.owner.is_empty()
                || group
                    .assignee
                    .as_deref()
                    .is_some_and(|a| any(&self.owner, a)))
            && self
                .older_than
                .is_none_or(|age| group.created_at <= now - age)
            && (!self.overdue
                || (!group.ticket_state.is_closed()
                    && group
                        .due()
                        .is_some_and(|due| scantix_core::sla::is_overdue(due, now))))
    }

    /// The tickets these filters select, read state by state from the store's lists.
    pub async fn select(
        &self,
        store: &Arc<dyn Store>,
        now: DateTime<Utc>,
    ) -> anyhow::Result<Vec<GroupRecord>> {
        let states: Vec<TicketState> = if self.state.is_empty() {
            STATES.to_vec()
        } else {
            self.state.clone()
        };
        let mut selected = Vec::new();
        for state in states {
            let list = List::State(state);
            let groups = read_all(|after| {
                let (store, list) = (store.clone(), list.clone());
                async move { store.groups_in(&list, after.as_deref(), 200).await }
            })
            .await
            .with_context(|| format!("listing the {state} tickets"))?;
            selected.extend(
                groups
                    .into_iter()
                    .map(|g| g.value)
                    .filter(|g| self.matches(g, now)),
            );
        }
        Ok(selected)
    }

    /// The drafts these filters select.
    pub async fn select_drafts(
        &self,
        store: &Arc<dyn Store>,
        now: DateTime<Utc>,
    ) -> anyhow::Result<Vec<GroupRecord>> {
        let mut drafts = self.select(store, now).await?;
        drafts.retain(GroupRecord::is_draft);
        Ok(drafts)
    }
}

/// The group a typed key names: a draft's key (`DRAFT-…`), a tracker's (`SEC-42`,
/// `owner/repo#7`), or a group key.
pub async fn group_named(
    store: &Arc<dyn Store>,
    tracker: &str,
    key: &str,
) -> anyhow::Result<GroupRecord> {
    for tracker in [DRAFT_TRACKER, tracker] {
        if let Some(group) = store
            .group_for_ticket(tracker, key)
            .await
            .with_context(|| format!("looking up ticket {key}"))?
            && let Some(found) = store.get_group(&group).await?
        {
            return Ok(found.value);
        }
    }
    match store
        .get_group(&GroupKey::from_stored(key.to_owned()))
        .await
        .with_context(|| format!("looking up group {key}"))?
    {
        Some(found) => Ok(found.value),
        None => anyhow::bail!(
            "no ticket or group `{key}` in the store (see `scantix drafts` and `scantix tickets`)"
        ),
    }
}

fn parse_kind(text: &str) -> Result<AlertKind, String> {
    let wanted = text.trim().to_ascii_lowercase().replace('_', "-");
    [
        AlertKind::CodeScanning,
        AlertKind::Dependabot,
        AlertKind::SecretScanning,
        AlertKind::Sarif,
    ]
    .into_iter()
    .find(|k| k.as_str() == wanted)
    .ok_or_else(|| {
        format!("`{text}`: expected code-scanning, dependabot, secret-scanning or sarif")
    })
}

/// A severity, or a priority `P1`–`P4` (critical to low).
pub fn parse_severity(text: &str) -> Result<Severity, String> {
    match text.trim().to_ascii_uppercase().as_str() {
        "P1" => return Ok(Severity::Critical),
        "P2" => return Ok(Severity::High),
        "P3" => return Ok(Severity::Medium),
        "P4" => return Ok(Severity::Low),
        "UNKNOWN" => return Ok(Severity::Unknown),
        _ => {}
    }
    Severity::parse_loose(text).ok_or_else(|| {
        format!("`{text}`: expected critical, high, medium, low, note, unknown, or P1 to P4")
    })
}

fn parse_state(text: &str) -> Result<TicketState, String> {
    let wanted = text.trim().to_ascii_lowercase().replace('-', "_");
    STATES
        .into_iter()
        .find(|s| s.as_str() == wanted)
        .ok_or_else(|| {
            format!("`{text}`: expected draft, open, in_progress, reopened, stale or resolved")
        })
}

/// `30d`, `12h`, `2w`.
fn parse_age(text: &str) -> Result<Duration, String> {
    let text = text.trim();
    let unit_at = text.len().saturating_sub(1);
    let (number, unit) = (text.get(..unit_at), text.get(unit_at..));
    let n: i64 = number
        .and_then(|n| n.parse().ok())
        .filter(|n| *n >= 0)
        .ok_or_else(|| format!("`{text}`: expected a number and a unit, as in 30d, 12h or 2w"))?;
    match unit {
        Some("h") => Ok(Duration::hours(n)),
        Some("d") => Ok(Duration::days(n)),
        Some("w") => Ok(Duration::weeks(n)),
        _ => Err(format!("`{text}`: the unit is h, d or w (30d, 12h, 2w)")),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ages_priorities_and_states_read_as_people_type_them() {
        assert_eq!(parse_age("30d"), Ok(Duration::days(30)));
        assert_eq!(parse_age("2w"), Ok(Duration::weeks(2)));
        assert!(parse_age("30").is_err());
        assert!(parse_age("d").is_err());
        assert!(parse_age("-3d").is_err());
        assert_eq!(parse_severity("P1"), Ok(Severity::Critical));
        assert_eq!(parse_severity("high"), Ok(Severity::High));
        assert!(parse_severity("urgent").is_err());
        assert_eq!(parse_state("in-progress"), Ok(TicketState::InProgress));
        assert_eq!(parse_kind("secret_scanning"), Ok(AlertKind::SecretScanning));
    }
}
