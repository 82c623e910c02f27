//! Renders ticket content as GitHub-flavoured Markdown with every piece of alert text made inert:
//! no HTML, no @-mentions or #-references that notify people, no links or formatting the scanner
//! (or whoever wrote the flagged code) slipped in, and no way out of a code span or block.

use super::TicketContent;
use crate::identity::GroupKey;
use std::fmt::Write;

/// Escapes text for use inline in Markdown.
pub fn escape(text: &str) -> String {
    let mut out = String::with_capacity(text.len() + 8);
    for c in text.chars().filter(|c| !is_bidi_control(*c)) {
        match c {
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '&' => out.push_str("&amp;"),
            // A zero-width space after @ and # stops GitHub linking mentions and issue references.
            '@' => out.push_str("@\u{200B}"),
            '#' => out.push_str("\\#\u{200B}"),
            // `$` opens GitHub's math mode, which renders (and colours) whatever follows.
            '\\' | '`' | '*' | '_' | '[' | ']' | '(' | ')' | '!' | '|' | '~' | '{' | '}' | '+'
            | '-' | '.' | '"' | '\'' | ':' | '=' | '$' => {
                out.push('\\');
                out.push(c);
            }
            '\r' | '\n' => out.push(' '),
            c if c.is_control() => {}
            c => out.push(c),
        }
    }
    out
}

/// Escapes multi-line plain text (a comment scantix writes, quoting alert text), keeping its line
/// breaks: each line as [`escape`] makes it, so no line can start a list, a quote or a heading.
pub fn text(text: &str) -> String {
    text.lines().map(escape).collect::<Vec<_>>().join("\n")
}

/// Wraps text in a code span that nothing inside can close, on one line.
pub fn code(text: &str) -> String {
    let flat: String = text
        .chars()
        .filter(|c| !is_bidi_control(*c))
        .map(|c| if c.is_control() { ' ' } else { c })
        .collect();
    let fence = "`".repeat(longest_backtick_run(&flat) + 1);
    format!("{fence} {flat} {fence}")
}

/// Wraps text in a fenced block that nothing inside can close, shown as plain text.
pub fn block(text: &str) -> String {
    let clean: String = text
        .chars()
        .filter(|c| (!c.is_control() || *c == '\n') && !is_bidi_control(*c))
        .collect();
    let fence = "`".repeat((longest_backtick_run(&clean) + 1).max(3));
    format!("{fence}text\n{}\n{fence}", clean.trim_end())
}

/// A link whose target is shown only if it is a plain https URL.
pub fn link(label: &str, url: Option<&str>) -> String {
    match url.filter(|u| is_safe_url(u)) {
        Some(u) => format!("[{}](<{}>)", escape(label), u.replace(['<', '>', ' '], "")),
        None => escape(label),
    }
}

/// A plain https URL that a link destination keeps as it is: CommonMark reads a backslash in
/// `<…>` as an escape, so `\.` would link elsewhere than the text says and a trailing `\` would
/// escape the closing `>` and leave the link unclosed (found by fuzzing, target `ticket_render`).
fn is_safe_url(url: &str) -> bool {
    url.starts_with("https://")
        && !url
            .chars()
            .any(|c| c.is_whitespace() || c.is_control() || c == '\\')
}

fn longest_backtick_run(text: &str) -> usize {
    text.split(|c| c != '`').map(str::len).max().unwrap_or(0)
}

/// Unicode's bidirectional overrides, isolates and marks: they make text display in another order
/// than it reads (`txt.exe` shown for `exe.txt`), so alert text loses them, in every tracker.
pub fn is_bidi_control(c: char) -> bool {
    matches!(c, '\u{202A}'..='\u{202E}' | '\u{2066}'..='\u{2069}' | '\u{200E}' | '\u{200F}')
}

/// How every group marker starts: a body holding it is a scantix ticket's.
pub const GROUP_MARKER_PREFIX: &str = "<!-- scantix:group=";

/// The hidden marker naming the group a ticket body belongs to: `<!-- scantix:group=… -->`. How
/// a tracker that keeps only the body (GitHub Issues) confirms a ticket is the group's.
pub fn group_marker(key: &GroupKey) -> String {
    format!("{GROUP_MARKER_PREFIX}{} -->", marker_value(key.as_str()))
}

/// The hidden marker a comment carries, naming the `comment_id` it was posted for, so a repeat
/// can be recognised: `<!-- scantix:comment=… -->`.
pub fn comment_marker(comment_id: &str) -> String {
    format!("<!-- scantix:comment={} -->", marker_value(comment_id))
}

/// A value made safe inside an HTML comment, and kept one-to-one (so comparing markers compares
/// values): letters, digits and `/:._` as they are, every other byte as `%XX`. So no `-` (a
/// comment ends at `-->`, and a group key holds rule ids anyone can name), no `>`, no space.
fn marker_value(value: &str) -> String {
    let mut out = String::with_capacity(value.len());
    for byte in value.bytes() {
        if byte.is_ascii_alphanumeric() || b"/:._".contains(&byte) {
            out.push(char::from(byte));
        } else {
            let _ = write!(out, "%{byte:02X}");
        }
    }
    out
}

/// The whole ticket body.
pub fn render(t: &TicketContent) -> String {
    render_showing(t, t.more_findings as usize)
}

/// The whole ticket body in at most `limit` characters (GitHub refuses an issue body over 65,536):
/// as it is when it fits; else with the scanner's texts shortened and only as many findings as
/// fit, saying how many more there are. The group marker stays in whatever is cut.
pub fn render_within(t: &TicketContent, limit: usize) -> String {
    let full = render(t);
    if full.chars().count() <= limit {
        return full;
    }
    let mut shown = t.clone();
    // A rule's help can run to many kilobytes; a quarter of the room each is plenty to act on.
    let share = limit / 4;
    shown.description = t.description.as_deref().map(|d| shortened(d, share));
    shown.guidance = t.guidance.as_deref().map(|g| shortened(g, share));
    let total = t.findings.len();
    let render_first = |shown: &mut TicketContent, keep: usize| {
        shown.findings = t.findings[..keep].to_vec();
        render_showing(shown, total - keep + t.more_findings as usize)
    };
    // The most findings that fit: `fits` holds for `low`, not for `high`.
    let (mut low, mut high) = (0, total + 1);
    let mut best = render_first(&mut shown, 0);
    while low + 1 < high {
        let middle = (low + high) / 2;
        let candidate = render_first(&mut shown, middle);
        if candidate.chars().count() <= limit {
            low = middle;
            best = candidate;
        } else {
            high = middle;
        }
    }
    if best.chars().count() <= limit {
        return best;
    }
    // Even the frame is too long (facts by the hundred): cut it, and keep the marker.
    let marker = format!("\n{}\n", group_marker(&t.group_key));
    let room = limit.saturating_sub(marker.chars().count() + 2);
    let mut cut: String = best.chars().take(room).collect();
    cut.push_str("\n…");
    cut.push_str(&marker);
    cut
}

/// `text` cut to `limit` characters, ending in `…` when cut.
fn shortened(text: &str, limit: usize) -> String {
    if text.chars().count() <= limit {
        return text.to_owned();
    }
    let mut cut: String = text.chars().take(limit.saturating_sub(1)).collect();
    cut.push('…');
    cut
}

/// The body with `t.findings` listed and `hidden` more findings only counted.
fn render_showing(t: &TicketContent, hidden: usize) -> String {
    let mut md = String::new();
    let _ = writeln!(md, "{}\n", escape(&t.summary));
    if let Some(why) = &t.priority_reason {
        let _ = writeln!(md, "**Why this priority:** {}\n", escape(why));
    }
    md.push_str("| | |\n|---|---|\n");
    for (name, value) in &t.facts {
        let _ = writeln!(md, "| {} | {} |", escape(name), escape(value));
    }
    let _ = writeln!(md, "\n### Findings ({})\n", t.findings.len() + hidden);
    for f in &t.findings {
        let place = if f.place.is_empty() {
            String::new()
        } else {
            format!(" {}", code(&f.place))
        };
        let flow = f
            .flow
            .as_deref()
            .map(|fl| format!(" (flow: {})", code(fl)))
            .unwrap_or_default();
        let repository = f
            .repository
            .as_deref()
            .map(|r| format!("{} ", escape(r)))
            .unwrap_or_default();
        let _ = writeln!(
            md,
            "- [{}] {}{} {}{}{} — {}",
            if f.state == crate::finding::AlertState::Open {
                " "
            } else {
                "x"
            },
            repository,
            link(&format!("alert {}", f.number), f.url.as_deref()),
            f.severity,
            place,
            flow,
            escape(&f.rule),
        );
    }
    if hidden > 0 {
        let _ = writeln!(
            md,
            "- … and {hidden} more: {}",
            link("every finding", t.listing_url.as_deref())
        );
    }
    if let Some(description) = &t.description {
        let _ = writeln!(md, "\n### What is wrong\n\n{}", block(description));
    }
    if let Some(guidance) = &t.guidance {
        let _ = writeln!(md, "\n### How to fix it\n\n{}", block(guidance));
    }
    if !t.references.is_empty() {
        md.push_str("\n### References\n\n");
        for r in &t.references {
            let _ = writeln!(md, "- {}", link(r, Some(r)));
        }
    }
    let _ = writeln!(
        md,
        "\n### How the fix will be verified\n\n{}",
        escape(&t.verification)
    );
    let _ = write!(md, "\n{}\n", group_marker(&t.group_key));
    md
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn escaped_text_cannot_mention_link_or_inject_html() {
        let hostile = "@admin see #1 <img src=x onerror=alert(1)> [click](javascript:x) **bold**";
        let out = escape(hostile);
        assert!(!out.contains("@admin"));
        assert!(!out.contains("#1"));
        assert!(!out.contains('<') && !out.contains('>'));
        assert!(out.contains("\\[click\\]\\(javascript\\:x\\)"));
        assert!(out.contains("\\*\\*bold\\*\\*"));
    }

    #[test]
    fn a_url_with_a_backslash_is_no_link() {
        // The fuzzer's input: a listing URL whose backslashes CommonMark would read as escapes,
        // linking to `https://.F.F` while the ticket said `https://\.F\.F`.
        assert_eq!(
            link("every finding", Some("https://\\.F\\.F")),
            "every finding"
        );
        assert_eq!(link("x", Some("https://example.com\\")), "x");
        assert_eq!(
            link("x", Some("https://example.com/a")),
            "[x](<https://example.com/a>)"
        );
    }

    #[test]
    fn code_spans_and_blocks_cannot_be_closed_from_inside() {
        let span = code("a ``` b ` c");
        assert!(span.starts_with("```` ") && span.ends_with(" ````"));
        let fenced = block("x\n````\n</details>");
        assert!(fenced.starts_with("`````text\n") && fenced.ends_with("\n`````"));
    }

    /// The ticket content of `findings` alerts of `rule`, each in its own file.
    fn content(findings: u64, rule: &str) -> TicketContent {
        let alerts: Vec<_> = (1..=findings)
            .map(|number| crate::testing::code_alert(number, rule, &format!("src/{number}.js")))
            .collect();
        crate::testing::ticket_of(&alerts).unwrap()
    }

    #[test]
    fn the_priority_line_is_inert() {
        let mut hostile = content(1, "js/xss");
        hostile.priority_reason =
            Some("critical — @admin <img src=x> [x](javascript:y) **b**\n# h".into());
        let body = render(&hostile);
        let line = body
            .lines()
            .find(|l| l.starts_with("**Why this priority:** "))
            .unwrap_or_else(|| panic!("{body}"));
        assert!(
            line.ends_with(
                "critical — @\u{200B}admin &lt;img src\\=x&gt; \\[x\\]\\(javascript\\:y\\) \\*\\*b\\*\\* \\#\u{200B} h"
            ),
            "{line}"
        );
        // A ticket without a policy reason says the scanner's severity decides.
        let plain = content(1, "js/xss");
        assert!(
            render(&plain)
                .contains("**Why this priority:** high\\: the scanner\\'s severity of alert 1"),
            "{}",
            render(&plain)
        );
    }

    #[test]
    fn math_and_reordering_characters_are_inert() {
        let out = escape("$\\color{red}{x}$ \u{202E}exe.txt");
        assert!(out.starts_with("\\$\\\\color"), "{out}");
        assert!(!out.contains('\u{202E}'));
        assert!(!code("a\u{2066}b").contains('\u{2066}'));
        assert!(!block("a\u{202D}b").contains('\u{202D}'));
    }

    #[test]
    fn multi_line_text_keeps_its_lines_and_nothing_else() {
        let out = text("Reopened:\n- alert 1 (@admin) <b>x</b>\n> quoted");
        assert_eq!(
            out,
            "Reopened\\:\n\\- alert 1 \\(@\u{200B}admin\\) &lt;b&gt;x&lt;/b&gt;\n&gt; quoted"
        );
    }

    #[test]
    fn a_rule_id_cannot_close_the_group_marker() {
        // Rule ids come from whoever uploads the SARIF: this one tries to end the HTML comment.
        let hostile = content(1, "x--->y<img src=x>@admin -- ->");
        let body = render(&hostile);
        let marker = group_marker(&hostile.group_key);
        assert!(body.ends_with(&format!("\n{marker}\n")), "{body}");
        let inside = marker["<!--".len()..marker.len() - "-->".len()].trim();
        assert!(
            !inside.contains("--") && !inside.contains('>') && !inside.contains(' '),
            "{marker}"
        );
        assert_eq!(body.matches("-->").count(), 1, "{body}");
        // One-to-one: `%` is escaped too, so a rule spelling out another's escape differs.
        let plain = content(1, "a-b");
        let spelled = content(1, "a%2Db");
        assert_ne!(
            group_marker(&plain.group_key),
            group_marker(&spelled.group_key)
        );
        assert_eq!(
            comment_marker("scantix-0a1b-4"),
            "<!-- scantix:comment=scantix%2D0a1b%2D4 -->"
        );
    }

    #[test]
    fn a_body_too_long_shows_what_fits_and_keeps_its_marker() {
        let mut many = content(600, "js/xss");
        many.guidance = Some("g".repeat(100_000));
        let full = render(&many);
        assert!(full.chars().count() > 65_536);
        assert_eq!(
            full.matches("- [ ] ").count(),
            crate::ticket::anatomy::LISTED_FINDINGS,
            "a ticket lists the first findings, however many there are"
        );

        let body = render_within(&many, 65_536);

        assert!(body.chars().count() <= 65_536);
        assert!(
            body.contains("### Findings (600)"),
            "the count is the whole group's"
        );
        let shown = body.matches("- [ ] ").count();
        assert_eq!(shown, crate::ticket::anatomy::LISTED_FINDINGS);
        assert!(body.contains(&format!("and {} more: ", 600 - shown)));
        // Even with little room, what is cut is the scanner's long text, then findings.
        let tight = render_within(&many, 2_500);
        assert!(tight.chars().count() <= 2_500);
        let fewer = tight.matches("- [ ] ").count();
        assert!(fewer < shown, "{fewer}");
        assert!(tight.contains(&format!("and {} more: ", 600 - fewer)));
        assert!(body.ends_with(&format!("{}\n", group_marker(&many.group_key))));
        let small = content(2, "js/xss");
        assert_eq!(
            render_within(&small, 65_536),
            render(&small),
            "what fits is left alone"
        );
        // A frame too long for any list of findings is cut, marker kept.
        let tiny = render_within(&small, 300);
        assert!(tiny.chars().count() <= 300, "{}", tiny.chars().count());
        assert!(tiny.ends_with(&format!("{}\n", group_marker(&small.group_key))));
    }

    #[test]
    fn only_https_links_are_linked() {
        assert_eq!(link("x", Some("javascript:alert(1)")), "x");
        assert_eq!(
            link("x", Some("https://github.com/a")),
            "[x](<https://github.com/a>)"
        );
    }
}
