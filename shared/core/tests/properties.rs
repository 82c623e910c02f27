//! Properties of the pure core, searched for counterexamples with `proptest`:
//! - a fingerprint names one alert, whatever else about it changes; a group key is a function of
//!   the grouping fields alone, and a stored finding keeps its group whatever the config says;
//! - `decide` is idempotent: an event decided again on what its first decision stored decides
//!   nothing, and applying every event twice ends where applying it once does;
//! - deliveries arriving in any order end with every finding in the state GitHub ended in, and
//!   the group's counts and ticket agreeing with its findings.
//!
//! The world is stored as the executor's commit stores it (the decision's records), and its
//! tracker side as the outbox drained: a queued create gives the group its ticket.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    reason = "test code: a failed assumption is the test failing"
)]

use chrono::{DateTime, Duration, TimeZone, Utc};
use proptest::prelude::*;
use scantix_core::config::Config;
use scantix_core::decide::triage::plain;
use scantix_core::decide::{Decision, Inputs, decide};
use scantix_core::event::{AlertChange, AlertEvent};
use scantix_core::finding::{AlertKind, AlertState, Dismissal, Finding, Severity};
use scantix_core::identity::{Fingerprint, GroupKey, GroupScope, GroupingMode};
use scantix_core::records::{FindingRecord, GroupRecord, OutboxOp, TicketRef, TicketState, Triage};
use scantix_core::testing::code_alert;
use std::collections::BTreeMap;

fn config() -> ProptestConfig {
    ProptestConfig {
        cases: 256,
        ..ProptestConfig::default()
    }
}

fn t0() -> DateTime<Utc> {
    Utc.with_ymd_and_hms(2026, 11, 1, 12, 0, 0).unwrap()
}

// ---------------------------------------------------------------------------------------------
// Identity

fn kind() -> impl Strategy<Value = AlertKind> {
    prop_oneof![
        Just(AlertKind::CodeScanning),
        Just(AlertKind::Dependabot),
        Just(AlertKind::SecretScanning),
    ]
}

fn state() -> impl Strategy<Value = AlertState> {
    prop_oneof![
        Just(AlertState::Open),
        Just(AlertState::Fixed),
        Just(AlertState::Dismissed),
    ]
}

/// A code scanning alert with arbitrary identity and arbitrary other fields.
fn finding() -> impl Strategy<Value = Finding> {
    (
        any::<u64>(),
        any::<u64>(),
        "\\PC{0,40}",
        "\\PC{0,60}",
        "[a-z0-9-]{1,12}/[a-z0-9-]{1,12}",
        state(),
    )
        .prop_map(|(repo, number, rule, path, full_name, state)| {
            let mut finding = code_alert(number, &rule, &path);
            finding.repository.id = repo;
            finding.repository.full_name = full_name;
            finding.state = state;
            finding
        })
}

proptest! {
    #![proptest_config(config())]

    #[test]
    fn a_fingerprint_names_one_alert_whatever_else_changes(
        a in finding(),
        kind_a in kind(),
        rule in "\\PC{0,40}",
        path in "\\PC{0,60}",
        renamed in "[a-z]{1,8}/[a-z]{1,8}",
        later in state(),
        minutes in 0i64..100_000,
    ) {
        let mut a = a;
        a.kind = kind_a;
        let fingerprint = Fingerprint::of(&a);
        prop_assert_eq!(&fingerprint, &Fingerprint::new(a.repository.id, a.kind, a.number));
        // The same alert later: another rule text, place, state, name of its repository.
        let mut same = a.clone();
        same.rule.id = rule;
        same.location.as_mut().unwrap().path = path;
        same.repository.full_name = renamed;
        same.state = later;
        same.updated_at = Some(t0() + Duration::minutes(minutes));
        prop_assert_eq!(&Fingerprint::of(&same), &fingerprint);
        // Read back from a store as written.
        prop_assert_eq!(&Fingerprint::from_stored(fingerprint.as_str()), &fingerprint);
        let json = serde_json::to_string(&fingerprint).unwrap();
        prop_assert_eq!(&serde_json::from_str::<Fingerprint>(&json).unwrap(), &fingerprint);
    }

    #[test]
    fn two_alerts_share_a_fingerprint_only_if_they_are_one(
        a in (any::<u64>(), kind(), any::<u64>()),
        b in (any::<u64>(), kind(), any::<u64>()),
    ) {
        let same = Fingerprint::new(a.0, a.1, a.2) == Fingerprint::new(b.0, b.1, b.2);
        prop_assert_eq!(same, a == b);
    }

    #[test]
    fn a_group_key_depends_on_its_grouping_fields_alone(
        a in finding(),
        number in any::<u64>(),
        path in "\\PC{0,60}",
        renamed in "[a-z]{1,8}/[a-z]{1,8}",
        later in state(),
        severity in prop_oneof![Just(Severity::Low), Just(Severity::High), Just(Severity::Critical)],
    ) {
        let key = GroupKey::for_finding(&a, GroupingMode::Rule);
        prop_assert_eq!(&GroupKey::for_finding(&a, GroupingMode::Rule), &key, "deterministic");
        // Another alert of the same rule in the same repository (renamed meanwhile): same group.
        let mut other = a.clone();
        other.number = number;
        other.location.as_mut().unwrap().path = path.clone();
        other.repository.full_name = renamed;
        other.state = later;
        other.severity = severity;
        other.updated_at = Some(t0());
        prop_assert_eq!(&GroupKey::for_finding(&other, GroupingMode::Rule), &key);
        // By file: the path is the grouping field, the rule is not.
        let by_file = GroupKey::for_finding(&a, GroupingMode::File);
        let mut same_file = a.clone();
        same_file.rule.id.push_str("-other");
        same_file.number = number;
        prop_assert_eq!(&GroupKey::for_finding(&same_file, GroupingMode::File), &by_file);
        // Read back, labelled.
        prop_assert_eq!(&GroupKey::from_stored(key.as_str()), &key);
        let json = serde_json::to_string(&key).unwrap();
        prop_assert_eq!(&serde_json::from_str::<GroupKey>(&json).unwrap(), &key);
        prop_assert!(GroupKey::is_label(&key.label()), "{}", key.label());
        prop_assert_eq!(GroupKey::from_stored(key.as_str()).label(), key.label());
        prop_assert_eq!(key.scope(), GroupScope::Repository);
    }

    #[test]
    fn different_rules_or_repositories_get_different_groups(
        a in finding(),
        rule in "\\PC{0,40}",
        repo in any::<u64>(),
    ) {
        let key = GroupKey::for_finding(&a, GroupingMode::Rule);
        let mut other_rule = a.clone();
        other_rule.rule.id = rule;
        prop_assert_eq!(
            GroupKey::for_finding(&other_rule, GroupingMode::Rule) == key,
            other_rule.rule.id == a.rule.id
        );
        let mut other_repo = a.clone();
        other_repo.repository.id = repo;
        prop_assert_eq!(
            GroupKey::for_finding(&other_repo, GroupingMode::Rule) == key,
            repo == a.repository.id
        );
    }

    #[test]
    fn a_stored_finding_keeps_its_group_whatever_the_grouping_config_says(
        a in finding(),
        mode in prop_oneof![
            Just(GroupingMode::Rule),
            Just(GroupingMode::File),
            Just(GroupingMode::Alert),
            Just(GroupingMode::Package),
            Just(GroupingMode::Advisory),
        ],
    ) {
        let mut world = World::default();
        let opened = event(AlertChange::Opened, a.clone(), t0());
        world.apply(&opened, t0());
        let first = world.findings[&Fingerprint::of(&a)].group_key.clone();
        world.config.grouping.code_scanning = mode;
        let fixed = event(AlertChange::Fixed, a.clone(), t0() + Duration::minutes(1));
        let decision = world.apply(&fixed, t0() + Duration::minutes(1));
        prop_assert_eq!(&decision.group_key, &first);
        prop_assert_eq!(&world.findings[&Fingerprint::of(&a)].group_key, &first);
    }
}

// ---------------------------------------------------------------------------------------------
// The stored world

#[derive(Debug, Clone, Default, PartialEq)]
struct World {
    findings: BTreeMap<Fingerprint, FindingRecord>,
    groups: BTreeMap<GroupKey, GroupRecord>,
    config: Config,
    /// Tickets the drained outboxes created, by group.
    tickets: BTreeMap<GroupKey, u32>,
}

impl World {
    fn decide(&self, event: &AlertEvent, now: DateTime<Utc>) -> Decision {
        let verdict = plain(Triage::Ticket, "property");
        let finding = self.findings.get(&Fingerprint::of(&event.finding));
        let key = scantix_core::decide::alert::group_key_for(event, finding, &self.config, None);
        decide(Inputs {
            event,
            finding,
            group: self.groups.get(&key),
            verdict: &verdict,
            config: &self.config,
            now,
            delivery: Some("property"),
        })
    }

    /// Writes what `decision` decided, as the executor's commit does.
    fn store(&mut self, decision: &Decision) {
        for record in decision.finding.iter().chain(&decision.findings) {
            self.findings
                .insert(record.fingerprint.clone(), record.clone());
        }
        if let Some(group) = &decision.group {
            self.groups.insert(group.key.clone(), group.clone());
        }
    }

    fn apply(&mut self, event: &AlertEvent, now: DateTime<Utc>) -> Decision {
        let decision = self.decide(event, now);
        self.store(&decision);
        decision
    }

    /// The tracker side: every outbox drained, a create making the group's ticket (once: the
    /// executor skips a create for a group that has its ticket).
    fn sync(&mut self) {
        for group in self.groups.values_mut() {
            for pending in group.outbox.drain(..) {
                if pending.op == OutboxOp::Create && group.ticket.is_none() {
                    *self.tickets.entry(group.key.clone()).or_default() += 1;
                    group.ticket = Some(TicketRef {
                        tracker: "memory".into(),
                        key: format!("MEM-{}", self.tickets.len()),
                        url: None,
                    });
                    if group.ticket_state == TicketState::Draft {
                        group.ticket_state = TicketState::Open;
                    }
                }
            }
        }
    }
}

/// What GitHub sends when alert `finding` changes: the alert in its new state, `at`.
fn event(change: AlertChange, finding: Finding, at: DateTime<Utc>) -> AlertEvent {
    let (action, state) = match change {
        AlertChange::Opened => ("created", AlertState::Open),
        AlertChange::Reappeared => ("reopened", AlertState::Open),
        AlertChange::Fixed => ("fixed", AlertState::Fixed),
        AlertChange::Dismissed => ("closed_by_user", AlertState::Dismissed),
        AlertChange::Updated => ("updated", finding.state),
    };
    let dismissal = (state == AlertState::Dismissed).then(|| Dismissal {
        by: Some("octocat".into()),
        reason: Some("won't fix".into()),
        comment: None,
        at: Some(at),
    });
    AlertEvent {
        change,
        action: action.into(),
        finding: Finding {
            state,
            dismissal,
            updated_at: Some(at),
            ..finding
        },
        actor: Some("octocat".into()),
        installation_id: Some(1),
    }
}

/// A history GitHub could send for alerts 1..=alerts of one rule: each alert created, then closed
/// (fixed or dismissed) and reopened in turn; `choices` picks which alert moves next and how it
/// closes. Events are stamped one minute apart, in history order.
fn history(alerts: u64, choices: &[(u8, bool)]) -> Vec<AlertEvent> {
    let mut states: BTreeMap<u64, Option<AlertState>> = (1..=alerts).map(|n| (n, None)).collect();
    let mut out = Vec::new();
    for (i, (pick, fix)) in choices.iter().enumerate() {
        let number = u64::from(*pick) % alerts + 1;
        let at = t0() + Duration::minutes(i as i64);
        let change = match states[&number] {
            None => AlertChange::Opened,
            Some(AlertState::Open) if *fix => AlertChange::Fixed,
            Some(AlertState::Open) => AlertChange::Dismissed,
            Some(_) => AlertChange::Reappeared,
        };
        let e = event(
            change,
            code_alert(number, "js/xss", &format!("src/{number}.js")),
            at,
        );
        states.insert(number, Some(e.finding.state));
        out.push(e);
    }
    out
}

fn choices() -> impl Strategy<Value = Vec<(u8, bool)>> {
    proptest::collection::vec((any::<u8>(), any::<bool>()), 1..10)
}

/// GitHub's last word on each alert of `history`.
fn github_end(history: &[AlertEvent]) -> BTreeMap<Fingerprint, AlertState> {
    history
        .iter()
        .map(|e| (Fingerprint::of(&e.finding), e.finding.state))
        .collect()
}

/// The group's counts and ticket agree with its findings.
fn consistent(world: &World) -> Result<(), TestCaseError> {
    for group in world.groups.values() {
        let members: Vec<&FindingRecord> = world
            .findings
            .values()
            .filter(|f| f.group_key == group.key)
            .collect();
        let ticketed = |state: AlertState| {
            members
                .iter()
                .filter(|f| f.triage == Triage::Ticket && f.finding.state == state)
                .count() as u32
        };
        prop_assert_eq!(group.tally.open, ticketed(AlertState::Open), "{:#?}", group);
        prop_assert_eq!(group.tally.fixed, ticketed(AlertState::Fixed));
        prop_assert_eq!(group.tally.dismissed, ticketed(AlertState::Dismissed));
        prop_assert!(
            world.tickets.get(&group.key).copied().unwrap_or(0) <= 1,
            "one ticket per group: {:?}",
            world.tickets
        );
        if group.ticket.is_some() {
            let open = group.tally.open > 0;
            let working = matches!(
                group.ticket_state,
                TicketState::Open | TicketState::Reopened | TicketState::InProgress
            );
            prop_assert_eq!(
                working,
                open,
                "a ticket is worked on exactly while a finding is open: {:?} with {:?}",
                group.ticket_state,
                group.tally
            );
        }
    }
    Ok(())
}

proptest! {
    #![proptest_config(config())]

    #[test]
    fn deciding_an_event_again_on_what_it_stored_decides_nothing(
        alerts in 1u64..4,
        choices in choices(),
        synced in any::<bool>(),
    ) {
        let events = history(alerts, &choices);
        let mut world = World::default();
        for (i, e) in events.iter().enumerate() {
            let now = t0() + Duration::minutes(i as i64);
            world.apply(e, now);
            if synced {
                world.sync();
            }
            let stored = world.clone();
            let again = world.apply(e, now);
            prop_assert!(
                again.finding.is_none()
                    && again.group.is_none()
                    && again.findings.is_empty()
                    && again.audit.is_empty(),
                "{:?} decided again: {:#?}",
                e.change,
                again
            );
            prop_assert_eq!(&world, &stored);
        }
    }

    #[test]
    fn applying_every_event_twice_ends_where_applying_it_once_does(
        alerts in 1u64..4,
        choices in choices(),
    ) {
        let events = history(alerts, &choices);
        let mut once = World::default();
        let mut twice = World::default();
        for (i, e) in events.iter().enumerate() {
            // The redelivery comes later, after the tracker calls were made.
            let now = t0() + Duration::minutes(i as i64);
            once.apply(e, now);
            once.sync();
            twice.apply(e, now);
            twice.sync();
            twice.apply(e, now + Duration::seconds(30));
            twice.sync();
        }
        prop_assert_eq!(once, twice);
    }

    #[test]
    fn deliveries_in_any_order_converge_to_the_state_github_ends_in(
        alerts in 1u64..4,
        (choices, order) in choices().prop_flat_map(|c| {
            let n = c.len();
            (Just(c), Just((0..n).collect::<Vec<usize>>()).prop_shuffle())
        }),
    ) {
        let events = history(alerts, &choices);
        let end = github_end(&events);
        let mut world = World::default();
        // Applied later than they happened, in the order they arrive.
        for (i, &k) in order.iter().enumerate() {
            world.apply(&events[k], t0() + Duration::hours(1) + Duration::minutes(i as i64));
            world.sync();
        }
        let stored: BTreeMap<Fingerprint, AlertState> = world
            .findings
            .iter()
            .map(|(fp, f)| (fp.clone(), f.finding.state))
            .collect();
        prop_assert_eq!(stored, end, "arrival order {:?}", order);
        consistent(&world)?;
    }

    #[test]
    fn fixed_before_created_and_reopened_before_fixed_end_as_github_did(
        number in 1u64..1000,
        reopened_last in any::<bool>(),
    ) {
        // GitHub: created, fixed, and (maybe) reopened. Delivered newest first.
        let alert = code_alert(number, "js/xss", "src/app.js");
        let mut events = vec![
            event(AlertChange::Opened, alert.clone(), t0()),
            event(AlertChange::Fixed, alert.clone(), t0() + Duration::minutes(1)),
        ];
        if reopened_last {
            events.push(event(AlertChange::Reappeared, alert.clone(), t0() + Duration::minutes(2)));
        }
        let end = events.last().unwrap().finding.state;
        let mut world = World::default();
        for (i, e) in events.iter().rev().enumerate() {
            world.apply(e, t0() + Duration::hours(1) + Duration::minutes(i as i64));
            world.sync();
        }
        prop_assert_eq!(world.findings[&Fingerprint::of(&alert)].finding.state, end);
        consistent(&world)?;
    }
}
