//! A finding's identity across re-scans: the same problem in a later scan of the same repository
//! gets the same 32-hex-character identity, even when its line moved.
//!
//! # How
//! The first usable basis, in this order ([`identity_key`]):
//! 1. **`fingerprints`** (the tool's own full identity): the first entry in key order whose value
//!    is not degenerate. Hashed with the tool name and rule id (GitHub also matches alerts on
//!    rule + fingerprint: CodeQL gives different rules the same line hash).
//! 2. **`partialFingerprints`**: `primaryLocationLineHash` (CodeQL/GitHub's documented key: a hash
//!    of the line's content with its own occurrence suffix) when usable, else every usable entry
//!    except personal data (Gitleaks 8 writes `commitSha`, `email`, `author`, `date`,
//!    `commitMessage` there: not an identity). Hashed with tool, rule id and path.
//! 3. **Computed from the snippet**: tool, rule id (or, without one, the message's stable part —
//!    see [`crate::model::RuleSource`]), the primary location's path, and the region's snippet
//!    normalised ([`normalise_snippet`]: each line trimmed, inner whitespace collapsed, blank lines
//!    dropped) after redaction. The line number is not used, so a finding whose code moved keeps
//!    its identity; editing the flagged code gives a new one.
//! 4. **Computed from the message** when the result has no snippet (ESLint, Hadolint): tool, rule,
//!    path and [`stable_message`] (digits folded to `0`).
//!
//! Then an **occurrence index** is mixed in: among results with the same basis in the same file
//! (parse), the first is 0, the next 1, … So two identical results in one file get distinct
//! identities, and a degenerate fingerprint that slipped through the checks still cannot merge
//! two findings.
//!
//! A fingerprint value is **degenerate** ([`is_degenerate`]) when it is empty, shorter than 8
//! characters, contains whitespace, or repeats one character. Semgrep 1.185 run without login
//! writes `"requires login"` as every result's `matchBasedId/v1`: degenerate, so its results fall
//! to 3.
//!
//! # Known limits
//! - Without fingerprints, a result with no snippet is identified by rule, file and message: two
//!   such results in one file are told apart only by their order, so inserting a new one above
//!   renumbers those below (they get each other's identities). The same holds for identical
//!   snippets under one rule in one file.
//! - Renaming or moving a file changes every computed or partial identity in it (the path is part
//!   of them); a tool renaming itself or a rule changes identities too.
//! - Editing the flagged line (or, for multi-line regions, any line of the snippet) gives a new
//!   identity: the old finding is fixed and a new one appears.
//! - A tool whose fingerprint changes between versions (a new key version) changes identities.
//! - A constant fingerprint that passes the degeneracy checks (e.g. a fixed hex string) is used
//!   as is; the occurrence index then keeps findings apart by order only.

use crate::model::{Identity, IdentityBasis};
use sha2::{Digest, Sha256};
use std::collections::{BTreeMap, HashMap};

/// Bumped if the recipe changes (every identity would change with it).
const RECIPE: &str = "scantix-sarif-identity/v1";

/// `partialFingerprints` keys that carry personal data, not an identity (Gitleaks 8).
const PERSONAL_KEYS: &[&str] = &[
    "commitsha",
    "commit",
    "email",
    "author",
    "date",
    "commitmessage",
];

/// What an identity is computed from.
#[derive(Debug, Clone, Copy)]
pub struct IdentityInput<'a> {
    pub tool: &'a str,
    pub rule_id: &'a str,
    /// The primary location's path (or logical location), if any.
    pub path: Option<&'a str>,
    /// The primary region's snippet, already redacted.
    pub snippet: Option<&'a str>,
    /// The message, already redacted.
    pub message: &'a str,
    pub fingerprints: &'a BTreeMap<String, String>,
    pub partial_fingerprints: &'a BTreeMap<String, String>,
}

/// An identity before its occurrence index: the basis and its digest.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct IdentityKey {
    pub basis: IdentityBasis,
    digest: [u8; 32],
}

impl IdentityKey {
    /// The identity of the `occurrence`-th result with this key (0 for the first).
    pub fn identity(&self, occurrence: u32) -> Identity {
        let mut hasher = Sha256::new();
        hasher.update(self.digest);
        hasher.update(occurrence.to_le_bytes());
        let value = hex::encode(&hasher.finalize()[..16]);
        Identity {
            value,
            basis: self.basis.clone(),
            occurrence,
        }
    }
}

/// Chooses the basis and hashes it (see the module docs).
pub fn identity_key(input: &IdentityInput<'_>) -> IdentityKey {
    let path = input.path.unwrap_or("");
    if let Some((key, value)) = input
        .fingerprints
        .iter()
        .find(|(_, value)| !is_degenerate(value))
    {
        return key_of(
            IdentityBasis::Fingerprint { key: key.clone() },
            &["fingerprint", input.tool, input.rule_id, key, value],
        );
    }
    let usable: Vec<(&String, &String)> = match input
        .partial_fingerprints
        .get_key_value("primaryLocationLineHash")
        .filter(|(_, value)| !is_degenerate(value))
    {
        Some(entry) => vec![entry],
        None => input
            .partial_fingerprints
            .iter()
            .filter(|(key, value)| {
                !PERSONAL_KEYS.contains(&key.to_ascii_lowercase().as_str()) && !is_degenerate(value)
            })
            .collect(),
    };
    if !usable.is_empty() {
        let mut fields = vec!["partial", input.tool, input.rule_id, path];
        for (key, value) in &usable {
            fields.push(key);
            fields.push(value);
        }
        return key_of(
            IdentityBasis::PartialFingerprints {
                keys: usable.iter().map(|(key, _)| (*key).clone()).collect(),
            },
            &fields,
        );
    }
    let snippet = input.snippet.map(normalise_snippet).unwrap_or_default();
    if !snippet.is_empty() {
        return key_of(
            IdentityBasis::Snippet,
            &["snippet", input.tool, input.rule_id, path, &snippet],
        );
    }
    key_of(
        IdentityBasis::Message,
        &[
            "message",
            input.tool,
            input.rule_id,
            path,
            &identity_message(input.message),
        ],
    )
}

fn key_of(basis: IdentityBasis, fields: &[&str]) -> IdentityKey {
    let mut hasher = Sha256::new();
    for field in std::iter::once(&RECIPE).chain(fields) {
        // Length-prefixed, so no two field lists hash alike.
        hasher.update((field.len() as u64).to_le_bytes());
        hasher.update(field.as_bytes());
    }
    IdentityKey {
        basis,
        digest: hasher.finalize().into(),
    }
}

/// Counts results per identity key within one parse, to give each its occurrence index.
#[derive(Debug, Default)]
pub struct Occurrences {
    // 16 bytes of the digest: a collision would only shift an occurrence number.
    seen: HashMap<[u8; 16], u32>,
}

impl Occurrences {
    /// The next occurrence index for `key` (0 the first time).
    pub fn next(&mut self, key: &IdentityKey) -> u32 {
        let mut short = [0u8; 16];
        short.copy_from_slice(&key.digest[..16]);
        let count = self.seen.entry(short).or_insert(0);
        let occurrence = *count;
        *count = count.saturating_add(1);
        occurrence
    }
}

/// Whether a fingerprint value cannot identify anything (see the module docs).
pub fn is_degenerate(value: &str) -> bool {
    let value = value.trim();
    let mut chars = value.chars();
    let first = chars.next();
    value.chars().count() < 8
        || value.chars().any(char::is_whitespace)
        || first.is_some_and(|f| value.chars().all(|c| c == f))
}

/// A snippet with each line trimmed, runs of whitespace collapsed and blank lines dropped, so
/// re-indentation does not change an identity.
pub fn normalise_snippet(snippet: &str) -> String {
    let mut out = String::with_capacity(snippet.len());
    for line in snippet.lines() {
        let mut words = line.split_whitespace().peekable();
        if words.peek().is_none() {
            continue;
        }
        if !out.is_empty() {
            out.push('\n');
        }
        for (i, word) in words.enumerate() {
            if i > 0 {
                out.push(' ');
            }
            out.push_str(word);
        }
    }
    out
}

/// The part of a message that stays the same across scans, for a rule id made from it: its first
/// non-blank line, whitespace collapsed, every run of digits folded to `0` (line numbers, counts,
/// versions), at most 200 bytes.
pub fn stable_message(message: &str) -> String {
    let line = message.lines().find(|l| !l.trim().is_empty()).unwrap_or("");
    fold_digits(line, 200)
}

/// The whole message the same way (at most 4 KiB), for a computed identity: Trivy puts the
/// resource on its second line.
pub fn identity_message(message: &str) -> String {
    fold_digits(message, 4096)
}

fn fold_digits(text: &str, max: usize) -> String {
    let mut out = String::new();
    for word in text.split_whitespace() {
        if !out.is_empty() {
            out.push(' ');
        }
        let mut in_digits = false;
        for c in word.chars() {
            if c.is_ascii_digit() {
                if !in_digits {
                    out.push('0');
                }
                in_digits = true;
            } else {
                out.push(c);
                in_digits = false;
            }
        }
        if out.len() >= max {
            break;
        }
    }
    crate::bounded::truncated(&out, max)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn input<'a>(
        snippet: Option<&'a str>,
        fp: &'a BTreeMap<String, String>,
        pfp: &'a BTreeMap<String, String>,
    ) -> IdentityInput<'a> {
        IdentityInput {
            tool: "Semgrep OSS",
            rule_id: "insecure-md5",
            path: Some("suppressed.py"),
            snippet,
            message: "MD5 is not collision resistant.",
            fingerprints: fp,
            partial_fingerprints: pfp,
        }
    }

    #[test]
    fn degenerate_fingerprints_fall_through_to_the_snippet() {
        let fp = BTreeMap::from([("matchBasedId/v1".to_owned(), "requires login".to_owned())]);
        let none = BTreeMap::new();
        let key = identity_key(&input(Some("return md5(x)"), &fp, &none));
        assert_eq!(key.basis, IdentityBasis::Snippet);
        assert!(is_degenerate("requires login"));
        assert!(is_degenerate("00000000000"));
        assert!(is_degenerate("5"));
        assert!(!is_degenerate("f756b044c287db7:1"));
    }

    #[test]
    fn personal_partial_fingerprints_are_not_an_identity() {
        let none = BTreeMap::new();
        let pfp = BTreeMap::from([
            ("commitSha".to_owned(), "0000000000000000".to_owned()),
            ("email".to_owned(), "johndoe@gmail.com".to_owned()),
        ]);
        let key = identity_key(&input(None, &none, &pfp));
        assert_eq!(key.basis, IdentityBasis::Message);
    }

    #[test]
    fn reindenting_keeps_and_editing_changes_the_identity() {
        let none = BTreeMap::new();
        let a = identity_key(&input(Some("  return   md5(x)\n\n"), &none, &none));
        let b = identity_key(&input(Some("return md5(x)"), &none, &none));
        let c = identity_key(&input(Some("return md5(y)"), &none, &none));
        assert_eq!(a.identity(0), b.identity(0));
        assert_ne!(a.identity(0), c.identity(0));
        assert_ne!(a.identity(0).value, a.identity(1).value);
        assert_eq!(a.identity(0).value.len(), 32);
    }

    #[test]
    fn occurrences_count_per_key() {
        let none = BTreeMap::new();
        let a = identity_key(&input(Some("x"), &none, &none));
        let b = identity_key(&input(Some("y"), &none, &none));
        let mut seen = Occurrences::default();
        assert_eq!((seen.next(&a), seen.next(&a), seen.next(&b)), (0, 1, 0));
    }

    #[test]
    fn stable_messages_fold_digits() {
        assert_eq!(
            stable_message("\n  Line 120 is longer than 100\nmore"),
            "Line 0 is longer than 0"
        );
    }
}
