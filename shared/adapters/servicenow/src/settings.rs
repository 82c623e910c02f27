//! What the ServiceNow adapter is told: where the instance is, which table tickets go in and how
//! their fields are filled (`ServiceNowSettings`, from `SERVICENOW_SETTINGS` or the
//! `SERVICENOW_*` variables), and who it acts as (`ServiceNowAuth`, kept apart so that it is never
//! serialised or logged). The state values and their meaning are the core's
//! (`scantix_core::ticket::servicenow::ServiceNowStates`), which the receiver of the business
//! rule's deliveries reads too.

use scantix_core::finding::Severity;
use scantix_core::secret::Secret;
pub use scantix_core::ticket::servicenow::{ServiceNowStates, StateCategory};
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;

/// Where tickets go and what they carry.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case", deny_unknown_fields)]
pub struct ServiceNowSettings {
    /// The instance: `https://example.service-now.com` (`SERVICENOW_URL` fills it when the JSON
    /// leaves it out).
    #[serde(default)]
    pub base_url: String,
    /// The table records are filed in: `incident` (the default), or any table extending `task`
    /// (a Vulnerability Response table, a custom one).
    #[serde(default = "default_table")]
    pub table: String,
    /// Fixed fields every record gets.
    #[serde(default)]
    pub fields: FieldMapping,
    /// Severity → `urgency` value (ServiceNow computes `priority` from urgency and impact).
    #[serde(default = "Levels::default_urgency")]
    pub urgency: Levels,
    /// Severity → `impact` value.
    #[serde(default = "Levels::default_impact")]
    pub impact: Levels,
    /// What the table's state values mean.
    #[serde(default)]
    pub states: ServiceNowStates,
    /// The journal field scantix's comments go in: `work_notes` (internal, the default) or
    /// `comments` (seen by the caller too).
    #[serde(default = "default_comment_field")]
    pub comment_field: String,
    /// Fields set with the state when scantix resolves a record. The incident table's data
    /// policy makes `close_code` and `close_notes` mandatory once resolved; the default code is
    /// the base system's "Solution provided" (older releases: "Solved (Permanently)").
    #[serde(default = "default_resolve_fields")]
    pub resolve_fields: BTreeMap<String, String>,
    /// Limit on one HTTP request, connection included.
    #[serde(default = "default_request_timeout_secs")]
    pub request_timeout_secs: u64,
    /// Attempts per call before giving up with a retryable error (1 = no retries).
    #[serde(default = "default_max_attempts")]
    pub max_attempts: u32,
}

impl ServiceNowSettings {
    /// Settings with every optional field at its default.
    pub fn new(base_url: impl Into<String>) -> ServiceNowSettings {
        ServiceNowSettings {
            base_url: base_url.into(),
            table: default_table(),
            fields: FieldMapping::default(),
            urgency: Levels::default_urgency(),
            impact: Levels::default_impact(),
            states: ServiceNowStates::default(),
            comment_field: default_comment_field(),
            resolve_fields: default_resolve_fields(),
            request_timeout_secs: default_request_timeout_secs(),
            max_attempts: default_max_attempts(),
        }
    }
}

/// Fixed fields of every record, by the table's field names. Reference fields
/// (`assignment_group`, `caller_id`, `cmdb_ci`) take a `sys_id`: the Table API stores what it is
/// given as the actual value.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case", deny_unknown_fields, default)]
pub struct FieldMapping {
    pub assignment_group: Option<String>,
    pub category: Option<String>,
    pub subcategory: Option<String>,
    pub caller_id: Option<String>,
    /// The field the SLA due date goes in: `due_date` when unset, `none` for no due date.
    pub due_date: Option<String>,
    /// Any other field → value (`cmdb_ci`, `u_source`, a Vulnerability Response field).
    pub extra: BTreeMap<String, String>,
}

impl FieldMapping {
    /// The field the due date goes in, or `None` when turned off.
    pub fn due_date_field(&self) -> Option<&str> {
        match self.due_date.as_deref().map(str::trim) {
            None => Some("due_date"),
            Some(off) if off.is_empty() || off.eq_ignore_ascii_case("none") => None,
            Some(field) => Some(field),
        }
    }
}

/// A value per severity (urgency or impact: `1` high, `2` medium, `3` low on the base system).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case", deny_unknown_fields)]
pub struct Levels {
    pub critical: String,
    pub high: String,
    pub medium: String,
    pub low: String,
    pub note: String,
    pub unknown: String,
}

impl Levels {
    fn of(values: [&str; 6]) -> Levels {
        let [critical, high, medium, low, note, unknown] = values.map(str::to_owned);
        Levels {
            critical,
            high,
            medium,
            low,
            note,
            unknown,
        }
    }

    /// Critical and high are urgent (1), medium soon (2), the rest low (3).
    pub fn default_urgency() -> Levels {
        Levels::of(["1", "1", "2", "3", "3", "3"])
    }

    /// Critical is of wide impact (1), high and medium moderate (2), the rest low (3): with the
    /// urgencies above, the base system's priority lookup gives critical P1, high P2, medium P3,
    /// low P5.
    pub fn default_impact() -> Levels {
        Levels::of(["1", "2", "2", "3", "3", "3"])
    }

    pub fn for_severity(&self, severity: Severity) -> &str {
        match severity {
            Severity::Critical => &self.critical,
            Severity::High => &self.high,
            Severity::Medium => &self.medium,
            Severity::Low => &self.low,
            Severity::Note => &self.note,
            Severity::Unknown => &self.unknown,
        }
    }
}

fn default_table() -> String {
    "incident".into()
}

fn default_comment_field() -> String {
    "work_notes".into()
}

fn default_resolve_fields() -> BTreeMap<String, String> {
    BTreeMap::from([
        ("close_code".to_owned(), "Solution provided".to_owned()),
        (
            "close_notes".to_owned(),
            "Resolved by scantix: GitHub reports every alert of this ticket fixed or closed."
                .to_owned(),
        ),
    ])
}

fn default_request_timeout_secs() -> u64 {
    15
}

fn default_max_attempts() -> u32 {
    4
}

/// Who the adapter acts as. Deliberately neither `Serialize` nor `Deserialize`: credentials come
/// from the secret store, never from a config file, and `Debug` shows no secret.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ServiceNowAuth {
    /// A ServiceNow user's name and password, sent as HTTP Basic. Its `user_name` is who the
    /// business rule's deliveries name for scantix's own changes.
    Basic { user: String, password: Secret },
    /// An OAuth application registry entry's client id and secret, exchanged at
    /// `/oauth_token.do` for a bearer token (the client credentials grant). Such a token acts as
    /// the OAuth application's user, whose `user_name` the deployment names in `user` for echoes
    /// to be recognised.
    OAuth {
        client_id: String,
        client_secret: Secret,
        user: Option<String>,
    },
}

impl ServiceNowAuth {
    /// The `user_name` scantix's changes are made as, when known.
    pub fn user_name(&self) -> Option<&str> {
        match self {
            ServiceNowAuth::Basic { user, .. } => Some(user),
            ServiceNowAuth::OAuth { user, .. } => user.as_deref(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_minimal_section_takes_the_defaults_and_typos_are_errors() {
        let s: ServiceNowSettings =
            serde_json::from_value(serde_json::json!({"base-url": "https://x.service-now.com"}))
                .unwrap();
        assert_eq!(s, ServiceNowSettings::new("https://x.service-now.com"));
        assert_eq!(s.table, "incident");
        assert_eq!(s.urgency.for_severity(Severity::High), "1");
        assert_eq!(s.impact.for_severity(Severity::High), "2");
        assert_eq!(s.fields.due_date_field(), Some("due_date"));
        let typo = serde_json::from_value::<ServiceNowSettings>(serde_json::json!({
            "base-url": "https://x.service-now.com", "fields": {"assignment-grup": "x"}
        }));
        assert!(typo.is_err());
    }

    #[test]
    fn credentials_never_show() {
        let auth = ServiceNowAuth::OAuth {
            client_id: "id".into(),
            client_secret: Secret::new("very-secret"),
            user: None,
        };
        assert!(!format!("{auth:?}").contains("very-secret"));
    }
}
