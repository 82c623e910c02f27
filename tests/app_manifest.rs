//! The GitHub App manifest (`infra/github-app-manifest.json`) asks for what the code uses and
//! nothing more: every permission and event it requests must be in [`GRANTS`] / [`EVENTS`], each
//! with the reason beside it and a piece of the code that needs it, which must still be in the
//! sources. A permission nothing calls (such as `checks`, which also subscribes the App to every
//! `check_suite`) fails the test, and so does a justification whose code is gone.

use serde_json::Value;
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

/// One permission the App may ask for.
struct Grant {
    permission: &'static str,
    access: &'static str,
    /// What scantix does with it.
    why: &'static str,
    /// Text that the code calling for it contains (searched in the non-test sources).
    used_by: &'static [&'static str],
}

const GRANTS: &[Grant] = &[
    Grant {
        permission: "security_events",
        access: "write",
        why: "code scanning alerts: read them (GET .../code-scanning/alerts), dismiss and reopen \
              them (PATCH); the code_scanning_alert event needs read",
        used_by: &["\"code-scanning\""],
    },
    Grant {
        permission: "vulnerability_alerts",
        access: "write",
        why: "Dependabot alerts: read, dismiss and reopen them (.../dependabot/alerts)",
        used_by: &["\"dependabot\""],
    },
    Grant {
        permission: "secret_scanning_alerts",
        access: "write",
        why: "secret scanning alerts: read, resolve and reopen them (.../secret-scanning/alerts)",
        used_by: &["\"secret-scanning\""],
    },
    Grant {
        permission: "contents",
        access: "read",
        why: "GET .../contents/{path}: .github/scantix.yml, a policy file, CODEOWNERS",
        used_by: &["/contents/"],
    },
    Grant {
        permission: "issues",
        access: "write",
        why: "the GitHub Issues tracker (create, edit, label, comment on, close and reopen its \
              issues) and the configuration-problem issue; the issues event",
        used_by: &["/issues", "\"issues\""],
    },
    Grant {
        permission: "pull_requests",
        access: "write",
        why: "the summary comment on a pull request (.../issues/{n}/comments on a pull request \
              needs Pull requests write); the pull_request event",
        used_by: &["/comments", "\"pull_request\""],
    },
    Grant {
        permission: "metadata",
        access: "read",
        why: "mandatory for every App; also lists an organisation's repositories (GET \
              /orgs/{org}/repos) for the backfill",
        used_by: &["/orgs/"],
    },
];

/// The events the App subscribes to, each with the text of the code that reads it.
const EVENTS: &[(&str, &str)] = &[
    ("code_scanning_alert", "\"code_scanning_alert\""),
    ("dependabot_alert", "\"dependabot_alert\""),
    ("secret_scanning_alert", "\"secret_scanning_alert\""),
    ("pull_request", "\"pull_request\""),
    ("issues", "\"issues\""),
];

fn workspace() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("..")
}

fn manifest() -> Value {
    let path = workspace().join("infra/github-app-manifest.json");
    let text = std::fs::read_to_string(&path).unwrap();
    serde_json::from_str(&text).unwrap()
}

/// The text of every Rust source file outside tests (test directories, a module's `tests.rs`).
fn sources() -> String {
    fn walk(dir: &Path, out: &mut String) {
        for entry in std::fs::read_dir(dir).unwrap() {
            let path = entry.unwrap().path();
            let name = path.file_name().unwrap().to_string_lossy().into_owned();
            if path.is_dir() {
                if !matches!(name.as_str(), "tests" | "target" | "testdata") {
                    walk(&path, out);
                }
            } else if name.ends_with(".rs") && name != "tests.rs" {
                out.push_str(&std::fs::read_to_string(&path).unwrap());
            }
        }
    }
    let mut out = String::new();
    for top in ["shared", "functions", "cli"] {
        walk(&workspace().join(top), &mut out);
    }
    out
}

#[test]
fn the_manifest_asks_only_for_permissions_the_code_uses() {
    let manifest = manifest();
    let asked: BTreeMap<String, String> =
        serde_json::from_value(manifest["default_permissions"].clone()).unwrap();
    let justified: BTreeMap<String, String> = GRANTS
        .iter()
        .map(|g| (g.permission.to_owned(), g.access.to_owned()))
        .collect();
    for (permission, access) in &asked {
        assert_eq!(
            justified.get(permission),
            Some(access),
            "the manifest asks for `{permission}: {access}`, which no code needs (justified: \
             {justified:?})"
        );
    }
    assert_eq!(
        asked, justified,
        "the manifest lacks a permission the code needs"
    );
    let events: Vec<String> = serde_json::from_value(manifest["default_events"].clone()).unwrap();
    let wanted: Vec<&str> = EVENTS.iter().map(|(event, _)| *event).collect();
    assert_eq!(events, wanted, "the manifest's events");
}

#[test]
fn every_justification_is_still_in_the_code() {
    let code = sources();
    for grant in GRANTS {
        assert!(!grant.why.is_empty());
        for needle in grant.used_by {
            assert!(
                code.contains(needle),
                "`{}` is justified by code containing {needle}, which is gone: drop the \
                 permission or update the justification",
                grant.permission
            );
        }
    }
    for (event, needle) in EVENTS {
        assert!(
            code.contains(needle),
            "the `{event}` event is read by code containing {needle}, which is gone"
        );
    }
}
