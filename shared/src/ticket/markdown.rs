//! Renders ticket content as GitHub-flavoured Markdown with every piece of alert text made inert:
//! no HTML, no @-mentions or #-references that notify people, no links or formatting the scanner
//! (or whoever wrote the flagged code) slipped in, and no way out of a code span or block.

use super::TicketContent;
use std::fmt::Write;

/// Escapes text for use inline in Markdown.
pub fn escape(text: &str) -> String {
    let mut out = String::with_capacity(text.len() + 8);
    for c in text.chars() {
        match c {
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '&' => out.push_str("&amp;"),
            // A zero-width space after @ and # stops GitHub linking mentions and issue references.
            '@' => out.push_str("@\u{200B}"),
            '#' => out.push_str("\\#\u{200B}"),
            '\\' | '`' | '*' | '_' | '[' | ']' | '(' | ')' | '!' | '|' | '~' | '{' | '}' | '+'
            | '-' | '.' | '"' | '\'' | ':' | '=' => {
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

/// Wraps text in a code span that nothing inside can close, on one line.
pub fn code(text: &str) -> String {
    let flat: String = text
        .chars()
        .map(|c| if c.is_control() { ' ' } else { c })
        .collect();
    let fence = "`".repeat(longest_backtick_run(&flat) + 1);
    format!("{fence} {flat} {fence}")
}

/// Wraps text in a fenced block that nothing inside can close, shown as plain text.
pub fn block(text: &str) -> String {
    let clean: String = text
        .chars()
        .filter(|c| !c.is_control() || *c == '\n')
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

fn is_safe_url(url: &str) -> bool {
    url.starts_with("https://") && !url.chars().any(|c| c.is_whitespace() || c.is_control())
}

fn longest_backtick_run(text: &str) -> usize {
    text.split(|c| c != '`').map(str::len).max().unwrap_or(0)
}

/// The whole ticket body.
pub fn render(t: &TicketContent) -> String {
    let mut md = String::new();
    let _ = writeln!(md, "{}\n", escape(&t.summary));
    md.push_str("| | |\n|---|---|\n");
    for (name, value) in &t.facts {
        let _ = writeln!(md, "| {} | {} |", escape(name), escape(value));
    }
    let _ = writeln!(md, "\n### Findings ({})\n", t.findings.len());
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
        let _ = writeln!(
            md,
            "- [{}] {} {}{}{} — {}",
            if f.state == crate::finding::AlertState::Open {
                " "
            } else {
                "x"
            },
            link(&format!("alert {}", f.number), f.url.as_deref()),
            f.severity,
            place,
            flow,
            escape(&f.rule),
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
    let _ = write!(
        md,
        "\n<!-- scantix:group={} -->\n",
        t.group_key.as_str().replace("--", "- -")
    );
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
    fn code_spans_and_blocks_cannot_be_closed_from_inside() {
        let span = code("a ``` b ` c");
        assert!(span.starts_with("```` ") && span.ends_with(" ````"));
        let fenced = block("x\n````\n</details>");
        assert!(fenced.starts_with("`````text\n") && fenced.ends_with("\n`````"));
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
