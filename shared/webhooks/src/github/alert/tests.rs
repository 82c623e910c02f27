use super::*;
use serde_json::json;
use std::path::{Path, PathBuf};

/// The real third-party deliveries, read where they are (see `shared/fixtures/SOURCES.md`).
const WEBHOOKS: &str = concat!(
    env!("CARGO_MANIFEST_DIR"),
    "/../../../shared/fixtures/github-webhooks"
);
const EXAMPLES: &str = "octokit-webhooks/payload-examples/api.github.com";

fn fixture(relative: &str) -> Value {
    let path = Path::new(WEBHOOKS).join(relative);
    let bytes =
        std::fs::read(&path).unwrap_or_else(|err| panic!("cannot read {}: {err}", path.display()));
    serde_json::from_slice(&bytes).expect("fixtures are JSON")
}

fn example(event: &str, file: &str) -> Value {
    fixture(&format!("{EXAMPLES}/{event}/{file}"))
}

fn parse(event: &str, payload: &Value) -> Result<ParsedDelivery, PayloadError> {
    let body = serde_json::to_vec(payload).expect("a Value serialises");
    parse_delivery(event, &body)
}

fn alert(event: &str, payload: &Value) -> AlertEvent {
    match parse(event, payload) {
        Ok(ParsedDelivery::Alert(alert)) => alert,
        other => panic!("expected an alert from {event}, got {other:?}"),
    }
}

fn invalid_at(event: &str, payload: &Value) -> (String, String) {
    match parse(event, payload) {
        Err(PayloadError::Invalid { path, message }) => (path, message),
        other => panic!("expected an invalid payload, got {other:?}"),
    }
}

fn at(text: &str) -> Option<DateTime<Utc>> {
    Some(text.parse().expect("test timestamps are RFC 3339"))
}

// --- every real delivery -----------------------------------------------------------------

/// Every `.json` delivery under `fixtures/github-webhooks`, schemas left out.
fn fixture_deliveries() -> Vec<PathBuf> {
    fn walk(dir: &Path, found: &mut Vec<PathBuf>) {
        let entries = std::fs::read_dir(dir)
            .unwrap_or_else(|err| panic!("cannot list {}: {err}", dir.display()));
        for entry in entries {
            let path = entry.expect("directory entry").path();
            if path.is_dir() {
                if path
                    .file_name()
                    .is_some_and(|name| name == "payload-schemas")
                {
                    continue;
                }
                walk(&path, found);
            } else if path.extension().is_some_and(|ext| ext == "json") {
                found.push(path);
            }
        }
    }
    let mut found = Vec::new();
    walk(Path::new(WEBHOOKS), &mut found);
    found.sort();
    found
}

/// The `X-GitHub-Event` a fixture was delivered with: its folder in octokit's examples
/// (`.../api.github.com/<event>/<action>.payload.json`), else the start of its file name
/// (`code_scanning_alert.created....json`, octocrab's `pull_request_closed_webhook_event.json`).
fn event_name_of(path: &Path) -> &'static str {
    const EVENTS: [&str; 11] = [
        "code_scanning_alert",
        "dependabot_alert",
        "secret_scanning_alert",
        "ping",
        "installation_repositories",
        "installation",
        "pull_request",
        "issue_comment",
        "issues",
        "check_run",
        "check_suite",
    ];
    let text = path.to_string_lossy();
    let name = match text.split_once("/api.github.com/") {
        Some((_, rest)) => rest.split('/').next().unwrap_or_default(),
        None => path
            .file_name()
            .and_then(|n| n.to_str())
            .unwrap_or_default(),
    };
    // Longest first, so `installation_repositories_removed` is not read as `installation`.
    let mut events = EVENTS;
    events.sort_by_key(|event| std::cmp::Reverse(event.len()));
    events
        .into_iter()
        .find(|event| {
            name == *event
                || name.starts_with(&format!("{event}_"))
                || name.starts_with(&format!("{event}."))
        })
        .unwrap_or_else(|| panic!("no known event for {}", path.display()))
}

#[test]
fn every_fixture_delivery_parses_to_what_its_event_calls_for() {
    let deliveries = fixture_deliveries();
    assert!(
        deliveries.len() >= 48,
        "expected the 48 fixture deliveries, found {}",
        deliveries.len()
    );
    let mut alerts = 0;
    for path in &deliveries {
        let event = event_name_of(path);
        let body = std::fs::read(path).expect("fixture is readable");
        let parsed = parse_delivery(event, &body)
            .unwrap_or_else(|err| panic!("{} ({event}): {err}", path.display()));
        match (event, &parsed) {
            (
                "code_scanning_alert" | "dependabot_alert" | "secret_scanning_alert",
                ParsedDelivery::Alert(alert),
            ) => {
                alerts += 1;
                let payload: Value = serde_json::from_slice(&body).expect("JSON");
                assert_eq!(alert.action, payload["action"], "{}", path.display());
                assert_eq!(
                    Some(alert.finding.number),
                    payload["alert"]["number"].as_u64()
                );
                assert_eq!(
                    Some(alert.finding.repository.id),
                    payload["repository"]["id"].as_u64()
                );
                assert_eq!(alert.actor.as_deref(), payload["sender"]["login"].as_str());
            }
            ("ping", ParsedDelivery::Ping) => {}
            (_, ParsedDelivery::Ignored { reason }) if !event.ends_with("_alert") => {
                assert!(reason.contains(event), "{reason}");
            }
            _ => panic!("{} ({event}) parsed as {parsed:?}", path.display()),
        }
    }
    assert_eq!(
        alerts, 9,
        "alert fixtures: 5 code scanning, 2 Dependabot, 1 secret, 1 Trivy"
    );
}

// --- code scanning -----------------------------------------------------------------------

#[test]
fn codeql_created_example_becomes_an_opened_finding() {
    let event = alert(
        "code_scanning_alert",
        &example("code_scanning_alert", "created.payload.json"),
    );
    assert_eq!(event.change, AlertChange::Opened);
    assert_eq!(event.action, "created");
    assert_eq!(event.actor.as_deref(), Some("github"));
    assert_eq!(event.installation_id, Some(14662836));
    let finding = event.finding;
    assert_eq!(finding.kind, AlertKind::CodeScanning);
    assert_eq!(
        finding.repository,
        Repository {
            id: 337911632,
            full_name: "Codertocat/Hello-World".into(),
            default_branch: Some("master".into()),
            html_url: Some("https://github.com/Codertocat/Hello-World".into()),
        }
    );
    assert_eq!(finding.number, 10);
    assert_eq!(finding.rule.id, "java/sql-injection");
    // `rule.name` is "" here, as for most CodeQL rules: the short description names it.
    assert_eq!(
        finding.rule.name,
        "Query built from user-controlled sources"
    );
    assert!(
        finding
            .rule
            .description
            .as_deref()
            .is_some_and(|d| d.starts_with("Building a SQL or Java Persistence query"))
    );
    assert_eq!(finding.rule.help, None, "`help: null` reads as none");
    // No security_severity_level and `tags: null`: the SARIF level `error` decides.
    assert_eq!(finding.severity, Severity::High);
    assert!(finding.cwes.is_empty());
    assert_eq!(finding.tool.as_deref(), Some("CodeQL"));
    assert_eq!(
        finding.location,
        Some(Location {
            path: "src/main/java/com/github/demo/service/BookService.java".into(),
            start_line: Some(84),
            end_line: Some(84),
        })
    );
    assert_eq!(
        finding.place(),
        "src/main/java/com/github/demo/service/BookService.java:84"
    );
    assert_eq!(finding.git_ref.as_deref(), Some("refs/heads/code-feature"));
    assert_eq!(
        finding.commit_sha.as_deref(),
        Some("788437584c2522f27feab10d8e631bab3e9e783a")
    );
    assert_eq!(finding.state, AlertState::Open);
    assert_eq!(finding.dismissal, None);
    assert_eq!(
        finding.html_url.as_deref(),
        Some("https://github.com/Codertocat/Hello-World/security/code-scanning/10")
    );
    assert_eq!(finding.created_at, at("2021-02-11T03:10:43Z"));
    assert_eq!(finding.updated_at, None);
    assert!(finding.flow.is_empty() && finding.package.is_none() && finding.advisory.is_none());
}

#[test]
fn trivy_alert_with_null_state_is_open_with_its_security_severity() {
    let payload =
        fixture("octokit-webhooks.net/code_scanning_alert.created.with-instances-url.payload.json");
    assert!(payload["alert"]["state"].is_null());
    let event = alert("code_scanning_alert", &payload);
    assert_eq!(event.change, AlertChange::Opened);
    assert_eq!(
        event.installation_id, None,
        "this delivery has no installation"
    );
    let finding = event.finding;
    assert_eq!(finding.state, AlertState::Open);
    assert_eq!(finding.severity, Severity::Medium);
    assert_eq!(finding.rule.id, "CVE-2026-42496");
    assert_eq!(finding.rule.name, "OsPackageVulnerability");
    assert_eq!(
        finding.rule.help_uri.as_deref(),
        Some("https://avd.aquasec.com/nvd/cve-2026-42496")
    );
    assert!(
        finding
            .rule
            .help
            .as_deref()
            .is_some_and(|h| h.contains("perl-base"))
    );
    assert_eq!(finding.tool.as_deref(), Some("Trivy (docker)"));
    assert_eq!(finding.git_ref.as_deref(), Some("refs/pull/1/merge"));
    assert_eq!(finding.pull_request(), Some(1));
    assert_eq!(finding.commit_sha.as_deref(), Some("abc123def456789"));
    assert_eq!(
        finding.repository.default_branch.as_deref(),
        Some("develop")
    );
    assert_eq!(
        finding
            .location
            .as_ref()
            .map(|l| (l.path.as_str(), l.start_line)),
        Some((
            "artifact/container-ExampleService.Api-0.1.0-PullRequest.1-1-merge-abc123d-0001.tar",
            Some(1)
        ))
    );
    assert_eq!(finding.updated_at, at("2026-06-26T03:52:44Z"));
}

#[test]
fn trivy_severity_falls_back_to_its_tags_then_to_the_sarif_level() {
    let mut payload =
        fixture("octokit-webhooks.net/code_scanning_alert.created.with-instances-url.payload.json");
    let rule = &mut payload["alert"]["rule"];
    rule.as_object_mut()
        .map(|r| r.remove("security_severity_level"));
    rule["tags"] = json!(["security", "HIGH", "vulnerability"]);
    assert_eq!(
        alert("code_scanning_alert", &payload).finding.severity,
        Severity::High
    );

    // Without a severity word among the tags, `severity: warning` decides.
    payload["alert"]["rule"]["tags"] = json!(["security", "vulnerability"]);
    assert_eq!(
        alert("code_scanning_alert", &payload).finding.severity,
        Severity::Medium
    );

    payload["alert"]["rule"]["severity"] = Value::Null;
    assert_eq!(
        alert("code_scanning_alert", &payload).finding.severity,
        Severity::Unknown
    );
}

#[test]
fn codeql_cwe_tags_become_cwe_ids() {
    let mut payload = example("code_scanning_alert", "created.payload.json");
    payload["alert"]["rule"]["tags"] = json!([
        "security",
        "external/cwe/cwe-089",
        "external/cwe/cwe-564",
        "external/cwe/cwe-089",
        "external/cwe/cwe-oops",
    ]);
    payload["alert"]["rule"]["security_severity_level"] = json!("high");
    let finding = alert("code_scanning_alert", &payload).finding;
    assert_eq!(finding.cwes, ["CWE-89", "CWE-564"]);
    assert_eq!(finding.severity, Severity::High);
}

#[test]
fn closed_by_user_example_is_a_dismissal_by_codertocat() {
    let event = alert(
        "code_scanning_alert",
        &example("code_scanning_alert", "closed-by-user.payload.json"),
    );
    assert_eq!(event.change, AlertChange::Dismissed);
    assert_eq!(event.actor.as_deref(), Some("Codertocat"));
    let finding = event.finding;
    assert_eq!(finding.state, AlertState::Dismissed);
    assert_eq!(
        finding.dismissal,
        Some(Dismissal {
            by: Some("Codertocat".into()),
            reason: Some("false positive".into()),
            comment: None,
            at: at("2021-02-11T02:59:08Z"),
        })
    );
    // `ref` and `commit_oid` are "" for `*_by_user` actions: the instance's stand in.
    assert_eq!(finding.git_ref.as_deref(), Some("refs/heads/master"));
    assert_eq!(
        finding.commit_sha.as_deref(),
        Some("b30b5f3b935825766a22ab1bce14788bf9627f6c")
    );
    // Anchore's rule has `name: ""`; the description names it.
    assert_eq!(
        finding.rule.name,
        "CVE-2020-27218 Severity=Medium Package=http2-hpack Version=9.4.27.v20200227"
    );
    assert_eq!(
        finding.tool.as_deref(),
        Some("Anchore Container Vulnerability Report (T0)")
    );
    assert_eq!(
        finding.location.map(|l| l.path),
        Some("/usr/local/jetty/lib/http2/http2-hpack-9.4.27.v20200227.jar".into())
    );
}

#[test]
fn fixed_example_prefers_the_deliverys_commit_over_the_instances() {
    let finding = alert(
        "code_scanning_alert",
        &example("code_scanning_alert", "fixed.payload.json"),
    )
    .finding;
    assert_eq!(finding.state, AlertState::Fixed);
    assert_eq!(finding.git_ref.as_deref(), Some("refs/pull/11/merge"));
    assert_eq!(
        finding.commit_sha.as_deref(),
        Some("c5bf87afac650dbcb5fd97cfc22fcae5303da8e1")
    );
    assert_eq!(finding.dismissal, None);
}

#[test]
fn reopened_example_without_a_location_or_installation_still_reads() {
    let event = alert(
        "code_scanning_alert",
        &example("code_scanning_alert", "reopened.payload.json"),
    );
    assert_eq!(event.change, AlertChange::Reappeared);
    assert_eq!(event.installation_id, None);
    let finding = event.finding;
    assert_eq!(finding.location, None, "its only instance has no location");
    assert_eq!(finding.rule.id, "Style/FrozenStringLiteralComment");
    assert!(
        finding
            .rule
            .name
            .starts_with("Add the frozen_string_literal comment")
    );
    assert_eq!(finding.severity, Severity::Note);
    assert_eq!(finding.tool.as_deref(), Some("Rubocop"));
    assert_eq!(finding.repository.id, 186853002);
}

#[test]
fn every_code_scanning_action_maps_onto_its_change() {
    use AlertChange as C;
    use AlertState as S;
    let base = example("code_scanning_alert", "created.payload.json");
    let cases = [
        ("created", "open", C::Opened, S::Open),
        ("reopened", "open", C::Reappeared, S::Open),
        ("reopened_by_user", "open", C::Reappeared, S::Open),
        ("appeared_in_branch", "open", C::Reappeared, S::Open),
        ("closed_by_user", "dismissed", C::Dismissed, S::Dismissed),
        ("fixed", "fixed", C::Fixed, S::Fixed),
        ("updated_assignment", "open", C::Updated, S::Open),
    ];
    for (action, state, change, expected_state) in cases {
        let mut payload = base.clone();
        payload["action"] = json!(action);
        payload["alert"]["state"] = json!(state);
        if action.ends_with("_by_user") {
            payload["ref"] = json!("");
            payload["commit_oid"] = json!("");
        }
        if action == "updated_assignment" {
            // Its schema has no `ref` or `commit_oid` at all.
            let top = payload.as_object_mut().expect("object");
            top.remove("ref");
            top.remove("commit_oid");
        }
        let event = alert("code_scanning_alert", &payload);
        assert_eq!(event.change, change, "{action}");
        assert_eq!(event.action, action);
        assert_eq!(event.finding.state, expected_state, "{action}");
        assert_eq!(
            event.finding.git_ref.as_deref(),
            Some("refs/heads/code-feature"),
            "{action}: the delivery's ref, or the instance's when it gives none"
        );
    }
}

#[test]
fn a_missing_state_follows_the_action() {
    let base = example("code_scanning_alert", "created.payload.json");
    for (action, expected) in [
        ("fixed", AlertState::Fixed),
        ("closed_by_user", AlertState::Dismissed),
        ("appeared_in_branch", AlertState::Open),
    ] {
        let mut payload = base.clone();
        payload["action"] = json!(action);
        payload["alert"]["state"] = Value::Null;
        assert_eq!(
            alert("code_scanning_alert", &payload).finding.state,
            expected
        );
        payload["alert"].as_object_mut().map(|a| a.remove("state"));
        assert_eq!(
            alert("code_scanning_alert", &payload).finding.state,
            expected
        );
    }
}

// --- Dependabot --------------------------------------------------------------------------

#[test]
fn dependabot_created_example_describes_the_vulnerable_package() {
    let event = alert(
        "dependabot_alert",
        &example("dependabot_alert", "created.payload.json"),
    );
    assert_eq!(event.change, AlertChange::Opened);
    assert_eq!(event.installation_id, Some(13986380));
    let finding = event.finding;
    assert_eq!(finding.kind, AlertKind::Dependabot);
    assert_eq!(finding.number, 20);
    assert_eq!(finding.repository.full_name, "wolfy1339/pika-pack");
    assert_eq!(finding.rule.id, "GHSA-c2qf-rxjj-qqgw");
    assert_eq!(
        finding.rule.name,
        "semver vulnerable to Regular Expression Denial of Service"
    );
    assert!(
        finding
            .rule
            .description
            .as_deref()
            .is_some_and(|d| d.starts_with("Versions of the package semver before 7.5.2"))
    );
    assert_eq!(
        finding.rule.help.as_deref(),
        Some("Upgrade semver to 7.5.2 or later")
    );
    assert_eq!(
        finding.rule.help_uri.as_deref(),
        Some("https://github.com/advisories/GHSA-c2qf-rxjj-qqgw")
    );
    assert_eq!(finding.severity, Severity::Medium);
    assert_eq!(finding.cwes, ["CWE-1333"]);
    assert_eq!(finding.tool.as_deref(), Some("Dependabot"));
    assert_eq!(
        finding.package,
        Some(Package {
            ecosystem: "npm".into(),
            name: "semver".into(),
            manifest_path: "package-lock.json".into(),
            vulnerable_range: Some("< 7.5.2".into()),
            first_patched: Some("7.5.2".into()),
        })
    );
    let advisory = finding.advisory.as_ref().expect("an advisory");
    assert_eq!(advisory.ghsa_id.as_deref(), Some("GHSA-c2qf-rxjj-qqgw"));
    assert_eq!(advisory.cve_id.as_deref(), Some("CVE-2022-25883"));
    assert_eq!(advisory.cvss_score, Some(5.3));
    assert_eq!(advisory.references.len(), 8);
    assert_eq!(
        advisory.references[0],
        "https://nvd.nist.gov/vuln/detail/CVE-2022-25883"
    );
    assert_eq!(finding.location, None);
    assert_eq!(finding.place(), "package-lock.json");
    assert_eq!(finding.git_ref, None);
    assert_eq!(finding.state, AlertState::Open);
    assert_eq!(finding.dismissal, None);
    assert_eq!(
        finding.html_url.as_deref(),
        Some("https://github.com/wolfy1339/pika-pack/security/dependabot/20")
    );
    assert_eq!(finding.created_at, at("2023-06-24T13:57:12Z"));
    assert_eq!(finding.updated_at, at("2023-06-24T13:57:12Z"));
}

#[test]
fn dependabot_fixed_example_takes_the_alerts_own_vulnerable_range() {
    let event = alert(
        "dependabot_alert",
        &example("dependabot_alert", "fixed.payload.json"),
    );
    assert_eq!(event.change, AlertChange::Fixed);
    assert_eq!(event.installation_id, None);
    let finding = event.finding;
    assert_eq!(finding.state, AlertState::Fixed);
    assert_eq!(finding.rule.id, "GHSA-8f4m-hccc-8qph");
    assert_eq!(finding.cwes, ["CWE-532"]);
    // The advisory lists three ranges; `security_vulnerability` is the one this alert is on.
    let package = finding.package.expect("a package");
    assert_eq!(package.ecosystem, "pip");
    assert_eq!(package.manifest_path, "path/to/requirements.txt");
    assert_eq!(package.vulnerable_range.as_deref(), Some("< 2.8.19"));
    assert_eq!(package.first_patched.as_deref(), Some("2.8.19"));
    assert_eq!(finding.advisory.and_then(|a| a.cvss_score), Some(5.5));
    assert_eq!(finding.updated_at, at("2022-06-15T13:55:40Z"));
}

#[test]
fn every_dependabot_action_maps_onto_its_change() {
    use AlertChange as C;
    use AlertState as S;
    let base = example("dependabot_alert", "created.payload.json");
    let cases = [
        ("created", "open", C::Opened, S::Open),
        ("dismissed", "dismissed", C::Dismissed, S::Dismissed),
        ("fixed", "fixed", C::Fixed, S::Fixed),
        ("reintroduced", "open", C::Reappeared, S::Open),
        ("reopened", "open", C::Reappeared, S::Open),
        (
            "auto_dismissed",
            "auto_dismissed",
            C::Dismissed,
            S::Dismissed,
        ),
        ("auto_reopened", "open", C::Reappeared, S::Open),
        ("assignees_changed", "open", C::Updated, S::Open),
    ];
    for (action, state, change, expected_state) in cases {
        let mut payload = base.clone();
        payload["action"] = json!(action);
        payload["alert"]["state"] = json!(state);
        let event = alert("dependabot_alert", &payload);
        assert_eq!(event.change, change, "{action}");
        assert_eq!(event.finding.state, expected_state, "{action}");
        assert_eq!(
            event.finding.dismissal.is_some(),
            expected_state == S::Dismissed,
            "{action}"
        );
    }
}

#[test]
fn a_dependabot_dismissal_keeps_githubs_reason_and_an_auto_dismissal_says_so() {
    let mut payload = example("dependabot_alert", "created.payload.json");
    payload["action"] = json!("dismissed");
    payload["alert"]["state"] = json!("dismissed");
    payload["alert"]["dismissed_by"] = json!({"login": "wolfy1339", "id": 1});
    payload["alert"]["dismissed_reason"] = json!("tolerable_risk");
    payload["alert"]["dismissed_comment"] = json!("dev dependency only");
    payload["alert"]["dismissed_at"] = json!("2023-06-25T10:00:00Z");
    assert_eq!(
        alert("dependabot_alert", &payload).finding.dismissal,
        Some(Dismissal {
            by: Some("wolfy1339".into()),
            reason: Some("tolerable_risk".into()),
            comment: Some("dev dependency only".into()),
            at: at("2023-06-25T10:00:00Z"),
        })
    );

    let mut payload = example("dependabot_alert", "created.payload.json");
    payload["action"] = json!("auto_dismissed");
    payload["alert"]["state"] = json!("auto_dismissed");
    payload["alert"]["auto_dismissed_at"] = json!("2023-06-25T11:00:00Z");
    assert_eq!(
        alert("dependabot_alert", &payload).finding.dismissal,
        Some(Dismissal {
            by: None,
            reason: Some("auto_dismissed".into()),
            comment: None,
            at: at("2023-06-25T11:00:00Z"),
        })
    );
}

#[test]
fn dependabot_severity_falls_back_to_the_cvss_score() {
    let mut payload = example("dependabot_alert", "created.payload.json");
    let alert_json = &mut payload["alert"];
    alert_json["security_advisory"]
        .as_object_mut()
        .map(|a| a.remove("severity"));
    alert_json["security_vulnerability"]["severity"] = Value::Null;
    alert_json["security_advisory"]["cvss"] = json!({"vector_string": "x", "score": 9.8});
    assert_eq!(
        alert("dependabot_alert", &payload).finding.severity,
        Severity::Critical
    );

    // A zero score with no vector is GitHub's "no CVSS"; the newer `cvss_severities` decide.
    payload["alert"]["security_advisory"]["cvss"] = json!({"vector_string": null, "score": 0.0});
    payload["alert"]["security_advisory"]["cvss_severities"] = json!({
        "cvss_v3": {"vector_string": null, "score": 0.0},
        "cvss_v4": {"vector_string": "CVSS:4.0/...", "score": 7.1},
    });
    let finding = alert("dependabot_alert", &payload).finding;
    assert_eq!(finding.severity, Severity::High);
    assert_eq!(finding.advisory.and_then(|a| a.cvss_score), Some(7.1));

    payload["alert"]["security_advisory"]["cvss_severities"] = Value::Null;
    let finding = alert("dependabot_alert", &payload).finding;
    assert_eq!(finding.severity, Severity::Unknown);
    assert_eq!(finding.advisory.and_then(|a| a.cvss_score), None);
}

#[test]
fn a_dependabot_alert_without_a_patch_says_so() {
    let mut payload = example("dependabot_alert", "created.payload.json");
    payload["alert"]["security_vulnerability"]["first_patched_version"] = Value::Null;
    let finding = alert("dependabot_alert", &payload).finding;
    assert_eq!(
        finding.rule.help.as_deref(),
        Some("No patched version of semver is known yet")
    );
    assert_eq!(finding.package.and_then(|p| p.first_patched), None);
}

// --- secret scanning ---------------------------------------------------------------------

#[test]
fn secret_scanning_reopened_example_reads_despite_its_missing_fields() {
    let event = alert(
        "secret_scanning_alert",
        &example("secret_scanning_alert", "reopened.payload.json"),
    );
    assert_eq!(event.change, AlertChange::Reappeared);
    assert_eq!(event.action, "reopened");
    assert_eq!(event.actor.as_deref(), Some("Codertocat"));
    assert_eq!(event.installation_id, None);
    let finding = event.finding;
    assert_eq!(finding.kind, AlertKind::SecretScanning);
    assert_eq!(finding.number, 191);
    assert_eq!(finding.repository.id, 257423561);
    assert_eq!(finding.rule.id, "adafruit_io_key");
    assert_eq!(
        finding.rule.name, "adafruit_io_key",
        "no display name in this example"
    );
    assert_eq!(finding.severity, Severity::High);
    assert_eq!(finding.tool.as_deref(), Some("Secret scanning"));
    assert_eq!(finding.state, AlertState::Open);
    assert_eq!(finding.dismissal, None);
    assert_eq!(finding.location, None);
    // This example has no html_url, created_at or updated_at.
    assert_eq!(finding.html_url, None);
    assert_eq!(finding.created_at, None);
    assert_eq!(finding.updated_at, None);
}

#[test]
fn every_secret_scanning_action_maps_onto_its_change() {
    use AlertChange as C;
    use AlertState as S;
    let base = example("secret_scanning_alert", "reopened.payload.json");
    let cases = [
        ("created", None, C::Opened, S::Open),
        ("reopened", None, C::Reappeared, S::Open),
        ("resolved", Some("revoked"), C::Fixed, S::Fixed),
        (
            "resolved",
            Some("false_positive"),
            C::Dismissed,
            S::Dismissed,
        ),
        ("resolved", Some("wont_fix"), C::Dismissed, S::Dismissed),
        (
            "resolved",
            Some("used_in_tests"),
            C::Dismissed,
            S::Dismissed,
        ),
        (
            "resolved",
            Some("pattern_edited"),
            C::Dismissed,
            S::Dismissed,
        ),
        (
            "resolved",
            Some("pattern_deleted"),
            C::Dismissed,
            S::Dismissed,
        ),
        ("revoked", Some("revoked"), C::Fixed, S::Fixed),
        ("validated", None, C::Updated, S::Open),
        ("publicly_leaked", None, C::Updated, S::Open),
        ("assigned", None, C::Updated, S::Open),
        ("unassigned", None, C::Updated, S::Open),
    ];
    for (action, resolution, change, expected_state) in cases {
        let mut payload = base.clone();
        payload["action"] = json!(action);
        payload["alert"]["resolution"] = json!(resolution);
        if resolution.is_some() {
            payload["alert"]["resolved_by"] = json!({"login": "Codertocat", "id": 21031067});
            payload["alert"]["resolved_at"] = json!("2024-01-02T03:04:05Z");
        }
        // GitHub's own webhook schema has no `state`; octokit's has `open`/`resolved`. Both
        // forms must read the same.
        for state in [
            None,
            Some(if resolution.is_some() {
                "resolved"
            } else {
                "open"
            }),
        ] {
            match state {
                Some(state) => payload["alert"]["state"] = json!(state),
                None => {
                    payload["alert"].as_object_mut().map(|a| a.remove("state"));
                }
            }
            let event = alert("secret_scanning_alert", &payload);
            assert_eq!(event.change, change, "{action} {resolution:?} {state:?}");
            assert_eq!(
                event.finding.state, expected_state,
                "{action} {resolution:?}"
            );
            let dismissal = event.finding.dismissal;
            if expected_state == S::Dismissed {
                let dismissal = dismissal.expect("a dismissal");
                assert_eq!(dismissal.reason.as_deref(), resolution);
                assert_eq!(dismissal.by.as_deref(), Some("Codertocat"));
                assert_eq!(dismissal.at, at("2024-01-02T03:04:05Z"));
            } else {
                assert_eq!(dismissal, None, "{action} {resolution:?}");
            }
        }
    }
}

#[test]
fn a_secrets_validity_and_public_leak_are_carried_for_the_policy_to_weigh() {
    let base = example("secret_scanning_alert", "reopened.payload.json");
    let exposure = |edit: &dyn Fn(&mut Value)| {
        let mut payload = base.clone();
        edit(&mut payload);
        let finding = alert("secret_scanning_alert", &payload).finding;
        // GitHub rates no secret: the policy raises or lowers it by its exposure.
        assert_eq!(finding.severity, Severity::High);
        finding.secret.expect("a secret's exposure")
    };
    // The octokit example predates validity checks: nothing said.
    assert_eq!(exposure(&|_| {}), SecretExposure::default());
    assert!(exposure(&|p| p["action"] = json!("publicly_leaked")).publicly_leaked);
    assert!(exposure(&|p| p["alert"]["publicly_leaked"] = json!(true)).publicly_leaked);
    for (word, validity) in [
        ("active", Some(SecretValidity::Active)),
        ("inactive", Some(SecretValidity::Inactive)),
        ("unknown", Some(SecretValidity::Unknown)),
        ("bogus", None),
    ] {
        assert_eq!(
            exposure(&|p| p["alert"]["validity"] = json!(word)).validity,
            validity,
            "{word}"
        );
    }
}

/// GitHub's REST description in the fixtures (`github-openapi-subset.json`), for its documented
/// examples: no real delivery among the fixtures carries `epss`, so the documented example of a
/// Dependabot alert stands in for one.
fn openapi_example(name: &str) -> Value {
    let doc = fixture("../github-openapi/github-openapi-subset.json");
    doc["components"]["examples"][name]["value"].clone()
}

#[test]
fn a_dependabot_alert_carries_its_epss_as_github_documents_it() {
    let repository = Repository {
        id: 1,
        full_name: "octocat/hello-world".into(),
        default_branch: Some("main".into()),
        html_url: None,
    };
    // GitHub's example: `{"percentage": 0.00045, "percentile": "0.16001e0"}`, the percentile a
    // string.
    let documented = openapi_example("dependabot-alert-open");
    let finding = finding_from_alert(AlertKind::Dependabot, documented.clone(), &repository)
        .expect("the documented example reads");
    let epss = finding
        .advisory
        .and_then(|a| a.epss)
        .expect("an EPSS score");
    assert_eq!(epss.percentage, 0.00045);
    assert_eq!(epss.percentile, Some(0.16001));
    // Its `assignees` too.
    assert_eq!(finding.assignees, Some(vec!["octocat".to_owned()]));
    // As a webhook delivery (the `dependabot_alert` payload's `alert` is the same object).
    let mut delivery = example("dependabot_alert", "created.payload.json");
    delivery["alert"]["security_advisory"]["epss"] =
        json!({"percentage": 0.944, "percentile": 0.999});
    let advisory = alert("dependabot_alert", &delivery)
        .finding
        .advisory
        .unwrap();
    assert_eq!(
        advisory.epss,
        Some(Epss {
            percentage: 0.944,
            percentile: Some(0.999)
        })
    );
    // Absent, null, or out of range: no score rather than a wrong one.
    for epss in [
        json!(null),
        json!({"percentage": "x"}),
        json!({"percentage": 95.0}),
    ] {
        delivery["alert"]["security_advisory"]["epss"] = epss.clone();
        let advisory = alert("dependabot_alert", &delivery)
            .finding
            .advisory
            .unwrap();
        assert_eq!(advisory.epss, None, "{epss}");
    }
}

#[test]
fn listed_secrets_carry_their_validity_and_assignee() {
    let repository = Repository {
        id: 1,
        full_name: "owner/private-repo".into(),
        default_branch: None,
        html_url: None,
    };
    // octocrab's recorded listing: validity `inactive`, then `unknown`.
    let listed = fixture("../github-rest-responses/octocrab/check_secrets_alerts.json");
    let validities: Vec<Option<SecretValidity>> = listed
        .as_array()
        .unwrap()
        .iter()
        .map(|a| {
            let finding = finding_from_alert(AlertKind::SecretScanning, a.clone(), &repository);
            finding.unwrap().secret.unwrap().validity
        })
        .collect();
    assert_eq!(
        validities,
        [
            Some(SecretValidity::Inactive),
            Some(SecretValidity::Unknown)
        ]
    );
    // GitHub's documented listing example assigns its alert to octocat.
    let documented = openapi_example("secret-scanning-alert-list");
    let assigned = documented
        .as_array()
        .unwrap()
        .iter()
        .find(|a| !a["assigned_to"].is_null())
        .unwrap()
        .clone();
    let finding = finding_from_alert(AlertKind::SecretScanning, assigned, &repository).unwrap();
    assert_eq!(finding.assignees, Some(vec!["octocat".to_owned()]));
}

#[test]
fn assignment_deliveries_carry_the_alerts_assignees() {
    let mut code = example("code_scanning_alert", "created.payload.json");
    code["action"] = json!("updated_assignment");
    code["alert"]["assignees"] = json!([{"login": "octo-dev", "id": 7}]);
    let event = alert("code_scanning_alert", &code);
    assert_eq!(event.change, AlertChange::Updated);
    assert_eq!(event.finding.assignees, Some(vec!["octo-dev".to_owned()]));
    code["alert"]["assignees"] = json!([]);
    assert_eq!(
        alert("code_scanning_alert", &code).finding.assignees,
        Some(vec![])
    );

    let mut dependabot = example("dependabot_alert", "created.payload.json");
    dependabot["action"] = json!("assignees_changed");
    dependabot["alert"]["assignees"] = json!([{"login": "dep-owner"}]);
    assert_eq!(
        alert("dependabot_alert", &dependabot).finding.assignees,
        Some(vec!["dep-owner".to_owned()])
    );

    let mut secret = example("secret_scanning_alert", "reopened.payload.json");
    secret["action"] = json!("assigned");
    secret["assignee"] = json!({"login": "sec-owner"});
    secret["alert"]["assigned_to"] = json!({"login": "sec-owner"});
    assert_eq!(
        alert("secret_scanning_alert", &secret).finding.assignees,
        Some(vec!["sec-owner".to_owned()])
    );
    secret["action"] = json!("unassigned");
    secret["alert"]["assigned_to"] = json!(null);
    assert_eq!(
        alert("secret_scanning_alert", &secret).finding.assignees,
        Some(vec![])
    );
}

#[test]
fn a_secrets_display_name_names_its_rule() {
    let mut payload = example("secret_scanning_alert", "reopened.payload.json");
    payload["alert"]["secret_type_display_name"] = json!("Adafruit IO Key");
    payload["alert"]["html_url"] =
        json!("https://github.com/Codertocat/Hello-World/security/secret-scanning/191");
    payload["alert"]["created_at"] = json!("2024-01-02T03:04:05Z");
    let finding = alert("secret_scanning_alert", &payload).finding;
    assert_eq!(finding.rule.id, "adafruit_io_key");
    assert_eq!(finding.rule.name, "Adafruit IO Key");
    assert!(finding.html_url.is_some());
    assert_eq!(finding.created_at, at("2024-01-02T03:04:05Z"));
}

// --- what is ignored, and what is refused -------------------------------------------------

#[test]
fn unknown_actions_of_alert_events_are_ignored() {
    for (event, file) in [
        ("code_scanning_alert", "created.payload.json"),
        ("dependabot_alert", "created.payload.json"),
        ("secret_scanning_alert", "reopened.payload.json"),
    ] {
        let mut payload = example(event, file);
        payload["action"] = json!("teleported");
        // The shape of a future action is unknown too: it must not matter.
        payload["alert"] = json!("something new");
        let Ok(ParsedDelivery::Ignored { reason }) = parse(event, &payload) else {
            panic!("{event} teleported should be ignored");
        };
        assert!(reason.contains("teleported"), "{reason}");

        payload.as_object_mut().map(|p| p.remove("action"));
        assert!(matches!(
            parse(event, &payload),
            Ok(ParsedDelivery::Ignored { .. })
        ));
    }
}

#[test]
fn other_events_are_ignored_whatever_their_body() {
    let payload = example("code_scanning_alert", "created.payload.json");
    for event in [
        "pull_request",
        "installation",
        "check_run",
        "secret_scanning_alert_location",
        "",
        "CODE_SCANNING_ALERT",
    ] {
        assert!(
            matches!(parse(event, &payload), Ok(ParsedDelivery::Ignored { .. })),
            "{event:?}"
        );
    }
    assert_eq!(
        parse_delivery("push", b"{}"),
        Ok(ParsedDelivery::Ignored {
            reason: "`push` is not an alert event".into()
        })
    );
}

#[test]
fn ping_is_ping() {
    assert_eq!(
        parse("ping", &example("ping", "payload.json")),
        Ok(ParsedDelivery::Ping)
    );
}

#[test]
fn a_body_that_is_not_json_is_refused_with_its_position() {
    assert_eq!(
        parse_delivery("code_scanning_alert", b"{"),
        Err(PayloadError::NotJson {
            line: 1,
            column: 1,
            message: "EOF while parsing an object".into(),
        })
    );
    assert!(matches!(
        parse_delivery("ping", b"{\n  \"zen\": nope }"),
        Err(PayloadError::NotJson { line: 2, .. })
    ));
    assert!(matches!(
        parse_delivery("pull_request", b""),
        Err(PayloadError::NotJson { .. })
    ));
    assert!(matches!(
        parse_delivery("dependabot_alert", &[0xff, 0xfe]),
        Err(PayloadError::NotJson { .. })
    ));
    let Err(err) = parse_delivery("code_scanning_alert", b"{") else {
        panic!("`{{` is not JSON");
    };
    assert_eq!(
        err.to_string(),
        "body is not JSON (line 1, column 1): EOF while parsing an object"
    );
}

#[test]
fn json_that_is_not_an_object_is_refused() {
    for body in [&b"[]"[..], b"null", b"42", b"\"created\""] {
        assert_eq!(
            parse_delivery("code_scanning_alert", body),
            Err(PayloadError::Invalid {
                path: ".".into(),
                message: "expected a JSON object".into(),
            })
        );
    }
}

#[test]
fn a_mistyped_alert_number_is_refused_at_its_path() {
    let payload = json!({
        "action": "created",
        "alert": {"number": "x"},
        "repository": {"id": 1, "full_name": "o/r"},
    });
    let (path, message) = invalid_at("code_scanning_alert", &payload);
    assert_eq!(path, "alert.number");
    assert_eq!(message, r#"invalid type: string "x", expected u64"#);
    let Err(err) = parse("dependabot_alert", &payload) else {
        panic!("refused");
    };
    assert_eq!(
        err.to_string(),
        r#"alert.number: invalid type: string "x", expected u64"#
    );
}

#[test]
fn the_fields_scantix_cannot_do_without_are_refused_at_their_paths() {
    let base = example("code_scanning_alert", "created.payload.json");
    type Edit = fn(&mut Value);
    let cases: [(&str, Edit); 8] = [
        ("alert", |p| p["alert"] = Value::Null),
        ("alert.number", |p| p["alert"]["number"] = Value::Null),
        ("alert.number", |p| p["alert"]["number"] = json!(-3)),
        ("repository", |p| {
            p.as_object_mut().map(|o| o.remove("repository"));
        }),
        ("repository.id", |p| {
            p["repository"]["id"] = json!("337911632")
        }),
        ("repository.full_name", |p| {
            p["repository"]
                .as_object_mut()
                .map(|r| r.remove("full_name"));
        }),
        // serde's derive would read these arrays as structs, field by field.
        ("alert", |p| p["alert"] = json!([10])),
        ("repository", |p| p["repository"] = json!([1, "o/r"])),
    ];
    for (expected_path, edit) in cases {
        let mut payload = base.clone();
        edit(&mut payload);
        let (path, message) = invalid_at("code_scanning_alert", &payload);
        assert_eq!(path, expected_path, "{message}");
    }
}

#[test]
fn fields_scantix_can_do_without_never_fail_a_delivery() {
    let mut payload = example("code_scanning_alert", "created.payload.json");
    let alert_json = &mut payload["alert"];
    alert_json["created_at"] = json!("last Tuesday");
    alert_json["updated_at"] = json!(1_700_000_000);
    alert_json["html_url"] = json!(42);
    alert_json["rule"]["tags"] = json!("external/cwe/cwe-089");
    alert_json["rule"]["help"] = json!({"text": "markdown moved"});
    alert_json["tool"] = json!("CodeQL");
    alert_json["dismissed_at"] = json!(false);
    alert_json["instances"][0]["location"]["start_line"] = json!("84");
    payload["installation"] = json!({"id": "14662836"});
    payload["sender"] = Value::Null;
    payload["repository"]["default_branch"] = json!(null);
    let event = alert("code_scanning_alert", &payload);
    let finding = &event.finding;
    assert_eq!(finding.created_at, None);
    assert_eq!(finding.updated_at, None);
    assert_eq!(finding.html_url, None);
    assert!(finding.cwes.is_empty());
    assert_eq!(finding.rule.help, None);
    assert_eq!(finding.tool, None);
    assert_eq!(
        finding.severity,
        Severity::High,
        "the SARIF level still reads"
    );
    assert_eq!(
        finding
            .location
            .as_ref()
            .map(|l| (l.start_line, l.end_line)),
        Some((None, Some(84)))
    );
    assert_eq!(event.installation_id, None);
    assert_eq!(event.actor, None);
    assert_eq!(finding.repository.default_branch, None);
    assert_eq!(finding.rule.id, "java/sql-injection");
}

#[test]
fn a_rule_that_is_not_an_object_leaves_an_empty_rule() {
    let mut payload = example("code_scanning_alert", "created.payload.json");
    payload["alert"]["rule"] = json!("java/sql-injection");
    let finding = alert("code_scanning_alert", &payload).finding;
    assert_eq!(finding.rule, Rule::default());
    assert_eq!(finding.severity, Severity::Unknown);
}

#[test]
fn cwe_names_normalise_to_one_spelling() {
    assert_eq!(
        normalised_cwe("external/cwe/cwe-079").as_deref(),
        Some("CWE-79")
    );
    assert_eq!(normalised_cwe("CWE-1333").as_deref(), Some("CWE-1333"));
    assert_eq!(normalised_cwe(" cwe-020 ").as_deref(), Some("CWE-20"));
    assert_eq!(normalised_cwe("external/cwe/cwe-"), None);
    assert_eq!(normalised_cwe("external/owasp/a1"), None);
    assert_eq!(normalised_cwe("security"), None);
}
