//! Due dates: how many days a finding of each severity may stay open, counted from when scantix
//! first saw it. Pure date arithmetic; "now" is always an argument.

use crate::finding::Severity;
use chrono::{DateTime, Days, NaiveDate, Utc};
use serde::{Deserialize, Serialize};

/// Days allowed to fix a finding, per severity (the `sla` section of `.github/scantix.yml`).
/// Notes and findings of unknown severity have no due date unless a policy gives one.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case", deny_unknown_fields, default)]
pub struct SlaPolicy {
    pub critical: u32,
    pub high: u32,
    pub medium: u32,
    pub low: u32,
}

impl Default for SlaPolicy {
    /// 7 / 30 / 90 / 180 days.
    fn default() -> Self {
        SlaPolicy {
            critical: 7,
            high: 30,
            medium: 90,
            low: 180,
        }
    }
}

impl SlaPolicy {
    /// Days allowed for `severity`, or `None` for notes and unknown severities.
    pub fn days_for(&self, severity: Severity) -> Option<u32> {
        match severity {
            Severity::Critical => Some(self.critical),
            Severity::High => Some(self.high),
            Severity::Medium => Some(self.medium),
            Severity::Low => Some(self.low),
            Severity::Note | Severity::Unknown => None,
        }
    }

    /// The last day (UTC) on which a finding first seen at `first_seen` is still within its SLA.
    /// `override_days` (a policy's `sla_days`) replaces the table, whatever the severity, so a
    /// policy can give a note or an unrated finding a deadline too.
    pub fn due_date(
        &self,
        severity: Severity,
        first_seen: DateTime<Utc>,
        override_days: Option<u32>,
    ) -> Option<NaiveDate> {
        let days = override_days.or_else(|| self.days_for(severity))?;
        first_seen
            .date_naive()
            .checked_add_days(Days::new(u64::from(days)))
    }
}

/// A group's due date: the earliest of its members' (one overdue finding makes the ticket overdue).
/// `None` when no member has one.
pub fn group_due(dates: impl Iterator<Item = Option<NaiveDate>>) -> Option<NaiveDate> {
    dates.flatten().min()
}

/// Whether `now` is past `due`: the due day itself is still in time.
pub fn is_overdue(due: NaiveDate, now: DateTime<Utc>) -> bool {
    now.date_naive() > due
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::TimeZone;

    fn at(y: i32, m: u32, d: u32, h: u32) -> DateTime<Utc> {
        Utc.with_ymd_and_hms(y, m, d, h, 0, 0).unwrap()
    }

    fn day(y: i32, m: u32, d: u32) -> NaiveDate {
        NaiveDate::from_ymd_opt(y, m, d).unwrap()
    }

    #[test]
    fn each_severity_gets_its_days_from_the_day_it_was_first_seen() {
        let sla = SlaPolicy::default();
        let seen = at(2024, 1, 31, 23);
        assert_eq!(
            sla.due_date(Severity::Critical, seen, None),
            Some(day(2024, 2, 7))
        );
        assert_eq!(
            sla.due_date(Severity::High, seen, None),
            Some(day(2024, 3, 1))
        );
        assert_eq!(
            sla.due_date(Severity::Medium, seen, None),
            Some(day(2024, 4, 30))
        );
        assert_eq!(
            sla.due_date(Severity::Low, seen, None),
            Some(day(2024, 7, 29))
        );
    }

    #[test]
    fn notes_and_unknown_severities_have_no_due_date_unless_a_policy_gives_one() {
        let sla = SlaPolicy::default();
        let seen = at(2024, 5, 1, 8);
        assert_eq!(sla.due_date(Severity::Note, seen, None), None);
        assert_eq!(sla.due_date(Severity::Unknown, seen, None), None);
        assert_eq!(
            sla.due_date(Severity::Note, seen, Some(10)),
            Some(day(2024, 5, 11))
        );
    }

    #[test]
    fn a_policy_override_replaces_the_table() {
        let sla = SlaPolicy::default();
        let seen = at(2024, 5, 1, 8);
        assert_eq!(
            sla.due_date(Severity::Critical, seen, Some(1)),
            Some(day(2024, 5, 2))
        );
        assert_eq!(
            sla.due_date(Severity::Low, seen, Some(0)),
            Some(day(2024, 5, 1))
        );
    }

    #[test]
    fn a_custom_table_is_used() {
        let sla = SlaPolicy {
            critical: 2,
            ..SlaPolicy::default()
        };
        assert_eq!(
            sla.due_date(Severity::Critical, at(2024, 12, 31, 0), None),
            Some(day(2025, 1, 2))
        );
    }

    #[test]
    fn a_group_is_due_when_its_earliest_member_is() {
        let dates = [None, Some(day(2024, 6, 1)), Some(day(2024, 3, 1)), None];
        assert_eq!(group_due(dates.into_iter()), Some(day(2024, 3, 1)));
        assert_eq!(group_due([None, None].into_iter()), None);
        assert_eq!(group_due(std::iter::empty()), None);
    }

    #[test]
    fn overdue_starts_the_day_after_the_due_date() {
        let due = day(2024, 3, 1);
        assert!(!is_overdue(due, at(2024, 2, 29, 12)));
        assert!(!is_overdue(due, at(2024, 3, 1, 23)));
        assert!(is_overdue(due, at(2024, 3, 2, 0)));
    }

    #[test]
    fn a_partial_sla_section_keeps_the_other_defaults_and_rejects_typos() {
        let sla: SlaPolicy = serde_json::from_value(serde_json::json!({ "critical": 3 })).unwrap();
        assert_eq!(
            sla,
            SlaPolicy {
                critical: 3,
                ..SlaPolicy::default()
            }
        );
        assert!(serde_json::from_value::<SlaPolicy>(serde_json::json!({ "crtical": 3 })).is_err());
    }
}
