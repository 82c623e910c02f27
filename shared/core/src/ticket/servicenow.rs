//! How a ticket in ServiceNow is named and read: the tracker's name in `TicketRef::tracker`, a
//! record's `sys_id` (`SysId`), the `correlation_id` a group's record carries, and what a table's
//! state values mean (`ServiceNowStates`). The ServiceNow adapter (`scantix_servicenow`) writes
//! these and the receiver of the business rule's deliveries (`scantix_webhooks::servicenow`) reads
//! them back, so both take them from here.

use crate::identity::GroupKey;
use serde::{Deserialize, Serialize};
use std::fmt;

/// The tracker's name in `TicketRef::tracker`.
pub const TRACKER_NAME: &str = "servicenow";

/// What `correlation_display` says on every record scantix files: how the business rule tells
/// scantix's records from everyone else's (see `infra/servicenow/`).
pub const CORRELATION_DISPLAY: &str = "scantix";

/// The longest `correlation_id` a record holds: the field's length in the base system
/// (`task.correlation_id`, String (100)).
pub const CORRELATION_ID_MAX: usize = 100;

/// The `correlation_id` of `group`'s record: the group key itself where it fits the field and holds
/// nothing an encoded query treats specially (`^` joins conditions, `=` and `,` are operators or
/// separators: no escaping is documented for them), else the group's digest label
/// (`scantix-3f2a9c1b0d4e`). Either way one group has one value, so a lookup by it is exact.
pub fn correlation_id(group: &GroupKey) -> String {
    let key = group.as_str();
    let plain = !key.is_empty()
        && key.len() <= CORRELATION_ID_MAX
        && key
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b"/:._-@".contains(&b));
    if plain { key.to_owned() } else { group.label() }
}

/// A record's `sys_id`: 32 hexadecimal digits. Checked before it goes into a URL path, so a key
/// that did not come from ServiceNow reaches no URL.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct SysId(String);

impl SysId {
    pub fn parse(text: &str) -> Result<SysId, String> {
        let text = text.trim();
        if text.len() == 32 && text.bytes().all(|b| b.is_ascii_hexdigit()) {
            Ok(SysId(text.to_ascii_lowercase()))
        } else {
            let shown: String = text.chars().take(40).filter(|c| !c.is_control()).collect();
            Err(format!(
                "`{shown}` is not a ServiceNow sys_id (32 hex digits)"
            ))
        }
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Display for SysId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// What a state value means to scantix: the one thing about a state every table agrees on.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum StateCategory {
    /// To do (incident: New).
    New,
    /// Being worked on, or waiting (incident: In Progress, On Hold).
    InProgress,
    /// Done: scantix verifies the closure against GitHub (incident: Resolved, Closed).
    Resolved,
    /// Given up: the group's alerts are dismissed as "won't fix" (incident: Canceled).
    Canceled,
}

/// What a table's state values mean, by category. The first value of each list is the one scantix
/// writes to move a record into that category. The defaults are the incident table's choices
/// (1 New, 2 In Progress, 3 On Hold, 6 Resolved, 7 Closed, 8 Canceled); another table (a
/// Vulnerability Response one, a custom task table) names its own.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case", deny_unknown_fields, default)]
pub struct ServiceNowStates {
    pub new: Vec<String>,
    pub in_progress: Vec<String>,
    pub resolved: Vec<String>,
    pub canceled: Vec<String>,
    /// The state a stale ticket is moved to; `None` (the default) leaves its state as it is, as
    /// the work note scantix adds says why.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub stale: Option<String>,
    /// The resolution a canceled record counts as, looked up in the configuration's `resolutions`
    /// (where "Won't Fix" dismisses as won't fix).
    pub canceled_resolution: String,
}

impl Default for ServiceNowStates {
    fn default() -> Self {
        let values = |v: &[&str]| v.iter().map(|s| (*s).to_owned()).collect();
        ServiceNowStates {
            new: values(&["1"]),
            in_progress: values(&["2", "3"]),
            resolved: values(&["6", "7"]),
            canceled: values(&["8"]),
            stale: None,
            canceled_resolution: "Won't Fix".into(),
        }
    }
}

impl ServiceNowStates {
    /// The category of state `value`; `None` for a value no list names.
    pub fn category(&self, value: &str) -> Option<StateCategory> {
        let value = value.trim();
        let has = |list: &[String]| list.iter().any(|v| v.trim() == value);
        if has(&self.new) {
            Some(StateCategory::New)
        } else if has(&self.in_progress) {
            Some(StateCategory::InProgress)
        } else if has(&self.resolved) {
            Some(StateCategory::Resolved)
        } else if has(&self.canceled) {
            Some(StateCategory::Canceled)
        } else {
            None
        }
    }

    /// The value scantix writes to move a record into `category`.
    pub fn value_for(&self, category: StateCategory) -> &str {
        let list = match category {
            StateCategory::New => &self.new,
            StateCategory::InProgress => &self.in_progress,
            StateCategory::Resolved => &self.resolved,
            StateCategory::Canceled => &self.canceled,
        };
        list.first().map_or("", |v| v.trim())
    }

    /// Checks that every category has a value and no value has two categories; the error says
    /// which list to fix.
    pub fn check(&self) -> Result<(), String> {
        let lists = [
            ("new", &self.new),
            ("in-progress", &self.in_progress),
            ("resolved", &self.resolved),
            ("canceled", &self.canceled),
        ];
        let mut seen: Vec<(&str, &str)> = Vec::new();
        for (name, list) in lists {
            if list.is_empty() || list.iter().any(|v| v.trim().is_empty()) {
                return Err(format!(
                    "`states.{name}` needs at least one state value, none empty"
                ));
            }
            for value in list {
                if let Some((other, _)) = seen.iter().find(|(_, v)| *v == value.trim()) {
                    return Err(format!(
                        "state value `{}` is in both `states.{other}` and `states.{name}`",
                        value.trim()
                    ));
                }
                seen.push((name, value.trim()));
            }
        }
        if self.stale.as_deref().is_some_and(|s| s.trim().is_empty()) {
            return Err("`states.stale` is empty: remove it or name a state value".into());
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_incident_tables_states_by_category() {
        let states = ServiceNowStates::default();
        assert_eq!(states.check(), Ok(()));
        for (value, category) in [
            ("1", StateCategory::New),
            ("2", StateCategory::InProgress),
            ("3", StateCategory::InProgress),
            ("6", StateCategory::Resolved),
            ("7", StateCategory::Resolved),
            ("8", StateCategory::Canceled),
        ] {
            assert_eq!(states.category(value), Some(category), "{value}");
        }
        assert_eq!(states.category("42"), None);
        assert_eq!(states.value_for(StateCategory::Resolved), "6");
        assert_eq!(states.value_for(StateCategory::InProgress), "2");
    }

    #[test]
    fn a_value_in_two_lists_or_an_empty_list_is_refused() {
        let mut states = ServiceNowStates::default();
        states.canceled.push("7".into());
        assert!(states.check().unwrap_err().contains("`7`"));
        let mut states = ServiceNowStates::default();
        states.new.clear();
        assert!(states.check().unwrap_err().contains("states.new"));
        let parsed: Result<ServiceNowStates, _> =
            serde_json::from_value(serde_json::json!({"resolvd": ["6"]}));
        assert!(parsed.is_err(), "a typo is an error");
    }

    #[test]
    fn a_correlation_id_is_the_key_where_it_can_be_and_the_digest_otherwise() {
        let plain = GroupKey::from_stored("42/code-scanning/rule:CodeQL:js/xss");
        assert_eq!(correlation_id(&plain), plain.as_str());
        let caret = GroupKey::from_stored("42/code-scanning/rule:x:a^ORactive=true");
        assert_eq!(correlation_id(&caret), caret.label());
        let long = GroupKey::from_stored(format!("42/sarif/rule:x:{}", "a".repeat(100)));
        assert_eq!(correlation_id(&long), long.label());
        assert!(correlation_id(&long).len() <= CORRELATION_ID_MAX);
    }

    #[test]
    fn only_sys_ids_are_sys_ids() {
        assert!(SysId::parse("a9e30c7dc61122760116894de7bcc7bd").is_ok());
        for bad in [
            "",
            "INC0010001",
            "../../sys_user",
            "a9e30c7dc61122760116894de7bcc7bz",
        ] {
            assert!(SysId::parse(bad).is_err(), "{bad}");
        }
    }
}
