//! Where a ticket is filed: which tracker (`TrackerKind`, `TrackerSite`), the `jira` section of the
//! settings (`JiraSettings`, `Flavor`, the severity → priority map `Priorities`), and what a
//! repository chose within the deployment's tracker (`TicketDestination`). A repository's
//! `.github/scantix.yml` says these, the decisions carry them, and the tracker adapters read them:
//! so they live here, and the Jira adapter's credentials (`scantix_jira::settings::JiraAuth`) do
//! not.

use crate::finding::Severity;
use serde::{Deserialize, Serialize};

/// Which Jira the adapter talks to. The two differ in API version, authentication and text
/// format; everything else is one code path (see `dialect`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Flavor {
    /// Jira Cloud (`*.atlassian.net`): REST v3, Atlassian Document Format, API tokens.
    Cloud,
    /// Jira Data Center / Server: REST v2, wiki markup, personal access tokens.
    DataCenter,
}

/// Where tickets go and what they carry.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case", deny_unknown_fields)]
pub struct JiraSettings {
    /// `https://example.atlassian.net` or the Data Center root (`https://jira.example.com/jira`).
    pub base_url: String,
    pub flavor: Flavor,
    /// The project key (`SEC`).
    pub project: String,
    /// The issue type tickets are created as, by name.
    #[serde(default = "default_issue_type")]
    pub issue_type: String,
    /// The Jira priority (by name) each severity is filed at.
    #[serde(default)]
    pub priorities: Priorities,
    /// Labels added to every ticket, besides scantix's own.
    #[serde(default)]
    pub labels: Vec<String>,
    /// Components (by name) set on every ticket.
    #[serde(default)]
    pub components: Vec<String>,
    /// The field the SLA due date goes in: Jira's `duedate` (unset), a date or date-time custom
    /// field by id (`customfield_10042`), or `none` to send no due date. Sent only where the
    /// project's create screen has it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub due_date_field: Option<String>,
    /// Limit on one HTTP request, connection included.
    #[serde(default = "default_request_timeout_secs")]
    pub request_timeout_secs: u64,
    /// Attempts per call before giving up with a retryable error (1 = no retries).
    #[serde(default = "default_max_attempts")]
    pub max_attempts: u32,
    /// How long a new issue may take to show in Jira's search, in seconds: after a create whose
    /// answer was lost, the search for it waits this long from the request. Unset: 30 on Cloud,
    /// whose search is eventually consistent ("a few seconds to minutes", most changes "within
    /// seconds": developer.atlassian.com/cloud/jira/platform/search-and-reconcile/), 0 on Data
    /// Center, whose index is written with the issue.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub search_consistency_secs: Option<u64>,
}

impl JiraSettings {
    /// Settings with every optional field at its default.
    pub fn new(base_url: impl Into<String>, flavor: Flavor, project: impl Into<String>) -> Self {
        JiraSettings {
            base_url: base_url.into(),
            flavor,
            project: project.into(),
            issue_type: default_issue_type(),
            priorities: Priorities::default(),
            labels: Vec::new(),
            components: Vec::new(),
            due_date_field: None,
            request_timeout_secs: default_request_timeout_secs(),
            max_attempts: default_max_attempts(),
            search_consistency_secs: None,
        }
    }

    /// The field the due date goes in (see `due_date_field`); `None` when turned off.
    pub fn due_date_field(&self) -> Option<&str> {
        match self.due_date_field.as_deref().map(str::trim) {
            None => Some(DUE_DATE),
            Some(off) if off.is_empty() || off.eq_ignore_ascii_case("none") => None,
            Some(field) => Some(field),
        }
    }

    /// How long a new issue may take to show in search (see `search_consistency_secs`).
    pub fn search_consistency(&self) -> std::time::Duration {
        let default = match self.flavor {
            Flavor::Cloud => 30,
            Flavor::DataCenter => 0,
        };
        std::time::Duration::from_secs(self.search_consistency_secs.unwrap_or(default))
    }
}

/// Jira's own due date field.
pub const DUE_DATE: &str = "duedate";

fn default_issue_type() -> String {
    "Bug".into()
}

fn default_request_timeout_secs() -> u64 {
    15
}

fn default_max_attempts() -> u32 {
    4
}

/// Severity → Jira priority name. A field per severity (rather than a free map) so that a typo in
/// the config file is an error, and an omitted severity keeps its default.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case", deny_unknown_fields, default)]
pub struct Priorities {
    pub critical: String,
    pub high: String,
    pub medium: String,
    pub low: String,
    pub note: String,
    pub unknown: String,
}

impl Default for Priorities {
    fn default() -> Self {
        Priorities {
            critical: "Highest".into(),
            high: "High".into(),
            medium: "Medium".into(),
            low: "Low".into(),
            note: "Lowest".into(),
            unknown: "Lowest".into(),
        }
    }
}

impl Priorities {
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

/// Which tracker holds the tickets.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, Default)]
#[serde(rename_all = "kebab-case")]
pub enum TrackerKind {
    /// Kept by scantix itself, in its store.
    #[default]
    Draft,
    Jira,
    GithubIssues,
    /// ServiceNow, through its Table API (`incident` or any task table).
    #[serde(rename = "servicenow")]
    ServiceNow,
    /// Email: a thread per group, outbound only.
    Email,
    Linear,
}

impl TrackerKind {
    /// As the config file spells it.
    pub fn as_str(self) -> &'static str {
        match self {
            TrackerKind::Draft => "draft",
            TrackerKind::Jira => "jira",
            TrackerKind::GithubIssues => "github-issues",
            TrackerKind::ServiceNow => "servicenow",
            TrackerKind::Email => "email",
            TrackerKind::Linear => "linear",
        }
    }
}

/// Which tracker a deployment files tickets in, in the terms of a repository's `tracker` section:
/// what that section must name for the repository's choice of destination to apply.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TrackerSite {
    pub kind: TrackerKind,
    /// Where the tracker lives, for those with a site of their own (Jira's base URL).
    pub base_url: Option<String>,
}

impl TrackerSite {
    /// The site of the tracker recorded as `name` in `TicketRef::tracker` (`draft`, `jira`,
    /// `github`, `servicenow`, `email`), without a base URL.
    pub fn named(name: &str) -> TrackerSite {
        let kind = match name {
            "jira" => TrackerKind::Jira,
            "github" | "github-issues" => TrackerKind::GithubIssues,
            "servicenow" => TrackerKind::ServiceNow,
            "email" => TrackerKind::Email,
            "linear" => TrackerKind::Linear,
            _ => TrackerKind::Draft,
        };
        TrackerSite {
            kind,
            base_url: None,
        }
    }
}

/// Where and how a repository's tickets are filed *within* the deployment's tracker, as its
/// `.github/scantix.yml` chose: the tracker and its credentials are the deployment's, the project,
/// issue type, priority map, extra labels and components may be the repository's. Empty fields
/// keep the tracker's deployment settings. Fixed on the group when its ticket is requested, so a
/// ticket stays where it was filed (and is found there again after a crash) whatever the file
/// says later.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default)]
pub struct TicketDestination {
    /// The tracker's project (a Jira project key).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub project: Option<String>,
    /// The issue type, by name.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub issue_type: Option<String>,
    /// Severity → priority name, replacing the deployment's map.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub priorities: Option<Priorities>,
    /// Labels added to the ticket, besides scantix's own and the deployment's.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub labels: Vec<String>,
    /// Components (by name), replacing the deployment's.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub components: Vec<String>,
}

impl TicketDestination {
    /// Nothing chosen: the deployment's settings apply throughout.
    pub fn is_deployment_default(&self) -> bool {
        *self == TicketDestination::default()
    }

    /// Keeps the destination within `allowed`, the projects the deployment lets this
    /// repository's organisation file in (see [`ProjectAllowList`]): a project chosen outside
    /// them is set aside for the organisation's first allowed project (the deployment's own when
    /// none is listed), and the reason is returned for the repository's problem report; with no
    /// choice, the first allowed project is the organisation's default.
    pub fn confine_to(&mut self, allowed: &[String]) -> Option<String> {
        let first = allowed.first().cloned();
        match &self.project {
            None => {
                self.project = first;
                None
            }
            Some(chosen) if allowed.iter().any(|p| p.eq_ignore_ascii_case(chosen)) => None,
            Some(chosen) => {
                let why = format!(
                    "project `{chosen}` is not one this scantix deployment lets this organisation \
                     file tickets in ({}), so {} applies",
                    if allowed.is_empty() {
                        "it lists none for it".to_owned()
                    } else {
                        format!("allowed: {}", allowed.join(", "))
                    },
                    first.as_deref().map_or_else(
                        || "the deployment's project".to_owned(),
                        |p| format!("`{p}`")
                    )
                );
                self.project = first;
                Some(why)
            }
        }
    }
}

/// The tracker projects each organisation's repositories may file tickets in, for a deployment
/// serving several organisations (`SCANTIX_ALLOWED_PROJECTS`, JSON: `{"acme": ["SEC", "APPSEC"],
/// "globex": ["GLX"]}`). Empty: no restriction (one organisation's deployment). Once any
/// organisation is listed, an unlisted one files only in the deployment's own project, so one
/// organisation's `.github/scantix.yml` can never route tickets into another's project.
#[derive(Debug, Clone, Default, PartialEq, Eq, Deserialize)]
#[serde(transparent)]
pub struct ProjectAllowList {
    by_owner: std::collections::BTreeMap<String, Vec<String>>,
}

impl ProjectAllowList {
    /// From its JSON form; owners are matched case-insensitively, as GitHub logins are.
    pub fn parse_json(text: &str) -> Result<ProjectAllowList, String> {
        let parsed: std::collections::BTreeMap<String, Vec<String>> = serde_json::from_str(text)
            .map_err(|e| {
                format!("expected an object of organisation → list of project keys: {e}")
            })?;
        Ok(ProjectAllowList {
            by_owner: parsed
                .into_iter()
                .map(|(owner, projects)| (owner.to_ascii_lowercase(), projects))
                .collect(),
        })
    }

    /// The projects `owner`'s repositories may use; `None` when the deployment restricts none.
    pub fn for_owner(&self, owner: &str) -> Option<&[String]> {
        if self.by_owner.is_empty() {
            return None;
        }
        Some(
            self.by_owner
                .get(&owner.to_ascii_lowercase())
                .map_or(&[][..], Vec::as_slice),
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn allow_list() -> ProjectAllowList {
        ProjectAllowList::parse_json(r#"{"Acme": ["SEC", "APPSEC"], "globex": ["GLX"]}"#).unwrap()
    }

    #[test]
    fn an_organisation_files_only_in_the_projects_it_is_allowed() {
        let list = allow_list();
        let acme = list.for_owner("acme").unwrap();

        let mut chosen = TicketDestination {
            project: Some("appsec".into()),
            ..TicketDestination::default()
        };
        assert_eq!(chosen.confine_to(acme), None);
        assert_eq!(chosen.project.as_deref(), Some("appsec"));

        let mut another_orgs = TicketDestination {
            project: Some("GLX".into()),
            ..TicketDestination::default()
        };
        let why = another_orgs.confine_to(acme).unwrap();
        assert!(
            why.contains("`GLX`") && why.contains("SEC, APPSEC"),
            "{why}"
        );
        assert_eq!(another_orgs.project.as_deref(), Some("SEC"));

        let mut unchosen = TicketDestination::default();
        assert_eq!(unchosen.confine_to(acme), None);
        assert_eq!(unchosen.project.as_deref(), Some("SEC"));
    }

    #[test]
    fn an_unlisted_organisation_keeps_to_the_deployments_project() {
        let list = allow_list();
        let unlisted = list.for_owner("initech").unwrap();
        assert!(unlisted.is_empty());
        let mut chosen = TicketDestination {
            project: Some("SEC".into()),
            ..TicketDestination::default()
        };
        assert!(chosen.confine_to(unlisted).is_some());
        assert_eq!(chosen.project, None, "the deployment's own project");
        assert_eq!(ProjectAllowList::default().for_owner("acme"), None);
        assert!(ProjectAllowList::parse_json("[1]").is_err());
    }

    #[test]
    fn a_minimal_section_takes_the_defaults() {
        let s: JiraSettings = serde_json::from_value(serde_json::json!({
            "base-url": "https://example.atlassian.net",
            "flavor": "cloud",
            "project": "SEC",
        }))
        .unwrap();
        assert_eq!(
            s,
            JiraSettings::new("https://example.atlassian.net", Flavor::Cloud, "SEC")
        );
        assert_eq!(s.priorities.for_severity(Severity::Critical), "Highest");
        assert_eq!(s.priorities.for_severity(Severity::Unknown), "Lowest");
    }

    #[test]
    fn every_field_is_kebab_case_and_a_partial_priority_map_keeps_the_rest() {
        let s: JiraSettings = serde_json::from_value(serde_json::json!({
            "base-url": "https://jira.example.com",
            "flavor": "data-center",
            "project": "SEC",
            "issue-type": "Vulnerability",
            "priorities": { "critical": "P1" },
            "labels": ["appsec"],
            "components": ["Backend"],
            "request-timeout-secs": 5,
            "max-attempts": 2,
        }))
        .unwrap();
        assert_eq!(s.flavor, Flavor::DataCenter);
        assert_eq!(s.priorities.for_severity(Severity::Critical), "P1");
        assert_eq!(s.priorities.for_severity(Severity::High), "High");
        assert_eq!(s.max_attempts, 2);
    }

    #[test]
    fn the_due_date_goes_to_duedate_a_custom_field_or_nowhere() {
        let with = |field: Option<&str>| {
            let mut s = JiraSettings::new("https://x", Flavor::Cloud, "SEC");
            s.due_date_field = field.map(str::to_owned);
            s.due_date_field().map(str::to_owned)
        };
        assert_eq!(with(None).as_deref(), Some("duedate"));
        assert_eq!(
            with(Some("customfield_10042")).as_deref(),
            Some("customfield_10042")
        );
        assert_eq!(with(Some("none")), None);
        assert_eq!(with(Some("")), None);
        let s: JiraSettings = serde_json::from_value(serde_json::json!({
            "base-url": "https://x", "flavor": "cloud", "project": "SEC",
            "due-date-field": "customfield_10042",
        }))
        .unwrap();
        assert_eq!(s.due_date_field(), Some("customfield_10042"));
    }

    #[test]
    fn unknown_fields_and_severities_are_rejected() {
        let typo = serde_json::json!({
            "base-url": "https://x", "flavor": "cloud", "project": "SEC", "issuetype": "Bug",
        });
        assert!(serde_json::from_value::<JiraSettings>(typo).is_err());
        let severity = serde_json::json!({
            "base-url": "https://x", "flavor": "cloud", "project": "SEC",
            "priorities": { "urgent": "P0" },
        });
        assert!(serde_json::from_value::<JiraSettings>(severity).is_err());
    }
}
