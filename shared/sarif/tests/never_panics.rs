//! Property: parsing never panics, whatever is done to a real SARIF file — bytes flipped, cut,
//! inserted, or any value in its JSON tree replaced by any other — and what comes out is well
//! formed (a finding has a 32-hex identity; an error has a message).
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    reason = "test code: a failed assumption is the test failing"
)]

mod common;

use common::*;
use proptest::prelude::*;
use scantix_sarif::{ParseOptions, parse_reader, parse_slice};
use serde_json::Value;
use std::sync::OnceLock;

fn fixtures() -> &'static Vec<Vec<u8>> {
    static FIXTURES: OnceLock<Vec<Vec<u8>>> = OnceLock::new();
    FIXTURES.get_or_init(|| all_fixtures().iter().map(bytes).collect())
}

/// Runs every entry point on the input; panics (failing the property) only on a malformed outcome.
fn check(input: &[u8]) {
    let tight = ParseOptions {
        max_results: 3,
        max_buffered_bytes: 4096,
        max_input_bytes: 64 * 1024,
        ..ParseOptions::default()
    };
    for options in [ParseOptions::default(), tight] {
        for outcome in [parse_slice(input, &options), parse_reader(input, &options)] {
            match outcome {
                Ok(analysis) => {
                    for finding in &analysis.findings {
                        assert_eq!(finding.identity.value.len(), 32);
                        assert!(finding.run_index < analysis.runs.len());
                    }
                }
                Err(error) => assert!(!error.to_string().is_empty()),
            }
        }
    }
}

#[derive(Debug, Clone)]
enum ByteEdit {
    Set(usize, u8),
    Delete(usize, usize),
    Insert(usize, Vec<u8>),
    Truncate(usize),
}

fn byte_edit() -> impl Strategy<Value = ByteEdit> {
    prop_oneof![
        (any::<usize>(), any::<u8>()).prop_map(|(at, b)| ByteEdit::Set(at, b)),
        (any::<usize>(), 1usize..64).prop_map(|(at, n)| ByteEdit::Delete(at, n)),
        (
            any::<usize>(),
            prop::collection::vec(
                prop_oneof![
                    Just(b'{'),
                    Just(b'}'),
                    Just(b'['),
                    Just(b']'),
                    Just(b'"'),
                    Just(b','),
                    Just(b':'),
                    Just(b'\\'),
                    any::<u8>()
                ],
                1..16,
            )
        )
            .prop_map(|(at, bytes)| ByteEdit::Insert(at, bytes)),
        any::<usize>().prop_map(ByteEdit::Truncate),
    ]
}

fn apply(mut input: Vec<u8>, edit: &ByteEdit) -> Vec<u8> {
    let len = input.len().max(1);
    match edit {
        ByteEdit::Set(at, b) => {
            if !input.is_empty() {
                input[at % len] = *b;
            }
        }
        ByteEdit::Delete(at, n) => {
            let start = at % len;
            let end = (start + n).min(input.len());
            if start < end {
                input.drain(start..end);
            }
        }
        ByteEdit::Insert(at, bytes) => {
            let at = at % (input.len() + 1);
            input.splice(at..at, bytes.iter().copied());
        }
        ByteEdit::Truncate(at) => input.truncate(at % len),
    }
    input
}

/// Any JSON value, including the awkward ones.
fn any_json() -> impl Strategy<Value = Value> {
    let leaf = prop_oneof![
        Just(Value::Null),
        any::<bool>().prop_map(Value::from),
        any::<i64>().prop_map(Value::from),
        any::<f64>()
            .prop_filter("finite", |f| f.is_finite())
            .prop_map(Value::from),
        Just(Value::from(u64::MAX)),
        ".{0,40}".prop_map(Value::from),
        Just(Value::from("2.1.0")),
        Just(Value::from("file:///home/runner/work/a/a/x.py")),
        Just(Value::from("-----BEGIN RSA PRIVATE KEY-----")),
        Just(Value::from("{0} and {1} and {{2}} and {")),
        Just(Value::from("%ZZ%C3%28..\\..\\x")),
    ];
    leaf.prop_recursive(4, 32, 6, |inner| {
        prop_oneof![
            prop::collection::vec(inner.clone(), 0..6).prop_map(Value::Array),
            prop::collection::btree_map(
                prop_oneof![
                    Just("ruleId".to_owned()),
                    Just("ruleIndex".to_owned()),
                    Just("text".to_owned()),
                    Just("uri".to_owned()),
                    Just("uriBaseId".to_owned()),
                    Just("startLine".to_owned()),
                    Just("locations".to_owned()),
                    Just("properties".to_owned()),
                    Just("security-severity".to_owned()),
                    Just("tags".to_owned()),
                    Just("suppressions".to_owned()),
                    Just("threadFlows".to_owned()),
                    "[a-zA-Z]{1,8}",
                ],
                inner,
                0..6,
            )
            .prop_map(|m| Value::Object(m.into_iter().collect())),
        ]
    })
}

/// Replaces the node reached by following `path` (indices taken modulo each node's size).
fn replace_at(value: &mut Value, path: &[usize], with: Value) {
    let Some((step, rest)) = path.split_first() else {
        *value = with;
        return;
    };
    match value {
        Value::Array(items) if !items.is_empty() => {
            let i = step % items.len();
            replace_at(&mut items[i], rest, with);
        }
        Value::Object(map) if !map.is_empty() => {
            let key = map
                .keys()
                .nth(step % map.len())
                .cloned()
                .unwrap_or_default();
            if let Some(child) = map.get_mut(&key) {
                replace_at(child, rest, with);
            }
        }
        other => *other = with,
    }
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 300, ..ProptestConfig::default() })]

    #[test]
    fn byte_edits_never_panic(file in any::<usize>(), edits in prop::collection::vec(byte_edit(), 1..6)) {
        let all = fixtures();
        let mut input = all[file % all.len()].clone();
        for edit in &edits {
            input = apply(input, edit);
        }
        check(&input);
    }

    #[test]
    fn value_replacements_never_panic(
        file in any::<usize>(),
        replacements in prop::collection::vec((prop::collection::vec(any::<usize>(), 0..10), any_json()), 1..4),
    ) {
        let all = fixtures();
        let mut doc: Value = serde_json::from_slice(&all[file % all.len()]).unwrap();
        for (path, with) in replacements {
            replace_at(&mut doc, &path, with);
        }
        check(&serde_json::to_vec(&doc).unwrap());
    }
}
