//! Settings the decision engine and executor follow. Built-in defaults are what a security team
//! would choose on day one; every field can be overridden.

use crate::finding::AlertKind;
use crate::finding::DismissReason;
use crate::identity::GroupScope;
use crate::identity::GroupingMode;
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;

/// What happens to a ticket once every finding on it is fixed.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, Default)]
#[serde(rename_all = "kebab-case")]
pub enum WhenAllFixed {
    /// Mark it stale: a person confirms and closes it (the default: scanners can be wrong).
    #[default]
    MarkStale,
    /// Close (resolve) it.
    Close,
}

/// How findings of each alert kind are grouped.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case", deny_unknown_fields, default)]
pub struct Grouping {
    pub code_scanning: GroupingMode,
    pub dependabot: GroupingMode,
    pub secret_scanning: GroupingMode,
    /// Results of SARIF files (any scanner's): by rule by default, like code scanning.
    pub sarif: GroupingMode,
    /// Whether each kind's groups are per repository (the default) or span the organisation
    /// (one ticket for one advisory wherever it is): set it in the organisation's file, so every
    /// repository agrees.
    pub scope: Scopes,
}

/// A grouping scope per alert kind.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, Default)]
#[serde(rename_all = "kebab-case", deny_unknown_fields, default)]
pub struct Scopes {
    pub code_scanning: GroupScope,
    pub dependabot: GroupScope,
    pub secret_scanning: GroupScope,
    pub sarif: GroupScope,
}

impl Default for Grouping {
    fn default() -> Self {
        Grouping {
            code_scanning: GroupingMode::Rule,
            dependabot: GroupingMode::Package,
            secret_scanning: GroupingMode::Rule,
            sarif: GroupingMode::Rule,
            scope: Scopes::default(),
        }
    }
}

impl Grouping {
    pub fn scope_for(&self, kind: AlertKind) -> GroupScope {
        match kind {
            AlertKind::CodeScanning => self.scope.code_scanning,
            AlertKind::Dependabot => self.scope.dependabot,
            AlertKind::SecretScanning => self.scope.secret_scanning,
            AlertKind::Sarif => self.scope.sarif,
        }
    }

    pub fn mode_for(&self, kind: AlertKind) -> GroupingMode {
        match kind {
            AlertKind::CodeScanning => self.code_scanning,
            AlertKind::Dependabot => self.dependabot,
            AlertKind::SecretScanning => self.secret_scanning,
            AlertKind::Sarif => self.sarif,
        }
    }
}

/// The engine's settings.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case", deny_unknown_fields, default)]
pub struct Config {
    pub grouping: Grouping,
    pub when_all_fixed: WhenAllFixed,
    /// Before accepting a ticket closed in the tracker, ask GitHub whether its alerts are really
    /// gone; reopen the ticket if any is still open.
    pub verify_closure: bool,
    /// Tracker resolutions that mean "not going to fix this": closing a ticket with one dismisses
    /// its open alerts in GitHub with the mapped reason. Matched case-insensitively.
    pub resolutions: BTreeMap<String, DismissReason>,
    /// Create a new ticket when a person deletes one whose findings are still open.
    pub recreate_deleted_tickets: bool,
    /// Days to fix a finding, by severity: the ticket's due date.
    pub sla: crate::sla::SlaPolicy,
    /// Tracker users that are scantix itself (Jira accountIds or user names): their events are
    /// echoes of scantix's own writes and are not acted on.
    pub service_accounts: Vec<String>,
    /// Where a repository's new tickets go within the deployment's tracker (its project, issue
    /// type, priorities, labels, components); the default is the tracker's own settings.
    pub destination: crate::ticket::destination::TicketDestination,
    /// Which findings get a draft instead of a ticket (the settings' `mode: draft`).
    pub drafts: DraftMode,
    /// How many open tickets scantix keeps per repository and per owner (`budget`); none by
    /// default.
    pub budget: TicketBudget,
    /// Which of the deployment's trackers a new group's ticket is filed in, by kind and severity
    /// (the settings' `routes`); empty: the deployment's own tracker for every ticket.
    pub routes: Vec<crate::ticket::routing::Route>,
    /// CODEOWNERS owner (`@login`, `@org/team`) → tracker user: how an alert's assignee in GitHub
    /// and a ticket's in the tracker are told to each other (see `owners`).
    pub owners: BTreeMap<String, String>,
}

impl Config {
    /// Where the ticket of a new group of `kind` at `severity` is filed: this repository's
    /// destination, with the tracker and the copies its routes choose.
    pub fn destination_for(
        &self,
        kind: crate::finding::AlertKind,
        severity: crate::finding::Severity,
    ) -> crate::ticket::destination::TicketDestination {
        let routed = crate::ticket::routing::route(&self.routes, kind, severity);
        crate::ticket::destination::TicketDestination {
            tracker: routed.tracker,
            copies: routed.copies,
            ..self.destination.clone()
        }
    }
}

/// The ticket budget (`budget: { per-repository: N, per-owner: M }`): at most N open tickets per
/// repository and M per CODEOWNERS owner; groups beyond it are listed in one overflow ticket per
/// repository (or owner) instead, and promoted to their own ticket as budget frees up
/// (`crate::decide::budget`). Groups at an exempt severity always get their own ticket and do not
/// count.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case", deny_unknown_fields, default)]
pub struct TicketBudget {
    pub per_repository: Option<u32>,
    pub per_owner: Option<u32>,
    /// Severities that always get their own ticket, whatever the budget (default: critical).
    pub exempt_severities: Vec<crate::finding::Severity>,
}

/// The largest budget a scope can have: its holders are kept in one small store item.
pub const MAX_BUDGET: u32 = 1_000;

impl Default for TicketBudget {
    fn default() -> Self {
        TicketBudget {
            per_repository: None,
            per_owner: None,
            exempt_severities: vec![crate::finding::Severity::Critical],
        }
    }
}

impl TicketBudget {
    /// Whether any budget applies.
    pub fn is_set(&self) -> bool {
        self.per_repository.is_some() || self.per_owner.is_some()
    }

    /// Whether groups at `severity` always get their own ticket.
    pub fn exempts(&self, severity: crate::finding::Severity) -> bool {
        self.exempt_severities.contains(&severity)
    }
}

/// Where tickets start as drafts: prepared by scantix, pushed to the tracker by a person
/// (`scantix drafts push`). A finding's severity entry decides first, then its kind's, then
/// `default`: "draft every low, ticket the rest" and "draft all Dependabot alerts" both read as
/// one line of settings.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct DraftMode {
    /// Whether findings no entry names are drafted.
    pub default: bool,
    pub kinds: BTreeMap<AlertKind, bool>,
    pub severities: BTreeMap<crate::finding::Severity, bool>,
}

impl DraftMode {
    /// Everything drafted (`mode: draft`).
    pub fn everything() -> DraftMode {
        DraftMode {
            default: true,
            ..DraftMode::default()
        }
    }

    /// Whether a finding of `kind` filed at `severity` starts as a draft.
    pub fn drafts(&self, kind: AlertKind, severity: crate::finding::Severity) -> bool {
        self.severities
            .get(&severity)
            .or_else(|| self.kinds.get(&kind))
            .copied()
            .unwrap_or(self.default)
    }
}

impl Default for Config {
    fn default() -> Self {
        let resolutions = [
            ("Won't Do", DismissReason::WontFix),
            ("Won't Fix", DismissReason::WontFix),
            ("Duplicate", DismissReason::WontFix),
            ("False Positive", DismissReason::FalsePositive),
            ("Not a Bug", DismissReason::FalsePositive),
            ("Used in Tests", DismissReason::UsedInTests),
        ];
        Config {
            grouping: Grouping::default(),
            when_all_fixed: WhenAllFixed::default(),
            verify_closure: true,
            resolutions: resolutions
                .into_iter()
                .map(|(name, reason)| (name.to_owned(), reason))
                .collect(),
            recreate_deleted_tickets: false,
            sla: crate::sla::SlaPolicy::default(),
            service_accounts: Vec::new(),
            destination: crate::ticket::destination::TicketDestination::default(),
            drafts: DraftMode::default(),
            budget: TicketBudget::default(),
            routes: Vec::new(),
            owners: BTreeMap::new(),
        }
    }
}

impl Config {
    /// The dismissal a tracker resolution stands for, if any.
    pub fn dismissal_for(&self, resolution: &str) -> Option<DismissReason> {
        let wanted = resolution.trim().to_lowercase();
        self.resolutions
            .iter()
            .find(|(name, _)| name.to_lowercase() == wanted)
            .map(|(_, reason)| *reason)
    }
}
