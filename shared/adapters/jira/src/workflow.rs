//! Moving a ticket through a workflow scantix did not design. Status names differ per project, so
//! the target is a status *category* (`new`, `indeterminate`, `done` — fixed in every Jira) and the
//! transition is chosen from those the issue offers now, never by a hard-coded name.

use scantix_core::records::TicketState;
use serde::Deserialize;

/// Jira's status categories, by their stable keys.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Category {
    New,
    InProgress,
    Done,
}

impl Category {
    pub fn key(self) -> &'static str {
        match self {
            Category::New => "new",
            Category::InProgress => "indeterminate",
            Category::Done => "done",
        }
    }

    /// The category a ticket state lives in; `None` for `Stale`, which is a label, not a status.
    pub fn of(state: TicketState) -> Option<Category> {
        match state {
            TicketState::Open | TicketState::Reopened | TicketState::Draft => Some(Category::New),
            TicketState::InProgress => Some(Category::InProgress),
            TicketState::Resolved => Some(Category::Done),
            TicketState::Stale => None,
        }
    }

    /// Words in a transition or status name that suggest it is the usual way into this category,
    /// and words that suggest an unusual one (a "Won't Do" is done, but not what a fix means).
    fn hints(self) -> (&'static [&'static str], &'static [&'static str]) {
        match self {
            Category::Done => (
                &["resolve", "done", "fixed", "complete", "close"],
                &[
                    "won't",
                    "wont",
                    "duplicate",
                    "cancel",
                    "reject",
                    "declin",
                    "invalid",
                ],
            ),
            Category::New => (&["reopen", "to do", "todo", "open", "backlog"], &[]),
            Category::InProgress => (&["progress", "start"], &[]),
        }
    }
}

/// A status as Jira describes it (an issue's current status, or where a transition leads).
#[derive(Debug, Clone, Deserialize)]
pub struct Status {
    #[serde(default)]
    pub id: Option<String>,
    #[serde(default)]
    pub name: String,
    #[serde(rename = "statusCategory", default)]
    pub category: Option<StatusCategoryRef>,
}

#[derive(Debug, Clone, Deserialize)]
pub struct StatusCategoryRef {
    #[serde(default)]
    pub key: String,
}

impl Status {
    pub fn category_key(&self) -> &str {
        self.category.as_ref().map_or("", |c| c.key.as_str())
    }
}

/// One transition the issue offers.
#[derive(Debug, Clone, Deserialize)]
pub struct Transition {
    pub id: String,
    #[serde(default)]
    pub name: String,
    pub to: Status,
    /// Cloud says `false` for transitions whose conditions fail; absent means available.
    #[serde(rename = "isAvailable", default)]
    pub is_available: Option<bool>,
}

/// The body of `GET /issue/{key}/transitions` (and of `expand=transitions`).
#[derive(Debug, Clone, Deserialize)]
pub struct Transitions {
    #[serde(default)]
    pub transitions: Vec<Transition>,
}

/// The transition that takes the issue from `current` into `target`: among those leading to a
/// status of that category (not back to the current status), the one whose name suggests the
/// usual way in, else the first Jira lists.
pub fn choose<'a>(
    transitions: &'a [Transition],
    current: Option<&Status>,
    target: Category,
) -> Option<&'a Transition> {
    let (good, bad) = target.hints();
    let score = |t: &Transition| -> i32 {
        let names = format!("{} {}", t.name, t.to.name).to_lowercase();
        let has = |words: &[&str]| words.iter().any(|w| names.contains(w));
        i32::from(has(good)) - 2 * i32::from(has(bad))
    };
    let current_id = current.and_then(|s| s.id.as_deref());
    let candidates = transitions.iter().filter(|t| {
        t.is_available != Some(false)
            && t.to.category_key() == target.key()
            && (current_id.is_none() || t.to.id.as_deref() != current_id)
    });
    // `max_by_key` keeps the last of equals; fold keeps the first, which is Jira's own order.
    candidates.fold(None, |best: Option<&Transition>, t| match best {
        Some(b) if score(b) >= score(t) => Some(b),
        _ => Some(t),
    })
}

/// "Close Issue → In Progress (in-flight), QA Review → Closed (completed)": what a person needs to
/// fix the workflow or the mapping.
pub fn describe(transitions: &[Transition]) -> String {
    if transitions.is_empty() {
        return "none".into();
    }
    transitions
        .iter()
        .map(|t| {
            format!(
                "{} → {} ({})",
                t.name,
                t.to.name,
                match t.to.category_key() {
                    "" => "no category",
                    key => key,
                }
            )
        })
        .collect::<Vec<_>>()
        .join(", ")
}

#[cfg(test)]
mod tests {
    use super::*;

    /// go-jira's recorded transitions response (see `shared/fixtures/SOURCES.md`).
    const GO_JIRA_TRANSITIONS: &str = include_str!(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../../../../shared/fixtures/jira-rest-responses/go-jira/transitions.json"
    ));

    fn parse(json: &str) -> Vec<Transition> {
        serde_json::from_str::<Transitions>(json)
            .unwrap()
            .transitions
    }

    fn transition(id: &str, name: &str, to: &str, category: &str) -> Transition {
        serde_json::from_value(serde_json::json!({
            "id": id, "name": name,
            "to": { "id": format!("s-{to}"), "name": to, "statusCategory": { "key": category } },
        }))
        .unwrap()
    }

    #[test]
    fn the_real_response_parses_with_its_extra_fields() {
        let ts = parse(GO_JIRA_TRANSITIONS);
        assert_eq!(ts.len(), 2);
        assert_eq!(ts[0].id, "2");
        assert_eq!(ts[1].to.name, "Closed");
    }

    #[test]
    fn categories_are_matched_by_key_never_guessed_from_names() {
        // go-jira's mock uses the made-up category keys `in-flight` and `completed`: nothing
        // matches, however much "Closed" sounds done, and the description says what there is.
        let ts = parse(GO_JIRA_TRANSITIONS);
        assert!(choose(&ts, None, Category::Done).is_none());
        assert!(choose(&ts, None, Category::InProgress).is_none());
        assert_eq!(
            describe(&ts),
            "Close Issue → In Progress (in-flight), QA Review → Closed (completed)"
        );
    }

    #[test]
    fn the_same_response_with_jiras_category_keys_chooses_by_category() {
        let ts = parse(
            &GO_JIRA_TRANSITIONS
                .replace("\"in-flight\"", "\"indeterminate\"")
                .replace("\"completed\"", "\"done\""),
        );
        // "Close Issue" leads to In Progress: it is chosen for that, whatever its name says.
        assert_eq!(choose(&ts, None, Category::InProgress).unwrap().id, "2");
        assert_eq!(choose(&ts, None, Category::Done).unwrap().id, "711");
        assert!(choose(&ts, None, Category::New).is_none());
    }

    #[test]
    fn among_several_done_transitions_the_resolving_one_wins() {
        let ts = vec![
            transition("11", "Won't Do", "Won't Do", "done"),
            transition("21", "Ship it", "Shipped", "done"),
            transition("31", "Resolve", "Fixed", "done"),
        ];
        assert_eq!(choose(&ts, None, Category::Done).unwrap().id, "31");
        // Without a hint, the first that is not a "won't".
        let ts = vec![
            transition("11", "Won't Do", "Won't Do", "done"),
            transition("21", "Ship it", "Shipped", "done"),
            transition("22", "Archive", "Archived", "done"),
        ];
        assert_eq!(choose(&ts, None, Category::Done).unwrap().id, "21");
    }

    #[test]
    fn unavailable_transitions_and_loops_are_skipped() {
        let mut blocked = transition("1", "Resolve", "Fixed", "done");
        blocked.is_available = Some(false);
        let current = transition("0", "", "Triaged", "new").to;
        let ts = vec![
            blocked,
            transition("2", "Back to triage", "Triaged", "new"),
            transition("3", "Reopen", "Reopened", "new"),
        ];
        assert!(choose(&ts, Some(&current), Category::Done).is_none());
        assert_eq!(choose(&ts, Some(&current), Category::New).unwrap().id, "3");
    }

    #[test]
    fn ticket_states_map_to_categories() {
        assert_eq!(Category::of(TicketState::Reopened), Some(Category::New));
        assert_eq!(
            Category::of(TicketState::InProgress),
            Some(Category::InProgress)
        );
        assert_eq!(Category::of(TicketState::Resolved), Some(Category::Done));
        assert_eq!(Category::of(TicketState::Stale), None);
    }
}
