//! Keeps secrets that scanners copy into their results out of everything this crate returns.
//!
//! Secret scanners (and secret rules of general scanners) put the secret in snippets, messages
//! and properties: njsscan's `hardcoded_jwt_secret` snippet holds the literal, Gitleaks 7 puts it
//! in `properties.offender`. The rule applied before a finding leaves the crate:
//!
//! 1. **A secret finding** is one whose tool is a secret scanner ([`is_secret_scanner`]: Gitleaks,
//!    TruffleHog, detect-secrets, ggshield, …) or whose rule is a secret rule ([`is_secret_rule`]:
//!    CWE-259/260/321/798, or a secret word in its id, name or tags: `secret`, `password`,
//!    `credential`, `api key`, `private key`, `access key`, …). For those:
//!    - every snippet (locations and flow steps) is replaced by [`REDACTED`] whole;
//!    - property values are replaced by [`REDACTED`] except under keys known to carry
//!      classification only (`cwe*`, `owasp*`, `severity*`, `confidence*`, `precision`, …);
//!    - messages (result, location, flow step) and fingerprint values are scrubbed as in 2, every
//!      quoted literal in them is redacted, and any value taken in 1 from a property or a snippet
//!      literal (≥ 4 characters) is removed wherever it appears.
//! 2. **Every finding**, secret or not, is scrubbed ([`scrub`]): known credential shapes (AWS key
//!    ids, GitHub/Slack/Stripe/Google tokens, JWTs, PEM private keys) and long high-entropy
//!    tokens anywhere; in snippets, also the quoted literals on lines that name a secret
//!    (`password`, `secret`, `token`, `api_key`, …). This catches the same secret in another rule's
//!    snippet (njsscan's XSS result on the `jwt.sign(…, 'hardcoded-secret')` line).
//!
//! Identities are computed from scrubbed text, so no identity is a hash of a secret.
//!
//! Known limits: a secret of no known shape, short or low-entropy, in a non-secret finding's
//! message or in a snippet line that names no secret word, is not recognised; over-redaction of
//! harmless literals on such lines is accepted as the price.

use aho_corasick::{AhoCorasick, MatchKind};
use std::borrow::Cow;

/// What a redacted value is replaced by.
pub const REDACTED: &str = "[REDACTED]";

/// Tools whose every result is a secret (driver names, compared case-insensitively by
/// containment).
const SECRET_SCANNERS: &[&str] = &[
    "gitleaks",
    "trufflehog",
    "detect-secrets",
    "detect_secrets",
    "ggshield",
    "gitguardian",
    "talisman",
    "secretlint",
    "kingfisher",
    "noseyparker",
    "nosey parker",
    "whispers",
    "credscan",
    "git-secrets",
    "betterleaks",
];

/// CWEs of hard-coded or exposed credentials.
const SECRET_CWES: &[&str] = &["CWE-259", "CWE-260", "CWE-321", "CWE-798"];

/// Words that make a rule a secret rule (after splitting ids, names and tags into words).
const SECRET_WORDS: &[&str] = &[
    "secret",
    "secrets",
    "password",
    "passwords",
    "passwd",
    "credential",
    "credentials",
    "apikey",
    "privatekey",
];

/// Adjacent word pairs that do the same.
const SECRET_PAIRS: &[(&str, &str)] = &[
    ("api", "key"),
    ("private", "key"),
    ("access", "key"),
    ("secret", "key"),
    ("auth", "token"),
    ("access", "token"),
    ("bearer", "token"),
    ("hardcoded", "token"),
    ("hardcoded", "key"),
];

/// Words that, on a line of code, make its quoted literals suspect.
const SECRET_LINE_WORDS: &[&str] = &[
    "secret",
    "password",
    "passwd",
    "pwd",
    "token",
    "apikey",
    "api_key",
    "api-key",
    "privatekey",
    "private_key",
    "private-key",
    "credential",
    "auth",
    "bearer",
    "access_key",
    "access-key",
];

/// Property keys of a secret finding whose values are kept (classification, not content).
const SAFE_PROPERTY_PREFIXES: &[&str] = &[
    "cwe",
    "owasp",
    "severity",
    "issue_severity",
    "issue_confidence",
    "confidence",
    "precision",
    "security-severity",
    "category",
    "masvs",
    "cvss",
    "kind",
    "rule",
];

/// Whether a tool is a dedicated secret scanner.
pub fn is_secret_scanner(tool_name: &str) -> bool {
    let name = tool_name.to_ascii_lowercase();
    SECRET_SCANNERS.iter().any(|s| name.contains(s))
}

/// Whether a rule is about secrets, from its id, name, tags and CWEs.
pub fn is_secret_rule<'a>(
    texts: impl IntoIterator<Item = &'a str>,
    cwes: impl IntoIterator<Item = &'a str>,
) -> bool {
    if cwes.into_iter().any(|c| SECRET_CWES.contains(&c)) {
        return true;
    }
    texts.into_iter().any(|text| {
        let words = words(text);
        words.iter().any(|w| SECRET_WORDS.contains(&w.as_str()))
            || words
                .windows(2)
                .any(|pair| SECRET_PAIRS.contains(&(pair[0].as_str(), pair[1].as_str())))
    })
}

/// Lower-case words of an identifier or phrase: split on non-alphanumerics and camelCase
/// (`HardcodedJwtSecret` → `hardcoded jwt secret`, `hardcoded_password_string` → …).
fn words(text: &str) -> Vec<String> {
    let mut words = Vec::new();
    let mut current = String::new();
    let mut previous_lower = false;
    for c in text.chars() {
        if c.is_ascii_alphanumeric() {
            if c.is_ascii_uppercase() && previous_lower && !current.is_empty() {
                words.push(std::mem::take(&mut current));
            }
            previous_lower = c.is_ascii_lowercase() || c.is_ascii_digit();
            current.push(c.to_ascii_lowercase());
        } else {
            if !current.is_empty() {
                words.push(std::mem::take(&mut current));
            }
            previous_lower = false;
        }
    }
    if !current.is_empty() {
        words.push(current);
    }
    words
}

/// Whether a secret finding's property may keep its value.
pub fn is_safe_property(key: &str) -> bool {
    let key = key.to_ascii_lowercase();
    SAFE_PROPERTY_PREFIXES.iter().any(|p| key.starts_with(p))
}

/// Scrubs text of any finding: known credential shapes and high-entropy tokens (module docs, 2).
pub fn scrub(text: &str) -> Cow<'_, str> {
    let text = redact_private_keys(text);
    match redact_tokens(&text) {
        Cow::Borrowed(_) => text,
        Cow::Owned(owned) => Cow::Owned(owned),
    }
}

/// Scrubs a snippet of a non-secret finding: [`scrub`], plus the quoted literals of lines that
/// name a secret.
pub fn scrub_snippet(snippet: &str) -> String {
    let scrubbed = scrub(snippet);
    let mut out = String::with_capacity(scrubbed.len());
    for (i, line) in scrubbed.split('\n').enumerate() {
        if i > 0 {
            out.push('\n');
        }
        let lower = line.to_ascii_lowercase();
        if SECRET_LINE_WORDS.iter().any(|w| lower.contains(w)) {
            out.push_str(&redact_literals(line));
        } else {
            out.push_str(line);
        }
    }
    out
}

/// Scrubs text of a secret finding: [`scrub`], every quoted literal, and every known value.
pub fn scrub_secret(text: &str, known: &KnownSecrets) -> String {
    let out = redact_literals(&scrub(text));
    match known {
        KnownSecrets::None => out,
        KnownSecrets::Matcher(matcher) => {
            let mut redacted = String::with_capacity(out.len());
            matcher.replace_all_with(&out, &mut redacted, |_, _, dst| {
                dst.push_str(REDACTED);
                true
            });
            redacted
        }
        KnownSecrets::TooMany => REDACTED.to_owned(),
    }
}

/// A secret finding's known values ([`known_secret_values`]), made ready to be found in one pass
/// over a text, once per finding.
///
/// Why not one `replace` per value: a finding's snippets can hold thousands of literals (32
/// locations of 16 KB), and each of its texts (up to 16 KB, dozens per finding) was searched for
/// each of them: quadratic, and a hostile upload of such results kept the parser busy for minutes
/// (found by the `sarif` fuzz target's slowness; `fuzz/README.md`). One automaton finds them all,
/// leftmost and longest first, in time linear in the text.
#[derive(Debug)]
pub enum KnownSecrets {
    /// Nothing known: only [`scrub`] and the literals apply.
    None,
    Matcher(AhoCorasick),
    /// More than an automaton can hold (never for texts within the limits): every text is
    /// [`REDACTED`] whole.
    TooMany,
}

impl KnownSecrets {
    /// The values to remove, longest first where they overlap (a value containing another is
    /// removed whole).
    pub fn new(values: &[String]) -> KnownSecrets {
        if values.is_empty() {
            return KnownSecrets::None;
        }
        match AhoCorasick::builder()
            .match_kind(MatchKind::LeftmostLongest)
            .build(values)
        {
            Ok(matcher) => KnownSecrets::Matcher(matcher),
            Err(_) => KnownSecrets::TooMany,
        }
    }
}

/// The values a secret finding's text must not contain: its non-safe property values and the
/// quoted literals of its snippets (each at least 4 characters, longest first so that a value
/// containing another is removed whole).
pub fn known_secret_values<'a>(
    properties: impl IntoIterator<Item = (&'a str, &'a str)>,
    snippets: impl IntoIterator<Item = &'a str>,
) -> Vec<String> {
    let mut values: Vec<String> = properties
        .into_iter()
        .filter(|(key, _)| !is_safe_property(key))
        .map(|(_, value)| value.to_owned())
        .collect();
    for snippet in snippets {
        values.extend(literals(snippet).into_iter().map(str::to_owned));
    }
    values.retain(|v| v.trim().chars().count() >= 4 && v != REDACTED);
    values.sort_by(|a, b| b.len().cmp(&a.len()).then_with(|| a.cmp(b)));
    values.dedup();
    values
}

/// Contents of quoted literals (`'…'`, `"…"`, `` `…` ``) on each line, honouring `\` escapes.
fn literals(text: &str) -> Vec<&str> {
    let mut found = Vec::new();
    for line in text.split('\n') {
        for_each_literal(line, |start, end| found.push(&line[start..end]));
    }
    found
}

/// Calls `f(start, end)` with the byte range of each quoted literal's contents in `line`.
fn for_each_literal(line: &str, mut f: impl FnMut(usize, usize)) {
    let bytes = line.as_bytes();
    let mut i = 0;
    while i < bytes.len() {
        let quote = bytes[i];
        if matches!(quote, b'\'' | b'"' | b'`') {
            let start = i + 1;
            let mut j = start;
            while j < bytes.len() && bytes[j] != quote {
                j += if bytes[j] == b'\\' { 2 } else { 1 };
            }
            if j < bytes.len() {
                if j > start {
                    f(start, j);
                }
                i = j + 1;
                continue;
            }
            // Unclosed: not a literal (an apostrophe in prose).
        }
        i += 1;
    }
}

/// Replaces the contents of every quoted literal on every line with [`REDACTED`].
fn redact_literals(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for (n, line) in text.split('\n').enumerate() {
        if n > 0 {
            out.push('\n');
        }
        let mut last = 0;
        for_each_literal(line, |start, end| {
            out.push_str(&line[last..start]);
            out.push_str(REDACTED);
            last = end;
        });
        out.push_str(&line[last..]);
    }
    out
}

/// Replaces PEM private key blocks (`-----BEGIN … PRIVATE KEY-----` to the matching END line, or
/// to the end of the text) with [`REDACTED`].
fn redact_private_keys(text: &str) -> Cow<'_, str> {
    const BEGIN: &str = "-----BEGIN ";
    if !text.contains(BEGIN) {
        return Cow::Borrowed(text);
    }
    let mut out = String::with_capacity(text.len());
    let mut rest = text;
    while let Some(at) = rest.find(BEGIN) {
        let header_end = rest[at + BEGIN.len()..]
            .find("-----")
            .map(|e| at + BEGIN.len() + e);
        let is_private =
            header_end.is_some_and(|end| rest[at + BEGIN.len()..end].ends_with("PRIVATE KEY"));
        let Some(header_end) = header_end.filter(|_| is_private) else {
            out.push_str(&rest[..at + BEGIN.len()]);
            rest = &rest[at + BEGIN.len()..];
            continue;
        };
        out.push_str(&rest[..at]);
        out.push_str(REDACTED);
        let after_header = header_end + 5;
        rest = match rest[after_header..].find("-----END ") {
            Some(end) => {
                let end = after_header + end + "-----END ".len();
                match rest[end..].find("-----") {
                    Some(close) => &rest[end + close + 5..],
                    None => "",
                }
            }
            None => "",
        };
    }
    out.push_str(rest);
    Cow::Owned(out)
}

/// Replaces tokens of known credential shapes and high-entropy tokens with [`REDACTED`]. A
/// shape is recognised at the start of a token part: tokens are split by everything but
/// `[A-Za-z0-9_+-]`, which is how credentials sit in code (`key = "AKIA…"`, `token=ghp_…`).
fn redact_tokens(text: &str) -> Cow<'_, str> {
    let is_token_char =
        |c: char| c.is_ascii_alphanumeric() || matches!(c, '_' | '-' | '+' | '/' | '=' | '.');
    let mut out: Option<String> = None;
    let mut last = 0;
    let mut start = None;
    for (i, c) in text
        .char_indices()
        .chain(std::iter::once((text.len(), ' ')))
    {
        match (is_token_char(c) && i < text.len(), start) {
            (true, None) => start = Some(i),
            (false, Some(s)) => {
                start = None;
                if let Some((from, to)) = secret_span(&text[s..i]) {
                    let buffer = out.get_or_insert_with(|| String::with_capacity(text.len()));
                    buffer.push_str(&text[last..s + from]);
                    buffer.push_str(REDACTED);
                    last = s + to;
                }
            }
            _ => {}
        }
    }
    match out {
        Some(mut buffer) => {
            buffer.push_str(&text[last..]);
            Cow::Owned(buffer)
        }
        None => Cow::Borrowed(text),
    }
}

/// The byte range of a credential inside one token, if it is or holds one.
fn secret_span(token: &str) -> Option<(usize, usize)> {
    if token.len() < 20 {
        return None;
    }
    // JWT: three base64url parts, the first two JSON objects (`eyJ`).
    if let Some(at) = token.find("eyJ")
        && token[at..].contains(".eyJ")
    {
        return Some((at, token.len()));
    }
    // Split on `.`, `/` and `=` for the rest: a dotted path or an assignment is not a credential,
    // its parts may be.
    let mut offset = 0;
    for part in token.split(['.', '/', '=']) {
        let part_start = offset;
        offset += part.len() + 1;
        if let Some(span) = secret_part(part) {
            return Some((part_start + span.0, part_start + span.1));
        }
    }
    None
}

fn secret_part(part: &str) -> Option<(usize, usize)> {
    // The shortest shape below is 20 bytes (an AWS key id). Most parts of code and prose are
    // shorter: this check is what keeps scrubbing cheap (it runs on every token of every result).
    if part.len() < 20 {
        return None;
    }
    let bytes = part.as_bytes();
    // AWS access key ids: a 4-letter prefix and 16 upper-case letters or digits.
    const AWS: [&[u8]; 10] = [
        b"AKIA", b"ASIA", b"AGPA", b"AIDA", b"AROA", b"ANPA", b"ANVA", b"AIPA", b"ABIA", b"ACCA",
    ];
    if AWS.contains(&&bytes[..4])
        && bytes[4..20]
            .iter()
            .all(|b| b.is_ascii_uppercase() || b.is_ascii_digit())
    {
        return Some((0, 20));
    }
    // Vendor tokens that announce themselves, with how many characters must follow the prefix.
    const PREFIXED: [(&str, usize); 18] = [
        ("ghp_", 30),
        ("gho_", 30),
        ("ghu_", 30),
        ("ghs_", 30),
        ("ghr_", 30),
        ("github_pat_", 20),
        ("glpat-", 14),
        ("xoxb-", 10),
        ("xoxa-", 10),
        ("xoxp-", 10),
        ("xoxo-", 10),
        ("xoxs-", 10),
        ("xoxr-", 10),
        ("AIza", 30),
        ("sk_live_", 16),
        ("rk_live_", 16),
        ("sk_test_", 16),
        ("npm_", 30),
    ];
    if PREFIXED.iter().any(|(prefix, min_rest)| {
        part.starts_with(prefix) && part.len() - prefix.len() >= *min_rest
    }) {
        return Some((0, part.len()));
    }
    if part.len() >= 24
        && bytes.iter().any(u8::is_ascii_uppercase)
        && bytes.iter().any(u8::is_ascii_lowercase)
        && bytes.iter().filter(|b| b.is_ascii_digit()).count() >= 2
        && entropy(part) >= 4.2
    {
        return Some((0, part.len()));
    }
    None
}

/// Shannon entropy in bits per byte.
fn entropy(text: &str) -> f64 {
    let mut counts = [0u32; 256];
    for b in text.bytes() {
        counts[b as usize] += 1;
    }
    let n = text.len() as f64;
    counts
        .iter()
        .filter(|&&c| c > 0)
        .map(|&c| {
            let p = f64::from(c) / n;
            -p * p.log2()
        })
        .sum()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn secret_rules_are_recognised_by_words_pairs_and_cwes() {
        assert!(is_secret_rule(["hardcoded_jwt_secret"], []));
        assert!(is_secret_rule(["HardcodedJwtSecret"], []));
        assert!(is_secret_rule(["B105", "hardcoded_password_string"], []));
        assert!(is_secret_rule(["aws-access-key-id"], []));
        assert!(is_secret_rule(["x"], ["CWE-798"]));
        assert!(!is_secret_rule(
            ["flask-sql-injection", "security"],
            ["CWE-89"]
        ));
        assert!(!is_secret_rule(
            ["rb/request-forgery", "js/missing-token-validation"],
            []
        ));
        assert!(is_secret_scanner("Gitleaks"));
        assert!(!is_secret_scanner("CodeQL"));
    }

    #[test]
    fn known_shapes_are_scrubbed_anywhere() {
        let text = "key AKIAIOSFODNN7EXAMPLE and ghp_0123456789abcdefghijABCDEFGHIJ012345 ok";
        assert_eq!(scrub(text), "key [REDACTED] and [REDACTED] ok");
        let jwt = "t=eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiIxIn0.c2lnbmF0dXJl;";
        assert_eq!(scrub(jwt), "t=[REDACTED];");
        let pem = "a\n-----BEGIN RSA PRIVATE KEY-----\nMIIE\n-----END RSA PRIVATE KEY-----\nb";
        assert_eq!(scrub(pem), "a\n[REDACTED]\nb");
        assert_eq!(scrub("-----BEGIN OPENSSH PRIVATE KEY-----"), "[REDACTED]");
        assert_eq!(
            scrub("-----BEGIN CERTIFICATE-----"),
            "-----BEGIN CERTIFICATE-----"
        );
        // Hex hashes, UUIDs, identifiers and paths are not high-entropy credentials.
        for harmless in [
            "f756b044c287db7:1",
            "0d4c5a8e-1d2b-4c3a-9e8f-7a6b5c4d3e2f",
            "getUserAccountSettingsForDisplay",
            "src/main/java/com/example/MyController.java",
        ] {
            assert_eq!(scrub(harmless), harmless);
        }
        assert_eq!(scrub("k=Zx9Qm3Lr8Tb2Vn7Wc4Yd6Hs1Jp5"), "k=[REDACTED]");
    }

    #[test]
    fn snippet_lines_naming_a_secret_lose_their_literals() {
        let snippet = "  res.send(jwt.sign({ user: 1 }, 'hardcoded-secret'));\n  exec('ls ' + d);";
        assert_eq!(
            scrub_snippet(snippet),
            "  res.send(jwt.sign({ user: 1 }, '[REDACTED]'));\n  exec('ls ' + d);"
        );
    }

    #[test]
    fn secret_text_loses_literals_and_known_values() {
        let known = known_secret_values(
            [("offender", "AKIAIOSFODNN7EXAMPLE"), ("cwe", "CWE-798")],
            ["x = \"hunter22\""],
        );
        assert_eq!(known, vec!["AKIAIOSFODNN7EXAMPLE", "hunter22"]);
        assert_eq!(
            scrub_secret("found hunter22 in 'x' (don't)", &KnownSecrets::new(&known)),
            "found [REDACTED] in '[REDACTED]' (don't)"
        );
    }

    #[test]
    fn a_known_value_containing_another_is_removed_whole() {
        let known = known_secret_values([("a", "hunter2-prod"), ("b", "hunter2")], []);
        let known = KnownSecrets::new(&known);
        assert_eq!(
            scrub_secret("hunter2-prod and hunter2, hunter2-prod", &known),
            "[REDACTED] and [REDACTED], [REDACTED]"
        );
        assert_eq!(
            scrub_secret("nothing here", &KnownSecrets::new(&[])),
            "nothing here"
        );
    }

    /// A finding with thousands of known values (its snippets' literals) and long texts: every
    /// value is removed from every text, however many there are.
    #[test]
    fn thousands_of_known_values_are_all_removed() {
        let snippet: String = (0..1800).map(|i| format!("x = 'v{i:05}'\n")).collect();
        let known = known_secret_values([], [snippet.as_str()]);
        assert_eq!(known.len(), 1800);
        let text: String = (0..1800).rev().map(|i| format!("v{i:05} ")).collect();
        let scrubbed = scrub_secret(&text, &KnownSecrets::new(&known));
        assert!(!scrubbed.contains('v'), "{}", &scrubbed[..200]);
        assert_eq!(scrubbed.matches(REDACTED).count(), 1800);
    }
}
