//! The records scantix keeps between events: what the decision engine reads, and what the store
//! persists. Plain data, no behaviour beyond small queries.

use crate::finding::{AlertKind, AlertState, Finding, Repository, Rule, Severity};
use crate::identity::{Fingerprint, GroupKey};
use crate::ticket::TicketDestination;
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use std::collections::{BTreeMap, BTreeSet};
use std::fmt;

/// A record together with the version it was read at, for optimistic concurrency: a write names
/// the version it expects and fails if anybody wrote in between.
#[derive(Debug, Clone, PartialEq)]
pub struct Versioned<T> {
    pub value: T,
    pub version: u64,
}

/// What triage decided for a finding.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, Default)]
#[serde(rename_all = "snake_case")]
pub enum Triage {
    /// Worth a ticket.
    #[default]
    Ticket,
    /// Kept and audited, never ticketed (a PR-only alert, a test path, a low severity).
    Record,
    /// Not even recorded.
    Ignore,
}

/// One alert as last seen, and the group it was put in when first seen. The group never changes
/// afterwards, even if the grouping configuration does: that is what keeps a finding on one ticket.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct FindingRecord {
    pub fingerprint: Fingerprint,
    pub group_key: GroupKey,
    pub finding: Finding,
    pub triage: Triage,
    pub first_seen: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
}

/// The lifecycle of a ticket as scantix sees it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize, Default)]
#[serde(rename_all = "snake_case")]
pub enum TicketState {
    /// Kept by the draft tracker only, not yet in a real tracker.
    #[default]
    Draft,
    Open,
    InProgress,
    Resolved,
    /// Every finding is gone but nobody closed the ticket yet: it needs a look, not work.
    Stale,
    Reopened,
}

impl TicketState {
    /// States in which the ticket asks for no more work.
    pub fn is_closed(self) -> bool {
        matches!(self, TicketState::Resolved | TicketState::Stale)
    }

    pub fn as_str(self) -> &'static str {
        match self {
            TicketState::Draft => "draft",
            TicketState::Open => "open",
            TicketState::InProgress => "in_progress",
            TicketState::Resolved => "resolved",
            TicketState::Stale => "stale",
            TicketState::Reopened => "reopened",
        }
    }
}

impl fmt::Display for TicketState {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// A ticket in some tracker.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct TicketRef {
    /// Which tracker holds it (`draft`, `jira`, `github`).
    pub tracker: String,
    /// The tracker's key for it (`DRAFT-3f2a9c`, `SEC-42`, `owner/repo#7`).
    pub key: String,
    pub url: Option<String>,
}

impl fmt::Display for TicketRef {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.key)
    }
}

/// What a group remembers of each of its findings: enough to render the ticket without reading
/// every finding record (a group item stays well under DynamoDB's 400 KB for hundreds of members).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Member {
    pub number: u64,
    pub state: AlertState,
    pub severity: Severity,
    pub rule_id: String,
    pub rule_name: String,
    pub place: String,
    pub html_url: Option<String>,
    pub cwes: Vec<String>,
    /// GHSA / CVE ids.
    pub advisories: Vec<String>,
    /// "source → sink" when the scanner reported a flow.
    pub flow: Option<String>,
    pub git_ref: Option<String>,
    pub commit_sha: Option<String>,
    /// Ticketed members count towards the ticket; recorded-only ones are kept for the audit.
    pub ticketed: bool,
    /// The last day to fix it within its SLA (from its severity and when it was first seen).
    #[serde(default)]
    pub due: Option<chrono::NaiveDate>,
    /// Who should fix it, as the tracker knows them (from CODEOWNERS and the owners map).
    #[serde(default)]
    pub owner: Option<String>,
}

impl Member {
    pub fn of(finding: &Finding, ticketed: bool) -> Member {
        let flow = match (finding.flow.first(), finding.flow.last()) {
            (Some(source), Some(sink)) if finding.flow.len() > 1 => {
                Some(format!("{} → {}", source.location, sink.location))
            }
            _ => None,
        };
        let advisories = finding
            .advisory
            .iter()
            .flat_map(|a| a.ghsa_id.iter().chain(a.cve_id.iter()).cloned())
            .collect();
        Member {
            number: finding.number,
            state: finding.state,
            severity: finding.severity,
            rule_id: finding.rule.id.clone(),
            rule_name: finding.rule.name.clone(),
            place: finding.place(),
            html_url: finding.html_url.clone(),
            cwes: finding.cwes.clone(),
            advisories,
            flow,
            git_ref: finding.git_ref.clone(),
            commit_sha: finding.commit_sha.clone(),
            ticketed,
            due: None,
            owner: None,
        }
    }

    pub fn is_open(&self) -> bool {
        self.state == AlertState::Open
    }
}

/// A call the group still owes to its tracker or to GitHub: the outbox that makes tracker side effects durable.
/// Ops are appended in the same write that changes the group, and removed one by one once done.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PendingOp {
    /// Unique within the group; trackers use it to make a repeated comment a no-op.
    pub id: u64,
    pub op: OutboxOp,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case", tag = "type")]
pub enum OutboxOp {
    /// Create the group's ticket (rendered from the group as it is when the call is made).
    Create,
    /// Re-render the ticket's title and body from the group.
    Refresh,
    Comment {
        text: String,
    },
    Transition {
        to: TicketState,
    },
    /// Close the ticket as "not planned": every alert on it was dismissed, none fixed. Trackers
    /// that record why a ticket closed (GitHub Issues' `state_reason`) say so; the others close
    /// it as `Transition { to: Resolved }` does.
    CloseNotPlanned,
    /// Dismiss alert `number` of the group in GitHub (a "won't fix" closure in the tracker).
    DismissAlert {
        number: u64,
        reason: crate::github::api::DismissReason,
        comment: String,
    },
}

/// Exclusive right to drive one group's tracker calls for a short time. Only the holder calls the
/// tracker, so a group's ticket is created once however many events race for it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Lease {
    pub token: String,
    pub until: DateTime<Utc>,
}

/// A unit of work and its ticket.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct GroupRecord {
    pub key: GroupKey,
    pub kind: AlertKind,
    pub repository: Repository,
    /// The rule (or advisory) the group is about, from its first finding: title and guidance.
    pub rule: Rule,
    pub members: BTreeMap<Fingerprint, Member>,
    pub ticket: Option<TicketRef>,
    pub ticket_state: TicketState,
    /// The GitHub App installation covering the repository, from the events that built the group:
    /// whose token verifies and dismisses its alerts.
    #[serde(default)]
    pub installation_id: Option<u64>,
    /// Whether the ticket was flagged overdue (a label and one comment, once).
    #[serde(default)]
    pub overdue_flagged: bool,
    /// The ticket a person deleted in the tracker: kept so that the group does not silently get a
    /// new one (unless configured to), and for the audit.
    #[serde(default)]
    pub deleted_ticket: Option<TicketRef>,
    /// Where the repository's settings file the ticket within the tracker, fixed when the ticket
    /// is requested: stable for the group's life, and durable with the `Create` it goes with.
    #[serde(
        default,
        skip_serializing_if = "TicketDestination::is_deployment_default"
    )]
    pub destination: TicketDestination,
    pub outbox: Vec<PendingOp>,
    pub next_op_id: u64,
    pub lease: Option<Lease>,
    /// A create sent to the tracker whose ticket is not recorded yet (see [`CreateAttempt`]).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub create_attempt: Option<CreateAttempt>,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
}

/// What the store knows of a create sent to the tracker before the ticket is recorded on the
/// group: written (under the group's lease) before the request goes out, and again the moment the
/// answer arrives. A retry after a crash, a lost answer or a failed write then knows that a ticket
/// may exist, or which one does, even where the tracker's search does not show it yet (Jira Cloud's
/// search lags its writes).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct CreateAttempt {
    /// When the create was (last) sent.
    pub sent_at: DateTime<Utc>,
    /// The tracker's answer, once it arrived.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub answered: Option<CreatedTicket>,
}

/// A ticket as the tracker's create answered it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct CreatedTicket {
    pub ticket: TicketRef,
    /// The state it starts in.
    pub state: TicketState,
    /// The tracker's own id of it, where reading it back consistently needs one (Jira's numeric
    /// issue id, for `reconcileIssues`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub receipt: Option<String>,
}

impl GroupRecord {
    pub fn new(key: GroupKey, finding: &Finding, now: DateTime<Utc>) -> GroupRecord {
        GroupRecord {
            key,
            kind: finding.kind,
            repository: finding.repository.clone(),
            rule: finding.rule.clone(),
            members: BTreeMap::new(),
            ticket: None,
            ticket_state: TicketState::Draft,
            installation_id: None,
            overdue_flagged: false,
            deleted_ticket: None,
            destination: TicketDestination::default(),
            outbox: Vec::new(),
            next_op_id: 1,
            lease: None,
            create_attempt: None,
            created_at: now,
            updated_at: now,
        }
    }

    /// Members that count towards the ticket.
    pub fn ticketed(&self) -> impl Iterator<Item = (&Fingerprint, &Member)> {
        self.members.iter().filter(|(_, m)| m.ticketed)
    }

    pub fn open_ticketed(&self) -> usize {
        self.ticketed().filter(|(_, m)| m.is_open()).count()
    }

    /// The highest severity among open ticketed members (all ticketed members once all are closed).
    pub fn severity(&self) -> Severity {
        let open = self
            .ticketed()
            .filter(|(_, m)| m.is_open())
            .map(|(_, m)| m.severity)
            .max();
        open.or_else(|| self.ticketed().map(|(_, m)| m.severity).max())
            .unwrap_or_default()
    }

    /// When the ticket is due: the earliest due date of its open ticketed members.
    pub fn due(&self) -> Option<chrono::NaiveDate> {
        crate::sla::group_due(
            self.ticketed()
                .filter(|(_, m)| m.is_open())
                .map(|(_, m)| m.due),
        )
    }

    /// Whether a ticket exists, is on its way, or was deleted by a person (who then decides).
    pub fn has_or_awaits_ticket(&self) -> bool {
        self.ticket.is_some()
            || self.deleted_ticket.is_some()
            || self.outbox.iter().any(|p| p.op == OutboxOp::Create)
    }

    /// Queues a tracker call.
    pub fn push_op(&mut self, op: OutboxOp) {
        // A refresh renders the whole group when it runs, and so does a create: with either
        // already pending, another refresh would only repeat it.
        if op == OutboxOp::Refresh
            && self
                .outbox
                .iter()
                .any(|p| matches!(p.op, OutboxOp::Refresh | OutboxOp::Create))
        {
            return;
        }
        let id = self.next_op_id;
        self.next_op_id += 1;
        self.outbox.push(PendingOp { id, op });
    }
}

/// How far scantix has read one repository's alerts of one kind from GitHub's REST API.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, Default)]
pub struct SyncProgress {
    /// Where an unfinished listing stops (GitHub's next-page link): a backfill or sweep that was
    /// interrupted resumes here instead of starting over.
    pub cursor: Option<String>,
    /// When the listing currently being read started (becomes `complete_since` when it finishes).
    pub started_at: Option<DateTime<Utc>>,
    /// Every alert updated before this instant has been applied; the next sweep asks only for
    /// alerts updated since. `None`: never fully read (a backfill is due).
    pub complete_since: Option<DateTime<Utc>>,
}

/// A repository an installation covers.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct CoveredRepository {
    pub id: u64,
    pub full_name: String,
    /// False once removed from the installation: its alerts are no longer acted on, its history
    /// stays.
    pub active: bool,
    #[serde(default)]
    pub sync: BTreeMap<AlertKind, SyncProgress>,
}

/// One installation of the GitHub App: which repositories it covers and how far each is synced.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct InstallationRecord {
    pub id: u64,
    /// The organisation or user it is installed on.
    pub account: String,
    /// False once uninstalled (or suspended): no more work, the audit log stays.
    pub active: bool,
    pub repositories: BTreeMap<u64, CoveredRepository>,
    pub updated_at: DateTime<Utc>,
}

impl InstallationRecord {
    /// Whether alerts of repository `repo_id` are to be acted on.
    pub fn covers(&self, repo_id: u64) -> bool {
        self.active && self.repositories.get(&repo_id).is_some_and(|r| r.active)
    }

    /// The repositories whose alerts are to be acted on (none once uninstalled).
    pub fn covered(&self) -> impl Iterator<Item = &CoveredRepository> {
        self.repositories
            .values()
            .filter(|r| self.active && r.active)
    }
}

impl CoveredRepository {
    /// The repository, as far as the record knows it: its default branch and page are not
    /// recorded (the sync reads alerts without them).
    pub fn repository(&self) -> Repository {
        Repository {
            id: self.id,
            full_name: self.full_name.clone(),
            default_branch: None,
            html_url: None,
        }
    }
}

/// A webhook delivery already accepted: the dedup record, kept for a while then expired by TTL.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct DeliveryRecord {
    /// `github:<X-GitHub-Delivery>` or `jira:<X-Atlassian-Webhook-Identifier>`; also
    /// `github-pr-merge:<repository id>#<number>:<group key>`, the note a merged pull request
    /// queues on a ticket it fixes (once).
    pub id: String,
    pub group_key: Option<GroupKey>,
    pub received_at: DateTime<Utc>,
    pub expires_at: DateTime<Utc>,
}

/// One line of the append-only audit log: who did what, when, why, prompted by which delivery.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct AuditEntry {
    pub at: DateTime<Utc>,
    pub group_key: GroupKey,
    pub fingerprint: Option<Fingerprint>,
    /// A GitHub login, `scantix`, or a tracker user.
    pub actor: String,
    /// What happened, as a stable verb: `finding.opened`, `ticket.created`, `ticket.reopened`, …
    pub action: String,
    pub reason: String,
    pub delivery: Option<String>,
    pub ticket: Option<String>,
}

// ---------------------------------------------------------------------------------------------
// Pull requests: the one summary comment scantix keeps on each (see `engine::decide_pull_request`)
// ---------------------------------------------------------------------------------------------

/// Where a pull request stands.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, Default)]
#[serde(rename_all = "snake_case")]
pub enum PullRequestState {
    #[default]
    Open,
    /// Closed without merging.
    Closed,
    Merged,
}

/// One code scanning alert as a pull request summary lists it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SummaryAlert {
    pub number: u64,
    pub severity: Severity,
    pub rule_id: String,
    pub rule_name: String,
    /// `path:line`.
    pub place: String,
    pub html_url: Option<String>,
}

impl SummaryAlert {
    pub fn of(finding: &Finding) -> SummaryAlert {
        SummaryAlert {
            number: finding.number,
            severity: finding.severity,
            rule_id: finding.rule.id.clone(),
            rule_name: finding.rule.name.clone(),
            place: finding.place(),
            html_url: finding.html_url.clone(),
        }
    }
}

/// An existing ticket a pull request would resolve: alerts of its group that are open on the base
/// branch and gone on the pull request.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct FixedTicket {
    pub group_key: GroupKey,
    /// `None` while the ticket is still being created.
    pub ticket: Option<TicketRef>,
    pub alerts: Vec<SummaryAlert>,
    /// Alerts fixed beyond those listed in `alerts` (kept short so the record stays small).
    #[serde(default)]
    pub more_alerts: u32,
}

/// What the last look at a pull request's code scanning alerts found.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, Default)]
pub struct PullRequestSummary {
    /// Whether GitHub listed any code scanning result for the pull request. Without one nothing
    /// can be said about what it fixes: its analysis may not have run yet.
    pub analyzed: bool,
    /// Alerts open on the pull request and not on the base branch (the first ones).
    pub introduced: Vec<SummaryAlert>,
    /// Introduced alerts beyond those in `introduced`.
    #[serde(default)]
    pub more_introduced: u32,
    /// Tickets whose alerts the pull request removes.
    pub fixes: Vec<FixedTicket>,
    /// Alerts open on the base branch that stay open with the pull request.
    pub still_open: u32,
}

impl PullRequestSummary {
    /// Whether there is anything worth a new comment.
    pub fn has_news(&self) -> bool {
        !self.introduced.is_empty() || !self.fixes.is_empty()
    }
}

/// A pull request scantix comments on: its summary comment, and what that comment last said.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct PullRequestRecord {
    pub repository: Repository,
    pub number: u64,
    /// As its author wrote it (empty until a `pull_request` delivery tells it).
    pub title: String,
    pub html_url: Option<String>,
    pub head_sha: Option<String>,
    /// The branch it merges into when not the default branch: "would resolve" compares with it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub base_ref: Option<String>,
    pub state: PullRequestState,
    pub installation_id: Option<u64>,
    /// The summary comment's id on GitHub, once posted.
    pub comment_id: Option<u64>,
    /// The summary as last posted (without a GitHub connection: as last rendered). An unchanged
    /// summary is not sent again.
    pub comment_body: Option<String>,
    pub summary: PullRequestSummary,
    /// The local mode's memory (no GitHub to list the pull request's ref): alerts known off the
    /// pull request that its deliveries showed fixed on its ref. Deployed, GitHub's listing of
    /// the ref says this, and the set stays empty.
    #[serde(default, skip_serializing_if = "BTreeSet::is_empty")]
    pub fixed_on_ref: BTreeSet<Fingerprint>,
    /// Only the holder posts or edits the comment, so racing deliveries make one comment.
    pub lease: Option<Lease>,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
}

impl PullRequestRecord {
    pub fn new(repository: Repository, number: u64, now: DateTime<Utc>) -> PullRequestRecord {
        PullRequestRecord {
            repository,
            number,
            title: String::new(),
            html_url: None,
            head_sha: None,
            base_ref: None,
            state: PullRequestState::Open,
            installation_id: None,
            comment_id: None,
            comment_body: None,
            summary: PullRequestSummary::default(),
            fixed_on_ref: BTreeSet::new(),
            lease: None,
            created_at: now,
            updated_at: now,
        }
    }

    /// The key its audit entries are kept under: `<repository id>/pull/<number>`.
    pub fn audit_key(&self) -> GroupKey {
        GroupKey::from_stored(format!("{}/pull/{}", self.repository.id, self.number))
    }
}

#[cfg(test)]
mod destination_tests {
    use super::*;
    use crate::testing::code_alert;

    #[test]
    fn a_groups_destination_is_stored_only_when_chosen_and_older_records_still_read() {
        let finding = code_alert(1, "js/xss", "a.js");
        let key = GroupKey::for_finding(&finding, crate::identity::GroupingMode::Rule);
        let mut group = GroupRecord::new(key, &finding, chrono::Utc::now());
        let plain = serde_json::to_value(&group).unwrap();
        assert!(
            plain.get("destination").is_none(),
            "records without a choice look as before: {plain}"
        );
        let read: GroupRecord = serde_json::from_value(plain).unwrap();
        assert!(read.destination.is_deployment_default());

        group.destination = TicketDestination {
            project: Some("APPSEC".into()),
            ..TicketDestination::default()
        };
        let stored = serde_json::to_value(&group).unwrap();
        assert_eq!(
            stored["destination"],
            serde_json::json!({ "project": "APPSEC" })
        );
        let read: GroupRecord = serde_json::from_value(stored).unwrap();
        assert_eq!(read, group);
    }
}
