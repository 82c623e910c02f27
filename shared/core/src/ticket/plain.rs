//! Renders ticket content as plain text, for fields that show text as it is (ServiceNow's
//! `description` and journal fields) and for an email's text part. Plain text has no markup to
//! escape, but alert text is still made inert: control characters and bidirectional overrides go
//! (see `markdown::is_bidi_control`), and ServiceNow's one way out of plain text in a journal
//! field, a `[code]…[/code]` span (rendered as HTML where `glide.ui.security.allow_codetag` is
//! on), is broken with a zero-width space after the `[`, so nothing renders as HTML there.

use super::TicketContent;
use super::markdown::is_bidi_control;
use crate::finding::AlertState;
use std::fmt::Write;

/// A block of text made inert: line breaks and tabs kept (`\r\n` → `\n`), other control
/// characters and bidirectional controls dropped, `[code]` / `[/code]` broken.
pub fn block(text: &str) -> String {
    let kept: String = text
        .replace("\r\n", "\n")
        .chars()
        .filter_map(|c| match c {
            '\n' | '\t' => Some(c),
            '\r' => Some('\n'),
            c if c.is_control() || is_bidi_control(c) => None,
            c => Some(c),
        })
        .collect();
    defang_code_tags(kept.trim_end())
}

/// One line made inert: as [`block`], with line breaks and tabs turned into spaces.
pub fn line(text: &str) -> String {
    block(&text.replace("\r\n", " ").replace(['\n', '\r', '\t'], " "))
}

/// At most `limit` characters, ending in `…` when cut.
pub fn cap(text: &str, limit: usize) -> String {
    if text.chars().count() <= limit {
        return text.to_owned();
    }
    let mut out: String = text.chars().take(limit.saturating_sub(1)).collect();
    out.push('…');
    out
}

/// Whether `text` holds a `[code]` or `[/code]` tag, in any case: what [`block`] leaves none of.
pub fn has_code_tag(text: &str) -> bool {
    let lower = text.to_lowercase();
    lower.contains("[code]") || lower.contains("[/code]") || lower.contains("[code ")
}

/// A zero-width space after every `[` that starts `code` or `/code` (any case): ServiceNow then
/// sees no tag, and a reader sees the same characters.
fn defang_code_tags(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    let mut rest = text;
    while let Some(at) = rest.find('[') {
        out.push_str(&rest[..=at]);
        rest = &rest[at + 1..];
        let after = rest.trim_start_matches('/');
        if after
            .get(..4)
            .is_some_and(|word| word.eq_ignore_ascii_case("code"))
        {
            out.push('\u{200B}');
        }
    }
    out.push_str(rest);
    out
}

/// The whole ticket as plain text in at most `limit` characters: as it is when it fits; else
/// with the scanner's texts and the findings list shortened. The last line, naming the group,
/// stays whatever is cut.
pub fn render_within(t: &TicketContent, limit: usize) -> String {
    let footer = format!(
        "\n\nHow scantix verifies: {}\nscantix group: {}",
        line(&t.verification),
        line(t.group_key.as_str())
    );
    let room = limit.saturating_sub(footer.chars().count());
    let mut findings = t.findings.len();
    let mut share = usize::MAX;
    loop {
        let body = render_body(t, findings, share);
        if body.chars().count() <= room {
            return body + &footer;
        }
        if share > room / 4 {
            // A rule's help can run to many kilobytes; a quarter of the room each is plenty.
            share = room / 4;
        } else if findings > 0 {
            findings /= 2;
        } else {
            return cap(&body, room) + &footer;
        }
    }
}

/// Everything but the footer, listing the first `findings` findings and capping the scanner's
/// texts at `share` characters each.
fn render_body(t: &TicketContent, findings: usize, share: usize) -> String {
    let mut out = String::new();
    let _ = writeln!(out, "{}\n", block(&t.summary));
    if let Some(why) = &t.priority_reason {
        let _ = writeln!(out, "Why this priority: {}\n", line(why));
    }
    for (name, value) in &t.facts {
        let _ = writeln!(out, "{}: {}", line(name), line(value));
    }
    let total = t.findings.len() + t.more_findings as usize;
    let _ = writeln!(out, "\nFindings ({total}):");
    for f in t.findings.iter().take(findings) {
        let state = if f.state == AlertState::Open {
            "open"
        } else {
            "closed"
        };
        let repository = f
            .repository
            .as_deref()
            .map(|r| format!("{} ", line(r)))
            .unwrap_or_default();
        let _ = write!(
            out,
            "- #{} [{state}] {} {repository}{} {}",
            f.number,
            f.severity,
            line(&f.rule),
            line(&f.place)
        );
        if let Some(flow) = &f.flow {
            let _ = write!(out, " (flow: {})", line(flow));
        }
        if let Some(url) = &f.url {
            let _ = write!(out, " {}", line(url));
        }
        out.push('\n');
    }
    let hidden = total - findings.min(t.findings.len());
    if hidden > 0 {
        let _ = write!(out, "…and {hidden} more");
        if let Some(url) = &t.listing_url {
            let _ = write!(out, ": {}", line(url));
        }
        out.push('\n');
    }
    for (title, text) in [("Description", &t.description), ("Guidance", &t.guidance)] {
        if let Some(text) = text {
            let _ = write!(out, "\n{title}:\n{}\n", cap(&block(text), share));
        }
    }
    if !t.references.is_empty() {
        out.push_str("\nReferences:\n");
        for r in &t.references {
            let _ = writeln!(out, "- {}", line(r));
        }
    }
    if let Some(due) = t.due {
        let _ = writeln!(out, "\nDue: {due}");
    }
    out.trim_end().to_owned()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn hostile(findings: u64) -> TicketContent {
        let alerts: Vec<_> = (1..=findings)
            .map(|n| {
                let mut f = crate::testing::code_alert(n, "js/xss", &format!("src/{n}.js"));
                f.rule.name =
                    "XSS [code]<img src=x onerror=alert(1)>[/code] \u{202E}exe.txt".into();
                f
            })
            .collect();
        let mut content = crate::testing::ticket_of(&alerts).unwrap_or_else(|| unreachable!());
        content.summary = "[CODE]<script>x</script>[/Code]\u{0}\r\nsecond".into();
        content.description = Some("d".repeat(10_000));
        content
    }

    #[test]
    fn code_tags_are_broken_in_any_case_and_controls_go() {
        let text = block("a [code]<b>x</b>[/code] [CoDe] [/CODE] [x] \u{1b}[31m \u{202E}z\r\nb");
        assert!(!has_code_tag(&text), "{text}");
        assert!(
            text.contains("[\u{200B}code]<b>x</b>[\u{200B}/code]"),
            "{text}"
        );
        assert!(text.contains("[x]") && text.contains("[31m") && text.ends_with("z\nb"));
        assert!(!text.contains('\u{1b}') && !text.contains('\u{202E}'));
        assert_eq!(line("a\nb\tc"), "a b c");
    }

    #[test]
    fn the_priority_line_is_one_line_of_text() {
        let mut content = hostile(1);
        content.priority_reason = Some("critical [code]x[/code]\r\nsecond \u{202E}z".into());
        let out = render_within(&content, 100_000);
        let line = out
            .lines()
            .find(|l| l.starts_with("Why this priority: "))
            .unwrap_or_else(|| panic!("{out}"));
        assert_eq!(
            line,
            "Why this priority: critical [\u{200B}code]x[\u{200B}/code] second z"
        );
    }

    #[test]
    fn a_ticket_fits_its_limit_and_keeps_its_group_line() {
        let content = hostile(40);
        let full = render_within(&content, 100_000);
        assert!(
            full.contains("Findings (40):") && !has_code_tag(&full),
            "{full}"
        );
        let fitted = render_within(&content, 4_000);
        assert!(
            fitted.chars().count() <= 4_000,
            "{}",
            fitted.chars().count()
        );
        assert!(fitted.ends_with(&format!("scantix group: {}", content.group_key)));
        assert!(
            fitted.contains("more"),
            "the cut says findings are left out"
        );
        assert!(!has_code_tag(&fitted));
        let tiny = render_within(&content, 600);
        assert!(tiny.chars().count() <= 600, "{tiny}");
        assert!(tiny.ends_with(&format!("scantix group: {}", content.group_key)));
    }
}
