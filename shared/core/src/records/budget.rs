//! The ticket budget's ledger: one small versioned record per scope (a repository, a CODEOWNERS
//! owner) saying which groups hold one of its ticket slots and which wait in its overflow ticket.
//! It is written in the same atomic write as the group whose change moved it (see
//! `crate::decide::budget`), so two events racing for the last slot cannot both take it: the
//! second one's guarded write fails and it decides again.

use crate::finding::{Repository, Severity};
use crate::identity::GroupKey;
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use std::collections::BTreeSet;
use std::fmt;

/// What a budget counts tickets of.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "snake_case", tag = "type", content = "id")]
pub enum BudgetScope {
    /// One repository, by id.
    Repository(u64),
    /// One CODEOWNERS owner, as the tracker knows them (the group's assignee).
    Owner(String),
}

impl BudgetScope {
    /// The scope's id in store keys: `repo#<id>` or `owner#<owner>`.
    pub fn id(&self) -> String {
        match self {
            BudgetScope::Repository(id) => format!("repo#{id}"),
            BudgetScope::Owner(owner) => format!("owner#{owner}"),
        }
    }

    /// The key of the scope's overflow ticket's group (`overflow:repo:<id>`,
    /// `overflow:owner:<owner>`): stable, so a retried create finds the ticket it made instead of
    /// making a second one.
    pub fn overflow_key(&self) -> GroupKey {
        GroupKey::from_stored(match self {
            BudgetScope::Repository(id) => format!("{OVERFLOW_PREFIX}repo:{id}"),
            BudgetScope::Owner(owner) => format!("{OVERFLOW_PREFIX}owner:{owner}"),
        })
    }

    /// The scope whose overflow ticket `key` is, if it is one.
    pub fn of_overflow_key(key: &GroupKey) -> Option<BudgetScope> {
        let rest = key.as_str().strip_prefix(OVERFLOW_PREFIX)?;
        if let Some(id) = rest.strip_prefix("repo:") {
            return id.parse().ok().map(BudgetScope::Repository);
        }
        rest.strip_prefix("owner:")
            .filter(|owner| !owner.is_empty())
            .map(|owner| BudgetScope::Owner(owner.to_owned()))
    }
}

impl fmt::Display for BudgetScope {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            BudgetScope::Repository(id) => write!(f, "repository {id}"),
            BudgetScope::Owner(owner) => write!(f, "owner {owner}"),
        }
    }
}

/// How overflow tickets' group keys start (no alert's group key does: theirs start with a
/// repository id or `org:`).
pub const OVERFLOW_PREFIX: &str = "overflow:";

/// How many overflow entries a ledger keeps at most. Lower-priority groups beyond are only counted
/// (`BudgetLedger::overflow_more`), and listed again when they next change.
pub const OVERFLOW_KEPT: usize = 500;

/// How large a ledger may grow, encoded, before its lowest overflow entries are only counted:
/// far below DynamoDB's 400 KB item limit whatever the length of the group keys.
pub const LEDGER_BYTES: usize = 150_000;

/// How long an entry's title may be (it comes from scanner text).
pub const ENTRY_TITLE_LIMIT: usize = 100;

/// How long a ledger goes, at least, between two writes that change nothing but an entry's count
/// of open findings (or its title). Every event of a scope's groups would otherwise rewrite the
/// scope's one ledger item, and the overflow ticket after it: a burst of findings joining a few
/// groups then queues on that item and on the tracker. A count left behind by this is rewritten by
/// the group's next event after the window, or by the next pass over the scope
/// (`crate::decide::budget::recount`: the sweeper, `scantix budget rebalance`). Changes of
/// membership or priority are written at once.
pub const RECOUNT_WINDOW_SECONDS: i64 = 60;

/// One group in a budget: holding a slot, or waiting in the overflow ticket.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct BudgetEntry {
    pub group: GroupKey,
    /// The group's priority (a person's, or its highest open severity).
    pub priority: Severity,
    /// The group's rule name, cut to `ENTRY_TITLE_LIMIT` characters.
    pub title: String,
    /// Its open findings.
    pub open: u32,
    /// When it entered the budget (or its overflow list): among equals, the longest waiting is
    /// promoted first, and the newest demoted first.
    pub since: DateTime<Utc>,
}

impl BudgetEntry {
    /// The order of the overflow list: highest priority first, then longest waiting, then key.
    pub fn rank(&self) -> (std::cmp::Reverse<Severity>, DateTime<Utc>, &GroupKey) {
        (std::cmp::Reverse(self.priority), self.since, &self.group)
    }
}

/// The budget of one scope: which groups hold its ticket slots, which are listed in its overflow
/// ticket, and which groups' records still have to follow a move (promotions, demotions, the
/// overflow ticket's refresh): those are done after the write that decided them, and kept here
/// until done, so a crash in between leaves them for the next event of the scope.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct BudgetLedger {
    pub scope: BudgetScope,
    /// How the scope reads in the overflow ticket (`owner/name`, `@team`).
    pub label: String,
    /// A repository of the scope (the first group counted in it): where the overflow ticket is
    /// filed when the tracker files tickets by repository (GitHub Issues).
    #[serde(default)]
    pub home: Option<Repository>,
    /// The budget the slots were last balanced against: another one in the settings rebalances.
    pub limit: u32,
    /// Groups with a ticket of their own (open, or on its way), in `BudgetEntry::rank` order.
    #[serde(default)]
    pub holders: Vec<BudgetEntry>,
    /// Groups over the budget, in `BudgetEntry::rank` order, at most `OVERFLOW_KEPT`.
    #[serde(default)]
    pub overflow: Vec<BudgetEntry>,
    /// Groups over the budget beyond those kept in `overflow`.
    #[serde(default)]
    pub overflow_more: u32,
    /// Groups whose records must still follow the ledger (the overflow ticket's group when its
    /// list changed).
    #[serde(default)]
    pub moves: BTreeSet<GroupKey>,
    pub updated_at: DateTime<Utc>,
}

impl BudgetLedger {
    pub fn new(scope: BudgetScope, label: String, limit: u32, now: DateTime<Utc>) -> BudgetLedger {
        BudgetLedger {
            scope,
            label,
            home: None,
            limit,
            holders: Vec::new(),
            overflow: Vec::new(),
            overflow_more: 0,
            moves: BTreeSet::new(),
            updated_at: now,
        }
    }

    /// Whether `group` is listed in the overflow ticket.
    pub fn lists(&self, group: &GroupKey) -> bool {
        self.overflow.iter().any(|e| &e.group == group)
    }

    /// Whether `group` holds one of the slots.
    pub fn holds(&self, group: &GroupKey) -> bool {
        self.holders.iter().any(|e| &e.group == group)
    }

    /// Groups over the budget, kept or only counted.
    pub fn overflowed(&self) -> usize {
        self.overflow.len() + self.overflow_more as usize
    }
}
