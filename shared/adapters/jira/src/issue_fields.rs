//! What a scantix issue carries in Jira: the request bodies of create and edit, built from the
//! ticket content, the settings and the project's create screen (a field not on it is not sent:
//! Jira would refuse the whole request). Pure: no I/O, tested on plain values.

use super::create_screen::Screen;
use super::dialect::Dialect;
use super::settings::{JiraSettings, Priorities};
use super::{jql, text};
use scantix_core::finding::Severity;
use scantix_core::ticket::TicketContent;
use scantix_core::ticket::destination::TicketDestination;
use serde_json::{Map, Value, json};

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

/// A request body, and the fields scantix would have set that the screen does not have.
#[derive(Debug, Clone, PartialEq)]
pub struct Prepared {
    pub body: Value,
    /// Field ids left out because the create screen lacks them.
    pub left_out: Vec<String>,
}

impl Prepared {
    /// The field ids the body sets.
    pub fn sent(&self) -> Vec<&str> {
        self.body["fields"]
            .as_object()
            .map(|fields| fields.keys().map(String::as_str).collect())
            .unwrap_or_default()
    }
}

/// Fields being gathered for one body: those the screen takes go in, the others are noted.
struct Offered<'s> {
    screen: &'s Screen,
    fields: Map<String, Value>,
    left_out: Vec<String>,
}

impl Offered<'_> {
    fn offer(&mut self, field: &str, value: Value) {
        if self.screen.takes(field) {
            self.fields.insert(field.to_owned(), value);
        } else {
            self.left_out.push(field.to_owned());
        }
    }
}

impl IssueFields<'_> {
    /// `POST /issue`: every field the create `screen` has, and the group key as the `scantix`
    /// issue property (set in the same request, so an issue never exists without it). Project,
    /// issue type and summary always go: no create is possible without them.
    pub fn create_body(&self, content: &TicketContent, screen: &Screen) -> Prepared {
        let filing = Filing::of(self.settings, &content.destination);
        let mut fields = Offered {
            screen,
            fields: Map::new(),
            left_out: Vec::new(),
        };
        fields
            .fields
            .insert("project".into(), json!({ "key": filing.project }));
        fields
            .fields
            .insert("issuetype".into(), json!({ "name": filing.issue_type }));
        fields
            .fields
            .insert("summary".into(), json!(summary(&content.title)));
        fields.offer("description", self.dialect.description(content));
        fields.offer("labels", json!(self.labels(content)));
        if let Some(priority) = priority(filing.priorities, content.severity) {
            fields.offer("priority", priority);
        }
        if !filing.components.is_empty() {
            let components: Vec<Value> = filing
                .components
                .iter()
                .map(|name| json!({ "name": name }))
                .collect();
            fields.offer("components", Value::Array(components));
        }
        self.offer_due(&mut fields, content);
        if let Some(assignee) = &content.assignee {
            fields.offer("assignee", self.dialect.assignee(assignee));
        }
        Prepared {
            body: json!({
                "fields": fields.fields,
                "properties": [
                    { "key": jql::PROPERTY_KEY, "value": { "groupKey": content.group_key.as_str() } }
                ],
            }),
            left_out: fields.left_out,
        }
    }

    /// `PUT /issue/{key}`: summary, description, priority and due date set; labels edited; each
    /// where the `screen` has it (the create screen stands for the edit screen, which Jira
    /// describes only per issue). The assignee is left alone (people reassign), and so is a due
    /// date the content no longer has.
    pub fn update_body(&self, content: &TicketContent, screen: &Screen) -> Prepared {
        let mut fields = Offered {
            screen,
            fields: Map::new(),
            left_out: Vec::new(),
        };
        fields
            .fields
            .insert("summary".into(), json!(summary(&content.title)));
        fields.offer("description", self.dialect.description(content));
        let filing = Filing::of(self.settings, &content.destination);
        if let Some(priority) = priority(filing.priorities, content.severity) {
            fields.offer("priority", priority);
        }
        self.offer_due(&mut fields, content);
        let mut body = json!({ "fields": fields.fields });
        if screen.takes("labels") {
            // Labels by operation, not by replacement: people's labels and `scantix-stale` stay,
            // and a severity label that no longer applies goes.
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
            body["update"] = json!({ "labels": ops });
        } else {
            fields.left_out.push("labels".into());
        }
        Prepared {
            body,
            left_out: fields.left_out,
        }
    }

    /// The SLA date, in the configured field (`due-date-field`), written as its type wants: a
    /// date, or midnight UTC of that day for a date-time custom field.
    fn offer_due(&self, fields: &mut Offered<'_>, content: &TicketContent) {
        let (Some(due), Some(field)) = (content.due, self.settings.due_date_field()) else {
            return;
        };
        let datetime = fields
            .screen
            .field(field)
            .is_some_and(|f| f.kind == "datetime");
        let value = if datetime {
            due.format("%Y-%m-%dT00:00:00.000+0000").to_string()
        } else {
            due.format("%Y-%m-%d").to_string()
        };
        fields.offer(field, json!(value));
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
    use crate::create_screen::{Screen, ScreenField};
    use scantix_core::ticket::destination::Flavor;

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
        let body = fields(&settings)
            .create_body(&content, &Screen::Unknown)
            .body;
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
        let body = fields(&settings)
            .create_body(&hostile_content(1), &Screen::Unknown)
            .body;
        assert!(body["fields"]["description"].is_string());
        assert_eq!(
            body["fields"]["assignee"],
            json!({ "name": "5b10a2844c20165700ede21g" })
        );
    }

    #[test]
    fn an_update_edits_labels_without_dropping_others() {
        let settings = settings(Flavor::Cloud);
        let body = fields(&settings)
            .update_body(&hostile_content(1), &Screen::Unknown)
            .body;
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
            ..TicketDestination::default()
        };
        let body = fields(&settings)
            .create_body(&content, &Screen::Unknown)
            .body;
        let f = &body["fields"];
        assert_eq!(f["project"], json!({ "key": "APPSEC" }));
        assert_eq!(f["issuetype"], json!({ "name": "Vulnerability" }));
        assert_eq!(f["priority"], json!({ "name": "P2" }));
        // The deployment's components belong to its own project: not sent to another one.
        assert!(f.get("components").is_none(), "{f}");
        let update = fields(&settings)
            .update_body(&content, &Screen::Unknown)
            .body;
        assert_eq!(update["fields"]["priority"], json!({ "name": "P2" }));

        content.destination.components = vec!["Payments".into()];
        let body = fields(&settings)
            .create_body(&content, &Screen::Unknown)
            .body;
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
        let body = fields(&settings)
            .create_body(&hostile_content(1), &Screen::Unknown)
            .body;
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

    fn screen(fields: &[(&str, &str)]) -> Screen {
        Screen::Known(
            fields
                .iter()
                .map(|(id, kind)| {
                    let field = ScreenField {
                        name: (*id).to_owned(),
                        required: false,
                        has_default: false,
                        kind: (*kind).to_owned(),
                    };
                    ((*id).to_owned(), field)
                })
                .collect(),
        )
    }

    #[test]
    fn only_fields_on_the_screen_are_sent_and_the_others_are_named() {
        let settings = settings(Flavor::Cloud);
        let bare = screen(&[
            ("summary", "string"),
            ("issuetype", "issuetype"),
            ("project", "project"),
            ("description", "string"),
        ]);
        let prepared = fields(&settings).create_body(&hostile_content(1), &bare);
        let mut sent = prepared.sent();
        sent.sort();
        assert_eq!(sent, ["description", "issuetype", "project", "summary"]);
        assert_eq!(
            prepared.left_out,
            ["labels", "priority", "components", "duedate", "assignee"]
        );
        let update = fields(&settings).update_body(&hostile_content(1), &bare);
        assert!(update.body.get("update").is_none(), "no label edits");
        assert!(update.body["fields"].get("priority").is_none());
        assert!(update.body["fields"].get("duedate").is_none());
    }

    #[test]
    fn the_due_date_goes_to_the_configured_field_in_its_format_or_nowhere() {
        let mut settings = settings(Flavor::Cloud);
        settings.due_date_field = Some("customfield_10042".into());
        let with_date = screen(&[("customfield_10042", "date"), ("duedate", "date")]);
        let body = fields(&settings)
            .create_body(&hostile_content(1), &with_date)
            .body;
        assert_eq!(body["fields"]["customfield_10042"], "2030-01-31");
        assert!(body["fields"].get("duedate").is_none());
        let with_datetime = screen(&[("customfield_10042", "datetime")]);
        let body = fields(&settings)
            .create_body(&hostile_content(1), &with_datetime)
            .body;
        assert_eq!(
            body["fields"]["customfield_10042"],
            "2030-01-31T00:00:00.000+0000"
        );
        settings.due_date_field = Some("none".into());
        let prepared = fields(&settings).create_body(&hostile_content(1), &with_date);
        assert!(
            !prepared
                .sent()
                .iter()
                .any(|f| f.contains("due") || f.starts_with("custom"))
        );
        assert!(
            !prepared
                .left_out
                .iter()
                .any(|f| f.contains("due") || f.starts_with("custom")),
            "turned off, not left out: {:?}",
            prepared.left_out
        );
    }
}
