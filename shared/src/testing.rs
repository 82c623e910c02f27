//! Sample findings for tests and benchmarks: realistic values, built in one line.

use crate::finding::{
    Advisory, AlertKind, AlertState, Finding, Location, Package, Repository, Rule, Severity,
};

/// An open CodeQL alert `number` of `rule` at `path`, line `number`, in repository 42 `acme/shop`.
pub fn code_alert(number: u64, rule: &str, path: &str) -> Finding {
    Finding {
        kind: AlertKind::CodeScanning,
        repository: Repository {
            id: 42,
            full_name: "acme/shop".into(),
            default_branch: Some("main".into()),
            html_url: None,
        },
        number,
        rule: Rule {
            id: rule.into(),
            name: "Reflected XSS".into(),
            ..Rule::default()
        },
        severity: Severity::High,
        cwes: vec!["CWE-79".into()],
        tool: Some("CodeQL".into()),
        location: Some(Location {
            path: path.into(),
            start_line: Some(number),
            end_line: None,
        }),
        flow: vec![],
        package: None,
        advisory: None,
        git_ref: Some("refs/heads/main".into()),
        commit_sha: Some("abc".into()),
        state: AlertState::Open,
        dismissal: None,
        html_url: Some(format!(
            "https://github.com/acme/shop/security/code-scanning/{number}"
        )),
        created_at: None,
        updated_at: None,
    }
}

/// An open Dependabot alert `number` for `ghsa` in `package` pulled in by `manifest`.
pub fn dependabot_alert(number: u64, ghsa: &str, package: &str, manifest: &str) -> Finding {
    Finding {
        kind: AlertKind::Dependabot,
        rule: Rule {
            id: ghsa.into(),
            name: format!("{package} advisory"),
            ..Rule::default()
        },
        cwes: vec![],
        tool: Some("Dependabot".into()),
        location: None,
        package: Some(Package {
            ecosystem: "npm".into(),
            name: package.into(),
            manifest_path: manifest.into(),
            vulnerable_range: None,
            first_patched: None,
        }),
        advisory: Some(Advisory {
            ghsa_id: Some(ghsa.into()),
            ..Advisory::default()
        }),
        git_ref: None,
        commit_sha: None,
        ..code_alert(number, ghsa, manifest)
    }
}
