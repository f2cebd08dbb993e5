//! Reading times from users: RFC 3339 with an offset, or naive local times in a
//! configured zone.

use chrono::{DateTime, LocalResult, NaiveDate, NaiveDateTime, TimeZone, Utc};
use chrono_tz::Tz;

use super::quote::quote;

/// Turns user-supplied time strings into UTC instants.
///
/// Accepted: RFC 3339 (`2021-11-12T15:00:00Z`, `2021-11-12 15:00:00+01:00`), and naive
/// `YYYY-MM-DD HH:MM:SS[.fff]` (or with `T`) or `YYYY-MM-DD`, which are read in `zone`.
#[derive(Debug, Clone, Copy)]
pub struct TimeParser {
    zone: Tz,
}

impl Default for TimeParser {
    fn default() -> Self {
        Self::UTC
    }
}

impl TimeParser {
    /// Naive times are read as UTC.
    pub const UTC: Self = Self { zone: Tz::UTC };

    pub fn new(zone: Tz) -> Self {
        Self { zone }
    }

    pub fn zone(&self) -> Tz {
        self.zone
    }

    pub fn parse(&self, raw: &str) -> Result<DateTime<Utc>, String> {
        let raw = raw.trim();
        if let Ok(t) = DateTime::parse_from_rfc3339(raw) {
            return Ok(t.with_timezone(&Utc));
        }
        let naive = ["%Y-%m-%d %H:%M:%S%.f", "%Y-%m-%dT%H:%M:%S%.f"]
            .iter()
            .find_map(|f| NaiveDateTime::parse_from_str(raw, f).ok())
            .or_else(|| {
                NaiveDate::parse_from_str(raw, "%Y-%m-%d")
                    .ok()
                    .and_then(|d| d.and_hms_opt(0, 0, 0))
            });
        let Some(naive) = naive else {
            return Err(format!(
                "{} is not a time; use RFC 3339 (2021-11-12T15:00:00Z), \
                 'YYYY-MM-DD HH:MM:SS' or 'YYYY-MM-DD'{}",
                quote(raw),
                plus_hint(raw)
            ));
        };
        match self.zone.from_local_datetime(&naive) {
            LocalResult::Single(t) => Ok(t.with_timezone(&Utc)),
            // A repeated hour when clocks go back: the first occurrence is the usual reading.
            LocalResult::Ambiguous(first, _) => Ok(first.with_timezone(&Utc)),
            LocalResult::None => Err(format!(
                "{} does not exist in time zone {} (skipped by a clock change)",
                quote(raw),
                self.zone
            )),
        }
    }
}

/// An IANA time zone name in any case (`utc`, `america/new_york`), as users type them.
pub fn parse_zone(raw: &str) -> Result<Tz, String> {
    crate::config::zone_named(raw).ok_or_else(|| {
        format!(
            "{} is not an IANA time zone such as America/New_York",
            quote(raw)
        )
    })
}

/// A hint for an offset whose `+` became a space: in a URL query string `+` means a space,
/// so `?start=2021-11-12T10:00:00+05:00` arrives as `2021-11-12T10:00:00 05:00`.
fn plus_hint(raw: &str) -> &'static str {
    let Some((time, offset)) = raw.rsplit_once(' ') else {
        return "";
    };
    if DateTime::parse_from_rfc3339(&format!("{time}+{offset}")).is_ok() {
        "; a '+' in a URL query string reads as a space: write the offset's '+' as %2B"
    } else {
        ""
    }
}

/// A half-open interval `[start, end)`; either side may be open.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct TimeRange {
    pub start: Option<DateTime<Utc>>,
    pub end: Option<DateTime<Utc>>,
}

impl TimeRange {
    /// Checks that a bounded range is not empty.
    pub fn new(start: Option<DateTime<Utc>>, end: Option<DateTime<Utc>>) -> Result<Self, String> {
        if let (Some(s), Some(e)) = (start, end)
            && s >= e
        {
            return Err(format!(
                "start ({}) must be before end ({})",
                crate::render::rfc3339(s),
                crate::render::rfc3339(e)
            ));
        }
        Ok(Self { start, end })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn utc(s: &str) -> DateTime<Utc> {
        DateTime::parse_from_rfc3339(s).unwrap().with_timezone(&Utc)
    }

    #[test]
    fn reads_rfc3339_with_offsets() {
        let p = TimeParser::default();
        for given in [
            "2021-11-12T15:00:00Z",
            "2021-11-12T16:00:00+01:00",
            "2021-11-12 10:00:00-05:00",
        ] {
            assert_eq!(
                p.parse(given).unwrap(),
                utc("2021-11-12T15:00:00Z"),
                "{given}"
            );
        }
    }

    #[test]
    fn reads_naive_times_in_the_configured_zone() {
        let in_utc = TimeParser::default();
        let ny = TimeParser::new(chrono_tz::America::New_York);
        for (parser, given, expected) in [
            (&in_utc, "2021-11-12 15:00:00", "2021-11-12T15:00:00Z"),
            (
                &in_utc,
                "2021-11-12 15:00:00.250",
                "2021-11-12T15:00:00.25Z",
            ),
            (&in_utc, "2021-11-12", "2021-11-12T00:00:00Z"),
            (&ny, "2021-11-12 10:00:00", "2021-11-12T15:00:00Z"),
            (&ny, "2021-07-12", "2021-07-12T04:00:00Z"),
        ] {
            assert_eq!(parser.parse(given).unwrap(), utc(expected), "{given}");
        }
    }

    #[test]
    fn resolves_clock_changes() {
        let ny = TimeParser::new(chrono_tz::America::New_York);
        // 01:30 happens twice on 2021-11-07; the first one is EDT.
        assert_eq!(
            ny.parse("2021-11-07 01:30:00").unwrap(),
            utc("2021-11-07T05:30:00Z")
        );
        // 02:30 never happens on 2021-03-14.
        assert!(
            ny.parse("2021-03-14 02:30:00")
                .unwrap_err()
                .contains("does not exist")
        );
    }

    #[test]
    fn refuses_what_is_not_a_time() {
        let p = TimeParser::default();
        for bad in [
            "",
            "yesterday",
            "2021-13-01",
            "2021-11-12 25:00:00",
            "1636729200",
            "12/11/2021",
        ] {
            assert!(p.parse(bad).is_err(), "{bad:?} should be refused");
        }
    }

    #[test]
    fn zone_names_are_read_in_any_case() {
        assert_eq!(parse_zone("utc"), Ok(Tz::UTC));
        assert_eq!(
            parse_zone("america/NEW_york"),
            Ok(chrono_tz::America::New_York)
        );
        assert!(parse_zone("Mars/Olympus").is_err());
    }

    #[test]
    fn an_offset_whose_plus_became_a_space_gets_a_hint() {
        let p = TimeParser::default();
        let err = p.parse("2021-11-12T10:00:00 05:00").unwrap_err();
        assert!(err.contains("%2B"), "{err}");
        let err = p.parse("2021-11-12 10:00:00 05:00").unwrap_err();
        assert!(err.contains("%2B"), "{err}");
        assert!(!p.parse("2021-11-12 soon").unwrap_err().contains("%2B"));
    }

    #[test]
    fn range_must_not_be_empty() {
        let a = utc("2021-11-12T00:00:00Z");
        let b = utc("2021-11-13T00:00:00Z");
        assert!(TimeRange::new(Some(a), Some(b)).is_ok());
        assert!(
            TimeRange::new(Some(b), Some(a))
                .unwrap_err()
                .contains("before")
        );
        assert!(TimeRange::new(Some(a), Some(a)).is_err());
        assert!(TimeRange::new(None, Some(a)).is_ok());
    }
}
