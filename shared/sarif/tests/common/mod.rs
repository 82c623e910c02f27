//! Where the real SARIF files are, and small helpers to read and change them.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    reason = "test code: a failed assumption is the test failing"
)]
#![allow(dead_code)]

use scantix_sarif::{Analysis, Finding, ParseOptions, parse_reader, parse_slice};
use serde_json::Value;
use std::path::PathBuf;

/// The workspace root (this crate is at `shared/sarif`).
fn workspace() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../..")
}

/// A scanner output generated for this project (`tests/fixtures/sarif/generated/`).
pub fn generated(name: &str) -> PathBuf {
    workspace()
        .join("tests/fixtures/sarif/generated")
        .join(name)
}

/// A copy of another project's SARIF (`../shared/fixtures/sarif/`).
pub fn shared(path: &str) -> PathBuf {
    workspace().join("../shared/fixtures/sarif").join(path)
}

/// Every real SARIF file the tests have.
pub fn all_fixtures() -> Vec<PathBuf> {
    let mut files = Vec::new();
    for dir in [
        workspace().join("tests/fixtures/sarif/generated"),
        shared("codeql"),
        shared("semgrep"),
    ] {
        for entry in std::fs::read_dir(&dir).unwrap_or_else(|e| panic!("{}: {e}", dir.display())) {
            let path = entry.unwrap().path();
            if path.extension().is_some_and(|e| e == "sarif") {
                files.push(path);
            }
        }
    }
    files.sort();
    assert!(files.len() >= 14, "fixtures missing: {files:?}");
    files
}

pub fn bytes(path: &PathBuf) -> Vec<u8> {
    std::fs::read(path).unwrap_or_else(|e| panic!("{}: {e}", path.display()))
}

pub fn json(path: &PathBuf) -> Value {
    serde_json::from_slice(&bytes(path)).unwrap()
}

/// Parses a file both ways and checks they agree, returning the slice parse.
pub fn parse(path: &PathBuf) -> Analysis {
    let bytes = bytes(path);
    let options = ParseOptions::default();
    let from_slice =
        parse_slice(&bytes, &options).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    let from_reader = parse_reader(&bytes[..], &options)
        .unwrap_or_else(|e| panic!("{} (reader): {e}", path.display()));
    assert_eq!(
        serde_json::to_value(&from_slice).unwrap(),
        serde_json::to_value(&from_reader).unwrap(),
        "{}: slice and reader disagree",
        path.display()
    );
    from_slice
}

/// Parses a (changed) SARIF document given as a JSON value.
pub fn parse_value(value: &Value) -> Analysis {
    let bytes = serde_json::to_vec(value).unwrap();
    parse_slice(&bytes, &ParseOptions::default()).unwrap()
}

pub fn by_rule<'a>(analysis: &'a Analysis, rule: &str) -> Vec<&'a Finding> {
    analysis
        .findings
        .iter()
        .filter(|f| f.rule.id == rule)
        .collect()
}

pub fn count<T: PartialEq>(items: impl IntoIterator<Item = T>, wanted: T) -> usize {
    items.into_iter().filter(|i| *i == wanted).count()
}
