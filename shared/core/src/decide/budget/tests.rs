//! The ticket budget, decided with plain values: groups arriving one by one, tickets closing,
//! budgets changing, each step fed the ledger the step before wrote.

use super::*;
use crate::finding::{AlertState, Severity};
use crate::identity::{GroupKey, GroupingMode};
use crate::records::budget::{BudgetEntry, OVERFLOW_KEPT};
use crate::records::{GroupRecord, OutboxOp, TicketRef, TicketState};
use crate::testing::{code_alert, ticketed_record};
use crate::ticket::overflow::overflow_content;
use chrono::{DateTime, Duration, TimeZone, Utc};

fn t0() -> DateTime<Utc> {
    Utc.with_ymd_and_hms(2026, 3, 1, 9, 0, 0).unwrap()
}

fn repo_budget(limit: u32) -> TicketBudget {
    TicketBudget {
        per_repository: Some(limit),
        ..TicketBudget::default()
    }
}

/// Group `i` (rule `js/rule-i`) with one open finding at `severity`, as `decide` leaves a new
/// group: its create queued.
fn new_group(i: u64, severity: Severity, now: DateTime<Utc>) -> GroupRecord {
    let mut finding = code_alert(i, &format!("js/rule-{i}"), "src/app.js");
    finding.severity = severity;
    finding.rule.name = format!("Rule {i}");
    let key = GroupKey::for_finding(&finding, GroupingMode::Rule);
    let mut group = GroupRecord::new(key.clone(), &finding, now);
    group.absorb(None, &ticketed_record(&finding, &key, now));
    group.push_op(OutboxOp::Create);
    group
}

/// The repository's budget state between steps: the ledger as last written.
struct Scope {
    budget: TicketBudget,
    ledger: Option<BudgetLedger>,
}

impl Scope {
    fn new(limit: u32) -> Scope {
        Scope {
            budget: repo_budget(limit),
            ledger: None,
        }
    }

    /// Decides `group` (as decided from `before`) against the ledger, and keeps what it wrote.
    fn decide(
        &mut self,
        before: Option<&GroupRecord>,
        group: &GroupRecord,
        now: DateTime<Utc>,
    ) -> BudgetDecision {
        let scopes = scopes_of(group, &self.budget)
            .into_iter()
            .map(|(scope, label, limit)| ScopeBudget {
                scope,
                label,
                limit,
                ledger: self.ledger.clone(),
            })
            .collect();
        let decision = decide_budget(BudgetInputs {
            before,
            group,
            scopes,
            budget: &self.budget,
            now,
            delivery: Some("github:test"),
        });
        if let Some(Some(written)) = decision.ledgers.first() {
            self.ledger = Some(written.clone());
        }
        decision
    }

    fn ledger(&self) -> &BudgetLedger {
        self.ledger.as_ref().expect("a ledger was written")
    }
}

/// 30 groups of a repository arriving one by one under a budget of 5: severities cycle low,
/// medium, high so that priority, not arrival, orders the overflow list.
fn thirty_under_five() -> (Scope, Vec<GroupRecord>, Vec<BudgetDecision>) {
    let mut scope = Scope::new(5);
    let severities = [Severity::Low, Severity::Medium, Severity::High];
    let mut groups = Vec::new();
    let mut decisions = Vec::new();
    for i in 0..30u64 {
        let now = t0() + Duration::seconds(i as i64);
        let group = new_group(i, severities[i as usize % 3], now);
        let decision = scope.decide(None, &group, now);
        groups.push(decision.group.clone());
        decisions.push(decision);
    }
    (scope, groups, decisions)
}

fn creates(group: &GroupRecord) -> usize {
    group
        .outbox
        .iter()
        .filter(|p| p.op == OutboxOp::Create)
        .count()
}

/// The rules of `entries`, in their order.
fn titles(entries: &[BudgetEntry]) -> Vec<String> {
    entries.iter().map(|e| e.title.clone()).collect()
}

fn rules(numbers: impl IntoIterator<Item = u64>) -> Vec<String> {
    numbers.into_iter().map(|n| format!("Rule {n}")).collect()
}

/// The overflow list after 30 arrivals: the highs beyond the five oldest, then every medium, then
/// every low, each longest known first.
fn listed_after_thirty() -> Vec<String> {
    let highs = (17..30).step_by(3);
    let mediums = (1..30).step_by(3);
    let lows = (0..30).step_by(3);
    rules(highs.chain(mediums).chain(lows))
}

#[test]
fn thirty_groups_under_a_budget_of_five_make_five_tickets_and_one_overflow_listing_25() {
    let (scope, groups, decisions) = thirty_under_five();
    let ledger = scope.ledger();
    // Lowest priority overflows first: the five slots end with the five oldest highs.
    assert_eq!(titles(&ledger.holders), rules([2, 5, 8, 11, 14]));
    assert_eq!(titles(&ledger.overflow), listed_after_thirty());
    assert_eq!(ledger.overflow.len(), 25);
    // Each arrival kept its create only if it took a slot; one that waited says so.
    for (group, decision) in groups.iter().zip(&decisions) {
        let own = decision.placement == Placement::OwnTicket;
        assert_eq!(creates(group), usize::from(own), "{}", group.key);
        if !own {
            assert!(group.ticket.is_none());
            assert_eq!(decision.audit[0].action, TICKET_OVERFLOWED);
            assert!(
                decision.audit[0].reason.contains("acme/shop (budget 5)"),
                "{}",
                decision.audit[0].reason
            );
            assert_eq!(
                decision.actions,
                vec![Action::TicketOverflowed {
                    group: group.key.clone(),
                    overflow: GroupKey::from_stored("overflow:repo:42"),
                }]
            );
        }
    }
    // A high arriving at a full budget of lows and mediums took the newest low's slot, and so on:
    // the holders it displaced are moves for the executor (their tickets to close).
    let arrivals: Vec<Placement> = decisions.iter().map(|d| d.placement).collect();
    assert_eq!(arrivals[..6], [Placement::OwnTicket; 6]);
    assert_eq!(arrivals[6], Placement::Listed, "a low waits");
    for displaced in [0, 1, 3, 4, 7] {
        let key = &groups[displaced].key;
        assert!(ledger.moves.contains(key), "rule {displaced}");
        assert_eq!(move_for(ledger, key), Move::Demote);
    }
    assert!(
        ledger
            .moves
            .contains(&GroupKey::from_stored("overflow:repo:42"))
    );

    // One overflow ticket lists all 25, in that order.
    let overflow = GroupRecord {
        key: ledger.scope.overflow_key(),
        ..groups[0].clone()
    };
    let content = overflow_content(&overflow, ledger);
    assert_eq!(content.facts.len(), 25);
    assert!(
        content.title.contains("25 groups waiting in acme/shop"),
        "{}",
        content.title
    );
    assert!(content.facts[0].1.starts_with("Rule 17 (1 open finding)"));
    assert_eq!(content.severity, Severity::High);
}

#[test]
fn among_equals_the_newest_waits_so_equal_groups_never_displace_each_other() {
    let mut scope = Scope::new(2);
    let mut placements = Vec::new();
    for i in 0..4u64 {
        let now = t0() + Duration::seconds(i as i64);
        placements.push(
            scope
                .decide(None, &new_group(i, Severity::Medium, now), now)
                .placement,
        );
    }
    assert_eq!(
        placements,
        [
            Placement::OwnTicket,
            Placement::OwnTicket,
            Placement::Listed,
            Placement::Listed
        ]
    );
    assert!(
        scope
            .ledger()
            .moves
            .iter()
            .all(|k| k.as_str() == "overflow:repo:42"),
        "nobody displaced: {:?}",
        scope.ledger().moves
    );
}

#[test]
fn a_ticket_closing_promotes_the_highest_priority_listed_group() {
    let (mut scope, groups, _) = thirty_under_five();
    // Group 2's only finding is fixed: its ticket goes stale, its slot frees.
    let before = groups[2].clone();
    let mut closed = before.clone();
    let mut finding = code_alert(2, "js/rule-2", "src/app.js");
    finding.severity = Severity::High;
    let old = ticketed_record(&finding, &closed.key, t0());
    let mut fixed = old.clone();
    fixed.finding.state = AlertState::Fixed;
    closed.absorb(Some(&old), &fixed);
    closed.ticket = Some(TicketRef::draft(&closed.key));
    closed.ticket_state = TicketState::Stale;
    let now = t0() + Duration::minutes(5);
    let decision = scope.decide(Some(&before), &closed, now);
    assert_eq!(decision.placement, Placement::OwnTicket);
    assert_eq!(
        decision.group, closed,
        "the closed group itself is not touched"
    );

    let ledger = scope.ledger();
    assert_eq!(ledger.holders.len(), 5);
    assert_eq!(ledger.overflow.len(), 24);
    assert!(!ledger.holds(&groups[2].key));
    // Group 17 was the first listed (the oldest high waiting): it is promoted, and owes a create.
    let promoted = &groups[17].key;
    assert!(ledger.holds(promoted) && !ledger.lists(promoted));
    assert!(ledger.moves.contains(promoted));
    assert_eq!(move_for(ledger, promoted), Move::Promote);
    let mut record = groups[17].clone();
    assert!(give_own_ticket(&mut record, &TicketDestination::default()));
    assert_eq!(creates(&record), 1);
    // Done twice (a retried move), it queues nothing more.
    assert!(!give_own_ticket(&mut record, &TicketDestination::default()));
    assert_eq!(creates(&record), 1);
    assert_eq!(titles(&ledger.overflow), listed_after_thirty()[1..]);
}

#[test]
fn a_larger_budget_promotes_the_highest_listed_and_a_smaller_one_demotes_the_lowest_holders() {
    let (mut scope, groups, _) = thirty_under_five();
    // The budget grows to 8: the next event on the repository rebalances (here: a group that
    // holds a slot changes nothing of its own).
    scope.budget = repo_budget(8);
    let now = t0() + Duration::minutes(10);
    let decision = scope.decide(Some(&groups[2]), &groups[2], now);
    assert_eq!(decision.placement, Placement::OwnTicket);
    let ledger = scope.ledger().clone();
    assert_eq!(
        titles(&ledger.holders),
        rules([2, 5, 8, 11, 14, 17, 20, 23])
    );
    assert_eq!(titles(&ledger.overflow), listed_after_thirty()[3..]);
    for promoted in [17, 20, 23] {
        assert!(ledger.moves.contains(&groups[promoted].key), "{promoted}");
    }

    // Shrunk to 3: the five lowest-priority holders (the newest highs) go back to the list.
    scope.budget = repo_budget(3);
    scope.ledger.as_mut().unwrap().moves.clear();
    let now = now + Duration::minutes(1);
    scope.decide(Some(&groups[2]), &groups[2], now);
    let ledger = scope.ledger().clone();
    assert_eq!(titles(&ledger.holders), rules([2, 5, 8]));
    assert_eq!(ledger.overflow.len(), 27);
    assert_eq!(titles(&ledger.overflow)[..5], rules([11, 14, 17, 20, 23]));
    let demoted = &groups[23].key;
    assert_eq!(move_for(&ledger, demoted), Move::Demote);
    // A demoted group whose ticket exists: closed with a comment, no new create.
    let mut record = groups[23].clone();
    record.outbox.clear();
    record.ticket = Some(TicketRef {
        tracker: "jira".into(),
        key: "SEC-23".into(),
        url: None,
    });
    record.ticket_state = TicketState::Open;
    let before = record.clone();
    assert!(take_own_ticket(&mut record, Some(&before), &ledger.scope));
    assert_eq!(record.ticket_state, TicketState::Resolved);
    assert!(matches!(
        record.outbox.last().map(|p| &p.op),
        Some(OutboxOp::Transition {
            to: TicketState::Resolved
        })
    ));
    assert_eq!(creates(&record), 0);
    // Promoted again later, the same ticket is reopened, not a second one created.
    assert!(give_own_ticket(&mut record, &TicketDestination::default()));
    assert_eq!(record.ticket_state, TicketState::Reopened);
    assert_eq!(creates(&record), 0);

    // A demoted draft was filed nowhere: it is withdrawn, and prepared again when promoted.
    let mut draft = groups[20].clone();
    draft.outbox.clear();
    draft.ticket = Some(TicketRef::draft(&draft.key));
    let before = draft.clone();
    assert!(!take_own_ticket(&mut draft, Some(&before), &ledger.scope));
    assert_eq!((draft.ticket.as_ref(), draft.outbox.len()), (None, 0));
    assert!(give_own_ticket(&mut draft, &TicketDestination::default()));
    assert_eq!(creates(&draft), 1);
}

#[test]
fn a_critical_group_always_gets_its_own_ticket_unless_configured_otherwise() {
    let (mut scope, _, _) = thirty_under_five();
    let now = t0() + Duration::minutes(20);
    let critical = new_group(100, Severity::Critical, now);
    let decision = scope.decide(None, &critical, now);
    assert_eq!(decision.placement, Placement::Exempt);
    assert_eq!(creates(&decision.group), 1);
    assert!(decision.ledgers.iter().all(Option::is_none), "not counted");

    // With no exempt severity, a critical group counts like any other: it outranks the holders,
    // so it takes the slot of the newest high, which goes back to the head of the list.
    let mut strict = Scope {
        budget: TicketBudget {
            exempt_severities: vec![],
            ..repo_budget(5)
        },
        ledger: scope.ledger.clone(),
    };
    let decision = strict.decide(None, &critical, now);
    assert_eq!(decision.placement, Placement::OwnTicket);
    assert_eq!(creates(&decision.group), 1);
    let ledger = strict.ledger();
    assert_eq!(ledger.holders[0].group, critical.key);
    assert_eq!(ledger.overflow[0].title, "Rule 14");
    // A second critical outranks the highs too: the next newest high goes back.
    let another = new_group(101, Severity::Critical, now + Duration::seconds(1));
    assert_eq!(
        strict.decide(None, &another, now).placement,
        Placement::OwnTicket
    );
    assert_eq!(strict.ledger().overflow[0].title, "Rule 11");
}

#[test]
fn a_listed_group_that_turns_critical_is_promoted_at_once() {
    let (mut scope, groups, _) = thirty_under_five();
    let before = groups[29].clone();
    let mut now_critical = before.clone();
    let finding = code_alert(1029, "js/rule-29", "src/other.js");
    let mut finding = finding;
    finding.severity = Severity::Critical;
    now_critical.absorb(None, &ticketed_record(&finding, &before.key, t0()));
    now_critical.push_op(OutboxOp::Create);
    let decision = scope.decide(Some(&before), &now_critical, t0() + Duration::hours(1));
    assert_eq!(decision.placement, Placement::Exempt);
    assert_eq!(creates(&decision.group), 1);
    assert_eq!(decision.audit[0].action, TICKET_PROMOTED);
    assert!(!scope.ledger().lists(&before.key));
    assert_eq!(scope.ledger().overflow.len(), 24);
}

#[test]
fn a_listed_group_with_a_new_finding_stays_listed_once_and_moves_up_with_its_priority() {
    let (mut scope, groups, _) = thirty_under_five();
    // Group 27 (low, last in the list) gets a high finding: decide queues a create again. It is
    // now a high, but a newer one than every holder: it waits, among the highs by age.
    let before = groups[27].clone();
    let mut joined = before.clone();
    let mut finding = code_alert(2027, "js/rule-27", "src/b.js");
    finding.severity = Severity::High;
    joined.absorb(None, &ticketed_record(&finding, &before.key, t0()));
    joined.push_op(OutboxOp::Create);
    let decision = scope.decide(Some(&before), &joined, t0() + Duration::hours(1));
    assert_eq!(decision.placement, Placement::Listed);
    assert_eq!(creates(&decision.group), 0);
    assert!(
        decision.audit.is_empty(),
        "already listed: nothing new to say"
    );
    let ledger = scope.ledger();
    assert_eq!(ledger.overflow.len(), 25);
    assert_eq!(
        titles(&ledger.overflow)[..6],
        rules([17, 20, 23, 26, 27, 29])
    );
    assert_eq!(ledger.overflow[4].open, 2);
    assert_eq!(ledger.overflow[4].priority, Severity::High);
}

#[test]
fn an_unchanged_group_writes_no_ledger() {
    let (mut scope, groups, _) = thirty_under_five();
    scope.ledger.as_mut().unwrap().moves.clear();
    let decision = scope.decide(Some(&groups[2]), &groups[2], t0() + Duration::hours(2));
    assert!(decision.ledgers.iter().all(Option::is_none));
}

/// Findings joining listed group 27 one after another: within the recount window the ledger is
/// not rewritten (nor the overflow ticket's refresh recorded) for a count alone; the first after
/// the window writes the count once, and a pass over the scope (`recount`) brings the rest in.
#[test]
fn findings_joining_a_listed_group_rewrite_the_ledger_once_per_window_and_a_pass_recounts_them() {
    let (mut scope, groups, _) = thirty_under_five();
    scope.ledger.as_mut().unwrap().moves.clear();
    let written_at = scope.ledger().updated_at;
    let overflow_key = scope.ledger().scope.overflow_key();
    let mut group = groups[27].clone();
    let join = |group: &GroupRecord, n: u64, now: DateTime<Utc>, scope: &mut Scope| {
        let mut next = group.clone();
        let mut finding = code_alert(3_000 + n, "js/rule-27", &format!("src/{n}.js"));
        finding.severity = Severity::Low;
        next.absorb(None, &ticketed_record(&finding, &group.key, now));
        next.push_op(OutboxOp::Create);
        let decision = scope.decide(Some(group), &next, now);
        assert_eq!(decision.placement, Placement::Listed);
        assert_eq!(creates(&decision.group), 0);
        decision
    };
    let entry = |scope: &Scope, key: &GroupKey| {
        scope
            .ledger()
            .overflow
            .iter()
            .find(|e| &e.group == key)
            .cloned()
            .unwrap()
    };
    for n in 0..20 {
        let now = written_at + Duration::seconds(n as i64 * 2);
        let decision = join(&group, n, now, &mut scope);
        assert!(decision.ledgers.iter().all(Option::is_none), "join {n}");
        assert!(decision.actions.is_empty() && decision.audit.is_empty());
        group = decision.group;
    }
    assert_eq!(group.tally.open, 21);
    assert_eq!(entry(&scope, &group.key).open, 1, "the count waits");

    let window = Duration::seconds(RECOUNT_WINDOW_SECONDS);
    let decision = join(&group, 20, written_at + window, &mut scope);
    assert_eq!(decision.ledgers.iter().flatten().count(), 1);
    group = decision.group;
    assert_eq!(entry(&scope, &group.key).open, 22);
    assert!(scope.ledger().moves.contains(&overflow_key));
    assert_eq!(scope.ledger().updated_at, written_at + window);
    scope.ledger.as_mut().unwrap().moves.clear();
    let decision = join(
        &group,
        21,
        written_at + window + Duration::seconds(1),
        &mut scope,
    );
    assert!(decision.ledgers.iter().all(Option::is_none));
    group = decision.group;

    // A pass over the scope: the count as the group stands, and the overflow ticket's refresh.
    let mut ledger = scope.ledger().clone();
    assert!(recount(&mut ledger, std::slice::from_ref(&group)));
    assert_eq!(
        ledger
            .overflow
            .iter()
            .find(|e| e.group == group.key)
            .unwrap()
            .open,
        23
    );
    assert!(ledger.moves.contains(&overflow_key));
    assert!(!recount(&mut ledger, &[group]), "nothing more to recount");
    // The order is untouched (a count is no priority).
    assert_eq!(titles(&ledger.overflow), listed_after_thirty());
}

#[test]
fn per_owner_budgets_count_an_owners_groups_across_repositories() {
    let budget = TicketBudget {
        per_owner: Some(1),
        ..TicketBudget::default()
    };
    let mut first = new_group(1, Severity::High, t0());
    first.assignee = Some("@acme/payments".into());
    let scopes = scopes_of(&first, &budget);
    assert_eq!(
        scopes,
        vec![(
            BudgetScope::Owner("@acme/payments".into()),
            "@acme/payments".into(),
            1
        )]
    );
    let mut scope = Scope {
        budget,
        ledger: None,
    };
    assert_eq!(
        scope.decide(None, &first, t0()).placement,
        Placement::OwnTicket
    );
    let mut second = new_group(2, Severity::High, t0());
    second.assignee = Some("@acme/payments".into());
    second.repository.id = 43;
    assert_eq!(
        scope.decide(None, &second, t0()).placement,
        Placement::Listed
    );
    assert_eq!(
        scope.ledger().scope.overflow_key().as_str(),
        "overflow:owner:@acme/payments"
    );
    // A group without an owner is in no owner's budget.
    let unowned = new_group(3, Severity::High, t0());
    assert!(scopes_of(&unowned, &scope.budget).is_empty());
}

#[test]
fn the_ledger_stays_small_whatever_the_number_and_length_of_groups_over_budget() {
    let mut ledger = BudgetLedger::new(BudgetScope::Repository(42), "acme/shop".into(), 0, t0());
    let long = "x".repeat(600);
    for i in 0..3_000u32 {
        ledger.overflow.push(BudgetEntry {
            group: GroupKey::from_stored(format!("42/sarif/file:{long}/{i}")),
            priority: Severity::Medium,
            title: "t".repeat(ENTRY_TITLE_LIMIT),
            open: 1,
            since: t0(),
        });
    }
    rebalance(&mut ledger);
    let bytes = serde_json::to_vec(&ledger).unwrap().len();
    assert!(bytes <= LEDGER_BYTES, "{bytes} bytes");
    assert!(ledger.overflow.len() < OVERFLOW_KEPT);
    assert_eq!(ledger.overflowed(), 3_000, "the rest are counted");
    let overflow = GroupRecord {
        key: ledger.scope.overflow_key(),
        ..new_group(0, Severity::Low, t0())
    };
    let content = overflow_content(&overflow, &ledger);
    assert_eq!(content.facts.len(), 51);
    assert!(content.facts[50].1.contains("and 2950 more"));
}

#[test]
fn overflow_keys_name_their_scope_and_nothing_else_reads_as_one() {
    for scope in [
        BudgetScope::Repository(42),
        BudgetScope::Owner("@acme/payments".into()),
    ] {
        assert_eq!(
            BudgetScope::of_overflow_key(&scope.overflow_key()),
            Some(scope)
        );
    }
    for key in [
        "42/code_scanning/rule:CodeQL:js/xss",
        "overflow:repo:x",
        "overflow:owner:",
    ] {
        assert_eq!(
            BudgetScope::of_overflow_key(&GroupKey::from_stored(key)),
            None
        );
    }
}
