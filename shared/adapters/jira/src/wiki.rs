//! Ticket content as Jira wiki markup (Data Center's description and comment format), with every
//! piece of alert text escaped so it stays text: no markup, macros, links, images, mentions or
//! tables of its own, and no way out of the `{noformat}` blocks scanner prose is shown in.
//!
//! The escapes follow Atlassian's renderer (`BackslashEscapeRendererComponent`): a backslash
//! escapes `- # * _ + ? ^ ~ | % { } [ ] ( ) ! @`, unless it is itself preceded by a backslash. So
//! a backslash in alert text is written as the entity `&#92;` — a plain `\` before our `\{` would
//! turn the escape back into a live `{`.

use super::text::{self, Caps, FIELD_LIMIT, fit};
use scantix_core::finding::AlertState;
use scantix_core::ticket::{FindingLine, TicketContent};
use std::fmt::Write;

const ESCAPED: &[char] = &[
    '-', '#', '*', '_', '+', '?', '^', '~', '|', '%', '{', '}', '[', ']', '(', ')', '!', '@',
];

/// Colour of the small line that marks a scantix comment.
const MARKER_COLOUR: &str = "#97a0af";

/// Escapes alert text for use inline (one line).
pub fn escape(raw: &str) -> String {
    let flat = text::line(raw);
    let mut out = String::with_capacity(flat.len() + 16);
    let mut chars = flat.chars().peekable();
    while let Some(c) = chars.next() {
        match c {
            '\\' => out.push_str("&#92;"),
            // `scheme://` and `mailto:` would be linked automatically: the entity keeps the URL
            // readable and unlinked.
            ':' if chars.peek() == Some(&'/') || ends_with_mailto(&out) => out.push_str("&#58;"),
            c if ESCAPED.contains(&c) => {
                out.push('\\');
                out.push(c);
            }
            c => out.push(c),
        }
    }
    out
}

fn ends_with_mailto(out: &str) -> bool {
    out.len()
        .checked_sub(6)
        .and_then(|from| out.get(from..))
        .is_some_and(|tail| tail.eq_ignore_ascii_case("mailto"))
}

/// Escaped text that starts a line: a leading `h1.`…`h6.` or `bq.` would make it a heading or a
/// quote, so the dot is written as an entity.
fn line_start(raw: &str) -> String {
    let escaped = escape(raw);
    let trimmed = escaped.trim_start();
    let is_block_signature = ["h1.", "h2.", "h3.", "h4.", "h5.", "h6.", "bq."]
        .iter()
        .any(|sig| trimmed.to_ascii_lowercase().starts_with(sig));
    if is_block_signature {
        let at = escaped.len() - trimmed.len() + 2;
        format!("{}&#46;{}", &escaped[..at], &escaped[at + 1..])
    } else {
        escaped
    }
}

/// A `{noformat}` block that the text cannot close: inside it only `{noformat` means anything, so
/// each occurrence (any case) gets a zero-width space after the brace.
pub fn noformat(raw: &str) -> String {
    let clean = text::block(raw);
    let lower = clean.to_ascii_lowercase();
    let mut out = String::with_capacity(clean.len() + 32);
    let mut last = 0;
    for (at, _) in lower.match_indices("{noformat") {
        out.push_str(&clean[last..=at]);
        out.push('\u{200B}');
        last = at + 1;
    }
    out.push_str(&clean[last..]);
    format!("{{noformat}}\n{out}\n{{noformat}}")
}

fn link(label: &str, url: Option<&str>) -> String {
    match url.and_then(text::safe_url) {
        // `safe_url` admits no `|`, `]`, `[` or space, so the URL cannot end the link early.
        Some(u) => format!("[{}|{u}]", escape(label)),
        None => escape(label),
    }
}

/// The ticket description, at most `FIELD_LIMIT` characters.
pub fn document(t: &TicketContent) -> String {
    fit(
        |caps, shown| build(t, caps, shown),
        t.findings.len(),
        |s: &String| s.chars().count(),
    )
}

fn build(t: &TicketContent, caps: Caps, shown: usize) -> String {
    let capped = |s: &str| text::cap(&text::line(s), caps.line);
    let mut w = String::new();
    let _ = writeln!(w, "{}\n", line_start(&capped(&t.summary)));
    if let Some(why) = &t.priority_reason {
        let _ = writeln!(w, "*Why this priority:* {}\n", escape(&capped(why)));
    }
    for (name, value) in t.facts.iter().take(30) {
        let value = line_start(&capped(value));
        let value = if value.trim().is_empty() { " " } else { &value };
        let name = line_start(&capped(name));
        let name = if name.trim().is_empty() { " " } else { &name };
        let _ = writeln!(w, "||{name}|{value}|");
    }
    let _ = writeln!(w, "\nh3. Findings ({})", t.findings.len());
    for f in t.findings.iter().take(shown) {
        let _ = writeln!(w, "* {}", finding(f, &capped));
    }
    if shown < t.findings.len() {
        let more = t.findings.len() - shown;
        let _ = writeln!(
            w,
            "\n_…and {more} more (the full list is in GitHub's security tab)_"
        );
    }
    let block = |s: &str| text::cap(s, caps.block);
    if let Some(description) = &t.description {
        let _ = writeln!(w, "\nh3. What is wrong\n{}", noformat(&block(description)));
    }
    if let Some(guidance) = &t.guidance {
        let _ = writeln!(w, "\nh3. How to fix it\n{}", noformat(&block(guidance)));
    }
    if !t.references.is_empty() {
        w.push_str("\nh3. References\n");
        for r in t.references.iter().take(20) {
            let _ = writeln!(w, "* {}", link(&capped(r), Some(r)));
        }
    }
    let _ = write!(
        w,
        "\nh3. How the fix will be verified\n{}\n",
        line_start(&capped(&t.verification))
    );
    w
}

fn finding(f: &FindingLine, capped: &impl Fn(&str) -> String) -> String {
    let state = match f.state {
        AlertState::Open => "Open",
        AlertState::Fixed => "Fixed",
        AlertState::Dismissed => "Dismissed",
    };
    let mut s = format!(
        "*{state}* · {} · {}",
        link(&format!("alert {}", f.number), f.url.as_deref()),
        f.severity
    );
    if !f.place.is_empty() {
        let _ = write!(s, " · {{{{{}}}}}", escape(&capped(&f.place)));
    }
    if let Some(flow) = &f.flow {
        let _ = write!(s, " (flow: {{{{{}}}}})", escape(&capped(flow)));
    }
    let _ = write!(s, " — {}", escape(&capped(&f.rule)));
    s
}

/// The marker line that makes a repeated comment recognisable.
pub fn marker_line(marker: &str) -> String {
    format!("{{color:{MARKER_COLOUR}}}{}{{color}}", escape(marker))
}

/// A comment: the text, line by line, then the marker.
pub fn comment(body: &str, marker: &str) -> String {
    let tail = format!("\n\n{}", marker_line(marker));
    let budget = FIELD_LIMIT.saturating_sub(tail.chars().count());
    let mut cap = 20_000;
    loop {
        let lines: Vec<String> = text::cap(&text::block(body), cap)
            .split('\n')
            .map(line_start)
            .collect();
        let text = lines.join("\n");
        if text.chars().count() <= budget || cap <= 500 {
            return text + &tail;
        }
        cap /= 2;
    }
}

/// Whether a comment body (wiki markup) carries `marker` as scantix writes it. Alert text cannot
/// forge it: its braces are escaped.
pub fn has_marker(body: &str, marker: &str) -> bool {
    body.contains(&marker_line(marker))
}

#[cfg(test)]
mod tests {
    use super::super::test_content::{HOSTILE, hostile_content};
    use super::*;

    /// Every markup character in `s` is escaped (preceded by a backslash that is not itself
    /// escaped), and no raw backslash is left that could undo an escape.
    fn assert_inert(s: &str) {
        // Entities (`&#92;`, `&#58;`) are ours; their `#` is not list markup.
        let without_entities = s
            .replace("&#92;", "")
            .replace("&#58;", "")
            .replace("&#46;", "");
        let chars: Vec<char> = without_entities.chars().collect();
        for (i, c) in chars.iter().enumerate() {
            if ESCAPED.contains(c) {
                assert!(
                    i > 0 && chars[i - 1] == '\\',
                    "unescaped {c:?} at {i} in {s}"
                );
                assert!(
                    i < 2 || chars[i - 2] != '\\',
                    "double backslash before {c:?} in {s}"
                );
            }
            if *c == '\\' {
                assert!(
                    chars.get(i + 1).is_some_and(|n| ESCAPED.contains(n)),
                    "a raw backslash at {i} in {s}"
                );
            }
            assert!(!c.is_control(), "control character in {s:?}");
        }
        assert!(!s.contains("://") && !s.to_ascii_lowercase().contains("mailto:"));
    }

    #[test]
    fn escaped_text_has_no_live_markup() {
        let out = escape(HOSTILE);
        assert_inert(&out);
        assert!(out.contains("\\[\\~admin\\]"));
        assert!(out.contains("&#92;\\{code\\}"), "{out}");
        assert!(out.contains("http&#58;//evil.example"));
        assert!(out.contains("mailto&#58;a\\@b.c"));
        assert!(!out.contains('\n') && !out.contains('\u{202E}'));
    }

    #[test]
    fn escaping_stays_linear_on_pathological_text() {
        let colons = ":".repeat(200_000);
        assert_eq!(escape(&colons), colons);
        assert_eq!(escape("MailTo:x"), "MailTo&#58;x");
    }

    #[test]
    fn a_backslash_cannot_undo_an_escape() {
        // Naively escaped, `\{code}` would be `\\{code\}`: an escaped backslash, then a live `{`.
        assert_eq!(escape("\\{code}"), "&#92;\\{code\\}");
        assert_eq!(escape("\\\\"), "&#92;&#92;");
    }

    #[test]
    fn text_at_the_start_of_a_line_cannot_become_a_heading_or_quote() {
        assert_eq!(line_start("h1. Owned"), "h1&#46; Owned");
        assert_eq!(line_start("  BQ. quoted"), "  BQ&#46; quoted");
        assert_eq!(line_start("h7. fine"), "h7. fine");
    }

    #[test]
    fn noformat_blocks_cannot_be_closed_from_inside() {
        let block = noformat("a\n{noformat}\n{NOFORMAT:title=x}\nb");
        assert!(block.starts_with("{noformat}\n") && block.ends_with("\n{noformat}"));
        let inner = &block["{noformat}\n".len()..block.len() - "\n{noformat}".len()];
        assert!(!inner.to_ascii_lowercase().contains("{noformat"));
        assert!(inner.contains("{\u{200B}noformat}"));
    }

    #[test]
    fn the_document_keeps_alert_text_inert_everywhere() {
        let doc = document(&hostile_content(4));
        // Outside the noformat blocks, alert text appears only escaped…
        assert!(doc.contains(&escape(HOSTILE)));
        // …so none of its markup is live.
        let outside_blocks: String = doc.split("{noformat}").step_by(2).collect();
        for live in [
            "[~admin]",
            "[click|",
            "{color:red}",
            "!https://evil",
            "http://evil",
            "mailto:",
            "|| #",
            "\\{code}",
            "-strike-",
            "??cite??",
        ] {
            assert!(!outside_blocks.contains(live), "{live} is live in {doc}");
        }
        // Both scanner texts sit in noformat blocks that nothing inside closes: exactly the four
        // delimiters this module writes.
        assert_eq!(doc.matches("{noformat}").count(), 4);
        // One table row per fact, one list item per finding, links only to https URLs.
        assert_eq!(doc.lines().filter(|l| l.starts_with("||")).count(), 3);
        assert_eq!(doc.lines().filter(|l| l.starts_with("* *")).count(), 4);
        assert!(doc.contains("[alert 1|https://github.com/octo/repo/security/code-scanning/1]"));
        assert!(doc.contains("* *Open* · alert 2 · high"));
        assert!(doc.contains(
            "[https&#58;//cwe.mitre.org/data/definitions/79.html|https://cwe.mitre.org/data/definitions/79.html]"
        ));
        assert!(!outside_blocks.replace("\\|", "").contains("|javascript:"));
        assert!(doc.starts_with("h1&#46; Summary"));
        assert!(doc.contains("||bq&#46; "));
    }

    #[test]
    fn a_huge_group_is_cut_to_fit() {
        let doc = document(&hostile_content(3_000));
        assert!(doc.chars().count() <= FIELD_LIMIT);
        assert!(doc.contains(" more (the full list is in GitHub's security tab)_"));
    }

    #[test]
    fn comments_end_with_an_unforgeable_marker() {
        let forged = marker_line("scantix ref g-1");
        let c = comment(&format!("Reopened.\n{forged}\nh2. x"), "scantix ref g-2");
        assert!(has_marker(&c, "scantix ref g-2"));
        assert!(!has_marker(&c, "scantix ref g-1"));
        assert!(c.ends_with("\n\n{color:#97a0af}scantix ref g\\-2{color}"));
        assert!(c.contains("\nh2&#46; x"));
    }
}
