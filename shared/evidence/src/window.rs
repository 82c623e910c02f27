//! The start of a reporting window as people write it: `30d`, `12h`, `2w`, a day
//! (`2026-11-01`, midnight UTC) or an instant (RFC 3339).

use crate::EvidenceError;
use chrono::{DateTime, Duration, NaiveDate, Utc};

/// The instant `text` names, counted back from `now` when it is a duration.
pub fn since(text: &str, now: DateTime<Utc>) -> Result<DateTime<Utc>, EvidenceError> {
    let text = text.trim();
    let bad = || {
        EvidenceError::BadInput(format!(
            "`{text}` is neither a duration (30d, 12h, 2w) nor a date (2026-11-01) nor an \
             instant (2026-11-01T00:00:00Z)"
        ))
    };
    if let Ok(instant) = DateTime::parse_from_rfc3339(text) {
        return Ok(instant.with_timezone(&Utc));
    }
    if let Ok(day) = NaiveDate::parse_from_str(text, "%Y-%m-%d") {
        return Ok(day.and_time(chrono::NaiveTime::MIN).and_utc());
    }
    // The unit is the last character (split on a character boundary: input may be any text).
    let Some((at, _)) = text.char_indices().last() else {
        return Err(bad());
    };
    let (number, unit) = text.split_at(at);
    let n: i64 = number.parse().map_err(|_| bad())?;
    // Up to ten years back: enough for any history, far from chrono's overflow.
    let span = match unit {
        "d" if (0..=3_660).contains(&n) => Duration::days(n),
        "w" if (0..=523).contains(&n) => Duration::weeks(n),
        "h" if (0..=87_840).contains(&n) => Duration::hours(n),
        _ => return Err(bad()),
    };
    Ok(now - span)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn durations_days_and_instants_read_and_anything_else_is_refused() {
        let now = DateTime::parse_from_rfc3339("2026-12-03T18:00:00Z")
            .unwrap()
            .with_timezone(&Utc);
        assert_eq!(since("30d", now).unwrap(), now - Duration::days(30));
        assert_eq!(since("12h", now).unwrap(), now - Duration::hours(12));
        assert_eq!(since("2w", now).unwrap(), now - Duration::days(14));
        assert_eq!(
            since("2026-11-01", now).unwrap().to_rfc3339(),
            "2026-11-01T00:00:00+00:00"
        );
        assert_eq!(
            since("2026-11-01T12:00:00Z", now).unwrap().to_rfc3339(),
            "2026-11-01T12:00:00+00:00"
        );
        for wrong in ["", "d", "30", "30x", "-3d", "99999999d", "yesterday", "3é"] {
            assert!(
                matches!(since(wrong, now), Err(EvidenceError::BadInput(_))),
                "{wrong:?}"
            );
        }
    }
}
