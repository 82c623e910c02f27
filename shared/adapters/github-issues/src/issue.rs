//! What the adapter sends GitHub and reads back, as plain values: the create, edit and move bodies
//! (title, Markdown body with its group marker, labels, assignee, state), the comment body with
//! its id marker, and the parts of GitHub's issue and comment answers that matter. No I/O here, so
//! every rule is tested with plain values.

use scantix_core::identity::GroupKey;
use scantix_core::records::TicketState;
use scantix_core::ticket::STALE_LABEL;
use scantix_core::ticket::github_issue::Label;
use scantix_core::ticket::{TicketContent, markdown};
use serde::Deserialize;
use serde_json::{Map, Value, json};

/// GitHub refuses an issue or comment body over 65,536 characters.
pub const BODY_LIMIT: usize = 65_536;

/// GitHub refuses a label name over 50 characters.
const LABEL_LIMIT: usize = 50;

/// GitHub refuses a title over 256 characters.
const TITLE_LIMIT: usize = 256;

/// An issue as GitHub answers it (the REST API and the webhooks alike), the fields read here.
#[derive(Debug, Clone, Deserialize)]
pub struct Issue {
    pub number: u64,
    #[serde(default)]
    pub title: String,
    #[serde(default)]
    pub body: Option<String>,
    /// `open` or `closed`.
    #[serde(default)]
    pub state: String,
    #[serde(default)]
    pub labels: Vec<Label>,
    #[serde(default)]
    pub html_url: Option<String>,
    /// Set on pull requests, which the issues API lists and numbers among issues.
    #[serde(default)]
    pub pull_request: Option<Value>,
}

impl Issue {
    pub fn label_names(&self) -> Vec<String> {
        self.labels.iter().map(|l| l.name().to_owned()).collect()
    }

    fn has_label(&self, name: &str) -> bool {
        self.labels
            .iter()
            .any(|l| l.name().eq_ignore_ascii_case(name))
    }

    pub fn is_open(&self) -> bool {
        self.state != "closed"
    }

    /// Whether this is the ticket of `group`: an issue (not a pull request) whose body carries the
    /// group's marker. The label that found it is a short digest, and anyone who can label issues
    /// can put it on another one; the marker is the group key itself.
    pub fn is_ticket_of(&self, group: &GroupKey) -> bool {
        self.pull_request.is_none()
            && self
                .body
                .as_deref()
                .is_some_and(|body| body.contains(&markdown::group_marker(group)))
    }
}

/// A comment as GitHub answers it, the field read here.
#[derive(Debug, Clone, Deserialize)]
pub struct Comment {
    #[serde(default)]
    pub body: Option<String>,
}

/// The title as an issue shows it: one line, within GitHub's limit, and no `@` that would read as
/// a mention (the title comes from alert text).
pub fn title(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars().take(TITLE_LIMIT) {
        match c {
            '@' => out.push_str("@\u{200B}"),
            c if c.is_control() => out.push(' '),
            c => out.push(c),
        }
    }
    // The zero-width spaces may have pushed it over.
    if out.chars().count() > TITLE_LIMIT {
        out = out.chars().take(TITLE_LIMIT - 1).collect::<String>() + "…";
    }
    out
}

/// The issue body: the ticket anatomy as inert Markdown, ending with the group marker, within
/// GitHub's limit.
pub fn body(content: &TicketContent) -> String {
    markdown::render_within(content, BODY_LIMIT)
}

/// The labels a new ticket carries: scantix's own (among them the group's digest label, which
/// `find` searches by) and the content's, each valid for GitHub, without repeats.
pub fn labels(content: &TicketContent) -> Vec<String> {
    let own = [
        "scantix".to_owned(),
        format!("severity:{}", content.severity),
        content.group_key.label(),
    ];
    let mut out: Vec<String> = Vec::new();
    for raw in own.iter().chain(&content.labels) {
        push_label(&mut out, raw);
    }
    out
}

/// The labels after an edit: those on the issue now (people's, and `scantix-stale`), less a
/// severity label that no longer applies, plus the content's.
pub fn labels_after_edit(current: &[String], content: &TicketContent) -> Vec<String> {
    let wanted = labels(content);
    let mut out: Vec<String> = Vec::new();
    for label in current {
        let outdated_severity =
            label.starts_with("severity:") && !wanted.iter().any(|w| w.eq_ignore_ascii_case(label));
        if !outdated_severity {
            push_label(&mut out, label);
        }
    }
    for label in &wanted {
        push_label(&mut out, label);
    }
    out
}

/// Adds `raw` as GitHub takes a label: trimmed, no commas (the listing's `labels` filter splits on
/// them), at most 50 characters; unless empty or already there (GitHub compares names
/// case-insensitively).
fn push_label(labels: &mut Vec<String>, raw: &str) {
    let label: String = raw
        .trim()
        .chars()
        .filter(|c| *c != ',' && !c.is_control())
        .take(LABEL_LIMIT)
        .collect();
    if !label.is_empty() && !labels.iter().any(|l| l.eq_ignore_ascii_case(&label)) {
        labels.push(label);
    }
}

/// Whether two label lists hold the same names, whatever their order and case.
fn same_labels(a: &[String], b: &[String]) -> bool {
    a.len() == b.len()
        && a.iter()
            .all(|x| b.iter().any(|y| y.eq_ignore_ascii_case(x)))
}

/// The assignee GitHub can be given: a login (an owner's `@login` from CODEOWNERS works too). A
/// team (`@org/team`) or anything else that is not a login is left out: GitHub would refuse the
/// whole issue over it.
pub fn assignee(content: &TicketContent) -> Option<String> {
    login(content.assignee.as_deref()?)
}

/// `raw` as a GitHub login (`@login` too), or `None` for anything that is not one.
pub fn login(raw: &str) -> Option<String> {
    let login = raw.trim().trim_start_matches('@');
    let is_login = (1..=39).contains(&login.len())
        && login
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'-')
        && !login.starts_with('-');
    is_login.then(|| login.to_owned())
}

/// The body of `POST /repos/{o}/{r}/issues`.
pub fn create_body(content: &TicketContent, with_assignee: bool) -> Value {
    let mut request = json!({
        "title": title(&content.title),
        "body": body(content),
        "labels": labels(content),
    });
    if with_assignee && let Some(login) = assignee(content) {
        request["assignees"] = json!([login]);
    }
    request
}

/// The body of the `PATCH` that makes `issue` say what `content` says, or `None` when it already
/// does. Assignees are left alone: after creation they are people's to change.
pub fn edit_body(issue: &Issue, content: &TicketContent) -> Option<Value> {
    let mut changes = Map::new();
    let title = title(&content.title);
    if issue.title != title {
        changes.insert("title".into(), json!(title));
    }
    let body = body(content);
    if issue.body.as_deref() != Some(body.as_str()) {
        changes.insert("body".into(), json!(body));
    }
    let current = issue.label_names();
    let labels = labels_after_edit(&current, content);
    if !same_labels(&current, &labels) {
        changes.insert("labels".into(), json!(labels));
    }
    (!changes.is_empty()).then_some(Value::Object(changes))
}

/// The body of the `PATCH` that moves `issue` to ticket state `to`, or `None` when it is there.
///
/// - `Resolved`: closed as `completed`. An issue already closed stays as it is: a person who
///   closed it as "not planned" said something scantix must not overwrite.
/// - `Stale`: the `scantix-stale` label; open or closed is left alone, as Jira's status is.
/// - `Open`, `Reopened`, `InProgress`, `Draft`: open (GitHub has no "in progress"), reopened
///   with `state_reason: reopened` if closed.
///
/// Leaving `Stale` by any move takes the label off. "Not planned" is no ticket state: scantix
/// closes that way only when every alert was dismissed (`close_not_planned_body`), and reads it
/// *from* GitHub as a person's won't-fix (see `scantix_webhooks::github::issues`).
pub fn move_body(issue: &Issue, to: TicketState) -> Option<Value> {
    let mut changes = Map::new();
    let stale = issue.has_label(STALE_LABEL);
    match to {
        TicketState::Stale => {
            if !stale {
                let mut labels = issue.label_names();
                labels.push(STALE_LABEL.to_owned());
                changes.insert("labels".into(), json!(labels));
            }
            return (!changes.is_empty()).then_some(Value::Object(changes));
        }
        TicketState::Resolved => {
            if issue.is_open() {
                changes.insert("state".into(), json!("closed"));
                changes.insert("state_reason".into(), json!("completed"));
            }
        }
        TicketState::Open
        | TicketState::Reopened
        | TicketState::InProgress
        | TicketState::Draft => {
            if !issue.is_open() {
                changes.insert("state".into(), json!("open"));
                changes.insert("state_reason".into(), json!("reopened"));
            }
        }
    }
    if stale {
        let labels: Vec<String> = issue
            .label_names()
            .into_iter()
            .filter(|l| !l.eq_ignore_ascii_case(STALE_LABEL))
            .collect();
        changes.insert("labels".into(), json!(labels));
    }
    (!changes.is_empty()).then_some(Value::Object(changes))
}

/// The body of the `PATCH` that closes `issue` as `not_planned` (every alert on it dismissed,
/// none fixed), or `None` when it is closed already: as for `Resolved`, a person's own closing
/// reason stands. The stale label comes off.
pub fn close_not_planned_body(issue: &Issue) -> Option<Value> {
    if !issue.is_open() {
        return None;
    }
    let labels: Vec<String> = issue
        .label_names()
        .into_iter()
        .filter(|l| !l.eq_ignore_ascii_case(STALE_LABEL))
        .collect();
    Some(json!({ "state": "closed", "state_reason": "not_planned", "labels": labels }))
}

/// A comment's body: the text as inert Markdown (it quotes alert text), within GitHub's limit,
/// ending with the marker of `comment_id`.
pub fn comment_body(comment_id: &str, text: &str) -> String {
    let marker = markdown::comment_marker(comment_id);
    let mut shown = markdown::text(text);
    let room = BODY_LIMIT - marker.chars().count() - 4;
    if shown.chars().count() > room {
        shown = shown.chars().take(room - 1).collect::<String>() + "…";
    }
    format!("{shown}\n\n{marker}")
}

/// Whether one of `comments` was posted for `comment_id`.
pub fn has_comment(comments: &[Comment], comment_id: &str) -> bool {
    let marker = markdown::comment_marker(comment_id);
    comments
        .iter()
        .any(|c| c.body.as_deref().is_some_and(|b| b.contains(&marker)))
}

#[cfg(test)]
mod tests {
    use super::*;
    use scantix_core::finding::Severity;

    /// The content of a group of `findings` alerts whose text tries to mention, link and inject.
    fn hostile_content(findings: u64) -> TicketContent {
        let rule = "js/xss";
        let alerts: Vec<_> = (1..=findings)
            .map(|number| {
                let mut finding =
                    scantix_core::testing::code_alert(number, rule, &format!("src/{number}.js"));
                finding.rule.name = "XSS @here <script>x</script> [a](javascript:x)".into();
                finding
            })
            .collect();
        let mut content = scantix_core::testing::ticket_of(&alerts).unwrap();
        content.title = "XSS @here <script>x</script>\r\nsecond line".into();
        content.labels.push("with space".into());
        content
    }

    fn issue(state: &str, labels: &[&str], body: Option<&str>) -> Issue {
        serde_json::from_value(json!({
            "number": 7,
            "title": "t",
            "body": body,
            "state": state,
            "labels": labels.iter().map(|l| json!({"name": l, "color": "ededed"})).collect::<Vec<_>>(),
        }))
        .unwrap()
    }

    #[test]
    fn a_new_issue_carries_the_anatomy_the_labels_and_a_login() {
        let mut content = hostile_content(3);
        content.assignee = Some("@octo-cat".into());
        let request = create_body(&content, true);
        let title = request["title"].as_str().unwrap();
        assert!(
            !title.contains("@here") && title.contains("@\u{200B}here"),
            "{title}"
        );
        assert!(!title.contains('\n') && title.chars().count() <= TITLE_LIMIT);
        let body = request["body"].as_str().unwrap();
        assert!(body.contains("### Findings (3)"));
        assert!(
            !body.contains("<script>") && !body.contains("@here"),
            "{body}"
        );
        assert!(body.ends_with(&format!("{}\n", markdown::group_marker(&content.group_key))));
        assert_eq!(
            request["labels"],
            json!([
                "scantix",
                "severity:high",
                content.group_key.label(),
                "code-scanning",
                "with space"
            ])
        );
        assert_eq!(request["assignees"], json!(["octo-cat"]));
        assert!(create_body(&content, false).get("assignees").is_none());
        for not_a_login in ["@acme/appsec", "5b10a2844c20165700ede21g!", "-x", ""] {
            content.assignee = Some(not_a_login.into());
            assert_eq!(assignee(&content), None, "{not_a_login}");
        }
    }

    #[test]
    fn labels_are_valid_for_github() {
        let mut content = hostile_content(1);
        content.labels = vec!["a,b".into(), "x".repeat(60), "  ".into(), "SCANTIX".into()];
        let labels = labels(&content);
        assert_eq!(labels[3], "ab");
        assert_eq!(labels[4].len(), 50);
        assert_eq!(
            labels.len(),
            5,
            "blank and repeated names dropped: {labels:?}"
        );
    }

    #[test]
    fn an_edit_keeps_peoples_labels_and_swaps_the_severity() {
        let mut content = hostile_content(2);
        content.severity = Severity::Critical;
        content.labels = vec!["scantix".into(), "severity:critical".into()];
        let current = issue(
            "open",
            &["scantix", "severity:high", "team:payments", STALE_LABEL],
            Some(&body(&content)),
        );
        let mut now_titled = current.clone();
        now_titled.title = title(&content.title);

        let edit = edit_body(&now_titled, &content).unwrap();

        assert!(
            edit.get("title").is_none() && edit.get("body").is_none(),
            "{edit}"
        );
        assert_eq!(
            edit["labels"],
            json!([
                "scantix",
                "team:payments",
                STALE_LABEL,
                "severity:critical",
                content.group_key.label()
            ])
        );
        let mut applied = now_titled.clone();
        applied.labels = serde_json::from_value(edit["labels"].clone()).unwrap();
        assert_eq!(
            edit_body(&applied, &content),
            None,
            "nothing left to change"
        );
    }

    #[test]
    fn closing_as_not_planned_says_so_and_leaves_a_closed_issue_alone() {
        let stale = issue("open", &["scantix", STALE_LABEL], None);
        assert_eq!(
            close_not_planned_body(&stale),
            Some(json!({"state": "closed", "state_reason": "not_planned", "labels": ["scantix"]}))
        );
        let closed = issue("closed", &["scantix"], None);
        assert_eq!(close_not_planned_body(&closed), None);
    }

    #[test]
    fn moves_map_ticket_states_onto_open_and_closed() {
        let open = issue("open", &["scantix"], None);
        let closed = issue("closed", &["scantix"], None);
        let stale = issue("open", &["scantix", STALE_LABEL], None);
        assert_eq!(
            move_body(&open, TicketState::Resolved),
            Some(json!({"state": "closed", "state_reason": "completed"}))
        );
        assert_eq!(
            move_body(&closed, TicketState::Resolved),
            None,
            "a person's reason stays"
        );
        assert_eq!(
            move_body(&closed, TicketState::Reopened),
            Some(json!({"state": "open", "state_reason": "reopened"}))
        );
        for already in [
            TicketState::Open,
            TicketState::InProgress,
            TicketState::Reopened,
        ] {
            assert_eq!(move_body(&open, already), None, "{already}");
        }
        assert_eq!(
            move_body(&open, TicketState::Stale),
            Some(json!({"labels": ["scantix", STALE_LABEL]}))
        );
        assert_eq!(move_body(&stale, TicketState::Stale), None);
        assert_eq!(
            move_body(&stale, TicketState::Resolved),
            Some(json!({"state": "closed", "state_reason": "completed", "labels": ["scantix"]}))
        );
        assert_eq!(
            move_body(&stale, TicketState::Open),
            Some(json!({"labels": ["scantix"]}))
        );
    }

    #[test]
    fn only_the_groups_issue_is_its_ticket() {
        let content = hostile_content(1);
        let ticket = issue("open", &[], Some(&body(&content)));
        assert!(ticket.is_ticket_of(&content.group_key));
        let other = GroupKey::from_stored("42/code-scanning/rule:CodeQL:js/other");
        assert!(!ticket.is_ticket_of(&other));
        let mut pull = ticket.clone();
        pull.pull_request = Some(json!({"url": "https://api.github.com/repos/o/r/pulls/7"}));
        assert!(!pull.is_ticket_of(&content.group_key));
        assert!(!issue("open", &[], None).is_ticket_of(&content.group_key));
    }

    #[test]
    fn comments_carry_their_id_and_nothing_live() {
        let posted = comment_body("scantix-0a1b2c-4", "Closed by @admin: see #12\n<b>x</b>");
        assert!(
            posted.starts_with("Closed by @\u{200B}admin\\: see \\#\u{200B}12\n&lt;b&gt;"),
            "{posted}"
        );
        assert!(posted.ends_with("<!-- scantix:comment=scantix%2D0a1b2c%2D4 -->"));
        let seen = [Comment { body: None }, Comment { body: Some(posted) }];
        assert!(has_comment(&seen, "scantix-0a1b2c-4"));
        assert!(!has_comment(&seen, "scantix-0a1b2c-5"));
        let long = comment_body("c-1", &"x".repeat(70_000));
        assert!(long.chars().count() <= BODY_LIMIT && long.ends_with("c%2D1 -->"));
    }
}
