//! Alert text made safe to place anywhere in a Jira field, before either renderer marks it up:
//! control characters and bidirectional overrides removed, lengths capped; and the size budget
//! both renderers fit a whole description into.

use scantix_core::ticket::markdown::is_bidi_control;

/// Jira's limit on a text field (description, comment), in characters: longer is a 400.
pub const FIELD_LIMIT: usize = 32_767;

/// How long each kind of text may be, halved while the document is still too long.
#[derive(Debug, Clone, Copy)]
pub struct Caps {
    pub line: usize,
    pub block: usize,
}

impl Caps {
    pub const START: Caps = Caps {
        line: 1_000,
        block: 8_000,
    };
    const FLOOR: Caps = Caps {
        line: 80,
        block: 250,
    };

    pub fn shrink(self) -> Option<Caps> {
        if self.line <= Caps::FLOOR.line && self.block <= Caps::FLOOR.block {
            return None;
        }
        Some(Caps {
            line: (self.line / 2).max(Caps::FLOOR.line),
            block: (self.block / 2).max(Caps::FLOOR.block),
        })
    }
}

/// Finds the largest document under the limit: all findings if they fit, otherwise as many as
/// fit with a "…and N more" line; text caps shrink only when not even one finding fits. Both
/// renderers use it, each measuring its own output.
pub fn fit<T>(
    build: impl Fn(Caps, usize) -> T,
    findings: usize,
    measure: impl Fn(&T) -> usize,
) -> T {
    let mut caps = Caps::START;
    loop {
        let all = build(caps, findings);
        if measure(&all) <= FIELD_LIMIT {
            return all;
        }
        // Binary search on how many findings are shown: `lo` always fits (or is 0).
        let (mut lo, mut hi) = (0, findings);
        while lo + 1 < hi {
            let mid = (lo + hi) / 2;
            if measure(&build(caps, mid)) <= FIELD_LIMIT {
                lo = mid;
            } else {
                hi = mid;
            }
        }
        let best = build(caps, lo);
        if measure(&best) <= FIELD_LIMIT {
            return best;
        }
        match caps.shrink() {
            Some(smaller) => caps = smaller,
            None => return best,
        }
    }
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
