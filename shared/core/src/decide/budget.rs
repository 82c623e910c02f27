//! The ticket budget, pure: (a group as decided, the ledgers of its scopes, the budget, now) → the
//! group as it may be ticketed, the ledgers to write with it, and what was decided.
//!
//! A scope (a repository, a CODEOWNERS owner) keeps at most `limit` groups with a ticket of their
//! own; a group asking for one beyond that is **listed** in the scope's overflow ticket instead
//! (its own ticket calls dropped, a demoted ticket closed). A group whose ticket closes, or whose
//! findings all close, **releases** its slot, and the highest-priority listed group is
//! **promoted** to a ticket of its own. A new `limit` **rebalances**: more slots promote the
//! highest listed groups, fewer demote the lowest-priority holders. Groups at an exempt severity
//! (critical, by default) always get their own ticket and do not count.
//!
//! Lowest priority overflows first: a group asking when the slots are full takes the slot of the
//! lowest-priority holder if it outranks it (that holder's ticket is closed into the overflow
//! ticket, or its create or draft withdrawn if nothing was filed yet), and waits otherwise; among
//! equals the newest waits, so groups of one priority never displace each other.
//!
//! Promotions and demotions of *other* groups, and the overflow ticket's refresh, are recorded in
//! the ledger (`BudgetLedger::moves`) by the same write, and carried out after it
//! ([`give_own_ticket`], [`take_own_ticket`], [`crate::ticket::overflow`]).
//!
//! The ledger is one item per scope, so what rewrites it must be rare: a finding joining a group
//! already counted rewrites it only when the group's priority changed, or once the ledger has gone
//! `RECOUNT_WINDOW_SECONDS` unwritten; a count left behind meanwhile is brought in by [`recount`]
//! on the next pass over the scope. Rewriting it (and refreshing the overflow ticket) per finding
//! made a burst into a budgeted repository race on that item: most commits lost, many deliveries
//! gave up.

use super::action::Action;
use crate::config::TicketBudget;
use crate::identity::GroupKey;
use crate::records::budget::{
    BudgetEntry, BudgetLedger, BudgetScope, ENTRY_TITLE_LIMIT, LEDGER_BYTES, OVERFLOW_KEPT,
    RECOUNT_WINDOW_SECONDS,
};
use crate::records::{AuditEntry, GroupRecord, OutboxOp, TicketState};
use crate::ticket::destination::TicketDestination;
use chrono::{DateTime, Duration, Utc};

/// The audit action of a group listed in an overflow ticket instead of getting its own.
pub const TICKET_OVERFLOWED: &str = "ticket.overflowed";
/// The audit action of a listed group given its own ticket as budget freed up.
pub const TICKET_PROMOTED: &str = "ticket.promoted";
/// The audit action of a group whose ticket was closed into the overflow ticket (a smaller budget).
pub const TICKET_DEMOTED: &str = "ticket.demoted";

/// One scope of a group, with its budget and its ledger as read.
#[derive(Debug, Clone, PartialEq)]
pub struct ScopeBudget {
    pub scope: BudgetScope,
    /// How the scope reads in its overflow ticket.
    pub label: String,
    pub limit: u32,
    /// `None`: no ledger yet (nothing was ever counted).
    pub ledger: Option<BudgetLedger>,
}

/// The scopes `group` counts in under `budget`: its repository's (`per-repository`) and its
/// owner's (`per-owner`, when the group has an owner).
pub fn scopes_of(group: &GroupRecord, budget: &TicketBudget) -> Vec<(BudgetScope, String, u32)> {
    let mut scopes = Vec::new();
    if let Some(limit) = budget.per_repository {
        scopes.push((
            BudgetScope::Repository(group.repository.id),
            group.repository.full_name.clone(),
            limit.min(crate::config::MAX_BUDGET),
        ));
    }
    if let (Some(limit), Some(owner)) = (budget.per_owner, &group.assignee) {
        scopes.push((
            BudgetScope::Owner(owner.clone()),
            owner.clone(),
            limit.min(crate::config::MAX_BUDGET),
        ));
    }
    scopes
}

/// Everything `decide_budget` looks at.
#[derive(Debug, Clone)]
pub struct BudgetInputs<'a> {
    /// The group as stored before the event (`None`: a new group).
    pub before: Option<&'a GroupRecord>,
    /// The group as the event's decision left it.
    pub group: &'a GroupRecord,
    pub scopes: Vec<ScopeBudget>,
    pub budget: &'a TicketBudget,
    pub now: DateTime<Utc>,
    pub delivery: Option<&'a str>,
}

/// Where the decided group stands.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Placement {
    /// No budget applies to it.
    Unbudgeted,
    /// Its severity always gets its own ticket.
    Exempt,
    /// It holds a slot (or asks for none: no open finding).
    OwnTicket,
    /// It is listed in an overflow ticket.
    Listed,
}

/// What `decide_budget` decided.
#[derive(Debug, Clone, PartialEq)]
pub struct BudgetDecision {
    pub group: GroupRecord,
    pub placement: Placement,
    /// The ledgers of `BudgetInputs::scopes`, in their order, as they are to be written; `None`
    /// where one is unchanged.
    pub ledgers: Vec<Option<BudgetLedger>>,
    pub audit: Vec<AuditEntry>,
    pub actions: Vec<Action>,
}

/// Whether `group` asks for a ticket of its own: it has open ticketed findings, and no ticket a
/// person closed (a listed group's ticket, closed into the overflow ticket, does not count).
fn wants_ticket(group: &GroupRecord, listed: bool) -> bool {
    let closed_by_someone = group.ticket.is_some() && group.ticket_state.is_closed() && !listed;
    group.tally.open > 0 && group.discarded_at.is_none() && !closed_by_someone
}

/// The entry `group` has in a budget.
fn entry_of(group: &GroupRecord, since: DateTime<Utc>) -> BudgetEntry {
    let name = match group.rule.name.trim() {
        "" => group.rule.id.as_str(),
        name => name,
    };
    BudgetEntry {
        group: group.key.clone(),
        priority: group.severity(),
        title: name.chars().take(ENTRY_TITLE_LIMIT).collect(),
        open: group.tally.open,
        since,
    }
}

fn sort(entries: &mut [BudgetEntry]) {
    entries.sort_by(|a, b| a.rank().cmp(&b.rank()));
}

/// Decides where the group of `inputs` stands in its scopes' budgets (see the module docs).
pub fn decide_budget(inputs: BudgetInputs<'_>) -> BudgetDecision {
    let BudgetInputs {
        before,
        group,
        scopes,
        budget,
        now,
        delivery,
    } = inputs;
    let mut out = BudgetDecision {
        group: group.clone(),
        placement: Placement::Unbudgeted,
        ledgers: vec![None; scopes.len()],
        audit: Vec::new(),
        actions: Vec::new(),
    };
    if scopes.is_empty() {
        return out;
    }
    let key = &group.key;
    let stored: Vec<Option<BudgetLedger>> = scopes.iter().map(|s| s.ledger.clone()).collect();
    let mut ledgers: Vec<BudgetLedger> = scopes
        .iter()
        .map(|s| {
            let mut ledger = s.ledger.clone().unwrap_or_else(|| {
                BudgetLedger::new(s.scope.clone(), s.label.clone(), s.limit, now)
            });
            ledger.label.clone_from(&s.label);
            ledger.limit = s.limit;
            if ledger.home.is_none() {
                ledger.home = Some(group.repository.clone());
            }
            ledger
        })
        .collect();
    let was_listed = ledgers.iter().any(|l| l.lists(key));
    let exempt = budget.exempts(group.severity());
    let wants = !exempt && wants_ticket(group, was_listed);

    // The group's own entry in each ledger: out, refreshed, or in as a newcomer.
    for ledger in &mut ledgers {
        place(ledger, group, wants, now);
    }
    // Waiting in one scope's overflow ticket, it holds no slot of another's.
    if ledgers.iter().any(|l| l.lists(key)) {
        for ledger in &mut ledgers {
            ledger.holders.retain(|e| &e.group != key);
        }
    }
    for ledger in &mut ledgers {
        rebalance(ledger);
    }
    let listed = ledgers.iter().any(|l| l.lists(key));
    // Its own promotion or demotion is carried out here, not after.
    for ledger in &mut ledgers {
        ledger.moves.remove(key);
    }

    let audit = |action: &str, reason: String, out: &mut BudgetDecision| {
        out.audit.push(AuditEntry {
            at: now,
            group_key: key.clone(),
            fingerprint: None,
            actor: "scantix".into(),
            action: action.into(),
            reason,
            delivery: delivery.map(str::to_owned),
            ticket: group.ticket.as_ref().map(|t| t.key.clone()),
            state: None,
        });
    };
    let over: Vec<&BudgetLedger> = ledgers.iter().filter(|l| l.lists(key)).collect();
    out.placement = if exempt {
        Placement::Exempt
    } else if listed {
        Placement::Listed
    } else {
        Placement::OwnTicket
    };
    match out.placement {
        Placement::Listed => {
            let demoted = take_own_ticket(&mut out.group, before, &over[0].scope);
            let names = over
                .iter()
                .map(|l| format!("{} (budget {})", l.label, l.limit))
                .collect::<Vec<_>>()
                .join(", ");
            if demoted {
                audit(
                    TICKET_DEMOTED,
                    format!(
                        "over the ticket budget of {names}: ticket closed, listed in the overflow ticket"
                    ),
                    &mut out,
                );
            } else if !was_listed {
                audit(
                    TICKET_OVERFLOWED,
                    format!("over the ticket budget of {names}: listed in the overflow ticket"),
                    &mut out,
                );
            }
            if !was_listed || demoted {
                out.actions.push(Action::TicketOverflowed {
                    group: key.clone(),
                    overflow: over[0].scope.overflow_key(),
                });
            }
        }
        Placement::OwnTicket | Placement::Exempt if was_listed => {
            let destination = group.destination.clone();
            give_own_ticket(&mut out.group, &destination);
            let why = match out.placement {
                Placement::Exempt => format!("{} always gets its own ticket", group.severity()),
                _ => "budget freed up".to_owned(),
            };
            audit(
                TICKET_PROMOTED,
                format!("promoted from the overflow ticket: {why}"),
                &mut out,
            );
        }
        _ => {}
    }

    for (i, (mut ledger, stored)) in ledgers.into_iter().zip(stored).enumerate() {
        let changed = match &stored {
            Some(stored) => {
                let mut same = stored.clone();
                same.updated_at = ledger.updated_at;
                same != ledger
            }
            // A first ledger is written once something is counted in it.
            None => !ledger.holders.is_empty() || ledger.overflowed() > 0,
        };
        if changed {
            ledger.updated_at = now;
            out.ledgers[i] = Some(ledger);
        }
    }
    out
}

/// Puts `group`'s entry where it belongs in `ledger`: out if it wants no ticket, refreshed where
/// it is, or in among the holders as a newcomer (`rebalance` then lists the lowest beyond the
/// budget: the newcomer itself unless it outranks a holder).
///
/// An entry already in place is rewritten at once when its priority changed (its rank, so maybe
/// its slot), but for a new count of open findings or a new title only once the ledger has gone
/// [`RECOUNT_WINDOW_SECONDS`] unwritten: each finding joining a group would otherwise rewrite the
/// scope's one ledger item (every event of the scope racing for it) and refresh the overflow
/// ticket, once per finding.
fn place(ledger: &mut BudgetLedger, group: &GroupRecord, wants: bool, now: DateTime<Utc>) {
    let key = &group.key;
    let before = ledger.overflow.clone();
    let recount_due = now - ledger.updated_at >= Duration::seconds(RECOUNT_WINDOW_SECONDS);
    if !wants {
        ledger.holders.retain(|e| &e.group != key);
        ledger.overflow.retain(|e| &e.group != key);
    } else if let Some(held) = ledger.holders.iter_mut().find(|e| &e.group == key) {
        refresh(held, group, recount_due);
        sort(&mut ledger.holders);
    } else if let Some(listed) = ledger.overflow.iter_mut().find(|e| &e.group == key) {
        refresh(listed, group, recount_due);
        sort(&mut ledger.overflow);
    } else {
        ledger.holders.push(entry_of(group, now));
        sort(&mut ledger.holders);
    }
    if ledger.overflow != before {
        ledger.moves.insert(ledger.scope.overflow_key());
    }
}

/// Rewrites `entry` from `group` when its priority changed, or when anything changed and
/// `recount_due` (see [`place`]).
fn refresh(entry: &mut BudgetEntry, group: &GroupRecord, recount_due: bool) {
    let fresh = entry_of(group, entry.since);
    if fresh.priority != entry.priority || recount_due {
        *entry = fresh;
    }
}

/// Brings the entries of `groups` (as stored now) in `ledger` up to date with them: their counts
/// of open findings, titles and priorities, which events only write once per
/// [`RECOUNT_WINDOW_SECONDS`] (see [`place`]). Groups not in the ledger, or that no longer ask for
/// a ticket (their next event takes them out), are left alone. A changed overflow list records
/// the overflow ticket's refresh in `moves`; `rebalance` should follow, priorities having moved.
/// Returns whether anything changed.
pub fn recount(ledger: &mut BudgetLedger, groups: &[GroupRecord]) -> bool {
    let before = (ledger.holders.clone(), ledger.overflow.clone());
    for group in groups {
        let listed = ledger.lists(&group.key);
        if !wants_ticket(group, listed) || budget_exempt_by_key(group) {
            continue;
        }
        let mut entries = ledger.holders.iter_mut().chain(ledger.overflow.iter_mut());
        if let Some(entry) = entries.find(|e| e.group == group.key) {
            refresh(entry, group, true);
        }
    }
    sort(&mut ledger.holders);
    sort(&mut ledger.overflow);
    if ledger.overflow != before.1 {
        ledger.moves.insert(ledger.scope.overflow_key());
    }
    (ledger.holders.clone(), ledger.overflow.clone()) != before
}

/// Overflow tickets' own groups are in no budget.
fn budget_exempt_by_key(group: &GroupRecord) -> bool {
    BudgetScope::of_overflow_key(&group.key).is_some()
}

/// Brings `ledger`'s slots to its `limit`: the lowest-priority holders beyond it are demoted to
/// the overflow list (newest first among equals), free slots promote the highest listed groups
/// (longest known first among equals). The groups moved are recorded in `moves`, with the
/// overflow ticket's group. Then keeps the overflow list within `OVERFLOW_KEPT` entries and
/// `LEDGER_BYTES`.
pub fn rebalance(ledger: &mut BudgetLedger) {
    let limit = ledger.limit as usize;
    let overflow_key = ledger.scope.overflow_key();
    while ledger.holders.len() > limit {
        let Some(lowest) = ledger.holders.pop() else {
            break;
        };
        ledger.moves.insert(lowest.group.clone());
        ledger.overflow.push(lowest);
        sort(&mut ledger.overflow);
        ledger.moves.insert(overflow_key.clone());
    }
    while ledger.holders.len() < limit && !ledger.overflow.is_empty() {
        let highest = ledger.overflow.remove(0);
        ledger.moves.insert(highest.group.clone());
        ledger.holders.push(highest);
        sort(&mut ledger.holders);
        ledger.moves.insert(overflow_key.clone());
    }
    while ledger.overflow.len() > OVERFLOW_KEPT
        || (ledger.overflow.len() > 1 && encoded_len(ledger) > LEDGER_BYTES)
    {
        if let Some(dropped) = ledger.overflow.pop() {
            ledger.moves.remove(&dropped.group);
            ledger.overflow_more = ledger.overflow_more.saturating_add(1);
        }
    }
}

fn encoded_len(ledger: &BudgetLedger) -> usize {
    serde_json::to_vec(ledger).map_or(usize::MAX, |v| v.len())
}

/// What a move recorded in a ledger asks of `group`: its own ticket while it holds a slot, none
/// while it is listed, nothing when neither (it left the budget meanwhile).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Move {
    Promote,
    Demote,
    Nothing,
}

/// The move `ledger` records for `key`.
pub fn move_for(ledger: &BudgetLedger, key: &GroupKey) -> Move {
    if ledger.holds(key) {
        Move::Promote
    } else if ledger.lists(key) {
        Move::Demote
    } else {
        Move::Nothing
    }
}

/// Gives `group` a ticket of its own: a create if it never had one, a reopen if its ticket was
/// closed into the overflow ticket. Returns whether anything was queued (nothing for a group with
/// a ticket open or on its way, or without open findings).
pub fn give_own_ticket(group: &mut GroupRecord, destination: &TicketDestination) -> bool {
    if group.tally.open == 0 {
        return false;
    }
    match &group.ticket {
        None if !group.outbox.iter().any(|p| p.op == OutboxOp::Create) => {
            group.destination = destination.clone();
            group.push_op(OutboxOp::Create);
            true
        }
        Some(_) if group.ticket_state.is_closed() => {
            group.push_op(OutboxOp::Transition {
                to: TicketState::Reopened,
            });
            group.ticket_state = TicketState::Reopened;
            group.push_op(OutboxOp::Refresh);
            group.push_op(OutboxOp::Comment {
                text: "Reopened: the ticket budget has room again, so this group has its own \
                       ticket once more (it was listed in the overflow ticket)."
                    .into(),
            });
            true
        }
        _ => false,
    }
}

/// Takes `group`'s own ticket away while it is listed in `scope`'s overflow ticket: the ticket
/// calls this event queued are dropped (calls to GitHub stay), a create still queued is dropped, a
/// draft is withdrawn, and a live ticket is closed with a comment naming the overflow ticket. `before` is the group as stored before the event (the group itself when no
/// event changed it). Returns whether a live ticket was closed.
pub fn take_own_ticket(
    group: &mut GroupRecord,
    before: Option<&GroupRecord>,
    scope: &BudgetScope,
) -> bool {
    let first_new_op = before.map_or(1, |b| b.next_op_id);
    let had_ticket = before.and_then(|b| b.ticket.clone());
    let before_state = before.map_or(TicketState::Draft, |b| b.ticket_state);
    group.outbox.retain(|p| {
        p.op.is_github_call()
            || (p.id < first_new_op && (had_ticket.is_some() || p.op != OutboxOp::Create))
    });
    // A draft was filed nowhere: it is withdrawn (a promotion prepares the same one again).
    let had_ticket = had_ticket.filter(|t| !t.is_draft());
    group.ticket.clone_from(&had_ticket);
    group.ticket_state = match had_ticket {
        Some(_) => before_state,
        None => TicketState::Draft,
    };
    let live = had_ticket.is_some() && !before_state.is_closed();
    if live {
        group.push_op(OutboxOp::Comment {
            text: format!(
                "Closed into the overflow ticket of {scope}: the ticket budget is full, and \
                 this group is among the lowest in priority. It is listed there, and gets this \
                 ticket back as budget frees up."
            ),
        });
        group.push_op(OutboxOp::Transition {
            to: TicketState::Resolved,
        });
        group.ticket_state = TicketState::Resolved;
    }
    live
}

#[cfg(test)]
mod tests;
