//! What a scantix issue carries in Jira: the request bodies of create and edit, built from the
//! ticket content and the settings. Pure: no I/O, tested on plain values.

use super::dialect::Dialect;
use super::settings::{JiraSettings, Priorities};
use super::{jql, text};
use crate::finding::Severity;
use crate::ticket::{TicketContent, TicketDestination};
use serde_json::{Value, json};

/// Jira's limit on `summary`.
const SUMMARY_LIMIT: usize = 255;
/// Jira's limit on one label.
const LABEL_LIMIT: usize = 255;

const ALL_SEVERITIES: [Severity; 6] = [
    Severity::Unknown,
    Severity::Note,
    Severity::Low,
    Severity::Medium,
    Severity::High,
    Severity::Critical,
];

/// Where and how one ticket is filed: the deployment's settings, with the repository's choices
/// (`TicketDestination`) over them.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Filing<'a> {
    pub project: &'a str,
    pub issue_type: &'a str,
    pub priorities: &'a Priorities,
    pub components: &'a [String],
}

impl<'a> Filing<'a> {
    /// A blank choice counts as none. Components belong to a project: in a project other than the
    /// deployment's, its components would be refused, so only the repository's own apply there.
    pub fn of(settings: &'a JiraSettings, destination: &'a TicketDestination) -> Filing<'a> {
        let chosen = |value: &'a Option<String>| {
            value
                .as_deref()
                .map(str::trim)
                .filter(|value| !value.is_empty())
        };
        let project = chosen(&destination.project).unwrap_or(&settings.project);
        let components: &[String] = if !destination.components.is_empty() {
            &destination.components
        } else if project.eq_ignore_ascii_case(settings.project.trim()) {
            &settings.components
        } else {
            &[]
        };
        Filing {
            project,
            issue_type: chosen(&destination.issue_type).unwrap_or(&settings.issue_type),
            priorities: destination
                .priorities
                .as_ref()
                .unwrap_or(&settings.priorities),
            components,
        }
    }
}

/// Builds issue bodies for one Jira.
#[derive(Debug, Clone, Copy)]
pub struct IssueFields<'a> {
    pub settings: &'a JiraSettings,
    pub dialect: Dialect,
}

impl IssueFields<'_> {
    /// `POST /issue`: every field, and the group key as the `scantix` issue property (set in the
    /// same request, so an issue never exists without it).
    pub fn create_body(&self, content: &TicketContent) -> Value {
        let filing = Filing::of(self.settings, &content.destination);
        let mut fields = json!({
            "project": { "key": filing.project },
            "issuetype": { "name": filing.issue_type },
            "summary": summary(&content.title),
            "description": self.dialect.description(content),
            "labels": self.labels(content),
        });
        if let Some(priority) = priority(filing.priorities, content.severity) {
            fields["priority"] = priority;
        }
        if !filing.components.is_empty() {
            fields["components"] = filing
                .components
                .iter()
                .map(|name| json!({ "name": name }))
                .collect();
        }
        if let Some(due) = content.due {
            fields["duedate"] = json!(due.format("%Y-%m-%d").to_string());
        }
        if let Some(assignee) = &content.assignee {
            fields["assignee"] = self.dialect.assignee(assignee);
        }
        json!({
            "fields": fields,
            "properties": [
                { "key": jql::PROPERTY_KEY, "value": { "groupKey": content.group_key.as_str() } }
            ],
        })
    }

    /// `PUT /issue/{key}`: summary, description, priority and due date set; labels edited. The
    /// assignee is left alone (people reassign), and so is a due date the content no longer has.
    pub fn update_body(&self, content: &TicketContent) -> Value {
        let mut fields = json!({
            "summary": summary(&content.title),
            "description": self.dialect.description(content),
        });
        let filing = Filing::of(self.settings, &content.destination);
        if let Some(priority) = priority(filing.priorities, content.severity) {
            fields["priority"] = priority;
        }
        if let Some(due) = content.due {
            fields["duedate"] = json!(due.format("%Y-%m-%d").to_string());
        }
        // Labels by operation, not by replacement: people's labels and `scantix-stale` stay, and
        // a severity label that no longer applies goes.
        let mut ops: Vec<Value> = self
            .labels(content)
            .into_iter()
            .map(|l| json!({ "add": l }))
            .collect();
        let current = format!("severity:{}", content.severity);
        ops.extend(
            ALL_SEVERITIES
                .iter()
                .map(|s| format!("severity:{s}"))
                .filter(|l| *l != current)
                .map(|l| json!({ "remove": l })),
        );
        json!({ "fields": fields, "update": { "labels": ops } })
    }

    /// The labels a ticket carries: scantix's own, the content's, the configured ones — made
    /// valid for Jira, without repeats.
    pub fn labels(&self, content: &TicketContent) -> Vec<String> {
        let own = [
            "scantix".to_string(),
            format!("severity:{}", content.severity),
            content.group_key.label(),
        ];
        let mut labels: Vec<String> = Vec::new();
        for raw in own
            .iter()
            .chain(&content.labels)
            .chain(&self.settings.labels)
        {
            let label = label(raw);
            if !label.is_empty() && !labels.contains(&label) {
                labels.push(label);
            }
        }
        labels
    }
}

/// The `priority` field for `severity` under `priorities`. An empty name sends no priority (for
/// projects without the field on their screens).
fn priority(priorities: &Priorities, severity: Severity) -> Option<Value> {
    let name = priorities.for_severity(severity).trim();
    (!name.is_empty()).then(|| json!({ "name": name }))
}

/// A title as a Jira summary: one line, at most 255 characters.
pub fn summary(title: &str) -> String {
    text::cap(text::line(title).trim(), SUMMARY_LIMIT)
}

/// A label as Jira accepts it: no whitespace (Jira splits labels on it), at most 255 characters.
pub fn label(raw: &str) -> String {
    let joined: String = text::line(raw)
        .trim()
        .chars()
        .map(|c| if c.is_whitespace() { '-' } else { c })
        .collect();
    joined.chars().take(LABEL_LIMIT).collect()
}

#[cfg(test)]
mod tests {
    use super::super::STALE_LABEL;
    use super::super::test_content::hostile_content;
    use super::*;
    use crate::tracker::jira::Flavor;

    fn settings(flavor: Flavor) -> JiraSettings {
        let mut settings = JiraSettings::new("https://example.atlassian.net/", flavor, "SEC");
        settings.labels = vec!["team appsec".into(), "scantix".into()];
        settings.components = vec!["Backend".into()];
        settings
    }

    fn fields(settings: &JiraSettings) -> IssueFields<'_> {
        IssueFields {
            settings,
            dialect: Dialect(settings.flavor),
        }
    }

    #[test]
    fn a_create_carries_every_field_and_the_group_property() {
        let settings = settings(Flavor::Cloud);
        let content = hostile_content(2);
        let body = fields(&settings).create_body(&content);
        let f = &body["fields"];
        assert_eq!(f["project"], json!({ "key": "SEC" }));
        assert_eq!(f["issuetype"], json!({ "name": "Bug" }));
        assert_eq!(f["priority"], json!({ "name": "High" }));
        assert_eq!(f["components"], json!([{ "name": "Backend" }]));
        assert_eq!(f["duedate"], "2030-01-31");
        assert_eq!(
            f["assignee"],
            json!({ "accountId": "5b10a2844c20165700ede21g" })
        );
        assert_eq!(f["description"]["type"], "doc");
        let summary = f["summary"].as_str().unwrap();
        assert!(summary.chars().count() <= 255 && !summary.contains('\n'));
        let labels: Vec<&str> = f["labels"]
            .as_array()
            .unwrap()
            .iter()
            .map(|l| l.as_str().unwrap())
            .collect();
        assert_eq!(
            labels,
            [
                "scantix",
                "severity:high",
                content.group_key.label().as_str(),
                "code-scanning",
                "with-space",
                "team-appsec"
            ]
        );
        assert_eq!(
            body["properties"],
            json!([{ "key": "scantix", "value": { "groupKey": content.group_key.as_str() } }])
        );
    }

    #[test]
    fn data_center_gets_wiki_markup_and_usernames() {
        let settings = settings(Flavor::DataCenter);
        let body = fields(&settings).create_body(&hostile_content(1));
        assert!(body["fields"]["description"].is_string());
        assert_eq!(
            body["fields"]["assignee"],
            json!({ "name": "5b10a2844c20165700ede21g" })
        );
    }

    #[test]
    fn an_update_edits_labels_without_dropping_others() {
        let settings = settings(Flavor::Cloud);
        let body = fields(&settings).update_body(&hostile_content(1));
        let ops = body["update"]["labels"].as_array().unwrap();
        assert!(ops.contains(&json!({ "add": "severity:high" })));
        assert!(ops.contains(&json!({ "remove": "severity:critical" })));
        assert!(!ops.contains(&json!({ "remove": "severity:high" })));
        assert!(!ops.iter().any(|o| o.to_string().contains(STALE_LABEL)));
        assert!(body["fields"].get("labels").is_none());
        assert!(body["fields"].get("assignee").is_none());
        assert_eq!(body["fields"]["duedate"], "2030-01-31");
    }

    #[test]
    fn a_repositorys_destination_wins_over_the_deployments_settings() {
        let settings = settings(Flavor::Cloud);
        let mut content = hostile_content(1);
        content.destination = TicketDestination {
            project: Some("APPSEC".into()),
            issue_type: Some("Vulnerability".into()),
            priorities: Some(Priorities {
                high: "P2".into(),
                ..Priorities::default()
            }),
            labels: vec!["team-appsec".into()],
            components: Vec::new(),
        };
        let body = fields(&settings).create_body(&content);
        let f = &body["fields"];
        assert_eq!(f["project"], json!({ "key": "APPSEC" }));
        assert_eq!(f["issuetype"], json!({ "name": "Vulnerability" }));
        assert_eq!(f["priority"], json!({ "name": "P2" }));
        // The deployment's components belong to its own project: not sent to another one.
        assert!(f.get("components").is_none(), "{f}");
        let update = fields(&settings).update_body(&content);
        assert_eq!(update["fields"]["priority"], json!({ "name": "P2" }));

        content.destination.components = vec!["Payments".into()];
        let body = fields(&settings).create_body(&content);
        assert_eq!(
            body["fields"]["components"],
            json!([{ "name": "Payments" }])
        );
    }

    #[test]
    fn a_blank_or_same_project_choice_keeps_the_deployments_components() {
        let settings = settings(Flavor::Cloud);
        for project in ["  ", "sec"] {
            let destination = TicketDestination {
                project: Some(project.into()),
                ..TicketDestination::default()
            };
            let filing = Filing::of(&settings, &destination);
            assert_eq!(filing.components, ["Backend"], "{project:?}");
            assert_eq!(filing.issue_type, "Bug");
        }
        let nothing_chosen = TicketDestination::default();
        let filing = Filing::of(&settings, &nothing_chosen);
        assert_eq!(filing.project, "SEC");
        assert_eq!(filing.priorities, &settings.priorities);
    }

    #[test]
    fn an_empty_priority_name_sends_no_priority() {
        let mut settings = settings(Flavor::Cloud);
        settings.priorities.high = String::new();
        let body = fields(&settings).create_body(&hostile_content(1));
        assert!(body["fields"].get("priority").is_none());
    }

    #[test]
    fn labels_and_summaries_fit_jira() {
        assert_eq!(label(" a b\tc\n"), "a-b-c");
        assert_eq!(label(&"x".repeat(300)).len(), 255);
        assert_eq!(
            summary(&format!("a\nb{}", "é".repeat(300))).chars().count(),
            255
        );
    }
}
