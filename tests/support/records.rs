//! Records for store and engine tests, built from the real `scantix_core::records` types with every
//! field filled in, so a store that drops or mangles a field shows up as an inequality.

use chrono::{DateTime, Duration, Utc};
use scantix_core::finding::{
    Advisory, AlertKind, AlertState, Finding, FlowStep, Location, Repository, Rule, Severity,
};
use scantix_core::identity::{Fingerprint, GroupKey, GroupingMode};
use scantix_core::records::{AuditEntry, DeliveryRecord, FindingRecord, GroupRecord, Triage};

/// A fixed instant plus `seconds`: tests name times relative to one another, never the clock.
pub fn at(seconds: i64) -> DateTime<Utc> {
    let base: DateTime<Utc> = "2025-03-01T12:00:00Z"
        .parse()
        .expect("a valid RFC 3339 literal");
    base + Duration::seconds(seconds)
}

/// An open CodeQL alert `number` (js/sql-injection, with a source → sink flow and an advisory
/// reference) in repository `repo_id`.
pub fn sample_finding(repo_id: u64, number: u64) -> Finding {
    let path = format!("src/routes/orders_{number}.js");
    Finding {
        secret: None,
        assignees: None,
        kind: AlertKind::CodeScanning,
        repository: Repository {
            id: repo_id,
            full_name: format!("acme/shop-{repo_id}"),
            default_branch: Some("main".into()),
            html_url: Some(format!("https://github.com/acme/shop-{repo_id}")),
        },
        number,
        rule: Rule {
            id: "js/sql-injection".into(),
            name: "Database query built from user-controlled sources".into(),
            description: Some(
                "Building a SQL query from user input lets an attacker change it.".into(),
            ),
            help: Some("# SQL injection\nUse a parameterised query.".into()),
            help_uri: Some(
                "https://codeql.github.com/codeql-query-help/javascript/js-sql-injection/".into(),
            ),
        },
        severity: Severity::High,
        cwes: vec!["CWE-89".into(), "CWE-90".into()],
        tool: Some("CodeQL".into()),
        location: Some(Location {
            path: path.clone(),
            start_line: Some(42),
            end_line: Some(44),
        }),
        flow: vec![
            FlowStep {
                location: Location {
                    path: "src/server.js".into(),
                    start_line: Some(10),
                    end_line: None,
                },
                message: Some("req.query.id".into()),
            },
            FlowStep {
                location: Location {
                    path,
                    start_line: Some(42),
                    end_line: Some(44),
                },
                message: Some("db.query(sql)".into()),
            },
        ],
        package: None,
        advisory: Some(Advisory {
            epss: None,
            ghsa_id: None,
            cve_id: Some("CVE-2024-0001".into()),
            cvss_score: Some(8.1),
            references: vec!["https://owasp.org/www-community/attacks/SQL_Injection".into()],
        }),
        git_ref: Some("refs/heads/main".into()),
        commit_sha: Some("9fceb02d0ae598e95dc970b74767f19372d61af8".into()),
        state: AlertState::Open,
        dismissal: None,
        html_url: Some(format!(
            "https://github.com/acme/shop-{repo_id}/security/code-scanning/{number}"
        )),
        created_at: Some(at(-3600)),
        updated_at: Some(at(-60)),
    }
}

/// The group a finding falls in when grouping by rule.
pub fn group_key_of(finding: &Finding) -> GroupKey {
    GroupKey::for_finding(finding, GroupingMode::Rule)
}

/// `finding` as first seen at `now`, in its rule group, to be ticketed.
pub fn finding_record(finding: &Finding, now: DateTime<Utc>) -> FindingRecord {
    FindingRecord {
        priority_reason: None,
        fingerprint: Fingerprint::of(finding),
        group_key: group_key_of(finding),
        finding: FindingRecord::slim(finding.clone()),
        triage: Triage::Ticket,
        severity: finding.severity,
        due: Some(now.date_naive() + chrono::Days::new(30)),
        owner: Some("@acme/payments".into()),
        first_seen: now,
        updated_at: now,
        ticketed_at: Some(now),
        closed_at: None,
        reopens: 0,
        pending_dismissal: None,
    }
}

/// The rule group of `finding`, created at `now` with `finding` as its only (ticketed) member.
pub fn group_record(finding: &Finding, now: DateTime<Utc>) -> GroupRecord {
    let mut group = GroupRecord::new(group_key_of(finding), finding, now);
    group.absorb(None, &finding_record(finding, now));
    group
}

/// A GitHub delivery received at `now`, kept until a week from the real clock.
///
/// The one field here taken from the clock: DynamoDB Local honours TTL and deletes an item whose
/// `ttl` is past within about a second, so a delivery expiring a week after a fixed 2025 instant
/// would vanish in the middle of a test (and a duplicate would then go through).
pub fn delivery_record(id: &str, group: Option<&GroupKey>, now: DateTime<Utc>) -> DeliveryRecord {
    DeliveryRecord {
        id: id.into(),
        group_key: group.cloned(),
        received_at: now,
        expires_at: Utc::now() + Duration::days(7),
    }
}

/// An audit line for `group`: scantix did `action` at `now`, prompted by `delivery`.
pub fn audit_entry(
    group: &GroupKey,
    action: &str,
    now: DateTime<Utc>,
    delivery: Option<&str>,
) -> AuditEntry {
    AuditEntry {
        at: now,
        group_key: group.clone(),
        fingerprint: None,
        actor: "scantix".into(),
        action: action.into(),
        reason: format!("{action} (test)"),
        delivery: delivery.map(Into::into),
        ticket: None,
        state: None,
    }
}
