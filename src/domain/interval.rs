//! Aggregation intervals such as `15min`, `1h`, `1d`, `1w`, `3mo`, `1y`.

use std::fmt;

use super::quote;

/// The unit of an [`Interval`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum IntervalUnit {
    Minute,
    Hour,
    Day,
    /// Weeks start on Monday.
    Week,
    Month,
    Year,
}

impl IntervalUnit {
    /// Suffixes as users write them, longest first so `mo` wins over `m`-like prefixes.
    const SUFFIXES: [(&'static str, Self); 6] = [
        ("min", Self::Minute),
        ("mo", Self::Month),
        ("h", Self::Hour),
        ("d", Self::Day),
        ("w", Self::Week),
        ("y", Self::Year),
    ];

    /// The unit as PostgreSQL's interval syntax names it.
    fn sql_name(self) -> &'static str {
        match self {
            Self::Minute => "minutes",
            Self::Hour => "hours",
            Self::Day => "days",
            Self::Week => "weeks",
            Self::Month => "months",
            Self::Year => "years",
        }
    }

    /// The shortest length of one unit in seconds (months of 28 days, years of 365), used to
    /// bound how many buckets a range can hold.
    fn min_seconds(self) -> i64 {
        match self {
            Self::Minute => 60,
            Self::Hour => 3_600,
            Self::Day => 86_400,
            Self::Week => 7 * 86_400,
            Self::Month => 28 * 86_400,
            Self::Year => 365 * 86_400,
        }
    }
}

/// A positive number of one unit: the width of an aggregation bucket.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Interval {
    pub count: u32,
    pub unit: IntervalUnit,
}

impl Interval {
    /// Larger counts make no sense for market bars and would overflow PostgreSQL intervals.
    pub const MAX_COUNT: u32 = 99_999;

    pub fn parse(raw: &str) -> Result<Self, String> {
        let digits = raw.chars().take_while(char::is_ascii_digit).count();
        let (number, suffix) = raw.split_at(digits);
        let unit = IntervalUnit::SUFFIXES
            .iter()
            .find(|(s, _)| *s == suffix)
            .map(|(_, unit)| *unit);
        let (Some(unit), false) = (unit, number.is_empty()) else {
            return Err(format!(
                "{} is not an interval; use a number and one of min, h, d, w, mo, y \
                 (e.g. 15min, 1h, 1d, 1w, 3mo, 1y)",
                quote(raw)
            ));
        };
        let count: u32 = number
            .parse()
            .ok()
            .filter(|n| *n <= Self::MAX_COUNT)
            .ok_or_else(|| {
                format!(
                    "{}: the number must be at most {}",
                    quote(raw),
                    Self::MAX_COUNT
                )
            })?;
        if count == 0 {
            return Err(format!("{}: the number must be at least 1", quote(raw)));
        }
        Ok(Self { count, unit })
    }

    /// PostgreSQL interval text, e.g. `15 minutes`; built from validated parts only.
    pub fn to_sql(&self) -> String {
        format!("{} {}", self.count, self.unit.sql_name())
    }

    /// Buckets of a day or longer follow the calendar of the requested time zone; shorter
    /// ones are fixed lengths of time.
    pub fn is_calendar(&self) -> bool {
        matches!(
            self.unit,
            IntervalUnit::Day | IntervalUnit::Week | IntervalUnit::Month | IntervalUnit::Year
        )
    }

    /// The most buckets that `seconds` of time can span (at least one).
    pub fn max_buckets(&self, seconds: i64) -> i64 {
        let width = self.unit.min_seconds() * i64::from(self.count);
        seconds.max(0) / width + 2
    }
}

impl fmt::Display for Interval {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let suffix = IntervalUnit::SUFFIXES
            .iter()
            .find(|(_, u)| *u == self.unit)
            .map_or("", |(s, _)| s);
        write!(f, "{}{suffix}", self.count)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_every_unit() {
        for (raw, sql) in [
            ("1min", "1 minutes"),
            ("15min", "15 minutes"),
            ("1h", "1 hours"),
            ("4h", "4 hours"),
            ("1d", "1 days"),
            ("1w", "1 weeks"),
            ("1mo", "1 months"),
            ("3mo", "3 months"),
            ("1y", "1 years"),
        ] {
            let interval = Interval::parse(raw).unwrap();
            assert_eq!(interval.to_sql(), sql);
            assert_eq!(interval.to_string(), raw);
        }
    }

    #[test]
    fn days_and_longer_follow_the_calendar() {
        assert!(!Interval::parse("59min").unwrap().is_calendar());
        assert!(!Interval::parse("24h").unwrap().is_calendar());
        assert!(Interval::parse("1d").unwrap().is_calendar());
        assert!(Interval::parse("1y").unwrap().is_calendar());
    }

    #[test]
    fn refuses_zero_unknown_units_and_odd_spellings() {
        assert!(Interval::parse("0d").unwrap_err().contains("at least 1"));
        assert!(
            Interval::parse("100001min")
                .unwrap_err()
                .contains("at most")
        );
        assert!(
            Interval::parse("99999999999999999999d")
                .unwrap_err()
                .contains("at most")
        );
        for bad in [
            "", "d", "1", "1m", "1s", "1 d", "-1d", "1D", "1.5h", "1day", "h1",
        ] {
            assert!(Interval::parse(bad).is_err(), "{bad:?} should be refused");
        }
    }

    #[test]
    fn bounds_bucket_counts() {
        let day = Interval::parse("1d").unwrap();
        assert_eq!(day.max_buckets(86_400 * 10), 12);
        assert_eq!(day.max_buckets(0), 2);
        assert!(Interval::parse("1mo").unwrap().max_buckets(365 * 86_400) >= 12);
    }
}
