//! Audit entries as OCSF 1.8 events, for a SIEM: every change of a finding or a ticket becomes a
//! **Vulnerability Finding** (class 2002) when it is about a dependency or a CVE (Dependabot, or any
//! finding naming a CVE), a **Detection Finding** (class 2004) otherwise (code scanning, secret
//! scanning, SARIF), with `activity_id` Create, Update or Close.
//!
//! Where scantix's facts go (OCSF 1.8.0, `tests/fixtures/ocsf` holds the schemas the tests check
//! every event against):
//! - `finding_info.uid`: the finding's fingerprint (`<repository id>/<kind>/<number>`), or for a
//!   change of a ticket, `ticket:<group key>`: stable, so a consumer keys its state by it;
//!   `metadata.uid`: a digest of the audit entry, so an event delivered twice is recognisably the
//!   same (the deployed sink is at least once);
//! - severity: `severity_id` (Informational 1 … Critical 5) and `severity`; status: `status_id`
//!   (New 1, In Progress 2, Suppressed 3 for a dismissal, Resolved 4 for a fix, Deleted 6);
//! - CVE: `vulnerabilities[].cve.uid` (with its CVSS score); CWE: `vulnerabilities[].cwe.uid` (the
//!   first; the others in `cve.related_cwes` when there is a CVE); the package and its fixed
//!   version: `vulnerabilities[].affected_packages`; the code: `vulnerabilities[].affected_code`;
//! - repository: `resources[]` (uid: the repository id, name: `owner/name`);
//! - remediation: `remediation.desc` on 2004, `vulnerabilities[].remediation.desc` on 2002 (which
//!   has no top-level remediation);
//! - the ticket reference, its tracker and URL, the SLA due date and the owner: `finding_info.tags`
//!   (`ticket`, `ticket_tracker`, `ticket_url`, `sla_due_date`, `owner`). OCSF 1.8 has a `ticket`
//!   object, but only on Incident Findings (2005): tags are how these two classes carry it.
//! - who did it and why: `message` (the entry's reason), `unmapped.actor`, `unmapped.action`.

use chrono::{DateTime, Utc};
use scantix_core::finding::{AlertKind, AlertState, Severity};
use scantix_core::records::{AuditEntry, FindingRecord, GroupContent, GroupRecord, TICKET_CREATED};
use serde_json::{Value, json};
use sha2::{Digest, Sha256};

/// The OCSF schema version the events follow.
pub const OCSF_VERSION: &str = "1.8.0";
/// OCSF class: Vulnerability Finding.
pub const VULNERABILITY_FINDING: u32 = 2002;
/// OCSF class: Detection Finding.
pub const DETECTION_FINDING: u32 = 2004;
/// OCSF category: Findings.
const FINDINGS_CATEGORY: u32 = 2;
/// The most of a rule's help text an event carries: a SIEM wants the gist and the link.
const REMEDIATION_CHARS: usize = 2_000;

/// What an event is made of: the audit entry, and the records it names as they are now (the
/// entry itself says what changed and the state it left the finding in).
#[derive(Debug, Clone, Copy)]
pub struct Facts<'a> {
    pub entry: &'a AuditEntry,
    pub finding: Option<&'a FindingRecord>,
    pub group: Option<&'a GroupRecord>,
    pub content: Option<&'a GroupContent>,
}

/// What a change is about, for the SIEM.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Concern {
    /// A change of one finding (detected, triaged, fixed, dismissed, back again).
    Finding,
    /// A change of a ticket (requested, created, moved, closed, reopened, overdue).
    Ticket,
}

/// What an entry is a change of, for the SIEM: its finding, its ticket, or both (an alert that came
/// back reopens its ticket). None for comments, pull request summaries, installations and syncs,
/// which are not state changes of a finding or ticket.
pub fn concerns(entry: &AuditEntry) -> Vec<Concern> {
    let about_finding = entry.fingerprint.is_some();
    match entry.action.as_str() {
        // Written for one alert's change ("alert 7 fixed (fixed)").
        "ticket.updated" if about_finding => vec![Concern::Finding],
        "ticket.reopened" if about_finding => vec![Concern::Finding, Concern::Ticket],
        "ticket.commented" => vec![],
        a if a.starts_with("finding.") && about_finding => vec![Concern::Finding],
        a if a.starts_with("finding.") || a.starts_with("ticket.") => vec![Concern::Ticket],
        _ => vec![],
    }
}

/// OCSF `activity_id`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Activity {
    Create = 1,
    Update = 2,
    Close = 3,
}

impl Activity {
    fn name(self) -> &'static str {
        match self {
            Activity::Create => "Create",
            Activity::Update => "Update",
            Activity::Close => "Close",
        }
    }
}

/// OCSF `status_id`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Status {
    New = 1,
    InProgress = 2,
    Suppressed = 3,
    Resolved = 4,
    Deleted = 6,
}

impl Status {
    fn name(self) -> &'static str {
        match self {
            Status::New => "New",
            Status::InProgress => "In Progress",
            Status::Suppressed => "Suppressed",
            Status::Resolved => "Resolved",
            Status::Deleted => "Deleted",
        }
    }
}

/// The event uid of an entry's event about `concern`: a digest of the entry as stored, so the same
/// change always gives the same uid (a consumer drops a redelivered event by it).
pub fn event_uid(entry: &AuditEntry, concern: Concern) -> String {
    let mut digest = Sha256::new();
    digest.update(serde_json::to_vec(entry).unwrap_or_default());
    digest.update(match concern {
        Concern::Finding => b"#finding".as_slice(),
        Concern::Ticket => b"#ticket".as_slice(),
    });
    hex::encode(&digest.finalize()[..16])
}

/// The OCSF events of one audit entry: one per thing it changed (see `concerns`).
pub fn events(facts: Facts<'_>) -> Vec<Value> {
    concerns(facts.entry)
        .into_iter()
        .map(|concern| event(facts, concern))
        .collect()
}

/// The OCSF event of an entry's change of `concern`.
pub fn event(facts: Facts<'_>, concern: Concern) -> Value {
    let entry = facts.entry;
    let kind = facts
        .finding
        .map(|f| f.finding.kind)
        .or(facts.group.map(|g| g.kind));
    let cves = cves(facts, concern);
    let class = match (kind, cves.is_empty()) {
        (Some(AlertKind::Dependabot), _) | (_, false) => VULNERABILITY_FINDING,
        _ => DETECTION_FINDING,
    };
    let (activity, status) = match concern {
        Concern::Finding => finding_change(entry),
        Concern::Ticket => ticket_change(entry),
    };
    let severity = match (concern, facts.finding, facts.group) {
        (Concern::Finding, Some(finding), _) => finding.severity,
        (_, _, Some(group)) => group.severity(),
        (_, Some(finding), None) => finding.severity,
        (_, None, None) => Severity::Unknown,
    };
    let (severity_id, severity_name) = severity_of(severity);
    let ms = |t: DateTime<Utc>| t.timestamp_millis();
    let class_name = if class == VULNERABILITY_FINDING {
        "Vulnerability Finding"
    } else {
        "Detection Finding"
    };

    let mut event = json!({
        "activity_id": activity as u8,
        "activity_name": activity.name(),
        "category_uid": FINDINGS_CATEGORY,
        "category_name": "Findings",
        "class_uid": class,
        "class_name": class_name,
        "type_uid": class * 100 + activity as u32,
        "type_name": format!("{class_name}: {}", activity.name()),
        "time": ms(entry.at),
        "severity_id": severity_id,
        "severity": severity_name,
        "status_id": status as u8,
        "status": status.name(),
        "status_detail": entry.action,
        "message": entry.reason,
        "metadata": {
            "version": OCSF_VERSION,
            "uid": event_uid(entry, concern),
            "correlation_uid": entry.group_key.as_str(),
            "log_name": "scantix audit",
            "logged_time": ms(entry.at),
            "product": {
                "name": "scantix",
                "vendor_name": "scantix",
                "version": env!("CARGO_PKG_VERSION"),
            },
        },
        "finding_info": finding_info(facts, concern),
        "resources": resources(facts, concern),
        "unmapped": {
            "actor": entry.actor,
            "action": entry.action,
            "delivery": entry.delivery,
        },
    });
    let remediation = remediation(facts);
    let vulnerabilities =
        vulnerabilities(facts, concern, &cves, severity_name, remediation.as_deref());
    if let Some(object) = event.as_object_mut() {
        if class == DETECTION_FINDING
            && let Some(text) = &remediation
        {
            object.insert("remediation".into(), json!({ "desc": text }));
        }
        if class == VULNERABILITY_FINDING || !vulnerabilities.is_empty() {
            object.insert("vulnerabilities".into(), Value::Array(vulnerabilities));
        }
    }
    event
}

/// What a change of one finding did: created on first sight, closed when it left the finding fixed
/// or dismissed, an update otherwise; the status is the state it left the finding in.
fn finding_change(entry: &AuditEntry) -> (Activity, Status) {
    let state = entry.state.or(match entry.action.as_str() {
        // Entries written before they carried the state: the verb says it.
        "finding.dismissed" | "finding.suppressed" => Some(AlertState::Dismissed),
        _ => None,
    });
    let status = match state {
        Some(AlertState::Fixed) => Status::Resolved,
        Some(AlertState::Dismissed) => Status::Suppressed,
        Some(AlertState::Open) if entry.ticket.is_some() => Status::InProgress,
        Some(AlertState::Open) | None => Status::New,
    };
    let activity = match (entry.action.as_str(), state) {
        ("finding.triaged", _) => Activity::Create,
        (_, Some(AlertState::Fixed | AlertState::Dismissed)) => Activity::Close,
        _ => Activity::Update,
    };
    (activity, status)
}

/// What a change of a ticket did, from its verb: created when requested or created, closed when
/// resolved, stale (every finding gone) or deleted, an update otherwise.
fn ticket_change(entry: &AuditEntry) -> (Activity, Status) {
    match entry.action.as_str() {
        "ticket.requested" => (Activity::Create, Status::New),
        a if a == TICKET_CREATED => (Activity::Create, Status::New),
        "ticket.closed" | "ticket.stale" | "ticket.resolved" => (Activity::Close, Status::Resolved),
        "ticket.deleted" => (Activity::Close, Status::Deleted),
        _ => (Activity::Update, Status::InProgress),
    }
}

/// OCSF `severity_id` and its caption.
fn severity_of(severity: Severity) -> (u8, &'static str) {
    match severity {
        Severity::Unknown => (0, "Unknown"),
        Severity::Note => (1, "Informational"),
        Severity::Low => (2, "Low"),
        Severity::Medium => (3, "Medium"),
        Severity::High => (4, "High"),
        Severity::Critical => (5, "Critical"),
    }
}

fn finding_info(facts: Facts<'_>, concern: Concern) -> Value {
    let entry = facts.entry;
    let ms = |t: DateTime<Utc>| t.timestamp_millis();
    let mut tags = Vec::new();
    let mut tag = |name: &str, value: &str| tags.push(json!({ "name": name, "value": value }));
    let ticket = facts.group.and_then(|g| g.ticket.as_ref());
    match (ticket, &entry.ticket) {
        (Some(ticket), _) => {
            tag("ticket", &ticket.key);
            tag("ticket_tracker", &ticket.tracker);
            if let Some(url) = &ticket.url {
                tag("ticket_url", url);
            }
        }
        (None, Some(key)) => tag("ticket", key),
        (None, None) => {}
    }
    let due = match concern {
        Concern::Finding => facts.finding.and_then(|f| f.due),
        Concern::Ticket => facts.group.and_then(GroupRecord::due),
    };
    if let Some(due) = due {
        tag("sla_due_date", &due.to_string());
    }
    let owner = match concern {
        Concern::Finding => facts.finding.and_then(|f| f.owner.as_deref()),
        Concern::Ticket => facts.group.and_then(|g| g.assignee.as_deref()),
    };
    if let Some(owner) = owner {
        tag("owner", owner);
    }
    tag("group", entry.group_key.as_str());

    let rule = facts
        .finding
        .map(|f| &f.finding.rule)
        .or(facts.group.map(|g| &g.rule));
    let kind = facts
        .finding
        .map(|f| f.finding.kind)
        .or(facts.group.map(|g| g.kind));
    let mut info = json!({
        "modified_time": ms(entry.at),
        "tags": tags,
    });
    let Some(object) = info.as_object_mut() else {
        return info;
    };
    match (concern, &entry.fingerprint) {
        (Concern::Finding, Some(fingerprint)) => {
            object.insert("uid".into(), json!(fingerprint.as_str()));
            object.insert(
                "uid_alt".into(),
                json!(format!("ticket:{}", entry.group_key)),
            );
        }
        _ => {
            object.insert("uid".into(), json!(format!("ticket:{}", entry.group_key)));
        }
    }
    if let Some(finding) = facts.finding.filter(|_| concern == Concern::Finding) {
        object.insert("created_time".into(), json!(ms(finding.first_seen)));
        object.insert("first_seen_time".into(), json!(ms(finding.first_seen)));
        object.insert("last_seen_time".into(), json!(ms(finding.updated_at)));
        if let Some(url) = &finding.finding.html_url {
            object.insert("src_url".into(), json!(url));
        }
    } else if let Some(group) = facts.group {
        object.insert("created_time".into(), json!(ms(group.created_at)));
    }
    if let Some(rule) = rule {
        let title = match (concern, facts.group) {
            (Concern::Ticket, Some(group)) => format!(
                "{} ({} of {} alerts open)",
                if rule.name.is_empty() {
                    &rule.id
                } else {
                    &rule.name
                },
                group.tally.open,
                group.tally.ticketed()
            ),
            _ if rule.name.is_empty() => rule.id.clone(),
            _ => rule.name.clone(),
        };
        object.insert("title".into(), json!(title));
        if !rule.id.is_empty() {
            let mut analytic = json!({ "type_id": 1, "type": "Rule", "uid": rule.id });
            if let (Some(a), false) = (analytic.as_object_mut(), rule.name.is_empty()) {
                a.insert("name".into(), json!(rule.name));
            }
            object.insert("analytic".into(), analytic);
        }
    }
    if let Some(description) = facts.content.and_then(|c| c.description.as_deref()) {
        object.insert(
            "desc".into(),
            json!(truncated(description, REMEDIATION_CHARS)),
        );
    }
    if let Some(kind) = kind {
        object.insert("types".into(), json!([kind.label()]));
        let tool = facts.finding.and_then(|f| f.finding.tool.as_deref());
        let product = match (kind, tool) {
            (AlertKind::Sarif, Some(tool)) => json!({ "name": tool }),
            (AlertKind::Sarif, None) => json!({ "name": "SARIF" }),
            (kind, Some(tool)) => {
                json!({ "name": format!("GitHub {} ({tool})", kind.label().to_lowercase()), "vendor_name": "GitHub" })
            }
            (kind, None) => {
                json!({ "name": format!("GitHub {}", kind.label().to_lowercase()), "vendor_name": "GitHub" })
            }
        };
        object.insert("product".into(), product);
    }
    info
}

/// The repositories a change is about: the finding's, or every one a ticket spans.
fn resources(facts: Facts<'_>, concern: Concern) -> Value {
    let repository = |id: Option<u64>, name: &str| {
        let mut r = json!({ "type": "GitHub repository", "name": name });
        if let (Some(object), Some(id)) = (r.as_object_mut(), id) {
            object.insert("uid".into(), json!(id.to_string()));
        }
        r
    };
    match (concern, facts.finding, facts.group) {
        (Concern::Finding, Some(finding), _) => {
            let repo = &finding.finding.repository;
            let mut resource = repository(Some(repo.id), &repo.full_name);
            // Where in the repository: its ref and commit, and the file and lines (also in
            // `vulnerabilities[].affected_code` when the finding names a CVE or CWE).
            let f = &finding.finding;
            let mut data = serde_json::Map::new();
            if let Some(git_ref) = &f.git_ref {
                data.insert("ref".into(), json!(git_ref));
            }
            if let Some(commit) = &f.commit_sha {
                data.insert("commit".into(), json!(commit));
            }
            if let Some(location) = &f.location {
                data.insert("path".into(), json!(location.path));
                data.insert("start_line".into(), json!(location.start_line));
                data.insert("end_line".into(), json!(location.end_line));
            } else if let Some(package) = &f.package {
                data.insert("path".into(), json!(package.manifest_path));
            }
            if let (Some(object), false) = (resource.as_object_mut(), data.is_empty()) {
                object.insert("data".into(), Value::Object(data));
            }
            json!([resource])
        }
        (_, _, Some(group)) => {
            let mut names: Vec<&str> = group
                .facets
                .repositories
                .values
                .iter()
                .map(String::as_str)
                .collect();
            if !names.contains(&group.repository.full_name.as_str()) {
                names.insert(0, &group.repository.full_name);
            }
            Value::Array(
                names
                    .into_iter()
                    .map(|name| {
                        let id =
                            (name == group.repository.full_name).then_some(group.repository.id);
                        repository(id, name)
                    })
                    .collect(),
            )
        }
        _ => json!([]),
    }
}

/// The CVE ids a change is about.
fn cves(facts: Facts<'_>, concern: Concern) -> Vec<String> {
    let is_cve = |id: &String| id.to_ascii_uppercase().starts_with("CVE-");
    match (concern, facts.finding, facts.group) {
        (Concern::Finding, Some(finding), _) => finding
            .finding
            .advisory
            .iter()
            .filter_map(|a| a.cve_id.clone())
            .filter(is_cve)
            .collect(),
        (_, _, Some(group)) => group
            .facets
            .advisories
            .values
            .iter()
            .filter(|id| is_cve(id))
            .cloned()
            .collect(),
        _ => Vec::new(),
    }
}

/// How to fix it: a Dependabot finding's upgrade, else the rule's help (cut short), else its link.
fn remediation(facts: Facts<'_>) -> Option<String> {
    if let Some(package) = facts.finding.and_then(|f| f.finding.package.as_ref()) {
        return Some(match &package.first_patched {
            Some(version) => format!(
                "Upgrade {} ({}) in {} to {version} or later.",
                package.name, package.ecosystem, package.manifest_path
            ),
            None => format!(
                "No patched version of {} ({}) is known: remove or replace it in {}.",
                package.name, package.ecosystem, package.manifest_path
            ),
        });
    }
    let content = facts.content?;
    match (&content.help, &content.help_uri) {
        (Some(help), _) if !help.trim().is_empty() => Some(truncated(help, REMEDIATION_CHARS)),
        (_, Some(uri)) => Some(format!("See {uri}")),
        _ => None,
    }
}

/// The `vulnerabilities` array: one entry describing the finding (or the ticket's advisory).
fn vulnerabilities(
    facts: Facts<'_>,
    concern: Concern,
    cves: &[String],
    severity: &str,
    remediation: Option<&str>,
) -> Vec<Value> {
    let finding = facts.finding.filter(|_| concern == Concern::Finding);
    let cwes: Vec<&str> = match (finding, facts.group) {
        (Some(f), _) => f.finding.cwes.iter().map(String::as_str).collect(),
        (None, Some(g)) => g.facets.cwes.values.iter().map(String::as_str).collect(),
        (None, None) => Vec::new(),
    };
    let package = finding.and_then(|f| f.finding.package.as_ref());
    let location = finding.and_then(|f| f.finding.location.as_ref());
    let title = finding
        .map(|f| f.finding.rule.name.as_str())
        .or(facts.group.map(|g| g.rule.name.as_str()))
        .unwrap_or_default();
    // OCSF names a vulnerability by exactly one of a CVE (which carries the CWEs), a CWE, or an
    // advisory; a finding with none of them is not a vulnerability, except on a Vulnerability
    // Finding, where its rule (a GHSA id for Dependabot) stands as the advisory.
    let advisories: Vec<&str> = match (finding, facts.group) {
        (Some(f), _) => f
            .finding
            .advisory
            .iter()
            .filter_map(|a| a.ghsa_id.as_deref())
            .collect(),
        (None, Some(g)) => g
            .facets
            .advisories
            .values
            .iter()
            .map(String::as_str)
            .filter(|a| !a.to_ascii_uppercase().starts_with("CVE-"))
            .collect(),
        (None, None) => Vec::new(),
    };
    let rule_id = finding
        .map(|f| f.finding.rule.id.as_str())
        .or(facts.group.map(|g| g.rule.id.as_str()))
        .unwrap_or_default();
    let vulnerability_class = facts.group.map(|g| g.kind) == Some(AlertKind::Dependabot)
        || finding.map(|f| f.finding.kind) == Some(AlertKind::Dependabot);
    let advisory = advisories
        .first()
        .copied()
        .or((vulnerability_class && !rule_id.is_empty()).then_some(rule_id));
    let mut vulnerability = serde_json::Map::new();
    if let Some(cve) = cves.first() {
        let mut object = serde_json::Map::new();
        object.insert("uid".into(), json!(cve));
        let score = finding
            .and_then(|f| f.finding.advisory.as_ref())
            .and_then(|a| a.cvss_score)
            .filter(|s| s.is_finite() && *s > 0.0);
        if let Some(score) = score {
            object.insert(
                "cvss".into(),
                json!([{ "base_score": score, "version": "3.1" }]),
            );
        }
        if let Some((first, rest)) = cwes.split_first() {
            object.insert("cwe".into(), json!({ "uid": first }));
            if !rest.is_empty() {
                let related: Vec<Value> = rest.iter().map(|c| json!({ "uid": c })).collect();
                object.insert("related_cwes".into(), Value::Array(related));
            }
        }
        vulnerability.insert("cve".into(), Value::Object(object));
    } else if let Some(first) = cwes.first() {
        vulnerability.insert("cwe".into(), json!({ "uid": first }));
    } else if let Some(advisory) = advisory {
        vulnerability.insert("advisory".into(), json!({ "uid": advisory }));
    } else {
        return Vec::new();
    }
    if !title.is_empty() {
        vulnerability.insert("title".into(), json!(title));
    }
    vulnerability.insert("severity".into(), json!(severity));
    let references: Vec<&str> = finding
        .and_then(|f| f.finding.advisory.as_ref())
        .map(|a| a.references.iter().map(String::as_str).collect())
        .unwrap_or_default();
    if !references.is_empty() {
        vulnerability.insert("references".into(), json!(references));
    }
    if let Some(package) = package {
        let mut affected = json!({
            "name": package.name,
            // OCSF requires a version; an alert names the vulnerable range, not the installed one.
            "version": package.vulnerable_range.as_deref().unwrap_or("unknown"),
            "package_manager": package.ecosystem,
            "path": package.manifest_path,
        });
        if let (Some(object), Some(fixed)) = (affected.as_object_mut(), &package.first_patched) {
            object.insert("fixed_in_version".into(), json!(fixed));
        }
        vulnerability.insert("affected_packages".into(), json!([affected]));
        vulnerability.insert(
            "is_fix_available".into(),
            json!(package.first_patched.is_some()),
        );
    }
    if let Some(location) = location {
        let name = location.path.rsplit('/').next().unwrap_or(&location.path);
        let mut code = json!({
            // type_id 1: Regular File.
            "file": { "name": name, "path": location.path, "type_id": 1 },
        });
        if let Some(object) = code.as_object_mut() {
            if let Some(line) = location.start_line.and_then(|l| i64::try_from(l).ok()) {
                object.insert("start_line".into(), json!(line));
            }
            if let Some(line) = location.end_line.and_then(|l| i64::try_from(l).ok()) {
                object.insert("end_line".into(), json!(line));
            }
        }
        vulnerability.insert("affected_code".into(), json!([code]));
    }
    if let Some(finding) = finding {
        let ms = finding.first_seen.timestamp_millis();
        vulnerability.insert("first_seen_time".into(), json!(ms));
        vulnerability.insert(
            "last_seen_time".into(),
            json!(finding.updated_at.timestamp_millis()),
        );
    }
    if let Some(text) = remediation {
        vulnerability.insert("remediation".into(), json!({ "desc": text }));
    }
    vec![Value::Object(vulnerability)]
}

/// At most `limit` characters of `text`, cut on a character boundary, marked when cut.
fn truncated(text: &str, limit: usize) -> String {
    match text.char_indices().nth(limit) {
        Some((at, _)) => format!("{}…", &text[..at]),
        None => text.to_owned(),
    }
}

/// The OCSF events of a period: every change of a finding or ticket in the day index from
/// `from` to `to`, oldest first.
pub async fn export(
    store: &dyn scantix_core::ports::store::Store,
    from: DateTime<Utc>,
    to: DateTime<Utc>,
) -> Result<Vec<Value>, crate::EvidenceError> {
    let entries = crate::read::changes_between(store, from, to).await?;
    events_of(store, &entries).await
}

/// The OCSF events of `entries` (those that are changes of a finding or ticket), in their order,
/// each with the records it names as the store holds them now.
pub async fn events_of(
    store: &dyn scantix_core::ports::store::Store,
    entries: &[AuditEntry],
) -> Result<Vec<Value>, crate::EvidenceError> {
    events_with(store, &mut crate::read::Records::default(), entries).await
}

/// The same, reading records through `records` (kept across calls: a stream batch's entries
/// about one group read the group once).
pub async fn events_with(
    store: &dyn scantix_core::ports::store::Store,
    records: &mut crate::read::Records,
    entries: &[AuditEntry],
) -> Result<Vec<Value>, crate::EvidenceError> {
    let mut out = Vec::new();
    for entry in entries.iter().filter(|e| !concerns(e).is_empty()) {
        let finding = match &entry.fingerprint {
            Some(fingerprint) => records.finding(store, fingerprint).await?.cloned(),
            None => None,
        };
        let group = records.group(store, &entry.group_key).await?.cloned();
        let content = records.content(store, &entry.group_key).await?.cloned();
        out.extend(events(Facts {
            entry,
            finding: finding.as_ref(),
            group: group.as_ref(),
            content: content.as_ref(),
        }));
    }
    Ok(out)
}
