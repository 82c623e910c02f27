//! Sample findings for tests and benchmarks: realistic values, built in one line.

use crate::finding::{
    Advisory, AlertKind, AlertState, Finding, Location, Package, Repository, Rule, Severity,
};

/// An open CodeQL alert `number` of `rule` at `path`, line `number`, in repository 42 `acme/shop`.
pub fn code_alert(number: u64, rule: &str, path: &str) -> Finding {
    Finding {
        assignees: None,
        secret: None,
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

/// `finding` as a ticketed record first seen at `now`, in `group` (severity and no due date or
/// owner as triage would leave them with no policy).
pub fn ticketed_record(
    finding: &Finding,
    group: &crate::identity::GroupKey,
    now: chrono::DateTime<chrono::Utc>,
) -> crate::records::FindingRecord {
    crate::records::FindingRecord {
        priority_reason: None,
        fingerprint: crate::identity::Fingerprint::of(finding),
        group_key: group.clone(),
        finding: crate::records::FindingRecord::slim(finding.clone()),
        triage: crate::records::Triage::Ticket,
        severity: finding.severity,
        due: None,
        owner: None,
        first_seen: now,
        updated_at: now,
        ticketed_at: Some(now),
        closed_at: None,
        reopens: 0,
        pending_dismissal: None,
    }
}

/// The ticket of a group by rule holding `findings` (all ticketed, the first one founding it), as
/// the executor renders it: counts from the group, the first findings listed. `None` for none.
pub fn ticket_of(findings: &[Finding]) -> Option<crate::ticket::TicketContent> {
    use crate::identity::{GroupKey, GroupingMode};
    use crate::records::{FindingRecord, GroupContent, GroupRecord};
    let first = findings.first()?;
    let now = chrono::DateTime::UNIX_EPOCH;
    let key = GroupKey::for_finding(first, GroupingMode::Rule);
    let mut group = GroupRecord::new(key.clone(), first, now);
    let mut records: Vec<FindingRecord> = Vec::new();
    for finding in findings {
        let record = ticketed_record(finding, &key, now);
        group.absorb(None, &record);
        records.push(record);
    }
    records.sort_by_key(FindingRecord::rank);
    let content = GroupContent::of(&key, first);
    Some(crate::ticket::anatomy::ticket_content(
        crate::ticket::anatomy::TicketSource {
            group: &group,
            content: Some(&content),
            top: &records,
        },
    ))
}
