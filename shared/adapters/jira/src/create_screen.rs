//! Which fields a project's create screen has for an issue type: what Jira accepts in a create.
//! A field that is not on the screen makes Jira refuse the whole request ("Field 'duedate' cannot
//! be set. It is not on the appropriate screen, or unknown."), so the adapter sends only fields the
//! screen has, and learns them from Jira's create metadata, per (project, issue type):
//! `GET /issue/createmeta/{project}/issuetypes` (the type's id, by name), then
//! `GET /issue/createmeta/{project}/issuetypes/{id}` (its fields). Both flavors have these two
//! (Data Center since 8.4, where they replaced the one `createmeta` that Jira 9 removed); Cloud
//! pages them as `issueTypes` and `fields`, Data Center as `values`.
//!
//! Pure parsing here; the calls and the cache are the adapter's (`JiraTracker::screen`).

use serde::Deserialize;
use std::collections::BTreeMap;

/// What the adapter knows of a create screen.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Screen {
    /// The fields on it, by field id (`duedate`, `customfield_10042`).
    Known(BTreeMap<String, ScreenField>),
    /// Jira has no create metadata to give (a Data Center older than 8.4): every configured
    /// field is sent, as before, and a refusal names the setting to change.
    Unknown,
}

/// One field of a create screen.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ScreenField {
    /// As Jira names it to people (`Due date`).
    pub name: String,
    /// Jira refuses a create without it (unless it has a default).
    pub required: bool,
    pub has_default: bool,
    /// The value's type (`date`, `datetime`, `array`, `priority`, `user`, `string`, …).
    pub kind: String,
}

impl Screen {
    /// Whether `field` can be sent: on the screen, or the screen is unknown.
    pub fn takes(&self, field: &str) -> bool {
        match self {
            Screen::Known(fields) => fields.contains_key(field),
            Screen::Unknown => true,
        }
    }

    /// The field, if the screen is known and has it.
    pub fn field(&self, field: &str) -> Option<&ScreenField> {
        match self {
            Screen::Known(fields) => fields.get(field),
            Screen::Unknown => None,
        }
    }

    /// Fields the screen requires, without a default, that are not in `sent`: Jira would refuse
    /// the create.
    pub fn unfilled<'a>(&'a self, sent: &[&str]) -> Vec<(&'a str, &'a ScreenField)> {
        match self {
            Screen::Known(fields) => fields
                .iter()
                .filter(|(id, f)| f.required && !f.has_default && !sent.contains(&id.as_str()))
                .map(|(id, f)| (id.as_str(), f))
                .collect(),
            Screen::Unknown => Vec::new(),
        }
    }
}

/// The largest page the createmeta endpoints give (Cloud documents 200 as the maximum).
pub const PAGE_SIZE: u32 = 200;

/// At most this many pages are read of one listing: far more issue types or fields than a
/// project has (a guard against a Jira that keeps saying "not the last page").
pub const MAX_PAGES: u32 = 20;

/// One page of `GET /issue/createmeta/{project}/issuetypes`.
#[derive(Debug, Deserialize)]
pub struct IssueTypePage {
    /// Cloud's name for the items.
    #[serde(default, rename = "issueTypes")]
    issue_types: Vec<IssueType>,
    /// Data Center's.
    #[serde(default)]
    values: Vec<IssueType>,
    #[serde(flatten)]
    paging: Paging,
}

#[derive(Debug, Deserialize)]
pub struct IssueType {
    pub id: String,
    pub name: String,
}

impl IssueTypePage {
    pub fn items(&self) -> &[IssueType] {
        if self.issue_types.is_empty() {
            &self.values
        } else {
            &self.issue_types
        }
    }

    /// Whether another page follows this one, which started at `start`.
    pub fn more_after(&self, start: u32) -> bool {
        self.paging.more_after(start, self.items().len())
    }
}

/// One page of `GET /issue/createmeta/{project}/issuetypes/{id}`.
#[derive(Debug, Deserialize)]
pub struct FieldPage {
    /// Cloud's name for the items (`results` in some answers).
    #[serde(default)]
    fields: Vec<FieldMeta>,
    #[serde(default)]
    results: Vec<FieldMeta>,
    /// Data Center's.
    #[serde(default)]
    values: Vec<FieldMeta>,
    #[serde(flatten)]
    paging: Paging,
}

#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct FieldMeta {
    pub field_id: String,
    #[serde(default)]
    pub name: String,
    #[serde(default)]
    pub required: bool,
    #[serde(default)]
    pub has_default_value: bool,
    #[serde(default)]
    pub schema: Option<FieldSchema>,
}

#[derive(Debug, Deserialize)]
pub struct FieldSchema {
    #[serde(default, rename = "type")]
    pub kind: String,
}

impl FieldPage {
    pub fn items(&self) -> &[FieldMeta] {
        [&self.fields, &self.results, &self.values]
            .into_iter()
            .find(|items| !items.is_empty())
            .map_or(&[], Vec::as_slice)
    }

    pub fn more_after(&self, start: u32) -> bool {
        self.paging.more_after(start, self.items().len())
    }

    /// The items, taken.
    pub fn into_items(self) -> Vec<FieldMeta> {
        [self.fields, self.results, self.values]
            .into_iter()
            .find(|items| !items.is_empty())
            .unwrap_or_default()
    }
}

/// The paging fields both flavors give (Data Center adds `isLast`).
#[derive(Debug, Default, Deserialize)]
#[serde(rename_all = "camelCase")]
struct Paging {
    #[serde(default)]
    total: Option<u64>,
    #[serde(default)]
    is_last: Option<bool>,
}

impl Paging {
    fn more_after(&self, start: u32, got: usize) -> bool {
        if got == 0 {
            return false;
        }
        match (self.is_last, self.total) {
            (Some(last), _) => !last,
            (None, Some(total)) => u64::from(start) + (got as u64) < total,
            (None, None) => false,
        }
    }
}

/// The fields of a screen, from the field pages read.
pub fn screen_of(fields: impl IntoIterator<Item = FieldMeta>) -> Screen {
    Screen::Known(
        fields
            .into_iter()
            .map(|f| {
                let field = ScreenField {
                    name: f.name,
                    required: f.required,
                    has_default: f.has_default_value,
                    kind: f.schema.map(|s| s.kind).unwrap_or_default(),
                };
                (f.field_id, field)
            })
            .collect(),
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn both_flavors_pages_are_read() {
        // Cloud's example answer (the official description's), and Data Center's shape.
        let cloud: FieldPage = serde_json::from_value(json!({"fields":[{"fieldId":"assignee","hasDefaultValue":false,"key":"assignee","name":"Assignee","operations":["set"],"required":true,"schema":{"type":"user","system":"assignee"}}],"maxResults":1,"startAt":0,"total":1})).unwrap();
        assert_eq!(cloud.items()[0].field_id, "assignee");
        assert!(!cloud.more_after(0));
        let dc: FieldPage = serde_json::from_value(json!({"values":[{"fieldId":"duedate","name":"Due Date","required":false,"hasDefaultValue":false,"schema":{"type":"date","system":"duedate"}}],"maxResults":1,"startAt":0,"total":2,"isLast":false})).unwrap();
        assert!(dc.more_after(0));
        let types: IssueTypePage = serde_json::from_value(
            json!({"issueTypes":[{"id":"1","name":"Bug"}],"maxResults":1,"startAt":0,"total":2}),
        )
        .unwrap();
        assert_eq!(types.items()[0].name, "Bug");
        assert!(types.more_after(0));
        assert!(!types.more_after(1));
    }

    #[test]
    fn a_known_screen_takes_only_its_fields_and_names_what_it_requires() {
        let screen = screen_of(
            serde_json::from_value::<Vec<FieldMeta>>(json!([
                {"fieldId": "summary", "name": "Summary", "required": true, "schema": {"type": "string"}},
                {"fieldId": "customfield_10050", "name": "Team", "required": true, "schema": {"type": "option"}},
                {"fieldId": "priority", "name": "Priority", "required": true, "hasDefaultValue": true, "schema": {"type": "priority"}},
            ]))
            .unwrap(),
        );
        assert!(screen.takes("summary") && !screen.takes("duedate"));
        let unfilled: Vec<&str> = screen
            .unfilled(&["summary"])
            .into_iter()
            .map(|(id, _)| id)
            .collect();
        assert_eq!(unfilled, ["customfield_10050"], "a default fills priority");
        assert!(Screen::Unknown.takes("duedate"));
        assert!(Screen::Unknown.unfilled(&[]).is_empty());
    }
}
