//! The metrics report (`scantix report`): how fast findings get ticketed and fixed, whether SLAs
//! hold, how much comes back, and how the backlog moves, computed from the store in one pass.
//!
//! Read through the access patterns, never a scan per metric (`gather`): the day index gives every
//! audit entry of the period (one query per day), hence every finding that changed in it; the
//! lists of groups by ticket state give the tickets still open and their open findings (what is
//! overdue now, and the backlog that did not move). The numbers are then computed by a pure
//! function (`compute`) over those records, so each is tested with plain values.
//!
//! Definitions (times are hours; percentiles nearest-rank):
//! - scope: findings triage ticketed (recorded-only ones, such as alerts seen only on a pull
//!   request, are not work); tickets per 1,000 alerts counts every alert, it is the noise figure;
//! - MTTT: first seen → ticketed, for findings ticketed in the period;
//! - MTTR, as GitHub's security overview defines it: the age of alerts closed in the period when
//!   they closed, fixed or dismissed, **excluding those dismissed as false positives**; a reopened
//!   alert keeps its first-seen time (scantix never resets it);
//! - SLA adherence: of those closed in the period with a due date, the share closed on or before
//!   it, by severity; open overdue now, and by how many days;
//! - reopen rate: findings that came back after closing ÷ findings of the period that ever closed;
//! - net resolve rate: findings fixed in the period and still fixed ÷ findings new in the period
//!   (above 1 the backlog shrinks);
//! - backlog: open findings and open tickets at the end of each week, with the week's new and
//!   fixed findings.

use crate::EvidenceError;
use crate::read::{Records, changes_between};
use chrono::{DateTime, Duration, NaiveDate, Utc};
use scantix_core::finding::{AlertKind, AlertState, Severity};
use scantix_core::identity::{Fingerprint, GroupKey};
use scantix_core::ports::store::{List, Members, Store, read_all};
use scantix_core::records::{AuditEntry, FindingRecord, GroupRecord, TicketState};
use serde::Serialize;
use std::collections::{BTreeMap, BTreeSet};

/// What the report covers.
#[derive(Debug, Clone)]
pub struct Period {
    pub since: DateTime<Utc>,
    pub until: DateTime<Utc>,
    /// Only this repository's findings (`owner/name`, any case).
    pub repository: Option<String>,
}

/// What the report is computed from: the findings of the period (and the open ones), their
/// changes in the period, and their groups.
#[derive(Debug, Clone, Default)]
pub struct Input {
    pub findings: BTreeMap<Fingerprint, FindingRecord>,
    /// Each finding's changes in the period, oldest first: when, the state it was left in (if the
    /// entry says), and the verb.
    pub changes: BTreeMap<Fingerprint, Vec<Change>>,
    pub groups: BTreeMap<GroupKey, GroupRecord>,
}

/// One change of a finding, from its audit entry.
#[derive(Debug, Clone, PartialEq)]
pub struct Change {
    pub at: DateTime<Utc>,
    pub state: Option<AlertState>,
    pub action: String,
}

/// Durations of a set of findings, in hours.
#[derive(Debug, Clone, Default, PartialEq, Serialize)]
pub struct Durations {
    pub count: usize,
    pub mean_hours: Option<f64>,
    pub p50_hours: Option<f64>,
    pub p90_hours: Option<f64>,
    pub max_hours: Option<f64>,
}

/// A duration metric overall, by severity and by kind of alert.
#[derive(Debug, Clone, Default, PartialEq, Serialize)]
pub struct Breakdown {
    pub overall: Durations,
    pub by_severity: BTreeMap<Severity, Durations>,
    pub by_kind: BTreeMap<AlertKind, Durations>,
}

#[derive(Debug, Clone, Default, PartialEq, Serialize)]
pub struct Adherence {
    /// Closed in the period with a due date.
    pub closed: usize,
    pub within_due: usize,
    /// `within_due` ÷ `closed`, as a percentage (`None` with nothing closed).
    pub percent: Option<f64>,
}

#[derive(Debug, Clone, Default, PartialEq, Serialize)]
pub struct Sla {
    pub overall: Adherence,
    pub by_severity: BTreeMap<Severity, Adherence>,
    /// Open ticketed findings past their due date now.
    pub open_overdue: usize,
    /// By how many days they are late: mean and longest.
    pub days_overdue_mean: Option<f64>,
    pub days_overdue_max: Option<i64>,
}

#[derive(Debug, Clone, Default, PartialEq, Serialize)]
pub struct Rate {
    pub numerator: usize,
    pub denominator: usize,
    /// `numerator` ÷ `denominator` (`None` when the denominator is 0).
    pub rate: Option<f64>,
}

/// The backlog at the end of one week.
#[derive(Debug, Clone, Default, PartialEq, Serialize)]
pub struct Week {
    pub week_ending: NaiveDate,
    pub open_findings: usize,
    pub open_tickets: usize,
    /// Findings first seen that week.
    pub new: usize,
    /// Findings fixed that week.
    pub fixed: usize,
}

/// A repository, rule or owner with its open and new findings.
#[derive(Debug, Clone, Default, PartialEq, Serialize)]
pub struct Ranked {
    pub name: String,
    pub open: usize,
    pub new: usize,
}

#[derive(Debug, Clone, Default, PartialEq, Serialize)]
pub struct Top {
    pub repositories: Vec<Ranked>,
    pub rules: Vec<Ranked>,
    pub owners: Vec<Ranked>,
}

#[derive(Debug, Clone, Default, PartialEq, Serialize)]
pub struct Counts {
    /// Ticketed findings new in the period.
    pub new: usize,
    /// Ticketed findings fixed in the period.
    pub fixed: usize,
    /// Ticketed findings dismissed in the period (false positives included).
    pub dismissed: usize,
    /// Ticketed findings open now.
    pub open: usize,
    /// Alerts first seen in the period, ticketed or not.
    pub alerts: usize,
    /// Tickets those alerts are on.
    pub tickets: usize,
}

/// The report, as `scantix report --json` prints it.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Report {
    pub since: DateTime<Utc>,
    pub until: DateTime<Utc>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub repository: Option<String>,
    pub counts: Counts,
    pub mttt: Breakdown,
    pub mttr: Breakdown,
    pub sla: Sla,
    /// Findings that came back ÷ findings that ever closed.
    pub reopen_rate: Rate,
    /// Stayed fixed ÷ new.
    pub net_resolve_rate: Rate,
    /// Tickets per 1,000 alerts first seen in the period.
    pub tickets_per_1000_alerts: Option<f64>,
    pub backlog: Vec<Week>,
    pub top: Top,
}

/// How many entries a top list holds.
const TOP: usize = 10;

/// Ticket states in which a ticket still asks for work: their groups hold the open findings.
const OPEN_TICKET_STATES: [TicketState; 4] = [
    TicketState::Draft,
    TicketState::Open,
    TicketState::InProgress,
    TicketState::Reopened,
];

/// Reads what the report of `period` needs: the period's audit entries (day index), the findings
/// they name, the open findings of open tickets, and their groups.
pub async fn gather(store: &dyn Store, period: &Period) -> Result<Input, EvidenceError> {
    let entries = changes_between(store, period.since, period.until).await?;
    let mut records = Records::default();
    let mut input = Input::default();
    for entry in &entries {
        let Some(fingerprint) = &entry.fingerprint else {
            continue;
        };
        if let Some(finding) = records.finding(store, fingerprint).await? {
            input
                .findings
                .entry(fingerprint.clone())
                .or_insert_with(|| finding.clone());
            input
                .changes
                .entry(fingerprint.clone())
                .or_default()
                .push(change_of(entry));
        }
    }
    // The backlog that did not move in the period: open findings of tickets still open.
    for state in OPEN_TICKET_STATES {
        let list = List::State(state);
        let list = &list;
        let groups = read_all(|after: Option<String>| async move {
            store.groups_in(list, after.as_deref(), 200).await
        })
        .await?;
        for group in groups {
            let key = &group.value.key;
            let open = read_all(|after: Option<String>| async move {
                store
                    .group_findings(key, Members::OpenTicketed, after.as_deref(), 500)
                    .await
            })
            .await?;
            for finding in open {
                input
                    .findings
                    .entry(finding.value.fingerprint.clone())
                    .or_insert(finding.value);
            }
            input.groups.insert(key.clone(), group.value);
        }
    }
    let keys: BTreeSet<GroupKey> = input
        .findings
        .values()
        .map(|f| f.group_key.clone())
        .filter(|k| !input.groups.contains_key(k))
        .collect();
    for key in keys {
        if let Some(group) = records.group(store, &key).await? {
            input.groups.insert(key, group.clone());
        }
    }
    Ok(input)
}

fn change_of(entry: &AuditEntry) -> Change {
    Change {
        at: entry.at,
        state: entry.state.or(match entry.action.as_str() {
            "finding.dismissed" | "finding.suppressed" => Some(AlertState::Dismissed),
            _ => None,
        }),
        action: entry.action.clone(),
    }
}

/// Whether a dismissal says the alert was a false positive, in any kind's spelling
/// (`DismissReason::spelling`).
fn is_false_positive(finding: &FindingRecord) -> bool {
    let reason = finding
        .finding
        .dismissal
        .as_ref()
        .and_then(|d| d.reason.as_deref())
        .unwrap_or_default()
        .to_ascii_lowercase();
    matches!(
        reason.as_str(),
        "false positive" | "false_positive" | "false-positive" | "inaccurate"
    )
}

/// The report of `period` over `input`.
pub fn compute(input: &Input, period: &Period) -> Report {
    let in_period = |t: DateTime<Utc>| t >= period.since && t <= period.until;
    let wanted = |f: &FindingRecord| {
        period
            .repository
            .as_deref()
            .is_none_or(|r| f.finding.repository.full_name.eq_ignore_ascii_case(r))
    };
    let all: Vec<&FindingRecord> = input.findings.values().filter(|f| wanted(f)).collect();
    let ticketed: Vec<&FindingRecord> = all.iter().copied().filter(|f| f.is_ticketed()).collect();
    let hours = |from: DateTime<Utc>, to: DateTime<Utc>| (to - from).num_seconds() as f64 / 3600.0;

    // Time to ticket.
    let mttt = breakdown(ticketed.iter().filter_map(|f| {
        f.ticketed_at
            .filter(|t| in_period(*t))
            .map(|t| (*f, hours(f.first_seen, t)))
    }));
    // Time to remediate: closed in the period, false positives excluded.
    let closed: Vec<(&FindingRecord, DateTime<Utc>)> = ticketed
        .iter()
        .filter(|f| !f.is_open() && !is_false_positive(f))
        .filter_map(|f| f.closed_at.filter(|t| in_period(*t)).map(|t| (*f, t)))
        .collect();
    let mttr = breakdown(closed.iter().map(|(f, t)| (*f, hours(f.first_seen, *t))));

    // SLA.
    let mut sla = Sla::default();
    for (finding, at) in &closed {
        let Some(due) = finding.due else { continue };
        let within = at.date_naive() <= due;
        for adherence in [
            &mut sla.overall,
            sla.by_severity.entry(finding.severity).or_default(),
        ] {
            adherence.closed += 1;
            adherence.within_due += usize::from(within);
        }
    }
    for adherence in std::iter::once(&mut sla.overall).chain(sla.by_severity.values_mut()) {
        adherence.percent = ratio(adherence.within_due, adherence.closed).map(|r| r * 100.0);
    }
    let today = period.until.date_naive();
    let late: Vec<i64> = ticketed
        .iter()
        .filter(|f| f.is_open())
        .filter_map(|f| f.due)
        .filter(|due| *due < today)
        .map(|due| (today - due).num_days())
        .collect();
    sla.open_overdue = late.len();
    sla.days_overdue_mean =
        (!late.is_empty()).then(|| late.iter().sum::<i64>() as f64 / late.len() as f64);
    sla.days_overdue_max = late.iter().copied().max();

    // Counts and rates.
    let new: Vec<&FindingRecord> = ticketed
        .iter()
        .copied()
        .filter(|f| in_period(f.first_seen))
        .collect();
    let changes = |f: &FindingRecord| {
        input
            .changes
            .get(&f.fingerprint)
            .map(Vec::as_slice)
            .unwrap_or_default()
    };
    let fixed_in_period = |f: &FindingRecord| {
        changes(f)
            .iter()
            .any(|c| c.state == Some(AlertState::Fixed))
            || (f.finding.state == AlertState::Fixed && f.closed_at.is_some_and(in_period))
    };
    let dismissed_in_period = |f: &FindingRecord| {
        changes(f)
            .iter()
            .any(|c| c.state == Some(AlertState::Dismissed))
            || (f.finding.state == AlertState::Dismissed && f.closed_at.is_some_and(in_period))
    };
    let stayed_fixed = ticketed
        .iter()
        .filter(|f| f.finding.state == AlertState::Fixed && f.closed_at.is_some_and(in_period))
        .count();
    let ever_closed = ticketed
        .iter()
        .filter(|f| f.closed_at.is_some() || f.reopens > 0)
        .count();
    let reopened = ticketed.iter().filter(|f| f.reopens > 0).count();
    let alerts_new: Vec<&FindingRecord> = all
        .iter()
        .copied()
        .filter(|f| in_period(f.first_seen))
        .collect();
    let tickets: BTreeSet<&GroupKey> = alerts_new
        .iter()
        .filter(|f| f.is_ticketed())
        .filter(|f| {
            input
                .groups
                .get(&f.group_key)
                .is_some_and(|g| g.ticket.is_some())
        })
        .map(|f| &f.group_key)
        .collect();
    let counts = Counts {
        new: new.len(),
        fixed: ticketed.iter().filter(|f| fixed_in_period(f)).count(),
        dismissed: ticketed.iter().filter(|f| dismissed_in_period(f)).count(),
        open: ticketed.iter().filter(|f| f.is_open()).count(),
        alerts: alerts_new.len(),
        tickets: tickets.len(),
    };

    Report {
        since: period.since,
        until: period.until,
        repository: period.repository.clone(),
        mttt,
        mttr,
        sla,
        reopen_rate: rate(reopened, ever_closed),
        net_resolve_rate: rate(stayed_fixed, new.len()),
        tickets_per_1000_alerts: ratio(counts.tickets, counts.alerts).map(|r| r * 1000.0),
        backlog: backlog(&ticketed, input, period),
        top: top(&ticketed, &in_period),
        counts,
    }
}

fn ratio(numerator: usize, denominator: usize) -> Option<f64> {
    (denominator > 0).then(|| numerator as f64 / denominator as f64)
}

fn rate(numerator: usize, denominator: usize) -> Rate {
    Rate {
        numerator,
        denominator,
        rate: ratio(numerator, denominator),
    }
}

fn breakdown<'a>(samples: impl Iterator<Item = (&'a FindingRecord, f64)>) -> Breakdown {
    let mut overall = Vec::new();
    let mut by_severity: BTreeMap<Severity, Vec<f64>> = BTreeMap::new();
    let mut by_kind: BTreeMap<AlertKind, Vec<f64>> = BTreeMap::new();
    for (finding, hours) in samples {
        overall.push(hours);
        by_severity.entry(finding.severity).or_default().push(hours);
        by_kind.entry(finding.finding.kind).or_default().push(hours);
    }
    Breakdown {
        overall: durations(overall),
        by_severity: by_severity
            .into_iter()
            .map(|(k, v)| (k, durations(v)))
            .collect(),
        by_kind: by_kind
            .into_iter()
            .map(|(k, v)| (k, durations(v)))
            .collect(),
    }
}

fn durations(mut hours: Vec<f64>) -> Durations {
    hours.sort_by(f64::total_cmp);
    let count = hours.len();
    // Nearest rank: the smallest value with at least p% of the values at or below it.
    let percentile = |p: f64| -> Option<f64> {
        let rank = ((p / 100.0) * count as f64).ceil() as usize;
        hours.get(rank.max(1) - 1).copied()
    };
    let round = |h: f64| (h * 100.0).round() / 100.0;
    Durations {
        count,
        mean_hours: (count > 0).then(|| round(hours.iter().sum::<f64>() / count as f64)),
        p50_hours: percentile(50.0).map(round),
        p90_hours: percentile(90.0).map(round),
        max_hours: hours.last().copied().map(round),
    }
}

/// Whether `finding` was open at `t`: from its changes in the period where one is at or before `t`;
/// before its first change in the period, the opposite of what that change made it (a fix was of
/// an open finding); without changes in the period, as it is now.
fn open_at(finding: &FindingRecord, changes: &[Change], t: DateTime<Utc>) -> bool {
    if finding.first_seen > t {
        return false;
    }
    if let Some(last) = changes
        .iter()
        .rev()
        .find(|c| c.at <= t && c.state.is_some())
    {
        return last.state == Some(AlertState::Open);
    }
    match changes.iter().find(|c| c.at > t && c.state.is_some()) {
        Some(next) => next.state != Some(AlertState::Open),
        None => finding.is_open(),
    }
}

fn backlog(ticketed: &[&FindingRecord], input: &Input, period: &Period) -> Vec<Week> {
    let mut ends = Vec::new();
    let mut end = period.until;
    while end > period.since {
        ends.push(end);
        end -= Duration::weeks(1);
    }
    ends.reverse();
    ends.into_iter()
        .map(|end| {
            let start = end - Duration::weeks(1);
            let changes = |f: &FindingRecord| {
                input
                    .changes
                    .get(&f.fingerprint)
                    .map(Vec::as_slice)
                    .unwrap_or_default()
            };
            let open: Vec<&&FindingRecord> = ticketed
                .iter()
                .filter(|f| open_at(f, changes(f), end))
                .collect();
            let open_tickets: BTreeSet<&GroupKey> = open.iter().map(|f| &f.group_key).collect();
            let in_week = |t: DateTime<Utc>| t > start && t <= end;
            Week {
                week_ending: end.date_naive(),
                open_findings: open.len(),
                open_tickets: open_tickets.len(),
                new: ticketed.iter().filter(|f| in_week(f.first_seen)).count(),
                fixed: ticketed
                    .iter()
                    .filter(|f| {
                        changes(f)
                            .iter()
                            .any(|c| c.state == Some(AlertState::Fixed) && in_week(c.at))
                    })
                    .count(),
            }
        })
        .collect()
}

fn top(ticketed: &[&FindingRecord], in_period: &dyn Fn(DateTime<Utc>) -> bool) -> Top {
    let rank = |name_of: &dyn Fn(&FindingRecord) -> Option<String>| {
        let mut by: BTreeMap<String, Ranked> = BTreeMap::new();
        for f in ticketed {
            let Some(name) = name_of(f) else { continue };
            let entry = by.entry(name.clone()).or_insert_with(|| Ranked {
                name,
                ..Ranked::default()
            });
            entry.open += usize::from(f.is_open());
            entry.new += usize::from(in_period(f.first_seen));
        }
        let mut ranked: Vec<Ranked> = by.into_values().filter(|r| r.open + r.new > 0).collect();
        ranked.sort_by(|a, b| (b.open, b.new, &a.name).cmp(&(a.open, a.new, &b.name)));
        ranked.truncate(TOP);
        ranked
    };
    Top {
        repositories: rank(&|f: &FindingRecord| Some(f.finding.repository.full_name.clone())),
        rules: rank(&|f: &FindingRecord| Some(f.finding.rule.id.clone()).filter(|r| !r.is_empty())),
        owners: rank(&|f: &FindingRecord| f.owner.clone()),
    }
}
