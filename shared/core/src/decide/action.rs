//! What a decision decided: `Action` (one line a person, and the CLI's JSON lines, can read per
//! thing decided) and `Decision` (the records an alert or tracker event changes). Every `decide*`
//! answers in these terms, so they sit apart from each.

use crate::finding::{AlertState, DismissReason};
use crate::identity::{Fingerprint, GroupKey};
use crate::records::{AuditEntry, FindingRecord, GroupContent, GroupRecord, TicketState};
use serde::Serialize;

/// What was decided, in words a person (and the CLI's JSON lines) can read.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case", tag = "action")]
pub enum Action {
    /// Nothing to do; `reason` says why (already known, out of order, ignored by triage).
    Nothing {
        fingerprint: Fingerprint,
        reason: String,
    },
    /// Kept and audited, not ticketed.
    Record {
        fingerprint: Fingerprint,
        group: GroupKey,
        state: AlertState,
        reason: String,
    },
    /// The group's first actionable finding: its ticket is to be created.
    CreateTicket {
        fingerprint: Fingerprint,
        group: GroupKey,
    },
    /// The group's first actionable finding, in draft mode (the policy's `draft` verdict, or the
    /// settings' `mode: draft`): its ticket is prepared as a draft, for a person to push.
    DraftTicket {
        fingerprint: Fingerprint,
        group: GroupKey,
    },
    /// The group is over its ticket budget: listed in the overflow ticket of `overflow` (a group
    /// key) instead of a ticket of its own (see `decide::budget`).
    TicketOverflowed { group: GroupKey, overflow: GroupKey },
    /// A finding joins (or changes on) a group that has its ticket.
    UpdateTicket {
        fingerprint: Fingerprint,
        group: GroupKey,
        state: AlertState,
    },
    /// A finding came back to a group whose ticket was resolved or stale.
    ReopenTicket {
        fingerprint: Fingerprint,
        group: GroupKey,
    },
    /// Every finding of the group is gone.
    MarkTicketStale {
        fingerprint: Fingerprint,
        group: GroupKey,
    },
    CloseTicket {
        fingerprint: Fingerprint,
        group: GroupKey,
    },
    /// A comment on the ticket (a dismissal, a reappearance, a leak).
    Comment {
        fingerprint: Fingerprint,
        group: GroupKey,
        text: String,
    },
    /// A tracker event that changes nothing (an echo, a redelivery, an untracked ticket).
    Ignored { reason: String },
    /// A person moved the ticket in the tracker; scantix recorded the new state.
    TicketMoved {
        group: GroupKey,
        ticket: String,
        from: TicketState,
        to: TicketState,
    },
    /// The ticket was closed but GitHub still reports these alerts open: reopened with the list.
    ClosureRejected {
        group: GroupKey,
        ticket: String,
        still_open: Vec<u64>,
    },
    /// Closed as "won't fix" (or alike): these alerts are dismissed in GitHub.
    DismissAlerts {
        group: GroupKey,
        ticket: String,
        numbers: Vec<u64>,
        reason: DismissReason,
    },
    TicketDeleted {
        group: GroupKey,
        ticket: String,
        recreate: bool,
    },
    /// Recorded in the audit log only (a comment, an assignment).
    TicketAudited {
        group: GroupKey,
        ticket: String,
        what: String,
    },
    // ----- Pull requests (see `decide_pull_request`) -----
    /// A pull request's summary comment was posted or edited (or, locally, rendered).
    PullRequestSummary {
        repository: String,
        pull_request: u64,
        comment: SummaryWrite,
        comment_id: Option<u64>,
        body: String,
    },
    /// A merged pull request fixes alerts of this group: its ticket gets a comment naming it.
    PullRequestFixes {
        pull_request: u64,
        group: GroupKey,
        ticket: Option<String>,
        text: String,
    },
    /// A pull request event that leaves the comment as it is.
    PullRequestNoted { pull_request: u64, reason: String },
}

/// The outcome of `decide`: records to write (`None`: unchanged) and what was decided.
#[derive(Debug, Clone, PartialEq)]
pub struct Decision {
    pub group_key: GroupKey,
    pub finding: Option<FindingRecord>,
    /// Other findings of the group the decision changes (a ticket closed in the tracker changes
    /// all its open ones); each already counted in `group`.
    pub findings: Vec<FindingRecord>,
    pub group: Option<GroupRecord>,
    /// The long texts of a group this decision founds (written once, with it).
    pub content: Option<GroupContent>,
    pub audit: Vec<AuditEntry>,
    pub actions: Vec<Action>,
}

/// How the summary reached the pull request.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum SummaryWrite {
    Created,
    Edited,
    /// Without a GitHub connection (the local mode): rendered and stored, not posted.
    Rendered,
}
