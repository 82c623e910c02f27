//! The records scantix keeps between events: what the decision engine reads, and what the store
//! persists. Plain data, no behaviour beyond small queries. `legacy` reads records in the format
//! written before findings were records of their own; `budget` is the ticket budget's ledger.

pub mod budget;
pub mod legacy;

use crate::finding::{AlertKind, AlertState, Finding, Repository, Rule, Severity};
use crate::identity::{Fingerprint, GroupKey, GroupScope};
use crate::ticket::destination::TicketDestination;
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
///
/// A finding is its own record, not part of its group's: a group of 10,000 findings is 10,000
/// small records and one small group record, so an event reads and writes one of each whatever the
/// group's size. What the group needs of its members (how many are open, how severe, when due) it
/// keeps as counts (`Tally`), updated from the old and new record of the one finding that changed.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct FindingRecord {
    pub fingerprint: Fingerprint,
    pub group_key: GroupKey,
    /// The alert as last reported, without its rule's texts (description and help live once, in
    /// the group's `GroupContent`), and with a data flow cut to its source and sink.
    pub finding: Finding,
    pub triage: Triage,
    /// Severity as ticketed: the alert's, or the one a triage policy filed it at.
    #[serde(default)]
    pub severity: Severity,
    /// Why it is filed at that severity, when triage said (see `Verdict::priority_reason`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub priority_reason: Option<String>,
    /// The last day to fix it within its SLA (from its severity and when it was first seen).
    #[serde(default)]
    pub due: Option<chrono::NaiveDate>,
    /// Who should fix it, as the tracker knows them (from CODEOWNERS and the owners map).
    #[serde(default)]
    pub owner: Option<String>,
    pub first_seen: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
    /// When it first counted towards a ticket (metrics: time to ticket).
    #[serde(default)]
    pub ticketed_at: Option<DateTime<Utc>>,
    /// When it last closed (fixed or dismissed); cleared when it comes back.
    #[serde(default)]
    pub closed_at: Option<DateTime<Utc>>,
    /// How often it came back after closing (metrics: reopen rate).
    #[serde(default)]
    pub reopens: u32,
    /// A dismissal scantix owes GitHub for it (see `OutboxOp::DismissPending`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub pending_dismissal: Option<PendingDismissal>,
}

impl FindingRecord {
    /// Ticketed findings count towards the ticket; recorded-only ones are kept for the audit.
    pub fn is_ticketed(&self) -> bool {
        self.triage == Triage::Ticket
    }

    pub fn is_open(&self) -> bool {
        self.finding.state == AlertState::Open
    }

    pub fn number(&self) -> u64 {
        self.finding.number
    }

    /// "source → sink" when the scanner reported a flow.
    pub fn flow(&self) -> Option<String> {
        let flow = &self.finding.flow;
        match (flow.first(), flow.last()) {
            (Some(source), Some(sink)) if flow.len() > 1 => {
                Some(format!("{} → {}", source.location, sink.location))
            }
            _ => None,
        }
    }

    /// Whether `other` shows the same on a ticket and counts the same in its group: state,
    /// severity, place, links, flow, branch, commit, triage, due date and owner. (The alert's
    /// `updated_at`, say, changes with every delivery and matters to neither.)
    pub fn shows_the_same(&self, other: &FindingRecord) -> bool {
        let view = |r: &FindingRecord| {
            (
                r.finding.state,
                (r.severity, r.priority_reason.clone()),
                r.finding.place(),
                r.finding.html_url.clone(),
                r.finding.cwes.clone(),
                r.flow(),
                r.finding.git_ref.clone(),
                r.finding.commit_sha.clone(),
                (r.triage, r.due, r.owner.clone()),
                (r.finding.rule.id.clone(), r.finding.rule.name.clone()),
                r.advisories(),
            )
        };
        view(self) == view(other)
    }

    /// GHSA / CVE ids.
    pub fn advisories(&self) -> Vec<String> {
        self.finding
            .advisory
            .iter()
            .flat_map(|a| a.ghsa_id.iter().chain(a.cve_id.iter()).cloned())
            .collect()
    }

    /// The finding as it is stored: the rule's long texts dropped (the group keeps them once) and
    /// a data flow reduced to its source and sink (all a ticket shows), so that a record stays
    /// around a kilobyte whatever the scanner wrote.
    pub fn slim(mut finding: Finding) -> Finding {
        finding.rule.description = None;
        finding.rule.help = None;
        if finding.flow.len() > 2 {
            let sink = finding.flow.pop();
            finding.flow.truncate(1);
            finding.flow.extend(sink);
        }
        finding
    }

    /// Where this finding sorts among its group's: ticketed and open first, then ticketed and
    /// closed, then recorded-only; within each, most severe first, then newest first. Stored as a string (DynamoDB sorts an index by it) that orders as the tuple does.
    pub fn rank(&self) -> String {
        // 0: ticketed and open, 1: ticketed and closed, 2: recorded only.
        let closed = match (self.is_ticketed(), self.is_open()) {
            (true, true) => 0u8,
            (true, false) => 1,
            (false, _) => 2,
        };
        let severity = 9 - self.severity as u8;
        // Newest first: seconds until a far-future instant, zero-padded.
        let age = (FAR_FUTURE - self.first_seen.timestamp()).max(0);
        format!("{closed}#{severity}#{age:012}#{}", self.fingerprint)
    }
}

/// An instant past any first-seen time (year 2286), for newest-first ranks.
const FAR_FUTURE: i64 = 9_999_999_999;

/// The lifecycle of a ticket as scantix sees it.
#[derive(
    Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize, Default,
)]
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

impl TicketRef {
    /// The draft ticket of `group`: prepared by scantix and kept with the group, in no tracker.
    /// Its key derives from the group key, so preparing it twice makes the same draft.
    pub fn draft(group: &GroupKey) -> TicketRef {
        use sha2::{Digest, Sha256};
        let digest = Sha256::digest(group.as_str().as_bytes());
        TicketRef {
            tracker: DRAFT_TRACKER.into(),
            key: format!("DRAFT-{}", hex::encode(&digest[..4]).to_uppercase()),
            url: None,
        }
    }

    pub fn is_draft(&self) -> bool {
        self.tracker == DRAFT_TRACKER
    }
}

/// The `tracker` of draft tickets.
pub const DRAFT_TRACKER: &str = "draft";

impl fmt::Display for TicketRef {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.key)
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
    /// Queued by records written before findings were records of their own; new closures queue
    /// `DismissPending`.
    DismissAlert {
        number: u64,
        reason: crate::finding::DismissReason,
        comment: String,
    },
    /// Dismiss in GitHub every finding of the group that carries a `pending_dismissal` (a "won't
    /// fix" closure in the tracker): one op however many findings, done page by page.
    DismissPending,
    /// Set the ticket's assignee in the tracker (`None`: nobody): an alert assigned in GitHub.
    Assign {
        assignee: Option<String>,
    },
    /// Assign the group's open alerts in GitHub to `login` (`None`: to nobody): the ticket was
    /// assigned in the tracker. Done page by page, like `DismissPending`.
    AssignAlerts {
        login: Option<String>,
    },
    /// Send a copy of the group's new ticket to `tracker` (a `routes` entry with `also`):
    /// queued in the write that records the ticket, at most one per group and tracker, and made
    /// after the group's own calls so that a copy's tracker being down delays nobody's ticket.
    /// Retried like any queued call; the tracker is asked for the group's copy before it is
    /// created again, so a retry after a lost answer does not double it.
    Copy {
        tracker: crate::ticket::destination::TrackerKind,
    },
}

impl OutboxOp {
    /// Calls made to GitHub, not to the tracker: they survive the ticket's deletion.
    pub fn is_github_call(&self) -> bool {
        matches!(
            self,
            OutboxOp::DismissAlert { .. }
                | OutboxOp::DismissPending
                | OutboxOp::AssignAlerts { .. }
        )
    }
}

/// A dismissal decided by scantix (a ticket closed as "won't fix") and not yet sent to GitHub.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PendingDismissal {
    pub reason: crate::finding::DismissReason,
    pub comment: String,
}

/// Exclusive right to drive one group's tracker calls for a short time. Only the holder calls the
/// tracker, so a group's ticket is created once however many events race for it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Lease {
    pub token: String,
    pub until: DateTime<Utc>,
}

/// How a group's findings stand, as counts: everything a decision and a ticket need to know of
/// the members without reading them. Kept exact by `Tally::replace`, which takes out what the old
/// record of the one changed finding contributed and adds what its new record contributes.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default)]
pub struct Tally {
    /// Ticketed findings, by state.
    pub open: u32,
    pub fixed: u32,
    pub dismissed: u32,
    /// Findings kept for the record only (not ticketed), any state.
    pub recorded: u32,
    /// Open ticketed findings by severity.
    #[serde(skip_serializing_if = "BTreeMap::is_empty")]
    pub open_by_severity: BTreeMap<Severity, u32>,
    /// Ticketed findings by severity, any state (the severity of a ticket whose findings all
    /// closed).
    #[serde(skip_serializing_if = "BTreeMap::is_empty")]
    pub by_severity: BTreeMap<Severity, u32>,
    /// Open ticketed findings by due date: the first key is the group's due date. As many entries
    /// as distinct due days among open findings (a burst shares one).
    #[serde(skip_serializing_if = "BTreeMap::is_empty")]
    pub open_due: BTreeMap<chrono::NaiveDate, u32>,
}

impl Tally {
    /// Ticketed findings, any state.
    pub fn ticketed(&self) -> u32 {
        self.open + self.fixed + self.dismissed
    }

    /// Every finding of the group.
    pub fn total(&self) -> u32 {
        self.ticketed() + self.recorded
    }

    /// The highest severity among open ticketed findings (among all ticketed ones once every one
    /// is closed).
    pub fn severity(&self) -> Severity {
        let highest = |counts: &BTreeMap<Severity, u32>| {
            counts.iter().rev().find(|(_, n)| **n > 0).map(|(s, _)| *s)
        };
        highest(&self.open_by_severity)
            .or_else(|| highest(&self.by_severity))
            .unwrap_or_default()
    }

    /// The earliest due date of the open ticketed findings.
    pub fn due(&self) -> Option<chrono::NaiveDate> {
        self.open_due.iter().find(|(_, n)| **n > 0).map(|(d, _)| *d)
    }

    /// Takes out what `old` contributed (if it was stored) and adds what `new` contributes.
    pub fn replace(&mut self, old: Option<&FindingRecord>, new: &FindingRecord) {
        if let Some(old) = old {
            self.count(old, false);
        }
        self.count(new, true);
    }

    fn count(&mut self, record: &FindingRecord, add: bool) {
        fn step(n: &mut u32, add: bool) {
            *n = if add {
                n.saturating_add(1)
            } else {
                n.saturating_sub(1)
            };
        }
        fn step_key<K: Ord>(map: &mut BTreeMap<K, u32>, key: K, add: bool) {
            let n = map.entry(key).or_default();
            step(n, add);
            if *n == 0 {
                map.retain(|_, n| *n > 0);
            }
        }
        if !record.is_ticketed() {
            step(&mut self.recorded, add);
            return;
        }
        step_key(&mut self.by_severity, record.severity, add);
        match record.finding.state {
            AlertState::Open => {
                step(&mut self.open, add);
                step_key(&mut self.open_by_severity, record.severity, add);
                if let Some(due) = record.due {
                    step_key(&mut self.open_due, due, add);
                }
            }
            AlertState::Fixed => step(&mut self.fixed, add),
            AlertState::Dismissed => step(&mut self.dismissed, add),
        }
    }
}

/// A few distinct values seen among a group's ticketed findings (files, CWEs, advisories,
/// branches), for the ticket's title and facts: the first `FACET_LIMIT` kept, the rest counted.
/// Insert-only, like the ticket's list of findings, which never loses a member either.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default)]
pub struct Facet {
    #[serde(skip_serializing_if = "BTreeSet::is_empty")]
    pub values: BTreeSet<String>,
    /// Distinct values seen beyond `values` (an estimate: they are not kept, so one seen twice
    /// counts twice).
    #[serde(skip_serializing_if = "is_zero")]
    pub more: u32,
}

fn is_zero(n: &u32) -> bool {
    *n == 0
}

/// How many distinct values a facet keeps. Ten files or CWEs is what a title or a facts table can
/// show; beyond that "in 14 files" is all a reader needs.
pub const FACET_LIMIT: usize = 10;

impl Facet {
    pub fn insert(&mut self, value: &str) {
        if value.is_empty() || self.values.contains(value) {
            return;
        }
        if self.values.len() < FACET_LIMIT {
            self.values.insert(value.to_owned());
        } else {
            self.more = self.more.saturating_add(1);
        }
    }

    /// How many distinct values (at least).
    pub fn len(&self) -> usize {
        self.values.len() + self.more as usize
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// The value, when there is exactly one.
    pub fn single(&self) -> Option<&str> {
        match (self.values.len(), self.more) {
            (1, 0) => self.values.iter().next().map(String::as_str),
            _ => None,
        }
    }
}

/// The distinct values a ticket shows, gathered from its ticketed findings as they join.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default)]
pub struct Facets {
    /// Files (or manifests) the findings are in.
    #[serde(skip_serializing_if = "Facet::is_empty")]
    pub paths: Facet,
    #[serde(skip_serializing_if = "Facet::is_empty")]
    pub cwes: Facet,
    /// GHSA / CVE ids.
    #[serde(skip_serializing_if = "Facet::is_empty")]
    pub advisories: Facet,
    /// Rule ids (a group by package or file spans several).
    #[serde(skip_serializing_if = "Facet::is_empty")]
    pub rules: Facet,
    #[serde(skip_serializing_if = "Facet::is_empty")]
    pub refs: Facet,
    #[serde(skip_serializing_if = "Facet::is_empty")]
    pub commits: Facet,
    /// `owner/name` of each repository (an organisation-wide group spans several).
    #[serde(skip_serializing_if = "Facet::is_empty")]
    pub repositories: Facet,
}

impl Facets {
    /// Adds what `record` shows.
    pub fn add(&mut self, record: &FindingRecord) {
        let f = &record.finding;
        let path = match (&f.location, &f.package) {
            (Some(loc), _) => loc.path.as_str(),
            (None, Some(p)) => p.manifest_path.as_str(),
            (None, None) => "",
        };
        self.paths.insert(path);
        for cwe in &f.cwes {
            self.cwes.insert(cwe);
        }
        for advisory in record.advisories() {
            self.advisories.insert(&advisory);
        }
        self.rules.insert(&f.rule.id);
        if let Some(r) = &f.git_ref {
            self.refs.insert(r);
        }
        if let Some(c) = &f.commit_sha {
            self.commits.insert(c);
        }
        self.repositories.insert(&f.repository.full_name);
    }
}

/// A group's long texts, written once with the group and read only to render its ticket: kept
/// apart so that the group record an event rewrites stays small.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct GroupContent {
    pub key: GroupKey,
    /// Longer explanation, as the scanner wrote it (attacker-influenced: render inert).
    pub description: Option<String>,
    /// Remediation guidance, Markdown as the scanner wrote it.
    pub help: Option<String>,
    pub help_uri: Option<String>,
}

impl GroupContent {
    /// The texts of `finding`'s rule, for the group it founds.
    pub fn of(key: &GroupKey, finding: &Finding) -> GroupContent {
        GroupContent {
            key: key.clone(),
            description: finding.rule.description.clone(),
            help: finding.rule.help.clone(),
            help_uri: finding.rule.help_uri.clone(),
        }
    }
}

/// A unit of work and its ticket: small and bounded whatever the number of its findings (they are
/// records of their own; see `FindingRecord`).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct GroupRecord {
    pub key: GroupKey,
    pub kind: AlertKind,
    #[serde(default)]
    pub scope: GroupScope,
    /// The repository of its first finding (an organisation-wide group's first of several).
    pub repository: Repository,
    /// The rule (or advisory) the group is about, from its first finding: id and name (its long
    /// texts are in the group's `GroupContent`).
    pub rule: Rule,
    #[serde(default)]
    pub tally: Tally,
    #[serde(default)]
    pub facets: Facets,
    /// Who should do the work: the owner of its first ticketed finding that has one.
    #[serde(default)]
    pub assignee: Option<String>,
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
    /// When the ticket's content was last rendered for the tracker (a create or a refresh):
    /// refreshes closer together than the executor's `coalesce` wait for it, so a burst of
    /// joining findings makes a few ticket updates instead of one each.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ticket_written_at: Option<DateTime<Utc>>,
    /// The priority a person set (`scantix tickets priority`): the ticket is filed at it instead
    /// of its findings' highest severity, until someone sets another.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub priority: Option<Severity>,
    /// When a person discarded the group's draft: its findings stay recorded, without a ticket,
    /// until one of them changes.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub discarded_at: Option<DateTime<Utc>>,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
}

/// How many comments a group's outbox holds before it folds new ones into the last: a burst of
/// findings (a first scan, a backfill) must not queue a comment per finding.
pub const OUTBOX_COMMENTS: usize = 3;
/// How long a folded comment grows before further notes are only counted.
pub const FOLDED_COMMENT_LIMIT: usize = 4_000;

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
            scope: key.scope(),
            key,
            kind: finding.kind,
            repository: finding.repository.clone(),
            rule: Rule {
                description: None,
                help: None,
                help_uri: None,
                ..finding.rule.clone()
            },
            tally: Tally::default(),
            facets: Facets::default(),
            assignee: None,
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
            ticket_written_at: None,
            priority: None,
            discarded_at: None,
            created_at: now,
            updated_at: now,
        }
    }

    /// Ticketed findings still open.
    pub fn open_ticketed(&self) -> usize {
        self.tally.open as usize
    }

    /// The highest severity among open ticketed findings (all ticketed findings once all are
    /// closed), unless a person set the ticket's priority.
    pub fn severity(&self) -> Severity {
        self.priority.unwrap_or_else(|| self.tally.severity())
    }

    /// When the ticket is due: the earliest due date of its open ticketed findings.
    pub fn due(&self) -> Option<chrono::NaiveDate> {
        self.tally.due()
    }

    /// Counts `new` (replacing what `old`, its stored record, counted) and, when ticketed, shows
    /// it in the ticket's facets.
    pub fn absorb(&mut self, old: Option<&FindingRecord>, new: &FindingRecord) {
        self.tally.replace(old, new);
        if new.is_ticketed() {
            self.facets.add(new);
            if self.assignee.is_none() {
                self.assignee = new.owner.clone();
            }
        }
    }

    /// Whether a ticket exists, is on its way, or was deleted by a person (who then decides).
    pub fn has_or_awaits_ticket(&self) -> bool {
        self.ticket.is_some()
            || self.deleted_ticket.is_some()
            || self.outbox.iter().any(|p| p.op == OutboxOp::Create)
    }

    /// Whether the ticket is a draft: prepared by scantix, in no tracker yet.
    pub fn is_draft(&self) -> bool {
        self.ticket.as_ref().is_some_and(TicketRef::is_draft)
    }

    /// Queues a tracker call, folding it into what is queued where one call does for both.
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
        if matches!(op, OutboxOp::DismissPending | OutboxOp::Copy { .. })
            && self.outbox.iter().any(|p| p.op == op)
        {
            return;
        }
        // Only the last assignment counts: one queued is replaced, not followed.
        if matches!(op, OutboxOp::Assign { .. } | OutboxOp::AssignAlerts { .. }) {
            let same = std::mem::discriminant(&op);
            self.outbox
                .retain(|p| std::mem::discriminant(&p.op) != same);
        }
        // Comments beyond a few fold into the last queued one: one tracker call, however many
        // findings a burst brought.
        if let OutboxOp::Comment { text } = &op {
            let queued = self
                .outbox
                .iter()
                .filter(|p| matches!(p.op, OutboxOp::Comment { .. }))
                .count();
            if queued >= OUTBOX_COMMENTS
                && let Some(PendingOp {
                    op: OutboxOp::Comment { text: last },
                    ..
                }) = self
                    .outbox
                    .iter_mut()
                    .rev()
                    .find(|p| matches!(p.op, OutboxOp::Comment { .. }))
            {
                fold_comment(last, text);
                return;
            }
        }
        let id = self.next_op_id;
        self.next_op_id += 1;
        self.outbox.push(PendingOp { id, op });
    }
}

/// Appends `note` to a queued comment, or counts it once the comment is long enough.
fn fold_comment(queued: &mut String, note: &str) {
    const MORE: &str = "\n\n(and more changes, see the ticket's findings)";
    if queued.ends_with(MORE) {
        return;
    }
    if queued.len() + note.len() + 2 > FOLDED_COMMENT_LIMIT {
        queued.push_str(MORE);
    } else {
        queued.push_str("\n\n");
        queued.push_str(note);
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

/// The audit action of a ticket created (by a tracker, or as a draft): the "ticketed" step of a
/// chain of custody.
pub const TICKET_CREATED: &str = "ticket.created";

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
    /// The finding's alert state once this change was applied, on entries about one finding's
    /// alert event: what an export says the finding's status was at that moment (a fix reads as
    /// `ticket.updated` otherwise). `None` on older entries and on entries about a ticket.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub state: Option<AlertState>,
}

// ---------------------------------------------------------------------------------------------
// Pull requests: the one summary comment scantix keeps on each (see `crate::decide::pull_request`)
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
    /// The scanner of a SARIF finding (which has no alert page on GitHub to link to); `None` for
    /// GitHub's own alerts.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub tool: Option<String>,
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
            tool: (finding.kind == AlertKind::Sarif)
                .then(|| finding.tool.clone())
                .flatten(),
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
    /// Those `more_introduced`, by source: a SARIF finding's tool, or
    /// `decide::pull_request::CODE_SCANNING` for GitHub's own alerts.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub unlisted_by_source: BTreeMap<String, u32>,
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

/// A SARIF analysis (tool, category) applied to a pull request's ref.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PullRequestAnalysis {
    /// `tool.driver.name` as the scanner wrote it.
    pub tool: String,
    pub category: String,
    /// The pull request's ref analysed (`refs/pull/N/merge` or `/head`).
    pub git_ref: String,
    /// Every run of its last application reported its results: a finding open on the base
    /// branch and absent from it is fixed by the pull request. Otherwise its silence proves
    /// nothing.
    pub complete: bool,
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
    /// The SARIF analyses applied to the pull request's ref (one per tool and category), whose
    /// open lists the summary reads: nobody else (GitHub least) knows these findings.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub sarif_analyses: Vec<PullRequestAnalysis>,
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
            sarif_analyses: Vec::new(),
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
