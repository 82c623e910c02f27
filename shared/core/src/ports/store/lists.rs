//! The lists a record belongs to, defined once for every adapter: which groups a repository has,
//! which tickets are open by due date, which groups have tracker calls queued, which are in a
//! state, and in what order a group's findings are read. An adapter keeps these lists exact in the
//! same atomic write that changes the record (DynamoDB as small index items, the memory store by
//! looking), so a list never lags the records it names.

use crate::finding::AlertState;
use crate::identity::GroupKey;
use crate::identity::GroupScope;
use crate::records::{FindingRecord, GroupRecord, TicketState};
use serde::{Deserialize, Serialize};

/// A list of groups.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
pub enum List {
    /// The groups of one repository (by id), or of one organisation (`org:<login>`) for
    /// organisation-wide groups; in group key order.
    Home(String),
    /// Groups with an open ticket and open findings, earliest due date first.
    Due,
    /// The part of `Due` due on or before this day (the SLA sweep's question: which are late).
    DueBy(chrono::NaiveDate),
    /// Groups with tracker calls queued, oldest change first.
    Queued,
    /// Groups whose ticket is in this state, in group key order.
    State(TicketState),
}

/// Which of a group's findings to read.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Members {
    /// Ticketed and open: what a closure verifies, what a "won't fix" dismisses.
    OpenTicketed,
    /// Ticketed, any state: what the ticket lists.
    Ticketed,
    /// Every finding, recorded-only ones included.
    All,
}

impl Members {
    /// Whether a finding of rank `rank` (`FindingRecord::rank`) is one of these.
    pub fn admits(self, rank: &str) -> bool {
        match self {
            Members::OpenTicketed => rank.starts_with("0#"),
            Members::Ticketed => rank.starts_with("0#") || rank.starts_with("1#"),
            Members::All => true,
        }
    }

    /// The rank prefix every finding of these starts with, when there is one (a list read can
    /// start there).
    pub fn rank_prefix(self) -> Option<&'static str> {
        match self {
            Members::OpenTicketed => Some("0#"),
            Members::Ticketed | Members::All => None,
        }
    }

    /// The ranks these findings take, as a range an index reads: from (inclusive) and below
    /// (exclusive), either end open. Exactly the ranks `admits` admits.
    pub fn rank_range(self) -> (Option<&'static str>, Option<&'static str>) {
        match self {
            Members::OpenTicketed => (Some("0#"), Some("0$")),
            // Ranks of recorded-only findings start with 2.
            Members::Ticketed => (None, Some("2")),
            Members::All => (None, None),
        }
    }
}

/// Where a group is listed, and its sort key within each list.
pub fn group_lists(group: &GroupRecord) -> Vec<(List, String)> {
    let key = group.key.as_str();
    let mut lists = vec![(List::Home(home_of(group)), key.to_owned())];
    if group.ticket.is_some()
        && !group.ticket_state.is_closed()
        && let Some(due) = group.due()
    {
        lists.push((List::Due, format!("{due}#{key}")));
    }
    if !group.outbox.is_empty() {
        lists.push((
            List::Queued,
            format!(
                "{}#{key}",
                group.updated_at.format("%Y-%m-%dT%H:%M:%S%.9fZ")
            ),
        ));
    }
    if group.ticket.is_some() {
        lists.push((List::State(group.ticket_state), key.to_owned()));
    }
    lists
}

/// The `Home` list of a group: its repository's id, or its organisation's login.
pub fn home_of(group: &GroupRecord) -> String {
    match group.scope {
        GroupScope::Repository => group.repository.id.to_string(),
        GroupScope::Organization => format!(
            "org:{}",
            group
                .repository
                .full_name
                .split('/')
                .next()
                .unwrap_or_default()
                .to_lowercase()
        ),
    }
}

/// A finding's place among its group's findings (its group and rank).
pub fn member_entry(finding: &FindingRecord) -> (GroupKey, String) {
    (finding.group_key.clone(), finding.rank())
}

/// Whether a finding is ticketed and open (ranks starting `0#`).
pub fn is_open_ticketed(finding: &FindingRecord) -> bool {
    finding.is_ticketed() && finding.finding.state == AlertState::Open
}

impl List {
    /// The list whose entries this one reads (`DueBy` reads `Due`), and the sort key its
    /// entries stay below, if bounded.
    pub fn stored(&self) -> (List, Option<String>) {
        match self {
            List::DueBy(day) => (
                List::Due,
                day.succ_opt()
                    .map(|next| next.format("%Y-%m-%d").to_string()),
            ),
            other => (other.clone(), None),
        }
    }

    /// Whether entries of this list are spread over several partitions (lists every group may
    /// join: one partition each would be a hot spot).
    pub fn is_sharded(&self) -> bool {
        !matches!(self, List::Home(_))
    }

    /// A stable spelling of the list, for adapters that key items by it.
    pub fn id(&self) -> String {
        match self {
            List::Home(home) => format!("home#{home}"),
            List::Due | List::DueBy(_) => "due".into(),
            List::Queued => "queued".into(),
            List::State(state) => format!("state#{state}"),
        }
    }
}

/// An audit entry's place among the day's changes: its time (RFC 3339, nine fraction digits, so
/// text order is time order), then its group.
pub fn audit_sort_key(entry: &crate::records::AuditEntry) -> String {
    format!(
        "{}#{}",
        entry.at.to_rfc3339_opts(chrono::SecondsFormat::Nanos, true),
        entry.group_key
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_rank_range_holds_exactly_the_ranks_its_members_admit() {
        let ranks = [
            "0#4#000000000001#1/code-scanning/1",
            "0#9#999999999999#9/secret-scanning/9",
            "1#0#000000000001#1/code-scanning/2",
            "1#9#000000000001#1/code-scanning/3",
            "2#0#000000000001#1/code-scanning/4",
        ];
        for which in [Members::OpenTicketed, Members::Ticketed, Members::All] {
            let (from, below) = which.rank_range();
            for rank in ranks {
                let in_range = from.is_none_or(|f| rank >= f) && below.is_none_or(|b| rank < b);
                assert_eq!(in_range, which.admits(rank), "{which:?} {rank}");
            }
        }
    }
}
