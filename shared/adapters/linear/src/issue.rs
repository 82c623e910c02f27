//! What the adapter sends Linear and reads back, as plain values: the group's link and issue ids,
//! the title and Markdown description (alert text inert, through the core's Markdown renderer),
//! priority and due date, which workflow state a ticket state means (by the state's *type*, never
//! its name), the comment body and its id. No I/O here, so every rule is tested with plain values.

use percent_encoding::{AsciiSet, NON_ALPHANUMERIC, utf8_percent_encode};
use scantix_core::finding::Severity;
use scantix_core::identity::GroupKey;
use scantix_core::records::TicketState;
use scantix_core::ticket::{TicketContent, markdown};
use serde::Deserialize;
use sha2::{Digest, Sha256};

/// Linear's issue titles are plain text; 255 characters is what its UI keeps on one line and well
/// under any limit its API enforces.
pub const TITLE_LIMIT: usize = 255;

/// The longest description sent: Markdown as GitHub Issues takes it (Linear documents no limit;
/// a body this long is already cut by `markdown::render_within`, findings first).
pub const DESCRIPTION_LIMIT: usize = 65_536;

/// Issue ids tried per group: the first is the group's, each later one is for a ticket made again
/// after a person deleted the earlier one (Linear keeps a deleted issue's id in its trash).
pub const ID_GENERATIONS: u32 = 8;

/// The label every scantix ticket carries (found or made in the team, by name).
pub const SCANTIX_LABEL: &str = "scantix";

/// Characters kept as they are in a group link: letters, digits, and `-._~`, as in any URL path.
const LINK_SAFE: &AsciiSet = &NON_ALPHANUMERIC
    .remove(b'-')
    .remove(b'.')
    .remove(b'_')
    .remove(b'~');

/// The group's link: the attachment URL that marks an issue as the group's ticket. Linear keeps one
/// attachment per issue and URL, and `attachmentsForURL` finds the issue again by it.
pub fn group_link(base: &str, group: &GroupKey) -> String {
    format!("{base}{}", utf8_percent_encode(group.as_str(), LINK_SAFE))
}

/// The issue id scantix gives the `generation`th ticket of `group`: a UUID (Linear takes
/// client-chosen v4-format ids in `issueCreate`) derived from the group key, so that an issue
/// created by a request whose answer was lost can be looked up by id before its attachment exists.
pub fn issue_id(group: &GroupKey, generation: u32) -> String {
    derived_uuid(&format!(
        "scantix:linear:issue:{generation}:{}",
        group.as_str()
    ))
}

/// The comment id scantix gives the comment `comment_id` (unique per group and op): a repeat
/// finds the comment by it.
pub fn comment_uuid(issue: &str, comment_id: &str) -> String {
    derived_uuid(&format!("scantix:linear:comment:{issue}:{comment_id}"))
}

/// A UUID in the version-4 layout (version nibble 4, RFC 4122 variant) made from a digest of
/// `name`: Linear checks the layout, and the digest makes it the same on every run.
fn derived_uuid(name: &str) -> String {
    let digest = Sha256::digest(name.as_bytes());
    let mut bytes = [0u8; 16];
    bytes.copy_from_slice(&digest[..16]);
    bytes[6] = (bytes[6] & 0x0f) | 0x40;
    bytes[8] = (bytes[8] & 0x3f) | 0x80;
    let hex: String = bytes.iter().map(|b| format!("{b:02x}")).collect();
    format!(
        "{}-{}-{}-{}-{}",
        &hex[..8],
        &hex[8..12],
        &hex[12..16],
        &hex[16..20],
        &hex[20..]
    )
}

/// The title as an issue shows it: one line, no bidirectional controls, within the limit.
pub fn title(text: &str) -> String {
    let clean: String = text
        .chars()
        .filter(|c| !markdown::is_bidi_control(*c))
        .map(|c| if c.is_control() { ' ' } else { c })
        .collect();
    let clean = clean.trim();
    if clean.chars().count() <= TITLE_LIMIT {
        return clean.to_owned();
    }
    clean.chars().take(TITLE_LIMIT - 1).collect::<String>() + "…"
}

/// The description: the ticket anatomy as inert Markdown (the core's renderer, shared with GitHub
/// Issues), within the limit. The trailing group marker (an HTML comment, which GitHub hides) is
/// left out: Linear's editor would show it as text, and the group's attachment names the group.
pub fn description(content: &TicketContent) -> String {
    let rendered = markdown::render_within(content, DESCRIPTION_LIMIT);
    let marker = markdown::group_marker(&content.group_key);
    match rendered.trim_end().strip_suffix(marker.as_str()) {
        Some(body) => format!("{}\n", body.trim_end()),
        None => rendered,
    }
}

/// Linear's priority for a severity: 1 urgent, 2 high, 3 medium, 4 low, 0 none.
pub fn priority(severity: Severity) -> i64 {
    match severity {
        Severity::Critical => 1,
        Severity::High => 2,
        Severity::Medium => 3,
        Severity::Low => 4,
        Severity::Note | Severity::Unknown => 0,
    }
}

/// The label names a new ticket carries: scantix's, its severity's, and the content's; each one
/// line, without repeats (compared as Linear does, ignoring case). The group's digest label is
/// left out: a Linear label is a team-wide entity, one per group would flood the team's label
/// list, and the group's attachment already names the group.
pub fn label_names(content: &TicketContent) -> Vec<String> {
    let own = [
        SCANTIX_LABEL.to_owned(),
        format!("severity:{}", content.severity),
    ];
    let mut out: Vec<String> = Vec::new();
    let content_labels = content.labels.iter().filter(|l| !GroupKey::is_label(l));
    for raw in own.iter().chain(content_labels) {
        let name = title(raw);
        if !name.is_empty() && !out.iter().any(|n| n.eq_ignore_ascii_case(&name)) {
            out.push(name);
        }
    }
    out
}

/// A comment's body: the text as inert Markdown (it quotes alert text), within the limit.
pub fn comment_body(text: &str) -> String {
    let shown = markdown::text(text);
    if shown.chars().count() <= DESCRIPTION_LIMIT {
        return shown;
    }
    shown
        .chars()
        .take(DESCRIPTION_LIMIT - 1)
        .collect::<String>()
        + "…"
}

/// A workflow state as Linear lists a team's states.
#[derive(Debug, Clone, PartialEq, Deserialize)]
pub struct WorkflowState {
    pub id: String,
    pub name: String,
    /// `triage`, `backlog`, `unstarted`, `started`, `completed` or `canceled`.
    #[serde(rename = "type")]
    pub kind: String,
    #[serde(default)]
    pub position: f64,
}

/// Where a state stands, whatever it is called.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Stage {
    /// `triage`, `backlog`, `unstarted`.
    ToDo,
    /// `started`.
    Doing,
    /// `completed`.
    Done,
    /// `canceled`: closed without the work (won't fix, duplicate).
    Canceled,
}

impl Stage {
    /// The stage of a state `type`; `None` for a type Linear adds later.
    pub fn of(kind: &str) -> Option<Stage> {
        match kind {
            "triage" | "backlog" | "unstarted" => Some(Stage::ToDo),
            "started" => Some(Stage::Doing),
            "completed" => Some(Stage::Done),
            "canceled" => Some(Stage::Canceled),
            _ => None,
        }
    }

    /// The state types to move to for this stage, most preferred first.
    fn wanted(self) -> &'static [&'static str] {
        match self {
            Stage::ToDo => &["unstarted", "backlog", "triage"],
            Stage::Doing => &["started"],
            Stage::Done => &["completed"],
            Stage::Canceled => &["canceled"],
        }
    }
}

/// The stage a ticket state asks for; `None` for `Stale`, which is a label, not a state.
pub fn stage_for(to: TicketState) -> Option<Stage> {
    match to {
        TicketState::Open | TicketState::Reopened | TicketState::Draft => Some(Stage::ToDo),
        TicketState::InProgress => Some(Stage::Doing),
        TicketState::Resolved => Some(Stage::Done),
        TicketState::Stale => None,
    }
}

/// The state to move an issue in `current` (a state type) to for `target`, or `None` when it is
/// there already. A closed issue (completed or canceled) counts as there for `Done` and for
/// `Canceled`: a person's reason for closing stands. Otherwise the first state (by position) of
/// the most preferred type the team has; `Err` lists the types it has when none fits.
pub fn choose_state<'a>(
    states: &'a [WorkflowState],
    current: &str,
    target: Stage,
) -> Result<Option<&'a WorkflowState>, String> {
    let now = Stage::of(current);
    let closed = |s: Option<Stage>| matches!(s, Some(Stage::Done | Stage::Canceled));
    let there = match target {
        Stage::Done | Stage::Canceled => closed(now),
        other => now == Some(other),
    };
    if there {
        return Ok(None);
    }
    for kind in target.wanted() {
        let best = states
            .iter()
            .filter(|s| s.kind == *kind)
            .min_by(|a, b| a.position.total_cmp(&b.position));
        if let Some(state) = best {
            return Ok(Some(state));
        }
    }
    let mut kinds: Vec<&str> = states.iter().map(|s| s.kind.as_str()).collect();
    kinds.sort_unstable();
    kinds.dedup();
    Err(format!(
        "the team has no workflow state of type {}; it has: {}",
        target.wanted().join(" or "),
        kinds.join(", ")
    ))
}

/// An issue identifier as it may be sent (`SEC-12`): a team key of letters and digits, a dash,
/// a number. Anything else did not come from Linear and is refused rather than sent.
pub fn is_identifier(key: &str) -> bool {
    let Some((team, number)) = key.rsplit_once('-') else {
        return false;
    };
    (1..=16).contains(&team.len())
        && team.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'_')
        && (1..=12).contains(&number.len())
        && number.bytes().all(|b| b.is_ascii_digit())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn state(id: &str, kind: &str, position: f64) -> WorkflowState {
        WorkflowState {
            id: id.into(),
            name: format!("{kind} {id}"),
            kind: kind.into(),
            position,
        }
    }

    fn hostile_content() -> TicketContent {
        let mut finding = scantix_core::testing::code_alert(1, "js/xss", "src/1.js");
        finding.rule.name = "XSS @here <script>x</script> [a](javascript:x)".into();
        let mut content = scantix_core::testing::ticket_of(&[finding]).unwrap();
        content.title = "XSS @here\r\n<script>\u{202E}x".into();
        content
    }

    #[test]
    fn ids_are_uuids_derived_from_the_group_and_differ_by_generation() {
        let group = GroupKey::from_stored("42/code-scanning/rule:CodeQL:js/xss");
        let first = issue_id(&group, 0);
        assert_eq!(first, issue_id(&group, 0), "the same on every run");
        assert_ne!(first, issue_id(&group, 1));
        assert_eq!(first.len(), 36);
        assert_eq!(&first[14..15], "4", "version 4 layout: {first}");
        assert!("89ab".contains(&first[19..20]), "RFC 4122 variant: {first}");
        let other = GroupKey::from_stored("42/code-scanning/rule:CodeQL:js/sqli");
        assert_ne!(first, issue_id(&other, 0));
        assert_ne!(comment_uuid("SEC-1", "c-1"), comment_uuid("SEC-2", "c-1"));
    }

    #[test]
    fn the_group_link_is_one_url_per_group() {
        let group = GroupKey::from_stored("42/code-scanning/rule:CodeQL:js/x ss?a=b#c");
        let link = group_link(DEFAULT_LINK, &group);
        assert_eq!(
            link,
            "https://scantix.invalid/groups/42%2Fcode-scanning%2Frule%3ACodeQL%3Ajs%2Fx%20ss%3Fa%3Db%23c"
        );
    }
    const DEFAULT_LINK: &str = crate::settings::DEFAULT_GROUP_LINK_BASE;

    #[test]
    fn title_and_description_are_inert() {
        let content = hostile_content();
        let t = title(&content.title);
        assert!(!t.contains('\n') && !t.contains('\u{202E}'), "{t:?}");
        let d = description(&content);
        assert!(!d.contains("<script>") && !d.contains("@here"), "{d}");
        assert!(!d.contains("](javascript"), "{d}");
        assert!(!d.contains("<!--"), "no marker in Linear: {d}");
        assert!(d.contains("### Findings (1)"));
        assert_eq!(title(&"x".repeat(400)).chars().count(), TITLE_LIMIT);
    }

    #[test]
    fn states_are_chosen_by_type_and_position_never_by_name() {
        let states = [
            state("t", "triage", 0.0),
            state("b", "backlog", 1.0),
            state("u2", "unstarted", 3.0),
            state("u1", "unstarted", 2.0),
            state("s", "started", 4.0),
            state("d", "completed", 5.0),
            state("x", "canceled", 6.0),
        ];
        let pick = |current: &str, stage| {
            choose_state(&states, current, stage)
                .unwrap()
                .map(|s| s.id.clone())
        };
        assert_eq!(pick("started", Stage::Done).as_deref(), Some("d"));
        assert_eq!(pick("completed", Stage::ToDo).as_deref(), Some("u1"));
        assert_eq!(pick("canceled", Stage::Doing).as_deref(), Some("s"));
        assert_eq!(pick("backlog", Stage::ToDo), None, "already to do");
        assert_eq!(
            pick("canceled", Stage::Done),
            None,
            "a person's cancel stands"
        );
        assert_eq!(pick("completed", Stage::Canceled), None);
        assert_eq!(pick("unstarted", Stage::Canceled).as_deref(), Some("x"));
        let bare = [state("b", "backlog", 0.0), state("d", "completed", 1.0)];
        assert_eq!(
            choose_state(&bare, "completed", Stage::ToDo)
                .unwrap()
                .map(|s| s.id.as_str()),
            Some("b"),
            "no unstarted state: the backlog"
        );
        let err = choose_state(&bare, "backlog", Stage::Doing).unwrap_err();
        assert!(
            err.contains("started") && err.contains("backlog, completed"),
            "{err}"
        );
        assert_eq!(stage_for(TicketState::Stale), None);
    }

    #[test]
    fn labels_priority_and_identifiers() {
        let mut content = hostile_content();
        content.labels = vec![
            "SCANTIX".into(),
            "team:pay\nments".into(),
            " ".into(),
            content.group_key.label(),
        ];
        assert_eq!(
            label_names(&content),
            ["scantix", "severity:high", "team:pay ments"]
        );
        assert_eq!(priority(Severity::Critical), 1);
        assert_eq!(priority(Severity::Low), 4);
        for good in ["SEC-12", "ENG2-1"] {
            assert!(is_identifier(good), "{good}");
        }
        for bad in ["SEC", "SEC-", "-1", "SEC-1x", "../SEC-1", "SEC-1 OR 1"] {
            assert!(!is_identifier(bad), "{bad}");
        }
    }

    #[test]
    fn comments_are_inert_and_bounded() {
        let body = comment_body("Reopened by @admin\n<b>x</b>");
        assert!(
            body.contains("@\u{200B}admin") && body.contains("&lt;b&gt;"),
            "{body}"
        );
        assert!(comment_body(&"x".repeat(70_000)).chars().count() <= DESCRIPTION_LIMIT);
    }
}
