//! Records as scantix wrote them before findings were records of their own: a group held every
//! finding inline (`members`), which capped a group at the 400 KB DynamoDB item limit (about 965
//! findings). `upgrade` turns such a group, with its findings' records, into today's records, so
//! a table written by the old code keeps working: the store converts a group the first time it
//! reads it (or `scantix migrate` converts them all).

use crate::finding::{AlertKind, AlertState, Location, Repository, Rule, Severity};
use crate::identity::{Fingerprint, GroupKey};
use crate::records::{
    FindingRecord, GroupContent, GroupRecord, GroupScope, Lease, PendingOp, TicketRef, TicketState,
    Triage,
};
use crate::ticket::destination::TicketDestination;
use chrono::{DateTime, Utc};
use serde::Deserialize;
use std::collections::BTreeMap;

/// What a group record said of each finding.
#[derive(Debug, Clone, Deserialize)]
pub struct LegacyMember {
    pub number: u64,
    pub state: AlertState,
    pub severity: Severity,
    pub rule_id: String,
    pub rule_name: String,
    pub place: String,
    pub html_url: Option<String>,
    #[serde(default)]
    pub git_ref: Option<String>,
    #[serde(default)]
    pub commit_sha: Option<String>,
    pub ticketed: bool,
    #[serde(default)]
    pub due: Option<chrono::NaiveDate>,
    #[serde(default)]
    pub owner: Option<String>,
}

/// A group record with its members inline.
#[derive(Debug, Clone, Deserialize)]
pub struct LegacyGroup {
    pub key: GroupKey,
    pub kind: AlertKind,
    pub repository: Repository,
    pub rule: Rule,
    pub members: BTreeMap<Fingerprint, LegacyMember>,
    pub ticket: Option<TicketRef>,
    pub ticket_state: TicketState,
    #[serde(default)]
    pub installation_id: Option<u64>,
    #[serde(default)]
    pub overdue_flagged: bool,
    #[serde(default)]
    pub deleted_ticket: Option<TicketRef>,
    #[serde(default)]
    pub destination: TicketDestination,
    pub outbox: Vec<PendingOp>,
    pub next_op_id: u64,
    pub lease: Option<Lease>,
    #[serde(default)]
    pub create_attempt: Option<crate::records::CreateAttempt>,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
}

/// Whether a stored group document is in the old format (it has `members`).
pub fn is_legacy_group(doc: &serde_json::Value) -> bool {
    doc.get("members").is_some()
}

/// A legacy group in today's records.
#[derive(Debug, Clone, PartialEq)]
pub struct Upgraded {
    pub group: GroupRecord,
    pub content: GroupContent,
    /// Every member as a finding record (the stored record completed with what the group knew).
    pub findings: Vec<FindingRecord>,
}

/// Converts `legacy` and the stored records of its members (`stored`, by fingerprint; members
/// whose record is missing are rebuilt from what the group kept). Pure and deterministic, so two
/// processes upgrading the same group at once write the same records.
pub fn upgrade(legacy: &LegacyGroup, stored: &BTreeMap<Fingerprint, FindingRecord>) -> Upgraded {
    let mut group = GroupRecord {
        key: legacy.key.clone(),
        kind: legacy.kind,
        scope: GroupScope::Repository,
        repository: legacy.repository.clone(),
        rule: Rule {
            description: None,
            help: None,
            help_uri: None,
            ..legacy.rule.clone()
        },
        tally: Default::default(),
        facets: Default::default(),
        assignee: None,
        ticket: legacy.ticket.clone(),
        ticket_state: legacy.ticket_state,
        installation_id: legacy.installation_id,
        overdue_flagged: legacy.overdue_flagged,
        deleted_ticket: legacy.deleted_ticket.clone(),
        destination: legacy.destination.clone(),
        outbox: legacy.outbox.clone(),
        next_op_id: legacy.next_op_id,
        lease: legacy.lease.clone(),
        create_attempt: legacy.create_attempt.clone(),
        ticket_written_at: None,
        priority: None,
        discarded_at: None,
        created_at: legacy.created_at,
        updated_at: legacy.updated_at,
    };
    let content = GroupContent {
        key: legacy.key.clone(),
        description: legacy.rule.description.clone(),
        help: legacy.rule.help.clone(),
        help_uri: legacy.rule.help_uri.clone(),
    };
    let mut findings = Vec::with_capacity(legacy.members.len());
    for (fingerprint, member) in &legacy.members {
        let mut record = match stored.get(fingerprint) {
            Some(record) => record.clone(),
            None => rebuilt(legacy, fingerprint, member),
        };
        record.finding = FindingRecord::slim(record.finding);
        record.group_key = legacy.key.clone();
        record.finding.state = member.state;
        record.triage = if member.ticketed {
            Triage::Ticket
        } else {
            Triage::Record
        };
        record.severity = member.severity;
        record.due = member.due;
        record.owner = member.owner.clone();
        if member.ticketed && record.ticketed_at.is_none() {
            record.ticketed_at = Some(record.first_seen);
        }
        if member.state != AlertState::Open && record.closed_at.is_none() {
            record.closed_at = Some(record.updated_at);
        }
        group.absorb(None, &record);
        findings.push(record);
    }
    Upgraded {
        group,
        content,
        findings,
    }
}

/// A finding record for a member whose own record is missing, from what the group kept.
fn rebuilt(
    legacy: &LegacyGroup,
    fingerprint: &Fingerprint,
    member: &LegacyMember,
) -> FindingRecord {
    let location = (!member.place.is_empty()).then(|| match member.place.rsplit_once(':') {
        Some((path, line)) if line.parse::<u64>().is_ok() => Location {
            path: path.to_owned(),
            start_line: line.parse().ok(),
            end_line: None,
        },
        _ => Location {
            path: member.place.clone(),
            start_line: None,
            end_line: None,
        },
    });
    FindingRecord {
        priority_reason: None,
        fingerprint: fingerprint.clone(),
        group_key: legacy.key.clone(),
        finding: crate::finding::Finding {
            assignees: None,
            secret: None,
            kind: legacy.kind,
            repository: legacy.repository.clone(),
            number: member.number,
            rule: Rule {
                id: member.rule_id.clone(),
                name: member.rule_name.clone(),
                ..Rule::default()
            },
            severity: member.severity,
            cwes: vec![],
            tool: None,
            location,
            flow: vec![],
            package: None,
            advisory: None,
            git_ref: member.git_ref.clone(),
            commit_sha: member.commit_sha.clone(),
            state: member.state,
            dismissal: None,
            html_url: member.html_url.clone(),
            created_at: None,
            updated_at: None,
        },
        triage: Triage::Record,
        severity: member.severity,
        due: member.due,
        owner: member.owner.clone(),
        first_seen: legacy.created_at,
        updated_at: legacy.updated_at,
        ticketed_at: None,
        closed_at: None,
        reopens: 0,
        pending_dismissal: None,
    }
}
