//! What is sent to the Table API and read back: the body of a new record, of an edit (only what
//! differs), of a move to another state, and of a work note; and the record as read. Every text
//! is plain (`scantix_core::ticket::plain`: alert text inert, `[code]` broken) and within the
//! base system's field lengths.

use crate::settings::{ServiceNowSettings, StateCategory};
use scantix_core::ticket::TicketContent;
use scantix_core::ticket::plain;
use scantix_core::ticket::servicenow::{CORRELATION_DISPLAY, SysId, correlation_id};
use serde::Deserialize;
use serde_json::{Map, Value, json};

/// `task.short_description` is a String (160).
pub const SHORT_DESCRIPTION_LIMIT: usize = 160;
/// `task.description` is a String (4000).
pub const DESCRIPTION_LIMIT: usize = 4_000;
/// A journal entry scantix writes is kept to a description's length: a work note is read, not
/// scrolled.
pub const JOURNAL_LIMIT: usize = 4_000;

/// The fields read back, beside the due date field when there is one.
pub const READ_FIELDS: &str = "sys_id,number,state,short_description,description,urgency,impact";

/// A record as the Table API returns it (`sysparm_exclude_reference_link=true`: actual values, all
/// strings).
#[derive(Debug, Clone, Default, Deserialize)]
pub struct Record {
    pub sys_id: String,
    #[serde(default)]
    pub number: String,
    #[serde(default)]
    pub state: String,
    #[serde(default)]
    pub short_description: String,
    #[serde(default)]
    pub description: String,
    #[serde(default)]
    pub urgency: String,
    #[serde(default)]
    pub impact: String,
    /// Every other field asked for (the due date field).
    #[serde(flatten)]
    pub other: Map<String, Value>,
}

/// The Table API's envelope around one record.
#[derive(Debug, Deserialize)]
pub struct One<T> {
    pub result: T,
}

/// The Table API's envelope around a listing.
#[derive(Debug, Deserialize)]
pub struct Many<T> {
    #[serde(default = "Vec::new")]
    pub result: Vec<T>,
}

/// `short_description`: the title on one line, within 160 characters.
pub fn short_description(content: &TicketContent) -> String {
    plain::cap(&plain::line(&content.title), SHORT_DESCRIPTION_LIMIT)
}

/// `description`: the ticket as plain text within 4,000 characters, its last line naming the group.
pub fn description(content: &TicketContent) -> String {
    plain::render_within(content, DESCRIPTION_LIMIT)
}

/// The fields scantix keeps current on every edit.
fn current_fields(settings: &ServiceNowSettings, content: &TicketContent) -> Map<String, Value> {
    let mut fields = Map::new();
    fields.insert(
        "short_description".into(),
        json!(short_description(content)),
    );
    fields.insert("description".into(), json!(description(content)));
    fields.insert(
        "urgency".into(),
        json!(settings.urgency.for_severity(content.severity)),
    );
    fields.insert(
        "impact".into(),
        json!(settings.impact.for_severity(content.severity)),
    );
    if let (Some(field), Some(due)) = (settings.fields.due_date_field(), content.due) {
        // A glide_date_time as the Table API takes actual values: UTC, `YYYY-MM-DD HH:MM:SS`.
        fields.insert(field.into(), json!(format!("{due} 23:59:59")));
    }
    fields
}

/// The body of `POST /api/now/table/{table}`: the current fields, the group's `correlation_id`
/// (what `find` queries) with `correlation_display` saying it is scantix's, the fixed fields of the
/// settings, and the owner as `assigned_to` when the owners map names a user by `sys_id`.
pub fn create_body(settings: &ServiceNowSettings, content: &TicketContent) -> Value {
    let mut body = current_fields(settings, content);
    body.insert(
        "correlation_id".into(),
        json!(correlation_id(&content.group_key)),
    );
    body.insert("correlation_display".into(), json!(CORRELATION_DISPLAY));
    let mapping = &settings.fields;
    for (name, value) in [
        ("assignment_group", &mapping.assignment_group),
        ("category", &mapping.category),
        ("subcategory", &mapping.subcategory),
        ("caller_id", &mapping.caller_id),
    ] {
        if let Some(value) = value.as_deref().map(str::trim).filter(|v| !v.is_empty()) {
            body.insert(name.into(), json!(value));
        }
    }
    for (name, value) in &mapping.extra {
        body.insert(name.trim().into(), json!(value));
    }
    if let Some(user) = content
        .assignee
        .as_deref()
        .and_then(|a| SysId::parse(a).ok())
    {
        body.insert("assigned_to".into(), json!(user.as_str()));
    }
    Value::Object(body)
}

/// The body of the `PATCH` that makes `record` say what `content` says, or `None` when it already
/// does (so a repeated refresh writes nothing, and the business rule sends nothing back).
/// Assignment is left alone: after creation it is people's to change.
pub fn edit_body(
    record: &Record,
    settings: &ServiceNowSettings,
    content: &TicketContent,
) -> Option<Value> {
    let mut changes = Map::new();
    for (name, wanted) in current_fields(settings, content) {
        let now = match name.as_str() {
            "short_description" => Some(json!(record.short_description)),
            "description" => Some(json!(record.description)),
            "urgency" => Some(json!(record.urgency)),
            "impact" => Some(json!(record.impact)),
            other => record.other.get(other).cloned(),
        };
        if now.as_ref() != Some(&wanted) {
            changes.insert(name, wanted);
        }
    }
    (!changes.is_empty()).then_some(Value::Object(changes))
}

/// The body of the `PATCH` that moves a record to `value` (of `category`); resolving sets the
/// settings' resolve fields too (the incident table's data policy wants a close code and notes).
pub fn move_body(settings: &ServiceNowSettings, category: StateCategory, value: &str) -> Value {
    let mut body = Map::new();
    body.insert("state".into(), json!(value));
    if category == StateCategory::Resolved {
        for (name, value) in &settings.resolve_fields {
            body.insert(name.trim().into(), json!(plain::block(value)));
        }
    }
    Value::Object(body)
}

/// The marker line a work note ends with, naming its `comment_id` (`scantix ref <id>`): how a
/// repeat is recognised, and how the receiver tells scantix's own notes (`decide_ticket` ignores
/// comments holding it).
pub fn marker(comment_id: &str) -> String {
    format!("scantix ref {}", plain::line(comment_id))
}

/// A work note: the text as plain text within the journal limit, ending with its marker.
pub fn note(comment_id: &str, text: &str) -> String {
    let marker = marker(comment_id);
    let room = JOURNAL_LIMIT.saturating_sub(marker.chars().count() + 2);
    format!("{}\n\n{marker}", plain::cap(&plain::block(text), room))
}

/// A journal entry as `sys_journal_field` lists it.
#[derive(Debug, Deserialize)]
pub struct JournalEntry {
    #[serde(default)]
    pub value: String,
}

#[cfg(test)]
mod tests {
    use super::*;
    use scantix_core::finding::Severity;

    fn hostile() -> TicketContent {
        let alerts: Vec<_> = (1..=3)
            .map(|n| {
                let mut f = scantix_core::testing::code_alert(n, "js/xss", &format!("src/{n}.js"));
                f.rule.name = "XSS [code]<img src=x onerror=alert(1)>[/code]".into();
                f
            })
            .collect();
        let mut content = scantix_core::testing::ticket_of(&alerts).unwrap();
        content.title = format!("[code]<script>x</script>[/code]\r\n{}", "t".repeat(300));
        content
    }

    #[test]
    fn a_new_record_is_plain_text_within_the_field_lengths() {
        let mut content = hostile();
        content.due = chrono::NaiveDate::from_ymd_opt(2026, 12, 31);
        content.assignee = Some("681B365EC0A80164000FB0B05854A0CD".into());
        let mut settings = ServiceNowSettings::new("https://x.service-now.com");
        settings.fields.assignment_group = Some("287ebd7da9fe198100f92cc8d1d2154e".into());
        settings
            .fields
            .extra
            .insert("u_source".into(), "scantix".into());
        let body = create_body(&settings, &content);
        let short = body["short_description"].as_str().unwrap();
        assert!(short.chars().count() <= SHORT_DESCRIPTION_LIMIT && !short.contains('\n'));
        for field in ["short_description", "description"] {
            let text = body[field].as_str().unwrap();
            assert!(!plain::has_code_tag(text), "{field}: {text}");
        }
        assert_eq!(body["correlation_id"], json!(content.group_key.as_str()));
        assert_eq!(body["correlation_display"], json!("scantix"));
        assert_eq!(body["urgency"], json!("1"));
        assert_eq!(body["impact"], json!("2"));
        assert_eq!(body["due_date"], json!("2026-12-31 23:59:59"));
        assert_eq!(
            body["assigned_to"],
            json!("681b365ec0a80164000fb0b05854a0cd")
        );
        assert_eq!(
            body["assignment_group"],
            json!("287ebd7da9fe198100f92cc8d1d2154e")
        );
        assert_eq!(body["u_source"], json!("scantix"));
        content.assignee = Some("alice".into());
        assert!(
            create_body(&settings, &content)
                .get("assigned_to")
                .is_none()
        );
    }

    #[test]
    fn an_edit_sends_only_what_differs() {
        let mut content = hostile();
        let settings = ServiceNowSettings::new("https://x.service-now.com");
        let record = Record {
            sys_id: "a9e30c7dc61122760116894de7bcc7bd".into(),
            short_description: short_description(&content),
            description: description(&content),
            urgency: "1".into(),
            impact: "2".into(),
            ..Record::default()
        };
        assert_eq!(edit_body(&record, &settings, &content), None);
        content.severity = Severity::Critical;
        assert_eq!(
            edit_body(&record, &settings, &content),
            Some(json!({"impact": "1"}))
        );
    }

    #[test]
    fn resolving_sets_the_close_fields_and_notes_end_with_their_marker() {
        let settings = ServiceNowSettings::new("https://x.service-now.com");
        let resolved = move_body(&settings, StateCategory::Resolved, "6");
        assert_eq!(resolved["state"], json!("6"));
        assert_eq!(resolved["close_code"], json!("Solution provided"));
        assert_eq!(
            move_body(&settings, StateCategory::InProgress, "2"),
            json!({"state": "2"})
        );
        let note = note("scantix-0a1b-4", "Still open: [code]<b>#3</b>[/code]");
        assert!(note.ends_with("\n\nscantix ref scantix-0a1b-4"));
        assert!(!plain::has_code_tag(&note));
        assert!(super::note("c", &"x".repeat(9_000)).chars().count() <= JOURNAL_LIMIT);
    }
}
