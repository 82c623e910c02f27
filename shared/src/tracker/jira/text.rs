//! Alert text made safe to place anywhere in a Jira field, before either renderer marks it up:
//! control characters and bidirectional overrides removed, lengths capped.

/// Jira's limit on a text field (description, comment), in characters: longer is a 400.
pub const FIELD_LIMIT: usize = 32_767;

/// Characters that reorder text on screen ("Trojan Source"): shown as-is they could make a path or
/// a command read differently from what it is.
fn is_bidi_control(c: char) -> bool {
    matches!(c, '\u{202A}'..='\u{202E}' | '\u{2066}'..='\u{2069}' | '\u{200E}' | '\u{200F}')
}

/// One line: control characters dropped, line breaks and tabs turned into spaces.
pub fn line(text: &str) -> String {
    text.chars()
        .filter_map(|c| match c {
            '\n' | '\r' | '\t' => Some(' '),
            c if c.is_control() || is_bidi_control(c) => None,
            c => Some(c),
        })
        .collect()
}

/// A block of text: line breaks kept (`\r\n` → `\n`), tabs kept, other control characters dropped.
pub fn block(text: &str) -> String {
    text.replace("\r\n", "\n")
        .chars()
        .filter_map(|c| match c {
            '\n' | '\t' => Some(c),
            '\r' => Some('\n'),
            c if c.is_control() || is_bidi_control(c) => None,
            c => Some(c),
        })
        .collect::<String>()
        .trim_end()
        .to_string()
}

/// At most `limit` characters, ending in `…` when cut.
pub fn cap(text: &str, limit: usize) -> String {
    if text.chars().count() <= limit {
        return text.to_string();
    }
    let mut out: String = text.chars().take(limit.saturating_sub(1)).collect();
    out.push('…');
    out
}

/// A URL worth making a link: plain `https`, nothing that could break out of an attribute.
pub fn safe_url(url: &str) -> Option<&str> {
    let ok = url.starts_with("https://")
        && url.len() <= 2000
        && !url.chars().any(|c| {
            c.is_whitespace()
                || c.is_control()
                || is_bidi_control(c)
                || "<>\"'`{}|\\^[]".contains(c)
        });
    ok.then_some(url)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lines_lose_breaks_controls_and_bidi_overrides() {
        assert_eq!(line("a\nb\r\tc\u{0}\u{1b}[31m\u{202E}d"), "a b  c[31md");
    }

    #[test]
    fn blocks_keep_their_lines() {
        assert_eq!(block("a\r\nb\rc\u{7}\n\n"), "a\nb\nc");
    }

    #[test]
    fn caps_count_characters_not_bytes() {
        assert_eq!(cap("ééééé", 5), "ééééé");
        assert_eq!(cap("ééééé", 3), "éé…");
    }

    #[test]
    fn only_plain_https_urls_are_links() {
        assert!(safe_url("https://github.com/o/r/security/code-scanning/1").is_some());
        for bad in [
            "http://example.com",
            "javascript:alert(1)",
            "https://x y",
            "https://x\"onmouseover=1",
            "https://x|y",
            "HTTPS://x",
        ] {
            assert!(safe_url(bad).is_none(), "{bad}");
        }
    }
}
