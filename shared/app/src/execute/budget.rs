//! The ticket budget through the ports: the ledgers of a decided group's scopes read, its place
//! decided (`scantix_core::decide::budget`), the ledgers written in the same commit as the group
//! (so two events cannot both take a scope's last slot), and then the moves the ledger recorded
//! carried out: groups promoted to a ticket of their own or demoted into the overflow ticket, and
//! the overflow ticket created, refreshed or closed. A move stays in the ledger until done, so a
//! crash in between leaves it for the next event of the scope (or `rebalance_budget`).

use super::*;
use scantix_core::decide::budget::{
    BudgetInputs, Move, Placement, ScopeBudget, TICKET_DEMOTED, TICKET_PROMOTED, decide_budget,
    give_own_ticket, move_for, rebalance, recount, scopes_of, take_own_ticket,
};
use scantix_core::finding::{AlertKind, Repository, Rule};
use scantix_core::records::budget::{BudgetLedger, BudgetScope};
use scantix_core::records::{Facets, Tally};
use scantix_core::ticket::overflow::{OVERFLOW_LISTED, OVERFLOW_RULE};

/// How many rounds one follow-up makes on a scope whose moves keep changing under it (events of
/// the scope record more meanwhile): those are left to the events that recorded them.
const FOLLOW_ROUNDS: usize = 4;

/// What the budget step adds to a commit, and which scopes have moves to carry out after it.
#[derive(Debug, Default)]
pub(super) struct BudgetStep {
    pub writes: Vec<Guarded<BudgetLedger>>,
    pub follow: Vec<BudgetScope>,
}

impl Executor {
    /// Decides where `decision`'s group stands in its scopes' budgets (nothing without a budget in
    /// `config`): adjusts the group, its audit and actions in place, and returns the ledgers to
    /// write with it. `before` is the group as read for the decision.
    pub(super) async fn budget_step(
        &self,
        decision: &mut Decision,
        before: Option<&Versioned<GroupRecord>>,
        config: &Config,
        now: DateTime<Utc>,
        delivery: Option<&str>,
    ) -> Result<BudgetStep, ExecuteError> {
        let budget = &config.budget;
        let Some(group) = decision.group.as_ref().filter(|_| budget.is_set()) else {
            return Ok(BudgetStep::default());
        };
        if BudgetScope::of_overflow_key(&group.key).is_some() {
            return Ok(BudgetStep::default());
        }
        let mut scopes = Vec::new();
        let mut read = Vec::new();
        for (scope, label, limit) in scopes_of(group, budget) {
            let ledger = self.store.get_budget(&scope).await?;
            scopes.push(ScopeBudget {
                scope,
                label,
                limit,
                ledger: ledger.as_ref().map(|l| l.value.clone()),
            });
            read.push(ledger);
        }
        if scopes.is_empty() {
            return Ok(BudgetStep::default());
        }
        let decided = decide_budget(BudgetInputs {
            before: before.map(|b| &b.value),
            group,
            scopes: scopes.clone(),
            budget,
            now,
            delivery,
        });
        if decided.placement == Placement::Listed {
            let key = &decided.group.key;
            decision.actions.retain(|a| {
                !matches!(a, Action::CreateTicket { group, .. } | Action::DraftTicket { group, .. } if group == key)
            });
        }
        decision.group = Some(decided.group);
        decision.audit.extend(decided.audit);
        decision.actions.extend(decided.actions);
        let mut step = BudgetStep::default();
        for ((written, read), scope) in decided.ledgers.into_iter().zip(read).zip(scopes) {
            let moves = match &written {
                Some(ledger) => !ledger.moves.is_empty(),
                None => read.as_ref().is_some_and(|l| !l.value.moves.is_empty()),
            };
            if let Some(ledger) = written {
                step.writes.push(Guarded::replacing(ledger, read.as_ref()));
            }
            if moves {
                step.follow.push(scope.scope);
            }
        }
        Ok(step)
    }

    /// Carries out the moves recorded in the ledgers of `scopes` (see the module docs). A failure
    /// is logged, not returned: the event that called it is committed, and the moves stay recorded
    /// for the next event of the scope.
    pub(super) async fn follow_budget(&self, scopes: &[BudgetScope]) {
        for scope in scopes {
            if let Err(e) = self.follow_scope(scope, SCANTIX).await {
                tracing::warn!(%scope, error = %e, "ticket budget moves left for the next event");
            }
        }
    }

    /// Carries out the moves of `scope`'s ledger; each group moved is audited as done by `actor`.
    async fn follow_scope(&self, scope: &BudgetScope, actor: &str) -> Result<(), ExecuteError> {
        for _ in 0..FOLLOW_ROUNDS {
            let Some(ledger) = self.store.get_budget(scope).await? else {
                return Ok(());
            };
            if ledger.value.moves.is_empty() {
                return Ok(());
            }
            let overflow_key = scope.overflow_key();
            let moves: Vec<GroupKey> = ledger.value.moves.iter().cloned().collect();
            // Groups first, so the overflow ticket is rendered from a settled list.
            for key in moves.iter().filter(|k| **k != overflow_key) {
                self.move_group(&ledger.value, key, actor).await?;
            }
            if moves.contains(&overflow_key) {
                self.refresh_overflow(&ledger.value).await?;
            }
            self.settle_moves(scope, &moves).await?;
        }
        Ok(())
    }

    /// Takes `done` out of the scope's moves (moves recorded meanwhile stay).
    async fn settle_moves(
        &self,
        scope: &BudgetScope,
        done: &[GroupKey],
    ) -> Result<(), ExecuteError> {
        for attempt in 0..self.settings.max_conflicts {
            let Some(ledger) = self.store.get_budget(scope).await? else {
                return Ok(());
            };
            let mut next = ledger.value.clone();
            next.moves.retain(|k| !done.contains(k));
            if next == ledger.value {
                return Ok(());
            }
            let commit = Commit {
                budgets: vec![Guarded::replacing(next, Some(&ledger))],
                ..Commit::default()
            };
            match self.store.commit(commit).await {
                Ok(()) => return Ok(()),
                Err(StoreError::Conflict) => backoff(attempt).await,
                Err(e) => return Err(e.into()),
            }
        }
        Err(ExecuteError::Contention(self.settings.max_conflicts))
    }

    /// Brings group `key` in line with `ledger`: its own ticket while it holds a slot, none while
    /// it is listed; then drains what that queued.
    async fn move_group(
        &self,
        ledger: &BudgetLedger,
        key: &GroupKey,
        actor: &str,
    ) -> Result<(), ExecuteError> {
        let wanted = move_for(ledger, key);
        for attempt in 0..self.settings.max_conflicts {
            let Some(current) = self.store.get_group(key).await? else {
                return Ok(());
            };
            let now = (self.clock)();
            let mut next = current.value.clone();
            let (action, reason) = match wanted {
                Move::Promote => {
                    let destination = next.destination.clone();
                    if !give_own_ticket(&mut next, &destination) {
                        break;
                    }
                    (
                        TICKET_PROMOTED,
                        format!(
                            "promoted from the overflow ticket of {}: budget freed up",
                            ledger.label
                        ),
                    )
                }
                Move::Demote => {
                    let before = current.value.clone();
                    take_own_ticket(&mut next, Some(&before), &ledger.scope);
                    if next == before {
                        break;
                    }
                    (
                        TICKET_DEMOTED,
                        format!(
                            "over the ticket budget of {} (budget {}): ticket closed, listed in the overflow ticket",
                            ledger.label, ledger.limit
                        ),
                    )
                }
                Move::Nothing => break,
            };
            next.updated_at = now;
            let mut audit = vec![AuditEntry {
                at: now,
                group_key: key.clone(),
                fingerprint: None,
                actor: actor.into(),
                action: action.into(),
                reason,
                delivery: None,
                ticket: next.ticket.as_ref().map(|t| t.key.clone()),
                state: None,
            }];
            if self.drafts_only() || next.is_draft() {
                audit.extend(settle_draft_ops(&mut next, now, None));
            }
            let commit = Commit {
                links: new_ticket_link(&current.value, &next),
                group: Some(Guarded::replacing(next, Some(&current))),
                audit,
                ..Commit::default()
            };
            match self.store.commit(commit).await {
                Ok(()) => break,
                Err(StoreError::Conflict) => backoff(attempt).await,
                Err(e) => return Err(e.into()),
            }
        }
        self.sync_group(key).await?;
        Ok(())
    }

    /// The overflow ticket of `ledger`'s scope follows its list: created when the first group
    /// waits (found by its stable key if a create was already made), refreshed as the list
    /// changes (reopened if it had been closed), closed once nobody waits.
    async fn refresh_overflow(&self, ledger: &BudgetLedger) -> Result<(), ExecuteError> {
        let key = ledger.scope.overflow_key();
        let waiting = ledger.overflowed() > 0;
        for attempt in 0..self.settings.max_conflicts {
            let current = self.store.get_group(&key).await?;
            let now = (self.clock)();
            let mut next = match &current {
                Some(current) => current.value.clone(),
                None if !waiting => return Ok(()),
                None => overflow_group(ledger, &self.config, now),
            };
            let live = next.ticket.is_some() && !next.ticket_state.is_closed();
            let creating = next.outbox.iter().any(|p| p.op == OutboxOp::Create);
            match (waiting, &next.ticket) {
                (true, None) if !creating => next.push_op(OutboxOp::Create),
                (true, None) => {}
                (true, Some(_)) if !live => {
                    next.push_op(OutboxOp::Transition {
                        to: TicketState::Reopened,
                    });
                    next.ticket_state = TicketState::Reopened;
                    next.push_op(OutboxOp::Refresh);
                }
                (true, Some(_)) => next.push_op(OutboxOp::Refresh),
                (false, Some(_)) if live => {
                    next.push_op(OutboxOp::Refresh);
                    next.push_op(OutboxOp::Comment {
                        text: "No group is waiting any more: each has its own ticket or is closed."
                            .into(),
                    });
                    next.push_op(OutboxOp::Transition {
                        to: TicketState::Resolved,
                    });
                    next.ticket_state = TicketState::Resolved;
                }
                (false, _) => return Ok(()),
            }
            next.updated_at = now;
            let mut audit = Vec::new();
            if self.drafts_only() || next.is_draft() {
                audit.extend(settle_draft_ops(&mut next, now, None));
            }
            let before = current.as_ref().map(|c| &c.value);
            let commit = Commit {
                links: before
                    .map(|b| new_ticket_link(b, &next))
                    .unwrap_or_else(|| new_ticket_link(&next_without_ticket(&next), &next)),
                group: Some(Guarded::replacing(next, current.as_ref())),
                audit,
                ..Commit::default()
            };
            match self.store.commit(commit).await {
                Ok(()) => break,
                Err(StoreError::Conflict) => backoff(attempt).await,
                Err(e) => return Err(e.into()),
            }
        }
        self.sync_group(&key).await?;
        Ok(())
    }

    /// Rebalances `scope` to the budget `config` gives it now, without waiting for an event of
    /// the scope (a budget changed in the settings: the sweeper, `scantix budget rebalance`), and
    /// carries out the moves, each audited as done by `actor`. Returns the ledger as left, `None`
    /// if nothing was ever counted in the scope.
    pub async fn rebalance_budget(
        &self,
        scope: &BudgetScope,
        config: &Config,
        actor: &str,
    ) -> Result<Option<BudgetLedger>, ExecuteError> {
        for attempt in 0..self.settings.max_conflicts {
            let Some(read) = self.store.get_budget(scope).await? else {
                return Ok(None);
            };
            let shown = self.shown_groups(&read.value).await?;
            let next = rebalanced(&read.value, &shown, config, (self.clock)());
            if next == read.value {
                break;
            }
            let commit = Commit {
                budgets: vec![Guarded::replacing(next, Some(&read))],
                ..Commit::default()
            };
            match self.store.commit(commit).await {
                Ok(()) => break,
                Err(StoreError::Conflict) => backoff(attempt).await,
                Err(e) => return Err(e.into()),
            }
        }
        self.follow_scope(scope, actor).await?;
        Ok(self.store.get_budget(scope).await?.map(|l| l.value))
    }

    /// What [`Executor::rebalance_budget`] would make of `scope`'s ledger, changing nothing:
    /// the ledger as stored and as it would be written (equal: nothing to do).
    pub async fn preview_rebalance(
        &self,
        scope: &BudgetScope,
        config: &Config,
    ) -> Result<Option<(BudgetLedger, BudgetLedger)>, ExecuteError> {
        let Some(read) = self.store.get_budget(scope).await? else {
            return Ok(None);
        };
        let shown = self.shown_groups(&read.value).await?;
        let next = rebalanced(&read.value, &shown, config, (self.clock)());
        Ok(Some((read.value, next)))
    }

    /// The groups `ledger`'s overflow ticket shows, as stored now: what a pass over the scope
    /// recounts (events write a count only once per `RECOUNT_WINDOW_SECONDS`). One read per
    /// group shown, none for a scope nobody waits in.
    async fn shown_groups(&self, ledger: &BudgetLedger) -> Result<Vec<GroupRecord>, ExecuteError> {
        let mut groups = Vec::new();
        for entry in ledger.overflow.iter().take(OVERFLOW_LISTED) {
            if let Some(group) = self.store.get_group(&entry.group).await? {
                groups.push(group.value);
            }
        }
        Ok(groups)
    }
}

/// Who the budget's own moves are audited as.
const SCANTIX: &str = "scantix";

/// `ledger` with the entries of `shown` (its groups, as stored now) recounted, and balanced
/// against the budget `config` gives its scope (no budget any more: every slot free, every
/// waiting group promoted); `ledger` itself when that changes nothing.
fn rebalanced(
    ledger: &BudgetLedger,
    shown: &[GroupRecord],
    config: &Config,
    now: DateTime<Utc>,
) -> BudgetLedger {
    let limit = match ledger.scope {
        BudgetScope::Repository(_) => config.budget.per_repository,
        BudgetScope::Owner(_) => config.budget.per_owner,
    };
    let mut next = ledger.clone();
    next.limit = limit.map_or(scantix_core::config::MAX_BUDGET, |l| {
        l.min(scantix_core::config::MAX_BUDGET)
    });
    recount(&mut next, shown);
    rebalance(&mut next);
    if next != *ledger {
        next.updated_at = now;
    }
    next
}

/// The link of a ticket `after` has and `before` had not (a draft given in the same write).
fn new_ticket_link(before: &GroupRecord, after: &GroupRecord) -> Vec<TicketLink> {
    match (&before.ticket, &after.ticket) {
        (None, Some(ticket)) => vec![TicketLink {
            tracker: ticket.tracker.clone(),
            ticket_key: ticket.key.clone(),
            group: after.key.clone(),
        }],
        _ => vec![],
    }
}

fn next_without_ticket(group: &GroupRecord) -> GroupRecord {
    GroupRecord {
        ticket: None,
        ..group.clone()
    }
}

/// A new overflow ticket's group: no findings of its own, filed where the deployment files
/// tickets, in the scope's repository.
fn overflow_group(ledger: &BudgetLedger, config: &Config, now: DateTime<Utc>) -> GroupRecord {
    let repository = ledger.home.clone().unwrap_or_else(|| Repository {
        id: match ledger.scope {
            BudgetScope::Repository(id) => id,
            BudgetScope::Owner(_) => 0,
        },
        full_name: ledger.label.clone(),
        default_branch: None,
        html_url: None,
    });
    GroupRecord {
        key: ledger.scope.overflow_key(),
        kind: AlertKind::CodeScanning,
        scope: Default::default(),
        repository,
        rule: Rule {
            id: OVERFLOW_RULE.into(),
            name: format!("Ticket budget of {}", ledger.label),
            ..Rule::default()
        },
        tally: Tally::default(),
        facets: Facets::default(),
        assignee: match &ledger.scope {
            BudgetScope::Owner(owner) => Some(owner.clone()),
            BudgetScope::Repository(_) => None,
        },
        ticket: None,
        ticket_state: TicketState::Draft,
        installation_id: None,
        overdue_flagged: false,
        deleted_ticket: None,
        destination: config.destination.clone(),
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
