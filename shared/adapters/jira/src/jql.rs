//! The JQL scantix sends: how a ticket is found again by its group key. Values are always JQL
//! string literals, escaped, so a group key (which carries scanner-chosen rule ids) cannot change
//! the query.

use scantix_core::identity::GroupKey;
use std::fmt::Write;

/// The issue property scantix stores on every ticket it creates, and on every comment.
pub const PROPERTY_KEY: &str = "scantix";

/// `text` as a JQL string literal: double-quoted, with `"` and `\` escaped and control characters
/// written as escapes (JQL has no raw line breaks inside a string).
pub fn literal(text: &str) -> String {
    let mut out = String::with_capacity(text.len() + 2);
    out.push('"');
    for c in text.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            '\n' => out.push_str("\\n"),
            '\r' => out.push_str("\\r"),
            '\t' => out.push_str("\\t"),
            c if c.is_control() => {
                let _ = write!(out, "\\u{:04x}", c as u32);
            }
            c => out.push(c),
        }
    }
    out.push('"');
    out
}

/// Tickets of `project` carrying `key` in the scantix issue property, oldest first (if a
/// duplicate ever exists, the first one is the ticket).
pub fn by_group_property(project: &str, key: &GroupKey) -> String {
    format!(
        "project = {} AND issue.property[{PROPERTY_KEY}].groupKey = {} ORDER BY created ASC",
        literal(project),
        literal(key.as_str())
    )
}

/// Tickets of `project` carrying the group's label: the fallback where the property is not
/// searchable (Jira indexes an entity property only when an app declares it).
pub fn by_group_label(project: &str, key: &GroupKey) -> String {
    format!(
        "project = {} AND labels = {} ORDER BY created ASC",
        literal(project),
        literal(&key.label())
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn literals_escape_quotes_backslashes_and_line_breaks() {
        assert_eq!(literal("plain"), "\"plain\"");
        assert_eq!(literal("a\"b"), "\"a\\\"b\"");
        assert_eq!(literal("a\\b"), "\"a\\\\b\"");
        assert_eq!(literal("a\\\"b"), "\"a\\\\\\\"b\"");
        assert_eq!(literal("a\nb\u{1}"), "\"a\\nb\\u0001\"");
    }

    #[test]
    fn a_hostile_key_cannot_widen_the_search() {
        let key = GroupKey::from_stored("1/code-scanning/rule:x:\" OR project is not EMPTY OR \"");
        let jql = by_group_property("SEC", &key);
        assert_eq!(
            jql,
            "project = \"SEC\" AND issue.property[scantix].groupKey = \"1/code-scanning/rule:x:\\\" OR project is not EMPTY OR \\\"\" ORDER BY created ASC"
        );
        // Exactly two string literals: every quote from the key is escaped.
        let unescaped_quotes = jql
            .char_indices()
            .filter(|(i, c)| *c == '"' && !jql[..*i].ends_with('\\'))
            .count();
        assert_eq!(unescaped_quotes, 4);
    }

    #[test]
    fn the_label_query_uses_the_label_digest() {
        let key = GroupKey::from_stored("1/dependabot/package:npm:lodash:package.json");
        assert_eq!(
            by_group_label("SEC", &key),
            format!(
                "project = \"SEC\" AND labels = \"{}\" ORDER BY created ASC",
                key.label()
            )
        );
    }
}
